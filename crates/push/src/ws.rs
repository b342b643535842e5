//! The WebSocket side of a push connection, kept apart: messages in become
//! events, events out become messages, and the three ways push ends one.
//!
//! Kept small and in one place because it is about to move: the WebSocket
//! connection machine is going into `crates/websocket`, shared by every server,
//! and push will drive it as a handler. What stays push's own is here:
//!
//! - a message published is charged to the connection's publish rate; past it
//!   the connection is closed with **1008 Policy Violation** (RFC 6455 §7.4.1).
//!   Why a close and not a notice: a WebSocket has no answer per message to put
//!   a 429 in, and a notice would leave us reading — and throwing away — the
//!   rest of a flood from a client that is not listening to us anyway;
//! - a gap (events gone from the window) is a text message `{"gap":…}`;
//! - over the memory budget: **1013 Try Again Later**, as `serve ws` says it.

use std::io;
use std::sync::atomic::Ordering;
use std::time::Instant;

use log::info;
use tungstenite::Message;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;

use crate::session::{Mode, PushSession};

impl PushSession {
    /// Messages from a WebSocket client become events for everyone, within
    /// the connection's publish rate.
    pub(crate) fn websocket_input(&mut self) {
        let input = self.reader.take_rest();
        let Mode::WebSocket(ws) = &mut self.mode else {
            return;
        };
        ws.get_mut().input.extend(input);
        let mut published = Vec::new();
        let ended = loop {
            match ws.read() {
                Ok(Message::Text(text)) => published.push(text.to_string()),
                Ok(Message::Binary(b)) => published.push(String::from_utf8_lossy(&b).into_owned()),
                Ok(_) => {} // Pings are answered by tungstenite; Close too.
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    break false;
                }
                Err(tungstenite::Error::ConnectionClosed) => break true,
                Err(e) => {
                    info!("[{}] WebSocket ended: {e}", self.tuple);
                    break true;
                }
            }
        };
        let _ = ws.flush();
        for line in published {
            if self.bucket.take(Instant::now()).is_err() {
                self.stats.limited.fetch_add(1, Ordering::Relaxed);
                let reason = format!(
                    "publishing faster than --publish-rate {} a second",
                    self.config.publish_rate
                );
                info!("[{}] closing 1008: {reason}", self.tuple);
                return self.ws_close(CloseCode::Policy, &reason);
            }
            let event = self.hub.publish(line);
            info!(
                "[{}] WebSocket message published as event {}",
                self.tuple, event.id
            );
        }
        if ended {
            self.ws_end();
        }
    }

    /// Sends one text message (an event, a gap notice); past the memory budget
    /// the connection is closed with 1013.
    pub(crate) fn ws_send(&mut self, text: String) {
        if let Mode::WebSocket(ws) = &mut self.mode {
            let _ = ws.send(Message::text(text));
        }
        if let Err(over) = self.recount() {
            self.over_budget(over);
        }
    }

    /// Over the memory budget: close 1013 Try Again Later.
    pub(crate) fn ws_close_over_budget(&mut self) {
        self.ws_close(CloseCode::Again, "the server's memory budget is spent");
    }

    /// Sends a Close frame with `code` and `reason`, and ends the connection
    /// once it is written.
    fn ws_close(&mut self, code: CloseCode, reason: &str) {
        if let Mode::WebSocket(ws) = &mut self.mode {
            let frame = CloseFrame {
                code,
                reason: reason.to_string().into(),
            };
            let _ = ws.close(Some(frame));
            let _ = ws.flush();
        }
        self.ws_end();
    }

    /// The WebSocket is over: what tungstenite queued (a Close reply) moves to
    /// our queue, and the connection closes once it is out.
    fn ws_end(&mut self) {
        if let Mode::WebSocket(ws) = &mut self.mode {
            let out = std::mem::take(&mut ws.get_mut().output);
            self.output.extend_from_slice(&out);
        }
        self.mode = Mode::Closing;
    }
}
