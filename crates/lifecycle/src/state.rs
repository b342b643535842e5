//! The kernel's own view of a TCP socket: its state in the RFC 793 state machine.
//!
//! Linux lists every TCP socket in `/proc/net/tcp` (IPv4) and `/proc/net/tcp6`
//! (IPv6), one line each, with the local and remote address and a state number.
//! Reading it is how `ss -t` and `netstat` work; socklab reads it after each
//! lifecycle step so the narration can say "ESTABLISHED" or "TIME_WAIT" because the
//! kernel said so, not because the code assumes it.
//!
//! Try: `socklab serve tcp &`, `nc 127.0.0.1 7007`, then `ss -tan '( sport = :7007 )'`
//! in another terminal and compare with the log.
//!
//! On systems without `/proc/net/tcp` every lookup answers [`TcpState::Unknown`].

use std::fmt;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

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
    /// The state could not be read (not Linux, or /proc not mounted).
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

    /// The state for the number in the `st` column (include/net/tcp_states.h).
    fn from_proc(code: u8) -> TcpState {
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

/// The kernel's state of the TCP socket with this local and remote address.
///
/// For a listening socket pass the unspecified remote address (`0.0.0.0:0`).
/// A 4-tuple names at most one non-listening socket, so this also finds sockets
/// that no longer have a file descriptor — the ones in `TIME_WAIT` after `close()`.
pub fn tcp_state(local: SocketAddr, remote: SocketAddr) -> TcpState {
    let table = match local {
        SocketAddr::V4(_) => "/proc/net/tcp",
        SocketAddr::V6(_) => "/proc/net/tcp6",
    };
    let Ok(text) = fs::read_to_string(table) else {
        return TcpState::Unknown;
    };
    find_state(&text, local, remote).unwrap_or(TcpState::Closed)
}

/// Finds the state column of the line whose addresses match. Pure, so it is tested
/// against a captured copy of the file.
fn find_state(table: &str, local: SocketAddr, remote: SocketAddr) -> Option<TcpState> {
    // Line format: "  sl  local_address rem_address   st tx_queue:rx_queue ..."
    // e.g.         "   0: 0100007F:1B5F 00000000:0000 0A 00000000:00000000 ..."
    table.lines().skip(1).find_map(|line| {
        let mut cols = line.split_whitespace().skip(1);
        let l = parse_proc_addr(cols.next()?)?;
        let r = parse_proc_addr(cols.next()?)?;
        let st = u8::from_str_radix(cols.next()?, 16).ok()?;
        (l == local && r == remote).then(|| TcpState::from_proc(st))
    })
}

/// Parses `0100007F:1B5F` (IPv4) or 32 hex digits + `:port` (IPv6).
///
/// The kernel prints each 32-bit word of the address as a native-endian integer,
/// so on x86 127.0.0.1 appears as `0100007F`; `to_ne_bytes` undoes exactly that.
/// The port is printed in host order.
fn parse_proc_addr(text: &str) -> Option<SocketAddr> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let hex = ip.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(hex, 16).ok()?.to_ne_bytes())
    };
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lesson 1: the kernel's table names each socket by its addresses and state;
    /// this is a real excerpt of /proc/net/tcp on x86_64 Linux.
    #[test]
    #[cfg(target_endian = "little")]
    fn reads_listen_and_time_wait_from_a_proc_excerpt() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1B5F 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:D0E4 0100007F:1B5F 06 00000000:00000000 03:00000F4B 00000000     0        0 0 3 0000000000000000\n";
        let listen: SocketAddr = "127.0.0.1:7007".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:0".parse().unwrap();
        let client: SocketAddr = "127.0.0.1:53476".parse().unwrap();
        assert_eq!(find_state(table, listen, any), Some(TcpState::Listen));
        assert_eq!(find_state(table, client, listen), Some(TcpState::TimeWait));
        assert_eq!(find_state(table, listen, client), None);
    }

    /// IPv6 addresses are four native-endian words: ::1 ends in 01000000.
    #[test]
    #[cfg(target_endian = "little")]
    fn parses_ipv6_loopback() {
        let addr = parse_proc_addr("00000000000000000000000001000000:1F90").unwrap();
        assert_eq!(addr, "[::1]:8080".parse().unwrap());
    }
}
