//! `socklab compare`'s table: one row per fact, one column per transport, and
//! one line per pair of transports with the paired RTT difference and its verdict.
//!
//! A verdict that names a winner is printed as `NAME lower` right after the
//! interval, and nothing else on that line ends in "lower", so
//! `scripts/check-docs.sh` can read every published table for the impossible.

use std::fmt::Write as _;

use client::stable;
use client::style::{Paint, Style};
use client::transport::{Framing, Scheme};
use client::wire::quoted_short;

use super::verdict::{FAST_PERCENTILE, SLOW_FACTOR, TRIM};
use super::{Comparison, Measurement};

/// A cell: `yes`/`no`, or `-` where the question does not apply.
fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Formats µs for the table: `23 µs`, `1.2 ms`, or `-` when nothing was measured.
fn us(v: Option<f64>) -> String {
    match v {
        None => "-".to_string(),
        Some(v) if v >= 1000.0 => format!("{:.1} ms", v / 1000.0),
        Some(v) => format!("{v:.0} µs"),
    }
}

/// `1 MiB`, `64 KiB`, `1000 B`: a size as a reader says it.
fn bytes_text(n: usize) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n % (1 << 10) == 0 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}

/// Formats µs to 0.1 µs (`18.4 µs`), or `-`: medians are compared to a tenth.
fn us_tenth(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.1} µs"))
}

/// One line per pair: `ws − tcp  +0.4 µs  [-0.3, +1.0]  no measurable difference…`,
/// the mean of the paired per-block differences, its interval, the verdict printed.
pub fn difference_lines(c: &Comparison) -> Vec<String> {
    c.rtt_differences
        .iter()
        .map(|d| {
            format!(
                "{:<10} {:>+7.1} µs  [{:+.1}, {:+.1}]  {}",
                format!("{} − {}", d.a.name(), d.b.name()),
                d.diff_us,
                d.ci_low_us,
                d.ci_high_us,
                d.summary
            )
        })
        .collect()
}

/// [`difference_lines`] under `--stable`: the pair, then placeholders for the
/// figures and the verdict, which all vary from run to run.
fn stable_difference_lines(c: &Comparison) -> Vec<String> {
    c.rtt_differences
        .iter()
        .map(|d| {
            format!(
                "{:<10} {t}  [{t}, {t}]  {}",
                format!("{} − {}", d.a.name(), d.b.name()),
                stable::VERDICT,
                t = stable::TIME
            )
        })
        .collect()
}

/// One row per fact, one column per transport: the table `socklab compare` prints.
pub fn table_rows(c: &Comparison) -> Vec<(String, Vec<String>)> {
    let row = |label: &str, f: &dyn Fn(&Measurement) -> String| {
        (label.to_string(), c.transports.iter().map(f).collect())
    };
    vec![
        row("connect (+ TLS, Upgrade)", &|m| us(Some(m.connect_us))),
        row("round trips before data", &|m| {
            let mut parts = Vec::new();
            if m.transport_round_trips > 0 {
                parts.push("SYN");
            }
            if m.tls_round_trips > 0 {
                parts.push("TLS");
            }
            if m.handshake_round_trips > m.tls_round_trips {
                parts.push("Upgrade");
            }
            if parts.is_empty() {
                "0".to_string()
            } else {
                format!("{} ({})", m.round_trips_before_payload, parts.join(", "))
            }
        }),
        row("handshake bytes sent/recv", &|m| {
            format!(
                "{} / {}",
                m.handshake_bytes_sent, m.handshake_bytes_received
            )
        }),
        row("payload bytes sent/recv", &|m| {
            format!("{} / {}", m.payload_bytes_sent, m.payload_bytes_received)
        }),
        row("wire bytes sent/recv", &|m| {
            format!("{} / {}", m.wire_bytes_sent, m.wire_bytes_received)
        }),
        row("overhead per message", &|m| {
            format!(
                "+{:.1} / +{:.1} B",
                m.overhead_bytes_per_message_sent, m.overhead_bytes_per_message_received
            )
        }),
        row(&format!("{} sends came back as", c.count), &|m| {
            let mut cell = plural(m.units_received, m.unit);
            if m.name.framing() == Framing::Messages {
                cell.push_str(&format!(" in {}", plural(m.reads, "read")));
            }
            cell
        }),
        row(
            &format!("1 send of {} came back as", bytes_text(c.large)),
            &|m| match (m.large_message_units, m.large_message_reads) {
                (Some(units), Some(reads)) if m.name.framing() == Framing::Messages => {
                    format!("{} in {}", plural(units, m.unit), plural(reads, "read"))
                }
                (Some(units), _) => plural(units, m.unit),
                _ if m.name == Scheme::Udp && c.large > lifecycle::udp::MAX_IPV4_PAYLOAD => {
                    "- (> 1 datagram)".to_string()
                }
                _ => "-".to_string(),
            },
        ),
        row("message boundaries kept", &|m| {
            yes_no(Some(m.boundaries_preserved)).to_string()
        }),
        row(
            "echo RTT p50 [IQR]",
            &|m| match (m.rtt_p25_us, m.rtt_p75_us) {
                (Some(q1), Some(q3)) => format!("{} [{q1:.1}–{q3:.1}]", us_tenth(m.rtt_p50_us)),
                _ => us(m.rtt_p50_us),
            },
        ),
        row("echo RTT p99", &|m| us(m.rtt_p99_us)),
        row(
            "slow rounds (> 2 × own p10)",
            &|m| match (m.rtt_slow_share, m.rtt_slow_threshold_us) {
                (Some(share), Some(t)) => format!("{:.0} % (> {t:.1} µs)", share * 100.0),
                _ => "-".to_string(),
            },
        ),
        row("server work per echo", &|m| match m.server_work_us {
            Some(w) => format!("{w:.2} µs"),
            None => "-".to_string(),
        }),
        row(
            "per echo: bytes sent/recv",
            &|m| match (m.echo_bytes_sent, m.echo_bytes_received) {
                (Some(s), Some(r)) => format!("{s:.1} / {r:.1}"),
                _ => "-".to_string(),
            },
        ),
        row(
            "per echo: writes/reads",
            &|m| match (m.echo_writes, m.echo_reads) {
                (Some(w), Some(r)) => format!("{w:.1} / {r:.1}"),
                _ => "-".to_string(),
            },
        ),
        row(
            "masked client→srv / back",
            &|m| match m.masked_client_to_server {
                None => "-".to_string(),
                some => format!("{} / {}", yes_no(some), yes_no(m.masked_server_to_client)),
            },
        ),
        row("close on the wire", &|m| {
            // Built from what the close measured: the FINs seen, the close code read.
            let fins = match (m.fin_sent, m.fin_received) {
                (Some(true), Some(true)) => "FIN each way",
                (Some(true), Some(false)) => "our FIN, none back",
                (Some(false), Some(true)) => "their FIN only",
                (Some(false), Some(false)) => "no FIN",
                _ => return "nothing".to_string(), // udp: close() sends no packet
            };
            match (m.name.framing(), m.close_code) {
                (Framing::Messages, Some(code)) => format!("close {code}, {fins}"),
                (Framing::Messages, None) => format!("no close frame back, {fins}"),
                _ => fins.to_string(),
            }
        }),
        row("first FIN sent by", &|m| {
            m.first_fin.map_or("-".to_string(), |s| s.to_string())
        }),
        row("left in TIME_WAIT", &|m| {
            m.time_wait.map_or("-".to_string(), |s| s.to_string())
        }),
    ]
}

/// Whether this cell's received half counts TLS records that follow the
/// kernel's batching: the back-to-back sends' echoes come back in one record
/// per batch the server read, so the bytes vary between runs (--stable).
fn batched_over_tls(label: &str, m: &Measurement) -> bool {
    matches!(m.name, Scheme::Tls | Scheme::Wss)
        && matches!(label, "wire bytes sent/recv" | "overhead per message")
}

/// "81 / 37" → "81 / <bytes>"; "+22.0 / +7.3 B" → "+22.0 / <bytes>".
fn received_as_placeholder(cell: &str) -> String {
    match cell.split_once(" / ") {
        Some((sent, _)) => format!("{sent} / {}", stable::BYTES),
        None => cell.to_string(),
    }
}

/// The side-by-side table, readable in ten seconds.
pub fn render_table(c: &Comparison, style: Style) -> String {
    // Under --stable the cells get their placeholders before the columns are
    // measured, so the layout does not depend on the widths of vanished times.
    let rows: Vec<(String, Vec<String>)> = table_rows(c)
        .into_iter()
        .map(|(label, cells)| {
            let cells = cells
                .into_iter()
                .zip(&c.transports)
                .map(|(cell, m)| {
                    let cell = stable::cell(style.stable, cell);
                    if style.stable && batched_over_tls(&label, m) {
                        received_as_placeholder(&cell)
                    } else {
                        cell
                    }
                })
                .collect();
            (label, cells)
        })
        .collect();
    let label_width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let col_width = rows
        .iter()
        .flat_map(|(_, cells)| cells.iter().map(|c| c.chars().count()))
        .max()
        .unwrap_or(0)
        .max(4)
        + 2;
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
    let mut out = String::new();
    let mut head = pad("", label_width + 2);
    for m in &c.transports {
        head.push_str(&pad(m.name.name(), col_width));
    }
    let _ = writeln!(out, "{}", style.paint(Paint::Heading, head.trim_end()));
    for (label, cells) in rows {
        let mut line = pad(&label, label_width + 2);
        for cell in cells {
            line.push_str(&pad(&cell, col_width));
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(
        out,
        "{}",
        style.paint(
            Paint::Dim,
            format!(
                "message {} x{}; RTT: {} blocks on fresh connections, each {} timed round trips per transport after {} warm-up, every transport once per round in a seeded random order (seed {:#x}); wire bytes = what read()/write() moved (IP/TCP/UDP headers not counted)",
                quoted_short(c.message.as_bytes(), 32),
                c.count,
                c.blocks,
                c.rounds,
                c.warmup_rounds,
                c.seed
            )
        )
    );
    if let Some(d) = c.rtt_differences.first() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{}",
            style.paint(
                Paint::Heading,
                format!(
                    "RTT differences: per block, the {:.0} %-trimmed means' difference; their mean over {} blocks, {:.0} % bootstrap interval over blocks ({} resamples, seed {:#x}); 0 inside = within the noise. Slow round = over {SLOW_FACTOR} × the transport's p{FAST_PERCENTILE}; slow shares apart by more than their interval = wake-ups fell unevenly. A layer lower than the one it runs on = below this machine's noise:",
                    TRIM * 100.0,
                    d.blocks,
                    d.confidence * 100.0,
                    d.resamples,
                    d.seed
                )
            )
        );
        let lines = if style.stable {
            stable_difference_lines(c)
        } else {
            difference_lines(c)
        };
        for line in lines {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}
