//! `push-subscribers`: many Server-Sent Events or WebSocket subscribers of one
//! push server, and the delivery latency of every event they receive.
//! Bench-only (driven by `scripts/bench.sh`).
//!
//! It opens `--conns` connections to `socklab serve push`, asks each for the
//! event stream (`GET /events`, or the WebSocket Upgrade), and then reads them
//! all from one thread with mio: a subscriber costs the client a socket and a
//! small buffer, not a thread, so 1,000 of them are cheap here and the server
//! is what gets measured. For every event it takes the arrival time minus the
//! event's `at_us` (its creation, stamped by the server on the same machine's
//! clock): the delivery latency, p50 and p99 over every event of every
//! subscriber in the `--secs` window.
//!
//! Run: `socklab serve push --rate 10 --addr 127.0.0.1:8090`, then
//! `push-subscribers 127.0.0.1:8090 --technique sse --conns 1000 --secs 5`.
//! Prints one JSON line. Bounded: the window is `--secs` (at most 60), opening
//! the connections at most [`OPEN_DEADLINE`].

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, ValueEnum};
use mio::{Events, Interest, Poll, Token};

/// How long opening every connection and reading every response head may take.
const OPEN_DEADLINE: Duration = Duration::from_secs(20);

/// The longest one `poll()` waits, so the loop sees its deadline.
const POLL_WAIT: Duration = Duration::from_millis(100);

/// Bytes a subscriber may hold unparsed: far more than one event (about 100 bytes).
const MAX_BUFFER: usize = 64 * 1024;

/// A fixed Sec-WebSocket-Key: the server's Accept is not what is measured here.
const WS_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// How the events are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Technique {
    /// `GET /events`: `text/event-stream`.
    Sse,
    /// The Upgrade, then one text message per event.
    Ws,
}

/// Many subscribers, one thread; delivery latency of every event.
#[derive(Parser)]
struct Cli {
    /// The push server, IP:PORT (loopback only)
    addr: SocketAddr,
    /// sse or ws
    #[arg(long, value_enum)]
    technique: Technique,
    /// Subscribers (connections)
    #[arg(long, default_value_t = 100)]
    conns: usize,
    /// Seconds to listen once every subscriber is connected (at most 60)
    #[arg(long, default_value_t = 2.0)]
    secs: f64,
}

/// One subscriber's connection.
struct Subscriber {
    stream: mio::net::TcpStream,
    /// Bytes received and not yet parsed.
    buf: Vec<u8>,
    /// The response head (200 or 101) has been read.
    subscribed: bool,
    /// The connection failed or ended: no longer read.
    dead: bool,
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn request(t: Technique, addr: SocketAddr) -> String {
    match t {
        Technique::Sse => format!("GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n"),
        Technique::Ws => format!(
            "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The `at_us` of an event's JSON, read by hand (no JSON parser in the hot loop).
fn at_us(json: &[u8]) -> Option<u64> {
    let key = b"\"at_us\":";
    let start = find(json, key)? + key.len();
    let digits = json[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&json[start..start + digits])
        .ok()?
        .parse()
        .ok()
}

/// Takes every complete event out of `buf`: their `at_us` stamps.
fn events(t: Technique, buf: &mut Vec<u8>, stamps: &mut Vec<u64>) -> Result<(), String> {
    let mut used = 0;
    loop {
        let rest = &buf[used..];
        match t {
            // An SSE block ends with an empty line; its `data:` line is the JSON.
            Technique::Sse => {
                let Some(end) = find(rest, b"\n\n") else {
                    break;
                };
                if let Some(at) = at_us(&rest[..end]) {
                    stamps.push(at);
                }
                used += end + 2;
            }
            // A server frame: FIN+opcode, unmasked length (7 bits or 126 + 16 bits).
            Technique::Ws => {
                if rest.len() < 2 {
                    break;
                }
                let (len, head) = match rest[1] & 0x7f {
                    126 if rest.len() >= 4 => (u16::from_be_bytes([rest[2], rest[3]]) as usize, 4),
                    126 => break,
                    127 => return Err("a 64-bit frame length: not an event".into()),
                    n => (n as usize, 2),
                };
                if rest.len() < head + len {
                    break;
                }
                match rest[0] & 0x0f {
                    0x1 => {
                        if let Some(at) = at_us(&rest[head..head + len]) {
                            stamps.push(at);
                        }
                    }
                    0x8 => return Err("the server sent Close".into()),
                    _ => {}
                }
                used += head + len;
            }
        }
    }
    buf.drain(..used);
    Ok(())
}

/// Reads what has arrived; `Err` when the subscriber is finished.
fn on_readable(
    t: Technique,
    s: &mut Subscriber,
    scratch: &mut [u8],
    stamps: &mut Vec<u64>,
) -> Result<(), String> {
    loop {
        match s.stream.read(scratch) {
            Ok(0) => return Err("the server closed the connection".into()),
            Ok(n) => s.buf.extend_from_slice(&scratch[..n]),
            // Drained: wait for the next readiness event.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.to_string()),
        }
    }
    if !s.subscribed {
        let Some(end) = find(&s.buf, b"\r\n\r\n") else {
            return Ok(());
        };
        let status = std::str::from_utf8(&s.buf[..end]).unwrap_or("");
        let want = if t == Technique::Sse {
            " 200 "
        } else {
            " 101 "
        };
        if !status.lines().next().unwrap_or("").contains(want) {
            return Err(format!("answered {}", status.lines().next().unwrap_or("")));
        }
        s.buf.drain(..end + 4);
        s.subscribed = true;
    }
    events(t, &mut s.buf, stamps)?;
    if s.buf.len() > MAX_BUFFER {
        return Err("an unparsable stream".into());
    }
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    (!sorted.is_empty()).then(|| {
        sorted[((p / 100.0 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]
    })
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if !cli.addr.ip().is_loopback() {
        anyhow::bail!("loopback only: {} is not", cli.addr);
    }
    if !(cli.secs > 0.0 && cli.secs <= 60.0) {
        anyhow::bail!("--secs must be above 0 and at most 60");
    }
    let t = cli.technique;
    let mut poll = Poll::new()?;
    let mut subs = Vec::with_capacity(cli.conns);
    let mut errors = 0usize;
    let mut first_error: Option<String> = None;
    let request = request(t, cli.addr);
    let opened = Instant::now();
    // connect(2) blocking (loopback: the kernel completes it at once), then the
    // request in one write, then non-blocking under mio.
    for i in 0..cli.conns {
        if opened.elapsed() > OPEN_DEADLINE {
            first_error.get_or_insert("opening took too long".into());
            errors += cli.conns - i;
            break;
        }
        let stream = match TcpStream::connect(cli.addr).and_then(|mut s| {
            s.write_all(request.as_bytes())?;
            s.set_nonblocking(true)?;
            Ok(s)
        }) {
            Ok(s) => s,
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(format!("connect: {e}"));
                continue;
            }
        };
        let mut stream = mio::net::TcpStream::from_std(stream);
        poll.registry()
            .register(&mut stream, Token(subs.len()), Interest::READABLE)?;
        subs.push(Subscriber {
            stream,
            buf: Vec::new(),
            subscribed: false,
            dead: false,
        });
    }
    let mut events_buf = Events::with_capacity(1024);
    let mut scratch = vec![0u8; 16 * 1024];
    let mut stamps = Vec::new();
    let mut latencies: Vec<f64> = Vec::new();
    // Wait until every subscriber has its response head: then the window opens.
    let mut window: Option<(Instant, Instant)> = None;
    loop {
        let now = Instant::now();
        if let Some((_, end)) = window {
            if now >= end {
                break;
            }
        } else if subs.iter().all(|s| s.subscribed || s.dead) || now > opened + OPEN_DEADLINE {
            window = Some((now, now + Duration::from_secs_f64(cli.secs)));
        }
        poll.poll(&mut events_buf, Some(POLL_WAIT))?;
        for ev in events_buf.iter() {
            let s = &mut subs[ev.token().0];
            if s.dead {
                continue;
            }
            stamps.clear();
            if let Err(e) = on_readable(t, s, &mut scratch, &mut stamps) {
                s.dead = true;
                errors += 1;
                first_error.get_or_insert(e);
                continue;
            }
            // Only events that arrive inside the window count.
            if window.is_some() {
                let now = now_us();
                latencies.extend(stamps.iter().map(|&at| now.saturating_sub(at) as f64));
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    let subscribed = subs.iter().filter(|s| s.subscribed && !s.dead).count();
    let result = format!(
        "{{\"technique\":\"{}\",\"conns\":{},\"subscribed\":{},\"open_secs\":{:.3},\"events\":{},\
         \"latency_p50_us\":{},\"latency_p99_us\":{},\"errors\":{},\"first_error\":{}}}",
        if t == Technique::Sse { "sse" } else { "ws" },
        cli.conns,
        subscribed,
        window.map_or(0.0, |(start, _)| (start - opened).as_secs_f64()),
        latencies.len(),
        json_num(percentile(&latencies, 50.0)),
        json_num(percentile(&latencies, 99.0)),
        errors,
        first_error.map_or("null".into(), |e| format!("{e:?}")),
    );
    println!("{result}");
    Ok(())
}

fn json_num(v: Option<f64>) -> String {
    v.map_or("null".into(), |x| format!("{x:.0}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SSE: complete blocks give their stamps; a half block waits in the buffer.
    #[test]
    fn sse_blocks_and_a_partial_one() {
        let mut buf = b"id: 1\ndata: {\"at_us\":10,\"data\":\"tick 1\",\"id\":1}\n\nid: 2\ndata: {\"at_us\":2".to_vec();
        let mut stamps = Vec::new();
        events(Technique::Sse, &mut buf, &mut stamps).unwrap();
        assert_eq!(stamps, [10]);
        assert_eq!(buf, b"id: 2\ndata: {\"at_us\":2");
    }

    /// WebSocket: unmasked server text frames, 7-bit and 16-bit lengths; a
    /// partial frame stays; a Close ends the subscriber.
    #[test]
    fn ws_frames_lengths_and_close() {
        let small = br#"{"at_us":7,"id":1}"#;
        let mut buf = vec![0x81, small.len() as u8];
        buf.extend_from_slice(small);
        let big = format!("{{\"at_us\":9,\"data\":\"{}\",\"id\":2}}", "x".repeat(200));
        buf.extend_from_slice(&[0x81, 126]);
        buf.extend_from_slice(&(big.len() as u16).to_be_bytes());
        buf.extend_from_slice(big.as_bytes());
        buf.extend_from_slice(&[0x81, 20, b'{']);
        let mut stamps = Vec::new();
        events(Technique::Ws, &mut buf, &mut stamps).unwrap();
        assert_eq!(stamps, [7, 9]);
        assert_eq!(buf, [0x81, 20, b'{']);
        let mut close = vec![0x88, 2, 0x03, 0xe8];
        assert!(events(Technique::Ws, &mut close, &mut stamps).is_err());
    }
}
