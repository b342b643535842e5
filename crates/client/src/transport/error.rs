//! What can go wrong in the client, as its own small enum: a normal end is not
//! an error, a timeout is told apart (a lost datagram), and a refused Upgrade
//! says what the server answered, read from the bytes the Tap recorded.

use std::fmt;
use std::io;

use lifecycle::Direction;
use lifecycle::tap::Record;

use super::{Scheme, Target};

/// What can go wrong in the client.
#[derive(Debug)]
pub enum Error {
    /// The URL cannot be used.
    Url(String),
    /// A system call failed (including a read that timed out).
    Io(io::Error),
    /// The WebSocket layer refused: a failed handshake or a protocol error.
    WebSocket(tungstenite::Error),
    /// The server answered the Upgrade with another status than 101.
    Refused {
        /// The status line exactly as it came: `HTTP/1.1 403 Forbidden`.
        status_line: String,
        /// The response body, the server's reason (as text; may be empty).
        body: String,
    },
    /// permessage-deflate went wrong: the server's answer to our offer is not
    /// an agreement we can keep, or a compressed message from it is broken.
    Extension(String),
    /// The server sent our own Upgrade request back: an echo server on a
    /// byte stream, not a WebSocket server.
    EchoedRequest {
        /// The same host and port as tcp://, to try instead.
        try_url: String,
    },
}

impl Error {
    /// True when a read gave up after its timeout (nothing arrived in time).
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Io(e) => lifecycle::tcp::is_timeout(e),
            Error::WebSocket(tungstenite::Error::Io(e)) => lifecycle::tcp::is_timeout(e),
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Url(msg) => write!(f, "bad URL: {msg}"),
            Error::Io(e) => write!(f, "{e}"),
            Error::WebSocket(e) => write!(f, "websocket: {e}"),
            Error::Refused { status_line, body } if body.trim().is_empty() => {
                write!(f, "the server refused the WebSocket upgrade: {status_line}")
            }
            Error::Refused { status_line, body } => write!(
                f,
                "the server refused the WebSocket upgrade: {status_line}: {}",
                body.trim()
            ),
            Error::Extension(msg) => write!(f, "permessage-deflate: {msg}"),
            Error::EchoedRequest { try_url } => write!(
                f,
                "this looks like a TCP echo server (it sent our HTTP request back): try {try_url}"
            ),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

impl From<tungstenite::Error> for Error {
    fn from(e: tungstenite::Error) -> Error {
        match e {
            tungstenite::Error::Io(e) => Error::Io(e),
            other => Error::WebSocket(other),
        }
    }
}

/// The most bytes of a refusal's body quoted in the error.
const SHOWN_BODY: usize = 200;

/// Turns a failed Upgrade into what happened, read from the bytes the Tap
/// recorded: our own request echoed back, a refusal with its status line and
/// reason, or else tungstenite's own error.
pub(super) fn upgrade_failed(e: tungstenite::Error, target: &Target, records: &[Record]) -> Error {
    let bytes = |dir| -> Vec<u8> {
        records
            .iter()
            .filter(|r| r.dir == dir)
            .flat_map(|r| r.bytes.iter().copied())
            .collect()
    };
    let (sent, received) = (bytes(Direction::Sent), bytes(Direction::Received));
    // Our request line, `GET / HTTP/1.1\r\n`: an HTTP server never starts its
    // answer with it; an echo server always does.
    let request_line = sent.split_inclusive(|&b| b == b'\n').next().unwrap_or(&[]);
    if !request_line.is_empty() && received.starts_with(request_line) {
        // The byte stream of the same security: tcp:// for ws://, tls:// for wss://.
        let bytes = if target.scheme.secure() {
            Scheme::Tls
        } else {
            Scheme::Tcp
        };
        return Error::EchoedRequest {
            try_url: target.parts.with_scheme(bytes),
        };
    }
    if let tungstenite::Error::Http(response) = &e {
        let text = String::from_utf8_lossy(&received);
        let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status_line = head.lines().next().unwrap_or_default().to_string();
        // The body as tungstenite read it, else what the Tap saw after the head.
        let body = match response.body() {
            Some(body) if !body.is_empty() => String::from_utf8_lossy(body).into_owned(),
            _ => rest.to_string(),
        };
        let body = body.chars().take(SHOWN_BODY).collect();
        return Error::Refused { status_line, body };
    }
    Error::from(e)
}
