//! The handshake and the frames against RFC 6455's own examples (§1.3, §5.7).

use tungstenite::protocol::frame::coding::{Control, Data, OpCode};

use super::*;
use crate::style::Style;

/// Lesson 6: RFC 6455 §1.3's own example key gives its own example Accept.
#[test]
fn rfc_accept_example() {
    let d = derive_accept("dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(d.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(d.sha1.len(), 20);
    assert_eq!(hex(&d.sha1[..4]), "b3 7a 4f 2c");
    assert_eq!(
        d.concatenated,
        "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    );
}

/// Lesson 6: the handshake is two ordinary HTTP heads, and the Accept is checked.
#[test]
fn handshake_heads_and_accept_check() {
    let request = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let response = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x05Hello";
    let h = handshake_view(request, response).expect("two complete heads");
    assert_eq!(h.request.bytes, request.len());
    assert_eq!(h.response.bytes, response.len() - 7);
    assert_eq!(h.request.start_line, "GET /chat HTTP/1.1");
    assert_eq!(h.response.header("upgrade"), Some("websocket"));
    assert!(h.accept_ok);
    let text = render_handshake(&h, Style::PLAIN);
    assert!(text.contains("matches the server's Sec-WebSocket-Accept"));

    let forged = b"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: AAAA\r\n\r\n";
    assert!(!handshake_view(request, forged).unwrap().accept_ok);
    // Half a response is no handshake yet.
    assert_eq!(handshake_view(request, &response[..20]), None);
}

/// Lesson 16: a refused Upgrade (403 for a foreign Origin) carries no Accept:
/// the view says refused, with its status and reason, and shows the body that
/// says why, never "does NOT match".
#[test]
fn a_refused_upgrade_shows_its_status_and_body() {
    let request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://evil.example\r\n\r\n";
    let response = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 34\r\nConnection: close\r\n\r\nOrigin http://evil.example refused";
    let h = handshake_view(request, response).expect("two complete heads");
    assert_eq!(refusal(&h.response), Some("403 Forbidden"));
    let text = render_handshake(&h, Style::PLAIN);
    assert!(text.contains("Upgrade refused\n  403 Forbidden: the server refused the Upgrade"));
    assert!(!text.contains("does NOT match"), "{text}");
    assert!(!text.contains("Accept derivation"), "{text}");
    let body = render_refusal_body(&response[h.response.bytes..], Style::PLAIN);
    assert_eq!(
        body,
        "server → client: the refusal's body (34 bytes)\n  Origin http://evil.example refused\n"
    );
    let ok = b"HTTP/1.1 101 Switching Protocols\r\n\r\n";
    assert_eq!(
        refusal(&handshake_view(request, ok).unwrap().response),
        None
    );
}

pub(super) fn only_frame(bytes: &[u8]) -> FrameView {
    let frames = parse_frames(bytes);
    assert_eq!(frames.error, None);
    assert_eq!(frames.incomplete, 0);
    assert_eq!(frames.frames.len(), 1);
    frames.frames.into_iter().next().unwrap()
}

/// Lesson 9: RFC 6455 §5.7, "a single-frame unmasked text message".
#[test]
fn rfc_unmasked_hello() {
    let f = only_frame(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert!(f.fin);
    assert_eq!(f.rsv, [false; 3]);
    assert_eq!(f.opcode, OpCode::Data(Data::Text));
    assert_eq!(f.mask, None);
    assert_eq!(f.payload_len, 5);
    assert_eq!(f.length_encoding, LengthEncoding::Bits7);
    assert_eq!(f.header, [0x81, 0x05]);
    assert_eq!(f.payload, b"Hello");
    let text = render_frame(&f, "frame", Style::PLAIN);
    assert!(text.contains("FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x1 TEXT"));
    assert!(text.contains("MASK=0 payload length=5 (7-bit"));
}

/// Lesson 10: RFC 6455 §5.7, "a single-frame masked text message": the
/// unmasking (masked ⊕ key) gives "Hello" back.
#[test]
fn rfc_masked_hello() {
    let f = only_frame(&[
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ]);
    assert_eq!(f.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
    assert_eq!(f.header.len(), 6);
    assert_eq!(f.wire_payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    assert_eq!(f.payload, b"Hello");
    let text = render_frame(&f, "frame", Style::PLAIN);
    assert!(text.contains("masking key 37 fa 21 3d"));
    assert!(text.contains("masked      7f 9f 4d 51 58"));
    assert!(text.contains("⊕ key       37 fa 21 3d 37"));
    assert!(text.contains("= plain     48 65 6c 6c 6f  \"Hello\""));
}

/// `--json` shows the same frame as the wire view: the views serialize
/// themselves (hex bytes, the opcode by name, the unmasked text).
#[test]
fn frame_view_as_json() {
    let f = only_frame(&[
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ]);
    let json = serde_json::to_value(&f).unwrap();
    assert_eq!(json["header_hex"], "81 85 37 fa 21 3d");
    assert_eq!(json["masking_key"], "37 fa 21 3d");
    assert_eq!(json["opcode"], "0x1 TEXT");
    assert_eq!(json["length_encoding"], "Bits7");
    assert_eq!(json["wire_payload_hex"], "7f 9f 4d 51 58");
    assert_eq!(json["payload"], "Hello");
    let unmasked = serde_json::to_value(only_frame(&[0x81, 0x05, b'H', b'i', b'!', b'!', b'!']));
    assert_eq!(unmasked.unwrap()["masking_key"], serde_json::Value::Null);
    // A close frame's code is not text: null, never U+FFFD.
    let close = serde_json::to_value(only_frame(&[0x88, 0x02, 0x03, 0xe8])).unwrap();
    assert_eq!(close["payload"], serde_json::Value::Null);
    assert_eq!(close["wire_payload_hex"], "03 e8");
}

/// Lesson 9: RFC 6455 §5.7, "a fragmented unmasked text message": FIN=0 on
/// "Hel", then a continuation frame "lo" with FIN=1.
#[test]
fn rfc_fragmented_hello() {
    let frames = parse_frames(&[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]);
    assert_eq!(frames.frames.len(), 2);
    let (first, second) = (&frames.frames[0], &frames.frames[1]);
    assert!(!first.fin);
    assert_eq!(first.opcode, OpCode::Data(Data::Text));
    assert_eq!(first.payload, b"Hel");
    assert!(second.fin);
    assert_eq!(second.opcode, OpCode::Data(Data::Continue));
    assert_eq!(second.payload, b"lo");
    assert_eq!(second.offset, 5);
    assert!(render_frame(first, "f", Style::PLAIN).contains("more frames of this message"));
}

/// Lesson 9: RFC 6455 §5.7, an unmasked ping and the masked pong answering it,
/// both carrying "Hello".
#[test]
fn rfc_ping_and_pong() {
    let ping = only_frame(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(ping.opcode, OpCode::Control(Control::Ping));
    assert_eq!(ping.payload, b"Hello");
    let pong = only_frame(&[
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ]);
    assert_eq!(pong.opcode, OpCode::Control(Control::Pong));
    assert_eq!(pong.payload, b"Hello");
    assert_eq!(opcode_name(pong.opcode), "0xa PONG");
}

/// Lesson 13: RFC 6455 §5.7, 256 bytes of binary data: the 16-bit length
/// encoding (126, then 0x0100), a 4-byte header.
#[test]
fn rfc_256_bytes_uses_16_bit_length() {
    let mut bytes = vec![0x82, 0x7E, 0x01, 0x00];
    bytes.extend(std::iter::repeat_n(0xAB, 256));
    let f = only_frame(&bytes);
    assert_eq!(f.opcode, OpCode::Data(Data::Binary));
    assert_eq!(f.header, [0x82, 0x7E, 0x01, 0x00]);
    assert_eq!(f.payload_len, 256);
    assert_eq!(f.length_encoding, LengthEncoding::Bits16);
    assert!(render_frame(&f, "f", Style::PLAIN).contains("payload length=256 (16-bit"));
}

/// Lesson 13: RFC 6455 §5.7, 64 KiB of binary data: the 64-bit length encoding
/// (127, then 8 bytes), a 10-byte header.
#[test]
fn rfc_65536_bytes_uses_64_bit_length() {
    let mut bytes = vec![0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
    bytes.extend(std::iter::repeat_n(0x00, 65_536));
    let f = only_frame(&bytes);
    assert_eq!(f.header.len(), 10);
    assert_eq!(f.payload_len, 65_536);
    assert_eq!(f.length_encoding, LengthEncoding::Bits64);
    assert_eq!(f.wire_len(), 65_546);
}

/// A frame cut in the middle (its payload still arriving) is reported as
/// incomplete, not as an error; reserved opcodes are an error.
#[test]
fn partial_and_invalid_frames() {
    let frames = parse_frames(&[0x81, 0x05, 0x48, 0x65]);
    assert_eq!(frames.frames.len(), 0);
    assert_eq!(frames.incomplete, 4);
    assert_eq!(frames.error, None);
    let frames = parse_frames(&[0x83, 0x00]);
    assert!(frames.error.is_some());
}

/// Lesson 11: a close frame's body starts with the status code, big-endian.
#[test]
fn close_frame_code() {
    let f = only_frame(&[0x88, 0x02, 0x03, 0xe8]);
    assert_eq!(f.close_code(), Some(1000));
    assert!(render_frame(&f, "f", Style::PLAIN).contains("close code  1000 (normal closure)"));
}
