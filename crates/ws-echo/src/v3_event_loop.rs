//! ws-echo on tcp-echo's event loop: tungstenite over non-blocking mio streams.
//!
//! Read it after tcp-echo's `v3_event_loop`. The loop — accept, cap, deadlines,
//! backpressure, graceful close — is the same code; only the session differs.
//! tungstenite works on any `Read + Write`, including a non-blocking socket, and
//! tells us "not now" in two ways, each handled where it happens below:
//!
//! - during the handshake, `HandshakeError::Interrupted(mid)`: the HTTP request
//!   has not fully arrived. We keep the half-done handshake (`MidHandshake`) and
//!   resume it on the next readable event.
//! - after it, `Error::Io(WouldBlock)` from `read`, `write` or `flush`: no whole
//!   frame has arrived yet, or the socket's send buffer is full. Nothing is lost —
//!   tungstenite keeps partial frames in its read buffer and unsent bytes in its
//!   write buffer.
//!
//! Backpressure: while tungstenite's write buffer cannot be flushed, we do not read
//! another message. So one connection holds at most [`WRITE_BUFFER`] plus one
//! message of unsent echo.
//!
//! Memory: tungstenite allocates its read buffer eagerly, 128 KiB by default —
//! 1.3 GB for 10,000 idle connections. [`READ_BUFFER`] keeps it at 4 KiB; a larger
//! frame still works (the buffer grows for it), it just takes more reads.
//!
//! Where it simplifies: the idle deadline also bounds the handshake (a client
//! that never finishes its Upgrade request is idle, and closed).
//!
//! Run: `socklab serve ws --model event-loop`, then `websocat ws://127.0.0.1:8080/`.

use std::io;
use std::net::TcpListener;
use std::sync::Arc;

use lifecycle::{FourTuple, Shutdown};
use log::{debug, info, warn};
use mio::net::TcpStream;
use tungstenite::handshake::server::{NoCallback, ServerHandshake};
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Error, Message, WebSocket};

use tcp_echo::v3_event_loop::{LoopStats, Readiness, Session, Step, Tracked, serve_with};

use crate::Config;

/// tungstenite's read buffer per connection (its default is 128 KiB).
pub const READ_BUFFER: usize = 4 * 1024;

/// Encoded frames collect in tungstenite's write buffer up to this size before it
/// writes them out by itself; we also flush after every round of reads.
pub const WRITE_BUFFER: usize = 64 * 1024;

/// Serves WebSocket echo from one thread until `shutdown` fires.
pub fn serve(listener: TcpListener, shutdown: Shutdown, config: Config) -> io::Result<()> {
    let stats = Arc::new(LoopStats::default());
    serve_observed(listener, shutdown, config, stats)
}

/// [`serve`], with the loop's observations kept in `stats`.
pub fn serve_observed(
    listener: TcpListener,
    shutdown: Shutdown,
    config: Config,
    stats: Arc<LoopStats>,
) -> io::Result<()> {
    let ws_config = websocket_config(&config);
    serve_with(
        listener,
        shutdown,
        config.limits,
        stats,
        move |stream, tuple| WsSession::new(stream, tuple, ws_config),
    )
}

// ANCHOR: config
/// tungstenite's settings for one connection: small buffers, the size limit.
pub fn websocket_config(config: &Config) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        // Never the limit in practice: we stop reading long before (see above).
        .max_write_buffer_size(WRITE_BUFFER + config.max_message_size + 64)
        .max_message_size(Some(config.max_message_size))
        .max_frame_size(Some(config.max_message_size))
}
// ANCHOR_END: config

/// Where one connection is in the protocol.
enum Phase {
    /// Accepted; no byte of the HTTP request read yet.
    Fresh(Tracked),
    /// The HTTP request is partly read (or the 101 response partly written).
    Handshake(MidHandshake<ServerHandshake<Tracked, NoCallback>>),
    /// Upgraded: frames both ways.
    Open(WebSocket<Tracked>),
    /// Only while moving from one phase to the next.
    Moving,
}

/// One WebSocket connection as an event-loop session.
pub struct WsSession {
    phase: Phase,
    tuple: FourTuple,
    config: WebSocketConfig,
    /// The last write or flush said WouldBlock: read nothing more until the
    /// socket is writable again and the write buffer is out.
    write_blocked: bool,
    echoed: u64,
}

impl WsSession {
    /// A session for a freshly accepted connection.
    pub fn new(stream: TcpStream, tuple: FourTuple, config: WebSocketConfig) -> WsSession {
        WsSession {
            phase: Phase::Fresh(Tracked::new(stream)),
            tuple,
            config,
            write_blocked: false,
            echoed: 0,
        }
    }

    // ANCHOR: handshake
    /// Advances the handshake as far as the bytes that have arrived allow.
    fn handshake(&mut self) -> io::Result<Step> {
        let result = match std::mem::replace(&mut self.phase, Phase::Moving) {
            Phase::Fresh(stream) => tungstenite::accept_with_config(stream, Some(self.config)),
            Phase::Handshake(mid) => mid.handshake(),
            other => {
                self.phase = other;
                return Ok(Step::Waiting);
            }
        };
        match result {
            Ok(ws) => {
                info!("[{}] upgraded: 101 Switching Protocols sent", self.tuple);
                self.phase = Phase::Open(ws);
                Ok(Step::Active)
            }
            // Not the whole request yet (WouldBlock inside): keep what was read and
            // resume on the next readable event. This is not progress for the idle
            // clock, so the idle timeout is also the handshake's deadline.
            Err(HandshakeError::Interrupted(mid)) => {
                self.phase = Phase::Handshake(mid);
                Ok(Step::Waiting)
            }
            Err(HandshakeError::Failure(e)) => {
                warn!("[{}] handshake failed: {e}", self.tuple);
                Ok(Step::Done)
            }
        }
    }
    // ANCHOR_END: handshake
}

// ANCHOR: echo
impl Session for WsSession {
    fn ready(&mut self, ready: Readiness, _scratch: &mut [u8]) -> io::Result<Step> {
        match &mut self.phase {
            Phase::Fresh(s) => s.on_event(ready),
            Phase::Handshake(mid) => mid.get_mut().get_mut().on_event(ready),
            Phase::Open(ws) => ws.get_mut().on_event(ready),
            Phase::Moving => {}
        }
        if !matches!(self.phase, Phase::Open(_)) {
            match self.handshake()? {
                Step::Active => {} // upgraded: frames may already be waiting
                other => return Ok(other),
            }
        }
        let Phase::Open(ws) = &mut self.phase else {
            return Ok(Step::Waiting);
        };
        let before = self.echoed;
        if ready.writable || self.write_blocked {
            // Send what the write buffer holds; if all of it went, read again.
            match settle(ws.flush()) {
                Ok(blocked) => self.write_blocked = blocked,
                Err(end) => return end.into_step(self.tuple, self.echoed),
            }
        }
        // Read and echo until no whole message is left (WouldBlock), or the
        // socket stops taking our echo (backpressure: stop reading).
        while !self.write_blocked {
            let message = match ws.read() {
                Ok(m) => m,
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return End::from(e).into_step(self.tuple, self.echoed),
            };
            match message {
                Message::Text(_) | Message::Binary(_) => {
                    self.echoed += 1;
                    // Buffered; written out once the buffer passes WRITE_BUFFER.
                    match settle(ws.write(message)) {
                        Ok(blocked) => self.write_blocked = blocked,
                        Err(end) => return end.into_step(self.tuple, self.echoed),
                    }
                }
                // Pings are answered by tungstenite itself (a Pong is queued);
                // a Close is answered too, and the next read reports the end.
                other => debug!("[{}] {other:?}", self.tuple),
            }
        }
        // One write for everything this round produced.
        match settle(ws.flush()) {
            Ok(blocked) => self.write_blocked = blocked,
            Err(end) => return end.into_step(self.tuple, self.echoed),
        }
        Ok(if self.echoed != before {
            Step::Active
        } else {
            Step::Waiting
        })
    }

    fn stream(&self) -> Option<&TcpStream> {
        match &self.phase {
            Phase::Fresh(stream) => Some(stream.get_ref()),
            Phase::Handshake(mid) => Some(mid.get_ref().get_ref().get_ref()),
            Phase::Open(ws) => Some(ws.get_ref().get_ref()),
            Phase::Moving => None, // never seen outside `handshake`
        }
    }

    fn pending(&self) -> usize {
        0 // tungstenite's write buffer is private; it is bounded as explained above
    }
}
// ANCHOR_END: echo

/// How a WebSocket ended, or failed.
struct End(Error);

impl From<Error> for End {
    fn from(e: Error) -> End {
        End(e)
    }
}

impl End {
    /// The close handshake done (`ConnectionClosed`) is the normal end; so is a
    /// peer that vanished. Anything else (a protocol error, a message over the size
    /// limit) is logged as a failure. Either way the loop closes the TCP connection
    /// gracefully; a connection error never reaches the listener.
    fn into_step(self, tuple: FourTuple, echoed: u64) -> io::Result<Step> {
        match self.0 {
            Error::ConnectionClosed | Error::AlreadyClosed => {
                info!("[{tuple}] close handshake done after {echoed} messages");
                Ok(Step::Done)
            }
            Error::Io(e) => Err(e),
            e => {
                warn!("[{tuple}] websocket error: {e}");
                Ok(Step::Done)
            }
        }
    }
}

/// Turns tungstenite's WouldBlock into a plain answer: `Ok(true)` means "blocked,
/// the bytes wait in the write buffer for the next writable event".
fn settle(result: tungstenite::Result<()>) -> Result<bool, End> {
    match result {
        Ok(()) => Ok(false),
        Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(true),
        Err(e) => Err(End(e)),
    }
}
