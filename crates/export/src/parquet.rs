//! Liquidated lines as Parquet, for analysts (layout: `formats/parquet.md`), written as one more
//! [`Sink`] of the run: the same pass that writes the TSV files, from the typed outcomes.
//!
//! One row per paid line (status `PAID`), one per rejected claim (`REJECTED`) and one per record found
//! outside any claim (`ORPHAN`), **in file order** (the order of the events the engine hands over), so
//! that the file holds everything the run read: `sum(billed)` over all rows is the trailer's total, and
//! over `PAID` + `REJECTED` rows it is `summary.json`'s `billed_cents`.
//!
//! The columns are **one table**, [`COLUMNS`]: name, Arrow type, nullability, SNDS analogue and the
//! extractor that reads the cell from a typed row. The schema, the builders and the doc's column table
//! all follow it (a test checks the doc). Amounts are `Decimal128(12, 2)`, percentages and
//! coefficients `Decimal128(7, 2)`: exact, like the cents they come from.
//!
//! The NIR never appears in clear: the file keeps the masked NIR (as in logs), the rank and a **keyed**
//! pseudonym of `NIR-rank` (BLAKE3 keyed hash under a secret given at run time, [`PseudonymKey`]).
//!
//! Streaming: each window's rows are gathered in order on the emit thread (into the previous window's
//! rows buffer, kept for its allocation) and keyed column by column, by one task per block on the run's pool, into the current row group's encoders; a full row
//! group of [`BATCH_ROWS`] rows goes through a bounded channel to a writer thread that closes it into
//! column chunks (the sink's own encoders: [`dict`], [`delta`], [`plain`]; parquet-rs's file writer
//! assembles them) and writes them, beside the run's next windows. Memory is bounded by a few row groups, not by the day.

use arrow_array::builder::{NullBufferBuilder, OffsetBufferBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, Date32Array, Decimal128Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use liquidator_core::claims::reader::Orphan;
use liquidator_core::claims::{Act, ActLine, ClaimHeader, ParsedClaim};
use liquidator_core::codes::Reject;
use liquidator_core::date::Date;
use liquidator_core::engine::BatchInfo;
use liquidator_core::output::fmt;
use liquidator_core::output::writeback::WriteBack;
use liquidator_core::rules::{LineRejection, LineResult, Outcome, Paid, Rejection};
use liquidator_core::sink::{Event, Sink, SinkError, segments};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, Type as PhysicalType};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::{ColumnDescPtr, ColumnPath};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod blake4;
mod delta;
mod dict;
mod plain;
mod pool;

/// Rows per Parquet row group: large enough for good compression and fast scans, small enough to keep
/// the writer's memory at a few tens of MB.
pub const BATCH_ROWS: usize = 64 * 1024;

/// File name written by `liquidator run --parquet` in the output directory.
pub const PARQUET_FILE: &str = "liquidated_lines.parquet";

/// Layout version, in the file's key-value metadata (`liquidator.layout`).
pub const LAYOUT: &str = "liquidated_lines/2 (formats/parquet.md)";

/// Amounts: up to 9 999 999 999,99 € per line.
const AMOUNT: DataType = DataType::Decimal128(12, 2);
/// Percentages and coefficients: up to 99 999,99.
const RATE: DataType = DataType::Decimal128(7, 2);
const AMOUNT_LIMIT: i64 = 1_000_000_000_000;
const RATE_LIMIT: i64 = 10_000_000;

/// Days between 0000-03-01 (origin of [`Date::to_days`]) and 1970-01-01 (origin of Arrow's `Date32`).
const UNIX_EPOCH_DAYS: i64 = 719_468;

fn date32(d: Date) -> Option<i32> {
    Date::from_u32(d.0).map(|d| (d.to_days() - UNIX_EPOCH_DAYS) as i32)
}

// ---------------------------------------------------------------------------------------------------
// The pseudonym key.

/// BLAKE3 `derive_key` context of the pseudonym key (application, date, purpose: BLAKE3's advice).
/// Changing it changes every pseudonym: it is part of the layout.
pub const KEY_CONTEXT: &str = "liquidator 2026-05 beneficiary pseudonym v1";
/// Context of the public key identifier written in the file's metadata.
const KEY_ID_CONTEXT: &str = "liquidator 2026-05 pseudonym key identifier v1";
/// Minimum length of the secret, in bytes.
pub const MIN_SECRET: usize = 16;

/// The secret key of the beneficiary pseudonym: `blake3::derive_key(KEY_CONTEXT, secret)`.
///
/// `beneficiary_hash = first 8 bytes, little-endian, as i64, of blake3::keyed_hash(key, "NIR-rank")`.
/// Without the secret, a pseudonym cannot be recomputed from a NIR, so the small NIR space cannot be
/// enumerated against the file (formats/parquet.md, "Beneficiary").
#[derive(Clone)]
pub struct PseudonymKey {
    key: [u8; 32],
}

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        write!(f, "PseudonymKey(id {})", self.id())
    }
}

impl PseudonymKey {
    /// Derives the key from a secret of at least [`MIN_SECRET`] bytes (any bytes: a passphrase, or
    /// random bytes from a key file).
    pub fn from_secret(secret: &[u8]) -> Result<PseudonymKey, String> {
        if secret.len() < MIN_SECRET {
            return Err(format!(
                "the secret must hold at least {MIN_SECRET} bytes (it has {})",
                secret.len()
            ));
        }
        Ok(PseudonymKey {
            key: blake3::derive_key(KEY_CONTEXT, secret),
        })
    }

    /// The pseudonym of `NIR-rank` bytes (`1850578006084-001`).
    pub fn pseudonym(&self, nir_rank: &[u8]) -> i64 {
        let h = blake3::keyed_hash(&self.key, nir_rank);
        let b = h.as_bytes();
        i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    }

    /// The pseudonym of a claim's beneficiary.
    pub fn of(&self, h: &ClaimHeader) -> i64 {
        self.pseudonym(&nir_rank(h))
    }

    /// A public identifier of the key (16 hex digits): tells whether two files were pseudonymised
    /// with the same key, without revealing it.
    pub fn id(&self) -> String {
        let d = blake3::derive_key(KEY_ID_CONTEXT, &self.key);
        d[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// `NIR-rank` (`1850578006084-001`), as in `payments.tsv` (the rank on its last 3 digits, as
/// `fmt::padded`), built on the stack: one per claim, a heap buffer cost a sixth of the pseudonym.
fn nir_rank(h: &ClaimHeader) -> [u8; 17] {
    let mut b = [0u8; 17];
    b[..13].copy_from_slice(&h.nir);
    b[13] = b'-';
    let r = h.rank;
    b[14] = b'0' + (r / 100 % 10) as u8;
    b[15] = b'0' + (r / 10 % 10) as u8;
    b[16] = b'0' + (r % 10) as u8;
    b
}

// ---------------------------------------------------------------------------------------------------
// Rows and the column table.

/// The batch the rows belong to (constant columns).
#[derive(Clone, Copy, Debug)]
struct Batch {
    number: i32,
    /// As read (`batch_date` is null when it is not a valid date).
    date: Date,
}

/// A paid line with what its cells are read from.
#[derive(Clone, Copy)]
struct PaidRow<'a> {
    h: &'a ClaimHeader,
    l: &'a ActLine,
    pos: liquidator_core::claims::Pos,
    r: &'a LineResult,
    p: &'a Paid,
    pseudonym: i64,
}

/// One row of the file.
#[derive(Clone, Copy)]
enum Row<'a> {
    Paid(PaidRow<'a>),
    /// A rejected claim (`REJECTED`).
    Rejected {
        claim: &'a ParsedClaim,
        practitioner: Option<u32>,
        rej: &'a Rejection,
    },
    /// A line rejected on its own in a paid claim (`REJECTED_LINE`): `billed` is its fee.
    RejectedLine {
        claim: &'a ParsedClaim,
        practitioner: u32,
        rej: &'a Rejection,
        fee: i64,
    },
    Orphan(&'a Orphan),
}

/// How a column's cells are read: the variant fixes the Arrow type, the function fills a whole block
/// of rows (a loop with the cell's extractor inlined: no call per cell). Written with the macros
/// [`utf8!`], [`int32!`], … from a per-cell extractor (`None`, or `false` for text, is null).
#[derive(Clone, Copy)]
enum Get {
    Utf8(fn(&Batch, &[Row], &mut StrCol)),
    Int32(fn(&Batch, &[Row], &mut PrimCol<i32>)),
    Int64(fn(&Batch, &[Row], &mut PrimCol<i64>)),
    /// From a [`Date`] (converted once per run of equal dates: a day's claims share a few dates).
    Date32(fn(&Batch, &[Row], &mut PrimCol<i32>)),
    /// Cents → `Decimal64(12, 2)`.
    Amount(fn(&Batch, &[Row], &mut PrimCol<i64>)),
    /// Hundredths (basis points of a percentage, or a coefficient) → `Decimal64(7, 2)`.
    Rate(fn(&Batch, &[Row], &mut PrimCol<i64>)),
}

/// A text column being built: the cells' bytes end to end, their offsets and validity.
struct StrCol {
    values: Vec<u8>,
    offsets: OffsetBufferBuilder<i32>,
    nulls: NullBufferBuilder,
}

impl StrCol {
    fn new(n: usize) -> StrCol {
        StrCol {
            values: Vec::with_capacity(n * 8),
            offsets: OffsetBufferBuilder::new(n),
            nulls: NullBufferBuilder::new(n),
        }
    }

    /// Appends a cell per row. The extractor writes the cell's bytes straight after the previous
    /// cells (no per-cell buffer to copy) and says whether the cell is valid; a null cell's bytes, if
    /// any, are dropped.
    #[inline(always)]
    fn fill<'a>(&mut self, rows: &[Row<'a>], mut f: impl FnMut(&Row<'a>, &mut Vec<u8>) -> bool) {
        for r in rows {
            let start = self.values.len();
            if f(r, &mut self.values) {
                self.offsets.push_length(self.values.len() - start);
                self.nulls.append_non_null();
            } else {
                self.values.truncate(start);
                self.offsets.push_length(0);
                self.nulls.append_null();
            }
        }
    }

    fn finish(mut self) -> Result<ArrayRef, String> {
        let nulls = self.nulls.finish();
        let offsets = self.offsets.finish();
        // One UTF-8 check of the whole block (the cells are ASCII but for input bytes that may not
        // be): on failure, each cell is converted lossily, as a `String` cell would be.
        match std::str::from_utf8(&self.values) {
            Ok(_) => StringArray::try_new(offsets, self.values.into(), nulls)
                .map(|a| Arc::new(a) as ArrayRef)
                .map_err(|e| e.to_string()),
            Err(_) => {
                let mut b = StringBuilder::with_capacity(offsets.len(), self.values.len());
                for (i, w) in offsets.windows(2).enumerate() {
                    if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                        b.append_null();
                    } else {
                        let cell = &self.values[w[0] as usize..w[1] as usize];
                        b.append_value(String::from_utf8_lossy(cell));
                    }
                }
                self.values.clear();
                Ok(Arc::new(b.finish()))
            }
        }
    }
}

/// A fixed-width column being built.
struct PrimCol<T> {
    values: Vec<T>,
    nulls: NullBufferBuilder,
}

impl<T: Copy + Default> PrimCol<T> {
    fn new(n: usize) -> PrimCol<T> {
        PrimCol {
            values: Vec::with_capacity(n),
            nulls: NullBufferBuilder::new(n),
        }
    }

    #[inline(always)]
    fn fill<'a>(&mut self, rows: &[Row<'a>], mut f: impl FnMut(&Row<'a>) -> Option<T>) {
        for r in rows {
            match f(r) {
                Some(v) => {
                    self.values.push(v);
                    self.nulls.append_non_null();
                }
                None => {
                    self.values.push(T::default());
                    self.nulls.append_null();
                }
            }
        }
    }
}

/// The column's block builder and cell reader from a per-cell extractor `|batch, row, buf| -> bool`
/// (text).
macro_rules! utf8 {
    (|$c:pat_param, $r:pat_param, $b:pat_param| $body:expr $(,)?) => {
        (
            Get::Utf8(|batch, rows, out| {
                let f = |$c: &Batch, $r: &Row, $b: &mut Vec<u8>| -> bool { $body };
                out.fill(rows, |r, b| f(batch, r, b))
            }),
            Cell::Text(|$c: &Batch, $r: &Row, $b: &mut Vec<u8>| -> bool { $body }),
        )
    };
}

/// The same for the fixed-width variants (`|batch, row| -> Option<…>`).
macro_rules! prim {
    ($v:ident, $cell:ident, $t:ty, |$c:pat_param, $r:pat_param| $body:expr $(,)?) => {
        (
            Get::$v(|batch, rows, out| {
                let f = |$c: &Batch, $r: &Row| -> Option<$t> { $body };
                out.fill(rows, |r| f(batch, r))
            }),
            Cell::$cell(|$c: &Batch, $r: &Row| -> Option<$t> { $body }),
        )
    };
}
macro_rules! int32 {
    ($($t:tt)*) => { prim!(Int32, I32, i32, $($t)*) };
}
macro_rules! int64 {
    ($($t:tt)*) => { prim!(Int64, I64, i64, $($t)*) };
}
macro_rules! date32 {
    (|$c:pat_param, $r:pat_param| $body:expr $(,)?) => {
        (
            Get::Date32(|batch, rows, out| {
                let f = |$c: &Batch, $r: &Row| -> Option<Date> { $body };
                let mut last: (u32, Option<i32>) = (u32::MAX, None);
                out.fill(rows, |r| {
                    let d = f(batch, r)?;
                    if d.0 != last.0 {
                        last = (d.0, date32(d));
                    }
                    last.1
                })
            }),
            Cell::Date(|$c: &Batch, $r: &Row| -> Option<Date> { $body }),
        )
    };
}
macro_rules! amount {
    ($($t:tt)*) => { prim!(Amount, I64, i64, $($t)*) };
}
macro_rules! rate {
    ($($t:tt)*) => { prim!(Rate, I64, i64, $($t)*) };
}

/// The cell of one row, read without building a column: the same extractor as [`Get`]'s (written
/// once in the macros), for the writers that take cells one by one (a dictionary value, the columns
/// encoded by the sink itself). `None` / `false` is null.
#[derive(Clone, Copy)]
enum Cell {
    /// Text, appended to the buffer.
    Text(fn(&Batch, &Row, &mut Vec<u8>) -> bool),
    I32(fn(&Batch, &Row) -> Option<i32>),
    /// Int64, amounts and rates (before their range check).
    I64(fn(&Batch, &Row) -> Option<i64>),
    /// A date (converted to `Date32` by [`date32`]; an invalid date is null).
    Date(fn(&Batch, &Row) -> Option<Date>),
}

impl Get {
    fn data_type(self) -> DataType {
        match self {
            Get::Utf8(_) => DataType::Utf8,
            Get::Int32(_) => DataType::Int32,
            Get::Int64(_) => DataType::Int64,
            Get::Date32(_) => DataType::Date32,
            Get::Amount(_) => AMOUNT,
            Get::Rate(_) => RATE,
        }
    }
}

/// One column of the file: the single source of the schema, the builders and the doc's table.
pub struct Col {
    pub name: &'static str,
    pub nullable: bool,
    /// SNDS analogue (`ER_PRS_F` / `ER_CAM_F` variable), also in the field metadata `snds`.
    pub snds: &'static str,
    get: Get,
    cell: Cell,
    /// The cell's dictionary key for the sink's own dictionary encoder ([`dict`]): equal keys are
    /// equal cells, `None` is a null cell. Without a key, the column goes through parquet-rs's Arrow
    /// column writer: the columns without a dictionary ([`no_dictionary`]: deltas, plain + Snappy).
    key: Option<Key>,
    /// The amounts of many values written as deltas ([`DELTA_AMOUNTS`]): how a slice's cells are
    /// pushed into the column's chunk ([`delta::AmountChunk`]).
    amount: Option<AmountFill>,
    /// The columns the sink writes PLAIN or as position deltas (`claim`, `input_line`,
    /// `byte_offset`): a slice's cells pushed by a loop with the cell inlined ([`Fill`]), where a
    /// call of the cell's extractor per row cost ≈ 70 instructions a `claim` cell.
    fill: Option<Fill>,
}

/// Pushes the cells of a slice into a column's text or position chunk (see [`Col::fill`]).
#[derive(Clone, Copy)]
enum Fill {
    /// A text of fixed length per row, or null (`claim`, `practitioner`: 9 digits).
    Text9(for<'r, 'a> fn(&Part<'r, 'a>, &mut plain::TextChunk) -> Result<(), String>),
    /// A position per row, never null.
    Position(for<'r, 'a> fn(&Part<'r, 'a>, &mut delta::DeltaChunk)),
}

/// Pushes the cells of a slice of rows into an amount column's delta chunk: a loop with the cell's
/// extractor inlined, written with [`paid_delta!`] (a column of paid lines) or [`all_delta!`].
type AmountFill =
    for<'r, 'a> fn(&Col, &Batch, &Part<'r, 'a>, &mut delta::AmountChunk) -> Result<(), String>;

/// The [`AmountFill`] of a column whose cells are the paid rows' `|p| -> i64` and null on the
/// other rows: the slice's levels copied from its mask, the paid rows' values pushed in order.
macro_rules! paid_delta {
    (|$p:pat_param| $body:expr $(,)?) => {
        |_: &Col, _: &Batch, part: &Part, a: &mut delta::AmountChunk| {
            let f = |$p: &PaidRow| -> i64 { $body };
            a.push_paid(part.mask, part.paid.iter().map(|p| f(p)))
        }
    };
}

/// The [`AmountFill`] of a column never null, its cell `|batch, row| -> i64` on every row.
macro_rules! all_delta {
    (|$c:pat_param, $r:pat_param| $body:expr $(,)?) => {
        |_: &Col, batch: &Batch, part: &Part, a: &mut delta::AmountChunk| {
            let f = |$c: &Batch, $r: &Row| -> i64 { $body };
            a.push_all(part.rows.iter().map(|r| f(batch, r)))
        }
    };
}

/// Pushes the cells of a slice of rows into the column's dictionary chunk: a loop with the column's
/// key function inlined, written with [`key!`] (a key read from every row) or [`paid_key!`] (a
/// column of paid lines, null on the other rows).
type Key = for<'r, 'a> fn(&Col, &Batch, &Part<'r, 'a>, &mut dict::DictChunk) -> Result<(), String>;

/// A slice of at most [`CACHE_ROWS`] rows as the key functions read it: the rows, and its paid rows
/// apart, gathered once per block for all the columns ([`PaidRows`]). 14 of the 32 dictionary
/// columns hold a value on every paid row and nothing on the others (amounts, rates, the
/// beneficiary, the payee): their loops run over the paid rows alone ([`dict::DictChunk::push_paid`]),
/// without testing each row's kind, and copy the slice's definition levels (`mask`) at once instead
/// of storing one per cell (README "Performance", sixth pass).
struct Part<'r, 'a> {
    rows: &'r [Row<'a>],
    /// The paid rows of `rows`, in order, and their positions in `rows`.
    paid: &'r [&'r PaidRow<'a>],
    at: &'r [u8],
    /// Per row of `rows`: 1 for a paid row, else 0.
    mask: &'r [u8],
}

/// The paid rows of a block, gathered once before its columns are encoded in parallel: per slice of
/// [`CACHE_ROWS`] rows, the paid rows (`paid[starts[s]..starts[s + 1]]`), their positions in the slice
/// (`at`, same range) and a definition level per row of the block (`mask`).
#[derive(Default)]
struct PaidRows<'r, 'a> {
    paid: Vec<&'r PaidRow<'a>>,
    at: Vec<u8>,
    mask: Vec<u8>,
    starts: Vec<usize>,
}

impl<'r, 'a> PaidRows<'r, 'a> {
    fn gather(&mut self, block: &'r [Row<'a>]) {
        self.paid.clear();
        self.at.clear();
        self.mask.clear();
        self.starts.clear();
        for part in block.chunks(CACHE_ROWS) {
            self.starts.push(self.paid.len());
            for (i, r) in part.iter().enumerate() {
                let is_paid = match r {
                    Row::Paid(p) => {
                        self.paid.push(p);
                        self.at.push(i as u8);
                        true
                    }
                    _ => false,
                };
                self.mask.push(u8::from(is_paid));
            }
        }
        self.starts.push(self.paid.len());
    }

    /// The `s`-th slice of the block, `rows`, with its paid rows.
    fn part<'p>(&'p self, s: usize, rows: &'p [Row<'a>]) -> Result<Part<'p, 'a>, String> {
        let range = match (self.starts.get(s), self.starts.get(s + 1)) {
            (Some(&a), Some(&b)) => a..b,
            _ => return Err("a slice past the block's paid rows".into()),
        };
        let first = s * CACHE_ROWS;
        match (
            self.paid.get(range.clone()),
            self.at.get(range),
            self.mask.get(first..first + rows.len()),
        ) {
            (Some(paid), Some(at), Some(mask)) => Ok(Part {
                rows,
                paid,
                at,
                mask,
            }),
            _ => Err("a slice past the block's paid rows".into()),
        }
    }
}

/// The [`Key`] of a column from its per-cell key function `|batch, row| -> Option<u64>`; a key seen
/// for the first time in the row group has its value built by the column's extractor ([`plain_value`]).
/// (`key!(small, …)`, an `Option<u32>` key, keyed `practitioner` until it was written PLAIN,
/// [`PLAIN_TEXT`].)
macro_rules! key {
    (|$c:pat_param, $r:pat_param| $body:expr $(,)?) => {
        |col: &Col, batch: &Batch, part: &Part, d: &mut dict::DictChunk| {
            let f = |$c: &Batch, $r: &Row| -> Option<u64> { $body };
            let phys = d.physical_type();
            d.push_all(
                part.rows,
                |r| f(batch, r),
                |r, out| plain_value(col, phys, batch, r, out),
            )
        }
    };
}

/// The [`Key`] of a column whose cells are null outside the paid rows, from the key of a paid row:
/// `paid_key!(|p| …)` a `u64` never null on a paid row (the loop over the slice's paid rows alone,
/// [`Part`]); `paid_key!(opt, |p| …)` an `Option<u64>`, `paid_key!(wide, |p| …)` an `Option<u128>` (a
/// text of up to 15 bytes, [`pack_wide`]) and `paid_key!(date, |p| …)` a [`Date`] (keyed as in
/// [`date_key!`], validated by [`valid_date`]) are read from every
/// row: for a column with null cells on paid rows, a loop over the paid rows that stored a level per
/// cell was slower than the loop over all rows (README "Performance", sixth pass).
macro_rules! paid_key {
    (|$p:pat_param| $body:expr $(,)?) => {
        |col: &Col, batch: &Batch, part: &Part, d: &mut dict::DictChunk| {
            let f = |$p: &PaidRow| -> u64 { $body };
            let phys = d.physical_type();
            d.push_paid(
                part.paid,
                part.mask,
                |p| f(p),
                |j, out| paid_value(col, phys, batch, part, j, out),
            )
        }
    };
    (opt, |$p:pat_param| $body:expr $(,)?) => {
        paid_key!(@all u64 |$p| $body)
    };
    (wide, |$p:pat_param| $body:expr $(,)?) => {
        paid_key!(@all u128 |$p| $body)
    };
    (date, |$p:pat_param| $body:expr $(,)?) => {
        |col: &Col, batch: &Batch, part: &Part, d: &mut dict::DictChunk| {
            let f = |$p: &PaidRow| -> Date { $body };
            let phys = d.physical_type();
            d.push_all_checked(
                part.rows,
                |r| match r {
                    Row::Paid(p) => Some(u64::from(f(p).0)),
                    _ => None,
                },
                valid_date,
                |r, out| plain_value(col, phys, batch, r, out),
            )
        }
    };
    (@all $k:ty |$p:pat_param| $body:expr) => {
        |col: &Col, batch: &Batch, part: &Part, d: &mut dict::DictChunk| {
            let f = |$p: &PaidRow| -> Option<$k> { $body };
            let phys = d.physical_type();
            d.push_all(
                part.rows,
                |r| match r {
                    Row::Paid(p) => f(p),
                    _ => None,
                },
                |r, out| plain_value(col, phys, batch, r, out),
            )
        }
    };
}

/// [`plain_value`] of the `j`-th paid row of a slice.
fn paid_value(
    c: &Col,
    phys: PhysicalType,
    batch: &Batch,
    part: &Part,
    j: usize,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let row = part
        .at
        .get(j)
        .and_then(|&i| part.rows.get(usize::from(i)))
        .ok_or_else(|| format!("column {}: a paid row past the slice", c.name))?;
    plain_value(c, phys, batch, row, out)
}

/// Whether a date key (a `YYYYMMDD` integer) is a date: asked by the dictionary once per key new to
/// the row group ([`dict::DictChunk::push_all_checked`]), not per change of date (109 000 calls of
/// `Date::from_u32` on a 100 k-claim day, a few hundred now).
fn valid_date(k: u64) -> bool {
    u32::try_from(k).ok().and_then(Date::from_u32).is_some()
}

/// The [`Key`] of a date column read from every row, from its per-cell date
/// `|batch, row| -> Option<Date>`: the date's `YYYYMMDD` integer, null for an invalid date (as the
/// Arrow column), validated once per key new to the row group ([`valid_date`]). A valid `YYYYMMDD`
/// names one day, hence one `Date32` value: the same classes of equal cells as keying by the `Date32`
/// value, without its conversion per change of date (108 000 on a 100 k-claim day); the value itself
/// is converted once per dictionary entry ([`plain_value`]).
macro_rules! date_key {
    (|$c:pat_param, $r:pat_param| $body:expr $(,)?) => {
        |col: &Col, batch: &Batch, part: &Part, d: &mut dict::DictChunk| {
            let f = |$c: &Batch, $r: &Row| -> Option<Date> { $body };
            let phys = d.physical_type();
            d.push_all_checked(
                part.rows,
                |r| f(batch, r).map(|v| u64::from(v.0)),
                valid_date,
                |r, out| plain_value(col, phys, batch, r, out),
            )
        }
    };
}

impl Col {
    pub fn data_type(&self) -> DataType {
        self.get.data_type()
    }
}

const fn col(name: &'static str, nullable: bool, snds: &'static str, gc: (Get, Cell)) -> Col {
    Col {
        name,
        nullable,
        snds,
        get: gc.0,
        cell: gc.1,
        key: None,
        amount: None,
        fill: None,
    }
}

impl Col {
    /// The column with its dictionary key (see [`Col::key`]).
    const fn keyed(self, key: Key) -> Col {
        Col {
            key: Some(key),
            ..self
        }
    }

    /// The column written by the sink's plain or position encoder with its cells' fill (see
    /// [`Col::fill`]).
    const fn filled(self, fill: Fill) -> Col {
        Col {
            fill: Some(fill),
            ..self
        }
    }

    /// The column written as deltas, with its cells' fill (see [`Col::amount`]).
    const fn deltas(self, fill: AmountFill) -> Col {
        Col {
            amount: Some(fill),
            ..self
        }
    }
}

/// Up to 7 bytes and their length, as a key (injective): the length in the low byte, the bytes
/// above it. Built as one 8-byte copy of a fixed length (a few moves once inlined; a byte-by-byte
/// fold cost a tenth of the keys' instructions). The length is checked when the code is compiled.
#[inline(always)]
fn pack<const N: usize>(b: &[u8; N]) -> u64 {
    const { assert!(N <= 7, "a u64 key holds up to 7 bytes: use pack_wide") };
    let mut a = [0u8; 8];
    a[1..1 + N].copy_from_slice(b);
    u64::from_le_bytes(a) | N as u64
}

/// Up to 15 bytes and their length, as a `u128` key (as [`pack`]).
#[inline(always)]
fn pack_wide<const N: usize>(b: &[u8; N]) -> u128 {
    const { assert!(N <= 15, "a u128 key holds up to 15 bytes") };
    let mut a = [0u8; 16];
    a[1..1 + N].copy_from_slice(b);
    u128::from_le_bytes(a) | N as u128
}

/// The key of a cell written with [`put_trimmed`]: null when only spaces are left.
#[inline(always)]
fn trimmed_key<const N: usize>(b: &[u8; N]) -> Option<u64> {
    b.iter().any(|&c| c != b' ').then(|| pack(b))
}

/// [`trimmed_key`] for up to 15 bytes.
#[inline(always)]
fn trimmed_key_wide<const N: usize>(b: &[u8; N]) -> Option<u128> {
    b.iter().any(|&c| c != b' ').then(|| pack_wide(b))
}

/// The key of an amount, rate or integer cell: the value itself (a bijection of `i64` on `u64`).
fn num(v: i64) -> u64 {
    v as u64
}

/// `n`'s last 9 digits, zero-padded: the text of `fmt::padded(b, n, 9)` (claim and practitioner
/// numbers), two digits per step. The claim column writes one per row: `fmt::padded`'s division per
/// digit cost ≈ 170 instructions a cell.
#[inline(always)]
fn padded9(b: &mut Vec<u8>, n: u32) {
    b.extend_from_slice(&digits9(n));
}

/// The 9 bytes [`padded9`] appends: the first digit, then the other 8 computed side by side in the
/// lanes of one integer (SWAR: the two halves of 4 digits in 32-bit lanes, split into pairs in
/// 16-bit lanes, then into digits in bytes; each step's quotient is a multiplication and a shift
/// exact on its lane's range). About 20 instructions, where one division by 100 per pair of digits
/// took about 35 (callgrind, 100 k-claim day).
#[inline(always)]
fn digits9(n: u32) -> [u8; 9] {
    let x = n % 1_000_000_000;
    let (first, rest) = (x / 100_000_000, u64::from(x % 100_000_000));
    // Lanes in memory order (little-endian): the high 4 digits, then the low 4. The products stay
    // within their lanes and below 2^64, and each remainder is not negative (a quotient exact on
    // its lane): `wrapping_*` only spares the release profile's overflow checks.
    let v = (rest / 10_000) | ((rest % 10_000) << 32);
    // Per 32-bit lane `y < 10 000`: `y / 100 = (y × 10 486) >> 20`.
    let q = (v.wrapping_mul(10_486) >> 20) & 0x0000_007F_0000_007F;
    let v = q | (v.wrapping_sub(q.wrapping_mul(100)) << 16);
    // Per 16-bit lane `y < 100`: `y / 10 = (y × 103) >> 10`.
    let q = (v.wrapping_mul(103) >> 10) & 0x000F_000F_000F_000F;
    let v = q | (v.wrapping_sub(q.wrapping_mul(10)) << 8);
    let digits = (v | 0x3030_3030_3030_3030).to_le_bytes();
    let mut d = [b'0' + first as u8; 9];
    d[1..].copy_from_slice(&digits);
    d
}

/// [`digits9`] of `n`, computed only when `n` is not the previous number (`last`): the lines of a
/// claim are consecutive rows with the same claim and practitioner numbers (about 1.8 rows a claim).
#[inline(always)]
fn digits9_run(last: &mut (u32, [u8; 9]), n: u32) -> [u8; 9] {
    if n != last.0 {
        *last = (n, digits9(n));
    }
    last.1
}

/// The state of [`digits9_run`] before a slice's first row: a pair that is right for any number.
fn no_run() -> (u32, [u8; 9]) {
    (0, digits9(0))
}

/// The row's practitioner number (`practitioner`), if any.
#[inline(always)]
fn practitioner(r: &Row) -> Option<u32> {
    match r {
        Row::Paid(p) => Some(p.h.practitioner),
        Row::Rejected { practitioner, .. } => *practitioner,
        Row::RejectedLine { practitioner, .. } => Some(*practitioner),
        Row::Orphan(_) => None,
    }
}

/// The row's claim number (`claim`).
#[inline(always)]
fn claim_no(r: &Row) -> u32 {
    match r {
        Row::Paid(p) => p.h.claim_no,
        Row::Rejected { claim, .. } | Row::RejectedLine { claim, .. } => claim.claim_no,
        Row::Orphan(o) => o.claim_no,
    }
}

/// The row's record position in the claims file (`input_line`, `byte_offset`).
#[inline(always)]
fn pos(r: &Row) -> liquidator_core::claims::Pos {
    match r {
        Row::Paid(p) => p.pos,
        Row::Rejected { rej, .. } | Row::RejectedLine { rej, .. } => rej.pos,
        Row::Orphan(o) => o.pos,
    }
}

fn put(b: &mut Vec<u8>, s: &str) -> bool {
    b.extend_from_slice(s.as_bytes());
    true
}

/// Appends the bytes without their trailing spaces; null when nothing is left.
fn put_trimmed(b: &mut Vec<u8>, s: &[u8]) -> bool {
    let start = b.len();
    fmt::trimmed(b, s);
    b.len() > start
}

fn paid<T>(r: &Row, f: impl FnOnce(&PaidRow) -> T) -> Option<T> {
    match r {
        Row::Paid(p) => Some(f(p)),
        _ => None,
    }
}

fn paid_amount(r: &Row, f: impl FnOnce(&LineResult) -> i64) -> Option<i64> {
    paid(r, |p| f(p.r))
}

/// Every column, in file order. `formats/parquet.md` ("Columns") lists the same names in the same
/// order (checked by a test).
pub const COLUMNS: &[Col] = &[
    col(
        "status",
        false,
        "PRS_REJ_TOP (as a flag: rejected or not)",
        utf8!(|_, r, b| {
            put(
                b,
                match r {
                    Row::Paid(_) => "PAID",
                    Row::Rejected { .. } => "REJECTED",
                    Row::RejectedLine { .. } => "REJECTED_LINE",
                    Row::Orphan(_) => "ORPHAN",
                },
            )
        }),
    )
    .keyed(key!(|_, r| {
        Some(match r {
            Row::Paid(_) => 0,
            Row::Rejected { .. } => 1,
            Row::RejectedLine { .. } => 2,
            Row::Orphan(_) => 3,
        })
    })),
    col(
        "batch_number",
        false,
        "FLX_EMT_ORD",
        int32!(|c, _| Some(c.number)),
    )
    .keyed(key!(|c, _| Some(num(c.number as i64)))),
    col(
        "batch_date",
        true,
        "FLX_TRT_DTD",
        date32!(|c, _| Some(c.date)),
    )
    .keyed(date_key!(|c, _| Some(c.date))),
    col(
        "claim",
        false,
        "",
        utf8!(|_, r, b| {
            padded9(b, claim_no(r));
            true
        }),
    )
    .filled(Fill::Text9(|part, t| {
        let mut last = no_run();
        t.push_fixed(
            part.rows
                .iter()
                .map(|r| digits9_run(&mut last, claim_no(r))),
        );
        Ok(())
    })),
    col(
        "line",
        true,
        "PRS_ORD_NUM",
        int32!(|_, r| match r {
            Row::Paid(p) => Some(p.r.line_no as i32),
            Row::Rejected { rej, .. } | Row::RejectedLine { rej, .. } => {
                rej.line_no.map(|n| n as i32)
            }
            Row::Orphan(_) => None,
        }),
    )
    .keyed(key!(|_, r| match r {
        Row::Paid(p) => Some(num(p.r.line_no as i64)),
        Row::Rejected { rej, .. } | Row::RejectedLine { rej, .. } => {
            rej.line_no.map(|n| num(n as i32 as i64))
        }
        Row::Orphan(_) => None,
    })),
    col(
        "input_line",
        false,
        "",
        int64!(|_, r| Some(pos(r).line as i64)),
    )
    .filled(Fill::Position(|part, d| {
        d.push(part.rows.iter().map(|r| pos(r).line as i64))
    })),
    col(
        "byte_offset",
        false,
        "",
        int64!(|_, r| Some(pos(r).offset as i64)),
    )
    .filled(Fill::Position(|part, d| {
        d.push(part.rows.iter().map(|r| pos(r).offset as i64))
    })),
    col(
        "beneficiary_nir_masked",
        true,
        "",
        utf8!(
            |_, r, b| // As `liquidator_core::nir::mask`, without its allocation: 3 characters, then `*`.
                paid(r, |p| {
                    b.extend(p.h.nir.iter().enumerate().map(|(i, &c)| {
                        if i < 3 && c.is_ascii_graphic() { c } else { b'*' }
                    }));
                    true
                })
                .unwrap_or(false),
        ),
    )
    .keyed(paid_key!(|p| {
        let [a, b, c, ..] = p.h.nir;
        pack(&[a, b, c])
    })),
    col(
        "beneficiary_rank",
        true,
        "BEN_RNG_GEM",
        int32!(|_, r| paid(r, |p| p.h.rank as i32)),
    )
    .keyed(paid_key!(|p| num(p.h.rank as i64))),
    col(
        "beneficiary_hash",
        true,
        "BEN_NIR_PSA + BEN_RNG_GEM (a keyed pseudonym, like BEN_NIR_PSA)",
        int64!(|_, r| paid(r, |p| p.pseudonym)),
    ),
    col(
        "practitioner",
        true,
        "PFS_EXE_NUM",
        utf8!(|_, r, b| practitioner(r).map(|n| padded9(b, n)).is_some()),
    )
    // PLAIN + Snappy ([`PLAIN_TEXT`]): the 9 digits of each row pushed by a loop per slice.
    .filled(Fill::Text9(|part, t| {
        let mut last = no_run();
        t.push_fixed_opt(
            part.rows
                .iter()
                .map(|r| practitioner(r).map(|n| digits9_run(&mut last, n))),
        )
    })),
    col(
        "date_of_care",
        true,
        "EXE_SOI_DTD",
        date32!(|_, r| paid(r, |p| p.r.date)),
    )
    .keyed(paid_key!(date, |p| p.r.date)),
    col(
        "type",
        true,
        "",
        utf8!(|_, r, b| {
            paid(r, |p| {
                put(
                    b,
                    match p.l.act {
                        Act::Ngap { .. } => "NGAP",
                        Act::Ccam { .. } => "CCAM",
                    },
                )
            })
            .unwrap_or(false)
        }),
    )
    .keyed(paid_key!(|p| matches!(p.l.act, Act::Ccam { .. }) as u64)),
    col(
        "code",
        true,
        "CAM_PRS_IDE / PRS_NAT",
        utf8!(|_, r, b| {
            paid(r, |p| match &p.l.act {
                Act::Ngap { letter, .. } => put_trimmed(b, letter),
                Act::Ccam { code, .. } => put_trimmed(b, code),
            })
            .unwrap_or(false)
        }),
    )
    .keyed(paid_key!(opt, |p| match &p.l.act {
        Act::Ngap { letter, .. } => trimmed_key(letter),
        Act::Ccam { code, .. } => trimmed_key(code),
    })),
    col(
        "act_group",
        true,
        "PRS_NAT (B2 prestation code) / CAM_REG_COD (CCAM regroupement)",
        utf8!(|_, r, b| paid(r, |p| put_trimmed(b, &p.r.group)).unwrap_or(false)),
    )
    .keyed(paid_key!(opt, |p| trimmed_key(&p.r.group))),
    col(
        "activity",
        true,
        "CAM_ACT_COD",
        utf8!(|_, r, b| {
            paid(r, |p| match p.l.act {
                Act::Ccam { activity, .. } => {
                    fmt::u64_(b, activity as u64);
                    true
                }
                Act::Ngap { .. } => false,
            })
            .unwrap_or(false)
        }),
    )
    .keyed(paid_key!(opt, |p| match p.l.act {
        Act::Ccam { activity, .. } => Some(num(activity as i64)),
        Act::Ngap { .. } => None,
    })),
    col(
        "phase",
        true,
        "CAM_TRT_PHA",
        int32!(|_, r| {
            paid(r, |p| match p.l.act {
                Act::Ccam { phase, .. } => Some(phase as i32),
                Act::Ngap { .. } => None,
            })
            .flatten()
        }),
    )
    .keyed(paid_key!(opt, |p| match p.l.act {
        Act::Ccam { phase, .. } => Some(num(phase as i64)),
        Act::Ngap { .. } => None,
    })),
    col(
        "coefficient",
        true,
        "PRS_ACT_CFT",
        rate!(|_, r| {
            paid(r, |p| match p.l.act {
                Act::Ngap { coef, .. } => Some(coef as i64),
                Act::Ccam { .. } => None,
            })
            .flatten()
        }),
    )
    .keyed(paid_key!(opt, |p| match p.l.act {
        Act::Ngap { coef, .. } => Some(num(coef as i64)),
        Act::Ccam { .. } => None,
    })),
    col(
        "quantity",
        true,
        "PRS_ACT_QTE",
        int32!(|_, r| paid(r, |p| p.r.quantity as i32)),
    )
    .keyed(paid_key!(|p| num(p.r.quantity as i64))),
    col(
        "grid",
        true,
        "CAM_GRI_TAR",
        utf8!(|_, r, b| {
            paid(r, |p| {
                fmt::u64_(b, p.r.grid as u64);
                true
            })
            .unwrap_or(false)
        }),
    )
    .keyed(paid_key!(|p| num(p.r.grid as i64))),
    col(
        "modifiers",
        true,
        "CAM_MOD_COD",
        utf8!(|_, r, b| {
            paid(r, |p| {
                let start = b.len();
                b.extend(p.r.modifiers.iter().filter(|&&m| m != b' '));
                b.len() > start
            })
            .unwrap_or(false)
        }),
    )
    .keyed(paid_key!(opt, |p| trimmed_key(&p.r.modifiers))),
    col(
        "assoc_code",
        true,
        "CAM_ASS_COD",
        utf8!(|_, r, b| {
            paid(r, |p| {
                p.r.assoc_code != b' ' && {
                    b.push(p.r.assoc_code);
                    true
                }
            })
            .unwrap_or(false)
        }),
    )
    .keyed(paid_key!(opt, |p| (p.r.assoc_code != b' ')
        .then(|| num(p.r.assoc_code as i64)))),
    col(
        "assoc_coef",
        true,
        "",
        rate!(|_, r| paid_amount(r, |l| l.assoc_coef)),
    )
    .keyed(paid_key!(|p| num(p.r.assoc_coef))),
    col(
        "unit_price",
        true,
        "CAM_ACT_PRU / BSE_REM_PRU",
        amount!(|_, r| paid_amount(r, |l| l.unit_price)),
    )
    .deltas(paid_delta!(|p| p.r.unit_price)),
    col(
        "pu_assoc_red",
        true,
        "CAM_MPU_MNT",
        amount!(|_, r| paid_amount(r, |l| l.pu_assoc_red)),
    )
    .keyed(paid_key!(|p| num(p.r.pu_assoc_red))),
    col(
        "base",
        true,
        "BSE_REM_BSE / CAM_REM_BSE",
        amount!(|_, r| paid_amount(r, |l| l.base)),
    )
    .deltas(paid_delta!(|p| p.r.base)),
    col(
        "rate",
        true,
        "RGO_REM_TAU",
        rate!(|_, r| paid_amount(r, |l| l.rate)),
    )
    .keyed(paid_key!(|p| num(p.r.rate))),
    col(
        "rate_reason",
        true,
        "",
        utf8!(|_, r, b| {
            paid(r, |p| p.r.rate_reason.is_some_and(|x| put(b, x.as_str()))).unwrap_or(false)
        }),
    )
    .keyed(paid_key!(opt, |p| p.r.rate_reason.map(|x| x as u64))),
    col(
        "amo_gross",
        true,
        "",
        amount!(|_, r| paid_amount(r, |l| l.amo_gross)),
    )
    .deltas(paid_delta!(|p| p.r.amo_gross)),
    col(
        "participation",
        true,
        "PRS_PPF_COD (amount)",
        amount!(|_, r| paid_amount(r, |l| l.pf)),
    )
    .keyed(paid_key!(|p| num(p.r.pf))),
    col(
        "franchise",
        true,
        "",
        amount!(|_, r| paid_amount(r, |l| l.franchise)),
    )
    .keyed(paid_key!(|p| num(p.r.franchise))),
    col(
        "heavy_forfait",
        true,
        "",
        amount!(|_, r| paid_amount(r, |l| l.heavy_forfait)),
    )
    .keyed(paid_key!(|p| num(p.r.heavy_forfait))),
    col(
        "amo_paid",
        true,
        "BSE_REM_MNT",
        amount!(|_, r| paid_amount(r, |l| l.amo_paid)),
    )
    .deltas(paid_delta!(|p| p.r.amo_paid)),
    col(
        "billed",
        false,
        "PRS_PAI_MNT",
        amount!(|_, r| {
            Some(match r {
                Row::Paid(p) => p.r.billed,
                Row::Rejected { claim, .. } => claim.billed,
                Row::RejectedLine { fee, .. } => *fee,
                Row::Orphan(o) => o.fee,
            })
        }),
    )
    .deltas(all_delta!(|_, r| match r {
        Row::Paid(p) => p.r.billed,
        Row::Rejected { claim, .. } => claim.billed,
        Row::RejectedLine { fee, .. } => *fee,
        Row::Orphan(o) => o.fee,
    })),
    col(
        "excess",
        true,
        "PRS_DEP_MNT",
        amount!(|_, r| paid_amount(r, |l| l.excess)),
    )
    .keyed(paid_key!(|p| num(p.r.excess))),
    col(
        "ticket",
        true,
        "",
        amount!(|_, r| paid_amount(r, |l| l.ticket)),
    )
    .deltas(paid_delta!(|p| p.r.ticket)),
    col(
        "amc_ticket",
        true,
        "",
        amount!(|_, r| paid_amount(r, |l| l.amc_ticket)),
    )
    .deltas(paid_delta!(|p| p.r.amc_ticket)),
    col(
        "amc_excess",
        true,
        "",
        amount!(|_, r| paid_amount(r, |l| l.amc_excess)),
    )
    .keyed(paid_key!(|p| num(p.r.amc_excess))),
    col("amc", true, "", amount!(|_, r| paid_amount(r, |l| l.amc())))
        .deltas(paid_delta!(|p| p.r.amc())),
    col(
        "patient",
        true,
        "",
        amount!(|_, r| paid_amount(r, |l| l.patient)),
    )
    .deltas(paid_delta!(|p| p.r.patient)),
    col(
        "payee_kind",
        true,
        "DRG_NAT",
        utf8!(|_, r, b| paid(r, |p| put(b, p.p.payee.as_str())).unwrap_or(false)),
    )
    .keyed(paid_key!(|p| p.p.payee as u64)),
    col(
        "amc_number",
        true,
        "BEN_CMU_ORG (complementary organisation code)",
        utf8!(|_, r, b| {
            paid(r, |p| p.p.amc.is_some_and(|a| put_trimmed(b, &a.amc))).unwrap_or(false)
        }),
    )
    .keyed(paid_key!(wide, |p| p
        .p
        .amc
        .and_then(|a| trimmed_key_wide(&a.amc)))),
    col(
        "amc_payee",
        true,
        "",
        utf8!(|_, r, b| {
            paid(r, |p| p.p.amc.is_some_and(|a| put(b, a.payee.as_str()))).unwrap_or(false)
        }),
    )
    .keyed(paid_key!(opt, |p| p.p.amc.map(|a| a.payee as u64))),
    col(
        "warnings",
        true,
        "",
        utf8!(|_, r, b| {
            paid(r, |p| {
                let start = b.len();
                for w in p.r.warning_codes() {
                    if b.len() > start {
                        b.push(b',');
                    }
                    b.extend_from_slice(w.code().as_bytes());
                }
                b.len() > start
            })
            .unwrap_or(false)
        }),
    )
    .keyed(paid_key!(opt, |p| (p.r.warning_codes().next().is_some())
        .then_some(p.r.warnings as u64))),
    col(
        "rejection_code",
        true,
        "",
        utf8!(|_, r, b| match r {
            Row::Paid(_) => false,
            Row::Rejected { rej, .. } | Row::RejectedLine { rej, .. } => put(b, rej.code.code()),
            Row::Orphan(_) => put(b, Reject::Orphan.code()),
        }),
    )
    .keyed(key!(|_, r| match r {
        Row::Paid(_) => None,
        Row::Rejected { rej, .. } | Row::RejectedLine { rej, .. } => Some(rej.code as u64),
        Row::Orphan(_) => Some(Reject::Orphan as u64),
    })),
    col(
        "rejection_reason",
        true,
        "",
        utf8!(|_, r, b| match r {
            Row::Paid(_) => false,
            Row::Rejected { rej, .. } | Row::RejectedLine { rej, .. } => put(b, rej.code.slug()),
            Row::Orphan(_) => put(b, Reject::Orphan.slug()),
        }),
    )
    .keyed(key!(|_, r| match r {
        Row::Paid(_) => None,
        Row::Rejected { rej, .. } | Row::RejectedLine { rej, .. } => Some(rej.code as u64),
        Row::Orphan(_) => Some(Reject::Orphan as u64),
    })),
];

/// Nearly unique per row: a dictionary costs time and makes the file larger than plain encoding.
/// The amounts of many values ([`DELTA_AMOUNTS`]), whose dictionary cost more than it saved, have
/// none either ([`no_dictionary`]).
const NEARLY_UNIQUE: &[&str] = &["claim", "input_line", "byte_offset", "beneficiary_hash"];

/// Texts of many values written PLAIN + Snappy rather than with a dictionary: `practitioner` (about
/// 16 600 values a row group on the 1 M-claim day, one a claim). Its dictionary's key loop waited
/// on the load of a slot of its 256 KiB table at each new claim (70 % of the loop's samples) and
/// its chunk was larger than the Snappy-compressed text (README "Performance", eighteenth pass).
const PLAIN_TEXT: &[&str] = &["practitioner"];

/// Whether column `name` is written without a dictionary.
fn no_dictionary(name: &str) -> bool {
    NEARLY_UNIQUE.contains(&name) || DELTA_AMOUNTS.contains(&name) || PLAIN_TEXT.contains(&name)
}

/// The amounts that take a new value on most rows, written as deltas ([`delta::AmountChunk`])
/// rather than a dictionary: per column, the dictionary's keying cost ≈ 50 instructions a cell on
/// the run's pool for a chunk about the deltas' size (1 M-claim day, README "Performance",
/// sixteenth pass). The other amounts (`pu_assoc_red`, `participation`, `franchise`,
/// `heavy_forfait`, `excess`, `amc_excess`: a few values, or zero on most rows) keep their
/// dictionary, which is much smaller there.
const DELTA_AMOUNTS: &[&str] = &[
    "unit_price",
    "base",
    "amo_gross",
    "amo_paid",
    "billed",
    "ticket",
    "amc_ticket",
    "amc",
    "patient",
];

/// Positions, increasing from row to row: `DELTA_BINARY_PACKED` stores them in a few bits a row, where
/// plain 8-byte values then Snappy kept half their size. The amounts of [`DELTA_AMOUNTS`] are
/// written as deltas too ([`delta_encoded`]).
const POSITIONS: &[&str] = &["input_line", "byte_offset"];

/// Whether column `name` is written as `DELTA_BINARY_PACKED`.
fn delta_encoded(name: &str) -> bool {
    POSITIONS.contains(&name) || DELTA_AMOUNTS.contains(&name)
}

/// The only columns compressed (Snappy): plain-encoded and repetitive (claim numbers share their
/// leading digits, the lines of a claim share its pseudonym). The others are dictionary indices or
/// deltas that Snappy shrank by about a tenth for a tenth of the export's CPU.
const COMPRESSED: &[&str] = &["claim", "beneficiary_hash", "practitioner"];

/// The compressed columns whose pages are compressed by `plain::snappy_records` (a copy of the
/// bytes each record shares with the one before) rather than by `snap`'s search: their values
/// repeat the previous row's (the lines of a claim) or share its leading bytes (the next claim
/// number), and rarely anything older (formats/parquet.md). Not `practitioner`: its numbers recur
/// a few claims apart, which only `snap` finds.
const RECORD_SNAPPY: &[&str] = &["claim", "beneficiary_hash"];

/// The columns with min/max statistics (per page and row group): those that locate rows — the batch,
/// the claim, the line and its position, the date of care. Not on amounts, rates and labels: nobody
/// prunes a scan by them, and comparing every cell cost a few per cent of the export. The dictionary
/// columns among them get theirs from [`dict`] (INT32 only), the others from parquet-rs.
const STATISTICS: &[&str] = &[
    "batch_date",
    "claim",
    "line",
    "input_line",
    "byte_offset",
    "date_of_care",
];

/// How the file is encoded (formats/parquet.md): dictionaries but where [`no_dictionary`], deltas where
/// [`delta_encoded`], Snappy on [`COMPRESSED`] only, statistics on [`STATISTICS`] only, row groups of
/// [`BATCH_ROWS`] rows. Each choice was measured (instruction counts and size, README "Performance").
/// The sink's encoders read these lists themselves; the properties say the same for parquet-rs's
/// file writer (and for a reader of the code: the file is what parquet-rs writes with them, byte
/// for byte, but for the dictionary columns' metadata, formats/parquet.md).
fn writer_properties() -> parquet::file::properties::WriterPropertiesBuilder {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::UNCOMPRESSED)
        .set_max_row_group_row_count(Some(BATCH_ROWS))
        // Values handed to the encoders 8 192 at a time (default 1 024): fewer page-size checks.
        .set_write_batch_size(BLOCK_ROWS);
    for c in COLUMNS {
        let path = || ColumnPath::from(c.name);
        if no_dictionary(c.name) {
            props = props.set_column_dictionary_enabled(path(), false);
        }
        if delta_encoded(c.name) {
            props = props.set_column_encoding(path(), Encoding::DELTA_BINARY_PACKED);
        }
        if COMPRESSED.contains(&c.name) {
            props = props.set_column_compression(path(), Compression::SNAPPY);
        }
        if !STATISTICS.contains(&c.name) {
            props = props.set_column_statistics_enabled(path(), EnabledStatistics::None);
        }
    }
    props
}

/// The Arrow schema of the file (also what a reader gets back), from [`COLUMNS`].
pub fn schema() -> SchemaRef {
    let fields: Vec<Field> = COLUMNS
        .iter()
        .map(|c| {
            let f = Field::new(c.name, c.data_type(), c.nullable);
            if c.snds.is_empty() {
                f
            } else {
                f.with_metadata(std::collections::HashMap::from([(
                    "snds".to_string(),
                    c.snds.to_string(),
                )]))
            }
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// A column of a record batch being built.
enum ColBuf {
    Str(StrCol),
    I32(PrimCol<i32>),
    I64(PrimCol<i64>),
}

impl ColBuf {
    fn new(c: &Col, n: usize) -> ColBuf {
        match c.get {
            Get::Utf8(_) => ColBuf::Str(StrCol::new(n)),
            Get::Int32(_) | Get::Date32(_) => ColBuf::I32(PrimCol::new(n)),
            Get::Int64(_) | Get::Amount(_) | Get::Rate(_) => ColBuf::I64(PrimCol::new(n)),
        }
    }

    /// Appends the cells of `rows`.
    fn fill(&mut self, c: &Col, batch: &Batch, rows: &[Row]) {
        match (c.get, self) {
            (Get::Utf8(f), ColBuf::Str(b)) => f(batch, rows, b),
            (Get::Int32(f) | Get::Date32(f), ColBuf::I32(b)) => f(batch, rows, b),
            (Get::Int64(f) | Get::Amount(f) | Get::Rate(f), ColBuf::I64(b)) => f(batch, rows, b),
            _ => unreachable!("ColBuf::new follows the column's type"),
        }
    }

    fn finish(self, c: &Col) -> Result<ArrayRef, String> {
        Ok(match (c.get, self) {
            (_, ColBuf::Str(b)) => b.finish()?,
            (Get::Date32(_), ColBuf::I32(mut b)) => {
                Arc::new(Date32Array::new(b.values.into(), b.nulls.finish()))
            }
            (_, ColBuf::I32(mut b)) => Arc::new(Int32Array::new(b.values.into(), b.nulls.finish())),
            (Get::Amount(_) | Get::Rate(_), ColBuf::I64(mut b)) => {
                let limit = if matches!(c.get, Get::Amount(_)) {
                    AMOUNT_LIMIT
                } else {
                    RATE_LIMIT
                };
                // Nulls hold 0: checking every slot is checking every value.
                if let Some(&v) = b.values.iter().find(|v| v.abs() >= limit) {
                    return Err(format!(
                        "column {}: {v} does not fit {}",
                        c.name,
                        c.data_type()
                    ));
                }
                let wide: Vec<i128> = b.values.iter().map(|&v| v as i128).collect();
                Arc::new(
                    Decimal128Array::new(wide.into(), b.nulls.finish())
                        .with_data_type(c.data_type()),
                )
            }
            (_, ColBuf::I64(mut b)) => Arc::new(Int64Array::new(b.values.into(), b.nulls.finish())),
        })
    }
}

/// The record batch of `rows`: built column by column over slices of [`CACHE_ROWS`] rows, so that
/// the rows' data read by one column is still in cache for the next.
fn record_batch(schema: &SchemaRef, batch: &Batch, rows: &[Row]) -> Result<RecordBatch, String> {
    let mut cols: Vec<ColBuf> = COLUMNS.iter().map(|c| ColBuf::new(c, rows.len())).collect();
    for part in rows.chunks(CACHE_ROWS) {
        for (c, b) in COLUMNS.iter().zip(&mut cols) {
            b.fill(c, batch, part);
        }
    }
    let arrays = COLUMNS
        .iter()
        .zip(cols)
        .map(|(c, b)| b.finish(c))
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema.clone(), arrays).map_err(|e| e.to_string())
}

/// Rows read by all the columns (of a task) before the next slice (see [`record_batch`],
/// [`encode_block`]): the slice's outcomes stay in the nearest caches from one column to the next.
/// Slices of 256 rows did not: callgrind's cache simulation on a 100 k-claim day counted 4.3 M
/// fewer D1 read misses with 64 (31.3 M → 27.0 M; `run` alone has 17.5 M), for +7 M instructions
/// of loop overhead (README "Performance"). 128 rows (≈ 50 KB of outcomes: about this machine's L1
/// data cache, 48 KB a core, the rest in L2) since PARQUET20: each column's fixed cost per slice
/// (its encoder's state, the call, the slice's paid rows) is paid half as often — callgrind, 100 k-claim day, 1 thread,
/// `ParquetSink::window` 209.4 → 197.4 M instructions; `perf record -F 1999`, 1 M-claim day, 2
/// threads, load 5–6, 3 alternated rounds: the window's and key loops' samples 1 044 / 963 / 1 001
/// → 1 021 / 931 / 832 (PARQUET19 had measured +0.7 M D1 misses in callgrind's 32 KB model and
/// left it undecided). The file does not depend on it (`cmp`).
const CACHE_ROWS: usize = 128;
// A row's position in its slice is a `u8` ([`Part::at`]).
const _: () = assert!(CACHE_ROWS <= 256);

/// The rows of a run of events, in order; the paid rows with their pseudonym under `key`, or 0
/// without a key (the sink: its writer thread hashes the `NIR-rank` itself, [`Pseudonyms`]).
///
/// The rows point into the outcomes, read here a window after the shards wrote them. Copying each
/// paid line's cells in the shard workers instead (a slot a claim, `formats/parquet.md`, PARQUET21,
/// branch `parquet21-not-kept`) took the sink's stalls away but cost the shards as much memory
/// traffic and more instructions: not kept.
fn rows_of<'a>(events: &'a [Event<'a>], key: Option<&PseudonymKey>, out: &mut Vec<Row<'a>>) {
    for e in events {
        match e {
            Event::Claim(c) => match (c.outcome, c.header) {
                (Outcome::Paid(p), Some(h)) => {
                    let pseudonym = key.map_or(0, |k| k.of(h));
                    // Paid lines and lines rejected on their own, merged by their index in the
                    // claim: the order of the claims file.
                    let mut rejected: Vec<&LineRejection> = p.rejected_lines.iter().collect();
                    rejected.sort_by_key(|lr| lr.index);
                    let mut rejected = rejected.into_iter().peekable();
                    let mut rejected_before = |out: &mut Vec<Row<'a>>, index: Option<u16>| {
                        while let Some(lr) =
                            rejected.next_if(|lr| index.is_none_or(|i| lr.index < i))
                        {
                            out.push(Row::RejectedLine {
                                claim: c.claim,
                                practitioner: h.practitioner,
                                rej: &lr.rejection,
                                fee: c.lines.get(lr.index as usize).map_or(0, |l| l.fee),
                            });
                        }
                    };
                    for r in &p.lines {
                        let k = r.index as usize;
                        rejected_before(out, Some(r.index));
                        let (Some(l), Some(pos)) = (c.lines.get(k), c.line_pos.get(k)) else {
                            continue; // never: a paid line is one of the claim's lines
                        };
                        out.push(Row::Paid(PaidRow {
                            h,
                            l,
                            pos: *pos,
                            r,
                            p,
                            pseudonym,
                        }));
                    }
                    rejected_before(out, None);
                }
                (Outcome::Paid(_), None) => {} // never: a claim without header is not liquidated
                (Outcome::Rejected(rej), _) => out.push(Row::Rejected {
                    claim: c.claim,
                    practitioner: c.practitioner(),
                    rej,
                }),
            },
            Event::Orphan(o) => out.push(Row::Orphan(o)),
        }
    }
}

/// An empty rows buffer with another lifetime, in the same allocation (the standard library collects
/// a `filter_map` of a vector's own iterator in place when the item layouts are equal), as the
/// engine's events list.
// `filter_map` (not `filter`) because the item type changes: that is the point.
#[allow(clippy::unnecessary_filter_map)]
fn relabel<'b>(mut v: Vec<Row<'_>>) -> Vec<Row<'b>> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

/// The rows of a window of events, in order: gathered per segment in parallel (with the pseudonyms
/// under `key`, as [`rows_of`]).
fn rows_in<'a>(events: &'a [Event<'a>], key: Option<&PseudonymKey>) -> Vec<Row<'a>> {
    let segs: Vec<&[Event]> = segments(events).collect();
    let parts: Vec<Vec<Row>> = segs
        .par_iter()
        .map(|seg| {
            let mut rows = Vec::with_capacity(seg.len() * 2);
            rows_of(seg, key, &mut rows);
            rows
        })
        .collect();
    parts.concat()
}

/// The record batches of a window of events, in order: the rows are gathered per segment in parallel
/// (with the pseudonyms), then cut into blocks of [`BLOCK_ROWS`] rows turned into batches in parallel.
fn record_batches(
    schema: &SchemaRef,
    batch: &Batch,
    key: &PseudonymKey,
    events: &[Event<'_>],
) -> Result<Vec<RecordBatch>, String> {
    let rows = rows_in(events, Some(key));
    rows.par_chunks(BLOCK_ROWS)
        .map(|rows| record_batch(schema, batch, rows))
        .collect()
}

/// The record batches of a run of events (in order, with this file's schema and rows) for a caller
/// that does not write this file: the columnar entry point (`liquidator-columnar`, the Spark job)
/// returns them as its result. Errors as for the sink (a value that does not fit its type).
pub fn record_batches_of(
    header: &liquidator_core::claims::record::BatchHeader,
    key: &PseudonymKey,
    events: &[Event<'_>],
) -> Result<Vec<RecordBatch>, String> {
    let batch = Batch {
        number: header.batch_no as i32,
        date: header.date,
    };
    record_batches(&schema(), &batch, key, events)
}

/// A column chunk and its close result, ready for `SerializedRowGroupWriter::append_column`.
pub type ColumnChunk = (bytes::Bytes, parquet::column::writer::ColumnCloseResult);

/// One column of a row group written by the export's own PLAIN encoders ([`plain::TextChunk`],
/// [`plain::PrimChunk`]), Snappy-compressed, data pages v1 of `dict::PAGE_ROWS` rows, min/max
/// statistics on a non-nullable text column only: for a writer other than the export that hands
/// its chunks to parquet-rs's file writer without running parquet-rs's per-value encoders
/// (`liquidator convert`, `formats/claims-arrow.md`), so that `parquet` can be compiled at
/// opt-level 0 (issue #11).
pub struct PlainColumn(PlainEnc);

enum PlainEnc {
    Text(plain::TextChunk),
    Prim(plain::PrimChunk),
}

impl PlainColumn {
    /// The encoder of the flat column `descr`: BYTE_ARRAY (text), INT64, INT32 or BOOLEAN; buffers
    /// reserved for `rows` rows.
    pub fn new(descr: ColumnDescPtr, rows: usize) -> Result<PlainColumn, String> {
        Ok(PlainColumn(match descr.physical_type() {
            PhysicalType::BYTE_ARRAY => {
                let stats = descr.max_def_level() == 0;
                PlainEnc::Text(plain::TextChunk::new(descr, stats, true, rows)?)
            }
            _ => PlainEnc::Prim(plain::PrimChunk::new(descr, true, rows)?),
        }))
    }

    /// Appends a text cell (`None`: null).
    #[inline]
    pub fn push_text(&mut self, v: Option<&[u8]>) -> Result<(), String> {
        match &mut self.0 {
            PlainEnc::Text(t) => t.push(|b| match v {
                Some(v) => {
                    b.extend_from_slice(v);
                    true
                }
                None => false,
            }),
            PlainEnc::Prim(_) => Err("a text cell in a column of numbers".into()),
        }
    }

    /// Appends a number cell (INT64, INT32, BOOLEAN as 0 / 1; `None`: null). Always inlined: in
    /// `convert`'s loop over a row's cells, a call per cell cost ≈ 75 M instructions on the 100 k day.
    #[inline(always)]
    pub fn push_int(&mut self, v: Option<i64>) -> Result<(), String> {
        match &mut self.0 {
            PlainEnc::Prim(p) => {
                p.push(v);
                Ok(())
            }
            PlainEnc::Text(_) => Err("a number cell in a text column".into()),
        }
    }

    /// The chunk of the cells pushed since the last call; the encoder starts the next one.
    pub fn close(&mut self) -> parquet::errors::Result<ColumnChunk> {
        match &mut self.0 {
            PlainEnc::Text(t) => t.close(),
            PlainEnc::Prim(p) => p.close(),
        }
    }
}

/// Rows per record batch: a block's rows stay in cache while its columns are built one after the
/// other, and the writer's per-batch overhead stays small.
pub const BLOCK_ROWS: usize = 8192;

// ---------------------------------------------------------------------------------------------------
// The sink.

/// How the sink encodes one column of the current row group. Every chunk is written by the sink's
/// own encoders (`dict`, `delta`, `plain`), closed by the writer thread.
enum Enc {
    /// The dictionary columns: the cells' keys ([`dict`]).
    Dict(dict::DictChunk),
    /// The positions ([`POSITIONS`]): the row group's values, written as deltas ([`delta`]).
    Delta(delta::DeltaChunk),
    /// The amounts of many values ([`DELTA_AMOUNTS`]): deltas too, without statistics.
    Amount(delta::AmountChunk),
    /// `claim`: the cells' text, PLAIN ([`plain`]).
    Text(plain::TextChunk),
    /// `beneficiary_hash`: each row's `NIR-rank`, hashed by the writer thread.
    Pseudonym(Pseudonyms),
}

/// The column whose cells the writer thread computes ([`Pseudonyms`]).
const PSEUDONYM_COLUMN: &str = "beneficiary_hash";

/// The `beneficiary_hash` cells of a row group before their keyed hash: per row its `NIR-rank`
/// (`None` off the paid rows: a null cell). The writer thread turns them into the column's chunk
/// ([`plain::PrimChunk`]) with the values the column's extractor would give (one keyed BLAKE3 per
/// run of rows of the same beneficiary, i.e. per paid claim, as [`rows_of`] hashed them): 11 % of the
/// export's instructions taken out of the run's windows.
struct Pseudonyms {
    cells: Vec<Option<[u8; 17]>>,
    /// The `NIR-rank` of each run of rows (kept from row group to row group), and its pseudonym.
    runs: Vec<[u8; 17]>,
    hashes: Vec<i64>,
    chunk: plain::PrimChunk,
}

impl Pseudonyms {
    fn push(&mut self, rows: &[Row]) {
        self.cells.extend(rows.iter().map(|r| match r {
            Row::Paid(p) => Some(nir_rank(p.h)),
            _ => None,
        }));
    }

    /// The row group's chunk (the buffers are emptied for the next row group). One keyed hash per
    /// run of rows of the same `NIR-rank` (a paid claim), four runs at a time ([`blake4`]: the value
    /// of [`PseudonymKey::pseudonym`], where one at a time waited on each hash's chain of operations).
    fn close(&mut self, key: &PseudonymKey) -> parquet::errors::Result<dict::Chunk> {
        // The runs' inputs, in order.
        self.runs.clear();
        let mut last: Option<&[u8; 17]> = None;
        for nr in self.cells.iter().flatten() {
            if last != Some(nr) {
                self.runs.push(*nr);
                last = Some(nr);
            }
        }
        // Their hashes, 16, 8 or 4 at a time as the processor allows.
        let words = blake4::key_words(&key.key);
        self.hashes.clear();
        blake4::keyed_hashes(&words, blake4::widest(), &self.runs, &mut self.hashes);
        // The cells, each run's hash on its rows.
        let mut run = 0;
        let mut last: Option<&[u8; 17]> = None;
        for c in &self.cells {
            self.chunk.push(match c {
                Some(nr) => {
                    if last.is_some_and(|l| l != nr) {
                        run += 1;
                    }
                    last = Some(nr);
                    Some(self.hashes.get(run).copied().ok_or_else(|| {
                        parquet::errors::ParquetError::General("a run without its pseudonym".into())
                    })?)
                }
                None => None,
            });
        }
        self.cells.clear();
        self.chunk.close()
    }
}

/// The encoders of every column of [`COLUMNS`], empty (the first row group, or a set back from the
/// writer thread is not there yet).
fn fresh_encoders(leaves: &[ColumnDescPtr]) -> Result<Vec<Enc>, String> {
    COLUMNS
        .iter()
        .zip(leaves)
        .map(|(c, d)| {
            Ok(match c.key {
                Some(_) => Enc::Dict(dict::DictChunk::new(
                    d.clone(),
                    STATISTICS.contains(&c.name),
                    BATCH_ROWS,
                )?),
                None if DELTA_AMOUNTS.contains(&c.name) => match c.amount {
                    Some(_) => {
                        Enc::Amount(delta::AmountChunk::new(d.clone(), limit(c), BATCH_ROWS)?)
                    }
                    None => return Err(format!("column {}: deltas without a fill", c.name)),
                },
                None if c.name == PSEUDONYM_COLUMN => Enc::Pseudonym(Pseudonyms {
                    cells: Vec::with_capacity(BATCH_ROWS),
                    runs: Vec::new(),
                    hashes: Vec::new(),
                    chunk: record_snappy(
                        plain::PrimChunk::new(d.clone(), COMPRESSED.contains(&c.name), BATCH_ROWS)?,
                        c.name,
                        plain::PrimChunk::with_record_snappy,
                    ),
                }),
                None if delta_encoded(c.name) => {
                    Enc::Delta(delta::DeltaChunk::new(d.clone(), BATCH_ROWS)?)
                }
                None => Enc::Text(record_snappy(
                    plain::TextChunk::new(
                        d.clone(),
                        STATISTICS.contains(&c.name),
                        COMPRESSED.contains(&c.name),
                        BATCH_ROWS,
                    )?,
                    c.name,
                    plain::TextChunk::with_record_snappy,
                )),
            })
        })
        .collect()
}

/// `chunk` compressed by `plain::snappy_records` (`with`) if the column is one of
/// [`RECORD_SNAPPY`].
fn record_snappy<T>(chunk: T, name: &str, with: fn(T) -> T) -> T {
    if RECORD_SNAPPY.contains(&name) {
        with(chunk)
    } else {
        chunk
    }
}

/// Bytes allocated by a set of encoders (their buffers' capacities).
fn encoders_bytes(encs: &[Enc]) -> usize {
    encs.iter()
        .map(|e| match e {
            Enc::Dict(d) => d.held_bytes(),
            Enc::Delta(d) => d.held_bytes(),
            Enc::Amount(a) => a.held_bytes(),
            Enc::Text(t) => t.held_bytes(),
            Enc::Pseudonym(ps) => {
                ps.cells.capacity() * std::mem::size_of::<Option<[u8; 17]>>()
                    + ps.runs.capacity() * 17
                    + ps.hashes.capacity() * 8
                    + ps.chunk.held_bytes()
            }
        })
        .sum()
}

enum Msg {
    /// A full row group: the encoders of its columns, in column order, to be closed into column
    /// chunks and written by the writer thread.
    RowGroup(Vec<Enc>),
    /// Key-value metadata known at the end (the checked batch framing).
    Meta(Vec<KeyValue>),
}

/// Row groups in flight between the sink and its writer thread (each holds its encoders' levels,
/// indices and values, ≈ 17 MiB for 65 536 rows): the writer closes a row group in ≈ 10 ms where
/// the run takes ≈ 100 ms to fill the next, so the channel is nearly always empty; with [`SETS`]
/// sets, at most one row group is in flight.
const IN_FLIGHT: usize = 2;

/// Sets of encoders at most: the one the run fills and the one the writer thread closes. A set is
/// ≈ 17 MiB of buffers, touched for the first time when it is made: on this machine fresh memory
/// costs its zeroing by the kernel (`clear_page_erms` under a transparent huge page's fault, ≈ 3–5
/// ms per 2 MiB), and under load the writer thread, outside the pool, fell behind by a row group
/// now and then, so that a third and a fourth set were made (`perf record -e kmem:mm_page_alloc
/// --filter 'order == 9'`, 1 M-claim day, 2 threads, load 4–5: 14 huge pages first touched by
/// `DictChunk::new`, about 3 sets; README "Performance", sixteenth pass). Past this many, the sink
/// waits for the writer to hand a set back: a wait of the window's task, not CPU.
const SETS: usize = 2;

/// The writer thread: closes each row group's chunks (the dictionary pages and data pages of
/// [`dict`], parquet-rs's Arrow column writer for the plain columns), writes them in column order,
/// and hands the emptied encoders back for the next row group (their buffers are reused).
fn write_row_groups(
    mut w: parquet::file::writer::SerializedFileWriter<WriteBack>,
    key: PseudonymKey,
    rx: crossbeam_channel::Receiver<Msg>,
    back: crossbeam_channel::Sender<Vec<Enc>>,
) -> Result<u64, String> {
    let e = |e: parquet::errors::ParquetError| e.to_string();
    let mut rows = 0u64;
    let mut levels = dict::LevelsCache::default();
    let mut amount_levels = dict::LevelsCache::with_rle_tail();
    for m in rx {
        match m {
            Msg::RowGroup(mut encs) => {
                levels.clear();
                amount_levels.clear();
                let mut rg = w.next_row_group().map_err(e)?;
                for enc in encs.iter_mut() {
                    let (bytes, close) = match enc {
                        Enc::Dict(d) => d.close(&mut levels),
                        Enc::Delta(d) => d.close(),
                        Enc::Amount(a) => a.close(&mut amount_levels),
                        Enc::Text(t) => t.close(),
                        Enc::Pseudonym(ps) => ps.close(&key),
                    }
                    .map_err(e)?;
                    rg.append_column(&bytes, close).map_err(e)?;
                }
                rows += rg.close().map_err(e)?.num_rows() as u64;
                // The sink may be gone (a failed run): the encoders are then dropped here.
                let _ = back.send(encs);
            }
            Msg::Meta(kvs) => kvs
                .into_iter()
                .for_each(|kv| w.append_key_value_metadata(kv)),
        }
    }
    let mut file = w.into_inner().map_err(e)?;
    // The direct buffer's last bytes written (through the page cache), then `fsync`.
    file.finish().map_err(|e| e.to_string())?;
    Ok(rows)
}

/// The Parquet export as a sink of the run: writes `dir/liquidated_lines.parquet` (mode 0640).
///
/// Each window's rows are keyed column by column on the run's pool (blocks of [`BLOCK_ROWS`] rows,
/// every column of a block by one task, beside the other sinks), into row groups of [`BATCH_ROWS`] rows; a
/// full row group's encoders go through a bounded channel to a writer thread that closes them into
/// column chunks (pages, bit-packing, parquet-rs for the plain columns) and writes them: that work
/// needs nothing from the window, so it runs beside the run instead of within its windows. `dir` is the run's staging directory: the file is committed with the other outputs, or not
/// at all. Any failure (a value that does not fit, an encoding or I/O error, the writer thread gone)
/// is returned by [`Sink::window`] or [`Sink::finish`], which fails the run.
pub struct ParquetSink {
    path: PathBuf,
    batch: Option<Batch>,
    /// The window's rows, kept empty between windows so that their memory is reused ([`relabel`]).
    rows: Vec<Row<'static>>,
    /// One encoder per column of [`COLUMNS`].
    encs: Vec<Enc>,
    /// The columns' descriptors (to make a set of encoders) and the sets the writer has emptied.
    leaves: Vec<ColumnDescPtr>,
    recycled: crossbeam_channel::Receiver<Vec<Enc>>,
    /// Rows in the current row group.
    rg_rows: usize,
    /// Sets of encoders made (the current one, those in flight to the writer or back), the most
    /// bytes one held when handed over, and the peak of [`Sink::held_bytes`].
    sets: usize,
    set_bytes: usize,
    held_peak: usize,
    /// Time the windows waited for the writer to hand a set back ([`SETS`]).
    waited: std::time::Duration,
    /// The most bytes the writer thread's buffer pool kept (`parquet::pool`), and the file's
    /// `O_DIRECT` buffer: both held from the first row group to the end.
    pool_peak: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    file_buffer: usize,
    tx: Option<crossbeam_channel::Sender<Msg>>,
    writer: Option<std::thread::JoinHandle<Result<u64, String>>>,
}

impl ParquetSink {
    /// Creates the file in `dir` and starts its writer thread. The batch header must be given with
    /// [`ParquetSink::with_batch`] before the first window (its number and date are columns).
    pub fn create(dir: &Path, key: PseudonymKey) -> Result<ParquetSink, SinkError> {
        let path = dir.join(PARQUET_FILE);
        // `O_DIRECT` (`WriteBack::direct`): the file is written by a thread of its own, as the TSV
        // writer's files, so that the kernel's buffered path (copies into page-cache pages, delayed
        // allocation, write-back) is not CPU taken from the run's workers (output::writeback).
        let file = WriteBack::direct(
            liquidator_core::output::files::create_private(&path)
                .map_err(|e| SinkError::Io(path.clone(), e))?,
        );
        let file_buffer = file.buffer_bytes();
        let props = writer_properties();
        let kv = |k: &str, v: String| KeyValue::new(k.to_string(), v);
        let props = props
            .set_key_value_metadata(Some(vec![
                kv("liquidator.layout", LAYOUT.into()),
                kv(
                    "liquidator.beneficiary_hash",
                    "first 8 bytes (little-endian, Int64) of BLAKE3 keyed_hash(derive_key(\""
                        .to_string()
                        + KEY_CONTEXT
                        + "\", secret), \"NIR-rank\"): pseudonymisation, not anonymisation",
                ),
                kv("liquidator.pseudonym_key_id", key.id()),
            ]))
            .build();
        let schema = schema();
        let fail =
            |e: parquet::errors::ParquetError| SinkError::Other(format!("{}: {e}", path.display()));
        // The Arrow writer converts the schema and stores it (`ARROW:schema`) as usual; its file
        // writer then takes the column chunks the sink writes itself.
        let (w, _) = ArrowWriter::try_new(file, schema, Some(props))
            .and_then(|w| w.into_serialized_writer())
            .map_err(fail)?;
        let leaves = w.schema_descr().columns().to_vec();
        let encs = fresh_encoders(&leaves)
            .map_err(|e| SinkError::Other(format!("{}: {e}", path.display())))?;
        let (tx, rx) = crossbeam_channel::bounded::<Msg>(IN_FLIGHT);
        let (back, recycled) = crossbeam_channel::unbounded::<Vec<Enc>>();
        // The writer thread's buffer pool, counted in `held_bytes` (it lives as long as the thread).
        let pool_peak = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let pool_counted = pool_peak.clone();
        let writer = std::thread::Builder::new()
            .name("parquet-writer".into())
            .spawn(move || {
                pool::count_into(pool_counted);
                write_row_groups(w, key, rx, back)
            })
            .map_err(|e| SinkError::Io(path.clone(), e))?;
        Ok(ParquetSink {
            path,
            batch: None,
            rows: Vec::new(),
            encs,
            leaves,
            recycled,
            rg_rows: 0,
            sets: 1,
            set_bytes: 0,
            held_peak: 0,
            waited: std::time::Duration::ZERO,
            pool_peak,
            file_buffer,
            tx: Some(tx),
            writer: Some(writer),
        })
    }

    /// The batch whose claims the rows are (its number and date fill `batch_number`, `batch_date`).
    pub fn with_batch(mut self, h: &liquidator_core::claims::record::BatchHeader) -> ParquetSink {
        self.batch = Some(Batch {
            number: h.batch_no as i32,
            date: h.date,
        });
        self
    }

    fn err(&self, msg: impl std::fmt::Display) -> SinkError {
        SinkError::Other(format!("{}: writing Parquet: {msg}", self.path.display()))
    }

    fn send(&mut self, m: Msg) -> Result<(), SinkError> {
        if self.tx.as_ref().is_some_and(|tx| tx.send(m).is_ok()) {
            return Ok(());
        }
        // The writer stopped: its error says why.
        self.join()?;
        Err(self.err("writer stopped"))
    }

    /// Closes the channel and waits for the writer; returns the rows written.
    fn join(&mut self) -> Result<u64, SinkError> {
        self.tx = None;
        match self.writer.take() {
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err("writer thread panicked".into()))
                .map_err(|e| self.err(e)),
            None => Err(self.err("already finished")),
        }
    }

    /// Encodes `rows` (all in the current row group), block by block ([`encode_block`]). The
    /// blocks are the row group's: rows `[k × BLOCK_ROWS, (k + 1) × BLOCK_ROWS)` of the row group,
    /// whatever the windows that bring them (the chunks' pages are cut at rows of the row group,
    /// so the file is the same for any `--window-kib`).
    fn encode(&mut self, batch: &Batch, rows: &[Row]) -> Result<(), String> {
        // One encoder per column, or the rows are refused: `encode_block` zips the encoders with
        // the columns, so a short set — the empty one the run's last row group leaves (`finish`)
        // — would drop the rows' cells without a word (review of d45b29d).
        if !rows.is_empty() && self.encs.len() != COLUMNS.len() {
            return Err(format!(
                "{} rows given to {} encoders for {} columns (after the last row group?)",
                rows.len(),
                self.encs.len(),
                COLUMNS.len()
            ));
        }
        let mut paid = PaidRows::default();
        let mut rest = rows;
        while !rest.is_empty() {
            let room = BLOCK_ROWS - self.rg_rows % BLOCK_ROWS;
            let (block, later) = rest.split_at(rest.len().min(room));
            paid.gather(block);
            encode_block(&mut self.encs, COLUMNS, batch, block, &paid)?;
            self.rg_rows += block.len();
            rest = later;
        }
        Ok(())
    }

    /// Hands the current row group to the writer thread, and takes an empty set of encoders for the
    /// next one (one the writer gave back, or a new one).
    fn flush_row_group(&mut self, more: bool) -> Result<(), SinkError> {
        let next = match self.recycled.try_recv() {
            Ok(encs) => encs,
            // The run's last row group: no set needed after it.
            Err(_) if !more => Vec::new(),
            Err(_) if self.sets < SETS => {
                self.sets += 1;
                fresh_encoders(&self.leaves).map_err(|e| self.err(e))?
            }
            Err(_) => {
                let t = std::time::Instant::now();
                let back = self.recycled.recv();
                self.waited += t.elapsed();
                match back {
                    Ok(encs) => encs,
                    // The writer stopped: its error says why.
                    Err(_) => {
                        self.join()?;
                        return Err(self.err("writer stopped"));
                    }
                }
            }
        };
        self.set_bytes = self.set_bytes.max(encoders_bytes(&self.encs));
        let full = std::mem::replace(&mut self.encs, next);
        self.rg_rows = 0;
        self.send(Msg::RowGroup(full))
    }
}

/// Encodes the columns `cols` (with their encoders) of rows of one block of the row group: the
/// dictionary columns' keys, the plain columns' cells (encoded by the writer thread). One task walks
/// the block by slices of [`CACHE_ROWS`] rows, every column per slice, so that the rows' data read by
/// one column is still in cache for the next (one task per column read the whole block from memory
/// once per column: more time lost in cache misses than the instructions saved).
///
/// All 46 columns in one task: the block's rows are read — and read ahead, [`read_ahead`] — once,
/// by one core, where two tasks of 23 columns (one per core) each brought every row's outcome into
/// their core's cache. The sink's work stays on the run's pool beside the other sinks and the next
/// window's shards (`engine::emit`), which keep the other core busy. `perf record -F 1999`, 1 M day,
/// 2 threads, `run --parquet` alternated with two tasks, 4 rounds, load 11-13: the samples of the
/// `FnMut::call_mut` symbols (the tasks' closure with this function and the read-ahead inlined,
/// beside other sinks' closures: ≈ 750 samples without `--parquet`) 1 136 / 1 078 / 1 095 / 968 →
/// 977 / 1 011 / 988 / 989, the key loops' (`FnOnce::call_once`) 875 / 905 / 922 / 845 → 890 / 914 /
/// 884 / 925 (unchanged); callgrind, 100 k day, 1 thread, `ParquetSink::window` 355.4 → 349.8 M
/// instructions (README "Performance", fifteenth pass). Earlier (tenth pass, callgrind's cache
/// simulation, 100 k day): tasks of 6 / 14 / 21 / 42 columns (8 / 4 / 3 / 2 tasks) gave D1 read misses 5.99 / 5.08 / 4.80 / 4.79 M
/// and instruction-cache misses 0.03 / 0.07 / 0.46 / 1.66 M (the loops of a task's columns, inlined,
/// outgrow the instruction cache): a cost the samples above include.
fn encode_block(
    encs: &mut [Enc],
    cols: &[Col],
    batch: &Batch,
    rows: &[Row],
    paid: &PaidRows,
) -> Result<(), String> {
    for (s, part) in rows.chunks(CACHE_ROWS).enumerate() {
        let next = rows.get((s + 1) * CACHE_ROWS..).unwrap_or(&[]);
        read_ahead(next.get(..CACHE_ROWS).unwrap_or(next));
        let part = paid.part(s, part)?;
        for (e, c) in encs.iter_mut().zip(cols) {
            match (e, c.key) {
                (Enc::Dict(d), Some(key)) => key(c, batch, &part, d)?,
                (Enc::Text(t), _) if let Some(Fill::Text9(fill)) = c.fill => fill(&part, t)?,
                (Enc::Delta(d), _) if let Some(Fill::Position(fill)) = c.fill => fill(&part, d),
                (Enc::Text(t), _) => {
                    let Cell::Text(f) = c.cell else {
                        return Err(format!("column {}: text of a non-text column", c.name));
                    };
                    for r in part.rows {
                        t.push(|b| f(batch, r, b))?;
                    }
                }
                (Enc::Pseudonym(ps), _) => ps.push(part.rows),
                (Enc::Amount(a), _) => match c.amount {
                    Some(fill) => fill(c, batch, &part, a)?,
                    None => return Err(format!("column {}: deltas without a fill", c.name)),
                },
                (Enc::Delta(d), _) => {
                    let Cell::I64(f) = c.cell else {
                        return Err(format!("column {}: deltas of a non-Int64 column", c.name));
                    };
                    let mut null = false;
                    d.push(part.rows.iter().map(|r| {
                        f(batch, r).unwrap_or_else(|| {
                            null = true;
                            0
                        })
                    }));
                    if null {
                        return Err(format!("column {}: a null cell", c.name));
                    }
                }
                _ => return Err(format!("column {}: no encoder", c.name)),
            }
        }
    }
    Ok(())
}

/// Loads what the columns read of `rows` — a paid row's outcome line (every cache line of it),
/// header, act line and payee; a rejection's claim and code; an orphan — in a tight loop of
/// independent loads, so that their cache misses overlap instead of each stalling the first column
/// of the task to read the row (`line`, `practitioner`: README "Performance", tenth pass). Why they
/// miss: the outcomes were written by the shards a window earlier and are scattered in file order
/// (`liquidator_core::sink::read_ahead`, the TSV and summary sinks' read-ahead). Each task calls it
/// on the next slice before it encodes the current one. Only loads: the file does not depend on it.
#[inline(always)]
fn read_ahead(rows: &[Row]) {
    let mut acc = 0u64;
    for r in rows {
        acc ^= match r {
            Row::Paid(p) => {
                liquidator_core::sink::touch_line(p.r)
                    ^ u64::from(p.h.claim_no)
                    ^ u64::from(p.h.rank)
                    ^ u64::from(p.l.line_no)
                    ^ p.p.payee as u64
            }
            Row::Rejected { claim, rej, .. } | Row::RejectedLine { claim, rej, .. } => {
                u64::from(claim.claim_no) ^ rej.code as u64
            }
            Row::Orphan(o) => u64::from(o.claim_no),
        };
    }
    std::hint::black_box(acc);
}

/// Appends the PLAIN encoding of the cell of `row` in column `c` (a dictionary value): the same
/// extractor, checks and conversions as the Arrow column ([`ColBuf`]), for one row, without building
/// an array.
fn plain_value(
    c: &Col,
    phys: PhysicalType,
    batch: &Batch,
    row: &Row,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let null = || format!("column {}: a keyed cell is null", c.name);
    match (c.cell, phys) {
        (Cell::Text(f), PhysicalType::BYTE_ARRAY) => {
            let start = out.len();
            out.extend_from_slice(&[0; 4]);
            if !f(batch, row, out) {
                out.truncate(start);
                return Err(null());
            }
            utf8_lossy_tail(out, start + 4);
            let len = (out.len() - start - 4) as u32;
            out[start..start + 4].copy_from_slice(&len.to_le_bytes());
        }
        (Cell::I32(f), PhysicalType::INT32) => {
            out.extend_from_slice(&f(batch, row).ok_or_else(null)?.to_le_bytes())
        }
        (Cell::Date(f), PhysicalType::INT32) => {
            let d = f(batch, row).and_then(date32).ok_or_else(null)?;
            out.extend_from_slice(&d.to_le_bytes())
        }
        (Cell::I64(f), _) => {
            let v = f(batch, row).ok_or_else(null)?;
            let v = checked(c, v)?;
            match phys {
                PhysicalType::INT32 => out.extend_from_slice(&(v as i32).to_le_bytes()),
                PhysicalType::INT64 => out.extend_from_slice(&v.to_le_bytes()),
                t => return Err(format!("column {}: physical type {t}", c.name)),
            }
        }
        (_, t) => return Err(format!("column {}: physical type {t}", c.name)),
    }
    Ok(())
}

/// The bound (exclusive) of an amount or rate cell's magnitude, from the column's decimal type;
/// `i64::MAX` for any other column.
fn limit(c: &Col) -> i64 {
    match c.get {
        Get::Amount(_) => AMOUNT_LIMIT,
        Get::Rate(_) => RATE_LIMIT,
        _ => i64::MAX,
    }
}

/// The range check of an amount or rate cell (an Int64 cell passes as is).
fn checked(c: &Col, v: i64) -> Result<i64, String> {
    if !matches!(c.get, Get::Amount(_) | Get::Rate(_)) {
        return Ok(v);
    }
    if v.abs() >= limit(c) {
        return Err(format!(
            "column {}: {v} does not fit {}",
            c.name,
            c.data_type()
        ));
    }
    Ok(v)
}

/// Replaces `out[start..]` by its lossy UTF-8 conversion when it is not valid UTF-8 (as a `String`
/// cell of the Arrow column would be).
fn utf8_lossy_tail(out: &mut Vec<u8>, start: usize) {
    if std::str::from_utf8(&out[start..]).is_err() {
        let fixed = String::from_utf8_lossy(&out[start..]).into_owned();
        out.truncate(start);
        out.extend_from_slice(fixed.as_bytes());
    }
}

impl Sink for ParquetSink {
    fn window(&mut self, events: &[Event<'_>]) -> Result<(), SinkError> {
        let Some(batch) = self.batch else {
            return Err(self.err("the batch header was not given (ParquetSink::with_batch)"));
        };
        // Without pseudonyms (the writer thread hashes them: `Pseudonyms`), the rows are cheap
        // enough to gather on this thread, into the buffer of the previous window: gathering them
        // per segment in parallel then joining the parts copied them once more (11 M instructions
        // of `memcpy` on a 100 k-claim day against 9 M for the gathering).
        let mut rows = relabel(std::mem::take(&mut self.rows));
        rows_of(events, None, &mut rows);
        let mut rest = &rows[..];
        while !rest.is_empty() {
            let (now, later) = rest.split_at(rest.len().min(BATCH_ROWS - self.rg_rows));
            self.encode(&batch, now).map_err(|e| self.err(e))?;
            if self.rg_rows == BATCH_ROWS {
                self.flush_row_group(true)?;
            }
            rest = later;
        }
        self.rows = relabel(rows);
        // Every set of encoders counted at the largest size one reached (they keep their buffers
        // from row group to row group), the one being filled at its size now, and the rows buffer.
        let now = (self.sets - 1) * self.set_bytes
            + encoders_bytes(&self.encs).max(self.set_bytes)
            + self.rows.capacity() * std::mem::size_of::<Row>();
        self.held_peak = self.held_peak.max(now);
        Ok(())
    }

    fn finish(&mut self, info: &BatchInfo) -> Result<(), SinkError> {
        if let (Some(h), Some(b)) = (&info.header, self.batch)
            && h.batch_no as i32 != b.number
        {
            return Err(self.err(format!(
                "rows written for batch {}, the run read batch {}",
                b.number, h.batch_no
            )));
        }
        if self.rg_rows > 0 {
            self.flush_row_group(false)?;
        }
        let mut kv = Vec::new();
        if let Some(h) = &info.header {
            kv.push(KeyValue::new(
                "liquidator.batch_number".into(),
                h.batch_no.to_string(),
            ));
            kv.push(KeyValue::new(
                "liquidator.batch_date".into(),
                h.date.to_string(),
            ));
        }
        self.send(Msg::Meta(kv))?;
        if liquidator_core::timing_on() {
            eprintln!(
                "timing: Parquet sink: {} sets of encoders, windows waited {:.3} s for the writer to hand one back",
                self.sets,
                self.waited.as_secs_f64()
            );
        }
        self.join().map(|_| ())
    }

    /// An upper bound of the bytes the sink held between two windows: its sets of encoders (the
    /// one being filled, row groups in flight to the writer thread and sets handed back, each
    /// counted at the largest size a set reached), its rows buffer, the writer thread's buffer
    /// pool at its most (`parquet::pool`: a row group's chunks and pages, kept for the next) and
    /// the file's `O_DIRECT` buffer. Not counted: parquet-rs's column writers, and the pool's
    /// buffers while out of it (a row group being closed: the same buffers, most of them).
    fn held_bytes(&self) -> usize {
        self.held_peak
            + self.pool_peak.load(std::sync::atomic::Ordering::Relaxed)
            + self.file_buffer
    }
}

impl Drop for ParquetSink {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `PlainColumn` (`liquidator convert`'s encoders): every physical type of the claims layout
    /// (INT32, INT64, DATE32 as INT32, BOOLEAN, text), required and nullable, read back by
    /// parquet-rs's Arrow reader equal to the cells pushed — across a page boundary (24 576 rows),
    /// a row group boundary (row groups of 30 000 then 3 rows), negative and extreme values, runs of
    /// nulls, a BOOLEAN page whose last byte is partial.
    #[test]
    fn plain_columns_read_back_as_the_cells_pushed() {
        use arrow_array::cast::AsArray;
        use arrow_array::types::{Date32Type, Int32Type, Int64Type};
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let schema = Arc::new(Schema::new(vec![
            Field::new("i32", DataType::Int32, false),
            Field::new("i64n", DataType::Int64, true),
            Field::new("d32n", DataType::Date32, true),
            Field::new("b", DataType::Boolean, false),
            Field::new("bn", DataType::Boolean, true),
            Field::new("t", DataType::Utf8, false),
            Field::new("tn", DataType::Utf8, true),
        ]));
        // The cells of row `i`, written by hand.
        let i32_of = |i: usize| {
            if i == 7 {
                i32::MIN
            } else {
                i as i32 * 7 - 1000
            }
        };
        let i64_of = |i: usize| match i % 3 {
            0 => None,
            _ if i == 1 => Some(i64::MIN),
            _ if i == 2 => Some(i64::MAX),
            _ => Some(-(i as i64) * 1_000_003),
        };
        let d32_of = |i: usize| (i % 100 >= 40).then_some(20_000 - i as i32);
        let b_of = |i: usize| i % 5 == 0 || i % 7 == 3;
        let bn_of = |i: usize| match i % 4 {
            0 => None,
            1 => Some(true),
            _ => Some(i % 3 == 0),
        };
        let t_of =
            |i: usize| ["LINE", "CLAIM", "", "ORPHAN é"][i % 4].to_string() + &(i % 9).to_string();
        let tn_of = |i: usize| (i % 6 != 1).then(|| format!("{:>3}", i % 1000));
        let groups = [30_000usize, 3];
        let mut file = Vec::new();
        let (mut w, _) = ArrowWriter::try_new(&mut file, schema.clone(), None)
            .and_then(|w| w.into_serialized_writer())
            .unwrap();
        let mut cols: Vec<PlainColumn> = w
            .schema_descr()
            .columns()
            .iter()
            .map(|d| PlainColumn::new(d.clone(), 8).unwrap())
            .collect();
        let mut row = 0;
        for n in groups {
            for i in row..row + n {
                cols[0].push_int(Some(i32_of(i).into())).unwrap();
                cols[1].push_int(i64_of(i)).unwrap();
                cols[2].push_int(d32_of(i).map(i64::from)).unwrap();
                cols[3].push_int(Some(b_of(i).into())).unwrap();
                cols[4].push_int(bn_of(i).map(i64::from)).unwrap();
                cols[5].push_text(Some(t_of(i).as_bytes())).unwrap();
                cols[6]
                    .push_text(tn_of(i).as_ref().map(|s| s.as_bytes()))
                    .unwrap();
            }
            row += n;
            let mut rg = w.next_row_group().unwrap();
            for c in &mut cols {
                let (bytes, close) = c.close().unwrap();
                rg.append_column(&bytes, close).unwrap();
            }
            rg.close().unwrap();
        }
        w.close().unwrap();
        let b = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(file)).unwrap();
        assert_eq!(b.metadata().num_row_groups(), 2);
        let batches: Vec<_> = b
            .with_batch_size(1 << 20)
            .build()
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
        let mut i = 0;
        for rb in &batches {
            assert_eq!(rb.schema(), schema);
            let c = |k: usize| rb.column(k);
            for r in 0..rb.num_rows() {
                let opt = |k: usize| !c(k).is_null(r);
                assert_eq!(
                    c(0).as_primitive::<Int32Type>().value(r),
                    i32_of(i),
                    "row {i}"
                );
                assert_eq!(
                    opt(1).then(|| c(1).as_primitive::<Int64Type>().value(r)),
                    i64_of(i),
                    "row {i}"
                );
                assert_eq!(
                    opt(2).then(|| c(2).as_primitive::<Date32Type>().value(r)),
                    d32_of(i),
                    "row {i}"
                );
                assert_eq!(c(3).as_boolean().value(r), b_of(i), "row {i}");
                assert_eq!(
                    opt(4).then(|| c(4).as_boolean().value(r)),
                    bn_of(i),
                    "row {i}"
                );
                assert_eq!(c(5).as_string::<i32>().value(r), t_of(i), "row {i}");
                assert_eq!(
                    opt(6).then(|| c(6).as_string::<i32>().value(r).to_string()),
                    tn_of(i),
                    "row {i}"
                );
                i += 1;
            }
        }
        assert_eq!(i, 30_003);
    }

    #[test]
    fn a_plain_column_refuses_a_null_in_a_required_column() {
        let d = plain::tests::leaves(vec![
            Field::new("n", DataType::Int32, false),
            Field::new("t", DataType::Utf8, false),
        ]);
        let mut n = PlainColumn::new(d[0].clone(), 1).unwrap();
        n.push_int(None).unwrap();
        assert!(n.close().is_err());
        let mut t = PlainColumn::new(d[1].clone(), 1).unwrap();
        assert!(t.push_text(None).is_err());
        // An INT32 cell out of range is refused, not truncated.
        let mut n = PlainColumn::new(d[0].clone(), 1).unwrap();
        n.push_int(Some(1 << 40)).unwrap();
        assert!(n.close().is_err());
    }

    #[test]
    fn date32_is_days_since_unix_epoch() {
        assert_eq!(date32(Date(19700101)), Some(0));
        assert_eq!(date32(Date(19700102)), Some(1));
        assert_eq!(date32(Date(20000301)), Some(11017));
        assert_eq!(date32(Date(19691231)), Some(-1));
        assert_eq!(date32(Date(20261399)), None);
    }

    // Pins a speed property, not a result: `relabel` relies on `Vec`'s in-place collect, which the
    // standard library does not guarantee. If a toolchain ever drops it, only an allocation a window
    // is lost; this test turns red to say so, and may then be relaxed to emptiness and capacity.
    #[test]
    fn relabel_keeps_the_rows_buffer_allocation() {
        let v: Vec<Row> = Vec::with_capacity(1000);
        let p = v.as_ptr() as usize;
        let w: Vec<Row<'static>> = relabel(v);
        assert!(w.is_empty());
        assert!(w.capacity() >= 1000, "capacity {}", w.capacity());
        assert_eq!(w.as_ptr() as usize, p, "the same allocation");
    }

    #[test]
    fn pack_puts_the_length_in_the_low_byte_and_the_bytes_above() {
        assert_eq!(pack(b""), 0);
        assert_eq!(pack(b"A"), 1 | 0x41 << 8);
        assert_eq!(pack(b"AB"), 2 | 0x41 << 8 | 0x42 << 16);
        // Same bytes, another length: another key (a 4-byte letter against a 7-byte code).
        assert_ne!(pack(b"C   "), pack(b"C      "));
        // 7 bytes fill the u64 above the length byte.
        assert_eq!(pack(&[0xFF; 7]), u64::MAX << 8 | 7);
        assert_eq!(pack_wide(&[0xFF; 15]) >> 8, u128::MAX >> 8);
        assert_eq!(pack_wide(b"AB"), u128::from(pack(b"AB")));
        assert_eq!(trimmed_key(b"    "), None);
        assert_eq!(trimmed_key(b"C   "), Some(pack(b"C   ")));
        assert_eq!(trimmed_key_wide(b"          "), None);
        assert_eq!(
            trimmed_key_wide(b"12345     "),
            Some(pack_wide(b"12345     "))
        );
    }

    #[test]
    fn padded9_writes_the_text_of_fmt_padded_on_9_digits() {
        for n in [
            0,
            7,
            42,
            100,
            12_345,
            123_456_789,
            999_999_999,
            1_000_000_000,
            1_234_567_891,
        ] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            padded9(&mut a, n);
            fmt::padded(&mut b, n as u64, 9);
            assert_eq!(a, b, "{n}");
        }
        let mut a = Vec::new();
        padded9(&mut a, u32::MAX);
        assert_eq!(a, b"294967295");
        // The lanes' quotients at every boundary of a lane's digits, and a sweep of the range.
        let mut all: Vec<u32> = (0..=20_000).collect();
        all.extend((0..=9u32).flat_map(|d| [d * 100_000_000, d * 100_000_000 + 99_999_999]));
        all.extend((0..100_000u32).map(|i| i.wrapping_mul(2_654_435_761)));
        all.extend((0..=u8::MAX as u32).map(|i| u32::MAX - i));
        for n in all {
            let mut b = Vec::new();
            fmt::padded(&mut b, u64::from(n % 1_000_000_000), 9);
            assert_eq!(&digits9(n)[..], &b[..], "{n}");
        }
        // Runs: the same digits whether the number repeats or not.
        let mut last = no_run();
        for n in [0, 0, 5, 5, 0, 123_456_789, 123_456_789, 7] {
            assert_eq!(digits9_run(&mut last, n), digits9(n));
        }
    }

    #[test]
    fn nir_rank_is_the_payments_tsv_beneficiary_cell() {
        let mut h = ClaimHeader {
            claim_no: 1,
            practitioner: 1,
            nir: *b"1850578006084",
            nir_key: *b"00",
            rank: 1,
            birth: Date(19850501),
            birth_rank: 1,
            nature: b'0',
            exemption: b'0',
            pathway: b' ',
            tp_amo: false,
            tp_amc: false,
            amc: [b' '; 10],
            contract: [b' '; 2],
            at_ref: [b' '; 9],
        };
        assert_eq!(&nir_rank(&h), b"1850578006084-001");
        h.rank = 123;
        assert_eq!(&nir_rank(&h), b"1850578006084-123");
        // As `fmt::padded` on 3 digits: the last 3 digits.
        h.rank = 1234;
        assert_eq!(&nir_rank(&h), b"1850578006084-234");
    }

    #[test]
    fn pseudonym_test_vectors() {
        // The vectors of formats/parquet.md ("Beneficiary").
        let k = PseudonymKey::from_secret(b"example secret, not for production").unwrap();
        assert_eq!(
            k.pseudonym(b"1850578006084-001"),
            k.pseudonym(b"1850578006084-001")
        );
        assert_ne!(
            k.pseudonym(b"1850578006084-001"),
            k.pseudonym(b"1850578006084-002")
        );
        let other = PseudonymKey::from_secret(b"another secret, not for production").unwrap();
        assert_ne!(
            k.pseudonym(b"1850578006084-001"),
            other.pseudonym(b"1850578006084-001")
        );
        assert!(PseudonymKey::from_secret(b"short").is_err());
        assert!(!format!("{k:?}").contains("secret"));
        let v = [
            k.pseudonym(b"1850578006084-001"),
            k.pseudonym(b"1850578006084-002"),
            other.pseudonym(b"1850578006084-001"),
        ];
        assert_eq!(
            v,
            [
                -979667825081999233,
                -1533890771867653055,
                -3020143415807203282
            ]
        );
        assert_eq!(k.id(), "169442afe1b99174");
        assert_eq!(other.id(), "331173953acd1851");
    }

    #[test]
    fn a_sink_without_its_batch_fails_rather_than_writing_a_file() {
        let dir = std::env::temp_dir().join(format!("liquidator-pq-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = PseudonymKey::from_secret(b"unit test secret, 16+ bytes").unwrap();
        let mut s = ParquetSink::create(&dir, key).unwrap();
        let e = s.window(&[]).unwrap_err().to_string();
        assert!(e.contains("batch header"), "{e}");
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A sink on a directory of its own (removed by the caller).
    fn unit_sink(name: &str) -> (std::path::PathBuf, ParquetSink) {
        let dir =
            std::env::temp_dir().join(format!("liquidator-pq-unit-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = PseudonymKey::from_secret(b"unit test secret, 16+ bytes").unwrap();
        let s = ParquetSink::create(&dir, key).unwrap();
        (dir, s)
    }

    /// d45b29d's cap: however many row groups are handed to the writer, and however far it falls
    /// behind, the sink never holds more than `SETS` sets of encoders (past them it waits for
    /// one to come back); the run's last row group takes no next set.
    #[test]
    fn the_sink_makes_two_sets_of_encoders_at_most_whatever_the_row_groups() {
        let (dir, mut s) = unit_sink("sets");
        for _ in 0..6 {
            s.flush_row_group(true).unwrap();
            assert!(s.sets <= SETS, "{} sets", s.sets);
            assert!(!s.encs.is_empty(), "a set to fill next");
        }
        assert_eq!(s.sets, SETS);
        s.flush_row_group(false).unwrap();
        assert_eq!(s.sets, SETS);
        assert!(s.join().is_ok());
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A writer that stops (here: an amount its decimal does not hold, refused when the writer
    /// closes the chunk) while the sink waits for a set back fails the flush with the writer's
    /// error instead of waiting forever: the set the sink waits for is never handed back.
    #[test]
    fn a_writer_that_stops_while_the_sink_waits_for_a_set_fails_the_flush_with_its_error() {
        let (dir, mut s) = unit_sink("stop");
        let at = COLUMNS.iter().position(|c| c.name == "unit_price").unwrap();
        let Enc::Amount(a) = &mut s.encs[at] else {
            panic!("unit_price is not written as deltas");
        };
        a.push_paid(&[1], [AMOUNT_LIMIT].into_iter()).unwrap();
        // The failing row group goes out (a second set is made: the first is with the writer).
        s.flush_row_group(true).unwrap();
        assert_eq!(s.sets, SETS);
        // Every set made: the next flush waits for the failed row group's set, never handed back.
        let e = s.flush_row_group(true).unwrap_err().to_string();
        assert!(e.contains("does not fit"), "{e}");
        assert!(s.sets <= SETS);
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// After the run's last row group the sink holds no encoders: rows given then are refused with
    /// an error, not dropped (the encoders are zipped with the columns); before it, they are taken.
    #[test]
    fn rows_given_after_the_last_row_group_are_refused_not_dropped() {
        let (dir, mut s) = unit_sink("after-last");
        let batch = Batch {
            number: 1,
            date: Date(20260316),
        };
        let orphan = Orphan {
            pos: liquidator_core::claims::reader::Pos {
                line: 3,
                offset: 40,
            },
            claim_no: 7,
            fee: 100,
            is_act: true,
        };
        let rows = [Row::Orphan(&orphan)];
        s.encode(&batch, &rows).unwrap();
        assert_eq!(s.rg_rows, 1);
        s.flush_row_group(false).unwrap();
        let e = s.encode(&batch, &rows).unwrap_err();
        assert!(e.contains("0 encoders"), "{e}");
        assert_eq!(s.rg_rows, 0, "nothing counted as encoded");
        s.encode(&batch, &[]).unwrap();
        assert!(s.join().is_ok());
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_delta_amounts_are_filled_as_deltas_without_a_dictionary() {
        let filled: Vec<&str> = COLUMNS
            .iter()
            .filter(|c| c.amount.is_some())
            .map(|c| c.name)
            .collect();
        assert_eq!(
            filled, DELTA_AMOUNTS,
            "the columns with a delta fill, in order"
        );
        for name in DELTA_AMOUNTS {
            let c = COLUMNS.iter().find(|c| c.name == *name).unwrap();
            assert!(c.key.is_none(), "{name}: a dictionary key too");
            assert!(matches!(c.get, Get::Amount(_)), "{name}: not an amount");
            assert!(no_dictionary(name), "{name}: dictionary not disabled");
            assert!(delta_encoded(name), "{name}: not delta-encoded");
            assert!(!STATISTICS.contains(name), "{name}: statistics");
        }
    }

    #[test]
    fn schema_matches_the_builders() {
        let b = Batch {
            number: 1,
            date: Date(0),
        };
        assert!(record_batch(&schema(), &b, &[]).is_ok());
        let mut names: Vec<_> = COLUMNS.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), COLUMNS.len(), "duplicate column name");
    }

    #[test]
    fn the_doc_lists_every_column_in_order() {
        let doc = include_str!("../../../formats/parquet.md");
        let table: Vec<&str> = doc
            .split("## Columns")
            .nth(1)
            .expect("a Columns section")
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .collect();
        let names: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
        assert_eq!(table, names);
    }
}
