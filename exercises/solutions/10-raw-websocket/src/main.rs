//! Exercise 10 — a WebSocket client from a bare TCP socket (a solution).
//!
//! No WebSocket library: the Upgrade request is text we write ourselves, the
//! 101 answer is text we read, and the frame is bytes we build. All of it goes
//! over the one TCP connection that `connect()` made — nothing is "cut" after
//! the handshake.
//!
//! The two fixes: `Sec-WebSocket-Version: 13` in the request (without it the
//! server cannot know which protocol we mean), and a masked frame (a client
//! must mask every frame, RFC 6455 §5.1).
//!
//! Run:   cargo run -p ex10-raw-websocket-solution -- 127.0.0.1:8080   (against `socklab serve ws`)
//! Compare: socklab send ws://127.0.0.1:8080/ hello --wire
//! Check: socklab exercise check 10
use std::io::{self, Read, Write};
use std::net::TcpStream;

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let mut stream = TcpStream::connect(&addr)?;

    // 1. The Upgrade: an ordinary HTTP/1.1 GET with four extra headers.
    // (The key should be 16 random bytes in base64; this one is the RFC's example.)
    let request = format!(
        "GET / HTTP/1.1\r\n\
         Host: {addr}\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\
         \r\n"
    );
    stream.write_all(request.as_bytes())?;

    // 2. The answer's head, up to the empty line.
    let head = read_head(&mut stream)?;
    let status = head.lines().next().unwrap_or("").to_string();
    println!("status: {status}");
    if !status.starts_with("HTTP/1.1 101") {
        eprintln!("the server did not switch protocols:\n{head}");
        std::process::exit(1);
    }

    // 3. One text frame: FIN + opcode 1; MASK bit + length; the 4-byte key;
    // the payload XORed with the key. (The key should be random per frame.)
    let payload = b"hello";
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    stream.write_all(&frame)?;

    // 4. The server's frame back: 2 header bytes (a server never masks), then
    // the payload. (A short text: the length fits in byte 2.)
    let mut header = [0u8; 2];
    stream.read_exact(&mut header)?;
    let mut echo = vec![0u8; usize::from(header[1] & 0x7F)];
    stream.read_exact(&mut echo)?;
    if header[0] & 0x0F == 0x8 {
        // A close frame: its first two payload bytes are the status code.
        let code = echo.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        println!("closed by the server: code {code:?}");
        std::process::exit(1);
    }
    println!("echo: {}", String::from_utf8_lossy(&echo));
    Ok(())
}

/// Reads byte by byte up to and including the empty line that ends an HTTP
/// head. (Slow, but it never reads past the head into the first frame.)
fn read_head(stream: &mut TcpStream) -> io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            break; // the server closed before finishing the head
        }
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}
