#!/usr/bin/env python3
"""A lossy, slow wire between two network namespaces, in user space.

scripts/lossy-link.sh uses `tc netem` on a veth pair when the kernel has it. Some
kernels are built without netem (CONFIG_NET_SCH_NETEM unset, e.g. small VM kernels);
there this program plays the wire instead: it opens a TUN device in each namespace
(a TUN device hands every IP packet the kernel routes into it to the process that
opened it, and injects what that process writes as if it had arrived), and copies
packets from one to the other, dropping each with probability --loss and holding
each for --delay-ms; with --reorder, a packet picked with that probability is held
one --delay-ms longer, so packets sent just after it overtake it (from the start,
or only once the wire gets SIGUSR1 when --reorder-on-signal is given). The kernels at both ends see an ordinary IP link: TCP
retransmits what is dropped, UDP does not.

Run (as root, namespaces made by lossy-link.sh):
  wire.py --ns-a sl-cli --dev-a slc0 --ns-b sl-srv --dev-b sls0 --loss 0.1 --delay-ms 20 \
          --ready /tmp/ready --stats /tmp/stats
It creates the two devices, touches --ready, and runs until SIGTERM or SIGINT, then
writes how many packets it forwarded and dropped each way to --stats.
"""

import argparse
import ctypes
import fcntl
import heapq
import os
import random
import select
import signal
import struct
import time

# From <linux/if_tun.h>: the ioctl that attaches an fd to a (new) TUN device, and
# its flags: IFF_TUN = IP packets (no Ethernet header), IFF_NO_PI = no 4-byte
# packet-information prefix, so each read() is exactly one IP packet.
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
# From <sched.h>: setns(2)'s flag for "a network namespace".
CLONE_NEWNET = 0x40000000
# Largest packet we read: a TUN device's default MTU is 1500.
MAX_PACKET = 65536

libc = ctypes.CDLL(None, use_errno=True)


def enter_namespace(name):
    """setns(2) into the network namespace `ip netns add NAME` made."""
    fd = os.open(f"/var/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({name}): {os.strerror(err)}")
    finally:
        os.close(fd)


def open_tun(name):
    """Creates TUN device NAME in the current namespace; returns its fd."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    ifreq = struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI)
    fcntl.ioctl(fd, TUNSETIFF, ifreq)
    return fd


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ns-a", required=True)
    p.add_argument("--dev-a", required=True)
    p.add_argument("--ns-b", required=True)
    p.add_argument("--dev-b", required=True)
    p.add_argument("--loss", type=float, required=True, help="drop probability, 0..1")
    p.add_argument("--delay-ms", type=float, required=True, help="one-way delay")
    p.add_argument("--reorder", type=float, default=0.0,
                   help="probability, 0..1, that a packet is held one delay longer (reordering)")
    p.add_argument("--reorder-on-signal", action="store_true",
                   help="start reordering only when SIGUSR1 arrives")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--ready", required=True, help="file touched once both devices exist")
    p.add_argument("--stats", required=True, help="file written at exit")
    args = p.parse_args()

    rng = random.Random(args.seed)
    # Each device is made inside its own namespace: a TUN device belongs to the
    # namespace of the process that created it, and the fd keeps working after.
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    enter_namespace(args.ns_a)
    fd_a = open_tun(args.dev_a)
    enter_namespace(args.ns_b)
    fd_b = open_tun(args.dev_b)
    libc.setns(home, CLONE_NEWNET)
    os.close(home)

    peer = {fd_a: fd_b, fd_b: fd_a}
    label = {fd_a: "a->b", fd_b: "b->a"}
    stats = {k: {"forwarded": 0, "dropped": 0, "held": 0} for k in label.values()}
    pending = []  # heap of (due time, sequence, fd to write, packet)
    seq = 0
    running = True

    def stop(_sig, _frame):
        nonlocal running
        running = False

    reorder = 0.0 if args.reorder_on_signal else args.reorder

    def start_reordering(_sig, _frame):
        nonlocal reorder
        reorder = args.reorder

    signal.signal(signal.SIGUSR1, start_reordering)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with open(args.ready, "w") as f:
        f.write("ready\n")

    delay = args.delay_ms / 1000.0
    while running:
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, out_fd, packet = heapq.heappop(pending)
            try:
                os.write(out_fd, packet)
            except OSError:
                pass  # the device is down (namespace being deleted): the packet is lost
        timeout = max(0.0, pending[0][0] - now) if pending else 0.5
        try:
            readable, _, _ = select.select([fd_a, fd_b], [], [], timeout)
        except InterruptedError:
            continue
        for fd in readable:
            try:
                packet = os.read(fd, MAX_PACKET)
            except OSError:
                continue
            direction = stats[label[fd]]
            if rng.random() < args.loss:
                direction["dropped"] += 1
                continue
            direction["forwarded"] += 1
            due = time.monotonic() + delay
            if reorder and rng.random() < reorder:
                direction["held"] += 1
                due += delay  # held back: what comes next overtakes it
            seq += 1
            heapq.heappush(pending, (due, seq, peer[fd], packet))

    with open(args.stats, "w") as f:
        for name, s in stats.items():
            f.write(f"{name} forwarded={s['forwarded']} dropped={s['dropped']} held={s['held']}\n")


if __name__ == "__main__":
    main()
