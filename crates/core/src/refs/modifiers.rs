//! Modifier values: what we declare (`modifiers.tsv`: kind, exclusive family, and a value only where the
//! official file publishes none) and what the official CCAM export publishes (`ccam_modifier_values.tsv`,
//! chapter 19.03: value per grid and version, with the practitioner specialties of conditional values).
//!
//! [`Refs::modifier_value`] values a modifier by (code, grid, date of care, practitioner specialty):
//! the official value in force on the date — the one of the first mapped row listing the specialty,
//! else the default row — and only when the official set has no row on that date, our table's value.

use super::tsv::{self, Row, Table};
use super::{Grid, LoadError, ModKind, ModSet, Refs, histories};
use crate::date::{Date, Period};
use std::path::Path;

/// Unit of a modifier (the `kind` column of `modifiers.tsv`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModUnit {
    Pct,
    Fixed,
}

impl ModKind {
    pub fn unit(&self) -> ModUnit {
        match self {
            ModKind::Pct(_) => ModUnit::Pct,
            ModKind::Fixed(_) => ModUnit::Fixed,
        }
    }
}

/// A row of `modifiers.tsv` (ours).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModValue {
    pub unit: ModUnit,
    /// Our value; `None` (empty cell) when the value comes from the official file.
    pub value: Option<ModKind>,
    pub exclusive: bool,
}

/// A set of IR_SPE_V specialty codes (0–99) as a bitmask.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpecSet(pub u128);

impl SpecSet {
    pub fn contains(&self, code: u8) -> bool {
        code < 128 && self.0 & (1u128 << code) != 0
    }
    /// `02,04,07` → the set; `None` for a code that is not a two-digit number.
    pub fn parse(s: &str) -> Option<SpecSet> {
        let mut m = 0u128;
        for c in s.split(',') {
            let c = c.trim();
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            m |= 1u128 << c.parse::<u8>().ok()?;
        }
        Some(SpecSet(m))
    }
}

/// The specialty codes as the `specialties` column writes them: two digits each, comma-separated.
impl std::fmt::Display for SpecSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut sep = "";
        for c in (0u8..100).filter(|&c| self.contains(c)) {
            write!(f, "{sep}{c:02}")?;
            sep = ",";
        }
        Ok(())
    }
}

/// Whom an official value applies to (`specialties` column: `*`, a list, `?`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applies {
    Default,
    Specialties(SpecSet),
    /// Published under a condition we could not map to specialties: shown, never applied.
    Unmapped,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfficialModEntry {
    pub applies: Applies,
    pub kind: ModKind,
    /// The published condition text (row and notes, one line).
    pub condition: String,
}

/// The official values of one modifier on one grid in one period (one CCAM version run).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfficialModValues {
    pub version: u32,
    pub entries: Vec<OfficialModEntry>,
}

impl OfficialModValues {
    /// The value for a practitioner of `specialty`: the first mapped row listing it, else the default.
    pub fn for_specialty(&self, specialty: u8) -> Option<&OfficialModEntry> {
        self.entries
            .iter()
            .find(|e| matches!(e.applies, Applies::Specialties(s) if s.contains(specialty)))
            .or_else(|| self.entries.iter().find(|e| e.applies == Applies::Default))
    }
}

/// Where a resolved value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModSource {
    /// The official export of this CCAM version; `by_specialty` when a specialty row matched.
    Official { version: u32, by_specialty: bool },
    /// Our `modifiers.tsv`.
    Table,
}

/// A modifier valued for one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResolvedMod {
    pub kind: ModKind,
    pub exclusive: bool,
    /// The period of the row the value comes from.
    pub period: Period,
    pub source: ModSource,
}

impl Refs {
    /// The value of modifier `m` on `grid` for care on `date` by a practitioner of `specialty`
    /// (IR_SPE_V code); `None` when neither the official set nor our table gives one.
    pub fn modifier_value(
        &self,
        m: u8,
        grid: Grid,
        date: Date,
        specialty: u8,
    ) -> Option<ResolvedMod> {
        let ours = self.modifiers.get(&(m, grid)).and_then(|h| h.at(date));
        let exclusive = ours.is_some_and(|(_, v)| v.exclusive);
        if let Some((p, off)) = self
            .modifier_values
            .get(&(m, grid))
            .and_then(|h| h.at(date))
            && let Some(e) = off.for_specialty(specialty)
        {
            return Some(ResolvedMod {
                kind: e.kind,
                exclusive,
                period: *p,
                source: ModSource::Official {
                    version: off.version,
                    by_specialty: e.applies != Applies::Default,
                },
            });
        }
        let (p, v) = ours?;
        Some(ResolvedMod {
            kind: v.value?,
            exclusive,
            period: *p,
            source: ModSource::Table,
        })
    }
}

fn modifier_code(row: &Row, name: &str) -> Result<u8, LoadError> {
    let m = row.nonempty(name)?;
    if m.len() != 1 || ModSet::bit(m.as_bytes()[0]).is_none() {
        return Err(row.err(name, format!("`{m}` is not a modifier code")));
    }
    Ok(m.as_bytes()[0])
}

fn kind_value(row: &Row) -> Result<(ModUnit, Option<ModKind>), LoadError> {
    let unit = match row.str("kind")? {
        "pct" => ModUnit::Pct,
        "fixed" => ModUnit::Fixed,
        k => return Err(row.err("kind", format!("`{k}` (expected pct or fixed)"))),
    };
    if row.str("value")?.is_empty() {
        return Ok((unit, None));
    }
    let v = match unit {
        ModUnit::Pct => ModKind::Pct(row.pct("value")?),
        ModUnit::Fixed => ModKind::Fixed(row.amount("value")?),
    };
    Ok((unit, Some(v)))
}

/// Loads `modifiers.tsv` and, when present, `ccam_modifier_values.tsv` (reference sets built before the
/// official values were imported have none). An official value whose kind differs from our declared
/// kind for the same modifier, grid and date is refused.
pub(super) fn load(refs: &mut Refs, dir: &Path) -> Result<(), LoadError> {
    let text = tsv::read_file(dir, "modifiers.tsv")?;
    let t = Table::parse("modifiers.tsv", &text)?;
    t.require(&[
        "modifier",
        "grid",
        "valid_from",
        "valid_to",
        "kind",
        "value",
        "exclusive",
    ])?;
    let mut rows = Vec::new();
    for row in t.rows() {
        let key = (modifier_code(&row, "modifier")?, super::grid(&row, "grid")?);
        let (unit, value) = kind_value(&row)?;
        rows.push((
            key,
            row.period()?,
            ModValue {
                unit,
                value,
                exclusive: row.flag("exclusive")?,
            },
            row.line,
        ));
    }
    refs.modifiers = histories(&t, rows)?;

    const OFFICIAL: &str = "ccam_modifier_values.tsv";
    if !dir.join(OFFICIAL).exists() {
        refs.modifier_values = Default::default();
        return Ok(());
    }
    let text = tsv::read_file(dir, OFFICIAL)?;
    let t = Table::parse(OFFICIAL, &text)?;
    t.require(&[
        "modifier",
        "grid",
        "valid_from",
        "valid_to",
        "version",
        "specialties",
        "kind",
        "value",
        "condition",
    ])?;
    // Rows of one (modifier, grid, valid_from) are one period's values: grouped, same valid_to and
    // version, at most one default.
    let mut groups: Vec<((u8, Grid), Period, OfficialModValues, usize)> = Vec::new();
    for row in t.rows() {
        let key = (modifier_code(&row, "modifier")?, super::grid(&row, "grid")?);
        let period = row.period()?;
        let version = row.uint("version")? as u32;
        let applies = match row.str("specialties")? {
            "*" => Applies::Default,
            "?" => Applies::Unmapped,
            s => Applies::Specialties(SpecSet::parse(s).ok_or_else(|| {
                row.err(
                    "specialties",
                    format!("`{s}` (expected `*`, `?` or two-digit codes separated by commas)"),
                )
            })?),
        };
        let (unit, value) = kind_value(&row)?;
        let kind = value.ok_or_else(|| row.err("value", "empty value"))?;
        if let Some((_, ours)) = refs.modifiers.get(&key).and_then(|h| h.at(period.from))
            && ours.unit != unit
        {
            return Err(row.err(
                "kind",
                format!(
                    "official kind {unit:?} differs from modifiers.tsv's {:?} for {} grid {}",
                    ours.unit, key.0 as char, key.1
                ),
            ));
        }
        let entry = OfficialModEntry {
            applies,
            kind,
            condition: row.str("condition")?.to_string(),
        };
        match groups
            .iter_mut()
            .find(|g| g.0 == key && g.1.from == period.from)
        {
            Some(g) => {
                if g.1 != period || g.2.version != version {
                    return Err(row.err(
                        "valid_to",
                        format!(
                            "period or version differs from the row of the same modifier, grid and valid_from at line {}",
                            g.3
                        ),
                    ));
                }
                if applies == Applies::Default
                    && g.2.entries.iter().any(|e| e.applies == Applies::Default)
                {
                    return Err(row.err("specialties", "a second default (`*`) row for the period"));
                }
                g.2.entries.push(entry);
            }
            None => groups.push((
                key,
                period,
                OfficialModValues {
                    version,
                    entries: vec![entry],
                },
                row.line,
            )),
        }
    }
    refs.modifier_values = histories(&t, groups)?;
    Ok(())
}
