//! The compressed path: a connection that agreed to permessage-deflate
//! (RFC 7692) has its messages assembled here, because tungstenite 0.30 refuses
//! RSV1 and offers no hook. Only what RSV1 changes is ours: frame headers are
//! read with tungstenite's public [`FrameHeader::parse`] and frames written
//! with its [`Frame::format`]; this file keeps the few rules a frame layer must
//! enforce (RFC 6455 §5) and the one RSV1 adds (RFC 7692 §6.1):
//!
//! | the peer sends                                        | it gets |
//! |-------------------------------------------------------|---------|
//! | RSV1 on the first frame of a Text or Binary message   | the message inflated |
//! | RSV1 on a control frame or a continuation frame       | 1002    |
//! | RSV2 or RSV3, an unmasked frame, a bad opcode or control frame | 1002 |
//! | compressed bytes that are not DEFLATE                 | 1007    |
//! | text (inflated or not) that is not UTF-8              | 1007    |
//! | a frame, a message or an inflated message over the limit | 1009 |
//!
//! A connection without the extension never comes here: tungstenite frames it,
//! and refuses RSV1 itself (1002).

use std::io::{self, Cursor};

use tungstenite::error::{CapacityError, Error, ProtocolError};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};
use tungstenite::protocol::frame::{Frame, FrameHeader};
use tungstenite::{Bytes, Message, Utf8Bytes};

use crate::Buffers;
use crate::deflate::{Agreement, CONTEXT_BYTES, Compressor, Decompressor, DeflateError, Side};

/// The most bytes a frame header takes: 2, an 8-byte length, a 4-byte mask.
const MAX_FRAME_HEADER: usize = 14;

/// The longest payload a control frame may carry (RFC 6455 §5.5).
const MAX_CONTROL_PAYLOAD: u64 = 125;

/// Why a compressed connection fails: a framing rule (tungstenite's own error,
/// so [`crate::close`] picks the code) or the compressed data itself.
pub(super) enum Fault {
    /// A framing or UTF-8 rule, or the peer went away: as tungstenite says it.
    Ws(Error),
    /// The compressed data: not DEFLATE (1007) or inflating past the limit (1009).
    Deflate(DeflateError),
}

impl From<Error> for Fault {
    fn from(e: Error) -> Fault {
        Fault::Ws(e)
    }
}

/// A data message still arriving in fragments.
struct Partial {
    opcode: Data,
    compressed: bool,
    payload: Vec<u8>,
}

/// One connection with permessage-deflate: its buffers, its two contexts, and
/// the message being assembled.
pub(super) struct Compressed {
    pub(super) buffers: Buffers,
    pub(super) compressor: Compressor,
    decompressor: Decompressor,
    partial: Option<Partial>,
    /// Largest message (and frame), compressed or inflated.
    max_size: usize,
    /// The peer's Close arrived and was answered: the next read says so.
    peer_closed: bool,
}

impl Compressed {
    /// The server's side of `agreement`, over `buffers`.
    pub(super) fn new(buffers: Buffers, agreement: &Agreement, max_size: usize) -> Compressed {
        Compressed {
            buffers,
            compressor: Compressor::new(agreement, Side::Server),
            decompressor: Decompressor::new(agreement, Side::Server),
            partial: None,
            max_size,
            peer_closed: false,
        }
    }

    /// What this connection holds beyond its buffers: the two contexts and the
    /// fragments of a message still arriving.
    pub(super) fn holding(&self) -> usize {
        CONTEXT_BYTES + self.partial.as_ref().map_or(0, |p| p.payload.capacity())
    }

    /// Queues a Close frame for the peer.
    pub(super) fn close(&mut self, frame: Option<CloseFrame>) {
        // Writing into a Vec cannot fail.
        let _ = Frame::close(frame).format(&mut self.buffers.output);
    }

    // ANCHOR: read
    /// The next whole message, as tungstenite's `read` gives it: a Ping is
    /// answered with a Pong and a Close with a Close before they are returned;
    /// WouldBlock means no whole frame yet; ConnectionClosed, the close
    /// handshake is done.
    pub(super) fn read(&mut self) -> Result<Message, Fault> {
        loop {
            if self.peer_closed {
                return Err(Error::ConnectionClosed.into());
            }
            let Some((header, payload)) = self.next_frame()? else {
                return Err(Error::Io(io::ErrorKind::WouldBlock.into()).into());
            };
            match header.opcode {
                OpCode::Control(control) => return Ok(self.control(control, payload)?),
                OpCode::Data(data) => {
                    if let Some(message) = self.data(data, &header, payload)? {
                        return Ok(message);
                    }
                }
            }
        }
    }
    // ANCHOR_END: read

    /// One whole frame taken from the input, unmasked, after every check its
    /// header allows — made before its payload is waited for, so a frame
    /// announcing too much is refused at once. `None`: not all of it is here.
    fn next_frame(&mut self) -> Result<Option<(FrameHeader, Vec<u8>)>, Error> {
        // The header is parsed from a copy of its first bytes: the input is a
        // ring buffer, and making all of it contiguous on every read would move
        // a big message's bytes again each time a piece of it arrived.
        let mut first = [0u8; MAX_FRAME_HEADER];
        let seen = self.buffers.input.len().min(MAX_FRAME_HEADER);
        for (slot, byte) in first.iter_mut().zip(self.buffers.input.iter()) {
            *slot = *byte;
        }
        let mut cursor = Cursor::new(&first[..seen]);
        let Some((header, length)) = FrameHeader::parse(&mut cursor)? else {
            return Ok(None);
        };
        let head_len = cursor.position() as usize;
        self.check(&header, length)?;
        // `check` bounded `length` by max_size, so it fits in usize.
        let length = length as usize;
        if self.buffers.input.len() < head_len + length {
            return Ok(None);
        }
        self.buffers.input.drain(..head_len);
        let mut payload: Vec<u8> = self.buffers.input.drain(..length).collect();
        if let Some(mask) = header.mask {
            // Unmasking (RFC 6455 §5.3): each byte XORed with the key, in turn.
            for (i, byte) in payload.iter_mut().enumerate() {
                *byte ^= mask[i % 4];
            }
        }
        Ok(Some((header, payload)))
    }

    /// The rules a frame header alone breaks (RFC 6455 §5.2–5.5, RFC 7692 §6.1).
    fn check(&self, header: &FrameHeader, length: u64) -> Result<(), Error> {
        let protocol = |e| Err(Error::Protocol(e));
        if header.mask.is_none() {
            return protocol(ProtocolError::UnmaskedFrameFromClient);
        }
        if header.rsv2 || header.rsv3 {
            return protocol(ProtocolError::NonZeroReservedBits);
        }
        match header.opcode {
            OpCode::Control(Control::Reserved(op)) => {
                return protocol(ProtocolError::UnknownControlFrameType(op));
            }
            OpCode::Control(_) if header.rsv1 => {
                return protocol(ProtocolError::NonZeroReservedBits);
            }
            OpCode::Control(_) if !header.is_final => {
                return protocol(ProtocolError::FragmentedControlFrame);
            }
            OpCode::Control(_) if length > MAX_CONTROL_PAYLOAD => {
                return protocol(ProtocolError::ControlFrameTooBig);
            }
            OpCode::Control(_) => return Ok(()),
            OpCode::Data(Data::Reserved(op)) => {
                return protocol(ProtocolError::UnknownDataFrameType(op));
            }
            // RSV1 means "compressed message": only its first frame says so.
            OpCode::Data(Data::Continue) if header.rsv1 => {
                return protocol(ProtocolError::NonZeroReservedBits);
            }
            OpCode::Data(Data::Continue) if self.partial.is_none() => {
                return protocol(ProtocolError::UnexpectedContinueFrame);
            }
            OpCode::Data(Data::Text | Data::Binary) if self.partial.is_some() => {
                return protocol(ProtocolError::ExpectedFragment(Data::Continue));
            }
            OpCode::Data(_) => {}
        }
        let so_far = self.partial.as_ref().map_or(0, |p| p.payload.len());
        let size = so_far.saturating_add(usize::try_from(length).unwrap_or(usize::MAX));
        if size > self.max_size {
            return Err(Error::Capacity(CapacityError::MessageTooLong {
                size,
                max_size: self.max_size,
            }));
        }
        Ok(())
    }

    /// A Ping (answered), a Pong, or the peer's Close (answered with its own
    /// code, or 1002 if that code may not be sent).
    fn control(&mut self, control: Control, payload: Vec<u8>) -> Result<Message, Error> {
        let payload = Bytes::from(payload);
        match control {
            Control::Ping => {
                let _ = Frame::pong(payload.clone()).format(&mut self.buffers.output);
                Ok(Message::Ping(payload))
            }
            Control::Pong => Ok(Message::Pong(payload)),
            Control::Close => {
                let frame = match payload.len() {
                    0 => None,
                    1 => return Err(Error::Protocol(ProtocolError::InvalidCloseSequence)),
                    _ => {
                        let code = CloseCode::from(u16::from_be_bytes([payload[0], payload[1]]));
                        let reason = Utf8Bytes::try_from(payload.slice(2..))?;
                        Some(CloseFrame { code, reason })
                    }
                };
                let reply = match &frame {
                    Some(f) if !f.code.is_allowed() => Some(CloseFrame {
                        code: CloseCode::Protocol,
                        reason: Utf8Bytes::from_static("Protocol violation"),
                    }),
                    other => other.clone(),
                };
                self.close(reply);
                self.peer_closed = true;
                Ok(Message::Close(frame))
            }
            Control::Reserved(op) => {
                Err(Error::Protocol(ProtocolError::UnknownControlFrameType(op)))
            }
        }
    }

    /// A data frame joins its message; the last one completes it (inflated if
    /// its first frame had RSV1).
    fn data(
        &mut self,
        data: Data,
        header: &FrameHeader,
        payload: Vec<u8>,
    ) -> Result<Option<Message>, Fault> {
        let partial = match (data, self.partial.take()) {
            (Data::Continue, Some(mut partial)) => {
                partial.payload.extend_from_slice(&payload);
                partial
            }
            (opcode, _) => Partial {
                opcode,
                compressed: header.rsv1,
                payload,
            },
        };
        if !header.is_final {
            self.partial = Some(partial);
            return Ok(None);
        }
        let payload = if partial.compressed {
            self.decompressor
                .decompress(&partial.payload, self.max_size)
                .map_err(Fault::Deflate)?
        } else {
            partial.payload
        };
        let payload = Bytes::from(payload);
        Ok(Some(match partial.opcode {
            Data::Text => Message::Text(Utf8Bytes::try_from(payload).map_err(Error::from)?),
            _ => Message::Binary(payload),
        }))
    }
}
