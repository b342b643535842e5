//! The machine with permessage-deflate, without a socket: the 101's answer,
//! compressed echoes as exact bytes (RFC 7692 §7.2.3), and every way a peer can
//! get RSV1 or the compressed data wrong, with its close code.

use std::sync::Arc;

use lifecycle::{FourTuple, Proto};
use serve::MemoryBudget;
use tungstenite::Message;

use super::Machine;
use crate::deflate::{self, CONTEXT_BYTES, Compressor, Side};
use crate::handler::{Handler, Outbox, Settings};

/// Echoes, as ws-echo does.
struct Echo;

impl Handler for Echo {
    fn message(&mut self, message: Message, out: &mut Outbox<'_>) {
        out.send(message);
    }
}

/// The limit these machines take: 64 KiB.
const LIMIT: usize = 64 * 1024;
/// "Hello" compressed (RFC 7692 §7.2.3.1), and again with the window kept.
const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
const HELLO_AGAIN: [u8; 5] = [0xf2, 0x00, 0x11, 0x00, 0x00];

fn tuple() -> FourTuple {
    FourTuple {
        proto: Proto::Tcp,
        local: "127.0.0.1:8080".parse().unwrap(),
        peer: "127.0.0.1:40000".parse().unwrap(),
    }
}

/// A machine after an Upgrade carrying `extensions`, on a server with
/// `--deflate` or without, and the 101 it answered.
fn open(extensions: Option<&str>, deflate_on: bool, budget: usize) -> (Machine<Echo>, String) {
    let settings = Arc::new(Settings {
        deflate: deflate_on.then(deflate::Config::default),
        ..Settings::new(LIMIT, "<p>page</p>")
    });
    let held = MemoryBudget::new(budget).account();
    let mut m = Machine::new(tuple(), settings, held, Echo);
    let offer = extensions.map_or(String::new(), |e| {
        format!("Sec-WebSocket-Extensions: {e}\r\n")
    });
    m.receive(
        format!(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n{offer}\r\n"
        )
        .as_bytes(),
    );
    assert!(m.is_open());
    let answer = String::from_utf8(m.output().to_vec()).unwrap();
    m.sent(answer.len());
    (m, answer)
}

fn agreed() -> Machine<Echo> {
    let (m, answer) = open(Some(deflate::BROWSER_OFFER), true, usize::MAX);
    assert!(
        answer.contains("\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"),
        "{answer}"
    );
    m
}

/// A masked client frame (mask 0: the payload goes as it is): `first` is its
/// first byte (FIN, RSV1..3, opcode).
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = match payload.len() {
        n @ 0..=125 => vec![first, 0x80 | n as u8],
        n => {
            let n = u16::try_from(n).expect("test frames stay under 64 KiB");
            [&[first, 0x80 | 126][..], &n.to_be_bytes()].concat()
        }
    };
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

/// The close code of the Close frame the machine queued last.
fn close_code(m: &Machine<Echo>) -> u16 {
    let out = m.output();
    assert!(m.is_done(), "the machine should have closed: {out:02x?}");
    assert_eq!(out[0], 0x88, "{out:02x?}");
    u16::from_be_bytes([out[2], out[3]])
}

/// RFC 7692 §7.2.3: "Hello" compressed comes back as the RFC's exact frames,
/// the second shorter because the window is shared.
#[test]
fn echoes_hello_compressed_as_the_rfc_shows() {
    let mut m = agreed();
    m.receive(&frame(0xc1, &HELLO));
    assert_eq!(m.output(), [&[0xc1, 0x07][..], &HELLO].concat());
    m.sent(m.output().len());
    m.receive(&frame(0xc1, &HELLO_AGAIN));
    assert_eq!(m.output(), [&[0xc1, 0x05][..], &HELLO_AGAIN].concat());
}

/// A compressed message in two frames (RSV1 on the first only), a Ping between
/// them answered uncompressed, and an uncompressed message (RSV1 clear) on the
/// same connection — echoed compressed, since all we send is.
#[test]
fn fragments_pings_and_plain_messages() {
    let mut m = agreed();
    m.receive(&frame(0x41, &HELLO[..3]));
    m.receive(&frame(0x89, b"hi"));
    m.receive(&frame(0x80, &HELLO[3..]));
    m.receive(&frame(0x81, b"Hello"));
    let expected = [
        &[0x8a, 0x02, b'h', b'i', 0xc1, 0x07][..],
        &HELLO,
        &[0xc1, 0x05],
        &HELLO_AGAIN,
    ]
    .concat();
    assert_eq!(m.output(), expected);
    // The peer's Close is answered with its code, and the protocol is over.
    m.sent(m.output().len());
    m.receive(&frame(0x88, &[0x03, 0xe8]));
    assert_eq!(m.output(), [0x88, 0x02, 0x03, 0xe8]);
    assert!(m.is_done());
}

/// What the 101 says: the extension only when the server has `--deflate`,
/// the client offered it, and the budget holds its contexts.
#[test]
fn the_101_names_deflate_only_when_agreed() {
    let (_, answer) = open(Some("permessage-deflate"), false, usize::MAX);
    assert!(!answer.contains("Extensions"), "{answer}");
    let (_, answer) = open(None, true, usize::MAX);
    assert!(!answer.contains("Extensions"), "{answer}");
    let (_, answer) = open(
        Some("permessage-deflate; server_max_window_bits=8"),
        true,
        usize::MAX,
    );
    assert!(!answer.contains("Extensions"), "{answer}");
    let (_, answer) = open(Some("permessage-deflate"), true, CONTEXT_BYTES / 2);
    assert!(!answer.contains("Extensions"), "{answer}");
    let (_, answer) = open(
        Some("permessage-deflate; server_no_context_takeover; server_max_window_bits=10"),
        true,
        usize::MAX,
    );
    assert!(
        answer.contains(
            "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; server_max_window_bits=10\r\n"
        ),
        "{answer}"
    );
}

/// RSV1 where it may not be: without the extension (tungstenite's own
/// refusal), on a control frame, on a continuation frame: 1002.
#[test]
fn misplaced_rsv1_is_1002() {
    let (mut m, _) = open(None, true, usize::MAX);
    m.receive(&frame(0xc1, &HELLO));
    assert_eq!(close_code(&m), 1002);
    let mut m = agreed();
    m.receive(&frame(0xc9, b"ping"));
    assert_eq!(close_code(&m), 1002);
    let mut m = agreed();
    m.receive(&frame(0x41, &HELLO[..3]));
    m.receive(&frame(0xc0, &HELLO[3..]));
    assert_eq!(close_code(&m), 1002);
    let mut m = agreed();
    m.receive(&frame(0xe1, &HELLO));
    assert_eq!(close_code(&m), 1002);
}

/// Compressed text that inflates to invalid UTF-8, and bytes that are not
/// DEFLATE at all: 1007.
#[test]
fn bad_compressed_data_is_1007() {
    let mut c = Compressor::new(
        &deflate::negotiate(["permessage-deflate"], &Default::default()).unwrap(),
        Side::Client,
    );
    let mut m = agreed();
    m.receive(&frame(0xc1, &c.compress(&[0xc3, 0x28, b'x'])));
    assert_eq!(close_code(&m), 1007);
    let mut m = agreed();
    m.receive(&frame(0xc2, &[0xff; 16]));
    assert_eq!(close_code(&m), 1007);
}

/// A zip bomb: about a kilobyte on the wire that inflates to 1 MiB, past
/// the 64 KiB limit: 1009, and the machine holds nothing of it afterwards.
#[test]
fn a_zip_bomb_is_1009() {
    let agreement = deflate::negotiate(["permessage-deflate"], &Default::default()).unwrap();
    let bomb = Compressor::new(&agreement, Side::Client).compress(&vec![b'a'; 1 << 20]);
    assert!(bomb.len() < 2048, "{}", bomb.len());
    let budget = MemoryBudget::new(usize::MAX);
    let settings = Arc::new(Settings {
        deflate: Some(deflate::Config::default()),
        ..Settings::new(LIMIT, "")
    });
    let mut m = Machine::upgraded(tuple(), settings, budget.account(), Echo, &upgrade(), &[]);
    m.sent(m.output().len());
    m.receive(&frame(0xc1, &bomb));
    assert_eq!(close_code(&m), 1009);
    m.sent(m.output().len());
    // The contexts went with the connection's protocol; a few hundred bytes of
    // answer room stay until the machine is dropped.
    assert!(budget.used() < 1024, "{}", budget.used());
}

/// An accepted Upgrade offering deflate, as push and chat hand it over.
fn upgrade() -> crate::Upgrade {
    let head = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
                 Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
    match crate::check_request(head, &Default::default()) {
        crate::Decision::Upgrade(up) => up,
        other => panic!("{other:?}"),
    }
}

/// The memory budget holds the contexts for as long as the connection lives.
#[test]
fn the_budget_counts_the_contexts() {
    let budget = MemoryBudget::new(usize::MAX);
    let settings = Arc::new(Settings {
        deflate: Some(deflate::Config::default()),
        ..Settings::new(LIMIT, "")
    });
    let m = Machine::upgraded(tuple(), settings, budget.account(), Echo, &upgrade(), &[]);
    assert!(budget.used() >= CONTEXT_BYTES, "{}", budget.used());
    drop(m);
}

/// A compressed message arriving in small pieces (as TCP may deliver it) is
/// assembled, inflated and echoed compressed; the client's side of the same
/// agreement inflates the echo back to the original.
#[test]
fn a_big_message_in_pieces_round_trips() {
    let agreement = deflate::negotiate(["permessage-deflate"], &Default::default()).unwrap();
    let text: Vec<u8> = (0..1500u32)
        .flat_map(|i| format!("{{\"n\":{i},\"text\":\"line {}\"}}\n", i * 7919 % 1000).into_bytes())
        .collect();
    assert!(text.len() < LIMIT);
    let wire = Compressor::new(&agreement, Side::Client).compress(&text);
    let mut m = agreed();
    for piece in frame(0xc2, &wire).chunks(700) {
        m.receive(piece);
    }
    let out = m.output();
    assert_eq!(out[0], 0xc2, "a Binary frame, RSV1 set");
    let (len, at) = match out[1] {
        126 => (usize::from(u16::from_be_bytes([out[2], out[3]])), 4),
        n => (usize::from(n), 2),
    };
    assert_eq!(out.len(), at + len);
    let mut d = deflate::Decompressor::new(&agreement, Side::Client);
    assert_eq!(d.decompress(&out[at..], LIMIT).unwrap(), text);
}

/// Whatever bytes a peer sends after agreeing to compression — random, or
/// random after a valid compressed frame's header — the machine answers or
/// closes, and never panics.
#[test]
fn random_bytes_never_panic() {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        // xorshift64: a fixed sequence, so a failure repeats.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..300 {
        let mut m = agreed();
        let len = (next() % 200) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if round % 2 == 0 {
            // A masked, compressed Text frame's header (mask 0) in front.
            let n = bytes.len().min(125) as u8;
            bytes.splice(0..0, [0xc1, 0x80 | n, 0, 0, 0, 0]);
        }
        for piece in bytes.chunks(1 + (next() % 17) as usize) {
            m.receive(piece);
        }
    }
}
