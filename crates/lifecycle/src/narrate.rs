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
