//! The TCP state diagram (`tcp-states.svg`), with the states this run saw
//! highlighted, each with whose socket was in it.

use std::collections::BTreeMap;

use socklab::svg::{Anchor, Svg};

use super::WIDTH;

/// RFC 793's states, where the diagram puts each (x, y of its box's center).
const STATES: [(&str, f64, f64); 12] = [
    ("CLOSED", 380.0, 80.0),
    ("LISTEN", 380.0, 150.0),
    ("SYN_RECV", 150.0, 220.0),
    ("SYN_SENT", 610.0, 220.0),
    ("ESTABLISHED", 380.0, 290.0),
    ("FIN_WAIT1", 150.0, 370.0),
    ("CLOSE_WAIT", 610.0, 370.0),
    ("FIN_WAIT2", 150.0, 450.0),
    ("CLOSING", 380.0, 450.0),
    ("LAST_ACK", 610.0, 450.0),
    ("TIME_WAIT", 250.0, 530.0),
    // The same CLOSED again at the bottom, so the last arrows need not cross the page.
    ("CLOSED", 610.0, 530.0),
];

/// Where a transition's label goes: beside the middle of its arrow by (dx, dy),
/// anchored so the text runs away from the arrow and from the boxes near it.
type LabelAt = (f64, f64, Anchor);

/// Most labels: just right of and above the middle of their arrow.
const BESIDE: LabelAt = (6.0, -4.0, Anchor::Start);

/// The transitions drawn: from and to (indexes into [`STATES`]), what causes
/// them, and where the label goes (a few sit elsewhere so no two texts and no
/// text and arrow overlap: checked by rendering the picture).
const TRANSITIONS: [(usize, usize, &str, LabelAt); 14] = [
    (0, 1, "listen()", BESIDE),
    (0, 3, "connect() / SYN", BESIDE),
    // Left of and above its arrow: to the right it would run under LISTEN.
    (1, 2, "SYN / SYN-ACK", (-10.0, -6.0, Anchor::End)),
    (2, 4, "ACK", BESIDE),
    // Under its arrow: above, the arrow from SYN_SENT climbs through it.
    (3, 4, "SYN-ACK / ACK", (5.0, 16.0, Anchor::Start)),
    (4, 5, "close / FIN", (-8.0, -8.0, Anchor::End)),
    (4, 6, "FIN / ACK", BESIDE),
    (5, 7, "ACK", BESIDE),
    (5, 8, "FIN / ACK", BESIDE),
    (7, 10, "FIN / ACK", BESIDE),
    (8, 10, "ACK", BESIDE),
    (6, 9, "close / FIN", BESIDE),
    (9, 11, "ACK", BESIDE),
    (10, 11, "2 MSL", BESIDE),
];

/// The TCP state diagram with the states in `seen` highlighted and labelled
/// with who was in them.
pub(super) fn state_diagram(seen: &BTreeMap<&'static str, Vec<&'static str>>) -> String {
    // Tall enough for two lines: the state, and under it whose socket was in it
    // (inside the box, where no arrow or label runs).
    let (bw, bh) = (120.0, 40.0);
    let mut svg = Svg::new(WIDTH, 590.0);
    svg.text(
        (10.0, 24.0),
        Anchor::Start,
        "title",
        "TCP's states (RFC 793), and the ones this run saw",
    );
    svg.text(
        (10.0, 44.0),
        Anchor::Start,
        "small",
        "Highlighted: a state the kernel reported for a socket in the TCP walk or the WebSocket close; under it, whose socket.",
    );
    for &(from, to, label, (lx, ly, anchor)) in &TRANSITIONS {
        let ((_, x1, y1), (_, x2, y2)) = (STATES[from], STATES[to]);
        // From the edge of one box to the edge of the other, along the line between centers.
        let (dx, dy) = (x2 - x1, y2 - y1);
        let len = (dx * dx + dy * dy).sqrt();
        let cut = |x: f64, y: f64, sign: f64| {
            let t = ((bw / 2.0) / dx.abs().max(1e-9)).min((bh / 2.0) / dy.abs().max(1e-9)) * len;
            (x + sign * dx / len * t, y + sign * dy / len * t)
        };
        svg.line(cut(x1, y1, 1.0), cut(x2, y2, -1.0), "edge");
        svg.text(
            ((x1 + x2) / 2.0 + lx, (y1 + y2) / 2.0 + ly),
            anchor,
            "small",
            label,
        );
    }
    for (i, &(name, x, y)) in STATES.iter().enumerate() {
        // The top CLOSED is "no socket yet", which no lookup reports; a socket
        // the kernel says is CLOSED has reached the bottom one.
        let who = seen.get(name).filter(|_| i != 0);
        svg.rect(
            (x - bw / 2.0, y - bh / 2.0),
            (bw, bh),
            if who.is_some() { "seen" } else { "box" },
        );
        // One line (y + 5) alone; the upper of two when someone was in it.
        let name_y = if who.is_some() { y - 2.0 } else { y + 5.0 };
        svg.text((x, name_y), Anchor::Middle, "", name);
        if let Some(who) = who {
            let mut who: Vec<&str> = who.clone();
            who.sort();
            who.dedup();
            svg.text((x, y + 13.0), Anchor::Middle, "small", &who.join(", "));
        }
    }
    svg.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The box a label of `text` at (x, y) covers: 11 px text, at most 6.5 px a
    /// character (wider than the average, so the test errs on the side of overlap).
    fn label_box(text: &str, (x, y): (f64, f64), anchor: Anchor) -> [f64; 4] {
        let w = 6.5 * text.chars().count() as f64;
        let x0 = match anchor {
            Anchor::Start => x,
            Anchor::Middle => x - w / 2.0,
            Anchor::End => x - w,
        };
        [x0, y - 9.0, x0 + w, y + 2.0]
    }

    fn overlap(a: [f64; 4], b: [f64; 4]) -> bool {
        a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
    }

    /// tcp-states.svg: no transition label covers another or a state's box.
    #[test]
    fn state_labels_do_not_overlap() {
        let labels: Vec<[f64; 4]> = TRANSITIONS
            .iter()
            .map(|&(from, to, label, (lx, ly, anchor))| {
                let ((_, x1, y1), (_, x2, y2)) = (STATES[from], STATES[to]);
                label_box(label, ((x1 + x2) / 2.0 + lx, (y1 + y2) / 2.0 + ly), anchor)
            })
            .collect();
        for (i, a) in labels.iter().enumerate() {
            for (j, b) in labels.iter().enumerate().skip(i + 1) {
                assert!(!overlap(*a, *b), "labels {i} and {j} overlap");
            }
            for (name, x, y) in STATES {
                let state = [x - 60.0, y - 20.0, x + 60.0, y + 20.0];
                assert!(!overlap(*a, state), "label {i} covers {name}");
            }
        }
    }
}
