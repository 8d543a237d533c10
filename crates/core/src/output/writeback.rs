//! Output files whose bytes are handed to the disk as they are written, not all at the end
//! (issue #13).
//!
//! Why: a run's outputs (4.1 GB on a national night) are written into the page cache, and Linux
//! starts writing dirty pages back only past `vm.dirty_background_ratio` (10 % of the memory, ≈ 2.4
//! GB here) or after 30 s. So during a run the disk sat idle, then every byte still dirty had to
//! reach it inside the final `fsync`s (the tail's "synced" steps), and a run that went past the
//! dirty limits had its writers throttled to the disk's pace at its end. Started as the bytes come,
//! the write-back runs beside the liquidation and the final `fsync`s find little left to write.
//!
//! How: every [`STEP`] bytes written, `posix_fadvise(POSIX_FADV_DONTNEED)` on the range written since
//! the step before last. On Linux it starts the write-back of the range's dirty pages without waiting
//! for it (`__filemap_fdatawrite_range(.., WB_SYNC_NONE)`: what `sync_file_range(SYNC_FILE_RANGE_WRITE)`
//! does, which the safe `rustix` does not offer), then drops the range's clean pages from the page
//! cache (pages still dirty or being written are kept; nothing of the run reads its outputs back).
//! The range starts a step back so that the pages whose write-back the last call started, written
//! to the disk since, are dropped by this one: freed, they are the pages the next writes get. Why:
//! on a virtual machine whose free memory is handed back to its host (virtio-balloon free page
//! reporting, as on the bench machine of stop 26), a page never used or free for a while costs a
//! host fault when it is first written — `dd` of 1 GiB then `fdatasync`: 1.3–1.9 s of system time
//! on such pages, 0.33 s on pages just freed (issue #13). Kept cached, 4 GB of outputs took 4 GB of
//! such pages a national night.
//! It is advice: its errors are ignored, it never changes a file's bytes, and durability still
//! comes from each file's `fsync` and the staging directory's (formats/outputs.md, "All or
//! nothing") — a failed write-back is reported by that `fsync`.
//!
//! Architecture invariant: the bytes of a file do not depend on this wrapper (it forwards every
//! write whole); only when they reach the disk does.
//!
//! [`WriteBack::direct`] files (the TSV writer's: `payments.tsv`, `rejections.tsv`, the insurers'
//! files — 2.9 GB a national night; the end-of-run files, `debts.tsv` and the payment orders — 1.1
//! GB) bypass the page cache instead: `O_DIRECT`, whole buffers of
//! [`DIRECT_BYTES`] copied from the writes and written from 4 KiB-aligned memory at aligned
//! offsets, the last partial buffer written through the page cache by [`WriteBack::finish`]
//! before its `fsync`. Why: the kernel's buffered path (copy into page-cache pages, delayed
//! allocation, write-back of each page) was most of the TSV writer thread's CPU, which at 2 threads
//! competes with the workers for the 2 cores (at 1 thread it ran beside them for free: issue #13's
//! 1 → 2); a direct write costs the thread a copy into its buffer and a wait for the disk (`dd
//! oflag=direct` of 2 GiB: 1.0–1.9 s here, under load), not the CPU. Alternated runs at 2 threads:
//! the national day's system time 2.5–3.2 → 1.6–2.1 s. Only for a thread of its own (the TSV
//! writer, `output::pieces`'s writer thread): on the run's workers the wait would be CPU lost. A
//! filesystem that refuses `O_DIRECT` (at `fcntl`, or at any write: `EINVAL`) gets the same bytes
//! through the page cache from there on, as above — refused at a write, still gathered in the
//! file's buffer and written a buffer at a time (`WriteBack::fall_back_to_page_cache`).

use std::fs::File;
use std::io::{self, IoSlice, Write};

/// Bytes written between two write-back starts: large enough that the calls cost nothing next to
/// the copies (a few hundred a national night), small enough that a file's dirty pages stay few.
pub const STEP: u64 = 8 << 20;

/// Bytes a direct file ([`WriteBack::direct`]) gathers before it writes them: 64 pages, a few
/// hundred writes a national night, 2.75 MiB for the TSV writer's 11 files.
pub const DIRECT_BYTES: usize = 256 << 10;

/// The largest buffer of a large direct file ([`WriteBack::direct_large`]): 8 times
/// [`DIRECT_BYTES`]. Why: a direct write's cost to the CPU is mostly per call (the system call,
/// pinning the pages, building the request, the virtio kick — a VM exit), not per byte: `dd
/// oflag=direct` of 1 GiB here, system time 0.20 s with 256 KiB writes, 0.13–0.14 s with 1 MiB,
/// 0.11 s with 2 MiB (issue #13: the writer threads' CPU is taken from the workers at 2 threads).
pub const LARGE_DIRECT_BYTES: usize = 2 << 20;

/// A page of a direct file's buffer: `O_DIRECT` needs the memory, the length and the offset aligned
/// to the device's logical block (512 bytes here); a page covers every block size up to it.
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(4096))]
struct Page([u8; 4096]);

/// `n` pages of zeroes, allocated zeroed (`alloc_zeroed`): the allocator hands fresh memory from
/// the system as it is, already zeroed by the kernel, where `vec![Page([0; 4096]); n]` wrote every
/// page once more (one `memset` a page: 32 M instructions of a 100 k-claim day, callgrind, for the
/// buffers of the TSV writer and the end-of-run files as they grow).
fn zeroed_pages(n: usize) -> Vec<Page> {
    bytemuck::zeroed_vec(n)
}

/// A direct file's bytes not written yet (fewer than its buffer's pages hold).
struct DirectBuf {
    pages: Vec<Page>,
    len: usize,
    /// `O_DIRECT` was refused at a write (`EINVAL`): the buffer still gathers the writes, and is
    /// written through the page cache each time it fills
    /// ([`WriteBack::fall_back_to_page_cache`]). Dropped there instead, every later write went to
    /// the file as it came — an insurer's rows of ≈ 100 bytes through their zero-capacity
    /// `BufWriter` (`files::Writer`) a system call each (review B11 L6).
    cached: bool,
    /// A buffer that starts small and doubles, up to `max` pages, each time it is written out
    /// full, while a budget shared with other files grants the pages ([`WriteBack::direct_growing`]).
    grow: Option<Grow>,
}

/// How a direct file's buffer may grow: up to `max` pages, each growth taken from `budget`.
struct Grow {
    max: usize,
    budget: std::sync::Arc<DirectBudget>,
}

/// Bytes of direct buffers shared out between files ([`WriteBack::direct_growing`]): what is left
/// to grant, and what the files' buffers hold in all.
#[derive(Debug)]
pub struct DirectBudget {
    left: std::sync::atomic::AtomicUsize,
    held: std::sync::atomic::AtomicUsize,
}

impl DirectBudget {
    /// A budget of `bytes` for the growth of the files' buffers.
    pub fn new(bytes: usize) -> DirectBudget {
        DirectBudget {
            left: std::sync::atomic::AtomicUsize::new(bytes),
            held: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Bytes the files' buffers hold in all, as allocated (a buffer freed by `finish` still counts:
    /// this is the most held).
    pub fn held(&self) -> usize {
        self.held.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Counts `bytes` of buffers held beside the budget's (another file's fixed buffer).
    pub fn count(&self, bytes: usize) {
        self.held
            .fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    /// Takes `bytes` from what is left, if that much is left.
    fn take(&self, bytes: usize) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let granted = self
            .left
            .fetch_update(Relaxed, Relaxed, |left| left.checked_sub(bytes))
            .is_ok();
        if granted {
            self.held.fetch_add(bytes, Relaxed);
        }
        granted
    }
}

/// A file written once from its start, in order (the run's outputs), whose written bytes are
/// handed to the disk every [`STEP`] bytes — or, [`WriteBack::direct`], written to the disk without
/// the page cache.
pub struct WriteBack {
    file: File,
    /// `Some` while the file is written with `O_DIRECT`.
    direct: Option<DirectBuf>,
    /// Bytes written so far (the file's length: it is written from its start). A direct file counts
    /// its buffers as they are written, so that after a fallback to the page cache
    /// ([`WriteBack::write_buffer`]) the write-back steps advise the pages being written.
    written: u64,
    /// Bytes whose write-back was started.
    started: u64,
    /// Where the range of the next call starts: the start of the last call's new bytes, whose
    /// write-back that call started (their pages are dropped by the next one).
    from: u64,
}

impl WriteBack {
    /// `file` empty, its position at its start (as `files::create_private` makes it).
    pub fn new(file: File) -> WriteBack {
        WriteBack {
            file,
            direct: None,
            written: 0,
            started: 0,
            from: 0,
        }
    }

    /// `file` empty, its position at its start, written with `O_DIRECT` if its filesystem takes it
    /// (else as [`WriteBack::new`]); made durable by [`WriteBack::finish`] only.
    pub fn direct(file: File) -> WriteBack {
        let mut w = WriteBack::new(file);
        let on = rustix::fs::fcntl_getfl(&w.file)
            .and_then(|f| rustix::fs::fcntl_setfl(&w.file, f | rustix::fs::OFlags::DIRECT))
            .is_ok();
        if on {
            w.direct = Some(DirectBuf {
                pages: zeroed_pages(DIRECT_BYTES / 4096),
                len: 0,
                cached: false,
                grow: None,
            });
        }
        w
    }

    /// As [`WriteBack::direct`], but the buffer starts at `first` bytes (always granted, counted in
    /// `budget`'s held bytes) and doubles, up to `max` bytes, each time it is written out full and
    /// `budget` still grants the pages added. For files of which there may be hundreds (the
    /// insurers' files, REVIEW-A11 M): the buffers of all stay within the budget (or `first` bytes
    /// a file past it), a file that gets many bytes writes them in large writes, and a small one
    /// keeps a small buffer. Both sizes are whole pages (rounded up, at least one).
    pub fn direct_growing(
        file: File,
        first: usize,
        max: usize,
        budget: std::sync::Arc<DirectBudget>,
    ) -> WriteBack {
        let mut w = WriteBack::direct(file);
        if let Some(d) = w.direct.as_mut() {
            let first = first.div_ceil(4096).max(1);
            // The first buffer is granted whatever is left: a file must be written. Taken from the
            // budget when it can be, so that files past the budget hold `first` bytes each only.
            if !budget.take(first * 4096) {
                budget.count(first * 4096);
            }
            d.pages = zeroed_pages(first);
            d.grow = Some(Grow {
                max: max.div_ceil(4096).max(first),
                budget,
            });
        }
        w
    }

    /// As [`WriteBack::direct`], for a file that takes many bytes (the run's large outputs): the
    /// buffer starts at [`DIRECT_BYTES`] and doubles each time it is written out full, up to
    /// [`LARGE_DIRECT_BYTES`] (a budget of its own), so that a large file is written in fewer,
    /// larger writes and a small one (`held_payments.tsv`) keeps a small buffer.
    pub fn direct_large(file: File) -> WriteBack {
        WriteBack::direct_growing(
            file,
            DIRECT_BYTES,
            LARGE_DIRECT_BYTES,
            std::sync::Arc::new(DirectBudget::new(LARGE_DIRECT_BYTES)),
        )
    }

    /// The budget a growing direct buffer ([`WriteBack::direct_growing`], [`WriteBack::direct_large`])
    /// is counted in: [`DirectBudget::held`] stays the most the buffer held after
    /// [`WriteBack::finish`] frees it, for a sink's `held_bytes`. `None` for a fixed buffer or a file
    /// through the page cache from its start.
    pub fn budget(&self) -> Option<std::sync::Arc<DirectBudget>> {
        self.direct
            .as_ref()
            .and_then(|d| d.grow.as_ref())
            .map(|g| g.budget.clone())
    }

    /// Bytes of the file's direct buffer, as allocated (0 once finished, or through the page cache).
    pub fn buffer_bytes(&self) -> usize {
        self.direct.as_ref().map_or(0, |d| d.pages.len() * 4096)
    }

    /// Whether the file is written with `O_DIRECT` (its writes gathered in its aligned buffer).
    pub fn is_direct(&self) -> bool {
        self.direct.as_ref().is_some_and(|d| !d.cached)
    }

    /// The file.
    pub fn get_ref(&self) -> &File {
        &self.file
    }

    /// `fsync` of the file (`File::sync_all`): durable once it returns. A direct file's last bytes
    /// are written by [`WriteBack::finish`]: called with bytes still gathered, this is an error
    /// (the file would be synced short).
    pub fn sync_all(&self) -> io::Result<()> {
        if self.direct.as_ref().is_some_and(|d| d.len > 0) {
            return Err(io::Error::other(
                "bytes of a direct file not written: WriteBack::finish makes it durable",
            ));
        }
        self.file.sync_all()
    }

    /// Writes what a direct file still holds (through the page cache: the last partial buffer is
    /// not a whole number of blocks), then `fsync`s the file: durable once it returns.
    pub fn finish(&mut self) -> io::Result<()> {
        if let Some(d) = self.direct.take() {
            if !d.cached {
                self.buffered()?;
            }
            let bytes: &[u8] = bytemuck::cast_slice(&d.pages);
            self.file.write_all(&bytes[..d.len])?;
            self.written += d.len as u64;
        }
        self.file.sync_all()
    }

    /// The file's `O_DIRECT` flag cleared: its next writes go through the page cache.
    fn buffered(&self) -> io::Result<()> {
        let f = rustix::fs::fcntl_getfl(&self.file)?;
        rustix::fs::fcntl_setfl(&self.file, f - rustix::fs::OFlags::DIRECT)?;
        Ok(())
    }

    /// Gathers `buf` into a direct file's buffer, writing each buffer as it fills.
    fn write_direct(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let Some(d) = self.direct.as_mut() else {
                self.file.write_all(buf)?;
                self.wrote(buf.len());
                return Ok(());
            };
            let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut d.pages);
            let k = (bytes.len() - d.len).min(buf.len());
            bytes[d.len..d.len + k].copy_from_slice(&buf[..k]);
            d.len += k;
            buf = &buf[k..];
            if d.len == bytes.len() {
                self.write_buffer()?;
            }
        }
        Ok(())
    }

    /// Writes a direct file's full buffer with `O_DIRECT`. Refused (`EINVAL`: a filesystem that
    /// took the flag but not the write), the file goes back to the page cache with the same bytes
    /// ([`WriteBack::fall_back_to_page_cache`]).
    fn write_buffer(&mut self) -> io::Result<()> {
        let Some(d) = self.direct.as_mut() else {
            return Ok(());
        };
        if d.cached {
            let n = d.len;
            let bytes: &[u8] = bytemuck::cast_slice(&d.pages);
            self.file.write_all(&bytes[..n])?;
            d.len = 0;
            self.wrote(n);
            return Ok(());
        }
        let bytes: &[u8] = bytemuck::cast_slice(&d.pages);
        let mut done = 0;
        while done < d.len {
            match (&self.file).write(&bytes[done..d.len]) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {
                    // The bytes written went by `O_DIRECT`; the rest, moved to the buffer's start,
                    // go through the page cache.
                    let len = d.len;
                    bytemuck::cast_slice_mut::<Page, u8>(&mut d.pages).copy_within(done..len, 0);
                    d.len = len - done;
                    self.written += done as u64;
                    return self.fall_back_to_page_cache();
                }
                Err(e) => return Err(e),
            }
        }
        self.written += d.len as u64;
        d.len = 0;
        // Written out full: twice the pages for the next bytes, if the budget grants them (the
        // buffer is empty, so nothing is copied).
        if let Some(g) = &d.grow {
            let n = d.pages.len();
            if n < g.max {
                let more = n.min(g.max - n);
                if g.budget.take(more * 4096) {
                    d.pages = zeroed_pages(n + more);
                }
            }
        }
        Ok(())
    }

    /// A direct file from here on written through the page cache (`O_DIRECT` refused): its flag
    /// cleared, the bytes gathered written, and its buffer kept to gather the next writes, written
    /// each time it fills. The write-back steps start here: the bytes before went by `O_DIRECT`
    /// (not in the page cache), those from here on are the ones to hand to the disk.
    fn fall_back_to_page_cache(&mut self) -> io::Result<()> {
        let Some(d) = self.direct.as_mut() else {
            return Ok(());
        };
        d.cached = true;
        self.buffered()?;
        (self.started, self.from) = (self.written, self.written);
        self.write_buffer()
    }

    fn wrote(&mut self, n: usize) {
        if let Some((offset, len)) = self.advice_after(n) {
            // advice only: see the module's documentation
            let _ =
                rustix::fs::fadvise(&self.file, offset, Some(len), rustix::fs::Advice::DontNeed);
        }
    }

    /// Counts `n` more bytes written; returns the range to advise when a step is complete: from
    /// the start of the previous call's new bytes (their pages dropped, written back since) to the
    /// end of what is written (its write-back started).
    fn advice_after(&mut self, n: usize) -> Option<(u64, std::num::NonZeroU64)> {
        self.written += n as u64;
        if self.written - self.started < STEP {
            return None;
        }
        let range = std::num::NonZeroU64::new(self.written - self.from).map(|len| (self.from, len));
        self.from = self.started;
        self.started = self.written;
        range
    }
}

impl Write for WriteBack {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.direct.is_some() {
            self.write_direct(buf)?;
            return Ok(buf.len());
        }
        let n = self.file.write(buf)?;
        self.wrote(n);
        Ok(n)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if self.direct.is_some() {
            for b in bufs {
                self.write_direct(b)?;
            }
            return Ok(bufs.iter().map(|b| b.len()).sum());
        }
        let n = self.file.write_vectored(bufs)?;
        self.wrote(n);
        Ok(n)
    }

    /// A direct file keeps its partial buffer (a direct write is whole blocks): [`WriteBack::finish`]
    /// writes it.
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Each call's range starts where the previous call's new bytes start (the pages it handed to
    /// the disk are dropped by the next call) and ends at the bytes written: every byte is advised
    /// once or twice, none more, none skipped.
    #[test]
    fn each_advice_covers_the_previous_steps_new_bytes_and_its_own() {
        let dir = std::env::temp_dir().join(format!("liquidator-advice-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut w = WriteBack::new(File::create(dir.join("out")).unwrap());
        let mut calls: Vec<(u64, u64)> = Vec::new();
        let mut k = 1u64;
        while w.written < 20 * STEP {
            let n = ((k * 7_919_993) % (3 * STEP / 2)) as usize + 1;
            let before = w.started;
            if let Some((at, len)) = w.advice_after(n) {
                assert_eq!(
                    w.started, w.written,
                    "the write-back is started up to the end"
                );
                assert!(at + len.get() == w.written && w.written - before >= STEP);
                calls.push((at, at + len.get()));
            }
            k += 1;
        }
        assert!(calls.len() >= 10 && calls[0].0 == 0);
        for i in 1..calls.len() {
            let new_of_previous = if i == 1 { 0 } else { calls[i - 2].1 };
            assert_eq!(calls[i].0, new_of_previous, "call {i}: {:?}", &calls[..=i]);
            assert!(calls[i].1 > calls[i - 1].1);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Writes `total` bytes through `w` in pieces of every size, single writes and vectored ones
    /// in turn; returns the bytes written.
    fn write_pieces(w: &mut WriteBack, total: usize) -> Vec<u8> {
        let mut want = Vec::new();
        let mut k = 0u32;
        while want.len() < total {
            let n = ((k % 7919) * 97 + 1).min((total - want.len()) as u32);
            let piece: Vec<u8> = (0..n).map(|i| (i ^ k) as u8).collect();
            if k.is_multiple_of(2) {
                w.write_all(&piece).unwrap();
            } else {
                let (a, b) = piece.split_at(piece.len() / 3);
                crate::output::files::write_all_vectored(w, [a, b].into_iter()).unwrap();
            }
            want.extend_from_slice(&piece);
            k += 1;
        }
        want
    }

    /// A direct file written in pieces of every size (single and vectored writes, across many
    /// buffers) holds exactly the bytes written once finished; it refuses a plain `sync_all` while
    /// bytes are gathered. On a filesystem without `O_DIRECT` the same holds through the page cache.
    #[test]
    fn a_direct_file_holds_the_bytes_written_once_finished() {
        let dir = std::env::temp_dir().join(format!("liquidator-direct-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for total in [0, 1, 4096, DIRECT_BYTES, 3 * DIRECT_BYTES + 12_345] {
            let path = dir.join(format!("out-{total}"));
            let mut w = WriteBack::direct(File::create(&path).unwrap());
            let want = write_pieces(&mut w, total);
            w.flush().unwrap();
            if w.is_direct() && total % DIRECT_BYTES != 0 {
                assert!(w.sync_all().is_err(), "bytes still gathered");
            }
            w.finish().unwrap();
            assert_eq!(
                w.written,
                want.len() as u64,
                "the count is the file's length"
            );
            drop(w);
            let mut got = Vec::new();
            File::open(&path).unwrap().read_to_end(&mut got).unwrap();
            assert!(
                got == want,
                "the file differs from the bytes written ({total})"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A direct file whose `O_DIRECT` writes are refused (`EINVAL`: here a byte written behind the
    /// wrapper's back leaves the file at an odd offset, as in the test above) keeps gathering its
    /// writes in its buffer: 10 000 rows of 100 bytes after the refusal are a few writes through
    /// the page cache, not one system call each as when the buffer was dropped (review B11 L6: an
    /// insurer's file, whose `BufWriter` has no capacity of its own on a direct file), and the
    /// file holds every byte in order.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_direct_file_refused_midway_still_gathers_its_small_writes() {
        let syscw = || -> u64 {
            let io = std::fs::read_to_string("/proc/thread-self/io").unwrap();
            io.lines()
                .find_map(|l| l.strip_prefix("syscw: "))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        };
        let dir = std::env::temp_dir().join(format!("liquidator-gathers-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out");
        let mut w = WriteBack::direct(File::create(&path).unwrap());
        let mut want = Vec::new();
        if w.is_direct() {
            w.buffered().unwrap();
            (&w.file).write_all(b"!").unwrap();
            let f = rustix::fs::fcntl_getfl(&w.file).unwrap();
            rustix::fs::fcntl_setfl(&w.file, f | rustix::fs::OFlags::DIRECT).unwrap();
            want.push(b'!');
            w.written += 1;
        }
        let row = |i: u32| -> Vec<u8> { (0..100u32).map(|j| (i * 31 + j) as u8).collect() };
        // Rows until the first full buffer's write is refused (or 2 buffers' worth: not refused).
        let mut i = 0;
        while w.is_direct() && want.len() < 2 * DIRECT_BYTES {
            w.write_all(&row(i)).unwrap();
            want.extend(row(i));
            i += 1;
        }
        let refused = !w.is_direct();
        let before = syscw();
        for i in i..i + 10_000 {
            w.write_all(&row(i)).unwrap();
            want.extend(row(i));
        }
        let calls = syscw() - before;
        if refused {
            assert!(
                calls <= 16,
                "{calls} write calls for 10 000 rows of 100 bytes"
            );
        }
        w.finish().unwrap();
        assert_eq!(w.written, want.len() as u64);
        drop(w);
        assert!(std::fs::read(&path).unwrap() == want, "the file differs");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Files whose direct buffers grow within a shared budget (`direct_growing`): each holds exactly
    /// the bytes written; a buffer starts at its first size and doubles while the budget grants the
    /// pages, never past its maximum; the buffers held in all stay within the budget plus the first
    /// buffers it could not grant; a file past the budget writes its bytes whole with its first
    /// buffer.
    #[test]
    fn growing_direct_buffers_stay_within_their_budget_and_keep_every_byte() {
        let dir = std::env::temp_dir().join(format!("liquidator-growing-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (first, max, budget) = (8 << 10, 64 << 10, 160 << 10);
        let shared = std::sync::Arc::new(DirectBudget::new(budget));
        let mut files: Vec<(std::path::PathBuf, WriteBack, Vec<u8>)> = (0..8)
            .map(|i| {
                let path = dir.join(format!("out-{i}"));
                let w = WriteBack::direct_growing(
                    File::create(&path).unwrap(),
                    first,
                    max,
                    shared.clone(),
                );
                (path, w, Vec::new())
            })
            .collect();
        let direct = files[0].1.is_direct();
        for (i, (_, w, want)) in files.iter_mut().enumerate() {
            if direct {
                assert_eq!(w.buffer_bytes(), first, "file {i} starts at its first size");
            }
            // The first files get many buffers' worth, the last a few rows.
            let total = if i < 3 { 5 * max + 777 } else { 3000 };
            want.extend(write_pieces(w, total));
        }
        if direct {
            let sizes: Vec<usize> = files.iter().map(|f| f.1.buffer_bytes()).collect();
            assert_eq!(
                sizes[0], max,
                "a large file's buffer grows to its maximum: {sizes:?}"
            );
            assert!(sizes.iter().all(|&b| b >= first && b <= max), "{sizes:?}");
            assert!(
                sizes[3..].iter().all(|&b| b == first),
                "small files stay small: {sizes:?}"
            );
            let sum: usize = sizes.iter().sum();
            assert_eq!(shared.held(), sum, "the budget counts every buffer");
            assert!(sum <= budget, "{sum} > {budget}");
            assert!(
                sizes[2] < max,
                "the budget stops the third large file: {sizes:?}"
            );
        }
        for (path, mut w, want) in files {
            w.finish().unwrap();
            drop(w);
            let got = std::fs::read(&path).unwrap();
            assert!(
                got == want,
                "{} differs from the bytes written",
                path.display()
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A direct file whose write is refused midway (`EINVAL`: here because a byte written behind
    /// the wrapper's back left the file at an odd offset, which ext4 refuses to an `O_DIRECT`
    /// write, as a filesystem that takes the flag but not the write would) goes on through the
    /// page cache with every byte kept, in order — the refused buffer's and those after it — and
    /// counts them: its count of bytes written is the file's length, so that the write-back steps
    /// advise the pages being written, not those of the file's start (they went by `O_DIRECT`).
    #[test]
    fn a_direct_file_refused_midway_keeps_every_byte_and_counts_them() {
        let dir = std::env::temp_dir().join(format!("liquidator-refused-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out");
        let mut w = WriteBack::direct(File::create(&path).unwrap());
        let mut want = write_pieces(&mut w, 2 * DIRECT_BYTES + 5);
        if w.is_direct() {
            // Two buffers written, 5 bytes gathered: one byte straight to the file, O_DIRECT on again.
            let at = want.len() - 5;
            w.buffered().unwrap();
            (&w.file).write_all(b"!").unwrap();
            let f = rustix::fs::fcntl_getfl(&w.file).unwrap();
            rustix::fs::fcntl_setfl(&w.file, f | rustix::fs::OFlags::DIRECT).unwrap();
            want.insert(at, b'!');
            w.written += 1;
        }
        want.extend(write_pieces(&mut w, 2 * STEP as usize + 777));
        w.flush().unwrap();
        // Refused (ext4), or never direct: through the page cache, in write-back steps. (tmpfs
        // takes the odd offset: the file stays direct to its end.)
        let cached = !w.is_direct();
        w.finish().unwrap();
        assert_eq!(
            w.written,
            want.len() as u64,
            "the count is the file's length"
        );
        if cached {
            let after = 2 * DIRECT_BYTES as u64;
            assert!(
                w.started > after,
                "the steps advise what follows the refusal"
            );
        }
        drop(w);
        let mut got = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut got).unwrap();
        assert!(got == want, "the file differs from the bytes written");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Written through the wrapper in pieces of every size (single writes and vectored ones, across
    /// several write-back steps), a file holds exactly the bytes written, in order, and the
    /// wrapper's count is the file's length.
    #[test]
    fn a_file_written_through_write_back_holds_the_bytes_written() {
        let dir = std::env::temp_dir().join(format!("liquidator-writeback-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out");
        let mut w = WriteBack::new(File::create(&path).unwrap());
        let want = write_pieces(&mut w, 3 * STEP as usize + 12_345);
        w.flush().unwrap();
        w.sync_all().unwrap();
        assert_eq!(w.written, want.len() as u64);
        assert!(w.started > 0 && w.written - w.started < STEP);
        drop(w);
        let mut got = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut got).unwrap();
        assert!(got == want, "the file differs from the bytes written");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
