//! permessage-deflate in the wire view (RFC 7692): the extension the 101
//! agreed to, and every compressed message inflated — its bytes on the wire
//! against its length inflated, and the text it carried.
//!
//! A frame shows only RSV1 of its compression: the payload is raw DEFLATE,
//! and with context takeover (the default) a message may point back into the
//! ones before it — the second "hello" is three bytes that say "the five
//! bytes 5 back". So the view inflates the conversation from its start, each
//! direction with its own decompressor, exactly as the peer did.
//!
//! Try: `socklab send ws://127.0.0.1:8080/ hello hello --deflate --wire`.

use std::fmt::Write as _;

use lifecycle::narrate::plural;
use serde::Serialize;
use tungstenite::protocol::frame::coding::{Data, OpCode};
use websocket::deflate::{Agreement, Decompressor, Side};

use super::frame::Frames;
use super::http::HandshakeView;
use super::{quoted_short, ser_text};
use crate::style::{Paint, Style};

/// The most a message is inflated to in the view: the client's own limit.
const VIEW_LIMIT: usize = crate::transport::MESSAGE_LIMIT;

/// How many inflated bytes the text view quotes.
const SHOWN_INFLATED: usize = 64;

/// One compressed message, inflated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inflated {
    /// Its payload bytes on the wire (all its frames).
    pub compressed_len: usize,
    /// Its length inflated (0 if it did not inflate).
    pub inflated_len: usize,
    /// What it carried: text where it is UTF-8, else null (in JSON).
    #[serde(serialize_with = "ser_text")]
    pub inflated: Vec<u8>,
    /// Why it did not inflate, if it did not.
    pub error: Option<String>,
}

/// The extension agreed in the 101, and every compressed message inflated,
/// indexed like the frames: at each message's last frame, `Some`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeflateView {
    /// The 101's `Sec-WebSocket-Extensions` value.
    pub extension: String,
    /// Whether it is a valid permessage-deflate agreement (else nothing is inflated).
    pub valid: bool,
    /// For each frame the client sent: its message inflated, at its last frame.
    pub client: Vec<Option<Inflated>>,
    /// For each frame the server sent: likewise.
    pub server: Vec<Option<Inflated>>,
}

/// The compression in a conversation whose 101 named an extension; `None`
/// when it named none.
pub fn deflate_view(
    handshake: Option<&HandshakeView>,
    client: &Frames,
    server: &Frames,
) -> Option<DeflateView> {
    let extension = handshake?
        .response
        .header("Sec-WebSocket-Extensions")?
        .to_string();
    let agreement = Agreement::from_response(&extension).ok();
    let inflate = |frames: &Frames, side: Side| match &agreement {
        Some(a) => inflate_all(frames, Decompressor::new(a, side)),
        None => vec![None; frames.frames.len()],
    };
    Some(DeflateView {
        valid: agreement.is_some(),
        // The client's messages were compressed for the server to inflate.
        client: inflate(client, Side::Server),
        server: inflate(server, Side::Client),
        extension,
    })
}

/// One direction's messages in order, through one decompressor (so context
/// takeover works as it did for the peer).
fn inflate_all(frames: &Frames, mut decompressor: Decompressor) -> Vec<Option<Inflated>> {
    let mut out = vec![None; frames.frames.len()];
    // The data message being assembled: compressed or not, its payload.
    let mut message: Option<(bool, Vec<u8>)> = None;
    for (i, f) in frames.frames.iter().enumerate() {
        match f.opcode {
            OpCode::Data(Data::Text | Data::Binary) => {
                message = Some((f.rsv[0], f.payload.clone()))
            }
            OpCode::Data(Data::Continue) => {
                if let Some((_, payload)) = message.as_mut() {
                    payload.extend_from_slice(&f.payload);
                }
            }
            _ => continue,
        }
        if !f.fin {
            continue;
        }
        if let Some((true, payload)) = message.take() {
            out[i] = Some(match decompressor.decompress(&payload, VIEW_LIMIT) {
                Ok(inflated) => Inflated {
                    compressed_len: payload.len(),
                    inflated_len: inflated.len(),
                    inflated,
                    error: None,
                },
                Err(e) => Inflated {
                    compressed_len: payload.len(),
                    inflated_len: 0,
                    inflated: Vec::new(),
                    error: Some(e.to_string()),
                },
            });
        }
    }
    out
}

/// The agreement, after the handshake: what the extension line means.
pub fn render_extension(view: &DeflateView, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}\n  Sec-WebSocket-Extensions: {}",
        style.paint(
            Paint::Heading,
            "Extension agreed (permessage-deflate, RFC 7692)"
        ),
        style.paint(Paint::Received, &view.extension)
    );
    match Agreement::from_response(&view.extension) {
        Ok(a) => {
            let takeover = |no: bool| {
                if no {
                    "each message from an empty window (no context takeover)"
                } else {
                    "the window kept from message to message (context takeover)"
                }
            };
            let _ = writeln!(
                out,
                "  server → client: raw DEFLATE, 2^{}-byte window, {}\n  client → server: raw DEFLATE, 2^{}-byte window, {}\n  a compressed message has RSV1=1 on its first frame; its 00 00 ff ff tail is not sent",
                a.server_max_window_bits,
                takeover(a.server_no_context_takeover),
                a.client_max_window_bits,
                takeover(a.client_no_context_takeover),
            );
        }
        Err(e) => {
            let _ = writeln!(out, "  {}", style.paint(Paint::Bad, e.to_string()));
        }
    }
    out
}

/// The lines under a compressed message's last frame: its size on the wire
/// against its size inflated, and what it said.
pub fn render_inflated(m: &Inflated, style: Style) -> String {
    let mut out = String::new();
    if let Some(e) = &m.error {
        let _ = writeln!(
            out,
            "  inflated    {}",
            style.paint(Paint::Bad, format!("RSV1=1 but {e}"))
        );
        return out;
    }
    let _ = writeln!(
        out,
        "  inflated    {} (RSV1: compressed, permessage-deflate)  {}  from {} on the wire (the 00 00 ff ff tail put back)",
        plural(m.inflated_len, "byte"),
        style.paint(Paint::Payload, quoted_short(&m.inflated, SHOWN_INFLATED)),
        plural(m.compressed_len, "byte"),
    );
    out
}
