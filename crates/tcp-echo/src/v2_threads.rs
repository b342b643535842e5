//! Version 2: a thread per connection.
//!
//! The accept loop only accepts; each connection gets its own thread running the
//! same per-connection function as version 1. Clients no longer wait for each
//! other. The cost is a thread (a stack, a kernel task) per client, measured in
//! `scripts/bench.sh`.
//!
//! A connection cap (`--max-connections`) keeps a flood of clients from taking
//! every thread and file descriptor: past it, the next client is accepted and
//! closed at once, so it sees an immediate end of stream instead of hanging.
//!
//! Run: `socklab serve tcp --model threads`, then connect two `nc` clients at once.

use std::io;
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use lifecycle::limits::ConnectionCount;
use lifecycle::tcp::{Connection, accept};
use lifecycle::{Limits, Proto, Shutdown};
use log::{info, warn};

use crate::{handle, out_of_fds};

/// Serves TCP echo with a thread per connection until `shutdown` fires.
pub fn serve(listener: TcpListener, shutdown: Shutdown, limits: Limits) -> io::Result<()> {
    serve_with(listener, shutdown, limits, move |conn| {
        handle(conn, &limits)
    })
}

// ANCHOR: serve
/// The thread-per-connection accept loop, with `per_connection` run on each
/// connection's own thread. ws-echo reuses it with its own function: the accept
/// loop does not care what protocol runs on the stream.
pub fn serve_with<F>(
    listener: TcpListener,
    shutdown: Shutdown,
    limits: Limits,
    per_connection: F,
) -> io::Result<()>
where
    F: Fn(Connection) + Clone + Send + 'static,
{
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
                    thread::sleep(Duration::from_millis(100));
                }
                continue;
            }
        };
        if shutdown.is_triggered() {
            info!("[{}] the shutdown wake-up: closing it", conn.tuple());
            conn.close();
            break;
        }
        let Some(place) = count.enter(limits.max_connections) else {
            refuse(conn, limits.max_connections);
            continue;
        };
        let tuple = conn.tuple();
        let per_connection = per_connection.clone();
        let spawned = thread::Builder::new()
            .name(format!("conn {}", tuple.peer))
            .spawn(move || {
                let _place = place; // freed when this thread ends, however it ends
                per_connection(conn);
            });
        if let Err(e) = spawned {
            // The connection moved into the closure and was closed with it.
            warn!("[{tuple}] cannot start a thread: {e}; connection dropped");
        }
    }
    info!("shutdown: no longer accepting");
    Ok(())
}
// ANCHOR_END: serve

/// Past the cap: send FIN at once and close, so the client is told instead of
/// left waiting. (No drain here: the accept loop must not wait on this client.)
fn refuse(conn: Connection, max: usize) {
    warn!(
        "[{}] refused: {max} connections already open (--max-connections)",
        conn.tuple()
    );
    let _ = conn.shutdown_write();
    conn.close();
}
