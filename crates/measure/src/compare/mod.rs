//! One script over TCP, UDP, WebSocket, TLS and wss, and a report of only what
//! was measured.
//!
//! The script is the same for every transport:
//!
//! 1. connect (ws: TCP connect + HTTP Upgrade; tls: + the TLS handshake);
//! 2. send N messages back to back — the boundary experiment (lesson 3);
//! 3. wait until every echoed byte is in the kernel's receive buffer, then read
//!    units (reads / datagrams / messages) until all payload bytes are back;
//! 4. strict ping-pong, timed: blocks of rounds on fresh connections, every
//!    transport back to back in a seeded random order in each round ([`rtt`]),
//!    compared pair by pair with a method that the machine's wake-ups cannot
//!    invert ([`verdict`]);
//! 5. one large message (1 MiB) sent with one `send` on a fresh connection, and
//!    the number of reads its echo took: many over TCP, one message over ws;
//! 6. close, and ask the kernel which socket is left in TIME_WAIT (lesson 11).
//!
//! Every number in a [`Measurement`] is counted from the Tap's records or read
//! from the kernel while the script ran. Nothing is assumed from the protocol:
//! if a WebSocket server did not mask, or a TCP read came back split, the report
//! says so. Times come with their spread (the interquartile range) and their
//! share of slow rounds; a winner is named only when the interval of the paired
//! difference leaves 0 out, the slow rounds fell evenly, and the winner is not
//! a layer running on top of the loser.
//!
//! # Layout
//!
//! - this file: the script, what it measures, and [`compare`] running it;
//! - [`run`]: steps 1–3, 5 and 6, one connection per transport;
//! - [`rtt`]: step 4, the timed blocks of rounds;
//! - [`verdict`]: from round trips to a verdict, pure;
//! - [`table`]: the side-by-side table and the difference lines.
//!
//! Try: `socklab compare`, `socklab compare --count 10 --message "$(head -c 200 /dev/zero | tr '\0' x)"`.

use std::sync::Arc;
use std::time::Duration;

use client::Trust;
use client::seeded::Seeded;
use client::transport::{Error, Scheme, Side, Target};

pub mod rtt;
mod run;
pub mod table;
pub mod verdict;

pub use table::{difference_lines, render_table, table_rows};
pub use verdict::{NO_DIFFERENCE, RttDifference, Verdict};

use run::Run;

/// Reads an in-process server's own work so far: (nanoseconds from a read
/// returning to the write after it, summed; messages). The caller that started
/// the server supplies it (`socklab::servers`); a URL of another server has none.
pub type WorkProbe = Arc<dyn Fn() -> (u64, u64) + Send + Sync>;

/// Default message: short, readable in a hex dump.
pub const DEFAULT_MESSAGE: &str = "hello";

/// Default number of back-to-back sends in the boundary experiment.
pub const DEFAULT_COUNT: usize = 3;

/// Default number of blocks of timed round trips, each on fresh connections:
/// the bootstrap resamples blocks, so at least 30 for an interval to mean much.
pub const DEFAULT_BLOCKS: usize = 40;

/// Default timed round trips per transport in each block (40 × 20 = 800 in
/// all: enough for a p99 that means something).
pub const DEFAULT_ROUNDS: usize = 20;

/// Default round trips per transport at the start of each block, discarded:
/// a fresh connection's first ones pay for page faults, cold caches and
/// sleeping threads.
pub const DEFAULT_WARMUP: usize = 3;

/// Default seed of the order the transports take within each round.
pub const DEFAULT_SEED: u64 = 0x50C1_AB01;

/// The bootstrap's seed for a script's `seed`: one less, so the default seed
/// gives the bootstrap the seed it has always had ([`crate::stats::SEED`]), and
/// `--seed N` moves both.
pub fn bootstrap_seed(seed: u64) -> u64 {
    seed.wrapping_sub(1)
}

/// Which of the script's connections a [`Seeded`] stream is for: the run's
/// own per transport, the timed blocks', the large message's. Each connection
/// gets its own stream of the script's seed, so its ws key and masks are the
/// same every run whatever order the connections are opened in.
pub(crate) fn connection_seed(script: &Script, purpose: Purpose, index: usize) -> Seeded {
    Seeded::stream(script.seed, ((purpose as u64) << 32) | index as u64)
}

/// What a connection of the script is for (see [`connection_seed`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Purpose {
    /// Steps 1–3 and 6: one connection per transport.
    Run = 1,
    /// Step 4: fresh connections in every block.
    Block = 2,
    /// Step 5: the large message.
    Large = 3,
}

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
    /// Blocks of round trips, each on fresh connections.
    pub blocks: usize,
    /// Timed round trips per transport in each block.
    pub rounds: usize,
    /// Round trips per transport at the start of each block, not kept.
    pub warmup: usize,
    /// Seeds every random choice the client makes: the order the transports
    /// take within each round, and the bootstrap's resampling
    /// ([`bootstrap_seed`]), so one seed gives one report for the same samples.
    pub seed: u64,
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
            blocks: DEFAULT_BLOCKS,
            rounds: DEFAULT_ROUNDS,
            warmup: DEFAULT_WARMUP,
            seed: DEFAULT_SEED,
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
    /// Blocks of round trips, each on fresh connections.
    pub rtt_blocks: usize,
    /// Warm-up round trips taken at the start of the blocks and discarded.
    pub rtt_warmup_discarded: usize,
    /// Completed (timed) ping-pong round trips, all blocks together.
    pub rtt_samples: usize,
    /// Round trips whose echo did not come back within the round timeout.
    pub rtt_lost: usize,
    /// Rounds slower than this are slow: twice this transport's 10th percentile.
    pub rtt_slow_threshold_us: Option<f64>,
    /// The share of timed rounds above that threshold: how often the machine's
    /// slow wake-up fell on this transport.
    pub rtt_slow_share: Option<f64>,
    /// Bytes our `write()`s passed to the kernel per timed round trip (under
    /// TLS: the records).
    pub echo_bytes_sent: Option<f64>,
    /// Bytes our `read()`s took from the kernel per timed round trip.
    pub echo_bytes_received: Option<f64>,
    /// `write()`/`send()` calls per timed round trip.
    pub echo_writes: Option<f64>,
    /// `read()`/`recv()` calls that returned bytes, per timed round trip.
    pub echo_reads: Option<f64>,
    /// The server's own work per timed echo, µs: from its read returning to its
    /// write returning, as its loops timed it. `None` for a server not in this
    /// process (or one that does not time its work).
    pub server_work_us: Option<f64>,
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
    /// Blocks of round trips, each on fresh connections.
    pub blocks: usize,
    /// Timed round trips per transport in each block.
    pub rounds: usize,
    /// Discarded warm-up round trips per transport at the start of each block.
    pub warmup_rounds: usize,
    /// The seed of the transports' order within each round.
    pub seed: u64,
    /// Bytes of the one large message (0: not sent).
    pub large: usize,
    /// One entry per transport, in the order given.
    pub transports: Vec<Measurement>,
    /// Each pair's paired difference of RTT, its raw verdict and the one printed.
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
        if self.rounds == 0 || self.blocks == 0 {
            return Err(
                "blocks and rounds must be at least 1: with no round trip there is no time to report".into(),
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
/// then the timed blocks ([`rtt::blocks`]) on fresh connections, the large
/// message, and each first connection closes. The round trips are compared
/// pairwise by [`verdict::differences`].
pub fn compare(urls: &[String], script: &Script) -> Result<Comparison, Error> {
    compare_probed(urls, &[], script)
}

/// [`compare`], with the servers' own work per message read through
/// `probes[i]` for `urls[i]` (missing or `None`: not known, printed `-`).
pub fn compare_probed(
    urls: &[String],
    probes: &[Option<WorkProbe>],
    script: &Script,
) -> Result<Comparison, Error> {
    script
        .check()
        .map_err(|e| Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
    // 1–3: connect and the burst, one transport after the other (not timed).
    let mut runs = urls
        .iter()
        .enumerate()
        .map(|(i, url)| Run::start(url, script, i))
        .collect::<Result<Vec<_>, _>>()?;
    // 4: the timed round trips, in blocks on connections of their own.
    let targets = urls
        .iter()
        .map(|url| {
            let mut target = Target::parse(url)?;
            target.trust = script.trust.clone();
            Ok(target)
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let probes: Vec<Option<WorkProbe>> = (0..urls.len())
        .map(|i| probes.get(i).cloned().flatten())
        .collect();
    let rounds = rtt::blocks(&targets, &probes, script)?;
    let series: Vec<_> = rounds.iter().map(|r| r.series.clone()).collect();
    let rtt_differences = verdict::differences(&series, bootstrap_seed(script.seed));
    // 5: the large message, on a connection of its own (after the timed
    // rounds, so its megabyte does not disturb them).
    if script.large > 0 {
        for (i, run) in runs.iter_mut().enumerate() {
            run.large = run::large_message(&run.url, script, i)?;
        }
    }
    // 6: close each, and ask the kernel.
    let transports = runs
        .into_iter()
        .zip(&rounds)
        .map(|(run, rtt)| run.finish(script, rtt))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Comparison {
        message: String::from_utf8_lossy(&script.message).into_owned(),
        count: script.count,
        blocks: script.blocks,
        rounds: script.rounds,
        warmup_rounds: script.warmup,
        seed: script.seed,
        large: script.large,
        transports,
        rtt_differences,
    })
}
