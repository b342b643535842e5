//! Several event loops, one per core: how loop 0 deals connections out.
//!
//! One loop is one thread, so it can use one CPU core. To use them all,
//! [`Engine::serve`] starts several loops, the way nginx runs one worker per core.
//! Only loop 0 watches the listener: it accepts every waiting connection and
//! hands each one, in turn, to a loop (itself included) through a channel, then
//! pokes that loop awake with a `mio::Waker`. From then on the connection belongs
//! to that loop alone, so the data path needs no locks.
//!
//! Accepting is also where the server protects itself: the connection cap
//! (`--max-connections`, counted across all loops; a client past it reads the
//! protocol's refusal, e.g. HTTP 503) and a pause after EMFILE.

use std::io;
use std::net::TcpListener;
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Instant;

use lifecycle::narrate::plural;
use lifecycle::tcp::accept;
use lifecycle::{FourTuple, Proto, Shutdown};
use log::{info, warn};
use mio::net::TcpStream;
use mio::{Interest, Poll, Waker};

use super::engine::{Loop, WAKER, run_loop};
use super::mailbox::{Door, Letter, MAILBOX_CAPACITY, Mailbox};
use super::{ACCEPT_BACKOFF, LoopStats, Session, WorkClock};
use crate::limits::{ConnectionCount, Limits, Place};
use crate::out_of_fds;

/// A server's event loops before they run: one epoll instance per loop, the
/// mailbox that reaches them, and the counters they will keep.
///
/// Make one with [`Engine::new`], take its [`Engine::mailbox`] (to post from
/// another thread) and [`Engine::stats`] if you need them, then
/// [`Engine::serve`] runs the loops until shutdown.
pub struct Engine {
    polls: Vec<Poll>,
    inboxes: Vec<Inbox>,
    mailbox: Mailbox,
    stats: Arc<LoopStats>,
    /// The server's work per message, timed only once asked for.
    work: Option<Arc<WorkClock>>,
}

/// One loop's receiving ends: letters from the mailbox, connections from loop 0.
pub(super) struct Inbox {
    pub(super) letters: mpsc::Receiver<Letter>,
    pub(super) arrivals: mpsc::Receiver<Arrival>,
}

impl Engine {
    /// Creates `loops` event loops (at least one), not running yet.
    pub fn new(loops: usize) -> io::Result<Engine> {
        let mut polls = Vec::new();
        let mut inboxes = Vec::new();
        let mut doors = Vec::new();
        for _ in 0..loops.max(1) {
            // epoll_create1(2): the kernel object that watches one loop's sockets.
            let poll = Poll::new()?;
            // An eventfd in that epoll set: writing to it wakes the loop.
            let waker = Waker::new(poll.registry(), WAKER)?;
            let (letters_tx, letters) = mpsc::sync_channel(MAILBOX_CAPACITY);
            let (arrivals_tx, arrivals) = mpsc::channel();
            polls.push(poll);
            inboxes.push(Inbox { letters, arrivals });
            doors.push(Door {
                letters: letters_tx,
                arrivals: arrivals_tx,
                waker,
            });
        }
        let stats = Arc::default();
        // Its counters go into `--stats-file`, if the process writes one.
        crate::stats_file::sign_in_engine(&stats);
        Ok(Engine {
            polls,
            inboxes,
            mailbox: Mailbox {
                doors: Arc::new(doors),
            },
            stats,
            work: None,
        })
    }

    /// A handle for posting to the connections of these loops, from any thread.
    pub fn mailbox(&self) -> Mailbox {
        self.mailbox.clone()
    }

    /// The counters the loops keep (shared: read them while the server runs).
    pub fn stats(&self) -> Arc<LoopStats> {
        Arc::clone(&self.stats)
    }

    /// Turns on the timing of this server's own work per message (from a read
    /// returning to the write after it, [`super::work`]) and returns the clock,
    /// to read while the server runs. A server nobody asks this of reads no clock.
    pub fn work_clock(&mut self) -> Arc<WorkClock> {
        Arc::clone(self.work.get_or_insert_with(Arc::default))
    }

    /// How many loops there are.
    pub fn loops(&self) -> usize {
        self.polls.len()
    }

    // ANCHOR: serve_with
    /// Runs the loops, each on its own thread, with `start` making the session for
    /// each accepted stream, until `shutdown` fires.
    ///
    /// One loop is one thread, so it uses one CPU core however many connections it
    /// serves. Several loops use several cores. Loop 0 (this thread) watches the
    /// listener, accepts, and hands each connection to the loops in turn — itself
    /// included — through a channel, waking the receiving loop with its
    /// `mio::Waker`. From then on the connection lives in that loop alone: no locks
    /// on the data path. The connection cap counts across all loops.
    pub fn serve<S, F>(
        self,
        listener: TcpListener,
        shutdown: Shutdown,
        limits: Limits,
        start: F,
    ) -> io::Result<()>
    where
        S: Session,
        F: FnMut(TcpStream, FourTuple) -> S + Clone + Send + 'static,
    {
        // Freed big buffers go back to the kernel, not to a heap we keep (memory.rs).
        crate::memory::give_back_big_buffers();
        // Shutdown::trigger connects to the listener: that connection wakes loop 0.
        shutdown.wake_on(Proto::Tcp, listener.local_addr()?);
        // O_NONBLOCK: accept() now returns WouldBlock instead of waiting.
        listener.set_nonblocking(true)?;
        let shared = Shared {
            limits,
            stats: self.stats,
            count: ConnectionCount::new(),
            mailbox: self.mailbox,
        };
        let mut others = Vec::new();
        let mut mine = None;
        for (i, (poll, inbox)) in self.polls.into_iter().zip(self.inboxes).enumerate() {
            if i == 0 {
                mine = Some((poll, inbox));
                continue;
            }
            let (shutdown, shared, start) = (shutdown.clone(), shared.clone(), start.clone());
            let work = self.work.clone();
            others.push(
                thread::Builder::new()
                    .name(format!("event loop {i}"))
                    .spawn(move || {
                        super::work::install(work);
                        run_loop(i, poll, inbox, None, &shutdown, shared, start)
                    })?,
            );
        }
        let mailbox = shared.mailbox.clone();
        // Loop 0 runs on this thread: its clock is taken off again afterwards.
        super::work::install(self.work.clone());
        let mut result = match mine {
            Some((poll, inbox)) => {
                run_loop(0, poll, inbox, Some(&listener), &shutdown, shared, start)
            }
            None => Ok(()),
        };
        super::work::install(None);
        if result.is_err() {
            shutdown.trigger(); // loop 0 failed: the others must not run on without it
        }
        // Only loop 0 hears the shutdown poke; it wakes the others, which then see
        // the flag. (A loop that has already stopped does not mind.)
        for door in mailbox.doors.iter() {
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
}

/// A connection accepted by loop 0 on its way to the loop that will serve it.
pub(crate) struct Arrival {
    pub(super) stream: std::net::TcpStream,
    pub(super) tuple: FourTuple,
    pub(super) place: Place,
}

/// What all the loops of one server share.
#[derive(Clone)]
pub(super) struct Shared {
    pub(super) limits: Limits,
    pub(super) stats: Arc<LoopStats>,
    /// Open connections across all loops, for the cap.
    pub(super) count: ConnectionCount,
    /// Every loop's door, by index.
    pub(super) mailbox: Mailbox,
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
                self.refuse(conn, poll);
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
            let doors = &shared.mailbox.doors;
            let to = self.next_loop;
            self.next_loop = (self.next_loop + 1) % doors.len();
            if to == self.index {
                self.adopt(arrival, poll, start);
            } else if let Some(door) = doors.get(to) {
                match door.arrivals.send(arrival) {
                    Ok(()) => {
                        let _ = door.waker.wake();
                    }
                    // That loop has stopped; the connection is closed as it drops.
                    Err(_) => warn!("[{tuple}] event loop {to} is gone; closing"),
                }
            }
        }
    }

    // ANCHOR: refuse
    /// Past the cap: the client is told why (the protocol's refusal, if it has
    /// one — HTTP 503 with Retry-After), gets our FIN, and is closed once its own
    /// FIN is in. Nothing here waits: the write is non-blocking (a few hundred
    /// bytes always fit a fresh send buffer), the drain is done by the loop.
    fn refuse(&mut self, conn: lifecycle::tcp::Connection, poll: &Poll) {
        let tuple = conn.tuple();
        warn!(
            "[{tuple}] refused: {} already open (--max-connections){}",
            plural(self.limits.max_connections, "connection"),
            self.limits.refusal_words()
        );
        self.stats.refused.fetch_add(1, Ordering::Relaxed);
        let stream = conn.into_std();
        if stream.set_nonblocking(true).is_err() {
            return;
        }
        let mut stream = TcpStream::from_std(stream);
        if !self.limits.refusal.is_empty() {
            let _ = super::write_some(&mut stream, self.limits.refusal);
        }
        let _ = stream.shutdown(std::net::Shutdown::Write);
        self.keep_refused(poll, stream, tuple);
    }
    // ANCHOR_END: refuse

    /// Takes a connection into this loop: register it with our epoll, start its
    /// session, start its clocks.
    pub(super) fn adopt<F>(&mut self, arrival: Arrival, poll: &Poll, start: &mut F)
    where
        F: FnMut(TcpStream, FourTuple) -> S,
    {
        let Arrival {
            stream,
            tuple,
            place,
        } = arrival;
        let mut stream = TcpStream::from_std(stream);
        // The place it will take in the table (the slab): its token.
        let token = self.slots.next_token();
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
        let inserted = self.insert(session, tuple, place);
        debug_assert_eq!(inserted, token, "nothing else took the place meanwhile");
    }
    // ANCHOR_END: accept_all
}
