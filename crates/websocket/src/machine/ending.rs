//! How a connection ends, and what it may hold until then: the peer's FIN, a
//! deadline (408 before the Upgrade, 1001 after), a broken peer (1002, 1007,
//! 1009), the program's own close; the memory budget (1013) is [`super::budget`].

use lifecycle::narrate::plural;
use log::{info, warn};
use serve::v3_event_loop::Expiry;
use tungstenite::Error;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;

use super::{Machine, Phase};
use crate::close;
use crate::deflate::DeflateError;
use crate::handler::Handler;
use crate::upgrade::Rejection;

/// A server's Close frame before its reason: 2 bytes of header, 2 of code.
const CLOSE_FRAME_HEAD: usize = 4;

impl<H: Handler> Machine<H> {
    /// The peer sent FIN. Before the close handshake that is a peer that went
    /// away (a browser closing a spare connection, a crashed client).
    pub fn peer_closed(&mut self) {
        match self.phase {
            Phase::Request { ref head } => info!(
                "[{}] the peer went away during the handshake: FIN after {}, before the request ended",
                self.tuple,
                plural(head.len(), "byte")
            ),
            Phase::Open(_) => info!(
                "[{}] the peer went away: FIN without a close frame",
                self.tuple
            ),
            Phase::Done => {}
        }
        self.peer_fin = true;
        self.finish();
    }

    // ANCHOR: expire
    /// A deadline passed. Before the Upgrade: 408 Request Timeout. After it: the
    /// peer was idle, or does not read (the write stall): Close 1001 Going Away.
    pub fn expire(&mut self, why: Expiry) {
        let tuple = self.tuple;
        match &self.phase {
            Phase::Request { .. } => {
                let timeout = Rejection {
                    status: 408,
                    reason: format!(
                        "no complete request within {:?}",
                        self.settings.handshake_timeout
                    ),
                };
                info!("[{tuple}] 408 Request Timeout: {}", timeout.reason);
                self.answer.extend_from_slice(&timeout.response());
                self.phase = Phase::Done;
            }
            Phase::Open(_) => {
                let (what, reason) = match why {
                    Expiry::Idle => ("idle (--idle-timeout)", "idle timeout"),
                    Expiry::Stalled => (
                        "not reading (--write-stall-timeout)",
                        "not reading: write stalled",
                    ),
                };
                info!("[{tuple}] {what}: closing with 1001");
                self.close_with(CloseCode::Away, reason);
            }
            Phase::Done => {}
        }
    }
    // ANCHOR_END: expire

    // ANCHOR: fail
    /// Ends the WebSocket after `e`: a peer that broke the protocol gets the
    /// close code [`close::ending`] picks (1002, 1007, 1009); a vanished one gets
    /// nothing.
    pub(super) fn fail(&mut self, e: Error) {
        match close::ending(self.tuple, &e) {
            Some(frame) => self.close_with(frame.code, &frame.reason),
            None => self.finish(),
        }
    }
    // ANCHOR_END: fail

    /// Ends the WebSocket after a compressed message that would not inflate:
    /// 1007 for bytes that are not DEFLATE, 1009 for a message inflating past
    /// `--max-message-size` (a zip bomb stops there, RFC 7692 §8.1 aside).
    pub(super) fn fail_inflate(&mut self, e: DeflateError) {
        let code = match e {
            DeflateError::TooBig { .. } => CloseCode::Size,
            DeflateError::Corrupt | DeflateError::BadResponse => CloseCode::Invalid,
        };
        warn!("[{}] {e}: closing with {}", self.tuple, u16::from(code));
        self.close_with(code, &e.to_string());
    }

    /// Queues a Close frame with `code` and ends: no more input is read.
    pub(super) fn close_with(&mut self, code: CloseCode, reason: &str) {
        if let Phase::Open(ws) = &mut self.phase {
            let mut end = reason.len().min(close::MAX_REASON);
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            let frame = CloseFrame {
                code,
                reason: reason[..end].into(),
            };
            // Room for exactly the Close frame: a full queue would otherwise
            // double its capacity for a few bytes.
            ws.get_mut().output.reserve_exact(CLOSE_FRAME_HEAD + end);
            // Into our output queue: never blocks, and is not refused for size.
            ws.close(Some(frame));
        }
        self.finish();
    }

    /// Ends the protocol: nothing more is read. What tungstenite already wrote
    /// for the peer (an echo, the Close reply) is kept and still goes out; what
    /// it held of an unfinished message is dropped with it.
    pub(super) fn finish(&mut self) {
        if let Phase::Open(ws) = &mut self.phase {
            let out = std::mem::take(&mut ws.get_mut().output);
            // Moved, not copied: a queued 16 MiB echo must not be in memory twice.
            if self.answer.is_empty() {
                self.answer = out;
            } else {
                self.answer.extend_from_slice(&out);
            }
        }
        self.phase = Phase::Done;
    }
}
