//! `socklab compare`: the same script over TCP, UDP and WebSocket, side by side.
//!
//! Starts the five echo servers (tcp, udp, ws, tls, wss) in this process on
//! ephemeral loopback ports (or uses the ones you name with --tcp, --udp, --ws,
//! --tls, --wss), runs measure::compare's script over each — connect, a burst
//! of N messages, timed round trips in blocks on fresh connections, close — and
//! prints only what it measured. See docs/compare.md for what each row means.
//!
//! `--seed N` fixes every random choice the client makes (the transports' order
//! in each round, the bootstrap, the WebSocket key and masks); `--stable`
//! prints times, ports and verdicts as placeholders (client::stable), so two
//! runs give the same text for a blog post (docs/blog.md).
//!
//! Try: `socklab compare`, `socklab compare --count 10`, `socklab compare --json | jq`.

use clap::Args;
use client::Style;
use measure::compare::{
    DEFAULT_BLOCKS, DEFAULT_COUNT, DEFAULT_LARGE, DEFAULT_MESSAGE, DEFAULT_ROUNDS, DEFAULT_SEED,
    DEFAULT_WARMUP, Script, WorkProbe, compare_probed, render_table,
};
use socklab::servers::{LocalServers, SecureServers};

/// Flags of `socklab compare`.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  socklab compare                           # in-process servers on 127.0.0.1, random ports\n  socklab compare --count 10 --message hi   # ten back-to-back sends of \"hi\"\n  socklab compare --json | jq '.transports[] | {name, wire_bytes_sent}'\n  socklab compare --json | jq '.rtt_differences[] | {a, b, raw_verdict, verdict}'\n  socklab compare --blocks 60 --rounds 20  # more blocks: a narrower interval (default: 40 blocks × 20 rounds)\n  socklab compare --tcp tcp://127.0.0.1:7007 --udp udp://127.0.0.1:7007 --ws ws://127.0.0.1:8080/\n                                            # against `socklab serve all`\n  socklab compare --push                    # polling, long polling, streaming, SSE, WebSocket at 1 and 100 events/s\n  socklab compare --push --rate 10 --secs 4 --json\n  socklab compare --stable --seed 1         # the same text every run, for a blog post (docs/blog.md)\n  socklab compare --deflate --ws ws://127.0.0.1:8080/  # a JSON chat message's bytes plain and compressed (serve ws --deflate)"
)]
pub struct Compare {
    /// Print JSON ({"transports":[{"name", "wire_bytes_sent", …}]}) instead of the table
    #[arg(long)]
    json: bool,
    /// Also write this same run's JSON to FILE, so a table and its JSON agree
    #[arg(long, value_name = "FILE", conflicts_with = "push")]
    save_json: Option<std::path::PathBuf>,
    /// The message to send
    #[arg(long, short, default_value = DEFAULT_MESSAGE)]
    message: String,
    /// How many times to send it back to back (the boundary experiment)
    #[arg(long, short = 'n', default_value_t = DEFAULT_COUNT)]
    count: usize,
    /// Blocks of timed round trips, each on fresh connections (the interval resamples blocks: keep ≥ 30)
    #[arg(long, default_value_t = DEFAULT_BLOCKS)]
    blocks: usize,
    /// Timed round trips (strict ping-pong) per transport in each block; every transport goes once per round, in a seeded random order
    #[arg(long, default_value_t = DEFAULT_ROUNDS)]
    rounds: usize,
    /// Round trips per transport at the start of each block, discarded
    #[arg(long, default_value_t = DEFAULT_WARMUP)]
    warmup: usize,
    /// Seed of every random choice the client makes: the transports' order within each round, the bootstrap, the WebSocket key and masks
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Print times, ports and verdicts as placeholders (<µs>, <port>, <verdict>): two runs give the same text (docs/blog.md)
    #[arg(long, conflicts_with_all = ["json", "push"])]
    stable: bool,
    /// Bytes of one large message sent with one send, to count the reads its echo takes (0: skip)
    #[arg(long, default_value_t = DEFAULT_LARGE, value_name = "BYTES")]
    large: usize,
    /// A running TCP echo server to use instead of the in-process one
    #[arg(long, value_name = "URL")]
    tcp: Option<String>,
    /// A running UDP echo server to use instead of the in-process one
    #[arg(long, value_name = "URL")]
    udp: Option<String>,
    /// A running WebSocket echo server to use instead of the in-process one
    #[arg(long, value_name = "URL")]
    ws: Option<String>,
    /// A running TLS echo server (needs --cacert or --insecure) instead of the in-process one
    #[arg(long, value_name = "URL")]
    tls: Option<String>,
    /// A running wss:// echo server (needs --cacert or --insecure) instead of the in-process one
    #[arg(long, value_name = "URL")]
    wss: Option<String>,
    /// Leave out tls:// and wss:// (the three plain transports only)
    #[arg(long)]
    no_tls: bool,
    #[command(flatten)]
    trust: crate::trust::TrustArgs,
    /// No colors (also: NO_COLOR=1)
    #[arg(long)]
    no_color: bool,
    /// Compare push techniques instead: short polling, long polling, streaming, SSE, WebSocket
    #[arg(long)]
    push: bool,
    /// With --push: the push server's events per second; repeat for several runs
    #[arg(long, value_name = "N", default_values_t = [1.0, 100.0], requires = "push")]
    rate: Vec<f64>,
    /// With --push: seconds each run listens (every client reconnects halfway)
    #[arg(long, default_value_t = 6.0, value_name = "SECS", requires = "push")]
    secs: f64,
    /// Compare permessage-deflate instead: a JSON chat message's bytes plain,
    /// compressed, and compressed without context takeover (--count sends of
    /// it per connection, default 10; --message replaces it; --ws picks the server)
    #[arg(long, conflicts_with = "push")]
    deflate: bool,
}

impl Compare {
    /// Runs the comparison and prints it.
    pub fn run(self) -> anyhow::Result<()> {
        crate::set_stable(self.stable);
        if self.push {
            return crate::compare_push::run(&self.rate, self.secs, self.json);
        }
        if self.deflate {
            // The chat message unless --message says otherwise; 10 sends
            // unless --count does.
            let message = (self.message != DEFAULT_MESSAGE).then_some(self.message.as_str());
            let repeats = if self.count == DEFAULT_COUNT {
                measure::deflate::DEFAULT_REPEATS
            } else {
                self.count
            };
            return crate::compare_deflate::run(
                self.ws.as_deref(),
                message,
                repeats,
                self.seed,
                self.trust.trust(),
                self.json,
                Style::detect(self.no_color).with_stable(self.stable),
            );
        }
        let mut script = Script {
            message: self.message.into_bytes(),
            count: self.count,
            blocks: self.blocks,
            rounds: self.rounds,
            warmup: self.warmup,
            seed: self.seed,
            large: self.large,
            trust: self.trust.trust(),
        };
        script.check().map_err(anyhow::Error::msg)?;
        // Servers in this process only for the transports not given on the command line.
        let local = if self.tcp.is_none() || self.udp.is_none() || self.ws.is_none() {
            Some(LocalServers::start()?)
        } else {
            None
        };
        let pick = |given: &Option<String>, local_url: fn(&LocalServers) -> String| {
            given
                .clone()
                .or_else(|| local.as_ref().map(local_url))
                .unwrap_or_default()
        };
        let mut urls = vec![
            pick(&self.tcp, LocalServers::tcp_url),
            pick(&self.udp, LocalServers::udp_url),
            pick(&self.ws, LocalServers::ws_url),
        ];
        // The servers' own work per message: known only for servers of this process.
        let local_probes = local.as_ref().map(LocalServers::work_probes);
        let mut probes: Vec<Option<WorkProbe>> = [&self.tcp, &self.udp, &self.ws]
            .iter()
            .enumerate()
            .map(|(i, given)| match (given, &local_probes) {
                (None, Some(probes)) => probes[i].clone(),
                _ => None,
            })
            .collect();
        // tls and wss: both servers in this process with a fresh certificate
        // this client trusts (the file is removed afterwards), or both given.
        let cert = std::env::temp_dir().join(format!("socklab-compare-{}.pem", std::process::id()));
        let mut secure = None;
        if !self.no_tls {
            match (&self.tls, &self.wss) {
                (None, None) => {
                    // --stable: a certificate made from the seed, so the
                    // handshake's byte counts are the same every run.
                    let servers = if self.stable {
                        SecureServers::with(tls::Identity::seeded(&cert, self.seed)?)?
                    } else {
                        SecureServers::start(&cert)?
                    };
                    urls.push(servers.tls_url());
                    urls.push(servers.wss_url());
                    probes.extend(servers.work_probes().map(Some));
                    script.trust = client::Trust::CaFile(cert.clone());
                    secure = Some(servers);
                }
                (Some(tls), Some(wss)) => urls.extend([tls.clone(), wss.clone()]),
                _ => anyhow::bail!(
                    "give both --tls and --wss (with --cacert or --insecure), or neither, or --no-tls"
                ),
            }
        }
        let comparison = compare_probed(&urls, &probes, &script);
        if secure.is_some() {
            let _ = std::fs::remove_file(&cert);
        }
        let comparison = comparison?;
        if let Some(path) = &self.save_json {
            std::fs::write(path, serde_json::to_string_pretty(&comparison)? + "\n")
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
        }
        if self.json {
            outln!("{}", serde_json::to_string_pretty(&comparison)?);
        } else {
            out!(
                "{}",
                render_table(
                    &comparison,
                    Style::detect(self.no_color).with_stable(self.stable)
                )
            );
        }
        Ok(())
    }
}
