//! Beneficiary states as one image file per generation, and each night's before-images as one
//! sorted segment (formats/ledger.md, "States: one image file per generation").
//!
//! A national night touches ≈ 4.3 M of 10 M beneficiaries. Layouts 2 to 4 grouped the states into
//! buckets stored in redb: every night rewrote almost every bucket through redb's pages, and a run
//! copied the whole table into fresh memory. Layout 5 writes the current states as one file of
//! sorted records with its radix table ([`ImageWriter`]: sequentially, once a night) which the next
//! run maps read-only ([`Images::map`]: read in place, no copy); the commit merges old and new
//! records in one pass, by parts of the key space in parallel.
//!
//! Record layout: mixed beneficiary key u64 (little-endian), length (LEB128 varint: one byte for
//! almost every state), the encoded state (`codec`; empty in a before-image: the beneficiary had no
//! state before that night).

use crate::LedgerError;

/// The record starting at `at` of `b`: its key, where its bytes start, where they end; `None` when
/// it is torn (cut short, a length past the end or over 2^35, or a length not in its shortest
/// encoding — `push` writes the shortest only). The one decoder of a record: `parse` reads stored
/// values with it, `Images` its arena.
#[inline]
fn decode(b: &[u8], at: usize) -> Option<(u64, usize, usize)> {
    let mut k = [0u8; 8];
    k.copy_from_slice(b.get(at..at.checked_add(8)?)?);
    let mut i = at + 8;
    let (mut len, mut shift) = (0usize, 0);
    loop {
        let byte = *b.get(i)?;
        i += 1;
        len |= ((byte & 0x7f) as usize) << shift;
        if byte & 0x80 == 0 {
            // the shortest encoding only: a last byte of 0 after others is not written
            if byte == 0 && shift > 0 {
                return None;
            }
            break;
        }
        shift += 7;
        if shift > 28 {
            return None;
        }
    }
    let end = i.checked_add(len).filter(|&e| e <= b.len())?;
    Some((u64::from_le_bytes(k), i, end))
}

pub fn push(out: &mut Vec<u8>, key: u64, bytes: &[u8]) {
    out.extend_from_slice(&key.to_le_bytes());
    crate::codec::put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// The records of a stored value, in order: (key, offset of the bytes in `b`, length).
pub fn parse(b: &[u8]) -> Result<Vec<(u64, usize, usize)>, LedgerError> {
    let mut v = Vec::with_capacity(b.len() / 48);
    for r in Records::new(b) {
        let (key, from, end) = r?;
        v.push((key, from, end - from));
    }
    Ok(v)
}

/// The records of a stored value read one at a time, each checked as it is read: whole (not
/// torn), keys ascending — (key, offset of the bytes, their end). After an error it ends. What
/// [`parse`] collects, and what [`merge`] walks without collecting.
struct Records<'a> {
    b: &'a [u8],
    at: usize,
    last: Option<u64>,
}

impl<'a> Records<'a> {
    fn new(b: &'a [u8]) -> Records<'a> {
        Records::after(b, None)
    }

    /// The records of `b`, whose keys must also be above `last` (records appended to others).
    fn after(b: &'a [u8], last: Option<u64>) -> Records<'a> {
        Records { b, at: 0, last }
    }
}

impl Iterator for Records<'_> {
    type Item = Result<(u64, usize, usize), LedgerError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.b.len() {
            return None;
        }
        // Whatever follows an error is not read.
        let at = std::mem::replace(&mut self.at, self.b.len());
        let Some((key, from, end)) = decode(self.b, at) else {
            return Some(Err(LedgerError::Corrupt(
                "state records: torn value".into(),
            )));
        };
        if self.last.is_some_and(|p| p >= key) {
            return Some(Err(LedgerError::Corrupt(
                "state records: keys out of order".into(),
            )));
        }
        self.at = end;
        self.last = Some(key);
        Some(Ok((key, from, end)))
    }
}

/// Records from many stored values, in key order, in memory: one arena holding the values as
/// read (records key, length, bytes, in key order) and a radix table on the keys' top bits that
/// gives, for each slot, where its first record starts in the arena (about 4 records a slot). A
/// lookup reads its slot's bounds, then the slot's records from the first, in order — one
/// cache line or two, read one after the other, not searched.
///
/// Why no table of (key, offset) pairs, one a record, as before: at national size it was 68 MiB
/// (4.25 M states, 16 bytes each) beside the arena's ≈ 180 MiB, and its radix table of one slot a
/// record 32 MiB more — fresh memory, faulted in and zeroed by the kernel while the engine waited
/// for the load (issue #14: `Images::add`'s page faults were most of the states' load in `perf`
/// of national night 2) — and a lookup went radix → pair → record, three misses in a row where
/// radix → record is two.
#[derive(Default)]
pub struct Images {
    arena: Vec<u8>,
    /// `radix[p]`: the offset in the arena of the first record whose key's top `bits` bits are
    /// `p` or more (`arena.len()` if none): slot p's records are `radix[p]..radix[p + 1]`. Empty
    /// until [`Images::seal`].
    radix: Vec<u64>,
    /// A state image file mapped read-only ([`Images::map`]): its records and radix table are
    /// read in place, `arena` and `radix` stay empty.
    map: Option<Mapped>,
    bits: u32,
    /// Records held.
    len: usize,
    /// The last key added (values must come in key order).
    last: Option<u64>,
}

/// A state image file as [`Images`] reads it: records `..records`, then the radix table (`slots`
/// little-endian u64 from `radix`).
struct Mapped {
    map: memmap2::Mmap,
    records: usize,
    radix: usize,
    slots: usize,
}

/// The record starting at `at` of an arena whose records were checked when added (`parse`): its
/// key, where its bytes start, where they end. `None` past the end (never within a checked arena).
#[inline]
fn arena_record(arena: &[u8], at: usize) -> Option<(u64, usize, usize)> {
    decode(arena, at)
}

/// Lines of a slot's records [`Images::touch_group`] prefetches at most: a slot holds about 4
/// records, ≈ 45 bytes each at national size; the lines of a crowded slot past these are read by
/// `get` itself.
const TOUCH_LINES: usize = 4;

impl Images {
    /// The records, in key order (the heap arena, or the mapped image's records).
    #[inline]
    fn arena(&self) -> &[u8] {
        match &self.map {
            Some(m) => m.map.get(..m.records).unwrap_or_default(),
            None => &self.arena,
        }
    }

    /// Entry `p` of the radix table (`None` past its end, or before [`Images::seal`]).
    #[inline]
    fn radix_at(&self, p: usize) -> Option<u64> {
        match &self.map {
            Some(m) => {
                if p >= m.slots {
                    return None;
                }
                let at = m.radix + 8 * p;
                let b: [u8; 8] = m.map.get(at..at + 8)?.try_into().ok()?;
                Some(u64::from_le_bytes(b))
            }
            None => self.radix.get(p).copied(),
        }
    }

    /// Whether the radix table is there ([`Images::seal`]ed, or mapped).
    #[inline]
    fn sealed(&self) -> bool {
        self.map.is_some() || !self.radix.is_empty()
    }

    /// Appends a stored value; values must come in key order.
    pub fn add(&mut self, b: &[u8]) -> Result<(), LedgerError> {
        let recs = parse(b)?;
        if let (Some(last), Some(&(first, _, _))) = (self.last, recs.first())
            && first <= last
        {
            return Err(LedgerError::Corrupt(
                "state records: values out of order".into(),
            ));
        }
        if let Some(&(k, _, _)) = recs.last() {
            self.last = Some(k);
        }
        self.arena.extend_from_slice(b);
        self.len += recs.len();
        Ok(())
    }

    /// Done adding: builds the radix table, in one pass over the arena. The arena holds only
    /// values [`Images::add`] parsed whole (every record checked by `decode`), so a torn record
    /// cannot be met here; were one met, stopping there would leave the records after it out of
    /// the radix table — lookups answering "no state" for beneficiaries that have one — so it is
    /// refused as corrupt instead.
    pub fn seal(mut self) -> Result<Images, LedgerError> {
        // About 4 records a slot (2^bits ≥ n / 4): a slot's records are read in order, ≈ 40 bytes
        // each at national size, so a lookup reads one or two cache lines of them.
        self.bits = (usize::BITS - self.len.leading_zeros())
            .saturating_sub(2)
            .clamp(8, 24);
        let shift = 64 - self.bits;
        let slots = 1usize << self.bits;
        let mut radix = vec![0u64; slots + 1];
        // `next`: the first slot whose start is not set yet.
        let (mut at, mut next) = (0usize, 0usize);
        while at < self.arena.len() {
            let Some((k, _, end)) = arena_record(&self.arena, at) else {
                return Err(LedgerError::Corrupt(format!(
                    "state records: torn record at byte {at} of {} held",
                    self.arena.len()
                )));
            };
            let p = (k >> shift) as usize;
            while next <= p {
                radix[next] = at as u64;
                next += 1;
            }
            at = end;
        }
        for r in &mut radix[next..] {
            *r = self.arena.len() as u64;
        }
        self.radix = radix;
        Ok(self)
    }

    /// Where the records of `key`'s slot start and end in the arena (`None` before `seal`, whose
    /// `bits` is not set yet).
    #[inline]
    fn slot(&self, key: u64) -> Option<(usize, usize)> {
        if !self.sealed() {
            return None;
        }
        let p = (key >> (64 - self.bits)) as usize;
        Some((self.radix_at(p)? as usize, self.radix_at(p + 1)? as usize))
    }

    pub fn get(&self, key: u64) -> Option<&[u8]> {
        let (mut at, end) = self.slot(key)?;
        let arena = self.arena();
        while at < end {
            let (k, from, to) = arena_record(arena, at)?;
            if k == key {
                return arena.get(from..to);
            }
            if k > key {
                return None;
            }
            at = to;
        }
        None
    }

    /// Reads what [`Images::get`] reads first for `key` — its radix slot, then the length of the
    /// slot's first record (the line where the slot's records start) — without a search: a value
    /// for the caller to discard (the engine's read-ahead, `Carry::touch_state`). The misses of
    /// several keys touched in a row overlap; `get` then finds their lines in the cache.
    #[inline]
    pub fn touch(&self, key: u64) -> usize {
        if !self.sealed() {
            return 0;
        }
        let p = (key >> (64 - self.bits)) as usize;
        self.radix_at(p)
            .and_then(|a| self.arena().get((a as usize).checked_add(8)?))
            .map_or(0, |&b| b as usize)
    }

    /// Reads ahead what [`Images::get`] reads for each of `keys` (at most `segments::GROUP`), in
    /// two stages: every key's radix slot (its start and end, loads whose misses overlap), then a
    /// prefetch of every line of each slot's records (up to [`TOUCH_LINES`]), which the CPU need
    /// not wait for. One key after the other, each touch was a chain of dependent misses into a
    /// table far larger than the cache (a national night's ≈ 4.3 M stored states, ≈ 200 MiB with
    /// their radix table), and the chains of the engine's 16 keys read ahead barely overlapped
    /// (issue #14: `touch_state` 2.9 % of national night 2's CPU). Until LEDGER13 the second stage
    /// loaded the first byte of each slot's first record: loads the CPU must finish before it goes
    /// on (60 % of `touch_group`'s samples sat on them), and only the slot's first line, where a
    /// slot's ≈ 4 records take ≈ 3 lines at national size (`get`'s samples: 82 % on a record's
    /// first load). Returns the sum of the slots' starts, a value to discard (test
    /// `a_group_touch_reads_each_keys_slot_and_changes_no_answer`).
    pub fn touch_group(&self, keys: &[u64]) -> usize {
        if !self.sealed() {
            return 0;
        }
        let n = keys.len().min(crate::segments::GROUP);
        let shift = 64 - self.bits;
        let mut slots = [(0usize, 0usize); crate::segments::GROUP];
        for (s, &k) in slots.iter_mut().zip(&keys[..n]) {
            let p = (k >> shift) as usize;
            // Entries p and p + 1: the same line but one time in eight.
            *s = (
                self.radix_at(p).map_or(0, |a| a as usize),
                self.radix_at(p + 1).map_or(0, |a| a as usize),
            );
        }
        let arena = self.arena();
        let mut sum = 0usize;
        for &(a, b) in &slots[..n] {
            let end = b.min(a.saturating_add(TOUCH_LINES * 64));
            // One address in each line from `a`'s to `end - 1`'s.
            let mut at = a;
            while at < end {
                crate::segments::prefetch(arena, at);
                at += 64;
            }
            if end > a {
                crate::segments::prefetch(arena, end - 1);
            }
            sum = sum.wrapping_add(a);
        }
        sum
    }

    /// Prefetches the radix entries [`Images::touch_group`] loads for each of `keys` (the line of
    /// entry p holds entry p + 1 but one time in eight), without waiting for them: the engine
    /// asks one read-ahead group early (`Carry::prefetch_states`), and the touch then finds them
    /// in the cache. Loaded by the touch itself, they were 43 % of its samples, and its record
    /// prefetches 47 % waiting behind them (national night 2, issue #14).
    pub fn prefetch_slots(&self, keys: &[u64]) {
        if !self.sealed() {
            return;
        }
        let shift = 64 - self.bits;
        for &k in keys {
            let p = (k >> shift) as usize;
            match &self.map {
                Some(m) => {
                    if p < m.slots {
                        crate::segments::prefetch(&m.map[..], m.radix + 8 * p);
                    }
                }
                None => crate::segments::prefetch(&self.radix, p),
            }
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Heap bytes held (arena, radix table): `LIQUIDATOR_TIMING`'s memory figures.
    pub fn heap_bytes(&self) -> usize {
        self.arena.capacity() + self.radix.capacity() * 8
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every record, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> {
        let arena = self.arena();
        let mut at = 0;
        std::iter::from_fn(move || {
            let (k, from, to) = arena_record(arena, at)?;
            at = to;
            Some((k, arena.get(from..to).unwrap_or_default()))
        })
    }

    /// Bytes of a mapped image file (0 on the heap): `LIQUIDATOR_TIMING`'s memory figures.
    pub fn mapped_bytes(&self) -> usize {
        self.map.as_ref().map_or(0, |m| m.map.len())
    }

    /// Where the first record whose key is `key` or more starts (`key` ≥ 2^64: the end).
    pub fn lower_bound(&self, key: u128) -> usize {
        let arena = self.arena();
        if key > u64::MAX as u128 {
            return arena.len();
        }
        let key = key as u64;
        let Some((mut at, _)) = self.slot(key) else {
            return 0;
        };
        while let Some((k, _, end)) = arena_record(arena, at) {
            if k >= key {
                break;
            }
            at = end;
        }
        at.min(arena.len())
    }

    /// The records from `from` to `to` (offsets of [`Images::lower_bound`]), as stored.
    pub fn bytes(&self, from: usize, to: usize) -> &[u8] {
        self.arena().get(from..to).unwrap_or_default()
    }
}

/// The current states' image file: generation `generation` (`states.GEN.img` in the ledger directory),
/// its length and the xxh3-64 of its bytes — `meta.states` = "`GEN LEN XXH3`" (layout 5,
/// formats/ledger.md "States: one image file per generation"). A file of another length or
/// checksum is stale or corrupt: refused (exit 11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageRef {
    pub generation: u64,
    pub len: u64,
    pub sum: u64,
}

impl ImageRef {
    pub fn text(self) -> String {
        format!("{} {} {:016x}", self.generation, self.len, self.sum)
    }

    pub fn parse(v: &[u8]) -> Result<ImageRef, LedgerError> {
        let t = String::from_utf8_lossy(v);
        let mut f = t.split(' ');
        let r = (|| {
            let generation = f.next()?.parse().ok()?;
            let len = f.next()?.parse().ok()?;
            let sum = u64::from_str_radix(f.next()?, 16).ok()?;
            f.next().is_none().then_some(ImageRef {
                generation,
                len,
                sum,
            })
        })();
        r.ok_or_else(|| LedgerError::Corrupt(format!("meta.states: {t:?}")))
    }

    /// The file's name in the ledger directory.
    pub fn file_name(self) -> String {
        file_name(self.generation)
    }
}

/// The name of generation `generation`'s image file.
pub fn file_name(generation: u64) -> String {
    format!("states.{generation}.img")
}

/// The generation an image file's name gives, if it is one (`states.GEN.img`).
///
/// Only the name `file_name` writes is recognised: decimal digits without a sign or a leading zero
/// (review B12 L5: `u64::from_str` also read `states.+1.img` and `states.01.img` as generation 1,
/// so such a file was kept as if it were the current image). Another name is not ours: left alone.
pub fn file_gen(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("states.")?.strip_suffix(".img")?;
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if !canonical {
        return None;
    }
    digits.parse().ok()
}

/// The image file's last bytes: magic, generation, records, bytes of records, radix bits.
const TRAILER: usize = 40;
const IMAGE_MAGIC: &[u8; 8] = b"LIQSTAT5";

/// Radix bits for `n` records: about 4 records a slot, 2^8 to 2^24 slots (as [`Images::seal`]).
fn radix_bits(n: usize) -> u32 {
    (usize::BITS - n.leading_zeros())
        .saturating_sub(2)
        .clamp(8, 24)
}

/// Writes a state image file from its records in key order: sequentially (`O_DIRECT` where the
/// filesystem takes it, in writes growing to 2 MiB, `liquidator_core::output::writeback::WriteBack::direct_large`: the next night
/// reads it from the disk anyway, and the copies into the page cache were the commit's CPU), the
/// radix table built as the records pass, then the trailer; made durable by [`ImageWriter::finish`].
pub struct ImageWriter {
    path: std::path::PathBuf,
    out: liquidator_core::output::writeback::WriteBack,
    hash: crate::xxh3::Hasher,
    bits: u32,
    radix: Vec<u64>,
    /// The first radix slot whose start is not set yet.
    next: usize,
    written: u64,
    records: u64,
    last: Option<u64>,
}

impl ImageWriter {
    /// A new image file at `path` (replacing whatever is there: a file left by a commit that did
    /// not complete), for at most about `bound` records (sizes the radix table).
    pub fn create(path: &std::path::Path, bound: usize) -> Result<ImageWriter, LedgerError> {
        let io = |e| LedgerError::Io(path.to_path_buf(), e);
        // `0640`, as the outputs and the store (`Ledger::open`): the states are keyed by the NIR.
        //
        // Truncating a leftover file of this name in place (`create_private` opens with
        // `O_TRUNC`) is safe, where truncating a mapped file would make its mapper fault (SIGBUS):
        // no one maps it. The commit writes generation `current + 1` (`Ledger::commit_night`), and
        // every map is of the generation `meta.states` names (`Images::map`: the reader's, the
        // commit's `old`), which is `current`. A file under the next generation's name is what a
        // commit that did not complete left — its transaction aborted, or its night rolled back to
        // the savepoint by `Ledger::open` before any reader of that process mapped anything — and
        // that `remove_stale_images` could not remove (a warning). Only the process holding the
        // ledger (redb's exclusive lock) writes or maps its images, so no other process maps it
        // either. Unlinking first would change nothing for a reader and could fail the same way
        // the open's removal did.
        let f = liquidator_core::output::files::create_private(path).map_err(io)?;
        let bits = radix_bits(bound);
        Ok(ImageWriter {
            path: path.to_path_buf(),
            out: liquidator_core::output::writeback::WriteBack::direct_large(f),
            hash: crate::xxh3::Hasher::new(),
            bits,
            radix: vec![0; (1usize << bits) + 1],
            next: 0,
            written: 0,
            records: 0,
            last: None,
        })
    }

    fn write(&mut self, b: &[u8]) -> Result<(), LedgerError> {
        use std::io::Write;
        self.hash.update(b);
        self.out
            .write_all(b)
            .map_err(|e| LedgerError::Io(self.path.clone(), e))
    }

    /// Appends whole records (`push`'s layout), keys above every key before.
    pub fn push(&mut self, recs: &[u8]) -> Result<(), LedgerError> {
        let shift = 64 - self.bits;
        // `at`: where the record read last starts.
        let mut at = 0;
        for r in Records::after(recs, self.last) {
            let (k, from, end) = r?;
            if end == from {
                // `Images::map` refuses it (an empty record is "no state before that night" in a
                // before-image only): refused here too, before a file the next night would refuse.
                return Err(LedgerError::Corrupt(format!(
                    "state image: an empty record (key {k:#018x}) is not a state"
                )));
            }
            self.last = Some(k);
            let p = (k >> shift) as usize;
            while self.next <= p {
                if let Some(r) = self.radix.get_mut(self.next) {
                    *r = self.written + at as u64;
                }
                self.next += 1;
            }
            self.records += 1;
            at = end;
        }
        self.write(recs)?;
        self.written += recs.len() as u64;
        Ok(())
    }

    /// The bits of its radix table ([`merge_for`] notes the slots of a part's records for it).
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Appends a part's records as [`merge_for`] made them, with the bits of this writer
    /// ([`ImageWriter::bits`]): what [`ImageWriter::push`] does, from the slots the merge noted
    /// instead of a second walk of the records; their first key must be above every key before.
    pub fn push_part(&mut self, recs: &[u8], index: &PartIndex) -> Result<(), LedgerError> {
        if let (Some(f), Some(l)) = (index.first, self.last)
            && f <= l
        {
            return Err(LedgerError::Corrupt(
                "state records: keys out of order".into(),
            ));
        }
        for &(p, at) in &index.slots {
            while self.next <= p {
                if let Some(r) = self.radix.get_mut(self.next) {
                    *r = self.written + at as u64;
                }
                self.next += 1;
            }
        }
        if index.last.is_some() {
            self.last = index.last;
        }
        self.records += index.records;
        self.write(recs)?;
        self.written += recs.len() as u64;
        Ok(())
    }

    /// Writes the radix table and the trailer, then `fsync`s the file and its directory: durable
    /// once it returns, to be named by `meta.states`.
    pub fn finish(mut self, generation: u64) -> Result<ImageRef, LedgerError> {
        let end = self.written;
        for r in self.radix.iter_mut().skip(self.next) {
            *r = end;
        }
        let pad = (8 - (end % 8) as usize) % 8;
        self.write(&[0u8; 8][..pad])?;
        let radix = std::mem::take(&mut self.radix);
        let mut buf = Vec::with_capacity(1 << 16);
        for chunk in radix.chunks(8192) {
            buf.clear();
            for r in chunk {
                buf.extend_from_slice(&r.to_le_bytes());
            }
            self.write(&buf)?;
        }
        let mut t = Vec::with_capacity(TRAILER);
        t.extend_from_slice(IMAGE_MAGIC);
        t.extend_from_slice(&generation.to_le_bytes());
        t.extend_from_slice(&self.records.to_le_bytes());
        t.extend_from_slice(&end.to_le_bytes());
        t.extend_from_slice(&self.bits.to_le_bytes());
        t.extend_from_slice(&0u32.to_le_bytes());
        self.write(&t)?;
        let io = |e| LedgerError::Io(self.path.clone(), e);
        self.out.finish().map_err(io)?;
        let len = end + pad as u64 + radix.len() as u64 * 8 + TRAILER as u64;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| LedgerError::Io(dir.to_path_buf(), e))?;
        }
        Ok(ImageRef {
            generation,
            len,
            sum: self.hash.digest(),
        })
    }
}

/// Asks for the image's pages to be mapped huge where the page cache holds them so, then makes the
/// page tables of the whole file at once (`MADV_POPULATE_READ`, what `MAP_POPULATE` did at the
/// map; WINDOWS19). The lookups read the image at random (≈ 4.3 M states of 10 M on a national
/// night): with 4 KiB pages each is a TLB miss whose page walk itself misses (≈ 87 000 page-table
/// entries for 341 MiB, ≈ 700 KiB of them), where 2 MiB mappings take 171. `MADV_HUGEPAGE` lets
/// the kernel map a 2 MiB page-cache folio with one entry, and read a file not in the cache
/// (an image the commit wrote with `O_DIRECT`) in 2 MiB folios. Advice: an error leaves the
/// mapping as it was (then populated by the faults of the first reads), with the same bytes.
fn huge_then_populate(map: &memmap2::Mmap) {
    let _ = map.advise(memmap2::Advice::HugePage);
    if map.advise(memmap2::Advice::PopulateRead).is_err() {
        // A kernel before 5.14: read-ahead of the whole file, the page tables made by the faults.
        let _ = map.advise(memmap2::Advice::WillNeed);
    }
}

impl Images {
    /// The image file `r` names, mapped read-only and checked: its length and xxh3 those `meta.states`
    /// recorded (else stale or corrupt), its trailer, its radix table (ascending, within the
    /// records) and its records (whole, keys ascending). Nothing is copied: the records and the
    /// radix table are read in place.
    pub fn map(path: &std::path::Path, r: ImageRef) -> Result<Images, LedgerError> {
        let bad = |what: String| {
            LedgerError::Corrupt(format!(
                "state image {}: {what} (formats/ledger.md, \"States: one image file per generation\")",
                path.display()
            ))
        };
        let f = std::fs::File::open(path).map_err(|e| LedgerError::Io(path.to_path_buf(), e))?;
        let len = f
            .metadata()
            .map_err(|e| LedgerError::Io(path.to_path_buf(), e))?
            .len();
        if len != r.len {
            return Err(bad(format!(
                "{len} bytes, the ledger's current generation {} has {}: stale or truncated",
                r.generation, r.len
            )));
        }
        // SAFETY: an image file is written once under a name of its own (its generation), made
        // durable before `meta.states` names it, and never modified in place; only the run that
        // holds the ledger (redb's lock) removes it, once a later generation is current.
        // Populated (`huge_then_populate`): the page tables of the whole file are made here, in
        // the reader's background thread, in one pass, instead of a fault at the first touch of
        // each range by the engine's lookups and read-ahead (`touch_group`) while it liquidates.
        #[allow(unsafe_code)] // see SAFETY above: mapping a file is unsafe by nature.
        let map = unsafe { memmap2::MmapOptions::new().map(&f) }
            .map_err(|e| LedgerError::Io(path.to_path_buf(), e))?;
        huge_then_populate(&map);
        if crate::xxh3::xxh3_64(&map) != r.sum {
            return Err(bad("checksum mismatch".into()));
        }
        let n = map.len();
        let t = map
            .get(n.saturating_sub(TRAILER)..)
            .filter(|t| t.len() == TRAILER)
            .ok_or_else(|| bad("shorter than its trailer".into()))?;
        let u64at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&t[i..i + 8]);
            u64::from_le_bytes(a)
        };
        let bits = u32::from_le_bytes([t[32], t[33], t[34], t[35]]);
        let (generation, records, bytes) = (u64at(8), u64at(16), u64at(24));
        if &t[..8] != IMAGE_MAGIC || generation != r.generation || !(8..=24).contains(&bits) {
            return Err(bad("not the image of its generation".into()));
        }
        let slots = (1usize << bits) + 1;
        let radix = usize::try_from(bytes.div_ceil(8) * 8).unwrap_or(usize::MAX);
        if radix.checked_add(slots * 8 + TRAILER) != Some(n) {
            return Err(bad("sizes that do not add up".into()));
        }
        let mut im = Images {
            map: Some(Mapped {
                map,
                records: bytes as usize,
                radix,
                slots,
            }),
            bits,
            ..Images::default()
        };
        // Checked once, here (in the reader's background thread): every lookup then trusts it.
        // The radix table is checked entry by entry against the one the records give (what
        // `ImageWriter::push` and `Images::seal` build: entry p is where the first record whose
        // key's top `bits` bits are p or more starts), not only for order: a table whose entries
        // all point past the records is in order, and every lookup would then answer "no state"
        // (REVIEW22 H2). One pass over the records and one over the table, as before.
        let shift = 64 - bits;
        let (mut at, mut count, mut last) = (0usize, 0u64, None);
        // `next`: the first radix entry not checked yet.
        let mut next = 0usize;
        let arena = im.arena();
        while at < arena.len() {
            let (k, from, end) = decode(arena, at).ok_or_else(|| bad("torn record".into()))?;
            if last.is_some_and(|l| l >= k) {
                return Err(bad("keys out of order".into()));
            }
            // An empty record means "no state before that night" in a before-image only; the
            // current image holds the states that exist, and no state packs to nothing
            // (`states::packed`). Taken as "no state", it would reset a beneficiary's caps and
            // drop its debts without a word (REVIEW22 H1).
            if end == from {
                return Err(bad(format!("an empty record (key {k:#018x})")));
            }
            let p = (k >> shift) as usize;
            while next <= p {
                if im.radix_at(next) != Some(at as u64) {
                    return Err(bad(format!(
                        "radix entry {next} does not point at its records"
                    )));
                }
                next += 1;
            }
            last = Some(k);
            count += 1;
            at = end;
        }
        while next < slots {
            if im.radix_at(next) != Some(bytes) {
                return Err(bad(format!(
                    "radix entry {next} does not point past the records"
                )));
            }
            next += 1;
        }
        if count != records {
            return Err(bad(format!("{count} records, its trailer says {records}")));
        }
        im.len = count as usize;
        im.last = last;
        Ok(im)
    }
}

/// What merging a part of the stored states with the night's states gives.
pub struct Merged {
    /// The part's new records, if any record changed.
    pub value: Option<Vec<u8>>,
    /// The records (key, bytes before — empty: none) of each state that changed, in key order.
    pub before: Vec<u8>,
    /// Records the value gained (states new to the ledger).
    pub added: usize,
    /// Where the part's records fall in the image's radix table ([`ImageWriter::push_part`]).
    pub index: PartIndex,
}

/// What [`ImageWriter::push_part`] needs of a part's records, noted by [`merge_for`] as it walks
/// them: their count, their first and last keys, and where in the part's bytes the records of
/// each radix slot they reach begin (slot, offset of its first record).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PartIndex {
    pub records: u64,
    pub slots: Vec<(usize, usize)>,
    pub first: Option<u64>,
    pub last: Option<u64>,
}

impl PartIndex {
    /// A record of key `k` at `off` of the part's bytes, after every record noted before.
    #[inline]
    fn note(&mut self, shift: u32, k: u64, off: usize) {
        let p = (k >> shift) as usize;
        if self.slots.last().is_none_or(|s| s.0 != p) {
            self.slots.push((p, off));
        }
        self.records += 1;
        self.first.get_or_insert(k);
        self.last = Some(k);
    }
}

/// Merges a part's stored records with the night's new states of that part (sorted, one per
/// key): a state whose bytes equal the stored ones is no change.
///
/// The stored records are read one at a time (each checked as [`parse`] checks them: whole, keys
/// ascending) and those the night does not touch — most of them: a national night touches ≈ 4.3 M
/// of 10 M states — are copied as runs, one copy from the first untouched record to the next
/// touched one, not record by record. Until LEDGER20 the part was first parsed into a vector of
/// (key, offset, length) and every record pushed again (key, varint length, bytes).
pub fn merge(old: &[u8], new: &[(u64, &[u8])]) -> Result<Merged, LedgerError> {
    merge_for(old, new, 8)
}

/// [`merge`], noting where its records fall in a radix table of `bits` bits (the image writer's,
/// [`ImageWriter::bits`]) as it walks them ([`Merged::index`]), so that the writer does not walk the
/// part's records again ([`ImageWriter::push_part`]; LEDGER22: the writer's walk, `Records::next`
/// 6.6 M of the 341 M instructions the ledger added to a 100 k night 2, callgrind). The night's
/// keys must rise (an error otherwise: the writer checked it when it walked the records).
pub fn merge_for(old: &[u8], new: &[(u64, &[u8])], bits: u32) -> Result<Merged, LedgerError> {
    let shift = 64 - bits.clamp(1, 64);
    let mut index = PartIndex::default();
    let mut last_new: Option<u64> = None;
    let mut out = Vec::with_capacity(old.len() + new.iter().map(|n| n.1.len() + 12).sum::<usize>());
    let mut before = Vec::new();
    let mut added = 0;
    // `cur`: the stored record (key, bytes from, end) read last, not yet passed; `at`: where the
    // records not yet passed start; `run`: where those not yet copied start.
    let (mut at, mut run) = (0, 0);
    let mut recs = Records::new(old);
    let mut cur = recs.next().transpose()?;
    for &(nk, nb) in new {
        if last_new.is_some_and(|l| l >= nk) {
            return Err(LedgerError::Corrupt(
                "the night's states: keys out of order".into(),
            ));
        }
        last_new = Some(nk);
        if nb.is_empty() {
            // What `ImageWriter::push` refuses, refused where `push_part`'s records are made: an
            // empty record in the current image reads as corrupt (`Images::map`; REVIEW22 H1).
            return Err(LedgerError::Corrupt(format!(
                "the night's states: an empty record (key {nk:#018x}) is not a state"
            )));
        }
        // The stored records below the night's key stay as they are: part of the run (each
        // starts at `at`, and will be at `out.len() + at - run` once the run is copied).
        while let Some((k, _, end)) = cur
            && k < nk
        {
            index.note(shift, k, out.len() + at - run);
            at = end;
            cur = recs.next().transpose()?;
        }
        out.extend_from_slice(&old[run..at]);
        index.note(shift, nk, out.len());
        match cur {
            Some((k, from, end)) if k == nk => {
                let was = &old[from..end];
                if was != nb {
                    push(&mut before, k, was);
                }
                push(&mut out, k, nb);
                at = end;
                cur = recs.next().transpose()?;
            }
            _ => {
                added += 1;
                push(&mut before, nk, &[]);
                push(&mut out, nk, nb);
            }
        }
        run = at;
    }
    // The rest of the stored records, checked, then copied as one run.
    while let Some((k, _, end)) = cur {
        index.note(shift, k, out.len() + at - run);
        at = end;
        cur = recs.next().transpose()?;
    }
    out.extend_from_slice(&old[run..at]);
    // Unchanged, the part's bytes are the stored ones: the offsets noted hold for them too.
    Ok(Merged {
        value: (!before.is_empty()).then_some(out),
        before,
        added,
        index,
    })
}

#[cfg(test)]
mod tests {
    /// Bytes of `len` as a varint (`parse` accepts the shortest encoding only, so this is where a
    /// record's bytes start after its length).
    fn varint_len(len: usize) -> usize {
        1 + (usize::BITS - len.leading_zeros()).saturating_sub(1) as usize / 7
    }

    /// REVIEW22 H1: an empty record is "no state before that night" in a before-image only; the
    /// writer of the current image refuses one (and `Images::map` refuses an image holding one:
    /// tests/it/ledger.rs), before a file the next night would refuse.
    #[test]
    fn the_image_writer_refuses_an_empty_record() {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = super::ImageWriter::create(&tmp.path().join(super::file_name(1)), 2).unwrap();
        let mut rec = Vec::new();
        super::push(&mut rec, 5, b"state");
        w.push(&rec).unwrap();
        rec.clear();
        super::push(&mut rec, 9, &[]);
        assert!(matches!(
            w.push(&rec),
            Err(crate::LedgerError::Corrupt(m)) if m.contains("empty record")
        ));
    }

    #[test]
    fn only_the_image_names_written_are_read_as_generations() {
        for g in [0u64, 1, 9, 10, 12345, u64::MAX] {
            assert_eq!(file_gen(&file_name(g)), Some(g));
        }
        for n in [
            "states.+1.img",
            "states.01.img",
            "states.00.img",
            "states..img",
            "states.-1.img",
            "states.1a.img",
            "states.1.img.tmp",
            "ledger.redb",
        ] {
            assert_eq!(file_gen(n), None, "{n}");
        }
    }
    use super::*;
    use std::collections::BTreeMap;

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

    /// The merge that copies untouched stored records as runs gives what a merge record by record
    /// gives (the one before LEDGER20, written again here from its definition): every record of
    /// either side once, in key order, the night's where both have one; a before-image for each
    /// changed or new state; no value when nothing changed. And it refuses what `parse` refuses.
    #[test]
    fn a_merge_by_runs_gives_what_a_merge_record_by_record_gives() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for case in 0..2_000 {
            let mut olds: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
            let mut news: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
            let span = 1 + rnd(200);
            for _ in 0..rnd(60) {
                olds.insert(rnd(span), vec![rnd(3) as u8; 1 + rnd(139) as usize]);
            }
            for _ in 0..rnd(30) {
                let k = rnd(span);
                let v = match (rnd(2), olds.get(&k)) {
                    (0, Some(v)) => v.clone(),
                    _ => vec![rnd(3) as u8; 1 + rnd(139) as usize],
                };
                news.insert(k, v);
            }
            let old = value(
                &olds
                    .iter()
                    .map(|(k, v)| (*k, v.as_slice()))
                    .collect::<Vec<_>>(),
            );
            let new: Vec<(u64, &[u8])> = news.iter().map(|(k, v)| (*k, v.as_slice())).collect();
            let m = merge(&old, &new).unwrap();
            let mut all = olds.clone();
            let mut before = Vec::new();
            for (k, v) in &news {
                match olds.get(k) {
                    Some(w) if w == v => {}
                    Some(w) => before.push((*k, w.as_slice())),
                    None => before.push((*k, &[][..])),
                }
                all.insert(*k, v.clone());
            }
            let want = value(
                &all.iter()
                    .map(|(k, v)| (*k, v.as_slice()))
                    .collect::<Vec<_>>(),
            );
            assert_eq!(m.before, value(&before), "case {case}");
            assert_eq!(m.value, (!before.is_empty()).then_some(want), "case {case}");
            assert_eq!(
                m.added,
                news.keys().filter(|k| !olds.contains_key(k)).count()
            );
            // cut short inside its second half, or its first record moved to the end: refused
            // as `parse` refuses it
            if olds.len() >= 2 {
                let cut = &old[..old.len() - 1 - rnd(old.len() as u64 / 2) as usize];
                assert_eq!(
                    merge(cut, &new).is_err(),
                    parse(cut).is_err(),
                    "case {case}"
                );
                let recs = parse(&old).unwrap();
                let first = recs[0].1 + recs[0].2;
                let mut swapped = old[first..].to_vec();
                swapped.extend_from_slice(&old[..first]);
                assert!(parse(&swapped).is_err());
                assert!(merge(&swapped, &new).is_err(), "case {case}");
            }
        }
    }

    /// LEDGER25: the image is written in `O_DIRECT` writes of up to 2 MiB (`WriteBack::direct_large`:
    /// its buffer doubles from 256 KiB as it is written out full), not 256 KiB: an image of
    /// ≈ 9 MiB — past every size of that buffer, its last block not a whole one — is every record
    /// pushed, in order, at the length and checksum its `ImageRef` gives (what `Images::map` checks
    /// before reading it), its bytes those of the records, the radix table and the trailer.
    #[test]
    fn an_image_past_the_largest_direct_write_reads_back_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(file_name(3));
        let n = 90_001u64;
        let mut w = ImageWriter::create(&path, n as usize).unwrap();
        let mut recs = Vec::new();
        let mut all = Vec::new();
        for i in 0..n {
            let v = vec![(i % 251) as u8; 1 + (i % 199) as usize];
            push(&mut recs, i * (u64::MAX / n), &v);
            if recs.len() > 100_000 {
                w.push(&recs).unwrap();
                all.extend_from_slice(&recs);
                recs.clear();
            }
        }
        w.push(&recs).unwrap();
        all.extend_from_slice(&recs);
        // Where the filesystem takes `O_DIRECT` (ext4 here, and tmpfs since Linux 6.6), the
        // buffer has grown to its largest: the writes were of 2 MiB (with `WriteBack::direct`,
        // 256 KiB, every byte would still read back).
        if w.out.is_direct() {
            assert_eq!(
                w.out.buffer_bytes(),
                liquidator_core::output::writeback::LARGE_DIRECT_BYTES
            );
        }
        let r = w.finish(3).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() > 4 * (2 << 20) && bytes.len() % 4096 != 0);
        assert_eq!(bytes.len() as u64, r.len);
        assert_eq!(crate::xxh3::xxh3_64(&bytes), r.sum);
        assert_eq!(&bytes[..all.len()], all.as_slice());
        let im = Images::map(&path, r).unwrap();
        assert_eq!(im.len(), n as usize);
        for i in (0..n).step_by(997) {
            let v = vec![(i % 251) as u8; 1 + (i % 199) as usize];
            assert_eq!(im.get(i * (u64::MAX / n)), Some(v.as_slice()), "{i}");
        }
    }

    /// The image a writer makes from merged parts with the slots the merge noted
    /// (`push_part`) is byte for byte the one it makes walking each part's records (`push`): keys
    /// spread over the radix table, parts changed or not, empty, or holding a slot's only record.
    #[test]
    fn parts_pushed_with_the_merges_slots_give_the_image_a_walk_of_their_records_gives() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let tmp = tempfile::tempdir().unwrap();
        for case in 0..300 {
            let bound = 1 + rnd(5_000) as usize;
            let (mut a, mut b) = (
                ImageWriter::create(&tmp.path().join("a"), bound).unwrap(),
                ImageWriter::create(&tmp.path().join("b"), bound).unwrap(),
            );
            let bits = a.bits();
            // parts of the key space in order, each its stored records and the night's
            let parts = 1 + rnd(12);
            for part in 0..parts {
                let (lo, width) = (u64::MAX / parts * part, u64::MAX / parts);
                let mut olds: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
                let mut news: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
                let narrow = rnd(3) == 0; // every key in a few slots
                let key = |r: u64| lo + if narrow { r % 50 } else { r % width };
                for _ in 0..rnd(80) {
                    olds.insert(
                        key(rnd(u64::MAX)),
                        vec![rnd(3) as u8; 1 + rnd(139) as usize],
                    );
                }
                for _ in 0..rnd(40) {
                    let k = if rnd(2) == 0 && !olds.is_empty() {
                        *olds.keys().nth(rnd(olds.len() as u64) as usize).unwrap()
                    } else {
                        key(rnd(u64::MAX))
                    };
                    let v = match (rnd(2), olds.get(&k)) {
                        (0, Some(v)) => v.clone(),
                        _ => vec![rnd(3) as u8; 1 + rnd(139) as usize],
                    };
                    news.insert(k, v);
                }
                let old = value(
                    &olds
                        .iter()
                        .map(|(k, v)| (*k, v.as_slice()))
                        .collect::<Vec<_>>(),
                );
                let new: Vec<(u64, &[u8])> = news.iter().map(|(k, v)| (*k, v.as_slice())).collect();
                let m = merge_for(&old, &new, bits).unwrap();
                let recs = m.value.as_deref().unwrap_or(&old);
                a.push(recs).unwrap();
                b.push_part(recs, &m.index).unwrap();
                assert_eq!(
                    m.index.records as usize,
                    parse(recs).unwrap().len(),
                    "case {case}"
                );
            }
            let (ra, rb) = (a.finish(1).unwrap(), b.finish(1).unwrap());
            assert_eq!(ra, rb, "case {case}");
            assert_eq!(
                std::fs::read(tmp.path().join("a")).unwrap(),
                std::fs::read(tmp.path().join("b")).unwrap(),
                "case {case}"
            );
        }
        // the night's keys must rise, and a part must follow the one before
        let one = value(&[(5, &b"x"[..])]);
        // no empty state goes into the current image by this path either (REVIEW22 H1)
        assert!(merge_for(&one, &[(9, &b""[..])], 8).is_err());
        assert!(merge_for(&[], &[(7, &b"a"[..]), (7, &b"b"[..])], 8).is_err());
        assert!(merge_for(&one, &[(9, &b"a"[..]), (6, &b"b"[..])], 8).is_err());
        let mut w = ImageWriter::create(&tmp.path().join("c"), 10).unwrap();
        let m = merge_for(&one, &[], w.bits()).unwrap();
        w.push_part(&one, &m.index).unwrap();
        assert!(w.push_part(&one, &m.index).is_err());
    }

    /// `parse` and the arena's reader are one decoder: a record whose length is not in its shortest
    /// encoding (written by no `push`) is torn for each of them, not only for `parse`, and each
    /// reads the same keys and bounds of a good value.
    #[test]
    fn every_reader_of_records_refuses_a_length_not_in_its_shortest_encoding() {
        let good = value(&[(1, b"a"), (9, &[5u8; 300])]);
        let recs = parse(&good).unwrap();
        let mut at = 0;
        for &(k, from, len) in &recs {
            assert_eq!(arena_record(&good, at), Some((k, from, from + len)));
            at = from + len;
        }
        // key 7, length 1 written on two bytes (0x81 0x00), then its byte
        let mut long = 7u64.to_le_bytes().to_vec();
        long.extend_from_slice(&[0x81, 0x00, b'x']);
        assert!(parse(&long).is_err());
        assert_eq!(arena_record(&long, 0), None);
    }

    /// Records whose lengths sit at the varint's boundaries (0, 127 | 128, 16 383 | 16 384: one,
    /// two and three bytes of length) under keys at both ends of the key range (the radix table's
    /// first and last slots), as one stored value and as one value a record, and a ledger of one
    /// record and of none: every reader — `parse`, `decode`, the arena's `get` and `iter` — reads
    /// each back whole, and `varint_len` says where its bytes start.
    #[test]
    fn records_at_the_varint_boundaries_are_read_back_whole_by_every_reader() {
        let lens = [0usize, 1, 127, 128, 129, 16_383, 16_384, 16_385];
        let payloads: Vec<Vec<u8>> = lens
            .iter()
            .map(|&n| (0..n).map(|i| (i * 31 + n) as u8).collect())
            .collect();
        let keys = [
            0u64,
            1,
            2,
            u64::MAX / 2,
            u64::MAX - 3,
            u64::MAX - 2,
            u64::MAX - 1,
            u64::MAX,
        ];
        let recs: Vec<(u64, &[u8])> = keys
            .iter()
            .zip(&payloads)
            .map(|(&k, p)| (k, p.as_slice()))
            .collect();
        let whole = value(&recs);
        let parsed = parse(&whole).unwrap();
        let mut at = 0;
        for (&(k, p), &(pk, from, len)) in recs.iter().zip(&parsed) {
            assert_eq!((pk, len), (k, p.len()));
            assert_eq!(from, at + 8 + varint_len(p.len()), "length {}", p.len());
            assert_eq!(decode(&whole, at), Some((k, from, from + len)));
            at = from + len;
        }
        assert_eq!(at, whole.len());
        for one_value in [true, false] {
            let mut im = Images::default();
            if one_value {
                im.add(&whole).unwrap();
            } else {
                for r in &recs {
                    im.add(&value(&[*r])).unwrap();
                }
            }
            let im = im.seal().unwrap();
            assert_eq!(im.len(), recs.len());
            for &(k, p) in &recs {
                assert_eq!(im.get(k), Some(p), "key {k:x}, length {}", p.len());
            }
            for absent in [3u64, u64::MAX / 2 + 1, u64::MAX - 4] {
                assert_eq!(im.get(absent), None);
            }
            assert!(im.iter().eq(recs.iter().copied()));
        }
        // One record, at either end of the key range; none.
        for &(k, p) in [recs[0], recs[recs.len() - 1], recs[6]].iter() {
            let mut im = Images::default();
            im.add(&value(&[(k, p)])).unwrap();
            let im = im.seal().unwrap();
            assert_eq!((im.get(k), im.len()), (Some(p), 1));
            assert_eq!(im.get(k ^ 1), None);
            assert!(im.iter().eq([(k, p)]));
        }
        let mut im = Images::default();
        im.add(&[]).unwrap();
        let im = im.seal().unwrap();
        assert_eq!((im.get(0), im.get(u64::MAX), im.len()), (None, None, 0));
        assert_eq!(im.iter().count(), 0);
    }

    #[test]
    fn decode_reads_each_record_of_a_value_and_refuses_a_torn_one() {
        let v = value(&[(1, b"a"), (9, &[5u8; 300]), (12, b"")]);
        let mut at = 0;
        let mut keys = Vec::new();
        while at < v.len() {
            let (k, _, end) = decode(&v, at).unwrap();
            keys.push(k);
            at = end;
        }
        assert_eq!(keys, [1, 9, 12]);
        assert!(decode(&v[..v.len() - 1], 320).is_none());
        assert!(decode(&v[..v.len() - 1], 10).is_some());
        assert!(decode(&v, v.len()).is_none());
    }

    /// `seal` meets no torn record (`add` parses every value whole); an arena that held one anyway
    /// is refused as corrupt, not sealed with the records after it left out of the radix table —
    /// which would answer "no state" for beneficiaries that have one.
    #[test]
    fn seal_refuses_an_arena_with_a_torn_record_rather_than_drop_the_records_after_it() {
        let v = value(&[(1, b"a"), (9, &[5u8; 300]), (12, b"")]);
        let mut im = Images::default();
        im.add(&v).unwrap();
        assert!(im.seal().is_ok());
        let mut im = Images::default();
        im.add(&v).unwrap();
        // the second record (at byte 10: key, then 300 as 0xac 0x02) given a length past the
        // arena's end, 0xac 0x7f (not through `add`, which would refuse it)
        im.arena[10 + 8 + 1] = 0x7f;
        let Err(LedgerError::Corrupt(e)) = im.seal() else {
            panic!("a torn arena sealed");
        };
        assert!(e.contains("torn record at byte 10"), "{e}");
    }

    #[test]
    fn long_records_keep_their_varint_length_and_a_padded_length_is_refused() {
        let big = vec![7u8; 200];
        let huge = vec![9u8; 20_000];
        let v = value(&[(1, b""), (2, &big), (3, &huge), (4, b"x")]);
        let mut im = Images::default();
        im.add(&v).unwrap();
        let im = im.seal().unwrap();
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
    fn a_touch_reads_the_length_of_its_slots_first_record_and_answers_nothing_else() {
        assert_eq!(Images::default().seal().unwrap().touch(1), 0);
        assert_eq!(Images::default().touch(1), 0);
        let mut im = Images::default();
        im.add(&value(&[(1, b"a"), (u64::MAX / 2, b""), (u64::MAX, b"zz")]))
            .unwrap();
        let im = im.seal().unwrap();
        // Each key is alone in its slot, so the slot's first record is its own; the byte after
        // the key is its length (a varint): 1 for "a", 2 for "zz", 0 for "".
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
    fn a_group_touch_reads_each_keys_slot_and_changes_no_answer() {
        assert_eq!(Images::default().seal().unwrap().touch_group(&[1, 2]), 0);
        assert_eq!(Images::default().touch_group(&[1, 2]), 0);
        // a prefetch before the radix table exists (or of keys past it) reads nothing
        Images::default().prefetch_slots(&[1, u64::MAX]);
        Images::default()
            .seal()
            .unwrap()
            .prefetch_slots(&[1, u64::MAX]);
        // Records of lengths 0..=200 under keys spread over the range, crowded in a few slots
        // (more lines than a touch prefetches), and at both ends.
        let mut keys: Vec<u64> = (0..3_000u64)
            .map(crate::segments::mix)
            .chain(0..40)
            .chain(u64::MAX - 40..=u64::MAX)
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let payloads: Vec<Vec<u8>> = (0..keys.len()).map(|i| vec![7u8; i % 201]).collect();
        let recs: Vec<(u64, &[u8])> = keys
            .iter()
            .zip(&payloads)
            .map(|(&k, p)| (k, p.as_slice()))
            .collect();
        let mut im = Images::default();
        for part in recs.chunks(700) {
            im.add(&value(part)).unwrap();
        }
        let im = im.seal().unwrap();
        // The start of a key's slot: where `get` begins to read.
        let start = |k: u64| im.slot(k).unwrap().0;
        // Stored keys and absent ones, in groups of every size up to GROUP.
        let asked: Vec<u64> = keys
            .iter()
            .flat_map(|&k| [k, k ^ 1, k.wrapping_add(1 << 40)])
            .collect();
        let mut at = 0;
        for n in (1..=crate::segments::GROUP).cycle() {
            let Some(g) = asked.get(at..at + n) else {
                break;
            };
            // the engine prefetches a group's radix entries one group before its touch
            im.prefetch_slots(g);
            assert_eq!(
                im.touch_group(g),
                g.iter().map(|&k| start(k)).fold(0, usize::wrapping_add)
            );
            at += n;
        }
        for (&k, p) in keys.iter().zip(&payloads) {
            assert_eq!(im.get(k), Some(p.as_slice()));
        }
        // More keys than a group: the first GROUP are read ahead, the rest ignored.
        let many: Vec<u64> = keys
            .iter()
            .copied()
            .take(crate::segments::GROUP + 5)
            .collect();
        assert_eq!(
            im.touch_group(&many),
            many[..crate::segments::GROUP]
                .iter()
                .map(|&k| start(k))
                .fold(0, usize::wrapping_add)
        );
    }

    #[test]
    fn every_record_is_found_by_reading_its_slot_and_absent_keys_are_not_in_crowded_or_empty_slots()
    {
        // Keys uniform, crowded under a few top bits (many records a slot), and at both ends;
        // records of 0 to 300 bytes (one- and two-byte lengths), added as values of 1 to 500.
        let mut keys: Vec<u64> = (0..20_000u64)
            .map(crate::segments::mix)
            .chain((0..3_000u64).map(|i| 0x7700_0000_0000_0000 | (i * 977)))
            .chain(0..50)
            .chain(u64::MAX - 50..=u64::MAX)
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let payloads: Vec<Vec<u8>> = (0..keys.len())
            .map(|i| vec![(i % 251) as u8; (i * 7) % 301])
            .collect();
        let want: std::collections::BTreeMap<u64, &[u8]> = keys
            .iter()
            .zip(&payloads)
            .map(|(&k, p)| (k, p.as_slice()))
            .collect();
        let recs: Vec<(u64, &[u8])> = want.iter().map(|(&k, &v)| (k, v)).collect();
        let mut im = Images::default();
        let mut at = 0;
        for n in (1..=500).cycle() {
            let Some(part) = recs
                .get(at..(at + n).min(recs.len()))
                .filter(|p| !p.is_empty())
            else {
                break;
            };
            im.add(&value(part)).unwrap();
            at += part.len();
        }
        // Not sealed: nothing found.
        assert_eq!(im.get(keys[0]), None);
        let im = im.seal().unwrap();
        assert_eq!(im.len(), want.len());
        for (&k, &v) in &want {
            assert_eq!(im.get(k), Some(v), "{k:x}");
            for absent in [k.wrapping_add(1), k.wrapping_sub(1), k ^ (1 << 40)] {
                assert_eq!(im.get(absent), want.get(&absent).copied(), "{absent:x}");
            }
        }
        assert!(im.iter().eq(want.iter().map(|(&k, &v)| (k, v))));
        // Empty, sealed: nothing found, nothing read.
        let empty = Images::default().seal().unwrap();
        assert_eq!(
            (empty.get(0), empty.get(u64::MAX), empty.len()),
            (None, None, 0)
        );
        assert_eq!(empty.iter().count(), 0);
    }

    #[test]
    fn images_find_every_record_across_values_and_refuse_torn_or_unordered_ones() {
        let mut im = Images::default();
        im.add(&value(&[(1, b"a"), (u64::MAX / 2, b"")])).unwrap();
        im.add(&value(&[(u64::MAX - 1, b"zz")])).unwrap();
        let im = im.seal().unwrap();
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
