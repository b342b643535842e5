//! Closing, the last of the four verbs, each protocol's way — TCP's FIN each
//! way, WebSocket's close frames then the server's FIN, nothing at all for UDP —
//! and what the kernel says about both ends afterwards (who holds TIME_WAIT).

use std::fmt;
use std::io::{Read as _, Write as _};
use std::thread;
use std::time::{Duration, Instant};

use lifecycle::state::tcp_state;
use lifecycle::{Direction, FourTuple, Tap, TapLog, TcpState};
use log::info;
use tungstenite::Message;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::Utf8Bytes;
use tungstenite::protocol::frame::coding::CloseCode;

use super::{
    CLOSE_MAX_BYTES, CLOSE_TIMEOUT, Error, Link, Pipe, READ_BUFFER, STATE_POLL, STATE_TIMEOUT,
    Transport,
};

/// The close code of a normal end (RFC 6455 §7.4.1): what our close frame says.
const CLOSE_NORMAL: u16 = 1000;

/// One of the two ends of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Us.
    Client,
    /// The server.
    Server,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Client => "client",
            Side::Server => "server",
        })
    }
}

/// How the conversation ended, as measured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloseReport {
    /// The status code in the server's close frame (ws only).
    pub close_code: Option<u16>,
    /// When we sent FIN (shutdown or close), on the Tap's clock (tcp and ws).
    pub our_fin: Option<Duration>,
    /// When `read()` returned 0 — the server's FIN — on the Tap's clock.
    pub their_fin: Option<Duration>,
    /// The kernel's state of our socket once the close settled.
    pub client_state: Option<TcpState>,
    /// The kernel's state of the server's socket for this connection.
    pub server_state: Option<TcpState>,
}

impl CloseReport {
    /// Who sent FIN first, from the two times above.
    pub fn first_fin(&self) -> Option<Side> {
        match (self.our_fin, self.their_fin) {
            (Some(ours), Some(theirs)) if theirs < ours => Some(Side::Server),
            (Some(_), _) => Some(Side::Client),
            (None, Some(_)) => Some(Side::Server),
            (None, None) => None,
        }
    }

    /// Which side the kernel lists in TIME_WAIT.
    pub fn time_wait(&self) -> Option<Side> {
        if self.client_state == Some(TcpState::TimeWait) {
            Some(Side::Client)
        } else if self.server_state == Some(TcpState::TimeWait) {
            Some(Side::Server)
        } else {
            None
        }
    }
}

impl Transport {
    // ANCHOR: close
    /// Ends the conversation the way each protocol does, and reports what the
    /// kernel says about both ends afterwards.
    ///
    /// - tcp: `shutdown(SHUT_WR)` sends our FIN; we read until the server's FIN
    ///   (read() = 0), then `close()`. We sent FIN first, so we end in TIME_WAIT.
    /// - ws: a close frame with 1000; the server answers with its own close frame
    ///   and then, as RFC 6455 asks, closes the TCP connection first — so the
    ///   server's socket holds TIME_WAIT; we read its FIN, then `close()`.
    /// - udp: nothing goes on the wire; `close()` only frees our descriptor.
    ///
    /// The wait for the server's side is bounded as a whole: [`CLOSE_TIMEOUT`]
    /// from the start of `close`, and at most [`CLOSE_MAX_BYTES`] read meanwhile.
    pub fn close(mut self) -> Result<CloseReport, Error> {
        // --seed: our close frame masked from the seed too, written by hand.
        // --deflate: tungstenite never read the compressed frames, so the
        // close goes past it too, masked at random unless seeded.
        let mask = match (&self.deflate, self.seeded.as_mut()) {
            (_, Some(seeded)) => Some(seeded.mask()),
            (Some(_), None) => Some(super::random_mask()),
            (None, None) => None,
        };
        match mask {
            Some(mask) => {
                let frame = crate::wire::close_frame(CLOSE_NORMAL, Some(mask));
                self.close_with(Some(&frame))
            }
            None => self.close_with(None),
        }
    }

    /// [`Transport::close`] for ws, with our close frame given as bytes (built
    /// by [`crate::wire::close_frame`] with a known mask, for `send --seed`):
    /// it is written past tungstenite, and the server's close frame and FIN are
    /// then read from the Tap as bytes, so tungstenite never answers with a
    /// close frame of its own (masked at random). The close code comes from
    /// the recorded bytes. tcp and udp close as [`Transport::close`] does.
    pub fn close_raw(self, close_frame: &[u8]) -> Result<CloseReport, Error> {
        self.close_with(Some(close_frame))
    }

    fn close_with(mut self, raw_close: Option<&[u8]>) -> Result<CloseReport, Error> {
        let mut report = CloseReport::default();
        let deadline = Instant::now() + CLOSE_TIMEOUT;
        match self.link {
            Link::Datagrams(tap) => {
                drop(tap); // close(2): no packet, the server never knows
                info!("[{}] close(): UDP sends nothing", self.tuple);
                return Ok(report);
            }
            Link::Bytes(ref mut tap) => {
                // Under TLS, its goodbye (close_notify) goes with our FIN.
                tap.get_mut().close_notify_and_fin()?;
                self.our_fin = Some(self.log.elapsed());
                let mut buf = vec![0u8; READ_BUFFER];
                let mut read = 0;
                // Read (and keep in the log) until the server's FIN, bounded by
                // one deadline and a byte cap for the whole loop.
                loop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() || read >= CLOSE_MAX_BYTES {
                        break; // the server is not closing; we close anyway
                    }
                    tap.get_ref().conn().set_idle_timeout(Some(left))?;
                    match tap.read(&mut buf) {
                        Ok(0) | Err(_) => break, // FIN, timeout, or the peer is gone
                        Ok(n) => read += n,
                    }
                }
            }
            Link::Messages(ref mut ws) => {
                ws.get_ref()
                    .get_ref()
                    .conn()
                    .set_idle_timeout(Some(CLOSE_TIMEOUT))?;
                let start = self.log.total(Direction::Received);
                if let Some(frame) = raw_close {
                    let tap = ws.get_mut();
                    report.close_code = close_past_tungstenite(tap, frame, &self.log, deadline)?;
                } else {
                    let normal = CloseFrame {
                        code: CloseCode::Normal,
                        reason: Utf8Bytes::from_static(""),
                    };
                    // Queues and flushes our close frame (1000, masked like every
                    // client frame). Fails only if the server closed already.
                    let _ = ws.close(Some(normal));
                    loop {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero()
                            || self.log.total(Direction::Received) - start >= CLOSE_MAX_BYTES
                        {
                            break; // the server is not closing; we close anyway
                        }
                        ws.get_ref().get_ref().conn().set_idle_timeout(Some(left))?;
                        match ws.read() {
                            // The server's close frame answering ours.
                            Ok(Message::Close(frame)) => {
                                report.close_code = frame.map(|f| f.code.into());
                            }
                            // Data still in flight before its close frame: dropped.
                            Ok(_) => {}
                            // ConnectionClosed: read() returned 0, the server's FIN.
                            // Or a timeout: the server never closed; we will.
                            Err(_) => break,
                        }
                    }
                }
                // wss: the server's close_notify ended the reads above; its
                // FIN follows it.
                ws.get_mut().get_mut().await_fin(deadline);
            }
        }
        // close(2): if we have not sent FIN yet, the kernel sends it now.
        if self.our_fin.is_none() {
            self.our_fin = Some(self.log.elapsed());
        }
        drop(self.link);
        info!("[{}] close()", self.tuple);
        report.our_fin = self.our_fin;
        report.their_fin = self
            .log
            .records()
            .iter()
            .find(|r| r.dir == Direction::Received && r.bytes.is_empty())
            .map(|r| r.at);
        let (client, server) = settled_states(self.tuple);
        report.client_state = Some(client);
        report.server_state = Some(server);
        Ok(report)
    }
    // ANCHOR_END: close
}

/// [`Transport::close_raw`]'s ws close: writes `frame` through the Tap, reads
/// (and so records) what the server sends until its FIN, bounded like
/// [`Transport::close`], and returns the code of the last close frame the
/// server sent, read from the recorded bytes.
fn close_past_tungstenite(
    tap: &mut Tap<Pipe>,
    frame: &[u8],
    log: &TapLog,
    deadline: Instant,
) -> Result<Option<u16>, Error> {
    let start = log.total(Direction::Received);
    // Fails only if the server closed already; what it sent is read anyway.
    let _ = tap.write_all(frame).and_then(|()| tap.flush());
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || log.total(Direction::Received) - start >= CLOSE_MAX_BYTES {
            break; // the server is not closing; we close anyway
        }
        tap.get_ref().conn().set_idle_timeout(Some(left))?;
        match tap.read(&mut buf) {
            Ok(0) | Err(_) => break, // FIN, timeout, or the peer is gone
            Ok(_) => {}
        }
    }
    Ok(crate::wire::ws_conversation(&log.records())
        .server
        .frames
        .iter()
        .rev()
        .find_map(|f| f.close_code()))
}

/// The kernel's states of both ends of `tuple`, once one of them is in TIME_WAIT
/// and the other is gone (or after [`STATE_TIMEOUT`]): the last ACK is one more
/// packet, even on loopback.
pub fn settled_states(tuple: FourTuple) -> (TcpState, TcpState) {
    let deadline = Instant::now() + STATE_TIMEOUT;
    loop {
        let client = tcp_state(tuple.local, tuple.peer);
        let server = tcp_state(tuple.peer, tuple.local);
        let settled = matches!(
            (client, server),
            (TcpState::TimeWait, TcpState::Closed) | (TcpState::Closed, TcpState::TimeWait)
        );
        if settled || client == TcpState::Unknown || Instant::now() >= deadline {
            return (client, server);
        }
        thread::sleep(STATE_POLL);
    }
}
