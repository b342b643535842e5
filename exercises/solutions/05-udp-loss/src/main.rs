//! Exercise 5 — a UDP client that notices loss and reordering (a solution).
//!
//! UDP gives each datagram to the network and forgets it: nothing is resent and
//! nothing is put back in order. The only way to notice is to number the
//! datagrams yourself. This client sends `seq 1` … `seq COUNT` to an echo
//! server and reads the echoes until nothing arrives for half a second.
//!
//! Your task: print which sequence numbers never came back, and which came back
//! after a higher one had already arrived, as two lines:
//!
//! ```text
//! lost: 4 9
//! reordered: 6
//! ```
//!
//! (`lost:` or `reordered:` with nothing after it when there are none.)
//! The checker puts a relay between you and a real UDP echo server that drops
//! and delays datagrams, chosen from a seed it prints.
//!
//! Run:   cargo run -p ex05-udp-loss-solution -- 127.0.0.1:7007 20   (against `socklab serve udp`: nothing lost)
//! Check: socklab exercise check 5
use std::io;
use std::net::UdpSocket;
use std::time::Duration;

/// How long a silence means "everything that will come has come".
const QUIET: Duration = Duration::from_millis(500);

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let server = args.next().unwrap_or_else(|| "127.0.0.1:7007".into());
    let count: u32 = args.next().and_then(|n| n.parse().ok()).unwrap_or(20);
    // socket() + bind() to any free port; connect() only records the peer.
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.connect(&server)?;
    for seq in 1..=count {
        socket.send(format!("seq {seq}").as_bytes())?;
    }
    socket.set_read_timeout(Some(QUIET))?;
    let mut arrived = Vec::new();
    let mut buf = [0u8; 1500];
    loop {
        match socket.recv(&mut buf) {
            Ok(n) => arrived.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
            // The timeout: half a second of silence, so we are done.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                break;
            }
            Err(e) => return Err(e),
        }
    }
    eprintln!("{} of {count} echoes arrived", arrived.len());
    let seqs: Vec<u32> = arrived
        .iter()
        .filter_map(|text| text.strip_prefix("seq ")?.parse().ok())
        .collect();
    // Lost: sent, never echoed.
    let lost: Vec<u32> = (1..=count).filter(|n| !seqs.contains(n)).collect();
    // Reordered: arrived when a higher number had already arrived.
    let mut highest = 0;
    let mut reordered = Vec::new();
    for &seq in &seqs {
        if seq < highest {
            reordered.push(seq);
        }
        highest = highest.max(seq);
    }
    println!("lost:{}", list(&lost));
    println!("reordered:{}", list(&reordered));
    Ok(())
}

/// ` 4 9`: each number after a space.
fn list(numbers: &[u32]) -> String {
    numbers.iter().map(|n| format!(" {n}")).collect()
}
