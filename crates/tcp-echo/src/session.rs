//! The TCP echo as an event-loop session: [`crate::echo_stream`] with its state
//! written out, for `serve`'s version 3.
//!
//! A thread running `echo_stream` keeps everything on its stack and sleeps in
//! `read()` and `write()`. On the event loop nobody sleeps, so what the stack
//! held lives in [`Echo`]: the bytes read but not yet written back, and whether
//! the peer has sent FIN. The rules the loop needs from every session (see
//! `serve::v3_event_loop`) are kept here in three lines each: older bytes go
//! first; past [`QUEUE_LIMIT`] unsent bytes we stop reading (backpressure); past
//! the turn's budget we yield to the other connections (fairness). And one
//! rule shared with every connection of the server: the echo queued for a peer
//! is charged to `--memory-budget` before it is allocated; when the budget is
//! spent, a connection that would have to queue stops reading (backpressure
//! again: TCP's window tells the peer to wait) until its peer takes some, and a
//! peer that never does is closed by the write-stall clock.
//!
//! Run: `socklab serve tcp` (the event loop is the default), then `ncat 127.0.0.1 7007`.

use std::io;

use lifecycle::FourTuple;
use lifecycle::narrate::plural;
use log::{info, warn};
use mio::net::TcpStream;
use serve::limits::Held;
use serve::v3_event_loop::{
    LoopStream, Progress, QUEUE_LIMIT, READ_BUFFER, Readiness, Session, Step, Tracked, Turn,
    read_some, write_some,
};

/// A drained queue bigger than this is freed rather than kept, so a burst on one
/// connection does not pin memory for the rest of its life.
const KEEP_CAPACITY: usize = 4 * READ_BUFFER;

// ANCHOR: echo
/// The TCP echo as an event-loop session: `echo_stream` with its state written out.
///
/// `S` is what it reads and writes: the socket itself ([`Tracked`]), or the
/// socket with TLS in between (`serve::v3_event_loop::Layered`) — the echo is
/// the same.
pub struct Echo<S = Tracked> {
    stream: S,
    tuple: FourTuple,
    /// Bytes read but not yet written back; the first `offset` of them are sent.
    pending: Vec<u8>,
    offset: usize,
    /// The peer sent FIN: nothing more will arrive, but its echo must still go out.
    peer_fin: bool,
    /// Bytes echoed (under a layer, the socket moved more: the layer's own).
    echoed: u64,
    /// This connection's share of the server's memory budget: the room the
    /// queue takes up, and the layer's own queue.
    held: Held,
    /// Reading stopped because the budget is spent (said once per episode).
    starved: bool,
}

impl Echo {
    /// A session for a freshly accepted connection, its queue charged to `held`.
    pub fn new(stream: TcpStream, tuple: FourTuple, held: Held) -> Echo {
        Echo::over(Tracked::new(stream, tuple), tuple, held)
    }
}

impl<S: LoopStream> Echo<S> {
    /// A session echoing over `stream` (a layer over the socket, say TLS).
    pub fn over(stream: S, tuple: FourTuple, held: Held) -> Echo<S> {
        Echo {
            stream,
            tuple,
            pending: Vec::new(),
            offset: 0,
            peer_fin: false,
            echoed: 0,
            held,
            starved: false,
        }
    }

    fn unsent(&self) -> usize {
        self.pending.len() - self.offset
    }

    /// The queue's capacity once `more` bytes join it: grown by doubling (as
    /// `Vec` would), never past what the queue limit needs.
    fn room_for(&self, more: usize) -> usize {
        let (need, cap) = (self.pending.len() + more, self.pending.capacity());
        if need <= cap {
            return cap;
        }
        (cap * 2).min(QUEUE_LIMIT + READ_BUFFER).max(need)
    }

    /// Charges what this connection holds when `more` bytes join its queue,
    /// before they do: false when that would pass the budget.
    fn reserve(&mut self, more: usize) -> bool {
        let wanted = self.room_for(more) + self.stream.queued();
        match self.held.set(wanted) {
            Ok(()) => {
                self.starved = false;
                true
            }
            Err(over) => {
                if !std::mem::replace(&mut self.starved, true) {
                    warn!(
                        "[{}] memory budget: {} of echo queued, {} held by all, over --memory-budget {} bytes: not reading until the peer takes some",
                        self.tuple,
                        plural(self.unsent(), "byte"),
                        over.used,
                        over.cap
                    );
                }
                false
            }
        }
    }

    /// Tells the budget what this connection holds now: after writes, less.
    /// (A layer's queue can grow by what was just sealed, at most a record's
    /// flight, while the socket is full; if that passes the budget the old
    /// figure stays, and step 4 reads nothing more until it is written.)
    fn settle(&mut self) {
        let holding = self.pending.capacity() + self.stream.queued();
        let _ = self.held.set(holding);
    }

    /// Writes `bytes` until they are all out or the socket says WouldBlock;
    /// returns how many went out.
    fn write_out(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut sent = 0;
        while sent < bytes.len() {
            match write_some(&mut self.stream, &bytes[sent..])? {
                Some(n) => {
                    sent += n;
                    self.echoed += n as u64;
                }
                None => break, // the send buffer is full: Tracked remembers
            }
        }
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

impl<S: LoopStream> Session for Echo<S> {
    fn ready(&mut self, ready: Readiness, turn: &mut Turn<'_>) -> io::Result<Step> {
        self.stream.on_event(ready);
        let start = self.stream.progress().read;
        loop {
            // 1. Older bytes first: whatever is pending goes out before anything new.
            if self.unsent() > 0 && !self.stream.write_blocked() {
                self.flush_pending()?;
            }
            // 2. Read more, unless the peer is finished or we hold too much of its
            //    echo: then we stop reading (backpressure) until a writable event
            //    lets step 1 drain the queue, and this loop reads again.
            if self.peer_fin || self.unsent() >= QUEUE_LIMIT {
                break;
            }
            // 3. Fairness: this turn's budget is spent; the others go first.
            if self.stream.progress().read - start >= turn.budget {
                self.settle();
                return Ok(Step::Yield);
            }
            // 4. Memory: what we read may have to wait in the queue (it is not
            //    empty, or the socket is full): charge the room first. Spent:
            //    stop reading; the writable event that drains the queue (or
            //    the write-stall clock) comes back here.
            let queueing = self.unsent() > 0 || self.stream.write_blocked();
            if queueing && !self.reserve(turn.scratch.len()) {
                break;
            }
            let n = match read_some(&mut self.stream, turn.scratch)? {
                None => break, // WouldBlock: drained; wait for the next event
                Some(0) => {
                    self.peer_fin = true;
                    continue; // step 1 may still have echo to send
                }
                Some(n) => n,
            };
            // 5. Echo it at once if nothing older is waiting; what the socket does
            //    not take is kept, behind the older bytes, never ahead of them.
            let sent = if self.unsent() == 0 && !self.stream.write_blocked() {
                self.write_out(&turn.scratch[..n])?
            } else {
                0
            };
            if sent < n {
                // The socket took part of it: the rest waits. Charged in step 4
                // when waiting was foreseen; else now, and kept even past the
                // budget (these bytes are read: dropping them would lose them):
                // at most one read over, and step 4 reads no more until the
                // queue drains below it.
                let room = self.room_for(n - sent);
                if !queueing && !self.reserve(n - sent) {
                    self.held.set_anyway(room + self.stream.queued());
                }
                // Grown to exactly the room charged, not by Vec's own rule.
                self.pending.reserve_exact(room - self.pending.len());
                self.pending.extend_from_slice(&turn.scratch[sent..n]);
            }
        }
        self.settle();
        if self.peer_fin && self.unsent() == 0 {
            // A layer says its goodbye (TLS close_notify) before our FIN.
            if !self.stream.end()? {
                return Ok(Step::Wait);
            }
            info!(
                "[{}] done: echoed {}",
                self.tuple,
                plural(self.echoed, "byte")
            );
            return Ok(Step::Done);
        }
        Ok(Step::Wait)
    }

    fn stream(&self) -> Option<&TcpStream> {
        Some(self.stream.get_ref())
    }

    fn progress(&self) -> Progress {
        self.stream.progress()
    }

    fn read_closed(&self) -> bool {
        self.peer_fin
    }

    fn pending(&self) -> usize {
        self.unsent() + self.stream.queued()
    }

    fn opening_deadline(&self) -> Option<std::time::Duration> {
        self.stream.opening_deadline()
    }
}
// ANCHOR_END: echo
