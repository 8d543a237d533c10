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

use std::fs::File;
use std::io::{self, IoSlice, Write};

/// Bytes written between two write-back starts: large enough that the calls cost nothing next to
/// the copies (a few hundred a national night), small enough that a file's dirty pages stay few.
pub const STEP: u64 = 8 << 20;

/// A file written once from its start, in order (the run's outputs), whose written bytes are
/// handed to the disk every [`STEP`] bytes.
pub struct WriteBack {
    file: File,
    /// Bytes written so far (the file's length: it is written from its start).
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
            written: 0,
            started: 0,
            from: 0,
        }
    }

    /// The file.
    pub fn get_ref(&self) -> &File {
        &self.file
    }

    /// `fsync` of the file (`File::sync_all`): durable once it returns.
    pub fn sync_all(&self) -> io::Result<()> {
        self.file.sync_all()
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
        let n = self.file.write(buf)?;
        self.wrote(n);
        Ok(n)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let n = self.file.write_vectored(bufs)?;
        self.wrote(n);
        Ok(n)
    }

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

    /// Written through the wrapper in pieces of every size (single writes and vectored ones, across
    /// several write-back steps), a file holds exactly the bytes written, in order, and the
    /// wrapper's count is the file's length.
    #[test]
    fn a_file_written_through_write_back_holds_the_bytes_written() {
        let dir = std::env::temp_dir().join(format!("liquidator-writeback-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out");
        let mut w = WriteBack::new(File::create(&path).unwrap());
        let mut want = Vec::new();
        let mut k = 0u32;
        while (want.len() as u64) < 3 * STEP + 12_345 {
            let piece: Vec<u8> = (0..(k % 7919) * 97 + 1).map(|i| (i ^ k) as u8).collect();
            if k % 2 == 0 {
                w.write_all(&piece).unwrap();
            } else {
                let (a, b) = piece.split_at(piece.len() / 3);
                crate::output::files::write_all_vectored(&mut w, [a, b].into_iter()).unwrap();
            }
            want.extend_from_slice(&piece);
            k += 1;
        }
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
