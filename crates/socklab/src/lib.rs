//! What the `socklab` command line shares with its tests: the in-process servers,
//! and the small SVG writer `socklab diagram` draws with.
//!
//! The commands themselves live in the binary (`main.rs` and one file per
//! command); [`servers`] is here so integration tests can start the same servers
//! `socklab tour` and `socklab compare` start; [`svg`] so its tests run as a library's.
#![deny(missing_docs)]

pub mod servers;
pub mod svg;
