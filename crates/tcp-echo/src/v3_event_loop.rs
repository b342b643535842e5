//! Version 3: one thread serves many connections — an event loop on mio (epoll on Linux).
//!
//! Version 2 spends a thread per client, and a thread mostly sleeps inside `read()`.
//! Here nobody sleeps inside a socket call: every socket is non-blocking, and one
//! `epoll_wait(2)` (mio's [`Poll::poll`]) says which sockets are ready. The loop
//! then serves exactly those, until each says `WouldBlock` ("nothing more now").
//!
//! What a thread used to remember on its stack, each connection now keeps in a
//! small struct, and the rules a blocking call enforced for free must be written out:
//!
//! - **Drain until WouldBlock.** mio's readiness is edge-triggered: the kernel
//!   reports "readable" once per change, not once per byte. Stop reading early and
//!   no second event comes. See [`read_some`] and [`write_some`], and [`Tracked`]
//!   for when a short read already says "empty".
//! - **Spurious wake-ups.** An event may arrive for a socket that has nothing to
//!   read after all, or for a connection already closed. Both are expected.
//! - **Partial writes.** `write()` on a non-blocking socket takes what fits in the
//!   kernel's send buffer. The rest waits in the connection's pending buffer, with
//!   an offset, and goes out first when the socket is writable again.
//! - **Backpressure.** A peer that sends but never reads would make that buffer
//!   grow without end. Past [`MAX_PENDING`] unsent bytes we stop reading from it;
//!   its bytes wait in the kernel, TCP's window closes, and the peer's own `write()`
//!   blocks. Once it reads its echo, we read again. Memory stays bounded, and no
//!   byte is lost or reordered.
//! - **Deadlines without threads.** Idle timeouts live in one heap, soonest first;
//!   the soonest one becomes `poll()`'s timeout.
//! - **Limits.** The connection cap, and EMFILE on accept (out of file descriptors)
//!   answered by pausing accept for a moment instead of spinning.
//! - **One loop per core.** One loop is one thread on one core. [`serve_with`]
//!   runs several (`--loops`, default: one per core), the way nginx runs a worker
//!   per core; loop 0 accepts and deals the connections out in turn.
//!
//! Where it simplifies: a peer that sends exactly as fast as we echo keeps one
//! connection's turn going until its socket runs dry; production loops also cap
//! the work done per event so that no connection can hog the thread.
//!
//! The loop does not care what protocol runs on a stream: it drives a [`Session`].
//! The TCP echo is [`Echo`]; ws-echo's event loop is the same loop with a WebSocket
//! session.
//!
//! Run: `socklab serve tcp --model event-loop`, then several `nc 127.0.0.1 7007`
//! at once. Watch: `ps -o nlwp= -p $(pgrep socklab)` stays at a few threads
//! however many clients connect.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::{self, Read, Write};
use std::net::{Shutdown as How, TcpListener};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use lifecycle::limits::{ConnectionCount, Place};
use lifecycle::state::tcp_state;
use lifecycle::tcp::{DRAIN_LIMIT, DRAIN_TIMEOUT, Escaped, accept, is_disconnect};
use lifecycle::{FourTuple, Limits, Proto, Shutdown};
use log::{debug, info, warn};
use mio::net::TcpStream;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::{READ_BUFFER, out_of_fds};

/// The listening socket's token; connections get 1, 2, 3 … and a token is never reused.
const LISTENER: Token = Token(0);

/// The token of a loop's waker: loop 0 uses it to hand over a connection, or to
/// pass on the shutdown.
const WAKER: Token = Token(usize::MAX);

/// How many readiness events one `poll()` hands back at most. More ready sockets
/// simply wait for the next round: nothing is lost.
const EVENTS_CAPACITY: usize = 1024;

/// The most unsent echo one connection may hold before we stop reading from it
/// (backpressure). 1 MiB: big enough that a fast reader never hits it.
pub const MAX_PENDING: usize = 1 << 20;

/// How long accept pauses after EMFILE/ENFILE. The waiting connection stays in the
/// backlog, so retrying at once would fail again at once: a busy loop.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A drained pending buffer bigger than this is freed rather than kept, so a burst
/// on one connection does not pin memory for the rest of its life.
const KEEP_CAPACITY: usize = 4 * READ_BUFFER;

/// Readiness, as one event reported it.
#[derive(Debug, Clone, Copy)]
pub struct Readiness {
    /// The socket has bytes (or a FIN, or an error) to read.
    pub readable: bool,
    /// The socket's send buffer has room again.
    pub writable: bool,
    /// The peer's FIN (or an error) has arrived: reads will end soon.
    pub read_closed: bool,
}

/// What a session wants after it was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Still open, and bytes moved: the idle clock starts again.
    Active,
    /// Still open, nothing moved (a spurious wake-up, or nothing to do yet).
    Waiting,
    /// The protocol is finished: the loop sends FIN, drains, and closes.
    Done,
}

/// One connection's protocol, driven by the event loop.
pub trait Session {
    /// Serves a readiness event. It must go on until the socket says `WouldBlock`
    /// (or the session deliberately stops reading: backpressure), because the same
    /// readiness is not reported twice. `scratch` is a read buffer shared by all
    /// connections of the loop.
    fn ready(&mut self, ready: Readiness, scratch: &mut [u8]) -> io::Result<Step>;
    /// The socket, for `shutdown(2)` and the final drain (`None`: no socket any
    /// more; the loop just forgets the connection).
    fn stream(&self) -> Option<&TcpStream>;
    /// Bytes this session holds unsent (for [`LoopStats`]).
    fn pending(&self) -> usize;
    /// How long the session may go without progress right now. The loop's idle
    /// timeout (`idle`) unless the session knows better (a handshake is shorter).
    fn timeout(&self, idle: Option<Duration>) -> Option<Duration> {
        idle
    }
    /// The deadline passed: last words to the peer, if any, written without
    /// blocking (an HTTP 408, a Close frame). The loop then closes gracefully.
    fn expire(&mut self) {}
    /// Whether this session has already read the peer's FIN. Then the final drain
    /// is not needed: nothing more can arrive to turn our close into a reset.
    fn read_closed(&self) -> bool {
        false
    }
}

/// What the loop observed, for tests and for the shutdown log line.
#[derive(Debug, Default)]
pub struct LoopStats {
    /// The largest pending buffer any one connection held, in bytes.
    pub peak_pending: AtomicUsize,
    /// Connections open right now.
    pub open: AtomicUsize,
    /// Connections refused at the cap.
    pub refused: AtomicUsize,
    /// Times accept was paused after EMFILE (or another accept failure).
    pub accept_pauses: AtomicUsize,
}

/// Serves TCP echo until `shutdown` fires, with one event loop per CPU core.
pub fn serve(listener: TcpListener, shutdown: Shutdown, limits: Limits) -> io::Result<()> {
    let stats = Arc::new(LoopStats::default());
    serve_with(
        listener,
        shutdown,
        limits,
        stats,
        default_loops(),
        Echo::new,
    )
}

/// One event loop per CPU core (what `available_parallelism` reports).
pub fn default_loops() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}

// ANCHOR: serve_with
/// Runs `loops` event loops, each on its own thread, with `start` making the
/// session for each accepted stream.
///
/// One loop is one thread, so it uses one CPU core however many connections it
/// serves. Several loops use several cores. Loop 0 (this thread) watches the
/// listener, accepts, and hands each connection to the loops in turn — itself
/// included — through a channel, waking the receiving loop with a `mio::Waker`
/// (an eventfd in that loop's epoll set). From then on the connection lives in
/// that loop alone: no locks on the data path. The connection cap counts across
/// all loops.
pub fn serve_with<S, F>(
    listener: TcpListener,
    shutdown: Shutdown,
    limits: Limits,
    stats: Arc<LoopStats>,
    loops: usize,
    start: F,
) -> io::Result<()>
where
    S: Session,
    F: FnMut(TcpStream, FourTuple) -> S + Clone + Send + 'static,
{
    // Shutdown::trigger connects to the listener: that connection wakes loop 0.
    shutdown.wake_on(Proto::Tcp, listener.local_addr()?);
    // O_NONBLOCK: accept() now returns WouldBlock instead of waiting.
    listener.set_nonblocking(true)?;
    let mut polls = Vec::new();
    let mut inboxes = Vec::new();
    let mut doors = Vec::new();
    for _ in 0..loops.max(1) {
        // epoll_create1(2): the kernel object that watches one loop's sockets.
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (tx, rx) = mpsc::channel();
        polls.push(poll);
        inboxes.push(rx);
        doors.push(Door { tx, waker });
    }
    let shared = Shared {
        limits,
        stats,
        count: ConnectionCount::new(),
        doors: Arc::new(doors),
    };
    let mut others = Vec::new();
    let mut mine = None;
    for (i, (poll, inbox)) in polls.into_iter().zip(inboxes).enumerate() {
        if i == 0 {
            mine = Some((poll, inbox));
            continue;
        }
        let (shutdown, shared, start) = (shutdown.clone(), shared.clone(), start.clone());
        others.push(
            thread::Builder::new()
                .name(format!("event loop {i}"))
                .spawn(move || run_loop(i, poll, inbox, None, &shutdown, shared, start))?,
        );
    }
    let doors = Arc::clone(&shared.doors);
    let mut result = match mine {
        Some((poll, inbox)) => run_loop(0, poll, inbox, Some(&listener), &shutdown, shared, start),
        None => Ok(()),
    };
    if result.is_err() {
        shutdown.trigger(); // loop 0 failed: the others must not run on without it
    }
    // Only loop 0 hears the shutdown poke; it wakes the others, which then see
    // the flag. (A loop that has already stopped does not mind.)
    for door in doors.iter() {
        let _ = door.waker.wake();
    }
    for other in others {
        let ended = other
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("an event loop panicked")));
        result = result.and(ended);
    }
    result
}
// ANCHOR_END: serve_with

/// The connection's place in the loop: its session, its deadline, and whether we
/// are closing it.
struct Slot<S> {
    session: S,
    tuple: FourTuple,
    /// When it is closed if nothing happens (idle timeout, or end of the final drain).
    deadline: Option<Instant>,
    /// `Some(bytes discarded)` once our FIN is sent and we wait for the peer's.
    closing: Option<usize>,
    /// Its place under the connection cap, given back when the slot is dropped.
    _place: Place,
}

/// A connection accepted by loop 0 on its way to the loop that will serve it.
struct Arrival {
    stream: std::net::TcpStream,
    tuple: FourTuple,
    place: Place,
}

/// How to reach one loop from another: its inbox, and its waker.
struct Door {
    tx: mpsc::Sender<Arrival>,
    waker: Arc<Waker>,
}

/// What all the loops of one server share.
#[derive(Clone)]
struct Shared {
    limits: Limits,
    stats: Arc<LoopStats>,
    /// Open connections across all loops, for the cap.
    count: ConnectionCount,
    /// Every loop's door, by index.
    doors: Arc<Vec<Door>>,
}

// ANCHOR: serve
/// One event loop: wait, serve what is ready, expire what is late — until
/// shutdown. Only loop 0 has the listener.
fn run_loop<S, F>(
    index: usize,
    mut poll: Poll,
    inbox: mpsc::Receiver<Arrival>,
    listener: Option<&TcpListener>,
    shutdown: &Shutdown,
    shared: Shared,
    mut start: F,
) -> io::Result<()>
where
    S: Session,
    F: FnMut(TcpStream, FourTuple) -> S,
{
    if let Some(listener) = listener {
        // epoll_ctl(2) EPOLL_CTL_ADD: wake us when the listener has a connection waiting.
        poll.registry().register(
            &mut SourceFd(&listener.as_raw_fd()),
            LISTENER,
            Interest::READABLE,
        )?;
    }
    let mut events = Events::with_capacity(EVENTS_CAPACITY);
    let mut state = Loop {
        slots: HashMap::new(),
        deadlines: BinaryHeap::new(),
        next_token: 1,
        accept_paused_until: None,
        limits: shared.limits,
        stats: Arc::clone(&shared.stats),
        count: shared.count.clone(),
        index,
        next_loop: 0,
    };
    let mut scratch = vec![0u8; READ_BUFFER];

    while !shutdown.is_triggered() {
        let timeout = state.timeout(Instant::now());
        // epoll_wait(2): sleep until a socket is ready or the soonest deadline.
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue, // a signal
            Err(e) => return Err(e),
        }
        let now = Instant::now();
        for event in events.iter() {
            let ready = Readiness {
                readable: event.is_readable(),
                writable: event.is_writable(),
                read_closed: event.is_read_closed() || event.is_error(),
            };
            match event.token() {
                LISTENER => {
                    if let Some(listener) = listener {
                        state.accept_all(listener, &poll, shutdown, &shared, &mut start, now);
                    }
                }
                // Loop 0 handed us connections (or says: shutdown).
                WAKER => {
                    while let Ok(arrival) = inbox.try_recv() {
                        state.adopt(arrival, &poll, &mut start, now);
                    }
                }
                token => state.serve_ready(token, ready, &mut scratch, now),
            }
        }
        state.expire(now);
        if let Some(listener) = listener
            && state.accept_paused_until.is_some_and(|t| t <= now)
        {
            state.accept_paused_until = None;
            state.accept_all(listener, &poll, shutdown, &shared, &mut start, now);
        }
    }
    if listener.is_some() {
        info!(
            "shutdown: no longer accepting; closing {} connections (largest pending echo: {} bytes)",
            state.slots.len(),
            state.stats.peak_pending.load(Ordering::Relaxed)
        );
    } else {
        debug!(
            "event loop {index}: closing {} connections",
            state.slots.len()
        );
    }
    Ok(())
}
// ANCHOR_END: serve

/// Everything the loop keeps between two `poll()` calls.
struct Loop<S> {
    slots: HashMap<Token, Slot<S>>,
    /// Deadlines, soonest on top. An entry may be stale (the connection was active
    /// since, or is gone): it is checked when it comes up, see [`Loop::expire`].
    deadlines: BinaryHeap<Reverse<(Instant, Token)>>,
    next_token: usize,
    /// Set after EMFILE: accept nothing until then.
    accept_paused_until: Option<Instant>,
    limits: Limits,
    stats: Arc<LoopStats>,
    /// Open connections across all loops, for the cap.
    count: ConnectionCount,
    /// This loop's number; loop 0 accepts.
    index: usize,
    /// Which loop gets the next accepted connection (loop 0 only).
    next_loop: usize,
}

impl<S: Session> Loop<S> {
    /// How long `poll()` may sleep: until the soonest deadline, or forever if none.
    fn timeout(&self, now: Instant) -> Option<Duration> {
        let soonest = self.deadlines.peek().map(|Reverse((t, _))| *t);
        [soonest, self.accept_paused_until]
            .into_iter()
            .flatten()
            .min()
            .map(|t| t.saturating_duration_since(now))
    }

    // ANCHOR: accept_all
    /// Accepts every waiting connection: one readiness event may stand for many.
    fn accept_all<F>(
        &mut self,
        listener: &TcpListener,
        poll: &Poll,
        shutdown: &Shutdown,
        shared: &Shared,
        start: &mut F,
        now: Instant,
    ) where
        F: FnMut(TcpStream, FourTuple) -> S,
    {
        if self.accept_paused_until.is_some() {
            return; // backing off after EMFILE; the timeout brings us back
        }
        loop {
            let conn = match accept(listener) {
                Ok(conn) => conn,
                // The backlog is empty: done until the next readiness event.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // A signal, or a client that reset before we got to it.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) =>
                {
                    continue;
                }
                Err(e) => {
                    // EMFILE and friends: the connection stays queued, so an
                    // immediate retry fails the same way. Pause accept, keep serving.
                    let why = if out_of_fds(&e) {
                        " (out of file descriptors)"
                    } else {
                        ""
                    };
                    warn!("accept() failed: {e}{why}; pausing accept for {ACCEPT_BACKOFF:?}");
                    self.accept_paused_until = Some(now + ACCEPT_BACKOFF);
                    self.stats.accept_pauses.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            };
            if shutdown.is_triggered() {
                info!("[{}] the shutdown wake-up: closing it", conn.tuple());
                conn.close();
                return;
            }
            let Some(place) = self.count.enter(self.limits.max_connections) else {
                // Past the cap: FIN at once, so the client is told, not left hanging.
                warn!(
                    "[{}] refused: {} connections already open (--max-connections)",
                    conn.tuple(),
                    self.limits.max_connections
                );
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                let _ = conn.shutdown_write();
                conn.close();
                continue;
            };
            let tuple = conn.tuple();
            // From here on mio owns the socket; the narration is ours to do.
            let stream = conn.into_std();
            if let Err(e) = stream.set_nonblocking(true) {
                warn!("[{tuple}] cannot make the socket non-blocking: {e}; closing");
                continue;
            }
            let arrival = Arrival {
                stream,
                tuple,
                place,
            };
            // The loops take turns, this one included.
            let to = self.next_loop;
            self.next_loop = (self.next_loop + 1) % shared.doors.len();
            if to == self.index {
                self.adopt(arrival, poll, start, now);
            } else if let Some(door) = shared.doors.get(to) {
                match door.tx.send(arrival) {
                    Ok(()) => {
                        let _ = door.waker.wake();
                    }
                    // That loop has stopped; the connection is closed as it drops.
                    Err(_) => warn!("[{tuple}] event loop {to} is gone; closing"),
                }
            }
        }
    }

    /// Takes a connection into this loop: register it with our epoll, start its
    /// session, start its idle clock.
    fn adopt<F>(&mut self, arrival: Arrival, poll: &Poll, start: &mut F, now: Instant)
    where
        F: FnMut(TcpStream, FourTuple) -> S,
    {
        let Arrival {
            stream,
            tuple,
            place,
        } = arrival;
        let mut stream = TcpStream::from_std(stream);
        let token = Token(self.next_token);
        self.next_token += 1;
        // epoll_ctl(2) EPOLL_CTL_ADD, both directions, edge-triggered: we are told
        // when bytes arrive and when the send buffer has room again.
        if let Err(e) =
            poll.registry()
                .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
        {
            warn!("[{tuple}] cannot register with epoll: {e}; closing");
            return;
        }
        let session = start(stream, tuple);
        let deadline = session.timeout(self.limits.idle_timeout).map(|t| now + t);
        if let Some(t) = deadline {
            self.deadlines.push(Reverse((t, token)));
        }
        let slot = Slot {
            session,
            tuple,
            deadline,
            closing: None,
            _place: place,
        };
        self.slots.insert(token, slot);
        self.stats.open.store(self.count.open(), Ordering::Relaxed);
    }
    // ANCHOR_END: accept_all

    // ANCHOR: serve_ready
    /// Serves one readiness event of one connection.
    fn serve_ready(&mut self, token: Token, ready: Readiness, scratch: &mut [u8], now: Instant) {
        // A spurious wake-up: the connection was closed earlier in this round.
        let Some(slot) = self.slots.get_mut(&token) else {
            return;
        };
        let step = match slot.closing {
            Some(_) => drain(slot),
            None => slot.session.ready(ready, scratch),
        };
        let pending = slot.session.pending();
        self.stats
            .peak_pending
            .fetch_max(pending, Ordering::Relaxed);
        match step {
            Ok(Step::Active) => {
                let new = slot
                    .session
                    .timeout(self.limits.idle_timeout)
                    .map(|t| now + t);
                // A later deadline leaves the old heap entry stale, and expire()
                // finds the new one; an earlier one needs its own entry.
                if let Some(t) = new.filter(|t| slot.deadline.is_none_or(|old| *t < old)) {
                    self.deadlines.push(Reverse((t, token)));
                }
                slot.deadline = new;
            }
            Ok(Step::Waiting) => {}
            Ok(Step::Done) if slot.closing.is_some() => self.close(token),
            Ok(Step::Done) => self.begin_close(token, now),
            Err(e) => {
                if is_disconnect(&e) {
                    info!("[{}] the peer went away: {e}", slot.tuple);
                } else {
                    warn!("[{}] connection failed: {e}", slot.tuple);
                }
                self.close(token);
            }
        }
    }
    // ANCHOR_END: serve_ready

    // ANCHOR: expire
    /// Closes the connections whose deadline has passed.
    ///
    /// A connection's deadline moves every time bytes move. Rather than find and
    /// update its heap entry each time, we leave the entry where it is: when it
    /// comes up, a connection that was active since is pushed back with its real
    /// deadline. So the heap keeps about one entry per connection, and `poll()`
    /// may wake a little early — another expected spurious wake-up.
    fn expire(&mut self, now: Instant) {
        while let Some(&Reverse((when, token))) = self.deadlines.peek() {
            if when > now {
                break;
            }
            self.deadlines.pop();
            let Some(slot) = self.slots.get(&token) else {
                continue; // closed already
            };
            match slot.deadline {
                Some(real) if real > now => self.deadlines.push(Reverse((real, token))),
                Some(_) if slot.closing.is_some() => {
                    debug!("[{}] no FIN from the peer in time; closing", slot.tuple);
                    self.close(token);
                }
                Some(_) => {
                    info!(
                        "[{}] no progress for {:?} (idle or handshake timeout): closing",
                        slot.tuple,
                        slot.session
                            .timeout(self.limits.idle_timeout)
                            .unwrap_or_default()
                    );
                    if let Some(slot) = self.slots.get_mut(&token) {
                        slot.session.expire();
                    }
                    self.begin_close(token, now);
                }
                None => {}
            }
        }
    }
    // ANCHOR_END: expire

    /// Graceful close, step 1: `shutdown(2)` SHUT_WR sends our FIN; then we read and
    /// discard until the peer's FIN (see `lifecycle::tcp::graceful_close` for why).
    fn begin_close(&mut self, token: Token, now: Instant) {
        let Some(slot) = self.slots.get_mut(&token) else {
            return;
        };
        let shut = slot.session.stream().map(|s| s.shutdown(How::Write));
        if !matches!(shut, Some(Ok(()))) {
            self.close(token); // the peer is gone already
            return;
        }
        info!(
            "[{}] shutdown(fd {}, SHUT_WR): our FIN is sent: {}",
            slot.tuple,
            slot.session.stream().map_or(-1, |s| s.as_raw_fd()),
            tcp_state(slot.tuple.local, slot.tuple.peer)
        );
        if slot.session.read_closed() {
            self.close(token); // the peer's FIN is already in: no drain needed
            return;
        }
        slot.closing = Some(0);
        let deadline = now + DRAIN_TIMEOUT;
        slot.deadline = Some(deadline);
        self.deadlines.push(Reverse((deadline, token)));
        // The peer's FIN may be here already (it usually is, for an echo client).
        if !matches!(drain(slot), Ok(Step::Waiting)) {
            self.close(token);
        }
    }

    /// Graceful close, last step: `close(2)`. Dropping the stream closes the fd, and
    /// the kernel removes a closed fd from epoll by itself.
    fn close(&mut self, token: Token) {
        if let Some(slot) = self.slots.remove(&token) {
            let fd = slot.session.stream().map_or(-1, |s| s.as_raw_fd());
            let tuple = slot.tuple;
            drop(slot); // this is the close(2)
            info!(
                "[{tuple}] close(fd {fd}): {}",
                tcp_state(tuple.local, tuple.peer)
            );
        }
        self.stats.open.store(self.count.open(), Ordering::Relaxed);
    }
}

/// The final drain: reads and discards until the peer's FIN (then `Done`), or until
/// it has sent more than `DRAIN_LIMIT` bytes after our FIN (also `Done`).
fn drain<S: Session>(slot: &mut Slot<S>) -> io::Result<Step> {
    let mut buf = [0u8; 1024];
    let Some(mut stream) = slot.session.stream() else {
        return Ok(Step::Done);
    };
    loop {
        match read_some(&mut stream, &mut buf)? {
            Some(0) => {
                info!(
                    "[{}] read(fd {}) = 0: the peer sent FIN: {}",
                    slot.tuple,
                    stream.as_raw_fd(),
                    tcp_state(slot.tuple.local, slot.tuple.peer)
                );
                return Ok(Step::Done);
            }
            Some(n) => {
                let drained = slot.closing.get_or_insert(0);
                *drained += n;
                if *drained > DRAIN_LIMIT {
                    return Ok(Step::Done);
                }
            }
            None => return Ok(Step::Waiting),
        }
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
    }

    /// The socket itself.
    pub fn get_ref(&self) -> &TcpStream {
        &self.stream
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
                tcp_state(tuple.local, tuple.peer)
            ),
            Ok(n) => {
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
                info!("[{tuple}] write(fd {fd}, {} bytes) = {n}", buf.len());
                debug!("[{tuple}] wrote bytes {:?}", Escaped(&buf[..*n]));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                debug!("[{tuple}] write(fd {fd}): EAGAIN (send buffer full)");
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

// ANCHOR: echo
/// The TCP echo as an event-loop session: `echo_stream` with its state written out.
pub struct Echo {
    stream: Tracked,
    tuple: FourTuple,
    /// Bytes read but not yet written back; the first `offset` of them are sent.
    pending: Vec<u8>,
    offset: usize,
    /// The last write said WouldBlock: wait for a writable event before writing.
    write_blocked: bool,
    /// The peer sent FIN: nothing more will arrive, but its echo must still go out.
    peer_fin: bool,
    echoed: u64,
}

impl Echo {
    /// A session for a freshly accepted connection.
    pub fn new(stream: TcpStream, tuple: FourTuple) -> Echo {
        Echo {
            stream: Tracked::new(stream, tuple),
            tuple,
            pending: Vec::new(),
            offset: 0,
            write_blocked: false,
            peer_fin: false,
            echoed: 0,
        }
    }

    fn unsent(&self) -> usize {
        self.pending.len() - self.offset
    }

    /// Writes `bytes` until they are all out or the socket says WouldBlock;
    /// returns how many went out.
    fn write_out(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut sent = 0;
        while sent < bytes.len() {
            match write_some(&mut self.stream, &bytes[sent..])? {
                Some(n) => sent += n,
                None => {
                    self.write_blocked = true;
                    break;
                }
            }
        }
        self.echoed += sent as u64;
        Ok(sent)
    }

    /// Sends the pending bytes, oldest first, as far as the socket takes them.
    fn flush_pending(&mut self) -> io::Result<()> {
        let pending = std::mem::take(&mut self.pending);
        let sent = self.write_out(&pending[self.offset..]);
        self.pending = pending;
        self.offset += sent?;
        if self.offset == self.pending.len() {
            self.pending.clear();
            self.offset = 0;
            if self.pending.capacity() > KEEP_CAPACITY {
                self.pending = Vec::new();
            }
        } else if self.offset >= self.pending.len() / 2 {
            // A partial write: drop the sent half so the buffer does not creep.
            self.pending.drain(..self.offset);
            self.offset = 0;
        }
        Ok(())
    }
}

impl Session for Echo {
    fn ready(&mut self, ready: Readiness, buf: &mut [u8]) -> io::Result<Step> {
        self.stream.on_event(ready);
        if ready.writable {
            self.write_blocked = false;
        }
        let before = (self.echoed, self.pending.len());
        loop {
            // 1. Older bytes first: whatever is pending goes out before anything new.
            if self.unsent() > 0 && !self.write_blocked {
                self.flush_pending()?;
            }
            // 2. Read more, unless the peer is finished or we hold too much of its
            //    echo: then we stop reading (backpressure) until a writable event
            //    lets step 1 drain the buffer, and this loop reads again.
            if self.peer_fin || self.unsent() >= MAX_PENDING {
                break;
            }
            let n = match read_some(&mut self.stream, buf)? {
                None => break, // WouldBlock: drained; wait for the next event
                Some(0) => {
                    self.peer_fin = true;
                    continue; // step 1 may still have echo to send
                }
                Some(n) => n,
            };
            // 3. Echo it at once if nothing older is waiting; what the socket does
            //    not take is kept, behind the older bytes, never ahead of them.
            let sent = if self.unsent() == 0 && !self.write_blocked {
                self.write_out(&buf[..n])?
            } else {
                0
            };
            self.pending.extend_from_slice(&buf[sent..n]);
        }
        if self.peer_fin && self.unsent() == 0 {
            info!("[{}] done: echoed {} bytes", self.tuple, self.echoed);
            return Ok(Step::Done);
        }
        let moved = before != (self.echoed, self.pending.len());
        Ok(if moved { Step::Active } else { Step::Waiting })
    }

    fn stream(&self) -> Option<&TcpStream> {
        Some(self.stream.get_ref())
    }

    fn read_closed(&self) -> bool {
        self.peer_fin
    }

    fn pending(&self) -> usize {
        self.pending.len()
    }
}
// ANCHOR_END: echo
