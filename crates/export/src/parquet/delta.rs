//! The `DELTA_BINARY_PACKED` column chunks written straight from the row group's values, without
//! parquet-rs's column writer: [`DeltaChunk`], the positions (`input_line`, `byte_offset`:
//! non-nullable INT64 that grow row to row, with statistics), and [`AmountChunk`], the amounts of
//! many values (nullable or not, negative ones included, no statistics). The paragraphs below
//! describe the positions' chunk; the amounts' is described at [`AmountChunk`].
//!
//! Why: through parquet-rs's Arrow writer these two columns cost ≈ 45 M instructions on a 100 k-claim
//! day (an Arrow array per block, then the generic encoder: a bounds-checked store per delta, a
//! bit writer per value, levels and statistics through trait objects), for what is, per page, a
//! subtraction, a minimum and a maximum per miniblock and a bit-packing (README "Performance", ninth
//! pass).
//!
//! The chunk is the one parquet-rs 60 writes for these columns with `write_batch_size` 8 192 and its
//! 20 000-row page limit, byte for byte (`cmp` of the whole file): data pages (v1, uncompressed, no
//! levels) of [`PAGE_ROWS`] rows, each a DELTA_BINARY_PACKED stream of blocks of 256 values in 4
//! miniblocks of 64 (parquet-rs's layout for INT64: the header, then per block the minimum delta
//! and the miniblocks' bit widths, a miniblock of 64 values at `w` bits being `8 w` bytes, the last
//! one padded with zeros, the unused miniblocks of the last block of width 0 and absent); min/max
//! statistics per page (column index, with its boundary order) and per chunk; an offset index; the
//! encodings {RLE, DELTA_BINARY_PACKED} and the pages' encoding statistics.

use super::dict::{Chunk, LevelsCache, PAGE_ROWS, pack_values, varint};
use super::plain::{Pages, result};
use super::pool;
use parquet::basic::{BoundaryOrder, Compression, Encoding, EncodingMask, PageType};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::{
    ColumnChunkMetaData, ColumnIndexBuilder, OffsetIndexBuilder, PageEncodingStats,
};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

/// Values per block and per miniblock (parquet-rs's choice for INT64: 4 miniblocks of 64).
const BLOCK: usize = 256;
const MINI: usize = 64;
const MINIS: usize = BLOCK / MINI;

/// One column's chunk of the current row group: its values, in row order.
pub(super) struct DeltaChunk {
    descr: ColumnDescPtr,
    values: Vec<i64>,
}

impl DeltaChunk {
    /// A chunk of the INT64 column `descr` (non-nullable), its buffer reserved for `rows` rows.
    pub(super) fn new(descr: ColumnDescPtr, rows: usize) -> Result<DeltaChunk, String> {
        if descr.physical_type() != parquet::basic::Type::INT64 || descr.max_def_level() > 0 {
            return Err(format!(
                "column {}: deltas are written for non-nullable INT64 columns only",
                descr.name()
            ));
        }
        Ok(DeltaChunk {
            descr,
            values: Vec::with_capacity(rows),
        })
    }

    /// Appends the rows' values.
    #[inline(always)]
    pub(super) fn push(&mut self, values: impl Iterator<Item = i64>) {
        self.values.extend(values);
    }

    /// Bytes held by the chunk's buffer.
    pub(super) fn held_bytes(&self) -> usize {
        self.values.capacity() * std::mem::size_of::<i64>()
    }

    /// Writes the chunk of the rows pushed since the last call and starts the next one.
    pub(super) fn close(&mut self) -> parquet::errors::Result<Chunk> {
        let rows = self.values.len();
        let mut out = TrackedWrite::new(pool::buffer(rows * 2 + 256));
        let mut pages = SerializedPageWriter::new(&mut out);
        let (mut size, mut uncompressed) = (0u64, 0u64);
        let mut first_data = None;
        let mut offsets = OffsetIndexBuilder::new();
        let mut index = ColumnIndexBuilder::new(parquet::basic::Type::INT64);
        let mut min_max: Option<(i64, i64)> = None;
        let mut last: Option<(i64, i64)> = None;
        let (mut ascending, mut descending) = (true, true);
        let mut count = 0;
        let mut deltas = [0u64; BLOCK];
        for page in self.values.chunks(PAGE_ROWS) {
            let mut data = pool::buffer(page.len() * 2 + 64);
            let (lo, hi) = encode_page::<true>(page, &mut deltas, &mut data);
            let data_len = data.len();
            let spec = pages.write_page(CompressedPage::new(
                Page::DataPage {
                    buf: pool::bytes(data),
                    num_values: page.len() as u32,
                    encoding: Encoding::DELTA_BINARY_PACKED,
                    def_level_encoding: Encoding::RLE,
                    rep_level_encoding: Encoding::RLE,
                    statistics: None,
                },
                data_len,
            ))?;
            count += 1;
            first_data.get_or_insert(spec.offset);
            size += spec.compressed_size as u64;
            uncompressed += spec.uncompressed_size as u64;
            offsets.append_offset_and_size(spec.offset as i64, spec.compressed_size as i32);
            offsets.append_row_count(page.len() as i64);
            // As parquet-rs's column writer: the pages' min/max stay ascending (descending) while
            // neither bound goes down (up).
            if let Some((l, h)) = last {
                ascending &= !(l > lo || h > hi);
                descending &= !(lo > l || hi > h);
            }
            last = Some((lo, hi));
            min_max = Some(match min_max {
                None => (lo, hi),
                Some((a, b)) => (a.min(lo), b.max(hi)),
            });
            index.append(
                false,
                lo.to_le_bytes().to_vec(),
                hi.to_le_bytes().to_vec(),
                0,
                None,
            );
        }
        pages.close()?;
        let bytes = pool::bytes(out.into_inner()?);
        index.set_boundary_order(match (ascending, descending) {
            (true, _) => BoundaryOrder::ASCENDING,
            (false, true) => BoundaryOrder::DESCENDING,
            (false, false) => BoundaryOrder::UNORDERED,
        });
        let stats = Statistics::Int64(
            ValueStatistics::new(
                min_max.map(|m| m.0),
                min_max.map(|m| m.1),
                None,
                Some(0),
                false,
            )
            .with_backwards_compatible_min_max(true),
        );
        let metadata = ColumnChunkMetaData::builder(self.descr.clone())
            .set_compression(Compression::UNCOMPRESSED)
            .set_encodings_mask(EncodingMask::new_from_encodings(
                [Encoding::RLE, Encoding::DELTA_BINARY_PACKED].iter(),
            ))
            .set_page_encoding_stats(vec![PageEncodingStats {
                page_type: PageType::DATA_PAGE,
                encoding: Encoding::DELTA_BINARY_PACKED,
                count,
            }])
            .set_total_compressed_size(size as i64)
            .set_total_uncompressed_size(uncompressed as i64)
            .set_num_values(rows as i64)
            .set_data_page_offset(first_data.unwrap_or(0) as i64)
            .set_statistics(stats)
            .build()?;
        self.values.clear();
        Ok((
            bytes,
            ColumnCloseResult {
                bytes_written: size,
                rows_written: rows as u64,
                metadata,
                bloom_filter: None,
                column_index: Some(index.build()?),
                offset_index: Some(offsets.build()),
            },
        ))
    }
}

/// The chunk of an amount column of many values (`unit_price`, `amo_paid`, …: INT64, nullable or
/// not, without statistics) as `DELTA_BINARY_PACKED`, the bytes parquet-rs 60 writes for it with
/// `write_batch_size` 8 192, no dictionary, no compression and no statistics: data pages (v1) of
/// [`PAGE_ROWS`] rows, each the definition levels (nullable columns: a 4-byte length, then the
/// RLE/bit-packed hybrid at 1 bit ending as parquet-rs's level encoder ends a page) then the page's
/// non-null values as one delta stream ([`encode_page`]); an offset index; the encodings {RLE,
/// DELTA_BINARY_PACKED} and the pages' encoding statistics.
///
/// Why not a dictionary (formats/parquet.md): such a column takes a new value on most rows (an
/// amount changes from line to line), so its dictionary key missed the repeat of the previous key
/// and looked the value up in the row group's table on most cells (≈ 50 instructions a cell on the
/// pool, then the indices bit-packed by the writer), for a chunk about the size of the deltas'
/// (the amounts of a row group: a few thousand values of a few thousand cents, 11 to 16 bits of
/// dictionary index or of delta). Here a cell is a copy on the pool and a subtraction and a
/// bit-packing on the writer thread.
pub(super) struct AmountChunk {
    descr: ColumnDescPtr,
    nullable: bool,
    /// The bound (exclusive) of a value's magnitude: the column's decimal.
    limit: i64,
    /// Per row, its definition level (nullable columns only); `levels[..rows]` are this chunk's.
    levels: Vec<u8>,
    /// The non-null values, in row order; `values[..len]` are this chunk's. Both buffers keep the
    /// length of the largest chunk so far and are written by position (as the dictionary chunks'
    /// indices: a `Vec::push` per cell reloaded and stored the vector's length each time).
    values: Vec<i64>,
    rows: usize,
    len: usize,
}

impl AmountChunk {
    /// A chunk of the INT64 column `descr` (nullable or not) whose values are below `limit` in
    /// magnitude, its buffers reserved for `rows` rows.
    pub(super) fn new(
        descr: ColumnDescPtr,
        limit: i64,
        rows: usize,
    ) -> Result<AmountChunk, String> {
        if descr.physical_type() != parquet::basic::Type::INT64 || descr.max_def_level() > 1 {
            return Err(format!(
                "column {}: amounts' deltas are written for INT64 columns of one level",
                descr.name()
            ));
        }
        let nullable = descr.max_def_level() > 0;
        Ok(AmountChunk {
            descr,
            nullable,
            limit,
            levels: Vec::with_capacity(if nullable { rows } else { 0 }),
            values: Vec::with_capacity(rows),
            rows: 0,
            len: 0,
        })
    }

    /// Room for `rows` more rows and `values` more values (the first row group grows the buffers;
    /// the next ones reuse their length).
    #[inline(always)]
    fn room(&mut self, rows: usize, values: usize) {
        if self.nullable && self.levels.len() < self.rows + rows {
            self.levels.resize(self.rows + rows, 0);
        }
        if self.values.len() < self.len + values {
            self.values.resize(self.len + values, 0);
        }
    }

    /// Appends the cells of a slice of rows whose non-null cells are the rows of `mask` set to 1
    /// (the slice's paid rows), `values` theirs in order: the levels copied at once, the values
    /// stored by position. The values' range is checked when the chunk is closed.
    #[inline(always)]
    pub(super) fn push_paid<I: ExactSizeIterator<Item = i64>>(
        &mut self,
        mask: &[u8],
        values: I,
    ) -> Result<(), String> {
        let n = values.len();
        self.room(mask.len(), n);
        let (Some(levels), Some(out)) = (
            self.levels.get_mut(self.rows..self.rows + mask.len()),
            self.values.get_mut(self.len..self.len + n),
        ) else {
            return Err(format!(
                "column {}: paid cells in a column never null",
                self.descr.name()
            ));
        };
        levels.copy_from_slice(mask);
        for (o, v) in out.iter_mut().zip(values) {
            *o = v;
        }
        self.rows += mask.len();
        self.len += n;
        Ok(())
    }

    /// Appends a cell per row, none null (a non-nullable column).
    #[inline(always)]
    pub(super) fn push_all<I: ExactSizeIterator<Item = i64>>(
        &mut self,
        values: I,
    ) -> Result<(), String> {
        if self.nullable {
            return Err(format!(
                "column {}: no levels for a nullable column",
                self.descr.name()
            ));
        }
        let n = values.len();
        self.room(n, n);
        if let Some(out) = self.values.get_mut(self.len..self.len + n) {
            for (o, v) in out.iter_mut().zip(values) {
                *o = v;
            }
        }
        self.rows += n;
        self.len += n;
        Ok(())
    }

    /// Bytes held by the chunk's buffers.
    pub(super) fn held_bytes(&self) -> usize {
        self.levels.capacity() + self.values.capacity() * std::mem::size_of::<i64>()
    }

    /// Writes the chunk of the rows pushed since the last call and starts the next one. `cache`
    /// holds the levels of the row group's pages already encoded (those of every paid amount's
    /// column are the same), ending as parquet-rs ends them ([`LevelsCache::with_rle_tail`]).
    /// Fails on a value at or beyond the column's limit in magnitude (a decimal it does not fit).
    pub(super) fn close(&mut self, cache: &mut LevelsCache) -> parquet::errors::Result<Chunk> {
        let rows = self.rows;
        let all = self.values.get(..self.len).unwrap_or_default();
        // The magnitudes' bits together: below the limit, every value is (the exact check only
        // then: a few operations a value, where comparing each magnitude cost 8).
        let bits = all
            .iter()
            .fold(0u64, |acc, &v| acc | (v ^ (v >> 63)) as u64);
        let limit = self.limit.unsigned_abs();
        // `v ^ (v >> 63)` is `|v| - 1` for a negative `v`.
        if bits >= limit - 1
            && let Some(v) = all.iter().find(|v| v.unsigned_abs() >= limit)
        {
            return Err(parquet::errors::ParquetError::General(format!(
                "column {}: {v} does not fit its decimal",
                self.descr.name(),
            )));
        }
        let mut out = TrackedWrite::new(pool::buffer(all.len() * 3 + 256));
        let mut pages = Pages::new(&mut out, Encoding::DELTA_BINARY_PACKED);
        let mut deltas = [0u64; BLOCK];
        let mut narrow = [0u32; BLOCK];
        // Every value in [-2^30, 2^30) (`bits` counts -2^30 as 2^30 - 1): the deltas lie within
        // ±(2^31 - 1) and their distances to a block's minimum below 2^32, so they fit 32 bits and
        // are worked on as such (SSE2, the build's baseline, compares 32-bit lanes but not 64-bit
        // ones: the block's minimum cost 8 instructions a value in 64 bits). The same bytes either
        // way (test amounts_at_the_edges_of_the_32_bit_lanes_…).
        let small = bits < 1 << 30;
        let (mut next, mut start) = (0, 0);
        while start < rows {
            let end = rows.min(start + PAGE_ROWS);
            let mut page = pool::buffer((end - start) / 8 + 3 * (end - start) + 64);
            let n = if self.nullable {
                let levels = self.levels.get(start..end).ok_or_else(|| {
                    parquet::errors::ParquetError::General("fewer levels than rows".into())
                })?;
                cache.encode(levels, &mut page);
                ones(levels)
            } else {
                end - start
            };
            let values = all.get(next..next + n).ok_or_else(|| {
                parquet::errors::ParquetError::General("fewer values than levels".into())
            })?;
            next += n;
            if small {
                encode_page_narrow(values, &mut narrow, &mut page);
            } else {
                encode_page::<false>(values, &mut deltas, &mut page);
            }
            let len = page.len();
            pages.write(page, len, end - start)?;
            start = end;
        }
        if next != all.len() {
            return Err(parquet::errors::ParquetError::General(
                "more values than levels".into(),
            ));
        }
        let (b, offsets) = pages.finish(&self.descr, Compression::UNCOMPRESSED, rows)?;
        let metadata = b.build()?;
        self.rows = 0;
        self.len = 0;
        result(out, metadata, rows, None, offsets)
    }
}

/// One page's values as a DELTA_BINARY_PACKED stream (parquet-rs's layout, module doc): the header
/// (block size, miniblocks, value count, first value), then the deltas block by block. `deltas` is
/// a block's scratch. With `MIN_MAX`, returns the page's min/max values (`(i64::MAX, i64::MIN)` for
/// no value; without, those two, the positions' statistics being all that needs them).
fn encode_page<const MIN_MAX: bool>(
    values: &[i64],
    deltas: &mut [u64; BLOCK],
    out: &mut Vec<u8>,
) -> (i64, i64) {
    varint(out, BLOCK as u64);
    varint(out, MINIS as u64);
    varint(out, values.len() as u64);
    let Some(&first) = values.first() else {
        varint(out, 0);
        return (i64::MAX, i64::MIN);
    };
    varint(out, zigzag(first));
    let (mut lo, mut hi) = (first, first);
    let mut prev = first;
    for block in values[1..].chunks(BLOCK) {
        let n = block.len();
        let mut min = i64::MAX;
        for (d, &v) in deltas.iter_mut().zip(block) {
            let delta = v.wrapping_sub(prev);
            prev = v;
            min = min.min(delta);
            if MIN_MAX {
                lo = lo.min(v);
                hi = hi.max(v);
            }
            *d = delta as u64;
        }
        varint(out, zigzag(min));
        let widths_at = out.len();
        out.extend_from_slice(&[0; MINIS]);
        for (m, mini) in deltas[..n].chunks_mut(MINI).enumerate() {
            let mut or = 0u64;
            for d in mini.iter_mut() {
                *d = d.wrapping_sub(min as u64);
                or |= *d;
            }
            let w = (64 - or.leading_zeros()) as usize;
            out[widths_at + m] = w as u8;
            pack(mini, w, out);
        }
    }
    (lo, hi)
}

/// [`encode_page`] (without min/max) for values whose magnitudes are below 2^30, so that their
/// deltas and the deltas' distances to the block's minimum fit 32 bits: the same bytes, the
/// arithmetic on 32-bit lanes. `deltas` is a block's scratch.
fn encode_page_narrow(values: &[i64], deltas: &mut [u32; BLOCK], out: &mut Vec<u8>) {
    varint(out, BLOCK as u64);
    varint(out, MINIS as u64);
    varint(out, values.len() as u64);
    let Some(&first) = values.first() else {
        varint(out, 0);
        return;
    };
    varint(out, zigzag(first));
    let mut prev = first as i32;
    for block in values[1..].chunks(BLOCK) {
        let n = block.len();
        let mut min = i32::MAX;
        for (d, &v) in deltas.iter_mut().zip(block) {
            let v = v as i32;
            let delta = v.wrapping_sub(prev);
            prev = v;
            min = min.min(delta);
            *d = delta as u32;
        }
        varint(out, zigzag(i64::from(min)));
        let widths_at = out.len();
        out.extend_from_slice(&[0; MINIS]);
        for (m, mini) in deltas[..n].chunks_mut(MINI).enumerate() {
            let mut or = 0u32;
            for d in mini.iter_mut() {
                *d = d.wrapping_sub(min as u32);
                or |= *d;
            }
            let w = (32 - or.leading_zeros()) as usize;
            out[widths_at + m] = w as u8;
            let start = out.len();
            macro_rules! wide {
                ($($w:literal)*) => {
                    match w {
                        0 => {}
                        1..=16 => pack_values(mini, w as u8, out),
                        $($w => pack_groups::<u32, $w>(mini, out),)*
                        _ => {}
                    }
                };
            }
            wide!(17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
            out.resize(start + 8 * w, 0);
        }
    }
}

/// A miniblock of up to 64 values at `w` bits, LSB first, padded with zeros to 64 values:
/// `8 w` bytes. Up to 16 bits, the dictionary indices' packing with the width a constant
/// ([`super::dict::pack_values`]): the positions' deltas (a few bits for lines, ≈ 11 for byte
/// offsets) and most of the amounts' (12 to 20 bits) take this path or the next; from 17 to 32
/// bits, groups of 8 values assembled in four words with the width a constant ([`pack_groups`]);
/// wider, a loop of a 128-bit accumulator.
fn pack(values: &[u64], w: usize, out: &mut Vec<u8>) {
    if w == 0 {
        return;
    }
    let start = out.len();
    macro_rules! wide {
        ($($w:literal)*) => {
            match w {
                $($w => pack_groups::<u64, $w>(values, out),)*
                _ => pack_any(values, w, out),
            }
        };
    }
    if w <= 16 {
        let mut narrow = [0u32; MINI];
        for (n, &v) in narrow.iter_mut().zip(values) {
            *n = v as u32;
        }
        pack_values(&narrow, w as u8, out);
    } else {
        wide!(17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
    }
    // The padding values are zeros: the bytes up to 8 w.
    out.resize(start + 8 * w, 0);
}

/// `values` (each below `2^W`) at `W` bits, LSB first, by groups of 8 (`W` bytes each; the last
/// group padded with zeros): each group assembled in four 64-bit words with constant shifts.
#[inline(always)]
fn pack_groups<T: Copy + Into<u64>, const W: usize>(values: &[T], out: &mut Vec<u8>) {
    const { assert!(W <= 32) };
    for g in values.chunks(8) {
        let mut acc = [0u64; 4];
        for (k, &v) in g.iter().enumerate() {
            let v: u64 = v.into();
            let bit = k * W;
            let (word, off) = (bit / 64, bit % 64);
            acc[word % 4] |= v << off;
            if off + W > 64 {
                acc[(word + 1) % 4] |= v >> (64 - off);
            }
        }
        let mut bytes = [0u8; 32];
        for (b, a) in bytes.chunks_exact_mut(8).zip(acc) {
            b.copy_from_slice(&a.to_le_bytes());
        }
        out.extend_from_slice(&bytes[..W]);
    }
}

/// `values` at any width up to 64, LSB first, through a 128-bit accumulator.
fn pack_any(values: &[u64], w: usize, out: &mut Vec<u8>) {
    out.reserve(8 * w);
    let (mut acc, mut bits) = (0u128, 0usize);
    for &v in values {
        acc |= u128::from(v) << bits;
        bits += w;
        if bits >= 64 {
            out.extend_from_slice(&(acc as u64).to_le_bytes());
            acc >>= 64;
            bits -= 64;
        }
    }
    if bits > 0 {
        out.extend_from_slice(&(acc as u64).to_le_bytes());
    }
}

/// The 1s among definition levels of 0 or 1: their bytes' set bits, eight levels at a time (a
/// count of the non-zero levels one by one cost 9 instructions a level).
fn ones(levels: &[u8]) -> usize {
    let mut words = levels.chunks_exact(8);
    let mut n = 0usize;
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        n = n.wrapping_add(u64::from_le_bytes(b).count_ones() as usize);
    }
    words
        .remainder()
        .iter()
        .fold(n, |n, &l| n.wrapping_add(usize::from(l != 0)))
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int64Array, RecordBatch};
    use arrow_schema::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;
    use std::sync::Arc;

    /// The file of one INT64 column written by parquet-rs's Arrow writer with the export's settings
    /// for the delta columns (`write_batch_size` 8 192, deltas, no dictionary, statistics), and the
    /// same file with the column chunk written by [`DeltaChunk`].
    fn both(values: &[i64]) -> (Vec<u8>, Vec<u8>) {
        let schema = Arc::new(Schema::new(vec![Field::new("p", DataType::Int64, false)]));
        let props = || {
            WriterProperties::builder()
                .set_write_batch_size(8192)
                .set_dictionary_enabled(false)
                .set_encoding(Encoding::DELTA_BINARY_PACKED)
                .build()
        };
        let blocks = values
            .chunks(8192)
            .map(|b| Arc::new(Int64Array::from(b.to_vec())) as ArrayRef);
        let theirs = parquet_rs_file(&schema, props(), blocks);
        let ours = one_chunk_file(&schema, props(), |descr| {
            let mut d = DeltaChunk::new(descr, values.len()).unwrap();
            d.push(values.iter().copied());
            d.close().unwrap()
        });
        (theirs, ours)
    }

    /// The file parquet-rs's Arrow writer makes of `arrays` (one column) with `props`.
    fn parquet_rs_file(
        schema: &Arc<Schema>,
        props: WriterProperties,
        arrays: impl Iterator<Item = ArrayRef>,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, schema.clone(), Some(props)).unwrap();
        for a in arrays {
            w.write(&RecordBatch::try_new(schema.clone(), vec![a]).unwrap())
                .unwrap();
        }
        w.close().unwrap();
        out
    }

    /// The file of one row group whose only column chunk is the one `chunk` writes for the column's
    /// descriptor (bytes and close result), through parquet-rs's serialized writer with `props`.
    fn one_chunk_file(
        schema: &Arc<Schema>,
        props: WriterProperties,
        chunk: impl FnOnce(ColumnDescPtr) -> (bytes::Bytes, ColumnCloseResult),
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let (mut w, _) = ArrowWriter::try_new(&mut out, schema.clone(), Some(props))
            .and_then(|w| w.into_serialized_writer())
            .unwrap();
        let (bytes, close) = chunk(w.schema_descr().column(0));
        let mut rg = w.next_row_group().unwrap();
        rg.append_column(&bytes, close).unwrap();
        rg.close().unwrap();
        w.close().unwrap();
        out
    }

    /// The file of one INT64 column, nullable or not, written by parquet-rs's Arrow writer with the
    /// export's settings for the amounts written as deltas (`write_batch_size` 8 192, deltas, no
    /// dictionary, no statistics, uncompressed), arrays of 8 192 rows, and the same file with the
    /// chunk written by [`AmountChunk`] (its cells pushed by slices of 64 rows; the sink's slices are 128 rows since PARQUET20, a
    /// cut at every other one of these).
    fn both_amounts(cells: &[Option<i64>], nullable: bool) -> (Vec<u8>, Vec<u8>) {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "a",
            DataType::Int64,
            nullable,
        )]));
        let props = || {
            WriterProperties::builder()
                .set_write_batch_size(8192)
                .set_dictionary_enabled(false)
                .set_encoding(Encoding::DELTA_BINARY_PACKED)
                .set_statistics_enabled(parquet::file::properties::EnabledStatistics::None)
                .build()
        };
        let blocks = cells
            .chunks(8192)
            .map(|b| Arc::new(Int64Array::from(b.to_vec())) as ArrayRef);
        let theirs = parquet_rs_file(&schema, props(), blocks);
        let ours = one_chunk_file(&schema, props(), |descr| {
            let mut a = AmountChunk::new(descr, 1 << 62, cells.len()).unwrap();
            for slice in cells.chunks(64) {
                if nullable {
                    let mask: Vec<u8> = slice.iter().map(|c| u8::from(c.is_some())).collect();
                    let values: Vec<i64> = slice.iter().flatten().copied().collect();
                    a.push_paid(&mask, values.into_iter()).unwrap();
                } else {
                    a.push_all(slice.iter().map(|c| c.unwrap())).unwrap();
                }
            }
            a.close(&mut LevelsCache::with_rle_tail()).unwrap()
        });
        (theirs, ours)
    }

    #[test]
    fn an_amount_chunk_is_the_bytes_parquet_rs_writes() {
        // Amounts of a few thousand cents (the 32-bit path), some beyond 2^30 (the 64-bit path), a
        // constant, nulls on some rows, on most rows, on none and on all, lengths around the
        // miniblock, block and page (24 576 rows) boundaries. The nulls come in runs, as a day's
        // rejections among its paid lines: where nulls and values alternate for more than 504
        // rows, parquet-rs cuts the levels' bit-packed run where `dict::hybrid_with` does not (the
        // same levels, other bytes: formats/parquet.md).
        let mut cases: Vec<Vec<Option<i64>>> = Vec::new();
        for n in [1, 2, 64, 65, 257, 1000, 24_576, 24_577, 65_536] {
            cases.push(
                (0..n as i64)
                    .map(|i| (i / 37 % 5 != 3).then_some((i * 7919) % 45_000 - 300))
                    .collect(),
            );
        }
        cases.push((0..3000).map(|i| (i % 50 == 0).then_some(i)).collect());
        cases.push(vec![None; 30_000]);
        cases.push(vec![Some(2500); 300]);
        cases.push(
            (0..5000i64)
                .map(|i| {
                    Some(if i % 97 == 0 {
                        999_999_999_999
                    } else {
                        i * 31 % 9000
                    })
                })
                .collect(),
        );
        cases.push(
            (0..3000i64)
                .map(|i| (i / 11 % 3 != 0).then_some(-(1 << 29) + (i * 104_729) % (1 << 30)))
                .collect(),
        );
        for (k, cells) in cases.iter().enumerate() {
            let (theirs, ours) = both_amounts(cells, true);
            assert!(theirs == ours, "case {k}, {} cells, nullable", cells.len());
            if cells.iter().all(|c| c.is_some()) {
                let (theirs, ours) = both_amounts(cells, false);
                assert!(
                    theirs == ours,
                    "case {k}, {} cells, not nullable",
                    cells.len()
                );
            }
        }
    }

    #[test]
    fn amounts_at_the_edges_of_the_32_bit_lanes_and_of_the_decimal_are_the_bytes_parquet_rs_writes()
    {
        // The 32-bit path is taken when every magnitude is below 2^30 (-2^30 included: its
        // `v ^ v >> 63` is 2^30 - 1): its widest deltas are then ±(2^31 - 1) and their distance to
        // the block's minimum 2^32 - 2, at the edge of its lanes. One value past (2^30, -2^30 - 1)
        // takes the 64-bit path. The decimal's extremes ±(10^12 - 1) (AMOUNT_LIMIT: negative
        // amounts reach these columns, e.g. a recovery's) give deltas of 41 bits. Each case also
        // nullable, its nulls in runs.
        let lo = -(1i64 << 30);
        let hi = (1i64 << 30) - 1;
        let max = 999_999_999_999i64;
        let alternate = |a: i64, b: i64, n: usize| -> Vec<i64> {
            (0..n).map(|i| if i % 2 == 0 { a } else { b }).collect()
        };
        let mut cases: Vec<Vec<i64>> = vec![
            alternate(lo, hi, 300),
            alternate(hi, lo, 300),
            [vec![0; 70], alternate(lo, hi, 200), vec![hi; 70]].concat(),
            alternate(lo - 1, hi, 300),
            alternate(lo, hi + 1, 300),
            alternate(-max, max, 600),
            (0..1000)
                .map(|i| if i % 3 == 0 { -max } else { i * 13 })
                .collect(),
            vec![lo],
            vec![hi, lo],
        ];
        cases.push(
            (0..70_000)
                .map(|i| if i % 64 == 63 { lo } else { hi - i })
                .collect(),
        );
        for (k, values) in cases.iter().enumerate() {
            let cells: Vec<Option<i64>> = values.iter().copied().map(Some).collect();
            let (theirs, ours) = both_amounts(&cells, false);
            assert!(theirs == ours, "case {k}, not nullable");
            let cells: Vec<Option<i64>> = values
                .iter()
                .enumerate()
                .map(|(i, &v)| (i / 40 % 4 != 1).then_some(v))
                .collect();
            let (theirs, ours) = both_amounts(&cells, true);
            assert!(theirs == ours, "case {k}, nullable");
        }
    }

    #[test]
    fn an_amount_beyond_the_limit_fails_the_chunk() {
        let descr = Arc::new(parquet::schema::types::ColumnDescriptor::new(
            Arc::new(
                parquet::schema::types::Type::primitive_type_builder(
                    "a",
                    parquet::basic::Type::INT64,
                )
                .with_repetition(parquet::basic::Repetition::OPTIONAL)
                .build()
                .unwrap(),
            ),
            1,
            0,
            parquet::schema::types::ColumnPath::from("a"),
        ));
        for (values, ok) in [
            (vec![999, -999], true),
            (vec![5, 1000], false),
            (vec![-1000], false),
        ] {
            let mut a = AmountChunk::new(descr.clone(), 1000, 64).unwrap();
            let mask = vec![1; values.len()];
            a.push_paid(&mask, values.clone().into_iter()).unwrap();
            let r = a.close(&mut LevelsCache::with_rle_tail());
            assert_eq!(r.is_ok(), ok, "{values:?}");
        }
    }

    #[test]
    fn a_delta_chunk_is_the_bytes_parquet_rs_writes() {
        // Positions growing by small steps, constants, decreases, wide and wrapping deltas, and
        // lengths around the miniblock, block and page boundaries (pages of 24 576 rows).
        let mut cases: Vec<Vec<i64>> = Vec::new();
        for n in [1, 2, 64, 65, 256, 257, 258, 1000, 24_576, 24_577, 65_536] {
            cases.push((0..n as i64).map(|i| 10 + 3 * i + (i * i) % 7).collect());
        }
        cases.push(vec![5; 300]);
        cases.push((0..30_000).rev().collect());
        cases.push(vec![100, 90, 95, 94, 1_000_000, -3, 7]);
        cases.push(vec![i64::MIN, i64::MAX, 0, i64::MAX, i64::MIN]);
        cases.push(
            (0..777)
                .map(|i: i64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15u64 as i64))
                .collect(),
        );
        for (k, v) in cases.iter().enumerate() {
            let (theirs, ours) = both(v);
            assert!(theirs == ours, "case {k}, {} values", v.len());
        }
    }
}
