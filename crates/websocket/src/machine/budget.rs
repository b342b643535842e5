//! What a connection holds, charged to the server's memory budget *before* it
//! is allocated: bytes read before tungstenite takes them in, an answer before
//! it is framed. Past the budget: 1013 Try Again Later, for that connection
//! only; what it still has queued for its peer stays counted until written.

use log::warn;
use tungstenite::protocol::frame::coding::CloseCode;

use super::{Machine, Phase};
use crate::handler::Handler;

/// The most a frame header takes (2 bytes, an 8-byte length, a 4-byte mask):
/// a message's answer is charged as its payload plus this.
const MAX_FRAME_HEADER: usize = 14;

impl<H: Handler> Machine<H> {
    // ANCHOR: account
    /// Tells the memory budget what this connection holds now: the message
    /// still arriving, and everything queued for the peer. Past the budget, the
    /// connection is closed with 1013 Try Again Later — its bytes are let go, the
    /// others keep theirs.
    pub(super) fn account(&mut self) {
        self.peak_output = self.peak_output.max(self.output().len());
        self.charge(0);
    }

    /// Charges what this connection holds plus `more` bytes about to be
    /// allocated (an answer not framed yet), *before* they are: false when that
    /// would pass the budget, and then the connection is closed with 1013 and
    /// the bytes are never allocated.
    pub(super) fn charge(&mut self, more: usize) -> bool {
        let holding = self.holding() + more;
        if self.is_done() {
            // Only the last words are left (an answer, the Close frame): they
            // can only shrink now, and go when written or at the stall deadline.
            let _ = self.held.set(holding);
            return true;
        }
        let Err(over) = self.held.set(holding) else {
            return true;
        };
        warn!(
            "[{}] memory budget: this connection would hold {} bytes with {} held by all, over --memory-budget {} bytes: closing with 1013",
            self.tuple, over.wanted, over.used, over.cap
        );
        self.arriving = 0;
        self.close_with(CloseCode::Again, "server memory budget exceeded");
        // What is left is honest: tungstenite's buffers are gone; what was
        // already queued for the peer (and the small Close frame) stays counted
        // until it is written. Less than before, so never refused (if the
        // Close frame tipped it over, the old, larger figure stays).
        let _ = self.held.set(self.holding());
        false
    }

    /// What this connection holds: the message arriving (or the largest one
    /// so far, whose room tungstenite keeps), and the room our queues take up.
    pub(super) fn holding(&self) -> usize {
        let (input, queue) = match &self.phase {
            // With permessage-deflate, its contexts too (deflate::CONTEXT_BYTES).
            Phase::Open(ws) => (
                ws.get_ref().input.len(),
                ws.get_ref().output.capacity() + ws.extra_holding(),
            ),
            Phase::Request { head } => (head.capacity(), 0),
            Phase::Done => (0, 0),
        };
        // (A message arriving is counted twice: a fragmented one is gathered
        // into a Vec that grows by doubling, so its room runs up to twice what
        // has arrived.) After the close, tungstenite's buffers are gone.
        let reading = if self.is_done() {
            0
        } else {
            (2 * self.arriving).max(input).max(self.in_peak)
        };
        reading + queue + self.answer.capacity() + self.handler.holding()
    }
    // ANCHOR_END: account

    /// How much more room the output queue takes once an answer of `payload`
    /// bytes is framed into it: a `Vec` grows to twice its capacity, or to just
    /// what it needs if that is more.
    pub(super) fn answer_room(&self, payload: usize) -> usize {
        let Phase::Open(ws) = &self.phase else {
            return 0;
        };
        let output = &ws.get_ref().output;
        let need = output.len() + payload + MAX_FRAME_HEADER;
        if need <= output.capacity() {
            0
        } else {
            need.max(2 * output.capacity()) - output.capacity()
        }
    }
}
