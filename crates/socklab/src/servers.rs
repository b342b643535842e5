//! The three echo servers, started inside this process on ephemeral loopback ports.
//!
//! `socklab compare` and `socklab tour` need servers to talk to, and must never
//! collide with a server you already run on 7007 or 8080. So each binds
//! `127.0.0.1:0` — the kernel picks a free port — through [`serve::Running`],
//! which reads the address back from the bound socket and stops the server when
//! dropped. They run the default models, the ones plain `socklab serve` runs:
//! mio event loops for tcp and ws, the event-loop UDP echo. So what the tour
//! measures is what `serve` runs.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use serve::v3_event_loop::default_loops;
use serve::{Engine, Limits, Model, Running};

/// Loopback, port 0: the kernel chooses a free port.
const EPHEMERAL: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// TCP, UDP and WebSocket echo servers running on threads of this process.
#[derive(Debug)]
pub struct LocalServers {
    tcp: Running,
    udp: Running,
    ws: Running,
}

impl LocalServers {
    /// Binds the three sockets on 127.0.0.1:0 and starts serving (event loops).
    pub fn start() -> io::Result<LocalServers> {
        let engine = || Engine::new(default_loops());
        let (tcp_engine, ws_engine) = (engine()?, engine()?);
        Ok(LocalServers {
            tcp: Running::tcp(EPHEMERAL, move |listener, shutdown| {
                tcp_echo::serve(
                    Model::EventLoop,
                    listener,
                    shutdown,
                    Limits::default(),
                    tcp_engine,
                )
            })?,
            udp: Running::udp(EPHEMERAL, udp_echo::event_loop::serve)?,
            ws: Running::tcp(EPHEMERAL, move |listener, shutdown| {
                ws_echo::serve(
                    Model::EventLoop,
                    listener,
                    shutdown,
                    ws_echo::Config::default(),
                    ws_engine,
                )
            })?,
        })
    }

    /// `tcp://127.0.0.1:PORT`
    pub fn tcp_url(&self) -> String {
        format!("tcp://{}", self.tcp.addr())
    }

    /// `udp://127.0.0.1:PORT`
    pub fn udp_url(&self) -> String {
        format!("udp://{}", self.udp.addr())
    }

    /// `ws://127.0.0.1:PORT/`
    pub fn ws_url(&self) -> String {
        format!("ws://{}/", self.ws.addr())
    }

    /// The three URLs, in the order tcp, udp, ws.
    pub fn urls(&self) -> [String; 3] {
        [self.tcp_url(), self.udp_url(), self.ws_url()]
    }

    /// Where the WebSocket server listens.
    pub fn ws_addr(&self) -> SocketAddr {
        self.ws.addr()
    }

    /// Where the TCP server listens.
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp.addr()
    }
}
