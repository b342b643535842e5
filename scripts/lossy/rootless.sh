#!/usr/bin/env bash
# scripts/lossy/rootless.sh — lesson 2 without root: UDP loses, TCP retransmits,
# on a loopback that drops packets, inside a namespace an ordinary user may make.
#
# Usage: scripts/lossy/rootless.sh LOSS COUNT   (run by scripts/lossy-link.sh --rootless)
#   LOSS    whole percent of packets dropped on each direction (0-99)
#   COUNT   messages per transport
# Env: SOCKLAB=PATH  the socklab binary (default: build target/release/socklab)
#
# An unprivileged user may create a user namespace (inside it, they are "root",
# but only over what the namespace owns) and with it a network namespace: a
# network stack of its own, with its own loopback, its own firewall and its own
# kernel counters (/proc/net/snmp), none of which touches the host. In there this
# script loads one nftables rule that drops LOSS % of the packets arriving on `lo`
# (`numgen random mod 100 < LOSS`), runs `socklab serve udp` and `socklab serve
# tcp` on 127.0.0.1:7007 and scripts/lossy/client.py against them, and reports
# UDP messages lost against TCP segments retransmitted.
#
# What it cannot do: delay or reorder. nftables decides a packet's fate, it
# cannot hold a packet back; holding is a queueing discipline's job (`tc netem`)
# or a wire's (scripts/lossy/wire.py, over TUN devices), and here both need real
# root: this kernel has no netem, and a TUN device shared between two namespaces
# is set up from the host's. So the round trips are loopback's, and only a
# retransmission's wait stands out.
#
# Where the kernel refuses the namespace it prints SKIP with the setting that
# refused it and what to run instead, and exits 0.
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/../.."
source scripts/lib.sh

loss=${1:?usage: rootless.sh LOSS COUNT}
count=${2:?usage: rootless.sh LOSS COUNT}
PORT=7007 # socklab's default echo port: nothing else lives in a fresh namespace
# How long one UDP echo may take before the message counts as lost (s): a
# loopback round trip takes well under a millisecond.
UDP_TIMEOUT=0.5
# How long one TCP echo may take (s): room for several retransmission timeouts
# (200 ms at first, doubling on each loss of the same segment).
TCP_TIMEOUT=10
# Decimals of the times printed in ms: a loopback round trip is tens of µs.
MS_DECIMALS=3
# Bound on each client run as a whole (s).
RUN_LIMIT=120
# The nftables table this script owns, in its own namespace only.
TABLE=socklab_lossy

skip() { echo "SKIP lossy-link --rootless: $*"; exit 0; }

# --- outside: can this user have a network namespace? -------------------------
# why_refused : the kernel setting that refuses unprivileged user namespaces
# here, with what to do about it; the error itself when no known setting says no.
why_refused() {
  local f
  f=/proc/sys/kernel/unprivileged_userns_clone # Debian's and older Ubuntu's switch
  if [ "$(cat "$f" 2>/dev/null)" = 0 ]; then
    echo "the kernel forbids unprivileged user namespaces (kernel.unprivileged_userns_clone = 0);"
    echo "  as root: sysctl -w kernel.unprivileged_userns_clone=1, or run scripts/lossy-link.sh as root"
    return
  fi
  f=/proc/sys/kernel/apparmor_restrict_unprivileged_userns # Ubuntu 23.10 and later
  if [ "$(cat "$f" 2>/dev/null)" = 1 ]; then
    echo "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1);"
    echo "  as root: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or run scripts/lossy-link.sh as root"
    return
  fi
  f=/proc/sys/user/max_user_namespaces
  if [ "$(cat "$f" 2>/dev/null)" = 0 ]; then
    echo "no user namespaces may be created (user.max_user_namespaces = 0);"
    echo "  as root: sysctl -w user.max_user_namespaces=10000, or run scripts/lossy-link.sh as root"
    return
  fi
  echo "unshare --user --map-root-user --net failed: $1;"
  echo "  in a container, its seccomp profile may forbid unshare(2) (Docker: --security-opt seccomp=unconfined);"
  echo "  or run scripts/lossy-link.sh as root"
}

if [ "${SOCKLAB_LOSSY_INSIDE:-}" != 1 ]; then
  command -v unshare >/dev/null || skip "no unshare (Debian package util-linux)"
  if ! command -v nft >/dev/null && ! [ -x /usr/sbin/nft ]; then
    skip "no nft; as root: apt-get install -y --no-install-recommends nftables"
  fi
  err=$(unshare --user --map-root-user --net true 2>&1) || skip "$(why_refused "$err")"
  bin=${SOCKLAB:-$(socklab_bin)}
  # Inside the new namespaces this same script runs again, from the top.
  exec env SOCKLAB="$bin" SOCKLAB_LOSSY_INSIDE=1 SOCKLAB_LOSSY_UID="$(id -u)" \
    PATH="$PATH:/usr/sbin:/sbin" unshare --user --map-root-user --net bash "$self" "$@"
fi

# --- inside: a namespace of our own --------------------------------------------
bin=${SOCKLAB:?}
work=$(mktemp -d)
servers=()
cleanup() {
  for p in "${servers[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A fresh network namespace has only `lo`, and it is down.
ip link set lo up

# The lossy wire: one rule per transport and direction, each drawing its own
# random number, each counting what it dropped. The input hook sees every packet
# once, as it arrives: the sender's send() has already succeeded, as on a real
# wire. (Dropped in the output hook instead, the sender's own kernel would know:
# a UDP send() fails with EPERM, and TCP treats it as local congestion.)
if ! nft -f - 2>"$work/nft.err" <<EOF; then
table inet $TABLE {
  chain in {
    type filter hook input priority 0; policy accept;
    iifname "lo" udp dport $PORT numgen random mod 100 < $loss counter drop comment "udp-there"
    iifname "lo" udp sport $PORT numgen random mod 100 < $loss counter drop comment "udp-back"
    iifname "lo" tcp dport $PORT numgen random mod 100 < $loss counter drop comment "tcp-there"
    iifname "lo" tcp sport $PORT numgen random mod 100 < $loss counter drop comment "tcp-back"
  }
}
EOF
  skip "nftables refused the rule: $(tr '\n' ' ' <"$work/nft.err");
  a user namespace may not load kernel modules: as root, modprobe nf_tables nft_numgen"
fi

for t in udp tcp; do
  RUST_LOG=warn "$bin" serve "$t" --addr "127.0.0.1:$PORT" 2>"$work/$t-server.log" &
  servers+=($!)
  wait_port "$t" "$PORT"
done

# dropped NAME : packets the rule with comment NAME has dropped so far.
dropped() {
  nft list chain inet "$TABLE" in |
    awk -v c="\"$1\"" '$0 ~ c { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'
}
# snmp PROTO FIELD : a counter from this namespace's own /proc/net/snmp (a header
# line, then a values line, per protocol).
snmp() {
  # shellcheck disable=SC2016 # $1, $i: awk's fields, not the shell's
  awk -v p="$1:" -v f="$2" '
    $1 == p && !h { for (i = 2; i <= NF; i++) col[$i] = i; h = 1; next }
    $1 == p && h { print $(col[f]) }' /proc/net/snmp
}
run() { # run PROTO TIMEOUT : key=value lines into PROTO.out
  timeout "$RUN_LIMIT" python3 scripts/lossy/client.py "$1" 127.0.0.1 "$PORT" "$count" "$2" "$MS_DECIMALS" \
    >"$work/$1.out"
}
get() { sed -n "s/^$2=//p" "$work/$1.out"; } # get PROTO KEY

echo "lossy link: loopback in a user+network namespace of its own (root inside it, uid ${SOCKLAB_LOSSY_UID:-?} outside),"
echo "  nftables dropping ${loss} % of packets each way (numgen random); no added delay, no reordering"
echo "server 127.0.0.1:$PORT, client 127.0.0.1, $count messages each"
run udp "$UDP_TIMEOUT"
run tcp "$TCP_TIMEOUT"

echo
printf '%-40s %12s %12s\n' "" udp tcp
row() { printf '%-40s %12s %12s\n' "$1" "$2" "$3"; }
row "messages sent" "$(get udp sent)" "$(get tcp sent)"
row "echoes received" "$(get udp received)" "$(get tcp received)"
row "messages lost (no echo within deadline)" "$(get udp lost)" "$(get tcp lost)"
row "packets dropped on the way there" "$(dropped udp-there)" "$(dropped tcp-there)"
row "packets dropped on the way back" "$(dropped udp-back)" "$(dropped tcp-back)"
row "segments retransmitted (client+server)" "-" "$(snmp Tcp RetransSegs)"
row "segments sent (client+server)" "-" "$(snmp Tcp OutSegs)"
row "connect() time, ms" "-" "$(get tcp connect_ms)"
row "round trip p50, ms" "$(get udp rtt_p50_ms)" "$(get tcp rtt_p50_ms)"
row "round trip p90, ms" "$(get udp rtt_p90_ms)" "$(get tcp rtt_p90_ms)"
row "round trip p99, ms" "$(get udp rtt_p99_ms)" "$(get tcp rtt_p99_ms)"
row "round trip max, ms" "$(get udp rtt_max_ms)" "$(get tcp rtt_max_ms)"
row "whole run, s" "$(get udp total_s)" "$(get tcp total_s)"
echo "UDP deadline per message: ${UDP_TIMEOUT} s; RTT of UDP counts only the echoes that came back."
echo "Delay and reordering need root here (scripts/lossy-link.sh as root: netem, or the TUN wire)."

# What must hold whatever the dice said: TCP delivered every message, intact, in
# order, whatever the rule dropped; every UDP message is accounted
# for as echoed or lost, and a lost one is a dropped packet, not a slow one.
echo
failures=0
tcp_dropped=$(($(dropped tcp-there) + $(dropped tcp-back)))
udp_dropped=$(($(dropped udp-there) + $(dropped udp-back)))
check "lossy-link --rootless: tcp echoed all $count messages" "$count" "$(get tcp received)"
check "lossy-link --rootless: tcp echoes intact and in order" yes "$(get tcp in_order)"
check "lossy-link --rootless: udp echoed + lost = $count" "$count" "$(($(get udp received) + $(get udp lost)))"
check "lossy-link --rootless: tcp lost no message though packets were dropped" 0 "$(get tcp lost)"
# (A message counted lost whose echo came after its deadline, on a loaded machine,
# is not a dropped packet: it is counted as late.)
check "lossy-link --rootless: udp lost no more messages than packets dropped (+ late echoes)" yes \
  "$([ "$(get udp lost)" -le $((udp_dropped + $(get udp late))) ] && echo yes || echo no)"
[ "$failures" -eq 0 ]
