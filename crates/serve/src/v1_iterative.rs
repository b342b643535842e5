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

use lifecycle::tcp::{Connection, accept};
use lifecycle::{Proto, Shutdown};
use log::{info, warn};

use crate::out_of_fds;
use crate::v3_event_loop::ACCEPT_BACKOFF;

// ANCHOR: serve
/// Accepts clients one after another and runs `handle` on each, to the end,
/// until `shutdown` fires.
pub fn serve<H>(listener: TcpListener, shutdown: Shutdown, handle: H) -> io::Result<()>
where
    H: Fn(Connection),
{
    // Freed big buffers go back to the kernel, not to a heap we keep (memory.rs).
    crate::memory::give_back_big_buffers();
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
        // The whole server waits here until this client is done.
        handle(conn);
    }
    info!("shutdown: no longer accepting");
    Ok(())
}
// ANCHOR_END: serve
