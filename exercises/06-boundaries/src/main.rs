//! Exercise 6 — find the messages in a byte stream.
//!
//! The server this client talks to sends three lines, `one`, `two`, `three`,
//! each ending in `\n`, and then closes. TCP delivers the bytes in order, but
//! keeps no trace of how they were written: one `read()` may return half a line,
//! or a line and a half.
//!
//! Your task: print each line as one `message: ...` line, whatever the reads
//! return:
//!
//! ```text
//! message: one
//! message: two
//! message: three
//! ```
//!
//! Run:   cargo run -p ex06-boundaries -- 127.0.0.1:7007
//! Check: socklab exercise check 6 (its server cuts the lines at awkward places)
use std::io::{self, Read};
use std::net::TcpStream;

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7007".into());
    let mut stream = TcpStream::connect(&addr)?;
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(()); // end of stream: the server closed
        }
        // This treats one read() as one message.
        let text = String::from_utf8_lossy(&buf[..n]);
        println!("message: {}", text.trim_end_matches('\n'));
    }
}
