//! An open connection's framing: tungstenite's `WebSocket` when nothing is
//! compressed (the common case), or [`Compressed`] when permessage-deflate was
//! agreed ([`Machine::agree_deflate`], at the Upgrade). The machine asks both
//! the same things through [`Conn`].

use log::info;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Error, Message};

use super::Machine;
use super::compressed::{Compressed, Fault};
use super::frames::Frames;
use crate::deflate::{self, CONTEXT_BYTES};
use crate::handler::{Handler, Outbox};
use crate::{Buffers, Upgrade};

impl<H: Handler> Machine<H> {
    // ANCHOR: agree_deflate
    /// permessage-deflate, if this server has `--deflate` and the client offers
    /// it (RFC 7692 §7.1) — and if the memory budget holds its two contexts:
    /// charged before they are allocated; past the budget the connection goes
    /// on uncompressed rather than fail.
    pub(super) fn agree_deflate(&mut self, up: &Upgrade) -> Option<deflate::Agreement> {
        let tuple = self.tuple;
        let ours = self.settings.deflate?;
        let offers = up.extensions.iter().map(String::as_str);
        let Some(agreement) = deflate::negotiate(offers, &ours) else {
            if !up.extensions.is_empty() {
                info!(
                    "[{tuple}] Sec-WebSocket-Extensions offered, none agreed: {}",
                    up.extensions.join(", ")
                );
            }
            return None;
        };
        if self.held.set(self.holding() + CONTEXT_BYTES).is_err() {
            info!(
                "[{tuple}] permessage-deflate offered, but the memory budget cannot hold its {CONTEXT_BYTES} bytes of contexts: uncompressed"
            );
            return None;
        }
        info!(
            "[{tuple}] Sec-WebSocket-Extensions: {} (offered: {})",
            agreement.response(),
            up.extensions.join(", ")
        );
        Some(agreement)
    }
    // ANCHOR_END: agree_deflate
}

/// Who frames an open connection.
pub(super) enum Conn {
    /// tungstenite, over our in-memory [`Buffers`] (started at the first
    /// byte from the peer: frames.rs).
    Plain(Frames),
    /// The compressed path (RFC 7692), over the same kind of buffers; boxed,
    /// so that a plain connection (most of them, and every idle one in
    /// lesson 20's 10,000) does not carry its size.
    Deflate(Box<Compressed>),
}

impl Conn {
    /// The connection's buffers: bytes received, bytes for the peer.
    pub(super) fn get_ref(&self) -> &Buffers {
        match self {
            Conn::Plain(ws) => ws.get_ref(),
            Conn::Deflate(c) => &c.buffers,
        }
    }

    /// The connection's buffers, to add input or take output.
    pub(super) fn get_mut(&mut self) -> &mut Buffers {
        match self {
            Conn::Plain(ws) => ws.get_mut(),
            Conn::Deflate(c) => &mut c.buffers,
        }
    }

    /// The next whole message (WouldBlock: no whole frame yet).
    pub(super) fn read(&mut self) -> Result<Message, Fault> {
        match self {
            Conn::Plain(ws) => ws.read().map_err(Fault::Ws),
            Conn::Deflate(c) => c.read(),
        }
    }

    /// Moves what tungstenite queued (a Pong, a Close reply) into the output;
    /// the compressed path writes its frames there at once.
    pub(super) fn flush(&mut self) -> Result<(), Error> {
        match self {
            Conn::Plain(ws) => ws.flush(),
            Conn::Deflate(_) => Ok(()),
        }
    }

    /// Queues our Close frame: into the output, never blocking, never refused.
    pub(super) fn close(&mut self, frame: Option<CloseFrame>) {
        match self {
            Conn::Plain(frames) => {
                let _ = frames.close(frame);
                let _ = frames.flush();
            }
            Conn::Deflate(c) => c.close(frame),
        }
    }

    /// Where a program's answers go: framed (and compressed, if agreed) into
    /// the output queue.
    pub(super) fn outbox(&mut self) -> Outbox<'_> {
        match self {
            Conn::Plain(ws) => Outbox {
                output: &mut ws.get_mut().output,
                compressor: None,
                sent: 0,
            },
            Conn::Deflate(c) => Outbox {
                output: &mut c.buffers.output,
                compressor: Some(&mut c.compressor),
                sent: 0,
            },
        }
    }

    /// What the connection holds besides its buffers: compression contexts.
    pub(super) fn extra_holding(&self) -> usize {
        match self {
            Conn::Plain(_) => 0,
            Conn::Deflate(c) => c.holding(),
        }
    }
}
