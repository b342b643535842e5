//! permessage-deflate (RFC 7692): what every browser asks for, I/O-free —
//! the offer read and answered ([`offer`]), and one connection's compressor
//! and decompressor ([`codec`]).
//!
//! A message's payload is compressed whole with raw DEFLATE; the first frame
//! of a compressed message carries RSV1 = 1, which is the only thing a frame
//! header shows of it (§6). Control frames are never compressed. Which end
//! keeps its LZ77 window between messages (context takeover), and how large
//! that window is, is agreed in the Upgrade, and costs memory on the server for
//! every connection that keeps it: why `--deflate` is off by default, as in
//! Node's `ws`.
//!
//! Try it: `socklab serve ws --deflate`, then
//! `python3 -m websockets ws://127.0.0.1:8080/` (its client offers deflate), and
//! watch the log name the agreement.

pub mod codec;
pub mod offer;
#[cfg(test)]
mod tests;

use std::fmt;

pub use codec::{CONTEXT_BYTES, Compressor, Decompressor, Side, TAIL};
pub use offer::{
    Agreement, BROWSER_OFFER, ClientBits, Config, EXTENSION, MAX_WINDOW_BITS, MIN_OUR_WINDOW_BITS,
    Offer, negotiate,
};

/// The `--deflate` flag's help, the same on every WebSocket server.
pub const FLAG_HELP: &str = "Compress messages (permessage-deflate, RFC 7692) with clients that offer it, as browsers do. \
Off by default, as in Node's ws: a connection that agrees keeps its compression contexts for its whole life \
(CONTEXT_BYTES in websocket::deflate, measured by its test), charged to --memory-budget";

/// What can go wrong with compressed data or the negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeflateError {
    /// The payload is not valid DEFLATE (the peer gets 1007).
    Corrupt,
    /// The message inflates past the message-size limit (the peer gets 1009):
    /// inflating stopped there.
    TooBig {
        /// The limit it passed, in bytes.
        limit: usize,
    },
    /// A server's `Sec-WebSocket-Extensions` answer that is not a valid
    /// agreement to permessage-deflate (a client must fail the connection).
    BadResponse,
}

impl fmt::Display for DeflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeflateError::Corrupt => write!(f, "compressed payload is not valid DEFLATE"),
            DeflateError::TooBig { limit } => {
                write!(f, "compressed message inflates past {limit} bytes")
            }
            DeflateError::BadResponse => {
                write!(f, "the server's permessage-deflate answer is not valid")
            }
        }
    }
}

impl std::error::Error for DeflateError {}
