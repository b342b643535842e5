//! Exercise 6 — find the messages in a byte stream (a solution).
//!
//! The messages are lines, so the boundary is the `\n` byte, not the `read()`:
//! `BufReader::lines` keeps the bytes of an unfinished line until the rest
//! arrives, however many reads that takes.
//!
//! Run:   cargo run -p ex06-boundaries-solution -- 127.0.0.1:7007
//! Check: socklab exercise check 6 --path exercises/solutions/06-boundaries
use std::io::{self, BufRead, BufReader};
use std::net::TcpStream;

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7007".into());
    let stream = TcpStream::connect(&addr)?;
    // Each item is one whole line, whichever reads its bytes came in.
    for line in BufReader::new(stream).lines() {
        println!("message: {}", line?);
    }
    Ok(())
}
