//! `--cacert FILE` and `--insecure`: whom a tls:// or wss:// client trusts.

use std::path::PathBuf;

use client::Trust;

/// The trust flags of `send`, `chat` and `compare`.
#[derive(Debug, Clone, clap::Args)]
pub struct TrustArgs {
    /// For tls:// and wss://: trust the certificate(s) in this PEM file (the path `socklab serve tls|wss` printed)
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    pub cacert: Option<PathBuf>,
    /// For tls:// and wss://: accept ANY certificate (encrypted, but the server is not authenticated; demo only)
    #[arg(long)]
    pub insecure: bool,
}

impl TrustArgs {
    /// What the flags say.
    pub fn trust(&self) -> Trust {
        match (&self.cacert, self.insecure) {
            (Some(path), _) => Trust::CaFile(path.clone()),
            // The client logs a warning when it connects (at the default level).
            (None, true) => Trust::Insecure,
            (None, false) => Trust::Unset,
        }
    }
}
