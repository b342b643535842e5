//! Exercises whose answer is compared with what the check measures: 2 (frame
//! bytes, from tungstenite's own Frame and the wire view's decoding), 3 (the
//! close code for an unmasked frame, from ws-echo) and 7 (Sec-WebSocket-Accept,
//! from ws-echo's 101).

use std::io::{Cursor, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use client::wire::{HttpHead, close_code_name, data_frame, header_len, hex};
use client::{Incoming, Transport};
use sha1::{Digest, Sha1};
use tungstenite::protocol::frame::FrameHeader;

use super::{REPLY, read_for, ws_echo};
use crate::report::Report;
use crate::student::{Program, answer, answers};

/// Exercise 2's masking key.
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// One question of exercise 2: its key in answer.txt, the payload, text or
/// binary, masked or not, and whether the answer is the whole frame or the header.
struct Question {
    name: &'static str,
    len: usize,
    text: bool,
    masked: bool,
    whole: bool,
}

const QUESTIONS: [Question; 4] = [
    Question {
        name: "hi",
        len: 2,
        text: true,
        masked: true,
        whole: true,
    },
    Question {
        name: "client200",
        len: 200,
        text: false,
        masked: true,
        whole: false,
    },
    Question {
        name: "binary300",
        len: 300,
        text: false,
        masked: false,
        whole: false,
    },
    Question {
        name: "text70000",
        len: 70_000,
        text: true,
        masked: false,
        whole: false,
    },
];

/// Hex digits (spaces, colons and `0x` allowed) → bytes.
fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: String = text
        .replace("0x", "")
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':' && *c != ',')
        .collect();
    if digits.len() % 2 != 0 {
        return Err(format!("{} hex digits: bytes come in pairs", digits.len()));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&digits[i..i + 2], 16)
                .map_err(|_| format!("{:?} is not a hex byte", &digits[i..i + 2]))
        })
        .collect()
}

/// Exercise 2: each answer against the bytes tungstenite's Frame writes; where
/// they differ, the first field that differs, read the way the wire view reads it.
pub fn frame_bytes(dir: &Path) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let given = answers(dir)?;
    for question in &QUESTIONS {
        let payload: Vec<u8> = if question.name == "hi" {
            b"Hi".to_vec()
        } else {
            vec![b'a'; question.len]
        };
        let frame = data_frame(&payload, question.text, question.masked.then_some(KEY));
        let expected = if question.whole {
            frame.clone()
        } else {
            frame[..header_len(&frame).unwrap_or(2)].to_vec()
        };
        let name = question.name;
        let text = match answer(&given, name) {
            None => {
                report.wrong(format!("{name}: no `{name} =` line in answer.txt"));
                continue;
            }
            Some("") => {
                report.wrong(format!("{name}: no answer yet after `{name} =`"));
                continue;
            }
            Some(text) => text,
        };
        let bytes = match parse_hex(text) {
            Ok(bytes) => bytes,
            Err(why) => {
                report.wrong(format!("{name}: {text:?} is not hex bytes: {why}"));
                continue;
            }
        };
        if bytes == expected {
            report.ok(format!("{name}: {}", hex(&bytes)));
        } else {
            report.wrong(format!(
                "{name}: {}",
                diagnose(question, &bytes, &frame, &payload)
            ));
        }
    }
    Ok(report)
}

/// What is wrong with `bytes` as an answer to `q`, field by field.
fn diagnose(q: &Question, bytes: &[u8], frame: &[u8], payload: &[u8]) -> String {
    let mut cursor = Cursor::new(bytes);
    let (header, len) = match FrameHeader::parse(&mut cursor) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => {
            return format!(
                "{} is too short for a whole header: byte 2's length field decides how many bytes follow",
                hex(bytes)
            );
        }
        Err(e) => return format!("{} is not a frame header: {e}", hex(bytes)),
    };
    let header_bytes = cursor.position() as usize;
    let byte1 = frame[0];
    if bytes[0] != byte1 {
        return format!(
            "byte 1 is 0x{:02x} (FIN={}, opcode {}); a whole {} message in one frame starts 0x{byte1:02x}",
            bytes[0],
            u8::from(header.is_final),
            header.opcode,
            if q.text { "text" } else { "binary" }
        );
    }
    if header.mask.is_some() != q.masked {
        return if q.masked {
            format!(
                "the MASK bit is 0 (byte 2 is 0x{:02x}): a client must mask every frame, so byte 2 has its top bit set, and the 4-byte key follows the length",
                bytes[1]
            )
        } else {
            format!(
                "the MASK bit is 1 (byte 2 is 0x{:02x}): a server never masks, so byte 2's top bit is 0 and no key follows",
                bytes[1]
            )
        };
    }
    if len != q.len as u64 {
        return format!(
            "the header announces a payload of {len} bytes; the message is {} bytes",
            q.len
        );
    }
    let form = |n: usize| match n {
        0..=125 => "7-bit (in byte 2)",
        126..=65_535 => "16-bit (byte 2 says 126, then 2 bytes)",
        _ => "64-bit (byte 2 says 127, then 8 bytes)",
    };
    let wanted_header = header_len(frame).unwrap_or(2);
    if header_bytes != wanted_header {
        return format!(
            "the length {} is written in {header_bytes} header bytes; {} bytes take the {} form",
            q.len,
            q.len,
            form(q.len)
        );
    }
    if let Some(key) = header.mask.filter(|k| *k != KEY) {
        return format!(
            "the masking key is {}; the task gives {}",
            hex(&key),
            hex(&KEY)
        );
    }
    if !q.whole {
        if bytes.len() > header_bytes {
            return format!(
                "{} bytes after the header: write only the header ({header_bytes} bytes)",
                bytes.len() - header_bytes
            );
        }
        return format!(
            "expected {}, you wrote {}",
            hex(&frame[..wanted_header]),
            hex(bytes)
        );
    }
    let on_wire = &bytes[header_bytes..];
    let masked = &frame[header_bytes..];
    if on_wire == payload {
        return format!(
            "the payload is {} — \"Hi\" as it is; on the wire it is XORed with the key: {}",
            hex(on_wire),
            hex(masked)
        );
    }
    format!(
        "the payload on the wire is {}; \"Hi\" masked with {} is {}",
        hex(on_wire),
        hex(&KEY),
        hex(masked)
    )
}

/// Exercise 3: the close code written in answer.txt against ws-echo's answer
/// to an unmasked frame (built by tungstenite's Frame, sent past its codec).
pub fn unmasked(dir: &Path) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let given = answers(dir)?;
    let server = ws_echo()?;
    let mut ws = Transport::connect(&format!("ws://{}/", server.addr()))?;
    ws.set_read_timeout(Some(REPLY))?;
    ws.send_raw(&data_frame(b"hi", true, None))?;
    let measured = loop {
        match ws.receive() {
            Ok(Incoming::Close(code)) => break code,
            Ok(Incoming::Data(_) | Incoming::Ping(_) | Incoming::Pong(_)) => continue,
            Ok(Incoming::End) | Err(_) => break None,
        }
    };
    let Some(measured) = measured else {
        anyhow::bail!("ws-echo sent no close code for an unmasked frame: that is a bug in socklab");
    };
    report.note(format!(
        "ws-echo on {} answered an unmasked \"hi\" with close code {measured}",
        server.addr()
    ));
    match answer(&given, "close_code").map(str::parse::<u16>) {
        None => report.wrong("no `close_code =` line in answer.txt"),
        Some(Err(_)) => {
            report.wrong("close_code: write the number the server sent, e.g. `close_code = 1234`")
        }
        Some(Ok(code)) if code == measured => report.ok(format!(
            "close_code {code} ({}): the server refuses a client frame without a mask",
            close_code_name(code)
        )),
        Some(Ok(code)) => report.wrong(format!(
            "you wrote {code} ({}); the server closed our unmasked frame with {measured} ({})",
            close_code_name(code),
            close_code_name(measured)
        )),
    }
    Ok(report)
}

/// RFC 6455's GUID, for naming the usual mistakes.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Exercise 7: the student's Accept for fresh keys against ws-echo's 101.
pub fn accept(exe: &Path) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let server = ws_echo()?;
    let keys = fresh_keys(3)?;
    let mut truth = Vec::new();
    for key in &keys {
        truth.push(server_accept(server.addr(), key)?);
    }
    report.note(format!(
        "keys {}; ws-echo on {} answered each",
        keys.join(", "),
        server.addr()
    ));
    let mut program = Program::start(exe, &keys)?;
    program.finish(Duration::from_secs(5));
    for (i, (key, want)) in keys.iter().zip(&truth).enumerate() {
        let Some(got) = program.seen.get(i).map(|s| s.trim().to_string()) else {
            report.wrong(format!(
                "no line {} for key {key}: print one Accept per key",
                i + 1
            ));
            continue;
        };
        if got == *want {
            report.ok(format!("{key} → {got}, as the server's 101 says"));
            continue;
        }
        let sha = |text: &str| Sha1::digest(text.as_bytes()).to_vec();
        let b64 = |bytes: &[u8]| data_encoding::BASE64.encode(bytes);
        let decoded = data_encoding::BASE64
            .decode(key.as_bytes())
            .unwrap_or_default();
        let mistake = if got == b64(&sha(key)) {
            "that is base64(SHA-1(key)) without the GUID: append 258EAFA5-E914-47DA-95CA-C5AB0DC85B11 to the key first"
                .to_string()
        } else if got == b64(&sha(&format!("{GUID}{key}"))) {
            "that hashes the GUID followed by the key: the key comes first".to_string()
        } else if got == hex(&sha(&format!("{key}{GUID}"))).replace(' ', "") {
            "that is the right SHA-1 in hex: the header carries its 20 bytes in base64".to_string()
        } else if got
            == b64(&Sha1::digest(
                [decoded.as_slice(), GUID.as_bytes()].concat(),
            ))
        {
            "that hashes the key's decoded bytes: hash the key as the text the client sent"
                .to_string()
        } else {
            format!("expected {want}")
        };
        report.wrong(format!("{key} → you printed {got}; {mistake}"));
    }
    Ok(report)
}

/// `n` random 16-byte keys in base64, as a client makes them.
fn fresh_keys(n: usize) -> anyhow::Result<Vec<String>> {
    let mut random = vec![0u8; 16 * n];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut random)?;
    Ok(random
        .chunks(16)
        .map(|k| data_encoding::BASE64.encode(k))
        .collect())
}

/// The Sec-WebSocket-Accept a real server answers for `key`: an Upgrade by
/// hand, the 101 read back.
fn server_accept(addr: std::net::SocketAddr, key: &str) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    while HttpHead::response(&answer).is_none() {
        let more = read_for(&mut stream, answer.len() + 1, REPLY);
        if more.is_empty() {
            anyhow::bail!("ws-echo did not answer the Upgrade: a bug in socklab");
        }
        answer.extend_from_slice(&more);
    }
    HttpHead::response(&answer)
        .and_then(|h| h.header("Sec-WebSocket-Accept").map(str::to_string))
        .ok_or_else(|| {
            anyhow::anyhow!("ws-echo's 101 has no Sec-WebSocket-Accept: a bug in socklab")
        })
}
