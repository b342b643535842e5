//! The comparison baseline: the same room built the simple way — a thread per
//! member and one shared list of their sockets behind a `Mutex`.
//!
//! **This is not how `socklab serve chat` works**; it exists so that
//! `socklab bench --fanout` (scripts/bench.sh) can put the event loop beside what
//! most first chat servers look like (lesson 20). Each member's thread reads its
//! lines; for each line it takes the lock and writes the line to every other
//! member's socket, one after another, while holding it. Everything the event
//! loop avoids is here on purpose:
//!
//! - a thread (a stack, a kernel task) per member, mostly asleep in `read(2)`;
//! - one lock for the whole room: two members talking at once take turns;
//! - a member that does not read stalls the writer — and so the lock, and so the
//!   room — until its `write(2)` gives up after [`WRITE_TIMEOUT`] (then it is
//!   dropped). The event loop queues per member instead, and drops past
//!   `--slow-limit` without making anyone wait.
//!
//! Simplified further: TCP members only (no WebSocket, no page), no join or
//! leave notices, no relay.
//!
//! Run: `socklab serve chat --model threads`, then `ncat 127.0.0.1 7070` twice.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lifecycle::tcp::Connection;
use lifecycle::{FourTuple, Shutdown};
use log::{info, warn};
use serve::{Limits, LoopStats};

use crate::room::escape;
use crate::tcp::who;

/// How long one write to one member may block (while holding the room's lock)
/// before that member is dropped as not reading.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Everyone in the room: an id and each member's socket, shared with its thread
/// (`&TcpStream` reads and writes, so one fd serves both: no `dup(2)`, which
/// would double the fds per member).
#[derive(Default)]
pub struct Members {
    list: Mutex<Vec<(u64, Arc<TcpStream>)>>,
    next_id: AtomicU64,
}

/// Serves TCP members on `listener`, a thread each, until `shutdown` fires.
pub fn serve(
    listener: TcpListener,
    shutdown: Shutdown,
    limits: Limits,
    max_line: usize,
) -> io::Result<()> {
    let members = Arc::new(Members::default());
    info!(
        "chat room (--model threads, the comparison baseline): TCP members on {}; no WebSocket side",
        listener.local_addr()?
    );
    let stats = Arc::new(LoopStats::default());
    serve::v2_threads::serve(listener, shutdown, limits, stats, move |conn| {
        member(conn, &members, max_line)
    })
}

// ANCHOR: member
/// One member's thread: join the list, then for each line read, write it to
/// every other member under the lock.
fn member(conn: Connection, members: &Members, max_line: usize) {
    let tuple = conn.tuple();
    let id = members.next_id.fetch_add(1, Ordering::Relaxed);
    let stream = Arc::new(conn.into_std());
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    lock(members).push((id, Arc::clone(&stream)));
    let mut reader = BufReader::new(&*stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        // read(2) until '\n', at most max_line bytes (the rest comes as another line).
        match reader
            .by_ref()
            .take(max_line as u64)
            .read_until(b'\n', &mut line)
        {
            Ok(0) => break, // the member closed: the normal end
            Ok(_) => say(members, id, &tuple, &line),
            Err(e) => {
                warn!("[{tuple}] read failed: {e}");
                break;
            }
        }
    }
    lock(members).retain(|(other, _)| *other != id);
}

/// Writes one line to every member but its sender, holding the room's lock.
fn say(members: &Members, from: u64, tuple: &FourTuple, line: &[u8]) {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches(['\n', '\r']);
    let out = format!("[{}] {}\n", who(tuple), escape(text));
    lock(members).retain_mut(|(id, stream)| {
        *id == from || {
            let ok = (&**stream).write_all(out.as_bytes()).is_ok();
            if !ok {
                warn!("a member did not take a line within {WRITE_TIMEOUT:?}: dropped");
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
            ok
        }
    });
}
// ANCHOR_END: member

/// The list, even if a member's thread panicked while holding it.
fn lock(members: &Members) -> std::sync::MutexGuard<'_, Vec<(u64, Arc<TcpStream>)>> {
    members.list.lock().unwrap_or_else(|e| e.into_inner())
}
