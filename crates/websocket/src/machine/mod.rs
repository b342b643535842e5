//! One WebSocket connection as a state machine with no I/O and no clock: bytes
//! in, bytes out, every decision made here once, for every program and both
//! server models.
//!
//! A server model only moves bytes: the thread per connection with blocking
//! `read()`/`write()` ([`crate::blocking`]), the event loop with non-blocking
//! ones ([`crate::session`]). A program only says what a message means (its
//! [`Handler`]). Everything else — is the request a valid Upgrade, what to
//! answer, when a message is complete, which close code a broken peer gets,
//! what to say at a deadline (408 before the Upgrade, 1001 after), when memory
//! is too tight (1013) — is decided here, with the log line that says so. That
//! is the spirit of tungstenite's own `HandshakeMachine`: the protocol is a
//! pure function of the bytes seen. The clocks stay in serve's engine: the
//! machine says whether it is open ([`Machine::is_open`]: which deadline
//! applies) and how much it holds for the peer; the driver says when a
//! deadline passed ([`Machine::expire`]).
//!
//! How a driver uses it:
//!
//! ```text
//! loop {
//!     write machine.output() to the socket, then machine.sent(n)
//!     if machine.is_done() and nothing is left to write: close TCP
//!     if machine.wants_input(): read from the socket, machine.receive(bytes)
//!     a deadline passed: machine.expire(why)
//! }
//! ```
//!
//! After the Upgrade, tungstenite does the framing over [`crate::Buffers`], an in-memory
//! stream: its reads take what [`Machine::receive`] put in (and say WouldBlock
//! when that is used up: "no whole frame yet"), its writes land in our output
//! queue. So we know exactly how many bytes we hold for the peer — echoes, Pongs,
//! Close replies, a program's own messages ([`Machine::send`]) alike — and stop
//! reading past [`QUEUE_LIMIT`]: a peer that floods Pings and never reads its
//! Pongs holds at most that much here.

mod budget;
mod compressed;
mod conn;
#[cfg(test)]
mod deflate_tests;
mod ending;
mod frames;
#[cfg(test)]
mod tests;

use std::io;
use std::sync::Arc;

use lifecycle::FourTuple;
use log::info;
use serve::limits::Held;
use serve::v3_event_loop::QUEUE_LIMIT;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Error, Message};

use self::compressed::{Compressed, Fault};
use self::conn::Conn;
use self::frames::Frames;
use crate::handler::{Handler, Settings};
use crate::upgrade::{self, Decision, Upgrade, check_request, page_response};

/// Where one connection is in its life.
enum Phase {
    /// Reading the HTTP request; `head` holds what has arrived so far.
    Request { head: Vec<u8> },
    /// Upgraded: frames both ways, through tungstenite (started at the first
    /// byte from the peer: frames.rs) or, compressed, our own assembly over
    /// its frame headers (compressed.rs).
    Open(Box<Conn>),
    /// Nothing more to read: once the output is written, TCP is closed.
    Done,
}

/// A drained queue bigger than this is freed rather than kept (64 KiB).
const KEEP_CAPACITY: usize = 64 * 1024;

/// One WebSocket connection's protocol, from the first byte of its request to
/// the last byte of its Close frame; `H` says what its messages mean.
pub struct Machine<H> {
    phase: Phase,
    tuple: FourTuple,
    settings: Arc<Settings>,
    handler: H,
    /// Bytes for the peer before the Upgrade (the 101, the page, an HTTP error).
    /// After it, tungstenite writes into its [`Buffers`]' output instead.
    answer: Vec<u8>,
    /// Bytes received since the last whole message came out of tungstenite:
    /// what it holds of a message still arriving.
    arriving: usize,
    /// This connection's share of the server's memory budget.
    held: Held,
    /// The largest message received so far: tungstenite keeps room that size.
    in_peak: usize,
    /// Data messages received.
    received: u64,
    /// The most bytes ever queued for the peer at once.
    peak_output: usize,
    /// The peer's FIN has been read (and narrated).
    peer_fin: bool,
}

impl<H: Handler> Machine<H> {
    /// A machine for a freshly accepted connection on a port that is all
    /// WebSocket (ws-echo, the bridge): its HTTP request comes next.
    pub fn new(tuple: FourTuple, settings: Arc<Settings>, held: Held, handler: H) -> Machine<H> {
        Machine {
            phase: Phase::Request { head: Vec::new() },
            tuple,
            settings,
            handler,
            answer: Vec::new(),
            arriving: 0,
            in_peak: 0,
            held,
            received: 0,
            peak_output: 0,
            peer_fin: false,
        }
    }

    /// A machine for a connection whose request a server read itself and
    /// [`crate::check_upgrade`] accepted (push, chat): the 101 is queued, and
    /// `rest` (bytes that came after the head: a first frame) is taken.
    pub fn upgraded(
        tuple: FourTuple,
        settings: Arc<Settings>,
        held: Held,
        handler: H,
        up: &Upgrade,
        rest: &[u8],
    ) -> Machine<H> {
        let mut machine = Machine::new(tuple, settings, held, handler);
        machine.open(up, rest);
        machine.account();
        machine
    }

    /// The program's handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The program's handler, to take what it kept (lines, events, bytes).
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// Data messages received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The most bytes ever queued for the peer at once: at most about
    /// [`QUEUE_LIMIT`] plus one message, whatever the peer does.
    pub fn peak_output(&self) -> usize {
        self.peak_output
    }

    /// The program sends a message of its own (a push event, a chat line, the
    /// bridge target's bytes): framed into the same output queue, counted
    /// against the same bound and the same memory budget. False if the
    /// WebSocket is not open (before the 101, or after a Close), or if the
    /// message would pass the memory budget (then the peer gets 1013): then it
    /// is dropped.
    pub fn send(&mut self, message: Message) -> bool {
        if !self.is_open() {
            return false;
        }
        // Charged before it is framed, like an answer. Past the budget: 1013,
        // and the message is dropped, never framed.
        if !self.charge(self.answer_room(message.len())) {
            return false;
        }
        if let Phase::Open(ws) = &mut self.phase {
            ws.outbox().send(message);
        }
        self.account();
        true
    }

    /// The program ends the WebSocket: a Close frame with `code` and `reason`
    /// (cut to [`crate::close::MAX_REASON`] bytes) goes out last; nothing more is read.
    pub fn close(&mut self, code: CloseCode, reason: &str) {
        self.close_with(code, reason);
    }

    /// The program can take messages again ([`Handler::accepting`]): whole
    /// messages already received are handed over now.
    pub fn resume(&mut self) {
        self.messages();
        self.account();
    }

    /// The bytes waiting to be written to the peer, oldest first.
    pub fn output(&self) -> &[u8] {
        match &self.phase {
            Phase::Open(ws) if self.answer.is_empty() => &ws.get_ref().output,
            _ => &self.answer,
        }
    }

    /// All the bytes queued for the peer: the 101 still going out and the
    /// frames behind it ([`Machine::output`] shows only the first of them).
    /// What a program bounds its own sends by: messages sent right after
    /// the upgrade sit behind the 101 (the classroom's snapshot of rows).
    pub fn queued(&self) -> usize {
        let frames = match &self.phase {
            Phase::Open(ws) => ws.get_ref().output.len(),
            _ => 0,
        };
        self.answer.len() + frames
    }

    /// The driver wrote the first `n` bytes of [`Machine::output`].
    pub fn sent(&mut self, n: usize) {
        let was_full = self.output().len() >= QUEUE_LIMIT;
        match &mut self.phase {
            Phase::Open(ws) if self.answer.is_empty() => {
                let output = &mut ws.get_mut().output;
                output.drain(..n);
                // A big echo is out: give its room back rather than keep it.
                if output.is_empty() && output.capacity() > KEEP_CAPACITY {
                    *output = Vec::new();
                }
            }
            _ => {
                self.answer.drain(..n);
                if self.answer.is_empty() && self.answer.capacity() > KEEP_CAPACITY {
                    self.answer = Vec::new();
                }
            }
        }
        // Below the bound again: frames that waited in the input go on now,
        // rather than wait for the peer to send more.
        if was_full && self.output().len() < QUEUE_LIMIT {
            self.messages();
        }
        self.account();
    }

    /// Whether the driver should read more from the peer now: not once the
    /// machine is done, and not while too much waits for the peer
    /// (backpressure: the peer must read before it may send more).
    pub fn wants_input(&self) -> bool {
        !self.is_done() && self.output().len() < QUEUE_LIMIT && self.handler.accepting()
    }

    /// Whether the protocol is over: once [`Machine::output`] is written, close TCP.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// Whether the peer's FIN has been read (and said in the log): the loop's
    /// close then needs no drain, and does not say it a second time.
    pub fn peer_fin(&self) -> bool {
        self.peer_fin
    }

    /// Whether the Upgrade is done (then the idle timeout applies, not the
    /// handshake's).
    pub fn is_open(&self) -> bool {
        matches!(self.phase, Phase::Open(_))
    }

    // ANCHOR: receive
    /// Bytes arrived from the peer: take them, and do everything they allow —
    /// answer the request, echo whole messages, answer Pings and Closes.
    pub fn receive(&mut self, bytes: &[u8]) {
        match &mut self.phase {
            Phase::Request { head } => {
                head.extend_from_slice(bytes);
                // check_request answers 431 once MAX_HEAD bytes are in without the
                // blank line, so `head` never grows much past MAX_HEAD.
                match check_request(head, &self.settings.origins) {
                    Decision::Incomplete => {}
                    decision => {
                        let head = std::mem::take(head);
                        self.decide(decision, &head);
                    }
                }
            }
            Phase::Open(_) => {
                // Charged before they are taken: what these bytes may cost in
                // tungstenite's buffers. Past the budget they are not read in.
                self.arriving += bytes.len();
                if !self.charge(0) {
                    return;
                }
                if let Phase::Open(ws) = &mut self.phase {
                    ws.get_mut().input.extend(bytes);
                }
                self.messages();
            }
            Phase::Done => {} // after the close: ignored, as RFC 6455 §1.4 allows
        }
        self.account();
    }
    // ANCHOR_END: receive

    // ANCHOR: decide
    /// Answers a complete request: the 101 (and from here on, frames), the page,
    /// or an HTTP error with its reason.
    fn decide(&mut self, decision: Decision, head: &[u8]) {
        let tuple = self.tuple;
        match decision {
            Decision::Upgrade(up) => self.open(&up, &head[up.head_len..]),
            Decision::Page => {
                info!("[{tuple}] GET / without Upgrade: serving the browser page");
                self.answer
                    .extend_from_slice(&page_response(self.settings.page));
                self.phase = Phase::Done;
            }
            Decision::Reject(r) => {
                info!(
                    "[{tuple}] {} {}: {}",
                    r.status,
                    upgrade::reason_phrase(r.status),
                    r.reason
                );
                self.answer.extend_from_slice(&r.response());
                self.phase = Phase::Done;
            }
            // `receive` decides only on complete requests.
            Decision::Incomplete => {}
        }
    }
    // ANCHOR_END: decide

    /// The 101, and from here on frames: tungstenite takes over, with the bytes
    /// that came after the head (a first frame sent without waiting for the
    /// 101): not lost.
    fn open(&mut self, up: &Upgrade, rest: &[u8]) {
        let tuple = self.tuple;
        narrate_upgrade(tuple, up);
        let mut up = up.clone();
        up.choose_protocol(self.settings.protocols);
        if let Some(p) = &up.protocol {
            info!(
                "[{tuple}] Sec-WebSocket-Protocol: {p} (offered: {})",
                up.offered.join(", ")
            );
        }
        up.deflate = self.agree_deflate(&up);
        self.answer.extend_from_slice(&up.response());
        info!("[{tuple}] 101 Switching Protocols: from here on, WebSocket frames");
        self.arriving = rest.len();
        let conn = match &up.deflate {
            Some(agreement) => {
                let mut buffers = crate::Buffers::default();
                buffers.input.extend(rest);
                Conn::Deflate(Box::new(Compressed::new(
                    buffers,
                    agreement,
                    self.settings.max_message_size,
                )))
            }
            None => {
                // Nothing allocated for the frames yet: tungstenite and its read
                // buffer start with the first byte that needs them (frames.rs).
                let mut frames = Frames::new(self.settings.websocket_config());
                frames.get_mut().input.extend(rest);
                Conn::Plain(frames)
            }
        };
        self.phase = Phase::Open(Box::new(conn));
        self.messages();
    }

    // ANCHOR: messages
    /// Takes every whole message tungstenite can make of the input, and echoes
    /// the data ones — until the input is used up, or the output queue is over
    /// [`QUEUE_LIMIT`] (then the rest waits: backpressure).
    fn messages(&mut self) {
        let tuple = self.tuple;
        loop {
            let Phase::Open(ws) = &mut self.phase else {
                return;
            };
            if ws.get_ref().output.len() >= QUEUE_LIMIT || !self.handler.accepting() {
                break;
            }
            let compressed = matches!(**ws, Conn::Deflate(_));
            let message = match ws.read() {
                Ok(message) => message,
                // No whole frame in the input yet: wait for more bytes.
                Err(Fault::Ws(Error::Io(e))) if e.kind() == io::ErrorKind::WouldBlock => break,
                // Both Close frames exchanged: the normal end.
                Err(Fault::Ws(Error::ConnectionClosed)) => {
                    info!("[{tuple}] close handshake done");
                    return self.finish();
                }
                Err(Fault::Ws(e)) => return self.fail(e),
                Err(Fault::Deflate(e)) => return self.fail_inflate(e),
            };
            // Pings and Closes need no code here: tungstenite queued the Pong or
            // the Close reply, and writes it on its next read or flush.
            match message {
                Message::Text(_) | Message::Binary(_) => {
                    // The message left tungstenite's read buffers: what it kept
                    // of them (their capacity) stays counted in `in_peak`.
                    self.in_peak = self.in_peak.max(self.arriving);
                    self.arriving = 0;
                    // The program's answer (an echo: the message framed again)
                    // is charged before it is made: payload and answer are
                    // both in memory for a moment. An inflated message is a
                    // buffer of its own (the input held only its compressed
                    // bytes): counted too, though only once it exists — its
                    // size is not known before, and --max-message-size caps it.
                    let inflated = if compressed { message.len() } else { 0 };
                    if !self.charge(self.answer_room(message.len()) + inflated) {
                        return;
                    }
                    self.received += 1;
                    // The program's turn: what it answers goes into our queue.
                    if let Phase::Open(ws) = &mut self.phase {
                        self.handler.message(message, &mut ws.outbox());
                    }
                }
                Message::Ping(ref p) | Message::Pong(ref p) => {
                    self.arriving = self.arriving.saturating_sub(p.len() + 6);
                }
                Message::Close(Some(f)) => info!(
                    "[{tuple}] close frame received: {} {:?}",
                    u16::from(f.code),
                    f.reason.as_str()
                ),
                Message::Close(None) => {
                    info!("[{tuple}] close frame received, without a code");
                }
                Message::Frame(_) => {}
            }
        }
        // A Pong or Close reply tungstenite queued goes into our output now.
        if let Phase::Open(ws) = &mut self.phase
            && let Err(e) = ws.flush()
        {
            self.fail(e);
        }
    }

    // ANCHOR_END: messages
}

/// Logs what an accepted Upgrade carried: the request line, the client's Key and
/// the Accept computed from it. Every server narrates the handshake this way.
fn narrate_upgrade(tuple: FourTuple, up: &Upgrade) {
    info!("[{tuple}] {}", up.request_line);
    info!("[{tuple}] Sec-WebSocket-Key: {}", up.key);
    info!(
        "[{tuple}] Sec-WebSocket-Accept: {} (base64 of SHA-1 of the key + 258EAFA5-E914-47DA-95CA-C5AB0DC85B11)",
        up.accept
    );
}
