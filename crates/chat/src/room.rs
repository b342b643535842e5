//! The room: who is in it, and how a line reaches everyone.
//!
//! Members live on the event loops of two engines — one for TCP, one for
//! WebSocket — and each loop owns its connections. Nobody reaches into another
//! loop's table: [`Room::say`] posts the line to every loop's mailbox, and each
//! loop hands it to its own members (`Session::deliver`). So the hot path takes
//! no lock: one post per loop, one write per member, each on its own thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use log::warn;
use serve::v3_event_loop::{ConnId, Mail, Mailbox};

/// Who said something: which engine (0 TCP, 1 WebSocket) and which connection.
/// The sender does not get its own line back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// Which engine's mailbox the sender's connection belongs to.
    pub engine: usize,
    /// The connection, in that engine.
    pub conn: ConnId,
}

/// What the room counted.
#[derive(Debug, Default)]
pub struct ChatStats {
    /// Lines said (members' lines and the room's own notices).
    pub said: AtomicUsize,
    /// Members dropped for not reading.
    pub dropped: AtomicUsize,
    /// Lines that could not be posted to some loop (its mailbox was full).
    pub not_posted: AtomicUsize,
}

/// One chat room across both engines.
pub struct Room {
    mailboxes: Vec<Mailbox>,
    members: AtomicUsize,
    /// The room's counters.
    pub stats: Arc<ChatStats>,
}

impl Room {
    /// A room reaching the loops of these engines' mailboxes (index = engine).
    pub fn new(mailboxes: Vec<Mailbox>, stats: Arc<ChatStats>) -> Arc<Room> {
        Arc::new(Room {
            mailboxes,
            members: AtomicUsize::new(0),
            stats,
        })
    }

    // ANCHOR: say
    /// Posts `line` to every member of every loop of every engine, except its
    /// sender. Returns false if some loop's mailbox was full (counted, logged).
    pub fn say(&self, from: Option<Origin>, line: &str) -> bool {
        self.stats.said.fetch_add(1, Ordering::Relaxed);
        let body: Arc<[u8]> = Arc::from(line.as_bytes());
        let mut all = true;
        for (engine, mailbox) in self.mailboxes.iter().enumerate() {
            // A ConnId means something only inside its own engine.
            let from = from.filter(|o| o.engine == engine).map(|o| o.conn);
            let mail = Mail {
                from,
                body: Arc::clone(&body),
            };
            if let Err(e) = mailbox.broadcast(mail) {
                self.stats.not_posted.fetch_add(1, Ordering::Relaxed);
                warn!("a line was not posted to every loop: {e}");
                all = false;
            }
        }
        all
    }
    // ANCHOR_END: say

    /// A member came in; returns how many there are now.
    pub fn join(&self) -> usize {
        self.members.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// A member left; returns how many are left.
    pub fn leave(&self) -> usize {
        self.members
            .fetch_sub(1, Ordering::Relaxed)
            .saturating_sub(1)
    }

    /// Members now.
    pub fn members(&self) -> usize {
        self.members.load(Ordering::Relaxed)
    }
}

// ANCHOR: escape
/// A line as others will see it: control characters (and DEL) written as
/// `\xNN`, so one member cannot move another's cursor, clear their screen or
/// forge a line break.
pub fn escape(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        if c.is_control() {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}
// ANCHOR_END: escape

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("hi\x1b[2Jthere\r\x7f"), "hi\\x1b[2Jthere\\x0d\\x7f");
        assert_eq!(escape("plain, ünïcode ok"), "plain, ünïcode ok");
    }
}
