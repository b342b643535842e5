//! The Redis relay across two real processes: two `socklab serve chat --relay`
//! servers and one `redis-server`, all on 127.0.0.1, each its own OS process.
//!
//! Run: `cargo test -p socklab --test relay` (needs `redis-server`: Debian's
//! `apt-get install --no-install-recommends redis-server`; scripts/test.sh
//! installs it). Without the binary the test says so and passes as skipped.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::thread;
use std::time::{Duration, Instant};

use tungstenite::{Message, WebSocket};

/// How long any one wait may take before the test fails instead of hanging.
const DEADLINE: Duration = Duration::from_secs(20);

/// Our own redis-server: no persistence, loopback only, stopped by its PID.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    /// Starts redis-server on `port` and waits until it answers PING.
    fn start(port: u16) -> Redis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        // From here on Drop kills and waits for it, whatever happens.
        let redis = Redis { child, port };
        let started = Instant::now();
        while !answers_ping(port) {
            assert!(
                started.elapsed() < DEADLINE,
                "redis-server did not answer on {port}"
            );
            thread::sleep(Duration::from_millis(20));
        }
        redis
    }

    /// SIGKILL to its PID: Redis vanishes the way a crash would.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True when something on 127.0.0.1:`port` answers `PING` with `+PONG`.
fn answers_ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let mut reply = [0u8; 5];
    s.set_read_timeout(Some(DEADLINE)).is_ok()
        && s.write_all(b"PING\r\n").is_ok()
        && std::io::Read::read_exact(&mut s, &mut reply).is_ok()
        && &reply == b"+PONG"
}

/// A port the kernel just had free. (redis-server cannot be handed a socket, and
/// port 0 means "no TCP" to it, so this one names a port; a clash fails loudly.)
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One `socklab serve chat --relay …` process; its log lines arrive on `log`.
struct Server {
    child: Child,
    log: Receiver<String>,
    tcp: SocketAddr,
    ws: SocketAddr,
}

impl Server {
    fn start(redis_port: u16) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_socklab"))
            .args(["serve", "chat", "--tcp-addr", "127.0.0.1:0", "--ws-addr"])
            .args(["127.0.0.1:0", "--loops", "1", "--relay"])
            .arg(format!("redis://127.0.0.1:{redis_port}"))
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("socklab serve chat starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, log) = channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            log,
            tcp: "0.0.0.0:0".parse().unwrap(),
            ws: "0.0.0.0:0".parse().unwrap(),
        };
        // "chat room: TCP members on A, WebSocket members and the page on B"
        let line = server.wait_log("chat room: TCP members on ");
        let rest = line.split("TCP members on ").nth(1).unwrap();
        let (tcp, ws) = rest
            .split_once(", WebSocket members and the page on ")
            .unwrap();
        server.tcp = tcp.trim().parse().unwrap();
        server.ws = ws.trim().parse().unwrap();
        server
    }

    /// Reads the log until a line contains `what`.
    fn wait_log(&mut self, what: &str) -> String {
        let until = Instant::now() + DEADLINE;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(what) => return line,
                Ok(_) => {}
                Err(_) => panic!("the server never logged {what:?}"),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP member: lines out, lines in.
struct Member(BufReader<TcpStream>);

impl Member {
    fn join(addr: SocketAddr) -> Member {
        let s = TcpStream::connect(addr).expect("connect to the chat server");
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        Member(BufReader::new(s))
    }

    fn say(&mut self, text: &str) {
        let s = self.0.get_mut();
        s.write_all(format!("{text}\n").as_bytes()).unwrap();
    }

    /// Reads lines until one contains `what`; returns every line read.
    fn until(&mut self, what: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let mut line = String::new();
            let n = self
                .0
                .read_line(&mut line)
                .expect("a line before the deadline");
            assert!(n > 0, "the server closed before {what:?}; saw {seen:?}");
            let line = line.trim_end().to_string();
            let done = line.contains(what);
            seen.push(line);
            if done {
                return seen;
            }
        }
    }
}

fn ws_join(addr: SocketAddr) -> WebSocket<TcpStream> {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    tungstenite::client(format!("ws://{addr}/"), s).unwrap().0
}

fn ws_until(ws: &mut WebSocket<TcpStream>, what: &str) -> String {
    loop {
        if let Message::Text(t) = ws.read().expect("a message before the deadline") {
            if t.contains(what) {
                return t.to_string();
            }
        }
    }
}

fn count(lines: &[String], what: &str) -> usize {
    lines.iter().filter(|l| l.contains(what)).count()
}

/// Lesson 18 past one process: a line said in server A reaches the members of
/// server B once (TCP and WebSocket) and the other members of A once, never its
/// sender; when redis-server is killed, members are told, a line said during
/// the outage waits in A and reaches B after redis-server is back on the same
/// port, once; the servers say the relay is back.
#[test]
fn two_processes_share_one_room_through_redis_and_survive_its_loss() {
    if Command::new("redis-server")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "SKIPPED: redis-server is not installed (apt-get install --no-install-recommends redis-server; scripts/test.sh does it)"
        );
        return;
    }
    let port = free_port();
    let redis = Redis::start(port);
    let mut a = Server::start(redis.port);
    let mut b = Server::start(redis.port);
    a.wait_log("relay: subscribed");
    b.wait_log("relay: subscribed");

    let mut a1 = Member::join(a.tcp);
    a1.until("joined (1 member)");
    let mut a2 = Member::join(a.tcp);
    a1.until("joined (2 members)");
    let mut b1 = Member::join(b.tcp);
    b1.until("joined (1 member)");
    let mut bw = ws_join(b.ws);
    b1.until("joined (2 members)");

    // A → B, and A's other member, each once; the sender never.
    a1.say("hello across");
    let line = b1.until("hello across").pop().unwrap();
    assert!(line.starts_with("[tcp 127.0.0.1:"), "{line}");
    assert_eq!(ws_until(&mut bw, "hello across"), line);
    a1.say("mark 1");
    let seen = a2.until("mark 1");
    assert_eq!(count(&seen, "hello across"), 1, "{seen:?}");
    assert_eq!(
        count(&b1.until("mark 1"), "hello across"),
        0,
        "B got it once"
    );
    // B → A.
    bw.send(Message::text("hello back")).unwrap();
    let seen = a1.until("hello back");
    assert_eq!(
        count(&seen, "hello across"),
        0,
        "the sender is not echoed: {seen:?}"
    );

    // Redis goes away: both servers tell their members.
    redis.kill();
    a1.until("* relay lost");
    a2.until("* relay lost");
    b1.until("* relay lost");
    a1.say("said during the outage");
    a2.until("said during the outage"); // A's own members still hear it at once

    // Back on the same port: the line that waited reaches B, once.
    let redis = Redis::start(port);
    b1.until("* relay back");
    let seen = b1.until("said during the outage");
    assert_eq!(count(&seen, "said during the outage"), 1);
    a.wait_log("publisher back");
    a1.say("mark 2");
    assert_eq!(
        count(&b1.until("mark 2"), "said during the outage"),
        0,
        "once"
    );
    assert_eq!(
        count(&a2.until("mark 2"), "said during the outage"),
        0,
        "once in A too"
    );

    // Stop everything by PID (Drop: SIGKILL and wait).
    drop((a, b));
    redis.kill();
}
