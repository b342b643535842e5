//! The Tap: a `Read + Write` wrapper that records every byte that passes through it.
//!
//! Wrap any stream — a `TcpStream`, a connected UDP socket, a TLS session — and hand
//! the `Tap` to whatever speaks the protocol (tungstenite, an echo loop). Each
//! successful `read()` or `write()` becomes one [`Record`]: its direction, the time
//! since the tap was made, and the exact bytes. One record is one system call, so
//! the records also show the boundaries the kernel handed us: three `write()`s of a
//! TCP client may arrive as one `read()` on the other side (lesson 3).
//!
//! The protocol code owns the `Tap`; you keep a [`TapLog`] (a cheap clone of the
//! same record list) and read it whenever you like.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Which way the bytes went, seen from the tapped socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Written by us: `write()` / `send()`.
    Sent,
    /// Read by us: `read()` / `recv()`.
    Received,
}

/// One system call's worth of bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Sent or received.
    pub dir: Direction,
    /// When, measured from the moment the tap was made.
    pub at: Duration,
    /// Exactly the bytes the call transferred (its return value's worth).
    pub bytes: Vec<u8>,
}

/// The shared list of records. Clone it to keep reading after the `Tap` moves away.
#[derive(Debug, Clone)]
pub struct TapLog {
    inner: Arc<Mutex<TapInner>>,
}

#[derive(Debug)]
struct TapInner {
    start: Instant,
    records: Vec<Record>,
}

impl TapLog {
    /// A new, empty log whose clock starts now.
    pub fn new() -> TapLog {
        TapLog {
            inner: Arc::new(Mutex::new(TapInner {
                start: Instant::now(),
                records: Vec::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, TapInner> {
        // A panic while holding this lock cannot leave the Vec half-written, so a
        // poisoned lock still holds good records.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn push(&self, dir: Direction, bytes: &[u8]) {
        let mut inner = self.lock();
        let at = inner.start.elapsed();
        inner.records.push(Record {
            dir,
            at,
            bytes: bytes.to_vec(),
        });
    }

    /// A copy of every record so far.
    pub fn records(&self) -> Vec<Record> {
        self.lock().records.clone()
    }

    /// How many records there are now; pass it to [`TapLog::since`] later to get only
    /// what happened in between.
    pub fn mark(&self) -> usize {
        self.lock().records.len()
    }

    /// The records made after `mark`.
    pub fn since(&self, mark: usize) -> Vec<Record> {
        self.lock().records.get(mark..).unwrap_or_default().to_vec()
    }

    /// Total bytes moved in one direction.
    pub fn total(&self, dir: Direction) -> usize {
        self.lock()
            .records
            .iter()
            .filter(|r| r.dir == dir)
            .map(|r| r.bytes.len())
            .sum()
    }

    /// The time since this log was made, on the same clock as [`Record::at`].
    pub fn elapsed(&self) -> Duration {
        self.lock().start.elapsed()
    }
}

impl Default for TapLog {
    fn default() -> TapLog {
        TapLog::new()
    }
}

/// A stream that records every byte read from or written to `inner`.
#[derive(Debug)]
pub struct Tap<S> {
    inner: S,
    log: TapLog,
}

impl<S> Tap<S> {
    /// Wraps `inner`, with a fresh log.
    pub fn new(inner: S) -> Tap<S> {
        Tap::with_log(inner, TapLog::new())
    }

    /// Wraps `inner`, appending to an existing log (so one log can span a reconnect).
    pub fn with_log(inner: S, log: TapLog) -> Tap<S> {
        Tap { inner, log }
    }

    /// A handle on the records, usable after the `Tap` has been moved.
    pub fn log(&self) -> TapLog {
        self.log.clone()
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped stream, mutably. Bytes moved through it directly are not recorded.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

impl<S: Read> Read for Tap<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        // A read of 0 is the end of the stream (or an empty datagram); record it
        // too, because "the peer sent FIN" is an event worth seeing.
        self.log.push(Direction::Received, &buf[..n]);
        Ok(n)
    }
}

impl<S: Write> Write for Tap<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        // Only the bytes the kernel accepted: a short write records a short record.
        self.log.push(Direction::Sent, &buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Tap records exactly what passed, per call, in order.
    #[test]
    fn records_each_call_with_direction() {
        let mut tap = Tap::new(io::Cursor::new(b"hello".to_vec()));
        let log = tap.log();
        let mut buf = [0u8; 3];
        assert_eq!(tap.read(&mut buf).unwrap(), 3);
        tap.write_all(b"xy").unwrap();
        let records = log.records();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].dir, Direction::Received);
        assert_eq!(records[0].bytes, b"hel");
        assert_eq!(records[1].dir, Direction::Sent);
        assert_eq!(records[1].bytes, b"xy");
        assert_eq!(log.total(Direction::Received), 3);
        assert_eq!(log.since(1).len(), 1);
    }
}
