# shellcheck shell=bash
# shellcheck disable=SC2154,SC2004 # $bin, $out, $keep, $check and the associative array port come from capture.sh
# scripts/capture/push.sh — `scripts/capture.sh --push`: the push server's
# techniques, one capture each (sourced by capture.sh, which defines $bin, $out,
# start_tcpdump, stop_tcpdump, wait_quiet, fields, AWK_COMMON and FORMAT).

# The events: PUSH_RATE a second, each client listening PUSH_SECS, so every
# capture holds a few dozen events and the whole run takes a few seconds.
PUSH_RATE=20
PUSH_SECS=1.5
# A long poll is answered at the next event (every 1/PUSH_RATE s), so the hold
# (204 No Content after it) is never reached here; it only bounds a stuck run.
PUSH_HOLD=2
# In the order of the summary: the five techniques, then the Connection: close run.
PUSH_RUNS=(poll long-poll stream sse ws close)

port[push]=$(free_port)
P=${port[push]}
RUST_LOG=info "$bin" serve push --addr "127.0.0.1:$P" --rate "$PUSH_RATE" --hold "$PUSH_HOLD" \
  >"$out/push-server.log" 2>&1 &
pids+=($!)
wait_port tcp "$P"

for t in "${PUSH_RUNS[@]}"; do
  port[push-$t]=$P
  # The polls start from the newest event, asked before the capture starts.
  since=$(timeout "$DEADLINE" python3 scripts/capture/push_client.py last 127.0.0.1 "$P" 0)
  wait_quiet "$P"
  start_tcpdump "$out/push-$t.pcap" "tcp port $P"
  echo "--- push $t: scripts/capture/push_client.py $t 127.0.0.1 $P $PUSH_SECS $since"
  timeout $((DEADLINE * 2)) python3 scripts/capture/push_client.py "$t" 127.0.0.1 "$P" "$PUSH_SECS" "$since" |
    tee "$out/push-$t-client.txt"
  wait_quiet "$P"
  stop_tcpdump "$out/push-$t.pcap"
  rm -f "$out/push-$t.pcap.log"
done

cat >"$out/push.env" <<EOF
# Written by scripts/capture.sh --push: the push server's port and what it published.
push_port=$P
push_rate=$PUSH_RATE
push_secs=$PUSH_SECS
push_runs="${PUSH_RUNS[*]}"
EOF

# One line per packet, as for tcp, udp and ws.
for t in "${PUSH_RUNS[@]}"; do
  {
    echo "# push-$t.pcap: scripts/capture/push_client.py $t against socklab serve push --rate $PUSH_RATE"
    echo "# server 127.0.0.1:$P; time in ms from the first packet; len = bytes of the whole frame on lo"
    printf '%3s %9s  %-15s  %-11s %5s %7s  %s\n' "#" "time(ms)" "direction" "flags" \
      "len" "payload" "carries"
    fields "push-$t" | awk -v names="${FIELDS[*]}" -v port="$P" "$AWK_COMMON $FORMAT"
  } >"$out/push-$t.txt"
done

# The table: requests, connections and bytes per event, from the pcaps (the five
# techniques; the close run is there for its packets, not for its bytes per event).
python3 scripts/capture/push_summary.py "$out" "$P" "$PUSH_RATE" "$PUSH_SECS" \
  poll long-poll stream sse ws >"$out/push-summary.txt"

echo
echo "--- $out/push-summary.txt"
cat "$out/push-summary.txt"
if $keep; then
  echo
  echo "push server still running: 127.0.0.1:$P (PID ${pids[*]}; stop with kill -INT)"
fi
if $check; then
  scripts/capture-check.sh --push "$out"
fi
