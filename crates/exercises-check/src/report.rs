//! A check's findings: one line per thing checked, right or wrong, in the order
//! checked, each saying what was seen and, when wrong, where to look — never
//! the answer itself. The expected values a teacher may want go in
//! [`Report::reveal`], printed only with `socklab exercise check N --reveal`.
//!
//! A finding may carry a Korean text beside the English one, printed with
//! `--lang ko`; one that has none yet is printed in English.

use std::fmt;

use crate::catalog::Lang;

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Right (true) or wrong.
    pub ok: bool,
    /// What was seen, and for a wrong one, what is wrong and where to read about it.
    pub text: String,
    /// The same in Korean, if written.
    pub ko: Option<String>,
}

impl Finding {
    /// The text in `lang` (English where no Korean is written).
    pub fn text_in(&self, lang: Lang) -> &str {
        match (lang, &self.ko) {
            (Lang::Ko, Some(ko)) => ko,
            _ => &self.text,
        }
    }
}

/// Everything a check found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The findings, in the order checked.
    pub findings: Vec<Finding>,
    /// Facts about the run (the seed, the ports), printed before the
    /// findings; each with its Korean text, if written.
    pub notes: Vec<(String, Option<String>)>,
    /// What a right answer would have been: for a teacher (`--reveal`), never
    /// printed otherwise, because a student who reads it learns nothing.
    pub reveals: Vec<String>,
}

impl Report {
    /// Records something right.
    pub fn ok(&mut self, text: impl Into<String>) {
        self.push(true, text.into(), None);
    }

    /// Records something wrong.
    pub fn wrong(&mut self, text: impl Into<String>) {
        self.push(false, text.into(), None);
    }

    /// Records something right, in English and Korean.
    pub fn ok_ko(&mut self, text: impl Into<String>, ko: impl Into<String>) {
        self.push(true, text.into(), Some(ko.into()));
    }

    /// Records something wrong, in English and Korean.
    pub fn wrong_ko(&mut self, text: impl Into<String>, ko: impl Into<String>) {
        self.push(false, text.into(), Some(ko.into()));
    }

    fn push(&mut self, ok: bool, text: String, ko: Option<String>) {
        self.findings.push(Finding { ok, text, ko });
    }

    /// Records a fact about the run.
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push((text.into(), None));
    }

    /// Records a fact about the run, in English and Korean.
    pub fn note_ko(&mut self, text: impl Into<String>, ko: impl Into<String>) {
        self.notes.push((text.into(), Some(ko.into())));
    }

    /// Records an expected value, for `--reveal` only.
    pub fn reveal(&mut self, text: impl Into<String>) {
        self.reveals.push(text.into());
    }

    /// Passed: something was checked and nothing was wrong.
    pub fn passed(&self) -> bool {
        !self.findings.is_empty() && self.findings.iter().all(|f| f.ok)
    }

    /// How many findings are wrong.
    pub fn wrong_count(&self) -> usize {
        self.findings.iter().filter(|f| !f.ok).count()
    }

    /// `note  …` lines, then `ok    …` and `wrong …` lines in `lang`, then,
    /// if `reveal`, `reveal …` lines with the expected values.
    pub fn render(&self, lang: Lang, reveal: bool) -> String {
        let mut out = String::new();
        for (text, ko) in &self.notes {
            let note = match (lang, ko) {
                (Lang::Ko, Some(ko)) => ko,
                _ => text,
            };
            out.push_str(&format!("note  {note}\n"));
        }
        for finding in &self.findings {
            let mark = if finding.ok { "ok   " } else { "wrong" };
            out.push_str(&format!("{mark} {}\n", finding.text_in(lang)));
        }
        if reveal {
            for value in &self.reveals {
                out.push_str(&format!("reveal {value}\n"));
            }
        }
        out
    }
}

impl fmt::Display for Report {
    /// [`Report::render`] in English, without the expected values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Lang::En, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A revealed value is printed only when asked for, and a finding without
    /// Korean falls back to its English text.
    #[test]
    fn reveal_only_when_asked_and_korean_falls_back() {
        let mut r = Report::default();
        r.wrong_ko("wrong thing", "틀린 것");
        r.ok("right thing");
        r.reveal("expected 42");
        assert_eq!(r.to_string(), "wrong wrong thing\nok    right thing\n");
        assert_eq!(
            r.render(Lang::Ko, true),
            "wrong 틀린 것\nok    right thing\nreveal expected 42\n"
        );
    }
}
