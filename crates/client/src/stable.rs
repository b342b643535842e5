//! `--stable`: output that two runs print identically, for a blog post or a
//! diff. What differs between two runs on one machine is replaced by a
//! placeholder that says what stood there:
//!
//! | placeholder | what it replaces                                   | why it varies                   |
//! |-------------|----------------------------------------------------|---------------------------------|
//! | `<port>`    | an ephemeral port (`127.0.0.1:<port>`, `client port <port>`) | the kernel picks them |
//! | `<time>`    | a time, a latency, an interval's ends (µs, ms, s)  | the machine's load              |
//! | `<%>`       | a share of slow rounds                             | the scheduler's wake-ups        |
//! | `<n> reads` | how many `read()`s a TCP stream took               | how the kernel batched segments |
//! | `<verdict>` | compare's verdict on a difference                  | it is decided by the times      |
//! | `<bytes>`   | bytes received over TLS for back-to-back sends (compare's tls and wss columns) | how many TLS records the server sealed its echoes in, which follows how the kernel batched its reads |
//!
//! An ephemeral port has five digits (Linux hands out 32768–60999); the fixed
//! ports the docs name (7007, 8080) have four and stay. Everything else — byte counts, frames, states, close codes, and the client's
//! key and masks when `--seed` fixes them — is printed as measured: those are
//! the lessons, and they do not vary.
//!
//! The pass works on finished text ([`text`]), so every command gets it the
//! same way; a table pads its columns after the pass ([`cell`]), so its layout
//! does not depend on the width of a time it no longer shows.

use std::sync::LazyLock;

use regex::Regex;

/// The placeholder for a time, whatever its unit: a run may print one figure
/// in µs and the next in ms.
pub const TIME: &str = "<time>";

/// The placeholder for a verdict word ("tcp lower", "no measurable difference").
pub const VERDICT: &str = "<verdict>";

/// The placeholder for a byte count that follows the kernel's batching: what
/// came back over TLS for sends made back to back (one record per batch the
/// server read, 22 bytes of record each).
pub const BYTES: &str = "<bytes>";

/// A pattern and what it becomes; `$1`… keep the pattern's groups.
struct Rule {
    pattern: Regex,
    replacement: &'static str,
}

/// The rules, in order: an interval before the single times inside it.
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |pattern: &str, replacement: &'static str| Rule {
        // The patterns are constants, checked by the tests below.
        pattern: Regex::new(pattern).expect("a valid --stable pattern"),
        replacement,
    };
    vec![
        // A loopback address's port: 127.0.0.1:43521, [::1]:43521, localhost:43521.
        rule(
            r"(127\.\d+\.\d+\.\d+|\[::1\]|localhost):\d{5}\b",
            "$1:<port>",
        ),
        rule(r"\b(client|server) port \d{5}\b", "$1 port <port>"),
        // An interval in brackets: [26.5–34.0] (an IQR), [-1.5, -0.6] (a CI).
        rule(
            r"\[[+-]?\d+(?:\.\d+)?(–|, )[+-]?\d+(?:\.\d+)?\]",
            "[<time>$1<time>]",
        ),
        // A time with its unit: 80 µs, +4.1 µs, 1.2 ms, 0.2 s.
        rule(r"[+-]?\b\d+(?:\.\d+)? ?(?:µs|ms|s)\b", TIME),
        // A share of slow rounds: "3 % (> …".
        rule(r"\b\d+ % \(>", "<%> (>"),
        // TCP read counts: the kernel's batching, not the protocol.
        rule(r"\b\d+ reads?\b", "<n> reads"),
    ]
});

/// `text` with every value that varies between runs replaced by its placeholder.
pub fn text(text: &str) -> String {
    RULES.iter().fold(text.to_string(), |text, rule| {
        rule.pattern
            .replace_all(&text, rule.replacement)
            .into_owned()
    })
}

/// One table cell under `stable` (unchanged otherwise), before the table pads it.
pub fn cell(stable: bool, cell: String) -> String {
    if stable { text(&cell) } else { cell }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ports, in URLs, 4-tuples and the lifecycle's own words.
    #[test]
    fn ports_become_placeholders() {
        assert_eq!(
            text("tcp 127.0.0.1:48194 <-> 127.0.0.1:39799 ws://[::1]:38080/"),
            "tcp 127.0.0.1:<port> <-> 127.0.0.1:<port> ws://[::1]:<port>/"
        );
        assert_eq!(
            text("connect → SYN, SYN-ACK, ACK (client port 49428)"),
            "connect → SYN, SYN-ACK, ACK (client port <port>)"
        );
    }

    /// Times in every form the table and the tour print them.
    #[test]
    fn times_become_placeholders() {
        assert_eq!(text("connect 80 µs; x"), "connect <time>; x");
        assert_eq!(text("28.0 µs [26.5–34.0]"), "<time> [<time>–<time>]");
        assert_eq!(
            text("ws − tcp     +4.1 µs  [+3.6, +4.6]  tcp lower"),
            "ws − tcp     <time>  [<time>, <time>]  tcp lower"
        );
        assert_eq!(text("2 % (> 50.8 µs)"), "<%> (> <time>)");
        assert_eq!(text("1.2 ms"), "<time>");
        assert_eq!(
            text("The tour took 0.2 s. Now"),
            "The tour took <time>. Now"
        );
    }

    /// The kernel's read counts go; the protocol's counts stay.
    #[test]
    fn read_counts_go_message_counts_stay() {
        assert_eq!(
            text("3 messages in 1 read, 18 reads, 3 datagrams"),
            "3 messages in <n> reads, <n> reads, 3 datagrams"
        );
    }

    /// What does not vary is left alone: byte counts, constants, seeds, words
    /// that only look like units.
    #[test]
    fn constants_are_left_alone() {
        for same in [
            "154 B out, 129 B in; \"hello\" = 11 bytes out",
            "95 % interval over blocks (2000 resamples, seed 0x50c1ab00)",
            "3 sends → 3 datagrams; read() = 0; client read 5",
            "Sec-WebSocket-Key: +tk/6odN8E3M3KTJPqYLoA==",
            "socklab serve all: tcp on 127.0.0.1:7007, ws on 127.0.0.1:8080",
            "3 sends → 3 messages; 20 rounds",
            "the 10 %-trimmed means; 1 send of 1 MiB",
        ] {
            assert_eq!(text(same), same);
        }
    }

    /// The pass is idempotent: stable text stays as it is.
    #[test]
    fn stable_text_is_a_fixed_point() {
        let once = text("127.0.0.1:1 80 µs [1.0–2.0] 3 % (> 4.0 µs) 2 reads");
        assert_eq!(text(&once), once);
    }
}
