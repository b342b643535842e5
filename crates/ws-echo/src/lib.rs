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
//! 2. **Messages** ([`machine`]): tungstenite takes over the same bytes (with
//!    any already read past the request) and turns frames into messages; each
//!    Text comes back as Text, each Binary as Binary.
//! 3. **The close handshake**: a Close is answered with a Close, then the server
//!    closes TCP. A peer that breaks the protocol gets a Close with the code that
//!    says why ([`close`]: 1002, 1007, 1009) before TCP closes.
//!
//! Compare the machine's `messages` with `tcp_echo::echo_stream`: the same loop,
//! but the unit is a message, not whatever bytes one `read()` returned.
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
//! Everything WebSocket is the `websocket` crate's, shared with push, chat and
//! the bridge; this crate keeps what is echo:
//!
//! - [`Echo`]: the handler — each data message goes back as it came.
//! - [`serve()`], [`serve_layered`]: the echo on any `--model` (the machine driven
//!   by `websocket::blocking` or as a `websocket::session` of the event loop),
//!   with or without TLS under it.
//! - [`cli`]: the flags of `socklab serve ws` and the `ws-echo` binary.
//! - `page.html`: the browser page served on `GET /`.
//! - [`upgrade`], [`close`], [`machine`]: re-exported from `websocket`, so the
//!   book's paths still name them.
#![deny(missing_docs)]

pub mod cli;

use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use lifecycle::Shutdown;
use lifecycle::tcp::Connection;
use serve::layer::{Blocking, Layer, MakeLayer};
use serve::v3_event_loop::{Layered, Tracked};
use serve::{Engine, Handshakes, Limits, MemoryBudget, Model};
use tungstenite::Message;
use websocket::session::WsSession;
use websocket::{Handler, OriginPolicy, Outbox, Settings, blocking};

// The handshake check, the close codes and the connection machine are the
// WebSocket protocol's, shared by every server (crates/websocket).
pub use websocket::{close, machine, upgrade};

/// The default address: 8080, the usual port for a development web server.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// Default largest message accepted (16 MiB): big enough for Autobahn's 9.* cases.
pub const DEFAULT_MAX_MESSAGE: usize = 16 << 20;

/// How long a client has to send its whole HTTP request. A client that connects
/// and sends nothing (or one byte a minute) must not hold a thread forever.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// tungstenite's read buffer per connection, allocated up front. Its default,
/// 128 KiB, costs 1.3 GB at 10,000 idle connections; 4 KiB costs 40 MB, and a big
/// message is still read, just in more `read()` calls. (The event loop uses
/// `websocket::session::EVENT_LOOP_READ_BUFFER`, smaller still.)
pub const READ_BUFFER: usize = websocket::blocking::THREAD_READ_BUFFER;

/// What a client past `--max-connections` is told to wait before trying again.
pub const REFUSAL_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The browser page served on `GET /`: one HTML file, no CDN, its own small JS client.
pub const PAGE: &str = include_str!("page.html");

/// What a ws-echo server enforces.
#[derive(Debug, Clone)]
pub struct Config {
    /// Connection cap and idle timeout, as in tcp-echo.
    pub limits: Limits,
    /// Largest message (and frame) accepted; larger ones are closed with 1009.
    pub max_message_size: usize,
    /// Origins allowed besides this server's own pages (`--allow-origin`;
    /// `*` allows all): see [`websocket::origin`] for the default and why.
    pub allow_origins: Vec<String>,
    /// How long a client has to send its whole HTTP request ([`HANDSHAKE_TIMEOUT`]).
    pub handshake_timeout: Duration,
    /// tungstenite's read buffer per connection ([`READ_BUFFER`]; the event loop
    /// uses a smaller one).
    pub read_buffer: usize,
    /// permessage-deflate when the client offers it (`--deflate`; off by
    /// default: see [`websocket::deflate::FLAG_HELP`] for why).
    pub deflate: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            limits: Limits::default(),
            max_message_size: DEFAULT_MAX_MESSAGE,
            allow_origins: Vec::new(),
            handshake_timeout: HANDSHAKE_TIMEOUT,
            read_buffer: READ_BUFFER,
            deflate: false,
        }
    }
}

// ANCHOR: echo
/// The echo: each data message goes back as it came, Text as Text, Binary as
/// Binary. Compare `tcp_echo::echo_stream`: the same idea, but the unit is a
/// message, not whatever bytes one `read()` returned.
pub struct Echo;

impl Handler for Echo {
    fn message(&mut self, message: Message, out: &mut Outbox<'_>) {
        out.send(message);
    }
}
// ANCHOR_END: echo

/// Serves WebSocket echo on `listener` until `shutdown` fires, the way `model`
/// waits. Both ways run the same [`machine::Machine`].
pub fn serve(
    model: Model,
    listener: TcpListener,
    shutdown: Shutdown,
    config: Config,
    engine: Engine,
) -> io::Result<()> {
    // Past the cap, a client reads a 503 with Retry-After it can act on, not a
    // bare end of stream. (Made once per server; it lives as long as the process.)
    let refusal = upgrade::busy_response(config.limits.max_connections, REFUSAL_RETRY_AFTER);
    let limits = Limits {
        refusal: Box::leak(refusal.into_boxed_slice()),
        ..config.limits
    };
    let budget = MemoryBudget::new(limits.memory_budget);
    let settings = Arc::new(config.settings());
    let (c, b) = (Arc::clone(&settings), budget.clone());
    let handle = move |conn| blocking::handle(conn, &c, &limits, b.account(), Echo);
    let start =
        move |stream, tuple| WsSession::new(stream, tuple, &settings, budget.account(), Echo);
    serve::serve(model, listener, shutdown, limits, engine, handle, start)
}

// ANCHOR: serve_layered
/// Serves the same WebSocket echo (and page) with a byte layer under it (TLS:
/// `socklab serve wss`): `layer` makes one per connection, whose handshake must
/// be done within `handshakes`' deadline, under its cap of unfinished ones. The machine is the same, byte for byte.
pub fn serve_layered<L: Layer>(
    model: Model,
    listener: TcpListener,
    shutdown: Shutdown,
    config: Config,
    engine: Engine,
    layer: impl MakeLayer<L>,
    handshakes: Handshakes,
) -> io::Result<()> {
    // Past the cap the client gets no words: a 503 would have to be inside TLS,
    // and the cap is decided before any handshake (docs/tls.md says why).
    let limits = Limits {
        refusal: b"",
        refusal_note: "; no 503: under TLS it would need a whole handshake first, so the client reads our FIN instead of a ServerHello",
        ..config.limits
    };
    let budget = MemoryBudget::new(limits.memory_budget);
    let settings = Arc::new(config.settings());
    let (c, b, make) = (Arc::clone(&settings), budget.clone(), layer.clone());
    // Silent handshakes never get more than half the places (serve::handshakes).
    let handshakes = handshakes.within(limits.max_connections);
    let hs = handshakes.clone();
    let handle = move |conn: Connection| {
        let tuple = conn.tuple();
        if let Some(stream) = Blocking::accept(conn, make(tuple), &hs) {
            blocking::handle(stream, &c, &limits, b.account(), Echo);
        }
    };
    let start = move |stream, tuple| {
        let layered = Layered::new(Tracked::new(stream, tuple), layer(tuple), &handshakes);
        WsSession::over(layered, tuple, &settings, budget.account(), Echo)
    };
    serve::serve(model, listener, shutdown, limits, engine, handle, start)
}
// ANCHOR_END: serve_layered

impl Config {
    /// Whose pages may open a WebSocket: [`Config::allow_origins`] as a policy.
    pub fn origin_policy(&self) -> OriginPolicy {
        OriginPolicy::from_flags(&self.allow_origins)
    }

    /// What the connection machine needs of these settings.
    pub fn settings(&self) -> Settings {
        Settings {
            max_message_size: self.max_message_size,
            read_buffer: self.read_buffer,
            handshake_timeout: self.handshake_timeout,
            origins: self.origin_policy(),
            page: PAGE,
            protocols: &[],
            deflate: self.deflate.then(websocket::deflate::Config::default),
        }
    }
}
