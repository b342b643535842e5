//! Which web pages may open a WebSocket here: the `Origin` check (RFC 6455 §4.2.1
//! (7), §10.2), one policy for every server (`--allow-origin`, the same flag and
//! default on ws, wss, push, chat and bridge).
//!
//! Why a WebSocket server checks `Origin` at all: a browser lets *any* page open
//! a WebSocket to *any* address — there is no same-origin rule for WebSocket as
//! there is for `fetch`. A page on `evil.example` can open
//! `ws://127.0.0.1:8081/` in the visitor's browser, and with the bridge that
//! means a TCP connection to whatever the bridge reaches, driven by a stranger.
//! What the browser does guarantee is the `Origin` header: a page cannot forge
//! it. So the server decides, at the handshake, whose pages it serves.
//!
//! The default, [`OriginPolicy::default`]:
//!
//! | the request carries                     | answer | why                                         |
//! |-----------------------------------------|--------|---------------------------------------------|
//! | no `Origin`                             | 101    | not a browser (Python websockets, Node ws, Autobahn, `socklab send`): such a client could send any Origin it liked, so refusing it protects nothing |
//! | `Origin` naming this Host (host:port)   | 101    | the page this server serves on its own port |
//! | an `Origin` given with `--allow-origin` | 101    | a page elsewhere the operator trusts        |
//! | any other `Origin`                      | 403    | another site's page, in someone's browser   |
//!
//! `--allow-origin '*'` allows every Origin (the old behaviour: a demo on a
//! trusted network). The check says nothing about clients that are not
//! browsers: it protects the browser's user, not the server.
//!
//! Try it: `socklab serve ws`, then
//! `socklab send ws://127.0.0.1:8080/ hi --origin http://example.com --wire` (403)
//! and `socklab send ws://127.0.0.1:8080/ hi --origin http://127.0.0.1:8080 --wire` (101).

/// The `--allow-origin` value that allows every Origin.
pub const ANY_ORIGIN: &str = "*";

/// The `--allow-origin` flag's help, the same on every server.
pub const FLAG_HELP: &str = "Also allow WebSocket Upgrades from pages at this Origin (repeatable; '*' allows all). \
Default: clients that send no Origin (not browsers) and pages served from this server's own host:port; \
other Origins get 403";

/// Whose pages may open a WebSocket on this server (see the module's table).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginPolicy {
    /// `--allow-origin '*'`: every Origin is allowed.
    any: bool,
    /// The Origins allowed besides this server's own (`--allow-origin URL`),
    /// lower-cased, without a trailing `/`.
    listed: Vec<String>,
}

impl OriginPolicy {
    /// The policy the `--allow-origin` flags ask for (repeatable): each a URL
    /// like `http://127.0.0.1:3000`, or `*` for every Origin. None: the default.
    pub fn from_flags(allow: &[String]) -> OriginPolicy {
        OriginPolicy {
            any: allow.iter().any(|o| o.trim() == ANY_ORIGIN),
            listed: allow
                .iter()
                .filter(|o| o.trim() != ANY_ORIGIN)
                .map(|o| normalize(o))
                .collect(),
        }
    }

    /// Every Origin allowed (`--allow-origin '*'`).
    pub fn any() -> OriginPolicy {
        OriginPolicy {
            any: true,
            listed: Vec::new(),
        }
    }

    // ANCHOR: origin_check
    /// Whether a request with this `Origin` header (if any) and this `Host`
    /// may upgrade; if not, the reason for the 403.
    pub fn check(&self, origin: Option<&str>, host: &str) -> Result<(), String> {
        // Not a browser: nothing a check could hold it to.
        let Some(origin) = origin else {
            return Ok(());
        };
        let wanted = normalize(origin);
        if self.any || self.listed.contains(&wanted) || same_host(&wanted, host) {
            return Ok(());
        }
        Err(format!(
            "Origin {origin} is not allowed: only pages from {host} may open a WebSocket here \
             (start the server with --allow-origin {origin} to allow it)"
        ))
    }
    // ANCHOR_END: origin_check
}

/// Origins compare as lower-case ASCII, without a trailing slash.
fn normalize(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// Whether `origin` (`scheme://host[:port]`, normalized) names the same host
/// and port as the request's `Host` header (`host[:port]`). A missing port is
/// the origin scheme's default (80 for http, 443 for https).
fn same_host(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false; // "null" (a sandboxed page, a file://) or not a URL
    };
    let default = match scheme {
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        _ => return false,
    };
    let (o_host, o_port) = split_host_port(authority);
    let (h_host, h_port) = split_host_port(host.trim());
    let port = |p: Option<&str>| match p {
        None => Some(default),
        Some(p) => p.parse::<u16>().ok(),
    };
    o_host.eq_ignore_ascii_case(h_host) && port(o_port).is_some() && port(o_port) == port(h_port)
}

/// `host[:port]` apart, IPv6 literals (`[::1]:8080`) included.
fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    if let Some(rest) = authority.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':')),
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "127.0.0.1:8081";

    /// The default: no Origin and this server's own pages upgrade, others get 403.
    #[test]
    fn default_policy() {
        let p = OriginPolicy::default();
        assert_eq!(p.check(None, HOST), Ok(()));
        assert_eq!(p.check(Some("http://127.0.0.1:8081"), HOST), Ok(()));
        assert_eq!(p.check(Some("HTTP://127.0.0.1:8081/"), HOST), Ok(()));
        assert_eq!(p.check(Some("https://[::1]:8081"), "[::1]:8081"), Ok(()));
        assert_eq!(p.check(Some("http://localhost"), "localhost"), Ok(()));
        assert_eq!(p.check(Some("http://localhost:80"), "localhost"), Ok(()));
        for foreign in [
            "http://evil.example",
            "http://127.0.0.1:8080",
            "https://127.0.0.1",
            "null",
            "file://",
            "http://127.0.0.1:x",
        ] {
            let why = p.check(Some(foreign), HOST).unwrap_err();
            assert!(why.contains("--allow-origin"), "{foreign}: {why}");
        }
    }

    /// Lesson 16: --allow-origin adds Origins; `*` allows all.
    #[test]
    fn flags() {
        let p = OriginPolicy::from_flags(&["http://good.example/".into()]);
        assert_eq!(p.check(Some("http://GOOD.example"), HOST), Ok(()));
        assert_eq!(p.check(Some("http://127.0.0.1:8081"), HOST), Ok(()));
        assert!(p.check(Some("http://evil.example"), HOST).is_err());
        let any = OriginPolicy::from_flags(&["*".into()]);
        assert_eq!(any, OriginPolicy::any());
        assert_eq!(any.check(Some("http://evil.example"), HOST), Ok(()));
    }
}
