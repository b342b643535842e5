//! A server running on a thread of this process: bound to a port the kernel
//! picks, stopped when the handle is dropped.
//!
//! `socklab tour` and `socklab compare` need servers to talk to, and must never
//! collide with a server you already run on 7007 or 8080; tests need a fresh
//! server each. So they bind port 0 (the kernel picks a free port), read the
//! address back from the socket — no "find a free port, bind it later" race —
//! and hand the bound socket to the server's own `serve` function.
//!
//! ```no_run
//! # use serve::Running;
//! let server = Running::tcp("127.0.0.1:0".parse().unwrap(), |listener, shutdown| {
//!     // any serve(listener, shutdown, …) that returns io::Result<()>
//!     # let _ = (listener, shutdown);
//!     Ok(())
//! })?;
//! println!("listening on {}", server.addr());
//! drop(server); // Shutdown::trigger, then wait for the server's thread
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::thread::{self, JoinHandle};

use lifecycle::Shutdown;
use lifecycle::tcp::listen_tcp;
use lifecycle::udp::UdpEndpoint;

/// A server on its own thread; dropping it stops the server and waits for it.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    shutdown: Shutdown,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Running {
    /// Listens on `addr` (`socket → bind → listen`, narrated) and runs `serve`
    /// on the listener in a new thread.
    pub fn tcp<F>(addr: SocketAddr, serve: F) -> io::Result<Running>
    where
        F: FnOnce(TcpListener, Shutdown) -> io::Result<()> + Send + 'static,
    {
        let listener = listen_tcp(addr)?;
        let addr = listener.local_addr()?;
        Running::spawn(addr, move |shutdown| serve(listener, shutdown))
    }

    /// Binds a UDP socket on `addr` and runs `serve` on it in a new thread.
    pub fn udp<F>(addr: SocketAddr, serve: F) -> io::Result<Running>
    where
        F: FnOnce(UdpEndpoint, Shutdown) -> io::Result<()> + Send + 'static,
    {
        let socket = UdpEndpoint::bind(addr)?;
        let addr = socket.local_addr();
        Running::spawn(addr, move |shutdown| serve(socket, shutdown))
    }

    fn spawn<F>(addr: SocketAddr, serve: F) -> io::Result<Running>
    where
        F: FnOnce(Shutdown) -> io::Result<()> + Send + 'static,
    {
        let shutdown = Shutdown::new();
        let s = shutdown.clone();
        let thread = thread::Builder::new()
            .name(format!("server {addr}"))
            .spawn(move || serve(s))?;
        Ok(Running {
            addr,
            shutdown,
            thread: Some(thread),
        })
    }

    /// The address the server got (the kernel's choice, for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server and returns how its `serve` ended.
    pub fn stop(mut self) -> io::Result<()> {
        self.shutdown.trigger();
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the server thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    /// Sets the shutdown flag, pokes the blocked socket ([`Shutdown::trigger`]),
    /// and waits for the server's thread; a server that failed was logged by it.
    fn drop(&mut self) {
        self.shutdown.trigger();
        if let Some(thread) = self.thread.take() {
            match thread.join() {
                Ok(Err(e)) => log::warn!("server {} stopped with an error: {e}", self.addr),
                Err(_) => log::warn!("server {} panicked", self.addr),
                Ok(Ok(())) => {}
            }
        }
    }
}
