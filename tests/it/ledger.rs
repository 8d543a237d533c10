//! Issue #14, the ledger: consecutive nights through `run --ledger` give what one run over the nights
//! concatenated gives; a claim re-sent on a later night is rejected with a reference to its batch;
//! the same batch twice is refused (exit 10); a run killed at any point of the commit protocol leaves
//! the ledger as of the previous night and no final outputs, and running the night again gives
//! byte-identical outputs.

use crate::common;
use liquidator_core::claims::record::{self, BatchHeader, BatchTrailer};
use liquidator_core::date::Date;
use liquidator_testkit::generator::{GenConfig, Night, generate_night};
use liquidator_testkit::write::BatchWriter;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const NIGHTS: u32 = 3;
const CLAIMS: u64 = 2_500;

fn liquidator() -> Command {
    Command::new(env!("CARGO_BIN_EXE_liquidator"))
}

fn run(claims: &Path, refs: &Path, out: &Path, ledger: Option<&Path>) -> Output {
    let mut c = liquidator();
    c.args(["run", "--quiet", "--threads", "2", "--claims"])
        .arg(claims)
        .arg("--refs")
        .arg(refs)
        .arg("--out")
        .arg(out);
    if let Some(l) = ledger {
        c.arg("--ledger").arg(l);
    }
    c.output().unwrap()
}

/// Three generated nights (few beneficiaries, so that they recur; 2 % re-sends), generated once per
/// test binary under the target's temporary directory.
fn nights(_: &Path) -> Vec<PathBuf> {
    static N: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();
    N.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ledger-nights");
        let _ = std::fs::remove_dir_all(&dir);
        generate_nights(&dir)
    })
    .clone()
}

fn generate_nights(dir: &Path) -> Vec<PathBuf> {
    (0..NIGHTS)
        .map(|k| {
            let out = dir.join(format!("n{k}"));
            let cfg = GenConfig {
                claims: CLAIMS,
                beneficiaries: 600,
                seed: 21,
                date: Date(20260316),
                out: out.clone(),
                scenarios: false,
                ccam_subset: false,
            };
            generate_night(
                &cfg,
                &Night {
                    index: k,
                    resend_per_10k: 200,
                },
            )
            .unwrap();
            out
        })
        .collect()
}

/// One batch holding the nights' claims in order, under the last night's header (its date: every
/// date of care of the nights is on or before it).
fn concatenate(nights: &[PathBuf], dest: &Path) {
    let files: Vec<Vec<u8>> = nights
        .iter()
        .map(|n| std::fs::read(n.join("claims.b2")).unwrap())
        .collect();
    let last = files.last().unwrap();
    let header = record::batch_header(last.split(|&b| b == b'\n').next().unwrap()).unwrap();
    let header = BatchHeader {
        batch_no: 999_999,
        ..header
    };
    let mut w = BatchWriter::new(std::fs::File::create(dest).unwrap(), &header).unwrap();
    for f in &files {
        let recs: Vec<&[u8]> = f.split(|&b| b == b'\n').filter(|r| !r.is_empty()).collect();
        let t: BatchTrailer = record::batch_trailer(recs[recs.len() - 1]).unwrap();
        let mut body = Vec::new();
        for r in &recs[1..recs.len() - 1] {
            body.extend_from_slice(r);
            body.push(b'\n');
        }
        w.counted(&body, t.claims, t.lines, t.total).unwrap();
    }
    w.finish().unwrap();
}

/// A TSV file's rows without the columns that depend on where a record sits in its file.
fn rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    common::tsv_rows(path)
        .into_iter()
        .map(|mut r| {
            r.remove("input_line");
            r.remove("byte_offset");
            r
        })
        .collect()
}

/// Rejections as one run would write them: a re-send found by the ledger (`R031`/`R032`, an earlier
/// batch) is what one run calls `R030` (earlier in the batch); the messages name different batches,
/// and those of `R011`/`R012` name the batch date.
fn as_one_run(mut r: BTreeMap<String, String>) -> BTreeMap<String, String> {
    // Read errors name input lines; R011/R012 name the batch date.
    let m = without_input_lines(&r["message"]);
    r.insert("message".into(), m);
    if matches!(r["code"].as_str(), "R011" | "R012") {
        r.insert("message".into(), String::new());
    }
    if matches!(r["code"].as_str(), "R031" | "R032") {
        r.insert("code".into(), "R030".into());
        r.insert("reason".into(), "DUPLICATE_CLAIM".into());
        r.insert("message".into(), String::new());
    } else if r["code"] == "R030" {
        r.insert("message".into(), String::new());
    }
    r
}

/// `… line 1442 column 15 …` → `… line _ column 15 …`: where a record sits in its file.
fn without_input_lines(m: &str) -> String {
    let mut out = String::new();
    let mut rest = m;
    while let Some(i) = rest.find("line ") {
        out.push_str(&rest[..i + 5]);
        rest = &rest[i + 5..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            out.push('_');
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

fn amc_rows(out: &Path) -> BTreeMap<String, Vec<BTreeMap<String, String>>> {
    let mut m = BTreeMap::new();
    if let Ok(d) = std::fs::read_dir(out.join("amc")) {
        for e in d {
            let p = e.unwrap().path();
            m.insert(
                p.file_name().unwrap().to_string_lossy().into_owned(),
                rows(&p),
            );
        }
    }
    m
}

/// Claims whose decision depends on the batch date: rejected for the time limit (`R012`) a different
/// number of times on each side — one run dates every claim with the last night; and a claim whose
/// care is past the limit is purged from the ledger, so its re-send is `R012` again where one run says
/// `R030` (formats/ledger.md, "Purge").
fn batch_date_dependent(
    a: &[BTreeMap<String, String>],
    b: &[BTreeMap<String, String>],
) -> std::collections::BTreeSet<(String, String)> {
    let r012 = |v: &[BTreeMap<String, String>]| -> BTreeMap<(String, String), usize> {
        let mut m = BTreeMap::new();
        for r in v.iter().filter(|r| r["code"] == "R012") {
            *m.entry((r["practitioner"].clone(), r["claim"].clone()))
                .or_default() += 1;
        }
        m
    };
    let (x, y) = (r012(a), r012(b));
    x.keys()
        .chain(y.keys())
        .filter(|k| x.get(*k) != y.get(*k))
        .cloned()
        .collect()
}

#[test]
fn three_nights_through_the_ledger_give_what_one_run_over_the_three_files_gives() {
    let tmp = tempfile::tempdir().unwrap();
    let ns = nights(tmp.path());
    let refs = ns[0].join("refs");
    let ledger = tmp.path().join("ledger");
    let (mut pay, mut rej, mut rec) = (Vec::new(), Vec::new(), Vec::new());
    let mut amc: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for (k, n) in ns.iter().enumerate() {
        let out = tmp.path().join(format!("out{k}"));
        let o = run(&n.join("claims.b2"), &refs, &out, Some(&ledger));
        assert!(o.status.success(), "night {k}: {o:?}");
        pay.extend(rows(&out.join("payments.tsv")));
        rej.extend(rows(&out.join("rejections.tsv")));
        rec.extend(rows(&out.join("recoveries.tsv")));
        for (f, r) in amc_rows(&out) {
            amc.entry(f).or_default().extend(r);
        }
    }
    let all = tmp.path().join("all.b2");
    concatenate(&ns, &all);
    let one = tmp.path().join("one");
    let o = run(&all, &refs, &one, None);
    assert!(o.status.success(), "{o:?}");
    let (pay1, rej1) = (
        rows(&one.join("payments.tsv")),
        rows(&one.join("rejections.tsv")),
    );

    let rej: Vec<_> = rej.into_iter().map(as_one_run).collect();
    let rej1: Vec<_> = rej1.into_iter().map(as_one_run).collect();
    let skip = batch_date_dependent(&rej, &rej1);
    let keep = |r: &BTreeMap<String, String>| {
        !skip.contains(&(r["practitioner"].clone(), r["claim"].clone()))
    };
    let keep_pay = |r: &BTreeMap<String, String>| {
        let prac = r["payee_kind"] == "PS";
        !(prac && skip.contains(&(r["payee_id"].clone(), r["claim"].clone())))
    };
    // The generated nights do hold re-sends, recurring beneficiaries and capped participations.
    let resent = rej.iter().filter(|r| r["code"] == "R030").count();
    assert!(resent > 50, "only {resent} re-sends across the nights");
    assert!(
        skip.len() < 5,
        "{} claims depend on the batch date",
        skip.len()
    );
    let a: Vec<_> = rej.iter().filter(|r| keep(r)).collect();
    let b: Vec<_> = rej1.iter().filter(|r| keep(r)).collect();
    assert_eq!(a.len(), b.len(), "rejection rows");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y);
    }
    let a: Vec<_> = pay.iter().filter(|r| keep_pay(r)).collect();
    let b: Vec<_> = pay1.iter().filter(|r| keep_pay(r)).collect();
    assert_eq!(a.len(), b.len(), "payment rows");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y);
    }
    // Counters that carry: some lines of later nights had their participation waived or capped.
    assert!(
        pay.iter()
            .skip(pay.len() / 3)
            .any(|r| r["warnings"].contains("W110") || r["warnings"].contains("W111")),
        "no capped participation on later nights"
    );
    let skipped: std::collections::BTreeSet<&String> = skip.iter().map(|k| &k.1).collect();
    let amc_kept = |m: BTreeMap<String, Vec<BTreeMap<String, String>>>| {
        m.into_iter()
            .map(|(f, v)| {
                (
                    f,
                    v.into_iter()
                        .filter(|r| !skipped.contains(&r["claim"]))
                        .collect(),
                )
            })
            .collect::<BTreeMap<_, Vec<_>>>()
    };
    assert_eq!(amc_kept(amc), amc_kept(amc_rows(&one)), "insurer files");
    eprintln!(
        "compared {} payment rows, {} rejection rows ({resent} re-sends), {} claims left aside (batch date)",
        pay.len(),
        rej.len(),
        skip.len()
    );
    // Debts booked on a night and recovered on a later one: the same recoveries, in the same order,
    // as one run (their creation date and age name the nights' batch dates).
    let no_dates = |mut r: BTreeMap<String, String>| {
        r.remove("debt_created");
        r.remove("debt_age_days");
        r
    };
    let later = rec.iter().filter(|r| r["debt_age_days"] != "0").count();
    assert!(
        later > 0,
        "no debt carried to a later night and recovered there"
    );
    let rec1: Vec<_> = rows(&one.join("recoveries.tsv"))
        .into_iter()
        .map(no_dates)
        .filter(|r| {
            keep_pay(&BTreeMap::from([
                ("payee_kind".to_string(), "PS".to_string()),
                ("payee_id".to_string(), r["practitioner"].clone()),
                ("claim".to_string(), r["claim"].clone()),
            ]))
        })
        .collect();
    let rec: Vec<_> = rec
        .into_iter()
        .map(no_dates)
        .filter(|r| {
            keep_pay(&BTreeMap::from([
                ("payee_kind".to_string(), "PS".to_string()),
                ("payee_id".to_string(), r["practitioner"].clone()),
                ("claim".to_string(), r["claim"].clone()),
            ]))
        })
        .collect();
    assert_eq!(rec, rec1, "recoveries");
    // What stays open: the ledger's debts after the three nights are one run's open debts.
    let stats = liquidator()
        .args(["ledger", "stats", "--ledger"])
        .arg(&ledger)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(one.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        cents(v["open_debts_amount"].as_str().unwrap()),
        summary["debts_open_cents"].as_i64().unwrap()
    );
    assert!(summary["debts_open_cents"].as_i64().unwrap() > 0);
}

#[test]
fn a_claim_resent_on_night_3_is_rejected_with_night_1s_batch_and_the_same_night_twice_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let ns = nights(tmp.path());
    let refs = ns[0].join("refs");
    let ledger = tmp.path().join("ledger");
    for (k, n) in ns.iter().take(2).enumerate() {
        let o = run(
            &n.join("claims.b2"),
            &refs,
            &tmp.path().join(format!("out{k}")),
            Some(&ledger),
        );
        assert!(o.status.success(), "{o:?}");
    }
    // Night 3 = night 1 sent again under a new batch number: every claim is a re-send.
    let n1 = std::fs::read(ns[0].join("claims.b2")).unwrap();
    let first_end = n1.iter().position(|&b| b == b'\n').unwrap();
    let mut h = record::batch_header(&n1[..first_end]).unwrap();
    h.batch_no += 77;
    h.date = h.date.add_days(2);
    let mut night3 = liquidator_testkit::write::batch_header(&h);
    night3.push(b'\n');
    let body = &n1[first_end + 1..];
    let last_start = body[..body.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    night3.extend_from_slice(&body[..last_start]);
    let mut t = record::batch_trailer(body[last_start..].strip_suffix(b"\n").unwrap()).unwrap();
    t.batch_no = h.batch_no;
    night3.extend_from_slice(&liquidator_testkit::write::batch_trailer(&t));
    night3.push(b'\n');
    let f3 = tmp.path().join("night3.b2");
    std::fs::write(&f3, &night3).unwrap();
    let out3 = tmp.path().join("out3");
    let o = run(&f3, &refs, &out3, Some(&ledger));
    assert!(o.status.success(), "{o:?}");
    let pay1 = rows(&tmp.path().join("out0/payments.tsv"));
    let rej3 = rows(&out3.join("rejections.tsv"));
    assert!(
        rows(&out3.join("payments.tsv")).is_empty(),
        "a claim of night 1 was paid again"
    );
    let paid_claims: std::collections::BTreeSet<_> =
        pay1.iter().map(|r| r["claim"].clone()).collect();
    let r031: Vec<_> = rej3.iter().filter(|r| r["code"] == "R031").collect();
    assert_eq!(
        r031.len(),
        paid_claims.len(),
        "one R031 per claim paid on night 1"
    );
    let batch1 = format!("batch {} of sender 123456789", h.batch_no - 77);
    assert!(
        r031.iter().all(|r| r["message"].contains(&batch1)),
        "{:?}",
        r031[0]
    );
    // Everything else of night 3 was rejected at read on night 1 too (never recorded: no number).
    let rej1 = rows(&tmp.path().join("out0/rejections.tsv"));
    for r in rej3
        .iter()
        .filter(|r| !matches!(r["code"].as_str(), "R031" | "R032"))
    {
        assert!(
            rej1.iter()
                .any(|x| x["claim"] == r["claim"] && x["code"] == r["code"]),
            "{r:?}"
        );
    }
    assert!(rej3.iter().filter(|r| r["code"] == "R032").count() > 10);

    // The same night again (night 2's file): refused, nothing written, the ledger unchanged.
    let again = tmp.path().join("again");
    let o = run(&ns[1].join("claims.b2"), &refs, &again, Some(&ledger));
    assert_eq!(o.status.code(), Some(10), "{o:?}");
    assert!(!again.exists());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("already committed by night 2"));
    // The checksum recorded with night 2, built from the windows the engine read (`filesum`), is
    // the file's: the same file is recognised as such.
    assert!(err.contains("the same file"), "{err}");
}

#[test]
fn ledger_show_and_stats_report_the_counters_and_the_nights() {
    let tmp = tempfile::tempdir().unwrap();
    let ns = nights(tmp.path());
    let refs = ns[0].join("refs");
    let ledger = tmp.path().join("ledger");
    let out = tmp.path().join("out0");
    assert!(
        run(&ns[0].join("claims.b2"), &refs, &out, Some(&ledger))
            .status
            .success()
    );
    let stats = liquidator()
        .args(["ledger", "stats", "--ledger"])
        .arg(&ledger)
        .output()
        .unwrap();
    assert!(stats.status.success());
    let v: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(v["nights"].as_array().unwrap().len(), 1);
    assert_eq!(v["nights"][0]["claims_paid"], summary["claims_paid"]);
    // A beneficiary charged a participation tonight has it in the ledger, to the cent.
    let pay = common::tsv_rows(&out.join("payments.tsv"));
    let r = pay
        .iter()
        .find(|r| r["participation"] != "0.00" && r["date_of_care"].starts_with("2026"))
        .unwrap();
    let benef = r["beneficiary"].clone();
    let charged: i64 = pay
        .iter()
        .filter(|p| p["beneficiary"] == benef && p["date_of_care"].starts_with("2026"))
        .map(|p| cents(&p["participation"]))
        .sum();
    let s = ledger_show(&ledger, &benef);
    let y2026 = s["participations_by_year"]
        .as_array()
        .unwrap()
        .iter()
        .find(|y| y["year"] == 2026)
        .unwrap();
    // Seeded once from the table's pf_year/pf_used, then the night's charges on top.
    let (nir, rank) = benef.split_once('-').unwrap();
    let seed: i64 = common::tsv_rows(&refs.join("beneficiaries.tsv"))
        .iter()
        .find(|b| b["nir"] == nir && b["rank"] == rank && b["pf_year"] == "2026")
        .map_or(0, |b| cents(&b["pf_used"]));
    assert_eq!(cents(y2026["amount"].as_str().unwrap()), seed + charged);
    assert!(!s["sessions"].as_array().unwrap().is_empty());
}

fn cents(s: &str) -> i64 {
    let (e, c) = s.split_once('.').unwrap();
    e.parse::<i64>().unwrap() * 100 + c.parse::<i64>().unwrap()
}

/// A batch of `claims` on the mini reference set, dated `date`, numbered `batch_no`.
fn mini_batch(
    path: &Path,
    batch_no: u32,
    date: u32,
    claims: &[(
        liquidator_core::claims::ClaimHeader,
        Vec<liquidator_core::claims::ActLine>,
    )],
) {
    let h = BatchHeader {
        sender: 1,
        batch_no,
        date: Date(date),
        version: 100,
    };
    let mut w = BatchWriter::new(Vec::new(), &h).unwrap();
    for (hd, lines) in claims {
        w.claim(hd, lines).unwrap();
    }
    std::fs::write(path, w.finish().unwrap()).unwrap();
}

#[test]
fn a_ccam_act_paid_on_an_earlier_night_is_rejected_r033_under_a_new_claim_number_and_the_rest_is_paid()
 {
    use common::*;
    let tmp = tempfile::tempdir().unwrap();
    let refs = mini_src();
    let ledger = tmp.path().join("ledger");
    let ecg = |claim: u32| {
        let mut l = ccam("DEQP003", 1, "", b' ', 20260302, 1500);
        l.claim_no = claim;
        l
    };
    let mut h1 = header(ADULT, 19850512, GP);
    h1.claim_no = 1;
    let n1 = tmp.path().join("n1.b2");
    mini_batch(&n1, 1, 20260316, &[(h1, vec![ecg(1)])]);
    let o = run(&n1, &refs, &tmp.path().join("o1"), Some(&ledger));
    assert!(o.status.success(), "{o:?}");
    assert_eq!(rows(&tmp.path().join("o1/payments.tsv")).len(), 1);

    // Night 2: the same ECG (same beneficiary, practitioner, date, code, activity, phase) under claim 2
    // with another act on another day, and alone under claim 3.
    let (mut h2, mut h3) = (h1, h1);
    h2.claim_no = 2;
    h3.claim_no = 3;
    let mut other = ccam("QZJA002", 1, "", b' ', 20260305, 2660);
    other.claim_no = 2;
    let n2 = tmp.path().join("n2.b2");
    mini_batch(
        &n2,
        2,
        20260317,
        &[(h2, vec![ecg(2), other]), (h3, vec![ecg(3)])],
    );
    let o = run(&n2, &refs, &tmp.path().join("o2"), Some(&ledger));
    assert!(o.status.success(), "{o:?}");
    let pay = rows(&tmp.path().join("o2/payments.tsv"));
    let rej = rows(&tmp.path().join("o2/rejections.tsv"));
    assert_eq!(pay.len(), 1, "{pay:?}");
    assert_eq!(
        (pay[0]["claim"].as_str(), pay[0]["code"].as_str()),
        ("000000002", "QZJA002")
    );
    let r: Vec<_> = rej
        .iter()
        .map(|r| {
            (
                r["claim"].as_str(),
                r["line"].as_str(),
                r["code"].as_str(),
                r["scope"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        r,
        [
            ("000000002", "1", "R033", "LINE"),
            ("000000003", "1", "R033", "CLAIM")
        ]
    );
    assert!(rej[0]["message"].contains("already paid by batch 1 of sender 000000001"));
    // `explain --ledger` liquidates against the same ledger (read only) and says why.
    let e = liquidator()
        .args(["explain", "--claims"])
        .arg(&n2)
        .arg("--refs")
        .arg(&refs)
        .args(["--claim", "2", "--ledger"])
        .arg(&ledger)
        .output()
        .unwrap();
    assert!(e.status.success(), "{e:?}");
    let text = String::from_utf8_lossy(&e.stdout);
    assert!(
        text.contains("[ledger]") && text.contains("already paid by batch 1"),
        "{text}"
    );
    // The same night without the ledger pays claim 2's ECG again: the rejection is the ledger's.
    let o = run(&n2, &refs, &tmp.path().join("o2-alone"), None);
    assert!(o.status.success());
    assert!(
        rows(&tmp.path().join("o2-alone/payments.tsv"))
            .iter()
            .any(|r| r["claim"] == "000000002" && r["code"] == "DEQP003")
    );
}

/// `liquidator ledger show --beneficiary NIR-RANK` of `ledger`, which must succeed, as JSON.
fn ledger_show(ledger: &std::path::Path, beneficiary: &str) -> serde_json::Value {
    let o = liquidator()
        .args(["ledger", "show", "--ledger"])
        .arg(ledger)
        .args(["--beneficiary", beneficiary])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A G (consultation, 30 €) of claim `claim` on `date`, the act the ledger tests pay night after night.
fn g_of(claim: u32, date: u32) -> liquidator_core::claims::ActLine {
    let mut l = common::ngap("G", 100, date, 3000);
    l.claim_no = claim;
    l
}

/// The commit copies a state the engine marked as holding nothing to prune without walking it
/// (`Shard::fresh_at`, LEDGER26): a carried state that does hold a session dated before the night's
/// oldest payable day — and that the night changes — must still lose it at the commit. The mini
/// reference set's time limit is 27 months: night 2, dated 2026-06-16, pays care from 2024-03-16 on.
#[test]
fn a_carried_session_before_the_oldest_payable_day_is_pruned_by_the_night_that_pays_its_beneficiary()
 {
    use common::*;
    let tmp = tempfile::tempdir().unwrap();
    let refs = mini_src();
    let ledger = tmp.path().join("ledger");
    let show = || ledger_show(&ledger, "1850578006084-001");
    let dates = |v: &serde_json::Value, field: &str, key: &str| -> Vec<String> {
        v[field]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s[key].to_string().trim_matches('"').to_string())
            .collect()
    };
    let mut h1 = header(ADULT, 19850512, GP);
    h1.claim_no = 1;
    let n1 = tmp.path().join("n1.b2");
    mini_batch(&n1, 1, 20240316, &[(h1, vec![g_of(1, 20240310)])]);
    let o = run(&n1, &refs, &tmp.path().join("o1"), Some(&ledger));
    assert!(o.status.success(), "{o:?}");
    assert_eq!(dates(&show(), "sessions", "date"), ["2024-03-10"]);
    // Night 2: the same beneficiary paid again; the 2024-03-10 session is six days before the
    // oldest payable day (2024-03-16), the 2024 counter of that day's year is kept.
    let mut h2 = h1;
    h2.claim_no = 2;
    let n2 = tmp.path().join("n2.b2");
    mini_batch(&n2, 2, 20260616, &[(h2, vec![g_of(2, 20260610)])]);
    let o = run(&n2, &refs, &tmp.path().join("o2"), Some(&ledger));
    assert!(o.status.success(), "{o:?}");
    assert_eq!(
        rows(&tmp.path().join("o2/payments.tsv")).len(),
        1,
        "night 2's claim is paid"
    );
    let v = show();
    assert_eq!(dates(&v, "sessions", "date"), ["2026-06-10"]);
    assert_eq!(
        dates(&v, "participations_by_year", "year"),
        ["2024", "2026"]
    );
}

#[test]
fn reprocess_with_the_ledger_liquidates_a_past_night_against_the_state_before_it_and_carries_the_counter_change()
 {
    use common::*;
    let tmp = tempfile::tempdir().unwrap();
    let refs = mini_src();
    let ledger = tmp.path().join("ledger");
    // Night 1: a G by a practitioner not under convention (R041), and a G by the GP (2 € charged).
    let mut nc = header(ADULT, 19850512, GP_NC);
    nc.claim_no = 1;
    let mut gp = header(ADULT, 19850512, GP);
    gp.claim_no = 2;
    let n1 = tmp.path().join("n1.b2");
    mini_batch(
        &n1,
        1,
        20260316,
        &[(nc, vec![g_of(1, 20260302)]), (gp, vec![g_of(2, 20260303)])],
    );
    assert!(
        run(&n1, &refs, &tmp.path().join("o1"), Some(&ledger))
            .status
            .success()
    );
    // Night 2: another G by the GP (2 € more).
    let mut gp3 = gp;
    gp3.claim_no = 3;
    let n2 = tmp.path().join("n2.b2");
    mini_batch(&n2, 2, 20260317, &[(gp3, vec![g_of(3, 20260310)])]);
    assert!(
        run(&n2, &refs, &tmp.path().join("o2"), Some(&ledger))
            .status
            .success()
    );
    let show = || -> i64 {
        let v = ledger_show(&ledger, "1850578006084-001");
        let y = v["participations_by_year"]
            .as_array()
            .unwrap()
            .iter()
            .find(|y| y["year"] == 2026)
            .unwrap()
            .clone();
        cents(y["amount"].as_str().unwrap())
    };
    assert_eq!(show(), 400, "2 € on night 1 + 2 € on night 2");

    // The correction: the practitioner was under convention (sector 1) all along.
    let fixed = tmp.path().join("refs-fixed");
    std::fs::create_dir_all(&fixed).unwrap();
    for e in std::fs::read_dir(&refs).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, fixed.join(p.file_name().unwrap())).unwrap();
    }
    let pr = std::fs::read_to_string(fixed.join("practitioners.tsv")).unwrap();
    std::fs::write(
        fixed.join("practitioners.tsv"),
        pr.replace(
            "100000004\t2015-01-01\t\t01\t0\t0",
            "100000004\t2015-01-01\t\t01\t1\t0",
        ),
    )
    .unwrap();
    let out = tmp.path().join("fix1");
    let o = liquidator()
        .args(["reprocess", "--claims"])
        .arg(&n1)
        .arg("--refs")
        .arg(&fixed)
        .arg("--previous")
        .arg(tmp.path().join("o1"))
        .arg("--out")
        .arg(&out)
        .arg("--ledger")
        .arg(&ledger)
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    // Against the state before night 1, claim 1 now charges 2 € and claim 2 2 € more: 4 € where
    // night 1 had left 2 €; the counter change is listed, and carried into the later state.
    let c = rows(&out.join("ledger_counters.tsv"));
    let y: Vec<_> = c
        .iter()
        .filter(|r| r["counter"] == "participation_year")
        .map(|r| {
            (
                r["beneficiary"].as_str(),
                r["period"].as_str(),
                r["before"].as_str(),
                r["after"].as_str(),
                r["delta"].as_str(),
            )
        })
        .collect();
    assert_eq!(y, [("1850578006084-001", "2026", "2.00", "4.00", "2.00")]);
    assert_eq!(show(), 600, "night 2's 2 € stay, night 1 now charges 4 €");
    let adj = rows(&out.join("adjustments.tsv"));
    assert!(adj.iter().any(|r| r["claim"] == "000000001"), "{adj:?}");
    // The night is still committed once; replaying it with plain `run` is still refused.
    let o = run(&n1, &refs, &tmp.path().join("again"), Some(&ledger));
    assert_eq!(o.status.code(), Some(10));
}

/// The generated nights, their references, and a ledger (`TMP/ledger`) that has committed night 0
/// (its outputs in `TMP/out0`): the start of the tests of what a later night does with it.
fn night_0_through_a_ledger(tmp: &Path) -> (Vec<PathBuf>, PathBuf, PathBuf) {
    let ns = nights(tmp);
    let refs = ns[0].join("refs");
    let dir = tmp.join("ledger");
    let o = run(
        &ns[0].join("claims.b2"),
        &refs,
        &tmp.join("out0"),
        Some(&dir),
    );
    assert!(o.status.success(), "{o:?}");
    (ns, refs, dir)
}

/// The bundled sample's claims and references (no generation: these tests are about opening the
/// ledger, not about what a night holds).
fn sample() -> (PathBuf, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sample");
    (root.join("claims.b2"), root.join("refs"))
}

#[test]
fn a_ledger_file_that_is_not_a_ledger_exits_11_writes_nothing_and_is_left_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let (claims, refs) = sample();
    let dir = tmp.path().join("ledger");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join(liquidator_ledger::FILE);
    let junk: Vec<u8> = (0..8192u32).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(&file, &junk).unwrap();
    let out = tmp.path().join("out");
    let o = run(&claims, &refs, &out, Some(&dir));
    assert_eq!(o.status.code(), Some(11), "{o:?}");
    assert!(!out.exists(), "nothing written");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&file.display().to_string()) && err.contains("cannot be opened"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        junk,
        "the file is not touched"
    );
}

/// The ledger's current states: `meta.states` and the image file's records.
fn stored_image(dir: &Path) -> (String, Vec<(u64, Vec<u8>)>) {
    use redb::ReadableDatabase;
    let meta: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
    let db = redb::Database::open(dir.join(liquidator_ledger::FILE)).unwrap();
    let r = db.begin_read().unwrap();
    let v = r.open_table(meta).unwrap().get("states").unwrap().unwrap();
    let image = liquidator_ledger::images::ImageRef::parse(v.value()).unwrap();
    let im = liquidator_ledger::images::Images::map(&dir.join(image.file_name()), image).unwrap();
    let states = im.iter().map(|(k, v)| (k, v.to_vec())).collect();
    (image.text(), states)
}

/// Every stored state's version byte overwritten (a ledger damaged by a faulty writer, its image
/// file whole and checksummed): the next night, which carries some of those beneficiaries, stops
/// with exit 11 before writing anything, and the ledger is left as it was — the corrupt states are
/// not committed over. A byte of the image file changed on the disk (its checksum no longer
/// matches) is refused the same way.
#[test]
fn a_ledger_whose_stored_states_are_corrupt_makes_run_exit_11_write_nothing_and_commit_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (ns, refs, dir) = night_0_through_a_ledger(tmp.path());
    let corrupt = {
        let (_, states) = stored_image(&dir);
        assert!(states.len() > 100, "night 1 stored {} states", states.len());
        let mut w = liquidator_ledger::images::ImageWriter::create(
            &dir.join(liquidator_ledger::images::file_name(7)),
            states.len(),
        )
        .unwrap();
        for (k, mut v) in states {
            assert!(!v.is_empty(), "a stored state is never empty");
            // the layout's version byte (formats/ledger.md): another one is refused
            v[0] = 0xEE;
            let mut rec = Vec::new();
            liquidator_ledger::images::push(&mut rec, k, &v);
            w.push(&rec).unwrap();
        }
        let image = w.finish(7).unwrap();
        let meta: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
        let db = redb::Database::open(dir.join(liquidator_ledger::FILE)).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(meta)
            .unwrap()
            .insert("states", image.text().as_bytes())
            .unwrap();
        txn.commit().unwrap();
        drop(db);
        stored_image(&dir)
    };
    let out = tmp.path().join("out1");
    let o = run(&ns[1].join("claims.b2"), &refs, &out, Some(&dir));
    assert_eq!(o.status.code(), Some(11), "{o:?}");
    assert!(!out.exists(), "nothing written");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("ledger") && err.contains("corrupt"), "{err}");
    assert!(
        stored_image(&dir) == corrupt,
        "the states are left as they were"
    );
    let db = redb::Database::open(dir.join(liquidator_ledger::FILE)).unwrap();
    {
        use redb::{ReadableDatabase, ReadableTableMetadata};
        let batches: redb::TableDefinition<u32, &[u8]> = redb::TableDefinition::new("batches");
        let r = db.begin_read().unwrap();
        let n = r.open_table(batches).unwrap().len().unwrap();
        assert_eq!(n, 1, "night 2 not committed");
    }
    drop(db);
    // `stats` reads every state (its debt totals): it refuses them too, with the same exit code.
    let stats = liquidator()
        .args(["ledger", "stats", "--ledger"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(stats.status.code(), Some(11), "{stats:?}");
    // A byte of the image file changed on the disk: its checksum is refused, exit 11, nothing
    // written.
    let path = dir.join(liquidator_ledger::images::file_name(7));
    let mut b = std::fs::read(&path).unwrap();
    b[20] ^= 1;
    std::fs::write(&path, b).unwrap();
    let o = run(&ns[1].join("claims.b2"), &refs, &out, Some(&dir));
    assert_eq!(o.status.code(), Some(11), "{o:?}");
    assert!(!out.exists(), "nothing written");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("checksum mismatch"), "{err}");
}

#[test]
fn a_ledger_held_by_another_process_exits_11_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (claims, refs) = sample();
    let dir = tmp.path().join("ledger");
    // This test process holds the ledger open (redb locks its file), as a run still going would.
    let (held, _) = liquidator_ledger::Ledger::open(&dir).unwrap();
    let out = tmp.path().join("out");
    let o = run(&claims, &refs, &out, Some(&dir));
    assert_eq!(o.status.code(), Some(11), "{o:?}");
    assert!(!out.exists(), "nothing written");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cannot be opened"),
        "{o:?}"
    );
    drop(held);
    // Released, the same night goes through.
    let o = run(&claims, &refs, &out, Some(&dir));
    assert!(o.status.success(), "{o:?}");
}

/// With `--ledger`, the ledger is opened and its loads started before the reference set is loaded
/// (`nightly::prepare`). A reference set that then fails to load ends the run with exit 3, writes
/// nothing, leaves no staging directory and commits nothing; the same night, with sound references,
/// then commits and gives the outputs of a run that never failed (review of stop 23).
#[test]
fn a_refs_load_failing_after_the_ledger_opened_exits_3_and_commits_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (ns, refs, dir, clean, before) = night_0_and_a_clean_copy(tmp.path());
    // The references with one row whose date does not parse (and no compiled snapshot).
    let bad = tmp.path().join("bad-refs");
    std::fs::create_dir(&bad).unwrap();
    for e in std::fs::read_dir(&refs).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name.to_string_lossy().ends_with(".tsv") {
            std::fs::copy(e.path(), bad.join(&name)).unwrap();
        }
    }
    let mut rates = std::fs::read_to_string(bad.join("rates.tsv")).unwrap();
    rates.push_str("physician\t2025-13-45\t\t70\tS\ta date that does not exist\n");
    std::fs::write(bad.join("rates.tsv"), rates).unwrap();
    let out = tmp.path().join("out1");
    let o = run(&ns[1].join("claims.b2"), &bad, &out, Some(&dir));
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("rates.tsv"),
        "{o:?}"
    );
    refused_then_as_if_never_failed(tmp.path(), &ns[1], &refs, &out, &dir, &clean, &before);
}

/// A night whose summary fails a conservation identity (a bug: exit 7) is not committed: the
/// ledger stays as of the previous night, nothing is published, no staging directory is left, and
/// the same night then runs and commits as a night that never failed. It used to be committed
/// before the identities were looked at — its outputs published, the bug's counters carried into
/// every later night and the batch refused as already committed (exit 10) once fixed (REVIEW22 M3).
/// No input makes a correct engine fail an identity: the test hook takes them as failed.
#[test]
fn a_night_that_fails_a_conservation_identity_exits_7_and_commits_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (ns, refs, dir, clean, before) = night_0_and_a_clean_copy(tmp.path());
    let out = tmp.path().join("out1");
    let o = liquidator()
        .args(["run", "--quiet", "--threads", "2", "--claims"])
        .arg(ns[1].join("claims.b2"))
        .arg("--refs")
        .arg(&refs)
        .arg("--out")
        .arg(&out)
        .arg("--ledger")
        .arg(&dir)
        .env("LIQUIDATOR_LEDGER_FAIL", "conservation")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(7), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("conservation:") && err.contains("not committed"),
        "every identity shown, and what became of the night: {err}"
    );
    // Then run again (the bug fixed): not refused as already committed.
    refused_then_as_if_never_failed(tmp.path(), &ns[1], &refs, &out, &dir, &clean, &before);
}

/// [`night_0_through_a_ledger`], then the ledger copied (`ledger-clean`: the night that never fails runs
/// on it) and its `ledger stats` before the night that will be refused (for
/// [`refused_then_as_if_never_failed`]).
fn night_0_and_a_clean_copy(
    tmp: &Path,
) -> (Vec<PathBuf>, PathBuf, PathBuf, PathBuf, serde_json::Value) {
    let (ns, refs, dir) = night_0_through_a_ledger(tmp);
    let clean = tmp.join("ledger-clean");
    common::copy_ledger(&dir, &clean);
    let before = common::ledger_stats(&dir).0;
    (ns, refs, dir, clean, before)
}

/// After a night refused before its commit (`out` its output directory, `dir` the ledger whose
/// `ledger stats` were `before`): nothing published, no staging directory left in `tmp`, nothing
/// committed. Then the same night with sound inputs commits, and gives what the night gives on
/// `clean` (a copy of the ledger taken before it), outputs and ledger alike.
fn refused_then_as_if_never_failed(
    tmp: &Path,
    night: &Path,
    refs: &Path,
    out: &Path,
    dir: &Path,
    clean: &Path,
    before: &serde_json::Value,
) {
    let stats = |l: &Path| common::ledger_stats(l).0;
    assert!(!out.exists(), "nothing published");
    let left: Vec<String> = std::fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".partial-"))
        .collect();
    assert!(left.is_empty(), "staging left behind: {left:?}");
    assert_eq!(&stats(dir), before, "nothing committed");
    let o = run(&night.join("claims.b2"), refs, out, Some(dir));
    assert!(o.status.success(), "{o:?}");
    let never_failed = tmp.join("out1-clean");
    let o = run(&night.join("claims.b2"), refs, &never_failed, Some(clean));
    assert!(o.status.success(), "{o:?}");
    let (a, b) = (common::tree(out), common::tree(&never_failed));
    assert!(a.len() >= 5, "{:?}", a.keys());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (k, v) in &a {
        assert!(*v == b[k], "{k} differs");
    }
    assert_eq!(stats(dir), stats(clean));
}

/// REVIEW22 (M1): `explain --ledger` against a ledger whose state image no longer matches its
/// checksum (a byte changed on the disk) must exit 11 as `run` does. It printed a trace liquidated
/// against empty states (carried debts not recovered, caps reset) and exited 0: `cli::explain`
/// never asks the reader for the error its lookups recorded (`Reader::error`).
#[test]
fn explain_against_a_ledger_whose_image_is_corrupt_exits_11_as_run_does() {
    let tmp = tempfile::tempdir().unwrap();
    let (ns, refs, dir) = night_0_through_a_ledger(tmp.path());
    // a claim of night 2 that reaches the rules (paid without the ledger)
    let out1 = tmp.path().join("out1");
    assert!(
        run(&ns[1].join("claims.b2"), &refs, &out1, None)
            .status
            .success()
    );
    let claim = rows(&out1.join("payments.tsv"))[0]["claim"].clone();
    let (image, _) = stored_image(&dir);
    let image = liquidator_ledger::images::ImageRef::parse(image.as_bytes()).unwrap();
    let path = dir.join(image.file_name());
    let mut b = std::fs::read(&path).unwrap();
    b[20] ^= 1;
    std::fs::write(&path, b).unwrap();
    // `run` refuses the ledger
    let o = run(
        &ns[1].join("claims.b2"),
        &refs,
        &tmp.path().join("out1l"),
        Some(&dir),
    );
    assert_eq!(o.status.code(), Some(11), "{o:?}");
    // `explain` must too
    let o = liquidator()
        .args(["explain", "--claims"])
        .arg(ns[1].join("claims.b2"))
        .arg("--refs")
        .arg(&refs)
        .args(["--claim", &claim, "--ledger"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(11),
        "explain exit {:?}, stdout {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout)
    );
}

/// REVIEW22 (H1): a stored state record of no bytes in the current image (a faulty writer, the
/// image whole and checksummed — the threat of the test above) is taken as "no state":
/// `StateView::bytes` answers `None` for an empty record, so the night liquidates those
/// beneficiaries as new (caps reset, open debts gone) and commits, exit 0. A record of no bytes
/// does not read (`packed::validate`), and ARCHITECTURE's invariant says no reader takes a state
/// that does not read as empty: the run must exit 11 as for a bad version byte.
#[test]
fn a_stored_state_of_no_bytes_in_the_current_image_is_refused_as_corrupt_not_taken_as_absent() {
    let tmp = tempfile::tempdir().unwrap();
    let (ns, refs, dir) = night_0_through_a_ledger(tmp.path());
    // night 2 over an intact copy of the ledger: the debts it carries in
    let clean = tmp.path().join("clean");
    common::copy_ledger(&dir, &clean);
    let out_clean = tmp.path().join("out1-clean");
    assert!(
        run(&ns[1].join("claims.b2"), &refs, &out_clean, Some(&clean))
            .status
            .success()
    );
    let opening = |out: &Path| {
        let s: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
        (
            s["debts_opening_cents"].clone(),
            s["recovered_cents"].clone(),
        )
    };
    {
        // Written by hand in the image layout (formats/ledger.md, "States: one image file per
        // generation"): `ImageWriter` itself refuses an empty record.
        let (_, states) = stored_image(&dir);
        let keys: Vec<u64> = states.iter().map(|s| s.0).collect();
        let mut b = Vec::new();
        let bits = (usize::BITS - keys.len().leading_zeros())
            .saturating_sub(2)
            .clamp(8, 24);
        let mut radix = vec![0u64; (1usize << bits) + 1];
        let mut next = 0;
        for &k in &keys {
            let p = (k >> (64 - bits)) as usize;
            while next <= p {
                radix[next] = b.len() as u64;
                next += 1;
            }
            liquidator_ledger::images::push(&mut b, k, &[]);
        }
        let end = b.len() as u64;
        for r in &mut radix[next..] {
            *r = end;
        }
        b.resize(end.div_ceil(8) as usize * 8, 0);
        for r in &radix {
            b.extend_from_slice(&r.to_le_bytes());
        }
        b.extend_from_slice(b"LIQSTAT5");
        b.extend_from_slice(&7u64.to_le_bytes());
        b.extend_from_slice(&(keys.len() as u64).to_le_bytes());
        b.extend_from_slice(&end.to_le_bytes());
        b.extend_from_slice(&bits.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        std::fs::write(dir.join(liquidator_ledger::images::file_name(7)), &b).unwrap();
        let image = format!("7 {} {}", b.len(), liquidator_ledger::checksum(&b));
        let meta: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
        let db = redb::Database::open(dir.join(liquidator_ledger::FILE)).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(meta)
            .unwrap()
            .insert("states", image.as_bytes())
            .unwrap();
        txn.commit().unwrap();
    }
    let out = tmp.path().join("out1");
    let o = run(&ns[1].join("claims.b2"), &refs, &out, Some(&dir));
    assert_eq!(
        o.status.code(),
        Some(11),
        "night 2 over a ledger of empty state records: {:?}, written: {}; debts carried in and recovered: intact ledger {:?}, emptied {:?}",
        o.status.code(),
        out.exists(),
        opening(&out_clean),
        if out.exists() {
            Some(opening(&out))
        } else {
            None
        }
    );
}

/// REVIEW22 (H2): `Images::map` checked the radix table was ascending, within the records and ends at
/// their end — not that each entry is where its slot's records start. An image whose radix
/// entries all point at the records' end (a faulty writer; the file whole and checksummed, the
/// threat of the tests above) passes, every lookup then answers "no state", and the night
/// liquidates every carried beneficiary as new and commits, exit 0.
#[test]
fn an_image_whose_radix_table_skips_its_records_is_refused_as_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let (ns, refs, dir) = night_0_through_a_ledger(tmp.path());
    let (text, states) = stored_image(&dir);
    assert!(states.len() > 100);
    let image = liquidator_ledger::images::ImageRef::parse(text.as_bytes()).unwrap();
    let path = dir.join(image.file_name());
    let mut b = std::fs::read(&path).unwrap();
    let n = b.len();
    let t = n - 40;
    let u64at = |b: &[u8], i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
    let bytes = u64at(&b, t + 24);
    let bits = u32::from_le_bytes(b[t + 32..t + 36].try_into().unwrap());
    let radix = (bytes.div_ceil(8) * 8) as usize;
    let slots = (1usize << bits) + 1;
    assert_eq!(radix + slots * 8 + 40, n);
    for p in 0..slots {
        b[radix + p * 8..radix + p * 8 + 8].copy_from_slice(&bytes.to_le_bytes());
    }
    std::fs::write(&path, &b).unwrap();
    let sum = liquidator_ledger::checksum(&b);
    let meta: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
    let db = redb::Database::open(dir.join(liquidator_ledger::FILE)).unwrap();
    let txn = db.begin_write().unwrap();
    txn.open_table(meta)
        .unwrap()
        .insert(
            "states",
            format!("{} {} {sum}", image.generation, image.len).as_bytes(),
        )
        .unwrap();
    txn.commit().unwrap();
    drop(db);
    let out = tmp.path().join("out1");
    let o = run(&ns[1].join("claims.b2"), &refs, &out, Some(&dir));
    assert_eq!(
        o.status.code(),
        Some(11),
        "night 2 over an image whose lookups find nothing: {:?}, written: {}, {}",
        o.status.code(),
        out.exists(),
        String::from_utf8_lossy(&o.stderr)
    );
}
