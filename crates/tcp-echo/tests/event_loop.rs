//! The v3 event loop over real sockets on 127.0.0.1: many connections, a peer
//! that never reads, partial writes, the connection cap and the idle timeout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use serve::v3_event_loop::{QUEUE_LIMIT as MAX_PENDING, READ_BUFFER};
use serve::{Engine, Limits, LoopStats, Model, Running};
use socket2::{Domain, Protocol, Socket, Type};

/// How long any single read may wait before the test fails instead of hanging.
const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// An event-loop echo server on an ephemeral loopback port, stopped on drop.
struct Server {
    running: Running,
    stats: Arc<LoopStats>,
}

impl Server {
    fn start(limits: Limits) -> Server {
        Server::start_loops(limits, 1)
    }

    fn start_loops(limits: Limits, loops: usize) -> Server {
        let engine = Engine::new(loops).unwrap();
        let stats = engine.stats();
        let running = Running::tcp("127.0.0.1:0".parse().unwrap(), move |listener, shutdown| {
            tcp_echo::serve(Model::EventLoop, listener, shutdown, limits, engine)
        })
        .unwrap();
        Server { running, stats }
    }

    fn addr(&self) -> SocketAddr {
        self.running.addr()
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr()).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream
    }

    /// Waits (bounded) until `done` holds for the loop's stats.
    fn wait_for(&self, what: &str, done: impl Fn(&LoopStats) -> bool) {
        let deadline = Instant::now() + IO_TIMEOUT;
        while !done(&self.stats) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            thread::sleep(Duration::from_millis(2));
        }
    }
}

fn limits(max_connections: usize, idle: Option<Duration>) -> Limits {
    Limits {
        max_connections,
        idle_timeout: idle,
        ..Limits::default()
    }
}

/// Byte `i` of a test stream: a pattern whose period (251, prime) does not divide
/// any buffer size, so a lost, repeated or reordered chunk shows up.
fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

/// Writes `total` pattern bytes in 64 KiB writes.
fn write_pattern(mut stream: TcpStream, total: usize) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut sent = 0;
    while sent < total {
        let n = buf.len().min(total - sent);
        for (j, b) in buf[..n].iter_mut().enumerate() {
            *b = pattern(sent + j);
        }
        stream.write_all(&buf[..n])?;
        sent += n;
    }
    Ok(())
}

/// Reads until `total` bytes came back, checking each is the pattern byte.
fn read_pattern(stream: &mut TcpStream, total: usize, chunk: usize) {
    let mut buf = vec![0u8; chunk];
    let mut got = 0;
    while got < total {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "EOF after {got} of {total} bytes");
        for (j, &b) in buf[..n].iter().enumerate() {
            assert_eq!(b, pattern(got + j), "byte {} is wrong", got + j);
        }
        got += n;
    }
}

/// The basic echo, and half-close: after our FIN the server still sends the rest
/// of the echo, then its own FIN (read returns 0, not a reset).
#[test]
fn echoes_and_honours_half_close() {
    let server = Server::start(Limits::default());
    let mut client = server.connect();
    client.write_all(b"hello, event loop\n").unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut echoed = Vec::new();
    client.read_to_end(&mut echoed).unwrap();
    assert_eq!(echoed, b"hello, event loop\n");
}

/// Two event loops (two threads) serve 2,000 connections open at the same time,
/// each getting its own bytes back (and nobody else's), whichever loop took it.
#[test]
fn two_thousand_concurrent_connections_each_echo() {
    const CONNS: usize = 2000;
    // Each connection is two fds in this process (client and server end).
    lifecycle::limits::raise_fd_limit(2 * CONNS as u64 + 256).unwrap();
    let server = Server::start_loops(limits(CONNS + 10, None), 2);
    let mut clients: Vec<TcpStream> = (0..CONNS).map(|_| server.connect()).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        client
            .write_all(format!("conn {i:04}\n").as_bytes())
            .unwrap();
    }
    server.wait_for("2000 open connections", |s| {
        s.open.load(Ordering::Relaxed) == CONNS
    });
    for (i, client) in clients.iter_mut().enumerate() {
        let mut reply = [0u8; 10];
        client.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, format!("conn {i:04}\n").as_bytes());
    }
}

/// Backpressure: a client sends 100 MB and reads nothing. The server stops
/// reading once it holds MAX_PENDING unsent bytes for it, so its memory stays
/// bounded; when the client finally reads, every byte comes back, in order.
#[test]
fn never_reading_client_costs_bounded_memory_and_loses_nothing() {
    const TOTAL: usize = 100 << 20;
    let server = Server::start(Limits::default());
    let mut client = server.connect();
    let writer = {
        let stream = client.try_clone().unwrap();
        thread::spawn(move || write_pattern(stream, TOTAL))
    };
    // Not reading yet: wait until the server's buffer for us has hit the bound.
    server.wait_for("the pending buffer to reach MAX_PENDING", |s| {
        s.peak_pending.load(Ordering::Relaxed) >= MAX_PENDING
    });
    read_pattern(&mut client, TOTAL, 256 * 1024);
    writer.join().unwrap().unwrap();
    let peak = server.stats.peak_pending.load(Ordering::Relaxed);
    // The bound plus one read, doubled for the sent-but-not-yet-compacted prefix.
    let ceiling = 2 * (MAX_PENDING + READ_BUFFER);
    assert!(peak <= ceiling, "peak pending {peak} > {ceiling} bytes");
}

/// The memory budget holds the echo queued for peers that do not read: with
/// 256 KiB for everyone, four such peers cannot make one queue reach what a
/// lone one reaches (QUEUE_LIMIT); the server stops reading them instead
/// (TCP's window makes them wait), serves a newcomer meanwhile, and once they
/// read, every byte comes back in order: nothing was dropped to stay inside.
#[test]
fn the_memory_budget_holds_never_reading_peers_back_and_loses_nothing() {
    const TOTAL: usize = 8 << 20;
    const BUDGET: usize = 256 << 10;
    let server = Server::start(Limits {
        memory_budget: BUDGET,
        ..Limits::default()
    });
    let mut clients: Vec<TcpStream> = (0..4).map(|_| server.connect()).collect();
    let writers: Vec<_> = clients
        .iter()
        .map(|c| {
            let stream = c.try_clone().unwrap();
            thread::spawn(move || write_pattern(stream, TOTAL))
        })
        .collect();
    // Not reading: wait until the server holds some echo, then let the
    // writers push for a while against the budget.
    server.wait_for("an echo queued", |s| {
        s.peak_pending.load(Ordering::Relaxed) > 0
    });
    thread::sleep(Duration::from_millis(500));
    let mut fresh = server.connect();
    fresh.write_all(b"served meanwhile\n").unwrap();
    let mut line = [0u8; 17];
    fresh.read_exact(&mut line).unwrap();
    assert_eq!(&line, b"served meanwhile\n");
    let peak = server.stats.peak_pending.load(Ordering::Relaxed);
    // Each queue's room is charged before it grows; a connection's pending
    // count also has the sent-but-not-compacted prefix and one read.
    let ceiling = BUDGET + 2 * READ_BUFFER;
    assert!(peak <= ceiling, "peak pending {peak} > {ceiling} bytes");
    for client in &mut clients {
        read_pattern(client, TOTAL, 256 * 1024);
    }
    for writer in writers {
        writer.join().unwrap().unwrap();
    }
}

/// Partial writes: our receive buffer is tiny, so the server's writes are cut
/// short again and again; what the socket did not take must go out later, in order.
#[test]
fn partial_writes_lose_and_reorder_nothing() {
    const TOTAL: usize = 4 << 20;
    let server = Server::start(Limits::default());
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    // SO_RCVBUF before connect(): the kernel rounds it up to its minimum (~2 KiB).
    socket.set_recv_buffer_size(1024).unwrap();
    socket.connect(&server.addr().into()).unwrap();
    let mut client: TcpStream = socket.into();
    client.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let writer = {
        let stream = client.try_clone().unwrap();
        thread::spawn(move || write_pattern(stream, TOTAL))
    };
    read_pattern(&mut client, TOTAL, 700);
    writer.join().unwrap().unwrap();
    assert!(
        server.stats.peak_pending.load(Ordering::Relaxed) > 0,
        "the server never had to keep bytes for a later write"
    );
}

/// The connection cap: past it, a client is accepted and closed at once, so it
/// reads end-of-stream instead of hanging; a freed place is usable again. The cap
/// counts across loops.
#[test]
fn connection_cap_closes_the_extra_client_at_once() {
    let server = Server::start_loops(limits(2, None), 2);
    let mut a = server.connect();
    let mut b = server.connect();
    for c in [&mut a, &mut b] {
        c.write_all(b"x").unwrap();
        let mut one = [0u8; 1];
        c.read_exact(&mut one).unwrap();
        assert_eq!(&one, b"x");
    }
    let mut extra = server.connect();
    let mut buf = [0u8; 16];
    assert_eq!(extra.read(&mut buf).unwrap(), 0, "expected FIN at once");
    assert_eq!(server.stats.refused.load(Ordering::Relaxed), 1);

    drop(a);
    server.wait_for("a freed place", |s| s.open.load(Ordering::Relaxed) == 1);
    let mut c = server.connect();
    c.write_all(b"again").unwrap();
    let mut reply = [0u8; 5];
    c.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"again");
}

/// The idle timeout needs no thread: the loop's poll timeout is the soonest
/// deadline, and a silent client gets a FIN (read returns 0), not a reset.
#[test]
fn idle_connection_is_closed_gracefully() {
    let server = Server::start(limits(10, Some(Duration::from_millis(200))));
    let mut client = server.connect();
    client.write_all(b"ping").unwrap();
    let mut reply = [0u8; 4];
    client.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"ping");
    let mut buf = [0u8; 16];
    assert_eq!(
        client.read(&mut buf).unwrap(),
        0,
        "expected the server's FIN"
    );
}

/// Fairness: on one loop, two clients streaming as fast as they can do not
/// starve a light one. Each connection reads at most a turn's budget before the
/// loop moves on (an older loop drained a busy socket until it ran dry), so the
/// light client's echoes come back while the streams go on, and the loop's
/// counters show the busy connections yielding.
#[test]
fn two_streams_do_not_starve_a_light_client_on_one_loop() {
    use std::sync::atomic::AtomicBool;
    let server = Server::start(Limits::default());
    let stop = Arc::new(AtomicBool::new(false));
    // The light client starts once both streams have written their first
    // chunk: on a loaded machine a streamer thread may otherwise not run at
    // all before the light client is done.
    let streaming = Arc::new(std::sync::Barrier::new(3));
    let streams: Vec<_> = (0..2)
        .map(|_| {
            let client = server.connect();
            let stop = Arc::clone(&stop);
            let streaming = Arc::clone(&streaming);
            thread::spawn(move || {
                let mut reader = client.try_clone().unwrap();
                let echo = thread::spawn(move || {
                    let mut buf = vec![0u8; 256 * 1024];
                    let mut got = 0u64;
                    while let Ok(n) = reader.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        got += n as u64;
                    }
                    got
                });
                let chunk = vec![b's'; 256 * 1024];
                let mut writer = client;
                let mut sent = 0u64;
                // Bounded: at most 4 GiB, in practice until the light client is done.
                while !stop.load(Ordering::Relaxed) && sent < 4 << 30 {
                    writer.write_all(&chunk).unwrap();
                    sent += chunk.len() as u64;
                    if sent == chunk.len() as u64 {
                        streaming.wait();
                    }
                }
                writer.shutdown(std::net::Shutdown::Write).unwrap();
                (sent, echo.join().unwrap())
            })
        })
        .collect();
    streaming.wait();
    let mut light = server.connect();
    for i in 0..50 {
        let line = format!("light {i:02}\n");
        light.write_all(line.as_bytes()).unwrap();
        let mut reply = [0u8; 9];
        light.read_exact(&mut reply).unwrap();
        assert_eq!(&reply[..], line.as_bytes());
    }
    stop.store(true, Ordering::Relaxed);
    for stream in streams {
        let (sent, echoed) = stream.join().unwrap();
        assert!(sent > 0, "the stream never streamed");
        assert_eq!(sent, echoed, "a stream lost bytes");
    }
    assert!(server.stats.yields.load(Ordering::Relaxed) > 0);
}

/// Two clocks: a client that sends and never reads is never idle (bytes keep
/// arriving), but the echo the server queues for it makes no progress: the
/// write-stall deadline closes it, and the idle deadline does not fire.
#[test]
fn a_client_that_never_reads_is_closed_by_the_write_stall() {
    let server = Server::start(Limits {
        idle_timeout: Some(Duration::from_secs(60)),
        write_stall: Some(Duration::from_millis(300)),
        ..Limits::default()
    });
    let client = server.connect();
    let writer = {
        let stream = client.try_clone().unwrap();
        // Bounded: 64 MiB at most; it fails once the server closes us.
        thread::spawn(move || write_pattern(stream, 64 << 20))
    };
    server.wait_for("the write-stall deadline", |s| {
        s.stall_closes.load(Ordering::Relaxed) == 1
    });
    assert_eq!(server.stats.idle_closes.load(Ordering::Relaxed), 0);
    assert!(
        writer.join().unwrap().is_err(),
        "the server closed us mid-write"
    );
    server.wait_for("the connection to be gone", |s| {
        s.open.load(Ordering::Relaxed) == 0
    });
}
