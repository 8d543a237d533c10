//! Claim numbers and acts of each night, stored as sorted segments and read back into one in-memory
//! index (formats/ledger.md, "claims and acts: segments").
//!
//! Why not one B-tree entry per key: a national night reads ≈ 5.6 M claim numbers and ≈ 10 M lines,
//! almost all of them new. One point lookup per key and one B-tree insert per key was ≈ 25 s of
//! the night (issue #14). A night's keys are instead sorted once and written as a few large values
//! (chunks of at most [`CHUNK_BYTES`] of fixed-size records); a run loads every live segment into one sorted array
//! with a radix table on the keys' top bits, built in a background thread while the claims file is
//! parsed, and the engine's lookups are then two cache misses each, with no store access.
//!
//! Architecture invariant: a segment holds the keys of exactly one night (its `seq`); the purge
//! drops whole chunks, or rewrites a chunk without its dead records, never edits a record.

use crate::LedgerError;
use rayon::prelude::*;

/// Most bytes of one stored chunk (a chunk of segment records, or of before-images: in a file of its
/// own since layout 6, `chunks`; one redb value until then, hence the size).
/// redb gives a value's leaf a page of a power-of-two number of 4 KiB pages (a buddy allocator)
/// and writes the page whole: chunks of 2^18 records (3 MiB of claims, 5 MiB of acts) and
/// before-image chunks cut just past 4 MiB took 4, 8 and 8 MiB pages — a third to a half of what
/// a night wrote was padding (issue #14). Kept 4 KiB under 4 MiB for the leaf's header, key and
/// lengths, so that a chunk fills a 4 MiB page.
pub const CHUNK_BYTES: usize = (4 << 20) - (4 << 10);

/// Bytes of one record of each kind.
pub const CLAIM_REC: usize = 12;
pub const ACT_REC: usize = 20;
/// Lookups made together by [`Index::get_group`] (and states read ahead together,
/// `Images::touch_group`): enough misses in flight to fill the core's miss buffers.
pub const GROUP: usize = 16;

/// Asks the CPU to bring the line of `s[i]` into the cache, without waiting for it (nothing if `i`
/// is past the end): the lookups' read-ahead (`Index::get_group`, `Images::touch_group`).
#[inline(always)]
pub(crate) fn prefetch<T>(s: &[T], i: usize) {
    if let Some(p) = s.get(i) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is a hint: it reads nothing the program sees and cannot fault, and `p`
        // is a valid reference besides. `_mm_prefetch` is `unsafe` only for its target feature
        // (SSE, in every x86_64 target).
        #[allow(unsafe_code)]
        unsafe {
            core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                std::ptr::from_ref(p).cast(),
            );
        }
        #[cfg(not(target_arch = "x86_64"))]
        std::hint::black_box(p);
    }
}

/// What a segment holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// (mixed claim key u64, date of care u32 with bit 31 = paid)
    Claims = 0,
    /// (act hash u64, act check u64, date of care u32)
    Acts = 1,
}

impl Kind {
    pub fn rec(self) -> usize {
        match self {
            Kind::Claims => CLAIM_REC,
            Kind::Acts => ACT_REC,
        }
    }
    /// Records per stored chunk: as many as [`CHUNK_BYTES`] hold (349 184 claim numbers, 209 510
    /// acts).
    pub fn chunk(self) -> usize {
        CHUNK_BYTES / self.rec()
    }
}

/// The claim key as stored and indexed: `carry::claim_key` through a bijective 64-bit mixer (the
/// finaliser of splitmix64), so that keys spread evenly over the radix table. Bijective: two claims
/// never share a mixed key.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One record, decoded: key, check (acts; 0 for claims), date of care, paid (claims).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rec {
    pub key: u64,
    pub check: u64,
    pub date: u32,
    pub paid: bool,
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[i..i + 4]);
    u32::from_le_bytes(a)
}
fn u64_at(b: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(a)
}

pub fn encode(kind: Kind, recs: &[Rec], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(recs.len() * kind.rec());
    for r in recs {
        out.extend_from_slice(&r.key.to_le_bytes());
        match kind {
            Kind::Claims => {
                out.extend_from_slice(&(r.date | (r.paid as u32) << 31).to_le_bytes());
            }
            Kind::Acts => {
                out.extend_from_slice(&r.check.to_le_bytes());
                out.extend_from_slice(&r.date.to_le_bytes());
            }
        }
    }
}

pub fn decode(kind: Kind, b: &[u8]) -> Result<impl Iterator<Item = Rec> + '_, LedgerError> {
    let n = kind.rec();
    if !b.len().is_multiple_of(n) {
        return Err(LedgerError::Corrupt(format!(
            "{kind:?} segment of {} bytes: not whole records",
            b.len()
        )));
    }
    Ok(b.chunks_exact(n).map(move |r| match kind {
        Kind::Claims => {
            let d = u32_at(r, 8);
            Rec {
                key: u64_at(r, 0),
                check: 0,
                date: d & 0x7fff_ffff,
                paid: d >> 31 != 0,
            }
        }
        Kind::Acts => Rec {
            key: u64_at(r, 0),
            check: u64_at(r, 8),
            date: u32_at(r, 16),
            paid: true,
        },
    }))
}

/// A night's records, sorted by key, one per key (the first one in file order is kept: a repeated
/// key within one night carries the same identity and date).
///
/// A stable comparison sort on the pool. A counting sort on the keys' top bits was tried (issue #14):
/// fewer instructions (callgrind, 5 % night: 156.5 M → 44.3 M) but not faster in wall time (5.6 M
/// records: 1.06 against 0.84 s on 1 thread, 0.77 against 0.69 s on 2, at load 5–6), two tables of
/// 2^23 counters and a full output copy, and quadratic in a slot of many keys with equal top bits.
pub fn sort_night(mut recs: Vec<Rec>) -> Vec<Rec> {
    // Stable: the first record of a key in file order comes first and is the one kept.
    recs.par_sort_by_key(|r| r.key);
    recs.dedup_by_key(|r| r.key);
    recs
}

/// Every live key of the ledger's nights, sorted, with the night that recorded it first.
#[derive(Default)]
pub struct Index {
    keys: Vec<u64>,
    /// Acts: the second hash of each key (empty for claims).
    checks: Vec<u64>,
    /// Night `seq` << 1 | paid.
    tags: Vec<u32>,
    /// `radix[p]..radix[p + 1]`: the keys whose top `bits` bits are `p`.
    radix: Vec<u32>,
    bits: u32,
}

/// Records as columns, in any order: key, night `seq` << 1 | paid, and the check (acts only).
#[derive(Default)]
pub struct Columns {
    pub keys: Vec<u64>,
    pub tags: Vec<u32>,
    pub checks: Vec<u64>,
}

impl Columns {
    /// Room for `n` records of `kind`, if the allocator grants it (`None` otherwise: `n` is a
    /// hint read from the ledger, never a reason to abort).
    pub fn try_with_capacity(kind: Kind, n: usize) -> Option<Columns> {
        let mut c = Columns::default();
        c.keys.try_reserve_exact(n).ok()?;
        c.tags.try_reserve_exact(n).ok()?;
        if kind == Kind::Acts {
            c.checks.try_reserve_exact(n).ok()?;
        }
        Some(c)
    }

    #[inline]
    pub fn push(&mut self, kind: Kind, seq: u32, r: &Rec) {
        self.keys.push(r.key);
        self.tags.push(seq << 1 | r.paid as u32);
        if kind == Kind::Acts {
            self.checks.push(r.check);
        }
    }
}

/// A found key: the night that recorded it, the check hash (acts), paid (claims).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub seq: u32,
    pub check: u64,
    pub paid: bool,
}

impl Index {
    /// Builds the index from (seq, record) of every live segment, in any order; a key recorded by
    /// several nights answers with the earliest.
    ///
    /// A counting sort on the keys' top bits (the keys are uniform: hashes, or mixed claim keys),
    /// then an insertion sort of each radix slot (a handful of keys): linear in the records, where a
    /// comparison sort of all nights' records took seconds. Sequential on purpose: it runs in a
    /// thread of its own while the engine's pool works, and the pool's workers may be waiting for it
    /// (a rayon call from here could wait for them in turn).
    pub fn build(kind: Kind, all: Vec<(u32, Rec)>) -> Index {
        let mut c = Columns::default();
        for (s, r) in all {
            c.push(kind, s, &r);
        }
        Index::from_columns(kind, c)
    }

    /// [`Index::build`] from the records as columns ([`Columns`]: 12 bytes a claim, 20 an act,
    /// where a `(seq, Rec)` takes 32 — at national size ≈ 11 M claim numbers, read every night).
    ///
    /// The columns become the index's own arrays: the records are moved to their radix slots in
    /// place (a cycle of swaps per misplaced record, each record moved once, as an American flag
    /// sort does), not scattered into a second set of arrays. Those were fresh memory, ≈ 100 MiB
    /// on national night 2 (claims 12 bytes and acts 20 bytes a record) faulted in and zeroed by
    /// the kernel while the engine waited for the load (issue #14: `perf` of the night,
    /// `Index::from_columns`' page faults). The moves are not stable, and need not be: each slot is
    /// then sorted by (key, night, paid, check), a total order on a valid ledger's records (one
    /// record per key and night, `sort_night`), so the index is the one the stable scatter made
    /// (test `the_index_built_in_place_is_the_one_a_scatter_into_new_arrays_builds`).
    pub fn from_columns(kind: Kind, c: Columns) -> Index {
        let Columns {
            mut keys,
            mut tags,
            mut checks,
        } = c;
        let n = keys.len();
        let acts = kind == Kind::Acts;
        // Columns are pushed together; a shorter one (built by hand) reads as zeroes, as before.
        tags.resize(n, 0);
        if acts {
            checks.resize(n, 0);
        } else {
            checks = Vec::new();
        }
        // About 4 keys a radix slot (2^bits ≥ n / 4): the lookups either come sorted (a window's
        // claims, `Carry::claims`) or mostly miss (acts: a slot's keys, 8 bytes each, share a
        // cache line), so a slot of a handful of keys costs no extra miss, while one slot a key
        // (the table as long as the keys) was 32 MiB of a national night's 96 MiB claim index.
        let bits = (usize::BITS - n.leading_zeros())
            .saturating_sub(2)
            .clamp(8, 24);
        let shift = 64 - bits;
        let mut radix = vec![0u32; (1usize << bits) + 1];
        for k in &keys {
            radix[(k >> shift) as usize + 1] += 1;
        }
        for i in 1..radix.len() {
            radix[i] += radix[i - 1];
        }
        // `next[p]`: the first position of slot p not yet holding one of its records.
        let mut next = radix.clone();
        for p in 0..radix.len() - 1 {
            let end = radix[p + 1] as usize;
            while (next[p] as usize) < end {
                let i = next[p] as usize;
                let (mut k, mut t) = (keys[i], tags[i]);
                let mut ch = if acts { checks[i] } else { 0 };
                // Carry the record to its slot, taking the one there, until one belongs here.
                let mut q = (k >> shift) as usize;
                while q != p {
                    let j = next[q] as usize;
                    next[q] += 1;
                    std::mem::swap(&mut k, &mut keys[j]);
                    std::mem::swap(&mut t, &mut tags[j]);
                    if acts {
                        std::mem::swap(&mut ch, &mut checks[j]);
                    }
                    q = (k >> shift) as usize;
                }
                keys[i] = k;
                tags[i] = t;
                if acts {
                    checks[i] = ch;
                }
                next[p] += 1;
            }
        }
        drop(next);
        // Each slot by (key, night, paid, check): the earliest night of a key first.
        let order = |keys: &[u64], tags: &[u32], checks: &[u64], i: usize| {
            (keys[i], tags[i], checks.get(i).copied().unwrap_or(0))
        };
        for w in radix.windows(2) {
            let (a, e) = (w[0] as usize, w[1] as usize);
            for i in a + 1..e {
                let mut j = i;
                while j > a && order(&keys, &tags, &checks, j - 1) > order(&keys, &tags, &checks, j)
                {
                    keys.swap(j - 1, j);
                    tags.swap(j - 1, j);
                    if acts {
                        checks.swap(j - 1, j);
                    }
                    j -= 1;
                }
            }
        }
        // One record per key: the first, of the earliest night.
        let mut w = 0;
        for i in 0..n {
            if w > 0 && keys[w - 1] == keys[i] {
                continue;
            }
            keys[w] = keys[i];
            tags[w] = tags[i];
            if acts {
                checks[w] = checks[i];
            }
            w += 1;
        }
        if w < n {
            keys.truncate(w);
            tags.truncate(w);
            checks.truncate(if acts { w } else { 0 });
            radix.iter_mut().for_each(|r| *r = 0);
            for k in &keys {
                radix[(k >> shift) as usize + 1] += 1;
            }
            for i in 1..radix.len() {
                radix[i] += radix[i - 1];
            }
        }
        Index {
            keys,
            checks,
            tags,
            radix,
            bits,
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Heap bytes held: `LIQUIDATOR_TIMING`'s memory figures.
    pub fn heap_bytes(&self) -> usize {
        self.keys.capacity() * 8
            + self.checks.capacity() * 8
            + self.tags.capacity() * 4
            + self.radix.capacity() * 4
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn get(&self, key: u64) -> Option<Hit> {
        if self.keys.is_empty() {
            return None;
        }
        let p = (key >> (64 - self.bits)) as usize;
        let (a, b) = (self.radix[p] as usize, self.radix[p + 1] as usize);
        self.hit_in(key, a, b)
    }

    /// Reads what [`Index::get`] reads first for `key` — its radix slot, then its slot's first
    /// key — and returns a value to discard (`Carry::touch_acts`).
    pub fn touch(&self, key: u64) -> usize {
        if self.radix.is_empty() {
            return 0;
        }
        let p = (key >> (64 - self.bits)) as usize;
        let a = self.radix.get(p).map_or(0, |&a| a as usize);
        self.keys.get(a).map_or(0, |&k| k as usize)
    }

    /// [`Index::touch`] of each of `keys` (at most [`GROUP`]), in stages (every radix slot, then
    /// every slot's first key): the act lookups of a shard's next claims, read ahead by the
    /// engine (`Carry::touch_acts`), whose misses then overlap — most acts are new, so a lookup
    /// reads nothing but these two lines (issue #14). Reads what `touch` reads for each key (test
    /// `a_group_touch_of_the_index_reads_what_each_touch_reads`).
    pub fn touch_group(&self, keys: &[u64]) -> usize {
        if self.radix.is_empty() {
            return 0;
        }
        let n = keys.len().min(GROUP);
        let shift = 64 - self.bits;
        let mut at = [0usize; GROUP];
        for (a, &k) in at.iter_mut().zip(&keys[..n]) {
            *a = self
                .radix
                .get((k >> shift) as usize)
                .map_or(0, |&a| a as usize);
        }
        at[..n]
            .iter()
            .map(|&a| self.keys.get(a).map_or(0, |&k| k as usize))
            .fold(0usize, usize::wrapping_add)
    }

    /// The hit of `key` among the keys `a..b` (its radix slot).
    fn hit_in(&self, key: u64, a: usize, b: usize) -> Option<Hit> {
        let i = a + self.keys.get(a..b)?.binary_search(&key).ok()?;
        let t = *self.tags.get(i)?;
        Some(Hit {
            seq: t >> 1,
            check: self.checks.get(i).copied().unwrap_or(0),
            paid: t & 1 != 0,
        })
    }

    /// [`Index::get`] of each of `keys` into `out[i]` (`None` in `out` past the keys), in a
    /// pipeline: while key `i` is searched, the slot's keys of key `i + GROUP` are prefetched (its
    /// radix entries read: prefetched `GROUP` keys before) and the radix entry of key `i + 2 ×
    /// GROUP` is prefetched. At national size the index (≈ 11 M claim keys, 88 MiB, and its radix
    /// table) is far larger than the cache and a window's claims, even sorted, fall ≈ 5 KiB apart
    /// in it: each lookup takes two misses, radix then keys, one after the other (issue #14:
    /// `Index::get` 2.5 % of a national night 2's CPU with the ledger). Until LEDGER13 the keys
    /// went in groups of [`GROUP`], each group in stages (every radix slot loaded, then every
    /// slot's first key, then the searches): the misses of a group overlapped, but each stage
    /// waited for its last miss before the next began; in the pipeline the CPU waits for none
    /// (`get_group` 0.23 s of a national night 2's CPU before, load 12). The same answers as
    /// `get`, for any number of keys (tests `lookups_in_groups_answer_as_lookups_one_by_one`,
    /// `more_keys_than_a_group_are_all_answered_as_one_by_one`: until review A10 the keys past
    /// the first [`GROUP`] were left unanswered, their `out` untouched).
    pub fn get_group(&self, keys: &[u64], out: &mut [Option<Hit>]) {
        let n = keys.len().min(out.len());
        let (out, past) = out.split_at_mut(n);
        past.fill(None);
        if self.keys.is_empty() || self.radix.is_empty() {
            out.fill(None);
            return;
        }
        let keys = &keys[..n];
        let shift = 64 - self.bits;
        let radix = |k: u64| prefetch(&self.radix, (k >> shift) as usize);
        for &k in keys.iter().take(2 * GROUP) {
            radix(k);
        }
        for &k in keys.iter().take(GROUP) {
            self.prefetch_slot(k);
        }
        for (i, (o, &k)) in out.iter_mut().zip(keys).enumerate() {
            if let Some(&k) = keys.get(i + 2 * GROUP) {
                radix(k);
            }
            if let Some(&k) = keys.get(i + GROUP) {
                self.prefetch_slot(k);
            }
            *o = self.get(k);
        }
    }

    /// Prefetches the first and last key of `key`'s radix slot (about 4 keys: one line, or two),
    /// reading its radix entries.
    #[inline]
    fn prefetch_slot(&self, key: u64) {
        let p = (key >> (64 - self.bits)) as usize;
        if let (Some(&a), Some(&b)) = (self.radix.get(p), self.radix.get(p + 1)) {
            prefetch(&self.keys, a as usize);
            if b > a + 1 {
                prefetch(&self.keys, b as usize - 1);
            }
        }
    }

    /// Heap bytes held.
    pub fn bytes(&self) -> usize {
        self.keys.len() * 8 + self.checks.len() * 8 + self.tags.len() * 4 + self.radix.len() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: u64, date: u32, paid: bool) -> Rec {
        Rec {
            key,
            check: key ^ 0xff,
            date,
            paid,
        }
    }

    #[test]
    fn records_round_trip_and_a_torn_segment_is_refused() {
        for kind in [Kind::Claims, Kind::Acts] {
            let recs = vec![rec(1, 20260301, true), rec(u64::MAX, 20231216, false)];
            let mut b = Vec::new();
            encode(kind, &recs, &mut b);
            assert_eq!(b.len(), 2 * kind.rec());
            let back: Vec<Rec> = decode(kind, &b).unwrap().collect();
            match kind {
                Kind::Claims => {
                    assert!(back[0].paid);
                    assert!(!back[1].paid);
                    assert_eq!(back[1].date, 20231216);
                    assert_eq!(back[1].key, u64::MAX);
                }
                Kind::Acts => {
                    assert_eq!(back[0].check, 1 ^ 0xff);
                    assert_eq!(back[1].date, 20231216);
                }
            }
            assert!(decode(kind, &b[..b.len() - 1]).is_err());
        }
    }

    #[test]
    fn the_index_finds_every_key_once_with_its_earliest_night_and_nothing_else() {
        let mut all = Vec::new();
        for k in 0..10_000u64 {
            all.push((3, rec(mix(k * 2), 20260301, k % 3 == 0)));
        }
        // The same key recorded again by a later night, and by an earlier one.
        all.push((5, rec(mix(0), 20260302, false)));
        all.push((2, rec(mix(2), 20260302, false)));
        let ix = Index::build(Kind::Claims, all);
        assert_eq!(ix.len(), 10_000);
        assert_eq!(
            ix.get(mix(0)),
            Some(Hit {
                seq: 3,
                check: 0,
                paid: true
            })
        );
        assert_eq!(ix.get(mix(2)).map(|h| (h.seq, h.paid)), Some((2, false)));
        for k in 2..10_000u64 {
            assert_eq!(ix.get(mix(k * 2 + 1)), None);
            assert!(ix.get(mix(k * 2)).is_some_and(|h| h.paid == (k % 3 == 0)));
        }
        assert_eq!(Index::build(Kind::Acts, Vec::new()).get(5), None);
        // Acts, keys crowded into one radix slot and given in any order: the earliest night's
        // record of each key, with its own check.
        let mut all = Vec::new();
        for k in (0..300u64).rev() {
            for seq in [7, 4, 9] {
                let mut r = rec(k, 20260301, true);
                r.check = k * 10 + seq as u64;
                all.push((seq, r));
            }
        }
        let ix = Index::build(Kind::Acts, all);
        assert_eq!(ix.len(), 300);
        for k in 0..300u64 {
            assert_eq!(
                ix.get(k),
                Some(Hit {
                    seq: 4,
                    check: k * 10 + 4,
                    paid: true
                })
            );
        }
        assert_eq!(ix.get(300), None);
    }

    /// The index as it was built before the records were moved in place: scattered by radix slot
    /// into new arrays in load order (stable), each slot then sorted by (key, night).
    fn scattered(kind: Kind, all: &[(u32, Rec)]) -> (Vec<u64>, Vec<u32>, Vec<u64>, Vec<u32>) {
        let n = all.len();
        let bits = (usize::BITS - n.leading_zeros())
            .saturating_sub(2)
            .clamp(8, 24);
        let shift = 64 - bits;
        let mut radix = vec![0u32; (1usize << bits) + 1];
        for (_, r) in all {
            radix[(r.key >> shift) as usize + 1] += 1;
        }
        for i in 1..radix.len() {
            radix[i] += radix[i - 1];
        }
        let mut slots: Vec<Vec<(u64, u32, u64)>> = vec![Vec::new(); radix.len() - 1];
        for (s, r) in all {
            let check = if kind == Kind::Acts { r.check } else { 0 };
            slots[(r.key >> shift) as usize].push((r.key, s << 1 | r.paid as u32, check));
        }
        let (mut keys, mut tags, mut checks) = (vec![], vec![], vec![]);
        for mut slot in slots {
            slot.sort_by_key(|e| (e.0, e.1 >> 1));
            slot.dedup_by_key(|e| e.0);
            for (k, t, c) in slot {
                keys.push(k);
                tags.push(t);
                checks.push(c);
            }
        }
        let mut radix = vec![0u32; (1usize << bits) + 1];
        for k in &keys {
            radix[(k >> shift) as usize + 1] += 1;
        }
        for i in 1..radix.len() {
            radix[i] += radix[i - 1];
        }
        if kind == Kind::Claims {
            checks.clear();
        }
        (keys, tags, checks, radix)
    }

    #[test]
    fn the_index_built_in_place_is_the_one_a_scatter_into_new_arrays_builds() {
        // Nights of sorted, deduplicated records (as `sort_night` leaves them), keys repeated
        // across nights, some crowded into a few radix slots, loaded in (night, key) order as
        // `load_index` reads them — and, for a second build, in a shuffled order.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for kind in [Kind::Claims, Kind::Acts] {
            for nights in [1u32, 3, 40] {
                let mut all = Vec::new();
                for seq in 1..=nights {
                    let mut night = Vec::new();
                    for _ in 0..(20_000 / nights) {
                        let r = next();
                        // A third of the keys from a small set (repeated across nights), a few
                        // crowded under one top byte, the rest uniform.
                        let key = match r % 3 {
                            0 => mix(r % 500),
                            1 if r % 7 == 0 => 0xAB00_0000_0000_0000 | ((r >> 20) % 4_000),
                            _ => r,
                        };
                        night.push(Rec {
                            key,
                            check: next(),
                            date: 20260301,
                            paid: r % 5 != 0,
                        });
                    }
                    for r in sort_night(night) {
                        all.push((seq, r));
                    }
                }
                let want = scattered(kind, &all);
                let check = |ix: &Index| {
                    assert_eq!(ix.keys, want.0, "{kind:?}, {nights} nights");
                    assert_eq!(ix.tags, want.1);
                    assert_eq!(ix.checks, want.2);
                    assert_eq!(ix.radix, want.3);
                };
                check(&Index::build(kind, all.clone()));
                for i in (1..all.len()).rev() {
                    all.swap(i, next() as usize % (i + 1));
                }
                check(&Index::build(kind, all));
            }
        }
    }

    #[test]
    fn a_night_sorted_equals_a_stable_sort_then_dedup_with_crowded_and_repeated_keys() {
        // Keys crowded under a few top bits, repeated, with the top bits set and not: the night's
        // sort must give what a stable sort then dedup gives (the first record of a key in file
        // order), whatever the pool does.
        let mut recs = Vec::new();
        for i in 0..5_000u64 {
            let key = match i % 4 {
                0 => mix(i % 700),
                1 => i % 50,
                2 => u64::MAX - i % 30,
                _ => mix(i),
            };
            recs.push(rec(key, i as u32, i % 3 == 0));
        }
        let mut want = recs.clone();
        want.sort_by_key(|r| r.key);
        want.dedup_by_key(|r| r.key);
        assert_eq!(sort_night(recs), want);
        assert!(sort_night(Vec::new()).is_empty());
    }

    #[test]
    fn a_night_keeps_one_record_per_key_the_first_in_file_order() {
        let recs = vec![rec(9, 1, true), rec(4, 2, true), rec(9, 3, false)];
        let s = sort_night(recs);
        assert_eq!(
            s.iter().map(|r| (r.key, r.date)).collect::<Vec<_>>(),
            [(4, 2), (9, 1)]
        );
    }

    #[test]
    fn lookups_in_groups_answer_as_lookups_one_by_one() {
        let empty = Index::build(Kind::Claims, Vec::new());
        let mut out = [Some(Hit {
            seq: 1,
            check: 0,
            paid: true,
        }); GROUP];
        empty.get_group(&[1, 2, 3], &mut out[..3]);
        assert_eq!(out[..3], [None; 3]);
        for kind in [Kind::Claims, Kind::Acts] {
            // Keys spread by `mix`, keys crowded into a few radix slots, both ends of the range,
            // some recorded by two nights (the earliest answers).
            let mut all = Vec::new();
            for i in 0..20_000u64 {
                let key = match i % 3 {
                    0 => mix(i),
                    1 => i % 500,
                    _ => u64::MAX - i % 700,
                };
                all.push(((i % 5) as u32 + 1, rec(key, 20260301, i % 2 == 0)));
            }
            let ix = Index::build(kind, all);
            let asked: Vec<u64> = (0..30_000u64)
                .map(|i| match i % 4 {
                    0 => mix(i),
                    1 => i % 900,
                    2 => u64::MAX - i % 1_000,
                    _ => mix((i + 1) << 40),
                })
                .collect();
            let mut at = 0;
            for n in (1..=GROUP).cycle() {
                let Some(g) = asked.get(at..at + n) else {
                    break;
                };
                let mut out = [None; GROUP];
                ix.get_group(g, &mut out[..n]);
                let want: Vec<Option<Hit>> = g.iter().map(|&k| ix.get(k)).collect();
                assert_eq!(out[..n], want[..]);
                at += n;
            }
            assert!(asked.iter().filter(|&&k| ix.get(k).is_some()).count() > 10_000);
        }
    }

    /// `get_group` of more keys than a group (and of fewer keys than `out` holds) answers every
    /// key as `get` does and clears the rest of `out`: no key past the first group is left with
    /// whatever `out` held before (review A10).
    #[test]
    fn more_keys_than_a_group_are_all_answered_as_one_by_one() {
        let all: Vec<(u32, Rec)> = (0..3_000u64)
            .map(|i| ((i % 3) as u32 + 1, rec(mix(i), 20260301, i % 2 == 0)))
            .collect();
        let ix = Index::build(Kind::Claims, all);
        let stale = Some(Hit {
            seq: 99,
            check: 7,
            paid: true,
        });
        // stored keys (even i) and absent ones (odd i past the stored), a repeat within a group
        let asked: Vec<u64> = (0..3 * GROUP as u64 + 5)
            .map(|i| if i % 2 == 0 { mix(i) } else { mix(10_000 + i) })
            .chain([mix(4), mix(4)])
            .collect();
        let mut out = vec![stale; asked.len() + 3];
        ix.get_group(&asked, &mut out);
        let want: Vec<Option<Hit>> = asked.iter().map(|&k| ix.get(k)).collect();
        assert_eq!(out[..asked.len()], want[..]);
        assert_eq!(out[asked.len()..], [None; 3]);
        assert!(want.iter().filter(|h| h.is_some()).count() > GROUP);
        assert!(want.iter().filter(|h| h.is_none()).count() > GROUP);
        // an empty index clears every answer too
        let mut out = vec![stale; 2 * GROUP + 1];
        Index::build(Kind::Claims, Vec::new()).get_group(&asked, &mut out);
        assert!(out.iter().all(|h| h.is_none()));
    }

    #[test]
    fn a_group_touch_of_the_index_reads_what_each_touch_reads() {
        assert_eq!(Index::build(Kind::Acts, Vec::new()).touch_group(&[1, 2]), 0);
        let all: Vec<(u32, Rec)> = (0..5_000u64)
            .map(|i| {
                (
                    1,
                    rec(if i % 2 == 0 { mix(i) } else { u64::MAX - i }, 1, true),
                )
            })
            .collect();
        let ix = Index::build(Kind::Acts, all);
        let asked: Vec<u64> = (0..7_000u64)
            .map(|i| if i % 3 == 0 { mix(i) } else { u64::MAX - i / 2 })
            .collect();
        let mut at = 0;
        for n in (1..=GROUP).cycle() {
            let Some(g) = asked.get(at..at + n) else {
                break;
            };
            assert_eq!(
                ix.touch_group(g),
                g.iter()
                    .map(|&k| ix.touch(k))
                    .fold(0usize, usize::wrapping_add)
            );
            at += n;
        }
    }
}
