//! Every connection on one of our ports, as the kernel lists them: one
//! sock_diag *dump* (what `ss -ti 'sport = :PORT'` asks), each socket with its
//! state and TCP_INFO, bytes both ways included.
//!
//! `socklab classroom` watches servers it cannot put a layer under (the chat
//! room, push) this way: from outside, by port, once a second.

use std::io;
use std::net::SocketAddr;

use super::TcpState;
use super::sock_diag::{
    INET_DIAG_MSG_LEN, NLMSG_DONE, NLMSG_ERROR, NlMsgHdr, Reply, SOCK_DIAG_BY_FAMILY, align4,
    decode_diag_msg, encode_dump, ne_u32, recv_answer, same, send_to_kernel,
};
use super::tcp_info::{INET_DIAG_INFO, TcpInfo, attribute, read_tcp_info};

/// A dump's sequence number (any number: the answer echoes it).
const DUMP_SEQ: u32 = 2;

/// The most sockets one dump returns to the caller; the rest are not read.
pub const MAX_LISTED: usize = 16 * 1024;

/// One datagram of a dump: room for dozens of sockets with their tcp_info.
const DUMP_BUFFER: usize = 32 * 1024;

/// `tcpi_bytes_acked` and `tcpi_bytes_received` (u64) in `struct tcp_info`.
const TCPI_BYTES_ACKED_AT: usize = 120;
/// See [`TCPI_BYTES_ACKED_AT`].
const TCPI_BYTES_RECEIVED_AT: usize = 128;

/// One connection the kernel listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed {
    /// Our end.
    pub local: SocketAddr,
    /// The peer.
    pub peer: SocketAddr,
    /// Its state.
    pub state: TcpState,
    /// Round trip, retransmissions, window (none in TIME_WAIT).
    pub info: Option<TcpInfo>,
    /// Bytes received from the peer (`tcpi_bytes_received`; 0 in TIME_WAIT).
    pub bytes_received: u64,
    /// Bytes sent and acknowledged by the peer (`tcpi_bytes_acked`).
    pub bytes_acked: u64,
}

/// Every TCP connection whose local end is `local` (listeners left out; a
/// wildcard address matches its port on every address).
pub(super) fn on(local: SocketAddr) -> io::Result<Vec<Listed>> {
    let ext = 1 << (INET_DIAG_INFO - 1);
    let Some(request) = encode_dump(local, DUMP_SEQ, ext) else {
        return Ok(Vec::new());
    };
    let socket = send_to_kernel(&request)?;
    let mut listed = Vec::new();
    let mut buf = vec![0u8; DUMP_BUFFER];
    loop {
        let n = recv_answer(&socket, &mut buf)?;
        if n == 0 || read_datagram(&buf[..n], local, &mut listed)? || listed.len() >= MAX_LISTED {
            return Ok(listed);
        }
    }
}

/// Whether `l` is `local`; a wildcard `local` (0.0.0.0, ::) matches its port
/// on every address.
fn ours(l: SocketAddr, local: SocketAddr) -> bool {
    same(l, local) || (local.ip().is_unspecified() && l.port() == local.port())
}

/// Reads one datagram of the dump into `listed`; true once `NLMSG_DONE` came.
fn read_datagram(mut buf: &[u8], local: SocketAddr, listed: &mut Vec<Listed>) -> io::Result<bool> {
    let garbled = || io::Error::new(io::ErrorKind::InvalidData, "garbled sock_diag dump");
    while buf.len() >= NlMsgHdr::LEN {
        let header = NlMsgHdr::get(buf).ok_or_else(garbled)?;
        let len = header.len as usize;
        if len < NlMsgHdr::LEN || len > buf.len() {
            return Err(garbled());
        }
        let body = &buf[NlMsgHdr::LEN..len];
        match header.kind {
            NLMSG_DONE => return Ok(true),
            NLMSG_ERROR => {
                let errno = ne_u32(body, 0).map_or(0, |e| -(e as i32));
                return Err(io::Error::from_raw_os_error(errno));
            }
            SOCK_DIAG_BY_FAMILY if header.seq == DUMP_SEQ => {
                if let Some(Reply::Socket {
                    state,
                    local: l,
                    peer,
                }) = decode_diag_msg(body)
                    && ours(l, local)
                {
                    let info = body
                        .get(INET_DIAG_MSG_LEN..)
                        .and_then(|a| attribute(a, INET_DIAG_INFO));
                    let u64_at = |at: usize| {
                        info.and_then(|i| i.get(at..at + 8))
                            .and_then(|b| b.try_into().ok())
                            .map_or(0, u64::from_ne_bytes)
                    };
                    listed.push(Listed {
                        local: l,
                        peer,
                        state: TcpState::from_kernel(state),
                        info: info.and_then(read_tcp_info),
                        bytes_received: u64_at(TCPI_BYTES_RECEIVED_AT),
                        bytes_acked: u64_at(TCPI_BYTES_ACKED_AT),
                    });
                }
            }
            _ => {}
        }
        buf = buf.get(align4(len)..).unwrap_or_default();
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// The offsets are libc's `struct tcp_info`'s.
    #[test]
    fn byte_offsets_match_libc() {
        let base = std::mem::MaybeUninit::<libc::tcp_info>::uninit();
        let p = base.as_ptr();
        let at = |f: *const u64| f as usize - p as usize;
        // SAFETY: addr_of! takes field addresses without reading them.
        unsafe {
            assert_eq!(
                at(std::ptr::addr_of!((*p).tcpi_bytes_acked)),
                TCPI_BYTES_ACKED_AT
            );
            assert_eq!(
                at(std::ptr::addr_of!((*p).tcpi_bytes_received)),
                TCPI_BYTES_RECEIVED_AT
            );
        }
    }

    /// Two clients on one listener: both listed, with the bytes each sent.
    #[test]
    fn lists_the_connections_on_a_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut a = std::net::TcpStream::connect(addr).expect("a");
        let b = std::net::TcpStream::connect(addr).expect("b");
        let (mut sa, _) = listener.accept().expect("accept a");
        let (_sb, _) = listener.accept().expect("accept b");
        a.write_all(b"hello").expect("send");
        let mut got = [0; 5];
        sa.read_exact(&mut got).expect("read");
        let Ok(listed) = on(addr) else {
            return; // no sock_diag here (a sandbox): nothing to check
        };
        assert_eq!(listed.len(), 2, "{listed:?}");
        let from_a = listed
            .iter()
            .find(|l| l.peer == a.local_addr().expect("a's addr"));
        assert_eq!(from_a.map(|l| l.bytes_received), Some(5));
        assert!(listed.iter().all(|l| l.state == TcpState::Established));
        drop((b, sa));
    }
}
