//! The slow way to find one socket's state: read the whole table in `/proc/net/tcp`.
//!
//! Linux lists every TCP socket in `/proc/net/tcp` (IPv4) and `/proc/net/tcp6`
//! (IPv6), one line each, with the local and remote address and a state number;
//! `netstat` reads it. Finding one connection means reading and parsing every line,
//! so the cost grows with the number of sockets on the machine — including the
//! `TIME_WAIT` sockets any client can pile up. socklab uses it only where the exact
//! netlink lookup ([`super::sock_diag`]) is not available.
//!
//! Try: `cat /proc/net/tcp` while `socklab serve tcp` runs; port 7007 is `1B5F`.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::TcpState;

/// The state of the socket with this local and remote address, by reading the table.
///
/// [`TcpState::Closed`] if no line matches; [`TcpState::Unknown`] if the table
/// cannot be read (not Linux, or `/proc` not mounted).
pub(super) fn scan(local: SocketAddr, remote: SocketAddr) -> TcpState {
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
        (l == local && r == remote).then(|| TcpState::from_kernel(st))
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
