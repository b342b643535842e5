//! TCP_INFO by 4-tuple: the kernel's round-trip time, retransmissions and
//! congestion window for a connection, asked the way `ss -i` asks — one
//! sock_diag request with the `INET_DIAG_INFO` attribute — so a program that
//! watches sockets it holds no descriptor for (`socklab classroom`) sees them.
//!
//! The answer is the same `inet_diag_msg` [`super::sock_diag`] reads, followed
//! by netlink attributes; the one of type `INET_DIAG_INFO` is a `struct
//! tcp_info`, the very struct `getsockopt(TCP_INFO)` fills.

use std::io;
use std::net::SocketAddr;

use super::sock_diag::{
    INET_DIAG_MSG_LEN, NLMSG_ERROR, NlMsgHdr, REPLY_BUFFER, Reply, SEQ, SOCK_DIAG_BY_FAMILY,
    align4, ask_kernel, decode_diag_msg, encode_request_asking, ne_u16, ne_u32, same,
};

/// `INET_DIAG_INFO` (`linux/inet_diag.h`): the attribute carrying `tcp_info`.
pub(super) const INET_DIAG_INFO: u16 = 2;

/// Where the fields we read sit in `struct tcp_info` (`linux/tcp.h`), bytes.
const TCPI_RTT_AT: usize = 68;
/// `tcpi_snd_cwnd`.
const TCPI_SND_CWND_AT: usize = 80;
/// `tcpi_total_retrans`.
const TCPI_TOTAL_RETRANS_AT: usize = 100;

/// `struct rtattr`'s header: u16 length (header included), u16 type.
const RTATTR_LEN: usize = 4;

/// A connection's round trip, retransmissions and window, as TCP_INFO says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpInfo {
    /// Smoothed round-trip time in microseconds (`tcpi_rtt`).
    pub rtt_us: u32,
    /// Segments retransmitted over the connection's life (`tcpi_total_retrans`).
    pub retransmits: u32,
    /// Congestion window in segments (`tcpi_snd_cwnd`).
    pub cwnd: u32,
}

/// TCP_INFO of the socket with this local and remote address; `Ok(None)` when
/// there is no such socket (or it is in TIME_WAIT, which keeps no tcp_info).
pub(super) fn info(local: SocketAddr, peer: SocketAddr) -> io::Result<Option<TcpInfo>> {
    let ext = 1 << (INET_DIAG_INFO - 1); // idiag_ext is a bit per attribute
    let Some(request) = encode_request_asking(local, peer, SEQ, ext) else {
        return Ok(None);
    };
    let mut buf = [0u8; REPLY_BUFFER];
    let n = ask_kernel(&request, &mut buf)?;
    Ok(decode(&buf[..n], local, peer))
}

/// Finds our answer's `tcp_info` in the kernel's bytes. Pure.
fn decode(mut buf: &[u8], local: SocketAddr, peer: SocketAddr) -> Option<TcpInfo> {
    while buf.len() >= NlMsgHdr::LEN {
        let header = NlMsgHdr::get(buf)?;
        let len = header.len as usize;
        if len < NlMsgHdr::LEN || len > buf.len() {
            return None;
        }
        let body = &buf[NlMsgHdr::LEN..len];
        if header.seq == SEQ {
            match header.kind {
                NLMSG_ERROR => return None,
                SOCK_DIAG_BY_FAMILY => {
                    // The kernel falls back to a listener: only our socket counts.
                    match decode_diag_msg(body)? {
                        Reply::Socket {
                            local: l, peer: p, ..
                        } if same(l, local) && same(p, peer) => {}
                        _ => return None,
                    }
                    return attribute(body.get(INET_DIAG_MSG_LEN..)?, INET_DIAG_INFO)
                        .and_then(read_tcp_info);
                }
                _ => {}
            }
        }
        buf = buf.get(align4(len)..).unwrap_or_default();
    }
    None
}

/// The payload of the first attribute of type `kind` in `attrs`.
pub(super) fn attribute(mut attrs: &[u8], kind: u16) -> Option<&[u8]> {
    while attrs.len() >= RTATTR_LEN {
        let len = usize::from(ne_u16(attrs, 0)?);
        if len < RTATTR_LEN || len > attrs.len() {
            return None;
        }
        if ne_u16(attrs, 2)? == kind {
            return Some(&attrs[RTATTR_LEN..len]);
        }
        attrs = attrs.get(align4(len)..).unwrap_or_default();
    }
    None
}

/// The three fields, if the kernel's struct is long enough to hold them.
pub(super) fn read_tcp_info(info: &[u8]) -> Option<TcpInfo> {
    Some(TcpInfo {
        rtt_us: ne_u32(info, TCPI_RTT_AT)?,
        cwnd: ne_u32(info, TCPI_SND_CWND_AT)?,
        retransmits: ne_u32(info, TCPI_TOTAL_RETRANS_AT)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The offsets are libc's `struct tcp_info`'s: a wrong one fails here.
    #[test]
    fn offsets_match_libc() {
        let base = std::mem::MaybeUninit::<libc::tcp_info>::uninit();
        let p = base.as_ptr();
        // SAFETY: addr_of! takes field addresses without reading them.
        let at = |f: *const u32| f as usize - p as usize;
        unsafe {
            assert_eq!(at(std::ptr::addr_of!((*p).tcpi_rtt)), TCPI_RTT_AT);
            assert_eq!(at(std::ptr::addr_of!((*p).tcpi_snd_cwnd)), TCPI_SND_CWND_AT);
            assert_eq!(
                at(std::ptr::addr_of!((*p).tcpi_total_retrans)),
                TCPI_TOTAL_RETRANS_AT
            );
        }
    }

    /// A live loopback connection has a window and a round trip.
    #[test]
    fn a_live_connection_has_tcp_info() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, peer) = listener.accept().expect("accept");
        let local = server.local_addr().expect("local");
        let Ok(found) = info(local, peer) else {
            return; // no sock_diag here (a sandbox): nothing to check
        };
        let found = found.expect("the server's socket is found");
        assert!(found.cwnd > 0, "{found:?}");
        drop((client, server));
    }
}
