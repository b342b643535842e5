//! The command-line flags of the UDP echo server, shared by `udp-echo` and `socklab serve udp`.

use lifecycle::udp::UdpEndpoint;
use lifecycle::{BindAddr, Shutdown};
use serve::Model;

use crate::DEFAULT_ADDR;

/// Flags for the UDP echo server.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address to receive on (IP:PORT or HOST:PORT, a name is resolved; port 0 lets the kernel pick)
    #[arg(long, default_value = DEFAULT_ADDR, value_name = "HOST:PORT")]
    pub addr: BindAddr,
    /// Server version to run: iterative and threads both mean one thread blocked
    /// in recv_from (UDP has no connections to give threads to)
    #[arg(long, value_enum, default_value_t = Model::EventLoop)]
    pub model: Model,
}

/// Binds `args.addr` and echoes datagrams until `shutdown` fires.
pub fn run(args: &Args, shutdown: Shutdown) -> std::io::Result<()> {
    let socket = UdpEndpoint::bind(args.addr.resolve()?)?;
    match args.model {
        Model::Iterative | Model::Threads => crate::serve(socket, shutdown),
        Model::EventLoop => crate::event_loop::serve(socket, shutdown),
    }
}
