//! One connection's load: strict ping-pong (one message, its whole echo, the
//! next), or streaming ([`STREAM_WINDOW`] messages in flight), until the deadline.

use std::io::{self, Read, Write};
use std::net::UdpSocket;
use std::sync::Barrier;
use std::time::Instant;

use tungstenite::{Bytes, Message, WebSocket};

use crate::load::Options;
use crate::secure::Stream;
use crate::target::{Conn, Failure, Target, open_one};
use crate::{MAX_MESSAGES, STREAM_WINDOW};

/// What one ping-pong connection measured.
pub(crate) struct Worker {
    /// Round-trip times in nanoseconds (saturating at ~4.3 s).
    pub(crate) rtts: Vec<u32>,
    pub(crate) error: Option<Failure>,
}

pub(crate) fn ping_pong(target: &Target, opts: &Options, barrier: &Barrier) -> Worker {
    let conn = open_one(target);
    barrier.wait();
    let mut worker = Worker {
        rtts: Vec::new(),
        error: None,
    };
    let mut conn = match conn {
        Ok(conn) => conn,
        Err(Failure::Refused(e)) => {
            worker.error = Some(Failure::Refused(format!("connect: {e}")));
            return worker;
        }
        Err(Failure::Other(e)) => {
            worker.error = Some(Failure::Other(format!("connect: {e}")));
            return worker;
        }
    };
    let payload: Vec<u8> = (0..opts.size).map(|i| (i % 251) as u8).collect();
    let message = Bytes::from(payload.clone());
    let mut reply = vec![0u8; opts.size.max(1)];
    let deadline = Instant::now() + opts.duration;
    while (worker.rtts.len() as u64) < MAX_MESSAGES && Instant::now() < deadline {
        let sent = Instant::now();
        let result = match &mut conn {
            Conn::Tcp(s) => round_trip_tcp(s, &payload, &mut reply),
            Conn::Udp(s) => round_trip_udp(s, &payload, &mut reply),
            Conn::Ws(ws) => round_trip_ws(ws, &message),
        };
        if let Err(e) = result {
            // A TCP server past its cap accepts and closes at once: the first
            // echo never comes, the connection just ends (EOF, or a reset because
            // our message arrived unread).
            let ended = matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
            );
            worker.error = Some(if ended && worker.rtts.is_empty() {
                Failure::Refused(format!("closed by the server before any echo ({e})"))
            } else {
                Failure::Other(e.to_string())
            });
            break;
        }
        let rtt = sent.elapsed().as_nanos();
        worker.rtts.push(u32::try_from(rtt).unwrap_or(u32::MAX));
    }
    if let Conn::Ws(ws) = &mut conn {
        let _ = ws.close(None);
        let _ = ws.flush();
    }
    worker
}

/// What one streaming connection did.
pub(crate) struct Streamed {
    /// Echoed bytes read back.
    pub(crate) bytes: u64,
    pub(crate) error: Option<String>,
}

/// One streaming connection: [`STREAM_WINDOW`] messages in flight, one more sent
/// per echo read, until the deadline; then the echoes still in flight are read.
pub(crate) fn stream(target: &Target, opts: &Options, barrier: &Barrier) -> Streamed {
    let conn = open_one(target);
    barrier.wait();
    let mut done = Streamed {
        bytes: 0,
        error: None,
    };
    let mut conn = match conn {
        Ok(conn) => conn,
        Err(e) => {
            done.error = Some(format!("connect: {e}"));
            return done;
        }
    };
    let payload: Vec<u8> = (0..opts.stream_size).map(|i| (i % 251) as u8).collect();
    let message = Bytes::from(payload.clone());
    let mut reply = vec![0u8; payload.len()];
    let deadline = Instant::now() + opts.duration;
    let mut in_flight = 0usize;
    let mut sent: u64 = 0;
    let result: io::Result<()> = (|| {
        loop {
            let more = Instant::now() < deadline && sent < MAX_MESSAGES;
            if more && in_flight < STREAM_WINDOW {
                match &mut conn {
                    Conn::Tcp(s) => s.write_all(&payload)?,
                    Conn::Ws(ws) => ws
                        .send(Message::Binary(message.clone()))
                        .map_err(io::Error::other)?,
                    Conn::Udp(_) => return Ok(()),
                }
                in_flight += 1;
                sent += 1;
                continue;
            }
            if in_flight == 0 {
                return Ok(());
            }
            match &mut conn {
                Conn::Tcp(s) => {
                    s.read_exact(&mut reply)?;
                    check(reply == payload)?;
                }
                Conn::Ws(ws) => loop {
                    match ws.read().map_err(io::Error::other)? {
                        Message::Binary(b) => break check(b == message)?,
                        Message::Ping(_) | Message::Pong(_) => continue,
                        other => return Err(io::Error::other(format!("unexpected {other:?}"))),
                    }
                },
                Conn::Udp(_) => return Ok(()),
            }
            in_flight -= 1;
            done.bytes += payload.len() as u64;
        }
    })();
    if let Err(e) = result {
        done.error = Some(e.to_string());
    }
    if let Conn::Ws(ws) = &mut conn {
        let _ = ws.close(None);
        let _ = ws.flush();
    }
    done
}

fn round_trip_tcp(s: &mut Stream, payload: &[u8], reply: &mut [u8]) -> io::Result<()> {
    s.write_all(payload)?;
    // A stream has no messages: read until as many bytes came back as were sent.
    s.read_exact(&mut reply[..payload.len()])?;
    check(&reply[..payload.len()] == payload)
}

fn round_trip_udp(s: &mut UdpSocket, payload: &[u8], reply: &mut [u8]) -> io::Result<()> {
    s.send(payload)?;
    let n = s.recv(reply)?; // a lost datagram times out here: an error
    check(&reply[..n] == payload)
}

fn round_trip_ws(ws: &mut WebSocket<Stream>, message: &Bytes) -> io::Result<()> {
    ws.send(Message::Binary(message.clone()))
        .map_err(io::Error::other)?;
    loop {
        match ws.read().map_err(io::Error::other)? {
            Message::Binary(b) => return check(b == *message),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => return Err(io::Error::other(format!("unexpected {other:?}"))),
        }
    }
}

pub(crate) fn check(same: bool) -> io::Result<()> {
    if same {
        Ok(())
    } else {
        Err(io::Error::other("the echo differs from what was sent"))
    }
}
