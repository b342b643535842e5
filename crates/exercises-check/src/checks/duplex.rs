//! Exercise 14: a full-duplex chat client. The check is both the peer at the
//! other end of the student's TCP connection and the person typing at the
//! student's keyboard (the program's stdin), so it decides exactly when each
//! direction has something to carry, and sees whether one waits for the other.
//!
//! The steps, each one only passable if the two directions are independent:
//! the peer speaks while nothing is typed; a line is typed while the peer is
//! silent; both at once; the peer sends three lines for one typed; stdin ends
//! (the client's FIN) and the peer still speaks after it; the peer closes.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use super::streams::accept_within;
use super::{EPHEMERAL, REPLY};
use crate::report::Report;
use crate::student::Program;

/// The peer's side: the accepted stream and the bytes read past the last line.
struct Peer {
    stream: TcpStream,
    pending: Vec<u8>,
}

/// What the peer read: a line, the client's FIN, or nothing in time.
#[derive(Debug, PartialEq, Eq)]
enum Heard {
    Line(String),
    Fin,
    Nothing,
}

impl Peer {
    fn say(&mut self, line: &str) -> std::io::Result<()> {
        self.stream.write_all(format!("{line}\n").as_bytes())
    }

    /// The next line from the client, its FIN, or nothing within `wait`.
    fn hear(&mut self, wait: Duration) -> Heard {
        let deadline = Instant::now() + wait;
        let mut buf = [0u8; 1024];
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                return Heard::Line(String::from_utf8_lossy(&line).trim_end().to_string());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.stream.set_read_timeout(Some(left)).is_err() {
                return Heard::Nothing;
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return Heard::Fin,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Heard::Nothing;
                }
                Err(_) => return Heard::Fin, // a reset ends the direction too
            }
        }
    }
}

/// Exercise 14: both directions of one TCP connection, at the same time.
pub fn duplex(exe: &Path) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let listener = TcpListener::bind(EPHEMERAL)?;
    let addr = listener.local_addr()?;
    report.note_ko(
        format!("the check is the peer on {addr}, and types into your client's stdin"),
        format!("채점 프로그램이 {addr}의 상대이고, 클라이언트의 stdin에 입력도 합니다"),
    );
    let mut client = Program::start_typing(exe, &[addr.to_string()])?;
    let Some(stream) = accept_within(&listener, Duration::from_secs(5)) else {
        report.wrong_ko(
            format!("your client did not connect to {addr} within 5 s"),
            format!("클라이언트가 5초 안에 {addr}에 연결하지 않았습니다"),
        );
        return Ok(report);
    };
    let mut peer = Peer {
        stream,
        pending: Vec::new(),
    };
    let steps = run_steps(&mut client, &mut peer, &mut report)?;
    if steps {
        // The peer's FIN: the client has nothing left to read, and should end.
        drop(peer);
        if client.finish(REPLY).status.is_some() {
            report.ok_ko(
                "after the peer closed too, your client ended",
                "상대도 닫은 뒤 클라이언트가 끝났습니다",
            );
        } else {
            report.wrong_ko(
                format!(
                    "both directions had ended (your FIN, then the peer's), but your client was still running {REPLY:?} later"
                ),
                format!(
                    "양방향이 모두 끝났는데(클라이언트의 FIN, 그다음 상대의 FIN) {REPLY:?} 뒤에도 클라이언트가 실행 중이었습니다"
                ),
            );
        }
    }
    Ok(report)
}

/// The steps before the peer's close; false once one failed (already reported).
fn run_steps(client: &mut Program, peer: &mut Peer, report: &mut Report) -> anyhow::Result<bool> {
    // 1. The peer speaks first, while nobody types.
    peer.say("peer: hello, anyone there?")?;
    if !client.line_eq("recv: peer: hello, anyone there?", REPLY) {
        report.wrong_ko(
            format!(
                "the peer sent a line while nothing was typed, and your client did not print it within {REPLY:?}: \
                 it reads the socket only after a line from stdin, so what the peer says waits for you to speak. \
                 A TCP socket's two directions are independent (lesson 23; docs/lifecycle.md)"
            ),
            format!(
                "아무것도 입력하지 않은 동안 상대가 한 줄을 보냈는데, 클라이언트가 {REPLY:?} 안에 출력하지 않았습니다. \
                 stdin에서 한 줄을 읽은 뒤에야 소켓을 읽으니, 상대의 말이 여러분이 말할 때까지 기다립니다. \
                 TCP 소켓의 두 방향은 서로 독립적입니다(레슨 23, docs/lifecycle.md)"
            ),
        );
        return Ok(false);
    }
    report.ok_ko(
        "the peer's line was printed while nothing was typed",
        "아무것도 입력하지 않은 동안 상대의 줄이 출력됐습니다",
    );
    // 2. A line is typed while the peer stays silent.
    client.type_line("me: hi!");
    if peer.hear(REPLY) != Heard::Line("me: hi!".into()) {
        report.wrong_ko(
            format!(
                "a line was typed while the peer stayed silent, and it did not reach the peer within {REPLY:?}: \
                 your client sends only after the socket gives it something, so what you type waits for the peer \
                 (lesson 23)"
            ),
            format!(
                "상대가 조용한 동안 한 줄을 입력했는데, {REPLY:?} 안에 상대에게 닿지 않았습니다. 소켓에서 무언가를 \
                 받은 뒤에야 보내니, 입력한 말이 상대를 기다립니다(레슨 23)"
            ),
        );
        return Ok(false);
    }
    report.ok_ko(
        "a typed line reached the peer while the peer was silent",
        "상대가 조용한 동안 입력한 줄이 상대에게 닿았습니다",
    );
    // 3. Both at once, and the peer three times for one typed line.
    client.type_line("me: both at once");
    for line in ["peer: one", "peer: two", "peer: three"] {
        peer.say(line)?;
    }
    let heard = peer.hear(REPLY);
    let printed = ["recv: peer: one", "recv: peer: two", "recv: peer: three"]
        .iter()
        .all(|want| client.line_eq(want, REPLY));
    if heard != Heard::Line("me: both at once".into()) || !printed {
        report.wrong_ko(
            "when both sides sent at once (one typed line, three lines from the peer), not everything arrived: \
             each direction must carry what it has without waiting for a turn of the other (lesson 12, lesson 23)",
            "양쪽이 동시에 보냈을 때(입력한 한 줄, 상대의 세 줄) 모두 도착하지는 않았습니다. 각 방향은 상대 방향의 \
             차례를 기다리지 않고 가진 것을 실어 날라야 합니다(레슨 12, 레슨 23)",
        );
        return Ok(false);
    }
    report.ok_ko(
        "both sides sent at once: your line reached the peer, and the peer's three lines were printed",
        "양쪽이 동시에 보냈습니다. 입력한 줄은 상대에게 닿았고, 상대의 세 줄은 출력됐습니다",
    );
    // 4. Stdin ends: the client says so with FIN, and still listens.
    client.end_input();
    match peer.hear(REPLY) {
        Heard::Fin => {}
        other => {
            report.wrong_ko(
                format!(
                    "stdin ended (Ctrl-D), but within {REPLY:?} the peer saw {other:?}, not your FIN: \
                     when there is nothing more to send, say so with shutdown(Write) (lesson 11; docs/lifecycle.md)"
                ),
                format!(
                    "stdin이 끝났는데(Ctrl-D) {REPLY:?} 안에 상대가 본 것은 FIN이 아니라 {other:?}였습니다. \
                     더 보낼 것이 없으면 shutdown(Write)로 알리세요(레슨 11, docs/lifecycle.md)"
                ),
            );
            return Ok(false);
        }
    }
    let late = peer.say("peer: one last thing after your FIN").is_ok();
    if !late || !client.line_eq("recv: peer: one last thing after your FIN", REPLY) {
        report.wrong_ko(
            "after your FIN the peer still sent a line, and your client did not print it: FIN ends only your \
             direction; close only your writing side (shutdown(Write)) and keep reading until the peer's FIN \
             (docs/lifecycle.md, shutdown is not close)",
            "FIN 뒤에도 상대가 한 줄을 보냈는데 클라이언트가 출력하지 않았습니다. FIN은 여러분 쪽 방향만 끝냅니다. \
             쓰기 쪽만 닫고(shutdown(Write)) 상대의 FIN까지 계속 읽으세요(docs/lifecycle.md, shutdown은 close가 아니다)",
        );
        return Ok(false);
    }
    report.ok_ko(
        "your FIN came when stdin ended, and the peer's line after it was still printed",
        "stdin이 끝나자 FIN이 왔고, 그 뒤에 온 상대의 줄도 출력됐습니다",
    );
    Ok(true)
}
