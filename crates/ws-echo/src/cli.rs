//! The command-line flags of the WebSocket echo server (`ws-echo`, `socklab serve ws`).
//!
//! Run: `socklab serve ws --help`. The flags are the server's limits: the
//! largest message, the Origins allowed, the connection cap and idle timeout.

use lifecycle::tcp::listen_tcp;
use lifecycle::{BindAddr, Shutdown};
use serve::v3_event_loop::default_loops;
use serve::{Engine, LimitArgs, Limits, Model};

use crate::{Config, DEFAULT_ADDR, DEFAULT_MAX_MESSAGE};

/// Flags for the WebSocket echo server.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Examples:
  socklab serve ws                                   # ws://127.0.0.1:8080/ and the page at http://127.0.0.1:8080/
  socklab serve ws --addr 127.0.0.1:0                # let the kernel pick the port (see the log)
  socklab serve ws --allow-origin http://127.0.0.1:3000   # a page there may connect too (foreign Origins get 403)
  socklab serve ws --max-message-size 1024           # a 1025-byte message is closed with 1009
  socklab serve ws --deflate                         # compress messages with clients that offer it (browsers do)
  socklab serve ws --model threads                   # a thread per connection instead of the event loop
  socklab serve ws --max-connections 100             # the 101st client reads 503 + Retry-After
  socklab serve ws --memory-budget 64                # messages held across all clients: 64 MiB, then 1013
  RUST_LOG=debug socklab serve ws                    # the narration plus every byte
Try: curl -i http://127.0.0.1:8080/chat   (426: no Upgrade header)")]
pub struct Args {
    /// Address to listen on (IP:PORT or HOST:PORT, a name is resolved; port 0 lets the kernel pick)
    #[arg(long, default_value = DEFAULT_ADDR, value_name = "HOST:PORT")]
    pub addr: BindAddr,
    /// Server version to run
    #[arg(long, value_enum, default_value_t = Model::EventLoop)]
    pub model: Model,
    /// Largest message accepted, in bytes; larger ones are closed with 1009
    #[arg(long, default_value_t = DEFAULT_MAX_MESSAGE, value_name = "BYTES")]
    pub max_message_size: usize,
    /// Origins allowed besides this server's own pages (`websocket::origin`).
    #[arg(long, value_name = "ORIGIN", help = websocket::origin::FLAG_HELP)]
    pub allow_origin: Vec<String>,
    /// Compress messages (permessage-deflate) with clients that offer it
    #[arg(long, help = websocket::deflate::FLAG_HELP)]
    pub deflate: bool,
    /// Event loops (threads) for --model event-loop [default: one per CPU core]
    #[arg(long, value_name = "N")]
    pub loops: Option<usize>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub limits: LimitArgs,
}

impl Args {
    /// The server configuration these flags describe.
    pub fn config(&self) -> Config {
        Config {
            limits: Limits::from(self.limits),
            max_message_size: self.max_message_size,
            allow_origins: self.allow_origin.clone(),
            deflate: self.deflate,
            ..Config::default()
        }
    }
}

/// Listens on `args.addr` and serves until `shutdown` fires.
pub fn run(args: &Args, shutdown: Shutdown) -> std::io::Result<()> {
    if args.loops.is_some() && args.model != Model::EventLoop {
        log::warn!("--loops applies only to --model event-loop; ignored");
    }
    let listener = listen_tcp(args.addr.resolve()?)?;
    let engine = Engine::new(args.loops.unwrap_or_else(default_loops))?;
    crate::serve(args.model, listener, shutdown, args.config(), engine)
}
