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

pub mod packed;
pub(crate) mod scratch;
pub use scratch::check_dir as check_scratch_dir;

use crate::date::Date;
use crate::rules::BenefState;
use rayon::prelude::*;
use scratch::Store;
use std::hash::BuildHasher;

/// Number of beneficiary shards (a constant: the result must not depend on the thread count).
pub const SHARDS: usize = 256;

/// The shard that owns the beneficiary `key` ([`crate::refs::benef_key`]): the top 8 bits of
/// [`mix`]`(key)`, so that the 256 shards share the night evenly — and so that shard `i` holds
/// exactly the keys whose mixed key lies in the `i`-th 256th of the `u64` range.
///
/// Review of stop 23: the FxHash bits taken before (32..39) were bits 6..13 of `key × K`, which
/// depend on the key's 14 low bits only — the rank (`001` for nearly everyone) and two NIR bits —
/// so real keys filled 4 of the 256 shards. The top bits of a mixed key depend on every bit of the
/// key (`beneficiaries_of_one_rank_spread_over_every_shard`). Outputs do not depend on the shard
/// (every output is in file or key order).
///
/// Until LEDGER20 the shard was the top 8 bits of a Fibonacci hash (`key × 2⁶⁴/φ`), which spread
/// the keys as evenly but in an order unrelated to the ledger's: the ledger keeps its states by
/// mixed key, so its commit sorted the places of all 4.24 M states of a national night (a 65 MiB
/// vector, a parallel comparison sort: ≈ 0.4 s of CPU, `perf`) and then read them at random over
/// all 256 shards, and the windows' lookups of a shard spread over the whole state image. Cut by
/// mixed key, a shard's states are one range of the image: the commit sorts each shard's own
/// slots (in the cache) and reads one shard at a time (`liquidator_ledger::encoded`).
#[inline]
pub fn shard_of(key: u64) -> usize {
    (mix(key) >> 56) as usize % SHARDS
}

/// The beneficiary key through a bijective 64-bit mixer (the finaliser of splitmix64): the order
/// of the ledger's state image (`liquidator_ledger::segments::mix`, formats/ledger.md, the same
/// function: a test there checks they agree) and, by its top bits, the shard ([`shard_of`]).
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Slots a shard's slab grows by at least, on the heap (in the scratch file it grows by pages).
const BLOCK: usize = 256;
/// Bytes a spill arena grows by at least, on the heap.
const SPILL_STEP: usize = 4096;
/// Buckets of a shard's index when its first key arrives.
const INDEX_MIN: usize = 1024;
/// The bits of an index entry that hold the upper half of its key's hash (the lower half holds
/// the slot number + 1; 0 is an empty bucket).
const TAG: u64 = 0xFFFF_FFFF_0000_0000;

/// Bytes of a packed state held in its slot. A national day's states (issue #13, measured on the
/// 1 M-claim day: see `States::size_histogram`) mostly pack into 20–40 bytes: one year of
/// participation, one session, no debt. Longer ones (several sessions, debts) spill.
const INLINE: usize = 39;

/// `Slot::len & LEN` of a state whose bytes are in the shard's spill arena; the slot's bytes then
/// hold the record's offset, length and room there (three u64, little-endian).
const SPILLED: u8 = 0x3F;
/// The length bits of `Slot::len` (an inline length, at most [`INLINE`], or [`SPILLED`]).
const LEN: u8 = 0x3F;
/// The bit of `Slot::len` set when the state has open debts: the end-of-run readers of the debts
/// (`States::with_debts`, `open_debt_totals`) read only those states.
const DEBTS: u8 = 0x80;
/// The bit of `Slot::len` set when the state is known to hold nothing the ledger's commit would
/// prune for the shard's [`Shard::fresh_since`] day — no yearly counter of an earlier year, no
/// franchise day or session dated before it — and to read without an error up to its debts (every
/// counter and franchise day within ±`packed::MAX_CENTS`): set by the shard as it packs the state
/// or decodes a carried one ([`packed::fresh`]), never for a state set from bytes
/// ([`States::seed`], [`States::seed_packed`]). The commit copies such a state as it is, without
/// walking it to look for something to prune (`Shard::fresh_at`; LEDGER26: the walk found
/// nothing in almost every state, ≈ 267 instructions a state on the commit's path).
const FRESH: u8 = 0x40;

/// One beneficiary in a shard: its key and its packed state (`packed`), inline up to [`INLINE`]
/// bytes — 48 bytes a beneficiary, against ≈ 176 for a `BenefState` and its heap spills. The
/// length byte and the inline bytes are the 40 bytes of `rest` (`u64`s only, so that the slot is
/// plain old data whatever the arrays `bytemuck` knows: it lies in the scratch file's pages).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Slot {
    key: u64,
    rest: [u64; 5],
}

impl Slot {
    fn new(key: u64) -> Slot {
        Slot { key, rest: [0; 5] }
    }
    /// The length byte: an inline length or [`SPILLED`], the [`FRESH`] bit and the [`DEBTS`] bit.
    fn len(&self) -> u8 {
        bytemuck::bytes_of(&self.rest)[0]
    }
    fn set_len(&mut self, v: u8) {
        bytemuck::bytes_of_mut(&mut self.rest)[0] = v;
    }
    /// The [`INLINE`] bytes after the length byte.
    fn bytes(&self) -> &[u8] {
        &bytemuck::bytes_of(&self.rest)[1..]
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::bytes_of_mut(&mut self.rest)[1..]
    }
    /// (offset, length, room) of a spilled record.
    fn spill(&self) -> (usize, usize, usize) {
        let w = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&self.bytes()[i * 8..i * 8 + 8]);
            u64::from_le_bytes(a) as usize
        };
        (w(0), w(1), w(2))
    }
    fn set_spill(&mut self, off: usize, len: usize, room: usize) {
        for (i, v) in [off, len, room].into_iter().enumerate() {
            self.bytes_mut()[i * 8..i * 8 + 8].copy_from_slice(&(v as u64).to_le_bytes());
        }
        self.set_len(SPILLED | (self.len() & (DEBTS | FRESH)));
    }
    fn spilled(&self) -> bool {
        self.len() & LEN == SPILLED
    }
    fn has_debts(&self) -> bool {
        self.len() & DEBTS != 0
    }
    fn fresh(&self) -> bool {
        self.len() & FRESH != 0
    }
    /// The packed state, read from `spill` if it is there.
    fn packed<'a>(&'a self, spill: &'a [u8]) -> &'a [u8] {
        if self.spilled() {
            let (off, len, _) = self.spill();
            spill.get(off..off + len).unwrap_or_default()
        } else {
            &self.bytes()[..((self.len() & LEN) as usize).min(INLINE)]
        }
    }
}

/// The beneficiaries of one shard: their packed states in an array of slots (a slab, in the order
/// they were first seen), the states longer than a slot in one spill arena, and a hash index from
/// key to slot. The index is an open-addressing table of 8-byte entries, linear probing, at most
/// three quarters full: an entry holds the slot number and the upper half of the key's hash, so a
/// probe reads the slot (for its key) only when the hashes agree. It is never resized by copying:
/// a full index is rebuilt twice as large from the slots themselves (slots are never removed).
/// The slots, the arena and the index are [`scratch::Store`]s: in a run, regions of the scratch files
/// in the staging directory that grow in place (file-backed pages, not anonymous memory:
/// [`States::in_dir`]); on the heap otherwise, grown by a quarter.
///
/// Why a hash index and not a slab indexed by the reference snapshot's beneficiary row: the two
/// cost the same at national size (≈ 40 MiB: 10 M rows × 4 bytes, against ≈ 8 M buckets × 5 bytes
/// for the 4.3 M beneficiaries a day touches), and a ledger seeds states by key, for beneficiaries
/// that may have no row in tonight's table.
///
/// The rules work on a decoded copy ([`Shard::with_state`]): decoded before the claim, packed back
/// after it — one `BenefState` a shard, not one a beneficiary.
#[derive(Default)]
pub struct Shard {
    index: Store<u64>,
    slots: Store<Slot>,
    spill: Store<u8>,
    /// Bytes of `spill` no slot points at any more (a record moved or went back inline).
    garbage: usize,
    /// Bytes of garbage made over the run, and bytes the compactions copied ([`Parts`]).
    garbage_made: usize,
    copied: usize,
    /// The working copy of the state being liquidated, and the buffer it is packed into.
    work: BenefState,
    buf: Vec<u8>,
    /// A state was set from bytes this shard neither packed nor decoded whole ([`States::seed_packed`]):
    /// [`Self::checked`] is then false.
    unchecked: bool,
    /// The oldest payable day the [`FRESH`] bits were set for (the engine's, given to
    /// [`Self::with_state`]; `None`: no state was liquidated), and whether a second, different day
    /// was given (then no bit is trusted: [`Self::fresh_at`]).
    fresh_since: Option<Date>,
    fresh_mixed: bool,
    /// How many times the spill arena was compacted (the tests check that compaction ran).
    #[cfg(test)]
    compactions: usize,
}

/// The hash of a beneficiary key in a shard's index.
#[inline]
fn hash(key: u64) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(key)
}

/// The key held in slot `i` (0 for a slot that does not exist: never asked).
#[inline]
fn key_at(slots: &[Slot], i: u32) -> u64 {
    slots.get(i as usize).map_or(0, |e| e.key)
}

impl Shard {
    /// The slot of `key`, if it has one.
    #[inline]
    fn slot(&self, key: u64) -> Option<usize> {
        let t = self.index.as_slice();
        // a power of two (`rebuild`), or empty
        let mask = t.len().checked_sub(1)?;
        let slots = self.slots.as_slice();
        let h = hash(key);
        let mut b = h as usize & mask;
        // at most three quarters full: the probe ends on an empty bucket
        loop {
            let e = *t.get(b)?;
            if e == 0 {
                return None;
            }
            let i = (e as u32).wrapping_sub(1);
            if e & TAG == h & TAG && key_at(slots, i) == key {
                return Some(i as usize);
            }
            b = (b + 1) & mask;
        }
    }

    /// Enters slot `i` (its key not in the index yet) in the index `t` (a power of two, not full).
    fn place(t: &mut [u64], slots: &[Slot], i: usize) {
        let Some(mask) = t.len().checked_sub(1) else {
            return;
        };
        let h = hash(key_at(slots, i as u32));
        let mut b = h as usize & mask;
        while t.get(b).is_some_and(|&e| e != 0) {
            b = (b + 1) & mask;
        }
        if let Some(e) = t.get_mut(b) {
            *e = (h & TAG) | (i as u64 + 1);
        }
    }

    /// Makes the index `buckets` entries (a power of two) and enters every slot in it.
    fn rebuild(&mut self, buckets: usize) {
        self.index.reset_zeroed(buckets);
        let t = self.index.as_mut_slice();
        let slots = self.slots.as_slice();
        for i in 0..slots.len() {
            Self::place(t, slots, i);
        }
    }

    fn at(&self, i: usize) -> Option<&Slot> {
        self.slots.as_slice().get(i)
    }

    /// The packed state of `key`, if it has one.
    fn packed(&self, key: u64) -> Option<&[u8]> {
        Some(self.at(self.slot(key)?)?.packed(self.spill.as_slice()))
    }

    /// A new slot for `key` holding `bytes`; its number.
    fn insert(&mut self, key: u64, bytes: &[u8]) -> usize {
        self.insert_with(key, bytes, packed::has_debts(bytes), false)
    }

    /// [`Self::insert`] when the caller knows whether `bytes` hold open debts (it encoded them):
    /// `packed::has_debts` reads a record through to its debts; `fresh`: the [`FRESH`] bit.
    fn insert_with(&mut self, key: u64, bytes: &[u8], debts: bool, fresh: bool) -> usize {
        let n = self.slots.len();
        self.slots.push(Slot::new(key), BLOCK);
        let buckets = self.index.len();
        if (n + 1) * 4 > buckets * 3 {
            self.rebuild((buckets * 2).max(INDEX_MIN));
        } else {
            Self::place(self.index.as_mut_slice(), self.slots.as_slice(), n);
        }
        self.store(n, bytes, debts, fresh);
        n
    }

    /// Puts `bytes` (a state with open debts or not) in slot `i`: inline if they fit, else in the
    /// spill arena — in place if the record's room there holds them (a state that shrank), else at
    /// the arena's end, taking exactly its bytes.
    ///
    /// Until LEDGER21 a record took a quarter more room, for a state that outgrew its slot to grow
    /// again in place. It seldom did: on national night 2 through the ledger the arenas held 30 MiB
    /// of room (151.0 MiB of records with their room for 121.0 of bytes) and the records that
    /// outgrew it left 25.1 MiB of garbage; without room they leave 26.7 (`LIQUIDATOR_TIMING`'s
    /// "states' parts": "garbage made"). The room's pages were fresh memory all the same, written
    /// by the scratch file's populating steps: spill arenas 204.0 → 164.0 MiB populated (issue
    /// #14: each fresh MiB costs this machine 1–3 ms).
    fn store(&mut self, i: usize, bytes: &[u8], debts: bool, fresh: bool) {
        let Shard {
            slots,
            spill,
            garbage,
            garbage_made,
            ..
        } = self;
        let Some(slot) = slots.as_mut_slice().get_mut(i) else {
            return;
        };
        let flags = if debts { DEBTS } else { 0 } | if fresh { FRESH } else { 0 };
        slot.set_len((slot.len() & LEN) | flags);
        if slot.spilled() {
            let (off, _, room) = slot.spill();
            if bytes.len() > INLINE
                && bytes.len() <= room
                && let Some(dst) = spill.as_mut_slice().get_mut(off..off + bytes.len())
            {
                dst.copy_from_slice(bytes);
                slot.set_spill(off, bytes.len(), room);
                return;
            }
            *garbage += room;
            *garbage_made += room;
        }
        if bytes.len() <= INLINE {
            slot.bytes_mut()[..bytes.len()].copy_from_slice(bytes);
            slot.set_len(bytes.len() as u8 | flags);
        } else {
            let off = spill.len();
            // on the heap grown by a quarter, not doubled: a doubling arena is up to half empty
            // (issue #13: the arenas are a third of the states' memory at national size)
            spill.extend_from_slice(bytes, SPILL_STEP);
            slot.set_spill(off, bytes.len(), bytes.len());
        }
        if *garbage > 1 << 14 && *garbage * 4 > spill.len() {
            self.compact();
        }
    }

    /// Rewrites the spill arena with the live records only, in slot order (when a quarter of it is
    /// garbage: the copies stay within a few times the live bytes over a run).
    fn compact(&mut self) {
        let live = self.spill.len() - self.garbage.min(self.spill.len());
        let mut fresh = Vec::with_capacity(live);
        let spill = self.spill.as_slice();
        for slot in self.slots.as_mut_slice() {
            if slot.spilled() {
                let (off, len, room) = slot.spill();
                let at = fresh.len();
                fresh.extend_from_slice(spill.get(off..off + room).unwrap_or_default());
                slot.set_spill(at, len, room);
            }
        }
        // in the scratch file, copied back to the region's start (the pages beyond stay for the
        // arena to grow into again)
        self.copied += fresh.len();
        self.spill.replace(fresh, SPILL_STEP);
        self.garbage = 0;
        #[cfg(test)]
        {
            self.compactions += 1;
        }
    }

    /// Runs `f` on the state of beneficiary `key` and packs back what it leaves if `f` says it may
    /// have changed it (`f` returns its result and that flag: a rejected claim leaves the state as
    /// it was, `rules::liquidate`). The state is
    /// decoded into the shard's working copy; the first time a beneficiary is seen it is the one
    /// `carry` gives (an earlier night's, `Carry::state_bytes`), or an empty one. `f` is told
    /// whether the state is new to the shard (`engine::liquidate_shards` counts the debts a
    /// beneficiary brings from an earlier night), and is given a function that puts the working
    /// copy back as it was before `f` (decoded again from the packed bytes, which `f` cannot
    /// change): `f` may change the copy and then say it did not (`rules::liquidate_in_place`,
    /// which works on it without copying it and restores it before a new try), and nothing it
    /// left is kept.
    ///
    /// A packed state that does not decode — never one this shard packed; a carried one, whose
    /// bytes the ledger hands over unchecked (`Carry::state_bytes`) because this decode checks
    /// every field as `packed::validate` would — is an error: `f` is not run and nothing is stored. Taking it as empty would liquidate the claim against
    /// empty caps and drop the beneficiary's open debts (the caller ends the run: exit 11).
    ///
    /// `oldest` is the night's oldest payable day (`Ctx::time_limit`): the state the claim leaves
    /// is marked [`FRESH`] for it when it holds nothing the ledger's commit would prune.
    pub(crate) fn with_state<R>(
        &mut self,
        key: u64,
        carry: Option<&dyn crate::carry::Carry>,
        oldest: Date,
        f: impl FnOnce(&mut BenefState, bool, &mut dyn FnMut(&mut BenefState)) -> (R, bool),
    ) -> Result<R, packed::DecodeError> {
        match self.fresh_since {
            None => self.fresh_since = Some(oldest),
            Some(o) if o != oldest => self.fresh_mixed = true,
            Some(_) => {}
        }
        // The working copy is used where it lies (not moved out and back: a `BenefState` moved
        // costs a copy and the drop of the one left behind), beside the slots it is decoded from.
        let mut buf = std::mem::take(&mut self.buf);
        let i = match self.slot(key) {
            Some(i) => i,
            None => {
                buf.clear();
                if !carry.is_some_and(|c| c.state_bytes(key, &mut buf)) {
                    // A beneficiary first seen tonight (most of them): the rules start from the
                    // empty state itself, not from its encoding decoded, and the slot is created
                    // with the state they leave — one encoding instead of three steps (encode the
                    // empty state, decode it, encode the result). The same bytes in the same slot.
                    let work = &mut self.work;
                    clear_state(work);
                    let (r, changed) = f(work, true, &mut clear_state);
                    let debts = changed && work.has_open_debts();
                    let fresh = if changed {
                        packed::encode_fresh(work, oldest, &mut buf)
                    } else {
                        packed::encode(&BenefState::default(), &mut buf);
                        true
                    };
                    self.insert_with(key, &buf, debts, fresh);
                    self.buf = buf;
                    return Ok(r);
                }
                // A state carried from an earlier night: decoded from the bytes the carry handed
                // over (with whether they hold debts, in the same pass: the one check they get,
                // `Carry::state_bytes`), and its slot made once,
                // with what the claim leaves — not made with the carried bytes (inline, or spilled
                // with room), read through to their debts (`packed::has_debts`),
                // decoded from the slot, then stored again: a state the claim lengthened past its
                // room moved to the arena's end and left its first copy there as garbage (issue
                // #14). The same bytes in the same slot.
                let work = &mut self.work;
                // With the `FRESH` bit of the carried bytes, stored as they are if the claim
                // leaves the state as it was (what the rules leave in `work` is thrown away).
                let (carried_debts, carried_fresh) =
                    match packed::decode_into_lazy(&buf, work, oldest) {
                        Ok(d) => d,
                        Err(e) => {
                            self.buf = buf;
                            return Err(e);
                        }
                    };
                let (r, changed) = match run_restorable(work, &buf, true, true, f) {
                    Ok(x) => x,
                    Err(e) => {
                        self.buf = buf;
                        return Err(e);
                    }
                };
                let (debts, fresh) = if changed {
                    let d = work.has_open_debts();
                    (d, packed::encode_fresh(work, oldest, &mut buf))
                } else {
                    (carried_debts, carried_fresh)
                };
                self.insert_with(key, &buf, debts, fresh);
                self.buf = buf;
                return Ok(r);
            }
        };
        let work = &mut self.work;
        let Some(slot) = self.slots.as_slice().get(i) else {
            self.buf = buf;
            return Err(packed::DecodeError("no slot"));
        };
        let bytes = slot.packed(self.spill.as_slice());
        // The shard's own bytes: known to read, unless set from bytes taken as they were.
        let known = !self.unchecked;
        let decoded = if known {
            packed::decode_into_known(bytes, work)
        } else {
            packed::decode_into_lazy(bytes, work, Date(0)).map(|_| ())
        };
        if let Err(e) = decoded {
            self.buf = buf;
            return Err(e);
        }
        let (r, changed) = match run_restorable(work, bytes, false, known, f) {
            Ok(x) => x,
            Err(e) => {
                self.buf = buf;
                return Err(e);
            }
        };
        if changed {
            let debts = self.work.has_open_debts();
            let fresh = packed::encode_fresh(&self.work, oldest, &mut buf);
            self.store(i, &buf, debts, fresh);
        }
        self.buf = buf;
        Ok(r)
    }

    /// Reads the index entry and the slot of `key` (if any) and returns a value made from them, for
    /// the caller to discard: a read-ahead before the claim is liquidated (`engine::liquidate_shards`).
    #[inline]
    pub(crate) fn touch(&self, key: u64) -> usize {
        self.packed(key).map_or(0, |b| b.len())
    }

    /// [`Self::touch`] for each of `keys` (at most 16), its result in `lens`, in stages: the first
    /// index bucket of every key, then the slot each of those names, then the lookups (now in
    /// the cache). One lookup after the other chained bucket → slot → bytes per key, and few of
    /// them were in flight at once (issue #13).
    pub(crate) fn touch_all(&self, keys: &[u64], lens: &mut [usize]) {
        let t = self.index.as_slice();
        let slots = self.slots.as_slice();
        let mask = t.len().saturating_sub(1);
        let mut first = [0u64; 16];
        for (f, &key) in first.iter_mut().zip(keys) {
            *f = t.get(hash(key) as usize & mask).copied().unwrap_or(0);
        }
        // The loaded keys are folded into one, handed to `black_box`: the loads are kept.
        let mut acc = 0u64;
        for &e in first.iter().take(keys.len()) {
            if e != 0 {
                acc ^= key_at(slots, (e as u32).wrapping_sub(1));
            }
        }
        std::hint::black_box(acc);
        for (l, &key) in lens.iter_mut().zip(keys) {
            *l = self.touch(key);
        }
    }

    /// Whether every state of the shard is known to read: each was packed by the shard
    /// ([`packed::encode`]) or decoded whole when it entered it (a carried state,
    /// [`Self::with_state`]) — never a state set from bytes it took as they were
    /// ([`States::seed_packed`]). The ledger's commit then skips checking the debts again
    /// (`packed::append_pruned_read`); otherwise it checks every field of every state. A state the
    /// shard packed reads unless a debt went past `packed::MAX_CENTS` (no input reaches it): that
    /// case is caught by [`States::open_debt_totals`], which walks every state with debts with
    /// every check before any commit (REVIEW22 L1).
    pub fn checked(&self) -> bool {
        !self.unchecked
    }

    /// Whether the state of slot `i` (the `i`-th of [`Self::iter`]) is known to hold nothing that
    /// pruning for `oldest` would drop, and to read up to its debts ([`FRESH`]): `oldest` is on
    /// or before the day the shard marked its states for (a state holding nothing before a day
    /// holds nothing before an earlier one). The ledger's commit copies such a state as it is
    /// instead of walking it for something to prune (`packed::append_pruned_read`), in a shard
    /// that is [`Self::checked`] (its debts are checked by `States::open_debt_totals`).
    pub fn fresh_at(&self, i: usize, oldest: Date) -> bool {
        !self.fresh_mixed
            && self.fresh_since.is_some_and(|e| oldest <= e)
            && self.at(i).is_some_and(Slot::fresh)
    }

    /// [`Self::set`] from bytes that are not known to read: the shard is no longer [`Self::checked`].
    fn set_unchecked(&mut self, key: u64, bytes: &[u8]) {
        self.unchecked = true;
        self.set(key, bytes);
    }

    fn set(&mut self, key: u64, bytes: &[u8]) {
        match self.slot(key) {
            Some(i) => self.store(i, bytes, packed::has_debts(bytes), false),
            None => {
                self.insert(key, bytes);
            }
        }
    }

    /// Number of beneficiaries with a state.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.len() == 0
    }

    /// Every (key, packed state), in slot order (the order first seen: the same for any
    /// `--threads`).
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> {
        let spill = self.spill.as_slice();
        self.slots
            .as_slice()
            .iter()
            .map(move |s| (s.key, s.packed(spill)))
    }

    /// Every key, in slot order ([`Self::iter`] without reading the states: the ledger's commit
    /// sorts a shard's slots by key before it reads them).
    pub fn keys(&self) -> impl Iterator<Item = u64> {
        self.slots.as_slice().iter().map(|s| s.key)
    }

    /// The key and packed state of slot `i` (the `i`-th of [`Self::iter`]): the ledger's commit
    /// sorts the slots by key and reads them back in that order, where they lie.
    pub fn get_at(&self, i: usize) -> Option<(u64, &[u8])> {
        let s = self.at(i)?;
        Some((s.key, s.packed(self.spill.as_slice())))
    }

    /// Slot `i` as words (empty: no such slot), without reading it: what a read-ahead prefetches
    /// before [`Self::get_at`] reads the slot.
    pub fn slot_words(&self, i: usize) -> &[u64] {
        self.at(i)
            .map_or(&[][..], |s| bytemuck::cast_slice(std::slice::from_ref(s)))
    }

    /// (key, packed state) of the states with open debts, in slot order.
    fn with_debts(&self) -> impl Iterator<Item = (u64, &[u8])> {
        let spill = self.spill.as_slice();
        self.slots
            .as_slice()
            .iter()
            .filter(|s| s.has_debts())
            .map(move |s| (s.key, s.packed(spill)))
    }

    /// What the shard's bytes hold ([`Parts`]).
    fn parts(&self) -> Parts {
        let held = |b: (usize, usize)| b.0 + b.1;
        let mut p = Parts {
            index: [held(self.index.bytes()), self.index.len() * 8],
            slots: [
                held(self.slots.bytes()),
                self.slots.len() * std::mem::size_of::<Slot>(),
            ],
            spill: [held(self.spill.bytes()), self.spill.len()],
            garbage: self.garbage,
            garbage_made: self.garbage_made,
            copied: self.copied,
            ..Parts::default()
        };
        for s in self.slots.as_slice().iter().filter(|s| s.spilled()) {
            let (_, len, room) = s.spill();
            p.spilled += 1;
            p.records += len;
            p.room += room;
        }
        p
    }

    /// Bytes held: (on the heap: the index's buckets and any slots or arena there; in the scratch
    /// file: the slots' and the arena's populated pages).
    fn bytes(&self) -> (usize, usize) {
        let (sh, sf) = self.slots.bytes();
        let (ah, af) = self.spill.bytes();
        let (ih, if_) = self.index.bytes();
        (ih + sh + ah, if_ + sf + af)
    }
}

/// Where the states' bytes go, summed over the shards ([`States::parts`]; `LIQUIDATOR_TIMING=1`
/// prints it): of the index, the slots and the spill arenas, the bytes held (populated in the
/// scratch file, or allocated on the heap) and in use; of the arenas' bytes in use, the spilled
/// records' own bytes, the room they have (their bytes since LEDGER21, more for a record that shrank in place) and the garbage that moved
/// records left (issue #14: why the states of a night through the ledger take more pages).
#[derive(Clone, Copy, Debug, Default)]
pub struct Parts {
    pub index: [usize; 2],
    pub slots: [usize; 2],
    pub spill: [usize; 2],
    pub spilled: usize,
    pub records: usize,
    pub room: usize,
    pub garbage: usize,
    /// Over the run: garbage made, and bytes the compactions copied.
    pub garbage_made: usize,
    pub copied: usize,
}

impl std::fmt::Display for Parts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = |b: usize| b as f64 / (1 << 20) as f64;
        write!(
            f,
            "MiB held / in use: index {:.1} / {:.1}, slots {:.1} / {:.1}, spill arenas {:.1} / {:.1} \
             ({} records spilled: {:.1} of their bytes, {:.1} with their room; garbage {:.1}; \
             over the run: garbage made {:.1}, copied by compactions {:.1})",
            m(self.index[0]),
            m(self.index[1]),
            m(self.slots[0]),
            m(self.slots[1]),
            m(self.spill[0]),
            m(self.spill[1]),
            self.spilled,
            m(self.records),
            m(self.room),
            m(self.garbage),
            m(self.garbage_made),
            m(self.copied)
        )
    }
}

/// A [`States::size_histogram`] as text: `length:count` for the lengths that occur.
pub fn histogram_text(h: &[u64; 64]) -> String {
    let v: Vec<String> = h
        .iter()
        .enumerate()
        .filter(|e| *e.1 > 0)
        .map(|(n, c)| format!("{n}{}:{c}", if n == 63 { "+" } else { "" }))
        .collect();
    v.join(" ")
}

/// Ranges of keys [`States::debtors`] merges side by side: enough to share a few cores evenly, each
/// range's entries (≈ 30 000 of a national night's 1.95 M debtors) gathered and sorted in a buffer
/// of its own (16 bytes an entry).
const DEBTOR_PARTS: usize = 64;

/// Debtors whose records [`States::open_debt_totals`] locates and touches before decoding any of
/// them: enough independent loads to keep the core's miss buffers busy, few enough to stay in L1.
const READ_BLOCK: usize = 64;

/// The beneficiaries with open debts in ascending key order, as places in the shards (`shard << 32 |
/// slot`: 8 bytes a beneficiary, against 24 for a key and a reference to its bytes — 45 MiB for the
/// 1.95 M debtors of a national night, at the run's memory peak, issue #13), with the states they
/// point into: what `debts.tsv` lists ([`States::debtors`]).
pub struct Debtors<'a> {
    states: &'a States,
    order: Vec<u64>,
}

impl<'a> Debtors<'a> {
    /// The places, by ascending key.
    pub fn places(&self) -> &[u64] {
        &self.order
    }

    /// The key and the packed state at `place` (one of [`Self::places`]).
    pub fn at(&self, place: u64) -> (u64, &'a [u8]) {
        let states: &'a States = self.states;
        states
            .shards
            .get((place >> 32) as usize)
            .and_then(|sh| {
                let slot = sh.at(place as u32 as usize)?;
                Some((slot.key, slot.packed(sh.spill.as_slice())))
            })
            .unwrap_or((0, &[]))
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
    /// States on the heap.
    pub fn new() -> States {
        States::default()
    }

    /// States whose index, slots and spill arenas live in scratch files created in `dir` (the run's
    /// staging directory) without a name (the shards spread over 16 files, [`scratch`]): file-backed
    /// pages that the kernel may write back and evict, instead of ≈ 85 bytes of anonymous memory a
    /// beneficiary (issue #13). If the files cannot be made or mapped, the states are on the heap
    /// ([`Self::file_bytes`] is then 0: `LIQUIDATOR_TIMING` shows it).
    pub fn in_dir(dir: &std::path::Path) -> States {
        match scratch::regions(dir, scratch::STATES, SHARDS, scratch::STATE_REGIONS) {
            Ok(regions) => States {
                shards: regions
                    .into_iter()
                    .map(|[index, slots, spill]| Shard {
                        index: Store::File(index),
                        slots: Store::File(slots),
                        spill: Store::File(spill),
                        ..Shard::default()
                    })
                    .collect(),
            },
            Err(_) => States::new(),
        }
    }

    /// Sets the state of beneficiary `key` before a run (replacing any state it had). A seeded
    /// `pf_by_year` entry should come with `seeded = true`, or the beneficiaries table's own
    /// `pf_year`/`pf_used` is added on the first participation (`participation::apply_participation`).
    pub fn seed(&mut self, key: u64, state: BenefState) {
        let mut b = Vec::new();
        packed::encode(&state, &mut b);
        if let Some(m) = self.shards.get_mut(shard_of(key)) {
            m.set(key, &b);
        }
    }

    /// [`States::seed`] with a state already packed ([`packed`]; checked by the caller). The
    /// shard is then not [`Shard::checked`]: the bytes are taken as they are, and the ledger's
    /// commit checks every field of its states.
    pub fn seed_packed(&mut self, key: u64, bytes: &[u8]) {
        if let Some(m) = self.shards.get_mut(shard_of(key)) {
            m.set_unchecked(key, bytes);
        }
    }

    /// The state of beneficiary `key` (decoded: a copy), if it was seeded or one of its claims
    /// reached the rules.
    pub fn get(&self, key: u64) -> Option<BenefState> {
        packed::decode(self.packed(key)?).ok()
    }

    /// The packed state of beneficiary `key`, if it has one.
    pub fn packed(&self, key: u64) -> Option<&[u8]> {
        self.shards.get(shard_of(key))?.packed(key)
    }

    /// Number of beneficiaries with a state.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|m| m.len()).sum()
    }

    /// Bytes held by the shards (index, slots and spill arenas: everything the states hold), on the
    /// heap and in the scratch file together.
    pub fn table_bytes(&self) -> usize {
        self.shards.iter().map(|s| s.bytes().0 + s.bytes().1).sum()
    }

    /// Of [`Self::table_bytes`], the bytes in the scratch file (file-backed pages: [`Self::in_dir`]).
    pub fn file_bytes(&self) -> usize {
        self.shards.iter().map(|s| s.bytes().1).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(|m| m.len() == 0)
    }

    /// What the shards' bytes hold, summed ([`Parts`]).
    pub fn parts(&self) -> Parts {
        self.shards
            .par_iter()
            .map(Shard::parts)
            .reduce(Parts::default, |a, b| Parts {
                index: [a.index[0] + b.index[0], a.index[1] + b.index[1]],
                slots: [a.slots[0] + b.slots[0], a.slots[1] + b.slots[1]],
                spill: [a.spill[0] + b.spill[0], a.spill[1] + b.spill[1]],
                spilled: a.spilled + b.spilled,
                records: a.records + b.records,
                room: a.room + b.room,
                garbage: a.garbage + b.garbage,
                garbage_made: a.garbage_made + b.garbage_made,
                copied: a.copied + b.copied,
            })
    }

    /// How many packed states have each length: `[n]` for `n` bytes, the last entry for `≥ 63`
    /// (`LIQUIDATOR_TIMING=1` prints it: what [`INLINE`] was chosen from).
    pub fn size_histogram(&self) -> [u64; 64] {
        self.shards
            .par_iter()
            .map(|sh| {
                let mut h = [0u64; 64];
                for (_, b) in sh.iter() {
                    h[b.len().min(63)] += 1;
                }
                h
            })
            .reduce(
                || [0u64; 64],
                |mut a, b| {
                    for (x, y) in a.iter_mut().zip(b) {
                        *x += y;
                    }
                    a
                },
            )
    }

    /// Every state (decoded), by ascending beneficiary key (an error if one does not read).
    pub fn into_sorted(self) -> Result<Vec<(u64, BenefState)>, packed::DecodeError> {
        self.sorted()
    }

    /// The shards, each with its (key, packed state) in slot order: what a ledger encodes at the
    /// end of a night (`liquidator_ledger::encoded`), reading the states where they lie, in
    /// parallel over shards, instead of in key order (issue #14).
    pub fn shards(&self) -> &[Shard] {
        &self.shards
    }

    /// Every state (decoded: a copy), by ascending beneficiary key: what `reprocess` compares. A
    /// state that does not read is an error, never an empty state.
    pub fn sorted(&self) -> Result<Vec<(u64, BenefState)>, packed::DecodeError> {
        self.refs_where(false)
            .into_iter()
            .map(|(k, b)| Ok((k, packed::decode(b)?)))
            .collect()
    }

    /// Every packed state, by ascending beneficiary key.
    pub fn sorted_packed(&self) -> Vec<(u64, &[u8])> {
        self.refs_where(false)
    }

    /// References to the packed states (`debts`: only those with open debts), by ascending key.
    /// Counted per shard first, then each shard fills its own part of one vector of the exact size,
    /// on the run's pool: no intermediate lists (issue #13).
    fn refs_where(&self, debts: bool) -> Vec<(u64, &[u8])> {
        let count = |sh: &Shard| {
            if debts {
                sh.with_debts().count()
            } else {
                sh.len()
            }
        };
        let counts: Vec<usize> = self.shards.par_iter().map(count).collect();
        let mut v: Vec<(u64, &[u8])> = vec![(0, &[][..]); counts.iter().sum()];
        let mut parts: Vec<&mut [(u64, &[u8])]> = Vec::with_capacity(counts.len());
        let mut rest = &mut v[..];
        for &c in &counts {
            let (part, r) = rest.split_at_mut(c);
            parts.push(part);
            rest = r;
        }
        self.shards.par_iter().zip(parts).for_each(|(sh, part)| {
            if debts {
                for (slot, e) in part.iter_mut().zip(sh.with_debts()) {
                    *slot = e;
                }
            } else {
                for (slot, e) in part.iter_mut().zip(sh.iter()) {
                    *slot = e;
                }
            }
        });
        v.par_sort_unstable_by_key(|e| e.0);
        v
    }

    /// Frees the shards on threads of their own, one per scratch file (shard `i` is in file
    /// `scratch::file_of(i, SHARDS)`, `i % 16`), not on the run's pool: a thread that drops the last region of a file
    /// closes it, and the filesystem then gives the unlinked file's blocks back — on a filesystem
    /// mounted with `discard` (this machine's ext4), a synchronous discard per extent freed, each a
    /// wait on the disk (`perf` of national night 1 through `L1` — the ledger's second night —, `sched_switch` off the CPU:
    /// `blkdev_issue_discard` under `ext4_free_blocks` under the last `close`, 787 waits; the 16
    /// closes one after the other took 64–175 ms each, 1.3 s in all, `strace`). Side by side, the
    /// 16 files' discards are in flight together. A thread that cannot be made leaves its shards to
    /// the calling thread.
    pub fn free_by_file(self) {
        let n = self.shards.len();
        let mut groups: Vec<Vec<Shard>> = (0..scratch::FILES).map(|_| Vec::new()).collect();
        for (i, shard) in self.shards.into_iter().enumerate() {
            if let Some(g) = groups.get_mut(scratch::file_of(i, n)) {
                g.push(shard);
            }
        }
        std::thread::scope(|sc| {
            for g in groups {
                // A thread that cannot be made drops the closure, and the shards it owns, here.
                let _ = std::thread::Builder::new().spawn_scoped(sc, move || drop(g));
            }
        });
    }

    /// Frees the shards side by side on the run's pool (a national night's slots, spill arenas and
    /// indexes: a few hundred MiB).
    pub fn free(self) {
        self.shards.into_par_iter().for_each(drop);
    }

    /// The beneficiaries with open debts of the insured (`rules::debt`), by ascending key, each
    /// with its packed state (`packed::open_debts` reads its debts, oldest first): what `debts.tsv`
    /// lists. References (24 bytes a beneficiary), not a copy of the debts: this list is made at
    /// the end of the run, at its memory peak (issue #13). The order does not depend on the shards.
    pub fn with_debts(&self) -> Vec<(u64, &[u8])> {
        self.refs_where(true)
    }

    /// [`Self::with_debts`] as [`Debtors`]: each shard's debtors sorted by key on the run's pool
    /// (slot numbers, 4 bytes each), then merged into one list of places (8 bytes each).
    ///
    /// The merge is parallel, by ranges of keys: cut at [`DEBTOR_PARTS`] keys of the longest list
    /// (shards are a hash of the key, so each one spreads over the whole range), each range's
    /// entries are found in every shard's list by a binary search, then gathered with their keys
    /// and sorted on their own, into their place in the list. Keys are unique: the list is the
    /// keys' order whatever the pool. (A serial merge of the 256 lists read each key from its slot
    /// at random, one after the other: 0.44 s of a national night's tail, issue #13.)
    pub fn debtors(&self) -> Debtors<'_> {
        let per: Vec<Vec<u32>> = self
            .shards
            .par_iter()
            .map(|sh| {
                // Each debtor's key taken with its slot as the slots are scanned, and the pairs
                // sorted in a buffer of their own: sorting slot numbers by `key_at` read two slots
                // at random in the shard's slab for every comparison (n log n cache misses).
                let mut v: Vec<(u64, u32)> = sh
                    .slots
                    .as_slice()
                    .iter()
                    .zip(0u32..)
                    .filter(|(s, _)| s.has_debts())
                    .map(|(s, i)| (s.key, i))
                    .collect();
                v.sort_unstable_by_key(|e| e.0);
                v.into_iter().map(|e| e.1).collect::<Vec<u32>>()
            })
            .collect();
        let key = |s: usize, i: u32| -> u64 {
            self.shards
                .get(s)
                .map_or(0, |sh| key_at(sh.slots.as_slice(), i))
        };
        let longest = (0..per.len()).max_by_key(|&s| per[s].len()).unwrap_or(0);
        let mut cuts: Vec<u64> = match per.get(longest) {
            Some(v) => (1..DEBTOR_PARTS)
                .filter_map(|j| v.get(j * v.len() / DEBTOR_PARTS))
                .map(|&i| key(longest, i))
                .collect(),
            None => Vec::new(),
        };
        cuts.dedup();
        // Where each range starts in each shard's list (range 0 starts at 0, the last ends at its end).
        let starts: Vec<Vec<usize>> = per
            .par_iter()
            .enumerate()
            .map(|(s, v)| {
                cuts.iter()
                    .map(|&c| v.partition_point(|&i| key(s, i) < c))
                    .collect()
            })
            .collect();
        let parts = cuts.len() + 1;
        let range = |s: usize, j: usize| -> &[u32] {
            let v = &per[s];
            let at = |j: usize| match j {
                0 => 0,
                j if j >= parts => v.len(),
                j => starts[s][j - 1],
            };
            v.get(at(j)..at(j + 1)).unwrap_or_default()
        };
        let mut order = vec![0u64; per.iter().map(Vec::len).sum()];
        let mut outs: Vec<(usize, &mut [u64])> = Vec::with_capacity(parts);
        let mut rest = &mut order[..];
        for j in 0..parts {
            let n: usize = (0..per.len()).map(|s| range(s, j).len()).sum();
            let (a, b) = rest.split_at_mut(n.min(rest.len()));
            outs.push((j, a));
            rest = b;
        }
        outs.into_par_iter().for_each(|(j, out)| {
            let mut v: Vec<(u64, u64)> = Vec::with_capacity(out.len());
            for s in 0..per.len() {
                v.extend(
                    range(s, j)
                        .iter()
                        .map(|&i| (key(s, i), ((s as u64) << 32) | i as u64)),
                );
            }
            v.sort_unstable_by_key(|e| e.0);
            for (o, e) in out.iter_mut().zip(&v) {
                *o = e.1;
            }
        });
        Debtors {
            states: self,
            order,
        }
    }

    /// How many debts of the insured are open, and their open amount (`summary.json`'s
    /// `debts_open`, `debts_open_cents`). A state that does not read, or a total beyond `i64`
    /// (each state's is at most `packed::MAX_CENTS`), is an error, never a default.
    pub fn open_debt_totals(&self) -> Result<(u64, crate::money::Cents), packed::DecodeError> {
        let add = |a: (u64, i64), b: (u64, i64)| match (a.0.checked_add(b.0), a.1.checked_add(b.1))
        {
            (Some(n), Some(c)) => Ok((n, c)),
            _ => Err(packed::DecodeError("open debts total beyond i64")),
        };
        self.shards
            .par_iter()
            .map(|sh| {
                // By blocks of [`READ_BLOCK`] debtors: every record located first (most records
                // with debts lie at random in the shard's spill arena), both its ends touched in a
                // loop of independent loads so that their cache misses overlap, then each one
                // decoded from the cache — as `debts.tsv` reads them (`output::debts`).
                let spill = sh.spill.as_slice();
                let mut debtors = sh.slots.as_slice().iter().filter(|s| s.has_debts());
                let mut records: Vec<&[u8]> = Vec::with_capacity(READ_BLOCK);
                let mut t = (0u64, 0i64);
                loop {
                    records.clear();
                    records.extend(debtors.by_ref().take(READ_BLOCK).map(|s| s.packed(spill)));
                    if records.is_empty() {
                        return Ok(t);
                    }
                    let mut touch = 0u8;
                    for r in &records {
                        touch ^= r.first().copied().unwrap_or(0) ^ r.last().copied().unwrap_or(0);
                    }
                    std::hint::black_box(touch);
                    for r in &records {
                        t = add(t, packed::debt_totals(r)?)?;
                    }
                }
            })
            .try_reduce(|| (0, 0), add)
    }

    /// Total of the debts still open (before a run: the debts carried from earlier nights).
    pub fn open_debt_cents(&self) -> Result<crate::money::Cents, packed::DecodeError> {
        Ok(self.open_debt_totals()?.1)
    }

    /// The shards, for the engine's parallel liquidation (shard `i` owns the keys with
    /// `shard_of(key) == i`).
    pub(crate) fn shards_mut(&mut self) -> &mut [Shard] {
        &mut self.shards
    }
}

/// Runs `f` on `work`, which holds `bytes` decoded, with `carried` and a restore that decodes
/// `bytes` into the copy again (they decoded once: again they give the same state, and a failure
/// is an error all the same, never an abort) — for both kinds of stored state in `with_state`.
/// `known`: `bytes` are known to read (decoded with every check once already, or packed by a
/// [`Shard::checked`] shard), so the restore leaves their debts packed without walking them
/// (`packed::decode_into_known`).
#[inline]
fn run_restorable<R>(
    work: &mut BenefState,
    bytes: &[u8],
    carried: bool,
    known: bool,
    f: impl FnOnce(&mut BenefState, bool, &mut dyn FnMut(&mut BenefState)) -> (R, bool),
) -> Result<(R, bool), packed::DecodeError> {
    let mut again = Ok(());
    let out = f(work, carried, &mut |s: &mut BenefState| {
        let r = if known {
            packed::decode_into_known(bytes, s)
        } else {
            packed::decode_into_lazy(bytes, s, Date(0)).map(|_| ())
        };
        if let Err(e) = r {
            again = Err(e);
        }
    });
    again.map(|()| out)
}

/// Empties a working state in place, keeping its heap memory: what [`packed::decode_into`] leaves
/// for the empty state's bytes. Every field named, so that a new field cannot be forgotten here.
fn clear_state(s: &mut BenefState) {
    let BenefState {
        pf_by_year,
        seeded,
        daily,
        fr_by_year,
        fr_by_day,
        debts,
        packed_debts,
    } = s;
    pf_by_year.clear();
    *seeded = false;
    daily.clear();
    fr_by_year.clear();
    fr_by_day.clear();
    debts.clear();
    packed_debts.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The oldest payable day the tests' claims are liquidated for (`Shard::with_state`).
    const TESTS_OLDEST: Date = Date(20240101);

    /// The `FRESH` bit a shard keeps for each state (LEDGER26: the ledger's commit copies such a
    /// state without walking it for something to prune, `Shard::fresh_at`) is set only where the
    /// state holds nothing pruning for the shard's oldest payable day would drop and reads up to
    /// its debts: set as the state is packed, or as a carried state is decoded; kept by a claim
    /// that changes nothing; never for a seeded state, a later day or a shard given two days.
    #[test]
    fn a_state_is_marked_fresh_only_when_the_commit_would_prune_nothing_from_it() {
        let oldest = TESTS_OLDEST;
        let before = Date(20231231);
        let mut sh = Shard::default();
        let fresh = |sh: &Shard, k: u64, day: Date| sh.fresh_at(sh.slot(k).unwrap(), day);
        // a new beneficiary: a session and a franchise on the oldest day itself, its year's counters
        sh.with_state(1, None, oldest, |s, _, _| {
            s.daily(9, oldest).pf = 1;
            s.add_pf(2024, 100);
            s.add_franchise(oldest, 50);
            ((), true)
        })
        .unwrap();
        assert!(fresh(&sh, 1, oldest));
        assert!(
            fresh(&sh, 1, before),
            "nothing before a day: nothing before an earlier one"
        );
        assert!(
            !fresh(&sh, 1, Date(20240102)),
            "a later day than the shard's: not known"
        );
        // a claim that changes nothing keeps the bit; its next claim adds a session the day before
        sh.with_state(1, None, oldest, |s, _, _| {
            s.daily(9, before).pf = 1;
            ((), false)
        })
        .unwrap();
        assert!(fresh(&sh, 1, oldest));
        sh.with_state(1, None, oldest, |s, _, _| {
            s.daily(9, before).pf = 1;
            ((), true)
        })
        .unwrap();
        assert!(!fresh(&sh, 1, oldest));
        // each field pruning reads: a year before the oldest day's, a franchise day before it; a
        // counter the decode refuses (beyond MAX_CENTS) is not known to read
        type Change = fn(&mut BenefState);
        let cases: [(u64, Change); 4] = [
            (2, |s| s.add_pf(2023, 1)),
            (3, |s| s.fr_by_year.push((2023, 1))),
            (4, |s| s.fr_by_day.push((Date(20231231), 1))),
            (5, |s| s.add_pf(2024, packed::MAX_CENTS + 1)),
        ];
        for (k, change) in cases {
            sh.with_state(k, None, oldest, |s, _, _| {
                s.add_pf(2024, 1);
                change(s);
                ((), true)
            })
            .unwrap();
            assert!(!fresh(&sh, k, oldest), "case {k}");
        }
        // a new beneficiary whose claim changes nothing: the empty state
        sh.with_state(6, None, oldest, |s, _, _| {
            s.add_pf(2023, 1);
            ((), false)
        })
        .unwrap();
        assert!(fresh(&sh, 6, oldest));
        // carried states: the bit of the carried bytes when the claim changes nothing (what the
        // rules left in the working copy is thrown away), of the new bytes when it does
        let mut old = BenefState::default();
        old.daily(9, before).pf = 1;
        let mut b = Vec::new();
        packed::encode(&old, &mut b);
        let carry = Carried(b.clone());
        sh.with_state(7, Some(&carry), oldest, |_, _, _| ((), false))
            .unwrap();
        assert!(
            !fresh(&sh, 7, oldest),
            "carried with a session before the day"
        );
        sh.with_state(8, Some(&carry), oldest, |s, _, _| {
            s.daily.clear();
            ((), true)
        })
        .unwrap();
        assert!(
            fresh(&sh, 8, oldest),
            "the claim left nothing before the day"
        );
        let mut recent = BenefState::default();
        recent.add_pf(2024, 5);
        packed::encode(&recent, &mut b);
        let carry = Carried(b.clone());
        sh.with_state(10, Some(&carry), oldest, |s, _, _| {
            s.add_pf(2023, 1);
            ((), false)
        })
        .unwrap();
        assert!(
            fresh(&sh, 10, oldest),
            "carried fresh, the claim's trace thrown away"
        );
        // spilled and moved in the arena, the bit stays with the slot
        sh.with_state(11, None, oldest, |s, _, _| {
            for p in 0..30u32 {
                s.daily(100_000_000 + p, oldest).pf = 1;
            }
            ((), true)
        })
        .unwrap();
        assert!(sh.at(sh.slot(11).unwrap()).unwrap().spilled());
        assert!(fresh(&sh, 11, oldest));
        // seeded: never marked
        let mut st = States::new();
        st.seed(12, recent.clone());
        let s12 = &st.shards()[shard_of(12)];
        assert!(!s12.fresh_at(s12.slot(12).unwrap(), oldest));
        // a shard given a second day trusts no bit
        sh.with_state(11, None, before, |_, _, _| ((), false))
            .unwrap();
        assert!(!fresh(&sh, 1, before));
        assert!(!fresh(&sh, 11, before));
        assert!(!fresh(&sh, 11, oldest));
    }

    use crate::date::Date;
    use crate::rules::debt::{Debt, DebtKind, DebtOrigin};

    fn packed_len(s: &BenefState) -> usize {
        let mut b = Vec::new();
        packed::encode(s, &mut b);
        b.len()
    }

    fn debt(claim: u32, open: i64) -> Debt {
        Debt {
            origin: DebtOrigin {
                created: Date(20260316),
                practitioner: 123456789,
                claim,
                line: 1,
                date_of_care: Date(20260310),
                kind: DebtKind::Participation,
            },
            amount: 200,
            open,
        }
    }

    /// States of every length from the empty one (7 bytes) to well past a slot, one franchise day
    /// (3 bytes) at a time, the first of 1, 2 or 3 bytes, amounts chosen so that every length around [`INLINE`] occurs.
    fn growing() -> Vec<BenefState> {
        let mut v = Vec::new();
        for first in [1, 100, 10_000] {
            let mut s = BenefState::default();
            for i in 0..20 {
                v.push(s.clone());
                let cents = if i == 0 { first } else { 1 };
                s.add_franchise(Date::from_days(Date(20260101).to_days() + i), cents);
            }
        }
        v
    }

    #[test]
    fn states_of_every_length_around_a_slot_round_trip_inline_or_spilled() {
        let all = growing();
        let lens: Vec<usize> = all.iter().map(packed_len).collect();
        for n in [INLINE - 1, INLINE, INLINE + 1] {
            assert!(lens.contains(&n), "no state of {n} bytes in {lens:?}");
        }
        let mut st = States::new();
        for (k, s) in all.iter().enumerate() {
            st.seed(k as u64, s.clone());
        }
        for (k, s) in all.iter().enumerate() {
            assert_eq!(format!("{:?}", st.get(k as u64)), format!("{:?}", Some(s)));
        }
        // a state of exactly INLINE bytes stays in its slot, one byte more spills
        for (k, &l) in lens.iter().enumerate() {
            let key = k as u64;
            let sh = &st.shards[shard_of(key)];
            let slot = sh.slot(key).and_then(|i| sh.at(i)).map(Slot::spilled);
            assert_eq!(slot, Some(l > INLINE), "{l} bytes");
        }
    }

    #[test]
    fn each_overflow_kind_round_trips_several_years_many_sessions_and_debts() {
        let mut years = BenefState {
            seeded: true,
            ..Default::default()
        };
        for y in 2020..2027 {
            years.add_pf(y, 4_800);
            years.add_franchise(Date(y * 10000 + 315), 200);
        }
        let mut sessions = BenefState::default();
        for p in 0..40u32 {
            let d = sessions.daily(100_000_000 + p, Date(20260301 + p % 28));
            d.pf = 1;
            d.consult = p % 2 == 0;
            d.main_codes.push(b'1');
            d.acts.push(*b"BGQP002");
            d.acts.push(*b"YYYY010");
            d.acts.push(*b"ZZQK002");
        }
        let mut debts = BenefState::default();
        for c in 0..50 {
            debts.push_debt(debt(c, 200 - c as i64));
        }
        let mut st = States::new();
        for (k, s) in [&years, &sessions, &debts].into_iter().enumerate() {
            assert!(packed_len(s) > INLINE);
            st.seed(k as u64, s.clone());
        }
        assert_eq!(format!("{:?}", st.get(0)), format!("{:?}", Some(&years)));
        assert_eq!(format!("{:?}", st.get(1)), format!("{:?}", Some(&sessions)));
        assert_eq!(format!("{:?}", st.get(2)), format!("{:?}", Some(&debts)));
        // the debts read from the packed bytes without decoding the state
        let open: i64 = (0..50).map(|c| 200 - c).sum();
        assert_eq!(st.open_debt_totals().unwrap(), (50, open));
        let with: Vec<u64> = st.with_debts().iter().map(|e| e.0).collect();
        assert_eq!(with, vec![2]);
        let d = st.debtors();
        assert_eq!(d.places().len(), 1);
        assert_eq!(d.at(d.places()[0]), (2, st.packed(2).unwrap()));
        let mut read = Vec::new();
        packed::open_debts(st.packed(2).unwrap_or_default(), &mut read).unwrap();
        assert_eq!(read.as_slice(), debts.open_debts());
    }

    #[test]
    fn a_state_that_grows_out_of_its_slot_and_shrinks_back_keeps_every_other_state() {
        let mut st = States::new();
        let sh = &mut st.shards[0];
        for k in 0..1000u64 {
            sh.set(k, &{
                let mut b = Vec::new();
                let mut s = BenefState::default();
                s.add_pf(2026, k as i64);
                packed::encode(&s, &mut b);
                b
            });
        }
        // key 7 grows one debt at a time past its slot, moves in the spill arena as it outgrows
        // its room there, then is settled back inline; every round trip of `with_state` packs it
        for round in 0..3 {
            for c in 0..200u32 {
                sh.with_state(7, None, TESTS_OLDEST, |s, new, _| {
                    assert!(!new);
                    s.push_debt(debt(c, 5));
                    ((), true)
                })
                .unwrap();
            }
            let s = packed::decode(sh.packed(7).unwrap_or_default()).unwrap();
            assert_eq!(s.open_debts().len(), 200, "round {round}");
            sh.with_state(7, None, TESTS_OLDEST, |s, _, _| {
                s.unpack_debts();
                s.debts.clear();
                ((), true)
            })
            .unwrap();
            // a state said unchanged is not packed again
            sh.with_state(7, None, TESTS_OLDEST, |s, _, _| {
                s.push_debt(debt(1, 5));
                ((), false)
            })
            .unwrap();
            assert!(!packed::has_debts(sh.packed(7).unwrap_or_default()));
            assert!(sh.packed(7).unwrap_or_default().len() <= INLINE);
        }
        // a beneficiary seen for the first time starts empty
        assert!(
            sh.with_state(5000, None, TESTS_OLDEST, |s, new, _| (
                new && s.pf_used(2026) == 0,
                false
            ))
            .unwrap()
        );
        for k in 0..1000u64 {
            let s = packed::decode(sh.packed(k).unwrap_or_default()).unwrap();
            assert_eq!(s.pf_used(2026), k as i64, "key {k}");
        }
        // the moves left garbage that compaction reclaimed: the arena holds at most the live
        // records' room plus what piled up since the last compaction
        assert!(
            sh.spill.len() <= sh.garbage + (1 << 17),
            "{} {}",
            sh.spill.len(),
            sh.garbage
        );
    }

    #[test]
    fn a_stored_state_that_does_not_decode_is_an_error_in_with_state_never_an_empty_state() {
        let bad = packed::tests::year_beyond_u32();
        let mut st = States::new();
        let sh = &mut st.shards[0];
        sh.set(7, &bad);
        // before: the state was taken as empty (0 open debts) and packed back over the stored one
        let r = sh.with_state(7, None, TESTS_OLDEST, |s, _, _| (s.open_debt_cents(), true));
        assert!(r.is_err());
        assert_eq!(
            sh.packed(7),
            Some(&bad[..]),
            "the stored bytes were overwritten"
        );
        // the same bytes handed by a carry for a beneficiary new to the shard, unchecked (as a
        // ledger did when `validate` let a year beyond u32 through)
        let carry = Carried(bad.clone());
        let mut ran = false;
        let r = sh.with_state(8, Some(&carry), TESTS_OLDEST, |_, _, _| {
            ran = true;
            ((), true)
        });
        assert!(r.is_err() && !ran);
        // the shard still works for the others
        let mut good = BenefState::default();
        good.push_debt(debt(1, 200));
        let mut b = Vec::new();
        packed::encode(&good, &mut b);
        sh.set(9, &b);
        assert_eq!(
            sh.with_state(9, None, TESTS_OLDEST, |s, _, _| (
                s.open_debt_cents(),
                false
            ))
            .unwrap(),
            200
        );
    }

    /// A carry that hands over the packed bytes of one state, for any beneficiary, as they are.
    struct Carried(Vec<u8>);
    impl crate::carry::Carry for Carried {
        fn state(&self, _: u64) -> Option<BenefState> {
            packed::decode(&self.0).ok()
        }
        fn state_packed(&self, _: u64, out: &mut Vec<u8>) -> bool {
            out.clear();
            out.extend_from_slice(&self.0);
            true
        }
        fn claim(&self, _: u32, _: u32) -> Option<crate::carry::EarlierClaim> {
            None
        }
        fn act(&self, _: &crate::carry::ActKey) -> Option<crate::carry::BatchRef> {
            None
        }
    }

    /// A state carried from an earlier night (spilled, with open debts) enters its shard with what
    /// its first claim leaves: the carried bytes as they are when the claim changes nothing, the
    /// new state's bytes when it does — lengthened past the room a carried record would have had,
    /// without leaving a first copy in the spill arena — and the debts flag of what is stored; a
    /// claim set aside is retried from the carried state.
    #[test]
    fn a_carried_state_enters_its_shard_once_with_what_its_first_claim_leaves() {
        let mut s = BenefState::default();
        for c in 0..6 {
            s.push_debt(debt(c, 150));
        }
        let mut carried = Vec::new();
        packed::encode(&s, &mut carried);
        assert!(carried.len() > INLINE);
        let carry = Carried(carried.clone());
        let mut st = States::new();
        let sh = &mut st.shards[0];
        // unchanged (a rejected claim): the carried bytes, debts flagged
        let r = sh.with_state(1, Some(&carry), TESTS_OLDEST, |w, new, _| {
            assert!(new);
            assert_eq!(w.open_debt_cents(), 900);
            w.push_debt(debt(99, 1));
            ((), false)
        });
        assert!(r.is_ok());
        assert_eq!(sh.packed(1), Some(&carried[..]));
        // changed (a paid claim recovering every debt and booking many sessions): the new bytes,
        // far longer than the carried record's room, stored once
        let mut longer = BenefState::default();
        for p in 0..30u32 {
            longer.daily(100_000_000 + p, Date(20260301)).pf = 1;
        }
        let mut want = Vec::new();
        packed::encode(&longer, &mut want);
        assert!(want.len() > carried.len() + carried.len() / 4);
        let r = sh.with_state(2, Some(&carry), TESTS_OLDEST, |w, new, restore| {
            assert!(new);
            // a try set aside, then the retry from the state as carried
            w.unpack_debts();
            w.debts.clear();
            restore(w);
            assert_eq!(w.open_debt_cents(), 900);
            *w = longer.clone();
            ((), true)
        });
        assert!(r.is_ok());
        assert_eq!(sh.packed(2), Some(&want[..]));
        assert_eq!(sh.garbage, 0, "no first copy left in the spill arena");
        let debtors: Vec<u64> = st.with_debts().iter().map(|e| e.0).collect();
        assert_eq!(debtors, vec![1], "the debts flag of each stored state");
        // a state carried with no debt, lengthened by a claim that books one
        let mut none = Vec::new();
        packed::encode(&BenefState::default(), &mut none);
        let sh = &mut st.shards[0];
        let r = sh.with_state(3, Some(&Carried(none)), TESTS_OLDEST, |w, _, _| {
            w.push_debt(debt(7, 20));
            ((), true)
        });
        assert!(r.is_ok());
        let debtors: Vec<u64> = st.with_debts().iter().map(|e| e.0).collect();
        assert_eq!(debtors, vec![1, 3]);
    }

    /// `open_debt_totals` reads a shard's debtors by blocks of [`READ_BLOCK`]: with several blocks
    /// in one shard, records inline and spilled, and states without debts between them, every
    /// debtor is counted once; a record that does not read in a later block is still an error;
    /// `debtors` lists the same debtors by key.
    #[test]
    fn debt_totals_over_several_read_blocks_of_one_shard_count_every_debtor_once() {
        let keys: Vec<u64> = (0u64..)
            .filter(|&k| shard_of(k) == 7)
            .take(3 * READ_BLOCK + 5)
            .collect();
        let mut st = States::new();
        let (mut n, mut cents) = (0u64, 0i64);
        let mut debtors = Vec::new();
        for (i, &k) in keys.iter().enumerate().rev() {
            let mut s = BenefState::default();
            if i % 5 != 0 {
                // 1 debt stays in its slot, 9 spill
                let m = if i % 2 == 0 { 1 } else { 9 };
                for c in 0..m {
                    s.push_debt(debt(c, 1 + i as i64));
                }
                n += m as u64;
                cents += m as i64 * (1 + i as i64);
                debtors.push(k);
            }
            st.seed(k, s);
        }
        assert!(st.shards[7].slots.as_slice().iter().any(Slot::spilled));
        assert_eq!(st.open_debt_totals().unwrap(), (n, cents));
        debtors.sort_unstable();
        let d = st.debtors();
        let listed: Vec<u64> = d.places().iter().map(|&p| d.at(p).0).collect();
        assert_eq!(listed, debtors);
        st.seed_packed(
            keys[2 * READ_BLOCK + 1],
            &packed::tests::debt_open_beyond_amount(),
        );
        assert!(st.open_debt_totals().is_err());
    }

    #[test]
    fn the_debt_totals_and_sorted_states_refuse_a_state_that_does_not_read_instead_of_a_default() {
        let mut st = States::new();
        let mut good = BenefState::default();
        good.push_debt(debt(1, 150));
        st.seed(1, good);
        assert_eq!(st.open_debt_totals().unwrap(), (1, 150));
        assert_eq!(st.sorted().unwrap().len(), 1);
        // before: counted as (0, 0) and sorted as an empty state
        st.seed_packed(2, &packed::tests::debt_open_beyond_amount());
        assert!(st.open_debt_totals().is_err());
        assert!(st.open_debt_cents().is_err());
        assert!(st.sorted().is_err());
        assert!(st.into_sorted().is_err());
    }

    /// A state of `days` franchise days (3 bytes each: 2000 keys of 40 days spill ≈ 125 bytes each).
    fn with_days(key: u64, days: i64) -> BenefState {
        let mut s = BenefState::default();
        s.add_pf(2026, key as i64);
        for d in 0..days {
            s.add_franchise(Date::from_days(Date(20260101).to_days() + d), 1 + d);
        }
        s
    }

    /// A spilled record takes exactly its bytes in the arena (no room: LEDGER21); a state that
    /// shrinks but still spills is rewritten in place, one that grows moves to the arena's end and
    /// leaves its old bytes as garbage.
    #[test]
    fn a_spilled_record_takes_exactly_its_bytes_shrinks_in_place_and_moves_to_grow() {
        let mut sh = Shard::default();
        let mut b = Vec::new();
        packed::encode(&with_days(1, 40), &mut b);
        sh.set(1, &b);
        assert_eq!(sh.spill.len(), b.len());
        let first = b.len();
        packed::encode(&with_days(1, 30), &mut b);
        assert!(b.len() > INLINE);
        sh.set(1, &b);
        assert_eq!((sh.spill.len(), sh.garbage), (first, 0));
        assert_eq!(sh.packed(1), Some(&b[..]));
        packed::encode(&with_days(1, 50), &mut b);
        sh.set(1, &b);
        assert_eq!((sh.spill.len(), sh.garbage), (first + b.len(), first));
        assert_eq!(sh.packed(1), Some(&b[..]));
        assert_eq!(sh.parts().room, b.len());
    }

    #[test]
    fn compaction_of_the_spill_arena_keeps_every_state_and_frees_the_garbage() {
        let mut sh = Shard::default();
        let mut b = Vec::new();
        // 2000 states spilled, ≈ 125 bytes each (≈ 250 KB of arena)
        for k in 0..2000u64 {
            packed::encode(&with_days(k, 40), &mut b);
            assert!(b.len() > INLINE);
            sh.set(k, &b);
        }
        assert_eq!(sh.compactions, 0);
        let before = sh.spill.len();
        // every even key settles back inline: half the arena becomes garbage, past a quarter
        for k in (0..2000u64).step_by(2) {
            sh.with_state(k, None, TESTS_OLDEST, |s, _, _| {
                s.fr_by_day.clear();
                ((), true)
            })
            .unwrap();
        }
        assert!(sh.compactions >= 1, "no compaction");
        assert!(
            sh.spill.len() < before * 3 / 4,
            "arena {} of {before} after compaction",
            sh.spill.len()
        );
        // every state survives it, the spilled ones moved, the inline ones untouched
        for k in 0..2000u64 {
            let mut want = with_days(k, 40);
            if k % 2 == 0 {
                want.fr_by_day.clear();
            }
            packed::encode(&want, &mut b);
            assert_eq!(sh.packed(k), Some(&b[..]), "key {k}");
            let spilled = sh.slot(k).and_then(|i| sh.at(i)).map(Slot::spilled);
            assert_eq!(spilled, Some(k % 2 == 1), "key {k}");
        }
        // and grow again after it: a moved record is found where the compaction put it
        for k in (1..2000u64).step_by(2) {
            sh.with_state(k, None, TESTS_OLDEST, |s, _, _| {
                s.add_franchise(Date(20270101), 5);
                ((), true)
            })
            .unwrap();
            let s = packed::decode(sh.packed(k).unwrap_or_default()).unwrap();
            assert_eq!((s.fr_by_day.len(), s.pf_used(2026)), (41, k as i64));
        }
    }

    /// `BenefState::clone_from` (field by field, reusing the scratch state's room) and `clone` give
    /// the source's bytes, whatever the scratch held before: states grown by random steps, each
    /// copied over the previous one.
    #[test]
    fn a_state_cloned_over_another_has_the_source_bytes() {
        let mut rng = packed::tests::Mix(0x5eed_0003);
        let mut states: Vec<BenefState> = vec![BenefState::default()];
        for _ in 0..2_000 {
            let mut s = states[rng.below(states.len() as u64) as usize].clone();
            for _ in 0..rng.below(6) {
                let (op, arg) = (rng.below(9), rng.next());
                step(&mut s, op, arg);
            }
            states.push(s);
        }
        let (mut want, mut got) = (Vec::new(), Vec::new());
        let mut scratch = BenefState::default();
        for _ in 0..10_000 {
            let src = &states[rng.below(states.len() as u64) as usize];
            scratch.clone_from(src);
            packed::encode(src, &mut want);
            packed::encode(&scratch, &mut got);
            assert_eq!(got, want);
            packed::encode(&src.clone(), &mut got);
            assert_eq!(got, want);
        }
    }

    /// One random change to a state, the same on the shard's copy and on the model's.
    fn step(s: &mut BenefState, op: u64, arg: u64) {
        let small = (arg >> 20) as i64 % 5_000;
        match op {
            0 => s.add_pf(2020 + (arg % 8) as u32, small),
            1 | 2 => s.add_franchise(
                Date::from_days(Date(20250101).to_days() + (arg % 400) as i64),
                1 + small % 300,
            ),
            3 => {
                let d = s.daily(
                    100_000_000 + (arg % 50) as u32,
                    Date(20260301 + (arg % 28) as u32),
                );
                d.pf = d.pf.wrapping_add(1);
                d.consult = arg & 1 == 1;
                d.main_codes.push(b'1' + (arg % 4) as u8);
                d.acts.push(*b"BGQP002");
            }
            4 | 5 => s.push_debt(Debt {
                origin: DebtOrigin {
                    created: Date(20260316),
                    practitioner: (arg >> 8) as u32,
                    claim: (arg >> 16) as u32,
                    line: (arg >> 40) as u16,
                    date_of_care: Date(20260301 + (arg % 28) as u32),
                    kind: if arg & 2 == 0 {
                        DebtKind::Participation
                    } else {
                        DebtKind::Franchise
                    },
                },
                amount: 1 + small,
                open: 1 + small,
            }),
            // a recovery as `rules::debt::recover` makes it: oldest first, a settled debt removed
            6 => {
                s.unpack_debts();
                let mut avail = 1 + small % 700;
                while avail > 0 {
                    let Some(d) = s.debts.first_mut() else { break };
                    let x = avail.min(d.open);
                    d.open -= x;
                    avail -= x;
                    if d.open == 0 {
                        s.debts.remove(0);
                    }
                }
            }
            // shrinks: the sessions and franchise days pruned, every debt settled
            7 => {
                s.daily.clear();
                s.fr_by_day.clear();
            }
            _ => {
                s.unpack_debts();
                s.debts.clear();
            }
        }
    }

    #[test]
    fn a_shard_through_50000_random_steps_agrees_with_a_hash_map_model() {
        random_steps(Shard::default());
    }

    /// A directory of its own under the system's temporary directory, removed when dropped.
    struct TempDir(std::path::PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let p = std::env::temp_dir().join(format!(
                "liquidator-states-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A shard on regions of a scratch file in `dir` of these sizes.
    fn file_shard(dir: &std::path::Path, sizes: [usize; 3]) -> Shard {
        let [i, a, b] = scratch::regions_within(dir, scratch::STATES, 1, sizes, u64::MAX)
            .unwrap()
            .pop()
            .unwrap();
        Shard {
            index: Store::File(i),
            slots: Store::File(a),
            spill: Store::File(b),
            ..Shard::default()
        }
    }

    #[test]
    fn a_shard_in_the_scratch_file_through_50000_random_steps_agrees_with_a_hash_map_model() {
        let dir = TempDir::new("steps");
        let sh = random_steps(file_shard(&dir.0, [1 << 20; 3]));
        // the regions were large enough: the shard never left the file, whose name is already gone
        assert!(
            sh.index.in_file() && sh.slots.in_file() && sh.spill.in_file(),
            "slots {} spill {} in file {} {}",
            sh.slots.len(),
            sh.spill.len(),
            sh.slots.in_file(),
            sh.spill.in_file()
        );
        assert!(sh.bytes().1 > 0);
        assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 0);
    }

    #[test]
    fn a_shard_whose_scratch_regions_fill_up_moves_to_the_heap_and_keeps_every_state() {
        let dir = TempDir::new("full");
        // 8 KiB of index (1 024 buckets, 768 keys), 16 KiB of slots (341 of the ≈ 1 000 keys) and
        // 64 KiB of arena: all three overflow mid-way
        let sh = random_steps(file_shard(&dir.0, [8 << 10, 16 << 10, 64 << 10]));
        assert!(!sh.index.in_file() && !sh.slots.in_file() && !sh.spill.in_file());
        assert_eq!(sh.bytes().1, 0);
    }

    /// Review of stop 23 (L2): 200 000 keys in one shard — the index rebuilt eight times, the
    /// slots and spill arena grown many times — on the heap and in a scratch file, against a
    /// `HashMap` model, every key read back after every rebuild, and keys never set answered
    /// `None`.
    #[test]
    fn an_index_rebuilt_many_times_finds_every_key_a_hash_map_finds() {
        use std::collections::HashMap;
        let dir = TempDir::new("index");
        let states: Vec<Vec<u8>> = growing()
            .iter()
            .map(|s| {
                let mut b = Vec::new();
                packed::encode(s, &mut b);
                b
            })
            .collect();
        for mut sh in [Shard::default(), file_shard(&dir.0, scratch::STATE_REGIONS)] {
            let mut model: HashMap<u64, usize> = HashMap::new();
            let mut buckets = sh.index.len();
            let mut rebuilds = 0;
            for i in 0..200_000u64 {
                // keys with the shape of `benef_key` (NIR number << 12 | rank), scrambled
                let key = ((i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 20) << 12) | (i % 3 + 1);
                let which = (i as usize) % states.len();
                sh.set(key, &states[which]);
                model.insert(key, which);
                if sh.index.len() != buckets {
                    buckets = sh.index.len();
                    rebuilds += 1;
                    for (&k, &w) in &model {
                        assert_eq!(
                            sh.packed(k),
                            Some(&states[w][..]),
                            "key {k} after rebuild {rebuilds}"
                        );
                    }
                }
            }
            assert!(rebuilds >= 8, "{rebuilds} rebuilds");
            for (&k, &w) in &model {
                assert_eq!(sh.packed(k), Some(&states[w][..]));
                // a key never set: another rank of the same NIR
                assert_eq!(sh.packed(k ^ 0x800), None);
            }
            assert_eq!(sh.len(), model.len());
            // the staged read-ahead answers what `touch` answers, key for key: the length of the
            // state, 0 for a key without one (the engine asks a ledger for those)
            let mut keys: Vec<u64> = model.keys().copied().take(1000).collect();
            keys.extend(keys.clone().iter().map(|k| k ^ 0x800));
            for batch in keys.chunks(16).chain([&keys[..0], &keys[..1], &keys[..7]]) {
                let mut lens = [usize::MAX; 16];
                sh.touch_all(batch, &mut lens[..batch.len()]);
                for (k, l) in batch.iter().zip(&lens) {
                    assert_eq!(*l, sh.touch(*k), "key {k}");
                    assert_eq!(*l, sh.packed(*k).map_or(0, |b| b.len()));
                }
            }
            let mut lens = [usize::MAX; 2];
            Shard::default().touch_all(&keys[..2], &mut lens);
            assert_eq!(lens, [0, 0], "an empty shard holds no state");
        }
    }

    #[test]
    fn states_in_a_scratch_file_read_back_as_the_same_bytes_as_states_on_the_heap() {
        let dir = TempDir::new("states");
        let (mut heap, mut file) = (States::new(), States::in_dir(&dir.0));
        assert_eq!(
            std::fs::read_dir(&dir.0).unwrap().count(),
            0,
            "file unlinked"
        );
        for (k, s) in growing().iter().enumerate().cycle().take(600).enumerate() {
            let key = (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            heap.seed(key, s.1.clone());
            file.seed(key, s.1.clone());
        }
        // in the scratch file where the filesystem allows it (`scratch::KEEPS_BLOCKS`), else on the heap
        assert_eq!(file.file_bytes() > 0, scratch::keeps_blocks(&dir.0));
        assert_eq!(heap.file_bytes(), 0);
        // a few states in each of the 768 regions populate one small step each, not 256 KiB:
        // 192 MiB of page cache and disk for a 100 k-claim day before (issue #13)
        assert!(
            file.file_bytes() <= 3 * SHARDS * scratch::MIN_STEP,
            "{} bytes populated",
            file.file_bytes()
        );
        assert_eq!(heap.sorted_packed(), file.sorted_packed());
    }

    #[test]
    fn states_freed_by_file_close_every_scratch_file() {
        let dir = TempDir::new("free");
        let mut file = States::in_dir(&dir.0);
        for (k, s) in growing().iter().enumerate().cycle().take(600).enumerate() {
            file.seed((k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15), s.1.clone());
        }
        let files: Vec<_> = file
            .shards
            .iter()
            .flat_map(|sh| [sh.index.file(), sh.slots.file(), sh.spill.file()])
            .flatten()
            .collect();
        // every region in a file where the filesystem allows it (`scratch::KEEPS_BLOCKS`)
        assert_eq!(files.len() == 3 * SHARDS, scratch::keeps_blocks(&dir.0));
        file.free_by_file();
        // the last region of each file dropped on one of the threads: every file closed, none left
        // open for the process's end
        assert!(files.iter().all(|f| f.upgrade().is_none()));
        // states on the heap go the same way
        let mut heap = States::new();
        heap.seed(1, growing()[0].clone());
        heap.free_by_file();
    }

    /// `free_by_file` gives each of its threads the shards `i` with one `scratch::file_of(i, SHARDS)`:
    /// that is a scratch file's every region only while `scratch::regions` puts owner `i` in that
    /// file. Cut otherwise, every file's last close would fall on whichever thread ends last,
    /// the discards one after the other again, and nothing else would fail (REVIEW24).
    #[test]
    fn states_free_by_file_groups_are_the_scratch_files() {
        let dir = TempDir::new("groups");
        let states = States::in_dir(&dir.0);
        if !scratch::keeps_blocks(&dir.0) {
            return; // on the heap: no file to group by
        }
        let group = |g: usize| states.shards[g].slots.file().unwrap();
        for (i, sh) in states.shards.iter().enumerate() {
            for f in [sh.index.file(), sh.slots.file(), sh.spill.file()] {
                let f = f.unwrap();
                for g in 0..scratch::FILES {
                    assert_eq!(
                        f.ptr_eq(&group(g)),
                        g == i % scratch::FILES,
                        "shard {i}, the file of group {g}"
                    );
                }
            }
        }
    }

    /// 50 000 random changes of ≈ 1 000 states through `with_state`, checked against a model; the
    /// shard is returned for the caller's checks.
    fn random_steps(mut sh: Shard) -> Shard {
        use std::collections::HashMap;
        let mut rng = packed::tests::Mix(0x5eed_0002);
        let mut model: HashMap<u64, BenefState> = HashMap::new();
        let (mut spills, mut back_inline, mut unchanged) = (0, 0, 0);
        let mut b = Vec::new();
        let check = |sh: &Shard, key: u64, m: &BenefState, b: &mut Vec<u8>, at: u32| {
            packed::encode(m, b);
            assert_eq!(sh.packed(key), Some(&b[..]), "key {key} step {at}");
            let slot = sh.slot(key).and_then(|i| sh.at(i)).copied();
            let slot = slot.unwrap_or_else(|| panic!("key {key} has no slot"));
            assert_eq!(
                slot.has_debts(),
                !m.open_debts().is_empty(),
                "key {key} step {at}"
            );
            assert_eq!(slot.spilled(), b.len() > INLINE, "key {key} step {at}");
        };
        for at in 0..50_000u32 {
            // ≈ 1 000 keys, spread over the hash
            let key = rng.below(1_000).wrapping_mul(0x9e37_79b9) + 1;
            // growth more often than shrinks, so that states spill, then come back inline
            let op = match rng.below(20) {
                n @ 0..=5 => n,
                6..=11 => 1,
                12..=13 => 3,
                14..=15 => 6,
                16 => 7,
                17 => 8,
                _ => 9,
            };
            let arg = rng.next();
            // op 9: a change the closure says it did not make (a rejected claim): not packed
            let changed = op != 9;
            let was = sh.slot(key).and_then(|i| sh.at(i)).map(Slot::spilled);
            let new = sh
                .with_state(key, None, TESTS_OLDEST, |s, new, _| {
                    step(s, if changed { op } else { 4 }, arg);
                    (new, changed)
                })
                .unwrap();
            assert_eq!(new, !model.contains_key(&key), "step {at}");
            let m = model.entry(key).or_default();
            if changed {
                step(m, op, arg);
            } else {
                unchanged += 1;
            }
            check(&sh, key, m, &mut b, at);
            let now = sh.slot(key).and_then(|i| sh.at(i)).map(Slot::spilled);
            match (was, now) {
                (Some(false), Some(true)) => spills += 1,
                (Some(true), Some(false)) => back_inline += 1,
                _ => {}
            }
            if at % 10_000 == 9_999 {
                for (k, m) in &model {
                    check(&sh, *k, m, &mut b, at);
                }
            }
        }
        assert_eq!(sh.len(), model.len());
        // every path exercised: spills, moves back inline, compactions, unchanged states
        assert!(
            spills > 100 && back_inline > 100 && sh.compactions > 0 && unchanged > 100,
            "spills {spills}, back inline {back_inline}, compactions {}, unchanged {unchanged}",
            sh.compactions
        );
        sh
    }

    #[test]
    fn debtors_come_in_ascending_key_order_across_shards_with_their_states() {
        let mut st = States::new();
        let mut with = Vec::new();
        for k in 0..5_000u64 {
            let key = k.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 8;
            let mut s = BenefState::default();
            if k % 3 == 0 {
                s.push_debt(debt(k as u32, 100 + k as i64));
                with.push(key);
            } else {
                s.add_pf(2026, k as i64);
            }
            st.seed(key, s);
        }
        with.sort_unstable();
        let d = st.debtors();
        let got: Vec<(u64, &[u8])> = d.places().iter().map(|&p| d.at(p)).collect();
        assert_eq!(got, st.with_debts());
        assert_eq!(got.iter().map(|e| e.0).collect::<Vec<_>>(), with);
    }

    /// Enough debtors that the merge cuts the keys into all its ranges, with keys bunched at both
    /// ends of the range (the cut points come from one shard): the list is every debtor once, by
    /// ascending key, each with its own state.
    #[test]
    fn debtors_merged_by_ranges_of_keys_are_each_debtor_once_in_key_order() {
        let mut st = States::new();
        let mut with = Vec::new();
        for k in 0..120_000u64 {
            let key = match k % 4 {
                0 => k,
                1 => u64::MAX - k,
                _ => k.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 1,
            };
            let mut s = BenefState::default();
            if k % 5 != 0 {
                s.push_debt(debt(k as u32, 100 + k as i64));
                with.push(key);
            } else {
                s.add_pf(2026, k as i64);
            }
            st.seed(key, s);
        }
        with.sort_unstable();
        let d = st.debtors();
        assert_eq!(d.places().len(), with.len());
        let got: Vec<(u64, &[u8])> = d.places().iter().map(|&p| d.at(p)).collect();
        assert_eq!(got.iter().map(|e| e.0).collect::<Vec<_>>(), with);
        assert!(got == st.with_debts(), "a debtor's state differs");
    }

    #[test]
    fn a_packed_state_is_canonical_so_an_unpruned_state_is_copied_as_is() {
        for s in growing() {
            let mut b = Vec::new();
            packed::encode(&s, &mut b);
            let mut again = Vec::new();
            packed::encode(&packed::decode(&b).unwrap(), &mut again);
            assert_eq!(b, again);
            for oldest in [Date(20250101), Date(20260105), Date(20270101)] {
                let (mut copied, mut pruned) = (Vec::new(), Vec::new());
                packed::append_pruned(&b, oldest, &mut BenefState::default(), &mut copied).unwrap();
                packed::encode_pruned(&s, oldest, &mut pruned);
                assert_eq!(copied, pruned, "oldest {oldest}");
                // the commit's path for a checked shard gives the same bytes
                let mut read = Vec::new();
                packed::append_pruned_read(&b, oldest, &mut BenefState::default(), &mut read)
                    .unwrap();
                assert_eq!(read, pruned, "oldest {oldest}");
            }
            assert!(packed::validate(&b).is_ok());
            assert!(packed::validate(&b[..b.len() - 1]).is_err());
        }
    }

    /// A shard is `checked` (the commit does not walk its states' debts again) while every state
    /// in it was packed by it or decoded whole on entry — seeded from a state, or carried and
    /// liquidated — and no longer once a state is seeded from bytes taken as they are.
    #[test]
    fn a_shard_is_checked_until_a_state_is_seeded_from_packed_bytes() {
        let s = growing().pop().unwrap();
        let mut b = Vec::new();
        packed::encode(&s, &mut b);
        let mut st = States::new();
        st.seed(1, s.clone());
        let mut sh = Shard::default();
        sh.with_state(2, Some(&Carried(b.clone())), TESTS_OLDEST, |w, _, _| {
            w.add_pf(2026, 100);
            ((), true)
        })
        .unwrap();
        sh.with_state(3, Some(&Carried(b.clone())), TESTS_OLDEST, |_, _, _| {
            ((), false)
        })
        .unwrap();
        assert!(sh.checked() && sh.len() == 2);
        assert!(st.shards().iter().all(Shard::checked));
        st.seed_packed(4, &b);
        assert!(!st.shards()[shard_of(4)].checked());
        assert_eq!(st.shards().iter().filter(|s| !s.checked()).count(), 1);
    }

    /// Review of stop 23 (M3): beneficiaries of rank 1 with NIRs of the real shape (sex, year,
    /// month, department, commune, order) fill every shard, none more than twice its share. The
    /// FxHash bits used before depended on the key's 14 low bits only: 4 shards held everyone.
    #[test]
    fn beneficiaries_of_one_rank_spread_over_every_shard() {
        let mut count = vec![0usize; SHARDS];
        let mut n = 0;
        for i in 0..100_000u64 {
            let nir = format!(
                "{}{:02}{:02}{:02}{:03}{:03}",
                1 + i % 2,
                (i / 2) % 100,
                1 + (i / 200) % 12,
                1 + (i / 2_400) % 95,
                1 + (i * 7) % 990,
                1 + (i * 13) % 999
            );
            let key = crate::refs::benef_key(nir.as_bytes(), 1).unwrap();
            count[shard_of(key)] += 1;
            n += 1;
        }
        let share = n / SHARDS;
        let (lo, hi) = (count.iter().min().unwrap(), count.iter().max().unwrap());
        assert!(
            *lo > share / 2 && *hi < share * 2,
            "shards hold {lo}..{hi} beneficiaries, a fair share is {share}"
        );
    }

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
            .unwrap()
            .iter()
            .map(|e| (e.0, e.1.pf_used(2026)))
            .collect();
        assert_eq!(by_ref, vec![(7, 7), (42, 42), (1_000_000_007, 7)]);
        let keys: Vec<u64> = s.into_sorted().unwrap().into_iter().map(|e| e.0).collect();
        assert_eq!(keys, vec![7, 42, 1_000_000_007]);
    }

    /// REVIEW22 L1: a shard is "checked" for the states it packed, yet `packed::encode` writes a
    /// debt above `packed::MAX_CENTS`, which the decode refuses; the commit's prune
    /// (`append_pruned_read`) copies such a record without walking its debts. What stops it from
    /// being committed is the open-debts walk made before every commit: it must refuse it.
    #[test]
    fn a_debt_the_decode_refuses_fails_the_open_debts_walk() {
        let mut st = States::new();
        let key = 77u64;
        let sh = &mut st.shards[shard_of(key)];
        sh.with_state(key, None, TESTS_OLDEST, |w, _, _| {
            w.push_debt(Debt {
                origin: DebtOrigin {
                    created: Date(20260316),
                    practitioner: 1,
                    claim: 1,
                    line: 1,
                    date_of_care: Date(20260301),
                    kind: DebtKind::Participation,
                },
                amount: packed::MAX_CENTS + 1,
                open: packed::MAX_CENTS + 1,
            });
            ((), true)
        })
        .unwrap();
        assert!(
            sh.checked(),
            "a state the shard packed counts as known to read"
        );
        let b = sh.packed(key).unwrap().to_vec();
        assert!(packed::validate(&b).is_err(), "yet it does not read");
        let mut out = Vec::new();
        packed::append_pruned_read(&b, Date(20250101), &mut BenefState::default(), &mut out)
            .unwrap();
        assert_eq!(out, b, "the prune copies it without walking its debts");
        assert!(
            st.open_debt_totals().is_err(),
            "the walk made before every commit refuses it"
        );
    }
}
