#!/usr/bin/env bash
# scripts/burst-rss.sh — does a server give its memory back after a burst?
#
# Usage: scripts/burst-rss.sh [--clients N] [--kib K] [--messages C] [--pings P]
#                             [--serve ws|chat|push] [--model MODEL] [--glibc-defaults]
#                             [-- SERVER FLAGS...]
#
# Starts `socklab serve ws --memory-budget 256` (or `serve chat`, `serve push`:
# --serve; --model applies to ws) on a free loopback port (its own process), reads its VmRSS at idle, then N WebSocket clients (default 48) each
# send C messages (default 1) of K KiB (default 4096) and never read the echoes,
# so the server
# holds every message and its queued echo; then all of them close. Prints the
# server's VmRSS at idle, its VmHWM (the peak), its VmRSS right after the
# clients closed, and 2 s later: what the allocator kept. The server's 1013
# closes (past its budget) are counted from its log. Bounded: every client has
# a 20 s deadline, the server is killed at the end.
#
# --glibc-defaults runs the server as if serve::memory did not exist: a one-line
# shim (built here with cc, preloaded into the server only) turns its mallopt(3)
# calls into no-ops, so glibc keeps raising its mmap threshold. Run a case with
# and without it to see what the fixed threshold gives back.
#
# SOCKLAB=path runs that binary instead of building target/release/socklab;
# KEEP_LOG=path keeps the server's log there.
# Figures depend on the machine and its load: run it twice before believing one.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
clients=48
kib=4096
messages=1
pings=0
model=event-loop
kind=ws
preload=
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) usage "$0"; exit 0 ;;
    --clients) clients=$2; shift 2 ;;
    --kib) kib=$2; shift 2 ;;
    --messages) messages=$2; shift 2 ;;
    --pings) pings=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --serve) kind=$2; shift 2 ;;
    --glibc-defaults) preload=yes; shift ;;
    --) shift; break ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
bin=${SOCKLAB:-$(socklab_bin)}
port=$(free_port)
log=$(mktemp)
case $kind in
  ws) flags=(--addr "127.0.0.1:$port" --model "$model" --max-message-size $(((kib + 1) << 10))) ;;
  chat) flags=(--ws-addr "127.0.0.1:$port" --tcp-addr "127.0.0.1:$(free_port)" --max-line $(((kib + 1) << 10))) ;;
  push) flags=(--addr "127.0.0.1:$port" --rate 0) ;;
  *) echo "--serve: ws, chat or push" >&2; exit 2 ;;
esac
shim=$(mktemp -d)
env=()
if [ -n "$preload" ]; then
  echo 'int mallopt(int param, int value) { (void)param; (void)value; return 1; }' >"$shim/shim.c"
  cc -shared -fPIC -o "$shim/nomallopt.so" "$shim/shim.c"
  env=(LD_PRELOAD="$shim/nomallopt.so")
fi
env "${env[@]}" RUST_LOG=warn "$bin" serve "$kind" "${flags[@]}" --memory-budget 256 "$@" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; [ -z "${KEEP_LOG:-}" ] || cp "$log" "$KEEP_LOG"; rm -rf "$log" "$shim"' EXIT

python3 - "$port" "$pid" "$clients" "$kib" "$messages" "$pings" "$kind" "${preload:+ (glibc defaults)}" <<'EOF'
import base64, os, socket, sys, time

port, pid, clients, kib, messages, pings = (int(a) for a in sys.argv[1:7])
# sys.argv[7], [8]: which server, and how, for the report
DEADLINE = 20.0
SEND_WAIT = 2.0  # a server that stopped reading from a client: move on

def status(field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) // 1024  # kB -> MiB

def connect():
    for _ in range(200):  # the server may still be binding
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        except ConnectionRefusedError:
            time.sleep(0.02)
    raise SystemExit("the server did not start")

def upgraded():
    s = connect()
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1024)
        if not chunk:
            raise SystemExit("the server closed during the Upgrade")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise SystemExit(head.split(b"\r\n")[0].decode())
    # A small receive buffer: the client reads nothing, the server's echo waits.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return s

def frame(size):
    # One binary frame, masked with a zero key (the payload goes as it is).
    return bytes([0x82, 0x80 | 127]) + size.to_bytes(8, "big") + bytes(4)

# One Ping with the most a control frame may carry (125 bytes), masked likewise.
PING = bytes([0x89, 0x80 | 125]) + bytes(4) + bytes(125)

connect().close()  # wait until it listens
time.sleep(0.5)
idle = status("VmRSS")
payload = bytes(kib << 10)
if pings:
    messages = 1
socks = [upgraded() for _ in range(clients)]
sending = list(socks)
for _ in range(messages):
    for s in list(sending):
        try:
            # Returns once the server has read it all. Or it fails: the server
            # closed this client (past the budget: 1013, counted from the log),
            # or stopped reading from it (its queue is full: SEND_WAIT passes).
            s.settimeout(SEND_WAIT)
            s.sendall(PING * pings if pings else frame(len(payload)) + payload)
        except OSError:
            sending.remove(s)
held = status("VmRSS")
for s in socks:
    s.close()
time.sleep(0.2)
closed = status("VmRSS")
time.sleep(2.0)
after = status("VmRSS")
peak = status("VmHWM")
what = f"{pings} Pings" if pings else f"{messages} x {kib} KiB"
print(f"serve {sys.argv[7]}{sys.argv[8]}: {clients} clients x {what}, never reading, then closed:")
print(f"  VmRSS idle            {idle:6d} MiB")
print(f"  VmRSS all held        {held:6d} MiB")
print(f"  VmHWM (peak)          {peak:6d} MiB")
print(f"  VmRSS 0.2 s after     {closed:6d} MiB")
print(f"  VmRSS 2.2 s after     {after:6d} MiB   <- what the allocator kept")
EOF
echo "  server log: $(grep -c '1013' "$log" || true) lines mention 1013 (closed past --memory-budget)"
