"""wire.py: raw-socket HTTP and WebSocket pieces for the hostile matrix.

Nothing here is a library's client: every byte the matrix sends is written out
by hand, so a malformed request is exactly as malformed as the table says.
Python's standard library only (socket, ssl, struct, os, base64).
"""

import base64
import os
import socket
import ssl
import struct
import time

# The RFC 6455 section 1.3 example key: base64 of 16 bytes.
GOOD_KEY = "dGhlIHNhbXBsZSBub25jZQ=="

# WebSocket opcodes (RFC 6455 section 5.2).
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA

# The most bytes of an HTTP answer we keep reading (a page is ~20 KB).
MAX_ANSWER = 1 << 20


class Deadline:
    """A point in time; every blocking read takes what is left of it."""

    def __init__(self, seconds):
        self.at = time.monotonic() + seconds

    def left(self):
        return max(0.0, self.at - time.monotonic())

    def passed(self):
        return time.monotonic() >= self.at


def connect(server, port=None, rcvbuf=None, timeout=5.0, tls=None):
    """A TCP connection to the server (TLS over it when the server speaks it)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        # Before connect(): the window the kernel offers is fixed at the handshake.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port or server.port))
    if tls if tls is not None else server.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # a self-signed certificate made at start
        s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    return s


def upgrade_request(path="/", host="127.0.0.1", key=GOOD_KEY, extra=""):
    """A valid Upgrade, with `extra` header lines (CRLF-ended) added."""
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        f"Sec-WebSocket-Version: 13\r\n{extra}\r\n"
    ).encode()


def read_answer(sock, deadline):
    """Reads one HTTP answer: (status, headers as lower-case dict of lists, body,
    rest). status is None when the connection ended (or the deadline passed)
    before a whole head came."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = recv(sock, deadline)
        if not chunk:
            return None, {}, b"", data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    try:
        status = int(parts[1])
    except (IndexError, ValueError):
        return None, {}, b"", data
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    length = int(headers.get("content-length", ["0"])[0] or 0)
    if status == 101:
        length = 0
    while len(body) < min(length, MAX_ANSWER):
        chunk = recv(sock, deadline)
        if not chunk:
            break
        body += chunk
    return status, headers, body[:length], body[length:]


def recv(sock, deadline, size=65536):
    """One recv() within the deadline; b"" at EOF, a reset or the deadline."""
    left = deadline.left()
    if left <= 0:
        return b""
    sock.settimeout(left)
    try:
        return sock.recv(size)
    except (socket.timeout, ConnectionError, ssl.SSLError, OSError):
        return b""


def closed_after(sock, deadline):
    """True when the server ends the connection (EOF or reset) before the
    deadline, reading and counting whatever else it sends. Returns (closed, extra)."""
    extra = b""
    while not deadline.passed():
        left = deadline.left()
        sock.settimeout(max(left, 0.01))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return False, extra
        except (ConnectionError, ssl.SSLError, OSError):
            return True, extra
        if not chunk:
            return True, extra
        extra += chunk
    return False, extra


def frame(opcode, payload=b"", fin=True, mask=True):
    """One client frame, masked as RFC 6455 section 5.3 requires of clients."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + mask_bytes(payload, key)


def mask_bytes(payload, key):
    """XOR with the 4-byte key, fast enough for megabytes (one big int)."""
    if not payload:
        return b""
    n = len(payload)
    k = (key * (n // 4 + 1))[:n]
    x = int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")
    return x.to_bytes(n, "big")


def read_frame(sock, buf, deadline):
    """Reads one server frame: (opcode, payload, rest of buf); opcode None at EOF."""
    while True:
        if len(buf) >= 2:
            n = buf[1] & 0x7F
            at = 2
            if n == 126 and len(buf) >= 4:
                n, at = struct.unpack("!H", buf[2:4])[0], 4
            elif n == 127 and len(buf) >= 10:
                n, at = struct.unpack("!Q", buf[2:10])[0], 10
            elif n >= 126:
                n = None
            if n is not None and len(buf) >= at + n:
                return buf[0] & 0x0F, buf[at : at + n], buf[at + n :]
        chunk = recv(sock, deadline)
        if not chunk:
            return None, b"", buf
        buf += chunk


def ws_open(server, deadline, path=None, rcvbuf=None):
    """An upgraded WebSocket: (socket, bytes after the 101). Raises on refusal.
    The path defaults to the server's WebSocket path (the classroom's /feed)."""
    path = path or server.ws_path
    s = connect(server, rcvbuf=rcvbuf, timeout=max(deadline.left(), 0.1))
    s.sendall(upgrade_request(path, extra=server.origin_header()))
    status, _, _, rest = read_answer(s, deadline)
    if status != 101:
        s.close()
        raise ConnectionError(f"Upgrade answered {status}")
    return s, rest


def close_code(payload):
    """The code of a Close frame's payload, or None."""
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


def b64(n_bytes, bad=False):
    """A base64 key of n_bytes bytes (with a '*' in it when bad)."""
    key = base64.b64encode(os.urandom(n_bytes)).decode()
    return key[:3] + "*" + key[4:] if bad else key
