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

/// Bytes of results kept at most (names and findings, see [`Report::size`]):
/// 4 MiB, a class of 30 with 20 exercises each at ~7 KB of findings. The count
/// alone lets 4096 reports of ~10 KB (20 findings of 500 characters) hold
/// 40 MiB, outside any `--memory-budget`: past this, 503 too (found by the
/// hostile matrix's report-flood).
pub const MAX_RESULTS_BYTES: usize = 4 << 20;

/// What one kept result costs beyond its text: the map's node, the key's copy
/// of the name, the strings' headers.
const RESULT_OVERHEAD: usize = 128;

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
    /// The bytes this result holds while kept (counted against
    /// [`MAX_RESULTS_BYTES`]): its name twice (the key's copy), its findings.
    pub fn size(&self) -> usize {
        let findings: usize = self.findings.iter().map(|f| f.len() + 24).sum();
        RESULT_OVERHEAD + 2 * self.name.len() + findings
    }

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

/// The results kept, and the bytes they hold.
#[derive(Debug, Default)]
struct Results {
    by_student: BTreeMap<(u32, String), Report>,
    bytes: usize,
}

/// The class's results: the latest per student and exercise.
#[derive(Debug, Default)]
pub struct Progress {
    results: Mutex<Results>,
    news: Mutex<Vec<String>>,
}

impl Progress {
    /// Keeps `report` (replacing that student's earlier one for the exercise)
    /// and queues its event for the next tick. False: the table is full (by
    /// count, or by bytes: [`MAX_RESULTS_BYTES`]).
    pub fn add(&self, report: Report) -> bool {
        let mut results = self.results.lock().unwrap_or_else(|p| p.into_inner());
        let key = (report.exercise, report.name.clone());
        let replaced = results.by_student.get(&key).map_or(0, Report::size);
        let full = results.by_student.len() >= MAX_RESULTS && replaced == 0;
        if full || results.bytes - replaced + report.size() > MAX_RESULTS_BYTES {
            return false;
        }
        results.bytes = results.bytes - replaced + report.size();
        let event = report.event();
        results.by_student.insert(key, report);
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
        results.by_student.values().map(Report::event).collect()
    }

    /// How many students passed and failed `exercise`.
    pub fn tally(&self, exercise: u32) -> (usize, usize) {
        let results = self.results.lock().unwrap_or_else(|p| p.into_inner());
        let of = results
            .by_student
            .values()
            .filter(|r| r.exercise == exercise);
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

    /// Reports as large as a report may be, from ever new names: the table
    /// stops at its byte cap (503), whatever the count; a student already in
    /// it may still replace their result with one no larger.
    #[test]
    fn the_table_is_bounded_in_bytes() {
        let p = Progress::default();
        let big = |name: String| Report {
            name,
            exercise: 1,
            pass: false,
            findings: vec!["f".repeat(MAX_FINDING); MAX_FINDINGS],
        };
        let taken = (0..MAX_RESULTS)
            .take_while(|i| p.add(big(format!("student{i}"))))
            .count();
        assert!(taken < MAX_RESULTS, "the byte cap never held: {taken}");
        let held = p.results.lock().expect("lock").bytes;
        assert!(held <= MAX_RESULTS_BYTES, "{held} bytes held");
        let sizes: usize = (0..taken).map(|i| big(format!("student{i}")).size()).sum();
        assert_eq!(held, sizes);
        assert!(!p.add(big("one more".into())));
        assert!(
            p.add(big("student0".into())),
            "a replacement of the same size"
        );
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
