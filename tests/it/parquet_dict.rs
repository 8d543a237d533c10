//! The Parquet export's own dictionary encoder (`crates/export/src/parquet/dict.rs`) keys each cell
//! (a `u64` or `u128` per column) instead of hashing its value: the file is right only if, per
//! dictionary column and row group, **equal keys ⇒ equal cells** and **different cells ⇒ different
//! keys**. Checked on real engine output, a generated day with the hand-written scenario claims (every
//! rule and rejection code) and thousands of distinct amounts, codes, dates and practitioners over
//! two row groups, from both sides:
//! * every cell read back from the file (dictionary index → dictionary value) equals the cell the
//!   export's Arrow extractors build for the same row (`record_batches_of`, a path without keys): a
//!   key shared by two different cells would give the second one the first one's value;
//! * every dictionary page holds pairwise different values: two keys for one cell would add the value
//!   twice.
//!
//! With distinct dictionary values and right cells, two cells of a chunk have the same index exactly
//! when they are equal — what a reader comparing dictionary indices relies on. The comparison covers
//! the 4 plain columns too, among them `beneficiary_hash`, which the sink's writer thread hashes from
//! each row's `NIR-rank` while `record_batches_of` hashes it per claim in its rows.

use arrow_array::{Array, RecordBatch};
use liquidator_core::date::Date;
use liquidator_core::engine::BatchInfo;
use liquidator_core::engine::{self, Options};
use liquidator_core::refs::Refs;
use liquidator_core::sink::{Event, Sink, SinkError};
use liquidator_export::parquet::{PARQUET_FILE, ParquetSink, PseudonymKey, record_batches_of};
use liquidator_testkit::generator::{GenConfig, generate};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, Encoding, Type as PhysicalType};
use parquet::column::page::Page;
use parquet::file::reader::{FileReader, SerializedFileReader};
use std::collections::HashSet;

const KEY: &[u8] = b"dictionary test secret, not for production";

/// The record batches of the run, built by the export's Arrow extractors (no dictionary keys).
struct Batches<'o> {
    key: &'o PseudonymKey,
    header: liquidator_core::claims::record::BatchHeader,
    out: &'o mut Vec<RecordBatch>,
}

impl Sink for Batches<'_> {
    fn window(&mut self, events: &[Event<'_>]) -> Result<(), SinkError> {
        let b = record_batches_of(&self.header, self.key, events).map_err(SinkError::Other)?;
        self.out.extend(b);
        Ok(())
    }
}

/// A generated day of `claims` claims (twice as many beneficiaries) in `tmp/day`: its claims file,
/// its reference set, its batch header and the test's pseudonym key — the three tests' set-up.
fn day(
    tmp: &std::path::Path,
    claims: u64,
    seed: u64,
    scenarios: bool,
) -> (
    std::path::PathBuf,
    Refs,
    liquidator_core::claims::record::BatchHeader,
    PseudonymKey,
) {
    let day = tmp.join("day");
    generate(&GenConfig {
        claims,
        beneficiaries: 2 * claims,
        seed,
        date: Date(20260316),
        out: day.clone(),
        scenarios,
        ccam_subset: true,
    })
    .unwrap();
    let refs = Refs::load(&day.join("refs")).unwrap();
    let file = day.join("claims.b2");
    let (header, _) = engine::batch_header(&std::fs::read(&file).unwrap()).unwrap();
    (file, refs, header, PseudonymKey::from_secret(KEY).unwrap())
}

#[test]
fn every_dictionary_column_has_equal_indices_exactly_for_equal_cells() {
    let tmp = tempfile::tempdir().unwrap();
    // 40 000 claims: about 70 000 rows, two row groups of the export (65 536 rows each), so that the
    // dictionaries restart once.
    let (claims, refs, header, key) = day(tmp.path(), 40_000, 11, true);
    let out = tmp.path().join("out");
    let mut expected = Vec::new();
    engine::run_with(&claims, &refs, &out, true, &Options::default(), |dir| {
        Ok(vec![
            Box::new(ParquetSink::create(dir, key.clone())?.with_batch(&header)) as Box<dyn Sink>,
            Box::new(Batches {
                key: &key,
                header,
                out: &mut expected,
            }),
        ])
    })
    .unwrap();
    let path = out.join(PARQUET_FILE);

    // The cells read back equal the cells built without keys, column by column.
    let f = std::fs::File::open(&path).unwrap();
    let read: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .with_batch_size(1 << 20)
        .build()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(read.len(), 1, "all rows in one batch");
    let read = &read[0];
    let rows: usize = expected.iter().map(|b| b.num_rows()).sum();
    assert_eq!(read.num_rows(), rows);
    assert!(rows > 65_536, "two row groups: {rows} rows");
    let mut at = 0;
    for b in &expected {
        for (i, field) in b.schema().fields().iter().enumerate() {
            let got = read.column(i).slice(at, b.num_rows());
            assert_eq!(
                got.to_data(),
                b.column(i).to_data(),
                "column {} in rows {at}..{}",
                field.name(),
                at + b.num_rows()
            );
        }
        at += b.num_rows();
    }

    // Every dictionary page holds distinct values; every column but the 5 plain ones has one.
    let file = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let meta = file.metadata();
    assert_eq!(meta.num_row_groups(), 2);
    let mut checked = 0;
    for g in 0..meta.num_row_groups() {
        let rg = file.get_row_group(g).unwrap();
        for c in 0..meta.row_group(g).num_columns() {
            let descr = meta.row_group(g).column(c).column_descr_ptr();
            let mut dictionary = None;
            for page in rg.get_column_page_reader(c).unwrap() {
                if let Page::DictionaryPage {
                    buf, num_values, ..
                } = page.unwrap()
                {
                    dictionary = Some((buf, num_values));
                }
            }
            let name = descr.name();
            let Some((buf, n)) = dictionary else {
                assert!(
                    PLAIN.contains(&name) || DELTA_AMOUNTS.contains(&name),
                    "column {name} without a dictionary"
                );
                continue;
            };
            let values = plain_values(&buf, descr.physical_type());
            assert_eq!(values.len(), n as usize, "column {name}: dictionary size");
            let distinct: HashSet<&[u8]> = values.iter().copied().collect();
            assert_eq!(
                distinct.len(),
                values.len(),
                "column {name}, row group {g}: a value twice in the dictionary"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * 32, "32 dictionary columns in each row group");

    // The amounts of many values are deltas, as the footer says: their chunks' encodings are RLE
    // (levels) and DELTA_BINARY_PACKED, nothing else, no statistics.
    for g in 0..meta.num_row_groups() {
        for c in meta.row_group(g).columns() {
            let name = c.column_descr().name();
            if DELTA_AMOUNTS.contains(&name) {
                let mut e: Vec<Encoding> = c.encodings().collect();
                e.sort_by_key(|e| *e as i32);
                assert_eq!(e, [Encoding::RLE, Encoding::DELTA_BINARY_PACKED], "{name}");
                assert!(c.dictionary_page_offset().is_none(), "{name}: a dictionary");
                assert!(c.statistics().is_none(), "{name}: statistics");
            }
            // `practitioner` is PLAIN text compressed by Snappy, as the footer says.
            if name == "practitioner" {
                let mut e: Vec<Encoding> = c.encodings().collect();
                e.sort_by_key(|e| *e as i32);
                assert_eq!(e, [Encoding::PLAIN, Encoding::RLE], "{name}");
                assert_eq!(c.compression(), Compression::SNAPPY, "{name}");
                assert!(c.dictionary_page_offset().is_none(), "{name}: a dictionary");
                assert!(c.statistics().is_none(), "{name}: statistics");
            }
        }
    }
}

/// The columns written PLAIN or as position deltas (nearly one value a row), and `practitioner`
/// (PLAIN + Snappy: its dictionary was larger and slower, formats/parquet.md).
const PLAIN: [&str; 5] = [
    "claim",
    "input_line",
    "byte_offset",
    "beneficiary_hash",
    "practitioner",
];

/// The amounts that take a new value on most rows: `DELTA_BINARY_PACKED` rather than a dictionary
/// (formats/parquet.md).
const DELTA_AMOUNTS: [&str; 9] = [
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

/// The values of a PLAIN-encoded dictionary page, as bytes.
fn plain_values(buf: &[u8], t: PhysicalType) -> Vec<&[u8]> {
    match t {
        PhysicalType::INT32 => buf.chunks(4).collect(),
        PhysicalType::INT64 => buf.chunks(8).collect(),
        PhysicalType::BYTE_ARRAY => {
            let mut v = Vec::new();
            let mut rest = buf;
            while !rest.is_empty() {
                let n = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
                v.push(&rest[4..4 + n]);
                rest = &rest[4 + n..];
            }
            v
        }
        t => panic!("physical type {t}"),
    }
}

/// The file's bytes do not depend on the window size (architecture invariant) nor on the thread
/// count: every chunk's pages are cut at rows of the row group, not where a window ends (until
/// PARQUET8 a 64 KiB window gave other pages to `claim`, `input_line`, `byte_offset` and
/// `beneficiary_hash`, then written by parquet-rs from arrays cut at the windows' ends).
#[test]
fn the_parquet_file_is_byte_identical_for_any_window_size_and_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    // About 26 000 rows: more than the 20 000 rows after which parquet-rs closes a page (at the end
    // of the array that reaches them), in one window of the default size and in about 70 of 64 KiB.
    let (claims, refs, header, key) = day(tmp.path(), 15_000, 5, false);
    let file = |name: &str, threads: usize, window: usize| {
        let out = tmp.path().join(name);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            engine::run_with(
                &claims,
                &refs,
                &out,
                true,
                &Options {
                    window,
                    ..Default::default()
                },
                |dir| {
                    Ok(vec![
                        Box::new(ParquetSink::create(dir, key.clone())?.with_batch(&header))
                            as Box<dyn Sink>,
                    ])
                },
            )
        })
        .unwrap();
        std::fs::read(out.join(PARQUET_FILE)).unwrap()
    };
    let whole = file("whole", 1, engine::WINDOW);
    let small = file("small", 2, 64 * 1024);
    let odd = file("odd", 2, 100_000);
    assert!(whole.len() > 1_000_000, "{} bytes", whole.len());
    assert!(whole == small, "64 KiB windows changed the file");
    assert!(whole == odd, "100 000-byte windows changed the file");
}

/// A sink that lends its windows to a Parquet sink and keeps what it reports as held, at the
/// windows' end and once finished (the writer thread joined).
struct Held<'h> {
    inner: ParquetSink,
    held: &'h mut (usize, usize),
}

impl Sink for Held<'_> {
    fn window(&mut self, events: &[Event<'_>]) -> Result<(), SinkError> {
        self.inner.window(events)
    }
    fn finish(&mut self, batch: &BatchInfo) -> Result<(), SinkError> {
        self.held.0 = self.inner.held_bytes();
        let r = self.inner.finish(batch);
        self.held.1 = self.inner.held_bytes();
        r
    }
}

/// `ParquetSink::held_bytes` counts its row group's encoders: for two row groups, at least the
/// definition levels (1 byte) and dictionary indices (4 bytes) of a full row group of the 42
/// dictionary columns, and not more than a few sets of them. Once the writer thread has closed
/// the row groups, its buffer pool (the chunks' and pages' buffers it keeps, review of stop 30: it
/// was not counted; `pool` pins the count) is in as well: no less than at the windows' end, the
/// whole still within the bound.
#[test]
fn the_parquet_sink_reports_the_encoders_it_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let (claims, refs, header, key) = day(tmp.path(), 40_000, 3, false);
    let mut held = (0, 0);
    engine::run_with(
        &claims,
        &refs,
        &tmp.path().join("out"),
        true,
        &Options::default(),
        |dir| {
            Ok(vec![Box::new(Held {
                inner: ParquetSink::create(dir, key.clone())?.with_batch(&header),
                held: &mut held,
            }) as Box<dyn Sink>])
        },
    )
    .unwrap();
    let row_group = 42 * 65_536 * 5;
    let (windows, finished) = held;
    assert!(windows >= row_group, "{windows} bytes");
    assert!(
        finished >= windows,
        "{finished} bytes, {windows} at the windows' end"
    );
    assert!(finished <= 8 * row_group, "{finished} bytes");
}
