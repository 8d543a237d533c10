//! The store's large writes sent to the disk without the page cache (`O_DIRECT`).
//!
//! Since layout 6 (LEDGER19) the store holds no large value: the chunks this was written for are in
//! files of their own (`chunks`, written with `O_DIRECT` by `WriteBack::direct_large`), and a
//! night's writes into `ledger.redb` are all small pages, which take redb's own path below. The
//! backend stays for what a ledger still writes large (none on a night; a layout-5 ledger's
//! upgrade only reads its chunks), and the figures below are those of layout 5.
//!
//! Why: a national night's commit writes ≈ 340 MB into `ledger.redb` (the night's claim and act
//! segments and its before-images, in 4 MiB chunks: `segments::CHUNK_BYTES`), and through the page
//! cache each byte is copied into a page the kernel must first find: on this machine, a virtual
//! machine whose free memory goes back to its host, a page not used for a while costs a host fault
//! when first written (`output::writeback`'s module doc; `dd` of 256 MiB through the page cache:
//! 0.47 s of wall, 0.25 s of system time, against 0.19 s and none with `oflag=direct`). perf of
//! national night 2 (issue #14): `copy_folio_from_iter_atomic` +390 samples at 499 Hz over the run
//! without the ledger — ≈ 0.8 s of CPU — most of it these writes.
//!
//! What reads them back, now from the disk, not the page cache: redb's commit itself, which
//! reads each 4 MiB chunk evicted from its write buffer back to checksum it and writes it a
//! second time (formats/ledger.md, "Chunk size": 92 writes and 89 reads of 4 MiB on national
//! night 2; test `redb_writes_every_chunk_of_a_commit_twice`); and the next night's reader
//! (`load_index`), once — a night run right after the one before (a benchmark's series; not a
//! production night, a day later) now reads them from the disk too. REVIEW18, national night 1
//! then 2 (`main` at e2a8c5e, load 9–10, one run each): 8 of the 136 MiB of `ledger.redb` in the
//! page cache after night 1; the next night's claims and acts loaded beside the parse in 1.26 s
//! and 1.02 s from that file, against 0.77 s and 0.34 s from a copy read into the cache first,
//! the parse waiting for them 0.000 s in both.
//!
//! How: [`DirectBackend`] is redb's own [`FileBackend`] (reads, length, locks, `fsync`: all its),
//! plus a second descriptor of the same file opened with `O_DIRECT`. A write whose offset and length
//! are whole 4 KiB pages and which is at least [`MIN_DIRECT`] bytes long (redb's writes of a page
//! region: the 4 MiB chunks) is copied into a page-aligned buffer and written through that
//! descriptor; every other write (the header, the small B-tree pages) goes through the page cache
//! as before. Linux keeps the two coherent: a direct write first writes back and drops the cached
//! pages of its range, and a later buffered read of the range reads what it wrote.
//! Durability is unchanged: redb's `sync_data` (`fdatasync` of the file, whichever descriptor wrote
//! its blocks) still decides what a crash leaves (formats/ledger.md, "All or nothing"). Why
//! "whichever": `fdatasync` acts on the file (the inode), not on a descriptor; a direct write has
//! reached the device (perhaps only its volatile cache) when it returns, and ext4's `fdatasync`
//! then commits the journal if the write changed what reading the data needs (blocks allocated
//! into a hole `set_len` left, as unwritten extents made written when the write completes) and
//! flushes the device's cache even when there is nothing to commit (`ext4_sync_file`'s
//! `needs_barrier`). redb's commit asks no order of its writes beyond that `fdatasync` (its default
//! one-phase commit writes the pages and the header, then syncs once: a crash that leaves the new
//! header without its pages is caught by the B-trees' checksums, and the commit before is used),
//! so a page written direct, which only reaches the device sooner, changes nothing of it. A
//! filesystem that refuses `O_DIRECT` (at `fcntl`, or at a write: `EINVAL`) gets every write
//! through the page cache from there on.
//!
//! Architecture invariant: the file's bytes do not depend on this backend; only the path they take
//! to the disk does.

use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};
use std::fs::File;
use std::ops::Bound;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The shortest write sent around the page cache: shorter ones are redb's header and B-tree
/// pages, few and read again soon (by the same commit, or the next transaction).
pub const MIN_DIRECT: usize = 64 << 10;

/// The page-aligned buffer's size: the largest write copied and written at once (a stored chunk's
/// 4 MiB page, `segments::CHUNK_BYTES` rounded up). Longer writes go a buffer at a time.
const BUF_BYTES: usize = 4 << 20;

/// A page: `O_DIRECT` needs the memory, the length and the offset aligned to the device's logical
/// block (512 bytes here); a page covers every block size up to it.
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(4096))]
struct Page([u8; 4096]);

const PAGE: usize = std::mem::size_of::<Page>();

/// redb's file backend, with its large aligned writes sent around the page cache (module doc).
#[derive(Debug)]
pub struct DirectBackend {
    inner: FileBackend,
    /// The same file, opened again with `O_DIRECT` (`None`: refused, or not opened).
    direct: Option<File>,
    /// `O_DIRECT` was refused at a write: every write goes through `inner` from then on.
    refused: AtomicBool,
    /// The aligned copy of a write (allocated at the first direct write; redb writes from one
    /// thread at a time, the lock only makes it so).
    buf: Mutex<Vec<Page>>,
    /// Writes made around the page cache (the tests read it, also once the backend is redb's).
    direct_writes: std::sync::Arc<AtomicU64>,
    /// Tests: the offset of a part whose direct write is refused, `EINVAL`, as a filesystem may
    /// refuse one (`u64::MAX`: none) — no filesystem at hand refuses a write it took `O_DIRECT` for.
    #[cfg(test)]
    refuse_at: AtomicU64,
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Page")
    }
}

impl DirectBackend {
    /// The store's file at `path`, opened (created if missing) as `redb::Builder::create` opens it,
    /// and a second descriptor of it with `O_DIRECT` if the filesystem takes it.
    pub fn open(path: &std::path::Path) -> Result<DirectBackend, redb::DatabaseError> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let direct = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .ok()
            .filter(|f| {
                rustix::fs::fcntl_getfl(f)
                    .and_then(|fl| rustix::fs::fcntl_setfl(f, fl | rustix::fs::OFlags::DIRECT))
                    .is_ok()
            });
        Ok(DirectBackend {
            inner: FileBackend::new(file)?,
            direct,
            refused: AtomicBool::new(false),
            buf: Mutex::new(Vec::new()),
            direct_writes: std::sync::Arc::new(AtomicU64::new(0)),
            #[cfg(test)]
            refuse_at: AtomicU64::new(u64::MAX),
        })
    }

    /// Whether writes may go around the page cache (test: the filesystem took `O_DIRECT`).
    pub fn is_direct(&self) -> bool {
        self.direct.is_some() && !self.refused.load(Ordering::Relaxed)
    }

    /// Writes `data` at `offset` through the `O_DIRECT` descriptor, a buffer at a time. `Ok(false)`:
    /// not done (not aligned, too short, no such descriptor, or `O_DIRECT` refused now): the caller
    /// writes it through the page cache. A write refused part-way is safe to redo whole that way.
    fn write_direct(&self, offset: u64, data: &[u8]) -> std::io::Result<bool> {
        let Some(f) = &self.direct else {
            return Ok(false);
        };
        if data.len() < MIN_DIRECT
            || !data.len().is_multiple_of(PAGE)
            || !offset.is_multiple_of(PAGE as u64)
            || self.refused.load(Ordering::Relaxed)
        {
            return Ok(false);
        }
        let mut buf = self
            .buf
            .lock()
            .map_err(|_| std::io::Error::other("ledger: direct write buffer poisoned"))?;
        if buf.is_empty() {
            *buf = bytemuck::zeroed_vec(BUF_BYTES / PAGE);
        }
        let mut at = offset;
        for part in data.chunks(BUF_BYTES) {
            let pages = &mut buf[..part.len() / PAGE];
            for (p, src) in pages.iter_mut().zip(part.chunks_exact(PAGE)) {
                p.0.copy_from_slice(src);
            }
            let bytes: &[u8] = bytemuck::cast_slice(pages);
            #[cfg(test)]
            let wrote = if self.refuse_at.load(Ordering::Relaxed) == at {
                Err(std::io::Error::from_raw_os_error(
                    rustix::io::Errno::INVAL.raw_os_error(),
                ))
            } else {
                f.write_all_at(bytes, at)
            };
            #[cfg(not(test))]
            let wrote = f.write_all_at(bytes, at);
            match wrote {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {
                    self.refused.store(true, Ordering::Relaxed);
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
            at += part.len() as u64;
        }
        self.direct_writes.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }
}

impl StorageBackend for DirectBackend {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        if self.write_direct(offset, data)? {
            Ok(())
        } else {
            self.inner.write(offset, data)
        }
    }

    fn close(&self) -> Result<(), std::io::Error> {
        self.inner.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::{ReadableDatabase, TableDefinition};

    const T: TableDefinition<u32, &[u8]> = TableDefinition::new("t");

    fn bytes(n: usize, seed: u8) -> Vec<u8> {
        (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
    }

    /// What the module doc promises: a store written through the backend — its large values around
    /// the page cache, the rest through it — is the same file redb's own backend reads, value for
    /// value; and on a filesystem that takes `O_DIRECT` (the test machines' ext4) the large writes
    /// did go direct.
    #[test]
    fn a_store_written_around_the_page_cache_reads_back_whole_through_redbs_own_backend() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("ledger.redb");
        let big = bytes(5 << 20, 7);
        let small = bytes(300, 9);
        let direct = {
            let b = DirectBackend::open(&path).unwrap();
            let on = b.is_direct();
            let writes = b.direct_writes.clone();
            let db = redb::Database::builder()
                .set_cache_size(8 << 20)
                .create_with_backend(b)
                .unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut t = txn.open_table(T).unwrap();
                t.insert(1, big.as_slice()).unwrap();
                t.insert(2, small.as_slice()).unwrap();
            }
            txn.commit().unwrap();
            drop(db);
            if on {
                assert!(
                    writes.load(Ordering::Relaxed) >= 1,
                    "the 5 MiB value went through the page cache"
                );
            }
            on
        };
        let db = redb::Database::builder().open(&path).unwrap();
        let r = db.begin_read().unwrap();
        let t = r.open_table(T).unwrap();
        assert_eq!(t.get(1).unwrap().unwrap().value(), big.as_slice());
        assert_eq!(t.get(2).unwrap().unwrap().value(), small.as_slice());
        if !direct {
            eprintln!(
                "the temporary directory's filesystem refuses O_DIRECT: only the bytes were checked"
            );
        }
    }

    /// Which writes go around the page cache: whole pages at a page offset, at least
    /// [`MIN_DIRECT`] bytes, longer than the buffer in several parts; the others (redb's header,
    /// a B-tree page, anything unaligned) through the page cache, and all give the same file; a
    /// refusal of `O_DIRECT` at a write's second part has the write redone whole through the
    /// page cache (its first part's bytes, written direct, are overwritten with the same), and
    /// sends every later write through the page cache.
    #[test]
    fn only_long_page_aligned_writes_go_direct_and_every_write_lands_where_it_was_sent() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        let b = DirectBackend::open(&path).unwrap();
        if !b.is_direct() {
            eprintln!("the temporary directory's filesystem refuses O_DIRECT: nothing to check");
            return;
        }
        let mut want = vec![0u8; (BUF_BYTES + (1 << 20)) * 2];
        b.set_len(want.len() as u64).unwrap();
        let mut put = |b: &DirectBackend, at: usize, data: Vec<u8>| {
            b.write(at as u64, &data).unwrap();
            want[at..at + data.len()].copy_from_slice(&data);
        };
        let direct = |b: &DirectBackend| b.direct_writes.load(Ordering::Relaxed);
        // Longer than the buffer: one direct write in two parts.
        put(&b, 0, bytes(BUF_BYTES + (1 << 20), 1));
        assert_eq!(direct(&b), 1);
        put(&b, 8 * PAGE, bytes(MIN_DIRECT, 2));
        assert_eq!(direct(&b), 2);
        // Too short, not whole pages, not at a page offset: through the page cache.
        put(&b, 0, bytes(320, 3));
        put(&b, 16 * PAGE, bytes(MIN_DIRECT - PAGE, 4));
        put(&b, 40 * PAGE, bytes(MIN_DIRECT + 1, 5));
        put(&b, 80 * PAGE + 512, bytes(MIN_DIRECT, 6));
        assert_eq!(direct(&b), 2);
        // A page just written through the page cache, then overwritten direct, reads back new.
        put(&b, 0, bytes(MIN_DIRECT, 7));
        assert_eq!(direct(&b), 3);
        // Refused at its second part, the first written direct: the write is redone whole
        // through the page cache, and every later one goes that way.
        b.refuse_at.store(BUF_BYTES as u64, Ordering::Relaxed);
        put(&b, 0, bytes(BUF_BYTES + (1 << 20), 9));
        assert_eq!(direct(&b), 3, "refused part-way: through the page cache");
        assert!(!b.is_direct());
        put(&b, BUF_BYTES, bytes(MIN_DIRECT, 8));
        assert_eq!(direct(&b), 3, "refused: through the page cache");
        b.sync_data().unwrap();
        let mut got = vec![0u8; want.len()];
        b.read(0, &mut got).unwrap();
        assert!(got == want, "read back through the backend");
        assert!(
            std::fs::read(&path).unwrap() == want,
            "read back from the file"
        );
    }
}
