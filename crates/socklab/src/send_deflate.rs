//! `socklab send --deflate`: the offer a browser makes (permessage-deflate,
//! RFC 7692), and one line saying what the server made of it — the agreement
//! and what it means for the bytes, or that it declined and nothing will be
//! compressed.

use client::transport::DeflateOffer;
use client::{Framing, Scheme};
use websocket::deflate::Agreement;

/// The offer for `--deflate` (and `--deflate-no-context-takeover`), or `None`
/// without it; an error for a scheme that has no WebSocket Upgrade.
pub fn offer(
    scheme: Scheme,
    deflate: bool,
    no_context_takeover: bool,
) -> anyhow::Result<Option<DeflateOffer>> {
    if !deflate {
        return Ok(None);
    }
    if scheme.framing() != Framing::Messages {
        anyhow::bail!(
            "--deflate is a WebSocket extension, offered in the Upgrade: it needs a ws:// or wss:// URL"
        );
    }
    Ok(Some(DeflateOffer {
        server_no_context_takeover: no_context_takeover,
        client_no_context_takeover: no_context_takeover,
    }))
}

/// What the 101 agreed, in one line.
pub fn agreement_line(agreement: Option<&Agreement>) -> String {
    let Some(a) = agreement else {
        return "permessage-deflate offered, not agreed (no Sec-WebSocket-Extensions in the 101): messages go uncompressed".to_string();
    };
    let takeover = |no: bool| {
        if no {
            "each message from an empty window"
        } else {
            "window kept between messages"
        }
    };
    format!(
        "permessage-deflate agreed: {} — server compresses with a 2^{}-byte window, {}; we compress with 2^{}, {}",
        a.response(),
        a.server_max_window_bits,
        takeover(a.server_no_context_takeover),
        a.client_max_window_bits,
        takeover(a.client_no_context_takeover),
    )
}
