#!/usr/bin/env bash
# scripts/autobahn.sh — RFC 6455 conformance: the Autobahn|Testsuite fuzzing client against ws-echo.
#
# Usage: scripts/autobahn.sh [--addr IP:PORT] [--server 'COMMAND'] [--cases '1.*,2.*'] [--agent NAME]
#   (no option)       build socklab (release), run `socklab serve ws` on a free loopback port
#   --server 'CMD'    start CMD instead; the string {addr} in it is replaced by IP:PORT
#                     (e.g. --server 'target/release/socklab serve ws --model threads --addr {addr}';
#                     the models are iterative, threads and event-loop, the default)
#   --addr IP:PORT    test a server that is already running there (start nothing)
#   --cases LIST      comma-separated case patterns (default: 1.* … 7.*, 9.*, 10.*,
#                     12.*, 13.*: all of them)
#   --ci              the cases scripts/test.sh runs: 1.* … 10.* as above, and of the
#                     216 permessage-deflate cases 24 light ones (12.*.1, 12.*.5:
#                     16 and 4096-byte messages of each kind of data; 13.*.1, 13.*.11:
#                     every offer/answer pair, 16-byte messages and 8 KiB ones in
#                     256-byte fragments),
#                     to stay inside CI's time
#   --agent NAME      the server's name in the report (default: ws-echo)
#   --out DIR         where the logs and the report go (default: target/autobahn;
#                     two runs at once need two)
#   --wss             test `socklab serve wss` instead (a fresh certificate in
#                     target/autobahn/cert.pem): the fuzzing client connects to
#                     wss://localhost:PORT and checks the certificate against
#                     SSL_CERT_FILE, set to that file (see docs/autobahn.md)
#
# Installs autobahntestsuite==25.10.1 into .tools/autobahn. It runs on Python 2.7
# only, taken from $PYTHON2, else `pyenv prefix 2.7.18`, else python2.7 on PATH,
# else ~/.pyenv/versions/2.7.18; without one the script stops and names the command
# that installs it (it does not download Python itself).
# Groups 12 and 13 are permessage-deflate (RFC 7692): the server under test runs
# with --deflate (cases 1.* … 10.* offer no extension, so they test the plain path).
# Prints OK / NON-STRICT / FAILED / UNIMPLEMENTED counts; the HTML report is kept in
# target/autobahn/. Exits non-zero on any FAILED or UNIMPLEMENTED case, or any
# NON-STRICT case not listed with its reason in docs/autobahn.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

addr="" server="" agent="ws-echo" wss=false out=target/autobahn
plain='1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*'
cases="$plain,12.*,13.*"
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage "$0"; exit 0 ;;
    --addr) addr=$2; shift 2 ;;
    --server) server=$2; shift 2 ;;
    --cases) cases=$2; shift 2 ;;
    # Case ids, not patterns: Autobahn matches a pattern's start only, so
    # 12.*.1 would take 12.1.10 … 12.1.18 (the 128 KiB ones) too.
    --ci) cases="$plain,$(printf '12.%s.1,12.%s.5,' 1 1 2 2 3 3 4 4 5 5)$(printf '13.%s.1,13.%s.11,' 1 1 2 2 3 3 4 4 5 5 6 6 7 7)"
          cases=${cases%,}; shift ;;
    --agent) agent=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --wss) wss=true; shift ;;
    *) echo "unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done

# --- Python 2.7 and Autobahn|Testsuite (idempotent) ----------------------------
# Autobahn|Testsuite is Python 2 only. pip --target puts everything in one
# git-ignored directory. zope is a namespace package (a .pth file makes it
# importable), so the directory must be added with site.addsitedir, not just
# PYTHONPATH.

# find_python2 : the path of a Python 2.7 interpreter, or nothing.
find_python2() {
  local prefix candidates=()
  [ -n "${PYTHON2:-}" ] && candidates+=("$PYTHON2")
  if command -v pyenv >/dev/null && prefix=$(pyenv prefix 2.7.18 2>/dev/null); then
    candidates+=("$prefix/bin/python")
  fi
  command -v python2.7 >/dev/null && candidates+=("$(command -v python2.7)")
  candidates+=("$HOME/.pyenv/versions/2.7.18/bin/python")
  for py in "${candidates[@]}"; do
    # A pyenv shim exists even when its version is not installed: ask the
    # interpreter itself.
    if [ -x "$py" ] && "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (2, 7))' 2>/dev/null; then
      echo "$py"
      return 0
    fi
  done
  return 1
}

if ! py2=$(find_python2); then
  echo "autobahn: Autobahn|Testsuite needs Python 2.7, and none was found" >&2
  echo "  (tried \$PYTHON2, \`pyenv prefix 2.7.18\`, python2.7 on PATH, ~/.pyenv/versions/2.7.18)." >&2
  if command -v pyenv >/dev/null; then
    echo "  Install it with: pyenv install 2.7.18   (needs network access), then rerun." >&2
  else
    echo "  Install pyenv (https://github.com/pyenv/pyenv), run: pyenv install 2.7.18," >&2
    echo "  or point PYTHON2=/path/to/python2.7 at one you have, then rerun." >&2
  fi
  exit 1
fi
tools=$PWD/.tools/autobahn
if ! "$py2" -c "import site; site.addsitedir('$tools'); import autobahntestsuite" 2>/dev/null; then
  echo "installing autobahntestsuite==25.10.1 into .tools/autobahn (with $py2)"
  rm -rf "$tools"
  "$py2" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
    --target "$tools" 'autobahntestsuite==25.10.1'
fi

# --- the server under test ------------------------------------------------------
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; }
trap cleanup EXIT
rm -rf "$out"
mkdir -p "$out"
if [ -z "$addr" ]; then
  addr="127.0.0.1:$(free_port)"
  if [ -z "$server" ]; then
    # A release build: 9.* moves hundreds of megabytes through the server.
    server="$(socklab_bin) serve ws --deflate --addr {addr} --idle-timeout 30"
    $wss && server="$(socklab_bin) serve wss --deflate --addr {addr} --idle-timeout 30 --cert-out $out/cert.pem"
  fi
  # RUST_LOG=warn: the per-read narration of ~500 cases would be gigabytes of log.
  RUST_LOG=${RUST_LOG:-warn} bash -c "exec ${server//\{addr\}/$addr}" >"$out/server.log" 2>&1 &
  pid=$!
  wait_port tcp "${addr##*:}"
fi

# --- the fuzzing client -----------------------------------------------------------
# --wss: the name the certificate carries (localhost), sent as SNI ("hostname"),
# which makes the client verify the chain (Twisted's optionsForClientTLS)
# against OpenSSL's default trust, pointed by SSL_CERT_FILE at our certificate.
scheme=ws
if $wss; then
  scheme=wss
  addr="localhost:${addr##*:}"
  export SSL_CERT_FILE=$PWD/$out/cert.pem
fi
python3 - "$out/spec.json" "$agent" "$addr" "$cases" "$scheme" "$out/report" <<'EOF'
import json, sys
path, agent, addr, cases, scheme, report = sys.argv[1:]
server = {"agent": agent, "url": "%s://%s" % (scheme, addr)}
if scheme == "wss":
    server["hostname"] = addr.rsplit(":", 1)[0]
json.dump({
    "outdir": report,
    "servers": [server],
    "cases": cases.split(","),
    "exclude-cases": [],
    "exclude-agent-cases": {},
}, open(path, "w"), indent=2)
EOF
echo "autobahn: fuzzingclient against $scheme://$addr ($agent), cases $cases"
start=$(date +%s)
"$py2" -c "
import site, sys
site.addsitedir('$tools')
sys.argv = ['wstest', '--mode', 'fuzzingclient', '--spec', '$out/spec.json']
from autobahntestsuite.wstest import run
run()
" >"$out/wstest.log" 2>&1 || { tail -20 "$out/wstest.log"; echo "autobahn: wstest failed" >&2; exit 1; }
echo "autobahn: finished in $(( $(date +%s) - start )) s; report: $out/report/index.html"

# --- the verdict ----------------------------------------------------------------
python3 - "$out/report/index.json" "$agent" docs/autobahn.md <<'EOF'
import collections, json, re, sys
index, agent, doc = sys.argv[1:]
results = json.load(open(index))[agent]
# NON-STRICT cases documented with a reason: table rows "| 6.4.3 | reason |".
allowed = {}
for line in open(doc, encoding="utf-8"):
    m = re.match(r"\|\s*(\d+(?:\.\d+)+)\s*\|\s*(.+?)\s*\|\s*$", line)
    if m:
        allowed[m.group(1)] = m.group(2)
def key(case):
    return [int(p) for p in case.split(".")]
counts = collections.Counter(r["behavior"] for r in results.values())
print("autobahn: %d cases: " % len(results) +
      ", ".join("%s %d" % (b, counts[b]) for b in ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]))
bad = 0
for case in sorted(results, key=key):
    r = results[case]
    if r["behavior"] in ("FAILED", "UNIMPLEMENTED"):
        print("  %-11s %-8s close=%s (see report/%s)" % (r["behavior"], case, r.get("remoteCloseCode"), r["reportfile"]))
        bad += 1
    elif r["behavior"] == "NON-STRICT":
        if case in allowed:
            print("  NON-STRICT  %-8s documented: %.70s…" % (case, allowed[case]))
        else:
            print("  NON-STRICT  %-8s NOT in docs/autobahn.md (see report/%s)" % (case, r["reportfile"]))
            bad += 1
sys.exit(1 if bad else 0)
EOF
