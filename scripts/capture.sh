#!/usr/bin/env bash
# scripts/capture.sh — the same echo exchange over TCP, UDP and WebSocket, captured side by side.
#
# Usage: scripts/capture.sh [--push] [--deflate] [--tls] [--out DIR] [--keep-servers] [--check]
#   --push           capture the push server's five techniques instead (see below)
#   --deflate        capture `send --deflate` against `serve ws --deflate` instead:
#                    the extension in the Upgrade, RSV1 on the frames (scripts/capture/deflate.sh)
#   --out DIR        where to write the captures (default: captures/, git-ignored)
#   --keep-servers   leave the servers running afterwards (PIDs and ports are printed)
#   --check          then assert what the captures must show (scripts/capture-check.sh DIR)
#   --tls            also capture tls:// and wss:// with a key log (SSLKEYLOGFILE), and
#                    decode each twice: as an observer (records only) and with the keys
#                    (the Upgrade and the frames inside); --check asserts both
#
# For each of tcp, udp and ws: start `socklab serve T` on a free loopback port, start
# tcpdump on `lo` filtered on that port, run one `socklab send` exchange (the same
# messages each time, then a clean close), stop tcpdump and decode with tshark. Writes
# DIR/T.pcap (open it in Wireshark), DIR/T.txt (one line per packet: time, direction,
# TCP flags, lengths, HTTP status, WebSocket opcode/mask/payload), DIR/T-send.txt (what
# `socklab send --states` printed), DIR/tcp-timeline.txt and ws-timeline.txt (the
# packets, each end's TCP state as the packets make it, and the kernel's own answers
# matched to them) and DIR/summary.txt (the side-by-side table).
#
# --push: one `socklab serve push --rate 20`, and one capture per technique, each
# the same few seconds of events received by scripts/capture/push_client.py:
# DIR/push-T.pcap and push-T.txt for T in poll, long-poll, stream, sse, ws, and
# close (two polls asking `Connection: close`); push-T-client.txt (what the client
# saw) and DIR/push-summary.txt: requests, connections, events and bytes per event
# for each technique, counted from the pcaps by tshark (scripts/capture/push_summary.py).
# Capturing needs root or CAP_NET_RAW; tcpdump and tshark are installed with apt if missing.
# Env: SOCKLAB=PATH uses that socklab binary instead of building target/release/socklab.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

out=captures
keep=false
check=false
push=false
deflate=false
tls=false
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage "$0"; exit 0 ;;
    --out) out=${2:?--out needs a directory}; shift ;;
    --keep-servers) keep=true ;;
    --check) check=true ;;
    --push) push=true ;;
    --deflate) deflate=true ;;
    --tls) tls=true ;;
    *) echo "capture.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

# The exchange, identical for the three transports: three messages, then a clean close.
MESSAGES=(hello socklab bye)
# How long (s) to wait for a server to listen, tcpdump to start, or a connection to end.
DEADLINE=10

# --- tools -------------------------------------------------------------------
# wireshark-common asks whether non-root users may capture; answer "no" up front so
# apt never stops at a question (capture.sh runs tcpdump itself, as root).
# (Not root: apt_install stops and prints the apt-get command to run as root.)
if { ! command -v tshark >/dev/null || ! command -v tcpdump >/dev/null; } && [ "$(id -u)" -eq 0 ]; then
  echo "wireshark-common wireshark-common/install-setuid boolean false" |
    debconf-set-selections
fi
apt_install tcpdump tshark iproute2
bin=${SOCKLAB:-$(socklab_bin)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# tshark warns on stderr when run as root; the warning is noise here.
tshark_q() { tshark "$@" 2>/dev/null; }

pids=()
tcpdump_pid=""
# On any exit: stop a tcpdump still running (a failed step), and the servers
# unless --keep-servers asked to leave them.
cleanup() {
  [ -z "$tcpdump_pid" ] || kill -INT "$tcpdump_pid" 2>/dev/null || true
  $keep && return 0
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# start_tcpdump FILE FILTER : capture on lo into FILE; returns once tcpdump listens.
# -U writes each packet to the file as it comes; --immediate-mode hands packets over
# without buffering; -Z root keeps root's right to write FILE (tcpdump otherwise drops
# to its own user first).
start_tcpdump() {
  local file=$1 filter=$2 err=$1.log
  local as_root=()
  [ "$(id -u)" -eq 0 ] && as_root=(-Z root)
  tcpdump -i lo -n -U --immediate-mode "${as_root[@]}" -w "$file" "$filter" 2>"$err" &
  tcpdump_pid=$!
  for _ in $(seq $((DEADLINE * 10))); do
    grep -q 'listening on' "$err" && return 0
    if ! kill -0 "$tcpdump_pid" 2>/dev/null; then
      if grep -qiE 'permission|not permitted' "$err"; then
        echo "capture.sh: no privilege to capture on lo: $(head -1 "$err")" >&2
        echo "  run it as root, or, as root, give tcpdump the capability to capture:" >&2
        echo "  setcap cap_net_raw,cap_net_admin=eip $(command -v tcpdump)" >&2
        exit 3
      fi
      echo "capture.sh: tcpdump failed: $(cat "$err")" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "capture.sh: tcpdump did not start within $DEADLINE s" >&2
  exit 1
}

# wait_quiet PORT : wait until no TCP socket on PORT is mid-connection (only LISTEN
# and TIME-WAIT remain), so the capture holds the whole teardown.
wait_quiet() {
  local port=$1
  for _ in $(seq $((DEADLINE * 10))); do
    ss -tanH "( sport = :$port or dport = :$port )" |
      grep -qvE '^(LISTEN|TIME-WAIT)' || return 0
    sleep 0.1
  done
  echo "capture.sh: connections on port $port still open after $DEADLINE s" >&2
}

# stop_tcpdump FILE : stop once FILE has stopped growing (every packet written), then
# SIGINT, which makes tcpdump flush and close the file.
stop_tcpdump() {
  local file=$1 last=-1 size
  for _ in $(seq 20); do
    size=$(stat -c %s "$file" 2>/dev/null || echo 0)
    [ "$size" -eq "$last" ] && break
    last=$size
    sleep 0.1
  done
  kill -INT "$tcpdump_pid"
  wait "$tcpdump_pid" || true
  tcpdump_pid=""
}

declare -A port url
# --- decode: one line per packet ---------------------------------------------------
# fields T : tab-separated fields of every packet in T.pcap, in the order of FIELDS.
# For ws, `-d tcp.port==P,http` makes tshark read our port as HTTP (on its own it
# only tries 80, 8080, ...), and after the 101, as WebSocket. tcp and udp are left
# to tshark: their bytes are plain data, which data.show_as_text prints as text.
FIELDS=(frame.number frame.time_relative ip.src ip.dst tcp.srcport tcp.dstport
  udp.srcport udp.dstport tcp.flags.syn tcp.flags.ack tcp.flags.push tcp.flags.fin
  tcp.flags.reset frame.len tcp.len udp.length tcp.stream http.request.method
  http.request.uri http.upgrade http.response.code http.response.phrase
  websocket.opcode websocket.mask websocket.masking_key websocket.payload.text
  websocket.payload.close.status_code data.text)
fields() {
  local t=$1 args=()
  for f in "${FIELDS[@]}"; do args+=(-e "$f"); done
  # push-*: the push server speaks HTTP (and WebSocket after an Upgrade) too.
  [[ $t == ws || $t == push-* ]] && args+=(-d "tcp.port==${port[$t]},http")
  tshark_q -r "$out/$t.pcap" -o data.show_as_text:TRUE \
    -T fields -E separator=/t -E aggregator=';' "${args[@]}"
}

# Shared by the two awk programs below: f("tcp.len") is that field of the current
# packet; sport, dport and payload (bytes of TCP or UDP data) are set per packet.
# shellcheck disable=SC2016
AWK_COMMON='
BEGIN { FS = "\t"; n = split(names, nm, " "); for (i = 1; i <= n; i++) col[nm[i]] = i }
function f(name) { return $(col[name]) }
{
  tcp = f("tcp.srcport") != ""
  sport = tcp ? f("tcp.srcport") : f("udp.srcport")
  dport = tcp ? f("tcp.dstport") : f("udp.dstport")
  # udp.length counts its own 8-byte header; tcp.len is the data alone.
  payload = tcp ? f("tcp.len") : f("udp.length") - 8
}'

# The per-packet line a person reads: who sent it, its TCP flags, the frame and
# payload lengths, and what it carries (HTTP line, WebSocket frames, echo data).
# shellcheck disable=SC2016
FORMAT='
function flags(  s) {
  s = ""
  if (f("tcp.flags.syn") == 1) s = s "SYN,"
  if (f("tcp.flags.fin") == 1) s = s "FIN,"
  if (f("tcp.flags.reset") == 1) s = s "RST,"
  if (f("tcp.flags.push") == 1) s = s "PSH,"
  if (f("tcp.flags.ack") == 1) s = s "ACK,"
  return s == "" ? "-" : substr(s, 1, length(s) - 1)
}
function opname(op) {
  return op == 0 ? "Continuation" : op == 1 ? "Text" : op == 2 ? "Binary" : \
         op == 8 ? "Close" : op == 9 ? "Ping" : op == 10 ? "Pong" : "opcode " op
}
function carries(  s, k, i, ops, masks, keys, texts) {
  s = ""
  if (f("http.request.method") != "")
    s = "HTTP " f("http.request.method") " " f("http.request.uri") \
        (f("http.upgrade") != "" ? " (Upgrade: " f("http.upgrade") ")" : "")
  if (f("http.response.code") != "")
    s = "HTTP " f("http.response.code") " " f("http.response.phrase")
  # One TCP segment may carry several frames: the fields come joined by ";".
  k = split(f("websocket.opcode"), ops, ";")
  split(f("websocket.mask"), masks, ";"); split(f("websocket.masking_key"), keys, ";")
  split(f("websocket.payload.text"), texts, ";")
  for (i = 1; i <= k; i++) {
    s = s (i > 1 ? " + " : "") "WS " opname(ops[i])
    s = s (masks[i] == 1 ? " MASKED key=" keys[i] : " unmasked")
    if (ops[i] == 8) s = s " code=" f("websocket.payload.close.status_code")
    else if (texts[i] != "") s = s " \"" texts[i] "\""
  }
  if (s == "" && f("data.text") != "") s = "data \"" f("data.text") "\""
  return s
}
{
  printf "%3d %9.3f  %s  %-11s %5d %7d  %s\n", f("frame.number"), \
    f("frame.time_relative") * 1000, \
    (sport == port ? "server → client" : "client → server"), \
    (tcp ? flags() : "(udp)"), f("frame.len"), payload, carries()
}'

# summary_row T : "packets frame-bytes payload-bytes handshake teardown 4-tuples".
# Handshake: the packets before the first message (ws: before the first frame).
# Teardown: the packets from the first FIN (ws: from the first close frame) on.
# shellcheck disable=SC2016
SUMMARY='
{
  total++; bytes += f("frame.len"); pay += payload
  ws_frames = f("websocket.opcode")
  if (!first_data && (t == "ws" ? ws_frames != "" : payload > 0)) first_data = total
  if (!teardown && (t == "ws" ? ws_frames ~ /(^|;)8(;|$)/ : f("tcp.flags.fin") == 1))
    teardown = total
  # The 4-tuple, the same whichever way the packet goes: lower end first.
  a = f("ip.src") ":" sport; b = f("ip.dst") ":" dport
  tuples[(a < b) ? a " " b : b " " a] = 1
}
END {
  nt = 0; for (k in tuples) nt++
  print total, bytes, pay, (first_data ? first_data - 1 : 0), \
        (teardown ? total - teardown + 1 : 0), nt
}'

summary_row() {
  fields "$1" | awk -v names="${FIELDS[*]}" -v t="$1" "$AWK_COMMON $SUMMARY"
}

# --- --push: the push server's techniques, one capture each ----------------------
if $push; then
  # shellcheck source=scripts/capture/push.sh
  source scripts/capture/push.sh
  exit 0
fi

# --- --deflate: permessage-deflate, one capture -----------------------------------
if $deflate; then
  # shellcheck source=scripts/capture/deflate.sh
  source scripts/capture/deflate.sh
  exit 0
fi

# --- one capture per transport ------------------------------------------------
for t in tcp udp ws; do
  port[$t]=$(free_port)
  RUST_LOG=info "$bin" serve "$t" --addr "127.0.0.1:${port[$t]}" >"$out/$t-server.log" 2>&1 &
  pids+=($!)
  proto=tcp
  [ "$t" = udp ] && proto=udp
  wait_port "$proto" "${port[$t]}"

  start_tcpdump "$out/$t.pcap" "$proto port ${port[$t]}"
  url[$t]="$t://127.0.0.1:${port[$t]}"
  [ "$t" = ws ] && url[$t]="${url[$t]}/"
  echo "--- $t: socklab send ${url[$t]} ${MESSAGES[*]} --states"
  # --states: after each step, the kernel's TCP state of both ends (to line up
  # with the packets); NO_COLOR: plain text for the file.
  NO_COLOR=1 RUST_LOG=warn timeout "$DEADLINE" "$bin" send "${url[$t]}" "${MESSAGES[@]}" --states |
    tee "$out/$t-send.txt"
  [ "$proto" = tcp ] && wait_quiet "${port[$t]}"
  stop_tcpdump "$out/$t.pcap"
  rm -f "$out/$t.pcap.log"
done

cat >"$out/capture.env" <<EOF
# Written by scripts/capture.sh: the ports the servers used and the messages sent.
tcp_port=${port[tcp]}
udp_port=${port[udp]}
ws_port=${port[ws]}
messages="${MESSAGES[*]}"
EOF

for t in tcp udp ws; do
  {
    echo "# $t.pcap: socklab send ${url[$t]} ${MESSAGES[*]} --states"
    echo "# server 127.0.0.1:${port[$t]}; time in ms from the first packet; len = bytes of"
    echo "# the whole frame on lo (14-byte link header + IP + TCP/UDP + payload)"
    printf '%3s %9s  %-15s  %-11s %5s %7s  %s\n' "#" "time(ms)" "direction" "flags" \
      "len" "payload" "carries"
    fields "$t" | awk -v names="${FIELDS[*]}" -v port="${port[$t]}" "$AWK_COMMON $FORMAT"
  } >"$out/$t.txt"
done

# --- the lifecycle lined up with the packets ---------------------------------------
# T-timeline.txt: the packets of T.txt and, after each packet that changes one, the
# TCP state of both ends, derived from the packets themselves (SYN, FIN, ACK, RST by
# RFC 9293's diagram: scripts/capture/timeline.py), so every marker is on the
# capture's clock and in true order. Then the kernel's own answers from
# `send --states`, each matched to the packet after which the states agree.
for t in tcp ws; do
  tshark_q -r "$out/$t.pcap" -T fields -E separator=/t -e frame.number -e tcp.srcport \
    -e tcp.flags.syn -e tcp.flags.ack -e tcp.flags.fin -e tcp.flags.reset \
    -e tcp.seq -e tcp.ack -e tcp.len |
    python3 scripts/capture/timeline.py --port "${port[$t]}" --packets "$out/$t.txt" \
      --send "$out/$t-send.txt" --name "$t" >"$out/$t-timeline.txt"
done

# --- the side-by-side table ----------------------------------------------------------
{
  printf '%-38s %8s %8s %8s\n' "same ${#MESSAGES[@]} messages, then close" tcp udp ws
  declare -A row
  for t in tcp udp ws; do row[$t]=$(summary_row "$t"); done
  labels=("packets" "bytes on the wire (frames on lo)" "payload bytes (TCP/UDP data)"
    "handshake packets (before data)" "teardown packets (from 1st FIN/close)"
    "4-tuples (conversations)")
  for i in 0 1 2 3 4 5; do
    printf '%-38s' "${labels[$i]}"
    for t in tcp udp ws; do
      read -r -a cols <<<"${row[$t]}"
      printf ' %8s' "${cols[$i]}"
    done
    printf '\n'
  done
  msg_bytes=0
  for m in "${MESSAGES[@]}"; do msg_bytes=$((msg_bytes + ${#m})); done
  echo "message bytes each way: $msg_bytes (${MESSAGES[*]})"
} >"$out/summary.txt"

echo
for t in tcp udp ws; do
  echo "--- $out/$t.txt"
  cat "$out/$t.txt"
done
echo
echo "--- $out/ws-timeline.txt"
cat "$out/ws-timeline.txt"
echo
echo "--- $out/summary.txt"
cat "$out/summary.txt"

# --- tls:// and wss://, with the key log ------------------------------------------
# The same exchange through TLS. Both ends honour SSLKEYLOGFILE: the session
# secrets of this run go to DIR/tls-keys.log (throwaway keys for a throwaway
# certificate made at start: nothing secret). tshark reads each capture twice:
# without the keys (what any observer on the path sees: TLS records) and with them
# (-o tls.keylog_file: the HTTP Upgrade and the WebSocket frames inside).
if $tls; then
  keys="$out/tls-keys.log"
  : >"$keys"
  for t in tls wss; do
    port[$t]=$(free_port)
    SSLKEYLOGFILE="$keys" RUST_LOG=info "$bin" serve "$t" --addr "127.0.0.1:${port[$t]}" \
      --cert-out "$out/$t-cert.pem" >"$out/$t-server.log" 2>&1 &
    pids+=($!)
    wait_port tcp "${port[$t]}"
    start_tcpdump "$out/$t.pcap" "tcp port ${port[$t]}"
    url[$t]="$t://127.0.0.1:${port[$t]}"
    [ "$t" = wss ] && url[$t]="${url[$t]}/"
    echo "--- $t: socklab send ${url[$t]} ${MESSAGES[*]} --cacert $t-cert.pem --wire"
    NO_COLOR=1 SSLKEYLOGFILE="$keys" RUST_LOG=warn timeout "$DEADLINE" "$bin" send "${url[$t]}" \
      "${MESSAGES[@]}" --cacert "$out/$t-cert.pem" --wire | tee "$out/$t-send.txt"
    wait_quiet "${port[$t]}"
    stop_tcpdump "$out/$t.pcap"
    rm -f "$out/$t.pcap.log"
    # As an observer: record types only. -d: read this port as TLS.
    tshark_q -r "$out/$t.pcap" -d "tcp.port==${port[$t]},tls" -T fields -E separator=/t \
      -e frame.number -e tcp.srcport -e tcp.len -e tls.record.content_type \
      -e tls.record.opaque_type -e tls.record.length -e http.request.method \
      -e websocket.payload.text >"$out/$t-observer.txt"
    # With the key log: what is inside. wss: HTTP inside TLS on this port
    # (http.tls.port), then WebSocket; tls: the echo's bytes as data.
    inner=(-o "http.tls.port:${port[$t]}")
    [ "$t" = tls ] && inner=(-d "tls.port==${port[$t]},data")
    tshark_q -r "$out/$t.pcap" -o "tls.keylog_file:$keys" -d "tcp.port==${port[$t]},tls" \
      "${inner[@]}" -o data.show_as_text:TRUE -T fields -E separator=/t \
      -e frame.number -e tcp.srcport -e tls.record.content_type -e http.request.method \
      -e http.request.uri -e http.upgrade -e http.response.code -e websocket.opcode \
      -e websocket.mask -e websocket.payload.text -e data.text >"$out/$t-decrypted.txt"
  done
  printf 'tls_port=%s\nwss_port=%s\n' "${port[tls]}" "${port[wss]}" >>"$out/capture.env"
  for t in tls wss; do
    echo "--- $out/$t-observer.txt (frame, src port, TCP payload, record types, lengths, HTTP, WS)"
    cat "$out/$t-observer.txt"
    echo "--- $out/$t-decrypted.txt (with tls-keys.log)"
    cat "$out/$t-decrypted.txt"
  done
fi

if $keep; then
  echo
  echo "servers still running: tcp 127.0.0.1:${port[tcp]}, udp 127.0.0.1:${port[udp]}," \
    "ws 127.0.0.1:${port[ws]} (PIDs ${pids[*]}; stop with kill -INT)"
fi
if $check; then
  scripts/capture-check.sh "$out"
fi
if $check && $tls; then
  # ok/FAIL lines, counted by scripts/test.sh like capture-check.sh's.
  tls_failed=0
  # expect WHAT yes|no COMMAND...: COMMAND must succeed (yes) or fail (no).
  expect() {
    local what=$1 want=$2 got=no
    shift 2
    "$@" >/dev/null 2>&1 && got=yes
    if [ "$got" = "$want" ]; then echo "ok $what"; else echo "FAIL $what"; tls_failed=1; fi
  }
  expect "wss decrypted: the GET / Upgrade: websocket request is there" yes \
    grep -qP '\tGET\t/\twebsocket\t' "$out/wss-decrypted.txt"
  expect "wss decrypted: the 101 is there" yes grep -qP '\t101\t' "$out/wss-decrypted.txt"
  for m in "${MESSAGES[@]}"; do
    expect "wss decrypted: a masked client frame's payload is \"$m\"" yes \
      grep -qP "\t1\t1\t$m(\t|\$)" "$out/wss-decrypted.txt"
    expect "tls decrypted: the echoed data \"$m\" is there" yes grep -qF "$m" "$out/tls-decrypted.txt"
  done
  words=$(IFS='|'; echo "${MESSAGES[*]}")
  for t in tls wss; do
    expect "$t without the key log: no HTTP, no WebSocket frame, no message text" no \
      grep -qE "GET|websocket|$words" "$out/$t-observer.txt"
    # Column 4: content types tshark could read (handshake 22, CCS 20), column 5:
    # the outer type of encrypted TLS 1.3 records (always 23, application_data).
    expect "$t without the key log: every packet with data is TLS records" yes \
      awk -F'\t' '$3 > 0 && $4 == "" && $5 == "" { bad = 1 } END { exit bad }' "$out/$t-observer.txt"
    expect "$t without the key log: application_data (23) records carry the conversation" yes \
      grep -qP '^\d+\t\d+\t\d+\t[^\t]*\t(23,)*23\t' "$out/$t-observer.txt"
  done
  [ "$tls_failed" -eq 0 ] || exit 1
fi

