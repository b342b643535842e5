//! Servers the classroom cannot put a layer under (the chat room, push) are
//! watched from outside, by port, the way `ss -ti` watches: once a
//! [`super::STATE_EVERY`] the kernel lists every connection on their ports
//! with its bytes both ways (TCP_INFO), and the differences since the last
//! look become `open`, `data` and `close` events like the others.
//!
//! What polling cannot see, it says nothing about: a connection that opens
//! and closes between two looks is not shown, bytes come a second late, and
//! there are no frames. Under `--code` these servers are not shown at all
//! (they cannot take a code).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use lifecycle::TcpState;

use super::{Feed, Merge};
use crate::event::{ConnNo, Dir, Raw};

/// One connection seen from outside: its number, and its byte counters at
/// the last look.
#[derive(Debug, Clone, Copy)]
pub(super) struct Outside {
    conn: ConnNo,
    received: u64,
    acked: u64,
    /// Reported closed (TIME_WAIT stays listed for a minute: not reopened).
    closed: bool,
}

impl Feed {
    /// Watches the connections on `local` from outside under the name `proto`
    /// (`chat_tcp`, `chat_ws`, `push`).
    pub fn watch_port(&self, proto: &'static str, local: SocketAddr) {
        self.lock(&self.ports).push((proto, local));
    }

    /// One look at every watched port: what changed, merged into this tick.
    pub(super) fn look_outside(&self, merged: &mut BTreeMap<ConnNo, Merge>) {
        let ports = self.lock(&self.ports).clone();
        let mut outside = self.lock(&self.outside);
        for (proto, local) in ports {
            let Ok(listed) = lifecycle::state::connections_on(local) else {
                continue; // no sock_diag here: nothing to show
            };
            let mut still: HashMap<(SocketAddr, SocketAddr), Outside> = HashMap::new();
            for l in listed {
                let key = (local, l.peer);
                let mut row = match outside.remove(&key) {
                    Some(row) => row,
                    None if l.state == TcpState::TimeWait => continue, // closed before we looked
                    None => {
                        let conn = self.next_conn();
                        self.merge(
                            Raw::Open {
                                conn,
                                proto,
                                local,
                                peer: l.peer,
                            },
                            merged,
                        );
                        Outside {
                            conn,
                            received: 0,
                            acked: 0,
                            closed: false,
                        }
                    }
                };
                if !row.closed {
                    let conn = row.conn;
                    let (got, sent) = (l.bytes_received, l.bytes_acked);
                    if got > row.received {
                        let bytes = got - row.received;
                        self.merge(
                            Raw::Data {
                                conn,
                                dir: Dir::In,
                                bytes,
                            },
                            merged,
                        );
                    }
                    if sent > row.acked {
                        let bytes = sent - row.acked;
                        self.merge(
                            Raw::Data {
                                conn,
                                dir: Dir::Out,
                                bytes,
                            },
                            merged,
                        );
                    }
                    (row.received, row.acked) = (got.max(row.received), sent.max(row.acked));
                    if l.state == TcpState::TimeWait {
                        row.closed = true;
                        self.merge(
                            Raw::Close {
                                conn,
                                first_fin: "server",
                            },
                            merged,
                        );
                    }
                }
                still.insert(key, row);
            }
            // Gone from the list since the last look: closed.
            let gone: Vec<_> = outside
                .keys()
                .filter(|(l, _)| *l == local)
                .copied()
                .collect();
            for key in gone {
                if let Some(row) = outside.remove(&key)
                    && !row.closed
                {
                    self.merge(
                        Raw::Close {
                            conn: row.conn,
                            first_fin: "student",
                        },
                        merged,
                    );
                }
            }
            outside.extend(still);
        }
    }
}
