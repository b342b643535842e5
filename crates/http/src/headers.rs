//! The header list of a head, and how HTTP says to look things up in it.
//!
//! Three rules from RFC 9110 §5 that a hand-written `HashMap<String, String>`
//! gets wrong, and that the WebSocket upgrade depends on:
//!
//! - names are case-insensitive: `Upgrade`, `upgrade` and `UPGRADE` are one field;
//! - a field may appear more than once, and that matters: two `Host` lines are a
//!   400, not "the last one wins" — so the list keeps every line, in order;
//! - many values are comma-separated lists: a browser sends
//!   `Connection: keep-alive, Upgrade`, which *contains* the token `Upgrade`.

/// One `Name: value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The name as sent (compare it with `eq_ignore_ascii_case`).
    pub name: String,
    /// The value, without the spaces around it. Bytes that are not UTF-8 (HTTP
    /// allows a few, as obs-text) become U+FFFD: no check here needs them.
    pub value: String,
}

/// Every header line of a head, duplicates kept, in the order received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<Header>);

impl Headers {
    /// The headers httparse found, owned.
    pub(crate) fn from_httparse(parsed: &[httparse::Header<'_>]) -> Headers {
        Headers(
            parsed
                .iter()
                .map(|h| Header {
                    name: h.name.to_string(),
                    value: String::from_utf8_lossy(h.value).trim().to_string(),
                })
                .collect(),
        )
    }

    /// Every value of field `name` (case-insensitive), in order.
    pub fn get_all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The first value of field `name` (case-insensitive). Use [`Headers::count`]
    /// first where a second one would be an error.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_all(name).next()
    }

    /// How many lines carry field `name`.
    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }

    /// Whether any line of field `name` lists `token` (both case-insensitive):
    /// `Connection: keep-alive, Upgrade` contains `upgrade`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name).any(|value| has_token(value, token))
    }

    /// The lines, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }

    /// How many header lines there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Whether a comma-separated value contains `token` (case-insensitive), the list
/// syntax of RFC 9110 §5.6.1: `has_token("keep-alive, Upgrade", "upgrade")`.
pub fn has_token(value: &str, token: &str) -> bool {
    value
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[(&str, &str)]) -> Headers {
        Headers(
            lines
                .iter()
                .map(|(name, value)| Header {
                    name: name.to_string(),
                    value: value.to_string(),
                })
                .collect(),
        )
    }

    /// Names match in any case; every value of a repeated field is kept, in order.
    #[test]
    fn lookups_ignore_case_and_keep_duplicates() {
        let h = headers(&[("Host", "a"), ("X-Other", "b"), ("HOST", "c")]);
        assert_eq!(h.get("host"), Some("a"));
        assert_eq!(h.get_all("Host").collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(h.count("hOsT"), 2);
        assert_eq!(h.count("missing"), 0);
        assert_eq!(h.get("missing"), None);
    }

    /// Lists: a token is found among others, in any case, in any line of the field;
    /// a token is a whole list item, never part of one.
    #[test]
    fn token_lists() {
        assert!(has_token("keep-alive, Upgrade", "upgrade"));
        assert!(has_token("Upgrade", "UPGRADE"));
        assert!(!has_token("keep-alive", "upgrade"));
        assert!(!has_token("upgraded", "upgrade"));
        let h = headers(&[("Connection", "keep-alive"), ("connection", "Upgrade")]);
        assert!(h.has_token("Connection", "upgrade"));
        assert!(!h.has_token("Upgrade", "websocket"));
    }
}
