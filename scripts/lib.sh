# shellcheck shell=bash
# scripts/lib.sh — small helpers shared by the scripts (sourced, not run).

# usage SCRIPT : print the comment block at the top of SCRIPT (its --help), from
# line 2 to the first line that is not a comment, without the leading "# ".
usage() {
  awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "$1"
}

# no_args SCRIPT "$@" : for a script that takes no arguments. -h/--help prints its
# usage and exits 0; anything else is refused at once, with the usage, exit 2 (a
# mistyped option must not start a long run that silently ignores it).
no_args() {
  local script=$1
  shift
  case "${1:-}" in
    "") return 0 ;;
    -h|--help) usage "$script"; exit 0 ;;
    *) unknown_arg "$script" "$1" ;;
  esac
}

# unknown_arg SCRIPT ARG : say ARG is not an option of SCRIPT, print the usage on
# stderr and exit 2 (the shell's convention for a usage error).
unknown_arg() {
  echo "$(basename "$1"): unknown argument '$2'" >&2
  usage "$1" >&2
  exit 2
}

# apt_install PKG... : install the Debian packages that are missing, and only
# them: --no-install-recommends keeps apt from pulling in what a package merely
# recommends (for a browser: printing, sound and network discovery services).
# Needs root (these machines have no sudo); otherwise stops with the command to
# run. Idempotent: installed packages are skipped without asking apt.
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]}; as root, run:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "installing with apt: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# apt_available PKG : true when apt knows a candidate version of PKG (after an
# `apt-get update`, which this runs once if the package lists are empty).
apt_available() {
  local candidate
  candidate=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
  if [ -z "$candidate" ] && [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    candidate=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
  fi
  [ -n "$candidate" ] && [ "$candidate" != "(none)" ]
}

# chromium_bin : path of an installed headless Chromium, or nothing. Debian's
# chromium-headless-shell (the small headless-only build) first, then the full
# chromium.
chromium_bin() {
  local b
  for b in chromium-headless-shell chromium; do
    if command -v "$b" >/dev/null; then command -v "$b"; return 0; fi
  done
  for b in /usr/lib/chromium/chromium-headless-shell /usr/lib/chromium/chromium; do
    if [ -x "$b" ]; then echo "$b"; return 0; fi
  done
  return 1
}

# install_chromium : make sure a headless Chromium is installed, and print its
# path. Prefers Debian's chromium-headless-shell; the full chromium package only
# where that one does not exist. Both without recommends.
install_chromium() {
  if ! chromium_bin >/dev/null; then
    if apt_available chromium-headless-shell; then
      apt_install chromium-headless-shell >&2
    else
      apt_install chromium >&2
    fi
  fi
  chromium_bin || { echo "no chromium binary found after installing it" >&2; exit 1; }
}

# need_python : stop, with the commands to run, unless python3 is 3.11 or newer
# (the scripts read TOML with tomllib, new in 3.11).
need_python() {
  local want=3.11 have
  have=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo none)
  if [ "$have" = none ] || ! version_at_least "$have" "$want"; then
    echo "$(basename "$0"): needs Python $want or newer as python3 (tomllib); python3 is: $have" >&2
    echo "  Debian 12 and Ubuntu 24.04 have it: apt-get install -y --no-install-recommends python3" >&2
    echo "  elsewhere, with pyenv: pyenv install 3.11 && pyenv global 3.11" >&2
    exit 1
  fi
}

# need_venv : make sure `python3 -m venv` works (Debian ships it apart, as
# python3-venv); stops with what to do if it still does not.
need_venv() {
  python3 -c 'import venv, ensurepip' 2>/dev/null && return 0
  apt_install python3-venv
  python3 -c 'import venv, ensurepip' 2>/dev/null && return 0
  echo "$(basename "$0"): python3 ($(command -v python3)) cannot make a venv (no ensurepip);" >&2
  echo "  for Debian's python3: apt-get install -y --no-install-recommends python3-venv" >&2
  exit 1
}

# version_at_least HAVE WANT : true when version HAVE (1.95.0) >= WANT (1.88).
version_at_least() {
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]
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
