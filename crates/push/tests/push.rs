//! The push server over real sockets on 127.0.0.1: each technique, keep-alive,
//! and what hostile or broken clients get.
//!
//! Run: `cargo test -p push`. Raw `TcpStream`s and hand-written requests, so the
//! bytes on the wire are what is checked; events are published through the
//! server's own `POST /publish`, so no test waits on the timer.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use push::Config;
use serve::Limits;
use tungstenite::Message;

fn start(config: Config) -> Server {
    start_with(config, 2)
}

/// Lesson 21: HTTP/1.1 does not cut the connection after a response. Two
/// requests travel over one connection (one 4-tuple), numbered by the server;
/// `Connection: close` is honoured when asked.
#[test]
fn keep_alive_then_close_when_asked() {
    let server = start(quiet());
    let mut s = server.connect();
    s.write_all(get("/poll?since=0", "").as_bytes()).unwrap();
    let (head, body) = response(&mut s);
    assert!(head.contains("Connection: keep-alive\r\n"), "{head}");
    assert!(head.contains("X-Request-Number: 1\r\n"), "{head}");
    assert_eq!(
        body, b"[]\n",
        "short poll with nothing new: an empty answer"
    );
    s.write_all(get("/poll?since=0", "Connection: close\r\n").as_bytes())
        .unwrap();
    let (head, _) = response(&mut s);
    assert!(head.contains("X-Request-Number: 2\r\n"), "{head}");
    assert!(head.contains("Connection: close\r\n"), "{head}");
    let mut rest = Vec::new();
    assert_eq!(
        s.read_to_end(&mut rest).unwrap(),
        0,
        "FIN after the last response"
    );
}

/// Short polling returns what is new since the client's cursor, at once.
#[test]
fn poll_returns_events_after_since() {
    let server = start(quiet());
    let a = server.publish("one");
    let b = server.publish("two");
    let mut s = server.connect();
    s.write_all(get(&format!("/poll?since={a}"), "").as_bytes())
        .unwrap();
    let (_, body) = response(&mut s);
    let events: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["id"].as_u64(), Some(b));
    assert_eq!(events[0]["data"], "two");
}

/// Long polling: the server holds the request until an event arrives, then
/// answers it; with nothing new for --hold, 204 No Content.
#[test]
fn long_poll_is_held_until_an_event_or_the_hold_time() {
    let server = start(Config {
        hold: Duration::from_millis(300),
        ..quiet()
    });
    let mut s = server.connect();
    s.write_all(get("/long-poll?since=0", "").as_bytes())
        .unwrap();
    let (head, _) = response(&mut s);
    assert!(head.starts_with("HTTP/1.1 204 No Content\r\n"), "{head}");
    // Again on the same connection; this time an event comes while it is held.
    s.write_all(get("/long-poll?since=0", "").as_bytes())
        .unwrap();
    let publisher = {
        let addr = server.addr();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            let mut p = TcpStream::connect(addr).unwrap();
            p.write_all(b"POST /publish HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nheld")
                .unwrap();
            let mut sink = [0u8; 256];
            let _ = p.read(&mut sink);
        })
    };
    let (head, body) = response(&mut s);
    publisher.join().unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("\"data\":\"held\""));
    assert!(head.contains("X-Request-Number: 2\r\n"));
}

/// Streaming and Server-Sent Events: one response that never ends, a chunk or
/// an `id:`/`data:` block per event; `Last-Event-ID` resends what was missed.
#[test]
fn stream_and_sse_deliver_each_event_and_sse_resumes() {
    let server = start(quiet());
    let first = server.publish("before");
    let mut stream = server.connect();
    stream.write_all(get("/stream", "").as_bytes()).unwrap();
    let mut sse = server.connect();
    sse.write_all(get("/events", &format!("Last-Event-ID: {}\r\n", first - 1)).as_bytes())
        .unwrap();
    // The SSE head and the resent event arrive before anything is published.
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("\"data\":\"before\"") {
        let n = sse.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got).to_string();
    assert!(
        text.contains("Content-Type: text/event-stream\r\n"),
        "{text}"
    );
    assert!(text.contains(&format!("id: {first}\ndata: ")), "{text}");
    // Wait until the stream's head is in: the subscription is live.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut buf[..1]).unwrap();
        head.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&head).contains("Transfer-Encoding: chunked"));
    let id = server.publish("live");
    let mut chunk = Vec::new();
    while !String::from_utf8_lossy(&chunk).contains("\"data\":\"live\"") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0);
        chunk.extend_from_slice(&buf[..n]);
    }
    let chunk = String::from_utf8_lossy(&chunk).to_string();
    let (size, rest) = chunk.split_once("\r\n").unwrap();
    let line = rest.strip_suffix("\r\n").unwrap();
    assert_eq!(
        usize::from_str_radix(size, 16).unwrap(),
        line.len(),
        "{chunk:?}"
    );
    assert!(line.contains(&format!("\"id\":{id}")));
}

/// WebSocket on the same port: events arrive as messages, and a message the
/// client sends is published as an event for everyone (full duplex).
#[test]
fn websocket_gets_events_and_publishes_what_it_sends() {
    let server = start(quiet());
    let stream = server.connect();
    let (mut ws, _) = tungstenite::client(format!("ws://{}/ws", server.addr()), stream).unwrap();
    let mut sse = server.connect();
    sse.write_all(get("/events", "").as_bytes()).unwrap();
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("retry: ") {
        let n = sse.read(&mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    let id = server.publish("to the socket");
    let m = ws.read().unwrap();
    assert!(
        m.to_text().unwrap().contains(&format!("\"id\":{id}")),
        "{m:?}"
    );
    ws.send(Message::text("from the socket")).unwrap();
    // Everyone gets it: the sender's own socket and the SSE listener.
    let m = ws.read().unwrap();
    assert!(m.to_text().unwrap().contains("from the socket"), "{m:?}");
    while !String::from_utf8_lossy(&got).contains("from the socket") {
        let n = sse.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
}

/// Bad requests get a status and a reason, and the server keeps serving.
#[test]
fn bad_requests_get_their_status() {
    let server = start(quiet());
    let cases: [(&str, &str); 6] = [
        ("GET /poll HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400"),
        ("GET /poll HTTP/1.1\r\n\r\n", "400"),
        ("DELETE /poll HTTP/1.1\r\nHost: t\r\n\r\n", "405"),
        ("GET /nothing HTTP/1.1\r\nHost: t\r\n\r\n", "404"),
        ("POST /publish HTTP/1.1\r\nHost: t\r\n\r\n", "411"),
        (
            "POST /publish HTTP/1.1\r\nHost: t\r\nContent-Length: 99999\r\n\r\n",
            "413",
        ),
    ];
    for (request, status) in cases {
        let mut s = server.connect();
        s.write_all(request.as_bytes()).unwrap();
        let (head, body) = response(&mut s);
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status} ")),
            "{request:?}: {head}"
        );
        assert!(!body.is_empty(), "{status}: no reason given");
    }
    let mut s = server.connect();
    let big = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n",
        "a".repeat(9000)
    );
    let _ = s.write_all(big.as_bytes());
    let (head, _) = response(&mut s);
    assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
    assert_eq!(server.publish("still serving"), 1);
}

/// A connection that sends no complete request in time gets 408.
#[test]
fn no_request_in_time_gets_408() {
    let server = start(Config {
        request_timeout: Duration::from_millis(200),
        ..quiet()
    });
    let mut s = server.connect();
    s.write_all(b"GET /poll HTT").unwrap();
    let (head, _) = response(&mut s);
    assert!(head.starts_with("HTTP/1.1 408 "), "{head}");
}

/// A stream client that stops reading is fed no more than one answer's worth;
/// once the whole window has gone by unread it is dropped — logged and
/// counted — instead of growing the server.
#[test]
fn a_stream_client_that_does_not_read_is_dropped() {
    let server = start(Config {
        keep: 16,
        ..quiet()
    });
    let mut lazy = server.lazy();
    lazy.write_all(get("/stream", "").as_bytes()).unwrap();
    // Its response head has arrived: the subscription is live. From here on it
    // reads nothing.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        lazy.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let big = "x".repeat(4000);
    let deadline = Instant::now() + DEADLINE;
    while server.stats.dropped.load(Ordering::Relaxed) == 0 {
        assert!(
            Instant::now() < deadline,
            "the lazy client was never dropped"
        );
        server.publish(&big);
    }
    assert_eq!(server.stats.dropped.load(Ordering::Relaxed), 1);
}

/// Past --max-connections: 503 with Retry-After.
#[test]
fn past_the_cap_503() {
    let server = start(Config {
        limits: Limits {
            max_connections: 1,
            ..Limits::default()
        },
        ..quiet()
    });
    let mut first = server.connect();
    first.write_all(get("/poll", "").as_bytes()).unwrap();
    let _ = response(&mut first);
    let mut second = server.connect();
    let (head, _) = response(&mut second);
    assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
    assert!(head.contains("Retry-After: 1\r\n"), "{head}");
}

/// Issue 17: every malformed Upgrade of the one table (crates/websocket) gets
/// exactly the status and reason `serve ws` gives it.
#[test]
fn malformed_upgrades_get_the_table_answers() {
    let server = start(quiet());
    let addr = server.addr();
    for case in websocket::malformed::cases(&addr.to_string()) {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.write_all(case.request.as_bytes()).unwrap();
        let mut response = Vec::new();
        let _ = s.read_to_end(&mut response);
        assert_eq!(websocket::malformed::check_answer(&response, &case), Ok(()));
    }
}
