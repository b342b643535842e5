//! The bridge over real sockets: a WebSocket client through `bridge` to a TCP
//! server, every case lesson 15 promises (run: `cargo test -p bridge`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;

use bridge::Config;
use serve::v3_event_loop::{QUEUE_LIMIT, READ_BUFFER};
use serve::{Engine, Limits, LoopStats, Model, Running};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// How long a broken test may wait before it fails instead of hanging.
const DEADLINE: Duration = Duration::from_secs(10);

/// tcp-echo on the event loop, on a port the kernel picks.
fn tcp_echo() -> Running {
    Running::tcp("127.0.0.1:0".parse().unwrap(), |listener, shutdown| {
        tcp_echo::serve(
            Model::EventLoop,
            listener,
            shutdown,
            Limits::default(),
            Engine::new(1)?,
        )
    })
    .unwrap()
}

/// A bridge to `target`, with its loop's counters.
fn bridge_to(target: SocketAddr, limits: Limits) -> (Running, Arc<LoopStats>) {
    let engine = Engine::new(1).unwrap();
    let stats = engine.stats();
    let config = Config::new(target);
    let running = Running::tcp("127.0.0.1:0".parse().unwrap(), move |listener, shutdown| {
        bridge::serve(listener, shutdown, limits, engine, config)
    })
    .unwrap();
    (running, stats)
}

type Client = WebSocket<MaybeTlsStream<TcpStream>>;

fn ws_connect(bridge: &Running) -> Client {
    let stream = TcpStream::connect(bridge.addr()).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let url = format!("ws://{}/", bridge.addr());
    let (ws, _) = tungstenite::client(url, MaybeTlsStream::Plain(stream)).unwrap();
    ws
}

/// Reads binary messages until `n` bytes came back (TCP keeps no message
/// boundaries, so they may come in any number of messages).
fn bytes_back(ws: &mut Client, n: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < n {
        match ws.read().unwrap() {
            Message::Binary(b) => got.extend_from_slice(&b),
            other => panic!("expected binary, got {other:?}"),
        }
    }
    got
}

/// Reads until the server's Close frame; returns its code and reason.
fn close_from_server(ws: &mut Client) -> (u16, String) {
    loop {
        match ws.read().unwrap() {
            Message::Close(Some(f)) => return (f.code.into(), f.reason.to_string()),
            Message::Close(None) => return (1005, String::new()),
            Message::Binary(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Lesson 15: a binary and a text message reach tcp-echo as bare bytes, and
/// come back as binary messages; the client's close closes the TCP leg too.
#[test]
fn binary_and_text_through_the_bridge_to_tcp_echo() {
    let echo = tcp_echo();
    let (bridge, _) = bridge_to(echo.addr(), Limits::default());
    let mut ws = ws_connect(&bridge);

    ws.send(Message::binary(vec![0u8, 1, 2, 255])).unwrap();
    assert_eq!(bytes_back(&mut ws, 4), [0u8, 1, 2, 255]);

    // Text has no type on the TCP leg: its UTF-8 bytes come back as binary.
    ws.send(Message::text("héllo 世界")).unwrap();
    assert_eq!(
        bytes_back(&mut ws, "héllo 世界".len()),
        "héllo 世界".as_bytes()
    );

    ws.close(None).unwrap();
    // Our Close is answered; then the bridge's FIN ends the read.
    loop {
        match ws.read() {
            Ok(Message::Close(_)) | Ok(_) => continue,
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => panic!("{e}"),
        }
    }
}

/// Lesson 15: the target's FIN becomes Close 1000 on the WebSocket leg, after
/// the bytes it sent first.
#[test]
fn target_close_becomes_close_1000() {
    let target = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = target.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (mut s, _) = target.accept().unwrap();
        s.write_all(b"bye\n").unwrap();
        // Dropping it closes: our FIN after the bytes.
    });
    let (bridge, _) = bridge_to(addr, Limits::default());
    let mut ws = ws_connect(&bridge);
    assert_eq!(bytes_back(&mut ws, 4), b"bye\n");
    let (code, reason) = close_from_server(&mut ws);
    assert_eq!(code, 1000);
    assert_eq!(reason, "the target closed the connection");
    server.join().unwrap();
}

/// Lesson 15: nothing listens at the target: the WebSocket is closed with 1011
/// and a reason naming it (websockify answers the same code).
#[test]
fn refused_target_closes_with_1011() {
    // A port that was just free: bound by the kernel's choice, then let go.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (bridge, _) = bridge_to(addr, Limits::default());
    let mut ws = ws_connect(&bridge);
    let (code, reason) = close_from_server(&mut ws);
    assert_eq!(code, u16::from(CloseCode::Error));
    assert!(reason.contains(&addr.to_string()), "{reason}");
    assert!(reason.contains("refused"), "{reason}");
}

/// Bounded memory: a client that never reads while the target floods. The
/// bridge stops reading the target at QUEUE_LIMIT (plus one read's message),
/// and the write-stall deadline closes it.
#[test]
fn a_client_that_never_reads_is_bounded_and_closed() {
    let target = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = target.local_addr().unwrap();
    let flooder = thread::spawn(move || {
        let (mut s, _) = target.accept().unwrap();
        s.set_write_timeout(Some(DEADLINE)).unwrap();
        let chunk = vec![b'x'; 64 * 1024];
        // Until the bridge closes this leg: then write fails (EPIPE/ECONNRESET).
        let mut sent = 0usize;
        while s.write_all(&chunk).is_ok() {
            sent += chunk.len();
        }
        sent
    });
    let limits = Limits {
        write_stall: Some(Duration::from_millis(500)),
        ..Limits::default()
    };
    let (bridge, stats) = bridge_to(addr, limits);
    let _ws = ws_connect(&bridge); // and never read
    let sent = flooder.join().unwrap();
    assert!(
        sent > QUEUE_LIMIT,
        "the flood was stopped early: {sent} bytes"
    );
    assert_eq!(stats.stall_closes.load(Ordering::Relaxed), 1);
    let peak = stats.peak_pending.load(Ordering::Relaxed);
    assert!(
        peak <= QUEUE_LIMIT + READ_BUFFER + 14,
        "queued {peak} bytes"
    );
}

/// A bad upgrade gets its HTTP status; `GET /` gets the page.
#[test]
fn bad_upgrades_get_their_status() {
    let echo = tcp_echo();
    let (bridge, _) = bridge_to(echo.addr(), Limits::default());
    let ask = |request: &str| {
        let mut s = TcpStream::connect(bridge.addr()).unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer
    };
    assert!(ask("POST / HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 405 "));
    assert!(ask("GET /x HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 426 "));
    let old = "GET /x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
               Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n";
    let answer = ask(old);
    assert!(answer.starts_with("HTTP/1.1 426 "), "{answer}");
    assert!(answer.contains("Sec-WebSocket-Version: 13\r\n"));
    assert!(ask("not http\r\n\r\n").starts_with("HTTP/1.1 400 "));
    let page = ask("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(page.starts_with("HTTP/1.1 200 OK"));
    assert!(page.contains("bridge"));
}

/// Issue 17: every malformed Upgrade of the one table (crates/websocket) gets
/// exactly the status and reason `serve ws` gives it.
#[test]
fn malformed_upgrades_get_the_table_answers() {
    let echo = tcp_echo();
    let (bridge, _) = bridge_to(echo.addr(), Limits::default());
    let addr = bridge.addr();
    for case in websocket::malformed::cases(&addr.to_string()) {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.write_all(case.request.as_bytes()).unwrap();
        let mut response = Vec::new();
        let _ = s.read_to_end(&mut response);
        assert_eq!(websocket::malformed::check_answer(&response, &case), Ok(()));
    }
}

/// Issue 17: a target that never answers the SYN (its backlog is full, so the
/// kernel drops it and would retry for minutes) costs the client only the
/// connect timeout: then Close 1011 saying so.
#[test]
fn silent_target_closes_with_1011_at_the_connect_timeout() {
    use socket2::{Domain, Socket, Type};
    /// Short, so the test is quick; the clock is the engine's alarm.
    const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
    // listen(2) with a backlog of 0: one connection waits to be accepted
    // (never), and every SYN after it is dropped.
    let full = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    full.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    full.listen(0).unwrap();
    let addr = full.local_addr().unwrap().as_socket().unwrap();
    let _waiting = TcpStream::connect(addr).unwrap();
    let engine = Engine::new(1).unwrap();
    let config = Config {
        connect_timeout: CONNECT_TIMEOUT,
        ..Config::new(addr)
    };
    let bridge = Running::tcp("127.0.0.1:0".parse().unwrap(), move |listener, shutdown| {
        bridge::serve(listener, shutdown, Limits::default(), engine, config)
    })
    .unwrap();
    let mut ws = ws_connect(&bridge);
    let (code, reason) = close_from_server(&mut ws);
    assert_eq!(code, u16::from(CloseCode::Error));
    assert!(reason.contains(&addr.to_string()), "{reason}");
    assert!(reason.contains("connect timeout"), "{reason}");
}

/// Lesson 15: websockify's `binary` subprotocol is named in the 101 when
/// offered (noVNC's older clients ask for it), and only then.
#[test]
fn binary_subprotocol_when_offered() {
    let echo = tcp_echo();
    let (bridge, _) = bridge_to(echo.addr(), Limits::default());
    for (offer, want) in [("base64, binary", true), ("", false)] {
        let mut s = TcpStream::connect(bridge.addr()).unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        let protocols = if offer.is_empty() {
            String::new()
        } else {
            format!("Sec-WebSocket-Protocol: {offer}\r\n")
        };
        write!(
            s,
            "GET / HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{protocols}\r\n",
            bridge.addr()
        )
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(s.read(&mut byte).unwrap(), 1, "EOF inside the 101");
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        assert_eq!(
            head.contains("\r\nSec-WebSocket-Protocol: binary\r\n"),
            want,
            "{head}"
        );
    }
}

/// Issue 17: the Origin policy on the bridge, where it matters most (a page
/// elsewhere would reach the TCP target through a visitor's browser): the
/// bridge's own page and a client with no Origin upgrade, another site's page
/// gets 403 — unless `--allow-origin` names it.
#[test]
fn origin_policy_guards_the_target() {
    let echo = tcp_echo();
    let status = |bridge: &Running, origin: Option<String>| {
        let mut s = TcpStream::connect(bridge.addr()).unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        let origin = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
        write!(
            s,
            "GET / HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{origin}\r\n",
            bridge.addr()
        )
        .unwrap();
        let mut line = [0u8; 12];
        s.read_exact(&mut line).unwrap();
        String::from_utf8_lossy(&line[9..]).into_owned()
    };
    let (bridge, _) = bridge_to(echo.addr(), Limits::default());
    let own = format!("http://{}", bridge.addr());
    assert_eq!(status(&bridge, None), "101");
    assert_eq!(status(&bridge, Some(own)), "101");
    assert_eq!(status(&bridge, Some("http://evil.example".into())), "403");
    let engine = Engine::new(1).unwrap();
    let config = Config {
        allow_origins: vec!["http://evil.example".into()],
        ..Config::new(echo.addr())
    };
    let allowing = Running::tcp("127.0.0.1:0".parse().unwrap(), move |listener, shutdown| {
        bridge::serve(listener, shutdown, Limits::default(), engine, config)
    })
    .unwrap();
    assert_eq!(status(&allowing, Some("http://evil.example".into())), "101");
}
