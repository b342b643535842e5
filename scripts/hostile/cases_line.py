"""cases_line.py: the line cases, on chat's TCP port and on the TLS echo.

- line-flood (chat): one TCP member sends lines as fast as the socket takes
  them while another member, with a tiny receive buffer, never reads what the
  room delivers to it. A room that queues for the silent member without bound
  grows; the right answer is to drop it (--slow-limit) and go on serving.
"""

import time

from attack import PENDING_BOUND, Attack, CaseFailed, during, memory_ok, pending_bounded, rose
from cases_ws import TINY_RCVBUF, send_some
from fresh import fresh
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
