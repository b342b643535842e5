//! Bar charts of scripts/bench.sh's tables (`bench-*.svg`, with `--bench FILE`):
//! one column of one anchored table each; a table the file lacks is skipped.

use socklab::svg::{Anchor, Svg};

use super::WIDTH;

/// One chart: which table of bench.md (its ANCHOR name), which column, the file.
pub(super) struct Chart {
    pub(super) anchor: &'static str,
    pub(super) column: &'static str,
    pub(super) file: &'static str,
    pub(super) title: &'static str,
}

/// The charts `--bench` draws; any whose table or column is missing is skipped.
pub(super) const CHARTS: [Chart; 6] = [
    Chart {
        anchor: "pingpong",
        column: "1 conn msgs/s",
        file: "bench-pingpong-1.svg",
        title: "Ping-pong, one connection: messages per second",
    },
    Chart {
        anchor: "pingpong",
        column: "8 conns msgs/s",
        file: "bench-pingpong-8.svg",
        title: "Ping-pong, eight connections: messages per second",
    },
    Chart {
        anchor: "pingpong",
        column: "peak RSS MB, 10,000 idle",
        file: "bench-idle-rss.svg",
        title: "Peak memory (RSS, MB) holding the idle connections",
    },
    Chart {
        anchor: "memory",
        column: "10,000 idle: KiB per connection",
        file: "bench-memory.svg",
        title: "Memory per idle WebSocket connection (KiB), at 10,000",
    },
    Chart {
        anchor: "push",
        column: "latency p50 ms (min–max)",
        file: "bench-push-latency.svg",
        title: "Fan-out: one event to every subscriber, latency p50 (ms)",
    },
    Chart {
        anchor: "push",
        column: "KiB per subscriber",
        file: "bench-push-memory.svg",
        title: "Fan-out: server memory per subscriber (KiB)",
    },
];

/// The rows of the markdown table between `<!-- ANCHOR: name -->` and its end:
/// (first cell, the named column's first number). Cells without a number ("–") are left out.
fn table_column(markdown: &str, anchor: &str, column: &str) -> Option<Vec<(String, f64)>> {
    let start = markdown.find(&format!("<!-- ANCHOR: {anchor} -->"))?;
    let end = markdown[start..].find(&format!("<!-- ANCHOR_END: {anchor} -->"))? + start;
    let mut lines = markdown[start..end].lines().filter(|l| l.starts_with('|'));
    let cells = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    let index = cells(lines.next()?).iter().position(|c| c == column)?;
    let rows: Vec<(String, f64)> = lines
        .skip(1) // the |---| line
        .filter_map(|line| {
            let row = cells(line);
            let number = row.get(index)?.split_whitespace().next()?.replace(',', "");
            Some((row[0].clone(), number.parse().ok()?))
        })
        .collect();
    (!rows.is_empty()).then_some(rows)
}

/// A horizontal bar chart of one bench column, or `None` when the table is missing.
pub(super) fn bar_chart(markdown: &str, chart: &Chart) -> Option<String> {
    let rows = table_column(markdown, chart.anchor, chart.column)?;
    let max = rows
        .iter()
        .map(|r| r.1)
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    let (left, bar_h, gap, top) = (200.0, 20.0, 8.0, 70.0);
    let span = WIDTH - left - 110.0;
    let mut svg = Svg::new(WIDTH, top + (bar_h + gap) * rows.len() as f64 + 20.0);
    svg.text((10.0, 24.0), Anchor::Start, "title", chart.title);
    svg.text(
        (10.0, 44.0),
        Anchor::Start,
        "small",
        &format!("From the '{}' table of bench.md, column '{}', as measured when the docs were generated.", chart.anchor, chart.column),
    );
    for (i, (name, value)) in rows.iter().enumerate() {
        let y = top + (bar_h + gap) * i as f64;
        svg.text((left - 8.0, y + 15.0), Anchor::End, "", name);
        let w = (value / max * span).max(1.0);
        svg.rect((left, y), (w, bar_h), "bar");
        svg.text(
            (left + w + 6.0, y + 15.0),
            Anchor::Start,
            "mono",
            &format_number(*value),
        );
    }
    Some(svg.finish())
}

/// A number as the bench tables print it: thousands separated, one decimal below 100.
fn format_number(v: f64) -> String {
    if v >= 100.0 {
        let digits = format!("{:.0}", v);
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BENCH: &str = "<!-- ANCHOR: pingpong -->\n| server | 1 conn msgs/s | p50 µs |\n|---|---:|---:|\n| tcp | 80,328 | 11.4 |\n| ws | – | 13.0 |\n<!-- ANCHOR_END: pingpong -->\n";

    /// The chart reads the named column, thousands separators and all, and
    /// leaves out a cell without a number.
    #[test]
    fn reads_a_bench_column() {
        let rows = table_column(BENCH, "pingpong", "1 conn msgs/s").unwrap();
        assert_eq!(rows, vec![("tcp".to_string(), 80328.0)]);
    }

    /// A table the file does not have is skipped, not an error.
    #[test]
    fn a_missing_table_is_skipped() {
        assert!(table_column(BENCH, "push", "KiB per subscriber").is_none());
        assert!(table_column(BENCH, "pingpong", "no such column").is_none());
        let chart = &CHARTS[4];
        assert!(bar_chart(BENCH, chart).is_none());
    }

    /// Chart labels read like the table cells they come from.
    #[test]
    fn numbers_print_like_the_tables() {
        assert_eq!(format_number(80328.0), "80,328");
        assert_eq!(format_number(39.04), "39.0");
    }
}
