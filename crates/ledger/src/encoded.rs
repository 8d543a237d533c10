//! The night's states in their stored form, sorted by mixed key: what the commit merges into the
//! next image file (formats/ledger.md, "States: one image file per generation").
//!
//! Why encode apart from the merge: a national night ends with ≈ 4.3 M states of ≈ 180 bytes each,
//! plus their heap spills (debts, sessions), scattered over the engine's shards. Encoding them in
//! key order — the order the merge needs — read each state at a random place (several cache misses
//! a state: 1.86 s of a national commit with the merge, issue #14). Here they are encoded where they
//! lie, block after block in parallel, into a few arenas, and only 16-byte entries (key, arena,
//! offset) are sorted. A run encodes them once the ledger's reader is freed, while its outputs are
//! flushed to the disk (`src/nightly.rs`), so that the commit itself only merges and writes.

use liquidator_core::date::Date;
use liquidator_core::rules::BenefState;
use liquidator_core::states::{Shard, packed};
use rayon::prelude::*;

/// States per encoding task (one arena each).
const TASK: usize = 16 * 1024;

/// Encoded states: `entries` (mixed key, arena, offset of the record's varint length) sorted by key;
/// each arena holds records `length varint, bytes` (`codec::encode_pruned`).
#[derive(Default)]
pub struct Encoded {
    arenas: Vec<Vec<u8>>,
    entries: Vec<(u64, u32, u32)>,
    /// The oldest payable day the states were pruned for (the commit checks it is the night's).
    oldest: Option<Date>,
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
        let mut slices = Vec::with_capacity(sizes.len());
        let mut rest = entries.as_mut_slice();
        for &n in sizes {
            let (mine, r) = rest.split_at_mut(n);
            slices.push(mine);
            rest = r;
        }
        let arenas: Vec<Vec<u8>> = groups
            .zip(slices)
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
            arenas,
            entries,
            oldest: Some(oldest),
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

    /// Encodes the packed states of the engine's shards (`States::shards`) where they lie, one
    /// task a shard: each state's bytes are copied, or pruned when it holds days or years before
    /// `oldest` (`packed::append_pruned`). A state that does not read is an error (never
    /// committed as it is: the run fails, formats/ledger.md "What is refused as corrupt").
    pub fn from_shards(shards: &[Shard], oldest: Date) -> Result<Encoded, packed::DecodeError> {
        let sizes: Vec<usize> = shards.iter().map(Shard::len).collect();
        let mut entries = vec![(0u64, 0u32, 0u32); sizes.iter().sum()];
        let mut slices = Vec::with_capacity(sizes.len());
        let mut rest = entries.as_mut_slice();
        for &n in &sizes {
            let (mine, r) = rest.split_at_mut(n);
            slices.push(mine);
            rest = r;
        }
        let arenas: Vec<Vec<u8>> = shards
            .par_iter()
            .zip(slices)
            .enumerate()
            .map(|(g, (sh, slots))| {
                // Sized once: a state pruned is no longer than packed, and its length varint
                // takes at most 2 bytes below 16 KiB (a larger one only grows the arena). Sized
                // by a guess, the arenas grew by copying (≈ 390 MiB of capacity at national size
                // for ≈ 250 MiB of records).
                let cap = sh.iter().map(|(_, b)| b.len() + 2).sum();
                let mut arena = Vec::with_capacity(cap);
                let mut bytes = Vec::with_capacity(256);
                let mut work = BenefState::default();
                for ((k, b), slot) in sh.iter().zip(slots.iter_mut()) {
                    bytes.clear();
                    packed::append_pruned(b, oldest, &mut work, &mut bytes)?;
                    *slot = (crate::segments::mix(k), g as u32, arena.len() as u32);
                    crate::codec::put_varint(&mut arena, bytes.len() as u64);
                    arena.extend_from_slice(&bytes);
                }
                Ok(arena)
            })
            .collect::<Result<_, packed::DecodeError>>()?;
        // Keys are unique (one state per beneficiary, `mix` is a bijection).
        entries.par_sort_unstable_by_key(|x| x.0);
        Ok(Encoded {
            arenas,
            entries,
            oldest: Some(oldest),
        })
    }

    /// The oldest payable day the states were pruned for (`None`: encoded nothing).
    pub fn oldest(&self) -> Option<Date> {
        self.oldest
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Bytes of the states as stored records (key, length, bytes): what they add to a table at
    /// most.
    pub fn bytes(&self) -> usize {
        self.arenas.iter().map(Vec::len).sum::<usize>() + 8 * self.entries.len()
    }

    /// Heap bytes held (arenas and sorted entries): `LIQUIDATOR_TIMING`'s memory figures.
    pub fn heap_bytes(&self) -> usize {
        self.arenas.iter().map(Vec::capacity).sum::<usize>()
            + self.entries.capacity() * std::mem::size_of::<(u64, u32, u32)>()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `i`-th state in key order: (mixed key, encoded bytes).
    pub fn get(&self, i: usize) -> (u64, &[u8]) {
        let Some(&(k, a, off)) = self.entries.get(i) else {
            return (0, &[]);
        };
        let arena = self.arenas.get(a as usize).map_or(&[][..], Vec::as_slice);
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
        (k, arena.get(at..at + len).unwrap_or_default())
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
        let b = Encoded::from_shards(shards.shards(), oldest).unwrap();
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
        for (i, (k, v)) in want.iter().enumerate() {
            assert_eq!(a.get(i), (*k, v.as_slice()));
            assert_eq!(b.get(i), (*k, v.as_slice()));
        }
        assert_eq!(a.get(40_000), (0, &[][..]));
    }

    /// A state in a shard that does not read is an error of the encoding, never committed as it
    /// is (before: its bytes were stored unchanged for the next night to trip on).
    #[test]
    fn a_shard_state_that_does_not_read_is_an_error_not_committed_as_it_is() {
        let s = one_open_debt();
        let mut b = Vec::new();
        crate::codec::encode(&s, &mut b);
        let mut shards = liquidator_core::states::States::new();
        shards.seed_packed(1, &b);
        assert!(Encoded::from_shards(shards.shards(), Date(20231216)).is_ok());
        // the recovered amount read as −0.01 €: open 2.01 € > amount
        if let Some(l) = b.last_mut() {
            *l = 1;
        }
        shards.seed_packed(2, &b);
        assert!(Encoded::from_shards(shards.shards(), Date(20231216)).is_err());
    }
}
