//! Step 4 of the script: the timed round trips, in blocks on fresh connections.
//!
//! A round trip on loopback is a few system calls and two wake-ups; on a
//! virtual machine whose idle vCPUs halt, the wake-ups decide it (a round trip
//! is ~22 µs, or ~86 µs when an interrupt must wake the other vCPU). Which one a
//! transport gets depends on the machine at that instant, so the rounds are laid
//! out for the machine's moods to fall on every transport alike:
//!
//! - **blocks**: each block opens a fresh connection per transport (the
//!   connection's own history — its loop thread, its socket's place in the
//!   server's event list — is one sample, not the whole run), takes a few
//!   warm-up round trips that are thrown away, then the timed rounds, then
//!   closes;
//! - **rounds**: in each round every transport takes one round trip, back to
//!   back, in an order drawn from a seeded generator, so no transport always
//!   follows another.
//!
//! Beside the time, each round trip's system calls and bytes on the socket are
//! counted from the Tap, and an in-process server's own work per echo is read
//! from its clock around the timed rounds: figures that noise barely touches.
//!
//! Try: `socklab compare --blocks 40 --rounds 20 --json | jq '.rtt_differences'`.

use std::time::{Duration, Instant};

use client::transport::{Error, Scheme, Target, Transport};
use lifecycle::Direction;

use super::verdict::Series;
use super::{ROUND_TIMEOUT, Script, WorkProbe};
use crate::stats::SplitMix64;

/// What one transport's timed round trips gave, over every block.
#[derive(Debug, Clone, PartialEq)]
pub struct Rounds {
    /// The round-trip times, block by block, in µs.
    pub series: Series,
    /// Round trips whose echo did not come back within [`ROUND_TIMEOUT`].
    pub lost: usize,
    /// Timed round trips whose echo came back.
    pub echoes: usize,
    /// Bytes our `write()`s passed to the kernel during those round trips.
    pub bytes_sent: usize,
    /// Bytes our `read()`s took from the kernel during them.
    pub bytes_received: usize,
    /// `write()`/`send()` calls during them.
    pub writes: usize,
    /// `read()`/`recv()` calls that returned bytes during them.
    pub reads: usize,
    /// The server's own work during the timed rounds, (ns, messages), when
    /// it has a [`WorkProbe`].
    pub server_work: Option<(u64, u64)>,
}

impl Rounds {
    fn new(scheme: Scheme) -> Rounds {
        Rounds {
            series: Series {
                scheme,
                blocks: Vec::new(),
            },
            lost: 0,
            echoes: 0,
            bytes_sent: 0,
            bytes_received: 0,
            writes: 0,
            reads: 0,
            server_work: None,
        }
    }

    /// The server's work per message during the timed rounds, µs to 0.01.
    pub fn server_work_us(&self) -> Option<f64> {
        let (nanos, messages) = self.server_work?;
        (messages > 0).then(|| (nanos as f64 / messages as f64 / 10.0).round() / 100.0)
    }

    /// `total` per completed round trip, to 0.1; `None` when none completed.
    pub fn per_echo(&self, total: usize) -> Option<f64> {
        (self.echoes > 0).then(|| (total as f64 / self.echoes as f64 * 10.0).round() / 10.0)
    }
}

// ANCHOR: rtt_blocks
/// Runs `script.blocks` blocks over every target: fresh connections, then
/// `script.warmup` untimed rounds and `script.rounds` timed ones, each round
/// taking every transport once in a seeded random order. `probes[k]`, if any,
/// reads target `k`'s server work; it is read when the timed rounds start and
/// when they end, so warm-up, connect and close are left out.
pub fn blocks(
    targets: &[Target],
    probes: &[Option<WorkProbe>],
    script: &Script,
) -> Result<Vec<Rounds>, Error> {
    let probe = |k: usize| probes.get(k).and_then(|p| p.as_ref().map(|p| p()));
    let mut rng = SplitMix64::new(script.seed);
    let mut out: Vec<Rounds> = targets.iter().map(|t| Rounds::new(t.scheme)).collect();
    for block in 0..script.blocks {
        // Fresh connections for this block, in a random order too.
        let mut conns: Vec<Option<Transport>> = targets.iter().map(|_| None).collect();
        for k in rng.permutation(targets.len()) {
            let n = block * targets.len() + k;
            let seeded = super::connection_seed(script, super::Purpose::Block, n);
            let t = Transport::connect_seeded(&targets[k], seeded)?;
            t.set_read_timeout(Some(ROUND_TIMEOUT))?;
            conns[k] = Some(t);
        }
        let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(script.rounds); targets.len()];
        let mut work_start = vec![None; targets.len()];
        for round in 0..script.warmup + script.rounds {
            let timed = round >= script.warmup; // warm-up: taken, not kept
            if round == script.warmup {
                work_start = (0..targets.len()).map(probe).collect();
            }
            for k in rng.permutation(targets.len()) {
                let Some(t) = conns[k].as_mut() else { continue };
                let wire = t.wire_log();
                let mark = wire.mark();
                let rtt = round_trip(t, &script.message)?;
                if !timed {
                    continue;
                }
                let r = &mut out[k];
                match rtt {
                    Some(d) => {
                        times[k].push(d.as_secs_f64() * 1e6);
                        r.echoes += 1;
                    }
                    None => r.lost += 1,
                }
                for rec in wire.since(mark) {
                    match rec.dir {
                        Direction::Sent => {
                            (r.bytes_sent, r.writes) =
                                (r.bytes_sent + rec.bytes.len(), r.writes + 1)
                        }
                        Direction::Received if !rec.bytes.is_empty() => {
                            (r.bytes_received, r.reads) =
                                (r.bytes_received + rec.bytes.len(), r.reads + 1)
                        }
                        Direction::Received => {}
                    }
                }
            }
        }
        for (k, start) in work_start.into_iter().enumerate() {
            if let (Some((n0, m0)), Some((n1, m1))) = (start, probe(k)) {
                let (n, m) = out[k].server_work.unwrap_or_default();
                out[k].server_work = Some((n + n1.saturating_sub(n0), m + m1.saturating_sub(m0)));
            }
        }
        for (k, t) in conns.into_iter().enumerate() {
            if let Some(t) = t {
                t.close()?;
            }
            out[k].series.blocks.push(std::mem::take(&mut times[k]));
        }
    }
    Ok(out)
}
// ANCHOR_END: rtt_blocks

/// One message out, its whole echo back: the time it took, or `None` when the
/// echo did not come within [`ROUND_TIMEOUT`] (lost).
fn round_trip(t: &mut Transport, message: &[u8]) -> Result<Option<Duration>, Error> {
    let started = Instant::now();
    t.send(message)?;
    // On TCP the echo may come back in pieces: receive until all of it is here.
    match t.receive_bytes(message.len()) {
        Ok(_) => Ok(Some(started.elapsed())),
        Err(e) if e.is_timeout() => Ok(None),
        Err(e) => Err(e),
    }
}
