//! Atomic output — the one way files are written: a run's files go to a private staging directory next
//! to the final one, renamed into place only when the whole run succeeded ([`Staging`]); a single file
//! (a report, an export) is written beside its final name and renamed ([`write_atomic`]). Also the TSV
//! sink ([`TsvSink`]), which writes the payment, rejection and insurer files of a run.
//!
//! Architecture invariant: no file ever exists under a final output name unless its run succeeded. A
//! failed run removes its staging directory; a killed run (SIGKILL) leaves only a hidden
//! `.NAME.partial-PID` directory, never a final name. Files are created `0640`, directories `0750`:
//! outputs carry NIRs and must not be world-readable.

use super::writeback::{DIRECT_BYTES, DirectBudget, LARGE_DIRECT_BYTES, WriteBack};
use super::{
    AMC_DIR, AMC_HEADER, OutBufs, PAYMENTS, PAYMENTS_HEADER, REJECTIONS, REJECTIONS_HEADER,
};
use crate::engine::BatchInfo;
use crate::sink::{Event, Sink, SinkError, segments};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

pub struct Staging {
    pub dir: PathBuf,
    final_dir: PathBuf,
    force: bool,
    committed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("output directory {0} already exists (use --force to replace it)")]
    Exists(PathBuf),
    #[error("{0}: {1}")]
    Io(PathBuf, io::Error),
    /// The rename succeeded — every output is complete and under its final name — but the `fsync`
    /// of the parent directory that makes the rename durable failed: a power loss before the
    /// directory reaches the disk may still lose the final name. Not "nothing written".
    #[error(
        "outputs {out} are complete and in place, but the fsync of their directory {parent} failed: {error} (a power loss before it reaches the disk could lose their name)"
    )]
    Unsynced {
        out: PathBuf,
        parent: PathBuf,
        error: io::Error,
    },
}

#[cfg(unix)]
fn mkdir_private(p: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(0o750).create(p)
}
#[cfg(not(unix))]
fn mkdir_private(p: &Path) -> io::Result<()> {
    fs::create_dir_all(p)
}

/// Creates a file readable by owner and group only.
pub fn create_private(p: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o640);
    }
    o.open(p)
}

/// Creates a new file readable by owner and group only; an existing one is an error
/// (`AlreadyExists`), left as it is.
pub fn create_private_new(p: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o640);
    }
    o.open(p)
}

impl Staging {
    pub fn create(out: &Path, force: bool) -> Result<Staging, StageError> {
        if out.exists() && !force {
            return Err(StageError::Exists(out.to_path_buf()));
        }
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "out".into());
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        mkdir_private(parent).map_err(|e| StageError::Io(parent.to_path_buf(), e))?;
        let dir = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(|e| StageError::Io(dir.clone(), e))?;
        }
        mkdir_private(&dir).map_err(|e| StageError::Io(dir.clone(), e))?;
        Ok(Staging {
            dir,
            final_dir: out.to_path_buf(),
            force,
            committed: false,
        })
    }

    /// Makes every file of the staging directory durable: each file's data, then each directory's
    /// entries, flushed to the disk (`fsync`), the files in parallel. A power loss after this leaves
    /// the files whole; [`Staging::commit`] calls it before its rename, and `run --ledger` before the
    /// ledger's commit (formats/ledger.md, "All or nothing"), so that no final name and no committed
    /// night ever points at a file the disk lost. Once done, a second call only finds clean pages.
    pub fn sync(&self) -> Result<(), StageError> {
        let mut files = Vec::new();
        let mut dirs = vec![self.dir.clone()];
        let mut k = 0;
        while let Some(d) = dirs.get(k).cloned() {
            k += 1;
            for e in fs::read_dir(&d).map_err(|e| StageError::Io(d.clone(), e))? {
                let e = e.map_err(|e| StageError::Io(d.clone(), e))?;
                let t = e.file_type().map_err(|x| StageError::Io(e.path(), x))?;
                if t.is_dir() {
                    dirs.push(e.path());
                } else if t.is_file() {
                    files.push(e.path());
                }
            }
        }
        files.sort();
        files
            .par_iter()
            .try_for_each(|f| sync_path(f).map_err(|e| StageError::Io(f.clone(), e)))?;
        // The directories after their files: an entry made durable names data already on the disk.
        dirs.iter()
            .rev()
            .try_for_each(|d| sync_path(d).map_err(|e| StageError::Io(d.clone(), e)))
    }

    /// The directory the outputs are renamed in: the final directory's parent.
    pub fn parent(&self) -> &Path {
        self.final_dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    }

    /// Moves the staging directory to its final name (replacing an old one only with `--force`),
    /// its files made durable first ([`Staging::sync`]) and the rename itself after. An error before
    /// the rename leaves no final name (the staging directory is removed on drop); only
    /// [`StageError::Unsynced`] comes after it, with the outputs in place.
    pub fn commit(mut self) -> Result<PathBuf, StageError> {
        self.sync()?;
        if self.final_dir.exists() {
            if !self.force {
                return Err(StageError::Exists(self.final_dir.clone()));
            }
            fs::remove_dir_all(&self.final_dir)
                .map_err(|e| StageError::Io(self.final_dir.clone(), e))?;
        }
        fs::rename(&self.dir, &self.final_dir)
            .map_err(|e| StageError::Io(self.final_dir.clone(), e))?;
        self.committed = true;
        // The rename is an entry of the parent directory: durable once the parent is.
        let parent = self.parent();
        sync_path(parent).map_err(|error| StageError::Unsynced {
            out: self.final_dir.clone(),
            parent: parent.to_path_buf(),
            error,
        })?;
        Ok(self.final_dir.clone())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// `fsync` of a file or a directory opened read-only (Linux flushes the inode's data either way).
fn sync_path(p: &Path) -> io::Result<()> {
    File::open(p)?.sync_all()
}

/// Writes `bytes` to `dest` atomically: a private temporary file beside it, then a rename. A reader
/// never sees a half-written file under the final name.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = partial_name(dest);
    let r = (|| {
        let mut f = create_private(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, dest)?;
        // The rename is an entry of the directory: durable once the directory is.
        match dest.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(d) => sync_path(d),
            None => sync_path(Path::new(".")),
        }
    })();
    if r.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    r
}

/// The hidden name a file is written under before its rename (`.NAME.partial-PID`).
pub fn partial_name(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "out".into());
    dest.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// Serialises `v` as pretty JSON (with a final newline) into `dest`, atomically. A serialisation
/// failure is an error, never an empty or missing file.
pub fn write_json<T: serde::Serialize>(dest: &Path, v: &T) -> Result<(), SinkError> {
    let mut json = serde_json::to_vec_pretty(v)
        .map_err(|e| SinkError::Other(format!("{}: {e}", dest.display())))?;
    json.push(b'\n');
    write_atomic(dest, &json).map_err(|e| SinkError::Io(dest.to_path_buf(), e))
}

/// The TSV sink: formats each window in parallel ([`segments`]) and hands the buffers, in order, to a
/// writer thread through a bounded `crossbeam-channel` (at most a few windows in flight), so that
/// writing overlaps the liquidation of the next window.
pub struct TsvSink {
    tx: Option<crossbeam_channel::Sender<Vec<OutBufs>>>,
    /// Buffers the writer is done with, cleared (capacity kept), for the next windows: fresh large
    /// buffers each window cost page faults and the kernel's zeroing of new pages (issue #13).
    spare: crossbeam_channel::Receiver<Vec<OutBufs>>,
    writer: Option<std::thread::JoinHandle<Result<usize, SinkError>>>,
    dir: PathBuf,
    amc_files: usize,
    /// Bytes of every set of buffers alive (being formatted, in flight, being written or kept
    /// for reuse), as allocated; the writer subtracts the sets it drops. And the most seen.
    live: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    peak: usize,
    /// Set by [`Sink::finish`]: the writer makes the files durable only after a run's last window,
    /// not when a failed run drops the sink (its staging directory is about to be deleted).
    ended: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Time the windows waited to hand their text to a full queue: the writer holding up the
    /// run's pool (`LIQUIDATOR_TIMING`, issue #13).
    waited: std::time::Duration,
    /// The writer's own buffers (its files' `O_DIRECT` buffers: `payments.tsv` and
    /// `rejections.tsv`'s, the insurers'), counted in [`Sink::held_bytes`].
    buffers: [std::sync::Arc<DirectBudget>; 2],
}

/// Windows' formatted text queued for the TSV writer at most.
const QUEUED: usize = 2;

/// Bytes a window's set of buffers holds, as allocated.
fn set_bytes(bufs: &Vec<OutBufs>) -> usize {
    bufs.capacity() * std::mem::size_of::<OutBufs>()
        + bufs.iter().map(OutBufs::bytes).sum::<usize>()
}

impl TsvSink {
    pub fn create(dir: &Path) -> Result<TsvSink, SinkError> {
        let mut w = Writer::new(dir)?;
        let buffers = [w.budget.clone(), w.amc_budget.clone()];
        // Two windows' text queued at most: the writer writes a window out (`O_DIRECT`,
        // `output::writeback`) in a fraction of the time the next one takes to liquidate, and a
        // writer held up by the disk then holds up the run instead of piling windows up in memory
        // (issue #13).
        let (tx, rx) = crossbeam_channel::bounded::<Vec<OutBufs>>(QUEUED);
        // The way back: at most as many sets of buffers as can be in flight, plus the one being
        // written and the one being formatted. A full return channel drops the buffers instead.
        let (back, spare) = crossbeam_channel::bounded::<Vec<OutBufs>>(QUEUED + 2);
        let live = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let dropped = live.clone();
        let ended = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let last_window_sent = ended.clone();
        let writer = std::thread::Builder::new()
            .name("tsv-writer".into())
            .spawn(move || -> Result<usize, SinkError> {
                // The writer's own time (`LIQUIDATOR_TIMING`): writing, and waiting for windows.
                let (mut busy, mut idle) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
                let mut at = std::time::Instant::now();
                for mut bufs in rx {
                    let got = std::time::Instant::now();
                    idle += got - at;
                    w.write(&bufs)?;
                    at = std::time::Instant::now();
                    busy += at - got;
                    bufs.iter_mut().for_each(OutBufs::clear);
                    if let Err(e) = back.try_send(bufs) {
                        let n = set_bytes(&e.into_inner());
                        dropped.fetch_sub(n, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                // The channel is closed: by `finish` after the last window, or by a drop.
                if crate::timing_on() {
                    // Its wall time writing is mostly waits for the disk (`O_DIRECT`); its time on
                    // a CPU is what it takes from the workers at 2 threads.
                    let (run, wait) = crate::thread_sched();
                    eprintln!(
                        "timing: TSV writer: windows written {:.3} s, waiting for windows {:.3} s; on a CPU {:.3} s, waiting for one {:.3} s",
                        busy.as_secs_f64(),
                        idle.as_secs_f64(),
                        run as f64 / 1e9,
                        wait as f64 / 1e9
                    );
                }
                if last_window_sent.load(std::sync::atomic::Ordering::SeqCst) {
                    w.finish()
                } else {
                    Ok(w.amc.len())
                }
            })
            .map_err(|e| SinkError::Io(dir.to_path_buf(), e))?;
        Ok(TsvSink {
            tx: Some(tx),
            spare,
            writer: Some(writer),
            dir: dir.to_path_buf(),
            amc_files: 0,
            live,
            peak: 0,
            ended,
            waited: std::time::Duration::ZERO,
            buffers,
        })
    }

    /// Waits for the writer, which flushes and makes durable every file once the last window is
    /// written (after [`Sink::finish`], which only tells it so: its `fsync`s run on its own thread
    /// beside the other sinks' end-of-run work, not on one of the run's workers). Returns the number
    /// of complementary-insurer files, or the writer's error.
    pub fn close(&mut self) -> Result<u64, SinkError> {
        self.join()?;
        Ok(self.amc_files as u64)
    }

    fn join(&mut self) -> Result<(), SinkError> {
        self.tx = None;
        if let Some(h) = self.writer.take() {
            let n = h.join().unwrap_or_else(|_| {
                Err(SinkError::Io(
                    self.dir.clone(),
                    io::Error::other("TSV writer thread panicked"),
                ))
            })?;
            self.amc_files = n;
        }
        Ok(())
    }
}

impl Sink for TsvSink {
    fn window(&mut self, events: &[Event<'_>]) -> Result<(), SinkError> {
        let segs: Vec<&[Event]> = segments(events).collect();
        // Buffers written out earlier, if the writer handed them back (their content is cleared: the
        // bytes are the same whichever buffer a segment is formatted into).
        let mut bufs = self.spare.try_recv().unwrap_or_default();
        let before = set_bytes(&bufs);
        bufs.resize_with(segs.len(), OutBufs::default);
        bufs.par_iter_mut()
            .zip(segs.par_iter())
            .for_each(|(b, seg)| {
                b.clear();
                super::format_events(b, seg);
            });
        let grown = set_bytes(&bufs).saturating_sub(before);
        let live = self
            .live
            .fetch_add(grown, std::sync::atomic::Ordering::Relaxed)
            + grown;
        self.peak = self.peak.max(live);
        let t = std::time::Instant::now();
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(bufs).is_ok());
        self.waited += t.elapsed();
        if !sent {
            // The writer stopped: its error says why.
            self.join()?;
            return Err(SinkError::Io(
                self.dir.clone(),
                io::Error::other("TSV writer stopped"),
            ));
        }
        Ok(())
    }

    /// Tells the writer that the last window is sent; [`TsvSink::close`] waits for it.
    fn finish(&mut self, _batch: &BatchInfo) -> Result<(), SinkError> {
        self.ended.store(true, std::sync::atomic::Ordering::SeqCst);
        if crate::timing_on() {
            eprintln!(
                "timing: TSV sink: windows waited {:.3} s for room in the writer's queue",
                self.waited.as_secs_f64()
            );
        }
        self.tx = None;
        // The spare buffers are not kept through the other sinks' end-of-run work (the run's peak).
        while self.spare.try_recv().is_ok() {}
        Ok(())
    }

    /// The windows' text at most, and the writer's file buffers (which only grow until the end).
    fn held_bytes(&self) -> usize {
        self.peak + self.buffers.iter().map(|b| b.held()).sum::<usize>()
    }
}

impl Drop for TsvSink {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
    }
}

/// Writes the formatted buffers of a run, in the order received.
///
/// `payments.tsv` and `rejections.tsv` are written unbuffered, one `writev` a window of all its
/// segments' buffers ([`write_all_vectored`]): a segment's text (≈ 0.5 MiB of payments) is smaller
/// than a 1 MiB `BufWriter`, which copied every byte once more into its own buffer before the
/// kernel copied it again (issue #13: ≈ 1.3 GB of copies on a national night).
///
/// Every file hands its bytes to the disk as they come, with `O_DIRECT` (`WriteBack::direct`: this
/// thread waits for the disk, the workers keep the cores; the one copy left is into its aligned
/// buffer), so that its `fsync` at the end finds little left to write.
///
/// The insurers' files (one an insurer a day pays: 9 on the generated days, hundreds on a real one)
/// have buffers that grow from [`AMC_FIRST_BYTES`] to [`AMC_MAX_BYTES`] within [`AMC_BUDGET`] for all
/// (`WriteBack::direct_growing`), and no `BufWriter` on a direct file (its rows are copied once, into
/// the aligned buffer): a fixed 256 KiB buffer and a 64 KiB `BufWriter` each were 320 KiB an
/// insurer, ≈ 94 MiB at 300 insurers, not counted anywhere (REVIEW-A11 M, issue #13's 256 MiB).
struct Writer {
    dir: PathBuf,
    payments: WriteBack,
    rejections: WriteBack,
    amc: BTreeMap<[u8; 10], BufWriter<WriteBack>>,
    /// What `payments.tsv` and `rejections.tsv`'s direct buffers hold: each grows from
    /// [`DIRECT_BYTES`] to [`LARGE_DIRECT_BYTES`], their writes fewer and larger (less CPU a byte).
    budget: std::sync::Arc<DirectBudget>,
    /// What the insurers' files' direct buffers hold, within their budget.
    amc_budget: std::sync::Arc<DirectBudget>,
}

/// An insurer file's first direct buffer: 4 pages.
const AMC_FIRST_BYTES: usize = 16 << 10;

/// An insurer file's largest direct buffer: the insurers' files are 0.75 GB of a national day's
/// 3 GB of the writer's text (1 MiB writes: fewer calls than 256 KiB, `writeback::LARGE_DIRECT_BYTES`).
const AMC_MAX_BYTES: usize = 1 << 20;

/// The insurers' files' direct buffers grow within this many bytes in all (8 files at
/// [`AMC_MAX_BYTES`]); past it each new file holds [`AMC_FIRST_BYTES`].
const AMC_BUDGET: usize = 8 << 20;

/// The `BufWriter` of an insurer's file that is not direct (a filesystem without `O_DIRECT`): rows
/// of ≈ 100 bytes gathered into larger writes. A direct file gathers them in its aligned buffer.
const AMC_CACHED_BUF: usize = 1 << 16;

fn amc_file_name(amc: &[u8; 10]) -> String {
    let s: String = String::from_utf8_lossy(amc)
        .trim_end()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{s}.tsv")
}

/// An I/O error on `path`: the message names the file, not the staging directory.
fn at(path: PathBuf) -> impl FnOnce(io::Error) -> SinkError {
    move |e| SinkError::Io(path, e)
}

impl Writer {
    fn new(dir: &Path) -> Result<Writer, SinkError> {
        let (p, r) = (dir.join(PAYMENTS), dir.join(REJECTIONS));
        // O_DIRECT: the writer is a thread of its own (output::writeback).
        let budget = std::sync::Arc::new(DirectBudget::new(2 * LARGE_DIRECT_BYTES));
        let large = |f: File| {
            WriteBack::direct_growing(f, DIRECT_BYTES, LARGE_DIRECT_BYTES, budget.clone())
        };
        let mut payments = large(create_private(&p).map_err(at(p.clone()))?);
        payments
            .write_all(PAYMENTS_HEADER.as_bytes())
            .map_err(at(p))?;
        let mut rejections = large(create_private(&r).map_err(at(r.clone()))?);
        rejections
            .write_all(REJECTIONS_HEADER.as_bytes())
            .map_err(at(r))?;
        let a = dir.join(AMC_DIR);
        mkdir_private(&a).map_err(at(a))?;
        Ok(Writer {
            dir: dir.to_path_buf(),
            budget,
            amc_budget: std::sync::Arc::new(DirectBudget::new(AMC_BUDGET)),
            payments,
            rejections,
            amc: BTreeMap::new(),
        })
    }

    /// A window's buffers (its segments', in order).
    fn write(&mut self, bufs: &[OutBufs]) -> Result<(), SinkError> {
        write_all_vectored(&mut self.payments, bufs.iter().map(|b| &b.payments[..]))
            .map_err(at(self.dir.join(PAYMENTS)))?;
        write_all_vectored(&mut self.rejections, bufs.iter().map(|b| &b.rejections[..]))
            .map_err(at(self.dir.join(REJECTIONS)))?;
        for (amc, row) in bufs.iter().flat_map(OutBufs::amc_runs) {
            // One search of the map a run of the insurer's consecutive rows (`OutBufs::amc_runs`:
            // a row is ≈ 100 bytes, two searches comparing 10-byte keys cost more than its copy);
            // the file is created at the insurer's first row.
            let written = match self.amc.get_mut(&amc) {
                Some(f) => f.write_all(row),
                None => {
                    let path = self.amc_path(&amc);
                    let file = WriteBack::direct_growing(
                        create_private(&path).map_err(at(path.clone()))?,
                        AMC_FIRST_BYTES,
                        AMC_MAX_BYTES,
                        self.amc_budget.clone(),
                    );
                    // A zero-capacity `BufWriter` passes every write through, allocating nothing:
                    // the direct file gathers the rows in its buffer (also if `O_DIRECT` is
                    // refused at a later write, `WriteBack::fall_back_to_page_cache`).
                    let cap = if file.is_direct() { 0 } else { AMC_CACHED_BUF };
                    let mut f = BufWriter::with_capacity(cap, file);
                    f.write_all(AMC_HEADER.as_bytes()).map_err(at(path))?;
                    let w = f.write_all(row);
                    self.amc.insert(amc, f);
                    w
                }
            };
            if let Err(e) = written {
                return Err(SinkError::Io(self.amc_path(&amc), e));
            }
        }
        Ok(())
    }

    fn amc_path(&self, amc: &[u8; 10]) -> PathBuf {
        self.dir.join(AMC_DIR).join(amc_file_name(amc))
    }

    /// Flushes every file and makes it durable (`fsync`: the staging directory's own sync then
    /// finds clean pages); returns the number of insurer files.
    fn finish(mut self) -> Result<usize, SinkError> {
        for (amc, f) in &mut self.amc {
            f.flush()
                .and_then(|()| f.get_mut().finish())
                .map_err(|e| SinkError::Io(self.dir.join(AMC_DIR).join(amc_file_name(amc)), e))?;
        }
        self.payments
            .finish()
            .map_err(at(self.dir.join(PAYMENTS)))?;
        self.rejections
            .finish()
            .map_err(at(self.dir.join(REJECTIONS)))?;
        Ok(self.amc.len())
    }
}

/// Writes every part, in order, with as few `write_vectored` calls as the writer accepts (one
/// `writev` for a file; a `BufWriter` passes parts as large as its buffer straight through): no
/// copy of the parts into one buffer first. Empty parts are skipped; a call may write only some
/// bytes, and the rest is written by the next.
pub fn write_all_vectored<'a, W: Write + ?Sized>(
    w: &mut W,
    parts: impl Iterator<Item = &'a [u8]>,
) -> io::Result<()> {
    // Linux takes at most 1 024 parts a call (IOV_MAX).
    const MAX_PARTS: usize = 1024;
    let mut slices: Vec<io::IoSlice<'a>> = Vec::new();
    let mut parts = parts.filter(|p| !p.is_empty()).peekable();
    while parts.peek().is_some() {
        slices.clear();
        slices.extend(parts.by_ref().take(MAX_PARTS).map(io::IoSlice::new));
        let mut left = &mut slices[..];
        while !left.is_empty() {
            match w.write_vectored(left) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => io::IoSlice::advance_slices(&mut left, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most `max` bytes a call, of the first two parts only, and records
    /// how many calls it got.
    struct Stingy {
        got: Vec<u8>,
        max: usize,
        calls: usize,
    }
    impl Write for Stingy {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.write_vectored(&[io::IoSlice::new(b)])
        }
        fn write_vectored(&mut self, parts: &[io::IoSlice<'_>]) -> io::Result<usize> {
            self.calls += 1;
            let mut n = 0;
            for p in parts.iter().take(2) {
                let k = p.len().min(self.max - n);
                self.got.extend_from_slice(&p[..k]);
                n += k;
            }
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Parts written partially, across more parts than one call takes, with empty ones: the bytes
    /// arrive whole and in order.
    #[test]
    fn vectored_writes_resume_after_partial_writes_in_part_order() {
        let parts: Vec<Vec<u8>> = (0..3000u32)
            .map(|i| (0..i % 7).map(|j| (i + j) as u8).collect())
            .collect();
        let want: Vec<u8> = parts.concat();
        let mut w = Stingy {
            got: Vec::new(),
            max: 5,
            calls: 0,
        };
        write_all_vectored(&mut w, parts.iter().map(Vec::as_slice)).unwrap();
        assert_eq!(w.got, want);
        let mut f = Vec::new();
        write_all_vectored(&mut f, parts.iter().map(Vec::as_slice)).unwrap();
        assert_eq!(f, want);
    }

    /// A fresh directory under the system's temporary directory, removed when dropped.
    struct TmpDir(PathBuf);
    impl TmpDir {
        fn new(name: &str) -> TmpDir {
            let p = std::env::temp_dir().join(format!("liq-files-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            TmpDir(p)
        }
        fn path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for TmpDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// A full disk on `payments.tsv` (a link to `/dev/full`, which fails every write with ENOSPC):
    /// the error names the file, not the staging directory (review of the vectored writer).
    #[cfg(target_os = "linux")]
    #[test]
    fn a_write_error_of_the_tsv_sink_names_the_file_that_failed() {
        let tmp = TmpDir::new("full");
        std::os::unix::fs::symlink("/dev/full", tmp.path().join(PAYMENTS)).unwrap();
        let e = TsvSink::create(tmp.path())
            .err()
            .expect("the header's write fails");
        assert!(
            matches!(&e, SinkError::Io(p, _) if p == &tmp.path().join(PAYMENTS)),
            "{e}"
        );
    }

    /// 300 insurers each paid for several direct buffers' worth of rows (a real day's count of
    /// insurers, where a fixed 320 KiB an insurer held ≈ 94 MiB): the writer's buffers stay within
    /// the insurers' budget and the two other files' buffers, each insurer's file holds its header
    /// and its rows in order, and the sink counts the buffers in its held bytes.
    #[test]
    fn three_hundred_insurers_files_hold_their_rows_within_the_writers_buffer_budget() {
        let tmp = TmpDir::new("insurers");
        let mut w = Writer::new(tmp.path()).unwrap();
        let insurers: Vec<[u8; 10]> = (0..300u32)
            .map(|i| {
                let mut k = *b"0000000000";
                k[..6].copy_from_slice(format!("{:06}", i * 7919 % 1_000_000).as_bytes());
                k
            })
            .collect();
        let mut want: Vec<Vec<u8>> = vec![AMC_HEADER.as_bytes().to_vec(); insurers.len()];
        for window in 0..6u32 {
            let mut b = OutBufs::default();
            for row in 0..150u32 {
                for (j, k) in insurers.iter().enumerate() {
                    // Insurer j gets rows of its own length (40 to 160 bytes) and content.
                    let len = 40 + (j * 37) % 121;
                    let text: Vec<u8> = (0..len)
                        .map(|x| b'a' + ((x as u32 + row + window + j as u32) % 26) as u8)
                        .chain([b'\n'])
                        .collect();
                    b.push_amc_row(*k, &text);
                    want[j].extend_from_slice(&text);
                }
            }
            w.write(std::slice::from_ref(&b)).unwrap();
        }
        let held = w.amc_budget.held();
        let two = w.budget.held();
        let direct = w.payments.is_direct();
        let budget = w.amc_budget.clone();
        assert_eq!(w.finish().unwrap(), insurers.len());
        if direct {
            assert!(
                held <= AMC_BUDGET,
                "{} MiB held by the insurers' buffers",
                held >> 20
            );
            assert_eq!(two, 2 * DIRECT_BYTES, "two other files, few bytes each");
            assert_eq!(budget.held(), held, "counted once grown, until the end");
        }
        for (k, want) in insurers.iter().zip(&want) {
            let got = fs::read(tmp.path().join(AMC_DIR).join(amc_file_name(k))).unwrap();
            assert!(&got == want, "{} differs", amc_file_name(k));
        }
        // The sink counts its writer's buffers.
        let sink_dir = TmpDir::new("insurers-sink");
        let sink = TsvSink::create(sink_dir.path()).unwrap();
        if direct {
            assert!(sink.held_bytes() >= 2 * DIRECT_BYTES);
        }
    }

    /// Staging: files of nested directories made durable, then renamed; a second sync is harmless.
    #[test]
    fn a_staging_directory_is_synced_with_its_subdirectories_and_renamed() {
        let tmp = TmpDir::new("stage");
        let out = tmp.path().join("night");
        let st = Staging::create(&out, false).unwrap();
        fs::create_dir(st.dir.join("amc")).unwrap();
        fs::write(st.dir.join("amc/x.tsv"), b"a\n").unwrap();
        fs::write(st.dir.join("payments.tsv"), b"b\n").unwrap();
        st.sync().unwrap();
        st.commit().unwrap();
        assert_eq!(fs::read(out.join("amc/x.tsv")).unwrap(), b"a\n");
        assert_eq!(fs::read(out.join("payments.tsv")).unwrap(), b"b\n");
    }
}
