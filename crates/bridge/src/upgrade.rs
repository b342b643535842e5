//! The bridge's opening handshake: HTTP request bytes in, a decision out. No I/O.
//!
//! Reading HTTP is the `http1` crate's job; this file keeps the RFC 6455 §4.2.1
//! rules a bridge needs: a GET over HTTP/1.1, `Upgrade: websocket`,
//! `Connection: Upgrade`, a 16-byte key, version 13 — and the one thing a
//! bridge adds, the `binary` subprotocol that websockify's older clients
//! (noVNC) ask for. A plain `GET /` gets the bridge's page.
//!
//! Try it: `socklab bridge`, then `curl -i http://127.0.0.1:8081/x` (426) or
//! `curl -i -X POST http://127.0.0.1:8081/` (405).

use http1::{HeadError, Parsed, Response, parse_request};
use tungstenite::handshake::derive_accept_key;

/// The only WebSocket version there is (RFC 6455 §4.1).
pub const WEBSOCKET_VERSION: &str = "13";

/// The subprotocol websockify speaks when a client asks for it: frames carry
/// the TCP bytes as they are (its other, older one, `base64`, is not offered).
pub const BINARY_SUBPROTOCOL: &str = "binary";

/// What to do with the request bytes read so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The blank line ending the head is not in yet: read more.
    Incomplete,
    /// A valid opening handshake: answer 101, then frames.
    Upgrade(Upgrade),
    /// `GET /` without Upgrade: serve the page.
    Page,
    /// Refuse with this status and one-line reason, then close.
    Reject(u16, String),
}

/// An accepted opening handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    /// `GET /path HTTP/1.1`, for the log.
    pub request_line: String,
    /// `Sec-WebSocket-Accept`: base64(SHA-1(key + the RFC's GUID)).
    pub accept: String,
    /// `Some("binary")` when the client offered it.
    pub subprotocol: Option<&'static str>,
    /// Bytes the head took; what follows is already WebSocket frames.
    pub head_len: usize,
}

impl Upgrade {
    /// The `101 Switching Protocols` response.
    pub fn response(&self) -> Vec<u8> {
        let mut r = Response::new(101)
            .header("Upgrade", "websocket")
            .header("Connection", "Upgrade")
            .header("Sec-WebSocket-Accept", &self.accept);
        if let Some(p) = self.subprotocol {
            r = r.header("Sec-WebSocket-Protocol", p);
        }
        r.to_bytes()
    }
}

/// The response for a refused request: status, a plain-text reason, and the
/// headers the status needs (405: Allow; 426: what to upgrade to).
pub fn rejection(status: u16, reason: &str) -> Vec<u8> {
    let r = Response::text(status, reason);
    let r = match status {
        405 => r.header("Allow", "GET"),
        426 => r
            .header("Upgrade", "websocket")
            .header("Sec-WebSocket-Version", WEBSOCKET_VERSION),
        _ => r,
    };
    r.header("Connection", "close").to_bytes()
}

/// The page, `200 OK`, then the connection closes.
pub fn page_response(html: &str) -> Vec<u8> {
    Response::new(200)
        .body("text/html; charset=utf-8", html)
        .header("Cache-Control", "no-store")
        .header("Connection", "close")
        .to_bytes()
}

// ANCHOR: check
/// Checks the request head in `bytes` (RFC 6455 §4.2.1).
pub fn check_request(bytes: &[u8]) -> Decision {
    let reject = |status, reason: &str| Decision::Reject(status, reason.to_string());
    let head = match parse_request(bytes) {
        Ok(Parsed::Complete(head)) => head,
        Ok(Parsed::Incomplete) => return Decision::Incomplete,
        Err(e @ HeadError::Malformed(_)) => {
            return reject(e.status(), &format!("not an HTTP request: {e}"));
        }
        Err(e) => return reject(e.status(), &e.to_string()),
    };
    if head.method != "GET" {
        return reject(405, "a WebSocket opens with GET");
    }
    if head.version == http1::Version::Http10 {
        return reject(400, "HTTP/1.0 cannot upgrade: a WebSocket needs HTTP/1.1");
    }
    let path = match head.path() {
        Ok(path) => path,
        Err(why) => return reject(400, &why),
    };
    if let Err(why) = head.host() {
        return reject(400, &why);
    }
    let resource = path.split('?').next().unwrap_or(&path);
    if head.headers.get("upgrade").is_none() && resource == "/" {
        return Decision::Page;
    }
    if !head.headers.has_token("upgrade", "websocket") {
        return reject(
            426,
            "this path is a WebSocket bridge: send Upgrade: websocket (the page is at /)",
        );
    }
    if !head.headers.has_token("connection", "upgrade") {
        return reject(426, "missing Connection: Upgrade");
    }
    let keys: Vec<&str> = head.headers.get_all("sec-websocket-key").collect();
    let key = match keys.as_slice() {
        [key] if key.len() == 24 && key.ends_with("==") => *key,
        [] => return reject(400, "missing Sec-WebSocket-Key"),
        _ => return reject(400, "Sec-WebSocket-Key must be one base64 of 16 bytes"),
    };
    if head.headers.get("sec-websocket-version") != Some(WEBSOCKET_VERSION) {
        return reject(426, "Sec-WebSocket-Version must be 13");
    }
    let offered = head.headers.get_all("sec-websocket-protocol");
    let subprotocol = offered
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == BINARY_SUBPROTOCOL)
        .then_some(BINARY_SUBPROTOCOL);
    Decision::Upgrade(Upgrade {
        request_line: head.request_line(),
        accept: derive_accept_key(key.as_bytes()),
        subprotocol,
        head_len: head.head_len,
    })
}
// ANCHOR_END: check

#[cfg(test)]
mod tests {
    use super::*;

    fn request(extra: &str) -> String {
        format!(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
        )
    }

    /// Lesson 6: the RFC's example key gives the RFC's Accept; `binary` is chosen when offered.
    #[test]
    fn upgrade_with_and_without_binary() {
        let plain = request("Sec-WebSocket-Version: 13\r\n");
        let Decision::Upgrade(up) = check_request(plain.as_bytes()) else {
            panic!("must upgrade");
        };
        assert_eq!(up.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(up.subprotocol, None);
        let bin =
            request("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: base64, binary\r\n");
        let Decision::Upgrade(up) = check_request(bin.as_bytes()) else {
            panic!("must upgrade");
        };
        assert_eq!(up.subprotocol, Some("binary"));
        assert!(
            String::from_utf8_lossy(&up.response()).contains("Sec-WebSocket-Protocol: binary\r\n")
        );
    }

    /// Bad handshakes get their HTTP status, and the page is served on `/`.
    #[test]
    fn statuses() {
        let status = |r: &str| match check_request(r.as_bytes()) {
            Decision::Reject(s, _) => s,
            other => panic!("{other:?}"),
        };
        assert_eq!(status("POST / HTTP/1.1\r\nHost: x\r\n\r\n"), 405);
        assert_eq!(status("GET /x HTTP/1.1\r\nHost: x\r\n\r\n"), 426);
        assert_eq!(status(&request("Sec-WebSocket-Version: 8\r\n")), 426);
        assert_eq!(
            status(&request("").replace("dGhlIHNhbXBsZSBub25jZQ==", "short")),
            400
        );
        assert_eq!(
            check_request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            Decision::Page
        );
        assert_eq!(check_request(b"GET / HTTP/1.1\r\n"), Decision::Incomplete);
    }
}
