//! The push server against the attacks of issue 17, over real sockets on
//! 127.0.0.1: replay amplification, pipelined requests never read, slow
//! subscribers, the memory budget, two publishers at once, and a client
//! publishing as fast as it can. (Request smuggling: `tests/framing.rs`.)
//!
//! Run: `cargo test -p push --test hostile`. Every assert is on bytes or on the
//! server's own counters (its `PushStats`, its memory budget's peak), never on
//! how long something took.

mod common;

use std::io::{Read, Write};
use std::sync::atomic::Ordering;
use std::thread;

use common::*;
use http1::PIPELINE_LIMIT;
use push::Config;
use push::session::ANSWER_CAP;
use serve::Limits;
use tungstenite::Message;
use tungstenite::protocol::frame::coding::CloseCode;

/// An answer carries at most ANSWER_CAP bytes of events and says where to
/// continue (X-More-Since); following it gets every event once; a cursor older
/// than the window is told what is gone (X-Missed).
#[test]
fn replays_are_capped_and_continue() {
    let server = start_with(
        Config {
            keep: 30,
            ..quiet()
        },
        2,
    );
    for _ in 0..32 {
        server.publish(&big_line());
    }
    let (mut since, mut seen, mut answers) = (0, Vec::new(), 0);
    loop {
        let (head, events) = server.poll(since);
        answers += 1;
        if since == 0 {
            assert_eq!(header(&head, "X-Missed"), Some("1-2"), "{head}");
        }
        let bytes: usize = events.iter().map(|e| e.to_string().len()).sum();
        assert!(bytes < ANSWER_CAP + 32 * 1024, "an answer of {bytes} bytes");
        seen.extend(events.iter().map(|e| e["id"].as_u64().unwrap()));
        match header(&head, "X-More-Since") {
            Some(more) => {
                since = more.parse().unwrap();
                assert_eq!(Some(&since), seen.last());
            }
            None => break,
        }
    }
    assert_eq!(seen, (3..=32).collect::<Vec<u64>>());
    assert!(
        answers > 1,
        "the window fit in one answer: the cap was not tried"
    );
    assert_eq!(server.stats.capped.load(Ordering::Relaxed), answers - 1);
}

/// 200 pipelined `GET /poll?since=0` from one connection that never reads:
/// answers are made only while fewer than PIPELINE_LIMIT bytes wait, so the
/// server holds a few answers, not 200, and a fresh client is served.
#[test]
fn pipelined_polls_never_read_stay_bounded() {
    let server = start_with(quiet(), 1);
    const EVENTS: usize = 200;
    for _ in 0..EVENTS {
        server.publish(&big_line());
    }
    let mut attacker = server.lazy();
    let polls = get("/poll?since=0", "").repeat(200);
    attacker.write_all(polls.as_bytes()).unwrap();
    // The first answer is coming: the loop is serving the attacker. It is the
    // only loop, so the next client is served once the attacker's turn is over.
    let mut first = [0u8; 17];
    attacker.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200 OK\r\n");
    let (head, events) = server.poll(EVENTS as u64 - 1);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(events.len(), 1);
    let answered = server.stats.requests.load(Ordering::Relaxed) - EVENTS - 1;
    assert!(
        (1..200).contains(&answered),
        "{answered} of 200 pipelined polls answered: reading did not pause"
    );
    let peak = server.budget().peak();
    assert!(
        peak <= 2 * (PIPELINE_LIMIT + ANSWER_CAP),
        "peak {peak} bytes held for {answered} answers"
    );
}

/// 60 SSE clients resuming from `Last-Event-ID: 0` that never read: each is
/// given one answer's worth and the rest waits in the hub; a fresh client is
/// served while they hang on.
#[test]
fn sse_subscribers_never_reading_stay_bounded() {
    let server = start_with(quiet(), 1);
    const EVENTS: usize = 200;
    for _ in 0..EVENTS {
        server.publish(&big_line());
    }
    let lazy: Vec<_> = (0..60)
        .map(|_| {
            let mut s = server.lazy();
            s.write_all(get("/events", "Last-Event-ID: 0\r\n").as_bytes())
                .unwrap();
            // Its head has come: the server took the request. From here on
            // nothing more is read.
            read_until(&mut s, &mut Vec::new(), "retry: ");
            s
        })
        .collect();
    let (head, events) = server.poll(EVENTS as u64 - 1);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(events.len(), 1);
    assert_eq!(
        server.stats.requests.load(Ordering::Relaxed),
        EVENTS + 60 + 1
    );
    let peak = server.budget().peak();
    // Each holds at most one answer and the room it grew to; unbounded, each
    // would hold all 200 events (about 4.8 MB).
    assert!(peak <= 60 * 2 * (ANSWER_CAP + 32 * 1024), "peak {peak}");
    drop(lazy);
}

/// Past --memory-budget: an answer that would pass it is refused with 503
/// and Retry-After; an SSE stream is ended with a comment saying why; a small
/// answer still fits.
#[test]
fn the_memory_budget_refuses_with_503() {
    let server = start_with(
        Config {
            limits: Limits {
                memory_budget: 64 << 10,
                ..Limits::default()
            },
            ..quiet()
        },
        2,
    );
    for _ in 0..20 {
        server.publish(&big_line());
    }
    let (head, _) = server.poll(0);
    assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
    assert_eq!(header(&head, "Retry-After"), Some("1"));
    let (head, events) = server.poll(19);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(events.len(), 1);
    let mut sse = server.connect();
    sse.write_all(get("/events", "Last-Event-ID: 0\r\n").as_bytes())
        .unwrap();
    let mut got = Vec::new();
    sse.read_to_end(&mut got).unwrap();
    let got = String::from_utf8_lossy(&got);
    assert!(
        got.contains(": the server's memory budget is spent"),
        "{got}"
    );
    assert_eq!(server.stats.over_budget.load(Ordering::Relaxed), 2);
    assert!(server.budget().peak() <= 64 << 10);
}

/// Two publishers at once (two connections, two loops): every subscriber —
/// SSE, chunked stream, WebSocket — gets ids 1, 2, 3 … in order, none missing.
#[test]
fn two_publishers_reach_every_subscriber_in_order() {
    const EACH: u64 = 150;
    let server = start_with(quiet(), 2);
    let mut sse = server.connect();
    sse.write_all(get("/events", "").as_bytes()).unwrap();
    let mut stream = server.connect();
    stream.write_all(get("/stream", "").as_bytes()).unwrap();
    let (mut ws, _) =
        tungstenite::client(format!("ws://{}/ws", server.addr()), server.connect()).unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    read_until(&mut sse, &mut a, "retry: ");
    read_until(&mut stream, &mut b, "\r\n\r\n");
    // A first event through everyone: each subscription is live from here.
    assert_eq!(server.publish("start"), 1);
    read_until(&mut sse, &mut a, "\"start\"");
    read_until(&mut stream, &mut b, "\"start\"");
    assert!(ws.read().unwrap().to_text().unwrap().contains("\"start\""));
    let publishers: Vec<_> = (0..2)
        .map(|p| {
            let addr = server.addr();
            thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(DEADLINE)).unwrap();
                for n in 0..EACH {
                    let line = format!("{p}:{n}");
                    let request = format!(
                        "POST /publish HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{line}",
                        line.len()
                    );
                    s.write_all(request.as_bytes()).unwrap();
                    let (head, _) = response(&mut s);
                    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
                }
            })
        })
        .collect();
    for p in publishers {
        p.join().unwrap();
    }
    let last = 1 + 2 * EACH;
    let want: Vec<u64> = (1..=last).collect();
    read_until(&mut sse, &mut a, &format!("id: {last}\n"));
    let sse_ids: Vec<u64> = String::from_utf8_lossy(&a)
        .lines()
        .filter_map(|l| l.strip_prefix("id: ")?.parse().ok())
        .collect();
    assert_eq!(sse_ids, want, "SSE");
    read_until(&mut stream, &mut b, &format!("\"id\":{last}}}"));
    let stream_ids: Vec<u64> = String::from_utf8_lossy(&b)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["id"].as_u64())
        .collect();
    assert_eq!(stream_ids, want, "chunked stream");
    let mut ws_ids = vec![1];
    while ws_ids.last() != Some(&last) {
        let m = ws.read().unwrap();
        let v: serde_json::Value = serde_json::from_str(m.to_text().unwrap()).unwrap();
        ws_ids.push(v["id"].as_u64().unwrap());
    }
    assert_eq!(ws_ids, want, "WebSocket");
}

/// --publish-rate: past the burst, `POST /publish` gets 429 with Retry-After
/// and the connection stays; a WebSocket is closed with 1008.
#[test]
fn publishing_too_fast_is_429_or_1008() {
    let server = start_with(
        Config {
            publish_rate: 0.001,
            publish_burst: 3,
            ..quiet()
        },
        2,
    );
    let mut s = server.connect();
    for n in 1..=4 {
        s.write_all(b"POST /publish HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx")
            .unwrap();
        let (head, body) = response(&mut s);
        if n <= 3 {
            assert!(head.starts_with("HTTP/1.1 200 "), "{n}: {head}");
        } else {
            assert!(head.starts_with("HTTP/1.1 429 "), "{head}");
            let wait: u64 = header(&head, "Retry-After").unwrap().parse().unwrap();
            assert!(wait >= 1, "{head}");
            assert!(String::from_utf8_lossy(&body).contains("--publish-rate"));
        }
    }
    s.write_all(get("/poll?since=2", "").as_bytes()).unwrap();
    let (head, body) = response(&mut s);
    assert!(head.starts_with("HTTP/1.1 200 "), "kept open: {head}");
    assert!(String::from_utf8_lossy(&body).contains("\"id\":3"));

    let (mut ws, _) =
        tungstenite::client(format!("ws://{}/ws", server.addr()), server.connect()).unwrap();
    for n in 0..4 {
        ws.send(Message::text(format!("m{n}"))).unwrap();
    }
    let close = loop {
        match ws.read() {
            Ok(Message::Close(frame)) => break frame,
            Ok(_) => {}
            Err(e) => panic!("no Close frame: {e}"),
        }
    };
    let frame = close.expect("a close code");
    assert_eq!(frame.code, CloseCode::Policy);
    assert!(frame.reason.contains("--publish-rate"), "{}", frame.reason);
    assert_eq!(server.stats.limited.load(Ordering::Relaxed), 2);
    let (_, events) = server.poll(0);
    assert_eq!(events.len(), 6, "3 POSTs and 3 messages published");
}

/// An SSE client resuming from an id older than the window is told which ids
/// are gone (`event: gap`), then gets everything kept, in order.
#[test]
fn a_resume_past_the_window_gets_a_gap_notice() {
    let server = start_with(Config { keep: 4, ..quiet() }, 2);
    for n in 1..=10 {
        server.publish(&format!("e{n}"));
    }
    let mut sse = server.connect();
    sse.write_all(get("/events", "Last-Event-ID: 1\r\n").as_bytes())
        .unwrap();
    let mut got = Vec::new();
    read_until(&mut sse, &mut got, "id: 10\n");
    let text = String::from_utf8_lossy(&got);
    let gap = "event: gap\ndata: {\"gap\":{\"from\":2,\"to\":6}}\n\n";
    let at = text.find(gap).unwrap_or_else(|| panic!("{text}"));
    let ids: Vec<&str> = text[at..]
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .collect();
    assert_eq!(ids, ["7", "8", "9", "10"]);
    assert_eq!(server.stats.gaps.load(Ordering::Relaxed), 1);
}

/// Three WebSocket clients publishing bursts as fast as they can (no rate
/// limit here) on the same loop as an SSE subscriber: the subscriber still
/// gets every id, in order. Whether or not the loop's mailbox overflowed in
/// this run (past 4096 letters a post fails), a letter that never came is read
/// from the hub's window.
#[test]
fn publishing_bursts_reach_a_subscriber_whole() {
    const EACH: u64 = 4000;
    const PUBLISHERS: u64 = 3;
    let server = start_with(
        Config {
            keep: 16384,
            ..quiet()
        },
        1,
    );
    let mut sse = server.connect();
    sse.write_all(get("/events", "").as_bytes()).unwrap();
    let mut got = Vec::new();
    read_until(&mut sse, &mut got, "retry: ");
    let mut publishers: Vec<_> = (0..PUBLISHERS)
        .map(|_| {
            let url = format!("ws://{}/ws", server.addr());
            tungstenite::client(url, server.connect()).unwrap().0
        })
        .collect();
    // Queued first, then flushed one after the other: the three bursts land
    // in the loop together.
    for (p, ws) in publishers.iter_mut().enumerate() {
        for n in 0..EACH {
            ws.write(Message::text(format!("{p}:{n}"))).unwrap();
        }
    }
    for ws in &mut publishers {
        ws.flush().unwrap();
    }
    let last = EACH * PUBLISHERS;
    read_until(&mut sse, &mut got, &format!("id: {last}\n"));
    let ids: Vec<u64> = String::from_utf8_lossy(&got)
        .lines()
        .filter_map(|l| l.strip_prefix("id: ")?.parse().ok())
        .collect();
    assert_eq!(ids, (1..=last).collect::<Vec<u64>>());
}
