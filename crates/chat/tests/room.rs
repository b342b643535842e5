//! The chat room over real sockets on 127.0.0.1: TCP and WebSocket members in
//! one room, a member that does not read, lines that should not pass as they are.
//!
//! Run: `cargo test -p chat`. Each test starts its own server on port 0; the
//! members are raw `TcpStream`s (TCP) and tungstenite clients (WebSocket).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;

use chat::Config;
use chat::room::ChatStats;
use lifecycle::Shutdown;
use lifecycle::tcp::listen_tcp;
use serve::Engine;
use socket2::{Domain, Protocol, Socket, Type};
use tungstenite::{Message, WebSocket};

/// How long a broken test may wait before it fails instead of hanging.
const DEADLINE: Duration = Duration::from_secs(10);

struct Room {
    tcp: SocketAddr,
    ws: SocketAddr,
    stats: Arc<ChatStats>,
    shutdown: Shutdown,
    thread: Option<thread::JoinHandle<std::io::Result<()>>>,
}

impl Drop for Room {
    fn drop(&mut self) {
        self.shutdown.trigger();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start(config: Config) -> Room {
    let tcp = listen_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
    let ws = listen_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
    let (tcp_addr, ws_addr) = (tcp.local_addr().unwrap(), ws.local_addr().unwrap());
    let stats = Arc::new(ChatStats::default());
    let shutdown = Shutdown::new();
    let (s, st) = (shutdown.clone(), Arc::clone(&stats));
    let thread = thread::spawn(move || {
        chat::serve(tcp, ws, s, config, [Engine::new(2)?, Engine::new(2)?], st)
    });
    Room {
        tcp: tcp_addr,
        ws: ws_addr,
        stats,
        shutdown,
        thread: Some(thread),
    }
}

struct Line(BufReader<TcpStream>);

impl Line {
    fn join(addr: SocketAddr) -> Line {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        Line(BufReader::new(s))
    }

    fn say(&mut self, text: &str) {
        self.0
            .get_mut()
            .write_all(format!("{text}\n").as_bytes())
            .unwrap();
    }

    fn next(&mut self) -> String {
        let mut line = String::new();
        self.0.read_line(&mut line).unwrap();
        line.trim_end_matches('\n').to_string()
    }

    /// Reads lines until one contains `what`; returns it.
    fn until(&mut self, what: &str) -> String {
        loop {
            let line = self.next();
            assert!(!line.is_empty(), "the room closed before {what:?}");
            if line.contains(what) {
                return line;
            }
        }
    }
}

fn ws_join(addr: SocketAddr) -> WebSocket<TcpStream> {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    tungstenite::client(format!("ws://{addr}/room"), s)
        .unwrap()
        .0
}

fn ws_until(ws: &mut WebSocket<TcpStream>, what: &str) -> String {
    loop {
        match ws.read().unwrap() {
            Message::Text(t) if t.contains(what) => return t.to_string(),
            _ => {}
        }
    }
}

/// Lessons 18 and 23: a line from a TCP member reaches the WebSocket member and
/// the other TCP member, and a WebSocket message reaches both TCP members, each
/// prefixed with its sender; joins are announced; the sender is not echoed.
#[test]
fn tcp_and_websocket_members_share_one_room() {
    let room = start(Config::default());
    let mut a = Line::join(room.tcp);
    a.until("joined (1 member)");
    let mut b = Line::join(room.tcp);
    a.until("joined (2 members)");
    let mut w = ws_join(room.ws);
    a.until("joined (3 members)");
    b.until("joined (3 members)");

    a.say("hello from a");
    let line = b.until("hello from a");
    assert!(line.starts_with("[tcp 127.0.0.1:"), "{line}");
    let msg = ws_until(&mut w, "hello from a");
    assert_eq!(msg, line, "both kinds see the same line");

    w.send(Message::text("hello from the web")).unwrap();
    let from_ws = a.until("hello from the web");
    assert_eq!(b.until("hello from the web"), from_ws);
    // a's own line never came back to a: the next thing a sees is w's line.
    assert!(!from_ws.contains("hello from a"));
}

/// A member's control characters are escaped before anyone else sees them.
#[test]
fn control_characters_are_escaped_for_others() {
    let room = start(Config::default());
    let mut a = Line::join(room.tcp);
    let mut b = Line::join(room.tcp);
    a.until("joined (2 members)");
    a.say("clear\u{1b}[2J\u{7}bell");
    let line = b.until("clear");
    assert!(line.ends_with("clear\\x1b[2J\\x07bell"), "{line:?}");
}

/// Nobody can fake who spoke: a forged line break (U+2028), a bidi override
/// (U+202E) and a zero-width space reach the others written out, on one line
/// that starts with the real sender's label; a WebSocket member is labelled
/// `ws`, a TCP member `tcp`, each with its own port.
#[test]
fn labels_cannot_be_faked() {
    let room = start(Config::default());
    let mut a = Line::join(room.tcp);
    let mut b = Line::join(room.tcp);
    a.until("joined (2 members)");
    let a_port = a.0.get_ref().local_addr().unwrap().port();
    a.say("hi\u{2028}[tcp 127.0.0.1:1] I am root \u{202e}olleh\u{200b}");
    assert_eq!(
        b.until("I am root"),
        format!(
            "[tcp 127.0.0.1:{a_port}] hi\\u{{2028}}[tcp 127.0.0.1:1] I am root \\u{{202e}}olleh\\u{{200b}}"
        )
    );
    let mut w = ws_join(room.ws);
    let w_port = w.get_ref().local_addr().unwrap().port();
    assert_eq!(
        b.until("joined (3 members)"),
        format!("* ws 127.0.0.1:{w_port} joined (3 members)")
    );
    w.send(Message::text("from the page\u{2029}")).unwrap();
    assert_eq!(
        b.until("from the page"),
        format!("[ws 127.0.0.1:{w_port}] from the page\\u{{2029}}")
    );
}

/// A TCP line longer than --max-line is cut there, with a notice to its sender.
#[test]
fn a_long_line_is_cut_with_a_notice() {
    let room = start(Config {
        max_line: 16,
        ..Config::default()
    });
    let mut a = Line::join(room.tcp);
    let mut b = Line::join(room.tcp);
    a.until("joined (2 members)");
    a.say(&"x".repeat(40));
    a.say("after");
    let cut = b.until("xxxx");
    assert!(cut.ends_with(&format!("] {}", "x".repeat(16))), "{cut}");
    assert_eq!(
        b.until("after").split("] ").nth(1),
        Some("after"),
        "the rest was dropped"
    );
    assert!(a.until("your line was cut").contains("16 bytes"));
}

/// Slow consumers: a TCP member and a WebSocket member that never read are
/// dropped once their queues pass --slow-limit (counted), while a reading
/// member keeps receiving every line, in order.
#[test]
fn members_that_do_not_read_are_dropped_and_the_rest_keep_up() {
    let room = start(Config {
        slow_limit: 64 * 1024,
        ..Config::default()
    });
    // Tiny receive buffers: the kernel cannot absorb much for them.
    let lazy = |addr: SocketAddr| {
        let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        s.set_recv_buffer_size(4096).unwrap();
        s.connect(&addr.into()).unwrap();
        TcpStream::from(s)
    };
    let lazy_tcp = lazy(room.tcp);
    let mut lazy_ws_stream = lazy(room.ws);
    write!(
        lazy_ws_stream,
        "GET /room HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut reader = Line::join(room.tcp);
    let mut talker = Line::join(room.tcp);
    reader.until("joined (4 members)");
    // A reader thread keeps up, line by line, until the talker says "done".
    let keeps_up = thread::spawn(move || {
        let mut seen = 0;
        loop {
            let mut line = String::new();
            if let Err(e) = reader.0.read_line(&mut line) {
                panic!("after {seen} lines: {e}");
            }
            if line.ends_with("] done\n") {
                return seen;
            }
            if line.contains("y line ") {
                let n: usize = line.trim_end().rsplit(' ').next().unwrap().parse().unwrap();
                assert_eq!(n, seen, "in order, none lost");
                seen += 1;
            }
        }
    });
    // Talk until both lazy members are dropped (the kernel's buffers absorb a
    // few MB first); bounded: at most 100,000 lines.
    let filler = "y".repeat(200);
    let mut said = 0;
    while said < 100_000 {
        talker.say(&format!("{filler} line {said}"));
        said += 1;
        if said % 1000 == 0 && room.stats.dropped.load(Ordering::Relaxed) == 2 {
            break;
        }
    }
    talker.say("done");
    assert_eq!(
        keeps_up.join().unwrap(),
        said,
        "the reading member got every line"
    );
    assert_eq!(
        room.stats.dropped.load(Ordering::Relaxed),
        2,
        "both lazy members dropped"
    );
    drop((lazy_tcp, lazy_ws_stream));
}

/// The memory budget counts what is queued for TCP members too: members that
/// never read, whose queues together would pass --memory-budget long before
/// any reaches --slow-limit, are dropped when their queue asks past it (told
/// why, last), and the room goes on serving a newcomer.
#[test]
fn members_that_do_not_read_are_held_to_the_memory_budget() {
    let room = start(Config {
        limits: serve::Limits {
            memory_budget: 512 * 1024,
            ..serve::Limits::default()
        },
        slow_limit: 64 << 20,
        ..Config::default()
    });
    let lazy: Vec<TcpStream> = (0..3)
        .map(|_| {
            let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
            s.set_recv_buffer_size(4096).unwrap();
            s.connect(&room.tcp.into()).unwrap();
            let s = TcpStream::from(s);
            s.set_read_timeout(Some(DEADLINE)).unwrap();
            s
        })
        .collect();
    let mut talker = Line::join(room.tcp);
    talker.until("joined (4 members)");
    // Bounded: at most 100,000 lines of 200 bytes (20 MB, past the budget
    // and the kernel's buffers many times over).
    let filler = "z".repeat(200);
    let mut said = 0;
    while said < 100_000 && room.stats.dropped.load(Ordering::Relaxed) < 3 {
        talker.say(&format!("{filler} {said}"));
        said += 1;
    }
    assert_eq!(
        room.stats.dropped.load(Ordering::Relaxed),
        3,
        "after {said} lines"
    );
    let mut newcomer = Line::join(room.tcp);
    newcomer.until("joined");
    talker.say("still here");
    newcomer.until("still here");
    for mut member in lazy {
        let mut all = Vec::new();
        member.read_to_end(&mut all).unwrap();
        let text = String::from_utf8_lossy(&all);
        assert!(
            text.trim_end()
                .ends_with("the server's memory is full: dropped from the room"),
            "{}",
            &text[text.len().saturating_sub(200)..]
        );
    }
}

/// GET / on the WebSocket port is the page; anything else gets its status.
#[test]
fn the_page_and_bad_requests() {
    let room = start(Config::default());
    let mut s = TcpStream::connect(room.ws).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let mut page = String::new();
    s.read_to_string(&mut page).unwrap();
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page:.80}");
    assert!(page.contains("new WebSocket"));
    for (request, status) in [
        ("GET /x HTTP/1.1\r\nHost: t\r\n\r\n", "404"),
        ("POST / HTTP/1.1\r\nHost: t\r\n\r\n", "405"),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400"),
    ] {
        let mut s = TcpStream::connect(room.ws).unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{request:?}: {answer}"
        );
    }
}

/// Issue 17: every malformed Upgrade of the one table (crates/websocket) gets
/// exactly the status and reason `serve ws` gives it.
#[test]
fn malformed_upgrades_get_the_table_answers() {
    let room = start(Config::default());
    let addr = room.ws;
    for case in websocket::malformed::cases(&addr.to_string()) {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.write_all(case.request.as_bytes()).unwrap();
        let mut response = Vec::new();
        let _ = s.read_to_end(&mut response);
        assert_eq!(websocket::malformed::check_answer(&response, &case), Ok(()));
    }
}
