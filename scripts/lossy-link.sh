#!/usr/bin/env bash
# scripts/lossy-link.sh — the same 100 messages over UDP and TCP across a lossy, slow link.
#
# Usage: scripts/lossy-link.sh [--loss PCT] [--delay MS] [--count N] [--reorder PCT] [--wire auto|netem|tun]
#        scripts/lossy-link.sh --rootless [--loss PCT] [--count N] [--as USER]
#   --loss PCT    packets dropped on each direction of the link (default 10)
#   --delay MS    one-way delay added to every packet (default 20)
#   --count N     messages per transport (default 100)
#   --reorder PCT for the last run only, a UDP burst: packets reordered on each direction
#                 (default 25; netem sends that share at once, ahead of the delayed
#                 rest; the TUN wire holds that share one delay longer)
#   --wire KIND   netem: a veth pair with `tc netem`; tun: a user-space wire over two
#                 TUN devices (scripts/lossy/wire.py), for kernels built without netem;
#                 auto (default): netem if the kernel has it, else tun
#   --rootless    no root needed (the default when not run as root): loopback inside
#                 a user+network namespace an ordinary user may create, with an
#                 nftables rule dropping PCT % of packets (scripts/lossy/rootless.sh).
#                 Loss only: dropping is a firewall's job, but delay and reordering
#                 need netem or the TUN wire, and both need root here.
#   --as USER     (as root, with --rootless) run the rootless mode as USER, from a
#                 world-readable copy of what it needs: proves it needs no root
# Env: SOCKLAB=PATH uses that socklab binary instead of building target/release/socklab.
#
# Makes two network namespaces (server 10.77.0.1, client 10.77.0.2 — addresses that
# exist only inside them), joins them with the lossy link, runs `socklab serve udp` and
# `socklab serve tcp` in one and scripts/lossy/client.py in the other, and reports UDP
# datagrams lost against TCP segments retransmitted (kernel counters from
# /proc/net/snmp inside each namespace) and the round-trip time each paid (lesson 2).
# Then the link starts reordering too, and one burst of N datagrams sent at once
# shows UDP delivering them out of order (TCP would put its bytes back in order).
# As root by default; without root, --rootless (see above). Where namespaces are
# not permitted it prints SKIP, with the reason and what to run, and exits 0. The
# namespaces are deleted on every exit, failure included; each message has a deadline.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

loss=10
delay=20
count=100
reorder=25
wire=auto
rootless=false
as_user=""
holds="" # --delay or --reorder, when given: both need root
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage "$0"; exit 0 ;;
    --loss) loss=${2:?}; shift ;;
    --delay) delay=${2:?}; holds=--delay; shift ;;
    --count) count=${2:?}; shift ;;
    --reorder) reorder=${2:?}; holds=--reorder; shift ;;
    --wire) wire=${2:?}; shift ;;
    --rootless) rootless=true ;;
    --as) as_user=${2:?}; shift ;;
    *) echo "lossy-link.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

# Addresses and names that exist only inside the namespaces this script creates.
SERVER_IP=10.77.0.1
CLIENT_IP=10.77.0.2
PORT=7007 # socklab's default echo port: nothing else lives in a fresh namespace
SRV=socklab-srv-$$
CLI=socklab-cli-$$
# How long one UDP echo may take before the message counts as lost (s): many RTTs.
UDP_TIMEOUT=0.5
# How long one TCP echo may take (s): room for several retransmission timeouts
# (200 ms at first, doubling on each loss of the same segment).
TCP_TIMEOUT=10
# How long the burst's receiver waits for one more echo before it stops (s).
BURST_QUIET=1
# Bound on each client run as a whole (s).
RUN_LIMIT=120

skip() { echo "SKIP lossy-link: $*"; exit 0; }

[ "$(id -u)" -eq 0 ] || rootless=true
if $rootless; then
  [[ $loss =~ ^[0-9]{1,2}$ ]] || { echo "lossy-link.sh --rootless: --loss takes a whole percent, 0-99" >&2; exit 2; }
  if [ -n "$holds" ]; then
    echo "lossy-link.sh: $holds needs root (netem or the TUN wire hold packets back; without root" >&2
    echo "  only an nftables rule that drops them is possible): run it as root, or drop $holds" >&2
    exit 2
  fi
  [ "$(id -u)" -eq 0 ] && apt_install nftables
  [ -z "$as_user" ] && exec scripts/lossy/rootless.sh "$loss" "$count"
  [ "$(id -u)" -eq 0 ] || { echo "lossy-link.sh: --as USER needs root" >&2; exit 2; }
  id "$as_user" >/dev/null 2>&1 || skip "no user '$as_user' (useradd -m $as_user)"
  apt_install nftables
  # USER may not read this checkout (root's home is closed to others): copy what
  # the rootless mode runs into a directory anyone may read, and run it from there.
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
  mkdir -p "$stage/scripts/lossy"
  cp scripts/lib.sh "$stage/scripts/"
  cp scripts/lossy/rootless.sh scripts/lossy/client.py "$stage/scripts/lossy/"
  cp "${SOCKLAB:-$(socklab_bin)}" "$stage/socklab"
  chmod -R a+rX "$stage"
  status=0
  (cd "$stage" && runuser -u "$as_user" -- env -u TMPDIR SOCKLAB="$stage/socklab" \
    scripts/lossy/rootless.sh "$loss" "$count") || status=$?
  exit "$status"
fi
apt_install iproute2 python3

work=$(mktemp -d)
servers=()
wire_pid=""
# stop PID : SIGTERM, then SIGKILL if it is still there after 5 s.
stop() {
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
# Servers first: a stopping server pokes its own address to wake its blocked
# accept()/recv(), and with the TUN wire that address lives only while the wire does.
cleanup() {
  for p in "${servers[@]}"; do stop "$p"; done
  [ -z "$wire_pid" ] || stop "$wire_pid"
  ip netns del "$CLI" 2>/dev/null || true
  ip netns del "$SRV" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$SRV" 2>"$work/err" ||
  skip "network namespaces are not permitted here: $(cat "$work/err"); try --rootless"
ip netns add "$CLI"
for ns in "$SRV" "$CLI"; do
  ip -n "$ns" link set lo up
  # No IPv6: the link then carries only the packets this experiment sends.
  # (/proc/sys/net shows the namespace of the process reading it.)
  ip netns exec "$ns" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6' 2>/dev/null || true
done

# netem_available : can this kernel attach a netem qdisc? (tried in a scratch veth)
netem_available() {
  ip -n "$SRV" link add probe0 type veth peer name probe1 &&
    ip netns exec "$SRV" tc qdisc add dev probe0 root netem delay 1ms 2>/dev/null
  local ok=$?
  ip -n "$SRV" link del probe0 2>/dev/null || true
  return $ok
}
why=""
if [ "$wire" = auto ]; then
  if netem_available; then wire=netem; else wire=tun why="; this kernel has no netem"; fi
fi
if [ "$wire" = netem ] && ! netem_available; then
  echo "lossy-link.sh: this kernel has no netem (CONFIG_NET_SCH_NETEM); try --wire tun" >&2
  exit 1
fi

if [ "$wire" = netem ]; then
  # A veth pair is a virtual cable: what one end sends, the other receives. Made
  # inside the server namespace with its other end in the client's, so the pair
  # never appears in the host's own namespace.
  ip -n "$SRV" link add sl-veth-s type veth peer name sl-veth-c netns "$CLI"
  ip -n "$SRV" addr add "$SERVER_IP/24" dev sl-veth-s
  ip -n "$CLI" addr add "$CLIENT_IP/24" dev sl-veth-c
  ip -n "$SRV" link set sl-veth-s up
  ip -n "$CLI" link set sl-veth-c up
  # Static neighbours: no ARP on the lossy link, so a lost ARP request cannot
  # delay the first message by a second and blur the measurement.
  mac_s=$(ip -n "$SRV" -br link show sl-veth-s | awk '{print $3}')
  mac_c=$(ip -n "$CLI" -br link show sl-veth-c | awk '{print $3}')
  ip -n "$SRV" neigh replace "$CLIENT_IP" lladdr "$mac_c" dev sl-veth-s nud permanent
  ip -n "$CLI" neigh replace "$SERVER_IP" lladdr "$mac_s" dev sl-veth-c nud permanent
  # netem on each end's egress: both directions lose and wait.
  ip netns exec "$SRV" tc qdisc add dev sl-veth-s root netem delay "${delay}ms" loss "${loss}%"
  ip netns exec "$CLI" tc qdisc add dev sl-veth-c root netem delay "${delay}ms" loss "${loss}%"
  link="veth pair with tc netem (delay ${delay} ms, loss ${loss} % each way)"
else
  [ -c /dev/net/tun ] || skip "the kernel has no netem and /dev/net/tun is missing"
  python3 scripts/lossy/wire.py --ns-a "$CLI" --dev-a sl-tun-c --ns-b "$SRV" --dev-b sl-tun-s \
    --loss "$(awk -v l="$loss" 'BEGIN { print l / 100 }')" --delay-ms "$delay" \
    --reorder "$(awk -v r="$reorder" 'BEGIN { print r / 100 }')" --reorder-on-signal \
    --ready "$work/ready" --stats "$work/wire-stats" 2>"$work/wire.log" &
  wire_pid=$!
  for _ in $(seq 100); do
    [ -e "$work/ready" ] && break
    kill -0 "$wire_pid" 2>/dev/null || { cat "$work/wire.log" >&2; exit 1; }
    sleep 0.1
  done
  [ -e "$work/ready" ] || { echo "lossy-link.sh: the TUN wire did not start" >&2; exit 1; }
  ip -n "$SRV" addr add "$SERVER_IP/24" dev sl-tun-s
  ip -n "$CLI" addr add "$CLIENT_IP/24" dev sl-tun-c
  ip -n "$SRV" link set sl-tun-s up
  ip -n "$CLI" link set sl-tun-c up
  link="user-space TUN wire, scripts/lossy/wire.py (delay ${delay} ms, loss ${loss} % each way$why)"
fi

# --- the servers, in the server namespace ------------------------------------------
bin=${SOCKLAB:-$(socklab_bin)}
for t in udp tcp; do
  RUST_LOG=warn ip netns exec "$SRV" "$bin" serve "$t" --addr "$SERVER_IP:$PORT" \
    2>"$work/$t-server.log" &
  servers+=($!)
  ip netns exec "$SRV" bash -c "source scripts/lib.sh; wait_port $t $PORT"
done

# snmp NS PROTO FIELD : a counter from the namespace's own /proc/net/snmp, where the
# kernel keeps its per-protocol counts (the file has a header line, then a values line).
snmp() {
  # shellcheck disable=SC2016 # $1, $i: awk's fields, not the shell's
  ip netns exec "$1" awk -v p="$2:" -v f="$3" '
    $1 == p && !h { for (i = 2; i <= NF; i++) col[$i] = i; h = 1; next }
    $1 == p && h { print $(col[f]) }' /proc/net/snmp
}

# run PROTO TIMEOUT : the client, in the client namespace; key=value lines into PROTO.out
run() {
  timeout "$RUN_LIMIT" ip netns exec "$CLI" \
    python3 scripts/lossy/client.py "$1" "$SERVER_IP" "$PORT" "$count" "$2" >"$work/$1.out"
}
get() { sed -n "s/^$2=//p" "$work/$1.out"; } # get PROTO KEY

echo "lossy link: $link"
echo "server $SERVER_IP:$PORT (namespace $SRV), client $CLIENT_IP (namespace $CLI), $count messages each"
udp_in_before=$(snmp "$SRV" Udp InDatagrams)
run udp "$UDP_TIMEOUT"
udp_in=$(($(snmp "$SRV" Udp InDatagrams) - udp_in_before))
run tcp "$TCP_TIMEOUT"
retrans_c=$(snmp "$CLI" Tcp RetransSegs)
retrans_s=$(snmp "$SRV" Tcp RetransSegs)
out_c=$(snmp "$CLI" Tcp OutSegs)
out_s=$(snmp "$SRV" Tcp OutSegs)

# Now the link reorders as well, for the burst only (so the runs above measured
# loss and delay alone).
if [ "$wire" = netem ]; then
  ip netns exec "$SRV" tc qdisc change dev sl-veth-s root netem delay "${delay}ms" loss "${loss}%" reorder "${reorder}%"
  ip netns exec "$CLI" tc qdisc change dev sl-veth-c root netem delay "${delay}ms" loss "${loss}%" reorder "${reorder}%"
else
  kill -USR1 "$wire_pid"
fi
run udp-burst "$BURST_QUIET"

echo
printf '%-40s %12s %12s\n' "" udp tcp
row() { printf '%-40s %12s %12s\n' "$1" "$2" "$3"; }
row "messages sent" "$(get udp sent)" "$(get tcp sent)"
row "echoes received" "$(get udp received)" "$(get tcp received)"
row "messages lost (no echo within deadline)" "$(get udp lost)" "$(get tcp lost)"
row "  lost on the way there (server got $udp_in)" "$(($(get udp sent) - udp_in))" "-"
row "  lost on the way back, or late" "$((udp_in - $(get udp received)))" "-"
row "  (echoes seen after their deadline)" "$(get udp late)" "-"
row "segments retransmitted (client+server)" "-" "$((retrans_c + retrans_s)) ($retrans_c+$retrans_s)"
row "segments sent (client+server)" "-" "$((out_c + out_s))"
row "connect() time, ms" "-" "$(get tcp connect_ms)"
row "round trip p50, ms" "$(get udp rtt_p50_ms)" "$(get tcp rtt_p50_ms)"
row "round trip p90, ms" "$(get udp rtt_p90_ms)" "$(get tcp rtt_p90_ms)"
row "round trip p99, ms" "$(get udp rtt_p99_ms)" "$(get tcp rtt_p99_ms)"
row "round trip max, ms" "$(get udp rtt_max_ms)" "$(get tcp rtt_max_ms)"
row "whole run, s" "$(get udp total_s)" "$(get tcp total_s)"
echo "UDP deadline per message: ${UDP_TIMEOUT} s; RTT of UDP counts only the echoes that came back."
echo
echo "Then with reordering (${reorder} % of packets each way): $count datagrams sent at once, echoes read until ${BURST_QUIET} s of silence"
row "UDP burst: echoes received" "$(get udp-burst received)" "-"
row "  arrived after a later-numbered one" "$(get udp-burst out_of_order)" "-"
if [ "$wire" = tun ]; then
  for p in "${servers[@]}"; do stop "$p"; done
  servers=()
  stop "$wire_pid" # it writes its counts as it exits
  wire_pid=""
  echo "wire: $(tr '\n' ' ' <"$work/wire-stats")(a = client, b = server)"
fi

# What must hold whatever the dice said: TCP delivered every message, intact, in
# order; every UDP message is accounted for as echoed or lost.
echo
failures=0
check "lossy-link: tcp echoed all $count messages" "$count" "$(get tcp received)"
check "lossy-link: tcp echoes intact and in order" yes "$(get tcp in_order)"
check "lossy-link: udp echoed + lost = $count" "$count" "$(($(get udp received) + $(get udp lost)))"
check "lossy-link: udp burst echoed + lost = $count" "$count" "$(($(get udp-burst received) + $(get udp-burst lost)))"
[ "$failures" -eq 0 ]
