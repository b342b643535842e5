#!/usr/bin/env bash
# scripts/install-mdbook.sh — install mdBook 0.5.4 and mdbook-i18n-helpers 0.4.0
# (the Korean book's gettext tools) into .tools/mdbook (git-ignored).
#
# Usage: scripts/install-mdbook.sh
#
# mdBook is not packaged by Debian, so it is built from crates.io with cargo:
#   cargo install --locked mdbook --version 0.5.4 --no-default-features \
#     --features search --root .tools/mdbook
# (no default features: no live-reload server, only the book and its search), and
#   cargo install --locked mdbook-i18n-helpers --version 0.4.0 --root .tools/mdbook
# (mdbook-gettext, mdbook-xgettext: see scripts/ko-book.sh).
# mdBook 0.5 needs Rust 1.88 or newer; the script stops with a message if
# `rustc --version` is older. Idempotent: does nothing when .tools/mdbook/bin/mdbook
# already reports 0.5.4 and mdbook-gettext is there. Prints the path of the mdbook binary on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
no_args "$0" "$@"

# The version the docs are built and tested with, and the oldest Rust that builds it.
MDBOOK_VERSION=0.5.4
I18N_VERSION=0.4.0
MIN_RUST=1.88

root=$PWD/.tools/mdbook
bin=$root/bin/mdbook
i18n_stamp=$root/i18n-helpers-$I18N_VERSION
if [ "$("$bin" --version 2>/dev/null)" = "mdbook v$MDBOOK_VERSION" ] && [ -x "$root/bin/mdbook-gettext" ] \
  && [ -e "$i18n_stamp" ]; then
  echo "$bin"
  exit 0
fi

# rustc --version prints "rustc 1.95.0 (59807616e 2026-04-14)": compare major.minor.
have=$(rustc --version | awk '{print $2}')
if ! version_at_least "$have" "$MIN_RUST"; then
  echo "install-mdbook: mdBook $MDBOOK_VERSION needs Rust >= $MIN_RUST, this is rustc $have" >&2
  echo "  update it (rustup update stable), then run scripts/install-mdbook.sh again" >&2
  exit 1
fi
if [ "$("$bin" --version 2>/dev/null)" != "mdbook v$MDBOOK_VERSION" ]; then
  echo "installing mdbook $MDBOOK_VERSION into .tools/mdbook (cargo install, a few minutes)" >&2
  cargo install --quiet --locked mdbook --version "$MDBOOK_VERSION" \
    --no-default-features --features search --root "$root" >&2
fi
if [ ! -x "$root/bin/mdbook-gettext" ] || [ ! -e "$i18n_stamp" ]; then
  echo "installing mdbook-i18n-helpers $I18N_VERSION into .tools/mdbook (cargo install, two minutes)" >&2
  cargo install --quiet --locked mdbook-i18n-helpers --version "$I18N_VERSION" --root "$root" >&2
  touch "$i18n_stamp"
fi
echo "$bin"
