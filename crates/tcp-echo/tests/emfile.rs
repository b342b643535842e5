//! EMFILE on accept: its own test binary, because it lowers this process's fd limit.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use lifecycle::Shutdown;
use lifecycle::tcp::listen_tcp;
use serve::Limits;
use serve::v3_event_loop::ACCEPT_BACKOFF;
use serve::{Engine, Model};
use socket2::{Domain, Protocol, Socket, Type};

/// How long any single read may wait before the test fails instead of hanging.
const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// Out of file descriptors, accept() fails with EMFILE and the connection stays
/// in the backlog. The loop pauses accept (no busy loop: at most one failed
/// accept per ACCEPT_BACKOFF), keeps serving the clients it has, and accepts the
/// waiting ones once descriptors are free again.
#[test]
fn out_of_fds_pauses_accept_keeps_serving_and_recovers() {
    let listener = listen_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let engine = Engine::new(1).unwrap();
    let stats = engine.stats();
    let shutdown = Shutdown::new();
    let server = {
        let s = shutdown.clone();
        thread::spawn(move || {
            tcp_echo::serve(Model::EventLoop, listener, s, Limits::default(), engine)
        })
    };
    // The loop is running once it has echoed a byte; its epoll fd exists then.
    let mut probe = TcpStream::connect(addr).unwrap();
    probe.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    probe.write_all(b"p").unwrap();
    probe.read_exact(&mut [0u8; 1]).unwrap();

    // Four client sockets made now, while fds are plentiful; then the limit
    // leaves room for exactly two more descriptors: the server's ends of the
    // first two clients.
    let sockets: Vec<Socket> = (0..4)
        .map(|_| Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap())
        .collect();
    let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64 - 1;
    let original = set_soft_fd_limit(open + 2);

    let started = Instant::now();
    let mut clients: Vec<TcpStream> = sockets
        .into_iter()
        .map(|s| {
            s.connect(&addr.into()).unwrap(); // the kernel completes it: backlog
            let c: TcpStream = s.into();
            c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            c
        })
        .collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.write_all(&[b'a' + i as u8]).unwrap();
    }
    // The first two are accepted and echoed; the others wait in the backlog.
    for (i, c) in clients.iter_mut().take(2).enumerate() {
        let mut one = [0u8; 1];
        c.read_exact(&mut one).unwrap();
        assert_eq!(one[0], b'a' + i as u8);
    }
    let deadline = Instant::now() + IO_TIMEOUT;
    while stats.accept_pauses.load(Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "accept never hit EMFILE");
        thread::sleep(Duration::from_millis(2));
    }
    // The probe still echoes: the loop kept serving while accept was paused.
    probe.write_all(b"q").unwrap();
    let mut one = [0u8; 1];
    probe.read_exact(&mut one).unwrap();
    assert_eq!(&one, b"q");

    // Free two descriptors: the waiting clients get in and are echoed.
    let rest = clients.split_off(2);
    drop(clients);
    for (i, mut c) in rest.into_iter().enumerate() {
        let mut one = [0u8; 1];
        c.read_exact(&mut one).unwrap();
        assert_eq!(one[0], b'c' + i as u8);
    }
    let pauses = stats.accept_pauses.load(Ordering::Relaxed) as u128;
    let most = started.elapsed().as_millis() / ACCEPT_BACKOFF.as_millis() + 2;
    assert!(pauses <= most, "{pauses} accept pauses: a busy loop");

    set_soft_fd_limit(original);
    shutdown.trigger();
    server.join().unwrap().unwrap();
}

/// setrlimit(2) RLIMIT_NOFILE: lowers (or restores) this process's soft limit;
/// returns the previous one.
fn set_soft_fd_limit(soft: u64) -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid pointers to an rlimit for the duration of each call.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        let previous = limit.rlim_cur;
        limit.rlim_cur = soft as libc::rlim_t;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        #[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux only
        let previous = previous as u64;
        previous
    }
}
