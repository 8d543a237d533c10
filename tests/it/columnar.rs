//! The columnar entry point against `liquidator run`: the same claims file, converted to claims
//! Parquet (`convert`), liquidated through `Liquidator` — as one stream, and split by beneficiary
//! bucket in small record batches as Spark tasks would — gives the rows of `run --parquet`, cell for
//! cell, and the totals of `summary.json`. (Moved here from `crates/columnar/tests/`: one test binary
//! fewer to compile and link, the Parquet reader's generic code instantiated once; README, "Build and
//! test time".)

use arrow_array::{Array, Int64Array, RecordBatch};
use liquidator_columnar::Liquidator;
use liquidator_columnar::convert::{self, MANIFEST};
use liquidator_columnar::layout::{self, ClaimsBuilder, Reader};
use liquidator_core::engine::{self, Options};
use liquidator_core::output::Summary;
use liquidator_core::refs::Refs;
use liquidator_core::sink::Sink;
use liquidator_export::parquet::{PARQUET_FILE, ParquetSink, PseudonymKey};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const KEY: &[u8] = b"columnar test secret, not for production";

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn read(path: &Path) -> Vec<RecordBatch> {
    let f = std::fs::File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .with_batch_size(1000)
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

/// `liquidator run --parquet` as a library call: the reference output.
fn run(claims: &Path, refs: &Refs, out: &Path) -> (Vec<RecordBatch>, Summary) {
    let data = std::fs::read(claims).unwrap();
    let (h, _) = engine::batch_header(&data).unwrap();
    let key = PseudonymKey::from_secret(KEY).unwrap();
    let s = engine::run_with(claims, refs, out, true, &Options::default(), |dir| {
        Ok(vec![
            Box::new(ParquetSink::create(dir, key)?.with_batch(&h)) as Box<dyn Sink>,
        ])
    })
    .unwrap();
    (read(&out.join(PARQUET_FILE)), s)
}

/// All rows as one batch's columns; `sorted`: ordered by `byte_offset` (the rows of several
/// streams), else as given.
fn columns(batches: &[RecordBatch], sorted: bool) -> Vec<arrow_array::ArrayRef> {
    let schema = liquidator_export::parquet::schema();
    let batches: Vec<RecordBatch> = batches
        .iter()
        .map(|b| RecordBatch::try_new(schema.clone(), b.columns().to_vec()).unwrap())
        .collect();
    let all = arrow_select::concat::concat_batches(&schema, &batches).unwrap();
    if !sorted {
        return all.columns().to_vec();
    }
    let off = all
        .column_by_name("byte_offset")
        .unwrap()
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    let mut idx: Vec<u32> = (0..all.num_rows() as u32).collect();
    idx.sort_by_key(|&i| off.value(i as usize));
    let idx = arrow_array::UInt32Array::from(idx);
    all.columns()
        .iter()
        .map(|c| arrow_select::take::take(c, &idx, None).unwrap())
        .collect()
}

/// The claims Parquet files of a conversion, by bucket.
fn buckets(dir: &Path) -> Vec<Vec<RecordBatch>> {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(MANIFEST)).unwrap()).unwrap();
    m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| read(&dir.join(f.as_str().unwrap())))
        .collect()
}

/// Liquidates streams of claims batches, one `Liquidator` per stream; returns every output batch
/// and the summed totals (as the Spark job sums its tasks' totals).
fn liquidate(refs: &Arc<Refs>, streams: &[Vec<RecordBatch>]) -> (Vec<RecordBatch>, Summary) {
    let mut out = Vec::new();
    let mut total = Summary::default();
    for s in streams {
        let mut l = Liquidator::new(refs.clone(), PseudonymKey::from_secret(KEY).unwrap());
        for b in s {
            out.extend(l.push(b).unwrap());
        }
        out.extend(l.finish().unwrap());
        for p in l.summaries().unwrap() {
            add(&mut total, &p);
        }
    }
    total.check();
    (out, total)
}

/// Sums partial totals (the Spark job's reduction, spark/liquidate.py `add_summaries`).
fn add(t: &mut Summary, p: &Summary) {
    let mut a = serde_json::to_value(&*t).unwrap();
    let b = serde_json::to_value(p).unwrap();
    for (k, v) in b.as_object().unwrap() {
        match v {
            // The batch is the same for every part (the job checks it); counts and cents add.
            serde_json::Value::Number(_) if k == "batch_number" => a[k] = v.clone(),
            serde_json::Value::Number(n) => {
                let x = a[k].as_i64().unwrap_or(0) + n.as_i64().unwrap();
                a[k] = x.into();
            }
            serde_json::Value::Object(m) => {
                for (c, n) in m {
                    if k == "conservation" {
                        continue;
                    }
                    let x = a[k][c].as_i64().unwrap_or(0) + n.as_i64().unwrap();
                    a[k][c] = x.into();
                }
            }
            serde_json::Value::String(s) => a[k] = s.clone().into(),
            _ => {}
        }
    }
    *t = serde_json::from_value(a).unwrap();
}

/// Splits each stream's batches into batches of `n` rows (claims cut across batches).
fn rebatch(streams: Vec<Vec<RecordBatch>>, n: usize) -> Vec<Vec<RecordBatch>> {
    streams
        .into_iter()
        .map(|s| {
            s.iter()
                .flat_map(|b| {
                    (0..b.num_rows())
                        .step_by(n)
                        .map(|i| b.slice(i, n.min(b.num_rows() - i)))
                        .collect::<Vec<_>>()
                })
                .collect()
        })
        .collect()
}

fn check_day(claims: &Path, refs_dir: &Path, tmp: &Path) {
    let refs = Arc::new(Refs::load(refs_dir).unwrap());
    let (expected, summary) = run(claims, &refs, &tmp.join("run"));
    let conv = tmp.join("claims-parquet");
    let m = convert::convert(claims, &conv, 4, false).unwrap();
    assert_eq!(m.claims, summary.claims_read);
    assert_eq!(m.act_records, summary.lines_read + orphan_acts(&conv));
    assert_eq!(m.orphan_records, summary.orphan_records);
    let want = columns(&expected, false);
    assert!(want[0].len() > 500, "a day with rows");

    // One stream, file order: bucket files concatenated would not be in file order, so the stream
    // is the rows of every bucket sorted by offset (what one Spark task of the whole batch sees).
    let mut all: Vec<RecordBatch> = buckets(&conv).into_iter().flatten().collect();
    all = sort_by_offset(&all);
    let (got, totals) = liquidate(&refs, &[all]);
    assert!(columns(&got, false) == want, "one stream in file order");
    assert_eq!(without_amc_files(&totals), without_amc_files(&summary));
    let c = &totals.conservation;
    assert!(
        c.claims
            && c.lines
            && c.billed
            && c.paid_split
            && c.rejections
            && c.line_rejections
            && c.debts
    );

    // One stream per bucket, in batches of 7 rows (claims cut across record batches): each bucket
    // in file order, the buckets' outputs in any order; sorted by offset they are `run`'s rows.
    let (got, totals) = liquidate(&refs, &rebatch(buckets(&conv), 7));
    assert!(columns(&got, true) == want, "by bucket, small batches");
    assert_eq!(without_amc_files(&totals), without_amc_files(&summary));
}

/// Act records outside claims (counted by the trailer among act records, not in `lines_read`).
fn orphan_acts(conv: &Path) -> u64 {
    let mut n = 0;
    for b in buckets(conv).iter().flatten() {
        let r = Reader::new(b).unwrap();
        for i in 0..r.rows {
            if let layout::Decoded::Orphan(o) = r.row(i).unwrap() {
                n += o.is_act as u64;
            }
        }
    }
    n
}

/// The totals without what this path does not produce: the per-insurer files and the payment
/// orders (per-payee aggregations over the whole batch, formats/claims-arrow.md "Not produced").
fn without_amc_files(s: &Summary) -> Summary {
    let mut s = Summary {
        amc_files: 0,
        payment_orders: 0,
        payment_orders_cents: 0,
        payments_held: 0,
        payments_held_cents: 0,
        payees_nothing_due: 0,
        ..s.clone()
    };
    s.conservation.payment_orders = false;
    s
}

/// Rows of several batches in `offset` order, as one batch per input batch slice (stable).
fn sort_by_offset(batches: &[RecordBatch]) -> Vec<RecordBatch> {
    let mut idx: Vec<(i64, usize, usize)> = Vec::new();
    for (k, b) in batches.iter().enumerate() {
        let off = b
            .column_by_name("offset")
            .unwrap()
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        idx.extend((0..b.num_rows()).map(|i| (off.value(i), k, i)));
    }
    idx.sort();
    idx.iter()
        .map(|&(_, k, i)| batches[k].slice(i, 1))
        .collect()
}

#[test]
fn sample_day_from_claims_parquet_gives_run_rows_and_totals() {
    let tmp = tempfile::tempdir().unwrap();
    check_day(
        &repo("fixtures/sample/claims.b2"),
        &repo("fixtures/sample/refs"),
        tmp.path(),
    );
}

#[test]
fn generated_day_with_repeat_beneficiaries_gives_run_rows_and_totals() {
    let tmp = tempfile::tempdir().unwrap();
    let day = tmp.path().join("day");
    liquidator_testkit::generator::generate(&liquidator_testkit::generator::GenConfig {
        claims: 800,
        beneficiaries: 100,
        seed: 15,
        date: liquidator_core::date::Date(20260316),
        out: day.clone(),
        scenarios: true,
        ccam_subset: true,
    })
    .unwrap();
    check_day(&day.join("claims.b2"), &day.join("refs"), tmp.path());
}

/// A duplicate transmission under another beneficiary: the two claims land in different buckets
/// (different Spark tasks), yet the second is still `R030`, because `convert` flags it from the
/// whole batch (the engine's own bookkeeping), not from the task's rows.
#[test]
fn duplicate_claim_number_across_beneficiaries_is_rejected_whatever_the_split() {
    let tmp = tempfile::tempdir().unwrap();
    let mut data = std::fs::read(repo("fixtures/sample/claims.b2")).unwrap();
    // Line 161 (byte 20640) repeats claim 700000050 of line 158; give it rank 002 (bytes 36–38).
    let at = 20640;
    assert_eq!(&data[at..at + 11], b"02700000050");
    data[at + 35..at + 38].copy_from_slice(b"002");
    let claims = tmp.path().join("claims.b2");
    std::fs::write(&claims, &data).unwrap();
    check_day(&claims, &repo("fixtures/sample/refs"), tmp.path());
    let conv = tmp.path().join("claims-parquet");
    let mut seen = Vec::new();
    for b in buckets(&conv).iter().flatten() {
        let r = Reader::new(b).unwrap();
        for i in 0..r.rows {
            if let layout::Decoded::Line {
                claim, duplicate, ..
            } = r.row(i).unwrap()
                && claim.claim_no == 700000050
            {
                seen.push((claim.pos.line, claim.header.unwrap().rank, duplicate));
            }
        }
    }
    seen.dedup();
    assert_eq!(seen.len(), 2);
    seen.sort();
    assert_eq!(seen, vec![(158, 1, false), (161, 2, true)]);
}

#[test]
fn claims_layout_round_trip_gives_back_the_parsed_claims() {
    let data = std::fs::read(repo("fixtures/sample/claims.b2")).unwrap();
    let (h, _) = engine::batch_header(&data).unwrap();
    let mut b = ClaimsBuilder::new();
    let mut want = Vec::new();
    liquidator_core::session::read_file(&data, 1 << 20, |chunks, dup| {
        let mut k = 0;
        for ch in chunks {
            let d = &dup[k..k + ch.claims.len()];
            k += ch.claims.len();
            b.push_chunk(&h, ch, d);
            for (j, c) in ch.claims.iter().enumerate() {
                let lines = ch.lines[c.lines.start as usize..c.lines.end as usize].to_vec();
                want.push(
                    format!("{:?} {:?} {:?}", c.pos, c.header, c.error)
                        + &format!("{lines:?} {} {} {}", c.act_records, c.billed, d[j]),
                );
            }
        }
        Ok(())
    })
    .unwrap();
    let rb = b.finish().unwrap();
    let r = Reader::new(&rb).unwrap();
    let mut got: Vec<String> = Vec::new();
    let mut cur: Option<(
        liquidator_core::claims::ParsedClaim,
        bool,
        Vec<liquidator_core::claims::ActLine>,
    )> = None;
    let flush = |cur: &mut Option<(liquidator_core::claims::ParsedClaim, bool, Vec<_>)>,
                 got: &mut Vec<String>| {
        if let Some((c, d, lines)) = cur.take() {
            got.push(
                format!("{:?} {:?} {:?}", c.pos, c.header, c.error)
                    + &format!("{lines:?} {} {} {}", c.act_records, c.billed, d),
            );
        }
    };
    for i in 0..r.rows {
        assert_eq!(
            r.batch(i).unwrap(),
            liquidator_core::claims::record::BatchHeader {
                sender: 0,
                version: 0,
                ..h
            }
        );
        match r.row(i).unwrap() {
            layout::Decoded::Line {
                claim,
                duplicate,
                line,
                ..
            } => {
                if cur.as_ref().is_none_or(|c| c.0.pos != claim.pos) {
                    flush(&mut cur, &mut got);
                    cur = Some((claim, duplicate, Vec::new()));
                }
                if let Some(c) = cur.as_mut() {
                    c.2.push(line);
                }
            }
            layout::Decoded::Claim { claim, duplicate } => {
                flush(&mut cur, &mut got);
                cur = Some((claim, duplicate, Vec::new()));
            }
            layout::Decoded::Orphan(_) => {}
        }
    }
    flush(&mut cur, &mut got);
    assert_eq!(got, want);
}

#[test]
fn claims_out_of_file_order_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let conv = tmp.path().join("c");
    convert::convert(&repo("fixtures/sample/claims.b2"), &conv, 1, false).unwrap();
    let all: Vec<RecordBatch> = buckets(&conv).into_iter().flatten().collect();
    let sorted = sort_by_offset(&all);
    let refs = Arc::new(Refs::load(&repo("fixtures/sample/refs")).unwrap());
    let mut l = Liquidator::new(refs, PseudonymKey::from_secret(KEY).unwrap());
    // The 20th row (a later claim) first, then the rows from the start.
    l.push(&sorted[40]).unwrap();
    l.push(&sorted[60]).unwrap();
    let e = l
        .push(&sorted[0])
        .and_then(|_| l.finish())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not in file order"), "{e}");
}

#[test]
fn convert_refuses_a_batch_that_run_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    let mut data = std::fs::read(repo("fixtures/sample/claims.b2")).unwrap();
    // Drop the trailer: the engine refuses the batch (exit 4), and so does convert; nothing written.
    let n = data.len();
    let last = data[..n - 1].iter().rposition(|&c| c == b'\n').unwrap() + 1;
    data.truncate(last);
    let claims = tmp.path().join("claims.b2");
    std::fs::write(&claims, &data).unwrap();
    let out = tmp.path().join("c");
    let e = convert::convert(&claims, &out, 4, false).unwrap_err();
    assert!(
        matches!(
            e,
            convert::ConvertError::Run(engine::RunError::Batch { .. })
        ),
        "{e}"
    );
    assert!(!out.exists());
}

#[test]
fn the_doc_lists_every_claims_column_in_order() {
    let doc = std::fs::read_to_string(repo("formats/claims-arrow.md")).unwrap();
    let table: Vec<&str> = doc
        .split("## Columns")
        .nth(1)
        .expect("a Columns section")
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    let names: Vec<&str> = layout::COLUMNS.iter().map(|c| c.0).collect();
    assert_eq!(table, names);
}
