#!/usr/bin/env bash
# scripts/gen-lesson-docs.sh — the measured output of lessons 8, 16, 22 and 23.
#
# Usage: scripts/gen-lesson-docs.sh [--out DIR]
#   --out DIR   where to write (default docs/generated; scripts/gen-docs.sh runs it)
#
# Writes, each file opening with the commands that made it:
#   lesson-8-one-port.txt     `socklab serve ws` answering a plain GET / (the page,
#                             200) and then an Upgrade (101) on the same port: one log
#   lesson-16-refused.txt     the default Origin policy: a foreign Origin gets 403,
#                             the server's own page's Origin and no Origin get 101
#   lesson-16-allowed.txt     the same foreign Origin, let in by --allow-origin
#   lesson-22-layers.txt      the Upgrade and one WebSocket frame, captured and
#                             dissected by tshark layer by layer (IP, TCP, HTTP, WebSocket)
#   lesson-23-duplex.txt      both ends of one TCP connection writing at once
#                             (scripts/lessons/duplex.py), captured: the two
#                             directions interleaved on one timeline
# and prints an `ok …` line for each thing the lessons claim, FAIL otherwise (exit 1).
# Captures need root (or tcpdump with CAP_NET_RAW); tcpdump, tshark and curl are
# installed with apt when missing. Every server runs on a free loopback port and is
# stopped on every exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

out=docs/generated
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage "$0"; exit 0 ;;
    --out) out=${2:?}; shift ;;
    *) unknown_arg "$0" "$1" ;;
  esac
  shift
done
mkdir -p "$out"
apt_install tcpdump tshark curl iproute2
bin=${SOCKLAB:-$(socklab_bin)}
# The files say `socklab …`, as a reader types it once socklab is installed.
PATH="$(dirname "$bin"):$PATH"
# How long (s) to wait for tcpdump to start or a log line to appear.
DEADLINE=10

work=$(mktemp -d)
server=""
tcpdump_pid=""
cleanup() {
  [ -z "$tcpdump_pid" ] || kill -INT "$tcpdump_pid" 2>/dev/null || true
  [ -z "$server" ] || kill "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
failures=0

# serve LOG ARGS... : `socklab serve ws ARGS` in the background, logging to LOG.
serve() {
  local log=$1
  shift
  RUST_LOG=info socklab serve ws "$@" 2>"$log" &
  server=$!
  wait_port tcp "$port"
}
# unserve LOG : stop the server, then keep its log without the date (the time of
# day lines up with a capture) and without the lines of the stop itself.
unserve() {
  kill -INT "$server"
  wait "$server" 2>/dev/null || true
  server=""
  sed -i -E 's/^[0-9-]+T([0-9:.]+)Z /\1 /; s/(INFO|WARN) +/\1 /; /Ctrl-C: stopping/,$d' "$1"
}
# wait_log LOG PATTERN N : until the server has logged PATTERN N times (≤ DEADLINE s).
wait_log() {
  for _ in $(seq $((DEADLINE * 10))); do
    [ "$(grep -c "$2" "$1")" -ge "$3" ] && return 0
    sleep 0.1
  done
}
# shown CMD... : print `$ CMD`, then run it with its output and exit status shown.
shown() {
  echo "\$ $*"
  local status=0
  NO_COLOR=1 "$@" 2>&1 || status=$?
  [ "$status" -eq 0 ] || echo "(exit status $status)"
}
# start_tcpdump FILE FILTER / stop_tcpdump : as in scripts/capture.sh: -U and
# --immediate-mode write each packet at once; -Z root keeps the right to write FILE.
start_tcpdump() {
  local as_root=()
  [ "$(id -u)" -eq 0 ] && as_root=(-Z root)
  tcpdump -i lo -n -U --immediate-mode "${as_root[@]}" -w "$1" "$2" 2>"$1.log" &
  tcpdump_pid=$!
  for _ in $(seq $((DEADLINE * 10))); do
    grep -q 'listening on' "$1.log" && return 0
    kill -0 "$tcpdump_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "gen-lesson-docs.sh: tcpdump did not start (root, or CAP_NET_RAW, is needed): $(cat "$1.log")" >&2
  exit 1
}
stop_tcpdump() {
  wait_quiet "$1"
  kill -INT "$tcpdump_pid"
  wait "$tcpdump_pid" || true
  tcpdump_pid=""
}
# wait_quiet PORT : until only LISTEN and TIME-WAIT sockets remain on PORT, so the
# capture holds every packet of the teardown.
wait_quiet() {
  for _ in $(seq $((DEADLINE * 10))); do
    ss -tanH "( sport = :$1 or dport = :$1 )" | grep -qvE '^(LISTEN|TIME-WAIT)' || return 0
    sleep 0.1
  done
}

# --- lesson 8: the page and the WebSocket, one port, one log ----------------------
port=$(free_port)
log=$work/8.log
serve "$log" --addr "127.0.0.1:$port"
{
  echo "\$ RUST_LOG=info socklab serve ws --addr 127.0.0.1:$port 2>server.log &"
  echo "\$ curl -si http://127.0.0.1:$port/ | head -4        # a browser asking for the page"
  curl -si "http://127.0.0.1:$port/" >"$work/8.page" || true
  head -4 "$work/8.page" | tr -d '\r'
  shown socklab send "ws://127.0.0.1:$port/" hi
  wait_log "$log" 'close(fd' 2 # the server's last line for each connection
  unserve "$log"
  echo "\$ cat server.log                                  # both, on port $port"
  cat "$log"
} >"$work/lesson-8-one-port.txt"
check "lesson 8: GET / answered with the page" "HTTP/1.1 200 OK" "$(head -1 "$work/8.page" | tr -d '\r')"
check "lesson 8: the log shows the page served" 1 "$(grep -c 'GET / without Upgrade: serving the browser page' "$log")"
check "lesson 8: the log shows the Upgrade answered, same port" 1 \
  "$(grep -c "127.0.0.1:$port <-> .*101 Switching Protocols" "$log")"

# --- lesson 16: the Origin policy, refused and allowed ----------------------------
foreign=http://evil.example
port=$(free_port)
log=$work/16.log
serve "$log" --addr "127.0.0.1:$port"
{
  echo "\$ RUST_LOG=info socklab serve ws --addr 127.0.0.1:$port 2>server.log &    # the default policy"
  shown socklab send "ws://127.0.0.1:$port/" hi --origin "$foreign"
  echo
  echo "# the server's own page (Origin naming its Host), and a client with no Origin at all:"
  shown socklab send "ws://127.0.0.1:$port/" hi --origin "http://127.0.0.1:$port"
  shown socklab send "ws://127.0.0.1:$port/" hi
  wait_log "$log" 'close(fd' 3
  unserve "$log"
  echo
  echo "\$ grep -E '403|101' server.log"
  grep -E '403|101' "$log"
} >"$work/lesson-16-refused.txt"
check "lesson 16: a foreign Origin gets 403 naming --allow-origin" 1 \
  "$(grep -c "403 Forbidden: Origin $foreign is not allowed.*--allow-origin" "$log")"
check "lesson 16: the own page's Origin and no Origin get 101" 2 "$(grep -c '101 Switching Protocols' "$log")"
port=$(free_port)
log=$work/16b.log
serve "$log" --addr "127.0.0.1:$port" --allow-origin "$foreign"
{
  echo "\$ RUST_LOG=info socklab serve ws --addr 127.0.0.1:$port --allow-origin $foreign 2>server.log &"
  shown socklab send "ws://127.0.0.1:$port/" hi --origin "$foreign"
} >"$work/lesson-16-allowed.txt"
wait_log "$log" 'close(fd' 1
unserve "$log"
check "lesson 16: --allow-origin lets the same Origin in" 1 "$(grep -c '101 Switching Protocols' "$log")"

# --- lesson 22: one frame, layer by layer ---------------------------------------
port=$(free_port)
serve "$work/22.log" --addr "127.0.0.1:$port"
start_tcpdump "$work/ws.pcap" "tcp port $port"
NO_COLOR=1 socklab send "ws://127.0.0.1:$port/" hi --seed 1 >"$work/22.send" 2>&1
stop_tcpdump "$port"
unserve "$work/22.log"
# The Upgrade request, and the first frame the client sent (masked).
decode=(-r "$work/ws.pcap" -d "tcp.port==$port,http")
frames=$(tshark "${decode[@]}" -T fields -e frame.number \
  -Y 'http.request || (websocket.opcode == 1 && websocket.mask == 1)' 2>/dev/null | head -2 |
  sed 's/^/frame.number == /' | paste -sd'|' - | sed 's/|/ || /')
{
  echo "\$ socklab send ws://127.0.0.1:$port/ hi --seed 1    # under tcpdump -i lo -w ws.pcap"
  cat "$work/22.send"
  echo "\$ tshark -r ws.pcap -d tcp.port==$port,http -V -Y '$frames'"
  echo "# (each layer's heading and key lines; -V prints every field)"
  tshark "${decode[@]}" -V -Y "$frames" 2>/dev/null | python3 scripts/lessons/tshark_view.py layers
} >"$work/lesson-22-layers.txt"
layers=$(grep -E '^(Internet Protocol|Transmission Control|Hypertext|WebSocket)' "$work/lesson-22-layers.txt" |
  cut -d' ' -f1 | paste -sd' ' -)
check "lesson 22: IP > TCP > HTTP, then IP > TCP > WebSocket" \
  "Internet Transmission Hypertext Internet Transmission WebSocket" "$layers"
check "lesson 22: the Upgrade and the frame share one TCP stream" 1 \
  "$(grep -o '\[Stream index: [0-9]*\]' "$work/lesson-22-layers.txt" | sort -u | wc -l)"

# --- lesson 23: both ends writing at once ----------------------------------------
port=$(free_port)
LINES=5 # lines each end writes
start_tcpdump "$work/duplex.pcap" "tcp port $port"
status=0
python3 scripts/lessons/duplex.py "$port" "$LINES" >"$work/23.run" || status=$?
stop_tcpdump "$port"
{
  echo "\$ python3 scripts/lessons/duplex.py PORT $LINES    # under tcpdump -i lo -w duplex.pcap"
  cat "$work/23.run"
  echo
  echo "\$ tshark -r duplex.pcap -Y 'tcp.len > 0' -T fields -e frame.time_relative -e tcp.srcport -e tcp.dstport -e tcp.len -e tcp.payload"
  echo "# the segments that carry data, in the order they crossed; $port is the server"
  tshark -r "$work/duplex.pcap" -Y 'tcp.len > 0' -T fields -e frame.time_relative \
    -e tcp.srcport -e tcp.dstport -e tcp.len -e tcp.payload 2>/dev/null |
    python3 scripts/lessons/tshark_view.py timeline "$port"
} >"$work/lesson-23-duplex.txt"
check "lesson 23: each end received exactly the other's lines" 0 "$status"
# Interleaved: the direction changes more than once on the timeline (a
# request-response exchange of two bursts would change it once).
turns=$(grep -E '^ +[0-9.]+  (client|server)' "$work/lesson-23-duplex.txt" | awk '{print $2}' |
  uniq | wc -l)
check "lesson 23: the two directions interleave on one timeline" yes "$([ "$turns" -gt 2 ] && echo yes || echo no)"

for f in lesson-8-one-port lesson-16-refused lesson-16-allowed lesson-22-layers lesson-23-duplex; do
  cp "$work/$f.txt" "$out/$f.txt"
done
echo "wrote $out/lesson-{8-one-port,16-refused,16-allowed,22-layers,23-duplex}.txt"
[ "$failures" -eq 0 ]
