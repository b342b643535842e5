#!/usr/bin/env bash
# scripts/exercises.sh — every exercise's starter FAILS its check, saying the
# thing the exercise is about, and every solution PASSES.
#
# Usage: scripts/exercises.sh [N…]   (default: every exercise in exercises/exercises.toml)
#
# Builds the exercises workspace once (its own Cargo.lock, debug: the programs
# are tiny and a debug build is the quickest), then runs
# `socklab exercise check N` on exercises/SLUG and on exercises/solutions/SLUG.
# A starter must exit 1 (wrong, not "could not run": a starter that does not
# compile fails this script) with its `starter_says` text from exercises.toml
# in a `wrong` finding. Prints one `ok …` line per check.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
case "${1:-}" in -h|--help) usage "$0"; exit 0 ;; esac
# Exercise numbers only: anything else (a mistyped option) is refused at once.
for arg in "$@"; do
  [[ $arg =~ ^[0-9]+$ ]] || unknown_arg "$0" "$arg"
done
need_python
# SOCKLAB=path/to/socklab uses that binary instead of building the release one.
bin=${SOCKLAB:-$(socklab_bin)}
cargo build --manifest-path exercises/Cargo.toml --workspace --locked --quiet
# id, slug, starter_says: one tab-separated line per exercise.
mapfile -t rows < <(python3 - "$@" <<'PY'
import sys, tomllib
wanted = set(sys.argv[1:])
for e in tomllib.load(open("exercises/exercises.toml", "rb"))["exercise"]:
    if not wanted or str(e["id"]) in wanted:
        print("%d\t%s\t%s" % (e["id"], e["slug"], e["starter_says"]))
PY
)
bad=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for row in "${rows[@]}"; do
  IFS=$'\t' read -r id slug says <<<"$row"
  status=0
  "$bin" exercise check "$id" --path "exercises/$slug" >"$out" 2>&1 || status=$?
  # The text must be in a `wrong` finding, not merely somewhere in the output.
  if [ "$status" -eq 1 ] && grep '^wrong' "$out" | grep -qF -- "$says"; then
    echo "ok $id starter fails: $(grep '^wrong' "$out" | grep -m1 -F -- "$says" | cut -c7-150)"
  else
    echo "FAIL $id starter: expected exit 1 and \"$says\"; got exit $status:"; sed 's/^/  /' "$out"; bad=1
  fi
  status=0
  "$bin" exercise check "$id" --path "exercises/solutions/$slug" >"$out" 2>&1 || status=$?
  if [ "$status" -eq 0 ] && grep -q "^PASS exercise $id\$" "$out"; then
    echo "ok $id solution passes"
  else
    echo "FAIL $id solution: expected PASS; got exit $status:"; sed 's/^/  /' "$out"; bad=1
  fi
done
exit $bad
