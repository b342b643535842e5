#!/usr/bin/env bash
# scripts/classroom.sh — `socklab classroom` with a class of real clients: 30
# students (ncat on tcp, `socklab send` and Python websockets on ws, Python on
# udp) against one classroom started with --code, watched by two dashboards:
# Python websockets counting the feed's events, and the page in headless
# Chromium (its rows must appear, then close; a screenshot is saved).
#
# Usage: scripts/classroom.sh [--screenshot PNG]   (default: target/classroom-dashboard.png)
#
# Installs what it needs when missing (ncat, Chromium, Python websockets in
# .tools/pyws, playwright-core in .tools/node), as scripts/interop.sh does.
# Prints one `ok`/`FAIL` line per check; exits non-zero on any FAIL.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

png=target/classroom-dashboard.png
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage "$0"; exit 0 ;;
    --screenshot) png=${2:?--screenshot needs a path}; shift 2 ;;
    *) unknown_arg "$0" "$1" ;;
  esac
done

# The class: how many students of each kind, and the code they give.
NCAT=8 SEND=8 PYWS=8 UDP=6 CODE=owl
STUDENTS=$((NCAT + SEND + PYWS + UDP))
CLOSING=$((NCAT + SEND + PYWS)) # UDP peers close only after 30 s of silence

apt_install ncat
chromium=$(install_chromium)
need_venv
if ! .tools/pyws/bin/python -c 'import websockets' 2>/dev/null; then
  python3 -m venv .tools/pyws
  .tools/pyws/bin/pip install --quiet --disable-pip-version-check 'websockets>=13'
fi
if [ ! -f .tools/node/node_modules/playwright-core/package.json ]; then
  command -v npm >/dev/null || apt_install nodejs npm
  mkdir -p .tools/node
  npm install --prefix .tools/node --no-audit --no-fund --silent 'ws@8' 'playwright-core@1'
fi
bin=$(socklab_bin)
failures=0
pids=()
scratch=$(mktemp -d)
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$scratch"
}
trap cleanup EXIT

# The classroom on free loopback ports; its first stdout line is the URLs.
RUST_LOG=warn "$bin" classroom --addr 127.0.0.1 --port 0 --json --code "$CODE" >"$scratch/urls" &
pids+=($!)
for _ in $(seq 100); do [ -s "$scratch/urls" ] && break; sleep 0.1; done
url() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$scratch/urls" "$1"; }
dashboard=$(url dashboard) tcp=$(url tcp) udp=$(url udp) ws=$(url ws)
tcp=${tcp#tcp://} udp=${udp#udp://} ws=${ws#ws://}
ws=${ws%%/*} # host:port, without the path and the printed ?code=

# Two dashboards, subscribed before the first student arrives.
.tools/pyws/bin/python scripts/classroom/feed.py "${dashboard/http/ws}feed" "$scratch/feed-ready" \
  "$STUDENTS" "$CLOSING" >"$scratch/feed" 2>&1 &
pids+=($!)
CHROMIUM="$chromium" NODE_PATH=.tools/node/node_modules timeout 90 node scripts/interop/classroom_chromium.js \
  "$dashboard" "$scratch/page-ready" "$STUDENTS" "$CLOSING" "$png" >"$scratch/page" 2>&1 &
page=$!
pids+=($page)
for _ in $(seq 300); do [ -f "$scratch/feed-ready" ] && [ -f "$scratch/page-ready" ] && break; sleep 0.1; done
check "both dashboards subscribed" "yes" "$([ -f "$scratch/feed-ready" ] && [ -f "$scratch/page-ready" ] && echo yes || echo no)"

# The students. ncat: the code line is consumed, so only the second line comes back.
echoed=0
for i in $(seq "$NCAT"); do
  got=$(printf '%s\nncat student %s\n' "$CODE" "$i" | timeout 10 ncat "${tcp%:*}" "${tcp##*:}")
  [ "$got" = "ncat student $i" ] && echoed=$((echoed + 1))
done
check "ncat students: the code consumed, the line echoed" "$NCAT" "$echoed"
echoed=0
for i in $(seq "$SEND"); do
  got=$("$bin" send "ws://$ws/?code=$CODE" "send student $i" 2>&1 | grep -c '^←' || true)
  [ "$got" = 1 ] && echoed=$((echoed + 1))
done
check "socklab send students: one echo each" "$SEND" "$echoed"
got=$(timeout 60 .tools/pyws/bin/python scripts/classroom/students.py "ws://$ws/" "$udp" "$CODE" "$PYWS" "$UDP" 2>&1 || true)
check "python websockets and udp students" $'ws ok '"$PYWS"$'\nudp ok '"$UDP" "$got"

# What the dashboards saw: every student opened, every tcp and ws one closed;
# four frames per WebSocket student (text and Close, each way).
wait "$page" || true
check "chromium dashboard: rows appear, then close" "PASS rows=$STUDENTS closed=$CLOSING" "$(cat "$scratch/page")"
check "screenshot saved" "yes" "$([ -s "$png" ] && echo yes || echo no)"
for _ in $(seq 600); do grep -q opens= "$scratch/feed" && break; sleep 0.1; done
check "feed: delivered + skipped = what the students did" \
  "opens=$STUDENTS closes=$CLOSING frames=$((4 * (SEND + PYWS))) skipped=0" "$(cat "$scratch/feed")"

[ "$failures" -eq 0 ]
