//! The wire view of a compressed conversation (permessage-deflate, RFC 7692):
//! when the 101 agreed to the extension, each message whose first frame has
//! RSV1 is inflated, so the view shows its compressed length beside the
//! inflated one, and the text.
//!
//! With context takeover a message may point back into the ones before it, so
//! inflating needs the conversation from its start, each direction with its own
//! decompressor, in order — which is how the Tap recorded it. Inflating is the
//! one implementation the servers use ([`websocket::deflate`]).

use tungstenite::protocol::frame::coding::{Data, OpCode};
use websocket::deflate::{Agreement, Decompressor, Side};

use super::conversation::WsConversation;
use super::frame::Frames;

/// The most a message is inflated to in the view.
const MAX_INFLATED: usize = 64 << 20;

/// Inflates every compressed message of `conversation`, if its handshake
/// agreed to permessage-deflate: the inflated bytes go on the message's last
/// frame ([`super::FrameView::inflated`]).
pub fn inflate_conversation(conversation: &mut WsConversation) {
    let Some(handshake) = &conversation.handshake else {
        return;
    };
    let Some(agreement) = handshake
        .response
        .headers
        .get("sec-websocket-extensions")
        .and_then(|answer| Agreement::from_response(answer).ok())
    else {
        return;
    };
    // The server inflates what the client sent, and the client the reverse.
    inflate_frames(&mut conversation.client, &agreement, Side::Server);
    inflate_frames(&mut conversation.server, &agreement, Side::Client);
}

/// One direction's frames, in order, through one decompressor.
fn inflate_frames(frames: &mut Frames, agreement: &Agreement, reader: Side) {
    let mut decompressor = Decompressor::new(agreement, reader);
    // The message being gathered: whether it is compressed, and its payload.
    let mut message: Option<(bool, Vec<u8>)> = None;
    for frame in &mut frames.frames {
        match frame.opcode {
            OpCode::Data(Data::Continue) => {
                if let Some((_, payload)) = &mut message {
                    payload.extend_from_slice(&frame.payload);
                }
            }
            OpCode::Data(_) => message = Some((frame.rsv[0], frame.payload.clone())),
            // Control frames are never compressed, and may come between fragments.
            OpCode::Control(_) => continue,
        }
        if !frame.fin {
            continue;
        }
        if let Some((true, payload)) = message.take() {
            frame.inflated = decompressor.decompress(&payload, MAX_INFLATED).ok();
        }
    }
}
