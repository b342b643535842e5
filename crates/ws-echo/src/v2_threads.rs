//! ws-echo with a thread per connection: tcp-echo's accept loop, ws-echo's handler.
//!
//! Diff this file with `tcp_echo::v2_threads::serve`: the accept loop is the same
//! function; only the per-connection work (`ws_echo::handle`) differs.
//!
//! Run: `socklab serve ws --model threads`.

use std::io;
use std::net::TcpListener;

use lifecycle::Shutdown;

use crate::{Config, handle};

/// Serves WebSocket echo with a thread per connection until `shutdown` fires.
pub fn serve(listener: TcpListener, shutdown: Shutdown, config: Config) -> io::Result<()> {
    let limits = config.limits;
    tcp_echo::v2_threads::serve_with(listener, shutdown, limits, move |conn| {
        handle(conn, &config)
    })
}
