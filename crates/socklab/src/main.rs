//! `socklab`: the command line. Each subcommand lives in its own module and is
//! thin: it parses flags and calls the library crates, where the lessons are.
//!
//! Run: `cargo run --release -- --help`.

mod bench;
mod serve;

use clap::{Parser, Subcommand};

/// See what a raw TCP/UDP socket is and what a WebSocket adds on top of it,
/// measured on your own machine.
#[derive(Parser)]
#[command(
    version,
    after_help = "Examples:\n  socklab serve tcp                       # TCP echo on 127.0.0.1:7007, narrated\n  socklab serve udp                       # UDP echo on 127.0.0.1:7007\n  RUST_LOG=debug socklab serve tcp        # narration plus the bytes\n\nThe narration goes to stderr; RUST_LOG=warn silences it."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an echo server on loopback, narrating every system call
    Serve(serve::Serve),
    /// Load echo servers with strict ping-pong: msgs/s, RTT p50/p99, errors
    Bench(bench::Bench),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    lifecycle::narrate::init("info");
    match cli.command {
        Command::Serve(serve) => serve.run(),
        Command::Bench(bench) => bench.run(),
    }
}
