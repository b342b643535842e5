"""fresh.py: the fresh client each server must serve while it is attacked.

- ws echo, wss: an Upgrade and one text message echoed back.
- bridge: an Upgrade and one binary message carried to the TCP echo and back.
- push: one HTTP request and its whole answer (GET /poll).
- chat: an Upgrade on its WebSocket port, and one line from one TCP member
  reaching another (the sender does not get its own line back).
- tls (the TLS echo): a handshake and one line echoed.
- classroom: /feed upgraded and one event, and one line on the students' tcp
  echo (cases_classroom.fresh).
Each raises with the reason when it is not served before its deadline.
"""

import os
import time

from wire import BINARY, CLOSE, TEXT, Deadline, connect, frame, read_answer, read_frame, recv, ws_open


# Seconds between copies of chat's line.
RESEND = 0.5


def fresh(server, deadline):
    kind = server.name.split("-")[0]
    if kind == "classroom":
        import cases_classroom  # it imports this module: only when needed

        return cases_classroom.fresh(server, deadline)
    return {"ws": echo, "wss": echo, "bridge": bridge, "push": push, "chat": chat,
            "tls": line_echo, "tcp": line_echo}[kind](server, deadline)


def line_echo(server, deadline, port=None, tls=None):
    """The TLS echo (or, given a port, any line echo): a line in, the same line back."""
    s = connect(server, port=port, timeout=max(deadline.left(), 0.1), tls=tls)
    try:
        word = f"fresh-{os.urandom(4).hex()}\n".encode()
        s.sendall(word)
        got = b""
        while word not in got:
            chunk = recv(s, deadline)
            if not chunk:
                raise ConnectionError(f"closed before the echo ({got[-40:]!r})")
            got += chunk
    finally:
        s.close()


def echo(server, deadline):
    s, buf = ws_open(server, deadline, path="/fresh")
    try:
        word = f"fresh-{os.urandom(4).hex()}".encode()
        s.sendall(frame(TEXT, word))
        while True:
            op, payload, buf = read_frame(s, buf, deadline)
            if op is None or op == CLOSE:
                raise ConnectionError(f"closed before the echo (op {op}, {payload[:40]!r})")
            if op == TEXT and payload == word:
                return
    finally:
        s.close()


def bridge(server, deadline):
    s, buf = ws_open(server, deadline, path="/")
    try:
        word = f"fresh-{os.urandom(4).hex()}\n".encode()
        s.sendall(frame(BINARY, word))
        got = b""
        while word not in got:
            op, payload, buf = read_frame(s, buf, deadline)
            if op is None or op == CLOSE:
                raise ConnectionError(f"closed before the echo (op {op}, {payload[:40]!r})")
            got += payload
    finally:
        s.close()


def push(server, deadline):
    s = connect(server, timeout=max(deadline.left(), 0.1))
    try:
        s.sendall(b"GET /poll?since=18446744073709551615 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Connection: close\r\n\r\n")
        status, _, body, _ = read_answer(s, deadline)
        if status != 200:
            raise ConnectionError(f"GET /poll answered {status} {body[:80]!r}")
    finally:
        s.close()


def chat(server, deadline):
    s, _ = ws_open(server, deadline, path="/")
    s.close()
    a = connect(server, port=server.tcp_port, timeout=max(deadline.left(), 0.1), tls=False)
    b = connect(server, port=server.tcp_port, timeout=max(deadline.left(), 0.1), tls=False)
    try:
        # A member may join its loop a moment after its accept: a's line is
        # sent again every RESEND seconds until b has it (one copy is enough).
        # Both members read what the room sends them: a member that never reads
        # is dropped as a slow consumer (--slow-limit), the sender included. Only
        # the tail of what b read is kept, so a flooded room costs a linear scan.
        word = f"fresh-{os.urandom(4).hex()}".encode()
        got, sent_at = b"", None
        while word not in got:
            if sent_at is None or time.monotonic() - sent_at > RESEND:
                a.sendall(word + b"\n")
                sent_at = time.monotonic()
            drain(a)
            chunk = recv(b, Deadline(min(RESEND, deadline.left())))
            if not chunk and deadline.passed():
                raise ConnectionError(f"the line never reached the other member ({got[-80:]!r})")
            got = got[-len(word):] + chunk
    finally:
        a.close()
        b.close()


def drain(sock):
    """Reads and drops whatever is waiting on `sock`, without blocking."""
    timeout = sock.gettimeout()
    sock.settimeout(0)
    try:
        while sock.recv(262144):
            pass
    except (BlockingIOError, InterruptedError):
        pass
    finally:
        sock.settimeout(timeout)
