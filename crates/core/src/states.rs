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
use rustc_hash::FxHashMap;
use std::hash::{Hash, Hasher};

/// Number of beneficiary shards (a constant: the result must not depend on the thread count).
pub const SHARDS: usize = 256;

/// The shard that owns the beneficiary `key` ([`crate::refs::benef_key`]).
#[inline]
pub fn shard_of(key: u64) -> usize {
    let mut h = rustc_hash::FxHasher::default();
    key.hash(&mut h);
    (h.finish() >> 32) as usize % SHARDS
}

/// Every beneficiary's running state, by beneficiary key, split into [`SHARDS`] shards.
pub struct States {
    shards: Vec<FxHashMap<u64, BenefState>>,
}

impl Default for States {
    fn default() -> Self {
        States {
            shards: (0..SHARDS).map(|_| FxHashMap::default()).collect(),
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
            m.insert(key, state);
        }
    }

    /// The state of beneficiary `key`, if it was seeded or one of its claims reached the rules.
    pub fn get(&self, key: u64) -> Option<&BenefState> {
        self.shards.get(shard_of(key))?.get(&key)
    }

    /// Number of beneficiaries with a state.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|m| m.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(|m| m.is_empty())
    }

    /// Every state, by ascending beneficiary key.
    pub fn into_sorted(self) -> Vec<(u64, BenefState)> {
        let mut v: Vec<(u64, BenefState)> = self.shards.into_iter().flatten().collect();
        v.sort_unstable_by_key(|e| e.0);
        v
    }

    /// Every open debt of the insured (`rules::debt`), by beneficiary key then oldest first (a
    /// deterministic order: it does not depend on the shards' hash maps).
    pub fn open_debts(&self) -> Vec<(u64, crate::rules::debt::Debt)> {
        let mut v: Vec<(u64, crate::rules::debt::Debt)> = Vec::new();
        for (k, b) in self.shards.iter().flatten() {
            v.extend(b.open_debts().iter().map(|d| (*k, *d)));
        }
        // Stable: the debts of one beneficiary keep their order (oldest first).
        v.sort_by_key(|e| e.0);
        v
    }

    /// Total of the debts still open (before a run: the debts carried from earlier nights).
    pub fn open_debt_cents(&self) -> crate::money::Cents {
        self.shards
            .iter()
            .flatten()
            .map(|(_, b)| b.open_debt_cents())
            .sum()
    }

    /// The shards, for the engine's parallel liquidation (shard `i` owns the keys with
    /// `shard_of(key) == i`).
    pub(crate) fn shards_mut(&mut self) -> &mut [FxHashMap<u64, BenefState>] {
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
        let keys: Vec<u64> = s.into_sorted().into_iter().map(|e| e.0).collect();
        assert_eq!(keys, vec![7, 42, 1_000_000_007]);
    }
}
