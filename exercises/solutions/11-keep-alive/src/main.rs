//! Exercise 11 — two HTTP requests on one TCP connection (keep-alive; a solution).
//!
//! "The web server cuts the connection after sending the response" was true of
//! HTTP/1.0. Since HTTP/1.1 a connection stays open for the next request unless
//! one side says `Connection: close`; the response's `Content-Length` tells the
//! client where one answer ends and the next may begin.
//!
//! One `connect()`, two requests: the BufReader (and the socket under it) lives
//! across both, so the second request goes out on the same 4-tuple.
//!
//! Run:   cargo run -p ex11-keep-alive-solution -- 127.0.0.1:8090
//! Check: socklab exercise check 11
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".into());
    let stream = TcpStream::connect(&addr)?;
    let mut reader = BufReader::new(stream);
    for _ in 0..2 {
        // No `Connection: close`: HTTP/1.1 keeps the connection by default.
        let request = format!("GET /poll?since=0 HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        reader.get_mut().write_all(request.as_bytes())?;
        let (status, body) = read_response(&mut reader)?;
        println!("status: {status}");
        eprintln!("body: {}", body.trim_end());
    }
    Ok(())
}

/// Reads one response: the status line, the headers up to the empty line, and
/// exactly `Content-Length` bytes of body — no more, so the next response on
/// the same connection is left for the next call.
fn read_response(reader: &mut BufReader<TcpStream>) -> io::Result<(String, String)> {
    let mut status = String::new();
    reader.read_line(&mut status)?;
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    Ok((
        status.trim_end().to_string(),
        String::from_utf8_lossy(&body).into_owned(),
    ))
}
