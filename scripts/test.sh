#!/usr/bin/env bash
# scripts/test.sh — every check socklab has, in one command (CI runs this via .ci/run).
#
# Usage: scripts/test.sh [--quick]
#   --quick   format, lint, the Rust tests and the book only (skip the third-party
#             interop runs, the hostile matrix, Autobahn, the bench smoke run, captures
#             and the lossy link, as root and without)
#
# Idempotent: whatever a step needs (mdBook in .tools/mdbook, redis-server, ncat, Python and Node
# clients, Chromium, Autobahn|Testsuite) is installed by that step's own script
# when missing. Run it as root: apt installs and the captures need it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

quick=false
# Every argument is checked before anything runs: a typo (--quik) is refused at
# once with the usage instead of starting the full run.
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage "$0"; exit 0 ;;
    --quick) quick=true ;;
    *) unknown_arg "$0" "$arg" ;;
  esac
done

step() { printf '\n=== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
# The relay test (crates/socklab/tests/relay.rs) runs its own redis-server.
apt_install redis-server
cargo build --workspace --release --locked
cargo test --workspace --locked 2>&1 | tee target/test-output.txt
# Sum cargo's per-binary "test result" lines for the closing line below.
read -r passed failed < <(awk '/^test result:/ { p += $4; f += $6 } END { print p+0, f+0 }' target/test-output.txt)

step "exercises: every starter fails its check, saying why; every solution passes"
scripts/exercises.sh | tee target/exercises-output.txt
ok=$(grep -c '^ok ' target/exercises-output.txt || true)
passed=$((passed + ok))

step "docs: every {{#include}} anchor resolves"
scripts/check-docs.sh

step "docs: mdbook build and mdbook test (the book renders; its Rust snippets compile)"
mdbook=$(scripts/install-mdbook.sh)
"$mdbook" build docs
"$mdbook" test docs
python3 scripts/book/links.py target/book

step "docs: the Korean book is complete and current (po/ko.po against every English paragraph), builds, and its links land"
scripts/ko-book.sh check
scripts/ko-book.sh build >/dev/null
python3 scripts/book/links.py target/book-ko

if ! $quick; then
  step "interop: real third-party clients"
  scripts/interop.sh | tee target/interop-output.txt
  ok=$(grep -c '^ok ' target/interop-output.txt || true)
  passed=$((passed + ok))

  step "classroom: 30 students (ncat, socklab send, Python websockets, udp) and two dashboards (the feed counted, the page in Chromium)"
  scripts/classroom.sh | tee target/classroom-output.txt
  ok=$(grep -c '^ok ' target/classroom-output.txt || true)
  passed=$((passed + ok))

  step "hostile: every attack against every server (its own process, a 16 MiB budget (256 MiB for big-messages-48), judged by its --stats-file)"
  scripts/hostile.sh | tee target/hostile-output.txt
  ok=$(grep -c '^ok ' target/hostile-output.txt || true)
  passed=$((passed + ok))

  step "autobahn: RFC 6455 and permessage-deflate conformance of ws-echo (event loop, then threads; 12.*/13.* a subset: scripts/autobahn.sh runs all)"
  scripts/autobahn.sh --ci
  scripts/autobahn.sh --ci --agent ws-echo-threads \
    --server "$PWD/target/release/socklab serve ws --deflate --model threads --addr {addr} --idle-timeout 30"

  step "bench: scripts/bench.sh end to end (a smoke run: its numbers mean nothing)"
  scripts/bench.sh --secs 0.2 --runs 1 --idle 200 --out target/bench-smoke.md --smoke >/dev/null

  step "captures: the same exchange over tcp, udp, ws, tls and wss (decrypted with the key log), asserted from tshark"
  scripts/capture.sh --out target/captures --check --tls | tee target/capture-output.txt
  ok=$(grep -c '^ok ' target/capture-output.txt || true)
  passed=$((passed + ok))

  step "captures: the push server's techniques (keep-alive, Connection: close, no request after the Upgrade)"
  scripts/capture.sh --push --out target/captures --check | tee target/capture-push-output.txt
  ok=$(grep -c '^ok ' target/capture-push-output.txt || true)
  passed=$((passed + ok))

  step "captures: permessage-deflate (send --deflate to serve ws --deflate: the extension both ways, RSV1 on every data frame)"
  scripts/capture.sh --deflate --out target/captures --check | tee target/capture-deflate-output.txt
  ok=$(grep -c '^ok ' target/capture-deflate-output.txt || true)
  passed=$((passed + ok))

  step "lessons 8, 16, 22, 23: one port, the Origin policy, a frame's layers, full duplex (captured, asserted)"
  scripts/gen-lesson-docs.sh --out target/lesson-docs | tee target/lesson-docs-output.txt
  ok=$(grep -c '^ok ' target/lesson-docs-output.txt || true)
  passed=$((passed + ok))

  step "lossy link: UDP loses, TCP retransmits (network namespaces; SKIP where not permitted)"
  scripts/lossy-link.sh | tee target/lossy-output.txt
  ok=$(grep -c '^ok ' target/lossy-output.txt || true)
  passed=$((passed + ok))

  step "lossy link without root: the same lesson as an unprivileged user (nobody; SKIP where user namespaces are refused)"
  scripts/lossy-link.sh --rootless --as nobody --count 50 | tee target/lossy-rootless-output.txt
  ok=$(grep -c '^ok ' target/lossy-rootless-output.txt || true)
  passed=$((passed + ok))
fi

printf '\nall checks passed\n%d passed, %d failed\n' "$passed" "$failed"
