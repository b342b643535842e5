//! The limits every socklab server enforces, and what happens at each.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How many connections a server holds open by default. Beyond it, a new client is
/// accepted and closed at once, with a log line, instead of waiting in the backlog.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// How long a connection may stay silent before the server closes it.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Per-server limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The most connections open at once (`--max-connections`).
    pub max_connections: usize,
    /// Close a connection after this long without a byte from the peer
    /// (`--idle-timeout`); `None` never does.
    pub idle_timeout: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
        }
    }
}

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

/// The `--max-connections` and `--idle-timeout` flags, shared by every TCP server.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct LimitArgs {
    /// Most connections open at once; past it a new client is accepted and closed at once
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS, value_name = "N")]
    pub max_connections: usize,
    /// Close a connection after this many seconds without a byte from the peer (0: never)
    #[arg(long, default_value_t = DEFAULT_IDLE_TIMEOUT.as_secs(), value_name = "SECS")]
    pub idle_timeout: u64,
}

impl From<LimitArgs> for Limits {
    fn from(args: LimitArgs) -> Limits {
        Limits {
            max_connections: args.max_connections,
            idle_timeout: (args.idle_timeout > 0).then(|| Duration::from_secs(args.idle_timeout)),
        }
    }
}

/// Raises this process's soft limit on open file descriptors (`RLIMIT_NOFILE`) to
/// at least `wanted`, and returns the limit now in force.
///
/// Every socket is a file descriptor, and the soft limit is often 1024: the 1025th
/// `accept()` or `connect()` then fails with EMFILE ("Too many open files"). An
/// unprivileged process may raise its soft limit up to the hard limit, no further;
/// past that this returns an error saying what to change.
pub fn raise_fd_limit(wanted: u64) -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // getrlimit(2): read the soft (current) and hard (ceiling) limits.
    // SAFETY: `limit` is a valid, writable rlimit for the call's duration.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // rlim_t is u64 on Linux, but not on every Unix.
    #[allow(clippy::unnecessary_cast)]
    let (soft, hard) = (limit.rlim_cur as u64, limit.rlim_max as u64);
    if soft >= wanted {
        return Ok(soft);
    }
    if hard < wanted {
        return Err(std::io::Error::other(format!(
            "need {wanted} file descriptors but the hard limit (ulimit -Hn) is {hard}; \
             raise it as root (ulimit -Hn {wanted}, or LimitNOFILE= in systemd)"
        )));
    }
    limit.rlim_cur = wanted as libc::rlim_t;
    // setrlimit(2): raise the soft limit; the hard limit stays as it was.
    // SAFETY: `limit` is a valid rlimit.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    log::info!("setrlimit(RLIMIT_NOFILE): soft limit {soft} -> {wanted} (hard {hard})");
    Ok(wanted)
}
