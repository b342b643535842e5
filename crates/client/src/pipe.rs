//! What a transport's bytes travel through: the TCP connection itself, or TLS
//! over it (tls://, wss://). One pipe, two Taps.
//!
//! Under TLS there are two byte streams worth recording: the records on the
//! socket (what an observer on the path sees) and the plaintext inside them
//! (what the two endpoints see). So the TCP connection is wrapped in a Tap
//! (the wire), rustls runs over that, and the transport's usual Tap wraps the
//! pipe (the plaintext): `Tap<Pipe>` where `Pipe::Tls` holds
//! `rustls::StreamOwned<ClientConnection, Tap<Connection>>`. A scheme that is
//! not secure has one Tap, and both logs are the same.
//!
//! Trust: a socklab server's certificate is self-signed, so nothing trusts it
//! until told: `--cacert FILE` (the file `socklab serve tls|wss` printed:
//! verification stays on, against that certificate), or `--insecure`, which
//! checks nothing and says so.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use lifecycle::tcp::Connection;
use lifecycle::{Tap, TapLog};
use log::{info, warn};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, StreamOwned};

use crate::transport::Error;

/// Which server certificates a TLS client accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Trust {
    /// None given: a TLS connect fails and says how to give one.
    #[default]
    Unset,
    /// The certificates in this PEM file (`--cacert`): verification on.
    CaFile(PathBuf),
    /// Anything (`--insecure`): the connection is encrypted but the server
    /// is not authenticated. For a demo on loopback only.
    Insecure,
}

/// What the TLS handshake agreed, as rustls reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TlsInfo {
    /// `TLSv1_3` or `TLSv1_2`.
    pub version: String,
    /// `TLS13_AES_256_GCM_SHA384`, …
    pub cipher_suite: String,
    /// The key exchange group: `X25519`, …
    pub key_exchange: String,
    /// The ALPN protocol agreed, if any (`http/1.1` for wss).
    pub alpn: Option<String>,
}

/// The bytes under a transport: TCP, or TLS over TCP.
#[derive(Debug)]
pub enum Pipe {
    /// The TCP connection itself.
    Plain(Connection),
    /// TLS over it; the inner Tap records the records.
    Tls(Box<StreamOwned<ClientConnection, Tap<Connection>>>),
}

impl Pipe {
    /// The TCP connection underneath (for timeouts, shutdown, peeking).
    pub fn conn(&self) -> &Connection {
        match self {
            Pipe::Plain(conn) => conn,
            Pipe::Tls(tls) => tls.get_ref().get_ref(),
        }
    }

    /// Says TLS's goodbye (close_notify), if there is TLS, then sends our FIN
    /// (`shutdown(SHUT_WR)`). Under TLS the socket is corked (`TCP_CORK`)
    /// between the two, so the close_notify and the FIN leave in one segment:
    /// otherwise a client descheduled between the two calls lets the server
    /// answer close_notify with its own FIN first, and which side ends in
    /// TIME_WAIT would follow the scheduler instead of who closed.
    pub fn close_notify_and_fin(&mut self) -> io::Result<()> {
        if let Pipe::Tls(tls) = self {
            let _ = tls.get_ref().get_ref().set_cork(true);
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
        // shutdown(2) sends what the cork held with the FIN, at once.
        self.conn().shutdown_write()
    }

    /// After the peer's close_notify (TLS's end of stream), waits until
    /// `deadline` for its FIN on the TCP connection below, recorded in the
    /// wire log: a peer closes TLS first and TCP right after, and closing our
    /// socket between the two would make both FINs cross (both ends in
    /// TIME_WAIT, decided by timing). Plain TCP: nothing to wait for, the
    /// caller's read of 0 was the FIN.
    pub fn await_fin(&mut self, deadline: std::time::Instant) {
        let Pipe::Tls(tls) = self else {
            return;
        };
        let tap = tls.get_mut();
        let mut buf = [0u8; 512];
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() || tap.get_ref().set_idle_timeout(Some(left)).is_err() {
                return;
            }
            match tap.read(&mut buf) {
                Ok(0) | Err(_) => return, // the FIN, a timeout, or the peer gone
                Ok(_) => {}               // bytes after close_notify: not TLS's to read
            }
        }
    }
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Pipe::Plain(conn) => conn.read(buf),
            Pipe::Tls(tls) => match tls.read(buf) {
                // A peer gone without close_notify: for us, the end of its stream.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Pipe::Plain(conn) => conn.write(buf),
            // StreamOwned seals `buf` into a record and writes it out.
            Pipe::Tls(tls) => tls.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Pipe::Plain(conn) => conn.flush(),
            Pipe::Tls(tls) => tls.flush(),
        }
    }
}

// ANCHOR: handshake
/// Runs the TLS handshake over `conn`, recording the records in `wire`, and
/// returns the pipe and what was agreed. `host` is the name checked against the
/// certificate (an IP address is checked against its IP entries); `alpn` is
/// offered in the ClientHello (wss: `http/1.1`).
pub fn tls_handshake(
    conn: Connection,
    wire: TapLog,
    host: &str,
    trust: &Trust,
    alpn: &[&[u8]],
) -> Result<(Pipe, TlsInfo), Error> {
    let tuple = conn.tuple();
    let config = client_config(trust, alpn)?;
    // TCP_NODELAY: our Finished and the first request (wss: the Upgrade) are two
    // small writes in a row. With Nagle's algorithm the second waits for the
    // ACK of the first, which the server delays (up to 40 ms on Linux): the
    // handshake would look 40 ms slower than it is.
    conn.stream().set_nodelay(true)?;
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| Error::Url(format!("{host}: not a name TLS can check: {e}")))?;
    let tls = ClientConnection::new(config, name).map_err(tls_error)?;
    let mut stream = StreamOwned::new(tls, Tap::with_log(conn, wire));
    // ClientHello out, the server's flight in, our Finished out: in TLS 1.3,
    // one round trip. complete_io moves bytes until the handshake is done.
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .map_err(|e| handshake_error(e, trust, stream.conn.protocol_version().is_some()))?;
    }
    let info = agreed(&stream.conn);
    info!(
        "[{tuple}] TLS handshake done: {}, {}, key exchange {}, ALPN {}",
        info.version,
        info.cipher_suite,
        info.key_exchange,
        info.alpn.as_deref().unwrap_or("none")
    );
    Ok((Pipe::Tls(Box::new(stream)), info))
}
// ANCHOR_END: handshake

fn agreed(conn: &ClientConnection) -> TlsInfo {
    TlsInfo {
        version: conn
            .protocol_version()
            .map_or("?".into(), |v| format!("{v:?}")),
        cipher_suite: conn
            .negotiated_cipher_suite()
            .map_or("?".into(), |s| format!("{:?}", s.suite())),
        key_exchange: conn
            .negotiated_key_exchange_group()
            .map_or("?".into(), |g| format!("{:?}", g.name())),
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
    }
}

fn tls_error(e: rustls::Error) -> Error {
    Error::Io(io::Error::other(format!("TLS: {e}")))
}

/// A failed handshake, said in terms of what to do about it. `answered`: the
/// server's ServerHello had arrived (it speaks TLS) before things went wrong.
fn handshake_error(e: io::Error, trust: &Trust, answered: bool) -> Error {
    let text = e.to_string();
    // End of stream and not one TLS byte back: the server accepted the TCP
    // connection, then closed it without answering the ClientHello. That is what
    // `socklab serve tls|wss` does past --max-connections: the cap is decided at
    // accept(), before any TLS, so there is no channel yet to carry a 503.
    // (A reset instead of FIN: our ClientHello reached a socket already closed.)
    let gone = matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    );
    if gone && !answered {
        return Error::Io(io::Error::new(
            e.kind(),
            "TLS handshake: the server closed the connection without answering our ClientHello \
             (a server at its connection cap does this; so does one that hung up on us)",
        ));
    }
    if text.contains("UnknownIssuer") || text.contains("invalid peer certificate") {
        let hint = match trust {
            Trust::CaFile(path) => format!(
                "it is not the certificate in {} (did the server make a new one at start?)",
                path.display()
            ),
            _ => "pass --cacert FILE (the path `socklab serve tls|wss` printed), or --insecure to skip the check (never outside a demo)".into(),
        };
        return Error::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("TLS: the server's certificate is not trusted ({text}): {hint}"),
        ));
    }
    if e.kind() == io::ErrorKind::UnexpectedEof || text.contains("corrupt message") {
        return Error::Io(io::Error::new(
            e.kind(),
            format!(
                "TLS handshake failed ({text}): is the server speaking TLS on that port? (plain ws:// or tcp:// instead?)"
            ),
        ));
    }
    Error::Io(io::Error::new(e.kind(), format!("TLS handshake: {text}")))
}

/// The rustls client settings for `trust` (ring, TLS 1.3 and 1.2), with the
/// key log `SSLKEYLOGFILE` names, so a capture of this client can be decrypted.
/// Public for the load generator (`socklab bench`), which trusts the same way.
pub fn client_config(trust: &Trust, alpn: &[&[u8]]) -> Result<Arc<ClientConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?;
    let mut config = match trust {
        Trust::Unset => {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a TLS server's certificate must be trusted first: pass --cacert FILE (the path `socklab serve tls|wss` printed), or --insecure to skip the check (never outside a demo)",
            )));
        }
        Trust::CaFile(path) => {
            let mut roots = RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| Error::Url(format!("--cacert {}: {e}", path.display())))?;
            for cert in certs {
                roots.add(cert).map_err(tls_error)?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Trust::Insecure => {
            warn!(
                "--insecure: the server's certificate is NOT checked; anyone on the path could pose as the server"
            );
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoCheck(provider)))
                .with_no_client_auth()
        }
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config.key_log = Arc::new(rustls::KeyLogFile::new());
    Ok(Arc::new(config))
}

/// `--insecure`: accepts any certificate, but still checks the handshake's
/// signatures (the server must hold the key of the certificate it sent).
#[derive(Debug)]
struct NoCheck(Arc<CryptoProvider>);

impl ServerCertVerifier for NoCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
