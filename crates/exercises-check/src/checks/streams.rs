//! Exercises whose answer is a client of a plain socket: 5 (UDP loss), 6
//! (message boundaries), 9 (half-close).

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serve::Running;

use super::{EPHEMERAL, REPLY, q};
use crate::relay::LossyRelay;
use crate::report::Report;
use crate::student::Program;

/// How many datagrams the UDP client sends in exercise 5.
const DATAGRAMS: u32 = 20;

/// A small deterministic generator (xorshift64): the same seed, the same
/// losses, so a run can be repeated with SOCKLAB_SEED.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u32) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % u64::from(n)) as u32
    }
}

/// Which datagrams to delay and drop for `seed`: two delayed, three dropped;
/// never the last two (a delayed one needs a later one to overtake it), and
/// never the one right after a delayed one (it releases the held one).
fn losses(seed: u64) -> (Vec<u32>, Vec<u32>) {
    let mut rng = Rng(seed | 1);
    let mut delay = Vec::new();
    while delay.len() < 2 {
        let n = 2 + rng.below(DATAGRAMS - 3);
        if !delay.iter().any(|&d: &u32| d.abs_diff(n) <= 1) {
            delay.push(n);
        }
    }
    let mut drop = Vec::new();
    while drop.len() < 3 {
        let n = 1 + rng.below(DATAGRAMS);
        if !drop.contains(&n) && !delay.iter().any(|&d| n == d || n == d + 1) {
            drop.push(n);
        }
    }
    delay.sort_unstable();
    drop.sort_unstable();
    (delay, drop)
}

/// The numbers after `label` in a line `label: 1 2 3` of `lines`, if there is one.
fn numbers(lines: &[String], label: &str) -> Option<Result<Vec<u32>, String>> {
    let line = lines.iter().find_map(|l| l.strip_prefix(label))?;
    Some(
        line.split_whitespace()
            .map(|n| {
                n.parse()
                    .map_err(|_| format!("{label} {line}: {n:?} is not a number"))
            })
            .collect(),
    )
}

fn list(numbers: &[u32]) -> String {
    let words: Vec<String> = numbers.iter().map(u32::to_string).collect();
    words.join(" ")
}

/// Exercise 5: report exactly the datagrams the relay dropped and delayed.
pub fn udp_loss(exe: &Path) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let seed = std::env::var("SOCKLAB_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(14, |d| d.as_secs() % 10_000)
        });
    let (delay, drop) = losses(seed);
    let echo = Running::udp(EPHEMERAL, udp_echo::event_loop::serve)?;
    let relay = LossyRelay::start(echo.addr(), drop.clone(), delay.clone())?;
    report.note_ko(
        format!(
            "seed {seed} (repeat it with SOCKLAB_SEED={seed}); a relay on {} in front of udp-echo on {}",
            relay.addr(),
            echo.addr()
        ),
        format!(
            "시드 {seed}(SOCKLAB_SEED={seed}로 똑같이 다시 돌릴 수 있습니다). udp-echo({}) 앞의 릴레이는 {}",
            echo.addr(),
            relay.addr()
        ),
    );
    let args = [relay.addr().to_string(), DATAGRAMS.to_string()];
    let mut client = Program::start(exe, &args)?;
    let ended = client.finish(Duration::from_secs(5));
    if ended.status.is_none() {
        report.wrong_ko(
            "your client was still running after 5 s: stop reading after half a second of silence",
            "5초가 지나도 클라이언트가 실행 중이었습니다. 0.5초 동안 아무것도 오지 않으면 읽기를 멈추세요",
        );
    }
    let log = relay.log();
    let expected: Vec<u32> = (1..=DATAGRAMS).collect();
    if log.received != expected {
        report.wrong_ko(
            format!(
                "the relay received seq {} (and {} datagrams that were not `seq N`); expected seq 1 to {DATAGRAMS} in order",
                list(&log.received),
                log.garbled
            ),
            format!(
                "릴레이가 받은 것은 seq {}입니다(`seq N`이 아닌 데이터그램 {}개). seq 1부터 {DATAGRAMS}까지 순서대로 와야 합니다",
                list(&log.received),
                log.garbled
            ),
        );
        return Ok(report);
    }
    report.ok_ko(
        format!("your client sent seq 1 to {DATAGRAMS}"),
        format!("클라이언트가 seq 1부터 {DATAGRAMS}까지 보냈습니다"),
    );
    for (label, truth, what) in [
        ("lost:", &log.dropped, "dropped"),
        (
            "reordered:",
            &log.delayed,
            "held back until the next one had passed",
        ),
    ] {
        let said = match numbers(&client.seen, label) {
            None => {
                report.wrong_ko(
                    format!("your output has no `{label}` line"),
                    format!("출력에 `{label}` 줄이 없습니다"),
                );
                continue;
            }
            Some(Err(why)) => {
                report.wrong(why);
                continue;
            }
            Some(Ok(said)) => said,
        };
        let mut sorted = said.clone();
        sorted.sort_unstable();
        if sorted == *truth {
            report.ok_ko(
                format!("{label} {} — the relay {what} exactly those", list(&said)),
                format!(
                    "{label} {} — 릴레이가 그렇게 한 것과 정확히 같습니다",
                    list(&said)
                ),
            );
        } else if said.is_empty() {
            let (noun, noun_ko) = if label == "lost:" {
                ("lost", "손실된")
            } else {
                ("reordered", "순서가 뒤바뀐")
            };
            report.reveal(format!("{label} {}", list(truth)));
            report.wrong_ko(
                format!(
                    "you reported no {noun} datagrams, but the relay {what} {} of them: \
                     compare the numbers that came back with the numbers you sent (docs/compare.md, UDP beside TCP)",
                    truth.len()
                ),
                format!(
                    "{noun_ko} 데이터그램이 없다고 했지만, 릴레이는 {}개를 그렇게 했습니다. \
                     돌아온 번호와 보낸 번호를 비교해 보세요(docs/compare.md, UDP와 TCP 비교)",
                    truth.len()
                ),
            );
        } else {
            let missed: Vec<u32> = truth
                .iter()
                .copied()
                .filter(|n| !said.contains(n))
                .collect();
            let extra: Vec<u32> = said
                .iter()
                .copied()
                .filter(|n| !truth.contains(n))
                .collect();
            report.reveal(format!("{label} {}", list(truth)));
            report.wrong_ko(
                format!(
                    "{label} you said {}, and the relay {what} {} datagrams{}{}",
                    list(&said),
                    truth.len(),
                    if missed.is_empty() {
                        String::new()
                    } else {
                        format!("; you missed {}", missed.len())
                    },
                    if extra.is_empty() {
                        String::new()
                    } else {
                        format!("; {} came back in order", list(&extra))
                    },
                ),
                format!(
                    "{label} {}라고 했는데, 릴레이가 그렇게 한 데이터그램은 {}개입니다{}{}",
                    list(&said),
                    truth.len(),
                    if missed.is_empty() {
                        String::new()
                    } else {
                        format!(". 놓친 것 {}개", missed.len())
                    },
                    if extra.is_empty() {
                        String::new()
                    } else {
                        format!(". 순서대로 돌아온 번호: {}", list(&extra))
                    },
                ),
            );
        }
    }
    Ok(report)
}

/// The lines exercise 6's server sends, cut where a reader would least like it.
const PIECES: [&[u8]; 4] = [b"on", b"e\ntw", b"o\nthr", b"ee\n"];

/// Exercise 6: three lines, written in four awkward pieces, read as three messages.
pub fn boundaries(exe: &Path) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let listener = TcpListener::bind(EPHEMERAL)?;
    let addr = listener.local_addr()?;
    let mut client = Program::start(exe, &[addr.to_string()])?;
    let Some(mut stream) = accept_within(&listener, Duration::from_secs(5)) else {
        report.wrong_ko(
            format!("your client did not connect to {addr} within 5 s"),
            format!("클라이언트가 5초 안에 {addr}에 연결하지 않았습니다"),
        );
        return Ok(report);
    };
    // No Nagle delay: each write() leaves as its own segment, and the pause
    // lets the client read each before the next arrives.
    stream.set_nodelay(true)?;
    for piece in PIECES {
        stream.write_all(piece)?;
        thread::sleep(Duration::from_millis(50));
    }
    drop(stream); // FIN: the end of the messages
    client.finish(Duration::from_secs(3));
    let messages: Vec<&str> = client
        .seen
        .iter()
        .filter_map(|l| l.strip_prefix("message: "))
        .collect();
    let expected = ["one", "two", "three"];
    if messages == expected {
        report.ok_ko(
            "three messages, one, two and three, from four reads of awkward sizes",
            "애매한 크기로 네 번 나뉘어 온 바이트에서 메시지 세 개(one, two, three)를 찾았습니다",
        );
        return Ok(report);
    }
    let writes: Vec<String> = PIECES.iter().map(|p| q(p)).collect();
    match messages.iter().zip(expected).position(|(got, want)| *got != want) {
        Some(i) => report.wrong_ko(
            format!(
                "message {} was {:?}, but the server sent {:?} followed by a newline: one read() is not one message. \
                 The server wrote {} (four writes), and TCP keeps no boundaries between them (docs/compare.md, message boundaries)",
                i + 1,
                messages[i],
                expected[i],
                writes.join(", ")
            ),
            format!(
                "{}번째 메시지가 {:?}였지만, 서버는 {:?} 뒤에 줄바꿈을 보냈습니다. read() 한 번은 메시지 하나가 아닙니다. \
                 서버는 {}를 네 번에 나눠 썼고, TCP는 그 사이의 경계를 지켜 주지 않습니다(docs/compare.md, 메시지 경계)",
                i + 1,
                messages[i],
                expected[i],
                writes.join(", ")
            ),
        ),
        None => report.wrong_ko(
            format!(
                "you printed {} `message:` lines ({:?}); the server sent three lines: one, two, three",
                messages.len(),
                messages
            ),
            format!(
                "`message:` 줄을 {}개 출력했습니다({:?}). 서버가 보낸 줄은 one, two, three 세 개입니다",
                messages.len(),
                messages
            ),
        ),
    }
    Ok(report)
}

/// The next connection, if one comes within `wait`.
pub(super) fn accept_within(listener: &TcpListener, wait: Duration) -> Option<TcpStream> {
    listener.set_nonblocking(true).ok()?;
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).ok()?;
                return Some(stream);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(Duration::from_millis(10)),
            Err(_) => return None,
        }
    }
    None
}

/// Exercise 9: the client's FIN arrives after its message, and it still reads the answer.
pub fn half_close(exe: &Path) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let message = "hello, server";
    let listener = TcpListener::bind(EPHEMERAL)?;
    let addr = listener.local_addr()?;
    let mut client = Program::start(exe, &[addr.to_string(), message.to_string()])?;
    let Some(mut stream) = accept_within(&listener, Duration::from_secs(5)) else {
        report.wrong_ko(
            format!("your client did not connect to {addr} within 5 s"),
            format!("클라이언트가 5초 안에 {addr}에 연결하지 않았습니다"),
        );
        return Ok(report);
    };
    // Read until the client's FIN, as the exercise's server does.
    let wait = Duration::from_secs(3);
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let fin = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break false;
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break false;
            }
            Err(e) => {
                report.wrong_ko(
                    format!(
                        "reading your message failed: {e} — the client reset the connection instead of sending FIN"
                    ),
                    format!(
                        "메시지를 읽다가 실패했습니다: {e} — 클라이언트가 FIN 대신 연결을 리셋했습니다"
                    ),
                );
                return Ok(report);
            }
        }
    };
    if !fin {
        report.wrong_ko(
            format!(
                "after {wait:?} your client had sent {} bytes ({}) but no FIN: this server answers only at end of \
                 stream, and your client is waiting for that answer — both wait forever (docs/lifecycle.md, shutdown is not close)",
                got.len(),
                q(&got)
            ),
            format!(
                "{wait:?}이 지나도록 클라이언트는 {}바이트({})를 보냈지만 FIN은 보내지 않았습니다. 이 서버는 스트림의 \
                 끝에서만 답하고, 클라이언트는 그 답을 기다리고 있으니 둘 다 영원히 기다립니다(docs/lifecycle.md, shutdown은 close가 아니다)",
                got.len(),
                q(&got)
            ),
        );
        return Ok(report);
    }
    report.ok_ko(
        format!("your message arrived ({} bytes), then your FIN", got.len()),
        format!(
            "메시지({}바이트)가 도착했고, 그다음 FIN이 왔습니다",
            got.len()
        ),
    );
    let answer = format!("received {} bytes\n", got.len());
    if let Err(e) = stream.write_all(answer.as_bytes()) {
        report.wrong_ko(
            format!(
                "the answer could not be sent ({e}): your client closed its socket instead of only shutting down writing"
            ),
            format!(
                "답을 보낼 수 없었습니다({e}). 클라이언트가 쓰기만 닫지 않고 소켓 전체를 닫았습니다"
            ),
        );
        return Ok(report);
    }
    drop(stream);
    client.finish(REPLY);
    let want = format!("reply: {}", answer.trim_end());
    if client.seen.contains(&want) {
        report.ok_ko(
            format!("your client read the answer after its FIN: `{want}`"),
            format!("클라이언트가 FIN을 보낸 뒤에도 답을 읽었습니다: `{want}`"),
        );
    } else {
        report.wrong_ko(
            format!(
                "the server sent {:?} after your FIN; your client printed {:?}, not `{want}` — did it close its \
                 reading side too (Shutdown::Both, or dropping the stream)?",
                answer, client.seen
            ),
            format!(
                "서버가 FIN 뒤에 {:?}를 보냈는데, 클라이언트는 `{want}`가 아니라 {:?}를 출력했습니다. 읽기 쪽까지 \
                 닫지 않았나요(Shutdown::Both, 또는 스트림 drop)?",
                answer, client.seen
            ),
        );
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exercise 5's losses are deterministic, and a delayed datagram is always
    /// overtaken by the next one (never dropped, never the last).
    #[test]
    fn losses_are_deterministic_and_overtakable() {
        for seed in 0..500 {
            let (delay, drop) = losses(seed);
            assert_eq!((delay.clone(), drop.clone()), losses(seed));
            assert_eq!((delay.len(), drop.len()), (2, 3));
            for d in &delay {
                assert!(*d < DATAGRAMS - 1 && !drop.contains(d) && !drop.contains(&(d + 1)));
            }
        }
    }
}
