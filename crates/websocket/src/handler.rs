//! What a program says about its WebSocket: the [`Handler`] (what to do with
//! each data message) and the [`Settings`] (its limits, its page, its Origins).
//!
//! Everything else — the Upgrade, control frames, the close handshake and its
//! codes, the memory budget, the bounded output — is the connection machine's
//! ([`crate::machine`]), the same for every program. A program is small:
//!
//! | program | its handler does with a message                     |
//! |---------|------------------------------------------------------|
//! | ws-echo | sends it back ([`Outbox::send`])                     |
//! | chat    | keeps it as a line for the room                      |
//! | push    | keeps it as an event to publish                      |
//! | bridge  | keeps its bytes for the TCP target, and says when that queue is full ([`Handler::accepting`]) |
//!
//! and anything it sends at any other time (a push event, a chat line, bytes
//! from the bridge's target) goes through [`crate::Machine::send`], counted
//! against the same output bound and the same memory budget.

use std::time::Duration;

use tungstenite::Message;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::frame::coding::{Data as OpData, OpCode};

use crate::deflate::{self, Compressor};
use crate::origin::OriginPolicy;

/// How long a client has to send its whole HTTP request, by default.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// tungstenite's read buffer per connection by default (2 KiB, not its
/// 128 KiB: that would cost 1.3 GB at 10,000 idle connections). A big message
/// is still read, just in more `read()` calls.
pub const READ_BUFFER: usize = 2 * 1024;

/// What a program does with the messages its peer sends.
pub trait Handler {
    /// A whole data message (Text or Binary) arrived. Anything to answer goes
    /// into `out`, which frames it into the connection's bounded output.
    fn message(&mut self, message: Message, out: &mut Outbox<'_>);

    /// Whether the program can take another message now. While it says no, the
    /// machine reads no further (backpressure): the bridge says no while too
    /// much waits for its TCP target.
    fn accepting(&self) -> bool {
        true
    }

    /// Bytes the program holds for this connection (the bridge's queue for its
    /// target), counted with the machine's own against the memory budget.
    fn holding(&self) -> usize {
        0
    }
}

/// Where a handler's answers go: the connection's output queue, framed.
pub struct Outbox<'a> {
    pub(crate) output: &'a mut Vec<u8>,
    /// When permessage-deflate was agreed: every data message is compressed.
    pub(crate) compressor: Option<&'a mut Compressor>,
    pub(crate) sent: usize,
}

impl Outbox<'_> {
    /// Frames `message` (Text or Binary; others are the machine's business and
    /// ignored here) into the output queue, with tungstenite's own `Frame`:
    /// sending through tungstenite would first stage a copy in its write
    /// buffer, which keeps its size for good.
    ///
    /// With permessage-deflate every data message is compressed, however
    /// small (RFC 7692 lets a sender choose per message; one rule is simpler
    /// to read on the wire): the payload is raw DEFLATE and RSV1 is set.
    pub fn send(&mut self, message: Message) {
        let (payload, opcode) = match message {
            Message::Text(t) => (tungstenite::Bytes::from(t), OpData::Text),
            Message::Binary(b) => (b, OpData::Binary),
            _ => return,
        };
        let frame = match &mut self.compressor {
            Some(c) => {
                let mut frame = Frame::message(c.compress(&payload), OpCode::Data(opcode), true);
                frame.header_mut().rsv1 = true;
                frame
            }
            None => Frame::message(payload, OpCode::Data(opcode), true),
        };
        // Writing into a Vec cannot fail.
        let _ = frame.format(self.output);
        self.sent += 1;
    }
}

/// A program's WebSocket settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest message (and frame) accepted; larger ones are closed with 1009.
    pub max_message_size: usize,
    /// tungstenite's read buffer per connection ([`READ_BUFFER`]).
    pub read_buffer: usize,
    /// How long a client has to send its whole HTTP request (then 408).
    pub handshake_timeout: Duration,
    /// Whose pages may open a WebSocket ([`OriginPolicy`]).
    pub origins: OriginPolicy,
    /// The page a plain `GET /` gets, on a port that is all WebSocket.
    pub page: &'static str,
    /// The subprotocols this program speaks (`Sec-WebSocket-Protocol`): the
    /// first the client offers is named in the 101. None by default.
    pub protocols: &'static [&'static str],
    /// permessage-deflate (`--deflate`): `None` (the default) never agrees to
    /// it; `Some` agrees when the client offers it, with these wishes.
    pub deflate: Option<deflate::Config>,
}

impl Settings {
    /// Settings with the defaults: `max_message_size`, and `page` on `GET /`.
    pub fn new(max_message_size: usize, page: &'static str) -> Settings {
        Settings {
            max_message_size,
            read_buffer: READ_BUFFER,
            handshake_timeout: HANDSHAKE_TIMEOUT,
            origins: OriginPolicy::default(),
            page,
            protocols: &[],
            deflate: None,
        }
    }

    // ANCHOR: websocket_config
    /// The tungstenite settings these limits mean.
    pub fn websocket_config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            // A small eager read buffer: memory per idle connection stays small.
            .read_buffer_size(self.read_buffer)
            // Hand each frame to our output queue at once instead of gathering
            // 128 KiB first; the queue is bounded by the machine (QUEUE_LIMIT).
            .write_buffer_size(0)
            // A frame header announcing more than this is refused (1009) before
            // any of its payload is read or allocated.
            .max_frame_size(Some(self.max_message_size))
            // The same limit for a message assembled from fragments.
            .max_message_size(Some(self.max_message_size))
    }
    // ANCHOR_END: websocket_config
}
