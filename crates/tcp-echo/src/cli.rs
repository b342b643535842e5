//! The command-line flags of the TCP echo server, shared by `tcp-echo` and `socklab serve tcp`.
//!
//! Run: `socklab serve tcp --help` to see them with examples.

use lifecycle::tcp::listen_tcp;
use lifecycle::{BindAddr, Shutdown};
use serve::v3_event_loop::default_loops;
use serve::{Engine, LimitArgs, Limits, Model};

use crate::DEFAULT_ADDR;

/// Flags for the TCP echo server.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address to listen on (IP:PORT or HOST:PORT, a name is resolved; port 0 lets the kernel pick)
    #[arg(long, default_value = DEFAULT_ADDR, value_name = "HOST:PORT")]
    pub addr: BindAddr,
    /// Server version to run
    #[arg(long, value_enum, default_value_t = Model::EventLoop)]
    pub model: Model,
    /// Event loops (threads) for --model event-loop [default: one per CPU core]
    #[arg(long, value_name = "N")]
    pub loops: Option<usize>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub limits: LimitArgs,
}

/// Listens on `args.addr` and serves until `shutdown` fires.
pub fn run(args: &Args, shutdown: Shutdown) -> std::io::Result<()> {
    if args.loops.is_some() && args.model != Model::EventLoop {
        log::warn!("--loops applies only to --model event-loop; ignored");
    }
    let listener = listen_tcp(args.addr.resolve()?)?;
    let engine = Engine::new(args.loops.unwrap_or_else(default_loops))?;
    crate::serve(
        args.model,
        listener,
        shutdown,
        Limits::from(args.limits),
        engine,
    )
}
