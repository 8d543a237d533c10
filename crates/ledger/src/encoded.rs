//! The night's states sorted by mixed key: what the commit merges into the next image file
//! (formats/ledger.md, "States: one image file per generation").
//!
//! A national night ends with ≈ 4.3 M states scattered over the engine's 256 shards (packed, in
//! 48-byte slots of a scratch file, the longer ones in a spill arena). `run`'s are not copied:
//! [`Encoded::of_engine`] sorts only their places, and the commit reads each state where it lies,
//! in key order, pruning it into a buffer of the merging worker's as it merges its part
//! ([`View::fill`], with a read-ahead of the slots and their spilled bytes), then
//! [`Encoded::release`]s the engine's states to be freed beside the rest of the commit.
//!
//! Since LEDGER20 the engine's shard of a beneficiary is the top 8 bits of its mixed key
//! (`liquidator_core::states::shard_of`, the ledger's `segments::mix`): shard `g` holds one 256th
//! of the key space, in order. The places are each shard's slot numbers sorted on their own
//! (16 500 at national size: in the cache, both workers busy), shard after shard — 4 bytes a
//! state, 17 MiB — and the commit's merge of a part of the key space reads one shard's slots, not
//! all 256 at random. Before, the shard was a Fibonacci hash of the key, unrelated to the
//! image's order: the places were (mixed key, shard, slot), 16 bytes a state (65 MiB of fresh
//! memory), sorted as a whole by a parallel comparison sort, and every part's states were spread
//! over every shard. `perf` of national night 2 through a copy of the night-1 ledger (499 Hz,
//! the two binaries one after the other, load 3.5–5, ≈ 12 100 samples each): the sort 192 → 55
//! samples (its fresh pages zeroed: 84 → 0), the commit's `write_states` 652 → 371 (`View::fill`
//! itself 298 → 29): ≈ 0.8 s of CPU less, ≈ 0.4 s of a 2-core night's wall. The order of the
//! shards' work changes nothing in the outputs (every output is in file or key order).
//! `LIQUIDATOR_TIMING`, the same night alternated with the base binary (3 rounds, load 5.3–7.6;
//! with the merge by runs, `images::merge`, and the per-shard counting sort): the sort step
//! 0.29/0.44/0.36 s (CPU 0.19/0.27/0.18) → 0.12/0.08/0.05 s (CPU 0.06/0.07/0.07), the commit's
//! CPU 1.89/2.11/1.72 → 1.13/1.04/1.11 s, its states and before-images 2.72/2.60/2.40 →
//! 1.35/1.41/1.07 s (its merges waited for 1.16/1.55/1.12 → 0.33/0.43/0.17 s); the night without
//! the ledger unchanged (user + sys 20.6/19.1/19.2 against 20.6/20.0/17.6 s). Again with
//! `nights-ab.sh` (5 rounds, load 2.3–4.4), medians: the sort step 0.144 → 0.063 s (CPU 0.19 →
//! 0.07), the commit 1.186 → 0.901 s (CPU 1.38 → 0.96; in each round 2.05/1.20/1.38/1.34/1.54 →
//! 0.83/0.87/1.05/1.04/0.96 s); the whole night's wall and CPU are too noisy at that load to show
//! ≈ 0.5 s of CPU.
//!
//! Until LEDGER18 the states were first encoded where they lay, shard by shard in parallel, into
//! arenas (≈ 180 MiB, plus the entries: 250 MiB of fresh memory at national size, the kernel zeroing
//! each page) on the run's serial path before the commit; the commit then read the arenas in key
//! order. National night 2, base and new alternated (5 and 4 runs, `LIQUIDATOR_TIMING`, load
//! 4–6): the step before the commit 0.26–0.85 s → 0.16–0.32 s, minor faults of it and the commit
//! 37–45 k → 18–21 k, RssAnon peak 614–656 → 519–541 MiB; the commit's merges read the shards at
//! random instead (`View::fill` ≈ 0.65 s of CPU, `perf`: mostly its prefetches waiting for room
//! — the slots' pages are 4 KiB file pages), so both steps' CPU is about what it was (1.46–2.37 →
//! 1.80–2.03 s) and their wall 1.76–3.49 → 2.24–2.72 s. [`Encoded::from_states`] (states given as a slice: `reprocess`, the
//! tests) still encodes into arenas.

use crate::LedgerError;
use liquidator_core::date::Date;
use liquidator_core::rules::BenefState;
use liquidator_core::states::{States, packed};
use rayon::prelude::*;
use std::sync::{Mutex, MutexGuard, mpsc::Sender};

/// States per encoding task (one arena each).
const TASK: usize = 16 * 1024;

/// How far ahead of the state it reads [`View::fill`] prefetches a slot (then, half as far
/// ahead, the spilled bytes the slot points at): the slots are read in key order, at random
/// places of the engine's shards.
const AHEAD: usize = 16;

/// The night's states by mixed key: `entries` (mixed key, arena or shard, offset or slot) sorted
/// by key, into `source`.
#[derive(Default)]
pub struct Encoded {
    source: Source,
    entries: Vec<(u64, u32, u32)>,
    /// The engine's states when each shard holds one range of mixed keys, shard after shard
    /// (`liquidator_core::states::shard_of`): every shard's slot numbers sorted by mixed key, one
    /// shard after the other (shard `g`'s from `starts[g]`), instead of `entries` — 4 bytes a
    /// state, no sort of them all. The mixed key is read from the slot (`mix` of its key).
    places: Vec<u32>,
    /// Where each shard's slot numbers start in `places`, and their end (`len + 1` entries).
    starts: Vec<usize>,
    /// The oldest payable day the states are pruned for (the commit checks it is the night's).
    oldest: Option<Date>,
    /// Where [`Encoded::release`] sends the engine's states once the commit has read them.
    release_to: Option<Sender<States>>,
}

/// Where the records are.
enum Source {
    /// Arenas of records `length varint, bytes` (`codec::encode_pruned`): already pruned.
    Arenas(Vec<Vec<u8>>),
    /// The engine's shards themselves (`States`), read where they lie and pruned as they are read
    /// ([`View::fill`]); `None` once [`Encoded::release`]d.
    Engine(Mutex<Option<States>>),
}

impl Default for Source {
    fn default() -> Source {
        Source::Arenas(Vec::new())
    }
}

impl Encoded {
    /// Encodes the states (beneficiary key, state), pruned for a night whose oldest payable day is
    /// `oldest`, in parallel over groups taken in the order given; `sizes[g]` is the number of
    /// states of group `g`. Each group writes its entries into its own slice of one vector sized
    /// once (no per-group vectors copied into it at the end: ≈ 69 MiB at national size).
    fn new<'a>(
        groups: impl IndexedParallelIterator<Item = impl Iterator<Item = (u64, &'a BenefState)>>,
        sizes: &[usize],
        oldest: Date,
    ) -> Encoded {
        let mut entries = vec![(0u64, 0u32, 0u32); sizes.iter().sum()];
        let arenas: Vec<Vec<u8>> = groups
            .zip(slices(&mut entries, sizes))
            .enumerate()
            .map(|(g, (states, slots))| {
                let mut arena = Vec::with_capacity(slots.len() * 48);
                let mut bytes = Vec::with_capacity(256);
                for ((k, s), slot) in states.zip(slots.iter_mut()) {
                    bytes.clear();
                    crate::codec::encode_pruned(s, oldest, &mut bytes);
                    *slot = (crate::segments::mix(k), g as u32, arena.len() as u32);
                    crate::codec::put_varint(&mut arena, bytes.len() as u64);
                    arena.extend_from_slice(&bytes);
                }
                arena
            })
            .collect();
        // Keys are unique (one state per beneficiary, `mix` is a bijection).
        entries.par_sort_unstable_by_key(|x| x.0);
        Encoded {
            source: Source::Arenas(arenas),
            entries,
            places: Vec::new(),
            starts: Vec::new(),
            oldest: Some(oldest),
            release_to: None,
        }
    }

    /// Encodes states given as a slice (beneficiary key, state), in any order.
    pub fn from_states(states: &[(u64, &BenefState)], oldest: Date) -> Encoded {
        let sizes: Vec<usize> = states.chunks(TASK).map(<[_]>::len).collect();
        Encoded::new(
            states.par_chunks(TASK).map(|c| c.iter().copied()),
            &sizes,
            oldest,
        )
    }

    /// The engine's states (`run`'s, packed in its shards) for a night whose oldest payable day
    /// is `oldest`, taken as they lie: only their places are sorted by mixed key (each shard's
    /// on its own, one task a shard: module doc); the commit reads each state from its shard in
    /// key order and prunes it as it merges (`View::fill`), then [`Encoded::release`]s the shards.
    /// Shards not cut by mixed key (a `States` made otherwise) are sorted as before, as a whole:
    /// (mixed key, shard, slot), 16 bytes a state.
    ///
    /// Until LEDGER18 every state was copied (pruned) into arenas first: ≈ 180 MiB of fresh
    /// memory at national size, plus the sorted entries, on the run's serial path. A state that
    /// does not read is still an error, never committed as it is: the commit's (exit 11).
    pub fn of_engine(states: States, oldest: Date) -> Encoded {
        let shards = states.shards();
        let sizes: Vec<usize> = shards.iter().map(|s| s.len()).collect();
        let mut starts = Vec::with_capacity(sizes.len() + 1);
        let mut total = 0;
        starts.push(0);
        for &n in &sizes {
            total += n;
            starts.push(total);
        }
        // Since LEDGER20 shard `g` holds the keys whose mixed key's top 8 bits are `g`
        // (`shard_of`): each shard's slots sorted on their own (≈ 16 500 at national size, in the
        // cache), one shard after the other, are the states in key order. Checked state by state;
        // shards cut otherwise (more or fewer of them, another hash) are sorted as a whole below.
        let mut places = vec![0u32; total];
        let aligned = shards.len() == 256
            && shards
                .par_iter()
                .zip(slices(&mut places, &sizes))
                .enumerate()
                .map_init(
                    || (Vec::new(), Vec::new(), Vec::new()),
                    |(tmp, spare, count), (g, (sh, out))| {
                        tmp.clear();
                        for (i, k) in sh.keys().enumerate() {
                            let m = crate::segments::mix(k);
                            let Ok(i) = u32::try_from(i) else {
                                return false;
                            };
                            if (m >> 56) as usize != g {
                                return false;
                            }
                            tmp.push((m, i));
                        }
                        sort_shard(tmp, spare, count);
                        for (o, &(_, i)) in out.iter_mut().zip(tmp.iter()) {
                            *o = i;
                        }
                        true
                    },
                )
                .all(|ok| ok);
        if aligned {
            return Encoded {
                source: Source::Engine(Mutex::new(Some(states))),
                entries: Vec::new(),
                places,
                starts,
                oldest: Some(oldest),
                release_to: None,
            };
        }
        drop(places);
        let mut entries = vec![(0u64, 0u32, 0u32); total];
        shards
            .par_iter()
            .zip(slices(&mut entries, &sizes))
            .enumerate()
            .for_each(|(g, (sh, slots))| {
                for (i, ((k, _), slot)) in sh.iter().zip(slots.iter_mut()).enumerate() {
                    *slot = (crate::segments::mix(k), g as u32, i as u32);
                }
            });
        // Keys are unique (one state per beneficiary, `mix` is a bijection).
        entries.par_sort_unstable_by_key(|x| x.0);
        Encoded {
            source: Source::Engine(Mutex::new(Some(states))),
            entries,
            places: Vec::new(),
            starts: Vec::new(),
            oldest: Some(oldest),
            release_to: None,
        }
    }

    /// Where [`Encoded::release`] sends the engine's states ([`Encoded::of_engine`]): `run` frees
    /// them on a thread of its own beside the rest of the commit.
    pub fn release_to(mut self, to: Sender<States>) -> Encoded {
        self.release_to = Some(to);
        self
    }

    /// The commit has read the states: the engine's, if they are held, go to
    /// [`Encoded::release_to`] (or are dropped here). A later read of one is an error.
    ///
    /// It takes the lock a [`View`] holds for its whole life: it waits until every view of this
    /// `Encoded` is dropped, and never returns if the calling thread still holds one (the commit
    /// calls it from `write_image`'s `merged`, once that function has dropped the view it was given).
    pub fn release(&self) {
        let Source::Engine(m) = &self.source else {
            return;
        };
        let states = match m.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        if let Some(s) = states {
            match &self.release_to {
                Some(to) => {
                    // The receiver gone, they are dropped here.
                    let _ = to.send(s);
                }
                None => drop(s),
            }
        }
    }

    /// The oldest payable day the states were pruned for (`None`: encoded nothing).
    pub fn oldest(&self) -> Option<Date> {
        self.oldest
    }

    pub fn len(&self) -> usize {
        self.entries.len() + self.places.len()
    }

    /// Heap bytes held (arenas and sorted entries): `LIQUIDATOR_TIMING`'s memory figures.
    pub fn heap_bytes(&self) -> usize {
        let arenas = match &self.source {
            Source::Arenas(a) => a.iter().map(Vec::capacity).sum::<usize>(),
            Source::Engine(_) => 0,
        };
        arenas
            + self.entries.capacity() * std::mem::size_of::<(u64, u32, u32)>()
            + self.places.capacity() * std::mem::size_of::<u32>()
            + self.starts.capacity() * std::mem::size_of::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The states to read, in key order (holds the engine's states until dropped: a
    /// [`Encoded::release`] meanwhile waits for it). A lock that a panicking reader poisoned is
    /// still the states' (nothing writes them).
    pub fn view(&self) -> View<'_> {
        let engine = match &self.source {
            Source::Engine(m) => Some(m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)),
            Source::Arenas(_) => None,
        };
        let arenas = match &self.source {
            Source::Arenas(a) => a.as_slice(),
            Source::Engine(_) => &[],
        };
        View {
            entries: &self.entries,
            places: &self.places,
            starts: &self.starts,
            arenas,
            engine,
            oldest: self.oldest.unwrap_or(Date(0)),
        }
    }
}

/// Sorts one shard's (mixed key, slot) by key: the keys share their top 8 bits (the shard) and are
/// uniform below them, so a counting sort on the next bits — about 4 keys a bucket — then an
/// insertion sort of each bucket orders them in two passes and a few moves a key. (A comparison
/// sort of each shard, `sort_unstable`, took ≈ 30 of the step's 55 samples, `perf` at 499 Hz.)
/// Keys are unique (one state per beneficiary, `mix` is a bijection): any sort gives one order.
fn sort_shard(v: &mut Vec<(u64, u32)>, spare: &mut Vec<(u64, u32)>, count: &mut Vec<u32>) {
    let n = v.len();
    let bits = (usize::BITS - n.leading_zeros()).saturating_sub(2).min(16);
    if bits < 4 {
        v.sort_unstable_by_key(|e| e.0);
        return;
    }
    let shift = 56 - bits;
    let bucket = |k: u64| ((k >> shift) & ((1 << bits) - 1)) as usize;
    count.clear();
    count.resize((1 << bits) + 1, 0);
    for e in v.iter() {
        count[bucket(e.0) + 1] += 1;
    }
    for b in 1..count.len() {
        count[b] += count[b - 1];
    }
    spare.clear();
    spare.resize(n, (0, 0));
    for &e in v.iter() {
        let b = bucket(e.0);
        spare[count[b] as usize] = e;
        count[b] += 1;
    }
    // `count[b]` is now where bucket `b + 1` starts.
    let mut start = 0;
    for &end in count.iter().take(1 << bits) {
        let end = end as usize;
        let s = &mut spare[start..end];
        // A crowded bucket (keys that are not uniform) is not sorted in quadratic time.
        if s.len() > 32 {
            s.sort_unstable_by_key(|e| e.0);
        }
        for i in 1..s.len() {
            let mut j = i;
            while j > 0 && s[j - 1].0 > s[j].0 {
                s.swap(j - 1, j);
                j -= 1;
            }
        }
        start = end;
    }
    std::mem::swap(v, spare);
}

/// `v` cut into consecutive slices of `sizes`.
fn slices<'v, T>(v: &'v mut [T], sizes: &[usize]) -> Vec<&'v mut [T]> {
    let mut out = Vec::with_capacity(sizes.len());
    let mut rest = v;
    for &n in sizes {
        let (mine, r) = rest.split_at_mut(n.min(rest.len()));
        out.push(mine);
        rest = r;
    }
    out
}

/// Reads an [`Encoded`]'s states in key order ([`Encoded::view`]).
pub struct View<'a> {
    entries: &'a [(u64, u32, u32)],
    places: &'a [u32],
    starts: &'a [usize],
    arenas: &'a [Vec<u8>],
    engine: Option<MutexGuard<'a, Option<States>>>,
    oldest: Date,
}

/// The bytes of the record at `off` of an arena (`length varint, bytes`).
fn arena_record(arena: &[u8], off: u32) -> &[u8] {
    let mut at = off as usize;
    let (mut len, mut shift) = (0usize, 0);
    while let Some(&b) = arena.get(at) {
        at += 1;
        len |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    arena.get(at..at + len).unwrap_or_default()
}

/// The (shard, slot) of the engine's states by their index in key order, asked in increasing
/// order ([`View::fill`]): from `entries`, or from `places` and the shard they are in.
struct Walk<'a> {
    entries: &'a [(u64, u32, u32)],
    places: &'a [u32],
    starts: &'a [usize],
    /// The shard of the last place asked (places only).
    g: usize,
}

impl Walk<'_> {
    fn at(&mut self, i: usize) -> Option<(usize, usize)> {
        if self.places.is_empty() {
            return self
                .entries
                .get(i)
                .map(|&(_, g, s)| (g as usize, s as usize));
        }
        let s = *self.places.get(i)?;
        while self.starts.get(self.g + 1).is_some_and(|&e| e <= i) {
            self.g += 1;
        }
        Some((self.g, s as usize))
    }
}

impl View<'_> {
    pub fn len(&self) -> usize {
        self.entries.len() + self.places.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The mixed key of the `i`-th state (0 past the end).
    pub fn key(&self, i: usize) -> u64 {
        if self.places.is_empty() {
            return self.entries.get(i).map_or(0, |e| e.0);
        }
        self.walk(i)
            .at(i)
            .and_then(|(g, s)| self.shards().get(g)?.get_at(s))
            .map_or(0, |(k, _)| crate::segments::mix(k))
    }

    /// A [`Walk`] of the places from the `i`-th on.
    fn walk(&self, i: usize) -> Walk<'_> {
        Walk {
            entries: self.entries,
            places: self.places,
            starts: self.starts,
            g: self.starts.partition_point(|&s| s <= i).saturating_sub(1),
        }
    }

    fn shards(&self) -> &[liquidator_core::states::Shard] {
        self.engine
            .as_ref()
            .and_then(|g| g.as_ref())
            .map_or(&[][..], States::shards)
    }

    /// Appends the states `range` (in key order), pruned, to `buf`, and (mixed key, start, end in
    /// `buf`) of each to `spans`. A state that does not read is an error (corrupt).
    pub fn fill(
        &self,
        range: std::ops::Range<usize>,
        work: &mut BenefState,
        buf: &mut Vec<u8>,
        spans: &mut Vec<(u64, usize, usize)>,
    ) -> Result<(), LedgerError> {
        if self.engine.is_none() {
            let entries = self.entries.get(range).unwrap_or_default();
            for &(k, a, off) in entries {
                let arena = self.arenas.get(a as usize).map_or(&[][..], Vec::as_slice);
                let start = buf.len();
                buf.extend_from_slice(arena_record(arena, off));
                spans.push((k, start, buf.len()));
            }
            return Ok(());
        }
        let end = range.end.min(self.len());
        let from = range.start.min(end);
        let shards = self.shards();
        let oldest = packed::Oldest::from(self.oldest);
        // Three walks of the same places: the one read, and the read-ahead's two.
        let (mut here, mut ahead, mut half) = (self.walk(from), self.walk(from), self.walk(from));
        let slot = |w: &mut Walk<'_>, j: usize| {
            if j >= end {
                return None;
            }
            w.at(j).and_then(|(g, s)| Some((shards.get(g)?, s)))
        };
        for j in from..(from + AHEAD).min(end) {
            if let Some((sh, s)) = slot(&mut ahead, j) {
                crate::segments::prefetch(sh.slot_words(s), 0);
            }
        }
        for j in from..end {
            // Read-ahead: the slot `AHEAD` on (its line, and the next one it may reach into), and
            // the spilled bytes of the one `AHEAD / 2` on, whose slot was prefetched before.
            if let Some((sh, s)) = slot(&mut ahead, j + AHEAD) {
                let w = sh.slot_words(s);
                crate::segments::prefetch(w, 0);
                crate::segments::prefetch(w, w.len().saturating_sub(1));
            }
            if let Some((sh, s)) = slot(&mut half, j + AHEAD / 2)
                && let Some((_, b)) = sh.get_at(s)
            {
                crate::segments::prefetch(b, 0);
            }
            let (checked, fresh, (key, b)) = slot(&mut here, j)
                .and_then(|(sh, s)| {
                    let checked = sh.checked();
                    Some((
                        checked,
                        checked && sh.fresh_at(s, self.oldest),
                        sh.get_at(s)?,
                    ))
                })
                .unwrap_or((false, false, (0, &[][..])));
            // The entries hold the mixed key; the places, only the slot with its key.
            let k = match self.entries.get(j) {
                Some(e) => e.0,
                None => crate::segments::mix(key),
            };
            let start = buf.len();
            // A shard whose every state is known to read (the engine packed it or decoded it
            // whole on entry: `Shard::checked`) is not checked again to its debts; a state the
            // engine marked as holding nothing to prune for this day (`Shard::fresh_at`:
            // almost every state) is copied without walking it (LEDGER26).
            if fresh {
                buf.extend_from_slice(b);
                Ok(())
            } else if checked {
                packed::append_pruned_read(b, oldest, work, buf)
            } else {
                packed::append_pruned(b, oldest, work, buf)
            }
            .map_err(|e| LedgerError::Corrupt(e.to_string()))?;
            spans.push((k, start, buf.len()));
        }
        Ok(())
    }

    /// The `i`-th state in key order: (mixed key, bytes pruned) — `(0, [])` past the end.
    pub fn get(&self, i: usize) -> Result<(u64, Vec<u8>), LedgerError> {
        if i >= self.len() {
            return Ok((0, Vec::new()));
        }
        let (mut buf, mut spans) = (Vec::new(), Vec::new());
        self.fill(i..i + 1, &mut BenefState::default(), &mut buf, &mut spans)?;
        Ok((spans.first().map_or(0, |s| s.0), buf))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    /// A state holding one open participation debt of 2 € (the ledger tests' corrupt-record cases).
    pub(crate) fn one_open_debt() -> BenefState {
        use liquidator_core::rules::debt::{Debt, DebtKind, DebtOrigin};
        let mut s = BenefState::default();
        s.push_debt(Debt {
            origin: DebtOrigin {
                created: Date(20260316),
                practitioner: 123456789,
                claim: 4242,
                line: 1,
                date_of_care: Date(20260310),
                kind: DebtKind::Participation,
            },
            amount: 200,
            open: 200,
        });
        s
    }

    use super::*;

    #[test]
    fn states_come_out_in_mixed_key_order_with_their_encoding_whatever_the_grouping() {
        let mut states = Vec::new();
        for k in 0..40_000u64 {
            let mut s = BenefState::default();
            s.seeded = k % 2 == 0;
            // a year before the oldest payable day's: pruned however the states are taken
            if k % 3 == 0 {
                s.pf_by_year.push((2022, 5));
            }
            s.pf_by_year.push((2026, k as i64));
            states.push((k * 7 + 1, s));
        }
        let refs: Vec<(u64, &BenefState)> = states.iter().map(|(k, s)| (*k, s)).collect();
        let oldest = Date(20231216);
        let a = Encoded::from_states(&refs, oldest);
        // as the engine's shards hold them: packed, grouped by shard
        let mut shards = liquidator_core::states::States::new();
        for (k, s) in &states {
            shards.seed(*k, s.clone());
        }
        let b = Encoded::of_engine(shards, oldest);
        assert_eq!(a.len(), 40_000);
        assert_eq!(b.len(), 40_000);
        let mut want: Vec<(u64, Vec<u8>)> = refs
            .iter()
            .map(|(k, s)| {
                let mut v = Vec::new();
                crate::codec::encode_pruned(s, oldest, &mut v);
                (crate::segments::mix(*k), v)
            })
            .collect();
        want.sort();
        let (va, vb) = (a.view(), b.view());
        for (i, (k, v)) in want.iter().enumerate() {
            assert_eq!(va.get(i).unwrap(), (*k, v.clone()));
            assert_eq!(vb.get(i).unwrap(), (*k, v.clone()));
            assert_eq!(vb.key(i), *k);
        }
        assert_eq!(va.get(40_000).unwrap(), (0, Vec::new()));
        // a range read at once, with its read-ahead, gives the same records
        let (mut buf, mut spans) = (Vec::new(), Vec::new());
        vb.fill(
            100..20_100,
            &mut BenefState::default(),
            &mut buf,
            &mut spans,
        )
        .unwrap();
        for (j, &(k, from, to)) in spans.iter().enumerate() {
            assert_eq!(
                (k, &buf[from..to]),
                (want[100 + j].0, want[100 + j].1.as_slice())
            );
        }
        assert_eq!(spans.len(), 20_000);
        // released, the engine's states go where they were asked to, and are read no more
        drop(vb);
        let (tx, rx) = std::sync::mpsc::channel();
        let b = b.release_to(tx);
        b.release();
        assert_eq!(rx.recv().unwrap().len(), 40_000);
        assert!(b.view().get(0).is_err());
    }

    /// A shard's keys sorted by buckets of their bits below the shard's give the order a sort
    /// gives, for shards of every size (few keys, many, keys crowding one bucket).
    #[test]
    fn a_shard_sorted_by_buckets_is_in_key_order() {
        let (mut tmp, mut spare, mut count) = (Vec::new(), Vec::new(), Vec::new());
        for n in [0usize, 1, 2, 15, 16, 17, 100, 1_000, 16_500, 70_000] {
            for crowded in [false, true] {
                tmp.clear();
                for i in 0..n as u64 {
                    let mut k = crate::segments::mix(i * 31 + n as u64) >> 8 | 0x17 << 56;
                    if crowded && i % 3 == 0 {
                        // a third of the keys in one bucket
                        k = 0x17 << 56 | 0x5a << 48 | i;
                    }
                    tmp.push((k, i as u32));
                }
                let mut want = tmp.clone();
                want.sort_unstable();
                sort_shard(&mut tmp, &mut spare, &mut count);
                assert_eq!(tmp, want, "{n} {crowded}");
            }
        }
    }

    /// The engine's shard of a beneficiary is the top 8 bits of the ledger's mixed key (since
    /// LEDGER20): what lets [`Encoded::of_engine`] sort each shard on its own. The mixer pinned
    /// (splitmix64's finaliser: the image's order, formats/ledger.md).
    #[test]
    fn the_engine_shards_by_the_top_bits_of_the_ledger_s_mixed_key() {
        use liquidator_core::states::{mix, shard_of};
        assert_eq!(crate::segments::mix(1), 0x5692_161d_100b_05e5);
        assert_eq!(
            crate::segments::mix(0x0123_4567_89ab_cdef),
            0xb2c0_58e4_ebb5_112c
        );
        let mut k = 7u64;
        for _ in 0..100_000 {
            k = k.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            assert_eq!(mix(k), crate::segments::mix(k));
            assert_eq!(shard_of(k), (crate::segments::mix(k) >> 56) as usize);
        }
        // and so the engine's states come out as places, each shard sorted on its own
        let mut shards = liquidator_core::states::States::new();
        for k in 1..=1_000u64 {
            shards.seed(k * 977, BenefState::default());
        }
        let e = Encoded::of_engine(shards, Date(20231216));
        assert_eq!(
            (e.entries.len(), e.places.len(), e.starts.len()),
            (0, 1_000, 257)
        );
        let v = e.view();
        let keys: Vec<u64> = (0..1_000).map(|i| v.key(i)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        let (mut buf, mut spans) = (Vec::new(), Vec::new());
        v.fill(0..1_000, &mut BenefState::default(), &mut buf, &mut spans)
            .unwrap();
        assert_eq!(spans.iter().map(|s| s.0).collect::<Vec<_>>(), keys);
        // a range that starts and ends inside shards, past empty ones
        let (mut buf, mut spans) = (Vec::new(), Vec::new());
        v.fill(333..777, &mut BenefState::default(), &mut buf, &mut spans)
            .unwrap();
        assert_eq!(
            spans.iter().map(|s| s.0).collect::<Vec<_>>(),
            keys[333..777]
        );
    }

    /// A state in a shard that does not read is an error when the commit reads it, never
    /// committed as it is (before: its bytes were stored unchanged for the next night to trip on).
    #[test]
    fn a_shard_state_that_does_not_read_is_an_error_not_committed_as_it_is() {
        let s = one_open_debt();
        let mut b = Vec::new();
        crate::codec::encode(&s, &mut b);
        let mut shards = liquidator_core::states::States::new();
        shards.seed_packed(1, &b);
        let mut bad = b.clone();
        // the recovered amount read as −0.01 €: open 2.01 € > amount
        if let Some(l) = bad.last_mut() {
            *l = 1;
        }
        shards.seed_packed(2, &bad);
        let e = Encoded::of_engine(shards, Date(20231216));
        let v = e.view();
        let good = (0..2)
            .find(|&i| v.key(i) == crate::segments::mix(1))
            .unwrap();
        assert_eq!(v.get(good).unwrap().1, b);
        assert!(matches!(v.get(1 - good), Err(LedgerError::Corrupt(_))));
        let (mut buf, mut spans) = (Vec::new(), Vec::new());
        assert!(
            v.fill(0..2, &mut BenefState::default(), &mut buf, &mut spans)
                .is_err()
        );
    }
}
