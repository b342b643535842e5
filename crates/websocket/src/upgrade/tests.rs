//! The Upgrade check's unit tests: every RFC 6455 §4.2.1 rule, each with its status.

use super::*;
use crate::origin::OriginPolicy;

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
    match check_request(bytes, &OriginPolicy::default()) {
        Decision::Reject(r) => r.status,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// Lesson 6: the RFC's example key gives the RFC's example Accept.
#[test]
fn rfc_example_key_gives_rfc_accept() {
    let Decision::Upgrade(up) = check_request(valid().as_bytes(), &OriginPolicy::default()) else {
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
            check_request(&full.as_bytes()[..cut], &OriginPolicy::default()),
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
    let Decision::Upgrade(up) = check_request(&bytes, &OriginPolicy::default()) else {
        panic!()
    };
    assert_eq!(up.head_len, head);
}

/// Lesson 8: the page and the WebSocket share a port; a plain GET / is the page.
#[test]
fn plain_get_root_is_the_page() {
    let req = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    assert_eq!(check_request(req, &OriginPolicy::default()), Decision::Page);
    let req = b"GET /?auto HTTP/1.1\r\nHost: localhost\r\n\r\n";
    assert_eq!(check_request(req, &OriginPolicy::default()), Decision::Page);
}

/// Browsers send several Connection tokens and any case.
#[test]
fn tokens_are_case_insensitive_lists() {
    let req = "GET / HTTP/1.1\r\nhost: x\r\nupgrade: WebSocket\r\nconnection: keep-alive, Upgrade\r\n\
               sec-websocket-key: AAAAAAAAAAAAAAAAAAAAAA==\r\nsec-websocket-version: 13\r\n\r\n";
    assert!(matches!(
        check_request(req.as_bytes(), &OriginPolicy::default()),
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
        check_request(zero.as_bytes(), &OriginPolicy::default()),
        Decision::Upgrade(_)
    ));
    let absolute = valid().replacen("GET /chat", "GET http://127.0.0.1/chat", 1);
    let Decision::Upgrade(up) = check_request(absolute.as_bytes(), &OriginPolicy::default()) else {
        panic!("an absolute-form target naming the Host must upgrade");
    };
    assert_eq!(up.request_line, "GET http://127.0.0.1/chat HTTP/1.1");
    let page = b"GET http://localhost HTTP/1.1\r\nHost: LOCALHOST\r\n\r\n";
    assert_eq!(
        check_request(page, &OriginPolicy::default()),
        Decision::Page
    );
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

/// Lesson 16: the default refuses another site's page; --allow-origin adds
/// it; a client that sends no Origin (not a browser) always upgrades.
#[test]
fn origin_policy() {
    let allow = OriginPolicy::from_flags(&["http://good.example".to_string()]);
    let default = OriginPolicy::default();
    let good = request("Sec-WebSocket-Version: 13\r\nOrigin: http://good.example\r\n");
    let bad = request("Sec-WebSocket-Version: 13\r\nOrigin: http://evil.example\r\n");
    let own = request("Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1\r\n");
    let upgrades = |req: &str, p: &OriginPolicy| {
        matches!(check_request(req.as_bytes(), p), Decision::Upgrade(_))
    };
    assert!(upgrades(&good, &allow));
    assert!(upgrades(&own, &allow));
    assert!(upgrades(&own, &default));
    assert!(upgrades(&valid(), &allow));
    assert!(upgrades(&valid(), &default));
    assert!(upgrades(&bad, &OriginPolicy::any()));
    for p in [&allow, &default] {
        let Decision::Reject(r) = check_request(bad.as_bytes(), p) else {
            panic!("another site's page must be refused");
        };
        assert_eq!(r.status, 403);
        assert!(
            r.reason
                .starts_with("Origin http://evil.example is not allowed")
        );
        assert!(r.reason.contains("--allow-origin"));
    }
    let twice = request(
        "Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1\r\nOrigin: http://evil.example\r\n",
    );
    assert_eq!(status(twice.as_bytes()), 400);
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
