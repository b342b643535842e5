//! A byte layer (TLS) between the socket and a session, on the event loop.
//!
//! A session reads and writes a [`LoopStream`]: the bare socket ([`Tracked`]),
//! or [`Layered`] — the same socket with a [`Layer`] in between. Reading a
//! `Layered` reads ciphertext from the socket, hands it to the layer, writes
//! back what the layer answers (handshake messages), and returns the plaintext
//! that came out; writing seals the session's bytes and writes the records. So
//! tcp-echo's `Echo` and ws-echo's session run over TLS unchanged.
//!
//! The expected cases, where they are handled: bytes that were only handshake
//! give no plaintext (read on, until WouldBlock); a record split across reads
//! gives nothing yet (the layer keeps the half); the layer's output may not fit
//! in the send buffer (it waits, counted in [`LoopStream::queued`] for the
//! write-stall clock, and goes first on the next read or write).
//!
//! While its handshake is unfinished, a `Layered` holds a [`Ticket`] under the
//! server's [`Handshakes`] cap. If a newer connection evicts it (the cap was
//! full and this one was the oldest), the table shuts the socket's reading
//! side from the evicting loop; epoll wakes this loop, and the next read here
//! ends the stream, so the session closes as after a FIN.

use std::io::{self, Read, Write};
use std::time::Duration;

use log::{debug, info};
use mio::net::TcpStream;

use super::session::{Progress, Readiness, Tracked, write_some};
use crate::handshakes::{Handshakes, Ticket};
use crate::layer::Layer;

// ANCHOR: loop_stream
/// What an event-loop session reads and writes: non-blocking, so a read or a
/// write may say WouldBlock.
pub trait LoopStream: Read + Write {
    /// Takes note of a readiness event (see [`Tracked::on_event`]).
    fn on_event(&mut self, ready: Readiness);
    /// Bytes moved on the socket itself (ciphertext, under a layer): the loop's clocks.
    fn progress(&self) -> Progress;
    /// Whether the socket's send buffer was full at the last write.
    fn write_blocked(&self) -> bool;
    /// The socket.
    fn get_ref(&self) -> &TcpStream;
    /// Bytes the layer holds for the socket (not the session's own queue).
    fn queued(&self) -> usize {
        0
    }
    /// How long after accept the layer's handshake must be done, while it is
    /// not yet (`None`: no layer, or done).
    fn opening_deadline(&self) -> Option<Duration> {
        None
    }
    /// The session is finished: the layer's goodbye is queued and written as
    /// far as the socket takes it. `Ok(true)`: everything is out, close TCP now.
    fn end(&mut self) -> io::Result<bool> {
        Ok(true)
    }
}
// ANCHOR_END: loop_stream

impl LoopStream for Tracked {
    fn on_event(&mut self, ready: Readiness) {
        Tracked::on_event(self, ready)
    }
    fn progress(&self) -> Progress {
        Tracked::progress(self)
    }
    fn write_blocked(&self) -> bool {
        Tracked::write_blocked(self)
    }
    fn get_ref(&self) -> &TcpStream {
        Tracked::get_ref(self)
    }
}

// ANCHOR: layered
/// A socket with a [`Layer`] between it and the session.
pub struct Layered<L> {
    socket: Tracked,
    layer: L,
    handshake_timeout: Duration,
    /// Its place among the unfinished handshakes, until the handshake is done.
    ticket: Option<Ticket>,
    /// The peer's FIN came, or the layer failed: no more plaintext will come.
    ended: bool,
    /// Our goodbye is queued.
    closing: bool,
}

impl<L: Layer> Layered<L> {
    /// `layer` over `socket`; its handshake, if it has one, must be done
    /// within `handshakes`' deadline after accept, and holds a place under its
    /// cap until then.
    pub fn new(socket: Tracked, layer: L, handshakes: &Handshakes) -> Layered<L> {
        let tuple = socket.tuple();
        // A layer with no handshake (the classroom's watching layer) takes no
        // place among the unfinished ones: a silent peer there is an idle
        // connection, not a half-open handshake to evict for a newer one.
        let handshaking = layer.is_handshaking();
        let ticket = match handshaking.then(|| handshakes.begin(socket.get_ref(), tuple)) {
            None => None,
            Some(Ok(ticket)) => Some(ticket),
            Some(Err(e)) => {
                info!("[{tuple}] cannot watch the handshake ({e}): closing");
                None
            }
        };
        Layered {
            socket,
            layer,
            handshake_timeout: handshakes.timeout(),
            // Without a ticket a handshake is not served: it ends at once.
            ended: handshaking && ticket.is_none(),
            ticket,
            closing: false,
        }
    }

    /// The layer, for what it knows (the protocol version, the cipher suite).
    pub fn layer(&self) -> &L {
        &self.layer
    }

    /// Writes the layer's output until it is all out or the socket says WouldBlock.
    fn flush_layer(&mut self) -> io::Result<()> {
        while self.layer.wants_write() {
            match write_some(&mut self.socket, self.layer.output())? {
                Some(n) => self.layer.sent(n),
                None => break,
            }
        }
        Ok(())
    }
}

impl<L: Layer> Read for Layered<L> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.flush_layer()?;
        loop {
            // Plaintext already opened goes first: a record bigger than `buf`
            // comes out over several reads.
            let plain = self.layer.plaintext();
            if !plain.is_empty() {
                let n = plain.len().min(buf.len());
                buf[..n].copy_from_slice(&plain[..n]);
                self.layer.consumed(n);
                return Ok(n);
            }
            if self.ticket.as_ref().is_some_and(Ticket::evicted) {
                self.ended = true; // the oldest unfinished, closed for a newer one
            }
            if self.ended || self.layer.peer_closed() {
                self.ticket = None; // no longer unfinished: it is ending
                return Ok(0); // the session sees the end of the stream
            }
            // Ciphertext goes into the caller's buffer first (no buffer of our
            // own per connection), then into the layer.
            let n = self.socket.read(buf)?; // WouldBlock goes to the session
            if n == 0 {
                self.ended = true;
                continue;
            }
            if self.layer.receive(&buf[..n]).is_err() {
                // The layer logged why; its last words (an alert, a 400) go out,
                // and the session sees the end of the stream.
                self.ended = true;
            }
            if !self.ended
                && !self.layer.is_handshaking()
                && let Some(ticket) = self.ticket.take()
            {
                ticket.finish(); // done: never evicted for the cap again
            } else if let Some(ticket) = &self.ticket
                && self.layer.answered()
            {
                ticket.answered(); // it speaks the layer: evicted last
            }
            self.flush_layer()?;
            debug!("layer: {n} bytes in, {} out", self.layer.plaintext().len());
        }
    }
}

impl<L: Layer> Write for Layered<L> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Older records first; while they wait for room, take nothing new
        // (backpressure: the session keeps its bytes in its own queue).
        self.flush_layer()?;
        if self.layer.wants_write() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.layer.send(buf)?;
        self.flush_layer()?;
        if n == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_layer()
    }
}

impl<L: Layer> LoopStream for Layered<L> {
    fn on_event(&mut self, ready: Readiness) {
        self.socket.on_event(ready);
    }
    fn progress(&self) -> Progress {
        self.socket.progress()
    }
    fn write_blocked(&self) -> bool {
        self.socket.write_blocked()
    }
    fn get_ref(&self) -> &TcpStream {
        self.socket.get_ref()
    }
    fn queued(&self) -> usize {
        self.layer.output().len()
    }
    fn opening_deadline(&self) -> Option<Duration> {
        (self.layer.is_handshaking() && !self.ended).then_some(self.handshake_timeout)
    }
    fn end(&mut self) -> io::Result<bool> {
        if !self.closing && !self.ended {
            self.layer.close();
        }
        self.closing = true;
        self.flush_layer()?;
        Ok(!self.layer.wants_write())
    }
}
// ANCHOR_END: layered
