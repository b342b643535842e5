//! The kernel's TCP state at each step of a connection, read back from the kernel.
//!
//! Two ways are checked: `TCP_INFO` on a socket we hold ([`state_of`]), and the
//! netlink sock_diag lookup by 4-tuple ([`lookup`]), which also sees sockets whose
//! fd is gone (TIME_WAIT). Every 4-tuple lookup here must come from sock_diag: on
//! Linux it is always there, and a silent fall back to the slow `/proc` scan is
//! exactly the regression these tests exist to catch.
//!
//! Run: `cargo test -p lifecycle --test states`.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::thread;
use std::time::{Duration, Instant};

use lifecycle::TcpState;
use lifecycle::state::{Source, lookup, state_of, tcp_state};
use lifecycle::tcp::{accept, listen_tcp};

/// How long a test waits for the kernel to reach a state (the FIN and its ACK
/// cross loopback in microseconds; this only bounds a failing test).
const DEADLINE: Duration = Duration::from_secs(10);

/// "No peer": the remote address of a listening socket.
const NO_PEER_V4: &str = "0.0.0.0:0";

/// Looks the 4-tuple up, insisting that sock_diag answered.
fn diag(local: SocketAddr, remote: SocketAddr) -> TcpState {
    let (state, source) = lookup(local, remote);
    assert_eq!(
        source,
        Source::SockDiag,
        "{local} -> {remote}: sock_diag did not answer, the state came from the /proc scan"
    );
    state
}

/// Waits until sock_diag reports `want` for this address pair.
fn wait_for(local: SocketAddr, remote: SocketAddr, want: TcpState) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let now = diag(local, remote);
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

/// Waits until `TCP_INFO` on a socket we hold reports `want`.
fn wait_for_held(socket: &impl AsFd, want: TcpState) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let now = state_of(socket);
        if now == want {
            return;
        }
        assert!(Instant::now() < deadline, "{now}, wanted {want}");
        thread::yield_now();
    }
}

/// Binds a listener on `addr`, or `None` (and a SKIPPED note) where this machine
/// has no such address — IPv6 switched off in a container, say.
fn listen_or_skip(addr: &str) -> Option<TcpListener> {
    match listen_tcp(addr.parse().unwrap()) {
        Ok(listener) => Some(listener),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EADDRNOTAVAIL | libc::EAFNOSUPPORT)
            ) =>
        {
            eprintln!("SKIPPED: cannot listen on {addr} here: {e}");
            None
        }
        Err(e) => panic!("listen on {addr}: {e}"),
    }
}

/// Lessons 1 and 11: LISTEN after listen(); ESTABLISHED after accept(); the side
/// that receives FIN first sits in CLOSE_WAIT; the side that sent FIN first ends
/// in TIME_WAIT, even after both sockets are closed.
#[test]
fn states_follow_the_lifecycle_and_the_first_closer_waits() {
    let listener = listen_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
    let server_addr = listener.local_addr().unwrap();
    assert_eq!(
        tcp_state(server_addr, NO_PEER_V4.parse().unwrap()),
        TcpState::Listen
    );

    let mut client = TcpStream::connect(server_addr).unwrap();
    let client_addr = client.local_addr().unwrap();
    let mut conn = accept(&listener).unwrap();
    assert_eq!(conn.state(), TcpState::Established);
    assert_eq!(conn.tuple().peer, client_addr);

    // The client closes first: its FIN reaches the server, which reads 0.
    client.write_all(b"bye").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
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

/// A socket we hold is asked directly (`TCP_INFO`): LISTEN, ESTABLISHED on both
/// ends, FIN_WAIT2 after our FIN is acknowledged, CLOSE_WAIT after reading the
/// peer's FIN. A socket that is not TCP has no TCP state.
#[test]
fn tcp_info_reads_the_state_of_held_sockets() {
    let listener = listen_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
    assert_eq!(state_of(&listener), TcpState::Listen);

    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let mut conn = accept(&listener).unwrap();
    assert_eq!(state_of(&client), TcpState::Established);
    assert_eq!(state_of(conn.stream()), TcpState::Established);

    client.shutdown(Shutdown::Write).unwrap();
    wait_for_held(&client, TcpState::FinWait2);
    let mut buf = [0u8; 16];
    assert_eq!(conn.read(&mut buf).unwrap(), 0);
    assert_eq!(state_of(conn.stream()), TcpState::CloseWait);
    assert_eq!(conn.state(), TcpState::CloseWait);

    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    assert_eq!(state_of(&udp), TcpState::Unknown);
}

/// The 4-tuple lookup is exact: TIME_WAIT on the side that closed first; CLOSED
/// for the other side even though a listener still owns that port (the kernel's
/// lookup would otherwise fall through to it); CLOSED for a 4-tuple nobody has.
/// All answered by sock_diag, not by the /proc scan.
#[test]
fn sock_diag_finds_time_wait_and_nothing_else() {
    let listener = listen_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
    let server_addr = listener.local_addr().unwrap();
    assert_eq!(
        diag(server_addr, NO_PEER_V4.parse().unwrap()),
        TcpState::Listen
    );

    let client = TcpStream::connect(server_addr).unwrap();
    let client_addr = client.local_addr().unwrap();
    let mut conn = accept(&listener).unwrap();
    assert_eq!(diag(client_addr, server_addr), TcpState::Established);
    assert_eq!(diag(server_addr, client_addr), TcpState::Established);

    // The client closes first; once the server has read that FIN, it closes too.
    drop(client);
    let mut buf = Vec::new();
    conn.read_to_end(&mut buf).unwrap();
    conn.close();

    wait_for(client_addr, server_addr, TcpState::TimeWait);
    wait_for(server_addr, client_addr, TcpState::Closed);
    assert_eq!(
        state_of(&listener),
        TcpState::Listen,
        "the listener is still open"
    );

    // Port 1 (tcpmux) is outside the ephemeral range and not served on loopback.
    let nobody = (
        "127.0.0.1:1".parse().unwrap(),
        "127.0.0.1:2".parse().unwrap(),
    );
    assert_eq!(diag(nobody.0, nobody.1), TcpState::Closed);
}

/// IPv6 on ::1 takes the same path, with 16-byte addresses.
#[test]
fn sock_diag_works_on_ipv6_loopback() {
    let Some(listener) = listen_or_skip("[::1]:0") else {
        return;
    };
    let server_addr = listener.local_addr().unwrap();
    assert_eq!(
        diag(server_addr, "[::]:0".parse().unwrap()),
        TcpState::Listen
    );

    let client = TcpStream::connect(server_addr).unwrap();
    let client_addr = client.local_addr().unwrap();
    let mut conn = accept(&listener).unwrap();
    assert_eq!(diag(client_addr, server_addr), TcpState::Established);
    assert_eq!(diag(server_addr, client_addr), TcpState::Established);

    drop(client);
    let mut buf = Vec::new();
    conn.read_to_end(&mut buf).unwrap();
    conn.close();
    wait_for(client_addr, server_addr, TcpState::TimeWait);
    wait_for(server_addr, client_addr, TcpState::Closed);
}

/// A dual-stack listener on [::] accepts an IPv4 client; the server side names
/// the connection with IPv4-mapped addresses (::ffff:127.0.0.1), the client with
/// plain IPv4. Both names find the same connection.
#[test]
fn sock_diag_finds_ipv4_mapped_connections() -> io::Result<()> {
    let Some(listener) = listen_or_skip("[::]:0") else {
        return Ok(());
    };
    let port = listener.local_addr()?.port();
    let client = match TcpStream::connect(("127.0.0.1", port)) {
        Ok(client) => client,
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            eprintln!("SKIPPED: [::] is IPv6-only here (net.ipv6.bindv6only=1)");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let conn = accept(&listener)?;
    let tuple = conn.tuple();
    assert!(tuple.local.is_ipv6(), "an IPv6 socket names itself in IPv6");
    assert_eq!(tuple.local.ip().to_canonical(), client.peer_addr()?.ip());
    assert_eq!(diag(tuple.local, tuple.peer), TcpState::Established);
    assert_eq!(
        diag(client.local_addr()?, client.peer_addr()?),
        TcpState::Established
    );
    Ok(())
}
