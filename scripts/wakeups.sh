#!/usr/bin/env bash
# scripts/wakeups.sh — where a message's CPU goes: the event loop against a thread
# per connection, counted per message echoed (docs/event-loop.md's lesson).
#
# Usage: scripts/wakeups.sh [--secs S] [--rounds R] [--conns N] [--pin] [--strace] [--before BIN]
#   --secs S    seconds of strict 64-byte ping-pong per run (default 2, at most 30)
#   --rounds R  rounds; every row runs once per round, interleaved, and the
#               table shows the median of the rounds (default 3, at most 9)
#   --conns N   ping-pong connections (default 8, at most 64)
#   --pin       also run every server and its load on one vCPU (taskset -c 0):
#               no wake-up can then cross to the other vCPU
#   --strace    add one short run per row under `strace -c -f` and count the
#               setsockopt(2) and epoll_wait(2) calls per message (strace slows
#               the server down: those runs are not in the other columns)
#   --before BIN  also serve every threads and event-loop row (not --loops 1)
#               with BIN, an older socklab, as "before: …" rows in the same
#               interleaved rounds (and under strace): a before/after table in
#               one run (scripts/before-after.sh builds BIN from a commit). The
#               load is always this socklab's `bench`.
#
# Rows: `socklab serve tcp` and `serve ws`, each with --model threads, with the
# event loop (--loops per core) and with --loops 1. Load: `socklab bench`, loopback
# only. Per message echoed, sampled over the middle half of each run, from /proc:
#   srv µs   the server's CPU (utime+stime of /proc/PID/stat)
#   cli µs   the load's CPU (the bench process's /proc/PID/stat)
#   vol/nvol the server's voluntary / involuntary context switches
#            (/proc/PID/task/*/status): a voluntary one is a thread going to sleep
#            because it has nothing to do, the wake-up that follows is what costs
#   RES      rescheduling interrupts, all vCPUs (/proc/interrupts): one is an
#            inter-processor interrupt, a wake-up sent to a sleeping vCPU (on a
#            KVM guest, a VM exit too)
#   msgs/s   for scale only: the machine is shared, compare ratios within one run
#
# Writes the table to stdout (markdown); scripts/gen-docs.sh-style use:
#   scripts/wakeups.sh > docs/generated/event-loop-wakeups.txt
# on a quiet machine. Every server started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

secs=2 rounds=3 conns=8 pin=0 trace=0 before=""
while [ $# -gt 0 ]; do
  case "$1" in
    --secs) secs=${2:?}; shift 2 ;;
    --rounds) rounds=${2:?}; shift 2 ;;
    --conns) conns=${2:?}; shift 2 ;;
    --pin) pin=1; shift ;;
    --strace) trace=1; shift ;;
    --before) before=${2:?}; shift 2 ;;
    -h|--help) usage "$0"; exit 0 ;;
    *) unknown_arg "$0" "$1" ;;
  esac
done
# Bounded in time and count, whatever is asked.
for v in "$secs" "$rounds" "$conns"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "wakeups.sh: '$v' is not a positive whole number" >&2; exit 2; }
done
[ "$secs" -le 30 ] && [ "$rounds" -le 9 ] && [ "$conns" -le 64 ] ||
  { echo "wakeups.sh: at most --secs 30, --rounds 9, --conns 64" >&2; exit 2; }
if [ "$trace" = 1 ] && ! command -v strace >/dev/null; then
  echo "wakeups.sh: --strace needs strace (apt-get install strace)" >&2
  exit 1
fi

if [ -n "$before" ] && [ ! -x "$before" ]; then
  echo "wakeups.sh: --before $before: not an executable (scripts/before-after.sh builds one)" >&2
  exit 2
fi

bin=${SOCKLAB_BIN:-$(socklab_bin)}
exec python3 - "$bin" "$secs" "$rounds" "$conns" "$pin" "$trace" "$before" <<'PY'
import glob, json, os, signal, socket, statistics, subprocess, sys, time

bin, before = sys.argv[1], sys.argv[7]
secs, rounds, conns, pin, trace = map(int, sys.argv[2:7])
TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")
ROWS = [  # (name, serve kind, scheme, extra flags, the socklab that serves)
    ("tcp threads", "tcp", "tcp", ["--model", "threads"], bin),
    ("tcp event loop", "tcp", "tcp", [], bin),
    ("tcp event loop, --loops 1", "tcp", "tcp", ["--loops", "1"], bin),
    ("ws threads", "ws", "ws", ["--model", "threads"], bin),
    ("ws event loop", "ws", "ws", [], bin),
    ("ws event loop, --loops 1", "ws", "ws", ["--loops", "1"], bin),
]
if before:
    # Each before row next to its after row, in every round.
    ROWS = [row for r in ROWS
            for row in ([r, ("before: " + r[0], *r[1:4], before)] if "--loops" not in r[0] else [r])]
PINS = [False, True] if pin else [False]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_listening(port):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"wakeups.sh: nothing listens on port {port} after 10 s")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14, 15)


def switches(pid):
    vol = nvol = 0
    for status in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            for line in open(status):
                if line.startswith("voluntary_ctxt_switches"):
                    vol += int(line.split()[1])
                elif line.startswith("nonvoluntary_ctxt_switches"):
                    nvol += int(line.split()[1])
        except OSError:
            pass  # a thread that ended meanwhile
    return vol, nvol


def res_interrupts():
    for line in open("/proc/interrupts"):
        if line.strip().startswith("RES:"):
            return sum(int(x) for x in line.split()[1:] if x.isdigit())
    return 0


def serve(server_bin, kind, flags, port, pinned):
    cmd = [server_bin, "serve", kind, "--addr", f"127.0.0.1:{port}", *flags]
    if pinned:
        cmd = ["taskset", "-c", "0", *cmd]
    env = dict(os.environ, RUST_LOG="warn")
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port)
    return p


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def bench(url, pinned):
    cmd = [bin, "bench", url, "--conns", str(conns), "--secs", str(secs), "--json"]
    if pinned:
        cmd = ["taskset", "-c", "0", *cmd]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def sample(server, client):
    """Counters of both processes and the machine, now. Sampled inside the run
    (not after it), while the threads model's connection threads still live:
    a thread that has ended takes its context-switch counts with it."""
    return time.monotonic(), cpu_ticks(server), cpu_ticks(client), switches(server), res_interrupts()


def one_run(name, kind, scheme, flags, server_bin, pinned):
    port = free_port()
    url = f"{scheme}://127.0.0.1:{port}" + ("/" if scheme == "ws" else "")
    p = serve(server_bin, kind, flags, port, pinned)
    try:
        load = bench(url, pinned)
        # The middle half of the run: connecting and closing stay out of it.
        time.sleep(secs / 4)
        t0, s0, c0, sw0, res0 = sample(p.pid, load.pid)
        time.sleep(secs / 2)
        t1, s1, c1, sw1, res1 = sample(p.pid, load.pid)
        out, _ = load.communicate(timeout=secs + 60)
    finally:
        stop(p)
    line = json.loads(out.strip().splitlines()[-1])
    msgs = max(line["msgs_per_sec"] * (t1 - t0), 1)
    return {
        "msgs_s": line["msgs_per_sec"],
        "srv": (s1 - s0) * TICK_US / msgs,
        "cli": (c1 - c0) * TICK_US / msgs,
        "vol": (sw1[0] - sw0[0]) / msgs,
        "nvol": (sw1[1] - sw0[1]) / msgs,
        "res": (res1 - res0) / msgs,
        "errors": line["errors"],
    }


def traced(name, kind, scheme, flags, server_bin):
    """One short run under strace -c -f: system calls per message."""
    port = free_port()
    url = f"{scheme}://127.0.0.1:{port}" + ("/" if scheme == "ws" else "")
    p = serve(server_bin, kind, flags, port, False)
    summary = f"/tmp/wakeups-strace-{os.getpid()}.txt"
    try:
        st = subprocess.Popen(["strace", "-c", "-f", "-o", summary, "-p", str(p.pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # strace attaching (a script's wait, not a test's)
        out, _ = bench(url, False).communicate(timeout=secs + 60)
        line = json.loads(out.strip().splitlines()[-1])
        st.send_signal(signal.SIGINT)
        st.wait(timeout=10)
    finally:
        stop(p)
    calls = {}
    with open(summary) as f:
        for row in f:
            parts = row.split()
            if len(parts) >= 5 and parts[-1].isidentifier() and parts[3].isdigit():
                calls[parts[-1]] = int(parts[3])
    os.unlink(summary)
    msgs = max(line["messages"], 1)
    return {c: calls.get(c, 0) / msgs for c in ("setsockopt", "epoll_wait", "recvfrom", "sendto", "read", "write", "futex")}


results = {}
for r in range(rounds):
    for pinned in PINS:
        for name, kind, scheme, flags, server_bin in ROWS:
            results.setdefault((name, pinned), []).append(
                one_run(name, kind, scheme, flags, server_bin, pinned))

med = lambda runs, k: statistics.median(x[k] for x in runs)
for runs in results.values():
    for x in runs:
        x["total"] = x["srv"] + x["cli"]


def spread(runs, k, fmt):
    """The median, and the rounds' lowest and highest in brackets: two rows
    whose brackets overlap are not told apart by this run."""
    values = [x[k] for x in runs]
    lo, hi = min(values), max(values)
    return f"{format(statistics.median(values), fmt)} [{format(lo, fmt)}–{format(hi, fmt)}]"


print(f"Strict 64-byte ping-pong, {conns} connections, {secs} s per run, median of {rounds} "
      f"interleaved rounds [lowest–highest round]; per message echoed ({os.cpu_count()} vCPUs).")
print()
print("| server | pinned | msgs/s | srv µs | cli µs | total µs | vol | nvol | RES | errors |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for (name, pinned), runs in results.items():
    print(f"| {name} | {'cpu 0' if pinned else 'no'} | {med(runs, 'msgs_s'):,.0f} "
          f"| {spread(runs, 'srv', '.2f')} | {med(runs, 'cli'):.2f} | {spread(runs, 'total', '.2f')} "
          f"| {med(runs, 'vol'):.3f} | {med(runs, 'nvol'):.3f} | {med(runs, 'res'):.3f} "
          f"| {sum(x['errors'] for x in runs)} |")
if trace:
    print()
    print("System calls per message, one run each under `strace -c -f` (slowed by strace):")
    print()
    names = ("setsockopt", "epoll_wait", "recvfrom", "sendto", "read", "write", "futex")
    print("| server | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for name, kind, scheme, flags, server_bin in ROWS:
        per = traced(name, kind, scheme, flags, server_bin)
        print(f"| {name} | " + " | ".join(f"{per[c]:.3f}" for c in names) + " |")
PY
