//! Chapter 19.03 MODIFICATEURS of an official export: the value of each modifier per grid, and the
//! practitioner conditions printed under it (`formats/ccam-official.md`, "Modifier values").
//!
//! Rows of the chapter: a **modifier row** (code cell = the modifier, `U`, `9`, `N `; text = its
//! definition; grid cells = its value), **conditional value rows** (code cell empty, a text naming
//! practitioners, other values: `Acte réalisé en urgence par les chirurgiens, … entre 20h et minuit`,
//! `50.00`), and **notes** (no value: `A l'exclusion de : …`, `Inclut : acte réalisé … par les ORL, …`,
//! `Facturation : …`), attached to the value row above them.
//!
//! Values: `+13,00%`, `21,5%`, `8%` are percentages; a bare number ≥ 1 (`25.15`, `80`,
//! `25.149999999999999`) is an amount in euros; a bare number < 1 (`0.49`, `0.29999999999999999`) is a
//! percentage cell saved as a fraction (+49 %, +30 %), read so with a warning — no modifier has a fixed
//! amount under 1 €. Every number goes through `decimal::parse_decimal` and the core's rounding.
//!
//! Conditions: the modifier row's value is the **default** (any practitioner); a conditional row is
//! mapped to IR_SPE_V specialty codes through [`PROFESSIONS`] when the professions it names (with its
//! `Inclut :` notes) all have codes and differ from those of the default row; otherwise it is kept as
//! published but marked **unmapped** (not applied: the default value is used).

use super::decimal::{fraction_to_bp, parse_decimal, to_cents, to_hundredths};

/// A published modifier value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ModAmount {
    /// Percentage of the act's unit price, in basis points (`+6,50%` → 650).
    Pct(i64),
    /// Fixed amount, cents (`25.15` → 2515).
    Fixed(i64),
}

/// Whom a value applies to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Applies {
    /// The modifier row's value: every practitioner not matched by a mapped conditional row.
    Default,
    /// Practitioners of these IR_SPE_V specialty codes (sorted).
    Specialties(Vec<u8>),
    /// A conditional value whose condition could not be mapped to specialties: published, not applied.
    Unmapped,
}

impl Applies {
    /// `*`, `02,04,07`, `?` (the `specialties` column of `ccam_modifier_values.tsv`).
    pub fn to_cell(&self) -> String {
        match self {
            Applies::Default => "*".into(),
            Applies::Unmapped => "?".into(),
            Applies::Specialties(v) => v
                .iter()
                .map(|c| format!("{c:02}"))
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// One value row of a modifier (the modifier row itself or a conditional row).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModifierValue {
    pub applies: Applies,
    /// Grid 1 (secteur 1 / OPTAM) and grid 2 values; `None` for an empty or unreadable cell.
    pub g1: Option<ModAmount>,
    pub g2: Option<ModAmount>,
    /// The row's text.
    pub text: String,
    /// The notes printed under the row (`A l'exclusion de : …`, `Inclut : …`), in order.
    pub notes: Vec<String>,
}

impl ModifierValue {
    pub fn for_grid(&self, grid: u8) -> Option<ModAmount> {
        if grid == 1 { self.g1 } else { self.g2 }
    }

    /// Text and notes on one line (the `condition` column).
    pub fn condition(&self) -> String {
        let mut parts = vec![self.text.as_str()];
        parts.extend(self.notes.iter().map(String::as_str));
        parts
            .iter()
            .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

/// A modifier as defined in chapter 19.03 of one version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfficialModifier {
    /// `A`–`Z` or `0`–`9`.
    pub code: u8,
    /// Physical line of the modifier row.
    pub line: usize,
    /// The modifier row's value first (`Applies::Default`), then the conditional rows in file order.
    pub values: Vec<ModifierValue>,
}

/// IR_SPE_V codes (fixtures/nomenclatures/IR_SPE_V.csv) of the surgical specialties: every physician
/// specialty labelled `CHIRURGIE …` plus neurosurgery (04, 10, 16, 41, 43–49, 69); 36 (dental ODF) is a
/// dentist's.
const SURGEONS: &[u8] = &[4, 10, 16, 41, 43, 44, 45, 46, 47, 48, 49, 69];

/// Professions named in the conditions, as they are written (lower case, hyphens without spaces), and
/// their IR_SPE_V codes. `None`: the profession has no code in IR_SPE_V's physician list (sages-femmes,
/// chirurgiens-dentistes), so a condition naming it cannot be mapped. Matched in order, each match
/// removed from the text (so `chirurgiens-dentistes` is not also read as `chirurgiens`).
pub const PROFESSIONS: &[(&str, Option<&[u8]>)] = &[
    ("chirurgiens-dentistes", None),
    ("chirurgien-dentiste", None),
    ("sages-femmes", None),
    ("sage-femme", None),
    ("gynécologues-obstétriciens", Some(&[7, 77, 79])),
    ("gynécologue-obstétricien", Some(&[7, 77, 79])),
    ("chirurgiens", Some(SURGEONS)),
    ("anesthésistes", Some(&[2])),
    ("pédiatres", Some(&[12])),
    ("médecins généralistes", Some(&[1, 22, 23])),
    ("orl", Some(&[11])),
    ("stomatologues", Some(&[18, 45])),
    ("ophtalmologues", Some(&[15])),
    ("ophtalmologue", Some(&[15])),
];

/// The professions named by `text`: `Some(codes)` (sorted, deduplicated, possibly empty when none is
/// named) or `None` when one of them has no code.
pub fn professions(text: &str) -> Option<Vec<u8>> {
    let mut t = text
        .to_lowercase()
        .replace("- ", "-")
        .replace(['’', '\''], " ");
    let mut codes = Vec::new();
    for (word, c) in PROFESSIONS {
        let mut found = false;
        // Whole words only (`orl` must not match inside another word).
        while let Some(i) = find_word(&t, word) {
            found = true;
            t.replace_range(i..i + word.len(), " ");
        }
        if found {
            codes.extend_from_slice((*c)?);
        }
    }
    codes.sort_unstable();
    codes.dedup();
    Some(codes)
}

fn find_word(t: &str, w: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(k) = t.get(from..)?.find(w) {
        let i = from + k;
        let before = t[..i].chars().next_back();
        let after = t[i + w.len()..].chars().next();
        let edge = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
        if edge(before) && edge(after) {
            return Some(i);
        }
        from = i + w.len();
    }
    None
}

/// Reads one value cell. `Ok(None)`: empty. `Err`: unreadable. The `bool` is true when a bare fraction
/// was read as a percentage.
pub fn parse_value(cell: &str) -> Result<Option<(ModAmount, bool)>, String> {
    let t = cell.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if let Some(p) = t.strip_suffix('%') {
        let p = p.trim().strip_prefix('+').unwrap_or(p);
        let (d, _) = parse_decimal(p)?;
        let bp = to_hundredths(d).ok_or("percentage out of range")?;
        return Ok(Some((ModAmount::Pct(bp), false)));
    }
    let (d, _) = parse_decimal(t)?;
    if d < rust_decimal::Decimal::ONE {
        let bp = fraction_to_bp(d).ok_or("fraction out of range")?;
        return Ok(Some((ModAmount::Pct(bp), true)));
    }
    let c = to_cents(d).ok_or("amount out of range")?;
    Ok(Some((ModAmount::Fixed(c), false)))
}

/// Maps the conditional rows of every modifier (see the module documentation).
pub fn map_conditions(mods: &mut [OfficialModifier]) {
    for m in mods {
        let default_set = m.values.first().and_then(|v| professions(&v.text));
        for v in m.values.iter_mut().skip(1) {
            let mut text = v.text.clone();
            for n in &v.notes {
                if n.trim_start().to_lowercase().starts_with("inclut") {
                    text.push(' ');
                    text.push_str(n);
                }
            }
            v.applies = match professions(&text) {
                Some(codes) if !codes.is_empty() && default_set.as_ref() != Some(&codes) => {
                    Applies::Specialties(codes)
                }
                _ => Applies::Unmapped,
            };
        }
    }
}
