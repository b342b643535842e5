//! `socklab send --states`: the kernel's TCP state of both ends after each step,
//! as a user sees it (lessons 1 and 11: the lifecycle, and who ends in TIME_WAIT).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use socklab::servers::LocalServers;

/// Longest one send may run before the test fails (it takes milliseconds).
const DEADLINE: Duration = Duration::from_secs(60);

/// Runs `socklab send URL one --states` and returns its stdout.
fn send_states(url: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_socklab"))
        .args(["send", url, "one", "--states"])
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("socklab starts");
    let started = Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("socklab send {url} still running after {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("output");
    assert!(out.status.success(), "socklab send {url} failed");
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The `[kernel]` line whose step starts with `step`, squeezed to single spaces.
fn state_line(text: &str, step: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("[kernel] {step}")))
        .unwrap_or_else(|| panic!("no [kernel] {step} line in:\n{text}"));
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// TCP: both ends ESTABLISHED after connect() and after the echo; the client
/// sent the first FIN, so the kernel keeps the client's socket in TIME_WAIT and
/// has forgotten the server's (lessons 1 and 11).
#[test]
fn tcp_states_from_connect_to_time_wait() {
    let servers = LocalServers::start().expect("servers");
    let text = send_states(&servers.tcp_url());
    assert!(
        state_line(&text, "connect()").ends_with("client ESTABLISHED server ESTABLISHED"),
        "{text}"
    );
    assert!(
        state_line(&text, "echo of \"one\"").ends_with("client ESTABLISHED server ESTABLISHED"),
        "{text}"
    );
    assert!(
        state_line(&text, "shutdown()").ends_with("client TIME_WAIT server CLOSED"),
        "{text}"
    );
}

/// WebSocket: the same TCP states through the Upgrade and the frames (one
/// connection all along, lesson 7); after the close handshake the server closed
/// TCP first, so the server's socket is the one in TIME_WAIT (lesson 11).
#[test]
fn ws_states_from_upgrade_to_time_wait() {
    let servers = LocalServers::start().expect("servers");
    let text = send_states(&servers.ws_url());
    assert!(
        state_line(&text, "connect() + Upgrade").ends_with("client ESTABLISHED server ESTABLISHED"),
        "{text}"
    );
    assert!(
        state_line(&text, "close frames").ends_with("client CLOSED server TIME_WAIT"),
        "{text}"
    );
}

/// UDP: no connection, so --states says there is no state instead of inventing one.
#[test]
fn udp_has_no_tcp_state() {
    let servers = LocalServers::start().expect("servers");
    let text = send_states(&servers.udp_url());
    assert!(text.contains("[kernel] udp: no connection"), "{text}");
}
