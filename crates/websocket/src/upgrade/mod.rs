//! The opening handshake, checked: HTTP request bytes in, a decision out. No I/O.
//!
//! A WebSocket starts life as an ordinary HTTP/1.1 request on an ordinary TCP
//! connection (RFC 6455 §4.1). This module reads that request the way §4.2.1
//! tells a server to, and answers one question: upgrade, serve the browser page,
//! wait for more bytes, or refuse — and if refuse, with which HTTP status and why.
//!
//! Reading HTTP itself — the request line, the headers, the size limits — is
//! the `http1` crate's job, shared with every other HTTP speaker here; this file
//! keeps only what is WebSocket: the §4.2.1 rules, the Accept key, the Origin
//! policy ([`crate::origin`]), and the page on `/`.
//!
//! Nothing here touches a socket, so every rule is unit-tested with byte strings
//! (`cargo test -p websocket upgrade`), and every server that speaks WebSocket
//! runs this one check, so the same malformed Upgrade gets the same status and
//! reason from each of them. Two ways in:
//!
//! - [`check_request`], for a server whose port is all WebSocket (ws-echo,
//!   bridge): call it each time more bytes arrive; it returns
//!   [`Decision::Incomplete`] until the blank line that ends the headers is in.
//! - [`check_upgrade`], for a server that reads the HTTP head itself because it
//!   serves other paths too (push, chat): once [`asks_for_websocket`] says the
//!   request is meant for WebSocket, this check decides, with the same answers.
//!
//! Try it: `socklab serve ws`, then
//! `curl -i http://127.0.0.1:8080/chat` (426: no Upgrade),
//! `curl -i -X POST http://127.0.0.1:8080/` (405), or
//! `curl -i 'http://127.0.0.1:8080/socket.io/?EIO=4&transport=polling'` (400).

use std::time::Duration;

use http1::{Parsed, RequestHead, Response, parse_request};
use tungstenite::handshake::derive_accept_key;

use crate::deflate::Agreement;
use crate::origin::OriginPolicy;

// The limits and phrases are HTTP's, not WebSocket's; re-exported so both
// server models (and their docs) keep naming them `upgrade::MAX_HEAD` and so on.
pub use http1::{MAX_HEAD, MAX_HEADERS, reason_phrase};

/// The only WebSocket version there is (RFC 6455 §4.1): anything else gets 426.
pub const WEBSOCKET_VERSION: &str = "13";

/// What the server should do with the bytes read so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The blank line ending the headers has not arrived yet: read more.
    /// (Not an error: TCP may deliver a request in any number of pieces.)
    Incomplete,
    /// A valid WebSocket opening handshake: answer 101 and speak frames.
    Upgrade(Upgrade),
    /// A plain `GET /` without Upgrade: serve the browser page.
    Page,
    /// Refuse with this HTTP status, then close.
    Reject(Rejection),
}

/// A request that may become a WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    /// The request line, e.g. `GET /chat HTTP/1.1`, for the log.
    pub request_line: String,
    /// The client's `Sec-WebSocket-Key`: 16 random bytes, base64.
    pub key: String,
    /// `base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))`, proving to the
    /// client that this server read its key and speaks WebSocket.
    pub accept: String,
    /// How many bytes the request head took. Bytes after it (a client may send
    /// its first frame without waiting for the 101) already belong to the WebSocket.
    pub head_len: usize,
    /// The subprotocols the client offered (`Sec-WebSocket-Protocol`, §4.2.1
    /// (8)), in its order of preference.
    pub offered: Vec<String>,
    /// The subprotocol the server picked ([`Upgrade::choose_protocol`]), named
    /// in the 101; none unless the server speaks one the client offered.
    pub protocol: Option<String>,
    /// The extensions the client offered (`Sec-WebSocket-Extensions`, §9.1),
    /// each header's value as sent.
    pub extensions: Vec<String>,
    /// permessage-deflate, when the server agreed to it: the 101 names it.
    pub deflate: Option<Agreement>,
}

impl Upgrade {
    /// The complete `101 Switching Protocols` response. After its last `\r\n`
    /// the connection carries WebSocket frames, not HTTP.
    pub fn response(&self) -> Vec<u8> {
        let response = Response::new(101)
            .header("Upgrade", "websocket")
            .header("Connection", "Upgrade")
            .header("Sec-WebSocket-Accept", &self.accept);
        let response = match &self.protocol {
            Some(p) => response.header("Sec-WebSocket-Protocol", p),
            None => response,
        };
        match &self.deflate {
            Some(agreement) => response.header("Sec-WebSocket-Extensions", agreement.response()),
            None => response,
        }
        .to_bytes()
    }

    /// Picks the first subprotocol the client offered that the server speaks
    /// (`ours`); the 101 then names it (RFC 6455 §4.2.2 /subprotocol/).
    pub fn choose_protocol(&mut self, ours: &[&str]) {
        self.protocol = self
            .offered
            .iter()
            .find(|p| ours.contains(&p.as_str()))
            .cloned();
    }
}

/// A refused request: the status, the reason shown to the client, and the headers
/// the status requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The HTTP status code (400, 403, 405, 408, 426, 431, 503).
    pub status: u16,
    /// One plain-text line saying what was wrong; the response body.
    pub reason: String,
}

impl Rejection {
    /// The complete HTTP response: status line, headers, a short plain-text body.
    pub fn response(&self) -> Vec<u8> {
        let response = Response::text(self.status, &self.reason);
        let response = match self.status {
            // 405 must say which methods are allowed (RFC 9110 §15.5.6).
            405 => response.header("Allow", "GET"),
            // 426 says what to upgrade to; RFC 6455 §4.4 asks for the versions we speak.
            426 => response
                .header("Upgrade", "websocket")
                .header("Sec-WebSocket-Version", WEBSOCKET_VERSION),
            _ => response,
        };
        response.header("Connection", "close").to_bytes()
    }
}

/// A refusal with `status` and a one-line `reason`.
fn reject(status: u16, reason: impl Into<String>) -> Decision {
    Decision::Reject(Rejection {
        status,
        reason: reason.into(),
    })
}

// ANCHOR: busy
/// What a client gets past the connection cap: `503 Service Unavailable` with
/// `Retry-After` (whole seconds, rounded up) and a body naming the cap, instead
/// of a request read and refused. Then the server closes. A browser's WebSocket
/// sees only a failed handshake; `curl -i` and the log show why.
pub fn busy_response(max_connections: usize, retry_after: Duration) -> Vec<u8> {
    http1::service_unavailable(
        retry_after,
        &format!(
            "all {max_connections} connections are in use (--max-connections): try again later"
        ),
    )
}
// ANCHOR_END: busy

/// The page response: `200 OK` with the HTML, then the server closes.
pub fn page_response(html: &str) -> Vec<u8> {
    Response::new(200)
        .body("text/html; charset=utf-8", html)
        .header("Cache-Control", "no-store")
        .header("Connection", "close")
        .to_bytes()
}

// ANCHOR: check_request
/// Checks the request head in `bytes` against RFC 6455 §4.2.1.
///
/// `origins`: whose pages may upgrade ([`OriginPolicy`]).
/// The checks run in the order a student would debug them: is it HTTP at all,
/// is it a GET, is it HTTP/1.1, is the HTTP sound (a path, one Host, no body),
/// is it socket.io, is it an Upgrade, is the key real, is the version 13, is
/// the Origin allowed.
pub fn check_request(bytes: &[u8], origins: &OriginPolicy) -> Decision {
    // Reading HTTP is the http1 crate's job: it says Incomplete until the blank
    // line is in, and 431 or 400 for a head it will not read.
    let head = match parse_request(bytes) {
        Ok(Parsed::Complete(head)) => head,
        Ok(Parsed::Incomplete) => return Decision::Incomplete,
        // The reason's wording is http1's (`HeadError`'s Display), the one place
        // every server's malformed-head answer comes from.
        Err(e) => return reject(e.status(), e.to_string()),
    };
    check_upgrade(&head, origins)
}

/// The WebSocket rules, over a request head already read (by [`check_request`],
/// or by a server that reads its own heads). Never [`Decision::Incomplete`].
pub fn check_upgrade(head: &RequestHead, origins: &OriginPolicy) -> Decision {
    let method = head.method.as_str();
    let header = |name: &str| head.headers.get(name);

    // §4.2.1 (1): "An HTTP/1.1 or higher GET request".
    if method != "GET" {
        return reject(
            405,
            format!("method {method} not allowed: a WebSocket opens with GET"),
        );
    }
    if head.version == http1::Version::Http10 {
        return reject(400, "HTTP/1.0 cannot upgrade: a WebSocket needs HTTP/1.1");
    }
    // "…whose Request-URI identifies a resource" (§4.1, RFC 9112 §3.2): a path,
    // or a whole URL naming this Host, whose path then counts; never `*`.
    let path = match head.path() {
        Ok(path) => path,
        Err(why) => return reject(400, why),
    };
    // §4.2.1 (2): a Host header — and, as for any HTTP/1.1 request, exactly one
    // (RFC 9112 §3.2), agreeing with an absolute-form target.
    let host = match head.host() {
        Ok(host) => host,
        Err(why) => return reject(400, why),
    };
    // A handshake has no body. One announced here would be read by no one: its
    // bytes would reach tungstenite and be parsed as WebSocket frames.
    if let Some(line) = head.body_announced() {
        return reject(
            400,
            format!("{line}: an opening handshake has no body, and this server reads none"),
        );
    }
    // Lesson 19: socket.io's clients speak the Engine.IO protocol (its own
    // handshake, packet types and long-polling fallback), not plain WebSocket.
    if path.starts_with("/socket.io/") && path.contains("EIO=") {
        return reject(
            400,
            "this is a plain WebSocket server; socket.io is its own protocol on top of \
             WebSocket or HTTP long polling, and needs a socket.io server",
        );
    }
    // §4.2.1 (3), (4): "Upgrade: websocket" and "Connection: Upgrade" (tokens,
    // case-insensitive; browsers send "Connection: keep-alive, Upgrade").
    let resource = path.split('?').next().unwrap_or(&path);
    if header("upgrade").is_none() && resource == "/" {
        return Decision::Page;
    }
    if !head.headers.has_token("upgrade", "websocket") {
        return reject(
            426,
            "this path speaks only WebSocket: send Upgrade: websocket (the page is at /)",
        );
    }
    if !head.headers.has_token("connection", "upgrade") {
        return reject(426, "missing Connection: Upgrade");
    }
    // §4.2.1 (5): Sec-WebSocket-Key, base64 of 16 bytes, exactly once (§11.3.1).
    let keys: Vec<&str> = head.headers.get_all("sec-websocket-key").collect();
    let key = match keys.as_slice() {
        [] => return reject(400, "missing Sec-WebSocket-Key"),
        [key] if is_base64_of_16_bytes(key) => *key,
        [key] => {
            return reject(
                400,
                format!("Sec-WebSocket-Key {key:?} is not base64 of 16 bytes"),
            );
        }
        _ => return reject(400, "more than one Sec-WebSocket-Key"),
    };
    // §4.2.1 (6): Sec-WebSocket-Version: 13, once (§11.3.5: a request carries
    // one; only a server's 426 may list several).
    if head.headers.count("sec-websocket-version") > 1 {
        return reject(400, "more than one Sec-WebSocket-Version");
    }
    match header("sec-websocket-version") {
        Some(WEBSOCKET_VERSION) => {}
        Some(v) => {
            return reject(
                426,
                format!("Sec-WebSocket-Version {v:?} not supported: use 13"),
            );
        }
        None => return reject(426, "missing Sec-WebSocket-Version: 13"),
    }
    // §4.2.1 (7) and §10.2: the Origin a browser sends. Only a browser can be held
    // to it: any other client may send whatever Origin it likes (crate::origin).
    if head.headers.count("origin") > 1 {
        return reject(400, "more than one Origin");
    }
    if let Err(why) = origins.check(header("origin"), host) {
        return reject(403, why);
    }
    Decision::Upgrade(Upgrade {
        request_line: head.request_line(),
        key: key.to_string(),
        accept: derive_accept_key(key.as_bytes()),
        head_len: head.head_len,
        offered: head
            .headers
            .get_all("sec-websocket-protocol")
            .flat_map(|v| v.split(','))
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        protocol: None,
        extensions: head
            .headers
            .get_all("sec-websocket-extensions")
            .map(str::to_string)
            .collect(),
        deflate: None,
    })
}
// ANCHOR_END: check_request

/// Whether a request read by a server that serves other paths too is meant for
/// WebSocket, so [`check_upgrade`] answers it: it names WebSocket in `Upgrade`,
/// or carries a `Sec-WebSocket-Key` or `Sec-WebSocket-Version` (a client that
/// forgot the `Upgrade` header still gets the same 426 as from `serve ws`).
pub fn asks_for_websocket(head: &RequestHead) -> bool {
    head.headers.has_token("upgrade", "websocket")
        || head.headers.get("sec-websocket-key").is_some()
        || head.headers.get("sec-websocket-version").is_some()
}

// ANCHOR: key_check
/// Whether `key` is the base64 encoding of exactly 16 bytes (§4.1: "a randomly
/// selected 16-byte value that has been base64-encoded").
///
/// 16 bytes are 128 bits; base64 writes 6 bits per character, so that is 21
/// characters plus one carrying the last 2 bits (its low 4 bits zero), then `==`
/// padding: always 24 characters.
pub fn is_base64_of_16_bytes(key: &str) -> bool {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    // The characters whose value has its low 4 bits zero: A=0, Q=16, g=32, w=48.
    const LAST_OF_16: &[u8] = b"AQgw";
    let b = key.as_bytes();
    b.len() == 24
        && b[..21].iter().all(|c| ALPHABET.contains(c))
        && LAST_OF_16.contains(&b[21])
        && &b[22..] == b"=="
}
// ANCHOR_END: key_check

#[cfg(test)]
mod tests;
