//! `churn`: connections as the load. Bench-only (driven by `scripts/bench.sh`).
//!
//! `churn URL --secs S` opens, uses once (one message, its echo) and closes
//! connections in a loop for S seconds and prints connections per second;
//! `churn URL --storm N` opens N connections at once, then drops them all
//! together. One JSON line either way.
//!
//! Run: `socklab serve tcp`, then `churn tcp://127.0.0.1:7007 --secs 2`.

use std::time::Duration;

use bench::Target;
use bench::churn::{churn, storm};
use clap::Parser;

/// Connections per second, or a storm of connections that vanish.
#[derive(Parser)]
struct Cli {
    /// tcp://IP:PORT or ws://IP:PORT/ (loopback only)
    url: Target,
    /// How long to churn, in seconds (at most 60)
    #[arg(long, default_value_t = 2.0)]
    secs: f64,
    /// Instead: open this many connections at once, then drop them all
    #[arg(long, value_name = "N")]
    storm: Option<usize>,
}

fn json_str(s: &Option<String>) -> String {
    match s {
        Some(e) => format!("\"{}\"", e.replace('\\', "\\\\").replace('"', "\\\"")),
        None => "null".to_string(),
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    anyhow::ensure!(
        cli.secs > 0.0 && cli.secs <= 60.0,
        "--secs must be in (0, 60]"
    );
    let secs = Duration::from_secs_f64(cli.secs);
    if let Some(n) = cli.storm {
        // Opening is bounded too: 30 s, then whatever is open is dropped.
        let r = storm(&cli.url, n, Duration::from_secs(30))?;
        println!(
            "{{\"storm\":{n},\"opened\":{},\"open_secs\":{:.3},\"errors\":{},\"first_error\":{}}}",
            r.opened,
            r.open_secs,
            r.errors,
            json_str(&r.first_error)
        );
    } else {
        let r = churn(&cli.url, secs);
        println!(
            "{{\"connections\":{},\"per_sec\":{:.1},\"errors\":{},\"first_error\":{}}}",
            r.connections,
            r.per_sec,
            r.errors,
            json_str(&r.first_error)
        );
    }
    Ok(())
}
