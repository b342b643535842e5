//! Exercises whose answer is a server: 1 (threads), 4 (TIME_WAIT), 8 (1009).

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use client::wire::close_code_name;
use client::{Incoming, Transport};
use lifecycle::state::{TcpState, tcp_state};

use super::{REPLY, q, read_for, start_server};
use crate::report::Report;

/// Exercise 1: two clients connected at once are both echoed.
pub fn threads(exe: &Path) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let Some((_server, addr)) = start_server(exe, &mut report)? else {
        return Ok(report);
    };
    let mut first = TcpStream::connect(addr)?;
    first.write_all(b"first\n")?;
    let echo = read_for(&mut first, 6, REPLY);
    if echo != b"first\n" {
        report.wrong_ko(
            format!(
                "the first client sent \"first\\n\" and got {} back within {REPLY:?}: the server must echo every byte",
                q(&echo)
            ),
            format!(
                "첫 번째 클라이언트가 \"first\\n\"을 보냈는데 {REPLY:?} 안에 돌아온 것은 {}입니다. 서버는 모든 바이트를 에코해야 합니다",
                q(&echo)
            ),
        );
        return Ok(report);
    }
    report.ok_ko(
        "the first client was echoed",
        "첫 번째 클라이언트가 에코를 받았습니다",
    );
    // The first client stays connected, silent, while the second talks.
    let mut second = TcpStream::connect(addr)?;
    second.write_all(b"second\n")?;
    let echo = read_for(&mut second, 7, REPLY);
    if echo != b"second\n" {
        let got = if echo.is_empty() {
            "nothing".to_string()
        } else {
            q(&echo)
        };
        report.wrong_ko(
            format!(
                "the second client connected (the kernel completed its handshake and queued it in the listen backlog) \
                 but got {got} back within {REPLY:?} while the first client stayed connected: the server is still in the \
                 first client's read loop, serving one client at a time (docs/lifecycle.md, the three versions)"
            ),
            format!(
                "두 번째 클라이언트는 연결됐지만(커널이 핸드셰이크를 마치고 listen 백로그에 넣어 두었습니다), 첫 번째 \
                 클라이언트가 연결을 유지하는 동안 {REPLY:?} 안에 돌아온 것은 {got}입니다. 서버는 아직 첫 번째 \
                 클라이언트의 읽기 루프 안에 있고, 한 번에 한 클라이언트만 처리합니다(docs/lifecycle.md, 세 가지 버전)"
            ),
        );
        return Ok(report);
    }
    report.ok_ko(
        "the second client was echoed while the first stayed connected",
        "첫 번째 클라이언트가 연결을 유지하는 동안 두 번째 클라이언트도 에코를 받았습니다",
    );
    first.write_all(b"first again\n")?;
    let echo = read_for(&mut first, 12, REPLY);
    if echo == b"first again\n" {
        report.ok_ko(
            "the first client is still served after the second arrived",
            "두 번째 클라이언트가 온 뒤에도 첫 번째 클라이언트가 계속 처리됩니다",
        );
    } else {
        report.wrong_ko(
            format!(
                "after the second client arrived, the first sent \"first again\\n\" and got {} back",
                q(&echo)
            ),
            format!(
                "두 번째 클라이언트가 온 뒤 첫 번째 클라이언트가 \"first again\\n\"을 보냈는데 돌아온 것은 {}입니다",
                q(&echo)
            ),
        );
    }
    Ok(report)
}

/// Exercise 4: the client, not the server, ends in TIME_WAIT.
pub fn time_wait(exe: &Path) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let Some((_server, addr)) = start_server(exe, &mut report)? else {
        return Ok(report);
    };
    let mut stream = TcpStream::connect(addr)?;
    let ours = stream.local_addr()?;
    stream.write_all(b"hello\n")?;
    let answer = read_for(&mut stream, 4, REPLY);
    if answer != b"bye\n" {
        report.wrong_ko(
            format!(
                "we sent \"hello\\n\" and expected \"bye\\n\"; we got {}",
                q(&answer)
            ),
            format!(
                "\"hello\\n\"을 보내고 \"bye\\n\"을 기대했는데, 받은 것은 {}입니다",
                q(&answer)
            ),
        );
        return Ok(report);
    }
    report.ok_ko(
        "the server answered \"bye\\n\"",
        "서버가 \"bye\\n\"으로 답했습니다",
    );
    // Does the server's FIN come before we close? Wait a little for it.
    let early = read_for(&mut stream, 1, Duration::from_millis(300));
    let fin_first = early.is_empty() && tcp_state(ours, addr) == TcpState::CloseWait;
    drop(stream); // close(): our FIN
    // The kernel needs a moment to finish the exchange of FINs.
    let (client, server) = settle(ours, addr);
    if fin_first {
        report.wrong_ko(
            format!(
                "the server sent the first FIN: our end was in CLOSE_WAIT (the server's FIN read as end of stream) \
                 before we closed. So the server's end is the active closer: after our close the kernel shows \
                 {addr} ↔ {ours} in {} on the server's side and {} on ours. Whoever sends the first FIN keeps TIME_WAIT",
                server.name(),
                client.name()
            ),
            format!(
                "서버가 첫 FIN을 보냈습니다. 우리가 닫기도 전에 우리 쪽이 CLOSE_WAIT였습니다(서버의 FIN을 스트림의 끝으로 \
                 읽었습니다). 그러니 먼저 닫은 쪽은 서버입니다. 우리가 닫은 뒤 커널은 {addr} ↔ {ours}를 서버 쪽 {}, \
                 우리 쪽 {}로 보여 줍니다. TIME_WAIT는 먼저 FIN을 보낸 쪽에 남습니다(docs/lifecycle.md, 연결 닫기)",
                server.name(),
                client.name()
            ),
        );
        return Ok(report);
    }
    report.ok_ko(
        "the server waited for our FIN before closing",
        "서버가 닫기 전에 우리의 FIN을 기다렸습니다",
    );
    match (client, server) {
        (TcpState::TimeWait, s) if s != TcpState::TimeWait => report.ok_ko(
            format!(
                "our end {ours} is in TIME_WAIT and the server's is {} (asked of the kernel by 4-tuple)",
                s.name()
            ),
            format!(
                "우리 쪽 {ours}는 TIME_WAIT이고 서버 쪽은 {}입니다(4-튜플로 커널에 물어봄)",
                s.name()
            ),
        ),
        (_, TcpState::CloseWait) => report.wrong_ko(
            format!(
                "after our FIN the server never closed: its end is still in CLOSE_WAIT ({} on ours). \
                 Once read() returns 0, let the stream go",
                client.name()
            ),
            format!(
                "우리가 FIN을 보낸 뒤에도 서버가 닫지 않았습니다. 서버 쪽은 아직 CLOSE_WAIT입니다(우리 쪽은 {}). \
                 read()가 0을 반환하면 스트림을 놓으세요",
                client.name()
            ),
        ),
        (c, s) => report.wrong_ko(
            format!(
                "after the close, the kernel shows our end in {} and the server's in {}; TIME_WAIT belongs on ours only \
                 (docs/lifecycle.md, the close)",
                c.name(),
                s.name()
            ),
            format!(
                "닫은 뒤 커널은 우리 쪽을 {}, 서버 쪽을 {}로 보여 줍니다. TIME_WAIT는 우리 쪽에만 있어야 합니다 \
                 (docs/lifecycle.md, 연결 닫기)",
                c.name(),
                s.name()
            ),
        ),
    }
    Ok(report)
}

/// The TCP states of both ends once the close has had up to a second to finish.
fn settle(client: SocketAddr, server: SocketAddr) -> (TcpState, TcpState) {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let states = (tcp_state(client, server), tcp_state(server, client));
        let done = matches!(states.0, TcpState::TimeWait | TcpState::Closed)
            && matches!(states.1, TcpState::TimeWait | TcpState::Closed);
        if done || Instant::now() > deadline {
            return states;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Exercise 8: up to 1024 bytes echoed; over that, close code 1009.
pub fn size_limit(exe: &Path) -> anyhow::Result<Report> {
    /// The limit the exercise asks for, and a message well over it.
    const LIMIT: usize = 1024;
    const OVER: usize = 4096;
    let mut report = Report::default();
    let Some((_server, addr)) = start_server(exe, &mut report)? else {
        return Ok(report);
    };
    let url = format!("ws://{addr}/");
    let mut ws = Transport::connect(&url)?;
    ws.set_read_timeout(Some(REPLY))?;
    let fits = "y".repeat(LIMIT);
    ws.send(fits.as_bytes())?;
    match ws.receive_bytes(LIMIT) {
        Ok(echo) if echo.concat() == fits.as_bytes() => report.ok_ko(
            format!("a {LIMIT}-byte message was echoed (it is within the limit)"),
            format!("{LIMIT}바이트 메시지가 에코됐습니다(한도 안)"),
        ),
        Ok(_) => report.wrong_ko(
            format!("a {LIMIT}-byte message came back changed"),
            format!("{LIMIT}바이트 메시지가 바뀌어서 돌아왔습니다"),
        ),
        Err(e) => report.wrong_ko(
            format!(
                "a {LIMIT}-byte message, exactly at the limit, must still be echoed; instead: {e}"
            ),
            format!("한도와 딱 같은 {LIMIT}바이트 메시지는 에코돼야 합니다. 실제로는: {e}"),
        ),
    }
    let _ = ws.close();
    let mut ws = Transport::connect(&url)?;
    ws.set_read_timeout(Some(REPLY))?;
    ws.send("x".repeat(OVER).as_bytes())?;
    let answer = loop {
        match ws.receive() {
            Ok(Incoming::Ping(_) | Incoming::Pong(_)) => continue,
            other => break other,
        }
    };
    match answer {
        Ok(Incoming::Close(Some(1009))) => {
            report.ok_ko(
                format!("a {OVER}-byte message got a close frame with 1009 (message too big)"),
                format!("{OVER}바이트 메시지에 1009(message too big) close 프레임이 왔습니다"),
            )
        }
        Ok(Incoming::Data(echo)) => report.wrong_ko(
            format!(
                "a {OVER}-byte message was echoed ({} bytes came back): a message over the {LIMIT}-byte limit \
                 must be refused with a close frame (RFC 6455 section 7.4.1; tungstenite's WebSocketConfig)",
                echo.len()
            ),
            format!(
                "{OVER}바이트 메시지가 에코됐습니다({}바이트가 돌아옴). {LIMIT}바이트 한도를 넘는 메시지는 close \
                 프레임으로 거절해야 합니다(RFC 6455 7.4.1절, tungstenite의 WebSocketConfig)",
                echo.len()
            ),
        ),
        Ok(Incoming::Close(Some(code))) => report.wrong_ko(
            format!(
                "a {OVER}-byte message got close code {code} ({}), not the code the task asks for \
                 (RFC 6455 section 7.4.1)",
                close_code_name(code)
            ),
            format!(
                "{OVER}바이트 메시지에 close 코드 {code}({})가 왔습니다. 과제가 요구하는 코드가 아닙니다 \
                 (RFC 6455 7.4.1절)",
                close_code_name(code)
            ),
        ),
        Ok(Incoming::Close(None)) => report.wrong_ko(
            format!(
                "a {OVER}-byte message got a close frame without a status code; put the task's code in it \
                 (RFC 6455 section 5.5.1)"
            ),
            format!(
                "{OVER}바이트 메시지에 상태 코드 없는 close 프레임이 왔습니다. 과제의 코드를 담으세요 \
                 (RFC 6455 5.5.1절)"
            ),
        ),
        Ok(Incoming::End) | Err(_) => report.wrong_ko(
            format!(
                "after a {OVER}-byte message the connection ended without a close frame (the client sees 1006): \
                 send a close frame with the task's code before the connection ends"
            ),
            format!(
                "{OVER}바이트 메시지 뒤에 close 프레임 없이 연결이 끝났습니다(클라이언트는 1006으로 봅니다). \
                 연결을 끝내기 전에 과제의 코드를 담은 close 프레임을 보내세요"
            ),
        ),
        Ok(Incoming::Ping(_) | Incoming::Pong(_)) => unreachable!("skipped above"),
    }
    Ok(report)
}
