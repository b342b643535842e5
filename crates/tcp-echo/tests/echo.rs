//! The TCP echo server over real loopback sockets: exact bytes, big transfers,
//! half-close, resets, the connection cap and the idle timeout.
//!
//! Every server here listens on 127.0.0.1:0 (the kernel picks a free port), and
//! every wait has a deadline instead of a sleep.

use std::io::{self, Read, Write};
use std::net::{Shutdown as How, SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use lifecycle::Shutdown;
use lifecycle::tcp::listen_tcp;
use serve::{Engine, Limits, Model, Running};

/// The longest any single read in these tests may block before the test fails.
const DEADLINE: Duration = Duration::from_secs(10);

/// A server running on its own thread; stopped when dropped.
const ALL: [Model; 3] = [Model::Iterative, Model::Threads, Model::EventLoop];

/// A TCP echo server on a kernel-chosen loopback port, stopped when dropped.
fn start(model: Model, limits: Limits) -> Running {
    Running::tcp("127.0.0.1:0".parse().unwrap(), move |listener, shutdown| {
        tcp_echo::serve(model, listener, shutdown, limits, Engine::new(1)?)
    })
    .unwrap()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream
}

/// Reads until EOF and returns everything.
fn read_to_eof(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    got
}

/// RFC 862: the bytes that come back are exactly the bytes that went out, for both
/// server versions — binary included, not only text.
#[test]
fn echoes_exact_bytes() {
    for model in ALL {
        let server = start(model, Limits::default());
        let mut client = connect(server.addr());
        let sent: Vec<u8> = (0..=255u8).chain(b"hello\r\n\0".iter().copied()).collect();
        client.write_all(&sent).unwrap();
        let mut got = vec![0u8; sent.len()];
        client.read_exact(&mut got).unwrap();
        assert_eq!(got, sent, "{model:?}");
    }
}

/// A stream has no message size: 10 MB goes through whole and in order, as long
/// as the client reads while it writes (otherwise both send buffers fill and each
/// side waits for the other forever).
#[test]
fn ten_megabytes_round_trip_while_reading() {
    const SIZE: usize = 10 * 1024 * 1024;
    let server = start(Model::Threads, Limits::default());
    let mut client = connect(server.addr());
    let sent: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    let mut writer = client.try_clone().unwrap();
    let to_send = sent.clone();
    let writing = thread::spawn(move || {
        writer.write_all(&to_send).unwrap();
        writer.shutdown(How::Write).unwrap();
    });
    let got = read_to_eof(&mut client);
    writing.join().unwrap();
    assert_eq!(got.len(), SIZE);
    assert!(got == sent, "echoed bytes differ from sent bytes");
}

/// Half-close: after shutdown(SHUT_WR) the client can still read. It gets all
/// N bytes back, then EOF (the server's own FIN).
#[test]
fn half_close_still_receives_everything_then_eof() {
    let server = start(Model::Threads, Limits::default());
    let mut client = connect(server.addr());
    let sent = vec![b'x'; 100_000];
    client.write_all(&sent).unwrap();
    client.shutdown(How::Write).unwrap();
    let got = read_to_eof(&mut client);
    assert_eq!(got, sent);
}

/// A client that resets its connection mid-stream (RST instead of FIN) is that
/// connection's problem only: another client is echoed before and after, by the
/// thread server and by the event loop (where both share one thread).
#[test]
fn a_reset_does_not_disturb_other_clients() {
    for model in [Model::Threads, Model::EventLoop] {
        reset_beside_a_steady_client(model);
    }
}

fn reset_beside_a_steady_client(model: Model) {
    let server = start(model, Limits::default());
    let mut steady = connect(server.addr());
    let mut round_trip = |msg: &[u8]| {
        steady.write_all(msg).unwrap();
        let mut got = vec![0u8; msg.len()];
        steady.read_exact(&mut got).unwrap();
        assert_eq!(got, msg);
    };
    round_trip(b"before");

    let rude = connect(server.addr());
    (&rude).write_all(&[7u8; 50_000]).unwrap();
    // SO_LINGER with a zero timeout makes close() send RST instead of FIN.
    socket2::SockRef::from(&rude)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(rude);

    round_trip(b"after");
    // And the listener still accepts new clients.
    let mut fresh = connect(server.addr());
    fresh.write_all(b"new").unwrap();
    let mut got = [0u8; 3];
    fresh.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"new");
}

/// The connection cap: with --max-connections 2, a third client is accepted and
/// closed at once (it reads EOF, it is not left hanging), and once a place is
/// free a new client is served again.
#[test]
fn connection_cap_closes_the_extra_client_at_once() {
    let limits = Limits {
        max_connections: 2,
        ..Limits::default()
    };
    let server = start(Model::Threads, limits);
    let mut first = connect(server.addr());
    let mut second = connect(server.addr());
    for client in [&mut first, &mut second] {
        client.write_all(b"ok").unwrap();
        let mut got = [0u8; 2];
        client.read_exact(&mut got).unwrap();
    }

    let mut third = connect(server.addr());
    assert_eq!(read_to_eof(&mut third), b"", "the third client gets EOF");

    // Free a place; the server notices when the first client's thread ends.
    first.shutdown(How::Write).unwrap();
    assert_eq!(read_to_eof(&mut first), b"");
    let deadline = Instant::now() + DEADLINE;
    loop {
        let mut next = connect(server.addr());
        next.write_all(b"again").unwrap();
        let mut got = Vec::new();
        let _ = (&mut next).take(5).read_to_end(&mut got);
        if got == b"again" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no place freed after {DEADLINE:?}"
        );
        thread::yield_now();
    }
}

/// --idle-timeout: a client that says nothing is closed by the server (FIN, so
/// the client reads EOF), without anyone having to send anything. Both models
/// count it the same way: one idle close, no stall close, and nothing left open.
#[test]
fn idle_connection_is_closed_by_the_server() {
    for model in [Model::Threads, Model::EventLoop] {
        let limits = Limits {
            idle_timeout: Some(Duration::from_millis(300)),
            ..Limits::default()
        };
        let engine = Engine::new(1).unwrap();
        let stats = engine.stats();
        let server = Running::tcp("127.0.0.1:0".parse().unwrap(), move |listener, shutdown| {
            tcp_echo::serve(model, listener, shutdown, limits, engine)
        })
        .unwrap();
        let mut silent = connect(server.addr());
        assert_eq!(read_to_eof(&mut silent), b"");
        let deadline = Instant::now() + DEADLINE;
        while stats.open.load(Ordering::Relaxed) != 0 {
            assert!(Instant::now() < deadline, "{model:?}: still counted open");
            thread::yield_now();
        }
        assert_eq!(stats.idle_closes.load(Ordering::Relaxed), 1, "{model:?}");
        assert_eq!(stats.stall_closes.load(Ordering::Relaxed), 0, "{model:?}");
    }
}

/// Why version 2 exists: the iterative server does not read a second client's
/// bytes while the first is connected; they are echoed only once the first leaves.
#[test]
fn iterative_server_serves_one_client_at_a_time() {
    let server = start(Model::Iterative, Limits::default());
    let mut first = connect(server.addr());
    first.write_all(b"1").unwrap();
    let mut got = [0u8; 1];
    first.read_exact(&mut got).unwrap();

    let mut second = connect(server.addr()); // handshake done by the kernel (backlog)
    second.write_all(b"2").unwrap();
    second
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let err = second.read(&mut got).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        "the second client must not be served yet: {err}"
    );

    drop(first);
    second.set_read_timeout(Some(DEADLINE)).unwrap();
    second.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"2");
}

/// A stop requested before the server even reached accept() still stops it: the
/// server checks the flag after registering for the wake-up, so it never sleeps
/// in accept() waiting for a poke that was already sent to nobody.
#[test]
fn shutdown_before_serving_returns_at_once() {
    for iterative in [true, false] {
        let listener = listen_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
        let shutdown = Shutdown::new();
        shutdown.trigger();
        let limits = Limits::default();
        let handle = move |conn| tcp_echo::handle(conn, &limits);
        let result = if iterative {
            serve::v1_iterative::serve(listener, shutdown, handle)
        } else {
            serve::v2_threads::serve(listener, shutdown, limits, Default::default(), handle)
        };
        assert!(result.is_ok(), "iterative={iterative}: {result:?}");
    }
}

/// A peer that sends but never reads fills both sockets' buffers, and the
/// server's write() blocks. --idle-timeout bounds that wait too: the server gives
/// up on the stuck peer, and the next client is served — by the iterative server
/// (which the stuck peer would otherwise freeze) and by the thread server at its
/// cap of one connection (which the stuck peer would otherwise hold forever).
#[test]
fn a_peer_that_never_reads_is_dropped_after_the_idle_timeout() {
    for model in [Model::Iterative, Model::Threads] {
        let limits = Limits {
            max_connections: 1,
            idle_timeout: Some(Duration::from_millis(300)),
            write_stall: Some(Duration::from_millis(300)),
            ..Limits::default()
        };
        let server = start(model, limits);
        let stuck = connect(server.addr());
        stuck.set_nonblocking(true).unwrap();
        // Write until the kernel refuses more: the server's echo has filled our
        // receive buffer and its send buffer (bounded: at most 64 MiB).
        let chunk = [b's'; 64 * 1024];
        let mut sent = 0;
        while sent < 64 << 20 {
            match (&stuck).write(&chunk) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{model:?}: {e}"),
            }
        }
        let deadline = Instant::now() + DEADLINE;
        loop {
            let mut next = connect(server.addr());
            next.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
            let _ = next.write_all(b"next");
            let mut got = Vec::new();
            let _ = (&mut next).take(4).read_to_end(&mut got);
            if got == b"next" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{model:?}: still stuck after {DEADLINE:?}"
            );
        }
        drop(stuck);
    }
}
