//! Exercise 15: an SSE client that resumes with `Last-Event-ID`. The student's
//! client reads `GET /events` from the push server through a proxy of the
//! check's that cuts the stream twice, each time after a whole event, and
//! makes each reconnection wait [`GAP`] while the server keeps publishing. Only
//! a client that sends the last id it saw gets those events back, each once.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use client::wire::HttpHead;

use super::push_server;
use crate::report::Report;
use crate::student::Program;

/// How many events the client prints before it stops.
const EVENTS: u64 = 15;
/// Events per second the push server publishes.
const RATE: f64 = 20.0;
/// How many cuts, and after how many events on each cut connection.
const CUTS: usize = 2;
const CUT_AFTER: usize = 4;
/// How long a reconnection waits before it reaches the server: at [`RATE`],
/// several events are published meanwhile, and a client that does not say
/// where it stopped never sees them.
const GAP: Duration = Duration::from_millis(300);

/// One connection through the cutting proxy: the request head, the ids passed.
#[derive(Debug, Clone, Default)]
struct Leg {
    request: Vec<u8>,
    ids: Vec<u64>,
    cut: bool,
}

type Legs = Arc<Mutex<Vec<Leg>>>;

/// Starts the cutting proxy in front of `upstream`; returns its address.
fn cutting_proxy(
    upstream: SocketAddr,
    legs: Legs,
    stop: Arc<AtomicBool>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let Ok((client, _)) = listener.accept() else {
                thread::sleep(Duration::from_millis(5));
                continue;
            };
            let n = {
                let mut list = legs.lock().unwrap_or_else(|e| e.into_inner());
                list.push(Leg::default());
                list.len() - 1
            };
            let legs = Arc::clone(&legs);
            thread::spawn(move || {
                let _ = client.set_nonblocking(false);
                if n > 0 {
                    thread::sleep(GAP); // the reconnection is slow; events go on
                }
                if let Ok(server) = TcpStream::connect(upstream) {
                    relay(client, server, n, &legs);
                }
            });
        }
    });
    Ok(addr)
}

/// Copies the request up and the event stream down, block by block; on the
/// first [`CUTS`] connections, closes both after [`CUT_AFTER`] events.
fn relay(client: TcpStream, server: TcpStream, n: usize, legs: &Legs) {
    let record = |f: &mut dyn FnMut(&mut Leg)| {
        let mut list = legs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(leg) = list.get_mut(n) {
            f(leg);
        }
    };
    // Up: the request (and whatever follows), recorded.
    if let (Ok(mut from), Ok(mut to)) = (client.try_clone(), server.try_clone()) {
        let legs = Arc::clone(legs);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(k @ 1..) = from.read(&mut buf) {
                if let Some(leg) = legs.lock().unwrap_or_else(|e| e.into_inner()).get_mut(n) {
                    leg.request.extend_from_slice(&buf[..k]);
                }
                if to.write_all(&buf[..k]).is_err() {
                    break;
                }
            }
        });
    }
    // Down: the response head, then whole SSE blocks (ending in a blank line).
    let (mut from, mut to) = (server, client);
    let mut pending: Vec<u8> = Vec::new();
    let mut head_done = false;
    let mut buf = [0u8; 4096];
    'pump: while let Ok(k @ 1..) = from.read(&mut buf) {
        pending.extend_from_slice(&buf[..k]);
        if !head_done {
            let Some(end) = find(&pending, b"\r\n\r\n") else {
                continue;
            };
            let head: Vec<u8> = pending.drain(..end + 4).collect();
            if to.write_all(&head).is_err() {
                break;
            }
            head_done = true;
        }
        while let Some(end) = find(&pending, b"\n\n") {
            let block: Vec<u8> = pending.drain(..end + 2).collect();
            if to.write_all(&block).is_err() {
                break 'pump;
            }
            let id = String::from_utf8_lossy(&block).lines().find_map(|l| {
                l.strip_prefix("id:")
                    .and_then(|v| v.trim().parse::<u64>().ok())
            });
            let mut cut = false;
            if let Some(id) = id {
                record(&mut |leg| {
                    leg.ids.push(id);
                    cut = n < CUTS && leg.ids.len() >= CUT_AFTER;
                    leg.cut |= cut;
                });
            }
            if cut {
                break 'pump;
            }
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The `Last-Event-ID` a request head carried, as written.
fn last_event_id(request: &[u8]) -> Option<String> {
    HttpHead::request(request).and_then(|h| h.header("Last-Event-ID").map(str::to_string))
}

/// Exercise 15: every event once, in order, across two cuts.
pub fn sse_resume(exe: &Path) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let server = push_server(RATE)?;
    let legs: Legs = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let proxy = cutting_proxy(server.addr(), Arc::clone(&legs), Arc::clone(&stop))?;
    report.note_ko(
        format!(
            "the push server on {} ({RATE} events a second), through a proxy on {proxy} that cuts the stream \
             {CUTS} times after {CUT_AFTER} events and holds each reconnection for {GAP:?}",
            server.addr()
        ),
        format!(
            "push 서버는 {}(초당 이벤트 {RATE}개), 그 앞의 프록시 {proxy}는 이벤트 {CUT_AFTER}개마다 스트림을 \
             끊고(모두 {CUTS}번) 재연결마다 {GAP:?}씩 붙잡아 둡니다",
            server.addr()
        ),
    );
    let mut client = Program::start(exe, &[proxy.to_string(), EVENTS.to_string()])?;
    let ended = client.finish(Duration::from_secs(8));
    stop.store(true, Ordering::Relaxed);
    let legs = legs.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let printed: Vec<u64> = client
        .seen
        .iter()
        .filter_map(|l| l.strip_prefix("event ")?.trim().parse().ok())
        .collect();
    if ended.status.is_none() {
        report.wrong_ko(
            format!("your client was still running after 8 s, having printed {} events; it should stop after {EVENTS}", printed.len()),
            format!("8초가 지나도 클라이언트가 실행 중이었습니다(출력한 이벤트 {}개). {EVENTS}개를 출력하면 멈춰야 합니다", printed.len()),
        );
    }
    let cut = legs.iter().filter(|l| l.cut).count();
    if legs.len() <= cut {
        report.wrong_ko(
            format!(
                "the stream was cut {cut} times and your client opened {} connections: when the stream ends, \
                 reconnect, as EventSource does (docs/push.md, Server-Sent Events)",
                legs.len()
            ),
            format!(
                "스트림이 {cut}번 끊겼는데 클라이언트가 연 연결은 {}개입니다. 스트림이 끝나면 EventSource처럼 \
                 다시 연결하세요(docs/push.md, Server-Sent Events)",
                legs.len()
            ),
        );
        return Ok(report);
    }
    let resumed: Vec<String> = legs[1..]
        .iter()
        .map(|l| {
            last_event_id(&l.request).map_or("none".to_string(), |v| format!("Last-Event-ID: {v}"))
        })
        .collect();
    report.note_ko(
        format!("your reconnections asked: {}", resumed.join("; ")),
        format!("재연결 요청이 보낸 것: {}", resumed.join("; ")),
    );
    for pair in printed.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if b == a + 1 {
            continue;
        }
        if b > a + 1 {
            report.wrong_ko(
                format!(
                    "events {} to {} were never printed: the server published them while your client was \
                     reconnecting, and the reconnection did not say which event it had seen last \
                     (the SSE stream's `id:` lines; WHATWG HTML, Server-sent events; docs/push.md)",
                    a + 1,
                    b - 1
                ),
                format!(
                    "이벤트 {}부터 {}까지가 출력되지 않았습니다. 클라이언트가 다시 연결하는 동안 서버가 발행한 것인데, \
                     다시 연결할 때 마지막으로 본 이벤트가 무엇인지 알리지 않았습니다(SSE 스트림의 `id:` 줄, \
                     WHATWG HTML의 Server-sent events, docs/push.md)",
                    a + 1,
                    b - 1
                ),
            );
        } else {
            report.wrong_ko(
                format!(
                    "event {b} was printed again after event {a}: a resumed stream starts after the id the \
                     client sends, so send the id of the last event you printed"
                ),
                format!(
                    "이벤트 {a} 다음에 이벤트 {b}가 다시 출력됐습니다. 이어 받는 스트림은 클라이언트가 보낸 id 다음부터 \
                     시작하니, 마지막으로 출력한 이벤트의 id를 보내세요"
                ),
            );
        }
        return Ok(report);
    }
    if printed.len() as u64 != EVENTS {
        report.wrong_ko(
            format!(
                "your client printed {} events; the task asks for {EVENTS}",
                printed.len()
            ),
            format!(
                "클라이언트가 이벤트 {}개를 출력했습니다. 과제는 {EVENTS}개입니다",
                printed.len()
            ),
        );
        return Ok(report);
    }
    report.ok_ko(
        format!(
            "events {} to {} printed once each, in order, across {cut} cuts and {} connections",
            printed[0],
            printed[printed.len() - 1],
            legs.len()
        ),
        format!(
            "이벤트 {}부터 {}까지 각각 한 번씩 순서대로 출력됐습니다(끊김 {cut}번, 연결 {}개)",
            printed[0],
            printed[printed.len() - 1],
            legs.len()
        ),
    );
    Ok(report)
}
