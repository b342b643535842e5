//! `socklab diagram DIR`: pictures of one run on this machine, as SVG files.
//!
//! Nothing here is drawn from memory of the protocol alone: every time, byte
//! count and TCP state in a picture was measured in this run.
//!
//! - `tcp-lifecycle.svg`: one TCP connection, both ends in this process (the
//!   tour's lifecycle walk): each step's time, the segments it sends, and the
//!   state the kernel reports for each end afterwards (sock_diag).
//! - `ws-exchange.svg`: a WebSocket client against the in-process ws-echo: the
//!   Upgrade, one message each way, the close handshake and the FINs, at the
//!   times the Tap recorded the client's system calls, with their byte counts.
//! - `tcp-states.svg`: RFC 793's state diagram, the states seen in the two runs
//!   above highlighted, each with the side that was in it.
//! - `push-techniques.svg`: short polling, long polling, SSE and WebSocket
//!   receiving the same events from an in-process push server at once: every
//!   request and answer each client's Tap recorded, with its time (`push.rs`).
//! - `socketio-plain-ws.svg` (with `--sio-transcript FILE`): a plain WebSocket
//!   client meeting a socket.io server, drawn from the transcript of a real run
//!   (scripts/socketio.sh; no socket.io server runs in here): `socketio.rs`.
//! - `bench-*.svg` (with `--bench FILE`): bar charts of the tables in
//!   scripts/bench.sh's markdown (docs/generated/bench.md); a table the file does
//!   not have is skipped, and said so.
//!
//! Try: `socklab diagram /tmp/pictures`, then open the files in a browser.
//! scripts/gen-docs.sh writes them to docs/generated/ for the book.
//!
//! Layout: this file runs the exchanges and writes the files; `sequence.rs`
//! draws the two sequence diagrams, `states.rs` the state diagram, `charts.rs`
//! the bench charts (all with `socklab::svg`).

mod charts;
mod push;
mod sequence;
mod socketio;
mod states;

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use socklab::servers::LocalServers;

use crate::tour::lifecycle_walk;
use charts::{CHARTS, bar_chart};
use sequence::{sequence, tcp_rows, ws_rows};
use states::state_diagram;

/// Width of every picture, in pixels: fits the book's column at full size.
const WIDTH: f64 = 760.0;

/// Flags of `socklab diagram`.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  socklab diagram /tmp/pictures                                   # run, measure, draw\n  socklab diagram docs/generated --bench docs/generated/bench.md  # what gen-docs.sh runs"
)]
pub struct Diagram {
    /// Directory to write the SVG files into (created if missing)
    dir: PathBuf,
    /// Also chart the tables of this bench.sh markdown file
    #[arg(long, value_name = "FILE")]
    bench: Option<PathBuf>,
    /// Also draw socketio-plain-ws.svg from this `send --listen --wire` transcript (docs/generated/sio-plain-ws.txt)
    #[arg(long, value_name = "FILE")]
    sio_transcript: Option<PathBuf>,
    /// Take the WebSocket client's key and mask keys from this seed (the same bytes every run; times stay real)
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
}

impl Diagram {
    /// Runs the exchanges and writes every picture.
    pub fn run(self) -> anyhow::Result<()> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        // Which states each side was seen in, for the state diagram.
        let mut seen: BTreeMap<&'static str, Vec<&'static str>> = BTreeMap::new();

        let steps = lifecycle_walk().context("the TCP lifecycle walk")?;
        for s in &steps {
            seen.entry(s.client).or_default().push("client");
            seen.entry(s.server).or_default().push("server");
        }
        let tcp = sequence(
            "One TCP connection: handshake, one echo, close",
            "Both ends in one process. Time: when each step's calls returned (each step first waits for the last one's states). States: the kernel's, read after each step.",
            &tcp_rows(&steps),
        );
        self.write("tcp-lifecycle.svg", &tcp)?;

        let servers = LocalServers::start()?;
        let (rows, client_state, server_state) = ws_rows(&servers.ws_url(), self.seed)?;
        seen.entry(client_state).or_default().push("ws client");
        seen.entry(server_state).or_default().push("ws server");
        let ws = sequence(
            "One WebSocket: Upgrade, a message each way, close",
            "Times: the client's write()/read() calls, on the Tap's clock from before connect(). Bytes: what those calls moved.",
            &rows,
        );
        self.write("ws-exchange.svg", &ws)?;

        self.write("tcp-states.svg", &state_diagram(&seen))?;

        let push = sequence(
            "The same events, four ways: who speaks when",
            &format!(
                "An in-process push server publishes {} events/s; four clients listen at once for {} s. Each section is one client's Tap: every write() (→) and read() (←), on that client's clock from before connect(). Polling asks again and again; long polling once per event; SSE and WebSocket ask once, then only receive.",
                push::RATE,
                push::LISTEN_SECS
            ),
            &push::push_rows()?,
        );
        self.write("push-techniques.svg", &push)?;

        if let Some(path) = &self.sio_transcript {
            let text =
                fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let rows = socketio::transcript_rows(&text);
            anyhow::ensure!(
                !rows.is_empty(),
                "{} holds no WebSocket exchange (a `socklab send --wire` transcript)",
                path.display()
            );
            let svg = sequence(
                "A plain WebSocket client meets a socket.io server",
                &format!(
                    "Drawn from the transcript of a real run ({}: socklab send --listen 3 --wire against npm socket.io, by scripts/socketio.sh), not from a run inside socklab diagram. Times: the client's calls, from before connect(). The WebSocket works; the client never answers Engine.IO's ping with \"3\", so the server closes.",
                    path.display()
                ),
                &rows,
            );
            self.write("socketio-plain-ws.svg", &svg)?;
        }

        if let Some(bench) = &self.bench {
            let text = fs::read_to_string(bench)
                .with_context(|| format!("reading {}", bench.display()))?;
            for chart in &CHARTS {
                match bar_chart(&text, chart) {
                    Some(svg) => self.write(chart.file, &svg)?,
                    None => println!(
                        "skipped {}: {} has no table '{}' with a column '{}'",
                        chart.file,
                        bench.display(),
                        chart.anchor,
                        chart.column
                    ),
                }
            }
        }
        Ok(())
    }

    fn write(&self, name: &str, svg: &str) -> anyhow::Result<()> {
        let path = self.dir.join(name);
        fs::write(&path, svg).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
        Ok(())
    }
}
