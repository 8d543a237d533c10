//! Inline SVG charts: horizontal bars and one stacked bar. No JavaScript, no fonts to fetch: the text is
//! laid out by estimate (an average glyph width), so labels are truncated with `…` rather than risk
//! overlapping the bars; the full label stays in a `<title>` tooltip and in the table beside the chart.
//!
//! `f64` is used only for geometry; the figures printed come already formatted from exact cents.

use super::fmt::esc;
use std::fmt::Write;

/// Chart width in CSS pixels: the width of the page's content column (charts shrink with the page on a
/// narrower screen: `max-width: 100%`).
pub const WIDTH: f64 = 1080.0;
const ROW_H: f64 = 24.0;
const BAR_H: f64 = 16.0;

/// One bar: its label, its length (any unit, ≥ 0) and the figure written after it.
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub text: String,
    /// Overrides the chart's colour (e.g. grey for an "others" bar, which is not one group).
    pub color: Option<&'static str>,
}

/// Estimated width of `s` in 12 px DejaVu Sans, the widest of the fonts the page asks for (Liberation
/// Sans and Arial are narrower), from its advance widths by class of character: an upper bound, so
/// that a label never runs into its bar.
pub fn width_of(s: &str) -> f64 {
    s.chars()
        .map(|c| match c {
            'M' | 'W' | 'm' | 'w' | '%' | '@' => 10.5,
            'I' | 'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '|' | '!' | '\'' => 3.6,
            ' ' | '\u{A0}' => 3.9,
            '\u{202F}' => 2.6,
            'f' | 'r' | 't' | '(' | ')' | '-' => 5.0,
            c if c.is_ascii_uppercase() => 8.6,
            c if c.is_ascii_digit() => 7.7,
            _ => 7.3,
        })
        .sum()
}

/// The longest prefix of `s` (plus `…`) that fits in `max` pixels.
fn truncate(s: &str, max: f64) -> String {
    if width_of(s) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = width_of("…");
    for c in s.chars() {
        let cw = width_of(c.encode_utf8(&mut [0; 4]));
        if w + cw > max {
            break;
        }
        w += cw;
        out.push(c);
    }
    out.push('…');
    out
}

/// A horizontal bar chart, bars scaled to the largest value. `title` is the accessible name.
pub fn hbar(title: &str, bars: &[Bar], color: &str) -> String {
    if bars.is_empty() {
        return "<p class=\"empty\">Nothing to chart.</p>".to_string();
    }
    // Labels get what the longest needs, within bounds; longer ones are cut with `…`.
    let label_w = bars
        .iter()
        .map(|b| width_of(&b.label))
        .fold(0.0, f64::max)
        .clamp(40.0, 300.0)
        + 12.0;
    let text_w = bars.iter().map(|b| width_of(&b.text)).fold(0.0, f64::max) + 12.0;
    let bar_max = (WIDTH - label_w - text_w).max(60.0);
    let max = bars
        .iter()
        .map(|b| b.value)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let height = bars.len() as f64 * ROW_H + 4.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart\" role=\"img\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\"><title>{}</title>",
        esc(title)
    );
    for (i, b) in bars.iter().enumerate() {
        let y = 2.0 + i as f64 * ROW_H;
        let w = if max > 0.0 && b.value.is_finite() && b.value > 0.0 {
            // At least one pixel, so that a small non-zero figure is visibly not zero.
            (b.value / max * bar_max).max(1.0)
        } else {
            0.0
        };
        let ty = y + ROW_H / 2.0 + 4.0;
        let _ = write!(
            s,
            "<g><title>{label}: {text}</title><text x=\"{lx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\" class=\"lbl\">{short}</text>\
             <rect x=\"{bx:.1}\" y=\"{ry:.1}\" width=\"{w:.1}\" height=\"{BAR_H}\" rx=\"2\" fill=\"{fill}\"/>\
             <text x=\"{vx:.1}\" y=\"{ty:.1}\" class=\"val\">{text}</text></g>",
            label = esc(&b.label),
            text = esc(&b.text),
            short = esc(&truncate(&b.label, label_w - 12.0)),
            lx = label_w - 8.0,
            bx = label_w,
            ry = y + (ROW_H - BAR_H) / 2.0,
            vx = label_w + w + 6.0,
            fill = b.color.unwrap_or(color),
        );
    }
    s.push_str("</svg>");
    s
}

/// One segment of a stacked bar.
pub struct Seg {
    pub label: String,
    pub value: f64,
    pub text: String,
    pub color: &'static str,
}

/// A single 100 % stacked bar with an HTML legend under it (the browser lays the legend text out).
pub fn stacked(title: &str, segs: &[Seg]) -> String {
    let total: f64 = segs
        .iter()
        .map(|g| g.value)
        .filter(|v| v.is_finite() && *v > 0.0)
        .sum();
    let h = 30.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart\" role=\"img\" width=\"{WIDTH}\" height=\"{h}\" viewBox=\"0 0 {WIDTH} {h}\"><title>{}</title>",
        esc(title)
    );
    if total > 0.0 {
        let mut x = 0.0;
        for g in segs {
            if !(g.value.is_finite() && g.value > 0.0) {
                continue;
            }
            let w = g.value / total * WIDTH;
            let share = g.value / total * 100.0;
            let _ = write!(
                s,
                "<g><title>{}: {} ({})</title><rect x=\"{x:.1}\" y=\"0\" width=\"{w:.1}\" height=\"{h}\" fill=\"{}\"/>",
                esc(&g.label),
                esc(&g.text),
                super::fmt::pct(share),
                g.color
            );
            let pct_text = super::fmt::pct(share);
            // The share is written inside the segment only when it fits.
            if w > width_of(&pct_text) + 10.0 {
                let _ = write!(
                    s,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"inbar\">{}</text>",
                    x + w / 2.0,
                    h / 2.0 + 4.5,
                    esc(&pct_text)
                );
            }
            s.push_str("</g>");
            x += w;
        }
    } else {
        let _ = write!(
            s,
            "<rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{h}\" fill=\"#e5e7eb\"/>"
        );
    }
    s.push_str("</svg><ul class=\"legend\">");
    for g in segs {
        let share = if total > 0.0 && g.value.is_finite() {
            super::fmt::pct(g.value.max(0.0) / total * 100.0)
        } else {
            "—".into()
        };
        let _ = write!(
            s,
            "<li><span class=\"sw\" style=\"background:{}\"></span>{} <b>{}</b> <span class=\"muted\">{}</span></li>",
            g.color,
            esc(&g.label),
            esc(&g.text),
            esc(&share)
        );
    }
    s.push_str("</ul>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_scaled_to_the_largest() {
        let bars = vec![
            Bar {
                label: "A".into(),
                value: 10.0,
                text: "10".into(),
                color: None,
            },
            Bar {
                label: "B".into(),
                value: 5.0,
                text: "5".into(),
                color: None,
            },
            Bar {
                label: "C".into(),
                value: 0.0,
                text: "0".into(),
                color: None,
            },
        ];
        let s = hbar("t", &bars, "#000");
        assert_eq!(s.matches("<rect").count(), 3);
        assert!(s.contains("width=\"0.0\""));
    }

    #[test]
    fn labels_are_escaped_and_truncated() {
        let long = format!("<{}>", "x".repeat(100));
        let s = hbar(
            "t",
            &[Bar {
                label: long,
                value: 1.0,
                text: "1".into(),
                color: None,
            }],
            "#000",
        );
        assert!(!s.contains("<x"));
        assert!(s.contains('…'));
    }

    #[test]
    fn empty_and_zero_charts_do_not_divide_by_zero() {
        assert!(hbar("t", &[], "#000").contains("Nothing"));
        let s = stacked(
            "t",
            &[Seg {
                label: "a".into(),
                value: 0.0,
                text: "0".into(),
                color: "#000",
            }],
        );
        assert!(!s.contains("NaN"));
    }
}
