//! socklab's load generator: strict ping-pong over TCP, UDP and WebSocket.
//!
//! Each of `conns` connections sends one message of `size` bytes, waits for the
//! whole echo, records the round-trip time, and sends the next — for `secs`
//! seconds. Meanwhile `idle` more connections are opened first and held open
//! without a byte, which is what costs a thread-per-connection server memory.
//! The result is messages per second, RTT p50/p99, and the errors seen, with
//! refusals at the server's connection cap counted apart and the likely cause
//! named ([`Report::diagnosis`]).
//!
//! With `stream` > 0, that many more connections stream large messages at full
//! speed beside the measured ones (a few messages in flight, each echo read as
//! it comes): the load a fair server must not let starve a light client. Their
//! traffic is reported apart; the RTTs are the measured connections' only.
//!
//! [`churn`] holds the other two loads: connections opened, used once and
//! closed in a loop (connections per second), and a storm of connections opened
//! at once and dropped.
//!
//! It uses raw std sockets and tungstenite's client directly: a load generator
//! must not record every byte (the shared client's Tap does, for the lessons).
//! tls:// and wss:// run the same loads over rustls ([`secure`]), trusting the
//! server's certificate as `--cacert` or `--insecure` says ([`Target::trusting`]).
//!
//! Run: `socklab bench ws://127.0.0.1:8080/ --conns 8 --secs 5` (against
//! `socklab serve ws`). Bounded: every loop stops at `secs` or [`MAX_MESSAGES`].
//!
//! The crate is split by concern: [`target`] says where the load goes (the URL,
//! the transport, one connection of any kind), [`load`] runs the loads (the
//! ping-pong, streaming and idle connections), [`report`] says what a run
//! measured (the table row, the JSON, the diagnosis), [`cpu`] what each message
//! cost in CPU, the server's and the client's, and [`owner`] which process the
//! server is.
#![deny(missing_docs)]

pub mod churn;
pub mod cpu;
pub mod deflate;
pub mod fanout;
pub mod load;
pub mod owner;
pub mod report;
pub mod secure;
pub mod target;

mod pingpong;

use std::time::Duration;

pub use load::{Options, run};
pub(crate) use pingpong::check;
pub use report::Report;
pub use target::{Kind, Target};

/// Most messages one connection sends, whatever `secs` says: a hard bound.
pub const MAX_MESSAGES: u64 = 10_000_000;

/// How long one reply may take before it counts as an error (a lost datagram, a
/// stuck server).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Messages each streaming connection keeps in flight: it sends this many, then
/// one more per echo it reads. A few, so the server always has work queued;
/// few enough that they fit in the socket buffers and the server's queue
/// (otherwise both sides would block in `write()`).
pub const STREAM_WINDOW: usize = 4;

/// Round trips per second per connection below which the report suggests the
/// server is slow for a reason of its own (narration, a debug build): a loopback
/// round trip takes tens of µs, so one taking over a millisecond on average is
/// not the network.
pub const LOW_RATE_PER_CONN: f64 = 1000.0;
