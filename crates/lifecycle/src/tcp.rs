//! TCP, one system call per step: `socket → setsockopt → bind → listen → accept`
//! on the server, `socket → connect` on the client, then `read/write → shutdown → close`.
//!
//! Each function here makes exactly one call (or one short, named sequence) and logs
//! it at `info` with the kernel's resulting TCP state, read back from the kernel
//! (see [`crate::state`]). The state is read only when the line is logged: with
//! narration off, no step pays for it. Run
//! `RUST_LOG=info socklab serve tcp` and `nc 127.0.0.1 7007` to watch a connection live.
//!
//! `std::net::TcpListener::bind` hides four of these steps in one function; here
//! they are spelled out with socket2, because the steps are the lesson.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use log::{debug, info};
use socket2::{Domain, Protocol, Socket, Type};

use crate::narrate::plural;
use crate::state::{TcpState, state_of, tcp_state};
use crate::{FourTuple, Proto, family_name};

/// How many fully handshaken connections the kernel queues for `accept()` before
/// it stops answering new SYNs. 128 was Linux's default `somaxconn` for decades.
pub const BACKLOG: i32 = 128;

/// How long, in all, [`graceful_close`] waits for the peer's FIN after sending ours.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// How many bytes [`graceful_close`] reads and discards while waiting for that FIN.
pub const DRAIN_LIMIT: usize = 64 * 1024;

// ANCHOR: listen
/// Makes a listening TCP socket: `socket(2)`, `setsockopt(2)`, `bind(2)`, `listen(2)`.
pub fn listen_tcp(addr: SocketAddr) -> io::Result<TcpListener> {
    // socket(2): ask the kernel for a TCP endpoint. It has no address yet.
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    let fd = socket.as_raw_fd();
    info!(
        "socket({}, SOCK_STREAM, IPPROTO_TCP) -> fd {fd}",
        family_name(&addr)
    );

    // setsockopt(2) SO_REUSEADDR: without it, restarting the server while old
    // connections sit in TIME_WAIT fails with "Address already in use".
    socket.set_reuse_address(true)?;
    info!("setsockopt(fd {fd}, SO_REUSEADDR, 1)");

    // bind(2): claim the local IP:port. Port 0 lets the kernel pick a free one.
    socket
        .bind(&addr.into())
        .map_err(|e| with_context(e, format!("bind({addr})")))?;
    let local = local_addr(&socket)?;
    info!("bind(fd {fd}, {addr}) -> {local}");

    // listen(2): from now on the kernel itself answers SYNs on this port and
    // queues finished handshakes until we accept() them.
    socket.listen(BACKLOG)?;
    info!("listen(fd {fd}, backlog={BACKLOG}): {}", state_of(&socket));

    Ok(socket.into())
}
// ANCHOR_END: listen

// ANCHOR: accept
/// `accept(2)`: takes one finished handshake off the queue as a new socket.
///
/// The listening socket stays in LISTEN; the returned connection has its own fd
/// and its own 4-tuple, already ESTABLISHED (the kernel did the handshake).
pub fn accept(listener: &TcpListener) -> io::Result<Connection> {
    let (stream, peer) = listener.accept()?;
    let conn = Connection::new(stream, peer)?;
    info!(
        "[{}] accept(fd {}) -> fd {}: {}",
        conn.tuple,
        listener.as_raw_fd(),
        conn.fd,
        conn.state()
    );
    Ok(conn)
}
// ANCHOR_END: accept

/// `socket(2)` then `connect(2)`: the client's side of the three-way handshake.
///
/// The kernel picks our local port (an "ephemeral" port) during connect.
pub fn connect_tcp(addr: SocketAddr, timeout: Duration) -> io::Result<Connection> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    info!(
        "socket({}, SOCK_STREAM, IPPROTO_TCP) -> fd {}",
        family_name(&addr),
        socket.as_raw_fd()
    );
    // connect(2) sends SYN and returns once SYN-ACK came back and we sent ACK.
    socket
        .connect_timeout(&addr.into(), timeout)
        .map_err(|e| with_context(e, format!("connect({addr})")))?;
    let conn = Connection::new(socket.into(), addr)?;
    info!(
        "[{}] connect(fd {}, {addr}): SYN, SYN-ACK, ACK done: {}",
        conn.tuple,
        conn.fd,
        conn.state()
    );
    Ok(conn)
}

/// One TCP connection whose `read`, `write`, `shutdown` and `close` narrate themselves.
///
/// It is `Read + Write`, so anything that speaks a protocol over a stream
/// (an echo loop, tungstenite) can run over it unchanged.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    tuple: FourTuple,
    fd: i32,
    /// A `read` returned 0: the peer's FIN has arrived and we have seen it.
    peer_sent_fin: bool,
}

impl Connection {
    fn new(stream: TcpStream, peer: SocketAddr) -> io::Result<Connection> {
        let tuple = FourTuple {
            proto: Proto::Tcp,
            local: stream.local_addr()?,
            peer,
        };
        let fd = stream.as_raw_fd();
        Ok(Connection {
            stream,
            tuple,
            fd,
            peer_sent_fin: false,
        })
    }

    /// The connection's name: tcp, local IP:port, peer IP:port.
    pub fn tuple(&self) -> FourTuple {
        self.tuple
    }

    /// The file descriptor number the kernel gave this socket.
    pub fn fd(&self) -> i32 {
        self.fd
    }

    /// The underlying stream, for socket options such as timeouts.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// The kernel's TCP state of this connection right now, asked of the socket
    /// itself (`TCP_INFO`, see [`state_of`]).
    pub fn state(&self) -> TcpState {
        state_of(&self.stream)
    }

    /// Gives up on a peer that makes no progress for `idle`: a read that waits that
    /// long for a byte, or a write that waits that long for room in the send
    /// buffer (a peer that sends but never reads), fails with an error for which
    /// [`is_timeout`] is true. `None` waits forever.
    pub fn set_idle_timeout(&self, idle: Option<Duration>) -> io::Result<()> {
        // SO_RCVTIMEO and SO_SNDTIMEO: both, or a non-reading peer would hold a
        // blocked write() (and its thread) forever.
        self.set_timeouts(idle, idle)
    }

    /// `write_all`, with the write-stall clock kept exactly: fails with
    /// `TimedOut` once the peer has taken nothing for `stall`.
    ///
    /// SO_SNDTIMEO alone is not enough: a `write()` that copied some bytes at
    /// once and then waited the whole timeout for room returns those bytes as a
    /// success, and the next `write()` would wait the timeout again. So a call
    /// that returned only after `stall` counts as stalled too.
    pub fn write_all_or_stall(
        &mut self,
        mut buf: &[u8],
        stall: Option<Duration>,
    ) -> io::Result<()> {
        while !buf.is_empty() {
            let started = std::time::Instant::now();
            match self.write(buf) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // SO_SNDTIMEO ran out (EAGAIN): said as TimedOut, so a caller
                // tells the write stall from a read's idle timeout (WouldBlock).
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                Err(e) => return Err(e),
            }
            if !buf.is_empty() && stall.is_some_and(|t| started.elapsed() >= t) {
                return Err(io::ErrorKind::TimedOut.into());
            }
        }
        Ok(())
    }

    /// Two clocks, as the event loop keeps them: `idle` bounds a `read()` waiting
    /// for a byte from the peer (SO_RCVTIMEO), `stall` bounds a `write()` waiting
    /// for room while the peer does not read (SO_SNDTIMEO). Each restarts on every
    /// byte moved. `None` waits forever.
    pub fn set_timeouts(&self, idle: Option<Duration>, stall: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(idle)?;
        self.stream.set_write_timeout(stall)
    }

    /// `setsockopt(2)` `TCP_CORK`: while on, the kernel holds small writes
    /// back to send them as full segments; `shutdown(SHUT_WR)` or turning it
    /// off sends what it holds at once (with the FIN, for a shutdown).
    pub fn set_cork(&self, on: bool) -> io::Result<()> {
        socket2::SockRef::from(&self.stream).set_tcp_cork(on)?;
        info!(
            "[{}] setsockopt(fd {}, TCP_CORK, {})",
            self.tuple,
            self.fd,
            u8::from(on)
        );
        Ok(())
    }

    // ANCHOR: shutdown
    /// `shutdown(2)` with `SHUT_WR`: sends our FIN. The peer will read 0 (end of
    /// stream), but we can still read what it sends, and the fd stays open.
    pub fn shutdown_write(&self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Write)?;
        info!(
            "[{}] shutdown(fd {}, SHUT_WR): our FIN is sent: {}",
            self.tuple,
            self.fd,
            self.state()
        );
        Ok(())
    }
    // ANCHOR_END: shutdown

    // ANCHOR: close
    /// `close(2)`: gives the fd back. If we had not sent FIN yet, the kernel sends it
    /// now; whichever side sent FIN first ends in TIME_WAIT.
    pub fn close(self) {
        let Connection {
            stream, tuple, fd, ..
        } = self;
        drop(stream); // this is the close(2)
        // The fd is gone, so the kernel is asked by the connection's 4-tuple; in
        // TIME_WAIT it still remembers the connection.
        info!(
            "[{tuple}] close(fd {fd}): {}",
            tcp_state(tuple.local, tuple.peer)
        );
    }
    // ANCHOR_END: close

    /// Gives up the narration and returns the plain stream (for an event loop that
    /// registers it with mio). Closing it is then the caller's job.
    pub fn into_std(self) -> TcpStream {
        self.stream
    }
}

impl Read for Connection {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Errors (a timeout, WouldBlock, a reset) go to the caller unlogged: only the
        // caller knows whether they are normal.
        let n = self.stream.read(buf)?;
        if n == 0 {
            // 0 is not an error: it is how read() says the peer sent FIN.
            self.peer_sent_fin = true;
            info!(
                "[{}] read(fd {}) = 0: the peer sent FIN: {}",
                self.tuple,
                self.fd,
                self.state()
            );
        } else {
            info!("[{}] read(fd {}) = {n}", self.tuple, self.fd);
            debug!("[{}] read bytes {:?}", self.tuple, Escaped(&buf[..n]));
        }
        Ok(n)
    }
}

impl Write for Connection {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // A write may take fewer bytes than offered (a "short write"); write_all loops.
        let n = self.stream.write(buf)?;
        info!(
            "[{}] write(fd {}, {}) = {n}",
            self.tuple,
            self.fd,
            plural(buf.len(), "byte")
        );
        debug!("[{}] wrote bytes {:?}", self.tuple, Escaped(&buf[..n]));
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // TCP has no user-space buffer here: write() already handed bytes to the kernel.
        Ok(())
    }
}

// ANCHOR: graceful_close
/// Ends a connection so the peer sees FIN, never RST: shutdown, drain, close.
///
/// Why drain: if bytes the peer sent are still unread in our receive buffer when we
/// call `close()`, Linux answers with RST, and the peer may lose data we already
/// sent it. So we send our FIN, then read (and discard, up to [`DRAIN_LIMIT`]
/// bytes, for at most [`DRAIN_TIMEOUT`]) until the peer's FIN arrives.
pub fn graceful_close(mut conn: Connection) {
    // If we already read the peer's FIN (read returned 0), there is nothing left to
    // drain: shutdown and close are enough. (A flag, not a state lookup: this runs
    // whether or not anyone is watching the narration.)
    let peer_done = conn.peer_sent_fin;
    // The peer may also be gone (reset); then there is nothing to shut down.
    if conn.shutdown_write().is_ok() && !peer_done {
        // One deadline for the whole drain, not one per read: a peer trickling a
        // byte a second must not hold this connection open for hours.
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        let mut buf = [0u8; 4096];
        let mut drained = 0;
        while drained < DRAIN_LIMIT {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || conn.set_idle_timeout(Some(left)).is_err() {
                break;
            }
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => break, // FIN arrived, or the peer is gone, or time is up
                Ok(n) => drained += n,
            }
        }
    }
    conn.close();
}
// ANCHOR_END: graceful_close

/// True for the errors a read timeout produces (`EAGAIN` on Unix, `TimedOut` elsewhere).
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// True for the errors that mean "the peer went away abruptly" — a normal event
/// for a server, logged as such, not as a failure.
pub fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

fn local_addr(socket: &Socket) -> io::Result<SocketAddr> {
    socket
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("not an IP socket"))
}

pub(crate) fn with_context(e: io::Error, what: String) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Bytes shown as a Rust byte string: printable ASCII as is, the rest escaped.
pub struct Escaped<'a>(pub &'a [u8]);

impl std::fmt::Debug for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 64;
        write!(f, "b\"")?;
        for &b in self.0.iter().take(SHOWN) {
            write!(f, "{}", std::ascii::escape_default(b))?;
        }
        if self.0.len() > SHOWN {
            write!(f, "\"… ({} bytes)", self.0.len())
        } else {
            write!(f, "\"")
        }
    }
}
