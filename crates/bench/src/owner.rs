//! Which process serves an address: the PID `socklab bench` reads CPU time from
//! when `--server-pid` is not given.
//!
//! Linux lists every socket in `/proc/net/tcp` (and `tcp6`, `udp`, `udp6`):
//! its local address, its state and its inode. A process holding that socket has
//! a file descriptor in `/proc/PID/fd/` that links to `socket:[INODE]`. So the
//! listening socket on the target's port leads to its inode, and the inode to
//! the one process that has it open. Only processes this user may look into are
//! found (a server of the same user, which is how bench is run); with none, or
//! with several (a socket inherited across a fork), there is no answer.

use std::collections::HashSet;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::target::Kind;

/// `st` of a TCP socket in `listen()` (`TCP_LISTEN` in the kernel's numbering).
const TCP_LISTEN: &str = "0A";

/// `st` of an unconnected UDP socket (a server's: `TCP_CLOSE`, reused for UDP).
const UDP_UNCONNECTED: &str = "07";

/// The process (not this one) holding the socket that serves `addr`, if exactly
/// one does.
pub fn serving_pid(addr: SocketAddr, kind: Kind) -> Option<u32> {
    let (tables, state): (&[&str], &str) = match kind {
        Kind::Udp => (&["/proc/net/udp", "/proc/net/udp6"], UDP_UNCONNECTED),
        Kind::Tcp | Kind::Ws => (&["/proc/net/tcp", "/proc/net/tcp6"], TCP_LISTEN),
    };
    let inodes: HashSet<u64> = tables
        .iter()
        .filter_map(|t| fs::read_to_string(t).ok())
        .flat_map(|text| sockets_serving(&text, addr, state))
        .collect();
    if inodes.is_empty() {
        return None;
    }
    let me = std::process::id();
    let mut owners = HashSet::new();
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue; // another user's process, or gone: not ours to read
        };
        let holds = fds.flatten().any(|fd| {
            fs::read_link(fd.path())
                .ok()
                .and_then(|link| socket_inode(&link.to_string_lossy()))
                .is_some_and(|inode| inodes.contains(&inode))
        });
        if holds {
            owners.insert(pid);
        }
    }
    let mut owners = owners.into_iter();
    match (owners.next(), owners.next()) {
        (Some(pid), None) => Some(pid),
        _ => None,
    }
}

/// The inodes of the sockets in one `/proc/net/*` table that are in `state` on
/// `addr`'s port, at `addr`'s IP or the wildcard.
fn sockets_serving(table: &str, addr: SocketAddr, state: &str) -> Vec<u64> {
    table
        .lines()
        .skip(1) // the column titles
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            let (local, st, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
            let (ip, port) = local.split_once(':')?;
            let ip = proc_ip(ip)?;
            let port = u16::from_str_radix(port, 16).ok()?;
            let here = port == addr.port() && (ip == addr.ip() || ip.is_unspecified());
            (here && *st == state).then(|| inode.parse().ok()).flatten()
        })
        .collect()
}

/// An IP as `/proc/net/*` prints it: the address's bytes as native-endian 32-bit
/// words in hex (one word for IPv4, four for IPv6).
fn proc_ip(hex: &str) -> Option<IpAddr> {
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok()?;
        Some(w.to_ne_bytes())
    };
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

/// `socket:[12345]` → 12345.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The listening socket on the port, at the address or the wildcard; not a
    /// connection on it, not another port.
    #[test]
    fn finds_the_listening_socket_in_a_proc_net_table() {
        let lo = u32::from_ne_bytes([127, 0, 0, 1]);
        let table = format!(
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
             0: {lo:08X}:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1\n\
             1: {lo:08X}:1F90 {lo:08X}:D431 01 00000000:00000000 00:00000000 00000000  1000        0 222 1\n\
             2: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 333 1\n"
        );
        let at = |port| SocketAddr::from(([127, 0, 0, 1], port));
        assert_eq!(sockets_serving(&table, at(8080), TCP_LISTEN), vec![111]);
        assert_eq!(sockets_serving(&table, at(8081), TCP_LISTEN), vec![333]);
        assert!(sockets_serving(&table, at(9), TCP_LISTEN).is_empty());
        assert_eq!(socket_inode("socket:[111]"), Some(111));
        assert_eq!(socket_inode("pipe:[111]"), None);
        // ::1 is 15 zero bytes and a 1: its last word, little-endian, is 0x01000000.
        #[cfg(target_endian = "little")]
        assert_eq!(
            proc_ip("00000000000000000000000001000000"),
            Some(IpAddr::V6(Ipv6Addr::LOCALHOST))
        );
    }

    /// A real listener of this process is found in the table, and then skipped:
    /// the server must be another process.
    #[test]
    fn this_process_is_never_the_server() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let text = fs::read_to_string("/proc/net/tcp").unwrap();
        assert_eq!(sockets_serving(&text, addr, TCP_LISTEN).len(), 1);
        assert_eq!(serving_pid(addr, Kind::Tcp), None);
    }
}
