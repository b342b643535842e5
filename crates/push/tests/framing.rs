//! The push server's HTTP request side over real sockets on 127.0.0.1: the
//! smuggling set (every framing two readers could disagree on) refused and
//! closed, bodies read by their framing and never run as requests, and
//! `Expect: 100-continue`. The rules themselves are http1's, tested without
//! a socket in `crates/http/src/framing.rs`.
//!
//! Run: `cargo test -p push --test framing`.

mod common;

use std::io::{Read, Write};
use std::sync::atomic::Ordering;

use common::*;

/// Smuggling: every framing the two readers of a chain could disagree on is
/// refused with its status and a reason, and the connection closed after it —
/// the bytes behind are never run as a request.
#[test]
fn smuggling_set_is_refused_and_closed() {
    let server = start_with(quiet(), 2);
    let cases: [(&str, &str, &str); 7] = [
        (
            "POST /publish HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\nhello",
            "400",
            "Content-Length given 2 times",
        ),
        (
            "POST /publish HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            "400",
            "Transfer-Encoding and Content-Length together",
        ),
        (
            "POST /publish HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello",
            "400",
            "is not a length",
        ),
        (
            "GET /poll HTTP/1.1\nHost: t\n\n",
            "400",
            "HTTP lines end in CRLF (\\r\\n). Typing HTTP by hand? use `ncat -C`",
        ),
        (
            "POST /publish HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
            "400",
            "the last coding must be chunked",
        ),
        (
            "POST /publish HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "501",
            "transfer coding \"gzip\" is not implemented here",
        ),
        (
            "POST /publish HTTP/1.1\r\nHost: t\r\nContent-Length: 99999\r\n\r\n",
            "413",
            "this server takes at most 4096",
        ),
    ];
    for (request, status, reason) in cases {
        let mut s = server.connect();
        s.write_all(request.as_bytes()).unwrap();
        s.write_all(get("/poll?since=0", "").as_bytes()).unwrap();
        let (head, body) = response(&mut s);
        let body = String::from_utf8_lossy(&body);
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status} ")),
            "{request:?}: {head}"
        );
        assert!(body.contains(reason), "{request:?}: {body}");
        assert!(head.contains("Connection: close\r\n"), "{head}");
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        assert!(
            rest.is_empty(),
            "{request:?}: the request behind was answered"
        );
    }
    assert_eq!(server.stats.requests.load(Ordering::Relaxed), 0);
}

/// A body on a GET is read by its length and ignored, never run as the next
/// request; a chunked POST is read by its chunks.
#[test]
fn bodies_are_read_by_their_framing() {
    let server = start_with(quiet(), 2);
    let mut s = server.connect();
    let hidden = "GET /nothing HTTP/1.1\r\nHost: t\r\n\r\n";
    write!(
        s,
        "GET /poll?since=0 HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{hidden}",
        hidden.len()
    )
    .unwrap();
    s.write_all(
        b"POST /publish HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          3\r\nchu\r\n4\r\nnked\r\n0\r\n\r\n",
    )
    .unwrap();
    s.write_all(get("/poll?since=0", "Connection: close\r\n").as_bytes())
        .unwrap();
    let (one, body) = response(&mut s);
    assert!(one.starts_with("HTTP/1.1 200 "), "{one}");
    assert_eq!(body, b"[]\n");
    let (two, body) = response(&mut s);
    assert!(two.starts_with("HTTP/1.1 200 "), "{two}");
    assert_eq!(body, b"{\"id\":1}\n");
    let (three, body) = response(&mut s);
    assert!(three.contains("X-Request-Number: 3\r\n"), "{three}");
    assert!(String::from_utf8_lossy(&body).contains("\"data\":\"chunked\""));
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    assert!(
        rest.is_empty(),
        "no fourth answer: {:?}",
        String::from_utf8_lossy(&rest)
    );
}

/// `Expect: 100-continue`: the go-ahead comes before the body is sent, then
/// the answer.
#[test]
fn expect_100_continue_gets_the_go_ahead() {
    let server = start_with(quiet(), 2);
    let mut s = server.connect();
    s.write_all(
        b"POST /publish HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let mut go = [0u8; 25];
    s.read_exact(&mut go).unwrap();
    assert_eq!(&go, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"hello").unwrap();
    let (head, body) = response(&mut s);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(body, b"{\"id\":1}\n");
}
