//! Steps 1–3, 5 and 6 of the script, on one connection per transport: connect,
//! the burst and its echoes (lesson 3), the one large message, close and the
//! kernel's word on both ends. The timed round trips are not here: they run on
//! fresh connections of their own ([`super::rtt`]).

use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

use client::transport::{Error, Framing, Incoming, Scheme, Target, Transport};
use client::wire::{quoted_short, ws_conversation};
use lifecycle::Direction;
use lifecycle::tap::{Record, TapLog};
use tungstenite::protocol::frame::FrameHeader;

use super::rtt::Rounds;
use super::verdict::round_tenth;
use super::{LARGE_TIMEOUT, Measurement, SETTLE_TIMEOUT, Script};
use crate::stats;

/// Bytes in `records` going `dir`.
pub(super) fn sum(records: &[Record], dir: Direction) -> usize {
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

/// A percentile of sorted samples in µs, rounded to 0.1 µs ([`stats::percentile`]:
/// nearest rank); `None` without samples (every round lost): there is no time
/// to report, and 0 µs would be a lie.
fn percentile_us(sorted_us: &[f64], p: f64) -> Option<f64> {
    stats::percentile(sorted_us, p).map(round_tenth)
}

/// One transport while the script runs: the connection and what it measured so far.
pub(super) struct Run {
    pub(super) url: String,
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
    /// How the large message came back (on its own connection).
    pub(super) large: Option<LargeEcho>,
}

// ANCHOR: measure
impl Run {
    /// Steps 1–3: connect, the burst, and reading its echoes back.
    /// `index`: which transport of the script this is (its seed stream).
    pub(super) fn start(url: &str, script: &Script, index: usize) -> Result<Run, Error> {
        // 1. Connect. Everything the Tap saw so far is handshake. Bytes are counted
        //    on the socket (`wire`: under TLS, the records); frames are read from
        //    the plaintext (`log`: the same log without TLS).
        let mut target = Target::parse(url)?;
        target.trust = script.trust.clone();
        let seeded = super::connection_seed(script, super::Purpose::Run, index);
        let mut t = Transport::connect_seeded(&target, seeded)?;
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
            large: None,
        })
    }

    /// Step 6 and the report: masking read from the frames, close, the kernel's
    /// word on both ends, and the timed round trips `rtt` took on their own
    /// connections.
    pub(super) fn finish(self, script: &Script, rtt: &Rounds) -> Result<Measurement, Error> {
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

        // 6. Close, then the kernel's word on both ends.
        let close_start = wire.mark();
        let tcp = t.tuple().proto == lifecycle::Proto::Tcp;
        let tls = t.tls().cloned();
        let report = t.close()?;
        let closing = wire.since(close_start);

        let per_message =
            |wire: usize, payload: usize| (wire as f64 - payload as f64) / script.count as f64;
        let mut sorted = rtt.series.pooled();
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
            rtt_blocks: rtt.series.blocks.len(),
            rtt_warmup_discarded: script.warmup * rtt.series.blocks.len(),
            rtt_samples: sorted.len(),
            rtt_lost: rtt.lost,
            rtt_slow_threshold_us: rtt.series.slow_threshold().map(round_tenth),
            rtt_slow_share: rtt.series.slow_share(),
            echo_bytes_sent: rtt.per_echo(rtt.bytes_sent),
            echo_bytes_received: rtt.per_echo(rtt.bytes_received),
            echo_writes: rtt.per_echo(rtt.writes),
            echo_reads: rtt.per_echo(rtt.reads),
            server_work_us: rtt.server_work_us(),
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
// ANCHOR_END: measure

/// Step 5: how one large message came back: "TCP is a stream" from the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LargeEcho {
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
/// `index`: which transport of the script this is (its seed stream).
pub(super) fn large_message(
    url: &str,
    script: &Script,
    index: usize,
) -> Result<Option<LargeEcho>, Error> {
    let size = script.large;
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
            let seeded = super::connection_seed(script, super::Purpose::Large, index);
            let mut t = Transport::connect_seeded(&target, seeded)?;
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
