//! What earlier nights left, as the engine sees it: the seam between the engine and a ledger.
//!
//! The core defines this trait and never stores anything: the `liquidator-ledger` crate implements it
//! on its embedded store (`formats/ledger.md`). Without a ledger (`Options::carry` = `None`) a run
//! starts from nothing, as it always did.
//!
//! Architecture invariant: a run through a ledger differs from a run without one only by what the
//! ledger answers here — the running state a beneficiary starts the night with, and whether a claim
//! number or an act was already read or paid by an earlier night.

use crate::claims::{Act, ActLine};
use crate::rules::BenefState;

/// A batch committed by an earlier night: who sent it and its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BatchRef {
    pub sender: u32,
    pub batch_no: u32,
}

/// What an earlier night did with a claim number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EarlierClaim {
    pub batch: BatchRef,
    /// Paid (wholly or partly) rather than rejected.
    pub paid: bool,
}

/// The state as of the last committed night. Lookups never fail from the engine's point of view: an
/// implementation that hits an I/O error records it and answers `None`, and its owner fails the run
/// before anything is committed.
pub trait Carry: Sync {
    /// The running state of a beneficiary (`refs::benef_key`) at the end of the last night, if any.
    fn state(&self, benef: u64) -> Option<BenefState>;
    /// [`Carry::state`] packed (`states::packed`) into `out` (emptied first); `false` if none,
    /// checked: a ledger that stores states packed hands its bytes over as they are (checked with
    /// `packed::validate`), without building a state. The default of [`Carry::state_bytes`]; since
    /// LEDGER21 the engine asks `state_bytes` (REVIEW22 L4).
    fn state_packed(&self, benef: u64, out: &mut Vec<u8>) -> bool {
        match self.state(benef) {
            Some(s) => {
                crate::states::packed::encode(&s, out);
                true
            }
            None => false,
        }
    }
    /// [`Carry::state_packed`]'s bytes without their check: what the engine asks, because it decodes
    /// them whole at once (`states::Shard::with_state`, `packed::decode_into_has_debts`, which
    /// accepts exactly the records `packed::validate` accepts) and refuses a record that does not
    /// read (the run stops, exit 11, nothing committed). One pass over a carried state instead of
    /// two: the check walked the record to its debts, then the decode walked it again (issue #14,
    /// LEDGER21: ≈ 400 instructions a carried state, `callgrind`). The default is
    /// [`Carry::state_packed`], checked.
    fn state_bytes(&self, benef: u64, out: &mut Vec<u8>) -> bool {
        self.state_packed(benef, out)
    }
    /// Reads what [`Carry::state_packed`] is about to read for this beneficiary and returns a value
    /// made from it, for the caller to discard: the engine's read-ahead (`engine::liquidate_shards`)
    /// calls it for the next claims of a shard whose beneficiaries the shard does not hold yet, so
    /// that the lookups' cache misses overlap instead of stalling one after the other inside
    /// `state_packed` (issue #14: ≈ 560 ns a carried state, random over the whole stored table).
    /// Never waits for anything and answers nothing: the default reads nothing.
    fn touch_state(&self, _benef: u64) -> usize {
        0
    }
    /// [`Carry::touch_state`] of several beneficiaries at once (the engine's read-ahead of a
    /// shard's next claims), so that a ledger can read them in stages whose misses overlap
    /// (issue #14). The default touches them one by one.
    fn touch_states(&self, benefs: &[u64]) -> usize {
        benefs.iter().map(|&b| self.touch_state(b)).sum()
    }
    /// Starts reading, without waiting for it, what [`Carry::touch_states`] reads first for these
    /// beneficiaries (a ledger's radix entries): the engine's read-ahead calls it for a shard's
    /// claims one read-ahead group before it touches their states, so that those first misses are
    /// in flight while the group before is liquidated, and the touch finds them in the cache
    /// instead of waiting for them (issue #14). Hints only: some of these beneficiaries may be
    /// held by their shard already and never asked. The default reads nothing.
    fn prefetch_states(&self, _benefs: &[u64]) {}
    /// Reads what [`Carry::act`] is about to read for these acts ([`paid_act_hash`]: the CCAM
    /// lines of a shard's next claims, from the engine's read-ahead) and returns a value to
    /// discard, so that the misses of their lookups overlap instead of stalling one by one inside
    /// the rules (issue #14: ≈ 0.5 s of CPU on a national night, two random misses an act). Never
    /// waits for anything and answers nothing: the default reads nothing.
    fn touch_acts(&self, _hashes: &[u64]) -> usize {
        0
    }
    /// The engine has read the batch file's bytes `[at, at + bytes.len())`: a piece of a window
    /// (one of its sub-chunks), handed over right after its parse, mostly by the worker that parsed
    /// it, every byte once, pieces in file order (`engine::parse_window_read`). A ledger that
    /// records the file's checksum hashes them here, while they are in that core's cache, instead
    /// of reading the whole file again from memory beside the liquidation (issue #14: that second
    /// pass stalled on every line, 0.45–2 s of CPU on a national night; a whole window hashed beside
    /// its parse still read it from memory, ≈ 0.45 s, until LEDGER23). The default reads nothing.
    ///
    /// Called with the engine's read lock held (the pieces go out in order whoever parsed them): an
    /// implementation must be short and must not use rayon. A `rayon::join` here could, while it
    /// waits, run another sub-chunk's parse on the same thread, which would then wait for the lock
    /// its own thread holds: a deadlock (REVIEW23, shown by a test on branch `review23-not-kept`).
    /// A panic here is the run's panic: `rayon::scope` raises it again.
    fn window_read(&self, _at: usize, _bytes: &[u8]) {}
    /// Whether this practitioner's claim number was read by an earlier night.
    fn claim(&self, practitioner: u32, claim_no: u32) -> Option<EarlierClaim>;
    /// [`Carry::claim`] for a window's claims at once: `out[i]` answers `claims[i]` (practitioner,
    /// claim number); `out` has the length of `claims`. What the engine asks: a ledger answers them
    /// in its index's key order, walking it front to back, where one probe per claim in file order
    /// cost two random cache misses each (issue #14). The default asks one by one.
    fn claims(&self, claims: &[(u32, u32)], out: &mut [Option<EarlierClaim>]) {
        for (o, &(p, n)) in out.iter_mut().zip(claims) {
            *o = self.claim(p, n);
        }
    }
    /// Whether this act was paid by an earlier night.
    fn act(&self, key: &ActKey) -> Option<BatchRef>;
}

/// The identity of a claim: (practitioner, claim number), as the duplicate check within a run uses it.
pub fn claim_key(practitioner: u32, claim_no: u32) -> u64 {
    practitioner as u64 * 1_000_000_000 + claim_no as u64
}

/// The identity of an act, compact: a 64-bit hash of (beneficiary, practitioner, date of care, act)
/// to look it up, and a second, independent 64-bit hash to verify a hit (two different acts with the
/// same first hash are never taken for each other).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ActKey {
    pub hash: u64,
    pub check: u64,
}

/// The identity under which an earlier night's act is looked up, for the acts that have one: CCAM
/// acts only. An NGAP act (a nurse's `AMI 1`, a physiotherapist's session…) may legitimately be
/// performed twice the same day for the same patient, and a B2 line carries no time of day: a
/// second visit billed on a later night cannot be told from a repeat, so NGAP repeats are caught
/// only through their claim number (`R031`/`R032`, formats/ledger.md, "Acts").
pub fn paid_act_key(benef: u64, practitioner: u32, l: &ActLine) -> Option<ActKey> {
    matches!(l.act, Act::Ccam { .. }).then(|| act_key(benef, practitioner, l))
}

/// An act's identity: the beneficiary, the practitioner, the date of care and the act itself — CCAM
/// code, extension, activity and phase, or NGAP letter and coefficient (formats/ledger.md, "Acts").
/// Modifiers, quantity and fee are not part of it: an act billed again with other modifiers or
/// another fee is still the same act.
pub fn act_key(benef: u64, practitioner: u32, l: &ActLine) -> ActKey {
    let b = act_bytes(benef, practitioner, l);
    ActKey {
        hash: xxhash_rust::xxh3::xxh3_64_with_seed(&b, 0),
        check: xxhash_rust::xxh3::xxh3_64_with_seed(&b, 0x6c65_6467_6572),
    }
}

/// [`paid_act_key`]'s `hash` alone (what a ledger's act index is ordered by), without the check
/// hash: what the engine's read-ahead hands to [`Carry::touch_acts`].
pub fn paid_act_hash(benef: u64, practitioner: u32, l: &ActLine) -> Option<u64> {
    matches!(l.act, Act::Ccam { .. })
        .then(|| xxhash_rust::xxh3::xxh3_64_with_seed(&act_bytes(benef, practitioner, l), 0))
}

/// The bytes an act's identity hashes ([`act_key`]).
fn act_bytes(benef: u64, practitioner: u32, l: &ActLine) -> [u8; 32] {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&benef.to_le_bytes());
    b[8..12].copy_from_slice(&practitioner.to_le_bytes());
    b[12..16].copy_from_slice(&l.date.0.to_le_bytes());
    match l.act {
        Act::Ngap { letter, coef } => {
            b[16] = b'N';
            b[17..21].copy_from_slice(&letter);
            b[21..25].copy_from_slice(&coef.to_le_bytes());
        }
        Act::Ccam {
            code,
            extension,
            activity,
            phase,
            ..
        } => {
            b[16] = b'C';
            b[17..24].copy_from_slice(&code);
            b[24] = extension;
            b[25] = activity;
            b[26] = phase;
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::date::Date;

    fn ccam(code: &[u8; 7], date: u32, activity: u8, modifiers: [u8; 4]) -> ActLine {
        ActLine {
            claim_no: 1,
            line_no: 1,
            date: Date(date),
            act: Act::Ccam {
                code: *code,
                extension: b' ',
                activity,
                phase: b'0',
                modifiers,
                assoc: b' ',
                rc: b' ',
            },
            quantity: 1,
            fee: 100,
            qualifier: *b"  ",
            exemption: b' ',
        }
    }

    #[test]
    fn the_paid_act_hash_is_the_paid_act_keys_hash_and_none_for_ngap() {
        for (benef, prac, date) in [(7u64, 9u32, 20260301u32), (u64::MAX, 0, 20251231)] {
            let l = ccam(b"BGQP002", date, b'1', *b"F   ");
            assert_eq!(
                paid_act_hash(benef, prac, &l),
                paid_act_key(benef, prac, &l).map(|k| k.hash)
            );
            assert!(paid_act_hash(benef, prac, &l).is_some());
            let mut n = l;
            n.act = Act::Ngap {
                letter: *b"AMI ",
                coef: 100,
            };
            assert_eq!(paid_act_hash(benef, prac, &n), None);
            assert_eq!(paid_act_key(benef, prac, &n), None);
        }
    }

    #[test]
    fn act_key_ignores_modifiers_and_claim_but_not_date_activity_or_parties() {
        let a = ccam(b"BGQP002", 20260301, b'1', *b"    ");
        let mut b = ccam(b"BGQP002", 20260301, b'1', *b"F   ");
        b.claim_no = 2;
        b.line_no = 3;
        assert_eq!(act_key(7, 9, &a), act_key(7, 9, &b));
        assert_ne!(
            act_key(7, 9, &a),
            act_key(7, 9, &ccam(b"BGQP002", 20260302, b'1', *b"    "))
        );
        assert_ne!(
            act_key(7, 9, &a),
            act_key(7, 9, &ccam(b"BGQP002", 20260301, b'4', *b"    "))
        );
        assert_ne!(act_key(7, 9, &a), act_key(8, 9, &a));
        assert_ne!(act_key(7, 9, &a), act_key(7, 10, &a));
    }
}
