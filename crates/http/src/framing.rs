//! Where a request ends (RFC 9112 §6): the rules that decide which bytes are this
//! request's body and which are the next request.
//!
//! This is where request smuggling lives. Two servers in a chain (a proxy and the
//! server behind it) that disagree about where a body ends see different
//! requests in the same bytes: `Content-Length: 5` then `Content-Length: 50`, and
//! one takes 5 bytes while the other takes 50 — the rest runs as a request the
//! first one never checked. So every rule here refuses what is ambiguous instead
//! of picking one reading, with a 400 and a closed connection (the bytes after a
//! refused head cannot be trusted to start a request):
//!
//! - `Transfer-Encoding` together with `Content-Length`: 400 (§6.1 lets a server
//!   reject it; §6.3 rule 3 calls it a likely smuggling attempt).
//! - `Transfer-Encoding` whose last coding is not `chunked`: 400 (§6.3 rule 4:
//!   the body's length cannot be known). `chunked` given twice: 400 (§7.1).
//!   Another coding before `chunked` (`gzip, chunked`): 501 Not Implemented (§6.1:
//!   a coding the server does not understand SHOULD get 501). Any on HTTP/1.0:
//!   400 (§6.1: the framing is faulty).
//! - `Content-Length` other than one run of digits: 400 (§6.3 rule 5) — `+5`,
//!   `-1`, `5 5`, `0x5`, empty, too big for 64 bits. Given twice, even with the
//!   same value (`5` and `5`, or `5, 5`): 400. RFC 9110 §8.6 *allows* accepting
//!   identical copies; we do not, so the rule has no exception to get wrong.
//! - A line ending in a bare LF instead of CRLF: 400. RFC 9112 §2.2 lets a
//!   server accept it, but then a bare LF inside a header value means different
//!   things to different servers. Its reason names the fix: someone typing HTTP
//!   into `nc` by hand sends bare LFs unless they use `ncat -C` (or `nc -C`).

use std::fmt;

use crate::headers::Headers;
use crate::request::Version;

/// How the body of a request is framed, once the head passed every rule above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// No body: neither header, or `Content-Length: 0`.
    None,
    /// Exactly this many bytes follow the head.
    Length(u64),
    /// `Transfer-Encoding: chunked`: chunks until a zero-size one ([`crate::chunked`]).
    Chunked,
}

/// Why a request's framing is refused. Each knows its status ([`Framing::status`]);
/// every one of them closes the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// A line of the head ends in `\n` without the `\r` before it.
    BareLf,
    /// Both `Transfer-Encoding` and `Content-Length`.
    LengthAndEncoding,
    /// `Transfer-Encoding` whose last coding is not `chunked` (or empty, or
    /// `chunked` twice): the body's end cannot be known.
    ChunkedNotLast(String),
    /// A coding this server does not decode before `chunked` (501).
    UnknownCoding(String),
    /// `Transfer-Encoding` on an HTTP/1.0 request.
    EncodingOnHttp10,
    /// `Content-Length` given more than once (lines or list items).
    SeveralLengths(usize),
    /// A `Content-Length` that is not one number of digits that fits in 64 bits.
    BadLength(String),
}

impl Framing {
    /// 501 for a transfer coding we do not know (RFC 9112 §6.1), 400 for the rest.
    pub fn status(&self) -> u16 {
        match self {
            Framing::UnknownCoding(_) => 501,
            _ => 400,
        }
    }
}

// ANCHOR: bare_lf_reason
impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Framing::BareLf => f.write_str(
                "a line ended in a bare LF: HTTP lines end in CRLF (\\r\\n). Typing HTTP by hand? \
                 use `ncat -C` (or `nc -C`), which sends CRLF when you press Enter",
            ),
            Framing::LengthAndEncoding => f.write_str(
                "Transfer-Encoding and Content-Length together: which one ends the body? \
                 (RFC 9112 §6.1; send one of them)",
            ),
            Framing::ChunkedNotLast(te) => write!(
                f,
                "Transfer-Encoding: {te}: the last coding must be chunked, once, or the body's \
                 end cannot be known (RFC 9112 §6.3)"
            ),
            Framing::UnknownCoding(coding) => write!(
                f,
                "transfer coding {coding:?} is not implemented here: only chunked \
                 (RFC 9112 §6.1)"
            ),
            Framing::EncodingOnHttp10 => f.write_str(
                "Transfer-Encoding on an HTTP/1.0 request: HTTP/1.0 has no transfer codings, \
                 so the framing is faulty (RFC 9112 §6.1)",
            ),
            Framing::SeveralLengths(n) => write!(
                f,
                "Content-Length given {n} times: a request has one length (even identical \
                 copies are refused here: RFC 9112 §6.3)"
            ),
            Framing::BadLength(v) => write!(
                f,
                "Content-Length: {v:?} is not a length: one run of digits 0-9, no sign, no \
                 spaces, no hex (RFC 9112 §6.3)"
            ),
        }
    }
}
// ANCHOR_END: bare_lf_reason

/// The offset of the first bare LF (an `\n` without `\r` before it) in `head`.
pub fn bare_lf(head: &[u8]) -> Option<usize> {
    head.iter()
        .enumerate()
        .find(|&(i, &b)| b == b'\n' && (i == 0 || head[i - 1] != b'\r'))
        .map(|(i, _)| i)
}

// ANCHOR: body_framing
/// How the body of a request with these headers is framed (RFC 9112 §6.3), or
/// why the request must be refused.
pub fn body_framing(version: Version, headers: &Headers) -> Result<Body, Framing> {
    // Every Content-Length value: one per line, and a line may be a list ("5, 5").
    let lengths: Vec<&str> = headers
        .get_all("content-length")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    if headers.count("transfer-encoding") > 0 {
        if !lengths.is_empty() {
            return Err(Framing::LengthAndEncoding);
        }
        if version == Version::Http10 {
            return Err(Framing::EncodingOnHttp10);
        }
        let all: Vec<&str> = headers.get_all("transfer-encoding").collect();
        let te = all.join(", ");
        let codings: Vec<String> = te
            .split(',')
            .map(|c| c.trim().to_ascii_lowercase())
            .collect();
        let chunked = codings.iter().filter(|c| *c == "chunked").count();
        if codings.last().map(String::as_str) != Some("chunked") || chunked != 1 {
            return Err(Framing::ChunkedNotLast(te));
        }
        // `chunked` is last and once: anything before it is a coding we would
        // have to undo (gzip, deflate), and we decode none.
        if let Some(other) = codings.iter().find(|c| *c != "chunked") {
            return Err(Framing::UnknownCoding(other.clone()));
        }
        return Ok(Body::Chunked);
    }
    match lengths.as_slice() {
        [] => Ok(Body::None),
        [one] => match parse_length(one) {
            Some(0) => Ok(Body::None),
            Some(n) => Ok(Body::Length(n)),
            None => Err(Framing::BadLength(one.to_string())),
        },
        several => Err(Framing::SeveralLengths(several.len())),
    }
}
// ANCHOR_END: body_framing

/// `1*DIGIT` (RFC 9110 §8.6) that fits in a u64. `str::parse` alone would take `+5`.
fn parse_length(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::Header;
    use crate::{HeadError, Parsed, RequestHead, parse_request};

    fn framing(lines: &[(&str, &str)]) -> Result<Body, Framing> {
        framing_of(Version::Http11, lines)
    }

    fn framing_of(version: Version, lines: &[(&str, &str)]) -> Result<Body, Framing> {
        let headers = Headers(
            lines
                .iter()
                .map(|(name, value)| Header {
                    name: name.to_string(),
                    value: value.to_string(),
                })
                .collect(),
        );
        body_framing(version, &headers)
    }

    /// The accepted shapes: none, a length (0 is none), chunked alone.
    #[test]
    fn accepted_framings() {
        assert_eq!(framing(&[]), Ok(Body::None));
        assert_eq!(framing(&[("Content-Length", "0")]), Ok(Body::None));
        assert_eq!(framing(&[("content-length", "5")]), Ok(Body::Length(5)));
        assert_eq!(framing(&[("Content-Length", "005")]), Ok(Body::Length(5)));
        assert_eq!(
            framing(&[("Transfer-Encoding", "Chunked")]),
            Ok(Body::Chunked)
        );
    }

    /// Smuggling's classic: Transfer-Encoding beside Content-Length is refused.
    #[test]
    fn encoding_with_length_is_400() {
        let e = framing(&[("Content-Length", "5"), ("Transfer-Encoding", "chunked")]);
        assert_eq!(e, Err(Framing::LengthAndEncoding));
        assert_eq!(Framing::LengthAndEncoding.status(), 400);
    }

    /// Codings: chunked must be last and once (400); one we do not know before
    /// it is 501; any on HTTP/1.0 is 400.
    #[test]
    fn transfer_codings() {
        let te = |v: &str| framing(&[("Transfer-Encoding", v)]);
        for bad in ["gzip", "chunked, gzip", "chunked, chunked", "", "identity"] {
            assert_eq!(te(bad), Err(Framing::ChunkedNotLast(bad.into())), "{bad:?}");
        }
        let e = te("gzip, chunked").unwrap_err();
        assert_eq!(e, Framing::UnknownCoding("gzip".into()));
        assert_eq!(e.status(), 501);
        // Two lines are one list: "gzip" then "chunked".
        let two = framing(&[
            ("Transfer-Encoding", "gzip"),
            ("Transfer-Encoding", "chunked"),
        ]);
        assert_eq!(two, Err(Framing::UnknownCoding("gzip".into())));
        let old = framing_of(Version::Http10, &[("Transfer-Encoding", "chunked")]);
        assert_eq!(old, Err(Framing::EncodingOnHttp10));
    }

    /// One Content-Length, digits only: every other shape is 400 with its value.
    #[test]
    fn content_length_values() {
        for bad in [
            "+5",
            "-1",
            "5 5",
            "0x5",
            "",
            "5.0",
            " ",
            "18446744073709551616",
        ] {
            let e = framing(&[("Content-Length", bad)]).unwrap_err();
            assert_eq!(e, Framing::BadLength(bad.trim().into()), "{bad:?}");
            assert_eq!(e.status(), 400);
        }
        assert_eq!(
            framing(&[("Content-Length", "18446744073709551615")]),
            Ok(Body::Length(u64::MAX))
        );
        // Twice, differing or not, as two lines or one list: 400.
        for twice in [
            &[("Content-Length", "5"), ("Content-Length", "50")][..],
            &[("Content-Length", "5"), ("Content-Length", "5")][..],
            &[("Content-Length", "5, 5")][..],
        ] {
            assert_eq!(framing(twice), Err(Framing::SeveralLengths(2)), "{twice:?}");
        }
    }

    /// A bare LF is found wherever it is; CRLF everywhere is clean.
    #[test]
    fn bare_lf_is_found() {
        assert_eq!(bare_lf(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"), None);
        assert_eq!(bare_lf(b"GET / HTTP/1.1\n"), Some(14));
        assert_eq!(bare_lf(b"\n"), Some(0));
        assert_eq!(bare_lf(b"GET / HTTP/1.1\r\nHost: a\n\r\n"), Some(23));
        let reason = Framing::BareLf.to_string();
        assert!(reason.contains("ncat -C"), "{reason}");
    }

    /// The smuggling set, through parse_request itself (what every server calls):
    /// each refused with its exact status and reason.
    #[test]
    fn framing_refused_at_the_head() {
        let cases: [(&str, u16, &str); 8] = [
            (
                "Content-Length: 5\r\nContent-Length: 50\r\n",
                400,
                "Content-Length given 2 times",
            ),
            (
                "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                400,
                "Transfer-Encoding and Content-Length together",
            ),
            (
                "Content-Length: +5\r\n",
                400,
                "Content-Length: \"+5\" is not a length",
            ),
            (
                "Content-Length: -1\r\n",
                400,
                "Content-Length: \"-1\" is not a length",
            ),
            (
                "Content-Length: 0x5\r\n",
                400,
                "Content-Length: \"0x5\" is not a length",
            ),
            (
                "Content-Length: 5 5\r\n",
                400,
                "Content-Length: \"5 5\" is not a length",
            ),
            (
                "Transfer-Encoding: gzip\r\n",
                400,
                "the last coding must be chunked",
            ),
            (
                "Transfer-Encoding: gzip, chunked\r\n",
                501,
                "\"gzip\" is not implemented",
            ),
        ];
        for (headers, status, reason) in cases {
            let e = error(format!("POST / HTTP/1.1\r\nHost: h\r\n{headers}\r\n").as_bytes());
            assert_eq!(e.status(), status, "{headers:?}");
            assert!(e.to_string().contains(reason), "{headers:?}: {e}");
        }
        let ok = complete(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(ok.body, Body::Length(5));
    }

    /// Bare LF: refused with the fix in the reason, already at the first line
    /// (a student typing into `nc` sees it at their first Enter).
    #[test]
    fn bare_lf_is_400_naming_ncat_c() {
        for bad in [
            &b"GET / HTTP/1.1\n"[..],
            b"GET / HTTP/1.1\nHost: h\n\n",
            b"GET / HTTP/1.1\r\nHost: h\n\r\n",
        ] {
            let e = error(bad);
            assert_eq!(e, HeadError::Framing(Framing::BareLf));
            assert_eq!(e.status(), 400);
            assert!(e.to_string().contains("use `ncat -C`"), "{e}");
        }
        // Bytes after a CRLF head (a body) may hold LFs: they are not the head.
        let head = complete(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\na\n");
        assert_eq!(head.body, Body::Length(2));
    }

    fn error(bytes: &[u8]) -> HeadError {
        match parse_request(bytes) {
            Err(e) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    fn complete(bytes: &[u8]) -> RequestHead {
        match parse_request(bytes) {
            Ok(Parsed::Complete(head)) => head,
            other => panic!("expected a complete head, got {other:?}"),
        }
    }
}
