//! The socket lifecycle, narrated.
//!
//! Every server and client in socklab is built from the calls in this crate, and
//! every call here is exactly one system call, logged at `info` with the call's
//! name, its arguments, and what the kernel now does. Run any socklab server with
//! `RUST_LOG=info` and the log reads like the first chapter of a networking book:
//!
//! ```text
//! socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) -> fd 3
//! setsockopt(fd 3, SO_REUSEADDR, 1)
//! bind(fd 3, 127.0.0.1:7007)
//! listen(fd 3, backlog=128): LISTEN
//! [tcp 127.0.0.1:7007 <-> 127.0.0.1:53412] accept() -> fd 4: ESTABLISHED
//! ...
//! ```
//!
//! # Layout
//!
//! - [`tcp`]: `socket → setsockopt → bind → listen → accept`, `connect`, and a
//!   [`tcp::Connection`] whose `read`, `write`, `shutdown` and `close` narrate
//!   themselves; [`tcp::graceful_close`] (shutdown, drain, close: the peer sees FIN, not RST).
//! - [`udp`]: `socket → bind → recv_from/send_to` — no listen, no accept, no connection.
//! - [`state`]: the kernel's own TCP state of a socket (LISTEN, ESTABLISHED,
//!   TIME_WAIT …): `TCP_INFO` for a socket we hold, one netlink sock_diag request
//!   for a 4-tuple (a closed socket in TIME_WAIT, the other end of a connection).
//! - [`tap`]: the [`tap::Tap`], a `Read + Write` wrapper that records every byte
//!   with its direction and time; the client's wire view and byte counts come from it.
//! - [`addr`]: [`BindAddr`], where a server listens as typed (`localhost:7007`), resolved and narrated.
//! - [`limits`]: raising the open-file limit (every socket is a file descriptor).
//! - [`narrate`]: turns the narration on (`env_logger`, default level `info`).
//! - [`shutdown`]: the signal that stops a server (Ctrl-C, or a test finishing).
//! - [`FourTuple`]: protocol + local address + peer address, the name of a connection.
#![deny(missing_docs)]

pub mod addr;
pub mod limits;
pub mod narrate;
pub mod shutdown;
pub mod state;
pub mod tap;
pub mod tcp;
pub mod udp;

use std::fmt;
use std::net::SocketAddr;

pub use addr::BindAddr;
pub use shutdown::Shutdown;
pub use state::TcpState;
pub use tap::{Direction, Tap, TapLog};

/// The transport protocol of a socket: the first element of the tuple that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    /// TCP: a connected, reliable, ordered byte stream (`SOCK_STREAM`).
    Tcp,
    /// UDP: connectionless datagrams that may be lost or reordered (`SOCK_DGRAM`).
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// What names one conversation between two sockets: protocol, local IP:port, peer IP:port.
///
/// The kernel keeps one TCP connection per 4-tuple; two clients of the same server
/// differ only in their peer port. socklab prefixes every per-connection log line
/// with it, so interleaved connections can be told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FourTuple {
    /// `tcp` or `udp`.
    pub proto: Proto,
    /// Our end: the address we bound (or the kernel chose for us).
    pub local: SocketAddr,
    /// The other end.
    pub peer: SocketAddr,
}

impl fmt::Display for FourTuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} <-> {}", self.proto, self.local, self.peer)
    }
}

/// The name of an address family as the C API spells it, for the narration.
pub(crate) fn family_name(addr: &SocketAddr) -> &'static str {
    match addr {
        SocketAddr::V4(_) => "AF_INET",
        SocketAddr::V6(_) => "AF_INET6",
    }
}
