#!/usr/bin/env python3
"""links.py: every link inside a built book lands on a page and a heading.

Usage: links.py BOOK_DIR   (exit 1, listing each broken link)

A translated heading gets an id from its Korean text unless the translation
keeps the English one; this finds any link that no longer lands.
"""

import re
import sys
from pathlib import Path

SKIP = {"print.html", "toc.html", "404.html"}


def main(root):
    root = Path(root)
    ids = {}
    pages = [p for p in root.rglob("*.html") if p.name not in SKIP]
    for page in pages:
        ids[page.resolve()] = set(re.findall(r'\sid="([^"]+)"', page.read_text(encoding="utf-8")))
    broken = []
    for page in pages:
        html = page.read_text(encoding="utf-8")
        main_part = html.split('<main>', 1)[-1]
        for href in re.findall(r'href="([^"]+)"', main_part):
            if re.match(r"[a-z]+:", href) or href.startswith("//"):
                continue
            path, _, frag = href.partition("#")
            target = (page.parent / path).resolve() if path else page.resolve()
            if target not in ids:
                if not (page.parent / path).exists():
                    broken.append(f"{page.relative_to(root)}: {href} (no such page)")
                continue
            if frag and frag not in ids[target]:
                broken.append(f"{page.relative_to(root)}: {href} (no heading #{frag})")
    for b in broken:
        print(b)
    print(f"links: {len(pages)} pages, {len(broken)} broken links", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
