//! Turning the narration on: `env_logger`, with `info` as the default level.
//!
//! `RUST_LOG=info` (the default) shows the lifecycle, one line per system call;
//! `RUST_LOG=debug` adds the bytes; `RUST_LOG=warn` shows only trouble.

use std::io::Write;

/// Starts logging to stderr at `default_level` unless `RUST_LOG` says otherwise.
///
/// Lines are `HH:MM:SS.mmm LEVEL message`: the time lets you line the log up
/// with a packet capture. Calling it twice is harmless.
pub fn init(default_level: &str) {
    let env = env_logger::Env::default().default_filter_or(default_level);
    let _ = env_logger::Builder::from_env(env)
        .format(|out, record| {
            writeln!(
                out,
                "{} {:<5} {}",
                out.timestamp_millis(),
                record.level(),
                record.args()
            )
        })
        .try_init();
}

/// A count with its noun, singular for exactly one: `plural(1, "byte")` is
/// "1 byte", `plural(0, "connection")` is "0 connections". For the nouns the
/// narration counts (bytes, connections, reads …), which all take "s".
pub fn plural(n: impl std::fmt::Display, noun: &str) -> String {
    let n = n.to_string();
    if n == "1" {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::plural;

    /// "1 byte", not "1 bytes"; 0 and 2 take the plural.
    #[test]
    fn one_is_singular() {
        assert_eq!(plural(1, "byte"), "1 byte");
        assert_eq!(plural(0u64, "connection"), "0 connections");
        assert_eq!(plural(2usize, "read"), "2 reads");
    }
}
