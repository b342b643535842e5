//! One socket's TCP state by its exact 4-tuple, asked of the kernel over netlink.
//!
//! `NETLINK_SOCK_DIAG` is the interface `ss` uses. `ss` asks for a *dump* (every
//! socket, filtered); we send a single *request* instead: "the TCP socket with this
//! local and remote address". The kernel looks it up in its hash tables
//! (`inet_diag_find_one_icsk` in `net/ipv4/inet_diag.c`), the same lookup an
//! arriving segment gets, so the cost does not depend on how many other sockets
//! exist. It also finds sockets that no longer have a file descriptor: `TIME_WAIT`.
//!
//! The conversation is one datagram each way:
//!
//! ```text
//! us     -> kernel: nlmsghdr { SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST } + inet_diag_req_v2
//! kernel -> us:     nlmsghdr { SOCK_DIAG_BY_FAMILY } + inet_diag_msg   (found)
//!               or  nlmsghdr { NLMSG_ERROR } + errno -ENOENT            (no such socket)
//! ```
//!
//! Try: `ss -tan state time-wait` shows the same sockets, found by a dump.
//!
//! The message layouts are the kernel's C structs (`linux/netlink.h`,
//! `linux/inet_diag.h`). They are written and read field by field, so the bytes on
//! the wire are visible in the code and testable without a socket.

use std::io;
use std::mem;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::TcpState;

/// `SOCK_DIAG_BY_FAMILY` (`linux/sock_diag.h`): the message type of a socket query,
/// and of its answer.
pub(super) const SOCK_DIAG_BY_FAMILY: u16 = 20;

/// `NLM_F_REQUEST`: "this is a request". Without `NLM_F_DUMP` (0x300) beside it,
/// the kernel looks up exactly one socket instead of listing all of them.
const NLM_F_REQUEST: u16 = 0x1;

/// `NLMSG_ERROR`: the message type of the kernel's "it failed, here is the errno".
pub(super) const NLMSG_ERROR: u16 = 0x2;

/// `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`): every matching socket, not one.
const NLM_F_DUMP: u16 = 0x300;

/// `NLMSG_DONE`: the last message of a dump.
pub(super) const NLMSG_DONE: u16 = 0x3;

/// `TCP_LISTEN`'s number (include/net/tcp_states.h): a bit in `idiag_states`.
const TCP_LISTEN: u32 = 10;

/// `idiag_states` is a bit mask, bit N for state number N; all ones = any state.
/// (The exact lookup does not filter by it, but "any" says what we mean.)
const ALL_STATES: u32 = !0;

/// `INET_DIAG_NOCOOKIE`: we do not know the socket's cookie (a kernel-chosen id),
/// so the kernel must not check it.
const NO_COOKIE: [u32; 2] = [!0, !0];

/// The sequence number of our request. Every lookup uses a new netlink socket, so
/// any number will do; the kernel copies it into its answer and we check that.
pub(super) const SEQ: u32 = 1;

/// How long to wait for the kernel's answer. It answers at once; this only bounds
/// the wait if something is badly wrong.
const REPLY_TIMEOUT: Duration = Duration::from_secs(1);

/// Room for the answer: one `inet_diag_msg` (72 bytes) plus the attributes the
/// kernel appends (a few hundred bytes at most).
pub(super) const REPLY_BUFFER: usize = 8192;

/// `struct nlmsghdr` (`linux/netlink.h`): the 16-byte header in front of every
/// netlink message. Its fields are in the machine's own byte order.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NlMsgHdr {
    /// `nlmsg_len`: the length of the whole message, this header included.
    pub(super) len: u32,
    /// `nlmsg_type`: what the message is (`SOCK_DIAG_BY_FAMILY`, `NLMSG_ERROR` …).
    pub(super) kind: u16,
    /// `nlmsg_flags`: `NLM_F_REQUEST` and friends.
    flags: u16,
    /// `nlmsg_seq`: a number of our choosing, echoed in the answer.
    pub(super) seq: u32,
    /// `nlmsg_pid`: the sender's netlink port; 0 lets the kernel fill it in.
    pid: u32,
}

/// `struct inet_diag_sockid`: the name of one socket, as in the request and the answer.
///
/// Ports and addresses are in network byte order (`__be16`, `__be32[4]`), as on the
/// wire; an IPv4 address fills the first 4 of the 16 address bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InetDiagSockId {
    /// `idiag_sport`: the socket's local ("source") port.
    sport: u16,
    /// `idiag_dport`: the remote ("destination") port; 0 for a listener.
    dport: u16,
    /// `idiag_src`: the local address.
    src: [u8; 16],
    /// `idiag_dst`: the remote address; all zeros for a listener.
    dst: [u8; 16],
    /// `idiag_if`: the interface index a socket is bound to; 0 = any.
    interface: u32,
    /// `idiag_cookie`: the kernel's id of the socket; [`NO_COOKIE`] = unknown.
    cookie: [u32; 2],
}

/// `struct inet_diag_req_v2`: the body of our request.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InetDiagReqV2 {
    /// `sdiag_family`: `AF_INET` or `AF_INET6`.
    family: u8,
    /// `sdiag_protocol`: `IPPROTO_TCP`.
    protocol: u8,
    /// `idiag_ext`: which extra attributes we want in the answer; none.
    ext: u8,
    /// `pad`: unused, zero.
    pad: u8,
    /// `idiag_states`: which states match; [`ALL_STATES`].
    states: u32,
    /// `id`: the socket we ask about.
    id: InetDiagSockId,
}

// The kernel reads these structs by their C layout; these sizes are the ones in
// linux/netlink.h and linux/inet_diag.h, so a wrong field fails the build.
const _: () = assert!(mem::size_of::<NlMsgHdr>() == NlMsgHdr::LEN);
const _: () = assert!(mem::size_of::<InetDiagSockId>() == InetDiagSockId::LEN);
const _: () = assert!(mem::size_of::<InetDiagReqV2>() == InetDiagReqV2::LEN);

/// `struct inet_diag_msg`, the body of the kernel's answer, is 72 bytes:
///
/// ```text
/// offset 0   u8  idiag_family
///        1   u8  idiag_state     <- the number in include/net/tcp_states.h
///        2   u8  idiag_timer
///        3   u8  idiag_retrans
///        4   struct inet_diag_sockid id (48 bytes, as in the request)
///        52  u32 idiag_expires, idiag_rqueue, idiag_wqueue, idiag_uid, idiag_inode
/// ```
///
/// We read only the family, the state and the id.
pub(super) const INET_DIAG_MSG_LEN: usize = 72;

/// Where the `id` starts inside `inet_diag_msg`.
const INET_DIAG_MSG_ID_AT: usize = 4;

/// What the kernel answered, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reply {
    /// It found a socket: its state number and the addresses it reports for it.
    Socket {
        /// `idiag_state`.
        state: u8,
        /// The socket's local address.
        local: SocketAddr,
        /// The socket's remote address (unspecified for a listener).
        peer: SocketAddr,
    },
    /// `NLMSG_ERROR` with this errno (positive); `ENOENT` means "no such socket".
    Error(i32),
}

/// The kernel's state of the TCP socket with this exact local and remote address.
///
/// `Ok(TcpState::Closed)` when no such socket exists. An error means the question
/// could not be asked or answered (no netlink, no `inet_diag` in the kernel, a
/// garbled answer); the caller then falls back to reading `/proc/net/tcp`.
pub(super) fn state(local: SocketAddr, peer: SocketAddr) -> io::Result<TcpState> {
    let Some(request) = encode_request(local, peer, SEQ) else {
        // An IPv4 address paired with a real IPv6 one: no TCP connection has that name.
        return Ok(TcpState::Closed);
    };
    let mut buf = [0u8; REPLY_BUFFER];
    let n = ask_kernel(&request, &mut buf)?;
    let reply = decode_reply(&buf[..n], SEQ)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "garbled sock_diag answer"))?;
    state_from_reply(reply, local, peer)
}

/// Turns the kernel's answer into a state.
///
/// The exact lookup falls back to listening sockets, as the kernel does for an
/// arriving SYN: asking about `127.0.0.1:7007 <-> 127.0.0.1:53412` after that
/// connection is gone finds the *listener* on port 7007. That socket is not the one
/// we asked about, so its addresses are compared with ours and a mismatch is
/// reported as [`TcpState::Closed`], as `/proc/net/tcp` would.
fn state_from_reply(reply: Reply, local: SocketAddr, peer: SocketAddr) -> io::Result<TcpState> {
    match reply {
        Reply::Socket {
            state,
            local: l,
            peer: p,
        } if same(l, local) && same(p, peer) => Ok(TcpState::from_kernel(state)),
        Reply::Socket { .. } => Ok(TcpState::Closed),
        Reply::Error(libc::ENOENT) => Ok(TcpState::Closed),
        Reply::Error(errno) => Err(io::Error::from_raw_os_error(errno)),
    }
}

/// Equal as addresses, whether written as IPv4 or IPv4-mapped IPv6 (`::ffff:127.0.0.1`),
/// which is how an IPv6 socket that talks to an IPv4 peer names both ends.
pub(super) fn same(a: SocketAddr, b: SocketAddr) -> bool {
    a.ip().to_canonical() == b.ip().to_canonical() && a.port() == b.port()
}

/// The request bytes: a netlink header and an `inet_diag_req_v2` for this 4-tuple.
///
/// `None` if the two addresses cannot name one TCP connection (an IPv4 address
/// and an IPv6 address that is not IPv4-mapped). Pure, so it is tested without a socket.
pub(super) fn encode_request(local: SocketAddr, peer: SocketAddr, seq: u32) -> Option<Vec<u8>> {
    encode_request_asking(local, peer, seq, 0)
}

/// [`encode_request`], asking also for the extra attributes whose bits are set
/// in `ext` (`idiag_ext`; `tcp_info.rs` asks for `INET_DIAG_INFO`).
pub(super) fn encode_request_asking(
    local: SocketAddr,
    peer: SocketAddr,
    seq: u32,
    ext: u8,
) -> Option<Vec<u8>> {
    let (family, src, dst) = address_pair(local.ip(), peer.ip())?;
    let header = NlMsgHdr {
        len: (NlMsgHdr::LEN + InetDiagReqV2::LEN) as u32,
        kind: SOCK_DIAG_BY_FAMILY,
        flags: NLM_F_REQUEST,
        seq,
        pid: 0,
    };
    let body = InetDiagReqV2 {
        family,
        protocol: libc::IPPROTO_TCP as u8,
        ext,
        pad: 0,
        states: ALL_STATES,
        id: InetDiagSockId {
            sport: local.port(),
            dport: peer.port(),
            src,
            dst,
            interface: 0,
            cookie: NO_COOKIE,
        },
    };
    let mut out = Vec::with_capacity(header.len as usize);
    header.put(&mut out);
    body.put(&mut out);
    Some(out)
}

/// A dump request: every TCP socket of `local`'s family and port (the kernel
/// compares the source port; `connections.rs` checks the address too), in
/// every state but LISTEN, with the extra attributes of `ext`.
pub(super) fn encode_dump(local: SocketAddr, seq: u32, ext: u8) -> Option<Vec<u8>> {
    let unspecified = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
    let (family, _, _) = address_pair(local.ip(), unspecified.ip())?;
    let header = NlMsgHdr {
        len: (NlMsgHdr::LEN + InetDiagReqV2::LEN) as u32,
        kind: SOCK_DIAG_BY_FAMILY,
        flags: NLM_F_REQUEST | NLM_F_DUMP,
        seq,
        pid: 0,
    };
    let body = InetDiagReqV2 {
        family,
        protocol: libc::IPPROTO_TCP as u8,
        ext,
        pad: 0,
        states: ALL_STATES & !(1 << TCP_LISTEN),
        id: InetDiagSockId {
            sport: local.port(),
            dport: 0,
            src: [0; 16],
            dst: [0; 16],
            interface: 0,
            cookie: NO_COOKIE,
        },
    };
    let mut out = Vec::with_capacity(header.len as usize);
    header.put(&mut out);
    body.put(&mut out);
    Some(out)
}

/// The address family of the request and both addresses as 16 wire bytes.
///
/// The family is the local address's. An IPv6 socket talking to an IPv4 peer has
/// IPv4-mapped addresses on both ends; the kernel sees two mapped addresses and
/// looks the socket up in its IPv4 table, where such sockets live.
fn address_pair(local: IpAddr, peer: IpAddr) -> Option<(u8, [u8; 16], [u8; 16])> {
    let v4 = |ip: Ipv4Addr| {
        let mut bytes = [0u8; 16];
        bytes[..4].copy_from_slice(&ip.octets());
        bytes
    };
    match (local, peer) {
        (IpAddr::V4(l), IpAddr::V4(p)) => Some((libc::AF_INET as u8, v4(l), v4(p))),
        (IpAddr::V4(l), IpAddr::V6(p)) => {
            // "no peer" written as [::]:0, or an IPv4 peer written IPv4-mapped.
            let p = if p.is_unspecified() {
                Ipv4Addr::UNSPECIFIED
            } else {
                p.to_ipv4_mapped()?
            };
            Some((libc::AF_INET as u8, v4(l), v4(p)))
        }
        (IpAddr::V6(l), IpAddr::V4(p)) => {
            let p = if p.is_unspecified() {
                Ipv6Addr::UNSPECIFIED
            } else {
                p.to_ipv6_mapped()
            };
            Some((libc::AF_INET6 as u8, l.octets(), p.octets()))
        }
        (IpAddr::V6(l), IpAddr::V6(p)) => Some((libc::AF_INET6 as u8, l.octets(), p.octets())),
    }
}

/// Finds the answer to request `seq` in the bytes the kernel sent. Pure.
///
/// `None` if there is none or it is cut short: the caller treats that as "sock_diag
/// did not work" and falls back.
pub(super) fn decode_reply(mut buf: &[u8], seq: u32) -> Option<Reply> {
    // A datagram may hold several messages back to back, each padded to 4 bytes.
    while buf.len() >= NlMsgHdr::LEN {
        let header = NlMsgHdr::get(buf)?;
        let len = header.len as usize;
        if len < NlMsgHdr::LEN || len > buf.len() {
            return None;
        }
        let body = &buf[NlMsgHdr::LEN..len];
        if header.seq == seq {
            match header.kind {
                // struct nlmsgerr { int error; struct nlmsghdr msg; }: error is -errno.
                NLMSG_ERROR => return Some(Reply::Error(-ne_i32(body, 0)?)),
                SOCK_DIAG_BY_FAMILY => return decode_diag_msg(body),
                _ => {} // NLMSG_NOOP and the like: not our answer
            }
        }
        buf = buf.get(align4(len)..).unwrap_or_default();
    }
    None
}

/// Reads the family, state and addresses out of an `inet_diag_msg`.
pub(super) fn decode_diag_msg(body: &[u8]) -> Option<Reply> {
    if body.len() < INET_DIAG_MSG_LEN {
        return None;
    }
    let family = i32::from(body[0]);
    let state = body[1];
    let id = InetDiagSockId::get(&body[INET_DIAG_MSG_ID_AT..])?;
    let ip = |bytes: [u8; 16]| -> Option<IpAddr> {
        match family {
            libc::AF_INET => Some(IpAddr::V4(Ipv4Addr::new(
                bytes[0], bytes[1], bytes[2], bytes[3],
            ))),
            libc::AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(bytes))),
            _ => None,
        }
    };
    Some(Reply::Socket {
        state,
        local: SocketAddr::new(ip(id.src)?, id.sport),
        peer: SocketAddr::new(ip(id.dst)?, id.dport),
    })
}

/// Sends one request to the kernel and receives its answer into `buf`:
/// `socket(2)`, `setsockopt(2)`, `sendto(2)`, `recv(2)`, `close(2)`.
pub(super) fn ask_kernel(request: &[u8], buf: &mut [u8]) -> io::Result<usize> {
    let socket = send_to_kernel(request)?;
    recv_answer(&socket, buf)
}

/// Opens a sock_diag socket and sends `request` on it: `socket(2)`,
/// `setsockopt(2)`, `sendto(2)`. The answer is read with [`recv_answer`]
/// (once, or until `NLMSG_DONE` for a dump).
pub(super) fn send_to_kernel(request: &[u8]) -> io::Result<OwnedFd> {
    // socket(2): a netlink socket speaks to a kernel subsystem, not to another host;
    // NETLINK_SOCK_DIAG is the socket-diagnostics one. Fails (EPROTONOSUPPORT,
    // EAFNOSUPPORT, EPERM in some sandboxes) where it is not available.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2) and nothing else owns it; the
    // OwnedFd closes it on every way out of this function.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };

    // setsockopt(2) SO_RCVTIMEO: never wait forever for an answer.
    let timeout = libc::timeval {
        tv_sec: REPLY_TIMEOUT.as_secs() as libc::time_t,
        tv_usec: REPLY_TIMEOUT.subsec_micros() as libc::suseconds_t,
    };
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const timeout).cast(),
            mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }

    // sendto(2) the kernel: netlink port 0 is the kernel itself.
    // SAFETY: sockaddr_nl is plain integers, for which all zeros is valid.
    let mut kernel: libc::sockaddr_nl = unsafe { mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    let sent = unsafe {
        libc::sendto(
            socket.as_raw_fd(),
            request.as_ptr().cast(),
            request.len(),
            0,
            (&raw const kernel).cast(),
            mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(socket)
}

/// Receives one datagram of the kernel's answer into `buf`.
pub(super) fn recv_answer(socket: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    // recv(2) the answer: one datagram. A signal may interrupt the wait (EINTR);
    // then we simply wait again.
    loop {
        let n = unsafe { libc::recv(socket.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

impl NlMsgHdr {
    /// `sizeof(struct nlmsghdr)`.
    pub(super) const LEN: usize = 16;

    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.len.to_ne_bytes());
        out.extend_from_slice(&self.kind.to_ne_bytes());
        out.extend_from_slice(&self.flags.to_ne_bytes());
        out.extend_from_slice(&self.seq.to_ne_bytes());
        out.extend_from_slice(&self.pid.to_ne_bytes());
    }

    pub(super) fn get(b: &[u8]) -> Option<NlMsgHdr> {
        Some(NlMsgHdr {
            len: ne_u32(b, 0)?,
            kind: ne_u16(b, 4)?,
            flags: ne_u16(b, 6)?,
            seq: ne_u32(b, 8)?,
            pid: ne_u32(b, 12)?,
        })
    }
}

impl InetDiagSockId {
    /// `sizeof(struct inet_diag_sockid)`.
    const LEN: usize = 48;

    fn put(&self, out: &mut Vec<u8>) {
        // Ports in network byte order (big-endian), as on the wire.
        out.extend_from_slice(&self.sport.to_be_bytes());
        out.extend_from_slice(&self.dport.to_be_bytes());
        out.extend_from_slice(&self.src);
        out.extend_from_slice(&self.dst);
        out.extend_from_slice(&self.interface.to_ne_bytes());
        for word in self.cookie {
            out.extend_from_slice(&word.to_ne_bytes());
        }
    }

    fn get(b: &[u8]) -> Option<InetDiagSockId> {
        Some(InetDiagSockId {
            sport: u16::from_be_bytes(array(b, 0)?),
            dport: u16::from_be_bytes(array(b, 2)?),
            src: array(b, 4)?,
            dst: array(b, 20)?,
            interface: ne_u32(b, 36)?,
            cookie: [ne_u32(b, 40)?, ne_u32(b, 44)?],
        })
    }
}

impl InetDiagReqV2 {
    /// `sizeof(struct inet_diag_req_v2)`.
    const LEN: usize = 56;

    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.family, self.protocol, self.ext, self.pad]);
        out.extend_from_slice(&self.states.to_ne_bytes());
        self.id.put(out);
    }
}

/// Netlink messages start on 4-byte boundaries (`NLMSG_ALIGN`).
pub(super) fn align4(len: usize) -> usize {
    (len + 3) & !3
}

/// `N` bytes of `b` starting at `at`, if there are that many.
fn array<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at + N)?.try_into().ok()
}

pub(super) fn ne_u16(b: &[u8], at: usize) -> Option<u16> {
    array(b, at).map(u16::from_ne_bytes)
}

pub(super) fn ne_u32(b: &[u8], at: usize) -> Option<u32> {
    array(b, at).map(u32::from_ne_bytes)
}

fn ne_i32(b: &[u8], at: usize) -> Option<i32> {
    array(b, at).map(i32::from_ne_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    /// The kernel's answer for 127.0.0.1:58688 <-> 127.0.0.1:33779 after the client
    /// closed first, captured on x86_64 Linux 6.18: a header (type 20, seq 1), then
    /// `inet_diag_msg` with family 2 (AF_INET) and state 6 (TIME_WAIT), then one
    /// attribute (INET_DIAG_SHUTDOWN).
    #[cfg(target_endian = "little")]
    const TIME_WAIT_REPLY: [u8; 96] = [
        96, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0, 198, 58, 0, 0, // nlmsghdr
        2, 6, 3, 0, // family, state, timer, retrans
        229, 64, 131, 243, // sport 58688, dport 33779 (big-endian)
        127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // src
        127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // dst
        0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, // if, cookie
        252, 233, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // expires … inode
        8, 0, 15, 0, 0, 0, 0, 0, // attribute
    ];

    /// The answer for 127.0.0.1:33779 <-> 127.0.0.1:58688 once that connection was
    /// gone on the server side: the kernel found the *listener* on port 33779
    /// (state 10, LISTEN, remote 0.0.0.0:0). Captured as above.
    #[cfg(target_endian = "little")]
    const LISTENER_REPLY: [u8; 124] = [
        124, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0, 198, 58, 0, 0, // nlmsghdr
        2, 10, 0, 0, // family, state, timer, retrans
        131, 243, 0, 0, // sport 33779, dport 0
        127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // src
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // dst
        0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, // if, cookie
        0, 0, 0, 0, 0, 0, 0, 0, 128, 0, 0, 0, 0, 0, 0, 0, 200, 83, 0, 0, // expires … inode
        5, 0, 8, 0, 0, 0, 0, 0, 8, 0, 15, 0, 0, 0, 0, 0, // attributes
        12, 0, 21, 0, 1, 0, 0, 0, 0, 0, 0, 0, 6, 0, 22, 0, 82, 0, 0, 0,
    ];

    /// The answer for 127.0.0.1:1 <-> 127.0.0.1:2, which nobody has: NLMSG_ERROR
    /// with -2 (-ENOENT), followed by our own request echoed back. Captured as above.
    #[cfg(target_endian = "little")]
    const NO_SUCH_SOCKET_REPLY: [u8; 92] = [
        92, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 198, 58, 0, 0, // nlmsghdr, type 2
        254, 255, 255, 255, // error = -2
        72, 0, 0, 0, 20, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, // our header
        2, 6, 0, 0, 255, 255, 255, 255, 0, 1, 0, 2, // our request …
        127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //
        127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //
        0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255,
    ];

    /// Lesson: the request is a 16-byte header and a 56-byte body; ports and
    /// addresses in network byte order, no NLM_F_DUMP, every state, no cookie.
    #[test]
    #[cfg(target_endian = "little")]
    fn encodes_an_exact_ipv4_request() {
        let bytes = encode_request(addr("127.0.0.1:58688"), addr("127.0.0.1:33779"), 1).unwrap();
        let expected: [u8; 72] = [
            72, 0, 0, 0, // nlmsg_len
            20, 0, // nlmsg_type SOCK_DIAG_BY_FAMILY
            1, 0, // nlmsg_flags NLM_F_REQUEST only
            1, 0, 0, 0, // nlmsg_seq
            0, 0, 0, 0, // nlmsg_pid
            2, 6, 0, 0, // AF_INET, IPPROTO_TCP, no extensions, pad
            255, 255, 255, 255, // idiag_states: all
            229, 64, 131, 243, // sport 58688, dport 33779, big-endian
            127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // src
            127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // dst
            0, 0, 0, 0, // idiag_if: any
            255, 255, 255, 255, 255, 255, 255, 255, // INET_DIAG_NOCOOKIE
        ];
        assert_eq!(bytes, expected);
    }

    /// IPv6 uses all 16 address bytes; an IPv4 peer of an IPv6 socket is written
    /// IPv4-mapped, and "no peer" stays all zeros.
    #[test]
    fn encodes_ipv6_and_mapped_addresses() {
        let bytes = encode_request(addr("[::1]:8080"), addr("[::1]:9090"), 7).unwrap();
        assert_eq!(bytes.len(), 72);
        assert_eq!(bytes[16], libc::AF_INET6 as u8);
        assert_eq!(&bytes[24..28], &[0x1f, 0x90, 0x23, 0x82]);
        assert_eq!(&bytes[28..44], &Ipv6Addr::LOCALHOST.octets());
        assert_eq!(&bytes[44..60], &Ipv6Addr::LOCALHOST.octets());

        let mapped = encode_request(addr("[::ffff:127.0.0.1]:80"), addr("127.0.0.1:1234"), 1);
        let mapped = mapped.unwrap();
        assert_eq!(
            &mapped[44..60],
            &Ipv4Addr::LOCALHOST.to_ipv6_mapped().octets()
        );

        let listen = encode_request(addr("[::1]:80"), addr("0.0.0.0:0"), 1).unwrap();
        assert_eq!(&listen[44..60], &[0u8; 16]);

        // An IPv4 socket cannot be connected to a real IPv6 address.
        assert_eq!(
            encode_request(addr("127.0.0.1:80"), addr("[::1]:80"), 1),
            None
        );
    }

    /// Lesson: a socket with no fd left, in TIME_WAIT, is still found by its 4-tuple.
    #[test]
    #[cfg(target_endian = "little")]
    fn decodes_a_time_wait_answer() {
        let (client, server) = (addr("127.0.0.1:58688"), addr("127.0.0.1:33779"));
        let reply = decode_reply(&TIME_WAIT_REPLY, 1).unwrap();
        assert_eq!(
            reply,
            Reply::Socket {
                state: 6,
                local: client,
                peer: server
            }
        );
        assert_eq!(
            state_from_reply(reply, client, server).unwrap(),
            TcpState::TimeWait
        );
    }

    /// Lesson: the exact lookup falls back to a listener on the same port, the way
    /// a SYN would find it; that is not the connection asked about, so: CLOSED.
    #[test]
    #[cfg(target_endian = "little")]
    fn a_listener_answering_for_a_gone_connection_means_closed() {
        let (client, server) = (addr("127.0.0.1:58688"), addr("127.0.0.1:33779"));
        let reply = decode_reply(&LISTENER_REPLY, 1).unwrap();
        assert_eq!(
            state_from_reply(reply, server, client).unwrap(),
            TcpState::Closed
        );
        assert_eq!(
            state_from_reply(reply, server, addr("0.0.0.0:0")).unwrap(),
            TcpState::Listen
        );
    }

    /// ENOENT is the normal "no such socket"; any other errno means sock_diag
    /// failed and the caller should fall back.
    #[test]
    #[cfg(target_endian = "little")]
    fn enoent_means_closed_and_other_errors_are_errors() {
        let (a, b) = (addr("127.0.0.1:1"), addr("127.0.0.1:2"));
        let reply = decode_reply(&NO_SUCH_SOCKET_REPLY, 1).unwrap();
        assert_eq!(reply, Reply::Error(libc::ENOENT));
        assert_eq!(state_from_reply(reply, a, b).unwrap(), TcpState::Closed);
        let refused = state_from_reply(Reply::Error(libc::EINVAL), a, b).unwrap_err();
        assert_eq!(refused.raw_os_error(), Some(libc::EINVAL));
    }

    /// An answer to another request, or one cut short, is no answer.
    #[test]
    #[cfg(target_endian = "little")]
    fn wrong_sequence_or_short_buffers_are_not_answers() {
        assert_eq!(decode_reply(&TIME_WAIT_REPLY, 2), None);
        assert_eq!(decode_reply(&TIME_WAIT_REPLY[..60], 1), None);
        assert_eq!(decode_reply(&[], 1), None);
    }

    /// An IPv6 socket talking to an IPv4 peer reports IPv4-mapped addresses; they
    /// name the same connection as the plain IPv4 ones.
    #[test]
    fn mapped_and_plain_ipv4_are_the_same_address() {
        let reply = Reply::Socket {
            state: 1,
            local: addr("[::ffff:127.0.0.1]:80"),
            peer: addr("[::ffff:127.0.0.1]:5000"),
        };
        let state = state_from_reply(reply, addr("127.0.0.1:80"), addr("127.0.0.1:5000"));
        assert_eq!(state.unwrap(), TcpState::Established);
    }
}
