#!/usr/bin/env bash
# scripts/handout-pdf.sh — print the handout (English and Korean) to PDFs with
# headless Chromium, one lesson per sheet.
#
# Usage: scripts/handout-pdf.sh [--out DIR]     (default DIR: target/handout)
#
# Builds the book with mdBook (.tools/mdbook), then prints target/book/handout.html
# and target/book/ko/handout.html through the book's print stylesheet
# (docs/handout.css). Needs Debian's chromium-headless-shell (or chromium) and
# playwright-core in .tools/node, as scripts/interop.sh installs them, and a
# Korean font (Debian's fonts-nanum, installed here if missing: without it the
# Korean sheets print as empty boxes). The PDFs
# are not committed: they are rebuilt from the book whenever you need paper.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
out=target/handout
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    -h|--help) usage "$0"; exit 0 ;;
    *) echo "handout-pdf: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
apt_install fonts-nanum
mdbook=$(scripts/install-mdbook.sh)
"$mdbook" build docs >/dev/null
export NODE_PATH=.tools/node/node_modules
node scripts/handout/print_pdf.js target/book/handout.html "$out/handout.pdf"
node scripts/handout/print_pdf.js target/book/ko/handout.html "$out/handout-ko.pdf"
