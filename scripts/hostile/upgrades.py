"""upgrades.py: the malformed-Upgrade table, one row per broken opening handshake.

Each row: a name, the request bytes, the status every server must answer, and a
substring its one-line reason (the body) must contain. The statuses are what
`socklab serve ws` answers (its strict check, crates/ws-echo/src/upgrade.rs, is
the reference), checked against the RFCs:

- RFC 6455 section 4.2.1: a GET, HTTP/1.1, Host, "Upgrade: websocket",
  "Connection: Upgrade", a Sec-WebSocket-Key that is base64 of 16 bytes,
  Sec-WebSocket-Version 13. Section 4.2.2: a failed rule is "400 Bad Request"; a
  version we do not speak is 426 with "Sec-WebSocket-Version: 13" (section 4.4);
  section 11.3.1/11.3.5: Key and Version appear once in a request.
- RFC 9110 section 15.5.6: a 405 carries Allow (checked); section 15.5.22: a
  426 carries Upgrade (checked, with 6455's Sec-WebSocket-Version: 13).
- RFC 9112 section 3.2: exactly one Host (else 400), a target that is a path
  (or an absolute URL naming this server: section 3.2.2 has the target's host
  win over Host, so a foreign one is a request for another server: 400), never
  "*" for a GET (section 3.2.4); section 5.2: obs-fold is refused with 400 (or
  unfolded); section 6: a body is framed by Content-Length or
  Transfer-Encoding, and a handshake has none.
- RFC 6585 section 5: 431 for a head too large.
- RFC 6455 section 10.2: a server may refuse an Origin with 403 (only when the
  server has an Origin policy: see "foreign-origin").
"""

from wire import GOOD_KEY, b64, upgrade_request

CRLF = "\r\n"


def req(lines, path="/chat", method="GET", version="HTTP/1.1", body=""):
    """A request from header lines (no CRLFs), in order."""
    head = f"{method} {path} {version}{CRLF}" + "".join(line + CRLF for line in lines)
    return (head + CRLF + body).encode()


def base(host="Host: 127.0.0.1", key=f"Sec-WebSocket-Key: {GOOD_KEY}",
         version="Sec-WebSocket-Version: 13", upgrade="Upgrade: websocket",
         connection="Connection: Upgrade"):
    """The valid header lines, any of which a row may drop (None) or replace."""
    return [h for h in (host, upgrade, connection, key, version) if h is not None]


def key(value):
    return base(key=f"Sec-WebSocket-Key: {value}")


# (name, request bytes, status, reason substring). Two rows are where the
# reference moves (WAVE3-NOTES, issue 17): bare LF, which RFC 9112 section 2.2
# lets a server accept but one reader must treat one way everywhere, is refused
# with a reason naming the fix ("HTTP lines end in CRLF: use `ncat -C`"); and a
# foreign Origin is refused by the one default Origin policy every server gets.
# ANCHOR: rows
ROWS = [
    ("missing-key", req(base(key=None)), 400, "missing Sec-WebSocket-Key"),
    ("duplicate-key", req(base() + [f"Sec-WebSocket-Key: {GOOD_KEY}"]), 400,
     "more than one Sec-WebSocket-Key"),
    ("key-bad-chars", req(key(b64(16, bad=True))), 400, "not base64 of 16 bytes"),
    ("key-12-bytes", req(key(b64(12))), 400, "not base64 of 16 bytes"),
    ("key-20-bytes", req(key(b64(20))), 400, "not base64 of 16 bytes"),
    ("key-blank", req(key("")), 400, "not base64 of 16 bytes"),
    ("key-24-chars-bad", req(key("abc*efghijklmnopqrstuQ==")), 400, "not base64 of 16 bytes"),
    ("key-last-char-not-16", req(key("dGhlIHNhbXBsZSBub25jZR==")), 400,
     "not base64 of 16 bytes"),
    ("missing-version", req(base(version=None)), 426, "missing Sec-WebSocket-Version"),
    ("duplicate-version", req(base() + ["Sec-WebSocket-Version: 13"]), 400,
     "more than one Sec-WebSocket-Version"),
    ("wrong-version", req(base(version="Sec-WebSocket-Version: 8")), 426, "not supported"),
    ("missing-upgrade", req(base(upgrade=None)), 426, "Upgrade: websocket"),
    ("missing-connection", req(base(connection=None)), 426, "Connection: Upgrade"),
    ("post", req(base(), method="POST"), 405, "method POST not allowed"),
    ("http-1.0", req(base(), version="HTTP/1.0"), 400, "HTTP/1.0 cannot upgrade"),
    ("body-content-length", req(base() + ["Content-Length: 5"], body="hello"), 400, "no body"),
    ("transfer-encoding", req(base() + ["Transfer-Encoding: chunked"], body="0\r\n\r\n"), 400,
     "no body"),
    ("duplicate-host", req(base() + ["Host: 127.0.0.2"]), 400, "more than one Host"),
    ("missing-host", req(base(host=None)), 400, "missing Host"),
    ("asterisk-target", req(base(), path="*"), 400, "asterisk-form"),
    ("absolute-foreign-host", req(base(), path="http://evil.example/chat"), 400,
     "names host evil.example"),
    ("bare-lf", upgrade_request("/chat").replace(b"\r\n", b"\n"), 400, "CRLF"),
    ("oversized-head", req(base() + [f"X-Pad-{i}: {'a' * 200}" for i in range(48)]), 431,
     "request head over"),
    ("too-many-headers", req(base() + [f"X-{i}: 1" for i in range(80)]), 431,
     "more than 64 header lines"),
    # RFC 9112 section 5.2: obs-fold may be rejected with 400; the reason is
    # crates/http's HeadError::Malformed wording, the same on every server.
    ("obs-fold", req(base() + ["X-Long: one", " two"]), 400,
     "not an HTTP request: invalid header name"),
    ("foreign-origin", req(base() + ["Origin: http://evil.example"]), 403,
     "Origin http://evil.example is not allowed"),
]
# ANCHOR_END: rows


def aimed(server, request):
    """A row's request aimed at the server's WebSocket path: the rows ask for
    /chat, which every echo takes; the classroom's dashboard upgrades on /feed
    only (its other paths are the page and POST /report)."""
    if server.ws_path == "/":
        return request
    return request.replace(b" /chat HTTP/1.", f" {server.ws_path} HTTP/1.".encode()).replace(
        b"evil.example/chat HTTP/1.", f"evil.example{server.ws_path} HTTP/1.".encode())


def check(status, headers, body, row):
    """Why the answer differs from the row, or None."""
    _, _, want, reason = row
    if status != want:
        return f"answered {status}, expected {want} ({reason!r}); body {body[:120]!r}"
    if reason not in body.decode("utf-8", "replace"):
        return f"{status} but the reason {body[:160]!r} lacks {reason!r}"
    if want == 426 and "13" not in headers.get("sec-websocket-version", []):
        return "426 without Sec-WebSocket-Version: 13"
    # RFC 9110 section 15.5.22: a 426 MUST name the protocol in an Upgrade header.
    if want == 426 and not any("websocket" in v.lower() for v in headers.get("upgrade", [])):
        return "426 without Upgrade: websocket"
    # RFC 9110 section 15.5.6: a 405 MUST list the allowed methods in Allow.
    if want == 405 and not any("GET" in v for v in headers.get("allow", [])):
        return "405 without Allow: GET"
    return None
