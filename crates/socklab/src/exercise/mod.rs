//! `socklab exercise list | show N | hint N [K] | check N [--path DIR]`: the
//! classroom exercises, in English or (`--lang ko`) Korean. The texts come from exercises/exercises.toml and the checks from
//! the exercises-check crate; this file only prints.
//!
//! Try: `socklab exercise show 1`, edit exercises/01-threads/src/main.rs, then
//! `socklab exercise check 1`. A solution: `socklab exercise check 1 --path
//! exercises/solutions/01-threads`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use exercises_check::{Exercise, Lang, catalog, exercise};

mod labels;
mod to_classroom;

use labels::{Labels, labels};

/// Flags of `socklab exercise`.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  socklab exercise list --lang ko\n  socklab exercise show 1\n  socklab exercise hint 1 2                                      # hint 2 of exercise 1, one step closer than hint 1\n  socklab exercise check 1                                       # your copy: exercises/01-threads\n  socklab exercise check 1 --path exercises/solutions/01-threads # a solution\n  socklab exercise check 2 --reveal                              # for a teacher: the expected values too\n  socklab exercise check 1 --report http://192.168.1.10:9000/ --name ana   # also tell the teacher's classroom\n\nExit status of check: 0 passed, 1 something is wrong (each finding says what), 2 the check could not run."
)]
pub struct ExerciseCmd {
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Every exercise: number, title, lessons
    List {
        /// The language of the titles
        #[arg(long, value_enum, default_value = "en")]
        lang: LangArg,
    },
    /// One exercise: goal, what to read, the task, how to get a hint
    Show {
        /// The exercise's number
        id: u32,
        /// The language of the texts
        #[arg(long, value_enum, default_value = "en")]
        lang: LangArg,
    },
    /// Hint K of exercise N: each one step closer than the one before, none the solution
    Hint {
        /// The exercise's number
        id: u32,
        /// Which hint (1 is the furthest from the answer) [default: 1]
        #[arg(default_value_t = 1)]
        k: usize,
        /// The language of the hint
        #[arg(long, value_enum, default_value = "en")]
        lang: LangArg,
    },
    /// Run the exercise's check on your work, against real sockets on loopback
    Check {
        /// The exercise's number
        id: u32,
        /// Your crate (or the directory of your answer.txt) [default: exercises/SLUG in this checkout]
        #[arg(long, value_name = "DIR")]
        path: Option<PathBuf>,
        /// The language of the findings
        #[arg(long, value_enum, default_value = "en")]
        lang: LangArg,
        /// For a teacher: also print the expected values (a wrong finding
        /// never does, so a student reads where to look, not the answer)
        #[arg(long)]
        reveal: bool,
        /// Also send the result to a classroom: its dashboard's URL (http://HOST:PORT/)
        #[arg(long, value_name = "URL", requires = "name")]
        report: Option<String>,
        /// The name the classroom shows for you (with --report)
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
    /// The book's exercise page, as Markdown (scripts/gen-docs.sh)
    #[command(hide = true)]
    Markdown {
        /// en: docs/generated/exercises.md; ko: docs/generated/exercises.ko.md
        #[arg(long, value_enum, default_value = "en")]
        lang: LangArg,
    },
}

/// `--lang`: en or ko.
#[derive(Clone, Copy, ValueEnum)]
enum LangArg {
    /// English
    En,
    /// 한국어
    Ko,
}

impl From<LangArg> for Lang {
    fn from(lang: LangArg) -> Lang {
        match lang {
            LangArg::En => Lang::En,
            LangArg::Ko => Lang::Ko,
        }
    }
}

impl ExerciseCmd {
    /// Runs the action.
    pub fn run(self) -> anyhow::Result<()> {
        match self.action {
            Action::List { lang } => list(lang.into()),
            Action::Show { id, lang } => {
                outln!("{}", show(find(id)?, lang.into()));
                Ok(())
            }
            Action::Hint { id, k, lang } => {
                outln!("{}", hint(find(id)?, k, lang.into())?);
                Ok(())
            }
            Action::Check {
                id,
                path,
                lang,
                reveal,
                report,
                name,
            } => {
                let to = report.zip(name);
                check(find(id)?, path, lang.into(), reveal, to)
            }
            Action::Markdown { lang } => {
                out!("{}", markdown(lang.into()));
                Ok(())
            }
        }
    }
}

fn find(id: u32) -> anyhow::Result<&'static Exercise> {
    exercise(id).ok_or_else(|| {
        anyhow::anyhow!(
            "there is no exercise {id}: `socklab exercise list` shows 1 to {}",
            catalog().len()
        )
    })
}

fn lessons(e: &Exercise) -> String {
    let words: Vec<String> = e.lessons.iter().map(u32::to_string).collect();
    words.join(", ")
}

/// "Lesson" before one lesson's number, "Lessons" before several.
fn lessons_word(l: &Labels, e: &Exercise) -> &'static str {
    if e.lessons.len() == 1 {
        l.lesson
    } else {
        l.lessons
    }
}

fn list(lang: Lang) -> anyhow::Result<()> {
    let l = labels(lang);
    for e in catalog() {
        let word = lessons_word(l, e).to_lowercase();
        let title = e.texts(lang).title;
        // Pad by columns, not bytes: a Hangul syllable takes two columns in a
        // terminal, so Korean titles line up too.
        let columns: usize = title
            .chars()
            .map(|c| {
                if ('\u{1100}'..='\u{D7A3}').contains(&c) {
                    2
                } else {
                    1
                }
            })
            .sum();
        let pad = 48usize.saturating_sub(columns);
        outln!(
            "{:>2}  {title}{} {word} {}",
            e.id,
            " ".repeat(pad),
            lessons(e)
        );
    }
    // The name that runs this binary from here (see invoked.rs).
    let me = crate::invoked::command_name();
    outln!("\n{}", l.list_end.replace("{me}", &me));
    Ok(())
}

/// Hint `k` (from 1) of exercise `e`, with how to get the next one.
fn hint(e: &Exercise, k: usize, lang: Lang) -> anyhow::Result<String> {
    let (l, hints) = (labels(lang), e.texts(lang).hints);
    let text = k.checked_sub(1).and_then(|i| hints.get(i)).ok_or_else(|| {
        anyhow::anyhow!(
            "exercise {} has hints 1 to {}: `socklab exercise hint {} K`",
            e.id,
            hints.len(),
            e.id
        )
    })?;
    let mut out = format!("{} {k} {} {}: {text}", l.hint, l.of, hints.len());
    if k < hints.len() {
        let lang_flag = if lang == Lang::Ko { " --lang ko" } else { "" };
        out.push_str(&format!(
            "\n\n{}: socklab exercise hint {} {}{lang_flag}",
            l.more_hints,
            e.id,
            k + 1
        ));
    }
    Ok(out)
}

/// The student's view of one exercise.
fn show(e: &Exercise, lang: Lang) -> String {
    let (l, t) = (labels(lang), e.texts(lang));
    let what = match e.kind {
        exercises_check::catalog::Kind::Program => format!("exercises/{}/src/main.rs", e.slug),
        exercises_check::catalog::Kind::Answer => format!("exercises/{}/answer.txt", e.slug),
    };
    format!(
        "{} {}: {} ({} {})\n\n{}: {}\n\n{}: {}\n\n{}: {}\n\n{}: {}\n\n{}: {what}\n{} socklab exercise check {}",
        l.exercise,
        e.id,
        t.title,
        lessons_word(l, e).to_lowercase(),
        lessons(e),
        l.goal,
        t.goal,
        l.read,
        e.read,
        l.task,
        t.task,
        l.hint,
        first_hint(l, e, t.hints, lang),
        l.start,
        l.check,
        e.id
    )
}

/// The first staged hint, and the command for the rest.
fn first_hint(l: &Labels, e: &Exercise, hints: &[String], lang: Lang) -> String {
    let first = hints.first().map_or("", String::as_str);
    let lang_flag = if lang == Lang::Ko { " --lang ko" } else { "" };
    format!(
        "{first} ({}: `socklab exercise hint {} 2{lang_flag}`)",
        l.more_hints, e.id
    )
}

fn check(
    e: &Exercise,
    path: Option<PathBuf>,
    lang: Lang,
    reveal: bool,
    classroom: Option<(String, String)>,
) -> anyhow::Result<()> {
    let l = labels(lang);
    let dir = match path {
        Some(dir) => dir,
        None => {
            let here = std::env::current_dir()?;
            let root = exercises_check::exercises_dir(&here).ok_or_else(|| {
                anyhow::anyhow!(
                    "no exercises/exercises.toml in {} or above: run this inside the socklab checkout, or give --path DIR",
                    here.display()
                )
            })?;
            root.join(&e.slug)
        }
    };
    outln!(
        "exercise {}: {} — checking {}",
        e.id,
        e.texts(lang).title,
        dir.display()
    );
    let report = match exercises_check::check(e.id, &dir) {
        Ok(report) => report,
        Err(why) => {
            eprintln!("socklab: the check could not run: {why:#}");
            std::process::exit(2);
        }
    };
    out!("{}", report.render(lang, reveal));
    if let Some((url, name)) = classroom {
        match to_classroom::post(&url, &to_classroom::body(&name, e.id, &report)) {
            Ok(200) => outln!("reported to the classroom at {url} as {name}"),
            Ok(status) => eprintln!("socklab: the classroom at {url} answered {status}"),
            Err(why) => eprintln!("socklab: cannot report to the classroom at {url}: {why:#}"),
        }
    }
    if reveal {
        // Every exercise has one; for a program it is the whole answer.
        outln!("reveal a solution: exercises/solutions/{}", e.slug);
    }
    if report.passed() {
        outln!("{} {}", l.pass, e.id);
        Ok(())
    } else {
        let me = crate::invoked::command_name();
        outln!(
            "{}",
            l.not_yet
                .replace("{id}", &e.id.to_string())
                .replace("{n}", &report.wrong_count().to_string())
                .replace("{me}", &me)
        );
        std::process::exit(1);
    }
}

/// The book's page: every exercise, from the same data, in one language
/// (docs/exercises.md and docs/ko/exercises.md include it).
fn markdown(lang: Lang) -> String {
    let l = labels(lang);
    let mut page = String::from(
        "<!-- Generated by scripts/gen-docs.sh from exercises/exercises.toml: edit that file, not this one. -->\n",
    );
    for e in catalog() {
        let t = e.texts(lang);
        let start = match e.kind {
            exercises_check::catalog::Kind::Program => {
                format!("`exercises/{}/src/main.rs` ({})", e.slug, l.program)
            }
            exercises_check::catalog::Kind::Answer => {
                format!("`exercises/{}/answer.txt` ({})", e.slug, l.answer)
            }
        };
        page.push_str(&format!(
            "\n## {}. {}\n\n*{} {}.*\n\n**{}.** {}\n\n**{}.** {}\n\n**{}.** {}\n\n**{}.** {}\n\n**{}** {start}; {} `socklab exercise check {}`.\n",
            e.id,
            t.title,
            lessons_word(l, e),
            lessons(e),
            l.goal,
            t.goal,
            l.read,
            e.read,
            l.task,
            t.task,
            l.hint,
            first_hint(l, e, t.hints, lang),
            l.start,
            l.check_md,
            e.id
        ));
    }
    page
}

#[cfg(test)]
mod tests {
    use super::labels::EN;
    use super::*;

    /// The book's exercise pages (English and Korean) are what the data file
    /// makes: an edited text without `scripts/gen-docs.sh` (or
    /// `socklab exercise markdown --lang ko`) fails here.
    #[test]
    fn the_committed_pages_match_the_data() {
        let generated = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/generated");
        for (lang, file) in [(Lang::En, "exercises.md"), (Lang::Ko, "exercises.ko.md")] {
            let path = format!("{generated}/{file}");
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                committed == markdown(lang),
                "{path} is out of date: socklab exercise markdown{} > {path}",
                if lang == Lang::Ko { " --lang ko" } else { "" }
            );
        }
    }

    /// One lesson is "lesson 10", several are "lessons 1, 20" (the list, the
    /// book, `show`).
    #[test]
    fn one_lesson_is_singular() {
        let one = catalog().iter().find(|e| e.lessons.len() == 1);
        let one = one.expect("an exercise with one lesson");
        assert_eq!(lessons_word(&EN, one), "Lesson");
        assert!(show(one, Lang::En).contains(&format!("(lesson {})", one.lessons[0])));
        assert!(markdown(Lang::En).contains(&format!("*Lesson {}.*", one.lessons[0])));
    }

    /// `show --lang ko` prints the Korean texts and keeps the paths and the
    /// command as they are.
    #[test]
    fn show_in_korean() {
        let e = find(1).expect("exercise 1");
        let text = show(e, Lang::Ko);
        assert!(text.starts_with(&format!("연습 문제 1: {}", e.ko.title)));
        assert!(text.contains(&e.ko.task));
        assert!(text.contains("socklab exercise check 1"));
        assert!(
            show(e, Lang::En).starts_with("Exercise 1: Serve two clients at once (lessons 1, 20)")
        );
    }

    /// Hints are staged: hint 1 points to hint 2, the last points nowhere,
    /// and a hint past the last is an error naming the range; `show` gives
    /// only the first.
    #[test]
    fn hints_come_one_at_a_time() {
        for e in catalog() {
            let n = e.hints.len();
            let first = hint(e, 1, Lang::En).expect("hint 1");
            assert!(first.starts_with(&format!("Hint 1 of {n}: {}", e.hints[0])));
            assert!(first.contains(&format!("socklab exercise hint {} 2", e.id)));
            let last = hint(e, n, Lang::Ko).expect("the last hint");
            assert!(last.contains(&e.ko.hints[n - 1]) && !last.contains("exercise hint"));
            assert!(hint(e, n + 1, Lang::En).is_err() && hint(e, 0, Lang::En).is_err());
            let shown = show(e, Lang::En);
            assert!(shown.contains(&e.hints[0]));
            assert!(e.hints[1..].iter().all(|h| !shown.contains(h.as_str())));
        }
    }
}
