//! Exercises whose client speaks HTTP by hand: 10 (a WebSocket client from a
//! bare socket), 11 (keep-alive), 12 (long polling). Each student client talks
//! to a real server through a recording proxy, so the check reads exactly the
//! bytes that were sent, and on how many connections.

use std::path::Path;
use std::time::Duration;

use client::wire::{HttpHead, close_code_name, parse_frames};

use super::{push_server, q, ws_echo};
use crate::relay::{Conn, Proxy};
use crate::report::Report;
use crate::student::Program;

/// `port 41000` for each connection, for findings.
fn ports(conns: &[Conn]) -> String {
    let ports: Vec<String> = conns
        .iter()
        .filter_map(|c| c.client.map(|a| a.port().to_string()))
        .collect();
    ports.join(", ")
}

/// Exercise 10: the Upgrade by hand, a masked frame, the echo, on one connection.
pub fn raw_websocket(exe: &Path) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let server = ws_echo()?;
    let proxy = Proxy::start(server.addr())?;
    report.note_ko(
        format!(
            "ws-echo on {}, seen through a proxy on {}",
            server.addr(),
            proxy.addr()
        ),
        format!(
            "ws-echo는 {}, 그 앞의 프록시는 {}",
            server.addr(),
            proxy.addr()
        ),
    );
    let mut client = Program::start(exe, &[proxy.addr().to_string()])?;
    client.finish(Duration::from_secs(5));
    // The proxy's pumps may still be copying the last bytes.
    std::thread::sleep(Duration::from_millis(100));
    let conns = proxy.connections();
    let Some(conn) = conns.first() else {
        report.wrong_ko(
            format!("your client never connected to {}", proxy.addr()),
            format!(
                "클라이언트가 {}에 한 번도 연결하지 않았습니다",
                proxy.addr()
            ),
        );
        return Ok(report);
    };
    if conns.len() > 1 {
        report.wrong_ko(
            format!(
                "your client opened {} TCP connections (client ports {}): the Upgrade and every frame after it travel \
                 on the one connection that sent the Upgrade",
                conns.len(),
                ports(&conns)
            ),
            format!(
                "클라이언트가 TCP 연결을 {}개 열었습니다(클라이언트 포트 {}). Upgrade와 그 뒤의 모든 프레임은 \
                 Upgrade를 보낸 그 연결 하나로 오갑니다",
                conns.len(),
                ports(&conns)
            ),
        );
    }
    let Some(request) = HttpHead::request(&conn.up) else {
        let first = q(&conn.up[..conn.up.len().min(80)]);
        report.wrong_ko(
            format!(
                "the first bytes your client sent are not a complete HTTP request head: {first}"
            ),
            format!("클라이언트가 처음 보낸 바이트가 완전한 HTTP 요청 헤드가 아닙니다: {first}"),
        );
        return Ok(report);
    };
    let answer = HttpHead::response(&conn.down);
    let status = answer
        .as_ref()
        .map_or("no answer".to_string(), |a| a.start_line.clone());
    let required = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Version", "13"),
    ];
    let mut headers_ok = true;
    for (name, token) in required {
        match request.header(name) {
            None => {
                headers_ok = false;
                report.reveal(format!("{name}: {token}"));
                report.wrong_ko(
                    format!(
                        "your Upgrade request has no {name} header, and the server answered `{status}`: \
                         RFC 6455 section 4.1 lists the headers a client must send, and their values"
                    ),
                    format!(
                        "Upgrade 요청에 {name} 헤더가 없어서 서버가 `{status}`로 답했습니다. 클라이언트가 보내야 하는 \
                         헤더와 그 값은 RFC 6455 4.1절에 있습니다"
                    ),
                );
            }
            Some(v) if !v.to_ascii_lowercase().contains(&token.to_ascii_lowercase()) => {
                headers_ok = false;
                report.reveal(format!("{name}: {token}"));
                report.wrong_ko(
                    format!(
                        "your Upgrade request says `{name}: {v}`, and the server answered `{status}`: \
                         RFC 6455 section 4.1 gives the value a server requires"
                    ),
                    format!(
                        "Upgrade 요청에 `{name}: {v}`라고 적어서 서버가 `{status}`로 답했습니다. 서버가 요구하는 값은 \
                         RFC 6455 4.1절에 있습니다"
                    ),
                );
            }
            Some(_) => {}
        }
    }
    if request.header("Sec-WebSocket-Key").is_none() {
        headers_ok = false;
        report.wrong_ko(
            format!(
                "your Upgrade request has no Sec-WebSocket-Key; the server answered `{status}` (RFC 6455 section 4.1)"
            ),
            format!(
                "Upgrade 요청에 Sec-WebSocket-Key가 없어서 서버가 `{status}`로 답했습니다(RFC 6455 4.1절)"
            ),
        );
    }
    let Some(answer) = answer.filter(|a| a.start_line.contains(" 101 ")) else {
        if headers_ok {
            report.wrong_ko(
                format!("the server answered `{status}`, not 101"),
                format!("서버가 101이 아니라 `{status}`로 답했습니다"),
            );
        }
        return Ok(report);
    };
    report.ok_ko(
        format!("the server answered `{}`", answer.start_line),
        format!("서버가 `{}`로 답했습니다", answer.start_line),
    );
    let up = parse_frames(&conn.up[request.bytes..]);
    let down = parse_frames(&conn.down[answer.bytes..]);
    let Some(frame) = up.frames.first() else {
        let (n, why) = (
            conn.up.len() - request.bytes,
            up.error.map_or(String::new(), |e| format!(": {e}")),
        );
        report.wrong_ko(
            format!("after the Upgrade your client sent no whole frame ({n} bytes{why})"),
            format!("Upgrade 뒤에 클라이언트가 완전한 프레임을 보내지 않았습니다({n}바이트{why})"),
        );
        return Ok(report);
    };
    let close = down.frames.iter().find_map(|f| f.close_code());
    if frame.mask.is_none() {
        let byte2 = frame.header.get(1).copied().unwrap_or(0);
        let code = close.map_or("no code".to_string(), |c| {
            format!("{c} ({})", close_code_name(c))
        });
        report.wrong_ko(
            format!(
                "your frame has the MASK bit 0 (byte 2 is 0x{byte2:02x}) and the server closed with {code}: \
                 RFC 6455 section 5.1 says which frames must be masked, section 5.3 how"
            ),
            format!(
                "프레임의 MASK 비트가 0이라(둘째 바이트 0x{byte2:02x}) 서버가 {code}로 닫았습니다. 어떤 프레임을 \
                 마스킹해야 하는지는 RFC 6455 5.1절에, 어떻게 하는지는 5.3절에 있습니다"
            ),
        );
        return Ok(report);
    }
    if frame.payload != b"hello" {
        report.wrong_ko(
            format!(
                "your frame carries {} once unmasked; the task sends \"hello\"",
                q(&frame.payload)
            ),
            format!(
                "프레임의 마스킹을 풀면 {}입니다. 과제는 \"hello\"를 보냅니다",
                q(&frame.payload)
            ),
        );
        return Ok(report);
    }
    let key = client::wire::hex(&frame.mask.unwrap_or_default());
    report.ok_ko(
        format!("your frame is masked (key {key}) and carries \"hello\" once unmasked"),
        format!("프레임이 마스킹돼 있고(키 {key}) 마스킹을 풀면 \"hello\"입니다"),
    );
    match down.frames.iter().find(|f| f.close_code().is_none()) {
        Some(echo) if echo.payload == b"hello" => report.ok_ko(
            "the server echoed \"hello\" on the same connection",
            "서버가 같은 연결에서 \"hello\"를 에코했습니다",
        ),
        _ => {
            let code = close.map_or(String::new(), |c| format!(" ({c}, {})", close_code_name(c)));
            report.wrong_ko(
                format!("the server sent no echo of \"hello\"{code}"),
                format!("서버가 \"hello\"를 에코하지 않았습니다{code}"),
            )
        }
    }
    if client.seen.iter().any(|l| l == "echo: hello") {
        report.ok_ko(
            "your client printed `echo: hello`",
            "클라이언트가 `echo: hello`를 출력했습니다",
        );
    } else {
        report.wrong_ko(
            format!("your client printed {:?}, not `echo: hello`", client.seen),
            format!(
                "클라이언트가 `echo: hello`가 아니라 {:?}를 출력했습니다",
                client.seen
            ),
        );
    }
    Ok(report)
}

/// The request heads in `bytes`, in order: how many requests one connection carried.
fn requests(bytes: &[u8]) -> Vec<HttpHead> {
    let mut heads = Vec::new();
    let mut rest = bytes;
    while let Some(head) = HttpHead::request(rest) {
        rest = &rest[head.bytes..];
        heads.push(head);
    }
    heads
}

/// Exercise 11: two requests, one connection.
pub fn keep_alive(exe: &Path) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let server = push_server(0.0)?;
    let proxy = Proxy::start(server.addr())?;
    report.note_ko(
        format!(
            "the push server on {}, seen through a proxy on {}",
            server.addr(),
            proxy.addr()
        ),
        format!(
            "push 서버는 {}, 그 앞의 프록시는 {}",
            server.addr(),
            proxy.addr()
        ),
    );
    let mut client = Program::start(exe, &[proxy.addr().to_string()])?;
    client.finish(Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(100));
    let conns = proxy.connections();
    let per_conn: Vec<Vec<HttpHead>> = conns.iter().map(|c| requests(&c.up)).collect();
    let total: usize = per_conn.iter().map(Vec::len).sum();
    if total != 2 {
        report.wrong_ko(
            format!("the server received {total} requests; the task sends two"),
            format!("서버가 받은 요청은 {total}개입니다. 과제는 두 개를 보냅니다"),
        );
        return Ok(report);
    }
    if conns.len() == 1 {
        report.ok_ko(
            format!(
                "both requests came on one TCP connection (client port {})",
                ports(&conns)
            ),
            format!(
                "두 요청이 TCP 연결 하나로 왔습니다(클라이언트 포트 {})",
                ports(&conns)
            ),
        );
    } else {
        report.wrong_ko(
            format!(
                "your 2 requests came on {} TCP connections (client ports {}): HTTP/1.1 keeps a connection open \
                 for the next request, so both can share one (docs/push.md, keep-alive)",
                conns.len(),
                ports(&conns)
            ),
            format!(
                "요청 2개가 TCP 연결 {}개로 왔습니다(클라이언트 포트 {}). HTTP/1.1은 다음 요청을 위해 연결을 열어 두므로 \
                 둘이 연결 하나를 같이 쓸 수 있습니다(docs/push.md, keep-alive)",
                conns.len(),
                ports(&conns)
            ),
        );
    }
    let closing: Vec<&HttpHead> = per_conn
        .iter()
        .flatten()
        .filter(|h| {
            h.header("Connection")
                .is_some_and(|v| v.eq_ignore_ascii_case("close"))
        })
        .collect();
    if let Some(first) = closing.first() {
        report.wrong_ko(
            format!(
                "your request `{}` says `Connection: close`, which asks the server to close after answering it \
                 (RFC 9112 section 9.6)",
                first.start_line
            ),
            format!(
                "요청 `{}`에 `Connection: close`가 있습니다. 답한 뒤 연결을 닫아 달라는 뜻입니다(RFC 9112 9.6절)",
                first.start_line
            ),
        );
    }
    let statuses: Vec<&String> = client
        .seen
        .iter()
        .filter(|l| l.starts_with("status: HTTP/1.1 200"))
        .collect();
    if statuses.len() == 2 {
        report.ok_ko(
            "your client printed both status lines (200)",
            "클라이언트가 상태 줄 두 개(200)를 모두 출력했습니다",
        );
    } else {
        report.wrong_ko(
            format!(
                "your client printed {:?}; expected two `status: HTTP/1.1 200 OK` lines",
                client.seen
            ),
            format!(
                "클라이언트가 {:?}를 출력했습니다. `status: HTTP/1.1 200 OK` 줄 두 개가 나와야 합니다",
                client.seen
            ),
        );
    }
    Ok(report)
}

/// How many events exercise 12's client must print.
const EVENTS: u64 = 10;

/// Exercise 12: event ids 1..=10, each once, by long polling.
pub fn long_poll(exe: &Path) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let server = push_server(20.0)?;
    let proxy = Proxy::start(server.addr())?;
    report.note_ko(
        format!(
            "the push server on {} (20 events a second), seen through a proxy on {}",
            server.addr(),
            proxy.addr()
        ),
        format!(
            "push 서버는 {}(초당 이벤트 20개), 그 앞의 프록시는 {}",
            server.addr(),
            proxy.addr()
        ),
    );
    let mut client = Program::start(exe, &[proxy.addr().to_string(), EVENTS.to_string()])?;
    let ended = client.finish(Duration::from_secs(6));
    std::thread::sleep(Duration::from_millis(100));
    let asked: Vec<String> = proxy
        .connections()
        .iter()
        .flat_map(|c| requests(&c.up))
        .map(|h| h.start_line)
        .collect();
    let not_long: Vec<&String> = asked
        .iter()
        .filter(|l| !l.starts_with("GET /long-poll?"))
        .collect();
    if let Some(first) = not_long.first() {
        report.wrong_ko(
            format!("your client sent `{first}`; every request should be `GET /long-poll?since=ID`"),
            format!("클라이언트가 `{first}`를 보냈습니다. 모든 요청은 `GET /long-poll?since=ID`여야 합니다"),
        );
    }
    let printed: Vec<u64> = client
        .seen
        .iter()
        .filter_map(|l| l.strip_prefix("event ")?.trim().parse().ok())
        .collect();
    if ended.status.is_none() {
        report.wrong_ko(
            format!(
                "your client was still running after 6 s, having printed {} events (at 20 a second, {EVENTS} take half a second)",
                printed.len()
            ),
            format!(
                "6초가 지나도 클라이언트가 실행 중이었습니다(출력한 이벤트 {}개, 초당 20개이니 {EVENTS}개는 0.5초면 됩니다)",
                printed.len()
            ),
        );
    }
    let since: Vec<String> = asked
        .iter()
        .filter_map(|l| l.split("since=").nth(1))
        .map(|s| s.split_whitespace().next().unwrap_or("").to_string())
        .collect();
    let mut fine = true;
    for id in 1..=EVENTS {
        let times = printed.iter().filter(|&&p| p == id).count();
        if times == 0 {
            fine = false;
            report.wrong_ko(
                format!(
                    "event {id} was never printed (you printed {}); your requests asked since={} \
                     (what since means: docs/push.md, long polling; crates/push/src/requests.rs, GET /long-poll)",
                    list(&printed),
                    since.join(", since=")
                ),
                format!(
                    "이벤트 {id}가 한 번도 출력되지 않았습니다(출력한 것: {}). 요청에 보낸 값은 since={}입니다 \
                     (since의 뜻: docs/push.md, 롱 폴링; crates/push/src/requests.rs, GET /long-poll)",
                    list(&printed),
                    since.join(", since=")
                ),
            );
            break;
        }
        if times > 1 {
            fine = false;
            report.wrong_ko(
                format!(
                    "event {id} was printed {times} times; your requests asked since={}",
                    since.join(", since=")
                ),
                format!(
                    "이벤트 {id}가 {times}번 출력됐습니다. 요청에 보낸 값은 since={}입니다",
                    since.join(", since=")
                ),
            );
            break;
        }
    }
    if fine && printed.windows(2).any(|w| w[0] >= w[1]) {
        fine = false;
        report.wrong_ko(
            format!("the events were printed out of order: {}", list(&printed)),
            format!("이벤트가 순서대로 출력되지 않았습니다: {}", list(&printed)),
        );
    }
    if fine {
        report.ok_ko(
            format!(
                "events 1 to {EVENTS} printed once each, in order, from {} long polls",
                asked.len()
            ),
            format!(
                "이벤트 1부터 {EVENTS}까지 롱 폴 {}번으로 각각 한 번씩 순서대로 출력됐습니다",
                asked.len()
            ),
        );
    }
    Ok(report)
}

fn list(ids: &[u64]) -> String {
    let words: Vec<String> = ids.iter().map(u64::to_string).collect();
    words.join(" ")
}
