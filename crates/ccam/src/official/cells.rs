//! Readers of single cells of the official export: act codes, tariffs, modifier lists, chapter numbers,
//! Exo TM repairs. Decimal text is parsed exactly by [`super::decimal`], and rounded only by the core's
//! `money::round_decimal`.

use super::Code;
use super::decimal::{parse_decimal, to_cents, to_hundredths};

pub(crate) fn is_code(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 7
        && b[..4].iter().all(u8::is_ascii_uppercase)
        && b[4..].iter().all(u8::is_ascii_digit)
}

pub(crate) fn to_code(s: &str) -> Option<Code> {
    if is_code(s) {
        s.as_bytes().try_into().ok()
    } else {
        None
    }
}

pub(crate) fn code_string(c: &Code) -> String {
    String::from_utf8_lossy(c).into_owned()
}

/// A tariff cell.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TariffCell {
    Empty,
    /// "Non pris en charge": published, but no tariff (kept as `None`, like an empty cell).
    NotCovered,
    /// Cents, and whether the text needed repair (decimal comma, inner spaces).
    Cents(i64, bool),
}

pub(crate) fn parse_tariff(raw: &str) -> Result<TariffCell, String> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(TariffCell::Empty);
    }
    if t.eq_ignore_ascii_case("non pris en charge") {
        return Ok(TariffCell::NotCovered);
    }
    // `226,88` and `248, 15` occur: a French decimal comma, sometimes followed by a space.
    let (d, repaired) = parse_decimal(t)?;
    let cents = to_cents(d).ok_or("amount out of range")?;
    Ok(TariffCell::Cents(cents, repaired))
}

/// Parses `[F, P, S, U]` / `[F,U]` / `[A, J, K, T, 7, F, P, S, U ]` into `FPSU`-style text: published
/// order kept, duplicates dropped, tokens that are not one modifier character reported.
pub(crate) fn parse_modifier_list(cell: &str) -> (String, Vec<String>) {
    let inner = cell.trim().trim_start_matches('[').trim_end_matches(']');
    let mut out = String::new();
    let mut bad = Vec::new();
    for tok in inner.split(',') {
        let tok = tok.trim();
        if tok.is_empty() {
            continue;
        }
        let mut chars = tok.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_ascii_uppercase() || c.is_ascii_digit() => {
                if !out.contains(c) {
                    out.push(c);
                }
            }
            _ => bad.push(tok.to_string()),
        }
    }
    (out, bad)
}

/// Normalises a chapter number; `None` when the cell is not one. Published forms are `1`, `18` (top
/// level, unpadded) and `01.01`, `18.02`, `19.02.03` (every level two digits). The v78 export wrote
/// two-level numbers as floats (`18.010000000000002`, `1.01` for `01.01`): a two-level number is
/// therefore read as a decimal rounded half-up to two places (so `1.1` would be `01.10`), then every level is
/// zero-padded. The caller reports any difference from the published text.
pub(crate) fn normalize_chapter(raw: &str) -> Option<String> {
    let t = raw.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let mut parts: Vec<String> = t.split('.').map(str::to_string).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    if parts.len() == 2 {
        let n = parse_decimal(t).ok().and_then(|(d, _)| to_hundredths(d))?;
        parts = vec![(n / 100).to_string(), format!("{:02}", n % 100)];
    }
    let mut nums = Vec::with_capacity(parts.len());
    for p in &parts {
        let n: u32 = p.parse().ok()?;
        if n > 99 {
            return None;
        }
        nums.push(n);
    }
    if let [n] = nums[..] {
        return Some(n.to_string());
    }
    let padded: Vec<String> = nums.iter().map(|n| format!("{n:02}")).collect();
    Some(padded.join("."))
}

/// The first number of a chapter (`18.02.01` → 18).
pub(crate) fn chapter_top(ch: &str) -> u32 {
    ch.split('.')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

pub(crate) fn in_chapter(ch: &str, prefix: &str) -> bool {
    ch == prefix || (ch.starts_with(prefix) && ch.as_bytes().get(prefix.len()) == Some(&b'.'))
}

/// Repairs an "Exo. TM" cell, `None` when it is fine. Seen in the real files: a stray quote (`"2-7`),
/// an inner space (`5 -7`) and a value the spreadsheet turned into a date (`2021-07-01` for `1-7`,
/// `2021-07-02` for `2-7`: day-month, confirmed by the next version of the same acts).
pub(crate) fn repair_exo(raw: &str) -> Option<String> {
    let s: String = raw
        .chars()
        .filter(|c| *c != '"' && !c.is_whitespace())
        .collect();
    let b = s.as_bytes();
    let date_like = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if date_like {
        let month: u32 = s.get(5..7)?.parse().ok()?;
        let day: u32 = s.get(8..10)?.parse().ok()?;
        return Some(format!("{day}-{month}"));
    }
    (s != raw).then_some(s)
}

/// Text prefixes of note rows. An activity/phase on such a row is kept but reported (see the format
/// document: HCGA223, EDQM001).
pub(crate) const NOTE_PREFIXES: [&str; 9] = [
    "Facturation",
    "Indication",
    "Avec ou sans",
    "Environnement",
    "Formation",
    "À l'exclusion",
    "A l'exclusion",
    "Recueil",
    "Coder éventuellement",
];

pub(crate) fn short(s: &str) -> String {
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 60 {
        let mut t: String = one_line.chars().take(57).collect();
        t.push('…');
        t
    } else {
        one_line
    }
}
