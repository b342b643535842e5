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
use serde_json::{Value, json};
use serve::v3_event_loop::{Mail, Mailbox};

use crate::event::{ConnNo, Dir, FrameSeen, Raw, Skipped};
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
    /// The class's exercise results.
    pub progress: Progress,
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
            progress: Progress::default(),
        })
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
                lines.push(dropped.notice());
            }
            if Instant::now() >= next_states {
                next_states = Instant::now() + STATE_EVERY;
                self.retire_udp(&mut merged);
                lines.extend(self.states(&mut cursor));
            }
            for (conn, m) in merged {
                lines.extend(self.emit(conn, m));
            }
            lines.extend(self.progress.take_news());
            if !lines.is_empty() {
                self.post(lines);
            }
        }
    }

    /// Adds one raw event to its connection's merge.
    fn merge(&self, raw: Raw, merged: &mut BTreeMap<ConnNo, Merge>) {
        let m = merged.entry(raw.conn()).or_default();
        match raw {
            Raw::Open {
                conn,
                proto,
                local,
                peer,
            } => {
                let open = json!({
                    "event": "open", "conn": conn, "proto": proto, "peer": peer.to_string(),
                    "local": local.to_string(),
                    "tuple": format!("{} {local} <-> {peer}", if proto == "udp" { "udp" } else { "tcp" }),
                });
                m.open = Some(open.clone());
                let live = Live {
                    open,
                    local,
                    peer,
                    proto,
                    state: None,
                    info: None,
                    bytes_in: 0,
                    bytes_out: 0,
                };
                self.live_mut().insert(conn, live);
            }
            Raw::Data { dir, bytes, .. } => {
                match dir {
                    Dir::In => m.bytes_in += bytes,
                    Dir::Out => m.bytes_out += bytes,
                }
                m.reads += 1;
            }
            Raw::Frame { frame, .. } => {
                m.frame_count += 1;
                if m.frames.len() < FRAMES_SHOWN {
                    m.frames.push(frame);
                }
            }
            Raw::Close { first_fin, .. } => m.close = Some(first_fin),
        }
    }

    fn live_mut(&self) -> std::sync::MutexGuard<'_, BTreeMap<ConnNo, Live>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One connection's merged events for this tick, in the order they happened:
    /// open, data, frame, close.
    fn emit(&self, conn: ConnNo, m: Merge) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(open) = m.open {
            lines.push(open.to_string());
        }
        let mut live = self.live_mut();
        let Some(row) = live.get_mut(&conn) else {
            return lines; // its open was skipped: nothing to name it by
        };
        let (proto, peer) = (row.proto, row.peer.to_string());
        let base =
            |event: &str| json!({"event": event, "conn": conn, "proto": proto, "peer": peer});
        if m.reads > 0 {
            row.bytes_in += m.bytes_in;
            row.bytes_out += m.bytes_out;
            let mut v = base("data");
            v["in"] = m.bytes_in.into();
            v["out"] = m.bytes_out.into();
            v["total_in"] = row.bytes_in.into();
            v["total_out"] = row.bytes_out.into();
            lines.push(v.to_string());
        }
        if m.frame_count > 0 {
            let mut v = base("frame");
            v["count"] = m.frame_count.into();
            v["frames"] = serde_json::to_value(&m.frames).unwrap_or_default();
            lines.push(v.to_string());
        }
        if let Some(said) = m.close {
            let mut v = base("close");
            v["bytes_in"] = row.bytes_in.into();
            v["bytes_out"] = row.bytes_out.into();
            if row.proto == "udp" {
                v["first_fin"] = said.into();
            } else {
                // The kernel's word on the server's socket, now that it is
                // closed: TIME_WAIT means the server sent the first FIN (and
                // holds TIME_WAIT); gone means the student did.
                let state = lifecycle::state::tcp_state(row.local, row.peer);
                let server_first = said == "server"
                    || matches!(
                        state,
                        TcpState::TimeWait
                            | TcpState::FinWait1
                            | TcpState::FinWait2
                            | TcpState::Closing
                    );
                let first = if server_first { "server" } else { "student" };
                v["first_fin"] = first.into();
                v["server_state"] = state.name().into();
                v["time_wait"] = first.into();
            }
            lines.push(v.to_string());
            live.remove(&conn);
        }
        lines
    }

    /// A `state` event for each live TCP connection whose kernel state or
    /// TCP_INFO (round trip, retransmissions, window) changed.
    /// At most [`STATE_LOOKUPS`] of them, after `cursor`, wrapping around.
    fn states(&self, cursor: &mut ConnNo) -> Vec<String> {
        use std::ops::Bound::{Excluded, Unbounded};
        let mut live = self.live_mut();
        let mut lines = Vec::new();
        let after: Vec<ConnNo> = live
            .range((Excluded(*cursor), Unbounded))
            .filter(|(_, r)| r.proto != "udp")
            .map(|(c, _)| *c)
            .take(STATE_LOOKUPS)
            .collect();
        let mut round = after;
        if round.len() < STATE_LOOKUPS {
            let wrap = live
                .range(..=*cursor)
                .filter(|(_, r)| r.proto != "udp")
                .map(|(c, _)| *c)
                .take(STATE_LOOKUPS - round.len());
            round.extend(wrap.collect::<Vec<_>>());
        }
        for conn in round {
            *cursor = conn;
            let Some(row) = live.get_mut(&conn) else {
                continue;
            };
            let (state, info) = crate::kernel::look(row.local, row.peer);
            if row.state == Some(state) && row.info == info {
                continue;
            }
            (row.state, row.info) = (Some(state), info);
            let mut v = json!({
                "event": "state", "conn": conn, "proto": row.proto,
                "peer": row.peer.to_string(), "state": state.name(),
            });
            if let Some(info) = info {
                v["rtt_us"] = info.rtt_us.into();
                v["retransmits"] = info.retransmits.into();
                v["cwnd"] = info.cwnd.into();
            }
            lines.push(v.to_string());
        }
        lines
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
