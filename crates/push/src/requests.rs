//! The HTTP side of a push connection: requests taken from http1's [`Reader`]
//! in order, and each answered by the technique its path names.
//!
//! Framing is not done here: [`Reader`] gives whole requests (a head and its
//! body, whatever the method), or the status to refuse the bytes with. What is
//! done here is *pacing*: the next pipelined request is taken only while what
//! is queued for the client is under [`PIPELINE_LIMIT`], so a hundred polls
//! sent at once by a client that never reads cost one answer's room, not a
//! hundred.
//!
//! [`Reader`]: http1::Reader

use std::io;
use std::sync::atomic::Ordering;
use std::time::Instant;

use http1::{PIPELINE_LIMIT, Parsed, Request, RequestHead, Response, Version};
use log::info;

use std::sync::Arc;

use crate::PAGE;
use crate::hub::Replay;
use crate::rate::retry_after_secs;
use crate::session::{ANSWER_CAP, MAX_POST, Mode, PushSession};
use crate::ws::Publisher;
use websocket::{Decision, Machine, Settings, asks_for_websocket, check_upgrade};

impl PushSession {
    /// Answers the requests already received, in order, while the client's
    /// queue has room; writes as it goes, so a client that reads keeps them coming.
    pub(crate) fn serve_requests(&mut self) -> io::Result<()> {
        loop {
            let before = self.requests;
            self.take_input();
            self.flush()?;
            if self.requests == before || self.stream.write_blocked() {
                return Ok(());
            }
        }
    }

    // ANCHOR: requests
    /// Uses what has arrived: whole requests are answered in order, the next
    /// one only once the client's queue is under [`PIPELINE_LIMIT`].
    pub(crate) fn take_input(&mut self) {
        loop {
            match &self.mode {
                Mode::Requests => {
                    if self.queued() >= PIPELINE_LIMIT {
                        return; // the client must read first: pipelining, paced
                    }
                    let request = match self.reader.next_request() {
                        // An Upgrade is decided at its head: one announcing a
                        // body is refused without waiting for the body.
                        Ok(Parsed::Incomplete) => match self.reader.peek_head() {
                            Ok(Parsed::Complete(head)) if asks_for_websocket(&head) => {
                                self.reader.take_head(&head);
                                Request {
                                    head,
                                    body: Vec::new(),
                                }
                            }
                            Ok(Parsed::Complete(head)) => return self.continue_if_asked(&head),
                            _ => return,
                        },
                        Ok(Parsed::Complete(request)) => request,
                        Err(e) => {
                            info!(
                                "[{}] {} {}: {e}",
                                self.tuple,
                                e.status(),
                                http1::reason_phrase(e.status())
                            );
                            // Nothing after a refused request can be trusted to
                            // start the next one: answer, and close.
                            let r = Response::text(e.status(), &e.to_string());
                            return self.respond(r, true);
                        }
                    };
                    self.requests += 1;
                    self.continued = false;
                    self.stats.requests.fetch_add(1, Ordering::Relaxed);
                    self.request(request);
                }
                // The machine reads for itself (`websocket_ready`).
                Mode::WebSocket(_) => return,
                // One response at a time: anything sent while a long poll is held
                // waits (pipelining); on a stream it can never be answered.
                Mode::Holding { .. } | Mode::Closing => return,
                Mode::Streaming | Mode::Sse => {
                    self.reader.clear();
                    return;
                }
            }
        }
    }
    // ANCHOR_END: requests

    /// A client that sent `Expect: 100-continue` waits for a go-ahead before
    /// it sends the body (curl does for bodies over 1 KiB, for up to a second):
    /// `100 Continue` once per request, while its body has not all arrived
    /// (RFC 9110 §10.1.1). A body too big never gets here: 413 comes first.
    fn continue_if_asked(&mut self, head: &RequestHead) {
        let asked = head
            .headers
            .get("expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"));
        if asked && !self.continued && head.version == Version::Http11 {
            self.continued = true;
            if let Err(over) = self.queue(b"HTTP/1.1 100 Continue\r\n\r\n") {
                self.over_budget(over);
            }
        }
    }

    // ANCHOR: request
    /// Answers one request, by the technique its path names.
    fn request(&mut self, Request { head, body }: Request) {
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
        if !body.is_empty() && head.method != "POST" {
            // Read by its length (http1 did) and ignored: never a request.
            info!(
                "[{tuple}] a {}-byte body on {}: ignored",
                body.len(),
                head.method
            );
        }
        match (head.method.as_str(), path) {
            ("GET", "/") => {
                let page = Response::new(200).body("text/html; charset=utf-8", PAGE);
                self.respond(page, close);
            }
            // Short polling: answer at once with whatever is new — often nothing.
            ("GET", "/poll") => {
                let replay = self.hub.replay(since, ANSWER_CAP);
                self.answer(&replay, since, close);
            }
            // Long polling: answer at once if something is new, else hold the
            // request until an event comes or --hold passes.
            ("GET", "/long-poll") => {
                let replay = self.hub.replay(since, ANSWER_CAP);
                if replay.events.is_empty() {
                    let until = Instant::now() + self.config.hold;
                    self.mode = Mode::Holding {
                        since,
                        until,
                        close,
                    };
                } else {
                    self.answer(&replay, since, close);
                }
            }
            // Streaming: one response whose body never ends; each event is a chunk.
            ("GET", "/stream") => {
                let start = "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n\
                            Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n\r\n";
                let cursor = self.hub.last_id();
                self.subscribe(start.as_bytes(), Mode::Streaming, cursor);
            }
            // Server-Sent Events: the same, in the text/event-stream format the
            // browser's EventSource reads, with ids it can resume from.
            ("GET", "/events") => {
                let start = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
                            Cache-Control: no-cache\r\n\r\nretry: 1000\n\n";
                let resume = head
                    .headers
                    .get("last-event-id")
                    .and_then(|v| v.trim().parse::<u64>().ok());
                if let Some(last) = resume {
                    info!("[{tuple}] Last-Event-ID: {last}: resending what came after it");
                }
                let cursor = resume.unwrap_or_else(|| self.hub.last_id());
                self.subscribe(start.as_bytes(), Mode::Sse, cursor);
            }
            ("POST", "/publish") => self.publish(&head, body, close),
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

    // ANCHOR: publish_limit
    /// `POST /publish`: the body becomes an event for everyone — if this
    /// connection is within its publish rate; else 429 with `Retry-After`.
    fn publish(&mut self, head: &RequestHead, body: Vec<u8>, close: bool) {
        if head.headers.count("content-length") == 0 && head.body != http1::Body::Chunked {
            let r = Response::text(411, "POST /publish needs a Content-Length");
            return self.respond(r, true);
        }
        if let Err(wait) = self.bucket.take(Instant::now()) {
            self.stats.limited.fetch_add(1, Ordering::Relaxed);
            let (rate, burst) = (self.config.publish_rate, self.config.publish_burst);
            info!("[{}] 429: publishing faster than {rate}/s", self.tuple);
            let r = Response::text(
                429,
                &format!(
                    "this connection publishes faster than --publish-rate {rate} a second \
                     (bursts of {burst}): wait, then publish again"
                ),
            )
            .header("Retry-After", retry_after_secs(wait));
            return self.respond(r, close);
        }
        let line = String::from_utf8_lossy(&body).trim_end().to_string();
        let event = self.hub.publish(line);
        info!("[{}] POST /publish: event {}", self.tuple, event.id);
        let json = format!("{{\"id\":{}}}\n", event.id);
        self.respond(Response::new(200).body("application/json", json), close);
    }
    // ANCHOR_END: publish_limit

    /// A poll's answer: the events as a JSON array, at most [`ANSWER_CAP`]
    /// bytes of them. When more are waiting, `X-More-Since` says where the
    /// client's next poll starts; when some are gone, `X-Missed` says which.
    pub(crate) fn answer(&mut self, replay: &Replay, since: u64, close: bool) {
        let body: Vec<&str> = replay.events.iter().map(|(_, json)| &**json).collect();
        let mut r = Response::new(200).body("application/json", format!("[{}]\n", body.join(",")));
        if replay.more {
            self.stats.capped.fetch_add(1, Ordering::Relaxed);
            r = r.header("X-More-Since", replay.last(since));
        }
        if let Some((from, to)) = replay.missed {
            r = r.header("X-Missed", format!("{from}-{to}"));
        }
        self.respond(r, close);
    }

    /// The WebSocket Upgrade on the same port: checked by crates/websocket,
    /// and from then on the one connection machine runs the protocol, with a
    /// [`Publisher`] saying what a message means here.
    fn upgrade(&mut self, head: &RequestHead) {
        let settings = Settings {
            origins: self.config.origin_policy(),
            deflate: self
                .config
                .deflate
                .then(websocket::deflate::Config::default),
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
                // Bytes sent right behind the head are already frames.
                let rest = self.reader.take_rest();
                let _ = self.recount();
                let machine = Machine::upgraded(
                    self.tuple,
                    Arc::new(settings),
                    held,
                    Publisher::default(),
                    &up,
                    &rest,
                );
                let cursor = self.hub.last_id();
                self.subscribe(b"", Mode::WebSocket(Box::new(machine)), cursor);
            }
            Decision::Reject(r) => {
                info!(
                    "[{}] {} {}: {}",
                    self.tuple,
                    r.status,
                    http1::reason_phrase(r.status),
                    r.reason
                );
                if let Err(over) = self.queue(&r.response()) {
                    return self.over_budget(over);
                }
                self.reader.clear();
                self.mode = Mode::Closing;
            }
            // A Sec-WebSocket-* header on a plain `GET /`: the page.
            Decision::Page | Decision::Incomplete => {
                let page = Response::new(200).body("text/html; charset=utf-8", PAGE);
                self.respond(page, true);
            }
        }
    }

    /// Starts a subscription: the response head queued, the mode set, and the
    /// cursor the subscriber continues from.
    fn subscribe(&mut self, start: &[u8], mode: Mode, cursor: u64) {
        if let Err(over) = self.queue(start) {
            return self.over_budget(over);
        }
        self.mode = mode;
        self.cursor = cursor;
        self.catch_up();
    }
}
