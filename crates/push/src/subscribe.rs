//! Feeding a subscriber (chunked stream, Server-Sent Events, WebSocket): every
//! event once, in id order, without its queue growing.
//!
//! A subscriber keeps a cursor: the last event id it was given. An event
//! arriving through the mailbox is queued at once when it is the next one and
//! the queue has room. Otherwise the subscriber is *behind* — the client reads
//! slowly, or a letter never came (a loop's mailbox was full) — and it catches
//! up from the hub's window, one batch of at most [`ANSWER_CAP`] bytes at a
//! time, as its queue drains. The window is the buffer, shared by everyone;
//! a connection's own queue stays under one answer's worth.
//!
//! A subscriber that falls further behind than the window keeps has lost
//! events, and is told so in its technique's own way ([`PushSession::gap`]) —
//! or, if it is not reading at all, dropped: it would never read the notice.

use std::io;
use std::sync::atomic::Ordering;

use log::{info, warn};
use serve::v3_event_loop::Step;

use crate::session::{ANSWER_CAP, Mode, PushSession};

impl PushSession {
    /// Whether this connection is a subscriber (fed events as they come).
    fn subscribed(&self) -> bool {
        matches!(self.mode, Mode::Streaming | Mode::Sse | Mode::WebSocket(_))
    }

    // ANCHOR: deliver
    /// An event arrived from the hub: each technique delivers it its own way.
    pub(crate) fn push(&mut self, id: u64, json: &str) -> Step {
        if let Mode::Holding { since, close, .. } = self.mode {
            // Any letter will do: a lost one's event is in the hub all the same.
            if id > since || self.hub.last_id() > since {
                let replay = self.hub.replay(since, ANSWER_CAP);
                self.answer_held(&replay, since, close);
            }
            return Step::Wait;
        }
        if !self.subscribed() || id <= self.cursor {
            // Short polling and idle keep-alive connections are not listening;
            // an id at or below the cursor was already given by a catch-up.
            return Step::Wait;
        }
        if id == self.cursor + 1 && self.queued() < ANSWER_CAP {
            self.emit(id, json);
            // A post failed since we last looked (a full mailbox): newer events
            // whose letters never came are read from the window now, not at
            // the next letter. (Otherwise their letters are on their way.)
            let lost = self.hub.undelivered.load(Ordering::Relaxed);
            if lost != self.lost_seen {
                self.lost_seen = lost;
                self.catch_up();
            }
            return Step::Wait;
        }
        // Behind. A client that has not read while the whole window went by
        // is not reading at all: the notice would never reach it either.
        if self.queued() >= ANSWER_CAP && self.hub.oldest_id() > self.cursor + 1 {
            warn!(
                "[{}] not reading: {} bytes queued and events after {} already gone from the \
                 window: dropping this client",
                self.tuple,
                self.queued(),
                self.cursor
            );
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return Step::Done;
        }
        self.catch_up();
        Step::Wait
    }
    // ANCHOR_END: deliver

    // ANCHOR: catch_up
    /// Reads on from the hub's window while the client's queue has room: after
    /// a replay (`Last-Event-ID`), after a slow read, after a lost letter.
    pub(crate) fn catch_up(&mut self) {
        while self.subscribed() && self.queued() < ANSWER_CAP {
            if self.cursor >= self.hub.last_id() {
                return;
            }
            let replay = self.hub.replay(self.cursor, ANSWER_CAP - self.queued());
            if let Some((from, to)) = replay.missed {
                self.gap(from, to);
            }
            if replay.events.is_empty() {
                return;
            }
            for (id, json) in &replay.events {
                if !self.subscribed() {
                    return; // ended: over budget, or a gap closed a stream
                }
                self.emit(*id, json);
            }
        }
    }
    // ANCHOR_END: catch_up

    /// Writes, and feeds a subscriber behind from the hub, until it is caught
    /// up or the socket takes no more (a writable event brings us back).
    pub(crate) fn feed(&mut self) -> io::Result<()> {
        loop {
            self.flush()?;
            let before = self.cursor;
            self.catch_up();
            if self.cursor == before || self.stream.write_blocked() {
                return self.flush();
            }
        }
    }

    /// Queues one event in the subscriber's format and moves its cursor.
    fn emit(&mut self, id: u64, json: &str) {
        let bytes = match &self.mode {
            Mode::Streaming => chunk(&format!("{json}\n")),
            Mode::Sse => sse_block(id, json),
            Mode::WebSocket(_) => {
                self.cursor = id;
                return self.ws_send(json.to_string());
            }
            _ => return,
        };
        match self.queue(bytes.as_bytes()) {
            Ok(()) => self.cursor = id,
            Err(over) => self.over_budget(over),
        }
    }

    // ANCHOR: gap
    /// Events `from..=to` left the window before this subscriber got them. It
    /// is told, in its technique's format, and goes on from the oldest kept:
    ///
    /// - SSE: an `event: gap` block (an `EventSource` listens for it with
    ///   `addEventListener("gap", …)`; `onmessage` never sees it). Not a close:
    ///   resuming with `Last-Event-ID` would find the same events gone.
    /// - chunked stream: a last chunk saying so, and the end of the response
    ///   (it has no way to resume, so it is not continued past a hole).
    /// - WebSocket: a text message `{"gap":{"from":…,"to":…}}`.
    fn gap(&mut self, from: u64, to: u64) {
        self.stats.gaps.fetch_add(1, Ordering::Relaxed);
        info!(
            "[{}] events {from}..={to} missed: telling the client",
            self.tuple
        );
        let notice = serde_json::json!({ "gap": { "from": from, "to": to } }).to_string();
        let bytes = match &self.mode {
            Mode::Sse => format!("event: gap\ndata: {notice}\n\n"),
            Mode::Streaming => {
                self.mode = Mode::Closing;
                format!("{}0\r\n\r\n", chunk(&format!("{notice}\n")))
            }
            Mode::WebSocket(_) => return self.ws_send(notice),
            _ => return,
        };
        if self.queue(bytes.as_bytes()).is_err() {
            self.mode = Mode::Closing; // over budget: it ends without the notice
        }
        self.cursor = to;
    }
    // ANCHOR_END: gap

    /// A long poll's event came: answered, and the requests pipelined behind it
    /// are served.
    fn answer_held(&mut self, replay: &crate::hub::Replay, since: u64, close: bool) {
        self.answer(replay, since, close);
        self.take_input();
    }

    /// Over budget mid-stream: the stream ends in its own format. Returns
    /// whether this was a stream (a request gets its 503 instead).
    pub(crate) fn end_stream_over_budget(&mut self) -> bool {
        let last = match &self.mode {
            Mode::Streaming => {
                let notice = "{\"ended\":\"the server's memory budget is spent\"}\n";
                format!("{}0\r\n\r\n", chunk(notice))
            }
            Mode::Sse => ": the server's memory budget is spent: reconnect later\n\n".to_string(),
            Mode::WebSocket(_) => {
                self.ws_close_over_budget();
                return true;
            }
            _ => return false,
        };
        // Uncharged: a few bytes, and the connection ends with them.
        self.output.extend_from_slice(last.as_bytes());
        self.mode = Mode::Closing;
        true
    }
}

/// One chunk of a chunked body: its size in hex, CRLF, the bytes, CRLF.
fn chunk(data: &str) -> String {
    format!("{:x}\r\n{data}\r\n", data.len())
}

/// One Server-Sent Events block: the id the browser will send back as
/// `Last-Event-ID` when it reconnects, and the data.
fn sse_block(id: u64, json: &str) -> String {
    format!("id: {id}\ndata: {json}\n\n")
}
