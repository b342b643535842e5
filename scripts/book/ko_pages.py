#!/usr/bin/env python3
"""ko_pages.py: an mdBook preprocessor that puts the Korean pages in place.

The lesson index, the handout and the exercises are written in both languages
in docs/lessons.toml; scripts/gen-lessons.py makes docs/lessons.md and
docs/ko/lessons.md (and the same for handout and exercises). They stay out of
the gettext catalogue (scripts/book/catalogue.py). So in the Korean book
(book.language = "ko") this preprocessor shows docs/ko/*.md where the English
pages stand, drops the English book's "한국어" part, and numbers the chapters
again. In any other language it changes nothing.
"""

import json
import posixpath
import re
import sys

KOREAN_PART = "한국어"
# English page -> its Korean page, both made from lessons.toml.
SWAP = {"lessons.md": "ko/lessons.md", "exercises.md": "ko/exercises.md"}


def chapter(item):
    return item.get("Chapter") if isinstance(item, dict) else None


def relink(items, swapped):
    """Links to a swapped English page (`lessons.md#lesson-3`) go to its Korean
    twin, relative to the chapter that links (ko/lessons.md keeps the ids)."""
    for item in items:
        ch = chapter(item)
        if ch is None:
            continue
        here = posixpath.dirname(ch["path"] or "")

        def swap(m):
            target = posixpath.normpath(posixpath.join(here, m.group(2)))
            if target not in swapped:
                return m.group(0)
            return m.group(1) + posixpath.relpath(swapped[target], here or ".")

        ch["content"] = re.sub(r"(\]\()([^)#\s]+\.md)", swap, ch["content"])
        relink(ch["sub_items"], swapped)


def renumber(items, prefix=()):
    n = 0
    for item in items:
        ch = chapter(item)
        if ch is None or ch.get("number") is None:
            continue
        n += 1
        ch["number"] = [*prefix, n]
        renumber(ch["sub_items"], ch["number"])


def swap_in_korean(book):
    items = book["items"]
    korean = {}
    if any(item == {"PartTitle": KOREAN_PART} for item in items):
        at = items.index({"PartTitle": KOREAN_PART})
        for item in items[at + 1:]:
            ch = chapter(item)
            if ch is not None:
                korean[ch["path"]] = item
        del items[at:]
    for i, item in enumerate(items):
        ch = chapter(item)
        if ch is not None and ch["path"] in SWAP and SWAP[ch["path"]] in korean:
            items[i] = korean.pop(SWAP[ch["path"]])
    items.extend(korean.values())  # what has no English twin (the glossary) goes last
    relink(items, {**SWAP, "handout.md": "ko/handout.md"})
    renumber(items)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "supports":
        return 0
    context, book = json.load(sys.stdin)
    if context["config"]["book"].get("language") == "ko":
        swap_in_korean(book)
    json.dump(book, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
