//! One script over TCP, UDP and WebSocket, and a report of only what was measured.
//!
//! The script is the same for every transport:
//!
//! 1. connect (for ws: TCP connect + HTTP Upgrade);
//! 2. send N messages back to back — the boundary experiment (lesson 3);
//! 3. wait until every echoed byte is in the kernel's receive buffer, then read
//!    units (reads / datagrams / messages) until all payload bytes are back;
//! 4. strict ping-pong: send one message, wait for its whole echo, R times, timing
//!    each round trip;
//! 5. close, and ask the kernel which socket is left in TIME_WAIT (lesson 11).
//!
//! Every number in a [`Measurement`] is counted from the Tap's records or read
//! from the kernel while the script ran. Nothing is assumed from the protocol:
//! if a WebSocket server did not mask, or a TCP read came back split, the report
//! says so.
//!
//! Try: `socklab compare`, `socklab compare --count 10 --message "$(head -c 200 /dev/zero | tr '\0' x)"`.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use lifecycle::Direction;
use lifecycle::tap::Record;
use tungstenite::protocol::frame::FrameHeader;

use crate::pipe::Trust;
use crate::style::{Paint, Style};
use crate::transport::{Error, Framing, Incoming, Scheme, Side, Target, Transport};
use crate::wire::{quoted_short, ws_conversation};

/// Default message: short, readable in a hex dump.
pub const DEFAULT_MESSAGE: &str = "hello";

/// Default number of back-to-back sends in the boundary experiment.
pub const DEFAULT_COUNT: usize = 3;

/// Default number of timed ping-pong round trips (enough for a p99 that means something).
pub const DEFAULT_ROUNDS: usize = 1000;

/// How long the burst's echoes may take to arrive.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long one ping-pong round may wait for its echo before it counts as lost.
pub const ROUND_TIMEOUT: Duration = Duration::from_secs(1);

/// The most bytes one burst may put in flight (message × count). The client
/// sends the whole burst before reading anything, so the echoes pile up in the
/// socket buffers; past what those hold, the server would block writing to us
/// while we block writing to it. 64 KiB stays far below loopback's buffers.
pub const MAX_BURST_BYTES: usize = 64 * 1024;

/// What to run over each transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The message sent in the burst and in every round trip: 1 to 65,507 bytes
    /// (the largest UDP datagram over IPv4).
    pub message: Vec<u8>,
    /// Messages sent back to back in the boundary experiment.
    pub count: usize,
    /// Timed round trips.
    pub rounds: usize,
    /// Which certificates tls:// and wss:// accept.
    pub trust: Trust,
}

impl Default for Script {
    fn default() -> Script {
        Script {
            message: DEFAULT_MESSAGE.as_bytes().to_vec(),
            count: DEFAULT_COUNT,
            rounds: DEFAULT_ROUNDS,
            trust: Trust::Unset,
        }
    }
}

/// Everything measured on one transport. Field names are the JSON keys of
/// `socklab compare --json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Measurement {
    /// `tcp`, `udp` or `ws`.
    pub name: Scheme,
    /// The server's URL.
    pub url: String,
    /// Time for `connect` to return, in µs (ws: TCP connect + Upgrade).
    pub connect_us: f64,
    /// TCP's three-way handshake: 1 round trip when the kernel reports the socket
    /// ESTABLISHED after connect(), 0 for UDP.
    pub transport_round_trips: u32,
    /// Request→response exchanges the Tap recorded before the first payload byte
    /// (ws: the HTTP Upgrade; tls: the TLS handshake; wss: both).
    pub handshake_round_trips: u32,
    /// Of those, the TLS handshake's (tls and wss), counted on the wire Tap.
    pub tls_round_trips: u32,
    /// The TLS version agreed (tls and wss), as rustls reports it.
    pub tls_version: Option<String>,
    /// The TLS cipher suite agreed (tls and wss).
    pub tls_cipher_suite: Option<String>,
    /// Bytes on the socket for the TLS handshake alone, sent / received.
    pub tls_handshake_bytes: Option<[usize; 2]>,
    /// The two above together: how many round trips before the first payload byte.
    pub round_trips_before_payload: u32,
    /// Bytes written on the socket before the first payload byte (the Upgrade
    /// request; under TLS, the handshake's records and the Upgrade's).
    pub handshake_bytes_sent: usize,
    /// Bytes read on the socket before the first payload byte (the 101 response,
    /// and under TLS the server's handshake records).
    pub handshake_bytes_received: usize,
    /// Messages sent back to back in the boundary experiment.
    pub messages_sent: usize,
    /// Application bytes in those messages.
    pub payload_bytes_sent: usize,
    /// Application bytes that came back.
    pub payload_bytes_received: usize,
    /// Bytes our `write()`s / `send()`s passed to the kernel for those messages.
    pub wire_bytes_sent: usize,
    /// Bytes our `read()`s / `recv()`s took from the kernel for their echoes.
    pub wire_bytes_received: usize,
    /// (wire − payload) / messages, sent: the framing (and masking key) per message.
    pub overhead_bytes_per_message_sent: f64,
    /// (wire − payload) / messages, received.
    pub overhead_bytes_per_message_received: f64,
    /// What a received unit is: `read`, `datagram` or `message`.
    pub unit: &'static str,
    /// How many units the echoes arrived as.
    pub units_received: usize,
    /// How many `read()`/`recv()` calls returned those bytes (for ws, below the messages).
    pub reads: usize,
    /// Each received unit, as text.
    pub received: Vec<String>,
    /// True when each message came back as exactly one unit, equal to it.
    pub boundaries_preserved: bool,
    /// Completed ping-pong round trips.
    pub rtt_samples: usize,
    /// Round trips whose echo did not come back within the round timeout.
    pub rtt_lost: usize,
    /// Median round trip, µs; `None` (JSON `null`) when no round trip completed.
    pub rtt_p50_us: Option<f64>,
    /// 99th percentile round trip, µs; `None` (JSON `null`) when no round trip completed.
    pub rtt_p99_us: Option<f64>,
    /// The middle half of the round trips (p25, p75), µs: their spread.
    pub rtt_iqr_us: Option<(f64, f64)>,
    /// Whether every client→server frame carried a masking key (ws only).
    pub masked_client_to_server: Option<bool>,
    /// Whether any server→client frame carried a masking key (ws only).
    pub masked_server_to_client: Option<bool>,
    /// The status code of the server's close frame (ws only).
    pub close_code: Option<u16>,
    /// Bytes written while closing (ws: our close frame).
    pub close_bytes_sent: usize,
    /// Bytes read while closing (ws: the server's close frame).
    pub close_bytes_received: usize,
    /// Whether we sent a FIN while closing (tcp and ws; `None` for udp).
    pub fin_sent: Option<bool>,
    /// Whether the server's FIN (a read of 0 bytes) arrived while closing
    /// (tcp and ws; `None` for udp).
    pub fin_received: Option<bool>,
    /// Who sent FIN first (tcp and ws).
    pub first_fin: Option<Side>,
    /// Whose socket the kernel lists in TIME_WAIT afterwards.
    pub time_wait: Option<Side>,
    /// The kernel's state of our socket after close.
    pub client_state_after_close: Option<String>,
    /// The kernel's state of the server's socket after close.
    pub server_state_after_close: Option<String>,
}

/// The measurements for every transport, and the script that produced them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Comparison {
    /// The message, as text.
    pub message: String,
    /// Messages in the burst.
    pub count: usize,
    /// Timed round trips per transport.
    pub rounds: usize,
    /// One entry per transport, in the order run.
    pub transports: Vec<Measurement>,
}

impl Script {
    /// Checks the limits above, so a bad script fails with a clear message
    /// instead of hanging or failing halfway.
    pub fn check(&self) -> Result<(), String> {
        if self.message.is_empty() {
            return Err(
                "the message must not be empty: an empty TCP write sends nothing to echo".into(),
            );
        }
        if self.message.len() > lifecycle::udp::MAX_IPV4_PAYLOAD {
            return Err(format!(
                "the message is {} bytes; one UDP datagram carries at most {} over IPv4",
                self.message.len(),
                lifecycle::udp::MAX_IPV4_PAYLOAD
            ));
        }
        if self.count == 0 {
            return Err(
                "count must be at least 1: with no message sent there are no boundaries or overhead to measure"
                    .into(),
            );
        }
        if self.rounds == 0 {
            return Err(
                "rounds must be at least 1: with no round trip there is no time to report".into(),
            );
        }
        if self.message.len().saturating_mul(self.count) > MAX_BURST_BYTES {
            return Err(format!(
                "message × count is over {MAX_BURST_BYTES} bytes: the burst would fill the socket buffers"
            ));
        }
        Ok(())
    }
}

/// Runs `script` against each URL in turn.
pub fn compare(urls: &[String], script: &Script) -> Result<Comparison, Error> {
    script
        .check()
        .map_err(|e| Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
    let transports = urls
        .iter()
        .map(|url| measure(url, script))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Comparison {
        message: String::from_utf8_lossy(&script.message).into_owned(),
        count: script.count,
        rounds: script.rounds,
        transports,
    })
}

fn sum(records: &[Record], dir: Direction) -> usize {
    records
        .iter()
        .filter(|r| r.dir == dir)
        .map(|r| r.bytes.len())
        .sum()
}

/// Request→response turns in `records`: a received record right after sent ones.
fn exchanges(records: &[Record]) -> u32 {
    let mut turns = 0;
    let mut last = None;
    for r in records {
        if r.dir == Direction::Received && last == Some(Direction::Sent) {
            turns += 1;
        }
        last = Some(r.dir);
    }
    turns
}

/// A duration in µs, to 0.1 µs.
fn round_us(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e7).round() / 10.0
}

/// Nearest-rank percentile of sorted samples, in µs; `None` without samples
/// (every round lost): there is no time to report, and 0 µs would be a lie.
fn percentile_us(sorted: &[Duration], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(round_us(sorted[rank - 1]))
}

// ANCHOR: measure
/// Runs the script over one transport.
pub fn measure(url: &str, script: &Script) -> Result<Measurement, Error> {
    // 1. Connect. Everything the Tap saw so far is handshake. Bytes are counted
    //    on the socket (`wire`: under TLS, the records); frames are read from
    //    the plaintext (`log`: the same log without TLS).
    let mut target = Target::parse(url)?;
    target.trust = script.trust.clone();
    let mut t = Transport::connect_to(&target)?;
    let connect_time = t.connect_time();
    let scheme = t.target().scheme;
    let log = t.log();
    let wire = t.wire_log();
    let handshake = wire.records();
    let tls_handshake = &handshake[..t.tls_records().min(handshake.len())];
    let tls_round_trips = exchanges(tls_handshake);
    let tls_handshake_bytes = t.tls().map(|_| {
        [
            sum(tls_handshake, Direction::Sent),
            sum(tls_handshake, Direction::Received),
        ]
    });
    let tcp_established = t.tuple().proto == lifecycle::Proto::Tcp
        && lifecycle::state::tcp_state(t.tuple().local, t.tuple().peer)
            == lifecycle::TcpState::Established;
    let transport_round_trips = u32::from(tcp_established);
    let handshake_round_trips = exchanges(&handshake);

    // 2. The burst: N sends back to back, nothing read in between.
    let burst_start = wire.mark();
    for _ in 0..script.count {
        t.send(&script.message)?;
    }

    // 3. Wait until all the echoed bytes are buffered, then read units.
    let expected = script.message.len() * script.count;
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let echoed_wire = match scheme.framing() {
        // A server frame is unmasked: its header is all the overhead. (Under
        // TLS the records add more: this is then a lower bound to wait for.)
        Framing::Messages => {
            script.count * (FrameHeader::default().len(script.message.len() as u64)) + expected
        }
        _ => expected,
    };
    t.wait_buffered(echoed_wire, deadline)?;
    let mut units = Vec::new();
    let mut payload_received = 0;
    while payload_received < expected || (scheme == Scheme::Udp && units.len() < script.count) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        t.set_read_timeout(Some(left))?;
        match t.receive() {
            Ok(Incoming::Data(unit)) => {
                payload_received += unit.len();
                units.push(unit);
            }
            Ok(Incoming::Ping(_) | Incoming::Pong(_)) => {}
            Ok(Incoming::Close(_) | Incoming::End) => break,
            Err(e) if e.is_timeout() => break, // lost (UDP) or late: report what came
            Err(e) => return Err(e),
        }
    }
    let burst = wire.since(burst_start);
    let wire_bytes_sent = sum(&burst, Direction::Sent);
    let wire_bytes_received = sum(&burst, Direction::Received);
    let reads = burst
        .iter()
        .filter(|r| r.dir == Direction::Received && !r.bytes.is_empty())
        .count();
    let boundaries_preserved =
        units.len() == script.count && units.iter().all(|u| *u == script.message);

    // 4. Ping-pong: one message out, its whole echo back, timed.
    let mut samples = Vec::with_capacity(script.rounds);
    let mut lost = 0;
    t.set_read_timeout(Some(ROUND_TIMEOUT))?;
    for _ in 0..script.rounds {
        let started = Instant::now();
        t.send(&script.message)?;
        // On TCP the echo may come back in pieces: receive until all of it is here.
        match t.receive_bytes(script.message.len()) {
            Ok(_) => {}
            Err(e) if e.is_timeout() => {
                lost += 1;
                continue;
            }
            Err(e) => return Err(e),
        }
        samples.push(started.elapsed());
    }
    samples.sort();
    let samples_us: Vec<f64> = samples.iter().map(|d| round_us(*d)).collect();

    // Masking, read from the frames themselves (ws only).
    let (masked_c2s, masked_s2c) = if scheme.framing() == Framing::Messages {
        let conv = ws_conversation(&log.records());
        (
            Some(
                !conv.client.frames.is_empty()
                    && conv.client.frames.iter().all(|f| f.mask.is_some()),
            ),
            Some(conv.server.frames.iter().any(|f| f.mask.is_some())),
        )
    } else {
        (None, None)
    };

    // 5. Close, then the kernel's word on both ends.
    let close_start = wire.mark();
    let tcp = t.tuple().proto == lifecycle::Proto::Tcp;
    let tls = t.tls().cloned();
    let report = t.close()?;
    let closing = wire.since(close_start);

    let per_message = |wire: usize, payload: usize| {
        if script.count == 0 {
            0.0
        } else {
            (wire as f64 - payload as f64) / script.count as f64
        }
    };
    Ok(Measurement {
        name: scheme,
        url: url.to_string(),
        connect_us: round_us(connect_time),
        transport_round_trips,
        handshake_round_trips,
        tls_round_trips,
        tls_version: tls.as_ref().map(|i| i.version.clone()),
        tls_cipher_suite: tls.as_ref().map(|i| i.cipher_suite.clone()),
        tls_handshake_bytes,
        round_trips_before_payload: transport_round_trips + handshake_round_trips,
        handshake_bytes_sent: sum(&handshake, Direction::Sent),
        handshake_bytes_received: sum(&handshake, Direction::Received),
        messages_sent: script.count,
        payload_bytes_sent: expected,
        payload_bytes_received: payload_received,
        wire_bytes_sent,
        wire_bytes_received,
        overhead_bytes_per_message_sent: per_message(wire_bytes_sent, expected),
        overhead_bytes_per_message_received: per_message(wire_bytes_received, payload_received),
        unit: scheme.unit(),
        units_received: units.len(),
        reads,
        received: units.iter().map(|u| quoted_short(u, 64)).collect(),
        boundaries_preserved,
        rtt_samples: samples.len(),
        rtt_lost: lost,
        rtt_p50_us: percentile_us(&samples, 0.50),
        rtt_p99_us: percentile_us(&samples, 0.99),
        rtt_iqr_us: crate::stats::iqr(&samples_us),
        masked_client_to_server: masked_c2s,
        masked_server_to_client: masked_s2c,
        close_code: report.close_code,
        close_bytes_sent: sum(&closing, Direction::Sent),
        close_bytes_received: sum(&closing, Direction::Received),
        fin_sent: tcp.then_some(report.our_fin.is_some()),
        fin_received: tcp.then_some(report.their_fin.is_some()),
        first_fin: if tcp { report.first_fin() } else { None },
        time_wait: report.time_wait(),
        client_state_after_close: report.client_state.map(|s| s.name().to_string()),
        server_state_after_close: report.server_state.map(|s| s.name().to_string()),
    })
}
// ANCHOR_END: measure

/// A cell: `yes`/`no`, or `-` where the question does not apply.
fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Formats µs for the table: `23 µs`, `1.2 ms`, or `-` when nothing was measured.
fn us(v: Option<f64>) -> String {
    match v {
        None => "-".to_string(),
        Some(v) if v >= 1000.0 => format!("{:.1} ms", v / 1000.0),
        Some(v) => format!("{v:.0} µs"),
    }
}

/// One row per fact, one column per transport: the table `socklab compare` prints.
pub fn table_rows(c: &Comparison) -> Vec<(String, Vec<String>)> {
    let row = |label: &str, f: &dyn Fn(&Measurement) -> String| {
        (label.to_string(), c.transports.iter().map(f).collect())
    };
    vec![
        row("connect (+ TLS, Upgrade)", &|m| us(Some(m.connect_us))),
        row("round trips before data", &|m| {
            let mut parts = Vec::new();
            if m.transport_round_trips > 0 {
                parts.push("SYN");
            }
            if m.tls_round_trips > 0 {
                parts.push("TLS");
            }
            if m.handshake_round_trips > m.tls_round_trips {
                parts.push("Upgrade");
            }
            if parts.is_empty() {
                "0".to_string()
            } else {
                format!("{} ({})", m.round_trips_before_payload, parts.join(", "))
            }
        }),
        row("handshake bytes sent/recv", &|m| {
            format!(
                "{} / {}",
                m.handshake_bytes_sent, m.handshake_bytes_received
            )
        }),
        row("payload bytes sent/recv", &|m| {
            format!("{} / {}", m.payload_bytes_sent, m.payload_bytes_received)
        }),
        row("wire bytes sent/recv", &|m| {
            format!("{} / {}", m.wire_bytes_sent, m.wire_bytes_received)
        }),
        row("overhead per message", &|m| {
            format!(
                "+{:.1} / +{:.1} B",
                m.overhead_bytes_per_message_sent, m.overhead_bytes_per_message_received
            )
        }),
        row(&format!("{} sends came back as", c.count), &|m| {
            let mut cell = plural(m.units_received, m.unit);
            if m.name.framing() == Framing::Messages {
                cell.push_str(&format!(" in {}", plural(m.reads, "read")));
            }
            cell
        }),
        row("message boundaries kept", &|m| {
            yes_no(Some(m.boundaries_preserved)).to_string()
        }),
        row("echo RTT p50 / p99", &|m| {
            format!("{} / {}", us(m.rtt_p50_us), us(m.rtt_p99_us))
        }),
        row("RTT middle half (p25–p75)", &|m| match m.rtt_iqr_us {
            Some((lo, hi)) => format!("{lo:.1}–{hi:.1} µs"),
            None => "-".to_string(),
        }),
        row(
            "masked client→srv / back",
            &|m| match m.masked_client_to_server {
                None => "-".to_string(),
                some => format!("{} / {}", yes_no(some), yes_no(m.masked_server_to_client)),
            },
        ),
        row("close on the wire", &|m| {
            // Built from what the close measured: the FINs seen, the close code read.
            let fins = match (m.fin_sent, m.fin_received) {
                (Some(true), Some(true)) => "FIN each way",
                (Some(true), Some(false)) => "our FIN, none back",
                (Some(false), Some(true)) => "their FIN only",
                (Some(false), Some(false)) => "no FIN",
                _ => return "nothing".to_string(), // udp: close() sends no packet
            };
            match (m.name.framing(), m.close_code) {
                (Framing::Messages, Some(code)) => format!("close {code}, {fins}"),
                (Framing::Messages, None) => format!("no close frame back, {fins}"),
                _ => fins.to_string(),
            }
        }),
        row("first FIN sent by", &|m| {
            m.first_fin.map_or("-".to_string(), |s| s.to_string())
        }),
        row("left in TIME_WAIT", &|m| {
            m.time_wait.map_or("-".to_string(), |s| s.to_string())
        }),
    ]
}

/// The side-by-side table, readable in ten seconds.
pub fn render_table(c: &Comparison, style: Style) -> String {
    let rows = table_rows(c);
    let label_width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let col_width = rows
        .iter()
        .flat_map(|(_, cells)| cells.iter().map(|c| c.chars().count()))
        .max()
        .unwrap_or(0)
        .max(4)
        + 2;
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
    let mut out = String::new();
    let mut head = pad("", label_width + 2);
    for m in &c.transports {
        head.push_str(&pad(m.name.name(), col_width));
    }
    let _ = writeln!(out, "{}", style.paint(Paint::Heading, head.trim_end()));
    for (label, cells) in rows {
        let mut line = pad(&label, label_width + 2);
        for cell in cells {
            line.push_str(&pad(&cell, col_width));
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(
        out,
        "{}",
        style.paint(
            Paint::Dim,
            format!(
                "message {} x{}, {} timed round trips each; wire bytes = what read()/write() moved (IP/TCP/UDP headers not counted)",
                quoted_short(c.message.as_bytes(), 32),
                c.count,
                c.rounds
            )
        )
    );
    out
}
