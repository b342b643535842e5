//! Exercise 9 — half-close: say "that's all" and still read the answer (a solution).
//!
//! The server this client talks to reads until end of stream, counts the bytes
//! and only then answers, `received N bytes`, and closes. It cannot answer
//! earlier: on a byte stream, only the client's FIN tells it the request is
//! complete. Closing the socket would send FIN, but then the answer would have
//! nowhere to go.
//!
//! Your task: after writing the message, send FIN but keep reading
//! (`shutdown(SHUT_WR)`), then print the answer as `reply: ...`.
//!
//! Run:   cargo run -p ex09-half-close-solution -- 127.0.0.1:7007 hello
//!        (against `socklab serve tcp` you get the echo, then the end of stream)
//! Check: socklab exercise check 9
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:7007".into());
    let message = args.next().unwrap_or_else(|| "hello".into());
    let mut stream = TcpStream::connect(&addr)?;
    stream.write_all(message.as_bytes())?;
    // shutdown(SHUT_WR): the kernel sends FIN after the data; we can still read.
    stream.shutdown(Shutdown::Write)?;
    // Read until the server's FIN.
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    println!("reply: {}", reply.trim_end());
    Ok(())
}
