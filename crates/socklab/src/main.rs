//! `socklab`: the command line. Each subcommand lives in its own module and is
//! thin: it parses flags and calls the library crates, where the lessons are.
//!
//! Run: `cargo run --release -- tour` for the guided tour, `--help` for the rest.

/// `println!` for results on stdout, except that a closed pipe (`socklab tour |
/// head`, quitting `less`) ends the program quietly instead of panicking.
macro_rules! outln {
    () => {
        $crate::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` with [`outln!`]'s handling of a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::write_out(format_args!($($arg)*))
    };
}

mod bench;
mod bridge;
mod chat;
mod classroom;
mod compare;
mod compare_deflate;
mod compare_push;
mod diagram;
mod exercise;
mod handshake;
mod invoked;
mod secure;
mod send;
mod send_deflate;
mod send_http;
mod serve;
mod tour;
mod trust;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Subcommand};

/// See what a raw TCP/UDP socket is and what a WebSocket adds on top of it,
/// measured on your own machine.
#[derive(clap::Parser)]
#[command(
    version,
    after_help = "Examples:\n  socklab tour                            # start here: 10 of the 23 lessons, measured, in seconds\n  socklab serve tcp                       # TCP echo on 127.0.0.1:7007, narrated\n  socklab serve udp                       # UDP echo on 127.0.0.1:7007\n  RUST_LOG=debug socklab serve tcp        # narration plus the bytes\n  socklab send ws://127.0.0.1:8080/ hi --wire   # every byte of a WebSocket exchange, decoded\n  socklab compare                         # tcp, udp, ws, tls and wss side by side\n  socklab bridge                          # ws://127.0.0.1:8081/ carried to tcp://127.0.0.1:7007\n\nThe narration goes to stderr; RUST_LOG=warn silences it, RUST_LOG=info turns it on for any command."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The guided tour: servers in-process, lessons shown with a measurement (all of them: docs/lessons.md)
    Tour(tour::Tour),
    /// Run an echo server on loopback, narrating every system call
    Serve(serve::Serve),
    /// Load echo servers with strict ping-pong: msgs/s, RTT p50/p99, errors
    Bench(bench::Bench),
    /// Send messages over tcp://, udp://, ws://, tls:// or wss:// and print the echoes (--wire: every byte)
    Send(send::Send),
    /// The websockify role: WebSocket in, one TCP connection out per client (lesson 15)
    Bridge(bridge::Bridge),
    /// Type lines, see arrivals as they come (full duplex)
    Chat(chat::Chat),
    /// The same script over TCP, UDP, WebSocket, TLS and WebSocket over TLS: a table of measured differences
    Compare(compare::Compare),
    /// Print the Sec-WebSocket-Accept for a Sec-WebSocket-Key
    Handshake(handshake::Handshake),
    /// Classroom exercises: list, show, and check your work on real sockets
    Exercise(exercise::ExerciseCmd),
    /// Draw SVG sequence and state diagrams (and bench charts) from a run on this machine
    Diagram(diagram::Diagram),
    /// The teacher's servers (tcp, udp, ws, chat, push) and a live dashboard of every student's connection
    Classroom(classroom::Classroom),
}

impl Command {
    /// Servers narrate by default; the client commands print their own results on
    /// stdout, so their narration is off unless RUST_LOG asks for it.
    fn default_log_level(&self) -> &'static str {
        match self {
            Command::Serve(_) | Command::Bridge(_) | Command::Classroom(_) => "info",
            // A check's own servers would warn about the very mistakes the
            // check reports; the findings say it once, in the student's terms.
            Command::Exercise(_) => "error",
            _ => "warn",
        }
    }
}

/// Set once by a command given `--stable`: from then on every result line goes
/// through client::stable's placeholders on its way out (the narration on
/// stderr does not: it is not pasted).
static STABLE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Turns `--stable`'s pass over stdout on.
fn set_stable(on: bool) {
    STABLE.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Writes to stdout; if the reader has gone away (EPIPE), exits with status 0:
/// nobody is left to read the rest, and that is not an error of ours.
fn write_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let written = if STABLE.load(std::sync::atomic::Ordering::Relaxed) {
        let text = client::stable::text(&args.to_string());
        std::io::stdout().lock().write_all(text.as_bytes())
    } else {
        std::io::stdout().lock().write_fmt(args)
    };
    if let Err(e) = written {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("socklab: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// glibc's malloc arenas: at most this many. By default each thread may get
/// its own (up to 8 per core), and memory one event loop frees stays in its
/// arena, out of another's reach: a chat room under 80 never-reading members
/// peaked at 45 MiB RSS with a 16 MiB budget spent, 24 MiB with two arenas
/// (scripts/hostile.sh, never-reads@chat). The budget counts what the servers
/// hold; two arenas make the process's memory follow it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_ARENAS: libc::c_int = 2;

/// Runs the command. A user error (a bad URL, nothing listening, a refused
/// Upgrade) is printed as one message, its causes joined by ": ", and exits 1.
/// It is not returned from `main`: that would print anyhow's Debug form, which
/// adds the backtrace anyhow captured whenever RUST_BACKTRACE is set — twenty
/// lines about our own stack for "connection refused". A panic is a bug, not a
/// user error, and keeps its backtrace.
fn main() -> ExitCode {
    // SAFETY: mallopt only sets a malloc parameter; called before any thread starts.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
    }
    // The examples in every --help, written with the name that runs this binary
    // (`target/release/socklab` when `socklab` is not on PATH: see invoked.rs).
    let name = invoked::command_name();
    let matches = examples_for(Cli::command(), &name).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    lifecycle::narrate::init(cli.command.default_log_level());
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A hint in the message ("to start a server there: socklab serve
            // tcp") names the command that works from here.
            eprintln!(
                "socklab: error: {}",
                invoked::with_name(&format!("{e:#}"), &name)
            );
            ExitCode::FAILURE
        }
    }
}

/// `cmd` with the examples of its `--help` (and of every subcommand's) written
/// with `name` for `socklab`.
fn examples_for(mut cmd: clap::Command, name: &str) -> clap::Command {
    if let Some(help) = cmd.get_after_help() {
        let text = invoked::with_name(&help.to_string(), name);
        cmd = cmd.after_help(text);
    }
    let subcommands: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for sub in subcommands {
        cmd = cmd.mut_subcommand(sub, |s| examples_for(s, name));
    }
    cmd
}

/// Hands the command to its module.
fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Tour(tour) => tour.run(),
        Command::Serve(serve) => serve.run(),
        Command::Bench(bench) => bench.run(),
        Command::Send(send) => send.run(),
        Command::Bridge(bridge) => bridge.run(),
        Command::Chat(chat) => chat.run(),
        Command::Compare(compare) => compare.run(),
        Command::Handshake(handshake) => handshake.run(),
        Command::Exercise(exercise) => exercise.run(),
        Command::Diagram(diagram) => diagram.run(),
        Command::Classroom(classroom) => classroom.run(),
    }
}
