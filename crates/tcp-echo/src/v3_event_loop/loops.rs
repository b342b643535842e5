//! Several event loops, one per core: how loop 0 deals connections out.
//!
//! One loop is one thread, so it can use one CPU core. To use them all,
//! [`serve_with`] starts several loops, the way nginx runs one worker per core.
//! Only loop 0 watches the listener: it accepts every waiting connection and
//! hands each one, in turn, to a loop (itself included) through a channel, then
//! pokes that loop awake with a `mio::Waker`. From then on the connection belongs
//! to that loop alone, so the data path needs no locks.
//!
//! Accepting is also where the server protects itself: the connection cap
//! (`--max-connections`, counted across all loops) and a pause after EMFILE.

use std::cmp::Reverse;
use std::io;
use std::net::TcpListener;
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Instant;

use lifecycle::limits::{ConnectionCount, Place};
use lifecycle::tcp::accept;
use lifecycle::{FourTuple, Limits, Proto, Shutdown};
use log::{info, warn};
use mio::net::TcpStream;
use mio::{Interest, Poll, Token, Waker};

use super::engine::{Loop, Slot, WAKER, run_loop};
use super::{ACCEPT_BACKOFF, LoopStats, Session};
use crate::out_of_fds;

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

/// A connection accepted by loop 0 on its way to the loop that will serve it.
pub(super) struct Arrival {
    pub(super) stream: std::net::TcpStream,
    pub(super) tuple: FourTuple,
    pub(super) place: Place,
}

/// How to reach one loop from another: its inbox, and its waker.
pub(super) struct Door {
    pub(super) tx: mpsc::Sender<Arrival>,
    pub(super) waker: Arc<Waker>,
}

/// What all the loops of one server share.
#[derive(Clone)]
pub(super) struct Shared {
    pub(super) limits: Limits,
    pub(super) stats: Arc<LoopStats>,
    /// Open connections across all loops, for the cap.
    pub(super) count: ConnectionCount,
    /// Every loop's door, by index.
    pub(super) doors: Arc<Vec<Door>>,
}

impl<S: Session> Loop<S> {
    // ANCHOR: accept_all
    /// Accepts every waiting connection: one readiness event may stand for many.
    pub(super) fn accept_all<F>(
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
    pub(super) fn adopt<F>(&mut self, arrival: Arrival, poll: &Poll, start: &mut F, now: Instant)
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
}
