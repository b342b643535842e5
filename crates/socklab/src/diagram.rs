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
//! - `bench-*.svg` (with `--bench FILE`): bar charts of the tables in
//!   scripts/bench.sh's markdown (docs/generated/bench.md); a table the file does
//!   not have is skipped, and said so.
//!
//! Try: `socklab diagram /tmp/pictures`, then open the files in a browser.
//! scripts/gen-docs.sh writes them to docs/generated/ for the book.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use client::wire::{FrameView, opcode_name, quoted_short, ws_conversation};
use client::{Incoming, Transport};
use socklab::servers::LocalServers;
use socklab::svg::{Anchor, Svg};

use crate::tour::{Snapshot, Step, lifecycle_walk};

/// The message the WebSocket exchange sends.
const MESSAGE: &str = "hello";

/// Width of every picture, in pixels: fits the book's column at full size.
const WIDTH: f64 = 760.0;

/// Height of one row of a sequence diagram.
const ROW: f64 = 30.0;

/// The two lifelines' x positions, and the left column's right edge (times).
const CLIENT_X: f64 = 260.0;
const SERVER_X: f64 = 640.0;
const TIME_X: f64 = 90.0;

/// A wait for a state longer than this is not loopback's microseconds but a
/// timer: the diagram says which (the delayed ACK of the client's FIN).
const TIMER_SEEN: Duration = Duration::from_millis(10);

/// The longest caption line, in characters: 11 px text fits about this many in
/// [`WIDTH`] (longer captions wrap instead of running off the picture).
const CAPTION_CHARS: usize = 120;

/// How long the WebSocket client waits for its echo before giving up.
const ECHO_TIMEOUT: Duration = Duration::from_secs(5);

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
}

/// One row of a sequence diagram.
enum Row {
    /// Something sent from one side to the other: an arrow with its label.
    Arrow {
        at: Option<Duration>,
        to_server: bool,
        label: String,
    },
    /// The kernel's state of each end at this point ("-": no socket).
    States {
        at: Option<Duration>,
        note: String,
        client: String,
        server: String,
    },
    /// A line of text across the diagram.
    Note { at: Option<Duration>, text: String },
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
        let (rows, client_state, server_state) = ws_rows(&servers.ws_url())?;
        seen.entry(client_state).or_default().push("ws client");
        seen.entry(server_state).or_default().push("ws server");
        let ws = sequence(
            "One WebSocket: Upgrade, a message each way, close",
            "Times: the client's write()/read() calls, on the Tap's clock from before connect(). Bytes: what those calls moved.",
            &rows,
        );
        self.write("ws-exchange.svg", &ws)?;

        self.write("tcp-states.svg", &state_diagram(&seen))?;

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

/// Milliseconds with three decimals: loopback steps take microseconds.
fn ms(at: Duration) -> String {
    format!("{:.3} ms", at.as_secs_f64() * 1e3)
}

/// The TCP walk as rows: the segments each kind of step sends (from TCP's rules),
/// with the time and the states measured after it.
fn tcp_rows(steps: &[Snapshot]) -> Vec<Row> {
    let mut rows = Vec::new();
    for s in steps {
        let at = Some(Duration::from_secs_f64(s.at_us / 1e6));
        let arrow = |to_server: bool, label: &str| Row::Arrow {
            at: None,
            to_server,
            label: label.to_string(),
        };
        let (note, arrows) = match s.step {
            Step::Listen => ("listen()", vec![]),
            Step::Connect => (
                "connect()",
                vec![
                    arrow(true, "SYN"),
                    arrow(false, "SYN-ACK"),
                    arrow(true, "ACK"),
                ],
            ),
            Step::Accept => ("accept()", vec![]),
            Step::Echo { sent, echoed } => (
                "write, read",
                vec![
                    arrow(true, &format!("{sent} bytes")),
                    arrow(false, &format!("{echoed} bytes (the echo)")),
                ],
            ),
            Step::ClientFin => {
                // The server's kernel may hold the ACK of a FIN back, hoping to
                // send it with data (a delayed ACK, at least 40 ms on Linux:
                // TCP_DELACK_MIN): the client waits in FIN_WAIT1 until it comes,
                // and the walk waits with it. Measured: shown with its time.
                let settled = Duration::from_secs_f64(s.settled_us / 1e6);
                let waited = settled.saturating_sub(Duration::from_secs_f64(s.at_us / 1e6));
                let ack = if waited > TIMER_SEEN {
                    Row::Arrow {
                        at: Some(settled),
                        to_server: false,
                        label: "ACK, late: the server's kernel delayed it (delayed ACK)".into(),
                    }
                } else {
                    arrow(false, "ACK")
                };
                ("client shutdown(WR)", vec![arrow(true, "FIN"), ack])
            }
            Step::ServerFin => (
                "server read() = 0, shutdown(WR)",
                vec![arrow(false, "FIN"), arrow(true, "ACK")],
            ),
            Step::Close => ("close() both", vec![]),
        };
        rows.push(Row::Note {
            at,
            text: note.to_string(),
        });
        rows.extend(arrows);
        rows.push(Row::States {
            at: None,
            note: String::new(),
            client: s.client.to_string(),
            server: s.server.to_string(),
        });
    }
    rows
}

/// One frame's label: opcode, payload or close code, size, and the mask.
fn frame_label(f: &FrameView) -> String {
    let what = match f.close_code() {
        Some(code) => format!("{} {code}", opcode_name(f.opcode)),
        None => format!("{} {}", opcode_name(f.opcode), quoted_short(&f.payload, 16)),
    };
    let mask = if f.mask.is_some() { ", masked" } else { "" };
    format!(
        "{what}: {} B ({} B header{mask})",
        f.wire_len(),
        f.header.len()
    )
}

/// A WebSocket exchange, measured: rows in time order, and the kernel's states
/// of the client's and the server's socket after close.
fn ws_rows(url: &str) -> anyhow::Result<(Vec<Row>, &'static str, &'static str)> {
    let log = lifecycle::TapLog::new();
    let target = client::Target::parse(url)?;
    let mut ws = Transport::connect_recorded(&target, log.clone())?;
    ws.set_read_timeout(Some(ECHO_TIMEOUT))?;
    ws.send(MESSAGE.as_bytes())?;
    match ws.receive()? {
        Incoming::Data(_) => {}
        other => anyhow::bail!("expected the echo of {MESSAGE:?}, got {other:?}"),
    }
    let connected = ws.connect_time();
    let report = ws.close()?;
    let records = log.records();
    let conv = ws_conversation(&records);

    // (time, to_server, label): everything the client's calls moved.
    let mut events: Vec<(Duration, bool, String)> = Vec::new();
    let time = |flow: &client::wire::Flow, end: usize| {
        flow.call_for(end.saturating_sub(1))
            .map(|(_, at)| at)
            .unwrap_or_default()
    };
    if let Some(h) = &conv.handshake {
        let (request_line, status_line) = (&h.request.start_line, &h.response.start_line);
        events.push((
            time(&conv.sent, conv.request_len),
            true,
            format!("{request_line} + Upgrade headers: {} B", conv.request_len),
        ));
        events.push((
            time(&conv.received, conv.response_len),
            false,
            format!("{status_line}: {} B", conv.response_len),
        ));
    }
    for f in &conv.client.frames {
        events.push((
            time(&conv.sent, conv.request_len + f.offset + f.wire_len()),
            true,
            frame_label(f),
        ));
    }
    for f in &conv.server.frames {
        events.push((
            time(&conv.received, conv.response_len + f.offset + f.wire_len()),
            false,
            frame_label(f),
        ));
    }
    if let Some(at) = report.their_fin {
        events.push((at, false, "FIN (the client's read() = 0)".to_string()));
    }
    if let Some(at) = report.our_fin {
        events.push((at, true, "FIN (the client's close())".to_string()));
    }
    events.sort_by_key(|e| e.0);

    let mut rows = vec![Row::Note {
        at: Some(Duration::ZERO),
        text: format!(
            "connect(): SYN, SYN-ACK, ACK as in the TCP picture, then the Upgrade; returned at {}",
            ms(connected)
        ),
    }];
    rows.extend(events.into_iter().map(|(at, to_server, label)| Row::Arrow {
        at: Some(at),
        to_server,
        label,
    }));
    let name = |s: Option<lifecycle::TcpState>| s.map_or("-", lifecycle::TcpState::name);
    let (client_state, server_state) = (name(report.client_state), name(report.server_state));
    rows.push(Row::States {
        at: None,
        note: "after close".to_string(),
        client: client_state.to_string(),
        server: server_state.to_string(),
    });
    Ok((rows, client_state, server_state))
}

/// A sequence diagram: client and server lifelines, one row under the other.
fn sequence(title: &str, caption: &str, rows: &[Row]) -> String {
    let caption = wrap(caption, CAPTION_CHARS);
    // Each caption line past the first pushes the diagram down one line.
    let extra = 14.0 * caption.len().saturating_sub(1) as f64;
    let top = 90.0 + extra;
    let height = top + ROW * rows.len() as f64 + 30.0;
    let mut svg = Svg::new(WIDTH, height);
    svg.text((10.0, 24.0), Anchor::Start, "title", title);
    for (i, line) in caption.iter().enumerate() {
        svg.text((10.0, 44.0 + 14.0 * i as f64), Anchor::Start, "small", line);
    }
    svg.text((TIME_X, 72.0 + extra), Anchor::End, "small", "time");
    for (x, name) in [(CLIENT_X, "client"), (SERVER_X, "server")] {
        svg.text((x, 72.0 + extra), Anchor::Middle, "title", name);
        svg.line((x, top - 10.0), (x, height - 20.0), "lifeline");
    }
    let middle = (CLIENT_X + SERVER_X) / 2.0;
    for (i, row) in rows.iter().enumerate() {
        let y = top + ROW * i as f64 + ROW / 2.0;
        let at = match row {
            Row::Arrow { at, .. } | Row::States { at, .. } | Row::Note { at, .. } => *at,
        };
        if let Some(at) = at {
            svg.text((TIME_X, y + 4.0), Anchor::End, "mono", &ms(at));
        }
        match row {
            Row::Arrow {
                to_server, label, ..
            } => {
                let (from, to, class) = if *to_server {
                    (CLIENT_X, SERVER_X, "arrow")
                } else {
                    (SERVER_X, CLIENT_X, "arrow-back")
                };
                svg.line((from, y + 6.0), (to, y + 6.0), class);
                svg.text((middle, y + 1.0), Anchor::Middle, "", label);
            }
            Row::States {
                note,
                client,
                server,
                ..
            } => {
                for (x, state) in [(CLIENT_X, client), (SERVER_X, server)] {
                    svg.rect((x - 55.0, y - 10.0), (110.0, 20.0), "state");
                    svg.text((x, y + 4.0), Anchor::Middle, "small", state);
                }
                svg.text((middle, y + 4.0), Anchor::Middle, "small", note);
            }
            Row::Note { text, .. } => {
                svg.text((TIME_X + 12.0, y + 4.0), Anchor::Start, "small", text);
            }
        }
    }
    svg.finish()
}

/// `text` cut into lines of at most `max` characters, at spaces (a word longer
/// than `max` gets a line of its own).
fn wrap(text: &str, max: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= max => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// RFC 793's states, where the diagram puts each (x, y of its box's center).
const STATES: [(&str, f64, f64); 12] = [
    ("CLOSED", 380.0, 80.0),
    ("LISTEN", 380.0, 150.0),
    ("SYN_RECV", 150.0, 220.0),
    ("SYN_SENT", 610.0, 220.0),
    ("ESTABLISHED", 380.0, 290.0),
    ("FIN_WAIT1", 150.0, 370.0),
    ("CLOSE_WAIT", 610.0, 370.0),
    ("FIN_WAIT2", 150.0, 450.0),
    ("CLOSING", 380.0, 450.0),
    ("LAST_ACK", 610.0, 450.0),
    ("TIME_WAIT", 250.0, 530.0),
    // The same CLOSED again at the bottom, so the last arrows need not cross the page.
    ("CLOSED", 610.0, 530.0),
];

/// Where a transition's label goes: beside the middle of its arrow by (dx, dy),
/// anchored so the text runs away from the arrow and from the boxes near it.
type LabelAt = (f64, f64, Anchor);

/// Most labels: just right of and above the middle of their arrow.
const BESIDE: LabelAt = (6.0, -4.0, Anchor::Start);

/// The transitions drawn: from and to (indexes into [`STATES`]), what causes
/// them, and where the label goes (a few sit elsewhere so no two texts and no
/// text and arrow overlap: checked by rendering the picture).
const TRANSITIONS: [(usize, usize, &str, LabelAt); 14] = [
    (0, 1, "listen()", BESIDE),
    (0, 3, "connect() / SYN", BESIDE),
    // Left of and above its arrow: to the right it would run under LISTEN.
    (1, 2, "SYN / SYN-ACK", (-10.0, -6.0, Anchor::End)),
    (2, 4, "ACK", BESIDE),
    // Under its arrow: above, the arrow from SYN_SENT climbs through it.
    (3, 4, "SYN-ACK / ACK", (5.0, 16.0, Anchor::Start)),
    (4, 5, "close / FIN", (-8.0, -8.0, Anchor::End)),
    (4, 6, "FIN / ACK", BESIDE),
    (5, 7, "ACK", BESIDE),
    (5, 8, "FIN / ACK", BESIDE),
    (7, 10, "FIN / ACK", BESIDE),
    (8, 10, "ACK", BESIDE),
    (6, 9, "close / FIN", BESIDE),
    (9, 11, "ACK", BESIDE),
    (10, 11, "2 MSL", BESIDE),
];

/// The TCP state diagram with the states in `seen` highlighted and labelled
/// with who was in them.
fn state_diagram(seen: &BTreeMap<&'static str, Vec<&'static str>>) -> String {
    // Tall enough for two lines: the state, and under it whose socket was in it
    // (inside the box, where no arrow or label runs).
    let (bw, bh) = (120.0, 40.0);
    let mut svg = Svg::new(WIDTH, 590.0);
    svg.text(
        (10.0, 24.0),
        Anchor::Start,
        "title",
        "TCP's states (RFC 793), and the ones this run saw",
    );
    svg.text(
        (10.0, 44.0),
        Anchor::Start,
        "small",
        "Highlighted: a state the kernel reported for a socket in the TCP walk or the WebSocket close; under it, whose socket.",
    );
    for &(from, to, label, (lx, ly, anchor)) in &TRANSITIONS {
        let ((_, x1, y1), (_, x2, y2)) = (STATES[from], STATES[to]);
        // From the edge of one box to the edge of the other, along the line between centers.
        let (dx, dy) = (x2 - x1, y2 - y1);
        let len = (dx * dx + dy * dy).sqrt();
        let cut = |x: f64, y: f64, sign: f64| {
            let t = ((bw / 2.0) / dx.abs().max(1e-9)).min((bh / 2.0) / dy.abs().max(1e-9)) * len;
            (x + sign * dx / len * t, y + sign * dy / len * t)
        };
        svg.line(cut(x1, y1, 1.0), cut(x2, y2, -1.0), "edge");
        svg.text(
            ((x1 + x2) / 2.0 + lx, (y1 + y2) / 2.0 + ly),
            anchor,
            "small",
            label,
        );
    }
    for (i, &(name, x, y)) in STATES.iter().enumerate() {
        // The top CLOSED is "no socket yet", which no lookup reports; a socket
        // the kernel says is CLOSED has reached the bottom one.
        let who = seen.get(name).filter(|_| i != 0);
        svg.rect(
            (x - bw / 2.0, y - bh / 2.0),
            (bw, bh),
            if who.is_some() { "seen" } else { "box" },
        );
        // One line (y + 5) alone; the upper of two when someone was in it.
        let name_y = if who.is_some() { y - 2.0 } else { y + 5.0 };
        svg.text((x, name_y), Anchor::Middle, "", name);
        if let Some(who) = who {
            let mut who: Vec<&str> = who.clone();
            who.sort();
            who.dedup();
            svg.text((x, y + 13.0), Anchor::Middle, "small", &who.join(", "));
        }
    }
    svg.finish()
}

/// One chart: which table of bench.md (its ANCHOR name), which column, the file.
struct Chart {
    anchor: &'static str,
    column: &'static str,
    file: &'static str,
    title: &'static str,
}

/// The charts `--bench` draws; any whose table or column is missing is skipped.
const CHARTS: [Chart; 6] = [
    Chart {
        anchor: "pingpong",
        column: "1 conn msgs/s",
        file: "bench-pingpong-1.svg",
        title: "Ping-pong, one connection: messages per second",
    },
    Chart {
        anchor: "pingpong",
        column: "8 conns msgs/s",
        file: "bench-pingpong-8.svg",
        title: "Ping-pong, eight connections: messages per second",
    },
    Chart {
        anchor: "pingpong",
        column: "peak RSS MB, 10,000 idle",
        file: "bench-idle-rss.svg",
        title: "Peak memory (RSS, MB) holding the idle connections",
    },
    Chart {
        anchor: "memory",
        column: "10,000 idle: KiB per connection",
        file: "bench-memory.svg",
        title: "Memory per idle WebSocket connection (KiB), at 10,000",
    },
    Chart {
        anchor: "push",
        column: "latency p50 ms (min–max)",
        file: "bench-push-latency.svg",
        title: "Fan-out: one event to every subscriber, latency p50 (ms)",
    },
    Chart {
        anchor: "push",
        column: "KiB per subscriber",
        file: "bench-push-memory.svg",
        title: "Fan-out: server memory per subscriber (KiB)",
    },
];

/// The rows of the markdown table between `<!-- ANCHOR: name -->` and its end:
/// (first cell, the named column's first number). Cells without a number ("–") are left out.
fn table_column(markdown: &str, anchor: &str, column: &str) -> Option<Vec<(String, f64)>> {
    let start = markdown.find(&format!("<!-- ANCHOR: {anchor} -->"))?;
    let end = markdown[start..].find(&format!("<!-- ANCHOR_END: {anchor} -->"))? + start;
    let mut lines = markdown[start..end].lines().filter(|l| l.starts_with('|'));
    let cells = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    let index = cells(lines.next()?).iter().position(|c| c == column)?;
    let rows: Vec<(String, f64)> = lines
        .skip(1) // the |---| line
        .filter_map(|line| {
            let row = cells(line);
            let number = row.get(index)?.split_whitespace().next()?.replace(',', "");
            Some((row[0].clone(), number.parse().ok()?))
        })
        .collect();
    (!rows.is_empty()).then_some(rows)
}

/// A horizontal bar chart of one bench column, or `None` when the table is missing.
fn bar_chart(markdown: &str, chart: &Chart) -> Option<String> {
    let rows = table_column(markdown, chart.anchor, chart.column)?;
    let max = rows
        .iter()
        .map(|r| r.1)
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    let (left, bar_h, gap, top) = (200.0, 20.0, 8.0, 70.0);
    let span = WIDTH - left - 110.0;
    let mut svg = Svg::new(WIDTH, top + (bar_h + gap) * rows.len() as f64 + 20.0);
    svg.text((10.0, 24.0), Anchor::Start, "title", chart.title);
    svg.text(
        (10.0, 44.0),
        Anchor::Start,
        "small",
        &format!("From the '{}' table of bench.md, column '{}', as measured when the docs were generated.", chart.anchor, chart.column),
    );
    for (i, (name, value)) in rows.iter().enumerate() {
        let y = top + (bar_h + gap) * i as f64;
        svg.text((left - 8.0, y + 15.0), Anchor::End, "", name);
        let w = (value / max * span).max(1.0);
        svg.rect((left, y), (w, bar_h), "bar");
        svg.text(
            (left + w + 6.0, y + 15.0),
            Anchor::Start,
            "mono",
            &format_number(*value),
        );
    }
    Some(svg.finish())
}

/// A number as the bench tables print it: thousands separated, one decimal below 100.
fn format_number(v: f64) -> String {
    if v >= 100.0 {
        let digits = format!("{:.0}", v);
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BENCH: &str = "<!-- ANCHOR: pingpong -->\n| server | 1 conn msgs/s | p50 µs |\n|---|---:|---:|\n| tcp | 80,328 | 11.4 |\n| ws | – | 13.0 |\n<!-- ANCHOR_END: pingpong -->\n";

    /// The chart reads the named column, thousands separators and all, and
    /// leaves out a cell without a number.
    #[test]
    fn reads_a_bench_column() {
        let rows = table_column(BENCH, "pingpong", "1 conn msgs/s").unwrap();
        assert_eq!(rows, vec![("tcp".to_string(), 80328.0)]);
    }

    /// A table the file does not have is skipped, not an error.
    #[test]
    fn a_missing_table_is_skipped() {
        assert!(table_column(BENCH, "push", "KiB per subscriber").is_none());
        assert!(table_column(BENCH, "pingpong", "no such column").is_none());
        let chart = &CHARTS[4];
        assert!(bar_chart(BENCH, chart).is_none());
    }

    /// A long caption wraps at spaces into lines that fit the picture, losing no word.
    #[test]
    fn captions_wrap_to_the_width() {
        let text = "word ".repeat(60);
        let lines = wrap(&text, CAPTION_CHARS);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.chars().count() <= CAPTION_CHARS));
        assert_eq!(lines.join(" "), text.trim_end());
    }

    /// The box a label of `text` at (x, y) covers: 11 px text, at most 6.5 px a
    /// character (wider than the average, so the test errs on the side of overlap).
    fn label_box(text: &str, (x, y): (f64, f64), anchor: Anchor) -> [f64; 4] {
        let w = 6.5 * text.chars().count() as f64;
        let x0 = match anchor {
            Anchor::Start => x,
            Anchor::Middle => x - w / 2.0,
            Anchor::End => x - w,
        };
        [x0, y - 9.0, x0 + w, y + 2.0]
    }

    fn overlap(a: [f64; 4], b: [f64; 4]) -> bool {
        a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
    }

    /// tcp-states.svg: no transition label covers another or a state's box.
    #[test]
    fn state_labels_do_not_overlap() {
        let labels: Vec<[f64; 4]> = TRANSITIONS
            .iter()
            .map(|&(from, to, label, (lx, ly, anchor))| {
                let ((_, x1, y1), (_, x2, y2)) = (STATES[from], STATES[to]);
                label_box(label, ((x1 + x2) / 2.0 + lx, (y1 + y2) / 2.0 + ly), anchor)
            })
            .collect();
        for (i, a) in labels.iter().enumerate() {
            for (j, b) in labels.iter().enumerate().skip(i + 1) {
                assert!(!overlap(*a, *b), "labels {i} and {j} overlap");
            }
            for (name, x, y) in STATES {
                let state = [x - 60.0, y - 20.0, x + 60.0, y + 20.0];
                assert!(!overlap(*a, state), "label {i} covers {name}");
            }
        }
    }

    /// Chart labels read like the table cells they come from.
    #[test]
    fn numbers_print_like_the_tables() {
        assert_eq!(format_number(80328.0), "80,328");
        assert_eq!(format_number(39.04), "39.0");
    }
}
