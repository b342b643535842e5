//! TLS records as an observer sees them: a 5-byte header (content type, version,
//! length) and then `length` bytes. Pure functions over bytes, no I/O.
//!
//! Everything a middlebox can read of a TLS 1.3 connection after the
//! ServerHello is in these headers: the content type says `application_data`
//! (0x17) whatever is inside, and the version says 0x0303 (TLS 1.2) for
//! compatibility, whatever was negotiated (RFC 8446 §5.1).

/// The header every TLS record starts with (RFC 8446 §5.1).
pub const HEADER_LEN: usize = 5;

/// The content type of a record carrying handshake messages: the first byte a
/// TLS client sends (its ClientHello). A connection whose first byte is
/// anything else is not TLS.
pub const HANDSHAKE: u8 = 0x16;

/// One record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Content type: 0x14 change_cipher_spec, 0x15 alert, 0x16 handshake, 0x17 application_data.
    pub content_type: u8,
    /// The legacy record version (0x0301 in a first ClientHello, 0x0303 after).
    pub version: u16,
    /// Bytes of the record's body that follow the header.
    pub length: u16,
}

impl RecordHeader {
    /// The content type's name in the RFC.
    pub fn type_name(&self) -> &'static str {
        type_name(self.content_type)
    }
}

/// The RFC's name for a content type.
pub fn type_name(content_type: u8) -> &'static str {
    match content_type {
        0x14 => "change_cipher_spec",
        0x15 => "alert",
        0x16 => "handshake",
        0x17 => "application_data",
        _ => "unknown",
    }
}

/// The record headers at the start of `bytes`, one after the other, as long as
/// whole headers are there (a record's body may be cut off at the end).
pub fn headers(bytes: &[u8]) -> Vec<RecordHeader> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(h) = bytes.get(at..at + HEADER_LEN) {
        let header = RecordHeader {
            content_type: h[0],
            version: u16::from_be_bytes([h[1], h[2]]),
            length: u16::from_be_bytes([h[3], h[4]]),
        };
        out.push(header);
        at += HEADER_LEN + header.length as usize;
    }
    out
}

/// "handshake 127, change_cipher_spec 1, application_data 23" — each record's
/// type and body length, in order.
pub fn summary(bytes: &[u8]) -> String {
    let list: Vec<String> = headers(bytes)
        .iter()
        .map(|h| format!("{} {}", h.type_name(), h.length))
        .collect();
    list.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Record headers are read back to back; a cut-off body still yields its header.
    #[test]
    fn reads_headers_back_to_back() {
        let bytes = [0x16, 3, 1, 0, 2, 1, 2, 0x17, 3, 3, 0, 9, 0];
        let h = headers(&bytes);
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].version, 0x0301);
        assert_eq!(h[1].type_name(), "application_data");
        assert_eq!(summary(&bytes), "handshake 2, application_data 9");
    }
}
