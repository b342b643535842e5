//! Responses: [`parse_response`] reads a response head (what a client such as
//! the wire view needs), and [`Response`] builds one as the bytes to write.

use std::time::Duration;

use crate::headers::{Header, Headers};
use crate::request::Version;
use crate::{HeadError, MAX_HEADERS, Parsed, limit};

/// A complete response head: the status line and the headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// The status code: `101`, `200`, `426`, …
    pub status: u16,
    /// The reason phrase as sent. Only for people: clients go by the code, and a
    /// server may send any text, or none.
    pub reason: String,
    /// Every header line, duplicates kept, in order.
    pub headers: Headers,
    /// How many bytes the head took, blank line included. After a `101` the
    /// bytes that follow are the new protocol's (WebSocket frames).
    pub head_len: usize,
}

impl ResponseHead {
    /// The status line without its `\r\n`: `HTTP/1.1 101 Switching Protocols`.
    pub fn status_line(&self) -> String {
        format!("{} {} {}", self.version, self.status, self.reason)
    }
}

/// Parses the response head at the start of `bytes`, as [`crate::parse_request`]
/// does a request: `Incomplete` until the blank line is in, the same limits.
pub fn parse_response(bytes: &[u8]) -> Result<Parsed<ResponseHead>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let got = response.parse(bytes);
    // The same limits as a request; only the wording of a malformed head says
    // "response", so a client's error names the side that was wrong.
    let head_len = match limit(got, bytes).map_err(|e| match e {
        HeadError::Malformed(what) => HeadError::MalformedResponse(what),
        other => other,
    })? {
        Parsed::Complete(n) => n,
        Parsed::Incomplete => return Ok(Parsed::Incomplete),
    };
    Ok(Parsed::Complete(ResponseHead {
        version: match response.version {
            Some(0) => Version::Http10,
            _ => Version::Http11,
        },
        status: response.code.unwrap_or_default(),
        reason: response.reason.unwrap_or_default().to_string(),
        headers: Headers::from_httparse(response.headers),
        head_len,
    }))
}

/// The standard reason phrase of `status` (RFC 9110 §15; 426 from RFC 9110
/// §15.5.22, 431 from RFC 6585 §5). A code not listed gets the name of its class.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        // The first digit is the class (RFC 9110 §15): enough for a person.
        _ => match status / 100 {
            1 => "Informational",
            2 => "Successful",
            3 => "Redirection",
            4 => "Client Error",
            _ => "Server Error",
        },
    }
}

/// The plain-text type every short error body here uses.
pub const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

// ANCHOR: response
/// A response to build: a status, headers, maybe a body. [`Response::to_bytes`]
/// writes it in this order:
///
/// ```text
/// HTTP/1.1 426 Upgrade Required       the status line, with the standard phrase
/// Content-Type: text/plain; …         what the body is (if there is one)
/// Content-Length: 28                  how long it is, counted, never typed in
/// Upgrade: websocket                  the other headers, in the order added
/// (blank line)
/// the body
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body's media type (`Content-Type`), if it has a body.
    pub content_type: Option<String>,
    /// Headers other than Content-Type and Content-Length, in order.
    pub headers: Headers,
    /// The body (empty for none).
    pub body: Vec<u8>,
}

impl Response {
    /// A response with `status`, no headers yet, no body.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            content_type: None,
            headers: Headers::default(),
            body: Vec::new(),
        }
    }

    /// `status` with a one-line plain-text body (`line` plus `\n`): how every
    /// error here says what was wrong, readable in `curl -i` and in a browser.
    pub fn text(status: u16, line: &str) -> Response {
        Response::new(status).body(TEXT_PLAIN, format!("{line}\n"))
    }

    /// Adds the header line `name: value`, after those added before.
    pub fn header(mut self, name: &str, value: impl ToString) -> Response {
        self.headers.0.push(Header {
            name: name.to_string(),
            value: value.to_string(),
        });
        self
    }

    /// Sets the body and its `Content-Type`.
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        self.content_type = Some(content_type.to_string());
        self.body = body.into();
        self
    }

    /// The response as bytes on the wire. `Content-Length` is always the body's
    /// real length — the one header that, wrong, makes the peer read the next
    /// response as part of this one — except where HTTP forbids it: 1xx, 204 and
    /// 304 have no body (RFC 9110 §8.6), and a 101's next byte is the new protocol's.
    pub fn to_bytes(&self) -> Vec<u8> {
        let has_body = !matches!(self.status, 100..=199 | 204 | 304);
        let mut head = format!(
            "HTTP/1.1 {} {}\r\n",
            self.status,
            reason_phrase(self.status)
        );
        if let Some(content_type) = &self.content_type {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        if has_body {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        for h in self.headers.iter() {
            head.push_str(&format!("{}: {}\r\n", h.name, h.value));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        if has_body {
            out.extend_from_slice(&self.body);
        }
        out
    }
}
// ANCHOR_END: response

// ANCHOR: service_unavailable
/// `503 Service Unavailable` with `Retry-After` (RFC 9110 §10.2.3, §15.6.4): what
/// a server at its connection cap answers instead of accepting work it cannot
/// do. `reason` becomes the plain-text body; `retry_after` is sent in whole
/// seconds, rounded up (a client told "0" would retry at once). The server closes
/// after it, and says so.
pub fn service_unavailable(retry_after: Duration, reason: &str) -> Vec<u8> {
    let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    Response::text(503, reason)
        .header("Retry-After", seconds.max(1))
        .header("Connection", "close")
        .to_bytes()
}
// ANCHOR_END: service_unavailable

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    /// The status line carries the standard phrase; Content-Type and a counted
    /// Content-Length come first, then the other headers in order, then the body.
    #[test]
    fn builds_an_exact_response() {
        let bytes = Response::text(426, "missing Connection: Upgrade")
            .header("Upgrade", "websocket")
            .header("Connection", "close")
            .to_bytes();
        assert_eq!(
            text(bytes),
            "HTTP/1.1 426 Upgrade Required\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: 28\r\nUpgrade: websocket\r\nConnection: close\r\n\r\n\
             missing Connection: Upgrade\n"
        );
    }

    /// No body, no Content-Type, but still `Content-Length: 0`: the peer knows the
    /// response ended. A 101 has none: the next byte is the new protocol's.
    #[test]
    fn content_length_except_where_forbidden() {
        assert_eq!(
            text(Response::new(200).to_bytes()),
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        );
        assert_eq!(
            text(Response::new(101).header("Upgrade", "websocket").to_bytes()),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
        );
        let no_content = Response::new(204).body("text/plain", "dropped").to_bytes();
        assert_eq!(
            text(no_content),
            "HTTP/1.1 204 No Content\r\nContent-Type: text/plain\r\n\r\n"
        );
    }

    /// The reason phrases of the statuses this workspace sends, and a class name
    /// for the rest.
    #[test]
    fn reason_phrases() {
        assert_eq!(reason_phrase(101), "Switching Protocols");
        assert_eq!(reason_phrase(431), "Request Header Fields Too Large");
        assert_eq!(reason_phrase(503), "Service Unavailable");
        assert_eq!(reason_phrase(418), "Client Error");
        assert_eq!(reason_phrase(599), "Server Error");
    }

    /// Past the connection cap: 503, Retry-After in whole seconds rounded up, the
    /// reason as the body, and Connection: close.
    #[test]
    fn service_unavailable_bytes() {
        let bytes = service_unavailable(Duration::from_millis(1500), "too many connections");
        assert_eq!(
            text(bytes),
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: 21\r\nRetry-After: 2\r\nConnection: close\r\n\r\n\
             too many connections\n"
        );
        let now = text(service_unavailable(Duration::ZERO, "full"));
        assert!(now.contains("\r\nRetry-After: 1\r\n"), "{now}");
    }

    /// What the client's wire view reads: a 101 head, with the frame after it
    /// left alone; every prefix of it is Incomplete.
    #[test]
    fn parses_a_response_head() {
        let head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                    Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        let mut bytes = head.as_bytes().to_vec();
        bytes.extend_from_slice(b"\x81\x05Hello");
        let Ok(Parsed::Complete(r)) = parse_response(&bytes) else {
            panic!("a complete 101");
        };
        assert_eq!(r.status, 101);
        assert_eq!(r.reason, "Switching Protocols");
        assert_eq!(r.version, Version::Http11);
        assert_eq!(r.status_line(), "HTTP/1.1 101 Switching Protocols");
        assert_eq!(r.head_len, head.len());
        assert_eq!(
            r.headers.get("sec-websocket-accept"),
            Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
        for cut in 0..head.len() {
            assert_eq!(parse_response(&bytes[..cut]), Ok(Parsed::Incomplete));
        }
        assert!(matches!(
            parse_response(b"HTTP/1.1 abc OK\r\n\r\n"),
            Err(HeadError::MalformedResponse(_))
        ));
    }

    /// A built response parses back to what was built: the two halves agree.
    #[test]
    fn build_then_parse_round_trips() {
        let bytes = Response::text(400, "bad").header("X-A", "1").to_bytes();
        let Ok(Parsed::Complete(r)) = parse_response(&bytes) else {
            panic!("a complete response");
        };
        assert_eq!((r.status, r.reason.as_str()), (400, "Bad Request"));
        assert_eq!(r.headers.get("content-length"), Some("4"));
        assert_eq!(&bytes[r.head_len..], b"bad\n");
    }
}
