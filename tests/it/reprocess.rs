//! Issue #6 fixture scenario on the real CCAM files: a day liquidated under v78, then v81's tariffs
//! applied retroactively (v81 forced at v78's date 2025-02-01), reprocessed; the adjustments are checked
//! against tariffs read directly from the official CSV text (independent of the loader).

use liquidator_ccam::build::build;
use liquidator_core::claims::{Act, ActLine, BatchHeader, ClaimHeader};
use liquidator_core::date::Date;
use liquidator_core::engine::{self, Options};
use liquidator_core::money::{self, parse_euros};
use liquidator_core::refs::Refs;
use liquidator_testkit::generator::population::make_nir;
use liquidator_testkit::write::BatchWriter;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path that does not exist yet inside a fresh temporary directory (removed when the guard drops):
/// the commands under test create it themselves.
fn tmp(tag: &str) -> (tempfile::TempDir, PathBuf) {
    let guard = tempfile::Builder::new()
        .prefix(&format!("liquidator-reproc-{tag}-"))
        .tempdir()
        .unwrap();
    let path = guard.path().join(tag);
    (guard, path)
}

/// Reference sets A (v67 + v78) and B (v67 + v81 forced at 2025-02-01), parties of the sample.
fn sets() -> &'static (PathBuf, PathBuf, Refs, Refs) {
    static S: OnceLock<(PathBuf, PathBuf, Refs, Refs)> = OnceLock::new();
    S.get_or_init(|| {
        let c = root().join("fixtures/ccam");
        let parties = root().join("fixtures/sample/refs");
        // Kept for the whole test process: the sets are shared by every test (OnceLock).
        let scratch = crate::common::process_scratch("reprocess-refs");
        let (a, b) = (scratch.join("refsA"), scratch.join("refsB"));
        build(
            &[
                (c.join("ccam_v67_applicable_2021-04-26.csv"), None),
                (c.join("ccam_v78_applicable_2025-02-01.csv"), None),
            ],
            Some(&parties),
            None,
            &a,
        )
        .unwrap();
        build(
            &[
                (c.join("ccam_v67_applicable_2021-04-26.csv"), None),
                (
                    c.join("ccam_v81_applicable_2026-01-01.csv"),
                    Some(Date(20250201)),
                ),
            ],
            Some(&parties),
            None,
            &b,
        )
        .unwrap();
        let (ra, rb) = (Refs::load(&a).unwrap(), Refs::load(&b).unwrap());
        (a, b, ra, rb)
    })
}

/// Tariff of `code` activity 1 phase 0 on `grid` read from the official CSV text.
fn official(file: &str, code: &str, grid: usize) -> i64 {
    let text = std::fs::read_to_string(root().join("fixtures/ccam").join(file)).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{code},")))
        .unwrap();
    // A minimal quoted-CSV split of the act's row (labels may hold commas inside quotes).
    let mut cells = vec![String::new()];
    let mut quoted = false;
    for ch in line.chars() {
        match ch {
            '"' => quoted = !quoted,
            ',' if !quoted => cells.push(String::new()),
            c => cells.last_mut().unwrap().push(c),
        }
    }
    let v: f64 = cells[4 + grid].parse().unwrap(); // test-only parse of the published cell
    (v * 100.0).round() as i64
}

const ADULT_IDX: u64 = 90_000_001;

fn header(claim: u32, prac: u32) -> ClaimHeader {
    let (nir, key) = make_nir(ADULT_IDX, 1, Date(19800312));
    ClaimHeader {
        claim_no: claim,
        practitioner: prac,
        nir,
        nir_key: key,
        rank: 1,
        birth: Date(19800312),
        birth_rank: 1,
        nature: 10,
        exemption: b'0',
        pathway: b'T',
        tp_amo: true,
        tp_amc: false,
        amc: *b"0775671001",
        contract: *b"02",
        at_ref: [b' '; 9],
    }
}

fn act(code: &str, date: u32, fee: i64) -> ActLine {
    ActLine {
        claim_no: 0,
        line_no: 0,
        date: Date(date),
        act: Act::Ccam {
            code: code.as_bytes().try_into().unwrap(),
            extension: b' ',
            activity: 1,
            phase: 0,
            modifiers: *b"    ",
            assoc: b' ',
            rc: b' ',
        },
        quantity: 1,
        fee,
        qualifier: *b"DE",
        exemption: b' ',
    }
}

/// (code, practitioner, grid): OPHTA 900000007 sector 1, GP 900000001 sector 1, CARDIO 900000002 grid 2,
/// DENTIST 900000005 sector 1. BGQP002, QZJA002, DEQP003 rise in v81; EBQM001 falls; HBJD001 unchanged.
const ACTS: [(&str, u32, usize); 5] = [
    ("BGQP002", 900000007, 1),
    ("QZJA002", 900000001, 1),
    ("DEQP003", 900000001, 1),
    ("EBQM001", 900000002, 2),
    ("HBJD001", 900000005, 1),
];

fn claims_file(dir: &Path, batch: u32) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join("claims.b2");
    let f = std::fs::File::create(&p).unwrap();
    let mut w = BatchWriter::new(
        f,
        &BatchHeader {
            sender: 1,
            batch_no: batch,
            date: Date(20260316),
            version: 100,
        },
    )
    .unwrap();
    let mut n = 0;
    for month in 3..=12u32 {
        for (k, (code, prac, _)) in ACTS.into_iter().enumerate() {
            n += 1;
            // One act a day: acts of one practitioner on one day would be one session, where
            // association codes apply across claims (formats/rules-decisions.md §2).
            w.claim(
                &header(800_000_000 + n, prac),
                &[act(code, 20250000 + month * 100 + 10 + k as u32, 10000)],
            )
            .unwrap();
        }
    }
    w.finish().unwrap();
    p
}

#[test]
fn v81_correction_of_the_v78_period_gives_the_independently_computed_adjustments() {
    let (_, set_b, ra, rb) = sets();
    let (_d_dir, d) = tmp("scenario");
    let claims = claims_file(&d, 5);
    let prev = d.join("prev");
    engine::run(&claims, ra, &prev, false, &Options::default()).unwrap();
    let out = d.join("adj");
    let s = liquidator_core::reprocess::run(&claims, rb, &prev, &out, false).unwrap();
    // Independent expectation: per claim, AMO delta = 70 % of the new tariff − 70 % of the old.
    let mut expected_changed = 0;
    let mut expected_amo = 0;
    for (code, _, grid) in ACTS {
        let old = official("ccam_v78_applicable_2025-02-01.csv", code, grid);
        let new = official("ccam_v81_applicable_2026-01-01.csv", code, grid);
        if old != new {
            expected_changed += 10; // ten months of claims
            expected_amo += 10 * (money::pct(new, 7000) - money::pct(old, 7000));
        }
    }
    assert_eq!(s.claims_compared, 50);
    assert_eq!(s.claims_changed, expected_changed);
    assert_eq!(s.amo_delta_cents, expected_amo);
    assert_eq!((s.newly_paid, s.newly_rejected), (0, 0));
    // the adjustment file has one row per changed line, deltas summing to the summary
    let adj = std::fs::read_to_string(out.join("adjustments.tsv")).unwrap();
    let rows: Vec<Vec<&str>> = adj
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(rows.len() as u64, expected_changed);
    assert_eq!(
        rows.iter()
            .map(|r| parse_euros(r[12]).unwrap())
            .sum::<i64>(),
        expected_amo
    );
    assert!(rows.iter().all(|r| r[3] == "AMOUNT_CHANGED"));
    // complementary insurers whose share changed get an adjustment file
    assert!(out.join("amc/0775671001.tsv").exists());
    // refs diff --claims agrees
    let impact = liquidator_core::refdiff::claims_impact(ra, rb, &claims).unwrap();
    assert_eq!(
        (impact.claims_changed, impact.amo_delta_cents),
        (s.claims_changed, s.amo_delta_cents)
    );
    let report = liquidator_core::refdiff::diff(ra, rb);
    assert!(
        report
            .changes
            .iter()
            .any(|c| c.table == "ccam_tariffs" && c.key == "BGQP002-1-0" && c.from == "2025-02-01")
    );
    let _ = set_b;
}

#[test]
fn same_reference_set_gives_zero_adjustments_and_identical_bytes_twice() {
    let (_, _, ra, _) = sets();
    let (_d_dir, d) = tmp("same");
    let claims = claims_file(&d, 6);
    let prev = d.join("prev");
    engine::run(&claims, ra, &prev, false, &Options::default()).unwrap();
    let s = liquidator_core::reprocess::run(&claims, ra, &prev, &d.join("a1"), false).unwrap();
    assert_eq!(
        (s.claims_changed, s.amo_delta_cents, s.amc_delta_cents),
        (0, 0, 0)
    );
    liquidator_core::reprocess::run(&claims, ra, &prev, &d.join("a2"), false).unwrap();
    for f in [
        "adjustments.tsv",
        "summary.json",
        "liquidation/payments.tsv",
    ] {
        assert_eq!(
            std::fs::read(d.join("a1").join(f)).unwrap(),
            std::fs::read(d.join("a2").join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn edited_or_foreign_previous_outputs_are_refused() {
    let (_, _, ra, rb) = sets();
    let (_d_dir, d) = tmp("refuse");
    let claims = claims_file(&d, 7);
    let prev = d.join("prev");
    engine::run(&claims, ra, &prev, false, &Options::default()).unwrap();
    // edited: one AMO amount changed in payments.tsv
    let p = prev.join("payments.tsv");
    let text = std::fs::read_to_string(&p).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let amo = lines[0].split('\t').position(|c| c == "amo_paid").unwrap();
    let mut cells: Vec<String> = lines[1].split('\t').map(String::from).collect();
    cells[amo] = "999.99".into();
    lines[1] = cells.join("\t");
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    let e = liquidator_core::reprocess::run(&claims, rb, &prev, &d.join("x"), false)
        .err()
        .expect("refused");
    assert!(
        e.to_string().contains("does not match its own files"),
        "{e}"
    );
    assert!(!d.join("x").exists());
    // foreign: outputs of another batch
    let other = claims_file(&d.join("o"), 8);
    let prev2 = d.join("prev2");
    engine::run(&other, ra, &prev2, false, &Options::default()).unwrap();
    let e = liquidator_core::reprocess::run(&claims, rb, &prev2, &d.join("y"), false)
        .err()
        .expect("refused");
    assert!(e.to_string().contains("batch 8"), "{e}");
}

/// The same claim number and practitioner sent five times: twice with a wrong line count in its end
/// record, then three times well formed; plus one other claim. The first transmission takes the number
/// (R004 all the same), the second is R004 too (its framing error wins over the duplicate), the three
/// others are R030. Before the occurrence in `ClaimKey`, the two R004 and the three R030 collapsed into
/// one claim each when the previous outputs were read back, and `reprocess` refused its own build's
/// outputs ("does not match its own files") — on every generated day.
#[test]
fn a_claim_number_sent_several_times_is_compared_transmission_by_transmission() {
    use liquidator_core::claims::record::ClaimEnd;
    use liquidator_testkit::write::{act_line, claim_end, claim_header};
    let (_, _, ra, rb) = sets();
    let (_d_dir, d) = tmp("repeat");
    std::fs::create_dir_all(&d).unwrap();
    let claims = d.join("claims.b2");
    let mut w = BatchWriter::new(
        std::fs::File::create(&claims).unwrap(),
        &BatchHeader {
            sender: 1,
            batch_no: 9,
            date: Date(20260316),
            version: 100,
        },
    )
    .unwrap();
    let (n, prac) = (800_100_000, 900000001);
    let h = header(n, prac);
    let mut line = act("QZJA002", 20250310, 10000);
    line.claim_no = n;
    line.line_no = 1;
    for _ in 0..2 {
        let end = ClaimEnd {
            claim_no: n,
            count: 2, // one act line follows the header
            total: 10000,
        };
        w.raw_records(&[claim_header(&h), act_line(&line), claim_end(&end)])
            .unwrap();
    }
    for _ in 0..3 {
        w.claim(&h, &[act("QZJA002", 20250310, 10000)]).unwrap();
    }
    w.claim(&header(n + 1, prac), &[act("QZJA002", 20250311, 10000)])
        .unwrap();
    w.finish().unwrap();

    let prev = d.join("prev");
    let s = engine::run(&claims, ra, &prev, false, &Options::default()).unwrap();
    let rejected = std::fs::read_to_string(prev.join("rejections.tsv")).unwrap();
    let codes: Vec<&str> = rejected
        .lines()
        .skip(1)
        .map(|l| l.split('\t').nth(2).unwrap())
        .collect();
    assert_eq!(codes, ["R004", "R004", "R030", "R030", "R030"]);
    assert_eq!((s.claims_paid, s.claims_rejected), (1, 5));

    // Same reference set: every transmission is found again, nothing changed.
    let same = liquidator_core::reprocess::run(&claims, ra, &prev, &d.join("same"), false).unwrap();
    assert_eq!((same.claims_compared, same.claims_changed), (6, 0));

    // v81: QZJA002's tariff changes on the paid claim, the five rejections stay as they were.
    let old = official("ccam_v78_applicable_2025-02-01.csv", "QZJA002", 1);
    let new = official("ccam_v81_applicable_2026-01-01.csv", "QZJA002", 1);
    assert_ne!(old, new);
    let v81 = liquidator_core::reprocess::run(&claims, rb, &prev, &d.join("v81"), false).unwrap();
    assert_eq!((v81.claims_compared, v81.claims_changed), (6, 1));
    assert_eq!(
        v81.amo_delta_cents,
        money::pct(new, 7000) - money::pct(old, 7000)
    );
    assert_eq!((v81.newly_paid, v81.newly_rejected), (0, 0));
}
