//! Connecting, the first of the four verbs: the TCP connect (SYN, SYN-ACK, ACK),
//! a connected UDP socket (no packet at all), TLS over TCP, and for ws/wss the
//! HTTP Upgrade on top — every byte recorded by the Tap from the first one.

use std::io;
use std::time::Instant;

use lifecycle::tcp::{Connection, connect_tcp};
use lifecycle::udp::UdpEndpoint;
use lifecycle::{Tap, TapLog};
use log::info;
use tungstenite::client::IntoClientRequest as _;
use tungstenite::http::{HeaderName, HeaderValue};

use super::error::upgrade_failed;
use super::{CONNECT_TIMEOUT, Error, Framing, Link, Pipe, Target, Transport};
use crate::pipe::tls_handshake;
use crate::seeded::Seeded;

impl Transport {
    /// Parses `url` and connects.
    pub fn connect(url: &str) -> Result<Transport, Error> {
        Transport::connect_to(&Target::parse(url)?)
    }

    /// Connects to `target`; for ws this includes the HTTP Upgrade.
    pub fn connect_to(target: &Target) -> Result<Transport, Error> {
        Transport::connect_recorded(target, TapLog::new())
    }

    // ANCHOR: connect
    /// Connects to `target`, recording every byte in `log`. The caller keeps a
    /// handle on the log, so the bytes of a connect that failed (a refused
    /// Upgrade, an echo server answering HTTP) can still be shown.
    pub fn connect_recorded(target: &Target, log: TapLog) -> Result<Transport, Error> {
        Transport::connect_with_headers(target, log, &[])
    }

    /// [`Transport::connect_to`] with the client's random choices taken from
    /// `seeded` (`--seed`): for ws, the `Sec-WebSocket-Key`, then every mask key
    /// its frames and its close frame use, so two runs write the same bytes.
    /// tcp and udp have nothing random: `seeded` is not used.
    pub fn connect_seeded(target: &Target, mut seeded: Seeded) -> Result<Transport, Error> {
        if target.scheme.framing() != Framing::Messages {
            return Transport::connect_to(target);
        }
        let key = seeded.key();
        let headers = [("Sec-WebSocket-Key", key.as_str())];
        let mut t = Transport::connect_with_headers(target, TapLog::new(), &headers)?;
        t.seeded = Some(seeded);
        Ok(t)
    }

    /// [`Transport::connect_recorded`], with `headers` added to the Upgrade request
    /// of a ws:// target as given (`socklab send --origin` sends an `Origin`);
    /// ignored for tcp and udp, which have no request.
    pub fn connect_with_headers(
        target: &Target,
        log: TapLog,
        headers: &[(&str, &str)],
    ) -> Result<Transport, Error> {
        let started = Instant::now();
        let mut deflate = None;
        let mut wire = log.clone();
        let mut tls = None;
        let mut tls_mark = 0;
        // The bytes of a connected scheme travel through a pipe: the TCP
        // connection, or TLS over it when the scheme is secure.
        let mut pipe = |conn: Connection, alpn: &[&[u8]]| -> Result<Pipe, Error> {
            if !target.scheme.secure() {
                return Ok(Pipe::Plain(conn));
            }
            // The records go to their own log; `log` keeps the plaintext.
            wire = TapLog::new();
            conn.set_idle_timeout(Some(CONNECT_TIMEOUT))?;
            let (pipe, info) =
                tls_handshake(conn, wire.clone(), &target.parts.host, &target.trust, alpn)?;
            pipe.conn().set_idle_timeout(None)?;
            tls = Some(info);
            tls_mark = wire.mark();
            Ok(pipe)
        };
        // The scheme says how its bytes are framed; that decides the link.
        let (link, tuple) = match target.scheme.framing() {
            Framing::Requests => {
                return Err(Error::Url(
                    "http:// is request/response, not a stream or messages: `socklab send` sends \
                     HTTP requests; to talk both ways, use ws://"
                        .to_string(),
                ));
            }
            Framing::Bytes => {
                // socket(2) + connect(2): the kernel's three-way handshake.
                let conn = connect_tcp(target.addr, CONNECT_TIMEOUT)?;
                let tuple = conn.tuple();
                (
                    Link::Bytes(Tap::with_log(pipe(conn, &[])?, log.clone())),
                    tuple,
                )
            }
            Framing::Datagrams => {
                // socket(2) + bind(2) + connect(2): no packet leaves the machine.
                let endpoint = UdpEndpoint::connect(target.addr)?;
                let tuple = endpoint.tuple(target.addr);
                (Link::Datagrams(Tap::with_log(endpoint, log.clone())), tuple)
            }
            Framing::Messages => {
                // The same TCP connect (and TLS, for wss), then tungstenite writes
                // the Upgrade request and reads the 101 response through the Tap,
                // on this one socket.
                let conn = connect_tcp(target.addr, CONNECT_TIMEOUT)?;
                let tuple = conn.tuple();
                // wss: the Upgrade is HTTP/1.1, so that is the ALPN offered.
                let pipe = pipe(conn, &[b"http/1.1"])?;
                pipe.conn().set_idle_timeout(Some(CONNECT_TIMEOUT))?;
                let tap = Tap::with_log(pipe, log.clone());
                let mut request = target.url.as_str().into_client_request()?;
                for (name, value) in headers {
                    let name = HeaderName::from_bytes(name.as_bytes())
                        .map_err(|e| Error::Url(format!("header {name:?}: {e}")))?;
                    let value = HeaderValue::from_str(value)
                        .map_err(|e| Error::Url(format!("header value {value:?}: {e}")))?;
                    request.headers_mut().insert(name, value);
                }
                let (ws, response) = tungstenite::client::client_with_config(request, tap, None)
                    .map_err(|e| match e {
                        tungstenite::HandshakeError::Failure(e) => {
                            upgrade_failed(e, target, &log.records())
                        }
                        tungstenite::HandshakeError::Interrupted(_) => Error::Io(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the WebSocket handshake did not finish",
                        )),
                    })?;
                ws.get_ref().get_ref().conn().set_idle_timeout(None)?;
                info!("[{tuple}] upgraded: HTTP {}", response.status());
                // We offered permessage-deflate (`--deflate`): what the 101 said.
                let offered = headers
                    .iter()
                    .any(|(name, _)| name.eq_ignore_ascii_case("sec-websocket-extensions"));
                if let Some(answer) = response.headers().get("sec-websocket-extensions")
                    && offered
                {
                    let agreement = answer
                        .to_str()
                        .ok()
                        .and_then(|a| websocket::deflate::Agreement::from_response(a).ok())
                        .ok_or_else(|| {
                            Error::Url(format!(
                                "the server's Sec-WebSocket-Extensions answer {answer:?} is not a permessage-deflate agreement"
                            ))
                        })?;
                    deflate = Some(Box::new(super::deflate::Deflate::new(agreement)));
                }
                (Link::Messages(Box::new(ws)), tuple)
            }
        };
        let tls_records = if tls.is_some() { tls_mark } else { 0 };
        Ok(Transport {
            target: target.clone(),
            link,
            handshake_records: log.mark(),
            log,
            wire,
            tls,
            tls_records,
            tuple,
            connect_time: started.elapsed(),
            our_fin: None,
            seeded: None,
            deflate,
        })
    }
    // ANCHOR_END: connect
}
