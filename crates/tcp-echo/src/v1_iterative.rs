//! Version 1: the iterative server — one client at a time.
//!
//! The shortest correct server: accept, serve until the client leaves, accept again.
//! Its flaw is the lesson: connect two `nc` clients and the second one's bytes
//! are not echoed until the first disconnects. The kernel completed the second
//! handshake (it is ESTABLISHED, waiting in the backlog) but nobody calls `read()`
//! on it. Version 2 fixes that with threads.
//!
//! Run: `socklab serve tcp --model iterative`.

use std::io;
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use lifecycle::tcp::accept;
use lifecycle::{Limits, Proto, Shutdown};
use log::{info, warn};

use crate::{handle, out_of_fds};

// ANCHOR: serve
/// Accepts and serves clients one after another until `shutdown` fires.
pub fn serve(listener: TcpListener, shutdown: Shutdown, limits: Limits) -> io::Result<()> {
    // Register for the wake-up poke, then check the flag at the top of every turn:
    // a trigger() that came before this registration poked nobody, and is seen here.
    shutdown.wake_on(Proto::Tcp, listener.local_addr()?);
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
            break;
        }
        // The whole server waits here until this client is done.
        handle(conn, &limits);
    }
    info!("shutdown: no longer accepting");
    Ok(())
}
// ANCHOR_END: serve
