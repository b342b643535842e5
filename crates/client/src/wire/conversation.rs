//! A recorded conversation taken apart: the Tap's records joined per direction
//! (remembering which system call carried which bytes), then split into the
//! handshake and the frames each way. Analysis only; `render_conversation`
//! prints it.

use std::time::Duration;

use lifecycle::Direction;
use lifecycle::tap::Record;
use serde::Serialize;

use super::frame::{Frames, parse_frames};
use super::http::{HandshakeView, HttpHead, view_heads};

/// The bytes one direction of a Tap carried, concatenated, remembering where each
/// system call's bytes ended and when.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flow {
    /// Every byte, in order.
    pub bytes: Vec<u8>,
    /// For each call: the offset just past its last byte, and its time.
    pub calls: Vec<(usize, Duration)>,
}

impl Flow {
    /// The records going `dir`, joined. 0-byte records (end of stream) are kept as
    /// calls, so a FIN has a time.
    pub fn from_records(records: &[Record], dir: Direction) -> Flow {
        let mut flow = Flow::default();
        for r in records.iter().filter(|r| r.dir == dir) {
            flow.bytes.extend_from_slice(&r.bytes);
            flow.calls.push((flow.bytes.len(), r.at));
        }
        flow
    }

    /// Which call (0-based) delivered the byte at `offset`, and when.
    pub fn call_for(&self, offset: usize) -> Option<(usize, Duration)> {
        self.calls
            .iter()
            .enumerate()
            .find(|(_, (end, _))| *end > offset)
            .map(|(i, (_, at))| (i, *at))
    }
}

/// A WebSocket conversation recovered from a Tap's records. In JSON: the
/// handshake and the frames both ways (the raw bytes are in the records).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WsConversation {
    /// The opening handshake, if both heads are complete.
    pub handshake: Option<HandshakeView>,
    /// Frames the client sent (after its request head).
    pub client: Frames,
    /// Frames the server sent (after its response head).
    pub server: Frames,
    /// The client's bytes.
    #[serde(skip)]
    pub sent: Flow,
    /// The server's bytes.
    #[serde(skip)]
    pub received: Flow,
    /// Size of the request head (frames start after it).
    pub request_len: usize,
    /// Size of the response head.
    pub response_len: usize,
}

/// Splits a WebSocket client's records into handshake and frames, both ways.
pub fn ws_conversation(records: &[Record]) -> WsConversation {
    let sent = Flow::from_records(records, Direction::Sent);
    let received = Flow::from_records(records, Direction::Received);
    let request = HttpHead::request(&sent.bytes);
    let response = HttpHead::response(&received.bytes);
    // Frames start right after each head; without one, every byte is taken for
    // frames (and the view says what did not parse).
    let request_len = request.as_ref().map_or(0, |h| h.bytes);
    let response_len = response.as_ref().map_or(0, |h| h.bytes);
    let handshake = request
        .zip(response)
        .map(|(req, resp)| view_heads(req, resp));
    let mut conversation = WsConversation {
        handshake,
        client: parse_frames(&sent.bytes[request_len..]),
        server: parse_frames(&received.bytes[response_len..]),
        sent,
        received,
        request_len,
        response_len,
    };
    // permessage-deflate, if the 101 agreed: each compressed message inflated.
    super::inflate::inflate_conversation(&mut conversation);
    conversation
}
