//! `tokio-ws-echo`: the WebSocket echo a Rust user would write with
//! tokio-tungstenite, default settings, as in its own examples. Bench-only: the
//! reference socklab's ws-echo is measured against in `scripts/bench.sh`.
//!
//! Run: `tokio-ws-echo --addr 127.0.0.1:7101`, then
//! `socklab bench ws://127.0.0.1:7101/`.

use std::net::SocketAddr;

use clap::Parser;
use futures_util::{StreamExt, TryStreamExt};
use tokio::net::{TcpListener, TcpStream};

/// tokio-tungstenite WebSocket echo (bench reference).
#[derive(Parser)]
struct Cli {
    /// Address to listen on (loopback)
    #[arg(long, default_value = "127.0.0.1:7101")]
    addr: SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let listener = TcpListener::bind(cli.addr).await?;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(echo(stream));
            }
            Err(e) => eprintln!("tokio-ws-echo: accept: {e}"),
        }
    }
}

/// Upgrade, then forward every data message back into the same socket.
async fn echo(stream: TcpStream) {
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (write, read) = ws.split();
    let _ = read
        .try_filter(|m| std::future::ready(m.is_text() || m.is_binary()))
        .forward(write)
        .await;
}
