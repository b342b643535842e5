//! `deflate-load`: permessage-deflate under load, for scripts/bench.sh's
//! compression rows. Bench-only; `bench::deflate` says what it does.
//!
//! Run: `socklab serve ws --deflate --max-connections 20000`, then
//! `deflate-load ws://127.0.0.1:8080/ --mode deflate --idle 1000 --conns 1 --secs 1`.
//! Prints one JSON line.

use std::time::Duration;

use bench::deflate::{Mode, Options, run};
use bench::{Kind, Target};
use clap::Parser;

/// The longest run it accepts, in seconds.
const MAX_SECS: f64 = 60.0;

/// The most idle connections it opens.
const MAX_IDLE: usize = 50_000;

/// Compressed ping-pong beside idle compressed connections.
#[derive(Parser)]
struct Cli {
    /// ws://IP:PORT/ (loopback only)
    url: Target,
    /// plain, deflate, or no-context-takeover
    #[arg(long, default_value = "deflate")]
    mode: Mode,
    /// Connections opened first (one message each) and held open
    #[arg(long, default_value_t = 0)]
    idle: usize,
    /// Ping-pong connections
    #[arg(long, default_value_t = 1)]
    conns: usize,
    /// Seconds of ping-pong
    #[arg(long, default_value_t = 1.0)]
    secs: f64,
    /// Bytes per message, before compression
    #[arg(long, default_value_t = 256)]
    size: usize,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.url.kind != Kind::Ws || cli.url.secure {
        anyhow::bail!("deflate-load speaks ws:// only");
    }
    if !(cli.secs > 0.0 && cli.secs <= MAX_SECS) || cli.idle > MAX_IDLE || cli.conns > 1000 {
        anyhow::bail!("--secs in (0, {MAX_SECS}], --idle at most {MAX_IDLE}, --conns at most 1000");
    }
    let opts = Options {
        mode: cli.mode,
        idle: cli.idle,
        conns: cli.conns,
        duration: Duration::from_secs_f64(cli.secs),
        size: cli.size.max(1),
    };
    let report = run(cli.url.addr, &cli.url.url, &opts)?;
    println!("{}", report.to_json());
    if report.errors > 0 {
        std::process::exit(1);
    }
    Ok(())
}
