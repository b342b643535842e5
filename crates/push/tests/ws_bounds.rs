//! A WebSocket client of the push server that does not play fair (issue 17):
//! its own test binary, so the flood never runs beside push.rs's tests.
//!
//! Run: `cargo test -p push --test ws_bounds`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use push::Config;
use serve::v3_event_loop::QUEUE_LIMIT;
use serve::{Engine, Running};

/// How long a broken test may wait before it fails instead of hanging.
const DEADLINE: Duration = Duration::from_secs(10);

/// A WebSocket client that floods Pings and never reads its Pongs is not read
/// past the connection machine's bound: what the server queues for it stays
/// within QUEUE_LIMIT plus the read that crossed it.
#[test]
fn ping_flood_without_reading_stays_bounded() {
    /// One Ping's payload: the most a control frame may carry.
    const PING: usize = 125;
    /// How much the flood may try to send: far past every buffer on the way.
    const FLOOD: usize = 64 << 20;
    /// What may be queued past the bound: the one read that crossed it.
    const MARGIN: usize = 64 << 10;

    let engine = Engine::new(1).unwrap();
    let loop_stats = engine.stats();
    let config = Config {
        rate: 0.0,
        ..Config::default()
    };
    let server = Running::tcp("127.0.0.1:0".parse().unwrap(), move |listener, shutdown| {
        push::serve(listener, shutdown, config, engine, Arc::default())
    })
    .unwrap();
    let addr = server.addr();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(
        s,
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "EOF inside the 101");
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "));
    // Masked Pings (a zero mask: the payload goes as it is), many per write.
    let mut ping = vec![0x89, 0x80 | PING as u8, 0, 0, 0, 0];
    ping.extend_from_slice(&[b'p'; PING]);
    let burst: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 512)
        .collect();
    // The flood ends when the server stops reading and every buffer between
    // is full: the write then times out (a deadline, not a sleep).
    s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut sent = 0;
    while sent < FLOOD {
        match s.write(&burst) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    let peak = loop_stats.peak_pending.load(Ordering::Relaxed);
    assert!(
        sent > 2 * QUEUE_LIMIT,
        "the flood must outgrow the bound to show it: {sent} bytes sent"
    );
    assert!(
        peak <= QUEUE_LIMIT + MARGIN,
        "{peak} bytes queued for one client, bound {QUEUE_LIMIT}"
    );
}
