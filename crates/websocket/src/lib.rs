//! The WebSocket protocol (RFC 6455) for every socklab server that speaks it —
//! ws echo, wss, push, chat, bridge — written once. The protocol itself does no
//! I/O and reads no clock (bytes in, bytes out, decisions); two small drivers
//! move its bytes for `serve`'s models.
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
//! - [`deflate`]: permessage-deflate (RFC 7692), I/O-free: the offer read and
//!   answered, one connection's compressor and decompressor (`--deflate`).
//! - [`buffers`]: [`Buffers`], the in-memory stream tungstenite frames over.
//! - [`handler`]: what a program says: its [`Handler`] and [`Settings`].
//! - [`machine`]: one connection's whole protocol with no I/O and no clock —
//!   request, 101, messages, control frames, 408/1001/1002/1007/1009/1013, the
//!   memory budget, the bounded output, compressed messages when agreed —
//!   decided once for every program.
//! - [`session`]: the machine as a session of `serve`'s mio event loops, and
//!   [`session::pump`], the loop body sessions of their own reuse.
//! - [`blocking`]: the machine driven by blocking reads and writes (`serve`'s
//!   v1 and v2).
//!
//! Only this crate drives tungstenite's `WebSocket` type on the server side:
//! a program that needs WebSocket takes a [`Machine`] with its handler.
#![deny(missing_docs)]

pub mod blocking;
pub mod buffers;
pub mod close;
pub mod deflate;
pub mod handler;
pub mod machine;
pub mod malformed;
pub mod origin;
pub mod session;
pub mod upgrade;

pub use buffers::Buffers;
pub use handler::{Handler, Outbox, Settings};
pub use machine::Machine;
pub use origin::OriginPolicy;
pub use upgrade::{Decision, Rejection, Upgrade, asks_for_websocket, check_request, check_upgrade};
