//! One script over TCP, UDP and WebSocket, and a report of only what was measured.
//!
//! The script is the same for every transport:
//!
//! 1. connect (for ws: TCP connect + HTTP Upgrade);
//! 2. send N messages back to back — the boundary experiment (lesson 3);
//! 3. wait until every echoed byte is in the kernel's receive buffer, then read
//!    units (reads / datagrams / messages) until all payload bytes are back;
//! 4. strict ping-pong: send one message, wait for its whole echo, R times, timing
//!    each round trip — with the transports taking turns, round by round, after
//!    a warm-up whose rounds are discarded;
//! 5. one large message (1 MiB) sent with one `send` on a fresh connection, and
//!    the number of reads its echo took: many over TCP, one message over ws;
//! 6. close, and ask the kernel which socket is left in TIME_WAIT (lesson 11).
//!
//! Every number in a [`Measurement`] is counted from the Tap's records or read
//! from the kernel while the script ran. Nothing is assumed from the protocol:
//! if a WebSocket server did not mask, or a TCP read came back split, the report
//! says so. Times come with their spread (the interquartile range), and two
//! medians are only called different when the bootstrap interval of their
//! difference leaves 0 out ([`stats`]); otherwise the report says "no measurable
//! difference on this machine".
//!
//! Try: `socklab compare`, `socklab compare --count 10 --message "$(head -c 200 /dev/zero | tr '\0' x)"`.

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

use lifecycle::Direction;
use lifecycle::tap::{Record, TapLog};
use tungstenite::protocol::frame::FrameHeader;

use client::Trust;
use client::style::{Paint, Style};
use client::transport::{Error, Framing, Incoming, Scheme, Side, Target, Transport};
use client::wire::{quoted_short, ws_conversation};

use crate::stats::{self, Verdict};

/// Default message: short, readable in a hex dump.
pub const DEFAULT_MESSAGE: &str = "hello";

/// Default number of back-to-back sends in the boundary experiment.
pub const DEFAULT_COUNT: usize = 3;

/// Default number of timed ping-pong round trips (enough for a p99 that means something).
pub const DEFAULT_ROUNDS: usize = 1000;

/// Default number of round trips per transport taken first and discarded: the
/// first ones pay for page faults, cold caches and sleeping threads.
pub const DEFAULT_WARMUP: usize = 100;

/// Default size of the one large message sent whole (1 MiB): far more than one
/// `read()` (64 KiB here) or a socket buffer holds at once.
pub const DEFAULT_LARGE: usize = 1 << 20;

/// The largest large message: well under ws-echo's default 16 MiB message limit.
pub const MAX_LARGE: usize = 8 << 20;

/// How long the large message's echo may take, from any one read to the next.
pub const LARGE_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// Round trips per transport before the timed ones, not kept.
    pub warmup: usize,
    /// Bytes of the one large message sent with one `send` (0: not sent).
    pub large: usize,
    /// Which certificates tls:// and wss:// accept.
    pub trust: Trust,
}

impl Default for Script {
    fn default() -> Script {
        Script {
            message: DEFAULT_MESSAGE.as_bytes().to_vec(),
            count: DEFAULT_COUNT,
            rounds: DEFAULT_ROUNDS,
            warmup: DEFAULT_WARMUP,
            large: DEFAULT_LARGE,
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
    /// Bytes of the one large message sent with one `send` (0: not sent).
    pub large_message_bytes: usize,
    /// Units its echo came back as (tcp: reads, ws: messages); `None` for udp
    /// (no datagram holds it) or when it was not sent.
    pub large_message_units: Option<usize>,
    /// `read()` calls that returned its echo's bytes; `None` as above.
    pub large_message_reads: Option<usize>,
    /// Warm-up round trips taken before the timed ones and discarded.
    pub rtt_warmup_discarded: usize,
    /// Completed (timed) ping-pong round trips.
    pub rtt_samples: usize,
    /// Round trips whose echo did not come back within the round timeout.
    pub rtt_lost: usize,
    /// 25th percentile round trip, µs: the interquartile range's lower end.
    pub rtt_p25_us: Option<f64>,
    /// Median round trip, µs; `None` (JSON `null`) when no round trip completed.
    pub rtt_p50_us: Option<f64>,
    /// 75th percentile round trip, µs: the interquartile range's upper end.
    pub rtt_p75_us: Option<f64>,
    /// 99th percentile round trip, µs; `None` (JSON `null`) when no round trip completed.
    pub rtt_p99_us: Option<f64>,
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
    /// Discarded warm-up round trips per transport.
    pub warmup_rounds: usize,
    /// Bytes of the one large message (0: not sent).
    pub large: usize,
    /// One entry per transport, in the order given.
    pub transports: Vec<Measurement>,
    /// Each pair's difference of RTT medians and the noise rule's verdict.
    pub rtt_differences: Vec<RttDifference>,
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
        if self.large > MAX_LARGE {
            return Err(format!(
                "the large message is {} bytes; at most {MAX_LARGE} (the ws server takes 16 MiB)",
                self.large
            ));
        }
        if self.message.len().saturating_mul(self.count) > MAX_BURST_BYTES {
            return Err(format!(
                "message × count is over {MAX_BURST_BYTES} bytes: the burst would fill the socket buffers"
            ));
        }
        Ok(())
    }
}

/// Runs `script` over every URL: each transport connects and runs its burst,
/// then all of them take turns in the timed ping-pong (see [`ping_pong`]), then
/// each closes. The RTT medians are compared pairwise with the noise rule of
/// [`stats`].
pub fn compare(urls: &[String], script: &Script) -> Result<Comparison, Error> {
    script
        .check()
        .map_err(|e| Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
    // 1–3: connect and the burst, one transport after the other (not timed).
    let mut runs = urls
        .iter()
        .map(|url| Run::start(url, script))
        .collect::<Result<Vec<_>, _>>()?;
    // 4: the timed round trips, interleaved across the transports.
    ping_pong(&mut runs, script)?;
    let rtt_differences = differences(&runs);
    // The large message, on a connection of its own (after the timed rounds,
    // so its megabyte does not disturb them).
    if script.large > 0 {
        for run in runs.iter_mut() {
            run.large = large_message(&run.url, script.large)?;
        }
    }
    // 5: close each, and ask the kernel.
    let transports = runs
        .into_iter()
        .map(|run| run.finish(script))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Comparison {
        message: String::from_utf8_lossy(&script.message).into_owned(),
        count: script.count,
        rounds: script.rounds,
        warmup_rounds: script.warmup,
        large: script.large,
        transports,
        rtt_differences,
    })
}

/// Runs the script over one transport alone (its round trips then have nobody
/// to take turns with; [`compare`] interleaves them).
pub fn measure(url: &str, script: &Script) -> Result<Measurement, Error> {
    script
        .check()
        .map_err(|e| Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
    let mut runs = vec![Run::start(url, script)?];
    ping_pong(&mut runs, script)?;
    runs.remove(0).finish(script)
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

/// A value in µs, to 0.1 µs.
fn round_tenth(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// A percentile of sorted samples in µs, rounded to 0.1 µs ([`stats::percentile`]:
/// nearest rank); `None` without samples (every round lost): there is no time
/// to report, and 0 µs would be a lie.
fn percentile_us(sorted_us: &[f64], p: f64) -> Option<f64> {
    stats::percentile(sorted_us, p).map(round_tenth)
}

/// One transport while the script runs: the connection and what it measured so far.
struct Run {
    url: String,
    t: Transport,
    scheme: Scheme,
    /// The plaintext: frames are read from here.
    log: TapLog,
    /// The socket's bytes (under TLS, the records): bytes are counted here.
    wire: TapLog,
    tls_round_trips: u32,
    tls_handshake_bytes: Option<[usize; 2]>,
    connect_time: Duration,
    handshake: Vec<Record>,
    transport_round_trips: u32,
    handshake_round_trips: u32,
    burst: Vec<Record>,
    units: Vec<Vec<u8>>,
    payload_received: usize,
    /// Timed round trips after the warm-up, in µs, in the order taken.
    rtts_us: Vec<f64>,
    lost: usize,
    /// How the large message came back (on its own connection).
    large: Option<LargeEcho>,
}

// ANCHOR: measure
impl Run {
    /// Steps 1–3: connect, the burst, and reading its echoes back.
    fn start(url: &str, script: &Script) -> Result<Run, Error> {
        // 1. Connect. Everything the Tap saw so far is handshake. Bytes are counted
        //    on the socket (`wire`: under TLS, the records); frames are read from
        //    the plaintext (`log`: the same log without TLS).
        let mut target = Target::parse(url)?;
        target.trust = script.trust.clone();
        let mut t = Transport::connect_to(&target)?;
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
        Ok(Run {
            url: url.to_string(),
            connect_time: t.connect_time(),
            transport_round_trips: u32::from(tcp_established),
            handshake_round_trips: exchanges(&handshake),
            burst: wire.since(burst_start),
            t,
            scheme,
            log,
            wire,
            tls_round_trips,
            tls_handshake_bytes,
            handshake,
            units,
            payload_received,
            rtts_us: Vec::with_capacity(script.rounds),
            lost: 0,
            large: None,
        })
    }

    /// Step 4, once: one message out, its whole echo back. The time it took, or
    /// `None` when the echo did not come within [`ROUND_TIMEOUT`] (lost).
    fn round_trip(&mut self, message: &[u8]) -> Result<Option<Duration>, Error> {
        let started = Instant::now();
        self.t.send(message)?;
        // On TCP the echo may come back in pieces: receive until all of it is here.
        match self.t.receive_bytes(message.len()) {
            Ok(_) => Ok(Some(started.elapsed())),
            Err(e) if e.is_timeout() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Step 5 and the report: masking read from the frames, close, the kernel's
    /// word on both ends.
    fn finish(self, script: &Script) -> Result<Measurement, Error> {
        let Run {
            url,
            t,
            scheme,
            log,
            wire,
            tls_round_trips,
            tls_handshake_bytes,
            connect_time,
            handshake,
            transport_round_trips,
            handshake_round_trips,
            burst,
            units,
            payload_received,
            rtts_us,
            lost,
            large,
        } = self;
        let expected = script.message.len() * script.count;
        let wire_bytes_sent = sum(&burst, Direction::Sent);
        let wire_bytes_received = sum(&burst, Direction::Received);
        let reads = burst
            .iter()
            .filter(|r| r.dir == Direction::Received && !r.bytes.is_empty())
            .count();
        let boundaries_preserved =
            units.len() == script.count && units.iter().all(|u| *u == script.message);

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

        let per_message =
            |wire: usize, payload: usize| (wire as f64 - payload as f64) / script.count as f64;
        let mut sorted = rtts_us;
        sorted.sort_by(f64::total_cmp);
        Ok(Measurement {
            name: scheme,
            url,
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
            large_message_bytes: script.large,
            large_message_units: large.map(|l| l.units),
            large_message_reads: large.map(|l| l.reads),
            rtt_warmup_discarded: script.warmup,
            rtt_samples: sorted.len(),
            rtt_lost: lost,
            rtt_p25_us: percentile_us(&sorted, 25.0),
            rtt_p50_us: percentile_us(&sorted, 50.0),
            rtt_p75_us: percentile_us(&sorted, 75.0),
            rtt_p99_us: percentile_us(&sorted, 99.0),
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
}

/// Step 4 for every transport together. Round `i` gives each transport one
/// round trip, starting with transport `i mod n` (tcp, udp, ws; then udp, ws,
/// tcp; …), so no transport always goes first, and whatever the machine does
/// meanwhile — a frequency change, another program, a cold cache — falls on all
/// of them alike. The first `script.warmup` rounds are discarded: they pay for
/// the first page faults, cache misses and thread wake-ups.
fn ping_pong(runs: &mut [Run], script: &Script) -> Result<(), Error> {
    for run in runs.iter_mut() {
        run.t.set_read_timeout(Some(ROUND_TIMEOUT))?;
    }
    let n = runs.len();
    for round in 0..script.warmup + script.rounds {
        for k in 0..n {
            let run = &mut runs[(round + k) % n];
            let rtt = run.round_trip(&script.message)?;
            if round < script.warmup {
                continue; // warm-up: taken, not kept
            }
            match rtt {
                Some(d) => run.rtts_us.push(d.as_secs_f64() * 1e6),
                None => run.lost += 1,
            }
        }
    }
    Ok(())
}
// ANCHOR_END: measure

/// How one large message came back: "TCP is a stream" from the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LargeEcho {
    /// Units the application received: reads (tcp) or messages (ws).
    units: usize,
    /// `read()` calls that returned its bytes.
    reads: usize,
}

/// Sends one `size`-byte message with one `send` and counts what its echo came
/// back as. TCP: the echo server sends bytes back while we are still writing,
/// so a writer thread writes (one `write_all`) while this thread reads, or both
/// sides would wait for buffer room forever; each `read()` is one unit. ws: the
/// server echoes only a whole message, so one thread does: one message back,
/// whatever number of reads carried it. UDP: `None` — one datagram carries at
/// most 65,507 bytes, so there is no single large message to send.
fn large_message(url: &str, size: usize) -> Result<Option<LargeEcho>, Error> {
    let target = client::transport::Target::parse(url)?;
    let message: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
    match target.scheme {
        // UDP: no single large message; tls/wss: the same stream lesson as
        // tcp/ws, measured there without the TLS records in the way.
        Scheme::Udp | Scheme::Tls | Scheme::Wss | Scheme::Http => Ok(None),
        Scheme::Tcp => {
            let conn = lifecycle::tcp::connect_tcp(target.addr, LARGE_TIMEOUT)?;
            conn.set_idle_timeout(Some(LARGE_TIMEOUT))?;
            let log = TapLog::new();
            let mut writer = lifecycle::Tap::with_log(conn.stream().try_clone()?, log.clone());
            let sending = std::thread::spawn(move || writer.write_all(&message));
            let mut reader = lifecycle::Tap::with_log(conn, log.clone());
            let mark = log.mark();
            let mut buf = vec![0u8; client::transport::READ_BUFFER];
            let mut got = 0;
            while got < size {
                match reader.read(&mut buf)? {
                    0 => break, // the server ended early: report what came
                    n => got += n,
                }
            }
            sending
                .join()
                .map_err(|_| Error::Io(std::io::Error::other("the writer thread panicked")))??;
            reader.get_ref().shutdown_write()?;
            let reads = received_reads(&log.since(mark));
            // On a stream, each read is what the application gets: a unit.
            Ok(Some(LargeEcho {
                units: reads,
                reads,
            }))
        }
        Scheme::Ws => {
            let mut t = Transport::connect(url)?;
            t.set_read_timeout(Some(LARGE_TIMEOUT))?;
            let log = t.log();
            let mark = log.mark();
            t.send(&message)?;
            let units = t.receive_bytes(size)?.len();
            let reads = received_reads(&log.since(mark));
            t.close()?;
            Ok(Some(LargeEcho { units, reads }))
        }
    }
}

/// `read()`s in `records` that returned bytes.
fn received_reads(records: &[Record]) -> usize {
    records
        .iter()
        .filter(|r| r.dir == Direction::Received && !r.bytes.is_empty())
        .count()
}

/// The difference of two transports' RTT medians, with its bootstrap interval
/// and the verdict of the noise rule.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RttDifference {
    /// The transport whose median is subtracted from.
    pub a: Scheme,
    /// The transport whose median is subtracted.
    pub b: Scheme,
    /// `median(a) − median(b)` of the timed round trips, µs.
    pub median_diff_us: f64,
    /// Lower end of the bootstrap interval of that difference, µs.
    pub ci_low_us: f64,
    /// Upper end of the bootstrap interval, µs.
    pub ci_high_us: f64,
    /// The interval's confidence (0.95).
    pub confidence: f64,
    /// Bootstrap resamples drawn.
    pub resamples: usize,
    /// The resampling generator's seed: the same samples give the same interval.
    pub seed: u64,
    /// The noise rule's answer: whether the interval contains 0.
    pub verdict: Verdict,
    /// The verdict in words: "no measurable difference on this machine", or
    /// which transport's median was lower.
    pub summary: String,
}

/// Every pair of transports, later minus earlier (udp − tcp, ws − tcp, ws − udp):
/// "what does ws cost over tcp" reads as a positive number when it costs.
fn differences(runs: &[Run]) -> Vec<RttDifference> {
    let mut out = Vec::new();
    for (j, b) in runs.iter().enumerate() {
        for a in &runs[j + 1..] {
            let Some(ci) = stats::bootstrap_diff_ci(
                &a.rtts_us,
                &b.rtts_us,
                stats::RESAMPLES,
                stats::CONFIDENCE,
                stats::SEED,
            ) else {
                continue; // one side has no completed round trip: nothing to compare
            };
            // Rounded to the 0.1 µs printed, so the verdict agrees with the
            // numbers a reader sees ([-0.0, +1.2] is "0 inside").
            let ci = stats::Interval {
                diff: round_tenth(ci.diff),
                low: round_tenth(ci.low),
                high: round_tenth(ci.high),
            };
            let verdict = stats::verdict(&ci);
            let summary = match verdict {
                Verdict::NoMeasurableDifference => NO_DIFFERENCE.to_string(),
                Verdict::ALower => format!("{} lower", a.scheme.name()),
                Verdict::BLower => format!("{} lower", b.scheme.name()),
            };
            out.push(RttDifference {
                a: a.scheme,
                b: b.scheme,
                median_diff_us: ci.diff,
                ci_low_us: ci.low,
                ci_high_us: ci.high,
                confidence: stats::CONFIDENCE,
                resamples: stats::RESAMPLES,
                seed: stats::SEED,
                verdict,
                summary,
            });
        }
    }
    out
}

/// What the noise rule prints when an interval contains 0.
pub const NO_DIFFERENCE: &str = "no measurable difference on this machine";

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

/// `1 MiB`, `64 KiB`, `1000 B`: a size as a reader says it.
fn bytes_text(n: usize) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n % (1 << 10) == 0 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}

/// Formats µs to 0.1 µs (`18.4 µs`), or `-`: medians are compared to a tenth.
fn us_tenth(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.1} µs"))
}

/// One line per pair: `ws − tcp  +0.4 µs  [-0.3, +1.0]  no measurable difference…`.
pub fn difference_lines(c: &Comparison) -> Vec<String> {
    c.rtt_differences
        .iter()
        .map(|d| {
            format!(
                "{:<10} {:>+7.1} µs  [{:+.1}, {:+.1}]  {}",
                format!("{} − {}", d.a.name(), d.b.name()),
                d.median_diff_us,
                d.ci_low_us,
                d.ci_high_us,
                d.summary
            )
        })
        .collect()
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
        row(
            &format!("1 send of {} came back as", bytes_text(c.large)),
            &|m| match (m.large_message_units, m.large_message_reads) {
                (Some(units), Some(reads)) if m.name.framing() == Framing::Messages => {
                    format!("{} in {}", plural(units, m.unit), plural(reads, "read"))
                }
                (Some(units), _) => plural(units, m.unit),
                _ if m.name == Scheme::Udp && c.large > lifecycle::udp::MAX_IPV4_PAYLOAD => {
                    "- (> 1 datagram)".to_string()
                }
                _ => "-".to_string(),
            },
        ),
        row("message boundaries kept", &|m| {
            yes_no(Some(m.boundaries_preserved)).to_string()
        }),
        row(
            "echo RTT p50 [IQR]",
            &|m| match (m.rtt_p25_us, m.rtt_p75_us) {
                (Some(q1), Some(q3)) => format!("{} [{q1:.1}–{q3:.1}]", us_tenth(m.rtt_p50_us)),
                _ => us(m.rtt_p50_us),
            },
        ),
        row("echo RTT p99", &|m| us(m.rtt_p99_us)),
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
                "message {} x{}, {} timed round trips each after {} warm-up, the transports taking turns; wire bytes = what read()/write() moved (IP/TCP/UDP headers not counted)",
                quoted_short(c.message.as_bytes(), 32),
                c.count,
                c.rounds,
                c.warmup_rounds
            )
        )
    );
    if let Some(d) = c.rtt_differences.first() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{}",
            style.paint(
                Paint::Heading,
                format!(
                    "RTT p50 differences, {:.0} % bootstrap interval ({} resamples, seed {:#x}); 0 inside = within the noise:",
                    d.confidence * 100.0,
                    d.resamples,
                    d.seed
                )
            )
        );
        for line in difference_lines(c) {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}
