//! tls:// and wss:// under the load: one stream type, plain or TLS.
//!
//! The load generator talks to `socklab serve tls|wss` exactly as to the plain
//! servers; only the stream under the bytes changes. The TLS handshake is done
//! in [`connect`], before the first message (and, for wss, before the Upgrade),
//! so a connection's handshake costs are paid once, where `churn` counts them.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use client::Trust;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::{REPLY_TIMEOUT, Target};

/// The client settings for a secure target, made once from the trust given
/// (`--cacert` or `--insecure`) and shared by every connection.
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl TlsClient {
    /// Settings that trust as `trust` says, for a server at `host`, offering
    /// `alpn` (wss: http/1.1).
    pub fn new(trust: &Trust, host: &str, alpn: &[&[u8]]) -> Result<TlsClient, String> {
        let config = client::pipe::client_config(trust, alpn).map_err(|e| e.to_string())?;
        let name = ServerName::try_from(host.to_string()).map_err(|e| format!("{host}: {e}"))?;
        Ok(TlsClient { config, name })
    }
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TlsClient({:?})", self.name)
    }
}

// Two targets are the same when they share the same settings.
impl PartialEq for TlsClient {
    fn eq(&self, other: &TlsClient) -> bool {
        Arc::ptr_eq(&self.config, &other.config)
    }
}
impl Eq for TlsClient {}

/// A connection's byte stream: the bare socket, or TLS over it.
pub enum Stream {
    /// tcp:// and ws://.
    Plain(TcpStream),
    /// tls:// and wss://: records over the socket.
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    /// The socket under it (to peek for a FIN).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(tls) => &tls.sock,
        }
    }
}

/// Connects to `target` with TCP_NODELAY (each message is one write) and the
/// reply timeout, and, for a secure target, completes the TLS handshake.
pub fn connect(target: &Target) -> io::Result<Stream> {
    let stream = TcpStream::connect_timeout(&target.addr, REPLY_TIMEOUT)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
    let Some(tls) = &target.tls else {
        return Ok(Stream::Plain(stream));
    };
    let conn = ClientConnection::new(Arc::clone(&tls.config), tls.name.clone())
        .map_err(io::Error::other)?;
    let mut tls = StreamOwned::new(conn, stream);
    // ClientHello out, the server's flight in, our Finished out.
    while tls.conn.is_handshaking() {
        tls.conn
            .complete_io(&mut tls.sock)
            .map_err(|e| io::Error::new(e.kind(), format!("TLS handshake: {e}")))?;
    }
    Ok(Stream::Tls(Box::new(tls)))
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(tls) => match tls.read(buf) {
                // A server gone without close_notify: the end of its stream.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(tls) => tls.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(tls) => tls.flush(),
        }
    }
}
