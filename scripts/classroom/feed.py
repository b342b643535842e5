"""scripts/classroom/feed.py — a dashboard without a browser: reads the
classroom's /feed with Python websockets and prints what it counted.

Usage: .tools/pyws/bin/python scripts/classroom/feed.py ws://HOST:PORT/feed READY_FILE OPENS CLOSES

Creates READY_FILE once subscribed, then reads until OPENS opens and CLOSES
closes were delivered or skipped (at most 60 s), and prints one line:
`opens=N closes=N frames=N skipped=N` (delivered + skipped for each kind).
"""
import asyncio
import json
import sys
import time

import websockets

DEADLINE_S = 60


async def main(url, ready, opens, closes):
    n = {"open": 0, "close": 0, "frames": 0, "skipped": 0}
    async with websockets.connect(url) as feed:
        open(ready, "w").write("subscribed\n")
        end = time.monotonic() + DEADLINE_S
        while (n["open"] < opens or n["close"] < closes) and time.monotonic() < end:
            try:
                e = json.loads(await asyncio.wait_for(feed.recv(), 1))
            except asyncio.TimeoutError:
                continue
            for key in ("event", "conn", "proto", "peer"):
                assert key in e, f"{key} missing in {e}"
            if e["event"] == "skip":
                n["open"] += e["opens"]
                n["close"] += e["closes"]
                n["frames"] += e["frames"]
                n["skipped"] += e["events"]
            elif e["event"] in ("open", "close"):
                n[e["event"]] += 1
            elif e["event"] == "frame":
                n["frames"] += e["count"]
    print(f"opens={n['open']} closes={n['close']} frames={n['frames']} skipped={n['skipped']}")


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
