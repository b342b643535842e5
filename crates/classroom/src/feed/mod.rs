//! The feed: raw events from the students' servers in, merged events out to
//! every dashboard, once per tick, through the dashboard engine's mailbox.
//!
//! Two rules keep a classroom from hurting the lesson it shows:
//!
//! - **The students' servers never wait for the feed.** They record a raw
//!   event with `try_send` into a bounded channel ([`RAW_CAPACITY`]); when it
//!   is full the event is counted, not queued, and every dashboard is told
//!   with a `skip` notice. A slow dashboard therefore never slows a student.
//! - **A tick merges.** A flood of reads becomes one `data` event per
//!   connection per [`TICK`], its bytes summed; frames likewise, with the
//!   first [`FRAMES_SHOWN`] headers kept. So the feed's size follows the
//!   number of connections, not the number of bytes.
//!
//! The ticker is one thread outside the loops; it posts each tick's events as
//! one letter to the dashboard's loops ([`serve::v3_event_loop::Mailbox`]),
//! where each dashboard connection sends what fits and counts what does not.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use lifecycle::{Shutdown, TcpState};
use serde_json::Value;
use serve::v3_event_loop::{Mail, Mailbox};

use crate::event::{ConnNo, Dir, FrameSeen, Raw, Skipped};

mod outside;
mod tick;
use crate::report::Progress;

/// How often merged events go out: ten times a second, fast enough to look
/// live, slow enough that a flood is one event per tick.
pub const TICK: Duration = Duration::from_millis(100);

/// Raw events waiting for the ticker, at most; past it they are counted only.
pub const RAW_CAPACITY: usize = 64 * 1024;

/// Frame headers shown per connection per tick; the rest are counted.
pub const FRAMES_SHOWN: usize = 8;

/// How often the kernel is asked for each live TCP connection's state.
pub const STATE_EVERY: Duration = Duration::from_secs(1);

/// Connections whose kernel state is asked per [`STATE_EVERY`], at most: a
/// sock_diag request costs tens of microseconds, and a class of thousands
/// must not keep the ticker busy. Past it, the next round goes on where this
/// one stopped.
pub const STATE_LOOKUPS: usize = 512;

/// A UDP "connection" (one peer address) is over after this long silent: UDP
/// has no FIN to say so.
pub const UDP_IDLE: Duration = Duration::from_secs(30);

/// What the dashboard remembers of a live connection, for a dashboard that
/// opens later (its first rows).
#[derive(Debug, Clone)]
struct Live {
    open: Value,
    local: SocketAddr,
    peer: SocketAddr,
    proto: &'static str,
    state: Option<TcpState>,
    info: Option<crate::kernel::TcpInfo>,
    bytes_in: u64,
    bytes_out: u64,
}

/// One connection's events in the tick being gathered.
#[derive(Debug, Default)]
struct Merge {
    open: Option<Value>,
    bytes_in: u64,
    bytes_out: u64,
    reads: u64,
    frames: Vec<FrameSeen>,
    frame_count: u64,
    close: Option<&'static str>,
}

/// The classroom's event hub: what the students' servers record into and the
/// dashboards read from. Shared as an `Arc`.
pub struct Feed {
    raw: SyncSender<Raw>,
    receiver: Mutex<Option<Receiver<Raw>>>,
    /// Raw events that did not fit in the channel, by kind.
    dropped: Mutex<Skipped>,
    next_conn: AtomicU64,
    /// The dashboard's loops, once its server runs.
    mailbox: OnceLock<Mailbox>,
    live: Mutex<BTreeMap<ConnNo, Live>>,
    /// UDP peers seen, and when last.
    udp: Mutex<HashMap<SocketAddr, (ConnNo, Instant)>>,
    /// Ports watched from outside ([`outside`]), by name.
    ports: Mutex<Vec<(&'static str, SocketAddr)>>,
    /// Their connections at the last look.
    outside: Mutex<HashMap<(SocketAddr, SocketAddr), outside::Outside>>,
    /// The class's exercise results.
    pub progress: Progress,
    /// Events dashboards left out (their queue full), all dashboards summed:
    /// `classroom_skipped` in `--stats-file`.
    skipped: AtomicU64,
}

impl Feed {
    /// A feed with nobody reading yet; [`Feed::start`] starts its ticker.
    pub fn new() -> Arc<Feed> {
        let (raw, receiver) = mpsc::sync_channel(RAW_CAPACITY);
        Arc::new(Feed {
            raw,
            receiver: Mutex::new(Some(receiver)),
            dropped: Mutex::new(Skipped::default()),
            next_conn: AtomicU64::new(1),
            mailbox: OnceLock::new(),
            live: Mutex::new(BTreeMap::new()),
            udp: Mutex::new(HashMap::new()),
            ports: Mutex::new(Vec::new()),
            outside: Mutex::new(HashMap::new()),
            progress: Progress::default(),
            skipped: AtomicU64::new(0),
        })
    }

    /// Counts `n` events a dashboard left out because its queue was full.
    pub fn count_skipped(&self, n: u64) {
        self.skipped.fetch_add(n, Ordering::Relaxed);
    }

    /// Events dashboards have left out so far, all dashboards summed.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// A fresh connection number.
    pub fn next_conn(&self) -> ConnNo {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Records a raw event; never waits. A full channel counts it as skipped.
    pub fn record(&self, event: Raw) {
        match self.raw.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(e) | TrySendError::Disconnected(e)) => {
                let mut d = self.dropped.lock().unwrap_or_else(|p| p.into_inner());
                d.events += 1;
                match e {
                    Raw::Open { .. } => d.opens += 1,
                    Raw::Close { .. } => d.closes += 1,
                    Raw::Data {
                        dir: Dir::In,
                        bytes,
                        ..
                    } => d.bytes_in += bytes,
                    Raw::Data {
                        dir: Dir::Out,
                        bytes,
                        ..
                    } => d.bytes_out += bytes,
                    Raw::Frame { .. } => d.frames += 1,
                }
            }
        }
    }

    /// One UDP datagram from `peer` to `local`: its "connection" is the peer
    /// address, opened by its first datagram. `None`: a peer the table has no
    /// room for ([`crate::MAX_UDP_PEERS`]), not shown.
    pub fn udp_datagram(&self, local: SocketAddr, peer: SocketAddr) -> Option<ConnNo> {
        let mut udp = self.udp.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if let Some((conn, seen)) = udp.get_mut(&peer) {
            *seen = now;
            return Some(*conn);
        }
        if udp.len() >= crate::MAX_UDP_PEERS {
            return None;
        }
        let conn = self.next_conn();
        udp.insert(peer, (conn, now));
        drop(udp);
        self.record(Raw::Open {
            conn,
            proto: "udp",
            local,
            peer,
        });
        Some(conn)
    }

    /// Whether `peer` is a UDP student already.
    pub fn udp_known(&self, peer: SocketAddr) -> bool {
        let udp = self.udp.lock().unwrap_or_else(|p| p.into_inner());
        udp.contains_key(&peer)
    }

    /// Sets where merged events go: the dashboard server's loops.
    pub fn attach(&self, mailbox: Mailbox) {
        let _ = self.mailbox.set(mailbox);
    }

    /// The first rows a new dashboard gets: an `open` per live connection
    /// (with its bytes so far) and the class's exercise results, each marked
    /// `"snapshot": true` (they repeat what earlier ticks said).
    pub fn snapshot(&self) -> Vec<String> {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let mut lines: Vec<String> = live
            .values()
            .map(|l| {
                let mut v = l.open.clone();
                v["bytes_in"] = l.bytes_in.into();
                v["bytes_out"] = l.bytes_out.into();
                v["snapshot"] = true.into();
                v.to_string()
            })
            .collect();
        lines.extend(self.progress.snapshot());
        lines
    }

    /// Starts the ticker thread; it stops when `shutdown` fires.
    pub fn start(self: &Arc<Feed>, shutdown: Shutdown) -> thread::JoinHandle<()> {
        let feed = Arc::clone(self);
        let receiver = self
            .receiver
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        thread::Builder::new()
            .name("classroom feed".into())
            .spawn(move || {
                if let Some(receiver) = receiver {
                    feed.tick_until(&receiver, &shutdown);
                }
            })
            .unwrap_or_else(|e| {
                log::error!("cannot start the feed's ticker: {e}");
                thread::spawn(|| {})
            })
    }

    /// The ticker: gather raw events for a tick, merge, post; every
    /// [`STATE_EVERY`] ask the kernel for TCP states and retire idle UDP peers.
    fn tick_until(&self, receiver: &Receiver<Raw>, shutdown: &Shutdown) {
        let mut next_states = Instant::now() + STATE_EVERY;
        let mut cursor: ConnNo = 0; // where the last round of state lookups stopped
        while !shutdown.is_triggered() {
            let end = Instant::now() + TICK;
            let mut merged: BTreeMap<ConnNo, Merge> = BTreeMap::new();
            while let Some(left) = end.checked_duration_since(Instant::now()) {
                match receiver.recv_timeout(left) {
                    Ok(raw) => self.merge(raw, &mut merged),
                    Err(mpsc::RecvTimeoutError::Timeout) => break,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
            let mut lines = Vec::new();
            let dropped =
                std::mem::take(&mut *self.dropped.lock().unwrap_or_else(|p| p.into_inner()));
            if !dropped.is_empty() {
                // Left out before any dashboard saw them: counted here, once.
                self.count_skipped(dropped.events);
                lines.push(dropped.notice());
            }
            let look = Instant::now() >= next_states;
            if look {
                next_states = Instant::now() + STATE_EVERY;
                self.retire_udp(&mut merged);
                self.look_outside(&mut merged);
            }
            for (conn, m) in merged {
                lines.extend(self.emit(conn, m));
            }
            if look {
                // After the tick's events: a connection's `open` comes first.
                lines.extend(self.states(&mut cursor));
            }
            lines.extend(self.progress.take_news());
            if !lines.is_empty() {
                self.post(lines);
            }
        }
    }

    /// A lock, even if a thread panicked holding it (the data is counters).
    fn lock<'a, T>(&self, m: &'a Mutex<T>) -> std::sync::MutexGuard<'a, T> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn live_mut(&self) -> std::sync::MutexGuard<'_, BTreeMap<ConnNo, Live>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// UDP peers silent for [`UDP_IDLE`] are closed (`first_fin: "idle"`).
    fn retire_udp(&self, merged: &mut BTreeMap<ConnNo, Merge>) {
        let mut udp = self.udp.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        udp.retain(|_, (conn, seen)| {
            let keep = now.duration_since(*seen) < UDP_IDLE;
            if !keep {
                merged.entry(*conn).or_default().close = Some("idle");
            }
            keep
        });
    }

    /// Posts one tick's lines to every dashboard connection: one letter for
    /// the whole tick. A loop whose inbox is full gets nothing this tick and
    /// its dashboards a skip notice with the next letter.
    fn post(&self, lines: Vec<String>) {
        let Some(mailbox) = self.mailbox.get() else {
            return;
        };
        let body: Arc<[u8]> = lines.join("\n").into_bytes().into();
        let mail = Mail { from: None, body };
        if mailbox.broadcast(mail).is_err() {
            let mut lost = Skipped::default();
            for line in &lines {
                if let Ok(v) = serde_json::from_str::<Value>(line) {
                    lost.count(&v);
                }
            }
            let mut d = self.dropped.lock().unwrap_or_else(|p| p.into_inner());
            d.add(&lost);
        }
    }
}
