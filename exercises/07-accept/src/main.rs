//! Exercise 7 — compute Sec-WebSocket-Accept by hand.
//!
//! A WebSocket server proves it understood the Upgrade by answering the
//! client's `Sec-WebSocket-Key` with `Sec-WebSocket-Accept`. RFC 6455 §4.2.2
//! says how: append the fixed GUID `258EAFA5-E914-47DA-95CA-C5AB0DC85B11` to
//! the key (as text), take the SHA-1 of that text, and write the 20 bytes in
//! base64.
//!
//! Your task: print the Accept for each key given on the command line, one per
//! line. This version forgets a step.
//!
//! Run:   cargo run -p ex07-accept -- dGhlIHNhbXBsZSBub25jZQ==
//!        (the RFC's example: the answer is s3pPLMBiTxaQ9kYGzzhZRbK+xOo=)
//! Compare: socklab handshake dGhlIHNhbXBsZSBub25jZQ== --explain
//! Check: socklab exercise check 7
use sha1::{Digest, Sha1};

fn main() {
    for key in std::env::args().skip(1) {
        println!("{}", accept(&key));
    }
}

/// The Sec-WebSocket-Accept for `key`.
fn accept(key: &str) -> String {
    let digest = Sha1::digest(key.as_bytes());
    data_encoding::BASE64.encode(&digest)
}
