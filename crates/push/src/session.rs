//! One push-server connection: HTTP/1.1 requests, one after another on the same
//! connection (keep-alive), each answered by one of the five techniques.
//!
//! What HTTP allows and what it does not is the lesson here, so each technique
//! is a state the connection is in, and what the server may do in it is plain:
//!
//! - **Requests** — waiting for the next request. HTTP/1.1 keeps the
//!   connection after a response (lesson 21): the next request comes on the same
//!   4-tuple, unless the client said `Connection: close`.
//! - **Holding** (long polling) — a request is answered only when an event comes,
//!   or after `--hold`: the server *can* answer late, it cannot speak unasked.
//! - **Streaming** (chunked) and **Sse** (Server-Sent Events) — one response that
//!   never ends: each event is one more piece of its body. The client can no
//!   longer send anything on this connection (HTTP/1.1 is one response at a time).
//! - **WebSocket** — after the Upgrade, both sides send whenever they like: the
//!   server pushes events, and every message the client sends is published as an
//!   event too (full duplex, lesson 12).
//!
//! This file is the connection's plumbing: its state, its queue to the client
//! and what that queue costs. `requests.rs` answers requests;
//! `subscribe.rs` feeds subscribers.
//!
//! Memory: whatever a connection holds (its queue to the client, the requests
//! it has not answered yet) is charged to the server's `--memory-budget`
//! before it is held; past it, the connection is refused (503) or its stream
//! ended. And the queue itself stays small on purpose: one answer carries at
//! most [`ANSWER_CAP`] bytes of events, a pipelined request is answered only
//! while the queue is under [`http1::PIPELINE_LIMIT`], and a subscriber is fed
//! only while its queue is under [`ANSWER_CAP`] — the rest waits in the hub.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use http1::{PIPELINE_LIMIT, Reader, Response};
use lifecycle::FourTuple;
use log::{info, warn};
use mio::net::TcpStream;
use serve::limits::{Held, OverBudget};
use serve::v3_event_loop::{
    Expiry, Mail, Progress, Readiness, Session, Step, Tracked, Turn, read_some, write_some,
};
use websocket::Machine;

use crate::hub::{Event, Hub};
use crate::rate::Bucket;
use crate::ws::Publisher;
use crate::{Config, PushStats};

/// The most bytes of events one answer carries: a poll's body, a replay to an
/// SSE client resuming with `Last-Event-ID`, one batch of a subscriber
/// catching up. The rest waits in the hub, and the client gets it next.
pub const ANSWER_CAP: usize = 128 * 1024;

/// The largest body `POST /publish` takes (and the largest WebSocket message).
pub const MAX_POST: usize = 4096;

/// Room a drained queue may keep for the next answers; a bigger one is freed.
const KEEP_CAPACITY: usize = 64 * 1024;

/// What the connection is doing now.
pub(crate) enum Mode {
    /// Waiting for (the rest of) a request.
    Requests,
    /// A long poll, answered at the first event newer than `since`, or at `until`.
    Holding {
        since: u64,
        until: Instant,
        close: bool,
    },
    /// `GET /stream`: a chunked response, one chunk per event, never finished.
    Streaming,
    /// `GET /events`: `text/event-stream`, one `id:`/`data:` block per event.
    Sse,
    /// Upgraded: one text message per event, both ways, run by the one
    /// connection machine (crates/websocket) with a [`Publisher`] handler.
    WebSocket(Box<Machine<Publisher>>),
    /// The last response is queued; close once it is out.
    Closing,
}

/// One connection of the push server.
pub struct PushSession {
    pub(crate) stream: Tracked,
    pub(crate) tuple: FourTuple,
    pub(crate) hub: Arc<Hub>,
    pub(crate) config: Arc<Config>,
    pub(crate) stats: Arc<PushStats>,
    pub(crate) mode: Mode,
    /// Bytes received and not yet answered: a partial request, pipelined ones.
    pub(crate) reader: Reader,
    /// Bytes for the client, oldest first.
    pub(crate) output: Vec<u8>,
    /// Requests answered on this connection (the 4-tuple reused: lesson 21).
    pub(crate) requests: u64,
    /// Whether `100 Continue` went out for the request being received.
    pub(crate) continued: bool,
    /// A subscriber's cursor: the last event id it was given.
    pub(crate) cursor: u64,
    /// The hub's count of failed posts when this subscriber last looked.
    pub(crate) lost_seen: usize,
    /// How often this connection may still publish.
    pub(crate) bucket: Bucket,
    /// This connection's share of `--memory-budget`, until a WebSocket's
    /// machine takes it (the machine then counts what it holds).
    pub(crate) held: Option<Held>,
}

impl PushSession {
    /// A session for a freshly accepted connection, charging what it holds to `held`.
    pub fn new(
        stream: TcpStream,
        tuple: FourTuple,
        hub: Arc<Hub>,
        config: Arc<Config>,
        stats: Arc<PushStats>,
        held: Held,
    ) -> PushSession {
        let bucket = Bucket::new(config.publish_rate, config.publish_burst, Instant::now());
        PushSession {
            stream: Tracked::new(stream, tuple),
            tuple,
            hub,
            config,
            stats,
            mode: Mode::Requests,
            reader: Reader::new(MAX_POST),
            output: Vec::new(),
            requests: 0,
            continued: false,
            cursor: 0,
            lost_seen: 0,
            bucket,
            held: Some(held),
        }
    }

    /// Writes what is queued until the socket takes no more.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        while !self.output.is_empty() {
            match write_some(&mut self.stream, &self.output)? {
                Some(n) => {
                    self.output.drain(..n);
                }
                None => break,
            }
        }
        // The machine's bytes (the 101, then frames) only after the answers
        // queued before the Upgrade.
        if let Mode::WebSocket(m) = &mut self.mode
            && self.output.is_empty()
        {
            websocket::session::flush(&mut self.stream, m)?;
        }
        // Shrinking never fails.
        let _ = self.recount();
        Ok(())
    }

    /// Bytes queued for the client, not yet written.
    pub(crate) fn queued(&self) -> usize {
        let ws = match &self.mode {
            Mode::WebSocket(m) => m.output().len(),
            _ => 0,
        };
        self.output.len() + ws
    }

    /// What this connection holds, as the budget counts it: the room of its
    /// queue (capacity, not length: that is what the allocator gave), and the
    /// requests it has not answered. (A WebSocket's machine counts its own.)
    fn holding(&self) -> usize {
        self.output.capacity() + self.reader.buffered()
    }

    /// Sets the budget's count to what is held now, freeing a big drained queue first.
    pub(crate) fn recount(&mut self) -> Result<(), OverBudget> {
        if self.output.is_empty() && self.output.capacity() > KEEP_CAPACITY {
            self.output = Vec::new();
        }
        let holding = self.holding();
        match &mut self.held {
            Some(held) => held.set(holding),
            None => Ok(()),
        }
    }

    // ANCHOR: queue
    /// Queues bytes for the client, charged to the memory budget *before* they
    /// are held: the room the queue grows to is what is asked for, and a queue
    /// grows to exactly that room (no hidden doubling past the charge).
    pub(crate) fn queue(&mut self, bytes: &[u8]) -> Result<(), OverBudget> {
        let need = self.output.len() + bytes.len();
        // Doubling, as Vec does (few copies for many small events), but never
        // more than one answer past what is needed.
        let cap = self.output.capacity();
        let room = if need <= cap {
            cap
        } else {
            need.max((cap * 2).min(need + ANSWER_CAP))
        };
        let others = self.holding() - cap;
        if let Some(held) = &mut self.held {
            held.set(others + room)?;
        }
        self.output.reserve_exact(room - self.output.len());
        self.output.extend_from_slice(bytes);
        Ok(())
    }
    // ANCHOR_END: queue

    /// Queues a complete response; `close` ends the connection after it.
    pub(crate) fn respond(&mut self, response: Response, close: bool) {
        let response = if close {
            response.header("Connection", "close")
        } else {
            response.header("Connection", "keep-alive")
        };
        let response = response.header("X-Request-Number", self.requests);
        self.mode = if close { Mode::Closing } else { Mode::Requests };
        if let Err(over) = self.queue(&response.to_bytes()) {
            self.over_budget(over);
        }
    }

    /// The memory budget is spent: a request gets 503 and the connection is
    /// closed; a stream is ended in its own format (`subscribe.rs`).
    pub(crate) fn over_budget(&mut self, over: OverBudget) {
        self.stats.over_budget.fetch_add(1, Ordering::Relaxed);
        warn!(
            "[{}] memory budget spent ({} of {} bytes held by all connections): closing this one",
            self.tuple, over.used, over.cap
        );
        if self.end_stream_over_budget() {
            return;
        }
        let r = Response::text(
            503,
            &format!(
                "the server's memory budget ({} KiB, --memory-budget) is spent: try again later",
                over.cap >> 10
            ),
        )
        .header("Retry-After", 1)
        .header("Connection", "close");
        // Uncharged: a few hundred bytes, and the connection ends with them.
        self.output.extend_from_slice(&r.to_bytes());
        self.reader.clear();
        self.mode = Mode::Closing;
    }

    /// Whether this connection is done once its queue is out.
    pub(crate) fn finished(&self) -> bool {
        let over = match &self.mode {
            Mode::Closing => true,
            Mode::WebSocket(m) => m.is_done(),
            _ => false,
        };
        over && self.queued() == 0
    }
}

impl Session for PushSession {
    fn ready(&mut self, ready: Readiness, turn: &mut Turn<'_>) -> io::Result<Step> {
        self.stream.on_event(ready);
        let start = self.stream.progress().read;
        loop {
            // Upgraded (now, or by a request just answered): the machine reads.
            if matches!(self.mode, Mode::WebSocket(_)) {
                return self.websocket_ready(turn, start);
            }
            self.feed()?;
            self.serve_requests()?;
            if matches!(self.mode, Mode::WebSocket(_)) {
                continue;
            }
            if matches!(self.mode, Mode::Closing) {
                return Ok(if self.finished() {
                    Step::Done
                } else {
                    Step::Wait
                });
            }
            // Backpressure: the client must read before we read more from it.
            // Its requests wait in the kernel, and TCP tells it to stop sending.
            if self.queued() >= PIPELINE_LIMIT || self.reader.is_full() {
                return Ok(Step::Wait);
            }
            if self.stream.progress().read - start >= turn.budget {
                return Ok(Step::Yield);
            }
            match read_some(&mut self.stream, turn.scratch)? {
                None => return Ok(Step::Wait),
                Some(0) => {
                    info!(
                        "[{}] the client sent FIN after {} requests",
                        self.tuple, self.requests
                    );
                    return Ok(Step::Done);
                }
                Some(n) => {
                    self.reader.extend(&turn.scratch[..n]);
                    if let Err(over) = self.recount() {
                        self.over_budget(over);
                    }
                }
            }
        }
    }

    fn deliver(&mut self, mail: &Mail) -> io::Result<Step> {
        let Some((id, json)) = Event::from_letter(&mail.body) else {
            return Ok(Step::Wait);
        };
        if self.push(id, json) == Step::Done {
            return Ok(Step::Done);
        }
        self.feed()?;
        self.serve_requests()?;
        Ok(if self.finished() {
            Step::Done
        } else {
            Step::Wait
        })
    }

    fn stream(&self) -> Option<&TcpStream> {
        Some(self.stream.get_ref())
    }

    fn progress(&self) -> Progress {
        self.stream.progress()
    }

    fn pending(&self) -> usize {
        self.queued()
    }

    /// A client waiting on a long poll or listening to a stream sends nothing,
    /// and is not idle for that: the write-stall clock guards it instead.
    fn idle_timeout(&self, idle: Option<Duration>) -> Option<Duration> {
        match self.mode {
            Mode::Requests | Mode::Closing => idle,
            _ => None,
        }
    }

    fn opening_deadline(&self) -> Option<Duration> {
        (self.requests == 0).then_some(self.config.request_timeout)
    }

    fn alarm_at(&self) -> Option<Instant> {
        match self.mode {
            Mode::Holding { until, .. } => Some(until),
            _ => None,
        }
    }

    /// A long poll's hold time is over with nothing new: 204 No Content, and
    /// the client asks again.
    fn alarm(&mut self) -> io::Result<Step> {
        if let Mode::Holding { close, .. } = self.mode {
            self.respond(Response::new(204), close);
            self.serve_requests()?;
        }
        Ok(if self.finished() {
            Step::Done
        } else {
            Step::Wait
        })
    }

    fn expire(&mut self, why: Expiry) {
        // A WebSocket client: 1001 Going Away, said by the machine.
        if let Mode::WebSocket(m) = &mut self.mode {
            m.expire(why);
            let _ = self.flush();
            return;
        }
        if matches!(self.mode, Mode::Requests) && self.requests == 0 {
            let r = Response::text(408, "no complete request in time");
            self.output
                .extend_from_slice(&r.header("Connection", "close").to_bytes());
            let _ = self.flush();
        }
    }
}
