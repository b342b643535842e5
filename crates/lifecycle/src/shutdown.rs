//! How a server is told to stop: a flag, and a poke that wakes it.
//!
//! A blocking server sits inside `accept()` or `recv_from()`; setting a flag does
//! not wake it. So [`Shutdown::trigger`] also makes one connection to each
//! registered TCP listener (or sends one empty datagram to each UDP socket). The
//! server wakes, checks [`Shutdown::is_triggered`] first, and returns instead of
//! serving the poke. Ctrl-C in the CLI and the end of a test both use this.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::Proto;

/// How long the wake-up connect may take before we give up on it.
const WAKE_TIMEOUT: Duration = Duration::from_secs(1);

/// A shared stop signal. Clones share the same flag.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    stop: AtomicBool,
    wake: Mutex<Vec<(Proto, SocketAddr)>>,
}

impl Shutdown {
    /// A signal that has not fired.
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// True once [`Shutdown::trigger`] has been called.
    pub fn is_triggered(&self) -> bool {
        self.inner.stop.load(Ordering::SeqCst)
    }

    /// Registers a socket that blocks and must be woken on shutdown.
    pub fn wake_on(&self, proto: Proto, local: SocketAddr) {
        if let Ok(mut wake) = self.inner.wake.lock() {
            wake.push((proto, local));
        }
    }

    /// Triggers this signal on Ctrl-C (SIGINT) or SIGTERM. A process can have one
    /// such handler: call it once, in `main`.
    pub fn trigger_on_ctrl_c(&self) -> Result<(), ctrlc::Error> {
        let shutdown = self.clone();
        ctrlc::set_handler(move || {
            log::info!("Ctrl-C: stopping");
            shutdown.trigger();
        })
    }

    /// Sets the flag, then pokes every registered socket so it notices.
    pub fn trigger(&self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        let targets = match self.inner.wake.lock() {
            Ok(wake) => wake.clone(),
            Err(_) => return,
        };
        for (proto, addr) in targets {
            let addr = reachable(addr);
            // Errors are fine here: a server that already stopped needs no poke.
            match proto {
                Proto::Tcp => drop(TcpStream::connect_timeout(&addr, WAKE_TIMEOUT)),
                Proto::Udp => {
                    let any: SocketAddr = match addr {
                        SocketAddr::V4(_) => (Ipv4Addr::LOCALHOST, 0).into(),
                        SocketAddr::V6(_) => (Ipv6Addr::LOCALHOST, 0).into(),
                    };
                    if let Ok(sock) = UdpSocket::bind(any) {
                        let _ = sock.send_to(&[], addr);
                    }
                }
            }
        }
    }
}

/// A listener bound to 0.0.0.0 or :: is reached through loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => (Ipv4Addr::LOCALHOST, a.port()).into(),
        SocketAddr::V6(a) if a.ip().is_unspecified() => (Ipv6Addr::LOCALHOST, a.port()).into(),
        other => other,
    }
}
