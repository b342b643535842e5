//! How often one connection may publish: a token bucket.
//!
//! Every event a client publishes (`POST /publish`, a WebSocket message) goes
//! to every subscriber of every loop. One client publishing as fast as it can
//! fills the loops' mailboxes and the window, and pushes everyone else's events
//! out of it. So each connection holds a bucket of `burst` tokens, refilled at
//! `rate` a second; a publish takes one, and with none left it is refused: HTTP
//! answers 429 Too Many Requests with `Retry-After` (RFC 6585 §4) and keeps the
//! connection; a WebSocket is closed with 1008 Policy Violation (see
//! `session`'s WebSocket side for why).
//!
//! The bucket is told the time ([`Bucket::take`]'s `now`): it keeps no clock of
//! its own, so a test can drive it without waiting.

use std::time::{Duration, Instant};

/// Events one connection may publish per second, by default (`--publish-rate`).
pub const DEFAULT_RATE: f64 = 50.0;

/// Events one connection may publish at once after a quiet spell, by default
/// (`--publish-burst`).
pub const DEFAULT_BURST: u32 = 100;

/// One connection's publishing allowance.
#[derive(Debug, Clone)]
pub struct Bucket {
    tokens: f64,
    burst: f64,
    rate: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket of `burst` tokens, refilled at `rate` per second
    /// (`rate` 0: never refilled; `burst` 0 with `rate` 0: no limit at all).
    pub fn new(rate: f64, burst: u32, now: Instant) -> Bucket {
        Bucket {
            tokens: f64::from(burst),
            burst: f64::from(burst),
            rate,
            at: now,
        }
    }

    /// Takes a token, or says how long until one is back.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        if self.rate == 0.0 && self.burst == 0.0 {
            return Ok(());
        }
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        if self.rate == 0.0 {
            return Err(Duration::MAX);
        }
        Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
    }
}

/// `Retry-After` in whole seconds (RFC 9110 §10.2.3), at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().clamp(1.0, 86_400.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst, then one token per 1/rate seconds; the wait is what is missing.
    #[test]
    fn burst_then_rate() {
        let t0 = Instant::now();
        let mut bucket = Bucket::new(2.0, 3, t0);
        for _ in 0..3 {
            assert_eq!(bucket.take(t0), Ok(()));
        }
        assert_eq!(bucket.take(t0), Err(Duration::from_millis(500)));
        assert_eq!(bucket.take(t0 + Duration::from_millis(500)), Ok(()));
        assert!(bucket.take(t0 + Duration::from_millis(500)).is_err());
        // A long quiet spell refills the burst, no more.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(bucket.take(later), Ok(()));
        }
        assert!(bucket.take(later).is_err());
        assert_eq!(retry_after_secs(Duration::from_millis(500)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::MAX), 86_400);
    }

    /// Rate 0 and burst 0: no limit.
    #[test]
    fn zero_is_no_limit() {
        let t0 = Instant::now();
        let mut bucket = Bucket::new(0.0, 0, t0);
        for _ in 0..1000 {
            assert_eq!(bucket.take(t0), Ok(()));
        }
    }
}
