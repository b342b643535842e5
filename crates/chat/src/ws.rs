//! A WebSocket member: the page (or `socklab chat ws://…`) on the same port,
//! one message per line, both ways.
//!
//! The connection starts as HTTP: `GET /` gets the chat page and closes; a GET
//! with `Upgrade: websocket` gets 101 and from then on every text message is a
//! line for the room, and every line of the room is one text message back.
//!
//! The WebSocket itself — control frames, the close handshake, the memory
//! budget, the bounded output — is the `websocket` crate's [`Machine`], the same
//! one every server runs; a member is only its [`Lines`] handler (each message
//! is a line for the room) and the room's lines sent with [`Machine::send`].
//! So a member that floods Pings and never reads stops being read once its
//! queued Pongs pass the machine's bound, and is closed by the write-stall
//! clock; one that never reads the room's lines is dropped at `--slow-limit`.
//!
//! Try: `socklab serve chat`, open <http://127.0.0.1:8070/> in two browser tabs,
//! and `ncat 127.0.0.1 7070` beside them: one room.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use http1::{Parsed, Response, parse_request};
use lifecycle::FourTuple;
use lifecycle::narrate::plural;
use log::{info, warn};
use mio::net::TcpStream;
use serve::limits::Held;
use serve::v3_event_loop::{
    Expiry, Mail, Progress, Readiness, Session, Step, Tracked, Turn, read_some, write_some,
};
use tungstenite::Message;
use tungstenite::protocol::frame::coding::CloseCode;
use websocket::session::{flush, pump};
use websocket::{Decision, Handler, Machine, Outbox, Settings, asks_for_websocket, check_upgrade};

use crate::lines::Cursor;
use crate::room::ws_who as who;
use crate::room::{Origin, Room, escape};
use crate::{Config, PAGE};

/// The engine WebSocket members live on (index into the room's mailboxes).
pub const ENGINE: usize = 1;

/// How long a new connection has for its whole HTTP request (then 408).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

// ANCHOR: lines
/// A member's handler: each data message is a line for the room, kept until
/// the session says it (the session knows who it is in the room).
#[derive(Default)]
pub struct Lines {
    said: Vec<String>,
}

impl Handler for Lines {
    fn message(&mut self, message: Message, _out: &mut Outbox<'_>) {
        match message {
            Message::Text(t) => self.said.push(t.to_string()),
            Message::Binary(b) => self.said.push(String::from_utf8_lossy(&b).into_owned()),
            _ => {}
        }
    }
}
// ANCHOR_END: lines

enum Phase {
    /// Reading the HTTP request.
    Request(Vec<u8>),
    /// Upgraded: a member of the room, its WebSocket run by the machine.
    Member(Box<Machine<Lines>>),
    /// The last bytes (the page, an error) are queued; then close.
    Leaving,
}

/// One WebSocket connection of the chat server.
pub struct WsMember {
    stream: Tracked,
    tuple: FourTuple,
    room: Arc<Room>,
    config: Arc<Config>,
    settings: Arc<Settings>,
    phase: Phase,
    /// Bytes for the peer before the Upgrade (the page, an HTTP error).
    output: Vec<u8>,
    /// This connection's share of the memory budget, until the machine takes it.
    held: Option<Held>,
    joined: bool,
    /// Where this member is in the room's line log (from its join on).
    cursor: Cursor,
    /// The peer's FIN came before the request ended (and was narrated).
    early_fin: bool,
}

impl WsMember {
    /// A fresh connection: its HTTP request comes next.
    pub fn new(
        stream: TcpStream,
        tuple: FourTuple,
        room: Arc<Room>,
        config: Arc<Config>,
        settings: Arc<Settings>,
        held: Held,
    ) -> WsMember {
        // Replaced at the 101 (`joined`): a connection is not a member before.
        let room_cursor = room.cursor();
        WsMember {
            stream: Tracked::new(stream, tuple),
            tuple,
            room,
            config,
            settings,
            phase: Phase::Request(Vec::new()),
            output: Vec::new(),
            held: Some(held),
            joined: false,
            cursor: room_cursor,
            early_fin: false,
        }
    }

    fn queued(&self) -> usize {
        let ws = match &self.phase {
            Phase::Member(m) => m.output().len(),
            _ => 0,
        };
        self.output.len() + ws
    }

    /// Writes the HTTP answer queued before the Upgrade.
    fn flush_output(&mut self) -> io::Result<()> {
        while !self.output.is_empty() {
            match write_some(&mut self.stream, &self.output)? {
                Some(n) => {
                    self.output.drain(..n);
                }
                None => break,
            }
        }
        Ok(())
    }

    /// The HTTP request: the page, the Upgrade, or an error.
    fn request(&mut self, bytes: &[u8]) {
        let Phase::Request(head) = &mut self.phase else {
            return;
        };
        head.extend_from_slice(bytes);
        let request = match parse_request(head) {
            Ok(Parsed::Incomplete) => return,
            Ok(Parsed::Complete(request)) => request,
            Err(e) => {
                let r = Response::text(e.status(), &e.to_string()).header("Connection", "close");
                self.output.extend_from_slice(&r.to_bytes());
                self.phase = Phase::Leaving;
                return;
            }
        };
        let rest = head[request.head_len..].to_vec();
        // A request meant for WebSocket gets the one check every server runs
        // (crates/websocket): the same status and reason as `serve ws`.
        let decision = if asks_for_websocket(&request) {
            check_upgrade(&request, &self.settings.origins)
        } else {
            Decision::Page
        };
        let response = match (decision, request.method.as_str(), request.host()) {
            (Decision::Upgrade(up), _, _) => {
                // A request is decided once, so the budget's share is still here.
                let Some(held) = self.held.take() else {
                    return;
                };
                let machine = Machine::upgraded(
                    self.tuple,
                    Arc::clone(&self.settings),
                    held,
                    Lines::default(),
                    &up,
                    &rest,
                );
                self.phase = Phase::Member(Box::new(machine));
                return self.joined();
            }
            (Decision::Reject(r), _, _) => {
                info!(
                    "[{}] {} {}: {}",
                    self.tuple,
                    r.status,
                    http1::reason_phrase(r.status),
                    r.reason
                );
                self.output.extend_from_slice(&r.response());
                self.phase = Phase::Leaving;
                return;
            }
            (_, _, Err(why)) => Response::text(400, &why),
            (_, "GET", Ok(_)) if request.target == "/" => {
                Response::new(200).body("text/html; charset=utf-8", PAGE)
            }
            (_, "GET", Ok(_)) => {
                Response::text(404, "the chat page is at /, the room at a WebSocket")
            }
            _ => Response::text(405, "GET only").header("Allow", "GET"),
        };
        self.output
            .extend_from_slice(&response.header("Connection", "close").to_bytes());
        self.phase = Phase::Leaving;
    }

    /// The 101 is queued: one more member, announced to the room.
    fn joined(&mut self) {
        let n = self.room.join();
        self.joined = true;
        // Before the announcement: the member hears its own join.
        self.cursor = self.room.cursor();
        info!(
            "[{}] 101: joined the room ({})",
            self.tuple,
            plural(n, "member")
        );
        self.room.announce(&format!(
            "* {} joined ({})",
            who(&self.tuple),
            plural(n, "member")
        ));
    }

    /// What the member said since the last time, to the room.
    fn say(&mut self, me: Origin) {
        // Who this member is, for the log: its own lines are not refilled to it.
        self.cursor.me = Some(me);
        let Phase::Member(m) = &mut self.phase else {
            return;
        };
        for line in std::mem::take(&mut m.handler_mut().said) {
            self.room.say(
                Some(me),
                &format!("[{}] {}", who(&self.tuple), escape(&line)),
            );
        }
    }
}

impl Session for WsMember {
    fn ready(&mut self, ready: Readiness, turn: &mut Turn<'_>) -> io::Result<Step> {
        self.stream.on_event(ready);
        let me = Origin {
            engine: ENGINE,
            conn: turn.me,
        };
        let start = self.stream.progress().read;
        loop {
            match &mut self.phase {
                // A member: the machine's loop (write, backpressure, fairness,
                // read), then what it said goes to the room.
                Phase::Member(m) => {
                    let step = pump(&mut self.stream, m, turn, start);
                    self.say(me);
                    return step;
                }
                Phase::Leaving => {
                    self.flush_output()?;
                    return Ok(if self.output.is_empty() {
                        Step::Done
                    } else {
                        Step::Wait
                    });
                }
                Phase::Request(_) => {
                    if self.stream.progress().read - start >= turn.budget {
                        return Ok(Step::Yield);
                    }
                    match read_some(&mut self.stream, turn.scratch)? {
                        None => return Ok(Step::Wait),
                        Some(0) => {
                            self.early_fin = true;
                            return Ok(Step::Done);
                        }
                        Some(n) => {
                            let bytes = turn.scratch[..n].to_vec();
                            self.request(&bytes);
                        }
                    }
                }
            }
        }
    }

    // ANCHOR: deliver
    /// A line from the room, as one text message, queued by the machine (so it
    /// counts against the memory budget). Past the slow-consumer limit the
    /// member gets Close 1008 (policy) saying why, and is dropped.
    fn deliver(&mut self, mail: &Mail) -> io::Result<Step> {
        let Phase::Member(m) = &mut self.phase else {
            return Ok(Step::Wait);
        };
        self.room.lines_for(&mut self.cursor, mail, |line| {
            m.send(Message::text(String::from_utf8_lossy(line).into_owned()));
        });
        if !m.is_done() && m.output().len() > self.config.slow_limit {
            warn!(
                "[{}] not reading: {} bytes queued (--slow-limit {}): dropping this member with 1008",
                self.tuple,
                m.output().len(),
                self.config.slow_limit
            );
            self.room
                .stats
                .dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            m.close(CloseCode::Policy, "not reading: dropped from the room");
        }
        flush(&mut self.stream, m)?;
        Ok(if m.is_done() && m.output().is_empty() {
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
        self.queued()
    }

    fn opening_deadline(&self) -> Option<Duration> {
        matches!(self.phase, Phase::Request(_)).then_some(REQUEST_TIMEOUT)
    }

    /// The peer's FIN has been read and said once (by the read, and by the
    /// machine for a member): the loop's close needs no drain to say it again.
    fn read_closed(&self) -> bool {
        match &self.phase {
            Phase::Member(m) => m.peer_fin(),
            _ => self.early_fin,
        }
    }

    fn expire(&mut self, why: Expiry) {
        match &mut self.phase {
            Phase::Request(_) => {
                let r = Response::text(408, "no complete request in time")
                    .header("Connection", "close");
                self.output.extend_from_slice(&r.to_bytes());
                self.phase = Phase::Leaving;
                let _ = self.flush_output();
            }
            // 1001 Going Away, said by the machine.
            Phase::Member(m) => {
                m.expire(why);
                let _ = flush(&mut self.stream, m);
            }
            Phase::Leaving => {}
        }
    }
}

impl Drop for WsMember {
    fn drop(&mut self) {
        if self.joined {
            let n = self.room.leave();
            self.room.announce(&format!(
                "* {} left ({})",
                who(&self.tuple),
                plural(n, "member")
            ));
        }
    }
}
