//! The websockify role: a WebSocket server whose every connection is carried to
//! one TCP connection, and back (lesson 15).
//!
//! A browser cannot open a TCP socket: a page may only speak HTTP, WebSocket
//! (and WebRTC) — never `connect(2)` to an arbitrary port. So to reach a plain
//! TCP service (tcp-echo, a VNC server, a MUD) a page needs a bridge: a server
//! that accepts WebSocket connections and, for each, opens one TCP connection
//! to a fixed target. websockify (noVNC's) is the well-known one; this is the
//! same role on `serve`'s event loop, so both sockets of a connection live in
//! one session ([`session::Bridge`]):
//!
//! ```text
//!  browser ──WebSocket frames──▶ bridge ──bare bytes──▶ target (tcp-echo)
//!          ◀─binary messages───        ◀──any chunks──
//! ```
//!
//! - a binary or text message becomes its payload's bytes on the TCP leg (TCP
//!   has no messages: the boundaries are gone there);
//! - whatever one `read(2)` from the target returns becomes one binary message
//!   (at most [`serve::v3_event_loop::READ_BUFFER`] bytes: bounded);
//! - either side's close closes the other: a Close frame → `shutdown(SHUT_WR)`
//!   towards the target (its FIN); the target's FIN → Close 1000;
//! - a target that cannot be reached → Close 1011 with the reason, as
//!   websockify does.
//!
//! Run: `socklab serve tcp` and `socklab bridge`, then open
//! <http://127.0.0.1:8081/> (the page) or
//! `socklab send ws://127.0.0.1:8081/ hello --binary --wire`.
//!
//! # Layout
//! - the opening handshake and the Origin policy: the `websocket` crate's, the
//!   same as every server's (a bridge reaches a TCP target, so the Origin check
//!   matters most here: without it any web page could drive the bridge).
//! - [`session`]: one bridged connection: both legs, as one event-loop session.
#![deny(missing_docs)]

pub mod session;

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use lifecycle::{FourTuple, Shutdown};
use mio::net::TcpStream;
use serve::{Engine, Limits, MemoryBudget};
use websocket::{OriginPolicy, Settings};

pub use session::Bridge;

/// Where `socklab bridge` listens by default: ws-echo's 8080 plus one.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8081";

/// Where it connects by default: tcp-echo.
pub const DEFAULT_TARGET: &str = "127.0.0.1:7007";

/// The largest WebSocket message the bridge takes from a client: 1 MiB. A
/// larger one is closed with 1009 before it is buffered.
pub const DEFAULT_MAX_MESSAGE: usize = 1 << 20;

/// How long a client has to send its whole HTTP request.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the TCP leg's `connect(2)` may take before the client is closed
/// with 1011: a target whose SYNs are dropped (a full backlog, a firewall)
/// would otherwise keep the client waiting while the kernel retries for minutes.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The page served on `GET /`: it opens a WebSocket back to the same host and
/// port, so it works through any bridge that serves it (websockify's `--web`
/// included).
pub const PAGE: &str = include_str!("page.html");

/// One bridge's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The TCP server every WebSocket connection is carried to.
    pub target: SocketAddr,
    /// Largest message taken from a client (1009 past it).
    pub max_message_size: usize,
    /// Time for the whole HTTP request.
    pub handshake_timeout: Duration,
    /// Time for the TCP leg's connect (then Close 1011).
    pub connect_timeout: Duration,
    /// Log every message and chunk crossing the bridge, as bytes (the wire view).
    pub wire_log: bool,
    /// Origins allowed to open a WebSocket besides the bridge's own page
    /// (`--allow-origin`; `*`: all): see [`websocket::origin`].
    pub allow_origins: Vec<String>,
    /// permessage-deflate with WebSocket clients that offer it (`--deflate`;
    /// off by default: [`websocket::deflate::FLAG_HELP`] says why).
    pub deflate: bool,
}

impl Config {
    /// A bridge to `target` with the default limits.
    pub fn new(target: SocketAddr) -> Config {
        Config {
            target,
            max_message_size: DEFAULT_MAX_MESSAGE,
            handshake_timeout: HANDSHAKE_TIMEOUT,
            connect_timeout: CONNECT_TIMEOUT,
            wire_log: false,
            allow_origins: Vec::new(),
            deflate: false,
        }
    }
}

/// Serves the bridge on `listener` until `shutdown` fires, on `engine`'s loops.
pub fn serve(
    listener: TcpListener,
    shutdown: Shutdown,
    limits: Limits,
    engine: Engine,
    config: Config,
) -> io::Result<()> {
    log::info!(
        "bridge: ws://{}/ → tcp://{} (each WebSocket connection gets its own TCP connection)",
        listener.local_addr()?,
        config.target
    );
    // A client past the cap reads why: 503 with Retry-After, as ws-echo answers.
    let refusal = http1::service_unavailable(
        Duration::from_secs(1),
        &format!(
            "all {} connections are in use (--max-connections): try again later",
            limits.max_connections
        ),
    );
    let limits = Limits {
        refusal: Box::leak(refusal.into_boxed_slice()),
        ..limits
    };
    let budget = MemoryBudget::new(limits.memory_budget);
    // The WebSocket leg's settings: the one machine, with the bridge's page,
    // its Origins and websockify's `binary` subprotocol.
    let settings = Arc::new(Settings {
        handshake_timeout: config.handshake_timeout,
        origins: OriginPolicy::from_flags(&config.allow_origins),
        protocols: session::PROTOCOLS,
        deflate: config.deflate.then(websocket::deflate::Config::default),
        ..Settings::new(config.max_message_size, PAGE)
    });
    let config = Arc::new(config);
    let start = move |stream: TcpStream, tuple: FourTuple| {
        let (c, s) = (Arc::clone(&config), Arc::clone(&settings));
        Bridge::new(stream, tuple, c, s, budget.account())
    };
    engine.serve(listener, shutdown, limits, start)
}
