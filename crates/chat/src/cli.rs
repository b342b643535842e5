//! The flags of `socklab serve chat`.

use std::net::SocketAddr;
use std::sync::Arc;

use lifecycle::Shutdown;
use lifecycle::tcp::listen_tcp;
use serve::v3_event_loop::default_loops;
use serve::{Engine, LimitArgs, Limits};

use crate::{Config, DEFAULT_MAX_LINE, DEFAULT_SLOW_LIMIT, DEFAULT_TCP_ADDR, DEFAULT_WS_ADDR};

/// Flags for the chat server.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Examples:
  socklab serve chat                         # TCP lines on 127.0.0.1:7070, WebSocket + page on 127.0.0.1:8070
  ncat 127.0.0.1 7070                        # a TCP member: type lines (netcat-openbsd: nc -N)
  socklab chat ws://127.0.0.1:8070/          # a WebSocket member from the terminal
  xdg-open http://127.0.0.1:8070/            # the page (or open it in a browser)
  socklab serve chat --slow-limit 65536      # drop members that fall 64 KiB behind
  socklab serve chat --model threads --no-joins   # the fan-out bench's baseline (TCP only)
  socklab serve chat --relay redis://127.0.0.1:6390   # one room across processes (start redis-server first)")]
pub struct Args {
    /// Address for TCP members (IP:PORT)
    #[arg(long, default_value = DEFAULT_TCP_ADDR, value_name = "IP:PORT")]
    pub tcp_addr: SocketAddr,
    /// Address for WebSocket members and the page (IP:PORT)
    #[arg(long, default_value = DEFAULT_WS_ADDR, value_name = "IP:PORT")]
    pub ws_addr: SocketAddr,
    /// Longest line (TCP) or message (WebSocket), bytes; longer lines are cut, longer messages closed with 1009
    #[arg(long, default_value_t = DEFAULT_MAX_LINE, value_name = "BYTES")]
    pub max_line: usize,
    /// Bytes queued for one member before it is dropped as not reading
    #[arg(long, default_value_t = DEFAULT_SLOW_LIMIT, value_name = "BYTES")]
    pub slow_limit: usize,
    /// Share the room with other `serve chat` processes through Redis pub/sub
    /// (redis://127.0.0.1:PORT): members' lines are published, other servers' lines delivered
    #[arg(long, value_name = "URL")]
    pub relay: Option<String>,
    /// Origins allowed besides this server's own pages (`websocket::origin`).
    #[arg(long, value_name = "ORIGIN", help = websocket::origin::FLAG_HELP)]
    pub allow_origin: Vec<String>,
    /// Compress WebSocket messages with clients that offer it
    #[arg(long, help = websocket::deflate::FLAG_HELP)]
    pub deflate: bool,
    /// Do not announce joins and leaves (the fan-out bench: N joins would be N²/2 lines)
    #[arg(long)]
    pub no_joins: bool,
    /// event-loop: the room on the mailbox; threads: the comparison baseline for
    /// `socklab bench --fanout` (a thread per member, one locked list; TCP only)
    #[arg(long, value_enum, default_value_t = ChatModel::EventLoop)]
    pub model: ChatModel,
    /// Event loops per listener [default: one per CPU core]
    #[arg(long, value_name = "N")]
    pub loops: Option<usize>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub limits: LimitArgs,
}

/// How the room runs its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ChatModel {
    /// Two engines' event loops and their mailboxes (the chat server)
    EventLoop,
    /// A thread per member and one shared, locked list (the baseline; TCP only)
    Threads,
}

/// Listens on both addresses and serves the room until `shutdown` fires.
pub fn run(args: &Args, shutdown: Shutdown) -> std::io::Result<()> {
    let tcp = listen_tcp(args.tcp_addr)?;
    if args.model == ChatModel::Threads {
        if args.relay.is_some() {
            return Err(std::io::Error::other(
                "--relay needs the event loop (--model event-loop)",
            ));
        }
        let limits = Limits::from(args.limits);
        return crate::threads::serve(tcp, shutdown, limits, args.max_line.max(1));
    }
    let ws = listen_tcp(args.ws_addr)?;
    let loops = args.loops.unwrap_or_else(default_loops);
    let config = Config {
        limits: Limits::from(args.limits),
        max_line: args.max_line.max(1),
        slow_limit: args.slow_limit.max(1),
        relay: args.relay.clone(),
        announce: !args.no_joins,
        allow_origins: args.allow_origin.clone(),
        deflate: args.deflate,
    };
    crate::serve(
        tcp,
        ws,
        shutdown,
        config,
        [Engine::new(loops)?, Engine::new(loops)?],
        Arc::default(),
    )
}
