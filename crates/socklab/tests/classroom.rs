//! `socklab classroom` as a class uses it: one process, thirty students on
//! tcp, udp and WebSocket, a dashboard reading `/feed` — and the feed's events
//! counted against what the students did (delivered + skipped = expected).
//! Then hostile students: a flood that never reads, a dashboard that never
//! reads, a thousand connections that vanish with a RST; the others are still served and
//! the dashboard still hears about them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown as Half, SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use tungstenite::Message;

/// Longest the test waits for anything before it fails instead of hanging.
const DEADLINE: Duration = Duration::from_secs(30);

/// The class code the tests use.
const CODE: &str = "owl";

/// Students per protocol in the class test: 10 × tcp, udp, ws = 30.
const PER_PROTO: usize = 10;

/// A `socklab classroom` process, killed when dropped.
struct Classroom {
    child: Child,
    urls: Value,
}

impl Classroom {
    fn start(extra: &[&str]) -> Classroom {
        let mut child = Command::new(env!("CARGO_BIN_EXE_socklab"))
            .args(["classroom", "--addr", "127.0.0.1", "--port", "0", "--json"])
            .args(extra)
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("socklab classroom starts");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout piped");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the URLs line");
        let urls: Value = serde_json::from_str(&line).expect("one JSON line");
        Classroom { child, urls }
    }

    /// The address in `urls[name]` (`tcp://127.0.0.1:PORT`, `ws://…/`).
    fn addr(&self, name: &str) -> SocketAddr {
        let url = self.urls[name].as_str().expect("a URL");
        let rest = url.split("://").nth(1).expect("scheme://");
        rest.split('/')
            .next()
            .expect("host:port")
            .parse()
            .expect("an address")
    }
}

impl Drop for Classroom {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A dashboard reading `/feed` on a thread; every event it reads is kept.
struct Dashboard {
    events: Arc<Mutex<Vec<Value>>>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Dashboard {
    fn open(class: &Classroom) -> Dashboard {
        let addr = class.addr("dashboard");
        let stream = TcpStream::connect(addr).expect("dashboard port");
        stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
        let (mut ws, _) =
            tungstenite::client(format!("ws://{addr}/feed"), stream).expect("the feed's 101");
        // From here on short reads, so the thread sees `stop` soon.
        ws.get_mut()
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let (events, stop) = (
            Arc::new(Mutex::new(Vec::new())),
            Arc::new(AtomicBool::new(false)),
        );
        let (e, s) = (Arc::clone(&events), Arc::clone(&stop));
        let thread = thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match ws.read() {
                    Ok(Message::Text(t)) => {
                        let v: Value = serde_json::from_str(&t).expect("every event is JSON");
                        e.lock().expect("lock").push(v);
                    }
                    Ok(_) => {}
                    Err(tungstenite::Error::Io(io))
                        if matches!(
                            io.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => return,
                }
            }
        });
        Dashboard {
            events,
            stop,
            thread: Some(thread),
        }
    }

    /// How many events of `kind` arrived (for `proto`, or any).
    fn count(&self, kind: &str, proto: Option<&str>) -> u64 {
        let events = self.events.lock().expect("lock");
        events
            .iter()
            .filter(|e| e["event"] == kind && proto.is_none_or(|p| e["proto"] == p))
            .count() as u64
    }

    /// The sum of `field` over the events of `kind` for `proto`.
    fn sum(&self, kind: &str, proto: &str, field: &str) -> u64 {
        let events = self.events.lock().expect("lock");
        events
            .iter()
            .filter(|e| e["event"] == kind && e["proto"] == proto)
            .filter_map(|e| e[field].as_u64())
            .sum()
    }

    /// What the skip notices say was left out, under `field`.
    fn skipped(&self, field: &str) -> u64 {
        let events = self.events.lock().expect("lock");
        events
            .iter()
            .filter(|e| e["event"] == "skip")
            .filter_map(|e| e[field].as_u64())
            .sum()
    }

    /// Waits until `done` holds (or the deadline passes) and says whether it did.
    fn wait_for(&self, done: impl Fn(&Dashboard) -> bool) -> bool {
        let end = Instant::now() + DEADLINE;
        while Instant::now() < end {
            if done(self) {
                return true;
            }
            thread::park_timeout(Duration::from_millis(50));
        }
        done(self)
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One TCP student: the code, one line, its echo, FIN, the server's FIN.
/// Returns the bytes it sent after the code.
fn tcp_student(addr: SocketAddr, n: usize) -> u64 {
    let mut s = TcpStream::connect(addr).expect("tcp student connects");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let line = format!("hello from student {n}\n");
    s.write_all(format!("{CODE}\n{line}").as_bytes())
        .expect("send");
    let mut echo = vec![0; line.len()];
    s.read_exact(&mut echo).expect("the echo");
    assert_eq!(
        echo,
        line.as_bytes(),
        "the code is consumed, the line echoed"
    );
    s.shutdown(Half::Write).expect("FIN");
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).expect("the server's FIN");
    assert!(rest.is_empty(), "nothing after the echo: {rest:?}");
    line.len() as u64
}

/// One UDP student: the code (swallowed), then a datagram and its echo.
fn udp_student(addr: SocketAddr, n: usize) -> u64 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    s.send_to(CODE.as_bytes(), addr).expect("the code");
    let ping = format!("ping {n}");
    let mut buf = [0; 64];
    // UDP may lose a datagram even on loopback; a few tries, bounded.
    for _ in 0..5 {
        s.send_to(ping.as_bytes(), addr).expect("send");
        if let Ok(got) = s.recv(&mut buf) {
            assert_eq!(&buf[..got], ping.as_bytes(), "the code is not echoed");
            return ping.len() as u64;
        }
    }
    panic!("no echo for {ping}");
}

/// One WebSocket student: `?code=` in the URL, one message, its echo, Close.
fn ws_student(addr: SocketAddr, n: usize) {
    let stream = TcpStream::connect(addr).expect("ws student connects");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let url = format!("ws://{addr}/?code={CODE}");
    let (mut ws, _) = tungstenite::client(url, stream).expect("101");
    let text = format!("hi {n}");
    ws.send(Message::text(text.clone())).expect("send");
    assert_eq!(ws.read().expect("echo"), Message::text(text));
    ws.close(None).expect("close");
    while ws.read().is_ok() {} // until the server's Close and FIN
}

/// Lessons 1, 2, 10, 11 on one screen: thirty students, and the feed says
/// exactly what they did — an open per student, a close per TCP and WebSocket
/// student, their bytes, four frames per WebSocket (text and close, each way).
#[test]
fn thirty_students_and_the_feed_counts_them() {
    let class = Classroom::start(&["--code", CODE]);
    let dash = Dashboard::open(&class);
    let (tcp, udp, ws) = (class.addr("tcp"), class.addr("udp"), class.addr("ws"));

    // Strangers (no code) are served but are not students.
    let mut stranger = TcpStream::connect(tcp).expect("stranger");
    stranger.set_read_timeout(Some(DEADLINE)).expect("timeout");
    stranger.write_all(b"no code here\n").expect("send");
    let mut echo = [0; 13];
    stranger
        .read_exact(&mut echo)
        .expect("a stranger is echoed too");
    drop(stranger);

    let students: Vec<_> = (0..PER_PROTO)
        .map(|n| {
            thread::spawn(move || {
                let t = tcp_student(tcp, n);
                let u = udp_student(udp, n);
                ws_student(ws, n);
                (t, u)
            })
        })
        .collect();
    let (mut tcp_bytes, mut udp_bytes) = (0, 0);
    for s in students {
        let (t, u) = s.join().expect("a student finished");
        tcp_bytes += t;
        udp_bytes += u;
    }

    let closes = 2 * PER_PROTO as u64; // UDP has no close until it is idle
    let all_in = dash.wait_for(|d| {
        d.count("close", None) + d.skipped("closes") >= closes
            && d.sum("data", "udp", "in") + d.skipped("bytes_in") >= udp_bytes
    });
    assert!(all_in, "the feed never reported every close");
    assert_eq!(
        dash.skipped("events"),
        0,
        "a reading dashboard skips nothing"
    );
    for proto in ["tcp", "udp", "ws"] {
        assert_eq!(
            dash.count("open", Some(proto)),
            PER_PROTO as u64,
            "{proto} opens"
        );
    }
    assert_eq!(dash.count("close", Some("tcp")), PER_PROTO as u64);
    assert_eq!(dash.count("close", Some("ws")), PER_PROTO as u64);
    assert_eq!(
        dash.sum("data", "tcp", "in"),
        tcp_bytes,
        "tcp bytes in, code excluded"
    );
    assert_eq!(
        dash.sum("data", "tcp", "out"),
        tcp_bytes,
        "tcp bytes echoed"
    );
    assert_eq!(dash.sum("data", "udp", "in"), udp_bytes);
    assert_eq!(dash.sum("frame", "ws", "count"), 4 * PER_PROTO as u64);
    let events = dash.events.lock().expect("lock");
    for e in events.iter() {
        for key in ["event", "conn", "proto", "peer"] {
            assert!(!e[key].is_null(), "{key} missing in {e}");
        }
    }
    // A TCP student sent the first FIN; a WebSocket server closes TCP first.
    let first_fin = |proto: &str| {
        events
            .iter()
            .filter(|e| e["event"] == "close" && e["proto"] == proto)
            .all(|e| e["first_fin"] == if proto == "tcp" { "student" } else { "server" })
    };
    assert!(first_fin("tcp") && first_fin("ws"), "who closed first");
}

/// Hostile students do not stall the class: a flood that never reads, a
/// dashboard that never reads, and a thousand connections that give the code
/// and vanish with a RST. A good student is still echoed, and the reading dashboard
/// hears every one of them (delivered + skipped = expected).
#[test]
fn hostile_students_do_not_stall_the_others() {
    const VANISHING: u64 = 1000;
    const FLOOD: usize = 8 << 20; // bytes the flood tries to push, at most
    let class = Classroom::start(&["--code", CODE]);
    let dash = Dashboard::open(&class);
    let tcp = class.addr("tcp");

    // A dashboard that asks for the feed and never reads a byte of it.
    let mut deaf = TcpStream::connect(class.addr("dashboard")).expect("deaf dashboard");
    deaf.write_all(
        b"GET /feed HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .expect("upgrade request");

    // The flood: sends as fast as it can and never reads its echo, bounded in
    // bytes and time (the server stops reading when its echoes back up).
    let flood = thread::spawn(move || {
        let mut s = TcpStream::connect(tcp).expect("flood connects");
        s.set_write_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let _ = s.write_all(format!("{CODE}\n").as_bytes());
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        while sent < FLOOD && s.write_all(&chunk).is_ok() {
            sent += chunk.len();
        }
        s
    });

    // A thousand that give the code, are echoed once (so each was surely a
    // student), and vanish without a goodbye: RST, not FIN (SO_LINGER 0).
    for _ in 0..VANISHING {
        let mut s = TcpStream::connect(tcp).expect("connect");
        s.set_read_timeout(Some(DEADLINE)).expect("timeout");
        s.write_all(format!("{CODE}\nx\n").as_bytes())
            .expect("send");
        let mut echo = [0; 2];
        s.read_exact(&mut echo).expect("echo");
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .expect("SO_LINGER 0");
    }

    // A good student, meanwhile, is echoed.
    let good = tcp_student(tcp, 0);
    assert!(good > 0);

    // Everyone opened (1000 + the flood + the good student); the vanished and
    // the good one closed: the reading dashboard heard it all, or was told
    // what it skipped.
    let opens = VANISHING + 2;
    let closes = VANISHING + 1;
    let heard = dash.wait_for(|d| {
        d.count("open", None) + d.skipped("opens") >= opens
            && d.count("close", None) + d.skipped("closes") >= closes
    });
    let (o, so) = (dash.count("open", None), dash.skipped("opens"));
    let (c, sc) = (dash.count("close", None), dash.skipped("closes"));
    assert!(heard, "opens {o} + skipped {so}, closes {c} + skipped {sc}");
    assert_eq!(o + so, opens, "opens: delivered + skipped = expected");
    assert_eq!(c + sc, closes, "closes: delivered + skipped = expected");
    drop(flood.join().expect("the flood thread"));
    drop(deaf);
}

/// The chat room has no layer slot: its members are watched from outside, by
/// port (state and bytes from the kernel, once a second). A member that stays
/// is shown, its line's bytes counted, its close seen.
#[test]
fn a_chat_member_is_watched_from_outside() {
    let class = Classroom::start(&[]);
    let dash = Dashboard::open(&class);
    let mut member = TcpStream::connect(class.addr("chat_tcp")).expect("member joins");
    let opened = dash.wait_for(|d| d.count("open", Some("chat_tcp")) == 1);
    assert!(opened, "the member's row never appeared");
    let line = b"hello room\n";
    member.write_all(line).expect("say");
    let counted = dash.wait_for(|d| d.sum("data", "chat_tcp", "in") == line.len() as u64);
    assert!(counted, "in: {}", dash.sum("data", "chat_tcp", "in"));
    drop(member);
    let closed = dash.wait_for(|d| d.count("close", Some("chat_tcp")) == 1);
    assert!(closed, "the member's close never came");
}
