"""scripts/interop/ws_deflate_python.py URL: permessage-deflate with the `websockets` library.

Its client offers permessage-deflate by default (as a browser does); against
`socklab serve ws --deflate` the 101 must agree. Prints the negotiated
extension, then one line per message sent and echoed (a repeated JSON chat
line, the same line again — context takeover makes it a few bytes — binary,
and 1 MiB of random bytes, which do not compress), then the close code.
scripts/interop.sh compares the output.
"""
import json
import os
import sys

from websockets.sync.client import connect

url = sys.argv[1]
line = json.dumps({"user": "ada", "room": "lobby", "text": "hello, room \u00e9\u4e16" * 40})
binary = bytes(range(256)) * 16
big = os.urandom(1 << 20)
with connect(url, max_size=2 << 20) as ws:
    print("extension", ws.response.headers.get("Sec-WebSocket-Extensions"))
    for name, message in [("json", line), ("json again", line), ("binary", binary), ("1 MiB", big)]:
        ws.send(message)
        got = ws.recv()
        print(name, "ok" if got == message and type(got) is type(message) else "MISMATCH")
    ws.close(1000, "bye")
    print("close", ws.close_code)
