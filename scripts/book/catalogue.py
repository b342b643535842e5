#!/usr/bin/env python3
"""catalogue.py: the Korean book's catalogue, what goes in and what stays out.

mdbook-xgettext extracts every paragraph of every chapter. Two kinds of text
stay out of po/messages.pot, so that only the chapters' own prose is ever
translated (and so that nothing but an edit to that prose can make a
translation stale):

- pages made from docs/lessons.toml (lessons.md, handout.md, exercises.md):
  their Korean is written in lessons.toml itself, and the Korean book shows
  docs/ko/*.md in their place; the Korean pages under ko/ themselves;
- `{{#include …}}` directives: the measured output they bring in is the same
  in both languages and is regenerated on its own schedule.

Usage: catalogue.py filter RAW.pot OUT.pot
       catalogue.py check KO.po      (exit 1, listing each message, when any
                                      message is untranslated, fuzzy or obsolete)
"""

import re
import sys

# Chapters kept out of the catalogue (paths as mdbook-xgettext writes them).
FROM_LESSONS_TOML = {"lessons.md", "handout.md", "exercises.md"}
KOREAN_DIR = "ko/"
HANGUL = re.compile("[\uac00-\ud7a3]")


def entries(text):
    """The PO file's entries, as lists of lines (the header is the first)."""
    return [block.splitlines() for block in re.split(r"\n\s*\n", text.strip()) if block.strip()]


def unquote(lines, key):
    """The value of `key` (msgid, msgstr) in one entry, its quoted lines joined."""
    out, inside = [], False
    for line in lines:
        if line.startswith(key + " "):
            inside = True
            line = line[len(key) + 1:]
        elif inside and not line.startswith('"'):
            inside = False
        if inside:
            out.append(line.strip()[1:-1])
    if not out:
        return None
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(0)), "".join(out))


def references(lines):
    refs = []
    for line in lines:
        if line.startswith("#:"):
            refs += [r.rsplit(":", 1)[0].removeprefix("./") for r in line[2:].split()]
    return refs


def kept(lines):
    refs = references(lines)
    if not refs:
        return True  # the header
    if all(r in FROM_LESSONS_TOML or r.startswith(KOREAN_DIR) for r in refs):
        return False
    msgid = unquote(lines, "msgid") or ""
    if HANGUL.search(msgid):
        return False  # already Korean (the Korean part's titles in SUMMARY.md)
    return "{{#include" not in msgid and "#include " not in msgid


def filter_pot(raw, out):
    with open(raw, encoding="utf-8") as f:
        blocks = entries(f.read())
    keep = [b for b in blocks if kept(b)]
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n\n".join("\n".join(b) for b in keep) + "\n")
    print(f"catalogue: {len(keep) - 1} messages kept, {len(blocks) - len(keep)} left out "
          f"(pages from lessons.toml, ko/, {{{{#include}}}})", file=sys.stderr)


def check(po):
    with open(po, encoding="utf-8") as f:
        blocks = entries(f.read())
    problems = []
    for b in blocks[1:]:
        where = " ".join(references(b)[:2]) or "(no reference)"
        msgid = (unquote(b, "msgid") or "").replace("\n", " ")[:90]
        if any(line.startswith("#~") for line in b):
            problems.append(f"obsolete   {msgid!r}: the English is gone; delete the entry")
        elif any(line.startswith("#,") and "fuzzy" in line for line in b):
            problems.append(f"stale      {where}: {msgid!r}: the English changed; "
                            f"update the translation and remove the fuzzy flag")
        elif not unquote(b, "msgstr"):
            problems.append(f"untranslated {where}: {msgid!r}")
    for p in problems:
        print(p)
    total = len(blocks) - 1
    print(f"ko.po: {total - len(problems)} of {total} messages translated and current",
          file=sys.stderr)
    return 1 if problems else 0


def main(argv):
    if len(argv) == 4 and argv[1] == "filter":
        filter_pot(argv[2], argv[3])
        return 0
    if len(argv) == 3 and argv[1] == "check":
        return check(argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
