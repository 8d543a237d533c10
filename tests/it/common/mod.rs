//! Shared test helpers: the mini reference set of `fixtures/mini/refs/` and builders for claims.
#![allow(dead_code)]

use liquidator_core::claims::{ActLine, ClaimHeader, Pos};
use liquidator_core::date::Date;
use liquidator_core::refs::Refs;
use liquidator_core::rules::{self, BenefState, ClaimInput, Ctx, Outcome, Trace};
use std::path::{Path, PathBuf};

/// The mini reference set: `fixtures/mini/refs/` (real CCAM tariffs of a few acts, values of RULES.md).
pub fn mini_src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/mini/refs")
}

/// A copy of the mini reference set in a fresh temporary directory, deleted when dropped.
pub fn mini_refs_tempdir(tag: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(&format!("liquidator-test-{tag}-"))
        .tempdir()
        .expect("temporary directory");
    for e in std::fs::read_dir(mini_src()).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    dir
}

/// A fresh directory for a fixture that the tests of this process share through a `OnceLock`. A static is
/// never dropped, so a `TempDir` kept there would leave one directory in the system's temporary directory
/// per test run. This one lives under Cargo's `target/tmp` (`CARGO_TARGET_TMPDIR`), named `<tag>-<pid>`;
/// making it removes the directories of the same tag whose process is gone (Linux: `/proc/<pid>`), so runs
/// do not pile up, and two test processes running at once never share or remove each other's.
pub fn process_scratch(tag: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let prefix = format!("{tag}-");
    if Path::new("/proc/self").exists() {
        for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
                continue;
            };
            if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = root.join(format!("{prefix}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// The mini reference set, loaded once per test binary.
pub fn mini_refs() -> &'static Refs {
    static R: std::sync::OnceLock<Refs> = std::sync::OnceLock::new();
    R.get_or_init(|| Refs::load(&mini_src()).expect("mini refs load"))
}

pub fn nir_key(nir: &[u8; 13]) -> [u8; 2] {
    let k = liquidator_core::nir::nir_key(nir).unwrap();
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
    let mut l = liquidator_testkit::write::ngap_line(letter, coef, Date(date), fee);
    (l.claim_no, l.line_no) = (1, 1);
    l
}

pub fn ccam(code: &str, activity: u8, mods: &str, assoc: u8, date: u32, fee: i64) -> ActLine {
    let mut l = liquidator_testkit::write::ccam_line(
        code,
        activity,
        mods.as_bytes(),
        assoc,
        Date(date),
        fee,
    );
    (l.claim_no, l.line_no) = (1, 1);
    l
}

/// Liquidates one claim against `refs` with a fresh or given beneficiary state (batch date 2026-03-16).
pub fn liquidate_with(
    refs: &Refs,
    h: &ClaimHeader,
    lines: &[ActLine],
    st: &mut BenefState,
) -> Outcome {
    liquidate_by(refs, h, lines, st, None)
}

/// [`liquidate_with`] as the engine liquidates: on the state itself, `restore` putting it back
/// before each new try (`rules::liquidate_in_place`).
#[allow(dead_code)]
pub fn liquidate_in_place_with(
    refs: &Refs,
    h: &ClaimHeader,
    lines: &[ActLine],
    st: &mut BenefState,
    restore: &mut dyn FnMut(&mut BenefState),
) -> Outcome {
    liquidate_by(refs, h, lines, st, Some(restore))
}

fn liquidate_by(
    refs: &Refs,
    h: &ClaimHeader,
    lines: &[ActLine],
    st: &mut BenefState,
    restore: Option<&mut dyn FnMut(&mut BenefState)>,
) -> Outcome {
    let mut lines = lines.to_vec();
    for (i, l) in lines.iter_mut().enumerate() {
        l.line_no = i as u16 + 1;
        l.claim_no = h.claim_no;
    }
    let pos = vec![Pos::default(); lines.len()];
    let ctx = Ctx::new(refs, Date(20260316), None);
    let input = ClaimInput {
        header: h,
        lines: &lines,
        line_pos: &pos,
        pos: Pos::default(),
        benef_at: None,
        benef_key: None,
    };
    match restore {
        Some(restore) => rules::liquidate_in_place(&ctx, &input, st, restore, &mut Trace(None)),
        None => rules::liquidate(&ctx, &input, st, &mut Trace(None)),
    }
}

pub fn liquidate(refs: &Refs, h: &ClaimHeader, lines: &[ActLine]) -> Outcome {
    liquidate_with(refs, h, lines, &mut BenefState::default())
}

pub fn paid(o: Outcome) -> liquidator_core::rules::Paid {
    match o {
        Outcome::Paid(p) => p,
        Outcome::Rejected(r) => panic!("expected paid, got {} {}", r.code, r.detail),
    }
}

pub fn rejected(o: Outcome) -> liquidator_core::rules::Rejection {
    match o {
        Outcome::Rejected(r) => r,
        Outcome::Paid(p) => panic!("expected a rejection, got paid {:?}", p.lines),
    }
}

/// Writes one batch (number 44, dated 2026-03-16) of the given claims and runs the engine on the mini
/// set into a fresh temporary directory; returns the directory guard, the output directory and the
/// summary.
#[allow(dead_code)]
pub fn run_claims(
    claims: &[(ClaimHeader, Vec<ActLine>)],
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    liquidator_core::output::Summary,
) {
    use liquidator_core::claims::BatchHeader;
    use liquidator_core::engine::{self, Options};
    let dir = tempfile::tempdir().unwrap();
    let h = BatchHeader {
        sender: 1,
        batch_no: 44,
        date: Date(20260316),
        version: 100,
    };
    let mut w = liquidator_testkit::write::BatchWriter::new(Vec::new(), &h).unwrap();
    for (hd, lines) in claims {
        w.claim(hd, lines).unwrap();
    }
    let file = dir.path().join("claims.b2");
    std::fs::write(&file, w.finish().unwrap()).unwrap();
    let out = dir.path().join("out");
    let s = engine::run(&file, mini_refs(), &out, true, &Options::default()).unwrap();
    (dir, out, s)
}

/// A TSV output file as rows of (column name → cell), header first line.
pub fn tsv_rows(path: &std::path::Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let head: Vec<String> = lines
        .next()
        .unwrap()
        .split('\t')
        .map(String::from)
        .collect();
    lines
        .map(|l| {
            head.iter()
                .cloned()
                .zip(l.split('\t').map(String::from))
                .collect()
        })
        .collect()
}

/// Every file under `dir`, by its path relative to `dir`, with its bytes (output trees compared
/// byte for byte).
pub fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, d: &Path, m: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, m);
            } else {
                let k = p.strip_prefix(base).unwrap().to_string_lossy().to_string();
                m.insert(k, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut m = std::collections::BTreeMap::new();
    walk(dir, dir, &mut m);
    m
}

/// `ledger stats` of `ledger` (which resolves a pending night first): its JSON without the file's
/// size — opening the ledger writes a small transaction of its own, which may grow the file — and
/// its stderr.
pub fn ledger_stats(ledger: &Path) -> (serde_json::Value, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_liquidator"))
        .args(["ledger", "stats", "--ledger"])
        .arg(ledger)
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v.as_object_mut()
        .unwrap()
        .remove("file_bytes")
        .expect("ledger stats gives file_bytes");
    (v, String::from_utf8_lossy(&o.stderr).into_owned())
}

/// A copy of the ledger directory `from` at `to` (a night tried on a copy, the original kept).
pub fn copy_ledger(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}
