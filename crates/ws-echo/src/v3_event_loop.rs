//! ws-echo on tcp-echo's event loop: the same upgrade check, tungstenite over
//! non-blocking mio streams.
//!
//! Read it after [`crate::handle`] and tcp-echo's `v3_event_loop`. The loop —
//! accept, cap, deadlines, graceful close — is tcp-echo's; only the session
//! differs. And the session makes the same decisions as the thread-per-connection
//! server, with the same pure functions: [`crate::upgrade::check_request`] for the
//! HTTP request, [`crate::close::close_frame_for`] for a broken peer, and
//! [`Config::websocket_config`] for tungstenite's limits. So both models answer
//! bad input byte for byte alike; what changes is only *how they wait*:
//!
//! - the request is read in whatever pieces arrive, and checked after each;
//!   `Decision::Incomplete` means "wait for the next readable event";
//! - a response the socket does not take at once is kept and finished on the
//!   next writable event;
//! - after the upgrade, `Error::Io(WouldBlock)` from tungstenite's `read`, `write`
//!   or `flush` means "not now": no whole frame yet, or the send buffer is full.
//!   Nothing is lost: tungstenite keeps partial frames in its read buffer and
//!   unsent bytes in its write buffer.
//!
//! Backpressure: while a write or flush says WouldBlock, we read no more
//! messages. A peer that does not read holds at most one message of unsent echo
//! here; the rest waits in the kernel, and TCP slows the peer down.
//!
//! Memory: an idle connection costs the loop's slot, this session and
//! tungstenite's read buffer ([`EVENT_LOOP_READ_BUFFER`], 2 KiB, not its 128 KiB
//! default). The size limits are the threaded server's, unchanged.
//!
//! Run: `socklab serve ws` (the event loop is the default), then open
//! <http://127.0.0.1:8080/> or `websocat ws://127.0.0.1:8080/`.

use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use lifecycle::{FourTuple, Shutdown};
use log::info;
use mio::net::TcpStream;
use tcp_echo::v3_event_loop::{
    LoopStats, Readiness, Session, Step, Tracked, default_loops, read_some, serve_with, write_some,
};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role};
use tungstenite::{Error, Message, WebSocket};

use crate::upgrade::{self, Decision, Rejection, check_request, page_response};
use crate::{Config, PAGE, close};

/// How much one `read()` takes while the HTTP request arrives.
const REQUEST_CHUNK: usize = 1024;

/// tungstenite's read buffer per connection in the event loop: 2 KiB, half the
/// threaded server's [`crate::READ_BUFFER`], because an event loop is for many
/// connections and this buffer is most of what an idle one costs. Any message
/// still fits (the buffer grows for a big frame); it just takes more `read()`s.
pub const EVENT_LOOP_READ_BUFFER: usize = 2 * 1024;

/// Serves WebSocket echo until `shutdown` fires, one event loop per CPU core.
pub fn serve(listener: TcpListener, shutdown: Shutdown, config: Config) -> io::Result<()> {
    let stats = Arc::new(LoopStats::default());
    serve_observed(listener, shutdown, config, stats, default_loops())
}

/// [`serve`] on `loops` event loops, with their observations kept in `stats`.
pub fn serve_observed(
    listener: TcpListener,
    shutdown: Shutdown,
    config: Config,
    stats: Arc<LoopStats>,
    loops: usize,
) -> io::Result<()> {
    let config = Arc::new(config);
    let limits = config.limits;
    serve_with(
        listener,
        shutdown,
        limits,
        stats,
        loops,
        move |stream, tuple| WsSession::new(stream, tuple, Arc::clone(&config)),
    )
}

/// Where one connection is in its life.
enum Phase {
    /// Reading the HTTP request; `head` holds what has arrived so far.
    Request { stream: Tracked, head: Vec<u8> },
    /// Writing our answer to it (101, the page, or an HTTP error).
    Answer {
        stream: Tracked,
        out: Vec<u8>,
        sent: usize,
        next: AfterAnswer,
    },
    /// Upgraded: frames both ways.
    Open(Box<WebSocket<Tracked>>),
    /// The page or an HTTP error was sent: the loop closes the connection.
    Answered(Tracked),
    /// Only inside [`WsSession::advance`], while one phase becomes the next.
    Moving,
}

/// What follows the answer.
enum AfterAnswer {
    /// 101 sent: speak WebSocket, starting with these bytes (a first frame the
    /// client sent without waiting for the 101).
    WebSocket(Vec<u8>),
    /// The page or an error was sent: close.
    Close,
}

/// One WebSocket connection as an event-loop session.
pub struct WsSession {
    phase: Phase,
    tuple: FourTuple,
    config: Arc<Config>,
    /// The last write or flush said WouldBlock: read no more messages until a
    /// writable event lets the write buffer out (backpressure).
    write_blocked: bool,
    echoed: u64,
}

impl WsSession {
    /// A session for a freshly accepted connection: its request comes next.
    pub fn new(stream: TcpStream, tuple: FourTuple, config: Arc<Config>) -> WsSession {
        WsSession {
            phase: Phase::Request {
                stream: Tracked::new(stream, tuple),
                head: Vec::new(),
            },
            tuple,
            config,
            write_blocked: false,
            echoed: 0,
        }
    }

    // ANCHOR: advance
    /// Moves through the opening phases as far as the socket allows. Returns
    /// `Some(step)` to stop here, `None` once the WebSocket is open.
    fn advance(&mut self) -> io::Result<Option<Step>> {
        loop {
            match std::mem::replace(&mut self.phase, Phase::Moving) {
                Phase::Request {
                    mut stream,
                    mut head,
                } => {
                    match read_request(&mut stream, &mut head, &self.config.allow_origins)? {
                        // Not all of it yet: wait for the next readable event. Not
                        // progress either: the handshake deadline keeps running.
                        None => {
                            self.phase = Phase::Request { stream, head };
                            return Ok(Some(Step::Waiting));
                        }
                        Some(decision) => {
                            let (out, next) = self.answer(decision, &head);
                            self.phase = Phase::Answer {
                                stream,
                                out,
                                sent: 0,
                                next,
                            };
                        }
                    }
                }
                Phase::Answer {
                    mut stream,
                    out,
                    mut sent,
                    next,
                } => {
                    // write(2) may take part of the answer; the rest waits for a
                    // writable event.
                    while sent < out.len() {
                        match write_some(&mut stream, &out[sent..])? {
                            Some(n) => sent += n,
                            None => {
                                self.phase = Phase::Answer {
                                    stream,
                                    out,
                                    sent,
                                    next,
                                };
                                return Ok(Some(Step::Waiting));
                            }
                        }
                    }
                    match next {
                        AfterAnswer::Close => {
                            self.phase = Phase::Answered(stream);
                            return Ok(Some(Step::Done));
                        }
                        AfterAnswer::WebSocket(leftover) => {
                            info!(
                                "[{}] 101 Switching Protocols: from here on, WebSocket frames",
                                self.tuple
                            );
                            // tungstenite takes over the same stream, with the bytes
                            // read past the request.
                            let ws = WebSocket::from_partially_read(
                                stream,
                                leftover,
                                Role::Server,
                                Some(
                                    self.config
                                        .websocket_config()
                                        .read_buffer_size(EVENT_LOOP_READ_BUFFER),
                                ),
                            );
                            self.phase = Phase::Open(Box::new(ws));
                            return Ok(None);
                        }
                    }
                }
                open @ Phase::Open(_) => {
                    self.phase = open;
                    return Ok(None);
                }
                answered @ Phase::Answered(_) => {
                    self.phase = answered;
                    return Ok(Some(Step::Done));
                }
                Phase::Moving => return Ok(Some(Step::Done)),
            }
        }
    }
    // ANCHOR_END: advance

    /// The bytes to send for a decision, logged as the threaded server logs them.
    fn answer(&self, decision: Decision, head: &[u8]) -> (Vec<u8>, AfterAnswer) {
        let tuple = self.tuple;
        match decision {
            Decision::Upgrade(up) => {
                crate::narrate_upgrade(tuple, &up);
                let leftover = head[up.head_len..].to_vec();
                (up.response(), AfterAnswer::WebSocket(leftover))
            }
            Decision::Page => {
                info!("[{tuple}] GET / without Upgrade: serving the browser page");
                (page_response(PAGE), AfterAnswer::Close)
            }
            Decision::Reject(r) => {
                let phrase = upgrade::reason_phrase(r.status);
                info!("[{tuple}] {} {phrase}: {}", r.status, r.reason);
                (r.response(), AfterAnswer::Close)
            }
            // read_request returns only complete decisions.
            Decision::Incomplete => (Vec::new(), AfterAnswer::Close),
        }
    }

    // ANCHOR: echo
    /// Reads and echoes messages until no whole message is left (WouldBlock), or
    /// the socket stops taking our echo (backpressure: stop reading).
    fn echo(&mut self, ready: Readiness) -> Step {
        let before = self.echoed;
        match self.echo_round(ready) {
            Ok(()) if self.echoed != before => Step::Active,
            Ok(()) => Step::Waiting,
            Err(e) => self.fail(e),
        }
    }

    fn echo_round(&mut self, ready: Readiness) -> tungstenite::Result<()> {
        let Phase::Open(ws) = &mut self.phase else {
            return Ok(());
        };
        if ready.writable && self.write_blocked {
            // Room again: send what the write buffer holds, then read again.
            self.write_blocked = settle(ws.flush())?;
        }
        while !self.write_blocked {
            let message = match ws.read() {
                Ok(message) => message,
                // No whole frame has arrived: wait for the next readable event.
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            };
            // Pings and Closes need no code here: tungstenite queued the Pong or
            // the Close reply (flushed below), and after a Close the next read
            // reports ConnectionClosed.
            match message {
                Message::Text(_) | Message::Binary(_) => {
                    self.echoed += 1;
                    self.write_blocked = settle(ws.write(message))?;
                }
                Message::Close(Some(f)) => info!(
                    "[{}] close frame received: {} {:?}",
                    self.tuple,
                    u16::from(f.code),
                    f.reason.as_str()
                ),
                Message::Close(None) => {
                    info!("[{}] close frame received, without a code", self.tuple);
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        }
        // Everything this round produced goes out now (or on a writable event).
        self.write_blocked = settle(ws.flush())?;
        Ok(())
    }
    // ANCHOR_END: echo

    // ANCHOR: fail
    /// Ends the WebSocket after `e`, as the threaded server does: the close
    /// handshake done is the normal end; a peer that broke the protocol gets the
    /// close code [`close::close_frame_for`] picks; a vanished peer gets nothing.
    /// Then the loop closes TCP gracefully.
    fn fail(&mut self, e: Error) -> Step {
        let tuple = self.tuple;
        let frame = close::ending(tuple, &e);
        if let (Some(frame), Phase::Open(ws)) = (frame, &mut self.phase) {
            // Best effort, without blocking: a Close frame is small and nearly
            // always fits in the send buffer.
            let _ = ws.close(Some(frame));
            let _ = ws.flush();
        }
        Step::Done
    }
    // ANCHOR_END: fail
}

impl Session for WsSession {
    fn ready(&mut self, ready: Readiness, _scratch: &mut [u8]) -> io::Result<Step> {
        match &mut self.phase {
            Phase::Request { stream, .. }
            | Phase::Answer { stream, .. }
            | Phase::Answered(stream) => stream.on_event(ready),
            Phase::Open(ws) => ws.get_mut().on_event(ready),
            Phase::Moving => {}
        }
        let opened_now = !matches!(self.phase, Phase::Open(_));
        if let Some(step) = self.advance()? {
            return Ok(step);
        }
        let step = self.echo(ready);
        // Upgrading is progress: from now on the idle timeout applies.
        Ok(if opened_now && step == Step::Waiting {
            Step::Active
        } else {
            step
        })
    }

    fn stream(&self) -> Option<&TcpStream> {
        match &self.phase {
            Phase::Request { stream, .. }
            | Phase::Answer { stream, .. }
            | Phase::Answered(stream) => Some(stream.get_ref()),
            Phase::Open(ws) => Some(ws.get_ref().get_ref()),
            Phase::Moving => None,
        }
    }

    fn pending(&self) -> usize {
        match &self.phase {
            Phase::Answer { out, sent, .. } => out.len() - sent,
            _ => 0, // tungstenite's write buffer is private; bounded as said above
        }
    }

    /// Until upgraded, the handshake deadline; then the idle timeout.
    fn timeout(&self, idle: Option<Duration>) -> Option<Duration> {
        match self.phase {
            Phase::Request { .. } | Phase::Answer { .. } => Some(self.config.handshake_timeout),
            _ => idle,
        }
    }

    fn expire(&mut self) {
        let tuple = self.tuple;
        match &mut self.phase {
            Phase::Request { stream, .. } => {
                let timeout = Rejection {
                    status: 408,
                    reason: format!(
                        "no complete request within {:?}",
                        self.config.handshake_timeout
                    ),
                };
                info!("[{tuple}] 408 Request Timeout: {}", timeout.reason);
                // Best effort: a client that sends nothing may not read either.
                let _ = write_some(stream, &timeout.response());
            }
            Phase::Open(ws) => {
                info!("[{tuple}] idle (--idle-timeout): closing with 1001");
                let _ = ws.close(Some(CloseFrame {
                    code: CloseCode::Away,
                    reason: "idle timeout".into(),
                }));
                let _ = ws.flush();
            }
            Phase::Answer { .. } | Phase::Answered(_) | Phase::Moving => {}
        }
    }
}

// ANCHOR: read_request
/// Reads what has arrived of the HTTP request and checks it after each read.
/// `Ok(None)`: incomplete, and the socket has nothing more now (WouldBlock).
fn read_request(
    stream: &mut Tracked,
    head: &mut Vec<u8>,
    allow_origins: &[String],
) -> io::Result<Option<Decision>> {
    let mut chunk = [0u8; REQUEST_CHUNK];
    loop {
        match read_some(stream, &mut chunk)? {
            None => return Ok(None),
            Some(0) => {
                // A browser may open a spare connection ahead of time and close it.
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("FIN after {} bytes, before the request ended", head.len()),
                ));
            }
            Some(n) => head.extend_from_slice(&chunk[..n]),
        }
        // check_request answers 431 once MAX_HEAD bytes are in without the blank
        // line, so `head` never grows past MAX_HEAD + REQUEST_CHUNK.
        match check_request(head, allow_origins) {
            Decision::Incomplete => continue,
            decision => return Ok(Some(decision)),
        }
    }
}
// ANCHOR_END: read_request

/// Turns tungstenite's WouldBlock into a plain answer: `Ok(true)` means "blocked:
/// the bytes wait in tungstenite's write buffer for the next writable event".
fn settle(result: tungstenite::Result<()>) -> Result<bool, Error> {
    match result {
        Ok(()) => Ok(false),
        Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(true),
        Err(e) => Err(e),
    }
}
