//! The flags of `socklab serve push`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use lifecycle::Shutdown;
use lifecycle::tcp::listen_tcp;
use serve::v3_event_loop::default_loops;
use serve::{Engine, LimitArgs, Limits};

use crate::{Config, DEFAULT_ADDR};

/// Flags for the push server.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Examples:
  socklab serve push                                 # http://127.0.0.1:8090/: the page, polling, streams, WebSocket
  socklab serve push --rate 100                      # 100 events a second
  socklab serve push --rate 0                        # only what clients POST
  curl http://127.0.0.1:8090/poll?since=0            # short poll: what is new, at once
  curl http://127.0.0.1:8090/long-poll?since=5       # long poll: held until event 6 (or --hold)
  curl -N http://127.0.0.1:8090/stream               # chunked: one chunk per event
  curl -N http://127.0.0.1:8090/events               # Server-Sent Events
  curl -d 'hello' http://127.0.0.1:8090/publish      # publish a line to everyone")]
pub struct Args {
    /// Address to listen on (IP:PORT; port 0 lets the kernel pick)
    #[arg(long, default_value = DEFAULT_ADDR, value_name = "IP:PORT")]
    pub addr: SocketAddr,
    /// Timer events per second (0: only the lines clients POST)
    #[arg(long, default_value_t = 1.0, value_name = "N")]
    pub rate: f64,
    /// Seconds a long poll is held before 204 No Content
    #[arg(long, default_value_t = 25, value_name = "SECS")]
    pub hold: u64,
    /// Events one connection may publish per second (POST /publish, WebSocket messages); past it: 429 with Retry-After, or a WebSocket close 1008 (0 with --publish-burst 0: no limit)
    #[arg(long, default_value_t = crate::rate::DEFAULT_RATE, value_name = "N")]
    pub publish_rate: f64,
    /// Events one connection may publish at once after a quiet spell
    #[arg(long, default_value_t = crate::rate::DEFAULT_BURST, value_name = "N")]
    pub publish_burst: u32,
    /// Origins allowed besides this server's own pages (`websocket::origin`).
    #[arg(long, value_name = "ORIGIN", help = websocket::origin::FLAG_HELP)]
    pub allow_origin: Vec<String>,
    /// Compress WebSocket messages with clients that offer it
    #[arg(long, help = websocket::deflate::FLAG_HELP)]
    pub deflate: bool,
    /// Event loops (threads) [default: one per CPU core]
    #[arg(long, value_name = "N")]
    pub loops: Option<usize>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub limits: LimitArgs,
}

/// Listens on `args.addr` and serves until `shutdown` fires.
pub fn run(args: &Args, shutdown: Shutdown) -> std::io::Result<()> {
    if !(args.rate >= 0.0 && args.rate <= 100_000.0) {
        return Err(std::io::Error::other(
            "--rate must be between 0 and 100000 events per second",
        ));
    }
    if !(args.publish_rate >= 0.0 && args.publish_rate.is_finite()) {
        return Err(std::io::Error::other(
            "--publish-rate must be 0 or more events per second",
        ));
    }
    let listener = listen_tcp(args.addr)?;
    let engine = Engine::new(args.loops.unwrap_or_else(default_loops))?;
    let config = Config {
        limits: Limits::from(args.limits),
        rate: args.rate,
        hold: Duration::from_secs(args.hold),
        publish_rate: args.publish_rate,
        publish_burst: args.publish_burst,
        allow_origins: args.allow_origin.clone(),
        deflate: args.deflate,
        ..Config::default()
    };
    crate::serve(listener, shutdown, config, engine, Arc::default())
}
