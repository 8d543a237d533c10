//! Layout 6: the night's claim and act segments and its before-images in **files of their own**
//! beside the store, written once; the store keeps only their directory (formats/ledger.md,
//! "Segment and undo files").
//!
//! Why: stored as 4 MiB redb values (layouts 2–5), every chunk was written twice and read back once
//! by redb's commit (`finalize_dirty_checksums` takes each leaf it wrote back to checksum it:
//! formats/ledger.md, "Chunk size"), 92 writes and 89 reads of 4 MiB on national night 2 for ≈ 26
//! segment chunks and the before-images. Written here, a chunk is written once, sequentially, with
//! `O_DIRECT` (`WriteBack::direct_large`), and read once, by the next night's index load.
//!
//! How: a night's claim and act chunks go into one file, `segments.SEQ.N.dat`, and its before-image
//! chunks into another, `undo.SEQ.N.dat` (`SEQ` the night, `N` a file number the ledger never gives
//! twice to a committed file: `meta.files_next`). Each chunk is the bytes the redb value held (the
//! same records, the same cuts), one after the other, no header. The transaction that names a file
//! is committed only once the file and its directory are `fsync`ed ([`ChunkWriter::finish`]); it
//! records each chunk's place in the table `chunks` — (kind 0 claims / 1 acts / 2 undo, night,
//! chunk) → (file number, offset, length, xxh3-64 of its bytes) — and each file in `files` — file
//! number → (0 segments / 1 undo, night, length). A file that no committed `files` entry names is
//! what a commit that did not complete (or a rolled-back night) left, or what a later commit
//! replaced (a reprocess, the purge): removed at the next open once a pending night is resolved,
//! and by each finished night ([`is_ours`]). A named file missing, of another length, or a chunk
//! whose bytes do not give its checksum, is corrupt (exit 11).
//!
//! Architecture invariant: a file is written once, under a number of its own, and never modified;
//! it goes only once no committed directory names it.

use crate::LedgerError;
use liquidator_core::output::writeback::WriteBack;
use redb::{ReadableTable, TableDefinition};
use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// A [`CHUNKS`] key: (kind, night, chunk).
pub type ChunkKey = (u8, u32, u32);
/// A [`CHUNKS`] value: (file number, offset, length, xxh3-64) — [`ChunkRef::value`].
pub type ChunkValue = (u64, u64, u64, u64);
/// A [`FILES`] value: (what, night, length).
pub type FileValue = (u8, u32, u64);
/// A chunk written: (kind, chunk, where, (oldest date, latest date, records) of a segment chunk).
pub type ChunkWritten = (u8, u32, ChunkRef, Option<(u32, u32, u32)>);
/// The `files` table as a read transaction opens it.
pub type FilesTable = redb::ReadOnlyTable<u64, FileValue>;

/// (kind: [`crate::segments::Kind`] as u8, or [`UNDO`]; night; chunk) → (file number, offset,
/// length, xxh3-64 of the chunk's bytes).
pub const CHUNKS: TableDefinition<ChunkKey, ChunkValue> = TableDefinition::new("chunks");
/// file number → (what: [`SEGMENTS`] or [`UNDO_FILE`], night, length in bytes).
pub const FILES: TableDefinition<u64, FileValue> = TableDefinition::new("files");

/// The kind of a before-image chunk in [`CHUNKS`] (claims and acts: `Kind as u8`, 0 and 1).
pub const UNDO: u8 = 2;
/// What a file holds ([`FILES`]): a night's claim and act chunks, or its before-image chunks.
pub const SEGMENTS: u8 = 0;
pub const UNDO_FILE: u8 = 1;

/// Where a chunk lies: file number, offset, length, xxh3-64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkRef {
    pub file: u64,
    pub off: u64,
    pub len: u64,
    pub sum: u64,
}

impl ChunkRef {
    pub fn value(self) -> (u64, u64, u64, u64) {
        (self.file, self.off, self.len, self.sum)
    }
    pub fn from_value(v: (u64, u64, u64, u64)) -> ChunkRef {
        ChunkRef {
            file: v.0,
            off: v.1,
            len: v.2,
            sum: v.3,
        }
    }
}

/// The name of file `number` holding `what` of night `seq`.
pub fn file_name(what: u8, seq: u32, number: u64) -> String {
    let prefix = if what == UNDO_FILE {
        "undo"
    } else {
        "segments"
    };
    format!("{prefix}.{seq}.{number}.dat")
}

/// (what, night, number) of a name [`file_name`] writes, if it is one (decimal digits without a
/// sign or a leading zero: as `images::file_gen`); another name is not ours, left alone.
pub fn is_ours(name: &str) -> Option<(u8, u32, u64)> {
    let (what, rest) = if let Some(r) = name.strip_prefix("segments.") {
        (SEGMENTS, r)
    } else {
        (UNDO_FILE, name.strip_prefix("undo.")?)
    };
    let rest = rest.strip_suffix(".dat")?;
    let (seq, number) = rest.split_once('.')?;
    let canonical = |d: &str| {
        !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) && (d == "0" || !d.starts_with('0'))
    };
    if !canonical(seq) || !canonical(number) {
        return None;
    }
    Some((what, seq.parse().ok()?, number.parse().ok()?))
}

/// A file being written: chunks appended in order, `O_DIRECT` where the filesystem takes it.
pub struct ChunkWriter {
    path: PathBuf,
    out: WriteBack,
    number: u64,
    what: u8,
    seq: u32,
    at: u64,
}

/// A file written and made durable, with its chunks: what the transaction records.
#[derive(Debug, Default)]
pub struct Written {
    /// (file number, what, night, length); `None`: no chunk, no file.
    pub file: Option<(u64, u8, u32, u64)>,
    /// (kind, chunk, where, (oldest date, latest date, records) for a segment chunk).
    pub chunks: Vec<ChunkWritten>,
}

impl ChunkWriter {
    /// A new file `number` in `dir` (replacing one of that name: what a commit that did not
    /// complete left, named by no committed directory — nothing maps or reads it).
    pub fn create(dir: &Path, what: u8, seq: u32, number: u64) -> Result<ChunkWriter, LedgerError> {
        let path = dir.join(file_name(what, seq, number));
        // `0640`, as the store and the state images: the records are keyed by the NIR.
        let f = liquidator_core::output::files::create_private(&path)
            .map_err(|e| LedgerError::Io(path.clone(), e))?;
        Ok(ChunkWriter {
            path,
            out: WriteBack::direct_large(f),
            number,
            what,
            seq,
            at: 0,
        })
    }

    /// Appends one chunk; returns where it lies.
    pub fn push(&mut self, bytes: &[u8]) -> Result<ChunkRef, LedgerError> {
        use std::io::Write;
        self.out
            .write_all(bytes)
            .map_err(|e| LedgerError::Io(self.path.clone(), e))?;
        let r = ChunkRef {
            file: self.number,
            off: self.at,
            len: bytes.len() as u64,
            sum: crate::xxh3::xxh3_64(bytes),
        };
        self.at += bytes.len() as u64;
        Ok(r)
    }

    /// Writes what is left, then `fsync`s the file and its directory: durable once it returns, to
    /// be named by the transaction. Returns (number, what, night, length).
    pub fn finish(mut self) -> Result<(u64, u8, u32, u64), LedgerError> {
        self.out
            .finish()
            .map_err(|e| LedgerError::Io(self.path.clone(), e))?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| LedgerError::Io(dir.to_path_buf(), e))?;
        }
        Ok((self.number, self.what, self.seq, self.at))
    }
}

/// The files a read transaction names, opened as their chunks are read, each checked against its
/// recorded length. One is open at a time: the chunks are read in (night, chunk) order, file after
/// file, and a ledger of 27 months names ≈ 800 segments files (a descriptor each, kept, would pass
/// the usual limit of 1 024 with the claims' and acts' loads side by side).
pub struct ChunkFiles {
    dir: PathBuf,
    files: HashMap<u64, FileValue>,
    open: Option<(u64, std::fs::File)>,
}

fn corrupt(what: String) -> LedgerError {
    LedgerError::Corrupt(format!(
        "{what} (formats/ledger.md, \"Segment and undo files\")"
    ))
}

impl ChunkFiles {
    /// The files `t` names (`None`: a ledger of an older layout, with no such table).
    pub fn load(
        t: Option<&impl ReadableTable<u64, FileValue>>,
        dir: &Path,
    ) -> Result<ChunkFiles, LedgerError> {
        let mut files = HashMap::new();
        if let Some(t) = t {
            for e in t.iter().map_err(crate::st)? {
                let (k, v) = e.map_err(crate::st)?;
                files.insert(k.value(), v.value());
            }
        }
        Ok(ChunkFiles {
            dir: dir.to_path_buf(),
            files,
            open: None,
        })
    }

    /// The file numbers named.
    pub fn named(&self) -> impl Iterator<Item = (u64, FileValue)> + '_ {
        self.files.iter().map(|(k, v)| (*k, *v))
    }

    /// Bytes of every file named holding `what`.
    pub fn bytes(&self, what: Option<u8>) -> u64 {
        self.files
            .values()
            .filter(|v| what.is_none_or(|w| v.0 == w))
            .map(|v| v.2)
            .sum()
    }

    /// Checks every file named holding `what`: there, of its recorded length. Returns the bytes
    /// they hold, for real (what bounds the records a directory may claim).
    pub fn check_all(&self, what: u8) -> Result<u64, LedgerError> {
        let mut total = 0u64;
        for (&number, &(w, seq, len)) in &self.files {
            if w == what {
                let path = self.dir.join(file_name(w, seq, number));
                Self::check(&path, std::fs::metadata(&path), len)?;
                total = total.saturating_add(len);
            }
        }
        Ok(total)
    }

    /// A file's metadata `m` against its recorded length.
    fn check(
        path: &Path,
        m: std::io::Result<std::fs::Metadata>,
        len: u64,
    ) -> Result<(), LedgerError> {
        let on_disk = match m {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(corrupt(format!("{}: missing", path.display())));
            }
            Err(e) => return Err(LedgerError::Io(path.to_path_buf(), e)),
        };
        if on_disk != len {
            return Err(corrupt(format!(
                "{}: {on_disk} bytes, the ledger recorded {len}",
                path.display()
            )));
        }
        Ok(())
    }

    fn file(&mut self, number: u64) -> Result<(&std::fs::File, u64), LedgerError> {
        let &(what, seq, len) = self.files.get(&number).ok_or_else(|| {
            corrupt(format!(
                "a chunk in file {number}, which no file entry names"
            ))
        })?;
        if self.open.as_ref().is_none_or(|o| o.0 != number) {
            self.open = None;
            let path = self.dir.join(file_name(what, seq, number));
            let f = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(corrupt(format!("{}: missing", path.display())));
                }
                Err(e) => return Err(LedgerError::Io(path, e)),
            };
            Self::check(&path, f.metadata(), len)?;
            self.open = Some((number, f));
        }
        match &self.open {
            Some((_, f)) => Ok((f, len)),
            None => Err(corrupt(format!("file {number} not open"))),
        }
    }

    /// Reads chunk `c` into `buf` and checks it against its checksum.
    pub fn read<'b>(&mut self, c: ChunkRef, buf: &'b mut Vec<u8>) -> Result<&'b [u8], LedgerError> {
        let path = self.files.get(&c.file).map_or_else(
            || self.dir.clone(),
            |&(w, s, _)| self.dir.join(file_name(w, s, c.file)),
        );
        let (f, len) = self.file(c.file)?;
        let end = c
            .off
            .checked_add(c.len)
            .filter(|&e| e <= len)
            .ok_or_else(|| {
                corrupt(format!(
                    "a chunk at {}+{} of file {} ({len} bytes)",
                    c.off, c.len, c.file
                ))
            })?;
        let n = usize::try_from(end - c.off).map_err(|_| corrupt("a chunk too long".into()))?;
        buf.clear();
        buf.resize(n, 0);
        // A file shorter than its recorded length (it shrank after the check) is corrupt, as a
        // missing or longer one is; another read error is the disk's (exit 5), naming the file.
        f.read_exact_at(buf, c.off).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                corrupt(format!("{}: shorter than recorded", path.display()))
            } else {
                LedgerError::Io(path.clone(), e)
            }
        })?;
        if crate::xxh3::xxh3_64(buf) != c.sum {
            return Err(corrupt(format!(
                "a chunk at {} of file {}: checksum mismatch",
                c.off, c.file
            )));
        }
        Ok(buf.as_slice())
    }
}

/// The chunks of `kind` of nights `seqs` in `t`, in (night, chunk) order.
#[allow(clippy::type_complexity)]
pub fn list(
    t: &impl ReadableTable<ChunkKey, ChunkValue>,
    kind: u8,
    seqs: std::ops::RangeInclusive<u32>,
) -> Result<Vec<((u32, u32), ChunkRef)>, LedgerError> {
    let mut v = Vec::new();
    for e in t
        .range((kind, *seqs.start(), 0)..=(kind, *seqs.end(), u32::MAX))
        .map_err(crate::st)?
    {
        let (k, c) = e.map_err(crate::st)?;
        let (_, seq, chunk) = k.value();
        v.push(((seq, chunk), ChunkRef::from_value(c.value())));
    }
    Ok(v)
}
