//! Exercise 11 — two HTTP requests on one TCP connection (keep-alive).
//!
//! "The web server cuts the connection after sending the response" was true of
//! HTTP/1.0. Since HTTP/1.1 a connection stays open for the next request unless
//! one side says `Connection: close`; the response's `Content-Length` tells the
//! client where one answer ends and the next may begin.
//!
//! This client asks the push server (`socklab serve push`) for `/poll?since=0`
//! twice, but opens a new connection for each request and asks for it to be
//! closed.
//!
//! Your task: send both requests over the same connection, and print both
//! status lines as `status: ...`.
//!
//! Run:   cargo run -p ex11-keep-alive -- 127.0.0.1:8090
//! Check: socklab exercise check 11
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".into());
    for _ in 0..2 {
        let stream = TcpStream::connect(&addr)?;
        let request =
            format!("GET /poll?since=0 HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        (&stream).write_all(request.as_bytes())?;
        let mut reader = BufReader::new(stream);
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
