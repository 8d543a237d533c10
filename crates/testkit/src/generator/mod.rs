//! `liquidator gen`: a realistic synthetic day — `claims.b2` and the matching reference set `refs/`
//! (real CCAM v67+v78+v81 history, our regulatory tables, a generated population).
//!
//! Deterministic for a seed: claims are produced in blocks, each from its own random stream, in
//! parallel, and written in block order. The mix and its sources are documented in
//! `formats/generator.md`.

pub mod population;
pub mod rng;
pub mod scenarios;

use crate::write::{self, BatchWriter};
use liquidator_core::claims::record::{Act, ActLine, BatchHeader, ClaimHeader};
use liquidator_core::date::Date;
use liquidator_core::money::{self, Cents};
use liquidator_core::refs::{ModKind, Refs};
use population::{AMCS, Benef, CONTRACT_COVER, Prac, Spec};
use rayon::prelude::*;
use rng::Rng;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("{0}")]
    Io(String),
    #[error(transparent)]
    Refs(#[from] liquidator_core::refs::LoadError),
    #[error("CCAM: {0}")]
    Ccam(String),
}

fn io(p: &Path) -> impl Fn(std::io::Error) -> GenError + '_ {
    move |e| GenError::Io(format!("{}: {e}", p.display()))
}

#[derive(Clone, Debug)]
pub struct GenConfig {
    pub claims: u64,
    pub beneficiaries: u64,
    pub seed: u64,
    /// Batch date (dates of care are on and before it).
    pub date: Date,
    pub out: PathBuf,
    /// Prepend the hand-written scenario claims (one per rule and rejection code: the sample fixture).
    pub scenarios: bool,
    /// Keep only the CCAM codes the generator uses (small reference set for the sample fixture).
    pub ccam_subset: bool,
}

#[derive(Clone, Debug, Default)]
pub struct GenStats {
    pub claims: u64,
    pub lines: u64,
    pub bytes: u64,
}

/// CCAM codes used by the generator and the scenarios (the sample's CCAM subset).
pub const CATALOGUE_CODES: [&str; 24] = [
    "DEQP003", "YYYY490", "QZJA002", "JKHD001", "EBQM001", "NFFC004", "NFKA007", "QAGA004",
    "QZFA036", "ZBQK002", "LAQK013", "ZCQK004", "BGQP002", "JQQJ037", "HBGD036", "HBQK061",
    "YYYY614", "HBJD001", "ZZLP025", "NFFA001", "MZMP002", "HBGD043", "YYYY600", "AANB256",
];

/// A French IBAN (27 characters, valid check digits) for a synthetic account: bank code `bank`, branch
/// `00001`, the 11-digit account number `account`, its RIB key (97 − (89 × bank + 15 × branch + 3 ×
/// account) mod 97), then the IBAN check digits ([`liquidator_core::refs::bank::make_iban`]).
pub fn synthetic_iban(bank: u32, account: u64) -> String {
    let (b, g, c) = (bank as u64 % 100_000, 1u64, account % 100_000_000_000);
    let rib = 97 - (89 * b + 15 * g + 3 * (c % 97)) % 97;
    let bban = format!("{b:05}{g:05}{c:011}{rib:02}");
    liquidator_core::refs::bank::make_iban("FR", &bban)
}

/// Synthetic BICs (format-valid, no real bank): practitioners', the insured's, the paying centre's.
pub const BIC_PS: &str = "LIQPFRP1";
pub const BIC_INSURED: &str = "LIQAFRP1";
pub const BIC_PAYER: &str = "LIQCFRP1";

/// Bank columns of a generated beneficiary: most have a valid account; about 1 in 50 has none and 1
/// in 1000 an IBAN with wrong check digits (their transfers are held: formats/payment-orders.md).
fn benef_bank(be: &Benef) -> (String, &'static str) {
    let n = be
        .nir
        .iter()
        .fold(be.rank as u64, |a, &d| a * 10 + (d % 10) as u64);
    let h = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    match h % 1000 {
        0..=19 => (String::new(), ""),
        20 => {
            let mut iban = synthetic_iban(20041, n);
            // Break the check digits (02 ↔ 97 …): never valid.
            let k = (iban.as_bytes()[3] - b'0' + 1) % 10;
            iban.replace_range(3..4, &k.to_string());
            (iban, BIC_INSURED)
        }
        _ => (synthetic_iban(20041, n), BIC_INSURED),
    }
}

/// Writes the population tables (practitioners, beneficiaries, ALD periods, insurers) and the paying
/// centre's account (`payer.tsv`) into `dir`.
pub fn write_population(dir: &Path, cfg: &GenConfig, n_prac: u64) -> Result<(), GenError> {
    let p = dir.join("payer.tsv");
    let s = format!(
        "name\tiban\tbic\nCPAM LIQUIDATOR DEMO\t{}\t{BIC_PAYER}\n",
        synthetic_iban(30001, 1)
    );
    std::fs::write(&p, s).map_err(io(&p))?;

    let p = dir.join("amc.tsv");
    let mut s = String::from("amc\tcontract\tvalid_from\tvalid_to\texcess_cover\tname\n");
    for (num, name, _) in AMCS {
        for (k, cover) in CONTRACT_COVER.iter().enumerate() {
            s.push_str(&format!(
                "{num}\t{:02}\t2015-01-01\t\t{cover}\t{name}\n",
                k + 1
            ));
        }
    }
    std::fs::write(&p, s).map_err(io(&p))?;

    let p = dir.join("practitioners.tsv");
    let mut s =
        String::from("billing_no\tvalid_from\tvalid_to\tspecialty\tsector\toptam\tiban\tbic\n");
    for j in 0..n_prac {
        let pr = population::prac(cfg.seed, j, n_prac);
        s.push_str(&format!(
            "{:09}\t2015-01-01\t\t{:02}\t{}\t{}\t{}\t{BIC_PS}\n",
            pr.number,
            pr.spec.code(),
            pr.sector,
            pr.optam as u8,
            synthetic_iban(10278, pr.number as u64)
        ));
    }
    scenarios::extra_practitioners(&mut s);
    std::fs::write(&p, s).map_err(io(&p))?;

    // Beneficiaries: formatted in parallel blocks (10 M rows must be written in seconds).
    let p = dir.join("beneficiaries.tsv");
    let mut f =
        std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&p).map_err(io(&p))?);
    f.write_all(b"nir\trank\tbirth_date\tvalid_from\tvalid_to\tregime\tfund\tlocal_regime\tc2s\tamc\tcontract\tpf_year\tpf_used\tiban\tbic\n")
        .map_err(io(&p))?;
    let mut ald = String::from("nir\trank\tvalid_from\tvalid_to\tald\n");
    const BLOCK: u64 = 1 << 16;
    let blocks = cfg.beneficiaries.div_ceil(BLOCK);
    let year = cfg.date.year();
    for group in (0..blocks).collect::<Vec<_>>().chunks(64) {
        let parts: Vec<(String, String)> = group
            .par_iter()
            .map(|&b| {
                let mut s = String::with_capacity(BLOCK as usize * 90);
                let mut a = String::new();
                for i in b * BLOCK..((b + 1) * BLOCK).min(cfg.beneficiaries) {
                    let be = population::benef(cfg.seed, i, cfg.date);
                    benef_rows(&be, year, &mut s, &mut a);
                }
                (s, a)
            })
            .collect();
        for (s, a) in parts {
            f.write_all(s.as_bytes()).map_err(io(&p))?;
            ald.push_str(&a);
        }
    }
    if cfg.scenarios {
        let (s, a) = scenarios::extra_beneficiaries(cfg);
        f.write_all(s.as_bytes()).map_err(io(&p))?;
        ald.push_str(&a);
    }
    f.flush().map_err(io(&p))?;
    let p = dir.join("ald.tsv");
    std::fs::write(&p, ald).map_err(io(&p))?;
    Ok(())
}

/// The rows of one beneficiary in `beneficiaries.tsv` and `ald.tsv`.
pub fn benef_rows(be: &Benef, year: u32, s: &mut String, ald: &mut String) {
    use std::fmt::Write as _;
    let nir = std::str::from_utf8(&be.nir).unwrap_or("");
    let (amc, contract) = match be.amc {
        Some((k, c)) => (AMCS[k].0, format!("{c:02}")),
        None => ("", String::new()),
    };
    let to = be.closed.map(|d| d.to_string()).unwrap_or_default();
    let (py, pu) = match be.pf_seed {
        Some(c) => (year.to_string(), money::fmt_euros(c)),
        None => (String::new(), String::new()),
    };
    let (iban, bic) = benef_bank(be);
    let _ = writeln!(
        s,
        "{nir}\t{:03}\t{}\t2019-01-01\t{to}\t01\t01C{:06}\t{}\t{}\t{amc}\t{contract}\t{py}\t{pu}\t{iban}\t{bic}",
        be.rank,
        be.birth,
        (be.nir[12] as u32 * 7919) % 1_000_000,
        be.local as u8,
        be.c2s as u8
    );
    if be.ald {
        let _ = writeln!(
            ald,
            "{nir}\t{:03}\t2020-01-01\t\t{}",
            be.rank,
            1 + (be.nir[11] % 30)
        );
    }
}

/// Random stream of the re-send draws (`Night::resend_per_10k`).
const STREAM_RESEND: u64 = 7;

/// Practitioners for a day of `claims` claims (about 40 claims each, at least 60).
pub fn practitioners_for(claims: u64) -> u64 {
    (claims / 40).clamp(60, 250_000)
}

/// Everything a claim generator needs, shared read-only by the parallel blocks.
pub struct Gen<'r> {
    pub cfg: GenConfig,
    pub refs: &'r Refs,
    pub pracs: Vec<Prac>,
    /// Index range of each specialty in `pracs` ([`population::ranges`]).
    pub ranges: [(u64, u64); 23],
    /// The CCAM catalogue and its frequencies.
    pub mix: Mix,
    /// The date the population (ages, birth dates) is drawn for: the first night's batch date, so
    /// that the beneficiaries of consecutive nights are the same people (`generate_night`).
    pub pop_date: Date,
}

impl Gen<'_> {
    fn prac_of(&self, r: &mut Rng, spec: Spec) -> Prac {
        let k = Spec::ALL.iter().position(|&s| s == spec).unwrap_or(0);
        let (first, n) = self.ranges[k];
        self.pracs[(first + r.below(n)).min(self.pracs.len() as u64 - 1) as usize]
    }

    /// Unit price of a CCAM act on a date and grid (None if not valid then).
    pub fn tariff(&self, code: &str, activity: u8, date: Date, grid: u8) -> Option<Cents> {
        let mut c = [0u8; 7];
        c.copy_from_slice(code.as_bytes().get(..7)?);
        self.refs
            .tariffs
            .get(&(c, activity, 0))?
            .value_at(date)?
            .for_grid(grid)
    }

    pub fn ngap(&self, letter: &str, date: Date, grid: u8) -> Option<Cents> {
        let mut l = [b' '; 4];
        l[..letter.len().min(4)].copy_from_slice(&letter.as_bytes()[..letter.len().min(4)]);
        let h = self
            .refs
            .ngap
            .get(&(l, grid))
            .or_else(|| self.refs.ngap.get(&(l, 0)))?;
        h.value_at(date).map(|v| v.value)
    }

    /// The value of modifier `m` for a practitioner of no particular specialty (the default value).
    pub fn modifier_value(&self, m: u8, grid: u8, date: Date, pu: Cents) -> Cents {
        match self.refs.modifier_value(m, grid, date, 0).map(|v| v.kind) {
            Some(ModKind::Pct(bp)) => money::pct(pu, bp),
            Some(ModKind::Fixed(c)) => c,
            None => 0,
        }
    }
}

/// Lag between care and the batch date [C: Open DAMIR Jan 2025 `05_care_period.csv`: 53 % same month,
/// 26 % previous month, a tail over two years]; 0.3 % beyond the 27-month limit.
fn care_date(r: &mut Rng, batch: Date) -> Date {
    let days = match r.weighted(&[530, 260, 150, 57, 3]) {
        0 => r.below(20),
        1 => 20 + r.below(30),
        2 => 50 + r.below(130),
        3 => 180 + r.below(600),
        _ => 830 + r.below(60),
    };
    batch.add_days(-(days as i64))
}

pub fn grid_of(p: &Prac) -> u8 {
    if p.sector == 1 || p.sector == 9 || p.optam {
        1
    } else {
        2
    }
}

fn ccam(code: &str, activity: u8, mods: &[u8], assoc: u8, date: Date, fee: Cents) -> ActLine {
    write::ccam_line(code, activity, mods, assoc, date, fee)
}

fn ngap(letter: &str, coef: u32, date: Date, fee: Cents) -> ActLine {
    write::ngap_line(letter, coef, date, fee)
}

/// Excess billed on a base: sector 2 non-OPTAM ~48 % on average [C: HCAAM 2025 average excess rate],
/// OPTAM ~20 % [I], sector 1 none (0.5 % of S1 lines carry an excess, half without qualifier → W101).
/// Only physicians bill excess this way (paramedical professions never do; dentists only on prosthetics,
/// see [`Gen::dental`]).
fn with_excess(r: &mut Rng, p: &Prac, mut l: ActLine, base: Cents) -> ActLine {
    let physician = !matches!(
        p.spec,
        Spec::Nurse | Spec::Physio | Spec::Speech | Spec::Orthoptist | Spec::Midwife
    ) && !matches!(p.spec, Spec::Dentist | Spec::DentistOdf);
    let excess = if !physician {
        0
    } else if p.sector == 3 && !p.optam {
        money::pct(base, 2000 + r.below(6000) as i64)
    } else if p.sector == 3 {
        money::pct(base, r.below(3500) as i64)
    } else if r.chance(50) {
        if r.chance(5000) {
            l.qualifier = *b"DE";
        }
        money::pct(base, 3000)
    } else {
        0
    };
    l.fee = base + excess;
    l
}

/// CCAM families (B2 regroupement) drawn for medical acts, with their January 2025 Open DAMIR volumes
/// (`fixtures/damir/merged_prs_nat_202501.csv`, `flt_act_qte` of the prestation nature whose B2 code is
/// the regroupement, `fixtures/nomenclatures/IR_NAT_V.csv`), in thousands: 1352 ATM, 1351 ADI, 1324 ADE,
/// 1321 ADC, 1323 ADA (activity 4 of any act), 1322 ACO.
pub const MEDICAL_FAMILIES: [(&str, u32); 6] = [
    ("ATM", 9721),
    ("ADI", 7456),
    ("ADE", 3572),
    ("ADC", 801),
    ("ADA", 789),
    ("ACO", 10),
];

/// Dental CCAM families and their January 2025 Open DAMIR volumes (thousands; same mapping).
pub const DENTAL_FAMILIES: [(&str, u32); 26] = [
    ("AXI", 3518),
    ("SDE", 2192),
    ("END", 415),
    ("CT0", 265),
    ("IC0", 167),
    ("PF0", 151),
    ("CZ0", 100),
    ("TDS", 92),
    ("PFC", 89),
    ("IMP", 74),
    ("PA1", 73),
    ("PT0", 69),
    ("IN1", 68),
    ("PDT", 65),
    ("CT1", 60),
    ("RA0", 53),
    ("CM0", 50),
    ("ICO", 45),
    ("INO", 45),
    ("PF1", 40),
    ("IC1", 40),
    ("PA0", 26),
    ("RS0", 23),
    ("RE1", 18),
    ("RPN", 5),
    ("SU1", 1),
];

/// Zipf exponent of the frequency of codes within a family (rank 1 = cheapest act) [I].
pub const ZIPF_S: f64 = 1.0;

/// The codes of one family, ranked, with the cumulative Zipf weights used to draw them.
pub struct Family {
    pub name: [u8; 3],
    pub activity: u8,
    pub codes: Vec<[u8; 7]>,
    /// The act may be billed with a quantity above 1 (label "séance", "supplémentaire", "au-delà",
    /// "par segment"…).
    pub qty: Vec<bool>,
    pub cum: Vec<f64>,
}

impl Family {
    fn draw(&self, r: &mut Rng) -> usize {
        let total = *self.cum.last().unwrap_or(&0.0);
        let x = (r.next() >> 11) as f64 / (1u64 << 53) as f64 * total;
        self.cum
            .partition_point(|&c| c <= x)
            .min(self.codes.len() - 1)
    }
}

/// The CCAM catalogue of a generated day: every act with a positive tariff valid on the batch date or
/// 13 months before it (so that dates of care before a version change find their own acts), grouped by
/// family, ranked by ascending sector-1 tariff — the documented proxy for frequency: the cheap acts
/// (ECG, plain X-rays, ultrasounds, scaling, fillings) are the everyday ones, surgery is rare.
pub struct Mix {
    pub medical: Vec<Family>,
    pub medical_w: Vec<u32>,
    pub dental: Vec<Family>,
    pub dental_w: Vec<u32>,
}

impl Mix {
    pub fn build(refs: &Refs, date: Date) -> Mix {
        let snaps = [date, date.minus_months(13)];
        // (regroupement, …) → (unit price, CCAM code, …) of each act
        type ByGroup = std::collections::BTreeMap<([u8; 3], u8), Vec<(Cents, [u8; 7], bool)>>;
        let mut by: ByGroup = Default::default();
        let mut codes: Vec<&[u8; 7]> = refs.acts.keys().collect();
        codes.sort();
        for code in codes {
            let h = &refs.acts[code];
            let Some(info) = snaps.iter().find_map(|&d| h.value_at(d)) else {
                continue;
            };
            if info.complement {
                continue; // drawn as companions of their main act
            }
            let l = info.label.to_lowercase();
            let qty = [
                "séance",
                "supplémentaire",
                "au-delà",
                "par segment",
                "par séance",
            ]
            .iter()
            .any(|k| l.contains(k));
            for activity in [1u8, 4] {
                let Some(t) = refs.tariffs.get(&(*code, activity, 0)) else {
                    continue;
                };
                let Some(pu) = snaps
                    .iter()
                    .find_map(|&d| t.value_at(d).and_then(|v| v.g1))
                    .filter(|&p| p > 0)
                else {
                    continue;
                };
                let fam = if activity == 4 {
                    *b"ADA"
                } else {
                    info.regroupement
                };
                by.entry((fam, activity))
                    .or_default()
                    .push((pu, *code, qty));
            }
        }
        let mk = |name: &str| -> Option<Family> {
            let n: [u8; 3] = name.as_bytes().try_into().ok()?;
            let act = if name == "ADA" { 4 } else { 1 };
            let mut v = by.get(&(n, act))?.clone();
            v.sort();
            let mut acc = 0.0;
            let cum = (0..v.len())
                .map(|k| {
                    acc += 1.0 / ((k + 1) as f64).powf(ZIPF_S);
                    acc
                })
                .collect();
            Some(Family {
                name: n,
                activity: act,
                codes: v.iter().map(|x| x.1).collect(),
                qty: v.iter().map(|x| x.2).collect(),
                cum,
            })
        };
        let (mut medical, mut medical_w, mut dental, mut dental_w) =
            (vec![], vec![], vec![], vec![]);
        for (f, w) in MEDICAL_FAMILIES {
            if let Some(fam) = mk(f) {
                medical.push(fam);
                medical_w.push(w);
            }
        }
        for (f, w) in DENTAL_FAMILIES {
            if let Some(fam) = mk(f) {
                dental.push(fam);
                dental_w.push(w);
            }
        }
        Mix {
            medical,
            medical_w,
            dental,
            dental_w,
        }
    }

    /// Number of distinct CCAM codes the mix can draw.
    pub fn codes(&self) -> usize {
        self.medical
            .iter()
            .chain(&self.dental)
            .map(|f| f.codes.len())
            .sum()
    }
}

/// Who performs a medical CCAM act: by family, then by the first letters of the code (the CCAM's
/// anatomical chapters: B eye, C ear, D heart, E vessels, G respiratory/ENT, H digestive, J urinary and
/// genital, L–N–P musculoskeletal, Q skin and breast) [I]; a quarter of the common office acts
/// (ECG, skin, smears) go to GPs [I].
fn spec_for(r: &mut Rng, fam: &[u8; 3], code: &[u8; 7]) -> Spec {
    let (c0, c1) = (code[0], code[1]);
    let surgery = fam == b"ADC";
    let s = match fam {
        b"ADA" => return Spec::Anesth,
        b"ACO" => return Spec::Gyneco,
        b"ADI" => return Spec::Radio,
        b"ADE" => match c0 {
            b'D' | b'E' => Spec::Cardio,
            b'J' if c1 >= b'J' => Spec::Gyneco,
            _ => Spec::Radio,
        },
        _ => match c0 {
            b'A' => Spec::Rhumato,
            b'B' => Spec::Ophtalmo,
            b'C' => Spec::Orl,
            b'D' | b'E' => {
                if surgery {
                    Spec::Visceral
                } else {
                    Spec::Cardio
                }
            }
            b'G' if matches!(c1, b'A' | b'B' | b'C' | b'D' | b'E') => Spec::Orl,
            b'G' => Spec::Pneumo,
            b'H' if c1 == b'B' => Spec::Dentist,
            b'H' => {
                if surgery {
                    Spec::Visceral
                } else {
                    Spec::Gastro
                }
            }
            b'J' if c1 >= b'J' => Spec::Gyneco,
            b'J' => Spec::Uro,
            b'L' | b'M' | b'N' | b'P' => {
                if surgery {
                    Spec::Ortho
                } else {
                    Spec::Rhumato
                }
            }
            b'Q' => Spec::Dermato,
            _ => {
                if surgery {
                    Spec::Visceral
                } else {
                    Spec::Gp
                }
            }
        },
    };
    if !surgery && matches!(s, Spec::Cardio | Spec::Dermato | Spec::Gyneco) && r.chance(2500) {
        Spec::Gp
    } else {
        s
    }
}

/// The kinds of claims of a day and their weights per 10 000 claims. Derived from Open DAMIR January 2025
/// volumes (`fixtures/damir/merged_prs_nat_202501.csv`, millions of units): GP consultations G/GS/C
/// 22.5, GP visits VG + long visits 1.14, teleconsultations TCG/TC 1.30, specialist consultations
/// CS/APC/CNP 8.5, medical CCAM acts 22.35 at ~1.2 acts per claim [I], dental acts 7.74 at ~1.4 per claim
/// [I] + dental consultations 1.23, nurses: one claim per visit, visits ≈ nurses' travel fees 23.9 / 0.8
/// [I: 80 % at home], physiotherapy ~27 sessions at ~3 per claim [I], speech therapy 2.37, orthoptics
/// 1.38, midwives 0.70. Pharmacy, biology, transport and hospital natures are not modelled.
pub const KINDS: [(Kind, u32); 11] = [
    (Kind::GpConsult, 2200),
    (Kind::GpVisit, 111),
    (Kind::Tele, 127),
    (Kind::SpecConsult, 831),
    (Kind::Ccam, 1818),
    (Kind::Dental, 665),
    (Kind::Nurse, 2933),
    (Kind::Physio, 880),
    (Kind::Speech, 232),
    (Kind::Orthoptist, 135),
    (Kind::Midwife, 68),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    GpConsult,
    GpVisit,
    Tele,
    SpecConsult,
    Ccam,
    Dental,
    Nurse,
    Physio,
    Speech,
    Orthoptist,
    Midwife,
}

/// Specialties seen in specialist consultations, with weights [I].
const CONSULT_SPECS: [(Spec, u32); 14] = [
    (Spec::Cardio, 12),
    (Spec::Ophtalmo, 14),
    (Spec::Gyneco, 12),
    (Spec::Pediatre, 10),
    (Spec::Psy, 10),
    (Spec::Dermato, 8),
    (Spec::Rhumato, 6),
    (Spec::Orl, 6),
    (Spec::Gastro, 5),
    (Spec::Pneumo, 4),
    (Spec::Ortho, 5),
    (Spec::Uro, 3),
    (Spec::Visceral, 2),
    (Spec::Anesth, 3),
];

impl Gen<'_> {
    /// Value of an NGAP letter for a practitioner's grid on a date; `None` when the letter is not in
    /// the reference set on that date (the generator then leaves it out: no line unknown by construction).
    pub fn ngap_value(&self, letter: &str, date: Date, p: &Prac) -> Option<Cents> {
        let mut l = [b' '; 4];
        let n = letter.len().min(4);
        l[..n].copy_from_slice(&letter.as_bytes()[..n]);
        let prof = self.refs.specialties.get(&p.spec.code())?.profession;
        self.refs
            .ngap_at(l, grid_of(p), prof, date)
            .map(|(_, v)| v.value)
    }

    /// An NGAP line (coefficient ×100, quantity) with its fee at the tariff, or None when the letter is
    /// absent on that date.
    fn nl(
        &self,
        letter: &str,
        coef: u32,
        qty: u16,
        date: Date,
        p: &Prac,
    ) -> Option<(ActLine, Cents)> {
        let v = self.ngap_value(letter, date, p)?;
        let base = money::mul_div_round(v, coef as i64, 100) * qty as i64;
        let mut l = ngap(letter, coef, date, base);
        l.quantity = qty;
        Some((l, base))
    }

    /// The first of `letters` present on that date.
    fn first_nl(
        &self,
        letters: &[&str],
        coef: u32,
        date: Date,
        p: &Prac,
    ) -> Option<(ActLine, Cents)> {
        letters.iter().find_map(|l| self.nl(l, coef, 1, date, p))
    }

    /// Modifiers for a CCAM line: only those allowed for the act and activity on that date
    /// (`ccam_modifiers_allowed.tsv`) and valued for the grid and specialty; at most one of the exclusive
    /// family (F/U/P/S), on the claim's first line only [I: proportions].
    #[allow(clippy::too_many_arguments)]
    fn modifiers(
        &self,
        r: &mut Rng,
        code: &[u8; 7],
        activity: u8,
        date: Date,
        grid: u8,
        p: &Prac,
        age: u32,
        first: bool,
    ) -> ([u8; 4], usize) {
        let mut out = [b' '; 4];
        let mut n = 0;
        let Some(allowed) = self
            .refs
            .allowed_mods_of(*code, activity)
            .and_then(|h| h.value_at(date))
            .map(|a| a.set)
        else {
            return (out, 0);
        };
        if allowed.0 == 0 {
            return (out, 0);
        }
        let spec = p.spec.code();
        let push = |m: u8, out: &mut [u8; 4], n: &mut usize, excl_ok: bool| {
            if *n >= 4 || out.contains(&m) || !allowed.contains(m) {
                return;
            }
            match self.refs.modifier_value(m, grid, date, spec) {
                Some(v) if !v.exclusive || excl_ok => {
                    out[*n] = m;
                    *n += 1;
                }
                _ => {}
            }
        };
        let surgeon = matches!(
            p.spec,
            Spec::Ortho | Spec::Visceral | Spec::Uro | Spec::Orl | Spec::Gyneco | Spec::Anesth
        );
        if p.spec == Spec::Radio && r.chance(9000) {
            push(b'Z', &mut out, &mut n, false);
        }
        if !(4..80).contains(&age) && r.chance(9000) {
            push(b'A', &mut out, &mut n, false);
        }
        if surgeon && grid == 1 && r.chance(7000) {
            push(b'K', &mut out, &mut n, false);
        }
        if activity == 4 && r.chance(5000) {
            push(b'7', &mut out, &mut n, false);
        }
        if r.chance(1500) {
            push(b'J', &mut out, &mut n, false);
        }
        // Night / Sunday / emergency: one exclusive modifier, first line only.
        if first && r.chance(150) {
            let m = [b'F', b'U', b'P', b'S'][r.below(4) as usize];
            push(m, &mut out, &mut n, true);
        }
        // Any other allowed modifier now and then (so that every modifier in use appears).
        if r.chance(400) {
            let letters: Vec<u8> = (b'0'..=b'9')
                .chain(b'A'..=b'Z')
                .filter(|&c| allowed.contains(c))
                .collect();
            if !letters.is_empty() {
                let m = letters[r.below(letters.len() as u64) as usize];
                push(m, &mut out, &mut n, false);
            }
        }
        (out, n)
    }

    /// A priced CCAM line: unit price on the grid, association coefficient, modifiers, quantity — the
    /// engine's base computation (pricing.rs `compute_bases`) — and the excess.
    #[allow(clippy::too_many_arguments)]
    fn ccam_priced(
        &self,
        r: &mut Rng,
        p: &Prac,
        code: &[u8; 7],
        activity: u8,
        mods: [u8; 4],
        assoc: u8,
        qty: u16,
        date: Date,
    ) -> Option<ActLine> {
        let g = grid_of(p);
        let pu = self
            .refs
            .tariffs
            .get(&(*code, activity, 0))?
            .value_at(date)?
            .for_grid(g)?;
        let coef = if assoc == b' ' {
            money::BP_100
        } else {
            *self
                .refs
                .assoc
                .get(&assoc.wrapping_sub(b'0'))?
                .value_at(date)?
        };
        let mut unit = money::pct(pu, coef);
        for &m in mods.iter().filter(|&&m| m != b' ') {
            unit += match self
                .refs
                .modifier_value(m, g, date, p.spec.code())
                .map(|v| v.kind)
            {
                Some(ModKind::Pct(bp)) => money::pct(money::pct(pu, bp), coef),
                Some(ModKind::Fixed(c)) => c,
                None => 0,
            };
        }
        let base = unit * qty as i64;
        let code_s = std::str::from_utf8(code).ok()?;
        let mut l = ccam(code_s, activity, b"", assoc, date, 0);
        if let Act::Ccam { modifiers, .. } = &mut l.act {
            *modifiers = mods;
        }
        l.quantity = qty;
        Some(with_excess(r, p, l, base))
    }

    fn valid(&self, code: &[u8; 7], activity: u8, date: Date, grid: u8) -> Option<Cents> {
        let t = self
            .refs
            .tariffs
            .get(&(*code, activity, 0))?
            .value_at(date)?;
        self.refs.acts.get(code)?.value_at(date)?;
        t.for_grid(grid)
    }

    /// A CCAM claim (medical or dental): 1–4 acts of one family by one practitioner, association codes
    /// consistent with their ranking by unit price, sometimes a complementary gesture or supplement from the
    /// act's own list, modifiers, quantities. None when nothing valid was found on that date.
    fn ccam_claim(
        &self,
        r: &mut Rng,
        dental: bool,
        date: Date,
        age: u32,
        c2s: bool,
    ) -> Option<(Prac, Vec<ActLine>)> {
        let (fams, w) = if dental {
            (&self.mix.dental, &self.mix.dental_w)
        } else {
            (&self.mix.medical, &self.mix.medical_w)
        };
        if fams.is_empty() {
            return None;
        }
        let fam = &fams[r.weighted(w)];
        // First act: a few draws until one is valid on the date of care.
        let mut first = None;
        let mut p = None;
        for _ in 0..4 {
            let k = fam.draw(r);
            let spec = if dental {
                if fam.name == *b"TOR" {
                    Spec::DentistOdf
                } else {
                    Spec::Dentist
                }
            } else {
                spec_for(r, &fam.name, &fam.codes[k])
            };
            let pr = self.prac_of(r, spec);
            if self
                .valid(&fam.codes[k], fam.activity, date, grid_of(&pr))
                .is_some()
            {
                first = Some(k);
                p = Some(pr);
                break;
            }
        }
        let (k0, p) = (first?, p?);
        let g = grid_of(&p);
        // Number of main acts [I: RULES.md §10 "CCAM multi-act claims are a minority"].
        let n = [1, 2, 3, 4][r.weighted(if dental {
            &[55, 30, 10, 5]
        } else {
            &[80, 15, 4, 1]
        })];
        let mut acts: Vec<(usize, Cents)> =
            vec![(k0, self.valid(&fam.codes[k0], fam.activity, date, g)?)];
        for _ in 1..n {
            let k = fam.draw(r);
            if acts.iter().any(|a| a.0 == k) {
                continue;
            }
            let Some(pu) = self.valid(&fam.codes[k], fam.activity, date, g) else {
                continue;
            };
            let c = fam.codes[k];
            let clash = acts.iter().any(|a| {
                self.refs
                    .incompat
                    .get(&(fam.codes[a.0], c))
                    .is_some_and(|h| h.at(date).is_some())
            });
            if !clash {
                acts.push((k, pu));
            }
        }
        // Rank by unit price descending (line order = rank: ties are broken by line order).
        acts.sort_by_key(|a| std::cmp::Reverse(a.1));
        let m = acts.len();
        let codes: Vec<u8> = match m {
            1 => vec![if r.chance(3000) { b'1' } else { b' ' }],
            2 => match r.weighted(if dental {
                &[40, 0, 0, 60]
            } else {
                &[75, 10, 10, 5]
            }) {
                0 => vec![b'1', b'2'],
                1 => vec![b'1', b'3'],
                2 => vec![b'1', b'5'],
                _ => vec![b'4', b'4'],
            },
            3 => match r.weighted(if dental { &[30, 10, 60] } else { &[50, 30, 20] }) {
                0 => vec![b'1', b'2', b'2'],
                1 => vec![b'1', b'3', b'2'],
                _ => vec![b'4'; 3],
            },
            _ => vec![b'4'; m],
        };
        let mut lines = Vec::with_capacity(m + 1);
        for (i, &(k, _)) in acts.iter().enumerate() {
            let code = fam.codes[k];
            let (mods, _) = self.modifiers(r, &code, fam.activity, date, g, &p, age, i == 0);
            let qty = if fam.qty[k] && r.chance(3000) {
                2 + r.below(3) as u16
            } else {
                1
            };
            let mut l = self.ccam_priced(r, &p, &code, fam.activity, mods, codes[i], qty, date)?;
            if dental {
                l = dental_excess(r, &fam.name, l, c2s);
            }
            lines.push(l);
        }
        // A complementary gesture or supplement of the first act (its published list), at full rate.
        if fam.activity == 1 && r.chance(1500) {
            let main = fam.codes[acts[0].0];
            if let Some(list) = self
                .refs
                .companions
                .get(&main)
                .and_then(|h| h.value_at(date))
                && !list.is_empty()
            {
                let c = list[r.below(list.len() as u64) as usize];
                let ok = self
                    .refs
                    .acts
                    .get(&c)
                    .and_then(|h| h.value_at(date))
                    .is_some_and(|a| a.complement)
                    && self.valid(&c, 1, date, g).is_some();
                if ok {
                    let (mods, _) = self.modifiers(r, &c, 1, date, g, &p, age, false);
                    if let Some(l) = self.ccam_priced(r, &p, &c, 1, mods, b'1', 1, date) {
                        lines.push(l);
                    }
                }
            }
        }
        Some((p, lines))
    }

    /// NGAP consultations, visits and paramedical sessions. None when a base letter is absent from the
    /// reference set on that date (the caller falls back to a GP consultation).
    fn ngap_claim(
        &self,
        r: &mut Rng,
        kind: Kind,
        date: Date,
        age: u32,
    ) -> Option<(Prac, Vec<ActLine>)> {
        let mut lines = Vec::with_capacity(4);
        let p;
        match kind {
            Kind::GpConsult | Kind::GpVisit | Kind::Tele => {
                p = self.prac_of(r, Spec::Gp);
                let alt: &[&str] = match kind {
                    Kind::GpConsult => &["G"],
                    Kind::GpVisit => &["VG", "V"],
                    _ => &["TCG"],
                };
                let (l, b) = self.first_nl(alt, 100, date, &p)?;
                lines.push(with_excess(r, &p, l, b));
                if kind != Kind::Tele {
                    // MEG: children under 6 [C: DAMIR 1.53 M MEG for 20.6 M G ≈ 7 %];
                    // MCG 2 % [C: 0.40 M]; night/Sunday/holiday 3 % [C: 0.69 M regulated and
                    // non-regulated majorations for ~23 M consultations and visits].
                    if age < 6 {
                        lines.extend(self.nl("MEG", 100, 1, date, &p).map(|x| x.0));
                    } else if r.chance(200) {
                        lines.extend(self.nl("MCG", 100, 1, date, &p).map(|x| x.0));
                    }
                    if r.chance(300) {
                        let m = ["F", "MN", "MM", "CRN", "CRD", "CRS", "CRM"]
                            [r.weighted(&[30, 10, 5, 20, 15, 10, 10])];
                        lines.extend(self.nl(m, 100, 1, date, &p).map(|x| x.0));
                    }
                }
                if kind == Kind::GpVisit {
                    // MD on visits [C: 1.07 M MD for 0.88 M VG], IK for a third of them [I].
                    let md = ["MD", "MDN", "MDI", "MDD"][r.weighted(&[85, 5, 5, 5])];
                    lines.extend(self.nl(md, 100, 1, date, &p).map(|x| x.0));
                    if r.chance(3000) {
                        let km = 2 + r.below(14) as u32;
                        lines.extend(self.nl("IK", km * 100, 1, date, &p).map(|x| x.0));
                    }
                }
                // An ECG with the consultation (the one documented exception) [I].
                if kind == Kind::GpConsult
                    && r.chance(100)
                    && let Some(l) = self.ccam_priced(r, &p, b"DEQP003", 1, *b"    ", b' ', 1, date)
                {
                    lines.push(l);
                }
            }
            Kind::SpecConsult => {
                let w: Vec<u32> = CONSULT_SPECS.iter().map(|x| x.1).collect();
                let sp = CONSULT_SPECS[r.weighted(&w)].0;
                p = self.prac_of(r, sp);
                // CS 4.13 M, APC 3.16 M, TC 0.19 M [C: DAMIR]; MCS with 80 % of CS [C: 3.89 M MCS].
                let letter = match r.weighted(&[4130, 3160, 190]) {
                    0 => "CS",
                    1 => "APC",
                    _ => "TC",
                };
                let (l, b) = self
                    .nl(letter, 100, 1, date, &p)
                    .or_else(|| self.nl("CS", 100, 1, date, &p))?;
                let cs = matches!(l.act, Act::Ngap { letter, .. } if &letter == b"CS  ");
                lines.push(with_excess(r, &p, l, b));
                if cs && r.chance(8000) {
                    lines.extend(self.nl("MCS", 100, 1, date, &p).map(|x| x.0));
                }
                if p.spec == Spec::Pediatre && age < 6 {
                    lines.extend(self.nl("MEG", 100, 1, date, &p).map(|x| x.0));
                }
                if p.spec == Spec::Cardio
                    && r.chance(3000)
                    && let Some(l) = self.ccam_priced(r, &p, b"DEQP003", 1, *b"    ", b' ', 1, date)
                {
                    lines.push(l);
                }
            }
            Kind::Nurse => {
                p = self.prac_of(r, Spec::Nurse);
                // One visit: AMI (coefficients 1–4) or AIS 3, a second act 30 % [I]; MAU on a single act
                // ≤ 1.5 [C: 19.5 M MAU for 59 M AMI]; MCI 6.6 % [C: 3.9 M]; at home 80 % with the travel
                // fee IFD [C: 23.9 M nurse travel fees] and IK for a quarter of them [I]; night/Sunday 2 % [I].
                let coef = [100, 150, 200, 300, 400, 500][r.weighted(&[35, 15, 20, 15, 10, 5])];
                let ais = r.chance(800);
                let (l, _) = if ais {
                    self.nl("AIS", 300, 1, date, &p)?
                } else {
                    self.nl("AMI", coef, 1, date, &p)?
                };
                lines.push(l);
                let second = r.chance(3000);
                if second {
                    let c2 = [100, 150, 200][r.below(3) as usize];
                    lines.extend(self.nl("AMI", c2, 1, date, &p).map(|x| x.0));
                } else if !ais && coef <= 150 && r.chance(8000) {
                    lines.extend(self.nl("MAU", 100, 1, date, &p).map(|x| x.0));
                }
                if r.chance(660) {
                    lines.extend(self.nl("MCI", 100, 1, date, &p).map(|x| x.0));
                }
                if r.chance(8000) {
                    lines.extend(self.first_nl(&["IFD", "IFI"], 100, date, &p).map(|x| x.0));
                    if r.chance(2500) {
                        let km = 1 + r.below(15) as u32;
                        lines.extend(self.nl("IK", km * 100, 1, date, &p).map(|x| x.0));
                    }
                }
                if r.chance(200) {
                    let m = ["F", "MN", "MM"][r.below(3) as usize];
                    lines.extend(self.nl(m, 100, 1, date, &p).map(|x| x.0));
                }
            }
            Kind::Physio | Kind::Speech | Kind::Orthoptist | Kind::Midwife => {
                let (spec, letters, coefs, sessions): (Spec, &[&str], &[u32], &[u32]) = match kind {
                    // AMK/AMS sessions (coefficients 7.5–10.7 [I]), ~3 sessions per claim [I].
                    Kind::Physio => (
                        Spec::Physio,
                        &["AMK", "AMS"],
                        &[750, 800, 850, 950, 1000, 1070],
                        &[40, 15, 15, 10, 10, 10],
                    ),
                    Kind::Speech => (
                        Spec::Speech,
                        &["AMO"],
                        &[1000, 1200, 1350, 1560],
                        &[70, 20, 10],
                    ),
                    Kind::Orthoptist => {
                        (Spec::Orthoptist, &["AMY"], &[400, 500, 1000], &[80, 15, 5])
                    }
                    _ => (Spec::Midwife, &["SF", "C"], &[700, 1200, 1500], &[90, 10]),
                };
                p = self.prac_of(r, spec);
                let letter = letters[r.below(letters.len() as u64) as usize];
                let coef = coefs[r.below(coefs.len() as u64) as usize];
                let n = 1 + r.weighted(sessions);
                for k in 0..n {
                    let d = date.add_days(-(2 * k as i64));
                    let (l, _) = self
                        .nl(letter, coef, 1, d, &p)
                        .or_else(|| self.first_nl(letters, coef, d, &p))?;
                    lines.push(l);
                }
            }
            Kind::Ccam | Kind::Dental => return None,
        }
        Some((p, lines))
    }

    /// The practitioner and act lines of a claim of kind `kind` (None: fall back to a GP consultation).
    fn draw_claim(
        &self,
        r: &mut Rng,
        kind: Kind,
        date: Date,
        be: &Benef,
    ) -> Option<(Prac, Vec<ActLine>)> {
        let age = be.birth.age_on(date);
        let out = match kind {
            Kind::Ccam => self.ccam_claim(r, false, date, age, be.c2s),
            Kind::Dental => {
                // Dental consultations 1.23 M for 7.74 M dental acts [C: DAMIR 1454].
                if r.chance(1800) {
                    let p = self.prac_of(r, Spec::Dentist);
                    self.nl("C", 100, 1, date, &p).map(|(l, _)| (p, vec![l]))
                } else {
                    self.ccam_claim(r, true, date, age, be.c2s)
                }
            }
            k => self.ngap_claim(r, k, date, age),
        };
        out.filter(|(_, l)| !l.is_empty())
    }
}

/// Dental prosthetics (the "tarif libre" families and those with a capped excess) carry an excess under
/// entente directe (`ED`), none for C2S beneficiaries (RAC 0 baskets and C2S forbid it) [I: amounts].
fn dental_excess(r: &mut Rng, fam: &[u8; 3], mut l: ActLine, c2s: bool) -> ActLine {
    let prosthetic = matches!(
        fam,
        b"PFC"
            | b"PFM"
            | b"INO"
            | b"ICO"
            | b"IMP"
            | b"PF1"
            | b"PA1"
            | b"IN1"
            | b"IC1"
            | b"CT1"
            | b"TOR"
    );
    if prosthetic && !c2s && r.chance(8000) {
        l.qualifier = *b"ED";
        l.fee += money::pct(l.fee, 5000 + r.below(25000) as i64);
    }
    l
}

impl Gen<'_> {
    /// Generates claim number `j` into `buf`: header, lines, end record. Returns (claims, lines, total).
    pub fn claim(&self, j: u64, buf: &mut Vec<u8>) -> (u64, u64, i64) {
        let cfg = &self.cfg;
        let mut r = Rng::derive(cfg.seed, 3, j);
        let kinds: [u32; 11] = KINDS.map(|k| k.1);
        let kind = KINDS[r.weighted(&kinds)].0;
        let bi = r.below(cfg.beneficiaries.max(1));
        let be = population::benef(cfg.seed, bi, self.pop_date);
        let date = care_date(&mut r, cfg.date);
        let (p, mut lines) = match self.draw_claim(&mut r, kind, date, &be) {
            Some(x) => x,
            None => {
                let p = self.prac_of(&mut r, Spec::Gp);
                let v = self.ngap("G", date, grid_of(&p)).unwrap_or(2500);
                (p, vec![ngap("G", 100, date, v)])
            }
        };
        let woman_of_age = be.sex == 2 && (18..=45).contains(&be.birth.age_on(date));
        let nature = match r.weighted(&[960, 20, 20]) {
            1 if woman_of_age => 30,
            2 if be.birth.age_on(date) >= 16 => 41,
            _ => 10,
        };
        let exemption = if be.ald && r.chance(8000) { b'4' } else { b'0' };
        let pathway = match r.weighted(&[800, 80, 20, 20, 80]) {
            0 => b'T',
            1 => b'D',
            2 => b'U',
            3 => b'H',
            _ => b' ',
        };
        let tp_amo = be.c2s || nature != 10 || r.chance(7500);
        let amc = be.amc.map(|(k, _)| AMCS[k].0).unwrap_or("");
        let mut h = ClaimHeader {
            claim_no: (j % 999_999_999 + 1) as u32,
            practitioner: p.number,
            nir: be.nir,
            nir_key: be.key,
            rank: be.rank,
            birth: be.birth,
            birth_rank: 1,
            nature,
            exemption,
            pathway,
            tp_amo,
            tp_amc: tp_amo && r.chance(5000),
            amc: [b' '; 10],
            contract: *b"  ",
            at_ref: [b' '; 9],
        };
        if r.chance(9500) {
            h.amc[..amc.len()].copy_from_slice(amc.as_bytes());
            if let Some((_, c)) = be.amc {
                h.contract = [b'0', b'0' + c];
            }
        }
        if nature == 41 {
            h.at_ref[..8].copy_from_slice(
                date.add_days(-(r.below(30) as i64))
                    .0
                    .to_string()
                    .as_bytes(),
            );
        }
        // Injected errors: each about 0.25 % of claims [I: "a few percent of claims must be rejected"].
        let mut damage = None;
        if r.chance(400) {
            match r.below(16) {
                0 => h.nir_key = if h.nir_key == *b"01" { *b"02" } else { *b"01" },
                1 => {
                    let other = population::benef(
                        cfg.seed,
                        cfg.beneficiaries + 1 + r.below(1000),
                        self.pop_date,
                    );
                    h.nir = other.nir;
                    h.nir_key = other.key;
                    h.birth = other.birth;
                }
                2 => h.birth = h.birth.add_days(1),
                3 => h.practitioner = 999_000_000 + r.below(999_999) as u32,
                4 => lines[0].date = cfg.date.minus_months(28),
                5 => lines[0].date = cfg.date.add_days(3),
                6 => {
                    if let Act::Ccam { modifiers, .. } = &mut lines[0].act {
                        modifiers[0] = b'Q';
                    } else {
                        lines[0].act = Act::Ngap {
                            letter: *b"ZZZ ",
                            coef: 100,
                        };
                    }
                }
                7 => {
                    lines[0].act = Act::Ngap {
                        letter: *b"XYZ ",
                        coef: 100,
                    }
                }
                8 => {
                    if lines.len() == 2
                        && let Act::Ccam { assoc, .. } = &mut lines[1].act
                    {
                        *assoc = b'1';
                    }
                }
                9 => {
                    let g = self.ngap("G", date, 1).unwrap_or(2500);
                    lines = vec![
                        ngap("G", 100, date, g),
                        ccam("QZJA002", 1, b"", b' ', date, 2660),
                    ];
                }
                10 => h.nature = 41,
                11 => h.nature = 20,
                12 => damage = Some(0u8),
                13 => damage = Some(1),
                14 => damage = Some(2),
                _ => lines[0].quantity = 0,
            }
        }
        let mut bytes = Vec::with_capacity(128 * (lines.len() + 2));
        write::claim_into(&mut bytes, &h, &lines);
        match damage {
            // a non-digit in the date of care of the first line (R001)
            Some(0) => bytes[129 + 16] = b'X',
            // an impossible date of care (R010)
            Some(1) => bytes[129 + 14..129 + 22].copy_from_slice(b"20250230"),
            // the end record announces one line too many (R004)
            Some(_) => {
                let end = bytes.len() - 129;
                let n = lines.len() as u16 + 1;
                bytes[end + 11..end + 14].copy_from_slice(format!("{n:03}").as_bytes());
            }
            None => {}
        }
        let (c, l, t) = write::tally(&bytes);
        buf.extend_from_slice(&bytes);
        // A duplicate transmission of the same claim (R030) for ~0.25 % of claims.
        if r.chance(25) {
            buf.extend_from_slice(&bytes);
            return (2 * c, 2 * l, 2 * t);
        }
        (c, l, t)
    }
}

/// Generates a day: `out/claims.b2` and `out/refs/`.
pub fn generate(cfg: &GenConfig) -> Result<GenStats, GenError> {
    generate_night(cfg, &Night::default())
}

/// Which night of a run of consecutive generated nights (formats/generator.md, "Nights").
#[derive(Clone, Copy, Debug, Default)]
pub struct Night {
    /// 0: the first night (`generate`); night `k` is dated `cfg.date` + `k` days, numbered batch
    /// `seed % 1 000 000 + k`, and its claims are indexes `k·N … (k+1)·N − 1` of one stream (claim
    /// numbers never repeat across nights, except re-sends).
    pub index: u32,
    /// Re-sends per 10 000 claims: a claim of the previous night sent again, identical (same
    /// practitioner and claim number), in place of a new claim. [I] no published figure: a generator
    /// parameter, 50 (0.5 %) by default on the command line.
    pub resend_per_10k: u64,
}

/// A night of a run of consecutive nights: the same population (drawn for `cfg.date`, the first
/// night) and the same reference set every night, so beneficiaries recur and their counters carry;
/// writes `cfg.out/claims.b2` and `cfg.out/refs/` (identical for every night of the run).
pub fn generate_night(cfg: &GenConfig, night: &Night) -> Result<GenStats, GenError> {
    let refs_dir = cfg.out.join("refs");
    // The whole CCAM first; with `ccam_subset` it is cut down, once the claims are written, to the
    // codes they use and the scenarios' catalogue.
    liquidator_ccam::embedded::write_regulatory_refs(&refs_dir, None)
        .map_err(|e| GenError::Ccam(e.to_string()))?;
    let n_prac = practitioners_for(cfg.claims);
    write_population(&refs_dir, cfg, n_prac)?;
    let refs = Refs::load_regulatory(&refs_dir)?;
    let k = night.index as u64;
    let night_gen = |index: u64| {
        let date = cfg.date.add_days(index as i64);
        Gen {
            cfg: GenConfig {
                date,
                ..cfg.clone()
            },
            refs: &refs,
            pracs: (0..n_prac)
                .map(|j| population::prac(cfg.seed, j, n_prac))
                .collect(),
            ranges: population::ranges(n_prac),
            mix: Mix::build(&refs, date),
            pop_date: cfg.date,
        }
    };
    let g = night_gen(k);
    // The previous night, for re-sends.
    let prev = (k > 0 && night.resend_per_10k > 0).then(|| night_gen(k - 1));
    let path = cfg.out.join("claims.b2");
    let file = std::fs::File::create(&path).map_err(io(&path))?;
    let header = BatchHeader {
        sender: 123456789,
        batch_no: (cfg.seed % 1_000_000) as u32 + night.index,
        date: g.cfg.date,
        version: 100,
    };
    let mut w = BatchWriter::new(std::io::BufWriter::with_capacity(1 << 22, file), &header)
        .map_err(io(&path))?;
    if cfg.scenarios {
        let list = scenarios::write(&g, &mut w).map_err(io(&path))?;
        let mut t = String::from("claim\texpected\tdescription\n");
        for (n, what, exp) in list {
            let e = match exp {
                Ok("") => "PAID".to_string(),
                Ok(wn) => format!("PAID {wn}"),
                Err(c) => format!("REJECTED {c}"),
            };
            t.push_str(&format!("{n:09}\t{e}\t{what}\n"));
        }
        let p = cfg.out.join("scenarios.tsv");
        std::fs::write(&p, t).map_err(io(&p))?;
    }
    const BLOCK: u64 = 8192;
    let blocks = cfg.claims.div_ceil(BLOCK);
    let mut stats = GenStats::default();
    for group in (0..blocks).collect::<Vec<_>>().chunks(128) {
        let parts: Vec<(Vec<u8>, u64, u64, i64)> = group
            .par_iter()
            .map(|&b| {
                let mut buf = Vec::with_capacity(BLOCK as usize * 400);
                let (mut c, mut l, mut t) = (0, 0, 0);
                for j in b * BLOCK..((b + 1) * BLOCK).min(cfg.claims) {
                    let j = k * cfg.claims + j;
                    let resend = prev.as_ref().filter(|_| {
                        Rng::derive(cfg.seed, STREAM_RESEND, j).chance(night.resend_per_10k)
                    });
                    let (c1, l1, t1) = match resend {
                        Some(p) => p.claim(j - cfg.claims, &mut buf),
                        None => g.claim(j, &mut buf),
                    };
                    c += c1;
                    l += l1;
                    t += t1;
                }
                (buf, c, l, t)
            })
            .collect();
        for (buf, c, l, t) in parts {
            stats.claims += c;
            stats.lines += l;
            stats.bytes += buf.len() as u64;
            w.counted(&buf, c, l, t).map_err(io(&path))?;
        }
    }
    w.finish().map_err(io(&path))?;
    if cfg.ccam_subset {
        let text = std::fs::read(&path).map_err(io(&path))?;
        let mut used: Vec<String> = CATALOGUE_CODES.iter().map(|c| c.to_string()).collect();
        for rec in text.split(|&b| b == b'\n') {
            if rec.starts_with(b"4M") && rec.len() >= 29 {
                used.push(String::from_utf8_lossy(&rec[22..29]).into_owned());
            }
        }
        used.sort();
        used.dedup();
        let keep: Vec<&str> = used.iter().map(String::as_str).collect();
        liquidator_ccam::embedded::write_regulatory_refs(&refs_dir, Some(&keep))
            .map_err(|e| GenError::Ccam(e.to_string()))?;
    }
    Ok(stats)
}
