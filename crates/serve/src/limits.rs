//! The limits every socklab server enforces, and what happens at each.
//!
//! - **Connection cap** (`--max-connections`): past it a client is accepted, told
//!   why (the protocol's refusal: HTTP/WebSocket servers answer 503 with
//!   Retry-After) and closed at once.
//! - **Idle timeout** (`--idle-timeout`): no byte *from the peer* for that long —
//!   a Ping, one byte of a half-sent frame, anything counts as activity.
//! - **Write-stall timeout** (`--write-stall-timeout`): bytes queued *to* the peer
//!   and none of them taken for that long: a peer that does not read. A peer can
//!   be busy sending (never idle) and stalled at once: a ping flood that never
//!   reads its Pongs.
//! - **Memory budget** (`--memory-budget`): the room messages take across all
//!   connections (being received, queued to send, or kept by a library's
//!   buffers: each protocol says what it holds). The connection whose message
//!   would pass it is closed (WebSocket: 1013 Try Again Later).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How many connections a server holds open by default. Beyond it, a new client is
/// accepted and closed at once, with a log line, instead of waiting in the backlog.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// How long a connection may stay silent before the server closes it.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Message bytes all connections of one server may hold at once, by default.
pub const DEFAULT_MEMORY_BUDGET: usize = 256 << 20;

/// Per-server limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The most connections open at once (`--max-connections`).
    pub max_connections: usize,
    /// Close a connection after this long without a byte from the peer
    /// (`--idle-timeout`); `None` never does.
    pub idle_timeout: Option<Duration>,
    /// Close a connection whose queued output makes no progress for this long
    /// (`--write-stall-timeout`); `None` never does.
    pub write_stall: Option<Duration>,
    /// Message bytes held across all connections (`--memory-budget`).
    pub memory_budget: usize,
    /// What a client turned away at the cap reads before our FIN: empty for a
    /// bare TCP server, an HTTP 503 for one that speaks HTTP. Set by the protocol.
    pub refusal: &'static [u8],
    /// When `refusal` is empty: why, for the log line ("" says nothing more).
    pub refusal_note: &'static str,
}

impl Limits {
    /// The end of the "refused" log line: what the client is told, or why not.
    pub fn refusal_words(&self) -> &'static str {
        if self.refusal.is_empty() {
            self.refusal_note
        } else {
            "; answering 503"
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            write_stall: Some(DEFAULT_IDLE_TIMEOUT),
            memory_budget: DEFAULT_MEMORY_BUDGET,
            refusal: b"",
            refusal_note: "",
        }
    }
}

// ANCHOR: memory_budget
/// Message bytes held across every connection of a server, against one budget.
///
/// Each connection keeps a [`Held`]: it grows it before holding more bytes (a
/// message arriving, an echo queued) and shrinks it when they are gone. A grow
/// that would pass the budget fails, and the protocol closes that connection
/// (WebSocket: 1013 Try Again Later): the others keep what they hold.
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    used: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    cap: usize,
}

impl MemoryBudget {
    /// A budget of `cap` bytes, nothing held yet.
    pub fn new(cap: usize) -> MemoryBudget {
        let (used, peak) = (Arc::default(), Arc::default());
        // Its use and peak go into `--stats-file`, if the process writes one.
        crate::stats_file::sign_in_budget(&used, &peak, cap);
        MemoryBudget { used, peak, cap }
    }

    /// A connection's account, holding nothing yet.
    pub fn account(&self) -> Held {
        Held {
            budget: self.clone(),
            held: 0,
        }
    }

    /// Bytes held right now, across all connections.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::SeqCst)
    }

    /// The most bytes ever held at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// The budget, in bytes.
    pub fn cap(&self) -> usize {
        self.cap
    }
}

/// One connection's share of a [`MemoryBudget`]; dropping it gives the share back.
#[derive(Debug)]
pub struct Held {
    budget: MemoryBudget,
    held: usize,
}

/// Holding more would pass the server's memory budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget {
    /// What the connection asked to hold.
    pub wanted: usize,
    /// What all connections held at that moment.
    pub used: usize,
    /// The budget.
    pub cap: usize,
}

impl Held {
    /// Sets what this connection holds to `bytes`; fails (holding what it held
    /// before) when growing to it would pass the budget.
    pub fn set(&mut self, bytes: usize) -> Result<(), OverBudget> {
        // Nothing changed (most steps): no atomic on the line every loop shares.
        if bytes == self.held {
            return Ok(());
        }
        if bytes < self.held {
            self.budget
                .used
                .fetch_sub(self.held - bytes, Ordering::SeqCst);
            self.held = bytes;
            return Ok(());
        }
        let more = bytes - self.held;
        let cap = self.budget.cap;
        match self
            .budget
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                (used + more <= cap).then_some(used + more)
            }) {
            Ok(before) => {
                self.held = bytes;
                // A plain load first: the peak is rarely passed, and a
                // fetch_max is a write to a line every loop shares.
                if before + more > self.budget.peak.load(Ordering::Relaxed) {
                    self.budget.peak.fetch_max(before + more, Ordering::SeqCst);
                }
                Ok(())
            }
            Err(used) => Err(OverBudget {
                wanted: bytes,
                used,
                cap,
            }),
        }
    }

    /// Sets what this connection holds to `bytes` even past the budget, for
    /// bytes already taken that cannot be given back (what a partial write
    /// left of a read); the caller then takes no more until it holds less.
    /// The use and the peak tell the truth, past the cap if so.
    pub fn set_anyway(&mut self, bytes: usize) {
        if self.set(bytes).is_ok() {
            return;
        }
        let more = bytes - self.held;
        let before = self.budget.used.fetch_add(more, Ordering::SeqCst);
        self.held = bytes;
        self.budget.peak.fetch_max(before + more, Ordering::SeqCst);
    }

    /// What this connection holds now.
    pub fn get(&self) -> usize {
        self.held
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.held, Ordering::SeqCst);
    }
}
// ANCHOR_END: memory_budget

/// Counts open connections. [`ConnectionCount::enter`] takes a place if one is free
/// and gives back a [`Place`] that frees it when dropped — also when a handler
/// returns early or panics.
#[derive(Debug, Clone, Default)]
pub struct ConnectionCount {
    open: Arc<AtomicUsize>,
}

/// One taken place in a [`ConnectionCount`]; dropping it frees the place.
#[derive(Debug)]
pub struct Place {
    open: Arc<AtomicUsize>,
}

impl ConnectionCount {
    /// A count at zero.
    pub fn new() -> ConnectionCount {
        ConnectionCount::default()
    }

    /// How many places are taken.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Takes a place unless `max` are already taken.
    pub fn enter(&self, max: usize) -> Option<Place> {
        self.open
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Place {
                open: Arc::clone(&self.open),
            })
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The limit flags, shared by every TCP server.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct LimitArgs {
    /// Most connections open at once; past it a new client is told so (HTTP/WebSocket: 503) and closed
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS, value_name = "N")]
    pub max_connections: usize,
    /// Close a connection after this many seconds without a byte from the peer (0: never)
    #[arg(long, default_value_t = DEFAULT_IDLE_TIMEOUT.as_secs(), value_name = "SECS")]
    pub idle_timeout: u64,
    /// Close a connection whose queued output makes no progress for this many seconds: a peer that does not read (0: never) [default: the idle timeout]
    #[arg(long, value_name = "SECS")]
    pub write_stall_timeout: Option<u64>,
    /// Message bytes all connections may hold at once (MiB); the one that would pass it is closed (WebSocket: 1013; chat: dropped with a notice), or on the tcp/tls echo, not read until its peer reads
    #[arg(long, default_value_t = DEFAULT_MEMORY_BUDGET >> 20, value_name = "MIB")]
    pub memory_budget: usize,
}

impl From<LimitArgs> for Limits {
    fn from(args: LimitArgs) -> Limits {
        let secs = |s: u64| (s > 0).then(|| Duration::from_secs(s));
        Limits {
            max_connections: args.max_connections,
            idle_timeout: secs(args.idle_timeout),
            write_stall: secs(args.write_stall_timeout.unwrap_or(args.idle_timeout)),
            memory_budget: args.memory_budget.saturating_mul(1 << 20),
            refusal: b"",
            refusal_note: "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The budget is shared: one connection's grow fails once the others hold
    /// the rest, and a dropped account gives its bytes back.
    #[test]
    fn memory_budget_is_shared_and_given_back() {
        let budget = MemoryBudget::new(100);
        let mut a = budget.account();
        let mut b = budget.account();
        assert_eq!(a.set(60), Ok(()));
        assert_eq!(
            b.set(50),
            Err(OverBudget {
                wanted: 50,
                used: 60,
                cap: 100
            })
        );
        assert_eq!(b.get(), 0, "a failed grow holds what it held before");
        assert_eq!(b.set(40), Ok(()));
        assert_eq!(budget.used(), 100);
        assert_eq!(a.set(10), Ok(()));
        assert_eq!(budget.used(), 50);
        drop(b);
        assert_eq!(budget.used(), 10);
        assert_eq!(budget.peak(), 100);
    }
}
