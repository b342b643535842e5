#!/usr/bin/env bash
# scripts/gen-docs.sh — regenerate every piece of real output the docs quote.
#
# Usage: scripts/gen-docs.sh [--no-bench]
#   --no-bench  everything but scripts/bench.sh (the longest step): bench.md stays
#               as its last full run wrote it, and its charts are redrawn from it
#
# The docs never contain typed-in logs, tables or figures: each one is produced
# here by running socklab on this machine, written to docs/generated/, and pulled
# into the pages with {{#include generated/FILE}}. Run this after changing code
# whose output the docs show, and commit the result. It is the only script that
# writes docs/generated/ (scripts/bench.sh, for one, writes to target/ unless
# told otherwise). Needs root for the captures and the lossy link.
#
# Exit status: 0, or scripts/bench.sh's when a goal is MISSED (3) or a run failed
# (1); a table with a MISSED goal is still written.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
bench=true
case "${1:-}" in
  "") ;;
  --no-bench) bench=false; shift; no_args "$0" "$@" ;;
  *) no_args "$0" "$@" ;;
esac
bin=$(socklab_bin)
# The pages say `socklab …` as a reader types it once socklab is installed
# (README: cargo install); with its directory first on PATH, the hints socklab
# prints (crates/socklab/src/invoked.rs) say `socklab` too, not target/release/socklab.
PATH="$(dirname "$bin"):$PATH"
export PATH
out=docs/generated
mkdir -p "$out"

# --- docs/lessons.md, docs/handout.md, docs/ko/: from docs/lessons.toml -------
# Not measured: the lesson index and the handout, in English and Korean, are
# written from one data file; the handout quotes files this script regenerates.
python3 scripts/gen-lessons.py

# --- docs/intro.md: the tour, as a newcomer first sees it ---------------------
# It starts its own servers in-process on ephemeral loopback ports; NO_COLOR
# keeps escape codes out of the file.
NO_COLOR=1 "$bin" tour > "$out/tour.txt"
echo "wrote $out/tour.txt"

# --- docs/lifecycle.md: the narration of one TCP connection ------------------
# A client connects, sends "hello\n", reads the echo, half-closes, reads the
# server's FIN, closes. The server's log is the lesson.
port=$(free_port)
log=$(mktemp)
# --model threads: the plainest server; the event loop (the default) also holds
# epoll and waker fds, so its first connection gets a higher fd number.
RUST_LOG=info "$bin" serve tcp --model threads --addr "127.0.0.1:$port" 2>"$log" &
server=$!
wait_port tcp "$port"
python3 - "$port" > "$out/lifecycle-client.txt" <<'PY'
import socket, sys
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
print("client: connected from %s:%d" % s.getsockname())
s.sendall(b"hello\n")
print("client: sent %r" % b"hello\n")
print("client: received %r" % s.recv(100))
s.shutdown(socket.SHUT_WR)
print("client: shutdown(SHUT_WR) sent")
print("client: received %r (end of stream: the server's FIN)" % s.recv(100))
s.close()
PY
# The server logs close() right after its FIN: wait for that line, then stop it.
for _ in $(seq 100); do grep -q 'close(fd' "$log" && break; sleep 0.1; done
kill -INT "$server"; wait "$server" || true
# Drop the date, keep the time: lines up with a capture, reads easily.
sed -E 's/^[0-9-]+T([0-9:.]+)Z/\1/' "$log" > "$out/lifecycle-server.log"
rm -f "$log"
echo "wrote $out/lifecycle-server.log, $out/lifecycle-client.txt"

# --- docs/websocket.md: the handshake, frames and close, on the wire ---------
scripts/gen-websocket-docs.sh

# --- lessons 8, 16, 22, 23: one port, the Origin, the layers, full duplex --------
# Their own servers on free ports, two captures (root); each claim is checked
# (ok … lines) and the files land in docs/generated/lesson-*.txt.
scripts/gen-lesson-docs.sh

# --- docs/socketio.md: plain WebSocket clients and a socket.io client ---------
# scripts/socketio.sh starts a real socket.io server (npm socket.io) and writes
# what four clients saw, each file opening with its command; scripts/interop.sh
# asserts on the same files.
scripts/socketio.sh --out "$out"

# --- docs/bridge.md: one exchange through the bridge, seen from three places ---
# The client's wire view (frames), the bridge's log (both legs), tcp-echo's log
# (bare bytes); and a refusing target.
scripts/gen-bridge-docs.sh

# --- docs/exercises.md: the exercises, from exercises/exercises.toml ---------
# The same data `socklab exercise show` prints, so the page and the tool agree.
"$bin" exercise markdown > "$out/exercises.md"
echo "wrote $out/exercises.md"
# The Korean texts of the same file, for docs/ko/exercises.md.
"$bin" exercise markdown --lang ko > "$out/exercises.ko.md"
echo "wrote $out/exercises.ko.md"
# --- docs/tls.md: what TLS adds to tcp and to ws --------------------------------
# compare's tls and wss rows; tls and wss captured and read with and without the
# key log, beside plain ws from the same run; serve wss narrating the handshake;
# a client past serve wss's connection cap.
scripts/gen-tls-docs.sh

# --- docs/compare.md: the comparison table and one transport's JSON ----------
# socklab compare starts its own servers in-process on ephemeral loopback ports,
# so nothing else needs to run. NO_COLOR keeps escape codes out of the file.
# The table and the ws JSON come from one run (--save-json), so they agree.
compare_json=$(mktemp "${TMPDIR:-/tmp}/socklab-compare-XXXXXX.json")
NO_COLOR=1 "$bin" compare --save-json "$compare_json" > "$out/compare-table.txt"
python3 -c '
import json, sys
ws = [t for t in json.load(open(sys.argv[1]))["transports"] if t["name"] == "ws"][0]
print(json.dumps(ws, indent=2))' "$compare_json" > "$out/compare-ws.json"
rm -f "$compare_json"
# A 200-byte message: past 125 bytes the frame header needs the 16-bit length.
NO_COLOR=1 "$bin" compare --message "$(head -c 200 /dev/zero | tr '\0' x)" > "$out/compare-table-200.txt"
echo "wrote $out/compare-table.txt, $out/compare-ws.json, $out/compare-table-200.txt"

# --- docs/blog.md: the tour and the table as a blog post pastes them ----------
# --seed 1 fixes the client's bytes, --stable prints ports, times and verdicts
# as placeholders: these files change only when socklab's output does, never
# from one run to the next (crates/socklab/tests/stable.rs checks that).
NO_COLOR=1 "$bin" tour --stable --seed 1 > "$out/tour-stable.txt"
NO_COLOR=1 "$bin" compare --stable --seed 1 > "$out/compare-stable.txt"
echo "wrote $out/tour-stable.txt, $out/compare-stable.txt"

# --- docs/captures.md: the three captures, read by tshark ---------------------
# scripts/capture.sh runs the same exchange over tcp, udp and ws under tcpdump
# (root, or tcpdump with CAP_NET_RAW); its text files are copied here as they came
# out, ports included. Then a few tshark views of ws.pcap the page discusses.
cap=$(mktemp -d)
SOCKLAB="$bin" scripts/capture.sh --out "$cap" >/dev/null
for f in tcp.txt udp.txt ws.txt summary.txt tcp-timeline.txt ws-timeline.txt ws-send.txt; do
  cp "$cap/$f" "$out/capture-$f"
done
scripts/capture-check.sh "$cap" >"$out/capture-check.txt"
# shellcheck source=/dev/null
source "$cap/capture.env"
ws_port=${ws_port:?capture.env names the ws port}
# Every TCP conversation in ws.pcap: one line, one 4-tuple (lesson 7).
tshark -r "$cap/ws.pcap" -q -z conv,tcp 2>/dev/null >"$out/capture-ws-conversations.txt"
# Every packet tshark reads as HTTP: the Upgrade and the 101, nothing after (lesson 14).
tshark -r "$cap/ws.pcap" -d "tcp.port==$ws_port,http" -Y 'http.request || http.response' \
  2>/dev/null >"$out/capture-ws-http.txt"
# The first masked client frame, as Wireshark's detail pane shows it.
first=$(tshark -r "$cap/ws.pcap" -d "tcp.port==$ws_port,http" -T fields -e frame.number \
  -Y 'websocket.opcode == 1 && websocket.mask == 1' 2>/dev/null | head -1)
tshark -r "$cap/ws.pcap" -d "tcp.port==$ws_port,http" -Y "frame.number == $first" -O websocket \
  2>/dev/null | sed -n '/^WebSocket/,$p' >"$out/capture-ws-frame.txt"
rm -rf "$cap"
echo "wrote $out/capture-*.txt"

# --- docs/compare.md: compare --deflate against serve ws --deflate (issue 22) ------
# Frame bytes only (and the server's work, a placeholder under --stable): the
# same text every run.
port=$(free_port)
RUST_LOG=warn "$bin" serve ws --deflate --addr "127.0.0.1:$port" &
server=$!
wait_port tcp "$port"
NO_COLOR=1 "$bin" compare --deflate --stable --seed 1 --ws "ws://127.0.0.1:$port/" \
  >"$out/compare-deflate.txt"
kill -INT "$server"; wait "$server" || true
echo "wrote $out/compare-deflate.txt"

# --- docs/captures.md: permessage-deflate on the wire (issue 22) --------------------
# send --deflate against serve ws --deflate under tcpdump: the extension each way
# and RSV1 (tshark: Per-Message Compressed) on every data frame.
cap=$(mktemp -d)
SOCKLAB="$bin" scripts/capture.sh --deflate --out "$cap" >/dev/null
cp "$cap/deflate.txt" "$out/capture-deflate.txt"
rm -rf "$cap"
echo "wrote $out/capture-deflate.txt"

# --- docs/push.md: before WebSocket, five techniques measured ----------------------
# socklab compare --push starts its own push server in-process (port 0); at 1 event/s
# the p99 says "too few" on purpose (fewer than 100 events). Then the push captures:
# each technique under tcpdump, summed up by tshark, and what --check asserted.
NO_COLOR=1 "$bin" compare --push --rate 1 --rate 100 --secs 10 >"$out/push-compare.txt"
cap=$(mktemp -d)
SOCKLAB="$bin" scripts/capture.sh --push --out "$cap" >/dev/null
cp "$cap/push-summary.txt" "$out/push-capture-summary.txt"
for t in poll close ws; do cp "$cap/push-$t.txt" "$out/push-capture-$t.txt"; done
scripts/capture-check.sh --push "$cap" >"$out/push-capture-check.txt"
rm -rf "$cap"
echo "wrote $out/push-compare.txt, $out/push-capture-*.txt"

# --- docs/captures.md: the lossy link ------------------------------------------
# Two namespaces, 10 % loss and 20 ms delay each way; SKIP is written as is where
# namespaces are not permitted.
scripts/lossy-link.sh >"$out/lossy-link.txt"
# The same lesson without root, run as the unprivileged user nobody: loopback in a
# user+network namespace, nftables dropping 10 % of packets each way.
scripts/lossy-link.sh --rootless --as nobody >"$out/lossy-link-rootless.txt"
echo "wrote $out/lossy-link.txt, $out/lossy-link-rootless.txt"

# --- docs/chat.md: fan-out to 1,000 members and the relay, measured ---------------
# A smaller run than bench.sh's (whose fan-out table goes up to 10,000 members
# and lands in bench.md): rows at 1, 10, 100 and 1,000 members, 3 runs each.
scripts/fanout.sh --idle 1000 --runs 3 --secs 2 --out "$out/chat-fanout.md" >/dev/null
echo "wrote $out/chat-fanout.md"

# --- docs/event-loop.md: where a message's CPU goes (wake-ups, per message) ------
# Five interleaved rounds of threads / event loop / --loops 1, also pinned to one
# vCPU, and one strace-counted run per row (a few minutes).
scripts/wakeups.sh --rounds 5 --pin --strace >"$out/event-loop-wakeups.txt"
echo "wrote $out/event-loop-wakeups.txt"
# Before and after issue 19's changes, in one interleaved run: the older commit's
# servers are built once into target/before/ (several minutes the first time).
if scripts/before-after.sh --rounds 5 --strace >"$out/event-loop-before-after.txt.new"; then
  mv "$out/event-loop-before-after.txt.new" "$out/event-loop-before-after.txt"
  echo "wrote $out/event-loop-before-after.txt"
else
  rm -f "$out/event-loop-before-after.txt.new"
  echo "gen-docs: scripts/before-after.sh failed: $out/event-loop-before-after.txt not rewritten" >&2
fi

# --- docs/event-loop.md: threads against the event loop, measured -------------
# The full run (10,000 idle connections; a few minutes). bench.sh exits 3 when a
# goal is missed: the table then says MISSED, which is what the docs must show,
# so the docs are still written and this script ends with that status after
# everything else has been regenerated.
bench_status=0
if ! $bench; then
  echo "kept $out/bench.md (--no-bench)"
else
  scripts/bench.sh --out "$out/bench.md" >/dev/null || bench_status=$?
  case $bench_status in
    0) echo "wrote $out/bench.md" ;;
    3) echo "wrote $out/bench.md: a goal is MISSED on this machine (see the table)" >&2 ;;
    *) echo "gen-docs: scripts/bench.sh failed (exit $bench_status)" >&2 ;;
  esac
fi
# --- pictures: sequence and state diagrams, bench charts ----------------------
# socklab diagram runs its own TCP walk and WebSocket exchange (in-process servers,
# ephemeral loopback ports) and draws them as SVG with the times, byte counts and
# kernel states of that run; --bench charts the tables of the bench.md just
# written (a table it does not have is skipped, and said so); --sio-transcript
# draws the socket.io mismatch from the transcript scripts/socketio.sh wrote above.
"$bin" diagram "$out/diagrams" --bench "$out/bench.md" --sio-transcript "$out/sio-plain-ws.txt"

exit "$bench_status"
