#!/usr/bin/env bash
# scripts/socketio.sh — socket.io, for what it is (lesson 19): four clients against a
# real socket.io server, every byte they exchange written down.
#
# Usage: scripts/socketio.sh --out DIR
#
# Starts scripts/interop/sio_server.js (npm socket.io v4; it binds port 0 on
# 127.0.0.1, prints the port it got, pings every 300 ms, drops a client that has
# not answered 300 ms later, and exits by itself after 30 s), then writes to DIR:
#   sio-plain-ws.txt  `socklab send … --listen 3 --wire`: a plain WebSocket client.
#                     The Upgrade succeeds, the open packet 0{…} arrives, then the
#                     unanswered ping 2 and the server's close.
#   sio-browser.txt   the same URL with a browser's `new WebSocket()` (headless
#                     Chromium): open, the same two messages, close 1005.
#   sio-polling.txt   the long-polling start by hand (curl), joining the namespace
#                     (40), then the upgrade to WebSocket with socklab (2probe, 5).
#   sio-client.txt    a real socket.io client (npm socket.io-client v4): every
#                     Engine.IO packet both ways, 0, 40, 2probe/3probe/5,
#                     42[…]/43[…], 2/3.
# Each file starts with the command that produced it, the real port included.
# scripts/interop.sh checks these files; scripts/gen-docs.sh keeps them in
# docs/generated/. Installs into .tools/node when missing: socket.io,
# socket.io-client and playwright-core (which drives Debian's Chromium; it
# downloads no browser). Loopback only; bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
out=""
case "${1:-}" in
  -h|--help) usage "$0"; exit 0 ;;
  --out) out=${2:?--out needs a directory} ;;
  *) usage "$0" >&2; exit 2 ;;
esac
mkdir -p "$out"

SERVER_LIFETIME=30 # seconds: sio_server.js exits by itself after this
LISTEN=3           # seconds the plain client listens; the server drops it in ~0.6 s

command -v npm >/dev/null || apt_install nodejs npm
# curl plays the HTTP long-polling client by hand (Engine.IO's open, 40, the poll).
apt_install curl
chromium=$(install_chromium)
node_modules=.tools/node/node_modules
if [ ! -f $node_modules/socket.io/package.json ] ||
   [ ! -f $node_modules/socket.io-client/package.json ] ||
   [ ! -f $node_modules/playwright-core/package.json ]; then
  echo "installing Node socket.io, socket.io-client and playwright-core into .tools/node" >&2
  mkdir -p .tools/node
  npm install --prefix .tools/node --no-audit --no-fund --silent \
    'socket.io@4' 'socket.io-client@4' 'playwright-core@1'
fi
bin=$(socklab_bin)
export NODE_PATH=$node_modules NO_COLOR=1

server_out=$(mktemp)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -f "$server_out"; }
trap cleanup EXIT
node scripts/interop/sio_server.js "$SERVER_LIFETIME" >"$server_out" &
pid=$!
# The server prints "port N" once listen() has bound; wait for it (≤ 10 s).
for _ in $(seq 100); do grep -q '^port ' "$server_out" && break; sleep 0.1; done
port=$(awk '/^port / { print $2 }' "$server_out")
[ -n "$port" ] || { echo "sio_server.js printed no port" >&2; exit 1; }
eio="127.0.0.1:$port/socket.io/?EIO=4"

# --- a plain WebSocket client: socklab --------------------------------------
{
  echo "\$ socklab send 'ws://$eio&transport=websocket' --listen $LISTEN --wire"
  timeout 20 "$bin" send "ws://$eio&transport=websocket" --listen "$LISTEN" --wire 2>&1 || true
} >"$out/sio-plain-ws.txt"

# --- the browser's own WebSocket, no socket.io library ----------------------
{
  echo "\$ node scripts/interop/sio_browser.js 'ws://$eio&transport=websocket'"
  CHROMIUM=$chromium timeout 60 node scripts/interop/sio_browser.js "ws://$eio&transport=websocket" 2>&1 || true
} >"$out/sio-browser.txt"

# --- long polling by hand, then the upgrade ---------------------------------
# The server pings 300 ms after the open packet and wants the pong 300 ms later:
# these steps take a few milliseconds each, so the upgrade is done well before.
{
  echo "\$ curl -s 'http://$eio&transport=polling'"
  open=$(curl -s --max-time 5 "http://$eio&transport=polling")
  echo "$open"
  sid=$(sed -nE 's/^0\{"sid":"([^"]+)".*/\1/p' <<<"$open")
  echo "\$ curl -s -d 40 'http://$eio&transport=polling&sid=$sid'"
  curl -s --max-time 5 -d 40 "http://$eio&transport=polling&sid=$sid"
  echo
  echo "\$ curl -s 'http://$eio&transport=polling&sid=$sid'"
  curl -s --max-time 5 "http://$eio&transport=polling&sid=$sid"
  echo
  echo "\$ socklab send 'ws://$eio&transport=websocket&sid=$sid' 2probe 5 --listen $LISTEN"
  timeout 20 "$bin" send "ws://$eio&transport=websocket&sid=$sid" 2probe 5 --listen "$LISTEN" 2>&1 || true
} >"$out/sio-polling.txt"

# --- a real socket.io client ------------------------------------------------
{
  echo "\$ node scripts/interop/sio_client.js http://127.0.0.1:$port"
  timeout 20 node scripts/interop/sio_client.js "http://127.0.0.1:$port" 2>&1 || true
} >"$out/sio-client.txt"

echo "wrote $out/sio-plain-ws.txt, sio-browser.txt, sio-polling.txt, sio-client.txt" >&2
