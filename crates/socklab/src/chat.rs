//! `socklab chat URL`: type lines, see whatever arrives the moment it arrives.
//!
//! Full duplex (lesson 12): sending and receiving do not take turns. Lines you
//! type are sent; anything the server sends — an echo, a push, a ping — is
//! printed as soon as it is read, even while you are in the middle of typing.
//! One thread reads the keyboard; the main thread sends what it typed and reads
//! the socket with a short timeout so it can do both.
//!
//! Try: `socklab serve ws` in one terminal, `socklab chat ws://127.0.0.1:8080/` in
//! another. Then the same with `tcp://127.0.0.1:7007` and `udp://127.0.0.1:7007`.
//! End with Ctrl-D (closes cleanly) or Ctrl-C.
//!
//! What one typed line becomes depends on the transport: a WebSocket message or a
//! datagram keeps its own boundaries, so the line goes as it is; a byte stream
//! (tcp://, tls://) has none, so the line goes with its `\n`, the only way a
//! line-reading server (`socklab serve chat`'s TCP side, or anything reading lines)
//! can tell where it ends.

use std::io::{self, BufRead, Write};
use std::sync::mpsc::{self, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use clap::Args;
use client::wire::quoted;
use client::{Framing, Incoming, Transport};

/// How long one socket read waits before the loop checks the keyboard again. Short
/// enough that a typed line goes out at once, long enough not to spin.
const POLL: Duration = Duration::from_millis(20);

/// After the keyboard's end (Ctrl-D, or the end of piped input), how long to keep
/// printing arrivals before closing: echoes of the last lines are still on the way.
const LINGER: Duration = Duration::from_millis(300);

/// Flags of `socklab chat`.
#[derive(Args)]
#[command(
    after_help = "Examples (start the servers first: socklab serve all):\n  socklab chat ws://127.0.0.1:8080/     # each line is one WebSocket message\n  socklab chat tcp://127.0.0.1:7007     # each line is one write(); echoes are reads\n  socklab chat udp://127.0.0.1:7007     # each line is one datagram\n  socklab chat ws://127.0.0.1:8080/ --deflate  # lines compressed (serve ws --deflate)\nEnd with Ctrl-D (a clean close) or Ctrl-C."
)]
pub struct Chat {
    /// Where to connect: tcp://HOST:PORT, udp://HOST:PORT, ws://HOST:PORT/PATH, tls://HOST:PORT or wss://HOST:PORT/PATH
    url: String,
    #[command(flatten)]
    trust: crate::trust::TrustArgs,
    /// ws/wss only: offer permessage-deflate as a browser does; if the server
    /// agrees, every line goes (and comes) compressed
    #[arg(long)]
    deflate: bool,
}

impl Chat {
    /// Runs until Ctrl-D, Ctrl-C or the server closing.
    pub fn run(self) -> anyhow::Result<()> {
        let (mut t, framing) = {
            let mut target = client::Target::parse(&self.url)?;
            if target.scheme.secure() {
                target.trust = self.trust.trust();
            }
            let offer = crate::send_deflate::offer(target.scheme, self.deflate, false)?;
            let t = Transport::connect_offering(&target, lifecycle::TapLog::new(), &[], offer)
                .map_err(|e| crate::send::connect_error(e, &target))?;
            if offer.is_some() {
                eprintln!("{}", crate::send_deflate::agreement_line(t.deflate()));
            }
            (t, target.scheme.framing())
        };
        t.set_read_timeout(Some(POLL))?;
        let started = Instant::now();
        eprintln!(
            "connected: {} — type a line and press Enter; Ctrl-D to close",
            t.tuple()
        );

        // The keyboard on its own thread: reading stdin blocks, and the socket must
        // still be read meanwhile.
        let (lines, typed) = mpsc::channel::<String>();
        thread::Builder::new()
            .name("keyboard".into())
            .spawn(move || {
                for line in io::stdin().lock().lines().map_while(Result::ok) {
                    if lines.send(line).is_err() {
                        break;
                    }
                }
            })?;

        let stamp = || format!("[{:>8.3} s]", started.elapsed().as_secs_f64());
        let mut last_arrival = Instant::now();
        let mut input_ended = false;
        loop {
            match typed.try_recv() {
                Ok(line) => {
                    let unit = outgoing(framing, line);
                    t.send(&unit)?;
                    outln!("{} → {}", stamp(), quoted(&unit));
                }
                Err(TryRecvError::Empty) => {}
                // Ctrl-D: no more lines. Close once nothing has arrived for LINGER.
                Err(TryRecvError::Disconnected) => {
                    if !input_ended {
                        input_ended = true;
                        last_arrival = Instant::now();
                    }
                    if last_arrival.elapsed() >= LINGER {
                        break;
                    }
                }
            }
            let received = t.receive();
            if received.is_ok() {
                last_arrival = Instant::now();
            }
            match received {
                Ok(Incoming::Data(bytes)) => outln!("{} ← {}", stamp(), quoted(&bytes)),
                Ok(Incoming::Ping(bytes)) => outln!("{} ← ping {}", stamp(), quoted(&bytes)),
                Ok(Incoming::Pong(bytes)) => outln!("{} ← pong {}", stamp(), quoted(&bytes)),
                Ok(Incoming::Close(code)) => {
                    outln!("{} ← close frame {code:?}", stamp());
                }
                Ok(Incoming::End) => {
                    outln!("{} the server closed the connection", stamp());
                    return Ok(());
                }
                Err(e) if e.is_timeout() => {} // nothing arrived in POLL: check the keyboard
                Err(e) => return Err(e.into()),
            }
            io::stdout().flush()?;
        }
        let report = t.close()?;
        if let Some(first) = report.first_fin() {
            eprintln!(
                "closed: first FIN from the {first}; in TIME_WAIT: {}",
                report
                    .time_wait()
                    .map_or("neither".to_string(), |s| s.to_string())
            );
        }
        Ok(())
    }
}

/// What one typed line (read without its end of line) is sent as: on a byte
/// stream, the line and its `\n` (the stream keeps no boundary, the newline is
/// the boundary); as a message or a datagram, the line alone (the unit is the
/// boundary).
fn outgoing(framing: Framing, line: String) -> Vec<u8> {
    let mut unit = line.into_bytes();
    if framing == Framing::Bytes {
        unit.push(b'\n');
    }
    unit
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lesson 12 with `serve chat`: a line typed into `chat tcp://` must end in
    /// `\n`, or a line-reading server waits for the rest of it forever.
    #[test]
    fn a_stream_line_keeps_its_newline() {
        assert_eq!(outgoing(Framing::Bytes, "hi".into()), b"hi\n");
        assert_eq!(outgoing(Framing::Messages, "hi".into()), b"hi");
        assert_eq!(outgoing(Framing::Datagrams, "hi".into()), b"hi");
    }
}
