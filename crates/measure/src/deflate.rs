//! `socklab compare --deflate`: what permessage-deflate (RFC 7692) does to the
//! bytes of a chat, measured on the wire — the same JSON chat message sent
//! again and again over three connections to one WebSocket echo server:
//! plain, compressed with context takeover (what a browser asks for), and
//! compressed with no context takeover either way (each message from an
//! empty window: what a server saves memory with).
//!
//! The first message shows what DEFLATE makes of one short JSON object on its
//! own; the repeats show context takeover at work — a message the window has
//! already seen costs a few bytes of back-references. Bytes are frame bytes
//! (header + payload) read from the Tap, so they are exact and repeat from run
//! to run; the server's own work per message is shown when the server runs in
//! this process (its work clock), as compare's table does.
//!
//! Try: `socklab compare --deflate --ws ws://127.0.0.1:8080/` against
//! `socklab serve ws --deflate`.

use std::fmt::Write as _;

use client::seeded::Seeded;
use client::transport::DeflateOffer;
use client::wire::ws_conversation;
use client::{Error, Style, Target, Transport, Trust};
use lifecycle::TapLog;
use serde::Serialize;
use tungstenite::protocol::frame::coding::OpCode;

use crate::compare::WorkProbe;

/// The chat message: one JSON object, as a chat page would send it.
pub const CHAT_MESSAGE: &str =
    r#"{"type":"message","room":"lobby","user":"ana","text":"hello, is anyone here?"}"#;

/// How many times each connection sends it (the first, then the repeats).
pub const DEFAULT_REPEATS: usize = 10;

/// What `compare --deflate` sends.
#[derive(Debug, Clone)]
pub struct DeflateScript {
    /// The message, sent `repeats` times on each connection.
    pub message: Vec<u8>,
    /// How many times (at least 2: the first, and one repeat).
    pub repeats: usize,
    /// The seed of every key and mask (so the client's bytes repeat too).
    pub seed: u64,
    /// Which certificates wss:// accepts.
    pub trust: Trust,
}

/// One connection's figures.
#[derive(Debug, Clone, Serialize)]
pub struct DeflateCase {
    /// plain, deflate, or deflate without context takeover.
    pub name: &'static str,
    /// What we offered in `Sec-WebSocket-Extensions` (none for plain).
    pub offered: Option<String>,
    /// What the 101 agreed (`None`: declined, or not offered).
    pub agreed: Option<String>,
    /// Frame bytes of the first message, client → server.
    pub first_sent: usize,
    /// Frame bytes of its echo, server → client.
    pub first_received: usize,
    /// Frame bytes of one repeat, client → server (the mean over the repeats).
    pub repeat_sent: f64,
    /// Frame bytes of one repeat's echo (the mean over the repeats).
    pub repeat_received: f64,
    /// The server's own work per message, µs, when it runs in this process:
    /// the median over [`WORK_BLOCKS`] blocks of [`WORK_MESSAGES`] messages,
    /// after the byte-counted ones.
    pub server_work_us: Option<f64>,
    /// The lowest and highest block's work per message, µs: the spread a
    /// difference between rows must pass to mean anything.
    pub server_work_range: Option<(f64, f64)>,
}

/// Blocks of messages the server's work is measured over (after the
/// byte-counted messages, on the same connection: contexts warm).
pub const WORK_BLOCKS: usize = 7;
/// Messages in one work block.
pub const WORK_MESSAGES: usize = 100;

/// The three connections' figures.
#[derive(Debug, Clone, Serialize)]
pub struct DeflateComparison {
    /// The server's URL.
    pub url: String,
    /// The message's own length, in bytes.
    pub message_len: usize,
    /// How many times each connection sent it.
    pub repeats: usize,
    /// plain, deflate, deflate without context takeover.
    pub cases: Vec<DeflateCase>,
}

/// The three ways a connection offers (or does not offer) compression.
const CASES: [(&str, Option<DeflateOffer>); 3] = [
    ("plain", None),
    (
        "deflate",
        Some(DeflateOffer {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
        }),
    ),
    (
        "deflate, no context takeover",
        Some(DeflateOffer {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
        }),
    ),
];

// ANCHOR: compare_deflate
/// Runs the script against the echo server at `url` three times (plain,
/// deflate, deflate without context takeover), reading the server's work
/// through `probe` when it runs in this process.
pub fn compare_deflate(
    url: &str,
    script: &DeflateScript,
    probe: Option<&WorkProbe>,
) -> Result<DeflateComparison, Error> {
    let mut target = Target::parse(url)?;
    target.trust = script.trust.clone();
    let mut cases = Vec::new();
    for (k, (name, offer)) in CASES.into_iter().enumerate() {
        let mut seeded = Seeded::stream(script.seed, k as u64);
        let key = seeded.key();
        let headers = [("Sec-WebSocket-Key", key.as_str())];
        let mut t = Transport::connect_offering(&target, TapLog::new(), &headers, offer)?;
        t.seed_masks(seeded);
        t.set_read_timeout(Some(crate::compare::ROUND_TIMEOUT))?;
        let agreed = t.deflate().map(|a| a.response());
        for _ in 0..script.repeats {
            t.send(&script.message)?;
            t.receive_bytes(script.message.len())?;
        }
        // The bytes are counted; the server's work per message comes from
        // blocks of further messages (one sample would be the machine's
        // wake-ups, not the compression).
        let log = t.log();
        let mut blocks = Vec::new();
        if let Some(p) = probe {
            for _ in 0..WORK_BLOCKS {
                let (n0, m0) = p();
                for _ in 0..WORK_MESSAGES {
                    t.send(&script.message)?;
                    t.receive_bytes(script.message.len())?;
                }
                let (n1, m1) = p();
                if m1 > m0 {
                    blocks.push(n1.saturating_sub(n0) as f64 / (m1 - m0) as f64 / 1e3);
                }
            }
        }
        blocks.sort_by(f64::total_cmp);
        let work = blocks.get(blocks.len() / 2).copied();
        let work_range = blocks.first().copied().zip(blocks.last().copied());
        t.close()?;
        let conv = ws_conversation(&log.records());
        let sizes = |frames: &client::wire::Frames| -> Vec<usize> {
            frames
                .frames
                .iter()
                .filter(|f| matches!(f.opcode, OpCode::Data(_)))
                .map(|f| f.wire_len())
                .collect()
        };
        let (sent, received) = (sizes(&conv.client), sizes(&conv.server));
        cases.push(DeflateCase {
            name,
            offered: offer.map(|o| o.header()),
            agreed,
            first_sent: sent.first().copied().unwrap_or(0),
            first_received: received.first().copied().unwrap_or(0),
            repeat_sent: mean(sent.get(1..).unwrap_or(&[])),
            repeat_received: mean(received.get(1..).unwrap_or(&[])),
            server_work_us: work,
            server_work_range: work_range,
        });
    }
    Ok(DeflateComparison {
        url: url.to_string(),
        message_len: script.message.len(),
        repeats: script.repeats,
        cases,
    })
}
// ANCHOR_END: compare_deflate

/// The mean of some sizes (0 for none).
fn mean(sizes: &[usize]) -> f64 {
    if sizes.is_empty() {
        0.0
    } else {
        sizes.iter().sum::<usize>() as f64 / sizes.len() as f64
    }
}

/// The comparison as a table, with what the server agreed to under it.
pub fn render_deflate(c: &DeflateComparison, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        style.paint(
            client::style::Paint::Heading,
            format!(
                "permessage-deflate: one {}-byte JSON chat message, sent {} times on each connection to {}",
                c.message_len, c.repeats, c.url
            )
        )
    );
    let _ = writeln!(
        out,
        "  frame bytes (header + payload) per message; → client to server (masked), ← the echo\n"
    );
    let header = [
        "connection",
        "1st →",
        "1st ←",
        "repeat →",
        "repeat ←",
        "server work/msg [range]",
    ];
    let rows: Vec<[String; 6]> = c
        .cases
        .iter()
        .map(|case| {
            [
                case.name.to_string(),
                case.first_sent.to_string(),
                case.first_received.to_string(),
                format!("{:.1}", case.repeat_sent),
                format!("{:.1}", case.repeat_received),
                match (case.server_work_us, case.server_work_range) {
                    (Some(us), Some((lo, hi))) => format!("{us:.1} µs [{lo:.1}–{hi:.1}]"),
                    _ => "n/a (not in process)".to_string(),
                },
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| -> String {
        let mut l = String::from(" ");
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            if i == 0 {
                let _ = write!(l, " {cell}{}", " ".repeat(pad));
            } else {
                let _ = write!(l, "  {}{cell}", " ".repeat(pad));
            }
        }
        l
    };
    let _ = writeln!(out, "{}", line(header.to_vec()));
    for r in &rows {
        let _ = writeln!(out, "{}", line(r.iter().map(String::as_str).collect()));
    }
    let _ = writeln!(out);
    if c.cases.iter().any(|case| case.server_work_us.is_some()) {
        let _ = writeln!(
            out,
            "  server work: the median of {WORK_BLOCKS} blocks of {WORK_MESSAGES} more messages on each connection [lowest–highest block];\n  \
             rows whose ranges overlap differ by less than this machine's noise\n"
        );
    }
    for case in &c.cases {
        match (&case.offered, &case.agreed) {
            (None, _) => {}
            (Some(offer), Some(agreed)) => {
                let _ = writeln!(
                    out,
                    "  {}: offered \"{offer}\", agreed \"{agreed}\"",
                    case.name
                );
            }
            (Some(offer), None) => {
                let _ = writeln!(
                    out,
                    "  {}: offered \"{offer}\", declined by the server: sent uncompressed",
                    case.name
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table: one row per connection, exact bytes, the agreement under it.
    #[test]
    fn renders_every_case_and_the_agreement() {
        let case = |name, agreed: Option<&str>, first, repeat| DeflateCase {
            name,
            offered: (name != "plain").then(|| "permessage-deflate; client_max_window_bits".into()),
            agreed: agreed.map(str::to_string),
            first_sent: first,
            first_received: first - 4,
            repeat_sent: repeat,
            repeat_received: repeat - 4.0,
            server_work_us: None,
            server_work_range: None,
        };
        let c = DeflateComparison {
            url: "ws://127.0.0.1:8080/".into(),
            message_len: 78,
            repeats: 10,
            cases: vec![
                case("plain", None, 84, 84.0),
                case("deflate", Some("permessage-deflate"), 76, 11.0),
            ],
        };
        let text = render_deflate(&c, Style::PLAIN);
        assert!(
            text.contains("  plain          84     80      84.0      80.0"),
            "{text}"
        );
        assert!(
            text.contains("  deflate        76     72      11.0       7.0"),
            "{text}"
        );
        assert!(
            text.contains("deflate: offered \"permessage-deflate; client_max_window_bits\", agreed \"permessage-deflate\""),
            "{text}"
        );
    }
}
