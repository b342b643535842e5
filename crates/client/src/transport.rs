//! One client, three transports: `tcp://`, `udp://` and `ws://` behind the same
//! four verbs — connect, send a message, receive, close.
//!
//! The point of having one type is the comparison: the same call does very
//! different things underneath, and the Tap under each transport records exactly
//! what. `send(b"hello")` is one `write()` of 5 bytes on TCP, one 5-byte datagram
//! on UDP, and on WebSocket one 11-byte masked frame — after an HTTP Upgrade that
//! TCP and UDP never needed.
//!
//! | verb    | tcp://                    | udp://                          | ws://                                 |
//! |---------|---------------------------|---------------------------------|---------------------------------------|
//! | connect | socket, connect (SYN…ACK) | socket, bind, connect (no packet) | TCP connect, then HTTP Upgrade → 101 |
//! | send    | one `write()`             | one datagram                    | one masked frame                      |
//! | receive | one `read()`: any bytes   | one datagram, whole             | one message, from its frames          |
//! | close   | shutdown (FIN), read to 0 | nothing on the wire             | close frame 1000, server's FIN, close |
//!
//! Try: `socklab send tcp://127.0.0.1:7007 hello --wire`, then the same with
//! `udp://` and `ws://127.0.0.1:8080/`.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use lifecycle::narrate::plural;
use lifecycle::state::tcp_state;
use lifecycle::tap::Record;
use lifecycle::tcp::{Connection, connect_tcp};
use lifecycle::udp::{RECV_BUFFER, UdpEndpoint};
use lifecycle::{Direction, FourTuple, Tap, TapLog, TcpState};
use log::info;
use tungstenite::client::IntoClientRequest as _;
use tungstenite::http::{HeaderName, HeaderValue};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::Utf8Bytes;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

use crate::pipe::tls_handshake;
pub use crate::pipe::{Pipe, TlsInfo, Trust};
pub use crate::scheme::{Framing, Scheme};
use crate::url::Url;

/// How long connect (and the WebSocket handshake) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the whole of `close` may wait for the peer's side of the close (its
/// close frame, its FIN): one deadline for all the reads, so a peer that keeps
/// sending cannot keep us waiting.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// The most bytes `close` reads (and the Tap keeps) while it waits for the
/// peer's FIN. A peer that sends more is not closing: we stop reading and
/// `close()` — the kernel answers anything still unread with RST.
pub const CLOSE_MAX_BYTES: usize = 1024 * 1024;

/// How long `close` polls the kernel for the final TCP states (one side reaching
/// TIME_WAIT takes one more packet, so it is not instant even on loopback).
pub const STATE_TIMEOUT: Duration = Duration::from_secs(1);

/// How often [`settled_states`] re-reads the kernel's table.
const STATE_POLL: Duration = Duration::from_millis(1);

/// The most bytes one TCP `read()` asks for. 64 KiB, like a UDP datagram buffer:
/// large enough that "how many reads" is decided by the kernel, not by us.
pub const READ_BUFFER: usize = 64 * 1024;

/// A parsed and resolved URL: which transport, which address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// tcp, udp or ws.
    pub scheme: Scheme,
    /// The server's address (the host name resolved; its first address).
    pub addr: SocketAddr,
    /// The URL as given (tungstenite builds the request line and Host from it).
    pub url: String,
    /// The URL's parts: host as written, port, path.
    pub parts: Url,
    /// Which certificates a secure scheme (tls://, wss://) accepts.
    pub trust: Trust,
}

impl Target {
    /// Parses `tcp://HOST:PORT`, `udp://HOST:PORT` or `ws://HOST[:PORT][/PATH]`
    /// with the one URL parser, then resolves the host.
    pub fn parse(url: &str) -> Result<Target, Error> {
        let parts = Url::parse(url).map_err(|e| Error::Url(e.to_string()))?;
        // resolve() returns at least one address or an error; we take the first,
        // as connect(2) on a name usually does.
        let addr = parts.resolve().map_err(|e| Error::Url(e.to_string()))?[0];
        Ok(Target {
            scheme: parts.scheme,
            addr,
            url: url.to_string(),
            parts,
            trust: Trust::Unset,
        })
    }
}

/// What can go wrong in the client.
#[derive(Debug)]
pub enum Error {
    /// The URL cannot be used.
    Url(String),
    /// A system call failed (including a read that timed out).
    Io(io::Error),
    /// The WebSocket layer refused: a failed handshake or a protocol error.
    WebSocket(tungstenite::Error),
    /// The server answered the Upgrade with another status than 101.
    Refused {
        /// The status line exactly as it came: `HTTP/1.1 403 Forbidden`.
        status_line: String,
        /// The response body, the server's reason (as text; may be empty).
        body: String,
    },
    /// The server sent our own Upgrade request back: an echo server on a
    /// byte stream, not a WebSocket server.
    EchoedRequest {
        /// The same host and port as tcp://, to try instead.
        try_url: String,
    },
}

impl Error {
    /// True when a read gave up after its timeout (nothing arrived in time).
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Io(e) => lifecycle::tcp::is_timeout(e),
            Error::WebSocket(tungstenite::Error::Io(e)) => lifecycle::tcp::is_timeout(e),
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Url(msg) => write!(f, "bad URL: {msg}"),
            Error::Io(e) => write!(f, "{e}"),
            Error::WebSocket(e) => write!(f, "websocket: {e}"),
            Error::Refused { status_line, body } if body.trim().is_empty() => {
                write!(f, "the server refused the WebSocket upgrade: {status_line}")
            }
            Error::Refused { status_line, body } => write!(
                f,
                "the server refused the WebSocket upgrade: {status_line}: {}",
                body.trim()
            ),
            Error::EchoedRequest { try_url } => write!(
                f,
                "this looks like a TCP echo server (it sent our HTTP request back): try {try_url}"
            ),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

impl From<tungstenite::Error> for Error {
    fn from(e: tungstenite::Error) -> Error {
        match e {
            tungstenite::Error::Io(e) => Error::Io(e),
            other => Error::WebSocket(other),
        }
    }
}

/// The most bytes of a refusal's body quoted in the error.
const SHOWN_BODY: usize = 200;

/// Turns a failed Upgrade into what happened, read from the bytes the Tap
/// recorded: our own request echoed back, a refusal with its status line and
/// reason, or else tungstenite's own error.
fn upgrade_failed(e: tungstenite::Error, target: &Target, records: &[Record]) -> Error {
    let bytes = |dir| -> Vec<u8> {
        records
            .iter()
            .filter(|r| r.dir == dir)
            .flat_map(|r| r.bytes.iter().copied())
            .collect()
    };
    let (sent, received) = (bytes(Direction::Sent), bytes(Direction::Received));
    // Our request line, `GET / HTTP/1.1\r\n`: an HTTP server never starts its
    // answer with it; an echo server always does.
    let request_line = sent.split_inclusive(|&b| b == b'\n').next().unwrap_or(&[]);
    if !request_line.is_empty() && received.starts_with(request_line) {
        // The byte stream of the same security: tcp:// for ws://, tls:// for wss://.
        let bytes = if target.scheme.secure() {
            Scheme::Tls
        } else {
            Scheme::Tcp
        };
        return Error::EchoedRequest {
            try_url: target.parts.with_scheme(bytes),
        };
    }
    if let tungstenite::Error::Http(response) = &e {
        let text = String::from_utf8_lossy(&received);
        let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status_line = head.lines().next().unwrap_or_default().to_string();
        // The body as tungstenite read it, else what the Tap saw after the head.
        let body = match response.body() {
            Some(body) if !body.is_empty() => String::from_utf8_lossy(body).into_owned(),
            _ => rest.to_string(),
        };
        let body = body.chars().take(SHOWN_BODY).collect();
        return Error::Refused { status_line, body };
    }
    Error::from(e)
}

/// What one `receive` got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// One unit of data: the bytes of one read (tcp), one datagram (udp) or one
    /// message (ws).
    Data(Vec<u8>),
    /// A WebSocket ping (tungstenite answers it with a pong by itself).
    Ping(Vec<u8>),
    /// A WebSocket pong.
    Pong(Vec<u8>),
    /// The server's close frame, with its status code if it had one.
    Close(Option<u16>),
    /// The end: the peer sent FIN (tcp) or the WebSocket is closed.
    End,
}

/// One of the two ends of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Us.
    Client,
    /// The server.
    Server,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Client => "client",
            Side::Server => "server",
        })
    }
}

/// How the conversation ended, as measured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloseReport {
    /// The status code in the server's close frame (ws only).
    pub close_code: Option<u16>,
    /// When we sent FIN (shutdown or close), on the Tap's clock (tcp and ws).
    pub our_fin: Option<Duration>,
    /// When `read()` returned 0 — the server's FIN — on the Tap's clock.
    pub their_fin: Option<Duration>,
    /// The kernel's state of our socket once the close settled.
    pub client_state: Option<TcpState>,
    /// The kernel's state of the server's socket for this connection.
    pub server_state: Option<TcpState>,
}

impl CloseReport {
    /// Who sent FIN first, from the two times above.
    pub fn first_fin(&self) -> Option<Side> {
        match (self.our_fin, self.their_fin) {
            (Some(ours), Some(theirs)) if theirs < ours => Some(Side::Server),
            (Some(_), _) => Some(Side::Client),
            (None, Some(_)) => Some(Side::Server),
            (None, None) => None,
        }
    }

    /// Which side the kernel lists in TIME_WAIT.
    pub fn time_wait(&self) -> Option<Side> {
        if self.client_state == Some(TcpState::TimeWait) {
            Some(Side::Client)
        } else if self.server_state == Some(TcpState::TimeWait) {
            Some(Side::Server)
        } else {
            None
        }
    }
}

/// The socket under each transport, wrapped in the Tap.
#[derive(Debug)]
enum Link {
    /// [`Framing::Bytes`]: the TCP connection (tcp://), or TLS over it (tls://).
    Bytes(Tap<Pipe>),
    /// [`Framing::Datagrams`]: a connected UDP socket.
    Datagrams(Tap<UdpEndpoint>),
    /// [`Framing::Messages`]: WebSocket over the TCP connection (ws://), or
    /// over TLS over it (wss://).
    Messages(Box<WebSocket<Tap<Pipe>>>),
}

/// A connected client on one of the three transports.
#[derive(Debug)]
pub struct Transport {
    target: Target,
    link: Link,
    log: TapLog,
    /// The bytes on the socket: TLS records under a secure scheme, else `log` itself.
    wire: TapLog,
    tls: Option<TlsInfo>,
    /// Wire records the TLS handshake made (0 without TLS).
    tls_records: usize,
    tuple: FourTuple,
    connect_time: Duration,
    handshake_records: usize,
    our_fin: Option<Duration>,
}

impl Transport {
    /// Parses `url` and connects.
    pub fn connect(url: &str) -> Result<Transport, Error> {
        Transport::connect_to(&Target::parse(url)?)
    }

    /// Connects to `target`; for ws this includes the HTTP Upgrade.
    pub fn connect_to(target: &Target) -> Result<Transport, Error> {
        Transport::connect_recorded(target, TapLog::new())
    }

    // ANCHOR: connect
    /// Connects to `target`, recording every byte in `log`. The caller keeps a
    /// handle on the log, so the bytes of a connect that failed (a refused
    /// Upgrade, an echo server answering HTTP) can still be shown.
    pub fn connect_recorded(target: &Target, log: TapLog) -> Result<Transport, Error> {
        Transport::connect_with_headers(target, log, &[])
    }

    /// [`Transport::connect_recorded`], with `headers` added to the Upgrade request
    /// of a ws:// target as given (`socklab send --origin` sends an `Origin`);
    /// ignored for tcp and udp, which have no request.
    pub fn connect_with_headers(
        target: &Target,
        log: TapLog,
        headers: &[(&str, &str)],
    ) -> Result<Transport, Error> {
        let started = Instant::now();
        let mut wire = log.clone();
        let mut tls = None;
        let mut tls_mark = 0;
        // The bytes of a connected scheme travel through a pipe: the TCP
        // connection, or TLS over it when the scheme is secure.
        let mut pipe = |conn: Connection, alpn: &[&[u8]]| -> Result<Pipe, Error> {
            if !target.scheme.secure() {
                return Ok(Pipe::Plain(conn));
            }
            // The records go to their own log; `log` keeps the plaintext.
            wire = TapLog::new();
            conn.set_idle_timeout(Some(CONNECT_TIMEOUT))?;
            let (pipe, info) =
                tls_handshake(conn, wire.clone(), &target.parts.host, &target.trust, alpn)?;
            pipe.conn().set_idle_timeout(None)?;
            tls = Some(info);
            tls_mark = wire.mark();
            Ok(pipe)
        };
        // The scheme says how its bytes are framed; that decides the link.
        let (link, tuple) = match target.scheme.framing() {
            Framing::Requests => {
                return Err(Error::Url(
                    "http:// is request/response, not a stream or messages: `socklab send` sends \
                     HTTP requests; to talk both ways, use ws://"
                        .to_string(),
                ));
            }
            Framing::Bytes => {
                // socket(2) + connect(2): the kernel's three-way handshake.
                let conn = connect_tcp(target.addr, CONNECT_TIMEOUT)?;
                let tuple = conn.tuple();
                (
                    Link::Bytes(Tap::with_log(pipe(conn, &[])?, log.clone())),
                    tuple,
                )
            }
            Framing::Datagrams => {
                // socket(2) + bind(2) + connect(2): no packet leaves the machine.
                let endpoint = UdpEndpoint::connect(target.addr)?;
                let tuple = endpoint.tuple(target.addr);
                (Link::Datagrams(Tap::with_log(endpoint, log.clone())), tuple)
            }
            Framing::Messages => {
                // The same TCP connect (and TLS, for wss), then tungstenite writes
                // the Upgrade request and reads the 101 response through the Tap,
                // on this one socket.
                let conn = connect_tcp(target.addr, CONNECT_TIMEOUT)?;
                let tuple = conn.tuple();
                // wss: the Upgrade is HTTP/1.1, so that is the ALPN offered.
                let pipe = pipe(conn, &[b"http/1.1"])?;
                pipe.conn().set_idle_timeout(Some(CONNECT_TIMEOUT))?;
                let tap = Tap::with_log(pipe, log.clone());
                let mut request = target.url.as_str().into_client_request()?;
                for (name, value) in headers {
                    let name = HeaderName::from_bytes(name.as_bytes())
                        .map_err(|e| Error::Url(format!("header {name:?}: {e}")))?;
                    let value = HeaderValue::from_str(value)
                        .map_err(|e| Error::Url(format!("header value {value:?}: {e}")))?;
                    request.headers_mut().insert(name, value);
                }
                let (ws, response) = tungstenite::client::client_with_config(request, tap, None)
                    .map_err(|e| match e {
                        tungstenite::HandshakeError::Failure(e) => {
                            upgrade_failed(e, target, &log.records())
                        }
                        tungstenite::HandshakeError::Interrupted(_) => Error::Io(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the WebSocket handshake did not finish",
                        )),
                    })?;
                ws.get_ref().get_ref().conn().set_idle_timeout(None)?;
                info!("[{tuple}] upgraded: HTTP {}", response.status());
                (Link::Messages(Box::new(ws)), tuple)
            }
        };
        let tls_records = if tls.is_some() { tls_mark } else { 0 };
        Ok(Transport {
            target: target.clone(),
            link,
            handshake_records: log.mark(),
            log,
            wire,
            tls,
            tls_records,
            tuple,
            connect_time: started.elapsed(),
            our_fin: None,
        })
    }
    // ANCHOR_END: connect

    /// Which URL this is connected to.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The records of every byte so far (a live handle: it keeps filling).
    pub fn log(&self) -> TapLog {
        self.log.clone()
    }

    /// The bytes on the socket itself: under tls:// and wss://, the TLS
    /// records (what an observer sees) while [`Transport::log`] has the
    /// plaintext inside them (what the endpoints see); otherwise the same log.
    pub fn wire_log(&self) -> TapLog {
        self.wire.clone()
    }

    /// How many wire records the TLS handshake made: records from this index on
    /// in [`Transport::wire_log`] carry the protocol (0 without TLS).
    pub fn tls_records(&self) -> usize {
        self.tls_records
    }

    /// What the TLS handshake agreed (tls:// and wss:// only).
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    /// Protocol, our address, the server's address.
    pub fn tuple(&self) -> FourTuple {
        self.tuple
    }

    /// How long `connect` took, handshake included.
    pub fn connect_time(&self) -> Duration {
        self.connect_time
    }

    /// How many records the connect made: for ws, the Upgrade request and response.
    /// Records from this index on are the conversation.
    pub fn handshake_records(&self) -> usize {
        self.handshake_records
    }

    /// Makes `receive` give up (with an error for which [`Error::is_timeout`] is
    /// true) when nothing arrives for `timeout`. `None` waits forever.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> Result<(), Error> {
        match &self.link {
            Link::Bytes(tap) => tap.get_ref().conn().set_idle_timeout(timeout)?,
            Link::Datagrams(tap) => tap.get_ref().socket().set_read_timeout(timeout)?,
            Link::Messages(ws) => ws.get_ref().get_ref().conn().set_idle_timeout(timeout)?,
        }
        Ok(())
    }

    // ANCHOR: send
    /// Sends one message: one `write()` (tcp), one datagram (udp), one frame (ws;
    /// text if the bytes are UTF-8, else binary).
    pub fn send(&mut self, message: &[u8]) -> Result<(), Error> {
        match &mut self.link {
            // write_all: a short write is followed by another write, never lost.
            Link::Bytes(tap) => tap.write_all(message)?,
            Link::Datagrams(tap) => {
                let n = tap.write(message)?;
                if n != message.len() {
                    return Err(Error::Io(io::Error::other("datagram sent short")));
                }
            }
            Link::Messages(ws) => {
                let message = match std::str::from_utf8(message) {
                    Ok(text) => Message::text(text),
                    Err(_) => Message::binary(message.to_vec()),
                };
                // send = queue the frame (masked: we are the client) + flush it.
                ws.send(message)?;
            }
        }
        Ok(())
    }
    // ANCHOR_END: send

    /// Sends one message as a binary frame even if it is UTF-8 (ws; tcp and
    /// udp have no types, so it is [`Transport::send`] there). websockify takes
    /// only binary frames: a text frame is closed with 1003.
    pub fn send_binary(&mut self, message: &[u8]) -> Result<(), Error> {
        match &mut self.link {
            Link::Messages(ws) => ws.send(Message::binary(message.to_vec()))?,
            _ => self.send(message)?,
        }
        Ok(())
    }

    // ANCHOR: send_raw
    /// Writes `bytes` to a WebSocket connection as they are, past tungstenite's
    /// framing: for frames tungstenite's client role would never send (unmasked,
    /// or any bytes at all, see [`crate::wire::data_frame`]), to see how a server
    /// answers them. The Tap records them like any other write. Errors on tcp
    /// and udp, which have no frames to bypass.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), Error> {
        match &mut self.link {
            Link::Messages(ws) => {
                let tap = ws.get_mut();
                tap.write_all(bytes)?;
                tap.flush()?;
                Ok(())
            }
            _ => Err(Error::Io(io::Error::other(
                "raw frames exist only on ws:// (tcp and udp carry bytes as they are)",
            ))),
        }
    }
    // ANCHOR_END: send_raw

    // ANCHOR: receive
    /// Receives one unit: whatever one `read()` returns (tcp — a stream has no
    /// messages), one datagram (udp), or one whole message (ws).
    pub fn receive(&mut self) -> Result<Incoming, Error> {
        match &mut self.link {
            Link::Bytes(tap) => {
                let mut buf = vec![0u8; READ_BUFFER];
                match tap.read(&mut buf)? {
                    0 => Ok(Incoming::End), // the server sent FIN
                    n => Ok(Incoming::Data(buf[..n].to_vec())),
                }
            }
            Link::Datagrams(tap) => {
                // Room for any datagram, so none is cut short.
                let mut buf = vec![0u8; RECV_BUFFER];
                let n = tap.read(&mut buf)?;
                Ok(Incoming::Data(buf[..n].to_vec()))
            }
            Link::Messages(ws) => match ws.read() {
                Ok(Message::Text(text)) => Ok(Incoming::Data(text.as_bytes().to_vec())),
                Ok(Message::Binary(bytes)) => Ok(Incoming::Data(bytes.to_vec())),
                Ok(Message::Ping(bytes)) => Ok(Incoming::Ping(bytes.to_vec())),
                Ok(Message::Pong(bytes)) => Ok(Incoming::Pong(bytes.to_vec())),
                Ok(Message::Close(frame)) => Ok(Incoming::Close(frame.map(|f| f.code.into()))),
                Ok(Message::Frame(frame)) => Ok(Incoming::Data(frame.into_payload().to_vec())),
                // A normal end, not a failure.
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    Ok(Incoming::End)
                }
                Err(e) => Err(e.into()),
            },
        }
    }
    // ANCHOR_END: receive

    /// Receives units until at least `bytes` data bytes have arrived — the whole
    /// echo of a `bytes`-long message, which TCP may return in several reads —
    /// and returns them as they came. Pings and pongs are skipped; the end of the
    /// conversation before all bytes arrived is an `UnexpectedEof` error.
    pub fn receive_bytes(&mut self, bytes: usize) -> Result<Vec<Vec<u8>>, Error> {
        let mut units = Vec::new();
        let mut got = 0;
        // An empty message still comes back as one (empty) datagram or message.
        while got < bytes || units.is_empty() {
            match self.receive()? {
                Incoming::Data(unit) => {
                    got += unit.len();
                    let empty = unit.is_empty();
                    units.push(unit);
                    if empty && bytes == 0 {
                        break;
                    }
                }
                Incoming::Ping(_) | Incoming::Pong(_) => {}
                Incoming::Close(_) | Incoming::End => {
                    return Err(Error::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "the server ended the conversation after {got} of {}",
                            plural(bytes, "byte")
                        ),
                    )));
                }
            }
        }
        Ok(units)
    }

    /// Waits (until `deadline`) until at least `bytes` bytes sit unread in the
    /// kernel's receive buffer, without taking them (`recv(MSG_PEEK)`). The
    /// boundary experiment uses it so the first `read()` sees everything that was
    /// echoed: what one read returns then depends on the protocol, not on timing.
    /// Returns whether they all arrived. UDP answers true at once: a datagram
    /// is read whole whenever it is read.
    pub fn wait_buffered(&self, bytes: usize, deadline: Instant) -> Result<bool, Error> {
        let conn = match &self.link {
            Link::Bytes(tap) => tap.get_ref().conn(),
            Link::Messages(ws) => ws.get_ref().get_ref().conn(),
            Link::Datagrams(_) => return Ok(true),
        };
        let mut buf = vec![0u8; bytes];
        // A short pause between peeks: the bytes are in flight on loopback, and
        // the deadline bounds the wait.
        const POLL: Duration = Duration::from_micros(200);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            conn.stream().set_read_timeout(Some(left))?;
            let n = match conn.stream().peek(&mut buf) {
                Ok(n) => n,
                Err(e) if lifecycle::tcp::is_timeout(&e) => return Ok(false),
                Err(e) => return Err(e.into()),
            };
            if n >= bytes || n == 0 {
                conn.stream().set_read_timeout(None)?;
                return Ok(n >= bytes);
            }
            thread::sleep(POLL);
        }
    }

    // ANCHOR: close
    /// Ends the conversation the way each protocol does, and reports what the
    /// kernel says about both ends afterwards.
    ///
    /// - tcp: `shutdown(SHUT_WR)` sends our FIN; we read until the server's FIN
    ///   (read() = 0), then `close()`. We sent FIN first, so we end in TIME_WAIT.
    /// - ws: a close frame with 1000; the server answers with its own close frame
    ///   and then, as RFC 6455 asks, closes the TCP connection first — so the
    ///   server's socket holds TIME_WAIT; we read its FIN, then `close()`.
    /// - udp: nothing goes on the wire; `close()` only frees our descriptor.
    ///
    /// The wait for the server's side is bounded as a whole: [`CLOSE_TIMEOUT`]
    /// from the start of `close`, and at most [`CLOSE_MAX_BYTES`] read meanwhile.
    pub fn close(self) -> Result<CloseReport, Error> {
        self.close_with(None)
    }

    /// [`Transport::close`] for ws, with our close frame given as bytes (built
    /// by [`crate::wire::close_frame`] with a known mask, for `send --seed`):
    /// it is written past tungstenite, and the server's close frame and FIN are
    /// then read from the Tap as bytes, so tungstenite never answers with a
    /// close frame of its own (masked at random). The close code comes from
    /// the recorded bytes. tcp and udp close as [`Transport::close`] does.
    pub fn close_raw(self, close_frame: &[u8]) -> Result<CloseReport, Error> {
        self.close_with(Some(close_frame))
    }

    fn close_with(mut self, raw_close: Option<&[u8]>) -> Result<CloseReport, Error> {
        let mut report = CloseReport::default();
        let deadline = Instant::now() + CLOSE_TIMEOUT;
        match self.link {
            Link::Datagrams(tap) => {
                drop(tap); // close(2): no packet, the server never knows
                info!("[{}] close(): UDP sends nothing", self.tuple);
                return Ok(report);
            }
            Link::Bytes(ref mut tap) => {
                // Under TLS, its goodbye (close_notify) goes before our FIN.
                tap.get_mut().close_notify();
                tap.get_ref().conn().shutdown_write()?;
                self.our_fin = Some(self.log.elapsed());
                let mut buf = vec![0u8; READ_BUFFER];
                let mut read = 0;
                // Read (and keep in the log) until the server's FIN, bounded by
                // one deadline and a byte cap for the whole loop.
                loop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() || read >= CLOSE_MAX_BYTES {
                        break; // the server is not closing; we close anyway
                    }
                    tap.get_ref().conn().set_idle_timeout(Some(left))?;
                    match tap.read(&mut buf) {
                        Ok(0) | Err(_) => break, // FIN, timeout, or the peer is gone
                        Ok(n) => read += n,
                    }
                }
            }
            Link::Messages(ref mut ws) => {
                ws.get_ref()
                    .get_ref()
                    .conn()
                    .set_idle_timeout(Some(CLOSE_TIMEOUT))?;
                let start = self.log.total(Direction::Received);
                if let Some(frame) = raw_close {
                    let tap = ws.get_mut();
                    report.close_code = close_past_tungstenite(tap, frame, &self.log, deadline)?;
                } else {
                    let normal = CloseFrame {
                        code: CloseCode::Normal,
                        reason: Utf8Bytes::from_static(""),
                    };
                    // Queues and flushes our close frame (1000, masked like every
                    // client frame). Fails only if the server closed already.
                    let _ = ws.close(Some(normal));
                    loop {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero()
                            || self.log.total(Direction::Received) - start >= CLOSE_MAX_BYTES
                        {
                            break; // the server is not closing; we close anyway
                        }
                        ws.get_ref().get_ref().conn().set_idle_timeout(Some(left))?;
                        match ws.read() {
                            // The server's close frame answering ours.
                            Ok(Message::Close(frame)) => {
                                report.close_code = frame.map(|f| f.code.into());
                            }
                            // Data still in flight before its close frame: dropped.
                            Ok(_) => {}
                            // ConnectionClosed: read() returned 0, the server's FIN.
                            // Or a timeout: the server never closed; we will.
                            Err(_) => break,
                        }
                    }
                }
            }
        }
        // close(2): if we have not sent FIN yet, the kernel sends it now.
        if self.our_fin.is_none() {
            self.our_fin = Some(self.log.elapsed());
        }
        drop(self.link);
        info!("[{}] close()", self.tuple);
        report.our_fin = self.our_fin;
        report.their_fin = self
            .log
            .records()
            .iter()
            .find(|r| r.dir == Direction::Received && r.bytes.is_empty())
            .map(|r| r.at);
        let (client, server) = settled_states(self.tuple);
        report.client_state = Some(client);
        report.server_state = Some(server);
        Ok(report)
    }
    // ANCHOR_END: close
}

/// [`Transport::close_raw`]'s ws close: writes `frame` through the Tap, reads
/// (and so records) what the server sends until its FIN, bounded like
/// [`Transport::close`], and returns the code of the last close frame the
/// server sent, read from the recorded bytes.
fn close_past_tungstenite(
    tap: &mut Tap<Pipe>,
    frame: &[u8],
    log: &TapLog,
    deadline: Instant,
) -> Result<Option<u16>, Error> {
    let start = log.total(Direction::Received);
    // Fails only if the server closed already; what it sent is read anyway.
    let _ = tap.write_all(frame).and_then(|()| tap.flush());
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || log.total(Direction::Received) - start >= CLOSE_MAX_BYTES {
            break; // the server is not closing; we close anyway
        }
        tap.get_ref().conn().set_idle_timeout(Some(left))?;
        match tap.read(&mut buf) {
            Ok(0) | Err(_) => break, // FIN, timeout, or the peer is gone
            Ok(_) => {}
        }
    }
    Ok(crate::wire::ws_conversation(&log.records())
        .server
        .frames
        .iter()
        .rev()
        .find_map(|f| f.close_code()))
}

/// The kernel's states of both ends of `tuple`, once one of them is in TIME_WAIT
/// and the other is gone (or after [`STATE_TIMEOUT`]): the last ACK is one more
/// packet, even on loopback.
pub fn settled_states(tuple: FourTuple) -> (TcpState, TcpState) {
    let deadline = Instant::now() + STATE_TIMEOUT;
    loop {
        let client = tcp_state(tuple.local, tuple.peer);
        let server = tcp_state(tuple.peer, tuple.local);
        let settled = matches!(
            (client, server),
            (TcpState::TimeWait, TcpState::Closed) | (TcpState::Closed, TcpState::TimeWait)
        );
        if settled || client == TcpState::Unknown || Instant::now() >= deadline {
            return (client, server);
        }
        thread::sleep(STATE_POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The three URL forms; ws may leave out its port (80), tcp and udp may not.
    #[test]
    fn parses_the_three_schemes() {
        let t = Target::parse("tcp://127.0.0.1:7007").unwrap();
        assert_eq!(
            (t.scheme, t.addr),
            (Scheme::Tcp, "127.0.0.1:7007".parse().unwrap())
        );
        let u = Target::parse("udp://[::1]:9").unwrap();
        assert_eq!(
            (u.scheme, u.addr),
            (Scheme::Udp, "[::1]:9".parse().unwrap())
        );
        let w = Target::parse("ws://127.0.0.1/chat").unwrap();
        assert_eq!(
            (w.scheme, w.addr),
            (Scheme::Ws, "127.0.0.1:80".parse().unwrap())
        );
        assert!(Target::parse("tcp://127.0.0.1").is_err());
        assert!(Target::parse("https://127.0.0.1:443").is_err());
        assert!(Target::parse("127.0.0.1:80").is_err());
    }

    /// A peer that keeps sending after our FIN must not keep `close()` waiting:
    /// the wait for its FIN has one deadline and a byte cap, not a timeout per read.
    #[test]
    fn close_ends_though_the_peer_keeps_sending() {
        use std::net::TcpListener;
        use std::sync::mpsc;
        /// How long the chatty server may write; far past `close`'s own bounds.
        const SERVER_LIMIT: Duration = Duration::from_secs(30);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            // Wait for the client's FIN (read() = 0) ...
            while stream.read(&mut buf).map(|n| n > 0).unwrap_or(false) {}
            // ... then keep talking, never sending our FIN, until the client is gone.
            let chunk = [b'x'; 16 * 1024];
            let end = Instant::now() + SERVER_LIMIT;
            while Instant::now() < end && stream.write_all(&chunk).is_ok() {}
        });
        let client = Transport::connect(&format!("tcp://{addr}")).unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(client.close().map(|r| r.their_fin));
        });
        let outer = CLOSE_TIMEOUT + STATE_TIMEOUT + Duration::from_secs(20);
        let their_fin = rx
            .recv_timeout(outer)
            .expect("close() must return")
            .unwrap();
        assert_eq!(their_fin, None, "the server never sent its FIN");
        server.join().unwrap();
    }
}
