//! A byte layer between the socket and the protocol: what TLS is to a server.
//!
//! Without a layer, a protocol reads the socket's bytes and writes its own. With
//! one, the socket carries the layer's bytes (TLS records) and the protocol sees
//! only what the layer lets through (the plaintext inside them). The protocol's
//! code does not change: tcp-echo's echo and ws-echo's WebSocket machine run
//! over a layer exactly as over the bare socket. The layer itself is I/O-free,
//! like ws-echo's machine — bytes in, bytes out — so both server models drive
//! the same one:
//!
//! - [`Blocking`] drives it with blocking `read()`/`write()` (v1 and v2), and
//!   does the whole handshake first, within a deadline ([`Blocking::accept`]);
//!   while it is unfinished it holds a [`crate::handshakes::Ticket`] under the
//!   server's [`Handshakes`] cap (the oldest unfinished is closed when that is full);
//! - `v3_event_loop::Layered` drives it from the event loop, between
//!   [`crate::v3_event_loop::Tracked`] and the session.
//!
//! Both are streams the protocol reads and writes ([`BlockingStream`],
//! [`crate::v3_event_loop::LoopStream`]); the bare socket is one too.
//!
//! This crate knows no TLS: the `tls` crate implements [`Layer`] with rustls.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use lifecycle::FourTuple;
use lifecycle::tcp::{Connection, is_timeout};
use log::info;

use crate::handshakes::Handshakes;

// ANCHOR: layer
/// A byte layer: bytes from the socket in, plaintext for the protocol out, and
/// the other way round. No I/O: the driver moves the bytes.
pub trait Layer: Send + 'static {
    /// Bytes read from the socket. Whatever they allow happens now: handshake
    /// messages are answered (into [`Layer::output`]), records are opened (into
    /// [`Layer::plaintext`]).
    ///
    /// `Err`: the peer broke the layer's protocol (or does not speak it at all:
    /// plain HTTP on a TLS port). The layer has logged why, and queued what it
    /// has to say (an alert, an HTTP 400) in the output: send it, then close.
    fn receive(&mut self, wire: &[u8]) -> io::Result<()>;
    /// Opened bytes for the protocol, oldest first.
    fn plaintext(&self) -> &[u8];
    /// The protocol took the first `n` bytes of [`Layer::plaintext`].
    fn consumed(&mut self, n: usize);
    /// The protocol's bytes to send: sealed and queued in the output. Returns how
    /// many were taken (fewer when the layer's own buffer is full).
    fn send(&mut self, plain: &[u8]) -> io::Result<usize>;
    /// Bytes waiting for the socket, oldest first.
    fn output(&self) -> &[u8];
    /// The driver wrote the first `n` bytes of [`Layer::output`].
    fn sent(&mut self, n: usize);
    /// Whether the handshake is still going on (then no plaintext flows yet).
    fn is_handshaking(&self) -> bool;
    /// Whether the peer's opening arrived whole and was answered (TLS: the
    /// ClientHello is in, the ServerHello out): a peer that speaks the layer,
    /// kept longer under the unfinished-handshake cap (`crate::handshakes`).
    fn answered(&self) -> bool {
        false
    }
    /// The protocol is finished: queue the layer's goodbye (TLS close_notify).
    fn close(&mut self);
    /// Whether the peer said goodbye inside the layer: no plaintext follows.
    fn peer_closed(&self) -> bool;
    /// Whether [`Layer::output`] has bytes for the socket.
    fn wants_write(&self) -> bool {
        !self.output().is_empty()
    }
}
// ANCHOR_END: layer

/// A function that makes a fresh layer for each accepted connection.
pub trait MakeLayer<L>: Fn(FourTuple) -> L + Clone + Send + 'static {}
impl<L, F: Fn(FourTuple) -> L + Clone + Send + 'static> MakeLayer<L> for F {}

/// What a blocking protocol (v1, v2) reads and writes: the bare
/// [`Connection`], or a [`Blocking`] layer over it.
pub trait BlockingStream: Read + Write + Send {
    /// The connection's 4-tuple, for the log.
    fn tuple(&self) -> FourTuple;
    /// SO_RCVTIMEO and SO_SNDTIMEO (see [`Connection::set_timeouts`]).
    fn set_timeouts(&self, idle: Option<Duration>, stall: Option<Duration>) -> io::Result<()>;
    /// `write_all`, failing with `TimedOut` once the peer takes nothing for `stall`.
    fn write_all_or_stall(&mut self, buf: &[u8], stall: Option<Duration>) -> io::Result<()>;
    /// The protocol is done: the layer says goodbye (best effort), and the
    /// socket is handed back for `graceful_close`.
    fn finish(self) -> Connection;
}

impl BlockingStream for Connection {
    fn tuple(&self) -> FourTuple {
        Connection::tuple(self)
    }
    fn set_timeouts(&self, idle: Option<Duration>, stall: Option<Duration>) -> io::Result<()> {
        Connection::set_timeouts(self, idle, stall)
    }
    fn write_all_or_stall(&mut self, buf: &[u8], stall: Option<Duration>) -> io::Result<()> {
        Connection::write_all_or_stall(self, buf, stall)
    }
    fn finish(self) -> Connection {
        self
    }
}

/// The handshake deadline closed a connection: counted as the event loop
/// counts an opening deadline, in `idle_closes` (threads model only; the
/// event loop counts its own).
fn count_deadline() {
    crate::v2_threads::with_stats(|s| {
        s.idle_closes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    });
}

/// How much ciphertext one blocking `read()` takes: one TLS record at most is
/// 16 KiB of plaintext plus a little.
const BLOCKING_READ: usize = 17 * 1024;

// ANCHOR: blocking
/// A layer driven by blocking calls: reads open records, writes seal them.
pub struct Blocking<L> {
    conn: Connection,
    layer: L,
    buf: Vec<u8>,
    /// The socket said end of stream, or the layer failed: nothing more comes.
    ended: bool,
    stall: Option<Duration>,
}

impl<L: Layer> Blocking<L> {
    /// Runs the layer's handshake to the end (a layer without one is ready at
    /// once), within `handshakes`' deadline from now, holding a place under
    /// its cap meanwhile. `None`: the peer
    /// failed it, went away, was too slow, or was the oldest unfinished when
    /// the cap was full — logged, and the socket closed gracefully after what
    /// the layer had to say (an alert, a 400).
    pub fn accept(conn: Connection, layer: L, handshakes: &Handshakes) -> Option<Blocking<L>> {
        let tuple = conn.tuple();
        let timeout = handshakes.timeout();
        if !layer.is_handshaking() {
            // No handshake (the classroom's watching layer): no place among
            // the unfinished ones to take, nor anyone to evict for it.
            return Some(Blocking {
                conn,
                layer,
                buf: vec![0; BLOCKING_READ],
                ended: false,
                stall: Some(timeout),
            });
        }
        let ticket = match handshakes.begin(conn.stream(), tuple) {
            Ok(ticket) => ticket,
            Err(e) => {
                info!("[{tuple}] cannot watch the handshake ({e}): closing");
                lifecycle::tcp::graceful_close(conn);
                return None;
            }
        };
        let mut me = Blocking {
            conn,
            layer,
            buf: vec![0; BLOCKING_READ],
            ended: false,
            stall: Some(timeout),
        };
        let deadline = Instant::now() + timeout;
        while me.layer.is_handshaking() && !me.ended && !ticket.evicted() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || me.conn.set_timeouts(Some(left), Some(left)).is_err() {
                info!(
                    "[{tuple}] handshake not done {timeout:?} after accept (handshake timeout): closing"
                );
                count_deadline();
                break;
            }
            match me.fill() {
                Ok(()) if me.layer.answered() => ticket.answered(),
                Ok(()) => {}
                Err(e) if is_timeout(&e) => {
                    info!(
                        "[{tuple}] handshake not done {timeout:?} after accept (handshake timeout): closing"
                    );
                    count_deadline();
                    break;
                }
                Err(e) => {
                    info!("[{tuple}] the peer went away during the handshake: {e}");
                    break;
                }
            }
        }
        if me.layer.is_handshaking() || me.ended || ticket.evicted() {
            let _ = me.flush_output();
            lifecycle::tcp::graceful_close(me.conn);
            return None; // the ticket leaves the table as it drops
        }
        ticket.finish();
        Some(me)
    }

    /// One `read(2)` from the socket into the layer, and the layer's answer
    /// (handshake messages, an alert) written back.
    fn fill(&mut self) -> io::Result<()> {
        let n = self.conn.read(&mut self.buf)?;
        if n == 0 {
            self.ended = true;
            return Ok(());
        }
        if self.layer.receive(&self.buf[..n]).is_err() {
            self.ended = true; // the layer logged why; its last words go out below
        }
        self.flush_output()
    }

    /// Writes everything the layer queued for the socket.
    fn flush_output(&mut self) -> io::Result<()> {
        let out = self.layer.output().to_vec();
        self.layer.sent(out.len());
        self.conn.write_all_or_stall(&out, self.stall)
    }
}

impl<L: Layer> Read for Blocking<L> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let plain = self.layer.plaintext();
            if !plain.is_empty() {
                let n = plain.len().min(buf.len());
                buf[..n].copy_from_slice(&plain[..n]);
                self.layer.consumed(n);
                return Ok(n);
            }
            // The peer's goodbye (close_notify) or FIN: the end of its stream.
            if self.ended || self.layer.peer_closed() {
                return Ok(0);
            }
            self.fill()?;
        }
    }
}

impl<L: Layer> Write for Blocking<L> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.layer.send(buf)?;
        self.flush_output()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_output()
    }
}

impl<L: Layer> BlockingStream for Blocking<L> {
    fn tuple(&self) -> FourTuple {
        self.conn.tuple()
    }
    fn set_timeouts(&self, idle: Option<Duration>, stall: Option<Duration>) -> io::Result<()> {
        self.conn.set_timeouts(idle, stall)
    }
    fn write_all_or_stall(&mut self, mut buf: &[u8], stall: Option<Duration>) -> io::Result<()> {
        self.stall = stall;
        while !buf.is_empty() {
            let n = self.layer.send(buf)?;
            self.flush_output()?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            buf = &buf[n..];
        }
        Ok(())
    }
    fn finish(mut self) -> Connection {
        if !self.ended {
            self.layer.close();
            let _ = self.flush_output();
        }
        self.conn
    }
}
// ANCHOR_END: blocking
