"""scripts/interop/ws_python_deflate_server.py [--no-context-takeover]: a Python `websockets` echo server with permessage-deflate on.

A peer socklab does not write: `socklab send --deflate` and `socklab compare
--deflate` are checked against it until socklab's own `serve ws --deflate`
is there (and after, as a second opinion). It listens on 127.0.0.1, port 0,
prints "port N" on one line, echoes every message, and exits after
LIFETIME seconds (so a forgotten server cannot outlive its test).
"""
import asyncio
import sys

from websockets.asyncio.server import serve
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

LIFETIME = 60


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main():
    no_takeover = "--no-context-takeover" in sys.argv[1:]
    # websockets' default compression is this factory with these arguments;
    # --no-context-takeover makes the server ask for it both ways.
    deflate = ServerPerMessageDeflateFactory(
        server_no_context_takeover=no_takeover,
        client_no_context_takeover=no_takeover,
        server_max_window_bits=None if no_takeover else 12,
        compress_settings={"memLevel": 5},
    )
    async with serve(echo, "127.0.0.1", 0, compression=None, extensions=[deflate]) as server:
        port = server.sockets[0].getsockname()[1]
        print("port", port, flush=True)
        await asyncio.sleep(LIFETIME)


asyncio.run(main())
