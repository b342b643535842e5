//! `send --deflate` end to end on loopback, against a small permessage-deflate
//! echo server written here over tungstenite's handshake and
//! `websocket::deflate` (the real `serve ws --deflate` lives in another
//! crate): the client's offer, both directions compressed with context
//! takeover, the wire view inflating the conversation from its start, a
//! server that declines, and one that answers an extension nobody offered.

use std::io::{Cursor, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use client::transport::{DeflateOffer, Incoming};
use client::wire::ws_conversation;
use client::{Error, Target, Transport};
use lifecycle::TapLog;
use tungstenite::handshake::server::{Request, Response};
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::{Frame, FrameHeader};
use websocket::deflate::{Compressor, Config, Decompressor, Side, negotiate};

/// What the test server answers in its 101's `Sec-WebSocket-Extensions`.
#[derive(Clone, Copy)]
enum Answer {
    /// `negotiate` on the client's offer, with our config.
    Negotiate(Config),
    /// This text whatever was offered.
    Fixed(&'static str),
    /// No extension named: declined.
    Decline,
}

/// Reads one whole frame from `stream` (after `pending`).
fn read_frame(stream: &mut TcpStream, pending: &mut Vec<u8>) -> Option<(FrameHeader, Vec<u8>)> {
    let mut buf = [0u8; 4096];
    loop {
        let mut cursor = Cursor::new(&pending[..]);
        if let Ok(Some((header, len))) = FrameHeader::parse(&mut cursor) {
            let start = cursor.position() as usize;
            let end = start + len as usize;
            if end <= pending.len() {
                let mut payload = pending[start..end].to_vec();
                if let Some(key) = header.mask {
                    payload
                        .iter_mut()
                        .enumerate()
                        .for_each(|(i, b)| *b ^= key[i % 4]);
                }
                pending.drain(..end);
                return Some((header, payload));
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
        }
    }
}

/// A one-connection echo server: compressed messages come back compressed,
/// a close frame is answered. Returns its address.
// tungstenite's handshake callback returns its own (large) error response type.
#[allow(clippy::result_large_err)]
fn server(answer: Answer) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut agreement = None;
        let callback = |req: &Request, mut resp: Response| {
            let offers = req
                .headers()
                .get_all("Sec-WebSocket-Extensions")
                .iter()
                .filter_map(|v| v.to_str().ok());
            let text = match answer {
                Answer::Negotiate(config) => {
                    agreement = negotiate(offers, &config);
                    agreement.map(|a| a.response())
                }
                Answer::Fixed(text) => Some(text.to_string()),
                Answer::Decline => None,
            };
            if let Some(text) = text {
                resp.headers_mut()
                    .insert("Sec-WebSocket-Extensions", text.parse().unwrap());
            }
            Ok(resp)
        };
        let Ok(ws) = tungstenite::accept_hdr(stream, callback) else {
            return;
        };
        let mut stream = ws.into_inner();
        let mut codec = agreement.map(|a| {
            (
                Compressor::new(&a, Side::Server),
                Decompressor::new(&a, Side::Server),
            )
        });
        let mut pending = Vec::new();
        while let Some((header, payload)) = read_frame(&mut stream, &mut pending) {
            let mut reply = match header.opcode {
                OpCode::Control(_) => {
                    // Our close answers theirs.
                    let mut bytes = Vec::new();
                    Frame::close(None).format(&mut bytes).unwrap();
                    let _ = stream.write_all(&bytes);
                    return;
                }
                OpCode::Data(data) => {
                    let text = data == Data::Text;
                    let opcode = OpCode::Data(if text { Data::Text } else { Data::Binary });
                    match (&mut codec, header.rsv1) {
                        (Some((c, d)), true) => {
                            let plain = d.decompress(&payload, 1 << 20).unwrap();
                            let mut f = Frame::message(c.compress(&plain), opcode, true);
                            f.header_mut().rsv1 = true;
                            f
                        }
                        _ => Frame::message(payload, opcode, true),
                    }
                }
            };
            reply.header_mut().mask = None;
            let mut bytes = Vec::new();
            reply.format(&mut bytes).unwrap();
            stream.write_all(&bytes).unwrap();
        }
    });
    addr
}

fn connect(addr: std::net::SocketAddr, offer: Option<DeflateOffer>) -> Result<Transport, Error> {
    let target = Target::parse(&format!("ws://{addr}/")).unwrap();
    Transport::connect_offering(&target, TapLog::new(), &[], offer)
}

/// Both ways compressed, with context takeover: the second "hello" each way
/// is shorter than the first, and the wire view inflates all four.
#[test]
fn echo_compressed_both_ways() {
    let addr = server(Answer::Negotiate(Config::default()));
    let mut t = connect(addr, Some(DeflateOffer::default())).unwrap();
    assert!(t.deflate().is_some(), "the server agreed");
    for _ in 0..2 {
        t.send(b"hello").unwrap();
        assert_eq!(t.receive().unwrap(), Incoming::Data(b"hello".to_vec()));
    }
    let log = t.log();
    let report = t.close().unwrap();
    assert_eq!(
        report.close_code, None,
        "the test server closes with no code"
    );
    let conv = ws_conversation(&log.records());
    let request = &conv.handshake.as_ref().unwrap().request;
    assert_eq!(
        request.header("Sec-WebSocket-Extensions"),
        Some("permessage-deflate; client_max_window_bits")
    );
    let view = conv.deflate.unwrap();
    assert_eq!(view.extension, "permessage-deflate");
    // RFC 7692 §7.2.3.2: "Hello" twice with one window is 7 bytes, then 5.
    let sizes = |frames: &client::wire::Frames| -> Vec<(bool, usize)> {
        frames
            .frames
            .iter()
            .map(|f| (f.rsv[0], f.wire_payload.len()))
            .collect()
    };
    assert_eq!(&sizes(&conv.client)[..2], &[(true, 7), (true, 5)]);
    assert_eq!(&sizes(&conv.server)[..2], &[(true, 7), (true, 5)]);
    for side in [&view.client, &view.server] {
        let got: Vec<&[u8]> = side.iter().flatten().map(|m| &m.inflated[..]).collect();
        assert_eq!(got, [b"hello", b"hello"]);
    }
}

/// `--deflate-no-context-takeover`: every message from an empty window, so
/// the repeat costs what the first did.
#[test]
fn no_context_takeover_repeats_the_cost() {
    let addr = server(Answer::Negotiate(Config::default()));
    let offer = DeflateOffer {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
    };
    let mut t = connect(addr, Some(offer)).unwrap();
    for _ in 0..2 {
        t.send(b"hello").unwrap();
        assert_eq!(t.receive().unwrap(), Incoming::Data(b"hello".to_vec()));
    }
    let log = t.log();
    t.close().unwrap();
    let conv = ws_conversation(&log.records());
    let lens: Vec<usize> = conv.server.frames[..2]
        .iter()
        .map(|f| f.wire_payload.len())
        .collect();
    assert_eq!(lens, [7, 7]);
}

/// A server that declines (names no extension): uncompressed, and it works.
#[test]
fn declined_means_uncompressed() {
    let addr = server(Answer::Decline);
    let mut t = connect(addr, Some(DeflateOffer::default())).unwrap();
    assert!(t.deflate().is_none());
    t.send(b"plain").unwrap();
    assert_eq!(t.receive().unwrap(), Incoming::Data(b"plain".to_vec()));
    t.close().unwrap();
}

/// An extension nobody offered, or an answer that is not an agreement: the
/// client fails the connection with a clear error.
#[test]
fn bad_answers_fail_the_connection() {
    let addr = server(Answer::Fixed("permessage-deflate"));
    let err = connect(addr, None).unwrap_err();
    assert!(matches!(err, Error::Extension(_)), "{err}");
    assert!(err.to_string().contains("we offered no extension"), "{err}");
    let addr = server(Answer::Fixed("permessage-deflate; client_max_window_bits"));
    let err = connect(addr, Some(DeflateOffer::default())).unwrap_err();
    assert!(matches!(err, Error::Extension(_)), "{err}");
    let addr = server(Answer::Fixed("permessage-deflate"));
    let offer = DeflateOffer {
        server_no_context_takeover: true,
        client_no_context_takeover: false,
    };
    let err = connect(addr, Some(offer)).unwrap_err();
    assert!(
        err.to_string().contains("server_no_context_takeover"),
        "{err}"
    );
}

/// `--seed` with `--deflate`: the key and every mask from the seed, so two
/// runs write the same bytes, compressed frames and close frame included.
#[test]
fn seeded_runs_write_the_same_bytes() {
    use client::seeded::Seeded;
    use lifecycle::Direction;
    let run = || {
        let addr = server(Answer::Negotiate(Config::default()));
        let target = Target::parse(&format!("ws://{addr}/")).unwrap();
        let mut seeded = Seeded::new(7);
        let key = seeded.key();
        let headers = [("Sec-WebSocket-Key", key.as_str())];
        let mut t = Transport::connect_offering(
            &target,
            TapLog::new(),
            &headers,
            Some(DeflateOffer::default()),
        )
        .unwrap();
        t.seed_masks(seeded);
        for m in ["hello", "hello", "{\"user\":\"ana\"}"] {
            t.send(m.as_bytes()).unwrap();
            assert_eq!(t.receive().unwrap(), Incoming::Data(m.as_bytes().to_vec()));
        }
        let log = t.log();
        t.close().unwrap();
        client::wire::Flow::from_records(&log.records(), Direction::Sent).bytes
    };
    let (a, b) = (run(), run());
    // The request head names the server's port, which differs: compare what
    // follows it (every frame we sent).
    let frames = |bytes: &[u8]| {
        let head = client::wire::HttpHead::request(bytes).unwrap().bytes;
        bytes[head..].to_vec()
    };
    assert_eq!(frames(&a), frames(&b));
    assert_eq!(client::wire::parse_frames(&frames(&a)).frames.len(), 4);
}
