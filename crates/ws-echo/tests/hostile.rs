//! ws-echo against hostile peers, in both models: a ping flood that never reads,
//! two streams hogging one loop, a slow trickle, memory hogs, a crowd past the cap.
//!
//! Run: `cargo test -p ws-echo --test hostile`. Each case is one hole an earlier
//! version had (issue 9); the assertions read the server's own counters (queue
//! peaks, yields, which deadline fired) or the bytes on the wire, never the
//! clock: deadlines here only stop a broken test from hanging.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use serve::v3_event_loop::QUEUE_LIMIT;
use serve::{Engine, Limits, LoopStats, Model, Running};
use socket2::{Domain, Protocol, Socket, Type};
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, WebSocket};
use ws_echo::Config;

/// How long a broken test may wait before it fails instead of hanging.
const DEADLINE: Duration = Duration::from_secs(20);

const MODELS: [Model; 2] = [Model::Threads, Model::EventLoop];

const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

struct Server {
    running: Running,
    stats: Arc<LoopStats>,
}

impl Server {
    fn start(model: Model, loops: usize, config: Config) -> Server {
        eprintln!("--- ws-echo, model {model:?}");
        let _ = env_logger::builder().is_test(true).try_init();
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

    fn client(&self) -> WebSocket<TcpStream> {
        let stream = TcpStream::connect(self.addr()).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        tungstenite::client(format!("ws://{}/", self.addr()), stream)
            .unwrap()
            .0
    }

    /// Waits (bounded) until `done` holds for the server's counters.
    fn wait_for(&self, what: &str, done: impl Fn(&LoopStats) -> bool) {
        let deadline = Instant::now() + DEADLINE;
        while !done(&self.stats) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            thread::sleep(Duration::from_millis(5));
        }
    }
}

fn limits(idle: u64, stall: u64) -> Limits {
    Limits {
        idle_timeout: Some(Duration::from_millis(idle)),
        write_stall: Some(Duration::from_millis(stall)),
        ..Limits::default()
    }
}

/// A raw socket with a tiny receive buffer, upgraded by hand: a peer that will
/// not (or barely) read, so the server's output has nowhere to go.
fn raw_upgraded(addr: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut s: TcpStream = socket.into();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {RFC_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "));
    s
}

/// A masked client frame (any fixed mask works).
fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [1u8, 2, 3, 4];
    let mut f = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n < 65536 => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// Writes `bytes` `times` times over (whole frames, in order), until done, the
/// server stops taking them (our send buffer stays full: it stopped reading
/// us), or the connection ends. Returns bytes written.
fn write_until_blocked(s: &TcpStream, bytes: &[u8], times: usize) -> usize {
    s.set_nonblocking(true).unwrap();
    let (mut written, mut offset, mut done) = (0, 0, 0);
    let mut blocked_since: Option<Instant> = None;
    while done < times {
        match (&*s).write(&bytes[offset..]) {
            Ok(n) => {
                written += n;
                offset += n;
                if offset == bytes.len() {
                    offset = 0;
                    done += 1;
                }
                blocked_since = None;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                // Blocked for a while: the server is not reading. Done.
                let since = *blocked_since.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_millis(200) {
                    break;
                }
                thread::sleep(Duration::from_millis(1));
            }
            Err(_) => break, // the server closed us
        }
    }
    s.set_nonblocking(false).unwrap();
    written
}

/// Lesson: everything a server queues counts, Pongs too. A peer that floods
/// Pings and never reads its Pongs is never idle (it keeps sending) but stalls
/// our output: the write-stall deadline closes it, and the queue it could make
/// us hold stays under QUEUE_LIMIT (the old event loop grew ~110 MB/s).
#[test]
fn ping_flood_that_never_reads_is_bounded_and_cut_by_the_write_stall() {
    for model in MODELS {
        let server = Server::start(
            model,
            1,
            Config {
                limits: limits(60_000, 300),
                ..Config::default()
            },
        );
        let attacker = raw_upgraded(server.addr());
        // Many 125-byte Pings per write, so each read gives the server many Pongs.
        let pings: Vec<u8> = (0..64).flat_map(|_| masked(0x9, &[b'p'; 125])).collect();
        write_until_blocked(&attacker, &pings, 20_000);
        // Both models keep the same counters (the threads model through
        // serve::v2_threads::with_stats).
        server.wait_for("the write-stall deadline", |s| {
            s.stall_closes.load(Ordering::Relaxed) == 1
        });
        assert_eq!(server.stats.idle_closes.load(Ordering::Relaxed), 0);
        let peak = server.stats.peak_pending.load(Ordering::Relaxed);
        assert!(peak > 0, "{model:?}: the queue was counted");
        assert!(peak <= QUEUE_LIMIT + 4096, "{model:?}: queued {peak} bytes");
        // Either model: the attacker's connection ends (reset or FIN), and
        // others are served meanwhile.
        let mut other = server.client();
        other.send(Message::text("still here")).unwrap();
        assert_eq!(other.read().unwrap(), Message::text("still here"));
        let mut sink = [0u8; 65536];
        let ended = loop {
            match (&attacker).read(&mut sink) {
                Ok(0) | Err(_) => break true,
                Ok(_) => continue, // Pongs the server had sent before giving up
            }
        };
        assert!(ended);
    }
}

/// Lesson: fairness. On one loop, two peers streaming at full speed must not
/// starve a light one: each connection reads at most a turn's budget, then the
/// others get theirs (the old loop served one busy socket until it ran dry).
#[test]
fn two_streams_do_not_starve_a_light_client_on_one_loop() {
    let server = Server::start(Model::EventLoop, 1, Config::default());
    let stop = Arc::new(AtomicBool::new(false));
    // The light client starts once both streams have had one echo back: on a
    // loaded machine a streamer thread may otherwise not run before it ends.
    let streaming = Arc::new(Barrier::new(3));
    let mut streamers = Vec::new();
    for _ in 0..2 {
        let mut ws = server.client();
        let stop = Arc::clone(&stop);
        let streaming = Arc::clone(&streaming);
        streamers.push(thread::spawn(move || {
            let big = vec![7u8; 256 * 1024];
            let mut sent = 0u64;
            while !stop.load(Ordering::Relaxed) && sent < 4096 {
                ws.send(Message::binary(big.clone())).unwrap();
                assert_eq!(ws.read().unwrap().len(), big.len());
                sent += 1;
                if sent == 1 {
                    streaming.wait();
                }
            }
            sent
        }));
    }
    streaming.wait();
    let mut light = server.client();
    for i in 0..50 {
        let m = Message::text(format!("light {i}"));
        light.send(m.clone()).unwrap();
        assert_eq!(light.read().unwrap(), m);
    }
    stop.store(true, Ordering::Relaxed);
    let sent: Vec<u64> = streamers.into_iter().map(|t| t.join().unwrap()).collect();
    // The streams were really streaming, and the loop really took turns.
    assert!(sent.iter().all(|&n| n > 0), "{sent:?}");
    assert!(server.stats.yields.load(Ordering::Relaxed) > 0);
}

/// Lesson: idle means "no byte from the peer". A peer that only pings, or
/// uploads one message a few bytes at a time, is alive: neither model may cut
/// it with 1001 (the old event loop counted only whole data messages).
#[test]
fn pings_and_a_slow_upload_are_activity_in_both_models() {
    for model in MODELS {
        let server = Server::start(
            model,
            1,
            Config {
                limits: limits(400, 400),
                ..Config::default()
            },
        );
        // Pings every 100 ms for 1.2 s: three idle timeouts long.
        let mut pinger = server.client();
        for _ in 0..12 {
            pinger.send(Message::Ping(vec![1].into())).unwrap();
            assert!(matches!(pinger.read().unwrap(), Message::Pong(_)));
            thread::sleep(Duration::from_millis(100));
        }
        pinger.send(Message::text("alive")).unwrap();
        assert_eq!(pinger.read().unwrap(), Message::text("alive"));

        // One 1,200-byte message, 100 bytes every 100 ms.
        let mut slow = raw_upgraded(server.addr());
        let payload = vec![b'x'; 1200];
        let frame = masked(0x2, &payload);
        for chunk in frame.chunks(100) {
            slow.write_all(chunk).unwrap();
            thread::sleep(Duration::from_millis(100));
        }
        let mut head = [0u8; 4];
        slow.read_exact(&mut head).unwrap();
        assert_eq!(head, [0x82, 126, 0x04, 0xb0], "the echo, not a Close");
        let mut echoed = vec![0u8; 1200];
        slow.read_exact(&mut echoed).unwrap();
        assert_eq!(echoed, payload);
    }
}

/// Lesson: a peer that sends but never reads is cut within the idle timeout,
/// in both models (the threads model used to take about four times as long):
/// here idle is 60 s and the write stall 300 ms, and the server frees its
/// only place (--max-connections 1) for the next client.
#[test]
fn a_peer_that_never_reads_frees_its_place() {
    for model in MODELS {
        let server = Server::start(
            model,
            1,
            Config {
                limits: Limits {
                    max_connections: 1,
                    ..limits(60_000, 300)
                },
                ..Config::default()
            },
        );
        let hog = raw_upgraded(server.addr());
        let message: Vec<u8> = masked(0x2, &vec![b'h'; 60_000]);
        write_until_blocked(&hog, &message, 100);
        // The next client gets in once the stall deadline frees the place
        // (until then it reads a 503 and tries again).
        let deadline = Instant::now() + DEADLINE;
        loop {
            let stream = TcpStream::connect(server.addr()).unwrap();
            stream.set_read_timeout(Some(DEADLINE)).unwrap();
            if let Ok((mut ws, _)) = tungstenite::client(format!("ws://{}/", server.addr()), stream)
            {
                ws.send(Message::text("my turn")).unwrap();
                assert_eq!(ws.read().unwrap(), Message::text("my turn"));
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{model:?}: the hog kept its place"
            );
            thread::sleep(Duration::from_millis(50));
        }
        drop(hog);
    }
}

/// Lesson: memory is a budget across connections. With --memory-budget
/// 512 KiB, a client whose 1 MiB message would pass it is closed with 1013
/// (Try Again Later), while a client with a 64 KiB message is echoed before
/// and after: the refused ones give their bytes back, nobody else pays.
#[test]
fn messages_past_the_memory_budget_get_1013() {
    for model in MODELS {
        let server = Server::start(
            model,
            1,
            Config {
                limits: Limits {
                    memory_budget: 512 << 10,
                    ..limits(60_000, 60_000)
                },
                ..Config::default()
            },
        );
        let small = vec![b's'; 64 << 10];
        let mut fine = server.client();
        fine.send(Message::binary(small.clone())).unwrap();
        assert_eq!(fine.read().unwrap().len(), small.len(), "{model:?}");
        for _ in 0..2 {
            let mut hog = raw_upgraded(server.addr());
            write_until_blocked(&hog, &masked(0x2, &vec![b'm'; 1 << 20]), 1);
            let mut head = [0u8; 2];
            hog.read_exact(&mut head).unwrap();
            assert_eq!(head[0] & 0x0f, 0x8, "{model:?}: a close frame, not an echo");
            let mut body = vec![0u8; (head[1] & 0x7f) as usize];
            hog.read_exact(&mut body).unwrap();
            assert_eq!(
                u16::from_be_bytes([body[0], body[1]]),
                1013,
                "{model:?}: {body:?}"
            );
        }
        fine.send(Message::binary(small.clone())).unwrap();
        assert_eq!(
            fine.read().unwrap().len(),
            small.len(),
            "{model:?}: still served"
        );
    }
}

/// Lesson: past --max-connections a WebSocket client is told why — 503 with
/// Retry-After — instead of a bare end of stream, and the server counts it.
#[test]
fn past_the_cap_a_client_reads_503_with_retry_after() {
    for model in MODELS {
        let server = Server::start(
            model,
            1,
            Config {
                limits: Limits {
                    max_connections: 2,
                    ..Limits::default()
                },
                ..Config::default()
            },
        );
        let mut held: Vec<WebSocket<TcpStream>> = (0..2).map(|_| server.client()).collect();
        for ws in &mut held {
            ws.send(Message::text("in")).unwrap();
            assert_eq!(ws.read().unwrap(), Message::text("in"));
        }
        let mut late = TcpStream::connect(server.addr()).unwrap();
        late.set_read_timeout(Some(DEADLINE)).unwrap();
        let _ = write!(
            late,
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {RFC_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        let mut answer = String::new();
        late.read_to_string(&mut answer).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{model:?}: {answer:?}"
        );
        assert!(answer.contains("\r\nRetry-After: 1\r\n"), "{answer}");
        assert!(answer.contains("max-connections"), "{answer}");
        assert_eq!(server.stats.refused.load(Ordering::Relaxed), 1);
        for mut ws in held {
            ws.close(Some(CloseFrame {
                code: tungstenite::protocol::frame::coding::CloseCode::Normal,
                reason: "".into(),
            }))
            .unwrap();
        }
    }
}

/// Lesson: the handshake deadline counts from accept, not from the last byte.
/// A client that trickles its request a byte at a time is alive by the idle
/// clock, but must not hold a connection forever: 408 when the time is up.
#[test]
fn a_request_trickled_byte_by_byte_gets_408_at_the_handshake_deadline() {
    for model in MODELS {
        let server = Server::start(
            model,
            1,
            Config {
                handshake_timeout: Duration::from_millis(500),
                ..Config::default()
            },
        );
        let mut slow = TcpStream::connect(server.addr()).unwrap();
        slow.set_read_timeout(Some(DEADLINE)).unwrap();
        let request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".repeat(4);
        let started = Instant::now();
        for byte in request.iter() {
            if slow.write_all(&[*byte]).is_err() {
                break; // the server has answered and closed
            }
            thread::sleep(Duration::from_millis(20));
            if started.elapsed() > Duration::from_secs(3) {
                break; // bounded: well past the deadline
            }
        }
        let mut answer = Vec::new();
        let _ = slow.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
            "{model:?}: {answer:?}"
        );
    }
}
