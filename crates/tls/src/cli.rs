//! The TLS flags shared by `socklab serve tls` and `socklab serve wss`.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use log::info;
use rustls::ServerConfig;

use serve::handshakes::{Handshakes, default_max_handshakes};

use crate::{HANDSHAKE_TIMEOUT, Identity};

/// Where the server's certificate comes from, and the handshake's limits.
#[derive(Debug, Clone, clap::Args)]
pub struct TlsArgs {
    /// Certificate chain (PEM) to serve instead of a fresh self-signed one; needs --key
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) for --cert
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Where to write the self-signed certificate made at start, for clients to trust [default: a file in the temp directory]
    #[arg(long, value_name = "FILE", conflicts_with = "cert")]
    pub cert_out: Option<PathBuf>,
    /// Seconds a client has, from accept, to finish the TLS handshake
    #[arg(long, value_name = "SECS", default_value_t = HANDSHAKE_TIMEOUT.as_secs())]
    pub tls_handshake_timeout: u64,
    /// Most TLS handshakes unfinished at once, apart from --max-connections; when full, one is closed for the newcomer: the oldest that never sent a whole ClientHello, else the oldest (finished connections never are); never more than half of --max-connections [default: an eighth of --max-connections]
    #[arg(long, value_name = "N")]
    pub max_handshakes: Option<usize>,
}

impl TlsArgs {
    /// The handshake deadline.
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.tls_handshake_timeout)
    }

    /// The unfinished handshakes' cap and deadline, for one server of
    /// `max_connections` places.
    pub fn handshakes(&self, max_connections: usize) -> Handshakes {
        let max = self
            .max_handshakes
            .unwrap_or_else(|| default_max_handshakes(max_connections));
        Handshakes::new(max, self.handshake_timeout())
    }

    /// Makes or reads the certificate, says where it is and its fingerprint,
    /// and builds the rustls settings with `alpn`.
    pub fn server_config(&self, alpn: &[&[u8]]) -> io::Result<Arc<ServerConfig>> {
        let identity = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Identity::from_files(cert, key)?,
            _ => {
                let out = self.cert_out.clone().unwrap_or_else(|| {
                    std::env::temp_dir().join(format!("socklab-cert-{}.pem", std::process::id()))
                });
                let made = Identity::self_signed(&out)?;
                info!(
                    "certificate: self-signed for {}, made now (rcgen); trust it with --cacert {}",
                    crate::cert::NAMES.join(" and "),
                    out.display()
                );
                made
            }
        };
        info!(
            "certificate {}: SHA-256 fingerprint {}",
            identity.cert_path.display(),
            identity.fingerprint()
        );
        crate::server_config(identity, alpn)
    }
}
