"""cases_ws.py: the WebSocket attacks, the same against every server that speaks it.

- ping-flood: masked Pings as fast as the socket takes them, a tiny receive
  buffer, never a read. A server that keeps reading while its Pongs queue grows
  without bound; the right answer is to stop reading past the queue's limit,
  and the write-stall deadline closes the peer that never reads.
- big-messages: several clients each send one masked message bigger than the
  memory budget allows for all of them, never reading: 1009 or 1013 or a
  close, not growth.
- big-messages-48: 48 clients at once, each one masked 16 MiB message and
  never a read, against the default 256 MiB budget: the budget must bound the
  whole process (peak RSS <= idle + budget + 16 MiB), every allocation for a
  message charged before it happens; clients past it get 1013.
- slowloris: an Upgrade sent one byte every half second: the handshake
  deadline closes it (408) while others are served.
Each returns a detail line or raises CaseFailed.
"""

import socket
import ssl
import threading
import time

from attack import Attack, CaseFailed, budget_held, during, memory_ok, pending_bounded, rose
from attack import until_rose
from fresh import fresh
from wire import BINARY, PING, TEXT, Deadline, close_code, connect, frame, read_frame, upgrade_request
from wire import ws_open

# A receive buffer this small makes the kernel stop taking the server's Pongs at once.
TINY_RCVBUF = 4096
# Pings handed to one send() (each a 4-byte payload, masked: 10 bytes).
PINGS_PER_BLOB = 1000
# The whole flood's bounds.
MAX_PINGS = 2_000_000
FLOOD_SECONDS = 20
# Clients sending a big message each, and each message's size: together far
# past the 16 MiB budget, each under the default 16 MiB message limit.
BIG_CLIENTS = 4
BIG_MESSAGE = 12 << 20
BIG_CHUNK = 64 << 10
# big-messages-48: the figure (48 x 16 MiB against 256 MiB), each
# client one message on its own connection (reconnecting to send the next),
# within these bounds.
MANY_CLIENTS = 48
MANY_MESSAGE = 16 << 20
MANY_BUDGET_MIB = 256
MANY_SECONDS = 20
MANY_MAX_BYTES = 4 << 30
# A fresh client past a full budget is told 1013 (try again later): it does.
MANY_FRESH_ATTEMPTS = 20
# Seconds a client whose message was taken whole holds its connection, unread.
MANY_HOLD = 3
# Every server keeps its own message limit: push, chat and the bridge take
# less than 16 MiB by default and answer 1009; ws and wss take it whole, and
# their budget is what holds. (chat run with --max-line above 16 MiB goes
# past its budget: the room's own copies of a line are not charged to it.)
MANY_FLAGS = {}
# How many clients send their message at the same time.
MANY_AT_ONCE = 1
# Slowloris: parallel trickles, and seconds between bytes.
SLOW_CLIENTS = 3
SLOW_GAP = 0.5
# The handshake deadline the servers have (10 s) and the margin we wait past it.
HANDSHAKE_SECONDS = 10
SLOW_SECONDS = HANDSHAKE_SECONDS + 8
# Sends that block this long count as "the server stopped reading".
SEND_WAIT = 0.2


def send_some(sock, data, offset):
    """One send() from data[offset:]; returns the new offset, or None when the
    connection is gone. A send that blocks for SEND_WAIT returns the offset as is."""
    sock.settimeout(SEND_WAIT)
    try:
        return offset + sock.send(data[offset:])
    except (socket.timeout, ssl.SSLWantWriteError):
        return offset
    except (ConnectionError, ssl.SSLError, OSError):
        return None


def ping_flood(server):
    blob = b"".join(frame(PING, b"ping") for _ in range(PINGS_PER_BLOB))
    size = len(blob) // PINGS_PER_BLOB  # one masked Ping: 2 + 4 (mask) + 4 bytes

    def worker(attack, _):
        sent = 0
        while attack.running() and sent < MAX_PINGS:
            try:
                s, _ = ws_open(server, Deadline(5), rcvbuf=TINY_RCVBUF)
            except Exception as e:
                attack.note(f"reconnect failed: {e}")
                time.sleep(0.1)
                continue
            attack.add()  # a connection is progress too: the attack goes on
            offset = 0
            while attack.running() and sent < MAX_PINGS:
                new = send_some(s, blob, offset)
                if new is None:
                    attack.note("closed by the server")
                    break
                if new > offset:
                    pings = new // size - offset // size  # whole Pings gone out
                    attack.add(pings)
                    sent += pings
                offset = new if new < len(blob) else 0
            s.close()

    attack = Attack("ping-flood", 1, worker, FLOOD_SECONDS)
    try:
        detail = during(server, attack, fresh, warm=PINGS_PER_BLOB)
        until_rose(server, attack, ["stall_closes"])
    finally:
        attack.stop()
    snap = server.fresh_stats()
    closed = "closed by the server" if "closed by the server" in attack.notes else None
    return "; ".join([detail, memory_ok(server, snap), pending_bounded(snap),
                      rose(server, snap, "stall_closes", seen=closed),
                      f"{attack.count} pings/connects"])


def big_messages(server):
    key = b"\x01\x02\x03\x04"
    # A frame header announcing BIG_MESSAGE masked bytes, then the payload in
    # chunks: masking with a fixed key repeats every 4 bytes, so one masked
    # chunk serves for all (the content does not matter: binary).
    header = bytes([0x80 | BINARY, 0x80 | 127]) + BIG_MESSAGE.to_bytes(8, "big") + key
    chunk = bytes(b ^ key[i % 4] for i, b in enumerate(b"x" * BIG_CHUNK))

    def worker(attack, _):
        while attack.running():
            try:
                s, _ = ws_open(server, Deadline(5), rcvbuf=TINY_RCVBUF)
            except Exception as e:
                attack.note(f"reconnect failed: {e}")
                time.sleep(0.1)
                continue
            attack.add()
            data, offset, total = header, 0, 0
            while attack.running() and total < BIG_MESSAGE + len(header):
                new = send_some(s, data, offset)
                if new is None:
                    break
                attack.add(new - offset)
                total += new - offset
                offset = new
                if offset == len(data):
                    data, offset = chunk, 0
            # What the server said, if anything (the only read this client makes).
            op, payload, _ = read_frame(s, b"", Deadline(0.5))
            attack.note(f"close {close_code(payload)}" if op == 0x8 else f"op {op}")
            s.close()

    attack = Attack("big-messages", BIG_CLIENTS, worker, FLOOD_SECONDS)
    try:
        detail = during(server, attack, fresh, warm=BIG_CHUNK)
    finally:
        attack.stop()
    snap = server.fresh_stats()
    seen = sorted(set(attack.notes))[:4]
    return "; ".join([detail, memory_ok(server, snap), budget_held(snap),
                      f"attackers saw {seen}"])


def big_messages_48(server):
    """48 clients x one 16 MiB message, never reading, against a 256 MiB budget."""
    key = b"\x05\x06\x07\x08"
    header = bytes([0x80 | BINARY, 0x80 | 127]) + MANY_MESSAGE.to_bytes(8, "big") + key
    chunk = bytes(b ^ key[i % 4] for i, b in enumerate(b"y" * BIG_CHUNK))
    # Messages go in a few at a time, so some arrive whole and their echoes
    # pile up (all at once, each would be refused a sliver in).
    turns = threading.Semaphore(MANY_AT_ONCE)

    def worker(attack, _):
        while attack.running() and attack.count < MANY_MAX_BYTES:
            try:
                s, rest = ws_open(server, Deadline(5), rcvbuf=TINY_RCVBUF)
            except Exception as e:
                attack.note(f"reconnect failed: {e}")
                time.sleep(0.1)
                continue
            data, offset, total = header, 0, 0
            with turns:
                while attack.running() and total < MANY_MESSAGE + len(header):
                    new = send_some(s, data, offset)
                    if new is None:
                        break
                    attack.add(new - offset)
                    total += new - offset
                    offset = new
                    if offset == len(data):
                        data, offset = chunk, 0
            if total < MANY_MESSAGE + len(header):
                # Refused: the only read, the server's last words (a Close with
                # 1013 or 1009; chat's room lines may come first), then a new
                # client takes this one's place.
                last, buf, op = Deadline(0.5), rest, TEXT
                while op == TEXT:
                    op, payload, buf = read_frame(s, buf, last)
                attack.note(f"close {close_code(payload)}" if op == 0x8 else f"op {op}")
            else:
                # Taken whole: the echo waits for a reader that never comes,
                # until the server's stall deadline or our hold ends.
                attack.note("sent whole")
                hold = Deadline(MANY_HOLD)
                while attack.running() and not hold.passed():
                    time.sleep(0.05)
            s.close()

    attack = Attack("big-messages-48", MANY_CLIENTS, worker, MANY_SECONDS)
    try:
        detail = during(server, attack, fresh, warm=MANY_MESSAGE,
                        attempts=MANY_FRESH_ATTEMPTS)
        # The whole attack, not its first seconds: every client's message in.
        attack.wait_count(MANY_CLIENTS * MANY_MESSAGE, MANY_SECONDS)
    finally:
        attack.stop()
    snap = server.fresh_stats()
    seen = sorted(set(attack.notes))
    if not any(n in ("close 1013", "close 1009") for n in seen):
        raise CaseFailed(f"no attacker was closed with 1013 or 1009 (saw {seen[:4]})")
    return "; ".join([detail, memory_ok(server, snap), budget_held(snap),
                      f"attackers saw {seen[:4]}"])


def slowloris(server):
    request = upgrade_request("/slow")

    def worker(attack, _):
        while attack.running():
            try:
                s = connect(server, timeout=5)
            except Exception as e:
                attack.note(f"connect failed: {e}")
                time.sleep(0.1)
                continue
            answer = b""
            for byte in request:
                if not attack.running():
                    break
                try:
                    s.sendall(bytes([byte]))
                except (ConnectionError, ssl.SSLError, OSError):
                    break
                attack.add()
                s.settimeout(SLOW_GAP)
                try:
                    answer = s.recv(4096)
                except (socket.timeout, ssl.SSLWantReadError):
                    continue
                except (ConnectionError, ssl.SSLError, OSError):
                    break
                break  # an answer (or EOF) came before the request's end
            attack.note(answer.split(b"\r\n")[0].decode("latin-1") or "closed, no answer")
            s.close()

    attack = Attack("slowloris", SLOW_CLIENTS, worker, SLOW_SECONDS * 2)
    try:
        detail = during(server, attack, fresh, warm=SLOW_CLIENTS)
        deadline = Deadline(SLOW_SECONDS)
        while not attack.notes and not deadline.passed():
            time.sleep(0.1)
    finally:
        attack.stop()
    snap = server.fresh_stats()
    answers = [n for n in attack.notes if "408" in n]
    if not answers:
        raise CaseFailed(f"no 408 within {SLOW_SECONDS} s of a trickled handshake "
                         f"(saw {attack.notes[:3]})")
    return "; ".join([detail, answers[0], memory_ok(server, snap),
                      rose(server, snap, "idle_closes", seen=answers[0])])
