//! Version 3: one thread serves many connections — an event loop on mio (epoll on Linux).
//!
//! Version 2 spends a thread per client, and a thread mostly sleeps inside `read()`.
//! Here nobody sleeps inside a socket call: every socket is non-blocking, and one
//! `epoll_wait(2)` (mio's `Poll::poll`) says which sockets are ready. The loop
//! serves exactly those, until each says `WouldBlock` ("nothing more now").
//!
//! What a thread kept on its stack, a connection now keeps in a struct ([`Echo`]
//! below: compare it with v2's `echo_stream`), and the rules a blocking call
//! enforced for free must be written out:
//!
//! - **Drain until WouldBlock.** Readiness is edge-triggered: reported once per
//!   change, not once per byte. Stop reading early and no second event comes.
//! - **Spurious wake-ups.** An event may come for a socket with nothing to read,
//!   or for a connection already closed. Both are expected.
//! - **Partial writes.** A non-blocking `write()` takes what fits in the send
//!   buffer; the rest waits in the connection's pending buffer and goes first.
//! - **Backpressure.** Past [`MAX_PENDING`] unsent bytes we stop reading from a
//!   peer that does not read its echo; TCP's window then stops the peer. Memory
//!   stays bounded, and no byte is lost or reordered.
//! - **Deadlines without threads.** One heap of deadlines; the soonest one is
//!   `poll()`'s timeout.
//! - **Limits.** The connection cap, and EMFILE on accept answered by pausing
//!   accept for [`ACCEPT_BACKOFF`] instead of spinning.
//! - **One loop per core.** [`serve_with`] runs `--loops` loops (default: one per
//!   core), like nginx's workers; loop 0 accepts and deals connections out.
//!
//! Where it simplifies: a peer that sends exactly as fast as we echo keeps its
//! connection's turn going until its socket runs dry; production loops cap the
//! work per event so no connection can hog the thread.
//!
//! Read in this order:
//! - this file: the API and the echo itself, a [`Session`];
//! - `session.rs`: what a session is, [`read_some`]/[`write_some`], [`Tracked`];
//! - `engine.rs`: one loop — poll, serve, expire, close gracefully;
//! - `loops.rs`: several loops, and how loop 0 hands connections out.
//!
//! The loop does not care what protocol runs on a stream: ws-echo's event loop is
//! the same loop with a WebSocket session.
//!
//! Run: `socklab serve tcp --model event-loop`, then several `nc 127.0.0.1 7007`
//! at once. Watch: `ps -o nlwp= -p $(pgrep socklab)` stays at a few threads
//! however many clients connect.

use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use lifecycle::{FourTuple, Limits, Shutdown};
use log::info;
use mio::net::TcpStream;

use crate::READ_BUFFER;

mod engine;
mod loops;
mod session;

pub use engine::LoopStats;
pub use loops::serve_with;
pub use session::{Readiness, Session, Step, Tracked, read_some, write_some};

/// The most unsent echo one connection may hold before we stop reading from it
/// (backpressure). 1 MiB: big enough that a fast reader never hits it.
pub const MAX_PENDING: usize = 1 << 20;

/// How long accept pauses after EMFILE/ENFILE. The waiting connection stays in the
/// backlog, so retrying at once would fail again at once: a busy loop.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A drained pending buffer bigger than this is freed rather than kept, so a burst
/// on one connection does not pin memory for the rest of its life.
const KEEP_CAPACITY: usize = 4 * READ_BUFFER;

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
