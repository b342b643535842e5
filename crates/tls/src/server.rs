//! TLS on the server side as a [`Layer`]: rustls's `Acceptor` reads the
//! ClientHello (so it can be narrated), then a `ServerConnection` does the rest.
//!
//! Bytes in ([`Layer::receive`]) and bytes out ([`Layer::output`]), no I/O, so
//! both server models drive the same layer. What the log says is only what
//! rustls reports and what the recorded bytes show: in TLS 1.3 everything after
//! the ServerHello is encrypted, so the certificate, the Finished messages and
//! all the data travel in records that read `application_data`.

use std::io::{self, Read, Write};
use std::sync::Arc;

use lifecycle::FourTuple;
use lifecycle::narrate::plural;
use log::info;
use rustls::server::{Acceptor, ClientHello};
use rustls::{ServerConfig, ServerConnection};
use serve::layer::Layer;

use crate::records::{self, HANDSHAKE};

/// Where one connection's TLS is.
enum State {
    /// Waiting for the whole ClientHello.
    Hello(Box<Acceptor>),
    /// The ServerHello is out: the handshake goes on, then records both ways.
    Open(Box<ServerConnection>),
    /// The peer broke TLS, or does not speak it: nothing more is read.
    Failed,
}

// ANCHOR: tls_layer
/// One connection's TLS, server side.
pub struct TlsLayer {
    tuple: FourTuple,
    config: Arc<ServerConfig>,
    state: State,
    /// Opened application data, for the protocol.
    plain: Vec<u8>,
    /// Records for the socket.
    out: Vec<u8>,
    /// Bytes moved during the handshake, each way (for the narration).
    handshake_in: usize,
    handshake_out: usize,
    /// The handshake's end is narrated once.
    told_done: bool,
    /// The peer's close_notify has arrived.
    peer_closed: bool,
}
// ANCHOR_END: tls_layer

impl TlsLayer {
    /// TLS for a freshly accepted connection: its ClientHello comes next.
    pub fn new(config: Arc<ServerConfig>, tuple: FourTuple) -> TlsLayer {
        TlsLayer {
            tuple,
            config,
            state: State::Hello(Box::default()),
            plain: Vec::new(),
            out: Vec::new(),
            handshake_in: 0,
            handshake_out: 0,
            told_done: false,
            peer_closed: false,
        }
    }

    /// The version and cipher suite agreed, once the ServerHello is out:
    /// `("TLSv1_3", "TLS13_AES_256_GCM_SHA384")`.
    pub fn agreed(&self) -> Option<(String, String)> {
        let State::Open(conn) = &self.state else {
            return None;
        };
        let version = conn.protocol_version()?;
        let suite = conn.negotiated_cipher_suite()?;
        Some((format!("{version:?}"), format!("{:?}", suite.suite())))
    }

    /// The first bytes are not a TLS handshake record: say what they look like,
    /// and answer plain HTTP with a 400 it can read (as nginx does).
    fn not_tls(&mut self, wire: &[u8]) -> io::Result<()> {
        let tuple = self.tuple;
        self.state = State::Failed;
        if let Some(line) = http_request_line(wire) {
            info!(
                "[{tuple}] TLS: plain HTTP on the TLS port ({line:?}), not a ClientHello: answering 400 in plain text"
            );
            self.out.extend_from_slice(PLAIN_HTTP_400);
        } else {
            info!(
                "[{tuple}] TLS: first byte 0x{:02x} is not a handshake record (0x16): a plain TCP client on the TLS port? closing",
                wire[0]
            );
        }
        Err(io::Error::new(io::ErrorKind::InvalidData, "not TLS"))
    }

    /// The peer broke TLS: rustls queued an alert for it; log and end.
    fn fail(&mut self, e: rustls::Error) -> io::Result<()> {
        info!("[{}] TLS: {e}: sending an alert and closing", self.tuple);
        self.state = State::Failed;
        Err(io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Moves what rustls has for the socket and for the protocol into our buffers.
    fn collect(&mut self) -> io::Result<()> {
        let State::Open(conn) = &mut self.state else {
            return Ok(());
        };
        loop {
            let mut chunk = [0u8; 4096];
            match conn.reader().read(&mut chunk) {
                Ok(0) => break, // close_notify: the peer's stream ended cleanly
                Ok(n) => self.plain.extend_from_slice(&chunk[..n]),
                // No more plaintext now (or the peer vanished without close_notify).
                Err(_) => break,
            }
        }
        while conn.wants_write() {
            conn.write_tls(&mut self.out)?;
        }
        Ok(())
    }

    // ANCHOR: narrate_hello
    /// The ClientHello is in: what it offers, then what rustls chose.
    fn accept(&mut self, accepted: rustls::server::Accepted) -> io::Result<()> {
        narrate_client_hello(self.tuple, &accepted.client_hello(), self.handshake_in);
        let conn = match accepted.into_connection(Arc::clone(&self.config)) {
            Ok(conn) => conn,
            Err((e, mut alert)) => {
                let _ = alert.write_all(&mut self.out);
                return self.fail(e);
            }
        };
        let alpn = conn
            .alpn_protocol()
            .map_or("none".into(), |p| String::from_utf8_lossy(p).into_owned());
        let group = conn
            .negotiated_key_exchange_group()
            .map_or("?".into(), |g| format!("{:?}", g.name()));
        self.state = State::Open(Box::new(conn));
        let mark = self.out.len();
        // Records that came in the same read as the ClientHello are in the
        // connection now, unprocessed: handle them at once (a bad one gets its
        // alert now, not at the handshake deadline).
        self.process()?;
        let (version, suite) = self.agreed().unwrap_or_default();
        info!(
            "[{}] TLS: ServerHello: {version}, {suite}, key exchange {group}, ALPN {alpn}",
            self.tuple
        );
        info!(
            "[{}] TLS: records out: {} (after the ServerHello everything is encrypted in TLS 1.3: the certificate and Finished travel as application_data)",
            self.tuple,
            records::summary(&self.out[mark..])
        );
        Ok(())
    }
    // ANCHOR_END: narrate_hello

    /// Processes the records the open connection holds: the peer's goodbye
    /// noted, a broken record answered with its alert (then `Err`), the
    /// answers and the plaintext collected.
    fn process(&mut self) -> io::Result<()> {
        let State::Open(conn) = &mut self.state else {
            return Ok(());
        };
        match conn.process_new_packets() {
            Ok(io) if io.peer_has_closed() => self.peer_closed = true,
            Ok(_) => {}
            Err(e) => {
                while conn.wants_write() {
                    conn.write_tls(&mut self.out)?;
                }
                return self.fail(e);
            }
        }
        self.collect()
    }
}

/// What a browser that typed http:// for an https:// port reads.
const PLAIN_HTTP_400: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
Content-Type: text/plain\r\nConnection: close\r\nContent-Length: 54\r\n\r\n\
This port speaks TLS: use https:// or wss:// instead.\n";

/// The request line, if `bytes` start like an HTTP request.
fn http_request_line(bytes: &[u8]) -> Option<String> {
    let line = bytes.split(|&b| b == b'\r' || b == b'\n').next()?;
    let method = line.split(|&b| b == b' ').next()?;
    let is_method = !method.is_empty() && method.iter().all(|b| b.is_ascii_uppercase());
    (is_method && line.len() > method.len()).then(|| String::from_utf8_lossy(line).into_owned())
}

/// Logs what a ClientHello offers: the name asked for (SNI), the ALPN
/// protocols, and how many cipher suites.
fn narrate_client_hello(tuple: FourTuple, hello: &ClientHello<'_>, bytes: usize) {
    let alpn: Vec<String> = hello
        .alpn()
        .map(|list| {
            list.map(|p| String::from_utf8_lossy(p).into_owned())
                .collect()
        })
        .unwrap_or_default();
    info!(
        "[{tuple}] TLS: ClientHello received ({}): SNI {}, ALPN offered [{}], {} offered",
        plural(bytes, "byte"),
        hello
            .server_name()
            .unwrap_or("(none: an IP address is never sent as SNI)"),
        alpn.join(", "),
        plural(hello.cipher_suites().len(), "cipher suite"),
    );
}

impl Layer for TlsLayer {
    fn receive(&mut self, wire: &[u8]) -> io::Result<()> {
        // The very first byte says whether the peer speaks TLS at all.
        if matches!(self.state, State::Hello(_))
            && self.handshake_in == 0
            && wire.first().is_some_and(|&b| b != HANDSHAKE)
        {
            return self.not_tls(wire);
        }
        let handshaking = self.is_handshaking();
        if handshaking {
            self.handshake_in += wire.len();
        }
        let before_out = self.out.len();
        let mut rest = wire;
        while !rest.is_empty() {
            match &mut self.state {
                State::Hello(acceptor) => {
                    acceptor.read_tls(&mut rest)?;
                    match acceptor.accept() {
                        Ok(None) => {}
                        Ok(Some(accepted)) => self.accept(accepted)?,
                        Err((e, mut alert)) => {
                            let _ = alert.write_all(&mut self.out);
                            return self.fail(e);
                        }
                    }
                }
                State::Open(conn) => {
                    conn.read_tls(&mut rest)?;
                    self.process()?;
                }
                State::Failed => return Err(io::ErrorKind::InvalidData.into()),
            }
        }
        if handshaking {
            self.handshake_out += self.out.len() - before_out;
        }
        if !self.told_done && !self.is_handshaking() && matches!(self.state, State::Open(_)) {
            self.told_done = true;
            info!(
                "[{}] TLS: handshake done: {} in, {} out; from here on the protocol's bytes travel inside application_data records",
                self.tuple,
                plural(self.handshake_in, "byte"),
                plural(self.handshake_out, "byte")
            );
        }
        Ok(())
    }

    fn plaintext(&self) -> &[u8] {
        &self.plain
    }

    fn consumed(&mut self, n: usize) {
        self.plain.drain(..n);
    }

    fn send(&mut self, plain: &[u8]) -> io::Result<usize> {
        let State::Open(conn) = &mut self.state else {
            return Err(io::ErrorKind::BrokenPipe.into());
        };
        let n = conn.writer().write(plain)?;
        self.collect()?;
        Ok(n)
    }

    fn output(&self) -> &[u8] {
        &self.out
    }

    fn sent(&mut self, n: usize) {
        self.out.drain(..n);
    }

    fn answered(&self) -> bool {
        // Past Hello: the whole ClientHello was read and the ServerHello queued.
        matches!(self.state, State::Open(_))
    }

    fn is_handshaking(&self) -> bool {
        match &self.state {
            State::Hello(_) => true,
            State::Open(conn) => conn.is_handshaking(),
            State::Failed => false,
        }
    }

    fn close(&mut self) {
        if let State::Open(conn) = &mut self.state {
            conn.send_close_notify();
            let _ = self.collect();
        }
    }

    fn peer_closed(&self) -> bool {
        self.peer_closed && self.plain.is_empty()
    }
}
