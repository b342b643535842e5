//! One client, three transports: `tcp://`, `udp://` and `ws://` behind the same
//! four verbs — connect, send a message, receive, close.
//!
//! The point of having one type is the comparison: the same call does very
//! different things underneath, and the Tap under each transport records exactly
//! what. `send(b"hello")` is one `write()` of 5 bytes on TCP, one 5-byte datagram
//! on UDP, and on WebSocket one 11-byte masked frame — after an HTTP Upgrade that
//! TCP and UDP never needed.
//!
//! | verb    | tcp://                    | udp://                          | ws://                                 |
//! |---------|---------------------------|---------------------------------|---------------------------------------|
//! | connect | socket, connect (SYN…ACK) | socket, bind, connect (no packet) | TCP connect, then HTTP Upgrade → 101 |
//! | send    | one `write()`             | one datagram                    | one masked frame                      |
//! | receive | one `read()`: any bytes   | one datagram, whole             | one message, from its frames          |
//! | close   | shutdown (FIN), read to 0 | nothing on the wire             | close frame 1000, server's FIN, close |
//!
//! tls:// and wss:// are tcp:// and ws:// with TLS in the pipe underneath.
//!
//! # Layout
//!
//! - this file: [`Target`], [`Transport`] and the middle verbs, send and receive;
//! - `connect.rs`: connect, for every scheme (the TCP handshake, TLS, the Upgrade);
//! - `close.rs`: close, each protocol's way, and the kernel's word on both ends;
//! - `error.rs`: [`Error`], including what a refused Upgrade answered.
//!
//! Try: `socklab send tcp://127.0.0.1:7007 hello --wire`, then the same with
//! `udp://` and `ws://127.0.0.1:8080/`.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use lifecycle::narrate::plural;
use lifecycle::udp::{RECV_BUFFER, UdpEndpoint};
use lifecycle::{FourTuple, Tap, TapLog};
use tungstenite::{Message, WebSocket};

pub use crate::pipe::{Pipe, TlsInfo, Trust};
pub use crate::scheme::{Framing, Scheme};
use crate::seeded::Seeded;
use crate::url::Url;

mod close;
mod connect;
pub mod deflate;
mod error;

pub use close::{CloseReport, Side, settled_states};
pub use error::Error;

/// How long connect (and the WebSocket handshake) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the whole of `close` may wait for the peer's side of the close (its
/// close frame, its FIN): one deadline for all the reads, so a peer that keeps
/// sending cannot keep us waiting.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// The most bytes `close` reads (and the Tap keeps) while it waits for the
/// peer's FIN. A peer that sends more is not closing: we stop reading and
/// `close()` — the kernel answers anything still unread with RST.
pub const CLOSE_MAX_BYTES: usize = 1024 * 1024;

/// How long `close` polls the kernel for the final TCP states (one side reaching
/// TIME_WAIT takes one more packet, so it is not instant even on loopback).
pub const STATE_TIMEOUT: Duration = Duration::from_secs(1);

/// How often [`settled_states`] re-reads the kernel's table.
const STATE_POLL: Duration = Duration::from_millis(1);

/// The most bytes one TCP `read()` asks for. 64 KiB, like a UDP datagram buffer:
/// large enough that "how many reads" is decided by the kernel, not by us.
pub const READ_BUFFER: usize = 64 * 1024;

/// A parsed and resolved URL: which transport, which address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// tcp, udp or ws.
    pub scheme: Scheme,
    /// The server's address (the host name resolved; its first address).
    pub addr: SocketAddr,
    /// The URL as given (tungstenite builds the request line and Host from it).
    pub url: String,
    /// The URL's parts: host as written, port, path.
    pub parts: Url,
    /// Which certificates a secure scheme (tls://, wss://) accepts.
    pub trust: Trust,
}

impl Target {
    /// Parses `tcp://HOST:PORT`, `udp://HOST:PORT` or `ws://HOST[:PORT][/PATH]`
    /// with the one URL parser, then resolves the host.
    pub fn parse(url: &str) -> Result<Target, Error> {
        let parts = Url::parse(url).map_err(|e| Error::Url(e.to_string()))?;
        // resolve() returns at least one address or an error; we take the first,
        // as connect(2) on a name usually does.
        let addr = parts.resolve().map_err(|e| Error::Url(e.to_string()))?[0];
        Ok(Target {
            scheme: parts.scheme,
            addr,
            url: url.to_string(),
            parts,
            trust: Trust::Unset,
        })
    }
}

/// What one `receive` got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// One unit of data: the bytes of one read (tcp), one datagram (udp) or one
    /// message (ws).
    Data(Vec<u8>),
    /// A WebSocket ping (tungstenite answers it with a pong by itself).
    Ping(Vec<u8>),
    /// A WebSocket pong.
    Pong(Vec<u8>),
    /// The server's close frame, with its status code if it had one.
    Close(Option<u16>),
    /// The end: the peer sent FIN (tcp) or the WebSocket is closed.
    End,
}

/// The socket under each transport, wrapped in the Tap.
#[derive(Debug)]
enum Link {
    /// [`Framing::Bytes`]: the TCP connection (tcp://), or TLS over it (tls://).
    Bytes(Tap<Pipe>),
    /// [`Framing::Datagrams`]: a connected UDP socket.
    Datagrams(Tap<UdpEndpoint>),
    /// [`Framing::Messages`]: WebSocket over the TCP connection (ws://), or
    /// over TLS over it (wss://).
    Messages(Box<WebSocket<Tap<Pipe>>>),
}

/// A connected client on one of the three transports.
#[derive(Debug)]
pub struct Transport {
    target: Target,
    link: Link,
    log: TapLog,
    /// The bytes on the socket: TLS records under a secure scheme, else `log` itself.
    wire: TapLog,
    tls: Option<TlsInfo>,
    /// Wire records the TLS handshake made (0 without TLS).
    tls_records: usize,
    tuple: FourTuple,
    connect_time: Duration,
    handshake_records: usize,
    our_fin: Option<Duration>,
    /// `--seed`: where a ws connection's mask keys come from (its key came
    /// from it too); `None`: tungstenite picks them at random, as RFC 6455 asks.
    seeded: Option<Seeded>,
    /// permessage-deflate, when we offered it and the server's 101 agreed
    /// (`socklab send --deflate`): our messages compressed, its inflated.
    deflate: Option<Box<deflate::Deflate>>,
}

impl Transport {
    /// Which URL this is connected to.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// What the server agreed to when we offered permessage-deflate (`None`:
    /// not offered, or not agreed: messages go uncompressed).
    pub fn deflate(&self) -> Option<&websocket::deflate::Agreement> {
        self.deflate.as_ref().map(|d| &d.agreement)
    }

    /// The next mask key: the seed's under `--seed`, else unpredictable.
    fn next_mask(&mut self) -> [u8; 4] {
        match self.seeded.as_mut() {
            Some(seeded) => seeded.mask(),
            None => deflate::random_mask(),
        }
    }

    /// The records of every byte so far (a live handle: it keeps filling).
    pub fn log(&self) -> TapLog {
        self.log.clone()
    }

    /// The bytes on the socket itself: under tls:// and wss://, the TLS
    /// records (what an observer sees) while [`Transport::log`] has the
    /// plaintext inside them (what the endpoints see); otherwise the same log.
    pub fn wire_log(&self) -> TapLog {
        self.wire.clone()
    }

    /// How many wire records the TLS handshake made: records from this index on
    /// in [`Transport::wire_log`] carry the protocol (0 without TLS).
    pub fn tls_records(&self) -> usize {
        self.tls_records
    }

    /// What the TLS handshake agreed (tls:// and wss:// only).
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    /// Protocol, our address, the server's address.
    pub fn tuple(&self) -> FourTuple {
        self.tuple
    }

    /// How long `connect` took, handshake included.
    pub fn connect_time(&self) -> Duration {
        self.connect_time
    }

    /// How many records the connect made: for ws, the Upgrade request and response.
    /// Records from this index on are the conversation.
    pub fn handshake_records(&self) -> usize {
        self.handshake_records
    }

    /// Makes `receive` give up (with an error for which [`Error::is_timeout`] is
    /// true) when nothing arrives for `timeout`. `None` waits forever.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> Result<(), Error> {
        match &self.link {
            Link::Bytes(tap) => tap.get_ref().conn().set_idle_timeout(timeout)?,
            Link::Datagrams(tap) => tap.get_ref().socket().set_read_timeout(timeout)?,
            Link::Messages(ws) => ws.get_ref().get_ref().conn().set_idle_timeout(timeout)?,
        }
        Ok(())
    }

    // ANCHOR: send
    /// Sends one message: one `write()` (tcp), one datagram (udp), one frame (ws;
    /// text if the bytes are UTF-8, else binary).
    pub fn send(&mut self, message: &[u8]) -> Result<(), Error> {
        if self.deflate.is_some() {
            let text = std::str::from_utf8(message).is_ok();
            return self.send_compressed(message, text);
        }
        match &mut self.link {
            // write_all: a short write is followed by another write, never lost.
            Link::Bytes(tap) => tap.write_all(message)?,
            Link::Datagrams(tap) => {
                let n = tap.write(message)?;
                if n != message.len() {
                    return Err(Error::Io(io::Error::other("datagram sent short")));
                }
            }
            // --seed: the frame built with the seed's next mask, written past
            // tungstenite (whose client role always masks at random).
            Link::Messages(ws) if self.seeded.is_some() => {
                let mask = self.seeded.as_mut().map(Seeded::mask);
                let text = std::str::from_utf8(message).is_ok();
                write_frame(ws, &crate::wire::data_frame(message, text, mask))?;
            }
            Link::Messages(ws) => {
                let message = match std::str::from_utf8(message) {
                    Ok(text) => Message::text(text),
                    Err(_) => Message::binary(message.to_vec()),
                };
                // send = queue the frame (masked: we are the client) + flush it.
                ws.send(message)?;
            }
        }
        Ok(())
    }
    // ANCHOR_END: send

    /// Sends one message as a binary frame even if it is UTF-8 (ws; tcp and
    /// udp have no types, so it is [`Transport::send`] there). websockify takes
    /// only binary frames: a text frame is closed with 1003.
    pub fn send_binary(&mut self, message: &[u8]) -> Result<(), Error> {
        if self.deflate.is_some() {
            return self.send_compressed(message, false);
        }
        match &mut self.link {
            Link::Messages(ws) if self.seeded.is_some() => {
                let mask = self.seeded.as_mut().map(Seeded::mask);
                write_frame(ws, &crate::wire::data_frame(message, false, mask))?;
            }
            Link::Messages(ws) => ws.send(Message::binary(message.to_vec()))?,
            _ => self.send(message)?,
        }
        Ok(())
    }

    /// `--deflate`: one message compressed, RSV1 set, masked, written past
    /// tungstenite (which refuses RSV1).
    fn send_compressed(&mut self, message: &[u8], text: bool) -> Result<(), Error> {
        let mask = self.next_mask();
        if let (Link::Messages(ws), Some(deflate)) = (&mut self.link, &mut self.deflate) {
            write_frame(ws, &deflate.frame(message, text, mask))?;
        }
        Ok(())
    }

    // ANCHOR: send_raw
    /// Writes `bytes` to a WebSocket connection as they are, past tungstenite's
    /// framing: for frames tungstenite's client role would never send (unmasked,
    /// or any bytes at all, see [`crate::wire::data_frame`]), to see how a server
    /// answers them. The Tap records them like any other write. Errors on tcp
    /// and udp, which have no frames to bypass.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), Error> {
        match &mut self.link {
            Link::Messages(ws) => write_frame(ws, bytes),
            _ => Err(Error::Io(io::Error::other(
                "raw frames exist only on ws:// (tcp and udp carry bytes as they are)",
            ))),
        }
    }
    // ANCHOR_END: send_raw

    // ANCHOR: receive
    /// Receives one unit: whatever one `read()` returns (tcp — a stream has no
    /// messages), one datagram (udp), or one whole message (ws).
    pub fn receive(&mut self) -> Result<Incoming, Error> {
        // --deflate: frames read past tungstenite, from the Tap under it.
        if let (Link::Messages(ws), Some(deflate)) = (&mut self.link, &mut self.deflate) {
            let seeded = &mut self.seeded;
            let mask = || match seeded.as_mut() {
                Some(seeded) => seeded.mask(),
                None => deflate::random_mask(),
            };
            return deflate.receive(ws.get_mut(), mask);
        }
        match &mut self.link {
            Link::Bytes(tap) => {
                let mut buf = vec![0u8; READ_BUFFER];
                match tap.read(&mut buf)? {
                    0 => Ok(Incoming::End), // the server sent FIN
                    n => Ok(Incoming::Data(buf[..n].to_vec())),
                }
            }
            Link::Datagrams(tap) => {
                // Room for any datagram, so none is cut short.
                let mut buf = vec![0u8; RECV_BUFFER];
                let n = tap.read(&mut buf)?;
                Ok(Incoming::Data(buf[..n].to_vec()))
            }
            Link::Messages(ws) => match ws.read() {
                Ok(Message::Text(text)) => Ok(Incoming::Data(text.as_bytes().to_vec())),
                Ok(Message::Binary(bytes)) => Ok(Incoming::Data(bytes.to_vec())),
                Ok(Message::Ping(bytes)) => Ok(Incoming::Ping(bytes.to_vec())),
                Ok(Message::Pong(bytes)) => Ok(Incoming::Pong(bytes.to_vec())),
                Ok(Message::Close(frame)) => Ok(Incoming::Close(frame.map(|f| f.code.into()))),
                Ok(Message::Frame(frame)) => Ok(Incoming::Data(frame.into_payload().to_vec())),
                // A normal end, not a failure.
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    Ok(Incoming::End)
                }
                Err(e) => Err(e.into()),
            },
        }
    }
    // ANCHOR_END: receive

    /// Receives units until at least `bytes` data bytes have arrived — the whole
    /// echo of a `bytes`-long message, which TCP may return in several reads —
    /// and returns them as they came. Pings and pongs are skipped; the end of the
    /// conversation before all bytes arrived is an `UnexpectedEof` error.
    pub fn receive_bytes(&mut self, bytes: usize) -> Result<Vec<Vec<u8>>, Error> {
        let mut units = Vec::new();
        let mut got = 0;
        // An empty message still comes back as one (empty) datagram or message.
        while got < bytes || units.is_empty() {
            match self.receive()? {
                Incoming::Data(unit) => {
                    got += unit.len();
                    let empty = unit.is_empty();
                    units.push(unit);
                    if empty && bytes == 0 {
                        break;
                    }
                }
                Incoming::Ping(_) | Incoming::Pong(_) => {}
                Incoming::Close(_) | Incoming::End => {
                    return Err(Error::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "the server ended the conversation after {got} of {}",
                            plural(bytes, "byte")
                        ),
                    )));
                }
            }
        }
        Ok(units)
    }

    /// Waits (until `deadline`) until at least `bytes` bytes sit unread in the
    /// kernel's receive buffer, without taking them (`recv(MSG_PEEK)`). The
    /// boundary experiment uses it so the first `read()` sees everything that was
    /// echoed: what one read returns then depends on the protocol, not on timing.
    /// Returns whether they all arrived. UDP answers true at once: a datagram
    /// is read whole whenever it is read.
    pub fn wait_buffered(&self, bytes: usize, deadline: Instant) -> Result<bool, Error> {
        let conn = match &self.link {
            Link::Bytes(tap) => tap.get_ref().conn(),
            Link::Messages(ws) => ws.get_ref().get_ref().conn(),
            Link::Datagrams(_) => return Ok(true),
        };
        let mut buf = vec![0u8; bytes];
        // A short pause between peeks: the bytes are in flight on loopback, and
        // the deadline bounds the wait.
        const POLL: Duration = Duration::from_micros(200);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            conn.stream().set_read_timeout(Some(left))?;
            let n = match conn.stream().peek(&mut buf) {
                Ok(n) => n,
                Err(e) if lifecycle::tcp::is_timeout(&e) => return Ok(false),
                Err(e) => return Err(e.into()),
            };
            if n >= bytes || n == 0 {
                conn.stream().set_read_timeout(None)?;
                return Ok(n >= bytes);
            }
            thread::sleep(POLL);
        }
    }
}

#[cfg(test)]
mod tests;

/// Writes a frame built by hand to the Tap under tungstenite, and flushes it.
fn write_frame(ws: &mut WebSocket<Tap<Pipe>>, bytes: &[u8]) -> Result<(), Error> {
    let tap = ws.get_mut();
    tap.write_all(bytes)?;
    tap.flush()?;
    Ok(())
}
