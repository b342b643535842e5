//! The mailbox over real sockets: a line read on one connection reaches the
//! connections of *other* loops, and a thread outside the loops can post too.
//!
//! Run: `cargo test -p serve --test mailbox`. The session here is the smallest
//! 1:N protocol there is — every chunk a member sends goes to every other
//! member — written only to exercise the seam a chat server will stand on.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use lifecycle::FourTuple;
use mio::net::TcpStream as MioStream;
use serve::v3_event_loop::{
    Mail, Progress, Readiness, Session, Step, Tracked, Turn, read_some, write_some,
};
use serve::{Engine, Limits, Running};

/// How long a broken test may wait before it fails instead of hanging.
const DEADLINE: Duration = Duration::from_secs(10);

/// Relays what its peer sends to everyone else, through the mailbox.
struct Relay {
    stream: Tracked,
}

impl Session for Relay {
    fn ready(&mut self, ready: Readiness, turn: &mut Turn<'_>) -> io::Result<Step> {
        self.stream.on_event(ready);
        loop {
            match read_some(&mut self.stream, turn.scratch)? {
                None => return Ok(Step::Wait),
                Some(0) => return Ok(Step::Done),
                Some(n) => {
                    let mail = Mail {
                        from: Some(turn.me),
                        body: Arc::from(&turn.scratch[..n]),
                    };
                    turn.mailbox.broadcast(mail).map_err(io::Error::other)?;
                }
            }
        }
    }

    fn deliver(&mut self, mail: &Mail) -> io::Result<Step> {
        // Small lines always fit the send buffer in this test; a real chat
        // server queues what does not (and bounds the queue).
        let n = write_some(&mut self.stream, &mail.body)?;
        assert_eq!(n, Some(mail.body.len()));
        Ok(Step::Wait)
    }

    fn stream(&self) -> Option<&MioStream> {
        Some(self.stream.get_ref())
    }

    fn progress(&self) -> Progress {
        self.stream.progress()
    }

    fn pending(&self) -> usize {
        0
    }
}

fn connect(addr: std::net::SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s
}

fn read_line(s: &mut TcpStream) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\n") {
        s.read_exact(&mut byte).unwrap();
        line.push(byte[0]);
    }
    String::from_utf8(line).unwrap()
}

/// Lesson: one loop's connection hands a message to connections owned by other
/// loops without touching their tables — a letter in each loop's inbox and a
/// wake-up — and a thread outside the loops posts the same way.
#[test]
fn a_line_reaches_members_on_every_loop_and_outsiders_can_post() {
    let engine = Engine::new(2).unwrap();
    let (mailbox, stats) = (engine.mailbox(), engine.stats());
    assert_eq!(mailbox.loops(), 2);
    let server = Running::tcp("127.0.0.1:0".parse().unwrap(), move |listener, shutdown| {
        engine.serve(
            listener,
            shutdown,
            Limits::default(),
            |stream, tuple: FourTuple| Relay {
                stream: Tracked::new(stream, tuple),
            },
        )
    })
    .unwrap();
    // Four members, dealt to the two loops in turn.
    let mut members: Vec<TcpStream> = (0..4).map(|_| connect(server.addr())).collect();
    let deadline = Instant::now() + DEADLINE;
    while stats.open.load(Ordering::Relaxed) < 4 {
        assert!(Instant::now() < deadline, "members never joined");
        std::thread::sleep(Duration::from_millis(5));
    }

    members[0].write_all(b"hello from 0\n").unwrap();
    for other in &mut members[1..] {
        assert_eq!(read_line(other), "hello from 0\n");
    }

    // From a thread that is not a loop: no sender, so everyone gets it,
    // member 0 included — and member 0 got nothing before (not its own line).
    let outside = std::thread::spawn(move || {
        mailbox.broadcast(Mail {
            from: None,
            body: Arc::from(&b"notice\n"[..]),
        })
    });
    assert_eq!(outside.join().unwrap(), Ok(2));
    for member in &mut members {
        assert_eq!(read_line(member), "notice\n");
    }
    // Each loop adds its letters to the shared counter once its inbox is
    // drained, which may be just after the bytes reached the members.
    let deadline = Instant::now() + DEADLINE;
    while stats.delivered.load(Ordering::Relaxed) < 3 + 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(stats.delivered.load(Ordering::Relaxed), 3 + 4);
}
