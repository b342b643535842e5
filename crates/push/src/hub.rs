//! The event source: numbered events, the last few kept, each one posted to
//! every connection through the engine's mailbox.
//!
//! Every technique delivers the *same* events, so they can be compared: an
//! event has an id (1, 2, 3 … never reused), the time it was created, and its
//! data. The hub keeps the last [`KEEP`] of them, at most [`KEEP_BYTES`]
//! (the window), so a poll
//! (`?since=ID`), a long poll, a Server-Sent Events client reconnecting with
//! `Last-Event-ID`, or a subscriber that fell behind can catch up from here;
//! older ones are gone, as in any real server, and a client that asks for them
//! is told which ids it missed ([`Replay::missed`]).
//!
//! The hub is the one place events wait. A connection's own queue holds at
//! most one answer's worth ([`crate::session::ANSWER_CAP`]); a subscriber
//! behind that reads the rest from here as it drains, in batches of the same
//! size — so a thousand events for a client that does not read cost the server
//! nothing more than the window it keeps anyway.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use log::warn;
use serve::v3_event_loop::{Mail, Mailbox, PostError};

/// Events kept for clients catching up (polls, `Last-Event-ID`), by default.
pub const KEEP: usize = 1024;

/// Bytes of JSON the window keeps at most, whatever `KEEP` says: a thousand
/// ticks take 64 KB, but a thousand 4 KiB lines of control characters (each
/// `\u0001` six bytes in JSON) would take 24 MB. Past it, the oldest go first.
pub const KEEP_BYTES: usize = 4 << 20;

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

    /// A mailbox letter: the id (8 bytes, big-endian), then the event's JSON.
    fn letter(id: u64, json: &str) -> Vec<u8> {
        let mut body = id.to_be_bytes().to_vec();
        body.extend_from_slice(json.as_bytes());
        body
    }

    /// The id and JSON of a letter made by `Event::letter`.
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

/// Where the hub posts each event: the engine's [`Mailbox`] (to every
/// connection of every loop), or a recorder in a test.
pub trait Outbox: Send + Sync {
    /// Posts `mail` to every connection.
    fn broadcast(&self, mail: Mail) -> Result<usize, PostError>;
}

impl Outbox for Mailbox {
    fn broadcast(&self, mail: Mail) -> Result<usize, PostError> {
        Mailbox::broadcast(self, mail)
    }
}

/// A bounded catch-up: the events after a cursor, as many as fit in a byte cap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replay {
    /// The events' ids and JSON, oldest first (at least one if any is newer
    /// than the cursor, even one bigger than the cap). The JSON is made once,
    /// when the event is published, and shared.
    pub events: Vec<(u64, Arc<str>)>,
    /// Whether newer events remain after the last one here: the answer was cut
    /// at the cap, and the client continues from the last id on its next request.
    pub more: bool,
    /// Ids after the cursor that are no longer kept (first, last): the client
    /// asked for what the window has dropped.
    pub missed: Option<(u64, u64)>,
}

impl Replay {
    /// The id of the last event here, or `since` if there is none.
    pub fn last(&self, since: u64) -> u64 {
        self.events.last().map_or(since, |(id, _)| *id)
    }
}

/// The kept events, and the bytes of JSON they take.
#[derive(Default)]
struct Window {
    events: VecDeque<(u64, Arc<str>)>,
    bytes: usize,
}

impl Window {
    /// Keeps one more event, dropping the oldest past `keep` events or
    /// [`KEEP_BYTES`] (the newest is always kept).
    fn push(&mut self, id: u64, json: Arc<str>, keep: usize) {
        self.bytes += json.len();
        self.events.push_back((id, json));
        while self.events.len() > 1 && (self.events.len() > keep || self.bytes > KEEP_BYTES) {
            if let Some((_, old)) = self.events.pop_front() {
                self.bytes -= old.len();
            }
        }
    }
}

/// The event source of one push server.
pub struct Hub {
    /// The window: the last `keep` events' ids and JSON (at most
    /// [`KEEP_BYTES`] of it, counted in `bytes`), ids consecutive.
    recent: Mutex<Window>,
    /// The newest id, readable without the lock: every letter a subscriber
    /// gets is also a chance to see whether it is behind (see `publish`).
    last: AtomicU64,
    keep: usize,
    outbox: Box<dyn Outbox>,
    /// Events that could not be posted to some loop (its mailbox was full).
    /// Not lost: that loop's subscribers see the next event's id jump and read
    /// the missing ones from the window.
    pub undelivered: AtomicUsize,
}

impl Hub {
    /// A hub keeping the last `keep` events, posting through `outbox`.
    pub fn new(outbox: impl Outbox + 'static, keep: usize) -> Arc<Hub> {
        Arc::new(Hub {
            recent: Mutex::new(Window::default()),
            last: AtomicU64::new(0),
            keep: keep.max(1),
            outbox: Box::new(outbox),
            undelivered: AtomicUsize::new(0),
        })
    }

    // ANCHOR: publish
    /// Creates the next event and posts it to every connection of every loop.
    /// Each connection's session decides how its technique delivers it (or
    /// ignores it: a short-poll client is not listening between requests).
    ///
    /// The id is given and the event posted under one lock: were it posted after
    /// the lock, two publishers at once (the timer and a POST) could post 507
    /// before 506, and every subscriber would see them out of order.
    pub fn publish(&self, data: String) -> Event {
        let mut window = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let id = window.events.back().map_or(1, |(id, _)| id + 1);
        let event = Event {
            id,
            at_us: now_us(),
            data,
        };
        let json = event.json();
        let mail = Mail {
            from: None,
            body: Arc::from(Event::letter(id, &json)),
        };
        window.push(id, Arc::from(json), self.keep);
        self.last.store(id, Ordering::Release);
        // A post never waits (a full inbox fails at once), so holding the lock
        // here costs the other publisher microseconds, not a loop's backlog.
        if let Err(e) = self.outbox.broadcast(mail) {
            // Not silently: counted, and not lost. A post fails only when that
            // loop's inbox is full, so letters are still waiting there; each
            // subscriber handed one sees this count change and reads the
            // rest from the window.
            let n = self.undelivered.fetch_add(1, Ordering::Relaxed) + 1;
            // Said at the 1st, 2nd, 4th, 8th … time, not once per event.
            if n.is_power_of_two() {
                warn!(
                    "event {} not posted to every loop: {e} ({n} so far; said at the 1st, 2nd, 4th, 8th … time)",
                    event.id
                );
            }
        }
        event
    }
    // ANCHOR_END: publish

    // ANCHOR: replay
    /// The kept events newer than `since`, oldest first, until their JSON
    /// passes `cap` bytes: one answer's worth, never the whole window.
    pub fn replay(&self, since: u64, cap: usize) -> Replay {
        let window = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let recent = &window.events;
        let mut replay = Replay::default();
        let oldest = recent.front().map_or(since + 1, |(id, _)| *id);
        if oldest > since + 1 {
            replay.missed = Some((since + 1, oldest - 1));
        }
        // Ids are consecutive: the first one after `since` is found by subtraction.
        let skip = usize::try_from((since + 1).saturating_sub(oldest)).unwrap_or(usize::MAX);
        let mut bytes = 0;
        for (id, json) in recent.iter().skip(skip) {
            if bytes >= cap {
                replay.more = true;
                break;
            }
            bytes += json.len();
            replay.events.push((*id, Arc::clone(json)));
        }
        replay
    }
    // ANCHOR_END: replay

    /// The oldest kept event's id (1 before the first): a cursor below it
    /// minus one has lost events.
    pub fn oldest_id(&self) -> u64 {
        let window = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        window.events.front().map_or(1, |(id, _)| *id)
    }

    /// The newest event's id (0 before the first). No lock: one atomic load.
    pub fn last_id(&self) -> u64 {
        self.last.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    /// Records every id posted, in the order posts happened.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<u64>>>);

    impl Outbox for Recorder {
        fn broadcast(&self, mail: Mail) -> Result<usize, PostError> {
            let (id, _) = Event::from_letter(&mail.body).ok_or(PostError::Gone)?;
            self.0.lock().unwrap().push(id);
            Ok(1)
        }
    }

    /// Two publishers at once: every post leaves in id order (1, 2, 3 …), so no
    /// subscriber can see 507 before 506.
    #[test]
    fn two_publishers_post_in_id_order() {
        const EACH: u64 = 5000;
        let recorder = Recorder::default();
        let hub = Hub::new(recorder.clone(), KEEP);
        let publishers: Vec<_> = (0..2)
            .map(|p| {
                let hub = Arc::clone(&hub);
                thread::spawn(move || {
                    for n in 0..EACH {
                        hub.publish(format!("{p}:{n}"));
                    }
                })
            })
            .collect();
        for p in publishers {
            p.join().unwrap();
        }
        let posted = recorder.0.lock().unwrap().clone();
        assert_eq!(posted, (1..=2 * EACH).collect::<Vec<_>>());
    }

    /// A replay stops at the cap and says more is left; a cursor older than the
    /// window says which ids are gone.
    #[test]
    fn replay_is_capped_and_names_what_is_missed() {
        let hub = Hub::new(Recorder::default(), 4);
        for n in 0..6 {
            hub.publish(format!("event {n}"));
        }
        // Ids 3..=6 are kept; 1 and 2 have left the window.
        let all = hub.replay(0, usize::MAX);
        let ids: Vec<u64> = all.events.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [3, 4, 5, 6]);
        assert_eq!((all.more, all.missed), (false, Some((1, 2))));
        // A cap of one byte still carries one event, and says more are left.
        let one = hub.replay(3, 1);
        assert_eq!(one.events.len(), 1);
        assert_eq!((one.last(3), one.more, one.missed), (4, true, None));
        let none = hub.replay(6, 1);
        assert_eq!((none.last(6), none.more), (6, false));
    }

    /// The window is bounded in bytes too: big events push the oldest out
    /// before `keep` is reached, and the newest is always kept.
    #[test]
    fn the_window_is_bounded_in_bytes() {
        let hub = Hub::new(Recorder::default(), KEEP);
        let big = "x".repeat(KEEP_BYTES / 4);
        for _ in 0..10 {
            hub.publish(big.clone());
        }
        let all = hub.replay(0, usize::MAX);
        let ids: Vec<u64> = all.events.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [8, 9, 10], "three fit in KEEP_BYTES, four do not");
        assert_eq!(all.missed, Some((1, 7)));
        let huge = "x".repeat(KEEP_BYTES);
        hub.publish(huge);
        assert_eq!(hub.oldest_id(), 11);
    }
}
