//! The transport's own tests: URL forms, and a close that ends though the peer
//! keeps sending.

use super::*;

/// The three URL forms; ws may leave out its port (80), tcp and udp may not.
#[test]
fn parses_the_three_schemes() {
    let t = Target::parse("tcp://127.0.0.1:7007").unwrap();
    assert_eq!(
        (t.scheme, t.addr),
        (Scheme::Tcp, "127.0.0.1:7007".parse().unwrap())
    );
    let u = Target::parse("udp://[::1]:9").unwrap();
    assert_eq!(
        (u.scheme, u.addr),
        (Scheme::Udp, "[::1]:9".parse().unwrap())
    );
    let w = Target::parse("ws://127.0.0.1/chat").unwrap();
    assert_eq!(
        (w.scheme, w.addr),
        (Scheme::Ws, "127.0.0.1:80".parse().unwrap())
    );
    assert!(Target::parse("tcp://127.0.0.1").is_err());
    assert!(Target::parse("https://127.0.0.1:443").is_err());
    assert!(Target::parse("127.0.0.1:80").is_err());
}

/// A peer that keeps sending after our FIN must not keep `close()` waiting:
/// the wait for its FIN has one deadline and a byte cap, not a timeout per read.
#[test]
fn close_ends_though_the_peer_keeps_sending() {
    use std::net::TcpListener;
    use std::sync::mpsc;
    /// How long the chatty server may write; far past `close`'s own bounds.
    const SERVER_LIMIT: Duration = Duration::from_secs(30);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        // Wait for the client's FIN (read() = 0) ...
        while stream.read(&mut buf).map(|n| n > 0).unwrap_or(false) {}
        // ... then keep talking, never sending our FIN, until the client is gone.
        let chunk = [b'x'; 16 * 1024];
        let end = Instant::now() + SERVER_LIMIT;
        while Instant::now() < end && stream.write_all(&chunk).is_ok() {}
    });
    let client = Transport::connect(&format!("tcp://{addr}")).unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(client.close().map(|r| r.their_fin));
    });
    let outer = CLOSE_TIMEOUT + STATE_TIMEOUT + Duration::from_secs(20);
    let their_fin = rx
        .recv_timeout(outer)
        .expect("close() must return")
        .unwrap();
    assert_eq!(their_fin, None, "the server never sent its FIN");
    server.join().unwrap();
}
