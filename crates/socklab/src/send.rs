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
//! `--seed N` (ws) fixes the `Sec-WebSocket-Key` and every mask key, so the
//! client's bytes are the same on every run — for output pasted into a blog
//! post; the ports, the times and the server's bytes stay real.

use std::time::{Duration, Instant};

use clap::Args;
use client::records::TlsRecord;
use client::seeded::Seeded;
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
    after_help = "Examples (start the servers first: socklab serve all):\n  socklab send tcp://127.0.0.1:7007 hello               # one write, one echo\n  socklab send udp://127.0.0.1:7007 one two three       # three datagrams\n  socklab send ws://127.0.0.1:8080/ hello --wire        # Upgrade, masked frame, close, decoded\n  socklab send ws://127.0.0.1:8080/ hi --json | jq .    # every record, as JSON\n  socklab send ws://127.0.0.1:8081/ hi --binary --wire  # through socklab bridge (or websockify) to tcp-echo\n  socklab send 'ws://127.0.0.1:PORT/socket.io/?EIO=4&transport=websocket' --listen 3 --wire\n                                                        # a server that speaks first (scripts/socketio.sh)\n  socklab send ws://127.0.0.1:8080/ hi --unmasked --wire  # a frame without a mask: the server closes (which code?)\n  socklab send ws://127.0.0.1:8080/ --raw-frame '81 02 68 69' --wire  # any bytes as one frame\n  socklab send ws://127.0.0.1:8080/ hi --origin http://example.com --wire\n                                                        # against serve ws --allow-origin …: 403 (lesson 16)\n  socklab send ws://127.0.0.1:8080/ hello --seed 1 --wire  # the same key and masks every run (ports and times stay real)\n  socklab send ws://127.0.0.1:8080/ hello --seed 1 --stable --wire  # … and ports and times as placeholders: the same text every run"
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
    /// ws only: send each message as a frame WITHOUT a mask (a client must
    /// mask; see how the server answers), then listen for --timeout SECS
    #[arg(long, conflicts_with = "raw_frame")]
    unmasked: bool,
    /// ws only: after the Upgrade, write these bytes (hex, spaces allowed) as
    /// they are instead of the messages, then listen for --timeout SECS
    #[arg(long, value_name = "HEX")]
    raw_frame: Option<String>,
    /// ws:// only: send this Origin in the Upgrade, as a browser on that page
    /// would (a server started with --allow-origin refuses others with 403)
    #[arg(long, value_name = "ORIGIN")]
    origin: Option<String>,
    /// ws only: take the Sec-WebSocket-Key and every frame's mask key from this
    /// seed instead of at random, so two runs send the same bytes (for output
    /// you paste into a post; ports and times stay real). Never do this outside
    /// a lesson: RFC 6455 wants both unpredictable.
    #[arg(long, value_name = "N", conflicts_with_all = ["unmasked", "raw_frame"])]
    seed: Option<u64>,
    /// Print ports and times as placeholders (<port>, <time>): with --seed, two
    /// runs against the same server give the same text (docs/blog.md)
    #[arg(long, conflicts_with = "json")]
    stable: bool,
    /// ws only: offer permessage-deflate as a browser does (`permessage-deflate;
    /// client_max_window_bits`); when the server agrees (serve ws --deflate), our
    /// messages go compressed (RSV1 set) and its messages are inflated
    #[arg(long, conflicts_with_all = ["unmasked", "raw_frame", "seed"])]
    deflate: bool,
}

// ANCHOR: states
/// One `--states` line: the step just done, when it finished (ms on the Tap's
/// clock, which starts just before connect(): not a packet capture's clock, so
/// scripts/capture.sh takes its timeline's states from the packets instead), and
/// the kernel's state of each end. Both ends
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
    /// `--seed`: the key and masks came from it (ports and times did not).
    seed: Option<u64>,
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
        Framing::Bytes | Framing::Requests => render_stream(records, style),
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

// ANCHOR: seeded_send
/// One message as a frame masked with the seed's next key, built with
/// tungstenite's `Frame` (client::wire::data_frame) and written through the Tap
/// past tungstenite, whose client role always picks a random key. The echo is
/// read back the usual way.
fn send_seeded(
    t: &mut Transport,
    seeded: &mut Seeded,
    message: &[u8],
    binary: bool,
) -> Result<(), client::Error> {
    let frame = client::wire::data_frame(message, !binary, Some(seeded.mask()));
    t.send_raw(&frame)
}
// ANCHOR_END: seeded_send

/// `81 02 68 69`, `81026869` or `81:02:68:69` → bytes.
fn parse_hex(text: &str) -> anyhow::Result<Vec<u8>> {
    let digits: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    if digits.is_empty() || digits.len() % 2 != 0 {
        anyhow::bail!("--raw-frame wants whole bytes in hex, e.g. '81 02 68 69', not {text:?}");
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&digits[i..i + 2], 16).map_err(|_| {
                anyhow::anyhow!("--raw-frame: {:?} is not a hex byte", &digits[i..i + 2])
            })
        })
        .collect()
}

impl Send {
    /// Connects, sends, prints the echoes, closes.
    pub fn run(self) -> anyhow::Result<()> {
        let style = Style::detect(self.no_color).with_stable(self.stable);
        crate::set_stable(self.stable);
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
        if scheme.framing() == Framing::Requests {
            return crate::send_http::run(
                &target,
                &self.messages,
                self.timeout,
                self.wire,
                self.json,
                style,
            );
        }
        refuse_empty_tcp(scheme, &messages)?;
        let raw = self.raw_frames(&messages)?;
        if raw.is_some() && scheme.framing() != Framing::Messages {
            anyhow::bail!(
                "--unmasked and --raw-frame are for ws:// URLs: tcp and udp have no frames, their bytes go out as they are"
            );
        }
        if let Some(secs) = self
            .listen
            .filter(|s| !(s.is_finite() && (0.0..=3600.0).contains(s)))
        {
            anyhow::bail!("--listen takes seconds between 0 and 3600, not {secs}");
        }
        // Our handle on the Tap's records: kept even if connect fails, so
        // --wire can show what was exchanged before it did.
        let log = TapLog::new();
        let mut headers: Vec<(&str, &str)> = match &self.origin {
            Some(_) if scheme.framing() != Framing::Messages => {
                anyhow::bail!("--origin is a header of the WebSocket Upgrade: it needs a ws:// URL")
            }
            Some(origin) => vec![("Origin", origin.as_str())],
            None => vec![],
        };
        // --seed: the key first, then one mask per frame, in the order sent.
        let mut seeded = match self.seed {
            Some(_) if scheme.framing() != Framing::Messages => anyhow::bail!(
                "--seed fixes the Sec-WebSocket-Key and the frames' mask keys: it needs a ws:// URL (tcp and udp send your bytes as they are, nothing random)"
            ),
            Some(seed) => Some(Seeded::new(seed)),
            None => None,
        };
        let key = seeded.as_mut().map(Seeded::key);
        if let Some(key) = &key {
            headers.push(("Sec-WebSocket-Key", key.as_str()));
        }
        if self.deflate {
            if scheme.framing() != Framing::Messages {
                anyhow::bail!(
                    "--deflate is permessage-deflate, a WebSocket extension: it needs a ws:// URL"
                );
            }
            headers.push((
                "Sec-WebSocket-Extensions",
                client::transport::deflate::OFFER,
            ));
        }
        let mut t = match Transport::connect_with_headers(&target, log.clone(), &headers) {
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
            if let (Some(seed), Some(key)) = (self.seed, &key) {
                let rest = if self.stable {
                    "ports and times print as placeholders (--stable)"
                } else {
                    "ports and times stay real"
                };
                outln!(
                    "seed {seed}: Sec-WebSocket-Key {key} and every mask key come from the seed, so our bytes repeat; {rest}"
                );
            }
            if self.deflate {
                match t.deflate() {
                    Some(agreed) => outln!(
                        "permessage-deflate agreed: {} (our messages go compressed, RSV1 set)",
                        agreed.response()
                    ),
                    None => outln!(
                        "permessage-deflate offered, not agreed (no Sec-WebSocket-Extensions in the 101): messages go uncompressed"
                    ),
                }
            }
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
        if let Some(frames) = &raw {
            for frame in frames {
                t.send_raw(frame)?;
                if !self.json {
                    outln!("→ raw frame: {}", client::wire::hex(frame));
                }
            }
            // The server answers a bad frame with a close frame, not an echo.
            listen(&mut t, self.timeout as f64, self.json)?;
        } else if let Some(secs) = self.listen {
            for message in &messages {
                match seeded.as_mut() {
                    Some(seeded) => send_seeded(&mut t, seeded, message.as_bytes(), self.binary)?,
                    None => send_one(&mut t, message.as_bytes(), self.binary)?,
                }
                if !self.json {
                    outln!("→ {} ({} bytes)", quoted(message.as_bytes()), message.len());
                }
            }
            listen(&mut t, secs, self.json)?;
        }
        for message in messages
            .iter()
            .filter(|_| self.listen.is_none() && raw.is_none())
        {
            match seeded.as_mut() {
                Some(seeded) => send_seeded(&mut t, seeded, message.as_bytes(), self.binary)?,
                None => send_one(&mut t, message.as_bytes(), self.binary)?,
            }
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
        let report = match seeded.as_mut() {
            // Our close frame, masked from the seed too, and the server's
            // answer read as bytes, so tungstenite adds no frame of its own.
            Some(seeded) => t.close_raw(&client::wire::close_frame(1000, Some(seeded.mask())))?,
            None => t.close()?,
        };
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
                seed: self.seed,
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
    // ANCHOR: raw_frames
    /// The frames `--unmasked` or `--raw-frame` write past tungstenite, or None
    /// for an ordinary send. Unmasked frames are built with tungstenite's own
    /// `Frame` (client::wire::data_frame) with the mask left out: the same codec,
    /// one bit different.
    fn raw_frames(&self, messages: &[String]) -> anyhow::Result<Option<Vec<Vec<u8>>>> {
        if let Some(text) = &self.raw_frame {
            return Ok(Some(vec![parse_hex(text)?]));
        }
        Ok(self.unmasked.then(|| {
            messages
                .iter()
                .map(|m| client::wire::data_frame(m.as_bytes(), !self.binary, None))
                .collect()
        }))
    }
    // ANCHOR_END: raw_frames
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
