//! The running state of every beneficiary across a run ([`BenefState`]: participation and franchise
//! counters per year, per-day sessions, open debts of the insured), kept by the engine in [`SHARDS`]
//! shards so that the shards liquidate in parallel, each owning its beneficiaries.
//!
//! This is the seam for state that outlives a run (a ledger of yearly counters): seed each
//! beneficiary's state before the run with [`States::seed`], hand the store to
//! [`crate::engine::process_in`], read every state back with [`States::get`] or
//! [`States::into_sorted`] (ascending key: the same order for any `--threads`).
//!
//! Architecture invariant: the shard of a beneficiary is a function of its key only ([`shard_of`]),
//! never of the thread count; a shard's states are touched by one task at a time, in file order.

use crate::rules::BenefState;
use hashbrown::HashTable;
use rayon::prelude::*;
use std::hash::{BuildHasher, Hash, Hasher};

/// Number of beneficiary shards (a constant: the result must not depend on the thread count).
pub const SHARDS: usize = 256;

/// The shard that owns the beneficiary `key` ([`crate::refs::benef_key`]).
#[inline]
pub fn shard_of(key: u64) -> usize {
    let mut h = rustc_hash::FxHasher::default();
    key.hash(&mut h);
    (h.finish() >> 32) as usize % SHARDS
}

/// States per slab block of a shard: a block is allocated whole, so a shard wastes at most one
/// partly filled block (256 shards × 256 states × ~150 B ≈ 10 MB at worst).
const BLOCK: usize = 256;

/// The beneficiaries of one shard: their states in fixed-size blocks (a slab, in the order they were
/// first seen) and a hash index from key to slot. The index holds 4-byte slot numbers only — the key
/// is read from the slot, whose state is about to be read anyway — so the slack of a hash table that
/// doubles (up to half its buckets empty) costs 5 bytes a bucket, not 17 with the key (issue #13:
/// ≈ 138 → ≈ 40 MiB for 4.3 M beneficiaries); a block never moves, so growing never copies states
/// nor holds two tables of them.
#[derive(Default)]
pub struct Shard {
    index: HashTable<u32>,
    blocks: Vec<Vec<(u64, BenefState)>>,
}

/// The hash of a beneficiary key in a shard's index.
#[inline]
fn hash(key: u64) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(key)
}

/// The key held in slot `i` (0 for a slot that does not exist: never asked).
#[inline]
fn key_at(blocks: &[Vec<(u64, BenefState)>], i: u32) -> u64 {
    let i = i as usize;
    blocks
        .get(i / BLOCK)
        .and_then(|b| b.get(i % BLOCK))
        .map_or(0, |e| e.0)
}

impl Shard {
    /// The slot of `key`, if it has one.
    #[inline]
    fn slot(&self, key: u64) -> Option<usize> {
        let blocks = &self.blocks;
        self.index
            .find(hash(key), |&i| key_at(blocks, i) == key)
            .map(|&i| i as usize)
    }

    /// The state of `key`, made by `new` if the shard has none yet.
    pub(crate) fn get_or_insert_with(
        &mut self,
        key: u64,
        new: impl FnOnce() -> BenefState,
    ) -> &mut BenefState {
        let i = match self.slot(key) {
            Some(i) => i,
            None => {
                let n = self.index.len();
                self.push(key, new());
                let Shard { index, blocks } = self;
                index.insert_unique(hash(key), n as u32, |&i| hash(key_at(blocks, i)));
                n
            }
        };
        &mut self.blocks[i / BLOCK][i % BLOCK].1
    }

    fn push(&mut self, key: u64, st: BenefState) {
        if self.blocks.last().is_none_or(|b| b.len() == BLOCK) {
            self.blocks.push(Vec::with_capacity(BLOCK));
        }
        if let Some(b) = self.blocks.last_mut() {
            b.push((key, st));
        }
    }

    fn get(&self, key: u64) -> Option<&BenefState> {
        let i = self.slot(key)?;
        Some(&self.blocks.get(i / BLOCK)?.get(i % BLOCK)?.1)
    }

    /// Reads the index entry and the state of `key` (if any) and returns a value made from them, for the
    /// caller to discard: a read-ahead before the claim is liquidated (`engine::liquidate_shards`).
    #[inline]
    pub(crate) fn touch(&self, key: u64) -> usize {
        self.get(key)
            .map_or(0, |s| s.pf_by_year.len() + s.daily.len())
    }

    fn set(&mut self, key: u64, st: BenefState) {
        *self.get_or_insert_with(key, BenefState::default) = st;
    }

    fn len(&self) -> usize {
        self.index.len()
    }

    fn iter(&self) -> impl Iterator<Item = &(u64, BenefState)> {
        self.blocks.iter().flatten()
    }

    /// Bytes allocated: the index's buckets and the blocks' slots.
    fn bytes(&self) -> usize {
        crate::engine::table_bytes(self.index.capacity(), std::mem::size_of::<u32>())
            + self.blocks.iter().map(|b| b.capacity()).sum::<usize>()
                * std::mem::size_of::<(u64, BenefState)>()
    }
}

/// Every beneficiary's running state, by beneficiary key, split into [`SHARDS`] shards.
pub struct States {
    shards: Vec<Shard>,
}

impl Default for States {
    fn default() -> Self {
        States {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
    }
}

impl States {
    pub fn new() -> States {
        States::default()
    }

    /// Sets the state of beneficiary `key` before a run (replacing any state it had). A seeded
    /// `pf_by_year` entry should come with `seeded = true`, or the beneficiaries table's own
    /// `pf_year`/`pf_used` is added on the first participation (`participation::apply_participation`).
    pub fn seed(&mut self, key: u64, state: BenefState) {
        if let Some(m) = self.shards.get_mut(shard_of(key)) {
            m.set(key, state);
        }
    }

    /// The state of beneficiary `key`, if it was seeded or one of its claims reached the rules.
    pub fn get(&self, key: u64) -> Option<&BenefState> {
        self.shards.get(shard_of(key))?.get(key)
    }

    /// Number of beneficiaries with a state.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|m| m.len()).sum()
    }

    /// Bytes allocated by the shards (index and inline states; heap spills of a state not counted).
    pub fn table_bytes(&self) -> usize {
        self.shards.iter().map(Shard::bytes).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(|m| m.len() == 0)
    }

    /// Every state, by ascending beneficiary key.
    pub fn into_sorted(self) -> Vec<(u64, BenefState)> {
        let mut v: Vec<(u64, BenefState)> = Vec::with_capacity(self.len());
        for sh in self.shards {
            v.extend(sh.blocks.into_iter().flatten());
        }
        v.sort_unstable_by_key(|e| e.0);
        v
    }

    /// Every state by reference, block by block as they lie in memory (shard by shard, in the order
    /// first seen: the same for any `--threads`). What a ledger encodes at the end of a night
    /// (`carry::Carry::night_states`): reading the states where they lie, in parallel over blocks,
    /// instead of chasing references sorted by key (issue #14).
    pub fn blocks(&self) -> Vec<&[(u64, BenefState)]> {
        self.shards
            .iter()
            .flat_map(|sh| sh.blocks.iter().map(Vec::as_slice))
            .collect()
    }

    /// Every state by reference, by ascending beneficiary key: what a ledger commits. A national
    /// night has millions of states of ≈ 180 bytes: sorting references (16 bytes) on the run's pool
    /// instead of moving the states into one sorted vector (issue #14: ≈ 2.5 s for 4.3 M states on
    /// the loaded machine, and as many fresh pages as the states take).
    pub fn sorted(&self) -> Vec<(u64, &BenefState)> {
        self.refs_where(|_| true)
    }

    /// References to the states that satisfy `keep`, by ascending key. Counted per shard first, then
    /// each shard fills its own part of one vector of the exact size, on the run's pool: no
    /// intermediate lists (a parallel `extend` of an unsized iterator gathers per-task vectors, then
    /// copies them — ≈ 200 MiB more at the end of a national night, issue #13).
    fn refs_where(&self, keep: impl Fn(&BenefState) -> bool + Sync) -> Vec<(u64, &BenefState)> {
        let counts: Vec<usize> = self
            .shards
            .par_iter()
            .map(|sh| sh.iter().filter(|e| keep(&e.1)).count())
            .collect();
        let Some(first) = self
            .shards
            .iter()
            .flat_map(Shard::iter)
            .find(|e| keep(&e.1))
        else {
            return Vec::new();
        };
        let mut v: Vec<(u64, &BenefState)> = vec![(first.0, &first.1); counts.iter().sum()];
        let mut parts: Vec<&mut [(u64, &BenefState)]> = Vec::with_capacity(counts.len());
        let mut rest = &mut v[..];
        for &c in &counts {
            let (part, r) = rest.split_at_mut(c);
            parts.push(part);
            rest = r;
        }
        self.shards.par_iter().zip(parts).for_each(|(sh, part)| {
            for (slot, e) in part.iter_mut().zip(sh.iter().filter(|e| keep(&e.1))) {
                *slot = (e.0, &e.1);
            }
        });
        v.par_sort_unstable_by_key(|e| e.0);
        v
    }

    /// Frees every state side by side on the run's pool: a national night holds millions of states,
    /// each with its heap spills (debts, sessions), and dropping them one after the other is a
    /// single-threaded step at the very end of the run (issue #13: 0.10 → 0.08 s on a 1 M-claim day,
    /// 2 threads, under load).
    pub fn free(self) {
        self.shards.into_par_iter().for_each(drop);
    }

    /// The beneficiaries with open debts of the insured (`rules::debt`), by ascending key: what
    /// `debts.tsv` lists, each beneficiary's debts oldest first. References (16 bytes a beneficiary),
    /// not a copy of the debts: this list is made at the end of the run, at its memory peak (issue
    /// #13: a copy of 3 M debts was ≈ 140 MiB on a national night). Gathered and sorted on the run's
    /// pool (`refs_where`); the order does not depend on the shards' hash maps.
    pub fn with_debts(&self) -> Vec<(u64, &BenefState)> {
        self.refs_where(|b| !b.open_debts().is_empty())
    }

    /// How many debts of the insured are open, and their open amount (`summary.json`'s
    /// `debts_open`, `debts_open_cents`).
    pub fn open_debt_totals(&self) -> (u64, crate::money::Cents) {
        self.shards
            .par_iter()
            .map(|sh| {
                sh.iter().fold((0u64, 0i64), |(n, c), (_, b)| {
                    (n + b.open_debts().len() as u64, c + b.open_debt_cents())
                })
            })
            .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    }

    /// Total of the debts still open (before a run: the debts carried from earlier nights).
    pub fn open_debt_cents(&self) -> crate::money::Cents {
        self.shards
            .iter()
            .flat_map(Shard::iter)
            .map(|(_, b)| b.open_debt_cents())
            .sum()
    }

    /// The shards, for the engine's parallel liquidation (shard `i` owns the keys with
    /// `shard_of(key) == i`).
    pub(crate) fn shards_mut(&mut self) -> &mut [Shard] {
        &mut self.shards
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_states_read_back_by_key_in_ascending_order() {
        let mut s = States::new();
        for key in [42u64, 7, 1_000_000_007] {
            let mut st = BenefState::default();
            st.add_pf(2026, key as i64 % 1000);
            s.seed(key, st);
        }
        assert_eq!(s.len(), 3);
        assert_eq!(s.get(7).map(|st| st.pf_used(2026)), Some(7));
        assert!(s.get(8).is_none());
        let by_ref: Vec<(u64, i64)> = s
            .sorted()
            .iter()
            .map(|e| (e.0, e.1.pf_used(2026)))
            .collect();
        assert_eq!(by_ref, vec![(7, 7), (42, 42), (1_000_000_007, 7)]);
        let keys: Vec<u64> = s.into_sorted().into_iter().map(|e| e.0).collect();
        assert_eq!(keys, vec![7, 42, 1_000_000_007]);
    }
}
