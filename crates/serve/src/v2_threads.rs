//! Version 2: a thread per connection.
//!
//! The accept loop only accepts; each connection gets its own thread running the
//! protocol's per-connection function (the same one version 1 calls). Clients no
//! longer wait for each other. The cost is a thread (a stack, a kernel task) per
//! client, measured in `scripts/bench.sh`.
//!
//! A connection cap (`--max-connections`) keeps a flood of clients from taking
//! every thread and file descriptor: past it, the next client is accepted, told
//! why (the protocol's refusal, e.g. HTTP 503), and closed at once, so it sees an
//! answer instead of hanging.
//!
//! The same counters as the event loop ([`LoopStats`]: `open`, `refused`,
//! `idle_closes`, `stall_closes`, `peak_pending`), so `--stats-file` says the
//! same things for both models. `open` is counted here, at accept and when a
//! connection's thread ends; the deadlines are each connection's own socket
//! timeouts, met inside the protocol's per-connection function, so that
//! function counts them through [`with_stats`]: the accept loop hands each
//! connection thread the server's counters (a thread-local, set before the
//! protocol runs), and a blocking driver that knows nothing of the engine can
//! still say "closed for the idle deadline".
//!
//! Run: `socklab serve tcp --model threads`, then connect two `nc` clients at once.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;

use lifecycle::narrate::plural;
use lifecycle::tcp::{Connection, accept};
use lifecycle::{Proto, Shutdown};
use log::{info, warn};

use crate::limits::{ConnectionCount, Limits, Place};
use crate::out_of_fds;
use crate::v3_event_loop::{ACCEPT_BACKOFF, LoopStats};

/// How long the accept loop may spend writing a refusal: it must not wait on a
/// client it is turning away. A few hundred bytes always fit a fresh send buffer.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_millis(100);

// ANCHOR: serve
/// The thread-per-connection accept loop, with `per_connection` run on each
/// connection's own thread. tcp-echo, ws-echo and the others pass their own
/// function: the accept loop does not care what protocol runs on the stream.
pub fn serve<F>(
    listener: TcpListener,
    shutdown: Shutdown,
    limits: Limits,
    stats: Arc<LoopStats>,
    per_connection: F,
) -> io::Result<()>
where
    F: Fn(Connection) + Clone + Send + 'static,
{
    // Freed big buffers go back to the kernel, not to a heap we keep (memory.rs).
    crate::memory::give_back_big_buffers();
    // Register for the wake-up poke, then check the flag at the top of every turn:
    // a trigger() that came before this registration poked nobody, and is seen here.
    shutdown.wake_on(Proto::Tcp, listener.local_addr()?);
    let count = ConnectionCount::new();
    while !shutdown.is_triggered() {
        let conn = match accept(&listener) {
            Ok(conn) => conn,
            Err(e) if shutdown.is_triggered() => return Err(e),
            Err(e) => {
                warn!("accept() failed: {e}; still listening");
                if out_of_fds(&e) {
                    stats.accept_pauses.fetch_add(1, Ordering::Relaxed);
                    thread::sleep(ACCEPT_BACKOFF);
                }
                continue;
            }
        };
        if shutdown.is_triggered() {
            // Shutdown::trigger connected to us to wake this accept(): not a client.
            info!("[{}] the shutdown wake-up: closing it", conn.tuple());
            conn.close();
            break;
        }
        let Some(place) = count.enter(limits.max_connections) else {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            refuse(conn, &limits);
            continue;
        };
        // Counted up here and down when the connection's thread ends (or if it
        // never starts): `open` is what is open, not what was at the last accept.
        stats.open.fetch_add(1, Ordering::Relaxed);
        let held = Held {
            _place: place,
            stats: Arc::clone(&stats),
        };
        let tuple = conn.tuple();
        let per_connection = per_connection.clone();
        let spawned = thread::Builder::new()
            .name(format!("conn {}", tuple.peer))
            .spawn(move || {
                // Freed when this thread ends, however it ends.
                let held = held;
                let stats = Arc::clone(&held.stats);
                STATS.with(|s| *s.borrow_mut() = Some(stats));
                per_connection(conn);
            });
        if let Err(e) = spawned {
            // The connection moved into the closure and was closed with it,
            // and its place freed with it.
            warn!("[{tuple}] cannot start a thread: {e}; connection dropped");
        }
    }
    info!("shutdown: no longer accepting");
    Ok(())
}
// ANCHOR_END: serve

thread_local! {
    /// The counters of the server this connection thread serves (None on any
    /// other thread): set once, before the protocol's function runs.
    static STATS: RefCell<Option<Arc<LoopStats>>> = const { RefCell::new(None) };
}

/// Runs `count` on the server's counters if this thread is one of the threads
/// model's connection threads (elsewhere: does nothing, and the event loop
/// counts for itself). A blocking driver calls it where a deadline closes its
/// connection (`idle_closes`, `stall_closes`) and where output queues
/// (`peak_pending`).
pub fn with_stats(count: impl FnOnce(&LoopStats)) {
    STATS.with(|s| {
        if let Some(stats) = s.borrow().as_ref() {
            count(stats);
        }
    });
}

/// A connection's place, freed when its thread ends (normally or by a panic),
/// with the `open` counter brought down.
struct Held {
    _place: Place,
    stats: Arc<LoopStats>,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.stats.open.fetch_sub(1, Ordering::Relaxed);
    }
}

// ANCHOR: refuse
/// Past the cap: say why (the protocol's refusal, if it has one), send FIN and
/// close, so the client is told instead of left waiting. The accept loop must not
/// wait on this client, so every step here is bounded.
fn refuse(mut conn: Connection, limits: &Limits) {
    warn!(
        "[{}] refused: {} already open (--max-connections){}",
        conn.tuple(),
        plural(limits.max_connections, "connection"),
        limits.refusal_words()
    );
    if !limits.refusal.is_empty() {
        let _ = conn.stream().set_write_timeout(Some(REFUSAL_WRITE_TIMEOUT));
        let _ = conn.write_all(limits.refusal);
    }
    let _ = conn.shutdown_write();
    discard_arrived(&mut conn);
    conn.close();
}
// ANCHOR_END: refuse

/// Reads and discards what the client has sent already, without waiting: bytes
/// left unread in our receive buffer would turn close() into a reset, and a reset
/// can destroy the refusal before the client reads it.
pub(crate) fn discard_arrived(conn: &mut Connection) {
    if conn.stream().set_nonblocking(true).is_err() {
        return;
    }
    let mut buf = [0u8; 4096];
    for _ in 0..16 {
        match conn.read(&mut buf) {
            Ok(n) if n > 0 => continue,
            _ => break,
        }
    }
}
