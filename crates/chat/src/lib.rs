//! One room, many members: the reason people reach for WebSocket is 1:N
//! real-time delivery, so here is a chat server — over plain TCP lines *and*
//! WebSocket messages, one room for both.
//!
//! Every line a member sends reaches every other member, whichever protocol
//! each speaks, prefixed with how the sender came in and its address (`[tcp 127.0.0.1:51234]`,
//! `[ws 127.0.0.1:51240]`);
//! joins and leaves are announced. Two listeners, two engines (TCP members on
//! one, WebSocket members and the page on the other), one [`room::Room`]
//! posting each line to every loop's mailbox: each loop writes it to the members
//! it owns, with no global lock on the way.
//!
//! Limits a room needs beyond an echo server's: a line cap on TCP (`--max-line`,
//! longer lines cut with a notice) and the same cap as a message size on
//! WebSocket (1009); and **slow consumers** — a member that does not read gets a
//! bounded queue (`--slow-limit`), past it is told why and dropped (TCP: a last
//! line, then FIN; WebSocket: Close 1008), and everyone else keeps receiving at
//! full speed; a loop whose mailbox is full loses no line, its members read
//! what they missed from the room's numbered log ([`lines`]). Control, format (bidi, zero-width) and line-separator characters
//! in lines are escaped before others see them.
//!
//! Run: `socklab serve chat`; then `ncat 127.0.0.1 7070` and
//! <http://127.0.0.1:8070/> (or `socklab chat ws://127.0.0.1:8070/`).
#![deny(missing_docs)]

pub mod cli;
pub mod lines;
pub mod relay;
pub mod room;
pub mod tcp;
pub mod threads;
pub mod ws;

use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::thread;

use lifecycle::Shutdown;
use log::info;
use serve::{Engine, Limits, MemoryBudget};
use websocket::{OriginPolicy, Settings};

use crate::room::{ChatStats, Room};
use crate::tcp::TcpMember;
use crate::ws::WsMember;

/// TCP members connect here by default (`ncat 127.0.0.1 7070`).
pub const DEFAULT_TCP_ADDR: &str = "127.0.0.1:7070";

/// WebSocket members and the page, by default.
pub const DEFAULT_WS_ADDR: &str = "127.0.0.1:8070";

/// The longest line (TCP) or message (WebSocket) by default: 64 KiB.
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;

/// Bytes queued for one member before it counts as not reading, by default.
pub const DEFAULT_SLOW_LIMIT: usize = 256 * 1024;

/// The page on `GET /` of the WebSocket port.
pub const PAGE: &str = include_str!("page.html");

/// What a chat server enforces.
#[derive(Debug, Clone)]
pub struct Config {
    /// Connection cap (per listener), idle and write-stall timeouts.
    pub limits: Limits,
    /// Longest line or message.
    pub max_line: usize,
    /// Bytes queued for a member before it is dropped as not reading.
    pub slow_limit: usize,
    /// Share the room with other processes through this Redis
    /// (`redis://127.0.0.1:PORT`); see [`relay`].
    pub relay: Option<String>,
    /// Joins and leaves announced to the room (`--no-joins` turns it off).
    pub announce: bool,
    /// Origins allowed to open a WebSocket besides this server's own page
    /// (`--allow-origin`; `*`: all): see [`websocket::origin`].
    pub allow_origins: Vec<String>,
    /// permessage-deflate with WebSocket clients that offer it (`--deflate`;
    /// off by default: [`websocket::deflate::FLAG_HELP`] says why).
    pub deflate: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            limits: Limits::default(),
            max_line: DEFAULT_MAX_LINE,
            slow_limit: DEFAULT_SLOW_LIMIT,
            relay: None,
            announce: true,
            allow_origins: Vec::new(),
            deflate: false,
        }
    }
}

/// Puts the room's own counters in `--stats-file` (`serve::stats_file`):
/// members dropped for not reading, posts that failed on a full mailbox, and
/// the lines members refilled from the room's log for them. Held weakly.
fn sign_in_counters(stats: &Arc<ChatStats>) {
    type Field = fn(&ChatStats) -> &std::sync::atomic::AtomicUsize;
    let fields: [(&'static str, Field); 3] = [
        ("chat_dropped", |s| &s.dropped),
        ("chat_not_posted", |s| &s.not_posted),
        ("chat_refilled", |s| &s.refilled),
    ];
    for (name, field) in fields {
        let weak = Arc::downgrade(stats);
        serve::stats_file::sign_in_counter(name, move || {
            weak.upgrade()
                .map_or(0, |s| field(&s).load(std::sync::atomic::Ordering::Relaxed))
        });
    }
}

/// Serves the room on both listeners until `shutdown` fires: TCP members on
/// `tcp`, WebSocket members (and the page) on `ws`, each on its own engine.
pub fn serve(
    tcp: TcpListener,
    ws: TcpListener,
    shutdown: Shutdown,
    config: Config,
    engines: [Engine; 2],
    stats: Arc<ChatStats>,
) -> io::Result<()> {
    let [tcp_engine, ws_engine] = engines;
    info!(
        "chat room: TCP members on {}, WebSocket members and the page on {}",
        tcp.local_addr()?,
        ws.local_addr()?
    );
    let mailboxes = vec![tcp_engine.mailbox(), ws_engine.mailbox()];
    sign_in_counters(&stats);
    let room = match &config.relay {
        None => Room::with_relay(mailboxes, stats, None, config.announce),
        Some(url) => {
            let (outbox, lines) = relay::outbox();
            let room = Room::with_relay(mailboxes, stats, Some(outbox), config.announce);
            relay::start(url, Arc::clone(&room), lines, shutdown.clone())?;
            room
        }
    };
    let config = Arc::new(config);
    let limits = config.limits;
    // One budget for every member, TCP and WebSocket alike.
    let budget = MemoryBudget::new(limits.memory_budget);
    let (r, c, s, b) = (
        Arc::clone(&room),
        Arc::clone(&config),
        shutdown.clone(),
        budget.clone(),
    );
    let tcp_side = thread::Builder::new()
        .name("chat tcp".into())
        .spawn(move || {
            tcp_engine.serve(tcp, s, limits, move |stream, tuple| {
                TcpMember::new(stream, tuple, Arc::clone(&r), Arc::clone(&c), b.account())
            })
        })?;
    let refusal = http1::service_unavailable(
        std::time::Duration::from_secs(1),
        "the room is full (--max-connections)",
    );
    let ws_limits = Limits {
        refusal: Box::leak(refusal.into_boxed_slice()),
        ..limits
    };
    // The WebSocket members' machine: a message is a line, at most --max-line.
    let settings = Arc::new(Settings {
        origins: OriginPolicy::from_flags(&config.allow_origins),
        deflate: config.deflate.then(websocket::deflate::Config::default),
        ..Settings::new(config.max_line, PAGE)
    });
    let ws_result = ws_engine.serve(ws, shutdown.clone(), ws_limits, move |stream, tuple| {
        let (r, c, s) = (
            Arc::clone(&room),
            Arc::clone(&config),
            Arc::clone(&settings),
        );
        WsMember::new(stream, tuple, r, c, s, budget.account())
    });
    shutdown.trigger(); // one side ended: end the other too
    let tcp_result = tcp_side
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the TCP side panicked")));
    ws_result.and(tcp_result)
}
