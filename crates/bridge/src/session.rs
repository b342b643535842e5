//! One bridged connection: the WebSocket leg (the client we accepted) and the
//! TCP leg (the connection we open to the target), as one event-loop session.
//!
//! The engine gives a session its accepted socket; the bridge registers the
//! second one itself with [`Turn::register_outbound`], and both legs' readiness
//! comes to [`Bridge::ready`], each event marked with its [`Leg`]. Every turn
//! moves what it can both ways:
//!
//! ```text
//!  client ─▶ read ─▶ tungstenite (frames → messages) ─▶ to_target ─▶ write ─▶ target
//!  client ◀─ write ◀─ Buffers.output (one binary frame per read) ◀─ read ◀─ target
//! ```
//!
//! Backpressure both ways: the client is not read while [`QUEUE_LIMIT`] bytes
//! wait for the target, and the target is not read while that much waits for
//! the client; TCP's windows then slow whoever sends. The loop's clocks see
//! both legs: a byte from either is activity (idle), a byte taken by either is
//! progress (write stall) — a simplification: one stalled leg beside a busy one
//! is not caught.
//!
//! The close, narrated on both legs:
//! - client Close frame → tungstenite answers it → once `to_target` is written,
//!   `shutdown(SHUT_WR)` on the TCP leg (the target reads FIN) → the target's
//!   FIN → `close(2)` of the TCP leg → the engine closes the WebSocket's TCP.
//! - target FIN → Close 1000 to the client → its Close reply → done.
//! - target refused or reset → Close 1011 with the reason.

use std::io;
use std::net::Shutdown as How;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use lifecycle::narrate::plural;
use lifecycle::state::state_of;
use lifecycle::tcp::{Escaped, is_disconnect};
use lifecycle::{FourTuple, Proto};
use log::{debug, info, warn};
use mio::net::TcpStream;
use serve::limits::Held;
use serve::v3_event_loop::{
    Expiry, Leg, Progress, QUEUE_LIMIT, Readiness, Session, Step, Tracked, Turn, read_some,
    write_some,
};
use socket2::{Domain, Protocol, Socket, Type};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tungstenite::{Error, Message, WebSocket};

use crate::Config;
use websocket::upgrade::page_response;
use websocket::{Buffers, Decision, OriginPolicy, Rejection, check_request};

/// The subprotocol websockify speaks when a client asks for it: frames carry
/// the TCP bytes as they are (its other, older one, `base64`, is not offered).
pub const BINARY_SUBPROTOCOL: &str = "binary";

/// tungstenite's read buffer per connection: small, most of an idle one's cost.
const WS_READ_BUFFER: usize = 2 * 1024;

/// The longest close reason RFC 6455 allows (a control frame's 125 bytes, less
/// the 2-byte code).
const MAX_REASON: usize = 123;

/// EINPROGRESS: a non-blocking `connect(2)` has sent its SYN and returned; the
/// handshake finishes in the kernel, and the socket turns writable when it has.
const EINPROGRESS: i32 = 115;

/// Where the WebSocket leg is in its life.
enum Phase {
    /// Reading the HTTP request.
    Request { head: Vec<u8> },
    /// Upgraded: frames both ways.
    Open(Box<WebSocket<Buffers>>),
    /// The WebSocket is over (close handshake done, or failed): once the last
    /// bytes are written, and the TCP leg closed, the session is done.
    Done,
}

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
}

// ANCHOR: session
/// One WebSocket client carried to one TCP connection.
pub struct Bridge {
    client: Tracked,
    tuple: FourTuple,
    config: Arc<Config>,
    phase: Phase,
    /// Bytes for the client before the Upgrade's end (the 101, the page, an
    /// HTTP error); after it, tungstenite's [`Buffers`] output.
    answer: Vec<u8>,
    /// The TCP leg, once the WebSocket is open (`None` before, and after its close).
    target: Option<Target>,
    /// Message payloads waiting to be written to the target, as bare bytes.
    to_target: Vec<u8>,
    /// The WebSocket leg ended; the TCP leg is to be shut down once `to_target` is out.
    shut_target: bool,
    /// This connection's share of the memory budget.
    held: Held,
    /// What the TCP leg moved before it was closed (for the clocks).
    target_progress: Progress,
    /// Whose pages may open a WebSocket (and so reach the target).
    origins: OriginPolicy,
}
// ANCHOR_END: session

impl Bridge {
    /// A session for a freshly accepted client: its HTTP request comes next.
    pub fn new(stream: TcpStream, tuple: FourTuple, config: Arc<Config>, held: Held) -> Bridge {
        Bridge {
            origins: OriginPolicy::from_flags(&config.allow_origins),
            client: Tracked::new(stream, tuple),
            tuple,
            config,
            phase: Phase::Request { head: Vec::new() },
            answer: Vec::new(),
            target: None,
            to_target: Vec::new(),
            shut_target: false,
            held,
            target_progress: Progress::default(),
        }
    }

    /// Bytes waiting for the client.
    fn output(&self) -> &[u8] {
        output_of(&self.phase, &self.answer)
    }

    /// Writes what waits for the client until it is out or the socket is full.
    fn flush_client(&mut self) -> io::Result<()> {
        while !self.output().is_empty() {
            let out = output_of(&self.phase, &self.answer);
            let Some(n) = write_some(&mut self.client, out)? else {
                break;
            };
            match &mut self.phase {
                Phase::Open(ws) if self.answer.is_empty() => {
                    ws.get_mut().output.drain(..n);
                }
                _ => {
                    self.answer.drain(..n);
                }
            }
        }
        Ok(())
    }

    /// Writes what waits for the target; then, if the WebSocket leg has ended,
    /// sends the target our FIN.
    fn flush_target(&mut self) -> io::Result<()> {
        let Some(target) = self.target.as_mut() else {
            return Ok(());
        };
        if target.state == TargetState::Connecting {
            return Ok(());
        }
        while !self.to_target.is_empty() {
            match write_some(&mut target.stream, &self.to_target) {
                Ok(Some(n)) => {
                    self.to_target.drain(..n);
                }
                Ok(None) => return Ok(()),
                Err(e) => return self.target_failed(&e),
            }
        }
        if self.shut_target && target.state == TargetState::Open {
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
                self.close_ws(CloseCode::Error, &reason);
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
        self.to_target.clear();
        self.close_ws(
            CloseCode::Error,
            &format!("the target connection failed: {e}"),
        );
        Ok(())
    }

    /// Queues a Close frame for the client; the WebSocket now waits for the
    /// client's Close reply. The TCP leg is shut once its queue is out.
    fn close_ws(&mut self, code: CloseCode, reason: &str) {
        let mut reason = reason.to_string();
        while reason.len() > MAX_REASON {
            reason.pop();
        }
        if let Phase::Open(ws) = &mut self.phase {
            info!(
                "[{}] ws leg: close frame {} {reason:?} to the client",
                self.tuple,
                u16::from(code)
            );
            let _ = ws.close(Some(CloseFrame {
                code,
                reason: reason.into(),
            }));
            let _ = ws.flush();
        }
        self.shut_target = true;
    }

    /// The WebSocket is over: what tungstenite wrote still goes out.
    fn finish_ws(&mut self) {
        if let Phase::Open(ws) = &mut self.phase {
            let out = std::mem::take(&mut ws.get_mut().output);
            self.answer.extend_from_slice(&out);
        }
        self.phase = Phase::Done;
        self.shut_target = true;
    }

    // ANCHOR: client_bytes
    /// Bytes from the client: the HTTP request, or frames. Whole data messages
    /// become bare bytes for the target.
    fn client_bytes(&mut self, bytes: &[u8], turn: &mut Turn<'_>) -> io::Result<()> {
        match &mut self.phase {
            Phase::Request { head } => {
                head.extend_from_slice(bytes);
                let decision = check_request(head, &self.origins);
                let head = std::mem::take(head);
                self.decide(decision, head, turn)?;
            }
            Phase::Open(ws) => {
                ws.get_mut().input.extend(bytes);
                self.messages();
            }
            Phase::Done => {} // after the close: ignored (RFC 6455 §1.4)
        }
        Ok(())
    }

    /// Answers a complete request; on an Upgrade, opens the TCP leg.
    fn decide(&mut self, decision: Decision, head: Vec<u8>, turn: &mut Turn<'_>) -> io::Result<()> {
        let tuple = self.tuple;
        match decision {
            Decision::Incomplete => self.phase = Phase::Request { head },
            Decision::Page => {
                info!("[{tuple}] GET / without Upgrade: serving the bridge page");
                self.answer = page_response(crate::PAGE);
                self.phase = Phase::Done;
            }
            Decision::Reject(r) => {
                info!(
                    "[{tuple}] {} {}: {}",
                    r.status,
                    http1::reason_phrase(r.status),
                    r.reason
                );
                self.answer = r.response();
                self.phase = Phase::Done;
            }
            Decision::Upgrade(mut up) => {
                up.choose_protocol(&[BINARY_SUBPROTOCOL]);
                info!(
                    "[{tuple}] ws leg: {} → 101 Switching Protocols{}",
                    up.request_line,
                    up.protocol
                        .as_ref()
                        .map_or(String::new(), |p| format!(" (subprotocol {p})"))
                );
                self.answer = up.response();
                let mut buffers = Buffers::default();
                buffers.input.extend(&head[up.head_len..]);
                let config = WebSocketConfig::default()
                    .read_buffer_size(WS_READ_BUFFER)
                    .write_buffer_size(0)
                    .max_frame_size(Some(self.config.max_message_size))
                    .max_message_size(Some(self.config.max_message_size));
                let ws = WebSocket::from_raw_socket(buffers, Role::Server, Some(config));
                self.phase = Phase::Open(Box::new(ws));
                // The TCP leg opens now, while the 101 goes out.
                if let Err(e) = self.connect(turn) {
                    warn!(
                        "[{tuple}] tcp leg: cannot start the connect to {}: {e}",
                        self.config.target
                    );
                    self.close_ws(
                        CloseCode::Error,
                        &format!("cannot connect to tcp://{}: {e}", self.config.target),
                    );
                }
                self.messages();
            }
        }
        Ok(())
    }

    /// Every whole message tungstenite can make of the input: data becomes
    /// bytes for the target, a Close ends the WebSocket leg.
    fn messages(&mut self) {
        let tuple = self.tuple;
        let wire = self.config.wire_log;
        let Phase::Open(ws) = &mut self.phase else {
            return;
        };
        while self.to_target.len() < QUEUE_LIMIT {
            let message = match ws.read() {
                Ok(message) => message,
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(Error::ConnectionClosed) => {
                    info!("[{tuple}] ws leg: close handshake done");
                    return self.finish_ws();
                }
                Err(e) => return self.fail(e),
            };
            let (kind, bytes) = match &message {
                Message::Binary(b) => ("binary", b.as_ref()),
                Message::Text(t) => ("text", t.as_bytes()),
                Message::Close(frame) => {
                    let (code, reason) = frame
                        .as_ref()
                        .map_or((1005, ""), |f| (u16::from(f.code), f.reason.as_str()));
                    let then = if self.shut_target {
                        "the close handshake is complete" // we closed first
                    } else {
                        "replying, then FIN to the target"
                    };
                    info!(
                        "[{tuple}] ws leg: close frame {code} {reason:?} from the client: {then}"
                    );
                    self.shut_target = true;
                    continue;
                }
                _ => continue, // Ping (tungstenite queued the Pong), Pong, raw frames
            };
            if self.shut_target {
                debug!("[{tuple}] ws leg: {kind} message after the close: dropped");
                continue;
            }
            if wire {
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
            self.to_target.extend_from_slice(bytes);
        }
        if let Phase::Open(ws) = &mut self.phase
            && let Err(e) = ws.flush()
        {
            self.fail(e);
        }
    }
    // ANCHOR_END: client_bytes

    /// The client broke the protocol (1002, 1007, 1009) or went away.
    fn fail(&mut self, e: Error) {
        let tuple = self.tuple;
        let code = match &e {
            Error::Capacity(_) => Some(CloseCode::Size),
            Error::Utf8(_) => Some(CloseCode::Invalid),
            Error::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake) => {
                None
            }
            Error::Protocol(_) => Some(CloseCode::Protocol),
            Error::Io(io) if is_disconnect(io) => None,
            _ => None,
        };
        match code {
            Some(code) => {
                warn!("[{tuple}] ws leg: {e}: closing with {}", u16::from(code));
                self.close_ws(code, &e.to_string());
                self.finish_ws();
            }
            None => {
                info!("[{tuple}] ws leg ended: {e}");
                self.finish_ws();
            }
        }
    }

    // ANCHOR: target_bytes
    /// One read's worth from the target becomes one binary message.
    fn target_bytes(&mut self, bytes: &[u8]) {
        let tuple = self.tuple;
        let Phase::Open(ws) = &mut self.phase else {
            return;
        };
        let before = ws.get_ref().output.len();
        if let Err(e) = ws.send(Message::binary(bytes.to_vec())) {
            // Only after our own Close: then the bytes have nowhere to go.
            debug!(
                "[{tuple}] tcp leg: {} not sent: {e}",
                plural(bytes.len(), "byte")
            );
            return;
        }
        let framed = ws.get_ref().output.len() - before;
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
        if matches!(self.phase, Phase::Open(_)) && !self.shut_target {
            info!("[{tuple}] tcp leg: the target sent FIN: closing the WebSocket with 1000");
            self.close_ws(CloseCode::Normal, "the target closed the connection");
        }
        self.shut_target = true;
        if self
            .target
            .as_ref()
            .is_some_and(|t| t.state == TargetState::FinSent)
        {
            self.close_target();
        }
    }

    /// Keeps the memory budget told what this connection holds.
    fn account(&mut self) {
        let input = match &self.phase {
            Phase::Open(ws) => ws.get_ref().input.len(),
            Phase::Request { head } => head.len(),
            Phase::Done => 0,
        };
        let holding = input + self.output().len() + self.to_target.len();
        if let Err(over) = self.held.set(holding) {
            warn!(
                "[{}] memory budget: {} wanted with {} held by all, over {}: closing with 1013",
                self.tuple, over.wanted, over.used, over.cap
            );
            self.to_target.clear();
            self.close_ws(CloseCode::Again, "server memory budget exceeded");
            self.finish_ws();
            let _ = self.held.set(0);
        }
    }

    /// Whether everything is over: WebSocket done and written, TCP leg closed.
    fn finished(&self) -> bool {
        matches!(self.phase, Phase::Done) && self.output().is_empty() && self.target.is_none()
    }
}

/// Bytes waiting for the client: the HTTP answer first, then frames.
fn output_of<'a>(phase: &'a Phase, answer: &'a [u8]) -> &'a [u8] {
    match phase {
        Phase::Open(ws) if answer.is_empty() => &ws.get_ref().output,
        _ => answer,
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
            // 1. What waits goes out first, on both legs.
            self.flush_client()?;
            self.flush_target()?;
            self.account();
            // A WebSocket over with no TCP leg left: done once the client has it all.
            if matches!(self.phase, Phase::Done) && self.target.is_none() {
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
            // 3. Client → target, unless the target's queue is full (backpressure).
            let client_open = !matches!(self.phase, Phase::Done);
            if client_open
                && self.to_target.len() < QUEUE_LIMIT
                && self.output().len() < QUEUE_LIMIT
            {
                match read_some(&mut self.client, turn.scratch)? {
                    None => {}
                    Some(0) => {
                        info!("[{}] ws leg: the client sent FIN", self.tuple);
                        if matches!(self.phase, Phase::Open(_)) {
                            info!(
                                "[{}] ws leg: FIN without a close frame: the client went away",
                                self.tuple
                            );
                        }
                        self.finish_ws();
                        moved = true;
                    }
                    Some(n) => {
                        let bytes = turn.scratch[..n].to_vec();
                        self.client_bytes(&bytes, turn)?;
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
            if readable && self.output().len() < QUEUE_LIMIT {
                let t = self.target.as_mut().map(|t| &mut t.stream);
                let got = match t {
                    Some(stream) => read_some(stream, turn.scratch),
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
                        if matches!(self.phase, Phase::Open(_)) && !self.shut_target {
                            self.target_bytes(&bytes);
                        } else {
                            debug!(
                                "[{}] tcp leg: {} after the WebSocket closed: dropped",
                                self.tuple,
                                plural(n, "byte")
                            );
                        }
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
        self.output().len() + self.to_target.len()
    }

    fn opening_deadline(&self) -> Option<Duration> {
        matches!(self.phase, Phase::Request { .. }).then_some(self.config.handshake_timeout)
    }

    fn expire(&mut self, why: Expiry) {
        match &self.phase {
            Phase::Request { .. } => {
                info!("[{}] 408 Request Timeout", self.tuple);
                let timeout = Rejection {
                    status: 408,
                    reason: "no complete request in time".into(),
                };
                self.answer = timeout.response();
                self.phase = Phase::Done;
            }
            Phase::Open(_) => {
                let reason = match why {
                    Expiry::Idle => "idle timeout",
                    Expiry::Stalled => "not reading: write stalled",
                };
                self.close_ws(CloseCode::Away, reason);
                self.finish_ws();
            }
            Phase::Done => {}
        }
        let _ = self.flush_client();
        self.close_target();
    }
}
