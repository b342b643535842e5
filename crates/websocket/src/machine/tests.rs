//! The machine without a socket: bytes in, and what it queues, holds and wants.

use std::sync::Arc;

use lifecycle::{FourTuple, Proto};
use serve::MemoryBudget;
use serve::v3_event_loop::QUEUE_LIMIT;
use tungstenite::Message;

use super::Machine;
use crate::handler::{Handler, Outbox, Settings};

/// The test's program: echoes, and counts what it was given.
#[derive(Default)]
struct Echo(usize);

impl Handler for Echo {
    fn message(&mut self, message: Message, out: &mut Outbox<'_>) {
        self.0 += 1;
        out.send(message);
    }
}

fn tuple() -> FourTuple {
    FourTuple {
        proto: Proto::Tcp,
        local: "127.0.0.1:8080".parse().unwrap(),
        peer: "127.0.0.1:40000".parse().unwrap(),
    }
}

/// An open machine: the Upgrade accepted, the 101 written out.
fn open(budget: usize) -> Machine<Echo> {
    open_on(&MemoryBudget::new(budget))
}

/// An open machine holding its share of `budget`.
fn open_on(budget: &MemoryBudget) -> Machine<Echo> {
    let settings = Arc::new(Settings::new(1 << 20, "<p>page</p>"));
    let held = budget.account();
    let mut m = Machine::new(tuple(), settings, held, Echo::default());
    m.receive(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    );
    assert!(m.is_open());
    let n = m.output().len();
    assert!(m.output().starts_with(b"HTTP/1.1 101 "));
    m.sent(n);
    m
}

/// A masked client frame (mask 0: the payload goes as it is).
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = vec![0x80 | opcode, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    f.extend_from_slice(payload);
    f
}

/// Issue 17: Pings from a peer that never reads its Pongs stop being read
/// once the queued Pongs pass QUEUE_LIMIT: the rest waits in the input.
#[test]
fn ping_flood_stops_at_the_bound() {
    let mut m = open(usize::MAX);
    let ping = frame(0x9, &[b'p'; 125]);
    let mut fed = 0;
    while m.wants_input() && fed < 4 * QUEUE_LIMIT {
        m.receive(&ping.repeat(64));
        fed += ping.len() * 64;
    }
    assert!(!m.wants_input(), "reading must stop");
    assert!(m.output().len() >= QUEUE_LIMIT);
    // Past it by at most two Pongs: the one that crossed the bound, and the
    // one tungstenite still held, written by the flush that ends the turn.
    assert!(
        m.output().len() <= QUEUE_LIMIT + 2 * 127,
        "{}",
        m.output().len()
    );
    assert_eq!(m.peak_output(), m.output().len());
    // The peer reads: the Pongs go, and the Pings that waited are answered.
    let n = m.output().len();
    m.sent(n);
    assert!(!m.output().is_empty(), "the waiting Pings were answered");
}

/// A program's own messages (Machine::send) go into the same queue, framed,
/// and a whole data message reaches the handler once.
#[test]
fn handler_and_send_share_the_queue() {
    let mut m = open(usize::MAX);
    m.receive(&frame(0x1, b"hi"));
    assert_eq!(m.handler().0, 1);
    assert_eq!(m.received(), 1);
    assert_eq!(m.output(), b"\x81\x02hi");
    assert!(m.send(Message::text("event")));
    assert_eq!(m.output(), b"\x81\x02hi\x81\x05event");
}

/// Past the memory budget: Close 1013, and nothing more is read or sent.
#[test]
fn over_the_budget_is_1013() {
    let mut m = open(4096);
    assert!(!m.send(Message::binary(vec![0u8; 8000])), "dropped");
    assert!(m.is_done());
    let out = m.output();
    let close = &out[out.len() - 33..];
    assert_eq!(&close[..4], b"\x88\x1f\x03\xf5", "Close 1013");
    assert!(!m.send(Message::text("late")));
}

/// The Close 1013 a server sends past the budget: header, code, reason.
const CLOSE_1013: &[u8] = b"\x88\x1f\x03\xf5server memory budget exceeded";

/// Issue 17: a program's message past the budget is refused *before* it is
/// framed: the queue holds only the Close, and the budget's peak never passed
/// its cap (the 8,000 bytes were never allocated).
#[test]
fn a_message_past_the_budget_is_never_framed() {
    let budget = MemoryBudget::new(4096);
    let mut m = open_on(&budget);
    assert!(!m.send(Message::binary(vec![0u8; 8000])), "dropped");
    assert!(m.is_done());
    assert_eq!(m.output(), CLOSE_1013);
    assert!(budget.peak() <= budget.cap(), "peak {}", budget.peak());
    // What is still held is what is still queued: the Close frame, counted.
    assert!(budget.used() >= CLOSE_1013.len() && budget.used() <= budget.cap());
}

/// Issue 17: a big message arriving piece by piece is charged before each
/// piece is taken in: the budget's peak never passes its cap, the program
/// never gets the message, and the peer gets 1013 (nothing else).
#[test]
fn a_big_message_is_charged_before_it_arrives() {
    const CAP: usize = 64 * 1024;
    const SIZE: usize = 64 * 1024;
    const PIECE: usize = 1024;
    let budget = MemoryBudget::new(CAP);
    let mut m = open_on(&budget);
    // One masked binary frame (mask 0) announcing SIZE bytes: 127 + 8-byte length.
    let mut bytes = vec![0x82, 0x80 | 127];
    bytes.extend_from_slice(&(SIZE as u64).to_be_bytes());
    bytes.extend_from_slice(&[0; 4]);
    bytes.resize(bytes.len() + SIZE, b'x');
    for piece in bytes.chunks(PIECE) {
        if m.is_done() {
            break;
        }
        m.receive(piece);
        assert!(budget.peak() <= CAP, "peak {} over {CAP}", budget.peak());
    }
    assert!(m.is_done(), "closed before the whole message was taken");
    assert_eq!(m.handler().0, 0, "the program never got it");
    assert_eq!(m.received(), 0);
    assert_eq!(m.output(), CLOSE_1013);
}
