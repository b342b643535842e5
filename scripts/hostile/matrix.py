#!/usr/bin/env python3
"""matrix.py: the hostile matrix, every case against every server that speaks its protocol.

Run through scripts/hostile.sh (it builds the binary and cleans up); directly:

    python3 scripts/hostile/matrix.py --binary target/release/socklab [--only CASE] [--server NAME]

Each (server, case) gets a server process of its own, so one case's damage or
crash never shows up as another's failure. Prints one line per check:
`ok   CASE@SERVER (details)` or `FAIL CASE@SERVER: why`; exits 1 if any failed.
Python 3 standard library only; raw sockets only.
"""

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cases_classroom  # noqa: E402
import cases_deflate  # noqa: E402
import cases_http  # noqa: E402
import cases_line  # noqa: E402
import cases_push  # noqa: E402
import cases_ws  # noqa: E402
from attack import CaseFailed, counters  # noqa: E402
from servers import BUDGET_MIB, SERVERS, Server  # noqa: E402

WEBSOCKET = ["ws", "ws-threads", "push", "chat", "bridge", "wss", "wss-threads"]
TLS = ["wss", "wss-threads", "tls"]
# socklab classroom: the WebSocket cases on its dashboard's /feed and POST /report.
CLASSROOM = ["classroom"]
ALL = list(SERVERS)

# case -> (servers it runs against, function, extra server flags (a list, or a
# dict of lists by server), one line)
CASES = {
    "upgrade-table": (WEBSOCKET + CLASSROOM, cases_http.upgrade_table, [],
                      "the malformed Upgrades: each row's status and reason"),
    "smuggling": (WEBSOCKET + CLASSROOM, cases_http.smuggling, [],
                  "framing to refuse on every HTTP head reader: 400 and close"),
    "ping-flood": (WEBSOCKET + CLASSROOM, cases_ws.ping_flood, [],
                   "Pings as fast as possible, a tiny SO_RCVBUF, never reading"),
    "big-messages": (WEBSOCKET + CLASSROOM, cases_ws.big_messages, [],
                     "4 clients x 12 MiB messages against a 16 MiB budget, never reading"),
    "big-messages-48": (WEBSOCKET, cases_ws.big_messages_48, cases_ws.MANY_FLAGS,
                        "48 clients x one 16 MiB message against a 256 MiB budget, never reading"),
    "slowloris": (WEBSOCKET + CLASSROOM, cases_ws.slowloris, [],
                  "an Upgrade trickled a byte every 0.5 s: 408 at the handshake deadline"),
    "replay": (["push"], cases_http.replay, cases_push.NO_LIMIT_FOR_SETUP,
               "a full event window, then 100 pipelined GET /poll?since=0 never read"),
    "sse-slow": (["push"], cases_http.sse_slow, cases_push.NO_LIMIT_FOR_SETUP,
                 "60 SSE clients with Last-Event-ID: 0, never reading"),
    "publish-flood": (["push"], cases_push.publish_flood, [],
                      "POSTs and WebSocket messages past the publish rate: 429, 1008"),
    "half-hello": (TLS, cases_http.half_hello,
                   ["--max-connections", str(cases_http.TLS_CAP)],
                   "TLS record headers only, held against --max-connections 50"),
    "line-flood": (["chat"], cases_line.line_flood, [],
                   "one TCP member floods lines, another never reads them"),
    "deflate": (WEBSOCKET, cases_deflate.table, ["--deflate"],
                "with --deflate: RSV1 misplaced (1002), compressed bad UTF-8 (1007), a zip bomb (1009)"),
    "never-reads": (["tcp", "tls", "chat", "classroom"], cases_line.never_reads, [],
                    "100 peers never reading: echo (tcp, tls, classroom) or the room's lines (chat)"),
    "vanish": (ALL, cases_http.vanish, [],
               "at least 4,000 connections opened and dropped (half by RST), on until a fresh client is served"),
    "vanish-students": (CLASSROOM, cases_classroom.vanish_students, [],
                        "vanish on the classroom's students' tcp port (N+1)"),
    "report-flood": (CLASSROOM, cases_classroom.report_flood, [],
                     "POST /report flooded: over the cap, malformed, ever new names"),
    "feed-never-reads": (CLASSROOM, cases_classroom.feed_never_reads, [],
                         "20 /feed dashboards never reading, 30 students echoing"),
}

# Cases run with a memory budget (MiB) other than servers.BUDGET_MIB.
BUDGETS = {"big-messages-48": cases_ws.MANY_BUDGET_MIB}

# Cases that report one line per row themselves (and count their failures).
TABLES = {"upgrade-table", "smuggling", "deflate"}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--binary", default="target/release/socklab")
    p.add_argument("--only", action="append", help="run only this case (repeatable)")
    p.add_argument("--server", action="append", help="only against this server (repeatable)")
    p.add_argument("--list", action="store_true", help="list the cases and servers")
    p.add_argument("--tmp", default=None, help="directory for stats files, pids and the log")
    a = p.parse_args()
    if a.list:
        for name, (servers, _, _, what) in CASES.items():
            print(f"case   {name:14} {what}\n       {'':14} servers: {' '.join(servers)}")
        for name, what in SERVERS.items():
            print(f"server {name:14} {what}")
        return 0
    unknown = [c for c in a.only or [] if c not in CASES]
    unknown += [s for s in a.server or [] if s not in SERVERS]
    if unknown:
        print(f"unknown case or server: {' '.join(unknown)} (see --list)", file=sys.stderr)
        return 2
    failures = 0
    tmp = a.tmp or tempfile.mkdtemp(prefix="socklab-hostile-")
    log = open(os.path.join(tmp, "servers.log"), "ab")
    for server_name in SERVERS:
        if a.server and server_name not in a.server:
            continue
        for case, (servers, run, extra, _) in CASES.items():
            if server_name not in servers or (a.only and case not in a.only):
                continue
            failures += run_case(case, server_name, run, extra, a.binary, tmp, log)
    print(f"hostile matrix: {failures} failed" if failures else "hostile matrix: all passed")
    return 1 if failures else 0


def run_case(case, server_name, run, extra, binary, tmp, log):
    """Starts a server, runs the case, prints its line(s), stops the server."""
    label = f"{case}@{server_name}"
    if isinstance(extra, dict):
        extra = extra.get(server_name, [])
    server = Server(server_name, binary, tmp, log, budget_mib=BUDGETS.get(case, BUDGET_MIB))
    try:
        server.start(extra)
    except Exception as e:
        server.stop()
        print(f"FAIL {label}: the server did not start: {e}", flush=True)
        return 1
    try:
        if case in TABLES:
            def report(row, why, expected):
                name = f"{row}@{server_name}"
                print(f"FAIL {name}: {why}" if why else f"ok   {name} ({expected})",
                      flush=True)

            failed = run(server, report)
            if not server.alive():
                print(f"FAIL {label}: the server died", flush=True)
                failed += 1
            return failed
        detail = run(server)
        if not server.alive():
            raise CaseFailed("the server died")
        print(f"ok   {label} ({detail})", flush=True)
        return 0
    except Exception as e:
        why = str(e) if isinstance(e, CaseFailed) else f"{type(e).__name__}: {e}"
        print(f"FAIL {label}: {why}{server_state(server)}", flush=True)
        return 1
    finally:
        dead = "" if server.alive() else " (the server had died)"
        server.stop()
        if dead:
            print(f"#    {label}{dead}", flush=True)


def server_state(server):
    """The server's memory and counters when a case failed, to tell why."""
    if server.killed:
        return f" [{server.killed}; idle {server.idle['vm_rss_kb'] // 1024} MiB]"
    if not server.alive():
        return " [the server died]"
    try:
        snap = server.fresh_stats()
    except Exception:
        return ""
    return (f" [server: peak RSS {snap['vm_hwm_kb'] // 1024} MiB, idle "
            f"{server.idle['vm_rss_kb'] // 1024} MiB; {counters(snap)}]")


if __name__ == "__main__":
    sys.exit(main())
