"""scripts/interop/ws_raw.py SCENARIO HOST:PORT: a WebSocket client built from raw bytes.

No WebSocket library: the request, every frame header, the mask and the close
are written out here, and every byte each way is printed with what it means.
scripts/gen-websocket-docs.sh runs it to produce the logs docs/websocket.md quotes.

With --anchors, the session's parts are marked for mdBook's {{#include file:anchor}}.

Scenarios: session (handshake with the RFC 6455 example key, text, binary, ping,
close), unmasked (a frame without a mask, which the server must refuse with 1002),
bad-upgrade (a plain GET without Upgrade, answered with 426).
"""
import socket
import struct
import sys

# RFC 6455 section 1.3's example key. A real client draws 16 random bytes each time.
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
# A fixed mask key, so the printed bytes are the same every run. A real client
# must draw a fresh random one for every frame (section 10.3). socklab's own way
# to get repeatable bytes is `socklab send ws://… --seed N` (a seeded key and a
# seeded mask per frame, through its usual client).
MASK = bytes([0x37, 0xFA, 0x21, 0x3D])
OPCODES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}


def hexdump(data):
    return " ".join("%02x" % b for b in data)


def frame(opcode, payload, masked=True):
    """One final frame from the client, masked unless told otherwise."""
    head = bytes([0x80 | opcode])
    mask_bit = 0x80 if masked else 0
    if len(payload) < 126:
        head += bytes([mask_bit | len(payload)])
    elif len(payload) < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", len(payload))
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", len(payload))
    if not masked:
        return head + payload
    return head + MASK + bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))


def describe(data):
    """The fields of one frame in `data`, as a line of text."""
    fin, rsv, opcode = data[0] >> 7, (data[0] >> 4) & 7, data[0] & 15
    masked, length, i = data[1] >> 7, data[1] & 127, 2
    if length == 126:
        length, i = struct.unpack("!H", data[2:4])[0], 4
    elif length == 127:
        length, i = struct.unpack("!Q", data[2:10])[0], 10
    fields = "FIN=%d RSV=%d%d%d opcode=%d (%s) MASK=%d length=%d" % (
        fin, rsv >> 2, (rsv >> 1) & 1, rsv & 1, opcode, OPCODES.get(opcode, "reserved"), masked, length)
    payload = data[i + 4 * masked:i + 4 * masked + length]
    if masked:
        key = data[i:i + 4]
        fields += " key=%s" % hexdump(key)
        payload = bytes(b ^ key[j % 4] for j, b in enumerate(payload))
    if opcode == 8 and len(payload) >= 2:
        fields += " code=%d reason=%r" % (struct.unpack("!H", payload[:2])[0], payload[2:].decode("utf-8", "replace"))
    elif opcode == 1:
        fields += " text=%r" % payload.decode("utf-8", "replace")
    elif payload:
        fields += " payload=%s" % hexdump(payload)
    return fields


class Client:
    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.buf = b""

    def send_text(self, text):
        for line in text.split("\r\n")[:-1]:
            print("--> %s" % line if line else "--> (blank line: end of the request head)")
        self.sock.sendall(text.encode())

    def send_frame(self, data, note=""):
        print("--> %s" % hexdump(data))
        print("    %s%s" % (describe(data), note))
        self.sock.sendall(data)

    def recv_more(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        self.buf += chunk

    def recv_head(self):
        while b"\r\n\r\n" not in self.buf:
            self.recv_more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        for line in head.decode().split("\r\n"):
            print("<-- %s" % line)
        print("<-- (blank line)")
        return head.decode()

    def recv_frame(self):
        while len(self.buf) < 2:
            self.recv_more()
        length, need = self.buf[1] & 127, 2
        if length == 126:
            need = 4
        elif length == 127:
            need = 10
        while len(self.buf) < need:
            self.recv_more()
        if length == 126:
            length = struct.unpack("!H", self.buf[2:4])[0]
        elif length == 127:
            length = struct.unpack("!Q", self.buf[2:10])[0]
        while len(self.buf) < need + length:
            self.recv_more()
        data, self.buf = self.buf[:need + length], self.buf[need + length:]
        print("<-- %s" % hexdump(data))
        print("    %s" % describe(data))
        return data

    def recv_rest(self):
        """Reads until the server's FIN and prints whatever came before it."""
        try:
            while True:
                self.recv_more()
        except EOFError:
            pass
        if self.buf:
            print("<-- %r" % self.buf.decode("utf-8", "replace"))
        print("<-- read() = 0: the server sent FIN and closed TCP")
        self.sock.close()

    def handshake(self):
        self.send_text("GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n" % KEY)
        head = self.recv_head()
        assert head.startswith("HTTP/1.1 101 "), head


def part(name):
    """Marks a part of the output for docs/websocket.md's {{#include}} (with --anchors)."""
    if ANCHORS and part.open:
        print("ANCHOR_END: %s" % part.open)
    if ANCHORS and name:
        print("ANCHOR: %s" % name)
    part.open = name


part.open = None


def session(c):
    part("handshake")
    c.handshake()
    part("text")
    c.send_frame(frame(1, b"hello"))
    c.recv_frame()
    part("binary_ping")
    c.send_frame(frame(2, bytes([1, 2, 3])))
    c.recv_frame()
    c.send_frame(frame(9, b"are you there?"))
    c.recv_frame()
    part("close")
    c.send_frame(frame(8, struct.pack("!H", 1000) + b"bye"))
    c.recv_frame()
    c.recv_rest()
    part(None)


def unmasked(c):
    c.handshake()
    c.send_frame(frame(1, b"hi", masked=False), note="  <- no mask: forbidden for a client")
    c.recv_frame()
    c.sock.sendall(frame(8, struct.pack("!H", 1002)))
    print("--> (our Close 1002 in reply)")
    c.recv_rest()


def bad_upgrade(c):
    c.send_text("GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    c.recv_head()
    c.recv_rest()


ANCHORS = "--anchors" in sys.argv

if __name__ == "__main__":
    scenario, addr = [a for a in sys.argv[1:] if a != "--anchors"]
    {"session": session, "unmasked": unmasked, "bad-upgrade": bad_upgrade}[scenario](Client(addr))
