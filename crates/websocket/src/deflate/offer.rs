//! The permessage-deflate negotiation (RFC 7692 §5, §7.1): the client's offers
//! read from `Sec-WebSocket-Extensions`, and the server's answer. No I/O.
//!
//! A browser sends one offer, `permessage-deflate; client_max_window_bits`
//! ("I can compress with a smaller window if you ask"). Other clients send
//! several, best first, separated by commas; the server takes the first it can
//! honour and declines the rest. An offer with an unknown parameter, a bad
//! value or a parameter given twice is declined (§7.1: "MUST decline"), never
//! an error: the connection then simply goes on uncompressed.

use super::DeflateError;

/// The extension's registered name (RFC 7692 §7).
pub const EXTENSION: &str = "permessage-deflate";

/// The smallest LZ77 window (2^8 = 256 bytes) the RFC lets a peer ask for.
const MIN_WINDOW_BITS: u8 = 8;

/// The largest window (2^15 = 32 KiB), DEFLATE's own, and the default.
pub const MAX_WINDOW_BITS: u8 = 15;

/// The smallest window our compressor can keep to: zlib (and flate2 over it)
/// has no 256-byte window for raw DEFLATE, so an offer that insists on
/// `server_max_window_bits=8` is declined.
pub const MIN_OUR_WINDOW_BITS: u8 = 9;

/// What a client says about the window its own compressor uses
/// (`client_max_window_bits`, RFC 7692 §7.1.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientBits {
    /// Not in the offer: the server must not name it in its answer.
    #[default]
    Absent,
    /// Present without a value: the client can use any window the server names.
    Any,
    /// Present with a value: the client's window is at most 2^n bytes.
    Max(u8),
}

/// One permessage-deflate offer, its parameters as the client wrote them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offer {
    /// The client asks the server to start each message with an empty window.
    pub server_no_context_takeover: bool,
    /// The client says it will start each message with an empty window.
    pub client_no_context_takeover: bool,
    /// The largest window the client lets the server compress with.
    pub server_max_window_bits: Option<u8>,
    /// What the client says about its own compressor's window.
    pub client_max_window_bits: ClientBits,
}

/// What the server wants for itself, whatever the client offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Config {
    /// Compress each message on its own (less memory kept per connection,
    /// worse compression of repeated messages).
    pub server_no_context_takeover: bool,
    /// Ask the client to do the same.
    pub client_no_context_takeover: bool,
}

// ANCHOR: agreement
/// The parameters both sides use from the 101 on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agreement {
    /// The server's compressor starts every message with an empty window.
    pub server_no_context_takeover: bool,
    /// The client's compressor starts every message with an empty window.
    pub client_no_context_takeover: bool,
    /// The window the server compresses with: 2^n bytes (9..=15).
    pub server_max_window_bits: u8,
    /// The window the client compresses with, at most: 2^n bytes. Whatever it
    /// is, inflating with the full 15-bit window reads it.
    pub client_max_window_bits: u8,
    /// Whether the answer names `server_max_window_bits` (it must when offered).
    answer_server_bits: bool,
    /// Whether the answer names `client_max_window_bits` (only when offered).
    answer_client_bits: bool,
}
// ANCHOR_END: agreement

impl Agreement {
    /// The value of the 101's `Sec-WebSocket-Extensions` header, e.g.
    /// `permessage-deflate; server_max_window_bits=10`.
    pub fn response(&self) -> String {
        let mut answer = String::from(EXTENSION);
        if self.server_no_context_takeover {
            answer.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            answer.push_str("; client_no_context_takeover");
        }
        if self.answer_server_bits {
            answer.push_str(&format!(
                "; server_max_window_bits={}",
                self.server_max_window_bits
            ));
        }
        if self.answer_client_bits {
            answer.push_str(&format!(
                "; client_max_window_bits={}",
                self.client_max_window_bits
            ));
        }
        answer
    }

    /// The client's side: what the server's answer (`response`, the value of
    /// the 101's `Sec-WebSocket-Extensions`) agreed to. An answer the client
    /// did not offer for, or one that breaks RFC 7692 §7.1, is an error: the
    /// client must then fail the connection.
    pub fn from_response(response: &str) -> Result<Agreement, DeflateError> {
        let mut elements = split_elements(response);
        let (Some(element), None) = (elements.next(), elements.next()) else {
            return Err(DeflateError::BadResponse);
        };
        let offer = parse_element(element).ok_or(DeflateError::BadResponse)?;
        // A server may not answer `client_max_window_bits` without a value.
        // A window of 8 bits is one zlib cannot keep to: a client that asked
        // for none could not honour it, so it is refused like a bad answer.
        let client_bits = match offer.client_max_window_bits {
            ClientBits::Absent => MAX_WINDOW_BITS,
            ClientBits::Max(n) if n >= MIN_OUR_WINDOW_BITS => n,
            ClientBits::Max(_) | ClientBits::Any => return Err(DeflateError::BadResponse),
        };
        Ok(Agreement {
            server_no_context_takeover: offer.server_no_context_takeover,
            client_no_context_takeover: offer.client_no_context_takeover,
            server_max_window_bits: offer.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS),
            client_max_window_bits: client_bits,
            answer_server_bits: offer.server_max_window_bits.is_some(),
            answer_client_bits: client_bits != MAX_WINDOW_BITS,
        })
    }
}

/// What a client offers when it has no wishes: the browser's own offer.
pub const BROWSER_OFFER: &str = "permessage-deflate; client_max_window_bits";

// ANCHOR: negotiate
/// The server's choice among the client's offers (every value of its
/// `Sec-WebSocket-Extensions` headers, in order): the first offer of
/// permessage-deflate it can honour, answered per RFC 7692 §7.1; `None` when
/// there is none (then the 101 names no extension and nothing is compressed).
pub fn negotiate<'a>(
    headers: impl IntoIterator<Item = &'a str>,
    ours: &Config,
) -> Option<Agreement> {
    headers
        .into_iter()
        .flat_map(split_elements)
        .filter_map(parse_element)
        .find_map(|offer| accept(&offer, ours))
}
// ANCHOR_END: negotiate

/// The answer to one well-formed offer, or `None` to decline it.
fn accept(offer: &Offer, ours: &Config) -> Option<Agreement> {
    // §7.1.2.1: the server compresses within what the client allows. zlib has
    // no 256-byte raw window: declined rather than broken (flate2 would panic).
    let server_bits = offer.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS);
    if server_bits < MIN_OUR_WINDOW_BITS {
        return None;
    }
    let (client_bits, answer_client_bits) = match offer.client_max_window_bits {
        // §7.1.2.2: not offered, so not answered: the client uses 15 bits.
        ClientBits::Absent => (MAX_WINDOW_BITS, false),
        // We inflate with a full window either way: no need to ask for less.
        ClientBits::Any => (MAX_WINDOW_BITS, false),
        // The client will use at most this; saying it back is harmless and exact.
        ClientBits::Max(n) => (n, true),
    };
    Some(Agreement {
        // §7.1.1.1: offered means the server must agree; it may also choose it.
        server_no_context_takeover: offer.server_no_context_takeover
            || ours.server_no_context_takeover,
        // §7.1.1.2: the server may ask for it even when not offered.
        client_no_context_takeover: offer.client_no_context_takeover
            || ours.client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
        answer_server_bits: offer.server_max_window_bits.is_some(),
        answer_client_bits,
    })
}

/// The comma-separated elements of an extension header, commas inside a
/// quoted string not counting (RFC 6455 §9.1, RFC 9110 §5.6).
fn split_elements(header: &str) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    let mut start = 0;
    let mut pieces = Vec::new();
    for (i, c) in header.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                pieces.push(&header[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(&header[start..]);
    pieces.into_iter().map(str::trim).filter(|e| !e.is_empty())
}

/// One element read as a permessage-deflate offer: `None` for another
/// extension, or for an offer the RFC says to decline (an unknown parameter,
/// a bad value, a parameter given twice).
fn parse_element(element: &str) -> Option<Offer> {
    let mut parts = element.split(';').map(str::trim);
    if !parts.next()?.eq_ignore_ascii_case(EXTENSION) {
        return None;
    }
    let mut offer = Offer::default();
    let mut seen = Vec::new();
    for part in parts {
        let (name, value) = match part.split_once('=') {
            Some((n, v)) => (n.trim(), Some(unquote(v.trim())?)),
            None => (part, None),
        };
        let name = name.to_ascii_lowercase();
        // §7.1: the same parameter twice: declined.
        if seen.contains(&name) {
            return None;
        }
        match (name.as_str(), value) {
            ("server_no_context_takeover", None) => offer.server_no_context_takeover = true,
            ("client_no_context_takeover", None) => offer.client_no_context_takeover = true,
            ("server_max_window_bits", Some(v)) => {
                offer.server_max_window_bits = Some(window_bits(v)?);
            }
            ("client_max_window_bits", None) => offer.client_max_window_bits = ClientBits::Any,
            ("client_max_window_bits", Some(v)) => {
                offer.client_max_window_bits = ClientBits::Max(window_bits(v)?);
            }
            // An unknown parameter, or a known one with (or without) a value it
            // may not have: declined.
            _ => return None,
        }
        seen.push(name);
    }
    Some(offer)
}

/// A parameter's value without its quotes, if it is a quoted string.
fn unquote(value: &str) -> Option<&str> {
    match value.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"'),
        None => Some(value),
    }
}

/// A window-bits value: a decimal 8..=15 with no leading zero or sign
/// (RFC 7692 §7.1.2.1's ABNF), else `None`.
fn window_bits(value: &str) -> Option<u8> {
    if value.is_empty() || value.starts_with('0') || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bits: u8 = value.parse().ok()?;
    (MIN_WINDOW_BITS..=MAX_WINDOW_BITS)
        .contains(&bits)
        .then_some(bits)
}
