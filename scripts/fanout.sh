#!/usr/bin/env bash
# scripts/fanout.sh — one room, N members: fan-out latency to the LAST member,
# event loop against thread per member, and the Redis relay against one process.
#
# Usage: scripts/fanout.sh [--secs S] [--runs R] [--idle N] [--rate L] [--out FILE] [--smoke]
#   --secs S   seconds of sending per run (default 2)
#   --runs R   runs per cell, each on a fresh server; the table shows the median (default 5)
#   --idle N   the largest room (default 10000); the rows are 1, N/100, N/10 and N members
#   --rate L   lines per second from the sender (default 50)
#   --out FILE where the markdown goes (default target/fanout.md)
#   --smoke    a smoke run (scripts/bench.sh --smoke): the slow-rate row runs S
#              seconds too (no p99 then), the saturation search takes 3 steps
#
# 1. Fan-out: for each model (`socklab serve chat --model event-loop`, then
#    `--model threads`, the baseline: a thread per member and one locked list)
#    and each N: a fresh server in its own process (RUST_LOG=warn, --no-joins),
#    then `socklab bench --fanout N` (another process: N TCP members on one mio
#    thread, one sender at L lines/s) times each line from the sender's write to
#    the last member's read; the server's peak RSS (VmHWM) is read from /proc.
#    Plus, for each model, N members at a slow 5 lines/s, run long enough for
#    MIN_SAMPLES_FOR_P99 lines (22 s) so the row has a p99 to the last member.
#    A run past what the machine carries (a member dropped as slow, under 90 %
#    of the deliveries asked, or a first member waiting over 100 ms: `socklab
#    bench --fanout` says which) is a queue: its latencies say "saturated".
# 1b. Saturation: for each model, N members and a rate that doubles from 5
#    lines/s, a fresh server and one run per step, until a run is saturated;
#    then halving the gap between the last rate carried and the first not, at
#    most 10 steps in all (3 with --smoke): the highest delivery rate this
#    machine carries, as its own row.
# 2. Relay: our own redis-server on a free port (no persistence), two
#    `socklab serve chat --relay` processes A and B, N/100 members (at least 10) on
#    B; the sender on B (one process) and then on A (through Redis), R runs each.
# Nothing is asserted: bench.sh appends this file's tables to its own, and
# gen-docs.sh runs it at a smaller N for docs/generated/chat-fanout.md.
#
# Every N is one fd in the server and one in the client (separate processes):
# the soft fd limit is raised to N + 256 (the hard limit must allow it).
# Exit status: 0; 1 if a run saw errors (a member closed, a line missing).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

case "${1:-}" in -h|--help) usage "$0"; exit 0 ;; esac
secs=2 runs=5 idle=10000 rate=50 out=target/fanout.md smoke=false
while [ $# -gt 0 ]; do
  case "$1" in
    --secs) secs=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --idle) idle=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --smoke) smoke=true; shift ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

need=$((idle + 256))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
  echo "fanout.sh: need $need file descriptors, hard limit is $hard (raise it: ulimit -Hn as root)" >&2
  exit 1
fi
ulimit -n "$need"
apt_install redis-server

cargo build --release --quiet -p socklab
bin=$PWD/target/release/socklab
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# start_chat VAR ARGS... : a `socklab serve chat` on free ports in the background;
# sets VAR_pid and VAR_port (its TCP members' port).
start_chat() {
  local var=$1; shift
  local tcp ws
  tcp=$(free_port) ws=$(free_port)
  RUST_LOG=warn "$bin" serve chat --tcp-addr "127.0.0.1:$tcp" --ws-addr "127.0.0.1:$ws" \
    --no-joins --max-connections $((idle + 100)) "$@" >>"$work/server.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  printf -v "${var}_pid" %s "$pid"
  printf -v "${var}_port" %s "$tcp"
  wait_port tcp "$tcp"
}

# stop PID : SIGTERM, then SIGKILL after 5 s.
stop() {
  kill "$1" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

peak_rss_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# fanout N ARGS... : one `socklab bench --fanout N` run as JSON (its errors stay in
# the JSON), at ${at_rate:-$rate} lines/s for ${at_secs:-$secs} s. A run that
# could not even open its members prints no JSON: its error line (stderr) becomes
# one with every member counted as an error (an error, never "saturated").
fanout() {
  local n=$1; shift
  local r
  r=$("$bin" bench "$@" --fanout "$n" --secs "${at_secs:-$secs}" --rate "${at_rate:-$rate}" \
    --json 2>"$work/bench.err") || true
  if [ -z "$r" ]; then
    r=$(python3 -c 'import json,sys; print(json.dumps({"members": int(sys.argv[1]), "sent": 0, "complete": 0,
      "deliveries": 0, "deliveries_per_sec": 0, "asked_per_sec": None, "last_p50_us": None, "last_p99_us": None,
      "first_p50_us": None, "errors": int(sys.argv[1]), "first_error": sys.argv[2]}))' \
      "$n" "$(tail -1 "$work/bench.err")")
    echo "fanout.sh: $(tail -1 "$work/bench.err")" >&2
  fi
  echo "$r"
}

# --- 1. fan-out: event loop against thread per member -------------------------
sizes=$(printf '%s\n' 1 $((idle / 100)) $((idle / 10)) "$idle" | awk '$1 >= 1' | sort -nu)
for model in event-loop threads; do
  for n in $sizes; do
    echo "--- fan-out: $model, $n members, $rate lines/s, $secs s" >&2
    for _ in $(seq "$runs"); do
      start_chat s --model "$model"
      start_kb=$(peak_rss_kb "$s_pid")
      r=$(fanout "$n" "tcp://127.0.0.1:$s_port")
      printf '{"model":"%s","n":%s,"rss_start_kb":%s,"rss_peak_kb":%s,"run":%s}\n' \
        "$model" "$n" "$start_kb" "$(peak_rss_kb "$s_pid")" "$r" >>"$work/fanout.jsonl"
      stop "$s_pid"
    done
  done
done

# The slow row: N members at $slow lines/s, long enough for a p99 (the report
# gives none below MIN_SAMPLES_FOR_P99 = 100 complete lines: 100 / 5 = 20 s, +10 %).
slow=5
slow_secs=$(python3 -c "import math; print(max($secs, math.ceil(110 / $slow)))")
$smoke && slow_secs=$secs
for model in event-loop threads; do
  echo "--- fan-out: $model, $idle members, $slow lines/s, $slow_secs s" >&2
  for _ in $(seq "$runs"); do
    start_chat s --model "$model"
    start_kb=$(peak_rss_kb "$s_pid")
    r=$(at_rate=$slow at_secs=$slow_secs fanout "$idle" "tcp://127.0.0.1:$s_port")
    printf '{"model":"%s","n":%s,"rate":%s,"rss_start_kb":%s,"rss_peak_kb":%s,"run":%s}\n' \
      "$model" "$idle" "$slow" "$start_kb" "$(peak_rss_kb "$s_pid")" "$r" >>"$work/slow.jsonl"
    stop "$s_pid"
  done
done

# --- 1b. saturation: the highest delivery rate this machine carries ------------
# saturated JSON : why the run was past what the machine carries, nothing if it
# was not, or "error" for a run that failed (no members opened: no verdict).
saturated() {
  python3 -c 'import json,sys; r=json.loads(sys.argv[1])
print("error" if "saturated" not in r else r["saturated"] or "")' "$1"
}
max_steps=10; $smoke && max_steps=3
for model in event-loop threads; do
  carried=0 over=0 try=$slow
  for step in $(seq "$max_steps"); do
    echo "--- saturation: $model, $idle members, $try lines/s (step $step)" >&2
    start_chat s --model "$model"
    r=$(at_rate=$try fanout "$idle" "tcp://127.0.0.1:$s_port")
    stop "$s_pid"
    printf '{"model":"%s","n":%s,"rate":%s,"run":%s}\n' "$model" "$idle" "$try" "$r" >>"$work/ramp.jsonl"
    why=$(saturated "$r")
    [ "$why" = error ] && break   # counted as an error in the table
    if [ -z "$why" ]; then carried=$try; else over=$try; fi
    # Double until a rate is too much; then halve the gap, to within an eighth.
    if [ "$over" -eq 0 ]; then
      try=$((try * 2))
    else
      [ $((over - carried)) -le $(( (carried + 7) / 8 )) ] && break
      try=$(( (carried + over) / 2 ))
      [ "$try" -le "$carried" ] && break
    fi
    [ "$try" -gt 10000 ] && break   # socklab bench's --rate bound
  done
done

# --- 2. relay: one process against two through Redis --------------------------
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
redis_pid=$!
pids+=("$redis_pid")
wait_port tcp "$rport"
members=$((idle / 100)); [ "$members" -lt 10 ] && members=10
start_chat a --relay "redis://127.0.0.1:$rport"
start_chat b --relay "redis://127.0.0.1:$rport"
for where in same relay; do
  sender=$b_port; [ "$where" = relay ] && sender=$a_port
  echo "--- relay: $members members on B, sender on $([ "$where" = relay ] && echo A || echo B)" >&2
  for _ in $(seq "$runs"); do
    r=$(fanout "$members" "tcp://127.0.0.1:$b_port" --send-to "tcp://127.0.0.1:$sender")
    printf '{"where":"%s","n":%s,"run":%s}\n' "$where" "$members" "$r" >>"$work/relay.jsonl"
  done
done
stop "$a_pid"; stop "$b_pid"; stop "$redis_pid"

mkdir -p "$(dirname "$out")"
python3 - "$work" "$out" "$secs" "$runs" "$rate" "$idle" "$slow_secs" "$max_steps" <<'EOF'
import json, statistics, sys
work, out, secs, runs, rate, idle, slow_secs, max_steps = sys.argv[1:9]

def load(name):
    try:
        return [json.loads(l) for l in open(f"{work}/{name}")]
    except FileNotFoundError:
        return []

def cell(xs, scale=1000, fmt="{:.2f}"):
    xs = [x / scale for x in xs if x is not None]
    if not xs:
        return "–"
    return (fmt + " (" + fmt + "–" + fmt + ")").format(statistics.median(xs), min(xs), max(xs))

def delivered(runs_, n, rate=rate):
    """Deliveries/s, and "saturated" when the machine carried less than 90 % of
    the n × rate asked: its latencies are then a queue's, not the server's
    (scripts/check-generated.py refuses an unflagged p99 over 1 s)."""
    got = statistics.median([x['deliveries_per_sec'] for x in runs_])
    asked = n * float(rate)
    if got < 0.9 * asked:
        return f"{got:,.0f} of {asked:,.0f} asked: saturated"
    return f"{got:,.0f}"

def saturated(run):
    """Why a run was past what the machine carries (socklab bench says), or None
    (also for a run that failed before it could say: its errors are errors)."""
    return run.get("saturated")

def latency(runs_, key):
    """A latency cell; a saturated run's latency is a queue's, and says so."""
    text = cell([x[key] for x in runs_])
    k = sum(saturated(x) is not None for x in runs_)
    if k and text != "–":
        text = f"saturated ({k} of {len(runs_)} runs): {text}"
    return text

errors = 0
lines = ["### Fan-out: one sender, N members, time to the last member", "", "<!-- ANCHOR: fanout -->",
         "| server | members | lines/s | lines complete | to last member p50 ms (min–max) | p99 ms (min–max) "
         "| to first member p50 ms | deliveries/s | server peak RSS MB | errors |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
rows = {}
for r in load("fanout.jsonl") + load("slow.jsonl"):
    rows.setdefault((r["model"], r["n"], r.get("rate", float(rate))), []).append(r)
names = {"event-loop": "event loop (mailbox)", "threads": "thread per member (baseline)"}
for (model, n, at), rs in rows.items():
    runs_ = [x["run"] for x in rs]
    # A member the server dropped as slow is saturation, said in the row; any
    # other failure is an error.
    e = sum(x["errors"] for x in runs_ if saturated(x) is None)
    errors += e
    lines.append(f"| {names[model]} | {n:,} | {float(at):g} | {statistics.median([x['complete'] for x in runs_]):,.0f} of "
                 f"{statistics.median([x['sent'] for x in runs_]):,.0f} "
                 f"| {latency(runs_, 'last_p50_us')} | {latency(runs_, 'last_p99_us')} "
                 f"| {latency(runs_, 'first_p50_us')} "
                 f"| {delivered(runs_, n, at)} "
                 f"| {statistics.median([x['rss_peak_kb'] for x in rs]) / 1024:.1f} | {e} |")
lines += ["", f"Each run: a fresh `socklab serve chat --no-joins` (its own process, RUST_LOG=warn), "
          f"then `socklab bench --fanout N --rate L --secs {secs}` in another process ({slow_secs} s at "
          "5 lines/s, for enough lines to give a p99): N TCP members "
          "on one mio thread and one sender; each line is timed from the sender's write to the read "
          "of the last (and of the first) member, on the client's one clock. Median (min–max) of "
          f"{runs} runs; \"–\" for a p99: fewer than 100 complete lines. Server peak RSS: VmHWM. "
          "\"Saturated\": more than this machine carries (a member dropped as slow, under 90 % of the "
          "deliveries asked, or the first member waiting over 100 ms): the latency is a queue's.",
          "<!-- ANCHOR_END: fanout -->", ""]

ramp = {}
for r in load("ramp.jsonl"):
    ramp.setdefault(r["model"], []).append(r)
lines += ["### Fan-out: the highest delivery rate this machine carries", "", "<!-- ANCHOR: fanout-capacity -->",
          "| server | members | highest rate carried, lines/s | deliveries/s | to last member p50 ms, there "
          "| saturated from, lines/s | why | steps |",
          "|---|---:|---:|---:|---:|---:|---|---:|"]
for model, rs in ramp.items():
    failed = [r for r in rs if "saturated" not in r["run"]]
    errors += sum(r["run"]["errors"] for r in failed)
    rs = [r for r in rs if r not in failed]
    if not rs:
        lines.append(f"| {names[model]} | – | – | – | – | – | {failed[0]['run']['first_error']} | {len(failed)} |")
        continue
    ok = [r for r in rs if saturated(r["run"]) is None]
    bad = [r for r in rs if saturated(r["run"]) is not None]
    n = rs[0]["n"]
    best = max(ok, key=lambda r: r["rate"]) if ok else None
    worst = min(bad, key=lambda r: r["rate"]) if bad else None
    if best:
        p50 = best["run"]["last_p50_us"]
        cells = [str(best["rate"]), f"{best['run']['deliveries_per_sec']:,.0f}",
                 f"{p50 / 1000:.2f}" if p50 is not None else "–"]
    else:
        cells = ["none: saturated at the first step", "–", "–"]
    if worst:
        cells += [str(worst["rate"]), saturated(worst["run"])]
    else:
        cells += [f"not within {max(r['rate'] for r in rs)}", "–"]
    lines.append(f"| {names[model]} | {n:,} | " + " | ".join(cells) + f" | {len(rs)} |")
lines += ["", f"{idle} members, one sender; each step a fresh server and one {secs} s run; the rate "
          "doubles from 5 lines/s until a run is saturated (a member dropped as slow, under 90 % of "
          "the deliveries asked, or the first member waiting over 100 ms), then the gap between the "
          f"last rate carried and the first not is halved, at most {max_steps} steps. One run per step: a "
          "bound, not a median.", "<!-- ANCHOR_END: fanout-capacity -->", ""]

lines += ["### Relay: one process against two through Redis", "", "<!-- ANCHOR: relay -->",
          "| sender | members | lines complete | to last member p50 ms (min–max) | p99 ms (min–max) | errors |",
          "|---|---:|---:|---:|---:|---:|"]
labels = {"same": "same process as the members (B)", "relay": "other process (A), through Redis"}
by = {}
for r in load("relay.jsonl"):
    by.setdefault(r["where"], []).append(r)
for where, rs in by.items():
    runs_ = [x["run"] for x in rs]
    e = sum(x["errors"] for x in runs_)
    errors += e
    lines.append(f"| {labels[where]} | {rs[0]['n']:,} | {statistics.median([x['complete'] for x in runs_]):,.0f} of "
                 f"{statistics.median([x['sent'] for x in runs_]):,.0f} "
                 f"| {cell([x['last_p50_us'] for x in runs_])} | {cell([x['last_p99_us'] for x in runs_])} | {e} |")
lines += ["", "Two `socklab serve chat --relay redis://…` processes (A and B) and our own "
          "`redis-server --save '' --appendonly no` on a free loopback port; the members are on B; "
          f"the sender on B, then on A. {rate} lines/s for {secs} s, median (min–max) of {runs} runs.",
          "<!-- ANCHOR_END: relay -->", ""]
text = "\n".join(lines)
open(out, "w").write(text)
print(text)
sys.exit(1 if errors else 0)
EOF
