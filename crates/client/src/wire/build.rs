//! Frames built on purpose, not read: the bytes a lesson needs to send as they
//! are — no mask (`send --unmasked`), a mask known in advance (`send --seed`),
//! or any frame a reader asked for (the exercises) — made with tungstenite's
//! own `Frame`, so socklab never carries a second codec.

use std::io::Cursor;

use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tungstenite::protocol::frame::{Frame, FrameHeader, Utf8Bytes};

// ANCHOR: data_frame
/// The bytes of one data frame carrying `payload` whole (FIN set): text if
/// `text`, else binary, masked with `mask` if given. Built with tungstenite's
/// own `Frame`, so these are exactly the bytes tungstenite would write — except
/// that its client role always masks with a random key, and a lesson sometimes
/// needs no mask, or a key known in advance.
pub fn data_frame(payload: &[u8], text: bool, mask: Option<[u8; 4]>) -> Vec<u8> {
    let opcode = OpCode::Data(if text { Data::Text } else { Data::Binary });
    let mut frame = Frame::message(payload.to_vec(), opcode, true);
    frame.header_mut().mask = mask;
    let mut bytes = Vec::with_capacity(frame.len());
    // Writing into a Vec cannot fail.
    let _ = frame.format(&mut bytes);
    bytes
}
// ANCHOR_END: data_frame

/// The bytes of a close frame with status `code` and no reason, masked with
/// `mask` if given: what tungstenite's `close(Some(..))` writes, with a key
/// known in advance (`socklab send --seed`).
pub fn close_frame(code: u16, mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut frame = Frame::close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from_static(""),
    }));
    frame.header_mut().mask = mask;
    let mut bytes = Vec::with_capacity(frame.len());
    // Writing into a Vec cannot fail.
    let _ = frame.format(&mut bytes);
    bytes
}

/// How many bytes of `frame` are header (2 to 14), if it starts with a whole one.
pub fn header_len(frame: &[u8]) -> Option<usize> {
    let mut cursor = Cursor::new(frame);
    match FrameHeader::parse(&mut cursor) {
        Ok(Some(_)) => Some(cursor.position() as usize),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{hex, parse_frames};

    /// Lessons 9 and 10: the frame builder gives RFC 6455 §5.7's own examples —
    /// "Hello" unmasked, and masked with the key 37 fa 21 3d.
    #[test]
    fn data_frame_matches_the_rfc_examples() {
        assert_eq!(
            hex(&data_frame(b"Hello", true, None)),
            "81 05 48 65 6c 6c 6f"
        );
        let masked = data_frame(b"Hello", true, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(hex(&masked), "81 85 37 fa 21 3d 7f 9f 4d 51 58");
        assert_eq!(header_len(&masked), Some(6));
        // The 16-bit form: 256 bytes, unmasked (§5.7's binary example).
        assert_eq!(hex(&data_frame(&[0; 256], false, None)[..4]), "82 7e 01 00");
    }

    /// The seeded close: 1000 with no reason is 88 82, the key, then 03 e8
    /// masked; parsed back, it is the close code it was built with.
    #[test]
    fn close_frame_carries_its_code() {
        assert_eq!(hex(&close_frame(1000, None)), "88 02 03 e8");
        let masked = close_frame(1000, Some([1, 2, 3, 4]));
        assert_eq!(hex(&masked), "88 82 01 02 03 04 02 ea");
        assert_eq!(parse_frames(&masked).frames[0].close_code(), Some(1000));
    }
}
