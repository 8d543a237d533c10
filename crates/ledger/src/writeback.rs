//! The commit's pages sent to the disk while the commit still writes, not all at its durable step.
//!
//! redb writes a transaction's pages into the file as its write buffer fills (half its 64 MiB cache)
//! and makes them durable at the commit with an `fsync`, which then waits for every page the
//! transaction left dirty in the page cache: ≈ 0.6 GB on a national night, 0.61 s of waiting on a
//! quiet machine (issue #14). A thread of our own calls `fdatasync` on the same file, again and again,
//! from the transaction's start until its commit: the disk writes the pages while the commit merges
//! and encodes on the CPU, and the final `fsync` finds little left. It changes nothing of what is
//! durable when: redb's own `fsync`s and its header decide what a crash leaves (formats/ledger.md,
//! "All or nothing"); writing a page earlier never makes it part of a commit.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Pause between two syncs that found nothing (or little) to write: the thread costs no CPU while
/// the commit is busy elsewhere.
const PAUSE: Duration = Duration::from_millis(20);

/// The syncing thread; stopped and joined when dropped.
pub struct Writeback {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writeback {
    /// Starts syncing `path` in the background; `None` if the file or the thread cannot be had (the
    /// commit is then as before: its `fsync` writes everything).
    pub fn start(path: &Path) -> Option<Writeback> {
        let file = std::fs::File::open(path).ok()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("ledger-writeback".into())
            .spawn(move || {
                while !flag.load(Ordering::Acquire) {
                    // An error here is the commit's to meet and report at its own `fsync`.
                    let _ = file.sync_data();
                    std::thread::park_timeout(PAUSE);
                }
            })
            .ok()?;
        Some(Writeback {
            stop,
            thread: Some(thread),
        })
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
        std::thread::sleep(PAUSE * 2);
        drop(w);
        // The file is whole and the thread gone (dropping joined it).
        assert_eq!(std::fs::read(&path).unwrap(), vec![7u8; 1 << 16]);
        // A file that cannot be opened: no thread, nothing else changes.
        assert!(Writeback::start(&dir.path().join("missing")).is_none());
    }
}
