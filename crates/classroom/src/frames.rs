//! Reading WebSocket frame headers out of a byte stream as it passes, one
//! direction at a time: the HTTP head first, then frame after frame.
//!
//! The students' WebSocket server runs the one connection machine
//! (crates/websocket) untouched; the classroom only *watches* its bytes, the
//! way Wireshark would. Headers are parsed by tungstenite's own
//! [`FrameHeader::parse`] (not a second codec); payloads are skipped by their
//! length, except a Close frame's first two bytes: its status code. Pure: bytes
//! in, frames out, no socket — so it is tested without one.

use std::io::Cursor;

use tungstenite::protocol::frame::FrameHeader;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};

use crate::event::{Dir, FrameSeen};

/// The longest frame header: 2 bytes, 8 of extended length, 4 of mask.
const MAX_FRAME_HEADER: usize = 14;

/// Where the scanner is in its direction's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Inside the HTTP head; `tail` holds its last bytes, to find the blank line.
    Head { tail: [u8; 4], first: Vec<u8> },
    /// Between frames: a header's first bytes, kept until it is whole.
    Header(Vec<u8>),
    /// Inside a payload: bytes left, and (for a Close frame) its code's bytes.
    Payload { left: u64, close: Option<CloseCode> },
    /// Not a WebSocket (a page, a refused Upgrade) or bytes we cannot read:
    /// nothing more is reported.
    Lost,
}

/// A Close frame's status code, read as its payload passes (unmasked).
#[derive(Debug, Clone, PartialEq, Eq)]
struct CloseCode {
    frame: FrameSeen,
    mask: Option<[u8; 4]>,
    bytes: Vec<u8>,
}

/// The frames of one direction of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanner {
    dir: Dir,
    phase: Phase,
}

/// What the HTTP head of the server's side said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadSeen {
    /// Still in the head.
    Reading,
    /// `101 Switching Protocols`: frames from here on.
    Upgraded,
    /// Any other answer: plain HTTP.
    Refused,
}

impl Scanner {
    /// A scanner for `dir`, starting in the HTTP head.
    pub fn new(dir: Dir) -> Scanner {
        Scanner {
            dir,
            phase: Phase::Head {
                tail: [0; 4],
                first: Vec::new(),
            },
        }
    }

    /// Stops reporting (the server did not upgrade).
    pub fn give_up(&mut self) {
        self.phase = Phase::Lost;
    }

    /// Whether the head is over, and how it ended (only meaningful on the
    /// server's side, whose first line is the status line).
    pub fn head(&self) -> HeadSeen {
        match &self.phase {
            Phase::Head { .. } => HeadSeen::Reading,
            Phase::Lost => HeadSeen::Refused,
            _ => HeadSeen::Upgraded,
        }
    }

    /// Reads `bytes` (the next ones in this direction) and pushes every frame
    /// header completed by them onto `frames`.
    pub fn scan(&mut self, mut bytes: &[u8], frames: &mut Vec<FrameSeen>) {
        while !bytes.is_empty() {
            match &mut self.phase {
                Phase::Lost => return,
                Phase::Head { tail, first } => {
                    let (byte, rest) = (bytes[0], &bytes[1..]);
                    bytes = rest;
                    if first.len() < 16 {
                        first.push(byte); // enough to read "HTTP/1.1 101"
                    }
                    tail.rotate_left(1);
                    tail[3] = byte;
                    if tail == b"\r\n\r\n" {
                        let upgraded = self.dir == Dir::In || first.starts_with(b"HTTP/1.1 101");
                        self.phase = if upgraded {
                            Phase::Header(Vec::new())
                        } else {
                            Phase::Lost
                        };
                    }
                }
                Phase::Header(head) => {
                    let take = (MAX_FRAME_HEADER - head.len()).min(bytes.len());
                    let before = head.len();
                    head.extend_from_slice(&bytes[..take]);
                    let mut cursor = Cursor::new(&head[..]);
                    match FrameHeader::parse(&mut cursor) {
                        Ok(Some((header, len))) => {
                            let used = cursor.position() as usize - before;
                            bytes = &bytes[used..];
                            let frame = FrameSeen {
                                dir: self.dir,
                                opcode: opcode_name(header.opcode),
                                masked: header.mask.is_some(),
                                len,
                                code: None,
                            };
                            let is_close = header.opcode == OpCode::Control(Control::Close);
                            if is_close && len >= 2 {
                                let close = CloseCode {
                                    frame,
                                    mask: header.mask,
                                    bytes: Vec::new(),
                                };
                                self.phase = Phase::Payload {
                                    left: len,
                                    close: Some(close),
                                };
                            } else {
                                frames.push(frame);
                                self.phase = Phase::Payload {
                                    left: len,
                                    close: None,
                                };
                            }
                        }
                        Ok(None) if head.len() < MAX_FRAME_HEADER => bytes = &bytes[take..],
                        _ => self.phase = Phase::Lost,
                    }
                }
                Phase::Payload { left, close } => {
                    let take = (*left).min(bytes.len() as u64) as usize;
                    if let Some(c) = close {
                        let want = 2 - c.bytes.len().min(2);
                        for b in &bytes[..take.min(want)] {
                            let key = c.mask.map_or(0, |m| m[c.bytes.len() % 4]);
                            c.bytes.push(b ^ key);
                        }
                        if c.bytes.len() == 2 {
                            let mut frame = c.frame.clone();
                            frame.code = Some(u16::from_be_bytes([c.bytes[0], c.bytes[1]]));
                            frames.push(frame);
                            *close = None;
                        }
                    }
                    *left -= take as u64;
                    bytes = &bytes[take..];
                    if *left == 0 {
                        self.phase = Phase::Header(Vec::new());
                    }
                }
            }
        }
        // A zero-length payload ends at once.
        if let Phase::Payload { left: 0, .. } = self.phase {
            self.phase = Phase::Header(Vec::new());
        }
    }
}

/// RFC 6455 §5.2's names for the opcodes.
fn opcode_name(op: OpCode) -> &'static str {
    match op {
        OpCode::Data(Data::Text) => "text",
        OpCode::Data(Data::Binary) => "binary",
        OpCode::Data(Data::Continue) => "continue",
        OpCode::Data(Data::Reserved(_)) => "reserved",
        OpCode::Control(Control::Close) => "close",
        OpCode::Control(Control::Ping) => "ping",
        OpCode::Control(Control::Pong) => "pong",
        OpCode::Control(Control::Reserved(_)) => "reserved",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    /// "Hi" from a client, masked with key 1 2 3 4 (RFC 6455 §5.7's shape).
    const MASKED_HI: &[u8] = &[0x81, 0x82, 1, 2, 3, 4, b'H' ^ 1, b'i' ^ 2];
    /// Close 1000 (0x03 0xe8) from a client, masked with key 1 2 3 4.
    const MASKED_CLOSE: &[u8] = &[0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2];

    /// A client's frames after its request: opcode, mask and length, and the
    /// Close frame's code, even when every byte arrives alone.
    #[test]
    fn reads_frames_byte_by_byte() {
        let wire = [REQUEST, MASKED_HI, MASKED_CLOSE].concat();
        for chunk in [1, 3, wire.len()] {
            let (mut s, mut frames) = (Scanner::new(Dir::In), Vec::new());
            for part in wire.chunks(chunk) {
                s.scan(part, &mut frames);
            }
            assert_eq!(frames.len(), 2, "chunks of {chunk}");
            assert_eq!(
                (frames[0].opcode, frames[0].masked, frames[0].len),
                ("text", true, 2)
            );
            assert_eq!((frames[1].opcode, frames[1].code), ("close", Some(1000)));
        }
    }

    /// A server's answer that is not 101 (the page): no frames are invented.
    #[test]
    fn a_page_is_not_frames() {
        let (mut s, mut frames) = (Scanner::new(Dir::Out), Vec::new());
        s.scan(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n\x81\x00",
            &mut frames,
        );
        assert!(frames.is_empty());
        assert_eq!(s.head(), HeadSeen::Refused);
    }

    /// The server's unmasked echo after its 101.
    #[test]
    fn reads_the_servers_frames_after_101() {
        let (mut s, mut frames) = (Scanner::new(Dir::Out), Vec::new());
        s.scan(
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x02Hi",
            &mut frames,
        );
        assert_eq!(frames.len(), 1);
        assert!(!frames[0].masked);
        assert_eq!(s.head(), HeadSeen::Upgraded);
    }
}
