//! Exercise 12 — a long-polling client that loses nothing and doubles nothing (a solution).
//!
//! HTTP cannot push, so long polling asks and lets the server wait:
//! `GET /long-poll?since=ID` is answered as soon as there is an event newer
//! than ID (a JSON array of `{"id":…,"at_us":…,"data":…}`), and the client asks
//! again at once. Between two requests events keep coming; whether the client
//! sees each exactly once depends only on the `since` it sends next.
//!
//! Your task: print every event id from 1 to COUNT exactly once, in order, as
//! `event N`.
//!
//! Run:   cargo run -p ex12-long-poll-solution -- 127.0.0.1:8090 10   (against `socklab serve push`)
//! Check: socklab exercise check 12
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8090".into());
    let count: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(10);
    // One keep-alive connection for every poll.
    let mut reader = BufReader::new(TcpStream::connect(&addr)?);
    let mut since = 0;
    let mut printed = 0;
    while printed < count {
        let request = format!("GET /long-poll?since={since} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        reader.get_mut().write_all(request.as_bytes())?;
        let (status, body) = read_response(&mut reader)?;
        if !status.contains(" 200 ") {
            continue; // 204: the hold ran out with nothing new; ask again
        }
        let ids = event_ids(&body);
        for &id in &ids {
            println!("event {id}");
            printed += 1;
        }
        if let Some(&last) = ids.last() {
            // since=ID means "newer than ID": send the last id we got, not
            // the one after it, or that next event is skipped.
            since = last;
        }
    }
    Ok(())
}

/// The `"id":N` numbers of a long poll's JSON array, in order.
fn event_ids(body: &str) -> Vec<u64> {
    body.split("\"id\":")
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

/// Reads one response: status line, headers, and `Content-Length` bytes of body.
fn read_response(reader: &mut BufReader<TcpStream>) -> io::Result<(String, String)> {
    let mut status = String::new();
    if reader.read_line(&mut status)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection",
        ));
    }
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
