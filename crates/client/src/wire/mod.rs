//! The wire view: the bytes a Tap recorded, taken apart and explained.
//!
//! Everything here is a pure function over bytes — no sockets — so each lesson is
//! tested against the exact frames printed in RFC 6455 §5.7. What it shows:
//!
//! - the WebSocket opening handshake: the HTTP request and response as text, with
//!   their sizes, and the `Sec-WebSocket-Accept` derivation (SHA-1 of the key plus
//!   a fixed GUID, then base64), recomputed and checked (lesson 6);
//! - each WebSocket frame: the header bytes in hex and every field in them — FIN,
//!   RSV1–3, the opcode by name, MASK, the payload length and which of the three
//!   length encodings carried it — then the masking key and the unmasking, byte by
//!   byte: masked ⊕ key = plain (lessons 9 and 10);
//! - TCP: the bytes of each `read()`, with its boundary, to show that the stream
//!   keeps none of the sender's (lesson 3); UDP: each datagram, whole.
//!
//! Frame headers are parsed by tungstenite's own [`FrameHeader::parse`]; this file
//! only lays the parsed fields out. It is not a second frame codec.
//!
//! Try: `socklab send ws://127.0.0.1:8080/ hello --wire`.
//!
//! # Layout, by protocol phase
//!
//! Analysis (pure, `Serialize` for `--json`) apart from rendering (text):
//!
//! - [`http`]: the opening handshake's heads and the Accept derivation;
//! - [`frame`]: frames, parsed and unmasked;
//! - [`engine_io`]: what a text message means if it is an Engine.IO packet;
//! - [`conversation`]: a Tap's records split into handshake and frames;
//! - [`inflate`]: compressed messages (permessage-deflate) inflated;
//! - [`render`]: one handshake, one frame, as text;
//! - [`render_conversation`]: whole conversations (ws, TCP, UDP) as text.

use std::fmt::Write as _;

use serde::Serializer;

pub mod build;
pub mod conversation;
pub mod engine_io;
pub mod frame;
pub mod http;
pub mod inflate;
pub mod render;
pub mod render_conversation;

pub use build::{close_frame, data_frame, header_len};
pub use conversation::{Flow, WsConversation, ws_conversation};
pub use engine_io::engine_io_packet;
pub use frame::{
    FrameView, Frames, LengthEncoding, close_code_name, opcode_name, parse_frames, unmask,
};
pub use http::{AcceptDerivation, HandshakeView, HttpHead, derive_accept, handshake_view};
pub use render::{refusal, render_accept, render_frame, render_handshake, render_refusal_body};
pub use render_conversation::{render_datagrams, render_stream, render_ws};

/// The GUID RFC 6455 §1.3 appends to the client's key before hashing. It is the
/// same for every server on earth: the Accept proves the server read this key and
/// speaks WebSocket, not that anything is secret.
pub const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// How many payload bytes a frame view shows before it says "… N more".
pub const SHOWN_PAYLOAD: usize = 16;

/// Bytes as lowercase hex pairs separated by spaces: `81 85 37 fa`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Bytes as a quoted string: printable ASCII as is, the rest escaped (`\r`, `\x00`).
pub fn quoted(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes {
        out.extend(std::ascii::escape_default(b).map(char::from));
    }
    out.push('"');
    out
}

/// [`quoted`], cut to `max` bytes with a note of how many were left out.
pub fn quoted_short(bytes: &[u8], max: usize) -> String {
    if bytes.len() <= max {
        quoted(bytes)
    } else {
        format!(
            "{}… ({} more bytes)",
            quoted(&bytes[..max]),
            bytes.len() - max
        )
    }
}

/// Serializes bytes as [`hex`] (`--json` shows every byte exactly).
fn ser_hex<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex(bytes))
}

/// Serializes bytes as text where they are valid UTF-8, else null: never a
/// replacement character standing in for a byte (the hex is beside it).
fn ser_text<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    match std::str::from_utf8(bytes) {
        Ok(text) => s.serialize_str(text),
        Err(_) => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests_frame;
#[cfg(test)]
mod tests_views;
