//! permessage-deflate without a socket: RFC 7692's own examples as exact bytes,
//! the negotiation's answers, and a zip bomb stopped at the cap.

use super::*;

// ANCHOR: hello
/// "Hello" compressed, RFC 7692 §7.2.3.1.
const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
/// "Hello" again with the window kept from the first, §7.2.3.2.
const HELLO_AGAIN: [u8; 5] = [0xf2, 0x00, 0x11, 0x00, 0x00];

/// §7.2.3.1 and §7.2.3.2: a server with context takeover compresses "Hello"
/// twice into exactly the RFC's bytes — the second is shorter: it points back.
#[test]
fn compresses_hello_as_the_rfc_shows() {
    let mut c = Compressor::new(&default_agreement(), Side::Server);
    assert_eq!(c.compress(b"Hello"), HELLO);
    assert_eq!(c.compress(b"Hello"), HELLO_AGAIN);
}
// ANCHOR_END: hello

const LIMIT: usize = 1 << 20;

fn agreed(headers: &[&str]) -> Option<Agreement> {
    negotiate(headers.iter().copied(), &Config::default())
}

fn default_agreement() -> Agreement {
    agreed(&["permessage-deflate"]).expect("a plain offer is accepted")
}

/// §7.2.3.2's note: without context takeover the second "Hello" costs as much
/// as the first.
#[test]
fn no_context_takeover_forgets_between_messages() {
    let a = agreed(&["permessage-deflate; server_no_context_takeover"]).unwrap();
    let mut c = Compressor::new(&a, Side::Server);
    assert_eq!(c.compress(b"Hello"), HELLO);
    assert_eq!(c.compress(b"Hello"), HELLO);
}

/// Every example of §7.2.3 inflates to "Hello": compressed, with the window
/// shared, a stored block, BFINAL set, two blocks; and §7.2.3.6's empty message.
#[test]
fn inflates_every_rfc_example() {
    let mut d = Decompressor::new(&default_agreement(), Side::Server);
    assert_eq!(d.decompress(&HELLO, LIMIT).unwrap(), b"Hello");
    assert_eq!(d.decompress(&HELLO_AGAIN, LIMIT).unwrap(), b"Hello");
    let stored = [
        0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    let bfinal = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
    let two_blocks = [
        0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
    ];
    for example in [&stored[..], &bfinal[..], &two_blocks[..]] {
        let mut d = Decompressor::new(&default_agreement(), Side::Server);
        assert_eq!(
            d.decompress(example, LIMIT).unwrap(),
            b"Hello",
            "{example:02x?}"
        );
    }
    let mut d = Decompressor::new(&default_agreement(), Side::Server);
    assert_eq!(d.decompress(&[0x00], LIMIT).unwrap(), b"");
    let mut c = Compressor::new(&default_agreement(), Side::Server);
    assert_eq!(c.compress(b""), [0x00]);
}

/// Round trips at every window the server agrees to, with and without
/// context takeover, through the client's side of the same agreement.
#[test]
fn round_trips_at_every_window() {
    let text: Vec<u8> = (0..20_000u32)
        .flat_map(|i| format!("{{\"n\":{i}}}").into_bytes())
        .collect();
    for bits in 9..=15 {
        for nct in ["", "; server_no_context_takeover"] {
            let a = agreed(&[&format!(
                "permessage-deflate; server_max_window_bits={bits}{nct}"
            )])
            .unwrap();
            assert_eq!(a.server_max_window_bits, bits);
            let mut c = Compressor::new(&a, Side::Server);
            let mut d = Decompressor::new(&a, Side::Client);
            for _ in 0..3 {
                let wire = c.compress(&text);
                assert!(wire.len() < text.len() / 4);
                assert_eq!(d.decompress(&wire, LIMIT).unwrap(), text);
            }
        }
    }
}

/// A zip bomb: 1 MiB of zeros compresses to about a kilobyte; with a 64 KiB
/// limit inflating stops with TooBig, having allocated about the limit.
#[test]
fn a_zip_bomb_stops_at_the_limit() {
    let mut c = Compressor::new(&default_agreement(), Side::Client);
    let bomb = c.compress(&vec![0u8; 1 << 20]);
    assert!(bomb.len() < 2048, "{}", bomb.len());
    let mut d = Decompressor::new(&default_agreement(), Side::Server);
    let limit = 64 * 1024;
    assert_eq!(
        d.decompress(&bomb, limit),
        Err(DeflateError::TooBig { limit })
    );
    // The limit is exact: a message of exactly `limit` bytes passes.
    let mut c = Compressor::new(&default_agreement(), Side::Client);
    let mut d = Decompressor::new(&default_agreement(), Side::Server);
    let exact = c.compress(&vec![7u8; limit]);
    assert_eq!(d.decompress(&exact, limit).unwrap().len(), limit);
}

/// No limit at all (`--max-message-size` at its largest) is no overflow.
#[test]
fn the_largest_limit_inflates() {
    let mut d = Decompressor::new(&default_agreement(), Side::Server);
    assert_eq!(d.decompress(&HELLO, usize::MAX).unwrap(), b"Hello");
}

/// Garbage is Corrupt, never a panic, whatever the bytes.
#[test]
fn garbage_is_corrupt_not_a_panic() {
    let mut d = Decompressor::new(&default_agreement(), Side::Server);
    assert_eq!(d.decompress(&[0xff; 32], LIMIT), Err(DeflateError::Corrupt));
    for seed in 0..500u32 {
        let bytes: Vec<u8> = (0..64u32)
            .map(|i| (seed.wrapping_mul(2654435761).wrapping_add(i * 97) >> 7) as u8)
            .collect();
        let mut d = Decompressor::new(&default_agreement(), Side::Server);
        let _ = d.decompress(&bytes, 4096);
    }
}

/// What a browser offers, and what the server answers (§7.1).
#[test]
fn answers_the_browser_offer() {
    let a = agreed(&[BROWSER_OFFER]).unwrap();
    assert_eq!(a.response(), "permessage-deflate");
    assert_eq!(a.server_max_window_bits, 15);
    let a = agreed(&["permessage-deflate; client_max_window_bits=10; server_max_window_bits=12"])
        .unwrap();
    assert_eq!(
        a.response(),
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=10"
    );
    let a = agreed(&["permessage-deflate; server_no_context_takeover; client_no_context_takeover"])
        .unwrap();
    assert_eq!(
        a.response(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    );
    // The server's own wish, offered or not (§7.1.1.1, §7.1.1.2).
    let ours = Config {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
    };
    let a = negotiate(["permessage-deflate"], &ours).unwrap();
    assert_eq!(
        a.response(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    );
}

/// Bad offers are declined and the next one is taken (§7.1): unknown or
/// repeated parameters, bad values, a window of 8 (zlib has none), other
/// extensions. Quoted values count as their contents.
#[test]
fn declines_bad_offers_and_takes_the_next() {
    for bad in [
        "permessage-deflate; foo",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits=8",
        "permessage-deflate; client_max_window_bits=abc",
        "permessage-deflate; client_no_context_takeover=1",
        "permessage-deflate; server_max_window_bits=\"10",
        "x-webkit-deflate-frame",
        "",
        ";;;,,,\"",
    ] {
        assert_eq!(agreed(&[bad]), None, "{bad:?}");
        // (An unclosed quote runs to the end of the header: nothing follows it.)
        if bad.contains('"') {
            continue;
        }
        let two = format!("{bad}, permessage-deflate; server_max_window_bits=\"11\"");
        assert_eq!(
            agreed(&[&two]).map(|a| a.server_max_window_bits),
            Some(11),
            "{two:?}"
        );
    }
    // Several header lines count as one list, in order.
    let a = agreed(&[
        "foo",
        "permessage-deflate; server_max_window_bits=9, permessage-deflate",
    ]);
    assert_eq!(a.map(|a| a.server_max_window_bits), Some(9));
}

/// The client's side reads the server's answer; one it could not have
/// offered for is an error.
#[test]
fn a_client_reads_the_answer() {
    let a = Agreement::from_response("permessage-deflate; server_max_window_bits=10").unwrap();
    assert_eq!(a.server_max_window_bits, 10);
    assert_eq!(a.client_max_window_bits, 15);
    for bad in [
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; client_max_window_bits=8",
        "permessage-deflate, permessage-deflate",
        "permessage-deflate; nope",
        "x-other",
    ] {
        assert_eq!(
            Agreement::from_response(bad),
            Err(DeflateError::BadResponse),
            "{bad}"
        );
    }
}
