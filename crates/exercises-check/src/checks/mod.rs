//! One check per exercise, and what they share: the servers they start in this
//! process, and small socket helpers with deadlines.

mod accept;
mod answers;
mod capture;
mod duplex;
mod http;
mod servers;
mod sse;
mod streams;

use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serve::{Engine, Model, Running};

use crate::catalog::Exercise;
use crate::report::Report;
use crate::student::{self, Program};

/// Loopback, port 0: the kernel picks a free port.
const EPHEMERAL: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// How long a student's server has to print `listening on ADDR`.
const STARTUP: Duration = Duration::from_secs(5);

/// How long any one expected reply may take on loopback before it counts as
/// not coming: generous, since CI machines are slow and shared.
const REPLY: Duration = Duration::from_secs(2);

/// Runs exercise `e`'s check on `dir`.
pub fn run(e: &Exercise, dir: &Path) -> anyhow::Result<Report> {
    match e.id {
        1 => servers::threads(&program(dir)?),
        2 => answers::frame_bytes(dir),
        3 => answers::unmasked(dir),
        4 => servers::time_wait(&program(dir)?),
        5 => streams::udp_loss(&program(dir)?),
        6 => streams::boundaries(&program(dir)?),
        7 => accept::accept(&program(dir)?),
        8 => servers::size_limit(&program(dir)?),
        9 => streams::half_close(&program(dir)?),
        10 => http::raw_websocket(&program(dir)?),
        11 => http::keep_alive(&program(dir)?),
        12 => http::long_poll(&program(dir)?),
        13 => capture::capture(e, dir),
        14 => duplex::duplex(&program(dir)?),
        15 => sse::sse_resume(&program(dir)?),
        n => anyhow::bail!("exercise {n} is in exercises.toml but has no check yet"),
    }
}

/// The student's program, built.
fn program(dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    student::build(dir)
}

/// Starts a student's server with `127.0.0.1:0` and returns it with its address.
fn start_server(exe: &Path, report: &mut Report) -> anyhow::Result<Option<(Program, SocketAddr)>> {
    let mut server = Program::start(exe, &["127.0.0.1:0".to_string()])?;
    match server.listening(STARTUP) {
        Ok(addr) => {
            report.note_ko(
                format!("your server listens on {addr}"),
                format!("서버가 {addr}에서 기다립니다"),
            );
            Ok(Some((server, addr)))
        }
        Err((why, why_ko)) => {
            report.wrong_ko(why, why_ko);
            Ok(None)
        }
    }
}

/// ws-echo (the event loop, as `socklab serve ws` runs it) in this process.
fn ws_echo() -> io::Result<Running> {
    let engine = Engine::new(1)?;
    Running::tcp(EPHEMERAL, move |listener, shutdown| {
        ws_echo::serve(
            Model::EventLoop,
            listener,
            shutdown,
            ws_echo::Config::default(),
            engine,
        )
    })
}

/// The push server (`socklab serve push`) in this process, publishing `rate`
/// events per second.
fn push_server(rate: f64) -> io::Result<Running> {
    let engine = Engine::new(1)?;
    let config = push::Config {
        rate,
        hold: Duration::from_secs(2),
        ..push::Config::default()
    };
    Running::tcp(EPHEMERAL, move |listener, shutdown| {
        push::serve(listener, shutdown, config, engine, Arc::default())
    })
}

/// Reads until `want` bytes have come, the peer closes, or `wait` passes;
/// returns what came (maybe less).
fn read_for(stream: &mut TcpStream, want: usize, wait: Duration) -> Vec<u8> {
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < want {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break, // the peer closed, or time is up
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

/// `"one\n"` style quoting for findings.
fn q(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}
