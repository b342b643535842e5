//! `socklab send URL [MESSAGE…]`: send each message over tcp, udp or ws, print
//! each echo, and with `--wire` every byte both ways, decoded.
//!
//! Try it against `socklab serve all`:
//! `socklab send tcp://127.0.0.1:7007 one two --wire` (two writes, maybe one read),
//! `socklab send udp://127.0.0.1:7007 one two --wire` (two datagrams, two back),
//! `socklab send ws://127.0.0.1:8080/ hello --wire` (the Upgrade, masked frames,
//! the close handshake).
//! `--states` prints, after each step, the kernel's TCP state of both ends of the
//! connection (asked of the kernel by 4-tuple, sock_diag) with the time on the Tap's clock, so each
//! line can be matched to its packets in `scripts/capture.sh`'s captures.
//! `--listen SECS` sends the messages without waiting for echoes, then prints
//! whatever the server sends until it closes or SECS pass — for servers that
//! speak first or do not echo, such as socket.io
//! (`socklab send 'ws://127.0.0.1:PORT/socket.io/?EIO=4&transport=websocket' --listen 3 --wire`).

use std::time::{Duration, Instant};

use clap::Args;
use client::records::TlsRecord;
use client::wire::{
    WsConversation, quoted, render_datagrams, render_stream, render_ws, ws_conversation,
};
use client::{Framing, Incoming, Scheme, Side, Style, Target, TlsInfo, Transport};
use lifecycle::narrate::plural;
use lifecycle::state::{TcpState, tcp_state};
use lifecycle::tap::Record;
use lifecycle::{Direction, FourTuple, TapLog};

/// Flags of `socklab send`.
#[derive(Args)]
#[command(
    after_help = "Examples (start the servers first: socklab serve all):\n  socklab send tcp://127.0.0.1:7007 hello               # one write, one echo\n  socklab send udp://127.0.0.1:7007 one two three       # three datagrams\n  socklab send ws://127.0.0.1:8080/ hello --wire        # Upgrade, masked frame, close, decoded\n  socklab send ws://127.0.0.1:8080/ hi --json | jq .    # every record, as JSON\n  socklab send ws://127.0.0.1:8081/ hi --binary --wire  # through socklab bridge (or websockify) to tcp-echo\n  socklab send 'ws://127.0.0.1:PORT/socket.io/?EIO=4&transport=websocket' --listen 3 --wire\n                                                        # a server that speaks first (scripts/socketio.sh)"
)]
pub struct Send {
    /// Where to send: tcp://HOST:PORT, udp://HOST:PORT or ws://HOST:PORT/PATH
    url: String,
    /// Messages to send, each one write / datagram / WebSocket message [default: hello; none with --listen]
    messages: Vec<String>,
    /// Also show every byte both ways, decoded (handshake, frame fields, unmasking)
    #[arg(long)]
    wire: bool,
    /// Print one JSON object (echoes, every recorded read/write, the close)
    #[arg(long)]
    json: bool,
    /// Seconds to wait for each echo
    #[arg(long, default_value_t = 2, value_name = "SECS")]
    timeout: u64,
    /// No colors (also: NO_COLOR=1)
    #[arg(long)]
    no_color: bool,
    /// After each step, print the kernel's TCP state of our socket and the server's
    #[arg(long)]
    states: bool,
    /// Send each message as a binary WebSocket frame, even if it is text (a
    /// bridge such as websockify takes only binary)
    #[arg(long)]
    binary: bool,
    /// Do not wait for echoes: send the messages, then print what the server
    /// sends until it closes or SECS pass (nothing is answered but WebSocket pings)
    #[arg(long, value_name = "SECS")]
    listen: Option<f64>,
    #[command(flatten)]
    trust: crate::trust::TrustArgs,
}

// ANCHOR: states
/// One `--states` line: the step just done, when it finished (ms on the Tap's
/// clock, which starts just before connect(), as the capture's SYN does), and the
/// kernel's state of each end. Both ends
/// live on this machine, so the kernel knows both: ours is (local, peer), the
/// server's accepted socket is (peer, local).
fn print_states(step: &str, at: Duration, client: TcpState, server: TcpState) {
    outln!(
        "  [kernel] {step:<28} {:>9.3} ms   client {:<11}  server {}",
        at.as_secs_f64() * 1e3,
        client.name(),
        server.name()
    );
}

/// The states right now, for a TCP tuple; UDP has no connection in the kernel.
fn states_now(tuple: FourTuple) -> (TcpState, TcpState) {
    (
        tcp_state(tuple.local, tuple.peer),
        tcp_state(tuple.peer, tuple.local),
    )
}
// ANCHOR_END: states

/// One message and its echo, for `--json`. What came back is given as hex
/// (every byte, exactly) and as text only where it is valid UTF-8: a TCP read
/// may end in the middle of a character, and a WebSocket frame is not text.
#[derive(serde::Serialize)]
struct Exchange {
    sent: String,
    /// Each unit received, as text, or null where it is not valid UTF-8.
    received: Vec<Option<String>>,
    /// Each unit received, as lowercase hex.
    received_hex: Vec<String>,
}

/// Everything `send --json` prints: the exchanges, every record, the
/// WebSocket handshake and frames as the wire view reads them (ws, wss), the
/// TLS records (tls, wss), and how the connection ended.
#[derive(serde::Serialize)]
struct SendJson<'a> {
    url: &'a str,
    scheme: Scheme,
    tuple: String,
    exchanges: Vec<Exchange>,
    records: Vec<RecordJson>,
    /// ws/wss: the handshake and the frames both ways (client::wire's views).
    #[serde(skip_serializing_if = "Option::is_none")]
    ws: Option<WsConversation>,
    tls: Option<TlsInfo>,
    tls_records: Vec<TlsRecord>,
    close_code: Option<u16>,
    first_fin: Option<Side>,
    time_wait: Option<Side>,
}

/// One `read()`/`write()` the Tap recorded, for `--json`.
#[derive(serde::Serialize)]
struct RecordJson {
    dir: &'static str,
    at_us: f64,
    len: usize,
    /// The bytes as lowercase hex, two digits each, no spaces.
    hex: String,
    /// The bytes as text, only if they are valid UTF-8 (else absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
}

impl RecordJson {
    fn new(r: &Record) -> RecordJson {
        RecordJson {
            dir: match r.dir {
                Direction::Sent => "sent",
                Direction::Received => "received",
            },
            at_us: (r.at.as_secs_f64() * 1e7).round() / 10.0,
            len: r.bytes.len(),
            hex: hex(&r.bytes),
            text: utf8(&r.bytes),
        }
    }
}

/// Bytes as lowercase hex, no separators: `8185`.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The bytes as text if they are valid UTF-8; never a lossy replacement.
fn utf8(bytes: &[u8]) -> Option<String> {
    std::str::from_utf8(bytes).ok().map(str::to_string)
}

/// The wire view of a connect that failed: the handshake view where the
/// server answered with an HTTP response, else every read and write as bytes
/// (an echo server's answer is our own request, not a response to decode).
fn render_failed(framing: Framing, records: &[Record], style: Style) -> String {
    let http_answer = ws_conversation(records).handshake.is_some();
    let mut text = match framing {
        Framing::Messages if !http_answer => render_stream(records, style),
        _ => render(framing, records, style),
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// The wire view for this framing.
fn render(framing: Framing, records: &[Record], style: Style) -> String {
    match framing {
        Framing::Bytes => render_stream(records, style),
        Framing::Datagrams => render_datagrams(records, style),
        Framing::Messages => render_ws(records, style),
    }
}

/// One message: a text frame for UTF-8 over ws unless `binary` says otherwise.
fn send_one(t: &mut Transport, message: &[u8], binary: bool) -> Result<(), client::Error> {
    if binary {
        t.send_binary(message)
    } else {
        t.send(message)
    }
}

impl Send {
    /// Connects, sends, prints the echoes, closes.
    pub fn run(self) -> anyhow::Result<()> {
        let style = Style::detect(self.no_color);
        let messages = if self.messages.is_empty() && self.listen.is_none() {
            vec!["hello".to_string()]
        } else {
            self.messages.clone()
        };
        let mut target = Target::parse(&self.url)?;
        if target.scheme.secure() {
            target.trust = self.trust.trust();
        }
        let scheme = target.scheme;
        refuse_empty_tcp(scheme, &messages)?;
        if let Some(secs) = self
            .listen
            .filter(|s| !(s.is_finite() && (0.0..=3600.0).contains(s)))
        {
            anyhow::bail!("--listen takes seconds between 0 and 3600, not {secs}");
        }
        // Our handle on the Tap's records: kept even if connect fails, so
        // --wire can show what was exchanged before it did.
        let log = TapLog::new();
        let mut t = match Transport::connect_recorded(&target, log.clone()) {
            Ok(t) => t,
            Err(e) => {
                if self.wire && !self.json && !log.records().is_empty() {
                    outln!("the bytes exchanged before connect failed:\n");
                    out!("{}", render_failed(scheme.framing(), &log.records(), style));
                }
                return Err(connect_error(e, &target));
            }
        };
        t.set_read_timeout(Some(Duration::from_secs(self.timeout)))?;
        if !self.json {
            outln!(
                "connected: {} in {:.0} µs",
                t.tuple(),
                t.connect_time().as_secs_f64() * 1e6
            );
        }
        // UDP sockets have no TCP state: --states only speaks for tcp and ws.
        let connected = scheme.framing().connected();
        let states = self.states && !self.json && connected;
        if self.states && !self.json && !connected {
            outln!(
                "  [kernel] udp: no connection, so no state to show (the kernel keeps no TCP state for it)"
            );
        }
        if states {
            let at = t.log().elapsed();
            let (c, s) = states_now(t.tuple());
            let step = match scheme.framing() {
                Framing::Messages => "connect() + Upgrade + 101",
                _ => "connect()",
            };
            print_states(step, at, c, s);
        }
        let mut exchanges = Vec::new();
        if let Some(secs) = self.listen {
            for message in &messages {
                send_one(&mut t, message.as_bytes(), self.binary)?;
                if !self.json {
                    outln!("→ {} ({} bytes)", quoted(message.as_bytes()), message.len());
                }
            }
            listen(&mut t, secs, self.json)?;
        }
        for message in messages.iter().filter(|_| self.listen.is_none()) {
            send_one(&mut t, message.as_bytes(), self.binary)?;
            let echo = t
                .receive_bytes(message.len())
                .map_err(|e| echo_error(e, message, scheme, self.timeout))?;
            if !self.json {
                outln!(
                    "→ {} ({})",
                    quoted(message.as_bytes()),
                    plural(message.len(), "byte")
                );
                for unit in &echo {
                    outln!(
                        "← {} ({}, one {})",
                        quoted(unit),
                        plural(unit.len(), "byte"),
                        scheme.unit()
                    );
                }
            }
            if states {
                let at = t.log().elapsed();
                let (c, s) = states_now(t.tuple());
                print_states(&format!("echo of {}", quoted(message.as_bytes())), at, c, s);
            }
            exchanges.push(Exchange {
                sent: message.clone(),
                received: echo.iter().map(|u| utf8(u)).collect(),
                received_hex: echo.iter().map(|u| hex(u)).collect(),
            });
        }
        let log = t.log();
        let wire = t.wire_log();
        let tls = t.tls().cloned();
        let tuple = t.tuple();
        let report = t.close()?;
        let closed_at = log.elapsed();
        let records = log.records();
        if states {
            let step = match scheme.framing() {
                Framing::Messages => "close frames, FINs, close()",
                _ => "shutdown(), FINs, close()",
            };
            let unknown = TcpState::Unknown;
            print_states(
                step,
                closed_at,
                report.client_state.unwrap_or(unknown),
                report.server_state.unwrap_or(unknown),
            );
        }

        if self.json {
            let wire_records = wire.records();
            let json = SendJson {
                url: &self.url,
                scheme,
                tuple: tuple.to_string(),
                exchanges,
                records: records.iter().map(RecordJson::new).collect(),
                ws: (scheme.framing() == Framing::Messages).then(|| ws_conversation(&records)),
                tls_records: if tls.is_some() {
                    client::records::tls_records(&wire_records)
                } else {
                    Vec::new()
                },
                tls,
                close_code: report.close_code,
                first_fin: report.first_fin(),
                time_wait: report.time_wait(),
            };
            outln!("{}", serde_json::to_string_pretty(&json)?);
            return Ok(());
        }
        if self.wire {
            outln!();
            if let Some(tls) = &tls {
                outln!(
                    "TLS: {}, {}, key exchange {}, ALPN {} — the lines below are the plaintext inside the records",
                    tls.version,
                    tls.cipher_suite,
                    tls.key_exchange,
                    tls.alpn.as_deref().unwrap_or("none")
                );
                outln!();
            }
            out!("{}", render(scheme.framing(), &records, style));
            if tls.is_some() {
                outln!();
                out!("{}", client::records::render_tls(&wire.records(), style));
            }
        }
        match (report.first_fin(), report.time_wait()) {
            (None, _) => outln!("closed (UDP: nothing sent on close)"),
            (Some(first), tw) => outln!(
                "closed: {}first FIN from the {first}; in TIME_WAIT: {}",
                report
                    .close_code
                    .map_or(String::new(), |c| format!("close code {c}, ")),
                tw.map_or("neither side".to_string(), |s| format!("the {s}"))
            ),
        }
        Ok(())
    }
}

// ANCHOR: listen
/// `--listen`: prints every unit the server sends, with its time on the Tap's
/// clock, until the server closes (its close frame, then its FIN) or `secs` pass.
/// Nothing is answered above the transport: tungstenite still answers a
/// WebSocket ping with a pong and a close frame with a close frame, as RFC 6455
/// asks of every endpoint, but a protocol riding on top gets no reply from us.
fn listen(t: &mut Transport, secs: f64, quiet: bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    if !quiet {
        outln!("listening for up to {secs} s (answering nothing but WebSocket pings)");
    }
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        t.set_read_timeout(Some(left))?;
        let incoming = match t.receive() {
            Ok(incoming) => incoming,
            // The time is up and the server is still there: an expected end.
            Err(e) if e.is_timeout() => break,
            Err(e) => return Err(e.into()),
        };
        let at = t.log().elapsed().as_secs_f64() * 1e3;
        let what = match &incoming {
            Incoming::Data(unit) => format!(
                "{} ({} bytes, one {})",
                quoted(unit),
                unit.len(),
                t.target().scheme.unit()
            ),
            Incoming::Ping(_) => "WebSocket ping (tungstenite answers it with a pong)".into(),
            Incoming::Pong(_) => "WebSocket pong".into(),
            Incoming::Close(code) => format!(
                "close frame from the server ({})",
                code.map_or("no status code".to_string(), |c| c.to_string())
            ),
            Incoming::End => "end of stream: the server sent FIN".into(),
        };
        if !quiet {
            outln!("← {what} at {at:.1} ms");
        }
        if incoming == Incoming::End {
            break;
        }
    }
    Ok(())
}
// ANCHOR_END: listen

/// An empty message on TCP is refused before connecting: `write()` of 0 bytes
/// puts nothing on a byte stream, so there would be no echo to wait for.
/// (A 0-byte UDP datagram or WebSocket message does exist, and is sent.)
fn refuse_empty_tcp(scheme: Scheme, messages: &[String]) -> anyhow::Result<()> {
    if scheme.framing() == Framing::Bytes && messages.iter().any(String::is_empty) {
        anyhow::bail!(
            "an empty message cannot be sent over TCP: a 0-byte write() sends nothing on a byte stream, so nothing would come back"
        );
    }
    Ok(())
}

/// Turns a failed wait for an echo into what happened on the network.
fn echo_error(e: client::Error, message: &str, scheme: Scheme, timeout: u64) -> anyhow::Error {
    if e.is_timeout() {
        return anyhow::anyhow!(
            "no echo of {message:?} within {timeout} s (set the wait with --timeout SECS)"
        );
    }
    let refused =
        matches!(&e, client::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused);
    if refused && scheme.framing() == Framing::Datagrams {
        return anyhow::anyhow!(
            "nothing listens there: the kernel answered our datagram with ICMP port unreachable, \
             and recv() reports it as {e}. (UDP connect() sends no packet, so \"connected\" \
             only meant the address was set.)"
        );
    }
    anyhow::Error::new(e).context(format!("waiting for the echo of {message:?}"))
}

/// Turns a failed connect into what to do next. Connection refused means no
/// process listens there: name the `socklab serve` that would. The client's own
/// errors (a bad URL, a refused Upgrade, an echo server) already say it all.
pub(crate) fn connect_error(e: client::Error, target: &Target) -> anyhow::Error {
    match &e {
        client::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            let addr = target.addr.to_string();
            anyhow::anyhow!(
                "connect {}: nothing listens on {addr} (connection refused). To start a server there: {}",
                target.url,
                target.scheme.serve_command(&addr)
            )
        }
        client::Error::Io(_) => anyhow::Error::new(e).context(format!("connect {}", target.url)),
        _ => anyhow::Error::new(e),
    }
}
