//! The WebSocket protocol (RFC 6455) for every socklab server that speaks it —
//! ws echo, wss, push, chat, bridge — written once, with no I/O.
//!
//! A program (echo, a push subscriber, a chat member, a bridge leg) says what it
//! does with a message; how the Upgrade is checked, whose pages may connect, and
//! which close code a broken peer gets are decided here, the same for all of
//! them. So a malformed Upgrade gets the same status and reason from every
//! server, and a hardening made here reaches each one (STYLE.md rule 13: the
//! copy is where the hardening goes missing).
//!
//! # Layout
//!
//! - [`upgrade`]: the opening handshake checked against every RFC 6455 §4.2.1
//!   rule: 101, the page, or 400/403/405/426/431 with a one-line reason.
//! - [`origin`]: [`OriginPolicy`], whose web pages may open a WebSocket
//!   (`--allow-origin`, one default everywhere).
//! - [`malformed`]: the malformed-Upgrade table every server is tested against.
//! - [`close`]: which close code (1002, 1007, 1009) a tungstenite error means.
//! - [`buffers`]: [`Buffers`], the in-memory stream tungstenite frames over.
#![deny(missing_docs)]

pub mod buffers;
pub mod close;
pub mod malformed;
pub mod origin;
pub mod upgrade;

pub use buffers::Buffers;
pub use origin::OriginPolicy;
pub use upgrade::{Decision, Rejection, Upgrade, asks_for_websocket, check_request, check_upgrade};

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
