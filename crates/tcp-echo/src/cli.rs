//! The command-line flags of the TCP echo server, shared by `tcp-echo` and `socklab serve tcp`.

use std::net::SocketAddr;
use std::sync::Arc;

use lifecycle::limits::LimitArgs;
use lifecycle::tcp::listen_tcp;
use lifecycle::{Limits, Shutdown};

use crate::v3_event_loop::Echo;
use crate::{DEFAULT_ADDR, v1_iterative, v2_threads, v3_event_loop};

/// How the server runs its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Model {
    /// v1: one client at a time (the next waits in the backlog)
    Iterative,
    /// v2: a thread per connection
    Threads,
    /// v3: mio event loops, one thread each, one per core (--loops)
    EventLoop,
}

/// Flags for the TCP echo server.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address to listen on (IP:PORT; port 0 lets the kernel pick)
    #[arg(long, default_value = DEFAULT_ADDR, value_name = "IP:PORT")]
    pub addr: SocketAddr,
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
    let listener = listen_tcp(args.addr)?;
    let limits = Limits::from(args.limits);
    match args.model {
        Model::Iterative => v1_iterative::serve(listener, shutdown, limits),
        Model::Threads => v2_threads::serve(listener, shutdown, limits),
        Model::EventLoop => {
            let loops = args.loops.unwrap_or_else(v3_event_loop::default_loops);
            let stats = Arc::new(v3_event_loop::LoopStats::default());
            v3_event_loop::serve_with(listener, shutdown, limits, stats, loops, Echo::new)
        }
    }
}
