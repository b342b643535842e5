#!/usr/bin/env bash
# scripts/gen-bridge-docs.sh — the transcripts docs/bridge.md quotes (run by gen-docs.sh).
#
# Usage: scripts/gen-bridge-docs.sh
#
# Starts tcp-echo and `socklab bridge --wire-log` on free loopback ports, sends
# two messages through the bridge with `socklab send --binary --wire`, and
# writes the three views of that one exchange to docs/generated/: the client's
# (framed), the bridge's (both legs), tcp-echo's (bare bytes). Then the same
# bridge pointed at a port where nothing listens (close 1011).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
no_args "$0" "$@"
bin=$(socklab_bin)
out=docs/generated
mkdir -p "$out"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
# Drop the date, keep the time.
untime() { sed -E 's/^[0-9-]+T([0-9:.]+)Z/\1/' "$1"; }

echo_log=$(mktemp) bridge_log=$(mktemp)
echo_port=$(free_port)
RUST_LOG=info "$bin" serve tcp --loops 1 --addr "127.0.0.1:$echo_port" 2>"$echo_log" &
pids+=($!)
wait_port tcp "$echo_port"
port=$(free_port)
RUST_LOG=info "$bin" bridge --loops 1 --wire-log --listen "ws://127.0.0.1:$port/" \
  --to "tcp://127.0.0.1:$echo_port" 2>"$bridge_log" &
bridge=$!
pids+=($bridge)
wait_port tcp "$port"
{
  echo "\$ socklab send ws://127.0.0.1:$port/ hello 'two words' --binary --wire"
  NO_COLOR=1 "$bin" send "ws://127.0.0.1:$port/" hello 'two words' --binary --wire
} >"$out/bridge-send.txt"
# The bridge logs the TCP leg's close(2) last: wait for it, then stop both.
for _ in $(seq 100); do grep -q 'close(fd .*TIME_WAIT\|close(fd [0-9]*): ' "$bridge_log" && break; sleep 0.1; done
cleanup
pids=()
# Without the listener's setup and what stopping the servers logs.
trim() { untime "$1" | sed '/Ctrl-C: stopping/,$d' | grep -v 'listen(\|bind(\|setsockopt(\|socket(AF_'; }
trim "$bridge_log" >"$out/bridge-server.log"
trim "$echo_log" >"$out/bridge-tcp-echo.log"
rm -f "$echo_log" "$bridge_log"

# --- a target that refuses -----------------------------------------------------
dead=$(free_port)
port=$(free_port)
bridge_log=$(mktemp)
RUST_LOG=info "$bin" bridge --loops 1 --listen "ws://127.0.0.1:$port/" --to "tcp://127.0.0.1:$dead" 2>"$bridge_log" &
pids+=($!)
wait_port tcp "$port"
{
  echo "\$ socklab send ws://127.0.0.1:$port/ --listen 2 (nothing listens on $dead)"
  NO_COLOR=1 "$bin" send "ws://127.0.0.1:$port/" --listen 2
  echo
  echo "the bridge's log:"
  untime "$bridge_log" | grep 'tcp leg\|close frame'
} >"$out/bridge-refused.txt"
rm -f "$bridge_log"
echo "wrote $out/bridge-send.txt, $out/bridge-server.log, $out/bridge-tcp-echo.log, $out/bridge-refused.txt"
