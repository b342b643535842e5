//! `tcp-echo`: the TCP echo server on its own (the same as `socklab serve tcp`).
//!
//! Run: `cargo run -p tcp-echo -- --model iterative`, then `nc 127.0.0.1 7007`.

use clap::Parser;
use lifecycle::Shutdown;

/// Bare TCP echo server (RFC 862) on the narrated socket lifecycle.
#[derive(Parser)]
#[command(
    version,
    after_help = "Examples:\n  tcp-echo                          # 127.0.0.1:7007, mio event loop\n  tcp-echo --model threads          # a thread per connection\n  tcp-echo --model iterative        # one client at a time\n  RUST_LOG=debug tcp-echo           # also show the bytes\nThen try: nc 127.0.0.1 7007"
)]
struct Cli {
    #[command(flatten)]
    args: tcp_echo::cli::Args,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    lifecycle::narrate::init("info");
    let shutdown = Shutdown::new();
    shutdown.trigger_on_ctrl_c()?;
    tcp_echo::cli::run(&cli.args, shutdown)?;
    Ok(())
}
