# shellcheck shell=bash
# shellcheck disable=SC2154,SC2004 # $bin, $out, $check and the associative array port come from capture.sh
# scripts/capture/deflate.sh — `scripts/capture.sh --deflate`: permessage-deflate
# (RFC 7692) on the wire (sourced by capture.sh, which defines $bin, $out,
# start_tcpdump, stop_tcpdump, wait_quiet and tshark_q).
#
# One `socklab send --deflate` exchange with `socklab serve ws --deflate` under
# tcpdump: the same message twice (context takeover: the second is a few bytes
# of back-references) and a JSON chat message. tshark reads the Upgrade's
# Sec-WebSocket-Extensions both ways and, on every frame, RSV1 — which it calls
# "Per-Message Compressed" — and inflates the payloads itself.
# Writes DIR/deflate.pcap, DIR/deflate.txt (one line per packet that carries
# something), DIR/deflate-send.txt (socklab's own wire view of the same bytes).
# DEFLATE_PEER=python: against Python websockets with compression on
# (scripts/interop/ws_python_deflate_server.py, from .tools/pyws) instead.

DEFLATE_MESSAGES=(hello hello '{"type":"message","room":"lobby","user":"ana","text":"hello"}')

if [ "${DEFLATE_PEER:-socklab}" = python ]; then
  .tools/pyws/bin/python scripts/interop/ws_python_deflate_server.py >"$out/deflate-server.log" 2>&1 &
  pids+=($!)
  for _ in $(seq $((DEADLINE * 10))); do grep -q '^port ' "$out/deflate-server.log" && break; sleep 0.1; done
  port[deflate]=$(awk '/^port /{print $2}' "$out/deflate-server.log")
else
  port[deflate]=$(free_port)
  RUST_LOG=info "$bin" serve ws --deflate --addr "127.0.0.1:${port[deflate]}" \
    >"$out/deflate-server.log" 2>&1 &
  pids+=($!)
fi
D=${port[deflate]}
wait_port tcp "$D"
start_tcpdump "$out/deflate.pcap" "tcp port $D"
echo "--- deflate: socklab send ws://127.0.0.1:$D/ ${DEFLATE_MESSAGES[*]} --deflate --seed 1 --wire"
# --seed 1: the key and masks repeat, so the capture's bytes do too.
NO_COLOR=1 RUST_LOG=warn timeout "$DEADLINE" "$bin" send "ws://127.0.0.1:$D/" "${DEFLATE_MESSAGES[@]}" \
  --deflate --seed 1 --wire | tee "$out/deflate-send.txt"
wait_quiet "$D"
stop_tcpdump "$out/deflate.pcap"
rm -f "$out/deflate.pcap.log"
# A background job of a script ignores SIGINT, and Python keeps it ignored:
# capture.sh's cleanup would not stop the Python peer, so TERM it here.
if [ "${DEFLATE_PEER:-socklab}" = python ]; then kill -TERM "${pids[-1]}" 2>/dev/null || true; fi

# One line per packet with HTTP or WebSocket in it: the extension headers, then
# each frame's FIN, RSV1 (tshark: websocket.pmc, "Per-Message Compressed"),
# opcode, mask, payload length on the wire, and the text tshark inflated.
{
  echo "# deflate.pcap: socklab send --deflate, server 127.0.0.1:$D"
  printf '# %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' frame direction http extensions \
    fin per-message-compressed opcode mask wire-len text
  tshark_q -r "$out/deflate.pcap" -d "tcp.port==$D,http" -T fields -E separator=/t \
    -E aggregator=';' -e frame.number -e tcp.srcport -e http.request.method \
    -e http.response.code -e http.sec_websocket_extensions -e websocket.fin \
    -e websocket.pmc -e websocket.opcode -e websocket.mask -e websocket.payload_length \
    -e websocket.payload.text |
    awk -F'\t' -v port="$D" 'BEGIN { OFS = "\t" }
      $3 $4 $6 != "" {
        print $1, ($2 == port ? "server → client" : "client → server"), $3 $4, $5, $6, $7, $8, $9, $10, $11
      }'
} >"$out/deflate.txt"
echo "--- $out/deflate.txt"
cat "$out/deflate.txt"
echo "deflate_port=$D" >>"$out/capture.env"

if $check; then
  deflate_failed=0
  # expect WHAT COMMAND...: COMMAND must succeed; ok/FAIL lines as capture-check.sh's.
  expect_deflate() {
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then echo "ok $what"; else echo "FAIL $what"; deflate_failed=1; fi
  }
  expect_deflate "deflate: the Upgrade offers permessage-deflate; client_max_window_bits" \
    grep -qP '\tclient → server\tGET\tpermessage-deflate; client_max_window_bits\t' "$out/deflate.txt"
  expect_deflate "deflate: the 101 agrees to permessage-deflate" \
    grep -qP '\tserver → client\t101\tpermessage-deflate' "$out/deflate.txt"
  # Every data frame (opcode 1) is Per-Message Compressed: True, both ways.
  expect_deflate "deflate: every text frame has RSV1 (Per-Message Compressed: True), 3 each way" \
    awk -F'\t' '$7 == 1 { n[$2]++; if ($6 != 1) bad = 1 }
      END { exit bad || n["client → server"] != 3 || n["server → client"] != 3 }' "$out/deflate.txt"
  expect_deflate "deflate: the close frames are not compressed (RSV1 = 0)" \
    awk -F'\t' '$7 == 8 { n++; if ($6 != 0) bad = 1 } END { exit bad || n != 2 }' "$out/deflate.txt"
  expect_deflate "deflate: tshark inflates the repeated hello (a 5-byte payload on the wire)" \
    grep -qP '\tclient → server\t\t\t1\t1\t1\t1\t5\thello$' "$out/deflate.txt"
  [ "$deflate_failed" -eq 0 ] || exit 1
fi
