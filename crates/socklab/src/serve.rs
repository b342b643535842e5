//! `socklab serve tcp|udp|ws|push|chat|all`: run servers until Ctrl-C.
//!
//! Run: `socklab serve tcp`, then `ncat 127.0.0.1 7007` (or `nc -N`) in another terminal; every
//! system call the server makes is logged. `socklab serve --help` lists the rest.

use std::io;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;

use clap::{Args, Subcommand};
use lifecycle::{BindAddr, Shutdown};
use serve::Model;

/// Flags of `socklab serve`.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  socklab serve tcp                          # mio event loop on 127.0.0.1:7007\n  socklab serve tcp --model threads          # a thread per connection\n  socklab serve tcp --model iterative        # one client at a time: try two ncat at once\n  socklab serve tcp --max-connections 2      # the third client is closed at once\n  socklab serve udp --addr '[::1]:7007'      # UDP echo on IPv6 loopback\n  socklab serve ws                           # WebSocket echo and browser page on 127.0.0.1:8080\n  socklab serve all                          # tcp+udp on 7007, ws on 8080, one process\n  socklab serve all --model threads          # the same with a thread per connection\n  socklab serve all --tcp-addr localhost:7100 --udp-addr localhost:7100 --ws-addr localhost:8100\nThen: ncat 127.0.0.1 7007 (or nc -N: without -N, netcat-openbsd sends no FIN at Ctrl-D)   or   ncat -u 127.0.0.1 7007   or open http://127.0.0.1:8080/"
)]
pub struct Serve {
    #[command(subcommand)]
    server: Server,
    /// Rewrite PATH every 100 ms with the server's counters as JSON (open, refused, stall/idle closes, memory budget held, VmRSS/VmHWM): for scripts/hostile.sh
    #[arg(long, global = true, value_name = "PATH")]
    stats_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Server {
    /// TCP echo (RFC 862): a byte stream, default 127.0.0.1:7007
    #[command(
        after_help = "Examples:\n  socklab serve tcp                          # event loop on 127.0.0.1:7007, narrated\n  socklab serve tcp --model iterative        # one client at a time: try two ncat at once\n  socklab serve tcp --model threads          # a thread per connection\n  socklab serve tcp --max-connections 2      # the third client is accepted and closed at once\n  socklab serve tcp --idle-timeout 5         # silent clients are closed after 5 s\n  RUST_LOG=debug socklab serve tcp           # also log the bytes\nThen: ncat 127.0.0.1 7007 (or nc -N 127.0.0.1 7007: without -N, netcat-openbsd sends no FIN at Ctrl-D)"
    )]
    Tcp(tcp_echo::cli::Args),
    /// UDP echo (RFC 862): datagrams, default 127.0.0.1:7007
    #[command(
        after_help = "Examples:\n  socklab serve udp                          # 127.0.0.1:7007 (UDP and TCP ports are separate)\n  socklab serve udp --addr '[::1]:7007'      # IPv6 loopback\n  socklab serve udp --model threads          # one blocking thread instead of the event loop\nThen: ncat -u 127.0.0.1 7007   (each line you type is one datagram)"
    )]
    Udp(udp_echo::cli::Args),
    /// WebSocket echo (RFC 6455) and its browser page, default 127.0.0.1:8080
    Ws(ws_echo::cli::Args),
    /// TLS echo: tcp echo with TLS under it (rustls), default 127.0.0.1:7443
    #[command(
        mut_arg("addr", |a| a.default_value(tls::DEFAULT_TLS_ADDR)),
        after_help = "Examples:\n  socklab serve tls                          # 127.0.0.1:7443; prints the certificate's path and fingerprint\n  socklab serve tls --cert-out /tmp/c.pem    # where the self-signed certificate goes\n  socklab serve tls --cert c.pem --key k.pem # your own certificate\n  SSLKEYLOGFILE=/tmp/keys socklab serve tls  # session secrets for Wireshark/tshark (demo only)\n  socklab serve tls --max-handshakes 32 --tls-handshake-timeout 3   # silent ClientHellos hold 32 places at most\nThen: socklab send tls://127.0.0.1:7443 hi --cacert /tmp/c.pem --wire\n  or: openssl s_client -connect 127.0.0.1:7443 -CAfile /tmp/c.pem"
    )]
    Tls(crate::secure::TlsEcho),
    /// WebSocket echo and its page over TLS (wss:// and https://), default 127.0.0.1:8443
    #[command(
        mut_arg("addr", |a| a.default_value(tls::DEFAULT_WSS_ADDR)),
        after_help = "Examples:\n  socklab serve wss                          # wss://127.0.0.1:8443/ and the page at https://127.0.0.1:8443/\n  socklab serve wss --cert-out /tmp/c.pem --model threads\n  SSLKEYLOGFILE=/tmp/keys socklab serve wss  # session secrets for Wireshark/tshark (demo only)\n  socklab serve wss --max-handshakes 32      # unfinished handshakes: at most 32, the oldest closed first\nThen: socklab send wss://127.0.0.1:8443/ hi --cacert /tmp/c.pem --wire\nTry: curl -i http://127.0.0.1:8443/   (plain HTTP on a TLS port: a readable 400)"
    )]
    Wss(crate::secure::WssEcho),
    /// HTTP push before WebSocket: polling, long polling, streaming, SSE and WebSocket, default 127.0.0.1:8090
    Push(push::cli::Args),
    /// One chat room: TCP lines on 127.0.0.1:7070, WebSocket and its page on 127.0.0.1:8070
    Chat(chat::cli::Args),
    /// All three in one process: tcp and udp on 127.0.0.1:7007, ws on 127.0.0.1:8080
    #[command(
        after_help = "Examples:\n  socklab serve all                          # event loops; tcp+udp on 7007, ws on 8080\n  socklab serve all --model threads          # a thread per connection (UDP: one thread)\n  socklab serve all --tcp-addr 127.0.0.1:7100 --udp-addr 127.0.0.1:7100 --ws-addr localhost:8100\nThen: ncat 127.0.0.1 7007 (or nc -N), ncat -u 127.0.0.1 7007, socklab chat ws://127.0.0.1:8080/"
    )]
    All(AllArgs),
}

/// Flags of `socklab serve all`.
#[derive(Args)]
struct AllArgs {
    /// Server version for all three (UDP: iterative and threads both mean one blocking thread)
    #[arg(long, value_enum, default_value_t = Model::EventLoop)]
    model: Model,
    /// Where the TCP echo listens (IP:PORT or HOST:PORT)
    #[arg(long, default_value = tcp_echo::DEFAULT_ADDR, value_name = "HOST:PORT")]
    tcp_addr: BindAddr,
    /// Where the UDP echo receives (IP:PORT or HOST:PORT)
    #[arg(long, default_value = udp_echo::DEFAULT_ADDR, value_name = "HOST:PORT")]
    udp_addr: BindAddr,
    /// Where the WebSocket echo listens (IP:PORT or HOST:PORT)
    #[arg(long, default_value = ws_echo::DEFAULT_ADDR, value_name = "HOST:PORT")]
    ws_addr: BindAddr,
}

impl Serve {
    /// Starts the server(s); returns when Ctrl-C stops them.
    pub fn run(self) -> anyhow::Result<()> {
        let shutdown = Shutdown::new();
        shutdown.trigger_on_ctrl_c()?;
        if let Some(path) = self.stats_file {
            serve::stats_file::start(path)?;
        }
        match self.server {
            Server::Tcp(args) => tcp_echo::cli::run(&args, shutdown)?,
            Server::Udp(args) => udp_echo::cli::run(&args, shutdown)?,
            Server::Ws(args) => ws_echo::cli::run(&args, shutdown)?,
            Server::Push(args) => push::cli::run(&args, shutdown)?,
            Server::Chat(args) => chat::cli::run(&args, shutdown)?,
            Server::Tls(args) => args.run(shutdown)?,
            Server::Wss(args) => args.run(shutdown)?,
            Server::All(all) => serve_all(shutdown, all)?,
        }
        Ok(())
    }
}

/// Runs the three servers on their own threads, each with its defaults but for
/// the model and the address. When one of them fails (say its port is taken),
/// the others are stopped too and the error is reported.
fn serve_all(shutdown: Shutdown, all: AllArgs) -> anyhow::Result<()> {
    use clap::Parser;
    // Each server's defaults, exactly as `socklab serve X` with no flags.
    #[derive(Parser)]
    struct Defaults<A: clap::Args> {
        #[command(flatten)]
        args: A,
    }
    let mut tcp = Defaults::<tcp_echo::cli::Args>::parse_from(["tcp"]).args;
    let mut udp = Defaults::<udp_echo::cli::Args>::parse_from(["udp"]).args;
    let mut ws = Defaults::<ws_echo::cli::Args>::parse_from(["ws"]).args;
    (tcp.model, udp.model, ws.model) = (all.model, all.model, all.model);
    (tcp.addr, udp.addr, ws.addr) = (all.tcp_addr, all.udp_addr, all.ws_addr);

    let (done, finished) = mpsc::channel();
    let start = |name: &'static str, run: Box<dyn FnOnce(Shutdown) -> io::Result<()> + Send>| {
        let (done, shutdown) = (done.clone(), shutdown.clone());
        thread::Builder::new()
            .name(format!("{name} server"))
            .spawn(move || {
                let _ = done.send((name, run(shutdown)));
            })
    };
    start("tcp", Box::new(move |s| tcp_echo::cli::run(&tcp, s)))?;
    start("udp", Box::new(move |s| udp_echo::cli::run(&udp, s)))?;
    start("ws", Box::new(move |s| ws_echo::cli::run(&ws, s)))?;
    drop(done);

    let mut first_error = None;
    for (name, result) in finished {
        if let Err(e) = result {
            shutdown.trigger();
            first_error.get_or_insert(anyhow::Error::new(e).context(format!("the {name} server")));
        }
    }
    first_error.map_or(Ok(()), Err)
}
