//! Exercise 4 — move TIME_WAIT to the client (a solution).
//!
//! This server reads one line, answers `bye`, and closes at once. Whoever sends
//! the first FIN (the "active close") keeps the connection in TIME_WAIT for 60 s
//! on Linux; here that is the server, so a busy server collects thousands of
//! TIME_WAIT entries, one per client.
//!
//! Your task: let the client close first. After answering, wait for the
//! client's FIN (read returns 0), and only then close. The client's end then
//! goes to TIME_WAIT and the server's end goes straight to CLOSED.
//!
//! Run:   cargo run -p ex04-time-wait-solution -- 127.0.0.1:7007
//! Try:   `socklab send tcp://127.0.0.1:7007 hi --states`, or `ss -tan state time-wait`
//! Check: socklab exercise check 4
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7007".into());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, peer) = listener.accept()?;
        if let Err(e) = answer_once(stream) {
            eprintln!("{peer}: {e}");
        }
    }
}

/// Reads one line, answers `bye`, waits for the client's FIN, then closes.
fn answer_once(stream: TcpStream) -> io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut stream = reader.into_inner();
    stream.write_all(b"bye\n")?;
    // The client speaks first when it closes: read until its FIN (read
    // returns 0). Anything else it sends meanwhile is ignored.
    let mut rest = [0u8; 512];
    while stream.read(&mut rest)? > 0 {}
    // Now our close() is the passive one: our FIN answers theirs, and the
    // client, whose FIN came first, holds TIME_WAIT.
    Ok(())
}
