//! Golden-file tests on `fixtures/sample`: the run reproduces `expected/` byte for byte with 1 and 4
//! threads; every scenario claim ends as `scenarios.tsv` says; every rejection and warning code of the
//! closed list is exercised; the generator reproduces the fixture. Regenerate after a deliberate change
//! with `scripts/regen-sample` (and review the diff).

use liquidator_core::codes::{Reject, Warn};
use liquidator_core::engine::{self, Options};
use liquidator_core::refs::Refs;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sample() -> PathBuf {
    root().join("fixtures/sample")
}

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("liquidator-sample-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, d: &Path, m: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, m);
            } else {
                m.insert(
                    p.strip_prefix(base).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut m = BTreeMap::new();
    walk(dir, dir, &mut m);
    m
}

fn run(threads: usize, out: &Path) -> liquidator_core::output::Summary {
    let refs = Refs::load(&sample().join("refs")).expect("sample refs load");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        engine::run(
            &sample().join("claims.b2"),
            &refs,
            out,
            true,
            &Options::default(),
        )
    })
    .expect("sample run")
}

fn assert_same_tree(got: &Path, want: &Path) {
    let (g, w) = (tree(got), tree(want));
    assert_eq!(
        g.keys().collect::<Vec<_>>(),
        w.keys().collect::<Vec<_>>(),
        "files differ"
    );
    for (k, v) in &w {
        if g[k] != *v {
            let (gs, ws) = (String::from_utf8_lossy(&g[k]), String::from_utf8_lossy(v));
            let line = gs.lines().zip(ws.lines()).position(|(a, b)| a != b);
            panic!(
                "{k} differs from expected (first differing line {:?}); regenerate with scripts/regen-sample if deliberate",
                line.map(|i| (i + 1, gs.lines().nth(i), ws.lines().nth(i)))
            );
        }
    }
}

#[test]
fn sample_run_reproduces_expected_with_1_and_4_threads() {
    for threads in [1, 4] {
        let out = tmp(&format!("t{threads}"));
        let s = run(threads, &out);
        assert!(
            s.conservation.claims
                && s.conservation.lines
                && s.conservation.billed
                && s.conservation.paid_split
        );
        assert_same_tree(&out, &sample().join("expected"));
        let _ = std::fs::remove_dir_all(&out);
    }
}

fn rows(path: &Path) -> Vec<BTreeMap<String, String>> {
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

#[test]
fn every_scenario_claim_ends_as_documented() {
    let exp = sample().join("expected");
    let pay = rows(&exp.join("payments.tsv"));
    let rej = rows(&exp.join("rejections.tsv"));
    let mut n = 0;
    for s in rows(&sample().join("scenarios.tsv")) {
        let claim = &s["claim"];
        let want = &s["expected"];
        let paid: Vec<_> = pay.iter().filter(|r| &r["claim"] == claim).collect();
        let rejected: Vec<_> = rej
            .iter()
            .filter(|r| &r["claim"] == claim && !r["code"].is_empty())
            .collect();
        if let Some(code) = want.strip_prefix("REJECTED ") {
            assert!(
                rejected.iter().any(|r| r["code"] == code),
                "{claim} ({}) expected {code}, got {rejected:?}",
                s["description"]
            );
            // every rejection carries a position
            assert!(
                rejected
                    .iter()
                    .all(|r| !r["input_line"].is_empty() && !r["byte_offset"].is_empty())
            );
        } else {
            let warn = want.strip_prefix("PAID").unwrap().trim();
            assert!(
                !paid.is_empty(),
                "{claim} ({}) expected paid, rejections: {rejected:?}",
                s["description"]
            );
            let got: BTreeSet<&str> = paid
                .iter()
                .flat_map(|r| r["warnings"].split(','))
                .filter(|w| !w.is_empty())
                .collect();
            let want: BTreeSet<&str> = warn.split(' ').filter(|w| !w.is_empty()).collect();
            assert_eq!(got, want, "{claim} ({}) warnings", s["description"]);
        }
        n += 1;
    }
    assert!(n >= 60, "only {n} scenarios");
}

#[test]
fn every_rejection_and_warning_code_is_exercised_by_the_sample() {
    let exp = sample().join("expected");
    let rej: BTreeSet<String> = rows(&exp.join("rejections.tsv"))
        .into_iter()
        .map(|r| r["code"].clone())
        .collect();
    for r in Reject::ALL {
        assert!(
            rej.contains(r.code()),
            "rejection code {} ({}) not exercised by fixtures/sample",
            r.code(),
            r.slug()
        );
    }
    let warn: BTreeSet<String> = rows(&exp.join("payments.tsv"))
        .into_iter()
        .flat_map(|r| {
            r["warnings"]
                .split(',')
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    for w in Warn::ALL {
        assert!(
            warn.contains(w.code()),
            "warning code {} not exercised",
            w.code()
        );
    }
}

#[test]
fn generator_reproduces_the_sample_fixture() {
    let out = tmp("gen");
    let cfg = liquidator_testkit::generator::GenConfig {
        claims: 240,
        beneficiaries: 400,
        seed: 7,
        date: liquidator_core::date::Date(20260316),
        out: out.clone(),
        scenarios: true,
        ccam_subset: true,
    };
    liquidator_testkit::generator::generate(&cfg).unwrap();
    let mut want = tree(&sample());
    want.retain(|k, _| !k.starts_with("expected"));
    assert_eq!(
        tree(&out),
        want,
        "fixtures/sample is out of date: run scripts/regen-sample"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn codes_document_lists_every_code() {
    let doc = std::fs::read_to_string(root().join("formats/codes.md")).unwrap();
    for c in Reject::ALL
        .iter()
        .map(|r| (r.code(), r.slug()))
        .chain(Warn::ALL.iter().map(|w| (w.code(), w.slug())))
    {
        assert!(
            doc.contains(&format!("`{}` | `{}`", c.0, c.1)),
            "{} missing from formats/codes.md",
            c.0
        );
    }
}
