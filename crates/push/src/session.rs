//! One push-server connection: HTTP/1.1 requests, one after another on the same
//! connection (keep-alive), each answered by one of the five techniques.
//!
//! What HTTP allows and what it does not is the lesson here, so each technique
//! is a state the connection is in, and what the server may do in it is plain:
//!
//! - **Requests** — waiting for the next request head. HTTP/1.1 keeps the
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
//! Memory: everything queued for the client counts against [`SLOW_CONSUMER`];
//! a client that stops reading an event stream is dropped, logged and counted,
//! instead of growing the server.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use http1::{Parsed, RequestHead, Response, Version, parse_request};
use lifecycle::FourTuple;
use log::{info, warn};
use mio::net::TcpStream;
use serve::limits::Held;
use serve::v3_event_loop::Expiry;
use serve::v3_event_loop::{
    Mail, Progress, QUEUE_LIMIT, Readiness, Session, Step, Tracked, Turn, read_some, write_some,
};
use tungstenite::Message;
use websocket::session::{flush, pump};

use crate::hub::{Event, Hub};
use crate::{Config, PAGE, PushStats};
use websocket::{Decision, Handler, Machine, Outbox, Settings, asks_for_websocket, check_upgrade};

/// Bytes queued for a client of an event stream (stream, SSE, WebSocket) before
/// it counts as not reading and is dropped.
pub const SLOW_CONSUMER: usize = 256 * 1024;

/// The largest body `POST /publish` takes.
pub const MAX_POST: usize = 4096;

/// What the connection is doing now.
enum Mode {
    /// Waiting for (the rest of) a request head.
    Requests,
    /// `POST /publish` head read; its body (`len` bytes) is arriving.
    Body { len: usize, close: bool },
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

/// A WebSocket client's handler: each message it sends is a line to publish,
/// kept until the session publishes it.
#[derive(Default)]
pub struct Publisher {
    lines: Vec<String>,
}

impl Handler for Publisher {
    fn message(&mut self, message: Message, _out: &mut Outbox<'_>) {
        match message {
            Message::Text(text) => self.lines.push(text.to_string()),
            Message::Binary(b) => self.lines.push(String::from_utf8_lossy(&b).into_owned()),
            _ => {}
        }
    }
}

/// One connection of the push server.
pub struct PushSession {
    stream: Tracked,
    tuple: FourTuple,
    hub: Arc<Hub>,
    config: Arc<Config>,
    stats: Arc<PushStats>,
    mode: Mode,
    /// Bytes received and not yet used (a partial head, a pipelined request).
    input: Vec<u8>,
    /// Bytes for the client, oldest first.
    output: Vec<u8>,
    /// Requests answered on this connection (the 4-tuple reused: lesson 21).
    requests: u64,
    /// This connection's share of the memory budget, until a WebSocket's
    /// machine takes it.
    held: Option<Held>,
}

impl PushSession {
    /// A session for a freshly accepted connection.
    pub fn new(
        stream: TcpStream,
        tuple: FourTuple,
        hub: Arc<Hub>,
        config: Arc<Config>,
        stats: Arc<PushStats>,
        held: Held,
    ) -> PushSession {
        PushSession {
            stream: Tracked::new(stream, tuple),
            tuple,
            hub,
            config,
            stats,
            mode: Mode::Requests,
            input: Vec::new(),
            output: Vec::new(),
            requests: 0,
            held: Some(held),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        while !self.output.is_empty() {
            match write_some(&mut self.stream, &self.output)? {
                Some(n) => {
                    self.output.drain(..n);
                }
                None => break,
            }
        }
        if let Mode::WebSocket(m) = &mut self.mode
            && self.output.is_empty()
        {
            flush(&mut self.stream, m)?;
        }
        Ok(())
    }

    fn queued(&self) -> usize {
        let ws = match &self.mode {
            Mode::WebSocket(m) => m.output().len(),
            _ => 0,
        };
        self.output.len() + ws
    }

    /// Queues a complete response; `close` ends the connection after it.
    fn respond(&mut self, response: Response, close: bool) {
        let response = if close {
            response.header("Connection", "close")
        } else {
            response.header("Connection", "keep-alive")
        };
        let response = response.header("X-Request-Number", self.requests);
        self.output.extend_from_slice(&response.to_bytes());
        self.mode = if close { Mode::Closing } else { Mode::Requests };
    }

    // ANCHOR: requests
    /// Uses what has arrived: complete request heads are answered in order.
    fn take_input(&mut self) {
        loop {
            match &mut self.mode {
                Mode::Requests => {
                    let head = match parse_request(&self.input) {
                        Ok(Parsed::Incomplete) => return,
                        Ok(Parsed::Complete(head)) => head,
                        Err(e) => {
                            info!(
                                "[{}] {} {}: {e}",
                                self.tuple,
                                e.status(),
                                http1::reason_phrase(e.status())
                            );
                            self.input.clear();
                            return self.respond(Response::text(e.status(), &e.to_string()), true);
                        }
                    };
                    self.input.drain(..head.head_len);
                    self.requests += 1;
                    self.stats.requests.fetch_add(1, Ordering::Relaxed);
                    self.request(head);
                }
                Mode::Body { len, close } => {
                    if self.input.len() < *len {
                        return;
                    }
                    let (len, close) = (*len, *close);
                    let body: Vec<u8> = self.input.drain(..len).collect();
                    let line = String::from_utf8_lossy(&body).trim_end().to_string();
                    let event = self.hub.publish(line);
                    info!("[{}] POST /publish: event {}", self.tuple, event.id);
                    let json = format!("{{\"id\":{}}}\n", event.id);
                    self.respond(Response::new(200).body("application/json", json), close);
                }
                // The machine reads for itself (Session::ready).
                Mode::WebSocket(_) => return,
                // One response at a time: anything sent while a long poll is held
                // waits (pipelining); on a stream it can never be answered.
                Mode::Holding { .. } | Mode::Closing => return,
                Mode::Streaming | Mode::Sse => {
                    self.input.clear();
                    return;
                }
            }
        }
    }
    // ANCHOR_END: requests

    // ANCHOR: request
    /// Answers one request head, by the technique its path names.
    fn request(&mut self, head: RequestHead) {
        let tuple = self.tuple;
        // HTTP/1.0 closes after each response unless asked otherwise; HTTP/1.1
        // keeps the connection unless the client says `Connection: close`.
        let close =
            head.version == Version::Http10 || head.headers.has_token("connection", "close");
        info!(
            "[{tuple}] {} (request {} on this connection)",
            head.request_line(),
            self.requests
        );
        // A request meant for WebSocket gets the one check every server runs
        // (crates/websocket): the same status and reason as `serve ws`.
        if asks_for_websocket(&head) {
            return self.upgrade(&head);
        }
        if let Err(why) = head.host() {
            return self.respond(Response::text(400, &why), true);
        }
        let target = match head.path() {
            Ok(path) => path,
            Err(why) => return self.respond(Response::text(400, &why), true),
        };
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let since = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("since="))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        match (head.method.as_str(), path) {
            ("GET", "/") => {
                let page = Response::new(200).body("text/html; charset=utf-8", PAGE);
                self.respond(page, close);
            }
            // Short polling: answer at once with whatever is new — often nothing.
            ("GET", "/poll") => {
                let events = self.hub.since(since);
                self.respond(events_response(&events), close);
            }
            // Long polling: answer at once if something is new, else hold the
            // request until an event comes or --hold passes.
            ("GET", "/long-poll") => {
                let events = self.hub.since(since);
                if events.is_empty() {
                    let until = Instant::now() + self.config.hold;
                    self.mode = Mode::Holding {
                        since,
                        until,
                        close,
                    };
                } else {
                    self.respond(events_response(&events), close);
                }
            }
            // Streaming: one response whose body never ends; each event is a chunk.
            ("GET", "/stream") => {
                let start = "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n\
                            Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n\r\n";
                self.output.extend_from_slice(start.as_bytes());
                self.mode = Mode::Streaming;
            }
            // Server-Sent Events: the same, in the text/event-stream format the
            // browser's EventSource reads, with ids it can resume from.
            ("GET", "/events") => {
                let start = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
                            Cache-Control: no-cache\r\n\r\nretry: 1000\n\n";
                self.output.extend_from_slice(start.as_bytes());
                let resume = head
                    .headers
                    .get("last-event-id")
                    .and_then(|v| v.trim().parse::<u64>().ok());
                if let Some(last) = resume {
                    info!("[{tuple}] Last-Event-ID: {last}: resending what came after it");
                    for event in self.hub.since(last) {
                        self.output
                            .extend_from_slice(sse_block(event.id, &event.json()).as_bytes());
                    }
                }
                self.mode = Mode::Sse;
            }
            ("POST", "/publish") => {
                match head.headers.get("content-length").map(str::parse::<usize>) {
                    Some(Ok(len)) if len <= MAX_POST => self.mode = Mode::Body { len, close },
                    Some(Ok(len)) => self.respond(
                        Response::text(413, &format!("a line of {len} bytes: at most {MAX_POST}")),
                        true,
                    ),
                    _ => self.respond(
                        Response::text(411, "POST /publish needs a Content-Length"),
                        true,
                    ),
                }
            }
            (_, "/" | "/poll" | "/long-poll" | "/stream" | "/events" | "/publish") => {
                let allow = if path == "/publish" { "POST" } else { "GET" };
                let r = Response::text(405, &format!("{} is not allowed on {path}", head.method))
                    .header("Allow", allow);
                self.respond(r, close);
            }
            _ => self.respond(
                Response::text(
                    404,
                    &format!(
                        "no {path} here: try /, /poll, /long-poll, /stream, /events or a WebSocket"
                    ),
                ),
                close,
            ),
        }
    }
    // ANCHOR_END: request

    /// The WebSocket Upgrade on the same port: checked, answered with 101, and
    /// from then on the connection machine (crates/websocket) runs it.
    fn upgrade(&mut self, head: &RequestHead) {
        let settings = Settings {
            origins: self.config.origin_policy(),
            ..Settings::new(MAX_POST, PAGE)
        };
        match check_upgrade(head, &settings.origins) {
            Decision::Upgrade(up) => {
                info!(
                    "[{}] 101 Switching Protocols: events as WebSocket messages from here on",
                    self.tuple
                );
                // An Upgrade is decided once, so the budget's share is still here.
                let Some(held) = self.held.take() else {
                    return;
                };
                let input: Vec<u8> = self.input.drain(..).collect();
                let machine = Machine::upgraded(
                    self.tuple,
                    Arc::new(settings),
                    held,
                    Publisher::default(),
                    &up,
                    &input,
                );
                self.mode = Mode::WebSocket(Box::new(machine));
            }
            Decision::Reject(r) => {
                info!(
                    "[{}] {} {}: {}",
                    self.tuple,
                    r.status,
                    http1::reason_phrase(r.status),
                    r.reason
                );
                self.output.extend_from_slice(&r.response());
                self.mode = Mode::Closing;
            }
            // A Sec-WebSocket-* header on a plain `GET /`: the page.
            Decision::Page | Decision::Incomplete => {
                let page = Response::new(200).body("text/html; charset=utf-8", PAGE);
                self.respond(page, true);
            }
        }
    }

    /// Messages from a WebSocket client become events for everyone.
    fn publish_messages(&mut self) {
        let Mode::WebSocket(m) = &mut self.mode else {
            return;
        };
        for line in std::mem::take(&mut m.handler_mut().lines) {
            let event = self.hub.publish(line);
            info!(
                "[{}] WebSocket message published as event {}",
                self.tuple, event.id
            );
        }
    }

    // ANCHOR: deliver
    /// An event arrived from the hub: each technique delivers it its own way.
    fn push(&mut self, id: u64, json: &str) -> Step {
        match &mut self.mode {
            Mode::Holding { since, close, .. } if id > *since => {
                let events = self.hub.since(*since);
                let close = *close;
                self.respond(events_response(&events), close);
                self.take_input(); // a request pipelined behind the long poll
            }
            Mode::Streaming => {
                let line = format!("{json}\n");
                self.output
                    .extend_from_slice(format!("{:x}\r\n{line}\r\n", line.len()).as_bytes());
            }
            Mode::Sse => self
                .output
                .extend_from_slice(sse_block(id, json).as_bytes()),
            Mode::WebSocket(m) => {
                m.send(Message::text(json));
            }
            // Short polling and idle keep-alive connections are not listening.
            _ => return Step::Wait,
        }
        if self.queued() > SLOW_CONSUMER {
            warn!(
                "[{}] not reading: {} bytes of events queued (limit {SLOW_CONSUMER}): dropping this client",
                self.tuple,
                self.queued()
            );
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return Step::Done;
        }
        Step::Wait
    }
    // ANCHOR_END: deliver
}

impl Session for PushSession {
    fn ready(&mut self, ready: Readiness, turn: &mut Turn<'_>) -> io::Result<Step> {
        self.stream.on_event(ready);
        let start = self.stream.progress().read;
        loop {
            self.flush()?;
            // Upgraded: the machine's loop (write, backpressure, fairness,
            // read), once the answers queued before the 101 are out; then
            // what the client sent is published.
            if let Mode::WebSocket(m) = &mut self.mode {
                if !self.output.is_empty() {
                    return Ok(Step::Wait);
                }
                let step = pump(&mut self.stream, m, turn, start);
                self.publish_messages();
                return step;
            }
            if matches!(self.mode, Mode::Closing) {
                return Ok(if self.queued() == 0 {
                    Step::Done
                } else {
                    Step::Wait
                });
            }
            // Backpressure: the client must read before we read more from it.
            if self.queued() >= QUEUE_LIMIT || self.input.len() > http1::MAX_HEAD + MAX_POST {
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
                    self.input.extend_from_slice(&turn.scratch[..n]);
                    self.take_input();
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
        self.flush()?;
        let over = match &self.mode {
            Mode::Closing => true,
            Mode::WebSocket(m) => m.is_done(),
            _ => false,
        };
        Ok(if over && self.queued() == 0 {
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
            Mode::Requests | Mode::Body { .. } | Mode::Closing => idle,
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
            self.take_input();
            self.flush()?;
        }
        Ok(Step::Wait)
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

/// The events as a JSON array, one response (polling and long polling).
fn events_response(events: &[Event]) -> Response {
    let body: Vec<String> = events.iter().map(Event::json).collect();
    Response::new(200).body("application/json", format!("[{}]\n", body.join(",")))
}

/// One Server-Sent Events block: the id the browser will send back as
/// `Last-Event-ID` when it reconnects, and the data.
fn sse_block(id: u64, json: &str) -> String {
    format!("id: {id}\ndata: {json}\n\n")
}
