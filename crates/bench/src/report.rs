//! What one run measured: the [`Report`], its table row (`Display`, under
//! [`Report::HEADER`]), its JSON line, and the likely cause of what went wrong.

use std::fmt;

use crate::LOW_RATE_PER_CONN;
use crate::target::Kind;

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// The target URL.
    pub url: String,
    /// Its transport.
    pub kind: Kind,
    /// Its scheme: tcp, udp, ws, tls or wss.
    pub scheme: &'static str,
    /// Ping-pong connections.
    pub conns: usize,
    /// Idle connections asked for (tcp and ws; 0 for udp).
    pub idle_asked: usize,
    /// Idle connections actually held open.
    pub idle: usize,
    /// Seconds it took to open (and, for ws, upgrade) the idle connections.
    pub idle_open_secs: f64,
    /// Bytes per message.
    pub size: usize,
    /// Streaming connections that ran beside the measured ones.
    pub stream: usize,
    /// Bytes per streamed message.
    pub stream_size: usize,
    /// Echoed bytes per second over all streaming connections, MB (10^6) per second.
    pub stream_mb_per_sec: f64,
    /// Round trips completed.
    pub messages: u64,
    /// Round trips per second, all connections together.
    pub msgs_per_sec: f64,
    /// Median round-trip time, microseconds; `None` when no round trip completed.
    pub rtt_p50_us: Option<f64>,
    /// 99th-percentile round-trip time, microseconds; `None` when no round trip completed.
    pub rtt_p99_us: Option<f64>,
    /// Connections that failed, replies that were wrong or late, idle connections
    /// that could not be opened or were found closed.
    pub errors: u64,
    /// Of those errors, connections the server turned away at its connection cap:
    /// a WebSocket server answers `503 Service Unavailable`; a TCP server accepts
    /// and closes at once, so the connection ends (EOF or reset) before any echo —
    /// for an idle connection, found closed when the run ends.
    pub refused: u64,
    /// The first error, to say what went wrong.
    pub first_error: Option<String>,
    /// The server's process, whose CPU time was read (given, or found by [`crate::owner`]).
    pub server_pid: Option<u32>,
    /// The server process's CPU time (user + system) during the timed window, in
    /// seconds; `None` when its PID was not given ([`crate::cpu`]).
    pub cpu_server_secs: Option<f64>,
    /// This load generator's own CPU time during the timed window, in seconds.
    pub cpu_client_secs: f64,
}

/// CPU per message, in µs: the server's, the client's and their total. Each is
/// `None` when there is no figure: no message echoed, no server PID, or streams
/// ran beside the measured connections (their CPU is in the window too).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuPerMessage {
    /// The server's CPU per round trip.
    pub server_us: Option<f64>,
    /// The client's (this load generator's) CPU per round trip.
    pub client_us: Option<f64>,
    /// Both together: on loopback each side's system calls also wake the other,
    /// so only the total compares fairly across servers.
    pub total_us: Option<f64>,
}

impl Report {
    /// The column titles matching [`Report`]'s `Display`.
    pub const HEADER: &'static str = "target                          conns   idle  idle open s     msgs/s   p50 µs   p99 µs  cpu µs/msg: server  client   total  errors";

    /// CPU per message (see [`CpuPerMessage`] for when a figure is missing).
    pub fn cpu_per_message(&self) -> CpuPerMessage {
        let none = CpuPerMessage {
            server_us: None,
            client_us: None,
            total_us: None,
        };
        if self.stream > 0 || self.messages == 0 {
            return none;
        }
        let per = |secs: f64| secs * 1e6 / self.messages as f64;
        let server_us = self.cpu_server_secs.map(per);
        let client_us = Some(per(self.cpu_client_secs));
        CpuPerMessage {
            server_us,
            client_us,
            total_us: server_us.zip(client_us).map(|(s, c)| s + c),
        }
    }

    /// One JSON object (no serde needed for flat numbers and strings).
    pub fn to_json(&self) -> String {
        let first_error = match &self.first_error {
            Some(e) => format!("\"{}\"", e.replace('\\', "\\\\").replace('"', "\\\"")),
            None => "null".to_string(),
        };
        let cpu = self.cpu_per_message();
        format!(
            "{{\"url\":\"{}\",\"conns\":{},\"idle\":{},\"idle_open_secs\":{:.3},\"size\":{},\"stream\":{},\"stream_size\":{},\"stream_mb_per_sec\":{:.1},\"messages\":{},\"msgs_per_sec\":{:.1},\"rtt_p50_us\":{},\"rtt_p99_us\":{},\"server_pid\":{},\"cpu_server_secs\":{},\"cpu_client_secs\":{:.4},\"cpu_server_us_per_msg\":{},\"cpu_client_us_per_msg\":{},\"cpu_total_us_per_msg\":{},\"errors\":{},\"refused\":{},\"first_error\":{}}}",
            self.url,
            self.conns,
            self.idle,
            self.idle_open_secs,
            self.size,
            self.stream,
            self.stream_size,
            self.stream_mb_per_sec,
            self.messages,
            self.msgs_per_sec,
            json_us(self.rtt_p50_us),
            json_us(self.rtt_p99_us),
            self.server_pid
                .map_or("null".to_string(), |pid| pid.to_string()),
            self.cpu_server_secs
                .map_or("null".to_string(), |v| format!("{v:.4}")),
            self.cpu_client_secs,
            json_cpu(cpu.server_us),
            json_cpu(cpu.client_us),
            json_cpu(cpu.total_us),
            self.errors,
            self.refused,
            first_error
        )
    }

    /// What went wrong, in words, with the likely cause: one sentence per cause
    /// seen. Empty when there were no errors and the rate looks like loopback's.
    pub fn diagnosis(&self) -> Vec<String> {
        let mut out = Vec::new();
        let asked = self.conns + self.idle_asked;
        if self.refused > 0 {
            out.push(format!(
                "the server refused {} ({} asked for: --conns {} + --idle {}): its --max-connections is probably lower than {asked}; start it with a higher one, e.g. `RUST_LOG=warn socklab serve {} --max-connections {}`",
                plural(self.refused, "connection"),
                asked,
                self.conns,
                self.idle_asked,
                self.scheme,
                (asked + 100).max(1024),
            ));
        }
        let other = self.errors - self.refused;
        if other > 0 {
            out.push(format!(
                "{} other than refusals; the first: {}",
                plural(other, "error"),
                self.first_error.as_deref().unwrap_or("?")
            ));
        }
        let slow = self.messages > 0 && self.msgs_per_sec < LOW_RATE_PER_CONN * self.conns as f64;
        if self.errors > 0 || slow {
            out.push(format!(
                "{}if the server narrates (`socklab serve` logs every system call at its default RUST_LOG=info), start it with RUST_LOG=warn for load",
                if slow {
                    format!(
                        "{:.0} round trips/s per connection is slow for loopback; ",
                        self.msgs_per_sec / self.conns as f64
                    )
                } else {
                    String::new()
                }
            ));
        }
        out
    }
}

/// "1 connection", "8,977 connections".
fn plural(n: u64, word: &str) -> String {
    let digits = n.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped} {word}{}", if n == 1 { "" } else { "s" })
}

/// µs to 0.1 for JSON, `null` when nothing was measured.
fn json_us(v: Option<f64>) -> String {
    v.map_or("null".to_string(), |v| format!("{v:.1}"))
}

/// CPU µs per message to 0.01 for JSON (a few µs each), `null` when there is none.
fn json_cpu(v: Option<f64>) -> String {
    v.map_or("null".to_string(), |v| format!("{v:.3}"))
}

/// CPU µs per message to 0.01 for the table, `-` when there is none.
fn cell_cpu(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.2}"))
}

/// µs to 0.1 for the table, `-` when nothing was measured.
fn cell_us(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.1}"))
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cpu = self.cpu_per_message();
        write!(
            f,
            "{:<30} {:>6} {:>6} {:>12.2} {:>10.0} {:>8} {:>8} {:>19} {:>7} {:>7} {:>7}",
            self.url,
            self.conns,
            self.idle,
            self.idle_open_secs,
            self.msgs_per_sec,
            cell_us(self.rtt_p50_us),
            cell_us(self.rtt_p99_us),
            cell_cpu(cpu.server_us),
            cell_cpu(cpu.client_us),
            cell_cpu(cpu.total_us),
            self.errors
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use measure::stats::percentile;

    /// The causes are named: refusals at the cap apart from other errors, with
    /// the serve command to fix them; a slow rate gets the narration hint.
    #[test]
    fn diagnosis_names_the_cause() {
        let mut report = Report {
            url: "ws://127.0.0.1:8080/".into(),
            kind: Kind::Ws,
            scheme: "ws",
            conns: 8,
            idle_asked: 10_000,
            idle: 1016,
            idle_open_secs: 1.0,
            size: 64,
            stream: 0,
            stream_size: 0,
            stream_mb_per_sec: 0.0,
            messages: 0,
            msgs_per_sec: 0.0,
            rtt_p50_us: None,
            rtt_p99_us: None,
            errors: 8_992,
            refused: 8_977,
            first_error: Some("connect: timed out".into()),
            server_pid: None,
            cpu_server_secs: None,
            cpu_client_secs: 0.0,
        };
        let d = report.diagnosis().join("\n");
        assert!(
            d.contains("the server refused 8,977 connections (10008 asked for"),
            "{d}"
        );
        assert!(
            d.contains("socklab serve ws --max-connections 10108"),
            "{d}"
        );
        assert!(
            d.contains("15 errors other than refusals; the first: connect: timed out"),
            "{d}"
        );
        assert!(d.contains("RUST_LOG=warn"), "{d}");
        // No error, but 200 round trips/s over 8 connections: the hint alone.
        (
            report.errors,
            report.refused,
            report.messages,
            report.msgs_per_sec,
        ) = (0, 0, 1000, 200.0);
        let d = report.diagnosis();
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].starts_with("25 round trips/s per connection is slow"),
            "{d:?}"
        );
        report.msgs_per_sec = 80_000.0;
        assert!(report.diagnosis().is_empty());
    }

    /// A run with no completed round trip has no RTT: `-` in the table, `null`
    /// in JSON (measure::stats::percentile gives None), never 0.
    #[test]
    fn no_samples_means_no_rtt() {
        let report = Report {
            url: "tcp://127.0.0.1:7".into(),
            kind: Kind::Tcp,
            scheme: "tcp",
            conns: 1,
            idle_asked: 0,
            idle: 0,
            idle_open_secs: 0.0,
            size: 64,
            stream: 0,
            stream_size: 0,
            stream_mb_per_sec: 0.0,
            messages: 0,
            msgs_per_sec: 0.0,
            rtt_p50_us: percentile(&[], 50.0),
            rtt_p99_us: percentile(&[], 99.0),
            errors: 1,
            refused: 0,
            first_error: None,
            server_pid: None,
            cpu_server_secs: Some(0.0),
            cpu_client_secs: 0.0,
        };
        assert!(
            report
                .to_json()
                .contains("\"rtt_p50_us\":null,\"rtt_p99_us\":null")
        );
        let row = report.to_string();
        // No round trip: no RTT and no CPU per message either (2 + 3 cells).
        assert_eq!(
            row.split_whitespace().filter(|c| *c == "-").count(),
            5,
            "{row}"
        );
        assert!(report.to_json().contains("\"cpu_total_us_per_msg\":null"));
    }

    /// CPU per message: each side's seconds over the round trips, the total their
    /// sum; no server figure without its PID, none at all beside streams.
    #[test]
    fn cpu_per_message_is_each_side_and_their_sum() {
        let mut report = Report {
            url: "ws://127.0.0.1:8080/".into(),
            kind: Kind::Ws,
            scheme: "ws",
            conns: 8,
            idle_asked: 0,
            idle: 0,
            idle_open_secs: 0.0,
            size: 64,
            stream: 0,
            stream_size: 0,
            stream_mb_per_sec: 0.0,
            messages: 200_000,
            msgs_per_sec: 100_000.0,
            rtt_p50_us: Some(70.0),
            rtt_p99_us: Some(150.0),
            errors: 0,
            refused: 0,
            first_error: None,
            server_pid: Some(4242),
            cpu_server_secs: Some(1.0),
            cpu_client_secs: 1.5,
        };
        let cpu = report.cpu_per_message();
        assert_eq!(
            (cpu.server_us, cpu.client_us, cpu.total_us),
            (Some(5.0), Some(7.5), Some(12.5))
        );
        let json = report.to_json();
        assert!(
            json.contains("\"cpu_server_us_per_msg\":5.000,\"cpu_client_us_per_msg\":7.500,\"cpu_total_us_per_msg\":12.500"),
            "{json}"
        );
        assert!(
            report.to_string().contains("5.00    7.50   12.50"),
            "{report}"
        );
        report.cpu_server_secs = None;
        let cpu = report.cpu_per_message();
        assert_eq!((cpu.server_us, cpu.total_us), (None, None));
        assert_eq!(cpu.client_us, Some(7.5));
        report.stream = 2;
        assert_eq!(report.cpu_per_message().client_us, None);
    }
}
