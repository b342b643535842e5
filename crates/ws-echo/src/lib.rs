//! A WebSocket echo server (RFC 6455) on the same lifecycle as tcp-echo.
//!
//! SKELETON: the WebSocket issue replaces this with the checked handshake, the
//! browser page, close codes and limits. The public API below is the contract the
//! rest of the workspace builds on: `Config`, `handle`, `echo_messages`,
//! `v2_threads::serve`, `cli::{Args, run}`.
#![deny(missing_docs)]

pub mod cli;
pub mod v2_threads;

use std::io::{Read, Write};

use lifecycle::Limits;
use lifecycle::tcp::{Connection, graceful_close};
use log::{info, warn};
use tungstenite::{Message, WebSocket};

/// The default address: 8080, the usual port for a development web server.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// Default largest message accepted (16 MiB).
pub const DEFAULT_MAX_MESSAGE: usize = 16 << 20;

/// What a ws-echo server enforces.
#[derive(Debug, Clone)]
pub struct Config {
    /// Connection cap and idle timeout, as in tcp-echo.
    pub limits: Limits,
    /// Largest message (and frame) accepted; larger ones are closed with 1009.
    pub max_message_size: usize,
    /// If not empty, the only Origins allowed to upgrade (others get 403).
    pub allow_origins: Vec<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            limits: Limits::default(),
            max_message_size: DEFAULT_MAX_MESSAGE,
            allow_origins: Vec::new(),
        }
    }
}

/// Serves one accepted connection: handshake, echo, close.
pub fn handle(mut conn: Connection, config: &Config) {
    let tuple = conn.tuple();
    let _ = conn.set_idle_timeout(config.limits.idle_timeout);
    match tungstenite::accept(&mut conn) {
        Ok(mut ws) => {
            if let Err(e) = echo_messages(&mut ws) {
                info!("[{tuple}] websocket ended: {e}");
            }
        }
        Err(e) => warn!("[{tuple}] handshake failed: {e}"),
    }
    graceful_close(conn);
}

/// Echoes every data message until the close handshake.
pub fn echo_messages<S: Read + Write>(ws: &mut WebSocket<S>) -> tungstenite::Result<()> {
    loop {
        if let msg @ (Message::Text(_) | Message::Binary(_)) = ws.read()? {
            ws.send(msg)?;
        }
    }
}
