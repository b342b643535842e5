//! The student's side: build their crate, run it with deadlines, read their
//! answer file. Nothing here judges; the checks do.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// Builds the crate in `dir` with cargo (inside the exercises workspace, so its
/// one Cargo.lock and target/ are shared) and returns its executable. cargo's
/// own messages, compile errors included, go to our stderr as usual.
pub fn build(dir: &Path) -> anyhow::Result<PathBuf> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        anyhow::bail!(
            "no Cargo.toml in {}: this exercise is a program; give --path the directory of its crate",
            dir.display()
        );
    }
    let manifest = manifest.canonicalize()?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run cargo to build {}: {e}", dir.display()))?;
    if !output.status.success() {
        anyhow::bail!(
            "{} does not compile yet: cargo's errors are above (cargo build --manifest-path {})",
            dir.display(),
            manifest.display()
        );
    }
    // One JSON object per line; ours is the artifact of this manifest with an executable.
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| m["manifest_path"].as_str().map(Path::new) == Some(manifest.as_path()))
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| anyhow::anyhow!("cargo built {} but made no program", dir.display()))
}

/// A student's program running, its stdout read line by line as it comes.
pub struct Program {
    child: Child,
    /// The program's stdin, for a check that types into it ([`Program::start_typing`]).
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Receiver<String>,
    /// Every stdout line taken so far.
    pub seen: Vec<String>,
}

/// How a program ended (or did not).
pub struct Ended {
    /// Its exit status, or None if it was still running at the deadline (killed).
    pub status: Option<ExitStatus>,
}

impl Program {
    /// Starts `exe args…` with stdout and stderr captured, and nothing on stdin.
    pub fn start(exe: &Path, args: &[String]) -> anyhow::Result<Program> {
        Program::spawn(exe, args, false)
    }

    /// Starts `exe args…` with stdin a pipe the check types into
    /// ([`Program::type_line`], [`Program::end_input`]).
    pub fn start_typing(exe: &Path, args: &[String]) -> anyhow::Result<Program> {
        Program::spawn(exe, args, true)
    }

    fn spawn(exe: &Path, args: &[String], typing: bool) -> anyhow::Result<Program> {
        let mut child = Command::new(exe)
            .args(args)
            .stdin(if typing {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", exe.display()))?;
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (tx, stderr) = mpsc::channel();
        let mut err = child.stderr.take().expect("stderr is piped");
        thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            let _ = tx.send(text);
        });
        Ok(Program {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
            seen: Vec::new(),
        })
    }

    /// The next stdout line, if one comes within `wait`.
    pub fn line(&mut self, wait: Duration) -> Option<String> {
        match self.lines.recv_timeout(wait) {
            Ok(line) => {
                self.seen.push(line.clone());
                Some(line)
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Types `line` and Enter into the program's stdin; false if it no longer reads it.
    pub fn type_line(&mut self, line: &str) -> bool {
        match self.stdin.as_mut() {
            Some(stdin) => writeln!(stdin, "{line}")
                .and_then(|()| stdin.flush())
                .is_ok(),
            None => false,
        }
    }

    /// Closes the program's stdin: it reads end of file, as after Ctrl-D.
    pub fn end_input(&mut self) {
        self.stdin = None;
    }

    /// Waits up to `wait` for the stdout line `want`, taking the lines before it.
    pub fn line_eq(&mut self, want: &str, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.line(left) {
                Some(line) if line.trim_end() == want => return true,
                Some(_) => continue,
                None => return false,
            }
        }
    }

    /// A server's first line, `listening on ADDR`: where to connect; if it
    /// is not there, why, in English and Korean.
    pub fn listening(&mut self, wait: Duration) -> Result<SocketAddr, (String, String)> {
        match self.line(wait) {
            Some(line) => line
                .strip_prefix("listening on ")
                .and_then(|a| a.trim().parse().ok())
                .ok_or_else(|| {
                    (
                        format!(
                            "the server's first line should be `listening on ADDR`; it printed {line:?}"
                        ),
                        format!("서버의 첫 줄은 `listening on ADDR`여야 하는데, {line:?}를 출력했습니다"),
                    )
                }),
            None => Err((
                format!("the server printed no `listening on ADDR` line within {wait:?}"),
                format!("서버가 {wait:?} 안에 `listening on ADDR` 줄을 출력하지 않았습니다"),
            )),
        }
    }

    /// Waits up to `wait` for the program to exit (killing it after that), and
    /// collects every stdout line into [`Program::seen`].
    pub fn finish(&mut self, wait: Duration) -> Ended {
        let deadline = Instant::now() + wait;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break None;
                }
            }
        };
        // The pipe closes when the program is gone: take what is left.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.seen.push(line);
        }
        // What it said on stderr goes to ours, after the check's own output
        // would be too late: show it now, so a panic is not lost.
        if let Ok(text) = self.stderr.recv_timeout(Duration::from_millis(500)) {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                eprintln!("  (your program) {line}");
            }
        }
        Ended { status }
    }
}

impl Drop for Program {
    /// A server under test runs until the check is done with it.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `key = value` lines of `dir/answer.txt` (`#` starts a comment line),
/// in order; a key with nothing after `=` has an empty value.
pub fn answers(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let path = dir.join("answer.txt");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {}: {e} (this exercise is answered in that file)",
            path.display()
        )
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect())
}

/// The value of `key` in `answers`, if the line is there.
pub fn answer<'a>(answers: &'a [(String, String)], key: &str) -> Option<&'a str> {
    answers
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}
