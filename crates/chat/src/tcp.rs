//! A TCP member: lines in, lines out, on the event loop.
//!
//! TCP has no messages, so the chat invents the simplest framing there is: a
//! line ends at `\n`. Bytes are gathered until one arrives; a line longer than
//! the cap is cut there (the member is told) and the rest of it discarded up to
//! its `\n`. Both directions at once: while a member types, other members' lines
//! arrive on the same socket (TCP is full duplex, lesson 23). A member that
//! does not read is dropped, with a last line saying why, when its queue passes
//! `--slow-limit` or would pass the `--memory-budget` all members share.
//!
//! Try: `socklab serve chat`, then `ncat 127.0.0.1 7070` in two terminals.

use std::io;
use std::sync::Arc;

use lifecycle::FourTuple;
use lifecycle::narrate::plural;
use log::{info, warn};
use mio::net::TcpStream;
use serve::limits::Held;
use serve::v3_event_loop::{
    Mail, Progress, Readiness, Session, Step, Tracked, Turn, read_some, write_some,
};

use crate::Config;
use crate::lines::Cursor;
use crate::room::{Origin, Room, Transport, escape, label};

/// A drained queue bigger than this is freed rather than kept.
const KEEP_CAPACITY: usize = 64 * 1024;

/// The engine TCP members live on (index into the room's mailboxes).
pub const ENGINE: usize = 0;

/// One TCP member.
pub struct TcpMember {
    stream: Tracked,
    tuple: FourTuple,
    room: Arc<Room>,
    config: Arc<Config>,
    /// Bytes of the line being typed (no `\n` yet).
    line: Vec<u8>,
    /// The current line passed the cap: discard up to its `\n`.
    cutting: bool,
    /// Lines for this member, not yet written.
    output: Vec<u8>,
    /// Dropped for not reading: the last words are queued, nothing more is.
    leaving: bool,
    /// The member's FIN has been read (and narrated): the loop's close needs
    /// no drain, and says it no second time.
    peer_fin: bool,
    /// Where this member is in the room's line log.
    cursor: Cursor,
    /// This member's share of the server's memory budget: its queue and the
    /// line it is typing.
    held: Held,
}

impl TcpMember {
    /// A member for a fresh connection: the room hears it joined.
    pub fn new(
        stream: TcpStream,
        tuple: FourTuple,
        room: Arc<Room>,
        config: Arc<Config>,
        held: Held,
    ) -> TcpMember {
        let n = room.join();
        info!("[{tuple}] joined the room ({})", plural(n, "member"));
        // Before the announcement: the member hears its own join, as before.
        let cursor = room.cursor();
        room.announce(&format!(
            "* {} joined ({})",
            who(&tuple),
            plural(n, "member")
        ));
        TcpMember {
            stream: Tracked::new(stream, tuple),
            tuple,
            room,
            config,
            line: Vec::new(),
            cutting: false,
            output: Vec::new(),
            leaving: false,
            peer_fin: false,
            cursor,
            held,
        }
    }

    /// Charges what this member holds now (its queue, the line being typed) to
    /// the budget every member shares, TCP and WebSocket alike. Past `--memory-budget`, the member
    /// is the one that asked past it: its queue is let go (the others keep
    /// theirs), it is told why, and it leaves — as a WebSocket member would
    /// with 1013.
    fn charge(&mut self) {
        if self.leaving {
            // Only the last words are left: they can only shrink.
            let _ = self.held.set(self.output.capacity());
            return;
        }
        let holding = self.output.capacity() + self.line.capacity();
        let Err(over) = self.held.set(holding) else {
            return;
        };
        warn!(
            "[{}] memory budget: this member would hold {} bytes with {} held by all, over --memory-budget {} bytes: dropping this member",
            self.tuple, over.wanted, over.used, over.cap
        );
        // Counted with the members dropped for not reading: it is what they do.
        self.room
            .stats
            .dropped
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.output = b"\n* the server's memory is full: dropped from the room\n".to_vec();
        self.line = Vec::new();
        self.leaving = true;
        let _ = self.held.set(self.output.capacity());
    }

    fn flush(&mut self) -> io::Result<()> {
        while !self.output.is_empty() {
            match write_some(&mut self.stream, &self.output)? {
                Some(n) => {
                    self.output.drain(..n);
                }
                None => break,
            }
        }
        if self.output.is_empty() && self.output.capacity() > KEEP_CAPACITY {
            // A burst's room is given back (and to the budget), not kept.
            self.output = Vec::new();
        }
        Ok(())
    }

    // ANCHOR: lines
    /// Splits what arrived into lines and says each complete one to the room.
    fn take(&mut self, bytes: &[u8], me: Origin) {
        // Who this member is, for the log: its own lines are not refilled to it.
        self.cursor.me = Some(me);
        for &b in bytes {
            if b == b'\n' {
                if !std::mem::take(&mut self.cutting) {
                    let text = String::from_utf8_lossy(&self.line);
                    let text = text.strip_suffix('\r').unwrap_or(&text);
                    self.room.say(
                        Some(me),
                        &format!("[{}] {}", who(&self.tuple), escape(text)),
                    );
                }
                self.line.clear();
            } else if self.cutting {
                // The rest of an over-long line: dropped, as the member was told.
            } else if self.line.len() == self.config.max_line {
                let text = String::from_utf8_lossy(&self.line);
                self.room.say(
                    Some(me),
                    &format!("[{}] {}", who(&self.tuple), escape(&text)),
                );
                self.output.extend_from_slice(
                    format!(
                        "* your line was cut at {} bytes (--max-line); the rest of it is dropped\n",
                        self.config.max_line
                    )
                    .as_bytes(),
                );
                self.line.clear();
                self.cutting = true;
            } else {
                self.line.push(b);
            }
        }
    }
    // ANCHOR_END: lines
}

impl Session for TcpMember {
    fn ready(&mut self, ready: Readiness, turn: &mut Turn<'_>) -> io::Result<Step> {
        self.stream.on_event(ready);
        let me = Origin {
            engine: ENGINE,
            conn: turn.me,
        };
        let start = self.stream.progress().read;
        loop {
            self.flush()?;
            self.charge(); // after a write it can only have shrunk
            if self.leaving {
                return Ok(if self.output.is_empty() {
                    Step::Done
                } else {
                    Step::Wait
                });
            }
            if self.stream.progress().read - start >= turn.budget {
                return Ok(Step::Yield);
            }
            match read_some(&mut self.stream, turn.scratch)? {
                None => return Ok(Step::Wait),
                Some(0) => {
                    self.peer_fin = true;
                    return Ok(Step::Done);
                }
                Some(n) => {
                    self.take(&turn.scratch[..n], me);
                    self.charge();
                }
            }
        }
    }

    // ANCHOR: deliver
    /// A line from the room. Past the slow-consumer limit the member is told
    /// why, once, and dropped: everyone else keeps receiving at full speed.
    fn deliver(&mut self, mail: &Mail) -> io::Result<Step> {
        if self.leaving {
            return Ok(Step::Wait);
        }
        let output = &mut self.output;
        self.room.lines_for(&mut self.cursor, mail, |line| {
            output.extend_from_slice(line);
            output.push(b'\n');
        });
        if self.output.len() > self.config.slow_limit {
            warn!(
                "[{}] not reading: {} bytes queued (--slow-limit {}): dropping this member",
                self.tuple,
                self.output.len(),
                self.config.slow_limit
            );
            self.room
                .stats
                .dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.output
                .extend_from_slice(b"\n* you are not reading: dropped from the room\n");
            self.leaving = true;
        }
        self.charge();
        self.flush()?;
        Ok(if self.leaving && self.output.is_empty() {
            Step::Done
        } else {
            Step::Wait
        })
    }
    // ANCHOR_END: deliver

    fn stream(&self) -> Option<&TcpStream> {
        Some(self.stream.get_ref())
    }

    fn progress(&self) -> Progress {
        self.stream.progress()
    }

    fn pending(&self) -> usize {
        self.output.len()
    }

    fn read_closed(&self) -> bool {
        self.peer_fin
    }
}

impl Drop for TcpMember {
    fn drop(&mut self) {
        let n = self.room.leave();
        self.room.announce(&format!(
            "* {} left ({})",
            who(&self.tuple),
            plural(n, "member")
        ));
    }
}

/// How the room names a TCP member: `tcp 127.0.0.1:51234` (see [`label`]).
pub fn who(tuple: &FourTuple) -> String {
    label(Transport::Tcp, tuple)
}
