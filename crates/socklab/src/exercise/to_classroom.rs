//! `socklab exercise check N --report URL --name NAME`: the result goes to
//! the teacher's classroom too, as one HTTP POST to its dashboard's port.
//!
//! The body is a small JSON object — the name, the exercise, pass or fail,
//! and each finding as `ok: …` or `wrong: …` (never `--reveal`'s expected
//! values: a classroom screen is not the place for answers). The classroom
//! reads it with crates/http's one request reader and shows the class's
//! progress per exercise. A report that cannot be delivered is said on
//! stderr; the check's own verdict and exit status do not change.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use exercises_check::report::Report;

/// How long connecting, sending and reading the answer may each take.
const REPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// The most bytes of the classroom's answer read (its head is what counts).
const MAX_ANSWER: u64 = 16 * 1024;

/// The JSON body a classroom reads (`classroom::report::Report`).
pub fn body(name: &str, exercise: u32, report: &Report) -> String {
    let findings: Vec<String> = report
        .findings
        .iter()
        .map(|f| format!("{}: {}", if f.ok { "ok" } else { "wrong" }, f.text))
        .collect();
    serde_json::json!({
        "name": name,
        "exercise": exercise,
        "pass": report.passed(),
        "findings": findings,
    })
    .to_string()
}

// ANCHOR: post_report
/// POSTs `body` to `URL/report` (`http://HOST:PORT/`, the dashboard's URL) and
/// returns the classroom's status code.
pub fn post(url: &str, body: &str) -> anyhow::Result<u16> {
    let hostport = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("--report takes the dashboard's http://HOST:PORT/ URL"))?
        .trim_end_matches('/');
    let hostport = hostport.split('/').next().unwrap_or(hostport);
    let addr = hostport
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| anyhow::anyhow!("{hostport}: no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, REPORT_TIMEOUT)?;
    stream.set_read_timeout(Some(REPORT_TIMEOUT))?;
    stream.set_write_timeout(Some(REPORT_TIMEOUT))?;
    let request = format!(
        "POST /report HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut answer = Vec::new();
    stream.take(MAX_ANSWER).read_to_end(&mut answer)?;
    match http1::parse_response(&answer) {
        Ok(http1::Parsed::Complete(head)) => Ok(head.status),
        _ => anyhow::bail!("the classroom's answer is not HTTP"),
    }
}
// ANCHOR_END: post_report
