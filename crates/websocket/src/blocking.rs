//! A WebSocket with blocking sockets: the [`Machine`] driven by `read()` and
//! `write()` that wait, for `serve`'s v1 (iterative) and v2 (a thread per
//! connection), for any program's [`Handler`].
//!
//! Diff this with `session.rs`: the same machine, the same decisions and
//! log lines; only *how we wait* differs. Here the kernel's socket timeouts are
//! the deadlines: SO_RCVTIMEO for the request (what is left of the handshake
//! timeout) and then the idle timeout, SO_SNDTIMEO for the write stall.
//!
//! Run: `socklab serve ws --model threads`.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use lifecycle::narrate::plural;
use lifecycle::tcp::{graceful_close, is_disconnect, is_timeout};
use log::{info, warn};
use serve::layer::BlockingStream;
use serve::limits::{Held, Limits};
use serve::v2_threads::with_stats;
use serve::v3_event_loop::Expiry;

use crate::handler::{Handler, Settings};
use crate::machine::Machine;

/// tungstenite's read buffer per connection with a thread each (4 KiB): a
/// thread's stack costs more anyway, and bigger reads mean fewer calls.
pub const THREAD_READ_BUFFER: usize = 4 * 1024;

/// How a blocking connection ended, for the close that follows.
enum Ending {
    /// The protocol finished (or the peer went away): close gracefully.
    Finished,
    /// The peer does not read: a drain would protect bytes it will never read,
    /// so close at once.
    Stalled,
}

// ANCHOR: handle
/// Serves one accepted connection from the request to the close, blocking.
///
/// Every way a connection can end is expected here and logged as what it is; none
/// of them can stop the server. `conn` is the accepted socket (ws://) or TLS
/// over it (wss://): the machine is the same.
pub fn handle<H: Handler>(
    mut conn: impl BlockingStream,
    settings: &Arc<Settings>,
    limits: &Limits,
    held: Held,
    handler: H,
) {
    let mut machine = Machine::new(conn.tuple(), Arc::clone(settings), held, handler);
    match drive(&mut conn, &mut machine, settings.handshake_timeout, limits) {
        // A layer says its goodbye (TLS close_notify) first, then FIN.
        Ending::Finished => graceful_close(conn.finish()),
        Ending::Stalled => conn.finish().close(),
    }
}
// ANCHOR_END: handle

// ANCHOR: drive
/// Moves bytes between the socket and the machine until the machine is done.
fn drive<H: Handler>(
    conn: &mut impl BlockingStream,
    machine: &mut Machine<H>,
    handshake: Duration,
    limits: &Limits,
) -> Ending {
    let tuple = conn.tuple();
    let opened_by = Instant::now() + handshake;
    let mut buf = vec![0u8; THREAD_READ_BUFFER];
    // The socket timeouts last set (SO_RCVTIMEO, SO_SNDTIMEO), if any.
    let mut set: Option<(Option<Duration>, Option<Duration>)> = None;
    // The most this connection has queued for its peer so far.
    let mut peak = 0;
    loop {
        // 1. Write everything the machine queued; write() waits for room, at
        //    most the write-stall timeout without progress (SO_SNDTIMEO).
        // The threads model's counters, as the event loop keeps them (a no-op
        // on any thread that is not a threads-model connection thread).
        // Only when this connection's own peak grows: a fetch_max per message
        // would write a line that every connection thread shares.
        let queued = machine.output().len();
        if queued > peak {
            peak = queued;
            with_stats(|s| {
                s.peak_pending.fetch_max(queued, Ordering::Relaxed);
            });
        }
        while !machine.output().is_empty() {
            let started = Instant::now();
            let wrote = conn.write(machine.output());
            // A write that returned only after the whole stall timeout took its
            // bytes at once and then waited for room: stalled too (SO_SNDTIMEO
            // alone would restart the clock for the next write).
            let stalled = |t: Duration| started.elapsed() >= t;
            let wrote = match wrote {
                Ok(n) if n < machine.output().len() && limits.write_stall.is_some_and(stalled) => {
                    machine.sent(n);
                    Err(io::ErrorKind::TimedOut.into())
                }
                other => other,
            };
            match wrote {
                Ok(n) => machine.sent(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_timeout(&e) => {
                    info!(
                        "[{tuple}] {} queued and none taken for {:?} (--write-stall-timeout): closing",
                        plural(machine.output().len(), "byte"),
                        limits.write_stall.unwrap_or_default()
                    );
                    with_stats(|s| {
                        s.stall_closes.fetch_add(1, Ordering::Relaxed);
                    });
                    machine.expire(Expiry::Stalled);
                    return Ending::Stalled;
                }
                Err(e) => {
                    log_end(tuple, &e);
                    return Ending::Finished;
                }
            }
        }
        if machine.is_done() {
            return Ending::Finished;
        }
        // 2. Read; read() waits for a byte at most what is left of the handshake
        //    timeout, then the idle timeout (SO_RCVTIMEO).
        let wait = if machine.is_open() {
            limits.idle_timeout
        } else {
            Some(
                opened_by
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1)),
            )
        };
        // Two setsockopt(2) calls, made only when the timeouts change: on every
        // read while the connection opens (the handshake's time left shrinks),
        // once when it is open (the idle timeout stays the same from then on).
        // Per message they were two system calls of pure bookkeeping.
        let timeouts = (wait, limits.write_stall);
        if set != Some(timeouts) {
            match conn.set_timeouts(wait, limits.write_stall) {
                Ok(()) => set = Some(timeouts),
                Err(e) => warn!("[{tuple}] cannot set the socket timeouts: {e}"),
            }
        }
        match conn.read(&mut buf) {
            Ok(0) => machine.peer_closed(),
            Ok(n) => machine.receive(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // The deadline: the machine queues its last words (408 or 1001),
            // and step 1 writes them.
            // Counted as the event loop counts it: the handshake deadline and
            // the idle one are both `idle_closes`.
            Err(e) if is_timeout(&e) => {
                with_stats(|s| {
                    s.idle_closes.fetch_add(1, Ordering::Relaxed);
                });
                machine.expire(Expiry::Idle);
            }
            Err(e) => {
                log_end(tuple, &e);
                return Ending::Finished;
            }
        }
    }
}
// ANCHOR_END: drive

/// A socket error ends the connection: a vanished peer is normal, the rest is logged.
fn log_end(tuple: lifecycle::FourTuple, e: &io::Error) {
    if is_disconnect(e) {
        info!("[{tuple}] the peer went away: {e}");
    } else {
        warn!("[{tuple}] connection failed: {e}");
    }
}
