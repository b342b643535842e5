"""cases_push.py: push's publish rate limit, asserted as an attack of its own.

- publish-flood: one keep-alive connection POSTs /publish as fast as it can,
  and one WebSocket sends messages as fast as it can, both against push's
  default --publish-rate/--publish-burst. The limit must show: HTTP answers 429
  with Retry-After (RFC 6585 section 4) and keeps the connection, the WebSocket
  is closed with 1008 Policy Violation (RFC 6455 section 7.4.1), push's own
  counter of refused publishes (push_limited in --stats-file) rises, and a
  fresh client is served meanwhile. replay and sse-slow start push with a limit high
  enough that their setup is not this case.
"""

from attack import Attack, CaseFailed, during, memory_ok
from fresh import fresh
from wire import Deadline, close_code, connect, frame, read_answer, read_frame, ws_open

# More than push's default burst (rate::DEFAULT_BURST, 100): the limit must bite.
FLOOD_POSTS = 400
# WebSocket text frames sent before reading for the close (same bound).
FLOOD_MESSAGES = 400
TEXT = 0x1
CLOSE = 0x8
# The extra server flags replay and sse-slow get: a window's worth of posts from
# one connection fits in the burst, so their setup never meets a 429.
NO_LIMIT_FOR_SETUP = ["--publish-rate", "100000", "--publish-burst", "4096"]


def http_flood(server, attack):
    """POSTs on one connection until a 429; returns its Retry-After, and checks
    the connection still answers after it (429 keeps it)."""
    s = connect(server, timeout=5)
    post = b"POST /publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nflood"
    deadline = Deadline(20)
    try:
        for _ in range(FLOOD_POSTS):
            s.sendall(post)
            status, headers, body, _ = read_answer(s, deadline)
            attack.add()
            if status == 429:
                retry = headers.get("retry-after", [None])[0]
                if not retry or not retry.isdigit():
                    raise CaseFailed(f"429 without a Retry-After in seconds: {headers}")
                # Still a connection: the next request is answered (429 again or 200).
                s.sendall(b"GET /poll?since=18446744073709551615 HTTP/1.1\r\n"
                          b"Host: 127.0.0.1\r\n\r\n")
                again, _, _, _ = read_answer(s, deadline)
                if again not in (200, 429):
                    raise CaseFailed(f"after the 429 the connection answered {again}")
                return f"429 after {attack.count} posts, Retry-After {retry}"
            if status != 200:
                raise CaseFailed(f"POST /publish answered {status} {body[:60]!r}")
        raise CaseFailed(f"{FLOOD_POSTS} posts from one connection, never a 429")
    finally:
        s.close()


def ws_flood(server, attack):
    """Text messages on one WebSocket until the server closes it: 1008."""
    s, buf = ws_open(server, Deadline(10))
    deadline = Deadline(20)
    try:
        for i in range(FLOOD_MESSAGES):
            try:
                s.sendall(frame(TEXT, b"flood %d" % i))
            except OSError:
                break  # closed already: read what it said
            attack.add()
        while True:
            opcode, payload, buf = read_frame(s, buf, deadline)
            if opcode is None:
                raise CaseFailed("the flooding WebSocket ended without a Close frame")
            if opcode == CLOSE:
                code = close_code(payload)
                if code != 1008:
                    raise CaseFailed(f"the flooding WebSocket closed with {code}, not 1008")
                return f"WebSocket closed 1008 ({payload[2:60]!r})"
    finally:
        s.close()


def publish_flood(server):
    seen = {}

    def worker(attack, index):
        # Thread 0 floods over HTTP, thread 1 over WebSocket; then both keep
        # flooding over fresh HTTP connections so the attack is still running
        # while the fresh client is served.
        try:
            seen[index] = (http_flood if index == 0 else ws_flood)(server, attack)
        except CaseFailed as e:
            seen[index] = e
        while attack.running():
            try:
                http_flood(server, attack)
            except (CaseFailed, OSError):
                pass

    attack = Attack("publish-flood", 2, worker, 30)
    try:
        detail = during(server, attack, fresh, warm=FLOOD_POSTS // 4)
        deadline = Deadline(20)
        while len(seen) < 2 and not deadline.passed():
            attack.wait_count(attack.count, 1)
    finally:
        attack.stop()
    for index in (0, 1):
        if isinstance(seen.get(index), CaseFailed):
            raise seen[index]
        if index not in seen:
            raise CaseFailed("a flooder never finished")
    snap = server.fresh_stats()
    # The server's own count of refused publishes: at least the flooders' two.
    limited = snap.get("push_limited", 0) - server.idle.get("push_limited", 0)
    if limited < 2:
        raise CaseFailed(f"push_limited rose by {limited}, not by the flooders' 2 or more "
                         "(is push's counter in --stats-file?)")
    return "; ".join([detail, seen[0], seen[1], f"push_limited +{limited}",
                      memory_ok(server, snap)])
