//! Colors for the terminal, and how to turn them off.
//!
//! The wire view colors each kind of byte (header, masking key, payload) so the
//! eye finds them in a hex dump. Colors are used only when standard output is a
//! terminal, and never when `NO_COLOR` is set (<https://no-color.org>) or the
//! user passed `--no-color`: a file or a pipe gets plain text.

use std::io::IsTerminal;

/// What a piece of text is, which decides its color.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paint {
    /// A heading or a label.
    Heading,
    /// Bytes sent by us (the client).
    Sent,
    /// Bytes received from the server.
    Received,
    /// Frame header bytes.
    Header,
    /// The masking key.
    Key,
    /// Payload bytes (plain text after unmasking).
    Payload,
    /// A check that passed.
    Good,
    /// A check that failed, or something lost.
    Bad,
    /// Less important detail.
    Dim,
}

/// Whether to color the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// True: wrap painted text in ANSI color codes.
    pub color: bool,
    /// True: `--stable`, print what varies between runs as placeholders
    /// ([`crate::stable`]), so two runs give the same text.
    pub stable: bool,
}

impl Style {
    /// Plain text, for files, pipes and tests.
    pub const PLAIN: Style = Style {
        color: false,
        stable: false,
    };

    /// Colors on if stdout is a terminal, `NO_COLOR` is unset or empty, and the
    /// user did not pass `--no-color`.
    pub fn detect(no_color_flag: bool) -> Style {
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: !no_color_flag && !no_color_env && std::io::stdout().is_terminal(),
            stable: false,
        }
    }

    /// This style, with `--stable`'s placeholders on or off.
    pub fn with_stable(self, stable: bool) -> Style {
        Style { stable, ..self }
    }

    /// `text` in the color for `paint` (or unchanged without colors).
    pub fn paint(&self, paint: Paint, text: impl AsRef<str>) -> String {
        let text = text.as_ref();
        if !self.color {
            return text.to_string();
        }
        // ANSI SGR codes: 1 bold, 2 dim, 31 red, 32 green, 33 yellow, 34 blue,
        // 35 magenta, 36 cyan.
        let code = match paint {
            Paint::Heading => "1",
            Paint::Sent => "36",
            Paint::Received => "35",
            Paint::Header => "33",
            Paint::Key => "34",
            Paint::Payload => "32",
            Paint::Good => "32",
            Paint::Bad => "31",
            Paint::Dim => "2",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}
