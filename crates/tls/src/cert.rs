//! The server's certificate: made at start with rcgen (self-signed, for
//! 127.0.0.1 and localhost), or read from `--cert`/`--key` PEM files.
//!
//! A self-signed certificate is trusted by nobody until told: a client must be
//! given the file (`socklab send --cacert FILE`, Python's `cafile=`, Node's
//! `ca:`), or skip the check (`--insecure`, only ever for a demo). Its SHA-256
//! fingerprint is what a browser shows under "certificate details": compare it
//! with the one printed at start.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

/// The names a made certificate is valid for: loopback only.
pub const NAMES: [&str; 2] = ["127.0.0.1", "localhost"];

/// A certificate chain and its private key, and where the certificate is on disk.
pub struct Identity {
    /// The chain, leaf first (one certificate when self-signed).
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
    /// The PEM file a client can trust (`--cacert`).
    pub cert_path: PathBuf,
}

impl Clone for Identity {
    fn clone(&self) -> Identity {
        Identity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            cert_path: self.cert_path.clone(),
        }
    }
}

impl Identity {
    /// Makes a fresh self-signed certificate for [`NAMES`] and writes it (not
    /// the key: it never leaves this process) to `cert_out` as PEM.
    pub fn self_signed(cert_out: &Path) -> io::Result<Identity> {
        let names: Vec<String> = NAMES.iter().map(|n| n.to_string()).collect();
        let made = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
        std::fs::write(cert_out, made.cert.pem())?;
        let key =
            PrivateKeyDer::try_from(made.signing_key.serialize_der()).map_err(io::Error::other)?;
        Ok(Identity {
            chain: vec![made.cert.der().clone()],
            key,
            cert_path: cert_out.to_path_buf(),
        })
    }

    /// Reads a chain and its key from PEM files (`--cert`, `--key`).
    pub fn from_files(cert: &Path, key: &Path) -> io::Result<Identity> {
        let bad = |what: &Path, e: rustls::pki_types::pem::Error| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", what.display()),
            )
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| bad(cert, e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(cert, e))?;
        if chain.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: no certificate in it", cert.display()),
            ));
        }
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, e))?;
        Ok(Identity {
            chain,
            key,
            cert_path: cert.to_path_buf(),
        })
    }

    /// SHA-256 of the leaf certificate's DER bytes, as `AB:CD:…`.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.chain[0])
    }
}

/// SHA-256 of a certificate's DER bytes, as colon-separated hex pairs.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let mut out = String::new();
    for (i, b) in digest.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{b:02X}");
    }
    out
}
