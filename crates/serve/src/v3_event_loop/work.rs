//! The server's own work per message, timed where the socket says so: from a
//! `read(2)` that returned bytes to the `write(2)` that returned after it.
//!
//! A round trip measured by a client is mostly the kernel and the scheduler:
//! two wake-ups, four system calls, and on a virtual machine an interrupt to
//! wake a halted CPU. What the server itself does with a message — parse a
//! frame, unmask it, frame the echo, encrypt it — is a small part of that, and
//! noise barely touches it, because no wake-up falls between the read returning
//! and the write returning. `socklab compare` prints it beside the round trip.
//!
//! Off unless asked for: [`Engine::work_clock`](super::Engine::work_clock) turns
//! it on for one server's loops (each loop thread then holds the clock in a
//! thread-local), and [`Tracked`](super::Tracked) reads the time only when its
//! loop has one. A server nobody measures pays one thread-local look per read
//! and write, no clock read, no atomic.
//!
//! Try: `socklab compare`, row "server work per echo".

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The sum of one server's read→write intervals, across all its loops.
#[derive(Debug, Default)]
pub struct WorkClock {
    nanos: AtomicU64,
    messages: AtomicU64,
}

/// A reading of a [`WorkClock`]: subtract two to get what happened between them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkReading {
    /// Nanoseconds from reads returning to the writes that followed, summed.
    pub nanos: u64,
    /// How many such intervals: messages answered.
    pub messages: u64,
}

impl WorkClock {
    /// What the clock holds now. Each interval is added just after its write
    /// returns, so a reading taken the instant a client got its echo may not
    /// hold that echo's interval yet: read over many messages, not one.
    pub fn read(&self) -> WorkReading {
        WorkReading {
            nanos: self.nanos.load(Ordering::Relaxed),
            messages: self.messages.load(Ordering::Relaxed),
        }
    }
}

thread_local! {
    /// The clock of the server whose loop runs on this thread, if it is measured.
    static CLOCK: RefCell<Option<Arc<WorkClock>>> = const { RefCell::new(None) };
}

/// Called by each loop thread as it starts: from now on, [`Tracked`](super::Tracked)
/// sockets on this thread time their reads and writes into `clock` (none: not timed).
pub(super) fn install(clock: Option<Arc<WorkClock>>) {
    CLOCK.with(|c| *c.borrow_mut() = clock);
}

/// The time now if this loop is measured; `None` (and no clock read) if not.
pub(super) fn now_if_timed() -> Option<Instant> {
    CLOCK.with(|c| c.borrow().as_ref().map(|_| Instant::now()))
}

/// Adds the interval from `read_returned` to now, one message.
pub(super) fn add_since(read_returned: Instant) {
    let nanos = read_returned.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64;
    CLOCK.with(|c| {
        if let Some(clock) = c.borrow().as_ref() {
            clock.nanos.fetch_add(nanos, Ordering::Relaxed);
            clock.messages.fetch_add(1, Ordering::Relaxed);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Off by default: no clock, no time read, nothing added. Installed: each
    /// read→write interval adds one message and its nanoseconds.
    #[test]
    fn only_a_measured_loop_times_its_work() {
        assert_eq!(now_if_timed(), None);
        add_since(Instant::now()); // no clock on this thread: nothing to add to
        let clock = Arc::new(WorkClock::default());
        install(Some(Arc::clone(&clock)));
        let read_returned = now_if_timed().expect("a measured loop reads the time");
        add_since(read_returned);
        add_since(read_returned);
        install(None);
        assert_eq!(now_if_timed(), None);
        let reading = clock.read();
        assert_eq!(reading.messages, 2);
        assert!(reading.nanos < 60_000_000_000, "{reading:?}");
    }
}
