//! [`Buffers`]: the in-memory stream tungstenite frames messages over.
//!
//! Why an in-memory stream: tungstenite wants a `Read + Write` to frame over,
//! but an event-loop session owns its socket and must never block on it. So the
//! connection machine feeds the bytes the driver read into [`Buffers::input`]
//! and hands the driver what tungstenite left in [`Buffers::output`]:
//! tungstenite never touches the socket, and the machine always knows how many
//! bytes it holds for the peer (the bound on its output counts them).

use std::collections::VecDeque;
use std::io::{self, Read, Write};

// ANCHOR: buffers
/// The stream tungstenite runs on: bytes received, bytes for the peer.
/// Reading past the input says WouldBlock ("no whole frame yet").
#[derive(Default)]
pub struct Buffers {
    /// Bytes from the peer not yet framed.
    pub input: VecDeque<u8>,
    /// Frames for the peer, not yet written to the socket.
    pub output: Vec<u8>,
}

impl Read for Buffers {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.input.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.input.read(buf)
    }
}

impl Write for Buffers {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
// ANCHOR_END: buffers
