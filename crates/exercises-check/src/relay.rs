//! The checker's go-betweens, put between a student's client and a real server
//! so the check can see (and, for UDP, spoil) what passes.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// One TCP connection through the [`Proxy`], both directions as they passed.
#[derive(Debug, Clone, Default)]
pub struct Conn {
    /// The client's address: its port tells connections apart.
    pub client: Option<SocketAddr>,
    /// Every byte from the client to the server.
    pub up: Vec<u8>,
    /// Every byte from the server to the client.
    pub down: Vec<u8>,
}

/// A TCP proxy on 127.0.0.1:0 that forwards every connection to `upstream`
/// and records both directions, so a check can read exactly what a student's
/// client sent (and how many connections it used).
pub struct Proxy {
    addr: SocketAddr,
    conns: Arc<Mutex<Vec<Arc<Mutex<Conn>>>>>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Listens and starts forwarding to `upstream`.
    pub fn start(upstream: SocketAddr) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        // Non-blocking accept, so the thread notices `stop`.
        listener.set_nonblocking(true)?;
        let conns: Arc<Mutex<Vec<Arc<Mutex<Conn>>>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (list, stopped) = (Arc::clone(&conns), Arc::clone(&stop));
        thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, peer)) => {
                        let conn = Arc::new(Mutex::new(Conn {
                            client: Some(peer),
                            ..Conn::default()
                        }));
                        list.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(Arc::clone(&conn));
                        let _ = client.set_nonblocking(false);
                        if let Ok(server) = TcpStream::connect(upstream) {
                            forward(client, server, conn);
                        }
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(Proxy { addr, conns, stop })
    }

    /// Where students connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every connection so far, in the order accepted.
    pub fn connections(&self) -> Vec<Conn> {
        let list = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        list.iter()
            .map(|c| c.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .collect()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Two pumps, one per direction; each passes the other side's FIN on
/// (shutdown(SHUT_WR)) so half-closes survive the proxy.
fn forward(client: TcpStream, server: TcpStream, conn: Arc<Mutex<Conn>>) {
    let pairs = [
        (client.try_clone(), server.try_clone(), true),
        (server.try_clone(), client.try_clone(), false),
    ];
    for (from, to, up) in pairs {
        let (Ok(mut from), Ok(mut to)) = (from, to) else {
            continue;
        };
        let conn = Arc::clone(&conn);
        thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            // 0 (FIN) or an error ends this direction.
            while let Ok(n @ 1..) = from.read(&mut buf) {
                {
                    let mut c = conn.lock().unwrap_or_else(|e| e.into_inner());
                    let side = if up { &mut c.up } else { &mut c.down };
                    side.extend_from_slice(&buf[..n]);
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        });
    }
}

/// What the lossy relay did to the client's datagrams.
#[derive(Debug, Clone, Default)]
pub struct LossLog {
    /// Sequence numbers received from the client, in order.
    pub received: Vec<u32>,
    /// Datagrams that were not `seq N`.
    pub garbled: usize,
    /// Dropped: never forwarded.
    pub dropped: Vec<u32>,
    /// Held back and forwarded after the next one.
    pub delayed: Vec<u32>,
}

/// A UDP relay in front of an echo server that drops the datagrams numbered in
/// `drop` and holds back those in `delay` until the next one has gone by: a
/// lossy, reordering link made in user space, deterministic, because network
/// namespaces (scripts/lossy-link.sh) need root.
pub struct LossyRelay {
    addr: SocketAddr,
    log: Arc<Mutex<LossLog>>,
    stop: Arc<AtomicBool>,
}

impl LossyRelay {
    /// Starts relaying to `echo`.
    pub fn start(echo: SocketAddr, drop: Vec<u32>, delay: Vec<u32>) -> std::io::Result<LossyRelay> {
        let front = UdpSocket::bind("127.0.0.1:0")?;
        let back = UdpSocket::bind("127.0.0.1:0")?;
        back.connect(echo)?;
        // Short timeouts, so both threads notice `stop`.
        front.set_read_timeout(Some(Duration::from_millis(50)))?;
        back.set_read_timeout(Some(Duration::from_millis(50)))?;
        let addr = front.local_addr()?;
        let log: Arc<Mutex<LossLog>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        // Client → echo server: drop, delay or pass.
        {
            let (front, back) = (front.try_clone()?, back.try_clone()?);
            let (log, stop, client) = (Arc::clone(&log), Arc::clone(&stop), Arc::clone(&client));
            thread::spawn(move || {
                let mut held: Option<Vec<u8>> = None;
                let mut buf = [0u8; 2048];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, from)) = front.recv_from(&mut buf) else {
                        continue;
                    };
                    *client.lock().unwrap_or_else(|e| e.into_inner()) = Some(from);
                    let datagram = buf[..n].to_vec();
                    let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                    let Some(seq) = std::str::from_utf8(&datagram)
                        .ok()
                        .and_then(|t| t.strip_prefix("seq "))
                        .and_then(|n| n.trim().parse::<u32>().ok())
                    else {
                        log.garbled += 1;
                        continue;
                    };
                    log.received.push(seq);
                    if drop.contains(&seq) {
                        log.dropped.push(seq);
                    } else if delay.contains(&seq) && held.is_none() {
                        log.delayed.push(seq);
                        held = Some(datagram);
                    } else {
                        let _ = back.send(&datagram);
                        if let Some(late) = held.take() {
                            let _ = back.send(&late);
                        }
                    }
                }
            });
        }
        // Echo server → client: every echo passes.
        {
            let (stop, client) = (Arc::clone(&stop), Arc::clone(&client));
            thread::spawn(move || {
                let mut buf = [0u8; 2048];
                while !stop.load(Ordering::Relaxed) {
                    let Ok(n) = back.recv(&mut buf) else {
                        continue;
                    };
                    if let Some(to) = *client.lock().unwrap_or_else(|e| e.into_inner()) {
                        let _ = front.send_to(&buf[..n], to);
                    }
                }
            });
        }
        Ok(LossyRelay { addr, log, stop })
    }

    /// Where the student's client sends.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What happened so far.
    pub fn log(&self) -> LossLog {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for LossyRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
