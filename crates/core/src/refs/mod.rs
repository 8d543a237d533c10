//! Reference set: every table the rules read, loaded once, immutable, indexed by key and by date.
//!
//! Layout of the directory: `formats/refs.md`. Each table is parsed by [`tsv`], grouped by key into a
//! [`History`] (sorted, non-overlapping `[from, to)` periods, checked at load with the position of the
//! offending row), and stored in an `FxHashMap` so that a rule's lookup is one hash probe plus a
//! binary search over a handful of versions.
//!
//! Architecture invariant: nothing in `refs` is mutated after [`Refs::load`] returns; the rules only
//! read it, from any thread.

pub mod bank;
pub mod beneficiaries;
pub mod compiled;
pub mod history;
pub mod modifiers;
pub mod snapshot;
pub mod tsv;

use crate::date::{Date, Period};
use crate::money::{Bp, Cents};
pub use history::History;
use rustc_hash::FxHashMap;
use serde::Deserialize;
use std::hash::Hash;
use std::path::Path;
use tsv::Code7 as Code7Cell;
pub use tsv::LoadError;
use tsv::{Amount, Day, Euros, Fixed, Flag, Pct, Row, Small, Table, Uint};

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
}

/// The modifier letters and digits in table order, without separators (`ModSet::parse` reads it back).
impl std::fmt::Display for ModSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in (b'A'..=b'Z')
            .chain(b'0'..=b'9')
            .filter(|&c| self.contains(c))
        {
            write!(f, "{}", c as char)?;
        }
        Ok(())
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

pub use modifiers::{
    Applies as ModApplies, ModSource, ModUnit, ModValue, OfficialModEntry, OfficialModValues,
    ResolvedMod, SpecSet,
};

#[derive(Clone, Copy, Debug)]
pub struct NgapValue {
    pub value: Cents,
    pub physician: bool,
    pub consultation: bool,
    pub family: NgapFamily,
}

/// What an NGAP letter is (`ngap_letters.tsv`, column `family`): the rate and participation rules and
/// the majoration check (`formats/rules-decisions.md`, "NGAP majorations") key on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NgapFamily {
    /// A consultation or visit (G, CS, APC, TCG, VG…).
    Consultation,
    /// A majoration billed as its own line next to a consultation or act of the same date (MCS, MEG,
    /// MN, F, CRN, MAU…).
    Majoration,
    /// A travel fee (MD, MDN, IK, IFI…); IK's coefficient is the number of km.
    Travel,
    /// A coefficient act (AMI, AIS, AMK, AMO, SF…).
    Act,
}

impl NgapFamily {
    pub fn as_str(self) -> &'static str {
        match self {
            NgapFamily::Consultation => "consultation",
            NgapFamily::Majoration => "majoration",
            NgapFamily::Travel => "travel",
            NgapFamily::Act => "act",
        }
    }
    /// A consultation or act: what a majoration or travel fee goes with.
    pub fn is_base(self) -> bool {
        matches!(self, NgapFamily::Consultation | NgapFamily::Act)
    }
}

/// A profession name of `specialties.tsv` as a fixed key (space-padded) for
/// [`Refs::ngap_profession`]; `None` when longer than 16 bytes (no such profession).
pub fn ngap_profession_key(name: &str) -> Option<[u8; 16]> {
    let b = name.as_bytes();
    if b.len() > 16 {
        return None;
    }
    let mut k = [b' '; 16];
    k[..b.len()].copy_from_slice(b);
    Some(k)
}

/// Dated parameters (`parameters.tsv`). Values are fixed-point ×100: rates in basis points, amounts in
/// cents, counts and ages ×100.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Param {
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
    FranchiseParamedical,
    FranchiseParamedicalDailyCap,
    FranchiseYearlyCap,
    FranchiseMinAge,
}

impl Param {
    pub const ALL: [Param; 16] = [
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
        Param::FranchiseParamedical,
        Param::FranchiseParamedicalDailyCap,
        Param::FranchiseYearlyCap,
        Param::FranchiseMinAge,
    ];
    pub fn name(self) -> &'static str {
        match self {
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
            Param::FranchiseParamedical => "franchise_paramedical",
            Param::FranchiseParamedicalDailyCap => "franchise_paramedical_daily_cap",
            Param::FranchiseYearlyCap => "franchise_yearly_cap",
            Param::FranchiseMinAge => "franchise_min_age",
        }
    }
}

/// A specialty of `specialties.tsv` (SNDS `IR_SPE_V` codes).
#[derive(Clone, Copy, Debug)]
pub struct Specialty {
    /// A physician's acts carry the participation forfaitaire and the out-of-pathway rule.
    pub physician: bool,
    /// Consulted without referral with no out-of-pathway penalty (RULES.md §5.4) …
    pub direct_access: bool,
    /// … up to this age included (psychiatry and neuropsychiatry: 16–25 year olds).
    pub direct_access_max_age: Option<u8>,
    /// Index of the profession name in [`Refs::professions`]: keys the default rate (`rates.tsv`).
    pub profession: u8,
}

/// The profession of physicians in `specialties.tsv` (must agree with the `physician` flag).
pub const PHYSICIAN: &str = "physician";
/// The profession of the "not filled in" specialties (00, 99): no default rate; a practitioner with it
/// is refused at load.
pub const UNSPECIFIED: &str = "unspecified";

/// Default AMO rate of a profession over a period (`rates.tsv`), with the row's confidence and source
/// (quoted by `explain`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfessionRate {
    pub rate: Bp,
    pub confidence: String,
    pub source: String,
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
    // Thirteen digits (all but the Corsican NIRs) read eight bytes at a time: the key is computed for
    // each claim several times (engine, controls, payment orders), ≈ 120 instructions a call digit
    // by digit (issue #13). Anything else takes the byte loop below.
    if let (Some(hi), Some(lo)) = (
        nir.get(..8).and_then(eight_digits),
        nir.get(5..13).and_then(eight_digits),
    ) {
        let n = hi * 100_000 + lo % 100_000;
        return Some((n << 12) | rank as u64);
    }
    benef_key_bytes(nir, rank)
}

/// The value of eight ASCII decimal digits (the first one the most significant), or `None` if one of
/// the bytes is not a digit. SWAR: every byte checked at once, then digits combined in pairs, fours,
/// eights by three multiplications.
#[inline]
pub(crate) fn eight_digits(b: &[u8]) -> Option<u64> {
    let v = u64::from_le_bytes(b.try_into().ok()?);
    // A byte c is a digit iff its high nibble is 3 and c + 6 keeps it (c ≤ 0x39). A carry out of an
    // invalid byte can only spoil a byte of an input already refused by the first test.
    const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    const THREES: u64 = 0x3030_3030_3030_3030;
    if v & HIGH != THREES || v.wrapping_add(0x0606_0606_0606_0606) & HIGH != THREES {
        return None;
    }
    let v = (v & 0x0F0F_0F0F_0F0F_0F0F).wrapping_mul(2561) >> 8;
    let v = (v & 0x00FF_00FF_00FF_00FF).wrapping_mul(6_553_601) >> 16;
    Some((v & 0x0000_FFFF_0000_FFFF).wrapping_mul(42_949_672_960_001) >> 32)
}

/// [`benef_key`] byte by byte (any NIR, the Corsican `2A`/`2B` included).
fn benef_key_bytes(nir: &[u8], rank: u16) -> Option<u64> {
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

/// The `NIR-rank` text of a beneficiary key ([`benef_key`]'s inverse), e.g. `1850578006084-001`.
pub fn benef_text(key: u64) -> String {
    // One text for a key, written by the writers' byte formatter (the end-of-run files use it directly).
    let mut b = Vec::with_capacity(20);
    crate::output::fmt::benef(&mut b, key);
    String::from_utf8_lossy(&b).into_owned()
}

/// The whole reference set.
#[derive(Default)]
pub struct Refs {
    pub acts: FxHashMap<Code7, History<ActInfo>>,
    pub tariffs: FxHashMap<(Code7, u8, u8), History<Tariff>>,
    pub allowed_mods: FxHashMap<(Code7, u8), History<AllowedMods>>,
    pub companions: FxHashMap<Code7, History<Vec<Code7>>>,
    pub modifiers: FxHashMap<(u8, Grid), History<ModValue>>,
    /// Official modifier values (chapter 19.03 of the CCAM exports): `modifiers::load`.
    pub modifier_values: FxHashMap<(u8, Grid), History<OfficialModValues>>,
    pub assoc: FxHashMap<u8, History<Bp>>,
    /// Incompatible pairs, stored under both orders.
    pub incompat: FxHashMap<(Code7, Code7), History<()>>,
    /// CCAM acts that may be billed with a consultation the same day (RULES.md §3.3 exceptions).
    pub consult_ok: FxHashMap<Code7, History<()>>,
    /// NGAP letters whose value is the same for every profession; grid 0 = value for every grid.
    pub ngap: FxHashMap<([u8; 4], Grid), History<NgapValue>>,
    /// NGAP letters whose value depends on the practitioner's profession (e.g. IK), keyed by the
    /// profession name ([`ngap_profession_key`]); looked up before [`Refs::ngap`] ([`Refs::ngap_at`]).
    pub ngap_profession: FxHashMap<([u8; 4], Grid, [u8; 16]), History<NgapValue>>,
    pub params: FxHashMap<Param, History<i64>>,
    pub specialties: FxHashMap<u8, Specialty>,
    /// Profession names of `specialties.tsv`, indexed by [`Specialty::profession`].
    pub professions: Vec<String>,
    /// Default AMO rate per profession (`rates.tsv`).
    pub rates: FxHashMap<u8, History<ProfessionRate>>,
    pub practitioners: FxHashMap<u32, History<Practitioner>>,
    /// Bank details of the practitioners (optional columns `iban`, `bic` of `practitioners.tsv`), by
    /// the same periods; a row without them has none (formats/payment-orders.md).
    pub practitioner_banks: FxHashMap<u32, History<bank::BankAccount>>,
    /// The paying centre's account (`payer.tsv`, optional): without it no transfer can be ordered and
    /// every payee is held.
    pub payer: Option<Payer>,
    pub beneficiaries: beneficiaries::Beneficiaries,
    pub amc: FxHashMap<([u8; 10], [u8; 2]), History<AmcContract>>,
    /// The per-line lookups of the rules resolved from the tables above when they are loaded
    /// (`compiled`): built by the load, so the tables must not be changed afterwards.
    pub compiled: compiled::Compiled,
}

/// The paying centre (debtor of the credit transfers): `payer.tsv`.
#[derive(Clone, Debug)]
pub struct Payer {
    pub name: String,
    pub account: bank::BankAccount,
}

/// Groups `(key, period, value, line)` rows into sealed histories, reporting overlaps at the later row.
fn histories<K: Ord + Hash + Eq + Copy, V>(
    t: &Table,
    rows: Vec<(K, Period, V, usize)>,
) -> Result<FxHashMap<K, History<V>>, LoadError> {
    histories_of(&t.file, rows)
}

/// [`histories`] for a table already dropped (`file` names it in errors). The rows are sorted by key,
/// start and line in place and each key's run is moved into a history of its exact length: no
/// intermediate map of growing vectors, which for the 140 000 practitioners of a national set cost
/// ≈ 60 MiB of transient heap at open (issue #13). When several keys overlap, the smallest key's
/// overlap is reported.
fn histories_of<K: Ord + Hash + Eq + Copy, V>(
    file: &str,
    mut rows: Vec<(K, Period, V, usize)>,
) -> Result<FxHashMap<K, History<V>>, LoadError> {
    rows.sort_unstable_by_key(|r| (r.0, r.1.from, r.3));
    let mut keys = 0;
    for (i, r) in rows.iter().enumerate() {
        let Some(prev) = i.checked_sub(1).and_then(|j| rows.get(j)) else {
            keys += 1;
            continue;
        };
        if prev.0 != r.0 {
            keys += 1;
        } else if prev.1.overlaps(&r.1) {
            let (line, other) = if prev.3 > r.3 {
                (prev.3, r.3)
            } else {
                (r.3, prev.3)
            };
            return Err(LoadError {
                file: file.to_string(),
                line,
                column: 1,
                reason: format!(
                    "period overlaps the period of the same key at line {other} (duplicate key or overlapping dates)"
                ),
            });
        }
    }
    let mut out = FxHashMap::with_capacity_and_hasher(keys, Default::default());
    let mut it = rows.into_iter().peekable();
    while let Some((k, p, v, _)) = it.next() {
        let mut run = Vec::with_capacity(1);
        run.push((p, v));
        while let Some((_, p, v, _)) = it.next_if(|r| r.0 == k) {
            run.push((p, v));
        }
        run.shrink_to_fit();
        out.insert(k, History::from_sorted(run));
    }
    Ok(out)
}

/// `payer.tsv` (optional): one row `name`, `iban`, `bic` — the centre's account the transfers are
/// ordered from. Its IBAN must be valid (a load error otherwise: every transfer would be refused).
fn load_payer(dir: &Path) -> Result<Option<Payer>, LoadError> {
    let file = "payer.tsv";
    if !dir.join(file).exists() {
        return Ok(None);
    }
    #[derive(Deserialize)]
    struct PayerRow<'a> {
        name: &'a str,
        iban: &'a str,
        bic: Option<&'a str>,
    }
    let text = tsv::read_file(dir, file)?;
    let t = Table::parse(file, &text)?;
    let mut payer = None;
    for (row, r) in t.records::<PayerRow>(&["bic"])? {
        if payer.is_some() {
            return Err(row.err("name", "more than one payer row"));
        }
        let account = bank::BankAccount::from_text(r.iban, r.bic.unwrap_or("")).unwrap_or_default();
        if let Err(p) = account.check() {
            return Err(row.err("iban", format!("the payer's account is not usable: {p:?}")));
        }
        let name = r.name.trim();
        if name.is_empty() || name.len() > 70 || !name.is_ascii() {
            return Err(row.err("name", "1 to 70 ASCII characters"));
        }
        payer = Some(Payer {
            name: name.to_string(),
            account,
        });
    }
    Ok(payer)
}

fn grid(r: &Row, name: &str) -> Result<Grid, LoadError> {
    match r.str(name)? {
        "1" => Ok(1),
        "2" => Ok(2),
        s => Err(r.err(name, format!("unknown grid `{s}` (expected 1 or 2)"))),
    }
}

impl Refs {
    /// Loads every table of a reference directory. Any error stops the load (nothing is half-loaded).
    pub fn load(dir: &Path) -> Result<Refs, LoadError> {
        let timing = crate::timing_on();
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
        #[derive(Deserialize)]
        struct ActRow<'a> {
            code: Code7Cell,
            valid_from: Day,
            valid_to: Option<Day>,
            version: Uint,
            exo_tm: &'a str,
            regroupement: &'a str,
            complement: Flag,
            label: &'a str,
            #[serde(borrow)]
            rc: Option<&'a str>,
            #[serde(borrow)]
            ap: Option<&'a str>,
        }
        let text = tsv::read_file(dir, "ccam_acts.tsv")?;
        let t = Table::parse("ccam_acts.tsv", &text)?;
        let mut rows = Vec::with_capacity(t.len());
        for (row, r) in t.records::<ActRow>(&["rc", "ap"])? {
            let exo_tm = r
                .exo_tm
                .bytes()
                .next()
                .filter(u8::is_ascii_digit)
                .map(|b| b - b'0')
                .unwrap_or(0);
            let mut regroupement = [b' '; 3];
            for (i, b) in r.regroupement.bytes().take(3).enumerate() {
                regroupement[i] = b;
            }
            let info = ActInfo {
                version: r.version.0 as u32,
                exo_tm,
                exo_tm_raw: r.exo_tm.to_string(),
                rc: r.rc.unwrap_or("").to_string(),
                ap: r.ap.unwrap_or("").to_string(),
                regroupement,
                complement: r.complement.0,
                label: r.label.to_string(),
            };
            rows.push((
                r.code.0,
                period(&row, r.valid_from, r.valid_to)?,
                info,
                row.line,
            ));
        }
        self.acts = histories(&t, rows)?;

        #[derive(Deserialize)]
        struct TariffRow {
            code: Code7Cell,
            activity: Small<9>,
            phase: Small<9>,
            valid_from: Day,
            valid_to: Option<Day>,
            version: Uint,
            tariff_g1: Option<Amount>,
            tariff_g2: Option<Amount>,
        }
        let text = tsv::read_file(dir, "ccam_tariffs.tsv")?;
        let t = Table::parse("ccam_tariffs.tsv", &text)?;
        let mut rows = Vec::with_capacity(t.len());
        for (row, r) in t.records::<TariffRow>(&[])? {
            let tariff = Tariff {
                version: r.version.0 as u32,
                g1: r.tariff_g1.map(|a| a.0),
                g2: r.tariff_g2.map(|a| a.0),
            };
            let key = (r.code.0, r.activity.0, r.phase.0);
            rows.push((
                key,
                period(&row, r.valid_from, r.valid_to)?,
                tariff,
                row.line,
            ));
        }
        self.tariffs = histories(&t, rows)?;

        #[derive(Deserialize)]
        struct AllowedRow<'a> {
            code: Code7Cell,
            activity: Small<9>,
            valid_from: Day,
            valid_to: Option<Day>,
            version: Uint,
            modifiers: &'a str,
        }
        let text = tsv::read_file(dir, "ccam_modifiers_allowed.tsv")?;
        let t = Table::parse("ccam_modifiers_allowed.tsv", &text)?;
        let mut rows = Vec::with_capacity(t.len());
        for (row, r) in t.records::<AllowedRow>(&[])? {
            let set = ModSet::parse(r.modifiers).ok_or_else(|| {
                row.err("modifiers", format!("bad modifier list `{}`", r.modifiers))
            })?;
            let v = AllowedMods {
                version: r.version.0 as u32,
                set,
            };
            let key = (r.code.0, r.activity.0);
            rows.push((key, period(&row, r.valid_from, r.valid_to)?, v, row.line));
        }
        self.allowed_mods = histories(&t, rows)?;

        #[derive(Deserialize)]
        struct CompanionRow<'a> {
            code: Code7Cell,
            valid_from: Day,
            valid_to: Option<Day>,
            companions: &'a str,
        }
        let text = tsv::read_file(dir, "ccam_companions.tsv")?;
        let t = Table::parse("ccam_companions.tsv", &text)?;
        let mut rows = Vec::with_capacity(t.len());
        for (row, r) in t.records::<CompanionRow>(&[])? {
            let list = r
                .companions
                .split(',')
                .map(str::trim)
                .filter_map(|s| <[u8; 7]>::try_from(s.as_bytes()).ok())
                .collect();
            rows.push((
                r.code.0,
                period(&row, r.valid_from, r.valid_to)?,
                list,
                row.line,
            ));
        }
        self.companions = histories(&t, rows)?;
        Ok(())
    }

    fn load_rules_tables(&mut self, dir: &Path) -> Result<(), LoadError> {
        modifiers::load(self, dir)?;

        self.load_own_tables(dir)
    }

    /// Association codes, incompatibilities, consultation exceptions, NGAP letters, parameters,
    /// specialties and default rates (`formats/refs.md`).
    fn load_own_tables(&mut self, dir: &Path) -> Result<(), LoadError> {
        #[derive(Deserialize)]
        struct AssocRow {
            code: Small<9>,
            valid_from: Day,
            valid_to: Option<Day>,
            coef: Pct,
        }
        let text = tsv::read_file(dir, "association_codes.tsv")?;
        let t = Table::parse("association_codes.tsv", &text)?;
        let mut rows = Vec::new();
        for (row, r) in t.records::<AssocRow>(&[])? {
            if !(0..=10_000).contains(&r.coef.0) {
                return Err(row.err("coef", "coefficient outside 0..100 %"));
            }
            rows.push((
                r.code.0,
                period(&row, r.valid_from, r.valid_to)?,
                r.coef.0,
                row.line,
            ));
        }
        self.assoc = histories(&t, rows)?;

        #[derive(Deserialize)]
        struct PairRow {
            code1: Code7Cell,
            code2: Code7Cell,
            valid_from: Day,
            valid_to: Option<Day>,
        }
        let text = tsv::read_file(dir, "incompatibilities.tsv")?;
        let t = Table::parse("incompatibilities.tsv", &text)?;
        let mut rows = Vec::new();
        for (row, r) in t.records::<PairRow>(&[])? {
            let (a, b) = (r.code1.0, r.code2.0);
            let p = period(&row, r.valid_from, r.valid_to)?;
            rows.push(((a, b), p, (), row.line));
            if a != b {
                rows.push(((b, a), p, (), row.line));
            }
        }
        self.incompat = histories(&t, rows)?;

        #[derive(Deserialize)]
        struct CodeRow {
            code: Code7Cell,
            valid_from: Day,
            valid_to: Option<Day>,
        }
        let text = tsv::read_file(dir, "consultation_compatible.tsv")?;
        let t = Table::parse("consultation_compatible.tsv", &text)?;
        let mut rows = Vec::new();
        for (row, r) in t.records::<CodeRow>(&[])? {
            rows.push((
                r.code.0,
                period(&row, r.valid_from, r.valid_to)?,
                (),
                row.line,
            ));
        }
        self.consult_ok = histories(&t, rows)?;

        #[derive(Deserialize)]
        struct NgapRow<'a> {
            letter: Fixed<4>,
            grid: &'a str,
            valid_from: Day,
            valid_to: Option<Day>,
            value: Amount,
            physician: Flag,
            consultation: Flag,
            // Optional (older sets lack them): `*` / absent = every profession; absent family =
            // `consultation` when the consultation flag is set, else `act`.
            profession: Option<&'a str>,
            family: Option<&'a str>,
        }
        let text = tsv::read_file(dir, "ngap_letters.tsv")?;
        let t = Table::parse("ngap_letters.tsv", &text)?;
        let mut rows = Vec::new();
        let mut prof_rows = Vec::new();
        for (row, r) in t.records::<NgapRow>(&["profession", "family"])? {
            let g = match r.grid {
                "*" => 0,
                _ => grid(&row, "grid")?,
            };
            let family = match r.family.map(str::trim) {
                None | Some("") if r.consultation.0 => NgapFamily::Consultation,
                None | Some("") => NgapFamily::Act,
                Some("consultation") => NgapFamily::Consultation,
                Some("majoration") => NgapFamily::Majoration,
                Some("travel") => NgapFamily::Travel,
                Some("act") => NgapFamily::Act,
                Some(f) => {
                    return Err(row.err(
                        "family",
                        format!("`{f}` (expected consultation, majoration, travel or act)"),
                    ));
                }
            };
            if r.consultation.0 != (family == NgapFamily::Consultation) {
                return Err(row.err(
                    "consultation",
                    format!(
                        "consultation = {} but family `{}`",
                        r.consultation.0 as u8,
                        family.as_str()
                    ),
                ));
            }
            let v = NgapValue {
                value: r.value.0,
                physician: r.physician.0,
                consultation: r.consultation.0,
                family,
            };
            let per = period(&row, r.valid_from, r.valid_to)?;
            match r.profession.map(str::trim) {
                None | Some("") | Some("*") => rows.push(((r.letter.0, g), per, v, row.line)),
                Some(p) => {
                    let key = ngap_profession_key(p)
                        .filter(|_| p.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
                        .ok_or_else(|| {
                            row.err(
                                "profession",
                                format!("`{p}` is not a profession name [a-z_]{{1,16}}"),
                            )
                        })?;
                    prof_rows.push(((r.letter.0, g, key), per, v, row.line));
                }
            }
        }
        self.ngap = histories(&t, rows)?;
        self.ngap_profession = histories(&t, prof_rows)?;

        // Parameters and rates must be in force on every date the set can price an act: from the
        // first CCAM tariff or NGAP value on, without a gap (the rules have no fallback value).
        let first_tariff = self
            .tariffs
            .values()
            .filter_map(|h| h.rows().first().map(|r| r.0.from))
            .min();
        let first_ngap = self
            .ngap
            .values()
            .filter_map(|h| h.rows().first().map(|r| r.0.from))
            .min();
        let priced_from = first_tariff
            .into_iter()
            .chain(first_ngap)
            .min()
            .unwrap_or(Date::MAX);

        #[derive(Deserialize)]
        struct ParamRow<'a> {
            name: &'a str,
            valid_from: Day,
            valid_to: Option<Day>,
            value: Euros,
        }
        let text = tsv::read_file(dir, "parameters.tsv")?;
        let t = Table::parse("parameters.tsv", &text)?;
        let mut rows = Vec::new();
        for (row, r) in t.records::<ParamRow>(&[])? {
            let p = Param::ALL
                .into_iter()
                .find(|p| p.name() == r.name)
                .ok_or_else(|| row.err("name", format!("unknown parameter `{}`", r.name)))?;
            if r.value.0 < 0 {
                return Err(row.err("value", "negative parameter"));
            }
            // fixed-point ×100
            rows.push((
                p,
                period(&row, r.valid_from, r.valid_to)?,
                r.value.0,
                row.line,
            ));
        }
        covered(&t, &rows, Param::ALL.into_iter(), priced_from, |p| {
            format!("parameter `{}`", p.name())
        })?;
        self.params = histories(&t, rows)?;

        #[derive(Deserialize)]
        struct SpecRow<'a> {
            specialty: Small<99>,
            physician: Flag,
            profession: &'a str,
            direct_access: Flag,
            direct_access_max_age: Option<Small<120>>,
        }
        let text = tsv::read_file(dir, "specialties.tsv")?;
        let t = Table::parse("specialties.tsv", &text)?;
        self.specialties.clear();
        self.professions.clear();
        for (row, r) in t.records::<SpecRow>(&[])? {
            let s = r.specialty.0;
            if r.profession.is_empty()
                || !r
                    .profession
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            {
                return Err(row.err(
                    "profession",
                    format!("`{}` is not a profession name [a-z_]+", r.profession),
                ));
            }
            if r.physician.0 != (r.profession == PHYSICIAN) {
                return Err(row.err(
                    "physician",
                    format!(
                        "physician = {} but profession `{}`",
                        r.physician.0 as u8, r.profession
                    ),
                ));
            }
            let profession = match self.professions.iter().position(|p| p == r.profession) {
                Some(i) => i as u8,
                None => {
                    self.professions.push(r.profession.to_string());
                    (self.professions.len() - 1) as u8
                }
            };
            if r.direct_access_max_age.is_some() && !r.direct_access.0 {
                return Err(row.err("direct_access_max_age", "set without direct_access = 1"));
            }
            let v = Specialty {
                physician: r.physician.0,
                direct_access: r.direct_access.0,
                direct_access_max_age: r.direct_access_max_age.map(|a| a.0),
                profession,
            };
            if self.specialties.insert(s, v).is_some() {
                return Err(row.err("specialty", format!("duplicate specialty {s}")));
            }
        }

        #[derive(Deserialize)]
        struct RateRow<'a> {
            profession: &'a str,
            valid_from: Day,
            valid_to: Option<Day>,
            rate: Pct,
            confidence: &'a str,
            source: &'a str,
        }
        let text = tsv::read_file(dir, "rates.tsv")?;
        let t = Table::parse("rates.tsv", &text)?;
        let mut rows = Vec::new();
        for (row, r) in t.records::<RateRow>(&[])? {
            let prof = self
                .professions
                .iter()
                .position(|p| p == r.profession)
                .ok_or_else(|| {
                    row.err(
                        "profession",
                        format!("profession `{}` not in specialties.tsv", r.profession),
                    )
                })? as u8;
            if !(0..=10_000).contains(&r.rate.0) {
                return Err(row.err("rate", "rate outside 0..100 %"));
            }
            if !["C", "S", "I"].contains(&r.confidence) {
                return Err(row.err(
                    "confidence",
                    format!("`{}` (expected C, S or I)", r.confidence),
                ));
            }
            if r.source.is_empty() {
                return Err(row.err("source", "empty value"));
            }
            let v = ProfessionRate {
                rate: r.rate.0,
                confidence: r.confidence.to_string(),
                source: r.source.to_string(),
            };
            rows.push((prof, period(&row, r.valid_from, r.valid_to)?, v, row.line));
        }
        // Every profession but `unspecified` (specialties 00/99: no practitioner may carry them) needs
        // a rate on every priced date.
        let needed: Vec<u8> = (0..self.professions.len() as u8)
            .filter(|&i| self.professions[i as usize] != UNSPECIFIED)
            .collect();
        let names = self.professions.clone();
        covered(&t, &rows, needed.into_iter(), priced_from, |&p| {
            format!("the default rate of profession `{}`", names[p as usize])
        })?;
        self.rates = histories(&t, rows)?;
        self.compiled =
            compiled::Compiled::build(self, &crate::rules::participation::PARAMEDICAL_PROFESSIONS);
        Ok(())
    }

    fn load_parties(&mut self, dir: &Path) -> Result<(), LoadError> {
        #[derive(Deserialize)]
        struct AmcRow<'a> {
            amc: Fixed<10>,
            contract: Fixed<2>,
            valid_from: Day,
            valid_to: Option<Day>,
            excess_cover: Pct,
            #[serde(borrow)]
            name: Option<&'a str>,
        }
        let text = tsv::read_file(dir, "amc.tsv")?;
        let t = Table::parse("amc.tsv", &text)?;
        let mut rows = Vec::new();
        for (row, r) in t.records::<AmcRow>(&["name"])? {
            if r.excess_cover.0 < 0 {
                return Err(row.err("excess_cover", "negative cover"));
            }
            // The number names the insurer's output file (`amc/<AMC>.tsv`): letters and digits only,
            // so that two insurers can never share a file name; `C2S` is the complémentaire santé
            // solidaire's own file.
            let num = r.amc.0.trim_ascii_end();
            if num.is_empty() || !num.iter().all(u8::is_ascii_alphanumeric) || num == b"C2S" {
                return Err(row.err(
                    "amc",
                    "insurer number must be letters and digits (and not the reserved C2S)",
                ));
            }
            let c = AmcContract {
                excess_cover: r.excess_cover.0,
                name: r.name.unwrap_or("").to_string(),
            };
            let key = (r.amc.0, r.contract.0);
            rows.push((key, period(&row, r.valid_from, r.valid_to)?, c, row.line));
        }
        self.amc = histories(&t, rows)?;

        #[derive(Deserialize)]
        struct PracRow<'a> {
            billing_no: Uint,
            valid_from: Day,
            valid_to: Option<Day>,
            specialty: Small<99>,
            sector: Small<9>,
            optam: Flag,
            /// Optional bank columns (tables written before them still load).
            iban: Option<&'a str>,
            bic: Option<&'a str>,
        }
        let text = tsv::read_file(dir, "practitioners.tsv")?;
        let t = Table::parse("practitioners.tsv", &text)?;
        let file = t.file.clone();
        let records = t.records::<PracRow>(&["iban", "bic"])?;
        let mut rows = Vec::with_capacity(records.len());
        let mut banks = Vec::new();
        for (row, r) in records {
            let no = r.billing_no.0;
            if no > 999_999_999 {
                return Err(row.err("billing_no", "more than 9 digits"));
            }
            let specialty = r.specialty.0;
            let Some(spec) = self.specialties.get(&specialty) else {
                return Err(row.err(
                    "specialty",
                    format!("specialty {specialty} not in specialties.tsv"),
                ));
            };
            if !self.rates.contains_key(&spec.profession) {
                return Err(row.err(
                    "specialty",
                    format!(
                        "specialty {specialty:02}: profession `{}` has no default rate in rates.tsv",
                        self.profession_name(spec.profession)
                    ),
                ));
            }
            let sector = r.sector.0;
            if ![0, 1, 2, 3, 9].contains(&sector) {
                return Err(row.err("sector", format!("sector {sector} not in {{0,1,2,3,9}}")));
            }
            let p = Practitioner {
                specialty,
                sector,
                optam: r.optam.0,
            };
            if let Some(a) = bank::BankAccount::from_text(r.iban.unwrap_or(""), r.bic.unwrap_or(""))
            {
                banks.push((
                    no as u32,
                    period(&row, r.valid_from, r.valid_to)?,
                    a,
                    row.line,
                ));
            }
            rows.push((
                no as u32,
                period(&row, r.valid_from, r.valid_to)?,
                p,
                row.line,
            ));
        }
        // The text and its parsed cells (≈ 45 MiB for a national set's 140 000 practitioners) are
        // freed before the histories are built and the beneficiaries opened (issue #13).
        drop(t);
        drop(text);
        self.practitioners = histories_of(&file, rows)?;
        self.practitioner_banks = histories_of(&file, banks)?;
        self.payer = load_payer(dir)?;

        self.load_beneficiaries(dir)
    }

    fn load_beneficiaries(&mut self, dir: &Path) -> Result<(), LoadError> {
        let amc = &self.amc;
        let known = |a: &[u8; 10], c: &[u8; 2]| amc.contains_key(&(*a, *c));
        // A compiled snapshot beside the tables is mapped instead of parsing them (refs::snapshot).
        self.beneficiaries = match snapshot::beside(dir) {
            Some(path) => snapshot::open(dir, &path, &known)?,
            None => beneficiaries::Beneficiaries::load(dir, &known)?,
        };
        Ok(())
    }

    /// The values of the parameters `ps` on `d`, with one lookup ([`Refs::param`] each).
    #[inline]
    pub fn params<const N: usize>(&self, ps: [Param; N], d: Date) -> [i64; N] {
        match self.compiled.params_on(d) {
            Some(v) => ps.map(|p| v[p as usize]),
            None => ps.map(|p| self.param_in_tables(p, d)),
        }
    }

    /// A dated parameter on the date of care. The load guarantees that every parameter is in force,
    /// without a gap, on every date from the first date the set prices an act (first CCAM tariff or NGAP
    /// value): every line that reaches a rule reading a parameter has such a date. A date before that
    /// (only the batch date of a batch whose care the set cannot price) reads the first version.
    #[inline]
    pub fn param(&self, p: Param, d: Date) -> i64 {
        match self.compiled.params_on(d) {
            Some(v) => v[p as usize],
            None => self.param_in_tables(p, d),
        }
    }

    /// [`Refs::param`] read from `parameters.tsv`'s histories: the reference the compiled
    /// parameters are built from and tested against (`compiled`).
    pub fn param_in_tables(&self, p: Param, d: Date) -> i64 {
        self.params
            .get(&p)
            .and_then(|h| h.at_or_first(d))
            .map_or(0, |v| *v.1)
    }

    /// The default AMO rate of a profession on a date (`rates.tsv`), with its period and source; same
    /// coverage guarantee as [`Refs::param`] for the professions of the practitioners.
    #[inline]
    pub fn profession_rate(&self, profession: u8, d: Date) -> Option<(&Period, &ProfessionRate)> {
        self.rates.get(&profession).and_then(|h| h.at_or_first(d))
    }

    /// The default AMO rate of a profession on a date ([`Refs::profession_rate`]'s rate, `0` when it
    /// has none), compiled at load (`compiled`).
    #[inline]
    pub fn default_rate(&self, profession: u8, d: Date) -> Bp {
        match self.compiled.default_rate(profession, d) {
            Some(r) => r,
            None => self.default_rate_in_tables(profession, d),
        }
    }

    /// [`Refs::default_rate`] read from `rates.tsv`'s histories: the reference the compiled rates
    /// are built from and tested against (`compiled`).
    pub fn default_rate_in_tables(&self, profession: u8, d: Date) -> Bp {
        self.profession_rate(profession, d).map_or(0, |r| r.1.rate)
    }

    /// The value of NGAP `letter` on `grid` and date `d` for a practitioner of `profession`: a row for
    /// that profession first (its grid, then every grid), else a row for every profession (its grid,
    /// then every grid).
    #[inline]
    pub fn ngap_at(
        &self,
        letter: [u8; 4],
        grid: Grid,
        profession: u8,
        d: Date,
    ) -> Option<(&Period, &NgapValue)> {
        match self.compiled.ngap_at(letter, grid, profession, d) {
            Some(found) => found,
            None => self.ngap_in_tables(letter, grid, profession, d),
        }
    }

    /// What the rules read of a CCAM act line's (code, activity, phase) on the date of care
    /// ([`compiled::CcamPricing`]); `None` when the act is not valid on `d` or the (activity, phase)
    /// has no tariff then (`rules::pricing` asks the tables which, for the rejection's code and
    /// text). Compiled at load (`compiled`).
    #[inline]
    pub fn ccam_pricing(
        &self,
        code: Code7,
        activity: u8,
        phase: u8,
        d: Date,
    ) -> Option<compiled::CcamPricing> {
        match self.compiled.ccam_pricing(code, activity, phase, d) {
            Some(found) => found.copied(),
            None => self.ccam_pricing_in_tables(code, activity, phase, d),
        }
    }

    /// The allowed-modifier history that applies to a CCAM (code, activity): the official export
    /// publishes one modifier list per act, under its first activity row (formats/ccam-official.md),
    /// so another activity without a list of its own uses activity 1's. The one place this rule is
    /// written: the tables' answer, the compiled record and its test read it here.
    pub fn allowed_mods_of(&self, code: Code7, activity: u8) -> Option<&History<AllowedMods>> {
        self.allowed_mods
            .get(&(code, activity))
            .or_else(|| self.allowed_mods.get(&(code, 1)))
    }

    /// [`Refs::ccam_pricing`] read from the histories of `ccam_acts.tsv`, `ccam_tariffs.tsv` and
    /// `ccam_modifiers_allowed.tsv`: the reference the compiled lookup is built from and tested
    /// against (`compiled`).
    pub fn ccam_pricing_in_tables(
        &self,
        code: Code7,
        activity: u8,
        phase: u8,
        d: Date,
    ) -> Option<compiled::CcamPricing> {
        let (_, act) = self.acts.get(&code)?.at(d)?;
        let (_, tariff) = self.tariffs.get(&(code, activity, phase))?.at(d)?;
        let allowed = self
            .allowed_mods_of(code, activity)
            .and_then(|h| h.value_at(d))
            .map(|a| a.set);
        let flagged = |f: &str| !f.trim().is_empty();
        Some(compiled::CcamPricing {
            g1: tariff.g1,
            g2: tariff.g2,
            allowed,
            regroupement: act.regroupement,
            complement: act.complement,
            exo_tm: act.exo_tm,
            prior_agreement: flagged(&act.ap),
            rc_conditions: flagged(&act.rc),
        })
    }

    /// [`Refs::ngap_at`] read from `ngap_letters.tsv`'s histories: the reference the compiled
    /// lookup is built from and tested against (`compiled`).
    pub fn ngap_in_tables(
        &self,
        letter: [u8; 4],
        grid: Grid,
        profession: u8,
        d: Date,
    ) -> Option<(&Period, &NgapValue)> {
        let by_prof = if self.ngap_profession.is_empty() {
            None
        } else {
            ngap_profession_key(self.profession_name(profession)).and_then(|p| {
                self.ngap_profession
                    .get(&(letter, grid, p))
                    .and_then(|h| h.at(d))
                    .or_else(|| {
                        self.ngap_profession
                            .get(&(letter, 0, p))
                            .and_then(|h| h.at(d))
                    })
            })
        };
        by_prof.or_else(|| {
            self.ngap
                .get(&(letter, grid))
                .and_then(|h| h.at(d))
                .or_else(|| self.ngap.get(&(letter, 0)).and_then(|h| h.at(d)))
        })
    }

    /// The name of a profession of `specialties.tsv` (`?` for an index outside them).
    pub fn profession_name(&self, profession: u8) -> &str {
        self.professions
            .get(profession as usize)
            .map_or("?", String::as_str)
    }
}

/// The period of the `valid_from` / `valid_to` cells of a row; refuses `to <= from`.
fn period(row: &Row, from: Day, to: Option<Day>) -> Result<Period, LoadError> {
    row.check_period(from.0, to.map(|d| d.0))
}

/// Fails unless each of `keys` has, in `rows`, a value on every date from `from` on: its first period
/// starts on or before `from`, each next one starts where the previous ends, the last one is open.
/// The error names the table, the key and the first uncovered date, on the row that ends too early
/// (or the header line when the key has no row at all).
fn covered<K: Eq + Copy, V>(
    t: &Table,
    rows: &[(K, Period, V, usize)],
    keys: impl Iterator<Item = K>,
    from: Date,
    what: impl Fn(&K) -> String,
) -> Result<(), LoadError> {
    for k in keys {
        let mut ps: Vec<(Period, usize)> = rows
            .iter()
            .filter(|r| r.0 == k)
            .map(|r| (r.1, r.3))
            .collect();
        ps.sort_by_key(|p| p.0.from);
        let Some(&(first, first_line)) = ps.first() else {
            return Err(t.error(
                t.header_line,
                1,
                format!("{} missing (required on every date from {from})", what(&k)),
            ));
        };
        if first.from > from && from != Date::MAX {
            return Err(t.error(
                first_line,
                1,
                format!(
                    "{} starts on {} but the set prices acts from {from}: no value before {}",
                    what(&k),
                    first.from,
                    first.from
                ),
            ));
        }
        let mut end = first.to;
        let mut end_line = first_line;
        for &(p, line) in &ps[1..] {
            if p.from > end {
                break;
            }
            end = end.max(p.to);
            end_line = line;
        }
        if end != Date::MAX {
            return Err(t.error(
                end_line,
                1,
                format!(
                    "{} has no value from {end} (required on every date from {from} on)",
                    what(&k)
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The eight-bytes-at-a-time key equals the byte-by-byte key for every byte value at every
    /// position of a NIR (digits, the Corsican letters, anything else), and gives the keys written
    /// by hand (issue #13).
    #[test]
    fn benef_key_read_eight_digits_at_a_time_equals_the_byte_loop() {
        assert_eq!(
            benef_key(b"1850578006084", 1),
            Some((1_850_578_006_084 << 12) | 1)
        );
        assert_eq!(benef_key(b"0000000000000", 999), Some(999));
        assert_eq!(
            benef_key(b"9999999999999", 0),
            Some(9_999_999_999_999 << 12)
        );
        assert_eq!(
            benef_key(b"185052A006084", 7),
            Some((1_850_520_006_084 << 12) | (1 << 10) | 7)
        );
        assert_eq!(benef_key(b"185053A006084", 7), None);
        assert_eq!(benef_key(b"1850578006084", 1000), None);
        assert_eq!(benef_key(b"185057800608", 1), None);
        for base in [&b"1850578006084"[..], b"2850220123456", b"0000000000000"] {
            for i in 0..13 {
                for c in 0..=255u8 {
                    let mut nir = base.to_vec();
                    nir[i] = c;
                    for rank in [0, 1, 999] {
                        assert_eq!(
                            benef_key(&nir, rank),
                            benef_key_bytes(&nir, rank),
                            "{:?} {rank}",
                            String::from_utf8_lossy(&nir)
                        );
                    }
                }
            }
        }
        // Two bytes changed: a carry out of an invalid byte never makes its neighbour pass.
        let mut nir = *b"1850578006084";
        for c in [0x2F_u8, 0x3A, 0xFA, 0xFF, 0x00, b'A'] {
            for d in [b'0', b'9', 0x2F, 0x3A, 0xF9] {
                for i in 0..12 {
                    nir = *b"1850578006084";
                    nir[i] = c;
                    nir[i + 1] = d;
                    assert_eq!(benef_key(&nir, 1), benef_key_bytes(&nir, 1));
                }
            }
        }
        assert_eq!(nir.len(), 13);
    }
}
