# shellcheck shell=bash
# shellcheck disable=SC2154,SC2034 # $dir and $failures come from capture-check.sh; frames() there reads $ws_port
# scripts/capture/push-check.sh — `scripts/capture-check.sh --push`: what the push
# captures must show (sourced by capture-check.sh, which defines $dir, check,
# count, values, frames and tuples).

# push.env holds push_port and push_runs, written by capture.sh --push.
# shellcheck source=/dev/null
source "$dir/push.env"
# shellcheck disable=SC2154 # from push.env
P=${push_port:?}
ws_port=$P # frames() decodes this port as HTTP, then WebSocket
http=(-d "tcp.port==$P,http")

# requests T : the HTTP requests in push-T.pcap.
requests() { count "push-$1.pcap" 'http.request' "${http[@]}"; }
# syns T : the connections opened in push-T.pcap (a SYN without ACK each).
syns() { count "push-$1.pcap" 'tcp.flags.syn == 1 && tcp.flags.ack == 0'; }
# lines T WORD : how many lines of what the client printed start with WORD.
lines() { grep -c "^$2" "$dir/push-$1-client.txt" || true; }

# --- keep-alive (lesson 21): several requests, one 4-tuple ----------------------
for t in poll long-poll; do
  n=$(requests "$t")
  check "push $t: the client's requests all on the wire" "$(lines "$t" request)" "$n"
  check "push $t: several requests (at least 3)" yes "$([ "$n" -ge 3 ] && echo yes || echo "no: $n")"
  check "push $t: one 4-tuple for all $n requests (keep-alive)" 1 "$(tuples "push-$t.pcap" | wc -l)"
  check "push $t: one SYN" 1 "$(syns "$t")"
  # Each response numbers itself: X-Request-Number 1, 2, 3 … on the same connection.
  check "push $t: X-Request-Number counts 1..$n" "$(seq 1 "$n")" \
    "$(tshark -r "$dir/push-$t.pcap" "${http[@]}" -Y http.response -T fields -E aggregator='|' \
      -e http.response.line 2>/dev/null | tr '|' '\n' | sed -n 's/^X-Request-Number: \([0-9]*\).*/\1/p')"
done

# --- Connection: close: the server closes after the response --------------------
check "push close: two requests, two connections" "2 2" "$(requests close) $(syns close)"
check "push close: two 4-tuples" 2 "$(tuples push-close.pcap | wc -l)"
check "push close: both responses say Connection: close" "close
close" "$(values push-close.pcap http.response http.connection "${http[@]}")"
# The first FIN of each connection, by its sender's port: the server's, both times.
check "push close: the server sends the first FIN, both times" "$P
$P" "$(tshark -r "$dir/push-close.pcap" -Y 'tcp.flags.fin == 1' -T fields -e tcp.stream \
  -e tcp.srcport 2>/dev/null | awk '!seen[$1]++ { print $2 }')"

# --- streaming and SSE: one request, one connection, many events -----------------
for t in stream sse; do
  check "push $t: one request, one connection" "1 1" "$(requests "$t") $(syns "$t")"
  check "push $t: events received (at least 10)" yes \
    "$([ "$(lines "$t" event)" -ge 10 ] && echo yes || echo "no: $(lines "$t" event)")"
done
# (The chunked body never ends: told not to wait for it, tshark decodes the head.)
check "push stream: Transfer-Encoding: chunked" chunked \
  "$(values push-stream.pcap 'http.response' http.transfer_encoding "${http[@]}" \
    -o http.desegment_body:FALSE)"
check "push sse: Content-Type: text/event-stream" text/event-stream \
  "$(values push-sse.pcap 'http.response' http.content_type "${http[@]}")"

# --- WebSocket: the Upgrade, then no request (lesson 14), both ways (lesson 12) ---
check "push ws: one HTTP request in all: the Upgrade (no polling after it)" 1 "$(requests ws)"
check "push ws: one 101 Switching Protocols" 1 \
  "$(count push-ws.pcap 'http.response.code == 101' "${http[@]}")"
check "push ws: one 4-tuple" 1 "$(tuples push-ws.pcap | wc -l)"
check "push ws: no server frame masked" 0 "$(frames push-ws.pcap "tcp.srcport == $P" 1)"
check "push ws: server pushed events (at least 10 text frames)" yes \
  "$(k=$(values push-ws.pcap "websocket.opcode == 1 && tcp.srcport == $P" websocket.mask "${http[@]}" | wc -l)
     [ "$k" -ge 10 ] && echo yes || echo "no: $k")"
check "push ws: no client frame unmasked" 0 "$(frames push-ws.pcap "tcp.dstport == $P" 0)"
check "push ws: client frames (one message + close) masked" 2 \
  "$(frames push-ws.pcap "tcp.dstport == $P" 1)"
# Full duplex: the frame numbers of server text frames and of the client's one.
server_frames=$(tshark -r "$dir/push-ws.pcap" "${http[@]}" \
  -Y "websocket.opcode == 1 && tcp.srcport == $P" -T fields -e frame.number 2>/dev/null)
client_frame=$(tshark -r "$dir/push-ws.pcap" "${http[@]}" \
  -Y "websocket.opcode == 1 && tcp.dstport == $P" -T fields -e frame.number 2>/dev/null | head -1)
check "push ws: the client's message went out between two pushed events (full duplex)" yes \
  "$([ -n "$client_frame" ] && [ "$(head -1 <<<"$server_frames")" -lt "$client_frame" ] &&
     [ "$(tail -1 <<<"$server_frames")" -gt "$client_frame" ] && echo yes || echo no)"

if [ "$failures" -ne 0 ]; then
  echo "capture-check --push: $failures failed"
  exit 1
fi
