//! Shared test helpers: a small hand-written reference set (real CCAM tariffs of v78/v81 for a few acts,
//! values of RULES.md) and builders for claims.
#![allow(dead_code)]

use liquidator::claims::{Act, ActLine, ClaimHeader, Pos};
use liquidator::date::Date;
use liquidator::refs::Refs;
use liquidator::rules::{self, BenefState, ClaimInput, Ctx, Outcome, Trace};
use std::path::PathBuf;

pub const MINI_REFS: [(&str, &str); 14] = [
    ("ccam_acts.tsv", "code\tvalid_from\tvalid_to\tversion\texo_tm\trc\tap\tregroupement\tcomplement\tlabel
LAQK013\t2021-04-26\t\t67\t2\t\t\tADI\t0\tScanographie de la face
HBJD001\t2021-04-26\t\t67\t5-7\t\t\tAXI\t0\tDétartrage
QZJA002\t2021-04-26\t\t67\t1\t\t\tADC\t0\tSuture de plaie
QZFA036\t2021-04-26\t\t67\t1\t\t\tADC\t0\tExérèse de lésion
NFFC004\t2021-04-26\t\t67\t1\t\t\tADC\t0\tMéniscectomie
DEQP003\t2021-04-26\t\t67\t2\t\t\tATM\t0\tECG
BGQP002\t2021-04-26\t\t67\t2\t\t\tATM\t0\tFond d'oeil
YYYY614\t2021-04-26\t\t67\t1-7\t\t\tADC\t1\tSupplément AOD
YYYY600\t2021-04-26\t2026-01-01\t67\t2-7\t\t\tADI\t1\tSupplément archivage
AANB256\t2026-01-01\t\t81\t1\t\t\tADC\t0\tUltrasons focalisés
"),
    ("ccam_tariffs.tsv", "code\tactivity\tphase\tvalid_from\tvalid_to\tversion\ttariff_g1\ttariff_g2
LAQK013\t1\t0\t2021-04-26\t\t67\t25.27\t25.27
HBJD001\t1\t0\t2021-04-26\t\t67\t28.92\t28.92
QZJA002\t1\t0\t2021-04-26\t2025-02-01\t67\t25.52\t23.59
QZJA002\t1\t0\t2025-02-01\t2026-01-01\t78\t26.06\t23.89
QZJA002\t1\t0\t2026-01-01\t\t81\t26.60\t24.21
QZFA036\t1\t0\t2021-04-26\t\t67\t28.80\t28.80
NFFC004\t1\t0\t2026-01-01\t\t81\t199.53\t185.95
NFFC004\t4\t0\t2026-01-01\t\t81\t80.63\t80.63
DEQP003\t1\t0\t2026-01-01\t\t81\t14.77\t13.81
BGQP002\t1\t0\t2021-04-26\t2025-02-01\t67\t28.29\t28.29
BGQP002\t1\t0\t2025-02-01\t2026-01-01\t78\t28.68\t28.68
BGQP002\t1\t0\t2026-01-01\t\t81\t29.07\t29.07
YYYY614\t1\t0\t2021-04-26\t\t67\t20.00\t20.00
YYYY600\t1\t0\t2021-04-26\t2026-01-01\t67\t0.75\t0.75
AANB256\t1\t0\t2026-01-01\t\t81\t957.01\t957.01
"),
    ("ccam_modifiers_allowed.tsv", "code\tactivity\tvalid_from\tvalid_to\tversion\tmodifiers
LAQK013\t1\t2021-04-26\t\t67\tEFPSUYZ
QZJA002\t1\t2021-04-26\t\t67\tFMPRSU
QZFA036\t1\t2021-04-26\t\t67\tFPSU
DEQP003\t1\t2021-04-26\t\t67\tFPSU
NFFC004\t1\t2021-04-26\t\t67\tAJKT7345
"),
    ("ccam_companions.tsv", "code\tvalid_from\tvalid_to\tversion\tcompanions
"),
    ("modifiers.tsv", "modifier\tgrid\tvalid_from\tvalid_to\tkind\tvalue\texclusive\tconfidence\tsource
Z\t1\t2005-03-25\t\tpct\t21.8\t0\tC\ttest
Z\t2\t2005-03-25\t\tpct\t21.8\t0\tC\ttest
F\t1\t2005-03-25\t\tfixed\t19.06\t1\tS\ttest
F\t2\t2005-03-25\t\tfixed\t19.06\t1\tS\ttest
U\t1\t2005-03-25\t\tfixed\t25.15\t1\tS\ttest
U\t2\t2005-03-25\t\tfixed\t25.15\t1\tS\ttest
E\t1\t2005-03-25\t\tpct\t49\t0\tS\ttest
E\t2\t2005-03-25\t\tpct\t49\t0\tS\ttest
"),
    ("association_codes.tsv", "code\tvalid_from\tvalid_to\tcoef\tsource
1\t2005-03-25\t\t100\tt
2\t2005-03-25\t\t50\tt
3\t2005-03-25\t\t75\tt
4\t2005-03-25\t\t100\tt
5\t2005-03-25\t\t100\tt
"),
    ("incompatibilities.tsv", "code1\tcode2\tvalid_from\tvalid_to\tsource
QZJA002\tQZFA036\t2026-02-01\t\ttest pair
"),
    ("consultation_compatible.tsv", "code\tvalid_from\tvalid_to\tsource
DEQP003\t2005-03-25\t\tt
"),
    ("ngap_letters.tsv", "letter\tgrid\tvalid_from\tvalid_to\tvalue\tphysician\tconsultation\tconfidence\tsource
G\t*\t2023-11-01\t2024-12-22\t26.50\t1\t1\tI\tt
G\t*\t2024-12-22\t\t30.00\t1\t1\tI\tt
CS\t1\t2023-11-01\t\t30.00\t1\t1\tI\tt
CS\t2\t2023-11-01\t\t23.00\t1\t1\tI\tt
AMI\t*\t2023-01-01\t\t3.15\t0\t0\tI\tt
"),
    ("parameters.tsv", "name\tvalid_from\tvalid_to\tvalue
rate_default\t2019-01-01\t\t70
rate_exempt\t2019-01-01\t\t100
rate_local_regime\t2019-01-01\t\t90
rate_out_of_pathway\t2019-01-01\t\t30
pf_amount\t2019-01-01\t2024-05-15\t1
pf_amount\t2024-05-15\t\t2
pf_daily_max\t2019-01-01\t\t4
pf_yearly_cap\t2019-01-01\t\t50
pf_min_age\t2019-01-01\t\t18
heavy_forfait\t2019-01-01\t\t24
heavy_threshold\t2019-01-01\t\t120
heavy_coef_threshold\t2019-01-01\t\t60
time_limit_months\t2019-01-01\t\t27
pathway_min_age\t2019-01-01\t\t16
"),
    ("specialties.tsv", "specialty\tphysician\tdirect_access\tlabel
01\t1\t1\tMEDECINE GENERALE
03\t1\t0\tCARDIOLOGIE
15\t1\t1\tOPHTALMOLOGIE
19\t0\t0\tCHIRURGIE DENTAIRE
41\t1\t0\tCHIRURGIE ORTHOPEDIQUE
"),
    ("practitioners.tsv", "billing_no\tvalid_from\tvalid_to\tspecialty\tsector\toptam
100000001\t2015-01-01\t\t01\t1\t0
100000002\t2015-01-01\t\t03\t3\t0
100000003\t2015-01-01\t\t41\t3\t1
100000004\t2015-01-01\t\t01\t0\t0
100000005\t2015-01-01\t\t19\t1\t0
"),
    ("beneficiaries.tsv", "nir\trank\tbirth_date\tvalid_from\tvalid_to\tregime\tfund\tlocal_regime\tc2s\tamc\tcontract\tpf_year\tpf_used
1850578006084\t001\t1985-05-12\t2019-01-01\t\t01\t01C682674\t0\t0\t0123456789\t02\t\t
2850578006084\t001\t1985-05-12\t2019-01-01\t\t01\t01C682674\t1\t0\t0123456789\t01\t\t
1850578006085\t001\t2012-05-12\t2019-01-01\t\t01\t01C682674\t0\t1\t\t\t\t
1850578006086\t001\t1985-05-12\t2019-01-01\t\t01\t01C682674\t0\t0\t\t\t2026\t49.00
1850578006087\t001\t1985-05-12\t2019-01-01\t2026-01-01\t01\t01C682674\t0\t0\t\t\t\t
"),
    ("ald.tsv", "nir\trank\tvalid_from\tvalid_to\tald
2850578006084\t001\t2020-01-01\t\t8
"),
];

pub const AMC_TSV: &str = "amc\tcontract\tvalid_from\tvalid_to\texcess_cover\tname
0123456789\t01\t2015-01-01\t\t0\tMutuelle test
0123456789\t02\t2015-01-01\t\t100\tMutuelle test
";

/// Writes the mini reference set into a fresh directory and returns it.
pub fn mini_refs_dir(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir =
        std::env::temp_dir().join(format!("liquidator-test-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in MINI_REFS {
        std::fs::write(dir.join(name), text).unwrap();
    }
    std::fs::write(dir.join("amc.tsv"), AMC_TSV).unwrap();
    dir
}

/// The mini reference set, loaded once per test binary.
pub fn mini_refs() -> &'static Refs {
    static R: std::sync::OnceLock<Refs> = std::sync::OnceLock::new();
    R.get_or_init(|| {
        let dir = mini_refs_dir("load");
        let r = Refs::load(&dir).expect("mini refs load");
        let _ = std::fs::remove_dir_all(&dir);
        r
    })
}

pub fn nir_key(nir: &[u8; 13]) -> [u8; 2] {
    let k = liquidator::nir::nir_key(nir).unwrap();
    [b'0' + k / 10, b'0' + k % 10]
}

/// A claim header for the mini set's first beneficiary with the GP.
pub fn header(nir: &[u8; 13], birth: u32, practitioner: u32) -> ClaimHeader {
    ClaimHeader {
        claim_no: 1,
        practitioner,
        nir: *nir,
        nir_key: nir_key(nir),
        rank: 1,
        birth: Date(birth),
        birth_rank: 1,
        nature: 10,
        exemption: b'0',
        pathway: b'T',
        tp_amo: true,
        tp_amc: false,
        amc: [b' '; 10],
        contract: *b"  ",
        at_ref: [b' '; 9],
    }
}

pub const ADULT: &[u8; 13] = b"1850578006084";
pub const LOCAL: &[u8; 13] = b"2850578006084"; // local regime + ALD period, contract 01
pub const CHILD_C2S: &[u8; 13] = b"1850578006085";
pub const PF49: &[u8; 13] = b"1850578006086";
pub const CLOSED: &[u8; 13] = b"1850578006087";
pub const GP: u32 = 100000001;
pub const CARDIO_S2: u32 = 100000002;
pub const ORTHO_OPTAM: u32 = 100000003;
pub const GP_NC: u32 = 100000004;
pub const DENTIST: u32 = 100000005;

pub fn ngap(letter: &str, coef: u32, date: u32, fee: i64) -> ActLine {
    let mut l = [b' '; 4];
    l[..letter.len()].copy_from_slice(letter.as_bytes());
    ActLine {
        claim_no: 1,
        line_no: 1,
        date: Date(date),
        act: Act::Ngap { letter: l, coef },
        quantity: 1,
        fee,
        qualifier: *b"  ",
        exemption: b' ',
    }
}

pub fn ccam(code: &str, activity: u8, mods: &str, assoc: u8, date: u32, fee: i64) -> ActLine {
    let mut m = [b' '; 4];
    m[..mods.len()].copy_from_slice(mods.as_bytes());
    ActLine {
        claim_no: 1,
        line_no: 1,
        date: Date(date),
        act: Act::Ccam {
            code: code.as_bytes().try_into().unwrap(),
            extension: b' ',
            activity,
            phase: 0,
            modifiers: m,
            assoc,
            rc: b' ',
        },
        quantity: 1,
        fee,
        qualifier: *b"  ",
        exemption: b' ',
    }
}

/// Liquidates one claim against `refs` with a fresh or given beneficiary state (batch date 2026-03-16).
pub fn liquidate_with(
    refs: &Refs,
    h: &ClaimHeader,
    lines: &[ActLine],
    st: &mut BenefState,
) -> Outcome {
    let mut lines = lines.to_vec();
    for (i, l) in lines.iter_mut().enumerate() {
        l.line_no = i as u16 + 1;
        l.claim_no = h.claim_no;
    }
    let pos = vec![Pos::default(); lines.len()];
    let ctx = Ctx {
        refs,
        batch_date: Date(20260316),
    };
    let input = ClaimInput {
        header: h,
        lines: &lines,
        line_pos: &pos,
        pos: Pos::default(),
    };
    rules::liquidate(&ctx, &input, st, &mut Trace(None))
}

pub fn liquidate(refs: &Refs, h: &ClaimHeader, lines: &[ActLine]) -> Outcome {
    liquidate_with(refs, h, lines, &mut BenefState::default())
}

pub fn paid(o: Outcome) -> liquidator::rules::Paid {
    match o {
        Outcome::Paid(p) => p,
        Outcome::Rejected(r) => panic!("expected paid, got {} {}", r.code, r.detail),
    }
}

pub fn rejected(o: Outcome) -> liquidator::rules::Rejection {
    match o {
        Outcome::Rejected(r) => r,
        Outcome::Paid(p) => panic!("expected a rejection, got paid {:?}", p.lines),
    }
}
