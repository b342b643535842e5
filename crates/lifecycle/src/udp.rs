//! UDP, one system call per step: `socket → bind → recv_from / send_to`.
//!
//! Put this file next to [`crate::tcp`]: there is no `listen`, no `accept`, no
//! connection and no per-client socket. One socket receives datagrams from anyone;
//! each `recv_from` says who sent it, and each `send_to` names who gets the reply.
//! Each datagram arrives whole or not at all: its boundary is kept (lesson 3), but
//! nothing promises it arrives, or arrives in order (lesson 2).
//!
//! Try: `socklab serve udp` and `ncat -u 127.0.0.1 7007`.

use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use log::{debug, info, warn};
use socket2::{Domain, MaybeUninitSlice, Protocol, Socket, Type};

use crate::narrate::plural;
use crate::tcp::{Escaped, with_context};
use crate::{FourTuple, Proto, family_name};

/// The largest UDP payload IPv4 can carry: 65,535 (the IP total-length field's
/// limit) − 20 (IP header) − 8 (UDP header) = 65,507 bytes.
pub const MAX_IPV4_PAYLOAD: usize = 65_507;

/// A receive buffer of 64 KiB holds any UDP datagram over IPv4 (at most
/// [`MAX_IPV4_PAYLOAD`]) or IPv6 without jumbograms (at most 65,527), so a datagram
/// received into it is never cut. Anything shorter would silently truncate:
/// recv_from() drops the rest of a datagram that does not fit.
pub const RECV_BUFFER: usize = 64 * 1024;

/// One datagram, as `recv_from` reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram {
    /// Bytes written into the buffer (0 is a valid, empty datagram, not an EOF).
    pub len: usize,
    /// Who sent it: where the reply goes.
    pub peer: SocketAddr,
    /// The kernel's MSG_TRUNC flag: the datagram was longer than the buffer and the
    /// rest is gone.
    pub truncated: bool,
}

/// A UDP socket whose `recv_from` and `send_to` narrate themselves.
#[derive(Debug)]
pub struct UdpEndpoint {
    socket: Socket,
    local: SocketAddr,
    /// Set by [`UdpEndpoint::connect`]: the only peer we talk to.
    peer: Option<SocketAddr>,
}

impl UdpEndpoint {
    // ANCHOR: bind_udp
    /// `socket(2)` then `bind(2)`: that is all a UDP server needs before receiving.
    pub fn bind(addr: SocketAddr) -> io::Result<UdpEndpoint> {
        // socket(2): a datagram socket. SOCK_DGRAM instead of SOCK_STREAM is the
        // whole difference in how it is made.
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        let fd = socket.as_raw_fd();
        info!(
            "socket({}, SOCK_DGRAM, IPPROTO_UDP) -> fd {fd}",
            family_name(&addr)
        );

        // bind(2): from now on datagrams to this IP:port are queued for us.
        socket
            .bind(&addr.into())
            .map_err(|e| with_context(e, format!("bind({addr})")))?;
        let local = sock_addr(&socket)?;
        info!("bind(fd {fd}, {addr}) -> {local}: no listen(), no accept(): ready");

        Ok(UdpEndpoint {
            socket,
            local,
            peer: None,
        })
    }
    // ANCHOR_END: bind_udp

    /// A client's UDP socket: `socket(2)`, `bind(2)` to an ephemeral port, and
    /// `connect(2)` — which for UDP sends nothing at all. It only records the peer,
    /// so `send` needs no address and the kernel drops datagrams from anyone else.
    pub fn connect(peer: SocketAddr) -> io::Result<UdpEndpoint> {
        let any: SocketAddr = match peer {
            SocketAddr::V4(_) => ([0, 0, 0, 0], 0).into(),
            SocketAddr::V6(_) => ([0u16; 8], 0).into(),
        };
        let mut endpoint = UdpEndpoint::bind(any)?;
        endpoint
            .socket
            .connect(&peer.into())
            .map_err(|e| with_context(e, format!("connect({peer})")))?;
        endpoint.local = sock_addr(&endpoint.socket)?;
        endpoint.peer = Some(peer);
        info!(
            "[{}] connect(fd {}, {peer}): no packet sent; the kernel now filters other senders",
            endpoint.tuple(peer),
            endpoint.fd()
        );
        Ok(endpoint)
    }

    /// The address we are bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The file descriptor number.
    pub fn fd(&self) -> i32 {
        self.socket.as_raw_fd()
    }

    /// The socket itself, for options (timeouts) or to hand to an event loop.
    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    /// Gives up the narration and returns the socket.
    pub fn into_socket(self) -> Socket {
        self.socket
    }

    /// Names the exchange with `peer`. UDP has no connection; the tuple is still
    /// what tells one client's datagrams from another's.
    pub fn tuple(&self, peer: SocketAddr) -> FourTuple {
        FourTuple {
            proto: Proto::Udp,
            local: self.local,
            peer,
        }
    }

    // ANCHOR: recv_from
    /// `recvmsg(2)` (what `recv_from` is underneath): one whole datagram into `buf`.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<Datagram> {
        // SAFETY: socket2's receive calls promise never to write uninitialised bytes
        // into the buffer (see the docs of `Socket::recv`), so viewing our
        // initialised `[u8]` as `[MaybeUninit<u8>]` for the call is sound.
        let uninit = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
        let mut bufs = [MaybeUninitSlice::new(uninit)];
        let (len, flags, from) = self.socket.recv_from_vectored(&mut bufs)?;
        let peer = from
            .as_socket()
            .ok_or_else(|| io::Error::other("datagram from a non-IP address"))?;
        let datagram = Datagram {
            len,
            peer,
            truncated: flags.is_truncated(),
        };
        info!("[{}] recv_from(fd {}) = {len}", self.tuple(peer), self.fd());
        debug!("[{}] received {:?}", self.tuple(peer), Escaped(&buf[..len]));
        if datagram.truncated {
            warn!(
                "[{}] datagram truncated to {} (MSG_TRUNC): the rest is lost",
                self.tuple(peer),
                plural(len, "byte")
            );
        }
        Ok(datagram)
    }
    // ANCHOR_END: recv_from

    /// `sendto(2)`: one datagram to `peer`. It is sent whole or not at all.
    pub fn send_to(&self, bytes: &[u8], peer: SocketAddr) -> io::Result<usize> {
        let n = self.socket.send_to(bytes, &peer.into())?;
        info!(
            "[{}] send_to(fd {}, {}) = {n}",
            self.tuple(peer),
            self.fd(),
            plural(bytes.len(), "byte")
        );
        Ok(n)
    }
}

/// On a connected endpoint, one `read` is one datagram (`recv(2)`).
impl Read for UdpEndpoint {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.recv_from(buf)?.len)
    }
}

/// On a connected endpoint, one `write` is one datagram (`send(2)`).
impl Write for UdpEndpoint {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let peer = self.peer.ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotConnected, "UDP socket not connected")
        })?;
        self.send_to(buf, peer)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn sock_addr(socket: &Socket) -> io::Result<SocketAddr> {
    socket
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("not an IP socket"))
}
