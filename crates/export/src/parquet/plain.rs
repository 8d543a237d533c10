//! The two PLAIN column chunks (`claim`: text, non-nullable, with min/max statistics;
//! `beneficiary_hash`: INT64, nullable, without statistics; both Snappy-compressed) written straight
//! from the row group's cells, without parquet-rs's column writer.
//!
//! Why: through parquet-rs's Arrow writer these two columns cost ≈ 75 M instructions of the writer
//! thread on a 100 k-claim day, besides Snappy (an Arrow array per block, then the generic byte-array
//! encoder gathering each value through its index, statistics comparing every value's bytes,
//! levels through trait objects), for what is, per page, a copy of the cells with their lengths and
//! a compression (README "Performance", ninth pass).
//!
//! Each chunk is the one parquet-rs 60 writes for these columns with `write_batch_size` 8 192 and its
//! 20 000-row page limit, byte for byte (`cmp` of the whole file): data pages (v1) of
//! [`PAGE_ROWS`] rows, each the definition levels (nullable columns: a 4-byte length, then the
//! RLE/bit-packed hybrid at 1 bit, as [`super::dict`], but for the last values, as parquet-rs:
//! [`super::dict::hybrid_with`]) then the non-null values PLAIN (a text as its
//! 4-byte length and bytes, an INT64 as 8 bytes), the whole page compressed by the same `snap` raw
//! encoder parquet-rs calls — but for `claim` and `beneficiary_hash`, whose pages are compressed by
//! [`snappy_records`] since PARQUET20: their decompressed pages and values are parquet-rs's, their
//! compressed bytes are not (formats/parquet.md); with statistics, the page and chunk min/max (text: unsigned byte order,
//! as parquet-rs orders UTF-8), the column index and its boundary order, and the text's unencoded
//! byte counts per page (offset index) and per chunk; the encodings {RLE, PLAIN} and the pages'
//! encoding statistics.

use super::dict::{Chunk, PAGE_ROWS, hybrid_levels, non_null};
use super::pool;
use parquet::basic::{BoundaryOrder, Compression, Encoding, EncodingMask, PageType};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::ByteArray;
use parquet::file::metadata::{
    ColumnChunkMetaData, ColumnIndexBuilder, OffsetIndexBuilder, PageEncodingStats,
};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;
use std::cell::RefCell;

/// A text column's chunk: the non-null cells' bytes end to end and where each ends; a nullable
/// column's definition level per row (`practitioner`: without statistics).
pub(super) struct TextChunk {
    descr: ColumnDescPtr,
    stats: bool,
    snappy: Snappy,
    bytes: Vec<u8>,
    ends: Vec<u32>,
    /// Per row of a nullable column, 1 for a value, 0 for null; `None` for a non-nullable column.
    levels: Option<Vec<u8>>,
}

/// An INT64, INT32 or BOOLEAN column's chunk (without statistics): a definition level per row (a
/// nullable column), the non-null values — `beneficiary_hash` in the export; the fixed-width columns
/// of `convert`'s claims layout (`liquidator-columnar`, [`super::PlainColumn`]).
pub(super) struct PrimChunk {
    descr: ColumnDescPtr,
    snappy: Snappy,
    /// Per row of a nullable column, 1 for a value, 0 for null; empty for a non-nullable column
    /// (its rows counted in `rows`).
    levels: Vec<u8>,
    /// Rows pushed since the last close.
    rows: usize,
    /// The column is nullable (`descr.max_def_level() > 0`, read once: [`PrimChunk::push`] runs per
    /// cell).
    nullable: bool,
    /// The non-null values, held at the column's own width: `convert`'s 16 buckets each hold up to
    /// a row group of 65 536 rows of 50 columns, and INT32, DATE32 and BOOLEAN cells held as `i64`
    /// (with a level byte for non-nullable columns too) populated ≈ 0.1 GB more than the Arrow
    /// builders they replaced (CONVERT26: peak RSS 0.97 → 1.25 GB on the 1 M day).
    values: PrimValues,
    /// The first fault of a push, returned by [`PrimChunk::close`]: a null in a non-nullable
    /// column, an INT32 cell out of range.
    fault: Option<String>,
}

/// [`PrimChunk`]'s values by physical type (BOOLEAN: 0 or 1, one byte each).
enum PrimValues {
    I64(Vec<i64>),
    I32(Vec<i32>),
    Bool(Vec<u8>),
}

impl PrimValues {
    fn len(&self) -> usize {
        match self {
            PrimValues::I64(v) => v.len(),
            PrimValues::I32(v) => v.len(),
            PrimValues::Bool(v) => v.len(),
        }
    }

    fn held_bytes(&self) -> usize {
        match self {
            PrimValues::I64(v) => v.capacity() * 8,
            PrimValues::I32(v) => v.capacity() * 4,
            PrimValues::Bool(v) => v.capacity(),
        }
    }

    fn clear(&mut self) {
        match self {
            PrimValues::I64(v) => v.clear(),
            PrimValues::I32(v) => v.clear(),
            PrimValues::Bool(v) => v.clear(),
        }
    }
}

/// The page compression: Snappy through `snap`'s raw encoder as parquet-rs's codec calls it, or
/// through [`snappy_records`] for a column of records of one size ([`Snappy::records`]), or none.
struct Snappy {
    /// Pages compressed at all (else written as they are).
    on: bool,
    /// Pages whose values are records of one size compressed by [`snappy_records`] (`claim`,
    /// `beneficiary_hash`), not by `snap`.
    records: bool,
}

thread_local! {
    /// `snap`'s encoder (its hash table, up to 32 KiB) and the buffer compressed pages are written
    /// into (kept at the largest size needed: no zeroing per page), one per thread and shared by every
    /// column's chunk: a page is compressed at once, start to end, on the thread that closes the
    /// chunk. Held by each chunk, they cost a page and a table per column — `convert`'s 16 buckets of
    /// 50 columns kept 800 of them, ≈ 0.12 GB of its peak RSS on the 1 M day (the lead, 2026-12-03).
    static SNAP: RefCell<(snap::raw::Encoder, Vec<u8>)> =
        RefCell::new((snap::raw::Encoder::new(), Vec::new()));
}

impl Snappy {
    fn new(on: bool) -> Snappy {
        Snappy { on, records: false }
    }

    /// The page's bytes as written, for a page of `head` bytes (its definition levels, if any)
    /// then records of `R` bytes: compressed by [`snappy_records`] if [`Snappy::records`], else as
    /// [`Snappy::page`].
    fn page_of_records<const R: usize>(
        &mut self,
        page: Vec<u8>,
        head: usize,
    ) -> parquet::errors::Result<Vec<u8>> {
        let whole = head <= page.len() && (page.len() - head).is_multiple_of(R);
        if !self.on || !self.records || !whole {
            return self.page(page);
        }
        // The room `Out::new` reserves: a smaller buffer would be grown, on fresh pages, at once
        // (REVIEW20 L2).
        let mut out = pool::buffer(Out::room(page.len()));
        snappy_records::<R>(&page, head, &mut out);
        pool::give(page);
        Ok(out)
    }

    fn codec(&self) -> Compression {
        if self.on {
            Compression::SNAPPY
        } else {
            Compression::UNCOMPRESSED
        }
    }

    /// The page's bytes as written: `page` compressed, or as is.
    fn page(&mut self, page: Vec<u8>) -> parquet::errors::Result<Vec<u8>> {
        if !self.on {
            return Ok(page);
        }
        let out = SNAP.with_borrow_mut(|(e, scratch)| {
            let need = snap::raw::max_compress_len(page.len());
            if scratch.len() < need {
                scratch.resize(need, 0);
            }
            let n = e
                .compress(&page, scratch)
                .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))?;
            // The page back first: the compressed bytes may take its buffer.
            pool::give(page);
            let mut out = pool::buffer(n);
            out.extend_from_slice(scratch.get(..n).unwrap_or_default());
            Ok::<_, parquet::errors::ParquetError>(out)
        })?;
        Ok(out)
    }
}

/// Appends the Snappy stream (raw format, as parquet-rs's codec writes a page) of `page`, whose
/// bytes after the first `head` are records of `R` bytes (8 ≤ `R` ≤ 16; trailing bytes short of a
/// record are a literal). A valid stream that any Snappy decoder turns back into `page`, built from
/// where the records are instead of by searching for matches: the bytes from a record's start
/// equal to those one record before — a run of records equal to their predecessor (the lines of a
/// claim: the same claim number, the same pseudonym), then the leading bytes the next record
/// shares with its predecessor (a claim's 4-byte length and the leading digits of the next claim
/// number) — are one copy at distance `R` when there are at least 4; the other bytes are
/// literals.
///
/// **Why:** `snap`'s encoder hashes every 4 bytes of a page to find matches: ≈ 12 instructions a
/// byte, 46 M instructions of the writer thread on a 100 k-claim day for `claim`, `practitioner`
/// and `beneficiary_hash`. Here a record costs one or two 8-byte comparisons. The compressed sizes
/// are about `snap`'s for these two columns (their matches are with the record before);
/// `practitioner`, whose numbers recur a few claims apart, keeps `snap` (PARQUET19 measured
/// such an encoder on it: 6.80 → 7.98 MB on the 1 M-claim day).
pub(super) fn snappy_records<const R: usize>(page: &[u8], head: usize, out: &mut Vec<u8>) {
    const { assert!(8 <= R && R <= 16, "records of 8 to 16 bytes") };
    let n = page.len();
    super::dict::varint(out, n as u64);
    let mut w = Out::new(out, n);
    let head = head.min(n);
    let mut records = page.get(head..).unwrap_or_default().chunks_exact(R);
    let Some(mut prev) = records.next().and_then(|r| <&[u8; R]>::try_from(r).ok()) else {
        w.literal(page, 0, n);
        return;
    };
    // page[lit..] waits to be written as a literal; a copy at distance `R` of page[from..to] is
    // pending while `to > from`; `s` is the current record's start.
    let mut lit = 0;
    let (mut from, mut to) = (0, 0);
    let mut s = head + R;
    for r in records.by_ref() {
        let Ok(rec) = <&[u8; R]>::try_from(r) else {
            break;
        };
        let m = common_prefix(prev, rec);
        prev = rec;
        let at = s;
        s += R;
        if to == at && to > from {
            // The pending copy goes on over this record's bytes equal to the previous one's.
            to += m;
        } else if m >= 4 {
            w.literal(page, lit, at);
            (from, to) = (at, at + m);
        } else {
            continue;
        }
        if m < R {
            w.copy(R, to - from);
            lit = to;
            from = to;
        }
    }
    if to > from {
        w.copy(R, to - from);
        lit = to;
    }
    w.literal(page, lit, n);
}

/// The leading bytes two records of `R` bytes (8 ≤ `R` ≤ 16) share: two 8-byte comparisons at
/// most (bytes `0..8`, then `R − 8..R`).
#[inline(always)]
fn common_prefix<const R: usize>(a: &[u8; R], b: &[u8; R]) -> usize {
    // Constant ranges of arrays: no bounds check left once compiled.
    let head = |r: &[u8; R]| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&r[..8]);
        u64::from_le_bytes(w)
    };
    let tail = |r: &[u8; R]| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&r[R - 8..]);
        u64::from_le_bytes(w)
    };
    let x = head(a) ^ head(b);
    if x != 0 {
        return (x.trailing_zeros() / 8) as usize;
    }
    if R == 8 {
        return 8;
    }
    // Bytes `R − 8..8` are equal (checked above): the first difference is at 8 or later.
    let y = tail(a) ^ tail(b);
    if y == 0 {
        R
    } else {
        R - 8 + (y.trailing_zeros() / 8) as usize
    }
}

/// The stream being written by [`snappy_records`], into a buffer whose capacity is reserved once
/// for the page: each element written as one move of a fixed size (no call of `memcpy` for the
/// short literals, no growth check that can grow).
struct Out<'b> {
    buf: &'b mut Vec<u8>,
}

impl<'b> Out<'b> {
    /// Bytes reserved for the stream of a page of `n` bytes. A copy (≥ 4 bytes) takes at most 3
    /// bytes, fewer than it covers, and so pays for the tag of the literal after it; a literal
    /// past 60 bytes takes 1 to 4 length bytes more: the stream is under `n + 21` bytes (its
    /// 5-byte preamble, a literal's length bytes, 16 for a short literal's 16-byte move before it
    /// is cut; REVIEW20). Reserved with a margin; nothing depends on it but the growth it avoids.
    fn room(n: usize) -> usize {
        n + n / 8 + 48
    }

    fn new(buf: &'b mut Vec<u8>, n: usize) -> Out<'b> {
        buf.reserve(Self::room(n));
        Out { buf }
    }

    /// Appends the first `step` ≤ `K` bytes of `b` (written as one move of `K` bytes, the rest
    /// then cut).
    #[inline(always)]
    fn put<const K: usize>(&mut self, b: [u8; K], step: usize) {
        let at = self.buf.len();
        self.buf.extend_from_slice(&b);
        self.buf.truncate(at + step);
    }

    /// The literal element `page[from..to]` (nothing when empty): its tag (the length − 1 in the
    /// tag's 6 high bits below 60, else in 1 to 4 bytes after it), then the bytes. Shorter than 16
    /// bytes with 16 bytes of `page` from `from` (most literals: the rest of a record after the
    /// bytes it shares with the one before), the tag and one 16-byte move.
    #[inline(always)]
    fn literal(&mut self, page: &[u8], from: usize, to: usize) {
        let len = to.saturating_sub(from);
        if len == 0 {
            return;
        }
        if len < 16
            && let Some(w) = page.get(from..from + 16)
        {
            let mut b = [0u8; 17];
            b[0] = ((len - 1) as u8) << 2;
            b[1..].copy_from_slice(w);
            self.put(b, 1 + len);
            return;
        }
        let m = len - 1;
        if m < 60 {
            self.put([(m as u8) << 2], 1);
        } else {
            let le = (m as u32).to_le_bytes();
            let k = match m {
                0..=0xFF => 1,
                0x100..=0xFFFF => 2,
                0x1_0000..=0xFF_FFFF => 3,
                _ => 4,
            };
            self.put([((59 + k) as u8) << 2, le[0], le[1], le[2], le[3]], 1 + k);
        }
        self.buf
            .extend_from_slice(page.get(from..to).unwrap_or_default());
    }

    /// Copy elements of `len` bytes at distance `offset` (< 2 048; the copy may overlap its
    /// source): a copy with a 1-byte offset where it fits (4 to 11 bytes), else copies with a
    /// 2-byte offset of at most 64 bytes each.
    #[inline(always)]
    fn copy(&mut self, offset: usize, mut len: usize) {
        while len > 0 {
            if (4..=11).contains(&len) && offset < 2048 {
                self.put(
                    [
                        (((offset >> 8) as u8) << 5) | (((len - 4) as u8) << 2) | 1,
                        offset as u8,
                    ],
                    2,
                );
                return;
            }
            let l = len.min(64);
            let o = (offset as u16).to_le_bytes();
            self.put([(((l - 1) as u8) << 2) | 2, o[0], o[1]], 3);
            len -= l;
        }
    }
}

/// The pages of one chunk as they are written, and what the chunk's metadata needs of them (also
/// the amounts' delta pages, [`super::delta::AmountChunk`]).
pub(super) struct Pages<'w> {
    w: SerializedPageWriter<'w, Vec<u8>>,
    /// The data pages' encoding: PLAIN here, DELTA_BINARY_PACKED for the amounts.
    encoding: Encoding,
    size: u64,
    uncompressed: u64,
    first: Option<u64>,
    count: i32,
    offsets: OffsetIndexBuilder,
}

impl<'w> Pages<'w> {
    pub(super) fn new(out: &'w mut TrackedWrite<Vec<u8>>, encoding: Encoding) -> Pages<'w> {
        Pages {
            w: SerializedPageWriter::new(out),
            encoding,
            size: 0,
            uncompressed: 0,
            first: None,
            count: 0,
            offsets: OffsetIndexBuilder::new(),
        }
    }

    /// Writes a data page of `rows` rows (levels), given its bytes as stored and its uncompressed
    /// size.
    pub(super) fn write(
        &mut self,
        buf: Vec<u8>,
        uncompressed: usize,
        rows: usize,
    ) -> parquet::errors::Result<()> {
        let spec = self.w.write_page(CompressedPage::new(
            Page::DataPage {
                buf: pool::bytes(buf),
                num_values: rows as u32,
                encoding: self.encoding,
                def_level_encoding: Encoding::RLE,
                rep_level_encoding: Encoding::RLE,
                statistics: None,
            },
            uncompressed,
        ))?;
        self.count += 1;
        self.first.get_or_insert(spec.offset);
        self.size += spec.compressed_size as u64;
        self.uncompressed += spec.uncompressed_size as u64;
        self.offsets
            .append_offset_and_size(spec.offset as i64, spec.compressed_size as i32);
        self.offsets.append_row_count(rows as i64);
        Ok(())
    }

    /// The chunk's metadata builder (sizes, offsets, encodings) and its offset index.
    pub(super) fn finish(
        mut self,
        descr: &ColumnDescPtr,
        codec: Compression,
        rows: usize,
    ) -> parquet::errors::Result<(
        parquet::file::metadata::ColumnChunkMetaDataBuilder,
        OffsetIndexBuilder,
    )> {
        self.w.close()?;
        let b = ColumnChunkMetaData::builder(descr.clone())
            .set_compression(codec)
            .set_encodings_mask(EncodingMask::new_from_encodings(
                [Encoding::RLE, self.encoding].iter(),
            ))
            .set_page_encoding_stats(vec![PageEncodingStats {
                page_type: PageType::DATA_PAGE,
                encoding: self.encoding,
                count: self.count,
            }])
            .set_total_compressed_size(self.size as i64)
            .set_total_uncompressed_size(self.uncompressed as i64)
            .set_num_values(rows as i64)
            .set_data_page_offset(self.first.unwrap_or(0) as i64);
        Ok((b, self.offsets))
    }
}

/// The chunk's close result from its bytes, metadata and indexes.
pub(super) fn result(
    out: TrackedWrite<Vec<u8>>,
    metadata: ColumnChunkMetaData,
    rows: usize,
    column_index: Option<parquet::file::page_index::column_index::ColumnIndexMetaData>,
    offsets: OffsetIndexBuilder,
) -> parquet::errors::Result<Chunk> {
    let bytes = pool::bytes(out.into_inner()?);
    Ok((
        bytes,
        ColumnCloseResult {
            bytes_written: metadata.compressed_size() as u64,
            rows_written: rows as u64,
            metadata,
            bloom_filter: None,
            column_index,
            offset_index: Some(offsets.build()),
        },
    ))
}

/// The cells' length that [`TextChunk::close`] writes by records of a constant size: the 9 digits
/// of `claim` and `practitioner`.
const FIXED: usize = 9;

/// The page's (least key, greatest key, the cell of each) once cell `i` of order key `k` is seen:
/// the first of equal keys is kept.
fn widen(
    lo_hi: Option<(u128, u128, usize, usize)>,
    k: u128,
    i: usize,
) -> (u128, u128, usize, usize) {
    match lo_hi {
        None => (k, k, i, i),
        Some((l, h, li, hi)) => {
            let (l, li) = if k < l { (k, i) } else { (l, li) };
            let (h, hi) = if k > h { (k, i) } else { (h, hi) };
            (l, h, li, hi)
        }
    }
}

/// A text's position in unsigned byte order, for texts of up to 15 bytes: the bytes from the top,
/// padded with zeros, the length in the low byte (a prefix sorts first, as in byte order).
fn order_key(b: &[u8]) -> Option<u128> {
    if b.len() > 15 {
        return None;
    }
    let mut a = [0u8; 16];
    a.get_mut(..b.len())?.copy_from_slice(b);
    a[15] = b.len() as u8;
    Some(u128::from_be_bytes(a))
}

impl TextChunk {
    /// A chunk of the text column `descr`, with min/max statistics if `stats` (a non-nullable
    /// column), Snappy-compressed if `snappy`; its buffers reserved for `rows` rows.
    pub(super) fn new(
        descr: ColumnDescPtr,
        stats: bool,
        snappy: bool,
        rows: usize,
    ) -> Result<TextChunk, String> {
        let nullable = descr.max_def_level() > 0;
        if descr.physical_type() != parquet::basic::Type::BYTE_ARRAY
            || descr.max_def_level() > 1
            || (nullable && stats)
        {
            return Err(format!(
                "column {}: plain text is written for text columns, with statistics if not nullable",
                descr.name()
            ));
        }
        Ok(TextChunk {
            descr,
            stats,
            snappy: Snappy::new(snappy),
            bytes: Vec::with_capacity(rows * 10),
            ends: Vec::with_capacity(rows),
            levels: nullable.then(|| Vec::with_capacity(rows)),
        })
    }

    /// Appends a cell: `cell` writes its bytes after the previous cells' and says whether it is
    /// valid (a null cell is an error: the column is not nullable).
    #[inline(always)]
    pub(super) fn push(&mut self, cell: impl FnOnce(&mut Vec<u8>) -> bool) -> Result<(), String> {
        let start = self.bytes.len();
        let valid = cell(&mut self.bytes);
        match &mut self.levels {
            Some(levels) => levels.push(u8::from(valid)),
            None if !valid => {
                return Err(format!("column {}: a null cell", self.descr.name()));
            }
            None => {}
        }
        if valid {
            self.ends.push(self.bytes.len() as u32);
        } else {
            self.bytes.truncate(start);
        }
        Ok(())
    }

    /// Appends a cell of `N` bytes per item of `cells` (never null): the bytes and ends reserved
    /// once for the slice.
    #[inline(always)]
    pub(super) fn push_fixed<const N: usize>(
        &mut self,
        cells: impl ExactSizeIterator<Item = [u8; N]>,
    ) {
        let n = cells.len();
        if let Some(levels) = &mut self.levels {
            levels.extend(std::iter::repeat_n(1, n));
        }
        // Written by position into buffers sized once for the slice, as `push_fixed_opt` (a
        // `Vec::push` per buffer and cell reloaded and stored each length).
        let (b0, e0) = (self.bytes.len(), self.ends.len());
        self.bytes.resize(b0 + n * N, 0);
        self.ends.resize(e0 + n, 0);
        let bytes = self.bytes.get_mut(b0..).unwrap_or_default();
        let ends = self.ends.get_mut(e0..).unwrap_or_default();
        // The end of each cell as `bytes.len() as u32` would give it.
        let mut end = b0 as u32;
        let mut k = 0;
        for ((c, b), e) in cells.zip(bytes.chunks_exact_mut(N)).zip(ends.iter_mut()) {
            b.copy_from_slice(&c);
            end = end.wrapping_add(N as u32);
            *e = end;
            k += 1;
        }
        self.bytes.truncate(b0 + k * N);
        self.ends.truncate(e0 + k);
    }

    /// Appends a cell of `N` bytes or a null cell per item of `cells` (a nullable column: an error
    /// otherwise, the slice then left out).
    #[inline(always)]
    pub(super) fn push_fixed_opt<const N: usize>(
        &mut self,
        cells: impl ExactSizeIterator<Item = Option<[u8; N]>>,
    ) -> Result<(), String> {
        let Some(levels) = &mut self.levels else {
            return Err(format!(
                "column {}: optional cells in a non-nullable column",
                self.descr.name()
            ));
        };
        // The three buffers sized for a value per row, written by position, then cut to the
        // values (a `Vec::push` per buffer and cell reloaded and stored each length: ≈ 70
        // instructions a cell).
        let n = cells.len();
        let (b0, e0, l0) = (self.bytes.len(), self.ends.len(), levels.len());
        levels.resize(l0 + n, 0);
        self.bytes.resize(b0 + n * N, 0);
        self.ends.resize(e0 + n, 0);
        let bytes = self.bytes.get_mut(b0..).unwrap_or_default();
        let ends = self.ends.get_mut(e0..).unwrap_or_default();
        let mut k = 0;
        for (c, level) in cells.zip(levels.get_mut(l0..).unwrap_or_default()) {
            *level = u8::from(c.is_some());
            if let Some(c) = c {
                if let (Some(b), Some(e)) = (bytes.get_mut(k * N..k * N + N), ends.get_mut(k)) {
                    b.copy_from_slice(&c);
                    *e = (b0 + k * N + N) as u32;
                }
                k += 1;
            }
        }
        self.bytes.truncate(b0 + k * N);
        self.ends.truncate(e0 + k);
        Ok(())
    }

    /// The chunk's pages of fixed cells compressed by [`snappy_records`] instead of `snap`.
    pub(super) fn with_record_snappy(mut self) -> TextChunk {
        self.snappy.records = true;
        self
    }

    pub(super) fn held_bytes(&self) -> usize {
        self.bytes.capacity()
            + self.ends.capacity() * 4
            + self.levels.as_ref().map_or(0, Vec::capacity)
    }

    /// Writes the chunk of the rows pushed since the last call and starts the next one.
    pub(super) fn close(&mut self) -> parquet::errors::Result<Chunk> {
        let rows = self.levels.as_ref().map_or(self.ends.len(), Vec::len);
        // The pages: rows, and their values' range in `ends` (a page is `PAGE_ROWS` rows).
        let mut specs: Vec<(usize, usize, usize)> = Vec::new();
        match &self.levels {
            None => {
                for (p, e) in self.ends.chunks(PAGE_ROWS).enumerate() {
                    specs.push((e.len(), p * PAGE_ROWS, e.len()));
                }
            }
            Some(levels) => {
                let mut v = 0;
                for l in levels.chunks(PAGE_ROWS) {
                    let n = non_null(l);
                    specs.push((l.len(), v, n));
                    v += n;
                }
                if v != self.ends.len() {
                    return Err(parquet::errors::ParquetError::General(
                        "text cells and levels disagree".into(),
                    ));
                }
            }
        }
        let mut out = TrackedWrite::new(pool::buffer(self.bytes.len() + rows / 4 + 256));
        let mut pages = Pages::new(&mut out, Encoding::PLAIN);
        let mut index = ColumnIndexBuilder::new(parquet::basic::Type::BYTE_ARRAY);
        let mut min_max: Option<(Vec<u8>, Vec<u8>)> = None;
        let mut last: Option<(Vec<u8>, Vec<u8>)> = None;
        let (mut ascending, mut descending) = (true, true);
        let mut unencoded = 0i64;
        let mut start = 0usize;
        for (p, &(page_rows, first, values)) in specs.iter().enumerate() {
            let ends = self.ends.get(first..first + values).unwrap_or_default();
            let end = ends.last().map_or(start, |&e| e as usize);
            let cells = self.bytes.get(start..end).unwrap_or_default();
            // Cells that are not UTF-8 become their lossy conversion, as a `String` cell would be.
            let fixed: Option<(Vec<u8>, Vec<u32>)> =
                std::str::from_utf8(cells).is_err().then(|| {
                    let (mut b, mut e) = (Vec::new(), Vec::new());
                    let mut s = start;
                    for &x in ends {
                        let cell = self.bytes.get(s..x as usize).unwrap_or_default();
                        b.extend_from_slice(String::from_utf8_lossy(cell).as_bytes());
                        e.push(b.len() as u32);
                        s = x as usize;
                    }
                    (b, e)
                });
            let (cells, ends, base) = match &fixed {
                Some((b, e)) => (&b[..], &e[..], 0usize),
                None => (cells, ends, start),
            };
            let mut page = pool::buffer(cells.len() + 4 * ends.len() + page_rows / 8 + 16);
            if let Some(levels) = &self.levels {
                // Definition levels (max 1): 4-byte length, then the hybrid encoding at 1 bit,
                // ended as parquet-rs's level encoder ends a page (as `PrimChunk`).
                let l = levels
                    .get(p * PAGE_ROWS..p * PAGE_ROWS + page_rows)
                    .unwrap_or_default();
                page.extend_from_slice(&[0; 4]);
                hybrid_levels(l, true, &mut page);
                let len = (page.len() - 4) as u32;
                page[..4].copy_from_slice(&len.to_le_bytes());
            }
            // Where the values start, after the levels.
            let head = page.len();
            let mut s = base;
            let mut lo_hi: Option<(u128, u128, usize, usize)> = None;
            let mut keyed = true;
            // Cells of 9 bytes each (`claim`, `practitioner`): each cell and its length written
            // as one record of a constant size, its order key built from a constant size (no call
            // of `memcpy` per cell); the same bytes and statistics as the loop below.
            let fixed = ends
                .iter()
                .enumerate()
                .all(|(i, &x)| x as usize == base + FIXED * (i + 1));
            if fixed {
                for (i, c) in cells.chunks_exact(FIXED).enumerate() {
                    let mut rec = [0u8; 4 + FIXED];
                    rec[..4].copy_from_slice(&(FIXED as u32).to_le_bytes());
                    rec[4..].copy_from_slice(c);
                    page.extend_from_slice(&rec);
                    if self.stats {
                        let mut a = [0u8; 16];
                        a[..FIXED].copy_from_slice(c);
                        a[15] = FIXED as u8;
                        let k = u128::from_be_bytes(a);
                        lo_hi = Some(widen(lo_hi, k, i))
                    }
                }
            }
            for (i, &x) in ends.iter().enumerate().filter(|_| !fixed) {
                let cell = cells.get(s - base..x as usize - base).unwrap_or_default();
                page.extend_from_slice(&(cell.len() as u32).to_le_bytes());
                page.extend_from_slice(cell);
                if self.stats && keyed {
                    match order_key(cell) {
                        Some(k) => lo_hi = Some(widen(lo_hi, k, i)),
                        None => keyed = false,
                    }
                }
                s = x as usize;
            }
            let page_bytes = cells.len() as i64;
            unencoded += page_bytes;
            let cell_at = |i: usize| -> Vec<u8> {
                let a = if i == 0 { base } else { ends[i - 1] as usize };
                cells
                    .get(a - base..ends[i] as usize - base)
                    .unwrap_or_default()
                    .to_vec()
            };
            if self.stats && !ends.is_empty() {
                let (lo, hi) = match (keyed, lo_hi) {
                    (true, Some((_, _, li, hi))) => (cell_at(li), cell_at(hi)),
                    _ => {
                        // A cell longer than 15 bytes: every cell compared by its bytes.
                        let mut lo = cell_at(0);
                        let mut hi = lo.clone();
                        for i in 1..ends.len() {
                            let c = cell_at(i);
                            if c < lo {
                                lo = c.clone();
                            }
                            if c > hi {
                                hi = c;
                            }
                        }
                        (lo, hi)
                    }
                };
                if let Some((l, h)) = &last {
                    ascending &= !(*l > lo || *h > hi);
                    descending &= !(lo > *l || hi > *h);
                }
                index.append(false, lo.clone(), hi.clone(), 0, None);
                min_max = Some(match min_max {
                    None => (lo.clone(), hi.clone()),
                    Some((a, b)) => (a.min(lo.clone()), b.max(hi.clone())),
                });
                last = Some((lo, hi));
            }
            let uncompressed = page.len();
            // Fixed cells: records of their 4-byte length and 9 bytes.
            let buf = if fixed {
                self.snappy.page_of_records::<{ 4 + FIXED }>(page, head)?
            } else {
                self.snappy.page(page)?
            };
            pages.write(buf, uncompressed, page_rows)?;
            pages
                .offsets
                .append_unencoded_byte_array_data_bytes(Some(page_bytes));
            start = end;
        }
        let (mut b, offsets) = pages.finish(&self.descr, self.snappy.codec(), rows)?;
        let mut column_index = None;
        if self.stats {
            index.set_boundary_order(match (ascending, descending) {
                (true, _) => BoundaryOrder::ASCENDING,
                (false, true) => BoundaryOrder::DESCENDING,
                (false, false) => BoundaryOrder::UNORDERED,
            });
            let (lo, hi) = match min_max {
                Some((l, h)) => (Some(ByteArray::from(l)), Some(ByteArray::from(h))),
                None => (None, None),
            };
            b = b
                .set_statistics(Statistics::ByteArray(
                    ValueStatistics::new(lo, hi, None, Some(0), false)
                        .with_max_is_exact(true)
                        .with_min_is_exact(true),
                ))
                .set_unencoded_byte_array_data_bytes(Some(unencoded));
            column_index = Some(index.build()?);
        }
        let metadata = b.build()?;
        self.bytes.clear();
        self.ends.clear();
        if let Some(levels) = &mut self.levels {
            levels.clear();
        }
        result(out, metadata, rows, column_index, offsets)
    }
}

impl PrimChunk {
    /// A chunk of the INT64, INT32 or BOOLEAN column `descr` (nullable or not) without statistics,
    /// Snappy-compressed if `snappy`; its buffers reserved for `rows` rows.
    pub(super) fn new(
        descr: ColumnDescPtr,
        snappy: bool,
        rows: usize,
    ) -> Result<PrimChunk, String> {
        use parquet::basic::Type;
        if !matches!(
            descr.physical_type(),
            Type::INT64 | Type::INT32 | Type::BOOLEAN
        ) || descr.max_def_level() > 1
            || descr.max_rep_level() > 0
        {
            return Err(format!(
                "column {}: plain INT64, INT32 or BOOLEAN is written for flat columns of those types only",
                descr.name()
            ));
        }
        let values = match descr.physical_type() {
            Type::INT64 => PrimValues::I64(Vec::with_capacity(rows)),
            Type::INT32 => PrimValues::I32(Vec::with_capacity(rows)),
            _ => PrimValues::Bool(Vec::with_capacity(rows)),
        };
        let nullable = descr.max_def_level() > 0;
        Ok(PrimChunk {
            descr,
            snappy: Snappy::new(snappy),
            levels: Vec::with_capacity(if nullable { rows } else { 0 }),
            rows: 0,
            nullable,
            values,
            fault: None,
        })
    }

    /// Appends a cell (`None`: null; an error when the chunk is closed if the column is not
    /// nullable, as for an INT32 cell out of range).
    #[inline(always)]
    pub(super) fn push(&mut self, v: Option<i64>) {
        self.rows += 1;
        if self.nullable {
            self.levels.push(u8::from(v.is_some()));
        } else if v.is_none() && self.fault.is_none() {
            self.fault = Some(format!("column {}: a null cell", self.descr.name()));
        }
        let Some(v) = v else { return };
        match &mut self.values {
            PrimValues::I64(values) => values.push(v),
            PrimValues::I32(values) => match i32::try_from(v) {
                Ok(v) => values.push(v),
                Err(_) => {
                    // Kept in place (0) so that the values stay aligned with the levels; the chunk
                    // is refused when closed.
                    values.push(0);
                    if self.fault.is_none() {
                        self.fault =
                            Some(format!("column {}: {v} is not an INT32", self.descr.name()));
                    }
                }
            },
            PrimValues::Bool(values) => values.push(u8::from(v != 0)),
        }
    }

    /// The chunk's pages compressed by [`snappy_records`] instead of `snap` (INT64 only: records
    /// of 8 bytes).
    pub(super) fn with_record_snappy(mut self) -> PrimChunk {
        self.snappy.records = self.descr.physical_type() == parquet::basic::Type::INT64;
        self
    }

    pub(super) fn held_bytes(&self) -> usize {
        self.levels.capacity() + self.values.held_bytes()
    }

    /// Writes the chunk of the rows pushed since the last call and starts the next one (a chunk
    /// refused for a fault of its pushes starts the next one too).
    pub(super) fn close(&mut self) -> parquet::errors::Result<Chunk> {
        use parquet::errors::ParquetError::General;
        let rows = std::mem::take(&mut self.rows);
        if let Some(fault) = self.fault.take() {
            self.levels.clear();
            self.values.clear();
            return Err(General(fault));
        }
        let nullable = self.nullable;
        let width = match &self.values {
            PrimValues::I64(_) => 8,
            PrimValues::I32(_) => 4,
            PrimValues::Bool(_) => 1,
        };
        let mut out = TrackedWrite::new(pool::buffer(self.values.len() * width + 256));
        let mut pages = Pages::new(&mut out, Encoding::PLAIN);
        let mut next = 0;
        let mut start = 0;
        while start < rows {
            let page_rows = PAGE_ROWS.min(rows - start);
            let levels = if nullable {
                self.levels
                    .get(start..start + page_rows)
                    .ok_or_else(|| General("fewer levels than rows".into()))?
            } else {
                &[]
            };
            let n = if nullable {
                non_null(levels)
            } else {
                page_rows
            };
            if next + n > self.values.len() {
                return Err(General("fewer values than levels".into()));
            }
            let mut page = pool::buffer(page_rows / 8 + 8 * n + 16);
            if nullable {
                page.extend_from_slice(&[0; 4]);
                hybrid_levels(levels, true, &mut page);
                let len = (page.len() - 4) as u32;
                page[..4].copy_from_slice(&len.to_le_bytes());
            }
            let head = page.len();
            match &self.values {
                PrimValues::I64(values) => {
                    for v in &values[next..next + n] {
                        page.extend_from_slice(&v.to_le_bytes());
                    }
                }
                PrimValues::I32(values) => {
                    for v in &values[next..next + n] {
                        page.extend_from_slice(&v.to_le_bytes());
                    }
                }
                // PLAIN booleans: one bit per value, least significant bit first.
                PrimValues::Bool(values) => {
                    for group in values[next..next + n].chunks(8) {
                        let mut byte = 0u8;
                        for (k, &v) in group.iter().enumerate() {
                            byte |= v << k;
                        }
                        page.push(byte);
                    }
                }
            }
            next += n;
            start += page_rows;
            let uncompressed = page.len();
            let buf = self.snappy.page_of_records::<8>(page, head)?;
            pages.write(buf, uncompressed, page_rows)?;
        }
        let (b, offsets) = pages.finish(&self.descr, self.snappy.codec(), rows)?;
        let metadata = b.build()?;
        self.levels.clear();
        self.values.clear();
        result(out, metadata, rows, None, offsets)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::{EnabledStatistics, WriterProperties};
    use std::sync::Arc;

    /// The file of one column written by parquet-rs's Arrow writer with the export's settings for
    /// it (`write_batch_size` 8 192, no dictionary, Snappy; statistics or none), arrays of 8 192
    /// rows, and the same file with the chunk written by `ours`.
    fn both(
        field: Field,
        stats: bool,
        arrays: Vec<ArrayRef>,
        ours: impl FnOnce(ColumnDescPtr) -> Chunk,
    ) -> (Vec<u8>, Vec<u8>) {
        let schema = Arc::new(Schema::new(vec![field]));
        let props = || {
            WriterProperties::builder()
                .set_write_batch_size(8192)
                .set_dictionary_enabled(false)
                .set_compression(Compression::SNAPPY)
                .set_statistics_enabled(if stats {
                    EnabledStatistics::Page
                } else {
                    EnabledStatistics::None
                })
                .build()
        };
        let mut theirs = Vec::new();
        let mut w = ArrowWriter::try_new(&mut theirs, schema.clone(), Some(props())).unwrap();
        for a in arrays {
            w.write(&RecordBatch::try_new(schema.clone(), vec![a]).unwrap())
                .unwrap();
        }
        w.close().unwrap();
        let mut mine = Vec::new();
        let (mut w, _) = ArrowWriter::try_new(&mut mine, schema, Some(props()))
            .and_then(|w| w.into_serialized_writer())
            .unwrap();
        let (bytes, close) = ours(w.schema_descr().column(0));
        let mut rg = w.next_row_group().unwrap();
        rg.append_column(&bytes, close).unwrap();
        rg.close().unwrap();
        w.close().unwrap();
        (theirs, mine)
    }

    /// The Parquet columns of a schema of `fields`, as parquet-rs's Arrow writer makes them.
    pub(in crate::parquet) fn leaves(fields: Vec<Field>) -> Vec<ColumnDescPtr> {
        let (w, _) = ArrowWriter::try_new(Vec::new(), Arc::new(Schema::new(fields)), None)
            .and_then(|w| w.into_serialized_writer())
            .unwrap();
        w.schema_descr().columns().to_vec()
    }

    /// A fixed-width chunk holds its cells at the column's own width (INT32 4 bytes, BOOLEAN 1,
    /// INT64 8), a level byte per row only where the column is nullable, and no compressed page
    /// once closed (the Snappy scratch is the thread's): `convert` keeps 16 buckets × 50 of these
    /// full for a row group (peak RSS 1.25 → 1.01 GB on the 1 M day). Checked to fail with the
    /// values held as `i64`, with levels kept for a required column, and with a scratch per chunk.
    #[test]
    fn a_fixed_width_chunk_holds_its_cells_at_their_own_width_and_no_page_once_closed() {
        let d = leaves(vec![
            Field::new("i32", DataType::Int32, false),
            Field::new("bn", DataType::Boolean, true),
            Field::new("i64n", DataType::Int64, true),
        ]);
        let rows = 1000;
        for (k, per_row) in [(0, 4), (1, 1 + 1), (2, 1 + 8)] {
            let mut c = PrimChunk::new(d[k].clone(), true, rows).unwrap();
            assert_eq!(c.held_bytes(), rows * per_row, "column {k}");
            for i in 0..rows {
                c.push(Some(i as i64 % 2));
            }
            c.close().unwrap();
            assert_eq!(c.held_bytes(), rows * per_row, "column {k} once closed");
        }
    }

    #[test]
    fn a_text_chunk_is_the_bytes_parquet_rs_writes() {
        // Claim numbers (9 digits, increasing, repeated), then decreasing, texts of every length up
        // to 20 bytes (byte order past 15 bytes: compared by their bytes), a prefix before its
        // extension, bytes above 0x7F, one row, page boundaries (24 576 rows).
        let claims: Vec<String> = (0..30_000).map(|i| format!("{:09}", 7 + i / 2)).collect();
        let down: Vec<String> = (0..25_000).rev().map(|i| format!("{:09}", i)).collect();
        let mixed: Vec<String> = (0..3_000)
            .map(|i: usize| "éAb~z0".chars().cycle().skip(i % 7).take(i % 21).collect())
            .collect();
        let cases = [
            claims,
            down,
            mixed,
            vec!["abc".into(), "ab".into(), "abd".into(), "".into()],
            vec!["x".into()],
        ];
        for (k, cells) in cases.iter().enumerate() {
            let arrays = text_arrays(cells);
            let (theirs, mine) = both(
                Field::new("claim", DataType::Utf8, false),
                true,
                arrays,
                |d| {
                    let mut t = TextChunk::new(d, true, true, cells.len()).unwrap();
                    for c in cells {
                        t.push(|b| {
                            b.extend_from_slice(c.as_bytes());
                            true
                        })
                        .unwrap();
                    }
                    t.close().unwrap()
                },
            );
            assert!(theirs == mine, "case {k}");
        }
    }

    #[test]
    fn a_nullable_text_chunk_is_the_bytes_parquet_rs_writes() {
        // Practitioner numbers (9 digits, a few lines each) with nulls (orphans), over page
        // boundaries; a page ending on a lone null after a long run; all nulls; none; pushed
        // by `push_fixed_opt` in slices of 64 rows, and by `push` cell by cell.
        let digits = |n: u32| -> [u8; 9] { format!("{n:09}").into_bytes().try_into().unwrap() };
        let mut cases: Vec<Vec<Option<[u8; 9]>>> = Vec::new();
        cases.push(
            (0..70_000u32)
                .map(|i| (i % 13 != 5).then(|| digits(100_000_000 + (i / 3) * 7919 % 25_000)))
                .collect(),
        );
        let mut lone: Vec<Option<[u8; 9]>> = (0..24_575).map(|i| Some(digits(i))).collect();
        lone.push(None);
        lone.extend((0..9).map(|_| Some(digits(5))));
        cases.push(lone);
        cases.push(vec![None; 1000]);
        cases.push((0..3).map(|i| Some(digits(i))).collect());
        cases.push(vec![Some(digits(1)), None, None]);
        for (k, cells) in cases.iter().enumerate() {
            let arrays: Vec<ArrayRef> = cells
                .chunks(8192)
                .map(|c| {
                    Arc::new(StringArray::from_iter(
                        c.iter()
                            .map(|x| x.map(|b| String::from_utf8(b.to_vec()).unwrap())),
                    )) as ArrayRef
                })
                .collect();
            for by_slice in [true, false] {
                let (theirs, mine) = both(
                    Field::new("practitioner", DataType::Utf8, true),
                    false,
                    arrays.clone(),
                    |d| {
                        let mut t = TextChunk::new(d, false, true, cells.len()).unwrap();
                        if by_slice {
                            for s in cells.chunks(64) {
                                t.push_fixed_opt(s.iter().copied()).unwrap();
                            }
                        } else {
                            for c in cells {
                                t.push(|b| c.map(|c| b.extend_from_slice(&c)).is_some())
                                    .unwrap();
                            }
                        }
                        t.close().unwrap()
                    },
                );
                assert!(theirs == mine, "case {k}, by slice {by_slice}");
            }
        }
    }

    #[test]
    fn an_int64_chunk_with_nulls_is_the_bytes_parquet_rs_writes() {
        // Runs of values and nulls (lines of a claim, rejected claims), a page ending on a lone
        // null after a long run (parquet-rs's level encoder writes it as a run), all nulls, none.
        let mut cases: Vec<Vec<Option<i64>>> = Vec::new();
        cases.push(
            (0..70_000i64)
                .map(|i| (i % 11 != 3).then_some(i / 2 * 0x9E37_79B9))
                .collect(),
        );
        let mut lone: Vec<Option<i64>> = (0..24_575).map(Some).collect();
        lone.push(None);
        lone.extend((0..9).map(|_| Some(5)));
        cases.push(lone);
        cases.push(vec![None; 1000]);
        cases.push((0..3).map(Some).collect());
        cases.push(vec![Some(1), None, None]);
        for (k, cells) in cases.iter().enumerate() {
            let arrays = cells
                .chunks(8192)
                .map(|c| Arc::new(Int64Array::from(c.to_vec())) as ArrayRef)
                .collect();
            let (theirs, mine) = both(
                Field::new("beneficiary_hash", DataType::Int64, true),
                false,
                arrays,
                |d| {
                    let mut t = PrimChunk::new(d, true, cells.len()).unwrap();
                    for &c in cells {
                        t.push(c);
                    }
                    t.close().unwrap()
                },
            );
            assert!(theirs == mine, "case {k}");
        }
    }

    /// The values parquet-rs reads back from a file.
    fn values(file: &[u8]) -> Vec<RecordBatch> {
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            bytes::Bytes::copy_from_slice(file),
        )
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
    }

    #[test]
    fn snappy_records_decompress_to_the_page() {
        // Heads of 0 to 70 bytes, records of 8 and 13 bytes: random records, runs of equal
        // records (past the 64 bytes of a copy), shared prefixes of every length, long literals
        // (past 60, 256 and 65 536 bytes), an empty page, a tail short of a record.
        let mut x = 99u64;
        let mut rnd = move || {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) as u8
        };
        fn check<const R: usize>(rnd: &mut impl FnMut() -> u8) {
            for head in [0usize, 1, 4, 59, 60, 61, 70] {
                for (n, mode) in [
                    (0, 0u8),
                    (1, 0),
                    (2, 1),
                    (50, 1),
                    (300, 2),
                    (7000, 3),
                    (9000, 0),
                ] {
                    let mut page: Vec<u8> = (0..head).map(|_| rnd()).collect();
                    let mut prev: Vec<u8> = (0..R).map(|_| rnd()).collect();
                    for i in 0..n {
                        let r: Vec<u8> = match (mode, rnd() % 4) {
                            (0, _) => (0..R).map(|_| rnd()).collect(),
                            (1, _) if i % 17 != 0 => prev.clone(),
                            (2, k) | (3, k) if k > 0 => {
                                let c = usize::from(rnd()) % (R + 1);
                                let mut r = prev[..c].to_vec();
                                r.extend((c..R).map(|_| rnd()));
                                r
                            }
                            _ => (0..R).map(|_| rnd()).collect(),
                        };
                        page.extend_from_slice(&r);
                        prev = r;
                    }
                    for tail in [0usize, 3] {
                        let mut page = page.clone();
                        page.extend((0..tail).map(|_| rnd()));
                        let mut out = Vec::new();
                        snappy_records::<R>(&page, head, &mut out);
                        let back = snap::raw::Decoder::new().decompress_vec(&out).unwrap();
                        assert!(back == page, "R {R}, head {head}, {n} records, mode {mode}");
                        if mode == 1 && n >= 50 {
                            assert!(out.len() < page.len() / 2, "runs are copies");
                        }
                    }
                }
            }
        }
        check::<8>(&mut rnd);
        check::<13>(&mut rnd);
        check::<16>(&mut rnd);
    }

    /// Text cells as parquet-rs's input: string arrays of 8 192 rows (the sink's block).
    fn text_arrays(cells: &[String]) -> Vec<ArrayRef> {
        cells
            .chunks(8192)
            .map(|c| Arc::new(StringArray::from_iter_values(c)) as ArrayRef)
            .collect()
    }

    #[test]
    fn chunks_compressed_by_snappy_records_read_back_as_parquet_rs_wrote_them() {
        // Claim numbers (increasing, a few lines each, a carry past several digits) and
        // pseudonyms with nulls, over page boundaries.
        let claims: Vec<String> = (0..60_000)
            .map(|i| format!("{:09}", 99_990 + i / 3 + (i % 7 == 0) as usize))
            .collect();
        let arrays = text_arrays(&claims);
        let (theirs, mine) = both(
            Field::new("claim", DataType::Utf8, false),
            true,
            arrays,
            |d| {
                let mut t = TextChunk::new(d, true, true, claims.len())
                    .unwrap()
                    .with_record_snappy();
                for c in claims.chunks(64) {
                    t.push_fixed(c.iter().map(|c| <[u8; 9]>::try_from(c.as_bytes()).unwrap()));
                }
                t.close().unwrap()
            },
        );
        assert!(theirs != mine, "compressed otherwise than by snap");
        assert!(mine.len() < theirs.len() + theirs.len() / 10);
        assert_eq!(values(&theirs), values(&mine));
        let hashes: Vec<Option<i64>> = (0..70_000i64)
            .map(|i| (i % 11 != 3).then_some((i / 2).wrapping_mul(0x1E37_79B9_7F4A_7C15)))
            .collect();
        let arrays = hashes
            .chunks(8192)
            .map(|c| Arc::new(Int64Array::from(c.to_vec())) as ArrayRef)
            .collect();
        let (theirs, mine) = both(
            Field::new("beneficiary_hash", DataType::Int64, true),
            false,
            arrays,
            |d| {
                let mut t = PrimChunk::new(d, true, hashes.len())
                    .unwrap()
                    .with_record_snappy();
                for &c in &hashes {
                    t.push(c);
                }
                t.close().unwrap()
            },
        );
        assert!(theirs != mine, "compressed otherwise than by snap");
        assert_eq!(values(&theirs), values(&mine));
    }
}
