//! How the loop lets a connection go: deadlines, the graceful close, refusals.
//!
//! A thread per connection closes by returning from its function; the loop
//! must do each step itself without ever blocking. A connection whose deadline
//! has passed (idle, write stall, opening) is expired here; a session that is
//! done is closed gracefully — FIN first, then a drain (read and discard) until
//! the peer's FIN or a deadline, then `close(2)`. A connection refused at the
//! cap is kept the same way until its FIN, so our refusal reaches it.
//!
//! Split from `engine.rs` (one loop's turn) so each file holds one concern.

use std::cmp::Reverse;
use std::io;
use std::net::Shutdown as How;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::time::Instant;

use lifecycle::FourTuple;
use lifecycle::narrate::plural;
use lifecycle::state::{state_of, tcp_state};
use lifecycle::tcp::{DRAIN_LIMIT, DRAIN_TIMEOUT};
use log::{debug, info};
use mio::net::TcpStream;
use mio::{Interest, Poll, Token};

use super::engine::{Loop, Slot};
use super::{Expiry, Session, Step, read_some};

/// Refused connections (past the cap) kept draining at once, at most: each is
/// read and discarded until its FIN so our refusal reaches the client before a
/// reset could. Past this, a refused connection is closed at once.
const MAX_REFUSED_DRAINING: usize = 64;

/// A connection turned away at the cap: its refusal is written and our FIN sent;
/// we read and discard until its FIN, then close.
pub(super) struct Refused {
    stream: TcpStream,
    tuple: FourTuple,
}

impl<S: Session> Loop<S> {
    // ANCHOR: expire
    /// Closes the connections whose deadline has passed.
    ///
    /// A connection's deadline moves every time bytes move. Rather than find and
    /// update its heap entry each time, we leave the entry where it is: when it
    /// comes up, a connection that was active since is pushed back with its real
    /// deadline. So the heap keeps about one entry per connection, and `poll()`
    /// may wake a little early — another expected spurious wake-up.
    pub(super) fn expire(&mut self, now: Instant) {
        while let Some(&Reverse((when, token))) = self.deadlines.peek() {
            if when > now {
                break;
            }
            self.deadlines.pop();
            if self.refused.contains_key(&token) {
                self.close_refused(token);
                continue;
            }
            let Some(slot) = self.slots.get_mut(token) else {
                continue; // closed already
            };
            // A session's own alarm (a long poll's hold time) is not a deadline
            // that closes it: ring it, and carry on.
            if slot.closing.is_none() && slot.session.alarm_at().is_some_and(|t| t <= now) {
                slot.deadline = None; // its heap entry is gone: reschedule anew
                let step = slot.session.alarm();
                self.after(token, step, now);
                continue;
            }
            match slot.deadline {
                Some(real) if real > now => self.deadlines.push(Reverse((real, token))),
                Some(_) if slot.closing.is_some() => {
                    debug!("[{}] no FIN from the peer in time; closing", slot.tuple);
                    self.close(token);
                }
                Some(_) => {
                    let stalled = self.limits.write_stall.is_some_and(|t| {
                        slot.session.pending() > 0 && slot.stalled_since + t <= now
                    });
                    if stalled {
                        // The peer does not read: a drain would protect bytes it
                        // will never read, so close at once.
                        info!(
                            "[{}] {} queued and none taken for {:?} (--write-stall-timeout): closing",
                            slot.tuple,
                            plural(slot.session.pending(), "byte"),
                            self.limits.write_stall.unwrap_or_default()
                        );
                        self.stats.stall_closes.fetch_add(1, Ordering::Relaxed);
                        slot.session.expire(Expiry::Stalled);
                        self.close(token);
                    } else {
                        match slot.session.opening_deadline() {
                            Some(t) if slot.accepted + t <= now => info!(
                                "[{}] not open {t:?} after accept (handshake timeout): closing",
                                slot.tuple
                            ),
                            _ => info!(
                                "[{}] no byte from the peer for {:?} (--idle-timeout): closing",
                                slot.tuple,
                                slot.session
                                    .idle_timeout(self.limits.idle_timeout)
                                    .unwrap_or_default()
                            ),
                        }
                        self.stats.idle_closes.fetch_add(1, Ordering::Relaxed);
                        slot.session.expire(Expiry::Idle);
                        self.begin_close(token, now);
                    }
                }
                None => {}
            }
        }
    }
    // ANCHOR_END: expire

    /// Graceful close, step 1: `shutdown(2)` SHUT_WR sends our FIN; then we read and
    /// discard until the peer's FIN (see `lifecycle::tcp::graceful_close` for why).
    pub(super) fn begin_close(&mut self, token: Token, now: Instant) {
        let Some(slot) = self.slots.get_mut(token) else {
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
            slot.session
                .stream()
                .map_or(lifecycle::TcpState::Unknown, state_of)
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
        if !matches!(drain(slot), Ok(Step::Wait)) {
            self.close(token);
        }
    }

    /// Graceful close, last step: `close(2)`. Dropping the stream closes the fd, and
    /// the kernel removes a closed fd from epoll by itself.
    pub(super) fn close(&mut self, token: Token) {
        if let Some(slot) = self.slots.remove(token) {
            if let Some(out) = slot.outbound {
                self.owners.remove(&out);
            }
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

    // ANCHOR: refused
    /// Keeps a refused connection until its FIN (or a deadline), reading and
    /// discarding, so the refusal we wrote is not destroyed by a reset: closing
    /// with unread bytes in the receive buffer makes the kernel send RST.
    pub(super) fn keep_refused(&mut self, poll: &Poll, mut stream: TcpStream, tuple: FourTuple) {
        if self.refused.len() >= MAX_REFUSED_DRAINING {
            return; // too many at once: this one is closed as it drops
        }
        let token = Token(self.next_token);
        self.next_token += 1;
        if poll
            .registry()
            .register(&mut stream, token, Interest::READABLE)
            .is_err()
        {
            return;
        }
        self.refused.insert(token, Refused { stream, tuple });
        self.deadlines
            .push(Reverse((Instant::now() + DRAIN_TIMEOUT, token)));
        self.drain_refused(token);
    }

    pub(super) fn drain_refused(&mut self, token: Token) {
        let Some(refused) = self.refused.get_mut(&token) else {
            return;
        };
        let mut buf = [0u8; 1024];
        loop {
            match read_some(&mut refused.stream, &mut buf) {
                Ok(None) => return, // wait for more, or for the deadline
                Ok(Some(n)) if n > 0 => continue,
                _ => break, // FIN, or the client is gone
            }
        }
        self.close_refused(token);
    }

    fn close_refused(&mut self, token: Token) {
        if let Some(refused) = self.refused.remove(&token) {
            debug!("[{}] refused connection closed", refused.tuple);
        }
    }
    // ANCHOR_END: refused
}

/// The final drain: reads and discards until the peer's FIN (then `Done`), or until
/// it has sent more than `DRAIN_LIMIT` bytes after our FIN (also `Done`).
pub(super) fn drain<S: Session>(slot: &mut Slot<S>) -> io::Result<Step> {
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
                    state_of(stream)
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
            None => return Ok(Step::Wait),
        }
    }
}
