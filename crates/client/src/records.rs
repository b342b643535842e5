//! TLS records as an observer on the path reads them, from the wire Tap: each
//! record's direction, content type, version and length. Pure, no socket.
//!
//! This is everything a middlebox sees of tls:// and wss:// after the
//! handshake: records of type application_data (0x17) and version 0x0303,
//! whatever is inside. The endpoints see the plaintext (the other Tap): the
//! Upgrade, the frames, the echo.

use lifecycle::Direction;
use lifecycle::tap::Record;

use crate::style::{Paint, Style};
use crate::transport::Side;

/// One TLS record on the wire.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TlsRecord {
    /// Who sent it.
    pub from: Side,
    /// Content type: 20 change_cipher_spec, 21 alert, 22 handshake, 23 application_data.
    pub content_type: u8,
    /// Its name in RFC 8446.
    pub type_name: &'static str,
    /// The record's legacy version field, as hex (`0x0303`).
    pub version: String,
    /// Bytes of the body after the 5-byte header.
    pub length: usize,
}

/// The RFC's name for a content type.
pub fn type_name(content_type: u8) -> &'static str {
    match content_type {
        0x14 => "change_cipher_spec",
        0x15 => "alert",
        0x16 => "handshake",
        0x17 => "application_data",
        _ => "unknown",
    }
}

/// Every whole record in the recorded bytes, each direction read as one
/// stream (a record may span reads; several may share one), in the order
/// their first byte was recorded.
pub fn tls_records(records: &[Record]) -> Vec<TlsRecord> {
    let mut out: Vec<(usize, TlsRecord)> = Vec::new();
    for dir in [Direction::Sent, Direction::Received] {
        // The stream of this direction, and where each I/O record began in it.
        let mut stream = Vec::new();
        let mut starts = Vec::new();
        for (i, r) in records.iter().enumerate().filter(|(_, r)| r.dir == dir) {
            starts.push((stream.len(), i));
            stream.extend_from_slice(&r.bytes);
        }
        let mut at = 0;
        while let Some(h) = stream.get(at..at + 5) {
            let length = u16::from_be_bytes([h[3], h[4]]) as usize;
            let index = starts
                .iter()
                .rev()
                .find(|(offset, _)| *offset <= at)
                .map_or(0, |(_, i)| *i);
            out.push((
                index,
                TlsRecord {
                    from: match dir {
                        Direction::Sent => Side::Client,
                        Direction::Received => Side::Server,
                    },
                    content_type: h[0],
                    type_name: type_name(h[0]),
                    version: format!("0x{:02x}{:02x}", h[1], h[2]),
                    length,
                },
            ));
            at += 5 + length;
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// The records as lines: what a middlebox sees.
pub fn render_tls(records: &[Record], style: Style) -> String {
    let mut s = String::from(
        "TLS records on the wire (what an observer sees; the lines above are inside them):\n",
    );
    for r in tls_records(records) {
        let arrow = match r.from {
            Side::Client => "→",
            Side::Server => "←",
        };
        s.push_str(&format!(
            "  {arrow} {:<18} version {}  5 header + {:>5} body\n",
            style.paint(Paint::Header, r.type_name),
            r.version,
            r.length
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn rec(dir: Direction, bytes: &[u8]) -> Record {
        Record {
            dir,
            at: Duration::ZERO,
            bytes: bytes.to_vec(),
        }
    }

    /// A record split across two reads is one record; two in one write are two.
    #[test]
    fn records_across_reads() {
        let records = [
            rec(Direction::Sent, &[0x16, 3, 1, 0, 1, 9, 0x17, 3, 3, 0, 0]),
            rec(Direction::Received, &[0x17, 3, 3, 0, 3, 1]),
            rec(Direction::Received, &[2, 3]),
        ];
        let got = tls_records(&records);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].type_name, "handshake");
        assert_eq!(got[0].version, "0x0301");
        assert_eq!(got[2].from, Side::Server);
        assert_eq!(got[2].length, 3);
    }
}
