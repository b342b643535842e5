//! A check's findings: one line per thing checked, right or wrong, in the order
//! checked, each saying what was seen.

use std::fmt;

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Right (true) or wrong.
    pub ok: bool,
    /// What was seen, and for a wrong one, what was expected instead.
    pub text: String,
}

/// Everything a check found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The findings, in the order checked.
    pub findings: Vec<Finding>,
    /// Facts about the run (the seed, the ports), printed before the findings.
    pub notes: Vec<String>,
}

impl Report {
    /// Records something right.
    pub fn ok(&mut self, text: impl Into<String>) {
        self.findings.push(Finding {
            ok: true,
            text: text.into(),
        });
    }

    /// Records something wrong.
    pub fn wrong(&mut self, text: impl Into<String>) {
        self.findings.push(Finding {
            ok: false,
            text: text.into(),
        });
    }

    /// Records a fact about the run.
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// Passed: something was checked and nothing was wrong.
    pub fn passed(&self) -> bool {
        !self.findings.is_empty() && self.findings.iter().all(|f| f.ok)
    }

    /// How many findings are wrong.
    pub fn wrong_count(&self) -> usize {
        self.findings.iter().filter(|f| !f.ok).count()
    }
}

impl fmt::Display for Report {
    /// `note  …` lines, then `ok    …` and `wrong …` lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for note in &self.notes {
            writeln!(f, "note  {note}")?;
        }
        for finding in &self.findings {
            let mark = if finding.ok { "ok   " } else { "wrong" };
            writeln!(f, "{mark} {}", finding.text)?;
        }
        Ok(())
    }
}
