//! Before WebSocket: one event source, five ways to get its events to a client.
//!
//! HTTP is request/response: a server answers, it never speaks first. So how
//! does a web page learn that something happened? This server publishes events
//! (a counter, `--rate` per second, and any line a client POSTs) and delivers the
//! same events five ways, so they can be measured side by side:
//!
//! | technique | request | what the server does |
//! |---|---|---|
//! | short polling | `GET /poll?since=ID` | answers at once with what is new — often nothing |
//! | long polling | `GET /long-poll?since=ID` | holds the request until an event (or `--hold`) |
//! | streaming | `GET /stream` | one chunked response that never ends, a chunk per event |
//! | Server-Sent Events | `GET /events` | the same as `text/event-stream`, resumable with `Last-Event-ID` |
//! | WebSocket | the Upgrade on the same port | a message per event, and the client may send too |
//!
//! Every connection keeps HTTP/1.1 keep-alive (the 4-tuple is reused for the
//! next request; `Connection: close` when asked), and hostile input gets what
//! ws-echo gives: 400/405/408/431 (framing refused by `http1`, the one request
//! side), the connection cap, idle deadlines. And what push adds holds under
//! attack: an answer carries at most [`session::ANSWER_CAP`] bytes of events (a
//! replay says where to continue), pipelined requests wait while answers are
//! queued, every byte a connection holds is charged to `--memory-budget`,
//! events reach every subscriber in id order, a subscriber that misses events
//! is told, and each connection publishes at most `--publish-rate` events a
//! second (429, or a WebSocket close 1008).
//!
//! It runs on `serve`'s event loop only: the events reach each connection
//! through the loop's mailbox ([`hub::Hub::publish`]), which a thread per
//! connection does not have.
//!
//! Run: `socklab serve push`, open <http://127.0.0.1:8090/>, or
//! `curl -N http://127.0.0.1:8090/events`.
#![deny(missing_docs)]

pub mod cli;
pub mod hub;
pub mod rate;
mod requests;
pub mod session;
mod subscribe;
mod ws;

use std::io;
use std::net::TcpListener;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use lifecycle::Shutdown;
use log::info;
use serve::{Engine, Limits, MemoryBudget};

use crate::hub::Hub;
use crate::session::PushSession;

/// The default address: 8090, beside ws-echo's 8080.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8090";

/// The page served on `GET /`: the four browser techniques side by side.
pub const PAGE: &str = include_str!("page.html");

/// What a push server does and enforces.
#[derive(Debug, Clone)]
pub struct Config {
    /// Connection cap, idle and write-stall timeouts.
    pub limits: Limits,
    /// Timer events per second (0: only the events clients POST).
    pub rate: f64,
    /// How long a long poll is held before 204 No Content.
    pub hold: Duration,
    /// How long a new connection has for its first request (408 after).
    pub request_timeout: Duration,
    /// Events the hub keeps for clients catching up ([`hub::KEEP`]).
    pub keep: usize,
    /// Events one connection may publish per second (`--publish-rate`; with
    /// `publish_burst`, 0 and 0 mean no limit).
    pub publish_rate: f64,
    /// Events one connection may publish at once (`--publish-burst`).
    pub publish_burst: u32,
    /// Origins allowed to open a WebSocket besides this server's own pages
    /// (`--allow-origin`; `*`: all): see [`websocket::origin`].
    pub allow_origins: Vec<String>,
    /// permessage-deflate with WebSocket clients that offer it (`--deflate`;
    /// off by default: [`websocket::deflate::FLAG_HELP`] says why).
    pub deflate: bool,
}

impl Config {
    /// Whose pages may open a WebSocket: [`Config::allow_origins`] as a policy.
    pub fn origin_policy(&self) -> websocket::OriginPolicy {
        websocket::OriginPolicy::from_flags(&self.allow_origins)
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            limits: Limits::default(),
            rate: 1.0,
            hold: Duration::from_secs(25),
            request_timeout: Duration::from_secs(10),
            keep: hub::KEEP,
            publish_rate: rate::DEFAULT_RATE,
            publish_burst: rate::DEFAULT_BURST,
            allow_origins: Vec::new(),
            deflate: false,
        }
    }
}

/// What the push server counted.
#[derive(Debug, Default)]
pub struct PushStats {
    /// Requests answered (or held), all connections.
    pub requests: AtomicUsize,
    /// Subscribers dropped for not reading while the whole window went by.
    pub dropped: AtomicUsize,
    /// Answers cut at [`session::ANSWER_CAP`] (the client continues from `X-More-Since`).
    pub capped: AtomicUsize,
    /// Subscribers told that events left the window before they got them.
    pub gaps: AtomicUsize,
    /// Publishes refused for the publish rate (429, or a WebSocket close 1008).
    pub limited: AtomicUsize,
    /// Connections refused or ended because the memory budget was spent.
    pub over_budget: AtomicUsize,
    /// The server's memory budget, once it runs: what is held, and the peak.
    pub budget: OnceLock<MemoryBudget>,
}

/// Puts push's own defences in `--stats-file` (`serve::stats_file`), beside
/// the engine's counters: subscribers dropped for not reading, publishes
/// refused for the rate, answers capped, gaps told. Held weakly.
fn sign_in_counters(stats: &Arc<PushStats>) {
    type Field = fn(&PushStats) -> &std::sync::atomic::AtomicUsize;
    let fields: [(&'static str, Field); 4] = [
        ("push_dropped", |s| &s.dropped),
        ("push_limited", |s| &s.limited),
        ("push_capped", |s| &s.capped),
        ("push_gaps", |s| &s.gaps),
    ];
    for (name, field) in fields {
        let weak = Arc::downgrade(stats);
        serve::stats_file::sign_in_counter(name, move || {
            weak.upgrade()
                .map_or(0, |s| field(&s).load(std::sync::atomic::Ordering::Relaxed))
        });
    }
}

/// Serves pushes on `listener` until `shutdown` fires, on `engine`'s loops, with
/// a timer thread publishing `config.rate` events per second into `hub`.
pub fn serve(
    listener: TcpListener,
    shutdown: Shutdown,
    config: Config,
    engine: Engine,
    stats: Arc<PushStats>,
) -> io::Result<()> {
    let hub = Hub::new(engine.mailbox(), config.keep);
    let ticker =
        (config.rate > 0.0).then(|| start_ticker(Arc::clone(&hub), config.rate, shutdown.clone()));
    let refusal = http1::service_unavailable(
        Duration::from_secs(1),
        &format!(
            "too many connections (--max-connections {})",
            config.limits.max_connections
        ),
    );
    let limits = Limits {
        refusal: Box::leak(refusal.into_boxed_slice()),
        ..config.limits
    };
    // Everything a connection holds — its queued answers, its unanswered
    // requests, a WebSocket machine's queues — is charged to this one budget.
    let budget = MemoryBudget::new(limits.memory_budget);
    let _ = stats.budget.set(budget.clone());
    sign_in_counters(&stats);
    let config = Arc::new(config);
    let result = engine.serve(listener, shutdown.clone(), limits, move |stream, tuple| {
        PushSession::new(
            stream,
            tuple,
            Arc::clone(&hub),
            Arc::clone(&config),
            Arc::clone(&stats),
            budget.account(),
        )
    });
    shutdown.trigger(); // the ticker stops with the server, however it ended
    if let Some(ticker) = ticker {
        let _ = ticker.join();
    }
    result
}

// ANCHOR: ticker
/// The event source's clock: `tick 1`, `tick 2` … at `rate` per second, on a
/// thread outside the loops (it posts through the mailbox like anyone else).
fn start_ticker(hub: Arc<Hub>, rate: f64, shutdown: Shutdown) -> thread::JoinHandle<()> {
    let every = Duration::from_secs_f64(1.0 / rate);
    thread::spawn(move || {
        info!("publishing an event every {every:?}");
        let mut next = Instant::now() + every;
        let mut n = 0u64;
        while !shutdown.is_triggered() {
            let now = Instant::now();
            if now < next {
                // Short sleeps, so a shutdown is seen within 50 ms.
                thread::sleep((next - now).min(Duration::from_millis(50)));
                continue;
            }
            n += 1;
            hub.publish(format!("tick {n}"));
            next += every;
        }
    })
}
// ANCHOR_END: ticker
