//! The words `socklab exercise` prints around the exercises' texts (labels,
//! verdicts, the list's last line), in English and Korean. The texts
//! themselves come from exercises/exercises.toml.

use exercises_check::Lang;

/// The words around the texts, in one language; the texts come from the data.
pub struct Labels {
    pub exercise: &'static str,
    /// Before one lesson's number.
    pub lesson: &'static str,
    /// Before several.
    pub lessons: &'static str,
    pub goal: &'static str,
    pub read: &'static str,
    pub task: &'static str,
    pub hint: &'static str,
    /// After the first hint: how to get the next one.
    pub more_hints: &'static str,
    /// `hint N K`: "hint K of N".
    pub of: &'static str,
    /// `list`'s last line: show and check.
    pub list_end: &'static str,
    /// `check`'s verdicts.
    pub pass: &'static str,
    pub not_yet: &'static str,
    pub start: &'static str,
    /// `show`'s last line.
    pub check: &'static str,
    /// The book's last line, before the command.
    pub check_md: &'static str,
    /// After the starter's path in the book: what the check does with it.
    pub program: &'static str,
    pub answer: &'static str,
}

pub const EN: Labels = Labels {
    exercise: "Exercise",
    lesson: "Lesson",
    lessons: "Lessons",
    goal: "Goal",
    read: "Read",
    task: "Task",
    hint: "Hint",
    more_hints: "more hints, each one step closer",
    of: "of",
    list_end: "`{me} exercise show N` for the task, `{me} exercise hint N` for a hint, `{me} exercise check N` to check your work.",
    pass: "PASS exercise",
    not_yet: "NOT YET exercise {id}: {n} to fix (each `wrong` line says where to look; a hint: {me} exercise hint {id})",
    start: "Start from",
    check: "Check:     ",
    check_md: "**check** with",
    program: "a crate; the check builds and runs it",
    answer: "the check compares it with what it measures",
};

pub const KO: Labels = Labels {
    exercise: "연습 문제",
    lesson: "레슨",
    lessons: "레슨",
    goal: "목표",
    read: "읽을 곳(영어)",
    task: "과제",
    hint: "힌트",
    more_hints: "다음 힌트, 한 단계씩 더 가까워집니다",
    of: "/",
    list_end: "과제는 `{me} exercise show N --lang ko`, 힌트는 `{me} exercise hint N --lang ko`, 채점은 `{me} exercise check N --lang ko`.",
    pass: "통과: 연습 문제",
    not_yet: "아직: 연습 문제 {id}, 고칠 곳 {n}개 (`wrong` 줄마다 어디를 보면 되는지 적혀 있습니다. 힌트: {me} exercise hint {id} --lang ko)",
    start: "시작 파일",
    check: "채점:",
    check_md: "**채점:**",
    program: "크레이트입니다. 채점 프로그램이 빌드해서 실행합니다",
    answer: "채점 프로그램이 직접 측정한 값과 비교합니다",
};

/// The words of `lang`.
pub fn labels(lang: Lang) -> &'static Labels {
    match lang {
        Lang::En => &EN,
        Lang::Ko => &KO,
    }
}
