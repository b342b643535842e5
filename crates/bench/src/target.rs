//! Where the load goes: the URL (`tcp://`, `udp://`, `ws://`, `tls://`, `wss://`,
//! loopback only), its transport, and one connection of any kind opened to it —
//! with a refusal at the server's connection cap told apart from other failures.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::str::FromStr;

use client::{Framing, Trust};
use tungstenite::WebSocket;

use crate::REPLY_TIMEOUT;
use crate::secure::{self, Stream, TlsClient};

/// Where to send load: `tcp://IP:PORT`, `udp://IP:PORT` or `ws://IP:PORT/path`,
/// and `tls://IP:PORT` or `wss://IP:PORT/path` (TLS under the same loads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL as given.
    pub url: String,
    /// Which protocol.
    pub kind: Kind,
    /// The server's address (loopback only).
    pub addr: SocketAddr,
    /// The scheme wants TLS (tls://, wss://).
    pub secure: bool,
    /// The TLS settings, once [`Target::trusting`] has made them.
    pub tls: Option<TlsClient>,
    /// The host as written, for TLS's name check.
    host: String,
}

/// The three transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bytes over TCP: the echo is read until `size` bytes came back.
    Tcp,
    /// One datagram out, one back.
    Udp,
    /// One binary WebSocket message out, one back.
    Ws,
}

impl Kind {
    /// `tcp`, `udp` or `ws`: the scheme, and the `socklab serve` subcommand.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tcp => "tcp",
            Kind::Udp => "udp",
            Kind::Ws => "ws",
        }
    }
}

impl FromStr for Target {
    type Err = String;

    fn from_str(url: &str) -> Result<Target, String> {
        // The one URL parser, shared with `socklab send`; the scheme's framing
        // says which kind of load.
        let parts = client::Url::parse(url).map_err(|e| e.to_string())?;
        let kind = match parts.scheme.framing() {
            Framing::Bytes => Kind::Tcp,
            Framing::Datagrams => Kind::Udp,
            Framing::Messages => Kind::Ws,
            Framing::Requests => {
                return Err(format!(
                    "{url}: bench measures echo round trips over tcp://, udp://, ws://, tls:// \
                     or wss://; for HTTP push, see `socklab compare --push`"
                ));
            }
        };
        let addr = parts.resolve().map_err(|e| e.to_string())?[0];
        if !addr.ip().is_loopback() {
            return Err(format!(
                "{url}: socklab bench only loads loopback addresses"
            ));
        }
        Ok(Target {
            url: url.to_string(),
            kind,
            addr,
            secure: parts.scheme.secure(),
            tls: None,
            host: parts.host.clone(),
        })
    }
}

impl Target {
    /// For tls:// and wss://: the TLS settings trusting as `trust` says (an
    /// error when nothing is trusted). Plain schemes are returned as they are.
    pub fn trusting(mut self, trust: &Trust) -> Result<Target, String> {
        if self.secure {
            let alpn: &[&[u8]] = if self.kind == Kind::Ws {
                &[b"http/1.1"]
            } else {
                &[]
            };
            self.tls = Some(TlsClient::new(trust, &self.host, alpn)?);
        }
        Ok(self)
    }

    /// The scheme's name: tcp, udp, ws, tls or wss (the `socklab serve` subcommand).
    pub fn scheme(&self) -> &'static str {
        match (self.kind, self.secure) {
            (Kind::Tcp, true) => "tls",
            (Kind::Ws, true) => "wss",
            (kind, _) => kind.name(),
        }
    }
}

/// Why a connection or a round trip failed, as far as a client can tell.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Turned away at the server's connection cap: a 503 to the Upgrade (ws), or
    /// the end of the connection before any echo (tcp).
    Refused(String),
    /// Anything else: refused connect(), a timeout, a wrong echo.
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused(why) | Failure::Other(why) => f.write_str(why),
        }
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Other(e.to_string())
    }
}

/// One connection of any kind, ready for messages.
pub(crate) enum Conn {
    Tcp(Stream),
    Udp(UdpSocket),
    Ws(Box<WebSocket<Stream>>),
}

pub(crate) fn open_one(target: &Target) -> Result<Conn, Failure> {
    match target.kind {
        Kind::Udp => {
            let any: SocketAddr = if target.addr.is_ipv4() {
                "127.0.0.1:0".parse().map_err(io::Error::other)?
            } else {
                "[::1]:0".parse().map_err(io::Error::other)?
            };
            let socket = UdpSocket::bind(any)?;
            socket.connect(target.addr)?;
            socket.set_read_timeout(Some(REPLY_TIMEOUT))?;
            Ok(Conn::Udp(socket))
        }
        Kind::Tcp | Kind::Ws => {
            // TCP_NODELAY (each message is one write), and TLS for tls/wss.
            let stream = secure::connect(target)?;
            if target.kind == Kind::Tcp {
                return Ok(Conn::Tcp(stream));
            }
            match tungstenite::client(target.url.as_str(), stream) {
                Ok((ws, _response)) => Ok(Conn::Ws(Box::new(ws))),
                // Past its cap a WebSocket server answers the Upgrade with 503.
                Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response)))
                    if response.status() == tungstenite::http::StatusCode::SERVICE_UNAVAILABLE =>
                {
                    Err(Failure::Refused(format!(
                        "handshake: the server answered {}",
                        response.status()
                    )))
                }
                Err(e) => Err(Failure::Other(format!("handshake: {e}"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// URLs name the transport and a loopback address; anything else is refused.
    #[test]
    fn parses_loopback_urls_only() {
        let t: Target = "ws://127.0.0.1:8080/".parse().unwrap();
        assert_eq!(t.kind, Kind::Ws);
        assert_eq!(t.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!("udp://[::1]:7".parse::<Target>().unwrap().kind, Kind::Udp);
        assert_eq!("ws://localhost/".parse::<Target>().unwrap().addr.port(), 80);
        let http = "http://127.0.0.1:80".parse::<Target>().unwrap_err();
        assert!(http.contains("tcp://, udp://, ws://"), "{http}");
        assert!(http.contains("compare --push"), "{http}");
        assert!("tcp://192.0.2.1:7".parse::<Target>().is_err());
    }

    /// tls:// and wss:// load the same way over TLS, and need a trust first:
    /// a secure target with nothing trusted is an error that says what to pass.
    #[test]
    fn secure_targets_need_a_trust() {
        let wss: Target = "wss://127.0.0.1:8443/".parse().unwrap();
        assert_eq!(
            (wss.kind, wss.secure, wss.scheme()),
            (Kind::Ws, true, "wss")
        );
        let tls: Target = "tls://127.0.0.1:7443".parse().unwrap();
        assert_eq!((tls.kind, tls.scheme()), (Kind::Tcp, "tls"));
        let unset = wss.clone().trusting(&Trust::Unset).unwrap_err();
        assert!(unset.contains("--cacert"), "{unset}");
        assert!(wss.trusting(&Trust::Insecure).unwrap().tls.is_some());
        let ws: Target = "ws://127.0.0.1:8080/".parse().unwrap();
        assert!(ws.trusting(&Trust::Unset).unwrap().tls.is_none());
    }
}
