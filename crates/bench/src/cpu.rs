//! CPU time per message: how much work each round trip cost the server, the
//! client, and both together.
//!
//! Throughput alone hides the price: two servers may echo as many messages per
//! second while one burns twice the CPU for it (a busy-spinning loop steals the
//! client's core and still looks fast). So a run samples CPU time at the start
//! and the end of its timed window:
//! - the server's from `/proc/PID/stat` (utime + stime: every thread of the
//!   process, the ones that ended too), in clock ticks — 10 ms on Linux, so a
//!   window of seconds is precise to a percent or two;
//! - the client's own from `getrusage(RUSAGE_SELF)` (every thread of this
//!   process, in µs).
//!
//! The server runs as its own process (`scripts/bench.sh` starts every server
//! that way): were it in this process, its CPU and the load's would be one
//! figure. On loopback the kernel does the peer's wake-up inside the sender's
//! system call, so part of what the client pays is the server's wake-up and the
//! other way round: only the total compares fairly across servers.

use std::io;
use std::time::Duration;

/// CPU time spent during one window: the server's (when its PID is known) and
/// this process's own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spent {
    /// The server process's user + system time; `None` when no PID was given or
    /// the process could not be read.
    pub server: Option<Duration>,
    /// This process's (the load generator's) user + system time.
    pub client: Duration,
}

/// A window being measured: the readings at its start.
pub struct Window {
    server_pid: Option<u32>,
    server_at_start: Option<Duration>,
    client_at_start: Duration,
}

impl Window {
    /// Starts a window now. `server_pid` must be another process: this one's own
    /// CPU is the client's.
    pub fn start(server_pid: Option<u32>) -> io::Result<Window> {
        if server_pid == Some(std::process::id()) {
            return Err(io::Error::other(
                "the server's PID is this process: its CPU could not be told from the load's; run the server as its own process",
            ));
        }
        Ok(Window {
            server_pid,
            server_at_start: server_pid.map(process_cpu).transpose()?,
            client_at_start: own_cpu()?,
        })
    }

    /// Ends the window now: what was spent since [`Window::start`]. A server
    /// that is gone by now (it crashed under the load) has no figure.
    pub fn finish(self) -> io::Result<Spent> {
        let client = own_cpu()?.saturating_sub(self.client_at_start);
        let server = match (self.server_pid, self.server_at_start) {
            (Some(pid), Some(start)) => process_cpu(pid).ok().map(|end| end.saturating_sub(start)),
            _ => None,
        };
        Ok(Spent { server, client })
    }
}

/// A process's CPU time so far (user + system, all its threads, the ended ones
/// included), from `/proc/PID/stat`.
pub fn process_cpu(pid: u32) -> io::Result<Duration> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let ticks = parse_stat_ticks(&text)
        .ok_or_else(|| io::Error::other(format!("/proc/{pid}/stat: no utime and stime in it")))?;
    Ok(ticks_to_duration(ticks, ticks_per_sec()))
}

/// utime + stime, in clock ticks, from the text of `/proc/PID/stat`. The command
/// name (field 2) is in parentheses and may hold spaces or parentheses itself,
/// so the fields are counted from the last `)`: state is field 3, utime 14,
/// stime 15.
fn parse_stat_ticks(text: &str) -> Option<u64> {
    /// utime's index among the fields after the command name (state is 0).
    const UTIME: usize = 14 - 3;
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(UTIME);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
fn ticks_per_sec() -> u64 {
    /// What Linux uses on every architecture, if sysconf has no answer.
    const LINUX_USER_HZ: u64 = 100;
    // SAFETY: sysconf reads a constant of the system; it has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(hz)
        .ok()
        .filter(|&hz| hz > 0)
        .unwrap_or(LINUX_USER_HZ)
}

fn ticks_to_duration(ticks: u64, per_sec: u64) -> Duration {
    Duration::from_secs(ticks / per_sec)
        + Duration::from_nanos((ticks % per_sec) * 1_000_000_000 / per_sec)
}

/// This process's CPU time so far (user + system, every thread), from getrusage.
pub fn own_cpu() -> io::Result<Duration> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; it is zeroed and ours.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: getrusage returned 0, so it wrote the whole struct.
    let usage = unsafe { usage.assume_init() };
    let tv = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    Ok(tv(usage.ru_utime) + tv(usage.ru_stime))
}

/// Microseconds of CPU per message, `None` when there is no figure or no message.
pub fn per_message_us(spent: Option<Duration>, messages: u64) -> Option<f64> {
    match (spent, messages) {
        (Some(d), n) if n > 0 => Some(d.as_secs_f64() * 1e6 / n as f64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// utime and stime are fields 14 and 15, counted past a command name that
    /// may itself hold spaces and parentheses.
    #[test]
    fn reads_utime_and_stime_past_any_command_name() {
        let stat =
            "4242 (tokio (ws) echo) S 1 4242 4242 0 -1 4194560 120 0 0 0 37 5 0 0 20 0 3 0 100 0 0";
        assert_eq!(parse_stat_ticks(stat), Some(42));
        assert_eq!(parse_stat_ticks("4242 (cut) S 1 2"), None);
        assert_eq!(ticks_to_duration(250, 100), Duration::from_millis(2500));
    }

    /// This process's own figures: they exist and do not go backwards; the
    /// server may not be this process.
    #[test]
    fn own_cpu_and_own_stat_agree_it_is_running() {
        assert!(process_cpu(std::process::id()).is_ok());
        let window = Window::start(None).unwrap();
        let spent = window.finish().unwrap();
        assert_eq!(spent.server, None);
        assert!(own_cpu().unwrap() >= spent.client);
        assert!(Window::start(Some(std::process::id())).is_err());
        assert_eq!(
            per_message_us(Some(Duration::from_millis(3)), 1000),
            Some(3.0)
        );
        assert_eq!(per_message_us(Some(Duration::from_millis(3)), 0), None);
        assert_eq!(per_message_us(None, 10), None);
    }
}
