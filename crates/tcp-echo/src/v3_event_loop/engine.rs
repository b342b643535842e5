//! One event loop: `epoll_wait(2)`, serve what is ready, expire what is late.
//!
//! This is the part a thread per connection did for free. Every connection has a
//! [`Slot`] in a table keyed by its mio token; `poll()` names the tokens that are
//! ready, and the loop hands each event to that connection's session. When a
//! session says [`Step::Done`], the loop closes gracefully without blocking: FIN
//! first, then it drains (reads and discards) until the peer's FIN or a deadline.
//!
//! Deadlines (idle timeout, end of the drain) live in one heap, soonest first,
//! and the soonest one becomes `poll()`'s timeout: no timer thread.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::net::{Shutdown as How, TcpListener};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lifecycle::limits::{ConnectionCount, Place};
use lifecycle::state::tcp_state;
use lifecycle::tcp::{DRAIN_LIMIT, DRAIN_TIMEOUT, is_disconnect};
use lifecycle::{FourTuple, Limits, Shutdown};
use log::{debug, info, warn};
use mio::net::TcpStream;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use super::loops::{Arrival, Shared};
use super::{Readiness, Session, Step, read_some};
use crate::READ_BUFFER;

/// The listening socket's token; connections get 1, 2, 3 … and a token is never reused.
const LISTENER: Token = Token(0);

/// The token of a loop's waker: loop 0 uses it to hand over a connection, or to
/// pass on the shutdown.
pub(super) const WAKER: Token = Token(usize::MAX);

/// How many readiness events one `poll()` hands back at most. More ready sockets
/// simply wait for the next round: nothing is lost.
const EVENTS_CAPACITY: usize = 1024;

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

/// The connection's place in the loop: its session, its deadline, and whether we
/// are closing it.
pub(super) struct Slot<S> {
    pub(super) session: S,
    pub(super) tuple: FourTuple,
    /// When it is closed if nothing happens (idle timeout, or end of the final drain).
    pub(super) deadline: Option<Instant>,
    /// `Some(bytes discarded)` once our FIN is sent and we wait for the peer's.
    pub(super) closing: Option<usize>,
    /// Its place under the connection cap, given back when the slot is dropped.
    pub(super) _place: Place,
}

// ANCHOR: serve
/// One event loop: wait, serve what is ready, expire what is late — until
/// shutdown. Only loop 0 has the listener.
pub(super) fn run_loop<S, F>(
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
pub(super) struct Loop<S> {
    pub(super) slots: HashMap<Token, Slot<S>>,
    /// Deadlines, soonest on top. An entry may be stale (the connection was active
    /// since, or is gone): it is checked when it comes up, see [`Loop::expire`].
    pub(super) deadlines: BinaryHeap<Reverse<(Instant, Token)>>,
    pub(super) next_token: usize,
    /// Set after EMFILE: accept nothing until then.
    pub(super) accept_paused_until: Option<Instant>,
    pub(super) limits: Limits,
    pub(super) stats: Arc<LoopStats>,
    /// Open connections across all loops, for the cap.
    pub(super) count: ConnectionCount,
    /// This loop's number; loop 0 accepts.
    pub(super) index: usize,
    /// Which loop gets the next accepted connection (loop 0 only).
    pub(super) next_loop: usize,
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
