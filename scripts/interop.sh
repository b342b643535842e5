#!/usr/bin/env bash
# scripts/interop.sh — real third-party clients against socklab's servers.
#
# Usage: scripts/interop.sh
#
# Starts each server on a free loopback port, talks to it with a client socklab
# did not write, and compares what comes back byte for byte. Installs what it
# needs (ncat from Debian's package) when missing. Exits non-zero on any mismatch.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
source scripts/lib.sh

apt_install ncat iproute2
bin=$(socklab_bin)
failures=0
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

check() { # check NAME EXPECTED ACTUAL
  if [ "$2" == "$3" ]; then
    echo "ok   $1"
  else
    echo "FAIL $1: expected $(printf %q "$2"), got $(printf %q "$3")"
    failures=$((failures + 1))
  fi
}

# --- TCP and UDP echo with ncat ---------------------------------------------
for model in iterative threads; do
  port=$(free_port)
  RUST_LOG=warn "$bin" serve tcp --model "$model" --addr "127.0.0.1:$port" &
  pids+=($!)
  wait_port tcp "$port"
  # ncat sends the text, half-closes (--send-only is not used: we want the echo),
  # and prints what came back before the server's FIN.
  got=$(printf 'hello over tcp\nsecond line\n' | timeout 10 ncat 127.0.0.1 "$port")
  check "ncat tcp ($model)" $'hello over tcp\nsecond line' "$got"
  big=$(head -c 1000000 /dev/urandom | base64 -w0)
  got=$(printf '%s' "$big" | timeout 20 ncat 127.0.0.1 "$port" | sha256sum)
  check "ncat tcp 1 MB ($model)" "$(printf '%s' "$big" | sha256sum)" "$got"
done

port=$(free_port)
RUST_LOG=warn "$bin" serve udp --addr "127.0.0.1:$port" &
pids+=($!)
wait_port udp "$port"
# -u: UDP. ncat sends the line as one datagram. UDP has no FIN, so nothing tells
# ncat the exchange is over: stdin stays open while the echo comes back, and
# --idle-timeout (exit status 1, expected) ends ncat one second after it.
got=$({ printf 'hello over udp\n'; sleep 3; } | timeout 10 ncat -u --idle-timeout 1 127.0.0.1 "$port" 2>/dev/null || true)
check "ncat udp" "hello over udp" "$got"

# --- WebSocket clients (added by the WebSocket work) -------------------------

if [ "$failures" -ne 0 ]; then
  echo "interop: $failures failed"
  exit 1
fi
echo "interop: all passed"
