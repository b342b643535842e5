//! The conversation views and the Engine.IO reading, and plain rendering.

use std::time::Duration;

use super::tests_frame::only_frame;
use lifecycle::Direction;
use lifecycle::tap::Record;

use super::*;
use crate::style::{Paint, Style};

/// Lesson 3: the stream view shows each read() with its exact bytes, so three
/// writes read back as one are visible as one record.
#[test]
fn stream_view_shows_call_boundaries() {
    let at = Duration::from_micros(1500);
    let records = vec![
        Record {
            dir: Direction::Sent,
            at,
            bytes: b"one".to_vec(),
        },
        Record {
            dir: Direction::Sent,
            at,
            bytes: b"two".to_vec(),
        },
        Record {
            dir: Direction::Received,
            at,
            bytes: b"onetwo".to_vec(),
        },
        Record {
            dir: Direction::Received,
            at,
            bytes: Vec::new(),
        },
    ];
    let text = render_stream(&records, Style::PLAIN);
    assert!(text.contains("read()            #1        6 bytes  |\"onetwo\"|"));
    assert!(text.contains("write()           #2        3 bytes  |\"two\"|"));
    assert!(text.contains("end of stream: the peer sent FIN"));
}

/// Lesson 19: socket.io's packets, as the wire view names them. Engine.IO's
/// type comes first; inside a message (4), Socket.IO's type, namespace and
/// ack id.
#[test]
fn engine_io_and_socket_io_packets() {
    let name = |s: &str| engine_io_packet(s.as_bytes());
    let open = r#"0{"sid":"abc","upgrades":[],"pingInterval":300,"pingTimeout":300}"#;
    assert!(name(open).unwrap().starts_with("0 open"));
    assert!(name("2").unwrap().starts_with("2 ping"));
    assert!(name("3").unwrap().starts_with("3 pong"));
    assert!(name("2probe").unwrap().starts_with("2 ping probe"));
    assert!(name("3probe").unwrap().starts_with("3 pong probe"));
    assert!(name("5").unwrap().starts_with("5 upgrade"));
    assert!(name("6").unwrap().starts_with("6 noop"));
    assert!(name("1").unwrap().starts_with("1 close"));
    assert_eq!(
        name("40").as_deref(),
        Some("4 message + Socket.IO 0 CONNECT: join a namespace, namespace /")
    );
    assert_eq!(
        name(r#"42["echo","hi"]"#).as_deref(),
        Some("4 message + Socket.IO 2 EVENT, namespace /")
    );
    assert_eq!(
        name(r#"420["echo","hi"]"#).as_deref(),
        Some("4 message + Socket.IO 2 EVENT, namespace /, ack id 0")
    );
    assert_eq!(
        name(r#"43/admin,7["hi"]"#).as_deref(),
        Some("4 message + Socket.IO 3 ACK, namespace /admin, ack id 7")
    );
    assert_eq!(
        name(r#"451-["up",{"_placeholder":true,"num":0}]"#).as_deref(),
        Some("4 message + Socket.IO 5 BINARY_EVENT, namespace /, 1 binary attachment(s) follow")
    );
    assert!(name(r#"40{"sid":"xyz"}"#).unwrap().contains("0 CONNECT"));
}

/// Lesson 19: ordinary text is left alone — an echo of "hello", a number, an
/// event without its JSON array — and the frame's bytes are never changed.
#[test]
fn plain_text_is_not_engine_io() {
    for text in [
        "hello", "", "7", "42", "4", "0", "2x", "12", "49[]", "42hello", "451[",
    ] {
        assert_eq!(engine_io_packet(text.as_bytes()), None, "{text:?}");
    }
    // A server's unmasked text frame "2": annotated beside the bytes.
    let f = only_frame(&[0x81, 0x01, b'2']);
    let text = render_frame(&f, "frame", Style::PLAIN);
    assert!(text.contains("payload     32  \"2\""));
    assert!(text.contains("engine.io   2 ping"));
    assert_eq!(f.payload, b"2");
    // The same byte in a binary frame is not Engine.IO text.
    let f = only_frame(&[0x82, 0x01, b'2']);
    assert!(!render_frame(&f, "frame", Style::PLAIN).contains("engine.io"));
}

/// Colors appear only when asked for.
#[test]
fn plain_style_has_no_escape_codes() {
    assert_eq!(Style::PLAIN.paint(Paint::Bad, "x"), "x");
    assert_eq!(
        Style {
            color: true,
            stable: false,
        }
        .paint(Paint::Bad, "x"),
        "\x1b[31mx\x1b[0m"
    );
}
