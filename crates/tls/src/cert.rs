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

    /// A self-signed certificate like [`Identity::self_signed`]'s, but the
    /// same bytes on every run for the same `seed`: an Ed25519 key made from
    /// the seed (Ed25519 signs deterministically, in 64 bytes, where ECDSA's
    /// signatures are random and 70–72 bytes long), rcgen's fixed validity and
    /// a serial number taken from the key. So the handshake's byte counts do
    /// not change between runs: `compare --stable` prints them as measured.
    /// The key is as public as the seed: for loopback demos only.
    pub fn seeded(cert_out: &Path, seed: u64) -> io::Result<Identity> {
        let mut secret = Sha256::new();
        secret.update(b"socklab --stable certificate key");
        secret.update(seed.to_be_bytes());
        // PKCS#8 v1 for Ed25519 (RFC 8410): a fixed prefix, then the 32-byte secret.
        let mut pkcs8 = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        pkcs8.extend_from_slice(&secret.finalize());
        let der = rustls::pki_types::PrivatePkcs8KeyDer::from(pkcs8);
        let signing_key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_ED25519)
            .map_err(io::Error::other)?;
        let names: Vec<String> = NAMES.iter().map(|n| n.to_string()).collect();
        let params = rcgen::CertificateParams::new(names).map_err(io::Error::other)?;
        let cert = params.self_signed(&signing_key).map_err(io::Error::other)?;
        std::fs::write(cert_out, cert.pem())?;
        Ok(Identity {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(der.clone_key()),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A seeded certificate is the same bytes on every run for one seed,
    /// other bytes for another, and its key is one rustls serves with.
    #[test]
    fn a_seeded_certificate_is_the_same_bytes() {
        let dir = std::env::temp_dir();
        let path = |n: u32| dir.join(format!("socklab-seeded-{}-{n}.pem", std::process::id()));
        let a = Identity::seeded(&path(1), 1).expect("seeded");
        let b = Identity::seeded(&path(2), 1).expect("seeded");
        let c = Identity::seeded(&path(3), 2).expect("seeded");
        assert_eq!(a.chain, b.chain);
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.chain, c.chain);
        assert_eq!(
            std::fs::read(path(1)).unwrap(),
            std::fs::read(path(2)).unwrap()
        );
        crate::server_config(a, &[]).expect("rustls takes the Ed25519 key");
        for n in 1..=3 {
            let _ = std::fs::remove_file(path(n));
        }
    }
}
