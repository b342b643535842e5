//! One connection's compressor and decompressor (RFC 7692 §7.2): raw DEFLATE
//! (no zlib header), each message ended with a sync flush whose empty block,
//! `00 00 ff ff`, is cut off by the sender and put back by the receiver.
//!
//! With context takeover (the default) the LZ77 window survives from one
//! message to the next, so a message that repeats an earlier one costs a few
//! bytes — and each connection keeps its compressor's state (see
//! [`CONTEXT_BYTES`]) for as long as it lives. Without it, each message starts
//! from an empty window.
//!
//! Inflating is where a hostile peer aims: a few KB of DEFLATE can unpack to
//! gigabytes (a zip bomb). So the output is capped at the message-size limit
//! and grown in steps: past the cap the message is refused (1009) before any
//! byte beyond it is allocated.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::{Agreement, DeflateError, MAX_WINDOW_BITS};

/// The empty stored block a sync flush ends with (§7.2.1): sent by nobody,
/// implied at the end of every compressed message.
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// What one connection's two contexts hold, charged to the memory budget when
/// compression is agreed: zlib-rs's deflate state for a 15-bit window at level
/// 6 (its window, hash chains and pending buffer) plus the inflate state and
/// its 32 KiB window. The `context_memory` test (tests/deflate_memory.rs)
/// counts the heap they really take and fails if this figure is too small
/// (it sits a few percent above that count: the count moves by a kilobyte or
/// so between runs, with what the test harness allocates meanwhile).
pub const CONTEXT_BYTES: usize = 448 * 1024;

/// How much output room inflating adds at a time: the cap is checked between
/// steps, so a bomb never gets more than this past it.
const INFLATE_STEP: usize = 16 * 1024;

/// Which end of the connection this is: the server compresses with the
/// server's parameters and inflates the client's, the client the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The end that answered the Upgrade.
    Server,
    /// The end that sent it.
    Client,
}

/// Compresses the messages one end sends.
pub struct Compressor {
    deflate: Compress,
    /// Start every message with an empty window (no context takeover).
    reset_each: bool,
}

impl Compressor {
    /// The compressor for `side` under `agreement`.
    pub fn new(agreement: &Agreement, side: Side) -> Compressor {
        let (bits, reset_each) = match side {
            Side::Server => (
                agreement.server_max_window_bits,
                agreement.server_no_context_takeover,
            ),
            Side::Client => (
                agreement.client_max_window_bits,
                agreement.client_no_context_takeover,
            ),
        };
        // 9..=15 is all flate2 takes (it panics otherwise); the negotiation
        // never agrees to less than 9, and this clamp keeps that promise local.
        let bits = bits.clamp(super::MIN_OUR_WINDOW_BITS, MAX_WINDOW_BITS);
        Compressor {
            deflate: Compress::new_with_window_bits(Compression::default(), false, bits),
            reset_each,
        }
    }

    // ANCHOR: compress
    /// One message's payload, compressed as RFC 7692 §7.2.1 says: raw DEFLATE,
    /// a sync flush, and the flush's `00 00 ff ff` removed. An empty message
    /// compresses to the single byte `00`.
    pub fn compress(&mut self, payload: &[u8]) -> Vec<u8> {
        // Room for incompressible data plus the flush's few bytes at once;
        // more is added below if zlib ever needs it.
        let mut out = Vec::with_capacity(payload.len() + payload.len() / 64 + 16);
        let start = self.deflate.total_in();
        loop {
            let taken = (self.deflate.total_in() - start) as usize;
            let before = out.len();
            // Writing into a Vec: the only failure zlib reports is a misuse of
            // its stream state, which this loop never makes.
            let _ = self
                .deflate
                .compress_vec(&payload[taken..], &mut out, FlushCompress::Sync);
            let done = (self.deflate.total_in() - start) as usize == payload.len();
            // Done once all input is in and zlib stopped with room to spare
            // (it stops with a full buffer only when it has more to say).
            if done && out.len() < out.capacity() {
                break;
            }
            if out.len() == out.capacity() || out.len() == before {
                out.reserve(INFLATE_STEP);
            }
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        if self.reset_each {
            self.deflate.reset();
        }
        out
    }
    // ANCHOR_END: compress
}

/// Inflates the messages the other end sends.
pub struct Decompressor {
    inflate: Decompress,
    /// Start every message with an empty window (the peer promised it).
    reset_each: bool,
}

impl Decompressor {
    /// The decompressor for `side` under `agreement`: always a 15-bit window,
    /// which reads DEFLATE made with any smaller one.
    pub fn new(agreement: &Agreement, side: Side) -> Decompressor {
        let reset_each = match side {
            Side::Server => agreement.client_no_context_takeover,
            Side::Client => agreement.server_no_context_takeover,
        };
        Decompressor {
            inflate: Decompress::new_with_window_bits(false, MAX_WINDOW_BITS),
            reset_each,
        }
    }

    // ANCHOR: decompress
    /// One compressed message's payload, inflated, with the `00 00 ff ff` tail
    /// put back (§7.2.2). More than `limit` bytes of output: [`DeflateError::TooBig`],
    /// having allocated at most `limit` plus one step; bytes that are not
    /// DEFLATE: [`DeflateError::Corrupt`].
    pub fn decompress(&mut self, payload: &[u8], limit: usize) -> Result<Vec<u8>, DeflateError> {
        let mut out = Vec::with_capacity(payload.len().saturating_mul(2).clamp(64, INFLATE_STEP));
        let result = self.inflate_into(payload, &mut out, limit);
        if self.reset_each || result.is_err() {
            self.inflate.reset(false);
        }
        result.map(|()| out)
    }
    // ANCHOR_END: decompress

    /// Feeds `payload` and then the tail to zlib, growing `out` step by step
    /// up to `limit`.
    fn inflate_into(
        &mut self,
        payload: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), DeflateError> {
        for input in [payload, &TAIL[..]] {
            let start = self.inflate.total_in();
            loop {
                let taken = (self.inflate.total_in() - start) as usize;
                let before = out.len();
                let status = self
                    .inflate
                    .decompress_vec(&input[taken..], out, FlushDecompress::Sync)
                    .map_err(|_| DeflateError::Corrupt)?;
                if out.len() > limit {
                    return Err(DeflateError::TooBig { limit });
                }
                let all_in = (self.inflate.total_in() - start) as usize == input.len();
                // A final block (BFINAL): the stream is over; the next message
                // starts a new one.
                if status == Status::StreamEnd {
                    self.inflate.reset(false);
                    return Ok(());
                }
                if all_in && out.len() < out.capacity() {
                    break;
                }
                if out.len() == out.capacity() {
                    // The cap plus one byte is the most ever asked for: one
                    // byte past the limit proves the message too big.
                    let room = INFLATE_STEP.min(limit.saturating_add(1) - out.len().min(limit));
                    out.reserve_exact(room.max(1));
                } else if out.len() == before && all_in {
                    break;
                } else if out.len() == before && taken == (self.inflate.total_in() - start) as usize
                {
                    // No progress with room and input left: a broken stream.
                    return Err(DeflateError::Corrupt);
                }
            }
        }
        Ok(())
    }
}
