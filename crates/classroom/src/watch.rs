//! The layer that watches a student's connection: every byte passes through
//! unchanged, and what passed is recorded on the feed.
//!
//! It is a `serve::layer::Layer` — the slot TLS uses between the socket and
//! the protocol — so the students' tcp and ws echo are the very servers
//! `socklab serve` runs, unchanged; plain `socklab serve` has no layer and
//! pays nothing for this. What the layer adds:
//!
//! - `open` at the student's first byte (not at accept: a port scan is not a
//!   student), `data` per read and per write, `close` when the connection ends;
//! - for WebSocket, the frame headers read out of the bytes ([`crate::frames`]);
//! - with `--code`, the gate: on TCP the first line must be the code, and it
//!   is consumed (the echo never sees it); on WebSocket the request's URL
//!   must carry `?code=CODE`. A connection without it is served as usual but
//!   is not a student: the dashboard does not show it.

use std::io;
use std::sync::Arc;

use lifecycle::FourTuple;
use serve::layer::Layer;

use crate::event::{ConnNo, Dir, Raw};
use crate::feed::Feed;
use crate::frames::{HeadSeen, Scanner};

/// The longest first line read while waiting for the code; a longer one is
/// not the code, and the connection is served as a stranger's.
pub const MAX_CODE_LINE: usize = 256;

/// Which students' server a layer watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    /// Bytes: the TCP echo.
    Tcp,
    /// Frames after an Upgrade: the WebSocket echo.
    Ws,
}

/// Where the connection stands with the class code.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Gate {
    /// Not decided: the first line (TCP) or request line (WebSocket) is coming.
    Waiting(Vec<u8>),
    /// A student, shown under this number.
    Student(ConnNo),
    /// Not a student: served, not shown.
    Stranger,
}

/// One connection's watching layer.
pub struct Watch {
    feed: Arc<Feed>,
    tuple: FourTuple,
    kind: Watched,
    code: Option<Arc<str>>,
    gate: Gate,
    /// What the server has yet to read.
    plain: Vec<u8>,
    /// What the server wrote, not yet on the socket.
    out: Vec<u8>,
    /// The server ended the connection first (our `close()` was called).
    server_closed: bool,
    scanners: Option<[Scanner; 2]>,
}

impl Watch {
    /// A layer for a fresh connection on a `kind` server; with `code`, only
    /// connections that give it are shown.
    pub fn new(feed: Arc<Feed>, tuple: FourTuple, kind: Watched, code: Option<Arc<str>>) -> Watch {
        let scanners =
            (kind == Watched::Ws).then(|| [Scanner::new(Dir::In), Scanner::new(Dir::Out)]);
        Watch {
            feed,
            tuple,
            kind,
            code,
            gate: Gate::Waiting(Vec::new()),
            plain: Vec::new(),
            out: Vec::new(),
            server_closed: false,
            scanners,
        }
    }

    /// A student arrived: number and `open`.
    fn admit(&mut self) -> ConnNo {
        let conn = self.feed.next_conn();
        self.feed.record(Raw::Open {
            conn,
            proto: match self.kind {
                Watched::Tcp => "tcp",
                Watched::Ws => "ws",
            },
            local: self.tuple.local,
            peer: self.tuple.peer,
        });
        self.gate = Gate::Student(conn);
        conn
    }

    /// Decides the gate once the first line is in; returns the bytes that go
    /// on to the server (the code line itself does not, on TCP).
    fn decide(&mut self, wire: &[u8]) -> Vec<u8> {
        let Gate::Waiting(held) = &mut self.gate else {
            return wire.to_vec();
        };
        held.extend_from_slice(wire);
        let Some(code) = self.code.clone() else {
            let bytes = std::mem::take(held);
            self.admit();
            return bytes;
        };
        let Some(end) = held.iter().position(|&b| b == b'\n') else {
            if held.len() > MAX_CODE_LINE {
                let bytes = std::mem::take(held);
                self.gate = Gate::Stranger;
                return bytes;
            }
            return Vec::new(); // the first line is not all here yet
        };
        let bytes = std::mem::take(held);
        let line = String::from_utf8_lossy(&bytes[..end]);
        match self.kind {
            Watched::Tcp if line.trim_end_matches('\r') == &*code => {
                self.admit();
                bytes[end + 1..].to_vec() // the code is consumed, not echoed
            }
            Watched::Ws if carries_code(&line, &code) => {
                self.admit();
                bytes
            }
            _ => {
                self.gate = Gate::Stranger;
                bytes
            }
        }
    }

    /// Records bytes one way, and the frames in them.
    fn saw(&mut self, dir: Dir, bytes: &[u8]) {
        let Gate::Student(conn) = self.gate else {
            return;
        };
        if bytes.is_empty() {
            return;
        }
        self.feed.record(Raw::Data {
            conn,
            dir,
            bytes: bytes.len() as u64,
        });
        if let Some([inbound, outbound]) = &mut self.scanners {
            let mut frames = Vec::new();
            match dir {
                Dir::In => inbound.scan(bytes, &mut frames),
                Dir::Out => {
                    outbound.scan(bytes, &mut frames);
                    if outbound.head() == HeadSeen::Refused {
                        inbound.give_up(); // a page or a refusal: no frames either way
                    }
                }
            }
            for frame in frames {
                self.feed.record(Raw::Frame { conn, frame });
            }
        }
    }
}

/// Whether a request line (`GET /?code=abc HTTP/1.1`) carries `code=CODE` in
/// its query.
fn carries_code(request_line: &str, code: &str) -> bool {
    let target = request_line.split(' ').nth(1).unwrap_or("");
    let query = target.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .any(|kv| kv.strip_prefix("code=") == Some(code))
}

impl Layer for Watch {
    fn receive(&mut self, wire: &[u8]) -> io::Result<()> {
        let through = self.decide(wire);
        self.saw(Dir::In, &through);
        self.plain.extend_from_slice(&through);
        Ok(())
    }
    fn plaintext(&self) -> &[u8] {
        &self.plain
    }
    fn consumed(&mut self, n: usize) {
        self.plain.drain(..n);
    }
    fn send(&mut self, plain: &[u8]) -> io::Result<usize> {
        self.saw(Dir::Out, plain);
        self.out.extend_from_slice(plain);
        Ok(plain.len())
    }
    fn output(&self) -> &[u8] {
        &self.out
    }
    fn sent(&mut self, n: usize) {
        self.out.drain(..n);
    }
    fn is_handshaking(&self) -> bool {
        false
    }
    fn close(&mut self) {
        self.server_closed = true;
    }
    fn peer_closed(&self) -> bool {
        false
    }
}

impl Drop for Watch {
    /// The connection is over (its session dropped): `close`. Who sent the
    /// first FIN is settled by the feed with the kernel's state.
    fn drop(&mut self) {
        if let Gate::Student(conn) = self.gate {
            let first_fin = if self.server_closed {
                "server"
            } else {
                "student"
            };
            self.feed.record(Raw::Close { conn, first_fin });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple() -> FourTuple {
        FourTuple {
            proto: lifecycle::Proto::Tcp,
            local: "127.0.0.1:1".parse().expect("addr"),
            peer: "127.0.0.1:2".parse().expect("addr"),
        }
    }

    /// With a code, the code line is consumed: the echo sees only what follows.
    #[test]
    fn the_code_is_consumed_not_echoed() {
        let feed = Feed::new();
        let mut w = Watch::new(feed, tuple(), Watched::Tcp, Some("cat".into()));
        w.receive(b"ca").expect("ok");
        assert!(w.plaintext().is_empty());
        w.receive(b"t\r\nhello\n").expect("ok");
        assert_eq!(w.plaintext(), b"hello\n");
        assert!(matches!(w.gate, Gate::Student(_)));
    }

    /// A wrong first line is echoed as usual, and not shown.
    #[test]
    fn a_stranger_is_served_not_shown() {
        let feed = Feed::new();
        let mut w = Watch::new(feed, tuple(), Watched::Tcp, Some("cat".into()));
        w.receive(b"dog\n").expect("ok");
        assert_eq!(w.plaintext(), b"dog\n");
        assert_eq!(w.gate, Gate::Stranger);
    }

    /// WebSocket: the code rides in the URL's query.
    #[test]
    fn the_ws_code_is_in_the_url() {
        assert!(carries_code("GET /?code=cat HTTP/1.1", "cat"));
        assert!(carries_code("GET /x?a=1&code=cat HTTP/1.1", "cat"));
        assert!(!carries_code("GET /?code=cats HTTP/1.1", "cat"));
        assert!(!carries_code("GET / HTTP/1.1", "cat"));
    }
}
