//! `socketio-plain-ws.svg`: a plain WebSocket client meets a socket.io server —
//! the 101, Engine.IO's open packet `0{…}`, its ping `2` that no pong answers,
//! and the server's close. A socket.io server (node) cannot run inside
//! `socklab diagram`, so this picture is drawn from the transcript a real run
//! wrote (`socklab send … --listen 3 --wire` against npm socket.io, by
//! scripts/socketio.sh: docs/generated/sio-plain-ws.txt), and its caption says so.
//!
//! The transcript is the wire view's text; [`transcript_rows`] reads back the
//! few lines it needs (each frame's heading, its payload and Engine.IO lines,
//! the FIN), and is a pure function, tested on the committed transcript.

use std::time::Duration;

use super::sequence::Row;

/// The start of a frame's heading in the wire view: `client → server  frame, …`.
const FRAME: &str = "  frame, in ";

/// `… at 313.856 ms …` → 313.856 ms.
fn at_ms(line: &str) -> Option<Duration> {
    let rest = &line[line.find(" at ")? + 4..];
    let ms: f64 = rest.split(" ms").next()?.trim().parse().ok()?;
    Some(Duration::from_secs_f64(ms / 1e3))
}

/// `… read() #2 at … (105 bytes: …` → 105 (the last parenthesis).
fn bytes(line: &str) -> Option<usize> {
    let rest = &line[line.rfind('(')? + 1..];
    rest.split(" bytes").next()?.parse().ok()
}

/// What the transcript says in one frame's lines, for its arrow's label.
#[derive(Default)]
struct Frame {
    to_server: bool,
    at: Option<Duration>,
    bytes: usize,
    opcode: String,
    payload: String,
    engine_io: String,
}

impl Frame {
    fn row(self) -> Row {
        let mut label = format!("{} {}: {} B", self.opcode, self.payload, self.bytes);
        if !self.engine_io.is_empty() {
            label.push_str(&format!(" — Engine.IO {}", self.engine_io));
        }
        Row::Arrow {
            at: self.at,
            to_server: self.to_server,
            label,
        }
    }
}

/// The rows of the picture, read from a `send --wire` transcript: the Upgrade
/// and its 101, every frame either way with its Engine.IO meaning, the FIN.
pub(super) fn transcript_rows(text: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut frame: Option<Frame> = None;
    let mut request = String::new();
    // `connected: tcp … in 7379 µs`: connect() returned with the 101 read.
    let mut connected = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(rest) = line.strip_prefix("connected: ") {
            let us = rest
                .rsplit(" in ")
                .next()
                .and_then(|t| t.strip_suffix(" µs"));
            connected = us
                .and_then(|us| us.parse::<f64>().ok())
                .map(|us| Duration::from_secs_f64(us / 1e6));
        } else if line.starts_with("client → server: HTTP Upgrade request") {
            request = format!("{} B", bytes(line).unwrap_or(0));
        } else if line.starts_with("  GET ") && !request.is_empty() {
            // `GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n`: the target.
            let target = trimmed.split(' ').nth(1).unwrap_or("");
            rows.push(Row::Arrow {
                at: None,
                to_server: true,
                label: format!("GET {target} + Upgrade: {request}"),
            });
            request.clear();
        } else if line.starts_with("server → client: HTTP response") {
            rows.push(Row::Arrow {
                at: connected,
                to_server: false,
                label: format!("101 Switching Protocols: {} B", bytes(line).unwrap_or(0)),
            });
        } else if line.contains(FRAME) {
            rows.extend(frame.take().map(Frame::row));
            frame = Some(Frame {
                to_server: line.starts_with("client"),
                at: at_ms(line),
                bytes: bytes(line).unwrap_or(0),
                ..Frame::default()
            });
        } else if let Some(f) = frame.as_mut() {
            if let Some(op) = trimmed.split("opcode=0x").nth(1) {
                f.opcode = op.split(' ').nth(1).unwrap_or("").to_string();
            } else if let Some(payload) = trimmed.strip_prefix("payload") {
                // The quoted form after the hex, cut short: `"0{\"sid\":…"…`.
                let quoted = payload.find('"').map_or("", |i| &payload[i..]);
                let end = quoted.find("  ").unwrap_or(quoted.len());
                f.payload = shorten(&quoted[..end]);
            } else if let Some(meaning) = trimmed.strip_prefix("engine.io") {
                f.engine_io = meaning.split(':').next().unwrap_or("").trim().to_string();
            } else if trimmed.starts_with("= plain") && f.payload.is_empty() {
                f.payload = "\"\"".to_string();
            }
        }
        if line.starts_with("read() = 0 at ") {
            rows.extend(frame.take().map(Frame::row));
            rows.push(Row::Arrow {
                at: at_ms(line),
                to_server: false,
                label: "FIN: the server ends the connection".to_string(),
            });
        }
    }
    rows.extend(frame.map(Frame::row));
    rows
}

/// At most a few characters of a quoted payload, marked when cut.
fn shorten(quoted: &str) -> String {
    const MAX: usize = 14;
    if quoted.chars().count() <= MAX {
        quoted.to_string()
    } else {
        format!("{}…\"", quoted.chars().take(MAX).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed transcript gives the picture the docs describe: the
    /// Upgrade and the 101, the open packet, the ping, the server's close, our
    /// close, the FIN — in that order, with the transcript's times.
    #[test]
    fn the_committed_transcript_reads_back() {
        let text = include_str!("../../../../docs/generated/sio-plain-ws.txt");
        let labels: Vec<(bool, String)> = transcript_rows(text)
            .into_iter()
            .map(|row| match row {
                Row::Arrow {
                    to_server, label, ..
                } => (to_server, label),
                _ => (false, String::new()),
            })
            .collect();
        let starts: Vec<&str> = labels
            .iter()
            .map(|(_, l)| l.split([' ', ':']).next().unwrap_or(""))
            .collect();
        assert_eq!(
            starts,
            ["GET", "101", "TEXT", "TEXT", "CLOSE", "CLOSE", "FIN"],
            "{labels:?}"
        );
        assert!(labels[2].1.contains("Engine.IO 0 open"), "{labels:?}");
        assert!(
            labels[3].1.contains("\"2\": 3 B — Engine.IO 2 ping"),
            "{labels:?}"
        );
        assert_eq!(
            labels.iter().map(|(to, _)| *to).collect::<Vec<_>>(),
            [true, false, false, false, false, true, false]
        );
    }

    /// Times are read as the wire view prints them.
    #[test]
    fn times_and_sizes_parse() {
        let line =
            "server → client  frame, in read() #3 at 313.856 ms (3 bytes: 2 header + 1 payload)";
        assert_eq!(at_ms(line), Some(Duration::from_micros(313_856)));
        assert_eq!(bytes(line), Some(3));
    }
}
