//! The mailbox: how one connection hands a message to another.
//!
//! An echo server never needs it: each connection talks only to its own peer.
//! A chat room does: a line read on one connection must be written on every
//! other, and those connections may belong to other loops — other threads. A
//! loop's connections are its own (no locks on the data path), so we do not
//! reach into another loop's table. We post a letter to that loop instead: each
//! loop has an inbox (a bounded channel) and a `mio::Waker` (an eventfd in its
//! epoll set); posting puts the letter in the inbox and wakes the loop, which
//! hands it to the session ([`Session::deliver`](super::Session::deliver)).
//!
//! Anyone holding a [`Mailbox`] may post: a session during its turn, or a thread
//! outside the loops (a relay reading from Redis, a publisher on a timer).
//!
//! The inbox is bounded ([`MAILBOX_CAPACITY`] letters per loop): a post to a full
//! inbox fails at once with [`PostError::Full`] rather than wait (a loop waiting
//! on another loop's inbox could wait forever) or grow without limit. What to do
//! then — retry, drop and count, tell the sender — is the protocol's decision.

use std::fmt;
use std::sync::Arc;
use std::sync::mpsc::{self, SyncSender, TrySendError};

use mio::{Token, Waker};

use super::loops::Arrival;

/// Letters one loop's inbox holds at most before a post fails with
/// [`PostError::Full`].
pub const MAILBOX_CAPACITY: usize = 4096;

/// Where a connection lives: its loop, and its token in that loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId {
    /// The loop that owns the connection.
    pub loop_index: usize,
    /// Its token in that loop's table (a place may be reused, but a token
    /// carries its generation: a letter to a closed connection finds nothing).
    pub token: usize,
}

/// A message for a connection. The engine does not look inside: the protocol
/// decides what the bytes mean.
#[derive(Debug, Clone)]
pub struct Mail {
    /// Who posted it (`None`: a thread outside the loops).
    pub from: Option<ConnId>,
    /// The message, shared (not copied) by every connection it goes to.
    pub body: Arc<[u8]>,
}

/// Why a post did not go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostError {
    /// That loop's inbox is full: it is behind. Nothing was queued.
    Full,
    /// That loop does not exist, or has stopped.
    Gone,
}

impl fmt::Display for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PostError::Full => "the loop's mailbox is full",
            PostError::Gone => "the loop is gone",
        })
    }
}

impl std::error::Error for PostError {}

/// What travels to a loop through its inbox.
pub(super) enum Letter {
    /// Deliver to one connection.
    To(Token, Mail),
    /// Deliver to every connection of the loop (but the sender, if it is here).
    All(Mail),
}

/// How to reach one loop: its inbox for letters, its channel for new
/// connections, and its waker.
pub(super) struct Door {
    pub(super) letters: SyncSender<Letter>,
    pub(super) arrivals: mpsc::Sender<Arrival>,
    pub(super) waker: Waker,
}

/// A handle for posting to the connections of a server's loops. Cheap to clone;
/// usable from any thread.
#[derive(Clone)]
pub struct Mailbox {
    pub(super) doors: Arc<Vec<Door>>,
}

impl Mailbox {
    /// Posts `mail` to one connection. `Ok` means it is in that loop's inbox;
    /// a connection that has closed meanwhile simply never gets it.
    pub fn post(&self, to: ConnId, mail: Mail) -> Result<(), PostError> {
        self.send(to.loop_index, Letter::To(Token(to.token), mail))
    }

    /// Posts `mail` to every connection of every loop, except its sender.
    /// Returns how many loops took it; the first failure is the error.
    pub fn broadcast(&self, mail: Mail) -> Result<usize, PostError> {
        let mut first_error = None;
        let mut taken = 0;
        for index in 0..self.doors.len() {
            match self.send(index, Letter::All(mail.clone())) {
                Ok(()) => taken += 1,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(taken), Err)
    }

    /// How many loops this mailbox reaches.
    pub fn loops(&self) -> usize {
        self.doors.len()
    }

    fn send(&self, index: usize, letter: Letter) -> Result<(), PostError> {
        let door = self.doors.get(index).ok_or(PostError::Gone)?;
        match door.letters.try_send(letter) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(PostError::Full),
            Err(TrySendError::Disconnected(_)) => return Err(PostError::Gone),
        }
        // eventfd write: the loop's epoll_wait returns with the WAKER token.
        door.waker.wake().map_err(|_| PostError::Gone)
    }
}
