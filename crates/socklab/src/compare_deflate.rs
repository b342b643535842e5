//! `socklab compare --deflate`: one JSON chat message's bytes on the wire,
//! plain, compressed (context takeover, as a browser asks) and compressed
//! without context takeover, against one WebSocket echo server — the one given
//! with `--ws`, or the in-process one (whose own work per message is then
//! shown too). A server that declines compression is said to have declined:
//! its rows are then the plain bytes.
//!
//! Try: `socklab serve ws --deflate`, then
//! `socklab compare --deflate --ws ws://127.0.0.1:8080/`.

use client::{Style, Trust};
use measure::deflate::{DeflateScript, compare_deflate, render_deflate};
use socklab::servers::LocalServers;

/// Runs the deflate comparison and prints it (a table, or JSON).
pub fn run(
    ws: Option<&str>,
    message: Option<&str>,
    repeats: usize,
    seed: u64,
    trust: Trust,
    json: bool,
    style: Style,
) -> anyhow::Result<()> {
    if !(2..=10_000).contains(&repeats) {
        anyhow::bail!("--count with --deflate: between 2 and 10000 sends per connection");
    }
    let script = DeflateScript {
        message: message
            .unwrap_or(measure::deflate::CHAT_MESSAGE)
            .as_bytes()
            .to_vec(),
        repeats,
        seed,
        trust,
    };
    // The in-process server unless one is given: then its work clock is read.
    let local = match ws {
        Some(_) => None,
        None => Some(LocalServers::start()?),
    };
    let url = ws
        .map(str::to_string)
        .or_else(|| local.as_ref().map(LocalServers::ws_url))
        .unwrap_or_default();
    let probe = local.as_ref().and_then(|l| l.work_probes()[2].clone());
    let comparison = compare_deflate(&url, &script, probe.as_ref())?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&comparison)?);
    } else {
        out!("{}", render_deflate(&comparison, style));
    }
    Ok(())
}
