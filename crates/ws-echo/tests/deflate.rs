//! ws-echo with `--deflate` over real sockets, raw bytes only: the 101's
//! answer to a browser's offer, and RFC 7692's compressed "Hello" echoed as the
//! RFC's exact frames, on both server models.
//!
//! Run: `cargo test -p ws-echo --test deflate`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serve::{Engine, Model, Running};
use ws_echo::Config;

/// How long any single read may wait before the test fails instead of hanging.
const DEADLINE: Duration = Duration::from_secs(5);
/// The mask key the tests' "client" uses.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// What Chromium offers on every WebSocket it opens.
const BROWSER_OFFER: &str =
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
/// "Hello" compressed (RFC 7692 §7.2.3.1), and again with the window kept (§7.2.3.2).
const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
const HELLO_AGAIN: [u8; 5] = [0xf2, 0x00, 0x11, 0x00, 0x00];
const MODELS: [Model; 2] = [Model::Threads, Model::EventLoop];

fn start(model: Model, deflate: bool) -> Running {
    let config = Config {
        deflate,
        ..Config::default()
    };
    Running::tcp("127.0.0.1:0".parse().unwrap(), move |listener, shutdown| {
        ws_echo::serve(model, listener, shutdown, config, Engine::new(2)?)
    })
    .unwrap()
}

/// Upgrades with `extra` header lines; returns the stream and the 101's head.
fn open(server: &Running, extra: &str) -> (TcpStream, String) {
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    let request = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    );
    s.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "EOF inside the 101");
        head.push(byte[0]);
    }
    (s, String::from_utf8(head).unwrap())
}

/// A final, masked client frame whose first byte is `first` (FIN, RSV, opcode).
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut out = vec![first, 0x80 | payload.len() as u8];
    out.extend_from_slice(&MASK);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    out
}

/// Reads exactly `n` bytes.
fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    s.read_exact(&mut buf).unwrap();
    buf
}

/// Lesson: a browser's offer is answered only by a server with `--deflate`;
/// then "Hello" twice comes back as RFC 7692's exact bytes, RSV1 set, the
/// second shorter (context takeover).
#[test]
fn compressed_hello_is_echoed_as_the_rfc_shows() {
    for model in MODELS {
        let server = start(model, true);
        let (mut s, head) = open(&server, BROWSER_OFFER);
        assert!(
            head.contains("\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"),
            "{model:?}: {head}"
        );
        s.write_all(&frame(0xc1, &HELLO)).unwrap();
        assert_eq!(
            read_n(&mut s, 9),
            [&[0xc1, 0x07][..], &HELLO].concat(),
            "{model:?}"
        );
        s.write_all(&frame(0xc1, &HELLO_AGAIN)).unwrap();
        assert_eq!(
            read_n(&mut s, 7),
            [&[0xc1, 0x05][..], &HELLO_AGAIN].concat(),
            "{model:?}"
        );
        // The close handshake is the same as without compression.
        s.write_all(&frame(0x88, &[0x03, 0xe8])).unwrap();
        assert_eq!(read_n(&mut s, 4), [0x88, 0x02, 0x03, 0xe8], "{model:?}");
    }
}

/// Off by default: the same offer gets a 101 without the extension, and a
/// frame with RSV1 is then a protocol error (1002).
#[test]
fn without_deflate_the_offer_is_ignored_and_rsv1_is_1002() {
    for model in MODELS {
        let server = start(model, false);
        let (mut s, head) = open(&server, BROWSER_OFFER);
        assert!(!head.contains("Extensions"), "{model:?}: {head}");
        s.write_all(&frame(0xc1, &HELLO)).unwrap();
        let close = read_n(&mut s, 4);
        assert_eq!(close[0], 0x88, "{model:?}");
        assert_eq!(u16::from_be_bytes([close[2], close[3]]), 1002, "{model:?}");
    }
}
