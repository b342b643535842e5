//! The pieces of the wire view as terminal text: the Accept derivation, the
//! handshake's two heads, one frame field by field with its unmasking.

use std::fmt::Write as _;

use lifecycle::narrate::plural;
use tungstenite::protocol::frame::coding::OpCode;

use super::engine_io::engine_io_packet;
use super::frame::{FrameView, close_code_name, opcode_name};
use super::http::{AcceptDerivation, HandshakeView, HttpHead};
use super::{SHOWN_PAYLOAD, WS_GUID, hex, quoted, quoted_short};
use crate::style::{Paint, Style};

/// The Accept derivation, step by step, as lines of text.
pub fn render_accept(d: &AcceptDerivation, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  Sec-WebSocket-Key     {}",
        style.paint(Paint::Key, &d.key)
    );
    let _ = writeln!(out, "  + GUID (RFC 6455)     {WS_GUID}");
    let _ = writeln!(out, "  SHA-1 of key+GUID     {}", hex(&d.sha1));
    let _ = writeln!(
        out,
        "  base64 of those 20 B  {}",
        style.paint(Paint::Payload, &d.accept)
    );
    out
}

/// The handshake as the terminal shows it: both heads, sizes, the Accept check.
pub fn render_handshake(h: &HandshakeView, style: Style) -> String {
    let mut out = String::new();
    let block = |out: &mut String, title: &str, head: &HttpHead, paint: Paint| {
        let _ = writeln!(
            out,
            "{} ({})",
            style.paint(Paint::Heading, title),
            plural(head.bytes, "byte")
        );
        for line in head.text.split("\r\n").filter(|l| !l.is_empty()) {
            let _ = writeln!(out, "  {}", style.paint(paint, format!("{line}\\r\\n")));
        }
        let _ = writeln!(out, "  {}", style.paint(Paint::Dim, "\\r\\n (end of head)"));
    };
    block(
        &mut out,
        "client → server: HTTP Upgrade request",
        &h.request,
        Paint::Sent,
    );
    block(
        &mut out,
        "server → client: HTTP response",
        &h.response,
        Paint::Received,
    );
    if let Some(status) = refusal(&h.response) {
        // A refusal (403, 400, 426...) carries no Sec-WebSocket-Accept: there
        // is nothing to derive or compare, and "does not match" would mislead.
        let _ = writeln!(
            out,
            "{}\n  {}: the server refused the Upgrade (a refusal carries no Sec-WebSocket-Accept; its body says why)",
            style.paint(Paint::Heading, "Upgrade refused"),
            style.paint(Paint::Bad, status)
        );
    } else if let Some(d) = &h.derivation {
        let _ = writeln!(out, "{}", style.paint(Paint::Heading, "Accept derivation"));
        out.push_str(&render_accept(d, style));
        let verdict = if h.accept_ok {
            style.paint(Paint::Good, "matches the server's Sec-WebSocket-Accept")
        } else {
            style.paint(
                Paint::Bad,
                "does NOT match the server's Sec-WebSocket-Accept",
            )
        };
        let _ = writeln!(out, "  {verdict}");
    }
    out
}

/// The status and reason of a response that is not `101 Switching Protocols`
/// (`403 Forbidden`), or `None` for a 101.
pub fn refusal(response: &HttpHead) -> Option<&str> {
    let status = response
        .start_line
        .split_once(' ')
        .map_or(response.start_line.as_str(), |(_, rest)| rest);
    (!status.starts_with("101")).then_some(status)
}

/// The body of a refused Upgrade (what arrived of it), as lines of text.
pub fn render_refusal_body(body: &[u8], style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({})",
        style.paint(Paint::Heading, "server → client: the refusal's body"),
        plural(body.len(), "byte")
    );
    for line in String::from_utf8_lossy(body).lines() {
        let _ = writeln!(out, "  {}", style.paint(Paint::Received, line));
    }
    out
}

fn bit(b: bool) -> u8 {
    u8::from(b)
}

/// One frame, field by field, ending with the unmasking of its first bytes.
pub fn render_frame(f: &FrameView, title: &str, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}: {} header + {} payload)",
        style.paint(Paint::Heading, title),
        plural(f.wire_len(), "byte"),
        f.header.len(),
        f.wire_payload.len()
    );
    let _ = writeln!(
        out,
        "  header      {}",
        style.paint(Paint::Header, hex(&f.header))
    );
    let _ = writeln!(
        out,
        "  byte 1 {:08b}  FIN={} RSV1={} RSV2={} RSV3={} opcode={}{}",
        f.header[0],
        bit(f.fin),
        bit(f.rsv[0]),
        bit(f.rsv[1]),
        bit(f.rsv[2]),
        opcode_name(f.opcode),
        if f.fin {
            ""
        } else {
            "  (more frames of this message follow)"
        }
    );
    let _ = writeln!(
        out,
        "  byte 2 {:08b}  MASK={} payload length={} ({})",
        f.header[1],
        bit(f.mask.is_some()),
        f.payload_len,
        f.length_encoding.describe()
    );
    match f.mask {
        Some(key) => {
            let _ = writeln!(
                out,
                "  masking key {}  (client → server frames must be masked)",
                style.paint(Paint::Key, hex(&key))
            );
            let n = f.wire_payload.len().min(SHOWN_PAYLOAD);
            let keys: Vec<u8> = (0..n).map(|i| key[i % 4]).collect();
            let more = if f.wire_payload.len() > n {
                format!(" … {} more", f.wire_payload.len() - n)
            } else {
                String::new()
            };
            let _ = writeln!(out, "  masked      {}{more}", hex(&f.wire_payload[..n]));
            let _ = writeln!(out, "  ⊕ key       {}", style.paint(Paint::Key, hex(&keys)));
            let _ = writeln!(
                out,
                "  = plain     {}  {}",
                style.paint(Paint::Payload, hex(&f.payload[..n])),
                quoted_short(&f.payload, SHOWN_PAYLOAD)
            );
        }
        None => {
            let n = f.payload.len().min(SHOWN_PAYLOAD);
            // An unmasked client frame is what `send --unmasked` sends on purpose.
            let note = if title.starts_with("client") {
                "NOT masked: a client must mask, so a server refuses this frame (RFC 6455 §5.1)"
            } else {
                "not masked: server → client frames never are"
            };
            let _ = writeln!(
                out,
                "  payload     {}  {}  ({note})",
                style.paint(Paint::Payload, hex(&f.payload[..n])),
                quoted_short(&f.payload, SHOWN_PAYLOAD)
            );
        }
    }
    // permessage-deflate: the message this frame ends, as the application sees it.
    if let Some(inflated) = &f.inflated {
        let _ = writeln!(
            out,
            "  inflated    {} (RSV1: compressed, permessage-deflate)  {}",
            plural(inflated.len(), "byte"),
            style.paint(Paint::Payload, quoted_short(inflated, SHOWN_PAYLOAD))
        );
    }
    // Text messages only: Engine.IO packets over WebSocket are text frames.
    if f.opcode == OpCode::Data(tungstenite::protocol::frame::coding::Data::Text) {
        if let Some(packet) = engine_io_packet(&f.payload) {
            let _ = writeln!(out, "  engine.io   {}", style.paint(Paint::Dim, packet));
        }
    }
    if let Some(code) = f.close_code() {
        let _ = writeln!(
            out,
            "  close code  {code} ({}), reason {}",
            close_code_name(code),
            quoted(&f.payload[2..])
        );
    }
    out
}
