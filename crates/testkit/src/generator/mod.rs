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

/// Writes the population tables (practitioners, beneficiaries, ALD periods, insurers) into `dir`.
pub fn write_population(dir: &Path, cfg: &GenConfig, n_prac: u64) -> Result<(), GenError> {
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
    let mut s = String::from("billing_no\tvalid_from\tvalid_to\tspecialty\tsector\toptam\n");
    for j in 0..n_prac {
        let pr = population::prac(cfg.seed, j, n_prac);
        s.push_str(&format!(
            "{:09}\t2015-01-01\t\t{:02}\t{}\t{}\n",
            pr.number,
            pr.spec.code(),
            pr.sector,
            pr.optam as u8
        ));
    }
    scenarios::extra_practitioners(&mut s);
    std::fs::write(&p, s).map_err(io(&p))?;

    // Beneficiaries: formatted in parallel blocks (10 M rows must be written in seconds).
    let p = dir.join("beneficiaries.tsv");
    let mut f =
        std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&p).map_err(io(&p))?);
    f.write_all(b"nir\trank\tbirth_date\tvalid_from\tvalid_to\tregime\tfund\tlocal_regime\tc2s\tamc\tcontract\tpf_year\tpf_used\n")
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
    let _ = writeln!(
        s,
        "{nir}\t{:03}\t{}\t2019-01-01\t{to}\t01\t01C{:06}\t{}\t{}\t{amc}\t{contract}\t{py}\t{pu}",
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

/// Practitioners for a day of `claims` claims (about 40 claims each, at least 60).
pub fn practitioners_for(claims: u64) -> u64 {
    (claims / 40).clamp(60, 250_000)
}

/// Everything a claim generator needs, shared read-only by the parallel blocks.
pub struct Gen<'r> {
    pub cfg: GenConfig,
    pub refs: &'r Refs,
    pub pracs: Vec<Prac>,
}

impl Gen<'_> {
    fn prac_of(&self, r: &mut Rng, spec: Spec) -> Prac {
        let (first, n) = population::prac_range(spec, self.pracs.len() as u64);
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
fn with_excess(r: &mut Rng, p: &Prac, mut l: ActLine, base: Cents) -> ActLine {
    let excess = if p.sector == 3 && !p.optam {
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

impl Gen<'_> {
    /// The act lines of a claim by practitioner `p` on `date` (None when the catalogue has no act valid
    /// on that date for that specialty: the caller falls back to a consultation).
    fn acts(&self, r: &mut Rng, p: &Prac, date: Date) -> Option<Vec<ActLine>> {
        let g = grid_of(p);
        let one = |r: &mut Rng,
                   code: &str,
                   act: u8,
                   mods: &[u8],
                   assoc: u8,
                   coef: i64|
         -> Option<ActLine> {
            let pu = self.tariff(code, act, date, g)?;
            let mut base = money::pct(pu, coef);
            for &m in mods {
                base += match self
                    .refs
                    .modifier_value(m, g, date, p.spec.code())
                    .map(|v| v.kind)
                {
                    Some(ModKind::Pct(bp)) => money::pct(money::pct(pu, bp), coef),
                    Some(ModKind::Fixed(c)) => c,
                    None => 0,
                };
            }
            Some(with_excess(
                r,
                p,
                ccam(code, act, mods, assoc, date, 0),
                base,
            ))
        };
        let cons = |r: &mut Rng, letter: &str| -> Option<ActLine> {
            let v = self.ngap(letter, date, g)?;
            Some(with_excess(r, p, ngap(letter, 100, date, 0), v))
        };
        // Sunday / night urgency modifiers on a few acts [I].
        let urg: &[u8] = if r.chance(200) { b"F" } else { b"" };
        let v = match p.spec {
            Spec::Gp => match r.weighted(&[880, 50, 40, 30]) {
                0 => vec![cons(r, "G")?],
                1 => vec![cons(r, "G")?, one(r, "DEQP003", 1, b"", b' ', 10000)?],
                2 => vec![one(r, "QZJA002", 1, urg, b' ', 10000)?],
                _ => vec![one(r, "JKHD001", 1, b"", b' ', 10000)?],
            },
            Spec::Pediatre => vec![cons(r, "CS")?],
            Spec::Cardio => match r.weighted(&[40, 40, 20]) {
                0 => vec![cons(r, "APC")?, one(r, "DEQP003", 1, b"", b' ', 10000)?],
                1 => vec![
                    one(r, "EBQM001", 1, b"", b'1', 10000)?,
                    one(r, "DEQP003", 1, b"", b'2', 5000)?,
                ],
                _ => vec![cons(r, "CS")?],
            },
            Spec::Ortho => match r.weighted(&[40, 30, 10, 20]) {
                0 => vec![cons(r, "CS")?],
                1 => vec![one(r, "NFFC004", 1, b"", b' ', 10000)?],
                2 => vec![one(r, "NFKA007", 1, b"", b' ', 10000)?],
                _ => vec![
                    one(r, "QAGA004", 1, urg, b'1', 10000)?,
                    one(r, "QZFA036", 1, b"", b'2', 5000)?,
                ],
            },
            Spec::Anesth => match r.weighted(&[60, 40]) {
                0 => vec![one(r, "NFFC004", 4, b"", b' ', 10000)?],
                _ => vec![one(r, "NFKA007", 4, b"", b' ', 10000)?],
            },
            Spec::Radio => match r.weighted(&[50, 25, 15, 10]) {
                0 => vec![one(r, "ZBQK002", 1, b"Z", b' ', 10000)?],
                1 => vec![one(r, "LAQK013", 1, b"Z", b' ', 10000)?],
                2 => vec![one(r, "ZCQK004", 1, b"Z", b' ', 10000)?],
                _ => vec![
                    one(r, "ZCQK004", 1, b"Z", b'1', 10000)?,
                    one(r, "ZBQK002", 1, b"Z", b'2', 5000)?,
                ],
            },
            Spec::Ophtalmo => match r.weighted(&[60, 40]) {
                0 => vec![cons(r, "CS")?],
                _ => vec![one(r, "BGQP002", 1, b"", b' ', 10000)?],
            },
            Spec::Gyneco => match r.weighted(&[60, 20, 20]) {
                0 => vec![cons(r, "CS")?],
                1 => vec![one(r, "JKHD001", 1, b"", b' ', 10000)?],
                _ => vec![one(r, "JQQJ037", 1, b"", b' ', 10000)?],
            },
            Spec::Dentist => match r.weighted(&[45, 40, 15]) {
                0 => vec![one(r, "HBJD001", 1, b"", b' ', 10000)?],
                1 => vec![one(r, "HBGD036", 1, urg, b' ', 10000)?],
                _ => vec![
                    one(r, "HBGD036", 1, b"", b'1', 10000)?,
                    one(r, "YYYY614", 1, b"", b'1', 10000)?,
                ],
            },
        };
        Some(v)
    }

    /// Generates claim number `j` into `buf`: header, lines, end record. Returns (claims, lines, total).
    pub fn claim(&self, j: u64, buf: &mut Vec<u8>) -> (u64, u64, i64) {
        let cfg = &self.cfg;
        let mut r = Rng::derive(cfg.seed, 3, j);
        let spec = Spec::ALL[r.weighted(&Spec::WEIGHTS)];
        let p = self.prac_of(&mut r, spec);
        let bi = r.below(cfg.beneficiaries.max(1));
        let be = population::benef(cfg.seed, bi, cfg.date);
        let date = care_date(&mut r, cfg.date);
        let mut lines = match self.acts(&mut r, &p, date) {
            Some(l) => l,
            None => match self.ngap("G", date, 1) {
                Some(v) => vec![ngap("G", 100, date, v)],
                None => vec![ngap("G", 100, date, 2500)],
            },
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
                        cfg.date,
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
                    if lines.len() == 2 {
                        if let Act::Ccam { assoc, .. } = &mut lines[1].act {
                            *assoc = b'1';
                        }
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
    let refs_dir = cfg.out.join("refs");
    let subset: Option<&[&str]> = if cfg.ccam_subset {
        Some(&CATALOGUE_CODES)
    } else {
        None
    };
    liquidator_ccam::embedded::write_regulatory_refs(&refs_dir, subset)
        .map_err(|e| GenError::Ccam(e.to_string()))?;
    let n_prac = practitioners_for(cfg.claims);
    write_population(&refs_dir, cfg, n_prac)?;
    let refs = Refs::load_regulatory(&refs_dir)?;
    let g = Gen {
        cfg: cfg.clone(),
        refs: &refs,
        pracs: (0..n_prac)
            .map(|j| population::prac(cfg.seed, j, n_prac))
            .collect(),
    };
    let path = cfg.out.join("claims.b2");
    let file = std::fs::File::create(&path).map_err(io(&path))?;
    let header = BatchHeader {
        sender: 123456789,
        batch_no: (cfg.seed % 1_000_000) as u32,
        date: cfg.date,
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
                    let (c1, l1, t1) = g.claim(j, &mut buf);
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
    Ok(stats)
}
