//! The writer thread's byte buffers (a chunk's bytes, its pages, a dictionary), kept from row group
//! to row group instead of freed and allocated again.
//!
//! Why: the chunks of each row group were written into buffers allocated for them and freed once
//! written, about 200 a row group, and the allocator kept handing the writer thread memory it had
//! never touched: `perf record` of `run --parquet` (1 M-claim day, 2 threads) put 120–200 of the
//! writer thread's ≈ 800 samples in the kernel's `clear_page_erms` under `mi_page_fresh_alloc`, from
//! `DictChunk::close` and the Snappy pages — a fresh page costs its zeroing, and on this virtual
//! machine a host fault as well (`output::writeback`). Kept here, a row group's buffers are the
//! previous one's.
//!
//! A buffer is taken with [`buffer`], and comes back when it is dropped as the [`Bytes`] of a page
//! or chunk ([`bytes`]) or is handed back by [`give`]. Capacities are rounded up to a power of two,
//! so that the next row group's slightly larger chunk still fits the buffer its predecessor left.
//! The pool is the thread's own (`thread_local!`): the buffers of the writer thread stay with it.

use bytes::Bytes;
use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Buffers kept at most (a row group writes 46 chunks, most of them in two or three buffers).
const KEPT: usize = 256;

/// The smallest capacity handed out: below it the allocator's small pages serve well.
const MIN: usize = 4096;

thread_local! {
    static FREE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    /// Capacity of the buffers in `FREE`, and where the most of it is reported ([`count_into`]).
    static KEPT_BYTES: Cell<usize> = const { Cell::new(0) };
    static PEAK: RefCell<Option<Arc<AtomicUsize>>> = const { RefCell::new(None) };
}

/// Makes this thread's pool report into `peak` the most bytes its kept buffers held (as allocated):
/// the writer thread's pool, which lives as long as the thread, in the sink's `held_bytes`
/// (`LIQUIDATOR_TIMING`'s memory line, issue #13). Buffers handed out are not counted here: between
/// row groups they are back in the pool, and a row group's pages in flight are the writer's.
pub(super) fn count_into(peak: Arc<AtomicUsize>) {
    peak.fetch_max(KEPT_BYTES.get(), Ordering::Relaxed);
    PEAK.with_borrow_mut(|p| *p = Some(peak));
}

/// `KEPT_BYTES` moved by `added - removed`, and its peak reported.
fn kept(added: usize, removed: usize) {
    let now = (KEPT_BYTES.get() + added).saturating_sub(removed);
    KEPT_BYTES.set(now);
    if added > removed {
        PEAK.with_borrow(|p| {
            if let Some(p) = p {
                p.fetch_max(now, Ordering::Relaxed);
            }
        });
    }
}

/// An empty buffer that holds at least `capacity` bytes: the smallest kept one that does, else a
/// new one of `capacity` rounded up to a power of two.
pub(super) fn buffer(capacity: usize) -> Vec<u8> {
    let want = capacity.max(MIN).next_power_of_two();
    let reused = FREE.with_borrow_mut(|free| {
        let best = free
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= want)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i)?;
        Some(free.swap_remove(best))
    });
    if let Some(b) = &reused {
        kept(0, b.capacity());
    }
    match reused {
        Some(mut b) => {
            b.clear();
            b
        }
        None => Vec::with_capacity(want),
    }
}

/// Gives a buffer back to the pool (its bytes are not needed any more). Past [`KEPT`] buffers, the
/// smallest is freed.
pub(super) fn give(b: Vec<u8>) {
    if b.capacity() < MIN {
        return;
    }
    let (added, removed) = FREE.with_borrow_mut(|free| {
        let added = b.capacity();
        if free.len() < KEPT {
            free.push(b);
            return (added, 0);
        }
        match free
            .iter()
            .enumerate()
            .min_by_key(|(_, f)| f.capacity())
            .filter(|(_, f)| f.capacity() < b.capacity())
        {
            Some((i, _)) => (added, std::mem::replace(&mut free[i], b).capacity()),
            None => (0, 0),
        }
    });
    kept(added, removed);
}

/// A buffer that goes back to the pool when dropped.
struct Pooled(Vec<u8>);

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        give(std::mem::take(&mut self.0));
    }
}

/// `b` as [`Bytes`] (a page's or a chunk's) without a copy; the buffer goes back to the pool of the
/// thread that drops the last reference.
pub(super) fn bytes(b: Vec<u8>) -> Bytes {
    Bytes::from_owner(Pooled(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_is_the_next_one_taken_of_its_size() {
        let b = buffer(100_000);
        assert!(b.is_empty());
        assert_eq!(b.capacity(), 131_072, "rounded up to a power of two");
        let at = b.as_ptr() as usize;
        let mut b = b;
        b.extend_from_slice(&[7; 1000]);
        // Dropped as the bytes of a page: back in the pool, emptied when taken again.
        let page = bytes(b);
        assert_eq!(&page[..3], &[7, 7, 7]);
        drop(page);
        let again = buffer(120_000);
        assert_eq!(again.as_ptr() as usize, at, "the same allocation");
        assert!(again.is_empty());
        // A larger request does not take it.
        give(again);
        let larger = buffer(200_000);
        assert_ne!(larger.as_ptr() as usize, at);
        assert!(larger.capacity() >= 200_000);
        // The smallest buffer that fits is taken.
        give(larger);
        let small = buffer(5000);
        assert_eq!(small.as_ptr() as usize, at);
    }

    /// The peak a thread's pool reports is the most capacity its kept buffers held at once: buffers
    /// taken out leave it, buffers given back add to it, and a later smaller pool does not lower it.
    #[test]
    fn the_reported_peak_is_the_most_the_kept_buffers_held() {
        // A thread of its own: the pool is the thread's, and other tests use theirs.
        std::thread::spawn(|| {
            let peak = Arc::new(AtomicUsize::new(0));
            count_into(peak.clone());
            let (a, b) = (buffer(100_000), buffer(10_000));
            assert_eq!(peak.load(Ordering::Relaxed), 0, "handed out, not kept");
            give(a);
            give(b);
            assert_eq!(peak.load(Ordering::Relaxed), 131_072 + 16_384);
            let a = buffer(100_000);
            assert_eq!(KEPT_BYTES.get(), 16_384, "taken back out");
            drop(a);
            assert_eq!(
                peak.load(Ordering::Relaxed),
                131_072 + 16_384,
                "still the most"
            );
            // Too small to keep: never counted.
            give(Vec::with_capacity(100));
            assert_eq!(KEPT_BYTES.get(), 16_384);
        })
        .join()
        .unwrap();
    }
}
