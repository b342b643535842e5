//! The wire view: the bytes a Tap recorded, taken apart and explained.
//!
//! Everything here is a pure function over bytes — no sockets — so each lesson is
//! tested against the exact frames printed in RFC 6455 §5.7. What it shows:
//!
//! - the WebSocket opening handshake: the HTTP request and response as text, with
//!   their sizes, and the `Sec-WebSocket-Accept` derivation (SHA-1 of the key plus
//!   a fixed GUID, then base64), recomputed and checked (lesson 6);
//! - each WebSocket frame: the header bytes in hex and every field in them — FIN,
//!   RSV1–3, the opcode by name, MASK, the payload length and which of the three
//!   length encodings carried it — then the masking key and the unmasking, byte by
//!   byte: masked ⊕ key = plain (lessons 9 and 10);
//! - TCP: the bytes of each `read()`, with its boundary, to show that the stream
//!   keeps none of the sender's (lesson 3); UDP: each datagram, whole.
//!
//! Frame headers are parsed by tungstenite's own [`FrameHeader::parse`]; this file
//! only lays the parsed fields out. It is not a second frame codec.
//!
//! Try: `socklab send ws://127.0.0.1:8080/ hello --wire`.

use std::fmt::Write as _;
use std::io::Cursor;
use std::time::Duration;

use http1::{Headers, Parsed};
use lifecycle::Direction;
use lifecycle::narrate::plural;
use lifecycle::tap::Record;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::{Frame, FrameHeader, Utf8Bytes};

use crate::style::{Paint, Style};

/// The GUID RFC 6455 §1.3 appends to the client's key before hashing. It is the
/// same for every server on earth: the Accept proves the server read this key and
/// speaks WebSocket, not that anything is secret.
pub const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// How many payload bytes a frame view shows before it says "… N more".
pub const SHOWN_PAYLOAD: usize = 16;

/// Bytes as lowercase hex pairs separated by spaces: `81 85 37 fa`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Bytes as a quoted string: printable ASCII as is, the rest escaped (`\r`, `\x00`).
pub fn quoted(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes {
        out.extend(std::ascii::escape_default(b).map(char::from));
    }
    out.push('"');
    out
}

/// [`quoted`], cut to `max` bytes with a note of how many were left out.
pub fn quoted_short(bytes: &[u8], max: usize) -> String {
    if bytes.len() <= max {
        quoted(bytes)
    } else {
        format!(
            "{}… ({} more bytes)",
            quoted(&bytes[..max]),
            bytes.len() - max
        )
    }
}

// ---------------------------------------------------------------------------
// The opening handshake
// ---------------------------------------------------------------------------

/// How the server computes `Sec-WebSocket-Accept` from the client's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptDerivation {
    /// The client's `Sec-WebSocket-Key` (16 random bytes, base64).
    pub key: String,
    /// key + [`WS_GUID`]: the text that is hashed.
    pub concatenated: String,
    /// SHA-1 of that text: 20 bytes.
    pub sha1: Vec<u8>,
    /// Those 20 bytes in base64: the value of `Sec-WebSocket-Accept`.
    pub accept: String,
}

// ANCHOR: derive_accept
/// The Accept for `key`, with the steps shown. The value comes from tungstenite's
/// `derive_accept_key` (the code a real server runs); the SHA-1 bytes are that
/// value decoded back from base64, so the two cannot disagree.
pub fn derive_accept(key: &str) -> AcceptDerivation {
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let sha1 = data_encoding::BASE64
        .decode(accept.as_bytes())
        .unwrap_or_default();
    AcceptDerivation {
        key: key.to_string(),
        concatenated: format!("{key}{WS_GUID}"),
        sha1,
        accept,
    }
}
// ANCHOR_END: derive_accept

/// One HTTP request or response head, as the wire view shows it. The parsing is
/// the `http1` crate's, the same code the servers run, so the view cannot read a
/// head differently from the server that answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpHead {
    /// The head exactly as sent (lossy UTF-8), `\r\n` line ends included.
    pub text: String,
    /// Its size in bytes on the wire.
    pub bytes: usize,
    /// `GET /chat HTTP/1.1` or `HTTP/1.1 101 Switching Protocols`.
    pub start_line: String,
    /// Every header line, in order, duplicates kept.
    pub headers: Headers,
}

impl HttpHead {
    /// The request head at the start of `bytes`, if a complete, valid one is there.
    pub fn request(bytes: &[u8]) -> Option<HttpHead> {
        match http1::parse_request(bytes) {
            Ok(Parsed::Complete(head)) => Some(HttpHead::new(
                bytes,
                head.head_len,
                head.request_line(),
                head.headers,
            )),
            _ => None,
        }
    }

    /// The response head at the start of `bytes`, if a complete, valid one is there.
    pub fn response(bytes: &[u8]) -> Option<HttpHead> {
        match http1::parse_response(bytes) {
            Ok(Parsed::Complete(head)) => Some(HttpHead::new(
                bytes,
                head.head_len,
                head.status_line(),
                head.headers,
            )),
            _ => None,
        }
    }

    fn new(bytes: &[u8], len: usize, start_line: String, headers: Headers) -> HttpHead {
        HttpHead {
            text: String::from_utf8_lossy(&bytes[..len]).into_owned(),
            bytes: len,
            start_line,
            headers,
        }
    }

    /// The value of header `name` (case-insensitive, as HTTP says).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }
}

/// Both halves of the opening handshake, and the Accept check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeView {
    /// The client's `GET … Upgrade: websocket` request.
    pub request: HttpHead,
    /// The server's answer (`101 Switching Protocols` when it agrees).
    pub response: HttpHead,
    /// The Accept recomputed from the request's key (None without a key).
    pub derivation: Option<AcceptDerivation>,
    /// Whether the response's `Sec-WebSocket-Accept` equals the recomputed one.
    pub accept_ok: bool,
}

/// Takes apart a handshake: `request` and `response` start with the HTTP heads.
/// `None` unless both heads are complete and valid HTTP.
pub fn handshake_view(request: &[u8], response: &[u8]) -> Option<HandshakeView> {
    Some(view_heads(
        HttpHead::request(request)?,
        HttpHead::response(response)?,
    ))
}

/// The handshake made of two parsed heads, the Accept recomputed and compared.
fn view_heads(request: HttpHead, response: HttpHead) -> HandshakeView {
    let derivation = request.header("Sec-WebSocket-Key").map(derive_accept);
    let accept_ok = match (&derivation, response.header("Sec-WebSocket-Accept")) {
        (Some(d), Some(got)) => d.accept == got,
        _ => false,
    };
    HandshakeView {
        request,
        response,
        derivation,
        accept_ok,
    }
}

/// The Accept derivation, step by step, as lines of text.
pub fn render_accept(d: &AcceptDerivation, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  Sec-WebSocket-Key     {}",
        style.paint(Paint::Key, &d.key)
    );
    let _ = writeln!(out, "  + GUID (RFC 6455)     {WS_GUID}");
    let _ = writeln!(out, "  SHA-1 of key+GUID     {}", hex(&d.sha1));
    let _ = writeln!(
        out,
        "  base64 of those 20 B  {}",
        style.paint(Paint::Payload, &d.accept)
    );
    out
}

/// The handshake as the terminal shows it: both heads, sizes, the Accept check.
pub fn render_handshake(h: &HandshakeView, style: Style) -> String {
    let mut out = String::new();
    let block = |out: &mut String, title: &str, head: &HttpHead, paint: Paint| {
        let _ = writeln!(
            out,
            "{} ({})",
            style.paint(Paint::Heading, title),
            plural(head.bytes, "byte")
        );
        for line in head.text.split("\r\n").filter(|l| !l.is_empty()) {
            let _ = writeln!(out, "  {}", style.paint(paint, format!("{line}\\r\\n")));
        }
        let _ = writeln!(out, "  {}", style.paint(Paint::Dim, "\\r\\n (end of head)"));
    };
    block(
        &mut out,
        "client → server: HTTP Upgrade request",
        &h.request,
        Paint::Sent,
    );
    block(
        &mut out,
        "server → client: HTTP response",
        &h.response,
        Paint::Received,
    );
    if let Some(d) = &h.derivation {
        let _ = writeln!(out, "{}", style.paint(Paint::Heading, "Accept derivation"));
        out.push_str(&render_accept(d, style));
        let verdict = if h.accept_ok {
            style.paint(Paint::Good, "matches the server's Sec-WebSocket-Accept")
        } else {
            style.paint(
                Paint::Bad,
                "does NOT match the server's Sec-WebSocket-Accept",
            )
        };
        let _ = writeln!(out, "  {verdict}");
    }
    out
}

// ---------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------

/// How a frame's payload length was written (RFC 6455 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum LengthEncoding {
    /// 0–125: the length fits in the 7 low bits of byte 2.
    Bits7,
    /// 126–65,535: byte 2 says 126, the next 2 bytes hold the length.
    Bits16,
    /// 65,536 and up: byte 2 says 127, the next 8 bytes hold the length.
    Bits64,
}

impl LengthEncoding {
    /// Which encoding the 7-bit length field `field` selects.
    pub fn from_field(field: u8) -> LengthEncoding {
        match field & 0x7F {
            126 => LengthEncoding::Bits16,
            127 => LengthEncoding::Bits64,
            _ => LengthEncoding::Bits7,
        }
    }

    /// A description for the wire view.
    pub fn describe(self) -> &'static str {
        match self {
            LengthEncoding::Bits7 => "7-bit: in byte 2 itself",
            LengthEncoding::Bits16 => "16-bit: byte 2 says 126, the next 2 bytes hold it",
            LengthEncoding::Bits64 => "64-bit: byte 2 says 127, the next 8 bytes hold it",
        }
    }
}

/// One WebSocket frame, every field named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameView {
    /// Where the frame starts in its direction's byte stream (after the handshake).
    pub offset: usize,
    /// The header bytes exactly as on the wire (2 to 14 bytes).
    pub header: Vec<u8>,
    /// FIN: this is the last frame of its message.
    pub fin: bool,
    /// RSV1, RSV2, RSV3: reserved for extensions, 0 without one.
    pub rsv: [bool; 3],
    /// The opcode: what the payload is.
    pub opcode: OpCode,
    /// The masking key, present exactly when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// The payload length the header announces.
    pub payload_len: u64,
    /// Which of the three length encodings carried it.
    pub length_encoding: LengthEncoding,
    /// The payload as on the wire (masked, if there is a key).
    pub wire_payload: Vec<u8>,
    /// The payload after unmasking: what the application sees.
    pub payload: Vec<u8>,
}

impl FrameView {
    /// Header plus payload: the frame's size on the wire.
    pub fn wire_len(&self) -> usize {
        self.header.len() + self.wire_payload.len()
    }

    /// For a close frame with a body, its status code (the first two payload bytes).
    pub fn close_code(&self) -> Option<u16> {
        match (self.opcode, self.payload.as_slice()) {
            (OpCode::Control(Control::Close), [hi, lo, ..]) => Some(u16::from_be_bytes([*hi, *lo])),
            _ => None,
        }
    }
}

/// The opcode's number and RFC name: `0x1 TEXT`.
pub fn opcode_name(opcode: OpCode) -> String {
    format!("0x{:x} {opcode}", u8::from(opcode))
}

/// What a close status code means (RFC 6455 §7.4.1).
pub fn close_code_name(code: u16) -> &'static str {
    match code {
        1000 => "normal closure",
        1001 => "going away",
        1002 => "protocol error",
        1003 => "unsupported data",
        1005 => "no status code",
        1006 => "closed without a close frame",
        1007 => "invalid payload (e.g. bad UTF-8)",
        1008 => "policy violation",
        1009 => "message too big",
        1010 => "extension required",
        1011 => "server error",
        _ => "other",
    }
}

/// The frames found in a run of bytes, and what was left over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frames {
    /// Every complete frame, in order.
    pub frames: Vec<FrameView>,
    /// Bytes after the last complete frame: a frame still arriving. Expected,
    /// not an error — the rest is in a later read.
    pub incomplete: usize,
    /// Why parsing stopped early, if the bytes are not WebSocket frames.
    pub error: Option<String>,
}

/// Undoes (or applies — it is the same XOR) a masking key: byte i is XORed with
/// key byte i mod 4 (RFC 6455 §5.3).
pub fn unmask(bytes: &[u8], key: [u8; 4]) -> Vec<u8> {
    bytes
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ key[i % 4])
        .collect()
}

// ANCHOR: parse_frames
/// Splits `bytes` into frames, reading each header with tungstenite's
/// [`FrameHeader::parse`], which also says how long the payload is.
pub fn parse_frames(bytes: &[u8]) -> Frames {
    let mut frames = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        let mut cursor = Cursor::new(&bytes[offset..]);
        let (header, payload_len) = match FrameHeader::parse(&mut cursor) {
            Ok(Some(parsed)) => parsed,
            // Not enough bytes for a whole header yet.
            Ok(None) => break,
            Err(e) => {
                return Frames {
                    frames,
                    incomplete: bytes.len() - offset,
                    error: Some(e.to_string()),
                };
            }
        };
        // The cursor stopped right after the header: that is its length.
        let header_len = cursor.position() as usize;
        let start = offset + header_len;
        let Some(end) = usize::try_from(payload_len)
            .ok()
            .and_then(|n| start.checked_add(n))
            .filter(|&end| end <= bytes.len())
        else {
            break; // the payload is still arriving
        };
        let wire_payload = bytes[start..end].to_vec();
        let payload = match header.mask {
            Some(key) => unmask(&wire_payload, key),
            None => wire_payload.clone(),
        };
        frames.push(FrameView {
            offset,
            header: bytes[offset..start].to_vec(),
            fin: header.is_final,
            rsv: [header.rsv1, header.rsv2, header.rsv3],
            opcode: header.opcode,
            mask: header.mask,
            payload_len,
            length_encoding: LengthEncoding::from_field(bytes[offset + 1]),
            wire_payload,
            payload,
        });
        offset = end;
    }
    Frames {
        frames,
        incomplete: bytes.len() - offset,
        error: None,
    }
}
// ANCHOR_END: parse_frames

// ANCHOR: data_frame
/// The bytes of one data frame carrying `payload` whole (FIN set): text if
/// `text`, else binary, masked with `mask` if given. Built with tungstenite's
/// own `Frame`, so these are exactly the bytes tungstenite would write — except
/// that its client role always masks with a random key, and a lesson sometimes
/// needs no mask, or a key known in advance.
pub fn data_frame(payload: &[u8], text: bool, mask: Option<[u8; 4]>) -> Vec<u8> {
    let opcode = OpCode::Data(if text { Data::Text } else { Data::Binary });
    let mut frame = Frame::message(payload.to_vec(), opcode, true);
    frame.header_mut().mask = mask;
    let mut bytes = Vec::with_capacity(frame.len());
    // Writing into a Vec cannot fail.
    let _ = frame.format(&mut bytes);
    bytes
}
// ANCHOR_END: data_frame

/// The bytes of a close frame with status `code` and no reason, masked with
/// `mask` if given: what tungstenite's `close(Some(..))` writes, with a key
/// known in advance (`socklab send --seed`).
pub fn close_frame(code: u16, mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut frame = Frame::close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from_static(""),
    }));
    frame.header_mut().mask = mask;
    let mut bytes = Vec::with_capacity(frame.len());
    // Writing into a Vec cannot fail.
    let _ = frame.format(&mut bytes);
    bytes
}

/// How many bytes of `frame` are header (2 to 14), if it starts with a whole one.
pub fn header_len(frame: &[u8]) -> Option<usize> {
    let mut cursor = Cursor::new(frame);
    match FrameHeader::parse(&mut cursor) {
        Ok(Some(_)) => Some(cursor.position() as usize),
        _ => None,
    }
}

fn bit(b: bool) -> u8 {
    u8::from(b)
}

/// One frame, field by field, ending with the unmasking of its first bytes.
pub fn render_frame(f: &FrameView, title: &str, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}: {} header + {} payload)",
        style.paint(Paint::Heading, title),
        plural(f.wire_len(), "byte"),
        f.header.len(),
        f.wire_payload.len()
    );
    let _ = writeln!(
        out,
        "  header      {}",
        style.paint(Paint::Header, hex(&f.header))
    );
    let _ = writeln!(
        out,
        "  byte 1 {:08b}  FIN={} RSV1={} RSV2={} RSV3={} opcode={}{}",
        f.header[0],
        bit(f.fin),
        bit(f.rsv[0]),
        bit(f.rsv[1]),
        bit(f.rsv[2]),
        opcode_name(f.opcode),
        if f.fin {
            ""
        } else {
            "  (more frames of this message follow)"
        }
    );
    let _ = writeln!(
        out,
        "  byte 2 {:08b}  MASK={} payload length={} ({})",
        f.header[1],
        bit(f.mask.is_some()),
        f.payload_len,
        f.length_encoding.describe()
    );
    match f.mask {
        Some(key) => {
            let _ = writeln!(
                out,
                "  masking key {}  (client → server frames must be masked)",
                style.paint(Paint::Key, hex(&key))
            );
            let n = f.wire_payload.len().min(SHOWN_PAYLOAD);
            let keys: Vec<u8> = (0..n).map(|i| key[i % 4]).collect();
            let more = if f.wire_payload.len() > n {
                format!(" … {} more", f.wire_payload.len() - n)
            } else {
                String::new()
            };
            let _ = writeln!(out, "  masked      {}{more}", hex(&f.wire_payload[..n]));
            let _ = writeln!(out, "  ⊕ key       {}", style.paint(Paint::Key, hex(&keys)));
            let _ = writeln!(
                out,
                "  = plain     {}  {}",
                style.paint(Paint::Payload, hex(&f.payload[..n])),
                quoted_short(&f.payload, SHOWN_PAYLOAD)
            );
        }
        None => {
            let n = f.payload.len().min(SHOWN_PAYLOAD);
            // An unmasked client frame is what `send --unmasked` sends on purpose.
            let note = if title.starts_with("client") {
                "NOT masked: a client must mask, so a server refuses this frame (RFC 6455 §5.1)"
            } else {
                "not masked: server → client frames never are"
            };
            let _ = writeln!(
                out,
                "  payload     {}  {}  ({note})",
                style.paint(Paint::Payload, hex(&f.payload[..n])),
                quoted_short(&f.payload, SHOWN_PAYLOAD)
            );
        }
    }
    // Text messages only: Engine.IO packets over WebSocket are text frames.
    if f.opcode == OpCode::Data(tungstenite::protocol::frame::coding::Data::Text) {
        if let Some(packet) = engine_io_packet(&f.payload) {
            let _ = writeln!(out, "  engine.io   {}", style.paint(Paint::Dim, packet));
        }
    }
    if let Some(code) = f.close_code() {
        let _ = writeln!(
            out,
            "  close code  {code} ({}), reason {}",
            close_code_name(code),
            quoted(&f.payload[2..])
        );
    }
    out
}

// ---------------------------------------------------------------------------
// Engine.IO and Socket.IO packets (lesson 19)
// ---------------------------------------------------------------------------

// ANCHOR: engine_io
/// What a text message means if it is an Engine.IO packet — the protocol
/// socket.io runs over WebSocket or long polling — or `None` when it does not
/// have that shape. The first character is the Engine.IO packet type; inside a
/// `4` (message) the next one is the Socket.IO packet type, then an optional
/// namespace (`/admin,`), an optional ack id (digits) and JSON. Only a guess
/// from the bytes: an echo server that is sent `"2"` sends back something that
/// reads as a ping. The bytes themselves are never changed.
pub fn engine_io_packet(text: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(text).ok()?;
    let (kind, rest) = text.split_at_checked(1)?;
    let what = match (kind, rest) {
        ("0", r) if r.starts_with('{') => {
            "open: the session id (sid), the upgrades and the heartbeat timing"
        }
        ("1", "") => "close: this Engine.IO session ends",
        ("2", "") => "ping: are you there? (socket.io's own heartbeat; the answer is pong 3)",
        ("2", "probe") => "ping probe: is this new transport working? (the upgrade's first step)",
        ("3", "") => "pong: the answer to ping 2",
        ("3", "probe") => "pong probe: the new transport works",
        ("4", r) => return socket_io_packet(r).map(|sio| format!("4 message + Socket.IO {sio}")),
        ("5", "") => "upgrade: from now on, this transport carries the session",
        ("6", "") => "noop: sent over the old transport to end its pending poll",
        _ => return None,
    };
    Some(format!("{kind} {what}"))
}

/// The Socket.IO packet inside an Engine.IO message: `2["echo","hi"]` is
/// `2 EVENT`, `30["hi"]` is `3 ACK (id 0)`. `None` unless the whole text has
/// that shape.
fn socket_io_packet(text: &str) -> Option<String> {
    let (kind, mut rest) = text.split_at_checked(1)?;
    let (name, needs) = match kind {
        "0" => ("CONNECT: join a namespace", None),
        "1" => ("DISCONNECT: leave a namespace", None),
        "2" => ("EVENT", Some('[')),
        "3" => ("ACK", Some('[')),
        "4" => ("CONNECT_ERROR", Some('{')),
        "5" => ("BINARY_EVENT", Some('[')),
        "6" => ("BINARY_ACK", Some('[')),
        _ => return None,
    };
    // Binary packets first say how many binary attachments follow: `51-[…]`.
    let mut attachments = "";
    if matches!(kind, "5" | "6") {
        (attachments, rest) = rest.split_once('-')?;
        if attachments.is_empty() || !attachments.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    let mut namespace = "/";
    if rest.starts_with('/') {
        (namespace, rest) = rest.split_once(',').unwrap_or((rest, ""));
    }
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let (ack_id, json) = rest.split_at(digits);
    match (needs, json.chars().next()) {
        (Some(open), Some(first)) if first == open => {}
        (None, None | Some('{')) => {}
        _ => return None,
    }
    let mut out = format!("{kind} {name}, namespace {namespace}");
    if !ack_id.is_empty() {
        out.push_str(&format!(", ack id {ack_id}"));
    }
    if !attachments.is_empty() {
        out.push_str(&format!(", {attachments} binary attachment(s) follow"));
    }
    Some(out)
}
// ANCHOR_END: engine_io

// ---------------------------------------------------------------------------
// Recorded conversations
// ---------------------------------------------------------------------------

/// The bytes one direction of a Tap carried, concatenated, remembering where each
/// system call's bytes ended and when.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flow {
    /// Every byte, in order.
    pub bytes: Vec<u8>,
    /// For each call: the offset just past its last byte, and its time.
    pub calls: Vec<(usize, Duration)>,
}

impl Flow {
    /// The records going `dir`, joined. 0-byte records (end of stream) are kept as
    /// calls, so a FIN has a time.
    pub fn from_records(records: &[Record], dir: Direction) -> Flow {
        let mut flow = Flow::default();
        for r in records.iter().filter(|r| r.dir == dir) {
            flow.bytes.extend_from_slice(&r.bytes);
            flow.calls.push((flow.bytes.len(), r.at));
        }
        flow
    }

    /// Which call (0-based) delivered the byte at `offset`, and when.
    pub fn call_for(&self, offset: usize) -> Option<(usize, Duration)> {
        self.calls
            .iter()
            .enumerate()
            .find(|(_, (end, _))| *end > offset)
            .map(|(i, (_, at))| (i, *at))
    }
}

/// A WebSocket conversation recovered from a Tap's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsConversation {
    /// The opening handshake, if both heads are complete.
    pub handshake: Option<HandshakeView>,
    /// Frames the client sent (after its request head).
    pub client: Frames,
    /// Frames the server sent (after its response head).
    pub server: Frames,
    /// The client's bytes.
    pub sent: Flow,
    /// The server's bytes.
    pub received: Flow,
    /// Size of the request head (frames start after it).
    pub request_len: usize,
    /// Size of the response head.
    pub response_len: usize,
}

/// Splits a WebSocket client's records into handshake and frames, both ways.
pub fn ws_conversation(records: &[Record]) -> WsConversation {
    let sent = Flow::from_records(records, Direction::Sent);
    let received = Flow::from_records(records, Direction::Received);
    let request = HttpHead::request(&sent.bytes);
    let response = HttpHead::response(&received.bytes);
    // Frames start right after each head; without one, every byte is taken for
    // frames (and the view says what did not parse).
    let request_len = request.as_ref().map_or(0, |h| h.bytes);
    let response_len = response.as_ref().map_or(0, |h| h.bytes);
    let handshake = request
        .zip(response)
        .map(|(req, resp)| view_heads(req, resp));
    WsConversation {
        handshake,
        client: parse_frames(&sent.bytes[request_len..]),
        server: parse_frames(&received.bytes[response_len..]),
        sent,
        received,
        request_len,
        response_len,
    }
}

/// The whole WebSocket conversation: handshake, then every frame in time order,
/// each saying which `write()`/`read()` carried it.
pub fn render_ws(records: &[Record], style: Style) -> String {
    let conv = ws_conversation(records);
    let mut out = String::new();
    if let Some(h) = &conv.handshake {
        out.push_str(&render_handshake(h, style));
    }
    // (time, direction, index): merge the two directions by when the frame's last
    // byte passed through the tap.
    let mut timeline = Vec::new();
    for (i, f) in conv.client.frames.iter().enumerate() {
        let end = conv.request_len + f.offset + f.wire_len() - 1;
        if let Some((call, at)) = conv.sent.call_for(end) {
            timeline.push((at, Direction::Sent, i, call));
        }
    }
    for (i, f) in conv.server.frames.iter().enumerate() {
        let end = conv.response_len + f.offset + f.wire_len() - 1;
        if let Some((call, at)) = conv.received.call_for(end) {
            timeline.push((at, Direction::Received, i, call));
        }
    }
    timeline.sort_by_key(|(at, _, _, _)| *at);
    for (at, dir, i, call) in timeline {
        let (frame, title) = match dir {
            Direction::Sent => (
                &conv.client.frames[i],
                format!(
                    "client → server  frame, in write() #{} at {:.3} ms",
                    call + 1,
                    at.as_secs_f64() * 1e3
                ),
            ),
            Direction::Received => (
                &conv.server.frames[i],
                format!(
                    "server → client  frame, in read() #{} at {:.3} ms",
                    call + 1,
                    at.as_secs_f64() * 1e3
                ),
            ),
        };
        out.push_str(&render_frame(frame, &title, style));
    }
    let fin = records
        .iter()
        .find(|r| r.dir == Direction::Received && r.bytes.is_empty());
    if let Some(r) = fin {
        let _ = writeln!(
            out,
            "{} at {:.3} ms: the server sent FIN",
            style.paint(Paint::Heading, "read() = 0"),
            r.at.as_secs_f64() * 1e3
        );
    }
    out
}

/// A TCP conversation: each `write()` and `read()` with its exact bytes. The
/// boundaries shown are the system calls'; the stream itself has none.
pub fn render_stream(records: &[Record], style: Style) -> String {
    render_calls(records, style, ("write()", "read()"), true)
}

/// A UDP conversation: each datagram sent and received, whole.
pub fn render_datagrams(records: &[Record], style: Style) -> String {
    render_calls(
        records,
        style,
        ("datagram sent", "datagram received"),
        false,
    )
}

/// One line per record. `stream`: a 0-byte read is the end of a TCP stream (on
/// UDP it is an empty datagram, shown as such).
fn render_calls(
    records: &[Record],
    style: Style,
    (sent, received): (&str, &str),
    stream: bool,
) -> String {
    let mut out = String::new();
    let (mut n_sent, mut n_received) = (0, 0);
    for r in records {
        let (name, n, paint) = match r.dir {
            Direction::Sent => {
                n_sent += 1;
                (sent, n_sent, Paint::Sent)
            }
            Direction::Received => {
                n_received += 1;
                (received, n_received, Paint::Received)
            }
        };
        let what = if stream && r.bytes.is_empty() && r.dir == Direction::Received {
            "end of stream: the peer sent FIN".to_string()
        } else {
            format!("|{}|", quoted_short(&r.bytes, 64))
        };
        let _ = writeln!(
            out,
            "{:>9.3} ms  {} #{n:<3} {:>6} bytes  {}",
            r.at.as_secs_f64() * 1e3,
            style.paint(paint, format!("{name:<17}")),
            r.bytes.len(),
            what
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lessons 9 and 10: the frame builder gives RFC 6455 §5.7's own examples —
    /// "Hello" unmasked, and masked with the key 37 fa 21 3d.
    #[test]
    fn data_frame_matches_the_rfc_examples() {
        assert_eq!(
            hex(&data_frame(b"Hello", true, None)),
            "81 05 48 65 6c 6c 6f"
        );
        let masked = data_frame(b"Hello", true, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(hex(&masked), "81 85 37 fa 21 3d 7f 9f 4d 51 58");
        assert_eq!(header_len(&masked), Some(6));
        // The 16-bit form: 256 bytes, unmasked (§5.7's binary example).
        assert_eq!(hex(&data_frame(&[0; 256], false, None)[..4]), "82 7e 01 00");
    }

    /// The seeded close: 1000 with no reason is 88 82, the key, then 03 e8
    /// masked; parsed back, it is the close code it was built with.
    #[test]
    fn close_frame_carries_its_code() {
        assert_eq!(hex(&close_frame(1000, None)), "88 02 03 e8");
        let masked = close_frame(1000, Some([1, 2, 3, 4]));
        assert_eq!(hex(&masked), "88 82 01 02 03 04 02 ea");
        assert_eq!(parse_frames(&masked).frames[0].close_code(), Some(1000));
    }

    /// Lesson 6: RFC 6455 §1.3's own example key gives its own example Accept.
    #[test]
    fn rfc_accept_example() {
        let d = derive_accept("dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(d.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(d.sha1.len(), 20);
        assert_eq!(hex(&d.sha1[..4]), "b3 7a 4f 2c");
        assert_eq!(
            d.concatenated,
            "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        );
    }

    /// Lesson 6: the handshake is two ordinary HTTP heads, and the Accept is checked.
    #[test]
    fn handshake_heads_and_accept_check() {
        let request = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        let response = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x05Hello";
        let h = handshake_view(request, response).expect("two complete heads");
        assert_eq!(h.request.bytes, request.len());
        assert_eq!(h.response.bytes, response.len() - 7);
        assert_eq!(h.request.start_line, "GET /chat HTTP/1.1");
        assert_eq!(h.response.header("upgrade"), Some("websocket"));
        assert!(h.accept_ok);
        let text = render_handshake(&h, Style::PLAIN);
        assert!(text.contains("matches the server's Sec-WebSocket-Accept"));

        let forged = b"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: AAAA\r\n\r\n";
        assert!(!handshake_view(request, forged).unwrap().accept_ok);
        // Half a response is no handshake yet.
        assert_eq!(handshake_view(request, &response[..20]), None);
    }

    fn only_frame(bytes: &[u8]) -> FrameView {
        let frames = parse_frames(bytes);
        assert_eq!(frames.error, None);
        assert_eq!(frames.incomplete, 0);
        assert_eq!(frames.frames.len(), 1);
        frames.frames.into_iter().next().unwrap()
    }

    /// Lesson 9: RFC 6455 §5.7, "a single-frame unmasked text message".
    #[test]
    fn rfc_unmasked_hello() {
        let f = only_frame(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert!(f.fin);
        assert_eq!(f.rsv, [false; 3]);
        assert_eq!(f.opcode, OpCode::Data(Data::Text));
        assert_eq!(f.mask, None);
        assert_eq!(f.payload_len, 5);
        assert_eq!(f.length_encoding, LengthEncoding::Bits7);
        assert_eq!(f.header, [0x81, 0x05]);
        assert_eq!(f.payload, b"Hello");
        let text = render_frame(&f, "frame", Style::PLAIN);
        assert!(text.contains("FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x1 TEXT"));
        assert!(text.contains("MASK=0 payload length=5 (7-bit"));
    }

    /// Lesson 10: RFC 6455 §5.7, "a single-frame masked text message": the
    /// unmasking (masked ⊕ key) gives "Hello" back.
    #[test]
    fn rfc_masked_hello() {
        let f = only_frame(&[
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ]);
        assert_eq!(f.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(f.header.len(), 6);
        assert_eq!(f.wire_payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
        assert_eq!(f.payload, b"Hello");
        let text = render_frame(&f, "frame", Style::PLAIN);
        assert!(text.contains("masking key 37 fa 21 3d"));
        assert!(text.contains("masked      7f 9f 4d 51 58"));
        assert!(text.contains("⊕ key       37 fa 21 3d 37"));
        assert!(text.contains("= plain     48 65 6c 6c 6f  \"Hello\""));
    }

    /// Lesson 9: RFC 6455 §5.7, "a fragmented unmasked text message": FIN=0 on
    /// "Hel", then a continuation frame "lo" with FIN=1.
    #[test]
    fn rfc_fragmented_hello() {
        let frames = parse_frames(&[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]);
        assert_eq!(frames.frames.len(), 2);
        let (first, second) = (&frames.frames[0], &frames.frames[1]);
        assert!(!first.fin);
        assert_eq!(first.opcode, OpCode::Data(Data::Text));
        assert_eq!(first.payload, b"Hel");
        assert!(second.fin);
        assert_eq!(second.opcode, OpCode::Data(Data::Continue));
        assert_eq!(second.payload, b"lo");
        assert_eq!(second.offset, 5);
        assert!(render_frame(first, "f", Style::PLAIN).contains("more frames of this message"));
    }

    /// Lesson 9: RFC 6455 §5.7, an unmasked ping and the masked pong answering it,
    /// both carrying "Hello".
    #[test]
    fn rfc_ping_and_pong() {
        let ping = only_frame(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert_eq!(ping.opcode, OpCode::Control(Control::Ping));
        assert_eq!(ping.payload, b"Hello");
        let pong = only_frame(&[
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ]);
        assert_eq!(pong.opcode, OpCode::Control(Control::Pong));
        assert_eq!(pong.payload, b"Hello");
        assert_eq!(opcode_name(pong.opcode), "0xa PONG");
    }

    /// Lesson 13: RFC 6455 §5.7, 256 bytes of binary data: the 16-bit length
    /// encoding (126, then 0x0100), a 4-byte header.
    #[test]
    fn rfc_256_bytes_uses_16_bit_length() {
        let mut bytes = vec![0x82, 0x7E, 0x01, 0x00];
        bytes.extend(std::iter::repeat_n(0xAB, 256));
        let f = only_frame(&bytes);
        assert_eq!(f.opcode, OpCode::Data(Data::Binary));
        assert_eq!(f.header, [0x82, 0x7E, 0x01, 0x00]);
        assert_eq!(f.payload_len, 256);
        assert_eq!(f.length_encoding, LengthEncoding::Bits16);
        assert!(render_frame(&f, "f", Style::PLAIN).contains("payload length=256 (16-bit"));
    }

    /// Lesson 13: RFC 6455 §5.7, 64 KiB of binary data: the 64-bit length encoding
    /// (127, then 8 bytes), a 10-byte header.
    #[test]
    fn rfc_65536_bytes_uses_64_bit_length() {
        let mut bytes = vec![0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
        bytes.extend(std::iter::repeat_n(0x00, 65_536));
        let f = only_frame(&bytes);
        assert_eq!(f.header.len(), 10);
        assert_eq!(f.payload_len, 65_536);
        assert_eq!(f.length_encoding, LengthEncoding::Bits64);
        assert_eq!(f.wire_len(), 65_546);
    }

    /// A frame cut in the middle (its payload still arriving) is reported as
    /// incomplete, not as an error; reserved opcodes are an error.
    #[test]
    fn partial_and_invalid_frames() {
        let frames = parse_frames(&[0x81, 0x05, 0x48, 0x65]);
        assert_eq!(frames.frames.len(), 0);
        assert_eq!(frames.incomplete, 4);
        assert_eq!(frames.error, None);
        let frames = parse_frames(&[0x83, 0x00]);
        assert!(frames.error.is_some());
    }

    /// Lesson 11: a close frame's body starts with the status code, big-endian.
    #[test]
    fn close_frame_code() {
        let f = only_frame(&[0x88, 0x02, 0x03, 0xe8]);
        assert_eq!(f.close_code(), Some(1000));
        assert!(render_frame(&f, "f", Style::PLAIN).contains("close code  1000 (normal closure)"));
    }

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
            Some(
                "4 message + Socket.IO 5 BINARY_EVENT, namespace /, 1 binary attachment(s) follow"
            )
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
            Style { color: true }.paint(Paint::Bad, "x"),
            "\x1b[31mx\x1b[0m"
        );
    }
}
