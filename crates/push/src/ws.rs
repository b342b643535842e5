//! The WebSocket side of a push connection, kept apart: the one connection
//! machine (crates/websocket) runs the protocol, and push says only what a
//! message means — a line to publish — through its [`Publisher`] handler.
//!
//! What stays push's own is here:
//!
//! - a message published is charged to the connection's publish rate; past it
//!   the connection is closed with **1008 Policy Violation** (RFC 6455 §7.4.1).
//!   Why a close and not a notice: a WebSocket has no answer per message to put
//!   a 429 in, and a notice would leave us reading — and throwing away — the
//!   rest of a flood from a client that is not listening to us anyway;
//! - a gap (events gone from the window) is a text message `{"gap":…}`;
//! - over the memory budget the machine closes with **1013 Try Again Later**,
//!   as `serve ws` does.

use std::io;
use std::sync::atomic::Ordering;
use std::time::Instant;

use log::info;
use serve::v3_event_loop::{Step, Turn};
use tungstenite::Message;
use tungstenite::protocol::frame::coding::CloseCode;
use websocket::{Handler, Outbox};

use crate::session::{Mode, PushSession};

/// A WebSocket client's handler: each message it sends is a line to publish,
/// kept until the session publishes it.
#[derive(Default)]
pub struct Publisher {
    lines: Vec<String>,
}

impl Handler for Publisher {
    fn message(&mut self, message: Message, _out: &mut Outbox<'_>) {
        match message {
            Message::Text(text) => self.lines.push(text.to_string()),
            Message::Binary(b) => self.lines.push(String::from_utf8_lossy(&b).into_owned()),
            _ => {}
        }
    }
}

impl PushSession {
    /// A readiness event on an upgraded connection: the answers queued before
    /// the 101 go first, then the machine's loop (write, backpressure,
    /// fairness, read); what the client sent is published, and a subscriber
    /// behind is fed.
    pub(crate) fn websocket_ready(&mut self, turn: &mut Turn<'_>, start: u64) -> io::Result<Step> {
        self.flush()?;
        if !self.output.is_empty() {
            return Ok(Step::Wait);
        }
        let Mode::WebSocket(m) = &mut self.mode else {
            return Ok(Step::Wait);
        };
        let step = websocket::session::pump(&mut self.stream, m, turn, start)?;
        self.publish_messages();
        self.feed()?;
        Ok(if self.finished() { Step::Done } else { step })
    }

    // ANCHOR: ws_publish
    /// Messages from a WebSocket client become events for everyone, within
    /// the connection's publish rate; past it, close 1008.
    fn publish_messages(&mut self) {
        let Mode::WebSocket(m) = &mut self.mode else {
            return;
        };
        for line in std::mem::take(&mut m.handler_mut().lines) {
            if self.bucket.take(Instant::now()).is_err() {
                self.stats.limited.fetch_add(1, Ordering::Relaxed);
                let reason = format!(
                    "publishing faster than --publish-rate {} a second",
                    self.config.publish_rate
                );
                info!("[{}] closing 1008: {reason}", self.tuple);
                m.close(CloseCode::Policy, &reason);
                return;
            }
            let event = self.hub.publish(line);
            info!(
                "[{}] WebSocket message published as event {}",
                self.tuple, event.id
            );
        }
    }
    // ANCHOR_END: ws_publish

    /// Sends one text message (an event, a gap notice) through the machine,
    /// under its bound and the memory budget (past it, the machine closes 1013).
    pub(crate) fn ws_send(&mut self, text: String) {
        if let Mode::WebSocket(m) = &mut self.mode {
            m.send(Message::text(text));
        }
    }

    /// Over the memory budget: close 1013 Try Again Later.
    pub(crate) fn ws_close_over_budget(&mut self) {
        if let Mode::WebSocket(m) = &mut self.mode {
            m.close(CloseCode::Again, "server memory budget exceeded");
        }
    }
}
