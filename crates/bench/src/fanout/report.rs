//! What a fan-out run measured ([`FanoutReport`]), its JSON line, and whether it
//! was saturated: past what the machine carries, so that its latencies are a
//! queue's and must be printed as such.

use std::time::Duration;

/// Below this share of the deliveries asked (members × rate) carried, a run is
/// saturated: the lines queue up, and its latencies are the queue's.
pub const CARRIED_SHARE: f64 = 0.9;

/// A first member waiting longer than this (p50) means the lines queue up
/// before the server even starts a fan-out: saturated too. An unloaded server
/// hands a line to its first member in well under a millisecond.
pub const SATURATED_FIRST_P50: Duration = Duration::from_millis(100);

/// What came back.
#[derive(Debug, Clone)]
pub struct FanoutReport {
    /// Members that connected.
    pub members: usize,
    /// Lines sent (timed).
    pub sent: usize,
    /// Lines every member received.
    pub complete: usize,
    /// Receipts counted (lines × members that got them).
    pub deliveries: usize,
    /// Receipts per second, from the first send to the last receipt.
    pub deliveries_per_sec: f64,
    /// Receipts per second asked for: members × rate.
    pub asked_per_sec: f64,
    /// Send → last member, microseconds (p50; p99 only with enough samples).
    pub last_p50_us: Option<f64>,
    /// As above, p99 (`None` below [`super::MIN_SAMPLES_FOR_P99`] complete lines).
    pub last_p99_us: Option<f64>,
    /// Send → first member, microseconds (p50): the spread is the fan-out.
    pub first_p50_us: Option<f64>,
    /// Members that closed or failed.
    pub errors: usize,
    /// The first of those errors.
    pub first_error: Option<String>,
}

impl FanoutReport {
    /// Why this run was past what the machine carries, or `None`: members the
    /// server dropped (a chat server closes a member too slow to read), fewer
    /// than [`CARRIED_SHARE`] of the deliveries asked, or a first member waiting
    /// past [`SATURATED_FIRST_P50`]. A saturated run's latencies are a queue's:
    /// never print them without saying so.
    pub fn saturation(&self) -> Option<String> {
        if self.errors > 0 {
            return Some(format!(
                "{} of {} members closed (dropped as slow)",
                self.errors, self.members
            ));
        }
        if self.deliveries_per_sec < CARRIED_SHARE * self.asked_per_sec {
            return Some(format!(
                "{:.0} of the {:.0} deliveries/s asked",
                self.deliveries_per_sec, self.asked_per_sec
            ));
        }
        let bound = SATURATED_FIRST_P50.as_secs_f64() * 1e6;
        match self.first_p50_us {
            Some(first) if first > bound => Some(format!(
                "the first member waited {:.0} ms (p50), over {} ms",
                first / 1000.0,
                SATURATED_FIRST_P50.as_millis()
            )),
            _ => None,
        }
    }

    /// One line of JSON (null where a figure is missing).
    pub fn to_json(&self) -> String {
        let opt = |v: Option<f64>| v.map_or("null".into(), |v| format!("{v:.1}"));
        let err = self
            .first_error
            .as_ref()
            .map_or("null".into(), |e| format!("{e:?}"));
        format!(
            "{{\"members\":{},\"sent\":{},\"complete\":{},\"deliveries\":{},\"deliveries_per_sec\":{:.1},\"asked_per_sec\":{:.1},\"saturated\":{},\"last_p50_us\":{},\"last_p99_us\":{},\"first_p50_us\":{},\"errors\":{},\"first_error\":{}}}",
            self.members,
            self.sent,
            self.complete,
            self.deliveries,
            self.deliveries_per_sec,
            self.asked_per_sec,
            self.saturation()
                .map_or("null".into(), |why| format!("{why:?}")),
            opt(self.last_p50_us),
            opt(self.last_p99_us),
            opt(self.first_p50_us),
            self.errors,
            err
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(delivered: f64, errors: usize, first_ms: f64) -> FanoutReport {
        FanoutReport {
            members: 10_000,
            sent: 10,
            complete: 10,
            deliveries: 100_000,
            deliveries_per_sec: delivered,
            asked_per_sec: 50_000.0,
            last_p50_us: Some(48_000.0),
            last_p99_us: None,
            first_p50_us: Some(first_ms * 1000.0),
            errors,
            first_error: None,
        }
    }

    /// Saturated: members dropped, too little carried, or a first member kept
    /// waiting; and the JSON says so beside the latencies.
    #[test]
    fn a_saturated_run_says_so() {
        let carried = report(49_000.0, 0, 0.4);
        assert_eq!(carried.saturation(), None);
        assert!(carried.to_json().contains("\"saturated\":null"));
        let short = report(28_500.0, 0, 0.4);
        assert_eq!(
            short.saturation().as_deref(),
            Some("28500 of the 50000 deliveries/s asked")
        );
        assert!(
            short
                .to_json()
                .contains("\"saturated\":\"28500 of the 50000")
        );
        let dropped = report(49_000.0, 900, 0.4).saturation().unwrap();
        assert!(
            dropped.starts_with("900 of 10000 members closed"),
            "{dropped}"
        );
        let queued = report(49_000.0, 0, 1600.0).saturation().unwrap();
        assert!(queued.contains("waited 1600 ms"), "{queued}");
    }
}
