//! Issue #7: mutated batches never panic, and every accepted batch reconciles.
//!
//! The mutations damage the claim records only; the batch framing is then rebuilt (trailer counts and
//! total recomputed with `write::tally`), so almost every case is an accepted batch whose invariants are
//! checked: the conservation identities of `summary.json`, and every act record of the input accounted
//! for exactly once — paid (`payments.tsv`), in a rejected claim, or reported outside any claim (`R002`).

use crate::common;
use common::*;
use liquidator_core::claims::record::{self, Kind};
use liquidator_core::claims::{BatchHeader, BatchTrailer};
use liquidator_core::date::Date;
use liquidator_core::engine::{self, Options, RunError};
use liquidator_testkit::write;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const BATCH_NO: u32 = 3;

/// The claim records of a valid batch (no batch header or trailer): 12 claims of 1–2 lines.
fn valid_body() -> Vec<u8> {
    let mut body = Vec::new();
    let bens: [&[u8; 13]; 3] = [ADULT, PF49, LOCAL];
    for i in 0..12u32 {
        let mut h = header(
            bens[i as usize % 3],
            19850512,
            [GP, CARDIO_S2, DENTIST][i as usize % 3],
        );
        h.claim_no = i + 1;
        let lines = match i % 3 {
            0 => vec![ngap("G", 100, 20260302, 3000)],
            1 => vec![ngap("CS", 100, 20260303, 4000)],
            _ => vec![
                ccam("QZFA036", 1, "", b'1', 20260104, 2880),
                ccam("QZJA002", 1, "F", b'2', 20260104, 3236),
            ],
        };
        write::claim_into(&mut body, &h, &lines);
    }
    body
}

/// Frames claim records as a batch: header, the records, a trailer announcing what they hold.
fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = write::batch_header(&BatchHeader {
        sender: 1,
        batch_no: BATCH_NO,
        date: Date(20260316),
        version: 100,
    });
    out.push(b'\n');
    out.extend_from_slice(body);
    if !body.is_empty() && !body.ends_with(b"\n") {
        out.push(b'\n');
    }
    let (claims, lines, total) = write::tally(body);
    out.extend(write::batch_trailer(&BatchTrailer {
        batch_no: BATCH_NO,
        claims,
        lines,
        total,
    }));
    out.push(b'\n');
    out
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Truncate(usize),
    InsertCr(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        any::<usize>().prop_map(Mutation::InsertCr),
    ]
}

/// Applies a mutation to the claim records (`\n`-terminated lines).
fn apply(data: &mut Vec<u8>, m: &Mutation) {
    let mut lines: Vec<Vec<u8>> = data
        .split_inclusive(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\n").unwrap_or(l).to_vec())
        .collect();
    let n = lines.len();
    match *m {
        Mutation::Flip(i, b) => {
            if !data.is_empty() {
                let k = i % data.len();
                data[k] = b;
            }
            return;
        }
        Mutation::Truncate(i) => {
            data.truncate(i % (data.len() + 1));
            return;
        }
        _ if n == 0 => return,
        Mutation::DeleteLine(i) => {
            lines.remove(i % n);
        }
        Mutation::DuplicateLine(i) => {
            let l = lines[i % n].clone();
            lines.insert(i % n, l);
        }
        Mutation::SwapLines(a, b) => lines.swap(a % n, b % n),
        Mutation::InsertCr(i) => lines[i % n].push(b'\r'),
    }
    data.clear();
    for l in lines {
        data.extend_from_slice(&l);
        data.push(b'\n');
    }
}

/// A record of the input as the engine reads it: 1-based line, byte offset, kind.
struct Rec {
    line: u64,
    offset: u64,
    kind: Kind,
}

fn records(data: &[u8]) -> Vec<Rec> {
    let mut v = Vec::new();
    let mut off = 0usize;
    for (i, raw) in data.split_inclusive(|&b| b == b'\n').enumerate() {
        let r = raw.strip_suffix(b"\n").unwrap_or(raw);
        let r = r.strip_suffix(b"\r").unwrap_or(r);
        v.push(Rec {
            line: i as u64 + 1,
            offset: off as u64,
            kind: record::kind(r),
        });
        off += raw.len();
    }
    v
}

/// The claims of the input: for each, its span of input lines (header to end record, or to the last
/// record before the next header/trailer) and the input lines of its act records; plus the act and end
/// records outside any claim (orphans).
struct Layout {
    claims: Vec<(std::ops::RangeInclusive<u64>, Vec<u64>)>,
    orphans: Vec<u64>,
}

fn layout(recs: &[Rec]) -> Layout {
    let mut claims: Vec<(std::ops::RangeInclusive<u64>, Vec<u64>)> = Vec::new();
    let mut orphans = Vec::new();
    let mut open: Option<(u64, u64, Vec<u64>, bool)> = None; // start, last, acts, ended
    let close = |o: &mut Option<(u64, u64, Vec<u64>, bool)>, c: &mut Vec<_>| {
        if let Some((s, e, acts, _)) = o.take() {
            c.push((s..=e, acts));
        }
    };
    for r in recs {
        match r.kind {
            Kind::BatchHeader if r.line == 1 => {}
            Kind::ClaimHeader => {
                close(&mut open, &mut claims);
                open = Some((r.line, r.line, Vec::new(), false));
            }
            Kind::BatchTrailer => {
                close(&mut open, &mut claims);
                break;
            }
            Kind::Ngap | Kind::Ccam => match open.as_mut() {
                Some((_, last, acts, false)) => {
                    *last = r.line;
                    acts.push(r.line);
                }
                _ => orphans.push(r.line),
            },
            Kind::ClaimEnd => match open.as_mut() {
                Some((_, last, _, ended @ false)) => {
                    *last = r.line;
                    *ended = true;
                }
                _ => orphans.push(r.line),
            },
            _ => match open.as_mut() {
                Some((_, last, _, false)) => *last = r.line,
                _ => orphans.push(r.line),
            },
        }
    }
    close(&mut open, &mut claims);
    Layout { claims, orphans }
}

/// Checks an accepted run's outputs against its input.
fn check_accepted(input: &[u8], body: &[u8], out: &Path) -> Result<(), TestCaseError> {
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let n = |k: &str| {
        s[k].as_i64()
            .unwrap_or_else(|| panic!("summary.json: {k} missing"))
    };
    // conservation identities
    prop_assert_eq!(n("claims_read"), n("claims_paid") + n("claims_rejected"));
    prop_assert_eq!(n("lines_read"), n("lines_paid") + n("lines_rejected"));
    prop_assert_eq!(
        n("billed_cents"),
        n("paid_billed_cents") + n("rejected_billed_cents")
    );
    prop_assert_eq!(
        n("paid_billed_cents"),
        n("amo_paid_cents") + n("amc_cents") + n("patient_cents")
    );
    let by_code: i64 = s["rejections_by_code"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_i64().unwrap())
        .sum();
    prop_assert_eq!(by_code, n("claims_rejected"));
    for (k, v) in s["conservation"].as_object().unwrap() {
        prop_assert_eq!(v.as_bool(), Some(true), "conservation.{} is false", k);
    }
    // the trailer (recomputed from the records) reconciles with the summary
    let (t_claims, t_lines, t_total) = write::tally(body);
    prop_assert_eq!(t_claims as i64, n("claims_read"));
    prop_assert_eq!(t_total, n("billed_cents") + n("orphan_billed_cents"));

    // every act record accounted for exactly once
    let recs = records(input);
    let lay = layout(&recs);
    let pay = tsv_rows(&out.join("payments.tsv"));
    let rej = tsv_rows(&out.join("rejections.tsv"));
    prop_assert_eq!(pay.len() as i64, n("lines_paid"));
    let offset_of: BTreeMap<u64, u64> = recs.iter().map(|r| (r.line, r.offset)).collect();
    let mut paid: BTreeSet<u64> = BTreeSet::new();
    for p in &pay {
        let l: u64 = p["input_line"].parse().unwrap();
        prop_assert!(paid.insert(l), "input line {} paid twice", l);
        prop_assert_eq!(
            p["byte_offset"].parse::<u64>().ok(),
            offset_of.get(&l).copied()
        );
    }
    let mut rej_lines: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for r in &rej {
        prop_assert!(
            !r["code"].is_empty() && r["claim"].len() == 9,
            "rejection row without code or claim: {:?}",
            r
        );
        let l: u64 = r["input_line"]
            .parse()
            .map_err(|_| TestCaseError::fail(format!("rejection without input_line: {r:?}")))?;
        prop_assert_eq!(
            r["byte_offset"].parse::<u64>().ok(),
            offset_of.get(&l).copied(),
            "rejection byte offset: {:?}",
            r
        );
        rej_lines.entry(l).or_default().push(r["code"].clone());
    }
    let mut acts_seen = 0u64;
    for (span, acts) in &lay.claims {
        acts_seen += acts.len() as u64;
        let in_span: Vec<(&u64, &Vec<String>)> = rej_lines.range(span.clone()).collect();
        let any_paid = acts.iter().any(|l| paid.contains(l));
        if any_paid {
            // a paid claim: each act line paid, or rejected on its own (a row at its input line)
            for (l, codes) in &in_span {
                prop_assert!(
                    acts.contains(l),
                    "paid claim at input lines {:?} has a claim-level rejection {:?} at line {}",
                    span,
                    codes,
                    l
                );
            }
            for l in acts {
                let own = rej_lines.contains_key(l);
                prop_assert!(
                    paid.contains(l) != own,
                    "act at input line {} of a paid claim: paid {}, rejected {}",
                    l,
                    paid.contains(l),
                    own
                );
            }
        } else {
            // a rejected claim: exactly one claim-level rejection row within its records
            prop_assert_eq!(
                in_span.iter().map(|(_, c)| c.len()).sum::<usize>(),
                1,
                "claim at input lines {:?} (acts {:?}): rejection rows {:?}",
                span,
                acts,
                in_span
            );
        }
    }
    for l in &lay.orphans {
        prop_assert_eq!(
            rej_lines.get(l).map(|c| c.as_slice()),
            Some(&["R002".to_string()][..]),
            "record outside any claim at input line {}",
            l
        );
        prop_assert!(!paid.contains(l));
    }
    let orphan_acts = lay
        .orphans
        .iter()
        .filter(|l| matches!(recs[**l as usize - 1].kind, Kind::Ngap | Kind::Ccam))
        .count() as u64;
    prop_assert_eq!(acts_seen + orphan_acts, t_lines);
    Ok(())
}

#[test]
fn mutated_batches_never_panic_and_accepted_ones_reconcile() {
    const CASES: u32 = 200;
    let accepted = std::cell::Cell::new(0u32);
    let refused = std::cell::RefCell::new(Vec::<String>::new());
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let body = valid_body();
    let dir = tempfile::tempdir().unwrap();
    let strategy = proptest::collection::vec(mutation(), 1..4);
    let result = runner.run(&strategy, |ms| {
        let mut b = body.clone();
        for m in &ms {
            apply(&mut b, m);
        }
        let input = framed(&b);
        let claims = dir.path().join("claims.b2");
        std::fs::write(&claims, &input).unwrap();
        let out = dir.path().join("out");
        match engine::run(&claims, mini_refs(), &out, true, &Options::default()) {
            Ok(_) => {
                accepted.set(accepted.get() + 1);
                check_accepted(&input, &b, &out)
            }
            Err(RunError::Batch { .. }) => {
                refused.borrow_mut().push(format!("{ms:?}"));
                Ok(())
            }
            Err(e) => Err(TestCaseError::fail(format!("unexpected error {e}"))),
        }
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let total = accepted.get() + refused.borrow().len() as u32;
    assert!(
        accepted.get() * 10 >= total * 9,
        "only {} of {total} mutated batches accepted (the framing is rebuilt: nearly all should be); refused: {:?}",
        accepted.get(),
        refused.borrow()
    );
}

#[test]
fn the_unmutated_batch_is_accepted_and_reconciles() {
    let dir = tempfile::tempdir().unwrap();
    let body = valid_body();
    let input = framed(&body);
    let claims = dir.path().join("claims.b2");
    std::fs::write(&claims, &input).unwrap();
    let out = dir.path().join("out");
    engine::run(&claims, mini_refs(), &out, false, &Options::default()).expect("valid batch");
    check_accepted(&input, &body, &out).unwrap();
    let pay = tsv_rows(&out.join("payments.tsv"));
    assert!(!pay.is_empty(), "the valid batch pays nothing");
}
