//! `push-techniques.svg`: short polling, long polling, SSE and WebSocket
//! receiving the same events from one push server, measured: every request the
//! client wrote and every answer, event or frame it read, with its time.
//!
//! The four clients listen at once (measure::push::conversation, one thread
//! each) to a push server in this process that publishes [`RATE`] events a
//! second; each section of the picture is one client's Tap, on its own clock.
//! Read it for who speaks when: polling asks again and again, mostly for
//! nothing; long polling asks once per event; SSE and WebSocket ask once and
//! then only receive.

use std::thread;

use anyhow::Context as _;
use lifecycle::Direction;
use lifecycle::narrate::plural;
use lifecycle::tap::Record;
use measure::push::{Technique, conversation};

use super::sequence::Row;

/// Events per second the push server publishes while the clients listen.
pub(super) const RATE: f64 = 2.0;

/// How long each client listens, in seconds: long enough for a few events,
/// short enough that short polling's rows fit the picture.
pub(super) const LISTEN_SECS: f64 = 1.3;

/// The four techniques drawn (streaming is SSE without its event format and
/// its cursor: the same picture).
const DRAWN: [Technique; 4] = [
    Technique::Poll,
    Technique::LongPoll,
    Technique::Sse,
    Technique::WebSocket,
];

/// The longest label text taken from the bytes themselves.
const LABEL_CHARS: usize = 40;

/// Starts a push server, lets the four clients listen at once, and returns
/// the diagram's rows: a heading per technique, then its records in order.
pub(super) fn push_rows() -> anyhow::Result<Vec<Row>> {
    let server = socklab::servers::push_server(RATE)?;
    let addr = server.addr();
    let clients: Vec<_> = DRAWN
        .iter()
        .map(|&t| thread::spawn(move || (t, conversation(t, addr, LISTEN_SECS))))
        .collect();
    let mut rows = Vec::new();
    for client in clients {
        let (t, records) = client
            .join()
            .map_err(|_| anyhow::anyhow!("a push client panicked"))?;
        let records = records.with_context(|| format!("the {} client", t.name()))?;
        rows.push(Row::Note {
            at: None,
            text: format!(
                "{}: {}, {}",
                t.name(),
                plural(count(&records, Direction::Sent), "write"),
                plural(count(&records, Direction::Received), "read")
            ),
        });
        rows.extend(records.iter().map(record_row));
    }
    Ok(rows)
}

fn count(records: &[Record], dir: Direction) -> usize {
    records.iter().filter(|r| r.dir == dir).count()
}

/// One write() or read() as an arrow, labelled from its own bytes.
fn record_row(r: &Record) -> Row {
    Row::Arrow {
        at: Some(r.at),
        to_server: r.dir == Direction::Sent,
        label: format!("{} ({} B)", describe(&r.bytes), r.bytes.len()),
    }
}

/// What a record's bytes are, in a few words: an HTTP request or status line
/// (with a short body: `[]` is an empty poll), an SSE event, a WebSocket frame.
pub(super) fn describe(bytes: &[u8]) -> String {
    // A WebSocket frame from the server: FIN + text/close, unmasked.
    match bytes.first() {
        Some(0x81) if bytes.len() >= 2 && bytes[1] < 126 => {
            let payload = String::from_utf8_lossy(&bytes[2..]);
            return format!("text frame {}", cut(&payload));
        }
        Some(0x88) => return "close frame".to_string(),
        _ => {}
    }
    let text = String::from_utf8_lossy(bytes);
    let first = text.lines().next().unwrap_or("");
    if let Some(request) = first.strip_suffix(" HTTP/1.1") {
        return cut(request);
    }
    if first.starts_with("HTTP/1.1 ") {
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("").trim();
        return if body.is_empty() || body.len() > 8 {
            cut(first)
        } else {
            format!("{first}, body {body}")
        };
    }
    // A chunk of a stream or an SSE event: its first meaningful line.
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("data:") || l.starts_with("id:"))
        .unwrap_or(first);
    cut(line)
}

/// At most [`LABEL_CHARS`] characters, marked when cut.
fn cut(text: &str) -> String {
    if text.chars().count() <= LABEL_CHARS {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(LABEL_CHARS).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kind of record is named by what it is.
    #[test]
    fn records_are_described_by_their_bytes() {
        assert_eq!(
            describe(b"GET /poll?since=3 HTTP/1.1\r\nHost: x\r\n\r\n"),
            "GET /poll?since=3"
        );
        assert_eq!(
            describe(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]"),
            "HTTP/1.1 200 OK, body []"
        );
        assert_eq!(describe(b"id: 4\ndata: {}\n\n"), "id: 4");
        assert_eq!(describe(b"\x81\x02hi"), "text frame hi");
        assert_eq!(describe(b"\x88\x00"), "close frame");
    }
}
