//! `run --parquet`: the liquidated lines read back from Parquet with the right counts, sums and types,
//! and no NIR in clear.

use arrow_array::{Array, Date32Array, Decimal128Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::DataType;
use liquidator_core::output::Summary;
use liquidator_export::parquet::{BATCH_ROWS, fnv1a64, write_parquet};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::{Path, PathBuf};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("liquidator-parquet-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn copy_out(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for f in ["payments.tsv", "rejections.tsv", "summary.json"] {
        std::fs::copy(src.join(f), dst.join(f)).unwrap();
    }
}

fn read_all(path: &Path) -> (Vec<RecordBatch>, usize) {
    let f = std::fs::File::open(path).unwrap();
    let b = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
    let row_groups = b.metadata().num_row_groups();
    let batches = b.build().unwrap().collect::<Result<Vec<_>, _>>().unwrap();
    (batches, row_groups)
}

fn col<'a, T: 'static>(b: &'a RecordBatch, name: &str) -> &'a T {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("column {name}"))
        .as_any()
        .downcast_ref::<T>()
        .unwrap()
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

fn count(batches: &[RecordBatch], status: &str) -> u64 {
    batches
        .iter()
        .map(|b| {
            col::<StringArray>(b, "status")
                .iter()
                .filter(|s| *s == Some(status))
                .count() as u64
        })
        .sum()
}

/// The checks the issue asks for, against any output directory of `liquidator run` (the hand-made
/// one here; `fixtures/sample/expected/` once it exists).
fn check_against_summary(out_dir: &Path, tag: &str) {
    let dest = tmp(tag).join("liquidated_lines.parquet");
    let rows = write_parquet(out_dir, &dest).unwrap();
    let s: Summary =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap())
            .unwrap();
    let (batches, _) = read_all(&dest);

    let n: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
    assert_eq!(n, rows);
    assert_eq!(n, s.lines_paid + s.claims_rejected + s.orphan_records);
    assert_eq!(count(&batches, "PAID"), s.lines_paid);
    assert_eq!(count(&batches, "REJECTED"), s.claims_rejected);
    assert_eq!(count(&batches, "ORPHAN"), s.orphan_records);

    let c = |v: i64| v as i128;
    assert_eq!(
        sum(&batches, "amo_paid", &["PAID", "REJECTED"]),
        c(s.amo_paid_cents)
    );
    assert_eq!(
        sum(&batches, "base", &["PAID", "REJECTED"]),
        c(s.base_cents)
    );
    assert_eq!(sum(&batches, "amo_gross", &["PAID"]), c(s.amo_gross_cents));
    assert_eq!(sum(&batches, "amc", &["PAID"]), c(s.amc_cents));
    assert_eq!(sum(&batches, "patient", &["PAID"]), c(s.patient_cents));
    assert_eq!(
        sum(&batches, "participation", &["PAID"]),
        c(s.participations_cents)
    );
    assert_eq!(sum(&batches, "excess", &["PAID"]), c(s.excess_cents));
    assert_eq!(sum(&batches, "billed", &["PAID"]), c(s.paid_billed_cents));
    assert_eq!(
        sum(&batches, "billed", &["REJECTED"]),
        c(s.rejected_billed_cents)
    );
    assert_eq!(
        sum(&batches, "billed", &["PAID", "REJECTED"]),
        c(s.billed_cents)
    );
    assert_eq!(
        sum(&batches, "billed", &["ORPHAN"]),
        c(s.orphan_billed_cents)
    );

    // Rejected rows carry the billed fee and a code; their liquidated amounts are null, not 0.
    for b in &batches {
        let st = col::<StringArray>(b, "status");
        let amo = col::<Decimal128Array>(b, "amo_paid");
        let code = col::<StringArray>(b, "rejection_code");
        for i in 0..b.num_rows() {
            let paid = st.value(i) == "PAID";
            assert_eq!(amo.is_null(i), !paid);
            assert_eq!(code.is_null(i), paid);
        }
    }
}

#[test]
fn parquet_reads_back_with_summary_counts_and_sums() {
    check_against_summary(&data("report_out"), "basic");
}

#[test]
fn schema_types_and_pseudonymisation() {
    let dest = tmp("schema").join("l.parquet");
    write_parquet(&data("report_out"), &dest).unwrap();
    let (batches, _) = read_all(&dest);
    let b = &batches[0];
    let sch = b.schema();
    for name in [
        "base",
        "amo_paid",
        "billed",
        "amc",
        "patient",
        "excess",
        "unit_price",
        "participation",
    ] {
        assert_eq!(
            sch.field_with_name(name).unwrap().data_type(),
            &DataType::Decimal128(12, 2),
            "{name}"
        );
    }
    assert_eq!(
        sch.field_with_name("rate").unwrap().data_type(),
        &DataType::Decimal128(7, 2)
    );
    assert_eq!(
        sch.field_with_name("date_of_care").unwrap().data_type(),
        &DataType::Date32
    );
    assert_eq!(
        sch.field_with_name("amo_paid")
            .unwrap()
            .metadata()
            .get("snds")
            .map(String::as_str),
        Some("BSE_REM_MNT")
    );

    // First row: claim 000000101 line 1, NGAP G of 2025-03-10, 30.00 € billed, rate 70 %.
    assert_eq!(col::<StringArray>(b, "claim").value(0), "000000101");
    assert_eq!(col::<StringArray>(b, "code").value(0), "G");
    assert_eq!(col::<Decimal128Array>(b, "billed").value(0), 3000);
    assert_eq!(col::<Decimal128Array>(b, "rate").value(0), 7000);
    assert_eq!(col::<Date32Array>(b, "date_of_care").value(0), 20157); // 2025-03-10
    assert_eq!(
        col::<StringArray>(b, "beneficiary_nir_masked").value(0),
        "185**********"
    );
    assert_eq!(
        col::<Int64Array>(b, "beneficiary_hash").value(0),
        fnv1a64(b"1850578006084-001") as i64
    );
    // Empty TSV cells are nulls (NGAP line: no activity).
    assert!(col::<StringArray>(b, "activity").is_null(0));

    // No NIR in clear anywhere in the file.
    let bytes = std::fs::read(&dest).unwrap();
    for nir in [
        "1850578006084",
        "2920375123456",
        "1700699123456",
        "1641275321654",
    ] {
        assert!(
            !bytes.windows(nir.len()).any(|w| w == nir.as_bytes()),
            "NIR {nir} in clear"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
            0o640,
            "health data: 0640"
        );
    }
}

#[test]
fn streams_in_row_groups() {
    // A batch and a bit of payment rows: two row groups, every row kept, sums exact.
    let dir = tmp("groups");
    let out = dir.join("out");
    copy_out(&data("report_out"), &out);
    let p = std::fs::read_to_string(out.join("payments.tsv")).unwrap();
    let mut lines = p.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let want = BATCH_ROWS + 1000;
    let mut text = String::with_capacity(want * 300);
    text.push_str(header);
    text.push('\n');
    for i in 0..want {
        text.push_str(rows[i % rows.len()]);
        text.push('\n');
    }
    std::fs::write(out.join("payments.tsv"), text).unwrap();
    let dest = dir.join("l.parquet");
    let n = write_parquet(&out, &dest).unwrap();
    assert_eq!(n as usize, want + 3);
    let (batches, groups) = read_all(&dest);
    assert_eq!(groups, 2);
    let per_cycle: i128 = [3000, 1452, 173456, 1103, 2500, 3000].iter().sum();
    let cycles = (want / rows.len()) as i128;
    let rest: i128 = [3000, 1452, 173456, 1103, 2500, 3000][..want % rows.len()]
        .iter()
        .sum();
    assert_eq!(
        sum(&batches, "billed", &["PAID"]),
        per_cycle * cycles + rest
    );
}

#[test]
fn malformed_input_names_file_and_line_and_leaves_no_file() {
    let dir = tmp("bad");
    let out = dir.join("out");
    copy_out(&data("report_out"), &out);
    let p = std::fs::read_to_string(out.join("payments.tsv")).unwrap();
    std::fs::write(
        out.join("payments.tsv"),
        p.replacen("2025-03-11", "2025-02-30", 1),
    )
    .unwrap();
    let dest = dir.join("l.parquet");
    let e = write_parquet(&out, &dest).unwrap_err().to_string();
    assert!(
        e.contains("payments.tsv:4:") && e.contains("date_of_care") && e.contains("2025-02-30"),
        "{e}"
    );
    assert!(!dest.exists());
    assert!(
        std::fs::read_dir(&dir).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains(".tmp-"))
    );

    copy_out(&data("report_out"), &out);
    let r = std::fs::read_to_string(out.join("rejections.tsv")).unwrap();
    std::fs::write(out.join("rejections.tsv"), r.replacen("87.50", "87.5x", 1)).unwrap();
    let e = write_parquet(&out, &dest).unwrap_err().to_string();
    assert!(
        e.contains("rejections.tsv:3:") && e.contains("billed"),
        "{e}"
    );

    std::fs::remove_file(out.join("summary.json")).unwrap();
    let e = write_parquet(&out, &dest).unwrap_err().to_string();
    assert!(e.contains("summary.json"), "{e}");
}
