//! The dated history: several versions merged into `[valid_from, valid_to)` rows per key.

use std::collections::{BTreeMap, BTreeSet};

use super::cells::{code_string, in_chapter};
use super::modifiers::{Applies, ModAmount};
use super::tsv::fmt_date;
use super::{CcamError, Code, OfficialCcam};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActRow {
    pub code: Code,
    pub valid_from: u32,
    pub valid_to: Option<u32>,
    pub version: u32,
    pub exo_tm: String,
    pub rc: String,
    pub ap: String,
    pub regroupement: String,
    pub complement: bool,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TariffRow {
    pub code: Code,
    pub activity: u8,
    pub phase: u8,
    pub valid_from: u32,
    pub valid_to: Option<u32>,
    pub version: u32,
    pub tariff_g1: Option<i64>,
    pub tariff_g2: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModifiersRow {
    pub code: Code,
    pub activity: u8,
    pub valid_from: u32,
    pub valid_to: Option<u32>,
    pub version: u32,
    pub modifiers: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompanionsRow {
    pub code: Code,
    pub valid_from: u32,
    pub valid_to: Option<u32>,
    pub version: u32,
    /// Comma-joined codes (`ZZLP025,HBQK061,YYYY614`).
    pub companions: String,
}

/// The values of one modifier on one grid in one period (chapter 19.03): the default first, then the
/// conditional values in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModifierValuesRow {
    pub modifier: u8,
    pub grid: u8,
    pub valid_from: u32,
    pub valid_to: Option<u32>,
    pub version: u32,
    /// (whom it applies to, value, condition text on one line).
    pub values: Vec<(Applies, ModAmount, String)>,
}

/// Dated tables, each sorted by key then `valid_from`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CcamHistory {
    /// `(version, applicable)` of the inputs, by date.
    pub versions: Vec<(u32, u32)>,
    pub acts: Vec<ActRow>,
    pub tariffs: Vec<TariffRow>,
    pub modifiers_allowed: Vec<ModifiersRow>,
    pub companions: Vec<CompanionsRow>,
    /// Modifier values (not filtered by `retain_codes`).
    pub modifier_values: Vec<ModifierValuesRow>,
}

impl CcamHistory {
    /// Keeps only the rows of the codes for which `keep` is true (used to build small reference sets).
    pub fn retain_codes(&mut self, mut keep: impl FnMut(&Code) -> bool) {
        self.acts.retain(|r| keep(&r.code));
        self.tariffs.retain(|r| keep(&r.code));
        self.modifiers_allowed.retain(|r| keep(&r.code));
        self.companions.retain(|r| keep(&r.code));
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ActVals {
    exo_tm: String,
    rc: String,
    ap: String,
    regroupement: String,
    complement: bool,
    label: String,
}

/// One merged row: key, valid_from, valid_to, version, value.
pub(crate) type Merged<K, V> = (K, u32, Option<u32>, u32, V);

/// The merge rule: walking the versions by date, a key's row stays open while each version carries the
/// same value; a changed value closes it at that version's date and opens a new row (stamped with that
/// version); a key missing from a version closes at that version's date; the rows still open at the
/// end are open-ended.
pub(crate) fn merge<K: Ord + Clone, V: PartialEq + Clone>(
    snaps: &[(u32, u32, BTreeMap<K, V>)],
) -> Vec<Merged<K, V>> {
    let mut open: BTreeMap<K, (u32, u32, V)> = BTreeMap::new();
    let mut out: Vec<Merged<K, V>> = Vec::new();
    for (version, date, map) in snaps {
        open.retain(|k, (from, ver, val)| match map.get(k) {
            Some(v) if v == val => true,
            _ => {
                out.push((k.clone(), *from, Some(*date), *ver, val.clone()));
                false
            }
        });
        for (k, v) in map {
            if !open.contains_key(k) {
                open.insert(k.clone(), (*date, *version, v.clone()));
            }
        }
    }
    out.extend(
        open.into_iter()
            .map(|(k, (from, ver, val))| (k, from, None, ver, val)),
    );
    out.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    out
}

/// Builds the dated tables from several versions (any order). A version is in force from its
/// applicable date inclusive to the next version's date exclusive; the last is open-ended. Two versions
/// with the same date are an error.
pub fn build_history(mut versions: Vec<OfficialCcam>) -> Result<CcamHistory, CcamError> {
    versions.sort_by_key(|v| v.applicable);
    for w in versions.windows(2) {
        if let [a, b] = w
            && a.applicable == b.applicable
        {
            return Err(CcamError::DuplicateApplicable {
                date: fmt_date(a.applicable),
                first: a.version,
                second: b.version,
            });
        }
    }
    let mut acts = Vec::with_capacity(versions.len());
    let mut tariffs = Vec::with_capacity(versions.len());
    let mut mods = Vec::with_capacity(versions.len());
    let mut comps = Vec::with_capacity(versions.len());
    let mut modvals = Vec::with_capacity(versions.len());
    for v in &versions {
        // Modifier values: key (modifier, grid), value = every published value of that grid, in order.
        // The condition text is part of the value: a reworded condition starts a new row.
        type ModValues = BTreeMap<(u8, u8), Vec<(Applies, ModAmount, String)>>;
        let mut mv: ModValues = BTreeMap::new();
        for m in &v.modifiers {
            for grid in [1u8, 2] {
                let vals: Vec<_> = m
                    .values
                    .iter()
                    .filter_map(|x| Some((x.applies.clone(), x.for_grid(grid)?, x.condition())))
                    .collect();
                if !vals.is_empty() {
                    mv.insert((m.code, grid), vals);
                }
            }
        }
        modvals.push((v.version, v.applicable, mv));
        // `complement` is a property of the version: named in any act's companion list, or filed in
        // chapter 18.02 (gestes complémentaires) / 19.02 (suppléments).
        let mut complements: BTreeSet<Code> = BTreeSet::new();
        for a in &v.acts {
            complements.extend(a.companions.iter().copied());
            if in_chapter(&a.chapter, "18.02") || in_chapter(&a.chapter, "19.02") {
                complements.insert(a.code);
            }
        }
        let mut am = BTreeMap::new();
        let mut tm = BTreeMap::new();
        let mut mm = BTreeMap::new();
        let mut cm = BTreeMap::new();
        for a in &v.acts {
            am.insert(
                a.code,
                ActVals {
                    exo_tm: a.exo_tm.clone(),
                    rc: a.rc.clone(),
                    ap: a.ap.clone(),
                    regroupement: a.regroupement.clone(),
                    complement: complements.contains(&a.code),
                    label: a.label.clone(),
                },
            );
            for p in &a.phases {
                // parse_official already keeps the first of a repeated (activity, phase).
                tm.entry((a.code, p.activity, p.phase))
                    .or_insert((p.tariff_g1_cents, p.tariff_g2_cents));
            }
            for (act, m) in &a.modifiers {
                mm.entry((a.code, *act)).or_insert_with(|| m.clone());
            }
            if !a.companions.is_empty() {
                let list: Vec<String> = a.companions.iter().map(code_string).collect();
                cm.insert(a.code, list.join(","));
            }
        }
        acts.push((v.version, v.applicable, am));
        tariffs.push((v.version, v.applicable, tm));
        mods.push((v.version, v.applicable, mm));
        comps.push((v.version, v.applicable, cm));
    }
    Ok(CcamHistory {
        versions: versions.iter().map(|v| (v.version, v.applicable)).collect(),
        acts: merge(&acts)
            .into_iter()
            .map(|(code, valid_from, valid_to, version, v)| ActRow {
                code,
                valid_from,
                valid_to,
                version,
                exo_tm: v.exo_tm,
                rc: v.rc,
                ap: v.ap,
                regroupement: v.regroupement,
                complement: v.complement,
                label: v.label,
            })
            .collect(),
        tariffs: merge(&tariffs)
            .into_iter()
            .map(
                |((code, activity, phase), valid_from, valid_to, version, (g1, g2))| TariffRow {
                    code,
                    activity,
                    phase,
                    valid_from,
                    valid_to,
                    version,
                    tariff_g1: g1,
                    tariff_g2: g2,
                },
            )
            .collect(),
        modifiers_allowed: merge(&mods)
            .into_iter()
            .map(
                |((code, activity), valid_from, valid_to, version, modifiers)| ModifiersRow {
                    code,
                    activity,
                    valid_from,
                    valid_to,
                    version,
                    modifiers,
                },
            )
            .collect(),
        companions: merge(&comps)
            .into_iter()
            .map(
                |(code, valid_from, valid_to, version, companions)| CompanionsRow {
                    code,
                    valid_from,
                    valid_to,
                    version,
                    companions,
                },
            )
            .collect(),
        modifier_values: merge(&modvals)
            .into_iter()
            .map(
                |((modifier, grid), valid_from, valid_to, version, values)| ModifierValuesRow {
                    modifier,
                    grid,
                    valid_from,
                    valid_to,
                    version,
                    values,
                },
            )
            .collect(),
    })
}
