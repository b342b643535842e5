//! `socklab classroom`: the teacher's servers, and every student's connection
//! to them live on one page.
//!
//! A teacher puts a server on the projector and asks thirty students to
//! connect; normally only whoever runs Wireshark sees what happens. Here the
//! students' servers — the same tcp, udp and ws echo `socklab serve` runs —
//! report what passes through them to a feed, and a dashboard page shows one
//! row per connection: the 4-tuple, the kernel's TCP state and TCP_INFO, bytes each way,
//! WebSocket frames (opcode, masked, length), and how it closed.
//!
//! Run: `socklab classroom --addr 192.168.1.10` (a LAN address: the students
//! connect to it), open the dashboard URL it prints, and give the class the
//! others. `socklab classroom --addr 127.0.0.1 --port 0 --json` for a test.
//!
//! # Layout
//!
//! - [`event`]: what the feed says, as data (raw events in, `skip` counts);
//! - [`watch`]: the layer between a student's socket and the echo that sees
//!   the bytes, and the `--code` gate;
//! - [`frames`]: WebSocket frame headers read out of those bytes, no I/O;
//! - [`feed`]: raw events merged per connection per tick, posted to the
//!   dashboards through the engine's mailbox, never waiting;
//! - [`dashboard`]: the page, `/feed` and `POST /report` on one port;
//! - [`report`]: the students' exercise results;
//! - [`kernel`]: the kernel's state and TCP_INFO of a connection, by its 4-tuple.
//!
//! The chat room and push server run beside these (crates/socklab starts
//! them: a program never imports another). They have no layer slot, so their
//! connections are watched from outside, by port, once a second (the feed's
//! `outside` module): state and bytes, no frames.
#![deny(missing_docs)]

pub mod dashboard;
pub mod event;
pub mod feed;
pub mod frames;
pub mod kernel;
pub mod report;
pub mod watch;

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use lifecycle::{FourTuple, Shutdown};
use serve::{Engine, Limits, MemoryBudget};

pub use event::{Dir, Raw, Skipped};
pub use feed::Feed;
pub use watch::{Watch, Watched};

/// UDP peers shown at most; past it, new peers are echoed but not shown (a
/// spoofed flood of source addresses must not grow the table without end).
pub const MAX_UDP_PEERS: usize = 4096;

/// The dashboard's port runs on one loop of its own: the students' servers
/// have theirs, so a busy dashboard and a busy class do not share a thread.
pub const DASHBOARD_LOOPS: usize = 1;

// ANCHOR: serve_dashboard
/// Serves the dashboard (page, `/feed`, `POST /report`) on `listener` until
/// `shutdown` fires, and runs `feed`'s ticker meanwhile.
pub fn serve_dashboard(
    listener: TcpListener,
    shutdown: Shutdown,
    feed: Arc<Feed>,
    origins: websocket::OriginPolicy,
    limits: Limits,
) -> io::Result<()> {
    let engine = Engine::new(DASHBOARD_LOOPS)?;
    feed.attach(engine.mailbox());
    // The dashboards' own defence, in --stats-file beside the engine's
    // counters (held weakly: signing in keeps no feed alive).
    let weak = Arc::downgrade(&feed);
    serve::stats_file::sign_in_counter("classroom_skipped", move || {
        weak.upgrade()
            .map_or(0, |f| usize::try_from(f.skipped()).unwrap_or(usize::MAX))
    });
    let ticker = feed.start(shutdown.clone());
    let refusal = http1::service_unavailable(
        std::time::Duration::from_secs(1),
        "too many dashboard connections",
    );
    let limits = Limits {
        refusal: Box::leak(refusal.into_boxed_slice()),
        ..limits
    };
    let budget = MemoryBudget::new(limits.memory_budget);
    let settings = Arc::new(dashboard::feed_settings(origins));
    let result = engine.serve(
        listener,
        shutdown.clone(),
        limits,
        dashboard::start(Arc::clone(&feed), settings, budget),
    );
    shutdown.trigger(); // the ticker stops with the dashboard, however it ended
    let _ = ticker.join();
    result
}
// ANCHOR_END: serve_dashboard

/// The layer maker for a students' server of `kind`: each connection gets a
/// [`Watch`] recording into `feed`, gated by `code` if given.
pub fn watcher(
    feed: Arc<Feed>,
    kind: Watched,
    code: Option<Arc<str>>,
) -> impl Fn(FourTuple) -> Watch + Clone + Send + 'static {
    move |tuple| Watch::new(Arc::clone(&feed), tuple, kind, code.clone())
}

// ANCHOR: udp_watch
/// What the UDP echo calls for each datagram (see
/// `udp_echo::event_loop::serve_watched`): records it, and says whether to
/// echo it. With a code, a peer's datagram equal to the code makes it a
/// student and is swallowed; a peer that has not given it is echoed, unseen.
pub fn udp_watch(
    feed: Arc<Feed>,
    local: SocketAddr,
    code: Option<Arc<str>>,
) -> impl FnMut(&[u8], SocketAddr) -> bool + Send + 'static {
    move |datagram, peer| {
        if let Some(code) = &code
            && !feed.udp_known(peer)
        {
            let text = String::from_utf8_lossy(datagram);
            if text.trim_end_matches(['\r', '\n']) == &**code {
                feed.udp_datagram(local, peer); // the code: consumed, not echoed
            }
            return !feed.udp_known(peer);
        }
        if let Some(conn) = feed.udp_datagram(local, peer) {
            let bytes = datagram.len() as u64;
            feed.record(Raw::Data {
                conn,
                dir: Dir::In,
                bytes,
            });
            feed.record(Raw::Data {
                conn,
                dir: Dir::Out,
                bytes,
            });
        }
        true
    }
}
// ANCHOR_END: udp_watch
