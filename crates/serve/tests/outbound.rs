//! A session that owns two sockets: the accepted one and one it connects itself.
//!
//! Run: `cargo test -p serve --test outbound`. The session here is the smallest
//! relay there is — bytes from the client go to a target, bytes from the target
//! go back — written only to exercise the seam a bridge stands on:
//! [`Turn::register_outbound`] puts the second socket in the loop's epoll set,
//! and its events come back to the same session marked [`Leg::Outbound`].

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lifecycle::{FourTuple, Proto};
use mio::net::TcpStream as MioStream;
use serve::v3_event_loop::{
    Leg, Progress, Readiness, Session, Step, Tracked, Turn, read_some, write_some,
};
use serve::{Engine, Limits, Running};

/// How long a broken test may wait before it fails instead of hanging.
const DEADLINE: Duration = Duration::from_secs(10);

/// What the relay saw, for the test to check.
#[derive(Default)]
struct Seen {
    /// Events per leg: [peer, outbound].
    events: [usize; 2],
    /// What a second `register_outbound` answered.
    second_register: Option<io::ErrorKind>,
}

/// Relays bytes between its client and a target it connects to on its first event.
struct Relay {
    peer: Tracked,
    target: SocketAddr,
    out: Option<Tracked>,
    seen: Arc<Mutex<Seen>>,
}

impl Relay {
    /// Moves what one side has to the other. Small test messages always fit a
    /// send buffer; a real bridge queues what does not (and bounds the queue).
    fn pump(from: &mut Tracked, to: &mut Tracked, scratch: &mut [u8]) -> io::Result<Step> {
        loop {
            match read_some(from, scratch)? {
                None => return Ok(Step::Wait),
                Some(0) => return Ok(Step::Done),
                Some(n) => assert_eq!(write_some(to, &scratch[..n])?, Some(n)),
            }
        }
    }
}

impl Session for Relay {
    fn ready(&mut self, ready: Readiness, turn: &mut Turn<'_>) -> io::Result<Step> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.events[match ready.leg {
                Leg::Peer => 0,
                Leg::Outbound => 1,
            }] += 1;
        }
        if self.out.is_none() {
            // socket(2) + a non-blocking connect(2): EINPROGRESS, done later.
            let mut stream = MioStream::connect(self.target)?;
            turn.register_outbound(&mut stream)?;
            let again = turn.register_outbound(&mut stream).err().map(|e| e.kind());
            if let Ok(mut seen) = self.seen.lock() {
                seen.second_register = again;
            }
            let tuple = FourTuple {
                proto: Proto::Tcp,
                local: stream.local_addr()?,
                peer: self.target,
            };
            self.out = Some(Tracked::new(stream, tuple));
        }
        let Some(out) = self.out.as_mut() else {
            return Ok(Step::Wait);
        };
        match ready.leg {
            Leg::Peer => self.peer.on_event(ready),
            Leg::Outbound => out.on_event(ready),
        }
        // Until the connect is done, a read on it says WouldBlock (or NotConnected).
        if out.get_ref().peer_addr().is_err() {
            return Ok(Step::Wait);
        }
        let a = Relay::pump(&mut self.peer, out, turn.scratch)?;
        let b = Relay::pump(out, &mut self.peer, turn.scratch)?;
        Ok(if a == Step::Done || b == Step::Done {
            Step::Done
        } else {
            Step::Wait
        })
    }

    fn stream(&self) -> Option<&MioStream> {
        Some(self.peer.get_ref())
    }

    fn progress(&self) -> Progress {
        self.peer.progress()
    }

    fn pending(&self) -> usize {
        0
    }
}

/// The engine routes the second socket's readiness to the session that
/// registered it: a line goes client → relay → target and the answer comes
/// back target → relay → client, and the session saw events on both legs.
/// A second outbound socket is refused, not silently replaced.
#[test]
fn a_session_relays_through_its_outbound_socket() {
    let target = TcpListener::bind("127.0.0.1:0").unwrap();
    let target_addr = target.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let for_server = Arc::clone(&seen);
    let server = Running::tcp("127.0.0.1:0".parse().unwrap(), move |listener, shutdown| {
        let start = move |stream: MioStream, tuple: FourTuple| Relay {
            peer: Tracked::new(stream, tuple),
            target: target_addr,
            out: None,
            seen: Arc::clone(&for_server),
        };
        Engine::new(1)?.serve(listener, shutdown, Limits::default(), start)
    })
    .unwrap();

    let mut client = TcpStream::connect(server.addr()).unwrap();
    client.set_read_timeout(Some(DEADLINE)).unwrap();
    client.write_all(b"ping\n").unwrap();

    // The relay connects to the target on its first event: accept it here.
    target.set_nonblocking(false).unwrap();
    let (mut leg, _) = target.accept().unwrap();
    leg.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut got = [0u8; 5];
    leg.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping\n");
    leg.write_all(b"pong\n").unwrap();

    client.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"pong\n");

    // The target closes: the relay is done, and the client reads our FIN.
    drop(leg);
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());

    let seen = seen.lock().unwrap();
    assert!(
        seen.events[0] >= 1,
        "events on the peer leg: {:?}",
        seen.events
    );
    assert!(
        seen.events[1] >= 1,
        "events on the outbound leg: {:?}",
        seen.events
    );
    assert_eq!(seen.second_register, Some(io::ErrorKind::AlreadyExists));
}
