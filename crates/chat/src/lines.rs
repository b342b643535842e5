//! The room's line log: why a full mailbox never loses a line silently.
//!
//! A line reaches a loop's members as a letter in that loop's mailbox, and the
//! mailbox is bounded (`serve::v3_event_loop::MAILBOX_CAPACITY`): when a loop
//! is behind, a post fails at once. Dropping the line there would leave a gap
//! in what every member of that loop reads, and nobody would know. So every
//! line the room says also goes into this log, numbered (1, 2, 3 …), and its
//! letter carries the number. A member remembers the next number it expects
//! ([`Cursor`]); when a letter skips ahead, or the room has counted a failed
//! post since the member last looked, the member reads what it missed from the
//! log, in order, before the letter's own line.
//!
//! Why that always arrives: a post fails only when the loop's inbox is full,
//! so letters are still waiting there, and each member will be handed at least
//! one more. Numbers are given and letters posted under one lock, so a loop's
//! letters are in number order. The same design as push's hub
//! (`crates/push/src/hub.rs`), which refills subscribers from its window.
//!
//! The log keeps the last [`KEEP_LINES`] lines (at most [`KEEP_BYTES`]); a
//! member further behind than that is told how many lines it lost, never
//! silence. The code is pure: [`LineLog`] and [`Cursor`] are tested without
//! sockets (`tests` below forces failed posts deterministically).

use std::collections::VecDeque;
use std::sync::Arc;

use crate::room::Origin;

/// Lines the log keeps: twice a loop's inbox, so a member whose inbox was full
/// when the posts failed still finds every line it missed.
pub const KEEP_LINES: usize = 2 * serve::v3_event_loop::MAILBOX_CAPACITY;

/// Bytes the log keeps at most, whatever [`KEEP_LINES`] says (a line is at
/// most `--max-line` bytes, escaped: a few KiB each).
pub const KEEP_BYTES: usize = 8 << 20;

/// The number a letter carries when it is not in the log (a notice for one
/// member, `Room::tell`): delivered as it is.
pub const UNLOGGED: u64 = 0;

/// One line as kept: its number, who said it (their own line is never sent
/// back to them), and its bytes.
#[derive(Debug, Clone)]
struct Kept {
    seq: u64,
    from: Option<Origin>,
    line: Arc<[u8]>,
}

/// The last lines said, numbered.
#[derive(Debug, Default)]
pub struct LineLog {
    lines: VecDeque<Kept>,
    bytes: usize,
    /// The number of the newest line (0 before the first).
    newest: u64,
}

/// What one member has been handed: where it is in the log.
#[derive(Debug, Clone)]
pub struct Cursor {
    /// The number of the next line this member should get.
    next: u64,
    /// The member itself, once known (its first turn): its own lines are not
    /// handed back to it.
    pub me: Option<Origin>,
    /// The room's count of failed posts when this member last caught up.
    seen_failures: usize,
}

impl LineLog {
    /// Numbers `line` and keeps it; returns its number (for its letter).
    pub fn push(&mut self, from: Option<Origin>, line: Arc<[u8]>) -> u64 {
        self.newest += 1;
        self.bytes += line.len();
        self.lines.push_back(Kept {
            seq: self.newest,
            from,
            line,
        });
        while self.lines.len() > KEEP_LINES || self.bytes > KEEP_BYTES {
            let Some(old) = self.lines.pop_front() else {
                break;
            };
            self.bytes -= old.line.len();
        }
        self.newest
    }

    /// A cursor for a member arriving now: it gets lines said from now on.
    pub fn cursor(&self, failures: usize) -> Cursor {
        Cursor {
            next: self.newest + 1,
            me: None,
            seen_failures: failures,
        }
    }

    /// Every kept line from `cursor` on, but the member's own, oldest first;
    /// the cursor moves past the newest. If lines it needs are gone from the
    /// log, a notice saying how many comes first.
    pub fn catch_up(&self, cursor: &mut Cursor, failures: usize) -> Vec<Arc<[u8]>> {
        let mut out = Vec::new();
        let oldest = self.lines.front().map_or(self.newest + 1, |k| k.seq);
        if oldest > cursor.next {
            let lost = oldest - cursor.next;
            out.push(Arc::from(
                format!("* {lost} lines lost: this member fell further behind than the room keeps")
                    .as_bytes(),
            ));
        }
        let skip = usize::try_from(cursor.next.saturating_sub(oldest)).unwrap_or(usize::MAX);
        for kept in self.lines.iter().skip(skip) {
            if kept.from.is_none() || kept.from != cursor.me {
                out.push(Arc::clone(&kept.line));
            }
        }
        cursor.next = cursor.next.max(self.newest + 1);
        cursor.seen_failures = failures;
        out
    }
}

/// What a member does with one letter ([`Cursor::in_order`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hand {
    /// The usual path: hand over the letter's own line, straight from the
    /// letter (nothing copied, nothing allocated: this runs once per member
    /// per line, 10,000 times a line in `socklab bench --fanout 10000`).
    This,
    /// An old number, already handed by a catch up: nothing.
    Nothing,
    /// A skipped number, or a post failed since the last look:
    /// [`LineLog::catch_up`] (under the log's lock) instead.
    CatchUp,
}

impl Cursor {
    /// What to hand the member for a letter numbered `seq`, without the log:
    /// [`Hand::This`] on the usual path (the next number, and no post has
    /// failed since the last look).
    pub fn in_order(&mut self, seq: u64, failures: usize) -> Hand {
        if seq == UNLOGGED {
            return Hand::This;
        }
        if seq < self.next {
            return Hand::Nothing;
        }
        if seq == self.next && failures == self.seen_failures {
            self.next += 1;
            return Hand::This;
        }
        Hand::CatchUp
    }
}

/// A letter's body: the number (8 bytes, big-endian), then the line.
pub fn letter(seq: u64, line: &[u8]) -> Arc<[u8]> {
    let mut body = seq.to_be_bytes().to_vec();
    body.extend_from_slice(line);
    Arc::from(body)
}

/// The number and the line of a letter made by [`letter`] (a body too short
/// to hold a number is an unlogged line). The line is borrowed from the
/// letter, not copied.
pub fn open(body: &[u8]) -> (u64, &[u8]) {
    match body.split_at_checked(8) {
        Some((seq, line)) => (u64::from_be_bytes(seq.try_into().unwrap_or_default()), line),
        None => (UNLOGGED, body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serve::v3_event_loop::ConnId;

    fn line(n: usize) -> Arc<[u8]> {
        Arc::from(format!("line {n}").as_bytes())
    }

    /// Hands one letter to a member the way a session does.
    fn hand(
        log: &LineLog,
        c: &mut Cursor,
        seq: u64,
        l: &Arc<[u8]>,
        failures: usize,
    ) -> Vec<String> {
        let got = match c.in_order(seq, failures) {
            Hand::This => vec![Arc::clone(l)],
            Hand::Nothing => Vec::new(),
            Hand::CatchUp => log.catch_up(c, failures),
        };
        got.iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect()
    }

    /// Posts fail for lines 3..=5 (a full mailbox: no letters for them), and
    /// line 6's post fails too, so no letter after 2 ever carries them — yet a
    /// member handed the letters that did go gets 1..=6, in order, once each.
    #[test]
    fn a_failed_post_is_refilled_in_order() {
        let mut log = LineLog::default();
        let mut failures = 0;
        let mut c = log.cursor(failures);
        let mut letters = Vec::new();
        for n in 1..=6 {
            let seq = log.push(None, line(n));
            if (3..=6).contains(&n) {
                failures += 1; // not posted: no letter
            } else {
                letters.push((seq, line(n)));
            }
        }
        // The letters still waiting in the full inbox (here: 1 and 2) come.
        let mut got = Vec::new();
        for (seq, l) in &letters {
            got.extend(hand(&log, &mut c, *seq, l, failures));
        }
        let want: Vec<String> = (1..=6).map(|n| format!("line {n}")).collect();
        assert_eq!(got, want);
        // A later letter is the next line only.
        let seq = log.push(None, line(7));
        assert_eq!(hand(&log, &mut c, seq, &line(7), failures), ["line 7"]);
    }

    /// A member's own lines are skipped in a catch up (the engine skips them in
    /// letters); someone who fell behind the log is told how many it lost.
    #[test]
    fn own_lines_skipped_and_losses_told() {
        let me = Origin {
            engine: 0,
            conn: ConnId {
                loop_index: 0,
                token: 7,
            },
        };
        let mut log = LineLog::default();
        let mut c = log.cursor(0);
        c.me = Some(me);
        log.push(Some(me), line(1));
        log.push(None, line(2));
        let got = log.catch_up(&mut c, 1);
        assert_eq!(got, vec![line(2)]);
        let mut behind = log.cursor(1);
        for n in 0..KEEP_LINES + 3 {
            log.push(None, line(n));
        }
        let got = log.catch_up(&mut behind, 2);
        assert_eq!(got.len(), KEEP_LINES + 1);
        assert_eq!(
            &*got[0],
            b"* 3 lines lost: this member fell further behind than the room keeps"
        );
    }

    /// A letter's number and line come back as they went in.
    #[test]
    fn letters_round_trip() {
        let body = letter(42, b"hi");
        assert_eq!(open(&body), (42, &b"hi"[..]));
        assert_eq!(open(b"short").0, UNLOGGED);
    }
}
