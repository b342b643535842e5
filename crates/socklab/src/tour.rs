//! `socklab tour`: the lessons in order, each one shown by a measurement taken a
//! moment ago on this machine.
//!
//! The tour starts the TCP, UDP and WebSocket echo servers inside this process on
//! ephemeral loopback ports (so it never collides with a server you already run),
//! then walks through: the socket lifecycle with the kernel's TCP states; the same
//! message over the three transports; the HTTP Upgrade; one frame taken apart and
//! unmasked; the boundary experiment; the close handshake and TIME_WAIT; and the
//! comparison table. Every number it prints comes from the run itself.
//!
//! Run: `cargo run --release -- tour` (add `--pause` in a classroom: Enter moves on;
//! `--json` for the whole run as data; `RUST_LOG=info` to see every system call;
//! `--stable --seed 1` for text that is the same every run, for a blog post:
//! docs/blog.md).

use std::io::{self, BufRead, IsTerminal, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use client::seeded::Seeded;
use client::style::Paint;
use client::wire::{
    FrameView, HandshakeView, quoted, render_frame, render_handshake, ws_conversation,
};
use client::{Framing, Scheme, Side, Style, Transport};
use lifecycle::state::tcp_state;
use lifecycle::tap::Record;
use lifecycle::tcp::{accept, connect_tcp, listen_tcp};
use lifecycle::{Direction, TcpState};
use measure::compare::{
    Comparison, DEFAULT_SEED, NO_DIFFERENCE, Script, Verdict, compare_probed, render_table,
};
use socklab::servers::LocalServers;

/// The lessons the tour shows (its headings name them), and how many the book
/// has (docs/lessons.toml; a test keeps the two in step): the tour is the first
/// hour, not the whole course, and says so.
const TOUR_LESSONS: [u32; 10] = [1, 2, 3, 6, 7, 8, 9, 10, 11, 13];
const BOOK_LESSONS: usize = 23;

/// The message every step sends.
const MESSAGE: &str = "hello";

/// Blocks of timed round trips in the comparison step (each block: fresh
/// connections, compare's default rounds per transport): the fewest the
/// bootstrap over blocks is trusted with, as the tour should stay quick.
const TOUR_BLOCKS: usize = 30;

/// The seed `--stable` uses when no `--seed` is given: stable text needs the
/// client's bytes (the key, the masks the frame view prints) fixed too.
const STABLE_SEED: u64 = 0;

/// How long a connect or an echo in the tour may take before the tour reports an
/// error (loopback answers in microseconds; this only bounds a broken setup).
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the lifecycle step asks the kernel again while waiting for a state.
const STATE_POLL: Duration = Duration::from_millis(1);

/// How long the lifecycle step waits for a state change the next packet brings
/// (an ACK or a FIN on loopback arrives in microseconds; this only bounds it).
const STATE_WAIT: Duration = Duration::from_millis(500);

/// Flags of `socklab tour`.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  socklab tour                  # the whole tour, a few seconds\n  socklab tour --pause          # wait for Enter between steps (classroom)\n  socklab tour --json | jq .comparison\n  RUST_LOG=info socklab tour    # plus every system call on stderr\n  socklab tour --stable --seed 1  # the same text every run, for a blog post (docs/blog.md)"
)]
pub struct Tour {
    /// Wait for Enter between steps (only when stdin is a terminal)
    #[arg(long)]
    pause: bool,
    /// Print the whole run as one JSON object instead of the text
    #[arg(long)]
    json: bool,
    /// No colors (also: NO_COLOR=1)
    #[arg(long)]
    no_color: bool,
    /// Take the client's random choices from this seed: the WebSocket key, the mask keys, the comparison's order and bootstrap
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Print ports, times and verdicts as placeholders (<port>, <µs>, <verdict>): two runs give the same text (implies --seed 0 unless given)
    #[arg(long, conflicts_with = "json")]
    stable: bool,
}

/// One lifecycle step and the kernel's state of both ends after it.
#[derive(serde::Serialize)]
pub(crate) struct Snapshot {
    pub(crate) call: String,
    /// When the step's calls had returned, in µs since the walk began (read
    /// before the states, so the state lookups' own time is not in it).
    pub(crate) at_us: f64,
    /// When its states had been read, in µs since the walk began: later than
    /// `at_us` by the lookups, and by any wait for a state to settle (the client's
    /// FIN_WAIT2 waits for the server's ACK of the FIN, which the server's kernel
    /// may delay: a delayed ACK).
    pub(crate) settled_us: f64,
    /// What the step put on the wire (`socklab diagram` draws it).
    #[serde(skip)]
    pub(crate) step: Step,
    pub(crate) client: &'static str,
    pub(crate) server: &'static str,
}

/// The kind of a lifecycle step, for drawing it: which segments it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// socket, bind, listen: nothing on the wire.
    Listen,
    /// connect: the kernel's SYN, SYN-ACK, ACK.
    Connect,
    /// accept: nothing on the wire (the handshake was already done).
    Accept,
    /// The client wrote `sent` bytes; the server read them and wrote `echoed` back.
    Echo { sent: usize, echoed: usize },
    /// The client's shutdown(SHUT_WR): its FIN, and the server's ACK.
    ClientFin,
    /// The server's read() = 0, then its shutdown(SHUT_WR): its FIN, the client's ACK.
    ServerFin,
    /// close() on both: nothing more on the wire.
    Close,
}

/// One transport's round trip of the same message.
#[derive(serde::Serialize)]
struct SameMessage {
    name: Scheme,
    tuple: String,
    connect_us: f64,
    handshake_bytes_sent: usize,
    handshake_bytes_received: usize,
    wire_bytes_sent: usize,
    wire_bytes_received: usize,
    echo: String,
}

/// One frame and which way it went, for the JSON output (the frame's own
/// fields are the wire view's).
#[derive(serde::Serialize)]
struct FrameJson<'a> {
    direction: &'static str,
    #[serde(flatten)]
    frame: &'a FrameView,
}

/// Everything the tour measured, for `--json`.
#[derive(serde::Serialize)]
struct TourJson<'a> {
    servers: [String; 3],
    lifecycle: Vec<Snapshot>,
    same_message: Vec<SameMessage>,
    handshake: Option<&'a HandshakeView>,
    frames: Vec<FrameJson<'a>>,
    comparison: Comparison,
}

impl Tour {
    /// Runs the tour; returns when it is over.
    pub fn run(self) -> anyhow::Result<()> {
        let style = Style::detect(self.no_color).with_stable(self.stable);
        crate::set_stable(self.stable);
        let seed = self.seed.or(self.stable.then_some(STABLE_SEED));
        let pause = self.pause && io::stdin().is_terminal() && !self.json;
        let started = Instant::now();
        let servers = LocalServers::start().context("starting the echo servers")?;
        let text = !self.json;
        let mut step = 0;
        let mut heading = |title: &str, sentence: &str| {
            step += 1;
            if text {
                if pause && step > 1 {
                    wait_for_enter();
                }
                outln!();
                outln!(
                    "{}",
                    style.paint(Paint::Heading, format!("{step}. {title}"))
                );
                outln!("{sentence}");
                outln!();
            }
        };

        if text {
            outln!(
                "{}",
                style.paint(
                    Paint::Heading,
                    "socklab tour: what a socket is, and what WebSocket adds — measured on this machine"
                )
            );
            outln!(
                "It shows {} of the {BOOK_LESSONS} lessons (their numbers in each heading); every lesson, with its command: docs/lessons.md",
                TOUR_LESSONS.len()
            );
            outln!(
                "Echo servers started in this process (event loops, as `socklab serve` runs them): {} {} {}",
                servers.tcp_url(),
                servers.udp_url(),
                servers.ws_url()
            );
            if let Some(seed) = seed {
                outln!(
                    "Seed {seed}: the client's Sec-WebSocket-Key, its mask keys and the comparison's order and bootstrap come from it, so the client's bytes repeat; what the servers and the kernel do stays real"
                );
            }
        }

        // 1. The lifecycle, with the kernel's TCP states.
        heading(
            "A TCP connection's life, as the kernel sees it (lesson 1)",
            "Each step is one system call; the states are the kernel's own (one sock_diag lookup per end, as `ss` asks), read right after it — on loopback the peer may already have answered.",
        );
        let lifecycle = lifecycle_walk().context("the lifecycle walk")?;
        if text {
            print_lifecycle(&lifecycle, self.stable);
        }

        // 2. The same message over the three transports.
        heading(
            "The same message over TCP, UDP and WebSocket (lessons 2, 13)",
            "One send(\"hello\") each: raw sockets move exactly 5 bytes; WebSocket first upgrades an HTTP request, then wraps the 5 bytes in a frame.",
        );
        let (same, ws_records) = same_message(&servers, seed)?;
        if text {
            print_same_message(&same);
        }

        // 3. The Upgrade.
        heading(
            "The Upgrade: an ordinary HTTP request on the same TCP connection (lessons 6, 7, 8)",
            "The client asks to switch protocols; the server proves it read the key by hashing it with a fixed GUID, answers 101, and the frames that follow use the very same connection.",
        );
        let conv = ws_conversation(&ws_records);
        let ws_tuple = same
            .iter()
            .find(|m| m.name == Scheme::Ws)
            .map(|m| m.tuple.clone())
            .unwrap_or_default();
        if text {
            match &conv.handshake {
                Some(h) => out!("{}", indent(&render_handshake(h, style))),
                None => outln!("  (no complete handshake was recorded)"),
            }
            outln!();
            outln!(
                "  One 4-tuple carried the request, the 101 and every frame: {ws_tuple}. The HTTP connection is not \"cut\" after the handshake; it becomes the WebSocket."
            );
            // Lesson 14: nothing after the 101 is HTTP. Every byte the client
            // wrote after its request head parsed as a frame, with none left over.
            let after = conv.sent.bytes.len() - conv.request_len;
            if conv.client.error.is_none() && conv.client.incomplete == 0 {
                outln!(
                    "  After the 101 the client wrote {after} bytes: {} frames and not one more HTTP request (no polling).",
                    conv.client.frames.len()
                );
            }
        }

        // 4. One frame, dissected.
        heading(
            "One frame, taken apart and unmasked (lessons 9, 10)",
            "The client's \"hello\" as it crossed the wire: a 2-byte header, a 4-byte masking key, and 5 masked bytes; the server's echo comes back unmasked.",
        );
        let client_frame = conv.client.frames.first();
        let server_frame = conv.server.frames.first();
        if text {
            if let Some(f) = client_frame {
                out!("{}", indent(&render_frame(f, "client → server", style)));
            }
            if let Some(f) = server_frame {
                out!("{}", indent(&render_frame(f, "server → client", style)));
            }
        }

        // 5–7 come from one run of the comparison script.
        let script = Script {
            message: MESSAGE.as_bytes().to_vec(),
            count: 3,
            blocks: TOUR_BLOCKS,
            seed: seed.unwrap_or(DEFAULT_SEED),
            ..Script::default()
        };
        let comparison = compare_probed(&servers.urls(), &servers.work_probes(), &script)
            .context("the comparison")?;

        heading(
            "Boundaries: three sends, how many receives? (lesson 3)",
            "Three back-to-back sends of \"hello\", read only once all the echoes have arrived: a TCP stream keeps no boundaries, UDP datagrams and WebSocket messages do. The same holds the other way: one large send comes back in many reads.",
        );
        if text {
            print_boundaries(&comparison);
        }

        heading(
            "Closing: close frames, FINs, and who is left in TIME_WAIT (lesson 11)",
            "Whoever sends the first FIN keeps the connection's 4-tuple in TIME_WAIT for a minute; WebSocket asks the server to close TCP first, so the server pays that, not the client.",
        );
        if text {
            print_close(&comparison);
        }

        heading(
            "Side by side",
            &format!(
                "The whole script (connect, {} sends, timed round trips, close) over each transport. The round trips come in {} blocks on fresh connections, {} rounds each (after {} warm-up); in each round every transport goes once, in a random order, so the machine's moods fall on all of them alike. Two transports are only called different when the interval of their paired per-block difference leaves out 0 and their slow rounds fell evenly; a layer that measures lower than the one it runs on is called noise.",
                script.count, script.blocks, script.rounds, script.warmup
            ),
        );
        if text {
            out!("{}", indent(&render_table(&comparison, style)));
            outln!();
            outln!("  {}", framing_lesson(&comparison, self.stable));
        }

        if self.json {
            let json = TourJson {
                servers: servers.urls(),
                lifecycle,
                same_message: same,
                handshake: conv.handshake.as_ref(),
                frames: client_frame
                    .map(|frame| FrameJson {
                        direction: "client_to_server",
                        frame,
                    })
                    .into_iter()
                    .chain(server_frame.map(|frame| FrameJson {
                        direction: "server_to_client",
                        frame,
                    }))
                    .collect(),
                comparison,
            };
            outln!("{}", serde_json::to_string_pretty(&json)?);
            return Ok(());
        }

        heading(
            "What to try next",
            &format!(
                "The tour took {:.1} s. Now drive it yourself:",
                started.elapsed().as_secs_f64()
            ),
        );
        // Written with the name that runs this binary from here: `socklab` once
        // it is on PATH (README: cargo install), `target/release/socklab` until then.
        let me = crate::invoked::command_name();
        let next = [
            (
                format!("{me} serve all"),
                "tcp+udp echo on 127.0.0.1:7007, ws on 127.0.0.1:8080",
            ),
            (
                format!("{me} chat ws://127.0.0.1:8080/"),
                "type lines; arrivals print as they come (full duplex)",
            ),
            (
                "xdg-open http://127.0.0.1:8080/".to_string(),
                "the browser page (`serve ws`); or open it in any browser",
            ),
            (
                format!("{me} send ws://127.0.0.1:8080/ hi --wire"),
                "any message, every byte decoded",
            ),
            (
                format!("{me} compare --count 10"),
                "the table, with your own message and count",
            ),
            (
                "scripts/capture.sh".to_string(),
                "as root: the same conversations in a packet capture",
            ),
            (
                "scripts/lossy-link.sh --rootless".to_string(),
                "lesson 2 off loopback's perfect link: UDP loses, TCP retransmits (no root needed)",
            ),
        ];
        let width = next.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
        for (command, what) in &next {
            outln!("  {command:<width$}  # {what}");
        }
        if me != "socklab" {
            outln!(
                "  (socklab is not on your PATH: `cargo install --path crates/socklab` puts it there)"
            );
        }
        Ok(())
    }
}

fn wait_for_enter() {
    eprint!("  — press Enter —");
    let _ = io::stderr().flush();
    let mut line = String::new();
    let _ = io::stdin().lock().read_line(&mut line);
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// The kernel's state of the socket `local`↔`peer`, once it is `expected` (or
/// whatever it is after [`STATE_WAIT`]: the tour prints what it finds).
fn state_once(local: SocketAddr, peer: SocketAddr, expected: TcpState) -> TcpState {
    let deadline = Instant::now() + STATE_WAIT;
    loop {
        let state = tcp_state(local, peer);
        if state == expected || state == TcpState::Unknown || Instant::now() >= deadline {
            return state;
        }
        std::thread::sleep(STATE_POLL);
    }
}

// ANCHOR: lifecycle_walk
/// Both ends of one TCP connection on loopback, driven step by step, with the
/// kernel's state of each end after every step.
pub(crate) fn lifecycle_walk() -> io::Result<Vec<Snapshot>> {
    use std::io::{Read, Write};
    let mut steps = Vec::new();
    let any: SocketAddr = (Ipv4Addr::UNSPECIFIED, 0).into();
    let clock = Instant::now();
    // Arguments are evaluated left to right: `at` is taken before the states are read.
    let mut snap =
        |at: Duration, step: Step, call: &str, client: Option<TcpState>, server: TcpState| {
            steps.push(Snapshot {
                call: call.to_string(),
                at_us: at.as_secs_f64() * 1e6,
                // The arguments, states included, are read by now.
                settled_us: clock.elapsed().as_secs_f64() * 1e6,
                step,
                // No client socket exists before connect().
                client: client.map_or("-", TcpState::name),
                server: server.name(),
            })
        };

    // Server: socket(2), setsockopt(2), bind(2), listen(2).
    let listener = listen_tcp((Ipv4Addr::LOCALHOST, 0).into())?;
    let server_addr = listener.local_addr()?;
    snap(
        clock.elapsed(),
        Step::Listen,
        &format!("server: socket, bind {server_addr}, listen"),
        None,
        tcp_state(server_addr, any),
    );

    // Client: socket(2), connect(2). The kernel finishes the handshake before
    // the server calls accept(): the connection waits, ESTABLISHED, in the queue.
    let mut client = connect_tcp(server_addr, IO_TIMEOUT)?;
    let (c, s) = (client.tuple().local, server_addr);
    snap(
        clock.elapsed(),
        Step::Connect,
        &format!(
            "client: socket, connect → SYN, SYN-ACK, ACK (client port {})",
            c.port()
        ),
        Some(state_once(c, s, TcpState::Established)),
        state_once(s, c, TcpState::Established),
    );

    // accept(2): a new socket for this connection; the listener stays in LISTEN.
    let mut server = accept(&listener)?;
    snap(
        clock.elapsed(),
        Step::Accept,
        "server: accept → a new fd for this 4-tuple",
        Some(tcp_state(c, s)),
        tcp_state(s, c),
    );

    client.write_all(MESSAGE.as_bytes())?;
    let mut buf = [0u8; 64];
    let n = server.read(&mut buf)?;
    server.write_all(&buf[..n])?;
    let m = client.read(&mut buf)?;
    snap(
        clock.elapsed(),
        Step::Echo { sent: n, echoed: m },
        &format!("client write 5, server read {n} + write {n}, client read {m}"),
        Some(tcp_state(c, s)),
        tcp_state(s, c),
    );

    // shutdown(SHUT_WR): the client's FIN. The server's read() will return 0.
    client.shutdown_write()?;
    snap(
        clock.elapsed(),
        Step::ClientFin,
        "client: shutdown(SHUT_WR) → FIN",
        Some(state_once(c, s, TcpState::FinWait2)),
        state_once(s, c, TcpState::CloseWait),
    );
    let eof = server.read(&mut buf)?;
    server.shutdown_write()?;
    snap(
        clock.elapsed(),
        Step::ServerFin,
        &format!("server: read() = {eof} (end of stream), shutdown(SHUT_WR) → FIN"),
        Some(state_once(c, s, TcpState::TimeWait)),
        state_once(s, c, TcpState::Closed),
    );
    server.close();
    client.close();
    snap(
        clock.elapsed(),
        Step::Close,
        "both: close(): the fds are gone; the first to send FIN waits",
        Some(state_once(c, s, TcpState::TimeWait)),
        tcp_state(s, c),
    );
    Ok(steps)
}
// ANCHOR_END: lifecycle_walk

fn print_lifecycle(steps: &[Snapshot], stable: bool) {
    outln!("  {:<66} {:<12} server", "step", "client");
    for s in steps {
        // Placeholders before padding, so the columns stay in line.
        let call = client::stable::cell(stable, s.call.clone());
        outln!("  {call:<66} {:<12} {}", s.client, s.server);
    }
}

/// One connection per transport, one message each; returns the ws records too.
/// With a seed, the ws key, the frame's mask and the close frame's come from it
/// (the same bytes as `socklab send ws://… hello --seed N`).
fn same_message(
    servers: &LocalServers,
    seed: Option<u64>,
) -> anyhow::Result<(Vec<SameMessage>, Vec<Record>)> {
    let mut rows = Vec::new();
    let mut ws_records = Vec::new();
    for url in servers.urls() {
        let target = client::Target::parse(&url)?;
        let mut t = match seed {
            Some(seed) => Transport::connect_seeded(&target, Seeded::new(seed)),
            None => Transport::connect_to(&target),
        }
        .with_context(|| format!("connect {url}"))?;
        t.set_read_timeout(Some(IO_TIMEOUT))?;
        let log = t.log();
        let handshake = log.records();
        let mark = log.mark();
        t.send(MESSAGE.as_bytes())?;
        let echo = t.receive_bytes(MESSAGE.len())?.concat();
        let exchange = log.since(mark);
        let sum = |records: &[Record], dir| -> usize {
            records
                .iter()
                .filter(|r| r.dir == dir)
                .map(|r| r.bytes.len())
                .sum()
        };
        rows.push(SameMessage {
            name: t.target().scheme,
            tuple: t.tuple().to_string(),
            connect_us: (t.connect_time().as_secs_f64() * 1e7).round() / 10.0,
            handshake_bytes_sent: sum(&handshake, Direction::Sent),
            handshake_bytes_received: sum(&handshake, Direction::Received),
            wire_bytes_sent: sum(&exchange, Direction::Sent),
            wire_bytes_received: sum(&exchange, Direction::Received),
            echo: String::from_utf8_lossy(&echo).into_owned(),
        });
        let scheme = t.target().scheme;
        t.close()?;
        if scheme == Scheme::Ws {
            ws_records = log.records();
        }
    }
    Ok((rows, ws_records))
}

fn print_same_message(rows: &[SameMessage]) {
    for m in rows {
        let setup = if m.handshake_bytes_sent > 0 {
            format!(
                ", then Upgrade: {} B out, {} B in",
                m.handshake_bytes_sent, m.handshake_bytes_received
            )
        } else {
            String::new()
        };
        outln!("  {:<4}4-tuple {}", m.name.name(), m.tuple);
        outln!(
            "      connect {:.0} µs{setup}; \"hello\" = {} bytes out, {} bytes back; echo {}",
            m.connect_us,
            m.wire_bytes_sent,
            m.wire_bytes_received,
            quoted(m.echo.as_bytes())
        );
    }
}

fn print_boundaries(c: &Comparison) {
    for m in &c.transports {
        let how = match m.name {
            Scheme::Ws => format!(
                " (the TCP underneath delivered them in {} read{})",
                m.reads,
                if m.reads == 1 { "" } else { "s" }
            ),
            _ => String::new(),
        };
        outln!(
            "  {:<4}{} sends → {} {}{}{how}: {}",
            m.name.name(),
            m.messages_sent,
            m.units_received,
            m.unit,
            if m.units_received == 1 { "" } else { "s" },
            m.received.join(" ")
        );
    }
    outln!();
    outln!(
        "  And the other way round: one send of {} bytes, its echo read back:",
        c.large
    );
    for m in &c.transports {
        let how = match (m.large_message_units, m.large_message_reads) {
            (Some(units), Some(reads)) if m.name == Scheme::Ws => format!(
                "{units} message{} ({reads} read{} underneath)",
                if units == 1 { "" } else { "s" },
                if reads == 1 { "" } else { "s" }
            ),
            (Some(units), _) => format!(
                "{units} {}{}: the receiver cannot tell where it ends",
                m.unit,
                if units == 1 { "" } else { "s" }
            ),
            _ if m.name == Scheme::Udp => format!(
                "not sent: one datagram holds at most {} bytes",
                lifecycle::udp::MAX_IPV4_PAYLOAD
            ),
            _ => "not sent".to_string(),
        };
        outln!("  {:<4}1 send → {how}", m.name.name());
    }
    outln!();
    outln!(
        "  A TCP reader that needs messages must mark their ends itself (a length prefix, a newline): that is what WebSocket's frame header does."
    );
}

fn describe(side: Option<Side>) -> String {
    side.map_or("neither side".to_string(), |s| format!("the {s}"))
}

fn print_close(c: &Comparison) {
    for m in &c.transports {
        let line = match m.name.framing() {
            Framing::Datagrams | Framing::Requests => {
                "close() sent nothing: there was no connection to end".to_string()
            }
            Framing::Bytes => format!(
                "shutdown → FIN; first FIN from {}; kernel afterwards: client {}, server {} → {} in TIME_WAIT",
                describe(m.first_fin),
                state(&m.client_state_after_close),
                state(&m.server_state_after_close),
                describe(m.time_wait),
            ),
            Framing::Messages => format!(
                "close frame ({} B out, {} B back, code {}); first FIN from {}; kernel afterwards: client {}, server {} → {} in TIME_WAIT",
                m.close_bytes_sent,
                m.close_bytes_received,
                m.close_code.map_or("none".to_string(), |c| c.to_string()),
                describe(m.first_fin),
                state(&m.client_state_after_close),
                state(&m.server_state_after_close),
                describe(m.time_wait),
            ),
        };
        outln!("  {:<4}{line}", m.name.name());
    }
}

/// The lesson of the RTT row, worded from what this run measured: the ws − tcp
/// difference and its interval, and the frame bytes. Under `--stable` the
/// figures and the verdict are placeholders, and so is the sentence that
/// depends on the verdict.
fn framing_lesson(c: &Comparison, stable: bool) -> String {
    let ws = c.transports.iter().find(|m| m.name == Scheme::Ws);
    let diff = c
        .rtt_differences
        .iter()
        .find(|d| d.a == Scheme::Ws && d.b == Scheme::Tcp);
    let (Some(ws), Some(d)) = (ws, diff) else {
        return "(no ws and tcp round trips to compare)".to_string();
    };
    let measured = format!(
        "ws − tcp, paired over {} blocks: {:+.1} µs, 95 % interval [{:+.1}, {:+.1}] µs",
        d.blocks, d.diff_us, d.ci_low_us, d.ci_high_us
    );
    let bytes = format!(
        "+{} / +{} bytes per message",
        ws.overhead_bytes_per_message_sent, ws.overhead_bytes_per_message_received
    );
    if stable {
        return format!(
            "{measured}: {}. Framing costs {bytes}; whether that shows against the noise of a round trip is this run's verdict (run without --stable to read it in words).",
            client::stable::VERDICT
        );
    }
    let noise = format!(
        "Framing costs {bytes} and a little work (a header, a 4-byte XOR mask): too little to show against the noise of a round trip."
    );
    match d.verdict {
        Verdict::NoMeasurableDifference => format!("{measured}: {NO_DIFFERENCE}. {noise}"),
        // ws runs on the very same TCP and only adds work: it cannot be faster,
        // so a ws that came out lower is this machine's scheduling.
        Verdict::ALower | Verdict::BelowNoise => format!(
            "{measured}: ws measured lower, which it cannot be (it runs on the same TCP and only adds work): the difference is below this machine's noise. {noise}"
        ),
        Verdict::UnevenWakeUps => format!(
            "{measured}: the slow wake-ups fell on one more than the other ({:.0} % vs {:.0} % of rounds), so no verdict. {noise}",
            d.slow_share_a * 100.0,
            d.slow_share_b * 100.0
        ),
        Verdict::TooFewBlocks => format!("{measured}: too few blocks for a verdict."),
        Verdict::BLower => format!(
            "{measured}: tcp lower. On loopback a round trip is nothing but system calls and code, so the frame's work ({bytes}, parsing, masking) shows here; across a network it disappears under the path's latency."
        ),
    }
}

fn state(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("?")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tour says how many of the book's lessons it shows: the count is the
    /// book's, and the list is the lessons its headings name.
    #[test]
    fn the_tour_counts_its_lessons_right() {
        let book = include_str!("../../../docs/lessons.toml");
        let in_book = book.lines().filter(|l| l.trim() == "[[lesson]]").count();
        assert_eq!(in_book, BOOK_LESSONS);
        let mut named: Vec<u32> = include_str!("tour.rs")
            .split("(lesson")
            .skip(1)
            .filter_map(|rest| {
                let inside = rest.strip_prefix('s').unwrap_or(rest).strip_prefix(' ')?;
                let numbers = &inside[..inside.find(')')?];
                numbers
                    .split(", ")
                    .map(|n| n.parse::<u32>().ok())
                    .collect::<Option<Vec<u32>>>()
            })
            .flatten()
            .collect();
        named.sort();
        named.dedup();
        assert_eq!(named, TOUR_LESSONS);
    }
}
