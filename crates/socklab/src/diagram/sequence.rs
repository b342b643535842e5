//! The sequence diagrams: client and server lifelines, one row per step, with
//! the measured time of each (`tcp-lifecycle.svg`, `ws-exchange.svg`).

use std::time::Duration;

use client::wire::{FrameView, opcode_name, quoted_short, ws_conversation};
use client::{Incoming, Transport};
use socklab::svg::{Anchor, Svg};

use super::WIDTH;
use crate::tour::{Snapshot, Step};

/// The message the WebSocket exchange sends.
const MESSAGE: &str = "hello";

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

/// One row of a sequence diagram.
pub(super) enum Row {
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

/// Milliseconds with three decimals: loopback steps take microseconds.
fn ms(at: Duration) -> String {
    format!("{:.3} ms", at.as_secs_f64() * 1e3)
}

/// The TCP walk as rows: the segments each kind of step sends (from TCP's rules),
/// with the time and the states measured after it.
pub(super) fn tcp_rows(steps: &[Snapshot]) -> Vec<Row> {
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
/// With `seed`, the client's key and masks come from it (`--seed`).
pub(super) fn ws_rows(
    url: &str,
    seed: Option<u64>,
) -> anyhow::Result<(Vec<Row>, &'static str, &'static str)> {
    let target = client::Target::parse(url)?;
    let mut ws = match seed {
        Some(seed) => Transport::connect_seeded(&target, client::seeded::Seeded::new(seed))?,
        None => Transport::connect_to(&target)?,
    };
    let log = ws.log();
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
pub(super) fn sequence(title: &str, caption: &str, rows: &[Row]) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A long caption wraps at spaces into lines that fit the picture, losing no word.
    #[test]
    fn captions_wrap_to_the_width() {
        let text = "word ".repeat(60);
        let lines = wrap(&text, CAPTION_CHARS);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.chars().count() <= CAPTION_CHARS));
        assert_eq!(lines.join(" "), text.trim_end());
    }
}
