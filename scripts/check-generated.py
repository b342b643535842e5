#!/usr/bin/env python3
"""scripts/check-generated.py — the published tables, read for the impossible.

Every page under docs/generated/ comes from a command run on some machine; a
disturbed run (a stall, uneven wake-ups) can print numbers that no protocol can
produce. This reads every generated table and fails on:

  1. a layer faster than the one it runs on: a line such as
     `ws − tcp  −50.1 µs [−51.9, −47.4]  ws lower` where ws, tls or wss runs on
     the other (socklab compare now prints "below this machine's noise" there);
  2. SSE losing or doubling an event across its reconnect (push-compare.txt):
     Last-Event-ID resumes exactly where it stopped;
  3. a bench run with errors (every "errors" column of bench.md and the other
     generated markdown tables is 0);
  4. a p99 over 1 s (a "p99 ms" column, or the push table's p99) from a run
     that stalled or saturated, unless its row says so ("stalled", "saturated");
  5. a CPU per message (a "µs/msg" column) of 0 or below: a server or client
     that echoed messages did work for them (bench.sh refuses it per run too).

Usage: scripts/check-generated.py [DIR]   (default docs/generated; exit 1 on a finding)
Run by scripts/check-docs.sh. A failure means: regenerate that page on a quiet
machine (scripts/gen-docs.sh, gen-tls-docs.sh, bench.sh), not edit the number.
"""

import glob
import os
import re
import sys

# (upper, lower): upper runs on top of lower, so it does all of lower's work and more.
ON_TOP = {("ws", "tcp"), ("tls", "tcp"), ("wss", "tcp"), ("wss", "ws"), ("wss", "tls")}

# The same pattern as the project's before-stop hook: a pair, an interval, a winner.
VERDICT = re.compile(r"^\s*(\w+) − (\w+)\s.*\]\s+(\w+) lower", re.M)

# A p99 above this many milliseconds is a stall, not a latency.
STALL_MS = 1000.0

# Words a row uses to say its figures come from a stalled or saturated run.
FLAGGED = ("stalled", "saturated")

# Techniques that resume from a cursor across a reconnect: they lose nothing.
RESUMING = ("SSE",)


def layer_order(name, text):
    """Rule 1: no layer lower than what it runs on."""
    for a, b, who in VERDICT.findall(text):
        if (a, b) in ON_TOP and who == a:
            yield f"{name}: '{a} lower' than {b}, which it runs on (noise published as a finding)"
        if (b, a) in ON_TOP and who == b:
            yield f"{name}: '{b} lower' than {a}, which it runs on (noise published as a finding)"


def number(cell):
    """The first number in a cell ('1,834.15 (1522.6–2553.4)' → 1834.15), or None."""
    m = re.search(r"-?\d[\d,]*(?:\.\d+)?", cell)
    return float(m.group(0).replace(",", "")) if m else None


def markdown_tables(text):
    """Each markdown table as (header cells, [row cells]), rows as written."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and re.match(r"^\|[-:| ]+\|$", lines[i + 1]):
            header = [c.strip() for c in lines[i].strip("|").split("|")]
            rows = []
            j = i + 2
            while j < len(lines) and lines[j].startswith("|"):
                rows.append([c.strip() for c in lines[j].strip("|").split("|")])
                j += 1
            yield header, rows
            i = j
        else:
            i += 1


def markdown_checks(name, text):
    """Rules 3 and 4 over markdown tables (bench.md and friends)."""
    for header, rows in markdown_tables(text):
        errors = [k for k, h in enumerate(header) if h.lower() == "errors"]
        p99_ms = [k for k, h in enumerate(header) if "p99" in h and "ms" in h]
        cpu = [k for k, h in enumerate(header) if "µs/msg" in h]
        for row in rows:
            line = " | ".join(row)
            flagged = any(w in line.lower() for w in FLAGGED)
            for k in errors:
                v = number(row[k]) if k < len(row) else None
                if v is not None and v != 0:
                    yield f"{name}: {row[0]}: {row[k]} errors (a bench run's errors must be 0)"
            for k in cpu:
                v = number(row[k]) if k < len(row) else None
                if v is not None and v <= 0:
                    yield f"{name}: {row[0]}: {row[k]} µs of CPU per message ({header[k]}): impossible"
            for k in p99_ms:
                v = number(row[k]) if k < len(row) else None
                if v is not None and v > STALL_MS and not flagged:
                    yield (f"{name}: {row[0]}: p99 {row[k]} ms from a stalled or saturated run, "
                           f"not flagged as such")


def push_checks(name, text):
    """Rules 2 and 4 over `socklab compare --push`'s tables."""
    header = None
    for line in text.splitlines():
        cells = line.replace("too few", "too_few").split()
        if cells[:1] == ["technique"]:
            header = cells
            continue
        if header is None or len(cells) < 11:
            header = None if not line.strip() else header
            continue
        # The technique's name may hold spaces: the last 10 cells are the figures.
        technique = " ".join(cells[:-10])
        lost, dup, p99 = cells[-6], cells[-5], cells[-1]
        if technique in RESUMING and (lost != "0" or dup != "0"):
            yield (f"{name}: {technique} lost {lost} and doubled {dup} events across its reconnect "
                   f"(Last-Event-ID resumes exactly: expect 0 and 0)")
        v = number(p99) if p99 != "too_few" else None
        if v is not None and v > STALL_MS and not any(w in line.lower() for w in FLAGGED):
            yield f"{name}: {technique}: p99 {p99} ms from a stalled run, not flagged as such"


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "docs/generated"
    findings = []
    for path in sorted(glob.glob(os.path.join(root, "*"))):
        if not os.path.isfile(path):
            continue
        try:
            text = open(path, encoding="utf-8").read()
        except (UnicodeDecodeError, OSError):
            continue
        name = os.path.basename(path)
        findings += layer_order(name, text)
        if path.endswith(".md"):
            findings += markdown_checks(name, text)
        if name.startswith("push-compare"):
            findings += push_checks(name, text)
    for f in findings:
        print(f)
    if findings:
        print(f"generated: {len(findings)} impossible figures: regenerate those pages on a quiet machine")
        return 1
    print("generated: no layer faster than its ground, SSE lost nothing, no bench errors, no unflagged stall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
