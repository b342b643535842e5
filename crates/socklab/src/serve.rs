//! `socklab serve tcp|udp`: run one echo server until Ctrl-C.

use clap::{Args, Subcommand};
use lifecycle::Shutdown;

/// Flags of `socklab serve`.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  socklab serve tcp                          # thread per connection on 127.0.0.1:7007\n  socklab serve tcp --model iterative        # one client at a time: try two nc at once\n  socklab serve tcp --max-connections 2      # the third client is closed at once\n  socklab serve udp --addr '[::1]:7007'      # UDP echo on IPv6 loopback\nThen: nc 127.0.0.1 7007   or   ncat -u 127.0.0.1 7007"
)]
pub struct Serve {
    #[command(subcommand)]
    server: Server,
}

#[derive(Subcommand)]
enum Server {
    /// TCP echo (RFC 862): a byte stream, default 127.0.0.1:7007
    Tcp(tcp_echo::cli::Args),
    /// UDP echo (RFC 862): datagrams, default 127.0.0.1:7007
    Udp(udp_echo::cli::Args),
}

impl Serve {
    /// Starts the server; returns when Ctrl-C stops it.
    pub fn run(self) -> anyhow::Result<()> {
        let shutdown = Shutdown::new();
        shutdown.trigger_on_ctrl_c()?;
        match self.server {
            Server::Tcp(args) => tcp_echo::cli::run(&args, shutdown)?,
            Server::Udp(args) => udp_echo::cli::run(&args, shutdown)?,
        }
        Ok(())
    }
}
