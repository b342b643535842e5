//! The malformed-Upgrade table: each way an opening handshake can be wrong,
//! with the status and reason every socklab server answers it with.
//!
//! One table, so "every server answers alike" is checked case by case, not
//! assumed: this crate's test runs it through [`crate::check_request`], and
//! each server's own test (ws-echo, push, chat, bridge) sends these very bytes
//! over a real socket and reads back exactly this status and reason. The
//! statuses follow RFC 6455 §4.2.1 and RFC 9110/9112: 400 for a request that is
//! wrong, 403 for a page not allowed, 405 for a method, 426 (with
//! `Sec-WebSocket-Version: 13`) for the wrong protocol or version.

/// The RFC's example key (§1.3): base64 of 16 bytes.
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// One malformed Upgrade and its answer.
#[derive(Debug, Clone)]
pub struct Case {
    /// What is wrong, in a few words.
    pub what: &'static str,
    /// The request's bytes, complete (head and any body).
    pub request: String,
    /// The HTTP status every server answers.
    pub status: u16,
    /// The response body's one line (without its `\n`).
    pub reason: String,
}

/// A valid Upgrade to `/chat` on `host`, with `change` applied to its head
/// (its lines joined by CRLF, before the blank line).
fn upgrade(host: &str, change: impl Fn(String) -> String) -> String {
    let head = format!(
        "GET /chat HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"
    );
    change(head) + "\r\n"
}

/// Every case, for a server reached as `host` (`127.0.0.1:PORT`: the Host
/// header; an Origin naming it would be this server's own page).
pub fn cases(host: &str) -> Vec<Case> {
    let case = |what, change: &dyn Fn(String) -> String, status, reason: &str| Case {
        what,
        request: upgrade(host, change),
        status,
        reason: reason.to_string(),
    };
    let key = |k: &'static str| move |h: String| h.replacen(KEY, k, 1);
    let add = |line: &'static str| move |h: String| h + line;
    let mut cases = vec![
        case(
            "POST",
            &|h| h.replacen("GET", "POST", 1),
            405,
            "method POST not allowed: a WebSocket opens with GET",
        ),
        case(
            "HTTP/1.0",
            &|h| h.replacen("HTTP/1.1", "HTTP/1.0", 1),
            400,
            "HTTP/1.0 cannot upgrade: a WebSocket needs HTTP/1.1",
        ),
        case(
            "no Host",
            &|h| h.replacen(&format!("Host: {host}\r\n"), "", 1),
            400,
            "missing Host header",
        ),
        case(
            "two Hosts",
            &add("Host: 127.0.0.1\r\n"),
            400,
            "more than one Host header (2 lines): which one?",
        ),
        case(
            "target *",
            &|h| h.replacen("GET /chat", "GET *", 1),
            400,
            r#"GET *: the asterisk-form target names no resource, and is only for OPTIONS (RFC 9112 §3.2.4)"#,
        ),
        case(
            "absolute target, other host",
            &|h| h.replacen("GET /chat", "GET http://other.example/chat", 1),
            400,
            &format!("the target names host other.example but the Host header says {host}"),
        ),
        case(
            "a body (Content-Length)",
            &add("Content-Length: 5\r\n"),
            400,
            "Content-Length: 5: an opening handshake has no body, and this server reads none",
        ),
        case(
            "a body (Transfer-Encoding)",
            &add("Transfer-Encoding: chunked\r\n"),
            400,
            "Transfer-Encoding: chunked: an opening handshake has no body, and this server reads none",
        ),
        case(
            "no Upgrade header",
            &|h| h.replacen("Upgrade: websocket\r\n", "", 1),
            426,
            "this path speaks only WebSocket: send Upgrade: websocket (the page is at /)",
        ),
        case(
            "Upgrade: h2c",
            &|h| h.replacen("Upgrade: websocket", "Upgrade: h2c", 1),
            426,
            "this path speaks only WebSocket: send Upgrade: websocket (the page is at /)",
        ),
        case(
            "no Connection: Upgrade",
            &|h| h.replacen("Connection: Upgrade", "Connection: keep-alive", 1),
            426,
            "missing Connection: Upgrade",
        ),
        case(
            "no key",
            &|h| h.replacen(&format!("Sec-WebSocket-Key: {KEY}\r\n"), "", 1),
            400,
            "missing Sec-WebSocket-Key",
        ),
        case(
            "key too short",
            &key("c2hvcnQ="),
            400,
            r#"Sec-WebSocket-Key "c2hvcnQ=" is not base64 of 16 bytes"#,
        ),
        case(
            "key of 20 bytes",
            &key("AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            400,
            r#"Sec-WebSocket-Key "AAAAAAAAAAAAAAAAAAAAAAAAAAA=" is not base64 of 16 bytes"#,
        ),
        case(
            "key with bad characters",
            &key("AAAAAAAAAAAAAAAAAAAA*A=="),
            400,
            r#"Sec-WebSocket-Key "AAAAAAAAAAAAAAAAAAAA*A==" is not base64 of 16 bytes"#,
        ),
        case(
            "key with its last bits set",
            &key("dGhlIHNhbXBsZSBub25jZR=="),
            400,
            r#"Sec-WebSocket-Key "dGhlIHNhbXBsZSBub25jZR==" is not base64 of 16 bytes"#,
        ),
        case(
            "key blank",
            &key(""),
            400,
            r#"Sec-WebSocket-Key "" is not base64 of 16 bytes"#,
        ),
        case(
            "two keys",
            &add("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"),
            400,
            "more than one Sec-WebSocket-Key",
        ),
        case(
            "version 8",
            &|h| h.replacen("Version: 13", "Version: 8", 1),
            426,
            r#"Sec-WebSocket-Version "8" not supported: use 13"#,
        ),
        case(
            "no version",
            &|h| h.replacen("Sec-WebSocket-Version: 13\r\n", "", 1),
            426,
            "missing Sec-WebSocket-Version: 13",
        ),
        case(
            "two versions",
            &add("Sec-WebSocket-Version: 13\r\n"),
            400,
            "more than one Sec-WebSocket-Version",
        ),
        case(
            "another site's Origin",
            &add("Origin: http://evil.example\r\n"),
            403,
            &format!(
                "Origin http://evil.example is not allowed: only pages from {host} may open a WebSocket here (start the server with --allow-origin http://evil.example to allow it)"
            ),
        ),
        case(
            // RFC 9112 §5.2: obs-fold is obsolete; a server may reject it
            // with 400. The reason is http1's own wording for a malformed
            // head, taken from its error so the table cannot drift from it.
            "obs-fold",
            &add("X-Long: one\r\n two\r\n"),
            400,
            &http1::HeadError::Malformed("invalid header name".to_string()).to_string(),
        ),
        case(
            "two Origins",
            &|h| h + &format!("Origin: http://{host}\r\nOrigin: http://evil.example\r\n"),
            400,
            "more than one Origin",
        ),
    ];
    // The body the Content-Length announces, sent too: a server that reads
    // bodies must not take it for the next request (or for frames).
    for c in cases
        .iter_mut()
        .filter(|c| c.what == "a body (Content-Length)")
    {
        c.request.push_str("hello");
    }
    cases
}

/// Whether `response` (the whole answer read off a socket until EOF) is
/// exactly the table's answer to `case`: its status, its reason as the body,
/// and for 426 the `Sec-WebSocket-Version: 13` RFC 6455 §4.4 asks for. The
/// error says what differs, for a server's test to show.
pub fn check_answer(response: &[u8], case: &Case) -> Result<(), String> {
    let text = String::from_utf8_lossy(response);
    let status_line = format!("HTTP/1.1 {} ", case.status);
    let body = format!("\r\n\r\n{}\n", case.reason);
    let version = case.status != 426 || text.contains("\r\nSec-WebSocket-Version: 13\r\n");
    if text.starts_with(&status_line) && text.ends_with(&body) && version {
        Ok(())
    } else {
        Err(format!(
            "{}: wanted {} {:?}, got {text:?}",
            case.what, case.status, case.reason
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decision, OriginPolicy, check_request};

    /// The one check answers every case with exactly the table's status and
    /// reason (each server's own test then checks its answer over a socket).
    #[test]
    fn the_check_answers_the_table() {
        for c in cases("127.0.0.1:8080") {
            match check_request(c.request.as_bytes(), &OriginPolicy::default()) {
                Decision::Reject(r) => {
                    assert_eq!(check_answer(&r.response(), &c), Ok(()));
                    assert_eq!(
                        (r.status, r.reason.as_str()),
                        (c.status, c.reason.as_str()),
                        "{}",
                        c.what
                    )
                }
                other => panic!("{}: {other:?}", c.what),
            }
        }
    }
}
