"""scripts/classroom/students.py — WebSocket students with Python websockets,
and UDP students with a bare socket, against a classroom started with --code.

Usage: .tools/pyws/bin/python scripts/classroom/students.py WS_URL UDP_HOST:PORT CODE N_WS N_UDP

Each WebSocket student opens WS_URL?code=CODE, sends one text message, checks
its echo, and closes; each UDP student sends the code (swallowed: no echo),
then one datagram, and checks its echo. Prints `ws ok N` and `udp ok N`.
"""
import asyncio
import socket
import sys

import websockets


async def ws_student(url, i):
    async with websockets.connect(url) as ws:
        await ws.send(f"python student {i}")
        assert await asyncio.wait_for(ws.recv(), 10) == f"python student {i}"


def udp_student(host, port, code, i):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(code.encode(), (host, port))
    msg = f"udp student {i}".encode()
    for _ in range(5):  # loopback rarely loses one; a few tries, bounded
        s.sendto(msg, (host, port))
        try:
            got = s.recv(100)
        except socket.timeout:
            continue
        assert got == msg, f"the code must not be echoed: got {got!r}"
        return True
    return False


async def main(ws_url, udp, code, n_ws, n_udp):
    url = f"{ws_url}?code={code}"
    await asyncio.gather(*(ws_student(url, i) for i in range(n_ws)))
    print(f"ws ok {n_ws}")
    host, port = udp.rsplit(":", 1)
    ok = sum(udp_student(host, int(port), code, i) for i in range(n_udp))
    print(f"udp ok {ok}")


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])))
