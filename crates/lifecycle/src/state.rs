//! The kernel's own view of a TCP socket: its state in the RFC 793 state machine.
//!
//! socklab reads the state after each lifecycle step so the narration can say
//! "ESTABLISHED" or "TIME_WAIT" because the kernel said so, not because the code
//! assumes it. There are two questions, and each has its own exact answer:
//!
//! - **A socket we hold** (we have its fd): [`state_of`] asks the socket itself with
//!   `getsockopt(fd, IPPROTO_TCP, TCP_INFO)` and reads `tcpi_state`. One system
//!   call; nothing else on the machine affects its cost.
//! - **A socket named by its addresses** (after `close()`, when only the kernel
//!   remembers it in `TIME_WAIT`; or the other end of a loopback connection):
//!   [`tcp_state`] sends the kernel one netlink `NETLINK_SOCK_DIAG` request for that
//!   exact 4-tuple (see `state/sock_diag.rs`). The kernel answers from its hash
//!   tables, the way it finds the socket for an arriving segment.
//!
//! **Fallback.** Where the netlink socket cannot be opened, or the kernel refuses the
//! request (no `inet_diag` support: `EPROTONOSUPPORT`, `EINVAL`, …), [`tcp_state`]
//! reads `/proc/net/tcp` (IPv4) or `/proc/net/tcp6` (IPv6) instead, as `netstat`
//! does (see `state/proc_net.rs`). That scans every TCP socket on the machine, so
//! one lookup costs milliseconds once there are thousands of (say, `TIME_WAIT`)
//! sockets. [`lookup`] tells which way a state was read.
//!
//! Try: `socklab serve tcp &`, `nc 127.0.0.1 7007`, then `ss -tan '( sport = :7007 )'`
//! in another terminal and compare with the log.
//!
//! `TCP_INFO` and sock_diag are Linux interfaces, so this module (like socklab) is
//! Linux-only.

mod connections;
mod proc_net;
mod sock_diag;
mod tcp_info;

pub use connections::Listed;
pub use tcp_info::TcpInfo;

use std::fmt;
use std::mem;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};

/// A TCP state, named as RFC 793 (and `ss`) name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpState {
    /// Connected; data flows both ways.
    Established,
    /// We sent SYN (connect) and wait for SYN-ACK.
    SynSent,
    /// We got SYN and answered SYN-ACK; waiting for the final ACK.
    SynRecv,
    /// We sent FIN (shutdown or close) and wait for its ACK.
    FinWait1,
    /// Our FIN was acknowledged; we wait for the peer's FIN.
    FinWait2,
    /// Both FINs exchanged and we closed first: we wait 2×MSL so late segments die here.
    TimeWait,
    /// Fully closed (rarely seen: the kernel drops the socket).
    Close,
    /// The peer sent FIN (we read 0 bytes); we may still write, then close.
    CloseWait,
    /// We closed after the peer did, and wait for the ACK of our FIN.
    LastAck,
    /// A listening socket: the kernel completes handshakes and queues them for accept().
    Listen,
    /// Both sides sent FIN at the same time.
    Closing,
    /// A half-open connection still in the SYN queue (Linux-specific).
    NewSynRecv,
    /// No socket with this address pair is listed: the kernel has forgotten it
    /// (RFC 793's CLOSED, which Linux never lists).
    Closed,
    /// The state could not be read (not a TCP socket, not Linux, or neither
    /// sock_diag nor `/proc` available).
    Unknown,
}

impl TcpState {
    /// The name `ss` and the RFC use, e.g. `TIME_WAIT`.
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait1 => "FIN_WAIT1",
            TcpState::FinWait2 => "FIN_WAIT2",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
            TcpState::NewSynRecv => "NEW_SYN_RECV",
            TcpState::Closed => "CLOSED",
            TcpState::Unknown => "(state unknown)",
        }
    }

    /// The state for the kernel's state number (`include/net/tcp_states.h`): the
    /// `st` column of `/proc/net/tcp`, `tcpi_state` of `TCP_INFO`, `idiag_state` of
    /// sock_diag.
    fn from_kernel(code: u8) -> TcpState {
        match code {
            0x01 => TcpState::Established,
            0x02 => TcpState::SynSent,
            0x03 => TcpState::SynRecv,
            0x04 => TcpState::FinWait1,
            0x05 => TcpState::FinWait2,
            0x06 => TcpState::TimeWait,
            0x07 => TcpState::Close,
            0x08 => TcpState::CloseWait,
            0x09 => TcpState::LastAck,
            0x0A => TcpState::Listen,
            0x0B => TcpState::Closing,
            0x0C => TcpState::NewSynRecv,
            _ => TcpState::Unknown,
        }
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a state was read: the exact lookup, or the table scan it falls back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// One netlink `SOCK_DIAG_BY_FAMILY` request for the exact 4-tuple.
    SockDiag,
    /// A read of the whole `/proc/net/tcp` (or `tcp6`) table: the fallback.
    ProcScan,
}

/// The kernel's state of a TCP socket we hold: `getsockopt(2)` with `TCP_INFO`.
///
/// [`TcpState::Unknown`] if the call fails, e.g. because `socket` is not TCP.
pub fn state_of(socket: &impl AsFd) -> TcpState {
    // SAFETY: tcp_info is plain integers, for which all zeros is valid.
    let mut info: libc::tcp_info = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // getsockopt(2) TCP_INFO: the kernel copies its view of the connection (state,
    // round-trip time, windows …) into `info`; we keep only the state.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_fd().as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &mut len,
        )
    };
    if rc != 0 || len == 0 {
        return TcpState::Unknown;
    }
    TcpState::from_kernel(info.tcpi_state)
}

/// The kernel's state of the TCP socket with this local and remote address.
///
/// For a listening socket pass the unspecified remote address (`0.0.0.0:0`).
/// A 4-tuple names at most one non-listening socket, so this also finds sockets
/// that no longer have a file descriptor — the ones in `TIME_WAIT` after `close()`.
/// [`TcpState::Closed`] if the kernel has no such socket.
pub fn tcp_state(local: SocketAddr, remote: SocketAddr) -> TcpState {
    lookup(local, remote).0
}

/// [`tcp_state`], and how the state was read: by sock_diag, or by the `/proc` scan
/// when sock_diag is not available.
pub fn lookup(local: SocketAddr, remote: SocketAddr) -> (TcpState, Source) {
    match sock_diag::state(local, remote) {
        Ok(state) => (state, Source::SockDiag),
        Err(_) => (proc_net::scan(local, remote), Source::ProcScan),
    }
}

/// The state read the slow way, by scanning `/proc/net/tcp{,6}`, whatever sock_diag
/// could do. [`tcp_state`] uses it only as its fallback; it is public so the two
/// can be compared (see the ignored test in `tests/lookup_cost.rs`).
pub fn proc_scan(local: SocketAddr, remote: SocketAddr) -> TcpState {
    proc_net::scan(local, remote)
}

/// TCP_INFO (round trip, retransmissions, congestion window) of the TCP socket
/// with this local and remote address, found by sock_diag as `ss -i` finds it;
/// `None` if there is no such socket or sock_diag is not available.
pub fn tcp_info(local: SocketAddr, remote: SocketAddr) -> Option<TcpInfo> {
    tcp_info::info(local, remote).ok().flatten()
}

/// Every TCP connection whose local end is `local` (not the listener), with
/// its state, TCP_INFO and bytes both ways: one sock_diag dump, as `ss -ti`.
pub fn connections_on(local: SocketAddr) -> std::io::Result<Vec<Listed>> {
    connections::on(local)
}
