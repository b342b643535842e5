//! The dashboard's port as raw HTTP: the page, pipelined requests past the
//! pipelining bound (all answered, in order, once the client reads), a report
//! and the refusals (400, 413, 405), and the Origin policy on `/feed`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use classroom::Feed;
use serve::{Limits, Running};

/// Longest any read waits before the test fails instead of hanging.
const DEADLINE: Duration = Duration::from_secs(30);

fn dashboard() -> Running {
    let feed = Feed::new();
    Running::tcp(
        "127.0.0.1:0".parse().expect("addr"),
        move |listener, shutdown| {
            classroom::serve_dashboard(
                listener,
                shutdown,
                feed,
                Default::default(),
                Limits::default(),
            )
        },
    )
    .expect("the dashboard runs")
}

/// Sends `request`, half-closes, and returns everything the server answered.
fn exchange(server: &Running, request: &[u8]) -> String {
    let mut s = TcpStream::connect(server.addr()).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    s.write_all(request).expect("send");
    s.shutdown(Shutdown::Write).expect("FIN");
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).expect("the answer");
    String::from_utf8_lossy(&answer).into_owned()
}

/// 60 pipelined `GET /` (more answer bytes than the pipelining bound): every
/// one is answered, none lost, once the client reads.
#[test]
fn pipelined_pages_all_come_back() {
    const PIPELINED: usize = 60;
    let server = dashboard();
    let one = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let answer = exchange(&server, one.repeat(PIPELINED).as_bytes());
    assert_eq!(answer.matches("HTTP/1.1 200 OK").count(), PIPELINED);
    assert!(answer.contains("socklab classroom"));
}

/// A sound report is taken; junk is 400, a body over the cap 413, a GET 405.
#[test]
fn reports_are_read_by_the_one_reader() {
    let server = dashboard();
    let post = |body: &str| {
        let request = format!(
            "POST /report HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        exchange(&server, request.as_bytes())
    };
    let ok = post(r#"{"name":"ana","exercise":7,"pass":true,"findings":["ok: 101"]}"#);
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let junk = post("not json");
    assert!(junk.starts_with("HTTP/1.1 400"), "{junk}");
    let big = post(&"x".repeat(classroom::report::MAX_REPORT + 1));
    assert!(big.starts_with("HTTP/1.1 413"), "{big}");
    let get = exchange(&server, b"GET /report HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(get.starts_with("HTTP/1.1 405"), "{get}");
}

/// `/feed` follows the one Origin policy: a page from elsewhere gets 403.
#[test]
fn a_foreign_origin_is_refused() {
    let server = dashboard();
    let upgrade = "GET /feed HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
                   Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                   Sec-WebSocket-Version: 13\r\nOrigin: http://evil.example\r\n\r\n";
    let answer = exchange(&server, upgrade.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
}

/// The hostile matrix's upgrade table on `/feed` (scripts/hostile.sh --server
/// classroom): a POST gets the one Upgrade check's 405 with `Allow: GET`, as
/// every WebSocket server answers it, and a `*` target is a 400 with the
/// reason (RFC 9112 §3.2.4), not the dashboard's 404.
#[test]
fn feed_refusals_match_every_server() {
    let server = dashboard();
    let upgrade = |method: &str, target: &str| {
        format!(
            "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        )
    };
    let post = exchange(&server, upgrade("POST", "/feed").as_bytes());
    assert!(post.starts_with("HTTP/1.1 405"), "{post}");
    assert!(post.contains("method POST not allowed"), "{post}");
    assert!(post.contains("Allow: GET"), "{post}");
    let star = exchange(&server, upgrade("GET", "*").as_bytes());
    assert!(star.starts_with("HTTP/1.1 400"), "{star}");
    assert!(star.contains("asterisk-form"), "{star}");
}

/// A request that never ends (a slowloris: the hostile matrix's slowloris on
/// the dashboard) gets the 408 at the opening deadline and the close, as on
/// every server, instead of holding its place forever.
#[test]
fn an_unfinished_request_gets_408() {
    let server = dashboard();
    let mut s = TcpStream::connect(server.addr()).expect("connect");
    s.set_read_timeout(Some(classroom::dashboard::OPENING_DEADLINE + DEADLINE))
        .expect("timeout");
    s.write_all(b"GET /feed HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .expect("send");
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)
        .expect("the answer, then the close");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("no complete request in time"), "{answer}");
}
