//! French number formatting for the report, and HTML escaping.
//!
//! Choice (tested below): we write what `Intl.NumberFormat('fr-FR')` (CLDR) writes, so that the page
//! matches what supervisors see in a spreadsheet or any French web page:
//! * thousands are grouped with U+202F NARROW NO-BREAK SPACE: `1 234 567`;
//! * the decimal separator is a comma: `1 234,56`;
//! * the euro sign follows after U+00A0 NO-BREAK SPACE: `1 234,56 €`;
//! * the percent sign follows after U+202F: `12,5 %`.
//!
//! Both spaces are non-breaking, so a figure never wraps inside a table cell. Amounts arrive as exact
//! integer cents (`i128`, so that sums over any file cannot overflow); only percentages are `f64`.

/// U+202F NARROW NO-BREAK SPACE: digit grouping and before `%`.
pub const NNBSP: char = '\u{202F}';
/// U+00A0 NO-BREAK SPACE: before `€`.
pub const NBSP: char = '\u{00A0}';

/// Groups the digits of `n` by three: `1234567` → `1 234 567`.
fn group(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(NNBSP);
        }
        out.push(c);
    }
    out
}

/// An integer count: `1 234 567`, `-12`.
pub fn int(n: i128) -> String {
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", group(n.unsigned_abs()))
}

/// An amount in cents as euros: `1 234,56 €`.
pub fn euros(cents: i128) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let a = cents.unsigned_abs();
    format!("{sign}{},{:02}{NBSP}€", group(a / 100), a % 100)
}

/// A change in cents with an explicit sign: `+1 234,56 €`, `-0,05 €`, `0,00 €`.
pub fn signed_euros(cents: i128) -> String {
    if cents > 0 {
        format!("+{}", euros(cents))
    } else {
        euros(cents)
    }
}

/// A change in a count with an explicit sign: `+12`, `-3`, `0`.
pub fn signed_int(n: i128) -> String {
    if n > 0 {
        format!("+{}", int(n))
    } else {
        int(n)
    }
}

/// A percentage with one decimal: `12,5 %`. Not finite → `—`.
pub fn pct(x: f64) -> String {
    fmt_pct(x, false)
}

/// A percentage change with an explicit sign: `+12,5 %`, `-3,0 %`, `0,0 %`.
pub fn signed_pct(x: f64) -> String {
    fmt_pct(x, true)
}

fn fmt_pct(x: f64, signed: bool) -> String {
    if !x.is_finite() {
        return "—".to_string();
    }
    // Tenths of a percent, rounded half away from zero; beyond ±10^15 % a percentage means nothing.
    let tenths = (x * 10.0).round().clamp(-1e18, 1e18) as i128;
    let sign = match tenths {
        t if t < 0 => "-",
        t if t > 0 && signed => "+",
        _ => "",
    };
    let a = tenths.unsigned_abs();
    format!("{sign}{},{}{NNBSP}%", group(a / 10), a % 10)
}

/// `part / whole` as a percentage, `—` when `whole` is zero.
pub fn share(part: i128, whole: i128) -> String {
    if whole == 0 {
        "—".to_string()
    } else {
        pct(part as f64 * 100.0 / whole as f64)
    }
}

/// Escapes text for HTML element content and attribute values (also valid in inline SVG).
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            // Control characters are not allowed in XML (inline SVG): drop them.
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_amounts() {
        assert_eq!(euros(123456), "1\u{202F}234,56\u{A0}€");
        assert_eq!(euros(0), "0,00\u{A0}€");
        assert_eq!(euros(5), "0,05\u{A0}€");
        assert_eq!(euros(-5), "-0,05\u{A0}€");
        assert_eq!(euros(10_000_000_000), "100\u{202F}000\u{202F}000,00\u{A0}€");
        assert_eq!(euros(99_999), "999,99\u{A0}€");
        assert_eq!(signed_euros(1000), "+10,00\u{A0}€");
        assert_eq!(signed_euros(-1000), "-10,00\u{A0}€");
        assert_eq!(signed_euros(0), "0,00\u{A0}€");
        // i128 sums never overflow and still format.
        assert!(euros(i128::MIN).starts_with('-'));
    }

    #[test]
    fn french_counts_and_percentages() {
        assert_eq!(int(0), "0");
        assert_eq!(int(999), "999");
        assert_eq!(int(1000), "1\u{202F}000");
        assert_eq!(int(-1234567), "-1\u{202F}234\u{202F}567");
        assert_eq!(signed_int(3), "+3");
        assert_eq!(pct(12.5), "12,5\u{202F}%");
        assert_eq!(pct(12.04), "12,0\u{202F}%");
        assert_eq!(pct(-0.01), "0,0\u{202F}%");
        assert_eq!(pct(1234.5), "1\u{202F}234,5\u{202F}%");
        assert_eq!(signed_pct(-3.0), "-3,0\u{202F}%");
        assert_eq!(signed_pct(0.04), "0,0\u{202F}%");
        assert_eq!(signed_pct(2.25), "+2,3\u{202F}%");
        assert_eq!(pct(f64::NAN), "—");
        assert_eq!(share(1, 8), "12,5\u{202F}%");
        assert_eq!(share(1, 0), "—");
    }

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<a href=\"x\">R&D's</a>"),
            "&lt;a href=&quot;x&quot;&gt;R&amp;D&#39;s&lt;/a&gt;"
        );
        assert_eq!(esc("a\u{0}b"), "ab");
    }
}
