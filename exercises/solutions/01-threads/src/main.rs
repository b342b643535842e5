//! Exercise 1 — serve two clients at once (a solution).
//!
//! This is the iterative echo server (socklab's version 1): it accepts one
//! client, echoes until that client closes, and only then accepts the next.
//! A second client can connect (the kernel completes its handshake and queues
//! it in the listen backlog) but gets no echo until the first one leaves.
//!
//! Your task: give each accepted connection its own thread, so both are echoed.
//!
//! Run:   cargo run -p ex01-threads-solution -- 127.0.0.1:7007
//! Try:   two `ncat 127.0.0.1 7007` side by side
//! Check: socklab exercise check 1
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7007".into());
    // socket() + bind() + listen(): port 0 lets the kernel choose a free port.
    let listener = TcpListener::bind(&addr)?;
    // The checker reads this line to learn the port.
    println!("listening on {}", listener.local_addr()?);
    loop {
        // accept(): the next connection from the backlog.
        let (stream, peer) = listener.accept()?;
        // One thread per connection: the loop goes straight back to accept().
        thread::spawn(move || {
            if let Err(e) = echo_stream(stream) {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

/// Echoes every byte until the client sends FIN (read returns 0).
fn echo_stream(mut stream: TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf)? {
            0 => return Ok(()), // end of stream: the client closed
            n => stream.write_all(&buf[..n])?,
        }
    }
}
