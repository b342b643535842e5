//! How a server waits, in one place, whatever protocol it speaks.
//!
//! A server does two things: it speaks a protocol (echo bytes, answer an HTTP
//! Upgrade, relay chat lines) and it *waits* — for a client to connect, for
//! bytes to arrive, for room to send. The protocols live in their own crates
//! (tcp-echo, ws-echo, …); this crate is the waiting, three ways, each version
//! fixing what the one before cannot do:
//!
//! - [`v1_iterative`]: accept one client, serve it to the end, accept the next.
//!   While one client is connected, the next waits in the kernel's backlog.
//! - [`v2_threads`]: a thread per connection, so clients no longer wait for each
//!   other; a thread costs a stack and a kernel task.
//! - [`v3_event_loop`]: one thread for many connections (one loop per core),
//!   woken by epoll (mio) only for sockets that are ready, with the rules a
//!   blocking call enforced for free written out: budgets so one busy peer cannot
//!   starve the rest, bounded queues, deadlines, and a mailbox per loop so one
//!   connection can hand a message to another (a chat room, a broadcast).
//!
//! A protocol gives v1 and v2 a function run on each accepted
//! [`lifecycle::tcp::Connection`], and v3 a [`v3_event_loop::Session`]: the same
//! protocol written as a state machine. [`serve`] picks the version by [`Model`].
//!
//! # Layout
//!
//! - [`layer`]: a byte layer between the socket and the protocol (TLS, from the
//!   `tls` crate), driven blocking ([`layer::Blocking`]) or by the event loop
//!   ([`v3_event_loop::Layered`]); the protocol's code does not change.
//! - [`handshakes`]: unfinished handshakes (TLS) under a small cap of their
//!   own, the oldest closed first when it is full, so silent ClientHellos
//!   cannot hold every place under the connection cap.
//! - [`limits`]: the connection cap, idle and write-stall deadlines, the memory
//!   budget, and their flags.
//! - [`memory`]: the allocator told to give big buffers back when they are
//!   freed, so RSS falls back after a burst (every model sets it as it starts).
//! - [`running`]: a server on a thread of this process, bound to port 0, stopped
//!   on drop — what `socklab tour`, `compare` and the tests start.
//! - [`stats_file`]: `--stats-file`, the counters of every engine and budget in
//!   the process rewritten as JSON, for scripts watching from outside.
#![deny(missing_docs)]

pub mod handshakes;
pub mod layer;
pub mod limits;
pub mod memory;
pub mod running;
pub mod stats_file;
pub mod v1_iterative;
pub mod v2_threads;
pub mod v3_event_loop;

use std::io;
use std::net::TcpListener;

use lifecycle::tcp::Connection;
use lifecycle::{FourTuple, Shutdown};
use mio::net::TcpStream;

pub use handshakes::{HandshakeStats, Handshakes};
pub use limits::{LimitArgs, Limits, MemoryBudget};
pub use running::Running;
pub use v3_event_loop::{Engine, LoopStats};

/// How a server runs its connections: the three versions, one flag (`--model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Model {
    /// v1: one client at a time (the next waits in the backlog)
    Iterative,
    /// v2: a thread per connection
    Threads,
    /// v3: mio event loops, one thread each, one per core (--loops)
    EventLoop,
}

/// Serves `listener` until `shutdown` fires, with the version `model` names.
///
/// `handle` serves one connection start to end (v1 and v2 call it: v1 on the
/// accepting thread, v2 on a thread of the connection's own); `start` makes the
/// same protocol's event-loop session for a fresh connection (v3). `engine`
/// holds the loops v3 runs on (and their counters and mailbox).
pub fn serve<H, F, S>(
    model: Model,
    listener: TcpListener,
    shutdown: Shutdown,
    limits: Limits,
    engine: Engine,
    handle: H,
    start: F,
) -> io::Result<()>
where
    H: Fn(Connection) + Clone + Send + 'static,
    F: FnMut(TcpStream, FourTuple) -> S + Clone + Send + 'static,
    S: v3_event_loop::Session,
{
    match model {
        Model::Iterative => {
            // One client at a time needs no cap: the others wait in the backlog.
            log::info!(
                "--model iterative serves one client at a time; --max-connections does not apply"
            );
            v1_iterative::serve(listener, shutdown, handle)
        }
        Model::Threads => v2_threads::serve(listener, shutdown, limits, engine.stats(), handle),
        Model::EventLoop => engine.serve(listener, shutdown, limits, start),
    }
}

/// Whether an `accept()` error means we ran out of file descriptors (EMFILE or
/// ENFILE). The connection stays in the backlog, so retrying at once would spin:
/// the servers wait a moment instead.
pub fn out_of_fds(e: &io::Error) -> bool {
    // 23 = ENFILE (system-wide table full), 24 = EMFILE (our per-process limit).
    matches!(e.raw_os_error(), Some(23 | 24))
}
