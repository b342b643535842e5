//! Exercise 14 — a chat client that talks and listens at the same time.
//!
//! A TCP connection carries two independent byte streams, one each way: either
//! side may send whenever it likes, whatever the other is doing. A chat client
//! needs exactly that. What you type goes to the peer, and what the peer sends
//! is printed as it arrives, even while you are in the middle of typing.
//!
//! This version takes turns: it waits for a line from you, sends it, then
//! waits for one line from the peer. A peer who speaks first, or twice, waits
//! for you.
//!
//! Your task: send every line typed on stdin, print every line the peer sends
//! as `recv: LINE` the moment it arrives, and when stdin ends (Ctrl-D) tell the
//! peer with FIN but keep printing until the peer closes too.
//!
//! Run:   cargo run -p ex14-duplex-chat -- 127.0.0.1:7070   (against `socklab serve chat`;
//!        join from a second terminal with `nc 127.0.0.1 7070` and talk both ways)
//! Check: socklab exercise check 14
use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7070".into());
    let stream = TcpStream::connect(&addr)?;
    // Two handles on the one socket: one to read from, one to write to.
    let mut from_peer = BufReader::new(stream.try_clone()?);
    let mut to_peer = stream;
    // One loop, taking turns: a line from you, then a line from the peer.
    for line in io::stdin().lock().lines() {
        writeln!(to_peer, "{}", line?)?;
        let mut heard = String::new();
        if from_peer.read_line(&mut heard)? == 0 {
            break; // the peer closed
        }
        println!("recv: {}", heard.trim_end());
    }
    Ok(())
}
