"""cases_line.py: the byte-stream cases, on chat's TCP port, the tcp and TLS
echo and the classroom's students' tcp port.

- line-flood (chat): one TCP member sends lines as fast as the socket takes
  them while another member, with a tiny receive buffer, never reads what the
  room delivers to it. A room that queues for the silent member without bound
  grows; the right answer is to drop it (--slow-limit) and go on serving.
- never-reads (tcp, tls, chat, classroom): 100 peers with tiny receive buffers
  that never read. On the echo ports they write as fast as the server takes
  it, so the echo queued for them grows; on chat they sit silent while two
  members talk, so the room's lines queue for them. Whatever each one's own
  cap, together they must stay inside --memory-budget: peak RSS within idle +
  budget (+ slack), and a fresh client served meanwhile.
"""

import time

from attack import (PENDING_BOUND, Attack, CaseFailed, budget_counted, during, memory_ok,
                    pending_bounded, rose)
from cases_ws import TINY_RCVBUF, send_some
from fresh import fresh, line_echo
from wire import Deadline, connect

# Lines in one send(): 100-byte lines, 64 KiB at a time.
LINE = b"x" * 99 + b"\n"
LINES_PER_BLOB = 655
FLOOD_SECONDS = 20
# Lines sent after the fresh client: 4 MB for a member that never reads.
LINES_AFTER = 40_000


def line_flood(server):
    blob = LINE * LINES_PER_BLOB

    def silent(attack, _):
        """The member that never reads. (Whether the room dropped it cannot be
        seen from here: its FIN waits behind the bytes we never read. The
        server's peak_pending says how much it queued for it.)"""
        s = connect(server, port=server.tcp_port, rcvbuf=TINY_RCVBUF, timeout=5, tls=False)
        attack.add()
        while attack.running():
            time.sleep(0.05)
        s.close()

    def talker(attack, _):
        while attack.running():
            s = connect(server, port=server.tcp_port, timeout=5, tls=False)
            offset = 0
            while attack.running():
                new = send_some(s, blob, offset)
                if new is None:
                    break
                attack.add((new - offset) // len(LINE))
                offset = new if new < len(blob) else 0
            s.close()

    def worker(attack, index):
        (silent if index == 0 else talker)(attack, index)

    attack = Attack("line-flood", 2, worker, FLOOD_SECONDS)
    try:
        detail = during(server, attack, fresh, warm=LINES_PER_BLOB)
        # Enough lines for the silent member that its queue must pass the
        # room's slow limit (256 KiB) and the kernel's buffers several times.
        attack.wait_count(attack.count + LINES_AFTER, FLOOD_SECONDS)
    finally:
        attack.stop()
    snap = server.fresh_stats()
    if snap["peak_pending"] > PENDING_BOUND:
        raise CaseFailed(f"peak_pending {snap['peak_pending']} > {PENDING_BOUND}: the room "
                         f"queued without bound for a member that never reads")
    return "; ".join([detail, memory_ok(server, snap), pending_bounded(snap),
                      rose(server, snap, "delivered"), f"{attack.count} lines"])


# never-reads: connections per attacking thread, threads, and how long.
NEVER_PER_THREAD = 10
NEVER_THREADS = 10
NEVER_SECONDS = 15


def never_reads(server):
    chat = server.name == "chat"
    port = server.tcp_port if server.name in ("chat", "classroom") else server.port
    blob = LINE * LINES_PER_BLOB

    def worker(attack, index):
        # On chat, threads 0 and 1 each talk on one connection; every other
        # connection, there and on the echo ports, never reads.
        talking = not chat or index < 2
        count = 1 if chat and talking else NEVER_PER_THREAD
        rcvbuf = None if chat and talking else TINY_RCVBUF
        socks = [[connect(server, port=port, rcvbuf=rcvbuf, timeout=5, tls=server.tls), 0]
                 for _ in range(count)]
        # The counter counts rounds: the attackers are still there, whether the
        # server still takes their bytes or (budget spent) has stopped reading.
        while attack.running() and socks:
            attack.add()
            if not talking:
                time.sleep(0.05)
                continue
            for entry in list(socks):
                new = send_some(entry[0], blob, entry[1])
                if new is None:
                    attack.note("closed by the server")
                    socks.remove(entry)
                    continue
                entry[1] = new if new < len(blob) else 0
        for s, _ in socks:
            s.close()

    def check(server, deadline):
        if chat or server.name == "classroom":
            return fresh(server, deadline)
        return line_echo(server, deadline, port=port)

    attack = Attack("never-reads", NEVER_THREADS, worker, NEVER_SECONDS)
    try:
        detail = during(server, attack, check, warm=NEVER_THREADS * 5)
        attack.finish(NEVER_SECONDS + 5)
    finally:
        attack.stop()
    snap = server.fresh_stats()
    return "; ".join([detail, memory_ok(server, snap), budget_counted(snap),
                      f"{attack.count} rounds", f"errors {attack.errors[:1]}"
                      if attack.errors else "no attacker errors"])

