//! ws-echo over real sockets, raw bytes only: what a bad upgrade gets back, and
//! which close code each hand-built bad frame earns on the wire.
//!
//! Run: `cargo test -p ws-echo --test wire`. Every test starts its own server on
//! 127.0.0.1 port 0 and talks to it with a plain `TcpStream`, building requests
//! and frames byte by byte, so nothing here trusts a WebSocket library.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serve::{Engine, Model, Running};
use ws_echo::Config;

/// How long any single read may wait before the test fails instead of hanging.
const DEADLINE: Duration = Duration::from_secs(5);

/// The key from RFC 6455 §1.3, and the Accept the RFC says it gives.
const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const RFC_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// The mask key the tests' "client" uses. Any 4 bytes work.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Both server models: every test here runs against each, and both must
/// answer the same bytes with the same bytes.
const MODELS: [Model; 2] = [Model::Threads, Model::EventLoop];

/// A server on a kernel-chosen loopback port, stopped when dropped.
struct Server {
    running: Running,
}

impl Server {
    fn start(model: Model, config: Config) -> Server {
        // Shown with a failing test's output: which model it was.
        eprintln!("--- ws-echo, model {model:?}");
        let running = Running::tcp("127.0.0.1:0".parse().unwrap(), move |listener, shutdown| {
            ws_echo::serve(model, listener, shutdown, config, Engine::new(2)?)
        })
        .unwrap();
        Server { running }
    }

    fn addr(&self) -> SocketAddr {
        self.running.addr()
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr()).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        stream
    }

    /// Connects and completes a valid handshake; returns the stream ready for frames.
    fn open(&self) -> TcpStream {
        let mut s = self.connect();
        s.write_all(upgrade_request("").as_bytes()).unwrap();
        let head = read_head(&mut s);
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        s
    }
}

fn upgrade_request(extra: &str) -> String {
    format!(
        "GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {RFC_KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// Reads byte by byte up to the blank line, so no frame byte is consumed.
fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            s.read(&mut byte).unwrap(),
            1,
            "EOF inside the response head"
        );
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// Reads until the server's FIN; panics on a timeout (the server must close).
fn read_to_end(s: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    match s.read_to_end(&mut all) {
        Ok(_) => all,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => panic!("RST instead of FIN"),
        Err(e) => panic!("the server did not close: {e}"),
    }
}

/// A client frame: FIN bit, RSV bits (0..8), opcode, masked with [`MASK`] or not.
fn frame(fin: bool, rsv: u8, opcode: u8, masked: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        out.extend_from_slice(&MASK);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// A normal masked, final client frame.
fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(true, 0, opcode, true, payload)
}

/// Reads one server frame: (first byte, payload). Servers never mask.
fn read_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).unwrap();
    assert_eq!(h[1] & 0x80, 0, "a server frame must not be masked");
    let len = match h[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            s.read_exact(&mut b).unwrap();
            u16::from_be_bytes(b) as usize
        }
        127 => {
            let mut b = [0u8; 8];
            s.read_exact(&mut b).unwrap();
            u64::from_be_bytes(b) as usize
        }
        n => n as usize,
    };
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).unwrap();
    (h[0], payload)
}

/// Reads the server's Close frame and returns its code, then checks TCP ends with FIN.
fn expect_close(s: &mut TcpStream) -> u16 {
    let (first, payload) = read_frame(s);
    assert_eq!(
        first, 0x88,
        "expected a final Close frame, payload {payload:?}"
    );
    assert!(payload.len() >= 2, "a Close without a code");
    assert!(
        std::str::from_utf8(&payload[2..]).is_ok(),
        "close reason is not UTF-8"
    );
    let code = u16::from_be_bytes([payload[0], payload[1]]);
    // Our reply to its Close; then the server must close TCP (FIN: read 0).
    let _ = s.write_all(&masked(0x8, &code.to_be_bytes()));
    assert_eq!(read_to_end(s), b"", "bytes after the Close frame");
    code
}

/// Lesson 6: the RFC's key gives the RFC's Accept, in an exact 101 response.
#[test]
fn valid_upgrade_gets_exact_101() {
    for model in MODELS {
        let server = Server::start(model, Config::default());
        let mut s = server.connect();
        s.write_all(upgrade_request("").as_bytes()).unwrap();
        assert_eq!(
            read_head(&mut s),
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {RFC_ACCEPT}\r\n\r\n"
            )
        );
    }
}

/// Bad upgrades: each gets its exact status line and required headers, a short
/// plain-text body, then a graceful close (FIN, not RST).
#[test]
fn bad_handshakes_get_exact_statuses() {
    for model in MODELS {
        let server = Server::start(model, Config::default());
        let ok = upgrade_request("");
        let big = upgrade_request(&format!("X-Padding: {}\r\n", "a".repeat(9000)));
        let cases: Vec<(String, &str, &[&str], &str)> = vec![
            (
                ok.replacen("GET", "POST", 1),
                "HTTP/1.1 405 Method Not Allowed",
                &["Allow: GET"],
                "method POST not allowed",
            ),
            (
                ok.replacen("HTTP/1.1", "HTTP/1.0", 1),
                "HTTP/1.1 400 Bad Request",
                &[],
                "HTTP/1.0 cannot upgrade",
            ),
            (
                ok.replacen("Host: 127.0.0.1\r\n", "", 1),
                "HTTP/1.1 400 Bad Request",
                &[],
                "missing Host",
            ),
            (
                ok.replacen(RFC_KEY, "c2hvcnQ=", 1),
                "HTTP/1.1 400 Bad Request",
                &[],
                "not base64 of 16 bytes",
            ),
            (
                ok.replacen("Upgrade: websocket\r\n", "", 1),
                "HTTP/1.1 426 Upgrade Required",
                &["Upgrade: websocket", "Sec-WebSocket-Version: 13"],
                "speaks only WebSocket",
            ),
            (
                ok.replacen("Connection: Upgrade", "Connection: keep-alive", 1),
                "HTTP/1.1 426 Upgrade Required",
                &["Upgrade: websocket", "Sec-WebSocket-Version: 13"],
                "missing Connection: Upgrade",
            ),
            (
                ok.replacen("Version: 13", "Version: 8", 1),
                "HTTP/1.1 426 Upgrade Required",
                &["Upgrade: websocket", "Sec-WebSocket-Version: 13"],
                "not supported: use 13",
            ),
            (
                "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                    .into(),
                "HTTP/1.1 400 Bad Request",
                &[],
                "socket.io is its own protocol",
            ),
            (
                big,
                "HTTP/1.1 431 Request Header Fields Too Large",
                &[],
                "request head over 8192 bytes",
            ),
            // RFC 9112 §3.2: more than one Host line is a 400, even if they agree.
            (
                upgrade_request("Host: other.example\r\n"),
                "HTTP/1.1 400 Bad Request",
                &[],
                "more than one Host",
            ),
            // RFC 6455 §11.3.1 and §11.3.5: Key and Version appear once in a request.
            (
                upgrade_request("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"),
                "HTTP/1.1 400 Bad Request",
                &[],
                "more than one Sec-WebSocket-Key",
            ),
            (
                upgrade_request("Sec-WebSocket-Version: 13\r\n"),
                "HTTP/1.1 400 Bad Request",
                &[],
                "more than one Sec-WebSocket-Version",
            ),
            // A handshake has no body: these bytes would otherwise be read as frames.
            (
                upgrade_request("Content-Length: 5\r\n") + "hello",
                "HTTP/1.1 400 Bad Request",
                &[],
                "Content-Length: 5",
            ),
            (
                upgrade_request("Transfer-Encoding: chunked\r\n") + "5\r\nhello\r\n0\r\n\r\n",
                "HTTP/1.1 400 Bad Request",
                &[],
                "Transfer-Encoding: chunked",
            ),
            // RFC 9112 §3.2.4: `*` names the server itself, only for OPTIONS.
            (
                ok.replacen("GET /chat", "GET *", 1),
                "HTTP/1.1 400 Bad Request",
                &[],
                "asterisk-form",
            ),
            // RFC 9112 §3.2.2: an absolute-form target names its own host; a Host
            // that says otherwise is a contradiction, not a choice.
            (
                ok.replacen("GET /chat", "GET http://other.example/chat", 1),
                "HTTP/1.1 400 Bad Request",
                &[],
                "other.example",
            ),
        ];
        for (request, status, headers, body) in cases {
            let mut s = server.connect();
            s.write_all(request.as_bytes()).unwrap();
            let response = String::from_utf8(read_to_end(&mut s)).unwrap();
            let (head, text) = response.split_once("\r\n\r\n").unwrap();
            let mut lines = head.lines();
            assert_eq!(lines.next(), Some(status), "{request:.40}");
            let lines: Vec<&str> = lines.collect();
            for h in headers.iter().chain(&[
                "Content-Type: text/plain; charset=utf-8",
                "Connection: close",
            ]) {
                assert!(lines.contains(h), "{status}: no {h:?} in {lines:?}");
            }
            assert!(lines.contains(&format!("Content-Length: {}", text.len()).as_str()));
            assert!(text.contains(body), "{status}: body {text:?}");
        }
    }
}

/// RFC 9112 §3.2.2: a target in absolute-form naming this very Host is fine; its
/// path is what counts, for the WebSocket and for the page alike.
#[test]
fn absolute_form_to_the_same_host_is_accepted() {
    for model in MODELS {
        let server = Server::start(model, Config::default());
        let mut s = server.connect();
        let request = upgrade_request("").replacen("GET /chat", "GET http://127.0.0.1/chat", 1);
        s.write_all(request.as_bytes()).unwrap();
        let head = read_head(&mut s);
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");

        let mut s = server.connect();
        s.write_all(b"GET http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        let response = String::from_utf8(read_to_end(&mut s)).unwrap();
        assert!(
            response.starts_with("HTTP/1.1 200 OK\r\n"),
            "{response:.80}"
        );
    }
}

/// Lesson 16: with --allow-origin, another Origin gets 403 and a listed one upgrades.
#[test]
fn origin_not_allowed_is_403() {
    for model in MODELS {
        let config = Config {
            allow_origins: vec!["http://127.0.0.1:8080".into()],
            ..Config::default()
        };
        let server = Server::start(model, config);
        let mut s = server.connect();
        s.write_all(upgrade_request("Origin: http://evil.example\r\n").as_bytes())
            .unwrap();
        let response = String::from_utf8(read_to_end(&mut s)).unwrap();
        assert!(
            response.starts_with("HTTP/1.1 403 Forbidden\r\n"),
            "{response}"
        );
        assert!(
            response.contains("\r\n\r\nOrigin http://evil.example is not allowed: "),
            "{response}"
        );

        let mut s = server.connect();
        s.write_all(upgrade_request("Origin: http://127.0.0.1:8080\r\n").as_bytes())
            .unwrap();
        assert!(read_head(&mut s).starts_with("HTTP/1.1 101 "));
    }
}

/// Issue 17: every malformed Upgrade of the one table gets exactly its status
/// and reason, from both models (push, chat and bridge run the same table).
#[test]
fn malformed_upgrades_get_the_table_answers() {
    for model in MODELS {
        let server = Server::start(model, Config::default());
        for case in websocket::malformed::cases(&server.addr().to_string()) {
            let mut s = server.connect();
            s.write_all(case.request.as_bytes()).unwrap();
            let response = read_to_end(&mut s);
            assert_eq!(websocket::malformed::check_answer(&response, &case), Ok(()));
        }
    }
}

/// Lesson 8: the page and the WebSocket share one port; GET / is the page.
#[test]
fn plain_get_serves_the_page() {
    for model in MODELS {
        let server = Server::start(model, Config::default());
        let mut s = server.connect();
        s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        let response = String::from_utf8(read_to_end(&mut s)).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(head.contains("Content-Type: text/html; charset=utf-8"));
        assert!(head.contains(&format!("Content-Length: {}", ws_echo::PAGE.len())));
        assert_eq!(body, ws_echo::PAGE);
    }
}

/// Lesson 3: a Text message comes back as one Text frame, a Binary one as Binary,
/// unmasked (lesson 10: only clients mask).
#[test]
fn text_and_binary_echo() {
    for model in MODELS {
        let server = Server::start(model, Config::default());
        let mut s = server.open();
        s.write_all(&masked(0x1, "héllo".as_bytes())).unwrap();
        assert_eq!(read_frame(&mut s), (0x81, "héllo".as_bytes().to_vec()));
        let bytes: Vec<u8> = (0..=255).collect();
        s.write_all(&masked(0x2, &bytes)).unwrap();
        assert_eq!(read_frame(&mut s), (0x82, bytes));
    }
}

/// The first frame may arrive in the same segment as the request: the bytes read
/// past the request are handed to tungstenite, not lost.
#[test]
fn frame_sent_with_the_request_is_echoed() {
    for model in MODELS {
        let server = Server::start(model, Config::default());
        let mut s = server.connect();
        let mut bytes = upgrade_request("").into_bytes();
        bytes.extend_from_slice(&masked(0x1, b"early"));
        s.write_all(&bytes).unwrap();
        assert!(read_head(&mut s).starts_with("HTTP/1.1 101 "));
        assert_eq!(read_frame(&mut s), (0x81, b"early".to_vec()));
    }
}

/// Each protocol violation earns its close code on the wire before TCP closes.
#[test]
fn violations_get_their_close_codes() {
    for model in MODELS {
        let server = Server::start(model, Config::default());
        let invalid_utf8: &[u8] = &[b'a', 0xff, b'b'];
        let cases: Vec<(&str, Vec<u8>, u16)> = vec![
            // Lesson 10: a client frame without a mask.
            ("unmasked frame", frame(true, 0, 0x1, false, b"hi"), 1002),
            (
                "RSV1 set, nothing negotiated",
                frame(true, 0b100, 0x1, true, b"hi"),
                1002,
            ),
            ("reserved data opcode 3", masked(0x3, b"hi"), 1002),
            ("reserved control opcode 11", masked(0xb, b""), 1002),
            ("ping of 126 bytes", masked(0x9, &[0u8; 126]), 1002),
            ("fragmented ping", frame(false, 0, 0x9, true, b"p"), 1002),
            (
                "continuation with nothing to continue",
                masked(0x0, b"x"),
                1002,
            ),
            ("close with a 1-byte payload", masked(0x8, &[3]), 1002),
            ("invalid UTF-8 in text", masked(0x1, invalid_utf8), 1007),
        ];
        for (what, bytes, code) in cases {
            let mut s = server.open();
            s.write_all(&bytes).unwrap();
            assert_eq!(expect_close(&mut s), code, "{what}");
        }
    }
}

/// A header claiming 2^63 − 1 bytes is refused with 1009 from the header alone:
/// the server neither waits for nor allocates the payload.
#[test]
fn huge_length_header_is_1009_without_allocating() {
    for model in MODELS {
        let server = Server::start(model, Config::default());
        let mut s = server.open();
        let mut header = vec![0x82, 0x80 | 127];
        header.extend_from_slice(&(i64::MAX as u64).to_be_bytes());
        header.extend_from_slice(&MASK);
        s.write_all(&header).unwrap();
        assert_eq!(expect_close(&mut s), 1009);
    }
}

/// --max-message-size counts a fragmented message as a whole: 1009.
#[test]
fn fragmented_message_over_the_limit_is_1009() {
    for model in MODELS {
        let server = Server::start(
            model,
            Config {
                max_message_size: 1000,
                ..Config::default()
            },
        );
        let mut s = server.open();
        s.write_all(&frame(false, 0, 0x2, true, &[7; 600])).unwrap();
        s.write_all(&frame(true, 0, 0x0, true, &[7; 600])).unwrap();
        assert_eq!(expect_close(&mut s), 1009);
    }
}

/// §5.4: a control frame may arrive between fragments; its Pong goes out at once,
/// before the fragmented message is complete.
#[test]
fn ping_inside_fragmented_message_is_answered_at_once() {
    for model in MODELS {
        let server = Server::start(model, Config::default());
        let mut s = server.open();
        s.write_all(&frame(false, 0, 0x1, true, b"hel")).unwrap();
        s.write_all(&masked(0x9, b"are you there")).unwrap();
        assert_eq!(read_frame(&mut s), (0x8a, b"are you there".to_vec()));
        s.write_all(&frame(true, 0, 0x0, true, b"lo")).unwrap();
        assert_eq!(read_frame(&mut s), (0x81, b"hello".to_vec()));
    }
}

/// Lesson 11: a Close is answered with the same code, anything sent after it is
/// ignored, and then the server closes TCP (the client reads FIN).
#[test]
fn close_handshake_then_server_closes_tcp() {
    for model in MODELS {
        let server = Server::start(model, Config::default());
        let mut s = server.open();
        let mut bytes = masked(0x8, &[0x03, 0xe8, b'b', b'y', b'e']);
        bytes.extend_from_slice(&masked(0x1, b"after close"));
        s.write_all(&bytes).unwrap();
        assert_eq!(
            read_frame(&mut s),
            (0x88, vec![0x03, 0xe8, b'b', b'y', b'e'])
        );
        assert_eq!(
            read_to_end(&mut s),
            b"",
            "data after Close must not be echoed"
        );
    }
}

/// A connection that never finishes its request does not stop other clients.
#[test]
fn silent_client_does_not_block_others() {
    for model in MODELS {
        let server = Server::start(model, Config::default());
        let mut idle = server.connect();
        idle.write_all(b"GET / HT").unwrap();
        let mut s = server.open();
        s.write_all(&masked(0x1, b"still here")).unwrap();
        assert_eq!(read_frame(&mut s), (0x81, b"still here".to_vec()));
    }
}

/// The handshake deadline: a client that never finishes its request gets
/// `408 Request Timeout` and a FIN, instead of holding a thread forever.
#[test]
fn unfinished_request_times_out_with_408() {
    for model in MODELS {
        let server = Server::start(
            model,
            Config {
                handshake_timeout: Duration::from_millis(200),
                ..Config::default()
            },
        );
        let mut s = server.connect();
        s.write_all(b"GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .unwrap();
        let response = String::from_utf8(read_to_end(&mut s)).unwrap();
        assert!(
            response.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
            "{response}"
        );
        assert!(
            response.ends_with("\r\n\r\nno complete request within 200ms\n"),
            "{response}"
        );
    }
}

/// --idle-timeout: a WebSocket that stays silent is closed with 1001 (going away),
/// then TCP is closed, so an idle client cannot hold a thread forever.
#[test]
fn idle_websocket_is_closed_with_1001() {
    for model in MODELS {
        let server = Server::start(
            model,
            Config {
                limits: serve::Limits {
                    idle_timeout: Some(Duration::from_millis(200)),
                    ..serve::Limits::default()
                },
                ..Config::default()
            },
        );
        let mut s = server.open();
        assert_eq!(expect_close(&mut s), 1001);
    }
}
