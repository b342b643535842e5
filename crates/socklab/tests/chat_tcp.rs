//! `socklab chat tcp://…` in `socklab serve chat`'s room: what you type must reach
//! the other members. The room's TCP side reads lines (up to `\n`), so the test
//! is that a typed line arrives whole at a raw TCP member, not only that it left.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use chat::Config;
use chat::room::ChatStats;
use lifecycle::Shutdown;
use lifecycle::tcp::listen_tcp;
use serve::Engine;

/// Longest the test may wait for anything before it fails instead of hanging.
const DEADLINE: Duration = Duration::from_secs(20);

/// The line typed into `socklab chat`.
const TYPED: &str = "hello from socklab chat";

/// Lesson 18: a line typed into `socklab chat tcp://` reaches a TCP member of
/// the room (it is sent with its `\n`; without it the room waits forever).
#[test]
fn a_line_typed_into_chat_tcp_reaches_the_room() {
    let tcp = listen_tcp("127.0.0.1:0".parse().expect("addr")).expect("tcp listener");
    let ws = listen_tcp("127.0.0.1:0".parse().expect("addr")).expect("ws listener");
    let tcp_addr = tcp.local_addr().expect("tcp addr");
    let shutdown = Shutdown::new();
    let s = shutdown.clone();
    let room = thread::spawn(move || {
        let stats = Arc::new(ChatStats::default());
        let engines = [Engine::new(1)?, Engine::new(1)?];
        chat::serve(tcp, ws, s, Config::default(), engines, stats)
    });

    // A raw TCP member, already in the room before socklab chat joins.
    let member = TcpStream::connect(tcp_addr).expect("member joins");
    member.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut member = BufReader::new(member);

    // socklab chat, its input a pipe: the line, then (once it has arrived) the
    // end of input, which makes chat close cleanly.
    let mut chat = Command::new(env!("CARGO_BIN_EXE_socklab"))
        .args(["chat", &format!("tcp://{tcp_addr}")])
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("socklab chat starts");
    let mut input = chat.stdin.take().expect("stdin piped");
    input
        .write_all(format!("{TYPED}\n").as_bytes())
        .expect("typed");

    let end = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    let arrived = loop {
        let mut line = String::new();
        match member.read_line(&mut line) {
            Ok(0) | Err(_) => break false,
            Ok(_) if line.contains(TYPED) => break true,
            Ok(_) => seen.push(line),
        }
        if Instant::now() > end {
            break false;
        }
    };
    drop(input);
    let _ = chat.kill();
    let _ = chat.wait();
    shutdown.trigger();
    let _ = room.join();
    assert!(arrived, "the member never got {TYPED:?}; it saw {seen:?}");
}
