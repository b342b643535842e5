# shellcheck shell=bash
# shellcheck disable=SC2154 # $bin, $scratch, pids and check come from scripts/interop.sh
# scripts/interop/deflate_client.sh — sourced by scripts/interop.sh: socklab's
# own permessage-deflate client (`send --deflate`, `compare --deflate`) against
# `serve ws --deflate` and against a server socklab did not write (Python
# websockets with compression on). The browser's side (Chromium's offer, the
# page's ws.extensions) is checked in interop.sh itself.
port=$(free_port)
RUST_LOG=warn "$bin" serve ws --deflate --addr "127.0.0.1:$port" &
pids+=($!)
wait_port tcp "$port"
got=$(timeout 10 "$bin" send "ws://127.0.0.1:$port/" hello hello --deflate --wire --no-color 2>&1 |
  grep -E '^←|^  inflated    ' | sed 's/ on the wire (the 00 00 ff ff tail put back)/ on the wire/' || true)
check "socklab send --deflate against serve ws --deflate: compressed both ways, 7 then 5 bytes" \
  "$(printf '%s\n' '← "hello" (5 bytes, one message)' '← "hello" (5 bytes, one message)' \
    '  inflated    5 bytes (RSV1: compressed, permessage-deflate)  "hello"  from 7 bytes on the wire' '  inflated    5 bytes (RSV1: compressed, permessage-deflate)  "hello"  from 7 bytes on the wire' \
    '  inflated    5 bytes (RSV1: compressed, permessage-deflate)  "hello"  from 5 bytes on the wire' '  inflated    5 bytes (RSV1: compressed, permessage-deflate)  "hello"  from 5 bytes on the wire')" "$got"

pyport_file="$scratch/pyws-deflate.port"
timeout 60 .tools/pyws/bin/python scripts/interop/ws_python_deflate_server.py >"$pyport_file" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q '^port ' "$pyport_file" && break; sleep 0.1; done
pyport=$(awk '/^port /{print $2}' "$pyport_file")
got=$(timeout 10 "$bin" send "ws://127.0.0.1:$pyport/" hello hello --deflate --wire --no-color 2>&1 |
  grep -E '^←|^permessage-deflate agreed|^  inflated    ' | sed 's/ — .*//; s/ on the wire (the 00 00 ff ff tail put back)/ on the wire/' || true)
check "socklab send --deflate against python websockets (compression on)" \
  "$(printf '%s\n' 'permessage-deflate agreed: permessage-deflate; server_max_window_bits=12' \
    '← "hello" (5 bytes, one message)' '← "hello" (5 bytes, one message)' \
    '  inflated    5 bytes (RSV1: compressed, permessage-deflate)  "hello"  from 7 bytes on the wire' '  inflated    5 bytes (RSV1: compressed, permessage-deflate)  "hello"  from 7 bytes on the wire' \
    '  inflated    5 bytes (RSV1: compressed, permessage-deflate)  "hello"  from 5 bytes on the wire' '  inflated    5 bytes (RSV1: compressed, permessage-deflate)  "hello"  from 5 bytes on the wire')" "$got"
got=$(timeout 20 "$bin" compare --deflate --ws "ws://127.0.0.1:$pyport/" --json 2>&1 |
  .tools/pyws/bin/python -c 'import json,sys; c=json.load(sys.stdin)["cases"]; print(" ".join("%s:%d/%d" % (x["name"].split(",")[0].replace(" ","_"), x["first_sent"], round(x["repeat_sent"])) for x in c))' || true)
check "compare --deflate against python websockets: frame bytes, first and repeat" \
  "plain:84/84 deflate:76/11 deflate:76/76" "$got"

