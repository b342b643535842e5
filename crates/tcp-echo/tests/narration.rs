//! The narration of one TCP connection names every system call, in order.
//!
//! This file is its own test binary, so the logger installed here sees only
//! this test's server.

use std::io::{Read, Write};
use std::net::{Shutdown as How, TcpStream};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use lifecycle::Shutdown;
use lifecycle::tcp::listen_tcp;
use serve::{Limits, Model};

/// Every log line, as text.
static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Info
    }
    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            LINES.lock().unwrap().push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

/// Lesson 1: socket → setsockopt → bind → listen → accept → read → write →
/// shutdown → close, each logged with the kernel's state, each connection line
/// named by its 4-tuple.
#[test]
fn one_connection_narrates_the_whole_lifecycle_in_order() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Info);

    let listener = listen_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let s = shutdown.clone();
    thread::spawn(move || {
        let engine = serve::Engine::new(1)?;
        tcp_echo::serve(Model::Iterative, listener, s, Limits::default(), engine)
    });

    let mut client = TcpStream::connect(addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    client.write_all(b"hi").unwrap();
    // Wait for the echo before sending FIN, so the server's accept() sees the
    // connection ESTABLISHED (had our FIN already arrived, it would say CLOSE_WAIT).
    let mut echoed = [0u8; 2];
    client.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"hi");
    client.shutdown(How::Write).unwrap();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"", "after the echo, only the server's FIN");

    // The server logs close() just after its FIN reached us: wait for that line.
    let tuple = format!("tcp {addr} <-> {}", client.local_addr().unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let lines = LINES.lock().unwrap().clone();
        if lines
            .iter()
            .any(|l| l.contains(&tuple) && l.contains("close("))
        {
            break lines;
        }
        assert!(Instant::now() < deadline, "no close() logged: {lines:#?}");
        thread::yield_now();
    };
    shutdown.trigger();

    let steps = [
        "socket(",
        "setsockopt(",
        "bind(",
        "listen(",
        "accept(",
        "read(",
        "write(",
        "shutdown(",
        "close(",
    ];
    let mut last = 0;
    for step in steps {
        let at = lines
            .iter()
            .position(|l| l.contains(step))
            .unwrap_or_else(|| panic!("{step} not narrated: {lines:#?}"));
        assert!(at >= last, "{step} logged out of order: {lines:#?}");
        last = at;
    }
    let listen = lines.iter().find(|l| l.contains("listen(")).unwrap();
    assert!(listen.ends_with("LISTEN"), "{listen}");
    let accept = lines.iter().find(|l| l.contains("accept(")).unwrap();
    assert!(accept.starts_with(&format!("[{tuple}]")), "{accept}");
    assert!(accept.ends_with("ESTABLISHED"), "{accept}");
    let eof = lines
        .iter()
        .find(|l| l.contains("read(") && l.contains("= 0"))
        .unwrap();
    assert!(eof.ends_with("CLOSE_WAIT"), "after the peer's FIN: {eof}");
}
