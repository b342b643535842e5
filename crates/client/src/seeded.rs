//! Seeded "randomness" for output that can be pasted into a blog post and
//! reproduced: `socklab send ws://… --seed N` takes its `Sec-WebSocket-Key` and
//! the masking key of every frame it sends from here, so two runs with the same
//! seed write the same bytes. Ports, times and the server's bytes stay real.
//!
//! RFC 6455 wants both values unpredictable (§4.1: the key is a random nonce;
//! §5.3: the masking key must come from a strong source of entropy, so a page's
//! script cannot choose the bytes an intermediary sees). A fixed seed gives up
//! exactly that, which is fine on loopback in a lesson and wrong anywhere else.
//! The generator is SplitMix64: a few lines, no dependency, and the same
//! numbers on every machine.

use data_encoding::BASE64;

/// A deterministic source of the client's key and masks.
#[derive(Debug, Clone)]
pub struct Seeded {
    state: u64,
}

impl Seeded {
    /// A generator that gives the same sequence for the same `seed`.
    pub fn new(seed: u64) -> Seeded {
        Seeded { state: seed }
    }

    /// The generator of connection `n` of many drawn from one `seed` (compare
    /// opens hundreds): each its own sequence, the same one every run.
    pub fn stream(seed: u64, n: u64) -> Seeded {
        // Odd multiplier: distinct `n` give distinct starting states.
        Seeded::new(seed ^ n.wrapping_mul(0xD1B5_4A32_D192_ED03))
    }

    /// SplitMix64's next number (Steele, Lea and Flood, 2014).
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A `Sec-WebSocket-Key`: 16 bytes, base64 (24 characters), as RFC 6455 §4.1 asks.
    pub fn key(&mut self) -> String {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_u64().to_be_bytes());
        bytes[8..].copy_from_slice(&self.next_u64().to_be_bytes());
        BASE64.encode(&bytes)
    }

    /// The next frame's 4-byte masking key.
    pub fn mask(&mut self) -> [u8; 4] {
        let [a, b, c, d, ..] = self.next_u64().to_be_bytes();
        [a, b, c, d]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The blog kit: one seed, one sequence — the same key and masks each run;
    /// another seed, others.
    #[test]
    fn same_seed_same_values() {
        let (mut a, mut b, mut c) = (Seeded::new(7), Seeded::new(7), Seeded::new(8));
        assert_eq!(a.key(), b.key());
        assert_eq!(a.mask(), b.mask());
        assert_eq!(a.mask(), b.mask());
        assert_ne!(Seeded::new(7).key(), c.key());
    }

    /// Streams of one seed differ from each other and repeat themselves.
    #[test]
    fn streams_differ_and_repeat() {
        assert_eq!(Seeded::stream(1, 2).key(), Seeded::stream(1, 2).key());
        assert_ne!(Seeded::stream(1, 2).key(), Seeded::stream(1, 3).key());
    }

    /// The key is what a server checks: 24 characters of base64 that decode to
    /// 16 bytes (ws-echo refuses anything else with 400).
    #[test]
    fn the_key_is_sixteen_bytes_of_base64() {
        let key = Seeded::new(0).key();
        assert_eq!(key.len(), 24);
        assert_eq!(BASE64.decode(key.as_bytes()).map(|k| k.len()), Ok(16));
    }
}
