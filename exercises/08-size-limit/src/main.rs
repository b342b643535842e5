//! Exercise 8 — a message-size limit, answered with close code 1009.
//!
//! A WebSocket frame announces its length before its payload, up to 2^63 bytes.
//! A server that believes every length can be made to buffer anything, so real
//! servers set a limit, and RFC 6455 §7.4.1 gives the answer for a message over
//! it: close code 1009, "message too big".
//!
//! This echo server (tungstenite, a thread per connection) has no limit of its
//! own: tungstenite's default is 64 MiB.
//!
//! Your task: refuse any message longer than 1024 bytes by closing the
//! connection with 1009; keep echoing messages up to 1024 bytes.
//!
//! Run:   cargo run -p ex08-size-limit -- 127.0.0.1:8080
//! Try:   socklab send ws://127.0.0.1:8080/ "$(head -c 2000 /dev/zero | tr '\0' x)" --wire
//! Check: socklab exercise check 8
use std::io;
use std::net::{TcpListener, TcpStream};
use std::thread;

use tungstenite::Message;

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, peer) = listener.accept()?;
        thread::spawn(move || {
            if let Err(e) = echo_messages(stream) {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

/// The Upgrade, then every message back, until the client closes.
fn echo_messages(stream: TcpStream) -> Result<(), tungstenite::Error> {
    let mut ws = tungstenite::accept(stream).map_err(|e| match e {
        tungstenite::HandshakeError::Failure(e) => e,
        tungstenite::HandshakeError::Interrupted(_) => unreachable!("a blocking socket"),
    })?;
    loop {
        match ws.read() {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => ws.send(message)?,
            // Pings are answered by tungstenite itself; a close frame is
            // answered too, and the next read says the conversation is over.
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}
