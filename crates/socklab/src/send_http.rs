//! `socklab send http://…`: HTTP requests on one keep-alive connection, shown.
//!
//! No message: one `GET` of the URL's path. Each message: one `POST` of that
//! path with the message as its body. Every response head is printed with its
//! byte count against the body's (what a poll costs beside what it carries),
//! and `X-Request-Number` where the server sends it (the push server does:
//! several requests, one 4-tuple). `--wire` adds every header line both ways.
//!
//! Try (after `socklab serve push`): `socklab send http://127.0.0.1:8090/poll`,
//! `socklab send http://127.0.0.1:8090/publish one two`.

use std::time::Duration;

use client::Style;
use client::http::exchange;
use client::transport::Target;
use lifecycle::narrate::plural;

/// Sends the requests and prints what came back.
pub fn run(
    target: &Target,
    bodies: &[String],
    timeout: u64,
    wire: bool,
    json: bool,
    _style: Style,
) -> anyhow::Result<()> {
    let host = format!("{}:{}", target.parts.host, target.parts.port);
    let run = exchange(
        target.addr,
        &host,
        &target.parts.path,
        bodies,
        Duration::from_secs(timeout.max(1)),
    )
    .map_err(|e| {
        if e.kind() == std::io::ErrorKind::ConnectionRefused {
            anyhow::anyhow!(
                "connect {}: connection refused: nothing listens there; start one with `{}`",
                target.url,
                target.scheme.serve_command(&target.addr.to_string())
            )
        } else {
            anyhow::anyhow!("{}: {e}", target.url)
        }
    })?;
    if json {
        let exchanges: Vec<serde_json::Value> = run
            .exchanges
            .iter()
            .map(|x| {
                serde_json::json!({
                    "request": x.request_line,
                    "request_bytes": x.request_bytes,
                    "status": x.response.as_ref().map(|r| r.status),
                    "response_head_bytes": x.response.as_ref().map(|r| r.head_len),
                    "body_bytes": x.body.len(),
                    "body": String::from_utf8(x.body.clone()).ok(),
                    "complete": x.complete,
                })
            })
            .collect();
        outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "tuple": run.tuple.to_string(),
                "exchanges": exchanges,
            }))?
        );
        return Ok(());
    }
    outln!(
        "connected: {} in {:.0} µs",
        run.tuple,
        run.connect_time.as_secs_f64() * 1e6
    );
    for x in &run.exchanges {
        outln!("→ {} ({})", x.request_line, plural(x.request_bytes, "byte"));
        let Some(head) = &x.response else {
            outln!("← no response within {timeout} s");
            continue;
        };
        let number = head
            .headers
            .get("x-request-number")
            .map_or(String::new(), |n| {
                format!(", request {n} on this connection")
            });
        outln!(
            "← {} (head {}, body {}{}{number})",
            head.status_line(),
            plural(head.head_len, "byte"),
            plural(x.body.len(), "byte"),
            if x.complete {
                ""
            } else {
                ", not finished: read until the timeout"
            }
        );
        if wire {
            for h in head.headers.iter() {
                outln!("    {}: {}", h.name, h.value);
            }
        }
        let text = String::from_utf8_lossy(&x.body);
        for line in text.lines().take(20) {
            outln!("  {line}");
        }
    }
    outln!(
        "{} on one TCP connection ({}): HTTP/1.1 keeps it open between them",
        plural(run.exchanges.len(), "request"),
        run.tuple
    );
    Ok(())
}
