//! Which close code a broken WebSocket gets: a tungstenite error in, a close frame out.
//! No I/O here; [`ending`] also logs what kind of end it was.
//!
//! When a peer breaks the protocol, RFC 6455 §7.1.7 says to _Fail the WebSocket
//! Connection_: send a Close frame whose code says why (§7.4.1), then close TCP.
//! tungstenite detects the violation and returns an error, but it does not send
//! that Close frame: the server must. This module decides which code:
//!
//! | code | name (§7.4.1)   | sent when the peer …                                       |
//! |------|-----------------|------------------------------------------------------------|
//! | 1002 | protocol error  | sent an unmasked frame, set RSV bits, used a reserved opcode, fragmented a control frame or made it over 125 bytes, sent a continuation with nothing to continue, or a bad close frame |
//! | 1007 | invalid payload | sent text (or a close reason) that is not valid UTF-8      |
//! | 1009 | message too big | announced a frame or message over `--max-message-size`     |
//!
//! Anything else (the peer went away, a timeout, a normal close) gets no Close
//! frame from here: either the socket is gone or the close handshake already ran.
//! Both the thread-per-connection server and an event-loop server call
//! [`close_frame_for`] the same way: on an error from `read()`, send what it
//! returns (if anything), then close TCP.

use lifecycle::FourTuple;
use lifecycle::tcp::is_disconnect;
use log::{info, warn};
use tungstenite::error::{CapacityError, Error, ProtocolError};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;

/// The longest close reason allowed: a control frame carries at most 125 bytes,
/// two of which are the code.
pub const MAX_REASON: usize = 123;

// ANCHOR: close_code_for
/// The close code that tells the peer why its input was refused, or `None` if
/// this error is not the peer breaking the protocol.
pub fn close_code_for(err: &Error) -> Option<CloseCode> {
    match err {
        // The peer's bytes broke a framing rule (§5.2, §5.4, §5.5).
        Error::Protocol(p) => match p {
            // The peer vanished mid-conversation: nobody left to tell.
            ProtocolError::ResetWithoutClosingHandshake => None,
            // Everything else the peer sent is malformed: 1002.
            _ => Some(CloseCode::Protocol),
        },
        // Text that is not UTF-8 (§8.1): 1007, "invalid frame payload data".
        Error::Utf8(_) => Some(CloseCode::Invalid),
        // A frame or message over our limit: 1009, "message too big".
        Error::Capacity(CapacityError::MessageTooLong { .. }) => Some(CloseCode::Size),
        Error::Capacity(CapacityError::TooManyHeaders) => Some(CloseCode::Protocol),
        // Normal end, the socket failing (reset, timeout), our own misuse: no frame.
        _ => None,
    }
}
// ANCHOR_END: close_code_for

/// The Close frame to send for `err`: [`close_code_for`]'s code and tungstenite's
/// description of the fault as the reason (cut to [`MAX_REASON`] bytes on a
/// character boundary).
pub fn close_frame_for(err: &Error) -> Option<CloseFrame> {
    let code = close_code_for(err)?;
    let mut reason = err.to_string();
    if let Some(detail) = reason.strip_prefix("WebSocket protocol error: ") {
        reason = detail.to_string();
    }
    let mut end = reason.len().min(MAX_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason.truncate(end);
    Some(CloseFrame {
        code,
        reason: reason.into(),
    })
}

/// How a WebSocket that ended with `err` is logged and answered, the same in the
/// thread and event-loop servers: a normal end or a vanished peer is logged as
/// what it is and gets no Close frame; a broken peer gets [`close_frame_for`]'s.
/// (A timeout is each server's own business and is handled before this.)
pub fn ending(tuple: FourTuple, err: &Error) -> Option<CloseFrame> {
    match err {
        Error::ConnectionClosed | Error::AlreadyClosed => {
            info!("[{tuple}] close handshake done");
            None
        }
        Error::Io(io) if is_disconnect(io) => {
            info!("[{tuple}] the peer went away: {io}");
            None
        }
        Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            info!("[{tuple}] the peer closed TCP without a close frame");
            None
        }
        _ => {
            let frame = close_frame_for(err);
            match &frame {
                Some(f) => warn!("[{tuple}] {err}: closing with {}", u16::from(f.code)),
                None => warn!("[{tuple}] websocket failed: {err}"),
            }
            frame
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    /// Lesson 10: an unmasked client frame is a protocol error, 1002.
    #[test]
    fn protocol_violations_are_1002() {
        for p in [
            ProtocolError::UnmaskedFrameFromClient,
            ProtocolError::NonZeroReservedBits,
            ProtocolError::UnknownDataFrameType(3),
            ProtocolError::UnknownControlFrameType(11),
            ProtocolError::ControlFrameTooBig,
            ProtocolError::FragmentedControlFrame,
            ProtocolError::UnexpectedContinueFrame,
            ProtocolError::InvalidCloseSequence,
        ] {
            assert_eq!(
                u16::from(close_code_for(&Error::Protocol(p)).unwrap()),
                1002
            );
        }
    }

    /// Invalid UTF-8 is 1007; an oversized message is 1009.
    #[test]
    fn utf8_and_size() {
        assert_eq!(
            close_code_for(&Error::Utf8("bad".into())),
            Some(CloseCode::Invalid)
        );
        let big = Error::Capacity(CapacityError::MessageTooLong {
            size: 1 << 40,
            max_size: 16,
        });
        assert_eq!(close_code_for(&big), Some(CloseCode::Size));
    }

    /// A normal end or a vanished peer gets no close frame.
    #[test]
    fn normal_ends_get_nothing() {
        assert_eq!(close_code_for(&Error::ConnectionClosed), None);
        assert_eq!(close_code_for(&Error::AlreadyClosed), None);
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(close_code_for(&Error::Io(reset)), None);
        let gone = Error::Protocol(ProtocolError::ResetWithoutClosingHandshake);
        assert_eq!(close_code_for(&gone), None);
    }

    /// The reason fits in a control frame, cut on a character boundary.
    #[test]
    fn reason_fits_a_control_frame() {
        let long = Error::Utf8("é".repeat(200));
        let frame = close_frame_for(&long).unwrap();
        assert!(frame.reason.len() <= MAX_REASON);
        let frame =
            close_frame_for(&Error::Protocol(ProtocolError::UnmaskedFrameFromClient)).unwrap();
        assert_eq!(
            frame.reason.as_str(),
            "Received an unmasked frame from client"
        );
    }
}
