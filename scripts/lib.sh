# scripts/lib.sh — small helpers shared by the scripts (sourced, not run).

# apt_install PKG... : install Debian packages that are missing (root; idempotent).
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing with apt: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# wait_port PROTO PORT : wait (at most 10 s) until something listens on loopback PORT.
wait_port() {
  local proto=$1 port=$2 flag=-tln
  [ "$proto" = udp ] && flag=-uln
  for _ in $(seq 100); do
    ss -H "$flag" "sport = :$port" | grep -q . && return 0
    sleep 0.1
  done
  echo "nothing is listening on $proto port $port after 10 s" >&2
  return 1
}

# free_port : a TCP/UDP port number that is free on loopback right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# socklab_bin : path of the release socklab binary, building it if needed.
socklab_bin() {
  cargo build --release --quiet -p socklab >&2
  echo "$PWD/target/release/socklab"
}

# check NAME EXPECTED ACTUAL : print "ok   NAME" when they are equal, else a FAIL
# line showing both, and count it in $failures (the caller sets failures=0).
check() {
  if [ "$2" == "$3" ]; then
    echo "ok   $1"
  else
    echo "FAIL $1: expected $(printf %q "$2"), got $(printf %q "$3")"
    failures=$((failures + 1))
  fi
}
