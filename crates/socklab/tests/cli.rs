//! The socklab binary end to end: the tour, `handshake` and `send`, run as a user
//! runs them, with stdin closed so nothing can wait for a keyboard.

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use socklab::servers::LocalServers;

/// Longest any command here may run before the test fails (the tour takes well
/// under a second on loopback; this only keeps a hang from blocking CI).
const DEADLINE: Duration = Duration::from_secs(60);

/// Runs socklab with `args`, stdin from /dev/null, killing it past [`DEADLINE`].
fn socklab(args: &[&str]) -> Output {
    socklab_with_input(args, None)
}

/// Runs socklab with `args` and `input` (or /dev/null) on stdin.
fn socklab_with_input(args: &[&str], input: Option<&'static str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_socklab"))
        .args(args)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "warn")
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("socklab starts");
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        // Written on a thread and then dropped: the child sees the end of input.
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(text.as_bytes());
        });
    }
    // Read stdout on a thread so a full pipe cannot stall the child.
    let mut stdout = child.stdout.take().expect("stdout piped");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("socklab {args:?} still running after {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = Vec::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_end(&mut stderr);
    }
    Output {
        status,
        stdout: reader.join().expect("reader thread"),
        stderr,
    }
}

fn stdout_of(args: &[&str]) -> String {
    let out = socklab(args);
    assert!(
        out.status.success(),
        "socklab {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The main job: the tour runs every step to the end without a terminal (even
/// with --pause, which only pauses on a terminal) and exits 0, showing each
/// lesson's evidence.
#[test]
fn tour_runs_to_the_end_non_interactively() {
    let text = stdout_of(&["tour", "--pause"]);
    for expected in [
        "1. A TCP connection's life",
        "LISTEN",
        "FIN_WAIT2    CLOSE_WAIT",
        "HTTP/1.1 101 Switching Protocols",
        "matches the server's Sec-WebSocket-Accept",
        "MASK=1 payload length=5",
        "= plain     68 65 6c 6c 6f  \"hello\"",
        "tcp 3 sends → 1 read: \"hellohellohello\"",
        "udp 3 sends → 3 datagrams",
        "ws  3 sends → 3 messages",
        "code 1000",
        "7. Side by side",
        "8. What to try next",
        "socklab chat ws://127.0.0.1:8080/",
    ] {
        assert!(
            text.contains(expected),
            "tour output lacks {expected:?}:\n{text}"
        );
    }
    // The table's last row, read cell by cell: tcp, udp, ws.
    let time_wait: Vec<&str> = text
        .lines()
        .find(|l| l.trim_start().starts_with("left in TIME_WAIT"))
        .expect("a TIME_WAIT row")
        .split_whitespace()
        .skip(3)
        .collect();
    assert_eq!(time_wait, ["client", "-", "server"]);
    assert!(!text.contains('\x1b'), "NO_COLOR output has escape codes");
}

/// `tour --json` is one JSON document holding every step's measurements.
#[test]
fn tour_json_holds_every_step() {
    let json: serde_json::Value =
        serde_json::from_str(&stdout_of(&["tour", "--json"])).expect("valid JSON");
    assert_eq!(
        json["comparison"]["transports"].as_array().map(Vec::len),
        Some(3)
    );
    assert_eq!(json["handshake"]["accept_ok"], true);
    assert_eq!(
        json["frames"][0]["masking_key"].as_str().map(str::len),
        Some(11)
    );
    assert_eq!(json["frames"][1]["masking_key"], serde_json::Value::Null);
    assert_eq!(json["lifecycle"][0]["server"], "LISTEN");
}

/// Lesson 6: RFC 6455's example key gives RFC 6455's example Accept.
#[test]
fn handshake_prints_the_rfc_accept() {
    assert_eq!(
        stdout_of(&["handshake", "dGhlIHNhbXBsZSBub25jZQ=="]),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\n"
    );
}

/// Lesson 6: a key that is not base64 of 16 bytes is one ws-echo answers with
/// 400, so `handshake` warns on stderr and exits 1 (the formula's Accept is still shown).
#[test]
fn handshake_warns_about_a_key_servers_refuse() {
    let out = socklab(&["handshake", "not a key!"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout.iter().filter(|b| **b == b'\n').count(), 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not base64 of 16 bytes"), "{err}");
    assert!(err.contains("400"), "{err}");
}

/// `send` refuses an empty TCP message up front (a 0-byte write sends nothing),
/// and explains a timeout and a UDP "Connection refused" in network terms.
#[test]
fn send_explains_what_went_wrong() {
    let out = socklab(&["send", "tcp://127.0.0.1:9", ""]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("empty message cannot be sent over TCP"),
        "{err}"
    );

    // A listener that accepts (the kernel does it) but never echoes.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("tcp://{}", silent.local_addr().expect("addr"));
    let out = socklab(&["send", &url, "hi", "--timeout", "1"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no echo of \"hi\" within 1 s"), "{err}");
    assert!(err.contains("--timeout"), "{err}");

    // A UDP port nobody holds: bound, then closed again.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("udp bind")
        .port();
    let out = socklab(&[
        "send",
        &format!("udp://127.0.0.1:{port}"),
        "hi",
        "--timeout",
        "1",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ICMP port unreachable"), "{err}");
}

/// `send` over each transport echoes each message; over ws its JSON records the
/// Upgrade first and the close code last.
#[test]
fn send_echoes_over_each_transport() {
    let servers = LocalServers::start().expect("servers");
    for url in servers.urls() {
        let text = stdout_of(&["send", &url, "one", "two"]);
        assert!(text.contains("← \"one\""), "{url}: {text}");
        assert!(text.contains("← \"two\""), "{url}: {text}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&stdout_of(&["send", &servers.ws_url(), "hi", "--json"]))
            .expect("valid JSON");
    assert_eq!(json["exchanges"][0]["received"][0], "hi");
    assert!(
        json["records"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("GET / HTTP/1.1\r\n")
    );
    assert_eq!(json["close_code"], 1000);
    // The wire view's own analysis, serialized: handshake and frames both ways.
    assert_eq!(json["ws"]["handshake"]["accept_ok"], true);
    assert_eq!(json["ws"]["client"]["frames"][0]["payload"], "hi");
    assert_eq!(
        json["ws"]["server"]["frames"][0]["masking_key"],
        serde_json::Value::Null
    );
}

/// Lesson 12: chat sends each typed line and prints what arrives; at the end of
/// input it still prints the last echoes, then closes cleanly.
#[test]
fn chat_sends_lines_and_prints_arrivals() {
    let servers = LocalServers::start().expect("servers");
    for url in [servers.ws_url(), servers.tcp_url(), servers.udp_url()] {
        let out = socklab_with_input(&["chat", &url], Some("first line\nsecond\n"));
        assert!(out.status.success(), "chat {url} failed");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("→ \"first line\""), "{url}: {text}");
        assert!(text.contains("← \"second\""), "{url}: {text}");
    }
}

/// Issue 10 #10: with RUST_BACKTRACE=1 in the environment, a user error is still
/// one clean line: no backtrace of our own stack for a bad URL.
#[test]
fn user_errors_print_no_backtrace() {
    let out = Command::new(env!("CARGO_BIN_EXE_socklab"))
        .args(["send", "http://127.0.0.1:9/", "hi"])
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("socklab runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains("backtrace"), "{err}");
}

/// Issue 10 #7: an unknown scheme lists the known ones and suggests ws:// for
/// http://; a refused connection names the `socklab serve` that would listen.
#[test]
fn send_suggests_the_scheme_and_the_server() {
    let out = socklab(&["send", "https://127.0.0.1:8443/", "hi"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown scheme https://"), "{err}");
    assert!(err.contains("tcp://, udp://, ws://"), "{err}");
    assert!(err.contains("try wss://127.0.0.1:8443/"), "{err}");

    // A TCP port nobody listens on: bound, then closed again.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind");
    for (scheme, serve) in [("tcp", "socklab serve tcp"), ("ws", "socklab serve ws")] {
        let out = socklab(&["send", &format!("{scheme}://{addr}/"), "hi"]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("connection refused"), "{err}");
        assert!(err.contains(&format!("{serve} --addr {addr}")), "{err}");
    }
}

/// Issue 10 #7: a refused Upgrade shows the server's status line and reason,
/// and with --wire the response head as it came.
#[test]
fn send_shows_a_refused_upgrade() {
    use serve::{Engine, Model, Running};
    let config = ws_echo::Config {
        allow_origins: vec!["http://example.test".to_string()],
        ..ws_echo::Config::default()
    };
    let engine = Engine::new(1).expect("engine");
    let server = Running::tcp("127.0.0.1:0".parse().unwrap(), move |l, s| {
        ws_echo::serve(Model::EventLoop, l, s, config, engine)
    })
    .expect("ws server");
    let url = format!("ws://{}/", server.addr());
    // Another site's page (a client with no Origin is not a browser: allowed).
    let out = socklab(&["send", &url, "hi", "--wire", "--origin", "http://evil.test"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refused the WebSocket upgrade: HTTP/1.1 403 Forbidden: "),
        "{err}"
    );
    assert!(err.contains("Origin"), "the reason body: {err}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("HTTP/1.1 403 Forbidden\\r\\n"), "{text}");
    assert!(text.contains("Content-Length"), "{text}");
}

/// Issue 10 #6: ws:// against the TCP echo server gets our own request back;
/// say so and point at tcp://, and with --wire show the bytes anyway.
#[test]
fn send_recognizes_a_tcp_echo_server() {
    let servers = LocalServers::start().expect("servers");
    let addr = servers.tcp_addr();
    let out = socklab(&["send", &format!("ws://{addr}/"), "hi", "--wire"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "this looks like a TCP echo server (it sent our HTTP request back): try tcp://{addr}"
        )),
        "{err}"
    );
    assert!(!err.contains("httparse"), "{err}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("write()"), "{text}");
    assert!(text.contains("read()"), "{text}");
    assert!(text.contains("\"GET / HTTP/1.1\\r\\n"), "{text}");
}

/// Issue 10 #12: --json gives every record's bytes as hex, and text only where
/// they are valid UTF-8 (a frame header is not), never U+FFFD.
#[test]
fn send_json_gives_bytes_as_hex() {
    let servers = LocalServers::start().expect("servers");
    let json: serde_json::Value =
        serde_json::from_str(&stdout_of(&["send", &servers.ws_url(), "hi", "--json"]))
            .expect("valid JSON");
    let records = json["records"].as_array().expect("records");
    assert!(!json.to_string().contains('\u{fffd}'), "{json}");
    // Our first frame: 0x81 (FIN + text), 0x82 (masked, length 2), 4 key bytes, 2 payload.
    let frame = records
        .iter()
        .find(|r| r["dir"] == "sent" && r["len"] == 8)
        .expect("the 8-byte frame");
    assert!(
        frame["hex"].as_str().unwrap().starts_with("8182"),
        "{frame}"
    );
    assert!(frame.get("text").is_none(), "{frame}");
    assert_eq!(
        records[0]["text"].as_str().map(|t| t.starts_with("GET ")),
        Some(true)
    );
    assert_eq!(json["exchanges"][0]["received_hex"][0], "6869");
}

/// Issue 14, the blog kit: `send --seed N` twice gives byte-identical client
/// records on the Tap — the Upgrade with the same Sec-WebSocket-Key, each data
/// frame and the close frame with the same mask keys — and still gets its
/// echoes and the server's 1000; another seed gives another key. (Both runs
/// talk to one server, so even the Host header is the same; the client's
/// ports differ and are not compared.)
#[test]
fn send_seed_repeats_the_client_bytes() {
    let servers = LocalServers::start().expect("servers");
    let run = |seed: &str| -> (Vec<String>, serde_json::Value) {
        let json: serde_json::Value = serde_json::from_str(&stdout_of(&[
            "send",
            &servers.ws_url(),
            "hello",
            "hi",
            "--seed",
            seed,
            "--json",
        ]))
        .expect("valid JSON");
        let sent = json["records"]
            .as_array()
            .expect("records")
            .iter()
            .filter(|r| r["dir"] == "sent")
            .map(|r| r["hex"].as_str().expect("hex").to_string())
            .collect();
        (sent, json)
    };
    let (first, json) = run("7");
    let (second, _) = run("7");
    assert_eq!(first, second, "the same seed must send the same bytes");
    // The Upgrade, two data frames, the close frame: each masked (0x80 in byte 2).
    assert_eq!(first.len(), 4, "{first:?}");
    assert!(first[1].starts_with("8185") && first[2].starts_with("8182"));
    assert!(
        first[3].starts_with("8882"),
        "a masked close frame: {first:?}"
    );
    assert_eq!(json["exchanges"][1]["received_hex"][0], "6869");
    assert_eq!(json["close_code"], 1000);
    let upgrade = |hex: &str| {
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect();
        String::from_utf8(bytes).expect("the Upgrade is text")
    };
    let key = |hex: &str| {
        upgrade(hex)
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: ").map(str::to_string))
            .expect("a Sec-WebSocket-Key")
    };
    let mut ours = client::seeded::Seeded::new(7);
    assert_eq!(key(&first[0]), ours.key());
    let (other, _) = run("8");
    assert_ne!(key(&other[0]), key(&first[0]));
    assert_ne!(other[1], first[1], "another seed, another mask");
}

/// `--seed` is for ws:// only: tcp and udp send the bytes given, nothing random.
#[test]
fn seed_needs_a_websocket_url() {
    let out = socklab(&["send", "tcp://127.0.0.1:9", "hi", "--seed", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("--seed fixes the Sec-WebSocket-Key"), "{err}");
}

/// A `socklab serve …` running as a child process, its log read line by line
/// on a thread; killed when dropped.
struct ServeChild {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: std::cell::RefCell<Vec<String>>,
}

impl ServeChild {
    fn start(args: &[&str]) -> ServeChild {
        let mut child = Command::new(env!("CARGO_BIN_EXE_socklab"))
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("socklab serve starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        ServeChild {
            child,
            lines,
            seen: Default::default(),
        }
    }

    /// The whole log so far, once `count` of its lines contain `needle` (by
    /// [`DEADLINE`]).
    fn wait_for(&self, needle: &str, count: usize) -> Vec<String> {
        let end = Instant::now() + DEADLINE;
        let mut seen = self.seen.borrow_mut();
        while seen.iter().filter(|l| l.contains(needle)).count() < count {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => seen.push(line),
                Err(_) => panic!("no {count} × {needle:?} in the log: {seen:#?}"),
            }
        }
        seen.clone()
    }
}

impl Drop for ServeChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address a `bind(fd N, ASKED) -> GOT` log line reports.
fn bound(line: &str) -> std::net::SocketAddr {
    let got = line.rsplit("-> ").next().expect("-> ADDR");
    got.split(':')
        .take(2)
        .collect::<Vec<_>>()
        .join(":")
        .parse()
        .expect("an address")
}

/// Issue 10 #8: `serve tcp --addr localhost:0` resolves the name, says what it
/// resolved to and which address it binds, and echoes there.
#[test]
fn serve_takes_a_host_name() {
    let server = ServeChild::start(&["serve", "tcp", "--addr", "localhost:0"]);
    // After listen(2) the kernel completes connections, accepted or not yet.
    let log = server.wait_for("): LISTEN", 1);
    assert!(
        log.iter()
            .any(|l| l.contains("localhost resolves to ") && l.contains("; binding ")),
        "{log:#?}"
    );
    let addr = bound(
        log.iter()
            .find(|l| l.contains("bind(fd"))
            .expect("the bind line"),
    );
    assert!(addr.ip().is_loopback(), "{addr}");
    let text = stdout_of(&["send", &format!("tcp://localhost:{}", addr.port()), "hi"]);
    assert!(text.contains("← \"hi\""), "{text}");

    let out = socklab(&["serve", "tcp", "--addr", "7007"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("expected HOST:PORT"), "{err}");
}

/// Issue 10 #9: `serve all` moves off its default ports with --tcp-addr,
/// --udp-addr and --ws-addr, and serves on each.
#[test]
fn serve_all_takes_three_addresses() {
    let server = ServeChild::start(&[
        "serve",
        "all",
        "--tcp-addr",
        "127.0.0.1:0",
        "--udp-addr",
        "127.0.0.1:0",
        "--ws-addr",
        "localhost:0",
    ]);
    server.wait_for("bind(fd", 3);
    let log = server.wait_for("): LISTEN", 2);
    let binds: Vec<&String> = log.iter().filter(|l| l.contains("bind(fd")).collect();
    let ports: Vec<u16> = binds.iter().map(|l| bound(l).port()).collect();
    assert!(ports.iter().all(|p| *p != 7007 && *p != 8080), "{binds:#?}");
    assert!(
        log.iter().any(|l| l.contains("localhost resolves to")),
        "{log:#?}"
    );
    // The three threads log in any order, so: one of the ports is the ws server.
    let ws = ports.iter().find(|p| {
        socklab(&["send", &format!("ws://localhost:{p}/"), "hi"])
            .status
            .success()
    });
    assert!(ws.is_some(), "no ws server on any of {ports:?}");
}

/// Starts a server of `kind` ("tcp" or "ws") on 127.0.0.1:0 in this process,
/// with a connection cap of `cap` (the event loop, as `socklab serve` runs it).
fn capped_server(kind: &str, cap: usize) -> serve::Running {
    use serve::v3_event_loop::default_loops;
    use serve::{Engine, Limits, Model};
    let addr: std::net::SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let engine = Engine::new(default_loops()).expect("engine");
    let limits = Limits {
        max_connections: cap,
        ..Limits::default()
    };
    if kind == "ws" {
        let config = ws_echo::Config {
            limits,
            ..ws_echo::Config::default()
        };
        serve::Running::tcp(addr, move |listener, shutdown| {
            ws_echo::serve(Model::EventLoop, listener, shutdown, config, engine)
        })
    } else {
        serve::Running::tcp(addr, move |listener, shutdown| {
            tcp_echo::serve(Model::EventLoop, listener, shutdown, limits, engine)
        })
    }
    .expect("server starts")
}

/// Issue 10, item 3: a load run against a server that turns connections away
/// fails (exit 1) and names the cause — refusals at the cap, counted apart from
/// other errors, and the narration hint — for ws (503) and tcp (closed at once).
#[test]
fn bench_names_refusals_at_the_cap_and_fails() {
    for (kind, url_of) in [
        (
            "ws",
            (|a| format!("ws://{a}/")) as fn(std::net::SocketAddr) -> String,
        ),
        ("tcp", |a| format!("tcp://{a}")),
    ] {
        let server = capped_server(kind, 2);
        let url = url_of(server.addr());
        let out = socklab(&["bench", &url, "--conns", "4", "--secs", "0.2", "--json"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{kind}: {err}");
        assert!(
            err.contains("the server refused 2 connections (4 asked for"),
            "{kind}: {err}"
        );
        assert!(err.contains("--max-connections"), "{kind}: {err}");
        assert!(err.contains("RUST_LOG=warn"), "{kind}: {err}");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
        assert_eq!(json["refused"], 2, "{kind}: {json}");
        assert_eq!(json["errors"], 2, "{kind}: {json}");
    }
}

/// The same load within the cap: no error, exit 0, and `refused` is 0.
#[test]
fn bench_within_the_cap_succeeds() {
    let server = capped_server("ws", 8);
    let url = format!("ws://{}/", server.addr());
    let out = socklab(&["bench", &url, "--conns", "2", "--secs", "0.2", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!((&json["errors"], &json["refused"]), (&0.into(), &0.into()));
}

/// Issue 10 #7 (and issue 11): once a push server exists, `send http://` is a
/// real transport: a GET shows the response head against its body, POSTs
/// publish, and several requests share one TCP connection (keep-alive).
#[test]
fn send_http_polls_and_publishes_on_one_connection() {
    let server = serve::Running::tcp("127.0.0.1:0".parse().unwrap(), |listener, shutdown| {
        let config = push::Config {
            rate: 0.0,
            ..push::Config::default()
        };
        push::serve(
            listener,
            shutdown,
            config,
            serve::Engine::new(1)?,
            Default::default(),
        )
    })
    .expect("push server");
    let base = format!("http://{}", server.addr());
    let text = stdout_of(&["send", &format!("{base}/publish"), "one", "two"]);
    assert!(text.contains("→ POST /publish HTTP/1.1"), "{text}");
    assert!(text.contains("request 2 on this connection"), "{text}");
    assert!(text.contains("2 requests on one TCP connection"), "{text}");
    let text = stdout_of(&["send", &format!("{base}/poll?since=0")]);
    assert!(text.contains("← HTTP/1.1 200 OK (head "), "{text}");
    assert!(text.contains("\"data\":\"two\""), "{text}");
}

/// The pictures (issue 14): `socklab diagram DIR` measures a TCP walk and a
/// WebSocket exchange and writes them as SVG with what it measured in them; a
/// bench file without the fan-out table is charted without it, not refused.
#[test]
fn diagram_draws_what_it_measured() {
    let dir = std::env::temp_dir().join(format!("socklab-diagram-{}", std::process::id()));
    let bench = dir.join("bench.md");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        &bench,
        "<!-- ANCHOR: pingpong -->\n| server | 1 conn msgs/s |\n|---|---:|\n| tcp | 1,000 |\n<!-- ANCHOR_END: pingpong -->\n",
    )
    .unwrap();
    let out = socklab(&[
        "diagram",
        dir.to_str().unwrap(),
        "--bench",
        bench.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let tcp = read("tcp-lifecycle.svg");
    assert!(tcp.starts_with("<svg") && tcp.contains("SYN-ACK") && tcp.contains("FIN_WAIT2"));
    let ws = read("ws-exchange.svg");
    assert!(ws.contains("101 Switching Protocols") && ws.contains("CLOSE 1000"));
    assert!(ws.contains("masked"), "the client's frames carry a mask");
    assert!(read("tcp-states.svg").contains("class=\"seen\""));
    assert!(read("bench-pingpong-1.svg").contains("1,000"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("skipped bench-push-latency.svg"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Lesson 16: `--origin` is a header of the Upgrade, so it is refused, with that
/// reason, for a transport that has no Upgrade.
#[test]
fn origin_needs_a_websocket_url() {
    let out = socklab(&[
        "send",
        "tcp://127.0.0.1:9",
        "hi",
        "--origin",
        "http://example.com",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--origin is a header of the WebSocket Upgrade"),
        "{err}"
    );
}
