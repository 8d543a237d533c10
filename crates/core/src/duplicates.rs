//! The claims already read in a batch, to flag duplicate transmissions (`R030`): the keys of
//! (practitioner, claim number) ([`crate::carry::claim_key`]) as sorted vectors, checked a window at a
//! time by sorting the window's keys and walking them against the sorted runs (issue #13).
//!
//! Why not a hash set: a set of 5.6 M keys (a national night) took 72 MiB (8 M buckets of 9 bytes)
//! and, while it doubled, the old and new tables at once. Sorted, a key costs 8 bytes; the big run's
//! capacity is reserved once from the file's size (a claim is at least one 129-byte record), and the
//! pages never written are not memory. What is read is compared in order: no random probe per claim.
//!
//! Runs of geometric sizes: each window's new keys become a run; the newest run is merged (in
//! place, from the back) into the one below while that one is not [`GROWTH`] times larger. Runs
//! therefore shrink by that factor from the oldest (which holds the big reservation) to the newest:
//! at most log₈ n + 1 runs, each key moved O(log n) times whatever the window size (a design with
//! one run for new keys made a window of a few claims move that whole run: quadratic at
//! `--window-kib 64`), the runs above the oldest at most a seventh of it. A window's check walks
//! its sorted keys forward through every run, galloping.
//!
//! Architecture invariant: the first claim of a key in file order is not a duplicate, every later
//! one is — the same answer as a set filled in file order, for any window size and thread count.

use rayon::prelude::*;

/// How much larger a run is than the next newer one (below it, the newer run is merged into it).
const GROWTH: usize = 8;

/// Sorted keys of the claims read so far, one entry each.
#[derive(Default)]
pub(crate) struct ClaimsSeen {
    /// Sorted runs, oldest (largest) first; no key in two runs.
    runs: Vec<Vec<u64>>,
    /// Room reserved for the oldest run before the first key arrives ([`ClaimsSeen::reserve`]).
    reserved: Vec<u64>,
    /// Emptied runs, reused as the next windows' runs.
    spare: Vec<Vec<u64>>,
    /// Each run's galloping position during a window's check.
    pos: Vec<usize>,
    /// The window's (key, position in the window), sorted; reused from window to window.
    window: Vec<(u64, u32)>,
    /// The window's keys not seen before, sorted, one each.
    fresh: Vec<u64>,
}

impl ClaimsSeen {
    /// Reserves room for `n` keys in the oldest run (address space: a page holds memory only once
    /// written). Best effort: when the room cannot be had, runs grow as keys come.
    pub(crate) fn reserve(&mut self, n: usize) {
        let target = if self.runs.is_empty() {
            &mut self.reserved
        } else {
            &mut self.runs[0]
        };
        let _ = target.try_reserve_exact(n.saturating_sub(target.len()));
    }

    /// Keys held.
    pub(crate) fn len(&self) -> usize {
        self.runs.iter().map(Vec::len).sum()
    }

    /// Bytes written (the runs' entries; the oldest run's reserved tail is not counted).
    pub(crate) fn bytes(&self) -> usize {
        self.len() * std::mem::size_of::<u64>()
            + self.spare.iter().map(Vec::capacity).sum::<usize>() * std::mem::size_of::<u64>()
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
        self.pos.clear();
        self.pos.resize(self.runs.len(), 0);
        let mut k = 0;
        while let Some(&(key, _)) = self.window.get(k) {
            let known = self
                .runs
                .iter()
                .zip(self.pos.iter_mut())
                .any(|(run, p)| gallop(run, p, key));
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
        if self.fresh.is_empty() {
            return;
        }
        let mut run = if self.runs.is_empty() {
            std::mem::take(&mut self.reserved)
        } else {
            self.spare.pop().unwrap_or_default()
        };
        run.extend_from_slice(&self.fresh);
        self.runs.push(run);
        while let [.., below, top] = self.runs.as_slice() {
            if below.len() / GROWTH >= top.len() {
                break;
            }
            let Some(mut top) = self.runs.pop() else {
                break;
            };
            if let Some(below) = self.runs.last_mut() {
                merge_into(below, &top);
            }
            top.clear();
            self.spare.push(top);
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

    /// The keys of every run, each run checked sorted.
    fn keys_held(s: &ClaimsSeen) -> Vec<u64> {
        for run in &s.runs {
            assert!(run.windows(2).all(|p| p[0] < p[1]));
        }
        let mut all: Vec<u64> = s.runs.iter().flatten().copied().collect();
        all.sort();
        all
    }

    #[test]
    fn runs_merged_across_levels_keep_every_key_once_and_sorted() {
        let mut s = ClaimsSeen::default();
        s.reserve(1000);
        // Windows of interleaved keys, so that runs are merged into each other many times.
        let n = 3 * (1 << 16) as u64;
        for w in 0..6u64 {
            let keys: Vec<Option<u64>> = (0..n / 6).map(|i| Some(i * 6 + w)).collect();
            assert!(window(&mut s, &keys).is_empty());
        }
        assert_eq!(s.len() as u64, n);
        assert_eq!(keys_held(&s), (0..n).collect::<Vec<u64>>());
        // Every key again: all duplicates, whichever run holds them.
        let again: Vec<Option<u64>> = (0..n).rev().map(Some).collect();
        assert_eq!(window(&mut s, &again).len() as u64, n);
    }

    #[test]
    fn windows_of_a_few_claims_keep_few_runs_each_eight_times_the_next() {
        // 20 000 windows of 3 claims (one repeated from the window before): the runs stay
        // logarithmic in number and geometric in size, so a tiny window never moves every key.
        let mut s = ClaimsSeen::default();
        let mut dups = 0;
        for w in 0..20_000u64 {
            let keys = [
                Some(w * 7919 % 100_003),
                Some(w * 7919 % 100_003 + 200_000),
                None,
            ];
            let again = (w > 0).then(|| Some((w - 1) * 7919 % 100_003));
            let mut v = keys.to_vec();
            v.extend(again);
            dups += window(&mut s, &v).len();
            assert!(s.runs.len() <= 7, "{} runs after window {w}", s.runs.len());
            for pair in s.runs.windows(2) {
                assert!(pair[0].len() / GROWTH >= pair[1].len());
            }
        }
        // Each window from the second repeats the first key of the window before.
        assert_eq!(dups, 19_999);
        assert_eq!(s.len(), 40_000);
        assert_eq!(keys_held(&s).len(), 40_000);
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
