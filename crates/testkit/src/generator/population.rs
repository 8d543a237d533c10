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
    Dermato,
    Gastro,
    Orl,
    Pneumo,
    Rhumato,
    Uro,
    Psy,
    Visceral,
    DentistOdf,
    Nurse,
    Physio,
    Speech,
    Orthoptist,
    Midwife,
}

impl Spec {
    pub const ALL: [Spec; 23] = [
        Spec::Gp,
        Spec::Cardio,
        Spec::Ortho,
        Spec::Anesth,
        Spec::Radio,
        Spec::Ophtalmo,
        Spec::Gyneco,
        Spec::Dentist,
        Spec::Pediatre,
        Spec::Dermato,
        Spec::Gastro,
        Spec::Orl,
        Spec::Pneumo,
        Spec::Rhumato,
        Spec::Uro,
        Spec::Psy,
        Spec::Visceral,
        Spec::DentistOdf,
        Spec::Nurse,
        Spec::Physio,
        Spec::Speech,
        Spec::Orthoptist,
        Spec::Midwife,
    ];
    /// Liberal practitioners of each specialty, in hundreds [I: order of magnitude of the DREES
    /// demography of health professions, 2022–2023: ~60 k liberal GPs, ~100 k nurses, ~75 k
    /// physiotherapists, ~37 k dentists, ~21 k speech therapists, ~8 k midwives, ~5 k orthoptists,
    /// specialists by specialty]. The population is split in contiguous index ranges in these
    /// proportions (every specialty gets at least one practitioner).
    pub const WEIGHTS: [u32; 23] = [
        600, 45, 30, 35, 65, 45, 45, 350, 28, 30, 20, 20, 15, 17, 12, 60, 20, 20, 1000, 750, 210,
        50, 80,
    ];
    /// SNDS `IR_SPE_V` code (`specialties.tsv`).
    pub fn code(self) -> u8 {
        match self {
            Spec::Gp => 1,
            Spec::Cardio => 3,
            Spec::Ortho => 41,
            Spec::Anesth => 2,
            Spec::Radio => 6,
            Spec::Ophtalmo => 15,
            Spec::Gyneco => 7,
            Spec::Dentist => 19,
            Spec::Pediatre => 12,
            Spec::Dermato => 5,
            Spec::Gastro => 8,
            Spec::Orl => 11,
            Spec::Pneumo => 13,
            Spec::Rhumato => 14,
            Spec::Uro => 16,
            Spec::Psy => 33,
            Spec::Visceral => 49,
            Spec::DentistOdf => 36,
            Spec::Nurse => 24,
            Spec::Physio => 26,
            Spec::Speech => 28,
            Spec::Orthoptist => 29,
            Spec::Midwife => 21,
        }
    }
    /// A physician specialist (sector 2 / OPTAM possible, excess fees).
    pub fn specialist(self) -> bool {
        !matches!(
            self,
            Spec::Gp
                | Spec::Pediatre
                | Spec::Dentist
                | Spec::DentistOdf
                | Spec::Nurse
                | Spec::Physio
                | Spec::Speech
                | Spec::Orthoptist
                | Spec::Midwife
        )
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Prac {
    pub number: u32,
    pub spec: Spec,
    pub sector: u8,
    pub optam: bool,
}

/// The contiguous index range `(first, count)` of each specialty in a population of `n` (in the order
/// of [`Spec::ALL`]): proportional to [`Spec::WEIGHTS`], at least one each, GPs take the remainder.
pub fn ranges(n: u64) -> [(u64, u64); 23] {
    let total: u64 = Spec::WEIGHTS.iter().map(|&w| w as u64).sum();
    let mut counts = [0u64; 23];
    for (k, &w) in Spec::WEIGHTS.iter().enumerate().skip(1) {
        counts[k] = (w as u64 * n / total).max(1);
    }
    let others: u64 = counts.iter().sum();
    counts[0] = n.saturating_sub(others).max(1);
    let mut out = [(0, 0); 23];
    let mut first = 0;
    for k in 0..23 {
        out[k] = (first, counts[k]);
        first += counts[k];
    }
    out
}

/// Practitioner `j` of a population of `n`: specialty by contiguous index ranges ([`ranges`]) so that
/// picking a practitioner of a given specialty is cheap.
pub fn prac(seed: u64, j: u64, n: u64) -> Prac {
    let mut r = Rng::derive(seed, STREAM_PRAC, j);
    let rg = ranges(n);
    let k = rg
        .iter()
        .position(|&(f, c)| j >= f && j < f + c)
        .unwrap_or(0);
    let spec = Spec::ALL[k];
    // Sectors: 56 % of specialists in sector 2 (HCAAM 2025), about half of them in OPTAM [I]; GPs and
    // paediatricians ~90 % sector 1 [I]; dentists, midwives and paramedical professions have no sector 2
    // (sector 1; dentists bill prosthetic excess under entente directe) [I].
    let (sector, optam) = if r.chance(30) {
        (0, false) // non conventionné: their claims are rejected (R041)
    } else if spec.specialist() {
        match r.weighted(&[44, 28, 28]) {
            0 => (1, false),
            1 => (3, true),
            _ => (3, false),
        }
    } else if matches!(spec, Spec::Gp | Spec::Pediatre) {
        if r.chance(9000) {
            (1, false)
        } else {
            (3, r.chance(5000))
        }
    } else {
        (1, false)
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
    let k = Spec::ALL.iter().position(|&s| s == spec).unwrap_or(0);
    ranges(n)[k]
}
