//! The one URL parser: `scheme://host[:port][/path]`, shared by the client,
//! `socklab send`/`chat`/`compare` and `socklab bench`.
//!
//! Parsing is pure (no I/O), so it is tested without a network; looking the
//! host name up is a separate step, [`Url::resolve`], because that one asks
//! the system's resolver (`/etc/hosts`, DNS) and can fail on its own.
//!
//! The rules, kept small on purpose (this is not a full RFC 3986 parser):
//! - the scheme must be one of the registry's ([`crate::scheme::REGISTRY`]);
//! - an IPv6 address goes in brackets, as in any URL: `udp://[::1]:7007`;
//! - the port may be left out only where the scheme has a default (ws: 80);
//! - everything from the first `/` on is the path (default `/`).

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};

use crate::scheme::{self, Scheme};

/// A parsed URL, not yet resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// Which transport.
    pub scheme: Scheme,
    /// The host as written: a name, an IPv4 address, or an IPv6 address
    /// (without its brackets).
    pub host: String,
    /// The port: the URL's, or the scheme's default.
    pub port: u16,
    /// The path, starting with `/` (`/` when the URL has none).
    pub path: String,
    /// The URL exactly as given.
    pub text: String,
}

/// Why a URL cannot be used: the URL and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError {
    /// The URL as given.
    pub url: String,
    /// What is wrong, in a sentence.
    pub reason: String,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.url, self.reason)
    }
}

impl std::error::Error for UrlError {}

impl Url {
    /// Parses `text` (no I/O).
    pub fn parse(text: &str) -> Result<Url, UrlError> {
        let fail = |reason: String| UrlError {
            url: text.to_string(),
            reason,
        };
        let (name, rest) = text.split_once("://").ok_or_else(|| {
            fail(format!(
                "expected a URL such as tcp://127.0.0.1:7007 (socklab speaks {})",
                scheme::known()
            ))
        })?;
        let scheme = Scheme::from_name(name).ok_or_else(|| fail(scheme::unknown(name, rest)))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = split_authority(authority).map_err(fail)?;
        if host.is_empty() {
            return Err(fail("the host is missing".to_string()));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| fail(format!("port {p:?} is not a number from 0 to 65535")))?,
            None => scheme.default_port().ok_or_else(|| {
                fail(format!(
                    "a port is needed ({scheme}://HOST:PORT; {scheme} has no default port)"
                ))
            })?,
        };
        Ok(Url {
            scheme,
            host: host.to_string(),
            port,
            path: path.to_string(),
            text: text.to_string(),
        })
    }

    /// `host:port`, with an IPv6 host in brackets: `[::1]:7007`.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The same host and port under another scheme: `tcp://127.0.0.1:7007`.
    pub fn with_scheme(&self, scheme: Scheme) -> String {
        format!("{scheme}://{}", self.authority())
    }

    /// Every address the host resolves to, in the resolver's order (a name
    /// may have several: `localhost` is often 127.0.0.1 and ::1).
    pub fn resolve(&self) -> Result<Vec<SocketAddr>, UrlError> {
        let fail = |reason: String| UrlError {
            url: self.text.clone(),
            reason,
        };
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| fail(format!("cannot resolve {}: {e}", self.host)))?
            .collect();
        if addrs.is_empty() {
            return Err(fail(format!("{} has no address", self.host)));
        }
        Ok(addrs)
    }
}

/// Splits `host[:port]` or `[v6][:port]` into the host and the port text.
fn split_authority(authority: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(inner) = authority.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or_else(|| format!("{authority:?}: an IPv6 address needs its closing ]"))?;
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(format!("{authority:?}: expected :PORT after the ]")),
            },
        };
    }
    match authority.split_once(':') {
        Some((_, port)) if port.contains(':') => Err(format!(
            "{authority:?}: an IPv6 address goes in brackets, as in [::1]:7007"
        )),
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((authority, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    fn reason(text: &str) -> String {
        Url::parse(text).unwrap_err().reason
    }

    /// Scheme, host, port and path, each scheme with its own default port rule.
    #[test]
    fn parses_scheme_host_port_path() {
        let t = url("tcp://127.0.0.1:7007");
        assert_eq!(
            (t.scheme, t.host.as_str(), t.port, t.path.as_str()),
            (Scheme::Tcp, "127.0.0.1", 7007, "/")
        );
        let w = url("WS://localhost/chat?room=1");
        assert_eq!(
            (w.scheme, w.host.as_str(), w.port, w.path.as_str()),
            (Scheme::Ws, "localhost", 80, "/chat?room=1")
        );
        assert_eq!(w.text, "WS://localhost/chat?room=1");
        assert_eq!(url("ws://h:8080/").port, 8080);
    }

    /// IPv6 goes in brackets; the brackets come back in `authority`.
    #[test]
    fn ipv6_in_brackets() {
        let u = url("udp://[::1]:9");
        assert_eq!((u.host.as_str(), u.port), ("::1", 9));
        assert_eq!(u.authority(), "[::1]:9");
        assert_eq!(url("ws://[::1]/").port, 80);
        assert!(reason("udp://::1:9").contains("brackets"));
        assert!(reason("udp://[::1:9").contains("closing ]"));
        assert!(reason("udp://[::1]9").contains(":PORT"));
    }

    /// Each kind of bad input says what is wrong.
    #[test]
    fn bad_urls_say_why() {
        assert!(reason("tcp://127.0.0.1").contains("a port is needed"));
        assert!(reason("tcp://127.0.0.1:70000").contains("0 to 65535"));
        assert!(reason("tcp://:7007").contains("host is missing"));
        assert!(reason("127.0.0.1:80").contains("tcp://, udp://, ws://"));
        let https = reason("https://127.0.0.1:443/");
        assert!(https.contains("unknown scheme https://"), "{https}");
        assert!(https.contains("try wss://"), "{https}");
        let e = Url::parse("gopher://x:1").unwrap_err().to_string();
        assert!(e.starts_with("gopher://x:1: unknown scheme"), "{e}");
    }

    /// Names resolve (localhost is always there); an IP resolves to itself.
    #[test]
    fn resolves_names_and_addresses() {
        let addrs = url("tcp://localhost:7007").resolve().unwrap();
        assert!(
            addrs
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 7007)
        );
        assert_eq!(
            url("udp://[::1]:9").resolve().unwrap(),
            vec!["[::1]:9".parse().unwrap()]
        );
        assert_eq!(
            url("ws://127.0.0.1:8080/").with_scheme(Scheme::Tcp),
            "tcp://127.0.0.1:8080"
        );
    }
}
