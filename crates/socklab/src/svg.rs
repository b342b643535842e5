//! A very small SVG writer: the few shapes `socklab diagram` draws (lines,
//! arrows, boxes, text), written as plain SVG 1.1 text with one stylesheet.
//!
//! No scripts, no fonts to fetch, no external tool: the file opens in any
//! browser and mdBook embeds it with an `<img>` tag. Coordinates are in pixels,
//! origin top left, y growing downwards, as in SVG itself.

use std::fmt::Write as _;

/// The look of every diagram: one place to change colors and fonts.
const STYLE: &str = "
text { font-family: sans-serif; font-size: 13px; fill: #222; }
.title { font-size: 16px; font-weight: bold; }
.small { font-size: 11px; fill: #555; }
.mono { font-family: monospace; font-size: 12px; }
.lifeline { stroke: #888; stroke-width: 1.5; stroke-dasharray: 4 3; }
.arrow { stroke: #1f5fa8; stroke-width: 1.5; marker-end: url(#head); }
.arrow-back { stroke: #b3541e; stroke-width: 1.5; marker-end: url(#head-back); }
.edge { stroke: #999; stroke-width: 1.2; marker-end: url(#head-grey); fill: none; }
.box { fill: #f4f4f4; stroke: #888; }
.seen { fill: #ffe08a; stroke: #b58900; stroke-width: 2; }
.state { fill: #e8f0fb; stroke: #1f5fa8; }
.bar { fill: #1f5fa8; }
";

/// Where a text's x coordinate is: its start, middle or end.
#[derive(Debug, Clone, Copy)]
pub enum Anchor {
    /// x is where the text starts.
    Start,
    /// x is the middle of the text.
    Middle,
    /// x is where the text ends.
    End,
}

/// An SVG image being drawn.
#[derive(Debug)]
pub struct Svg {
    width: f64,
    height: f64,
    body: String,
}

impl Svg {
    /// An empty image of `width` × `height` pixels.
    pub fn new(width: f64, height: f64) -> Svg {
        Svg {
            width,
            height,
            body: String::new(),
        }
    }

    /// A straight line in the stylesheet's class `class`.
    pub fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), class: &str) {
        // Writing to a String cannot fail.
        let _ = writeln!(
            self.body,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" class="{class}"/>"#
        );
    }

    /// A rectangle with rounded corners.
    pub fn rect(&mut self, (x, y): (f64, f64), (w, h): (f64, f64), class: &str) {
        let _ = writeln!(
            self.body,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" rx="4" class="{class}"/>"#
        );
    }

    /// One line of text; `class` may be empty.
    pub fn text(&mut self, (x, y): (f64, f64), anchor: Anchor, class: &str, text: &str) {
        let anchor = match anchor {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        };
        let _ = writeln!(
            self.body,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" class="{class}">{}</text>"#,
            escape(text)
        );
    }

    /// The finished document: header, stylesheet, the arrowheads, the shapes.
    pub fn finish(self) -> String {
        let (w, h) = (self.width, self.height);
        let head = |id: &str, color: &str| {
            format!(
                r#"<marker id="{id}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>"#
            )
        };
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\">\n\
             <style>{STYLE}</style>\n<defs>{}{}{}</defs>\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{}</svg>\n",
            head("head", "#1f5fa8"),
            head("head-back", "#b3541e"),
            head("head-grey", "#999"),
            self.body
        )
    }
}

/// Text as SVG needs it: the three characters XML gives a meaning escaped.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text from the wire (a payload, a header) cannot break the document.
    #[test]
    fn text_is_escaped() {
        let mut svg = Svg::new(10.0, 10.0);
        svg.text((0.0, 0.0), Anchor::Start, "", "<b> & </b>");
        let doc = svg.finish();
        assert!(doc.contains("&lt;b&gt; &amp; &lt;/b&gt;"));
        assert!(doc.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(doc.trim_end().ends_with("</svg>"));
    }
}
