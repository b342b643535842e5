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
use std::net::Shutdown as How;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lifecycle::narrate::plural;
use lifecycle::state::state_of;
use lifecycle::tcp::Escaped;
use lifecycle::{FourTuple, Proto};
use log::{debug, info, warn};
use mio::net::TcpStream;
use serve::limits::Held;
use serve::v3_event_loop::{
    Expiry, Leg, Progress, QUEUE_LIMIT, Readiness, Session, Step, Tracked, Turn, read_some,
    write_some,
};
use socket2::{Domain, Protocol, Socket, Type};
use tungstenite::Message;
use tungstenite::protocol::frame::coding::CloseCode;
use websocket::session::flush;
use websocket::{Handler, Machine, Outbox, Settings};

use crate::Config;

/// The subprotocol websockify speaks when a client asks for it: frames carry
/// the TCP bytes as they are (its other, older one, `base64`, is not offered).
pub const BINARY_SUBPROTOCOL: &str = "binary";

/// The subprotocols the bridge names in its 101 when offered.
pub const PROTOCOLS: &[&str] = &[BINARY_SUBPROTOCOL];

/// EINPROGRESS: a non-blocking `connect(2)` has sent its SYN and returned; the
/// handshake finishes in the kernel, and the socket turns writable when it has.
const EINPROGRESS: i32 = 115;

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

/// Where the TCP leg is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TargetState {
    /// `connect(2)` returned EINPROGRESS; waiting for the socket to turn writable.
    Connecting,
    /// ESTABLISHED: bytes both ways.
    Open,
    /// We sent FIN (`shutdown(SHUT_WR)`): reading until the target's FIN.
    FinSent,
}

/// The TCP leg: the connection to the target.
struct Target {
    stream: Tracked,
    state: TargetState,
    /// The target sent FIN (read returned 0).
    fin_received: bool,
    /// When a connect still in progress is given up (`--connect-timeout`).
    connect_by: Instant,
}

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

    /// Writes what waits for the target; then, if the WebSocket leg has ended,
    /// sends the target our FIN.
    fn flush_target(&mut self) -> io::Result<()> {
        let over = self.machine.is_done();
        let Some(target) = self.target.as_mut() else {
            return Ok(());
        };
        if target.state == TargetState::Connecting {
            if over {
                self.close_target(); // the client left before the target answered
            }
            return Ok(());
        }
        let bytes = &mut self.machine.handler_mut().bytes;
        while !bytes.is_empty() {
            match write_some(&mut target.stream, bytes) {
                Ok(Some(n)) => {
                    bytes.drain(..n);
                }
                Ok(None) => return Ok(()),
                Err(e) => return self.target_failed(&e),
            }
        }
        if over && target.state == TargetState::Open {
            // shutdown(2) SHUT_WR: the target reads 0 (FIN) after the last byte.
            let _ = target.stream.get_ref().shutdown(How::Write);
            target.state = TargetState::FinSent;
            let fd = target.stream.get_ref().as_raw_fd();
            info!(
                "[{}] tcp leg: shutdown(fd {fd}, SHUT_WR): FIN to the target: {}",
                self.tuple,
                state_of(target.stream.get_ref())
            );
            if target.fin_received {
                self.close_target();
            }
        }
        Ok(())
    }

    /// `close(2)` of the TCP leg.
    fn close_target(&mut self) {
        if let Some(target) = self.target.take() {
            let fd = target.stream.get_ref().as_raw_fd();
            self.target_progress = add(self.target_progress, target.stream.progress());
            drop(target);
            info!("[{}] tcp leg: close(fd {fd})", self.tuple);
        }
    }

    // ANCHOR: connect
    /// Opens the TCP leg: `socket(2)`, then a non-blocking `connect(2)`, which
    /// sends the SYN and returns EINPROGRESS at once; the loop goes on serving
    /// others, and the socket turns writable when the handshake is done (or
    /// has failed: see [`Bridge::check_connect`]).
    fn connect(&mut self, turn: &mut Turn<'_>) -> io::Result<()> {
        let to = self.config.target;
        let socket = Socket::new(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        let fd = socket.as_raw_fd();
        info!("[{}] tcp leg: socket(SOCK_STREAM) -> fd {fd}", self.tuple);
        match socket.connect(&to.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(EINPROGRESS) => info!(
                "[{}] tcp leg: connect(fd {fd}, {to}): EINPROGRESS (SYN sent; waiting for writable)",
                self.tuple
            ),
            Err(e) => return Err(e),
        }
        let mut stream = TcpStream::from_std(socket.into());
        turn.register_outbound(&mut stream)?;
        let tuple = FourTuple {
            proto: Proto::Tcp,
            local: stream.local_addr()?,
            peer: to,
        };
        self.target = Some(Target {
            stream: Tracked::new(stream, tuple),
            state: TargetState::Connecting,
            fin_received: false,
            connect_by: Instant::now() + self.config.connect_timeout,
        });
        Ok(())
    }

    /// Has the non-blocking connect finished? `SO_ERROR` (`take_error`) says
    /// whether it failed; a peer address says it succeeded; neither: not yet.
    fn check_connect(&mut self) {
        let Some(target) = self.target.as_mut() else {
            return;
        };
        if target.state != TargetState::Connecting {
            return;
        }
        let s = target.stream.get_ref();
        let failed = match s.take_error() {
            Ok(Some(e)) | Err(e) => Some(e),
            Ok(None) => match s.peer_addr() {
                Ok(_) => None,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return, // not yet
                Err(e) => Some(e),
            },
        };
        match failed {
            None => {
                target.state = TargetState::Open;
                info!(
                    "[{}] tcp leg: fd {} writable: connected {} → {}: {}",
                    self.tuple,
                    s.as_raw_fd(),
                    target
                        .stream
                        .get_ref()
                        .local_addr()
                        .map_or_else(|_| "?".into(), |a| a.to_string()),
                    self.config.target,
                    state_of(s)
                );
            }
            Some(e) => {
                warn!(
                    "[{}] tcp leg: connect to {} failed: {e}: closing the WebSocket with 1011",
                    self.tuple, self.config.target
                );
                self.target = None;
                let reason = format!("cannot connect to tcp://{}: {e}", self.config.target);
                self.machine.close(CloseCode::Error, &reason);
            }
        }
    }
    // ANCHOR_END: connect

    /// The TCP leg failed (a reset, an error): Close 1011 to the client.
    fn target_failed(&mut self, e: &io::Error) -> io::Result<()> {
        warn!(
            "[{}] tcp leg failed: {e}: closing the WebSocket with 1011",
            self.tuple
        );
        self.close_target();
        self.machine.handler_mut().bytes = Vec::new();
        self.machine.close(
            CloseCode::Error,
            &format!("the target connection failed: {e}"),
        );
        Ok(())
    }

    // ANCHOR: target_bytes
    /// One read's worth from the target becomes one binary message.
    fn target_bytes(&mut self, bytes: &[u8]) {
        let tuple = self.tuple;
        let before = self.machine.output().len();
        if !self.machine.send(Message::binary(bytes.to_vec())) {
            // After the close: the bytes have nowhere to go.
            debug!(
                "[{tuple}] tcp leg: {} after the WebSocket closed: dropped",
                plural(bytes.len(), "byte")
            );
            return;
        }
        let framed = self.machine.output().len().saturating_sub(before);
        if self.config.wire_log {
            info!(
                "[{tuple}] wire: target → client: {} bare bytes {:?} → one binary frame of {framed} bytes",
                bytes.len(),
                Escaped(bytes)
            );
        } else {
            info!(
                "[{tuple}] tcp leg: {} → one binary message ({framed} bytes framed)",
                plural(bytes.len(), "byte")
            );
        }
    }
    // ANCHOR_END: target_bytes

    /// The target sent FIN: Close 1000 to the client.
    fn target_closed(&mut self) {
        let tuple = self.tuple;
        if let Some(t) = self.target.as_mut() {
            t.fin_received = true;
        }
        if self.machine.is_open() {
            info!("[{tuple}] tcp leg: the target sent FIN: closing the WebSocket with 1000");
            self.machine
                .close(CloseCode::Normal, "the target closed the connection");
        }
        if self
            .target
            .as_ref()
            .is_some_and(|t| t.state == TargetState::FinSent)
        {
            self.close_target();
        }
    }

    /// Whether everything is over: WebSocket done and written, TCP leg closed.
    fn finished(&self) -> bool {
        self.machine.is_done() && self.machine.output().is_empty() && self.target.is_none()
    }
}

/// Two legs' progress, added.
fn add(a: Progress, b: Progress) -> Progress {
    Progress {
        read: a.read + b.read,
        written: a.written + b.written,
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
            self.flush_target()?;
            self.machine.resume();
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
