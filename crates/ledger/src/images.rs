//! Beneficiary states stored by bucket, and each night's before-images as one sorted segment
//! (formats/ledger.md, "States: buckets").
//!
//! A national night touches ≈ 4.3 M of 10 M beneficiaries: one B-tree entry per state (and one per
//! before-image) cost one random lookup per beneficiary during the run and two inserts per
//! beneficiary at the commit. States are instead grouped into [`BUCKETS`] buckets by the top bits of
//! their mixed key (`segments::mix`), each bucket one stored value of sorted records; a run reads
//! every bucket into one in-memory [`Images`] (in a background thread, while the file is parsed), and
//! the commit rewrites the buckets its night touched, merging old and new records in one pass.
//!
//! Record layout: mixed beneficiary key u64 (little-endian), length (LEB128 varint: one byte for
//! almost every state), the encoded state (`codec`; empty in a before-image: the beneficiary had no
//! state before that night).

use crate::LedgerError;

/// Bits of the mixed key that choose a bucket.
pub const BUCKET_BITS: u32 = 14;
pub const BUCKETS: u32 = 1 << BUCKET_BITS;

/// Fewest bytes of a record: the key and a one-byte length (an empty before-image).
pub const MIN_REC: usize = 9;

pub fn bucket(mixed: u64) -> u32 {
    (mixed >> (64 - BUCKET_BITS)) as u32
}

pub fn push(out: &mut Vec<u8>, key: u64, bytes: &[u8]) {
    out.extend_from_slice(&key.to_le_bytes());
    crate::codec::put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// The records of a stored value, in order: (key, offset of the bytes in `b`, length).
pub fn parse(b: &[u8]) -> Result<Vec<(u64, usize, usize)>, LedgerError> {
    let mut v = Vec::with_capacity(b.len() / 48);
    let mut i = 0;
    let torn = || LedgerError::Corrupt("state records: torn value".into());
    while i < b.len() {
        let mut k = [0u8; 8];
        k.copy_from_slice(b.get(i..i + 8).ok_or_else(torn)?);
        i += 8;
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let byte = *b.get(i).ok_or_else(torn)?;
            i += 1;
            len |= ((byte & 0x7f) as usize) << shift;
            if byte & 0x80 == 0 {
                // the shortest encoding only: a last byte of 0 after others is not written
                if byte == 0 && shift > 0 {
                    return Err(torn());
                }
                break;
            }
            shift += 7;
            if shift > 28 {
                return Err(torn());
            }
        }
        let key = u64::from_le_bytes(k);
        if b.len() - i < len {
            return Err(torn());
        }
        if v.last().is_some_and(|&(p, _, _)| p >= key) {
            return Err(LedgerError::Corrupt(
                "state records: keys out of order".into(),
            ));
        }
        v.push((key, i, len));
        i += len;
    }
    Ok(v)
}

/// Bytes of `len` as a varint (`parse` accepts the shortest encoding only, so this is where a
/// record's bytes start after its length).
fn varint_len(len: usize) -> usize {
    1 + (usize::BITS - len.leading_zeros()).saturating_sub(1) as usize / 7
}

/// Records from many stored values, in key order, in memory: one arena holding the values as
/// read, each record's (key, offset of its length in the arena) side by side — one cache line for
/// both on a lookup (the length is read back from the arena) — and a radix table on the keys' top
/// bits.
#[derive(Default)]
pub struct Images {
    keys: Vec<(u64, u64)>,
    arena: Vec<u8>,
    radix: Vec<u32>,
    bits: u32,
}

impl Images {
    /// Room for `records` records of `bytes` in all (the sizes the commit recorded): filled without
    /// growing, so without copying the arena nor faulting in twice its memory. `None` if the
    /// allocator refuses it (the sizes are a hint read from the ledger, never a reason to abort).
    pub fn try_with_capacity(records: usize, bytes: usize) -> Option<Images> {
        let mut im = Images::default();
        im.keys.try_reserve_exact(records).ok()?;
        im.arena.try_reserve_exact(bytes).ok()?;
        Some(im)
    }

    /// Appends a stored value; values must come in key order.
    pub fn add(&mut self, b: &[u8]) -> Result<(), LedgerError> {
        let recs = parse(b)?;
        if let (Some(&(last, _)), Some(&(first, _, _))) = (self.keys.last(), recs.first())
            && first <= last
        {
            return Err(LedgerError::Corrupt(
                "state records: values out of order".into(),
            ));
        }
        let base = self.arena.len();
        self.arena.extend_from_slice(b);
        self.keys.reserve(recs.len());
        for (k, off, len) in recs {
            // `off` is where the bytes start; the record's length sits between the key and them
            self.keys.push((k, (base + off - varint_len(len)) as u64));
        }
        Ok(())
    }

    /// Done adding: builds the radix table.
    pub fn seal(mut self) -> Images {
        let n = self.keys.len();
        self.bits = (usize::BITS - n.leading_zeros()).clamp(8, 24);
        let mut radix = vec![0u32; (1usize << self.bits) + 1];
        for (k, _) in &self.keys {
            radix[(k >> (64 - self.bits)) as usize + 1] += 1;
        }
        for i in 1..radix.len() {
            radix[i] += radix[i - 1];
        }
        self.radix = radix;
        self
    }

    pub fn get(&self, key: u64) -> Option<&[u8]> {
        if self.keys.is_empty() || self.radix.is_empty() {
            return None;
        }
        let p = (key >> (64 - self.bits)) as usize;
        let (a, b) = (self.radix[p] as usize, self.radix[p + 1] as usize);
        let i = a + self.keys[a..b].binary_search_by_key(&key, |e| e.0).ok()?;
        self.record(i)
    }

    /// Reads what [`Images::get`] would read for `key` — its radix slot, its line of (key, offset)
    /// pairs and the first byte of its record — without a search: a value for the caller to
    /// discard (the engine's read-ahead, `Carry::touch_state`). The misses of several keys touched
    /// in a row overlap; `get` then finds their lines in the cache.
    #[inline]
    pub fn touch(&self, key: u64) -> usize {
        if self.radix.is_empty() {
            return 0;
        }
        let p = (key >> (64 - self.bits)) as usize;
        let a = self.radix.get(p).map_or(0, |&a| a as usize);
        self.keys
            .get(a)
            .and_then(|e| self.arena.get(e.1 as usize))
            .map_or(0, |&b| b as usize)
    }

    /// The bytes of record `i` (its length read back from the arena, where `add` checked it).
    fn record(&self, i: usize) -> Option<&[u8]> {
        let mut at = self.keys.get(i)?.1 as usize;
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let byte = *self.arena.get(at)?;
            at += 1;
            len |= ((byte & 0x7f) as usize) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        self.arena.get(at..at + len)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Heap bytes held (arena, key/offset pairs, radix table): `LIQUIDATOR_TIMING`'s memory figures.
    pub fn heap_bytes(&self) -> usize {
        self.arena.capacity() + self.keys.capacity() * 16 + self.radix.capacity() * 4
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Every record, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.0, self.record(i).unwrap_or_default()))
    }
}

/// What merging a bucket with the night's states gives.
pub struct Merged {
    /// The bucket's new value, if any record changed.
    pub value: Option<Vec<u8>>,
    /// The records (key, bytes before — empty: none) of each state that changed, in key order.
    pub before: Vec<u8>,
    /// Records the value gained (states new to the ledger).
    pub added: usize,
}

/// Merges a bucket's stored records with the night's new states of that bucket (sorted, one per
/// key): a state whose bytes equal the stored ones is no change.
pub fn merge(old: &[u8], new: &[(u64, &[u8])]) -> Result<Merged, LedgerError> {
    let recs = parse(old)?;
    let mut out = Vec::with_capacity(old.len() + new.iter().map(|n| n.1.len() + 12).sum::<usize>());
    let mut before = Vec::new();
    let mut added = 0;
    let (mut i, mut j) = (0, 0);
    while i < recs.len() || j < new.len() {
        let ok = recs.get(i).map(|r| r.0);
        let nk = new.get(j).map(|n| n.0);
        match (ok, nk) {
            (Some(a), Some(b)) if a == b => {
                let (_, off, len) = recs[i];
                let was = &old[off..off + len];
                if was != new[j].1 {
                    push(&mut before, a, was);
                }
                push(&mut out, a, new[j].1);
                i += 1;
                j += 1;
            }
            (Some(a), b) if b.is_none_or(|b| a < b) => {
                let (_, off, len) = recs[i];
                push(&mut out, a, &old[off..off + len]);
                i += 1;
            }
            (_, Some(b)) => {
                added += 1;
                push(&mut before, b, &[]);
                push(&mut out, b, new[j].1);
                j += 1;
            }
            _ => break,
        }
    }
    Ok(Merged {
        value: (!before.is_empty()).then_some(out),
        before,
        added,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(recs: &[(u64, &[u8])]) -> Vec<u8> {
        let mut b = Vec::new();
        for (k, v) in recs {
            push(&mut b, *k, v);
        }
        b
    }

    #[test]
    fn a_merge_writes_new_and_changed_states_keeps_the_rest_and_lists_what_changed() {
        let old = value(&[(1, b"a"), (5, b"bb"), (9, b"c")]);
        let new: Vec<(u64, &[u8])> = vec![(3, b"new"), (5, b"bb"), (9, b"C")];
        let m = merge(&old, &new).unwrap();
        assert_eq!(
            m.value.unwrap(),
            value(&[(1, b"a"), (3, b"new"), (5, b"bb"), (9, b"C")])
        );
        assert_eq!(m.before, value(&[(3, b""), (9, b"c")]));
        // Nothing changed: nothing to write.
        let m = merge(&old, &[(5, b"bb".as_slice())]).unwrap();
        assert!(m.value.is_none() && m.before.is_empty());
    }

    #[test]
    fn long_records_keep_their_varint_length_and_a_padded_length_is_refused() {
        let big = vec![7u8; 200];
        let huge = vec![9u8; 20_000];
        let v = value(&[(1, b""), (2, &big), (3, &huge), (4, b"x")]);
        let mut im = Images::default();
        im.add(&v).unwrap();
        let im = im.seal();
        assert_eq!(im.get(2), Some(&big[..]));
        assert_eq!(im.get(3), Some(&huge[..]));
        assert_eq!(im.get(4), Some(&b"x"[..]));
        assert_eq!(im.get(1), Some(&b""[..]));
        // key 5, length 1 written in two bytes (0x81 0x00), one byte of state
        let mut padded = 5u64.to_le_bytes().to_vec();
        padded.extend_from_slice(&[0x81, 0x00, b'y']);
        assert!(parse(&padded).is_err());
    }

    #[test]
    fn a_touch_reads_the_first_byte_of_the_record_get_finds_and_answers_nothing_else() {
        assert_eq!(Images::default().seal().touch(1), 0);
        assert_eq!(Images::default().touch(1), 0);
        let mut im = Images::default();
        im.add(&value(&[(1, b"a"), (u64::MAX / 2, b""), (u64::MAX, b"zz")]))
            .unwrap();
        let im = im.seal();
        // The record's first byte is its length (a varint): 1 for "a", 2 for "zz", 0 for "".
        assert_eq!(im.touch(1), 1);
        assert_eq!(im.touch(u64::MAX / 2), 0);
        assert_eq!(im.touch(u64::MAX), 2);
        // An absent key reads whatever its radix slot points at, and the answers stay the same.
        for k in [0, 2, u64::MAX - 1] {
            im.touch(k);
        }
        assert_eq!(im.get(1), Some(&b"a"[..]));
        assert_eq!(im.get(u64::MAX), Some(&b"zz"[..]));
        assert_eq!(im.get(2), None);
    }

    #[test]
    fn images_find_every_record_across_values_and_refuse_torn_or_unordered_ones() {
        let mut im = Images::default();
        im.add(&value(&[(1, b"a"), (u64::MAX / 2, b"")])).unwrap();
        im.add(&value(&[(u64::MAX - 1, b"zz")])).unwrap();
        let im = im.seal();
        assert_eq!(im.get(1), Some(&b"a"[..]));
        assert_eq!(im.get(u64::MAX / 2), Some(&b""[..]));
        assert_eq!(im.get(u64::MAX - 1), Some(&b"zz"[..]));
        assert_eq!(im.get(2), None);
        assert_eq!(im.iter().count(), 3);
        let v = value(&[(1, b"abc")]);
        assert!(parse(&v[..v.len() - 1]).is_err());
        assert!(parse(&value(&[(2, b""), (1, b"")])).is_err());
        let mut im = Images::default();
        im.add(&value(&[(5, b"")])).unwrap();
        assert!(im.add(&value(&[(5, b"")])).is_err());
    }
}
