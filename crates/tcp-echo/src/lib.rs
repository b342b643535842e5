//! A bare TCP echo server (RFC 862): every byte a client sends comes straight back.
//!
//! Echo is the smallest protocol there is, so everything you see in the log is the
//! socket itself. This crate is only the protocol; *how the server waits* is the
//! `serve` crate's, in three versions, each fixing what the one before cannot do:
//! v1 iterative (one client at a time), v2 a thread per connection, v3 mio event
//! loops (`--model iterative|threads|event-loop`).
//!
//! v1 and v2 call the same per-connection function, [`handle`] → [`echo_stream`];
//! v3 runs the same echo written as a state machine, [`session::Echo`]. Compare
//! it with `udp_echo::echo_datagrams` and `ws_echo::echo_messages`: same shape,
//! different unit — bytes, datagrams, messages.
//!
//! Run: `cargo run -p tcp-echo` (or `socklab serve tcp`), then `nc 127.0.0.1 7007`,
//! type a line, and watch `RUST_LOG=info` narrate every system call.
#![deny(missing_docs)]

pub mod cli;
pub mod session;

use std::io;
use std::net::TcpListener;
use std::time::Duration;

use lifecycle::Shutdown;
use lifecycle::narrate::plural;
use lifecycle::tcp::{Connection, graceful_close, is_disconnect, is_timeout};
use log::{info, warn};
use serve::layer::{Blocking, BlockingStream, Layer, MakeLayer};
use serve::v3_event_loop::{Layered, Tracked};
use serve::{Engine, Handshakes, Limits, MemoryBudget, Model};

use crate::session::Echo;

/// The default address: RFC 862 gives echo port 7, which needs root; 7007 does not.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7007";

/// How much one `read()` may return. Any size works — TCP is a stream, and a
/// message may be split across reads or several merged into one — 16 KiB just
/// means fewer system calls for big transfers.
pub const READ_BUFFER: usize = 16 * 1024;

/// Serves TCP echo on `listener` until `shutdown` fires, the way `model` waits.
pub fn serve(
    model: Model,
    listener: TcpListener,
    shutdown: Shutdown,
    limits: Limits,
    engine: Engine,
) -> io::Result<()> {
    // A bare TCP client past the cap gets no words, just our FIN: TCP has no
    // way to say why. The log says it.
    let limits = Limits {
        refusal: b"",
        ..limits
    };
    let handle = move |conn| self::handle(conn, &limits);
    let budget = MemoryBudget::new(limits.memory_budget);
    let start = move |stream, tuple| Echo::new(stream, tuple, budget.account());
    serve::serve(model, listener, shutdown, limits, engine, handle, start)
}

// ANCHOR: serve_layered
/// Serves the same echo with a byte layer under it (TLS: `socklab serve tls`):
/// `layer` makes one per connection, whose handshake must be done within
/// `handshakes`' deadline, under its cap of unfinished ones. The echo itself is [`echo_stream`] and [`Echo`], unchanged.
pub fn serve_layered<L: Layer>(
    model: Model,
    listener: TcpListener,
    shutdown: Shutdown,
    limits: Limits,
    engine: Engine,
    layer: impl MakeLayer<L>,
    handshakes: Handshakes,
) -> io::Result<()> {
    let limits = Limits {
        refusal: b"",
        ..limits
    };
    // Silent handshakes never get more than half the places (serve::handshakes).
    let handshakes = handshakes.within(limits.max_connections);
    let (make, hs) = (layer.clone(), handshakes.clone());
    let handle = move |conn: Connection| {
        let tuple = conn.tuple();
        if let Some(stream) = Blocking::accept(conn, make(tuple), &hs) {
            self::handle(stream, &limits);
        }
    };
    let budget = MemoryBudget::new(limits.memory_budget);
    let start = move |stream, tuple| {
        let layered = Layered::new(Tracked::new(stream, tuple), layer(tuple), &handshakes);
        Echo::over(layered, tuple, budget.account())
    };
    serve::serve(model, listener, shutdown, limits, engine, handle, start)
}
// ANCHOR_END: serve_layered

// ANCHOR: echo_stream
/// Echoes until the peer sends FIN: read some bytes, write the same bytes back.
///
/// Returns how many bytes were echoed. There are no messages here: a read returns
/// whatever the kernel has buffered, which may be part of what the client wrote,
/// or several of its writes run together.
pub fn echo_stream(conn: &mut impl BlockingStream, stall: Option<Duration>) -> io::Result<u64> {
    let mut buf = [0u8; READ_BUFFER];
    let mut echoed = 0;
    loop {
        let n = match conn.read(&mut buf) {
            // 0 bytes: the peer sent FIN and will send nothing more. Not an error.
            Ok(0) => return Ok(echoed),
            Ok(n) => n,
            // A signal arrived during read() (EINTR): nothing was lost; try again.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        // write() may take fewer bytes than offered: loop until all n bytes are
        // in the kernel's send buffer — unless the peer takes nothing for
        // `stall` (it does not read): then give up (TimedOut).
        conn.write_all_or_stall(&buf[..n], stall)?;
        echoed += n as u64;
    }
}
// ANCHOR_END: echo_stream

// ANCHOR: handle
/// Serves one connection from accept to close: echo, then a graceful close.
///
/// Every way a connection can end is expected here and logged as what it is; none
/// of them can stop the server.
///
/// `conn` is the accepted socket, or a layer over it (TLS): the echo is the same.
pub fn handle(mut conn: impl BlockingStream, limits: &Limits) {
    let tuple = conn.tuple();
    if let Err(e) = conn.set_timeouts(limits.idle_timeout, limits.write_stall) {
        warn!("[{tuple}] cannot set the idle timeout: {e}");
    }
    match echo_stream(&mut conn, limits.write_stall) {
        Ok(bytes) => info!("[{tuple}] done: echoed {}", plural(bytes, "byte")),
        Err(e) if is_timeout(&e) => {
            info!(
                "[{tuple}] no byte from the peer for {:?} (--idle-timeout), or none of our \
                 echo taken for {:?} (--write-stall-timeout): closing",
                limits.idle_timeout.unwrap_or_default(),
                limits.write_stall.unwrap_or_default()
            );
            // The threads model's counters: which deadline it was, as the event
            // loop tells them apart.
            serve::v2_threads::with_stats(|s| {
                let which = if e.kind() == io::ErrorKind::TimedOut {
                    &s.stall_closes
                } else {
                    &s.idle_closes
                };
                which.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            });
        }
        Err(e) if is_disconnect(&e) => info!("[{tuple}] the peer went away: {e}"),
        Err(e) => warn!("[{tuple}] connection failed: {e}"),
    }
    // A layer says its goodbye (TLS close_notify) first, then FIN.
    graceful_close(conn.finish());
}
// ANCHOR_END: handle
