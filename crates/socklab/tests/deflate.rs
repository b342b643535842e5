//! `socklab send --deflate` against ws-echo with and without `--deflate`: the
//! browser's offer, the agreement printed, and RFC 7692's compressed "Hello"
//! on the wire both ways (RSV1 set, the second one shorter: context takeover),
//! and the wire view's inflated text beside it.
//!
//! Run: `cargo test -p socklab --test deflate`.

use std::process::Command;

use serve::{Engine, Model, Running};

/// An in-process ws-echo on a kernel-chosen port, `--deflate` or not.
fn ws_echo(deflate: bool) -> Running {
    let config = ws_echo::Config {
        deflate,
        ..ws_echo::Config::default()
    };
    Running::tcp("127.0.0.1:0".parse().unwrap(), move |listener, shutdown| {
        ws_echo::serve(
            Model::EventLoop,
            listener,
            shutdown,
            config,
            Engine::new(1)?,
        )
    })
    .expect("ws-echo starts")
}

/// What `socklab send URL Hello Hello --deflate --wire` prints.
fn send_hello_twice(server: &Running) -> String {
    let url = format!("ws://{}/", server.addr());
    let out = Command::new(env!("CARGO_BIN_EXE_socklab"))
        .args([
            "send",
            &url,
            "Hello",
            "Hello",
            "--deflate",
            "--wire",
            "--no-color",
        ])
        .output()
        .expect("socklab runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// Lesson: what a browser asks for, agreed by `serve ws --deflate`; the echo
/// comes back whole, and the wire view shows the RFC's exact compressed bytes.
#[test]
fn send_deflate_compresses_both_ways() {
    let server = ws_echo(true);
    let text = send_hello_twice(&server);
    assert!(
        text.contains("sec-websocket-extensions: permessage-deflate; client_max_window_bits"),
        "{text}"
    );
    assert!(
        text.contains("permessage-deflate agreed: permessage-deflate"),
        "{text}"
    );
    assert_eq!(
        text.matches("← \"Hello\" (5 bytes, one message)").count(),
        2,
        "{text}"
    );
    // Both directions: "Hello" as RFC 7692 §7.2.3.1, then §7.2.3.2.
    assert_eq!(text.matches("f2 48 cd c9 c9 07 00  ").count(), 2, "{text}");
    assert_eq!(text.matches("f2 00 11 00 00  ").count(), 2, "{text}");
    assert_eq!(text.matches("FIN=1 RSV1=1").count(), 4, "{text}");
    // The wire view inflates each one, in order (the second needs the first's
    // window): the text beside the compressed bytes.
    let inflated = "inflated    5 bytes (RSV1: compressed, permessage-deflate)  \"Hello\"";
    assert_eq!(text.matches(inflated).count(), 4, "{text}");
}

/// Off by default: the same offer, no agreement, plain frames.
#[test]
fn send_deflate_without_agreement_goes_plain() {
    let server = ws_echo(false);
    let text = send_hello_twice(&server);
    assert!(
        text.contains("permessage-deflate offered, not agreed"),
        "{text}"
    );
    assert_eq!(
        text.matches("← \"Hello\" (5 bytes, one message)").count(),
        2,
        "{text}"
    );
    assert!(!text.contains("RSV1=1"), "{text}");
}
