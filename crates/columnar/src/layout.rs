//! The claims layout (`formats/claims-arrow.md`, `claims/1`): one row per act line with its claim's
//! header fields, one row per claim without any readable act line, one row per record outside
//! claims. Written from the engine's parsed claims ([`ClaimsBuilder`]) and read back into them
//! ([`decode`]) **losslessly**: every field the rules read, the read error of a claim the engine
//! would reject at read, its billed total and act record count, positions in the B2 file.
//!
//! Text fields are the record's bytes as read (fixed width, space padded): `"4 "`-style values keep
//! their spaces, so that decoding gives back the exact typed values the parser produced.

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Int32Builder, Int64Builder, StringBuilder,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use liquidator_core::claims::reader::{Chunk, ClaimError, Orphan, ParsedClaim, Pos};
use liquidator_core::claims::record::BatchHeader;
use liquidator_core::claims::{Act, ActLine, ClaimHeader};
use liquidator_core::codes::Reject;
use liquidator_core::date::Date;
use liquidator_core::refs::benef_key;
use liquidator_export::parquet::{ColumnChunk, PlainColumn};
use parquet::schema::types::ColumnDescPtr;
use std::sync::Arc;

/// The layout name written in the files' metadata (`liquidator.layout`).
pub const LAYOUT: &str = "claims/1 (formats/claims-arrow.md)";

/// `row_kind` values.
pub const LINE: &str = "LINE";
pub const CLAIM: &str = "CLAIM";
pub const ORPHAN: &str = "ORPHAN";

/// Days between 0000-03-01 (origin of [`Date::to_days`]) and 1970-01-01 (origin of Arrow's `Date32`).
const UNIX_EPOCH_DAYS: i64 = 719_468;

fn date32(d: Date) -> i32 {
    (d.to_days() - UNIX_EPOCH_DAYS) as i32
}

fn from_date32(days: i32) -> Date {
    Date::from_days(days as i64 + UNIX_EPOCH_DAYS)
}

/// The columns, in order: (name, type, nullable). `formats/claims-arrow.md` lists the same (a test
/// checks it).
pub const COLUMNS: &[(&str, DataType, bool)] = &[
    ("batch_number", DataType::Int32, false),
    ("batch_date", DataType::Date32, false),
    ("beneficiary_key", DataType::Int64, true),
    ("row_kind", DataType::Utf8, false),
    ("offset", DataType::Int64, false),
    ("input_line", DataType::Int64, false),
    ("claim_no", DataType::Int32, false),
    ("claim_offset", DataType::Int64, true),
    ("claim_input_line", DataType::Int64, true),
    ("claim_act_records", DataType::Int32, true),
    ("claim_billed_cents", DataType::Int64, true),
    ("duplicate", DataType::Boolean, true),
    ("read_error", DataType::Utf8, true),
    ("read_error_offset", DataType::Int64, true),
    ("read_error_input_line", DataType::Int64, true),
    ("read_error_line_no", DataType::Int32, true),
    ("read_error_field", DataType::Utf8, true),
    ("read_error_column", DataType::Int32, true),
    ("practitioner", DataType::Int32, true),
    ("nir", DataType::Utf8, true),
    ("nir_key", DataType::Utf8, true),
    ("rank", DataType::Int32, true),
    ("birth_date", DataType::Date32, true),
    ("birth_rank", DataType::Int32, true),
    ("nature", DataType::Int32, true),
    ("exemption", DataType::Utf8, true),
    ("pathway", DataType::Utf8, true),
    ("tp_amo", DataType::Boolean, true),
    ("tp_amc", DataType::Boolean, true),
    ("amc_number", DataType::Utf8, true),
    ("contract", DataType::Utf8, true),
    ("at_ref", DataType::Utf8, true),
    ("line_claim_no", DataType::Int32, true),
    ("line_no", DataType::Int32, true),
    ("date_of_care", DataType::Date32, true),
    ("act_type", DataType::Utf8, true),
    ("ngap_letter", DataType::Utf8, true),
    ("coefficient", DataType::Int32, true),
    ("ccam_code", DataType::Utf8, true),
    ("extension", DataType::Utf8, true),
    ("activity", DataType::Int32, true),
    ("phase", DataType::Int32, true),
    ("modifiers", DataType::Utf8, true),
    ("assoc", DataType::Utf8, true),
    ("rc", DataType::Utf8, true),
    ("quantity", DataType::Int32, true),
    ("fee_cents", DataType::Int64, true),
    ("qualifier", DataType::Utf8, true),
    ("line_exemption", DataType::Utf8, true),
    ("orphan_is_act", DataType::Boolean, true),
];

/// The Arrow schema of the claims layout.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(
        COLUMNS
            .iter()
            .map(|(n, t, null)| Field::new(*n, t.clone(), *null))
            .collect::<Vec<_>>(),
    ))
}

/// The partition key of a claim: the engine's beneficiary key (the key of its running state), 0 when
/// the NIR or rank cannot make one (the engine shares that state too); `None` without a readable
/// header (the claim never reaches the rules).
pub fn beneficiary_key(h: Option<&ClaimHeader>) -> Option<i64> {
    h.map(|h| benef_key(&h.nir, h.rank).unwrap_or(0) as i64)
}

fn text(b: &[u8]) -> &str {
    // The parser keeps only printable ASCII in text fields (`record::P::raw`).
    std::str::from_utf8(b).unwrap_or("")
}

/// Rows being built (column builders in [`COLUMNS`] order).
pub struct ClaimsBuilder {
    i32s: Vec<Int32Builder>,
    i64s: Vec<Int64Builder>,
    strs: Vec<StringBuilder>,
    bools: Vec<BooleanBuilder>,
    dates: Vec<Date32Builder>,
    /// `convert`: the cells go to the export's own Parquet encoders, one per column in [`COLUMNS`]
    /// order, instead of the Arrow builders ([`ClaimsBuilder::for_parquet`]).
    chunks: Option<Vec<PlainColumn>>,
    /// The first cell the encoders refused (a null in a non-nullable column), told by
    /// [`ClaimsBuilder::close_chunks`].
    refused: Option<String>,
    rows: usize,
}

/// Where each column's builder is: (kind, index among the builders of that kind).
fn slots() -> &'static [(u8, usize)] {
    static SLOTS: std::sync::OnceLock<Vec<(u8, usize)>> = std::sync::OnceLock::new();
    SLOTS.get_or_init(compute_slots)
}

fn compute_slots() -> Vec<(u8, usize)> {
    let mut n = [0usize; 5];
    COLUMNS
        .iter()
        .map(|(_, t, _)| {
            let k = match t {
                DataType::Int32 => 0,
                DataType::Int64 => 1,
                DataType::Utf8 => 2,
                DataType::Boolean => 3,
                _ => 4,
            };
            n[k] += 1;
            (k as u8, n[k] - 1)
        })
        .collect()
}

/// One row's cells before they are appended (`None` = null).
#[derive(Default, Clone, Copy)]
struct Row<'a> {
    i32s: [Option<i32>; 16],
    i64s: [Option<i64>; 10],
    strs: [Option<&'a str>; 20],
    bools: [Option<bool>; 4],
    dates: [Option<i32>; 4],
}

impl Default for ClaimsBuilder {
    fn default() -> Self {
        let count = |k: u8| slots().iter().filter(|s| s.0 == k).count();
        ClaimsBuilder {
            i32s: (0..count(0)).map(|_| Int32Builder::new()).collect(),
            i64s: (0..count(1)).map(|_| Int64Builder::new()).collect(),
            strs: (0..count(2)).map(|_| StringBuilder::new()).collect(),
            bools: (0..count(3)).map(|_| BooleanBuilder::new()).collect(),
            dates: (0..count(4)).map(|_| Date32Builder::new()).collect(),
            chunks: None,
            refused: None,
            rows: 0,
        }
    }
}

/// Column index by name (names are constants of this module: a miss is a bug caught by the tests).
fn idx(name: &str) -> usize {
    COLUMNS
        .iter()
        .position(|c| c.0 == name)
        .unwrap_or(usize::MAX)
}

impl<'a> Row<'a> {
    fn set_i32(&mut self, s: &[(u8, usize)], name: &str, v: Option<i32>) {
        self.i32s[s[idx(name)].1] = v;
    }
    fn set_i64(&mut self, s: &[(u8, usize)], name: &str, v: Option<i64>) {
        self.i64s[s[idx(name)].1] = v;
    }
    fn set_str(&mut self, s: &[(u8, usize)], name: &str, v: Option<&'a str>) {
        self.strs[s[idx(name)].1] = v;
    }
    fn set_bool(&mut self, s: &[(u8, usize)], name: &str, v: Option<bool>) {
        self.bools[s[idx(name)].1] = v;
    }
    fn set_date(&mut self, s: &[(u8, usize)], name: &str, v: Option<i32>) {
        self.dates[s[idx(name)].1] = v;
    }
}

impl ClaimsBuilder {
    pub fn new() -> ClaimsBuilder {
        ClaimsBuilder::default()
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// A builder whose rows are encoded into Parquet column chunks by the export's own encoders
    /// (`liquidator_export::parquet::PlainColumn`: PLAIN, Snappy), not into Arrow arrays: `leaves`
    /// are the file's columns (in [`COLUMNS`] order). Read the row group with
    /// [`ClaimsBuilder::close_chunks`].
    pub fn for_parquet(leaves: &[ColumnDescPtr], rows: usize) -> Result<ClaimsBuilder, String> {
        if leaves.len() != COLUMNS.len() {
            return Err(format!(
                "{} Parquet columns for the {} of the claims layout",
                leaves.len(),
                COLUMNS.len()
            ));
        }
        let chunks = leaves
            .iter()
            .map(|d| PlainColumn::new(d.clone(), rows))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ClaimsBuilder {
            i32s: Vec::new(),
            i64s: Vec::new(),
            strs: Vec::new(),
            bools: Vec::new(),
            dates: Vec::new(),
            chunks: Some(chunks),
            refused: None,
            rows: 0,
        })
    }

    /// The column chunks of the rows appended since the last call (a builder made by
    /// [`ClaimsBuilder::for_parquet`]), in column order; the builder is empty again.
    pub fn close_chunks(&mut self) -> Result<Vec<ColumnChunk>, String> {
        if let Some(e) = self.refused.take() {
            return Err(e);
        }
        let Some(cols) = &mut self.chunks else {
            return Err("a builder of Arrow arrays has no Parquet chunks".into());
        };
        self.rows = 0;
        cols.iter_mut()
            .map(|c| c.close().map_err(|e| e.to_string()))
            .collect()
    }

    fn push(&mut self, r: &Row) {
        if let Some(cols) = &mut self.chunks {
            for (c, &(k, i)) in cols.iter_mut().zip(slots()) {
                let pushed = match k {
                    0 => c.push_int(r.i32s[i].map(i64::from)),
                    1 => c.push_int(r.i64s[i]),
                    2 => c.push_text(r.strs[i].map(str::as_bytes)),
                    3 => c.push_int(r.bools[i].map(i64::from)),
                    _ => c.push_int(r.dates[i].map(i64::from)),
                };
                if let Err(e) = pushed {
                    self.refused.get_or_insert(e);
                }
            }
            self.rows += 1;
            return;
        }
        for (b, v) in self.i32s.iter_mut().zip(&r.i32s) {
            b.append_option(*v);
        }
        for (b, v) in self.i64s.iter_mut().zip(&r.i64s) {
            b.append_option(*v);
        }
        for (b, v) in self.strs.iter_mut().zip(&r.strs) {
            b.append_option(*v);
        }
        for (b, v) in self.bools.iter_mut().zip(&r.bools) {
            b.append_option(*v);
        }
        for (b, v) in self.dates.iter_mut().zip(&r.dates) {
            b.append_option(*v);
        }
        self.rows += 1;
    }

    fn batch_cells(s: &[(u8, usize)], r: &mut Row, batch: &BatchHeader) {
        r.set_i32(s, "batch_number", Some(batch.batch_no as i32));
        r.set_date(s, "batch_date", Some(date32(batch.date)));
    }

    /// Appends claim `k` of `chunk` (its act lines, or one `CLAIM` row when none was readable).
    pub fn push_claim(&mut self, batch: &BatchHeader, chunk: &Chunk, k: usize, duplicate: bool) {
        let s = slots();
        let Some(c) = chunk.claims.get(k) else {
            return;
        };
        let mut r = Row::default();
        Self::batch_cells(s, &mut r, batch);
        r.set_i64(s, "beneficiary_key", beneficiary_key(c.header.as_ref()));
        r.set_i32(s, "claim_no", Some(c.claim_no as i32));
        r.set_i64(s, "claim_offset", Some(c.pos.offset as i64));
        r.set_i64(s, "claim_input_line", Some(c.pos.line as i64));
        r.set_i32(s, "claim_act_records", Some(c.act_records as i32));
        r.set_i64(s, "claim_billed_cents", Some(c.billed));
        r.set_bool(s, "duplicate", Some(duplicate));
        if let Some(e) = &c.error {
            r.set_str(s, "read_error", Some(e.code.code()));
            r.set_i64(s, "read_error_offset", Some(e.pos.offset as i64));
            r.set_i64(s, "read_error_input_line", Some(e.pos.line as i64));
            r.set_i32(s, "read_error_line_no", e.line_no.map(i32::from));
            r.set_str(s, "read_error_field", Some(e.field));
            r.set_i32(s, "read_error_column", Some(e.column as i32));
        }
        if let Some(h) = &c.header {
            r.set_i32(s, "practitioner", Some(h.practitioner as i32));
            r.set_str(s, "nir", Some(text(&h.nir)));
            r.set_str(s, "nir_key", Some(text(&h.nir_key)));
            r.set_i32(s, "rank", Some(h.rank as i32));
            r.set_date(s, "birth_date", Some(date32(h.birth)));
            r.set_i32(s, "birth_rank", Some(h.birth_rank as i32));
            r.set_i32(s, "nature", Some(h.nature as i32));
            r.set_str(
                s,
                "exemption",
                Some(text(std::slice::from_ref(&h.exemption))),
            );
            r.set_str(s, "pathway", Some(text(std::slice::from_ref(&h.pathway))));
            r.set_bool(s, "tp_amo", Some(h.tp_amo));
            r.set_bool(s, "tp_amc", Some(h.tp_amc));
            r.set_str(s, "amc_number", Some(text(&h.amc)));
            r.set_str(s, "contract", Some(text(&h.contract)));
            r.set_str(s, "at_ref", Some(text(&h.at_ref)));
        }
        let (a, b) = (c.lines.start as usize, c.lines.end as usize);
        let lines = chunk.lines.get(a..b).unwrap_or(&[]);
        let pos = chunk.line_pos.get(a..b).unwrap_or(&[]);
        if lines.is_empty() {
            r.set_str(s, "row_kind", Some(CLAIM));
            r.set_i64(s, "offset", Some(c.pos.offset as i64));
            r.set_i64(s, "input_line", Some(c.pos.line as i64));
            self.push(&r);
            return;
        }
        r.set_str(s, "row_kind", Some(LINE));
        for (l, p) in lines.iter().zip(pos) {
            r.set_i64(s, "offset", Some(p.offset as i64));
            r.set_i64(s, "input_line", Some(p.line as i64));
            r.set_i32(s, "line_claim_no", Some(l.claim_no as i32));
            r.set_i32(s, "line_no", Some(l.line_no as i32));
            r.set_date(s, "date_of_care", Some(date32(l.date)));
            r.set_i32(s, "quantity", Some(l.quantity as i32));
            r.set_i64(s, "fee_cents", Some(l.fee));
            r.set_str(s, "qualifier", Some(text(&l.qualifier)));
            r.set_str(
                s,
                "line_exemption",
                Some(text(std::slice::from_ref(&l.exemption))),
            );
            let mut line = r;
            match &l.act {
                Act::Ngap { letter, coef } => {
                    line.set_str(s, "act_type", Some("NGAP"));
                    line.set_str(s, "ngap_letter", Some(text(letter)));
                    line.set_i32(s, "coefficient", Some(*coef as i32));
                }
                Act::Ccam {
                    code,
                    extension,
                    activity,
                    phase,
                    modifiers,
                    assoc,
                    rc,
                } => {
                    line.set_str(s, "act_type", Some("CCAM"));
                    line.set_str(s, "ccam_code", Some(text(code)));
                    line.set_str(s, "extension", Some(text(std::slice::from_ref(extension))));
                    line.set_i32(s, "activity", Some(*activity as i32));
                    line.set_i32(s, "phase", Some(*phase as i32));
                    line.set_str(s, "modifiers", Some(text(modifiers)));
                    line.set_str(s, "assoc", Some(text(std::slice::from_ref(assoc))));
                    line.set_str(s, "rc", Some(text(std::slice::from_ref(rc))));
                }
            }
            self.push(&line);
        }
    }

    /// Appends a record found outside any claim.
    pub fn push_orphan(&mut self, batch: &BatchHeader, o: &Orphan) {
        let s = slots();
        let mut r = Row::default();
        Self::batch_cells(s, &mut r, batch);
        r.set_str(s, "row_kind", Some(ORPHAN));
        r.set_i64(s, "offset", Some(o.pos.offset as i64));
        r.set_i64(s, "input_line", Some(o.pos.line as i64));
        r.set_i32(s, "claim_no", Some(o.claim_no as i32));
        r.set_i64(s, "fee_cents", Some(o.fee));
        r.set_bool(s, "orphan_is_act", Some(o.is_act));
        self.push(&r);
    }

    /// Appends a whole chunk in file order (claims and orphans merged by position).
    pub fn push_chunk(&mut self, batch: &BatchHeader, chunk: &Chunk, duplicate: &[bool]) {
        let mut orphans = chunk.orphans.iter().peekable();
        for (k, c) in chunk.claims.iter().enumerate() {
            while let Some(o) = orphans.next_if(|o| o.pos.offset < c.pos.offset) {
                self.push_orphan(batch, o);
            }
            self.push_claim(batch, chunk, k, duplicate.get(k).copied().unwrap_or(false));
        }
        for o in orphans {
            self.push_orphan(batch, o);
        }
    }

    /// The rows appended so far as one record batch; the builder is empty again.
    pub fn finish(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let s = slots();
        let mut i32s: Vec<ArrayRef> = self
            .i32s
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as _)
            .collect();
        let mut i64s: Vec<ArrayRef> = self
            .i64s
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as _)
            .collect();
        let mut strs: Vec<ArrayRef> = self
            .strs
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as _)
            .collect();
        let mut bools: Vec<ArrayRef> = self
            .bools
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as _)
            .collect();
        let mut dates: Vec<ArrayRef> = self
            .dates
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as _)
            .collect();
        let cols: Vec<ArrayRef> = s
            .iter()
            .map(|&(k, i)| {
                let v = match k {
                    0 => &mut i32s,
                    1 => &mut i64s,
                    2 => &mut strs,
                    3 => &mut bools,
                    _ => &mut dates,
                };
                v[i].clone()
            })
            .collect();
        self.rows = 0;
        RecordBatch::try_new(schema(), cols)
    }
}

// ---------------------------------------------------------------------------------------------------
// Reading the layout back.

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("claims layout: column {0} missing or not of type {1}")]
    Column(&'static str, &'static str),
    #[error("claims layout: row {row}: {what}")]
    Row { row: usize, what: String },
}

/// The columns of a record batch, found by name (any order, extra columns ignored).
pub struct Columns<'b> {
    b: &'b RecordBatch,
}

impl<'b> Columns<'b> {
    pub fn new(b: &'b RecordBatch) -> Columns<'b> {
        Columns { b }
    }
    fn get<T: 'static>(&self, name: &'static str, ty: &'static str) -> Result<&'b T, DecodeError> {
        self.b
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<T>())
            .ok_or(DecodeError::Column(name, ty))
    }
    pub fn i32(&self, n: &'static str) -> Result<&'b Int32Array, DecodeError> {
        self.get(n, "Int32")
    }
    pub fn i64(&self, n: &'static str) -> Result<&'b Int64Array, DecodeError> {
        self.get(n, "Int64")
    }
    pub fn str(&self, n: &'static str) -> Result<&'b StringArray, DecodeError> {
        self.get(n, "Utf8")
    }
    pub fn bool(&self, n: &'static str) -> Result<&'b BooleanArray, DecodeError> {
        self.get(n, "Boolean")
    }
    pub fn date(&self, n: &'static str) -> Result<&'b Date32Array, DecodeError> {
        self.get(n, "Date32")
    }
}

fn opt<A: Array>(a: &A, i: usize) -> bool {
    a.is_valid(i)
}

/// One decoded row: which batch it belongs to and what it adds.
pub enum Decoded {
    /// An act line of the claim starting at `claim.pos` (the claim's fields repeated on each line).
    Line {
        claim: ParsedClaim,
        duplicate: bool,
        line: ActLine,
        pos: Pos,
    },
    /// A claim without any readable act line.
    Claim {
        claim: ParsedClaim,
        duplicate: bool,
    },
    Orphan(Orphan),
}

/// The typed columns of a claims record batch, read row by row with [`Reader::row`].
pub struct Reader<'b> {
    batch_number: &'b Int32Array,
    batch_date: &'b Date32Array,
    kind: &'b StringArray,
    offset: &'b Int64Array,
    input_line: &'b Int64Array,
    claim_no: &'b Int32Array,
    claim_offset: &'b Int64Array,
    claim_input_line: &'b Int64Array,
    act_records: &'b Int32Array,
    billed: &'b Int64Array,
    duplicate: &'b BooleanArray,
    err: &'b StringArray,
    err_offset: &'b Int64Array,
    err_line: &'b Int64Array,
    err_line_no: &'b Int32Array,
    err_field: &'b StringArray,
    err_column: &'b Int32Array,
    practitioner: &'b Int32Array,
    nir: &'b StringArray,
    nir_key: &'b StringArray,
    rank: &'b Int32Array,
    birth: &'b Date32Array,
    birth_rank: &'b Int32Array,
    nature: &'b Int32Array,
    exemption: &'b StringArray,
    pathway: &'b StringArray,
    tp_amo: &'b BooleanArray,
    tp_amc: &'b BooleanArray,
    amc: &'b StringArray,
    contract: &'b StringArray,
    at_ref: &'b StringArray,
    line_claim_no: &'b Int32Array,
    line_no: &'b Int32Array,
    date: &'b Date32Array,
    act_type: &'b StringArray,
    letter: &'b StringArray,
    coef: &'b Int32Array,
    code: &'b StringArray,
    extension: &'b StringArray,
    activity: &'b Int32Array,
    phase: &'b Int32Array,
    modifiers: &'b StringArray,
    assoc: &'b StringArray,
    rc: &'b StringArray,
    quantity: &'b Int32Array,
    fee: &'b Int64Array,
    qualifier: &'b StringArray,
    line_exemption: &'b StringArray,
    orphan_is_act: &'b BooleanArray,
    pub rows: usize,
}

impl<'b> Reader<'b> {
    pub fn new(b: &'b RecordBatch) -> Result<Reader<'b>, DecodeError> {
        let c = Columns::new(b);
        Ok(Reader {
            batch_number: c.i32("batch_number")?,
            batch_date: c.date("batch_date")?,
            kind: c.str("row_kind")?,
            offset: c.i64("offset")?,
            input_line: c.i64("input_line")?,
            claim_no: c.i32("claim_no")?,
            claim_offset: c.i64("claim_offset")?,
            claim_input_line: c.i64("claim_input_line")?,
            act_records: c.i32("claim_act_records")?,
            billed: c.i64("claim_billed_cents")?,
            duplicate: c.bool("duplicate")?,
            err: c.str("read_error")?,
            err_offset: c.i64("read_error_offset")?,
            err_line: c.i64("read_error_input_line")?,
            err_line_no: c.i32("read_error_line_no")?,
            err_field: c.str("read_error_field")?,
            err_column: c.i32("read_error_column")?,
            practitioner: c.i32("practitioner")?,
            nir: c.str("nir")?,
            nir_key: c.str("nir_key")?,
            rank: c.i32("rank")?,
            birth: c.date("birth_date")?,
            birth_rank: c.i32("birth_rank")?,
            nature: c.i32("nature")?,
            exemption: c.str("exemption")?,
            pathway: c.str("pathway")?,
            tp_amo: c.bool("tp_amo")?,
            tp_amc: c.bool("tp_amc")?,
            amc: c.str("amc_number")?,
            contract: c.str("contract")?,
            at_ref: c.str("at_ref")?,
            line_claim_no: c.i32("line_claim_no")?,
            line_no: c.i32("line_no")?,
            date: c.date("date_of_care")?,
            act_type: c.str("act_type")?,
            letter: c.str("ngap_letter")?,
            coef: c.i32("coefficient")?,
            code: c.str("ccam_code")?,
            extension: c.str("extension")?,
            activity: c.i32("activity")?,
            phase: c.i32("phase")?,
            modifiers: c.str("modifiers")?,
            assoc: c.str("assoc")?,
            rc: c.str("rc")?,
            quantity: c.i32("quantity")?,
            fee: c.i64("fee_cents")?,
            qualifier: c.str("qualifier")?,
            line_exemption: c.str("line_exemption")?,
            orphan_is_act: c.bool("orphan_is_act")?,
            rows: b.num_rows(),
        })
    }

    /// The batch of row `i`: its number and date (the date the rules count time limits from).
    pub fn batch(&self, i: usize) -> Result<BatchHeader, DecodeError> {
        if !opt(self.batch_number, i) || !opt(self.batch_date, i) {
            return Err(bad(i, "batch_number or batch_date is null"));
        }
        Ok(BatchHeader {
            sender: 0,
            batch_no: self.batch_number.value(i) as u32,
            date: from_date32(self.batch_date.value(i)),
            version: 0,
        })
    }

    pub fn row(&self, i: usize) -> Result<Decoded, DecodeError> {
        if !opt(self.kind, i) || !opt(self.offset, i) || !opt(self.input_line, i) {
            return Err(bad(i, "row_kind, offset or input_line is null"));
        }
        let pos = Pos {
            line: u64_of(i, "input_line", self.input_line.value(i))?,
            offset: u64_of(i, "offset", self.offset.value(i))?,
        };
        let claim_no = need(i, "claim_no", self.claim_no)? as u32;
        let kind = self.kind.value(i);
        if kind == ORPHAN {
            return Ok(Decoded::Orphan(Orphan {
                pos,
                claim_no,
                fee: need(i, "fee_cents", self.fee)?,
                is_act: need_bool(i, "orphan_is_act", self.orphan_is_act)?,
            }));
        }
        let claim = self.claim(i, claim_no)?;
        let duplicate = need_bool(i, "duplicate", self.duplicate)?;
        match kind {
            CLAIM => Ok(Decoded::Claim { claim, duplicate }),
            LINE => Ok(Decoded::Line {
                claim,
                duplicate,
                line: self.line(i)?,
                pos,
            }),
            k => Err(bad(
                i,
                &format!("row_kind {k:?} is not LINE, CLAIM or ORPHAN"),
            )),
        }
    }

    fn claim(&self, i: usize, claim_no: u32) -> Result<ParsedClaim, DecodeError> {
        let pos = Pos {
            line: u64_of(
                i,
                "claim_input_line",
                need(i, "claim_input_line", self.claim_input_line)?,
            )?,
            offset: u64_of(
                i,
                "claim_offset",
                need(i, "claim_offset", self.claim_offset)?,
            )?,
        };
        let error = if opt(self.err, i) {
            let code = Reject::from_code(self.err.value(i))
                .ok_or_else(|| bad(i, &format!("read_error {:?} unknown", self.err.value(i))))?;
            Some(ClaimError {
                code,
                pos: Pos {
                    line: u64_of(
                        i,
                        "read_error_input_line",
                        need(i, "read_error_input_line", self.err_line)?,
                    )?,
                    offset: u64_of(
                        i,
                        "read_error_offset",
                        need(i, "read_error_offset", self.err_offset)?,
                    )?,
                },
                line_no: if opt(self.err_line_no, i) {
                    Some(small(i, "read_error_line_no", self.err_line_no.value(i))?)
                } else {
                    None
                },
                field: crate::fields::intern(if opt(self.err_field, i) {
                    self.err_field.value(i)
                } else {
                    ""
                })
                .map_err(|e| bad(i, &e))?,
                column: small(
                    i,
                    "read_error_column",
                    need(i, "read_error_column", self.err_column)?,
                )?,
            })
        } else {
            None
        };
        let header = if opt(self.practitioner, i) {
            Some(self.header(i, claim_no)?)
        } else {
            None
        };
        Ok(ParsedClaim {
            pos,
            claim_no,
            header,
            lines: 0..0,
            act_records: need(i, "claim_act_records", self.act_records)? as u32,
            billed: need(i, "claim_billed_cents", self.billed)?,
            error,
        })
    }

    fn header(&self, i: usize, claim_no: u32) -> Result<ClaimHeader, DecodeError> {
        Ok(ClaimHeader {
            claim_no,
            practitioner: need(i, "practitioner", self.practitioner)? as u32,
            nir: fixed(i, "nir", self.nir)?,
            nir_key: fixed(i, "nir_key", self.nir_key)?,
            rank: small(i, "rank", need(i, "rank", self.rank)?)?,
            birth: from_date32(need(i, "birth_date", self.birth)?),
            birth_rank: byte(i, "birth_rank", need(i, "birth_rank", self.birth_rank)?)?,
            nature: byte(i, "nature", need(i, "nature", self.nature)?)?,
            exemption: fixed::<1>(i, "exemption", self.exemption)?[0],
            pathway: fixed::<1>(i, "pathway", self.pathway)?[0],
            tp_amo: need_bool(i, "tp_amo", self.tp_amo)?,
            tp_amc: need_bool(i, "tp_amc", self.tp_amc)?,
            amc: fixed(i, "amc_number", self.amc)?,
            contract: fixed(i, "contract", self.contract)?,
            at_ref: fixed(i, "at_ref", self.at_ref)?,
        })
    }

    fn line(&self, i: usize) -> Result<ActLine, DecodeError> {
        let act = match (opt(self.act_type, i)).then(|| self.act_type.value(i)) {
            Some("NGAP") => Act::Ngap {
                letter: fixed(i, "ngap_letter", self.letter)?,
                coef: need(i, "coefficient", self.coef)? as u32,
            },
            Some("CCAM") => Act::Ccam {
                code: fixed(i, "ccam_code", self.code)?,
                extension: fixed::<1>(i, "extension", self.extension)?[0],
                activity: byte(i, "activity", need(i, "activity", self.activity)?)?,
                phase: byte(i, "phase", need(i, "phase", self.phase)?)?,
                modifiers: fixed(i, "modifiers", self.modifiers)?,
                assoc: fixed::<1>(i, "assoc", self.assoc)?[0],
                rc: fixed::<1>(i, "rc", self.rc)?[0],
            },
            _ => return Err(bad(i, "act_type is not NGAP or CCAM")),
        };
        Ok(ActLine {
            claim_no: need(i, "line_claim_no", self.line_claim_no)? as u32,
            line_no: small(i, "line_no", need(i, "line_no", self.line_no)?)?,
            date: from_date32(need(i, "date_of_care", self.date)?),
            act,
            quantity: small(i, "quantity", need(i, "quantity", self.quantity)?)?,
            fee: need(i, "fee_cents", self.fee)?,
            qualifier: fixed(i, "qualifier", self.qualifier)?,
            exemption: fixed::<1>(i, "line_exemption", self.line_exemption)?[0],
        })
    }
}

fn bad(row: usize, what: &str) -> DecodeError {
    DecodeError::Row {
        row,
        what: what.to_string(),
    }
}

fn need<T: arrow_array::ArrowPrimitiveType>(
    i: usize,
    name: &str,
    a: &arrow_array::PrimitiveArray<T>,
) -> Result<T::Native, DecodeError> {
    if a.is_valid(i) {
        Ok(a.value(i))
    } else {
        Err(bad(i, &format!("{name} is null")))
    }
}

fn need_bool(i: usize, name: &str, a: &BooleanArray) -> Result<bool, DecodeError> {
    if a.is_valid(i) {
        Ok(a.value(i))
    } else {
        Err(bad(i, &format!("{name} is null")))
    }
}

fn u64_of(i: usize, name: &str, v: i64) -> Result<u64, DecodeError> {
    u64::try_from(v).map_err(|_| bad(i, &format!("{name} {v} is negative")))
}

fn small(i: usize, name: &str, v: i32) -> Result<u16, DecodeError> {
    u16::try_from(v).map_err(|_| bad(i, &format!("{name} {v} out of range")))
}

fn byte(i: usize, name: &str, v: i32) -> Result<u8, DecodeError> {
    u8::try_from(v).map_err(|_| bad(i, &format!("{name} {v} out of range")))
}

/// A fixed-width text field: exactly `N` printable ASCII bytes, as the B2 parser keeps them.
fn fixed<const N: usize>(i: usize, name: &str, a: &StringArray) -> Result<[u8; N], DecodeError> {
    if !a.is_valid(i) {
        return Err(bad(i, &format!("{name} is null")));
    }
    let v = a.value(i).as_bytes();
    if v.len() != N || !v.iter().all(|c| (b' '..=b'~').contains(c)) {
        return Err(bad(
            i,
            &format!(
                "{name} {:?} is not {N} printable ASCII characters",
                a.value(i)
            ),
        ));
    }
    let mut out = [0u8; N];
    out.copy_from_slice(v);
    Ok(out)
}
