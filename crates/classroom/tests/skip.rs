//! A dashboard that cannot keep up is told what it missed, and never slows
//! the feed: 50,000 events recorded while it reads nothing, through a 4 KiB
//! receive window; then it reads, and what it received plus what its `skip`
//! notices count is exactly what was recorded.

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use classroom::{Feed, Raw};
use serve::{Limits, Running};
use socket2::{Domain, Socket, Type};
use tungstenite::Message;

/// Longest the test waits before it fails instead of hanging.
const DEADLINE: Duration = Duration::from_secs(60);

/// Events recorded: ~9 MB of JSON, far more than the kernel's buffers
/// (4 MiB of send buffer at most here, a 4 KiB receive window) hold.
const EVENTS: u64 = 50_000;

/// The client's receive buffer: small, so the server's queue fills early.
const TINY_WINDOW: usize = 4096;

/// The classroom's dashboard on 127.0.0.1:0, fed by `feed`.
fn dashboard(feed: &Arc<Feed>) -> Running {
    let f = Arc::clone(feed);
    Running::tcp(
        "127.0.0.1:0".parse().expect("addr"),
        move |listener, shutdown| {
            classroom::serve_dashboard(listener, shutdown, f, Default::default(), Limits::default())
        },
    )
    .expect("the dashboard runs")
}

/// A client socket with a [`TINY_WINDOW`] receive buffer (set before
/// `connect`, so the window it announces is small), connected to `addr`.
fn tiny_window(addr: SocketAddr, read_timeout: Duration) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(TINY_WINDOW).expect("SO_RCVBUF");
    socket.connect(&addr.into()).expect("connect");
    let stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(read_timeout))
        .expect("timeout");
    stream
}

/// Lesson 20 (bounded memory for a peer that does not read), on the
/// dashboard: delivered + skipped = recorded, and some were skipped.
#[test]
fn a_slow_dashboard_is_told_what_it_skipped() {
    let feed = Feed::new();
    let server = dashboard(&feed);
    let stream = tiny_window(server.addr(), Duration::from_secs(1));
    let (mut ws, _) =
        tungstenite::client(format!("ws://{}/feed", server.addr()), stream).expect("101");

    // Everything is recorded before the dashboard reads a byte.
    let peer: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    for conn in 1..=EVENTS {
        feed.record(Raw::Open {
            conn,
            proto: "tcp",
            local: server.addr(),
            peer,
        });
    }

    let (mut delivered, mut skipped, mut notices) = (0, 0, 0);
    let mut skipped_events = 0;
    let start = Instant::now();
    let end = start + DEADLINE;
    while delivered + skipped < EVENTS && Instant::now() < end {
        let text = match ws.read() {
            Ok(Message::Text(text)) => text,
            Ok(_) => continue,
            Err(_) => continue, // a read timeout: the deadline decides
        };
        let e: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        match e["event"].as_str() {
            Some("open") => delivered += 1,
            Some("skip") => {
                notices += 1;
                skipped += e["opens"].as_u64().expect("opens");
                // Every kind: the feed also looks up kernel state (`state`
                // events) for the connections it shows.
                skipped_events += e["events"].as_u64().expect("events");
            }
            _ => {}
        }
    }
    eprintln!(
        "{:?}: delivered {delivered} skipped {skipped} in {notices} notices",
        start.elapsed()
    );
    assert_eq!(
        delivered + skipped,
        EVENTS,
        "delivered {delivered} + skipped {skipped}"
    );
    assert!(
        skipped > 0 && notices > 0,
        "nothing was skipped: the test proves nothing"
    );
    // The same count reaches --stats-file (`classroom_skipped`, the hostile
    // matrix's feed-never-reads): every event a dashboard left out, once.
    assert_eq!(feed.skipped(), skipped_events, "the feed's skipped counter");
    drop(ws);
    drop(server);
}

/// A dashboard that opens on a full results table and never reads: the
/// snapshot of the rows so far goes through the same queue bound as every
/// tick (hostile matrix, feed-never-reads): what does not fit is counted
/// before the 101 goes out, never queued whole for each such dashboard.
#[test]
fn a_snapshot_past_the_queue_bound_is_skipped() {
    let feed = Feed::new();
    let report = |i: usize| classroom::report::Report {
        name: format!("student{i}"),
        exercise: 1,
        pass: true,
        findings: vec!["f".repeat(classroom::report::MAX_FINDING); 4],
    };
    let mut rows = 0;
    while feed.progress.add(report(rows)) {
        rows += 1;
    }
    let server = dashboard(&feed);
    let stream = tiny_window(server.addr(), DEADLINE);
    // The 101 follows the snapshot's turn: by then its skips are counted.
    let (ws, _) = tungstenite::client(format!("ws://{}/feed", server.addr()), stream).expect("101");
    let row_bytes = report(0).event().len();
    let fit = classroom::dashboard::FEED_QUEUE_LIMIT / row_bytes + 1;
    assert!(rows > fit, "{rows} rows all fit: the test proves nothing");
    let skipped = usize::try_from(feed.skipped()).expect("count");
    assert!(
        skipped >= rows - fit && skipped < rows,
        "{skipped} of {rows} rows skipped, {fit} fit"
    );
    drop(ws);
    drop(server);
}
