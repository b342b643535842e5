//! `socklab classroom`: the teacher's servers in one process, and a dashboard
//! that shows every student's connection live.
//!
//! Run: `socklab classroom --addr 192.168.1.10` on the projector's machine
//! (the address the students reach: never a public one), open the dashboard
//! URL it prints, and write the other URLs on the board. The students' tcp,
//! udp and ws echo are `socklab serve`'s own servers with the classroom's
//! watching layer under them (crates/classroom); the chat room and the push
//! server are started beside them, watched from outside by port (their
//! connections' state and bytes, once a second; without `--code` only). This file only binds, prints
//! and supervises: a program never imports another, so the CLI, the top
//! floor, is where they meet.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, mpsc};
use std::thread;

use clap::Args;
use classroom::{Feed, Watched};
use lifecycle::Shutdown;
use lifecycle::tcp::listen_tcp;
use lifecycle::udp::UdpEndpoint;
use serve::v3_event_loop::default_loops;
use serve::{Engine, Handshakes, LimitArgs, Limits, Model};

/// The first port of the default layout: dashboard 9000, tcp and udp 9001,
/// ws 9002, chat 9003 (tcp) and 9004 (ws), push 9005.
const DEFAULT_PORT: u16 = 9000;

/// The servers that hold messages and so take a share of `--memory-budget`:
/// the dashboard, tcp, ws, chat and push (udp holds one datagram at a time).
const BUDGETED_SERVERS: usize = 5;

/// Flags of `socklab classroom`.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  socklab classroom --addr 192.168.1.10              # a LAN address: dashboard on :9000, servers on 9001-9005\n  socklab classroom --addr 192.168.1.10 --code owl   # only students who send \"owl\" first are shown\n  socklab classroom --addr 127.0.0.1 --port 0 --json # free ports, one JSON line with every URL\nStudents: ncat 192.168.1.10 9001 (type the code as the first line), ncat -u 192.168.1.10 9001,\n  socklab send 'ws://192.168.1.10:9002/?code=owl' hi, socklab chat tcp://192.168.1.10:9003\nExercises: socklab exercise check 1 --report http://192.168.1.10:9000/ --name ana\n--memory-budget is shared: the dashboard, tcp, ws, chat and push servers get a fifth each."
)]
pub struct Classroom {
    /// The address every server listens on: the teacher's LAN address, or 127.0.0.1
    #[arg(long, value_name = "IP")]
    addr: IpAddr,
    /// The dashboard's port; the servers take the next five (0: the kernel picks each)
    #[arg(long, default_value_t = DEFAULT_PORT, value_name = "PORT")]
    port: u16,
    /// Print one JSON line with every URL on stdout (for scripts)
    #[arg(long)]
    json: bool,
    /// Only connections that give this code first are students: the first line (tcp), the first datagram (udp), ?code= in the URL (ws)
    #[arg(long, value_name = "CODE")]
    code: Option<String>,
    /// Origins allowed to open a WebSocket besides these servers' own pages (`*`: all)
    #[arg(long, value_name = "ORIGIN")]
    allow_origin: Vec<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    limits: LimitArgs,
    /// Rewrite PATH every 100 ms with every server's counters summed as JSON (open, refused, stall/idle closes, memory budget held, VmRSS/VmHWM): for scripts/hostile.sh
    #[arg(long, value_name = "PATH")]
    stats_file: Option<PathBuf>,
}

/// Every socket, bound before anything is served, so the URLs printed are
/// the ports the kernel gave.
struct Bound {
    dashboard: TcpListener,
    tcp: TcpListener,
    udp: UdpEndpoint,
    ws: TcpListener,
    chat_tcp: TcpListener,
    chat_ws: TcpListener,
    push: TcpListener,
}

impl Classroom {
    /// Binds, prints the URLs, and serves until Ctrl-C.
    pub fn run(self) -> anyhow::Result<()> {
        let shutdown = Shutdown::new();
        shutdown.trigger_on_ctrl_c()?;
        let bound = self.bind()?;
        // Every engine and memory budget the servers make signs in to it.
        if let Some(path) = &self.stats_file {
            serve::stats_file::start(path.clone())?;
        }
        self.print(&bound)?;
        self.serve(bound, shutdown)
    }

    /// The port `offset` after `--port` (all 0 with `--port 0`).
    fn at(&self, offset: u16) -> anyhow::Result<SocketAddr> {
        let port = if self.port == 0 {
            0
        } else {
            self.port.checked_add(offset).ok_or_else(|| {
                anyhow::anyhow!("--port {} leaves no room for the servers", self.port)
            })?
        };
        Ok(SocketAddr::new(self.addr, port))
    }

    fn bind(&self) -> anyhow::Result<Bound> {
        Ok(Bound {
            dashboard: listen_tcp(self.at(0)?)?,
            tcp: listen_tcp(self.at(1)?)?,
            udp: UdpEndpoint::bind(self.at(1)?)?,
            ws: listen_tcp(self.at(2)?)?,
            chat_tcp: listen_tcp(self.at(3)?)?,
            chat_ws: listen_tcp(self.at(4)?)?,
            push: listen_tcp(self.at(5)?)?,
        })
    }

    // ANCHOR: urls
    /// The URLs: one JSON line with `--json`, else a line each.
    fn print(&self, b: &Bound) -> anyhow::Result<()> {
        let code = self
            .code
            .as_deref()
            .map_or(String::new(), |c| format!("?code={c}"));
        let urls = serde_json::json!({
            "dashboard": format!("http://{}/", b.dashboard.local_addr()?),
            "tcp": format!("tcp://{}", b.tcp.local_addr()?),
            "udp": format!("udp://{}", b.udp.local_addr()),
            "ws": format!("ws://{}/{code}", b.ws.local_addr()?),
            "chat_tcp": format!("tcp://{}", b.chat_tcp.local_addr()?),
            "chat_ws": format!("ws://{}/", b.chat_ws.local_addr()?),
            "push": format!("http://{}/", b.push.local_addr()?),
        });
        if self.json {
            outln!("{urls}");
            return Ok(());
        }
        outln!("socklab classroom: open the dashboard, give the class the rest");
        if let Some(obj) = urls.as_object() {
            for (name, url) in obj {
                outln!("  {name:<10} {}", url.as_str().unwrap_or_default());
            }
        }
        if let Some(code) = &self.code {
            outln!(
                "  code       {code}: the first line on tcp, the first datagram on udp, ?code= on ws"
            );
        }
        Ok(())
    }
    // ANCHOR_END: urls

    /// Runs every server on a thread of its own; when one fails (or Ctrl-C),
    /// all stop, and the first error is reported.
    fn serve(self, b: Bound, shutdown: Shutdown) -> anyhow::Result<()> {
        let feed = Feed::new();
        // The chat room and push have no layer slot: watched from outside, by
        // port, once a second — unless only students with the code may show.
        if self.code.is_none() {
            feed.watch_port("chat_tcp", b.chat_tcp.local_addr()?);
            feed.watch_port("chat_ws", b.chat_ws.local_addr()?);
            feed.watch_port("push", b.push.local_addr()?);
        }
        // --memory-budget is for the whole process: each of the servers that
        // holds messages (dashboard, tcp, ws, chat, push) gets an equal share.
        let limits = Limits::from(self.limits);
        let limits = Limits {
            memory_budget: limits.memory_budget / BUDGETED_SERVERS,
            ..limits
        };
        let code: Option<Arc<str>> = self.code.as_deref().map(Arc::from);
        let origins = self.allow_origin.clone();
        let (done, finished) = mpsc::channel();
        let start = |name: &'static str,
                     run: Box<dyn FnOnce(Shutdown) -> io::Result<()> + Send>| {
            let (done, shutdown) = (done.clone(), shutdown.clone());
            thread::Builder::new()
                .name(format!("classroom {name}"))
                .spawn(move || {
                    let _ = done.send((name, run(shutdown)));
                })
        };
        let engine = || Engine::new(default_loops());

        let (f, policy) = (
            Arc::clone(&feed),
            websocket::OriginPolicy::from_flags(&origins),
        );
        let dashboard = b.dashboard;
        start(
            "dashboard",
            Box::new(move |s| classroom::serve_dashboard(dashboard, s, f, policy, limits)),
        )?;

        let (tcp, tcp_engine) = (b.tcp, engine()?);
        let watch = classroom::watcher(Arc::clone(&feed), Watched::Tcp, code.clone());
        start(
            "tcp",
            Box::new(move |s| {
                tcp_echo::serve_layered(
                    Model::EventLoop,
                    tcp,
                    s,
                    limits,
                    tcp_engine,
                    watch,
                    no_handshakes(),
                )
            }),
        )?;

        let udp = b.udp;
        let watch = classroom::udp_watch(Arc::clone(&feed), udp.local_addr(), code.clone());
        start(
            "udp",
            Box::new(move |s| udp_echo::event_loop::serve_watched(udp, s, watch)),
        )?;

        let (ws, ws_engine) = (b.ws, engine()?);
        let watch = classroom::watcher(Arc::clone(&feed), Watched::Ws, code);
        let ws_config = ws_echo::Config {
            limits,
            allow_origins: origins.clone(),
            ..ws_echo::Config::default()
        };
        start(
            "ws",
            Box::new(move |s| {
                ws_echo::serve_layered(
                    Model::EventLoop,
                    ws,
                    s,
                    ws_config,
                    ws_engine,
                    watch,
                    no_handshakes(),
                )
            }),
        )?;

        let (chat_tcp, chat_ws, chat_engines) = (b.chat_tcp, b.chat_ws, [engine()?, engine()?]);
        let chat_config = chat::Config {
            limits,
            allow_origins: origins.clone(),
            ..chat::Config::default()
        };
        start(
            "chat",
            Box::new(move |s| {
                chat::serve(
                    chat_tcp,
                    chat_ws,
                    s,
                    chat_config,
                    chat_engines,
                    Default::default(),
                )
            }),
        )?;

        let (push, push_engine) = (b.push, engine()?);
        let push_config = push::Config {
            limits,
            allow_origins: origins,
            ..push::Config::default()
        };
        start(
            "push",
            Box::new(move |s| push::serve(push, s, push_config, push_engine, Default::default())),
        )?;
        drop(done);

        let mut first_error = None;
        for (name, result) in finished {
            shutdown.trigger(); // one stopped: the class is over for all
            if let Err(e) = result {
                first_error
                    .get_or_insert(anyhow::Error::new(e).context(format!("the {name} server")));
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// The watching layer has no handshake, so its connections never take a
/// place among unfinished handshakes (`serve::layer`): `serve_layered` asks
/// for a table, and this one stays empty.
fn no_handshakes() -> Handshakes {
    let max = serve::handshakes::default_max_handshakes(Limits::default().max_connections);
    Handshakes::new(max, websocket::handler::HANDSHAKE_TIMEOUT)
}
