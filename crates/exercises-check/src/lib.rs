//! socklab's exercises: what each asks ([`catalog`]), and a check per exercise
//! that runs the student's work against real sockets on loopback and says what
//! is right and what is wrong ([`check`]).
//!
//! # Layout
//!
//! - [`catalog`]: the texts, read from `exercises/exercises.toml` (compiled in),
//!   the one source for `socklab exercise` and the book's exercise page.
//! - [`report`]: a check's findings, one line each, `ok` or `wrong`, in English
//!   or Korean; a wrong one says where to look, and the expected values are kept
//!   apart for `--reveal`.
//! - `student`: builds a student's crate (cargo, the exercises workspace) and
//!   runs it with deadlines; reads an answer file.
//! - `relay`: the checker's own go-betweens: a TCP proxy that records both
//!   directions of every connection, and a lossy UDP relay.
//! - `checks`: one function per exercise (13 reads answers about a committed
//!   capture against digests; 14 is the peer and the keyboard of a full-duplex
//!   client; 15 cuts an SSE stream under a resuming client).
//!
//! Every server a check needs (ws-echo, udp-echo, the push server) runs in this
//! process on a port the kernel chooses, so checks never collide with servers
//! you run yourself.
#![deny(missing_docs)]

pub mod catalog;
mod checks;
mod relay;
pub mod report;
mod student;

use std::path::{Path, PathBuf};

pub use catalog::{Exercise, Lang, catalog, exercise};
pub use report::Report;

/// Runs exercise `id`'s check on the work in `dir` (a crate directory, or a
/// directory holding `answer.txt`). An `Err` means the check could not run at
/// all (no such directory, the code does not compile); a wrong answer is a
/// [`Report`] that did not pass.
pub fn check(id: u32, dir: &Path) -> anyhow::Result<Report> {
    let exercise = exercise(id).ok_or_else(|| {
        anyhow::anyhow!(
            "there is no exercise {id}: `socklab exercise list` shows 1 to {}",
            catalog().len()
        )
    })?;
    if !dir.is_dir() {
        anyhow::bail!(
            "{} is not a directory: give --path the directory of your copy of {}",
            dir.display(),
            exercise.slug
        );
    }
    checks::run(exercise, dir)
}

/// The directory of the exercises (the one holding `exercises.toml`): searched
/// from `start` upwards, so `socklab exercise check` works anywhere in a
/// checkout.
pub fn exercises_dir(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join("exercises"))
        .find(|dir| dir.join("exercises.toml").is_file())
}
