//! What every socklab server that speaks WebSocket shares: the Upgrade answered
//! on the same port as the HTTP it came in, and [`Buffers`], the in-memory stream
//! tungstenite frames messages over.
//!
//! Why an in-memory stream: tungstenite wants a `Read + Write` to frame over,
//! but an event-loop session owns its socket and must never block on it. So the
//! session feeds the bytes it read into [`Buffers::input`] and writes out what
//! tungstenite left in [`Buffers::output`]: tungstenite never touches the socket,
//! and the session always knows how many bytes it holds for the peer.
//!
//! ws-echo checks an Upgrade far more strictly (every RFC 6455 §4.2.1 rule, each
//! with a test: its lesson is the handshake); [`accept_upgrade`] accepts a
//! well-formed one and refuses the rest, for servers whose lesson is elsewhere
//! (the push server, the chat room).
#![deny(missing_docs)]

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

/// The 101 response for a well-formed Upgrade (Connection: Upgrade, version 13,
/// a key), or the error response: 400, or 426 with the version we speak.
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

/// tungstenite on [`Buffers`], as a server, with a message (and frame) size limit.
pub fn server(input: &[u8], max_message: usize) -> tungstenite::WebSocket<Buffers> {
    let mut buffers = Buffers::default();
    buffers.input.extend(input);
    let config = tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(2048)
        .write_buffer_size(0)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message));
    tungstenite::WebSocket::from_raw_socket(
        buffers,
        tungstenite::protocol::Role::Server,
        Some(config),
    )
}
