//! `ping-flood`: a hostile WebSocket client. Bench-only (driven by
//! `scripts/bench.sh`); not a client to learn from.
//!
//! It upgrades one connection, then sends 125-byte Pings (the largest a control
//! frame may carry) as fast as it can, many per `write()`, and never reads a
//! byte. Its receive buffer is made tiny before `connect()`, so the server's
//! Pongs fill it almost at once: every Pong after that has to wait in the
//! server. A server that queues them without bound grows; one that counts them
//! stops reading the flooder and, past `--write-stall-timeout`, closes it.
//!
//! Run: `socklab serve ws --write-stall-timeout 1`, then
//! `ping-flood ws://127.0.0.1:8080/ --secs 3`. Prints one JSON line: how much
//! it sent, and whether (and when) the server closed the connection.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bench::{Kind, Target};
use clap::Parser;
use socket2::{Domain, Protocol, Socket, Type};

/// The payload of a Ping: 125 bytes, the most a control frame may carry.
const PING_PAYLOAD: usize = 125;

/// Pings per `write()`: many, so the flood outruns the server's replies.
const PINGS_PER_WRITE: usize = 64;

/// The attacker's receive buffer, asked of the kernel (it rounds up to its minimum).
const TINY_RCVBUF: usize = 1024;

/// How long one blocked `write()` waits before the loop looks at the clock again.
const WRITE_WAIT: Duration = Duration::from_millis(100);

/// Pings forever (until --secs), never reads.
#[derive(Parser)]
struct Cli {
    /// ws://IP:PORT/ (loopback only)
    url: Target,
    /// How long to flood, in seconds (at most 60)
    #[arg(long, default_value_t = 3.0)]
    secs: f64,
}

/// One masked client Ping frame (RFC 6455 §5.2: FIN + opcode 0x9, MASK bit, length 125).
fn ping_frame(out: &mut Vec<u8>) {
    const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
    out.push(0x89);
    out.push(0x80 | PING_PAYLOAD as u8);
    out.extend_from_slice(&MASK);
    out.extend((0..PING_PAYLOAD).map(|i| b'p' ^ MASK[i % 4]));
}

/// Connects with a tiny receive buffer (it must be set before `connect()` to
/// shape the window the server sees) and does the Upgrade by hand.
fn connect(addr: SocketAddr, url: &str) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_recv_buffer_size(TINY_RCVBUF)?;
    socket.connect_timeout(&addr.into(), Duration::from_secs(5))?;
    let mut stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let path = url.splitn(4, '/').nth(3).unwrap_or("");
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )?;
    // Read the response head only (bounded: 8 KiB), byte by byte so that
    // nothing after it is consumed.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
        stream.read_exact(&mut byte)?;
        head.push(byte[0]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        let first = String::from_utf8_lossy(&head);
        return Err(io::Error::other(format!(
            "no upgrade: {}",
            first.lines().next().unwrap_or("")
        )));
    }
    stream.set_write_timeout(Some(WRITE_WAIT))?;
    Ok(stream)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    anyhow::ensure!(cli.url.kind == Kind::Ws, "ping-flood needs a ws:// URL");
    anyhow::ensure!(
        cli.secs > 0.0 && cli.secs <= 60.0,
        "--secs must be in (0, 60]"
    );
    let mut stream = connect(cli.url.addr, &cli.url.url)?;
    let mut batch = Vec::new();
    for _ in 0..PINGS_PER_WRITE {
        ping_frame(&mut batch);
    }
    let frame_len = batch.len() / PINGS_PER_WRITE;
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(cli.secs);
    let mut sent: u64 = 0; // bytes
    let mut offset = 0; // into the batch: a write may take part of it
    let mut closed: Option<(f64, String)> = None;
    while Instant::now() < deadline {
        match stream.write(&batch[offset..]) {
            Ok(0) => {
                closed = Some((started.elapsed().as_secs_f64(), "write returned 0".into()));
                break;
            }
            Ok(n) => {
                sent += n as u64;
                offset = (offset + n) % batch.len();
            }
            // The server stopped reading us: our send buffer is full. Expected.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // EPIPE / ECONNRESET: the server closed the connection.
            Err(e) => {
                closed = Some((started.elapsed().as_secs_f64(), e.to_string()));
                break;
            }
        }
    }
    let (closed_json, after, how) = match &closed {
        Some((t, how)) => ("true", format!("{t:.3}"), format!("\"{how}\"")),
        None => ("false", "null".to_string(), "null".to_string()),
    };
    println!(
        "{{\"secs\":{},\"pings_sent\":{},\"bytes_sent\":{sent},\"closed\":{closed_json},\"closed_after_secs\":{after},\"closed_how\":{how}}}",
        cli.secs,
        sent / frame_len as u64
    );
    Ok(())
}
