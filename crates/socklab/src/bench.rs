//! `socklab bench URL…`: strict ping-pong load against echo servers, measured.
//!
//! The load generator lives in the `bench` crate; this module parses flags and
//! prints. See `scripts/bench.sh` for the full comparison of server models.

use std::time::Duration;

use bench::fanout::FanoutOptions;
use bench::{Options, Report, Target};
use clap::Args;

/// Flags of `socklab bench`.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  socklab bench tcp://127.0.0.1:7007                       # 1 connection, 5 s, 64-byte messages\n  socklab bench ws://127.0.0.1:8080/ --conns 8 --secs 3\n  socklab bench ws://127.0.0.1:8080/ --idle 10000 --secs 2  # plus 10,000 silent connections\n  socklab bench tcp://127.0.0.1:7007 udp://127.0.0.1:7007 --json\n  socklab bench ws://127.0.0.1:8080/ --stream 2 --secs 2    # beside 2 connections streaming 64 KiB messages\n  socklab bench wss://127.0.0.1:8443/ --conns 8 --cacert PATH   # TLS under the same load (the path serve wss printed)\n  socklab bench ws://127.0.0.1:8080/ --conns 8 --server-pid PID   # whose CPU per message to read (default: the process listening on the port)\nStart the servers first, quiet, with room for every connection you ask for:\n  RUST_LOG=warn socklab serve all\n  RUST_LOG=warn socklab serve ws --max-connections 20000   # for --idle 10000\nExit status: 0 when every round trip succeeded; 1 on any error (the likely cause is printed on stderr)."
)]
pub struct Bench {
    /// Servers to load: tcp://IP:PORT, udp://IP:PORT, ws://IP:PORT/, tls://IP:PORT, wss://IP:PORT/ (loopback only)
    #[arg(required = true, value_name = "URL")]
    targets: Vec<Target>,
    /// Connections doing ping-pong at the same time
    #[arg(long, default_value_t = 1, value_name = "N")]
    conns: usize,
    /// How long to run, in seconds
    #[arg(long, default_value_t = 5.0, value_name = "S")]
    secs: f64,
    /// Bytes per message
    #[arg(long, default_value_t = 64, value_name = "B")]
    size: usize,
    /// Extra connections opened first and held open without a byte (tcp, ws)
    #[arg(long, default_value_t = 0, value_name = "N")]
    idle: usize,
    /// Extra connections streaming large messages at full speed beside the measured ones (tcp, ws)
    #[arg(long, default_value_t = 0, value_name = "N")]
    stream: usize,
    /// Bytes per streamed message
    #[arg(long, default_value_t = 65536, value_name = "B")]
    stream_size: usize,
    /// The server's process ID, whose CPU time per message is measured too (from
    /// /proc/PID/stat; the server must be another process). Without it, the
    /// process listening on the URL's port is used, if this user can see it
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// One JSON object per line instead of the table
    #[arg(long)]
    json: bool,
    /// Fan-out instead of ping-pong: N TCP members of a chat server (`socklab serve
    /// chat --no-joins`) and one sender; each line timed to the LAST member's receipt
    #[arg(long, value_name = "N")]
    fanout: Option<usize>,
    /// Lines per second from the fan-out sender
    #[arg(long, default_value_t = 50.0, value_name = "R")]
    rate: f64,
    /// The fan-out sender joins this server instead (another process of the same
    /// room, --relay): the time then includes the trip through Redis
    #[arg(long, value_name = "URL")]
    send_to: Option<Target>,
    #[command(flatten)]
    trust: crate::trust::TrustArgs,
}

impl Bench {
    /// Runs the load against each URL in turn and prints one line per URL.
    pub fn run(self) -> anyhow::Result<()> {
        if let Some(n) = self.fanout {
            return self.fanout(n);
        }
        anyhow::ensure!(self.conns >= 1, "--conns must be at least 1");
        anyhow::ensure!(
            self.secs > 0.0 && self.secs <= 3600.0,
            "--secs must be in (0, 3600]"
        );
        let opts = Options {
            conns: self.conns,
            duration: Duration::from_secs_f64(self.secs),
            size: self.size.max(1),
            idle: self.idle,
            stream: self.stream,
            stream_size: self.stream_size.max(1),
            server_pid: self.server_pid,
        };
        if !self.json {
            outln!("{}", Report::HEADER);
        }
        let mut errors = 0;
        let trust = self.trust.trust();
        for target in &self.targets {
            let target = target
                .clone()
                .trusting(&trust)
                .map_err(anyhow::Error::msg)?;
            let server_pid = self
                .server_pid
                .or_else(|| bench::owner::serving_pid(target.addr, target.kind));
            let report = bench::run(&target, &Options { server_pid, ..opts })?;
            if self.json {
                outln!("{}", report.to_json());
            } else {
                outln!("{report}");
            }
            // Causes go to stderr, so --json stays one object per line on stdout.
            for cause in report.diagnosis() {
                eprintln!("socklab bench: {}: {cause}", report.url);
            }
            errors += report.errors;
        }
        // A run with errors measured something else than the server's speed:
        // say so in the exit status too, so no script takes it for a result.
        anyhow::ensure!(
            errors == 0,
            "{errors} error{} during the load (causes above)",
            if errors == 1 { "" } else { "s" }
        );
        Ok(())
    }

    /// `--fanout N`: one chat server (the first URL, tcp://), N members, one
    /// sender; prints the report (or its JSON).
    fn fanout(&self, members: usize) -> anyhow::Result<()> {
        let target = &self.targets[0];
        anyhow::ensure!(
            target.kind == bench::Kind::Tcp,
            "--fanout needs the chat server's TCP address (tcp://127.0.0.1:7070): its members are TCP members"
        );
        anyhow::ensure!(members >= 1, "--fanout must be at least 1");
        anyhow::ensure!(
            self.rate > 0.0 && self.rate <= 10_000.0,
            "--rate must be in (0, 10000]"
        );
        anyhow::ensure!(
            self.secs > 0.0 && self.secs <= 3600.0,
            "--secs must be in (0, 3600]"
        );
        let opts = FanoutOptions {
            members,
            members_at: target.addr,
            sender_at: self.send_to.as_ref().map_or(target.addr, |t| t.addr),
            rate: self.rate,
            duration: Duration::from_secs_f64(self.secs),
        };
        let r = bench::fanout::run(&opts)?;
        let saturated = r.saturation();
        if self.json {
            outln!("{}", r.to_json());
        } else {
            let ms = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{:.2}", v / 1000.0));
            outln!(
                "fan-out to {} TCP members of {}{}: {} lines sent at {}/s, {} reached every member",
                r.members,
                target.url,
                self.send_to
                    .as_ref()
                    .map_or(String::new(), |t| format!(" (sender on {})", t.url)),
                r.sent,
                self.rate,
                r.complete
            );
            // A saturated run's latencies are a queue's: they are printed, but
            // never without the word.
            if let Some(why) = &saturated {
                outln!(
                    "  SATURATED: {why}; more than this machine carries, so the times below are a queue's, not the server's"
                );
            }
            outln!(
                "  {}send → last member: p50 {} ms, p99 {} ms{}; send → first member p50 {} ms; {:.0} of {:.0} deliveries/s asked",
                if saturated.is_some() {
                    "saturated: "
                } else {
                    ""
                },
                ms(r.last_p50_us),
                ms(r.last_p99_us),
                if r.last_p99_us.is_none() && r.complete > 0 {
                    " (too few samples for a p99)"
                } else {
                    ""
                },
                ms(r.first_p50_us),
                r.deliveries_per_sec,
                r.asked_per_sec
            );
        }
        anyhow::ensure!(
            r.errors == 0,
            "{} member(s) failed: {}",
            r.errors,
            r.first_error.unwrap_or_default()
        );
        Ok(())
    }
}
