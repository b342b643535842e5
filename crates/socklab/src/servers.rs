//! The three echo servers, started inside this process on ephemeral loopback ports.
//!
//! `socklab compare` and `socklab tour` need servers to talk to, and must never
//! collide with a server you already run on 7007 or 8080. So each binds
//! `127.0.0.1:0` — the kernel picks a free port — through [`serve::Running`],
//! which reads the address back from the bound socket and stops the server when
//! dropped. They run the default models, the ones plain `socklab serve` runs:
//! mio event loops for tcp and ws, the event-loop UDP echo. So what the tour
//! measures is what `serve` runs. Their loops time their own work per message
//! ([`WorkClock`]), which compare prints beside the round trip.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use measure::compare::WorkProbe;
use serve::v3_event_loop::{WorkClock, default_loops};
use serve::{Engine, Limits, Model, Running};
use tls::{Identity, TlsLayer};

/// Loopback, port 0: the kernel chooses a free port.
const EPHEMERAL: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// TCP, UDP and WebSocket echo servers running on threads of this process.
#[derive(Debug)]
pub struct LocalServers {
    tcp: Running,
    udp: Running,
    ws: Running,
    /// The tcp and ws loops' work clocks (the UDP echo has no such loop).
    work: [Arc<WorkClock>; 2],
}

/// TLS echo and WebSocket echo over TLS, in this process, with one fresh
/// self-signed certificate (its file is what the client trusts).
#[derive(Debug)]
pub struct SecureServers {
    tls: Running,
    wss: Running,
    cert: PathBuf,
    /// The tls and wss loops' work clocks.
    work: [Arc<WorkClock>; 2],
}

impl SecureServers {
    /// Makes a certificate, writes it to `cert`, and starts both servers on
    /// 127.0.0.1:0 (event loops, as `socklab serve tls|wss` runs by default).
    pub fn start(cert: &Path) -> io::Result<SecureServers> {
        SecureServers::with(Identity::self_signed(cert)?)
    }

    /// Both servers, as [`SecureServers::start`], with this certificate
    /// (`compare --stable`: [`Identity::seeded`], the same bytes every run).
    pub fn with(identity: Identity) -> io::Result<SecureServers> {
        let identity_path = identity.cert_path.clone();
        let config = tls::server_config(identity.clone(), &[])?;
        let wss_config = tls::server_config(identity, &[tls::ALPN_HTTP11])?;
        let (mut tls_engine, mut wss_engine) =
            (Engine::new(default_loops())?, Engine::new(default_loops())?);
        let handshakes = || {
            let max = serve::handshakes::default_max_handshakes(Limits::default().max_connections);
            serve::Handshakes::new(max, tls::HANDSHAKE_TIMEOUT)
        };
        let (tls_handshakes, wss_handshakes) = (handshakes(), handshakes());
        let work = [tls_engine.work_clock(), wss_engine.work_clock()];
        Ok(SecureServers {
            work,
            tls: Running::tcp(EPHEMERAL, move |listener, shutdown| {
                let layer = move |tuple| TlsLayer::new(Arc::clone(&config), tuple);
                tcp_echo::serve_layered(
                    Model::EventLoop,
                    listener,
                    shutdown,
                    Limits::default(),
                    tls_engine,
                    layer,
                    tls_handshakes,
                )
            })?,
            wss: Running::tcp(EPHEMERAL, move |listener, shutdown| {
                let layer = move |tuple| TlsLayer::new(Arc::clone(&wss_config), tuple);
                ws_echo::serve_layered(
                    Model::EventLoop,
                    listener,
                    shutdown,
                    ws_echo::Config::default(),
                    wss_engine,
                    layer,
                    wss_handshakes,
                )
            })?,
            cert: identity_path,
        })
    }

    /// `tls://127.0.0.1:PORT`
    pub fn tls_url(&self) -> String {
        format!("tls://{}", self.tls.addr())
    }

    /// `wss://127.0.0.1:PORT/`
    pub fn wss_url(&self) -> String {
        format!("wss://{}/", self.wss.addr())
    }

    /// What compare reads the tls and wss servers' own work through, in that order.
    pub fn work_probes(&self) -> [WorkProbe; 2] {
        self.work.clone().map(probe)
    }

    /// The certificate both serve, to trust with `--cacert`.
    pub fn cert(&self) -> &Path {
        &self.cert
    }
}

impl LocalServers {
    /// Binds the three sockets on 127.0.0.1:0 and starts serving (event loops).
    pub fn start() -> io::Result<LocalServers> {
        let engine = || Engine::new(default_loops());
        let (mut tcp_engine, mut ws_engine) = (engine()?, engine()?);
        let work = [tcp_engine.work_clock(), ws_engine.work_clock()];
        Ok(LocalServers {
            work,
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
                    // permessage-deflate only for a client that offers it
                    // (compare --deflate); the plain ws column offers nothing.
                    ws_echo::Config {
                        deflate: true,
                        ..ws_echo::Config::default()
                    },
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

    /// What compare reads the servers' own work through, in the order of
    /// [`LocalServers::urls`]: tcp, none for udp (its echo loop does not time
    /// its work), ws.
    pub fn work_probes(&self) -> [Option<WorkProbe>; 3] {
        let [tcp, ws] = self.work.clone().map(probe);
        [Some(tcp), None, Some(ws)]
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

/// A server's work clock as compare reads it: (nanoseconds, messages) so far.
fn probe(clock: Arc<WorkClock>) -> WorkProbe {
    Arc::new(move || {
        let r = clock.read();
        (r.nanos, r.messages)
    })
}

/// `serve push`'s code on 127.0.0.1:0 (event loops), publishing `rate` events a
/// second; long polls answer on news or after 1 s with 204. What `compare --push`
/// measures and `diagram` draws.
pub fn push_server(rate: f64) -> io::Result<Running> {
    let config = push::Config {
        rate,
        hold: std::time::Duration::from_secs(1),
        ..push::Config::default()
    };
    Running::tcp(EPHEMERAL, move |listener, shutdown| {
        push::serve(
            listener,
            shutdown,
            config,
            Engine::new(default_loops())?,
            Default::default(),
        )
    })
}
