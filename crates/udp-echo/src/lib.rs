//! A bare UDP echo server (RFC 862): every datagram comes back, whole, as one datagram.
//!
//! Diff this crate against tcp-echo: no `listen`, no `accept`, no connection, no
//! thread per client, no end-of-stream. One socket, one loop: `recv_from` tells us
//! who sent a datagram, `send_to` sends it back to exactly that address. A datagram
//! of 0 bytes is a real datagram (it is echoed), not an end of anything.
//!
//! Two versions: [`serve`] blocks in `recv_from`; [`event_loop::serve`] runs the
//! same echo on a non-blocking socket woken by mio, like tcp-echo's v3.
//!
//! Run: `cargo run -p udp-echo` (or `socklab serve udp`), then `ncat -u 127.0.0.1 7007`.
//! Watch for: each line you type is one datagram, and comes back as one.
#![deny(missing_docs)]

pub mod cli;
pub mod event_loop;

use std::io;

use lifecycle::udp::{RECV_BUFFER, UdpEndpoint};
use lifecycle::{Proto, Shutdown};
use log::{info, warn};

/// The default address, shared with tcp-echo: TCP port 7007 and UDP port 7007 are
/// different sockets; the protocol is part of the name.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7007";

/// Serves UDP echo on `socket` until `shutdown` fires.
pub fn serve(socket: UdpEndpoint, shutdown: Shutdown) -> io::Result<()> {
    // Register for the wake-up poke first; a trigger() that came earlier poked
    // nobody, so check the flag once more before blocking in recv_from().
    shutdown.wake_on(Proto::Udp, socket.local_addr());
    if !shutdown.is_triggered() {
        echo_datagrams(&socket, &shutdown)?;
    }
    info!("shutdown: no longer receiving");
    Ok(())
}

// ANCHOR: echo_datagrams
/// Receives datagrams from anyone and sends each straight back to its sender.
pub fn echo_datagrams(socket: &UdpEndpoint, shutdown: &Shutdown) -> io::Result<()> {
    // 64 KiB: larger than any UDP datagram IPv4 can carry (65,507 bytes), so no
    // datagram is ever cut short. See lifecycle::udp::RECV_BUFFER.
    let mut buf = vec![0u8; RECV_BUFFER];
    loop {
        let datagram = match socket.recv_from(&mut buf) {
            Ok(datagram) => datagram,
            Err(e) if recoverable(&e) => {
                info!("recv_from() reported {e}; still receiving");
                continue;
            }
            Err(e) => return Err(e),
        };
        if shutdown.is_triggered() {
            return Ok(()); // the wake-up poke from Shutdown::trigger
        }
        if datagram.truncated {
            // Cannot happen with a 64 KiB buffer; if the OS says it did, echoing
            // part of a datagram would be a lie, so we drop it (already logged).
            continue;
        }
        let reply = &buf[..datagram.len];
        // An error sending to one peer must not stop the server for the others.
        if let Err(e) = socket.send_to(reply, datagram.peer) {
            warn!("[{}] send_to failed: {e}", socket.tuple(datagram.peer));
        }
    }
}
// ANCHOR_END: echo_datagrams

/// Errors after which the socket still works: a signal (EINTR), or an ICMP error
/// for an earlier datagram that some kernels report on the next receive.
pub(crate) fn recoverable(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::Interrupted
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
    )
}
