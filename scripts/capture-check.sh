#!/usr/bin/env bash
# scripts/capture-check.sh — assert what the captures of scripts/capture.sh must show.
#
# Usage: scripts/capture-check.sh [--push] [DIR]     (default DIR: captures/)
#
# Reads DIR/{tcp,udp,ws}.pcap with tshark and checks, printing "ok NAME" or "FAIL NAME":
#   ws:  one HTTP request (the Upgrade) and its 101; every client frame masked, every
#        server frame unmasked; a close frame each way; handshake and frames on ONE TCP
#        connection, one 4-tuple (lesson 7); no HTTP request after the 101 (lesson 14);
#   tcp: nothing in it is HTTP, even when tshark is told to read the port as HTTP;
#   udp: exactly one datagram per message each way, each carrying that message whole.
#   tcp-timeline.txt, ws-timeline.txt: in time order; each state the kernel reported
#        (send --states) is one the packets went through.
# With --push, DIR/push-*.pcap from `scripts/capture.sh --push` instead:
#   poll, long poll: several requests on ONE 4-tuple, X-Request-Number 1, 2, 3 … (keep-alive,
#        lesson 21); close: each request asking `Connection: close` gets it, on its own
#        connection, and the server sends the first FIN;
#   stream, SSE: one request, one connection, chunked / text/event-stream;
#   ws:  one HTTP request (the Upgrade) and its 101, nothing after (lesson 14); server frames
#        unmasked, client frames masked; the client's message sent between two events the
#        server pushed (full duplex, lesson 12); one 4-tuple.
# Exits non-zero if any check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
push=false
case "${1:-}" in
  -h|--help) usage "$0"; exit 0 ;;
  --push) push=true; shift ;;
esac
# What is left is DIR, at most one, and not an option.
case "${1:-}" in -*) unknown_arg "$0" "$1" ;; esac
[ $# -le 1 ] || unknown_arg "$0" "$2"
dir=${1:-captures}
failures=0
# count PCAP FILTER [tshark args] : how many packets in PCAP match the display FILTER.
count() {
  local pcap=$1 filter=$2
  shift 2
  tshark -r "$dir/$pcap" "$@" -Y "$filter" -T fields -e frame.number 2>/dev/null | wc -l
}
# values PCAP FILTER FIELD [tshark args] : FIELD of the matching packets, one value
# a line. A segment carrying two WebSocket frames gives two values (tshark joins them
# with commas; the messages here have none), so frames are counted, not segments.
values() {
  local pcap=$1 filter=$2 field=$3
  shift 3
  tshark -r "$dir/$pcap" "$@" -Y "$filter" -T fields -E aggregator=, -e "$field" 2>/dev/null |
    tr ',' '\n'
}
# frames PCAP FILTER MASK : how many WebSocket frames in matching packets have MASK set (1) or not (0).
frames() {
  values "$1" "websocket && $2" websocket.mask -d "tcp.port==$ws_port,http" | grep -cx "$3" || true
}
# tuples PCAP : the distinct 4-tuples, each written the same way whichever way it went.
tuples() {
  tshark -r "$dir/$1" -T fields -e ip.src -e tcp.srcport -e ip.dst -e tcp.dstport 2>/dev/null |
    awk '{ a = $1 ":" $2; b = $3 ":" $4; print (a < b) ? a " " b : b " " a }' | sort -u
}
if $push; then
  # shellcheck source=scripts/capture/push-check.sh
  source scripts/capture/push-check.sh
  exit 0
fi

# capture.env holds tcp_port, udp_port, ws_port and messages, written by capture.sh.
# shellcheck source=/dev/null
source "$dir/capture.env"
# shellcheck disable=SC2154 # all four come from capture.env
tcp_port=${tcp_port:?} udp_port=${udp_port:?} ws_port=${ws_port:?} messages=${messages:?}
read -r -a msgs <<<"$messages"
n=${#msgs[@]}
failures=0

# How the messages should look as lines: one per message, in order.
expected=$(printf '%s\n' "${msgs[@]}")

# --- ws.pcap -----------------------------------------------------------------
P=$ws_port
ws=(-d "tcp.port==$P,http")
check "ws: one 101 Switching Protocols" 1 "$(count ws.pcap 'http.response.code == 101' "${ws[@]}")"
check "ws: one HTTP request in all (the Upgrade; nothing after it polls)" 1 \
  "$(count ws.pcap 'http.request' "${ws[@]}")"
check "ws: the request asks for Upgrade: websocket" websocket \
  "$(values ws.pcap 'http.request' http.upgrade "${ws[@]}")"
check "ws: no client frame unmasked" 0 "$(frames ws.pcap "tcp.dstport == $P" 0)"
check "ws: client frames (messages + close) all masked" $((n + 1)) \
  "$(frames ws.pcap "tcp.dstport == $P" 1)"
check "ws: no server frame masked" 0 "$(frames ws.pcap "tcp.srcport == $P" 1)"
check "ws: server frames (echoes + close) all unmasked" $((n + 1)) \
  "$(frames ws.pcap "tcp.srcport == $P" 0)"
check "ws: client sent the messages as text frames" "$expected" \
  "$(values ws.pcap "websocket.opcode == 1 && tcp.dstport == $P" websocket.payload.text "${ws[@]}")"
check "ws: server echoed them as text frames" "$expected" \
  "$(values ws.pcap "websocket.opcode == 1 && tcp.srcport == $P" websocket.payload.text "${ws[@]}")"
check "ws: close frame client → server (1000)" 1000 \
  "$(values ws.pcap "websocket.opcode == 8 && tcp.dstport == $P" \
    websocket.payload.close.status_code "${ws[@]}")"
check "ws: close frame server → client (1000)" 1000 \
  "$(values ws.pcap "websocket.opcode == 8 && tcp.srcport == $P" \
    websocket.payload.close.status_code "${ws[@]}")"
check "ws: one TCP connection carries handshake and frames" 0 \
  "$(values ws.pcap 'tcp' tcp.stream | sort -u | tr '\n' ' ' | sed 's/ $//')"
check "ws: one 4-tuple for every packet" 1 "$(tuples ws.pcap | wc -l)"
check "ws: one SYN (a second connection would add one)" 1 \
  "$(count ws.pcap 'tcp.flags.syn == 1 && tcp.flags.ack == 0')"
check "ws: FIN each way, no RST" "2 0" \
  "$(count ws.pcap 'tcp.flags.fin == 1') $(count ws.pcap 'tcp.flags.reset == 1')"

# --- tcp.pcap ----------------------------------------------------------------
P=$tcp_port
check "tcp: no HTTP or WebSocket, even decoded as HTTP" 0 \
  "$(count tcp.pcap 'http.request || http.response || websocket' -d "tcp.port==$P,http")"
check "tcp: the echo returned every byte sent" \
  "$(values tcp.pcap "tcp.dstport == $P && tcp.len > 0" tcp.payload | tr -d '\n')" \
  "$(values tcp.pcap "tcp.srcport == $P && tcp.len > 0" tcp.payload | tr -d '\n')"
check "tcp: FIN each way, no RST" "2 0" \
  "$(count tcp.pcap 'tcp.flags.fin == 1') $(count tcp.pcap 'tcp.flags.reset == 1')"

# --- udp.pcap ----------------------------------------------------------------
P=$udp_port
text=(-o data.show_as_text:TRUE)
check "udp: one datagram per message, client → server" "$n" \
  "$(count udp.pcap "udp.dstport == $P")"
check "udp: one datagram per message, server → client" "$n" \
  "$(count udp.pcap "udp.srcport == $P")"
check "udp: each datagram sent carries one whole message" "$expected" \
  "$(values udp.pcap "udp.dstport == $P" data.text "${text[@]}")"
check "udp: each echo carries one whole message" "$expected" \
  "$(values udp.pcap "udp.srcport == $P" data.text "${text[@]}")"

# --- the timelines -------------------------------------------------------------
# First the state machine that makes them, on made-up conversations (a
# simultaneous close, a reset: cases one capture does not show).
while read -r line; do
  echo "$line"
  [[ $line == ok* ]] || failures=$((failures + 1))
done < <(python3 scripts/capture/timeline.py --self-test)
# timeline_order FILE : "ordered", or the first line whose time is earlier than the
# line before it. A packet line's time is its 2nd column, a >> state line's its 1st.
timeline_order() {
  awk '/^ *#/ || NF == 0 { next }
    { t = ($2 == ">>") ? $1 : $2 }
    t + 0 < last + 0 { print "out of order: " $0; bad = 1; exit }
    { last = t }
    END { if (!bad) print "ordered" }' "$1"
}
for t in tcp ws; do
  check "$t timeline: packets and states in time order" ordered \
    "$(timeline_order "$dir/$t-timeline.txt")"
  check "$t timeline: every state the kernel reported is one the packets went through" 0 \
    "$(grep -c 'NOT in the packets' "$dir/$t-timeline.txt" || true)"
  check "$t timeline: the states start with the handshake" \
    "client SYN_SENT server SYN_RECV" \
    "$(grep -m1 -E '^ +[0-9.]+ +>>' "$dir/$t-timeline.txt" | sed -E 's/.*>> //; s/ +/ /g')"
done

if [ "$failures" -ne 0 ]; then
  echo "capture-check: $failures failed"
  exit 1
fi
