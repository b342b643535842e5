//! The WebSocket side of the push server: the Upgrade answered on the same
//! port, and the in-memory stream tungstenite frames messages over.
//!
//! ws-echo checks an Upgrade far more strictly (every RFC 6455 §4.2.1 rule, with
//! tests for each); the push server accepts a well-formed one and refuses the
//! rest with 400, because its lesson is the push, not the handshake.

use std::collections::VecDeque;
use std::io::{self, Read, Write};

use http1::{RequestHead, Response};
use tungstenite::handshake::derive_accept_key;

/// The stream tungstenite runs on: bytes received, bytes for the client.
/// Reading past the input says WouldBlock ("no whole frame yet").
#[derive(Default)]
pub struct Buffers {
    /// Bytes from the client not yet framed.
    pub input: VecDeque<u8>,
    /// Frames for the client, not yet written to the socket.
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

/// The 101 response for a well-formed Upgrade, or the error response.
pub fn accept_upgrade(head: &RequestHead) -> Result<Vec<u8>, Response> {
    if !head.headers.has_token("connection", "upgrade") {
        return Err(Response::text(
            400,
            "Upgrade: websocket needs Connection: Upgrade",
        ));
    }
    if head.headers.get("sec-websocket-version") != Some("13") {
        return Err(
            Response::text(426, "WebSocket version 13 only").header("Sec-WebSocket-Version", "13")
        );
    }
    let Some(key) = head.headers.get("sec-websocket-key") else {
        return Err(Response::text(400, "missing Sec-WebSocket-Key"));
    };
    Ok(Response::new(101)
        .header("Upgrade", "websocket")
        .header("Connection", "Upgrade")
        .header("Sec-WebSocket-Accept", derive_accept_key(key.as_bytes()))
        .to_bytes())
}
