//! The ws-echo event loop over real sockets on 127.0.0.1, with tungstenite's client.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serve::{Engine, LoopStats, Model, Running};
use tungstenite::{Message, WebSocket};
use ws_echo::Config;

/// How long any single read may wait before the test fails instead of hanging.
const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// A ws-echo server on a kernel-chosen loopback port, with its counters;
/// stopped when dropped.
struct Server {
    running: Running,
    #[allow(dead_code)] // read by the hardening tests below
    stats: Arc<LoopStats>,
}

impl Server {
    fn start(config: Config) -> Server {
        Server::start_model(Model::EventLoop, 2, config)
    }

    fn start_model(model: Model, loops: usize, config: Config) -> Server {
        eprintln!("--- ws-echo, model {model:?}");
        let engine = Engine::new(loops).unwrap();
        let stats = engine.stats();
        let running = Running::tcp("127.0.0.1:0".parse().unwrap(), move |listener, shutdown| {
            ws_echo::serve(model, listener, shutdown, config, engine)
        })
        .unwrap();
        Server { running, stats }
    }

    fn addr(&self) -> SocketAddr {
        self.running.addr()
    }

    fn connect(&self) -> WebSocket<TcpStream> {
        let stream = TcpStream::connect(self.addr()).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let url = format!("ws://{}/", self.addr());
        tungstenite::client(url, stream).unwrap().0
    }
}

#[test]
fn echoes_messages_whole() {
    let server = Server::start(Config::default());
    let mut ws = server.connect();
    let big = vec![0xabu8; 300 * 1024];
    let messages = [
        Message::text("hello"),
        Message::binary(vec![0u8, 1, 2, 255]),
        Message::binary(big),
        Message::text(""),
    ];
    for m in &messages {
        ws.send(m.clone()).unwrap();
    }
    for m in &messages {
        assert_eq!(&ws.read().unwrap(), m);
    }
}

/// The close handshake: our Close is answered with a Close, then the server
/// closes the TCP connection (it keeps TIME_WAIT, as RFC 6455 asks).
#[test]
fn close_handshake_then_tcp_fin() {
    let server = Server::start(Config::default());
    let mut ws = server.connect();
    ws.send(Message::text("bye soon")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("bye soon"));
    ws.close(None).unwrap();
    loop {
        match ws.read() {
            Ok(Message::Close(_)) => continue,
            Ok(other) => panic!("unexpected {other:?}"),
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => panic!("close handshake failed: {e}"),
        }
    }
    let mut stream = ws.into_inner();
    let mut rest = Vec::new();
    assert_eq!(stream.read_to_end(&mut rest).unwrap(), 0, "expected FIN");
}

/// A message over --max-message-size ends that connection, and only that one.
#[test]
fn oversized_message_ends_only_its_connection() {
    let server = Server::start(Config {
        max_message_size: 1024,
        ..Config::default()
    });
    let mut bad = server.connect();
    let mut good = server.connect();
    let _ = bad.send(Message::binary(vec![1u8; 4096]));
    // Never echoed: the connection ends (a Close frame or a closed socket).
    assert!(!matches!(bad.read(), Ok(Message::Binary(_))));
    good.send(Message::text("still here")).unwrap();
    assert_eq!(good.read().unwrap(), Message::text("still here"));
}

/// The idle timeout in the event loop: a silent WebSocket gets a Close with 1001
/// (going away), then the server's FIN — no thread was waiting on it.
#[test]
fn idle_websocket_gets_1001_then_fin() {
    let server = Server::start(Config {
        limits: serve::Limits {
            idle_timeout: Some(Duration::from_millis(200)),
            ..serve::Limits::default()
        },
        ..Config::default()
    });
    let mut ws = server.connect();
    ws.send(Message::text("one")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("one"));
    match ws.read() {
        Ok(Message::Close(Some(frame))) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("expected a Close with 1001, got {other:?}"),
    }
    // Our reply to its Close; then the server closes TCP.
    loop {
        match ws.read() {
            Err(tungstenite::Error::ConnectionClosed) => break,
            Ok(Message::Close(_)) => continue,
            other => panic!("expected the end, got {other:?}"),
        }
    }
    let mut rest = Vec::new();
    assert_eq!(ws.into_inner().read_to_end(&mut rest).unwrap(), 0);
}

/// Backpressure: a client writes 32 messages of 1 MiB without waiting for any
/// echo, while another thread reads. Whenever the server's echo cannot be sent it
/// stops reading, TCP holds the writer back, and every message still comes back
/// whole and in order.
#[test]
fn slow_reader_gets_every_message_in_order() {
    const MESSAGES: usize = 32;
    const SIZE: usize = 1 << 20;
    let server = Server::start(Config::default());
    let reader = server.connect();
    // A second handle on the same socket writes, as a client (masking) would.
    let stream = reader.get_ref().try_clone().unwrap();
    let writer = thread::spawn(move || {
        let mut ws = WebSocket::from_raw_socket(stream, tungstenite::protocol::Role::Client, None);
        for i in 0..MESSAGES {
            ws.send(Message::binary(vec![i as u8; SIZE]))?;
        }
        Ok::<_, tungstenite::Error>(())
    });
    let mut reader = reader;
    for i in 0..MESSAGES {
        match reader.read().unwrap() {
            Message::Binary(b) => {
                assert_eq!(b.len(), SIZE, "message {i}");
                assert!(b.iter().all(|&x| x == i as u8), "message {i} is wrong");
            }
            other => panic!("message {i}: unexpected {other:?}"),
        }
    }
    writer.join().unwrap().unwrap();
}
