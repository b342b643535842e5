//! A WebSocket on `serve`'s event loop: the [`Machine`] driven by non-blocking
//! reads and writes, for any program's [`Handler`] (ws-echo's echo, wss).
//!
//! Read it after [`crate::machine`] and `serve::v3_event_loop`. The loop —
//! accept, cap, budgets, deadlines, graceful close — is `serve`'s; the protocol
//! is the machine's, the same one the thread-per-connection driver
//! ([`crate::blocking`]) runs. This session only moves bytes between the socket
//! and the machine, the way the loop asks every session to:
//!
//! - write what the machine queued, until the socket says WouldBlock;
//! - read while the machine wants input (not while more than `QUEUE_LIMIT`
//!   bytes wait for the peer: backpressure) and until WouldBlock, or until the
//!   turn's budget is spent (then yield: fairness);
//! - at a deadline, let the machine say its last words (408, or Close 1001).
//!
//! Memory: an idle connection costs the loop's slot, this session, and the
//! machine; tungstenite's read buffer ([`EVENT_LOOP_READ_BUFFER`], 2 KiB, not
//! its 128 KiB default) only once the peer has sent a frame byte (the
//! machine's `frames.rs`).
//!
//! Programs with a session of their own (chat's member, which also takes mail;
//! push's connection, which speaks HTTP first; the bridge, with its second
//! socket) drive the same machine the same way: [`pump`] is the loop's body.
//!
//! Run: `socklab serve ws` (the event loop is the default), then open
//! <http://127.0.0.1:8080/> or `socklab chat ws://127.0.0.1:8080/`.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use lifecycle::FourTuple;
use mio::net::TcpStream;
use serve::limits::Held;
use serve::v3_event_loop::{
    Expiry, LoopStream, Progress, Readiness, Session, Step, Tracked, Turn, read_some, write_some,
};

use crate::handler::{Handler, Settings};
use crate::machine::Machine;

/// tungstenite's read buffer per connection in the event loop: 2 KiB, half the
/// threaded driver's, because an event loop is for many connections and this
/// buffer is most of what an idle one costs. Any message still fits (the
/// buffer grows for a big frame); it just takes more `read()`s.
pub const EVENT_LOOP_READ_BUFFER: usize = 2 * 1024;

// ANCHOR: session
/// One WebSocket connection as an event-loop session: a socket and a machine.
///
/// `S` is the socket itself ([`Tracked`]: ws://), or the socket with TLS in
/// between (`serve::v3_event_loop::Layered`: wss://). The machine is the same.
pub struct WsSession<H, S = Tracked> {
    stream: S,
    machine: Machine<H>,
    handshake_timeout: Duration,
}

impl<H: Handler> WsSession<H> {
    /// A session for a freshly accepted connection: its request comes next.
    pub fn new(
        stream: TcpStream,
        tuple: FourTuple,
        settings: &Settings,
        held: Held,
        handler: H,
    ) -> WsSession<H> {
        WsSession::over(Tracked::new(stream, tuple), tuple, settings, held, handler)
    }
}

impl<H: Handler, S: LoopStream> WsSession<H, S> {
    /// A session over `stream` (a layer over the socket, say TLS).
    pub fn over(
        stream: S,
        tuple: FourTuple,
        settings: &Settings,
        held: Held,
        handler: H,
    ) -> WsSession<H, S> {
        let settings = Arc::new(Settings {
            read_buffer: EVENT_LOOP_READ_BUFFER,
            ..settings.clone()
        });
        WsSession {
            stream,
            handshake_timeout: settings.handshake_timeout,
            machine: Machine::new(tuple, settings, held, handler),
        }
    }
}

// ANCHOR: pump
/// What every event-loop session does with its WebSocket on a readiness
/// event: write what the machine queued, read while it wants input, until
/// the socket says WouldBlock, the turn's budget is spent, or the machine is
/// done. `start` is the stream's read count when the turn began.
pub fn pump<H: Handler, S: LoopStream>(
    stream: &mut S,
    machine: &mut Machine<H>,
    turn: &mut Turn<'_>,
    start: u64,
) -> io::Result<Step> {
    loop {
        // 1. What the machine queued goes out first, as far as the socket takes it.
        flush(stream, machine)?;
        if machine.is_done() {
            // Finished once the last byte (a Close frame, an HTTP answer) is
            // out, and a layer's goodbye (TLS close_notify) after it.
            return Ok(if machine.output().is_empty() && stream.end()? {
                Step::Done
            } else {
                Step::Wait
            });
        }
        // 2. Backpressure: too much waits for the peer (Pongs included), or
        //    the program cannot take more; read on after that changes.
        if !machine.wants_input() {
            return Ok(Step::Wait);
        }
        // 3. Fairness: this turn's budget is spent; the others go first.
        if stream.progress().read - start >= turn.budget {
            return Ok(Step::Yield);
        }
        // 4. Read what has arrived and let the machine do what it allows.
        match read_some(stream, turn.scratch)? {
            None => return Ok(Step::Wait), // WouldBlock: wait for the next event
            Some(0) => machine.peer_closed(),
            Some(n) => machine.receive(&turn.scratch[..n]),
        }
    }
}
// ANCHOR_END: pump

/// Writes what the machine queued until it is all out or the socket says
/// WouldBlock (the rest waits for a writable event).
pub fn flush<H: Handler, S: LoopStream>(
    stream: &mut S,
    machine: &mut Machine<H>,
) -> io::Result<()> {
    while !machine.output().is_empty() {
        match write_some(stream, machine.output())? {
            Some(n) => machine.sent(n),
            None => break,
        }
    }
    Ok(())
}

impl<H: Handler, S: LoopStream> Session for WsSession<H, S> {
    fn ready(&mut self, ready: Readiness, turn: &mut Turn<'_>) -> io::Result<Step> {
        self.stream.on_event(ready);
        let start = self.stream.progress().read;
        pump(&mut self.stream, &mut self.machine, turn, start)
    }

    fn stream(&self) -> Option<&TcpStream> {
        Some(self.stream.get_ref())
    }

    fn progress(&self) -> Progress {
        self.stream.progress()
    }

    fn pending(&self) -> usize {
        self.machine.output().len() + self.stream.queued()
    }

    /// Until upgraded, the whole request must arrive within the handshake
    /// timeout; under TLS, its handshake first within its own.
    fn opening_deadline(&self) -> Option<Duration> {
        self.stream.opening_deadline().or_else(|| {
            (!self.machine.is_open() && !self.machine.is_done()).then_some(self.handshake_timeout)
        })
    }

    fn expire(&mut self, why: Expiry) {
        self.machine.expire(why);
        // Best effort, without blocking: a 408 or a Close frame is small and
        // nearly always fits in the send buffer.
        let _ = flush(&mut self.stream, &mut self.machine);
    }

    fn read_closed(&self) -> bool {
        // After the peer's FIN (read and narrated) the loop's close needs no
        // drain; after a close handshake its drain finds the FIN fast.
        self.machine.peer_fin()
    }
}
// ANCHOR_END: session
