//! The room: who is in it, and how a line reaches everyone.
//!
//! Members live on the event loops of two engines — one for TCP, one for
//! WebSocket — and each loop owns its connections. Nobody reaches into another
//! loop's table: [`Room::say`] posts the line to every loop's mailbox, and each
//! loop hands it to its own members (`Session::deliver`). So the hot path takes
//! no lock: one post per loop, one write per member, each on its own thread.
//!
//! A loop's mailbox is bounded; when it is full a post fails, and the line is
//! not lost: every line is numbered and kept in the room's [`LineLog`], and a
//! member that sees a number skipped (or a failed post counted) reads what it
//! missed from there, in order ([`Room::lines_for`], and [`crate::lines`] for
//! why that always works).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use lifecycle::FourTuple;
use log::warn;
use serve::v3_event_loop::{ConnId, Mail, Mailbox};

use crate::lines::{self, Cursor, Hand, LineLog, UNLOGGED};
use crate::relay::{Outbox, Outgoing, RELAY_BUFFER};

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
    /// Lines that could not be posted to some loop (its mailbox was full):
    /// its members read them from the room's line log instead.
    pub not_posted: AtomicUsize,
    /// Lines members read from the line log because a post had failed.
    pub refilled: AtomicUsize,
    /// Members' lines handed to the Redis relay (`--relay`).
    pub relayed_out: AtomicUsize,
    /// Lines from other processes, received through the relay.
    pub relayed_in: AtomicUsize,
    /// Members' lines the relay could not take (its buffer was full): the
    /// sender was told.
    pub not_relayed: AtomicUsize,
}

/// One chat room across both engines.
pub struct Room {
    mailboxes: Vec<Mailbox>,
    /// The last lines said, numbered: where a member refills after a failed
    /// post. Lines are numbered and posted under this lock, so every loop's
    /// letters arrive in number order.
    log: Mutex<LineLog>,
    /// Members' lines also go here when the room spans processes (`--relay`).
    relay: Option<Outbox>,
    /// Joins and leaves announced (off for the fan-out bench: N joins would be
    /// N²/2 lines).
    announce: bool,
    members: AtomicUsize,
    /// The room's counters.
    pub stats: Arc<ChatStats>,
}

impl Room {
    /// A room reaching the loops of these engines' mailboxes (index = engine).
    pub fn new(mailboxes: Vec<Mailbox>, stats: Arc<ChatStats>) -> Arc<Room> {
        Room::with_relay(mailboxes, stats, None, true)
    }

    /// A room whose members' lines are also handed to a relay (see
    /// [`crate::relay`]), so that other processes' members hear them.
    pub fn with_relay(
        mailboxes: Vec<Mailbox>,
        stats: Arc<ChatStats>,
        relay: Option<Outbox>,
        announce: bool,
    ) -> Arc<Room> {
        Arc::new(Room {
            mailboxes,
            log: Mutex::default(),
            relay,
            announce,
            members: AtomicUsize::new(0),
            stats,
        })
    }

    // ANCHOR: say
    /// Posts `line` to every member of every loop of every engine, except its
    /// sender, and hands a member's line to the relay if there is one. Returns
    /// false if some loop's mailbox was full (counted, logged).
    pub fn say(&self, from: Option<Origin>, line: &str) -> bool {
        let all = self.post_here(from, line);
        if let (Some(from), Some(relay)) = (from, &self.relay) {
            self.relay(relay, from, line);
        }
        all
    }

    /// The room's own notice (joins, leaves, the relay's state): this process's
    /// members only.
    pub fn notice(&self, line: &str) -> bool {
        self.post_here(None, line)
    }

    /// A join or a leave, unless the room was asked not to (`--no-joins`).
    pub fn announce(&self, line: &str) {
        if self.announce {
            self.post_here(None, line);
        }
    }

    /// A line from another process (through the relay): to every member here.
    pub fn say_relayed(&self, line: &str) -> bool {
        self.post_here(None, line)
    }

    /// Posts `line` to every loop's mailbox (every member here but `from`).
    fn post_here(&self, from: Option<Origin>, line: &str) -> bool {
        self.stats.said.fetch_add(1, Ordering::Relaxed);
        // Numbered, kept and posted under one lock: a post never waits (a full
        // inbox fails at once), so the lock is held for microseconds.
        let mut log = self.log();
        let seq = log.push(from, Arc::from(line.as_bytes()));
        let body = lines::letter(seq, line.as_bytes());
        let mut all = true;
        for (engine, mailbox) in self.mailboxes.iter().enumerate() {
            // A ConnId means something only inside its own engine.
            let from = from.filter(|o| o.engine == engine).map(|o| o.conn);
            let mail = Mail {
                from,
                body: Arc::clone(&body),
            };
            if let Err(e) = mailbox.broadcast(mail) {
                // Not lost: letters still wait in that loop's full inbox, and
                // each member handed one sees this count change and reads the
                // rest from the log.
                let n = self.stats.not_posted.fetch_add(1, Ordering::SeqCst) + 1;
                // Said at the 1st, 2nd, 4th, 8th … time: a loop behind for a
                // while would otherwise write a line to the log per line said.
                if n.is_power_of_two() {
                    warn!(
                        "line {seq} was not posted to every loop (its members read it from the room's log): {e} ({n} so far; said at the 1st, 2nd, 4th, 8th … time)"
                    );
                }
                all = false;
            }
        }
        drop(log);
        all
    }

    /// A cursor for a member joining now: it gets every line said from now on.
    pub fn cursor(&self) -> Cursor {
        self.log()
            .cursor(self.stats.not_posted.load(Ordering::SeqCst))
    }

    /// Hands a member the lines for one letter, in order, to `hand`: usually
    /// the letter's own line, borrowed from the letter (the fan-out's hot
    /// path: no lock, no copy, no allocation per member); after a failed post
    /// (or a skipped number), every line it missed from the log first;
    /// nothing for a line it already got.
    pub fn lines_for(&self, cursor: &mut Cursor, mail: &Mail, mut hand: impl FnMut(&[u8])) {
        let (seq, line) = lines::open(&mail.body);
        let failures = self.stats.not_posted.load(Ordering::SeqCst);
        match cursor.in_order(seq, failures) {
            Hand::This => hand(line),
            Hand::Nothing => {}
            Hand::CatchUp => {
                let lines = self.log().catch_up(cursor, failures);
                // All but the letter's own line came from the log.
                let refilled = lines.len().saturating_sub(1);
                self.stats.refilled.fetch_add(refilled, Ordering::Relaxed);
                lines.iter().for_each(|line| hand(line));
            }
        }
    }

    /// The log, even if a thread panicked holding it (each change is one push).
    fn log(&self) -> MutexGuard<'_, LineLog> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
    // ANCHOR_END: say

    // ANCHOR: relay
    /// Hands a member's line to the relay's bounded buffer. Full (Redis has
    /// been away for [`RELAY_BUFFER`] lines): the sender is told, never silence.
    fn relay(&self, relay: &Outbox, from: Origin, line: &str) {
        let out = Outgoing {
            from,
            line: line.to_string(),
        };
        match relay.0.try_send(out) {
            Ok(()) => {
                self.stats.relayed_out.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.stats.not_relayed.fetch_add(1, Ordering::Relaxed);
                warn!(
                    "relay: buffer full ({RELAY_BUFFER} lines waiting): a line was not relayed; its sender is told"
                );
                self.tell(
                    from,
                    &format!("* not relayed: {RELAY_BUFFER} lines already wait for Redis; only this server's members saw your line"),
                );
            }
        }
    }
    // ANCHOR_END: relay

    /// Posts `line` to one member only.
    pub fn tell(&self, to: Origin, line: &str) {
        if let Some(mailbox) = self.mailboxes.get(to.engine) {
            // Not in the log: a notice for one member is not a line of the room.
            let mail = Mail {
                from: None,
                body: lines::letter(UNLOGGED, line.as_bytes()),
            };
            if let Err(e) = mailbox.post(to.conn, mail) {
                warn!("a notice for one member was not posted: {e}");
            }
        }
    }

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
/// A line as others will see it, with every character that could change how
/// *other* text looks written out instead: control characters (and DEL) as
/// `\xNN`, so one member cannot move another's cursor, clear their screen or
/// forge a line break; invisible format characters and line/paragraph
/// separators as `\u{NNNN}`, so one member cannot reverse text (U+202E),
/// hide characters (U+200B) or start a new line in a terminal or a page
/// (U+2028) — each a way to fake the `[tcp 127.0.0.1:PORT]` prefix that says
/// who spoke.
pub fn escape(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        if c.is_control() {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else if is_invisible(c) {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Unicode's format characters (general category Cf: bidi overrides and
/// isolates, zero-width spaces and joiners, the byte order mark, tags…) and
/// its line and paragraph separators (Zl, Zp), as of Unicode 15.1. Rust's
/// standard library knows Cc (`char::is_control`) but not these, and one list
/// here is smaller than a crate.
const INVISIBLE: &[(char, char)] = &[
    ('\u{00ad}', '\u{00ad}'),   // soft hyphen
    ('\u{0600}', '\u{0605}'),   // Arabic number signs
    ('\u{061c}', '\u{061c}'),   // Arabic letter mark (bidi)
    ('\u{06dd}', '\u{06dd}'),   // Arabic end of ayah
    ('\u{070f}', '\u{070f}'),   // Syriac abbreviation mark
    ('\u{0890}', '\u{0891}'),   // Arabic pound and piastre marks above
    ('\u{08e2}', '\u{08e2}'),   // Arabic disputed end of ayah
    ('\u{180e}', '\u{180e}'),   // Mongolian vowel separator
    ('\u{200b}', '\u{200f}'),   // zero-width space, (non-)joiner, LRM, RLM
    ('\u{2028}', '\u{2029}'),   // line separator (Zl), paragraph separator (Zp)
    ('\u{202a}', '\u{202e}'),   // bidi embeddings and overrides (U+202E reverses)
    ('\u{2060}', '\u{2064}'),   // word joiner, invisible operators
    ('\u{2066}', '\u{206f}'),   // bidi isolates, deprecated format characters
    ('\u{feff}', '\u{feff}'),   // zero-width no-break space (byte order mark)
    ('\u{fff9}', '\u{fffb}'),   // interlinear annotation
    ('\u{110bd}', '\u{110bd}'), // Kaithi number sign
    ('\u{110cd}', '\u{110cd}'), // Kaithi number sign above
    ('\u{13430}', '\u{1343f}'), // Egyptian hieroglyph format controls
    ('\u{1bca0}', '\u{1bca3}'), // shorthand format controls
    ('\u{1d173}', '\u{1d17a}'), // musical symbol format controls
    ('\u{e0001}', '\u{e0001}'), // language tag
    ('\u{e0020}', '\u{e007f}'), // tag characters
];

/// Whether `c` is in [`INVISIBLE`].
fn is_invisible(c: char) -> bool {
    INVISIBLE.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}
// ANCHOR_END: escape

/// How a member reached the room: the first word of its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Lines over a bare TCP connection.
    Tcp,
    /// Messages over a WebSocket (itself on TCP: the 4-tuple alone cannot tell).
    Ws,
}

/// How the room names a member: how it came in and its address (the 4-tuple's
/// peer end): `tcp 127.0.0.1:51234`, `ws 127.0.0.1:51240`.
pub fn label(transport: Transport, tuple: &FourTuple) -> String {
    let word = match transport {
        Transport::Tcp => "tcp",
        Transport::Ws => "ws",
    };
    format!("{word} {}", tuple.peer)
}

/// A WebSocket member's label ([`label`] with [`Transport::Ws`]).
pub fn ws_who(tuple: &FourTuple) -> String {
    label(Transport::Ws, tuple)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Control characters become `\xNN`; ordinary letters pass as they are.
    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("hi\x1b[2Jthere\r\x7f"), "hi\\x1b[2Jthere\\x0d\\x7f");
        assert_eq!(escape("plain, ünïcode ok"), "plain, ünïcode ok");
        assert_eq!(escape("next\u{85}line"), "next\\x85line");
    }

    /// Bidi overrides, zero-width characters, the BOM and line/paragraph
    /// separators are written out, so none can fake who spoke.
    #[test]
    fn invisible_characters_are_escaped() {
        assert_eq!(
            escape("x\u{2028}[tcp 127.0.0.1:1] fake"),
            "x\\u{2028}[tcp 127.0.0.1:1] fake"
        );
        assert_eq!(escape("\u{202e}olleh"), "\\u{202e}olleh");
        assert_eq!(
            escape("a\u{200b}b\u{2029}c\u{feff}d\u{2066}e\u{e0041}"),
            "a\\u{200b}b\\u{2029}c\\u{feff}d\\u{2066}e\\u{e0041}"
        );
        // Neighbours of the ranges are ordinary text.
        assert_eq!(
            escape("\u{2027}\u{2030}\u{200a}"),
            "\u{2027}\u{2030}\u{200a}"
        );
    }

    /// Members are labelled by how they came in, not by the TCP under both.
    #[test]
    fn members_are_labelled_by_transport() {
        let tuple = FourTuple {
            proto: lifecycle::Proto::Tcp,
            local: "127.0.0.1:7070".parse().unwrap(),
            peer: "127.0.0.1:51234".parse().unwrap(),
        };
        assert_eq!(label(Transport::Tcp, &tuple), "tcp 127.0.0.1:51234");
        assert_eq!(ws_who(&tuple), "ws 127.0.0.1:51234");
    }
}
