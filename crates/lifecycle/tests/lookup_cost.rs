//! What one state lookup costs: sock_diag's exact request against the `/proc` scan,
//! with many `TIME_WAIT` sockets on the machine (any client can make those).
//!
//! A measurement, not a check, so it is ignored by default and asserts no timing.
//! Run it optimised and with its output shown:
//!
//! ```text
//! cargo test -p lifecycle --release --test lookup_cost -- --ignored --nocapture
//! ```
//!
//! Watch for: the scan's cost grows with the table (`wc -l /proc/net/tcp`); the
//! sock_diag and `TCP_INFO` costs do not.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use lifecycle::TcpState;
use lifecycle::state::{Source, lookup, proc_scan, state_of};
use lifecycle::tcp::{accept, listen_tcp};

/// How many connections are opened and closed first, each leaving a socket in
/// TIME_WAIT for about a minute.
const TIME_WAIT_SOCKETS: usize = 2_000;

/// How many lookups each way is timed over.
const LOOKUPS: u32 = 1_000;

/// Opens and closes one connection, client first, so the client's end stays in
/// TIME_WAIT. Returns the client's (local, peer) addresses.
fn one_time_wait(listener: &std::net::TcpListener) -> io::Result<(SocketAddr, SocketAddr)> {
    let client = TcpStream::connect(listener.local_addr()?)?;
    let pair = (client.local_addr()?, client.peer_addr()?);
    let mut conn = accept(listener)?;
    drop(client); // the client's FIN goes first
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest)?; // wait for it, so the server answers with its own FIN
    conn.close();
    Ok(pair)
}

/// Times `LOOKUPS` calls of `f` and returns the time per call.
fn per_call(mut f: impl FnMut() -> TcpState, want: TcpState) -> Duration {
    let start = Instant::now();
    for _ in 0..LOOKUPS {
        assert_eq!(f(), want);
    }
    start.elapsed() / LOOKUPS
}

/// Lesson: an exact lookup costs the same however many sockets exist; a table
/// scan pays for every one of them.
#[test]
#[ignore = "a measurement: run with --release -- --ignored --nocapture"]
fn sock_diag_against_the_proc_scan() -> io::Result<()> {
    let listener = listen_tcp("127.0.0.1:0".parse().unwrap())?;
    let mut last = None;
    for _ in 0..TIME_WAIT_SOCKETS {
        last = Some(one_time_wait(&listener)?);
    }
    let (client, server) = last.expect("at least one connection");
    assert_eq!(
        lookup(client, server),
        (TcpState::TimeWait, Source::SockDiag)
    );

    let table = std::fs::read_to_string("/proc/net/tcp")?.lines().count();
    let diag = per_call(|| lookup(client, server).0, TcpState::TimeWait);
    let scan = per_call(|| proc_scan(client, server), TcpState::TimeWait);
    let info = per_call(|| state_of(&listener), TcpState::Listen);
    println!("/proc/net/tcp lines: {table}");
    println!("sock_diag request:   {diag:?} per lookup ({LOOKUPS} lookups)");
    println!("/proc/net/tcp scan:  {scan:?} per lookup ({LOOKUPS} lookups)");
    println!("TCP_INFO (held fd):  {info:?} per lookup ({LOOKUPS} lookups)");
    Ok(())
}
