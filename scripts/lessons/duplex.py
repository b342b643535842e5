#!/usr/bin/env python3
"""scripts/lessons/duplex.py — both ends of one TCP connection writing at once (lesson 23).

Usage: duplex.py PORT [LINES]    (run by scripts/gen-lesson-docs.sh under tcpdump)

A server and a client, in one process, on 127.0.0.1:PORT. Once connected, each end
writes LINES lines ("client 1", "server 1", …) one every PACE seconds, without
reading and without waiting for the other, while its own reader thread takes in
whatever the other end sends. Nothing is request and response: the two byte
streams of the connection run side by side. Then each end half-closes
(shutdown(SHUT_WR): "I have no more to say"), reads the other's stream to its
end, and closes.

Prints what each end received before it had finished writing (the proof that its
direction and the other's were both in use at once) and exits 1 unless each end
received exactly the other's lines, in order.
"""
import socket
import sys
import threading
import time

# Time between two lines from one end (s): the ends' lines then alternate on the
# wire, and the capture's timeline shows it. It paces the demo; nothing waits on it.
PACE = 0.02
# Bound on every blocking call (s): a demo that hangs is a bug, not a result.
TIMEOUT = 10
NEWLINE = b"\n"


def lines(name, count):
    """One end's lines, so the other can check them byte for byte."""
    return [f"{name} {i}\n".encode() for i in range(1, count + 1)]


def end(sock, name, count, start, report):
    """One end: a reader thread takes in the other's stream while this thread writes."""
    got = bytearray()
    arrivals = []  # how many bytes had arrived when each of our writes was done

    def read():
        while True:
            chunk = sock.recv(4096)
            if not chunk:  # 0 bytes: the other end's FIN, its direction is over
                return
            got.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    start.wait(TIMEOUT)  # both ends start writing together
    for line in lines(name, count):
        sock.sendall(line)
        arrivals.append(len(got))
        time.sleep(PACE)
    sock.shutdown(socket.SHUT_WR)  # our FIN: our direction is over, theirs is not
    reader.join(TIMEOUT)
    sock.close()
    report[name] = (bytes(got), arrivals)


def main():
    port = int(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    listener = socket.create_server(("127.0.0.1", port))
    listener.settimeout(TIMEOUT)
    client = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    server, _ = listener.accept()
    listener.close()
    for s in (client, server):
        s.settimeout(TIMEOUT)
        # One segment per line: Nagle's algorithm would otherwise hold a small
        # write back while an earlier one is unacknowledged, and merge them.
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    start = threading.Barrier(2)
    report = {}
    ends = [
        threading.Thread(target=end, args=(client, "client", count, start, report)),
        threading.Thread(target=end, args=(server, "server", count, start, report)),
    ]
    for t in ends:
        t.start()
    for t in ends:
        t.join(TIMEOUT * 2)
    ok = True
    for name, other in (("client", "server"), ("server", "client")):
        got, arrivals = report.get(name, (b"", []))
        want = b"".join(lines(other, count))
        before_last = got[: arrivals[-1]].count(b"\n") if arrivals else 0
        verdict = f"exactly the {other}'s, in order" if got == want else f"NOT what the {other} wrote"
        print(f"{name}: wrote {count} lines without reading; {before_last} of the {other}'s "
              f"lines had already arrived when it wrote its last")
        print(f"{name}: received {got.count(NEWLINE)} lines, {verdict}")
        ok = ok and got == want
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
