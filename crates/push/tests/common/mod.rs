//! What the push tests share: a server on 127.0.0.1:0, raw connections, one
//! response read by its Content-Length, and publishing through `POST /publish`.

#![allow(dead_code)] // each test file uses its own part of this

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use push::{Config, PushStats};
use serve::{Engine, MemoryBudget, Running};
use socket2::{Domain, Protocol, Socket, Type};

/// How long a broken test may wait before it fails instead of hanging.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub struct Server {
    pub running: Running,
    pub stats: Arc<PushStats>,
}

/// A server with `loops` event loops.
pub fn start_with(config: Config, loops: usize) -> Server {
    let stats = Arc::new(PushStats::default());
    let s = Arc::clone(&stats);
    let running = Running::tcp("127.0.0.1:0".parse().unwrap(), move |listener, shutdown| {
        push::serve(listener, shutdown, config, Engine::new(loops)?, s)
    })
    .unwrap();
    Server { running, stats }
}

/// No timer: only the events the tests publish; no publish limit.
pub fn quiet() -> Config {
    Config {
        rate: 0.0,
        publish_rate: 0.0,
        publish_burst: 0,
        ..Config::default()
    }
}

impl Server {
    pub fn addr(&self) -> SocketAddr {
        self.running.addr()
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr()).unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s
    }

    /// A connection that takes almost nothing off the wire: a 4 KiB receive
    /// buffer, and the test never reads it.
    pub fn lazy(&self) -> TcpStream {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        socket.connect(&self.addr().into()).unwrap();
        let s: TcpStream = socket.into();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s
    }

    pub fn budget(&self) -> &MemoryBudget {
        self.stats.budget.get().expect("the server sets its budget")
    }

    pub fn publish(&self, line: &str) -> u64 {
        let mut s = self.connect();
        write!(
            s,
            "POST /publish HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{line}",
            line.len()
        )
        .unwrap();
        let (head, body) = response(&mut s);
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        v["id"].as_u64().unwrap()
    }

    /// One short poll on its own connection: the head and the events.
    pub fn poll(&self, since: u64) -> (String, Vec<serde_json::Value>) {
        let mut s = self.connect();
        s.write_all(get(&format!("/poll?since={since}"), "").as_bytes())
            .unwrap();
        let (head, body) = response(&mut s);
        let events = serde_json::from_slice(&body).unwrap_or_default();
        (head, events)
    }
}

/// Reads one response: its head, and its body by Content-Length.
pub fn response(s: &mut impl Read) -> (String, Vec<u8>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .map_or(0, |n| n.trim().parse().unwrap());
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    (head, body)
}

/// A GET with `extra` header lines (each ending in CRLF).
pub fn get(path: &str, extra: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n")
}

/// The value of header `name` in a response head.
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Reads until `text` has arrived (or fails at the deadline), returning all read.
pub fn read_until(s: &mut TcpStream, got: &mut Vec<u8>, text: &str) {
    let mut buf = [0u8; 8192];
    while !String::from_utf8_lossy(got).contains(text) {
        let n = s.read(&mut buf).unwrap_or_else(|e| {
            panic!(
                "{e}: waiting for {text:?} after {}",
                String::from_utf8_lossy(got)
            )
        });
        assert!(
            n > 0,
            "closed before {text:?}: {}",
            String::from_utf8_lossy(got)
        );
        got.extend_from_slice(&buf[..n]);
    }
}

/// An event body that JSON makes six times bigger (each control character
/// becomes `\u0001`): 4000 bytes in, about 24 KB in every answer carrying it.
pub fn big_line() -> String {
    "\u{1}".repeat(4000)
}
