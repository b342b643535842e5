#!/usr/bin/env bash
# scripts/ko-book.sh — the Korean book: its catalogue, its translation, its check.
#
# Usage: scripts/ko-book.sh pot|update|check|build
#   pot     extract the catalogue (target/i18n/messages.pot): every chapter's own
#           prose, headings, list items and table cells, without the pages made
#           from docs/lessons.toml and without {{#include}}d measured output
#   update  merge that catalogue into po/ko.po (msgmerge): a new English paragraph
#           arrives untranslated, a changed one arrives marked fuzzy with its old
#           translation as a draft, a removed one is dropped; translated
#           headings get their English id ({#id}) so links keep working
#   check   exit 1, naming each message and its chapter, when po/ko.po has an
#           untranslated, stale (fuzzy) or obsolete message against the English
#           book as it is now, or a translated heading without its English
#           id (links into chapters must work in both books); scripts/test.sh
#           runs this
#   build   build the Korean book into target/book-ko (index.html); exit 1 when
#           a link inside it does not land on a page and heading
#
# Examples:
#   scripts/ko-book.sh check            # is the translation complete and current?
#   scripts/ko-book.sh update           # after editing an English chapter, then
#                                       # translate what check lists in po/ko.po
#   scripts/ko-book.sh build && xdg-open target/book-ko/index.html
#
# The workflow is mdbook-i18n-helpers' (as Comprehensive Rust uses it): the
# gettext preprocessor in docs/book.toml translates each paragraph before
# {{#include}} is expanded, so a regenerated measurement never makes a
# translation stale. Terms: docs/ko/glossary.md. Tools: mdBook and
# mdbook-i18n-helpers in .tools/mdbook (scripts/install-mdbook.sh), GNU gettext.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

case "${1:-}" in
  pot|update|check|build) [ $# -eq 1 ] || unknown_arg "$0" "$2" ;;
  -h|--help) usage "$0"; exit 0 ;;
  "") usage "$0" >&2; exit 2 ;;
  *) unknown_arg "$0" "$1" ;;
esac

command -v msgmerge >/dev/null || apt_install gettext
mdbook=$(scripts/install-mdbook.sh)
out=target/i18n
rm -rf "$out/raw"
mkdir -p "$out"

pot() {
  # No default preprocessors: {{#include}} stays a directive, never its output.
  MDBOOK_BUILD__USE_DEFAULT_PREPROCESSORS=false \
    MDBOOK_OUTPUT="{\"xgettext\": {\"command\": \"$(dirname "$mdbook")/mdbook-xgettext\", \"pot-file\": \"messages.pot\"}}" \
    "$mdbook" build docs -d "$PWD/$out/raw" 2>&1 | grep -E "ERROR|Caused" >&2 || true
  [ -s "$out/raw/messages.pot" ] || { echo "ko-book: mdbook-xgettext wrote no catalogue" >&2; exit 1; }
  python3 scripts/book/catalogue.py filter "$out/raw/messages.pot" "$out/messages.pot"
}

case "$1" in
  pot)
    pot
    echo "$out/messages.pot"
    ;;
  update)
    pot
    msgmerge --quiet --no-wrap --previous -o po/ko.po po/ko.po "$out/messages.pot"
    msgattrib --no-wrap --no-obsolete -o po/ko.po po/ko.po
    python3 scripts/book/catalogue.py anchors po/ko.po docs
    python3 scripts/book/catalogue.py check po/ko.po docs || true
    ;;
  check)
    pot
    msgfmt --check -o /dev/null po/ko.po
    msgmerge --quiet --no-wrap -o "$out/ko-merged.po" po/ko.po "$out/messages.pot"
    if ! python3 scripts/book/catalogue.py check "$out/ko-merged.po" docs; then
      echo "ko-book: the Korean book is behind the English one: run scripts/ko-book.sh update," >&2
      echo "  translate the messages listed above in po/ko.po (terms: docs/ko/glossary.md)" >&2
      exit 1
    fi
    ;;
  build)
    MDBOOK_BOOK__LANGUAGE=ko MDBOOK_BOOK__TITLE="socklab: 소켓과 WebSocket, 내 컴퓨터에서 재어 보기" \
      "$mdbook" build docs -d "$PWD/target/book-ko"
    python3 scripts/book/links.py target/book-ko
    echo "target/book-ko/index.html"
    ;;
esac
