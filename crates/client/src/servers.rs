//! The three echo servers, started inside this process on ephemeral loopback ports.
//!
//! `socklab compare` and `socklab tour` need servers to talk to, and must never
//! collide with a server you already run on 7007 or 8080. So they bind
//! `127.0.0.1:0` — the kernel picks a free port for each — and run the echo
//! crates' thread models, each on its own thread, until [`LocalServers`] is
//! dropped: `tcp_echo::v2_threads` and `ws_echo::v2_threads` (a thread per
//! connection) and `udp_echo::serve` (one blocking `recvfrom` loop). These are
//! what `socklab serve --model threads` runs; plain `socklab serve` defaults to
//! the event loop. The bytes on the wire are the same either way.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::thread::{self, JoinHandle};

use lifecycle::tcp::listen_tcp;
use lifecycle::udp::UdpEndpoint;
use lifecycle::{Limits, Shutdown};

/// Loopback, port 0: the kernel chooses a free port.
const EPHEMERAL: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// TCP, UDP and WebSocket echo servers running on threads of this process.
#[derive(Debug)]
pub struct LocalServers {
    /// Where the TCP echo server listens.
    pub tcp: SocketAddr,
    /// Where the UDP echo server receives.
    pub udp: SocketAddr,
    /// Where the WebSocket echo server listens.
    pub ws: SocketAddr,
    shutdown: Shutdown,
    threads: Vec<JoinHandle<()>>,
}

impl LocalServers {
    /// Binds the three sockets on 127.0.0.1:0 and starts serving.
    pub fn start() -> io::Result<LocalServers> {
        let shutdown = Shutdown::new();
        let tcp_listener = listen_tcp(EPHEMERAL)?;
        let udp_socket = UdpEndpoint::bind(EPHEMERAL)?;
        let ws_listener = listen_tcp(EPHEMERAL)?;
        let mut servers = LocalServers {
            tcp: tcp_listener.local_addr()?,
            udp: udp_socket.local_addr(),
            ws: ws_listener.local_addr()?,
            shutdown: shutdown.clone(),
            threads: Vec::new(),
        };
        let s = shutdown.clone();
        servers.spawn("tcp echo", move || {
            tcp_echo::v2_threads::serve(tcp_listener, s, Limits::default())
        })?;
        let s = shutdown.clone();
        servers.spawn("udp echo", move || udp_echo::serve(udp_socket, s))?;
        let s = shutdown;
        servers.spawn("ws echo", move || {
            ws_echo::v2_threads::serve(ws_listener, s, ws_echo::Config::default())
        })?;
        Ok(servers)
    }

    fn spawn(
        &mut self,
        name: &str,
        serve: impl FnOnce() -> io::Result<()> + Send + 'static,
    ) -> io::Result<()> {
        let label = name.to_string();
        let handle = thread::Builder::new().name(label.clone()).spawn(move || {
            if let Err(e) = serve() {
                log::warn!("{label} server stopped: {e}");
            }
        })?;
        self.threads.push(handle);
        Ok(())
    }

    /// `tcp://127.0.0.1:PORT`
    pub fn tcp_url(&self) -> String {
        format!("tcp://{}", self.tcp)
    }

    /// `udp://127.0.0.1:PORT`
    pub fn udp_url(&self) -> String {
        format!("udp://{}", self.udp)
    }

    /// `ws://127.0.0.1:PORT/`
    pub fn ws_url(&self) -> String {
        format!("ws://{}/", self.ws)
    }

    /// The three URLs, in the order tcp, udp, ws.
    pub fn urls(&self) -> [String; 3] {
        [self.tcp_url(), self.udp_url(), self.ws_url()]
    }
}

impl Drop for LocalServers {
    /// Stops the servers: sets the flag and pokes each blocked socket
    /// ([`Shutdown::trigger`]), then waits for the accept and receive loops to end.
    fn drop(&mut self) {
        self.shutdown.trigger();
        for handle in self.threads.drain(..) {
            let _ = handle.join();
        }
    }
}
