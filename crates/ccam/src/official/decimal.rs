//! The one exact parser of the decimal text of the official files, and the only way its values become
//! integers.
//!
//! Cells are the spreadsheet's numbers saved as text: `687.27`, `48`, the binary float
//! `33.439999999999998` or `29.400000000000002`, a French decimal comma `226,88` (sometimes `248, 15`),
//! percentages `+6,50%`, and fractions `0.49` / `0.29999999999999999` where a percentage cell was saved
//! unformatted. [`parse_decimal`] reads the number part **exactly** with `rust_decimal` (no `f64`); the
//! resulting [`Decimal`] is turned into cents or basis points only by `liquidator_core::money`'s
//! [`round_decimal`] (half-up, the engine's one rounding rule) through [`to_cents`] / [`to_hundredths`].

use std::str::FromStr;

use liquidator_core::money::{decimal_to_cents, round_decimal};
use rust_decimal::Decimal;

/// Reads a non-negative decimal number: digits, optionally one `.` or `,` followed by digits. Spaces
/// (also no-break and narrow no-break spaces) anywhere are dropped. Returns the exact value and whether
/// the text needed repair (a comma or inner spaces). No sign, no exponent, no leading or trailing
/// separator.
pub(crate) fn parse_decimal(text: &str) -> Result<(Decimal, bool), String> {
    let t = text.trim();
    let mut s: String = t
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
        .collect();
    let mut repaired = s.len() != t.len();
    if s.contains(',') {
        if s.contains('.') || s.matches(',').count() > 1 {
            return Err("ambiguous decimal separators".into());
        }
        s = s.replace(',', ".");
        repaired = true;
    }
    let (int, frac) = s.split_once('.').unwrap_or((s.as_str(), ""));
    let well_formed = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && (s.len() == int.len() || !frac.is_empty());
    if !well_formed {
        return Err("not a decimal amount".into());
    }
    let d = Decimal::from_str(&s).map_err(|e| format!("not a decimal amount ({e})"))?;
    Ok((d, repaired))
}

/// Euros → cents, half-up (`money::decimal_to_cents`). `None` when out of range.
pub(crate) fn to_cents(d: Decimal) -> Option<i64> {
    decimal_to_cents(d.mantissa(), d.scale())
}

/// The value × 100, half-up (`money::round_decimal` with 2 places): basis points of a percentage
/// (`6.50` → 650), or a two-level chapter number (`18.010000000000002` → 1801).
pub(crate) fn to_hundredths(d: Decimal) -> Option<i64> {
    round_decimal(d.mantissa(), d.scale(), 2)
}

/// The value × 10 000, half-up (`money::round_decimal` with 4 places): basis points of a fraction
/// (`0.49` → 4900, `0.29999999999999999` → 3000).
pub(crate) fn fraction_to_bp(d: Decimal) -> Option<i64> {
    round_decimal(d.mantissa(), d.scale(), 4)
}
