"""scripts/interop/ws_python.py URL [CAFILE]: echo through a WebSocket server with the `websockets` library.

Sends a text message, a binary message and a 1 MiB binary message, then closes
with 1000. Prints one line per check ("text ok", ...) and the close code the
server answered with; scripts/interop.sh compares the output. For a wss://
URL, CAFILE is the certificate to trust (the one `socklab serve wss` printed):
verification stays on, against that certificate only.
"""
import hashlib
import os
import ssl
import sys

from websockets.sync.client import connect

url = sys.argv[1]
tls = ssl.create_default_context(cafile=sys.argv[2]) if len(sys.argv) > 2 else None
text = "hello from python websockets \u00e9\u4e16"
binary = bytes(range(256))
big = os.urandom(1 << 20)
with connect(url, max_size=2 << 20, ssl=tls) as ws:
    ws.send(text)
    got = ws.recv()
    print("text", "ok" if got == text else "MISMATCH %r" % got)
    ws.send(binary)
    got = ws.recv()
    print("binary", "ok" if isinstance(got, bytes) and got == binary else "MISMATCH %r" % got)
    ws.send(big)
    got = ws.recv()
    print("1 MiB", "ok" if hashlib.sha256(got).digest() == hashlib.sha256(big).digest() else "MISMATCH")
    ws.close(1000, "bye")
    print("close", ws.close_code)
