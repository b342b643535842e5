//! `floor-echo`: the plainest TCP echo std can make — a thread per connection,
//! no narration, no limits. Bench-only: it is the floor socklab's servers are
//! measured against in `scripts/bench.sh`, not a server to learn from.
//!
//! Run: `floor-echo --addr 127.0.0.1:7100`, then `socklab bench tcp://127.0.0.1:7100`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;

use clap::Parser;

/// Plain std thread-per-connection TCP echo (bench reference: the floor).
#[derive(Parser)]
struct Cli {
    /// Address to listen on (loopback)
    #[arg(long, default_value = "127.0.0.1:7100")]
    addr: SocketAddr,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let listener = TcpListener::bind(cli.addr)?;
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                thread::spawn(move || echo(stream));
            }
            Err(e) => eprintln!("floor-echo: accept: {e}"),
        }
    }
    Ok(())
}

/// read, write_all, until EOF or an error: nothing else.
fn echo(mut stream: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}
