//! `udp-echo`: the UDP echo server on its own (the same as `socklab serve udp`).
//!
//! Run: `cargo run -p udp-echo`, then `ncat -u 127.0.0.1 7007`.

use clap::Parser;
use lifecycle::Shutdown;

/// Bare UDP echo server (RFC 862): socket, bind, recv_from, send_to.
#[derive(Parser)]
#[command(
    version,
    after_help = "Examples:\n  udp-echo                          # 127.0.0.1:7007\n  udp-echo --addr '[::1]:7007'      # IPv6 loopback\nThen try: ncat -u 127.0.0.1 7007"
)]
struct Cli {
    #[command(flatten)]
    args: udp_echo::cli::Args,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    lifecycle::narrate::init("info");
    let shutdown = Shutdown::new();
    shutdown.trigger_on_ctrl_c()?;
    udp_echo::cli::run(&cli.args, shutdown)?;
    Ok(())
}
