//! The event source: numbered events, the last few kept, each one posted to
//! every connection through the engine's mailbox.
//!
//! Every technique delivers the *same* events, so they can be compared: an
//! event has an id (1, 2, 3 … never reused), the time it was created, and its
//! data. The hub keeps the last [`KEEP`] of them, so a poll (`?since=ID`), a
//! long poll, or a Server-Sent Events client reconnecting with `Last-Event-ID`
//! can catch up; older ones are gone, as in any real server, and a client that
//! asks for them is told which ids it missed.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use log::warn;
use serve::v3_event_loop::{Mail, Mailbox};

/// Events kept for clients catching up (polls, `Last-Event-ID`).
pub const KEEP: usize = 1024;

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// 1, 2, 3 …: the order of creation, and the cursor clients send back.
    pub id: u64,
    /// When it was created, in microseconds since the Unix epoch: a client on
    /// the same machine subtracts it from its own clock to get the delivery latency.
    pub at_us: u64,
    /// What happened: `tick N` from the timer, or a line a client sent.
    pub data: String,
}

impl Event {
    /// The event as one line of JSON: `{"id":3,"at_us":…,"data":"tick 3"}`.
    pub fn json(&self) -> String {
        serde_json::json!({ "id": self.id, "at_us": self.at_us, "data": self.data }).to_string()
    }

    /// The event as a mailbox letter: its id (8 bytes, big-endian), then its JSON.
    fn letter(&self) -> Vec<u8> {
        let mut body = self.id.to_be_bytes().to_vec();
        body.extend_from_slice(self.json().as_bytes());
        body
    }

    /// The id and JSON of a letter made by [`Event::letter`].
    pub fn from_letter(body: &[u8]) -> Option<(u64, &str)> {
        let (id, json) = body.split_at_checked(8)?;
        let id = u64::from_be_bytes(id.try_into().ok()?);
        Some((id, std::str::from_utf8(json).ok()?))
    }
}

/// Microseconds since the Unix epoch, now.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The event source of one push server.
pub struct Hub {
    recent: Mutex<VecDeque<Event>>,
    mailbox: Mailbox,
    /// Events that could not be posted to some loop (its mailbox was full).
    pub undelivered: AtomicUsize,
}

impl Hub {
    /// A hub posting through `mailbox`.
    pub fn new(mailbox: Mailbox) -> Arc<Hub> {
        Arc::new(Hub {
            recent: Mutex::new(VecDeque::with_capacity(KEEP)),
            mailbox,
            undelivered: AtomicUsize::new(0),
        })
    }

    // ANCHOR: publish
    /// Creates the next event and posts it to every connection of every loop.
    /// Each connection's session decides how its technique delivers it (or
    /// ignores it: a short-poll client is not listening between requests).
    pub fn publish(&self, data: String) -> Event {
        let event = {
            let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            let id = recent.back().map_or(1, |e| e.id + 1);
            let event = Event {
                id,
                at_us: now_us(),
                data,
            };
            if recent.len() == KEEP {
                recent.pop_front();
            }
            recent.push_back(event.clone());
            event
        };
        let mail = Mail {
            from: None,
            body: Arc::from(event.letter()),
        };
        if let Err(e) = self.mailbox.broadcast(mail) {
            // Not silently: counted, and the pollers can still catch up.
            self.undelivered.fetch_add(1, Ordering::Relaxed);
            warn!("event {} not posted to every loop: {e}", event.id);
        }
        event
    }
    // ANCHOR_END: publish

    /// The kept events newer than `since`, oldest first.
    pub fn since(&self, since: u64) -> Vec<Event> {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.iter().filter(|e| e.id > since).cloned().collect()
    }

    /// The newest event's id (0 before the first).
    pub fn last_id(&self) -> u64 {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.back().map_or(0, |e| e.id)
    }
}
