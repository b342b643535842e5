//! Unfinished handshakes get a small cap of their own, and the oldest goes first.
//!
//! A TLS connection is useless to its client until the handshake is done, and
//! until then it still holds one of the server's `--max-connections` places. So
//! an attacker does not need to finish anything: open a connection, send five
//! bytes of a record header (a ClientHello that never comes), and open another
//! as the handshake deadline closes the first. A thousand of those hold every
//! place, and real clients are refused, although each one would need the
//! server for only a round trip.
//!
//! The answer: unfinished handshakes are counted apart ([`Handshakes`]), under
//! a cap much smaller than the connection cap (`--max-handshakes`, by default
//! an eighth of it), with a short deadline (`--tls-handshake-timeout`). When a
//! new connection arrives and that cap is full, the **oldest** unfinished one
//! is closed to make room: a real client finishes within a round trip, so it
//! is never the oldest for long, while a silent one soon is. A finished
//! connection has left the table and is never evicted for it. The attacker
//! now holds at most `--max-handshakes` places, and everyone else gets the
//! rest.
//!
//! One refinement, because "never the oldest for long" is a race the attacker
//! can speed up: evicted sockets reconnect at once, and a burst of new
//! connections accepted together can push a real client out before its
//! ClientHello is even read. So the oldest handshake that has not yet been
//! *answered* goes first (the layer has not seen a whole ClientHello, so sent
//! no ServerHello: [`Ticket::answered`]); only when every unfinished one has
//! been answered does the oldest of all go. A client that sent its whole
//! ClientHello has shown it speaks TLS; one that sent five bytes has not.
//! And before either, a handshake whose peer has already gone (a FIN or RST
//! waits unread: the connect-and-vanish churn, accepted in bursts) goes
//! first, and a newcomer that arrives gone evicts nobody: otherwise a burst
//! of dead connections, each still "unfinished", pushes out the one live
//! client whose ClientHello its owner has not read yet.
//!
//! How the eviction reaches a connection that another thread (v2) or another
//! event loop (v3) owns: the table keeps a duplicate of each socket's file
//! descriptor (`dup(2)`), and evicting is `shutdown(2)` with `SHUT_RD` on it. The
//! kernel then wakes whoever waits on that socket — a blocked `read()` returns
//! 0, epoll reports it readable — and the owner, seeing the ticket's flag, ends
//! the connection the ordinary way (our FIN, a short drain, close). No locks
//! on the data path: the table is touched at accept and when a handshake ends.

use std::collections::BTreeMap;
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lifecycle::FourTuple;
use lifecycle::narrate::plural;
use log::warn;

/// What share of the connection cap unfinished handshakes get by default: an
/// eighth (128 of the default 1,024 places). Far below the connection cap, so
/// silent handshakes never hold most places; far above what real clients
/// need at once (each finishes within a round trip).
pub const DEFAULT_SHARE: usize = 8;

/// The most places of the connection cap unfinished handshakes may ever hold:
/// half. `--max-handshakes` is a number of its own, so nothing stops a user
/// from giving 128 to a server of 50 places (or from lowering
/// `--max-connections` under the default of an eighth of 1,024): then the
/// silent ClientHellos would fill every place before the handshake cap ever
/// evicted one, and the cap would protect nothing. So the cap in force is
/// never more than half the places ([`Handshakes::within`]): the other half is
/// always left for connections that finish their handshake. Half, not less,
/// so a burst of real clients (all unfinished for a round trip) still fits.
pub const MOST_OF_PLACES: usize = 2;

/// The default cap on unfinished handshakes for a server of `max_connections`:
/// [`DEFAULT_SHARE`] of it, at least one.
pub fn default_max_handshakes(max_connections: usize) -> usize {
    (max_connections / DEFAULT_SHARE).max(1)
}

// ANCHOR: handshakes
/// The server's unfinished handshakes, under their own cap and deadline.
/// Cloned into every connection's opening; the clones share one table.
#[derive(Debug, Clone)]
pub struct Handshakes {
    table: Arc<Mutex<Table>>,
    stats: Arc<HandshakeStats>,
    max: usize,
    timeout: Duration,
}

/// What the cap observed: counters for tests and the log.
#[derive(Debug, Default)]
pub struct HandshakeStats {
    /// Handshakes that began (one per accepted connection with a layer).
    pub begun: AtomicUsize,
    /// Handshakes that finished: those connections left the table for good.
    pub finished: AtomicUsize,
    /// Unfinished handshakes closed to make room for a newer one (the cap was full).
    pub evicted: AtomicUsize,
    /// The most unfinished at once.
    pub peak: AtomicUsize,
}

/// The unfinished handshakes, oldest first (ids only grow).
#[derive(Debug, Default)]
struct Table {
    next_id: u64,
    open: BTreeMap<u64, Entry>,
}

/// One unfinished handshake: how to wake its owner, and what to tell the log.
#[derive(Debug)]
struct Entry {
    /// A `dup(2)` of the connection's socket: `shutdown(2)` on it reaches the
    /// owner's socket (same kernel socket), from any thread.
    socket: TcpStream,
    tuple: FourTuple,
    since: Instant,
    flags: Arc<Flags>,
}

/// What an entry and its ticket share, without the table's lock.
#[derive(Debug, Default)]
struct Flags {
    /// Closed to make room: the owner ends the connection.
    evicted: AtomicBool,
    /// The layer answered the peer's opening (TLS: a ServerHello went out).
    answered: AtomicBool,
}

/// One connection's place in the table, until its handshake finishes
/// ([`Ticket::finish`]) or the connection ends (dropped).
#[derive(Debug)]
pub struct Ticket {
    id: u64,
    table: Arc<Mutex<Table>>,
    stats: Arc<HandshakeStats>,
    flags: Arc<Flags>,
}
// ANCHOR_END: handshakes

impl Handshakes {
    /// At most `max` unfinished at once (at least one), each with `timeout`
    /// from accept to finish.
    pub fn new(max: usize, timeout: Duration) -> Handshakes {
        Handshakes {
            table: Arc::default(),
            stats: Arc::default(),
            max: max.max(1),
            timeout,
        }
    }

    // ANCHOR: within
    /// The same table with its cap lowered, if need be, to half of
    /// `max_connections` (at least one; see [`MOST_OF_PLACES`]), so silent
    /// handshakes can never hold every place of the connection cap. Each
    /// server that has both caps calls it once, before it serves (both models
    /// share the result). The lowering is logged: the user asked for more.
    pub fn within(mut self, max_connections: usize) -> Handshakes {
        let most = (max_connections / MOST_OF_PLACES).max(1);
        if self.max > most {
            warn!(
                "--max-handshakes {} is more than half of --max-connections {}: using {}, so unfinished TLS handshakes can never hold every place",
                self.max, max_connections, most
            );
            self.max = most;
        }
        self
    }
    // ANCHOR_END: within

    /// How long a handshake may take, counted from accept.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The cap.
    pub fn max(&self) -> usize {
        self.max
    }

    /// The counters (shared: read them while the server runs).
    pub fn stats(&self) -> Arc<HandshakeStats> {
        Arc::clone(&self.stats)
    }

    /// Handshakes unfinished right now.
    pub fn unfinished(&self) -> usize {
        lock(&self.table).open.len()
    }

    // ANCHOR: begin
    /// A freshly accepted connection starts its handshake. If `max` are
    /// unfinished already, one is closed first (logged, counted): the oldest
    /// not yet answered, or else the oldest. `Err`: the socket could not be
    /// duplicated (out of file descriptors): the caller closes this connection.
    pub fn begin(&self, socket: &impl AsFd, tuple: FourTuple) -> std::io::Result<Ticket> {
        let dup = TcpStream::from(socket.as_fd().try_clone_to_owned()?);
        let flags = Arc::new(Flags::default());
        let mut table = lock(&self.table);
        // A connection whose peer has already gone (connected and closed
        // before we accepted it) makes no room: its owner ends it at once.
        let arrival_gone = peer_gone(&dup);
        while table.open.len() >= self.max && !arrival_gone {
            let Some(id) = table.victim() else {
                break;
            };
            let Some(oldest) = table.open.remove(&id) else {
                break;
            };
            let what = if oldest.flags.answered.load(Ordering::Relaxed) {
                "answered"
            } else {
                "never answered"
            };
            warn!(
                "[{}] TLS handshake unfinished {:?} after accept ({what}), the oldest of {} (--max-handshakes): closing it to make room for {}",
                oldest.tuple,
                oldest.since.elapsed(),
                plural(self.max, "unfinished handshake"),
                tuple.peer
            );
            oldest.flags.evicted.store(true, Ordering::SeqCst);
            // SHUT_RD: the owner's read() returns 0 now, or epoll wakes its loop.
            let _ = oldest.socket.shutdown(Shutdown::Read);
            self.stats.evicted.fetch_add(1, Ordering::Relaxed);
        }
        let id = table.next_id;
        table.next_id += 1;
        table.open.insert(
            id,
            Entry {
                socket: dup,
                tuple,
                since: Instant::now(),
                flags: Arc::clone(&flags),
            },
        );
        self.stats.begun.fetch_add(1, Ordering::Relaxed);
        self.stats
            .peak
            .fetch_max(table.open.len(), Ordering::Relaxed);
        Ok(Ticket {
            id,
            table: Arc::clone(&self.table),
            stats: Arc::clone(&self.stats),
            flags,
        })
    }
    // ANCHOR_END: begin
}

impl Table {
    /// Which unfinished handshake goes when the cap is full: one whose peer
    /// has already gone (its owner has not seen the FIN or RST yet), else the
    /// oldest never answered, else the oldest of all. At most `max` entries
    /// to look at, only when a connection arrives at a full table.
    fn victim(&self) -> Option<u64> {
        self.open
            .iter()
            .find(|(_, e)| peer_gone(&e.socket))
            .or_else(|| {
                self.open
                    .iter()
                    .find(|(_, e)| !e.flags.answered.load(Ordering::Relaxed))
            })
            .or_else(|| self.open.iter().next())
            .map(|(&id, _)| id)
    }
}

/// Whether the peer of `socket` has ended the connection (a FIN or RST is
/// waiting behind whatever it sent): a peek that does not wait reads 0 bytes
/// or an error. `MSG_DONTWAIT`, not `set_nonblocking`: the duplicate shares
/// its owner's file status flags, which must stay as the owner set them.
fn peer_gone(socket: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut byte = 0u8;
    // SAFETY: one byte of our own as the buffer, on a descriptor we hold.
    let n = unsafe {
        libc::recv(
            socket.as_raw_fd(),
            (&raw mut byte).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    match n {
        0 => true,
        n if n > 0 => false,
        _ => !matches!(
            std::io::Error::last_os_error().kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
        ),
    }
}

impl Ticket {
    /// Whether this handshake was closed to make room for a newer one: the
    /// owner ends the connection.
    pub fn evicted(&self) -> bool {
        self.flags.evicted.load(Ordering::SeqCst)
    }

    /// The layer answered the peer's opening (TLS: the whole ClientHello is
    /// in, the ServerHello out): from now on this handshake goes only after
    /// every one that was never answered.
    pub fn answered(&self) {
        self.flags.answered.store(true, Ordering::Relaxed);
    }

    /// The handshake is done: the connection leaves the table, and can never
    /// be evicted for the cap again.
    pub fn finish(self) {
        if lock(&self.table).open.remove(&self.id).is_some() {
            self.stats.finished.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Ticket {
    /// Closed before its handshake finished (or already finished or evicted:
    /// then there is nothing left to remove).
    fn drop(&mut self) {
        lock(&self.table).open.remove(&self.id);
    }
}

/// The table, even if a thread panicked while holding it (nothing in it can be
/// left half-changed: every change is one insert or remove).
fn lock(table: &Mutex<Table>) -> MutexGuard<'_, Table> {
    table.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    fn pair(listener: &TcpListener) -> (TcpStream, TcpStream, FourTuple) {
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, peer) = listener.accept().unwrap();
        let tuple = FourTuple {
            proto: lifecycle::Proto::Tcp,
            local: server.local_addr().unwrap(),
            peer,
        };
        (client, server, tuple)
    }

    /// The cap in force is never above half the connection cap; a smaller
    /// one is kept as it is.
    #[test]
    fn the_cap_stays_within_half_the_places() {
        let t = Duration::from_secs(5);
        assert_eq!(Handshakes::new(128, t).within(50).max(), 25);
        assert_eq!(Handshakes::new(6, t).within(50).max(), 6);
        assert_eq!(Handshakes::new(128, t).within(1).max(), 1);
    }

    /// With the cap full, the oldest unfinished handshake is evicted (its
    /// owner's read returns 0 at once); a finished one never is.
    #[test]
    fn the_oldest_unfinished_goes_first() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let handshakes = Handshakes::new(2, Duration::from_secs(5));
        let (_c1, mut s1, t1) = pair(&listener);
        let (_c2, s2, t2) = pair(&listener);
        let (_c3, s3, t3) = pair(&listener);
        let (_c4, s4, t4) = pair(&listener);
        let first = handshakes.begin(&s1, t1).unwrap();
        let done = handshakes.begin(&s2, t2).unwrap();
        done.finish();
        let second = handshakes.begin(&s3, t3).unwrap();
        assert_eq!(handshakes.unfinished(), 2);
        let third = handshakes.begin(&s4, t4).unwrap();
        assert!(first.evicted(), "the oldest unfinished went");
        assert!(!second.evicted() && !third.evicted());
        let stats = handshakes.stats();
        assert_eq!(stats.evicted.load(Ordering::Relaxed), 1);
        assert_eq!(stats.finished.load(Ordering::Relaxed), 1);
        assert_eq!(stats.begun.load(Ordering::Relaxed), 4);
        assert_eq!(stats.peak.load(Ordering::Relaxed), 2);
        // The evicted connection's own socket reads end of stream.
        s1.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(s1.read(&mut [0u8; 8]).unwrap(), 0);
        drop(second);
        assert_eq!(
            handshakes.unfinished(),
            1,
            "a dropped ticket leaves the table"
        );
    }

    /// An answered handshake outlives younger ones never answered: the
    /// oldest *unanswered* goes first, and the oldest of all only when every
    /// one was answered.
    #[test]
    fn the_answered_go_last() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let handshakes = Handshakes::new(2, Duration::from_secs(5));
        let pairs: Vec<_> = (0..4).map(|_| pair(&listener)).collect();
        let begin = |i: usize| handshakes.begin(&pairs[i].1, pairs[i].2).unwrap();
        let real = begin(0);
        real.answered();
        let silent = begin(1);
        let newer = begin(2);
        assert!(
            silent.evicted() && !real.evicted(),
            "the unanswered went first"
        );
        newer.answered();
        let newest = begin(3);
        assert!(real.evicted(), "all answered: the oldest went");
        assert!(!newer.evicted() && !newest.evicted());
        assert_eq!(handshakes.stats().evicted.load(Ordering::Relaxed), 2);
    }

    /// A connection whose peer already went (the vanish churn: connect and
    /// close before accept) is the first to go when the cap is full, before
    /// an older live one; and arriving gone, it evicts nobody.
    #[test]
    fn the_gone_go_first_and_make_no_room() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let handshakes = Handshakes::new(2, Duration::from_secs(5));
        let (_c1, s1, t1) = pair(&listener);
        let (c2, s2, t2) = pair(&listener);
        let (_c3, s3, t3) = pair(&listener);
        let (c4, s4, t4) = pair(&listener);
        let live = handshakes.begin(&s1, t1).unwrap();
        let vanished = handshakes.begin(&s2, t2).unwrap();
        drop(c2);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !peer_gone(&s2) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let newer = handshakes.begin(&s3, t3).unwrap();
        assert!(vanished.evicted(), "the gone peer went");
        assert!(!live.evicted() && !newer.evicted(), "the live ones stay");
        drop(c4);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !peer_gone(&s4) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let gone = handshakes.begin(&s4, t4).unwrap();
        assert!(!live.evicted() && !newer.evicted() && !gone.evicted());
        assert_eq!(
            handshakes.unfinished(),
            3,
            "over the cap until its owner ends it"
        );
        drop(gone);
        assert_eq!(handshakes.unfinished(), 2);
    }
}
