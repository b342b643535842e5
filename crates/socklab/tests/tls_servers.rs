//! `serve tls` and `serve wss` on both models, against a real rustls client:
//! the echo comes back through TLS, a client that is not TLS hears why, and a
//! silent client is dropped at the handshake deadline (lesson 17).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use serve::{Engine, Handshakes, Limits, Model, Running};
use tls::{Identity, TlsLayer};

const DEADLINE: Duration = Duration::from_secs(10);

/// A certificate file in the temp directory, named after this test process,
/// removed when dropped, even when the test fails: a test run leaves nothing
/// behind in /tmp.
struct TempPem(std::path::PathBuf);

impl TempPem {
    fn new(what: &str) -> TempPem {
        let name = format!("socklab-test-{}-{what}.pem", std::process::id());
        TempPem(std::env::temp_dir().join(name))
    }
}

impl Drop for TempPem {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A TLS echo server on 127.0.0.1:0 with a fresh certificate; returns it and the
/// certificate a client trusts.
fn tls_echo(model: Model, handshake: Duration) -> (Running, CertificateDer<'static>) {
    // The file is only written for clients to trust; this test hands the
    // certificate over in memory, so the file goes when this function returns.
    let pem = TempPem::new(&format!("{model:?}"));
    let identity = Identity::self_signed(&pem.0).expect("certificate");
    let cert = identity.chain[0].clone();
    let config = tls::server_config(identity, &[]).expect("config");
    let engine = Engine::new(1).expect("engine");
    let running = Running::tcp("127.0.0.1:0".parse().unwrap(), move |listener, shutdown| {
        let layer = move |tuple| TlsLayer::new(Arc::clone(&config), tuple);
        tcp_echo::serve_layered(
            model,
            listener,
            shutdown,
            Limits::default(),
            engine,
            layer,
            Handshakes::new(16, handshake),
        )
    })
    .expect("server starts");
    (running, cert)
}

/// A rustls client's side of a connection to "localhost", trusting `cert`.
fn client_conn(cert: CertificateDer<'static>) -> ClientConnection {
    let mut roots = RootCertStore::empty();
    roots.add(cert).expect("trust the certificate");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    ClientConnection::new(Arc::new(config), name).unwrap()
}

fn client(
    addr: SocketAddr,
    cert: CertificateDer<'static>,
) -> StreamOwned<ClientConnection, TcpStream> {
    let conn = client_conn(cert);
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(DEADLINE)).unwrap();
    StreamOwned::new(conn, tcp)
}

/// Lesson 17: a raw TCP echo gets TLS from a layer under it; the echo is exact
/// and the connection ends with close_notify, then EOF — on both models.
#[test]
fn tls_echo_both_models() {
    for model in [Model::Threads, Model::EventLoop] {
        let (server, cert) = tls_echo(model, DEADLINE);
        let mut tls = client(server.addr(), cert);
        let sent = b"hello through TLS";
        tls.write_all(sent).unwrap();
        let mut got = vec![0u8; sent.len()];
        tls.read_exact(&mut got).unwrap();
        assert_eq!(&got, sent, "{model:?}");
        assert_eq!(
            tls.conn.protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_3)
        );
        tls.conn.send_close_notify();
        tls.flush().unwrap();
        let mut rest = Vec::new();
        // The server answers close_notify with its own, then FIN: a clean end.
        tls.read_to_end(&mut rest).expect("a clean TLS end");
        assert!(rest.is_empty());
    }
}

/// Plain HTTP on the TLS port gets a readable 400; plain bytes get closed.
#[test]
fn not_tls_is_told() {
    for model in [Model::Threads, Model::EventLoop] {
        let (server, _) = tls_echo(model, DEADLINE);
        let mut tcp = TcpStream::connect(server.addr()).unwrap();
        tcp.set_read_timeout(Some(DEADLINE)).unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 400 Bad Request"), "{answer}");
        assert!(answer.contains("speaks TLS"));

        let mut tcp = TcpStream::connect(server.addr()).unwrap();
        tcp.set_read_timeout(Some(DEADLINE)).unwrap();
        tcp.write_all(b"hello\n").unwrap();
        let mut answer = Vec::new();
        let _ = tcp.read_to_end(&mut answer);
        assert!(answer.is_empty(), "{model:?}: {answer:?}");
    }
}

/// A client that connects and never sends a ClientHello is closed at the TLS
/// handshake deadline, not held forever.
#[test]
fn handshake_deadline() {
    for model in [Model::Threads, Model::EventLoop] {
        let (server, _) = tls_echo(model, Duration::from_millis(300));
        let mut tcp = TcpStream::connect(server.addr()).unwrap();
        tcp.set_read_timeout(Some(DEADLINE)).unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 16];
        let n = match tcp.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => 0,
            Err(e) => panic!("{model:?}: {e}"),
        };
        assert_eq!(n, 0, "{model:?}");
        assert!(started.elapsed() < DEADLINE, "{model:?}");
    }
}

/// Lesson 17 from the client's side: tls:// and wss:// through socklab's own
/// Transport, trusting the printed certificate; the wire Tap holds TLS records
/// only (application_data after the handshake), the plaintext Tap the frames.
#[test]
fn client_over_tls_and_wss() {
    use client::{Target, Transport, Trust};
    let pem = TempPem::new("client");
    let cert = pem.0.clone();
    let servers = socklab::servers::SecureServers::start(&cert).expect("servers");
    for url in [servers.tls_url(), servers.wss_url()] {
        let mut target = Target::parse(&url).unwrap();
        assert!(Transport::connect_to(&target).is_err(), "no trust given");
        target.trust = Trust::CaFile(cert.clone());
        let mut t = Transport::connect_to(&target).expect("connect");
        assert_eq!(t.tls().unwrap().version, "TLSv1_3");
        t.set_read_timeout(Some(DEADLINE)).unwrap();
        t.send(b"secret").unwrap();
        let got: Vec<u8> = t.receive_bytes(6).unwrap().concat();
        assert_eq!(got, b"secret");
        let wire = t.wire_log().records();
        let records = client::records::tls_records(&wire);
        assert_eq!(records[0].type_name, "handshake", "{url}");
        let after = &records[records.len() - 2..];
        assert!(after.iter().all(|r| r.type_name == "application_data"));
        // The plaintext never appears on the wire.
        let on_wire: Vec<u8> = wire.iter().flat_map(|r| r.bytes.clone()).collect();
        assert!(!on_wire.windows(6).any(|w| w == b"secret"), "{url}");
        let report = t.close().unwrap();
        assert!(report.our_fin.is_some());
    }
}

/// `serve wss` past `--max-connections`: the cap is decided at accept(),
/// before any TLS, so the refused client gets no 503 (there is no TLS channel
/// to carry one) but an end of stream before any ServerHello; socklab's client
/// says so in words. The connection inside the cap keeps working. Both models.
#[test]
fn wss_past_the_cap_closes_before_the_server_hello() {
    use client::{Target, Transport, Trust};
    for model in [Model::Threads, Model::EventLoop] {
        let pem = TempPem::new(&format!("cap-{model:?}"));
        let dir = pem.0.clone();
        let identity = Identity::self_signed(&dir).expect("certificate");
        let config = tls::server_config(identity, &[tls::ALPN_HTTP11]).expect("config");
        let engine = Engine::new(1).expect("engine");
        let ws = ws_echo::Config {
            limits: Limits {
                max_connections: 1,
                ..Limits::default()
            },
            ..ws_echo::Config::default()
        };
        let server = Running::tcp("127.0.0.1:0".parse().unwrap(), move |listener, shutdown| {
            let layer = move |tuple| TlsLayer::new(Arc::clone(&config), tuple);
            let handshakes = Handshakes::new(16, DEADLINE);
            ws_echo::serve_layered(model, listener, shutdown, ws, engine, layer, handshakes)
        })
        .expect("server starts");
        let mut target = Target::parse(&format!("wss://{}/", server.addr())).unwrap();
        target.trust = Trust::CaFile(dir.clone());
        // The one connection the cap allows, upgraded and echoing.
        let mut first = Transport::connect_to(&target).expect("the first connection");
        first.set_read_timeout(Some(DEADLINE)).unwrap();

        // The second: TCP connects (the kernel accepts), the ClientHello goes
        // out, and the server's FIN comes back instead of a ServerHello.
        let Err(refused) = Transport::connect_to(&target) else {
            panic!("{model:?}: the second connection must be refused at the cap");
        };
        let said = refused.to_string();
        assert!(
            said.contains("without answering our ClientHello"),
            "{model:?}: {said}"
        );
        // Nothing TLS at all: a raw client reads no byte before the FIN.
        let mut raw = TcpStream::connect(server.addr()).unwrap();
        raw.set_read_timeout(Some(DEADLINE)).unwrap();
        raw.write_all(&[0x16, 0x03, 0x01, 0x00, 0x01, 0x01])
            .unwrap();
        let mut answer = Vec::new();
        match raw.read_to_end(&mut answer) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("{model:?}: {e}"),
        }
        assert!(answer.is_empty(), "{model:?}: {answer:?}");

        first.send(b"still here").unwrap();
        let got: Vec<u8> = first.receive_bytes(10).unwrap().concat();
        assert_eq!(got, b"still here", "{model:?}");
        first.close().unwrap();
        let _ = std::fs::remove_file(&dir);
    }
}

/// A ClientHello and a broken record in one write: the broken record is
/// handled with the hello (the connection ends at once, after the server's
/// answer), not left unread until the handshake deadline. Here the deadline
/// is longer than the client waits, so waiting for it fails the test.
#[test]
fn a_bad_record_behind_the_hello_is_not_left_unread() {
    for model in [Model::Threads, Model::EventLoop] {
        let (server, cert) = tls_echo(model, 3 * DEADLINE);
        let mut conn = client_conn(cert);
        let mut wire = Vec::new();
        conn.write_tls(&mut wire).unwrap();
        assert_eq!(wire[0], 0x16, "a handshake record");
        // A record of content type 0x99, which TLS does not have.
        wire.extend_from_slice(b"\x99\x03\x03\x00\x05hello");
        let mut tcp = TcpStream::connect(server.addr()).unwrap();
        tcp.set_read_timeout(Some(DEADLINE)).unwrap();
        tcp.write_all(&wire).unwrap();
        let mut answer = Vec::new();
        match tcp.read_to_end(&mut answer) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("{model:?}: the connection did not end: {e}"),
        }
        assert!(!answer.is_empty(), "{model:?}: the server said nothing");
    }
}
