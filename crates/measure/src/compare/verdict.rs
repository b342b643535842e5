//! From round-trip times to a verdict that noise cannot invert: pure functions
//! over the samples [`super::rtt`] took, no I/O, no clock.
//!
//! Why not just compare medians: on a virtual machine whose idle vCPUs halt,
//! every transport's round trip has the same two peaks (~22 µs when the echo
//! finds the other vCPU awake, ~86 µs when an interrupt has to wake it). A
//! transport's median sits in whichever peak holds just over half its rounds,
//! so two medians can differ by 60 µs because the wake-ups fell unevenly, with
//! nothing to do with the protocol. So:
//!
//! 1. The rounds come in **blocks** on fresh connections, every transport back
//!    to back in a seeded random order within each round: whatever the machine
//!    does during a block falls on all the transports of that block.
//! 2. Per block and transport, a **trimmed mean** (a tenth cut from each end).
//! 3. Per pair, the **paired per-block differences** of those means; their mean
//!    is the figure, and a **bootstrap over blocks** (seeded) gives its interval.
//! 4. Each transport's **slow share**: the fraction of its rounds slower than
//!    twice its own 10th percentile (its fast peak). When two transports' slow
//!    shares differ by more than the sampling error (the bootstrap interval of
//!    the per-block share differences leaves 0 out), and that imbalance times
//!    the gap between the peaks could account for the difference (the interval
//!    shifted by it contains 0, or lies on the other side of 0), the wake-ups
//!    fell unevenly and no winner is
//!    named, whatever the means say. A difference larger than the imbalance
//!    explains, or of the other sign, still counts.
//!
//! That is the **raw** verdict. Then the **physical rule**: a layer on top (ws
//! over tcp, tls over tcp, wss over tcp, ws or tls) does the work of the layer
//! it runs on and more, so when it measures lower, the difference is below this
//! machine's noise, and that is what is printed. `--json` shows both.

use client::Scheme;

use crate::stats::{self, Interval};

/// The share cut from each end of a block's rounds before averaging.
pub const TRIM: f64 = 0.1;

/// A round is slow when it took more than this many times the transport's own
/// 10th percentile (its fast peak): the two peaks are ~4× apart, so the split
/// falls in the valley between them.
pub const SLOW_FACTOR: f64 = 2.0;

/// The percentile that stands for a transport's fast peak.
pub const FAST_PERCENTILE: f64 = 10.0;

/// Below this many blocks the bootstrap over blocks has too little to resample:
/// no verdict is given.
pub const MIN_BLOCKS: usize = 10;

/// One transport's timed round trips, block by block, in µs.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Which transport.
    pub scheme: Scheme,
    /// `blocks[b]`: the timed round trips of block `b` (lost ones left out).
    pub blocks: Vec<Vec<f64>>,
}

impl Series {
    /// Every round, all blocks together.
    pub fn pooled(&self) -> Vec<f64> {
        self.blocks.iter().flatten().copied().collect()
    }

    /// The line between fast and slow rounds: [`SLOW_FACTOR`] × the
    /// [`FAST_PERCENTILE`]th percentile of all rounds. `None` without rounds.
    pub fn slow_threshold(&self) -> Option<f64> {
        let mut all = self.pooled();
        all.sort_by(f64::total_cmp);
        stats::percentile(&all, FAST_PERCENTILE).map(|p| p * SLOW_FACTOR)
    }

    /// The fraction of all rounds above [`Series::slow_threshold`].
    pub fn slow_share(&self) -> Option<f64> {
        let threshold = self.slow_threshold()?;
        let all = self.pooled();
        Some(all.iter().filter(|&&x| x > threshold).count() as f64 / all.len() as f64)
    }
}

/// What the measurements allow us to say about `a − b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The interval contains 0: no winner is named.
    NoMeasurableDifference,
    /// The whole interval is below 0: `a` is lower (faster).
    ALower,
    /// The whole interval is above 0: `b` is lower.
    BLower,
    /// The two transports' slow shares differ by more than the sampling error:
    /// the machine's wake-ups, not the protocols, decide the means.
    UnevenWakeUps,
    /// Fewer than [`MIN_BLOCKS`] paired blocks: too few to resample.
    TooFewBlocks,
    /// (Final verdict only.) A layer measured lower than the layer it runs on:
    /// physically impossible, so the difference is below this machine's noise.
    BelowNoise,
}

/// What [`Verdict::NoMeasurableDifference`] prints.
pub const NO_DIFFERENCE: &str = "no measurable difference on this machine";

/// What [`Verdict::UnevenWakeUps`] prints.
pub const UNEVEN: &str = "wake-ups fell unevenly: no verdict";

/// What [`Verdict::TooFewBlocks`] prints.
pub const TOO_FEW: &str = "too few blocks: no verdict";

/// True when `upper` runs on top of `lower`, so it does all of `lower`'s work
/// and more: ws, tls and wss over tcp, wss over ws and over tls.
pub fn runs_on(upper: Scheme, lower: Scheme) -> bool {
    use Scheme::{Tcp, Tls, Ws, Wss};
    matches!(
        (upper, lower),
        (Ws, Tcp) | (Tls, Tcp) | (Wss, Tcp) | (Wss, Ws) | (Wss, Tls)
    )
}

/// The difference between two transports' round trips, and what it allows us to say.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RttDifference {
    /// The transport subtracted from.
    pub a: Scheme,
    /// The transport subtracted.
    pub b: Scheme,
    /// Blocks where both had timed round trips: the pairs the figure is made of.
    pub blocks: usize,
    /// Mean over blocks of `trimmed mean(a) − trimmed mean(b)`, µs.
    pub diff_us: f64,
    /// Lower end of its bootstrap interval (over blocks), µs.
    pub ci_low_us: f64,
    /// Upper end of its bootstrap interval, µs.
    pub ci_high_us: f64,
    /// `a`'s share of slow rounds in those blocks.
    pub slow_share_a: f64,
    /// `b`'s share of slow rounds in those blocks.
    pub slow_share_b: f64,
    /// Bootstrap interval of the per-block slow-share difference (a − b).
    pub slow_share_diff_ci: [f64; 2],
    /// What the imbalance of slow rounds alone makes of `a − b`, µs: the mean
    /// slow-share difference times the gap between the slow and fast rounds.
    pub explained_by_wake_ups_us: f64,
    /// The intervals' confidence (0.95).
    pub confidence: f64,
    /// Bootstrap resamples drawn.
    pub resamples: usize,
    /// The resampling generator's seed: the same samples give the same intervals.
    pub seed: u64,
    /// The method's verdict, before the physical rule.
    pub raw_verdict: Verdict,
    /// The verdict printed: the raw one, or [`Verdict::BelowNoise`] when a
    /// layer came out lower than the layer it runs on.
    pub verdict: Verdict,
    /// The printed verdict in words.
    pub summary: String,
}

/// Every pair of transports, later minus earlier (udp − tcp, ws − tcp, ws − udp…):
/// "what does ws cost over tcp" reads as a positive number when it costs.
/// `seed` seeds the bootstrap (the same samples and seed: the same intervals).
pub fn differences(series: &[Series], seed: u64) -> Vec<RttDifference> {
    let mut out = Vec::new();
    for (j, b) in series.iter().enumerate() {
        for a in &series[j + 1..] {
            out.extend(difference(a, b, stats::RESAMPLES, seed));
        }
    }
    out
}

/// `a − b` by the method above; `None` when one side has no round trip at all.
pub fn difference(a: &Series, b: &Series, resamples: usize, seed: u64) -> Option<RttDifference> {
    let (ta, tb) = (a.slow_threshold()?, b.slow_threshold()?);
    let slow = |rounds: &[f64], t: f64| rounds.iter().filter(|&&x| x > t).count() as f64;
    // Per paired block: the difference of trimmed means and of slow shares.
    let (mut diffs, mut share_diffs) = (Vec::new(), Vec::new());
    let (mut slow_a, mut slow_b, mut n_a, mut n_b) = (0.0, 0.0, 0.0, 0.0);
    // The gap between the peaks, from both transports' rounds.
    let (mut slow_sum, mut slow_n, mut fast_sum, mut fast_n) = (0.0, 0.0, 0.0, 0.0);
    for (ra, rb) in a.blocks.iter().zip(&b.blocks) {
        let (Some(ma), Some(mb)) = (stats::trimmed_mean(ra, TRIM), stats::trimmed_mean(rb, TRIM))
        else {
            continue; // every round of this block lost on one side
        };
        diffs.push(ma - mb);
        share_diffs.push(slow(ra, ta) / ra.len() as f64 - slow(rb, tb) / rb.len() as f64);
        (slow_a, slow_b) = (slow_a + slow(ra, ta), slow_b + slow(rb, tb));
        (n_a, n_b) = (n_a + ra.len() as f64, n_b + rb.len() as f64);
        for (rounds, t) in [(ra, ta), (rb, tb)] {
            for &x in rounds {
                if x > t {
                    (slow_sum, slow_n) = (slow_sum + x, slow_n + 1.0);
                } else {
                    (fast_sum, fast_n) = (fast_sum + x, fast_n + 1.0);
                }
            }
        }
    }
    let gap = if slow_n > 0.0 && fast_n > 0.0 {
        slow_sum / slow_n - fast_sum / fast_n
    } else {
        0.0 // one peak only: wake-ups cannot explain anything
    };
    let cis = stats::bootstrap_blocks(&[&diffs, &share_diffs], resamples, stats::CONFIDENCE, seed)?;
    // Rounded to the 0.1 µs printed, so the verdict agrees with the numbers a
    // reader sees ([-0.0, +1.2] is "0 inside").
    let ci = Interval {
        diff: round_tenth(cis[0].diff),
        low: round_tenth(cis[0].low),
        high: round_tenth(cis[0].high),
    };
    let explained = round_tenth(cis[1].diff * gap);
    let shares_differ = cis[1].low > 0.0 || cis[1].high < 0.0;
    // Could the imbalance account for the difference, or even turn it round?
    // Then the interval shifted by it holds 0, or lies on the other side.
    let (low, high) = (ci.low - explained, ci.high - explained);
    let explains = (low <= 0.0 && high >= 0.0) || (low > 0.0) != (ci.low > 0.0);
    let raw_verdict = if diffs.len() < MIN_BLOCKS {
        Verdict::TooFewBlocks
    } else if shares_differ && explains {
        Verdict::UnevenWakeUps
    } else {
        match stats::verdict(&ci) {
            stats::Verdict::NoMeasurableDifference => Verdict::NoMeasurableDifference,
            stats::Verdict::ALower => Verdict::ALower,
            stats::Verdict::BLower => Verdict::BLower,
        }
    };
    let verdict = physical_rule(a.scheme, b.scheme, raw_verdict);
    Some(RttDifference {
        a: a.scheme,
        b: b.scheme,
        blocks: diffs.len(),
        diff_us: ci.diff,
        ci_low_us: ci.low,
        ci_high_us: ci.high,
        slow_share_a: slow_a / n_a,
        slow_share_b: slow_b / n_b,
        slow_share_diff_ci: [cis[1].low, cis[1].high],
        explained_by_wake_ups_us: explained,
        confidence: stats::CONFIDENCE,
        resamples,
        seed,
        raw_verdict,
        verdict,
        summary: summary(a.scheme, b.scheme, verdict),
    })
}

/// The physical rule: a layer measured lower than what it runs on is noise.
pub fn physical_rule(a: Scheme, b: Scheme, raw: Verdict) -> Verdict {
    match raw {
        Verdict::ALower if runs_on(a, b) => Verdict::BelowNoise,
        Verdict::BLower if runs_on(b, a) => Verdict::BelowNoise,
        other => other,
    }
}

/// A verdict in words. Kept checkable: a winner is printed as `NAME lower`
/// right after the interval, and nothing else there ends in "lower".
pub fn summary(a: Scheme, b: Scheme, verdict: Verdict) -> String {
    match verdict {
        Verdict::NoMeasurableDifference => NO_DIFFERENCE.to_string(),
        Verdict::ALower => format!("{} lower", a.name()),
        Verdict::BLower => format!("{} lower", b.name()),
        Verdict::UnevenWakeUps => UNEVEN.to_string(),
        Verdict::TooFewBlocks => TOO_FEW.to_string(),
        Verdict::BelowNoise => {
            let (upper, lower) = if runs_on(a, b) { (a, b) } else { (b, a) };
            format!(
                "below this machine's noise ({} runs on {}: it cannot be faster)",
                upper.name(),
                lower.name()
            )
        }
    }
}

/// A value in µs, to 0.1 µs.
pub fn round_tenth(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Synthetic round trips for the tests: `blocks` blocks of `rounds`, each round
/// `fast` µs, or `slow` µs when `is_slow(block, round)` says so, plus a little
/// seeded jitter (under 0.5 µs).
#[cfg(test)]
fn synthetic(
    scheme: Scheme,
    (blocks, rounds): (usize, usize),
    (fast, slow): (f64, f64),
    is_slow: impl Fn(usize, usize) -> bool,
    seed: u64,
) -> Series {
    let mut rng = crate::stats::SplitMix64::new(seed);
    let jitter = |rng: &mut crate::stats::SplitMix64| (rng.next_u64() % 1000) as f64 / 2000.0;
    Series {
        scheme,
        blocks: (0..blocks)
            .map(|b| {
                (0..rounds)
                    .map(|r| if is_slow(b, r) { slow } else { fast } + jitter(&mut rng))
                    .collect()
            })
            .collect(),
    }
}

#[cfg(test)]
#[path = "tests_verdict.rs"]
mod tests;
