//! `socklab handshake KEY`: the `Sec-WebSocket-Accept` a server must answer to a
//! `Sec-WebSocket-Key` (RFC 6455 §4.2.2, lesson 6).
//!
//! Try: `socklab handshake dGhlIHNhbXBsZSBub25jZQ==` prints RFC 6455's own example
//! answer, `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`; add `--explain` to see the steps.
//! `socklab handshake 'not a key!'` still prints what the formula gives, but warns
//! and exits 1: a key that is not base64 of 16 bytes gets 400 from ws-echo, no Accept.

use clap::Args;
use client::Style;
use client::wire::{derive_accept, render_accept};

/// Exit status when the key is not one a server accepts (the Accept is printed anyway).
const BAD_KEY_EXIT: i32 = 1;

/// Flags of `socklab handshake`.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  socklab handshake dGhlIHNhbXBsZSBub25jZQ==            # -> s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\n  socklab handshake dGhlIHNhbXBsZSBub25jZQ== --explain  # key + GUID -> SHA-1 -> base64\n  socklab handshake \"$(head -c16 /dev/urandom | base64)\"  # a fresh key, as a browser makes\n\nA key that is not base64 of 16 bytes: the Accept is still printed, with a warning on\nstderr and exit status 1, because ws-echo answers such a key with 400 Bad Request."
)]
pub struct Handshake {
    /// The client's Sec-WebSocket-Key (16 random bytes in base64)
    key: String,
    /// Show the derivation: key + GUID, its SHA-1, then base64
    #[arg(long)]
    explain: bool,
    /// No colors (also: NO_COLOR=1)
    #[arg(long)]
    no_color: bool,
}

impl Handshake {
    /// Prints the Accept (and, with --explain, how it was computed).
    pub fn run(self) -> anyhow::Result<()> {
        let derivation = derive_accept(&self.key);
        if self.explain {
            out!(
                "{}",
                render_accept(&derivation, Style::detect(self.no_color))
            );
        } else {
            outln!("{}", derivation.accept);
        }
        // The same check ws-echo makes before it answers 101 (RFC 6455 §4.2.1).
        if !ws_echo::upgrade::is_base64_of_16_bytes(&self.key) {
            eprintln!(
                "warning: {:?} is not base64 of 16 bytes: ws-echo answers this key with 400 Bad Request, \
                 not 101 — the Accept above is only what the formula gives",
                self.key
            );
            std::process::exit(BAD_KEY_EXIT);
        }
        Ok(())
    }
}
