//! Exercise 14 — a chat client that talks and listens at the same time (a solution).
//!
//! A TCP connection carries two independent byte streams, one each way: either
//! side may send whenever it likes, whatever the other is doing. A chat client
//! needs exactly that. What you type goes to the peer, and what the peer sends
//! is printed as it arrives, even while you are in the middle of typing.
//!
//! Each direction gets its own thread, because each blocks in its own read():
//! the main thread in stdin's, the listening thread in the socket's. (An event
//! loop, as `socklab serve` uses, would wait for both in one thread.)
//!
//! Run:   cargo run -p ex14-duplex-chat-solution -- 127.0.0.1:7070   (against `socklab serve chat`;
//!        join from a second terminal with `nc 127.0.0.1 7070` and talk both ways)
//! Check: socklab exercise check 14
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7070".into());
    let stream = TcpStream::connect(&addr)?;
    // The socket to the screen, in a thread of its own: it sits in read()
    // while the main thread sits in stdin's read().
    let from_peer = BufReader::new(stream.try_clone()?);
    let listening = thread::spawn(move || -> io::Result<()> {
        for line in from_peer.lines() {
            println!("recv: {}", line?);
        }
        Ok(()) // the peer's FIN: nothing more will come
    });
    // The keyboard to the socket, here.
    let mut to_peer = stream.try_clone()?;
    for line in io::stdin().lock().lines() {
        writeln!(to_peer, "{}", line?)?;
    }
    // Stdin ended: FIN for our direction only. The peer may still be talking,
    // so keep the reading side open until it closes too.
    stream.shutdown(Shutdown::Write)?;
    listening
        .join()
        .map_err(|_| io::Error::other("the listening thread panicked"))?
}
