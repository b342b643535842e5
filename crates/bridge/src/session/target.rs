//! The bridge's TCP leg: the connection to the target — its `connect(2)`
//! (non-blocking, with a timeout), its bytes both ways, its FIN and failures.

use std::io;
use std::net::Shutdown as How;
use std::os::fd::AsRawFd;
use std::time::Instant;

use lifecycle::narrate::plural;
use lifecycle::state::state_of;
use lifecycle::tcp::Escaped;
use lifecycle::{FourTuple, Proto};
use log::{debug, info, warn};
use mio::net::TcpStream;
use serve::v3_event_loop::{Progress, Tracked, Turn, write_some};
use socket2::{Domain, Protocol, Socket, Type};
use tungstenite::Message;
use tungstenite::protocol::frame::coding::CloseCode;

use super::Bridge;

/// EINPROGRESS: a non-blocking `connect(2)` has sent its SYN and returned; the
/// handshake finishes in the kernel, and the socket turns writable when it has.
const EINPROGRESS: i32 = 115;

/// Where the TCP leg is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TargetState {
    /// `connect(2)` returned EINPROGRESS; waiting for the socket to turn writable.
    Connecting,
    /// ESTABLISHED: bytes both ways.
    Open,
    /// We sent FIN (`shutdown(SHUT_WR)`): reading until the target's FIN.
    FinSent,
}

/// The TCP leg: the connection to the target.
pub(super) struct Target {
    pub(super) stream: Tracked,
    pub(super) state: TargetState,
    /// The target sent FIN (read returned 0).
    pub(super) fin_received: bool,
    /// When a connect still in progress is given up (`--connect-timeout`).
    pub(super) connect_by: Instant,
}

impl Bridge {
    /// Writes what waits for the target; then, if the WebSocket leg has ended,
    /// sends the target our FIN.
    pub(super) fn flush_target(&mut self) -> io::Result<()> {
        let over = self.machine.is_done();
        let Some(target) = self.target.as_mut() else {
            return Ok(());
        };
        if target.state == TargetState::Connecting {
            if over {
                self.close_target(); // the client left before the target answered
            }
            return Ok(());
        }
        let bytes = &mut self.machine.handler_mut().bytes;
        while !bytes.is_empty() {
            match write_some(&mut target.stream, bytes) {
                Ok(Some(n)) => {
                    bytes.drain(..n);
                }
                Ok(None) => return Ok(()),
                Err(e) => return self.target_failed(&e),
            }
        }
        if over && target.state == TargetState::Open {
            // shutdown(2) SHUT_WR: the target reads 0 (FIN) after the last byte.
            let _ = target.stream.get_ref().shutdown(How::Write);
            target.state = TargetState::FinSent;
            let fd = target.stream.get_ref().as_raw_fd();
            info!(
                "[{}] tcp leg: shutdown(fd {fd}, SHUT_WR): FIN to the target: {}",
                self.tuple,
                state_of(target.stream.get_ref())
            );
            if target.fin_received {
                self.close_target();
            }
        }
        Ok(())
    }

    /// `close(2)` of the TCP leg.
    pub(super) fn close_target(&mut self) {
        if let Some(target) = self.target.take() {
            let fd = target.stream.get_ref().as_raw_fd();
            self.target_progress = add(self.target_progress, target.stream.progress());
            drop(target);
            info!("[{}] tcp leg: close(fd {fd})", self.tuple);
        }
    }

    // ANCHOR: connect
    /// Opens the TCP leg: `socket(2)`, then a non-blocking `connect(2)`, which
    /// sends the SYN and returns EINPROGRESS at once; the loop goes on serving
    /// others, and the socket turns writable when the handshake is done (or
    /// has failed: see [`Bridge::check_connect`]).
    pub(super) fn connect(&mut self, turn: &mut Turn<'_>) -> io::Result<()> {
        let to = self.config.target;
        let socket = Socket::new(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        let fd = socket.as_raw_fd();
        info!("[{}] tcp leg: socket(SOCK_STREAM) -> fd {fd}", self.tuple);
        match socket.connect(&to.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(EINPROGRESS) => info!(
                "[{}] tcp leg: connect(fd {fd}, {to}): EINPROGRESS (SYN sent; waiting for writable)",
                self.tuple
            ),
            Err(e) => return Err(e),
        }
        let mut stream = TcpStream::from_std(socket.into());
        turn.register_outbound(&mut stream)?;
        let tuple = FourTuple {
            proto: Proto::Tcp,
            local: stream.local_addr()?,
            peer: to,
        };
        self.target = Some(Target {
            stream: Tracked::new(stream, tuple),
            state: TargetState::Connecting,
            fin_received: false,
            connect_by: Instant::now() + self.config.connect_timeout,
        });
        Ok(())
    }

    /// Has the non-blocking connect finished? `SO_ERROR` (`take_error`) says
    /// whether it failed; a peer address says it succeeded; neither: not yet.
    pub(super) fn check_connect(&mut self) {
        let Some(target) = self.target.as_mut() else {
            return;
        };
        if target.state != TargetState::Connecting {
            return;
        }
        let s = target.stream.get_ref();
        let failed = match s.take_error() {
            Ok(Some(e)) | Err(e) => Some(e),
            Ok(None) => match s.peer_addr() {
                Ok(_) => None,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return, // not yet
                Err(e) => Some(e),
            },
        };
        match failed {
            None => {
                target.state = TargetState::Open;
                info!(
                    "[{}] tcp leg: fd {} writable: connected {} → {}: {}",
                    self.tuple,
                    s.as_raw_fd(),
                    target
                        .stream
                        .get_ref()
                        .local_addr()
                        .map_or_else(|_| "?".into(), |a| a.to_string()),
                    self.config.target,
                    state_of(s)
                );
            }
            Some(e) => {
                warn!(
                    "[{}] tcp leg: connect to {} failed: {e}: closing the WebSocket with 1011",
                    self.tuple, self.config.target
                );
                self.target = None;
                let reason = format!("cannot connect to tcp://{}: {e}", self.config.target);
                self.machine.close(CloseCode::Error, &reason);
            }
        }
    }
    // ANCHOR_END: connect

    /// The TCP leg failed (a reset, an error): Close 1011 to the client.
    pub(super) fn target_failed(&mut self, e: &io::Error) -> io::Result<()> {
        warn!(
            "[{}] tcp leg failed: {e}: closing the WebSocket with 1011",
            self.tuple
        );
        self.close_target();
        self.machine.handler_mut().bytes = Vec::new();
        self.machine.close(
            CloseCode::Error,
            &format!("the target connection failed: {e}"),
        );
        Ok(())
    }

    // ANCHOR: target_bytes
    /// One read's worth from the target becomes one binary message.
    pub(super) fn target_bytes(&mut self, bytes: &[u8]) {
        let tuple = self.tuple;
        let before = self.machine.output().len();
        if !self.machine.send(Message::binary(bytes.to_vec())) {
            // After the close: the bytes have nowhere to go.
            debug!(
                "[{tuple}] tcp leg: {} after the WebSocket closed: dropped",
                plural(bytes.len(), "byte")
            );
            return;
        }
        let framed = self.machine.output().len().saturating_sub(before);
        if self.config.wire_log {
            info!(
                "[{tuple}] wire: target → client: {} bare bytes {:?} → one binary frame of {framed} bytes",
                bytes.len(),
                Escaped(bytes)
            );
        } else {
            info!(
                "[{tuple}] tcp leg: {} → one binary message ({framed} bytes framed)",
                plural(bytes.len(), "byte")
            );
        }
    }
    // ANCHOR_END: target_bytes

    /// The target sent FIN: Close 1000 to the client.
    pub(super) fn target_closed(&mut self) {
        let tuple = self.tuple;
        if let Some(t) = self.target.as_mut() {
            t.fin_received = true;
        }
        if self.machine.is_open() {
            info!("[{tuple}] tcp leg: the target sent FIN: closing the WebSocket with 1000");
            self.machine
                .close(CloseCode::Normal, "the target closed the connection");
        }
        if self
            .target
            .as_ref()
            .is_some_and(|t| t.state == TargetState::FinSent)
        {
            self.close_target();
        }
    }
}

/// Two legs' progress, added.
pub(super) fn add(a: Progress, b: Progress) -> Progress {
    Progress {
        read: a.read + b.read,
        written: a.written + b.written,
    }
}
