//! Connections as the load, not messages: how many a server takes per second,
//! and whether it gets its file descriptors back after a storm.
//!
//! [`churn`] opens a connection, sends one small message, reads its echo and
//! closes, again and again, for a bounded time and count: the cost measured is
//! the server's per-connection work (accept, narration, the kernel-state reads,
//! close), not its per-message work. [`storm`] opens many connections at once,
//! holds them until all are open, then drops them all together, like a crowd of
//! clients that vanish; the caller watches the server's fds come back.
//!
//! With [`Use::Handshake`], a connection is only opened and closed: connect,
//! the TLS handshake (tls, wss), the Upgrade (ws, wss), the close. That is
//! handshakes per second, what TLS costs a server per connection.
//!
//! Run through the `churn` binary: `churn tcp://127.0.0.1:7007 --secs 2`,
//! `churn tcp://127.0.0.1:7007 --storm 2000`, or `churn wss://127.0.0.1:8443/
//! --handshakes --cacert PATH`.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use tungstenite::{Bytes, Message};

use crate::secure::{self, Stream};
use crate::{Kind, REPLY_TIMEOUT, Target};

/// Most connections one churn run opens, whatever the time says: a hard bound.
pub const MAX_CHURN: u64 = 1_000_000;

/// Threads that open the storm's connections in parallel.
const STORM_OPENERS: usize = 8;

/// The message each churned connection sends once.
const HELLO: &[u8] = b"hello\n";

/// What each churned connection does between its connect and its close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// One small message and its echo.
    Echo,
    /// Nothing: the handshakes (TLS, Upgrade) and the close only.
    Handshake,
}

/// What a churn run measured.
#[derive(Debug, Clone, Default)]
pub struct ChurnReport {
    /// Connections opened, used and closed without an error.
    pub connections: u64,
    /// Those per second.
    pub per_sec: f64,
    /// Connections that failed.
    pub errors: u64,
    /// The first failure, to say what went wrong.
    pub first_error: Option<String>,
}

/// Opens, uses once (as `how` says) and closes connections one after another
/// for `duration` (at most [`MAX_CHURN`] of them).
pub fn churn(target: &Target, duration: Duration, how: Use) -> ChurnReport {
    let mut report = ChurnReport::default();
    let started = Instant::now();
    while report.connections + report.errors < MAX_CHURN && started.elapsed() < duration {
        match once(target, how) {
            Ok(()) => report.connections += 1,
            Err(e) => {
                report.errors += 1;
                report.first_error.get_or_insert(e.to_string());
            }
        }
    }
    report.per_sec = report.connections as f64 / started.elapsed().as_secs_f64().max(1e-9);
    report
}

/// One connection: connect (and TLS), one message and its echo (or not), close.
fn once(target: &Target, how: Use) -> io::Result<()> {
    let mut stream = secure::connect(target)?;
    match target.kind {
        Kind::Tcp if how == Use::Handshake => {
            // TLS says goodbye first (close_notify), then dropping sends FIN.
            if let Stream::Tls(tls) = &mut stream {
                tls.conn.send_close_notify();
                tls.flush()?;
            }
            Ok(())
        }
        Kind::Tcp => {
            stream.write_all(HELLO)?;
            let mut echo = [0u8; HELLO.len()];
            stream.read_exact(&mut echo)?;
            crate::check(echo == HELLO)
            // Dropping the stream closes it: the client's FIN comes first.
        }
        Kind::Ws => {
            let (mut ws, _) = tungstenite::client(target.url.as_str(), stream)
                .map_err(|e| io::Error::other(format!("handshake: {e}")))?;
            if how == Use::Echo {
                echo_ws(&mut ws)?;
            }
            // The closing handshake, whole: our Close, the server's Close back.
            // Bounded: each read waits at most REPLY_TIMEOUT, and a Close ends it.
            ws.close(None).map_err(io::Error::other)?;
            for _ in 0..16 {
                match ws.read() {
                    Ok(_) => continue,
                    Err(tungstenite::Error::ConnectionClosed) => return Ok(()),
                    Err(e) => return Err(io::Error::other(e)),
                }
            }
            Err(io::Error::other("no Close reply"))
        }
        Kind::Udp => Err(io::Error::other("udp has no connections to churn")),
    }
}

/// One binary message and its echo over an upgraded connection.
fn echo_ws(ws: &mut tungstenite::WebSocket<Stream>) -> io::Result<()> {
    let hello = Bytes::from_static(HELLO);
    ws.send(Message::Binary(hello.clone()))
        .map_err(io::Error::other)?;
    loop {
        match ws.read().map_err(io::Error::other)? {
            Message::Binary(b) => return crate::check(b == hello),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => return Err(io::Error::other(format!("unexpected {other:?}"))),
        }
    }
}

/// What a storm did.
#[derive(Debug, Clone, Default)]
pub struct StormReport {
    /// Connections that were open at the moment all were dropped.
    pub opened: usize,
    /// Seconds it took to open them.
    pub open_secs: f64,
    /// Connections that could not be opened.
    pub errors: u64,
    /// The first failure.
    pub first_error: Option<String>,
}

/// Opens `count` TCP connections at once (no handshake, no byte), holds them
/// until all are open (or `deadline` has passed), then drops them all together.
pub fn storm(target: &Target, count: usize, deadline: Duration) -> io::Result<StormReport> {
    lifecycle::limits::raise_fd_limit(count as u64 + 64)?;
    let started = Instant::now();
    let late = Arc::new(AtomicBool::new(false));
    let per_thread = count.div_ceil(STORM_OPENERS);
    let openers: Vec<_> = (0..STORM_OPENERS)
        .map(|i| {
            let addr = target.addr;
            let n = per_thread.min(count.saturating_sub(i * per_thread));
            let late = Arc::clone(&late);
            thread::spawn(move || {
                let mut open = Vec::with_capacity(n);
                let mut failed = Vec::new();
                for _ in 0..n {
                    if late.load(Ordering::Relaxed) || started.elapsed() > deadline {
                        late.store(true, Ordering::Relaxed);
                        failed.push("storm deadline passed".to_string());
                        continue;
                    }
                    match TcpStream::connect_timeout(&addr, REPLY_TIMEOUT) {
                        Ok(s) => open.push(s),
                        Err(e) => failed.push(e.to_string()),
                    }
                }
                (open, failed)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(count);
    let mut report = StormReport::default();
    for opener in openers {
        let (open, failed) = opener
            .join()
            .map_err(|_| io::Error::other("a storm thread panicked"))?;
        all.extend(open);
        report.errors += failed.len() as u64;
        if let Some(e) = failed.into_iter().next() {
            report.first_error.get_or_insert(e);
        }
    }
    report.open_secs = started.elapsed().as_secs_f64();
    report.opened = all.len();
    // The vanishing: every connection closed at once (a FIN each).
    drop(all);
    Ok(report)
}
