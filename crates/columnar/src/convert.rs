//! `liquidator convert --claims FILE --out DIR`: a B2 claims file as Parquet in the claims layout
//! (`formats/claims-arrow.md`), bucketed by a hash of the beneficiary.
//!
//! The file is read by the engine's own reader (windows, parser, framing, duplicate bookkeeping:
//! `liquidator_core::session::read_file`) — no reference set is needed — and a batch the engine
//! would refuse (exit 4) is refused here too: the output is written in a staging directory renamed
//! into place only on success.

use crate::layout::{self, ClaimsBuilder, beneficiary_key};
use liquidator_core::claims::reader::Chunk;
use liquidator_core::claims::record::BatchHeader;
use liquidator_core::engine::{self, RunError, WINDOW};
use liquidator_core::output::files::{Staging, create_private, write_json};
use liquidator_core::sink::SinkError;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use serde::Serialize;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Buckets when `--buckets` is not given.
pub const DEFAULT_BUCKETS: u32 = 16;
/// Rows per record batch and row group of the claims files.
const BATCH_ROWS: usize = 64 * 1024;
/// The manifest of a conversion (ignored by Spark and pyarrow dataset readers: leading `_`).
pub const MANIFEST: &str = "_convert.json";
/// How a row's bucket is computed (written in the manifest; `formats/claims-arrow.md`).
pub const BUCKET_HASH: &str = "bucket = xxh3_64(beneficiary_key as 8 little-endian bytes, seed 0) mod buckets; rows without beneficiary_key (unreadable claim header, records outside claims) in bucket 0";

/// The bucket of a claim with this beneficiary key (`None`: bucket 0).
pub fn bucket_of(key: Option<i64>, buckets: u32) -> u32 {
    match key {
        Some(k) => (xxhash_rust::xxh3::xxh3_64(&k.to_le_bytes()) % buckets.max(1) as u64) as u32,
        None => 0,
    }
}

/// Relative path of a bucket's file: a Hive-style directory, so Spark and pyarrow read `bucket`.
pub fn bucket_path(b: u32) -> String {
    format!("bucket={b:03}/claims.parquet")
}

/// What `_convert.json` says: the batch, its control totals as read, where the rows went.
#[derive(Clone, Debug, Serialize)]
pub struct Manifest {
    pub layout: String,
    pub batch_number: u32,
    pub batch_date: String,
    pub buckets: u32,
    pub bucket_hash: String,
    /// Claim headers read (the trailer's count).
    pub claims: u64,
    /// Act records read, in claims or not (the trailer's count).
    pub act_records: u64,
    /// Sum of the readable fees of every act record (the trailer's total), in cents.
    pub billed_cents: i64,
    pub orphan_records: u64,
    pub rows: u64,
    pub files: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("{0}: {1}")]
    Parquet(PathBuf, String),
}

struct Bucket {
    path: PathBuf,
    /// The file writer takes column chunks encoded by the export's own encoders
    /// ([`ClaimsBuilder::for_parquet`]): no per-value code of parquet-rs runs (issue #11: `parquet`
    /// is compiled at opt-level 0).
    writer: SerializedFileWriter<File>,
    rows: ClaimsBuilder,
}

struct Buckets {
    dir: PathBuf,
    n: u32,
    open: Vec<Option<Bucket>>,
    rows: u64,
    orphans: u64,
}

impl Buckets {
    fn get(&mut self, b: u32) -> Result<&mut Bucket, SinkError> {
        let slot = &mut self.open[b as usize];
        if slot.is_none() {
            let path = self.dir.join(bucket_path(b));
            if let Some(d) = path.parent() {
                mkdir(d).map_err(|e| SinkError::Io(d.to_path_buf(), e))?;
            }
            let file = create_private(&path).map_err(|e| SinkError::Io(path.clone(), e))?;
            let props = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_max_row_group_row_count(Some(BATCH_ROWS))
                .set_key_value_metadata(Some(vec![KeyValue::new(
                    "liquidator.layout".to_string(),
                    layout::LAYOUT.to_string(),
                )]))
                .build();
            // The Arrow writer converts the schema and stores it (`ARROW:schema`) as before; its
            // file writer then takes the chunks written by [`ClaimsBuilder::close_chunks`].
            let fail = |e: String| SinkError::Other(format!("{}: {e}", path.display()));
            let (writer, _) = ArrowWriter::try_new(file, layout::schema(), Some(props))
                .and_then(|w| w.into_serialized_writer())
                .map_err(|e| fail(e.to_string()))?;
            // Buffers grown as the bucket fills, not reserved for a full row group: 16 buckets of
            // 50 columns reserved for 65 536 rows populated ≈ 600 MiB more on the 1 M day (peak
            // RSS 0.96 -> 1.57 GB, twice the system time).
            let rows =
                ClaimsBuilder::for_parquet(writer.schema_descr().columns(), 1024).map_err(fail)?;
            *slot = Some(Bucket { path, writer, rows });
        }
        slot.as_mut()
            .ok_or_else(|| SinkError::Other("bucket not open".into()))
    }

    fn after_push(&mut self, b: u32, force: bool) -> Result<(), SinkError> {
        let bk = self.get(b)?;
        if bk.rows.rows() >= BATCH_ROWS || (force && bk.rows.rows() > 0) {
            let fail = |e: String| SinkError::Other(format!("{}: {e}", bk.path.display()));
            let chunks = bk.rows.close_chunks().map_err(fail)?;
            let mut rg = bk
                .writer
                .next_row_group()
                .map_err(|e| fail(e.to_string()))?;
            for (bytes, close) in chunks {
                rg.append_column(&bytes, close)
                    .map_err(|e| fail(e.to_string()))?;
            }
            let done = rg.close().map_err(|e| fail(e.to_string()))?;
            self.rows += done.num_rows() as u64;
        }
        Ok(())
    }

    /// Routes a window's claims and orphans, in file order, to their buckets.
    fn window(&mut self, h: &BatchHeader, chunks: &[Chunk], dup: &[bool]) -> Result<(), SinkError> {
        let mut k = 0usize;
        for ch in chunks {
            let mut orphans = ch.orphans.iter().peekable();
            for (j, c) in ch.claims.iter().enumerate() {
                while let Some(o) = orphans.next_if(|o| o.pos.offset < c.pos.offset) {
                    self.get(0)?.rows.push_orphan(h, o);
                    self.after_push(0, false)?;
                }
                let b = bucket_of(beneficiary_key(c.header.as_ref()), self.n);
                let d = dup.get(k).copied().unwrap_or(false);
                self.get(b)?.rows.push_claim(h, ch, j, d);
                self.after_push(b, false)?;
                k += 1;
            }
            self.orphans += ch.orphans.len() as u64;
            for o in orphans {
                self.get(0)?.rows.push_orphan(h, o);
                self.after_push(0, false)?;
            }
        }
        Ok(())
    }

    fn close(mut self) -> Result<(Vec<String>, u64), SinkError> {
        let mut files = Vec::new();
        for b in 0..self.n {
            if self.open[b as usize].is_none() {
                continue;
            }
            self.after_push(b, true)?;
            if let Some(bk) = self.open[b as usize].take() {
                let f = bk
                    .writer
                    .into_inner()
                    .map_err(|e| SinkError::Other(format!("{}: {e}", bk.path.display())))?;
                f.sync_all()
                    .map_err(|e| SinkError::Io(bk.path.clone(), e))?;
                files.push(bucket_path(b));
            }
        }
        Ok((files, self.rows))
    }
}

#[cfg(unix)]
fn mkdir(p: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(p)
}
#[cfg(not(unix))]
fn mkdir(p: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(p)
}

/// Converts `claims` into `out` (atomically; `force` replaces an existing directory).
pub fn convert(
    claims: &Path,
    out: &Path,
    buckets: u32,
    force: bool,
) -> Result<Manifest, ConvertError> {
    let data = engine::map_file(claims)?;
    let (header, _) = engine::batch_header(&data)?;
    let stage = Staging::create(out, force).map_err(RunError::from)?;
    let n = buckets.max(1);
    let mut bk = Buckets {
        dir: stage.dir.clone(),
        n,
        open: (0..n).map(|_| None).collect(),
        rows: 0,
        orphans: 0,
    };
    let info = liquidator_core::session::read_file(&data, WINDOW, |chunks, dup| {
        bk.window(&header, chunks, dup)
    })?;
    let bk_orphans = bk.orphans;
    let (files, bk_rows) = bk.close().map_err(RunError::from)?;
    let m = Manifest {
        layout: layout::LAYOUT.to_string(),
        batch_number: header.batch_no,
        batch_date: header.date.to_string(),
        buckets: n,
        bucket_hash: BUCKET_HASH.to_string(),
        claims: info.header_records,
        act_records: info.act_records,
        billed_cents: info.fee_total,
        orphan_records: bk_orphans,
        rows: bk_rows,
        files,
    };
    write_json(&stage.dir.join(MANIFEST), &m).map_err(RunError::from)?;
    stage.commit().map_err(RunError::from)?;
    Ok(m)
}
