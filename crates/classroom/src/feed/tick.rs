//! One tick's work: raw events merged per connection, turned into the JSON
//! lines dashboards read, and the kernel asked about live TCP connections.
//! (The rest of the feed — recording, the ticker's loop, posting — is in
//! `mod.rs`.)

use std::collections::BTreeMap;

use lifecycle::TcpState;
use serde_json::json;

use super::{FRAMES_SHOWN, Feed, Live, Merge, STATE_LOOKUPS};
use crate::event::{ConnNo, Dir, Raw};

impl Feed {
    /// Adds one raw event to its connection's merge.
    pub(super) fn merge(&self, raw: Raw, merged: &mut BTreeMap<ConnNo, Merge>) {
        let m = merged.entry(raw.conn()).or_default();
        match raw {
            Raw::Open {
                conn,
                proto,
                local,
                peer,
            } => {
                let open = json!({
                    "event": "open", "conn": conn, "proto": proto, "peer": peer.to_string(),
                    "local": local.to_string(),
                    "tuple": format!("{} {local} <-> {peer}", if proto == "udp" { "udp" } else { "tcp" }),
                });
                m.open = Some(open.clone());
                let live = Live {
                    open,
                    local,
                    peer,
                    proto,
                    state: None,
                    info: None,
                    bytes_in: 0,
                    bytes_out: 0,
                };
                self.live_mut().insert(conn, live);
            }
            Raw::Data { dir, bytes, .. } => {
                match dir {
                    Dir::In => m.bytes_in += bytes,
                    Dir::Out => m.bytes_out += bytes,
                }
                m.reads += 1;
            }
            Raw::Frame { frame, .. } => {
                m.frame_count += 1;
                if m.frames.len() < FRAMES_SHOWN {
                    m.frames.push(frame);
                }
            }
            Raw::Close { first_fin, .. } => m.close = Some(first_fin),
        }
    }
    /// One connection's merged events for this tick, in the order they happened:
    /// open, data, frame, close.
    pub(super) fn emit(&self, conn: ConnNo, m: Merge) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(open) = m.open {
            lines.push(open.to_string());
        }
        let mut live = self.live_mut();
        let Some(row) = live.get_mut(&conn) else {
            return lines; // its open was skipped: nothing to name it by
        };
        let (proto, peer) = (row.proto, row.peer.to_string());
        let base =
            |event: &str| json!({"event": event, "conn": conn, "proto": proto, "peer": peer});
        if m.reads > 0 {
            row.bytes_in += m.bytes_in;
            row.bytes_out += m.bytes_out;
            let mut v = base("data");
            v["in"] = m.bytes_in.into();
            v["out"] = m.bytes_out.into();
            v["total_in"] = row.bytes_in.into();
            v["total_out"] = row.bytes_out.into();
            lines.push(v.to_string());
        }
        if m.frame_count > 0 {
            let mut v = base("frame");
            v["count"] = m.frame_count.into();
            v["frames"] = serde_json::to_value(&m.frames).unwrap_or_default();
            lines.push(v.to_string());
        }
        if let Some(said) = m.close {
            let mut v = base("close");
            v["bytes_in"] = row.bytes_in.into();
            v["bytes_out"] = row.bytes_out.into();
            if row.proto == "udp" {
                v["first_fin"] = said.into();
            } else {
                // The kernel's word on the server's socket, now that it is
                // closed: TIME_WAIT means the server sent the first FIN (and
                // holds TIME_WAIT); gone means the student did.
                let state = lifecycle::state::tcp_state(row.local, row.peer);
                let server_first = said == "server"
                    || matches!(
                        state,
                        TcpState::TimeWait
                            | TcpState::FinWait1
                            | TcpState::FinWait2
                            | TcpState::Closing
                    );
                let first = if server_first { "server" } else { "student" };
                v["first_fin"] = first.into();
                v["server_state"] = state.name().into();
                v["time_wait"] = first.into();
            }
            lines.push(v.to_string());
            live.remove(&conn);
        }
        lines
    }

    /// A `state` event for each live TCP connection whose kernel state or
    /// TCP_INFO (round trip, retransmissions, window) changed.
    /// At most [`STATE_LOOKUPS`] of them, after `cursor`, wrapping around.
    pub(super) fn states(&self, cursor: &mut ConnNo) -> Vec<String> {
        use std::ops::Bound::{Excluded, Unbounded};
        let mut live = self.live_mut();
        let mut lines = Vec::new();
        let after: Vec<ConnNo> = live
            .range((Excluded(*cursor), Unbounded))
            .filter(|(_, r)| r.proto != "udp")
            .map(|(c, _)| *c)
            .take(STATE_LOOKUPS)
            .collect();
        let mut round = after;
        if round.len() < STATE_LOOKUPS {
            let wrap = live
                .range(..=*cursor)
                .filter(|(_, r)| r.proto != "udp")
                .map(|(c, _)| *c)
                .take(STATE_LOOKUPS - round.len());
            round.extend(wrap.collect::<Vec<_>>());
        }
        for conn in round {
            *cursor = conn;
            let Some(row) = live.get_mut(&conn) else {
                continue;
            };
            let (state, info) = crate::kernel::look(row.local, row.peer);
            if state == TcpState::Closed {
                // Gone, and its `close` was lost (the channel was full): say
                // so now, or the row would stay, and be asked about, forever.
                let mut v = json!({
                    "event": "close", "conn": conn, "proto": row.proto,
                    "peer": row.peer.to_string(), "first_fin": "unknown",
                });
                v["bytes_in"] = row.bytes_in.into();
                v["bytes_out"] = row.bytes_out.into();
                v["server_state"] = state.name().into();
                lines.push(v.to_string());
                live.remove(&conn);
                continue;
            }
            if row.state == Some(state) && row.info == info {
                continue;
            }
            (row.state, row.info) = (Some(state), info);
            let mut v = json!({
                "event": "state", "conn": conn, "proto": row.proto,
                "peer": row.peer.to_string(), "state": state.name(),
            });
            if let Some(info) = info {
                v["rtt_us"] = info.rtt_us.into();
                v["retransmits"] = info.retransmits.into();
                v["cwnd"] = info.cwnd.into();
            }
            lines.push(v.to_string());
        }
        lines
    }
}
