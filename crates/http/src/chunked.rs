//! The chunked transfer coding (RFC 9112 §7.1), decoded: a body sent in pieces,
//! each preceded by its size in hex, ended by a piece of size 0.
//!
//! ```text
//! 5\r\nhello\r\n   a chunk: its size (hex), CRLF, that many bytes, CRLF
//! 0\r\n           the last chunk
//! \r\n            no trailer fields: the body is over
//! ```
//!
//! Every HTTP/1.1 recipient must be able to read it (§6.1), even one that takes
//! small bodies only: it is how a client sends a body whose size it does not
//! know in advance. Pure, like the head parser: call again with more bytes on
//! [`Parsed::Incomplete`]. Chunk extensions (`5;name=value`) are read and
//! ignored, as the RFC allows; trailer fields are skipped.

use crate::{HeadError, MAX_HEAD, Parsed};

/// The longest chunk-size line (size, extensions) or trailer line read: a
/// peer cannot make us buffer a line without end.
const MAX_LINE: usize = 1024;

/// A decoded chunked body: its bytes, and how many bytes of the input it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The body, chunks joined.
    pub data: Vec<u8>,
    /// Bytes of the input it took, last chunk and trailers included.
    pub consumed: usize,
}

/// Decodes the chunked body at the start of `bytes`, taking at most `max` bytes
/// of data (more is [`HeadError::BodyTooLarge`]: 413).
pub fn decode(bytes: &[u8], max: usize) -> Result<Parsed<Decoded>, HeadError> {
    let mut data = Vec::new();
    let mut at = 0;
    loop {
        let Some(line) = line(bytes, at)? else {
            return Ok(Parsed::Incomplete);
        };
        let text = String::from_utf8_lossy(&bytes[at..at + line]);
        at += line + 2;
        // chunk-size [ BWS ";" chunk-ext ]: the extensions mean nothing to us.
        let size = text.split(';').next().unwrap_or_default().trim_end();
        let size = parse_size(size).ok_or_else(|| {
            HeadError::BadChunk(format!("chunk size {size:?} is not a hex number"))
        })?;
        if size == 0 {
            return trailers(bytes, at, data);
        }
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if size > max.saturating_sub(data.len()) {
            return Err(HeadError::BodyTooLarge {
                len: (data.len() as u64).saturating_add(size as u64),
                max,
            });
        }
        // The chunk's bytes, then its CRLF.
        let Some(end) = at.checked_add(size) else {
            return Err(HeadError::BadChunk("chunk size overflows".into()));
        };
        if bytes.len() < end + 2 {
            return Ok(Parsed::Incomplete);
        }
        if &bytes[end..end + 2] != b"\r\n" {
            return Err(HeadError::BadChunk(format!(
                "a chunk of {size} bytes is not followed by CRLF"
            )));
        }
        data.extend_from_slice(&bytes[at..end]);
        at = end + 2;
    }
}

/// The trailer section after the last chunk: field lines, then an empty line.
fn trailers(bytes: &[u8], mut at: usize, data: Vec<u8>) -> Result<Parsed<Decoded>, HeadError> {
    let start = at;
    loop {
        let Some(line) = line(bytes, at)? else {
            return Ok(Parsed::Incomplete);
        };
        at += line + 2;
        if line == 0 {
            return Ok(Parsed::Complete(Decoded { data, consumed: at }));
        }
        if at - start > MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
    }
}

/// The length of the CRLF-ended line starting at `at` (CRLF not counted), or
/// `None` if its end has not arrived.
fn line(bytes: &[u8], at: usize) -> Result<Option<usize>, HeadError> {
    let rest = &bytes[at.min(bytes.len())..];
    match rest.iter().take(MAX_LINE + 2).position(|&b| b == b'\n') {
        Some(0) => Err(HeadError::Framing(crate::Framing::BareLf)),
        Some(n) if rest[n - 1] != b'\r' => Err(HeadError::Framing(crate::Framing::BareLf)),
        Some(n) => Ok(Some(n - 1)),
        None if rest.len() > MAX_LINE => Err(HeadError::BadChunk(format!(
            "a chunk line over {MAX_LINE} bytes"
        ))),
        None => Ok(None),
    }
}

/// `1*HEXDIG` that fits in a u64.
fn parse_size(size: &str) -> Option<u64> {
    if size.is_empty() || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(size, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(bytes: &[u8]) -> Decoded {
        match decode(bytes, 100) {
            Ok(Parsed::Complete(d)) => d,
            other => panic!("{other:?}"),
        }
    }

    /// Chunks joined, extensions ignored, trailers skipped, the rest left alone.
    #[test]
    fn decodes_chunks() {
        let body = b"5\r\nhello\r\n1;x=y\r\n!\r\n0\r\n\r\nGET /next";
        let d = complete(body);
        assert_eq!(d.data, b"hello!");
        assert_eq!(&body[d.consumed..], b"GET /next");
        let d = complete(b"0\r\nX-T: 1\r\n\r\n");
        assert_eq!((d.data.len(), d.consumed), (0, 13));
    }

    /// Every prefix of a body is Incomplete.
    #[test]
    fn every_prefix_is_incomplete() {
        let body = b"5\r\nhello\r\n0\r\n\r\n";
        for cut in 0..body.len() {
            assert_eq!(decode(&body[..cut], 100), Ok(Parsed::Incomplete), "{cut}");
        }
    }

    /// Bad sizes, a missing CRLF, bare LF and too much data are refused.
    #[test]
    fn refusals() {
        for bad in [&b"x\r\n"[..], b"\r\n", b"+5\r\n", b"5\r\nhelloXX"] {
            let e = decode(bad, 100).unwrap_err();
            assert!(matches!(e, HeadError::BadChunk(_)), "{bad:?}: {e:?}");
            assert_eq!(e.status(), 400);
        }
        let e = decode(b"5\nhello", 100).unwrap_err();
        assert_eq!(e, HeadError::Framing(crate::Framing::BareLf));
        let e = decode(b"65\r\n", 100).unwrap_err();
        assert_eq!(e, HeadError::BodyTooLarge { len: 101, max: 100 });
        assert_eq!(e.status(), 413);
        let e = decode(b"ffffffffffffffffff\r\n", 100).unwrap_err();
        assert!(matches!(e, HeadError::BadChunk(_)), "{e:?}");
    }
}
