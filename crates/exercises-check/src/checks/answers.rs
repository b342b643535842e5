//! Exercises whose answer.txt is compared with what the check measures: 2
//! (frame bytes, from tungstenite's own Frame and the wire view's decoding) and
//! 3 (the close code for an unmasked frame, from ws-echo).

use std::io::Cursor;
use std::path::Path;

use client::wire::{close_code_name, data_frame, header_len, hex};
use client::{Incoming, Transport};
use tungstenite::protocol::frame::FrameHeader;

use super::{REPLY, ws_echo};
use crate::report::Report;
use crate::student::{answer, answers};

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
        if answer(&given, name)
            .and_then(|t| parse_hex(t).ok())
            .as_ref()
            != Some(&expected)
        {
            report.reveal(format!("{name} = {}", hex(&expected)));
        }
        let text = match answer(&given, name) {
            None => {
                report.wrong_ko(
                    format!("{name}: no `{name} =` line in answer.txt"),
                    format!("{name}: answer.txt에 `{name} =` 줄이 없습니다"),
                );
                continue;
            }
            Some("") => {
                report.wrong_ko(
                    format!("{name}: no answer yet after `{name} =`"),
                    format!("{name}: `{name} =` 뒤에 아직 답이 없습니다"),
                );
                continue;
            }
            Some(text) => text,
        };
        let bytes = match parse_hex(text) {
            Ok(bytes) => bytes,
            Err(why) => {
                report.wrong_ko(
                    format!("{name}: {text:?} is not hex bytes: {why}"),
                    format!("{name}: {text:?} — 16진수 바이트가 아닙니다: {why}"),
                );
                continue;
            }
        };
        if bytes == expected {
            report.ok(format!("{name}: {}", hex(&bytes)));
        } else {
            let (en, ko) = diagnose(question, &bytes, &frame, &payload);
            report.wrong_ko(format!("{name}: {en}"), format!("{name}: {ko}"));
        }
    }
    Ok(report)
}

/// What is wrong with `bytes` as an answer to `q`, field by field, in English
/// and Korean: the first field that differs and where RFC 6455 explains it,
/// never the bytes that would be right.
fn diagnose(q: &Question, bytes: &[u8], frame: &[u8], payload: &[u8]) -> (String, String) {
    let mut cursor = Cursor::new(bytes);
    let (header, len) = match FrameHeader::parse(&mut cursor) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => {
            return (
                format!(
                    "{} is too short for a whole header: byte 2's length field decides how many bytes follow \
                     (RFC 6455 section 5.2, Payload length)",
                    hex(bytes)
                ),
                format!(
                    "{} — 헤더 하나가 되기에 너무 짧습니다. 뒤에 몇 바이트가 더 오는지는 둘째 바이트의 길이 \
                     필드가 정합니다(RFC 6455 5.2절, Payload length)",
                    hex(bytes)
                ),
            );
        }
        Err(e) => {
            return (
                format!("{} is not a frame header: {e}", hex(bytes)),
                format!("{} — 프레임 헤더가 아닙니다: {e}", hex(bytes)),
            );
        }
    };
    let header_bytes = cursor.position() as usize;
    let kind = if q.text { "text" } else { "binary" };
    let kind_ko = if q.text { "텍스트" } else { "바이너리" };
    if bytes[0] != frame[0] {
        return (
            format!(
                "byte 1 is 0x{:02x} (FIN={}, opcode {}), which is not a whole {kind} message in one frame: \
                 RFC 6455 section 5.2 (FIN, opcode) and section 11.8 (the opcodes)",
                bytes[0],
                u8::from(header.is_final),
                header.opcode,
            ),
            format!(
                "첫 바이트가 0x{:02x}(FIN={}, opcode {})인데, 이것은 프레임 하나에 담긴 {kind_ko} 메시지 전체가 \
                 아닙니다. RFC 6455 5.2절(FIN, opcode)과 11.8절(opcode 목록)을 보세요",
                bytes[0],
                u8::from(header.is_final),
                header.opcode,
            ),
        );
    }
    if header.mask.is_some() != q.masked {
        return if q.masked {
            (
                format!(
                    "the MASK bit is 0 (byte 2 is 0x{:02x}), but this frame is the client's: \
                     RFC 6455 section 5.1 says which frames are masked, section 5.2 where the bit and the key go",
                    bytes[1]
                ),
                format!(
                    "MASK 비트가 0입니다(둘째 바이트 0x{:02x}). 그런데 이 프레임은 클라이언트가 보내는 것입니다. \
                     어떤 프레임을 마스킹하는지는 RFC 6455 5.1절에, 비트와 키가 어디에 들어가는지는 5.2절에 있습니다",
                    bytes[1]
                ),
            )
        } else {
            (
                format!(
                    "the MASK bit is 1 (byte 2 is 0x{:02x}), but this frame is the server's: \
                     RFC 6455 section 5.1 says which side masks",
                    bytes[1]
                ),
                format!(
                    "MASK 비트가 1입니다(둘째 바이트 0x{:02x}). 그런데 이 프레임은 서버가 보내는 것입니다. \
                     어느 쪽이 마스킹하는지는 RFC 6455 5.1절에 있습니다",
                    bytes[1]
                ),
            )
        };
    }
    if len != q.len as u64 {
        return (
            format!(
                "the header announces a payload of {len} bytes; the message is {} bytes \
                 (RFC 6455 section 5.2, Payload length: the length is big-endian)",
                q.len
            ),
            format!(
                "헤더가 알리는 페이로드 길이는 {len}바이트인데, 메시지는 {}바이트입니다 \
                 (RFC 6455 5.2절, Payload length: 길이는 빅 엔디언입니다)",
                q.len
            ),
        );
    }
    let wanted_header = header_len(frame).unwrap_or(2);
    if header_bytes != wanted_header {
        return (
            format!(
                "the length {} is written in the wrong one of the three length forms: RFC 6455 section 5.2 \
                 (Payload length) says which form a payload of this size takes",
                q.len
            ),
            format!(
                "길이 {}를 세 가지 길이 표기 중 맞지 않는 것으로 썼습니다. 이 크기의 페이로드가 어느 표기를 \
                 쓰는지는 RFC 6455 5.2절(Payload length)에 있습니다",
                q.len
            ),
        );
    }
    if let Some(key) = header.mask.filter(|k| *k != KEY) {
        return (
            format!(
                "the masking key is {}, not the one the comment above the question gives",
                hex(&key)
            ),
            format!(
                "마스킹 키가 {}인데, 문제 위 주석에 적힌 키와 다릅니다",
                hex(&key)
            ),
        );
    }
    if !q.whole {
        return (
            format!(
                "{} bytes after the header: the question asks for the header only, every byte before the payload",
                bytes.len() - header_bytes
            ),
            format!(
                "헤더 뒤에 {}바이트가 더 있습니다. 문제는 헤더만, 즉 페이로드 앞의 바이트만 묻습니다",
                bytes.len() - header_bytes
            ),
        );
    }
    let on_wire = &bytes[header_bytes..];
    if on_wire == payload {
        return (
            "the payload is \"Hi\" as it is, but a masked frame does not carry its payload in the clear: \
             RFC 6455 section 5.3 (client-to-server masking)"
                .to_string(),
            "페이로드가 \"Hi\" 그대로입니다. 마스킹된 프레임은 페이로드를 그대로 싣지 않습니다: \
             RFC 6455 5.3절(client-to-server masking)"
                .to_string(),
        );
    }
    (
        format!(
            "the header is right but the payload {} is not \"Hi\" masked with the key: \
             RFC 6455 section 5.3 says which key byte each payload byte is XORed with",
            hex(on_wire)
        ),
        format!(
            "헤더는 맞지만 페이로드({})가 \"Hi\"를 그 키로 마스킹한 값이 아닙니다. 페이로드의 각 바이트를 \
             키의 몇 번째 바이트와 XOR하는지는 RFC 6455 5.3절에 있습니다",
            hex(on_wire)
        ),
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
    report.note_ko(
        format!(
            "ws-echo on {} was sent an unmasked \"hi\" and answered with a close frame",
            server.addr()
        ),
        format!(
            "ws-echo({})에 마스크 없는 \"hi\"를 보냈고, close 프레임으로 답이 왔습니다",
            server.addr()
        ),
    );
    report.reveal(format!("close_code = {measured}"));
    match answer(&given, "close_code").map(str::parse::<u16>) {
        None => report.wrong_ko(
            "no `close_code =` line in answer.txt",
            "answer.txt에 `close_code =` 줄이 없습니다",
        ),
        Some(Err(_)) => report.wrong_ko(
            "close_code: write the number the server sent, e.g. `close_code = 1234`",
            "close_code: 서버가 보낸 숫자를 적으세요. 예: `close_code = 1234`",
        ),
        Some(Ok(code)) if code == measured => report.ok_ko(
            format!(
                "close_code {code} ({}): the server refuses a client frame without a mask",
                close_code_name(code)
            ),
            format!(
                "close_code {code} ({}): 서버는 마스크 없는 클라이언트 프레임을 거부합니다",
                close_code_name(code)
            ),
        ),
        Some(Ok(code)) => report.wrong_ko(
            format!(
                "you wrote {code} ({}), which is not what the server sent for our unmasked frame. \
                 Send one yourself and read the server's close frame in the --wire view: its first two \
                 payload bytes are the code (RFC 6455 section 5.5.1; what each code means: section 7.4.1)",
                close_code_name(code)
            ),
            format!(
                "{code}({})라고 적었는데, 서버가 마스크 없는 프레임에 보낸 코드가 아닙니다. 직접 보내 보고 \
                 --wire 출력에서 서버의 close 프레임을 읽어 보세요. 페이로드의 처음 두 바이트가 코드입니다 \
                 (RFC 6455 5.5.1절, 코드별 뜻은 7.4.1절)",
                close_code_name(code)
            ),
        ),
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wrong answer to exercise 2 is told what is wrong and where to read,
    /// never the bytes that would be right (those are for `--reveal`).
    #[test]
    fn a_diagnosis_never_gives_the_answer_away() {
        let wrong: [&[u8]; 6] = [
            &[0x81, 0x02, 0x48, 0x69],                         // unmasked
            &[0x01, 0x82, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x93], // FIN 0
            &[0x81, 0x82, 0x37, 0xfa, 0x21, 0x3d, 0x48, 0x69], // payload in the clear
            &[0x81, 0x82, 0x37, 0xfa, 0x21, 0x3d, 0x00, 0x00], // payload wrong
            &[0x82, 0xc8, 0x37, 0xfa, 0x21, 0x3d],             // 7-bit length 72
            &[0x81, 0x82, 0x01, 0x02, 0x03, 0x04, 0x7f, 0x93], // another key
        ];
        for q in &QUESTIONS {
            let payload: Vec<u8> = if q.name == "hi" {
                b"Hi".to_vec()
            } else {
                vec![b'a'; q.len]
            };
            let frame = data_frame(&payload, q.text, q.masked.then_some(KEY));
            let expected = if q.whole {
                frame.clone()
            } else {
                frame[..header_len(&frame).unwrap_or(2)].to_vec()
            };
            for bytes in wrong {
                if bytes == expected.as_slice() {
                    continue;
                }
                let (en, ko) = diagnose(q, bytes, &frame, &payload);
                for text in [&en, &ko] {
                    assert!(
                        !text.contains(&hex(&expected)),
                        "{}: {text} gives {} away",
                        q.name,
                        hex(&expected)
                    );
                    // Not even the masked payload alone.
                    if q.whole {
                        let masked = hex(&frame[header_len(&frame).unwrap_or(2)..]);
                        assert!(!text.contains(&masked), "{}: {text}", q.name);
                    }
                }
            }
        }
    }
}
