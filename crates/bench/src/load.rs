//! The loads: ping-pong connections timed round trip by round trip, streaming
//! connections beside them, and idle connections opened first and held silent;
//! [`run`] starts them together and gathers what they measured into a [`Report`].

use std::io;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use measure::stats::percentile;
use tungstenite::WebSocket;

use crate::cpu;
use crate::pingpong::{ping_pong, stream};
use crate::report::Report;
use crate::secure::Stream;
use crate::target::{Conn, Failure, Kind, Target, open_one};

/// Threads that open the idle connections in parallel.
const IDLE_OPENERS: usize = 4;

/// File descriptors kept free beyond the connections themselves.
const SPARE_FDS: u64 = 64;

/// How much load.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Connections doing ping-pong at the same time.
    pub conns: usize,
    /// How long they do it.
    pub duration: Duration,
    /// Bytes per message.
    pub size: usize,
    /// Extra connections opened first and held open, silent (tcp and ws only).
    pub idle: usize,
    /// Extra connections streaming `stream_size`-byte messages at full speed
    /// beside the measured ones (tcp and ws only).
    pub stream: usize,
    /// Bytes per streamed message.
    pub stream_size: usize,
    /// The server's process, for its CPU time per message (`None`: the client's
    /// only; [`crate::owner::serving_pid`] finds it for a local server).
    pub server_pid: Option<u32>,
}

/// Runs the load against one target and returns what it measured.
pub fn run(target: &Target, opts: &Options) -> io::Result<Report> {
    let idle_wanted = if target.kind == Kind::Udp {
        0
    } else {
        opts.idle
    };
    lifecycle::limits::raise_fd_limit((idle_wanted + opts.conns) as u64 + SPARE_FDS)?;
    let mut errors = Errors::default();

    // 1. The idle connections, opened in parallel and kept until the end.
    let started = Instant::now();
    let idle = open_idle(target, idle_wanted, &mut errors);
    let idle_open_secs = started.elapsed().as_secs_f64();

    // 2. The ping-pong connections and the streaming ones, all starting together.
    let stream_wanted = if target.kind == Kind::Udp {
        0
    } else {
        opts.stream
    };
    let barrier = Arc::new(Barrier::new(opts.conns + stream_wanted + 1));
    let streams: Vec<_> = (0..stream_wanted)
        .map(|_| {
            let (target, opts, barrier) = (target.clone(), *opts, Arc::clone(&barrier));
            thread::spawn(move || stream(&target, &opts, &barrier))
        })
        .collect();
    let workers: Vec<_> = (0..opts.conns)
        .map(|_| {
            let (target, opts, barrier) = (target.clone(), *opts, Arc::clone(&barrier));
            thread::spawn(move || ping_pong(&target, &opts, &barrier))
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let cpu = cpu::Window::start(opts.server_pid)?;
    let mut rtts: Vec<u32> = Vec::new();
    for worker in workers {
        match worker.join() {
            Ok(result) => {
                rtts.extend_from_slice(&result.rtts);
                if let Some(e) = result.error {
                    errors.add(e);
                }
            }
            Err(_) => errors.add(Failure::Other("a load thread panicked".to_string())),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut streamed: u64 = 0;
    for worker in streams {
        match worker.join() {
            Ok(result) => {
                streamed += result.bytes;
                if let Some(e) = result.error {
                    errors.add(Failure::Other(format!("streaming connection: {e}")));
                }
            }
            Err(_) => errors.add(Failure::Other("a streaming thread panicked".to_string())),
        }
    }
    let stream_elapsed = started.elapsed().as_secs_f64();
    let spent = cpu.finish()?;
    // An idle TCP connection past the cap was accepted and closed at once; it
    // never sent a byte, so only now, by looking, do we learn it is gone.
    let closed = idle.iter().filter(|c| closed_by_peer(c)).count();
    for _ in 0..closed {
        errors.add(Failure::Refused(
            "idle connection: closed by the server before any echo".to_string(),
        ));
    }
    drop(idle);

    rtts.sort_unstable();
    let messages = rtts.len() as u64;
    let rtts_us: Vec<f64> = rtts.iter().map(|&ns| f64::from(ns) / 1000.0).collect();
    Ok(Report {
        url: target.url.clone(),
        kind: target.kind,
        scheme: target.scheme(),
        conns: opts.conns,
        idle_asked: idle_wanted,
        idle: idle_wanted - errors.idle_failed - closed,
        idle_open_secs,
        size: opts.size,
        stream: stream_wanted,
        stream_size: opts.stream_size,
        stream_mb_per_sec: streamed as f64 / 1e6 / stream_elapsed.max(f64::EPSILON),
        messages,
        msgs_per_sec: messages as f64 / elapsed.max(f64::EPSILON),
        rtt_p50_us: percentile(&rtts_us, 50.0),
        rtt_p99_us: percentile(&rtts_us, 99.0),
        server_pid: opts.server_pid,
        cpu_server_secs: spent.server.map(|d| d.as_secs_f64()),
        cpu_client_secs: spent.client.as_secs_f64(),
        errors: errors.count,
        refused: errors.refused,
        first_error: errors.first,
    })
}

#[derive(Default)]
pub(crate) struct Errors {
    count: u64,
    refused: u64,
    idle_failed: usize,
    first: Option<String>,
}

impl Errors {
    pub(crate) fn add(&mut self, e: Failure) {
        self.count += 1;
        let text = match e {
            Failure::Refused(text) => {
                self.refused += 1;
                text
            }
            Failure::Other(text) => text,
        };
        self.first.get_or_insert(text);
    }
}

/// Whether the server has closed this idle connection (a TCP read would return
/// 0 or fail with a reset). Looks without taking or waiting: a non-blocking peek.
fn closed_by_peer(conn: &Idle) -> bool {
    let stream = match conn {
        Idle::Tcp(s) => s.tcp(),
        Idle::Ws(_) => return false, // a refused ws connection never became idle: 503
    };
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let mut byte = [0u8; 1];
    match stream.peek(&mut byte) {
        Ok(0) => true, // FIN: end of stream
        Ok(_) => false,
        Err(e) => e.kind() != io::ErrorKind::WouldBlock, // a reset: closed too
    }
}

/// A connection that is open and silent.
enum Idle {
    Tcp(Stream),
    Ws(#[allow(dead_code)] Box<WebSocket<Stream>>),
}

fn open_idle(target: &Target, count: usize, errors: &mut Errors) -> Vec<Idle> {
    let per_thread = count.div_ceil(IDLE_OPENERS);
    let openers: Vec<_> = (0..IDLE_OPENERS)
        .map(|i| {
            let target = target.clone();
            let n = per_thread.min(count.saturating_sub(i * per_thread));
            thread::spawn(move || {
                let mut opened = Vec::with_capacity(n);
                let mut failed = Vec::new();
                for _ in 0..n {
                    match open_one(&target) {
                        Ok(Conn::Tcp(s)) => opened.push(Idle::Tcp(s)),
                        Ok(Conn::Ws(ws)) => opened.push(Idle::Ws(ws)),
                        Ok(Conn::Udp(_)) => {}
                        Err(e) => failed.push(e),
                    }
                }
                (opened, failed)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(count);
    for opener in openers {
        if let Ok((opened, failed)) = opener.join() {
            all.extend(opened);
            errors.idle_failed += failed.len();
            for e in failed {
                errors.add(match e {
                    Failure::Refused(e) => Failure::Refused(format!("idle connection: {e}")),
                    Failure::Other(e) => Failure::Other(format!("idle connection: {e}")),
                });
            }
        }
    }
    all
}
