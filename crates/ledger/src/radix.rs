//! An in-place radix sort of records led by a uniform 64-bit key (the night's mixed claim keys and
//! act hashes, `night::sort_claims`, `sort_acts`): the order `sort_unstable` gives, with a few
//! instructions a record instead of a comparison sort's ≈ 17 comparisons.
//!
//! Most significant digit first, as an American flag sort: each pass counts the records of each
//! digit, then moves every record to its bucket by cycles of swaps (each record moved once, no
//! second buffer: at national size the night's 5.6 M claims are 90 MiB, and a scratch copy would be
//! as many MiB of fresh memory the kernel zeroes, issue #14), then sorts each bucket on the next
//! digit. A digit gives about 4 records a bucket, up to 16 bits (a 100 k night's claims: one pass,
//! then each bucket insertion-sorted). Only slices within the caches ([`CACHED`]: 4 MiB) are
//! sorted so; a larger one (a national night's 5.6 M claims, 90 MiB) takes the pool's comparison
//! sort, measured faster there ([`sort`]). Buckets of at most [`SMALL`] records, and records whose
//! keys are equal on all 64 bits,
//! are finished by a comparison sort of the whole record
//! (insertion sort, or `sort_unstable` for a crowd of equal keys: never quadratic).
//!
//! The result is `sort_unstable`'s exactly as long as the records' order (`Ord`) sorts by the key
//! first ([`Keyed::key`]): records with different keys are ordered by key, records with the same
//! key by the comparison sort. With records that are all different (the night's carry their
//! position in the file) there is one sorted order, so any correct sort gives it (tests against
//! `sort_unstable` over random and adversarial keys).

use rayon::prelude::*;

/// A record sorted by [`sort`]: its `Ord` compares [`Keyed::key`] first.
pub(crate) trait Keyed: Copy + Ord + Send {
    fn key(&self) -> u64;
}

impl Keyed for (u64, u64) {
    fn key(&self) -> u64 {
        self.0
    }
}

impl Keyed for (u64, u64, u64) {
    fn key(&self) -> u64 {
        self.0
    }
}

/// Buckets of at most this many records are insertion-sorted.
const SMALL: usize = 16;
/// Slices of at most these bytes are radix-sorted: within the caches (L2, or a share of the L3),
/// where a pass's buckets' write heads land in memory already cached.
const CACHED: usize = 4 << 20;
/// Widest digit (64 Ki buckets).
const WIDE: u32 = 16;

/// Sorts `v` into the order `v.sort_unstable()` gives (module doc), in place: by radix when it
/// fits the caches ([`CACHED`]), else by the pool's comparison sort. Over a national night's
/// 5.6 M claims (90 MiB) the radix sort's first pass, one thread moving each record to one of 256
/// places far apart, took more CPU than the comparison sort on two (a standalone test of the same
/// records, alternated, three rounds each at load 9: 0.46–0.50 against 0.35–0.43 s of CPU, wall
/// 2.1–2.9 against 1.0–1.8 s): there it is not used.
pub(crate) fn sort<T: Keyed>(v: &mut [T]) {
    if v.len().saturating_mul(std::mem::size_of::<T>()) > CACHED {
        v.par_sort_unstable();
        return;
    }
    sort_from(v, 0);
}

/// Sorts `v`, whose keys are equal on their top `done` bits.
fn sort_from<T: Keyed>(v: &mut [T], done: u32) {
    let n = v.len();
    if n <= SMALL {
        insertion(v);
        return;
    }
    if done >= 64 {
        // every key equal: the records' own order decides
        v.sort_unstable();
        return;
    }
    // About 4 records a bucket, never past the key's last bit: a 100 k night's claims in one pass.
    let bits = (usize::BITS - n.leading_zeros())
        .saturating_sub(2)
        .clamp(1, WIDE)
        .min(64 - done);
    let digit = |e: &T| ((e.key() << done) >> (64 - bits)) as usize;
    let width = 1usize << bits;
    // `ends[d + 1]`: the records of digit `d`, then where its bucket ends.
    let mut ends = vec![0usize; width + 1];
    for e in v.iter() {
        ends[digit(e) + 1] += 1;
    }
    if ends[1..].contains(&n) {
        // every key in one bucket: no move, the next digit
        sort_from(v, done + bits);
        return;
    }
    for b in 1..=width {
        ends[b] += ends[b - 1];
    }
    // `next[b]`: the first place of bucket `b` not yet holding one of its records.
    let mut next = ends.clone();
    for b in 0..width {
        let end = ends[b + 1];
        while next[b] < end {
            let i = next[b];
            let mut e = v[i];
            // Carry the record to its bucket, taking the one there, until one belongs here.
            let mut d = digit(&e);
            while d != b {
                let j = next[d];
                next[d] += 1;
                std::mem::swap(&mut e, &mut v[j]);
                d = digit(&e);
            }
            v[i] = e;
            next[b] += 1;
        }
    }
    drop(next);
    let done = done + bits;
    for w in ends.windows(2) {
        let b = &mut v[w[0]..w[1]];
        // most buckets: a few records, sorted here rather than through a call
        if b.len() <= SMALL {
            insertion(b);
        } else {
            sort_from(b, done);
        }
    }
}

fn insertion<T: Ord + Copy>(v: &mut [T]) {
    for i in 1..v.len() {
        let e = v[i];
        let mut j = i;
        while j > 0 && v[j - 1] > e {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = e;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64: the tests' random numbers.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            crate::segments::mix(self.0)
        }
    }

    fn check<T: Keyed + std::fmt::Debug>(v: Vec<T>, what: &str) {
        let mut want = v.clone();
        want.sort_unstable();
        let mut got = v;
        sort(&mut got);
        assert!(got == want, "{what}: {} records", want.len());
    }

    /// Keys of every shape the night's sorts could meet, each record carrying its position (as
    /// the night's do) and a third field.
    fn shapes(n: usize, seed: u64) -> Vec<(String, Vec<u64>)> {
        let mut r = Rng(seed);
        let random: Vec<u64> = (0..n).map(|_| r.next()).collect();
        let mut sorted = random.clone();
        sorted.sort_unstable();
        let reversed: Vec<u64> = sorted.iter().rev().copied().collect();
        vec![
            ("random".into(), random.clone()),
            ("sorted".into(), sorted),
            ("reversed".into(), reversed),
            ("all equal".into(), vec![0x1234_5678_9abc_def0; n]),
            ("all zero".into(), vec![0; n]),
            ("all max".into(), vec![u64::MAX; n]),
            // a few distinct keys, each repeated many times (re-sent claims)
            (
                "few keys".into(),
                (0..n)
                    .map(|_| r.next() % 5 * 0x0101_0101_0101_0101)
                    .collect(),
            ),
            // keys differing only in their low bits: every top digit equal
            (
                "low bits only".into(),
                (0..n).map(|_| r.next() & 0xff).collect(),
            ),
            (
                "top bits only".into(),
                (0..n).map(|_| r.next() & 0xff00_0000_0000_0000).collect(),
            ),
            // one crowded bucket among uniform keys
            (
                "one crowd".into(),
                (0..n)
                    .map(|i| {
                        if i % 3 == 0 {
                            0x8000_0000_0000_0000 | r.next() % 7
                        } else {
                            r.next()
                        }
                    })
                    .collect(),
            ),
            // every key twice, the copies far apart
            (
                "pairs".into(),
                random
                    .iter()
                    .take(n / 2)
                    .chain(random.iter().take(n - n / 2))
                    .copied()
                    .collect(),
            ),
        ]
    }

    #[test]
    fn the_radix_sort_orders_records_as_sort_unstable_does_over_random_and_adversarial_keys() {
        // 300 000 pairs: beyond `CACHED`, the comparison sort
        for n in [0, 1, 2, 15, 16, 17, 100, 1_000, 20_000, 70_000, 300_000] {
            for (what, keys) in shapes(n, n as u64) {
                let pairs: Vec<(u64, u64)> = keys
                    .iter()
                    .enumerate()
                    .map(|(i, &k)| (k, (i as u64) << 32 | (k ^ i as u64) & 0xffff_ffff))
                    .collect();
                check(pairs, &format!("pairs, {what}"));
                let triples: Vec<(u64, u64, u64)> = keys
                    .iter()
                    .enumerate()
                    .map(|(i, &k)| (k, (i as u64) << 32, k.rotate_left(17)))
                    .collect();
                check(triples, &format!("triples, {what}"));
                // records that are not all different (the same position): still sort_unstable's
                let dup: Vec<(u64, u64)> = keys.iter().map(|&k| (k, k % 3)).collect();
                check(dup, &format!("repeated records, {what}"));
            }
        }
    }
}
