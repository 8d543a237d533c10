//! The commit's pages sent to the disk while the commit still writes, not all at its durable step.
//!
//! redb writes a transaction's pages into the file as its write buffer fills (at most half its 8 MiB cache, `CACHE_BYTES`)
//! and makes them durable at the commit with an `fsync`, which then waits for every page the
//! transaction left dirty in the page cache: ≈ 0.6 GB on a national night, 0.61 s of waiting on a
//! quiet machine (issue #14). A thread of our own calls `fdatasync` on the same file, again and again,
//! from the transaction's start until its commit: the disk writes the pages while the commit merges
//! and encodes on the CPU, and the final `fsync` finds little left. It changes nothing of what is
//! durable when: redb's own `fsync`s and its header decide what a crash leaves (formats/ledger.md,
//! "All or nothing"); writing a page earlier never makes it part of a commit.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Pause after a sync that had pages to write (it took at least [`QUICK`]): the next dirty pages
/// are written soon, while the commit is busy elsewhere on the CPU.
const PAUSE: Duration = Duration::from_millis(20);

/// A sync shorter than this found (almost) nothing to write: the pause then doubles, up to
/// [`LONGEST_PAUSE`], so that a transaction busy on the CPU (merging, encoding) is not met by a
/// journal commit of the file every 20 ms for nothing (REVIEW-A9 L2).
const QUICK: Duration = Duration::from_millis(1);

/// The longest pause between two syncs.
const LONGEST_PAUSE: Duration = Duration::from_millis(320);

/// The syncing thread; stopped and joined when dropped.
pub struct Writeback {
    stop: Arc<AtomicBool>,
    /// Syncs made so far (read by the tests).
    syncs: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writeback {
    /// Starts syncing `path` in the background; `None` if the file or the thread cannot be had (the
    /// commit is then as before: its `fsync` writes everything).
    pub fn start(path: &Path) -> Option<Writeback> {
        let file = std::fs::File::open(path).ok()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let syncs = Arc::new(AtomicU64::new(0));
        let made = syncs.clone();
        let thread = std::thread::Builder::new()
            .name("ledger-writeback".into())
            .spawn(move || {
                let mut pause = PAUSE;
                while !flag.load(Ordering::Acquire) {
                    let t = std::time::Instant::now();
                    // An error here is the commit's to meet and report at its own `fsync`.
                    let _ = file.sync_data();
                    made.fetch_add(1, Ordering::Relaxed);
                    pause = next_pause(pause, t.elapsed());
                    std::thread::park_timeout(pause);
                }
            })
            .ok()?;
        Some(Writeback {
            stop,
            syncs,
            thread: Some(thread),
        })
    }
}

impl Writeback {
    /// Syncs made so far.
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }
}

/// The pause after a sync that took `took`: [`PAUSE`] if it had pages to write, else twice the last
/// pause, at most [`LONGEST_PAUSE`].
fn next_pause(last: Duration, took: Duration) -> Duration {
    if took < QUICK {
        (last * 2).min(LONGEST_PAUSE)
    } else {
        PAUSE
    }
}

impl Drop for Writeback {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_writeback_thread_syncs_while_running_and_stops_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut f = std::fs::File::create(&path).unwrap();
        let w = Writeback::start(&path).unwrap();
        f.write_all(&[7u8; 1 << 16]).unwrap();
        // It syncs again and again while running (the first sync comes at once, the next after a
        // pause of at most LONGEST_PAUSE).
        let start = std::time::Instant::now();
        while w.syncs() < 2 && start.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(PAUSE);
        }
        assert!(w.syncs() >= 2, "{} syncs in 10 s", w.syncs());
        drop(w);
        // The file is whole and the thread gone (dropping joined it).
        assert_eq!(std::fs::read(&path).unwrap(), vec![7u8; 1 << 16]);
        // A file that cannot be opened: no thread, nothing else changes.
        assert!(Writeback::start(&dir.path().join("missing")).is_none());
    }

    #[test]
    fn a_sync_that_finds_nothing_doubles_the_pause_up_to_its_longest_one_that_writes_resets_it() {
        let quick = Duration::from_micros(100);
        let mut p = PAUSE;
        let mut seen = vec![];
        for _ in 0..6 {
            p = next_pause(p, quick);
            seen.push(p.as_millis());
        }
        assert_eq!(seen, [40, 80, 160, 320, 320, 320]);
        assert_eq!(next_pause(LONGEST_PAUSE, Duration::from_millis(5)), PAUSE);
        assert_eq!(next_pause(PAUSE, QUICK), PAUSE);
    }
}
