//! TLS as a byte layer under any socklab server, on rustls.
//!
//! `socklab serve tls` is tcp-echo with this layer under it, `socklab serve
//! wss` is ws-echo with it: the echo and the WebSocket machine do not change,
//! only what travels on the socket does. Between the socket and the protocol,
//! [`TlsLayer`] (serve's `Layer` trait) opens the records that come in and
//! seals the bytes that go out; both server models drive it (`serve::layer`).
//!
//! What it adds, in the order a connection lives through it:
//!
//! 1. **A certificate** ([`cert`]): self-signed for 127.0.0.1 and localhost,
//!    made at start with rcgen, written to a file a client can trust, with its
//!    SHA-256 fingerprint in the log; or `--cert`/`--key`.
//! 2. **The handshake**, narrated from what rustls reports: the ClientHello's
//!    SNI, ALPN and cipher suites; the version, suite, key exchange and ALPN
//!    chosen; the records sent. In TLS 1.3 everything after the ServerHello is
//!    encrypted. A handshake deadline, and a cap on unfinished handshakes apart
//!    from the connection cap (`--max-handshakes`: the oldest unfinished goes
//!    first when it is full); plain HTTP on the port gets a readable 400.
//! 3. **Records**: every `write()` of the protocol becomes one or more
//!    application_data records (5 bytes of header, 16 of AEAD tag, 1 of inner
//!    content type in TLS 1.3 — measured by `socklab compare`, not assumed).
//! 4. **A key log**: with `SSLKEYLOGFILE=path`, the session secrets are appended
//!    there (rustls `KeyLogFile`), so Wireshark/tshark can decrypt a capture.
//!    Never set it on a server whose traffic matters.
//!
//! Run: `socklab serve tls`, then
//! `openssl s_client -connect 127.0.0.1:7443 -CAfile <the printed path>`, or
//! `socklab send tls://127.0.0.1:7443 hi --cacert <path> --wire`.
//!
//! # Layout
//!
//! - [`cert`]: the certificate, made or read, and its fingerprint.
//! - [`server`]: [`TlsLayer`], one connection's TLS.
//! - [`records`]: record headers as an observer reads them (pure).
//! - [`cli`]: the `--cert`, `--key`, `--cert-out`, `--tls-handshake-timeout` and
//!   `--max-handshakes` flags.
#![deny(missing_docs)]

pub mod cert;
pub mod cli;
pub mod records;
pub mod server;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use log::info;
use rustls::ServerConfig;

pub use cert::Identity;
pub use server::TlsLayer;

/// `socklab serve tls`: 7443, echo's 7007 with TLS's 443 in it.
pub const DEFAULT_TLS_ADDR: &str = "127.0.0.1:7443";

/// `socklab serve wss`: 8443, the usual development port for HTTPS.
pub const DEFAULT_WSS_ADDR: &str = "127.0.0.1:8443";

/// How long a client has, from accept, to finish the TLS handshake. A client
/// that connects and sends nothing, or one byte a minute, must not hold a
/// connection forever; a real one needs a round trip and a signature, far
/// less than this even across the world. Short, because every second of it
/// is a second a silent ClientHello holds a place (see `serve::handshakes`).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// The ALPN protocol a wss:// server agrees to: WebSocket runs over HTTP/1.1
/// (its Upgrade does not exist in HTTP/2 without RFC 8441).
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

// ANCHOR: server_config
/// The rustls server settings: TLS 1.3 and 1.2 with ring's cipher suites and
/// key exchanges, `identity`'s certificate, `alpn` offered in that order, and
/// the key log `SSLKEYLOGFILE` names (nothing is written when it is unset).
pub fn server_config(identity: Identity, alpn: &[&[u8]]) -> io::Result<Arc<ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(identity.chain, identity.key)
        .map_err(io::Error::other)?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    // No session tickets: socklab's clients never resume a session, and tickets
    // would arrive after the handshake in records of their own, mixed into the
    // bytes `compare` counts per message. One full handshake, every byte shown.
    config.send_tls13_tickets = 0;
    config.key_log = Arc::new(rustls::KeyLogFile::new());
    if let Some(path) = std::env::var_os("SSLKEYLOGFILE") {
        info!(
            "SSLKEYLOGFILE={}: every session's secrets are appended there, so a capture can be decrypted (a demo only)",
            path.to_string_lossy()
        );
    }
    Ok(Arc::new(config))
}
// ANCHOR_END: server_config
