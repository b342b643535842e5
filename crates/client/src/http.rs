//! `socklab send http://…`: plain HTTP/1.1 requests on one keep-alive
//! connection, over the Tap, so every byte of every head is counted.
//!
//! HTTP is request/response (lesson 4): the client asks, the server answers,
//! and the next question may use the same connection (HTTP/1.1 keep-alive,
//! lesson 21). With no message, `send` makes one `GET` of the URL's path; each
//! message becomes one `POST` of that path with the message as its body (try
//! `socklab send http://127.0.0.1:8090/publish hello` against `socklab serve
//! push`). A response whose body has no length (a stream, Server-Sent Events)
//! is read until the timeout and shown as far as it came.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use http1::{Parsed, ResponseHead, parse_response};
use lifecycle::tap::Record;
use lifecycle::{FourTuple, Proto, Tap, TapLog};

/// One request and what came back.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The request line, e.g. `GET /poll?since=0 HTTP/1.1`.
    pub request_line: String,
    /// Bytes of the whole request (head and body) as written.
    pub request_bytes: usize,
    /// The response head, if one came.
    pub response: Option<ResponseHead>,
    /// The response body (as far as it came within the timeout).
    pub body: Vec<u8>,
    /// Whether the body ended where its head said it would (Content-Length);
    /// false for a body that never ends (chunked streams, `text/event-stream`).
    pub complete: bool,
}

/// What a run of requests did.
#[derive(Debug)]
pub struct HttpRun {
    /// The connection's name.
    pub tuple: FourTuple,
    /// How long connect() took.
    pub connect_time: Duration,
    /// Every byte, both ways, with its time.
    pub records: Vec<Record>,
    /// One per request, in order.
    pub exchanges: Vec<Exchange>,
}

/// Sends one GET of `path` (no bodies) or one POST of `path` per body, all on
/// one connection to `addr`, and reads each response.
pub fn exchange(
    addr: std::net::SocketAddr,
    host: &str,
    path: &str,
    bodies: &[String],
    timeout: Duration,
) -> io::Result<HttpRun> {
    let started = Instant::now();
    let stream = TcpStream::connect_timeout(&addr, timeout)?;
    let connect_time = started.elapsed();
    let tuple = FourTuple {
        proto: Proto::Tcp,
        local: stream.local_addr()?,
        peer: addr,
    };
    let log = TapLog::new();
    let mut tap = Tap::with_log(stream, log.clone());
    let mut buf = Vec::new();
    let mut exchanges = Vec::new();
    let requests: Vec<(String, Vec<u8>)> = if bodies.is_empty() {
        vec![(format!("GET {path} HTTP/1.1"), Vec::new())]
    } else {
        bodies
            .iter()
            .map(|b| (format!("POST {path} HTTP/1.1"), b.as_bytes().to_vec()))
            .collect()
    };
    for (line, body) in requests {
        let mut request = format!("{line}\r\nHost: {host}\r\n").into_bytes();
        if !body.is_empty() || line.starts_with("POST") {
            request.extend_from_slice(
                format!(
                    "Content-Type: text/plain\r\nContent-Length: {}\r\n",
                    body.len()
                )
                .as_bytes(),
            );
        }
        request.extend_from_slice(b"\r\n");
        request.extend_from_slice(&body);
        // One write for the whole request: in pieces, Nagle's algorithm would
        // hold the second piece for the peer's delayed ACK.
        tap.write_all(&request)?;
        let ex = read_response(&mut tap, &mut buf, timeout, line, request.len())?;
        let closes = ex
            .response
            .as_ref()
            .is_none_or(|r| r.headers.has_token("connection", "close") || !ex.complete);
        exchanges.push(ex);
        if closes {
            break; // the server closes (or is still streaming): no next request here
        }
    }
    drop(tap);
    Ok(HttpRun {
        tuple,
        connect_time,
        records: log.records(),
        exchanges,
    })
}

/// Reads one response: its head, then its body by Content-Length, or — with no
/// length — whatever comes until `timeout`.
fn read_response(
    tap: &mut Tap<TcpStream>,
    buf: &mut Vec<u8>,
    timeout: Duration,
    request_line: String,
    request_bytes: usize,
) -> io::Result<Exchange> {
    let deadline = Instant::now() + timeout;
    let mut chunk = [0u8; 8192];
    let mut fill = |tap: &mut Tap<TcpStream>, buf: &mut Vec<u8>| -> io::Result<bool> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        tap.get_ref().set_read_timeout(Some(left))?;
        match tap.read(&mut chunk) {
            Ok(0) => Ok(false),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    };
    let head = loop {
        match parse_response(buf) {
            Ok(Parsed::Complete(head)) => break Some(head),
            Ok(Parsed::Incomplete) => {
                if !fill(tap, buf)? {
                    break None;
                }
            }
            // http1's error says "not an HTTP response: …" itself.
            Err(e) => return Err(io::Error::other(e)),
        }
    };
    let Some(head) = head else {
        return Ok(Exchange {
            request_line,
            request_bytes,
            response: None,
            body: std::mem::take(buf),
            complete: false,
        });
    };
    buf.drain(..head.head_len);
    let length = head
        .headers
        .get("content-length")
        .and_then(|n| n.trim().parse::<usize>().ok())
        .or(match head.status {
            100..=199 | 204 | 304 => Some(0),
            _ => None,
        });
    let complete = match length {
        Some(len) => {
            while buf.len() < len && fill(tap, buf)? {}
            buf.len() >= len
        }
        None => {
            while fill(tap, buf)? {}
            false
        }
    };
    let body: Vec<u8> = match length {
        Some(len) => buf.drain(..len.min(buf.len())).collect(),
        None => std::mem::take(buf),
    };
    Ok(Exchange {
        request_line,
        request_bytes,
        response: Some(head),
        body,
        complete,
    })
}
