//! `socklab bridge --listen ws://HOST:PORT/ --to tcp://HOST:PORT`: the websockify
//! role (lesson 15). A browser cannot open a TCP connection; through this bridge
//! its page reaches a plain TCP server.
//!
//! Run: `socklab serve tcp` and `socklab bridge`, then open
//! <http://127.0.0.1:8081/>, or `socklab send ws://127.0.0.1:8081/ hi --binary --wire`.
//! Watch the narration: each WebSocket connection (`ws leg`) opens its own TCP
//! connection (`tcp leg`); `--wire-log` logs the bytes crossing, framed on one
//! side and bare on the other.

use anyhow::{Context, bail};
use clap::Args;
use client::{Scheme, Url};
use lifecycle::Shutdown;
use lifecycle::tcp::listen_tcp;
use serve::v3_event_loop::default_loops;
use serve::{Engine, LimitArgs, Limits};

/// Flags of `socklab bridge`.
#[derive(Args)]
#[command(after_help = "Examples:
  socklab bridge                                          # ws://127.0.0.1:8081/ → tcp://127.0.0.1:7007
  socklab bridge --listen ws://127.0.0.1:8082/ --to tcp://127.0.0.1:7100
  socklab bridge --wire-log                               # log each message and each chunk, both legs
Then: socklab serve tcp, and open http://127.0.0.1:8081/ (the bridge page),
  or  socklab send ws://127.0.0.1:8081/ hello --binary --wire")]
pub struct Bridge {
    /// Where to accept WebSocket connections (ws://HOST:PORT/; the page is on /)
    #[arg(long, default_value = "ws://127.0.0.1:8081/", value_name = "URL")]
    listen: String,
    /// The TCP server each WebSocket connection is carried to (tcp://HOST:PORT)
    #[arg(long, default_value = "tcp://127.0.0.1:7007", value_name = "URL")]
    to: String,
    /// Largest message taken from a client, in bytes; larger ones are closed with 1009
    #[arg(long, default_value_t = bridge::DEFAULT_MAX_MESSAGE, value_name = "BYTES")]
    max_message_size: usize,
    /// Log every message and chunk crossing the bridge, with its bytes
    #[arg(long)]
    wire_log: bool,
    /// Seconds the TCP leg's connect may take; past it the client gets Close 1011
    #[arg(long, default_value_t = bridge::CONNECT_TIMEOUT.as_secs_f64(), value_name = "SECS")]
    pub connect_timeout: f64,
    /// Origins allowed besides the bridge's own page (`websocket::origin`).
    #[arg(long, value_name = "ORIGIN", help = websocket::origin::FLAG_HELP)]
    pub allow_origin: Vec<String>,
    /// Compress WebSocket messages with clients that offer it
    #[arg(long, help = websocket::deflate::FLAG_HELP)]
    pub deflate: bool,
    /// Event loops (threads) [default: one per CPU core]
    #[arg(long, value_name = "N")]
    loops: Option<usize>,
    #[command(flatten)]
    limits: LimitArgs,
    /// Rewrite PATH every 100 ms with the bridge's counters as JSON (open, refused, stall/idle closes, memory budget held, VmRSS/VmHWM): for scripts/hostile.sh
    #[arg(long, value_name = "PATH")]
    stats_file: Option<std::path::PathBuf>,
}

/// The first address of `url`, checking its scheme.
fn address(url: &str, scheme: Scheme, flag: &str) -> anyhow::Result<std::net::SocketAddr> {
    let parsed = Url::parse(url)?;
    if parsed.scheme != scheme {
        bail!("{flag} takes a {scheme}:// URL, not {url}");
    }
    let addrs = parsed.resolve()?;
    addrs
        .first()
        .copied()
        .with_context(|| format!("{url}: no address"))
}

impl Bridge {
    /// Listens and bridges until Ctrl-C.
    pub fn run(self) -> anyhow::Result<()> {
        let listen = address(&self.listen, Scheme::Ws, "--listen")?;
        let target = address(&self.to, Scheme::Tcp, "--to")?;
        let shutdown = Shutdown::new();
        shutdown.trigger_on_ctrl_c()?;
        if let Some(path) = self.stats_file.clone() {
            serve::stats_file::start(path)?;
        }
        let listener = listen_tcp(listen)?;
        let engine = Engine::new(self.loops.unwrap_or_else(default_loops))?;
        let config = bridge::Config {
            max_message_size: self.max_message_size,
            wire_log: self.wire_log,
            allow_origins: self.allow_origin.clone(),
            deflate: self.deflate,
            connect_timeout: std::time::Duration::try_from_secs_f64(self.connect_timeout)
                .ok()
                .filter(|t| !t.is_zero())
                .ok_or_else(|| {
                    anyhow::anyhow!("--connect-timeout must be a positive number of seconds")
                })?,
            ..bridge::Config::new(target)
        };
        bridge::serve(
            listener,
            shutdown,
            Limits::from(self.limits),
            engine,
            config,
        )?;
        Ok(())
    }
}
