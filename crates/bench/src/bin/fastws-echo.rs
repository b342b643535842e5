//! `fastws-echo`: the WebSocket echo Deno's `fastwebsockets` runs, on tokio with
//! as many runtime threads as socklab's event loop has loops. Bench-only: a
//! second reference, beside tokio-tungstenite, that `scripts/bench.sh` measures
//! socklab's ws-echo against.
//!
//! Only the crate's io-util core is used: its `upgrade` feature would bring
//! hyper 1 for the opening handshake, so the handshake is websocket's strict
//! §4.2.1 check instead (the one every socklab server runs), and the frames are
//! fastwebsockets' own: its `FragmentCollector` and the echo loop of its
//! `echo_server` example, each connection an unconstrained task as there.
//!
//! Run: `fastws-echo --addr 127.0.0.1:7102 --threads 2`, then
//! `socklab bench ws://127.0.0.1:7102/`.

use std::io;
use std::net::SocketAddr;

use clap::Parser;
use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket, WebSocketError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use websocket::origin::OriginPolicy;
use websocket::upgrade::{self, Decision};

/// Bytes read at a time while the request head comes in.
const HEAD_CHUNK: usize = 1024;

/// What `GET /` without an Upgrade gets.
const PAGE: &str = "<p>fastws-echo: a bench reference WebSocket echo; connect with ws://</p>";

/// fastwebsockets WebSocket echo (bench reference).
#[derive(Parser)]
struct Cli {
    /// Address to listen on (loopback)
    #[arg(long, default_value = "127.0.0.1:7102")]
    addr: SocketAddr,
    /// Tokio runtime worker threads (default: one per core, as socklab's event loops)
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let threads = cli
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_io()
        .build()?;
    runtime.block_on(serve(cli.addr))
}

async fn serve(addr: SocketAddr) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(tokio::task::unconstrained(async move {
                    if let Err(e) = connection(stream).await {
                        eprintln!("fastws-echo: {e}");
                    }
                }));
            }
            Err(e) => eprintln!("fastws-echo: accept: {e}"),
        }
    }
}

/// The Upgrade, then every data message back as it came (fragments collected).
async fn connection(mut stream: TcpStream) -> Result<(), WebSocketError> {
    stream.set_nodelay(true)?;
    if !handshake(&mut stream).await? {
        return Ok(());
    }
    let mut ws = FragmentCollector::new(WebSocket::after_handshake(stream, Role::Server));
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}

/// Reads the request head and answers it as websocket's check decides: true
/// once the 101 is sent, false after a refusal or the page (then close).
async fn handshake(stream: &mut TcpStream) -> io::Result<bool> {
    let mut head = Vec::with_capacity(HEAD_CHUNK);
    let mut chunk = [0u8; HEAD_CHUNK];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(false);
        }
        head.extend_from_slice(&chunk[..n]);
        // Past upgrade::MAX_HEAD the check itself answers 431: this loop ends.
        match upgrade::check_request(&head, &OriginPolicy::any()) {
            Decision::Incomplete => continue,
            Decision::Upgrade(up) if head.len() > up.head_len => {
                // A frame sent before the 101 would have to be handed to
                // fastwebsockets ahead of the socket; no client bench.sh runs
                // does that, so it is refused rather than lost.
                let refusal = upgrade::Rejection {
                    status: 400,
                    reason: "fastws-echo: data before the 101 is not supported".into(),
                };
                stream.write_all(&refusal.response()).await?;
                return Ok(false);
            }
            Decision::Upgrade(up) => {
                stream.write_all(&up.response()).await?;
                return Ok(true);
            }
            Decision::Page => {
                stream.write_all(&upgrade::page_response(PAGE)).await?;
                return Ok(false);
            }
            Decision::Reject(rejection) => {
                stream.write_all(&rejection.response()).await?;
                return Ok(false);
            }
        }
    }
}
