//! Whole conversations as terminal text: a WebSocket one (handshake, then every
//! frame in time order with the system call that carried it), a TCP one (each
//! `write()` and `read()`, whose boundaries are the calls', not the stream's)
//! and a UDP one (each datagram, whole: lesson 3).

use std::fmt::Write as _;

use lifecycle::Direction;
use lifecycle::tap::Record;

use super::conversation::ws_conversation;
use super::deflate::{render_extension, render_inflated};
use super::quoted_short;
use super::render::{refusal, render_frame, render_handshake, render_refusal_body};
use crate::style::{Paint, Style};

/// The whole WebSocket conversation: handshake, then every frame in time order,
/// each saying which `write()`/`read()` carried it.
pub fn render_ws(records: &[Record], style: Style) -> String {
    let conv = ws_conversation(records);
    let mut out = String::new();
    if let Some(h) = &conv.handshake {
        out.push_str(&render_handshake(h, style));
        // Refused: what follows the head is its body (the reason), not frames.
        if refusal(&h.response).is_some() {
            let body = &conv.received.bytes[conv.response_len..];
            if !body.is_empty() {
                out.push_str(&render_refusal_body(body, style));
            }
            return out;
        }
    }
    if let Some(d) = &conv.deflate {
        out.push_str(&render_extension(d, style));
    }
    // (time, direction, index): merge the two directions by when the frame's last
    // byte passed through the tap.
    let mut timeline = Vec::new();
    for (i, f) in conv.client.frames.iter().enumerate() {
        let end = conv.request_len + f.offset + f.wire_len() - 1;
        if let Some((call, at)) = conv.sent.call_for(end) {
            timeline.push((at, Direction::Sent, i, call));
        }
    }
    for (i, f) in conv.server.frames.iter().enumerate() {
        let end = conv.response_len + f.offset + f.wire_len() - 1;
        if let Some((call, at)) = conv.received.call_for(end) {
            timeline.push((at, Direction::Received, i, call));
        }
    }
    timeline.sort_by_key(|(at, _, _, _)| *at);
    for (at, dir, i, call) in timeline {
        let (frame, title) = match dir {
            Direction::Sent => (
                &conv.client.frames[i],
                format!(
                    "client → server  frame, in write() #{} at {:.3} ms",
                    call + 1,
                    at.as_secs_f64() * 1e3
                ),
            ),
            Direction::Received => (
                &conv.server.frames[i],
                format!(
                    "server → client  frame, in read() #{} at {:.3} ms",
                    call + 1,
                    at.as_secs_f64() * 1e3
                ),
            ),
        };
        out.push_str(&render_frame(frame, &title, style));
        let inflated = conv.deflate.as_ref().and_then(|d| match dir {
            Direction::Sent => d.client.get(i),
            Direction::Received => d.server.get(i),
        });
        if let Some(Some(m)) = inflated {
            out.push_str(&render_inflated(m, style));
        }
    }
    let fin = records
        .iter()
        .find(|r| r.dir == Direction::Received && r.bytes.is_empty());
    if let Some(r) = fin {
        let _ = writeln!(
            out,
            "{} at {:.3} ms: the server sent FIN",
            style.paint(Paint::Heading, "read() = 0"),
            r.at.as_secs_f64() * 1e3
        );
    }
    out
}

/// A TCP conversation: each `write()` and `read()` with its exact bytes. The
/// boundaries shown are the system calls'; the stream itself has none.
pub fn render_stream(records: &[Record], style: Style) -> String {
    render_calls(records, style, ("write()", "read()"), true)
}

/// A UDP conversation: each datagram sent and received, whole.
pub fn render_datagrams(records: &[Record], style: Style) -> String {
    render_calls(
        records,
        style,
        ("datagram sent", "datagram received"),
        false,
    )
}

/// One line per record. `stream`: a 0-byte read is the end of a TCP stream (on
/// UDP it is an empty datagram, shown as such).
fn render_calls(
    records: &[Record],
    style: Style,
    (sent, received): (&str, &str),
    stream: bool,
) -> String {
    let mut out = String::new();
    let (mut n_sent, mut n_received) = (0, 0);
    for r in records {
        let (name, n, paint) = match r.dir {
            Direction::Sent => {
                n_sent += 1;
                (sent, n_sent, Paint::Sent)
            }
            Direction::Received => {
                n_received += 1;
                (received, n_received, Paint::Received)
            }
        };
        let what = if stream && r.bytes.is_empty() && r.dir == Direction::Received {
            "end of stream: the peer sent FIN".to_string()
        } else {
            format!("|{}|", quoted_short(&r.bytes, 64))
        };
        let _ = writeln!(
            out,
            "{:>9.3} ms  {} #{n:<3} {:>6} bytes  {}",
            r.at.as_secs_f64() * 1e3,
            style.paint(paint, format!("{name:<17}")),
            r.bytes.len(),
            what
        );
    }
    out
}
