//! `socklab compare --push`: the same events by five techniques, measured.
//!
//! Starts a push server in this process (`serve push`'s code, on the event
//! loop, port 0) for each `--rate`, runs `measure::push::compare_push` against
//! it, and prints what the Tap counted: requests, connections, bytes per event
//! (and how much of that is not the event), delivery latency, empty answers,
//! events lost or doubled across the reconnect every client makes halfway.
//!
//! Try: `socklab compare --push --rate 100 --secs 4`.

use measure::push::{MIN_FOR_P99, PushComparison, Technique, compare_push};

/// Runs one comparison per rate and prints them (a table, or JSON).
pub fn run(rates: &[f64], secs: f64, json: bool) -> anyhow::Result<()> {
    if !(0.5..=600.0).contains(&secs) {
        anyhow::bail!("--secs must be between 0.5 and 600");
    }
    let mut results = Vec::new();
    for &rate in rates {
        if !(rate > 0.0 && rate <= 10_000.0) {
            anyhow::bail!("--rate must be above 0 and at most 10000 events per second");
        }
        let server = socklab::servers::push_server(rate)?;
        // The clients run for the whole window before anything can be printed:
        // say so, on stderr (stdout stays the table or the JSON).
        eprintln!(
            "measuring push at {rate} events/s for {secs} s: five techniques at once, each reconnecting at {:.1} s ...",
            secs / 2.0
        );
        let comparison = compare_push(server.addr(), rate, secs)?;
        if !json {
            out!("{}", render(&comparison));
        }
        results.push(comparison);
    }
    if json {
        outln!("{}", serde_json::to_string_pretty(&results)?);
    }
    Ok(())
}

/// The table for one rate.
fn render(c: &PushComparison) -> String {
    let (first, last) = c.window;
    let mut out = format!(
        "\nPush at {} events/s for {} s: events {}..{} ({} in the window); every client reconnected once, halfway\n\n",
        c.rate,
        c.secs,
        first + 1,
        last,
        last - first
    );
    out += &format!(
        "  {:<14} {:>8} {:>6} {:>6} {:>7} {:>5} {:>4} {:>12} {:>15} {:>9} {:>9}\n",
        "technique",
        "requests",
        "conns",
        "empty",
        "events",
        "lost",
        "dup",
        "bytes/event",
        "overhead/event",
        "p50 ms",
        "p99 ms"
    );
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |us| format!("{:.2}", us / 1000.0));
    let num = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.1}"));
    for t in &c.techniques {
        let p99 = if t.events < MIN_FOR_P99 as u64 {
            "too few".to_string()
        } else {
            ms(t.latency_p99_us)
        };
        out += &format!(
            "  {:<14} {:>8} {:>6} {:>6} {:>7} {:>5} {:>4} {:>12} {:>15} {:>9} {:>9}\n",
            t.technique.name(),
            t.requests,
            t.connections,
            t.empty_responses,
            t.events,
            t.lost,
            t.duplicated,
            num(t.bytes_per_event),
            num(t.overhead_per_event),
            ms(t.latency_p50_us),
            p99
        );
    }
    if let Some(ws) = c
        .techniques
        .iter()
        .find(|t| t.technique == Technique::WebSocket)
    {
        out += &format!(
            "\n  WebSocket: {} HTTP requests in all, the Upgrades (one per connection); after \
             each Upgrade, not one request: the server pushes (lesson 14).\n",
            ws.requests
        );
    }
    if c.techniques.iter().any(|t| t.events < MIN_FOR_P99 as u64) {
        out += &format!(
            "  p99 needs at least {MIN_FOR_P99} events: \"too few\" otherwise (raise --secs or --rate).\n"
        );
    }
    out
}
