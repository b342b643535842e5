//! The kernel's view of a student's TCP connection, found by its 4-tuple:
//! its state (RFC 793's names) and TCP_INFO (round trip, retransmissions,
//! congestion window), both through lifecycle's sock_diag lookups.
//!
//! The classroom watches the students' sockets from outside the servers (a
//! layer sees bytes, not file descriptors), so it asks the kernel by address,
//! the way `ss -i` does. That also finds a socket the server already closed:
//! the one in TIME_WAIT (which keeps a state but no TCP_INFO).

use std::net::SocketAddr;

use lifecycle::TcpState;
pub use lifecycle::state::TcpInfo;

/// The state of the server's socket for `local` ↔ `peer`, and its TCP_INFO
/// when the kernel has one for it.
pub fn look(local: SocketAddr, peer: SocketAddr) -> (TcpState, Option<TcpInfo>) {
    let state = lifecycle::state::tcp_state(local, peer);
    let info = match state {
        TcpState::Closed | TcpState::TimeWait => None,
        _ => lifecycle::state::tcp_info(local, peer),
    };
    (state, info)
}
