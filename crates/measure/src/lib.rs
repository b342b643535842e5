//! What socklab measures, apart from the client that moves the bytes: one
//! script over every transport, the push techniques side by side, and the few
//! statistics that decide whether two numbers differ by more than the noise.
//!
//! # Layout
//!
//! - [`compare`]: one script over every transport → a [`compare::Comparison`] of
//!   measured facts, as a table or as JSON (`socklab compare`).
//! - [`deflate`]: `compare --deflate` — one JSON chat message's bytes on the
//!   wire plain, compressed, and compressed without context takeover.
//! - [`push`]: `compare --push` — the same events by short polling, long
//!   polling, streaming, Server-Sent Events and WebSocket, measured on the wire.
//! - [`stats`]: the one percentile definition, the interquartile range, and the
//!   bootstrap interval and noise rule that decide whether two figures differ.
//!   `socklab bench` takes its percentiles from here too, so a p50 means the
//!   same thing everywhere.
//!
//! The arrows point down only: this crate drives [`client::Transport`] and reads
//! the Tap's records; the client imports nothing from here, and neither crate
//! imports a server (`socklab compare` and `socklab tour` start the servers).
//!
//! Try: `socklab compare`, `socklab compare --push`, `cargo test -p measure`.
#![deny(missing_docs)]

pub mod compare;
pub mod deflate;
pub mod push;
pub mod stats;
