//! Exercise 7: the student's Sec-WebSocket-Accept for fresh random keys,
//! against what ws-echo's 101 answers for the same keys; a wrong one is named
//! by the usual mistake it matches (no GUID, wrong order, hex, decoded key).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use client::wire::{HttpHead, hex};
use sha1::{Digest, Sha1};

use super::{REPLY, read_for, ws_echo};
use crate::report::Report;
use crate::student::Program;

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
    report.note_ko(
        format!(
            "keys {}; ws-echo on {} answered each",
            keys.join(", "),
            server.addr()
        ),
        format!(
            "키 {}. ws-echo({})가 키마다 답했습니다",
            keys.join(", "),
            server.addr()
        ),
    );
    let mut program = Program::start(exe, &keys)?;
    program.finish(Duration::from_secs(5));
    for (i, (key, want)) in keys.iter().zip(&truth).enumerate() {
        let Some(got) = program.seen.get(i).map(|s| s.trim().to_string()) else {
            report.wrong_ko(
                format!("no line {} for key {key}: print one Accept per key", i + 1),
                format!(
                    "키 {key}에 대한 {}번째 줄이 없습니다. 키마다 Accept를 한 줄씩 출력하세요",
                    i + 1
                ),
            );
            continue;
        };
        if got == *want {
            report.ok_ko(
                format!("{key} → {got}, as the server's 101 says"),
                format!("{key} → {got}, 서버의 101과 같습니다"),
            );
            continue;
        }
        let sha = |text: &str| Sha1::digest(text.as_bytes()).to_vec();
        let b64 = |bytes: &[u8]| data_encoding::BASE64.encode(bytes);
        let decoded = data_encoding::BASE64
            .decode(key.as_bytes())
            .unwrap_or_default();
        let (mistake, mistake_ko) = if got == b64(&sha(key)) {
            (
                "that is base64(SHA-1(key)) without the GUID: RFC 6455 section 4.2.2, item 5.4, names \
                 what is appended to the key before hashing",
                "이것은 GUID 없이 구한 base64(SHA-1(key))입니다. 해시하기 전에 키 뒤에 무엇을 붙이는지는 \
                 RFC 6455 4.2.2절 5.4 항목에 있습니다",
            )
        } else if got == b64(&sha(&format!("{GUID}{key}"))) {
            (
                "that hashes the GUID followed by the key: RFC 6455 section 4.2.2 says in which order",
                "GUID 뒤에 키를 붙여 해시했습니다. 어느 순서인지는 RFC 6455 4.2.2절에 있습니다",
            )
        } else if got == hex(&sha(&format!("{key}{GUID}"))).replace(' ', "") {
            (
                "that is the right SHA-1, in hex: RFC 6455 section 4.2.2 says how the 20 bytes are encoded in the header",
                "SHA-1 값은 맞지만 16진수입니다. 20바이트를 헤더에 어떻게 인코딩하는지는 RFC 6455 4.2.2절에 있습니다",
            )
        } else if got
            == b64(&Sha1::digest(
                [decoded.as_slice(), GUID.as_bytes()].concat(),
            ))
        {
            (
                "that hashes the key's decoded bytes: hash the key as the text the client sent",
                "키를 디코딩한 바이트를 해시했습니다. 클라이언트가 보낸 문자열 그대로 해시하세요",
            )
        } else {
            (
                "not the Accept the server derived: `socklab handshake KEY --explain` shows each step for this key",
                "서버가 계산한 Accept와 다릅니다. `socklab handshake KEY --explain`이 이 키로 단계마다 보여 줍니다",
            )
        };
        report.reveal(format!("{key} → {want}"));
        report.wrong_ko(
            format!("{key} → you printed {got}; {mistake}"),
            format!("{key} → 출력한 값 {got}: {mistake_ko}"),
        );
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
