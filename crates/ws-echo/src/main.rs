//! `ws-echo`: the WebSocket echo server on its own (the same as `socklab serve ws`).
//!
//! Run: `cargo run -p ws-echo`, then open <http://127.0.0.1:8080/> or
//! `socklab chat ws://127.0.0.1:8080/`; `RUST_LOG=info` (the default) narrates
//! the accept, the Upgrade and every read and write.

use clap::Parser;
use lifecycle::Shutdown;

/// WebSocket echo server (RFC 6455) on the narrated socket lifecycle.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    args: ws_echo::cli::Args,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    lifecycle::narrate::init("info");
    let shutdown = Shutdown::new();
    shutdown.trigger_on_ctrl_c()?;
    ws_echo::cli::run(&cli.args, shutdown)?;
    Ok(())
}
