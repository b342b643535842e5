//! tungstenite, started at the first frame byte rather than at the Upgrade.
//!
//! tungstenite's framing state comes with a read buffer it allocates as it
//! starts (`read_buffer_size`: 2 KiB on the event loop). An upgraded
//! connection that never sends a byte — a dashboard tab, a chat member who
//! only listens, 10,000 of them in `socklab bench --idle` — would hold it for
//! nothing: on the event loop that buffer was about half of what an idle
//! connection cost. So [`Frames`] keeps just our in-memory [`Buffers`] until
//! a byte arrives (or a Close must be framed), and only then starts
//! tungstenite over them. Messages the program sends to a silent peer need no
//! tungstenite: they are framed into the output queue by [`crate::handler`]'s
//! `Outbox`, as always.
//!
//! The machine sees the same four calls either way (`get_ref`, `get_mut`,
//! `read`, `flush`, `close`): nothing else changes.

use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

use crate::Buffers;

/// The framing of one upgraded connection: our [`Buffers`], and tungstenite
/// over them once there is something to read or a Close to write.
pub(super) struct Frames {
    /// Until tungstenite starts: the buffers it will take (the output may
    /// already hold frames the program sent).
    waiting: Buffers,
    /// tungstenite over the buffers, once started.
    ws: Option<Box<WebSocket<Buffers>>>,
    /// Its configuration, kept until it starts.
    config: WebSocketConfig,
}

impl Frames {
    /// Framing for a connection just upgraded; nothing is allocated yet.
    pub(super) fn new(config: WebSocketConfig) -> Frames {
        Frames {
            waiting: Buffers::default(),
            ws: None,
            config,
        }
    }

    /// The buffers: bytes received not yet framed, frames for the peer.
    pub(super) fn get_ref(&self) -> &Buffers {
        match &self.ws {
            Some(ws) => ws.get_ref(),
            None => &self.waiting,
        }
    }

    /// The buffers, to add input or take output.
    pub(super) fn get_mut(&mut self) -> &mut Buffers {
        match &mut self.ws {
            Some(ws) => ws.get_mut(),
            None => &mut self.waiting,
        }
    }

    /// The next whole message, as tungstenite's `read`: WouldBlock while
    /// none is complete. tungstenite starts here, once input is waiting.
    pub(super) fn read(&mut self) -> tungstenite::Result<Message> {
        if self.ws.is_none() && self.waiting.input.is_empty() {
            return Err(tungstenite::Error::Io(
                std::io::ErrorKind::WouldBlock.into(),
            ));
        }
        self.started().read()
    }

    /// What tungstenite queued (a Pong, a Close reply) into our output;
    /// before it starts there is nothing.
    pub(super) fn flush(&mut self) -> tungstenite::Result<()> {
        match &mut self.ws {
            Some(ws) => ws.flush(),
            None => Ok(()),
        }
    }

    /// Queues a Close frame: tungstenite starts, since it must know the
    /// connection is closing (it then refuses to send anything more).
    pub(super) fn close(&mut self, frame: Option<CloseFrame>) -> tungstenite::Result<()> {
        self.started().close(frame)
    }

    // ANCHOR: started
    /// tungstenite over our buffers, started now if it was not.
    fn started(&mut self) -> &mut WebSocket<Buffers> {
        let (waiting, config) = (&mut self.waiting, self.config);
        self.ws.get_or_insert_with(|| {
            Box::new(WebSocket::from_raw_socket(
                std::mem::take(waiting),
                Role::Server,
                Some(config),
            ))
        })
    }
    // ANCHOR_END: started
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lesson 20's 10,000 idle connections: an upgraded connection that has
    /// sent nothing has no tungstenite (and no read buffer) yet, however often
    /// the machine looks for a message; its first frame starts it, and the
    /// frame is read whole.
    #[test]
    fn tungstenite_starts_at_the_first_byte() {
        let mut frames = Frames::new(WebSocketConfig::default());
        assert!(matches!(
            frames.read(),
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock
        ));
        assert!(frames.flush().is_ok());
        assert!(frames.ws.is_none(), "nothing started for a silent peer");
        // A masked text frame "hi" (FIN, opcode 1; mask key 0): as a client sends it.
        frames
            .get_mut()
            .input
            .extend([0x81, 0x82, 0, 0, 0, 0, b'h', b'i']);
        assert_eq!(frames.read().ok(), Some(Message::text("hi")));
        assert!(frames.ws.is_some(), "started by the first frame");
        assert!(frames.get_ref().input.is_empty());
    }
}
