//! The shared client: one client for tcp, udp and ws, the wire view that decodes
//! every byte it moved, and the comparison that measures what differs.
//!
//! # Layout
//!
//! - [`transport`]: [`Transport`] — connect, send, receive, close — for
//!   `tcp://`, `udp://` and `ws://` URLs, each running over lifecycle's Tap, so
//!   every byte sent and received is recorded with its time.
//! - [`wire`]: pure functions over those records: the Upgrade request and
//!   response, the Accept derivation, each frame's fields and its unmasking, each
//!   TCP read and each UDP datagram.
//! - [`compare`]: one script over every transport → a [`compare::Comparison`] of
//!   measured facts, as a table or as JSON.
//! - [`stats`]: the one percentile definition, the interquartile range, and the
//!   bootstrap interval and noise rule that decide whether two medians differ.
//! - [`style`]: terminal colors, off for pipes, `--no-color` and `NO_COLOR`.
//!
//! The client never imports a server: it knows only what it sees on the wire.
//! (`socklab compare` and `socklab tour` start the servers it talks to.)
//!
//! Try: `socklab send ws://127.0.0.1:8080/ hello --wire` against `socklab serve ws`.
#![deny(missing_docs)]

pub mod compare;
pub mod stats;
pub mod style;
pub mod transport;
pub mod wire;

pub use style::Style;
pub use transport::{CloseReport, Error, Incoming, Scheme, Side, Target, Transport};
