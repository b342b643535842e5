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
//! allowlist, and the page on `/`.
//!
//! Nothing here touches a socket, so every rule is unit-tested with byte strings
//! (`cargo test -p ws-echo upgrade`), and any server can reuse it: the
//! thread-per-connection server in this crate and an event-loop server that feeds
//! it whatever bytes it has buffered so far. Call [`check_request`] each time
//! more bytes arrive; it returns [`Decision::Incomplete`] until the blank line
//! that ends the headers is in.
//!
//! Try it: `socklab serve ws`, then
//! `curl -i http://127.0.0.1:8080/chat` (426: no Upgrade),
//! `curl -i -X POST http://127.0.0.1:8080/` (405), or
//! `curl -i 'http://127.0.0.1:8080/socket.io/?EIO=4&transport=polling'` (400).

use std::time::Duration;

use http1::{HeadError, Parsed, RequestHead, Response, parse_request};
use tungstenite::handshake::derive_accept_key;

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
}

impl Upgrade {
    /// The complete `101 Switching Protocols` response. After its last `\r\n`
    /// the connection carries WebSocket frames, not HTTP.
    pub fn response(&self) -> Vec<u8> {
        Response::new(101)
            .header("Upgrade", "websocket")
            .header("Connection", "Upgrade")
            .header("Sec-WebSocket-Accept", &self.accept)
            .to_bytes()
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
/// `allow_origins`: if not empty, the only `Origin` values allowed to upgrade.
/// The checks run in the order a student would debug them: is it HTTP at all,
/// is it a GET, is it HTTP/1.1, is the HTTP sound (a path, one Host, no body),
/// is it socket.io, is it an Upgrade, is the key real, is the version 13, is
/// the Origin allowed.
pub fn check_request(bytes: &[u8], allow_origins: &[String]) -> Decision {
    // Reading HTTP is the http1 crate's job: it says Incomplete until the blank
    // line is in, and 431 or 400 for a head it will not read.
    let head = match parse_request(bytes) {
        Ok(Parsed::Complete(head)) => head,
        Ok(Parsed::Incomplete) => return Decision::Incomplete,
        Err(e @ HeadError::Malformed(_)) => {
            return reject(e.status(), format!("not an HTTP request: {e}"));
        }
        Err(e) => return reject(e.status(), e.to_string()),
    };
    check_head(&head, allow_origins)
}

/// The WebSocket rules, over a parsed request head.
fn check_head(head: &RequestHead, allow_origins: &[String]) -> Decision {
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
    if let Err(why) = head.host() {
        return reject(400, why);
    }
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
    // to it: any other client may send whatever Origin it likes.
    if !allow_origins.is_empty() {
        match header("origin") {
            Some(origin) if allow_origins.iter().any(|o| o == origin) => {}
            Some(origin) => return reject(403, format!("Origin {origin} is not allowed")),
            None => {
                return reject(403, "no Origin header, and only listed Origins are allowed");
            }
        }
    }
    Decision::Upgrade(Upgrade {
        request_line: head.request_line(),
        key: key.to_string(),
        accept: derive_accept_key(key.as_bytes()),
        head_len: head.head_len,
    })
}
// ANCHOR_END: check_request

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
mod tests {
    use super::*;

    /// The RFC's own example (§1.3): this key must give this Accept.
    const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    const RFC_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    fn request(extra: &str) -> String {
        format!(
            "GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: {RFC_KEY}\r\n{extra}\r\n"
        )
    }

    fn valid() -> String {
        request("Sec-WebSocket-Version: 13\r\n")
    }

    fn status(bytes: &[u8]) -> u16 {
        match check_request(bytes, &[]) {
            Decision::Reject(r) => r.status,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    /// Lesson 6: the RFC's example key gives the RFC's example Accept.
    #[test]
    fn rfc_example_key_gives_rfc_accept() {
        let Decision::Upgrade(up) = check_request(valid().as_bytes(), &[]) else {
            panic!("the RFC request must upgrade");
        };
        assert_eq!(up.key, RFC_KEY);
        assert_eq!(up.accept, RFC_ACCEPT);
        assert_eq!(up.request_line, "GET /chat HTTP/1.1");
        assert_eq!(up.head_len, valid().len());
        assert_eq!(
            up.response(),
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Accept: {RFC_ACCEPT}\r\n\r\n"
            )
            .into_bytes()
        );
    }

    /// A request split by TCP anywhere is incomplete, never an error.
    #[test]
    fn every_prefix_is_incomplete() {
        let full = valid();
        for cut in 0..full.len() {
            assert_eq!(
                check_request(&full.as_bytes()[..cut], &[]),
                Decision::Incomplete,
                "cut {cut}"
            );
        }
    }

    /// Frames sent right behind the request are not part of the head.
    #[test]
    fn bytes_after_the_head_are_left_for_the_websocket() {
        let mut bytes = valid().into_bytes();
        let head = bytes.len();
        bytes.extend_from_slice(&[0x81, 0x80, 1, 2, 3, 4]);
        let Decision::Upgrade(up) = check_request(&bytes, &[]) else {
            panic!()
        };
        assert_eq!(up.head_len, head);
    }

    /// Lesson 8: the page and the WebSocket share a port; a plain GET / is the page.
    #[test]
    fn plain_get_root_is_the_page() {
        let req = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
        assert_eq!(check_request(req, &[]), Decision::Page);
        let req = b"GET /?auto HTTP/1.1\r\nHost: localhost\r\n\r\n";
        assert_eq!(check_request(req, &[]), Decision::Page);
    }

    /// Browsers send several Connection tokens and any case.
    #[test]
    fn tokens_are_case_insensitive_lists() {
        let req = "GET / HTTP/1.1\r\nhost: x\r\nupgrade: WebSocket\r\nconnection: keep-alive, Upgrade\r\n\
                   sec-websocket-key: AAAAAAAAAAAAAAAAAAAAAA==\r\nsec-websocket-version: 13\r\n\r\n";
        assert!(matches!(
            check_request(req.as_bytes(), &[]),
            Decision::Upgrade(_)
        ));
    }

    /// Each broken rule of §4.2.1 gets its own status.
    #[test]
    fn bad_requests_get_their_status() {
        let v13 = "Sec-WebSocket-Version: 13\r\n";
        let cases: Vec<(String, u16)> = vec![
            (valid().replacen("GET", "POST", 1), 405),
            (valid().replacen("HTTP/1.1", "HTTP/1.0", 1), 400),
            (valid().replacen("Host: 127.0.0.1\r\n", "", 1), 400),
            (valid().replacen("Upgrade: websocket\r\n", "", 1), 426),
            (
                valid().replacen("Upgrade: websocket", "Upgrade: h2c", 1),
                426,
            ),
            (
                valid().replacen("Connection: Upgrade", "Connection: keep-alive", 1),
                426,
            ),
            (request("Sec-WebSocket-Version: 8\r\n"), 426),
            (request(""), 426),
            (valid().replacen(RFC_KEY, "c2hvcnQ=", 1), 400),
            (
                valid().replacen(RFC_KEY, "dGhlIHNhbXBsZSBub25jZR==", 1),
                400,
            ),
            (
                request(&format!("{v13}Sec-WebSocket-Key: {RFC_KEY}\r\n")),
                400,
            ),
            (valid().replacen("Sec-WebSocket-Key", "X-Key", 1), 400),
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n\r\n".into(),
                400,
            ),
            ("HELLO\r\n\r\n".into(), 400),
            // RFC 9112 §3.2: one Host line, never two, even two that agree.
            (request(&format!("{v13}Host: 127.0.0.1\r\n")), 400),
            // RFC 6455 §11.3.5: Sec-WebSocket-Version appears once in a request.
            (request(&format!("{v13}{v13}")), 400),
            // A handshake has no body: its bytes would be taken for frames.
            (
                request(&format!("{v13}Content-Length: 5\r\n")) + "hello",
                400,
            ),
            (request(&format!("{v13}Content-Length: x\r\n")), 400),
            (
                request(&format!("{v13}Transfer-Encoding: chunked\r\n")),
                400,
            ),
            // RFC 9112 §3.2: `*` is only for OPTIONS; an absolute-form URL must
            // name the Host the request carries; anything else is no target.
            (valid().replacen("GET /chat", "GET *", 1), 400),
            (
                valid().replacen("GET /chat", "GET http://other.example/chat", 1),
                400,
            ),
            (valid().replacen("GET /chat", "GET chat", 1), 400),
        ];
        for (req, want) in cases {
            assert_eq!(status(req.as_bytes()), want, "{req:?}");
        }
    }

    /// What the strict checks must not refuse: an explicit empty body, and an
    /// absolute-form target naming this Host, which counts by its path.
    #[test]
    fn strict_but_not_stricter() {
        let zero = request("Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n");
        assert!(matches!(
            check_request(zero.as_bytes(), &[]),
            Decision::Upgrade(_)
        ));
        let absolute = valid().replacen("GET /chat", "GET http://127.0.0.1/chat", 1);
        let Decision::Upgrade(up) = check_request(absolute.as_bytes(), &[]) else {
            panic!("an absolute-form target naming the Host must upgrade");
        };
        assert_eq!(up.request_line, "GET http://127.0.0.1/chat HTTP/1.1");
        let page = b"GET http://localhost HTTP/1.1\r\nHost: LOCALHOST\r\n\r\n";
        assert_eq!(check_request(page, &[]), Decision::Page);
    }

    /// 431: a head over the limit is refused without waiting for its end.
    #[test]
    fn oversized_head_is_431() {
        let mut req = valid().replacen("\r\n\r\n", "\r\n", 1);
        req.push_str(&format!("X-Padding: {}\r\n", "a".repeat(MAX_HEAD)));
        assert_eq!(status(&req.as_bytes()[..MAX_HEAD]), 431);
        let many: String = (0..MAX_HEADERS).map(|i| format!("X-{i}: y\r\n")).collect();
        assert_eq!(status(request(&many).as_bytes()), 431);
    }

    /// Lesson 16: with an allowlist, only listed Origins upgrade.
    #[test]
    fn origin_allowlist() {
        let allow = vec!["http://good.example".to_string()];
        let good = request("Sec-WebSocket-Version: 13\r\nOrigin: http://good.example\r\n");
        let bad = request("Sec-WebSocket-Version: 13\r\nOrigin: http://evil.example\r\n");
        assert!(matches!(
            check_request(good.as_bytes(), &allow),
            Decision::Upgrade(_)
        ));
        assert!(
            matches!(check_request(bad.as_bytes(), &allow), Decision::Reject(r) if r.status == 403)
        );
        assert!(
            matches!(check_request(valid().as_bytes(), &allow), Decision::Reject(r) if r.status == 403)
        );
        assert!(matches!(
            check_request(bad.as_bytes(), &[]),
            Decision::Upgrade(_)
        ));
    }

    /// The 426 response names what to upgrade to and the version we speak.
    #[test]
    fn rejection_response_bytes() {
        let r = Rejection {
            status: 426,
            reason: "missing Connection: Upgrade".into(),
        };
        assert_eq!(
            String::from_utf8(r.response()).unwrap(),
            "HTTP/1.1 426 Upgrade Required\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: 28\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Connection: close\r\n\r\nmissing Connection: Upgrade\n"
        );
    }

    /// Past the connection cap: 503, when to retry, and which cap, exactly.
    #[test]
    fn busy_response_bytes() {
        let bytes = busy_response(2, Duration::from_secs(5));
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: 66\r\nRetry-After: 5\r\nConnection: close\r\n\r\n\
             all 2 connections are in use (--max-connections): try again later\n"
        );
    }

    /// The key check accepts exactly the base64 of 16 bytes.
    #[test]
    fn key_shapes() {
        assert!(is_base64_of_16_bytes(RFC_KEY));
        assert!(is_base64_of_16_bytes("AAAAAAAAAAAAAAAAAAAAAA=="));
        assert!(!is_base64_of_16_bytes("AAAAAAAAAAAAAAAAAAAAAA="));
        assert!(!is_base64_of_16_bytes("AAAAAAAAAAAAAAAAAAAAAB=="));
        assert!(!is_base64_of_16_bytes("AAAAAAAAAAAAAAAAAAAA*A=="));
        assert!(!is_base64_of_16_bytes("AAAAAAAAAAAAAAAAAAAAAAAA"));
    }
}
