"""servers.py: every server the matrix attacks, each in its own process.

A server is started from target/release/socklab on 127.0.0.1 with a free port,
a small memory budget, short stall and TLS-handshake deadlines, and
`--stats-file` in a temporary directory; the matrix reads its counters and its
RSS (VmRSS, VmHWM) from that file, never from a log. Every process started is
killed at the end of its case (and by the shell's trap if Python dies).
"""

import json
import os
import random
import signal
import socket
import subprocess
import threading
import time

from wire import Deadline

# The memory budget every server gets (MiB): small, so "stays under it" means something.
BUDGET_MIB = 16
# The slack on top of idle RSS + budget the peak may take (MiB): code, stacks, TLS.
SLACK_MIB = 16
# Seconds a queue may make no progress before the server closes it.
WRITE_STALL = 2
# Seconds a TLS client has to finish its handshake (wss, tls).
TLS_HANDSHAKE = 2
# How long a server has to start listening and write its first stats.
START_TIMEOUT = 20
# Past the memory rule by this much (MiB), the watchdog kills the server: the
# case has failed already, and this machine is shared (an unbounded server
# reaches gigabytes in seconds).
WATCHDOG_MARGIN_MIB = 64


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# name -> (what it is, which protocol cases apply)
SERVERS = {
    "ws": "ws echo, event loop",
    "ws-threads": "ws echo, a thread per connection",
    "push": "push (HTTP push techniques + WebSocket)",
    "chat": "chat room (WebSocket port; line cases on its TCP port)",
    "bridge": "bridge ws -> tcp, to a tcp echo it starts",
    "wss": "ws echo over TLS, event loop",
    "wss-threads": "ws echo over TLS, a thread per connection",
    "tcp": "tcp echo, event loop (byte-stream cases only)",
    "tls": "tcp echo over TLS, event loop (TLS cases only)",
    "classroom": "socklab classroom: its dashboard port (/feed, POST /report), students' tcp on N+1",
}

# socklab classroom's ports: the dashboard on N, the servers on N+1 to N+5.
CLASSROOM_PORTS = 6


# Where classroom blocks are looked for: below Linux's ephemeral range
# (32768-60999), which the vanish cases leave full of TIME_WAIT client ports.
BLOCK_RANGE = (10000, 32000)


def free_block(n):
    """A first port N with N to N+n-1 free for TCP and UDP (classroom's layout).
    TCP is probed with SO_REUSEADDR, as the server binds (Rust's std sets it):
    a port whose old connections sit in TIME_WAIT can still listen."""
    for _ in range(1000):
        first = random.randrange(*BLOCK_RANGE)
        socks = []
        try:
            for port in range(first, first + n):
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    s = socket.socket(socket.AF_INET, kind)
                    socks.append(s)
                    if kind == socket.SOCK_STREAM:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise OSError(f"no {n} free ports in a row")


class Server:
    """One server process (and, for the bridge, its TCP echo target)."""

    def __init__(self, name, binary, tmp, log, budget_mib=BUDGET_MIB):
        self.name, self.binary, self.tmp, self.log = name, binary, tmp, log
        self.budget_mib = budget_mib
        self.port = free_block(CLASSROOM_PORTS) if name == "classroom" else free_port()
        # chat's line port, the bridge's target, the classroom's students' tcp
        self.tcp_port = self.port + 1 if name == "classroom" else None
        self.dashboard_port = self.port  # the classroom's, where its fresh client goes
        # Where the WebSocket cases open theirs: the classroom's is its feed.
        self.ws_path = "/feed" if name == "classroom" else "/"
        self.tls = name.startswith("wss") or name == "tls"
        self.procs = []
        self.stats_path = os.path.join(tmp, f"{name}-{self.port}.json")
        self.idle = None
        self.killed = None  # why the watchdog killed it, if it did
        self.watching = threading.Event()

    def origin_header(self):
        return ""

    def command(self):
        addr = f"127.0.0.1:{self.port}"
        limits = ["--memory-budget", str(self.budget_mib), "--write-stall-timeout", str(WRITE_STALL),
                  "--stats-file", self.stats_path]
        n = self.name
        if n in ("ws", "ws-threads"):
            model = ["--model", "threads"] if n == "ws-threads" else []
            return ["serve", "ws", "--addr", addr] + model + limits
        if n in ("wss", "wss-threads"):
            model = ["--model", "threads"] if n == "wss-threads" else []
            cert = os.path.join(self.tmp, f"{n}-{self.port}.pem")
            return (["serve", "wss", "--addr", addr, "--cert-out", cert,
                     "--tls-handshake-timeout", str(TLS_HANDSHAKE)] + model + limits)
        if n == "tcp":
            return ["serve", "tcp", "--addr", addr] + limits
        if n == "tls":
            cert = os.path.join(self.tmp, f"{n}-{self.port}.pem")
            return (["serve", "tls", "--addr", addr, "--cert-out", cert,
                     "--tls-handshake-timeout", str(TLS_HANDSHAKE)] + limits)
        if n == "push":
            return ["serve", "push", "--addr", addr, "--rate", "0"] + limits
        if n == "chat":
            self.tcp_port = free_port()
            return (["serve", "chat", "--ws-addr", addr, "--tcp-addr",
                     f"127.0.0.1:{self.tcp_port}"] + limits)
        if n == "bridge":
            return (["bridge", "--listen", f"ws://{addr}/", "--to",
                     f"tcp://127.0.0.1:{self.tcp_port}"] + limits)
        if n == "classroom":
            return ["classroom", "--addr", "127.0.0.1", "--port", str(self.port)] + limits
        raise ValueError(f"no server {n}")

    def start(self, extra=()):
        if self.name == "bridge":
            self.tcp_port = free_port()
            self.spawn(["serve", "tcp", "--addr", f"127.0.0.1:{self.tcp_port}"])
            wait_listening(self.tcp_port, Deadline(START_TIMEOUT))
        self.spawn(self.command() + list(extra))
        deadline = Deadline(START_TIMEOUT)
        wait_listening(self.port, deadline)
        # The idle baseline: a snapshot written after the port listens.
        first = self.stats(deadline)
        self.idle = self.stats(deadline, after=first["seq"])
        threading.Thread(target=self.watchdog, daemon=True).start()
        return self

    def watchdog(self):
        """Kills the server once its RSS passes the memory rule by the margin."""
        self.watching.set()
        while self.watching.is_set() and self.alive():
            try:
                with open(self.stats_path) as f:
                    rss = json.load(f)["vm_rss_kb"]
            except (OSError, ValueError, KeyError):
                rss = 0
            limit = self.idle["vm_rss_kb"] + (self.budget_mib + SLACK_MIB + WATCHDOG_MARGIN_MIB) * 1024
            if rss > limit:
                self.killed = f"killed by the matrix's watchdog at RSS {rss // 1024} MiB"
                self.stop()
                return
            time.sleep(0.05)

    def spawn(self, args):
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
        proc = subprocess.Popen([self.binary] + args, stdout=self.log, stderr=self.log,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        self.procs.append(proc)
        # For scripts/hostile.sh's trap: it kills these (and only these) if we die.
        with open(os.path.join(self.tmp, "pids"), "a") as f:
            f.write(f"{proc.pid}\n")

    def reset_peak(self):
        """Starts the peak RSS (VmHWM) afresh after a case's setup: writing 5 to
        /proc/PID/clear_refs resets it (proc(5)); the idle baseline is then what
        the server holds now. Used where the setup rightfully fills the server
        (push's event window) before the attack."""
        with open(f"/proc/{self.procs[-1].pid}/clear_refs", "w") as f:
            f.write("5")
        self.idle = self.fresh_stats()

    def alive(self):
        return all(p.poll() is None for p in self.procs)

    def stats(self, deadline=None, after=-1):
        """The newest snapshot (one written after seq `after`, waiting for it)."""
        deadline = deadline or Deadline(5)
        while True:
            try:
                with open(self.stats_path) as f:
                    snap = json.load(f)
                if snap["seq"] > after:
                    return snap
            except (OSError, ValueError):
                pass
            if deadline.passed():
                raise TimeoutError(f"{self.name}: no stats in {self.stats_path}")
            time.sleep(0.05)

    def fresh_stats(self):
        """A snapshot written after this call (so it includes what just happened)."""
        return self.stats(Deadline(5), after=self.stats()["seq"])

    def stop(self):
        self.watching.clear()
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


def wait_listening(port, deadline):
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if deadline.passed():
                raise TimeoutError(f"nothing listens on {port}")
            time.sleep(0.05)
