#!/usr/bin/env bash
# scripts/before-after.sh — issue 19's before and after in one run: the tcp and
# ws servers (a thread per connection, and the event loop) of an older commit
# against this tree's, per message echoed (docs/event-loop.md).
#
# Usage: scripts/before-after.sh [--rev REV] [wakeups.sh options]
#   --rev REV  the commit measured as "before" (default 15f5267: the code as it
#              was when scripts/wakeups.sh first measured it, before the
#              changes docs/event-loop.md lists under "What was changed")
#   anything else goes to scripts/wakeups.sh (default: --strace)
#
# Builds REV's socklab once (a git worktree and its own target directory under
# target/before/, reused on the next run), then runs scripts/wakeups.sh
# --before that binary: every "before: …" row is served by REV's socklab, the
# row under it by this tree's, in the same interleaved rounds, loaded by this
# tree's `socklab bench`. Writes the table to stdout:
#   scripts/before-after.sh > docs/generated/event-loop-before-after.txt
# on a quiet machine (scripts/gen-docs.sh does). Only loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

case "${1:-}" in -h|--help) usage "$0"; exit 0 ;; esac
rev=15f5267
if [ "${1:-}" = --rev ]; then rev=${2:?--rev needs a commit}; shift 2; fi
[ $# -gt 0 ] || set -- --strace

sha=$(git rev-parse --verify --quiet "$rev^{commit}") ||
  { echo "before-after.sh: $rev is not a commit of this repository" >&2; exit 2; }
short=${sha:0:7}
dir=target/before/$short
before=$dir/target/release/socklab
if [ ! -x "$before" ]; then
  echo "before-after.sh: building socklab at $short (once; kept in $dir)" >&2
  [ -d "$dir/src" ] || git worktree add --force --detach "$dir/src" "$sha" >/dev/null
  # Its own target directory: the two trees' crates share names, not code.
  CARGO_TARGET_DIR="$PWD/$dir/target" cargo build --release --quiet \
    --manifest-path "$dir/src/Cargo.toml" -p socklab >&2
  git worktree remove --force "$dir/src" >/dev/null
fi
echo "\"before: …\" rows: socklab at $short ($(git log -1 --format=%cs "$sha")); the other rows: this tree ($(git rev-parse --short HEAD))."
echo
exec scripts/wakeups.sh --before "$before" "$@"
