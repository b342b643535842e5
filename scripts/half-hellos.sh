#!/usr/bin/env bash
# scripts/half-hellos.sh — silent ClientHellos against `socklab serve tls`: are
# real clients still served? (docs/tls.md, "Half-open handshakes")
#
# Usage: scripts/half-hellos.sh [--attackers A] [--real R] [-- SERVER FLAGS...]
#
# Starts `socklab serve tls` (default limits: 1,024 connections, 128 unfinished
# handshakes) on a free loopback port (its own process; SERVER FLAGS are added,
# e.g. `--max-handshakes 1024` to ask for as many places as everyone: the
# server lowers it to half of --max-connections and says so, so the old
# behaviour, every place held, can no longer be asked for). Then A attackers (default 1,100, more than the
# connection cap) each connect and send the first 5
# bytes of a ClientHello record, and nothing more; whenever the server closes
# one, it connects again at once. While they run, R real clients (default 6,
# one after the other, Python's ssl trusting the server's certificate) each
# complete a handshake and one echo, or fail within 5 s. Prints how many real
# clients were served, and what the server's log says it did: unfinished
# handshakes evicted for newer ones, connections refused at the cap,
# handshakes timed out. Bounded: the attack stops after the real clients (at
# most ~40 s), the server is killed at the end.
#
# SOCKLAB=path runs that binary instead of building target/release/socklab.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
attackers=1100
real=6
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) usage "$0"; exit 0 ;;
    --attackers) attackers=$2; shift 2 ;;
    --real) real=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
bin=${SOCKLAB:-$(socklab_bin)}
port=$(free_port)
work=$(mktemp -d)
RUST_LOG=info "$bin" serve tls --addr "127.0.0.1:$port" \
  --cert-out "$work/cert.pem" "$@" >"$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT

python3 - "$port" "$work/cert.pem" "$attackers" "$real" <<'EOF'
import os, resource, selectors, socket, ssl, sys, threading, time

port, cert = int(sys.argv[1]), sys.argv[2]
attackers, real = int(sys.argv[3]), int(sys.argv[4])
HALF_HELLO = bytes([0x16, 0x03, 0x01, 0x02, 0x00])  # a record header; no body follows
REAL_TIMEOUT = 5.0

# One descriptor per attacker, and some to spare: up to the hard limit.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = attackers + 64
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

for _ in range(200):  # wait until the server listens and wrote its certificate
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        if os.path.getsize(cert) > 0:
            break
    except OSError:
        pass
    time.sleep(0.05)

stop = threading.Event()
opened = [0]
live = [0]

def attack():
    sel = selectors.DefaultSelector()
    def open_one():
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
        except OSError:
            return
        try:
            s.sendall(HALF_HELLO)
        except OSError:
            s.close()  # refused at once: the next turn tries again
            return
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        opened[0] += 1
        live[0] += 1
    while not stop.is_set():
        # As many open as asked: whatever the server closed is opened again.
        while live[0] < attackers and not stop.is_set():
            open_one()
        for key, _ in sel.select(timeout=0.1):
            s = key.fileobj
            try:
                if s.recv(64):
                    continue  # an alert or such: still open
            except BlockingIOError:
                continue
            except OSError:
                pass
            sel.unregister(s)
            s.close()
            live[0] -= 1
    for key in list(sel.get_map().values()):
        key.fileobj.close()

t = threading.Thread(target=attack)
t.start()
# The attack in place: every attacker opened once (bounded wait).
settle = time.monotonic() + 20
while opened[0] < attackers and time.monotonic() < settle:
    time.sleep(0.05)
ctx = ssl.create_default_context(cafile=cert)
served = 0
for _ in range(real):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=REAL_TIMEOUT) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"hi\n")
                if tls.recv(16) == b"hi\n":
                    served += 1
    except OSError:
        pass
stop.set()
t.join()
print(f"{attackers} attackers sending half a ClientHello ({opened[0]} connections opened in all)")
print(f"real clients served during the attack: {served} of {real}")
EOF
log=$work/server.log
echo "the server's log:"
echo "  unfinished handshakes closed for newer ones (--max-handshakes): $(grep -c 'to make room for' "$log" || true)"
echo "  connections refused at --max-connections:                        $(grep -c 'refused:' "$log" || true)"
echo "  handshakes past --tls-handshake-timeout:                          $(grep -c 'handshake timeout' "$log" || true)"
