//! permessage-deflate on the client's side (`socklab send --deflate`): the
//! offer a browser makes, and, when the server's 101 agrees, every message sent
//! compressed (RSV1 set) and every compressed message received inflated.
//!
//! tungstenite 0.30 refuses RSV1, so once compression is agreed the frames are
//! read here, straight from the Tap under tungstenite (which records them as
//! ever for the wire view), with tungstenite's public `FrameHeader::parse`; the
//! compressing and inflating is the one implementation the servers use
//! ([`websocket::deflate`]). Frames we send are formatted by tungstenite's
//! `Frame` and written past it, as `--seed`'s are.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Cursor, Read, Write};

use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::{Frame, FrameHeader};
use websocket::deflate::{Agreement, Compressor, Decompressor, Side};

use super::{Error, Incoming};

/// What `socklab send --deflate` offers: the browser's own offer.
pub use websocket::deflate::BROWSER_OFFER as OFFER;

/// The largest message the client inflates (a server's zip bomb stops here).
pub const MAX_MESSAGE: usize = 64 << 20;

/// The most bytes a frame header takes: 2, an 8-byte length, a 4-byte mask.
const MAX_FRAME_HEADER: usize = 14;

/// One connection's compression, when the server agreed to it.
pub struct Deflate {
    /// What the server's 101 agreed to.
    pub agreement: Agreement,
    compressor: Compressor,
    decompressor: Decompressor,
}

impl std::fmt::Debug for Deflate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The contexts are zlib's state: nothing to read in them.
        f.debug_struct("Deflate")
            .field("agreement", &self.agreement)
            .finish_non_exhaustive()
    }
}

impl Deflate {
    /// The client's side of `agreement`.
    pub fn new(agreement: Agreement) -> Deflate {
        Deflate {
            compressor: Compressor::new(&agreement, Side::Client),
            decompressor: Decompressor::new(&agreement, Side::Client),
            agreement,
        }
    }

    /// One data message as a frame: compressed, RSV1 set, masked with `mask`.
    pub fn frame(&mut self, message: &[u8], text: bool, mask: [u8; 4]) -> Vec<u8> {
        let opcode = OpCode::Data(if text { Data::Text } else { Data::Binary });
        let mut frame = Frame::message(self.compressor.compress(message), opcode, true);
        frame.header_mut().rsv1 = true;
        frame.header_mut().mask = Some(mask);
        let mut bytes = Vec::with_capacity(frame.len());
        // Writing into a Vec cannot fail.
        let _ = frame.format(&mut bytes);
        bytes
    }

    /// Reads one whole message (its frames, inflated if its first had RSV1)
    /// from `stream`; a Ping is answered with a Pong masked with `mask()`.
    pub fn receive(
        &mut self,
        stream: &mut (impl Read + Write),
        mut mask: impl FnMut() -> [u8; 4],
    ) -> Result<Incoming, Error> {
        let mut message: Option<(Data, bool, Vec<u8>)> = None;
        loop {
            let Some((header, payload)) = read_frame(stream)? else {
                return Ok(Incoming::End);
            };
            match header.opcode {
                OpCode::Control(Control::Ping) => {
                    let mut pong = Frame::pong(payload.clone());
                    pong.header_mut().mask = Some(mask());
                    let mut bytes = Vec::new();
                    let _ = pong.format(&mut bytes);
                    stream.write_all(&bytes)?;
                    return Ok(Incoming::Ping(payload));
                }
                OpCode::Control(Control::Pong) => return Ok(Incoming::Pong(payload)),
                OpCode::Control(Control::Close) => {
                    let code =
                        (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
                    return Ok(Incoming::Close(code));
                }
                OpCode::Control(_) | OpCode::Data(Data::Reserved(_)) => {
                    return Err(invalid("a reserved opcode"));
                }
                OpCode::Data(Data::Continue) => match &mut message {
                    Some((_, _, bytes)) => bytes.extend_from_slice(&payload),
                    None => return Err(invalid("a continuation with nothing to continue")),
                },
                OpCode::Data(data) => message = Some((data, header.rsv1, payload)),
            }
            if !header.is_final {
                continue;
            }
            let Some((_, compressed, bytes)) = message.take() else {
                continue;
            };
            let bytes = if compressed {
                self.decompressor
                    .decompress(&bytes, MAX_MESSAGE)
                    .map_err(|e| invalid(&e.to_string()))?
            } else {
                bytes
            };
            return Ok(Incoming::Data(bytes));
        }
    }
}

/// One frame from the stream: its header and unmasked payload; `None` at EOF
/// before its first byte.
fn read_frame(stream: &mut impl Read) -> Result<Option<(FrameHeader, Vec<u8>)>, Error> {
    let mut head = [0u8; MAX_FRAME_HEADER];
    match stream.read_exact(&mut head[..2]) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    // The rest of the header: the extended length and the mask, if any.
    let extra = match head[1] & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    } + if head[1] & 0x80 != 0 { 4 } else { 0 };
    stream.read_exact(&mut head[2..2 + extra])?;
    let mut cursor = Cursor::new(&head[..2 + extra]);
    let Some((header, length)) = FrameHeader::parse(&mut cursor)? else {
        return Err(invalid("a cut frame header"));
    };
    let length = usize::try_from(length)
        .ok()
        .filter(|n| *n <= MAX_MESSAGE)
        .ok_or_else(|| invalid("a frame over the client's limit"))?;
    let mut payload = vec![0u8; length];
    stream.read_exact(&mut payload)?;
    if let Some(mask) = header.mask {
        for (i, byte) in payload.iter_mut().enumerate() {
            *byte ^= mask[i % 4];
        }
    }
    Ok(Some((header, payload)))
}

/// A masking key nobody can predict (RFC 6455 §5.3), from the standard
/// library's per-process random hash keys.
pub fn random_mask() -> [u8; 4] {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u8(0);
    let bits = hasher.finish().to_le_bytes();
    [bits[0], bits[1], bits[2], bits[3]]
}

/// The server broke the protocol or sent data that does not inflate.
fn invalid(what: &str) -> Error {
    Error::Io(io::Error::new(
        io::ErrorKind::InvalidData,
        format!("permessage-deflate: {what}"),
    ))
}
