//! Engine.IO and Socket.IO packets inside WebSocket text frames (lesson 19):
//! what a message means if it has that shape. Analysis only; the wire view
//! prints it under the frame.

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
