#!/usr/bin/env python3
"""Send COUNT numbered messages to an echo server, one at a time, and time each echo.

Used by scripts/lossy-link.sh inside the client namespace:
  client.py udp 10.77.0.1 7007 100 0.5
  client.py tcp 10.77.0.1 7007 100 10
  client.py udp-burst 10.77.0.1 7007 100 1
  client.py udp 127.0.0.1 7007 100 0.5 3    (an optional 6th argument: decimals of
                                             the times in ms; 1 unless given)

udp: each message is one datagram; if its echo has not come back within TIMEOUT
seconds the message counts as lost (nothing in UDP will send it again). An echo
that arrives after its deadline is counted as late and otherwise ignored.
tcp: one connection; each message is written, then exactly its bytes are read
back. A lost segment is the kernel's business: it retransmits, and the only trace
left to this program is the time the echo took. TIMEOUT bounds each message.

udp-burst: all COUNT datagrams sent back to back, then echoes collected until
none has come for TIMEOUT seconds; an echo whose number is below one already
received arrived out of order (the link let a later packet overtake it).

Prints key=value lines: sent, received, lost, late, connect_ms, rtt_p50_ms,
rtt_p90_ms, rtt_p99_ms, rtt_max_ms, total_s, in_order (tcp: every echo matched);
udp-burst: sent, received, lost, out_of_order, total_s.
"""

import socket
import sys
import time


def percentile(sorted_values, q):
    """The q-th percentile (nearest rank) of already sorted values; 0 if empty."""
    if not sorted_values:
        return 0.0
    rank = max(1, round(q / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def message(i):
    """Message i: fixed length, so an echo can be checked byte for byte."""
    return f"message {i:03d}\n".encode()


def run_udp(host, port, count, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((host, port))  # connect(2) on UDP: only fixes the peer, sends nothing
    rtts, lost, late = [], 0, 0
    for i in range(count):
        sent_at = time.monotonic()
        s.send(message(i))
        deadline = sent_at + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                lost += 1
                break
            s.settimeout(left)
            try:
                reply = s.recv(2048)
            except socket.timeout:
                lost += 1
                break
            if reply == message(i):
                rtts.append((time.monotonic() - sent_at) * 1000)
                break
            late += 1  # the echo of an earlier message, after its deadline
    s.close()
    return rtts, lost, late, 0.0, True


def run_tcp(host, port, count, timeout):
    started = time.monotonic()
    s = socket.create_connection((host, port), timeout=timeout)
    connect_ms = (time.monotonic() - started) * 1000
    rtts, in_order = [], True
    for i in range(count):
        want = message(i)
        sent_at = time.monotonic()
        s.sendall(want)
        got = b""
        while len(got) < len(want):
            chunk = s.recv(len(want) - len(got))
            if not chunk:
                raise ConnectionError("server closed the connection early")
            got += chunk
        rtts.append((time.monotonic() - sent_at) * 1000)
        in_order = in_order and got == want
    s.shutdown(socket.SHUT_WR)  # shutdown(2): our FIN; the server answers with its own
    s.recv(1)
    s.close()
    return rtts, 0, 0, connect_ms, in_order


def run_udp_burst(host, port, count, timeout):
    """All datagrams at once, then count the echoes and the ones that came out of order."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((host, port))
    for i in range(count):
        s.send(message(i))
    s.settimeout(timeout)
    seen, out_of_order, highest = set(), 0, -1
    while len(seen) < count:  # bounded: each wait ends after TIMEOUT of silence
        try:
            reply = s.recv(2048)
        except socket.timeout:
            break
        try:
            i = int(reply.split()[1])
        except (IndexError, ValueError):
            continue
        if i in seen:
            continue
        seen.add(i)
        if i < highest:
            out_of_order += 1
        highest = max(highest, i)
    s.close()
    return len(seen), out_of_order


def main():
    proto, host, port, count, timeout = sys.argv[1:6]
    port, count, timeout = int(port), int(count), float(timeout)
    # Loopback's round trips are tens of microseconds: 0.1 ms would print them as 0.
    dec = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    started = time.monotonic()
    if proto == "udp-burst":
        received, out_of_order = run_udp_burst(host, port, count, timeout)
        print(f"sent={count}")
        print(f"received={received}")
        print(f"lost={count - received}")
        print(f"out_of_order={out_of_order}")
        print(f"total_s={time.monotonic() - started:.2f}")
        return
    run = run_udp if proto == "udp" else run_tcp
    rtts, lost, late, connect_ms, in_order = run(host, port, count, timeout)
    rtts.sort()
    print(f"sent={count}")
    print(f"received={len(rtts)}")
    print(f"lost={lost}")
    print(f"late={late}")
    print(f"connect_ms={connect_ms:.{dec}f}")
    for q in (50, 90, 99):
        print(f"rtt_p{q}_ms={percentile(rtts, q):.{dec}f}")
    print(f"rtt_max_ms={(rtts[-1] if rtts else 0):.{dec}f}")
    print(f"total_s={time.monotonic() - started:.2f}")
    print(f"in_order={'yes' if in_order else 'no'}")


if __name__ == "__main__":
    main()
