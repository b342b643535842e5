//! `socklab serve tls` and `socklab serve wss`: the echo servers with TLS under them.
//!
//! Nothing here speaks a protocol: tcp-echo and ws-echo serve exactly as
//! without TLS, over the `tls` crate's layer. This file only wires the
//! certificate and the flags.
//!
//! Run: `socklab serve wss`, then `socklab send wss://127.0.0.1:8443/ hi
//! --cacert <the path it printed>`.

use std::sync::Arc;

use lifecycle::Shutdown;
use lifecycle::tcp::listen_tcp;
use serve::v3_event_loop::default_loops;
use serve::{Engine, Limits, Model};
use tls::TlsLayer;

/// Flags of `socklab serve tls`: tcp-echo's, and where the certificate comes from.
#[derive(clap::Args)]
pub struct TlsEcho {
    #[command(flatten)]
    echo: tcp_echo::cli::Args,
    #[command(flatten)]
    tls: tls::cli::TlsArgs,
}

/// Flags of `socklab serve wss`: ws-echo's, and where the certificate comes from.
#[derive(clap::Args)]
pub struct WssEcho {
    #[command(flatten)]
    ws: ws_echo::cli::Args,
    #[command(flatten)]
    tls: tls::cli::TlsArgs,
}

/// Event loops for `model` (`--loops` applies only to the event loop).
fn engine(model: Model, loops: Option<usize>) -> std::io::Result<Engine> {
    if loops.is_some() && model != Model::EventLoop {
        log::warn!("--loops applies only to --model event-loop; ignored");
    }
    Engine::new(loops.unwrap_or_else(default_loops))
}

impl TlsEcho {
    /// TLS echo until `shutdown` fires.
    pub fn run(&self, shutdown: Shutdown) -> std::io::Result<()> {
        let config = self.tls.server_config(&[])?;
        let listener = listen_tcp(self.echo.addr.resolve()?)?;
        let engine = engine(self.echo.model, self.echo.loops)?;
        let layer = move |tuple| TlsLayer::new(Arc::clone(&config), tuple);
        tcp_echo::serve_layered(
            self.echo.model,
            listener,
            shutdown,
            Limits::from(self.echo.limits),
            engine,
            layer,
            self.tls.handshakes(self.echo.limits.max_connections),
        )
    }
}

impl WssEcho {
    /// WebSocket echo and its page over TLS until `shutdown` fires.
    pub fn run(&self, shutdown: Shutdown) -> std::io::Result<()> {
        let config = self.tls.server_config(&[tls::ALPN_HTTP11])?;
        let listener = listen_tcp(self.ws.addr.resolve()?)?;
        let engine = engine(self.ws.model, self.ws.loops)?;
        let layer = move |tuple| TlsLayer::new(Arc::clone(&config), tuple);
        ws_echo::serve_layered(
            self.ws.model,
            listener,
            shutdown,
            self.ws.config(),
            engine,
            layer,
            self.tls.handshakes(self.ws.limits.max_connections),
        )
    }
}
