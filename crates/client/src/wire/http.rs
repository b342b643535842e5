//! The opening handshake (lesson 6): the HTTP request and response heads as
//! the wire view shows them, and the `Sec-WebSocket-Accept` derivation (SHA-1
//! of the key plus a fixed GUID, then base64), recomputed and checked.

use http1::{Headers, Parsed};
use serde::Serialize;

use super::{WS_GUID, ser_hex};

/// How the server computes `Sec-WebSocket-Accept` from the client's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcceptDerivation {
    /// The client's `Sec-WebSocket-Key` (16 random bytes, base64).
    pub key: String,
    /// key + [`WS_GUID`]: the text that is hashed.
    pub concatenated: String,
    /// SHA-1 of that text: 20 bytes (hex in JSON).
    #[serde(serialize_with = "ser_hex")]
    pub sha1: Vec<u8>,
    /// Those 20 bytes in base64: the value of `Sec-WebSocket-Accept`.
    pub accept: String,
}

// ANCHOR: derive_accept
/// The Accept for `key`, with the steps shown. The value comes from tungstenite's
/// `derive_accept_key` (the code a real server runs); the SHA-1 bytes are that
/// value decoded back from base64, so the two cannot disagree.
pub fn derive_accept(key: &str) -> AcceptDerivation {
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let sha1 = data_encoding::BASE64
        .decode(accept.as_bytes())
        .unwrap_or_default();
    AcceptDerivation {
        key: key.to_string(),
        concatenated: format!("{key}{WS_GUID}"),
        sha1,
        accept,
    }
}
// ANCHOR_END: derive_accept

/// One HTTP request or response head, as the wire view shows it. The parsing is
/// the `http1` crate's, the same code the servers run, so the view cannot read a
/// head differently from the server that answered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpHead {
    /// The head exactly as sent (lossy UTF-8), `\r\n` line ends included.
    pub text: String,
    /// Its size in bytes on the wire.
    pub bytes: usize,
    /// `GET /chat HTTP/1.1` or `HTTP/1.1 101 Switching Protocols`.
    pub start_line: String,
    /// Every header line, in order, duplicates kept (in JSON: inside `text`).
    #[serde(skip)]
    pub headers: Headers,
}

impl HttpHead {
    /// The request head at the start of `bytes`, if a complete, valid one is there.
    pub fn request(bytes: &[u8]) -> Option<HttpHead> {
        match http1::parse_request(bytes) {
            Ok(Parsed::Complete(head)) => Some(HttpHead::new(
                bytes,
                head.head_len,
                head.request_line(),
                head.headers,
            )),
            _ => None,
        }
    }

    /// The response head at the start of `bytes`, if a complete, valid one is there.
    pub fn response(bytes: &[u8]) -> Option<HttpHead> {
        match http1::parse_response(bytes) {
            Ok(Parsed::Complete(head)) => Some(HttpHead::new(
                bytes,
                head.head_len,
                head.status_line(),
                head.headers,
            )),
            _ => None,
        }
    }

    fn new(bytes: &[u8], len: usize, start_line: String, headers: Headers) -> HttpHead {
        HttpHead {
            text: String::from_utf8_lossy(&bytes[..len]).into_owned(),
            bytes: len,
            start_line,
            headers,
        }
    }

    /// The value of header `name` (case-insensitive, as HTTP says).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }
}

/// Both halves of the opening handshake, and the Accept check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandshakeView {
    /// The client's `GET … Upgrade: websocket` request.
    pub request: HttpHead,
    /// The server's answer (`101 Switching Protocols` when it agrees).
    pub response: HttpHead,
    /// The Accept recomputed from the request's key (None without a key).
    pub derivation: Option<AcceptDerivation>,
    /// Whether the response's `Sec-WebSocket-Accept` equals the recomputed one.
    pub accept_ok: bool,
}

/// Takes apart a handshake: `request` and `response` start with the HTTP heads.
/// `None` unless both heads are complete and valid HTTP.
pub fn handshake_view(request: &[u8], response: &[u8]) -> Option<HandshakeView> {
    Some(view_heads(
        HttpHead::request(request)?,
        HttpHead::response(response)?,
    ))
}

/// The handshake made of two parsed heads, the Accept recomputed and compared.
pub(crate) fn view_heads(request: HttpHead, response: HttpHead) -> HandshakeView {
    let derivation = request.header("Sec-WebSocket-Key").map(derive_accept);
    let accept_ok = match (&derivation, response.header("Sec-WebSocket-Accept")) {
        (Some(d), Some(got)) => d.accept == got,
        _ => false,
    };
    HandshakeView {
        request,
        response,
        derivation,
        accept_ok,
    }
}
