//! A WebSocket member: the page (or `socklab chat ws://…`) on the same port,
//! one message per line, both ways.
//!
//! The connection starts as HTTP: `GET /` gets the chat page and closes; a GET
//! with `Upgrade: websocket` gets 101 and from then on every text message is a
//! line for the room, and every line of the room is one text message back.
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
use serve::v3_event_loop::{
    Expiry, Mail, Progress, Readiness, Session, Step, Tracked, Turn, read_some, write_some,
};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};
use websocket::{Buffers, accept_upgrade};

use crate::room::ws_who as who;
use crate::room::{Origin, Room, escape};
use crate::{Config, PAGE};

/// The engine WebSocket members live on (index into the room's mailboxes).
pub const ENGINE: usize = 1;

enum Phase {
    /// Reading the HTTP request.
    Request(Vec<u8>),
    /// Upgraded: a member of the room.
    Member(Box<WebSocket<Buffers>>),
    /// The last bytes (the page, an error, a Close) are queued; then close.
    Leaving,
}

/// One WebSocket connection of the chat server.
pub struct WsMember {
    stream: Tracked,
    tuple: FourTuple,
    room: Arc<Room>,
    config: Arc<Config>,
    phase: Phase,
    /// Bytes for the peer before the Upgrade and after the end.
    output: Vec<u8>,
    joined: bool,
}

impl WsMember {
    /// A fresh connection: its HTTP request comes next.
    pub fn new(
        stream: TcpStream,
        tuple: FourTuple,
        room: Arc<Room>,
        config: Arc<Config>,
    ) -> WsMember {
        WsMember {
            stream: Tracked::new(stream, tuple),
            tuple,
            room,
            config,
            phase: Phase::Request(Vec::new()),
            output: Vec::new(),
            joined: false,
        }
    }

    fn queued(&self) -> usize {
        let ws = match &self.phase {
            Phase::Member(ws) => ws.get_ref().output.len(),
            _ => 0,
        };
        self.output.len() + ws
    }

    fn flush(&mut self) -> io::Result<()> {
        for out in [
            Some(&mut self.output),
            match &mut self.phase {
                Phase::Member(ws) => Some(&mut ws.get_mut().output),
                _ => None,
            },
        ]
        .into_iter()
        .flatten()
        {
            while !out.is_empty() {
                match write_some(&mut self.stream, out)? {
                    Some(n) => {
                        out.drain(..n);
                    }
                    None => return Ok(()),
                }
            }
        }
        Ok(())
    }

    /// Ends as a member: a Close frame with `code` and `reason` goes out last.
    fn leave(&mut self, code: CloseCode, reason: &str) {
        if let Phase::Member(ws) = &mut self.phase {
            let _ = ws.close(Some(CloseFrame {
                code,
                reason: reason.into(),
            }));
            let _ = ws.flush();
            let out = std::mem::take(&mut ws.get_mut().output);
            self.output.extend_from_slice(&out);
        }
        self.phase = Phase::Leaving;
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
        let upgrade = request.headers.has_token("upgrade", "websocket");
        let response = match (request.method.as_str(), upgrade, request.host()) {
            (_, _, Err(why)) => Err(Response::text(400, &why)),
            ("GET", true, Ok(_)) => accept_upgrade(&request),
            ("GET", false, Ok(_)) if request.target == "/" => {
                Err(Response::new(200).body("text/html; charset=utf-8", PAGE))
            }
            ("GET", false, Ok(_)) => Err(Response::text(
                404,
                "the chat page is at /, the room at a WebSocket",
            )),
            _ => Err(Response::text(405, "GET only").header("Allow", "GET")),
        };
        match response {
            Ok(switching) => {
                self.output.extend_from_slice(&switching);
                let n = self.room.join();
                self.joined = true;
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
                self.phase =
                    Phase::Member(Box::new(websocket::server(&rest, self.config.max_line)));
            }
            Err(r) => {
                self.output
                    .extend_from_slice(&r.header("Connection", "close").to_bytes());
                self.phase = Phase::Leaving;
            }
        }
    }

    /// Frames that arrived: each text message is a line for the room.
    fn frames(&mut self, bytes: &[u8], me: Origin) {
        let Phase::Member(ws) = &mut self.phase else {
            return;
        };
        ws.get_mut().input.extend(bytes);
        let mut said = Vec::new();
        let mut end = None;
        loop {
            match ws.read() {
                Ok(Message::Text(t)) => said.push(t.to_string()),
                Ok(Message::Binary(b)) => said.push(String::from_utf8_lossy(&b).into_owned()),
                Ok(_) => {} // Ping, Pong, Close: tungstenite answers them
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(tungstenite::Error::ConnectionClosed) => {
                    end = Some(None);
                    break;
                }
                Err(e) => {
                    // Too big (1009), not UTF-8 (1007), broken framing (1002).
                    let code = match &e {
                        tungstenite::Error::Capacity(_) => CloseCode::Size,
                        tungstenite::Error::Utf8(_) => CloseCode::Invalid,
                        _ => CloseCode::Protocol,
                    };
                    info!("[{}] {e}: closing with {}", self.tuple, u16::from(code));
                    end = Some(Some((code, e.to_string())));
                    break;
                }
            }
        }
        let _ = ws.flush();
        for line in said {
            self.room.say(
                Some(me),
                &format!("[{}] {}", who(&self.tuple), escape(&line)),
            );
        }
        match end {
            Some(Some((code, why))) => {
                let mut reason = why;
                reason.truncate(100);
                self.leave(code, &reason);
            }
            Some(None) => {
                if let Phase::Member(ws) = &mut self.phase {
                    let out = std::mem::take(&mut ws.get_mut().output);
                    self.output.extend_from_slice(&out);
                }
                self.phase = Phase::Leaving;
            }
            None => {}
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
            self.flush()?;
            if matches!(self.phase, Phase::Leaving) {
                return Ok(if self.queued() == 0 {
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
                Some(0) => return Ok(Step::Done),
                Some(n) => {
                    let bytes = &turn.scratch[..n];
                    match self.phase {
                        Phase::Request(_) => self.request(bytes),
                        Phase::Member(_) => self.frames(bytes, me),
                        Phase::Leaving => {}
                    }
                }
            }
        }
    }

    // ANCHOR: deliver
    /// A line from the room, as one text message. Past the slow-consumer limit
    /// the member gets Close 1008 (policy) saying why, and is dropped.
    fn deliver(&mut self, mail: &Mail) -> io::Result<Step> {
        let Phase::Member(ws) = &mut self.phase else {
            return Ok(Step::Wait);
        };
        let _ = ws.send(Message::text(
            String::from_utf8_lossy(&mail.body).into_owned(),
        ));
        if self.queued() > self.config.slow_limit {
            warn!(
                "[{}] not reading: {} bytes queued (--slow-limit {}): dropping this member with 1008",
                self.tuple,
                self.queued(),
                self.config.slow_limit
            );
            self.room
                .stats
                .dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.leave(CloseCode::Policy, "not reading: dropped from the room");
        }
        self.flush()?;
        Ok(
            if matches!(self.phase, Phase::Leaving) && self.queued() == 0 {
                Step::Done
            } else {
                Step::Wait
            },
        )
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
        matches!(self.phase, Phase::Request(_)).then_some(Duration::from_secs(10))
    }

    fn expire(&mut self, why: Expiry) {
        match self.phase {
            Phase::Request(_) => {
                let r = Response::text(408, "no complete request in time")
                    .header("Connection", "close");
                self.output.extend_from_slice(&r.to_bytes());
                self.phase = Phase::Leaving;
            }
            Phase::Member(_) => {
                let reason = match why {
                    Expiry::Idle => "idle timeout",
                    Expiry::Stalled => "not reading: write stalled",
                };
                self.leave(CloseCode::Away, reason);
            }
            Phase::Leaving => {}
        }
        let _ = self.flush();
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
