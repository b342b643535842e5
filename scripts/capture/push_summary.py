#!/usr/bin/env python3
"""The push captures side by side: requests, connections and bytes per event.

Used by `scripts/capture.sh --push`:
  push_summary.py DIR PORT RATE SECS poll long-poll stream sse ws

Reads DIR/push-T.pcap with tshark (the port decoded as HTTP, so the Upgrade and
the WebSocket frames after it are decoded too) and counts, for each T:
- HTTP requests: packets tshark reads as a request (for ws: the Upgrade only);
- TCP connections: SYNs without ACK; and the most requests one connection carried
  (keep-alive, lesson 21);
- events: distinct event ids in what the server sent, found by reading the TCP
  payload of each connection, server to client, in order (the events are JSON
  objects with "id" and "at_us", whichever technique wraps them);
- empty answers: responses that carried no event (`[]` or 204);
- per event: packets, bytes on the wire (whole frames on lo), TCP payload bytes
  both ways, and of those the bytes that are not the events' own JSON (request and
  response heads, chunk sizes, `id:`/`data:` lines, frame headers) — the overhead.
"""

import json
import re
import subprocess
import sys

FIELDS = ["frame.len", "tcp.srcport", "tcp.stream", "tcp.flags.syn", "tcp.flags.ack",
          "tcp.len", "tcp.payload", "http.request.method"]
NAMES = {"poll": "short polling", "long-poll": "long polling", "stream": "streaming",
         "sse": "SSE", "ws": "WebSocket", "close": "Connection: close"}
# An event as every technique carries it: one JSON object (WebSocket frames from
# the server are not masked, so the JSON is readable in the payload as it is).
EVENT = re.compile(rb'\{[^{}]*"at_us"[^{}]*\}')


def packets(pcap, port):
    args = ["tshark", "-r", pcap, "-d", f"tcp.port=={port},http", "-T", "fields",
            "-E", "separator=\t", "-E", "aggregator=;"]
    for f in FIELDS:
        args += ["-e", f]
    lines = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    for line in lines.splitlines():
        yield dict(zip(FIELDS, line.split("\t")))


def summary(pcap, port):
    n = {"requests": 0, "connections": 0, "packets": 0, "wire": 0, "payload": 0}
    per_conn, from_server = {}, {}
    for p in packets(pcap, port):
        n["packets"] += 1
        n["wire"] += int(p["frame.len"])
        n["payload"] += int(p["tcp.len"] or 0)
        stream = p["tcp.stream"]
        if p["tcp.flags.syn"] == "1" and p["tcp.flags.ack"] == "0":
            n["connections"] += 1
        if p["http.request.method"]:
            n["requests"] += 1
            per_conn[stream] = per_conn.get(stream, 0) + 1
        if p["tcp.srcport"] == str(port) and p["tcp.payload"]:
            from_server[stream] = from_server.get(stream, b"") + bytes.fromhex(p["tcp.payload"])
    ids, json_bytes, empty = set(), 0, 0
    for data in from_server.values():
        for m in EVENT.finditer(data):
            try:
                event = json.loads(m.group())
            except ValueError:
                continue
            ids.add(event.get("id"))
            json_bytes += len(m.group())
        empty += data.count(b"\r\n\r\n[]\n") + data.count(b"HTTP/1.1 204 ")
    n["events"] = len(ids)
    n["per_conn"] = max(per_conn.values(), default=0)
    n["empty"] = empty
    n["json"] = json_bytes
    return n


def main():
    out, port, rate, secs, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
    print(f"socklab serve push --rate {rate}; each client listened {secs} s; "
          "counted from the pcaps by tshark")
    cols = ["requests", "TCP conns", "max req/conn", "events", "empty", "packets/event",
            "wire B/event", "TCP payload B/event", "overhead B/event"]
    print(f"{'':<18}" + "".join(f"{c:>{max(len(c) + 2, 8)}}" for c in cols))
    for t in runs:
        n = summary(f"{out}/push-{t}.pcap", port)
        ev = n["events"]
        per = (lambda x: f"{x / ev:.1f}") if ev else (lambda x: "-")
        cells = [n["requests"], n["connections"], n["per_conn"], ev, n["empty"],
                 per(n["packets"]), per(n["wire"]), per(n["payload"]),
                 per(n["payload"] - n["json"])]
        print(f"{NAMES.get(t, t):<18}" + "".join(f"{str(v):>{max(len(c) + 2, 8)}}"
                                                 for v, c in zip(cells, cols)))
    print("events: distinct event ids the server sent; empty: answers with no event ([] or 204);")
    print("wire bytes: whole frames on lo, ACKs included; TCP payload: HTTP heads and bodies,")
    print("chunk sizes, SSE lines, WebSocket frames, both ways; overhead: payload minus the events' JSON.")


if __name__ == "__main__":
    main()
