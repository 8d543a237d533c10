//! The claims already read in a batch, to flag duplicate transmissions (`R030`): the keys of
//! (practitioner, claim number) ([`crate::carry::claim_key`]) as sorted vectors, checked a window at a
//! time by sorting the window's keys and walking them against the sorted runs (issue #13).
//!
//! Why not a hash set: a set of 5.6 M keys (a national night) took 72 MiB (8 M buckets of 9 bytes)
//! and, while it doubled, the old and new tables at once. Sorted, a key costs 8 bytes; the big run's
//! capacity is reserved once from the file's size (a claim is at least one 129-byte record), and the
//! pages never written are not memory. What is read is compared in order: no random probe per claim.
//!
//! Two levels: `recent` takes each window's new keys (a merge from the back, in place), and is merged
//! into `all` when it reaches an eighth of it (at least [`RECENT_MIN`]); each key is moved a bounded
//! number of times on average, and a window's check reads both runs forward, galloping.
//!
//! Architecture invariant: the first claim of a key in file order is not a duplicate, every later
//! one is — the same answer as a set filled in file order, for any window size and thread count.

use rayon::prelude::*;

/// The smallest `recent` run merged into `all`.
const RECENT_MIN: usize = 1 << 16;

/// Sorted keys of the claims read so far, one entry each.
#[derive(Default)]
pub(crate) struct ClaimsSeen {
    all: Vec<u64>,
    recent: Vec<u64>,
    /// The window's (key, position in the window), sorted; reused from window to window.
    window: Vec<(u64, u32)>,
    /// The window's keys not seen before, sorted, one each.
    fresh: Vec<u64>,
}

impl ClaimsSeen {
    /// Reserves room for `n` keys in the big run (address space: a page holds memory only once
    /// written).
    pub(crate) fn reserve(&mut self, n: usize) {
        self.all.reserve_exact(n.saturating_sub(self.all.len()));
    }

    /// Keys held.
    pub(crate) fn len(&self) -> usize {
        self.all.len() + self.recent.len()
    }

    /// Bytes written (the runs' entries; the big run's reserved tail is not counted).
    pub(crate) fn bytes(&self) -> usize {
        self.len() * std::mem::size_of::<u64>()
            + self.window.capacity() * std::mem::size_of::<(u64, u32)>()
            + self.fresh.capacity() * std::mem::size_of::<u64>()
    }

    /// Flags the window's claims whose key was read before — earlier in the window (in file order)
    /// or in an earlier window — and adds its keys. `keys` yields the window's claims in file order,
    /// `None` for a claim without a key (no header); `dup(i)` is called for each duplicate claim `i`.
    pub(crate) fn check_window(
        &mut self,
        keys: impl Iterator<Item = Option<u64>>,
        mut dup: impl FnMut(usize),
    ) {
        self.window.clear();
        self.window.extend(
            keys.enumerate()
                .filter_map(|(i, k)| k.map(|k| (k, i as u32))),
        );
        // (key, position) pairs are distinct: the order is total, the result deterministic.
        self.window.par_sort_unstable();
        self.fresh.clear();
        let (mut a, mut r) = (0usize, 0usize);
        let mut k = 0;
        while let Some(&(key, _)) = self.window.get(k) {
            let known = gallop(&self.all, &mut a, key) || gallop(&self.recent, &mut r, key);
            // Within a key, positions ascend: the first is the earliest in file order.
            let mut first = !known;
            while let Some(&(_, i)) = self.window.get(k).filter(|e| e.0 == key) {
                if !first {
                    dup(i as usize);
                }
                first = false;
                k += 1;
            }
            if !known {
                self.fresh.push(key);
            }
        }
        merge_into(&mut self.recent, &self.fresh);
        if self.recent.len() >= RECENT_MIN.max(self.all.len() / 8) {
            merge_into(&mut self.all, &self.recent);
            self.recent.clear();
        }
    }
}

/// Whether `key` is in the sorted `v`, searching forward from `*pos` (exponential steps, then a
/// binary search); `*pos` is left at the first entry not below `key`, where the next, larger key's
/// search starts.
fn gallop(v: &[u64], pos: &mut usize, key: u64) -> bool {
    let mut lo = *pos;
    let mut hi = lo;
    let mut step = 1;
    while v.get(hi).is_some_and(|&x| x < key) {
        lo = hi + 1;
        hi += step;
        step *= 2;
    }
    let hi = hi.min(v.len());
    let i = lo + v.get(lo..hi).map_or(0, |s| s.partition_point(|&x| x < key));
    *pos = i;
    v.get(i) == Some(&key)
}

/// Merges the sorted `src` into the sorted `dst` in place, from the back (no key of `src` is in
/// `dst`): `dst` grows by `src.len()` and no entry is written before it is read.
fn merge_into(dst: &mut Vec<u64>, src: &[u64]) {
    let mut i = dst.len();
    dst.resize(i + src.len(), 0);
    let mut w = dst.len();
    let mut j = src.len();
    while let Some(&s) = j.checked_sub(1).and_then(|j| src.get(j)) {
        w -= 1;
        match i.checked_sub(1).and_then(|i| dst.get(i)).copied() {
            Some(d) if d > s => {
                dst[w] = d;
                i -= 1;
            }
            _ => {
                dst[w] = s;
                j -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The duplicates of a window, as positions.
    fn window(seen: &mut ClaimsSeen, keys: &[Option<u64>]) -> Vec<usize> {
        let mut d = Vec::new();
        seen.check_window(keys.iter().copied(), |i| d.push(i));
        d.sort();
        d
    }

    #[test]
    fn a_key_is_new_the_first_time_in_file_order_then_a_duplicate_in_and_across_windows() {
        let mut s = ClaimsSeen::default();
        // In the window: 7 at 0 and 3 (3 is the duplicate), 5 at 1 and 4; no key at 2.
        assert_eq!(
            window(&mut s, &[Some(7), Some(5), None, Some(7), Some(5)]),
            vec![3, 4]
        );
        // The next window: 5 and 7 were read before; 6 is new, then repeated.
        assert_eq!(
            window(&mut s, &[Some(6), Some(5), Some(6), Some(7)]),
            vec![1, 2, 3]
        );
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn runs_merged_across_levels_keep_every_key_once_and_sorted() {
        let mut s = ClaimsSeen::default();
        // Enough windows of interleaved keys to merge `recent` into `all` several times.
        let n = (RECENT_MIN * 3) as u64;
        for w in 0..6u64 {
            let keys: Vec<Option<u64>> = (0..n / 6).map(|i| Some(i * 6 + w)).collect();
            assert!(window(&mut s, &keys).is_empty());
        }
        assert_eq!(s.len() as u64, n);
        let mut all: Vec<u64> = s.all.iter().chain(&s.recent).copied().collect();
        assert!(s.all.windows(2).all(|p| p[0] < p[1]));
        assert!(s.recent.windows(2).all(|p| p[0] < p[1]));
        all.sort();
        assert_eq!(all, (0..n).collect::<Vec<u64>>());
        // Every key again: all duplicates, whichever run holds them.
        let again: Vec<Option<u64>> = (0..n).rev().map(Some).collect();
        assert_eq!(window(&mut s, &again).len() as u64, n);
    }

    #[test]
    fn gallop_finds_keys_in_ascending_order_from_the_last_position() {
        let v = [2u64, 4, 6, 8, 10, 12, 14];
        let mut p = 0;
        assert!(!gallop(&v, &mut p, 1));
        assert!(gallop(&v, &mut p, 2));
        assert!(!gallop(&v, &mut p, 9));
        assert_eq!(p, 4);
        assert!(gallop(&v, &mut p, 14));
        assert!(!gallop(&v, &mut p, 15));
        assert_eq!(p, 7);
    }
}
