//! permessage-deflate on the client (RFC 7692): what `socklab send --deflate`
//! offers in its Upgrade, what it makes of the server's answer, and how it
//! sends and reads compressed messages.
//!
//! tungstenite 0.30 has no compression and refuses any frame with RSV1 set,
//! with no hook. So once compression is agreed, the client's messages are
//! framed here over tungstenite's public `Frame`/`FrameHeader` (the same codec,
//! one bit different: RSV1 on a message's first frame), and the server's are
//! read here too: each header by `FrameHeader::parse`, the payload inflated by
//! `websocket::deflate`'s `Decompressor`, which keeps the server's LZ77 window
//! from one message to the next unless the server gave up context takeover.
//!
//! tungstenite still does the Upgrade (it checks the Accept); the bytes it may
//! have read past the 101 are taken back from the Tap's records, so no frame
//! is lost between its reader and this one.
//!
//! Try: `socklab send ws://127.0.0.1:8080/ hello hello --deflate --wire`
//! against `socklab serve ws --deflate`: the second "hello" is 3 bytes.

use std::hash::{BuildHasher, Hasher};
use std::io::{Cursor, Read, Write};

use lifecycle::Tap;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::{Frame, FrameHeader};
use websocket::deflate::{Agreement, Compressor, Decompressor, MIN_OUR_WINDOW_BITS, Side};

use super::{Error, Incoming, Pipe, READ_BUFFER};
use crate::seeded::Seeded;

/// The largest message the client inflates: tungstenite's own default limit
/// (64 MiB), so compression changes nothing about what the client accepts. A
/// message that inflates past it is a zip bomb, refused before it is allocated.
pub const MESSAGE_LIMIT: usize = 64 << 20;

/// The browser's own offer, the one `--deflate` makes by default.
pub const OFFER: &str = websocket::deflate::BROWSER_OFFER;

/// What `--deflate` offers. The default is the browser's own offer
/// (`permessage-deflate; client_max_window_bits`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeflateOffer {
    /// Ask the server to start each of its messages with an empty window
    /// (`server_no_context_takeover`): less memory on the server, more bytes.
    pub server_no_context_takeover: bool,
    /// Promise to start each of ours with an empty window
    /// (`client_no_context_takeover`).
    pub client_no_context_takeover: bool,
}

impl DeflateOffer {
    /// The value of the request's `Sec-WebSocket-Extensions` header.
    pub fn header(&self) -> String {
        let mut offer = String::from(websocket::deflate::BROWSER_OFFER);
        if self.server_no_context_takeover {
            offer.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            offer.push_str("; client_no_context_takeover");
        }
        offer
    }

    /// The offer a caller wrote itself as a `Sec-WebSocket-Extensions`
    /// request header (`header`), read back: its no-context-takeover flags.
    pub fn from_header(header: &str) -> DeflateOffer {
        DeflateOffer {
            server_no_context_takeover: header.contains("server_no_context_takeover"),
            client_no_context_takeover: header.contains("client_no_context_takeover"),
        }
    }

    /// What the server's `Sec-WebSocket-Extensions` answer (`None`: it named
    /// no extension, so it declined) agreed to, checked against this offer:
    /// an extension we did not offer, a bad parameter, or a promise we asked
    /// for and the server left out is an error (RFC 6455 §4.1 and RFC 7692
    /// §7.1: the client must fail the connection).
    pub fn agreed(&self, answer: Option<&str>) -> Result<Option<Agreement>, Error> {
        let Some(answer) = answer else {
            return Ok(None);
        };
        let bad = |why: &str| Error::Extension(format!("{answer:?}: {why}"));
        let mut agreement = Agreement::from_response(answer).map_err(|e| bad(&e.to_string()))?;
        if self.server_no_context_takeover && !agreement.server_no_context_takeover {
            return Err(bad(
                "we offered server_no_context_takeover and the server did not agree to it",
            ));
        }
        if agreement.client_max_window_bits < MIN_OUR_WINDOW_BITS {
            return Err(bad(
                "client_max_window_bits=8: zlib has no 256-byte raw window, so we cannot keep it",
            ));
        }
        // Offered: we keep our promise whether or not the server said it back.
        agreement.client_no_context_takeover |= self.client_no_context_takeover;
        Ok(Some(agreement))
    }
}

/// An answer naming an extension, for a client that offered none: it must
/// fail the connection (RFC 6455 §4.1).
pub fn unoffered(answer: &str) -> Error {
    Error::Extension(format!(
        "the server answered Sec-WebSocket-Extensions: {answer} but we offered no extension"
    ))
}

impl super::Transport {
    /// What permessage-deflate agreement the Upgrade reached: `None` when we
    /// offered none or the server declined (then nothing is compressed).
    pub fn deflate(&self) -> Option<&Agreement> {
        self.deflate.as_deref().map(Deflate::agreement)
    }

    /// Takes every later mask key (frames and the close frame) from `seeded`
    /// (`send --seed` with `--deflate`, whose frames the transport builds).
    pub fn seed_masks(&mut self, seeded: Seeded) {
        self.seeded = Some(seeded);
    }
}

/// One connection's compression: its agreement, both contexts, and the
/// server's bytes read but not yet a whole frame.
pub struct Deflate {
    agreement: Agreement,
    compressor: Compressor,
    decompressor: Decompressor,
    /// The server's bytes not yet taken as frames (at first: whatever came
    /// after the 101 in tungstenite's reads).
    inbox: Vec<u8>,
    /// A data message arriving in several frames: whether it is compressed,
    /// and its payload so far.
    partial: Option<(bool, Vec<u8>)>,
}

impl std::fmt::Debug for Deflate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflate")
            .field("agreement", &self.agreement)
            .field("inbox", &self.inbox.len())
            .finish_non_exhaustive()
    }
}

impl Deflate {
    /// Compression under `agreement`; `after_101` is what the server sent past
    /// its response head before we started reading.
    pub fn new(agreement: Agreement, after_101: Vec<u8>) -> Deflate {
        Deflate {
            compressor: Compressor::new(&agreement, Side::Client),
            decompressor: Decompressor::new(&agreement, Side::Client),
            agreement,
            inbox: after_101,
            partial: None,
        }
    }

    /// What was agreed.
    pub fn agreement(&self) -> &Agreement {
        &self.agreement
    }

    // ANCHOR: compressed_frame
    /// One message as a compressed frame: the payload deflated, RSV1 set,
    /// masked with `mask`, built with tungstenite's own `Frame`.
    pub fn frame(&mut self, message: &[u8], text: bool, mask: [u8; 4]) -> Vec<u8> {
        let payload = self.compressor.compress(message);
        let opcode = OpCode::Data(if text { Data::Text } else { Data::Binary });
        let mut frame = Frame::message(payload, opcode, true);
        frame.header_mut().rsv1 = true;
        frame.header_mut().mask = Some(mask);
        let mut bytes = Vec::with_capacity(frame.len());
        // Writing into a Vec cannot fail.
        let _ = frame.format(&mut bytes);
        bytes
    }
    // ANCHOR_END: compressed_frame

    /// Reads the next message or control frame from `tap`: a compressed
    /// message comes back inflated; a ping is answered with a pong masked
    /// with `mask()`'s next key.
    pub fn receive(
        &mut self,
        tap: &mut Tap<Pipe>,
        mut mask: impl FnMut() -> [u8; 4],
    ) -> Result<Incoming, Error> {
        loop {
            let Some((header, payload)) = self.next_frame(tap)? else {
                return Ok(Incoming::End);
            };
            if header.rsv2 || header.rsv3 || header.mask.is_some() {
                return Err(protocol("RSV2/RSV3 or a mask on a server's frame"));
            }
            match header.opcode {
                OpCode::Control(control) => {
                    if header.rsv1 {
                        return Err(protocol("RSV1 on a control frame"));
                    }
                    match control {
                        Control::Ping => {
                            let mut pong = Frame::pong(payload.clone());
                            pong.header_mut().mask = Some(mask());
                            let mut bytes = Vec::new();
                            let _ = pong.format(&mut bytes);
                            tap.write_all(&bytes)?;
                            tap.flush()?;
                            return Ok(Incoming::Ping(payload));
                        }
                        Control::Pong => return Ok(Incoming::Pong(payload)),
                        Control::Close => {
                            let code = (payload.len() >= 2)
                                .then(|| u16::from_be_bytes([payload[0], payload[1]]));
                            return Ok(Incoming::Close(code));
                        }
                        Control::Reserved(_) => return Err(protocol("a reserved opcode")),
                    }
                }
                OpCode::Data(Data::Continue) => {
                    if header.rsv1 {
                        return Err(protocol("RSV1 on a continuation frame"));
                    }
                    let Some((_, so_far)) = self.partial.as_mut() else {
                        return Err(protocol("a continuation frame with no message"));
                    };
                    so_far.extend_from_slice(&payload);
                }
                OpCode::Data(Data::Text | Data::Binary) => {
                    if self.partial.is_some() {
                        return Err(protocol("a new message inside a fragmented one"));
                    }
                    self.partial = Some((header.rsv1, payload));
                }
                OpCode::Data(Data::Reserved(_)) => return Err(protocol("a reserved opcode")),
            }
            if !header.is_final {
                continue;
            }
            if let Some((compressed, payload)) = self.partial.take() {
                if !compressed {
                    return Ok(Incoming::Data(payload));
                }
                return self
                    .decompressor
                    .decompress(&payload, MESSAGE_LIMIT)
                    .map(Incoming::Data)
                    .map_err(|e| Error::Extension(e.to_string()));
            }
        }
    }

    /// The next whole frame from the inbox, reading from `tap` as needed;
    /// `None` when the server ended the stream.
    fn next_frame(&mut self, tap: &mut Tap<Pipe>) -> Result<Option<(FrameHeader, Vec<u8>)>, Error> {
        let mut buf = vec![0u8; READ_BUFFER];
        loop {
            let mut cursor = Cursor::new(&self.inbox[..]);
            if let Some((header, len)) = FrameHeader::parse(&mut cursor)? {
                let start = cursor.position() as usize;
                let end = usize::try_from(len)
                    .ok()
                    .and_then(|n| start.checked_add(n))
                    .filter(|&end| end <= MESSAGE_LIMIT + start)
                    .ok_or_else(|| protocol("a frame longer than the message limit"))?;
                if end <= self.inbox.len() {
                    let payload = self.inbox[start..end].to_vec();
                    self.inbox.drain(..end);
                    return Ok(Some((header, payload)));
                }
            }
            match tap.read(&mut buf)? {
                0 => return Ok(None),
                n => self.inbox.extend_from_slice(&buf[..n]),
            }
        }
    }
}

/// A frame the server should not have sent.
fn protocol(what: &str) -> Error {
    Error::Extension(format!("protocol error from the server: {what}"))
}

/// A masking key nobody can predict (RFC 6455 §5.3), for a compressed frame
/// written past tungstenite, whose own generator is private: std's
/// `RandomState` keys SipHash from the operating system's randomness.
pub fn random_mask() -> [u8; 4] {
    let [a, b, c, d, ..] = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        .to_be_bytes();
    [a, b, c, d]
}

/// The next mask: from the seed under `--seed`, else at random.
pub fn next_mask(seeded: &mut Option<Seeded>) -> [u8; 4] {
    seeded.as_mut().map_or_else(random_mask, Seeded::mask)
}
