//! The verdict code on synthetic samples: the two-peaked machine that made the
//! published tables lie must not come out "ws lower"; a true difference must
//! still be found; the physical rule turns an impossible winner into noise.

use super::*;
use crate::stats::SplitMix64;

/// 40 blocks of 20 rounds: the default shape of `socklab compare`.
const SHAPE: (usize, usize) = (40, 20);

/// Exactly `share` of all rounds slow, at seeded random places.
fn slow_places(shape: (usize, usize), share: f64, seed: u64) -> Vec<bool> {
    let n = shape.0 * shape.1;
    let slow = (n as f64 * share).round() as usize;
    let order = SplitMix64::new(seed).permutation(n);
    let mut places = vec![false; n];
    for &i in &order[..slow] {
        places[i] = true;
    }
    places
}

/// tcp and ws on the machine of WAVE3-NOTES: peaks at 22 and 86 µs, tcp's
/// rounds 51 % slow and ws's 49 %, ws truly 1 µs slower in both peaks.
fn two_peaked(seed: u64) -> (Series, Series) {
    let (tcp_slow, ws_slow) = (
        slow_places(SHAPE, 0.51, seed),
        slow_places(SHAPE, 0.49, seed ^ 0xABCD),
    );
    let at = |places: &[bool], b: usize, r: usize| places[b * SHAPE.1 + r];
    let tcp = synthetic(
        Scheme::Tcp,
        SHAPE,
        (22.0, 86.0),
        |b, r| at(&tcp_slow, b, r),
        seed + 1,
    );
    let ws = synthetic(
        Scheme::Ws,
        SHAPE,
        (23.0, 87.0),
        |b, r| at(&ws_slow, b, r),
        seed + 2,
    );
    (tcp, ws)
}

/// The synthetic sample, drawn with many seeds: the raw verdict (before
/// the physical rule) never says ws is lower. The medians of such samples sit
/// in different peaks (86 vs 23 µs); the method does not look at medians.
#[test]
fn two_peaks_with_uneven_shares_never_make_ws_lower() {
    for seed in 0..30 {
        let (tcp, ws) = two_peaked(seed);
        assert!((tcp.slow_share().unwrap() - 0.51).abs() < 1e-9);
        assert!((ws.slow_share().unwrap() - 0.49).abs() < 1e-9);
        let d = difference(&ws, &tcp, stats::RESAMPLES, stats::SEED).unwrap();
        assert_ne!(d.raw_verdict, Verdict::ALower, "seed {seed}: {d:?}");
        assert_ne!(d.verdict, Verdict::ALower, "seed {seed}: {d:?}");
        assert!(!d.summary.contains("ws lower"), "{d:?}");
    }
}

/// The worst case for a mean: every block holds exactly 51 slow rounds of 100
/// for tcp and 49 for ws, so the per-block differences agree perfectly and the
/// interval is narrow around −0.3 µs. The slow shares differ beyond their
/// sampling error: the raw verdict is "wake-ups fell unevenly", not a winner.
#[test]
fn the_same_uneven_split_in_every_block_is_no_verdict() {
    let shape = (30, 100);
    let tcp = synthetic(Scheme::Tcp, shape, (22.0, 86.0), |_, r| r < 51, 1);
    let ws = synthetic(Scheme::Ws, shape, (23.0, 87.0), |_, r| r < 49, 2);
    let d = difference(&ws, &tcp, stats::RESAMPLES, stats::SEED).unwrap();
    assert_eq!(d.raw_verdict, Verdict::UnevenWakeUps, "{d:?}");
    assert_eq!(d.summary, UNEVEN);
}

/// A true difference is still found: ws 10 µs slower in both peaks, with the
/// same share of slow rounds in every block → "tcp lower" (raw and printed).
#[test]
fn a_true_difference_in_both_peaks_is_found() {
    let half = |_: usize, r: usize| r % 2 == 0;
    let tcp = synthetic(Scheme::Tcp, SHAPE, (22.0, 86.0), half, 3);
    let ws = synthetic(Scheme::Ws, SHAPE, (32.0, 96.0), half, 4);
    let d = difference(&ws, &tcp, stats::RESAMPLES, stats::SEED).unwrap();
    assert_eq!(
        (d.raw_verdict, d.verdict),
        (Verdict::BLower, Verdict::BLower)
    );
    assert_eq!(d.summary, "tcp lower");
    assert!((d.diff_us - 10.0).abs() < 0.5, "{d:?}");
    assert!(d.ci_low_us > 9.0 && d.ci_high_us < 11.0, "{d:?}");
}

/// One peak only (a quiet machine), a 2 µs true difference: found, and the
/// lower one named whichever side it is on.
#[test]
fn a_small_true_difference_on_a_quiet_machine_is_found() {
    let never = |_: usize, _: usize| false;
    let udp = synthetic(Scheme::Udp, SHAPE, (20.0, 0.0), never, 5);
    let tcp = synthetic(Scheme::Tcp, SHAPE, (22.0, 0.0), never, 6);
    let d = difference(&udp, &tcp, stats::RESAMPLES, stats::SEED).unwrap();
    assert_eq!(d.verdict, Verdict::ALower, "{d:?}");
    assert_eq!(d.summary, "udp lower");
    assert_eq!(d.slow_share_a, 0.0);
}

/// The physical rule: ws measured 5 µs lower than the tcp it runs on is raw
/// "ws lower" and printed as noise; udp lower than tcp stays a finding.
#[test]
fn a_layer_lower_than_its_ground_is_noise() {
    let never = |_: usize, _: usize| false;
    let tcp = synthetic(Scheme::Tcp, SHAPE, (25.0, 0.0), never, 7);
    let ws = synthetic(Scheme::Ws, SHAPE, (20.0, 0.0), never, 8);
    let d = difference(&ws, &tcp, stats::RESAMPLES, stats::SEED).unwrap();
    assert_eq!(d.raw_verdict, Verdict::ALower);
    assert_eq!(d.verdict, Verdict::BelowNoise);
    assert!(d.summary.starts_with("below this machine's noise"), "{d:?}");
    assert!(!d.summary.contains("lower"), "{d:?}");
    for (upper, lower) in [
        (Scheme::Ws, Scheme::Tcp),
        (Scheme::Tls, Scheme::Tcp),
        (Scheme::Wss, Scheme::Tcp),
        (Scheme::Wss, Scheme::Ws),
        (Scheme::Wss, Scheme::Tls),
    ] {
        assert_eq!(
            physical_rule(upper, lower, Verdict::ALower),
            Verdict::BelowNoise
        );
        assert_eq!(
            physical_rule(lower, upper, Verdict::BLower),
            Verdict::BelowNoise
        );
        assert_eq!(
            physical_rule(upper, lower, Verdict::BLower),
            Verdict::BLower
        );
    }
    assert_eq!(
        physical_rule(Scheme::Udp, Scheme::Tcp, Verdict::ALower),
        Verdict::ALower
    );
    assert_eq!(
        physical_rule(Scheme::Tls, Scheme::Ws, Verdict::ALower),
        Verdict::ALower
    );
}

/// Too few blocks to resample: no verdict, however clear the samples look.
#[test]
fn too_few_blocks_give_no_verdict() {
    let never = |_: usize, _: usize| false;
    let a = synthetic(Scheme::Udp, (MIN_BLOCKS - 1, 20), (10.0, 0.0), never, 9);
    let b = synthetic(Scheme::Tcp, (MIN_BLOCKS - 1, 20), (50.0, 0.0), never, 10);
    let d = difference(&a, &b, stats::RESAMPLES, stats::SEED).unwrap();
    assert_eq!(d.verdict, Verdict::TooFewBlocks);
    assert_eq!(
        difference(
            &a,
            &Series {
                scheme: Scheme::Ws,
                blocks: vec![]
            },
            10,
            1
        ),
        None
    );
}

/// Uneven slow shares do not hide a difference they cannot explain: wss
/// 60 µs slower in both peaks with fewer slow rounds than tcp (the imbalance
/// would make wss look faster) is still "tcp lower".
#[test]
fn uneven_shares_do_not_hide_a_larger_difference() {
    let shape = (30, 100);
    let tcp = synthetic(Scheme::Tcp, shape, (22.0, 86.0), |_, r| r < 30, 11);
    let wss = synthetic(Scheme::Wss, shape, (82.0, 146.0), |_, r| r < 10, 12);
    let d = difference(&wss, &tcp, stats::RESAMPLES, stats::SEED).unwrap();
    assert_eq!(d.raw_verdict, Verdict::BLower, "{d:?}");
    assert_eq!(d.summary, "tcp lower");
}
