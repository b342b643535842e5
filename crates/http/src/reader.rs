//! The request side of one connection: bytes in, whole requests (head and body)
//! out, one after another — the one place a server's HTTP framing happens.
//!
//! A server feeds it what it read ([`Reader::extend`]) and takes requests
//! ([`Reader::next_request`]) until it says Incomplete. Each request's body is
//! taken by its length (or its chunks), whatever the method: a `GET` with a
//! body gets its body read and handed over, never parsed as the next request.
//!
//! Pipelining (RFC 9112 §9.3): a client may send requests without waiting for
//! answers, and the server answers them in order. A server that answers every
//! request it has as soon as it has it can be made to build answers without
//! end by a client that sends a hundred requests and reads none. So the
//! caller decides when to take the next request: only while what it has queued
//! for the peer is under its limit ([`PIPELINE_LIMIT`] unless the server says
//! otherwise). And it stops reading from the socket while [`Reader::is_full`]:
//! then the bytes stay in the kernel, and TCP's window tells the client to wait.

use crate::{HeadError, MAX_HEAD, Parsed, RequestHead, chunked, framing::Body, parse_request};

/// Bytes of answers a server may hold queued for one connection before it
/// takes the next pipelined request: past it, requests wait (in our input,
/// then in the kernel) until the client reads.
pub const PIPELINE_LIMIT: usize = 256 * 1024;

/// One whole request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Its head.
    pub head: RequestHead,
    /// Its body (empty if it had none), dechunked.
    pub body: Vec<u8>,
}

/// The bytes received on one connection and not yet taken as requests.
#[derive(Debug, Default)]
pub struct Reader {
    input: Vec<u8>,
    max_body: usize,
}

impl Reader {
    /// A reader taking bodies of at most `max_body` bytes (more: 413).
    pub fn new(max_body: usize) -> Reader {
        Reader {
            input: Vec::new(),
            max_body,
        }
    }

    /// Adds bytes just read from the socket.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
    }

    /// Bytes held, not yet taken (a partial request, pipelined ones).
    pub fn buffered(&self) -> usize {
        self.input.len()
    }

    /// Whether the caller should stop reading from the socket: we hold as much
    /// as one whole request may take. A request that is whole is taken before
    /// reading more, and one still incomplete at this size is refused (413), so
    /// a full reader never waits for bytes it will not read.
    pub fn is_full(&self) -> bool {
        self.input.len() >= self.limit()
    }

    /// The most bytes held: twice a head and a body, room for a chunked body's
    /// sizes and line ends (which a peer could otherwise stretch without end).
    fn limit(&self) -> usize {
        2 * (MAX_HEAD + self.max_body)
    }

    /// The next whole request, `Incomplete` if it has not all arrived, or why
    /// the bytes are refused. After an error the connection is to be answered
    /// with [`HeadError::status`] and closed: the bytes held are dropped, as
    /// nothing after a refused request can be trusted to start the next one.
    pub fn next_request(&mut self) -> Result<Parsed<Request>, HeadError> {
        let result = self.parse();
        match &result {
            Ok(Parsed::Complete((request, used))) => {
                let used = *used;
                self.input.drain(..used);
                Ok(Parsed::Complete(request.clone()))
            }
            Ok(Parsed::Incomplete) => Ok(Parsed::Incomplete),
            Err(e) => {
                self.input.clear();
                Err(e.clone())
            }
        }
    }

    /// The request at the start of the input, and how many bytes it took.
    fn parse(&self) -> Result<Parsed<(Request, usize)>, HeadError> {
        let head = match parse_request(&self.input)? {
            Parsed::Complete(head) => head,
            Parsed::Incomplete => return Ok(Parsed::Incomplete),
        };
        let rest = &self.input[head.head_len..];
        let (body, used) = match head.body {
            Body::None => (Vec::new(), 0),
            Body::Length(len) => {
                if len > self.max_body as u64 {
                    return Err(HeadError::BodyTooLarge {
                        len,
                        max: self.max_body,
                    });
                }
                let len = len as usize; // at most max_body: fits
                if rest.len() < len {
                    return Ok(Parsed::Incomplete);
                }
                (rest[..len].to_vec(), len)
            }
            Body::Chunked => match chunked::decode(rest, self.max_body)? {
                Parsed::Complete(d) => (d.data, d.consumed),
                Parsed::Incomplete if self.is_full() => {
                    return Err(HeadError::BodyTooLarge {
                        len: rest.len() as u64,
                        max: self.max_body,
                    });
                }
                Parsed::Incomplete => return Ok(Parsed::Incomplete),
            },
        };
        let used = head.head_len + used;
        Ok(Parsed::Complete((Request { head, body }, used)))
    }

    /// The next request's head as soon as it is whole, without waiting for
    /// its body: for a request a server answers at its head and then closes
    /// (an Upgrade announcing a body is refused, and the body never read).
    pub fn peek_head(&self) -> Result<Parsed<RequestHead>, HeadError> {
        parse_request(&self.input)
    }

    /// Takes a head [`Reader::peek_head`] gave, leaving what follows it.
    pub fn take_head(&mut self, head: &RequestHead) {
        self.input.drain(..head.head_len.min(self.input.len()));
    }

    /// Everything held, taken out: after an Upgrade these bytes are no longer
    /// HTTP but the new protocol's (WebSocket frames sent right behind the head).
    pub fn take_rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.input)
    }

    /// Drops what is held (a stream response: nothing sent after it is read).
    pub fn clear(&mut self) {
        self.input.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Framing;

    fn requests(reader: &mut Reader) -> Vec<Request> {
        let mut all = Vec::new();
        while let Ok(Parsed::Complete(r)) = reader.next_request() {
            all.push(r);
        }
        all
    }

    /// Pipelined requests come out in order, each with its body; a GET's body is
    /// its body, not the next request.
    #[test]
    fn pipelined_requests_with_bodies() {
        let mut reader = Reader::new(100);
        reader.extend(
            b"GET /a HTTP/1.1\r\nHost: h\r\nContent-Length: 20\r\n\r\nGET /evil HTTP/1.1\r\n\
              POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n\
              GET /c HTTP/1.1\r\nHost: h\r\n\r\nGET /d",
        );
        let got = requests(&mut reader);
        let targets: Vec<&str> = got.iter().map(|r| r.head.target.as_str()).collect();
        assert_eq!(targets, ["/a", "/b", "/c"]);
        assert_eq!(got[0].body, b"GET /evil HTTP/1.1\r\n");
        assert_eq!(got[1].body, b"hi");
        assert!(got[2].body.is_empty());
        assert_eq!(reader.buffered(), 6, "the partial fourth waits");
        assert_eq!(reader.take_rest(), b"GET /d");
    }

    /// A body arriving in pieces is Incomplete until its last byte.
    #[test]
    fn body_in_pieces() {
        let mut reader = Reader::new(100);
        reader.extend(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nab");
        assert_eq!(reader.next_request(), Ok(Parsed::Incomplete));
        reader.extend(b"cd");
        match reader.next_request() {
            Ok(Parsed::Complete(r)) => assert_eq!(r.body, b"abcd"),
            other => panic!("{other:?}"),
        }
        assert_eq!(reader.buffered(), 0);
    }

    /// Refusals: too big a body (413), framing (400), and the input dropped after.
    #[test]
    fn refusals_drop_the_input() {
        let mut reader = Reader::new(3);
        reader.extend(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nabcd");
        let e = reader.next_request().unwrap_err();
        assert_eq!(e, HeadError::BodyTooLarge { len: 4, max: 3 });
        assert_eq!(e.status(), 413);
        assert_eq!(reader.buffered(), 0);
        reader
            .extend(b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n");
        let e = reader.next_request().unwrap_err();
        assert_eq!(e, HeadError::Framing(Framing::SeveralLengths(2)));
        assert!(!reader.is_full());
        // A chunked body stretched by one-byte chunks: refused once the reader
        // is full, never waited for.
        let mut reader = Reader::new(4096);
        reader.extend(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
        let chunk = format!("1;{}\r\nx\r\n", "p".repeat(500));
        while !reader.is_full() {
            assert_eq!(reader.next_request(), Ok(Parsed::Incomplete));
            reader.extend(chunk.as_bytes());
        }
        let e = reader.next_request().unwrap_err();
        assert!(
            matches!(e, HeadError::BodyTooLarge { max: 4096, .. }),
            "{e:?}"
        );
    }
}
