//! `socklab compare --push`: the same events received five ways, measured on the wire.
//!
//! A push server (`socklab serve push`) publishes numbered events with their
//! creation time. Five clients receive them at once, one per technique, each
//! over the Tap, so every byte both ways is counted:
//!
//! - **short polling**: `GET /poll?since=ID` every [`POLL_EVERY`], on one
//!   keep-alive connection — many answers are empty;
//! - **long polling**: `GET /long-poll?since=ID`, answered when there is news;
//! - **streaming**: `GET /stream`, one chunked response, a chunk per event;
//! - **Server-Sent Events**: `GET /events`, reconnecting with `Last-Event-ID`;
//! - **WebSocket**: one Upgrade, then a message per event.
//!
//! Halfway through, every client drops its connection and opens a new one, as
//! a real client does after a network blip, so "lost" and "duplicated" measure
//! what each technique does across a reconnect: polling resumes from its
//! cursor, SSE from `Last-Event-ID`; a plain stream or WebSocket has no cursor.
//!
//! Latency is the event's arrival here minus its creation on the server: the
//! same machine, the same clock.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http1::{Parsed, parse_response};
use lifecycle::{Direction, Tap, TapLog};
use serde::Serialize;

use crate::stats::percentile;

/// How often the short-polling client asks.
pub const POLL_EVERY: Duration = Duration::from_millis(250);

/// Below this many events a p99 is just the maximum: say so instead.
pub const MIN_FOR_P99: usize = 100;

/// How long any one read may wait, so each client notices its deadline.
const TICK: Duration = Duration::from_millis(50);

/// The five techniques, in the order of the table.
pub const TECHNIQUES: [Technique; 5] = [
    Technique::Poll,
    Technique::LongPoll,
    Technique::Stream,
    Technique::Sse,
    Technique::WebSocket,
];

/// One way to receive events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Technique {
    /// `GET /poll?since=ID`, again and again.
    Poll,
    /// `GET /long-poll?since=ID`, held by the server until news.
    LongPoll,
    /// `GET /stream`: chunked, never finished.
    Stream,
    /// `GET /events`: Server-Sent Events.
    Sse,
    /// The Upgrade, then messages.
    WebSocket,
}

impl Technique {
    /// Its name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Technique::Poll => "short polling",
            Technique::LongPoll => "long polling",
            Technique::Stream => "streaming",
            Technique::Sse => "SSE",
            Technique::WebSocket => "WebSocket",
        }
    }
}

/// What one technique measured.
#[derive(Debug, Clone, Serialize)]
pub struct TechniqueReport {
    /// Which technique.
    pub technique: Technique,
    /// HTTP requests sent (for WebSocket: the Upgrade requests only).
    pub requests: u64,
    /// TCP connections opened (one more than the reconnects).
    pub connections: u64,
    /// Responses that carried no event (short polls with nothing new, long
    /// polls that timed out).
    pub empty_responses: u64,
    /// Distinct events of the window received.
    pub events: u64,
    /// Events of the window never received.
    pub lost: u64,
    /// Events received more than once.
    pub duplicated: u64,
    /// Bytes written, all connections (the Tap).
    pub bytes_sent: u64,
    /// Bytes read, all connections (the Tap).
    pub bytes_received: u64,
    /// Of those, the events' own JSON: the payload.
    pub payload_bytes: u64,
    /// Bytes both ways per event received; `None` without events.
    pub bytes_per_event: Option<f64>,
    /// Of those, what is not the payload: request and response heads, chunk
    /// sizes, `data:` lines, frame headers.
    pub overhead_per_event: Option<f64>,
    /// Delivery latency, creation to arrival, µs: median.
    pub latency_p50_us: Option<f64>,
    /// … and 99th percentile (`None` below [`MIN_FOR_P99`] events).
    pub latency_p99_us: Option<f64>,
}

/// The whole comparison at one event rate.
#[derive(Debug, Clone, Serialize)]
pub struct PushComparison {
    /// The server's events per second.
    pub rate: f64,
    /// How long the clients listened, seconds.
    pub secs: f64,
    /// The events every technique should have received: ids after `first` up to
    /// and including `last`.
    pub window: (u64, u64),
    /// One report per technique.
    pub techniques: Vec<TechniqueReport>,
}

/// What one client saw, before it is turned into a report.
#[derive(Default)]
struct Seen {
    requests: u64,
    connections: u64,
    empty: u64,
    /// id → (times received, first latency µs)
    events: BTreeMap<u64, (u32, f64)>,
    payload: u64,
}

impl Seen {
    fn event(&mut self, json: &str) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
            return;
        };
        let (Some(id), Some(at)) = (v["id"].as_u64(), v["at_us"].as_u64()) else {
            return;
        };
        let latency = now_us().saturating_sub(at) as f64;
        self.payload += json.len() as u64;
        self.events.entry(id).or_insert((0, latency)).0 += 1;
    }

    fn last_id(&self) -> u64 {
        self.events.keys().next_back().copied().unwrap_or(0)
    }
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Runs the five clients against the push server at `addr` for `secs` (which
/// publishes at `rate`), reconnecting each halfway, and measures them.
pub fn compare_push(addr: SocketAddr, rate: f64, secs: f64) -> io::Result<PushComparison> {
    let first = last_published(addr)?;
    let start = Instant::now();
    let half = start + Duration::from_secs_f64(secs / 2.0);
    let end = start + Duration::from_secs_f64(secs);
    let clients: Vec<_> = TECHNIQUES
        .iter()
        .map(|&t| {
            thread::spawn(move || {
                let log = TapLog::new();
                let mut seen = Seen::default();
                let result = run(t, addr, &log, &mut seen, half, end);
                (t, log, seen, result)
            })
        })
        .collect();
    // The window ends at the last event published when the clients' time is up;
    // each keeps listening until it has that one (or a little longer).
    thread::sleep(end.saturating_duration_since(Instant::now()));
    let last = last_published(addr)?;
    let mut techniques = Vec::new();
    for client in clients {
        let (t, log, seen, result) = client
            .join()
            .map_err(|_| io::Error::other("a push client panicked"))?;
        result.map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", t.name())))?;
        techniques.push(report(t, &log, &seen, first, last));
    }
    Ok(PushComparison {
        rate,
        secs,
        window: (first, last),
        techniques,
    })
}

/// One technique's conversation with the push server at `addr` for `secs`, on
/// one connection, every byte both ways recorded with its time: what
/// `socklab diagram` draws as the push techniques' sequence diagram.
pub fn conversation(
    t: Technique,
    addr: SocketAddr,
    secs: f64,
) -> io::Result<Vec<lifecycle::tap::Record>> {
    let log = TapLog::new();
    let mut seen = Seen::default();
    let end = Instant::now() + Duration::from_secs_f64(secs);
    listen(t, addr, &log, &mut seen, &|_, now| now >= end)?;
    Ok(log.records())
}

/// The newest event id, by short polls on one connection of its own: an answer
/// is capped (the server says `X-More-Since`), so it polls on from the newest id
/// it got until an answer comes back empty.
fn last_published(addr: SocketAddr) -> io::Result<u64> {
    let log = TapLog::new();
    let mut c = Http::connect(addr, &log)?;
    let mut newest = 0;
    // Bounded: each answer moves the cursor forward, and the hub keeps a window.
    for _ in 0..MAX_CATCH_UP_POLLS {
        let (_, body) = c.get(&format!("/poll?since={newest}"), None)?;
        let events: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap_or_default();
        match events.iter().filter_map(|e| e["id"].as_u64()).max() {
            Some(id) if id > newest => newest = id,
            _ => break,
        }
    }
    Ok(newest)
}

/// How many short polls [`last_published`] makes at most to reach the newest id.
const MAX_CATCH_UP_POLLS: usize = 64;

fn report(t: Technique, log: &TapLog, seen: &Seen, first: u64, last: u64) -> TechniqueReport {
    let window = first + 1..=last;
    let got: Vec<(u32, f64)> = window
        .clone()
        .filter_map(|id| seen.events.get(&id).copied())
        .collect();
    let events = got.len() as u64;
    let duplicated = got.iter().filter(|(n, _)| *n > 1).count() as u64;
    let mut latencies: Vec<f64> = got.iter().map(|(_, l)| *l).collect();
    latencies.sort_by(f64::total_cmp);
    let sent = log.total(Direction::Sent) as u64;
    let received = log.total(Direction::Received) as u64;
    let per = |bytes: u64| (events > 0).then(|| bytes as f64 / events as f64);
    TechniqueReport {
        technique: t,
        requests: seen.requests,
        connections: seen.connections,
        empty_responses: seen.empty,
        events,
        lost: (window.count() as u64).saturating_sub(events),
        duplicated,
        bytes_sent: sent,
        bytes_received: received,
        payload_bytes: seen.payload,
        bytes_per_event: per(sent + received),
        overhead_per_event: per((sent + received).saturating_sub(seen.payload)),
        latency_p50_us: percentile(&latencies, 50.0),
        latency_p99_us: (latencies.len() >= MIN_FOR_P99)
            .then(|| percentile(&latencies, 99.0))
            .flatten(),
    }
}

// ANCHOR: run
/// One client: connect, receive until `end` (reconnecting once at `half`), then
/// until it has caught up with what was published by `end` (at most 2 s more).
fn run(
    t: Technique,
    addr: SocketAddr,
    log: &TapLog,
    seen: &mut Seen,
    half: Instant,
    end: Instant,
) -> io::Result<()> {
    let grace = end + Duration::from_secs(2);
    listen(t, addr, log, seen, &|_, now| now >= half)?;
    // The second connection listens to the end, then catches up: the window's
    // last event (the newest one when time is up) may still be on its way.
    let target = std::cell::Cell::new(None);
    let done = |seen: &Seen, now: Instant| {
        if now < end {
            return false;
        }
        let last = match target.get() {
            Some(last) => last,
            None => {
                let last = last_published(addr).unwrap_or(0);
                target.set(Some(last));
                last
            }
        };
        seen.last_id() >= last || now >= grace
    };
    listen(t, addr, log, seen, &done)
}
// ANCHOR_END: run

/// One connection's life for technique `t`, until `done`.
fn listen(
    t: Technique,
    addr: SocketAddr,
    log: &TapLog,
    seen: &mut Seen,
    done: &dyn Fn(&Seen, Instant) -> bool,
) -> io::Result<()> {
    seen.connections += 1;
    if t == Technique::WebSocket {
        return listen_ws(addr, log, seen, done);
    }
    let mut c = Http::connect(addr, log)?;
    match t {
        Technique::Poll | Technique::LongPoll => {
            let path = if t == Technique::Poll {
                "/poll"
            } else {
                "/long-poll"
            };
            while !done(seen, Instant::now()) {
                seen.requests += 1;
                let (status, body) = c.get(&format!("{path}?since={}", seen.last_id()), None)?;
                let events: Vec<serde_json::Value> =
                    serde_json::from_slice(&body).unwrap_or_default();
                if status == 204 || events.is_empty() {
                    seen.empty += 1;
                }
                for e in &events {
                    seen.event(&e.to_string());
                }
                if t == Technique::Poll {
                    thread::sleep(POLL_EVERY);
                }
            }
        }
        Technique::Stream | Technique::Sse => {
            seen.requests += 1;
            let (path, resume) = if t == Technique::Stream {
                ("/stream", None)
            } else {
                let last = seen.last_id();
                ("/events", (last > 0).then_some(last))
            };
            c.send_get(path, resume)?;
            c.head()?;
            while !done(seen, Instant::now()) {
                let item = if t == Technique::Stream {
                    c.chunk()?
                } else {
                    c.sse_data()?
                };
                if let Some(json) = item {
                    seen.event(&json);
                }
            }
        }
        Technique::WebSocket => {}
    }
    Ok(())
}

fn listen_ws(
    addr: SocketAddr,
    log: &TapLog,
    seen: &mut Seen,
    done: &dyn Fn(&Seen, Instant) -> bool,
) -> io::Result<()> {
    let stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(TICK))?;
    seen.requests += 1; // the Upgrade: the only HTTP request this technique makes
    let tap = Tap::with_log(stream, log.clone());
    let (mut ws, _) = tungstenite::client(format!("ws://{addr}/ws"), tap)
        .map_err(|e| io::Error::other(format!("WebSocket upgrade: {e}")))?;
    while !done(seen, Instant::now()) {
        match ws.read() {
            Ok(tungstenite::Message::Text(t)) => seen.event(t.as_str()),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if is_tick(&e) => {}
            Err(e) => return Err(io::Error::other(e.to_string())),
        }
    }
    // Dropped without a close handshake: the reconnect a blip would cause.
    Ok(())
}

fn is_tick(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// A minimal HTTP/1.1 client over the Tap: requests on one keep-alive
/// connection, responses parsed with the same `http1` module the servers use.
struct Http {
    tap: Tap<TcpStream>,
    addr: SocketAddr,
    buf: Vec<u8>,
}

impl Http {
    fn connect(addr: SocketAddr, log: &TapLog) -> io::Result<Http> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(TICK))?;
        Ok(Http {
            tap: Tap::with_log(stream, log.clone()),
            addr,
            buf: Vec::new(),
        })
    }

    fn send_get(&mut self, path: &str, last_event_id: Option<u64>) -> io::Result<()> {
        let resume = last_event_id.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
        // One write for the whole request: written in pieces, the second piece
        // would wait for the ACK of the first (Nagle's algorithm against the
        // peer's delayed ACK), 40 ms a request on Linux.
        let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n{resume}\r\n", self.addr);
        self.tap.write_all(request.as_bytes())
    }

    /// Reads more bytes; `Ok(false)` when the read only timed out.
    fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 8192];
        match self.tap.read(&mut chunk) {
            Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Err(e) if is_tick(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The next response head: its status and Content-Length.
    fn head(&mut self) -> io::Result<(u16, usize)> {
        loop {
            match parse_response(&self.buf) {
                Ok(Parsed::Complete(head)) => {
                    self.buf.drain(..head.head_len);
                    let len = head
                        .headers
                        .get("content-length")
                        .and_then(|n| n.trim().parse().ok())
                        .unwrap_or(0);
                    return Ok((head.status, len));
                }
                Ok(Parsed::Incomplete) => {
                    self.fill()?;
                }
                Err(e) => return Err(io::Error::other(e.to_string())),
            }
        }
    }

    /// One request and its whole response (a long poll may take a while).
    fn get(&mut self, path: &str, last_event_id: Option<u64>) -> io::Result<(u16, Vec<u8>)> {
        self.send_get(path, last_event_id)?;
        let (status, len) = self.head()?;
        while self.buf.len() < len {
            self.fill()?;
        }
        Ok((status, self.buf.drain(..len).collect()))
    }

    /// The next chunk of a chunked body, if one is complete (else `None` after a tick).
    fn chunk(&mut self) -> io::Result<Option<String>> {
        if let Some(end) = find(&self.buf, b"\r\n") {
            let size = std::str::from_utf8(&self.buf[..end])
                .ok()
                .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
                .ok_or_else(|| io::Error::other("bad chunk size"))?;
            if self.buf.len() >= end + 2 + size + 2 {
                let data = String::from_utf8_lossy(&self.buf[end + 2..end + 2 + size])
                    .trim_end()
                    .to_string();
                self.buf.drain(..end + 2 + size + 2);
                return Ok(Some(data));
            }
        }
        self.fill()?;
        Ok(None)
    }

    /// The `data:` of the next complete Server-Sent Events block, if any.
    fn sse_data(&mut self) -> io::Result<Option<String>> {
        if let Some(end) = find(&self.buf, b"\n\n") {
            let block = String::from_utf8_lossy(&self.buf[..end]).to_string();
            self.buf.drain(..end + 2);
            let data = block.lines().find_map(|l| l.strip_prefix("data: "));
            return Ok(data.map(str::to_string));
        }
        self.fill()?;
        Ok(None)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
