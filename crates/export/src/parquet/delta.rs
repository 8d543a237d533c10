//! The `DELTA_BINARY_PACKED` column chunks (`input_line`, `byte_offset`: non-nullable INT64 positions
//! that grow row to row) written straight from the row group's values, without parquet-rs's column
//! writer.
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

use super::dict::{Chunk, PAGE_ROWS, pack_values, varint};
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
            let (lo, hi) = encode_page(page, &mut deltas, &mut data);
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

/// One page's values as a DELTA_BINARY_PACKED stream (parquet-rs's layout, module doc): the header
/// (block size, miniblocks, value count, first value), then the deltas block by block. `deltas` is
/// a block's scratch. Returns the page's min/max values (`(i64::MAX, i64::MIN)` for no value).
fn encode_page(values: &[i64], deltas: &mut [u64; BLOCK], out: &mut Vec<u8>) -> (i64, i64) {
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
            lo = lo.min(v);
            hi = hi.max(v);
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

/// A miniblock of up to 64 values at `w` bits, LSB first, padded with zeros to 64 values:
/// `8 w` bytes. Up to 16 bits (the positions' deltas: a few bits for lines, ≈ 11 for byte offsets),
/// the dictionary indices' packing with the width a constant ([`super::dict::pack_values`]).
fn pack(values: &[u64], w: usize, out: &mut Vec<u8>) {
    if w == 0 {
        return;
    }
    let start = out.len();
    if w <= 16 {
        let mut narrow = [0u32; MINI];
        for (n, &v) in narrow.iter_mut().zip(values) {
            *n = v as u32;
        }
        pack_values(&narrow, w as u8, out);
    } else {
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
    // The padding values are zeros: the bytes up to 8 w.
    out.resize(start + 8 * w, 0);
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
        let mut theirs = Vec::new();
        let mut w = ArrowWriter::try_new(&mut theirs, schema.clone(), Some(props())).unwrap();
        for block in values.chunks(8192) {
            let a: ArrayRef = Arc::new(Int64Array::from(block.to_vec()));
            w.write(&RecordBatch::try_new(schema.clone(), vec![a]).unwrap())
                .unwrap();
        }
        w.close().unwrap();
        let mut ours = Vec::new();
        let (mut w, _) = ArrowWriter::try_new(&mut ours, schema, Some(props()))
            .and_then(|w| w.into_serialized_writer())
            .unwrap();
        let mut d = DeltaChunk::new(w.schema_descr().column(0), values.len()).unwrap();
        d.push(values.iter().copied());
        let (bytes, close) = d.close().unwrap();
        let mut rg = w.next_row_group().unwrap();
        rg.append_column(&bytes, close).unwrap();
        rg.close().unwrap();
        w.close().unwrap();
        (theirs, ours)
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
