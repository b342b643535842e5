//! The kernel's view of a student's TCP connection, found by its 4-tuple:
//! its state (RFC 793's names) through lifecycle's sock_diag lookup.
//!
//! The classroom watches the students' sockets from outside the servers (a
//! layer sees bytes, not file descriptors), so it asks the kernel by address,
//! the way `ss` does. That also finds a socket the server already closed: the
//! one in TIME_WAIT.

use std::net::SocketAddr;

use lifecycle::TcpState;

/// What TCP_INFO adds to the state: round-trip time, retransmissions, window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpInfo {
    /// Smoothed round-trip time, microseconds (`tcpi_rtt`).
    pub rtt_us: u32,
    /// Segments retransmitted in all (`tcpi_total_retrans`).
    pub retransmits: u32,
    /// Congestion window, segments (`tcpi_snd_cwnd`).
    pub cwnd: u32,
}

/// The state of the server's socket for `local` ↔ `peer`, and its TCP_INFO
/// when the kernel gave it (`None` here: see [`TcpInfo`]).
pub fn look(local: SocketAddr, peer: SocketAddr) -> (TcpState, Option<TcpInfo>) {
    (lifecycle::state::tcp_state(local, peer), None)
}
