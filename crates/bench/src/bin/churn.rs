//! `churn`: connections as the load. Bench-only (driven by `scripts/bench.sh`).
//!
//! `churn URL --secs S` opens, uses once (one message, its echo) and closes
//! connections in a loop for S seconds and prints connections per second;
//! `churn URL --storm N` opens N connections at once, then drops them all
//! together; `churn URL --handshakes` opens and closes only (TLS, Upgrade,
//! close: handshakes per second). One JSON line either way.
//!
//! Run: `socklab serve tcp`, then `churn tcp://127.0.0.1:7007 --secs 2`; or
//! `socklab serve wss --cert-out c.pem`, then `churn wss://127.0.0.1:8443/
//! --handshakes --cacert c.pem`.

use std::time::Duration;

use bench::Target;
use bench::churn::{Use, churn, storm};
use clap::Parser;
use client::Trust;

/// Connections per second, or a storm of connections that vanish.
#[derive(Parser)]
struct Cli {
    /// tcp://IP:PORT, ws://IP:PORT/, tls://IP:PORT or wss://IP:PORT/ (loopback only)
    url: Target,
    /// How long to churn, in seconds (at most 60)
    #[arg(long, default_value_t = 2.0)]
    secs: f64,
    /// Instead: open this many connections at once, then drop them all
    #[arg(long, value_name = "N")]
    storm: Option<usize>,
    /// Send no message: connect, TLS, Upgrade, close (handshakes per second)
    #[arg(long, conflicts_with = "storm")]
    handshakes: bool,
    /// tls/wss: trust the certificate in this PEM file
    #[arg(long, value_name = "FILE")]
    cacert: Option<std::path::PathBuf>,
    /// tls/wss: trust any certificate (a demo on loopback only)
    #[arg(long, conflicts_with = "cacert")]
    insecure: bool,
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
    let trust = match (cli.cacert, cli.insecure) {
        (Some(path), _) => Trust::CaFile(path),
        (None, true) => Trust::Insecure,
        (None, false) => Trust::Unset,
    };
    let target = cli.url.trusting(&trust).map_err(anyhow::Error::msg)?;
    if let Some(n) = cli.storm {
        // Opening is bounded too: 30 s, then whatever is open is dropped.
        let r = storm(&target, n, Duration::from_secs(30))?;
        println!(
            "{{\"storm\":{n},\"opened\":{},\"open_secs\":{:.3},\"errors\":{},\"first_error\":{}}}",
            r.opened,
            r.open_secs,
            r.errors,
            json_str(&r.first_error)
        );
    } else {
        let how = if cli.handshakes {
            Use::Handshake
        } else {
            Use::Echo
        };
        let r = churn(&target, secs, how);
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
