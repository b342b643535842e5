"""cases_classroom.py: `socklab classroom`'s own attacks, and its fresh client.

The classroom runs the students' servers and a dashboard in one process; the
shared cases (upgrade-table, smuggling, ping-flood, big-messages, slowloris,
vanish) hit its dashboard port, /feed and POST /report. These are its own:

- fresh: an Upgrade to /feed on the dashboard port and one feed event
  received, plus one line echoed by the students' tcp echo (N+1): the
  teacher's screen and the students' server both served during every attack.
- vanish-students: the vanish case on the students' tcp port.
- report-flood: POST /report as fast as possible with bodies over the cap
  (413), malformed ones (400) and valid ones from ever new names (200, then
  503 once the results table is full): answered, never memory growth.
- feed-never-reads: 20 dashboards on /feed with a tiny SO_RCVBUF that never
  read while 30 students connect, echo and close: the classroom must skip
  them (or close them at the write-stall deadline), bounded, and the
  students' echo stays served.
"""

import copy
import json
import os
import socket
import time

import cases_http
from fresh import line_echo
from attack import Attack, CaseFailed, during, memory_ok, pending_bounded, rose, until_rose
from wire import TEXT, CLOSE, Deadline, connect, read_answer, read_frame, recv, ws_open

# report-flood: attacking threads, and requests each at most.
REPORT_THREADS = 4
# Past MAX_RESULTS (4096, report.rs) valid reports from new names: every other
# request is one, so the results table fills and the 503 is reached.
REPORT_MAX = 10000
REPORT_SECONDS = 20
# The classroom's report cap (crates/classroom/src/report.rs MAX_REPORT).
MAX_REPORT = 16 * 1024
# A Content-Length far past the cap, and how much of it is actually sent.
HUGE_LENGTH = 1 << 30
HUGE_SENT = 64 * 1024
# The statuses a report may get: taken, refused (bad, too large, table full).
REPORT_STATUSES = {200, 400, 413, 503}
# feed-never-reads: dashboards that never read, and students making traffic.
DEAF_DASHBOARDS = 20
STUDENTS = 30
TINY_RCVBUF = 4096
DEAF_SECONDS = 30


def fresh(server, deadline):
    """/feed upgraded and one event received; one line echoed on N+1."""
    if server.port != server.dashboard_port:  # vanish-students aims elsewhere
        server = copy.copy(server)
        server.port = server.dashboard_port
    feed, buf = ws_open(server, deadline, path="/feed")
    try:
        tcp_echo(server, deadline)  # also makes an event if none was waiting
        while True:
            op, payload, buf = read_frame(feed, buf, deadline)
            if op is None or op == CLOSE:
                raise ConnectionError(f"the feed closed before an event (op {op})")
            if op == TEXT and payload.startswith(b"{"):
                return
    finally:
        feed.close()


def tcp_echo(server, deadline):
    """One line to the students' tcp echo, the same line back."""
    line_echo(server, deadline, port=server.tcp_port, tls=False)


def vanish_students(server):
    """cases_http.vanish against the students' tcp port (N+1)."""
    dashboard = server.port
    server.port = server.tcp_port
    try:
        return cases_http.vanish(server)
    finally:
        server.port = dashboard


def report_requests():
    """The report flood's requests, by kind: (kind, bytes)."""
    head = "POST /report HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    over = json.dumps({"name": "x" * (MAX_REPORT + 1), "exercise": 1, "pass": True}).encode()
    findings = ["f" * 499] * 20  # the most a valid report keeps: ~10 KB

    def post(body):
        return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body

    def valid(i):
        name = f"s{os.urandom(6).hex()}{i}"
        return post(json.dumps({"name": name, "exercise": i % 7, "pass": bool(i % 2),
                                "findings": findings}).encode())

    return [
        ("huge-length", lambda i: f"{head}Content-Length: {HUGE_LENGTH}\r\n\r\n".encode()
         + b"{" * HUGE_SENT),
        ("over-cap", lambda i: post(over)),
        ("not-json", lambda i: post(b"{\"name\": \"ana\", \"exercise\": " + b"[" * 5000)),
        ("not-utf8", lambda i: post(b"{\"name\": \"\xff\xfe\", \"exercise\": 1, \"pass\": true}")),
        ("wrong-types", lambda i: post(b"{\"name\": 7, \"exercise\": -1, \"pass\": \"yes\"}")),
        ("valid-new-name", valid),
    ]


def report_flood(server):
    kinds = report_requests()

    def worker(attack, index):
        for i in range(index, REPORT_MAX, REPORT_THREADS):
            if not attack.running():
                return
            kind, make = kinds[-1] if i % 2 else kinds[(i // 2) % (len(kinds) - 1)]
            try:
                s = connect(server, timeout=5)
                try:
                    s.sendall(make(i))
                except OSError:
                    pass  # refused before the body was all sent: the answer tells
                status, _, body, _ = read_answer(s, Deadline(5))
                s.close()
            except OSError as e:
                status, body = None, str(e).encode()
            attack.note(f"{kind} {status}")
            if status is not None and status not in REPORT_STATUSES:
                attack.note(f"UNEXPECTED {kind} {status} {body[:60]!r}")
            attack.add()

    attack = Attack("report-flood", REPORT_THREADS, worker, REPORT_SECONDS)
    try:
        detail = during(server, attack, fresh, warm=len(kinds))
        attack.finish(REPORT_SECONDS)
    finally:
        attack.stop()
    snap = server.fresh_stats()
    seen = sorted(set(attack.notes))
    wrong = [n for n in seen if n.startswith("UNEXPECTED")]
    if wrong:
        raise CaseFailed(f"answers outside {sorted(REPORT_STATUSES)}: {wrong[:3]}")
    for want in ("huge-length 413", "over-cap 413", "not-json 400", "not-utf8 400",
                 "wrong-types 400", "valid-new-name 200", "valid-new-name 503"):
        if want not in seen:
            raise CaseFailed(f"never saw {want!r} (saw {seen[:8]})")
    return "; ".join([detail, memory_ok(server, snap), f"{attack.count} reports",
                      f"answers {' '.join(seen)}"])


def feed_never_reads(server):
    def worker(attack, index):
        if index < DEAF_DASHBOARDS:
            hold_deaf_dashboard(server, attack)
        else:
            student(server, attack)

    attack = Attack("feed-never-reads", DEAF_DASHBOARDS + STUDENTS, worker, DEAF_SECONDS)
    counters = ("stall_closes", "classroom_skipped")
    try:
        detail = during(server, attack, fresh, warm=STUDENTS)
        until_rose(server, attack, counters)
    finally:
        attack.stop()
    snap = server.fresh_stats()
    return "; ".join([detail, memory_ok(server, snap), pending_bounded(snap),
                      rose(server, snap, *counters), f"{attack.count} student echoes"])


def hold_deaf_dashboard(server, attack):
    """A dashboard that never reads; opened again when the server closes it."""
    while attack.running():
        try:
            s, _ = ws_open(server, Deadline(5), path="/feed", rcvbuf=TINY_RCVBUF)
        except Exception as e:
            attack.note(f"dashboard refused: {e}")
            time.sleep(0.1)
            continue
        while attack.running() and not cases_http.gone_unread(s):
            time.sleep(0.05)
        attack.note("a deaf dashboard was closed by the server")
        s.close()


def student(server, attack):
    """A student: connect, a line echoed, close, again (each an open, data and
    close on the feed)."""
    line = f"student {os.urandom(8).hex()}\n".encode() * 4
    while attack.running():
        try:
            s = connect(server, port=server.tcp_port, timeout=5, tls=False)
            s.sendall(line)
            got, deadline = b"", Deadline(5)
            while len(got) < len(line):
                chunk = recv(s, deadline)
                if not chunk:
                    break
                got += chunk
            s.close()
        except OSError as e:
            attack.note(f"student: {type(e).__name__}")
            continue
        if got == line:
            attack.add()
        else:
            attack.note(f"student echo cut at {len(got)} of {len(line)} bytes")
