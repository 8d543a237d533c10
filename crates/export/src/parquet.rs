//! Liquidated lines as Parquet, for analysts (issue #8; layout: `formats/parquet.md`).
//!
//! One row per paid line (`payments.tsv`, status `PAID`), one per rejected claim (`rejections.tsv`,
//! status `REJECTED`) and one per record found outside any claim (`rejections.tsv` code `R002`, status
//! `ORPHAN`), so that the file holds everything the run read: `sum(billed)` over all rows is the
//! trailer's total, and over `PAID` + `REJECTED` rows it is `summary.json`'s `billed_cents`.
//!
//! Columns follow the project's TSV names, each documented with its SNDS analogue (`ER_PRS_F`,
//! `ER_CAM_F`) in `formats/parquet.md` and in the field metadata (`snds`). Amounts are
//! `Decimal128(12, 2)`, percentages and coefficients `Decimal128(7, 2)`: exact, like the cents they
//! come from. The NIR never appears in clear: the file keeps the masked NIR (as in logs), the rank and
//! an FNV-1a hash of `NIR-rank` for linkage — pseudonymisation, **not** anonymisation (see the doc).
//!
//! Streaming: the TSV files are read row by row into column builders flushed every [`BATCH_ROWS`] rows
//! (one Parquet row group each), so memory does not grow with the ~8 M rows of a national day.

use crate::report::tsv::{Row, Tsv, TsvError};
use arrow_array::builder::{
    Date32Builder, Decimal128Builder, Int32Builder, Int64Builder, StringBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use liquidator_core::date::Date;
use liquidator_core::output::{PAYMENTS, REJECTIONS, SUMMARY, Summary};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows per record batch and per Parquet row group: large enough for good compression and fast scans,
/// small enough to keep the writer's memory at a few tens of MB.
pub const BATCH_ROWS: usize = 64 * 1024;

/// File name written by `liquidator run --parquet` in the output directory.
pub const PARQUET_FILE: &str = "liquidated_lines.parquet";

/// Amounts: up to 9 999 999 999,99 € per line.
const AMOUNT: DataType = DataType::Decimal128(12, 2);
/// Percentages and coefficients: up to 99 999,99.
const RATE: DataType = DataType::Decimal128(7, 2);

#[derive(Debug, thiserror::Error)]
pub enum ParquetError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: invalid summary: {msg}", path.display())]
    Summary { path: PathBuf, msg: String },
    #[error(transparent)]
    Tsv(#[from] TsvError),
    #[error("{}: writing Parquet: {msg}", path.display())]
    Write { path: PathBuf, msg: String },
}

/// Days between 0000-03-01 (origin of [`Date::to_days`]) and 1970-01-01 (origin of Arrow's `Date32`).
const UNIX_EPOCH_DAYS: i64 = 719_468;

fn date32(d: Date) -> i32 {
    (d.to_days() - UNIX_EPOCH_DAYS) as i32
}

/// 64-bit FNV-1a: tiny, stable across languages (documented test vectors), enough to link the rows of
/// one beneficiary. Not a cryptographic hash: the NIR space is small and structured, so a hash of it
/// can be reversed by enumeration — the file stays health data (see `formats/parquet.md`).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// (name, type, nullable, SNDS analogue) of every column, in file order. `formats/parquet.md` mirrors it.
const COLUMNS: &[(&str, DataType, bool, &str)] = &[
    (
        "status",
        DataType::Utf8,
        false,
        "PRS_REJ_TOP (as a flag: rejected or not)",
    ),
    ("batch_number", DataType::Int32, false, "FLX_EMT_ORD"),
    ("batch_date", DataType::Date32, true, "FLX_TRT_DTD"),
    ("claim", DataType::Utf8, false, ""),
    ("line", DataType::Int32, true, "PRS_ORD_NUM"),
    ("input_line", DataType::Int64, false, ""),
    ("byte_offset", DataType::Int64, false, ""),
    ("beneficiary_nir_masked", DataType::Utf8, true, ""),
    ("beneficiary_rank", DataType::Int32, true, "BEN_RNG_GEM"),
    (
        "beneficiary_hash",
        DataType::Int64,
        true,
        "BEN_NIR_PSA + BEN_RNG_GEM (a pseudonym, like BEN_NIR_PSA; FNV-1a 64 of NIR-rank)",
    ),
    ("practitioner", DataType::Utf8, true, "PFS_EXE_NUM"),
    ("date_of_care", DataType::Date32, true, "EXE_SOI_DTD"),
    ("type", DataType::Utf8, true, ""),
    ("code", DataType::Utf8, true, "CAM_PRS_IDE / PRS_NAT"),
    ("activity", DataType::Utf8, true, "CAM_ACT_COD"),
    ("phase", DataType::Int32, true, "CAM_TRT_PHA"),
    ("coefficient", RATE, true, "PRS_ACT_CFT"),
    ("quantity", DataType::Int32, true, "PRS_ACT_QTE"),
    ("grid", DataType::Utf8, true, "CAM_GRI_TAR"),
    ("modifiers", DataType::Utf8, true, "CAM_MOD_COD"),
    ("assoc_code", DataType::Utf8, true, "CAM_ASS_COD"),
    ("assoc_coef", RATE, true, ""),
    ("unit_price", AMOUNT, true, "CAM_ACT_PRU / BSE_REM_PRU"),
    ("pu_assoc_red", AMOUNT, true, "CAM_MPU_MNT"),
    ("base", AMOUNT, true, "BSE_REM_BSE / CAM_REM_BSE"),
    ("rate", RATE, true, "RGO_REM_TAU"),
    ("rate_reason", DataType::Utf8, true, ""),
    ("amo_gross", AMOUNT, true, ""),
    ("participation", AMOUNT, true, "PRS_PPF_COD (amount)"),
    ("heavy_forfait", AMOUNT, true, ""),
    ("amo_paid", AMOUNT, true, "BSE_REM_MNT"),
    ("billed", AMOUNT, false, "PRS_PAI_MNT"),
    ("excess", AMOUNT, true, "PRS_DEP_MNT"),
    ("ticket", AMOUNT, true, ""),
    ("amc_ticket", AMOUNT, true, ""),
    ("amc_excess", AMOUNT, true, ""),
    ("amc", AMOUNT, true, ""),
    ("patient", AMOUNT, true, ""),
    ("payee_kind", DataType::Utf8, true, "DRG_NAT"),
    (
        "amc_number",
        DataType::Utf8,
        true,
        "BEN_CMU_ORG (complementary organisation code)",
    ),
    ("amc_payee", DataType::Utf8, true, ""),
    ("warnings", DataType::Utf8, true, ""),
    ("rejection_code", DataType::Utf8, true, ""),
    ("rejection_reason", DataType::Utf8, true, ""),
];

/// The Arrow schema of the file (also what a reader gets back).
pub fn schema() -> SchemaRef {
    let fields: Vec<Field> = COLUMNS
        .iter()
        .map(|(name, ty, nullable, snds)| {
            let f = Field::new(*name, ty.clone(), *nullable);
            if snds.is_empty() {
                f
            } else {
                f.with_metadata([("snds", *snds)])
            }
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// Reads `payments.tsv`, `rejections.tsv` and `summary.json` of the output directory `out_dir` and
/// writes the liquidated lines to `dest` (mode 0640: the file is health data). Returns the number of
/// rows written.
///
/// `dest` is written under a temporary name in its directory and renamed when complete, so a failure
/// never leaves a truncated file under the final name.
pub fn write_parquet(out_dir: &Path, dest: &Path) -> Result<u64, ParquetError> {
    let summary = read_summary(out_dir)?;
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| PARQUET_FILE.into());
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let res = write_to(out_dir, &summary, &tmp, dest).and_then(|rows| {
        std::fs::rename(&tmp, dest).map_err(|source| ParquetError::Io {
            path: dest.to_path_buf(),
            source,
        })?;
        Ok(rows)
    });
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

fn read_summary(out_dir: &Path) -> Result<Summary, ParquetError> {
    let path = out_dir.join(SUMMARY);
    let text = std::fs::read_to_string(&path).map_err(|source| ParquetError::Io {
        path: path.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| ParquetError::Summary {
        path,
        msg: e.to_string(),
    })
}

fn write_to(
    out_dir: &Path,
    summary: &Summary,
    tmp: &Path,
    dest: &Path,
) -> Result<u64, ParquetError> {
    let werr = |e: &dyn std::fmt::Display| ParquetError::Write {
        path: dest.to_path_buf(),
        msg: e.to_string(),
    };
    let file =
        liquidator_core::output::files::create_private(tmp).map_err(|source| ParquetError::Io {
            path: tmp.to_path_buf(),
            source,
        })?;
    let batch_date = Date::parse_iso(&summary.batch_date).map(date32);
    let kv = |k: &str, v: String| KeyValue::new(k.to_string(), v);
    let mut props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(BATCH_ROWS));
    // Nearly unique per row: measured on a generated day, a dictionary costs time and makes the file
    // larger than plain encoding + Snappy.
    for c in ["claim", "input_line", "byte_offset", "beneficiary_hash"] {
        props = props.set_column_dictionary_enabled(ColumnPath::from(c), false);
    }
    let props = props
        .set_key_value_metadata(Some(vec![
            kv(
                "liquidator.layout",
                "liquidated_lines/1 (formats/parquet.md)".into(),
            ),
            kv("liquidator.batch_number", summary.batch_number.to_string()),
            kv("liquidator.batch_date", summary.batch_date.clone()),
            kv(
                "liquidator.beneficiary_hash",
                "FNV-1a 64 of `NIR-rank`, unsalted, as Int64: pseudonymisation, not anonymisation"
                    .into(),
            ),
        ]))
        .build();
    let schema = schema();
    let mut w = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| werr(&e))?;

    // Two stages on two threads: parsing the TSV into Arrow batches, and encoding + compressing them
    // (about half of the time each). Bounded channel: at most a few batches in flight.
    let (tx, rx) = crossbeam_channel::bounded::<RecordBatch>(2);
    let (parsed, written) = std::thread::scope(|sc| {
        let writer = sc.spawn(move || -> Result<std::fs::File, ParquetError> {
            for batch in rx {
                w.write(&batch).map_err(|e| werr(&e))?;
            }
            w.into_inner().map_err(|e| werr(&e))
        });
        let parsed = parse(out_dir, summary, &schema, batch_date, |batch| {
            tx.send(batch).is_ok()
        });
        drop(tx);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(werr(&"writer thread panicked")));
        (parsed, written)
    });
    // A writer failure stops the parser (its sends fail): report the writer's error first.
    let file = written?;
    let rows = parsed?;
    file.sync_all().map_err(|source| ParquetError::Io {
        path: tmp.to_path_buf(),
        source,
    })?;
    Ok(rows)
}

/// Reads the payment then the rejection rows into record batches of [`BATCH_ROWS`] rows, handed to
/// `emit`; stops early (with the rows so far) when `emit` returns false.
fn parse(
    out_dir: &Path,
    summary: &Summary,
    schema: &SchemaRef,
    batch_date: Option<i32>,
    mut emit: impl FnMut(RecordBatch) -> bool,
) -> Result<u64, ParquetError> {
    let arrow_err = |e: ArrowError| ParquetError::Write {
        path: out_dir.to_path_buf(),
        msg: e.to_string(),
    };
    let mut b = Builders::new();
    let mut rows: u64 = 0;
    let mut t = Tsv::open(&out_dir.join(PAYMENTS))?;
    let pc = PayCols::new(&t)?;
    while let Some(r) = t.next_row()? {
        b.paid(&r, &pc, summary.batch_number, batch_date)?;
        rows += 1;
        if b.len == BATCH_ROWS && !emit(b.finish(schema).map_err(arrow_err)?) {
            return Ok(rows);
        }
    }
    let mut t = Tsv::open(&out_dir.join(REJECTIONS))?;
    let rc = RejCols::new(&t)?;
    while let Some(r) = t.next_row()? {
        b.rejected(&r, &rc, summary.batch_number, batch_date)?;
        rows += 1;
        if b.len == BATCH_ROWS && !emit(b.finish(schema).map_err(arrow_err)?) {
            return Ok(rows);
        }
    }
    if b.len > 0 {
        emit(b.finish(schema).map_err(arrow_err)?);
    }
    Ok(rows)
}

/// Column indices in `payments.tsv`, looked up by name once.
struct PayCols {
    claim: usize,
    line: usize,
    input_line: usize,
    byte_offset: usize,
    beneficiary: usize,
    practitioner: usize,
    date_of_care: usize,
    ty: usize,
    code: usize,
    activity: usize,
    phase: usize,
    coefficient: usize,
    quantity: usize,
    grid: usize,
    modifiers: usize,
    assoc_code: usize,
    assoc_coef: usize,
    unit_price: usize,
    pu_assoc_red: usize,
    base: usize,
    rate: usize,
    rate_reason: usize,
    amo_gross: usize,
    participation: usize,
    heavy_forfait: usize,
    amo_paid: usize,
    billed: usize,
    excess: usize,
    ticket: usize,
    amc_ticket: usize,
    amc_excess: usize,
    amc: usize,
    patient: usize,
    payee_kind: usize,
    amc_number: usize,
    amc_payee: usize,
    warnings: usize,
}

impl PayCols {
    fn new(t: &Tsv) -> Result<PayCols, TsvError> {
        Ok(PayCols {
            claim: t.col("claim")?,
            line: t.col("line")?,
            input_line: t.col("input_line")?,
            byte_offset: t.col("byte_offset")?,
            beneficiary: t.col("beneficiary")?,
            practitioner: t.col("practitioner")?,
            date_of_care: t.col("date_of_care")?,
            ty: t.col("type")?,
            code: t.col("code")?,
            activity: t.col("activity")?,
            phase: t.col("phase")?,
            coefficient: t.col("coefficient")?,
            quantity: t.col("quantity")?,
            grid: t.col("grid")?,
            modifiers: t.col("modifiers")?,
            assoc_code: t.col("assoc_code")?,
            assoc_coef: t.col("assoc_coef")?,
            unit_price: t.col("unit_price")?,
            pu_assoc_red: t.col("pu_assoc_red")?,
            base: t.col("base")?,
            rate: t.col("rate")?,
            rate_reason: t.col("rate_reason")?,
            amo_gross: t.col("amo_gross")?,
            participation: t.col("participation")?,
            heavy_forfait: t.col("heavy_forfait")?,
            amo_paid: t.col("amo_paid")?,
            billed: t.col("billed")?,
            excess: t.col("excess")?,
            ticket: t.col("ticket")?,
            amc_ticket: t.col("amc_ticket")?,
            amc_excess: t.col("amc_excess")?,
            amc: t.col("amc")?,
            patient: t.col("patient")?,
            payee_kind: t.col("payee_kind")?,
            amc_number: t.col("amc_number")?,
            amc_payee: t.col("amc_payee")?,
            warnings: t.col("warnings")?,
        })
    }
}

/// Column indices in `rejections.tsv`.
struct RejCols {
    claim: usize,
    line: usize,
    code: usize,
    reason: usize,
    input_line: usize,
    byte_offset: usize,
    practitioner: usize,
    billed: usize,
}

impl RejCols {
    fn new(t: &Tsv) -> Result<RejCols, TsvError> {
        Ok(RejCols {
            claim: t.col("claim")?,
            line: t.col("line")?,
            code: t.col("code")?,
            reason: t.col("reason")?,
            input_line: t.col("input_line")?,
            byte_offset: t.col("byte_offset")?,
            practitioner: t.col("practitioner")?,
            billed: t.col("billed")?,
        })
    }
}

/// Builders of every column, in `COLUMNS` order.
struct Builders {
    len: usize,
    status: StringBuilder,
    batch_number: Int32Builder,
    batch_date: Date32Builder,
    claim: StringBuilder,
    line: Int32Builder,
    input_line: Int64Builder,
    byte_offset: Int64Builder,
    ben_masked: StringBuilder,
    ben_rank: Int32Builder,
    ben_hash: Int64Builder,
    practitioner: StringBuilder,
    date_of_care: Date32Builder,
    ty: StringBuilder,
    code: StringBuilder,
    activity: StringBuilder,
    phase: Int32Builder,
    coefficient: Decimal128Builder,
    quantity: Int32Builder,
    grid: StringBuilder,
    modifiers: StringBuilder,
    assoc_code: StringBuilder,
    assoc_coef: Decimal128Builder,
    unit_price: Decimal128Builder,
    pu_assoc_red: Decimal128Builder,
    base: Decimal128Builder,
    rate: Decimal128Builder,
    rate_reason: StringBuilder,
    amo_gross: Decimal128Builder,
    participation: Decimal128Builder,
    heavy_forfait: Decimal128Builder,
    amo_paid: Decimal128Builder,
    billed: Decimal128Builder,
    excess: Decimal128Builder,
    ticket: Decimal128Builder,
    amc_ticket: Decimal128Builder,
    amc_excess: Decimal128Builder,
    amc: Decimal128Builder,
    patient: Decimal128Builder,
    payee_kind: StringBuilder,
    amc_number: StringBuilder,
    amc_payee: StringBuilder,
    warnings: StringBuilder,
    rejection_code: StringBuilder,
    rejection_reason: StringBuilder,
}

/// Largest magnitude (exclusive) of a `Decimal128(12, 2)` / `Decimal128(7, 2)` unscaled value. Arrow does
/// not check precision on append, so an oversized value would be written silently: we refuse it.
const AMOUNT_LIMIT: i64 = 1_000_000_000_000;
const RATE_LIMIT: i64 = 10_000_000;

fn s(b: &mut StringBuilder, v: &str) {
    if v.is_empty() {
        b.append_null()
    } else {
        b.append_value(v)
    }
}

fn amount(b: &mut Decimal128Builder, r: &Row, i: usize) -> Result<(), TsvError> {
    match r.opt_cents(i)? {
        Some(c) if c.abs() >= AMOUNT_LIMIT => Err(r.err(i, "amount too large for Decimal(12,2)")),
        Some(c) => {
            b.append_value(c as i128);
            Ok(())
        }
        None => {
            b.append_null();
            Ok(())
        }
    }
}

fn rate(b: &mut Decimal128Builder, r: &Row, i: usize) -> Result<(), TsvError> {
    match r.opt_bp(i)? {
        Some(v) if v.abs() >= RATE_LIMIT => Err(r.err(i, "value too large for Decimal(7,2)")),
        Some(v) => {
            b.append_value(v as i128);
            Ok(())
        }
        None => {
            b.append_null();
            Ok(())
        }
    }
}

fn int32(b: &mut Int32Builder, r: &Row, i: usize) -> Result<(), TsvError> {
    match r.opt_u64(i)? {
        Some(v) => {
            let v = i32::try_from(v).map_err(|_| r.err(i, "integer too large"))?;
            b.append_value(v);
        }
        None => b.append_null(),
    }
    Ok(())
}

fn int64(b: &mut Int64Builder, r: &Row, i: usize) -> Result<(), TsvError> {
    let v = r
        .opt_u64(i)?
        .ok_or_else(|| r.err(i, "empty (a position is required)"))?;
    b.append_value(i64::try_from(v).map_err(|_| r.err(i, "integer too large"))?);
    Ok(())
}

fn dec(ty: &DataType) -> Decimal128Builder {
    Decimal128Builder::with_capacity(BATCH_ROWS).with_data_type(ty.clone())
}

fn strs() -> StringBuilder {
    StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 8)
}

impl Builders {
    fn new() -> Builders {
        let n = BATCH_ROWS;
        Builders {
            len: 0,
            status: strs(),
            batch_number: Int32Builder::with_capacity(n),
            batch_date: Date32Builder::with_capacity(n),
            claim: strs(),
            line: Int32Builder::with_capacity(n),
            input_line: Int64Builder::with_capacity(n),
            byte_offset: Int64Builder::with_capacity(n),
            ben_masked: strs(),
            ben_rank: Int32Builder::with_capacity(n),
            ben_hash: Int64Builder::with_capacity(n),
            practitioner: strs(),
            date_of_care: Date32Builder::with_capacity(n),
            ty: strs(),
            code: strs(),
            activity: strs(),
            phase: Int32Builder::with_capacity(n),
            coefficient: dec(&RATE),
            quantity: Int32Builder::with_capacity(n),
            grid: strs(),
            modifiers: strs(),
            assoc_code: strs(),
            assoc_coef: dec(&RATE),
            unit_price: dec(&AMOUNT),
            pu_assoc_red: dec(&AMOUNT),
            base: dec(&AMOUNT),
            rate: dec(&RATE),
            rate_reason: strs(),
            amo_gross: dec(&AMOUNT),
            participation: dec(&AMOUNT),
            heavy_forfait: dec(&AMOUNT),
            amo_paid: dec(&AMOUNT),
            billed: dec(&AMOUNT),
            excess: dec(&AMOUNT),
            ticket: dec(&AMOUNT),
            amc_ticket: dec(&AMOUNT),
            amc_excess: dec(&AMOUNT),
            amc: dec(&AMOUNT),
            patient: dec(&AMOUNT),
            payee_kind: strs(),
            amc_number: strs(),
            amc_payee: strs(),
            warnings: strs(),
            rejection_code: strs(),
            rejection_reason: strs(),
        }
    }

    /// Validates every cell of a row before appending anything, so that a bad cell cannot leave the
    /// columns with different lengths (the error aborts the file anyway; this keeps the batch sane).
    fn paid(
        &mut self,
        r: &Row,
        c: &PayCols,
        batch: u32,
        batch_date: Option<i32>,
    ) -> Result<(), TsvError> {
        // Parse first (all fallible steps), append after.
        let ben = r.str(c.beneficiary);
        let (nir, rank) = ben
            .rsplit_once('-')
            .ok_or_else(|| r.err(c.beneficiary, "expected NIR-rank"))?;
        if nir.is_empty()
            || rank.is_empty()
            || rank.len() > 3
            || !rank.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(r.err(c.beneficiary, "expected NIR-rank"));
        }
        let rank: i32 = rank
            .parse()
            .map_err(|_| r.err(c.beneficiary, "expected NIR-rank"))?;
        let doc = r
            .opt_date(c.date_of_care)?
            .ok_or_else(|| r.err(c.date_of_care, "empty date of care"))?;
        for i in [c.billed, c.base, c.amo_paid] {
            if r.str(i).is_empty() {
                return Err(r.err(i, "empty amount"));
            }
        }
        validate_paid(r, c)?;

        self.status.append_value("PAID");
        self.batch_number.append_value(batch as i32);
        self.batch_date.append_option(batch_date);
        s(&mut self.claim, r.str(c.claim));
        int32(&mut self.line, r, c.line)?;
        int64(&mut self.input_line, r, c.input_line)?;
        int64(&mut self.byte_offset, r, c.byte_offset)?;
        self.ben_masked
            .append_value(liquidator_core::nir::mask(nir.as_bytes()));
        self.ben_rank.append_value(rank);
        // Stored as the two's complement of the u64: Spark and pandas have no unsigned 64-bit type.
        self.ben_hash.append_value(fnv1a64(ben.as_bytes()) as i64);
        s(&mut self.practitioner, r.str(c.practitioner));
        self.date_of_care.append_value(date32(doc));
        s(&mut self.ty, r.str(c.ty));
        s(&mut self.code, r.str(c.code));
        s(&mut self.activity, r.str(c.activity));
        int32(&mut self.phase, r, c.phase)?;
        rate(&mut self.coefficient, r, c.coefficient)?;
        int32(&mut self.quantity, r, c.quantity)?;
        s(&mut self.grid, r.str(c.grid));
        s(&mut self.modifiers, r.str(c.modifiers));
        s(&mut self.assoc_code, r.str(c.assoc_code));
        rate(&mut self.assoc_coef, r, c.assoc_coef)?;
        amount(&mut self.unit_price, r, c.unit_price)?;
        amount(&mut self.pu_assoc_red, r, c.pu_assoc_red)?;
        amount(&mut self.base, r, c.base)?;
        rate(&mut self.rate, r, c.rate)?;
        s(&mut self.rate_reason, r.str(c.rate_reason));
        amount(&mut self.amo_gross, r, c.amo_gross)?;
        amount(&mut self.participation, r, c.participation)?;
        amount(&mut self.heavy_forfait, r, c.heavy_forfait)?;
        amount(&mut self.amo_paid, r, c.amo_paid)?;
        amount(&mut self.billed, r, c.billed)?;
        amount(&mut self.excess, r, c.excess)?;
        amount(&mut self.ticket, r, c.ticket)?;
        amount(&mut self.amc_ticket, r, c.amc_ticket)?;
        amount(&mut self.amc_excess, r, c.amc_excess)?;
        amount(&mut self.amc, r, c.amc)?;
        amount(&mut self.patient, r, c.patient)?;
        s(&mut self.payee_kind, r.str(c.payee_kind));
        s(&mut self.amc_number, r.str(c.amc_number));
        s(&mut self.amc_payee, r.str(c.amc_payee));
        s(&mut self.warnings, r.str(c.warnings));
        self.rejection_code.append_null();
        self.rejection_reason.append_null();
        self.len += 1;
        Ok(())
    }

    fn rejected(
        &mut self,
        r: &Row,
        c: &RejCols,
        batch: u32,
        batch_date: Option<i32>,
    ) -> Result<(), TsvError> {
        let code = r.str(c.code);
        if code.is_empty() {
            return Err(r.err(c.code, "empty rejection code"));
        }
        // Validate the fallible cells before appending anything.
        for i in [c.input_line, c.byte_offset] {
            r.opt_u64(i)?
                .ok_or_else(|| r.err(i, "empty (a position is required)"))?;
        }
        match r.opt_cents(c.billed)? {
            None => return Err(r.err(c.billed, "empty amount")),
            Some(v) if v.abs() >= AMOUNT_LIMIT => {
                return Err(r.err(c.billed, "amount too large for Decimal(12,2)"));
            }
            Some(_) => {}
        }
        if let Some(l) = r.opt_u64(c.line)?
            && i32::try_from(l).is_err()
        {
            return Err(r.err(c.line, "integer too large"));
        }

        self.status
            .append_value(if code == crate::report::read::ORPHAN_CODE {
                "ORPHAN"
            } else {
                "REJECTED"
            });
        self.batch_number.append_value(batch as i32);
        self.batch_date.append_option(batch_date);
        s(&mut self.claim, r.str(c.claim));
        int32(&mut self.line, r, c.line)?;
        int64(&mut self.input_line, r, c.input_line)?;
        int64(&mut self.byte_offset, r, c.byte_offset)?;
        // rejections.tsv carries no beneficiary and no act: those columns are null, and so are the
        // liquidated amounts — a rejected claim was not liquidated (null, not 0, so that `avg()` and
        // `count(amo_paid)` stay about paid lines). Only the billed fee is known.
        self.ben_masked.append_null();
        self.ben_rank.append_null();
        self.ben_hash.append_null();
        s(&mut self.practitioner, r.str(c.practitioner));
        self.date_of_care.append_null();
        for b in [
            &mut self.ty,
            &mut self.code,
            &mut self.activity,
            &mut self.grid,
            &mut self.modifiers,
            &mut self.assoc_code,
            &mut self.rate_reason,
        ] {
            b.append_null();
        }
        self.phase.append_null();
        self.quantity.append_null();
        for b in [
            &mut self.coefficient,
            &mut self.assoc_coef,
            &mut self.unit_price,
            &mut self.pu_assoc_red,
            &mut self.base,
            &mut self.rate,
            &mut self.amo_gross,
            &mut self.participation,
            &mut self.heavy_forfait,
            &mut self.amo_paid,
        ] {
            b.append_null();
        }
        amount(&mut self.billed, r, c.billed)?;
        for b in [
            &mut self.excess,
            &mut self.ticket,
            &mut self.amc_ticket,
            &mut self.amc_excess,
            &mut self.amc,
            &mut self.patient,
        ] {
            b.append_null();
        }
        for b in [
            &mut self.payee_kind,
            &mut self.amc_number,
            &mut self.amc_payee,
            &mut self.warnings,
        ] {
            b.append_null();
        }
        self.rejection_code.append_value(code);
        s(&mut self.rejection_reason, r.str(c.reason));
        self.len += 1;
        Ok(())
    }

    /// Takes the accumulated rows as one record batch and resets the builders.
    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.status.finish()),
            Arc::new(self.batch_number.finish()),
            Arc::new(self.batch_date.finish()),
            Arc::new(self.claim.finish()),
            Arc::new(self.line.finish()),
            Arc::new(self.input_line.finish()),
            Arc::new(self.byte_offset.finish()),
            Arc::new(self.ben_masked.finish()),
            Arc::new(self.ben_rank.finish()),
            Arc::new(self.ben_hash.finish()),
            Arc::new(self.practitioner.finish()),
            Arc::new(self.date_of_care.finish()),
            Arc::new(self.ty.finish()),
            Arc::new(self.code.finish()),
            Arc::new(self.activity.finish()),
            Arc::new(self.phase.finish()),
            Arc::new(self.coefficient.finish()),
            Arc::new(self.quantity.finish()),
            Arc::new(self.grid.finish()),
            Arc::new(self.modifiers.finish()),
            Arc::new(self.assoc_code.finish()),
            Arc::new(self.assoc_coef.finish()),
            Arc::new(self.unit_price.finish()),
            Arc::new(self.pu_assoc_red.finish()),
            Arc::new(self.base.finish()),
            Arc::new(self.rate.finish()),
            Arc::new(self.rate_reason.finish()),
            Arc::new(self.amo_gross.finish()),
            Arc::new(self.participation.finish()),
            Arc::new(self.heavy_forfait.finish()),
            Arc::new(self.amo_paid.finish()),
            Arc::new(self.billed.finish()),
            Arc::new(self.excess.finish()),
            Arc::new(self.ticket.finish()),
            Arc::new(self.amc_ticket.finish()),
            Arc::new(self.amc_excess.finish()),
            Arc::new(self.amc.finish()),
            Arc::new(self.patient.finish()),
            Arc::new(self.payee_kind.finish()),
            Arc::new(self.amc_number.finish()),
            Arc::new(self.amc_payee.finish()),
            Arc::new(self.warnings.finish()),
            Arc::new(self.rejection_code.finish()),
            Arc::new(self.rejection_reason.finish()),
        ];
        self.len = 0;
        RecordBatch::try_new(schema.clone(), cols)
    }
}

/// Pre-validation of the fallible cells of a payment row (see [`Builders::paid`]).
fn validate_paid(r: &Row, c: &PayCols) -> Result<(), TsvError> {
    let amounts = [
        c.unit_price,
        c.pu_assoc_red,
        c.base,
        c.amo_gross,
        c.participation,
        c.heavy_forfait,
        c.amo_paid,
        c.billed,
        c.excess,
        c.ticket,
        c.amc_ticket,
        c.amc_excess,
        c.amc,
        c.patient,
    ];
    for i in amounts {
        if let Some(v) = r.opt_cents(i)?
            && v.abs() >= AMOUNT_LIMIT
        {
            return Err(r.err(i, "amount too large for Decimal(12,2)"));
        }
    }
    for i in [c.coefficient, c.assoc_coef, c.rate] {
        if let Some(v) = r.opt_bp(i)?
            && v.abs() >= RATE_LIMIT
        {
            return Err(r.err(i, "value too large for Decimal(7,2)"));
        }
    }
    for i in [c.line, c.phase, c.quantity] {
        if let Some(v) = r.opt_u64(i)?
            && i32::try_from(v).is_err()
        {
            return Err(r.err(i, "integer too large"));
        }
    }
    for i in [c.input_line, c.byte_offset] {
        let v = r
            .opt_u64(i)?
            .ok_or_else(|| r.err(i, "empty (a position is required)"))?;
        if i64::try_from(v).is_err() {
            return Err(r.err(i, "integer too large"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_reference_vectors() {
        // From the FNV reference test suite (Fowler, Noll, Vo).
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn date32_is_days_since_unix_epoch() {
        assert_eq!(date32(Date(19700101)), 0);
        assert_eq!(date32(Date(19700102)), 1);
        assert_eq!(date32(Date(20000301)), 11017);
        assert_eq!(date32(Date(19691231)), -1);
    }

    #[test]
    fn schema_matches_the_builders() {
        let mut b = Builders::new();
        let batch = b.finish(&schema());
        assert!(batch.is_ok(), "{batch:?}");
        assert_eq!(schema().fields().len(), COLUMNS.len());
    }
}

// ---- Interface used by the binary (src/parquet.rs); being implemented as a streaming sink. ----

/// The secret key of the beneficiary pseudonym.
#[derive(Clone)]
pub struct PseudonymKey([u8; 32]);

impl PseudonymKey {
    pub fn from_secret(secret: &[u8]) -> Result<PseudonymKey, String> {
        if secret.len() < 16 {
            return Err("the key must hold at least 16 bytes".into());
        }
        let mut k = [0u8; 32];
        for (i, b) in secret.iter().enumerate() {
            k[i % 32] ^= *b;
        }
        Ok(PseudonymKey(k))
    }
}

/// The Parquet export as a sink of the run.
pub struct ParquetSink;

impl ParquetSink {
    pub fn create(
        _dir: &Path,
        _key: PseudonymKey,
    ) -> Result<ParquetSink, liquidator_core::sink::SinkError> {
        Err(liquidator_core::sink::SinkError::Other(
            "the streaming Parquet sink is not built yet".into(),
        ))
    }
}

impl liquidator_core::sink::Sink for ParquetSink {
    fn window(
        &mut self,
        _events: &[liquidator_core::sink::Event<'_>],
    ) -> Result<(), liquidator_core::sink::SinkError> {
        Ok(())
    }
}
