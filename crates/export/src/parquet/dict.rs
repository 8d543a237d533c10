//! Dictionary column chunks written straight from the cells' keys, without parquet-rs's encoder.
//!
//! Why: parquet-rs's dictionary encoder hashes every value's bytes and computes definition levels
//! from Arrow null buffers: two thirds of the export's instructions (README "Performance"). Most
//! columns of the file come from a small set of values that the row already identifies — a status,
//! an enum, a digit, a code of a few bytes, an amount in cents — so each cell is reduced to a
//! **key** (`u128`, `None` for null) by the column's key function ([`super::Col`]), interned in a small
//! open-addressing table (with a fast path for a repeat of the previous key), and the cell's value is built
//! only the first time its key is seen in the row group. At the row group's end the chunk is written
//! as parquet-rs would write it with `RLE_DICTIONARY` and no compression: one PLAIN dictionary page,
//! then data pages (v1) holding the definition levels and the indices in the RLE/bit-packed hybrid
//! encoding — one page, or pages of [`PAGE_ROWS`] rows with the statistics, column index and level
//! histograms parquet-rs gives a column with statistics — plus the chunk's metadata and offset index.
//! Readers see the same values and statistics.
//!
//! Invariant: equal keys (in one column and row group) are equal values; null ⇔ `None`.

use super::pool;
use bytes::Bytes;
use parquet::basic::BoundaryOrder;
use parquet::basic::{Compression, Encoding, EncodingMask};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::{
    ColumnChunkMetaData, ColumnIndexBuilder, LevelHistogram, OffsetIndexBuilder,
};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

/// A cell's index in its chunk's dictionary. A row group holds at most [`super::BATCH_ROWS`] =
/// 65 536 rows, hence at most 65 536 distinct values a column: 16 bits are enough
/// ([`new_entry`] refuses a 65 537th), where `u32` indices doubled the bytes the key loops store
/// and the writer thread reads back — 42 columns × 65 536 cells, 10.5 MiB of each set of encoders
/// against 5.2 MiB now (a run holds 2 sets: the one being filled and the one the writer closes,
/// `parquet::SETS`).
pub(super) type Index = u16;

/// What writes a new key's value into the dictionary: `value(j, dict)` appends the value of the
/// chunk's `j`-th paid row (the slow path of the key loops, once per distinct key).
type ValueOf<'a> = dyn FnMut(usize, &mut Vec<u8>) -> Result<(), String> + 'a;

/// One column's chunk of the current row group, being built.
pub(super) struct DictChunk {
    descr: ColumnDescPtr,
    /// Key → index in the dictionary, and the previous key.
    tables: Tables,
    /// The dictionary values, PLAIN-encoded, end to end.
    dict: Vec<u8>,
    entries: u32,
    /// Per row: its definition level (1: a value, 0: null); `levels[..rows]` are this chunk's.
    levels: Vec<u8>,
    /// Per non-null cell: its index in the dictionary; `indices[..values]` are this chunk's.
    indices: Vec<Index>,
    /// Rows and non-null cells pushed in the chunk. The two buffers are not cleared between chunks:
    /// they keep the length of the largest chunk so far, and [`DictChunk::push_all`] writes into
    /// them by position (a `Vec::push` per cell reloaded and stored the vector's length each time).
    rows: usize,
    values: usize,
    /// With min/max statistics (INT32 columns only): the chunk is cut into data pages of
    /// [`PAGE_ROWS`] rows, with statistics per chunk and per page (column index) and definition level
    /// histograms, as parquet-rs's column writer gives them.
    stats: bool,
    /// With statistics: each dictionary entry's value.
    vals: Vec<i32>,
}

/// Rows per data page of a chunk with statistics: parquet-rs's writer, fed blocks of 8 192 rows,
/// closes a page after the block that reaches its 20 000-row limit, so its pages hold 24 576 rows.
/// The same cut keeps the column index (min/max per page) as fine as before.
pub(super) const PAGE_ROWS: usize = 3 * 8192;

/// A finished column chunk: its bytes and what the row group writer needs to splice them in.
pub(super) type Chunk = (Bytes, ColumnCloseResult);

impl DictChunk {
    /// A chunk of the column `descr`, with min/max statistics if `stats` (an INT32 column), its
    /// buffers reserved for `rows` rows (a row group: they then never regrow by copies; pages are
    /// touched only as rows fill them).
    pub(super) fn new(descr: ColumnDescPtr, stats: bool, rows: usize) -> Result<DictChunk, String> {
        if stats && descr.physical_type() != parquet::basic::Type::INT32 {
            return Err(format!(
                "column {}: statistics on a dictionary column of type {}",
                descr.name(),
                descr.physical_type()
            ));
        }
        Ok(DictChunk {
            descr,
            tables: Tables::new(),
            dict: Vec::new(),
            entries: 0,
            levels: Vec::with_capacity(rows),
            indices: Vec::with_capacity(rows),
            rows: 0,
            values: 0,
            stats,
            vals: Vec::new(),
        })
    }

    /// Bytes allocated by the chunk's buffers and tables.
    pub(super) fn held_bytes(&self) -> usize {
        self.levels.capacity()
            + self.indices.capacity() * std::mem::size_of::<Index>()
            + self.dict.capacity()
            + self.vals.capacity() * 4
            + self.tables.held_bytes()
    }

    /// The physical type of the column's values.
    pub(super) fn physical_type(&self) -> parquet::basic::Type {
        self.descr.physical_type()
    }

    /// Appends a cell per row of `rows`: `key` gives the cell's key (`None`: null), `value` appends
    /// the PLAIN encoding of the row's value to the dictionary and is called once per distinct key of
    /// the row group. One loop per slice of rows with the chunk's state in locals; a repeat of the
    /// previous key (two cells out of three) costs a comparison and two stores.
    #[inline(always)]
    pub(super) fn push_all<R, K: DictKey>(
        &mut self,
        rows: &[R],
        key: impl FnMut(&R) -> Option<K>,
        value: impl FnMut(&R, &mut Vec<u8>) -> Result<(), String>,
    ) -> Result<(), String> {
        self.push_all_checked(rows, key, |_| true, value)
    }

    /// [`DictChunk::push_all`] for keys that name a value only when `valid` (a `YYYYMMDD` date, which
    /// is null when it is not a date): `valid` is asked once per key new to the row group instead of
    /// once per cell or per change of value (a key found in the table was valid when it was added; an
    /// invalid key is never added, so it is asked again each time it comes back, and its cell is null).
    #[inline(always)]
    pub(super) fn push_all_checked<R, K: DictKey>(
        &mut self,
        rows: &[R],
        mut key: impl FnMut(&R) -> Option<K>,
        mut valid: impl FnMut(K) -> bool,
        mut value: impl FnMut(&R, &mut Vec<u8>) -> Result<(), String>,
    ) -> Result<(), String> {
        let start = self.rows;
        let end = start + rows.len();
        if self.levels.len() < end {
            // The first row group (amortised growth); later ones reuse the length.
            self.levels.resize(end, 0);
            self.indices.resize(end, 0);
        }
        let DictChunk {
            tables,
            dict,
            entries,
            levels,
            indices,
            values,
            stats,
            vals,
            ..
        } = self;
        let (map, last) = K::state(tables);
        let Some(levels) = levels.get_mut(start..end) else {
            return Err("definition levels past the chunk's rows".into());
        };
        // The slice's indices cut once (at most one a row), so that the loop stores through a
        // pointer it keeps in a register rather than reloading the vector's length and pointer.
        let v0 = *values;
        let Some(out) = indices.get_mut(v0..v0 + rows.len()) else {
            return Err("dictionary indices past the chunk's rows".into());
        };
        // A key not equal to the previous one: found in the table, or added to it (out of line,
        // once per key new to the row group) when it is `valid`, else its cell is null (`None`).
        macro_rules! lookup {
            ($k:expr, $r:expr) => {
                match map.find($k) {
                    Ok(i) => Some(i),
                    Err(_) if !valid($k) => None,
                    Err(slot) => Some(add_entry(
                        map,
                        slot,
                        $k,
                        dict,
                        *stats,
                        vals,
                        entries,
                        &mut |d: &mut Vec<u8>| value($r, d),
                    )?),
                }
            };
        }
        let mut v = 0;
        let mut j = 0;
        // Two loops: the first until a key is known (the chunk's first cells, or while they are
        // null), the second comparing each key with one it always has. One loop testing whether
        // there was a previous key, with `zip` and the indices pushed through the vector, took
        // 27 instructions a repeated cell (callgrind, `line`, 100 k-claim day).
        let mut prev = *last;
        while prev.is_none() {
            let (Some(r), Some(level)) = (rows.get(j), levels.get_mut(j)) else {
                break;
            };
            j += 1;
            *level = 0;
            let Some(k) = key(r) else {
                continue;
            };
            if let Some(i) = lookup!(k, r) {
                *level = 1;
                match out.get_mut(v) {
                    Some(slot) => *slot = i,
                    None => return Err("dictionary indices past the chunk's rows".into()),
                }
                v += 1;
                prev = Some((k, i));
            }
        }
        if let Some((mut pk, mut pi)) = prev {
            while let (Some(r), Some(level)) = (rows.get(j), levels.get_mut(j)) {
                j += 1;
                let Some(k) = key(r) else {
                    *level = 0;
                    continue;
                };
                if k != pk {
                    match lookup!(k, r) {
                        Some(i) => (pk, pi) = (k, i),
                        None => {
                            *level = 0;
                            continue;
                        }
                    }
                }
                *level = 1;
                match out.get_mut(v) {
                    Some(slot) => *slot = pi,
                    None => return Err("dictionary indices past the chunk's rows".into()),
                }
                v += 1;
            }
            prev = Some((pk, pi));
        }
        *values = v0 + v;
        *last = prev;
        self.rows = end;
        Ok(())
    }

    /// Appends the cells of a slice of `rows` rows of a column whose cells are the slice's **paid
    /// rows**, never null there, and null on the other rows: `paid` are those rows, `mask` the
    /// slice's definition levels (1 on a paid row), copied at once. `key` is called on the paid rows
    /// only (no per-cell test of the row's kind, no level stored per cell, the indices written
    /// through a slice cut once); `value(j, dict)` appends the PLAIN value of `paid[j]` the first
    /// time its key is seen in the row group. The hot loop holds the key, the repeat check and the
    /// index's store; a key not equal to the previous one is looked up in the table, and a key new
    /// to the row group goes to [`DictChunk::insert`], out of line.
    #[inline(always)]
    pub(super) fn push_paid<R, K: DictKey>(
        &mut self,
        paid: &[R],
        mask: &[u8],
        mut key: impl FnMut(&R) -> K,
        mut value: impl FnMut(usize, &mut Vec<u8>) -> Result<(), String>,
    ) -> Result<(), String> {
        let start = self.rows;
        let end = start + mask.len();
        if self.levels.len() < end {
            self.levels.resize(end, 0);
            self.indices.resize(end, 0);
        }
        let v0 = self.values;
        // The two buffers are taken out of the chunk while the loop writes them, so that the
        // table can be borrowed from it on a lookup.
        let mut indices = std::mem::take(&mut self.indices);
        let mut levels = std::mem::take(&mut self.levels);
        let r = self.push_paid_in(
            levels.get_mut(start..end),
            indices.get_mut(v0..v0 + paid.len()),
            paid,
            mask,
            &mut key,
            &mut value,
        );
        self.indices = indices;
        self.levels = levels;
        r?;
        self.values = v0 + paid.len();
        self.rows = end;
        Ok(())
    }

    #[inline(always)]
    fn push_paid_in<R, K: DictKey>(
        &mut self,
        levels: Option<&mut [u8]>,
        out: Option<&mut [Index]>,
        paid: &[R],
        mask: &[u8],
        key: &mut impl FnMut(&R) -> K,
        value: &mut ValueOf<'_>,
    ) -> Result<(), String> {
        let (Some(levels), Some(out)) = (levels, out) else {
            return Err("cells past the chunk's rows".into());
        };
        levels.copy_from_slice(mask);
        // The previous key, or the first cell's looked up: the loop then compares with a key it
        // always has. Written with an index and `get` rather than `zip(…).enumerate()`, whose
        // `Option` of three parts LLVM kept on the stack with a `have` flag beside it: 28
        // instructions a repeated cell, 9 now (callgrind, `type`, 100 k-claim day).
        let (mut pk, mut pi) = match *K::last(self) {
            Some(p) => p,
            None => match paid.first() {
                Some(r) => {
                    let k = key(r);
                    match K::map(self).find(k) {
                        Ok(i) => (k, i),
                        Err(at) => (k, self.insert(k, at, 0, value)?),
                    }
                }
                None => return Ok(()),
            },
        };
        let mut j = 0;
        while let (Some(r), Some(slot)) = (paid.get(j), out.get_mut(j)) {
            let k = key(r);
            if k != pk {
                pi = match K::map(self).find(k) {
                    Ok(i) => i,
                    Err(at) => self.insert(k, at, j, value)?,
                };
                pk = k;
            }
            *slot = pi;
            j += 1;
        }
        *K::last(self) = Some((pk, pi));
        Ok(())
    }

    /// Adds key `k`, not in the table, at its free `slot`: its value appended by `value(j, dict)`,
    /// the next index. Out of line: the slow path of [`DictChunk::push_paid`] (once per distinct
    /// key of the row group).
    #[inline(never)]
    fn insert<K: DictKey>(
        &mut self,
        k: K,
        slot: usize,
        j: usize,
        value: &mut ValueOf<'_>,
    ) -> Result<Index, String> {
        let i = new_entry(
            &mut self.dict,
            self.stats,
            &mut self.vals,
            &mut self.entries,
            |d| value(j, d),
        )?;
        K::map(self).insert_at(slot, k, i);
        Ok(i)
    }

    /// Writes the chunk of the rows pushed since the last call and starts the next one.
    pub(super) fn close(&mut self, cache: &mut LevelsCache) -> parquet::errors::Result<Chunk> {
        let rows = self.rows;
        let all_levels = &self.levels[..rows];
        let all_indices = &self.indices[..self.values];
        let nullable = self.descr.max_def_level() > 0;
        let width = bit_width(self.entries.saturating_sub(1));
        let page_rows = if self.stats { PAGE_ROWS } else { rows.max(1) };

        // The next chunk's dictionary starts at this one's size: no regrowth by copies (one
        // allocation a row group instead of about ten for an amount column's 100 KB).
        // All from the writer thread's pool (`pool`): the previous row group's buffers.
        let dict_len = self.dict.len();
        let dict = std::mem::replace(&mut self.dict, pool::buffer(dict_len));
        let mut out = TrackedWrite::new(pool::buffer(
            dict_len + rows / 8 + all_indices.len() * usize::from(width) / 8 + 256,
        ));
        let mut pages = SerializedPageWriter::new(&mut out);
        let dict_spec = pages.write_page(CompressedPage::new(
            Page::DictionaryPage {
                buf: pool::bytes(dict),
                num_values: self.entries,
                encoding: Encoding::PLAIN,
                is_sorted: false,
            },
            dict_len,
        ))?;
        let (mut size, mut uncompressed) = (dict_spec.compressed_size, dict_spec.uncompressed_size);
        let mut first_data = None;
        let mut offsets = OffsetIndexBuilder::new();
        let mut stats = self.stats.then(|| PageStats::new(nullable));
        let mut next = 0; // first index of the page's non-null cells
        for levels in all_levels.chunks(page_rows) {
            let values = if levels.len() == rows {
                all_indices.len()
            } else if nullable {
                non_null(levels)
            } else {
                levels.len()
            };
            // A non-nullable column counts one index per row: a keyed cell without a key there would
            // leave fewer indices than rows, an error rather than a slice past the end.
            let indices = all_indices.get(next..next + values).ok_or_else(|| {
                parquet::errors::ParquetError::General(
                    "a non-nullable column with a null cell".into(),
                )
            })?;
            next += values;
            let mut data = pool::buffer(levels.len() / 8 + values * usize::from(width) / 8 + 64);
            if nullable {
                // Definition levels (max 1): 4-byte length, then the hybrid encoding at 1 bit.
                cache.encode(levels, &mut data);
            }
            // Indices of the non-null cells: bit width, then the hybrid encoding.
            data.push(width);
            hybrid(indices, width, &mut data);
            let data_len = data.len();
            let spec = pages.write_page(CompressedPage::new(
                Page::DataPage {
                    buf: pool::bytes(data),
                    num_values: levels.len() as u32,
                    encoding: Encoding::RLE_DICTIONARY,
                    def_level_encoding: Encoding::RLE,
                    rep_level_encoding: Encoding::RLE,
                    statistics: None,
                },
                data_len,
            ))?;
            first_data.get_or_insert(spec.offset);
            size += spec.compressed_size;
            uncompressed += spec.uncompressed_size;
            offsets.append_row_count(levels.len() as i64);
            offsets.append_offset_and_size(spec.offset as i64, spec.compressed_size as i32);
            if let Some(s) = &mut stats {
                let (min, max) = indices.iter().fold((i32::MAX, i32::MIN), |(lo, hi), &i| {
                    let v = self.vals[i as usize];
                    (lo.min(v), hi.max(v))
                });
                s.page(
                    levels.len() - values,
                    values,
                    (values > 0).then_some((min, max)),
                );
            }
        }
        pages.close()?;
        let bytes = pool::bytes(out.into_inner()?);

        let mut metadata = ColumnChunkMetaData::builder(self.descr.clone())
            .set_compression(Compression::UNCOMPRESSED)
            .set_encodings_mask(EncodingMask::new_from_encodings(
                [Encoding::PLAIN, Encoding::RLE, Encoding::RLE_DICTIONARY].iter(),
            ))
            .set_total_compressed_size(size as i64)
            .set_total_uncompressed_size(uncompressed as i64)
            .set_num_values(rows as i64)
            .set_data_page_offset(first_data.unwrap_or(dict_spec.offset) as i64)
            .set_dictionary_page_offset(Some(dict_spec.offset as i64));
        let mut column_index = None;
        if let Some(s) = stats {
            let (chunk_stats, histogram, index) = s.finish()?;
            metadata = metadata
                .set_statistics(chunk_stats)
                .set_definition_level_histogram(histogram);
            column_index = Some(index);
        }
        let metadata = metadata.build()?;

        self.tables.clear();
        self.entries = 0;
        self.rows = 0;
        self.values = 0;
        self.vals.clear();
        Ok((
            bytes,
            ColumnCloseResult {
                bytes_written: size as u64,
                rows_written: rows as u64,
                metadata,
                bloom_filter: None,
                column_index,
                offset_index: Some(offsets.build()),
            },
        ))
    }
}

/// The non-null cells among definition levels (max 1). A wrapping sum: `filter(…).count()` adds
/// with the release profile's overflow check on each level, which kept the loop from being
/// vectorised (9 instructions a level, 4.8 M on a 100 k-claim day).
pub(super) fn non_null(levels: &[u8]) -> usize {
    levels
        .iter()
        .fold(0usize, |n, &l| n.wrapping_add(usize::from(l != 0)))
}

/// Adds key `k`, not in `map`, at its free `slot`: its value appended to the dictionary by
/// `value`, the next index. Out of line: the slow path of [`DictChunk::push_all_checked`] (once per
/// distinct key of the row group), kept out of its loop so that the loop's state stays in registers.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn add_entry<K: DictKey>(
    map: &mut K::Map,
    slot: usize,
    k: K,
    dict: &mut Vec<u8>,
    stats: bool,
    vals: &mut Vec<i32>,
    entries: &mut u32,
    value: &mut dyn FnMut(&mut Vec<u8>) -> Result<(), String>,
) -> Result<Index, String> {
    let i = new_entry(dict, stats, vals, entries, value)?;
    map.insert_at(slot, k, i);
    Ok(i)
}

/// The definition levels of the data pages already encoded in a row group, and their encoding:
/// the columns with a value on every paid line and none elsewhere have the same levels (the
/// paid rows: 14 dictionary columns, and 8 amounts written as deltas, whose cache is another,
/// [`LevelsCache::with_rle_tail`]), encoded once per row group and copied for the others (a comparison of the levels
/// costs a few instructions per 32 rows, their encoding about 5 a row: README "Performance", ninth
/// pass). Cleared per row group.
#[derive(Default)]
pub(super) struct LevelsCache {
    /// The last values of a page encoded as parquet-rs's level encoder does ([`hybrid_with`]): the
    /// cache of the amounts' delta pages ([`super::delta::AmountChunk`]), whose bytes are
    /// parquet-rs's; the dictionary columns' levels do not follow that rule (formats/parquet.md).
    rle_tail: bool,
    /// (levels, their encoding: 4-byte length then the hybrid at 1 bit); `pages[..used]` are the
    /// row group's, the others are buffers kept for the next row groups (a page's levels are
    /// 24 576 or 65 536 bytes: allocated afresh per row group, they were fresh pages to the kernel).
    pages: Vec<(Vec<u8>, Vec<u8>)>,
    used: usize,
}

impl LevelsCache {
    /// Entries kept: the distinct level vectors of a row group's pages are few (the paid rows, a
    /// few optional cells' patterns); past this many, a page is encoded without being kept.
    const ENTRIES: usize = 16;

    /// A cache whose encodings end as parquet-rs's level encoder ends a page (`rle_tail`).
    pub(super) fn with_rle_tail() -> LevelsCache {
        LevelsCache {
            rle_tail: true,
            ..LevelsCache::default()
        }
    }

    /// Appends the encoding of a page's definition levels.
    pub(super) fn encode(&mut self, levels: &[u8], out: &mut Vec<u8>) {
        let pages = self.pages.get(..self.used).unwrap_or_default();
        if let Some((_, enc)) = pages.iter().find(|(l, _)| l[..] == *levels) {
            out.extend_from_slice(enc);
            return;
        }
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        hybrid_levels(levels, self.rle_tail, out);
        let len = (out.len() - start - 4) as u32;
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
        if self.used < Self::ENTRIES {
            if self.pages.len() == self.used {
                self.pages.push((Vec::new(), Vec::new()));
            }
            if let Some((l, enc)) = self.pages.get_mut(self.used) {
                l.clear();
                l.extend_from_slice(levels);
                enc.clear();
                enc.extend_from_slice(&out[start..]);
                self.used += 1;
            }
        }
    }

    /// Forgets the row group's pages (their buffers are kept).
    pub(super) fn clear(&mut self) {
        self.used = 0;
    }
}

/// A key new to the chunk's dictionary: its PLAIN value appended to `dict` by `value`, its INT32
/// statistic kept when `stats`, and the next index, which it returns. The one slow path of
/// [`DictChunk::push_all`] and [`DictChunk::push_paid`].
#[inline(always)]
fn new_entry(
    dict: &mut Vec<u8>,
    stats: bool,
    vals: &mut Vec<i32>,
    entries: &mut u32,
    value: impl FnOnce(&mut Vec<u8>) -> Result<(), String>,
) -> Result<Index, String> {
    let Ok(i) = Index::try_from(*entries) else {
        return Err(format!(
            "more than {} distinct values in a row group's column",
            u32::from(Index::MAX) + 1
        ));
    };
    let at = dict.len();
    value(dict)?;
    if stats {
        let b = dict.get(at..at + 4).ok_or("a short INT32 value")?;
        vals.push(i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    }
    *entries += 1;
    Ok(i)
}

/// A chunk's key → index tables, one per key type, and the previous key of each type: a column
/// uses one of them ([`DictKey`]).
pub(super) struct Tables {
    small: Interner<u32>,
    narrow: Narrow,
    wide: Interner<u128>,
    last_small: Option<(u32, Index)>,
    last: Option<(u64, Index)>,
    last_wide: Option<(u128, Index)>,
}

impl Tables {
    fn new() -> Tables {
        Tables {
            small: Interner::new(),
            narrow: Narrow::new(),
            wide: Interner::new(),
            last_small: None,
            last: None,
            last_wide: None,
        }
    }

    fn held_bytes(&self) -> usize {
        self.small.held_bytes() + self.narrow.held_bytes() + self.wide.held_bytes()
    }

    fn clear(&mut self) {
        self.small.clear();
        self.narrow.clear();
        self.wide.clear();
        self.last_small = None;
        self.last = None;
        self.last_wide = None;
    }
}

/// A cell's key: `u32` (numbers that fit 32 bits and take many values; the table of [`Narrow`]'s
/// 32-bit keys), `u64` (amounts, integers, enums, dates, texts of up to 7 bytes) or `u128` (texts of
/// up to 15 bytes). The narrow key compares in one instruction and its table slot is 16 bytes
/// instead of 32 (README "Performance", fifth pass); the small key's slot is 8 bytes: `practitioner`
/// looked up about one key a claim among up to 25 000 practitioners, in a table of up to 65 536
/// slots that took 1 MiB — the core's whole L2 cache — with `u64` keys, 512 KiB with `u32` keys
/// (README "Performance", tenth pass); it is written PLAIN + Snappy since (`parquet::PLAIN_TEXT`).
pub(super) trait DictKey: Copy + Eq + Default + 'static {
    /// The key → index table of this key type.
    type Map: KeyMap<Self>;
    /// The table's home slot of the key (the top `64 − shift` bits of a multiplicative hash).
    fn home(self, shift: u32) -> usize;
    /// The chunk's table and previous key for this key type.
    fn state(t: &mut Tables) -> (&mut Self::Map, &mut Option<(Self, Index)>);
    /// The chunk's previous key of this type.
    #[inline(always)]
    fn last(c: &mut DictChunk) -> &mut Option<(Self, Index)> {
        Self::state(&mut c.tables).1
    }
    /// The chunk's table for this key type.
    #[inline(always)]
    fn map(c: &mut DictChunk) -> &mut Self::Map {
        Self::state(&mut c.tables).0
    }
}

/// A key → dictionary index table: [`Interner`], or [`Narrow`] for `u64` keys.
pub(super) trait KeyMap<K> {
    /// The key's index (`Ok`), or where it goes (`Err`, for [`KeyMap::insert_at`]).
    fn find(&self, k: K) -> Result<Index, usize>;
    /// Inserts a key not in the table where [`KeyMap::find`] said.
    fn insert_at(&mut self, slot: usize, k: K, index: Index);
}

impl<K: DictKey> KeyMap<K> for Interner<K> {
    #[inline(always)]
    fn find(&self, k: K) -> Result<Index, usize> {
        Interner::find(self, k)
    }
    #[inline(always)]
    fn insert_at(&mut self, slot: usize, k: K, index: Index) {
        Interner::insert_at(self, slot, k, index)
    }
}

/// The table of the `u64` keys: a key that is a 32-bit signed integer (an amount in cents below
/// ±21 474 836.47 €, a rate, an enum, a `YYYYMMDD` date, a code of up to 3 bytes: nearly every key
/// of the file) in a table of 8-byte slots, any other in a table of 16-byte slots. The amount
/// columns look up a third of their cells among about 2 000 values a row group; the load of the
/// slot was the key loops' largest stall (`perf` on the 1 M day: 192 of their 344 samples on the
/// slot's load came from the `u64` paid columns), and their tables — 64 KiB each with 16-byte slots,
/// a task's 23 columns together beyond the core's 1 MiB L2 — take half the bytes (PARQUET10 measured
/// the same change on `practitioner`: −13 % of its samples). Either table gives the same index for
/// the same key, so the file is the same byte for byte.
pub(super) struct Narrow {
    fit: Interner<u32>,
    other: Interner<u64>,
}

/// [`Narrow`]'s `Err` slot in its second table has this bit set (table sizes are far below it).
const OTHER: usize = 1 << (usize::BITS - 1);

impl Narrow {
    fn new() -> Narrow {
        Narrow {
            fit: Interner::new(),
            other: Interner::new(),
        }
    }

    /// The key as a 32-bit key when it is a 32-bit signed integer (one-to-one on those keys).
    #[inline(always)]
    fn fit(k: u64) -> Option<u32> {
        i32::try_from(k as i64).ok().map(|v| v as u32)
    }

    fn held_bytes(&self) -> usize {
        self.fit.held_bytes() + self.other.held_bytes()
    }

    fn clear(&mut self) {
        self.fit.clear();
        self.other.clear();
    }
}

impl KeyMap<u64> for Narrow {
    #[inline(always)]
    fn find(&self, k: u64) -> Result<Index, usize> {
        match Narrow::fit(k) {
            Some(f) => self.fit.find(f),
            None => self.other.find(k).map_err(|slot| slot | OTHER),
        }
    }
    #[inline(always)]
    fn insert_at(&mut self, slot: usize, k: u64, index: Index) {
        match Narrow::fit(k) {
            Some(f) => self.fit.insert_at(slot, f, index),
            None => self.other.insert_at(slot & !OTHER, k, index),
        }
    }
}

/// The hash of a key's two halves: each multiplied by its own odd constant before they meet (a
/// fold of the halves alone let crafted keys — AMC numbers whose bytes 3..6 and 7..10 cancel —
/// share one home and made a chunk's lookups quadratic: review of the fourth Parquet pass). A `u64`
/// key is a `u128` key with a zero high half: the same hash, without its second product.
#[inline(always)]
fn mix(lo: u64, hi: u64, shift: u32) -> usize {
    let x = lo.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ hi.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    // `wrapping_shr`: the shift is below 64 by construction (`Interner::shift`), and the release
    // profile's overflow checks would otherwise test it on every lookup.
    x.rotate_left(29)
        .wrapping_mul(0x1656_67B1_9E37_79F9)
        .wrapping_shr(shift) as usize
}

impl DictKey for u32 {
    type Map = Interner<u32>;
    #[inline(always)]
    fn home(self, shift: u32) -> usize {
        mix(u64::from(self), 0, shift)
    }
    #[inline(always)]
    fn state(t: &mut Tables) -> (&mut Interner<u32>, &mut Option<(u32, Index)>) {
        (&mut t.small, &mut t.last_small)
    }
}

impl DictKey for u64 {
    type Map = Narrow;
    #[inline(always)]
    fn home(self, shift: u32) -> usize {
        mix(self, 0, shift)
    }
    #[inline(always)]
    fn state(t: &mut Tables) -> (&mut Narrow, &mut Option<(u64, Index)>) {
        (&mut t.narrow, &mut t.last)
    }
}

impl DictKey for u128 {
    type Map = Interner<u128>;
    #[inline(always)]
    fn home(self, shift: u32) -> usize {
        mix(self as u64, (self >> 64) as u64, shift)
    }
    #[inline(always)]
    fn state(t: &mut Tables) -> (&mut Interner<u128>, &mut Option<(u128, Index)>) {
        (&mut t.wide, &mut t.last_wide)
    }
}

/// Key → dictionary index of one chunk: open addressing with linear probing in a power-of-two
/// table at most three quarters full ([`Interner::FULL`]), a multiplicative hash of the key. A third of the cells miss the
/// repeat-of-the-previous-key fast path (2.5 M lookups on a 100 k-claim day: amounts, codes, lines,
/// dates); against `FxHashMap<u128, u32>` this table saved 20 M instructions there (about 8 a
/// lookup), the file unchanged byte for byte (README "Performance").
pub(super) struct Interner<K> {
    slots: Vec<Slot<K>>,
    /// 64 − log2(slots): the hash's top bits index the table.
    shift: u32,
    len: usize,
}

#[derive(Clone, Copy)]
struct Slot<K> {
    key: K,
    /// [`EMPTY`] for a free slot.
    index: u32,
}

const EMPTY: u32 = u32::MAX;

impl<K: DictKey> Interner<K> {
    const MIN_BITS: u32 = 6;
    /// The most a table is filled, as a fraction: 3/4. Half full, the tables of a task's 23 columns
    /// (`practitioner`'s 16 600 keys a row group in 512 KiB, an amount's 2 000 in 64 KiB) outgrew the
    /// core's 1 MiB L2 cache, and the load of a lookup's slot held 44 % of the key loops' samples
    /// (`perf annotate`, 1 M day); the longer probes at 3/4 stay mostly within the slot's cache line.
    const FULL: (usize, usize) = (3, 4);

    /// A free slot.
    fn free() -> Slot<K> {
        Slot {
            key: K::default(),
            index: EMPTY,
        }
    }

    fn new() -> Interner<K> {
        Interner {
            slots: vec![Self::free(); 1 << Self::MIN_BITS],
            shift: 64 - Self::MIN_BITS,
            len: 0,
        }
    }

    /// The key's index (`Ok`), or the free slot where it goes (`Err`, for [`Interner::insert_at`]).
    #[inline(always)]
    fn find(&self, k: K) -> Result<Index, usize> {
        // Wrapping: the table is never empty (`Interner::new`), and the release profile's overflow
        // checks would otherwise test it on every lookup.
        let mask = self.slots.len().wrapping_sub(1);
        let mut i = k.home(self.shift);
        loop {
            match self.slots.get(i) {
                Some(s) if s.index == EMPTY => return Err(i),
                // An index stored by `insert_at`, from an `Index`: the cast gives it back.
                Some(s) if s.key == k => return Ok(s.index as Index),
                Some(_) => i = i.wrapping_add(1) & mask,
                None => return Err(i), // never: `home` is below the table's size
            }
        }
    }

    /// Inserts a key not in the table at the slot [`Interner::find`] gave; grows the table when it is
    /// more than [`Interner::FULL`] full.
    fn insert_at(&mut self, slot: usize, k: K, index: Index) {
        if let Some(s) = self.slots.get_mut(slot) {
            *s = Slot {
                key: k,
                index: u32::from(index),
            };
        }
        self.len += 1;
        if self.len * Self::FULL.1 > self.slots.len() * Self::FULL.0 {
            let bigger = vec![Self::free(); self.slots.len() * 2];
            let old = std::mem::replace(&mut self.slots, bigger);
            self.shift -= 1;
            for s in old.into_iter().filter(|s| s.index != EMPTY) {
                if let Err(i) = self.find(s.key)
                    && let Some(d) = self.slots.get_mut(i)
                {
                    *d = s;
                }
            }
        }
    }

    fn held_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot<K>>()
    }

    /// Empties the table (its size is kept for the next chunk).
    fn clear(&mut self) {
        self.slots.fill(Self::free());
        self.len = 0;
    }
}

/// The statistics of an INT32 chunk, page after page, as parquet-rs's column writer makes them:
/// min/max and null count per chunk, a column index (per page: null page, min, max, null count,
/// definition level histogram; the boundary order of the pages' min/max), and the chunk's definition
/// level histogram (nullable columns).
struct PageStats {
    nullable: bool,
    index: ColumnIndexBuilder,
    nulls: i64,
    values: i64,
    min_max: Option<(i32, i32)>,
    /// The previous non-null page's min/max, and whether the pages are still ascending, descending.
    last: Option<(i32, i32)>,
    ascending: bool,
    descending: bool,
}

impl PageStats {
    fn new(nullable: bool) -> PageStats {
        PageStats {
            nullable,
            index: ColumnIndexBuilder::new(parquet::basic::Type::INT32),
            nulls: 0,
            values: 0,
            min_max: None,
            last: None,
            ascending: true,
            descending: true,
        }
    }

    /// A page of `nulls` null cells and `values` values, and the min/max of its values (`None`: no
    /// value).
    fn page(&mut self, nulls: usize, values: usize, min_max: Option<(i32, i32)>) {
        let (nulls, values) = (nulls as i64, values as i64);
        self.nulls += nulls;
        self.values += values;
        match min_max {
            None => self.index.append(true, vec![], vec![], nulls, None),
            Some((lo, hi)) => {
                if let Some((last_lo, last_hi)) = self.last {
                    self.ascending &= !(last_lo > lo || last_hi > hi);
                    self.descending &= !(lo > last_lo || hi > last_hi);
                }
                self.last = Some((lo, hi));
                self.min_max = Some(match self.min_max {
                    None => (lo, hi),
                    Some((a, b)) => (a.min(lo), b.max(hi)),
                });
                self.index.append(
                    false,
                    lo.to_le_bytes().to_vec(),
                    hi.to_le_bytes().to_vec(),
                    nulls,
                    None,
                );
            }
        }
        if self.nullable {
            self.index
                .append_histograms(&None, &Some(LevelHistogram::from(vec![nulls, values])));
        }
    }

    fn finish(
        mut self,
    ) -> parquet::errors::Result<(Statistics, Option<LevelHistogram>, ColumnIndexMetaData)> {
        self.index
            .set_boundary_order(match (self.ascending, self.descending) {
                (true, _) => BoundaryOrder::ASCENDING,
                (false, true) => BoundaryOrder::DESCENDING,
                (false, false) => BoundaryOrder::UNORDERED,
            });
        let stats = Statistics::Int32(
            ValueStatistics::new(
                self.min_max.map(|m| m.0),
                self.min_max.map(|m| m.1),
                None,
                Some(self.nulls as u64),
                false,
            )
            .with_backwards_compatible_min_max(true),
        );
        let histogram = self
            .nullable
            .then(|| LevelHistogram::from(vec![self.nulls, self.values]));
        Ok((stats, histogram, self.index.build()?))
    }
}

/// Bits needed for values up to `max`.
fn bit_width(max: u32) -> u8 {
    (32 - max.leading_zeros()) as u8
}

/// Appends `values` in Parquet's RLE/bit-packed hybrid encoding at `width` bits: values are taken
/// by groups of 8 from the end of the last run; a group of 8 equal values starts an RLE run, which
/// extends as far as the value repeats; the groups between runs are bit-packed (the last group padded
/// with zeros: readers stop at the number of values the page holds). A run of 8 or more equal values
/// is thus one RLE run from the first group boundary it covers entirely. Looking at whole groups
/// costs one comparison for most groups of distinct values, where a run-by-run scan paid for every
/// value.
pub(super) fn hybrid<T: Copy + Eq + Into<u32>>(values: &[T], width: u8, out: &mut Vec<u8>) {
    hybrid_with(values, width, false, out)
}

/// [`hybrid`], and with `rle_tail` the last values as parquet-rs's level encoder writes them: when
/// they follow a run (or start the stream), are fewer than 8 and all equal, an RLE run rather than
/// a bit-packed group (the levels of [`super::plain`]'s nullable column, parquet-rs's bytes).
pub(super) fn hybrid_with<T: Copy + Eq + Into<u32>>(
    values: &[T],
    width: u8,
    rle_tail: bool,
    out: &mut Vec<u8>,
) {
    let n = values.len();
    // values[lit..g] wait to be bit-packed; g is the next group boundary.
    let (mut lit, mut g) = (0, 0);
    while g + 8 <= n {
        let v = values[g];
        let group = &values[g..g + 8];
        if group[1] != v || group.iter().any(|&x| x != v) {
            g += 8;
            continue;
        }
        // Long runs (a column null for most rows, a constant) are extended 8 values at a time.
        let mut j = g + 8;
        while j + 8 <= n && values[j..j + 8].iter().all(|&x| x == v) {
            j += 8;
        }
        while j < n && values[j] == v {
            j += 1;
        }
        bit_pack(&values[lit..g], width, out);
        varint(out, ((j - g) as u64) << 1);
        let bytes = usize::from(width).div_ceil(8);
        out.extend_from_slice(&v.into().to_le_bytes()[..bytes]);
        lit = j;
        g = j;
    }
    let tail = &values[lit..];
    match tail.first() {
        Some(&v) if rle_tail && lit == g && tail.iter().all(|&x| x == v) => {
            varint(out, (tail.len() as u64) << 1);
            let bytes = usize::from(width).div_ceil(8);
            out.extend_from_slice(&v.into().to_le_bytes()[..bytes]);
        }
        _ => bit_pack(tail, width, out),
    }
}

/// [`hybrid_with`] at width 1 for definition levels (max 1: every level 0 or 1), the same bytes,
/// 8 levels at a time as the bytes of a `u64`: a group is a run's start when its word is all zeros
/// or all ones, and is bit-packed into one byte by a multiplication that gathers each byte's low
/// bit. The generic encoder compared and shifted level by level (about 5 instructions a level:
/// 15 M on a 100 k-claim day for the dictionary columns' levels alone). Levels above 1 (never
/// written by the sink) go to [`hybrid_with`].
pub(super) fn hybrid_levels(levels: &[u8], rle_tail: bool, out: &mut Vec<u8>) {
    if levels.iter().fold(0u8, |a, &l| a | l) > 1 {
        return hybrid_with(levels, 1, rle_tail, out);
    }
    const ONES: u64 = 0x0101_0101_0101_0101;
    let word = |at: usize| -> Option<u64> {
        let b = levels.get(at..at + 8)?;
        Some(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    };
    // levels[lit..g] wait to be bit-packed; g is the next group boundary.
    let (mut lit, mut g) = (0, 0);
    while let Some(w) = word(g) {
        if w != 0 && w != ONES {
            g += 8;
            continue;
        }
        let v = (w & 1) as u8;
        let mut j = g + 8;
        while word(j) == Some(w) {
            j += 8;
        }
        while levels.get(j) == Some(&v) {
            j += 1;
        }
        pack_levels(levels.get(lit..g).unwrap_or_default(), out);
        varint(out, ((j - g) as u64) << 1);
        out.push(v);
        lit = j;
        g = j;
    }
    let tail = levels.get(lit..).unwrap_or_default();
    match tail.first() {
        Some(&v) if rle_tail && lit == g && tail.iter().all(|&x| x == v) => {
            varint(out, (tail.len() as u64) << 1);
            out.push(v);
        }
        _ => pack_levels(tail, out),
    }
}

/// [`bit_pack`] of levels 0 or 1 at width 1: each group of 8 is one byte, bit `k` the low bit of
/// the group's byte `k` (`(word × 0x0102040810204080) >> 56`: each byte's low bit lands on its
/// own bit of the top byte, no two terms of the product on the same bit).
fn pack_levels(levels: &[u8], out: &mut Vec<u8>) {
    if levels.is_empty() {
        return;
    }
    varint(out, ((levels.len().div_ceil(8) as u64) << 1) | 1);
    out.reserve(levels.len().div_ceil(8));
    let gather = |b: &[u8]| -> u8 {
        let mut a = [0u8; 8];
        a[..b.len()].copy_from_slice(b);
        (u64::from_le_bytes(a).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8
    };
    let mut chunks = levels.chunks_exact(8);
    for c in &mut chunks {
        out.push(gather(c));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        out.push(gather(rest));
    }
}

/// One bit-packed run of `values` (padded with zeros to a whole group of 8), LSB first.
fn bit_pack<T: Copy + Into<u32>>(values: &[T], width: u8, out: &mut Vec<u8>) {
    if values.is_empty() {
        return;
    }
    varint(out, ((values.len().div_ceil(8) as u64) << 1) | 1);
    pack_values(values, width, out);
}

/// `values` at `width` bits, LSB first, without a header, padded with zeros to a whole group of 8:
/// `width` bytes a group (also the miniblocks of [`super::delta`]).
#[inline(always)]
pub(super) fn pack_values<T: Copy + Into<u32>>(values: &[T], width: u8, out: &mut Vec<u8>) {
    // One loop per width, the width a constant in it: the shifts of a group are then constants (a
    // `u128` shifted by a variable amount costs a branch and a few instructions per value). Indices
    // of a row group of at most 65 536 rows take at most 16 bits; wider falls to the generic loop.
    macro_rules! widths {
        ($($w:literal)*) => {
            match width {
                $($w => pack_run::<T, $w>(values, out),)*
                w => pack_run_wide(values, usize::from(w), out),
            }
        };
    }
    widths!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
}

/// Bit-packs `values` at `W` bits (≤ 16): each group of 8 values assembled in one integer whose
/// first `W` bytes are the group (a copy of a constant length).
#[inline(always)]
fn pack_run<T: Copy + Into<u32>, const W: usize>(values: &[T], out: &mut Vec<u8>) {
    out.reserve(values.len().div_ceil(8) * W);
    let mut chunks = values.chunks_exact(8);
    for g in &mut chunks {
        out.extend_from_slice(&group::<T, W>(g).to_le_bytes()[..W]);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut g = [0u32; 8];
        for (d, s) in g.iter_mut().zip(rest) {
            *d = (*s).into();
        }
        out.extend_from_slice(&group::<u32, W>(&g).to_le_bytes()[..W]);
    }
}

/// 8 values of `W` bits, LSB first, in the low `8 × W` bits (a `u64` up to 8 bits: cheaper shifts).
#[inline(always)]
fn group<T: Copy + Into<u32>, const W: usize>(g: &[T]) -> u128 {
    if W <= 8 {
        let mut acc = 0u64;
        for (k, &v) in g.iter().take(8).enumerate() {
            acc |= u64::from(v.into()) << (k * W);
        }
        u128::from(acc)
    } else {
        let mut acc = 0u128;
        for (k, &v) in g.iter().take(8).enumerate() {
            acc |= u128::from(v.into()) << (k * W);
        }
        acc
    }
}

/// Bit-packs `values` at `w` bits, byte by byte (widths above 16: never for a row group's indices).
fn pack_run_wide<T: Copy + Into<u32>>(values: &[T], w: usize, out: &mut Vec<u8>) {
    let mut chunks = values.chunks_exact(8);
    let mut pack = |g: &mut dyn Iterator<Item = u32>| {
        let (mut acc, mut bits) = (0u64, 0);
        for v in g.take(8) {
            acc |= u64::from(v) << bits;
            bits += w;
            while bits >= 8 {
                out.push(acc as u8);
                acc >>= 8;
                bits -= 8;
            }
        }
    };
    for g in &mut chunks {
        pack(&mut g.iter().map(|&v| v.into()));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        pack(&mut rest.iter().map(|&v| v.into()).chain(std::iter::repeat(0)));
    }
}

/// An unsigned LEB128 varint (the RLE/bit-packed hybrid's run headers, the delta encoding's block
/// headers: `parquet/delta.rs` uses it too).
pub(super) fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(values: &[u32], width: u8) -> Vec<u8> {
        let mut out = Vec::new();
        hybrid(values, width, &mut out);
        out
    }

    /// The bit-packing of the spec written bit by bit: value `i`'s bit `b` is bit `i × w + b` of the
    /// run, LSB first, the last group padded with zeros.
    fn packed_bit_by_bit(values: &[u32], w: usize) -> Vec<u8> {
        let groups = values.len().div_ceil(8);
        let mut out = vec![0u8; groups * w];
        for (i, &v) in values.iter().enumerate() {
            for b in 0..w {
                if v >> b & 1 == 1 {
                    let bit = i * w + b;
                    out[bit / 8] |= 1 << (bit % 8);
                }
            }
        }
        out
    }

    #[test]
    fn levels_are_encoded_as_the_generic_hybrid_encoder_does() {
        // Patterns of levels: runs of every length around 8 and 16, alternations, random bits,
        // a level above 1 (the generic path), both tails.
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for n in 0..70usize {
            cases.push(vec![1; n]);
            cases.push(vec![0; n]);
            cases.push((0..n).map(|i| u8::from(i % 2 == 0)).collect());
            cases.push((0..n).map(|i| u8::from(i % 9 != 3)).collect());
            cases.push((0..n).map(|i| u8::from(i >= n / 2)).collect());
            cases.push((0..n).map(|i| u8::from(i < 17 || i % 5 == 0)).collect());
        }
        let mut x = 12345u64;
        for n in [100usize, 1000, 24_576, 65_536] {
            for density in [1u64, 8, 50, 100, 250, 255] {
                cases.push(
                    (0..n)
                        .map(|_| {
                            x = x
                                .wrapping_mul(6364136223846793005)
                                .wrapping_add(1442695040888963407);
                            u8::from((x >> 56) < density)
                        })
                        .collect(),
                );
            }
        }
        cases.push(vec![1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 0]);
        for levels in &cases {
            for rle_tail in [false, true] {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                hybrid_levels(levels, rle_tail, &mut a);
                hybrid_with(levels, 1, rle_tail, &mut b);
                assert_eq!(a, b, "{levels:?} rle_tail {rle_tail}");
            }
        }
    }

    #[test]
    fn bit_packing_at_every_width_is_the_specs_bit_order() {
        for w in 0..=20usize {
            let max = if w == 0 { 0 } else { (1u64 << w) - 1 } as u32;
            for n in [1usize, 7, 8, 9, 16, 23] {
                // Values that fill every bit of the width, and others that do not.
                let values: Vec<u32> = (0..n as u32)
                    .map(|i| {
                        if i % 3 == 0 {
                            max
                        } else {
                            i.wrapping_mul(2_654_435_761) & max
                        }
                    })
                    .collect();
                let mut out = Vec::new();
                bit_pack(&values, w as u8, &mut out);
                let mut want = Vec::new();
                varint(&mut want, ((n.div_ceil(8) as u64) << 1) | 1);
                want.extend(packed_bit_by_bit(&values, w));
                assert_eq!(out, want, "width {w}, {n} values");
            }
        }
    }

    #[test]
    fn interner_finds_every_key_it_was_given_across_growth_and_clear() {
        let mut t = Interner::new();
        // Keys shaped like the columns' (small integers, amounts, packed codes, u128 with high bits).
        let keys: Vec<u128> = (0..5000u128)
            .map(|i| match i % 4 {
                0 => i,
                1 => i * 1_000_003,
                2 => (i << 64) | 7,
                _ => u128::MAX - i,
            })
            .collect();
        for (n, &k) in keys.iter().enumerate() {
            match t.find(k) {
                Err(slot) => t.insert_at(slot, k, n as Index),
                Ok(i) => panic!("key {k} found ({i}) before its insertion"),
            }
        }
        assert!(
            4 * keys.len() <= 3 * t.slots.len(),
            "at most three quarters full"
        );
        for (n, &k) in keys.iter().enumerate() {
            assert_eq!(t.find(k), Ok(n as Index));
        }
        assert!(t.find(5001).is_err());
        t.clear();
        assert!(keys.iter().all(|&k| t.find(k).is_err()));
        assert_eq!(t.len, 0);
        // `u32` keys, the small key type.
        let mut t = Interner::new();
        let keys: Vec<u32> = (0..5000u32)
            .map(|i| i.wrapping_mul(2_654_435_761) | u32::from(i % 2 == 0) << 31)
            .collect();
        for (n, &k) in keys.iter().enumerate() {
            match t.find(k) {
                Err(slot) => t.insert_at(slot, k, n as Index),
                Ok(i) => panic!("key {k} found ({i}) before its insertion"),
            }
        }
        for (n, &k) in keys.iter().enumerate() {
            assert_eq!(t.find(k), Ok(n as Index));
        }
    }

    #[test]
    fn a_chunk_of_65_536_distinct_values_reads_back_and_a_65_537th_is_refused() {
        use arrow_array::{Array, Int64Array};
        use parquet::arrow::ArrowWriter;
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        use std::sync::Arc;
        // A full row group of distinct values (the largest dictionary a row group can hold: its
        // indices take all 16 bits of an `Index`), a null every 7 rows, written in slices as the
        // sink does, then read back by parquet-rs's reader.
        let n = 1usize << 16;
        let cells: Vec<Option<i64>> = (0..n as i64)
            .map(|i| (i % 7 != 3).then_some(i * 1_000_003 - 40_000_000))
            .collect();
        let schema = Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
            "amount",
            arrow_schema::DataType::Int64,
            true,
        )]));
        let mut file = Vec::new();
        let (mut w, _) = ArrowWriter::try_new(&mut file, schema, None)
            .and_then(|w| w.into_serialized_writer())
            .unwrap();
        let mut d = DictChunk::new(w.schema_descr().column(0), false, n).unwrap();
        for part in cells.chunks(64) {
            d.push_all(
                part,
                |c| c.map(|v| v as u64),
                |c, out| {
                    out.extend_from_slice(&c.unwrap().to_le_bytes());
                    Ok(())
                },
            )
            .unwrap();
        }
        let (bytes, close) = d.close(&mut LevelsCache::default()).unwrap();
        let mut rg = w.next_row_group().unwrap();
        rg.append_column(&bytes, close).unwrap();
        rg.close().unwrap();
        w.close().unwrap();
        let mut read = Vec::new();
        for b in ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(file))
            .unwrap()
            .build()
            .unwrap()
        {
            let b = b.unwrap();
            let a = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            read.extend((0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i))));
        }
        assert!(read == cells, "the values read back");

        // 65 536 distinct non-null keys fill the indices; one more cannot be written.
        let mut d = DictChunk::new(int64_descr(), false, n + 1).unwrap();
        let keys: Vec<u64> = (0..n as u64 + 1).collect();
        let put = |_: &u64, out: &mut Vec<u8>| {
            out.extend_from_slice(&[0; 8]);
            Ok(())
        };
        d.push_all(&keys[..n], |&k| Some(k), put).unwrap();
        assert_eq!(d.indices[n - 1], Index::MAX);
        let e = d.push_all(&keys[n..], |&k| Some(k), put).unwrap_err();
        assert!(e.contains("more than 65536 distinct values"), "{e}");
        // A repeat of a known value still takes its index.
        d.push_all(&keys[..1], |&k| Some(k), put).unwrap();
    }

    #[test]
    fn a_column_keyed_on_32_bits_writes_the_chunk_it_writes_keyed_on_64() {
        // Practitioner-like numbers: runs (the lines of a claim), nulls, repeats far apart, the
        // extremes of `u32`, over several slices; the same cells keyed as `u32` and as `u64`.
        let cells: Vec<Option<u32>> = (0..5000u32)
            .map(|i| match i % 13 {
                0 => None,
                1 => Some(u32::MAX),
                2 => Some(0),
                _ => Some((i / 3).wrapping_mul(2_654_435_761) % 7919),
            })
            .collect();
        let value = |c: &Option<u32>, out: &mut Vec<u8>| {
            out.extend_from_slice(&i64::from(c.unwrap()).to_le_bytes());
            Ok(())
        };
        let mut small = DictChunk::new(int64_descr(), false, cells.len()).unwrap();
        let mut wide = DictChunk::new(int64_descr(), false, cells.len()).unwrap();
        for part in cells.chunks(64) {
            small.push_all(part, |c| *c, value).unwrap();
            wide.push_all(part, |c| c.map(u64::from), value).unwrap();
        }
        let (a, _) = small.close(&mut LevelsCache::default()).unwrap();
        let (b, _) = wide.close(&mut LevelsCache::default()).unwrap();
        assert!(a == b, "the same dictionary, indices and levels");
        // The point of the small key: its table's slots take half the bytes.
        assert_eq!(std::mem::size_of::<Slot<u32>>(), 8);
        assert_eq!(std::mem::size_of::<Slot<u64>>(), 16);
    }

    #[test]
    fn a_u64_column_with_keys_past_32_bits_writes_the_chunk_it_writes_keyed_on_128() {
        // Amount-like keys (`num` of an `i64`): small, negative, at both ends of `i32` and just
        // past them, `i64`'s extremes, in runs and far repeats: the keys that fit 32 bits go to the
        // 8-byte table, the others to the 16-byte one, and both must give the same indices as one
        // table of every key.
        let edges = [
            0i64,
            -1,
            i64::from(i32::MAX),
            i64::from(i32::MIN),
            i64::from(i32::MAX) + 1,
            i64::from(i32::MIN) - 1,
            i64::MAX,
            i64::MIN,
            u32::MAX as i64,
        ];
        let cells: Vec<Option<i64>> = (0..6000i64)
            .map(|i| match i % 11 {
                0 => None,
                1 | 2 => Some(edges[(i / 11) as usize % edges.len()]),
                3 => Some((i / 3) * 4_294_967_311), // past 32 bits, distinct
                _ => Some(((i / 2) * 7919) % 40_013 - 20_000),
            })
            .collect();
        let value = |c: &Option<i64>, out: &mut Vec<u8>| {
            out.extend_from_slice(&c.unwrap().to_le_bytes());
            Ok(())
        };
        let mut narrow = DictChunk::new(int64_descr(), false, cells.len()).unwrap();
        let mut wide = DictChunk::new(int64_descr(), false, cells.len()).unwrap();
        for part in cells.chunks(64) {
            narrow
                .push_all(part, |c| c.map(|v| v as u64), value)
                .unwrap();
            wide.push_all(part, |c| c.map(|v| u128::from(v as u64)), value)
                .unwrap();
        }
        assert!(narrow.tables.narrow.fit.len > 0 && narrow.tables.narrow.other.len > 0);
        let (a, _) = narrow.close(&mut LevelsCache::default()).unwrap();
        let (b, _) = wide.close(&mut LevelsCache::default()).unwrap();
        assert!(a == b, "the same dictionary, indices and levels");
    }

    /// What a chunk must hold after the cells of a row group: a level per cell, and per non-null
    /// cell the index of its key in the order keys first appear (the dictionary's order).
    fn first_appearance(cells: &[Option<u64>]) -> (Vec<u8>, Vec<Index>, Vec<u64>) {
        let mut order: Vec<u64> = Vec::new();
        let mut indices = Vec::new();
        for k in cells.iter().flatten() {
            let i = match order.iter().position(|o| o == k) {
                Some(i) => i,
                None => {
                    order.push(*k);
                    order.len() - 1
                }
            };
            indices.push(i as Index);
        }
        let levels = cells.iter().map(|c| u8::from(c.is_some())).collect();
        (levels, indices, order)
    }

    /// Row groups of cells whose runs of equal keys fall at every place the sink cuts them (slices of
    /// 64 rows here — `parquet::CACHE_ROWS` is 128, a multiple —; row groups): a
    /// column of one value, runs across slices and across row groups, runs of 1, 7, 8, 9, 63, 64, 65
    /// cells, a run ending on a slice's last cell, a slice whose first key repeats the previous
    /// slice's last, nulls inside a run, a slice of nulls only, short slices.
    fn run_shapes() -> Vec<(&'static str, Vec<Vec<Option<u64>>>)> {
        let runs = |lens: &[usize]| -> Vec<Option<u64>> {
            lens.iter()
                .enumerate()
                .flat_map(|(i, &n)| std::iter::repeat_n(Some((i % 5) as u64 * 1_000 + 7), n))
                .collect()
        };
        let mut nulls_in_runs = runs(&[40, 50, 3, 64, 2]);
        for i in (5..nulls_in_runs.len()).step_by(11) {
            nulls_in_runs[i] = None;
        }
        let mut null_slice = runs(&[70, 70]);
        for c in &mut null_slice[64..128] {
            *c = None;
        }
        vec![
            ("one value", vec![vec![Some(42); 300], vec![Some(42); 130]]),
            (
                "a run across row groups",
                vec![runs(&[100, 30]), runs(&[10, 200])],
            ),
            (
                "runs of every length",
                vec![runs(&[1, 7, 8, 9, 63, 64, 65, 1, 1, 2, 64, 128, 3])],
            ),
            (
                "a run ending on a slice's end",
                vec![runs(&[64, 64, 63, 1, 64])],
            ),
            ("nulls inside runs", vec![nulls_in_runs]),
            ("a slice of nulls between two of one run", vec![null_slice]),
            (
                "every key new",
                vec![(0..300u64).map(|i| Some(i * 977)).collect()],
            ),
            (
                "keys past 32 bits",
                vec![(0..400u64).map(|i| Some((i / 9) << 40 | (i % 2))).collect()],
            ),
        ]
    }

    #[test]
    fn the_key_loops_give_each_cell_its_keys_index_at_every_run_boundary() {
        let value = |k: u64, out: &mut Vec<u8>| {
            out.extend_from_slice(&k.to_le_bytes());
            Ok(())
        };
        for (shape, groups) in run_shapes() {
            for slice in [64, 17, 1] {
                // Every row of the slice read (`push_all`), and the paid rows alone (`push_paid`:
                // the slice's non-null cells, with its levels as the mask).
                let rows = groups.iter().map(Vec::len).max().unwrap();
                let mut all = DictChunk::new(int64_descr(), false, rows).unwrap();
                let mut paid = DictChunk::new(int64_descr(), false, rows).unwrap();
                for (g, cells) in groups.iter().enumerate() {
                    for part in cells.chunks(slice) {
                        all.push_all(part, |c| *c, |c, out| value(c.unwrap(), out))
                            .unwrap();
                        let keys: Vec<u64> = part.iter().flatten().copied().collect();
                        let mask: Vec<u8> = part.iter().map(|c| u8::from(c.is_some())).collect();
                        paid.push_paid(&keys, &mask, |&k| k, |j, out| value(keys[j], out))
                            .unwrap();
                    }
                    let (levels, indices, order) = first_appearance(cells);
                    let dict: Vec<u8> = order.iter().flat_map(|k| k.to_le_bytes()).collect();
                    for (d, how) in [(&mut all, "every row"), (&mut paid, "paid rows")] {
                        let at = format!("{shape}, row group {g}, slices of {slice}, {how}");
                        assert_eq!(&d.levels[..d.rows], &levels[..], "{at}: levels");
                        assert_eq!(&d.indices[..d.values], &indices[..], "{at}: indices");
                        assert_eq!(d.dict, dict, "{at}: dictionary");
                        d.close(&mut LevelsCache::default()).unwrap();
                    }
                }
            }
        }
    }

    /// The descriptor of a nullable INT64 column.
    fn int64_descr() -> ColumnDescPtr {
        let t =
            parquet::schema::parser::parse_message_type("message m { optional int64 a; }").unwrap();
        parquet::schema::types::SchemaDescriptor::new(std::sync::Arc::new(t)).column(0)
    }

    #[test]
    fn hybrid_encoding_of_runs_and_groups_follows_the_parquet_spec() {
        // 10 × 3 at 2 bits: one RLE run, header 10 << 1, value on 1 byte.
        assert_eq!(enc(&[3; 10], 2), vec![20, 3]);
        // 0..8 at 3 bits: one bit-packed group, header 1 << 1 | 1, values LSB first (spec example).
        assert_eq!(enc(&[0, 1, 2, 3, 4, 5, 6, 7], 3), vec![3, 0x88, 0xC6, 0xFA]);
        // 3 values then a run of 13 ones at 1 bit: the group is completed with 5 ones, 8 remain RLE.
        assert_eq!(
            enc(&[0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 1),
            vec![3, 0b1111_1010, 16, 1]
        );
        // 8 equal values straddling a group boundary stay bit-packed (two groups at 2 bits).
        assert_eq!(
            enc(&[1, 2, 2, 2, 2, 2, 2, 2, 2, 3], 2),
            vec![5, 0xA9, 0xAA, 0x0E, 0x00]
        );
        // After a run, groups restart at its end: 9 × 1, then 8 × 0 (a run), then 1 value.
        assert_eq!(
            enc(&[1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2], 2),
            vec![18, 1, 16, 0, 3, 2, 0]
        );
        // A short tail is padded with zeros to a whole group.
        assert_eq!(enc(&[1, 1, 1], 1), vec![3, 0b0000_0111]);
        // Width 0 (a one-value dictionary): runs with a zero-byte value.
        assert_eq!(enc(&[0; 5], 0), vec![3]);
        assert_eq!(enc(&[0; 9], 0), vec![18]);
        // A run longer than 127 takes a two-byte varint header.
        assert_eq!(enc(&[2; 200], 2), vec![0x90, 0x03, 2]);
        assert_eq!(enc(&[], 4), Vec::<u8>::new());
        // Wide values (17 bits): the byte-by-byte path.
        let wide = enc(&[0x1_0001, 1, 0, 0, 0, 0, 0, 0], 17);
        assert_eq!(wide.len(), 1 + 17);
        assert_eq!(&wide[..5], &[3, 0x01, 0x00, 0x03, 0x00]);
        assert_eq!(bit_width(0), 0);
        assert_eq!(bit_width(1), 1);
        assert_eq!(bit_width(255), 8);
        assert_eq!(bit_width(256), 9);
    }
}
