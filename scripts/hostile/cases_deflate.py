"""cases_deflate.py: permessage-deflate (RFC 7692) attacks, against every
WebSocket server started with --deflate. One row each, each on a connection
of its own:

- rsv1-plain: RSV1 on a Text frame of a connection that did not offer the
  extension: 1002 (no extension, no meaning for RSV1).
- offer: the 101 answers `Sec-WebSocket-Extensions: permessage-deflate`.
- rsv1-ping: RSV1 on a Ping (control frames are never compressed): 1002.
- rsv1-continuation: RSV1 on a continuation frame (only a message's first
  frame says "compressed"): 1002.
- bad-utf8: compressed text that inflates to invalid UTF-8: 1007.
- zip-bomb: one compressed message of zeros that inflates to twice the
  server's message limit, while on the wire it is under a thousandth of it:
  1009, and the server's peak RSS stays within idle + budget + slack.

Python 3 standard library only (zlib for the compressed bytes).
"""

import zlib

from attack import memory_ok
from wire import CLOSE, PING, TEXT, Deadline, close_code, connect, frame, read_answer
from wire import read_frame, upgrade_request

# RSV1: the "compressed" bit of a frame's first byte (RFC 7692 section 6).
RSV1 = 0x40
# Continuation frame's opcode.
CONTINUATION = 0x0
OFFER = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
# Each server's message limit (its default): the bomb inflates to twice it.
LIMITS = {"ws": 16 << 20, "wss": 16 << 20, "push": 4096, "chat": 64 << 10, "bridge": 1 << 20}
ANSWER_SECONDS = 10


def compress(data):
    """One message as RFC 7692 section 7.2.1 says: raw DEFLATE, sync flush, the
    trailing 00 00 ff ff removed."""
    c = zlib.compressobj(wbits=-15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def open_ws(server, offer):
    """An upgraded WebSocket, offering deflate or not: (socket, rest, headers)."""
    deadline = Deadline(ANSWER_SECONDS)
    s = connect(server, timeout=ANSWER_SECONDS)
    s.sendall(upgrade_request("/", extra=server.origin_header() + (OFFER if offer else "")))
    status, headers, _, rest = read_answer(s, deadline)
    if status != 101:
        s.close()
        raise ConnectionError(f"Upgrade answered {status}")
    return s, rest, headers


def close_after(server, offer, frames):
    """Sends `frames` and returns the code of the server's Close frame (frames
    the server sends before it, a chat's or a push's own, are skipped)."""
    s, buf, _ = open_ws(server, offer)
    try:
        s.sendall(b"".join(frames))
        deadline = Deadline(ANSWER_SECONDS)
        while True:
            op, payload, buf = read_frame(s, buf, deadline)
            if op is None:
                return "no Close frame"
            if op == CLOSE:
                return close_code(payload)
    finally:
        s.close()


def table(server, report):
    """Runs every row; returns how many failed."""
    kind = server.name.split("-")[0]
    limit = LIMITS[kind]
    failed = 0

    def row(name, expected, got):
        nonlocal failed
        why = None if got == expected else f"expected {expected}, got {got}"
        failed += why is not None
        report(f"deflate-{name}", why, f"{expected}")

    hello = compress(b"Hello")
    row("rsv1-plain", 1002, close_after(server, False, [frame(RSV1 | TEXT, hello)]))
    s, _, headers = open_ws(server, True)
    s.close()
    answer = headers.get("sec-websocket-extensions", ["(none)"])[0]
    row("offer", "permessage-deflate", answer)
    row("rsv1-ping", 1002, close_after(server, True, [frame(RSV1 | PING, b"ping")]))
    row("rsv1-continuation", 1002, close_after(server, True, [
        frame(RSV1 | TEXT, hello[:3], fin=False), frame(RSV1 | CONTINUATION, hello[3:])]))
    row("bad-utf8", 1007, close_after(server, True, [frame(RSV1 | TEXT, compress(b"\xc3\x28!"))]))
    bomb = compress(bytes(2 * limit))
    row("zip-bomb", 1009, close_after(server, True, [frame(RSV1 | TEXT, bomb)]))
    try:
        detail = memory_ok(server, server.fresh_stats())
        report("deflate-zip-bomb-rss", None, f"{len(bomb)} bytes inflating to {2 * limit}: {detail}")
    except Exception as e:
        failed += 1
        report("deflate-zip-bomb-rss", str(e), "")
    return failed
