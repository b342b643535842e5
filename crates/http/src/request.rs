//! Request heads: [`parse_request`] over the bytes received so far, and the
//! checks RFC 9112 asks of any server before it acts on a request — one `Host`,
//! a target it can serve, and whether a body was announced.

use std::fmt;

use crate::framing::{Body, Framing, bare_lf, body_framing};
use crate::headers::Headers;
use crate::{HeadError, MAX_HEAD, MAX_HEADERS, Parsed, limit};

/// The HTTP version of a request line. httparse reads only HTTP/1.x.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: no `Host` required, no Upgrade, one request per connection.
    Http10,
    /// HTTP/1.1 (RFC 9112): what every browser and WebSocket client sends.
    Http11,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        })
    }
}

/// A complete request head: the request line and the headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// `GET`, `POST`, … exactly as sent (methods are case-sensitive).
    pub method: String,
    /// The request target exactly as sent: `/chat?x=1`, `*`, or a whole URL.
    /// [`RequestHead::target_form`] says which of these it is.
    pub target: String,
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// Every header line, duplicates kept, in order.
    pub headers: Headers,
    /// How many bytes the head took, blank line included. Bytes after it are a
    /// body, or — after a WebSocket upgrade — already frames.
    pub head_len: usize,
    /// How the body after the head is framed (RFC 9112 §6.3), already checked.
    pub body: Body,
}

// ANCHOR: parse_request
/// Parses the request head at the start of `bytes`: all the bytes received so
/// far on a connection, not just the last read.
///
/// `Ok(Parsed::Incomplete)`: no blank line yet, read more. `Err`: refuse with
/// [`HeadError::status`] — 431 once [`crate::MAX_HEAD`] bytes are in without the
/// blank line, so a caller's buffer never has to grow past that. Framing is
/// checked here too ([`crate::framing`]): a bare LF (as soon as one arrives, so
/// someone typing into `nc` learns at their first Enter), two lengths, a length
/// and an encoding — every server reading heads through this gets the same 400s.
pub fn parse_request(bytes: &[u8]) -> Result<Parsed<RequestHead>, HeadError> {
    // httparse borrows into a fixed array of headers: no allocation while parsing.
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let got = request.parse(bytes);
    let parsed = limit(got, bytes);
    // Before httparse's verdict: it accepts bare LFs, and may call the head
    // Malformed for what is really a missing CR.
    let head_bytes = match &parsed {
        Ok(Parsed::Complete(n)) => &bytes[..*n],
        _ => &bytes[..bytes.len().min(MAX_HEAD)],
    };
    if bare_lf(head_bytes).is_some() {
        return Err(HeadError::Framing(Framing::BareLf));
    }
    let head_len = match parsed? {
        Parsed::Complete(n) => n,
        Parsed::Incomplete => return Ok(Parsed::Incomplete),
    };
    // On Complete, httparse has filled in method, path and version.
    let version = match request.version {
        Some(0) => Version::Http10,
        _ => Version::Http11,
    };
    let headers = Headers::from_httparse(request.headers);
    let body = body_framing(version, &headers).map_err(HeadError::Framing)?;
    Ok(Parsed::Complete(RequestHead {
        method: request.method.unwrap_or_default().to_string(),
        target: request.path.unwrap_or_default().to_string(),
        version,
        headers,
        head_len,
        body,
    }))
}
// ANCHOR_END: parse_request

/// The four shapes a request target takes (RFC 9112 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetForm {
    /// `/chat?x=1`: a path and maybe a query, on the server the `Host` names.
    /// What browsers send to a server directly.
    Origin,
    /// `http://example.com/chat`: a whole URL, what clients send to a proxy.
    /// `authority` is `host[:port]`; `path` is the origin-form it means
    /// (`/` if the URL had no path).
    Absolute {
        /// `http`, `https`, `ws`, …
        scheme: String,
        /// `host[:port]`, exactly as in the URL.
        authority: String,
        /// The path and query, as an origin-form target.
        path: String,
    },
    /// `*`: the server itself, not a resource; only for `OPTIONS`.
    Asterisk,
    /// Anything else: the `host:port` that only `CONNECT` uses (the
    /// authority-form), or no valid target at all.
    Other,
}

impl RequestHead {
    /// The request line without its `\r\n`: `GET /chat HTTP/1.1`.
    pub fn request_line(&self) -> String {
        format!("{} {} {}", self.method, self.target, self.version)
    }

    /// Which of the four forms the target takes.
    pub fn target_form(&self) -> TargetForm {
        target_form(&self.target)
    }

    // ANCHOR: path_and_host
    /// The origin-form target to serve (`/chat?x=1`), or why there is none: `*`
    /// names no resource, and anything not a path or a URL is not a target a
    /// server can serve. An absolute-form URL gives its path (RFC 9112 §3.2.2).
    pub fn path(&self) -> Result<String, String> {
        match self.target_form() {
            TargetForm::Origin => Ok(self.target.clone()),
            TargetForm::Absolute { path, .. } => Ok(path),
            TargetForm::Asterisk => Err(format!(
                "{} *: the asterisk-form target names no resource, and is only for OPTIONS \
                 (RFC 9112 §3.2.4)",
                self.method
            )),
            TargetForm::Other => Err(format!(
                "request target {:?} is neither a path nor a URL",
                self.target
            )),
        }
    }

    /// The one `Host` of an HTTP/1.1 request, or why it is unusable.
    ///
    /// RFC 9112 §3.2: a server MUST answer 400 to a request with no `Host`, or
    /// with more than one `Host` line — two names for one request is how one
    /// server in a chain ends up routing it where the other did not check. And a
    /// client MUST send a `Host` identical to the authority of an absolute-form
    /// target; we refuse the contradiction rather than pick one.
    /// (Simplified: `example.com` and `example.com:80` count as different.)
    pub fn host(&self) -> Result<&str, String> {
        let host = match self.headers.count("host") {
            0 => return Err("missing Host header".into()),
            1 => self.headers.get("host").unwrap_or_default(),
            n => return Err(format!("more than one Host header ({n} lines): which one?")),
        };
        if host.is_empty() {
            return Err("missing Host header (the line is there, empty)".into());
        }
        if let TargetForm::Absolute { authority, .. } = self.target_form() {
            if !authority.eq_ignore_ascii_case(host) {
                return Err(format!(
                    "the target names host {authority} but the Host header says {host}"
                ));
            }
        }
        Ok(host)
    }
    // ANCHOR_END: path_and_host

    /// The header line announcing a body, if any: a `Content-Length` other than
    /// 0, or any `Transfer-Encoding` (RFC 9112 §6.1, §6.3). A server that reads no
    /// bodies must refuse such a request: the body's bytes would otherwise be
    /// taken for whatever comes next on the connection.
    pub fn body_announced(&self) -> Option<String> {
        if let Some(te) = self.headers.get("transfer-encoding") {
            return Some(format!("Transfer-Encoding: {te}"));
        }
        self.headers
            .get_all("content-length")
            .find(|&n| n != "0")
            .map(|n| format!("Content-Length: {n}"))
    }
}

/// Which form `target` takes (RFC 9112 §3.2).
pub fn target_form(target: &str) -> TargetForm {
    if target == "*" {
        return TargetForm::Asterisk;
    }
    if target.starts_with('/') {
        return TargetForm::Origin;
    }
    // absolute-form: scheme "://" authority [path] [?query] (RFC 3986 §3).
    let Some((scheme, rest)) = target.split_once("://") else {
        return TargetForm::Other;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if !scheme_ok || authority.is_empty() {
        return TargetForm::Other;
    }
    TargetForm::Absolute {
        scheme: scheme.to_string(),
        authority: authority.to_string(),
        // RFC 9112 §3.2.1: an empty path is "/".
        path: if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MAX_HEAD;

    const GET: &str = "GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\nx-a: 2\r\n\r\n";

    fn complete(bytes: &[u8]) -> RequestHead {
        match parse_request(bytes) {
            Ok(Parsed::Complete(head)) => head,
            other => panic!("expected a complete head, got {other:?}"),
        }
    }

    fn error(bytes: &[u8]) -> HeadError {
        match parse_request(bytes) {
            Err(e) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    /// Every field of the request line, the headers in order with duplicates,
    /// and head_len pointing just past the blank line.
    #[test]
    fn parses_a_request_head() {
        let mut bytes = GET.as_bytes().to_vec();
        bytes.extend_from_slice(b"body or frames");
        let head = complete(&bytes);
        assert_eq!(head.method, "GET");
        assert_eq!(head.target, "/chat?room=1");
        assert_eq!(head.version, Version::Http11);
        assert_eq!(head.request_line(), "GET /chat?room=1 HTTP/1.1");
        assert_eq!(head.head_len, GET.len());
        let names: Vec<&str> = head.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["Host", "X-A", "x-a"]);
        assert_eq!(head.headers.get_all("x-a").collect::<Vec<_>>(), ["1", "2"]);
        let old = complete(b"GET / HTTP/1.0\r\n\r\n");
        assert_eq!(old.version, Version::Http10);
    }

    /// TCP may cut a request anywhere: every prefix is Incomplete, never an error.
    #[test]
    fn every_prefix_is_incomplete() {
        for cut in 0..GET.len() {
            assert_eq!(
                parse_request(&GET.as_bytes()[..cut]),
                Ok(Parsed::Incomplete),
                "cut {cut}"
            );
        }
    }

    /// 431: MAX_HEAD bytes without the blank line are refused without waiting for
    /// more; so is a head that ends past the limit, and one with too many lines.
    #[test]
    fn too_large_is_431() {
        let mut long = "GET / HTTP/1.1\r\nX-Padding: ".to_string();
        long.push_str(&"a".repeat(MAX_HEAD));
        assert_eq!(
            parse_request(&long.as_bytes()[..MAX_HEAD - 1]),
            Ok(Parsed::Incomplete)
        );
        assert_eq!(error(&long.as_bytes()[..MAX_HEAD]), HeadError::TooLarge);
        long.push_str("\r\n\r\n");
        assert_eq!(error(long.as_bytes()), HeadError::TooLarge);
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: y\r\n")).collect();
        let e = error(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes());
        assert_eq!(e, HeadError::TooManyHeaders);
        assert_eq!(e.status(), 431);
        assert_eq!(HeadError::TooLarge.status(), 431);
    }

    /// 400: what HTTP forbids is an error, not a guess — an obs-fold continuation
    /// line (RFC 9112 §5.2), a space before the colon (§5.1), a control character
    /// in a value, a request line that is not HTTP.
    #[test]
    fn malformed_is_400() {
        for bad in [
            "GET / HTTP/1.1\r\nX-Folded: a\r\n  b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost : example.com\r\n\r\n",
            "GET / HTTP/1.1\r\nX-Bad: a\x01b\r\n\r\n",
            "HELLO\r\n\r\n",
            "GET / HTTP/2.0\r\n\r\n",
        ] {
            let e = error(bad.as_bytes());
            assert!(matches!(e, HeadError::Malformed(_)), "{bad:?}: {e:?}");
            assert_eq!(e.status(), 400);
        }
    }

    /// The four target forms, and the path an absolute-form URL stands for.
    #[test]
    fn target_forms() {
        assert_eq!(target_form("/chat"), TargetForm::Origin);
        assert_eq!(target_form("*"), TargetForm::Asterisk);
        assert_eq!(target_form("example.com:443"), TargetForm::Other);
        assert_eq!(target_form("chat"), TargetForm::Other);
        assert_eq!(target_form("http:///chat"), TargetForm::Other);
        assert_eq!(
            target_form("http://Example.com:8080/chat?x=1"),
            TargetForm::Absolute {
                scheme: "http".into(),
                authority: "Example.com:8080".into(),
                path: "/chat?x=1".into(),
            }
        );
        for (url, path) in [
            ("ws://h", "/"),
            ("ws://h/", "/"),
            ("http://h/a?b", "/a?b"),
            ("http://h?q", "/?q"),
        ] {
            assert!(
                matches!(target_form(url), TargetForm::Absolute { path: p, .. } if p == path),
                "{url}"
            );
        }
    }

    fn head(request_line: &str, headers: &str) -> RequestHead {
        complete(format!("{request_line}\r\n{headers}\r\n").as_bytes())
    }

    /// path(): origin-form as is, absolute-form's path, and `*` refused.
    #[test]
    fn path_of_each_form() {
        let path = |line: &str| head(line, "").path();
        assert_eq!(path("GET /a?b HTTP/1.1").as_deref(), Ok("/a?b"));
        assert_eq!(path("GET http://h/a?b HTTP/1.1").as_deref(), Ok("/a?b"));
        assert_eq!(path("GET http://h HTTP/1.1").as_deref(), Ok("/"));
        let star = head("GET * HTTP/1.1", "").path().unwrap_err();
        assert!(star.contains("asterisk-form"), "{star}");
        assert!(head("GET chat HTTP/1.1", "").path().is_err());
    }

    /// host(): exactly one, not empty, and agreeing with an absolute-form target.
    #[test]
    fn host_exactly_once_and_consistent() {
        assert_eq!(head("GET / HTTP/1.1", "Host: a\r\n").host(), Ok("a"));
        let e = head("GET / HTTP/1.1", "").host().unwrap_err();
        assert!(e.contains("missing Host"), "{e}");
        assert!(head("GET / HTTP/1.1", "Host:\r\n").host().is_err());
        let e = head("GET / HTTP/1.1", "Host: a\r\nHost: a\r\n")
            .host()
            .unwrap_err();
        assert!(e.contains("more than one Host"), "{e}");
        let same = head("GET http://A:1/x HTTP/1.1", "Host: a:1\r\n");
        assert_eq!(same.host(), Ok("a:1"));
        let e = head("GET http://b/x HTTP/1.1", "Host: a\r\n")
            .host()
            .unwrap_err();
        assert!(e.contains("names host b") && e.contains("says a"), "{e}");
    }

    /// A body is announced by a Content-Length other than 0 or any Transfer-Encoding.
    #[test]
    fn body_announced() {
        assert_eq!(head("GET / HTTP/1.1", "").body_announced(), None);
        let zero = head("GET / HTTP/1.1", "Content-Length: 0\r\n");
        assert_eq!(zero.body_announced(), None);
        let five = head("GET / HTTP/1.1", "Content-Length: 5\r\n");
        assert_eq!(five.body_announced().as_deref(), Some("Content-Length: 5"));
        let chunked = head("GET / HTTP/1.1", "transfer-encoding: chunked\r\n");
        assert_eq!(
            chunked.body_announced().as_deref(),
            Some("Transfer-Encoding: chunked")
        );
    }
}
