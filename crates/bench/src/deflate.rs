//! permessage-deflate under load (issue 22): what compression costs a
//! WebSocket server — memory per connection, because each connection that
//! agreed keeps a compressor and a decompressor (with context takeover, their
//! windows live as long as the connection), and messages per second, because
//! every message is deflated and inflated on both ends.
//!
//! [`run`] opens `idle` connections that each offer permessage-deflate (or,
//! for the plain row, nothing), exchange one message — so every context the
//! server may allocate lazily exists — and stay open; then `conns` connections
//! do strict ping-pong with compressed messages for `duration`. The server's
//! peak RSS is read by scripts/bench.sh around the run, as for plain idle
//! connections. The messages are a chat line repeated to `size` bytes: text a
//! compressor has something to do with.
//!
//! Framing is done here over tungstenite's `Frame` and `FrameHeader` (its
//! client refuses RSV1) and compression by `websocket::deflate`, as socklab's
//! own client does, without the client's Tap: a load generator must not
//! record every byte. Bounded: every loop stops at `duration` or
//! [`crate::MAX_MESSAGES`].
//!
//! Run: `socklab serve ws --deflate --max-connections 20000`, then
//! `deflate-load ws://127.0.0.1:8080/ --mode deflate --idle 1000 --json`.

use std::io::{self, Cursor, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use client::transport::{DeflateOffer, random_mask};
use tungstenite::client::IntoClientRequest as _;
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::{Frame, FrameHeader};
use websocket::deflate::{Compressor, Decompressor, Side};

/// Threads opening the idle connections (the handshakes are the slow part).
const OPENERS: usize = 4;

/// How long connect and one reply may take.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// The most a reply may inflate to (a load generator has no use for more).
const REPLY_LIMIT: usize = 1 << 20;

/// The line the messages repeat: a JSON chat message.
const CHAT_LINE: &str =
    r#"{"type":"message","room":"lobby","user":"ana","text":"hello, is anyone here?"}"#;

/// Which Upgrade each connection makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No extension offered: plain ws, the baseline.
    Plain,
    /// permessage-deflate as a browser offers it (context takeover).
    Deflate,
    /// permessage-deflate with no context takeover either way.
    NoContextTakeover,
}

impl Mode {
    /// `plain`, `deflate`, `no-context-takeover`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::Deflate => "deflate",
            Mode::NoContextTakeover => "no-context-takeover",
        }
    }

    /// The offer this mode makes.
    fn offer(self) -> Option<DeflateOffer> {
        match self {
            Mode::Plain => None,
            Mode::Deflate => Some(DeflateOffer::default()),
            Mode::NoContextTakeover => Some(DeflateOffer {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
            }),
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Mode, String> {
        [Mode::Plain, Mode::Deflate, Mode::NoContextTakeover]
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("{s}: plain, deflate or no-context-takeover"))
    }
}

/// How much load.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// What each connection offers.
    pub mode: Mode,
    /// Connections opened first, one message each, then held open.
    pub idle: usize,
    /// Connections doing ping-pong.
    pub conns: usize,
    /// How long they do it.
    pub duration: Duration,
    /// Bytes per message (before compression).
    pub size: usize,
}

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// What the connections offered.
    pub mode: &'static str,
    /// What the server agreed (the first connection's 101); `None`: declined.
    pub agreed: Option<String>,
    /// Idle connections asked for.
    pub idle_asked: usize,
    /// Idle connections open, each having exchanged one message.
    pub idle: usize,
    /// Round trips completed by the ping-pong connections.
    pub messages: u64,
    /// Round trips per second, all ping-pong connections together.
    pub msgs_per_sec: f64,
    /// Frame payload bytes of one message on the wire, client → server (the
    /// last one sent), against `size`.
    pub wire_payload: usize,
    /// Connections that failed, wrong replies.
    pub errors: u64,
    /// The first error.
    pub first_error: Option<String>,
}

impl Report {
    /// One JSON object (hand-written, like [`crate::Report::to_json`]).
    pub fn to_json(&self) -> String {
        let opt = |s: &Option<String>| s.as_ref().map_or("null".to_string(), |s| format!("{s:?}"));
        format!(
            "{{\"mode\":\"{}\",\"agreed\":{},\"idle_asked\":{},\"idle\":{},\"messages\":{},\"msgs_per_sec\":{:.1},\"wire_payload\":{},\"errors\":{},\"first_error\":{}}}",
            self.mode,
            opt(&self.agreed),
            self.idle_asked,
            self.idle,
            self.messages,
            self.msgs_per_sec,
            self.wire_payload,
            self.errors,
            opt(&self.first_error)
        )
    }
}

/// One upgraded connection and its contexts, if compression was agreed.
struct Conn {
    stream: TcpStream,
    codec: Option<(Compressor, Decompressor)>,
    inbox: Vec<u8>,
    agreed: Option<String>,
}

impl Conn {
    /// Connects, upgrades offering `mode`'s extension, checks the answer.
    fn open(addr: SocketAddr, url: &str, mode: Mode) -> Result<Conn, String> {
        let stream = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT).map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let mut request = url.into_client_request().map_err(|e| e.to_string())?;
        let offer = mode.offer();
        if let Some(offer) = &offer {
            let value = offer
                .header()
                .parse()
                .map_err(|_| "offer header".to_string())?;
            request
                .headers_mut()
                .insert("Sec-WebSocket-Extensions", value);
        }
        let (ws, response) =
            tungstenite::client(request, stream).map_err(|e| format!("handshake: {e}"))?;
        let answer = response
            .headers()
            .get("Sec-WebSocket-Extensions")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let agreement = match offer {
            Some(offer) => match offer.agreed(answer.as_deref()).map_err(|e| e.to_string())? {
                Some(agreed) => Some(agreed),
                // A row that mixes compressed and plain connections measures
                // neither: a declined offer is an error, not a plain connection.
                None => {
                    return Err(
                        "the server declined permessage-deflate (no extension in its 101: \
                         --deflate off, or its --memory-budget cannot hold the contexts)"
                            .to_string(),
                    );
                }
            },
            None => None,
        };
        // An echo server says nothing before our first message: tungstenite
        // has read no frame past the 101, so its stream can be taken back.
        Ok(Conn {
            stream: ws.into_inner(),
            codec: agreement.map(|a| {
                (
                    Compressor::new(&a, Side::Client),
                    Decompressor::new(&a, Side::Client),
                )
            }),
            inbox: Vec::new(),
            agreed: agreement.map(|a| a.response()),
        })
    }

    /// Sends `message` (compressed if agreed), reads the echo, checks it;
    /// returns the payload bytes it took on the wire.
    fn round_trip(&mut self, message: &[u8]) -> Result<usize, String> {
        let (payload, rsv1) = match &mut self.codec {
            Some((c, _)) => (c.compress(message), true),
            None => (message.to_vec(), false),
        };
        let wire = payload.len();
        let mut frame = Frame::message(payload, OpCode::Data(Data::Text), true);
        frame.header_mut().rsv1 = rsv1;
        frame.header_mut().mask = Some(random_mask());
        let mut bytes = Vec::with_capacity(frame.len());
        frame.format(&mut bytes).map_err(|e| e.to_string())?;
        self.stream.write_all(&bytes).map_err(|e| e.to_string())?;
        let (header, payload) = self.read_frame()?;
        let echo = match (&mut self.codec, header.rsv1) {
            (Some((_, d)), true) => d
                .decompress(&payload, REPLY_LIMIT)
                .map_err(|e| e.to_string())?,
            _ => payload,
        };
        if echo != message {
            return Err(format!(
                "wrong echo: {} bytes for {}",
                echo.len(),
                message.len()
            ));
        }
        Ok(wire)
    }

    /// One whole frame from the server (an echo server sends one per message).
    fn read_frame(&mut self) -> Result<(FrameHeader, Vec<u8>), String> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let mut cursor = Cursor::new(&self.inbox[..]);
            if let Some((header, len)) =
                FrameHeader::parse(&mut cursor).map_err(|e| e.to_string())?
            {
                let start = cursor.position() as usize;
                let end = start.saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
                if end <= self.inbox.len() {
                    let payload = self.inbox[start..end].to_vec();
                    self.inbox.drain(..end);
                    return Ok((header, payload));
                }
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return Err("the server closed the connection".to_string()),
                Ok(n) => self.inbox.extend_from_slice(&buf[..n]),
                Err(e) => return Err(e.to_string()),
            }
        }
    }
}

/// The message: [`CHAT_LINE`] repeated and cut to `size` bytes.
pub fn message(size: usize) -> Vec<u8> {
    CHAT_LINE.bytes().cycle().take(size).collect()
}

/// Opens the idle connections (each one message), then runs the ping-pong.
pub fn run(addr: SocketAddr, url: &str, opts: &Options) -> io::Result<Report> {
    let msg = message(opts.size);
    let mut report = Report {
        mode: opts.mode.name(),
        idle_asked: opts.idle,
        ..Report::default()
    };
    let fail = |report: &mut Report, e: String| {
        report.errors += 1;
        report.first_error.get_or_insert(e);
    };
    // The idle connections, on a few threads; each exchanges one message so
    // that every compression context exists before the server's RSS is read.
    let per = opts.idle.div_ceil(OPENERS);
    let openers: Vec<_> = (0..OPENERS)
        .map(|i| {
            let n = per.min(opts.idle.saturating_sub(i * per));
            let (url, msg, mode) = (url.to_string(), msg.clone(), opts.mode);
            thread::spawn(move || {
                let mut open = Vec::with_capacity(n);
                let mut errors = Vec::new();
                for _ in 0..n {
                    match Conn::open(addr, &url, mode)
                        .and_then(|mut c| c.round_trip(&msg).map(|_| c))
                    {
                        Ok(c) => open.push(c),
                        Err(e) => errors.push(e),
                    }
                }
                (open, errors)
            })
        })
        .collect();
    let mut idle = Vec::with_capacity(opts.idle);
    for opener in openers {
        let (open, errors) = opener
            .join()
            .map_err(|_| io::Error::other("an opener thread panicked"))?;
        idle.extend(open);
        for e in errors {
            fail(&mut report, format!("idle connection: {e}"));
        }
    }
    report.idle = idle.len();
    // The ping-pong connections, one thread each, until the deadline.
    let deadline = Instant::now() + opts.duration;
    let started = Instant::now();
    let workers: Vec<_> = (0..opts.conns)
        .map(|_| {
            let (url, msg, mode) = (url.to_string(), msg.clone(), opts.mode);
            thread::spawn(
                move || -> (u64, usize, Option<String>, Result<(), String>) {
                    let mut conn = match Conn::open(addr, &url, mode) {
                        Ok(c) => c,
                        Err(e) => return (0, 0, None, Err(e)),
                    };
                    let (mut done, mut wire) = (0u64, 0);
                    while Instant::now() < deadline && done < crate::MAX_MESSAGES {
                        match conn.round_trip(&msg) {
                            Ok(w) => {
                                wire = w;
                                done += 1;
                            }
                            Err(e) => return (done, wire, conn.agreed, Err(e)),
                        }
                    }
                    (done, wire, conn.agreed, Ok(()))
                },
            )
        })
        .collect();
    for w in workers {
        let (done, wire, agreed, result) = w
            .join()
            .map_err(|_| io::Error::other("a ping-pong thread panicked"))?;
        report.messages += done;
        report.wire_payload = report.wire_payload.max(wire);
        if report.agreed.is_none() {
            report.agreed = agreed;
        }
        if let Err(e) = result {
            fail(&mut report, e);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    report.msgs_per_sec = if secs > 0.0 {
        report.messages as f64 / secs
    } else {
        0.0
    };
    if report.agreed.is_none() {
        report.agreed = idle.iter().find_map(|c| c.agreed.clone());
    }
    drop(idle);
    Ok(report)
}
