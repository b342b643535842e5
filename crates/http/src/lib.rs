//! HTTP/1.1 request heads and responses, as pure functions over bytes. No I/O.
//!
//! Every server here that speaks HTTP (the WebSocket upgrade, the browser pages,
//! the push server's requests) and the client's wire view read and write HTTP
//! through this one crate, so there is exactly one HTTP parser in the workspace:
//! [httparse](https://docs.rs/httparse), the one tungstenite and hyper use. This
//! crate adds what httparse leaves to its caller: owned results, limits with the
//! status they earn, header lookup the way HTTP defines it, one set of framing
//! rules (where a body ends: the place request smuggling is won or lost), and
//! responses built with the right status line and `Content-Length`.
//!
//! Parsing follows mini-redis's `frame.rs`: call [`parse_request`] each time more
//! bytes arrive. TCP may deliver a request in any number of pieces, so
//! [`Parsed::Incomplete`] ("read more") is an expected answer, not an error; a
//! real error ([`HeadError`]) carries the status a server should answer with.
//!
//! Try it: `cargo test -p http1`, or watch it at work in ws-echo
//! (`curl -i http://127.0.0.1:8080/chat` after `socklab serve ws`).
//!
//! # Layout
//!
//! - [`headers`]: the header list (duplicates and order kept) and lookups:
//!   case-insensitive names, every value, comma-separated tokens.
//! - [`request`]: [`parse_request`] → [`RequestHead`] (method, target, version,
//!   headers, `head_len`) and the four forms a request target takes.
//! - [`framing`]: where a request's body ends (RFC 9112 §6) — the rules that
//!   refuse smuggling (two lengths, a length and an encoding, `+5`, bare LF),
//!   applied by [`parse_request`] itself, so no server can skip them.
//! - [`chunked`]: the chunked transfer coding, decoded.
//! - [`reader`]: [`Reader`], one connection's requests, head and body, in
//!   order; pipelining paced by the caller's queued output ([`PIPELINE_LIMIT`]).
//! - [`response`]: [`parse_response`] → [`ResponseHead`] for a client, and
//!   [`Response`] to build one as bytes, with [`reason_phrase`] and the
//!   [`service_unavailable`] a server sends when it is full.
//!
//! Simplified on purpose: bodies are taken whole, up to a size the server
//! names (no streaming of a big upload); no transfer coding but chunked; no HTTP/2.
#![deny(missing_docs)]

pub mod chunked;
pub mod framing;
pub mod headers;
pub mod reader;
pub mod request;
pub mod response;

use std::fmt;

pub use framing::{Body, Framing, bare_lf, body_framing};
pub use headers::{Header, Headers, has_token};
pub use reader::{PIPELINE_LIMIT, Reader, Request};
pub use request::{RequestHead, TargetForm, Version, parse_request, target_form};
pub use response::{
    Response, ResponseHead, TEXT_PLAIN, parse_response, reason_phrase, service_unavailable,
};

/// The most bytes a head (start line plus headers plus the blank line) may take.
/// Browsers send well under 2 KiB; past 8 KiB a server answers 431 and reads no
/// more, so a peer cannot make it buffer without end.
pub const MAX_HEAD: usize = 8 * 1024;

/// The most header lines parsed (httparse needs a fixed-size array for them).
/// More also earns 431.
pub const MAX_HEADERS: usize = 64;

/// What a parse of the bytes received so far found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// The whole head is in: here it is.
    Complete(T),
    /// The blank line ending the head has not arrived yet: read more and call
    /// again with all the bytes. Not an error: TCP keeps no message boundaries.
    Incomplete,
}

/// Why bytes are not an acceptable HTTP head. Each variant knows the status a
/// server answers it with ([`HeadError::status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadError {
    /// [`MAX_HEAD`] bytes arrived without the blank line (or the head ended
    /// past it): 431 Request Header Fields Too Large.
    TooLarge,
    /// More than [`MAX_HEADERS`] header lines: also 431.
    TooManyHeaders,
    /// Not HTTP/1.x at all, or a byte HTTP forbids where it is (a space before a
    /// header's colon, an obs-fold continuation line, a control character in a
    /// value): 400 Bad Request. The text is httparse's description; the
    /// reason every server sends reads "not an HTTP request: …", written once
    /// here, so `serve ws`, push, chat and bridge answer a malformed head alike.
    Malformed(String),
    /// A response head that is not HTTP/1.x (the client side's
    /// [`parse_response`]): the same fault as [`HeadError::Malformed`], said of
    /// a response.
    MalformedResponse(String),
    /// A head that parses but whose framing is ambiguous or unsupported
    /// ([`framing`]): 400, or 501 for a transfer coding we do not decode.
    Framing(Framing),
    /// A body longer than the server takes: 413 Content Too Large.
    BodyTooLarge {
        /// The length announced (or reached, for chunks).
        len: u64,
        /// The most the server takes.
        max: usize,
    },
    /// A chunked body that does not follow RFC 9112 §7.1: 400.
    BadChunk(String),
}

impl HeadError {
    /// The HTTP status a server answers this error with (RFC 6585 §5 for 431).
    pub fn status(&self) -> u16 {
        match self {
            HeadError::TooLarge | HeadError::TooManyHeaders => 431,
            HeadError::Malformed(_) | HeadError::MalformedResponse(_) | HeadError::BadChunk(_) => {
                400
            }
            HeadError::Framing(f) => f.status(),
            HeadError::BodyTooLarge { .. } => 413,
        }
    }
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadError::TooLarge => write!(f, "request head over {MAX_HEAD} bytes"),
            HeadError::TooManyHeaders => write!(f, "more than {MAX_HEADERS} header lines"),
            HeadError::Malformed(what) => write!(f, "not an HTTP request: {what}"),
            HeadError::MalformedResponse(what) => write!(f, "not an HTTP response: {what}"),
            HeadError::Framing(why) => why.fmt(f),
            HeadError::BodyTooLarge { len, max } => {
                write!(f, "a body of {len} bytes: this server takes at most {max}")
            }
            HeadError::BadChunk(why) => write!(f, "bad chunked body: {why}"),
        }
    }
}

impl std::error::Error for HeadError {}

/// Turns httparse's answer into ours, applying [`MAX_HEAD`]. Shared by requests
/// and responses: `got` is httparse's result over `bytes`.
fn limit(got: httparse::Result<usize>, bytes: &[u8]) -> Result<Parsed<usize>, HeadError> {
    match got {
        Ok(httparse::Status::Complete(n)) if n <= MAX_HEAD => Ok(Parsed::Complete(n)),
        // A head that ended past the limit, or none yet with the limit reached:
        // refused without waiting for more.
        Ok(httparse::Status::Complete(_)) => Err(HeadError::TooLarge),
        Ok(httparse::Status::Partial) if bytes.len() >= MAX_HEAD => Err(HeadError::TooLarge),
        Ok(httparse::Status::Partial) => Ok(Parsed::Incomplete),
        Err(httparse::Error::TooManyHeaders) => Err(HeadError::TooManyHeaders),
        Err(e) => Err(HeadError::Malformed(e.to_string())),
    }
}
