//! What the feed says: the events a dashboard reads, as plain data and JSON.
//!
//! Every event names the connection it is about (`conn`, a number given at
//! its first byte), the protocol (`proto`: tcp, udp, ws) and the student's
//! address (`peer`, "ip:port"). The students' servers record *raw* events —
//! one per read, one per frame — and the feed merges them per connection per
//! tick ([`crate::feed`]) before any dashboard sees them. No I/O here.

use serde::Serialize;

/// A connection's number on the feed: given in order, never reused.
pub type ConnNo = u64;

/// Which way bytes or a frame went, seen from the student.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    /// From the student to the server.
    In,
    /// From the server to the student.
    Out,
}

/// One WebSocket frame header, as the wire carried it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FrameSeen {
    /// Who sent it.
    pub dir: Dir,
    /// `text`, `binary`, `continue`, `close`, `ping`, `pong` (RFC 6455 §5.2).
    pub opcode: &'static str,
    /// Whether the payload was masked (a client must mask; a server must not).
    pub masked: bool,
    /// The payload's length in bytes.
    pub len: u64,
    /// A Close frame's status code, when it carried one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
}

/// What a student's server reports, one at a time, as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Raw {
    /// A student showed up: their first byte (TCP, WebSocket) or datagram (UDP).
    Open {
        /// The connection's number.
        conn: ConnNo,
        /// tcp, udp or ws.
        proto: &'static str,
        /// The server's own address.
        local: std::net::SocketAddr,
        /// The student's address.
        peer: std::net::SocketAddr,
    },
    /// Bytes moved, one way (one read or one write).
    Data {
        /// The connection's number.
        conn: ConnNo,
        /// Which way.
        dir: Dir,
        /// How many bytes.
        bytes: u64,
    },
    /// One WebSocket frame header.
    Frame {
        /// The connection's number.
        conn: ConnNo,
        /// The frame.
        frame: FrameSeen,
    },
    /// The connection is over.
    Close {
        /// The connection's number.
        conn: ConnNo,
        /// Who sent the first FIN: `student`, `server`, or `idle` (UDP: no
        /// FIN exists; the peer was silent for [`crate::feed::UDP_IDLE`]).
        first_fin: &'static str,
    },
}

impl Raw {
    /// The connection the event is about.
    pub fn conn(&self) -> ConnNo {
        match self {
            Raw::Open { conn, .. }
            | Raw::Data { conn, .. }
            | Raw::Frame { conn, .. }
            | Raw::Close { conn, .. } => *conn,
        }
    }
}

/// What the feed could not deliver, by kind: the body of a `skip` notice, and
/// what a test adds to what it received to get what the students did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Skipped {
    /// Events left out (each merged event counts once).
    pub events: u64,
    /// `open` events among them.
    pub opens: u64,
    /// `close` events among them.
    pub closes: u64,
    /// Bytes from students those `data` events reported.
    pub bytes_in: u64,
    /// Bytes to students those `data` events reported.
    pub bytes_out: u64,
    /// WebSocket frames those `frame` events reported.
    pub frames: u64,
}

impl Skipped {
    /// Adds what one merged event (as JSON) reported.
    pub fn count(&mut self, event: &serde_json::Value) {
        let n = |key: &str| event.get(key).and_then(serde_json::Value::as_u64);
        let kind = event.get("event").and_then(serde_json::Value::as_str);
        if kind == Some("skip") {
            // A notice left out is its counts left out.
            if let Ok(s) = serde_json::from_value::<Skipped>(event.clone()) {
                self.add(&s);
            }
            return;
        }
        self.events += 1;
        match kind {
            Some("open") => self.opens += 1,
            Some("close") => self.closes += 1,
            Some("data") => {
                self.bytes_in += n("in").unwrap_or(0);
                self.bytes_out += n("out").unwrap_or(0);
            }
            Some("frame") => self.frames += n("count").unwrap_or(0),
            _ => {}
        }
    }

    /// Adds another count to this one.
    pub fn add(&mut self, other: &Skipped) {
        self.events += other.events;
        self.opens += other.opens;
        self.closes += other.closes;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.frames += other.frames;
    }

    /// Whether nothing was left out.
    pub fn is_empty(&self) -> bool {
        self.events == 0
    }

    /// The `skip` notice a dashboard reads: `{"event":"skip", "conn":0,
    /// "proto":"feed", "peer":"", "events":…, "opens":…, …}`.
    pub fn notice(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = v.as_object_mut() {
            map.insert("event".into(), "skip".into());
            map.insert("conn".into(), 0.into());
            map.insert("proto".into(), "feed".into());
            map.insert("peer".into(), "".into());
        }
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A skip notice carries the four fields every event has, and its counts.
    #[test]
    fn a_skip_notice_says_what_was_left_out() {
        let mut s = Skipped::default();
        s.count(&serde_json::json!({"event": "data", "in": 5, "out": 7}));
        s.count(&serde_json::json!({"event": "open"}));
        let v: serde_json::Value = serde_json::from_str(&s.notice()).expect("json");
        assert_eq!(v["event"], "skip");
        assert_eq!(v["proto"], "feed");
        assert_eq!(v["events"], 2);
        assert_eq!(v["opens"], 1);
        assert_eq!(v["bytes_in"], 5);
        assert_eq!(v["bytes_out"], 7);
    }
}
