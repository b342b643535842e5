//! UDP echo on a mio event loop: the same socket, now non-blocking.
//!
//! Read it after the blocking [`crate::serve`], and beside tcp-echo's
//! `v3_event_loop`. UDP needs far less: one socket serves every peer, so there is
//! no accept, no per-connection state, no deadline. What stays is the event-loop
//! discipline — receive until `WouldBlock`, and keep what `send_to` could not send.
//!
//! Backpressure looks different here. A UDP `send_to` either sends a whole datagram
//! or fails with WouldBlock (the socket's send buffer is full); it never sends part
//! of one. Replies that could not go out wait in a queue, and past
//! [`MAX_QUEUED`] bytes we stop receiving: then the kernel's receive buffer fills
//! and it drops new datagrams. For UDP, that is what backpressure is — loss,
//! which the protocol allows and a UDP client must expect.
//!
//! Run: `socklab serve udp --model event-loop`, then `ncat -u 127.0.0.1 7007`.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;

use lifecycle::udp::{RECV_BUFFER, UdpEndpoint};
use lifecycle::{Proto, Shutdown};
use log::{info, warn};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use crate::recoverable;

/// The only socket this loop watches.
const SOCKET: Token = Token(0);

/// How many readiness events one `poll()` returns at most (one socket: few).
const EVENTS_CAPACITY: usize = 16;

/// The most reply bytes kept waiting for room in the send buffer; past it we stop
/// receiving until the queue drains.
pub const MAX_QUEUED: usize = 1 << 20;

/// Replies waiting for the send buffer to have room, oldest first.
#[derive(Default)]
struct Queue {
    replies: VecDeque<(Vec<u8>, SocketAddr)>,
    bytes: usize,
}

// ANCHOR: serve
/// Serves UDP echo from a mio event loop until `shutdown` fires.
pub fn serve(socket: UdpEndpoint, shutdown: Shutdown) -> io::Result<()> {
    // No watcher: every datagram is echoed (the closure is inlined away).
    serve_watched(socket, shutdown, |_, _| true)
}

/// [`serve`], with `watch` shown each datagram and its sender before the echo;
/// it returns whether to echo it (`socklab classroom` swallows a class code
/// and records the rest on its dashboard).
pub fn serve_watched(
    socket: UdpEndpoint,
    shutdown: Shutdown,
    mut watch: impl FnMut(&[u8], SocketAddr) -> bool,
) -> io::Result<()> {
    // Shutdown::trigger sends an empty datagram here: that wakes poll().
    shutdown.wake_on(Proto::Udp, socket.local_addr());
    // O_NONBLOCK: recv_from and send_to return WouldBlock instead of waiting.
    socket.socket().set_nonblocking(true)?;
    // epoll_create1(2), then epoll_ctl(2) EPOLL_CTL_ADD for our one socket.
    let mut poll = Poll::new()?;
    poll.registry().register(
        &mut SourceFd(&socket.fd()),
        SOCKET,
        Interest::READABLE | Interest::WRITABLE,
    )?;
    let mut events = Events::with_capacity(EVENTS_CAPACITY);
    let mut buf = vec![0u8; RECV_BUFFER];
    let mut queue = Queue::default();

    while !shutdown.is_triggered() {
        // epoll_wait(2): sleep until the socket is readable or writable.
        match poll.poll(&mut events, None) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue, // a signal
            Err(e) => return Err(e),
        }
        // Whatever the event said — readable, writable, or nothing at all (a
        // spurious wake-up) — doing both steps is correct: each stops at WouldBlock.
        send_queued(&socket, &mut queue);
        receive_all(&socket, &shutdown, &mut buf, &mut queue, &mut watch)?;
    }
    info!("shutdown: no longer receiving");
    Ok(())
}
// ANCHOR_END: serve

// ANCHOR: receive_all
/// Receives and echoes until the socket says WouldBlock, or the queue is full.
fn receive_all(
    socket: &UdpEndpoint,
    shutdown: &Shutdown,
    buf: &mut [u8],
    queue: &mut Queue,
    watch: &mut impl FnMut(&[u8], SocketAddr) -> bool,
) -> io::Result<()> {
    while queue.bytes < MAX_QUEUED {
        let datagram = match socket.recv_from(buf) {
            Ok(datagram) => datagram,
            // No datagram waiting: done until the next readiness event.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if recoverable(&e) => continue,
            Err(e) => return Err(e),
        };
        if shutdown.is_triggered() {
            return Ok(()); // the wake-up poke
        }
        if datagram.truncated {
            continue; // cannot happen with a 64 KiB buffer; logged by recv_from
        }
        let reply = &buf[..datagram.len];
        if !watch(reply, datagram.peer) {
            continue;
        }
        if !queue.replies.is_empty() {
            // Older replies are waiting: this one goes behind them.
            queue.push(reply, datagram.peer);
            continue;
        }
        match socket.send_to(reply, datagram.peer) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => queue.push(reply, datagram.peer),
            Err(e) => warn!("[{}] send_to failed: {e}", socket.tuple(datagram.peer)),
        }
    }
    Ok(())
}
// ANCHOR_END: receive_all

/// Sends queued replies, oldest first, until the queue is empty or WouldBlock.
fn send_queued(socket: &UdpEndpoint, queue: &mut Queue) {
    while let Some((reply, peer)) = queue.replies.front() {
        match socket.send_to(reply, *peer) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => warn!("[{}] send_to failed: {e}", socket.tuple(*peer)),
        }
        if let Some((reply, _)) = queue.replies.pop_front() {
            queue.bytes -= reply.len();
        }
    }
}

impl Queue {
    fn push(&mut self, reply: &[u8], peer: SocketAddr) {
        self.bytes += reply.len();
        self.replies.push_back((reply.to_vec(), peer));
    }
}
