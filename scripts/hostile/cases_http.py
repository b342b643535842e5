"""cases_http.py: the cases on HTTP heads, on push's event window, on TLS, on accept.

- upgrade-table: every row of upgrades.ROWS, one connection each: the status,
  the reason, 426's Sec-WebSocket-Version, then a close.
- smuggling: framing a server must refuse (RFC 9112 section 6.3: several
  Content-Length values, Transfer-Encoding with Content-Length, a sign in
  Content-Length, bare LF line ends): a 400 and a close, never an answer to the
  request hidden inside; a GET whose body is a second request: one answer (the
  body is read per its length, never run as a request).
- replay, sse-slow (push): answers built from the event window for clients
  that never read them.
- half-hello (wss): TLS record headers and nothing more, held against a small
  --max-connections.
- vanish: thousands of connections that open and go at once (half by RST).
"""

import socket
import struct
import time

import upgrades
from attack import Attack, CaseFailed, during, memory_ok, rose, until_rose
from fresh import fresh
from wire import Deadline, closed_after, connect, read_answer

# The second request smuggled inside each case's body: never to be answered.
SECOND = b"GET /smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
# How many times the rows are sent again, at most, while a fresh client is served
# (the attack also ends after its 30 s, and as soon as the fresh client was seen
# served while it ran). 200 rounds of 5 smuggling rows were over before chat's
# fresh client (an Upgrade, then a line between two members) had finished, once.
TABLE_ROUNDS = 5000
# Seconds a refused request's connection has to close after its answer.
CLOSE_WAIT = 3
# push: events in its window (hub::KEEP), and each one's posted size (push's
# MAX_POST). Control characters: JSON escapes each as \u00XX, six times the size.
WINDOW = 1024
EVENT_BYTES = 4096
PIPELINED_POLLS = 100
SSE_CLIENTS = 60
# half-hello: the cap the TLS server runs with, and the half-sent hellos held.
TLS_CAP = 50
HALF_HELLOS = 200
# Tries the fresh TLS client gets, back to back (a real client retries).
FRESH_ATTEMPTS = 3
# vanish: connections opened and dropped, by this many threads: at least
# VANISH, and on until the fresh client is served (a fresh connect whose SYN
# met a full accept queue is retried by the kernel 1 s later, and 4,000 can
# be over by then), at most VANISH_MAX.
VANISH = 4000
VANISH_MAX = 40_000
VANISH_THREADS = 4
TINY_RCVBUF = 4096


def under_fire(server, requests, report, label):
    """The table's requests again, by two attackers in a loop, while a fresh
    client is served; then the memory rule. One report line."""
    def worker(attack, index):
        for i in range(index, TABLE_ROUNDS * len(requests), 2):
            if not attack.running():
                return
            try:
                s = connect(server, timeout=2)
                s.sendall(requests[i % len(requests)])
                read_answer(s, Deadline(2))
                s.close()
            except OSError as e:
                attack.note(f"{type(e).__name__}")
            attack.add()

    attack = Attack(label, 2, worker, 30)
    why = None
    try:
        detail = during(server, attack, fresh, warm=len(requests) // 2)
        detail = "; ".join([detail, memory_ok(server, server.fresh_stats())])
    except CaseFailed as e:
        why = str(e)
    finally:
        attack.stop()
    report(label, why, detail if why is None else "")
    return why is not None


def upgrade_table(server, report):
    """One report line per row, and one for the rows sent again while a fresh
    client is served; returns how many failed."""
    requests = [upgrades.aimed(server, row[1]) for row in upgrades.ROWS]
    failed = under_fire(server, requests, report, "upgrade-table")
    for row, request in zip(upgrades.ROWS, requests):
        name = row[0]
        deadline = Deadline(5)
        try:
            s = connect(server, timeout=5)
            s.sendall(request)
            status, headers, body, _ = read_answer(s, deadline)
            why = upgrades.check(status, headers, body, row)
            if why is None:
                closed, _ = closed_after(s, Deadline(CLOSE_WAIT))
                why = None if closed else f"{status} but the connection stayed open"
            s.close()
        except OSError as e:
            why = f"{type(e).__name__}: {e}"
        failed += why is not None
        report(f"upgrade/{name}", why, f"{row[2]} {row[3]!r}")
    return failed


def http_route(server):
    """The HTTP route a case aims at: push's poll, everyone else's page."""
    return "/poll" if server.name == "push" else "/"


def smuggling_rows(server):
    route = http_route(server)
    # The route that takes a body: push's publish, the classroom's report.
    post = {"push": "POST /publish", "classroom": "POST /report"}.get(server.name, f"GET {route}")
    h = "Host: 127.0.0.1\r\n"
    return [
        ("cl-cl", f"{post} HTTP/1.1\r\n{h}Content-Length: 5\r\nContent-Length: 50\r\n\r\n"
         .encode() + b"hello" + SECOND),
        ("te-and-cl", f"{post} HTTP/1.1\r\n{h}Transfer-Encoding: chunked\r\nContent-Length: 5"
         "\r\n\r\n".encode() + b"0\r\n\r\n" + SECOND),
        ("get-body", f"GET {route} HTTP/1.1\r\n{h}Content-Length: {len(SECOND)}\r\n\r\n"
         .encode() + SECOND),
        ("cl-plus", f"{post} HTTP/1.1\r\n{h}Content-Length: +5\r\n\r\n".encode()
         + b"hello" + SECOND),
        ("bare-lf", f"GET {route} HTTP/1.1\n{h.strip()}\n\n".encode()
         + SECOND.replace(b"\r\n", b"\n")),
    ]


def smuggling(server, report):
    failed = under_fire(server, [r for _, r in smuggling_rows(server)], report, "smuggling")
    for name, request in smuggling_rows(server):
        why = None
        try:
            s = connect(server, timeout=5)
            s.sendall(request)
            status, _, body, rest = read_answer(s, Deadline(5))
            closed, extra = closed_after(s, Deadline(CLOSE_WAIT))
            s.close()
            if b"HTTP/1." in rest + extra:
                why = f"answered {status}, then answered the smuggled request too"
            elif name == "get-body":
                # Issue 17: "a body on GET is read per its length and never
                # parsed as a request" (RFC 9112 section 6.3: Content-Length
                # frames the body whatever the method). So the GET itself may be
                # answered (200, or a page's 400): exactly one answer, and
                # nothing for the request inside its body, checked above. An
                # Upgrade GET with a body is the upgrade table's 400 row.
                why = None if status else "no answer to the GET"
            elif status != 400:
                why = f"answered {status}, expected 400 ({body[:80]!r})"
            elif not closed:
                why = "400 but the connection stayed open"
        except OSError as e:
            why = f"{type(e).__name__}: {e}"
        failed += why is not None
        want = "one answer, the body never run" if name == "get-body" else "400 and close"
        report(f"smuggling/{name}", why, want)
    return failed


def fill_window(server):
    """Posts WINDOW events of EVENT_BYTES control characters, on one keep-alive
    connection; returns after the last answer. The idle baseline and the peak
    RSS start again after it: the window is the server's rightful state, not
    the attack."""
    s = connect(server, timeout=10)
    body = b"\x01" * (EVENT_BYTES - 1) + b"x"
    post = (f"POST /publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}"
            "\r\n\r\n").encode() + body
    deadline = Deadline(60)
    for i in range(WINDOW):
        s.sendall(post)
        status, _, body, _ = read_answer(s, deadline)
        if status != 200:
            raise CaseFailed(f"setup: POST /publish {i} answered {status} {body[:60]!r}")
    s.close()
    server.reset_peak()


def replay(server):
    fill_window(server)
    polls = b"GET /poll?since=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * PIPELINED_POLLS

    def worker(attack, _):
        while attack.running():
            s = connect(server, rcvbuf=TINY_RCVBUF, timeout=5)
            s.sendall(polls)
            attack.add(PIPELINED_POLLS)
            # Never read; the server should give up on us (write stall): then again.
            closed, _ = closed_after_unread(s, attack)
            s.close()
            attack.note("closed by the server" if closed else "stopped")

    return held_attack(server, Attack("replay", 1, worker, 30), ("stall_closes",))


def closed_after_unread(s, attack):
    """Waits, without reading, until the server ends the connection (a send of
    nothing would not tell: poll the socket's error state instead). Each look
    that finds it still held counts on the attack's counter: holding a
    connection the server must feed is the attack."""
    while attack.running():
        attack.add()
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
        state = info[0]
        # TCP_CLOSE_WAIT (8) or TCP_CLOSE (7): the server sent FIN or reset.
        if err or state in (7, 8):
            return True, None
        time.sleep(0.05)
    return False, None


def sse_slow(server):
    fill_window(server)
    ask = b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nLast-Event-ID: 0\r\n\r\n"

    def worker(attack, index):
        if index == SSE_CLIENTS:
            # Events keep coming: the window alone (at most push's KEEP_BYTES,
            # 4 MiB) can fit in the kernel's buffers of a loopback connection,
            # and then a subscriber that never reads leaves the server nothing
            # queued, so nothing to stall on. New events give it more to send.
            publish_until_stopped(server, attack)
            return
        while attack.running():
            s = connect(server, rcvbuf=TINY_RCVBUF, timeout=5)
            s.sendall(ask)
            attack.add()
            closed_after_unread(s, attack)
            s.close()

    # The defence is the engine's write stall or push's own drop of a subscriber
    # that let events leave the window unread (push_dropped): either, counted.
    return held_attack(server, Attack("sse-slow", SSE_CLIENTS + 1, worker, 30),
                       ("stall_closes", "push_dropped"), warm=SSE_CLIENTS)


def publish_until_stopped(server, attack):
    """POSTs EVENT_BYTES events on one keep-alive connection until the attack
    stops (push runs with a publish limit above it: NO_LIMIT_FOR_SETUP)."""
    body = b"\x01" * (EVENT_BYTES - 1) + b"x"
    post = (f"POST /publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}"
            "\r\n\r\n").encode() + body
    s = connect(server, timeout=10)
    try:
        while attack.running():
            s.sendall(post)
            status, _, _, _ = read_answer(s, Deadline(10))
            if status != 200:
                attack.note(f"publisher: {status}")
                return
            time.sleep(0.01)
    finally:
        s.close()


def held_attack(server, attack, counters, warm=1, attempts=1):
    try:
        detail = during(server, attack, fresh, warm=warm, attempts=attempts)
        until_rose(server, attack, counters)
    finally:
        attack.stop()
    snap = server.fresh_stats()
    return "; ".join([detail, memory_ok(server, snap), rose(server, snap, *counters)])


def half_hello(server):
    # A TLS handshake record header announcing 512 bytes, and nothing after it.
    header = b"\x16\x03\x01\x02\x00"

    def worker(attack, index):
        held = []
        while attack.running():
            while len(held) < HALF_HELLOS // 4 and attack.running():
                try:
                    s = connect(server, timeout=2, tls=False)
                    s.sendall(header)
                    held.append(s)
                    attack.add()
                except OSError:
                    break
            # Re-open what the server closed (its handshake deadline).
            alive = []
            for s in held:
                if gone(s):
                    s.close()
                else:
                    alive.append(s)
            held = alive
            time.sleep(0.05)
        for s in held:
            s.close()

    attack = Attack("half-hello", 4, worker, 30)
    return held_attack(server, attack, ("refused", "idle_closes"), warm=HALF_HELLOS // 2,
                       attempts=FRESH_ATTEMPTS)


def gone(s):
    """Whether the server ended this connection: a peek that does not wait
    finds EOF or an error (the server sends nothing else to a half hello)."""
    try:
        return s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def gone_unread(s):
    """Whether the server ended this connection, read nothing to tell: the
    socket's error or its TCP state (CLOSE_WAIT or CLOSE)."""
    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    state = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    return bool(err) or state in (7, 8)


def vanish(server):
    def worker(attack, index):
        for i in range(VANISH_MAX // VANISH_THREADS):
            if not attack.running():
                return
            s = socket.socket()
            s.settimeout(2)
            try:
                s.connect(("127.0.0.1", server.port))
                if i % 2:  # SO_LINGER 0: close(2) sends RST, not FIN
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            s.close()
            attack.add()

    attack = Attack("vanish", VANISH_THREADS, worker, 60)
    try:
        detail = during(server, attack, fresh, warm=100)
        attack.wait_count(VANISH - 1, 60)
    finally:
        attack.stop()
    # After it: served again, and nothing of the vanished left open.
    try:
        fresh(server, Deadline(15))
    except Exception as e:
        raise CaseFailed(f"no fresh client served after the attack: {e}") from e
    deadline = Deadline(10)
    snap = server.fresh_stats()
    while snap["open"] > 2 and not deadline.passed():
        time.sleep(0.1)
        snap = server.fresh_stats()
    if snap["open"] > 2:
        raise CaseFailed(f"{snap['open']} connections still open after the attack")
    return "; ".join([detail, memory_ok(server, snap), f"{attack.count} connects, "
                      f"open {snap['open']} after, refused {snap['refused']}, "
                      f"accept pauses {snap['accept_pauses']}"])
