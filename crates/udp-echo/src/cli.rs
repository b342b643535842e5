//! The command-line flags of the UDP echo server, shared by `udp-echo` and `socklab serve udp`.

use std::net::SocketAddr;

use lifecycle::Shutdown;
use lifecycle::udp::UdpEndpoint;

use crate::DEFAULT_ADDR;

/// Flags for the UDP echo server.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address to receive on (IP:PORT; port 0 lets the kernel pick)
    #[arg(long, default_value = DEFAULT_ADDR, value_name = "IP:PORT")]
    pub addr: SocketAddr,
}

/// Binds `args.addr` and echoes datagrams until `shutdown` fires.
pub fn run(args: &Args, shutdown: Shutdown) -> std::io::Result<()> {
    let socket = UdpEndpoint::bind(args.addr)?;
    crate::serve(socket, shutdown)
}
