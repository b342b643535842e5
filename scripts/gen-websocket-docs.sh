#!/usr/bin/env bash
# scripts/gen-websocket-docs.sh — regenerate the logs docs/websocket.md quotes.
#
# Usage: scripts/gen-websocket-docs.sh
#
# Runs `socklab serve ws` on a free loopback port once per scenario, drives it with
# a raw-socket client (scripts/interop/ws_raw.py: bytes built by hand, no WebSocket
# library), and writes both sides' output to docs/generated/ws-*.log:
#   ws-session.log      handshake with the RFC's example key, text, binary, ping, close
#   ws-unmasked.log     an unmasked client frame, answered with close code 1002
#   ws-bad-upgrade.log  a request without Upgrade, answered with 426
#   ws-deflate.log      serve ws --deflate and a client offering permessage-deflate
#   deflate-memory.txt  one connection's compression contexts, counted on the heap
# Nothing in those files is typed by hand: rerun this after changing the server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
no_args "$0" "$@"

bin=$(socklab_bin)
out=docs/generated
mkdir -p "$out"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; }
trap cleanup EXIT

# scenario NAME: one server, one client run, both outputs into $out/ws-NAME.log.
scenario() {
  local name=$1 port log
  port=$(free_port)
  log=$(mktemp)
  RUST_LOG=info "$bin" serve ws --addr "127.0.0.1:$port" 2>"$log" &
  pid=$!
  wait_port tcp "$port"
  {
    echo "\$ python3 scripts/interop/ws_raw.py $name 127.0.0.1:$port"
    python3 scripts/interop/ws_raw.py --anchors "$name" "127.0.0.1:$port"
    # The server's last line for the connection is its close(2); wait for it (≤ 5 s).
    for _ in $(seq 50); do grep -q 'close(fd' "$log" && break; sleep 0.1; done
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
    echo
    echo "\$ RUST_LOG=info socklab serve ws --addr 127.0.0.1:$port    # its log"
    # Drop the date and the level's padding (the time of day is enough), and
    # the lines of the stop itself (Ctrl-C and its wake-up connection).
    # In the session, the server's handshake lines (accept to 101) and the rest
    # get anchors too, for docs/websocket.md's {{#include}}.
    sed -E 's/^[0-9-]+T([0-9:.]+)Z /\1 /; s/(INFO|WARN) +/\1 /; /Ctrl-C: stopping/,$d' "$log" |
      if [ "$name" = session ]; then
        awk '/accept\(fd/ { print "ANCHOR: server_handshake" }
             { print }
             /101 Switching Protocols/ { print "ANCHOR_END: server_handshake"; print "ANCHOR: server_frames" }
             END { print "ANCHOR_END: server_frames" }'
      else
        cat
      fi
  } >"$out/ws-$name.log"
  rm -f "$log"
  echo "wrote $out/ws-$name.log"
}

scenario session
scenario unmasked
scenario bad-upgrade

# permessage-deflate: what `serve ws --deflate` answers a client that offers it
# the way a browser does (Python websockets' default offer is Chromium's), and
# what one connection's two compression contexts hold on the heap (counted by
# crates/websocket/tests/deflate_memory.rs's allocator, not estimated).
deflate() {
  local port log
  port=$(free_port)
  log=$(mktemp)
  RUST_LOG=info "$bin" serve ws --deflate --addr "127.0.0.1:$port" 2>"$log" &
  pid=$!
  wait_port tcp "$port"
  [ -x .tools/pyws/bin/python ] || { echo "gen-websocket-docs: no .tools/pyws: scripts/interop.sh installs it" >&2; exit 1; }
  {
    echo "\$ python3 scripts/interop/ws_deflate_python.py ws://127.0.0.1:$port/"
    .tools/pyws/bin/python scripts/interop/ws_deflate_python.py "ws://127.0.0.1:$port/"
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
    echo
    echo "\$ RUST_LOG=info socklab serve ws --deflate --addr 127.0.0.1:$port    # its log, the Upgrade's lines"
    sed -E 's/^[0-9-]+T([0-9:.]+)Z /\1 /; s/(INFO|WARN) +/\1 /' "$log" |
      grep -E 'GET / HTTP|Sec-WebSocket-Extensions|101 Switching' | head -3
  } >"$out/ws-deflate.log"
  rm -f "$log"
  echo "wrote $out/ws-deflate.log"
  {
    echo "\$ cargo test -p websocket --test deflate_memory -- --nocapture"
    cargo test --quiet -p websocket --test deflate_memory -- --nocapture 2>/dev/null |
      grep 'contexts hold'
  } >"$out/deflate-memory.txt"
  echo "wrote $out/deflate-memory.txt"
}
deflate
