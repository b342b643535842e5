//! The name to print where the user will type a command: `socklab` when that
//! runs this very program from PATH, otherwise the path that does.
//!
//! After `cargo run --release -- tour` or `cargo build --release`, the binary is
//! `target/release/socklab` and nothing called `socklab` is on PATH: a hint that
//! says "run `socklab serve tcp`" would fail with "command not found". So the
//! tour's "what to try next", the `--help` examples and the error hints say
//! `target/release/socklab serve tcp` instead, until `cargo install --path
//! crates/socklab` (README) puts `socklab` on PATH.
//!
//! Try: `target/release/socklab send tcp://127.0.0.1:9 hi` — the hint names
//! `target/release/socklab serve tcp …`.

use std::env;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The program's name, as the docs and the examples write it.
const NAME: &str = "socklab";

/// How to run this program from the current directory: `socklab` if that finds
/// this binary on PATH; else its path, relative to the current directory when
/// it lies under it (`target/release/socklab`), absolute otherwise.
pub(crate) fn command_name() -> String {
    let Ok(exe) = env::current_exe().and_then(|p| p.canonicalize()) else {
        return NAME.to_string();
    };
    let cwd = env::current_dir().unwrap_or_default();
    name_for(
        &exe,
        &cwd,
        on_path(env::var_os("PATH").as_deref()).as_deref(),
    )
}

/// `text` with `socklab ` replaced by `name ` (nothing to do for `socklab`).
pub(crate) fn with_name(text: &str, name: &str) -> String {
    if name == NAME {
        return text.to_string();
    }
    text.replace(&format!("{NAME} "), &format!("{name} "))
}

/// The `socklab` the shell would run: the first one in PATH's directories,
/// resolved through symlinks; `None` if there is none.
fn on_path(path: Option<&OsStr>) -> Option<PathBuf> {
    env::split_paths(path?)
        .map(|dir| dir.join(NAME))
        .find(|p| p.is_file())
        .and_then(|p| p.canonicalize().ok())
}

/// The decision, without the environment: `found` is what PATH's `socklab`
/// resolves to, if anything.
fn name_for(exe: &Path, cwd: &Path, found: Option<&Path>) -> String {
    if found == Some(exe) {
        return NAME.to_string();
    }
    match exe.strip_prefix(cwd) {
        Ok(relative) if !cwd.as_os_str().is_empty() => relative.display().to_string(),
        _ => exe.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On PATH: the hints say `socklab`, as the docs do.
    #[test]
    fn on_path_it_is_socklab() {
        let exe = Path::new("/home/me/.cargo/bin/socklab");
        assert_eq!(
            name_for(exe, Path::new("/home/me/socklab"), Some(exe)),
            "socklab"
        );
    }

    /// Not on PATH (or another socklab is): the path that runs this binary,
    /// relative to the clone when run from inside it.
    #[test]
    fn off_path_it_is_the_path_that_works() {
        let exe = Path::new("/home/me/socklab/target/release/socklab");
        let other = Path::new("/usr/local/bin/socklab");
        assert_eq!(
            name_for(exe, Path::new("/home/me/socklab"), None),
            "target/release/socklab"
        );
        assert_eq!(
            name_for(exe, Path::new("/home/me/socklab"), Some(other)),
            "target/release/socklab"
        );
        assert_eq!(
            name_for(exe, Path::new("/tmp"), None),
            "/home/me/socklab/target/release/socklab"
        );
    }

    /// Every command in a hint gets the name; other words are left alone.
    #[test]
    fn hints_name_the_command_that_works() {
        assert_eq!(
            with_name("start one: socklab serve tcp", "target/release/socklab"),
            "start one: target/release/socklab serve tcp"
        );
        assert_eq!(
            with_name("socklab's tour", "target/release/socklab"),
            "socklab's tour"
        );
        assert_eq!(with_name("socklab serve ws", "socklab"), "socklab serve ws");
    }
}
