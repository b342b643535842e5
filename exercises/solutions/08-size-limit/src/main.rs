//! Exercise 8 — a message-size limit, answered with close code 1009 (a solution).
//!
//! tungstenite checks the limit for us (`max_message_size`, and
//! `max_frame_size` for a single frame) and reports a message over it as
//! `Error::Capacity` — but it sends nothing to the client. Telling the client
//! why is our job: a close frame with code 1009.
//!
//! Run:   cargo run -p ex08-size-limit-solution -- 127.0.0.1:8080
//! Check: socklab exercise check 8 --path exercises/solutions/08-size-limit
use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;

use tungstenite::Message;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;

/// The largest message we accept, in bytes.
const MAX_MESSAGE: usize = 1024;

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, peer) = listener.accept()?;
        thread::spawn(move || {
            if let Err(e) = echo_messages(stream) {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

/// The Upgrade, then every message back, until the client closes or sends a
/// message over [`MAX_MESSAGE`].
fn echo_messages(stream: TcpStream) -> Result<(), tungstenite::Error> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let mut ws = tungstenite::accept_with_config(stream, Some(config)).map_err(|e| match e {
        tungstenite::HandshakeError::Failure(e) => e,
        tungstenite::HandshakeError::Interrupted(_) => unreachable!("a blocking socket"),
    })?;
    loop {
        match ws.read() {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => ws.send(message)?,
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => return Ok(()),
            // Over the limit: say so with 1009.
            Err(tungstenite::Error::Capacity(why)) => {
                eprintln!("closing with 1009: {why}");
                ws.close(Some(CloseFrame {
                    code: CloseCode::Size,
                    reason: "message too big: the limit is 1024 bytes".into(),
                }))?;
                ws.flush()?;
                // The rest of the big message is still unread, and tungstenite
                // cannot parse it as frames. Read it away as bytes until the
                // client's FIN: closing with unread bytes would send RST, and
                // an RST can destroy our close frame before the client reads it.
                let stream = ws.get_mut();
                stream.shutdown(Shutdown::Write)?;
                io::copy(stream, &mut io::sink())?;
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
}
