//! What the loop asks of a connection's protocol, and the tools a protocol uses.
//!
//! The loop knows sockets and readiness, not protocols. Each connection is a
//! [`Session`]: the loop calls [`Session::ready`] when epoll says the socket is
//! ready and reads the answer, a [`Step`]. tcp-echo's `Echo` and ws-echo's
//! WebSocket session are both sessions, so both run on the same loop.
//!
//! A blocking `read()` either returns bytes or sleeps; a non-blocking one may also
//! say WouldBlock ("nothing now"). [`read_some`] and [`write_some`] turn that into
//! a plain `None`, and [`Tracked`] saves the extra `read(2)` that only says
//! WouldBlock. They live here because every session needs them.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use lifecycle::FourTuple;
use lifecycle::narrate::plural;
use lifecycle::state::state_of;
use lifecycle::tcp::Escaped;
use log::{debug, info};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::mailbox::{ConnId, Mail, Mailbox};

/// Which of a session's sockets an event is about.
///
/// Most sessions own one socket, the accepted one ([`Leg::Peer`]). A bridge
/// also owns a socket it connected itself, to the server it relays to
/// ([`Leg::Outbound`], registered with [`Turn::register_outbound`]); the loop
/// hands that socket's readiness to the same session, marked with this leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leg {
    /// The accepted connection: the client.
    Peer,
    /// The connection the session opened itself (a bridge's target).
    Outbound,
}

impl Leg {
    /// The index of this leg in per-leg tables (0: peer, 1: outbound).
    pub(crate) fn index(self) -> usize {
        match self {
            Leg::Peer => 0,
            Leg::Outbound => 1,
        }
    }
}

/// Readiness, as one event reported it.
#[derive(Debug, Clone, Copy)]
pub struct Readiness {
    /// The socket has bytes (or a FIN, or an error) to read.
    pub readable: bool,
    /// The socket's send buffer has room again.
    pub writable: bool,
    /// The peer's FIN (or an error) has arrived: reads will end soon.
    pub read_closed: bool,
    /// Which socket this is about: the accepted one, or the session's outbound one.
    pub leg: Leg,
}

impl Readiness {
    /// What a connection served again from the still-ready list is told: it may
    /// have more to read, and may have room to write. At worst a read or a
    /// write says WouldBlock once more — a spurious wake-up, which is expected.
    pub const AGAIN: Readiness = Readiness {
        readable: true,
        writable: true,
        read_closed: false,
        leg: Leg::Peer,
    };
}

/// What a session wants after it was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Still open: wait for the next readiness event (the socket said WouldBlock,
    /// or the session stopped reading on purpose: backpressure).
    Wait,
    /// The session spent its [`Turn`] budget with bytes still waiting: serve it
    /// again on the next turn, after everyone else ready now (fairness).
    Yield,
    /// The protocol is finished: the loop sends FIN, drains, and closes.
    Done,
}

/// Bytes a session has moved, counted from its start: the loop's clocks.
///
/// A byte read restarts the idle clock (the peer is alive, whatever it sent: a
/// Ping, half a frame). A byte written restarts the write-stall clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bytes read from the socket.
    pub read: u64,
    /// Bytes written to the socket.
    pub written: u64,
}

/// Why a session's deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// No byte from the peer for the idle timeout, or the protocol was not open
    /// by its [`Session::opening_deadline`] (a handshake that never finished).
    Idle,
    /// Output queued for the peer and none of it taken for the write-stall timeout.
    Stalled,
}

/// What one serving of a session may use: the loop's shared read buffer, its
/// byte budget, and the mailbox.
pub struct Turn<'a> {
    /// A read buffer shared by every connection of the loop.
    pub scratch: &'a mut [u8],
    /// Bytes this session may read in this turn ([`super::TURN_BUDGET`]): past it, it
    /// returns [`Step::Yield`] and lets the others be served.
    pub budget: u64,
    /// Where to post messages for other connections (1:N servers).
    pub mailbox: &'a Mailbox,
    /// This connection's address in the mailbox.
    pub me: ConnId,
    /// Where an outbound socket is registered ([`Turn::register_outbound`]).
    pub(super) outbound: Outbound<'a>,
}

/// The loop's side of [`Turn::register_outbound`]: its epoll instance, its
/// token counter, and this session's outbound token, if it has one yet.
pub(super) struct Outbound<'a> {
    pub(super) registry: &'a Registry,
    pub(super) next_token: &'a mut usize,
    pub(super) token: &'a mut Option<Token>,
}

impl Turn<'_> {
    // ANCHOR: register_outbound
    /// Registers a socket this session opened itself — a bridge's connection to
    /// its target — with this loop's epoll (`epoll_ctl(2)` EPOLL_CTL_ADD, both
    /// directions, edge-triggered, like an accepted one). From then on its
    /// readiness comes to this session's [`Session::ready`] with
    /// [`Leg::Outbound`], under a token of its own that the loop maps back to
    /// this connection. The socket stays the session's: dropping it closes it
    /// (and the kernel removes a closed fd from epoll by itself).
    ///
    /// One outbound socket per session; a second is refused (`AlreadyExists`).
    /// Its bytes do not count towards the loop's clocks by themselves: the
    /// session's [`Session::progress`] and [`Session::pending`] say what counts.
    pub fn register_outbound(&mut self, stream: &mut TcpStream) -> io::Result<()> {
        let out = &mut self.outbound;
        if out.token.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "this session already has an outbound socket",
            ));
        }
        let token = Token(*out.next_token);
        *out.next_token += 1;
        out.registry
            .register(stream, token, Interest::READABLE | Interest::WRITABLE)?;
        *out.token = Some(token);
        Ok(())
    }
    // ANCHOR_END: register_outbound
}

/// One connection's protocol, driven by the event loop.
pub trait Session {
    /// Serves a readiness event of one of its sockets ([`Readiness::leg`]: the
    /// accepted one, or the one it registered with [`Turn::register_outbound`];
    /// a session served again from the still-ready list is called once per leg,
    /// each with [`Readiness::AGAIN`]'s flags). It must go on until the socket says `WouldBlock`
    /// (the same readiness is not reported twice), unless it stops on purpose:
    /// its queue to the peer is full (backpressure: [`Step::Wait`], a writable
    /// event brings it back) or it read `turn.budget` bytes ([`Step::Yield`]).
    fn ready(&mut self, ready: Readiness, turn: &mut Turn<'_>) -> io::Result<Step>;
    /// The socket, for `shutdown(2)` and the final drain (`None`: no socket any
    /// more; the loop just forgets the connection).
    fn stream(&self) -> Option<&TcpStream>;
    /// Bytes moved so far (see [`Progress`]).
    fn progress(&self) -> Progress;
    /// Bytes this session holds queued for the peer, not yet written.
    fn pending(&self) -> usize;
    /// How long this session may go without a byte from the peer: the loop's
    /// idle timeout (`idle`) unless the protocol knows better — a client
    /// listening to an event stream legitimately sends nothing (`None`); the
    /// write-stall clock still guards it.
    fn idle_timeout(&self, idle: Option<Duration>) -> Option<Duration> {
        idle
    }
    /// A time the session wants to be woken at even if its socket stays quiet
    /// (a long poll held until an event or its hold time). The loop calls
    /// [`Session::alarm`] then.
    fn alarm_at(&self) -> Option<Instant> {
        None
    }
    /// Its [`Session::alarm_at`] time has come.
    fn alarm(&mut self) -> io::Result<Step> {
        Ok(Step::Wait)
    }
    /// While the protocol is still opening (an HTTP request being read, a TLS
    /// handshake), how long after accept it must be open. Counted from accept,
    /// not from the last byte: a client sending one byte a second must not hold
    /// a connection forever by never finishing its request. `None`: no such limit
    /// (any more).
    fn opening_deadline(&self) -> Option<Duration> {
        None
    }
    /// The deadline passed: last words to the peer, if any, written without
    /// blocking (an HTTP 408, a Close frame). The loop then closes gracefully.
    fn expire(&mut self, _why: Expiry) {}
    /// Whether this session has already read the peer's FIN. Then the final drain
    /// is not needed: nothing more can arrive to turn our close into a reset.
    fn read_closed(&self) -> bool {
        false
    }
    /// A message another connection (or a thread outside the loops) posted to
    /// this one. Echo servers get none; a chat member writes it to its peer.
    fn deliver(&mut self, _mail: &Mail) -> io::Result<Step> {
        Ok(Step::Wait)
    }
}

// ANCHOR: helpers
/// One `read(2)` on a non-blocking socket, its two expected errors made plain:
/// `Ok(None)` means WouldBlock — nothing more to read now, wait for the next event;
/// EINTR (a signal interrupted the call, nothing was lost) is retried.
/// `Ok(Some(0))` is still the peer's FIN.
pub fn read_some(stream: &mut impl Read, buf: &mut [u8]) -> io::Result<Option<usize>> {
    loop {
        match stream.read(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// One `write(2)` on a non-blocking socket: `Ok(Some(n))` may be fewer bytes than
/// offered (the send buffer had room for only n); `Ok(None)` means WouldBlock —
/// no room at all until the next writable event.
pub fn write_some(stream: &mut impl Write, buf: &[u8]) -> io::Result<Option<usize>> {
    loop {
        match stream.write(buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}
// ANCHOR_END: helpers

// ANCHOR: tracked
/// A non-blocking stream that remembers whether it may have bytes to read.
///
/// "Read until WouldBlock" costs one extra `read(2)` per event, the one that
/// answers WouldBlock. A short read (fewer bytes than the buffer holds) already
/// says the socket was empty at that moment, and with epoll's edge-triggered mode
/// any byte arriving later raises a new readable event. So after a short read this
/// wrapper answers WouldBlock itself, without a system call, until the next
/// readable event ([`Tracked::on_event`]). tokio tracks readiness the same way.
/// An event loop that forgets to re-arm on the event would never read again: the
/// flag is set back on every readable event, first thing.
///
/// One catch: a FIN that arrived together with the last bytes raises no new event,
/// and a short read does not consume it. So once an event reports the read side
/// closed (EPOLLRDHUP) or an error, we always really read, until the `0` comes.
///
/// It also narrates, like `lifecycle::tcp::Connection`: every `read(2)` and
/// `write(2)` at `info` (`RUST_LOG=info`), a WouldBlock at `debug`.
#[derive(Debug)]
pub struct Tracked {
    stream: TcpStream,
    tuple: FourTuple,
    fd: i32,
    maybe_readable: bool,
    read_closed: bool,
    write_blocked: bool,
    progress: Progress,
    /// When the last read that returned bytes returned, if this loop's work is
    /// timed ([`super::work`]); taken by the next write that returns bytes.
    read_returned: Option<Instant>,
}

impl Tracked {
    /// Wraps a freshly accepted stream (which may have bytes already).
    pub fn new(stream: TcpStream, tuple: FourTuple) -> Tracked {
        let fd = stream.as_raw_fd();
        Tracked {
            stream,
            tuple,
            fd,
            maybe_readable: true,
            read_closed: false,
            write_blocked: false,
            progress: Progress::default(),
            read_returned: None,
        }
    }

    /// Takes note of a readiness event.
    pub fn on_event(&mut self, ready: Readiness) {
        if ready.readable {
            self.maybe_readable = true;
        }
        if ready.read_closed {
            self.read_closed = true;
        }
        if ready.writable {
            self.write_blocked = false;
        }
    }

    /// Whether the last `write(2)` said WouldBlock and no writable event came
    /// since: the send buffer is full, so queue no more — stop reading
    /// (backpressure) until the peer takes what is queued.
    pub fn write_blocked(&self) -> bool {
        self.write_blocked
    }

    /// Bytes read and written so far.
    pub fn progress(&self) -> Progress {
        self.progress
    }

    /// The socket itself.
    pub fn get_ref(&self) -> &TcpStream {
        &self.stream
    }

    /// The connection's 4-tuple.
    pub fn tuple(&self) -> FourTuple {
        self.tuple
    }
}

impl Read for Tracked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (tuple, fd) = (self.tuple, self.fd);
        if !self.maybe_readable && !self.read_closed {
            debug!("[{tuple}] (no read: the last one came up short)");
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let result = self.stream.read(buf);
        match &result {
            Ok(0) => info!(
                "[{tuple}] read(fd {fd}) = 0: the peer sent FIN: {}",
                state_of(&self.stream)
            ),
            Ok(n) => {
                self.progress.read += *n as u64;
                self.read_returned = super::work::now_if_timed();
                info!("[{tuple}] read(fd {fd}) = {n}");
                debug!("[{tuple}] read bytes {:?}", Escaped(&buf[..*n]));
                // Short read: the socket is empty now.
                if *n < buf.len() {
                    self.maybe_readable = false;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                debug!("[{tuple}] read(fd {fd}): EAGAIN (would block)");
                self.maybe_readable = false;
            }
            Err(_) => {}
        }
        result
    }
}

impl Write for Tracked {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (tuple, fd) = (self.tuple, self.fd);
        let result = self.stream.write(buf);
        match &result {
            Ok(n) => {
                if let Some(read_returned) = self.read_returned.take() {
                    super::work::add_since(read_returned);
                }
                self.progress.written += *n as u64;
                info!(
                    "[{tuple}] write(fd {fd}, {}) = {n}",
                    plural(buf.len(), "byte")
                );
                debug!("[{tuple}] wrote bytes {:?}", Escaped(&buf[..*n]));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                debug!("[{tuple}] write(fd {fd}): EAGAIN (send buffer full)");
                self.write_blocked = true;
            }
            Err(_) => {}
        }
        result
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}
// ANCHOR_END: tracked
