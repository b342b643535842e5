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

A translated heading keeps the English heading's id (`{#id}` at the end of
its msgstr, added by `anchors`): links into a chapter (`push.md#sse`, the
lesson pages' links) then work in both books.

Usage: catalogue.py filter RAW.pot OUT.pot
       catalogue.py anchors KO.po DOCS   (adds the English id to each translated heading)
       catalogue.py check KO.po [DOCS]   (exit 1, listing each message, when any
                                          message is untranslated, fuzzy or obsolete,
                                          or a translated heading lost its id)
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


def check(po, docs=None):
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
        elif docs and "{#" not in unquote(b, "msgstr") and heading_id(
                docs, raw_refs(b), unquote(b, "msgid") or "") is not None:
            problems.append(f"no id     {where}: {msgid!r}: a translated heading keeps the "
                            f"English id (scripts/ko-book.sh update adds it)")
    for p in problems:
        print(p)
    total = len(blocks) - 1
    print(f"ko.po: {total - len(problems)} of {total} messages translated and current",
          file=sys.stderr)
    return 1 if problems else 0


def heading_id(docs, refs, msgid):
    """The id mdBook gives the English heading behind a message, or None when the
    message is not a heading. (mdBook: the heading's text, lowercased, letters,
    digits, _ and - kept, spaces made -; or an explicit {#id}.)"""
    for ref in refs[:1]:
        path, line = ref.rsplit(":", 1) if ":" in ref else (ref, "0")
        try:
            with open(f"{docs}/{path.removeprefix('./')}", encoding="utf-8") as f:
                source = f.read().splitlines()[int(line) - 1]
        except (OSError, IndexError, ValueError):
            return None
        if not source.startswith("#"):
            return None
        explicit = re.search(r"\{#([^}]+)\}\s*$", source)
        if explicit:
            return explicit.group(1)
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", msgid)
        text = text.replace("`", "").replace("*", "")
        return "".join(ch if ch.isalnum() or ch in "_-" else "-" if ch.isspace() else ""
                       for ch in text.strip().lower())
    return None


def raw_refs(lines):
    refs = []
    for line in lines:
        if line.startswith("#:"):
            refs += line[2:].split()
    return refs


def quote(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def anchors(po, docs):
    with open(po, encoding="utf-8") as f:
        blocks = entries(f.read())
    added = 0
    for i, b in enumerate(blocks[1:], 1):
        msgid, msgstr = unquote(b, "msgid") or "", unquote(b, "msgstr")
        if not msgstr or "{#" in msgstr:
            continue
        anchor = heading_id(docs, raw_refs(b), msgid)
        if anchor is None:
            continue
        at = next(k for k, line in enumerate(b) if line.startswith("msgstr "))
        end = at + 1
        while end < len(b) and b[end].startswith('"'):
            end += 1
        blocks[i] = b[:at] + ["msgstr " + quote(f"{msgstr} {{#{anchor}}}")] + b[end:]
        added += 1
    with open(po, "w", encoding="utf-8") as f:
        f.write("\n\n".join("\n".join(b) for b in blocks) + "\n")
    print(f"anchors: {added} translated headings given their English id", file=sys.stderr)


def main(argv):
    if len(argv) == 4 and argv[1] == "filter":
        filter_pot(argv[2], argv[3])
        return 0
    if len(argv) == 4 and argv[1] == "anchors":
        anchors(argv[2], argv[3])
        return 0
    if len(argv) in (3, 4) and argv[1] == "check":
        return check(argv[2], argv[3] if len(argv) == 4 else None)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
