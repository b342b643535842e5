#!/usr/bin/env bash
# scripts/interop.sh — real third-party clients against socklab's servers.
#
# Usage: scripts/interop.sh
#
# Starts each server on a free loopback port, talks to it with a client socklab
# did not write, and compares what comes back byte for byte. Installs what it
# needs when missing: from Debian, ncat and a headless Chromium (the package
# chromium-headless-shell, or chromium where that does not exist; both without
# recommends); Python websockets into .tools/pyws; Node ws and playwright-core
# into .tools/node (playwright downloads no browser: it drives Debian's);
# socket.io and socket.io-client into .tools/node (by scripts/socketio.sh);
# (the chat room: ncat, socklab chat tcp:// and ws:// and the page in Chromium, one line each);
# websockify (PyPI) into its own venv, .tools/websockify.
# Exits non-zero on any mismatch.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
no_args "$0" "$@"

apt_install ncat iproute2
bin=$(socklab_bin)
failures=0
pids=()
# Files this run writes (certificates), removed however it ends: a run leaves
# nothing in /tmp.
scratch=$(mktemp -d)
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$scratch"
}
trap cleanup EXIT

# --- TCP and UDP echo with ncat ---------------------------------------------
for model in iterative threads event-loop; do
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
# Three clients socklab did not write: Python's `websockets`, Node's `ws`, and a
# real browser (Debian's headless Chromium) running the page ws-echo serves.
# Each sends text and binary and checks both come back unchanged and typed alike.
chromium=$(install_chromium)
command -v npm >/dev/null || apt_install nodejs npm
need_venv
if ! .tools/pyws/bin/python -c 'import websockets' 2>/dev/null; then
  echo "installing Python websockets into .tools/pyws"
  python3 -m venv .tools/pyws
  .tools/pyws/bin/pip install --quiet --disable-pip-version-check 'websockets>=13'
fi
if [ ! -f .tools/node/node_modules/ws/package.json ] ||
   [ ! -f .tools/node/node_modules/playwright-core/package.json ]; then
  echo "installing Node ws and playwright-core into .tools/node"
  mkdir -p .tools/node
  npm install --prefix .tools/node --no-audit --no-fund --silent 'ws@8' 'playwright-core@1'
fi

port=$(free_port)
RUST_LOG=warn "$bin" serve ws --addr "127.0.0.1:$port" &
pids+=($!)
wait_port tcp "$port"

got=$(timeout 20 .tools/pyws/bin/python scripts/interop/ws_python.py "ws://127.0.0.1:$port/" 2>&1 || true)
check "python websockets: text, binary, 1 MiB, close" $'text ok\nbinary ok\n1 MiB ok\nclose 1000' "$got"

got=$(NODE_PATH=.tools/node/node_modules timeout 20 node scripts/interop/ws_node.js "ws://127.0.0.1:$port/" 2>&1 || true)
check "node ws: text, binary, close" $'text ok\nbinary ok\nclose 1000' "$got"

# Chromium loads the page over HTTP from ws-echo's port, and the page's ?auto
# script opens a WebSocket back to the same port, sends text and binary, closes
# with 1000 and writes the outcome into <pre id="result">. playwright-core drives
# the Chromium installed above ($CHROMIUM) and waits, in real time with a
# deadline, for that outcome.
got=$(CHROMIUM="$chromium" NODE_PATH=.tools/node/node_modules timeout 60 node scripts/interop/ws_chromium.js "http://127.0.0.1:$port/" 2>&1 || true)
check "chromium page: text, binary, close" "PASS text=true binary=true close=1000 extensions=none" "$got"

# --- permessage-deflate (RFC 7692): both clients with compression on -----------
# Both offer it by default, as a browser does; `serve ws --deflate` (both
# models) agrees, and every message comes back whole through both compressors.
for model in event-loop threads; do
  port=$(free_port)
  RUST_LOG=warn "$bin" serve ws --deflate --model "$model" --addr "127.0.0.1:$port" &
  pids+=($!)
  wait_port tcp "$port"
  got=$(timeout 20 .tools/pyws/bin/python scripts/interop/ws_deflate_python.py "ws://127.0.0.1:$port/" 2>&1 || true)
  check "python websockets, permessage-deflate ($model)" \
    $'extension permessage-deflate\njson ok\njson again ok\nbinary ok\n1 MiB ok\nclose 1000' "$got"
  got=$(NODE_PATH=.tools/node/node_modules timeout 20 node scripts/interop/ws_deflate_node.js "ws://127.0.0.1:$port/" 2>&1 || true)
  check "node ws, permessage-deflate ($model)" \
    $'extension permessage-deflate\njson ok\nshort ok\nbinary ok\nclose 1000' "$got"
  # Chromium offers permessage-deflate on every WebSocket; the page prints what
  # the 101 agreed to.
  got=$(CHROMIUM="$chromium" NODE_PATH=.tools/node/node_modules timeout 60 node scripts/interop/ws_chromium.js "http://127.0.0.1:$port/" 2>&1 || true)
  check "chromium page, permessage-deflate ($model)" \
    "PASS text=true binary=true close=1000 extensions=permessage-deflate" "$got"
done

# --- The bridge (lesson 15): socklab bridge and the real websockify ------------
# Both in the same role, in front of the same tcp-echo: a WebSocket in, one TCP
# connection out per client. Each is given the same clients: socklab's own
# (`send --binary`: websockify takes only binary frames) and Chromium running
# the bridge page (socklab bridge serves it on /; websockify serves the same
# file with --web). Then what each does with a target that refuses, and with a
# text frame. websockify pulls in numpy: it lives in .tools/websockify only.
if ! .tools/websockify/bin/websockify --help >/dev/null 2>&1; then
  echo "installing websockify (PyPI) into .tools/websockify"
  python3 -m venv .tools/websockify
  .tools/websockify/bin/pip install --quiet --disable-pip-version-check 'websockify==0.13.0'
fi
echo_port=$(free_port)
RUST_LOG=warn "$bin" serve tcp --addr "127.0.0.1:$echo_port" &
pids+=($!)
dead=$(free_port) # nothing listens here: a refusing target
web=$(mktemp -d -p "$scratch")
cp crates/bridge/src/page.html "$web/index.html"
start_bridges() { # $1: target port; sets ours and theirs
  ours=$(free_port)
  RUST_LOG=warn "$bin" bridge --listen "ws://127.0.0.1:$ours/" --to "tcp://127.0.0.1:$1" &
  pids+=($!)
  theirs=$(free_port)
  .tools/websockify/bin/websockify --web "$web" "127.0.0.1:$theirs" "127.0.0.1:$1" >/dev/null 2>&1 &
  pids+=($!)
  wait_port tcp "$ours"
  wait_port tcp "$theirs"
}
start_bridges "$echo_port"
wait_port tcp "$echo_port"
for side in "socklab-bridge:$ours" "websockify:$theirs"; do
  name=${side%%:*} port=${side##*:}
  got=$("$bin" send "ws://127.0.0.1:$port/" hello 'two words' --binary 2>&1 | grep '^←' || true)
  check "$name → tcp-echo: socklab send --binary" \
    $'← "hello" (5 bytes, one message)\n← "two words" (9 bytes, one message)' "$got"
  got=$(CHROMIUM="$chromium" NODE_PATH=.tools/node/node_modules timeout 60 node scripts/interop/ws_chromium.js "http://127.0.0.1:$port/" 2>&1 || true)
  check "$name → tcp-echo: chromium bridge page" "PASS utf8=true binary=true close=1000" "$got"
done
# A text frame: socklab bridge carries its bytes; websockify refuses it (1003).
got=$("$bin" send "ws://127.0.0.1:$ours/" hello 2>&1 | grep '^←' || true)
check "socklab-bridge: a text frame is carried" '← "hello" (5 bytes, one message)' "$got"
got=$("$bin" send "ws://127.0.0.1:$theirs/" hello --listen 2 --wire --no-color 2>&1 | grep -o 'close code  1003' | head -1 || true)
check "websockify: a text frame is closed with 1003" "close code  1003" "$got"
# A target that refuses: both close the WebSocket with 1011.
start_bridges "$dead"
for side in "socklab-bridge:$ours" "websockify:$theirs"; do
  name=${side%%:*} port=${side##*:}
  got=$("$bin" send "ws://127.0.0.1:$port/" --listen 3 --wire --no-color 2>&1 | grep -o 'close code  1011' | head -1 || true)
  check "$name → refusing target: close 1011" "close code  1011" "$got"
done
rm -rf "$web"

# --- The same clients over wss:// (lesson 17) ----------------------------------
# `socklab serve wss` makes a self-signed certificate at start and writes it to
# --cert-out. Python and Node trust exactly that file (verification stays on);
# Chromium loads the page over https:// and the page opens wss:// back to the
# same port — with --ignore-certificate-errors, in this test only.
for model in threads event-loop; do
  port=$(free_port)
  cert=$scratch/wss-$model.pem
  RUST_LOG=warn "$bin" serve wss --model "$model" --addr "127.0.0.1:$port" --cert-out "$cert" &
  pids+=($!)
  wait_port tcp "$port"
  got=$(timeout 20 .tools/pyws/bin/python scripts/interop/ws_python.py "wss://127.0.0.1:$port/" "$cert" 2>&1 || true)
  check "python websockets over wss ($model): text, binary, 1 MiB, close" $'text ok\nbinary ok\n1 MiB ok\nclose 1000' "$got"
  got=$(NODE_PATH=.tools/node/node_modules timeout 20 node scripts/interop/ws_node.js "wss://localhost:$port/" "$cert" 2>&1 || true)
  check "node ws over wss ($model): text, binary, close" $'text ok\nbinary ok\nclose 1000' "$got"
  got=$(CHROMIUM="$chromium" NODE_PATH=.tools/node/node_modules timeout 60 node scripts/interop/ws_chromium.js "https://127.0.0.1:$port/" 2>&1 || true)
  check "chromium https page over wss ($model): text, binary, close" "PASS text=true binary=true close=1000 extensions=none" "$got"
done

# --- The push server's page: the same events by four browser techniques -------
# Short polling, long polling, EventSource and WebSocket, in one page; the check
# compares the sequences of event ids each received (consecutive: nothing lost
# or doubled) and that a line published from the page reached all four.
port=$(free_port)
RUST_LOG=warn "$bin" serve push --rate 10 --hold 2 --addr "127.0.0.1:$port" &
pids+=($!)
wait_port tcp "$port"
got=$(CHROMIUM="$chromium" NODE_PATH=.tools/node/node_modules timeout 60 node scripts/interop/push_chromium.js "http://127.0.0.1:$port/" 2>&1 || true)
check "chromium push page: poll, long poll, SSE, WebSocket" "PASS every technique consecutive, all got the published line" "${got%% (*}"

# --- socket.io, for what it is (lesson 19) -------------------------------------
# scripts/socketio.sh runs four clients against a real socket.io server (npm
# socket.io v4, installed into .tools/node) and writes what each saw; the checks
# read those files. A plain WebSocket client gets through the Upgrade and is then
# dropped for not speaking Engine.IO; a real socket.io client is served.
sio=$(mktemp -d -p "$scratch")
scripts/socketio.sh --out "$sio"
# has FILE TEXT: "yes" when FILE has a line containing TEXT (fixed string).
has() { grep -qF -- "$2" "$sio/$1" && echo yes || echo no; }
# The direction of the first close frame in a --wire view: who closed first.
first_close=$(awk '/→ .* frame, in/ { dir = $1 } /opcode=0x8 CLOSE/ { print dir; exit }' "$sio/sio-plain-ws.txt")
check "socket.io, plain ws client: the query reaches the server" yes \
  "$(has sio-plain-ws.txt 'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1')"
check "socket.io, plain ws client: the Upgrade succeeds (101)" yes \
  "$(has sio-plain-ws.txt 'HTTP/1.1 101 Switching Protocols')"
check "socket.io, plain ws client: Engine.IO open 0{ received" yes "$(has sio-plain-ws.txt '← "0{\"sid\"')"
check "socket.io, plain ws client: the wire view names it" yes "$(has sio-plain-ws.txt 'engine.io   0 open')"
check "socket.io, plain ws client: ping 2 arrives, gets no pong" yes "$(has sio-plain-ws.txt '← "2" (1 bytes')"
check "socket.io, plain ws client: the server closes within 3 s" yes \
  "$(has sio-plain-ws.txt '← close frame from the server')"
check "socket.io, plain ws client: no close frame from us first" server "$first_close"
check "socket.io, browser new WebSocket(): open, 0{, 2, close 1005" \
  $'open\nmessage "0{…\nmessage "2"\nclose code=1005 wasClean=true' \
  "$(sed -E '1d; s/^ *[0-9]+ ms  //; s/^(message "0\{).*/\1…/' "$sio/sio-browser.txt")"
check "socket.io, long polling by hand: open over HTTP" yes "$(has sio-polling.txt '"upgrades":["websocket"]')"
check "socket.io, long polling by hand: 40 joins the namespace" yes "$(has sio-polling.txt '40{"sid"')"
check "socket.io, upgrade by hand: 2probe answered with 3probe" yes "$(has sio-polling.txt '← "3probe"')"
for packet in '← polling   "0{' '→ polling   "40"' '"40{\"sid\"' '→ websocket "2probe"' \
              '← websocket "3probe"' '→ websocket "5"' '→ websocket "420[\"echo\",\"hi\"]"' \
              '← websocket "430[\"hi\"]"' '← websocket "2"' '→ websocket "3"' 'ack: "hi"'; do
  check "socket.io client: $packet" yes "$(has sio-client.txt "$packet")"
done
rm -rf "$sio"

# --- The chat room (lessons 18 and 23): ncat, socklab chat and the page -------
# Four members of one `socklab serve chat`, four clients: ncat (raw TCP lines),
# `socklab chat tcp://…` (TCP, from the terminal: each typed line goes with its
# \n, or the room would wait for the end of it), `socklab chat ws://…` (WebSocket,
# from the terminal) and the page in headless Chromium. Each says one line; each
# must see the others'. ncat and socklab chat read their input from FIFOs held
# open, so they stay in the room while their lines arrive (both directions at
# once on one socket: full duplex).
chat_tcp=$(free_port) chat_ws=$(free_port)
RUST_LOG=warn "$bin" serve chat --tcp-addr "127.0.0.1:$chat_tcp" --ws-addr "127.0.0.1:$chat_ws" &
pids+=($!)
wait_port tcp "$chat_tcp"; wait_port tcp "$chat_ws"
chat=$(mktemp -d -p "$scratch")
mkfifo "$chat/ncat.in" "$chat/ws.in" "$chat/tcp.in"
timeout 60 ncat 127.0.0.1 "$chat_tcp" <"$chat/ncat.in" >"$chat/ncat.out" &
pids+=($!)
exec 7>"$chat/ncat.in"
NO_COLOR=1 timeout 60 "$bin" chat "ws://127.0.0.1:$chat_ws/" <"$chat/ws.in" >"$chat/ws.out" 2>&1 &
pids+=($!)
exec 8>"$chat/ws.in"
NO_COLOR=1 timeout 60 "$bin" chat "tcp://127.0.0.1:$chat_tcp" <"$chat/tcp.in" >"$chat/tcp.out" 2>&1 &
pids+=($!)
exec 9>"$chat/tcp.in"
# wait_for FILE TEXT : at most 20 s for TEXT to appear in FILE.
wait_for() { for _ in $(seq 200); do grep -qF -- "$2" "$1" && return 0; sleep 0.1; done; return 1; }
wait_for "$chat/ncat.out" "joined (3 members)" || true
CHROMIUM="$chromium" NODE_PATH=.tools/node/node_modules timeout 60 node scripts/interop/chat_chromium.js \
  "http://127.0.0.1:$chat_ws/" 4 "from chromium" "from ncat" "from socklab chat" "from chat tcp" \
  >"$chat/page.out" 2>&1 &
page=$!
wait_for "$chat/ncat.out" "joined (4 members)" || true
echo "from ncat" >&7
echo "from socklab chat" >&8
echo "from chat tcp" >&9
wait "$page" || true
has_line() { grep -qF -- "$2" "$1" && echo yes || echo no; }
check "chat: chromium page sees ncat, socklab chat ws:// and tcp://" \
  "PASS from_ncat=true from_socklab_chat=true from_chat_tcp=true" "$(cat "$chat/page.out")"
wait_for "$chat/ncat.out" "from chat tcp" || true
check "chat: ncat sees the page's line" yes "$(has_line "$chat/ncat.out" "from chromium")"
check "chat: ncat sees socklab chat's line" yes "$(has_line "$chat/ncat.out" "from socklab chat")"
check "chat: ncat sees socklab chat tcp://'s line" yes "$(has_line "$chat/ncat.out" "from chat tcp")"
wait_for "$chat/ws.out" "from chat tcp" || true
check "chat: socklab chat sees the page's line" yes "$(has_line "$chat/ws.out" "from chromium")"
check "chat: socklab chat sees ncat's line" yes "$(has_line "$chat/ws.out" "from ncat")"
check "chat: socklab chat ws:// sees chat tcp://'s line" yes "$(has_line "$chat/ws.out" "from chat tcp")"
wait_for "$chat/tcp.out" "from socklab chat" || true
check "chat: socklab chat tcp:// sees ncat's line" yes "$(has_line "$chat/tcp.out" "from ncat")"
check "chat: socklab chat tcp:// sees the ws:// line" yes "$(has_line "$chat/tcp.out" "from socklab chat")"
exec 7>&- 8>&- 9>&-
rm -rf "$chat"

# --- permessage-deflate, socklab's client side (issue 22) ------------------------
# shellcheck source=scripts/interop/deflate_client.sh
source scripts/interop/deflate_client.sh

if [ "$failures" -ne 0 ]; then
  echo "interop: $failures failed"
  exit 1
fi
echo "interop: all passed"
