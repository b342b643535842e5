#!/usr/bin/env bash
# scripts/gen-tls-docs.sh — the transcripts docs/tls.md quotes (run by gen-docs.sh).
#
# Usage: scripts/gen-tls-docs.sh
#
# Writes to docs/generated/, from runs on this machine:
#   tls-compare.txt        `socklab compare` (its in-process tls and wss servers)
#   tls-wss-capture.txt    one wss exchange, packet by packet: what an observer
#   tls-tls-capture.txt    sees (records) beside what the key log opens (inside);
#                          the same for tls:// (scripts/capture.sh --tls)
#   tls-ws-capture.txt     the same exchange over plain ws, from the same run
#   tls-wss-server.log     `serve wss` narrating that connection's handshake
#   tls-wss-records.txt    the client's --wire view: the records it sent and read
#   tls-keylog.txt         the key log's shape (labels; secrets cut short)
#   tls-refused.txt        `serve wss --max-connections 1`: what a second client sees
# Needs root (or CAP_NET_RAW) for the capture, like scripts/capture.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
no_args "$0" "$@"
bin=$(socklab_bin)
out=docs/generated
mkdir -p "$out"
pids=()
cap=$(mktemp -d)
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$cap"
}
trap cleanup EXIT
# Drop the date, keep the time.
untime() { sed -E 's/^[0-9-]+T([0-9:.]+)Z/\1/' "$1"; }

# --- what TLS adds, measured: compare's tls and wss rows --------------------------
NO_COLOR=1 "$bin" compare >"$out/tls-compare.txt"

# --- the captures, read with and without the key log --------------------------------
SOCKLAB="$bin" scripts/capture.sh --tls --out "$cap" >/dev/null
# shellcheck source=/dev/null
source "$cap/capture.env"
for t in tls wss; do
  port=${t}_port
  port=${!port:?capture.env names the $t port}
  # Only packets that carry bytes; -d: read this port as TLS.
  tshark -r "$cap/$t.pcap" -d "tcp.port==$port,tls" -Y 'tcp.len > 0' -T fields -E separator=/t \
    -e frame.number -e tcp.srcport -e tcp.len -e tls.record.content_type \
    -e tls.record.opaque_type -e tls.record.length -e tls.handshake.type \
    2>/dev/null >"$cap/$t-obs.tsv"
  # With the keys. wss: HTTP inside TLS on this port, then WebSocket; tls: the
  # echo's bytes as data.
  inner=(-o "http.tls.port:$port")
  [ "$t" = tls ] && inner=(-d "tls.port==$port,data")
  tshark -r "$cap/$t.pcap" -o "tls.keylog_file:$cap/tls-keys.log" -d "tcp.port==$port,tls" \
    "${inner[@]}" -o data.show_as_text:TRUE -Y 'tcp.len > 0' -T fields -E separator=/t \
    -e frame.number -e tls.record.content_type -e tls.handshake.type -e tls.alert_message.desc \
    -e http.request.method -e http.request.uri -e http.response.code -e websocket.opcode \
    -e websocket.mask -e websocket.payload.text -e data.text 2>/dev/null >"$cap/$t-dec.tsv"
  {
    echo "\$ socklab send $t://127.0.0.1:$port$([ "$t" = wss ] && echo /) ${messages:?} --cacert $t-cert.pem"
    echo "(captured by tcpdump on lo; read by tshark without and with -o tls.keylog_file:tls-keys.log)"
    echo
    python3 scripts/capture/tls_view.py "$cap/$t-obs.tsv" "$cap/$t-dec.tsv" "$port"
  } >"$out/tls-$t-capture.txt"
done
# The plain ws exchange of the same run: what an observer reads without TLS.
cp "$cap/ws.txt" "$out/tls-ws-capture.txt"
# serve wss narrating the handshake: from accept to the 101 (setup and the
# frames' reads and writes left out).
# (sed stops at the first 101: it reads a file, so nothing upstream gets SIGPIPE)
untime "$cap/wss-server.log" >"$cap/wss-server.untimed.log"
sed -n '/accept(fd/,/101 Switching/{p;/101 Switching/q}' "$cap/wss-server.untimed.log" >"$out/tls-wss-server.log"
# The client's view: the line naming what was agreed, and the record list.
{
  grep '^TLS: ' "$cap/wss-send.txt"
  echo "…"
  sed -n '/^TLS records on the wire/,/^closed:/p' "$cap/wss-send.txt" | grep -v '^closed:'
} >"$out/tls-wss-records.txt"
# The key log: one line per secret: its label, the ClientHello's random (which
# connection), the secret. Both ends append the same lines: shown once each.
awk '!seen[$0]++ { printf "%-32s %.16s…  %.16s…\n", $1, $2, $3 }' "$cap/tls-keys.log" \
  >"$out/tls-keylog.txt"

# --- past the connection cap --------------------------------------------------------
port=$(free_port)
log=$cap/refused.log
RUST_LOG=info "$bin" serve wss --max-connections 1 --addr "127.0.0.1:$port" \
  --cert-out "$cap/refused.pem" 2>"$log" &
server=$!
pids+=($server)
wait_port tcp "$port"
# One connection holds the only place for 2 s.
"$bin" send "wss://127.0.0.1:$port/" --listen 2 --cacert "$cap/refused.pem" >/dev/null 2>&1 &
holder=$!
for _ in $(seq 100); do grep -q '101 Switching' "$log" && break; sleep 0.1; done
{
  echo "\$ socklab serve wss --max-connections 1   # one client already connected"
  echo "\$ socklab send wss://127.0.0.1:$port/ hi --cacert cert.pem"
  NO_COLOR=1 "$bin" send "wss://127.0.0.1:$port/" hi --cacert "$cap/refused.pem" 2>&1 || true
  echo
  echo "the server's log for that connection:"
  wait "$holder" || true
  untime "$log" | grep -B1 'refused:'
} >"$out/tls-refused.txt"
kill -INT "$server"; wait "$server" || true
pids=()
echo "wrote $out/tls-*.txt, $out/tls-wss-server.log"
