//! Exercise 15 — a Server-Sent Events client that loses nothing when the stream breaks (a solution).
//!
//! `GET /events` on `socklab serve push` is one HTTP response that never ends:
//! each event is a block of `field: value` lines ending in a blank line,
//!
//!     id: 42
//!     data: {"id":42,"at_us":…,"data":"…"}
//!
//! A stream breaks (a proxy times out, Wi-Fi drops, the server restarts), and
//! the client reconnects, as the browser's EventSource does by itself. The
//! server keeps publishing in between; the client says where it stopped with a
//! `Last-Event-ID` header, and the server resends what came after.
//!
//! Run:   cargo run -p ex15-sse-resume-solution -- 127.0.0.1:8090 15   (against `socklab serve push`;
//!        restart the server, or kill its connection, while it runs)
//! Check: socklab exercise check 15
use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8090".into());
    let count: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(15);
    let mut printed = 0;
    // The id of the last event printed: what EventSource calls the last event ID.
    let mut last: Option<u64> = None;
    // Each turn of this loop is one connection; a broken stream starts the next.
    loop {
        let mut stream = TcpStream::connect(&addr)?;
        let resume = last.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
        let request = format!(
            "GET /events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n{resume}\r\n"
        );
        stream.write_all(request.as_bytes())?;
        let mut reader = BufReader::new(stream);
        skip_head(&mut reader)?;
        let mut id: Option<u64> = None;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                break; // the stream broke: reconnect, saying where we stopped
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if let Some(value) = line.strip_prefix("id:") {
                id = value.trim().parse().ok();
            } else if line.is_empty() {
                // The event is whole only at its blank line: only then does
                // its id become the one to resume from.
                if let Some(id) = id.take() {
                    println!("event {id}");
                    last = Some(id);
                    printed += 1;
                    if printed == count {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// Reads the response head, up to its blank line.
fn skip_head(reader: &mut BufReader<TcpStream>) -> io::Result<()> {
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            return Ok(());
        }
    }
}
