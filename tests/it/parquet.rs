//! `run --parquet` on the sample day, through the real binary: the liquidated lines read back from
//! Parquet with `summary.json`'s counts and sums (formats/parquet.md, "Reconciliation"), in file order,
//! with a keyed pseudonym (stable for a key, different under another key) and no NIR in clear.

use arrow_array::{Array, Decimal128Array, Int64Array, RecordBatch, StringArray};
use liquidator_core::output::Summary;
use liquidator_export::parquet::{PseudonymKey, schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const KEY: &str = "test secret of the sample day, 1";
const OTHER_KEY: &str = "another test secret of the day 2";

fn sample(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/sample")
        .join(p)
}

/// Runs `liquidator run --parquet` on the sample day with `key` in the environment.
fn run(tmp: &Path, name: &str, key: Option<&str>) -> (PathBuf, std::process::Output) {
    let out = tmp.join(name);
    let mut c = Command::new(env!("CARGO_BIN_EXE_liquidator"));
    c.args(["run", "--quiet", "--parquet", "--claims"])
        .arg(sample("claims.b2"))
        .arg("--refs")
        .arg(sample("refs"))
        .arg("--out")
        .arg(&out)
        .env_remove("LIQUIDATOR_PSEUDONYM_KEY");
    if let Some(k) = key {
        c.env("LIQUIDATOR_PSEUDONYM_KEY", k);
    }
    let o = c.output().unwrap();
    (out, o)
}

fn run_ok(tmp: &Path, name: &str, key: &str) -> PathBuf {
    let (out, o) = run(tmp, name, Some(key));
    assert!(
        o.status.success(),
        "run failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

fn read_all(path: &Path) -> (Vec<RecordBatch>, HashMap<String, String>) {
    let f = std::fs::File::open(path).unwrap();
    let b = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
    let kv: HashMap<String, String> = b
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .into_iter()
        .flatten()
        .filter_map(|kv| kv.value.clone().map(|v| (kv.key.clone(), v)))
        .collect();
    let batches = b.build().unwrap().collect::<Result<Vec<_>, _>>().unwrap();
    (batches, kv)
}

fn col<'a, T: 'static>(b: &'a RecordBatch, name: &str) -> &'a T {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("column {name}"))
        .as_any()
        .downcast_ref::<T>()
        .unwrap()
}

fn strings(batches: &[RecordBatch], name: &str) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = col::<StringArray>(b, name);
            (0..a.len())
                .map(|i| (!a.is_null(i)).then(|| a.value(i).to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn ints(batches: &[RecordBatch], name: &str) -> Vec<Option<i64>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = col::<Int64Array>(b, name);
            (0..a.len())
                .map(|i| (!a.is_null(i)).then(|| a.value(i)))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Sum of a decimal column (cents) over the rows whose status is in `statuses`.
fn sum(batches: &[RecordBatch], name: &str, statuses: &[&str]) -> i128 {
    let mut t = 0;
    for b in batches {
        let st = col::<StringArray>(b, "status");
        let v = col::<Decimal128Array>(b, name);
        for i in 0..b.num_rows() {
            if statuses.contains(&st.value(i)) && !v.is_null(i) {
                t += v.value(i);
            }
        }
    }
    t
}

fn summary(out: &Path) -> Summary {
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

/// `NIR-rank` of every row of payments.tsv, by (claim, line).
fn beneficiaries(out: &Path) -> HashMap<(String, String), String> {
    let t = std::fs::read_to_string(out.join("payments.tsv")).unwrap();
    t.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            ((f[0].to_string(), f[1].to_string()), f[4].to_string())
        })
        .collect()
}

#[test]
fn rows_reconcile_with_summary_json() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_ok(tmp.path(), "out", KEY);
    let s = summary(&out);
    let (batches, kv) = read_all(&out.join("liquidated_lines.parquet"));
    assert_eq!(batches[0].schema(), schema());

    let status = strings(&batches, "status");
    let count = |st: &str| status.iter().filter(|s| s.as_deref() == Some(st)).count() as u64;
    assert_eq!(
        status.len() as u64,
        s.lines_paid + s.claims_rejected + s.line_rejections + s.orphan_records
    );
    assert_eq!(count("PAID"), s.lines_paid);
    assert_eq!(count("REJECTED"), s.claims_rejected);
    assert_eq!(count("REJECTED_LINE"), s.line_rejections);
    assert_eq!(count("ORPHAN"), s.orphan_records);
    assert!(
        s.lines_paid > 0 && s.claims_rejected > 0,
        "the sample has both"
    );

    let c = |v: i64| v as i128;
    let rejected = &["REJECTED", "REJECTED_LINE"];
    assert_eq!(sum(&batches, "billed", &["PAID"]), c(s.paid_billed_cents));
    assert_eq!(
        sum(&batches, "billed", rejected),
        c(s.rejected_billed_cents)
    );
    assert_eq!(
        sum(&batches, "billed", &["PAID", "REJECTED", "REJECTED_LINE"]),
        c(s.billed_cents)
    );
    assert_eq!(
        sum(&batches, "billed", &["ORPHAN"]),
        c(s.orphan_billed_cents)
    );
    let all = &["PAID", "REJECTED", "REJECTED_LINE", "ORPHAN"];
    for (column, total) in [
        ("base", s.base_cents),
        ("amo_gross", s.amo_gross_cents),
        ("amo_paid", s.amo_paid_cents),
        ("amc", s.amc_cents),
        ("patient", s.patient_cents),
        ("participation", s.participations_cents),
        ("franchise", s.franchises_cents),
        ("heavy_forfait", s.heavy_forfait_cents),
        ("excess", s.excess_cents),
    ] {
        // Over all rows: the liquidated amounts of the other rows are null, not 0.
        assert_eq!(sum(&batches, column, all), c(total), "{column}");
    }

    // Rejected rows carry the billed fee and a code; their liquidated amounts are null.
    for b in &batches {
        let st = col::<StringArray>(b, "status");
        let amo = col::<Decimal128Array>(b, "amo_paid");
        let code = col::<StringArray>(b, "rejection_code");
        let group = col::<StringArray>(b, "act_group");
        for i in 0..b.num_rows() {
            let paid = st.value(i) == "PAID";
            assert_eq!(amo.is_null(i), !paid);
            assert_eq!(code.is_null(i), paid);
            assert_eq!(group.is_null(i), !paid, "every paid line has its group");
        }
    }

    // The metadata says which batch and which key (by its public id), never the key itself.
    assert_eq!(kv["liquidator.batch_number"], s.batch_number.to_string());
    assert_eq!(kv["liquidator.batch_date"], s.batch_date);
    let k = PseudonymKey::from_secret(KEY.as_bytes()).unwrap();
    assert_eq!(kv["liquidator.pseudonym_key_id"], k.id());
    assert!(kv.values().all(|v| !v.contains(KEY)));
}

#[test]
fn rows_are_in_file_order_with_rejections_interleaved() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_ok(tmp.path(), "out", KEY);
    let (batches, _) = read_all(&out.join("liquidated_lines.parquet"));
    let offsets: Vec<i64> = ints(&batches, "byte_offset")
        .into_iter()
        .flatten()
        .collect();
    assert!(
        offsets.windows(2).all(|w| w[0] < w[1]),
        "rows follow the claims file"
    );
    // Paid lines and rejections alternate as in the input, not paid lines first.
    let status = strings(&batches, "status");
    let first_rejected = status.iter().position(|s| s.as_deref() == Some("REJECTED"));
    let last_paid = status.iter().rposition(|s| s.as_deref() == Some("PAID"));
    assert!(first_rejected < last_paid, "interleaved");
    // The paid rows are payments.tsv's rows, in its order.
    let claims: Vec<String> = strings(&batches, "claim")
        .into_iter()
        .zip(&status)
        .filter(|(_, s)| s.as_deref() == Some("PAID"))
        .map(|(c, _)| c.unwrap())
        .collect();
    let tsv = std::fs::read_to_string(out.join("payments.tsv")).unwrap();
    let tsv_claims: Vec<&str> = tsv
        .lines()
        .skip(1)
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(claims, tsv_claims);
}

#[test]
fn pseudonym_is_keyed_stable_and_never_the_nir() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run_ok(tmp.path(), "a", KEY);
    let b = run_ok(tmp.path(), "b", KEY);
    let other = run_ok(tmp.path(), "other", OTHER_KEY);
    let hashes = |out: &Path| {
        ints(
            &read_all(&out.join("liquidated_lines.parquet")).0,
            "beneficiary_hash",
        )
    };
    let (ha, hb, ho) = (hashes(&a), hashes(&b), hashes(&other));
    assert_eq!(ha, hb, "the same key gives the same pseudonyms");
    let paid: Vec<(i64, i64)> = ha
        .iter()
        .zip(&ho)
        .filter_map(|(x, y)| Some(((*x)?, (*y)?)))
        .collect();
    assert!(!paid.is_empty());
    assert!(
        paid.iter().all(|(x, y)| x != y),
        "another key, other pseudonyms"
    );

    // Each pseudonym is the documented keyed hash of the row's `NIR-rank`.
    let key = PseudonymKey::from_secret(KEY.as_bytes()).unwrap();
    let ben = beneficiaries(&a);
    let (batches, _) = read_all(&a.join("liquidated_lines.parquet"));
    let claims = strings(&batches, "claim");
    let lines: Vec<Option<i32>> = batches
        .iter()
        .flat_map(|b| {
            let x = col::<arrow_array::Int32Array>(b, "line");
            (0..x.len())
                .map(|i| (!x.is_null(i)).then(|| x.value(i)))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut checked = 0;
    for ((h, c), l) in ha.iter().zip(&claims).zip(&lines) {
        if let (Some(h), Some(c), Some(l)) = (h, c, l) {
            let nir_rank = &ben[&(c.clone(), l.to_string())];
            assert_eq!(*h, key.pseudonym(nir_rank.as_bytes()));
            checked += 1;
        }
    }
    assert_eq!(checked as usize, ben.len());

    // No NIR in clear: not in any text cell, not in the file's bytes.
    let nirs: std::collections::HashSet<&str> =
        ben.values().map(|b| b.split('-').next().unwrap()).collect();
    let bytes = std::fs::read(a.join("liquidated_lines.parquet")).unwrap();
    for f in schema().fields() {
        if f.data_type() == &arrow_schema::DataType::Utf8 {
            for v in strings(&batches, f.name()).into_iter().flatten() {
                assert!(
                    !nirs.iter().any(|n| v.contains(n)),
                    "{} holds a NIR",
                    f.name()
                );
            }
        }
    }
    for n in &nirs {
        assert!(
            !bytes.windows(n.len()).any(|w| w == n.as_bytes()),
            "a NIR in the file's bytes"
        );
    }
}

#[test]
fn parquet_without_a_key_is_refused_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, o) = run(tmp.path(), "out", None);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("LIQUIDATOR_PSEUDONYM_KEY"));
    assert!(!out.exists());
    let (out, o) = run(tmp.path(), "short", Some("too short"));
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());
}

#[test]
fn key_file_and_environment_give_the_same_pseudonyms() {
    let tmp = tempfile::tempdir().unwrap();
    let env = run_ok(tmp.path(), "env", KEY);
    let key_file = tmp.path().join("key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let out = tmp.path().join("file");
    let o = Command::new(env!("CARGO_BIN_EXE_liquidator"))
        .args(["run", "--quiet", "--parquet", "--claims"])
        .arg(sample("claims.b2"))
        .arg("--refs")
        .arg(sample("refs"))
        .arg("--out")
        .arg(&out)
        .arg("--pseudonym-key-file")
        .arg(&key_file)
        .env("LIQUIDATOR_PSEUDONYM_KEY", OTHER_KEY) // the file wins
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let h = |out: &Path| {
        ints(
            &read_all(&out.join("liquidated_lines.parquet")).0,
            "beneficiary_hash",
        )
    };
    assert_eq!(h(&env), h(&out));
}

/// The row of `claim` (and `line`, or the claim-level row when `None`), as (batch, index).
fn find(batches: &[RecordBatch], claim: &str, line: Option<i32>) -> (usize, usize) {
    let mut found = None;
    for (bi, b) in batches.iter().enumerate() {
        let c = col::<StringArray>(b, "claim");
        let l = col::<arrow_array::Int32Array>(b, "line");
        for i in 0..b.num_rows() {
            let li = (!l.is_null(i)).then(|| l.value(i));
            if c.value(i) == claim && li == line {
                assert!(found.is_none(), "one row for {claim} {line:?}");
                found = Some((bi, i));
            }
        }
    }
    found.unwrap_or_else(|| panic!("no row for {claim} line {line:?}"))
}

/// A decimal cell in cents (`None` when null).
fn cents(b: &RecordBatch, name: &str, i: usize) -> Option<i128> {
    let a = col::<Decimal128Array>(b, name);
    (!a.is_null(i)).then(|| a.value(i))
}

fn text(b: &RecordBatch, name: &str, i: usize) -> Option<String> {
    let a = col::<StringArray>(b, name);
    (!a.is_null(i)).then(|| a.value(i).to_string())
}

/// Values of a few scenario rows read back with the parquet crate's reader, against the amounts
/// computed by hand in `fixtures/sample_expected_amounts.tsv` (not an engine run): a paid NGAP line, an
/// associated CCAM line and a rejected claim.
#[test]
fn scenario_rows_read_back_with_their_hand_computed_values() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_ok(tmp.path(), "out", KEY);
    let (batches, _) = read_all(&out.join("liquidated_lines.parquet"));

    // 700000001 line 1: G 30.00 at 70 % = 21.00; under third-party payment the PF 2.00 is a debt of
    // the insured, not deducted (rules-decisions §8): amo_paid 21.00; ticket 9.00 to the AMC; patient 0.
    let (bi, i) = find(&batches, "700000001", Some(1));
    let b = &batches[bi];
    assert_eq!(text(b, "status", i).as_deref(), Some("PAID"));
    assert_eq!(text(b, "type", i).as_deref(), Some("NGAP"));
    assert_eq!(text(b, "code", i).as_deref(), Some("G"));
    assert_eq!(text(b, "practitioner", i).as_deref(), Some("900000001"));
    assert_eq!(text(b, "payee_kind", i).as_deref(), Some("PS"));
    assert_eq!(text(b, "rate_reason", i).as_deref(), Some("DEFAULT"));
    assert_eq!(
        text(b, "activity", i),
        None,
        "no CCAM activity on an NGAP line"
    );
    for (name, v) in [
        ("billed", 3000),
        ("base", 3000),
        ("rate", 7000),
        ("amo_gross", 2100),
        ("participation", 200),
        ("amo_paid", 2100),
        ("amc", 900),
        ("patient", 0),
    ] {
        assert_eq!(cents(b, name, i), Some(v), "700000001/1 {name}");
    }

    // 700000014 line 2: QZFA036 28.80 with association code 2 (50 %) = 14.40; × 70 % = 10.08 (the PF
    // 2.00 a debt of the insured under third-party payment, not deducted); ticket 4.32; patient 0.
    let (bi, i) = find(&batches, "700000014", Some(2));
    let b = &batches[bi];
    assert_eq!(text(b, "type", i).as_deref(), Some("CCAM"));
    assert_eq!(text(b, "code", i).as_deref(), Some("QZFA036"));
    assert_eq!(text(b, "assoc_code", i).as_deref(), Some("2"));
    assert_eq!(text(b, "practitioner", i).as_deref(), Some("900000003"));
    assert_eq!(
        cents(b, "coefficient", i),
        None,
        "no NGAP coefficient on a CCAM line"
    );
    for (name, v) in [
        ("assoc_coef", 5000),
        ("unit_price", 2880),
        ("pu_assoc_red", 1440),
        ("base", 1440),
        ("billed", 1440),
        ("rate", 7000),
        ("participation", 200),
        ("amo_paid", 1008),
        ("amc", 432),
        ("patient", 0),
    ] {
        assert_eq!(cents(b, name, i), Some(v), "700000014/2 {name}");
    }

    // 700000041: end record total 30.01 vs a line of 30.00 → R005 on the whole claim; its readable fees
    // are billed, nothing is liquidated.
    let (bi, i) = find(&batches, "700000041", None);
    let b = &batches[bi];
    assert_eq!(text(b, "status", i).as_deref(), Some("REJECTED"));
    assert_eq!(text(b, "rejection_code", i).as_deref(), Some("R005"));
    assert_eq!(
        text(b, "rejection_reason", i).as_deref(),
        Some("CLAIM_TOTAL")
    );
    assert_eq!(cents(b, "billed", i), Some(3000));
    assert_eq!(cents(b, "amo_paid", i), None);
    assert_eq!(text(b, "beneficiary_nir_masked", i), None);
}
