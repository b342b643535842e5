//! The blog kit (docs/blog.md): `--stable --seed N` output is the same text on
//! every run, so a pasted walkthrough diffs clean against a fresh one.
//!
//! Each command runs twice as a user runs it (the built binary, stdin closed, a
//! deadline instead of a wait) and the two stdouts must be byte-identical.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest one run may take before the test fails (a tour takes well under a
/// second on loopback; this only keeps a hang from blocking CI).
const DEADLINE: Duration = Duration::from_secs(120);

/// How often the test looks whether the child is done.
const POLL: Duration = Duration::from_millis(10);

/// socklab's stdout for `args`, asserting that it succeeded in time.
fn stdout_of(args: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_socklab"))
        .args(args)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("socklab starts");
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
        std::thread::sleep(POLL);
    };
    assert!(status.success(), "socklab {args:?} failed");
    String::from_utf8(reader.join().expect("reader thread")).expect("UTF-8 output")
}

/// Runs `args` twice; the two outputs must match byte for byte.
fn twice(args: &[&str]) -> String {
    let first = stdout_of(args);
    let second = stdout_of(args);
    assert_eq!(first, second, "two runs of socklab {args:?} differ");
    first
}

/// Two `tour --stable --seed 1` runs print the same text: ports, times and
/// verdicts are placeholders, and the seeded key and masks are the same bytes.
#[test]
fn the_tour_is_stable() {
    let text = twice(&["tour", "--stable", "--seed", "1"]);
    assert!(text.contains("127.0.0.1:<port>"), "{text}");
    assert!(text.contains("<verdict>"), "{text}");
    // Seed 1's key (client::seeded), and the Accept the server derived from it.
    assert!(
        text.contains("Sec-WebSocket-Key: kQot7IkCXMG+642hZY7sZw=="),
        "{text}"
    );
    assert!(
        text.contains("Sec-WebSocket-Accept: iaJ41DPjhsQ5WyA1w3/s7pqlXnU="),
        "{text}"
    );
    // What does not vary is printed as measured.
    assert!(
        text.contains("\"hello\" = 11 bytes out, 7 bytes back"),
        "{text}"
    );
}

/// Two `compare --stable --seed 1` runs print the same table, tls:// and
/// wss:// included: their certificate is made from the seed (Ed25519: the
/// same bytes, and signatures of one length), TLS's close_notify leaves with
/// our FIN, and what came back over TLS for back-to-back sends (one record
/// per batch the server read) is a placeholder.
#[test]
fn compare_is_stable() {
    let text = twice(&["compare", "--stable", "--seed", "1"]);
    assert!(text.contains("seeded random order (seed 0x1)"), "{text}");
    assert!(
        text.contains("ws − tcp   <time>  [<time>, <time>]  <verdict>"),
        "{text}"
    );
    let row = |label: &str| -> Vec<String> {
        let line = text
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label:?} row in {text}"));
        line[label.len()..]
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect()
    };
    // tcp, udp, ws, tls, wss: what was sent over TLS is measured; what came
    // back for the back-to-back sends is the placeholder.
    let wire = row("wire bytes sent/recv");
    assert_eq!(wire.len(), 5, "{text}");
    assert_eq!(wire[0], "15 / 15", "{text}");
    assert_eq!(wire[3], "81 / <bytes>", "{text}");
    assert_eq!(wire[4], "99 / <bytes>", "{text}");
    // The TLS handshakes' byte counts are numbers, not placeholders.
    let handshake = row("handshake bytes sent/recv");
    assert!(
        handshake[3..].iter().all(|c| c
            .split(" / ")
            .all(|n| n.parse::<u32>().is_ok_and(|n| n > 0))),
        "{text}"
    );
    // The close: the client closes tls (close_notify with its FIN), the
    // server closes wss (RFC 6455), and the one that closed holds TIME_WAIT.
    assert_eq!(
        row("left in TIME_WAIT"),
        ["client", "-", "server", "client", "server"],
        "{text}"
    );
}

/// Every byte a seeded ws connection writes — the Upgrade with its key, the
/// masked frames, the masked close — is the same on two connections with the
/// same seed stream (compare opens each of its connections this way), and
/// another stream writes other keys.
#[test]
fn a_seeded_connection_writes_the_same_bytes() {
    use client::seeded::Seeded;
    use client::{Target, Transport};
    use lifecycle::Direction;
    let servers = socklab::servers::LocalServers::start().expect("servers start");
    let target = Target::parse(&servers.ws_url()).expect("the ws URL parses");
    let sent = |seeded: Seeded| -> Vec<u8> {
        let mut t = Transport::connect_seeded(&target, seeded).expect("connect");
        t.set_read_timeout(Some(DEADLINE)).expect("timeout set");
        let log = t.log();
        t.send(b"hello").expect("send");
        t.send_binary(b"\x00\x01").expect("send binary");
        t.receive_bytes(7).expect("the echoes");
        t.close().expect("close");
        log.records()
            .into_iter()
            .filter(|r| r.dir == Direction::Sent)
            .flat_map(|r| r.bytes)
            .collect()
    };
    let first = sent(Seeded::stream(1, 7));
    assert_eq!(first, sent(Seeded::stream(1, 7)));
    assert_ne!(first, sent(Seeded::stream(1, 8)));
    // The close frame is ours, masked from the seed: 88 82, a key, then 1000.
    assert_eq!(first[first.len() - 8..first.len() - 6], [0x88, 0x82]);
}
