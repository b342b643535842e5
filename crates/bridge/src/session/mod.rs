//! One bridged connection: the WebSocket leg (the client we accepted) and the
//! TCP leg (the connection we open to the target), as one event-loop session.
//!
//! The WebSocket leg is the one connection machine every server runs
//! (`websocket::Machine`: the strict Upgrade, the Origin policy, control
//! frames, close codes, the memory budget, the bounded output); the bridge is
//! its [`ToTarget`] handler — a message's payload becomes bare bytes for the
//! target — plus the second socket. The engine gives a session its accepted
//! socket; the bridge registers the second one itself with
//! [`Turn::register_outbound`], and both legs' readiness comes to
//! [`Bridge::ready`], each event marked with its [`Leg`]. Every turn moves what
//! it can both ways:
//!
//! ```text
//!  client ─▶ read ─▶ machine (frames → messages) ─▶ ToTarget ─▶ write ─▶ target
//!  client ◀─ write ◀─ machine.send (one binary message per read) ◀─ read ◀─ target
//! ```
//!
//! Backpressure both ways: the client is not read while [`QUEUE_LIMIT`] bytes
//! wait for the target ([`Handler::accepting`]), and the target is not read
//! while that much waits for the client; TCP's windows then slow whoever sends.
//! The loop's clocks see both legs: a byte from either is activity (idle), a
//! byte taken by either is progress (write stall) — a simplification: one
//! stalled leg beside a busy one is not caught.
//!
//! The close, narrated on both legs:
//! - client Close frame → the machine answers it → once the target's queue is
//!   written, `shutdown(SHUT_WR)` on the TCP leg (the target reads FIN) → the
//!   target's FIN → `close(2)` of the TCP leg → the engine closes the
//!   WebSocket's TCP.
//! - target FIN → Close 1000 to the client.
//! - target refused, reset, or not connected within `--connect-timeout` →
//!   Close 1011 with the reason.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lifecycle::FourTuple;
use lifecycle::narrate::plural;
use lifecycle::tcp::Escaped;
use log::{info, warn};
use mio::net::TcpStream;
use serve::limits::Held;
use serve::v3_event_loop::{
    Expiry, Leg, Progress, QUEUE_LIMIT, Readiness, Session, Step, Tracked, Turn, read_some,
};
use tungstenite::Message;
use tungstenite::protocol::frame::coding::CloseCode;
use websocket::session::flush;
use websocket::{Handler, Machine, Outbox, Settings};

use crate::Config;

mod target;

use target::{Target, TargetState, add};

/// The subprotocol websockify speaks when a client asks for it: frames carry
/// the TCP bytes as they are (its other, older one, `base64`, is not offered).
pub const BINARY_SUBPROTOCOL: &str = "binary";

/// The subprotocols the bridge names in its 101 when offered.
pub const PROTOCOLS: &[&str] = &[BINARY_SUBPROTOCOL];

// ANCHOR: to_target
/// The bridge's handler: a message's payload becomes bare bytes for the target
/// (TCP has no messages: the boundaries are gone there).
pub struct ToTarget {
    /// Bytes waiting to be written to the target.
    bytes: Vec<u8>,
    tuple: FourTuple,
    /// Log every message's bytes (`--wire-log`).
    wire: bool,
}

impl Handler for ToTarget {
    fn message(&mut self, message: Message, _out: &mut Outbox<'_>) {
        let tuple = self.tuple;
        let (kind, bytes) = match &message {
            Message::Binary(b) => ("binary", b.as_ref()),
            Message::Text(t) => ("text", t.as_bytes()),
            _ => return,
        };
        if self.wire {
            info!(
                "[{tuple}] wire: client → target: {kind} message, {} → {} bare bytes {:?}",
                plural(bytes.len(), "byte"),
                bytes.len(),
                Escaped(bytes)
            );
        } else {
            info!(
                "[{tuple}] ws leg: {kind} message, {} → tcp leg",
                plural(bytes.len(), "byte")
            );
        }
        self.bytes.extend_from_slice(bytes);
    }

    /// The client is not read while a queue's worth waits for the target.
    fn accepting(&self) -> bool {
        self.bytes.len() < QUEUE_LIMIT
    }

    fn holding(&self) -> usize {
        self.bytes.capacity()
    }
}
// ANCHOR_END: to_target

// ANCHOR: session
/// One WebSocket client carried to one TCP connection.
pub struct Bridge {
    client: Tracked,
    tuple: FourTuple,
    config: Arc<Config>,
    /// The WebSocket leg: the one connection machine, with the bridge's handler.
    machine: Machine<ToTarget>,
    /// The TCP leg, once the WebSocket is open (`None` before, and after its close).
    target: Option<Target>,
    /// The TCP leg was dialled (once, right after the 101).
    dialled: bool,
    /// What the TCP leg moved before it was closed (for the clocks).
    target_progress: Progress,
}
// ANCHOR_END: session

impl Bridge {
    /// A session for a freshly accepted client: its HTTP request comes next.
    pub fn new(
        stream: TcpStream,
        tuple: FourTuple,
        config: Arc<Config>,
        settings: Arc<Settings>,
        held: Held,
    ) -> Bridge {
        let handler = ToTarget {
            bytes: Vec::new(),
            tuple,
            wire: config.wire_log,
        };
        Bridge {
            client: Tracked::new(stream, tuple),
            tuple,
            config,
            machine: Machine::new(tuple, settings, held, handler),
            target: None,
            dialled: false,
            target_progress: Progress::default(),
        }
    }

    /// Whether everything is over: WebSocket done and written, TCP leg closed.
    fn finished(&self) -> bool {
        self.machine.is_done() && self.machine.output().is_empty() && self.target.is_none()
    }
}

impl Session for Bridge {
    // ANCHOR: ready
    fn ready(&mut self, ready: Readiness, turn: &mut Turn<'_>) -> io::Result<Step> {
        match ready.leg {
            Leg::Peer => self.client.on_event(ready),
            Leg::Outbound => {
                if let Some(t) = self.target.as_mut() {
                    t.stream.on_event(ready);
                }
            }
        }
        self.check_connect();
        let start = self.progress().read;
        loop {
            // 0. Upgraded: the TCP leg opens now, while the 101 goes out.
            if self.machine.is_open() && !self.dialled {
                self.dialled = true;
                if let Err(e) = self.connect(turn) {
                    warn!(
                        "[{}] tcp leg: cannot start the connect to {}: {e}",
                        self.tuple, self.config.target
                    );
                    let reason = format!("cannot connect to tcp://{}: {e}", self.config.target);
                    self.machine.close(CloseCode::Error, &reason);
                }
            }
            // 1. What waits goes out first, on both legs; messages that waited
            //    for the target's queue to drain go on.
            flush(&mut self.client, &mut self.machine)?;
            let was_full = !self.machine.handler().accepting();
            self.flush_target()?;
            if was_full && self.machine.handler().accepting() {
                self.machine.resume();
            }
            // A WebSocket over with no TCP leg left: done once the client has it all.
            if self.machine.is_done() && self.target.is_none() {
                return Ok(if self.finished() {
                    Step::Done
                } else {
                    Step::Wait
                });
            }
            // 2. Fairness: this turn's budget is spent (both legs count).
            if self.progress().read - start >= turn.budget {
                return Ok(Step::Yield);
            }
            let mut moved = false;
            // 3. Client → machine → target, while the machine wants input (not
            //    while too much waits for the client or for the target).
            if self.machine.wants_input() {
                match read_some(&mut self.client, turn.scratch)? {
                    None => {}
                    Some(0) => {
                        self.machine.peer_closed();
                        moved = true;
                    }
                    Some(n) => {
                        self.machine.receive(&turn.scratch[..n]);
                        moved = true;
                    }
                }
            }
            // 4. Target → client: one read, one binary message, unless the
            // client's queue is full (backpressure).
            let readable = self
                .target
                .as_ref()
                .is_some_and(|t| t.state != TargetState::Connecting && !t.fin_received);
            if readable && self.machine.output().len() < QUEUE_LIMIT {
                let got = match self.target.as_mut() {
                    Some(t) => read_some(&mut t.stream, turn.scratch),
                    None => Ok(None),
                };
                match got {
                    Ok(None) => {}
                    Ok(Some(0)) => {
                        self.target_closed();
                        moved = true;
                    }
                    Ok(Some(n)) => {
                        let bytes = turn.scratch[..n].to_vec();
                        self.target_bytes(&bytes);
                        moved = true;
                    }
                    Err(e) => {
                        self.target_failed(&e)?;
                        moved = true;
                    }
                }
            }
            if !moved {
                return Ok(Step::Wait); // both legs said WouldBlock (or are held back)
            }
        }
    }
    // ANCHOR_END: ready

    fn stream(&self) -> Option<&TcpStream> {
        Some(self.client.get_ref())
    }

    fn progress(&self) -> Progress {
        let mut p = add(self.client.progress(), self.target_progress);
        if let Some(t) = &self.target {
            p = add(p, t.stream.progress());
        }
        p
    }

    fn pending(&self) -> usize {
        self.machine.output().len() + self.machine.handler().bytes.len()
    }

    fn opening_deadline(&self) -> Option<Duration> {
        (!self.machine.is_open() && !self.machine.is_done())
            .then_some(self.config.handshake_timeout)
    }

    // ANCHOR: connect_timeout
    /// While the TCP leg is connecting: when to give up on it.
    fn alarm_at(&self) -> Option<Instant> {
        self.target
            .as_ref()
            .filter(|t| t.state == TargetState::Connecting)
            .map(|t| t.connect_by)
    }

    /// The target did not answer within `--connect-timeout` (a SYN dropped by
    /// a full backlog or a firewall is retried by the kernel for minutes):
    /// Close 1011 to the client, saying so.
    fn alarm(&mut self) -> io::Result<Step> {
        if self.alarm_at().is_some_and(|at| Instant::now() >= at) {
            warn!(
                "[{}] tcp leg: no connection to {} within {:?} (--connect-timeout): closing the WebSocket with 1011",
                self.tuple, self.config.target, self.config.connect_timeout
            );
            self.close_target();
            let reason = format!(
                "cannot connect to tcp://{}: no answer within {:?} (connect timeout)",
                self.config.target, self.config.connect_timeout
            );
            self.machine.close(CloseCode::Error, &reason);
            flush(&mut self.client, &mut self.machine)?;
        }
        Ok(if self.finished() {
            Step::Done
        } else {
            Step::Wait
        })
    }
    // ANCHOR_END: connect_timeout

    fn expire(&mut self, why: Expiry) {
        self.machine.expire(why);
        let _ = flush(&mut self.client, &mut self.machine);
        self.close_target();
    }
}
