//! The exercises' texts: `exercises/exercises.toml`, compiled in.
//!
//! One file feeds `socklab exercise list | show`, the check's headings and the
//! book's page (`socklab exercise markdown`, run by scripts/gen-docs.sh), so the
//! tool and the book say the same thing. A Korean text sits beside each English
//! one (`[exercise.ko]`) for the Korean page (docs/ko/exercises.md) and
//! `socklab exercise show N --lang ko`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// The data file, as written.
pub const SOURCE: &str = include_str!("../../../exercises/exercises.toml");

/// What the check runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A crate of the exercises workspace: built, then run against sockets.
    Program,
    /// An `answer.txt`, compared with what the check measures on loopback.
    Answer,
}

/// One exercise.
#[derive(Debug, Clone, Deserialize)]
pub struct Exercise {
    /// Its number: `socklab exercise check N`.
    pub id: u32,
    /// The starter's directory under exercises/ (and the solution's under
    /// exercises/solutions/).
    pub slug: String,
    /// A short title.
    pub title: String,
    /// The lessons (docs/lessons.md numbers) it practises.
    pub lessons: Vec<u32>,
    /// What the check runs.
    pub kind: Kind,
    /// Where the answer is explained: doc chapters, source files, RFC sections.
    pub read: String,
    /// What the student learns.
    pub goal: String,
    /// What to do.
    pub task: String,
    /// Staged hints: each one step closer than the one before, the last one
    /// the closest but still not the solution's code (`socklab exercise hint N K`).
    pub hints: Vec<String>,
    /// What the check says about the untouched starter (scripts/exercises.sh
    /// asserts it).
    pub starter_says: String,
    /// The Korean texts (empty until written).
    #[serde(default)]
    pub ko: Korean,
    /// For an exercise answered with facts (a capture's port, a key): each
    /// answer's name and the SHA-1 of its normalised value (see
    /// `checks::capture`), so the data file does not hand out the answers.
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
}

/// The Korean texts of one exercise; an empty field is not written yet.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Korean {
    /// 제목
    #[serde(default)]
    pub title: String,
    /// 목표
    #[serde(default)]
    pub goal: String,
    /// 과제
    #[serde(default)]
    pub task: String,
    /// 단계별 힌트
    #[serde(default)]
    pub hints: Vec<String>,
}

/// The language of an exercise's texts: English, or the Korean of `[exercise.ko]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// The texts as the tool prints them.
    #[default]
    En,
    /// 한국어: docs/ko/exercises.md and `socklab exercise show N --lang ko`.
    Ko,
}

/// The texts of one exercise a student reads, in one language. The rest
/// (`read`, the paths, the commands) names files and commands, and stays as is.
#[derive(Debug, Clone, Copy)]
pub struct Texts<'a> {
    /// The title.
    pub title: &'a str,
    /// What the student learns.
    pub goal: &'a str,
    /// What to do.
    pub task: &'a str,
    /// The staged hints, nearest last.
    pub hints: &'a [String],
}

impl Exercise {
    /// The texts in `lang`. A Korean text never falls back to English: the
    /// catalog test and scripts/check-docs.sh fail while one is empty.
    pub fn texts(&self, lang: Lang) -> Texts<'_> {
        match lang {
            Lang::En => Texts {
                title: &self.title,
                goal: &self.goal,
                task: &self.task,
                hints: &self.hints,
            },
            Lang::Ko => Texts {
                title: &self.ko.title,
                goal: &self.ko.goal,
                task: &self.ko.task,
                hints: &self.ko.hints,
            },
        }
    }
}

#[derive(Deserialize)]
struct File {
    exercise: Vec<Exercise>,
}

/// Every exercise, in order. The file is part of the build, so a mistake in it
/// is a bug of socklab's (and the test below catches it first).
pub fn catalog() -> &'static [Exercise] {
    static CATALOG: OnceLock<Vec<Exercise>> = OnceLock::new();
    CATALOG.get_or_init(|| match toml::from_str::<File>(SOURCE) {
        Ok(file) => file.exercise,
        Err(e) => panic!("exercises/exercises.toml: {e}"),
    })
}

/// Exercise `id`, if there is one.
pub fn exercise(id: u32) -> Option<&'static Exercise> {
    catalog().iter().find(|e| e.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The classroom pack: at least 15 exercises, numbered 1, 2, 3 … in order,
    /// each with every text filled in, in English and in Korean, and at least
    /// one lesson.
    #[test]
    fn the_catalog_is_complete() {
        let all = catalog();
        assert!(all.len() >= 15, "only {} exercises", all.len());
        for (i, e) in all.iter().enumerate() {
            assert_eq!(e.id as usize, i + 1, "exercise {} is out of order", e.id);
            for (name, text) in [
                ("title", &e.title),
                ("read", &e.read),
                ("goal", &e.goal),
                ("task", &e.task),
                ("starter_says", &e.starter_says),
            ] {
                assert!(!text.trim().is_empty(), "exercise {}: empty {name}", e.id);
            }
            let ko = e.texts(Lang::Ko);
            for (name, text) in [("title", ko.title), ("goal", ko.goal), ("task", ko.task)] {
                assert!(
                    !text.trim().is_empty(),
                    "exercise {}: empty ko.{name}",
                    e.id
                );
            }
            // Staged hints: at least two, the same number in both languages,
            // none empty.
            assert!(e.hints.len() >= 2, "exercise {}: fewer than 2 hints", e.id);
            assert_eq!(e.hints.len(), ko.hints.len(), "exercise {}: hints", e.id);
            assert!(e.hints.iter().chain(ko.hints).all(|h| !h.trim().is_empty()));
            assert!(!e.lessons.is_empty(), "exercise {}: no lesson", e.id);
            assert!(e.lessons.iter().all(|l| (1..=23).contains(l)));
            assert!(e.slug.starts_with(&format!("{:02}-", e.id)));
        }
    }
}
