//! Where a server listens, as the user typed it: `127.0.0.1:7007`,
//! `[::1]:7007` or `localhost:7007`.
//!
//! bind(2) takes an address, not a name, so a host name is resolved first
//! (getaddrinfo: `/etc/hosts`, then DNS) and the first address it gives is
//! bound. A name may have several (`localhost` is often 127.0.0.1 and ::1);
//! one socket binds one address, so the log says which one was chosen.
//!
//! Try: `socklab serve tcp --addr localhost:7007` and read the first log line.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::str::FromStr;

use log::info;

/// A `HOST:PORT` or `IP:PORT` to bind, parsed but not yet resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindAddr {
    /// A host name or an IP address (IPv6 without its brackets).
    host: String,
    /// The port; 0 lets the kernel pick.
    port: u16,
}

impl FromStr for BindAddr {
    type Err = String;

    /// Parses `HOST:PORT`, `IPv4:PORT` or `[IPv6]:PORT` (no I/O).
    fn from_str(text: &str) -> Result<BindAddr, String> {
        let usage = || {
            format!(
                "{text:?}: expected HOST:PORT, e.g. 127.0.0.1:7007, [::1]:7007 or localhost:7007"
            )
        };
        let (host, port) = match text.strip_prefix('[') {
            Some(inner) => {
                let (host, port) = inner.split_once("]:").ok_or_else(usage)?;
                (host, port)
            }
            None => text.rsplit_once(':').ok_or_else(usage)?,
        };
        if host.is_empty() {
            return Err(usage());
        }
        if host.contains(':') && !text.starts_with('[') {
            return Err(format!(
                "{text:?}: an IPv6 address goes in brackets, as in [::1]:7007"
            ));
        }
        let port = port
            .parse()
            .map_err(|_| format!("{text:?}: port {port:?} is not a number from 0 to 65535"))?;
        Ok(BindAddr {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for BindAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl From<SocketAddr> for BindAddr {
    fn from(addr: SocketAddr) -> BindAddr {
        BindAddr {
            host: addr.ip().to_string(),
            port: addr.port(),
        }
    }
}

impl BindAddr {
    /// The address to bind: an IP as is; a name resolved, its first address
    /// taken, and the choice narrated ("localhost resolves to 127.0.0.1, ::1;
    /// binding 127.0.0.1:7007").
    pub fn resolve(&self) -> io::Result<SocketAddr> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, self.port));
        }
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot resolve {}: {e}", self.host)))?
            .collect();
        let Some(&first) = addrs.first() else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} has no address to bind", self.host),
            ));
        };
        let all: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
        let others = if addrs.len() > 1 {
            " (one socket binds one address; the others are not served)"
        } else {
            ""
        };
        info!(
            "{} resolves to {}; binding {first}{others}",
            self.host,
            all.join(", ")
        );
        Ok(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IPs, bracketed IPv6 and names parse; bad input says what is expected.
    #[test]
    fn parses_host_and_port() {
        let v4: BindAddr = "127.0.0.1:7007".parse().unwrap();
        assert_eq!(v4.resolve().unwrap(), "127.0.0.1:7007".parse().unwrap());
        let v6: BindAddr = "[::1]:0".parse().unwrap();
        assert_eq!(v6.to_string(), "[::1]:0");
        assert_eq!(v6.resolve().unwrap(), "[::1]:0".parse().unwrap());
        assert!("localhost:7007".parse::<BindAddr>().is_ok());
        assert!(
            "7007"
                .parse::<BindAddr>()
                .unwrap_err()
                .contains("HOST:PORT")
        );
        assert!(
            "::1:7"
                .parse::<BindAddr>()
                .unwrap_err()
                .contains("brackets")
        );
        assert!(
            "h:99999"
                .parse::<BindAddr>()
                .unwrap_err()
                .contains("0 to 65535")
        );
        assert!(":7".parse::<BindAddr>().is_err());
    }

    /// A name resolves to a loopback address with the port kept.
    #[test]
    fn resolves_a_name() {
        let addr = "localhost:0"
            .parse::<BindAddr>()
            .unwrap()
            .resolve()
            .unwrap();
        assert!(addr.ip().is_loopback());
        assert_eq!(addr.port(), 0);
    }
}
