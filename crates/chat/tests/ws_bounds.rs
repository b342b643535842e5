//! A WebSocket member that does not play fair, against the chat server's
//! bounds (issue 17). Its own test binary, so the flood never runs beside
//! room.rs's timing-sensitive slow-consumer test (cargo runs test binaries one
//! after another).
//!
//! Run: `cargo test -p chat --test ws_bounds`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;

use chat::Config;
use lifecycle::Shutdown;
use lifecycle::tcp::listen_tcp;
use serve::Engine;

/// How long a broken test may wait before it fails instead of hanging.
const DEADLINE: Duration = Duration::from_secs(10);

/// Issue 17: a WebSocket member that floods Pings and never reads its Pongs
/// is no longer read once its queued Pongs pass the machine's bound, so what
/// the server holds for it stays at that bound (before: ~300 MB/s of Pongs).
#[test]
fn ping_flood_without_reading_stays_bounded() {
    use serve::v3_event_loop::QUEUE_LIMIT;
    /// One Ping's payload: the most a control frame may carry.
    const PING: usize = 125;
    /// How much the flood may try to send: far past every buffer on the way.
    const FLOOD: usize = 64 << 20;
    /// What may be queued past the bound: the one read that crossed it.
    const MARGIN: usize = 64 << 10;

    let tcp = listen_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
    let ws = listen_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = ws.local_addr().unwrap();
    let (tcp_engine, ws_engine) = (Engine::new(1).unwrap(), Engine::new(1).unwrap());
    let loop_stats = ws_engine.stats();
    let shutdown = Shutdown::new();
    let s = shutdown.clone();
    let server = thread::spawn(move || {
        let stats = Arc::default();
        chat::serve(
            tcp,
            ws,
            s,
            Config::default(),
            [tcp_engine, ws_engine],
            stats,
        )
    });

    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
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
        "{peak} bytes queued for one member, bound {QUEUE_LIMIT}"
    );
    drop(s);
    shutdown.trigger();
    let _ = server.join();
}
