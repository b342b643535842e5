#!/usr/bin/env bash
# scripts/bench.sh — thread per connection against the event loop, measured: every
# socklab server model and three reference servers (a plain std echo, the
# floor; tokio-tungstenite; fastwebsockets) under the same loads.
#
# Usage: scripts/bench.sh [--secs S] [--runs R] [--idle N] [--out FILE] [--no-goal-exit] [--smoke]
#   --secs S   seconds per load run (default 2)
#   --runs R   runs per cell; the table shows their median (default 5)
#   --idle N   silent WebSocket connections held open in the idle run (default
#              10000); the memory steps are N/10, 3N/10 and N, the storm N/5,
#              the push subscribers N/10 per technique
#   --out FILE where the markdown tables go (default target/bench.md; the copy
#              the docs quote, docs/generated/bench.md, is written only by
#              scripts/gen-docs.sh)
#   --no-goal-exit  a missed goal is still printed as MISSED, but does not set
#              the exit status
#   --smoke    a smoke run (short, few connections: scripts/test.sh's check that
#              every step still runs): its numbers mean nothing, so no goal is
#              judged: each target says "not judged (smoke run)", never MET or
#              MISSED, and only errors set the exit status
#
# 1. Ping-pong: for each server in turn (tcp iterative/threads/event-loop, the
#    floor: a plain std thread-per-connection echo, ws threads/event-loop,
#    tokio-tungstenite, fastwebsockets with as many tokio threads as the event
#    loop has loops, udp) start it on a free loopback port, run `socklab bench`
#    with 1 and 8 connections R times each, read its peak RSS (VmHWM in
#    /proc/PID/status); for the WebSocket servers, restart it, open N idle
#    connections (plus one ping-pong connection) and read its peak RSS again.
#    Each ping-pong run also gives CPU per message: the server's (its own
#    process, /proc/PID/stat over the timed window), the client's (getrusage)
#    and their total; a figure that cannot be (0 CPU for 10,000 echoes, more CPU
#    than the window had on every core) counts as an error.
# 2. Fairness: one light ping-pong client beside 2 connections streaming 64 KiB
#    messages (`socklab bench --stream 2`), event loop (--loops 1) vs threads.
# 3. Connections/s (the `churn` binary) at RUST_LOG=info and warn, server stderr
#    to /dev/null; and a storm of N/5 connections that open at once and vanish:
#    the server's fds before, and how long until they are back (at most 10 s).
# 4. Ping flood (the `ping-flood` binary, 1.5 × S seconds) against ws event loop
#    and threads with --write-stall-timeout 1: peak RSS, and whether it was cut.
# 5. Memory per idle WebSocket connection at N/10, 3N/10 and N.
# 6. Push: N/10 Server-Sent Events subscribers, then N/10 WebSocket subscribers
#    (the `push-subscribers` binary, one thread with mio), each on a fresh
#    `socklab serve push --rate 10` for S seconds: delivery latency p50/p99 (event
#    creation to receipt, one clock) and the server's peak RSS, side by side.
# 7. Fan-out (scripts/fanout.sh, its tables appended to FILE): one sender, 1,
#    N/100, N/10 and N TCP members of `socklab serve chat`, event loop against
#    --model threads (a thread per member): time to the LAST member p50/p99,
#    deliveries/s, server peak RSS; N members at 5 lines/s, long enough for a
#    p99; the highest delivery rate the machine carries (a bounded ramp of the
#    rate until a run is saturated), as its own row; and the Redis relay
#    against one process. A latency from a saturated run says "saturated".
# 8. TLS: `serve ws` and `serve wss` (event loops, each its own process) loaded
#    in turn within each run, 1 then 8 connections; then handshakes per second
#    (`churn --handshakes`: connect, TLS, Upgrade, close) against ws, wss
#    and tls, each on its own server.
# Every cell is the median of R runs (the flood, storm and memory cells: R
# fresh runs each), every figure comes from this run; compare them as ratios,
# since absolute numbers depend on the machine and whatever else it is doing.
# Every load is bounded in count and time.
#
# Exit status: 0 when every run was clean and every goal met; 1 if any run saw an
# error (a wrong echo, a lost datagram, a connection that could not be opened);
# 2 for a bad argument; 3 if a goal was MISSED (unless --no-goal-exit).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

case "${1:-}" in -h|--help) usage "$0"; exit 0 ;; esac
secs=2 runs=5 idle=10000 out=target/bench.md goal_exit=true smoke=false
while [ $# -gt 0 ]; do
  case "$1" in
    --secs) secs=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --idle) idle=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-goal-exit) goal_exit=false; shift ;;
    --smoke) smoke=true goal_exit=false; shift ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

# Every idle connection is one fd in the client and one in the server (two
# processes), so each needs its soft fd limit above $idle.
need=$((idle + 256))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
  echo "bench.sh: need $need file descriptors, hard limit is $hard (raise it: ulimit -Hn as root)" >&2
  exit 1
fi
ulimit -n "$need"

cargo build --release --quiet -p socklab -p bench
bin=$PWD/target/release
work=$(mktemp -d)
server_pid=""
tls_pids=()
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  for p in "${tls_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# start_server CMD... : runs the server in the background, sets $server_pid.
#   $log_level (default warn) is its RUST_LOG; $log_to (default a file) its stderr.
log_level=warn log_to=""
start_server() {
  RUST_LOG=$log_level "$@" >"${log_to:-$work/server.log}" 2>&1 &
  server_pid=$!
}

# stop_server : SIGTERM (socklab's servers shut down on it), then SIGKILL after 5 s.
stop_server() {
  kill "$server_pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

# peak_rss_kb : the server's peak resident memory so far (VmHWM), in KiB.
peak_rss_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$server_pid/status"; }

# fd_count : how many file descriptors the server holds right now.
fd_count() { find "/proc/$server_pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# start_on NAME PROTO CMD... : a free port, the server started on it and
# listening; sets $port and $url (tcp://… or ws://…/ by PROTO's scheme).
start_on() {
  local scheme=$1 proto=tcp; shift
  port=$(free_port)
  url="$scheme://127.0.0.1:$port"
  case $scheme in ws|wss) url+=/ ;; esac
  start_server "$@" --addr "127.0.0.1:$port"
  wait_port "$proto" "$port"
}

# emit FILE NAME JSON... : one line {"name":NAME,"runs":[JSON,…]} appended to FILE.
emit() {
  local file=$1 name=$2; shift 2
  local IFS=,
  printf '{"name":"%s","runs":[%s]}\n' "$name" "$*" >>"$work/$file"
}

# run_server NAME PROTO SCHEME SCENARIOS CMD... (CMD gets --addr 127.0.0.1:PORT appended)
#   SCENARIOS: words among c1 c8 idle
run_server() {
  local name=$1 proto=$2 scheme=$3 scenarios=$4; shift 4
  local port url
  port=$(free_port)
  url="$scheme://127.0.0.1:$port/"
  [ "$scheme" != ws ] && url="$scheme://127.0.0.1:$port"
  echo "--- $name ($url)" >&2
  start_server "$@" --addr "127.0.0.1:$port"
  wait_port "$proto" "$port"
  local c1=null c8=null idle_run=null rss_load rss_start=null rss_idle=null
  if [[ " $scenarios " == *" c1 "* ]]; then c1=$(load_runs "$url" 1); fi
  if [[ " $scenarios " == *" c8 "* ]]; then c8=$(load_runs "$url" 8); fi
  rss_load=$(peak_rss_kb)
  stop_server
  if [[ " $scenarios " == *" idle "* ]]; then
    start_server "$@" --addr "127.0.0.1:$port"
    wait_port "$proto" "$port"
    rss_start=$(peak_rss_kb)
    idle_run=$("$bin/socklab" bench "$url" --conns 1 --secs 1 --idle "$idle" --json || true)
    rss_idle=$(peak_rss_kb)
    stop_server
  fi
  printf '{"name":"%s","c1":%s,"c8":%s,"idle":%s,"rss_load_kb":%s,"rss_start_kb":%s,"rss_idle_kb":%s}\n' \
    "$name" "$c1" "$c8" "$idle_run" "$rss_load" "$rss_start" "$rss_idle" >>"$work/results.jsonl"
}

# load_runs URL CONNS : $runs ping-pong runs as a JSON array, each with the CPU
# the server ($server_pid, its own process) and the client spent per message.
load_runs() {
  local all=""
  for _ in $(seq "$runs"); do
    all+="${all:+,}$("$bin/socklab" bench "$1" --conns "$2" --secs "$secs" --server-pid "$server_pid" --json || true)"
  done
  echo "[$all]"
}

cap=(--max-connections $((idle + 100)))
loops=$(nproc)  # the event loops' default: one per core
s="$bin/socklab serve"
run_server "tcp iterative (v1)" tcp tcp "c1"          $s tcp --model iterative "${cap[@]}"
run_server "tcp threads (v2)"   tcp tcp "c1 c8"  $s tcp --model threads "${cap[@]}"
run_server "tcp event loop (v3)" tcp tcp "c1 c8" $s tcp --model event-loop --loops "$loops" "${cap[@]}"
run_server "floor: std threads" tcp tcp "c1 c8"  "$bin/floor-echo"
run_server "ws threads"         tcp ws  "c1 c8 idle"  $s ws --model threads "${cap[@]}"
run_server "ws event loop"      tcp ws  "c1 c8 idle"  $s ws --model event-loop --loops "$loops" "${cap[@]}"
run_server "tokio-tungstenite"  tcp ws  "c1 c8 idle"  "$bin/tokio-ws-echo"
run_server "fastwebsockets"     tcp ws  "c1 c8 idle"  "$bin/fastws-echo" --threads "$loops"
run_server "udp blocking"       udp udp "c1 c8"       $s udp --model threads
run_server "udp event loop"     udp udp "c1 c8"       $s udp --model event-loop


# (`socklab bench` exits 1 when a run saw errors; its JSON still says which, and
# the table below counts them, so `|| true` keeps the run going.)
# --- 2. fairness: a light client beside two streaming ones -------------------
for proto in tcp ws; do
  for model in event-loop threads; do
    extra=(); [ "$model" = event-loop ] && extra=(--loops 1)
    echo "--- fairness: $proto $model ${extra[*]}" >&2
    start_on "$proto" $s "$proto" --model "$model" "${extra[@]}" "${cap[@]}"
    all=()
    for _ in $(seq "$runs"); do
      all+=("$("$bin/socklab" bench "$url" --conns 1 --secs "$secs" --stream 2 --stream-size 65536 --json || true)")
    done
    stop_server
    emit fair.jsonl "$proto $model" "${all[@]}"
  done
done

# --- 3. connections per second, and a storm ---------------------------------
storm=$((idle / 5))
log_to=/dev/null
for proto in tcp ws; do
  for level in info warn; do
    echo "--- churn: $proto event loop, RUST_LOG=$level" >&2
    log_level=$level
    start_on "$proto" $s "$proto" --model event-loop "${cap[@]}"
    all=()
    for _ in $(seq "$runs"); do all+=("$("$bin/churn" "$url" --secs "$secs")"); done
    stop_server
    emit churn.jsonl "$proto $level" "${all[@]}"
  done
  echo "--- storm: $storm connections against $proto event loop, RUST_LOG=info" >&2
  log_level=info
  start_on "$proto" $s "$proto" --model event-loop "${cap[@]}"
  all=()
  for _ in $(seq "$runs"); do
    before=$(fd_count)
    r=$("$bin/churn" "$url" --storm "$storm")
    # The storm's connections are gone now (its process has exited): poll the
    # server's fds every 0.1 s, at most 10 s, until they are back to $before.
    t0=$(date +%s%N) after=$(fd_count) back=null
    for _ in $(seq 100); do
      now=$(fd_count)
      if [ "$now" -le "$before" ]; then back=$(( ($(date +%s%N) - t0) / 1000000 )); break; fi
      sleep 0.1
    done
    all+=("{\"before\":$before,\"after\":$after,\"end\":$(fd_count),\"back_ms\":$back,\"storm\":$r}")
  done
  stop_server
  emit storm.jsonl "$proto" "${all[@]}"
done
log_level=warn log_to=""

# --- 4. ping flood --------------------------------------------------------------
flood_secs=$(python3 -c "print(round(1.5 * $secs, 3))")
for model in event-loop threads; do
  echo "--- ping flood: ws $model, $flood_secs s" >&2
  all=()
  for _ in $(seq "$runs"); do
    start_on ws $s ws --model "$model" --write-stall-timeout 1
    start_kb=$(peak_rss_kb)
    r=$("$bin/ping-flood" "$url" --secs "$flood_secs")
    all+=("{\"rss_start_kb\":$start_kb,\"rss_peak_kb\":$(peak_rss_kb),\"flood\":$r}")
    stop_server
  done
  emit flood.jsonl "ws $model" "${all[@]}"
done

# --- 5. memory per idle connection --------------------------------------------
for model in event-loop threads; do
  for n in $((idle / 10)) $((idle * 3 / 10)) "$idle"; do
    echo "--- memory: ws $model, $n idle" >&2
    all=()
    for _ in $(seq "$runs"); do
      start_on ws $s ws --model "$model" "${cap[@]}"
      start_kb=$(peak_rss_kb)
      r=$("$bin/socklab" bench "$url" --conns 1 --secs 0.5 --idle "$n" --json || true)
      all+=("{\"idle\":$n,\"rss_start_kb\":$start_kb,\"rss_peak_kb\":$(peak_rss_kb),\"bench\":$r}")
      stop_server
    done
    emit mem.jsonl "ws $model $n" "${all[@]}"
  done
done

# --- 5b. permessage-deflate: memory per connection and msgs/s (issue 22) ----------
# Each idle connection offers compression (or not: plain; or no context takeover
# both ways) and exchanges one compressed message (deflate-load), so every
# context the server keeps exists when its peak RSS is read. Then 8 connections
# of compressed ping-pong against the same with plain ws. Skipped (no rows) when
# this socklab's `serve ws` has no --deflate.
deflate_flags=(--deflate)
if $s ws --help 2>/dev/null | grep -q -- '--deflate'; then
  for mode in plain deflate no-context-takeover; do
    for n in $((idle / 10)) "$idle"; do
      echo "--- deflate: ws event-loop, $mode, $n idle" >&2
      all=()
      for _ in $(seq "$runs"); do
        # Every connection's contexts charged to the budget (websocket::deflate's
        # CONTEXT_BYTES, 448 KiB) must fit, or the rest are answered without
        # the extension and the row would mix both: 1/2 MiB each, plus the default.
        start_on ws $s ws --model event-loop "${deflate_flags[@]}" "${cap[@]}" \
          --memory-budget $((n / 2 + 256))
        start_kb=$(peak_rss_kb)
        r=$("$bin/deflate-load" "$url" --mode "$mode" --idle "$n" --conns 1 --secs 0.5 || true)
        all+=("{\"idle\":$n,\"rss_start_kb\":$start_kb,\"rss_peak_kb\":$(peak_rss_kb),\"load\":${r:-null}}")
        stop_server
      done
      emit deflate-mem.jsonl "$mode $n" "${all[@]}"
    done
    echo "--- deflate: ws event-loop, $mode, 8 connections ping-pong" >&2
    all=()
    for _ in $(seq "$runs"); do
      start_on ws $s ws --model event-loop --loops "$loops" "${deflate_flags[@]}" "${cap[@]}"
      r=$("$bin/deflate-load" "$url" --mode "$mode" --conns 8 --secs "$secs" || true)
      all+=("${r:-null}")
      stop_server
    done
    emit deflate-rate.jsonl "$mode" "${all[@]}"
  done
fi

# --- 6. push: SSE against WebSocket subscribers ----------------------------------
subs=$((idle / 10))
for technique in sse ws; do
  echo "--- push: $subs $technique subscribers, 10 events/s, $secs s" >&2
  all=()
  for _ in $(seq "$runs"); do
    start_on http $s push --rate 10 "${cap[@]}"
    start_kb=$(peak_rss_kb)
    r=$("$bin/push-subscribers" "127.0.0.1:$port" --technique "$technique" --conns "$subs" --secs "$secs")
    all+=("{\"rss_start_kb\":$start_kb,\"rss_peak_kb\":$(peak_rss_kb),\"subs\":$r}")
    stop_server
  done
  emit push.jsonl "$technique" "${all[@]}"
done

# --- 7. TLS: wss against ws, and handshakes per second -----------------------------
# Both servers run at once, each in its own process; every run loads ws, then
# wss, so whatever the machine does meanwhile falls on both alike.
echo "--- tls: ws and wss event loops, 1 and 8 connections" >&2
declare -A tls_url tls_pid
for scheme in ws wss; do
  p=$(free_port)
  tls_url[$scheme]="$scheme://127.0.0.1:$p/"
  extra=(); [ "$scheme" = wss ] && extra=(--cert-out "$work/wss.pem")
  RUST_LOG=warn $s "$scheme" --model event-loop --loops "$loops" "${cap[@]}" "${extra[@]}" \
    --addr "127.0.0.1:$p" >"$work/$scheme-server.log" 2>&1 &
  tls_pids+=($!)
  tls_pid[$scheme]=$!
  wait_port tcp "$p"
done
declare -A tls_runs=([ws-1]="" [ws-8]="" [wss-1]="" [wss-8]="")
for _ in $(seq "$runs"); do
  for conns in 1 8; do
    for scheme in ws wss; do
      r=$("$bin/socklab" bench "${tls_url[$scheme]}" --conns "$conns" --secs "$secs" \
        --cacert "$work/wss.pem" --server-pid "${tls_pid[$scheme]}" --json || true)
      tls_runs[$scheme-$conns]+="${tls_runs[$scheme-$conns]:+,}$r"
    done
  done
done
for scheme in ws wss; do
  printf '{"name":"%s","c1":[%s],"c8":[%s]}\n' "$scheme" "${tls_runs[$scheme-1]}" \
    "${tls_runs[$scheme-8]}" >>"$work/tls.jsonl"
done
for p in "${tls_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
tls_pids=()
# (No tcp row: a bare connect-and-close measures how fast the client's kernel
# finds a free port beside its own TIME_WAIT sockets, not the server.)
for scheme in ws wss tls; do
  echo "--- handshakes: $scheme event loop" >&2
  extra=(); case $scheme in tls|wss) extra=(--cert-out "$work/hs.pem") ;; esac
  start_on "$scheme" $s "$scheme" --model event-loop "${cap[@]}" "${extra[@]}"
  all=()
  for _ in $(seq "$runs"); do
    all+=("$("$bin/churn" "$url" --handshakes --secs "$secs" --cacert "$work/hs.pem")")
  done
  stop_server
  emit handshakes.jsonl "$scheme" "${all[@]}"
done

mkdir -p "$(dirname "$out")"
# The tables, and the verdict as the exit status: 1 for errors, 3 for a missed goal.
status=0
python3 - "$work" "$out" "$secs" "$idle" "$runs" "$loops" "$flood_secs" "$smoke" <<'EOF' || status=$?
import json, os, statistics, sys
work, out, secs, idle = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
runs, loops, flood_secs = sys.argv[5], sys.argv[6], sys.argv[7]
# A smoke run's loads are too short and too small for any goal to mean anything
# (its ping flood alone ends before the 1 s stall timeout can cut it).
smoke = sys.argv[8] == "true"

def load(name):
    path = os.path.join(work, name)
    return [json.loads(l) for l in open(path)] if os.path.exists(path) else []

def med(xs):
    return statistics.median(xs)

def spread(xs):
    return (min(xs), max(xs))

def overlap(a, b):
    """Two cells whose run ranges overlap differ by less than their spread."""
    return a[0] <= b[1] and b[0] <= a[1]

def verdict(ok):
    if smoke:
        return "not judged (smoke run)"
    return "met" if ok else "MISSED"

errors = {}  # name -> error count, over every run of every section
def count(section, name, n, first=None):
    if n:
        errors[f"{section}: {name}"] = errors.get(f"{section}: {name}", 0) + n
        if first:
            print(f"bench.sh: {section}: {name}: {first}", file=sys.stderr)

# --- 1. ping-pong --------------------------------------------------------------
rows = load("results.jsonl")
for r in rows:
    for k in ("c1", "c8"):
        if r[k]:
            rs = r[k]
            r[k + "_runs"] = rs
            r[k] = {key: med([x[key] for x in rs]) for key in ("msgs_per_sec", "rtt_p50_us", "rtt_p99_us")}
            r[k]["errors"] = sum(x["errors"] for x in rs)
            count("ping-pong", r["name"], r[k]["errors"], next((x["first_error"] for x in rs if x["first_error"]), None))
    if r["idle"]:
        count("idle", r["name"], r["idle"]["errors"], r["idle"]["first_error"])
by = {r["name"]: r for r in rows}

def f(run, key, fmt="{:,.0f}"):
    # None: no round trip completed (socklab bench prints null, never 0).
    return fmt.format(run[key]) if run and run[key] is not None else "–"

def errs(r):
    return sum(r[k]["errors"] for k in ("c1", "c8", "idle") if r[k])

# Each table sits between <!-- ANCHOR: name --> lines, so a page can quote one
# with {{#include generated/bench.md:name}} (the comments do not render).
def anchor(name):
    return f"<!-- ANCHOR: {name} -->"

def anchor_end(name):
    return f"<!-- ANCHOR_END: {name} -->"

lines = [
    "### Ping-pong, and idle connections",
    "",
    anchor("pingpong"),
    f"| server | 1 conn msgs/s | p50 µs | p99 µs | 8 conns msgs/s | p50 µs | p99 µs "
    f"| {idle:,} idle: open s | peak RSS MB, load | peak RSS MB, {idle:,} idle | errors |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
]
for r in rows:
    c1, c8, il = r["c1"], r["c8"], r["idle"]
    idle_open = f"{il['idle_open_secs']:.2f}" if il else "–"
    if il and il["idle"] < idle:
        idle_open += f" ({il['idle']:,} opened)"
    rss_idle = f"{r['rss_idle_kb']/1024:.1f}" if r["rss_idle_kb"] is not None else "–"
    lines.append(
        f"| {r['name']} | {f(c1,'msgs_per_sec')} | {f(c1,'rtt_p50_us','{:.1f}')} "
        f"| {f(c1,'rtt_p99_us','{:.1f}')} | {f(c8,'msgs_per_sec')} "
        f"| {f(c8,'rtt_p50_us','{:.1f}')} | {f(c8,'rtt_p99_us','{:.1f}')} | {idle_open} "
        f"| {r['rss_load_kb']/1024:.1f} | {rss_idle} | {errs(r)} |"
    )
lines += ["", f"Strict ping-pong, 64-byte messages, {secs} s per run, the median of {runs} runs "
          "per cell (errors summed over all runs), on 127.0.0.1; the idle run (WebSocket "
          "servers only, one run) holds the idle connections plus one ping-pong connection "
          f"for 1 s. The tcp and ws event loops run {loops} loops (one per core, their "
          f"default), fastwebsockets as many tokio worker threads ({loops}); the udp event "
          "loop is one loop on one socket.", anchor_end("pingpong"), ""]

def ratio(a, b):
    return a / b if b else float("nan")

targets = []  # (what, measured, goal, met, note)
def cmp_cells(a_runs, b_runs, key):
    return "" if not overlap(spread([x[key] for x in a_runs]), spread([x[key] for x in b_runs])) \
        else "the two differ by less than their spread"

ws, floor, tokio, tcp = by["ws event loop"], by["floor: std threads"], by["tokio-tungstenite"], by["tcp event loop (v3)"]
r1 = ratio(ws["c1"]["rtt_p50_us"], floor["c1"]["rtt_p50_us"])
targets.append(("ws event loop, 1 conn RTT p50 / floor's", f"{r1:.3f}×", "≤ 1.10×", r1 <= 1.10,
                cmp_cells(ws["c1_runs"], floor["c1_runs"], "rtt_p50_us")))
r2 = ratio(ws["c8"]["msgs_per_sec"], tokio["c8"]["msgs_per_sec"])
targets.append(("ws event loop, 8 conns msgs/s / tokio-tungstenite's", f"{r2:.3f}×", "≥ 1.2×", r2 >= 1.2,
                cmp_cells(ws["c8_runs"], tokio["c8_runs"], "msgs_per_sec")))
r3 = ratio(tcp["c8"]["msgs_per_sec"], floor["c8"]["msgs_per_sec"])
targets.append(("tcp event loop, 8 conns msgs/s / floor's", f"{r3:.3f}×", "≥ 1.0×", r3 >= 1.0,
                cmp_cells(tcp["c8_runs"], floor["c8_runs"], "msgs_per_sec")))
fast = by.get("fastwebsockets")
if fast and fast["c8"]:
    r = ratio(ws["c8"]["msgs_per_sec"], fast["c8"]["msgs_per_sec"])
    targets.append(("ws event loop, 8 conns msgs/s / fastwebsockets'", f"{r:.3f}×", "≥ 1.5×", r >= 1.5,
                    cmp_cells(ws["c8_runs"], fast["c8_runs"], "msgs_per_sec")))
ws_threads = by["ws threads"]
r = ratio(ws["c8"]["msgs_per_sec"], ws_threads["c8"]["msgs_per_sec"])
targets.append(("ws event loop, 8 conns msgs/s / ws threads'", f"{r:.3f}×", "≥ 1.0×", r >= 1.0,
                cmp_cells(ws["c8_runs"], ws_threads["c8_runs"], "msgs_per_sec")))
il = ws["idle"]
targets.append((f"ws event loop, {idle:,} idle connections opened in",
                f"{il['idle_open_secs']:.2f} s ({il['idle']:,} opened)", "≤ 3 s",
                il["idle"] == idle and il["idle_open_secs"] <= 3.0, "one run"))
mb = ws["rss_idle_kb"] / 1024
targets.append((f"ws event loop, peak RSS with {idle:,} idle", f"{mb:.1f} MB", "≤ 25 MB", mb <= 25, "one run"))

# --- 1b. CPU per message ----------------------------------------------------------
# A server that echoed this many messages spent at least one clock tick (10 ms)
# on them: at least 1 µs each, two system calls. Below it, 0 ticks can be honest.
MIN_MSGS_FOR_A_TICK = 10_000
# No echo costs a millisecond of CPU on loopback (a few µs is usual): above this,
# the figure is wrong (a server that is not the one loaded, a stray process).
MAX_CPU_US_PER_MSG = 1000.0

def cpu_impossible(x):
    """Why this run's CPU figures cannot be true, or None when they can."""
    n = x["messages"]
    if not n:
        return None
    srv, cli = x.get("cpu_server_secs"), x.get("cpu_client_secs")
    if srv is None or cli is None:
        return "no CPU figure for a run that echoed messages"
    if srv < 0 or cli < 0:
        return f"negative CPU time (server {srv} s, client {cli} s)"
    window = n / x["msgs_per_sec"] if x["msgs_per_sec"] else 0
    cores = os.cpu_count() or 1
    # One tick of slack for each reading.
    if srv > window * cores + 0.02 or cli > window * cores + 0.02:
        return f"more CPU (server {srv:.2f} s, client {cli:.2f} s) than {cores} cores have in {window:.2f} s"
    if n >= MIN_MSGS_FOR_A_TICK and (srv == 0 or cli == 0):
        return f"{n:,} messages echoed on 0 s of {'server' if srv == 0 else 'client'} CPU"
    total = x.get("cpu_total_us_per_msg")
    if n >= MIN_MSGS_FOR_A_TICK and total is not None and total > MAX_CPU_US_PER_MSG:
        return f"{total:.0f} µs of CPU per message, over the {MAX_CPU_US_PER_MSG:.0f} µs no echo costs"
    return None

def cpu_cells(rs):
    """server, client, total µs per message: medians over the runs."""
    if not rs:
        return ["–"] * 3
    out = []
    for key in ("cpu_server_us_per_msg", "cpu_client_us_per_msg", "cpu_total_us_per_msg"):
        xs = [x[key] for x in rs if x.get(key) is not None]
        out.append(f"{med(xs):.2f}" if xs else "–")
    return out

def cpu_check(section, name, rs):
    for x in rs or []:
        why = cpu_impossible(x)
        if why:
            count(section, f"{name}: impossible CPU figure", 1, why)

lines += ["### CPU per message", "", anchor("cpu"),
          "| server | 1 conn: server µs/msg | client µs/msg | total µs/msg "
          "| 8 conns: server µs/msg | client µs/msg | total µs/msg |",
          "|---|---:|---:|---:|---:|---:|---:|"]
for r in rows:
    cpu_check("cpu", r["name"], r.get("c1_runs"))
    cpu_check("cpu", r["name"], r.get("c8_runs"))
    lines.append(f"| {r['name']} | " + " | ".join(cpu_cells(r.get("c1_runs")) + cpu_cells(r.get("c8_runs"))) + " |")
lines += ["", "CPU time (user + system) spent during each ping-pong run above, divided by its round "
          "trips, median of the runs: the server's from `/proc/PID/stat` (every thread of its "
          "process, counted in 10 ms clock ticks: a run of seconds makes that a percent or two), "
          "the client's (`socklab bench`, its own process) from `getrusage`. "
          "On loopback the sender's system call also runs the receiver's wake-up (the kernel "
          "queues the bytes and wakes the peer inside `send`), so each side is charged part of "
          "the other's work: compare servers by the total.", anchor_end("cpu"), ""]
for proto, ev, th in (("tcp", "tcp event loop (v3)", "tcp threads (v2)"), ("ws", "ws event loop", "ws threads")):
    for side in ("server", "total"):
        key = f"cpu_{side}_us_per_msg"
        a = [x[key] for x in (by.get(ev) or {}).get("c8_runs") or [] if x.get(key) is not None]
        b = [x[key] for x in (by.get(th) or {}).get("c8_runs") or [] if x.get(key) is not None]
        if a and b:
            r = ratio(med(a), med(b))
            targets.append((f"{proto} event loop, 8 conns {side} CPU per message / threads'", f"{r:.3f}×",
                            "≤ 1.0×", r <= 1.0, "" if not overlap(spread(a), spread(b))
                            else "the two differ by less than their spread"))

# --- 2. fairness ----------------------------------------------------------------
fair = {r["name"]: r["runs"] for r in load("fair.jsonl")}
lines += ["### A light client beside two streaming ones", "", anchor("fairness"),
          "| server | light client p50 µs | p99 µs (min–max) | streamed MB/s | errors |",
          "|---|---:|---:|---:|---:|"]
for name, rs in fair.items():
    p99 = [x["rtt_p99_us"] for x in rs]
    e = sum(x["errors"] for x in rs)
    count("fairness", name, e, next((x["first_error"] for x in rs if x["first_error"]), None))
    lines.append(f"| {name} | {med([x['rtt_p50_us'] for x in rs]):,.1f} | {med(p99):,.1f} "
                 f"({min(p99):,.1f}–{max(p99):,.1f}) | {med([x['stream_mb_per_sec'] for x in rs]):,.1f} | {e} |")
lines += ["", f"One ping-pong connection (64-byte messages) measured while 2 more connections "
          f"stream 64 KiB binary messages at full speed ({{STREAM_WINDOW}} in flight each, every echo "
          f"read), {secs} s per run, median of {runs} runs; the event loop is one loop "
          "(`--loops 1`), so all three connections share it.".replace("{STREAM_WINDOW}", "4"),
          anchor_end("fairness"), ""]
for proto in ("tcp", "ws"):
    ev, th = fair.get(f"{proto} event-loop"), fair.get(f"{proto} threads")
    if ev and th:
        r = ratio(med([x["rtt_p99_us"] for x in ev]), med([x["rtt_p99_us"] for x in th]))
        targets.append((f"{proto} light client RTT p99 beside 2 streams, event loop / threads",
                        f"{r:.3f}×", "≤ 1×", r <= 1.0, cmp_cells(ev, th, "rtt_p99_us")))

# --- 3. connections per second, and the storm ------------------------------------
churn = {r["name"]: r["runs"] for r in load("churn.jsonl")}
lines += ["### Connections per second", "", anchor("churn"),
          "| server (event loop) | RUST_LOG | connections/s (min–max) | errors |", "|---|---|---:|---:|"]
for name, rs in churn.items():
    proto, level = name.split()
    ps = [x["per_sec"] for x in rs]
    e = sum(x["errors"] for x in rs)
    count("churn", name, e, next((x["first_error"] for x in rs if x["first_error"]), None))
    lines.append(f"| {proto} | {level} | {med(ps):,.0f} ({min(ps):,.0f}–{max(ps):,.0f}) | {e} |")
    if level == "info":
        targets.append((f"{proto} event loop, connections/s at RUST_LOG=info", f"{med(ps):,.0f}/s",
                        "≥ 1,000/s", med(ps) >= 1000, ""))
storm = {r["name"]: r["runs"] for r in load("storm.jsonl")}
storm_n = idle // 5
lines += ["", f"Each connection: connect, one 6-byte message, its echo, close (ws: the Upgrade "
          f"and the closing handshake too); one client, {secs} s per run, median of {runs} runs; "
          "server stderr to /dev/null.", anchor_end("churn"), "", "### A close storm", "", anchor("storm"),
          f"| server (event loop, RUST_LOG=info) | storm opened in s | fds before | fds just after | back to baseline in s | errors |",
          "|---|---:|---:|---:|---:|---:|"]
for name, rs in storm.items():
    backs = [x["back_ms"] for x in rs]
    e = sum(x["storm"]["errors"] for x in rs)
    count("storm", name, e, next((x["storm"]["first_error"] for x in rs if x["storm"]["first_error"]), None))
    never = sum(b is None for b in backs)
    # A run that never came back within 10 s counts as infinitely slow.
    m = med([b if b is not None else float("inf") for b in backs])
    back = "not within 10 s" if m == float("inf") else f"{m/1000:.1f}"
    if never:
        back += f" ({never} of {len(backs)} runs not within 10 s)"
    lines.append(f"| {name} | {med([x['storm']['open_secs'] for x in rs]):.2f} | "
                 f"{med([x['before'] for x in rs]):.0f} | {med([x['after'] for x in rs]):.0f} | {back} | {e} |")
    targets.append((f"{name} event loop, back to baseline fds after a {storm_n:,}-connection storm",
                    back if m == float("inf") else f"{m/1000:.1f} s", "≤ 5 s", m <= 5000, ""))
lines += ["", f"{storm_n:,} connections opened at once (8 threads) and dropped together without a "
          "byte; the server's fds (`/proc/PID/fd`) are counted before, right after, and every "
          f"0.1 s until back to the count before (at most 10 s); median of {runs} storms. "
          "Opening takes seconds because the accept queue (backlog 128) overflows and the "
          "kernel drops SYNs, which clients resend a second later.", anchor_end("storm"), ""]

# --- 4. ping flood -----------------------------------------------------------------
flood = {r["name"]: r["runs"] for r in load("flood.jsonl")}
lines += ["### Ping flood", "", anchor("flood"),
          "| server | peak RSS MB (min–max) | RSS at start MB | Pings sent | attacker closed | closed after s |",
          "|---|---:|---:|---:|---:|---:|"]
for name, rs in flood.items():
    peaks = [x["rss_peak_kb"] / 1024 for x in rs]
    closed = [x["flood"]["closed"] for x in rs]
    after = [x["flood"]["closed_after_secs"] for x in rs if x["flood"]["closed"]]
    lines.append(f"| {name} | {med(peaks):.1f} ({min(peaks):.1f}–{max(peaks):.1f}) | "
                 f"{med([x['rss_start_kb'] / 1024 for x in rs]):.1f} | "
                 f"{med([x['flood']['pings_sent'] for x in rs]):,.0f} | {sum(closed)} of {len(rs)} | "
                 f"{(f'{med(after):.2f}') if after else '–'} |")
    targets.append((f"{name}, peak RSS under a ping flood", f"{med(peaks):.1f} MB", "< 64 MB", med(peaks) < 64, ""))
    targets.append((f"{name}, the flooder closed by --write-stall-timeout 1", f"{sum(closed)} of {len(rs)} runs",
                    "every run", all(closed), ""))
lines += ["", f"`ping-flood`: one client with a 1 KiB receive buffer asked for, sending 125-byte "
          f"Pings 64 per `write()` for {flood_secs} s and never reading; each run on a fresh server "
          f"started with `--write-stall-timeout 1`, {runs} runs per row. \"Closed\" means the "
          "attacker's `write()` failed (the server reset the connection).", anchor_end("flood"), ""]

# --- 5. memory per idle connection ----------------------------------------------------
mem = {r["name"]: r["runs"] for r in load("mem.jsonl")}
steps = sorted({int(n.split()[-1]) for n in mem})
lines += ["### Memory per idle WebSocket connection", "", anchor("memory"),
          "| server | " + " | ".join(f"{n:,} idle: KiB per connection" for n in steps) + " |",
          "|---|" + "---:|" * len(steps)]
for model in ("event-loop", "threads"):
    cells = []
    for n in steps:
        rs = mem.get(f"ws {model} {n}")
        if not rs:
            cells.append("–")
            continue
        e = sum(x["bench"]["errors"] for x in rs)
        count("memory", f"ws {model} {n}", e, next((x["bench"]["first_error"] for x in rs if x["bench"]["first_error"]), None))
        per = [(x["rss_peak_kb"] - x["rss_start_kb"]) / n for x in rs]
        cells.append(f"{med(per):.1f} ({min(per):.1f}–{max(per):.1f})")
    lines.append(f"| ws {model} | " + " | ".join(cells) + " |")
lines += ["", "Peak RSS (VmHWM) with N idle connections plus one ping-pong connection, minus "
          f"RSS at start, divided by N; median (min–max) of {runs} runs, each on a fresh server.",
          anchor_end("memory"), ""]

# --- 5b. permessage-deflate ----------------------------------------------------------
dmem = {r["name"]: r["runs"] for r in load("deflate-mem.jsonl")}
drate = {r["name"]: r["runs"] for r in load("deflate-rate.jsonl")}
if dmem or drate:
    dsteps = sorted({int(n.split()[-1]) for n in dmem})
    lines += ["### permessage-deflate: memory per connection, messages per second", "", anchor("deflate"),
              "| ws event loop, each connection | "
              + " | ".join(f"{n:,} idle: KiB per connection" for n in dsteps)
              + " | 8 conns: msgs/s (min–max) | payload bytes/msg on the wire |",
              "|---|" + "---:|" * (len(dsteps) + 2)]
    for mode, label in (("plain", "plain ws (no extension offered)"),
                        ("deflate", "permessage-deflate, context takeover"),
                        ("no-context-takeover", "permessage-deflate, no context takeover")):
        cells = []
        for n in dsteps:
            rs = [x for x in dmem.get(f"{mode} {n}", []) if x["load"]]
            if not rs:
                cells.append("–")
                continue
            count("deflate memory", f"{mode} {n}", sum(x["load"]["errors"] for x in rs),
                  next((x["load"]["first_error"] for x in rs if x["load"]["first_error"]), None))
            per = [(x["rss_peak_kb"] - x["rss_start_kb"]) / n for x in rs]
            cells.append(f"{med(per):.1f} ({min(per):.1f}–{max(per):.1f})")
        rs = [x for x in drate.get(mode, []) if x]
        if rs:
            count("deflate msgs/s", mode, sum(x["errors"] for x in rs),
                  next((x["first_error"] for x in rs if x["first_error"]), None))
            m = [x["msgs_per_sec"] for x in rs]
            cells.append(f"{med(m):,.0f} ({min(m):,.0f}–{max(m):,.0f})")
            cells.append(f"{rs[0]['wire_payload']} of 256")
        else:
            cells += ["–", "–"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "Peak RSS (VmHWM) with N idle connections, each of which offered what its row says and "
              "exchanged one 256-byte message (so every compression context the server keeps exists), "
              f"minus RSS at start, divided by N; then 8 connections of strict ping-pong with 256-byte "
              f"chat-like messages for {secs} s (`deflate-load`). Median (min–max) of {runs} runs, each on "
              "a fresh `socklab serve ws --deflate`.", anchor_end("deflate"), ""]

# --- 6. push subscribers ----------------------------------------------------------------
push = {r["name"]: r["runs"] for r in load("push.jsonl")}
names = {"sse": "Server-Sent Events", "ws": "WebSocket"}
lines += [f"### Push: {idle // 10:,} subscribers, Server-Sent Events against WebSocket", "", anchor("push"),
          "| technique | subscribers | events received | latency p50 ms (min–max) | p99 ms (min–max) "
          "| server peak RSS MB | KiB per subscriber | errors |",
          "|---|---:|---:|---:|---:|---:|---:|---:|"]
cells = {}
for name, rs in push.items():
    e = sum(x["subs"]["errors"] for x in rs)
    count("push", name, e, next((x["subs"]["first_error"] for x in rs if x["subs"]["first_error"]), None))
    ok = [x for x in rs if x["subs"]["latency_p99_us"] is not None]
    p50 = [x["subs"]["latency_p50_us"] / 1000 for x in ok] or [float("nan")]
    p99 = [x["subs"]["latency_p99_us"] / 1000 for x in ok] or [float("nan")]
    peak = med([x["rss_peak_kb"] for x in rs])
    per = med([(x["rss_peak_kb"] - x["rss_start_kb"]) / max(x["subs"]["subscribed"], 1) for x in rs])
    cells[name] = (med(p99), peak)
    lines.append(f"| {names.get(name, name)} | {med([x['subs']['subscribed'] for x in rs]):,.0f} "
                 f"| {med([x['subs']['events'] for x in rs]):,.0f} "
                 f"| {med(p50):.2f} ({min(p50):.2f}–{max(p50):.2f}) | {med(p99):.2f} ({min(p99):.2f}–{max(p99):.2f}) "
                 f"| {peak / 1024:.1f} | {per:.1f} | {e} |")
if "sse" in cells and "ws" in cells:
    lines += ["", f"WebSocket against SSE in this run: p99 latency {ratio(cells['ws'][0], cells['sse'][0]):.2f}×, "
              f"server peak RSS {ratio(cells['ws'][1], cells['sse'][1]):.2f}×."]
lines += ["", f"Each run: a fresh `socklab serve push --rate 10` (RUST_LOG=warn, its own process), "
          f"{idle // 10:,} subscribers opened by `push-subscribers` (one client thread, mio), then "
          f"every event they receive in {secs} s timed from its creation (`at_us`, stamped by the "
          f"server) to its arrival, on the same clock; median (min–max) of {runs} runs. KiB per "
          "subscriber: peak RSS minus RSS at start, divided by the subscribers.", anchor_end("push"), ""]

# --- 7. TLS ---------------------------------------------------------------------------
tls_rows = {r["name"]: r for r in load("tls.jsonl")}
lines += ["### TLS: wss against ws, and handshakes per second", "", anchor("tls"),
          "| server (event loop) | 1 conn msgs/s | p50 µs | p99 µs | 8 conns msgs/s | p50 µs | p99 µs "
          "| 8 conns: server CPU µs/msg | client µs/msg | total µs/msg | errors |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
for name in ("ws", "wss"):
    r = tls_rows.get(name)
    if not r:
        continue
    cells, e = [], 0
    for k in ("c1", "c8"):
        rs = r[k]
        e += sum(x["errors"] for x in rs)
        count("tls", f"{name} {k}", sum(x["errors"] for x in rs), next((x["first_error"] for x in rs if x["first_error"]), None))
        m = {key: med([x[key] for x in rs if x[key] is not None] or [float("nan")])
             for key in ("msgs_per_sec", "rtt_p50_us", "rtt_p99_us")}
        cells += [f"{m['msgs_per_sec']:,.0f}", f"{m['rtt_p50_us']:.1f}", f"{m['rtt_p99_us']:.1f}"]
        cpu_check("tls", f"{name} {k}", rs)
    cells += cpu_cells(r["c8"])
    lines.append(f"| {name} | " + " | ".join(cells) + f" | {e} |")
hs = {r["name"]: r["runs"] for r in load("handshakes.jsonl")}
lines += ["", "| scheme (event loop) | handshakes/s (min–max) | errors |", "|---|---:|---:|"]
for name, rs in hs.items():
    ps = [x["per_sec"] for x in rs]
    e = sum(x["errors"] for x in rs)
    count("handshakes", name, e, next((x["first_error"] for x in rs if x["first_error"]), None))
    lines.append(f"| {name} | {med(ps):,.0f} ({min(ps):,.0f}–{max(ps):,.0f}) | {e} |")
if "wss" in hs and "ws" in hs:
    lines += ["", f"In this run, wss completed "
              f"{ratio(med([x['per_sec'] for x in hs['wss']]), med([x['per_sec'] for x in hs['ws']])):.2f}× "
              "as many handshakes per second as ws."]
lines += ["", f"Ping-pong: `socklab serve ws` and `socklab serve wss` (event loops, {loops} loops, "
          "RUST_LOG=warn, each its own process) running together, loaded in turn within each run "
          f"(ws then wss, 1 then 8 connections), 64-byte messages, {secs} s per run, median of {runs} runs. "
          "Handshakes: one client opening and closing connections back to back with `churn --handshakes` "
          "(connect; TLS 1.3 for tls and wss, a full handshake each time: no resumption; the Upgrade for "
          f"ws and wss; the close), {secs} s per run, median (min–max) of {runs} runs, each scheme on its "
          "own server.", anchor_end("tls"), ""]
if "ws" in tls_rows and "wss" in tls_rows:
    ws_c8, wss_c8 = tls_rows["ws"]["c8"], tls_rows["wss"]["c8"]
    r = ratio(med([x["msgs_per_sec"] for x in wss_c8]), med([x["msgs_per_sec"] for x in ws_c8]))
    targets.append(("wss event loop, 8 conns msgs/s / ws's", f"{r:.3f}×", "≥ 0.8×", r >= 0.8,
                    cmp_cells(wss_c8, ws_c8, "msgs_per_sec")))

lines += ["### Targets", "", anchor("targets"), "| target | measured | goal | | note |", "|---|---:|---:|:---:|---|"]
lines += [f"| {a} | {b} | {c} | {verdict(d)} | {n} |" for a, b, c, d, n in targets]
lines += ["", "\"The two differ by less than their spread\": the ranges (min–max over the runs) "
          "of the two cells overlap, so this run cannot tell them apart.", anchor_end("targets")]
text = "\n".join(lines) + "\n"
open(out, "w").write(text)
print(text)
missed = [] if smoke else [t for t in targets if not t[3]]
for a, b, c, d, n in missed:
    print(f"bench.sh: goal MISSED: {a}: {b}, goal {c}", file=sys.stderr)
if errors:
    print("bench.sh: errors in: " + ", ".join(f"{k} ({v})" for k, v in errors.items()), file=sys.stderr)
    sys.exit(1)
if missed:
    sys.exit(3)
EOF
# --- 7. fan-out and the relay: scripts/fanout.sh, its own anchored tables ----------
fanout_status=0
fanout_smoke=(); $smoke && fanout_smoke=(--smoke)
scripts/fanout.sh --secs "$secs" --runs "$runs" --idle "$idle" --out "$work/fanout.md" "${fanout_smoke[@]}" >/dev/null || fanout_status=$?
[ -f "$work/fanout.md" ] && { echo; cat "$work/fanout.md"; } >>"$out"
if [ "$fanout_status" -ne 0 ] && [ "$status" -eq 0 ]; then
  echo "bench.sh: fan-out runs saw errors (see the fan-out table)" >&2
  status=1
fi
echo "written to $out" >&2
if [ "$status" -eq 3 ] && ! $goal_exit; then
  echo "bench.sh: goals MISSED; exit status 0 as --no-goal-exit asks" >&2
  status=0
fi
exit "$status"
