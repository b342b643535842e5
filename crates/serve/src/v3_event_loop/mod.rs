//! Version 3: one thread serves many connections — an event loop on mio (epoll on Linux).
//!
//! Version 2 spends a thread per client, and a thread mostly sleeps inside `read()`.
//! Here nobody sleeps inside a socket call: every socket is non-blocking, and one
//! `epoll_wait(2)` (mio's `Poll::poll`) says which sockets are ready. The loop
//! serves exactly those.
//!
//! What a thread kept on its stack, a connection now keeps in a struct (a
//! [`Session`]: compare tcp-echo's `Echo` with its `echo_stream`), and the rules
//! a blocking call enforced for free must be written out:
//!
//! - **Drain until WouldBlock.** Readiness is edge-triggered: reported once per
//!   change, not once per byte. Stop reading early and no second event comes…
//! - **…but not all at once: a budget per turn.** A peer that sends as fast as
//!   we read would keep its socket ready forever, and a loop that drains it to
//!   the end would serve nobody else. So a session reads at most
//!   [`TURN_BUDGET`] bytes per turn, then says [`Step::Yield`]; the loop puts it
//!   on a *still-ready list* and serves it again next turn, *after* everyone
//!   else that is ready — even if a new event names it too. (Without the list
//!   no event would come for it: the bytes are already there.)
//! - **Spurious wake-ups.** An event may come for a socket with nothing to read,
//!   or for a connection already closed. Both are expected.
//! - **Partial writes.** A non-blocking `write()` takes what fits in the send
//!   buffer; the rest waits in the session's queue and goes first.
//! - **Bounded queues (backpressure).** Everything a session queues for its peer
//!   counts — echoes, Pongs, Close replies. Past [`QUEUE_LIMIT`] bytes, or while
//!   the socket says WouldBlock, it stops reading from that peer; TCP's window
//!   then stops the peer. Memory stays bounded, nothing is lost or reordered.
//! - **Two clocks per connection.** *Idle*: no byte from the peer for
//!   `--idle-timeout`. *Write stall*: bytes queued for the peer and none taken
//!   for `--write-stall-timeout` — a peer that sends but never reads is never
//!   idle, and is caught by this one. One heap holds the deadlines; the soonest
//!   is `poll()`'s timeout.
//! - **Limits.** The connection cap (a refusal the client can read: HTTP 503),
//!   and EMFILE on accept answered by pausing accept for [`ACCEPT_BACKOFF`].
//! - **One loop per core.** [`Engine::serve`] runs `--loops` loops (default: one
//!   per core), like nginx's workers; loop 0 accepts and deals connections out.
//! - **A second socket per session.** A bridge connects out to its target and
//!   relays between the two sockets; [`Turn::register_outbound`] puts that
//!   socket in the same epoll set, and its events come to the same session
//!   marked [`Leg::Outbound`].
//! - **A mailbox per loop.** A connection's session may post a message to
//!   another connection, on any loop ([`Mailbox`]): what a chat room needs.
//!
//! Read in this order:
//! - this file: the API and the limits;
//! - `session.rs`: what a session is, [`read_some`]/[`write_some`], [`Tracked`];
//! - `engine.rs`: one loop — poll, serve, yield;
//! - `closing.rs`: expire what is late, close gracefully, keep refused ones;
//! - `slab.rs`: the table of connections, indexed by token;
//! - `loops.rs`: several loops, and how loop 0 hands connections out;
//! - `mailbox.rs`: letters between loops;
//! - `layered.rs`: a byte layer (TLS) between the socket and a session.
//!
//! The loop does not care what protocol runs on a stream: tcp-echo's `Echo` and
//! ws-echo's WebSocket session run on the same loop.
//!
//! Run: `socklab serve tcp`, then several `ncat 127.0.0.1 7007` at once. Watch:
//! `ps -o nlwp= -p $(pgrep socklab)` stays at a few threads however many clients
//! connect.

use std::thread;
use std::time::Duration;

mod closing;
mod engine;
mod layered;
mod loops;
mod mailbox;
mod session;
mod slab;
mod work;

pub use engine::LoopStats;
pub use layered::{Layered, LoopStream};
pub use loops::Engine;
pub use mailbox::{ConnId, MAILBOX_CAPACITY, Mail, Mailbox, PostError};
pub use session::{
    Expiry, Leg, Progress, Readiness, Session, Step, Tracked, Turn, read_some, write_some,
};
pub use work::{WorkClock, WorkReading};

// ANCHOR: budgets
/// The most bytes a session should hold queued for its peer before it stops
/// reading from that peer (backpressure). 1 MiB: big enough that a fast reader
/// never hits it.
pub const QUEUE_LIMIT: usize = 1 << 20;

/// Bytes one connection may read in one turn before the others get theirs:
/// 16 KiB, one read of the loop's buffer. A light client waits at most one turn
/// of each busy one; a bigger budget means fewer `epoll_wait` calls for a bulk
/// transfer, and a longer wait for everyone beside it.
pub const TURN_BUDGET: u64 = 16 * 1024;
// ANCHOR_END: budgets

/// The loop's shared read buffer. Any size works; 16 KiB means few system calls
/// for big transfers.
pub const READ_BUFFER: usize = 16 * 1024;

/// How long accept pauses after EMFILE/ENFILE. The waiting connection stays in the
/// backlog, so retrying at once would fail again at once: a busy loop.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// One event loop per CPU core (what `available_parallelism` reports).
pub fn default_loops() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}
