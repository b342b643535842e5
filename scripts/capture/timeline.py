#!/usr/bin/env python3
"""scripts/capture/timeline.py — each end's TCP state, read from the capture itself.

Usage (run by scripts/capture.sh; `timeline.py --self-test` checks the state
machine on made-up packets, run by scripts/capture-check.sh):
  tshark -r T.pcap -T fields -E separator=/t -e frame.number -e tcp.srcport \\
      -e tcp.flags.syn -e tcp.flags.ack -e tcp.flags.fin -e tcp.flags.reset \\
      -e tcp.seq -e tcp.ack -e tcp.len |
    timeline.py --port SERVER_PORT --packets T.txt --send T-send.txt --name T

Prints T-timeline.txt: every packet line of T.txt, and after each packet that moves
an end to a new state, a line marked >> with the state of both ends. The states are
not read from the kernel at some other moment on some other clock: they follow from
the packets, by RFC 9293's state diagram (§3.3.2), so each marker sits exactly
where its packet is. On loopback a packet arrives the instant it is sent, so the
sender's change (a FIN sent: FIN_WAIT1) and the receiver's (a FIN received:
CLOSE_WAIT) happen at the packet's time.

Then, as a cross-check, what the kernel itself answered after each step of
`socklab send --states` (T-send.txt, one sock_diag lookup per end): each answer
must be a state pair the packets went through, in the same order. An answer
found nowhere is printed as "NOT in the packets" (scripts/capture-check.sh fails
on it). The names are the kernel's (as `ss` and `socklab send --states` print
them): SYN_RECV for RFC 9293's SYN-RECEIVED, FIN_WAIT1 for FIN-WAIT-1, and
CLOSED once the kernel has forgotten the socket.
"""
import argparse
import re
import sys

# The state names socklab prints (crates/lifecycle/src/state.rs, TcpState::name).
CLOSED, LISTEN, SYN_SENT, SYN_RECV = "CLOSED", "LISTEN", "SYN_SENT", "SYN_RECV"
ESTABLISHED, FIN_WAIT1, FIN_WAIT2 = "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2"
CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT = "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT"

# One `[kernel]` line of `socklab send --states`: the step, its time, both states.
KERNEL = re.compile(r"\[kernel\]\s+(.*?)\s+[0-9.]+ ms\s+client (\S+)\s+server (\S+)")


class End:
    """One end of the connection: its state, and the sequence number of its FIN."""

    def __init__(self, state):
        self.state = state
        self.fin_seq = None  # set once this end has sent its FIN

    def sends(self, syn, ack, fin, seq, length, crossed=False):
        """What sending this segment does to this end (RFC 9293 §3.3.2).

        crossed: the segment's ACK field does not cover the peer's FIN, though the
        capture shows that FIN first: this end sent its own FIN before the peer's
        reached it (a simultaneous close), so it is in CLOSING, not LAST_ACK.
        """
        if syn and not ack:
            self.state = SYN_SENT  # connect()
        if fin:
            # The FIN takes the sequence number after the segment's data.
            self.fin_seq = seq + length
            if crossed and self.state == CLOSE_WAIT:
                self.state = CLOSING
                return
            self.state = {ESTABLISHED: FIN_WAIT1, SYN_RECV: FIN_WAIT1,
                          CLOSE_WAIT: LAST_ACK}.get(self.state, self.state)

    def receives(self, syn, ack, fin, acked):
        """What receiving it does: first its ACK field, then its SYN or FIN."""
        if syn and not ack and self.state == LISTEN:
            self.state = SYN_RECV
            return
        if syn and ack and self.state == SYN_SENT:
            self.state = ESTABLISHED  # the SYN-ACK; this end's ACK follows
            return
        if ack and self.state == SYN_RECV:
            self.state = ESTABLISHED  # the handshake's last ACK
        if ack and self.fin_seq is not None and acked >= self.fin_seq + 1:
            # Our FIN is acknowledged.
            self.state = {FIN_WAIT1: FIN_WAIT2, CLOSING: TIME_WAIT,
                          LAST_ACK: CLOSED}.get(self.state, self.state)
        if fin:
            self.state = {ESTABLISHED: CLOSE_WAIT, FIN_WAIT1: CLOSING,
                          FIN_WAIT2: TIME_WAIT}.get(self.state, self.state)


def derive(rows, server_port):
    """{frame number: (client state, server state)} after each packet that changed one."""
    client, server = End(CLOSED), End(LISTEN)
    changes = {}
    for row in rows:
        number, sport, syn, ack, fin, rst, seq, acked, length = (row + [""] * 9)[:9]
        if not number or not sport:
            continue
        flag = lambda v: v in ("1", "True")  # noqa: E731 (tshark prints 1 or True)
        syn, ack, fin, rst = flag(syn), flag(ack), flag(fin), flag(rst)
        seq, acked, length = int(seq or 0), int(acked or 0), int(length or 0)
        before = (client.state, server.state)
        sender, receiver = (server, client) if int(sport) == server_port else (client, server)
        if rst:
            client.state = server.state = CLOSED
        else:
            crossed = receiver.fin_seq is not None and acked < receiver.fin_seq + 1
            sender.sends(syn, ack, fin, seq, length, crossed)
            receiver.receives(syn, ack, fin, acked)
        if (client.state, server.state) != before:
            changes[int(number)] = (client.state, server.state)
    return changes


# Made-up conversations for --self-test: (who sends, flags, seq, ack, len) per
# packet, and the states both ends must end in. Port 1 is the server's.
CASES = {
    "client closes first": ([
        ("c", "S", 0, 0, 0), ("s", "SA", 0, 1, 0), ("c", "A", 1, 1, 0),
        ("c", "FA", 1, 1, 0), ("s", "FA", 1, 2, 0), ("c", "A", 2, 2, 0),
    ], (TIME_WAIT, CLOSED)),
    "server closes first, its FIN ACKed alone first": ([
        ("c", "S", 0, 0, 0), ("s", "SA", 0, 1, 0), ("c", "A", 1, 1, 0),
        ("s", "FA", 1, 1, 0), ("c", "A", 1, 2, 0), ("c", "FA", 1, 2, 0), ("s", "A", 2, 2, 0),
    ], (CLOSED, TIME_WAIT)),
    "both FINs cross (simultaneous close: CLOSING)": ([
        ("c", "S", 0, 0, 0), ("s", "SA", 0, 1, 0), ("c", "A", 1, 1, 0),
        ("c", "FA", 1, 1, 0), ("s", "FA", 1, 1, 0), ("c", "A", 2, 2, 0), ("s", "A", 2, 2, 0),
    ], (TIME_WAIT, TIME_WAIT)),
    "a reset ends both": ([
        ("c", "S", 0, 0, 0), ("s", "SA", 0, 1, 0), ("c", "A", 1, 1, 0), ("s", "R", 1, 0, 0),
    ], (CLOSED, CLOSED)),
}


def self_test():
    """Each made-up conversation ends in the states RFC 9293 says; exit 1 if not."""
    failed = 0
    for name, (packets, want) in CASES.items():
        rows = [[str(i + 1), "1" if who == "s" else "2", str(int("S" in f)), str(int("A" in f)),
                 str(int("F" in f)), str(int("R" in f)), str(seq), str(ack), str(n)]
                for i, (who, f, seq, ack, n) in enumerate(packets)]
        changes = derive(rows, 1)
        got = changes[max(changes)]
        print(("ok   " if got == want else "FAIL ") + f"timeline states: {name}: {got}")
        failed += got != want
    return 1 if failed else 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, required=True, help="the server's port")
    p.add_argument("--packets", required=True, help="T.txt from capture.sh")
    p.add_argument("--send", required=True, help="what `socklab send --states` printed")
    p.add_argument("--name", required=True, help="tcp or ws")
    a = p.parse_args()

    rows = [line.rstrip("\n").split("\t") for line in sys.stdin]
    changes = derive(rows, a.port)
    with open(a.packets) as f:
        lines = f.read().splitlines()
    header = [l for l in lines if l.lstrip().startswith("#")]
    packets = [l for l in lines if l.strip() and not l.lstrip().startswith("#")]

    print(f"# {a.name}: packets (from {a.name}.txt) and, marked >>, the TCP state of both")
    print("# ends as the packets make it (RFC 9293's state diagram, §3.3.2: on loopback a")
    print("# packet arrives as it leaves, so sender and receiver change at its time)")
    print(header[-1])  # the column names
    path = []  # (frame number, client, server), in order
    for line in packets:
        print(line)
        number, at = int(line.split()[0]), line.split()[1]
        if number in changes:
            c, s = changes[number]
            path.append((number, c, s))
            print(f"    {at:>9}  >> client {c:<11}  server {s}")

    print("# the kernel's own answer after each step of socklab send --states (sock_diag),")
    print("# and where the states above (from the packets) say the same")
    i = 0
    with open(a.send) as f:
        for line in f:
            m = KERNEL.search(line)
            if not m:
                continue
            step, c, s = m.groups()
            j = next((k for k in range(i, len(path)) if path[k][1:] == (c, s)), None)
            where = "NOT in the packets" if j is None else f"= the packets' states from packet {path[j][0]} on"
            print(f"#   after {step}: client {c} server {s} {where}")
            i = i if j is None else j


if __name__ == "__main__":
    main()
