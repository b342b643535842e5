//! The dashboard's port: the page (`GET /`), the feed (`/feed`, a WebSocket)
//! and the students' exercise reports (`POST /report`), one connection each.
//!
//! HTTP is read by crates/http's one request reader; the WebSocket Upgrade is
//! checked by crates/websocket (the one Origin policy), and from the 101 on the
//! one connection machine runs the feed. What is the dashboard's own is here:
//! a tick's events arrive as one letter ([`crate::feed`]); each is sent while
//! the connection's queue is under [`FEED_QUEUE_LIMIT`], and counted while it
//! is not. When the queue has room again, a `skip` notice with the counts goes
//! first. A dashboard that stops reading therefore costs a bounded queue and a
//! few counters, and the students never notice.

use std::io;
use std::sync::Arc;

use http1::{Parsed, Reader, Request, Response};
use lifecycle::FourTuple;
use log::info;
use mio::net::TcpStream;
use serve::limits::Held;
use serve::v3_event_loop::{
    Mail, Progress, Readiness, Session, Step, Tracked, Turn, read_some, write_some,
};
use tungstenite::Message;
use websocket::{Decision, Handler, Machine, Outbox, Settings, check_upgrade};

use crate::event::Skipped;
use crate::feed::Feed;
use crate::report::{MAX_REPORT, Report};

/// The page, plain HTML and JavaScript, no external assets.
pub const PAGE: &str = include_str!("page.html");

/// Bytes a dashboard may have queued before events for it are counted
/// instead of sent: 256 KiB, a few seconds of a busy class.
pub const FEED_QUEUE_LIMIT: usize = 256 * 1024;

/// How long after accept a connection has to send its first request whole:
/// the handshake deadline every WebSocket server keeps. A request trickled a
/// byte at a time is never idle, so without it a slowloris holds a place
/// forever (found by the hostile matrix's slowloris on the dashboard).
pub const OPENING_DEADLINE: std::time::Duration = websocket::handler::HANDSHAKE_TIMEOUT;

/// Largest message a dashboard may send us (it has nothing to say).
const MAX_FEED_MESSAGE: usize = 1024;

/// A dashboard says nothing: its messages are ignored.
#[derive(Default)]
pub struct Listener;

impl Handler for Listener {
    fn message(&mut self, _message: Message, _out: &mut Outbox<'_>) {}
}

/// What a dashboard-port connection is doing.
enum Mode {
    /// Reading HTTP requests.
    Requests,
    /// A `/feed` WebSocket.
    Feed(Box<Machine<Listener>>),
    /// Its last answer is going out.
    Closing,
}

/// One connection to the dashboard's port.
pub struct DashboardSession {
    stream: Tracked,
    tuple: FourTuple,
    feed: Arc<Feed>,
    settings: Arc<Settings>,
    reader: Reader,
    output: Vec<u8>,
    mode: Mode,
    held: Option<Held>,
    skipped: Skipped,
    /// The client sent FIN: answer what it sent, then close.
    ended: bool,
    /// Requests read whole so far: until the first, the opening deadline
    /// ([`OPENING_DEADLINE`]) runs.
    requests: u64,
}

impl DashboardSession {
    /// A session for a fresh connection.
    pub fn new(
        stream: TcpStream,
        tuple: FourTuple,
        feed: Arc<Feed>,
        settings: Arc<Settings>,
        held: Held,
    ) -> DashboardSession {
        DashboardSession {
            stream: Tracked::new(stream, tuple),
            tuple,
            feed,
            settings,
            reader: Reader::new(MAX_REPORT),
            output: Vec::new(),
            mode: Mode::Requests,
            held: Some(held),
            skipped: Skipped::default(),
            ended: false,
            requests: 0,
        }
    }

    fn respond(&mut self, response: Response, close: bool) {
        let response = response.header("Connection", if close { "close" } else { "keep-alive" });
        self.output.extend_from_slice(&response.to_bytes());
        if close {
            self.mode = Mode::Closing;
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        while !self.output.is_empty() {
            match write_some(&mut self.stream, &self.output)? {
                Some(n) => drop(self.output.drain(..n)),
                None => return Ok(()),
            }
        }
        if let Mode::Feed(m) = &mut self.mode {
            websocket::session::flush(&mut self.stream, m)?;
        }
        Ok(())
    }

    /// Answers the requests read so far — while less than
    /// [`http1::PIPELINE_LIMIT`] bytes of answers wait: a client that
    /// pipelines requests and reads nothing gets no more until it reads.
    fn serve_requests(&mut self) {
        while matches!(self.mode, Mode::Requests) && self.output.len() < http1::PIPELINE_LIMIT {
            match self.reader.next_request() {
                Ok(Parsed::Complete(request)) => self.request(request),
                Ok(Parsed::Incomplete) => return,
                Err(e) => {
                    let r = Response::text(e.status(), &e.to_string());
                    self.respond(r, true);
                }
            }
        }
    }

    // ANCHOR: dashboard_request
    /// One request: the page, the feed, or a report.
    fn request(&mut self, Request { head, body }: Request) {
        self.requests += 1;
        let close = head.headers.has_token("connection", "close");
        // A target that names no resource (`*`, not a path nor a URL) is a
        // 400 with the reason, as on every server (RFC 9112 §3.2.4), not a 404.
        let path = match head.path() {
            Ok(path) => path,
            Err(why) => return self.respond(Response::text(400, &why), true),
        };
        let path = path.split('?').next().unwrap_or("");
        match (head.method.as_str(), path) {
            // Every method: the one Upgrade check answers a POST with its 405.
            (_, "/feed") => match check_upgrade(&head, &self.settings.origins) {
                Decision::Upgrade(up) => {
                    info!("[{}] a dashboard subscribed to the feed", self.tuple);
                    let Some(held) = self.held.take() else {
                        return;
                    };
                    let rest = self.reader.take_rest();
                    let mut m = Machine::upgraded(
                        self.tuple,
                        Arc::clone(&self.settings),
                        held,
                        Listener,
                        &up,
                        &rest,
                    );
                    // The rows so far, through the same queue bound as
                    // every tick: a dashboard that never reads holds at
                    // most FEED_QUEUE_LIMIT of them, the rest counted.
                    let rows = self.feed.snapshot().join("\n");
                    let left_out = pass_on(&mut m, &mut self.skipped, rows.as_bytes());
                    self.feed.count_skipped(left_out);
                    self.mode = Mode::Feed(Box::new(m));
                }
                Decision::Reject(r) => {
                    self.output.extend_from_slice(&r.response());
                    self.mode = Mode::Closing;
                }
                Decision::Page | Decision::Incomplete => {
                    self.respond(Response::text(400, "/feed is a WebSocket"), true)
                }
            },
            ("GET", "/") => {
                let page = Response::new(200).body("text/html; charset=utf-8", PAGE);
                self.respond(page, close);
            }
            ("POST", "/report") => match Report::parse(&body) {
                Ok(report) => {
                    info!(
                        "[{}] report: {} exercise {}: {}",
                        self.tuple,
                        report.name,
                        report.exercise,
                        if report.pass { "pass" } else { "fail" }
                    );
                    if self.feed.progress.add(report) {
                        self.respond(
                            Response::new(200).body("application/json", "{\"ok\":true}\n"),
                            close,
                        );
                    } else {
                        self.respond(
                            Response::text(503, "the class's results table is full"),
                            close,
                        );
                    }
                }
                Err(why) => self.respond(Response::text(400, &why.0), close),
            },
            (_, "/" | "/report") => {
                let allow = if path == "/report" { "POST" } else { "GET" };
                let r = Response::text(405, &format!("{} is not allowed on {path}", head.method))
                    .header("Allow", allow);
                self.respond(r, close);
            }
            _ => self.respond(
                Response::text(
                    404,
                    "try / (the dashboard), /feed (WebSocket) or POST /report",
                ),
                close,
            ),
        }
    }
    // ANCHOR_END: dashboard_request

    fn finished(&self) -> bool {
        match &self.mode {
            Mode::Closing => self.output.is_empty(),
            Mode::Feed(m) => m.is_done() && m.output().is_empty(),
            Mode::Requests => false,
        }
    }
}

// ANCHOR: skip
/// Sends each of a tick's events that fits; counts the rest; says what was
/// counted as soon as there is room. Returns how many were left out.
fn pass_on(m: &mut Machine<Listener>, skipped: &mut Skipped, body: &[u8]) -> u64 {
    let mut left_out = 0;
    for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        if m.queued() >= FEED_QUEUE_LIMIT {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) {
                skipped.count(&v);
                // A feed-wide notice left out carries its counts into ours;
                // the feed counted those events when it made the notice.
                if v.get("event").and_then(serde_json::Value::as_str) != Some("skip") {
                    left_out += 1;
                }
            } else {
                left_out += 1;
            }
            continue;
        }
        if !skipped.is_empty() {
            m.send(Message::text(skipped.notice()));
            *skipped = Skipped::default();
        }
        m.send(Message::text(String::from_utf8_lossy(line).into_owned()));
    }
    left_out
}
// ANCHOR_END: skip

impl Session for DashboardSession {
    fn ready(&mut self, ready: Readiness, turn: &mut Turn<'_>) -> io::Result<Step> {
        self.stream.on_event(ready);
        let start = self.stream.progress().read;
        loop {
            self.flush()?;
            if let Mode::Feed(m) = &mut self.mode {
                // Room again after a skip: say what was left out now, not at
                // the next event (there may be none for a while).
                if !self.skipped.is_empty() && m.queued() < FEED_QUEUE_LIMIT {
                    m.send(Message::text(self.skipped.notice()));
                    self.skipped = Skipped::default();
                }
                let step = websocket::session::pump(&mut self.stream, m, turn, start)?;
                return Ok(if self.finished() { Step::Done } else { step });
            }
            if self.finished() {
                return Ok(Step::Done);
            }
            self.serve_requests(); // those waiting for room, now that some went out
            if matches!(self.mode, Mode::Feed(_)) {
                continue;
            }
            if self.ended {
                // Answered all it sent (what is left is not a whole request)?
                let done = self.output.is_empty();
                return Ok(if done { Step::Done } else { Step::Wait });
            }
            let backed_up = self.output.len() >= http1::PIPELINE_LIMIT;
            if matches!(self.mode, Mode::Closing) || self.reader.is_full() || backed_up {
                return Ok(Step::Wait);
            }
            if self.stream.progress().read - start >= turn.budget {
                return Ok(Step::Yield);
            }
            match read_some(&mut self.stream, turn.scratch)? {
                None => return Ok(Step::Wait),
                Some(0) => self.ended = true, // its requests are still answered
                Some(n) => {
                    self.reader.extend(&turn.scratch[..n]);
                    self.serve_requests();
                }
            }
        }
    }

    fn deliver(&mut self, mail: &Mail) -> io::Result<Step> {
        let Mode::Feed(m) = &mut self.mode else {
            return Ok(Step::Wait);
        };
        let left_out = pass_on(m, &mut self.skipped, &mail.body);
        self.feed.count_skipped(left_out);
        self.flush()?;
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
        let ws = match &self.mode {
            Mode::Feed(m) => m.queued(),
            _ => 0,
        };
        self.output.len() + ws
    }

    fn opening_deadline(&self) -> Option<std::time::Duration> {
        (self.requests == 0).then_some(OPENING_DEADLINE)
    }

    fn expire(&mut self, why: serve::v3_event_loop::Expiry) {
        if let Mode::Feed(m) = &mut self.mode {
            m.expire(why);
        } else if matches!(self.mode, Mode::Requests) && self.requests == 0 {
            // The opening deadline: say so, as every server does (408).
            self.respond(Response::text(408, "no complete request in time"), true);
            let _ = self.flush();
        }
    }

    fn idle_timeout(&self, idle: Option<std::time::Duration>) -> Option<std::time::Duration> {
        // A dashboard listens and never speaks: it is not idle.
        match self.mode {
            Mode::Feed(_) => None,
            _ => idle,
        }
    }
}

/// The WebSocket settings of `/feed`: small messages in, the Origin policy
/// from `--allow-origin`.
pub fn feed_settings(origins: websocket::OriginPolicy) -> Settings {
    Settings {
        origins,
        read_buffer: websocket::session::EVENT_LOOP_READ_BUFFER,
        ..Settings::new(MAX_FEED_MESSAGE, PAGE)
    }
}

/// The session for a dashboard-port connection, as `serve`'s engine starts it.
pub fn start(
    feed: Arc<Feed>,
    settings: Arc<Settings>,
    budget: serve::MemoryBudget,
) -> impl FnMut(TcpStream, FourTuple) -> DashboardSession + Clone + Send + 'static {
    move |stream, tuple| {
        DashboardSession::new(
            stream,
            tuple,
            Arc::clone(&feed),
            Arc::clone(&settings),
            budget.account(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events that do not fit are counted by kind, and the notice goes first
    /// once there is room.
    #[test]
    fn a_full_queue_counts_then_tells() {
        let mut s = Skipped::default();
        s.count(&serde_json::json!({"event": "open"}));
        s.count(&serde_json::json!({"event": "data", "in": 3, "out": 3}));
        assert_eq!((s.events, s.opens, s.bytes_in), (2, 1, 3));
    }
}
