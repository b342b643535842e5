#!/usr/bin/env python3
"""One client of `socklab serve push`, one technique, run under tcpdump.

Used by `scripts/capture.sh --push`, which captures each run into its own pcap:
  push_client.py poll       127.0.0.1 8090 SECS ID  # GET /poll?since=ID every 0.25 s, one connection
  push_client.py long-poll  127.0.0.1 8090 SECS ID  # GET /long-poll?since=ID, again as soon as answered
  push_client.py stream     127.0.0.1 8090 SECS   # GET /stream, read chunks for SECS
  push_client.py sse        127.0.0.1 8090 SECS   # GET /events, read events for SECS
  push_client.py ws         127.0.0.1 8090 SECS   # the Upgrade, read messages; halfway, send one
  push_client.py close      127.0.0.1 8090 SECS ID  # two polls, each with Connection: close
  push_client.py last       127.0.0.1 8090 0      # print the newest event id (run before tcpdump)

The polls start from ID, the newest event when the capture starts, so the first
answer is not the server's whole backlog.

Plain sockets and nothing else, so the capture holds exactly what the technique
needs: each request is one write (a request written in pieces waits for the ACK
of the first piece), every connection is closed by this side after its last
response (except `close`, where the server closes first, as it said it would).
Every loop stops at SECS, and no read waits more than a second.

Prints one line per request or event received, for the reader of the capture.
"""

import base64
import json
import os
import re
import socket
import sys
import time

POLL_EVERY = 0.25  # seconds between short polls
READ_WAIT = 1.0  # the longest one recv() may block
# The line the WebSocket client sends halfway, while events keep arriving.
TYPED = "typed while events arrive"


def connect(host, port):
    s = socket.create_connection((host, port), timeout=READ_WAIT)
    s.settimeout(READ_WAIT)
    return s


class Reader:
    """Bytes from one socket, taken a head, a body or a line at a time."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def more(self, deadline):
        if time.monotonic() >= deadline:
            raise TimeoutError
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return
        if not data:
            raise EOFError
        self.buf += data

    def until(self, sep, deadline):
        while sep not in self.buf:
            self.more(deadline)
        head, self.buf = self.buf.split(sep, 1)
        return head

    def exactly(self, n, deadline):
        while len(self.buf) < n:
            self.more(deadline)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data


def response(r, deadline):
    """One whole response with Content-Length: status, headers, body."""
    head = r.until(b"\r\n\r\n", deadline).decode()
    lines = head.split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(l.split(": ", 1) for l in lines[1:])
    headers = {k.lower(): v for k, v in headers.items()}
    body = r.exactly(int(headers.get("content-length", "0")), deadline)
    return status, headers, body


def get(path, port, extra=""):
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}\r\n".encode()


def polls(kind, host, port, secs, since):
    """Short or long polls on ONE keep-alive connection, the cursor carried along."""
    s, end, n = connect(host, port), time.monotonic() + secs, 0
    r = Reader(s)
    while time.monotonic() < end:
        n += 1
        s.sendall(get(f"/{kind}?since={since}", port))
        # A long poll may be held: give it the hold time and a little more.
        status, headers, body = response(r, time.monotonic() + 30)
        ids = [e["id"] for e in json.loads(body)] if body else []
        since = max(ids, default=since)
        print(f"request {n}: {status}, X-Request-Number {headers.get('x-request-number')}, "
              f"events {ids if ids else 'none'}")
        if kind == "poll":
            time.sleep(POLL_EVERY)
    s.close()


def stream(kind, host, port, secs):
    """One GET, one endless response: read its pieces until SECS, then close."""
    s, end = connect(host, port), time.monotonic() + secs
    r = Reader(s)
    s.sendall(get("/stream" if kind == "stream" else "/events", port))
    print(r.until(b"\r\n\r\n", end).decode().split("\r\n")[0])
    try:
        while True:
            if kind == "stream":
                size = int(r.until(b"\r\n", end), 16)
                data = r.exactly(size + 2, end)[:size].decode().strip()
            else:
                data = r.until(b"\n\n", end).decode()
            for m in re.finditer(r'"id":(\d+)', data):
                print(f"event {m.group(1)}")
    except TimeoutError:
        pass
    s.close()


def ws_frame(opcode, payload):
    """A client frame: FIN, the opcode, MASK set, a random key, the masked payload."""
    key = os.urandom(4)
    head = bytes([0x80 | opcode])
    n = len(payload)
    head += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def ws_read(r, deadline):
    """One whole server frame (unmasked): opcode, payload. Nothing is taken from
    the buffer until the whole frame is there, so a deadline never splits one."""
    while True:
        if len(r.buf) >= 2:
            n, at = r.buf[1] & 0x7F, 2
            if n == 126 and len(r.buf) >= 4:
                n, at = int.from_bytes(r.buf[2:4], "big"), 4
            if n < 126 and len(r.buf) >= at + n:
                opcode, payload = r.buf[0] & 0x0F, r.buf[at:at + n]
                r.buf = r.buf[at + n:]
                return opcode, payload
        r.more(deadline)


def websocket(host, port, secs):
    """The Upgrade, then messages; halfway one message goes the other way."""
    s, start = connect(host, port), time.monotonic()
    half, end = start + secs / 2, start + secs
    r = Reader(s)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(get("/ws", port, f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                              f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"))
    print(r.until(b"\r\n\r\n", end).decode().split("\r\n")[0])
    typed = False
    while time.monotonic() < end:
        if not typed and time.monotonic() >= half:
            s.sendall(ws_frame(1, TYPED.encode()))  # full duplex: events keep coming
            print(f"sent {TYPED!r}")
            typed = True
        try:
            opcode, payload = ws_read(r, end if typed else half)
        except TimeoutError:
            continue
        if opcode == 1:
            event = json.loads(payload)
            print(f"event {event['id']}: {event['data']}")
    # The close handshake: 1000 from us, then the server's Close, then its FIN.
    s.sendall(ws_frame(8, (1000).to_bytes(2, "big")))
    try:
        while ws_read(r, time.monotonic() + 2)[0] != 8:
            pass
        print("close 1000 both ways")
    except (TimeoutError, EOFError):
        print("no Close from the server")
    s.close()


def close(host, port, since):
    """Two polls, each asking `Connection: close`: each gets its own connection."""
    for n in (1, 2):
        s = connect(host, port)
        r = Reader(s)
        s.sendall(get(f"/poll?since={since}", port, "Connection: close\r\n"))
        status, headers, _ = response(r, time.monotonic() + 5)
        try:  # the server closes: recv() returns b"" (its FIN)
            r.more(time.monotonic() + 5)
            fin = "more bytes?"
        except EOFError:
            fin = "then the server's FIN"
        print(f"connection {n}: {status}, Connection: {headers.get('connection')}, {fin}")
        s.close()


def last(host, port):
    """The newest event's id, from one short poll."""
    s = connect(host, port)
    s.sendall(get("/poll?since=0", port, "Connection: close\r\n"))
    _, _, body = response(Reader(s), time.monotonic() + 5)
    s.close()
    print(max((e["id"] for e in json.loads(body)), default=0))


def main():
    kind, host, port, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    since = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    if kind in ("poll", "long-poll"):
        polls(kind, host, port, secs, since)
    elif kind in ("stream", "sse"):
        stream(kind, host, port, secs)
    elif kind == "ws":
        websocket(host, port, secs)
    elif kind == "close":
        close(host, port, since)
    elif kind == "last":
        last(host, port)
    else:
        sys.exit(f"push_client.py: unknown technique {kind!r}")


if __name__ == "__main__":
    main()
