//! socklab's load generator: strict ping-pong over TCP, UDP and WebSocket.
//!
//! Each of `conns` connections sends one message of `size` bytes, waits for the
//! whole echo, records the round-trip time, and sends the next — for `secs`
//! seconds. Meanwhile `idle` more connections are opened first and held open
//! without a byte, which is what costs a thread-per-connection server memory.
//! The result is messages per second, RTT p50/p99, and the errors seen, with
//! refusals at the server's connection cap counted apart and the likely cause
//! named ([`Report::diagnosis`]).
//!
//! With `stream` > 0, that many more connections stream large messages at full
//! speed beside the measured ones (a few messages in flight, each echo read as
//! it comes): the load a fair server must not let starve a light client. Their
//! traffic is reported apart; the RTTs are the measured connections' only.
//!
//! [`churn`] holds the other two loads: connections opened, used once and
//! closed in a loop (connections per second), and a storm of connections opened
//! at once and dropped.
//!
//! It uses raw std sockets and tungstenite's client directly: a load generator
//! must not record every byte (the shared client's Tap does, for the lessons).
//! tls:// and wss:// run the same loads over rustls ([`secure`]), trusting the
//! server's certificate as `--cacert` or `--insecure` says ([`Target::trusting`]).
//!
//! Run: `socklab bench ws://127.0.0.1:8080/ --conns 8 --secs 5` (against
//! `socklab serve ws`). Bounded: every loop stops at `secs` or [`MAX_MESSAGES`].
#![deny(missing_docs)]

pub mod churn;
pub mod deflate;
pub mod fanout;
pub mod secure;

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::str::FromStr;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use client::{Framing, Trust};
use measure::stats::percentile;
use secure::{Stream, TlsClient};
use tungstenite::{Bytes, Message, WebSocket};

/// Most messages one connection sends, whatever `secs` says: a hard bound.
pub const MAX_MESSAGES: u64 = 10_000_000;

/// How long one reply may take before it counts as an error (a lost datagram, a
/// stuck server).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Messages each streaming connection keeps in flight: it sends this many, then
/// one more per echo it reads. A few, so the server always has work queued;
/// few enough that they fit in the socket buffers and the server's queue
/// (otherwise both sides would block in `write()`).
pub const STREAM_WINDOW: usize = 4;

/// Threads that open the idle connections in parallel.
const IDLE_OPENERS: usize = 4;

/// File descriptors kept free beyond the connections themselves.
const SPARE_FDS: u64 = 64;

/// Round trips per second per connection below which the report suggests the
/// server is slow for a reason of its own (narration, a debug build): a loopback
/// round trip takes tens of µs, so one taking over a millisecond on average is
/// not the network.
pub const LOW_RATE_PER_CONN: f64 = 1000.0;

/// Where to send load: `tcp://IP:PORT`, `udp://IP:PORT` or `ws://IP:PORT/path`,
/// and `tls://IP:PORT` or `wss://IP:PORT/path` (TLS under the same loads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL as given.
    pub url: String,
    /// Which protocol.
    pub kind: Kind,
    /// The server's address (loopback only).
    pub addr: SocketAddr,
    /// The scheme wants TLS (tls://, wss://).
    pub secure: bool,
    /// The TLS settings, once [`Target::trusting`] has made them.
    pub tls: Option<TlsClient>,
    /// The host as written, for TLS's name check.
    host: String,
}

/// The three transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bytes over TCP: the echo is read until `size` bytes came back.
    Tcp,
    /// One datagram out, one back.
    Udp,
    /// One binary WebSocket message out, one back.
    Ws,
}

impl Kind {
    /// `tcp`, `udp` or `ws`: the scheme, and the `socklab serve` subcommand.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tcp => "tcp",
            Kind::Udp => "udp",
            Kind::Ws => "ws",
        }
    }
}

impl FromStr for Target {
    type Err = String;

    fn from_str(url: &str) -> Result<Target, String> {
        // The one URL parser, shared with `socklab send`; the scheme's framing
        // says which kind of load.
        let parts = client::Url::parse(url).map_err(|e| e.to_string())?;
        let kind = match parts.scheme.framing() {
            Framing::Bytes => Kind::Tcp,
            Framing::Datagrams => Kind::Udp,
            Framing::Messages => Kind::Ws,
            Framing::Requests => {
                return Err(format!(
                    "{url}: bench measures echo round trips over tcp://, udp://, ws://, tls:// \
                     or wss://; for HTTP push, see `socklab compare --push`"
                ));
            }
        };
        let addr = parts.resolve().map_err(|e| e.to_string())?[0];
        if !addr.ip().is_loopback() {
            return Err(format!(
                "{url}: socklab bench only loads loopback addresses"
            ));
        }
        Ok(Target {
            url: url.to_string(),
            kind,
            addr,
            secure: parts.scheme.secure(),
            tls: None,
            host: parts.host.clone(),
        })
    }
}

impl Target {
    /// For tls:// and wss://: the TLS settings trusting as `trust` says (an
    /// error when nothing is trusted). Plain schemes are returned as they are.
    pub fn trusting(mut self, trust: &Trust) -> Result<Target, String> {
        if self.secure {
            let alpn: &[&[u8]] = if self.kind == Kind::Ws {
                &[b"http/1.1"]
            } else {
                &[]
            };
            self.tls = Some(TlsClient::new(trust, &self.host, alpn)?);
        }
        Ok(self)
    }

    /// The scheme's name: tcp, udp, ws, tls or wss (the `socklab serve` subcommand).
    pub fn scheme(&self) -> &'static str {
        match (self.kind, self.secure) {
            (Kind::Tcp, true) => "tls",
            (Kind::Ws, true) => "wss",
            (kind, _) => kind.name(),
        }
    }
}

/// How much load.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Connections doing ping-pong at the same time.
    pub conns: usize,
    /// How long they do it.
    pub duration: Duration,
    /// Bytes per message.
    pub size: usize,
    /// Extra connections opened first and held open, silent (tcp and ws only).
    pub idle: usize,
    /// Extra connections streaming `stream_size`-byte messages at full speed
    /// beside the measured ones (tcp and ws only).
    pub stream: usize,
    /// Bytes per streamed message.
    pub stream_size: usize,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// The target URL.
    pub url: String,
    /// Its transport.
    pub kind: Kind,
    /// Its scheme: tcp, udp, ws, tls or wss.
    pub scheme: &'static str,
    /// Ping-pong connections.
    pub conns: usize,
    /// Idle connections asked for (tcp and ws; 0 for udp).
    pub idle_asked: usize,
    /// Idle connections actually held open.
    pub idle: usize,
    /// Seconds it took to open (and, for ws, upgrade) the idle connections.
    pub idle_open_secs: f64,
    /// Bytes per message.
    pub size: usize,
    /// Streaming connections that ran beside the measured ones.
    pub stream: usize,
    /// Bytes per streamed message.
    pub stream_size: usize,
    /// Echoed bytes per second over all streaming connections, MB (10^6) per second.
    pub stream_mb_per_sec: f64,
    /// Round trips completed.
    pub messages: u64,
    /// Round trips per second, all connections together.
    pub msgs_per_sec: f64,
    /// Median round-trip time, microseconds; `None` when no round trip completed.
    pub rtt_p50_us: Option<f64>,
    /// 99th-percentile round-trip time, microseconds; `None` when no round trip completed.
    pub rtt_p99_us: Option<f64>,
    /// Connections that failed, replies that were wrong or late, idle connections
    /// that could not be opened or were found closed.
    pub errors: u64,
    /// Of those errors, connections the server turned away at its connection cap:
    /// a WebSocket server answers `503 Service Unavailable`; a TCP server accepts
    /// and closes at once, so the connection ends (EOF or reset) before any echo —
    /// for an idle connection, found closed when the run ends.
    pub refused: u64,
    /// The first error, to say what went wrong.
    pub first_error: Option<String>,
}

/// Runs the load against one target and returns what it measured.
pub fn run(target: &Target, opts: &Options) -> io::Result<Report> {
    let idle_wanted = if target.kind == Kind::Udp {
        0
    } else {
        opts.idle
    };
    lifecycle::limits::raise_fd_limit((idle_wanted + opts.conns) as u64 + SPARE_FDS)?;
    let mut errors = Errors::default();

    // 1. The idle connections, opened in parallel and kept until the end.
    let started = Instant::now();
    let idle = open_idle(target, idle_wanted, &mut errors);
    let idle_open_secs = started.elapsed().as_secs_f64();

    // 2. The ping-pong connections and the streaming ones, all starting together.
    let stream_wanted = if target.kind == Kind::Udp {
        0
    } else {
        opts.stream
    };
    let barrier = Arc::new(Barrier::new(opts.conns + stream_wanted + 1));
    let streams: Vec<_> = (0..stream_wanted)
        .map(|_| {
            let (target, opts, barrier) = (target.clone(), *opts, Arc::clone(&barrier));
            thread::spawn(move || stream(&target, &opts, &barrier))
        })
        .collect();
    let workers: Vec<_> = (0..opts.conns)
        .map(|_| {
            let (target, opts, barrier) = (target.clone(), *opts, Arc::clone(&barrier));
            thread::spawn(move || ping_pong(&target, &opts, &barrier))
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let mut rtts: Vec<u32> = Vec::new();
    for worker in workers {
        match worker.join() {
            Ok(result) => {
                rtts.extend_from_slice(&result.rtts);
                if let Some(e) = result.error {
                    errors.add(e);
                }
            }
            Err(_) => errors.add(Failure::Other("a load thread panicked".to_string())),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut streamed: u64 = 0;
    for worker in streams {
        match worker.join() {
            Ok(result) => {
                streamed += result.bytes;
                if let Some(e) = result.error {
                    errors.add(Failure::Other(format!("streaming connection: {e}")));
                }
            }
            Err(_) => errors.add(Failure::Other("a streaming thread panicked".to_string())),
        }
    }
    let stream_elapsed = started.elapsed().as_secs_f64();
    // An idle TCP connection past the cap was accepted and closed at once; it
    // never sent a byte, so only now, by looking, do we learn it is gone.
    let closed = idle.iter().filter(|c| closed_by_peer(c)).count();
    for _ in 0..closed {
        errors.add(Failure::Refused(
            "idle connection: closed by the server before any echo".to_string(),
        ));
    }
    drop(idle);

    rtts.sort_unstable();
    let messages = rtts.len() as u64;
    let rtts_us: Vec<f64> = rtts.iter().map(|&ns| f64::from(ns) / 1000.0).collect();
    Ok(Report {
        url: target.url.clone(),
        kind: target.kind,
        scheme: target.scheme(),
        conns: opts.conns,
        idle_asked: idle_wanted,
        idle: idle_wanted - errors.idle_failed - closed,
        idle_open_secs,
        size: opts.size,
        stream: stream_wanted,
        stream_size: opts.stream_size,
        stream_mb_per_sec: streamed as f64 / 1e6 / stream_elapsed.max(f64::EPSILON),
        messages,
        msgs_per_sec: messages as f64 / elapsed.max(f64::EPSILON),
        rtt_p50_us: percentile(&rtts_us, 50.0),
        rtt_p99_us: percentile(&rtts_us, 99.0),
        errors: errors.count,
        refused: errors.refused,
        first_error: errors.first,
    })
}

#[derive(Default)]
struct Errors {
    count: u64,
    refused: u64,
    idle_failed: usize,
    first: Option<String>,
}

impl Errors {
    fn add(&mut self, e: Failure) {
        self.count += 1;
        let text = match e {
            Failure::Refused(text) => {
                self.refused += 1;
                text
            }
            Failure::Other(text) => text,
        };
        self.first.get_or_insert(text);
    }
}

/// Why a connection or a round trip failed, as far as a client can tell.
#[derive(Debug)]
enum Failure {
    /// Turned away at the server's connection cap: a 503 to the Upgrade (ws), or
    /// the end of the connection before any echo (tcp).
    Refused(String),
    /// Anything else: refused connect(), a timeout, a wrong echo.
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused(why) | Failure::Other(why) => f.write_str(why),
        }
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Other(e.to_string())
    }
}

/// Whether the server has closed this idle connection (a TCP read would return
/// 0 or fail with a reset). Looks without taking or waiting: a non-blocking peek.
fn closed_by_peer(conn: &Idle) -> bool {
    let stream = match conn {
        Idle::Tcp(s) => s.tcp(),
        Idle::Ws(_) => return false, // a refused ws connection never became idle: 503
    };
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let mut byte = [0u8; 1];
    match stream.peek(&mut byte) {
        Ok(0) => true, // FIN: end of stream
        Ok(_) => false,
        Err(e) => e.kind() != io::ErrorKind::WouldBlock, // a reset: closed too
    }
}

/// A connection that is open and silent.
enum Idle {
    Tcp(Stream),
    Ws(#[allow(dead_code)] Box<WebSocket<Stream>>),
}

fn open_idle(target: &Target, count: usize, errors: &mut Errors) -> Vec<Idle> {
    let per_thread = count.div_ceil(IDLE_OPENERS);
    let openers: Vec<_> = (0..IDLE_OPENERS)
        .map(|i| {
            let target = target.clone();
            let n = per_thread.min(count.saturating_sub(i * per_thread));
            thread::spawn(move || {
                let mut opened = Vec::with_capacity(n);
                let mut failed = Vec::new();
                for _ in 0..n {
                    match open_one(&target) {
                        Ok(Conn::Tcp(s)) => opened.push(Idle::Tcp(s)),
                        Ok(Conn::Ws(ws)) => opened.push(Idle::Ws(ws)),
                        Ok(Conn::Udp(_)) => {}
                        Err(e) => failed.push(e),
                    }
                }
                (opened, failed)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(count);
    for opener in openers {
        if let Ok((opened, failed)) = opener.join() {
            all.extend(opened);
            errors.idle_failed += failed.len();
            for e in failed {
                errors.add(match e {
                    Failure::Refused(e) => Failure::Refused(format!("idle connection: {e}")),
                    Failure::Other(e) => Failure::Other(format!("idle connection: {e}")),
                });
            }
        }
    }
    all
}

/// One connection of any kind, ready for messages.
enum Conn {
    Tcp(Stream),
    Udp(UdpSocket),
    Ws(Box<WebSocket<Stream>>),
}

fn open_one(target: &Target) -> Result<Conn, Failure> {
    match target.kind {
        Kind::Udp => {
            let any: SocketAddr = if target.addr.is_ipv4() {
                "127.0.0.1:0".parse().map_err(io::Error::other)?
            } else {
                "[::1]:0".parse().map_err(io::Error::other)?
            };
            let socket = UdpSocket::bind(any)?;
            socket.connect(target.addr)?;
            socket.set_read_timeout(Some(REPLY_TIMEOUT))?;
            Ok(Conn::Udp(socket))
        }
        Kind::Tcp | Kind::Ws => {
            // TCP_NODELAY (each message is one write), and TLS for tls/wss.
            let stream = secure::connect(target)?;
            if target.kind == Kind::Tcp {
                return Ok(Conn::Tcp(stream));
            }
            match tungstenite::client(target.url.as_str(), stream) {
                Ok((ws, _response)) => Ok(Conn::Ws(Box::new(ws))),
                // Past its cap a WebSocket server answers the Upgrade with 503.
                Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response)))
                    if response.status() == tungstenite::http::StatusCode::SERVICE_UNAVAILABLE =>
                {
                    Err(Failure::Refused(format!(
                        "handshake: the server answered {}",
                        response.status()
                    )))
                }
                Err(e) => Err(Failure::Other(format!("handshake: {e}"))),
            }
        }
    }
}

/// What one ping-pong connection measured.
struct Worker {
    /// Round-trip times in nanoseconds (saturating at ~4.3 s).
    rtts: Vec<u32>,
    error: Option<Failure>,
}

fn ping_pong(target: &Target, opts: &Options, barrier: &Barrier) -> Worker {
    let conn = open_one(target);
    barrier.wait();
    let mut worker = Worker {
        rtts: Vec::new(),
        error: None,
    };
    let mut conn = match conn {
        Ok(conn) => conn,
        Err(Failure::Refused(e)) => {
            worker.error = Some(Failure::Refused(format!("connect: {e}")));
            return worker;
        }
        Err(Failure::Other(e)) => {
            worker.error = Some(Failure::Other(format!("connect: {e}")));
            return worker;
        }
    };
    let payload: Vec<u8> = (0..opts.size).map(|i| (i % 251) as u8).collect();
    let message = Bytes::from(payload.clone());
    let mut reply = vec![0u8; opts.size.max(1)];
    let deadline = Instant::now() + opts.duration;
    while (worker.rtts.len() as u64) < MAX_MESSAGES && Instant::now() < deadline {
        let sent = Instant::now();
        let result = match &mut conn {
            Conn::Tcp(s) => round_trip_tcp(s, &payload, &mut reply),
            Conn::Udp(s) => round_trip_udp(s, &payload, &mut reply),
            Conn::Ws(ws) => round_trip_ws(ws, &message),
        };
        if let Err(e) = result {
            // A TCP server past its cap accepts and closes at once: the first
            // echo never comes, the connection just ends (EOF, or a reset because
            // our message arrived unread).
            let ended = matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
            );
            worker.error = Some(if ended && worker.rtts.is_empty() {
                Failure::Refused(format!("closed by the server before any echo ({e})"))
            } else {
                Failure::Other(e.to_string())
            });
            break;
        }
        let rtt = sent.elapsed().as_nanos();
        worker.rtts.push(u32::try_from(rtt).unwrap_or(u32::MAX));
    }
    if let Conn::Ws(ws) = &mut conn {
        let _ = ws.close(None);
        let _ = ws.flush();
    }
    worker
}

/// What one streaming connection did.
struct Streamed {
    /// Echoed bytes read back.
    bytes: u64,
    error: Option<String>,
}

/// One streaming connection: [`STREAM_WINDOW`] messages in flight, one more sent
/// per echo read, until the deadline; then the echoes still in flight are read.
fn stream(target: &Target, opts: &Options, barrier: &Barrier) -> Streamed {
    let conn = open_one(target);
    barrier.wait();
    let mut done = Streamed {
        bytes: 0,
        error: None,
    };
    let mut conn = match conn {
        Ok(conn) => conn,
        Err(e) => {
            done.error = Some(format!("connect: {e}"));
            return done;
        }
    };
    let payload: Vec<u8> = (0..opts.stream_size).map(|i| (i % 251) as u8).collect();
    let message = Bytes::from(payload.clone());
    let mut reply = vec![0u8; payload.len()];
    let deadline = Instant::now() + opts.duration;
    let mut in_flight = 0usize;
    let mut sent: u64 = 0;
    let result: io::Result<()> = (|| {
        loop {
            let more = Instant::now() < deadline && sent < MAX_MESSAGES;
            if more && in_flight < STREAM_WINDOW {
                match &mut conn {
                    Conn::Tcp(s) => s.write_all(&payload)?,
                    Conn::Ws(ws) => ws
                        .send(Message::Binary(message.clone()))
                        .map_err(io::Error::other)?,
                    Conn::Udp(_) => return Ok(()),
                }
                in_flight += 1;
                sent += 1;
                continue;
            }
            if in_flight == 0 {
                return Ok(());
            }
            match &mut conn {
                Conn::Tcp(s) => {
                    s.read_exact(&mut reply)?;
                    check(reply == payload)?;
                }
                Conn::Ws(ws) => loop {
                    match ws.read().map_err(io::Error::other)? {
                        Message::Binary(b) => break check(b == message)?,
                        Message::Ping(_) | Message::Pong(_) => continue,
                        other => return Err(io::Error::other(format!("unexpected {other:?}"))),
                    }
                },
                Conn::Udp(_) => return Ok(()),
            }
            in_flight -= 1;
            done.bytes += payload.len() as u64;
        }
    })();
    if let Err(e) = result {
        done.error = Some(e.to_string());
    }
    if let Conn::Ws(ws) = &mut conn {
        let _ = ws.close(None);
        let _ = ws.flush();
    }
    done
}

fn round_trip_tcp(s: &mut Stream, payload: &[u8], reply: &mut [u8]) -> io::Result<()> {
    s.write_all(payload)?;
    // A stream has no messages: read until as many bytes came back as were sent.
    s.read_exact(&mut reply[..payload.len()])?;
    check(&reply[..payload.len()] == payload)
}

fn round_trip_udp(s: &mut UdpSocket, payload: &[u8], reply: &mut [u8]) -> io::Result<()> {
    s.send(payload)?;
    let n = s.recv(reply)?; // a lost datagram times out here: an error
    check(&reply[..n] == payload)
}

fn round_trip_ws(ws: &mut WebSocket<Stream>, message: &Bytes) -> io::Result<()> {
    ws.send(Message::Binary(message.clone()))
        .map_err(io::Error::other)?;
    loop {
        match ws.read().map_err(io::Error::other)? {
            Message::Binary(b) => return check(b == *message),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => return Err(io::Error::other(format!("unexpected {other:?}"))),
        }
    }
}

pub(crate) fn check(same: bool) -> io::Result<()> {
    if same {
        Ok(())
    } else {
        Err(io::Error::other("the echo differs from what was sent"))
    }
}

impl Report {
    /// The column titles matching [`Report`]'s `Display`.
    pub const HEADER: &'static str = "target                          conns   idle  idle open s     msgs/s   p50 µs   p99 µs  errors";

    /// One JSON object (no serde needed for flat numbers and strings).
    pub fn to_json(&self) -> String {
        let first_error = match &self.first_error {
            Some(e) => format!("\"{}\"", e.replace('\\', "\\\\").replace('"', "\\\"")),
            None => "null".to_string(),
        };
        format!(
            "{{\"url\":\"{}\",\"conns\":{},\"idle\":{},\"idle_open_secs\":{:.3},\"size\":{},\"stream\":{},\"stream_size\":{},\"stream_mb_per_sec\":{:.1},\"messages\":{},\"msgs_per_sec\":{:.1},\"rtt_p50_us\":{},\"rtt_p99_us\":{},\"errors\":{},\"refused\":{},\"first_error\":{}}}",
            self.url,
            self.conns,
            self.idle,
            self.idle_open_secs,
            self.size,
            self.stream,
            self.stream_size,
            self.stream_mb_per_sec,
            self.messages,
            self.msgs_per_sec,
            json_us(self.rtt_p50_us),
            json_us(self.rtt_p99_us),
            self.errors,
            self.refused,
            first_error
        )
    }

    /// What went wrong, in words, with the likely cause: one sentence per cause
    /// seen. Empty when there were no errors and the rate looks like loopback's.
    pub fn diagnosis(&self) -> Vec<String> {
        let mut out = Vec::new();
        let asked = self.conns + self.idle_asked;
        if self.refused > 0 {
            out.push(format!(
                "the server refused {} ({} asked for: --conns {} + --idle {}): its --max-connections is probably lower than {asked}; start it with a higher one, e.g. `RUST_LOG=warn socklab serve {} --max-connections {}`",
                plural(self.refused, "connection"),
                asked,
                self.conns,
                self.idle_asked,
                self.scheme,
                (asked + 100).max(1024),
            ));
        }
        let other = self.errors - self.refused;
        if other > 0 {
            out.push(format!(
                "{} other than refusals; the first: {}",
                plural(other, "error"),
                self.first_error.as_deref().unwrap_or("?")
            ));
        }
        let slow = self.messages > 0 && self.msgs_per_sec < LOW_RATE_PER_CONN * self.conns as f64;
        if self.errors > 0 || slow {
            out.push(format!(
                "{}if the server narrates (`socklab serve` logs every system call at its default RUST_LOG=info), start it with RUST_LOG=warn for load",
                if slow {
                    format!(
                        "{:.0} round trips/s per connection is slow for loopback; ",
                        self.msgs_per_sec / self.conns as f64
                    )
                } else {
                    String::new()
                }
            ));
        }
        out
    }
}

/// "1 connection", "8,977 connections".
fn plural(n: u64, word: &str) -> String {
    let digits = n.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped} {word}{}", if n == 1 { "" } else { "s" })
}

/// µs to 0.1 for JSON, `null` when nothing was measured.
fn json_us(v: Option<f64>) -> String {
    v.map_or("null".to_string(), |v| format!("{v:.1}"))
}

/// µs to 0.1 for the table, `-` when nothing was measured.
fn cell_us(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.1}"))
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<30} {:>6} {:>6} {:>12.2} {:>10.0} {:>8} {:>8} {:>7}",
            self.url,
            self.conns,
            self.idle,
            self.idle_open_secs,
            self.msgs_per_sec,
            cell_us(self.rtt_p50_us),
            cell_us(self.rtt_p99_us),
            self.errors
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// URLs name the transport and a loopback address; anything else is refused.
    #[test]
    fn parses_loopback_urls_only() {
        let t: Target = "ws://127.0.0.1:8080/".parse().unwrap();
        assert_eq!(t.kind, Kind::Ws);
        assert_eq!(t.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!("udp://[::1]:7".parse::<Target>().unwrap().kind, Kind::Udp);
        assert_eq!("ws://localhost/".parse::<Target>().unwrap().addr.port(), 80);
        let http = "http://127.0.0.1:80".parse::<Target>().unwrap_err();
        assert!(http.contains("tcp://, udp://, ws://"), "{http}");
        assert!(http.contains("compare --push"), "{http}");
        assert!("tcp://192.0.2.1:7".parse::<Target>().is_err());
    }

    /// tls:// and wss:// load the same way over TLS, and need a trust first:
    /// a secure target with nothing trusted is an error that says what to pass.
    #[test]
    fn secure_targets_need_a_trust() {
        let wss: Target = "wss://127.0.0.1:8443/".parse().unwrap();
        assert_eq!(
            (wss.kind, wss.secure, wss.scheme()),
            (Kind::Ws, true, "wss")
        );
        let tls: Target = "tls://127.0.0.1:7443".parse().unwrap();
        assert_eq!((tls.kind, tls.scheme()), (Kind::Tcp, "tls"));
        let unset = wss.clone().trusting(&Trust::Unset).unwrap_err();
        assert!(unset.contains("--cacert"), "{unset}");
        assert!(wss.trusting(&Trust::Insecure).unwrap().tls.is_some());
        let ws: Target = "ws://127.0.0.1:8080/".parse().unwrap();
        assert!(ws.trusting(&Trust::Unset).unwrap().tls.is_none());
    }

    /// The causes are named: refusals at the cap apart from other errors, with
    /// the serve command to fix them; a slow rate gets the narration hint.
    #[test]
    fn diagnosis_names_the_cause() {
        let mut report = Report {
            url: "ws://127.0.0.1:8080/".into(),
            kind: Kind::Ws,
            scheme: "ws",
            conns: 8,
            idle_asked: 10_000,
            idle: 1016,
            idle_open_secs: 1.0,
            size: 64,
            stream: 0,
            stream_size: 0,
            stream_mb_per_sec: 0.0,
            messages: 0,
            msgs_per_sec: 0.0,
            rtt_p50_us: None,
            rtt_p99_us: None,
            errors: 8_992,
            refused: 8_977,
            first_error: Some("connect: timed out".into()),
        };
        let d = report.diagnosis().join("\n");
        assert!(
            d.contains("the server refused 8,977 connections (10008 asked for"),
            "{d}"
        );
        assert!(
            d.contains("socklab serve ws --max-connections 10108"),
            "{d}"
        );
        assert!(
            d.contains("15 errors other than refusals; the first: connect: timed out"),
            "{d}"
        );
        assert!(d.contains("RUST_LOG=warn"), "{d}");
        // No error, but 200 round trips/s over 8 connections: the hint alone.
        (
            report.errors,
            report.refused,
            report.messages,
            report.msgs_per_sec,
        ) = (0, 0, 1000, 200.0);
        let d = report.diagnosis();
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].starts_with("25 round trips/s per connection is slow"),
            "{d:?}"
        );
        report.msgs_per_sec = 80_000.0;
        assert!(report.diagnosis().is_empty());
    }

    /// A run with no completed round trip has no RTT: `-` in the table, `null`
    /// in JSON (measure::stats::percentile gives None), never 0.
    #[test]
    fn no_samples_means_no_rtt() {
        let report = Report {
            url: "tcp://127.0.0.1:7".into(),
            kind: Kind::Tcp,
            scheme: "tcp",
            conns: 1,
            idle_asked: 0,
            idle: 0,
            idle_open_secs: 0.0,
            size: 64,
            stream: 0,
            stream_size: 0,
            stream_mb_per_sec: 0.0,
            messages: 0,
            msgs_per_sec: 0.0,
            rtt_p50_us: percentile(&[], 50.0),
            rtt_p99_us: percentile(&[], 99.0),
            errors: 1,
            refused: 0,
            first_error: None,
        };
        assert!(
            report
                .to_json()
                .contains("\"rtt_p50_us\":null,\"rtt_p99_us\":null")
        );
        let row = report.to_string();
        assert_eq!(
            row.split_whitespace().filter(|c| *c == "-").count(),
            2,
            "{row}"
        );
    }
}
