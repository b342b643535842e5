//! The kernel's TCP state at each step of a connection, read back from /proc.
//!
//! These tests need Linux's /proc/net/tcp; elsewhere every state is "unknown" and
//! they return early.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use lifecycle::TcpState;
use lifecycle::state::tcp_state;
use lifecycle::tcp::{accept, listen_tcp};

/// Waits (at most 10 s) until the kernel reports `want` for this address pair.
fn wait_for(local: SocketAddr, remote: SocketAddr, want: TcpState) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = tcp_state(local, remote);
        if now == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{local} -> {remote}: {now}, wanted {want}"
        );
        thread::yield_now();
    }
}

fn proc_available() -> bool {
    std::path::Path::new("/proc/net/tcp").exists()
}

/// Lessons 1 and 11: LISTEN after listen(); ESTABLISHED after accept(); the side
/// that receives FIN first sits in CLOSE_WAIT; the side that sent FIN first ends
/// in TIME_WAIT, even after both sockets are closed.
#[test]
fn states_follow_the_lifecycle_and_the_first_closer_waits() {
    if !proc_available() {
        eprintln!("SKIPPED: no /proc/net/tcp on this system, so no kernel states to read");
        return;
    }
    let listener = listen_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
    let server_addr = listener.local_addr().unwrap();
    assert_eq!(
        tcp_state(server_addr, "0.0.0.0:0".parse().unwrap()),
        TcpState::Listen
    );

    let mut client = TcpStream::connect(server_addr).unwrap();
    let client_addr = client.local_addr().unwrap();
    let mut conn = accept(&listener).unwrap();
    assert_eq!(conn.state(), TcpState::Established);
    assert_eq!(conn.tuple().peer, client_addr);

    // The client closes first: its FIN reaches the server, which reads 0.
    client.write_all(b"bye").unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut buf = Vec::new();
    conn.read_to_end(&mut buf).unwrap();
    assert_eq!(buf, b"bye");
    assert_eq!(conn.state(), TcpState::CloseWait);
    wait_for(client_addr, server_addr, TcpState::FinWait2);

    // Now the server closes too; the client, who sent FIN first, keeps the
    // connection's memory in TIME_WAIT; the server's socket is gone.
    conn.close();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).unwrap();
    drop(client);
    wait_for(client_addr, server_addr, TcpState::TimeWait);
    wait_for(server_addr, client_addr, TcpState::Closed);
}
