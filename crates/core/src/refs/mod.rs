//! Reference set: every table the rules read, loaded once, immutable, indexed by key and by date.
//!
//! Layout of the directory: `formats/refs.md`. Each table is parsed by [`tsv`], grouped by key into a
//! [`History`] (sorted, non-overlapping `[from, to)` periods, checked at load with the position of the
//! offending row), and stored in an `FxHashMap` so that a rule's lookup is one hash probe plus a
//! binary search over a handful of versions.
//!
//! Architecture invariant: nothing in `refs` is mutated after [`Refs::load`] returns; the rules only
//! read it, from any thread.

pub mod beneficiaries;
pub mod history;
pub mod tsv;

use crate::date::{Date, Period};
use crate::money::{Bp, Cents};
pub use history::History;
use rustc_hash::FxHashMap;
use std::hash::Hash;
use std::path::Path;
pub use tsv::LoadError;
use tsv::{Row, Table};

pub type Code7 = [u8; 7];

/// Tariff grid: `1` = sector 1 / OPTAM / OPTAM-CO grid, `2` = non-OPTAM grid (the two grids of the
/// official CCAM export; SNDS grids 001/002 in `XC_TRF_R`).
pub type Grid = u8;

#[derive(Clone, Debug)]
pub struct ActInfo {
    pub version: u32,
    /// First digit of the official "Exo. TM" cell: 1 = acts added up against the heavy-act threshold,
    /// 2 = each act compared alone (RULES.md §6.4). 0 when empty.
    pub exo_tm: u8,
    pub exo_tm_raw: String,
    pub rc: String,
    pub ap: String,
    pub regroupement: [u8; 3],
    pub complement: bool,
    pub label: String,
}

#[derive(Clone, Copy, Debug)]
pub struct Tariff {
    pub version: u32,
    pub g1: Option<Cents>,
    pub g2: Option<Cents>,
}

impl Tariff {
    pub fn for_grid(&self, g: Grid) -> Option<Cents> {
        if g == 1 { self.g1 } else { self.g2 }
    }
}

/// A set of modifier codes as a bitmask (A–Z → bits 0–25, 0–9 → bits 26–35).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ModSet(pub u64);

impl ModSet {
    pub fn bit(c: u8) -> Option<u64> {
        match c {
            b'A'..=b'Z' => Some(1 << (c - b'A')),
            b'0'..=b'9' => Some(1 << (26 + c - b'0')),
            _ => None,
        }
    }
    pub fn parse(s: &str) -> Option<ModSet> {
        let mut m = 0;
        for c in s.bytes() {
            if c == b',' || c == b' ' {
                continue;
            }
            m |= ModSet::bit(c)?;
        }
        Some(ModSet(m))
    }
    pub fn contains(&self, c: u8) -> bool {
        ModSet::bit(c).is_some_and(|b| self.0 & b != 0)
    }
    pub fn to_string(self) -> String {
        (b'A'..=b'Z')
            .chain(b'0'..=b'9')
            .filter(|&c| self.contains(c))
            .map(|c| c as char)
            .collect()
    }
}

#[derive(Clone, Copy, Debug)]
pub struct AllowedMods {
    pub version: u32,
    pub set: ModSet,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModKind {
    /// Percentage of the unit price, in basis points.
    Pct(Bp),
    /// Fixed amount in cents.
    Fixed(Cents),
}

#[derive(Clone, Copy, Debug)]
pub struct ModValue {
    pub kind: ModKind,
    pub exclusive: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct NgapValue {
    pub value: Cents,
    pub physician: bool,
    pub consultation: bool,
}

/// Dated parameters (`parameters.tsv`). Values are fixed-point ×100: rates in basis points, amounts in
/// cents, counts and ages ×100.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Param {
    RateDefault,
    RateExempt,
    RateLocalRegime,
    RateOutOfPathway,
    PfAmount,
    PfDailyMax,
    PfYearlyCap,
    PfMinAge,
    HeavyForfait,
    HeavyThreshold,
    HeavyCoefThreshold,
    TimeLimitMonths,
    PathwayMinAge,
}

impl Param {
    pub const ALL: [Param; 13] = [
        Param::RateDefault,
        Param::RateExempt,
        Param::RateLocalRegime,
        Param::RateOutOfPathway,
        Param::PfAmount,
        Param::PfDailyMax,
        Param::PfYearlyCap,
        Param::PfMinAge,
        Param::HeavyForfait,
        Param::HeavyThreshold,
        Param::HeavyCoefThreshold,
        Param::TimeLimitMonths,
        Param::PathwayMinAge,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Param::RateDefault => "rate_default",
            Param::RateExempt => "rate_exempt",
            Param::RateLocalRegime => "rate_local_regime",
            Param::RateOutOfPathway => "rate_out_of_pathway",
            Param::PfAmount => "pf_amount",
            Param::PfDailyMax => "pf_daily_max",
            Param::PfYearlyCap => "pf_yearly_cap",
            Param::PfMinAge => "pf_min_age",
            Param::HeavyForfait => "heavy_forfait",
            Param::HeavyThreshold => "heavy_threshold",
            Param::HeavyCoefThreshold => "heavy_coef_threshold",
            Param::TimeLimitMonths => "time_limit_months",
            Param::PathwayMinAge => "pathway_min_age",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Specialty {
    pub physician: bool,
    pub direct_access: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct Practitioner {
    pub specialty: u8,
    /// SNDS `IR_CNV_V`: 0 non conventionné, 1 S1, 2 S1 DP, 3 S2, 9 salarié.
    pub sector: u8,
    pub optam: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct Rights {
    pub regime: u8,
    pub local_regime: bool,
    pub c2s: bool,
    pub amc: [u8; 10],
    pub contract: [u8; 2],
}

impl Rights {
    pub fn has_amc(&self) -> bool {
        self.amc != [b' '; 10]
    }
}

#[derive(Clone, Debug)]
pub struct AmcContract {
    /// Excess fees covered, as a share of the base (basis points): 0 = none, 10000 = up to 100 % of the base.
    pub excess_cover: Bp,
    pub name: String,
}

/// Beneficiary key: NIR (13 chars, Corsican `2A`/`2B` kept distinct) and rank packed in a `u64`.
pub fn benef_key(nir: &[u8], rank: u16) -> Option<u64> {
    if nir.len() != 13 || rank > 999 {
        return None;
    }
    let mut n: u64 = 0;
    let mut corsica = 0u64;
    for (i, &c) in nir.iter().enumerate() {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'A' if i == 6 && nir[5] == b'2' => {
                corsica = 1;
                0
            }
            b'B' if i == 6 && nir[5] == b'2' => {
                corsica = 2;
                0
            }
            _ => return None,
        };
        n = n * 10 + d as u64;
    }
    // 10^13 < 2^44; 2 bits of Corsica flag; rank < 2^10.
    Some((n << 12) | (corsica << 10) | rank as u64)
}

/// The whole reference set.
#[derive(Default)]
pub struct Refs {
    pub acts: FxHashMap<Code7, History<ActInfo>>,
    pub tariffs: FxHashMap<(Code7, u8, u8), History<Tariff>>,
    pub allowed_mods: FxHashMap<(Code7, u8), History<AllowedMods>>,
    pub companions: FxHashMap<Code7, History<Vec<Code7>>>,
    pub modifiers: FxHashMap<(u8, Grid), History<ModValue>>,
    pub assoc: FxHashMap<u8, History<Bp>>,
    /// Incompatible pairs, stored under both orders.
    pub incompat: FxHashMap<(Code7, Code7), History<()>>,
    /// CCAM acts that may be billed with a consultation the same day (RULES.md §3.3 exceptions).
    pub consult_ok: FxHashMap<Code7, History<()>>,
    /// NGAP letters; grid 0 = value for every grid.
    pub ngap: FxHashMap<([u8; 4], Grid), History<NgapValue>>,
    pub params: FxHashMap<Param, History<i64>>,
    pub specialties: FxHashMap<u8, Specialty>,
    pub practitioners: FxHashMap<u32, History<Practitioner>>,
    pub beneficiaries: beneficiaries::Beneficiaries,
    pub amc: FxHashMap<([u8; 10], [u8; 2]), History<AmcContract>>,
}

/// Groups `(key, period, value, line)` rows into sealed histories, reporting overlaps at the later row.
fn histories<K: Hash + Eq, V>(
    t: &Table,
    rows: Vec<(K, Period, V, usize)>,
) -> Result<FxHashMap<K, History<V>>, LoadError> {
    let mut tmp: FxHashMap<K, Vec<(Period, V, usize)>> = FxHashMap::default();
    for (k, p, v, l) in rows {
        tmp.entry(k).or_default().push((p, v, l));
    }
    let mut out = FxHashMap::with_capacity_and_hasher(tmp.len(), Default::default());
    for (k, mut rows) in tmp {
        rows.sort_by_key(|r| (r.0.from, r.2));
        for w in rows.windows(2) {
            if w[0].0.overlaps(&w[1].0) {
                let (a, b) = (&w[0], &w[1]);
                let (line, other) = if a.2 > b.2 { (a.2, b.2) } else { (b.2, a.2) };
                return Err(t.error(
                    line,
                    1,
                    format!("period overlaps the period of the same key at line {other} (duplicate key or overlapping dates)"),
                ));
            }
        }
        let mut h = History::default();
        for (p, v, _) in rows {
            h.push(p, v);
        }
        out.insert(k, h);
    }
    Ok(out)
}

fn code7(r: &Row, name: &str) -> Result<Code7, LoadError> {
    let s = r.nonempty(name)?;
    let b = s.as_bytes();
    if b.len() != 7
        || !b[..4].iter().all(u8::is_ascii_uppercase)
        || !b[4..].iter().all(u8::is_ascii_digit)
    {
        return Err(r.err(
            name,
            format!("`{s}` is not a CCAM code [A-Z]{{4}}[0-9]{{3}}"),
        ));
    }
    let mut c = [0u8; 7];
    c.copy_from_slice(b);
    Ok(c)
}

fn grid(r: &Row, name: &str) -> Result<Grid, LoadError> {
    match r.str(name)? {
        "1" => Ok(1),
        "2" => Ok(2),
        s => Err(r.err(name, format!("unknown grid `{s}` (expected 1 or 2)"))),
    }
}

fn small(r: &Row, name: &str, max: u64) -> Result<u8, LoadError> {
    let v = r.uint(name)?;
    if v > max {
        return Err(r.err(name, format!("{v} out of range 0..={max}")));
    }
    Ok(v as u8)
}

impl Refs {
    /// Loads every table of a reference directory. Any error stops the load (nothing is half-loaded).
    pub fn load(dir: &Path) -> Result<Refs, LoadError> {
        let timing = std::env::var_os("LIQUIDATOR_TIMING").is_some();
        let t0 = std::time::Instant::now();
        let mut r = Refs::default();
        r.load_ccam(dir)?;
        let t1 = std::time::Instant::now();
        r.load_rules_tables(dir)?;
        r.load_parties(dir)?;
        if timing {
            eprintln!(
                "timing: refs load ccam {:?}, rules+parties {:?}",
                t1 - t0,
                t1.elapsed()
            );
        }
        Ok(r)
    }

    /// Loads only the CCAM and regulatory tables (no practitioners, beneficiaries, insurers): what the
    /// generator and `refs lookup` need.
    pub fn load_regulatory(dir: &Path) -> Result<Refs, LoadError> {
        let mut r = Refs::default();
        r.load_ccam(dir)?;
        r.load_rules_tables(dir)?;
        Ok(r)
    }

    fn load_ccam(&mut self, dir: &Path) -> Result<(), LoadError> {
        let text = tsv::read_file(dir, "ccam_acts.tsv")?;
        let t = Table::parse("ccam_acts.tsv", &text)?;
        t.require(&[
            "code",
            "valid_from",
            "valid_to",
            "version",
            "exo_tm",
            "regroupement",
            "complement",
            "label",
        ])?;
        let mut rows = Vec::with_capacity(t.len());
        for row in t.rows() {
            let exo_raw = row.str("exo_tm")?.to_string();
            let exo_tm = exo_raw
                .bytes()
                .next()
                .filter(u8::is_ascii_digit)
                .map(|b| b - b'0')
                .unwrap_or(0);
            let reg = row.str("regroupement")?;
            let mut regroupement = [b' '; 3];
            for (i, b) in reg.bytes().take(3).enumerate() {
                regroupement[i] = b;
            }
            rows.push((
                code7(&row, "code")?,
                row.period()?,
                ActInfo {
                    version: row.uint("version")? as u32,
                    exo_tm,
                    exo_tm_raw: exo_raw,
                    rc: if t.has("rc") {
                        row.str("rc")?.to_string()
                    } else {
                        String::new()
                    },
                    ap: if t.has("ap") {
                        row.str("ap")?.to_string()
                    } else {
                        String::new()
                    },
                    regroupement,
                    complement: row.flag("complement")?,
                    label: row.str("label")?.to_string(),
                },
                row.line,
            ));
        }
        self.acts = histories(&t, rows)?;

        let text = tsv::read_file(dir, "ccam_tariffs.tsv")?;
        let t = Table::parse("ccam_tariffs.tsv", &text)?;
        t.require(&[
            "code",
            "activity",
            "phase",
            "valid_from",
            "valid_to",
            "version",
            "tariff_g1",
            "tariff_g2",
        ])?;
        let mut rows = Vec::with_capacity(t.len());
        for row in t.rows() {
            let key = (
                code7(&row, "code")?,
                small(&row, "activity", 9)?,
                small(&row, "phase", 9)?,
            );
            let tariff = Tariff {
                version: row.uint("version")? as u32,
                g1: row.opt_amount("tariff_g1")?,
                g2: row.opt_amount("tariff_g2")?,
            };
            rows.push((key, row.period()?, tariff, row.line));
        }
        self.tariffs = histories(&t, rows)?;

        let text = tsv::read_file(dir, "ccam_modifiers_allowed.tsv")?;
        let t = Table::parse("ccam_modifiers_allowed.tsv", &text)?;
        t.require(&[
            "code",
            "activity",
            "valid_from",
            "valid_to",
            "version",
            "modifiers",
        ])?;
        let mut rows = Vec::with_capacity(t.len());
        for row in t.rows() {
            let s = row.str("modifiers")?;
            let set = ModSet::parse(s)
                .ok_or_else(|| row.err("modifiers", format!("bad modifier list `{s}`")))?;
            let key = (code7(&row, "code")?, small(&row, "activity", 9)?);
            rows.push((
                key,
                row.period()?,
                AllowedMods {
                    version: row.uint("version")? as u32,
                    set,
                },
                row.line,
            ));
        }
        self.allowed_mods = histories(&t, rows)?;

        let text = tsv::read_file(dir, "ccam_companions.tsv")?;
        let t = Table::parse("ccam_companions.tsv", &text)?;
        t.require(&["code", "valid_from", "valid_to", "companions"])?;
        let mut rows = Vec::with_capacity(t.len());
        for row in t.rows() {
            let list = row
                .str("companions")?
                .split(',')
                .map(str::trim)
                .filter(|s| s.len() == 7)
                .map(|s| {
                    let mut c = [0u8; 7];
                    c.copy_from_slice(s.as_bytes());
                    c
                })
                .collect();
            rows.push((code7(&row, "code")?, row.period()?, list, row.line));
        }
        self.companions = histories(&t, rows)?;
        Ok(())
    }

    fn load_rules_tables(&mut self, dir: &Path) -> Result<(), LoadError> {
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
            let m = row.nonempty("modifier")?;
            if m.len() != 1 || ModSet::bit(m.as_bytes()[0]).is_none() {
                return Err(row.err("modifier", format!("`{m}` is not a modifier code")));
            }
            let kind = match row.str("kind")? {
                "pct" => ModKind::Pct(row.pct("value")?),
                "fixed" => ModKind::Fixed(row.amount("value")?),
                k => return Err(row.err("kind", format!("`{k}` (expected pct or fixed)"))),
            };
            let key = (m.as_bytes()[0], grid(&row, "grid")?);
            rows.push((
                key,
                row.period()?,
                ModValue {
                    kind,
                    exclusive: row.flag("exclusive")?,
                },
                row.line,
            ));
        }
        self.modifiers = histories(&t, rows)?;

        let text = tsv::read_file(dir, "association_codes.tsv")?;
        let t = Table::parse("association_codes.tsv", &text)?;
        t.require(&["code", "valid_from", "valid_to", "coef"])?;
        let mut rows = Vec::new();
        for row in t.rows() {
            let c = small(&row, "code", 9)?;
            let coef = row.pct("coef")?;
            if !(0..=10_000).contains(&coef) {
                return Err(row.err("coef", "coefficient outside 0..100 %"));
            }
            rows.push((c, row.period()?, coef, row.line));
        }
        self.assoc = histories(&t, rows)?;

        let text = tsv::read_file(dir, "incompatibilities.tsv")?;
        let t = Table::parse("incompatibilities.tsv", &text)?;
        t.require(&["code1", "code2", "valid_from", "valid_to"])?;
        let mut rows = Vec::new();
        for row in t.rows() {
            let (a, b) = (code7(&row, "code1")?, code7(&row, "code2")?);
            let p = row.period()?;
            rows.push(((a, b), p, (), row.line));
            if a != b {
                rows.push(((b, a), p, (), row.line));
            }
        }
        self.incompat = histories(&t, rows)?;

        let text = tsv::read_file(dir, "consultation_compatible.tsv")?;
        let t = Table::parse("consultation_compatible.tsv", &text)?;
        t.require(&["code", "valid_from", "valid_to"])?;
        let mut rows = Vec::new();
        for row in t.rows() {
            rows.push((code7(&row, "code")?, row.period()?, (), row.line));
        }
        self.consult_ok = histories(&t, rows)?;

        let text = tsv::read_file(dir, "ngap_letters.tsv")?;
        let t = Table::parse("ngap_letters.tsv", &text)?;
        t.require(&[
            "letter",
            "grid",
            "valid_from",
            "valid_to",
            "value",
            "physician",
            "consultation",
        ])?;
        let mut rows = Vec::new();
        for row in t.rows() {
            let letter = row.fixed::<4>("letter")?;
            let g = match row.str("grid")? {
                "*" => 0,
                _ => grid(&row, "grid")?,
            };
            let v = NgapValue {
                value: row.amount("value")?,
                physician: row.flag("physician")?,
                consultation: row.flag("consultation")?,
            };
            rows.push(((letter, g), row.period()?, v, row.line));
        }
        self.ngap = histories(&t, rows)?;

        let text = tsv::read_file(dir, "parameters.tsv")?;
        let t = Table::parse("parameters.tsv", &text)?;
        t.require(&["name", "valid_from", "valid_to", "value"])?;
        let mut rows = Vec::new();
        for row in t.rows() {
            let name = row.nonempty("name")?;
            let p = Param::ALL
                .into_iter()
                .find(|p| p.name() == name)
                .ok_or_else(|| row.err("name", format!("unknown parameter `{name}`")))?;
            let v = row.euros("value")?; // fixed-point ×100
            if v < 0 {
                return Err(row.err("value", "negative parameter"));
            }
            rows.push((p, row.period()?, v, row.line));
        }
        self.params = histories(&t, rows)?;
        for p in Param::ALL {
            if !self.params.contains_key(&p) {
                return Err(t.error(1, 1, format!("parameter `{}` missing", p.name())));
            }
        }

        let text = tsv::read_file(dir, "specialties.tsv")?;
        let t = Table::parse("specialties.tsv", &text)?;
        t.require(&["specialty", "physician", "direct_access"])?;
        for row in t.rows() {
            let s = small(&row, "specialty", 99)?;
            let v = Specialty {
                physician: row.flag("physician")?,
                direct_access: row.flag("direct_access")?,
            };
            if self.specialties.insert(s, v).is_some() {
                return Err(row.err("specialty", format!("duplicate specialty {s}")));
            }
        }
        Ok(())
    }

    fn load_parties(&mut self, dir: &Path) -> Result<(), LoadError> {
        let text = tsv::read_file(dir, "amc.tsv")?;
        let t = Table::parse("amc.tsv", &text)?;
        t.require(&["amc", "contract", "valid_from", "valid_to", "excess_cover"])?;
        let mut rows = Vec::new();
        for row in t.rows() {
            let key = (row.fixed::<10>("amc")?, row.fixed::<2>("contract")?);
            let c = AmcContract {
                excess_cover: row.pct("excess_cover")?,
                name: if t.has("name") {
                    row.str("name")?.to_string()
                } else {
                    String::new()
                },
            };
            if c.excess_cover < 0 {
                return Err(row.err("excess_cover", "negative cover"));
            }
            rows.push((key, row.period()?, c, row.line));
        }
        self.amc = histories(&t, rows)?;

        let text = tsv::read_file(dir, "practitioners.tsv")?;
        let t = Table::parse("practitioners.tsv", &text)?;
        t.require(&[
            "billing_no",
            "valid_from",
            "valid_to",
            "specialty",
            "sector",
            "optam",
        ])?;
        let mut rows = Vec::new();
        for row in t.rows() {
            let no = row.uint("billing_no")?;
            if no > 999_999_999 {
                return Err(row.err("billing_no", "more than 9 digits"));
            }
            let specialty = small(&row, "specialty", 99)?;
            if !self.specialties.contains_key(&specialty) {
                return Err(row.err(
                    "specialty",
                    format!("specialty {specialty} not in specialties.tsv"),
                ));
            }
            let sector = small(&row, "sector", 9)?;
            if ![0, 1, 2, 3, 9].contains(&sector) {
                return Err(row.err("sector", format!("sector {sector} not in {{0,1,2,3,9}}")));
            }
            let p = Practitioner {
                specialty,
                sector,
                optam: row.flag("optam")?,
            };
            rows.push((no as u32, row.period()?, p, row.line));
        }
        self.practitioners = histories(&t, rows)?;

        self.load_beneficiaries(dir)
    }

    fn load_beneficiaries(&mut self, dir: &Path) -> Result<(), LoadError> {
        let amc = &self.amc;
        self.beneficiaries =
            beneficiaries::Beneficiaries::load(dir, &|a, c| amc.contains_key(&(*a, *c)))?;
        Ok(())
    }

    /// A dated parameter on the date of care. Parameters are required at load for some date, but a
    /// date outside every period has no value: callers treat that as a reference gap.
    #[inline]
    pub fn param(&self, p: Param, d: Date) -> Option<i64> {
        self.params.get(&p).and_then(|h| h.value_at(d)).copied()
    }
}
