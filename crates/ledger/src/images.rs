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
//! Record layout (little-endian): mixed beneficiary key u64, length u32, the encoded state (`codec`;
//! empty in a before-image: the beneficiary had no state before that night).

use crate::LedgerError;

/// Bits of the mixed key that choose a bucket.
pub const BUCKET_BITS: u32 = 14;
pub const BUCKETS: u32 = 1 << BUCKET_BITS;

pub fn bucket(mixed: u64) -> u32 {
    (mixed >> (64 - BUCKET_BITS)) as u32
}

pub fn push(out: &mut Vec<u8>, key: u64, bytes: &[u8]) {
    out.extend_from_slice(&key.to_le_bytes());
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The records of a stored value, in order: (key, offset of the bytes in `b`, length).
pub fn parse(b: &[u8]) -> Result<Vec<(u64, usize, usize)>, LedgerError> {
    let mut v = Vec::new();
    let mut i = 0;
    let torn = || LedgerError::Corrupt("state records: torn value".into());
    while i < b.len() {
        if b.len() - i < 12 {
            return Err(torn());
        }
        let mut k = [0u8; 8];
        k.copy_from_slice(&b[i..i + 8]);
        let mut n = [0u8; 4];
        n.copy_from_slice(&b[i + 8..i + 12]);
        let (key, len) = (u64::from_le_bytes(k), u32::from_le_bytes(n) as usize);
        if b.len() - i - 12 < len {
            return Err(torn());
        }
        if v.last().is_some_and(|&(p, _, _)| p >= key) {
            return Err(LedgerError::Corrupt(
                "state records: keys out of order".into(),
            ));
        }
        v.push((key, i + 12, len));
        i += 12 + len;
    }
    Ok(v)
}

/// Records from many stored values, in key order, in memory: one arena holding the values as
/// read, sorted keys and a radix table on their top bits.
#[derive(Default)]
pub struct Images {
    keys: Vec<u64>,
    spans: Vec<(u64, u32)>,
    arena: Vec<u8>,
    radix: Vec<u32>,
    bits: u32,
}

impl Images {
    /// Appends a stored value; values must come in key order.
    pub fn add(&mut self, b: &[u8]) -> Result<(), LedgerError> {
        let recs = parse(b)?;
        if let (Some(&last), Some(&(first, _, _))) = (self.keys.last(), recs.first())
            && first <= last
        {
            return Err(LedgerError::Corrupt(
                "state records: values out of order".into(),
            ));
        }
        let base = self.arena.len() as u64;
        self.arena.extend_from_slice(b);
        for (k, off, len) in recs {
            self.keys.push(k);
            self.spans.push((base + off as u64, len as u32));
        }
        Ok(())
    }

    /// Done adding: builds the radix table.
    pub fn seal(mut self) -> Images {
        let n = self.keys.len();
        self.bits = (usize::BITS - n.leading_zeros()).clamp(8, 24);
        let mut radix = vec![0u32; (1usize << self.bits) + 1];
        for k in &self.keys {
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
        let i = a + self.keys[a..b].binary_search(&key).ok()?;
        let (off, len) = self.spans[i];
        self.arena.get(off as usize..off as usize + len as usize)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Every record, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.keys
            .iter()
            .zip(&self.spans)
            .map(|(k, &(off, len))| (*k, &self.arena[off as usize..off as usize + len as usize]))
    }
}

/// What merging a bucket with the night's states gives.
pub struct Merged {
    /// The bucket's new value, if any record changed.
    pub value: Option<Vec<u8>>,
    /// The records (key, bytes before — empty: none) of each state that changed, in key order.
    pub before: Vec<u8>,
}

/// Merges a bucket's stored records with the night's new states of that bucket (sorted, one per
/// key): a state whose bytes equal the stored ones is no change.
pub fn merge(old: &[u8], new: &[(u64, &[u8])]) -> Result<Merged, LedgerError> {
    let recs = parse(old)?;
    let mut out = Vec::with_capacity(old.len() + new.iter().map(|n| n.1.len() + 12).sum::<usize>());
    let mut before = Vec::new();
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
