//! Hand-written claims, one or more per rule and per rejection code, with recognisable numbers
//! (claim numbers 7000xxxxx, practitioners 9000000xx). They open the sample fixture; the golden test
//! `tests/it/sample.rs` pins the outcome of each one (`SCENARIOS` is the list it checks).

use super::population::{self, AMCS};
use super::{Gen, ccam, grid_of, ngap};
use crate::write::{self, BatchWriter};
use liquidator_core::claims::record::{Act, ActLine, ClaimHeader};
use liquidator_core::date::Date;
use liquidator_core::money::{self, Cents};
use std::fmt::Write as _;
use std::io::Write;

/// Practitioners of the scenarios: (number, specialty, sector, optam, valid_to).
pub const PRACS: [(u32, u8, u8, u8, &str); 10] = [
    (900_000_001, 1, 1, 0, ""),           // GP, sector 1
    (900_000_002, 3, 3, 0, ""),           // cardiologist, sector 2 non-OPTAM → grid 2
    (900_000_003, 41, 3, 1, ""),          // orthopaedic surgeon, sector 2 OPTAM → grid 1
    (900_000_004, 6, 1, 0, ""),           // radiologist, sector 1
    (900_000_005, 36, 1, 0, ""), // dentist (IR_SPE_V 36: this extract has no plain code 19)
    (900_000_006, 1, 0, 0, ""),  // GP not under convention
    (900_000_007, 15, 1, 0, ""), // ophthalmologist (direct access)
    (900_000_008, 2, 1, 0, ""),  // anaesthetist
    (900_000_009, 1, 1, 0, "2025-07-01"), // GP who stopped on 2025-06-30
    (900_000_010, 24, 1, 0, ""), // nurse (auxiliaire médical: 60 %, franchise médicale)
];

pub fn extra_practitioners(s: &mut String) {
    for (n, spec, sector, optam, to) in PRACS {
        // The ophthalmologist gives no bank details: his transfers are held (P001).
        let (iban, bic) = if n == 900_000_007 {
            (String::new(), "")
        } else {
            (super::synthetic_iban(10278, n as u64), super::BIC_PS)
        };
        let _ = writeln!(
            s,
            "{n:09}\t2015-01-01\t{to}\t{spec:02}\t{sector}\t{optam}\t{iban}\t{bic}"
        );
    }
}

/// Scenario beneficiaries: index in the population numbering far above any generated one.
#[derive(Clone, Copy)]
pub struct SBen {
    pub idx: u64,
    pub sex: u8,
    pub birth: u32,
    /// amc index into AMCS and contract, or none.
    pub amc: Option<(usize, u8)>,
    pub c2s: bool,
    pub local: bool,
    pub ald: bool,
    pub rights_to: &'static str,
    pub pf_used: Option<&'static str>,
    pub rank: u16,
}

const fn b(idx: u64, sex: u8, birth: u32) -> SBen {
    SBen {
        idx,
        sex,
        birth,
        amc: Some((0, 2)),
        c2s: false,
        local: false,
        ald: false,
        rights_to: "",
        pf_used: None,
        rank: 1,
    }
}

pub const B_ADULT: SBen = b(90_000_001, 1, 19_800_312);
pub const B_ALD: SBen = SBen {
    ald: true,
    ..b(90_000_002, 2, 19_550_704)
};
pub const B_CHILD: SBen = b(90_000_003, 1, 20_150_210);
pub const B_C2S: SBen = SBen {
    c2s: true,
    amc: None,
    ..b(90_000_004, 2, 19_900_101)
};
pub const B_LOCAL: SBen = SBen {
    local: true,
    ..b(90_000_005, 1, 19_700_615)
};
pub const B_MOTHER: SBen = b(90_000_006, 2, 19_950_820);
pub const B_CLOSED: SBen = SBen {
    rights_to: "2026-01-01",
    ..b(90_000_007, 1, 19_850_101)
};
pub const B_PF49: SBen = SBen {
    pf_used: Some("49.00"),
    ..b(90_000_008, 2, 19_600_101)
};
pub const B_CORSICA: SBen = b(90_000_015, 1, 19_750_505); // 90_000_015 mod 97 = 20 → department 2A
pub const B_NOAMC: SBen = SBen {
    amc: None,
    ..b(90_000_010, 1, 19_880_909)
};
pub const B_ALD_NOPERIOD: SBen = b(90_000_011, 2, 19_660_606);
pub const B_RANK2: SBen = SBen {
    rank: 2,
    ..b(90_000_001, 1, 19_800_312)
};
pub const B_CONTRACT3: SBen = SBen {
    amc: Some((1, 3)),
    ..b(90_000_012, 1, 19_770_707)
};

/// Beneficiaries of the scenarios added with the line-level and session rules (066 on): each family of
/// rules has its own, so that the participation and franchise counters of one do not reach another.
pub const B_LINES: SBen = b(90_000_020, 2, 19_820_404);
pub const B_SESSION: SBen = b(90_000_021, 1, 19_760_212);
pub const B_NGAP: SBen = b(90_000_022, 2, 19_840_918);
pub const B_NURSE: SBen = b(90_000_023, 1, 19_580_130);
pub const B_FR_DAY: SBen = b(90_000_024, 2, 19_490_611);
pub const B_FR_YEAR: SBen = b(90_000_025, 1, 19_520_827);
pub const B_SITUATIONS: SBen = b(90_000_026, 1, 19_690_303);
pub const B_FLAGS: SBen = b(90_000_027, 2, 19_730_808);
pub const B_DEBTS: SBen = b(90_000_028, 1, 19_700_101);

const BENS: [SBen; 22] = [
    B_ADULT,
    B_ALD,
    B_CHILD,
    B_C2S,
    B_LOCAL,
    B_MOTHER,
    B_CLOSED,
    B_PF49,
    B_CORSICA,
    B_NOAMC,
    B_ALD_NOPERIOD,
    B_RANK2,
    B_CONTRACT3,
    B_LINES,
    B_SESSION,
    B_NGAP,
    B_NURSE,
    B_FR_DAY,
    B_FR_YEAR,
    B_SITUATIONS,
    B_FLAGS,
    B_DEBTS,
];

fn nir(sb: &SBen) -> ([u8; 13], [u8; 2]) {
    // The rank-2 beneficiary shares the NIR of the adult (child on a parent's NIR): derive from the
    // adult's birth date, not its own.
    let birth = if sb.rank == 2 {
        Date(B_ADULT.birth)
    } else {
        Date(sb.birth)
    };
    population::make_nir(sb.idx, sb.sex, birth)
}

pub fn extra_beneficiaries(cfg: &super::GenConfig) -> (String, String) {
    let (mut s, mut a) = (String::new(), String::new());
    for sb in BENS {
        let (n, _) = nir(&sb);
        let n = String::from_utf8_lossy(&n).to_string();
        let (amc, contract) = match sb.amc {
            Some((k, c)) => (AMCS[k].0.to_string(), format!("{c:02}")),
            None => (String::new(), String::new()),
        };
        let (py, pu) = match sb.pf_used {
            Some(v) => (cfg.date.year().to_string(), v.to_string()),
            None => (String::new(), String::new()),
        };
        // Every scenario beneficiary has a valid account, except the one of the plain
        // paid-to-the-insured scenario (034), whose IBAN has wrong check digits: held (P002).
        let iban = super::synthetic_iban(20041, sb.idx * 1000 + sb.rank as u64);
        let iban = if sb.idx == B_CONTRACT3.idx {
            format!("FR00{}", &iban[4..])
        } else {
            iban
        };
        let _ = writeln!(
            s,
            "{n}\t{:03}\t{}\t2019-01-01\t{}\t01\t01C682674\t{}\t{}\t{amc}\t{contract}\t{py}\t{pu}\t{iban}\t{}",
            sb.rank,
            Date(sb.birth),
            sb.rights_to,
            sb.local as u8,
            sb.c2s as u8,
            super::BIC_INSURED
        );
        if sb.ald {
            let _ = writeln!(a, "{n}\t{:03}\t2020-01-01\t\t8", sb.rank);
        }
    }
    (s, a)
}

/// What each scenario claim must come to: `Ok(warning)` paid (with that warning code, or "" for none),
/// `Err(code)` rejected with that code. Pinned by `tests/it/sample.rs`.
pub type Expect = Result<&'static str, &'static str>;

struct W<'a, 'g, O: Write> {
    g: &'a Gen<'g>,
    w: &'a mut BatchWriter<O>,
    next: u32,
    list: Vec<(u32, &'static str, Expect)>,
}

impl<O: Write> W<'_, '_, O> {
    fn header(&mut self, sb: SBen, prac: u32) -> ClaimHeader {
        self.next += 1;
        let (nir, key) = nir(&sb);
        let mut h = ClaimHeader {
            claim_no: 700_000_000 + self.next,
            practitioner: prac,
            nir,
            nir_key: key,
            rank: sb.rank,
            birth: Date(sb.birth),
            birth_rank: 1,
            nature: 10,
            exemption: b'0',
            pathway: b'T',
            tp_amo: true,
            tp_amc: false,
            amc: [b' '; 10],
            contract: *b"  ",
            at_ref: [b' '; 9],
        };
        if let Some((k, c)) = sb.amc {
            h.amc.copy_from_slice(AMCS[k].0.as_bytes());
            h.contract = [b'0', b'0' + c];
        }
        h
    }

    fn claim(
        &mut self,
        what: &'static str,
        expect: Expect,
        h: &ClaimHeader,
        lines: &[ActLine],
    ) -> std::io::Result<()> {
        self.list.push((h.claim_no, what, expect));
        self.w.claim(h, lines)
    }

    fn raw(
        &mut self,
        what: &'static str,
        expect: Expect,
        claim_no: u32,
        recs: Vec<Vec<u8>>,
    ) -> std::io::Result<()> {
        self.list.push((claim_no, what, expect));
        self.w.raw_records(&recs)
    }

    fn g_fee(&self, d: Date) -> Cents {
        self.g.ngap("G", d, 1).unwrap_or(3000)
    }
    fn price(&self, code: &str, act: u8, d: Date, grid: u8) -> Cents {
        self.g.tariff(code, act, d, grid).unwrap_or(0)
    }
}

fn d(v: u32) -> Date {
    Date(v)
}

/// A CCAM line with its reimbursement-under-condition code filled in (the practitioner attests the
/// conditions of an `RC` act: paid without W121, formats/rules-decisions.md §7).
fn rc(mut l: ActLine) -> ActLine {
    if let Act::Ccam { rc, .. } = &mut l.act {
        *rc = b'1';
    }
    l
}

const GP: u32 = 900_000_001;
const CARDIO: u32 = 900_000_002;
const ORTHO: u32 = 900_000_003;
const RADIO: u32 = 900_000_004;
const DENTIST: u32 = 900_000_005;
const GP_NC: u32 = 900_000_006;
const OPHTA: u32 = 900_000_007;
const ANESTH: u32 = 900_000_008;
const GP_GONE: u32 = 900_000_009;
const NURSE: u32 = 900_000_010;

/// The usual date of care of the scenarios: a Monday, in the v81 period.
const DAY: Date = Date(20260302);
/// The Sunday before it (modifier F).
const SUNDAY: Date = Date(20260301);

type Res = std::io::Result<()>;

impl<O: Write> W<'_, '_, O> {
    /// Fee of a G consultation on `DAY`.
    fn gf(&self) -> Cents {
        self.g_fee(DAY)
    }
    /// Value of a CS consultation on grid `grid`.
    fn cs(&self, grid: u8, dd: Date) -> Cents {
        self.g.ngap("CS", dd, grid).unwrap_or(3000)
    }
    /// A one-G-consultation claim on `DAY` by `prac` for `sb`, with `edit` applied to the header.
    fn g_claim(
        &mut self,
        what: &'static str,
        expect: Expect,
        sb: SBen,
        prac: u32,
        edit: impl FnOnce(&mut ClaimHeader),
    ) -> Res {
        let mut h = self.header(sb, prac);
        edit(&mut h);
        let gf = self.gf();
        self.claim(what, expect, &h, &[ngap("G", 100, DAY, gf)])
    }
}

/// An end-of-claim record.
fn end(claim_no: u32, count: u16, total: Cents) -> Vec<u8> {
    write::claim_end(&liquidator_core::claims::record::ClaimEnd {
        claim_no,
        count,
        total,
    })
}

/// Writes the scenario claims; returns their list (claim number, description, expected outcome).
/// Claim numbers follow the call order: each function below adds the claims of one rule (or code).
pub fn write<O: Write>(
    g: &Gen,
    w: &mut BatchWriter<O>,
) -> std::io::Result<Vec<(u32, &'static str, Expect)>> {
    let mut s = W {
        g,
        w,
        next: 0,
        list: Vec::new(),
    };
    // ---- paid claims, one per rule ----
    consultation_grids(&mut s)?; // 001–002
    rates_by_situation(&mut s)?; // 003–008
    care_pathway(&mut s)?; // 009–010
    participation_caps(&mut s)?; // 011–012
    modifier_percentage(&mut s)?; // 013
    association_codes(&mut s)?; // 014–016
    heavy_act_forfait(&mut s)?; // 017
    anaesthesia(&mut s)?; // 018
    modifier_fixed_amount(&mut s)?; // 019
    excess_fees(&mut s)?; // 020–023
    complementary_insurer_mismatch(&mut s)?; // 024
    consultation_with_ecg(&mut s)?; // 025
    ccam_version_boundaries(&mut s)?; // 026–029
    participation_amount_by_date(&mut s)?; // 030–031
    time_limit_boundary(&mut s)?; // 032
    corsican_nir(&mut s)?; // 033
    third_party_payment_split(&mut s)?; // 034
    beneficiary_rank(&mut s)?; // 035
    ald_without_period(&mut s)?; // 036
    supplement_before_removal(&mut s)?; // 037
    // ---- rejections, one per code ----
    record_syntax_and_framing(&mut s)?; // 038–043: R001, R003, R004, R005, R006, R010
    date_of_care_limits(&mut s)?; // 044–045: R011, R012
    beneficiary_identity_and_rights(&mut s)?; // 046–049: R020–R023
    duplicate_transmission(&mut s)?; // 050 twice: paid, then R030
    practitioner_checks(&mut s)?; // 051–053: R040, R040, R041
    nature_of_insurance(&mut s)?; // 054–055: R052, R053
    nomenclature_validity(&mut s)?; // 056–060: R060, R060, R061, R062, R063
    modifier_controls(&mut s)?; // 061–062: R070, R071
    association_code_control(&mut s)?; // 063: R080
    consultation_plus_act(&mut s)?; // 064: R081 (line)
    incompatible_pair(&mut s, g)?; // 065: R090 (line)
    // ---- line-level rejections, sessions across claims, NGAP 2024, franchises, exemptions, flags ----
    partially_paid_claim(&mut s)?; // 066: G paid, unknown act R060 (line)
    incompatible_cheaper_line(&mut s, g)?; // 067: R090 on the cheaper line only
    session_association_across_claims(&mut s)?; // 068–069: R080 on the second claim's code 1
    session_consultation_across_claims(&mut s)?; // 070–071: R081 across claims
    ngap_majorations(&mut s)?; // 072–076: CS + MCS, MN, VG + MD + IK, TCG, R061 (line)
    paramedical_franchise(&mut s)?; // 077–079: AMI + IFI, W113, W112
    rates_by_profession_and_pathway(&mut s)?; // 080–081: dentist 60 %, GP out of pathway 30 %
    exempt_natures(&mut s)?; // 082–084: nature 13, nature 90, exemption 3
    c2s_and_local_regime(&mut s)?; // 085–087: C2S 0/0 flags, heavy-act forfait C2S / Alsace-Moselle
    ccam_ap_rc_flags(&mut s)?; // 088–089: W120, W121
    debts_and_recoveries(&mut s)?; // 090–094: third-party PF/franchise debts, recoveries, one left open
    orphan_record(&mut s)?; // 700000999: R002, not a claim
    Ok(s.list)
}

/// Consultation grids: a G in sector 1 (PF 2 €), a CS on grid 2 with an excess covered by contract 02.
fn consultation_grids<O: Write>(s: &mut W<O>) -> Res {
    s.g_claim(
        "G consultation, sector 1, third-party payment, PF 2 €",
        Ok(""),
        B_ADULT,
        GP,
        |_| {},
    )?;
    let h = s.header(B_ADULT, CARDIO);
    let cs2 = s.cs(2, DAY);
    s.claim(
        "CS by a sector-2 non-OPTAM cardiologist: grid 2, excess covered by contract 02",
        Ok(""),
        &h,
        &[ngap("CS", 100, DAY, cs2 + 2000)],
    )
}

/// AMO rate and PF by the beneficiary's situation: ALD, child, C2S, local regime, maternity, work accident.
fn rates_by_situation<O: Write>(s: &mut W<O>) -> Res {
    s.g_claim(
        "ALD exemption with an ALD period: 100 %",
        Ok(""),
        B_ALD,
        GP,
        |h| h.exemption = b'4',
    )?;
    s.g_claim(
        "child under 18 on 1 January: no PF",
        Ok(""),
        B_CHILD,
        GP,
        |_| {},
    )?;
    s.g_claim(
        "C2S: complementary part paid by C2S, no PF",
        Ok(""),
        B_C2S,
        GP,
        |_| {},
    )?;
    s.g_claim(
        "Alsace-Moselle local regime: 90 %",
        Ok(""),
        B_LOCAL,
        GP,
        |_| {},
    )?;
    s.g_claim(
        "maternity (nature 30): 100 %, no PF",
        Ok(""),
        B_MOTHER,
        GP,
        |h| h.nature = 30,
    )?;
    s.g_claim(
        "work accident (nature 41) with accident date: 100 %",
        Ok(""),
        B_ADULT,
        GP,
        |h| {
            h.nature = 41;
            h.at_ref[..8].copy_from_slice(b"20260225");
        },
    )
}

/// Care pathway: out of the pathway at a cardiologist (30 %), direct access at an ophthalmologist.
fn care_pathway<O: Write>(s: &mut W<O>) -> Res {
    let mut h = s.header(B_ADULT, CARDIO);
    h.pathway = b'H';
    let cs2 = s.cs(2, DAY);
    s.claim(
        "out of the care pathway at a cardiologist: 30 %, AMC covers the ordinary ticket only",
        Ok(""),
        &h,
        &[ngap("CS", 100, DAY, cs2)],
    )?;
    let mut h = s.header(B_ADULT, OPHTA);
    h.pathway = b'H';
    let cs1 = s.cs(1, DAY);
    s.claim(
        "ophthalmologist is direct access: no pathway penalty",
        Ok(""),
        &h,
        &[ngap("CS", 100, DAY, cs1)],
    )
}

/// Participation forfaitaire caps: the yearly cap (W110) and the daily cap per practitioner (W111).
fn participation_caps<O: Write>(s: &mut W<O>) -> Res {
    s.g_claim(
        "PF yearly cap: 49 € already charged, 1 € left",
        Ok("W110"),
        B_PF49,
        GP,
        |_| {},
    )?;
    let h = s.header(B_NOAMC, GP);
    let gf = s.gf();
    let five: Vec<ActLine> = (0..5).map(|_| ngap("G", 100, DAY, gf)).collect();
    s.claim(
        "five consultations the same day with the same GP: 5th PF waived",
        Ok("W111"),
        &h,
        &five,
    )
}

/// A percentage modifier (Z, radiologist).
fn modifier_percentage<O: Write>(s: &mut W<O>) -> Res {
    let h = s.header(B_ADULT, RADIO);
    let pu = s.price("ZBQK002", 1, DAY, 1);
    let z = s.g.modifier_value(b'Z', 1, DAY, pu);
    s.claim(
        "chest X-ray by a radiologist with modifier Z (percentage)",
        Ok(""),
        &h,
        &[ccam("ZBQK002", 1, b"Z", b' ', DAY, pu + z)],
    )
}

/// Association codes: 1 + 2 (50 %), the traumatic-lesions derogation 1/3/2, act + listed supplement.
fn association_codes<O: Write>(s: &mut W<O>) -> Res {
    let h = s.header(B_ADULT, ORTHO);
    let (p1, p2) = (s.price("QAGA004", 1, DAY, 1), s.price("QZFA036", 1, DAY, 1));
    s.claim(
        "two acts: association codes 1 and 2 (50 %)",
        Ok(""),
        &h,
        &[
            ccam("QAGA004", 1, b"", b'1', DAY, p1),
            rc(ccam("QZFA036", 1, b"", b'2', DAY, money::pct(p2, 5000))),
        ],
    )?;
    let h = s.header(B_ADULT, ORTHO);
    let p3 = s.price("QZJA002", 1, DAY, 1);
    let day2 = d(20260303);
    s.claim(
        "three acts, multiple traumatic lesions: codes 1, 3, 2 (100/75/50 %)",
        Ok(""),
        &h,
        &[
            ccam("QAGA004", 1, b"", b'1', day2, p1),
            rc(ccam("QZFA036", 1, b"", b'3', day2, money::pct(p2, 7500))),
            ccam("QZJA002", 1, b"", b'2', day2, money::pct(p3, 5000)),
        ],
    )?;
    let h = s.header(B_ALD, DENTIST);
    let (e1, e2) = (s.price("HBGD036", 1, DAY, 1), s.price("YYYY614", 1, DAY, 1));
    s.claim(
        "tooth extraction + supplement YYYY614 (listed companion): both at full rate, code 1",
        Ok(""),
        &h,
        &[
            ccam("HBGD036", 1, b"", b'1', DAY, e1),
            ccam("YYYY614", 1, b"", b'1', DAY, e2),
        ],
    )
}

/// Heavy act (tariff ≥ 120 €): the 24 € forfait replaces the ticket.
fn heavy_act_forfait<O: Write>(s: &mut W<O>) -> Res {
    let h = s.header(B_NOAMC, ORTHO);
    let m = s.price("NFFC004", 1, DAY, 1);
    s.claim(
        "heavy act (≥ 120 €): ticket replaced by the 24 € forfait, paid by a patient without complementary insurer",
        Ok(""),
        &h,
        &[ccam("NFFC004", 1, b"", b' ', DAY, m)],
    )
}

/// Anaesthesia: activity 4 has its own tariff.
fn anaesthesia<O: Write>(s: &mut W<O>) -> Res {
    let h = s.header(B_ADULT, ANESTH);
    let a4 = s.price("NFFC004", 4, DAY, 1);
    s.claim(
        "anaesthesia (activity 4) of a meniscectomy",
        Ok(""),
        &h,
        &[ccam("NFFC004", 4, b"", b' ', DAY, a4)],
    )
}

/// A fixed-amount modifier (F, Sunday).
fn modifier_fixed_amount<O: Write>(s: &mut W<O>) -> Res {
    let h = s.header(B_ADULT, GP);
    let q = s.price("QZJA002", 1, SUNDAY, 1);
    let f = s.g.modifier_value(b'F', 1, SUNDAY, q);
    s.claim(
        "suture on a Sunday with modifier F (fixed amount)",
        Ok(""),
        &h,
        &[ccam("QZJA002", 1, b"F", b' ', SUNDAY, q + f)],
    )
}

/// Excess fees: sector 1 without qualifier (W101) or with DE, fee below the tariff (W102), C2S (W103).
fn excess_fees<O: Write>(s: &mut W<O>) -> Res {
    let gf = s.gf();
    let h = s.header(B_ADULT, GP);
    s.claim(
        "sector-1 excess without qualifier: warning",
        Ok("W101"),
        &h,
        &[ngap("G", 100, DAY, gf + 500)],
    )?;
    let h = s.header(B_ADULT, GP);
    let mut l = ngap("G", 100, DAY, gf + 500);
    l.qualifier = *b"DE";
    s.claim(
        "sector-1 excess with qualifier DE (exigence particulière): allowed",
        Ok(""),
        &h,
        &[l],
    )?;
    let h = s.header(B_ADULT, GP);
    s.claim(
        "fee below the tariff: base capped at the fee",
        Ok("W102"),
        &h,
        &[ngap("G", 100, DAY, gf - 500)],
    )?;
    let h = s.header(B_C2S, CARDIO);
    let cs2 = s.cs(2, DAY);
    s.claim(
        "C2S billed an excess: warning, excess not covered",
        Ok("W103"),
        &h,
        &[ngap("CS", 100, DAY, cs2 + 1000)],
    )
}

/// The claim names another complementary insurer than the beneficiaries table (W104).
fn complementary_insurer_mismatch<O: Write>(s: &mut W<O>) -> Res {
    s.g_claim(
        "claim names another complementary insurer than the table: warning",
        Ok("W104"),
        B_CORSICA,
        GP,
        |h| h.amc.copy_from_slice(AMCS[3].0.as_bytes()),
    )
}

/// Consultation + ECG: the documented exception to "no technical act with a consultation".
fn consultation_with_ecg<O: Write>(s: &mut W<O>) -> Res {
    let h = s.header(B_ADULT, CARDIO);
    let apc = s.g.ngap("APC", DAY, 2).unwrap_or(5500);
    let ecg = s.price("DEQP003", 1, DAY, 2);
    s.claim(
        "APC + ECG (DEQP003, documented exception to consultation + act)",
        Ok(""),
        &h,
        &[
            ngap("APC", 100, DAY, apc),
            ccam("DEQP003", 1, b"", b' ', DAY, ecg),
        ],
    )
}

/// Dated tariffs: the same act on each side of two CCAM version boundaries.
fn ccam_version_boundaries<O: Write>(s: &mut W<O>) -> Res {
    for dd in [20250131, 20250201, 20251231, 20260101] {
        let h = s.header(B_ADULT, OPHTA);
        let p = s.price("BGQP002", 1, d(dd), 1);
        s.claim(
            "BGQP002 across CCAM version boundaries (v67→v78 on 2025-02-01, v78→v81 on 2026-01-01)",
            Ok(""),
            &h,
            &[ccam("BGQP002", 1, b"", b' ', d(dd), p)],
        )?;
    }
    Ok(())
}

/// Dated parameters: the PF amount on each side of 2024-05-15.
fn participation_amount_by_date<O: Write>(s: &mut W<O>) -> Res {
    for dd in [20240514, 20240515] {
        let h = s.header(B_NOAMC, GP);
        let v = s.g_fee(d(dd));
        s.claim(
            "participation forfaitaire 1 € until 2024-05-14, 2 € from 2024-05-15",
            Ok(""),
            &h,
            &[ngap("G", 100, d(dd), v)],
        )?;
    }
    Ok(())
}

/// Time limit: care exactly 27 months old is still accepted (R012 has the day after).
fn time_limit_boundary<O: Write>(s: &mut W<O>) -> Res {
    let h = s.header(B_NOAMC, GP);
    let v = s.g_fee(d(20231216));
    s.claim(
        "care exactly 27 months before the batch date: accepted",
        Ok(""),
        &h,
        &[ngap("G", 100, d(20231216), v)],
    )
}

/// NIR key with a Corsican department (2A → 19).
fn corsican_nir<O: Write>(s: &mut W<O>) -> Res {
    s.g_claim(
        "Corsican NIR (2A): key computed with 2A → 19",
        Ok(""),
        B_CORSICA,
        GP,
        |_| {},
    )
}

/// Payees: AMO paid to the insured, the complementary part to the practitioner (contract 03).
fn third_party_payment_split<O: Write>(s: &mut W<O>) -> Res {
    let mut h = s.header(B_CONTRACT3, CARDIO);
    h.tp_amo = false;
    h.tp_amc = true;
    let cs2 = s.cs(2, DAY);
    s.claim(
        "insured paid by AMO, complementary part paid to the practitioner, contract 03",
        Ok(""),
        &h,
        &[ngap("CS", 100, DAY, cs2 + 3000)],
    )
}

/// Beneficiary key: rank 002 on a parent's NIR.
fn beneficiary_rank<O: Write>(s: &mut W<O>) -> Res {
    s.g_claim(
        "second beneficiary (rank 002) on a parent's NIR",
        Ok(""),
        B_RANK2,
        GP,
        |_| {},
    )
}

/// ALD exemption claimed without an ALD period: the ordinary rate.
fn ald_without_period<O: Write>(s: &mut W<O>) -> Res {
    s.g_claim(
        "ALD exemption claimed without an ALD period: ordinary rate",
        Ok(""),
        B_ALD_NOPERIOD,
        GP,
        |h| h.exemption = b'4',
    )
}

/// Act validity: a supplement removed in v81, billed the day before, with a CT scan (modifier Z).
fn supplement_before_removal<O: Write>(s: &mut W<O>) -> Res {
    let h = s.header(B_ADULT, RADIO);
    let y6 = s.price("YYYY600", 1, d(20251231), 1);
    let ct = s.price("ZCQK004", 1, d(20251231), 1);
    let zz = s.g.modifier_value(b'Z', 1, d(20251231), ct);
    s.claim(
        "YYYY600 still valid on 2025-12-31 (removed in v81), as a supplement at full rate",
        Ok(""),
        &h,
        &[
            ccam("ZCQK004", 1, b"Z", b'1', d(20251231), ct + zz),
            ccam("YYYY600", 1, b"", b'1', d(20251231), y6),
        ],
    )
}

/// Record syntax and claim framing: R001, R003, R004, R005, R006, R010.
fn record_syntax_and_framing<O: Write>(s: &mut W<O>) -> Res {
    let gf = s.gf();
    let h = s.header(B_ADULT, GP);
    let mut l = ngap("G", 100, DAY, gf);
    l.claim_no = h.claim_no;
    l.line_no = 1;
    let mut rec = write::act_line(&l);
    rec[34] = b'X'; // a letter in the coefficient
    let recs = vec![write::claim_header(&h), rec, end(h.claim_no, 1, gf)];
    s.raw(
        "non-digit in a numeric field",
        Err("R001"),
        h.claim_no,
        recs,
    )?;
    let h = s.header(B_ADULT, GP);
    let mut l2 = ngap("G", 100, DAY, gf);
    l2.claim_no = h.claim_no + 50;
    let recs = write::one_line_claim(&h, &l2, 1, gf, |_| {});
    s.raw(
        "act line whose claim number differs from its header",
        Err("R003"),
        h.claim_no,
        recs,
    )?;
    let h = s.header(B_ADULT, GP);
    let recs = write::one_line_claim(&h, &ngap("G", 100, DAY, gf), 2, gf, |_| {});
    s.raw(
        "end record announces 2 lines, 1 read",
        Err("R004"),
        h.claim_no,
        recs,
    )?;
    let h = s.header(B_ADULT, GP);
    let recs = write::one_line_claim(&h, &ngap("G", 100, DAY, gf), 1, gf + 1, |_| {});
    s.raw(
        "end record total differs from the line",
        Err("R005"),
        h.claim_no,
        recs,
    )?;
    let h = s.header(B_ADULT, GP);
    s.raw(
        "claim without act line",
        Err("R006"),
        h.claim_no,
        vec![write::claim_header(&h), end(h.claim_no, 0, 0)],
    )?;
    let h = s.header(B_ADULT, GP);
    let mut l = ngap("G", 100, DAY, gf);
    l.claim_no = h.claim_no;
    l.line_no = 1;
    let mut rec = write::act_line(&l);
    rec[14..22].copy_from_slice(b"20250230");
    s.raw(
        "impossible date of care 2025-02-30",
        Err("R010"),
        h.claim_no,
        vec![write::claim_header(&h), rec, end(h.claim_no, 1, gf)],
    )
}

/// Date of care after the batch date (R011) or older than 27 months (R012).
fn date_of_care_limits<O: Write>(s: &mut W<O>) -> Res {
    let gf = s.gf();
    let h = s.header(B_ADULT, GP);
    s.claim(
        "care after the batch date",
        Err("R011"),
        &h,
        &[ngap("G", 100, d(20260320), gf)],
    )?;
    let h = s.header(B_ADULT, GP);
    s.claim(
        "care one day older than 27 months",
        Err("R012"),
        &h,
        &[ngap("G", 100, d(20231215), gf)],
    )
}

/// Beneficiary identity and rights: NIR key (R020), birth date (R021), unknown (R022), closed (R023).
fn beneficiary_identity_and_rights<O: Write>(s: &mut W<O>) -> Res {
    s.g_claim("NIR key wrong", Err("R020"), B_ADULT, GP, |h| {
        h.nir_key = if h.nir_key == *b"01" { *b"02" } else { *b"01" };
    })?;
    s.g_claim(
        "birth date differs from the table",
        Err("R021"),
        B_ADULT,
        GP,
        |h| h.birth = Date(19800313),
    )?;
    s.g_claim("beneficiary unknown", Err("R022"), B_ADULT, GP, |h| {
        let (n, k) = population::make_nir(95_000_000, 1, Date(19800312));
        h.nir = n;
        h.nir_key = k;
    })?;
    s.g_claim(
        "rights closed on 2025-12-31, care on 2026-03-02",
        Err("R023"),
        B_CLOSED,
        GP,
        |_| {},
    )
}

/// The same claim number sent twice by the same practitioner: the first is paid, the second R030.
fn duplicate_transmission<O: Write>(s: &mut W<O>) -> Res {
    let gf = s.gf();
    let h = s.header(B_ADULT, GP);
    s.claim(
        "original of a duplicated claim",
        Ok(""),
        &h,
        &[ngap("G", 100, d(20260303), gf)],
    )?;
    s.next -= 1;
    let h2 = s.header(B_ADULT, GP);
    s.list.push((
        h2.claim_no,
        "second transmission of the same claim number for the same practitioner",
        Err("R030"),
    ));
    s.w.claim(&h2, &[ngap("G", 100, d(20260303), gf)])
}

/// Practitioner checks: unknown or no longer active (R040), not under convention (R041).
fn practitioner_checks<O: Write>(s: &mut W<O>) -> Res {
    s.g_claim(
        "practitioner unknown",
        Err("R040"),
        B_ADULT,
        888_888_888,
        |_| {},
    )?;
    s.g_claim(
        "practitioner no longer in activity on the date of care",
        Err("R040"),
        B_ADULT,
        GP_GONE,
        |_| {},
    )?;
    s.g_claim(
        "practitioner not under convention",
        Err("R041"),
        B_ADULT,
        GP_NC,
        |_| {},
    )
}

/// Nature of insurance: work accident without its number (R052), unknown nature (R053).
fn nature_of_insurance<O: Write>(s: &mut W<O>) -> Res {
    s.g_claim(
        "work accident without accident number",
        Err("R052"),
        B_ADULT,
        GP,
        |h| h.nature = 41,
    )?;
    s.g_claim(
        "nature of insurance 20 does not exist",
        Err("R053"),
        B_ADULT,
        GP,
        |h| h.nature = 20,
    )
}

/// Nomenclature validity on the date of care: act (R060), NGAP letter (R061), activity (R062),
/// quantity (R063).
fn nomenclature_validity<O: Write>(s: &mut W<O>) -> Res {
    let gf = s.gf();
    let h = s.header(B_ADULT, RADIO);
    s.claim(
        "YYYY600 removed in v81: not valid on 2026-01-02",
        Err("R060"),
        &h,
        &[ccam("YYYY600", 1, b"", b' ', d(20260102), 75)],
    )?;
    let h = s.header(B_ADULT, ORTHO);
    s.claim(
        "AANB256 created in v81: not valid on 2025-12-31",
        Err("R060"),
        &h,
        &[ccam("AANB256", 1, b"", b' ', d(20251231), 95701)],
    )?;
    let h = s.header(B_ADULT, GP);
    s.claim(
        "NGAP letter unknown",
        Err("R061"),
        &h,
        &[ngap("XYZ", 100, DAY, gf)],
    )?;
    let h = s.header(B_ADULT, GP);
    s.claim(
        "DEQP003 has no activity 4",
        Err("R062"),
        &h,
        &[ccam("DEQP003", 4, b"", b' ', DAY, 1477)],
    )?;
    let h = s.header(B_ADULT, GP);
    let mut l = ngap("G", 100, DAY, gf);
    l.quantity = 0;
    s.claim("quantity 0", Err("R063"), &h, &[l])
}

/// Modifier controls: not allowed for the act (R070), exclusive modifier twice (R071).
fn modifier_controls<O: Write>(s: &mut W<O>) -> Res {
    let h = s.header(B_ADULT, GP);
    s.claim(
        "modifier Z not allowed on DEQP003",
        Err("R070"),
        &h,
        &[ccam("DEQP003", 1, b"Z", b' ', DAY, 1477)],
    )?;
    let h = s.header(B_ADULT, GP);
    let q = s.price("QZJA002", 1, SUNDAY, 1);
    s.claim(
        "exclusive modifier F billed twice the same day",
        Err("R071"),
        &h,
        &[
            ccam("QZJA002", 1, b"F", b'1', SUNDAY, q + 1906),
            ccam("QZFA036", 1, b"F", b'2', SUNDAY, 1440 + 1906),
        ],
    )
}

/// Association codes inconsistent: two acts both coded 1 (R080).
fn association_code_control<O: Write>(s: &mut W<O>) -> Res {
    let h = s.header(B_ADULT, ORTHO);
    let (p1, p2) = (s.price("QAGA004", 1, DAY, 1), s.price("QZFA036", 1, DAY, 1));
    s.claim(
        "two acts both coded 1",
        Err("R080"),
        &h,
        &[
            ccam("QAGA004", 1, b"", b'1', DAY, p1),
            ccam("QZFA036", 1, b"", b'1', DAY, p2),
        ],
    )
}

/// A consultation and a technical act the same day (R081).
fn consultation_plus_act<O: Write>(s: &mut W<O>) -> Res {
    let gf = s.gf();
    let h = s.header(B_ADULT, GP);
    let q = s.price("QZJA002", 1, SUNDAY, 1);
    s.claim(
        "consultation and a suture the same day: partially paid, the suture line rejected (R081, line 2), the G paid as the adult's 5th consultation with this GP that day (PF waived)",
        Ok("W111"),
        &h,
        &[
            ngap("G", 100, DAY, gf),
            ccam("QZJA002", 1, b"", b' ', DAY, q),
        ],
    )
}

/// Two acts of a pair listed in `incompatibilities.tsv` (R090).
fn incompatible_pair<O: Write>(s: &mut W<O>, g: &Gen) -> Res {
    let Some((c1, c2)) = first_incompatible_pair(g, DAY) else {
        return Ok(());
    };
    let h = s.header(B_ADULT, ORTHO);
    let (c1s, c2s) = (
        String::from_utf8_lossy(&c1).to_string(),
        String::from_utf8_lossy(&c2).to_string(),
    );
    let grid = grid_of(&population::Prac {
        number: ORTHO,
        spec: population::Spec::Ortho,
        sector: 3,
        optam: true,
    });
    let (t1, t2) = (s.price(&c1s, 1, DAY, grid), s.price(&c2s, 1, DAY, grid));
    s.claim(
        "incompatible pair from incompatibilities.tsv: partially paid, the lower-priced line 1 rejected (R090), line 2 paid as the session's third act (after 014)",
        Ok(""),
        &h,
        &[
            ccam(&c1s, 1, b"", b'1', DAY, t1),
            ccam(&c2s, 1, b"", b'2', DAY, money::pct(t2, 5000)),
        ],
    )
}

// ---- line-level rejections, sessions across claims, NGAP 2024, franchises, exemptions, flags ----

impl<O: Write> W<'_, '_, O> {
    /// Fee of NGAP `letter` × `coef` (hundredths) on `dd` for practitioner `prac` of specialty `spec`
    /// (the value of the practitioner's profession when the letter has one, e.g. IK).
    fn nf(&self, letter: &str, coef: u32, dd: Date, prac: u32, spec: population::Spec) -> Cents {
        let p = population::Prac {
            number: prac,
            spec,
            sector: 1,
            optam: false,
        };
        let v = self.g.ngap_value(letter, dd, &p).unwrap_or(0);
        money::mul_div_round(v, coef as i64, 100)
    }
}

/// A partially paid claim (formats/codes.md, "Scope"): a G consultation and an unknown CCAM code; the
/// code's line is rejected on its own (R060, scope LINE) and the consultation is paid.
fn partially_paid_claim<O: Write>(s: &mut W<O>) -> Res {
    let dd = d(20260304);
    let h = s.header(B_LINES, GP);
    let gf = s.g_fee(dd);
    s.claim(
        "partially paid: G paid, unknown CCAM code ZZZZ999 rejected on its own (R060, line 2)",
        Ok(""),
        &h,
        &[
            ngap("G", 100, dd, gf),
            ccam("ZZZZ999", 1, b"", b' ', dd, 4000),
        ],
    )
}

/// Incompatible pair billed correctly coded (dearer act code 1, the other code 2): R090 rejects the
/// lower-priced line only; the dearer act is then the session's only act, paid at 100 % (code 1).
fn incompatible_cheaper_line<O: Write>(s: &mut W<O>, g: &Gen) -> Res {
    let dd = d(20260304);
    let Some((c1, c2)) = first_incompatible_pair(g, dd) else {
        return Ok(());
    };
    let (c1s, c2s) = (
        String::from_utf8_lossy(&c1).to_string(),
        String::from_utf8_lossy(&c2).to_string(),
    );
    let (t1, t2) = (s.price(&c1s, 1, dd, 1), s.price(&c2s, 1, dd, 1));
    let ((hi, th), (lo, tl)) = if t1 >= t2 {
        ((c1s, t1), (c2s, t2))
    } else {
        ((c2s, t2), (c1s, t1))
    };
    let h = s.header(B_LINES, ORTHO);
    s.claim(
        "incompatible pair, dearer act coded 1: R090 rejects only the cheaper line (line 2), the other is paid at 100 %",
        Ok(""),
        &h,
        &[
            ccam(&hi, 1, b"", b'1', dd, th),
            ccam(&lo, 1, b"", b'2', dd, money::pct(tl, 5000)),
        ],
    )
}

/// One session sent as two claims (formats/rules-decisions.md §2): the second claim's act billed with
/// code 1 is rejected (R080, line), its act coded 2 is paid at 50 % as the session's second act.
fn session_association_across_claims<O: Write>(s: &mut W<O>) -> Res {
    let dd = d(20260305);
    let (p1, p2, p3) = (
        s.price("QAGA004", 1, dd, 1),
        s.price("QZJA002", 1, dd, 1),
        s.price("QZFA036", 1, dd, 1),
    );
    let h = s.header(B_SESSION, ORTHO);
    s.claim(
        "session split over two claims, first claim: QAGA004 code 1 paid",
        Ok(""),
        &h,
        &[ccam("QAGA004", 1, b"", b'1', dd, p1)],
    )?;
    let h = s.header(B_SESSION, ORTHO);
    s.claim(
        "session split over two claims, second claim: QZJA002 billed code 1 rejected (R080, line 1), QZFA036 code 2 paid at 50 %",
        Ok(""),
        &h,
        &[
            ccam("QZJA002", 1, b"", b'1', dd, p2),
            rc(ccam("QZFA036", 1, b"", b'2', dd, money::pct(p3, 5000))),
        ],
    )
}

/// Consultation in one claim, technical act in a later claim of the same session: the act is rejected
/// (R081, line); the ECG of the same claim (consultation-compatible) is paid.
fn session_consultation_across_claims<O: Write>(s: &mut W<O>) -> Res {
    let dd = d(20260306);
    let gf = s.g_fee(dd);
    let h = s.header(B_SESSION, GP);
    s.claim(
        "consultation + act split over two claims, first claim: G paid",
        Ok(""),
        &h,
        &[ngap("G", 100, dd, gf)],
    )?;
    let (q, ecg) = (s.price("QZJA002", 1, dd, 1), s.price("DEQP003", 1, dd, 1));
    let h = s.header(B_SESSION, GP);
    s.claim(
        "consultation + act split over two claims, second claim: suture rejected (R081 across claims, line 1), ECG paid",
        Ok(""),
        &h,
        &[
            ccam("QZJA002", 1, b"", b' ', dd, q),
            ccam("DEQP003", 1, b"", b' ', dd, ecg),
        ],
    )
}

/// NGAP 2024 (ngap_letters.tsv, formats/rules-decisions.md §4): CS 26.50 + MCS after 2024-12-22, a night
/// majoration, a home visit with MD + IK, a GP teleconsultation, a majoration without its base (R061).
fn ngap_majorations<O: Write>(s: &mut W<O>) -> Res {
    use population::Spec;
    let dd = d(20260305);
    let h = s.header(B_NGAP, OPHTA);
    let (cs, mcs) = (
        s.nf("CS", 100, dd, OPHTA, Spec::Ophtalmo),
        s.nf("MCS", 100, dd, OPHTA, Spec::Ophtalmo),
    );
    s.claim(
        "CS 26.50 + MCS 5.00 (own line) after 2024-12-22, sector 1 specialist",
        Ok(""),
        &h,
        &[ngap("CS", 100, dd, cs), ngap("MCS", 100, dd, mcs)],
    )?;
    let dd = d(20260306);
    let h = s.header(B_NGAP, GP);
    let (g, mn) = (
        s.nf("G", 100, dd, GP, Spec::Gp),
        s.nf("MN", 100, dd, GP, Spec::Gp),
    );
    s.claim(
        "G + night majoration MN 35.00 (own line, no PF)",
        Ok(""),
        &h,
        &[ngap("G", 100, dd, g), ngap("MN", 100, dd, mn)],
    )?;
    let dd = d(20260309);
    let h = s.header(B_NGAP, GP);
    let (vg, md, ik) = (
        s.nf("VG", 100, dd, GP, Spec::Gp),
        s.nf("MD", 100, dd, GP, Spec::Gp),
        s.nf("IK", 800, dd, GP, Spec::Gp),
    );
    s.claim(
        "home visit VG + MD + IK 8 km (physician's IK 0.61 €/km)",
        Ok(""),
        &h,
        &[
            ngap("VG", 100, dd, vg),
            ngap("MD", 100, dd, md),
            ngap("IK", 800, dd, ik),
        ],
    )?;
    let dd = d(20260310);
    let h = s.header(B_NGAP, GP);
    let tcg = s.nf("TCG", 100, dd, GP, Spec::Gp);
    s.claim(
        "GP teleconsultation TCG 25.00",
        Ok(""),
        &h,
        &[ngap("TCG", 100, dd, tcg)],
    )?;
    let dd = d(20260311);
    let h = s.header(B_NGAP, GP);
    let (q, mn) = (
        s.price("QZJA002", 1, dd, 1),
        s.nf("MN", 100, dd, GP, Spec::Gp),
    );
    s.claim(
        "majoration MN without an NGAP consultation or act of the date (a CCAM act is no base): R061 on line 2, suture paid",
        Ok(""),
        &h,
        &[
            ccam("QZJA002", 1, b"", b' ', dd, q),
            ngap("MN", 100, dd, mn),
        ],
    )
}

/// Franchise médicale on a nurse's acts (formats/rules-decisions.md §4): AMI + travel fee at 60 %, the
/// daily cap (W113), the yearly cap (W112, 50 € reached within the batch: the counter is not seeded).
fn paramedical_franchise<O: Write>(s: &mut W<O>) -> Res {
    use population::Spec;
    let dd = d(20260305);
    let (ami, ifi) = (
        s.nf("AMI", 100, dd, NURSE, Spec::Nurse),
        s.nf("IFI", 100, dd, NURSE, Spec::Nurse),
    );
    let h = s.header(B_NURSE, NURSE);
    s.claim(
        "nurse AMI 1 + travel fee IFI: 60 %, franchise médicale 1 € on the act",
        Ok(""),
        &h,
        &[ngap("AMI", 100, dd, ami), ngap("IFI", 100, dd, ifi)],
    )?;
    let h = s.header(B_FR_DAY, NURSE);
    let five: Vec<ActLine> = (0..5).map(|_| ngap("AMI", 100, dd, ami)).collect();
    s.claim(
        "five AMI the same day: franchise daily cap 4 € reached, the 5th waived",
        Ok("W113"),
        &h,
        &five,
    )?;
    // 13 days of 4 AMI (the daily cap) from 2026-01-05, the 13th with 3: 50 € reached on line 50.
    let h = s.header(B_FR_YEAR, NURSE);
    let mut lines = Vec::new();
    for k in 0..13u32 {
        let day = d(20260105 + k);
        let v = s.nf("AMI", 100, day, NURSE, Spec::Nurse);
        for _ in 0..if k < 12 { 4 } else { 3 } {
            lines.push(ngap("AMI", 100, day, v));
        }
    }
    s.claim(
        "51 AMI over 13 days: franchise yearly cap 50 € reached, the 51st waived",
        Ok("W112"),
        &h,
        &lines,
    )
}

/// AMO rate by profession and pathway (formats/rates.md): a dentist's consultation at 60 %, a GP
/// consulted out of the care pathway at 30 %.
fn rates_by_profession_and_pathway<O: Write>(s: &mut W<O>) -> Res {
    use population::Spec;
    let dd = d(20260304);
    let h = s.header(B_SITUATIONS, DENTIST);
    let c = s.nf("C", 100, dd, DENTIST, Spec::Dentist);
    s.claim(
        "dentist's consultation C: 60 % from 2023-10-15, no PF",
        Ok(""),
        &h,
        &[ngap("C", 100, dd, c)],
    )?;
    let mut h = s.header(B_SITUATIONS, GP);
    h.pathway = b'H';
    let gf = s.g_fee(dd);
    s.claim(
        "GP consulted out of the care pathway: 30 %, AMC covers the ordinary ticket only",
        Ok(""),
        &h,
        &[ngap("G", 100, dd, gf)],
    )
}

/// Natures 13 and 90 and exemption 3 (formats/rules-decisions.md §5): 100 %; no PF for 13 and 90.
fn exempt_natures<O: Write>(s: &mut W<O>) -> Res {
    for (dd, nature, exo, what) in [
        (
            20260305,
            13,
            b'0',
            "nature 13 (art. 115 war pension care): 100 %, no PF",
        ),
        (20260306, 90, b'0', "nature 90 (prevention): 100 %, no PF"),
        (
            20260309,
            10,
            b'3',
            "exemption 3 (nature de prestation): 100 %, PF charged",
        ),
    ] {
        let mut h = s.header(B_SITUATIONS, GP);
        h.nature = nature;
        h.exemption = exo;
        let gf = s.g_fee(d(dd));
        s.claim(what, Ok(""), &h, &[ngap("G", 100, d(dd), gf)])?;
    }
    Ok(())
}

/// C2S in full third-party payment whatever the flags; the heavy-act forfait paid by C2S, or by the
/// Alsace-Moselle local regime (formats/rules-decisions.md §5).
fn c2s_and_local_regime<O: Write>(s: &mut W<O>) -> Res {
    let dd = d(20260305);
    let mut h = s.header(B_C2S, GP);
    h.tp_amo = false;
    h.tp_amc = false;
    let gf = s.g_fee(dd);
    s.claim(
        "C2S with third-party flags 0/0: both parts paid to the practitioner",
        Ok(""),
        &h,
        &[ngap("G", 100, dd, gf)],
    )?;
    let m = s.price("NFFC004", 1, dd, 1);
    let h = s.header(B_C2S, ORTHO);
    s.claim(
        "C2S heavy act: the 24 € forfait paid by C2S, nothing left to the patient",
        Ok(""),
        &h,
        &[ccam("NFFC004", 1, b"", b' ', dd, m)],
    )?;
    let h = s.header(B_LOCAL, ORTHO);
    s.claim(
        "Alsace-Moselle heavy act: the local regime pays the forfait, AMO pays the base (PF charged)",
        Ok(""),
        &h,
        &[ccam("NFFC004", 1, b"", b' ', dd, m)],
    )
}

/// CCAM flags (formats/rules-decisions.md §7): an act under prior agreement (AP) paid with W120; an act
/// reimbursable under conditions (RC) billed without its condition code paid with W121.
fn ccam_ap_rc_flags<O: Write>(s: &mut W<O>) -> Res {
    let dd = d(20260310);
    let p = s.price("QZRP003", 1, dd, 1);
    let h = s.header(B_FLAGS, GP);
    s.claim(
        "QZRP003 (phototherapy session, AP): paid, prior agreement not verifiable",
        Ok("W120"),
        &h,
        &[ccam("QZRP003", 1, b"", b' ', dd, p)],
    )?;
    let p = s.price("QZFA036", 1, dd, 1);
    let h = s.header(B_FLAGS, ORTHO);
    s.claim(
        "QZFA036 (RC) billed without a condition code: paid with a warning",
        Ok("W121"),
        &h,
        &[ccam("QZFA036", 1, b"", b' ', dd, p)],
    )
}

/// Debts of the insured (issue #14, `rules::debt`): two third-party claims book a PF debt (2.00) and a
/// franchise debt (1.00); two claims paid to the insured recover them oldest first (0.89, then 1.11 +
/// 1.00); a last third-party PF debt stays open at the end of the night (`debts.tsv`).
fn debts_and_recoveries<O: Write>(s: &mut W<O>) -> Res {
    let h = s.header(B_DEBTS, GP);
    let gf = s.g_fee(d(20260309));
    s.claim(
        "third-party G: PF 2.00 not deducted, a debt of the insured",
        Ok(""),
        &h,
        &[ngap("G", 100, d(20260309), gf)],
    )?;
    let h = s.header(B_DEBTS, NURSE);
    let ami = s.g.ngap("AMI", d(20260309), 1).unwrap_or(315);
    s.claim(
        "third-party AMI: franchise 1.00 not deducted, a debt of the insured",
        Ok(""),
        &h,
        &[ngap("AMI", 100, d(20260309), ami)],
    )?;
    let mut h = s.header(B_DEBTS, NURSE);
    h.tp_amo = false;
    s.claim(
        "AMI paid to the insured: its 0.89 all recovered for the oldest debt (the PF)",
        Ok(""),
        &h,
        &[ngap("AMI", 100, d(20260310), ami)],
    )?;
    let mut h = s.header(B_DEBTS, GP);
    h.tp_amo = false;
    s.claim(
        "G paid to the insured: 19.00, of which 1.11 (PF) + 1.00 (franchise) recovered",
        Ok(""),
        &h,
        &[ngap("G", 100, d(20260311), gf)],
    )?;
    let h = s.header(B_DEBTS, GP);
    s.claim(
        "third-party G: a PF debt left open at the end of the night",
        Ok(""),
        &h,
        &[ngap("G", 100, d(20260312), gf)],
    )
}

/// An act record after an end record belongs to no claim (R002, reported, not a claim).
fn orphan_record<O: Write>(s: &mut W<O>) -> Res {
    let mut l = ngap("G", 100, DAY, s.gf());
    l.claim_no = 700_000_999;
    l.line_no = 1;
    s.w.raw_records(&[write::act_line(&l)])
}

/// The first pair of `incompatibilities.tsv` whose two acts both have an activity-1 tariff on `day`.
fn first_incompatible_pair(g: &Gen, day: Date) -> Option<([u8; 7], [u8; 7])> {
    let mut pairs: Vec<_> = g
        .refs
        .incompat
        .keys()
        .copied()
        .filter(|(a, b)| a < b)
        .collect();
    pairs.sort();
    pairs.into_iter().find(|(a, b)| {
        g.refs
            .incompat
            .get(&(*a, *b))
            .is_some_and(|h| h.at(day).is_some())
            && [a, b].iter().all(|c| {
                g.refs
                    .tariffs
                    .get(&(**c, 1, 0))
                    .and_then(|h| h.value_at(day))
                    .and_then(|t| t.g1)
                    .is_some()
            })
    })
}
