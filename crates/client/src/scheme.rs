//! The scheme registry: every kind of URL the client understands, and what
//! each one needs, in one table.
//!
//! A scheme is a choice of three things: how the bytes are cut into units
//! ([`Framing`]), whether a TLS layer sits under them ([`Scheme::secure`]), and
//! which port a URL may leave out. The transport asks the scheme these questions
//! instead of matching on its name, so a new scheme is one row in [`REGISTRY`]
//! (and, if it needs one, one new layer in the transport): `tls://` is
//! `Framing::Bytes` + secure, `wss://` is `Framing::Messages` + secure.
//!
//! Try: `socklab send http://127.0.0.1:8080/` — an unknown scheme is answered
//! with the list below and, where one fits, the scheme to use instead.

use std::fmt;

/// How a transport cuts what it carries into the units `receive` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Framing {
    /// A byte stream (TCP): one `read()` returns whatever has arrived, and
    /// message boundaries are not kept.
    Bytes,
    /// Datagrams (UDP): each one arrives whole or not at all; no connection.
    Datagrams,
    /// Messages (WebSocket): frames on a byte stream, after an HTTP Upgrade.
    Messages,
    /// Requests and responses (HTTP/1.1): the client asks, the server answers;
    /// `socklab send` speaks it (see `client::http`), the echo tools do not.
    Requests,
}

impl Framing {
    /// True when there is a TCP connection underneath (a state in the kernel,
    /// FINs, TIME_WAIT): bytes and messages, not datagrams.
    pub fn connected(self) -> bool {
        self != Framing::Datagrams
    }
}

/// The kinds of URL the client understands (see [`REGISTRY`] for what each needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// `tcp://host:port`: a raw TCP byte stream.
    Tcp,
    /// `udp://host:port`: raw UDP datagrams.
    Udp,
    /// `ws://host[:port][/path]`: WebSocket messages over TCP.
    Ws,
    /// `tls://host:port`: a byte stream over TLS over TCP.
    Tls,
    /// `wss://host[:port][/path]`: WebSocket messages over TLS over TCP.
    Wss,
    /// `http://host[:port][/path]`: HTTP/1.1 requests and responses over TCP.
    Http,
}

/// One row of the registry: everything the client and the command line need
/// to know about a scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemeSpec {
    /// Which scheme.
    pub scheme: Scheme,
    /// Its name in a URL, lowercase, without `://`.
    pub name: &'static str,
    /// How the bytes are cut into units.
    pub framing: Framing,
    /// True when TLS runs under the framing.
    pub secure: bool,
    /// The port a URL may leave out (ws: 80, as for http). `None`: the URL must
    /// give one (an echo server has no well-known port you could reach).
    pub default_port: Option<u16>,
    /// What one received unit is called on this transport.
    pub unit: &'static str,
    /// The command that runs a server for this scheme, without `--addr`.
    pub serve: &'static str,
    /// Where that command listens when given no `--addr`.
    pub serve_addr: &'static str,
}

// ANCHOR: registry
/// Every scheme, in the order they are listed to users.
pub const REGISTRY: &[SchemeSpec] = &[
    SchemeSpec {
        scheme: Scheme::Tcp,
        name: "tcp",
        framing: Framing::Bytes,
        secure: false,
        default_port: None,
        unit: "read",
        serve: "socklab serve tcp",
        serve_addr: "127.0.0.1:7007",
    },
    SchemeSpec {
        scheme: Scheme::Udp,
        name: "udp",
        framing: Framing::Datagrams,
        secure: false,
        default_port: None,
        unit: "datagram",
        serve: "socklab serve udp",
        serve_addr: "127.0.0.1:7007",
    },
    SchemeSpec {
        scheme: Scheme::Ws,
        name: "ws",
        framing: Framing::Messages,
        secure: false,
        default_port: Some(80),
        unit: "message",
        serve: "socklab serve ws",
        serve_addr: "127.0.0.1:8080",
    },
    SchemeSpec {
        scheme: Scheme::Tls,
        name: "tls",
        framing: Framing::Bytes,
        secure: true,
        default_port: None,
        unit: "read",
        serve: "socklab serve tls",
        serve_addr: "127.0.0.1:7443",
    },
    SchemeSpec {
        scheme: Scheme::Wss,
        name: "wss",
        framing: Framing::Messages,
        secure: true,
        default_port: Some(443),
        unit: "message",
        serve: "socklab serve wss",
        serve_addr: "127.0.0.1:8443",
    },
    SchemeSpec {
        scheme: Scheme::Http,
        name: "http",
        framing: Framing::Requests,
        secure: false,
        default_port: Some(80),
        unit: "response",
        serve: "socklab serve push",
        serve_addr: "127.0.0.1:8090",
    },
];

/// Schemes people try that socklab does not speak (yet): the scheme to use
/// instead, and why. Checked only after [`REGISTRY`], so adding a scheme there wins.
const INSTEAD: &[(&str, Scheme, &str)] = &[(
    "https",
    Scheme::Wss,
    "no socklab server speaks plain HTTPS, and wss:// begins with an HTTPS request, the Upgrade",
)];
// ANCHOR_END: registry

impl Scheme {
    /// This scheme's row in [`REGISTRY`].
    pub fn spec(self) -> &'static SchemeSpec {
        // Every variant has exactly one row (a unit test checks it), so the
        // search always ends with a find.
        REGISTRY
            .iter()
            .find(|s| s.scheme == self)
            .unwrap_or(&REGISTRY[0])
    }

    /// Looks a scheme up by its name in a URL (any case).
    pub fn from_name(name: &str) -> Option<Scheme> {
        REGISTRY
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
            .map(|s| s.scheme)
    }

    /// `tcp`, `udp` or `ws`.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// How this transport cuts bytes into units.
    pub fn framing(self) -> Framing {
        self.spec().framing
    }

    /// True when TLS runs underneath.
    pub fn secure(self) -> bool {
        self.spec().secure
    }

    /// The port a URL of this scheme may leave out, if any.
    pub fn default_port(self) -> Option<u16> {
        self.spec().default_port
    }

    /// What one received unit is called on this transport.
    pub fn unit(self) -> &'static str {
        self.spec().unit
    }

    /// The `socklab serve …` command that would listen on `addr` for this
    /// scheme: just `socklab serve ws` at its default address, with `--addr`
    /// anywhere else.
    pub fn serve_command(self, addr: &str) -> String {
        let spec = self.spec();
        if addr == spec.serve_addr {
            spec.serve.to_string()
        } else {
            format!("{} --addr {addr}", spec.serve)
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The known schemes as a user reads them: `tcp://, udp://, ws://`.
pub fn known() -> String {
    REGISTRY
        .iter()
        .map(|s| format!("{}://", s.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What to say about a URL whose scheme `name` is not in the registry: the
/// known schemes, and where one fits, the same URL with it (`rest` is what
/// follows `://`).
pub fn unknown(name: &str, rest: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let instead = INSTEAD
        .iter()
        .find(|(n, _, _)| *n == lower)
        .map_or(String::new(), |(_, scheme, why)| {
            format!("; try {scheme}://{rest}: {why}")
        });
    format!(
        "unknown scheme {lower}:// (socklab speaks {}){instead}",
        known()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant has one row, and every row's name finds its variant.
    #[test]
    fn every_scheme_has_one_row() {
        for scheme in [
            Scheme::Tcp,
            Scheme::Udp,
            Scheme::Ws,
            Scheme::Tls,
            Scheme::Wss,
            Scheme::Http,
        ] {
            let rows = REGISTRY.iter().filter(|s| s.scheme == scheme).count();
            assert_eq!(rows, 1, "{scheme:?}");
            assert_eq!(Scheme::from_name(scheme.name()), Some(scheme));
            assert_eq!(scheme.spec().scheme, scheme);
        }
        assert_eq!(Scheme::from_name("WS"), Some(Scheme::Ws));
        assert_eq!(Scheme::from_name("http"), Some(Scheme::Http));
        assert_eq!(Scheme::from_name("https"), None);
    }

    /// The registry answers what the transport asks: tls and wss are tcp and
    /// ws with TLS under them.
    #[test]
    fn schemes_say_what_they_need() {
        assert_eq!(Scheme::Tcp.framing(), Framing::Bytes);
        assert_eq!(Scheme::Udp.framing(), Framing::Datagrams);
        assert_eq!(Scheme::Ws.framing(), Framing::Messages);
        assert!(!Framing::Datagrams.connected());
        assert!(Scheme::Tls.secure() && Scheme::Wss.secure() && !Scheme::Ws.secure());
        assert_eq!(Scheme::Tls.framing(), Framing::Bytes);
        assert_eq!(Scheme::Wss.framing(), Framing::Messages);
        assert_eq!(Scheme::Wss.default_port(), Some(443));
        assert_eq!(Scheme::Ws.default_port(), Some(80));
        assert_eq!(Scheme::Tcp.default_port(), None);
        assert_eq!(Scheme::Ws.unit(), "message");
    }

    /// The serve hint adds `--addr` only where the default would not listen.
    #[test]
    fn serve_command_names_the_address_when_needed() {
        assert_eq!(
            Scheme::Tcp.serve_command("127.0.0.1:7007"),
            "socklab serve tcp"
        );
        assert_eq!(
            Scheme::Ws.serve_command("127.0.0.1:9000"),
            "socklab serve ws --addr 127.0.0.1:9000"
        );
    }

    /// An unknown scheme lists the known ones; https:// is pointed at wss://.
    #[test]
    fn unknown_schemes_list_the_known_ones() {
        let https = unknown("HTTPS", "127.0.0.1:8443/");
        assert!(https.contains("unknown scheme https://"), "{https}");
        assert!(
            https.contains("tcp://, udp://, ws://, tls://, wss://, http://"),
            "{https}"
        );
        assert!(https.contains("try wss://127.0.0.1:8443/: "), "{https}");
        let gopher = unknown("gopher", "x:70");
        assert!(
            gopher.ends_with("(socklab speaks tcp://, udp://, ws://, tls://, wss://, http://)")
        );
    }
}
