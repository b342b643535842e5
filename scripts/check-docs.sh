#!/usr/bin/env bash
# scripts/check-docs.sh — every {{#include FILE:ANCHOR}} in docs/ points at a real
# file and a real ANCHOR region, so the docs quote code that exists; and the
# lesson pages (docs/lessons.md, docs/handout.md and their Korean versions under
# docs/ko/) are what docs/lessons.toml makes, with every English text beside a
# Korean one (scripts/gen-lessons.py --check says which is missing); and every
# exercise of exercises/exercises.toml has its Korean texts, with the generated
# exercise pages (docs/generated/exercises.md, exercises.ko.md) carrying them;
# and every generated table says nothing impossible (scripts/check-generated.py:
# no layer faster than the one it runs on, SSE loses nothing across its
# reconnect, a bench run's errors are 0, a p99 from a stalled run is flagged).
#
# Usage: scripts/check-docs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
no_args "$0" "$@"
bad=0
while IFS= read -r line; do
  doc=${line%%:*}
  spec=$(sed -E 's/.*\{\{#include ([^}]*)\}\}.*/\1/' <<<"${line#*:}")
  file=${spec%%:*}
  anchor=""
  [ "$file" != "$spec" ] && anchor=${spec#*:}
  path="$(dirname "$doc")/$file"
  if [ ! -f "$path" ]; then
    echo "$doc: {{#include $spec}}: no file $path"; bad=1; continue
  fi
  # An anchor line ends with the name (Rust: // ANCHOR: name), or with " -->"
  # (a generated markdown file: <!-- ANCHOR: name -->).
  if [ -n "$anchor" ] && ! grep -Eq "ANCHOR: $anchor( -->)?\$" "$path"; then
    echo "$doc: {{#include $spec}}: no 'ANCHOR: $anchor' in $path"; bad=1
  fi
done < <(grep -rHo '{{#include [^}]*}}' docs/ --include='*.md' || true)
[ $bad -eq 0 ] && echo "docs: all includes resolve"
# Every picture a page shows exists (scripts/gen-docs.sh draws them).
while IFS= read -r line; do
  doc=${line%%:*}
  img=$(sed -E 's/.*\]\(([^)]*)\).*/\1/' <<<"${line#*:}")
  if [ ! -f "$(dirname "$doc")/$img" ]; then
    echo "$doc: picture $img does not exist (scripts/gen-docs.sh draws it)"; bad=1
  fi
done < <(grep -rHo '!\[[^]]*\]([^)]*\.svg)' docs/ --include='*.md' || true)
need_python
python3 scripts/gen-lessons.py --check || bad=1
python3 scripts/check-generated.py docs/generated || bad=1
exit $bad
