//! The few statistics socklab prints, in one place: a percentile, the
//! interquartile range, a trimmed mean, bootstrap intervals (for the difference
//! of two medians, and for the mean of paired per-block values), and the rule
//! that turns an interval into a verdict.
//!
//! Pure functions over samples: no I/O, no clock, and a seeded random number
//! generator, so the same samples always give the same interval. `socklab
//! compare` (and the tour) and `socklab bench` both use [`percentile`], so a p50
//! means the same thing everywhere.
//!
//! Why a bootstrap: round-trip times on one machine are skewed (a long tail of
//! scheduler wake-ups) and their spread is larger than the few nanoseconds a
//! protocol's framing costs. Two medians always differ a little; the question is
//! whether they differ by more than the noise. Resampling each set of samples
//! many times and looking at how much the difference of medians moves answers
//! that without assuming any distribution.
//!
//! Try: `cargo test -p client stats` — the tests run the rule on synthetic
//! samples: clearly different, identical, overlapping.

/// Resamples drawn by [`bootstrap_diff_ci`] in socklab's reports: enough for a
/// stable 95 % interval, few enough to take milliseconds.
pub const RESAMPLES: usize = 2000;

/// The confidence of the interval socklab reports.
pub const CONFIDENCE: f64 = 0.95;

/// The seed of the resampling generator, fixed so a report is reproducible from
/// its samples.
pub const SEED: u64 = 0x50C1_AB00;

/// The `p`th percentile (0–100) of **sorted** samples, by nearest rank: the
/// smallest sample with at least `p` % of the samples at or below it. It is
/// always one of the samples (never interpolated). `None` without samples: there
/// is nothing to report, and 0 would be a lie.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, n) - 1])
}

/// The interquartile range of sorted samples: (p25, p75), the middle half.
pub fn iqr(sorted: &[f64]) -> Option<(f64, f64)> {
    Some((percentile(sorted, 25.0)?, percentile(sorted, 75.0)?))
}

/// The median of unsorted samples (nearest rank, as [`percentile`]); reorders them.
fn median_in_place(samples: &mut [f64]) -> f64 {
    let rank = samples.len().div_ceil(2); // ceil(0.5 n), at least 1 for n ≥ 1
    let (_, m, _) = samples.select_nth_unstable_by(rank - 1, f64::total_cmp);
    *m
}

/// The mean of `samples` after dropping the lowest and the highest `trim`
/// share of them (0.1: a tenth from each end, rounded down), so one stray wake-up
/// in a block of twenty round trips does not move the block's figure. `None`
/// without samples.
pub fn trimmed_mean(samples: &[f64], trim: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let cut = (sorted.len() as f64 * trim.clamp(0.0, 0.49)).floor() as usize;
    let kept = &sorted[cut..sorted.len() - cut];
    Some(kept.iter().sum::<f64>() / kept.len() as f64)
}

/// A small, seeded generator (SplitMix64): enough randomness for resampling
/// and for shuffling the order of the transports, and the same sequence for
/// the same seed on every machine.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator that gives the same sequence for the same `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// An index below `n` (n > 0). The modulo bias is below 2^-40 for any
    /// sample count socklab takes.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// `0..n` in a random order (Fisher–Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            order.swap(i, self.below(i + 1));
        }
        order
    }
}

/// A confidence interval for a difference (of two medians, or the mean of
/// paired per-block differences).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Interval {
    /// The figure itself, from the samples: `median(a) − median(b)`, or the mean.
    pub diff: f64,
    /// Lower end of the interval.
    pub low: f64,
    /// Upper end of the interval.
    pub high: f64,
}

/// A percentile bootstrap interval for the difference of medians
/// `median(a) − median(b)`: draw `resamples` times a same-size sample with
/// replacement from each of `a` and `b`, take the difference of their medians,
/// and keep the middle `confidence` of those differences. `None` when either
/// side has no samples or `resamples` is 0.
pub fn bootstrap_diff_ci(
    a: &[f64],
    b: &[f64],
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Option<Interval> {
    if a.is_empty() || b.is_empty() || resamples == 0 {
        return None;
    }
    let diff = median_in_place(&mut a.to_vec()) - median_in_place(&mut b.to_vec());
    let mut rng = SplitMix64(seed);
    let (mut ra, mut rb) = (vec![0.0; a.len()], vec![0.0; b.len()]);
    let mut diffs = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        for x in ra.iter_mut() {
            *x = a[rng.below(a.len())];
        }
        for x in rb.iter_mut() {
            *x = b[rng.below(b.len())];
        }
        diffs.push(median_in_place(&mut ra) - median_in_place(&mut rb));
    }
    diffs.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence.clamp(0.0, 1.0)) / 2.0 * 100.0;
    Some(Interval {
        diff,
        low: percentile(&diffs, tail)?,
        high: percentile(&diffs, 100.0 - tail)?,
    })
}

/// A percentile bootstrap interval for the mean of several paired series at
/// once: `series[k][b]` is series `k`'s value in block `b`. Each resample draws
/// the same blocks (with replacement) for every series, so what happened to a
/// block — a burst of wake-ups, another program — stays inside it. Returns one
/// interval per series (its `diff` is the plain mean); `None` without blocks,
/// without resamples, or when the series are not all the same length.
pub fn bootstrap_blocks(
    series: &[&[f64]],
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Option<Vec<Interval>> {
    let blocks = series.first()?.len();
    if blocks == 0 || resamples == 0 || series.iter().any(|s| s.len() != blocks) {
        return None;
    }
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    let mut rng = SplitMix64(seed);
    let mut means: Vec<Vec<f64>> = vec![Vec::with_capacity(resamples); series.len()];
    let mut sums = vec![0.0; series.len()];
    for _ in 0..resamples {
        sums.iter_mut().for_each(|x| *x = 0.0);
        for _ in 0..blocks {
            let b = rng.below(blocks);
            for (sum, s) in sums.iter_mut().zip(series) {
                *sum += s[b];
            }
        }
        for (m, sum) in means.iter_mut().zip(&sums) {
            m.push(sum / blocks as f64);
        }
    }
    let tail = (1.0 - confidence.clamp(0.0, 1.0)) / 2.0 * 100.0;
    series
        .iter()
        .zip(means.iter_mut())
        .map(|(s, m)| {
            m.sort_by(f64::total_cmp);
            Some(Interval {
                diff: mean(s),
                low: percentile(m, tail)?,
                high: percentile(m, 100.0 - tail)?,
            })
        })
        .collect()
}

/// What an interval of `median(a) − median(b)` allows us to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The interval contains 0: the difference is within the noise, so no
    /// winner is named.
    NoMeasurableDifference,
    /// The whole interval is below 0: `a`'s median is lower (faster, for times).
    ALower,
    /// The whole interval is above 0: `b`'s median is lower.
    BLower,
}

/// The noise rule: a winner only when the interval leaves 0 out.
pub fn verdict(ci: &Interval) -> Verdict {
    if ci.high < 0.0 {
        Verdict::ALower
    } else if ci.low > 0.0 {
        Verdict::BLower
    } else {
        Verdict::NoMeasurableDifference
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut v: Vec<f64>) -> Vec<f64> {
        v.sort_by(f64::total_cmp);
        v
    }

    /// One percentile definition: nearest rank, always a sample, None when empty.
    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), Some(2.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(iqr(&v), Some((25.0, 75.0)));
        assert_eq!(iqr(&[]), None);
    }

    /// Samples a few "µs" apart with little spread: the interval leaves 0 out
    /// and names the lower one, whichever side it is on.
    #[test]
    fn clearly_different_samples_have_a_winner() {
        let a: Vec<f64> = (0..200).map(|i| 20.0 + f64::from(i % 10) * 0.1).collect();
        let b: Vec<f64> = (0..200).map(|i| 25.0 + f64::from(i % 10) * 0.1).collect();
        let ci = bootstrap_diff_ci(&a, &b, RESAMPLES, CONFIDENCE, SEED).unwrap();
        assert!(ci.low <= ci.diff && ci.diff <= ci.high, "{ci:?}");
        assert!((ci.diff + 5.0).abs() < 1e-9, "{ci:?}");
        assert_eq!(verdict(&ci), Verdict::ALower);
        let ci = bootstrap_diff_ci(&b, &a, RESAMPLES, CONFIDENCE, SEED).unwrap();
        assert_eq!(verdict(&ci), Verdict::BLower);
    }

    /// The same samples on both sides: the difference is 0 and there is no winner.
    #[test]
    fn identical_samples_have_no_winner() {
        let a: Vec<f64> = (0..200).map(|i| 10.0 + f64::from(i % 37)).collect();
        let ci = bootstrap_diff_ci(&a, &a, RESAMPLES, CONFIDENCE, SEED).unwrap();
        assert_eq!(ci.diff, 0.0);
        assert_eq!(verdict(&ci), Verdict::NoMeasurableDifference);
    }

    /// Medians 1 apart inside a spread of 40: the interval straddles 0, so the
    /// rule says "no measurable difference" although the medians differ.
    #[test]
    fn overlapping_samples_have_no_winner() {
        // Two interleaved, widely spread sets whose medians differ by 1.
        let a: Vec<f64> = (0..101).map(|i| f64::from(i * 37 % 101) * 0.4).collect();
        let b: Vec<f64> = a.iter().map(|x| x + 1.0).collect();
        let ci = bootstrap_diff_ci(&a, &b, RESAMPLES, CONFIDENCE, SEED).unwrap();
        assert!((ci.diff + 1.0).abs() < 1e-9, "{ci:?}");
        assert!(ci.low < 0.0 && ci.high > 0.0, "{ci:?}");
        assert_eq!(verdict(&ci), Verdict::NoMeasurableDifference);
    }

    /// A tenth trimmed from each end: one wild sample in twenty moves nothing.
    #[test]
    fn trimmed_mean_drops_the_ends() {
        let mut v: Vec<f64> = vec![10.0; 19];
        v.push(1000.0);
        assert_eq!(trimmed_mean(&v, 0.1), Some(10.0));
        assert_eq!(trimmed_mean(&[1.0, 2.0, 3.0], 0.1), Some(2.0));
        assert_eq!(trimmed_mean(&[], 0.1), None);
    }

    /// Paired series resampled by block: a constant series has a zero-width
    /// interval at its value; a spread one an interval around its mean.
    #[test]
    fn block_bootstrap_keeps_blocks_together() {
        let constant = vec![2.0; 30];
        let spread: Vec<f64> = (0..30).map(|i| f64::from(i % 5) - 2.0).collect();
        let cis = bootstrap_blocks(&[&constant, &spread], RESAMPLES, CONFIDENCE, SEED).unwrap();
        assert_eq!((cis[0].low, cis[0].diff, cis[0].high), (2.0, 2.0, 2.0));
        assert!(cis[1].low < 0.0 && cis[1].high > 0.0, "{:?}", cis[1]);
        assert_eq!(bootstrap_blocks(&[&constant, &[1.0]], 10, 0.95, 1), None);
        assert_eq!(bootstrap_blocks(&[], 10, 0.95, 1), None);
    }

    /// A seeded shuffle is a permutation, and the same one for the same seed.
    #[test]
    fn permutations_are_seeded() {
        let mut p = SplitMix64::new(3).permutation(5);
        assert_eq!(p, SplitMix64::new(3).permutation(5));
        p.sort_unstable();
        assert_eq!(p, [0, 1, 2, 3, 4]);
    }

    /// The same samples and seed give the same interval: a report can be redone.
    #[test]
    fn the_interval_is_reproducible() {
        let a = sorted((0..50).map(|i| f64::from(i * 7 % 50)).collect());
        let b = sorted((0..60).map(|i| f64::from(i * 11 % 60)).collect());
        assert_eq!(
            bootstrap_diff_ci(&a, &b, 500, 0.95, 1),
            bootstrap_diff_ci(&a, &b, 500, 0.95, 1)
        );
        assert_eq!(bootstrap_diff_ci(&[], &b, 500, 0.95, 1), None);
    }
}
