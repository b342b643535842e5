//! The shared client: one client for tcp, udp and ws, and the wire view that
//! decodes every byte it moved. What it measures lives a floor up, in the
//! `measure` crate (`socklab compare`, `compare --push`): the client measures
//! nothing and imports no measurement.
//!
//! # Layout
//!
//! - [`transport`]: [`Transport`] — connect, send, receive, close — for
//!   `tcp://`, `udp://` and `ws://` URLs, each running over lifecycle's Tap, so
//!   every byte sent and received is recorded with its time.
//! - [`pipe`]: what the bytes travel through — the TCP connection, or TLS
//!   over it (rustls) with a second Tap for the records, and whom to trust.
//! - [`records`]: the TLS records in the wire Tap (type, version, length):
//!   what an observer sees of tls:// and wss://.
//! - [`url`] and [`scheme`]: the one URL parser and the registry of schemes —
//!   what each needs (its framing, TLS or not, its default port, the
//!   `socklab serve` that listens for it).
//! - [`wire`]: pure functions over those records: the Upgrade request and
//!   response, the Accept derivation, each frame's fields and its unmasking, each
//!   TCP read and each UDP datagram.
//! - [`seeded`]: `send --seed N` — a fixed `Sec-WebSocket-Key` and fixed
//!   masking keys, so the client's bytes are the same on every run.
//! - [`stable`]: `--stable` — ports, times, read counts and verdicts as
//!   placeholders (`<port>`, `<µs>`), so two runs print the same text.
//! - [`style`]: terminal colors, off for pipes, `--no-color` and `NO_COLOR`.
//!
//! The client never imports a server: it knows only what it sees on the wire.
//! (`socklab compare` and `socklab tour` start the servers it talks to.)
//!
//! Try: `socklab send ws://127.0.0.1:8080/ hello --wire` against `socklab serve ws`.
#![deny(missing_docs)]

pub mod http;
pub mod pipe;
pub mod records;
pub mod scheme;
pub mod seeded;
pub mod stable;
pub mod style;
pub mod transport;
pub mod url;
pub mod wire;

pub use pipe::{TlsInfo, Trust};
pub use scheme::{Framing, Scheme};
pub use style::Style;
pub use transport::{CloseReport, Error, Incoming, Side, Target, Transport};
pub use url::{Url, UrlError};
