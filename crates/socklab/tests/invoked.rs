//! Hints a newcomer types must run: `socklab …` once socklab is on PATH, the
//! binary's own path until then (after `cargo build`, nothing called socklab is
//! on PATH).

use std::path::Path;
use std::process::{Command, Output};

/// Runs socklab with `args`, PATH set to `path`, from the workspace root.
fn socklab_with_path(args: &[&str], path: &str) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    Command::new(env!("CARGO_BIN_EXE_socklab"))
        .args(args)
        .current_dir(root)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "warn")
        .output()
        .expect("socklab runs")
}

/// The directory of the binary under test (target/debug).
fn bin_dir() -> String {
    Path::new(env!("CARGO_BIN_EXE_socklab"))
        .parent()
        .expect("a directory")
        .display()
        .to_string()
}

/// Not on PATH: the hint to start a server, and the --help examples, name the
/// binary's path relative to the clone (`target/debug/socklab` here).
#[test]
fn off_path_hints_give_the_path() {
    // Port 9 (discard) on loopback: nothing listens there.
    let out = socklab_with_path(&["send", "tcp://127.0.0.1:9", "hi"], "/usr/bin:/bin");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("target/debug/socklab serve tcp"), "{err}");
    let help = socklab_with_path(&["send", "--help"], "/usr/bin:/bin");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("target/debug/socklab send"), "{help}");
}

/// On PATH: the hints say `socklab`, as the docs do.
#[test]
fn on_path_hints_say_socklab() {
    let path = format!("{}:/usr/bin:/bin", bin_dir());
    let out = socklab_with_path(&["send", "tcp://127.0.0.1:9", "hi"], &path);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(": socklab serve tcp"), "{err}");
    assert!(!err.contains("target/debug/socklab serve"), "{err}");
}
