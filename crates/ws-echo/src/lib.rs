//! A WebSocket echo server (RFC 6455): tcp-echo plus exactly what the protocol adds.
//!
//! It listens and accepts with `lifecycle` exactly like tcp-echo (the same narrated
//! `socket → bind → listen → accept`), and runs on the very same accepted TCP
//! connection. What it adds, in the order a connection lives through it:
//!
//! 1. **The opening handshake** ([`upgrade`]): read one HTTP request (at most
//!    [`upgrade::MAX_HEAD`] bytes, within [`HANDSHAKE_TIMEOUT`]), check it
//!    against RFC 6455 §4.2.1, and answer `101 Switching Protocols` — or an HTTP
//!    error saying what was wrong. A plain `GET /` gets the browser page instead:
//!    the page and the WebSocket share one port.
//! 2. **Messages** ([`echo_messages`]): tungstenite takes over the same stream
//!    (with any bytes already read past the request) and turns frames into
//!    messages; each Text comes back as Text, each Binary as Binary.
//! 3. **The close handshake**: a Close is answered with a Close, then the server
//!    closes TCP. A peer that breaks the protocol gets a Close with the code that
//!    says why ([`close`]: 1002, 1007, 1009) before TCP closes.
//!
//! Compare [`echo_messages`] with `tcp_echo::echo_stream`: the same loop, but the
//! unit is a message, not whatever bytes one `read()` returned.
//!
//! Run: `socklab serve ws` (or `cargo run -p ws-echo`), open
//! <http://127.0.0.1:8080/> in a browser, or try the upgrade by hand:
//!
//! ```text
//! curl -i -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
//!      -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
//!      http://127.0.0.1:8080/
//! ```
//!
//! and watch `RUST_LOG=info` print the Key, the Accept and every frame's `read()`.
//!
//! # Layout
//!
//! - [`upgrade`]: the pure handshake check (bytes in, decision out).
//! - [`close`]: the pure mapping from a tungstenite error to a close code.
//! - [`v2_threads`]: a thread per connection, tcp-echo's accept loop with [`handle`].
//! - [`v3_event_loop`]: tcp-echo's mio event loops (one thread per core)
//!   with a WebSocket session; the same [`upgrade`] and [`close`] decisions.
//! - [`cli`]: the flags of `socklab serve ws` and the `ws-echo` binary.
#![deny(missing_docs)]

pub mod cli;
pub mod close;
pub mod upgrade;
pub mod v2_threads;
pub mod v3_event_loop;

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use lifecycle::tcp::{Connection, graceful_close, is_disconnect, is_timeout};
use lifecycle::{FourTuple, Limits};
use log::{info, warn};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tungstenite::{Error, Message, WebSocket};

use crate::upgrade::{Decision, Rejection, Upgrade, check_request, page_response};

/// The default address: 8080, the usual port for a development web server.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// Default largest message accepted (16 MiB): big enough for Autobahn's 9.* cases.
pub const DEFAULT_MAX_MESSAGE: usize = 16 << 20;

/// How long a client has to send its whole HTTP request. A client that connects
/// and sends nothing (or one byte a minute) must not hold a thread forever.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// tungstenite's read buffer per connection, allocated up front. Its default,
/// 128 KiB, costs 1.3 GB at 10,000 idle connections; 4 KiB costs 40 MB, and a big
/// message is still read, just in more `read()` calls.
pub const READ_BUFFER: usize = 4 * 1024;

/// The browser page served on `GET /`: one HTML file, no CDN, its own small JS client.
pub const PAGE: &str = include_str!("page.html");

/// What a ws-echo server enforces.
#[derive(Debug, Clone)]
pub struct Config {
    /// Connection cap and idle timeout, as in tcp-echo.
    pub limits: Limits,
    /// Largest message (and frame) accepted; larger ones are closed with 1009.
    pub max_message_size: usize,
    /// If not empty, the only Origins allowed to upgrade (others get 403).
    pub allow_origins: Vec<String>,
    /// How long a client has to send its whole HTTP request ([`HANDSHAKE_TIMEOUT`]).
    pub handshake_timeout: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            limits: Limits::default(),
            max_message_size: DEFAULT_MAX_MESSAGE,
            allow_origins: Vec::new(),
            handshake_timeout: HANDSHAKE_TIMEOUT,
        }
    }
}

impl Config {
    // ANCHOR: websocket_config
    /// The tungstenite settings these limits mean.
    pub fn websocket_config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            // A small eager read buffer: memory per idle connection stays small.
            .read_buffer_size(READ_BUFFER)
            // Write each message out at once instead of gathering 128 KiB first.
            .write_buffer_size(0)
            // A frame header announcing more than this is refused (1009) before
            // any of its payload is read or allocated.
            .max_frame_size(Some(self.max_message_size))
            // The same limit for a message assembled from fragments.
            .max_message_size(Some(self.max_message_size))
    }
    // ANCHOR_END: websocket_config
}

// ANCHOR: handle
/// Serves one accepted connection: handshake, echo, close handshake, TCP close.
///
/// Every way a connection can end is expected here and logged as what it is; none
/// of them can stop the server.
pub fn handle(mut conn: Connection, config: &Config) {
    let tuple = conn.tuple();
    let leftover = match open(&mut conn, config) {
        Ok(Some(leftover)) => leftover,
        // The page was served or the request refused: nothing more to say.
        Ok(None) => return graceful_close(conn),
        Err(e) if is_timeout(&e) => {
            let timeout = Rejection {
                status: 408,
                reason: format!("no complete request within {:?}", config.handshake_timeout),
            };
            info!("[{tuple}] 408 Request Timeout: {}", timeout.reason);
            // Best effort: a client that sends nothing may not read either.
            let _ = conn.write_all(&timeout.response());
            return graceful_close(conn);
        }
        Err(e) if is_disconnect(&e) => {
            info!("[{tuple}] the peer went away during the handshake: {e}");
            return graceful_close(conn);
        }
        Err(e) => {
            warn!("[{tuple}] handshake failed: {e}");
            return graceful_close(conn);
        }
    };
    set_timeouts(&conn, config.limits.idle_timeout);
    // tungstenite takes over the same stream; bytes read past the request (a
    // first frame sent without waiting for the 101) are handed over, not lost.
    let mut ws = WebSocket::from_partially_read(
        conn,
        leftover,
        Role::Server,
        Some(config.websocket_config()),
    );
    match echo_messages(&mut ws) {
        Ok(()) => info!("[{tuple}] close handshake done"),
        Err(e) => end_with_error(&mut ws, e, config),
    }
    graceful_close(ws.into_inner());
}
// ANCHOR_END: handle

/// Reads the HTTP request and answers it. `Some(bytes)`: the 101 was sent and
/// `bytes` (maybe empty) already belong to the WebSocket. `None`: the page or an
/// HTTP error was sent instead.
fn open(conn: &mut Connection, config: &Config) -> io::Result<Option<Vec<u8>>> {
    let tuple = conn.tuple();
    let (decision, request) = read_request(conn, config)?;
    match decision {
        // ANCHOR: upgrade
        Decision::Upgrade(up) => {
            narrate_upgrade(tuple, &up);
            conn.write_all(&up.response())?;
            info!("[{tuple}] 101 Switching Protocols: from here on, WebSocket frames");
            Ok(Some(request[up.head_len..].to_vec()))
        }
        // ANCHOR_END: upgrade
        Decision::Page => {
            info!("[{tuple}] GET / without Upgrade: serving the browser page");
            conn.write_all(&page_response(PAGE))?;
            Ok(None)
        }
        Decision::Reject(r) => {
            info!(
                "[{tuple}] {} {}: {}",
                r.status,
                upgrade::reason_phrase(r.status),
                r.reason
            );
            conn.write_all(&r.response())?;
            Ok(None)
        }
        Decision::Incomplete => Err(io::Error::other("request incomplete")),
    }
}

/// Reads until the request head is complete (or refused), within
/// `config.handshake_timeout` in total. Returns the decision and every byte read.
fn read_request(conn: &mut Connection, config: &Config) -> io::Result<(Decision, Vec<u8>)> {
    /// How much one `read()` may return during the handshake.
    const CHUNK: usize = 1024;
    let deadline = Instant::now() + config.handshake_timeout;
    let mut request = Vec::with_capacity(CHUNK);
    let mut chunk = [0u8; CHUNK];
    loop {
        // The deadline is for the whole request, so each read gets what is left.
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        conn.set_idle_timeout(Some(left))?;
        let n = match conn.read(&mut chunk) {
            // A browser may open a spare connection ahead of time and close it unused.
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "FIN after {} bytes, before the request ended",
                        request.len()
                    ),
                ));
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        request.extend_from_slice(&chunk[..n]);
        // check_request refuses with 431 once MAX_HEAD bytes are in without the
        // blank line, so `request` never grows past MAX_HEAD + CHUNK.
        match check_request(&request, &config.allow_origins) {
            Decision::Incomplete => continue,
            decision => return Ok((decision, request)),
        }
    }
}

/// The idle timeout for reads, and the same bound on a write to a peer that
/// stopped reading (`Connection::set_idle_timeout` sets both).
fn set_timeouts(conn: &Connection, idle: Option<Duration>) {
    let tuple = conn.tuple();
    if let Err(e) = conn.set_idle_timeout(idle) {
        warn!("[{tuple}] cannot set the idle timeout: {e}");
    }
}

/// Logs what an accepted Upgrade carried: the request line, the client's Key and
/// the Accept computed from it. Both server models narrate the handshake this way.
pub(crate) fn narrate_upgrade(tuple: FourTuple, up: &Upgrade) {
    info!("[{tuple}] {}", up.request_line);
    info!("[{tuple}] Sec-WebSocket-Key: {}", up.key);
    info!(
        "[{tuple}] Sec-WebSocket-Accept: {} (base64 of SHA-1 of the key + 258EAFA5-E914-47DA-95CA-C5AB0DC85B11)",
        up.accept
    );
}

// ANCHOR: echo_messages
/// Echoes every data message until the close handshake is done.
///
/// `Ok(())` means a normal end: the peer sent Close, we answered, and
/// tungstenite reported `ConnectionClosed`. Any `Err` is for the caller, which
/// decides whether it deserves a close code ([`close::close_frame_for`]).
pub fn echo_messages<S: Read + Write>(ws: &mut WebSocket<S>) -> tungstenite::Result<()> {
    loop {
        match ws.read() {
            // The unit is a whole message, however many frames or reads it took.
            Ok(Message::Text(text)) => ws.send(Message::Text(text))?,
            Ok(Message::Binary(data)) => ws.send(Message::Binary(data))?,
            // tungstenite queued a Pong with the same payload; send it now, even
            // in the middle of a fragmented message (§5.5.2).
            Ok(Message::Ping(_)) => ws.flush()?,
            // An unsolicited Pong is allowed (a heartbeat, §5.5.3): nothing to do.
            Ok(Message::Pong(_)) => {}
            // tungstenite queued a Close with the same code; the next read() sends
            // it, and then returns ConnectionClosed.
            Ok(Message::Close(frame)) => match frame {
                Some(f) => info!(
                    "close frame received: {} {:?}",
                    u16::from(f.code),
                    f.reason.as_str()
                ),
                None => info!("close frame received, without a code"),
            },
            // Raw frames come only from tungstenite's frame-level API, not read().
            Ok(Message::Frame(_)) => {}
            // Both Close frames are exchanged: a normal end, not an error.
            Err(Error::ConnectionClosed) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}
// ANCHOR_END: echo_messages

// ANCHOR: end_with_error
/// Ends a WebSocket that failed: a Close frame with the right code if the peer
/// broke the protocol (tungstenite detects it but does not send it), 1001 if the
/// peer was idle too long, nothing if the socket is already gone.
fn end_with_error(ws: &mut WebSocket<Connection>, e: Error, config: &Config) {
    let tuple = ws.get_ref().tuple();
    let frame = match &e {
        Error::Io(io) if is_timeout(io) => {
            // Either the peer sent nothing, or it stopped reading our echo.
            info!(
                "[{tuple}] no progress for {:?} (--idle-timeout): closing with 1001",
                config.limits.idle_timeout.unwrap_or_default()
            );
            Some(CloseFrame {
                code: CloseCode::Away,
                reason: "idle timeout".into(),
            })
        }
        _ => close::ending(tuple, &e),
    };
    if let Some(frame) = frame {
        // Best effort: the peer may already be unable to receive it.
        if let Err(e) = ws.close(Some(frame)) {
            info!("[{tuple}] could not send the close frame: {e}");
        }
    }
}
// ANCHOR_END: end_with_error
