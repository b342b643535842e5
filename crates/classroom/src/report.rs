//! Exercise results the students post (`socklab exercise check N --report
//! URL --name NAME`), and the class's progress per exercise.
//!
//! A report is a small JSON body on `POST /report` at the dashboard's port,
//! read by crates/http's one request reader under [`MAX_REPORT`] bytes (more:
//! 413). Checked here: a name, an exercise number, pass or fail, a few
//! findings — anything else is a 400 with the reason, never a panic.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The largest report body taken (`413 Content Too Large` past it).
pub const MAX_REPORT: usize = 16 * 1024;

/// The longest name a student may give, in characters.
pub const MAX_NAME: usize = 64;

/// Findings kept per report; each cut to [`MAX_FINDING`] characters.
pub const MAX_FINDINGS: usize = 20;

/// The longest finding kept, in characters.
pub const MAX_FINDING: usize = 500;

/// Results kept (one per student and exercise, the latest); past it, new
/// students' results are refused with 503 rather than grow without end.
pub const MAX_RESULTS: usize = 4096;

/// One student's result for one exercise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The name the student gave (`--name`).
    pub name: String,
    /// The exercise's number.
    pub exercise: u32,
    /// Whether every check passed.
    pub pass: bool,
    /// What the checker found, one line each.
    #[serde(default)]
    pub findings: Vec<String>,
}

/// Why a report was refused: the 400's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl Report {
    /// Reads a report from a POST body: JSON, a non-empty name, findings cut
    /// to size.
    pub fn parse(body: &[u8]) -> Result<Report, Refused> {
        let mut r: Report = serde_json::from_slice(body).map_err(|e| {
            Refused(format!(
                "a report is JSON {{name, exercise, pass, findings}}: {e}"
            ))
        })?;
        r.name = r.name.trim().chars().take(MAX_NAME).collect();
        if r.name.is_empty() {
            return Err(Refused("a report needs a name (--name)".into()));
        }
        r.findings.truncate(MAX_FINDINGS);
        for f in &mut r.findings {
            *f = f.chars().take(MAX_FINDING).collect();
        }
        Ok(r)
    }

    /// The `report` event the dashboards get.
    pub fn event(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["event"] = "report".into();
        v["conn"] = 0.into();
        v["proto"] = "report".into();
        v["peer"] = "".into();
        v.to_string()
    }
}

/// The class's results: the latest per student and exercise.
#[derive(Debug, Default)]
pub struct Progress {
    results: Mutex<BTreeMap<(u32, String), Report>>,
    news: Mutex<Vec<String>>,
}

impl Progress {
    /// Keeps `report` (replacing that student's earlier one for the exercise)
    /// and queues its event for the next tick. False: the table is full.
    pub fn add(&self, report: Report) -> bool {
        let mut results = self.results.lock().unwrap_or_else(|p| p.into_inner());
        let key = (report.exercise, report.name.clone());
        if results.len() >= MAX_RESULTS && !results.contains_key(&key) {
            return false;
        }
        let event = report.event();
        results.insert(key, report);
        drop(results);
        self.news
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event);
        true
    }

    /// Events not yet sent.
    pub fn take_news(&self) -> Vec<String> {
        std::mem::take(&mut *self.news.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Every result kept, as events, for a dashboard that opens later.
    pub fn snapshot(&self) -> Vec<String> {
        let results = self.results.lock().unwrap_or_else(|p| p.into_inner());
        results.values().map(Report::event).collect()
    }

    /// How many students passed and failed `exercise`.
    pub fn tally(&self, exercise: u32) -> (usize, usize) {
        let results = self.results.lock().unwrap_or_else(|p| p.into_inner());
        let of = results.values().filter(|r| r.exercise == exercise);
        let passed = of.clone().filter(|r| r.pass).count();
        (passed, of.count() - passed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sound report is kept; a student's second try replaces the first.
    #[test]
    fn the_latest_result_counts() {
        let p = Progress::default();
        let body = br#"{"name":"ana","exercise":3,"pass":false,"findings":["no FIN"]}"#;
        assert!(p.add(Report::parse(body).expect("valid")));
        let body = br#"{"name":"ana","exercise":3,"pass":true}"#;
        assert!(p.add(Report::parse(body).expect("valid")));
        assert_eq!(p.tally(3), (1, 0));
        assert_eq!(p.take_news().len(), 2);
    }

    /// Bad bodies are refused with a reason, never a panic.
    #[test]
    fn bad_reports_are_refused() {
        for body in [
            &b"not json"[..],
            br#"{"name":" ","exercise":1,"pass":true}"#,
            b"{}",
        ] {
            assert!(Report::parse(body).is_err());
        }
    }
}
