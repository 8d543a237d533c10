//! The synthetic population: beneficiaries, practitioners and complementary insurers, each derived
//! from its index and the seed (no table in memory is needed to reference beneficiary `i` in a claim).
//!
//! Proportions and their sources (see `formats/generator.md`):
//! * ALD 18 % of the general scheme (REPSS 2021), C2S 13 % (CNAM end 2023), Alsace-Moselle local regime
//!   ~3 % (2.1 M of ~68 M, regime-local.fr 2020) — shared/data/README.md;
//! * age bands roughly the French pyramid (INSEE order of magnitude) [I];
//! * 56 % of specialists in sector 2 (HCAAM 2025), about half of them in OPTAM [I]; GPs mostly sector 1 [I].

use super::rng::Rng;
use liquidator_core::date::Date;
use liquidator_core::nir;

pub const STREAM_BENEF: u64 = 1;
pub const STREAM_PRAC: u64 = 2;

#[derive(Clone, Debug)]
pub struct Benef {
    pub nir: [u8; 13],
    pub key: [u8; 2],
    pub rank: u16,
    pub sex: u8,
    pub birth: Date,
    pub ald: bool,
    pub c2s: bool,
    pub local: bool,
    /// Index into [`AMCS`] and contract number (1–3), when covered.
    pub amc: Option<(usize, u8)>,
    /// Rights closed from this date (exclusive end), if any.
    pub closed: Option<Date>,
    pub pf_seed: Option<i64>,
}

/// Complementary insurers of the generated days (numbers are synthetic; names neutral).
pub const AMCS: [(&str, &str, u32); 8] = [
    ("0775671001", "Mutuelle Alpha", 8),
    ("0775671002", "Mutuelle Beta", 6),
    ("0912345003", "Prévoyance Gamma", 5),
    ("0912345004", "Assurance Delta", 4),
    ("0312345005", "Mutuelle Epsilon", 3),
    ("0312345006", "Institution Zeta", 3),
    ("0512345007", "Mutuelle Eta", 2),
    ("0512345008", "Assurance Theta", 1),
];

/// Excess cover (percent of the base) of contracts 01, 02, 03.
pub const CONTRACT_COVER: [u32; 3] = [0, 100, 200];

fn digits(out: &mut [u8], mut v: u64) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// A valid NIR unique for index `i` (< 97 000 000): department slot = i mod 97 (20 → 2A, 96 → 2B so that
/// Corsican NIRs occur), commune + order = i / 97.
pub fn make_nir(i: u64, sex: u8, birth: Date) -> ([u8; 13], [u8; 2]) {
    let mut n = [b'0'; 13];
    n[0] = b'0' + sex;
    digits(&mut n[1..3], (birth.year() % 100) as u64);
    digits(&mut n[3..5], birth.month() as u64);
    match i % 97 {
        20 => n[5..7].copy_from_slice(b"2A"),
        96 => n[5..7].copy_from_slice(b"2B"),
        d => digits(&mut n[5..7], d),
    }
    digits(&mut n[7..13], i / 97);
    let k = nir::nir_key(&n).unwrap_or(0);
    let mut key = [b'0'; 2];
    digits(&mut key, k as u64);
    (n, key)
}

pub fn benef(seed: u64, i: u64, batch: Date) -> Benef {
    let mut r = Rng::derive(seed, STREAM_BENEF, i);
    let sex = 1 + r.below(2) as u8;
    let age = match r.weighted(&[21, 25, 26, 17, 11]) {
        0 => r.below(18),
        1 => 18 + r.below(22),
        2 => 40 + r.below(20),
        3 => 60 + r.below(15),
        _ => 75 + r.below(25),
    } as u32;
    let y = batch.year().saturating_sub(age).max(1901);
    let birth =
        Date::from_ymd(y, 1 + r.below(12) as u32, 1 + r.below(28) as u32).unwrap_or(Date(19800101));
    let (nir, key) = make_nir(i, sex, birth);
    let ald = r.chance(1800);
    let c2s = r.chance(1300);
    let local = r.chance(300);
    let amc = if !c2s && r.chance(9000) {
        let w: Vec<u32> = AMCS.iter().map(|a| a.2).collect();
        Some((r.weighted(&w), 1 + r.below(3) as u8))
    } else {
        None
    };
    let closed = r
        .chance(100)
        .then(|| batch.add_days(-(30 + r.below(300) as i64)));
    let pf_seed = r.chance(500).then(|| 100 * (40 + r.below(11) as i64));
    Benef {
        nir,
        key,
        rank: 1,
        sex,
        birth,
        ald,
        c2s,
        local,
        amc,
        closed,
        pf_seed,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spec {
    Gp,
    Cardio,
    Ortho,
    Anesth,
    Radio,
    Ophtalmo,
    Gyneco,
    Dentist,
    Pediatre,
}

impl Spec {
    pub const ALL: [Spec; 9] = [
        Spec::Gp,
        Spec::Cardio,
        Spec::Ortho,
        Spec::Anesth,
        Spec::Radio,
        Spec::Ophtalmo,
        Spec::Gyneco,
        Spec::Dentist,
        Spec::Pediatre,
    ];
    /// Share of practitioners' claims (per 1000) [I: order of magnitude of DAMIR volumes by specialty].
    pub const WEIGHTS: [u32; 9] = [520, 50, 40, 20, 80, 60, 50, 150, 30];
    /// SNDS `IR_SPE_V` code.
    pub fn code(self) -> u8 {
        match self {
            Spec::Gp => 1,
            Spec::Cardio => 3,
            Spec::Ortho => 41,
            Spec::Anesth => 2,
            Spec::Radio => 6,
            Spec::Ophtalmo => 15,
            Spec::Gyneco => 7,
            Spec::Dentist => 36,
            Spec::Pediatre => 12,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Prac {
    pub number: u32,
    pub spec: Spec,
    pub sector: u8,
    pub optam: bool,
}

/// Practitioner `j` of a population of `n`: specialties in proportion to their claim volumes.
pub fn prac(seed: u64, j: u64, n: u64) -> Prac {
    let mut r = Rng::derive(seed, STREAM_PRAC, j);
    // Specialty by contiguous index ranges so that picking a practitioner of a given specialty is cheap.
    let total: u32 = Spec::WEIGHTS.iter().sum();
    let pos = (j * total as u64 / n.max(1)) as u32;
    let mut acc = 0;
    let mut spec = Spec::Gp;
    for (k, &w) in Spec::WEIGHTS.iter().enumerate() {
        acc += w;
        if pos < acc {
            spec = Spec::ALL[k];
            break;
        }
    }
    let (sector, optam) = if r.chance(30) {
        (0, false) // non conventionné: their claims are rejected (R041)
    } else {
        match spec {
            Spec::Gp | Spec::Dentist | Spec::Pediatre => {
                if r.chance(9000) {
                    (1, false)
                } else {
                    (3, r.chance(5000))
                }
            }
            _ => match r.weighted(&[44, 28, 28]) {
                0 => (1, false),
                1 => (3, true),
                _ => (3, false),
            },
        }
    };
    Prac {
        number: 100_000_000 + j as u32,
        spec,
        sector,
        optam,
    }
}

/// First index of the practitioners of a specialty, and how many there are.
pub fn prac_range(spec: Spec, n: u64) -> (u64, u64) {
    let total: u64 = Spec::WEIGHTS.iter().map(|&w| w as u64).sum();
    let mut acc = 0u64;
    for (k, &w) in Spec::WEIGHTS.iter().enumerate() {
        // index j has pos = j*total/n; first j with pos >= acc is ceil(acc*n/total)
        let first = (acc * n).div_ceil(total);
        acc += w as u64;
        let end = (acc * n).div_ceil(total);
        if Spec::ALL[k] == spec {
            return (first, end.saturating_sub(first).max(1));
        }
    }
    (0, n)
}
