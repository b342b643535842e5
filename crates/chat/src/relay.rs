//! The Redis relay: when one chat process is not enough, several share one room
//! through a Redis pub/sub channel.
//!
//! Each process publishes its members' lines to the channel and says to its own
//! members what it receives from it. Two threads, each with its own connection
//! to Redis (a subscribed connection may only listen):
//!
//! - the **publisher** takes lines from a bounded channel that [`Room::say`]
//!   feeds, and `PUBLISH`es them one by one;
//! - the **subscriber** `SUBSCRIBE`s and posts every line from another process
//!   into the room through the loops' mailboxes (the mailbox is postable from any
//!   thread: this is the thread it was made for).
//!
//! Each published message starts with this process's id, so a process skips its
//! own lines when Redis hands them back: its members already had them, once.
//!
//! **Pub/sub is at-most-once.** Redis hands a message to whoever is subscribed at
//! that instant and forgets it: nothing is stored, nothing is retried. So when
//! Redis goes away, the relay itself must keep what it could not send:
//!
//! - members are told (`* relay lost: …`) by the subscriber, which notices first
//!   (its read fails the moment Redis closes the connection);
//! - lines said meanwhile stay in the publisher's bounded channel, in order
//!   ([`RELAY_BUFFER`] lines); past that the sender is told its line was **not
//!   relayed** (it still reached this process's members) — nothing is dropped
//!   without a word;
//! - both threads reconnect with backoff ([`BACKOFF_MIN`] doubling to
//!   [`BACKOFF_MAX`]); the subscriber says `* relay back`, and the publisher, before
//!   replaying what waited, gives the processes that were subscribed before the
//!   outage up to [`RESUBSCRIBE_GRACE`] to subscribe again (`PUBSUB NUMSUB`), since
//!   a line published before they are back would reach nobody.
//!
//! Where this simplifies: a line Redis took just as it died may be lost or, if
//! the reply was what got lost, sent twice; the processes' clocks and orders are
//! not merged (each process's lines arrive in the order it said them).
//!
//! Try: `redis-server --port 6390 --save '' --appendonly no`, then two servers:
//! `socklab serve chat --relay redis://127.0.0.1:6390` and the same with
//! `--tcp-addr 127.0.0.1:7071 --ws-addr 127.0.0.1:8071`; `ncat` into each. Stop
//! redis-server, type, start it again, and watch the log.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread;
use std::time::{Duration, Instant};

use lifecycle::Shutdown;
use log::{info, warn};
use redis::{Client, Connection, RedisResult};

use crate::room::{Origin, Room};

/// The channel every chat process publishes to and subscribes to.
pub const CHANNEL: &str = "socklab:chat";

/// Lines kept for Redis while it is away (the publisher's channel). Past this,
/// the sender is told "not relayed".
pub const RELAY_BUFFER: usize = 1024;

/// First wait before reconnecting; doubled after each failure.
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);

/// Longest wait between reconnection attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// How long a reconnected publisher waits for the processes that were
/// subscribed before the outage to subscribe again before it replays anyway.
pub const RESUBSCRIBE_GRACE: Duration = Duration::from_secs(5);

/// How often blocked threads look at the shutdown flag (a read timeout).
const TICK: Duration = Duration::from_millis(200);

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A member's line on its way to Redis.
pub struct Outgoing {
    /// Who said it (told if the line could not be relayed).
    pub from: Origin,
    /// The line as the room shows it.
    pub line: String,
}

/// The room's end of the relay: a bounded channel to the publisher thread.
#[derive(Clone)]
pub struct Outbox(pub SyncSender<Outgoing>);

/// Makes the publisher's channel: the room holds the [`Outbox`], [`start`]
/// takes the receiver.
pub fn outbox() -> (Outbox, Receiver<Outgoing>) {
    let (tx, rx) = sync_channel(RELAY_BUFFER);
    (Outbox(tx), rx)
}

/// Starts the publisher and subscriber threads for `url`
/// (`redis://127.0.0.1:PORT`). They end when `shutdown` fires.
pub fn start(
    url: &str,
    room: Arc<Room>,
    lines: Receiver<Outgoing>,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    let client = Client::open(url).map_err(|e| std::io::Error::other(format!("{url}: {e}")))?;
    let id = process_id();
    info!("relay: this server is {id} on Redis channel {CHANNEL:?} at {url}");
    let (c, i, s) = (client.clone(), id.clone(), shutdown.clone());
    thread::Builder::new()
        .name("relay publisher".into())
        .spawn(move || publish_lines(&c, &i, &lines, &s))?;
    thread::Builder::new()
        .name("relay subscriber".into())
        .spawn(move || receive_lines(&client, &id, &room, &shutdown))?;
    Ok(())
}

/// A name for this process on the channel: its pid and start time, unique
/// enough among the processes of one machine.
fn process_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}.{nanos:x}", std::process::id())
}

/// One message on the channel: `<process id> <line>`.
pub fn encode(id: &str, line: &str) -> String {
    format!("{id} {line}")
}

/// The line of a message from another process; `None` for our own (or junk).
pub fn decode<'a>(id: &str, message: &'a str) -> Option<&'a str> {
    let (from, line) = message.split_once(' ')?;
    (from != id).then_some(line)
}

// ANCHOR: publisher
/// The publisher thread: one line at a time from the room's channel to Redis.
/// A line that could not be published stays in hand until it can; the lines
/// behind it wait in the channel, in order.
fn publish_lines(client: &Client, id: &str, lines: &Receiver<Outgoing>, shutdown: &Shutdown) {
    let mut conn: Option<Connection> = None;
    let mut in_hand: Option<Outgoing> = None;
    // Receivers of the last successful PUBLISH: who should be back before a replay.
    let mut receivers = 0;
    let mut outage: Option<Instant> = None;
    while !shutdown.is_triggered() {
        let out = match in_hand.take() {
            Some(out) => out,
            None => match lines.recv_timeout(TICK) {
                Ok(out) => out,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            },
        };
        let Some(c) = conn.as_mut() else {
            in_hand = Some(out);
            conn = reconnect(client, "publisher", shutdown);
            if let (Some(c), Some(since)) = (conn.as_mut(), outage.take()) {
                wait_for_subscribers(c, receivers, shutdown);
                info!(
                    "relay: publisher back after {:.1} s; replaying the lines that waited, in order",
                    since.elapsed().as_secs_f64()
                );
            }
            continue;
        };
        let published: RedisResult<usize> = redis::cmd("PUBLISH")
            .arg(CHANNEL)
            .arg(encode(id, &out.line))
            .query(c);
        match published {
            Ok(n) => receivers = n,
            Err(e) => {
                warn!(
                    "relay: PUBLISH failed ({e}); the line waits for Redis, with any said after it"
                );
                outage.get_or_insert_with(Instant::now);
                in_hand = Some(out);
                conn = None;
            }
        }
    }
}
// ANCHOR_END: publisher

/// After an outage: `PUBSUB NUMSUB` until `before` subscribers are back (or
/// [`RESUBSCRIBE_GRACE`] passes), so that replayed lines have someone to reach.
fn wait_for_subscribers(c: &mut Connection, before: usize, shutdown: &Shutdown) {
    let started = Instant::now();
    while started.elapsed() < RESUBSCRIBE_GRACE && !shutdown.is_triggered() {
        let numsub: RedisResult<(String, usize)> =
            redis::cmd("PUBSUB").arg("NUMSUB").arg(CHANNEL).query(c);
        match numsub {
            Ok((_, n)) if n >= before => return,
            Ok(_) => thread::sleep(BACKOFF_MIN / 2),
            Err(_) => return, // the PUBLISH will fail and start over
        }
    }
    warn!("relay: fewer than {before} subscribers after {RESUBSCRIBE_GRACE:?}: replaying anyway");
}

// ANCHOR: subscriber
/// The subscriber thread: every line another process published goes into the
/// room; a lost connection is announced to the members, and so is its return.
fn receive_lines(client: &Client, id: &str, room: &Room, shutdown: &Shutdown) {
    let mut lost = false;
    while !shutdown.is_triggered() {
        let Some(mut conn) = reconnect(client, "subscriber", shutdown) else {
            return;
        };
        let mut pubsub = conn.as_pubsub();
        if let Err(e) = pubsub
            .set_read_timeout(Some(TICK))
            .and_then(|()| pubsub.subscribe(CHANNEL))
        {
            warn!("relay: SUBSCRIBE failed: {e}");
            continue;
        }
        info!("relay: subscribed to {CHANNEL:?}");
        if std::mem::take(&mut lost) {
            room.notice("* relay back: lines from other servers flow again");
        }
        while !shutdown.is_triggered() {
            match pubsub.get_message() {
                Ok(msg) => {
                    let text: String = msg.get_payload().unwrap_or_default();
                    if let Some(line) = decode(id, &text) {
                        room.stats.relayed_in.fetch_add(1, Ordering::Relaxed);
                        room.say_relayed(line);
                    }
                }
                // No message within TICK: look at the shutdown flag, read again.
                Err(e) if e.is_timeout() => {}
                Err(e) => {
                    warn!("relay: lost Redis ({e}); reconnecting with backoff");
                    room.notice(&format!(
                        "* relay lost: lines from other servers paused (yours wait here, up to {RELAY_BUFFER})"
                    ));
                    lost = true;
                    break;
                }
            }
        }
    }
}
// ANCHOR_END: subscriber

/// Connects, retrying with exponential backoff until it works or `shutdown`
/// fires (then `None`).
fn reconnect(client: &Client, who: &str, shutdown: &Shutdown) -> Option<Connection> {
    let mut backoff = BACKOFF_MIN;
    let mut tries = 0u32;
    while !shutdown.is_triggered() {
        match client.get_connection_with_timeout(CONNECT_TIMEOUT) {
            Ok(c) => {
                info!("relay: {who} connected to Redis");
                return Some(c);
            }
            Err(e) => {
                tries += 1;
                if tries == 1 || tries.is_power_of_two() {
                    warn!(
                        "relay: {who} cannot reach Redis ({e}); attempt {tries}, next in {backoff:?}"
                    );
                }
                // Sleep in TICKs, so shutdown is not held up by a long backoff.
                let until = Instant::now() + backoff;
                while Instant::now() < until && !shutdown.is_triggered() {
                    thread::sleep(TICK.min(until.saturating_duration_since(Instant::now())));
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_skips_its_own_lines() {
        let m = encode("12.ab", "[tcp 127.0.0.1:5] hi there");
        assert_eq!(decode("12.ab", &m), None);
        assert_eq!(decode("13.cd", &m), Some("[tcp 127.0.0.1:5] hi there"));
        assert_eq!(decode("13.cd", "nospace"), None);
    }
}
