//! One event loop: `epoll_wait(2)`, serve what is ready, expire what is late.
//!
//! This is the part a thread per connection did for free. Every connection has a
//! [`Slot`] in a table keyed by its mio token; `poll()` names the tokens that are
//! ready, and the loop hands each event to that connection's session. A session
//! that spent its turn's budget goes on the still-ready list and is served again
//! next turn, after the others. When a session says [`Step::Done`], the loop
//! closes gracefully without blocking: FIN first, then it drains (reads and
//! discards) until the peer's FIN or a deadline.
//!
//! Deadlines (idle, write stall, end of the drain) live in one heap, soonest
//! first, and the soonest one becomes `poll()`'s timeout: no timer thread.
//! What happens when one passes, and the graceful close, are in `closing.rs`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::io;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lifecycle::narrate::plural;
use lifecycle::tcp::is_disconnect;
use lifecycle::{FourTuple, Shutdown};
use log::{debug, info, warn};
use mio::net::TcpStream;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};

use super::closing::{Refused, drain};
use super::loops::{Inbox, Shared};
use super::mailbox::{ConnId, Letter, Mail, Mailbox};
use super::session::Outbound;
use super::slab::Slab;
use super::{Leg, Progress, READ_BUFFER, Readiness, Session, Step, TURN_BUDGET, Turn};
use crate::limits::{Limits, Place};

/// The listening socket's token; connections get theirs from the slab
/// (slab.rs), other sockets from [`Slab::FIRST_OTHER`] up.
pub(super) const LISTENER: Token = Token(0);

/// The token of a loop's waker: another loop (or thread) has put something in
/// this loop's inbox, or the server is shutting down.
pub(super) const WAKER: Token = Token(usize::MAX);

/// How many readiness events one `poll()` hands back at most. More ready sockets
/// simply wait for the next round: nothing is lost.
const EVENTS_CAPACITY: usize = 1024;

/// What the loops observed: counters for tests, the shutdown log line and
/// `socklab bench`. Shared by all loops of a server (and by the threads model).
#[derive(Debug, Default)]
pub struct LoopStats {
    /// The largest queue any one connection held for its peer, in bytes.
    pub peak_pending: AtomicUsize,
    /// Connections open right now.
    pub open: AtomicUsize,
    /// Connections refused at the cap.
    pub refused: AtomicUsize,
    /// Times accept was paused after EMFILE (or another accept failure).
    pub accept_pauses: AtomicUsize,
    /// Times a session spent its turn's budget and yielded to the others.
    pub yields: AtomicUsize,
    /// Connections closed by the idle deadline.
    pub idle_closes: AtomicUsize,
    /// Connections closed by the write-stall deadline (a peer that does not read).
    pub stall_closes: AtomicUsize,
    /// Letters handed to a session's `deliver`.
    pub delivered: AtomicUsize,
}

/// The connection's place in the loop: its session, its clocks, and whether we
/// are closing it.
pub(super) struct Slot<S> {
    pub(super) session: S,
    pub(super) tuple: FourTuple,
    /// Bytes moved as of the last look, to tell when the clocks restart.
    pub(super) progress: Progress,
    /// When the connection was accepted (the opening deadline counts from here).
    pub(super) accepted: Instant,
    /// When the peer last sent a byte (the idle clock).
    pub(super) heard: Instant,
    /// Since when queued output has made no progress (the write-stall clock).
    pub(super) stalled_since: Instant,
    /// When the connection is closed if nothing happens: the sooner of the two
    /// clocks' deadlines, or the end of the final drain.
    pub(super) deadline: Option<Instant>,
    /// `Some(bytes discarded)` once our FIN is sent and we wait for the peer's.
    pub(super) closing: Option<usize>,
    /// The token of the socket the session opened itself, if any (a bridge's
    /// target): its events come to this slot as [`Leg::Outbound`].
    pub(super) outbound: Option<Token>,
    /// The loop turn each leg was last served in (once per turn per leg at
    /// most), indexed by [`Leg::index`].
    pub(super) served_turn: [u64; 2],
    /// It spent its budget and waits on the still-ready list: this turn it is
    /// served after everyone else, even if an event names it too.
    pub(super) yielded: bool,
    /// An event came for it while it waited there and said a FIN is in (per
    /// leg): kept, so the turn that serves it knows.
    pub(super) missed_fin: [bool; 2],
    /// Its place under the connection cap, given back when the slot is dropped.
    _place: Place,
}

// ANCHOR: serve
/// One event loop: wait, serve what is ready, serve again what yielded, expire
/// what is late — until shutdown. Only loop 0 has the listener.
pub(super) fn run_loop<S, F>(
    index: usize,
    mut poll: Poll,
    inbox: Inbox,
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
        slots: Slab::new(),
        owners: HashMap::new(),
        refused: HashMap::new(),
        deadlines: BinaryHeap::new(),
        still_ready: VecDeque::new(),
        turn: 0,
        next_token: Slab::<()>::FIRST_OTHER,
        accept_paused_until: None,
        limits: shared.limits,
        stats: Arc::clone(&shared.stats),
        count: shared.count.clone(),
        mailbox: shared.mailbox.clone(),
        index,
        next_loop: 0,
        scratch: vec![0u8; READ_BUFFER],
        peak_pending: 0,
        delivered: 0,
    };

    while !shutdown.is_triggered() {
        // Someone yielded last turn: look for events without sleeping, then serve them.
        let timeout = if state.still_ready.is_empty() {
            state.timeout(Instant::now())
        } else {
            Some(Duration::ZERO)
        };
        // epoll_wait(2): sleep until a socket is ready or the soonest deadline.
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue, // a signal
            Err(e) => return Err(e),
        }
        state.turn += 1;
        let now = Instant::now();
        // Those that yielded last turn; taken now, so that a connection yielding
        // again this turn waits for the next one.
        let again = std::mem::take(&mut state.still_ready);
        for event in events.iter() {
            let ready = Readiness {
                readable: event.is_readable(),
                writable: event.is_writable(),
                read_closed: event.is_read_closed() || event.is_error(),
                leg: Leg::Peer, // until `route` below says otherwise
            };
            match event.token() {
                LISTENER => {
                    if let Some(listener) = listener {
                        state.accept_all(listener, &poll, shutdown, &shared, &mut start, now);
                    }
                }
                // Another loop or thread put something in our inbox (or: shutdown).
                WAKER => state.open_inbox(&inbox, &poll, &mut start, now),
                // A connection's own socket, or the outbound one a session
                // registered: the loop finds the connection either way.
                token => {
                    let (token, leg) = state.route(token);
                    let ready = Readiness { leg, ..ready };
                    if state.is_yielded(token) {
                        // On the still-ready list: it waits for its place at
                        // the end of this turn, so the light ones go first.
                        state.note_missed(token, ready);
                    } else {
                        state.serve_ready(token, ready, now, poll.registry());
                    }
                }
            }
        }
        // Those that yielded last turn, after everyone who had an event this
        // turn: each leg it has, told it may read and write again.
        for token in again {
            let mut legs = vec![Leg::Peer];
            if let Some(slot) = state.slots.get_mut(token) {
                slot.yielded = false;
                if slot.outbound.is_some() {
                    legs.push(Leg::Outbound);
                }
            }
            for leg in legs {
                let mut ready = Readiness {
                    leg,
                    ..Readiness::AGAIN
                };
                if let Some(slot) = state.slots.get_mut(token) {
                    ready.read_closed = std::mem::take(&mut slot.missed_fin[leg.index()]);
                }
                state.serve_ready(token, ready, now, poll.registry());
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
            "shutdown: no longer accepting; closing {} (largest queue: {})",
            plural(state.slots.len(), "connection"),
            plural(state.stats.peak_pending.load(Ordering::Relaxed), "byte")
        );
    } else {
        debug!(
            "event loop {index}: closing {}",
            plural(state.slots.len(), "connection")
        );
    }
    Ok(())
}
// ANCHOR_END: serve

/// Everything the loop keeps between two `poll()` calls.
pub(super) struct Loop<S> {
    /// The connections, by token (a slab: the token is the place, slab.rs).
    pub(super) slots: Slab<Slot<S>>,
    /// Outbound sockets' tokens → the token of the connection whose session
    /// owns them.
    pub(super) owners: HashMap<Token, Token>,
    pub(super) refused: HashMap<Token, Refused>,
    /// Deadlines, soonest on top. An entry may be stale (the connection was active
    /// since, or is gone): it is checked when it comes up, see [`Loop::expire`].
    pub(super) deadlines: BinaryHeap<Reverse<(Instant, Token)>>,
    /// Connections that spent their budget with bytes still waiting, in order.
    still_ready: VecDeque<Token>,
    /// Which turn of the loop this is (one turn = one `poll()` and what follows).
    turn: u64,
    /// The token of the next socket that is not a connection of ours (a
    /// refused one, or one a session opened): counted up from
    /// [`Slab::FIRST_OTHER`], never reused.
    pub(super) next_token: usize,
    /// Set after EMFILE: accept nothing until then.
    pub(super) accept_paused_until: Option<Instant>,
    pub(super) limits: Limits,
    pub(super) stats: Arc<LoopStats>,
    /// Open connections across all loops, for the cap.
    pub(super) count: crate::limits::ConnectionCount,
    mailbox: Mailbox,
    /// This loop's number; loop 0 accepts.
    pub(super) index: usize,
    /// Which loop gets the next accepted connection (loop 0 only).
    pub(super) next_loop: usize,
    /// The read buffer every session of this loop shares.
    scratch: Vec<u8>,
    /// The largest queue this loop has seen: [`LoopStats::peak_pending`] is
    /// written only when this grows.
    peak_pending: usize,
    /// Letters handed over since [`LoopStats::delivered`] was last written.
    delivered: usize,
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

    /// Whether this connection spent its budget last turn and waits on the
    /// still-ready list.
    fn is_yielded(&self, token: Token) -> bool {
        self.slots.get(token).is_some_and(|slot| slot.yielded)
    }

    /// Keeps what a skipped event said that [`Readiness::AGAIN`] does not.
    fn note_missed(&mut self, token: Token, ready: Readiness) {
        if let Some(slot) = self.slots.get_mut(token) {
            slot.missed_fin[ready.leg.index()] |= ready.read_closed;
        }
    }

    /// Which connection an event's token belongs to, and on which leg: an
    /// outbound socket's token maps to the connection that registered it.
    fn route(&self, token: Token) -> (Token, Leg) {
        if token.0 < Slab::<()>::FIRST_OTHER {
            return (token, Leg::Peer); // a connection's own socket: no look-up
        }
        match self.owners.get(&token) {
            Some(&owner) => (owner, Leg::Outbound),
            None => (token, Leg::Peer),
        }
    }

    /// Takes a new connection into the table, its clocks starting now; returns
    /// its token (what [`Slab::next_token`] said before).
    pub(super) fn insert(&mut self, session: S, tuple: FourTuple, place: Place) -> Token {
        let now = Instant::now();
        let slot = Slot {
            progress: session.progress(),
            session,
            tuple,
            accepted: now,
            heard: now,
            stalled_since: now,
            deadline: None,
            closing: None,
            outbound: None,
            served_turn: [0; 2],
            yielded: false,
            missed_fin: [false; 2],
            _place: place,
        };
        let token = self.slots.insert(slot);
        self.reschedule(token);
        self.stats.open.store(self.count.open(), Ordering::Relaxed);
        token
    }

    // ANCHOR: serve_ready
    /// Serves one readiness event of one connection (or of a refused one), on
    /// one of its legs.
    fn serve_ready(&mut self, token: Token, ready: Readiness, now: Instant, registry: &Registry) {
        if token.0 >= Slab::<()>::FIRST_OTHER && self.refused.contains_key(&token) {
            return self.drain_refused(token);
        }
        // A spurious wake-up: the connection was closed earlier in this round.
        let Some(slot) = self.slots.get_mut(token) else {
            return;
        };
        // Once per turn per leg: an event and the still-ready list may both name it.
        let leg = ready.leg.index();
        if slot.served_turn[leg] == self.turn {
            return;
        }
        slot.served_turn[leg] = self.turn;
        let mut outbound = slot.outbound;
        let step = match slot.closing {
            Some(_) => drain(slot),
            None => {
                let mut turn = Turn {
                    scratch: &mut self.scratch,
                    budget: TURN_BUDGET,
                    mailbox: &self.mailbox,
                    me: ConnId {
                        loop_index: self.index,
                        token: token.0,
                    },
                    outbound: Outbound {
                        registry,
                        next_token: &mut self.next_token,
                        token: &mut outbound,
                    },
                };
                slot.session.ready(ready, &mut turn)
            }
        };
        // The session registered its outbound socket in this turn: route it here.
        if let Some(out) = outbound.filter(|_| slot.outbound.is_none()) {
            slot.outbound = Some(out);
            self.owners.insert(out, token);
        }
        self.after(token, step, now);
    }
    // ANCHOR_END: serve_ready

    // ANCHOR: after
    /// What a session's answer means for the loop: restart its clocks if bytes
    /// moved, serve it again next turn if it yielded, close it if it is done.
    pub(super) fn after(&mut self, token: Token, step: io::Result<Step>, now: Instant) {
        let Some(slot) = self.slots.get_mut(token) else {
            return;
        };
        let pending = slot.session.pending();
        // The shared counter is written only when this loop sees a new peak:
        // a read-modify-write on a line every loop shares, per event, costs
        // each loop the line's trip from the other core.
        if pending > self.peak_pending {
            self.peak_pending = pending;
            self.stats
                .peak_pending
                .fetch_max(pending, Ordering::Relaxed);
        }
        let progress = slot.session.progress();
        if progress.read != slot.progress.read {
            slot.heard = now; // a byte from the peer: it is not idle
        }
        if pending == 0 || progress.written != slot.progress.written {
            slot.stalled_since = now; // nothing queued, or the peer took some
        }
        slot.progress = progress;
        match step {
            Ok(Step::Wait) => self.reschedule(token),
            // (Both legs may yield in one turn: the session goes on the list once.)
            Ok(Step::Yield) if slot.yielded => self.reschedule(token),
            Ok(Step::Yield) => {
                slot.yielded = true;
                self.stats.yields.fetch_add(1, Ordering::Relaxed);
                self.still_ready.push_back(token);
                self.reschedule(token);
            }
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
    // ANCHOR_END: after

    /// Recomputes a connection's deadline from its two clocks.
    ///
    /// A later deadline leaves the old heap entry stale, and [`Loop::expire`]
    /// finds the new one when the old comes up; an earlier one needs its own entry.
    fn reschedule(&mut self, token: Token) {
        let Some(slot) = self.slots.get_mut(token) else {
            return;
        };
        if slot.closing.is_some() {
            return; // the drain's deadline stands
        }
        let idle = slot
            .session
            .idle_timeout(self.limits.idle_timeout)
            .map(|t| slot.heard + t);
        let opening = slot.session.opening_deadline().map(|t| slot.accepted + t);
        let stall = match (slot.session.pending(), self.limits.write_stall) {
            (0, _) | (_, None) => None,
            (_, Some(t)) => Some(slot.stalled_since + t),
        };
        let alarm = slot.session.alarm_at();
        let new = [idle, opening, stall, alarm].into_iter().flatten().min();
        if let Some(t) = new.filter(|t| slot.deadline.is_none_or(|old| *t < old)) {
            self.deadlines.push(Reverse((t, token)));
        }
        slot.deadline = new;
    }

    // ANCHOR: mail
    /// Hands every letter waiting in our inbox to its connection(s), and takes in
    /// the connections loop 0 dealt us.
    fn open_inbox<F>(&mut self, inbox: &Inbox, poll: &Poll, start: &mut F, now: Instant)
    where
        F: FnMut(TcpStream, FourTuple) -> S,
    {
        while let Ok(arrival) = inbox.arrivals.try_recv() {
            self.adopt(arrival, poll, start);
        }
        while let Ok(letter) = inbox.letters.try_recv() {
            match letter {
                Letter::To(token, mail) => self.deliver(token, &mail, now),
                Letter::All(mail) => {
                    let tokens: Vec<Token> = self.slots.tokens().collect();
                    for token in tokens {
                        let me = ConnId {
                            loop_index: self.index,
                            token: token.0,
                        };
                        if mail.from != Some(me) {
                            self.deliver(token, &mail, now);
                        }
                    }
                }
            }
        }
        // One write to the counter all loops share, for the whole inbox: a
        // line to 10,000 chat members is 10,000 deliveries.
        let delivered = std::mem::take(&mut self.delivered);
        if delivered > 0 {
            self.stats.delivered.fetch_add(delivered, Ordering::Relaxed);
        }
    }

    /// Gives one letter to one open connection's session.
    fn deliver(&mut self, token: Token, mail: &Mail, now: Instant) {
        let Some(slot) = self.slots.get_mut(token) else {
            return; // closed since the letter was posted
        };
        if slot.closing.is_some() {
            return;
        }
        self.delivered += 1; // posted to the shared counter once per inbox
        let step = slot.session.deliver(mail);
        self.after(token, step, now);
    }
    // ANCHOR_END: mail
}
