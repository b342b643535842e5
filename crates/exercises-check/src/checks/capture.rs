//! Exercise 13: questions about a committed capture (exercises/13-capture/ws.pcap,
//! a copy of docs/captures/ws.pcap, so a new capture for the book never changes
//! the answers). The student reads the packets with tshark or Wireshark and
//! writes what they found in answer.txt.
//!
//! The answers are not in the source or the data file in the clear: the data
//! file holds the SHA-1 of `socklab exercise 13: NAME = VALUE` per question (see
//! [`digest`]). That keeps a student from reading the answer next to the
//! question; it is no secret (a port number can be guessed by hashing every
//! port), and does not need to be one. The test below derives every answer
//! from the pcap itself, so the hashes cannot drift from the capture.

use std::path::Path;

use sha1::{Digest, Sha1};

use crate::catalog::Exercise;
use crate::report::Report;
use crate::student::{answer, answers};

/// One question: its name in answer.txt, and where to look when the answer is
/// wrong (English, Korean) — the place, never the value.
struct Question {
    name: &'static str,
    look: &'static str,
    look_ko: &'static str,
}

const QUESTIONS: [Question; 6] = [
    Question {
        name: "server_port",
        look: "the first packet is the client's SYN, sent from the client's port to the server's \
               (`tshark -r ws.pcap -c 3`)",
        look_ko: "첫 패킷은 클라이언트의 SYN이고, 클라이언트 포트에서 서버 포트로 갑니다(`tshark -r ws.pcap -c 3`)",
    },
    Question {
        name: "client_port",
        look: "the client's port is the other end of the same SYN; the kernel chose it (an ephemeral port)",
        look_ko: "클라이언트 포트는 같은 SYN의 다른 쪽 끝입니다. 커널이 고른 임시(ephemeral) 포트입니다",
    },
    Question {
        name: "tcp_header_bytes",
        look: "the TCP layer of the packet that carries \"hello\" says its own Header Length \
               (`tshark -r ws.pcap -V -Y 'frame.number==8'`); options such as timestamps make it longer than 20",
        look_ko: "\"hello\"를 실은 패킷의 TCP 계층에 Header Length가 나옵니다(`tshark -r ws.pcap -V -Y 'frame.number==8'`). \
                  타임스탬프 같은 옵션이 있으면 20보다 길어집니다",
    },
    Question {
        name: "ws_header_bytes",
        look: "count the bytes of the WebSocket frame before its payload: 2, plus an extended length if any, \
               plus a masking key if the frame is the client's (RFC 6455 section 5.2); decode the port as HTTP \
               (`-d tcp.port==PORT,http`) so tshark shows the WebSocket layer",
        look_ko: "WebSocket 프레임에서 페이로드 앞의 바이트를 세어 보세요. 2바이트에, 확장 길이가 있으면 그만큼, \
                  클라이언트 프레임이면 마스킹 키가 더해집니다(RFC 6455 5.2절). 포트를 HTTP로 디코딩하면 \
                  (`-d tcp.port==PORT,http`) tshark가 WebSocket 계층을 보여 줍니다",
    },
    Question {
        name: "masking_key",
        look: "the client's frame carrying \"hello\" has a Masking-Key field in the WebSocket layer: \
               write its 4 bytes in hex",
        look_ko: "\"hello\"를 실은 클라이언트 프레임의 WebSocket 계층에 Masking-Key 필드가 있습니다. \
                  그 4바이트를 16진수로 적으세요",
    },
    Question {
        name: "first_fin",
        look: "look at the flags of the last packets: which side's packet is the first to carry FIN? \
               (lesson 11: that side keeps TIME_WAIT)",
        look_ko: "마지막 패킷들의 플래그를 보세요. FIN을 처음 실은 패킷은 어느 쪽이 보냈나요? \
                  (레슨 11: 그쪽에 TIME_WAIT가 남습니다)",
    },
];

/// An answer as written, made comparable: lower case, no spaces, colons or
/// `0x`, a number without leading zeros, "the server" as "server".
fn normalise(text: &str) -> String {
    let text = text.trim().to_ascii_lowercase();
    let text = text.strip_prefix("the ").unwrap_or(&text);
    let compact: String = text
        .replace("0x", "")
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    match compact.parse::<u64>() {
        Ok(n) if !compact.is_empty() && compact.chars().all(|c| c.is_ascii_digit()) => {
            n.to_string()
        }
        _ => compact,
    }
}

/// What the data file stores for question `name` with answer `value`.
pub fn digest(name: &str, value: &str) -> String {
    let bytes = Sha1::digest(format!("socklab exercise 13: {name} = {value}").as_bytes());
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Exercise 13: each answer's digest against the one in exercises.toml.
pub fn capture(e: &Exercise, dir: &Path) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let given = answers(dir)?;
    report.note_ko(
        "the capture: exercises/13-capture/ws.pcap (socklab send ws://… hello socklab bye)",
        "캡처 파일: exercises/13-capture/ws.pcap (socklab send ws://… hello socklab bye)",
    );
    for q in &QUESTIONS {
        let Some(stored) = e.answers.get(q.name) else {
            anyhow::bail!(
                "exercises.toml has no answer for {}: a bug in socklab",
                q.name
            );
        };
        let name = q.name;
        match answer(&given, name).map(normalise) {
            None => report.wrong_ko(
                format!("{name}: no `{name} =` line in answer.txt"),
                format!("{name}: answer.txt에 `{name} =` 줄이 없습니다"),
            ),
            Some(v) if v.is_empty() => report.wrong_ko(
                format!("{name}: no answer yet; {}", q.look),
                format!("{name}: 아직 답이 없습니다. {}", q.look_ko),
            ),
            Some(v) if digest(name, &v) == *stored => report.ok(format!("{name} = {v}")),
            Some(v) => report.wrong_ko(
                format!("{name}: {v} is not what the capture shows; {}", q.look),
                format!("{name} = {v}: 캡처에 나온 값이 아닙니다. {}", q.look_ko),
            ),
        }
    }
    report.reveal("the answers are in exercises/solutions/13-capture/answer.txt (the data file keeps only digests)");
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One TCP segment of a pcap on lo (Ethernet-framed, as tcpdump -i lo writes it).
    struct Segment {
        src: u16,
        dst: u16,
        tcp_header: usize,
        fin: bool,
        payload: Vec<u8>,
    }

    /// The TCP segments of a little-endian pcap with Ethernet + IPv4 frames.
    fn segments(pcap: &[u8]) -> Vec<Segment> {
        let u32le = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        let u16be = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
        let mut out = Vec::new();
        let mut at = 24; // the global header
        while at + 16 <= pcap.len() {
            let len = u32le(&pcap[at + 8..]);
            let frame = &pcap[at + 16..at + 16 + len];
            at += 16 + len;
            let ip = &frame[14..];
            let ip_header = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(u16be(&ip[2..]));
            let tcp = &ip[ip_header..total];
            let tcp_header = usize::from(tcp[12] >> 4) * 4;
            out.push(Segment {
                src: u16be(tcp),
                dst: u16be(&tcp[2..]),
                tcp_header,
                fin: tcp[13] & 0x01 != 0,
                payload: tcp[tcp_header..].to_vec(),
            });
        }
        out
    }

    /// Exercise 13's stored digests are those of the answers the capture
    /// itself gives, and the solution's answer.txt passes.
    #[test]
    fn the_digests_match_the_capture() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../exercises");
        let pcap = std::fs::read(format!("{root}/13-capture/ws.pcap")).expect("the capture");
        let segs = segments(&pcap);
        let syn = &segs[0];
        let (client, server) = (syn.src, syn.dst);
        // The client's first frame: the first payload from the client after the Upgrade.
        let frame = segs
            .iter()
            .filter(|s| s.src == client && !s.payload.is_empty())
            .nth(1)
            .expect("a client frame");
        let ws = &frame.payload;
        assert_eq!(ws[1] & 0x80, 0x80, "the client's frame is masked");
        assert!(ws[1] & 0x7f <= 125, "a short frame: no extended length");
        let key: String = ws[2..6].iter().map(|b| format!("{b:02x}")).collect();
        let first_fin = segs.iter().find(|s| s.fin).expect("a FIN");
        let side = if first_fin.src == server {
            "server"
        } else {
            "client"
        };
        let truth = [
            ("server_port", server.to_string()),
            ("client_port", client.to_string()),
            ("tcp_header_bytes", frame.tcp_header.to_string()),
            ("ws_header_bytes", "6".to_string()),
            ("masking_key", key),
            ("first_fin", side.to_string()),
        ];
        let e = crate::catalog::exercise(13).expect("exercise 13");
        assert_eq!(e.answers.len(), QUESTIONS.len());
        for (name, value) in &truth {
            assert_eq!(e.answers.get(*name), Some(&digest(name, value)), "{name}");
        }
        let dir = Path::new(root).join("solutions/13-capture");
        let report = capture(e, &dir).expect("the check runs");
        assert!(report.passed(), "{report}");
    }

    /// Answers are compared after the small differences a person types.
    #[test]
    fn answers_are_normalised() {
        assert_eq!(normalise(" F1:87:A7:5E "), "f187a75e");
        assert_eq!(normalise("0xf1 0x87 0xa7 0x5e"), "f187a75e");
        assert_eq!(normalise("The server"), "server");
        assert_eq!(normalise("032"), "32");
    }
}
