#!/usr/bin/env bash
# scripts/hostile.sh — the hostile matrix: every attack against every server that speaks its protocol.
#
# Usage: scripts/hostile.sh [--list] [--only CASE]... [--server NAME]...
#   --list          the cases and the servers, one line each
#   --only CASE     run only this case (repeatable): upgrade-table, smuggling, ping-flood,
#                   big-messages, big-messages-48, slowloris, replay, sse-slow, publish-flood,
#                   half-hello, line-flood, never-reads, vanish, vanish-students, report-flood,
#                   feed-never-reads
#   --server NAME   only against this server (repeatable): ws, ws-threads, push, chat,
#                   bridge, wss, wss-threads, tcp, tls, classroom
# Example: scripts/hostile.sh --only ping-flood --server chat
#
# Each server runs as its own process from target/release/socklab (built if
# needed), on 127.0.0.1 with a free port, a 16 MiB --memory-budget (256 MiB
# for big-messages-48: the issue's 48 x 16 MiB figure) and a
# --stats-file the cases read: every case asserts the server's own counters,
# that its peak RSS stays within idle RSS + budget + 16 MiB, and that a fresh
# client is served while the attack's own counter shows it still running.
# The cases are in scripts/hostile/ (Python 3, standard library, raw sockets).
# Prints `ok   CASE@SERVER (...)` or `FAIL CASE@SERVER: why`; exits 1 if any failed.
# Every server it starts is killed at the end, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
case "${1:-}" in -h|--help) usage "$0"; exit 0 ;; esac

command -v python3 >/dev/null || { echo "hostile.sh needs python3" >&2; exit 1; }
bin=$(socklab_bin)
tmp=$(mktemp -d /tmp/socklab-hostile.XXXXXX)
cleanup() {
  # Only the processes the matrix started (it writes each pid down).
  if [ -f "$tmp/pids" ]; then
    while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done <"$tmp/pids"
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Many connections at once (vanish, half-hello): room for their descriptors.
ulimit -n 65536 2>/dev/null || true
status=0
python3 -u scripts/hostile/matrix.py --binary "$bin" --tmp "$tmp" "$@" || status=$?
if [ "$status" -ne 0 ] && [ -s "$tmp/servers.log" ]; then
  echo "# the servers' last log lines ($tmp/servers.log):"
  tail -n 15 "$tmp/servers.log" | sed 's/^/#   /'
fi
exit "$status"
