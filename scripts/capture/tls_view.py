#!/usr/bin/env python3
"""One TLS capture read twice, side by side: what an observer on the path sees
(TLS records: type and length) and what the endpoints see (with the key log).

Usage: tls_view.py OBSERVER.tsv DECRYPTED.tsv SERVER_PORT
Both files are `tshark -T fields` output (scripts/gen-tls-docs.sh writes them),
one line per packet that carries a TCP payload:
  OBSERVER:  frame, src port, TCP payload length, record types, opaque types,
             record lengths, handshake message types
  DECRYPTED: frame, record types, handshake message types, alert, HTTP method,
             URI, HTTP status, WebSocket opcode, mask, WebSocket text, data text
"""
import sys

RECORD = {"20": "change_cipher_spec", "21": "alert", "22": "handshake", "23": "application_data"}
HANDSHAKE = {"1": "ClientHello", "2": "ServerHello", "4": "NewSessionTicket",
             "8": "EncryptedExtensions", "11": "Certificate", "15": "CertificateVerify",
             "20": "Finished"}
OPCODE = {"1": "Text", "2": "Binary", "8": "Close", "9": "Ping", "10": "Pong"}
ALERT = {"0": "close_notify"}


def split(field):
    return [x for x in field.split(",") if x] if field else []


def rows(path, width):
    for line in open(path, encoding="utf-8"):
        cols = line.rstrip("\n").split("\t")
        yield cols + [""] * (width - len(cols))


def observer(cols):
    _, _, _, types, opaque, lengths, hs = cols[:7]
    # Records in order: the plaintext ones (handshake, change_cipher_spec) come
    # before the encrypted ones in every TLS 1.3 flight.
    kinds = split(types) + split(opaque)
    parts = ["%s %s" % (RECORD.get(k, k), n) for k, n in zip(kinds, split(lengths))]
    text = ", ".join(parts)
    shown = [HANDSHAKE.get(h, h) for h in split(hs)]
    if shown:
        text += " (%s)" % ", ".join(shown)
    return text


def inside(cols):
    _, types, hs, alert, method, uri, status, opcode, mask, ws_text, data = cols[:11]
    if method:
        return "HTTP %s %s (the Upgrade)" % (method, uri)
    if status:
        return "HTTP %s" % status
    if opcode:
        text = "WS %s %s" % (OPCODE.get(opcode, opcode), "MASKED" if mask == "1" else "unmasked")
        return text + (' "%s"' % ws_text if ws_text else "")
    if data:
        return 'data "%s"' % data
    if alert:
        return "alert %s" % ALERT.get(alert, alert)
    if hs:
        return ", ".join(HANDSHAKE.get(h, h) for h in split(hs))
    return ", ".join(RECORD.get(t, t) for t in split(types))


def main():
    obs_path, dec_path, port = sys.argv[1:]
    decrypted = {cols[0]: cols for cols in rows(dec_path, 11)}
    print("%3s  %-16s %5s  %-74s %s" % ("#", "direction", "bytes",
                                        "an observer sees (no keys): TLS records",
                                        "the endpoints see (with the key log)"))
    for cols in rows(obs_path, 7):
        frame, src, length = cols[:3]
        direction = "server → client" if src == port else "client → server"
        print("%3s  %-16s %5s  %-74s %s" % (frame, direction, length, observer(cols),
                                            inside(decrypted.get(frame, [""] * 11))))


main()
