//! WebSocket frames (lessons 9 and 10): each header taken apart by
//! tungstenite's own [`FrameHeader::parse`] (this is not a second codec), every
//! field named, the payload unmasked.

use std::io::Cursor;

use serde::Serialize;
use tungstenite::protocol::frame::FrameHeader;
use tungstenite::protocol::frame::coding::{Control, OpCode};

use super::{ser_hex, ser_text};

/// How a frame's payload length was written (RFC 6455 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LengthEncoding {
    /// 0–125: the length fits in the 7 low bits of byte 2.
    Bits7,
    /// 126–65,535: byte 2 says 126, the next 2 bytes hold the length.
    Bits16,
    /// 65,536 and up: byte 2 says 127, the next 8 bytes hold the length.
    Bits64,
}

impl LengthEncoding {
    /// Which encoding the 7-bit length field `field` selects.
    pub fn from_field(field: u8) -> LengthEncoding {
        match field & 0x7F {
            126 => LengthEncoding::Bits16,
            127 => LengthEncoding::Bits64,
            _ => LengthEncoding::Bits7,
        }
    }

    /// A description for the wire view.
    pub fn describe(self) -> &'static str {
        match self {
            LengthEncoding::Bits7 => "7-bit: in byte 2 itself",
            LengthEncoding::Bits16 => "16-bit: byte 2 says 126, the next 2 bytes hold it",
            LengthEncoding::Bits64 => "64-bit: byte 2 says 127, the next 8 bytes hold it",
        }
    }
}

/// One WebSocket frame, every field named. In JSON the bytes are hex, the
/// opcode its number and name, the payload text (null where it is not UTF-8,
/// as a close frame's code is not: the hex is beside it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FrameView {
    /// Where the frame starts in its direction's byte stream (after the handshake).
    pub offset: usize,
    /// The header bytes exactly as on the wire (2 to 14 bytes).
    #[serde(rename = "header_hex", serialize_with = "ser_hex")]
    pub header: Vec<u8>,
    /// FIN: this is the last frame of its message.
    pub fin: bool,
    /// RSV1, RSV2, RSV3: reserved for extensions, 0 without one.
    pub rsv: [bool; 3],
    /// The opcode: what the payload is.
    #[serde(serialize_with = "ser_opcode")]
    pub opcode: OpCode,
    /// The masking key, present exactly when the MASK bit is set.
    #[serde(rename = "masking_key", serialize_with = "ser_key")]
    pub mask: Option<[u8; 4]>,
    /// The payload length the header announces.
    pub payload_len: u64,
    /// Which of the three length encodings carried it.
    pub length_encoding: LengthEncoding,
    /// The payload as on the wire (masked, if there is a key).
    #[serde(rename = "wire_payload_hex", serialize_with = "ser_hex")]
    pub wire_payload: Vec<u8>,
    /// The payload after unmasking: what the application sees.
    #[serde(serialize_with = "ser_text")]
    pub payload: Vec<u8>,
    /// permessage-deflate: on the last frame of a compressed message (RSV1 on
    /// its first), the whole message inflated ([`super::inflate`]).
    #[serde(
        serialize_with = "ser_inflated",
        skip_serializing_if = "Option::is_none"
    )]
    pub inflated: Option<Vec<u8>>,
}

impl FrameView {
    /// Header plus payload: the frame's size on the wire.
    pub fn wire_len(&self) -> usize {
        self.header.len() + self.wire_payload.len()
    }

    /// For a close frame with a body, its status code (the first two payload bytes).
    pub fn close_code(&self) -> Option<u16> {
        match (self.opcode, self.payload.as_slice()) {
            (OpCode::Control(Control::Close), [hi, lo, ..]) => Some(u16::from_be_bytes([*hi, *lo])),
            _ => None,
        }
    }
}

/// An inflated message in JSON: its text where it is UTF-8, else its hex.
fn ser_inflated<S: serde::Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match bytes.as_deref().map(std::str::from_utf8) {
        Some(Ok(text)) => s.serialize_str(text),
        Some(Err(_)) => ser_hex(bytes.as_deref().unwrap_or_default(), s),
        None => s.serialize_none(),
    }
}

/// [`opcode_name`] in JSON.
fn ser_opcode<S: serde::Serializer>(opcode: &OpCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&opcode_name(*opcode))
}

/// A masking key in JSON: hex, or null when the frame is not masked.
fn ser_key<S: serde::Serializer>(key: &Option<[u8; 4]>, s: S) -> Result<S::Ok, S::Error> {
    match key {
        Some(key) => ser_hex(key, s),
        None => s.serialize_none(),
    }
}

/// The opcode's number and RFC name: `0x1 TEXT`.
pub fn opcode_name(opcode: OpCode) -> String {
    format!("0x{:x} {opcode}", u8::from(opcode))
}

/// What a close status code means (RFC 6455 §7.4.1).
pub fn close_code_name(code: u16) -> &'static str {
    match code {
        1000 => "normal closure",
        1001 => "going away",
        1002 => "protocol error",
        1003 => "unsupported data",
        1005 => "no status code",
        1006 => "closed without a close frame",
        1007 => "invalid payload (e.g. bad UTF-8)",
        1008 => "policy violation",
        1009 => "message too big",
        1010 => "extension required",
        1011 => "server error",
        _ => "other",
    }
}

/// The frames found in a run of bytes, and what was left over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Frames {
    /// Every complete frame, in order.
    pub frames: Vec<FrameView>,
    /// Bytes after the last complete frame: a frame still arriving. Expected,
    /// not an error — the rest is in a later read.
    pub incomplete: usize,
    /// Why parsing stopped early, if the bytes are not WebSocket frames.
    pub error: Option<String>,
}

/// Undoes (or applies — it is the same XOR) a masking key: byte i is XORed with
/// key byte i mod 4 (RFC 6455 §5.3).
pub fn unmask(bytes: &[u8], key: [u8; 4]) -> Vec<u8> {
    bytes
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ key[i % 4])
        .collect()
}

// ANCHOR: parse_frames
/// Splits `bytes` into frames, reading each header with tungstenite's
/// [`FrameHeader::parse`], which also says how long the payload is.
pub fn parse_frames(bytes: &[u8]) -> Frames {
    let mut frames = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        let mut cursor = Cursor::new(&bytes[offset..]);
        let (header, payload_len) = match FrameHeader::parse(&mut cursor) {
            Ok(Some(parsed)) => parsed,
            // Not enough bytes for a whole header yet.
            Ok(None) => break,
            Err(e) => {
                return Frames {
                    frames,
                    incomplete: bytes.len() - offset,
                    error: Some(e.to_string()),
                };
            }
        };
        // The cursor stopped right after the header: that is its length.
        let header_len = cursor.position() as usize;
        let start = offset + header_len;
        let Some(end) = usize::try_from(payload_len)
            .ok()
            .and_then(|n| start.checked_add(n))
            .filter(|&end| end <= bytes.len())
        else {
            break; // the payload is still arriving
        };
        let wire_payload = bytes[start..end].to_vec();
        let payload = match header.mask {
            Some(key) => unmask(&wire_payload, key),
            None => wire_payload.clone(),
        };
        frames.push(FrameView {
            offset,
            header: bytes[offset..start].to_vec(),
            fin: header.is_final,
            rsv: [header.rsv1, header.rsv2, header.rsv3],
            opcode: header.opcode,
            mask: header.mask,
            payload_len,
            length_encoding: LengthEncoding::from_field(bytes[offset + 1]),
            wire_payload,
            payload,
            inflated: None,
        });
        offset = end;
    }
    Frames {
        frames,
        incomplete: bytes.len() - offset,
        error: None,
    }
}
// ANCHOR_END: parse_frames
