//! `socklab bench --fanout N tcp://…`: one sender, N members, the time until
//! the LAST member has each line.
//!
//! 1:N delivery is only as fast as its slowest receipt: a line is "delivered"
//! when the last of the N members has read it, so that is what is timed (from
//! the sender's `write(2)` to the last member's `read(2)`, on one clock — the
//! sender and the members are in this one process; the server is in its own).
//!
//! The members are **TCP members** of `socklab serve chat` (lines, one `\n` each),
//! held by one thread with mio: 10,000 connections cost this process a socket
//! and a small buffer each, not a thread. The sender is one more member, which
//! writes `fanout <seq>` at a fixed rate. Before timing starts it writes
//! `fanout sync` until every member has seen one: then every member is known to
//! be in the room (a connection the kernel accepted may not have been taken by
//! the server yet).
//!
//! Where this simplifies: this process reads the N sockets one after another,
//! so at large N part of "the last member's receipt" is this reader's own time;
//! on a machine with few cores the server and this process also share them.

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream as StdStream};
use std::time::{Duration, Instant};

use measure::stats::percentile;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

pub use report::{CARRIED_SHARE, FanoutReport, SATURATED_FIRST_P50};

mod report;

/// Longest wait for every member to see `fanout sync`.
pub const SYNC_DEADLINE: Duration = Duration::from_secs(60);

/// After the last line is sent, how long to wait for late receipts.
pub const DRAIN: Duration = Duration::from_secs(3);

/// Fewer complete lines than this: no p99 (it would be the maximum).
pub const MIN_SAMPLES_FOR_P99: usize = 100;

/// Longest wait for one member's connect(2): a server too slow to accept lets
/// the kernel's queue fill, and the SYNs are retried (1 s, 3 s, 7 s, …).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How often `fanout sync` is repeated while waiting for the members.
const SYNC_EVERY: Duration = Duration::from_millis(100);

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct FanoutOptions {
    /// Members to open (each a TCP connection to `members_at`).
    pub members: usize,
    /// Where the members connect (a chat server's TCP address).
    pub members_at: SocketAddr,
    /// Where the sender connects: the same server, or another process of the
    /// same room (`--relay`) to time the trip through Redis.
    pub sender_at: SocketAddr,
    /// Lines per second from the sender.
    pub rate: f64,
    /// How long to send.
    pub duration: Duration,
}

/// One member's socket and the bytes of its unfinished line.
struct Member {
    stream: TcpStream,
    partial: Vec<u8>,
    synced: bool,
    closed: bool,
}

/// Per line sent: when, how many members have it, the first and last receipt.
struct Line {
    sent: Instant,
    got: usize,
    first: Option<Instant>,
    last: Option<Instant>,
}

// ANCHOR: run
/// Opens the members, syncs, sends at the rate, and times every line to its
/// last receipt.
pub fn run(opts: &FanoutOptions) -> io::Result<FanoutReport> {
    lifecycle::limits::raise_fd_limit(opts.members as u64 + 64)?;
    let mut poll = Poll::new()?;
    let mut members = Vec::with_capacity(opts.members);
    for i in 0..opts.members {
        // connect(2), blocking: one at a time, so the server's backlog never overflows.
        let s = StdStream::connect_timeout(&opts.members_at, CONNECT_TIMEOUT).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("member {} of {}: connect: {e}", i + 1, opts.members),
            )
        })?;
        s.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(s);
        poll.registry()
            .register(&mut stream, Token(i), Interest::READABLE)?;
        members.push(Member {
            stream,
            partial: Vec::new(),
            synced: false,
            closed: false,
        });
    }
    let mut sender = StdStream::connect(opts.sender_at)?;
    sender.set_nodelay(true)?;
    let mut events = Events::with_capacity(1024);
    let mut scratch = vec![0u8; 64 * 1024];
    let mut lines: HashMap<usize, Line> = HashMap::new();
    let (mut errors, mut first_error) = (0, None::<String>);

    // Sync: repeat `fanout sync` until every member has seen one.
    let started = Instant::now();
    let mut synced = 0;
    let mut next_sync = Instant::now();
    while synced < opts.members - errors {
        if started.elapsed() > SYNC_DEADLINE {
            return Err(io::Error::new(
                ErrorKind::TimedOut,
                format!(
                    "only {synced} of {} members in the room after {SYNC_DEADLINE:?}",
                    opts.members
                ),
            ));
        }
        if Instant::now() >= next_sync {
            sender.write_all(b"fanout sync\n")?;
            next_sync += SYNC_EVERY;
        }
        poll.poll(&mut events, Some(SYNC_EVERY / 4))?;
        for ev in events.iter() {
            let m = &mut members[ev.token().0];
            match read_member(m, &mut scratch, |text| {
                text.ends_with("fanout sync").then_some(())
            }) {
                Ok(got) if !got.is_empty() && !m.synced => {
                    m.synced = true;
                    synced += 1;
                }
                Ok(_) => {}
                Err(e) => note(&mut errors, &mut first_error, m, e),
            }
        }
    }

    // Timed: line i goes out at started + i/rate; between sends, read.
    let count = (opts.rate * opts.duration.as_secs_f64()).round().max(1.0) as usize;
    let every = Duration::from_secs_f64(1.0 / opts.rate);
    let t0 = Instant::now();
    let mut deliveries = 0;
    let mut last_receipt = t0;
    let mut seq = 0;
    let end_by = t0 + opts.duration + DRAIN;
    let live = |errors: usize| opts.members - errors;
    loop {
        let now = Instant::now();
        if seq < count && now >= t0 + every * seq as u32 {
            lines.insert(
                seq,
                Line {
                    sent: Instant::now(),
                    got: 0,
                    first: None,
                    last: None,
                },
            );
            sender.write_all(format!("fanout {seq}\n").as_bytes())?;
            seq += 1;
            continue;
        }
        let all_in = seq == count && lines.values().all(|l| l.got >= live(errors));
        if all_in || now >= end_by {
            break;
        }
        let wait = if seq < count {
            (t0 + every * seq as u32).saturating_duration_since(now)
        } else {
            end_by.saturating_duration_since(now)
        };
        poll.poll(&mut events, Some(wait.min(Duration::from_millis(50))))?;
        let at = Instant::now();
        for ev in events.iter() {
            let m = &mut members[ev.token().0];
            let result = read_member(m, &mut scratch, |text| {
                let n: usize = text.rsplit("fanout ").next()?.parse().ok()?;
                Some(n)
            });
            match result {
                Ok(seqs) => {
                    for n in seqs {
                        if let Some(l) = lines.get_mut(&n) {
                            l.got += 1;
                            l.first.get_or_insert(at);
                            l.last = Some(at);
                            deliveries += 1;
                            last_receipt = at;
                        }
                    }
                }
                Err(e) => note(&mut errors, &mut first_error, m, e),
            }
        }
    }
    // ANCHOR_END: run

    let want = live(errors);
    let mut last: Vec<f64> = Vec::new();
    let mut first: Vec<f64> = Vec::new();
    for l in lines.values() {
        if let Some(f) = l.first {
            first.push(f.duration_since(l.sent).as_secs_f64() * 1e6);
        }
        if l.got >= want && want > 0 {
            if let Some(t) = l.last {
                last.push(t.duration_since(l.sent).as_secs_f64() * 1e6);
            }
        }
    }
    last.sort_by(f64::total_cmp);
    first.sort_by(f64::total_cmp);
    let secs = last_receipt.duration_since(t0).as_secs_f64();
    Ok(FanoutReport {
        members: opts.members,
        sent: seq,
        complete: last.len(),
        deliveries,
        deliveries_per_sec: if secs > 0.0 {
            deliveries as f64 / secs
        } else {
            0.0
        },
        asked_per_sec: opts.members as f64 * opts.rate,
        last_p50_us: percentile(&last, 50.0),
        last_p99_us: if last.len() >= MIN_SAMPLES_FOR_P99 {
            percentile(&last, 99.0)
        } else {
            None
        },
        first_p50_us: percentile(&first, 50.0),
        errors,
        first_error,
    })
}

/// Counts a member's failure once (a closed member reads nothing more).
fn note(errors: &mut usize, first: &mut Option<String>, m: &mut Member, e: io::Error) {
    if !m.closed {
        m.closed = true;
        *errors += 1;
        first.get_or_insert_with(|| e.to_string());
    }
}

/// Reads what the member has (until `WouldBlock`: mio's readiness is
/// edge-triggered) and passes each complete line to `pick`; returns what `pick`
/// kept. End of stream is an error here: a member should never be closed.
fn read_member<T>(
    m: &mut Member,
    scratch: &mut [u8],
    mut pick: impl FnMut(&str) -> Option<T>,
) -> io::Result<Vec<T>> {
    let mut kept = Vec::new();
    if m.closed {
        return Ok(kept);
    }
    loop {
        match m.stream.read(scratch) {
            Ok(0) => {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "the server closed a member",
                ));
            }
            Ok(n) => {
                m.partial.extend_from_slice(&scratch[..n]);
                while let Some(end) = m.partial.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = m.partial.drain(..=end).collect();
                    let text = String::from_utf8_lossy(&line);
                    if let Some(t) = pick(text.trim_end()) {
                        kept.push(t);
                    }
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(kept),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}
