//! Silent ClientHellos cannot lock real clients out of `serve tls` and `serve
//! wss` (docs/tls.md, "Half-open handshakes"): unfinished handshakes live under
//! their own small cap (`--max-handshakes`), the oldest closed first when it is
//! full, and a finished connection is never closed for it. Both models.
//!
//! The connection cap is set just above the handshake cap, so without the
//! handshake cap the attackers alone would fill it and the real client would
//! be refused (lifting the handshake cap to ATTACKERS makes these tests fail). Every wait is on the server's own counters or on a socket's end
//! of stream, bounded by a deadline.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use client::{Target, Transport, Trust};
use serve::{Engine, HandshakeStats, Handshakes, Limits, Model, Running};
use tls::{Identity, TlsLayer};

/// How long a broken test may wait before it fails instead of hanging.
const DEADLINE: Duration = Duration::from_secs(10);

/// Unfinished handshakes allowed at once in these tests.
const CAP: usize = 3;

/// The connection cap: CAP + 3 (= twice CAP), so the cap in force when a larger
/// one is asked for (half the places, `Handshakes::within`) is CAP.
const PLACES: usize = 2 * CAP;

/// Attackers opened before the real client comes: more than the cap, and more
/// than the connection cap.
const ATTACKERS: usize = 8;

/// The first 5 bytes of a ClientHello record (handshake, TLS 1.0 record
/// version, 512 bytes to follow) — and then nothing: a handshake never finished.
const HALF_HELLO: [u8; 5] = [0x16, 0x03, 0x01, 0x02, 0x00];

/// A server under attack: its address, its certificate, its counters.
struct Server {
    _running: Running,
    addr: SocketAddr,
    cert: PathBuf,
    stats: Arc<HandshakeStats>,
}

/// The certificate file goes with the server, even when a test fails: a test
/// run leaves nothing behind in /tmp.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.cert);
    }
}

/// `serve tls` (`ws == false`) or `serve wss` on 127.0.0.1:0, with a
/// handshake cap of `max_handshakes` (CAP, or more than the connection cap:
/// the server lowers it to half the places, CAP again) and a connection cap
/// just above CAP: room for CAP
/// unfinished handshakes, the real client, one evicted attacker still closing
/// and one arriving. Fewer than ATTACKERS: without the handshake cap, the
/// attackers alone would fill it.
fn start(model: Model, ws: bool, name: &str, max_handshakes: usize) -> Server {
    let cert = std::env::temp_dir().join(format!(
        "socklab-test-{}-hscap-{name}-{model:?}.pem",
        std::process::id()
    ));
    let identity = Identity::self_signed(&cert).expect("certificate");
    let alpn: &[&[u8]] = if ws { &[tls::ALPN_HTTP11] } else { &[] };
    let config = tls::server_config(identity, alpn).expect("config");
    let engine = Engine::new(2).expect("engine");
    let handshakes = Handshakes::new(max_handshakes, DEADLINE);
    let stats = handshakes.stats();
    let limits = Limits {
        max_connections: PLACES,
        ..Limits::default()
    };
    let running = Running::tcp("127.0.0.1:0".parse().unwrap(), move |listener, shutdown| {
        let layer = move |tuple| TlsLayer::new(Arc::clone(&config), tuple);
        if ws {
            let config = ws_echo::Config {
                limits,
                ..ws_echo::Config::default()
            };
            ws_echo::serve_layered(model, listener, shutdown, config, engine, layer, handshakes)
        } else {
            tcp_echo::serve_layered(model, listener, shutdown, limits, engine, layer, handshakes)
        }
    })
    .expect("server starts");
    let addr = running.addr();
    Server {
        _running: running,
        addr,
        cert,
        stats,
    }
}

/// Waits (bounded) until `done` holds for the handshake counters.
fn wait_for(stats: &HandshakeStats, what: &str, done: impl Fn(&HandshakeStats) -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done(stats) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(2));
    }
}

/// Reads until the server ends the stream (FIN, or a reset); panics on a
/// byte or at the deadline.
fn read_end(mut s: TcpStream, what: &str) {
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
        other => panic!("{what}: expected the end of the stream, got {other:?}"),
    }
}

/// Silent attackers, oldest first; each evicted one is read to its end before
/// the next connects, so at most one closing connection still holds a place.
struct Attackers {
    open: VecDeque<TcpStream>,
    evicted_seen: usize,
}

impl Attackers {
    fn new() -> Attackers {
        Attackers {
            open: VecDeque::new(),
            evicted_seen: 0,
        }
    }

    /// One more half ClientHello; waits until the server has it in its table.
    fn open_one(&mut self, server: &Server) {
        let begun = server.stats.begun.load(Ordering::SeqCst);
        let mut s = TcpStream::connect(server.addr).expect("connect");
        s.write_all(&HALF_HELLO).expect("half a hello");
        wait_for(&server.stats, "the attacker's handshake to begin", |st| {
            st.begun.load(Ordering::SeqCst) > begun
        });
        self.open.push_back(s);
        self.reap(server);
    }

    /// The oldest attackers the server evicted: their streams end.
    fn reap(&mut self, server: &Server) {
        let evicted = server.stats.evicted.load(Ordering::SeqCst);
        while self.evicted_seen < evicted {
            let oldest = self.open.pop_front().expect("an evicted attacker");
            read_end(oldest, "an evicted attacker");
            self.evicted_seen += 1;
        }
    }

    /// The attackers still open have heard nothing: no byte, no FIN.
    fn all_still_open(&self) {
        for s in &self.open {
            s.set_nonblocking(true).unwrap();
            let got = (&*s).read(&mut [0u8; 8]);
            assert!(
                matches!(&got, Err(e) if e.kind() == io::ErrorKind::WouldBlock),
                "an attacker inside the cap was closed: {got:?}"
            );
            s.set_nonblocking(false).unwrap();
        }
    }
}

/// A real client: the TLS handshake (and the Upgrade, for wss), then one echo.
fn real_client(server: &Server, scheme: &str, cert: &Path) -> Transport {
    let slash = if scheme == "wss" { "/" } else { "" };
    let mut target = Target::parse(&format!("{scheme}://{}{slash}", server.addr)).unwrap();
    target.trust = Trust::CaFile(cert.to_path_buf());
    let mut t = Transport::connect_to(&target).expect("the real client is served");
    t.set_read_timeout(Some(DEADLINE)).unwrap();
    echo(&mut t, b"served during the attack");
    t
}

fn echo(t: &mut Transport, bytes: &[u8]) {
    t.send(bytes).unwrap();
    let got: Vec<u8> = t.receive_bytes(bytes.len()).unwrap().concat();
    assert_eq!(got, bytes);
}

/// The attack and the answer, for one server: ATTACKERS silent handshakes
/// against a cap of CAP (the oldest evicted, in order), a real client served
/// while CAP - 1 attackers are still open, then more attackers that never
/// touch the finished connection.
fn attack(model: Model, scheme: &str, max_handshakes: usize) {
    // The cert file's name tells tests running at once apart.
    let name = format!("{scheme}-{max_handshakes}");
    let server = start(model, scheme == "wss", &name, max_handshakes);
    let mut attackers = Attackers::new();
    for _ in 0..ATTACKERS {
        attackers.open_one(&server);
    }
    let st = &server.stats;
    assert_eq!(st.evicted.load(Ordering::SeqCst), ATTACKERS - CAP);
    assert_eq!(
        st.peak.load(Ordering::SeqCst),
        CAP,
        "never more than the cap"
    );
    attackers.all_still_open();

    // The real client's handshake evicts the oldest attacker, and finishes.
    let mut real = real_client(&server, scheme, &server.cert);
    attackers.reap(&server);
    assert_eq!(st.evicted.load(Ordering::SeqCst), ATTACKERS - CAP + 1);
    assert_eq!(st.finished.load(Ordering::SeqCst), 1);
    attackers.all_still_open();

    // More attackers: they evict each other, never the finished connection.
    for _ in 0..CAP {
        attackers.open_one(&server);
    }
    assert_eq!(st.evicted.load(Ordering::SeqCst), ATTACKERS);
    echo(&mut real, b"still served");
    assert_eq!(st.peak.load(Ordering::SeqCst), CAP);
    let _ = std::fs::remove_file(&server.cert);
}

/// `serve tls`, both models: silent half ClientHellos cannot lock out a real client.
#[test]
fn tls_half_hellos_cannot_lock_out_a_real_client() {
    for model in [Model::Threads, Model::EventLoop] {
        attack(model, "tls", CAP);
    }
}

/// `serve wss`, both models: the same, with the Upgrade after the handshake.
#[test]
fn wss_half_hellos_cannot_lock_out_a_real_client() {
    for model in [Model::Threads, Model::EventLoop] {
        attack(model, "wss", CAP);
    }
}

/// Both servers, both models, asked for a handshake cap larger than the
/// connection cap (`--max-handshakes 128 --max-connections 6`): the cap in
/// force is half the places, so the same attack leaves the real client room.
#[test]
fn a_handshake_cap_above_the_connection_cap_is_lowered_to_half() {
    for model in [Model::Threads, Model::EventLoop] {
        for scheme in ["tls", "wss"] {
            attack(model, scheme, PLACES * 20);
        }
    }
}

/// A layer with no handshake (as the classroom's watching layer): every byte
/// passes through as it is.
struct PassThrough {
    plain: Vec<u8>,
    out: Vec<u8>,
}

impl serve::layer::Layer for PassThrough {
    fn receive(&mut self, wire: &[u8]) -> io::Result<()> {
        self.plain.extend_from_slice(wire);
        Ok(())
    }
    fn plaintext(&self) -> &[u8] {
        &self.plain
    }
    fn consumed(&mut self, n: usize) {
        self.plain.drain(..n);
    }
    fn send(&mut self, plain: &[u8]) -> io::Result<usize> {
        self.out.extend_from_slice(plain);
        Ok(plain.len())
    }
    fn output(&self) -> &[u8] {
        &self.out
    }
    fn sent(&mut self, n: usize) {
        self.out.drain(..n);
    }
    fn is_handshaking(&self) -> bool {
        false
    }
    fn close(&mut self) {}
    fn peer_closed(&self) -> bool {
        false
    }
}

/// A layer without a handshake takes no place among the unfinished ones: a
/// silent peer there is an idle connection, and silent newcomers (more than
/// the cap) never evict it. Before, the classroom's students' tcp port closed
/// a quiet student as "TLS handshake unfinished" for newer quiet connections.
#[test]
fn a_layer_without_a_handshake_is_never_evicted() {
    for model in [Model::Threads, Model::EventLoop] {
        let handshakes = Handshakes::new(CAP, DEADLINE);
        let stats = handshakes.stats();
        let engine = Engine::new(1).expect("engine");
        let running = Running::tcp("127.0.0.1:0".parse().unwrap(), move |listener, shutdown| {
            let layer = |_| PassThrough {
                plain: Vec::new(),
                out: Vec::new(),
            };
            let limits = Limits::default();
            tcp_echo::serve_layered(model, listener, shutdown, limits, engine, layer, handshakes)
        })
        .expect("server starts");
        let connect = || {
            let s = TcpStream::connect(running.addr()).unwrap();
            s.set_read_timeout(Some(DEADLINE)).unwrap();
            s
        };
        let mut student = connect();
        let quiet: Vec<TcpStream> = (0..ATTACKERS * 4).map(|_| connect()).collect();
        // Every quiet one has been accepted (and so met the table) when its
        // echo comes back; the student, first and silent all along, goes last.
        for mut q in quiet.iter() {
            q.write_all(b"q").unwrap();
            let mut one = [0u8; 1];
            q.read_exact(&mut one).unwrap();
        }
        student.write_all(b"still here\n").unwrap();
        let mut line = [0u8; 11];
        student
            .read_exact(&mut line)
            .expect("the student was not closed");
        assert_eq!(&line, b"still here\n", "{model:?}");
        assert_eq!(stats.evicted.load(Ordering::Relaxed), 0, "{model:?}");
        assert_eq!(stats.begun.load(Ordering::Relaxed), 0, "{model:?}");
    }
}
