#!/usr/bin/env python3
"""scripts/lessons/tshark_view.py — tshark's output cut down to what a lesson points at.

Usage (run by scripts/gen-lesson-docs.sh):
  tshark -r ws.pcap -d tcp.port==PORT,http -V -Y FILTER | tshark_view.py layers
  tshark -r duplex.pcap -Y 'tcp.len > 0' -T fields -e frame.time_relative \\
      -e tcp.srcport -e tcp.dstport -e tcp.len -e tcp.payload | tshark_view.py timeline PORT

layers (lesson 22): `tshark -V` prints every field of every layer, a hundred lines
a packet. This keeps each layer's heading line — one line per layer, outermost
first, which is the lesson — and under it only the lines that say what the layer
carries: the protocol list, IP's protocol number, TCP's ports, stream and length,
the HTTP request's lines, and every field of the WebSocket frame.

timeline (lesson 23): one line per data-carrying segment, in capture order, with
its direction (PORT is the server's) and its bytes as text.
"""
import sys

# Under a layer's heading, the lines kept (by their start, after the indent).
KEEP = {
    "Frame": ("[Protocols in frame:",),
    "Ethernet": (),
    "Internet Protocol": ("Protocol:", "Total Length:"),
    "Transmission Control Protocol": ("[Stream index:", "[TCP Segment Len:", "Flags:"),
}
# Layers whose every field line at the first indent is kept (the request's lines,
# without tshark's notes under them); and the one kept whole, sub-fields included
# (the frame's header fields, the unmasked payload under "Payload").
WHOLE = ("Hypertext Transfer Protocol", "Line-based text data")
WHOLE_DEEP = ("WebSocket",)


def layers(lines):
    layer = None
    for line in lines:
        line = line.rstrip("\n")
        if not line:
            print()
            continue
        if not line.startswith(" "):  # a layer's heading
            layer = line
            print(line)
            continue
        field = line.strip()
        deep = line.startswith("        ")  # a sub-field of a field
        if layer.startswith(WHOLE_DEEP):
            if not field.startswith("["):
                print(line)
            continue
        if layer.startswith(WHOLE):
            if not deep and not field.startswith("["):
                print(line)
            continue
        for name, keep in KEEP.items():
            if layer.startswith(name) and not deep and field.startswith(keep or ("\0",)):
                print(line)


def timeline(lines, port):
    print("%10s  %-28s %4s  %s" % ("time (s)", "from → to", "len", "data"))
    for line in lines:
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 5:
            continue
        t, src, dst, length, payload = parts[:5]
        text = bytes.fromhex(payload.replace(":", "")).decode("utf-8", "replace")
        side = ("server", "client") if src == port else ("client", "server")
        where = "%s %s → %s %s" % (side[0], src, side[1], dst)
        print("%10.6f  %-28s %4s  %r" % (float(t), where, length, text))


def main():
    if sys.argv[1:2] == ["layers"]:
        layers(sys.stdin)
    elif sys.argv[1:2] == ["timeline"] and len(sys.argv) == 3:
        timeline(sys.stdin, sys.argv[2])
    else:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
