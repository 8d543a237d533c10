//! The claims already read in a batch, to flag duplicate transmissions (`R030`): the keys of
//! (practitioner, claim number) ([`crate::carry::claim_key`]) as sorted, compressed runs, checked a
//! window at a time by sorting the window's keys ([`radix_sort`]) and walking them against the runs
//! (issue #13) — only the keys that a filter of every key held ([`Filter`]) does not rule out: most
//! keys of a window are new, and the filter tells them in one cache miss where the walk took one a
//! compressed run.
//!
//! Why not a hash set: a set of 5.6 M keys (a national night) took 72 MiB (8 M buckets of 9 bytes)
//! and, while it doubled, the old and new tables at once. Sorted, neighbouring keys are close: a
//! run keeps its keys by groups of [`GROUP`], the group's first key in a directory (with where the
//! group's bytes start) and the others as the difference to the key before, all of a group's
//! differences in the same number of bytes (a width byte, then each difference little-endian in that
//! many bytes: read by one 8-byte load and a mask, written by one 8-byte store, no byte loop — a
//! merge decodes and encodes every key it moves, issue #13) — on the generated days ≈ 3 bytes a key
//! plus 1 of directory, against 8 for a plain `u64` (what
//! a duplicate is: `formats/claims-b2.md`, the claim number, `R030`). The bytes are held in chunks
//! of [`CHUNK`] bytes, so that a merge reads the old runs' chunks front to back and frees each once
//! read: it never holds two copies of the keys (only of their directories, 1 byte a key). What
//! is read is compared in order: no random probe per claim.
//!
//! Runs of at most [`PLAIN`] keys are kept plain (sorted `u64`s, no directory): they are the
//! newest, merged most often, and compressing them only to decode them at the next merge cost more
//! the smaller the window.
//!
//! Runs as a binary counter of windows: each window's new keys become a run of one window; the two
//! newest runs are merged while they hold as many windows each ([`ClaimsSeen::settle`]: the engine
//! merges beside the window's shards, off its serial bookkeeping, since no claim of the window needs
//! the merged runs; the next window's check settles first if nobody did). Runs therefore hold
//! distinct powers of two of windows, halving from the oldest to the newest: at most log₂ w + 1
//! runs for w windows, and a key is moved once each time its run doubles — log₂ w times at most,
//! whatever the window size (a design with one run for new keys made a window of a few claims move
//! that whole run: quadratic at `--window-kib 64`). The design before merged the newest run into
//! the one below while that one was not 8 times larger — fewer runs (log₈), but the largest run was
//! written again each time the ones above it reached an eighth of it: ≈ 13 moves a key on the
//! national day's 330 windows against ≈ 7.4 (a simulation of both rules on windows of 17 000
//! keys). More runs cost the check little: only the keys the filter lets through are looked for
//! in them. A window's check walks its sorted keys forward
//! through every run's directory, galloping, then reads on in the one group that may hold the key
//! (a run's differences are read at most once a window).
//!
//! Architecture invariant: the first claim of a key in file order is not a duplicate, every later
//! one is — the same answer as a set filled in file order, for any window size and thread count.

/// Keys of a group: the first in the run's directory, the others as differences. A lookup in a
/// group not read yet in the window reads half of it on average; the directory costs 16 bytes a
/// group (1 byte a key).
const GROUP: usize = 16;
/// Bytes of a chunk of groups (a group never straddles two chunks).
const CHUNK: usize = 64 << 10;
/// The most bytes a group takes: its width byte and its differences at 8 bytes, and the 7 bytes an
/// 8-byte store of the last difference writes past it before the chunk is cut back.
const GROUP_MAX_BYTES: usize = 1 + (GROUP - 1) * 8 + 7;
/// Runs of at most this many keys are kept plain (sorted `u64`s, at most 512 KiB; those below the
/// first compressed run hold about 1/7 more at most): the newest runs are merged most often, and
/// compressing a window's keys to decode them at its next merge made the check cost more as the
/// windows got smaller (+800 M instructions on the 1 M-claim day at 8 MiB windows against 32 MiB).
/// With it, keys are compressed once their run outgrows this, whatever the window size.
const PLAIN: usize = 1 << 16;

/// Sorted keys of the claims read so far, one entry each.
#[derive(Default)]
pub(crate) struct ClaimsSeen {
    /// Sorted runs, oldest (largest) first; no key in two runs.
    runs: Vec<Run>,
    /// Each run's reading position during a window's check.
    pos: Vec<Cursor>,
    /// The window's (key, position in the window), sorted; reused from window to window.
    window: Vec<(u64, u32)>,
    /// The window's keys not seen before, sorted, one each.
    fresh: Vec<u64>,
    /// Each run's group reached by the read-ahead of the window's check ([`Run::touch`]).
    ahead: Vec<usize>,
    /// The radix sort's second buffer for `window` ([`radix_sort`]); reused from window to window.
    spare: Vec<(u64, u32)>,
    /// Every key the runs hold, as a filter: a key it rules out is not held and is looked for in
    /// no run ([`Filter`]).
    filter: Filter,
    /// Where the window's keys the filter lets through start in `window`, in order; reused.
    cand: Vec<u32>,
}

/// Bits of [`Filter`] a key: 4 bits of one 64-bit word set a key, ≈ 1 % of the keys not held let
/// through (the word holds the bits of ≈ 5 keys: ≈ 28 % of its bits set, 0.28⁴).
const FILTER_BITS: usize = 12;
/// The fewest keys a filter is sized for.
const FILTER_MIN: usize = 1 << 16;

/// A filter of the keys held (a Bloom filter whose bits of a key are all in one word): a key whose
/// 4 bits are not all set is not held. It never rules out a key held, so an answer of the check
/// does not depend on it, only its cost: on a national day the check's walk through the
/// compressed runs cost a cache miss a key and a run (the runs' groups and directories, ≈ 20 MiB),
/// where the filter costs one (issue #13). Empty (no word) it lets every key through.
#[derive(Default)]
struct Filter {
    words: Vec<u64>,
    /// Keys it is sized for: past them, [`ClaimsSeen::settle`] builds it again, twice as large.
    capacity: usize,
}

impl Filter {
    fn with_capacity(keys: usize) -> Filter {
        Filter {
            words: vec![0; (keys * FILTER_BITS).div_ceil(64).max(1)],
            capacity: keys,
        }
    }

    /// The word of `key` and its 4 bits in it: from a mix of every bit of the key (splitmix64's
    /// finaliser), the word from the high bits (a multiply-high onto the length), the bits from the
    /// low 24.
    #[inline(always)]
    fn place(&self, key: u64) -> (usize, u64) {
        let mut z = key;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let w = ((z as u128 * self.words.len() as u128) >> 64) as usize;
        let m = 1u64 << (z & 63) | 1 << (z >> 6 & 63) | 1 << (z >> 12 & 63) | 1 << (z >> 18 & 63);
        (w, m)
    }

    /// Whether `key` may be held (`false`: it is not). The check asks and inserts at once
    /// ([`Filter::may_hold_then_insert`]); the tests ask only.
    #[cfg(test)]
    fn may_hold(&self, key: u64) -> bool {
        let (w, m) = self.place(key);
        self.words.get(w).is_none_or(|&x| x & m == m)
    }

    /// [`Filter::may_hold`], then `key` inserted: one load and one store of the same word (a
    /// second pass inserting the window's new keys missed the cache again: 15 % of the check's
    /// samples on the national day). Inserting a key before the window's other keys are asked
    /// only lets more of them through, never fewer.
    #[inline(always)]
    fn may_hold_then_insert(&mut self, key: u64) -> bool {
        let (w, m) = self.place(key);
        match self.words.get_mut(w) {
            Some(x) => {
                let held = *x & m == m;
                *x |= m;
                held
            }
            None => true,
        }
    }

    #[inline(always)]
    fn insert(&mut self, key: u64) {
        let (w, m) = self.place(key);
        if let Some(x) = self.words.get_mut(w) {
            *x |= m;
        }
    }

    fn bytes(&self) -> usize {
        self.words.capacity() * std::mem::size_of::<u64>()
    }
}

/// A sorted run of distinct keys, compressed (see the module documentation).
#[derive(Default)]
struct Run {
    /// Keys held.
    len: usize,
    /// The first key of each group.
    firsts: Vec<u64>,
    /// Where each group's differences start: its chunk's index (high 32 bits) and the offset in it.
    starts: Vec<u64>,
    /// The groups' differences (each group: its width byte, then its differences in that many
    /// bytes); a merge empties the chunks it has read.
    chunks: Vec<Vec<u8>>,
    /// The last key added (the next one is written as the difference to it).
    last: u64,
    /// The differences of the group being filled, written when it is full or the run finished.
    pending: [u64; GROUP - 1],
    npending: usize,
    /// Every key in `firsts`, no differences (a run of at most [`PLAIN`] keys).
    plain: bool,
    /// Windows whose new keys the run holds (a power of two: runs of as many are merged).
    windows: usize,
}

impl Run {
    /// An empty run for `n` keys: its directory sized exactly, its first chunk for about `n` keys
    /// (up to [`CHUNK`]).
    fn for_keys(n: usize) -> Run {
        if n <= PLAIN {
            return Run {
                firsts: Vec::with_capacity(n),
                plain: true,
                ..Run::default()
            };
        }
        let groups = n.div_ceil(GROUP);
        Run {
            chunks: vec![Vec::with_capacity((n * 3 + GROUP_MAX_BYTES).min(CHUNK))],
            firsts: Vec::with_capacity(groups),
            starts: Vec::with_capacity(groups),
            ..Run::default()
        }
    }

    /// Appends `key`, larger than every key held. The run is read only once [`Run::finish`]ed.
    fn push(&mut self, key: u64) {
        if self.plain {
            self.firsts.push(key);
        } else if self.len.is_multiple_of(GROUP) {
            self.flush();
            self.firsts.push(key);
        } else if let Some(d) = self.pending.get_mut(self.npending) {
            *d = key.wrapping_sub(self.last);
            self.npending += 1;
        }
        self.last = key;
        self.len += 1;
    }

    /// Writes the last group's differences (after the last [`Run::push`]).
    fn finish(&mut self) {
        if !self.plain {
            self.flush();
        }
    }

    /// Writes the group being filled, if its first key is pushed and its bytes not yet written: the
    /// width of its largest difference, then each difference in that many bytes.
    fn flush(&mut self) {
        if self.starts.len() >= self.firsts.len() {
            return;
        }
        if self
            .chunks
            .last()
            .is_none_or(|c| c.len() + GROUP_MAX_BYTES > CHUNK)
        {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let c = self.chunks.len() - 1;
        let Some(chunk) = self.chunks.last_mut() else {
            return;
        };
        self.starts.push((c as u64) << 32 | chunk.len() as u64);
        let pending = &self.pending[..self.npending];
        let max = pending.iter().fold(0u64, |m, &d| m | d);
        let w = (8 - max.leading_zeros() as usize / 8).max(1);
        chunk.push(w as u8);
        for &d in pending {
            // One 8-byte store, the bytes past the width cut back.
            let end = chunk.len() + w;
            chunk.extend_from_slice(&d.to_le_bytes());
            chunk.truncate(end);
        }
        self.npending = 0;
    }

    /// Calls `f` with every key, in order (the run is left as it is).
    fn for_each_key(&self, mut f: impl FnMut(u64)) {
        if self.plain {
            self.firsts.iter().for_each(|&k| f(k));
            return;
        }
        for g in 0..self.len.div_ceil(GROUP) {
            let (mut key, count, chunk, start) = self.group(g);
            let w = chunk.get(start).map_or(1, |&w| w as usize);
            f(key);
            for i in 1..count {
                key = key.wrapping_add(difference(chunk, start + 1 + (i - 1) * w, w));
                f(key);
            }
        }
    }

    /// Bytes allocated.
    fn bytes(&self) -> usize {
        self.chunks.iter().map(Vec::capacity).sum::<usize>()
            + (self.firsts.capacity() + self.starts.capacity()) * std::mem::size_of::<u64>()
    }

    /// Group `g`'s first key, key count, chunk and where its differences start in it.
    fn group(&self, g: usize) -> (u64, usize, &[u8], usize) {
        let first = self.firsts.get(g).copied().unwrap_or(0);
        let start = self.starts.get(g).copied().unwrap_or(0);
        let chunk = self
            .chunks
            .get((start >> 32) as usize)
            .map_or(&[][..], Vec::as_slice);
        let count = self.len.saturating_sub(g * GROUP).min(GROUP);
        (first, count, chunk, (start & 0xffff_ffff) as usize)
    }

    /// Whether `key` is held. `c` is where the search of the window's previous, smaller key left
    /// off: the directory is searched forward from its group, and within the same group the
    /// differences are read on from where it stopped — a window's keys read each difference of a
    /// run at most once.
    fn contains(&self, c: &mut Cursor, key: u64) -> bool {
        if self.plain {
            // The first key not below `key`, searched forward from the previous one's.
            c.group = gallop(&self.firsts, c.group, |k| k < key);
            return self.firsts.get(c.group) == Some(&key);
        }
        // The first group whose first key is above `key`; the key can only be in the one before.
        let above = gallop(&self.firsts, c.group, |first| first <= key);
        let Some(g) = above.checked_sub(1) else {
            return false;
        };
        let (first, count, chunk, start) = self.group(g);
        if g != c.group || c.read == 0 {
            let w = chunk.get(start).map_or(1, |&w| w as usize);
            *c = Cursor {
                group: g,
                read: 1,
                key: first,
                at: start + 1,
                width: w,
            };
        }
        while c.key < key && c.read < count {
            c.key = c.key.wrapping_add(difference(chunk, c.at, c.width));
            c.at += c.width;
            c.read += 1;
        }
        c.key == key
    }
}

impl Run {
    /// Reads the directory entries and the first bytes of the group that may hold `key`, searched
    /// forward from group `from` (a compressed run); returns that group and the bytes read, for the
    /// caller to hand to `black_box`. A window's keys fall in groups far apart in a large run
    /// (national day: ≈ 20 groups between two keys of a window), each a cache miss that
    /// [`Run::contains`] waited for one after the other; read for [`AHEAD`] keys in a row first,
    /// the misses overlap (issue #13).
    fn touch(&self, from: usize, key: u64) -> (usize, u64) {
        let g = gallop(&self.firsts, from, |first| first <= key).saturating_sub(1);
        let start = self.starts.get(g).copied().unwrap_or(0);
        let chunk = self
            .chunks
            .get((start >> 32) as usize)
            .map_or(&[][..], Vec::as_slice);
        let at = (start & 0xffff_ffff) as usize;
        // The width byte, and the group's last cache line when it spans two (48 bytes on: 16
        // differences of 3 bytes, the generated days' width).
        let bytes =
            chunk.get(at).map_or(0, |&b| b as u64) ^ chunk.get(at + 48).map_or(0, |&b| b as u64);
        (g, bytes)
    }
}

/// Keys of a window whose groups in the compressed runs are read ahead together ([`Run::touch`])
/// before they are checked one by one.
const AHEAD: usize = 16;

/// Where a window's check is in a run: the group, how many of its keys are read, the last key read,
/// where the next difference starts in the group's chunk and the group's width.
#[derive(Clone, Copy, Default)]
struct Cursor {
    group: usize,
    read: usize,
    key: u64,
    at: usize,
    width: usize,
}

/// The difference of `w` bytes (1 to 8) at `at` in `bytes`: one 8-byte load and a mask, byte by byte
/// near the end of the chunk (0 past the end: never for the bytes a [`Run`] wrote).
#[inline(always)]
fn difference(bytes: &[u8], at: usize, w: usize) -> u64 {
    let mask = u64::MAX >> (64 - 8 * w.clamp(1, 8));
    match bytes.get(at..at + 8) {
        Some(b) => b.try_into().map_or(0, u64::from_le_bytes) & mask,
        None => bytes
            .get(at..at + w)
            .unwrap_or_default()
            .iter()
            .rev()
            .fold(0u64, |v, &b| v << 8 | b as u64),
    }
}

/// A run's keys in order, consumed a group at a time: each group decoded at once into a buffer
/// (its differences are all of one width: a loop of loads and adds, no branch a key), each chunk
/// freed once its groups are read (a merge's input).
struct Groups {
    run: Run,
    /// The next group to decode, and the chunk of the last one decoded.
    next: usize,
    chunk: usize,
    /// The decoded keys of the current group: `buf[at..n]` are still to be taken.
    buf: [u64; GROUP],
    at: usize,
    n: usize,
}

impl Groups {
    fn new(run: Run) -> Groups {
        let mut g = Groups {
            run,
            next: 0,
            chunk: 0,
            buf: [0; GROUP],
            at: 0,
            n: 0,
        };
        g.refill();
        g
    }

    /// Decodes the next group into `buf`; `false` (and the run's memory freed) past the last one.
    fn refill(&mut self) -> bool {
        let g = self.next;
        let count = self.run.len.saturating_sub(g * GROUP).min(GROUP);
        self.at = 0;
        self.n = count;
        if count == 0 {
            self.run.chunks = Vec::new();
            self.run.firsts = Vec::new();
            self.run.starts = Vec::new();
            return false;
        }
        self.next += 1;
        if self.run.plain {
            let keys = self
                .run
                .firsts
                .get(g * GROUP..g * GROUP + count)
                .unwrap_or(&[]);
            self.n = keys.len();
            if let Some(b) = self.buf.get_mut(..keys.len()) {
                b.copy_from_slice(keys);
            }
            return self.n > 0;
        }
        let start = self.run.starts.get(g).copied().unwrap_or(0);
        let c = (start >> 32) as usize;
        // The chunks before this group's are read: their memory goes back now.
        for old in self.run.chunks.get_mut(self.chunk..c).into_iter().flatten() {
            *old = Vec::new();
        }
        self.chunk = c;
        let chunk = self.run.chunks.get(c).map_or(&[][..], Vec::as_slice);
        let at = (start & 0xffff_ffff) as usize;
        let w = chunk.get(at).map_or(1, |&w| w as usize);
        let mut key = self.run.firsts.get(g).copied().unwrap_or(0);
        self.buf[0] = key;
        for (i, slot) in self.buf.iter_mut().enumerate().take(count).skip(1) {
            key = key.wrapping_add(difference(chunk, at + 1 + (i - 1) * w, w));
            *slot = key;
        }
        true
    }
}

impl Run {
    /// Appends a whole group of keys, each larger than the one before and than every key held,
    /// at a group boundary (`len` a multiple of [`GROUP`]): the bytes 16 [`Run::push`]es would
    /// write, the group written at once.
    fn push_group(&mut self, keys: &[u64; GROUP]) {
        if self.plain {
            self.firsts.extend_from_slice(keys);
        } else {
            self.flush();
            self.firsts.push(keys[0]);
            for (d, p) in self.pending.iter_mut().zip(keys.windows(2)) {
                *d = p[1].wrapping_sub(p[0]);
            }
            self.npending = GROUP - 1;
        }
        self.last = keys[GROUP - 1];
        self.len += GROUP;
    }
}

/// The sorted keys of `older` and `newer` (no key in both) as one run, reading each input's chunks
/// front to back and freeing them as it goes. Both inputs are decoded a group at a time and the
/// output is written a group at a time ([`Groups`], [`Run::push_group`]): a key moved cost ≈ 110
/// instructions through a key-by-key iterator and `push` (the 1 M day's merges: 953 M
/// instructions, issue #13).
fn merge(older: Run, newer: Run) -> Run {
    let windows = older.windows + newer.windows;
    let mut out = GroupWriter {
        run: Run::for_keys(older.len + newer.len),
        buf: [0; GROUP],
        n: 0,
    };
    let (mut a, mut b) = (Groups::new(older), Groups::new(newer));
    loop {
        // Both current groups hold keys: the smaller goes out, no call a key.
        while a.at < a.n && b.at < b.n {
            let (p, q) = (a.buf[a.at], b.buf[b.at]);
            let take_a = p < q;
            out.put(if take_a { p } else { q });
            a.at += take_a as usize;
            b.at += !take_a as usize;
        }
        if a.at >= a.n && !a.refill() {
            out.drain(&mut b);
            break;
        }
        if b.at >= b.n && !b.refill() {
            out.drain(&mut a);
            break;
        }
    }
    let mut run = out.finish();
    run.windows = windows;
    run
}

/// A run written a group at a time ([`Run::push_group`]), its last keys one by one.
struct GroupWriter {
    run: Run,
    buf: [u64; GROUP],
    n: usize,
}

impl GroupWriter {
    #[inline(always)]
    fn put(&mut self, key: u64) {
        self.buf[self.n] = key;
        self.n += 1;
        if self.n == GROUP {
            self.run.push_group(&self.buf);
            self.n = 0;
        }
    }

    /// Every key `from` has left.
    fn drain(&mut self, from: &mut Groups) {
        loop {
            while from.at < from.n {
                self.put(from.buf[from.at]);
                from.at += 1;
            }
            if !from.refill() {
                return;
            }
        }
    }

    fn finish(mut self) -> Run {
        for &k in &self.buf[..self.n] {
            self.run.push(k);
        }
        self.run.finish();
        self.run
    }
}

impl ClaimsSeen {
    /// Keys held.
    pub(crate) fn len(&self) -> usize {
        self.runs.iter().map(|r| r.len).sum()
    }

    /// Bytes allocated by the runs and the filter (what grows with the file).
    pub(crate) fn bytes(&self) -> usize {
        self.runs.iter().map(Run::bytes).sum::<usize>() + self.filter.bytes()
    }

    /// Bytes allocated by the lists of one window's check, reused from window to window (they
    /// grow with the window, not the file).
    pub(crate) fn window_bytes(&self) -> usize {
        (self.window.capacity() + self.spare.capacity()) * std::mem::size_of::<(u64, u32)>()
            + self.fresh.capacity() * std::mem::size_of::<u64>()
            + self.ahead.capacity() * std::mem::size_of::<usize>()
            + self.cand.capacity() * std::mem::size_of::<u32>()
    }

    /// Flags the window's claims whose key was read before — earlier in the window (in file order)
    /// or in an earlier window — and adds its keys. `keys` yields the window's claims in file order,
    /// `None` for a claim without a key (no header); `dup(i)` is called for each duplicate claim `i`.
    pub(crate) fn check_window(
        &mut self,
        keys: impl Iterator<Item = Option<u64>>,
        mut dup: impl FnMut(usize),
    ) {
        // The runs as the geometry wants them, whether or not the caller settled them after the
        // last window: a check against unmerged runs would give the same answer, more slowly.
        self.settle();
        self.window.clear();
        self.window.extend(
            keys.enumerate()
                .filter_map(|(i, k)| k.map(|k| (k, i as u32))),
        );
        // Sorted by key, a key's positions ascending (they are pushed in file order and the sort
        // is stable): the order of the (key, position) pairs, which are distinct.
        radix_sort(&mut self.window, &mut self.spare);
        self.fresh.clear();
        self.pos.clear();
        self.pos.resize(self.runs.len(), Cursor::default());
        self.ahead.clear();
        self.ahead.resize(self.runs.len(), 0);
        // The window's keys the filter lets through (each key once: its first pair), found in one
        // loop of independent loads whose cache misses overlap; each key is added to the filter
        // as it is asked (those not held are added to the runs below).
        self.cand.clear();
        let mut last = None;
        for (k, &(key, _)) in self.window.iter().enumerate() {
            if last != Some(key) {
                last = Some(key);
                if self.filter.may_hold_then_insert(key) {
                    self.cand.push(k as u32);
                }
            }
        }
        let mut k = 0;
        // The next of `cand` to look for in the runs, and the end of those read ahead.
        let mut c = 0;
        let mut touched = 0;
        while let Some(&(key, _)) = self.window.get(k) {
            let mut known = false;
            if self.cand.get(c) == Some(&(k as u32)) {
                if c >= touched {
                    // The compressed runs' groups of the next keys to look for, read together:
                    // their cache misses overlap instead of coming one by one inside `contains`
                    // (issue #13). Reads only.
                    let next = self.cand.get(c..).unwrap_or(&[]);
                    let next = next.get(..AHEAD).unwrap_or(next);
                    let mut acc = 0u64;
                    for (run, g) in self.runs.iter().zip(self.ahead.iter_mut()) {
                        if run.plain {
                            continue;
                        }
                        for &j in next {
                            let key = self.window.get(j as usize).map_or(0, |e| e.0);
                            let (at, bytes) = run.touch(*g, key);
                            *g = at;
                            acc ^= bytes;
                        }
                    }
                    std::hint::black_box(acc);
                    touched = c + AHEAD;
                }
                c += 1;
                // A key the filter ruled out is skipped: the runs' cursors only move forward,
                // and the next key looked for, larger, starts from where they are.
                known = self
                    .runs
                    .iter()
                    .zip(self.pos.iter_mut())
                    .any(|(run, p)| run.contains(p, key));
            }
            // Within a key, positions ascend: the first is the earliest in file order.
            let mut first = !known;
            while let Some(&(_, i)) = self.window.get(k).filter(|e| e.0 == key) {
                if !first {
                    dup(i as usize);
                }
                first = false;
                k += 1;
            }
            if !known {
                self.fresh.push(key);
            }
        }
        if self.fresh.is_empty() {
            return;
        }
        let mut run = Run::for_keys(self.fresh.len());
        self.fresh.iter().for_each(|&k| run.push(k));
        run.finish();
        run.windows = 1;
        self.runs.push(run);
    }

    /// Merges the two newest runs while they hold as many windows each (the runs' binary counter). Changes no answer of a check, only its cost; nothing to do when settled.
    /// Split from [`ClaimsSeen::check_window`] so that the engine runs it after the window's
    /// bookkeeping, beside the shards of the window before (`engine::book`), where it held up the
    /// serial bookkeeping: a third of its instructions on a 100 k-claim day (issue #13).
    pub(crate) fn settle(&mut self) {
        while let [.., below, top] = self.runs.as_slice() {
            if below.windows > top.windows {
                break;
            }
            let (Some(top), Some(below)) = (self.runs.pop(), self.runs.pop()) else {
                break;
            };
            self.runs.push(merge(below, top));
        }
        // The filter grown, built again from every key held, once they outnumber what it was
        // sized for (its bits fill up and it lets more keys through): twice what is held, so
        // that the keys it is built from are moved once more on average, as the runs' keys.
        let held = self.len();
        if held > self.filter.capacity {
            let mut f = Filter::with_capacity((2 * held).max(FILTER_MIN));
            for run in &self.runs {
                run.for_each_key(|k| f.insert(k));
            }
            self.filter = f;
        }
    }

    /// Sizes the filter for about `keys` keys in all before the first window (the claims a file
    /// may hold, from its length): the filter is then not built again as the keys come, which
    /// reads every key held each time. Does nothing once keys are held.
    pub(crate) fn expect(&mut self, keys: usize) {
        if self.runs.is_empty() && keys > self.filter.capacity {
            self.filter = Filter::with_capacity(keys.max(FILTER_MIN));
        }
    }
}

/// Below this many pairs [`radix_sort`] sorts by comparison: its passes cost about the same
/// whatever the length, and their histograms alone are 8 KiB to clear and sum.
const RADIX_MIN: usize = 256;

/// Sorts `v` by key, stably: pairs of one key keep the order they come in. `spare` is the second
/// buffer the passes move the pairs between (its contents are not kept).
///
/// A least-significant-byte radix sort: one pass counts every byte of every key (8 histograms of
/// 256), then one pass a byte moves each pair to its byte's next place in the other buffer; a byte
/// that is the same in every key (one bucket holds them all) moves nothing and is skipped. On a
/// window of ≈ 17 000 claims that is ≈ 100 instructions a claim, where the comparison sort of the
/// pairs (`par_sort_unstable`) took ≈ 289 (callgrind, issue #13). The window's pairs arrive in file
/// order, so a key's positions come out ascending: the order of a sort of the pairs themselves,
/// which are distinct.
fn radix_sort(v: &mut Vec<(u64, u32)>, spare: &mut Vec<(u64, u32)>) {
    let n = v.len();
    if n < RADIX_MIN {
        // Distinct pairs: an unstable sort gives the one order, the stable one.
        v.sort_unstable();
        return;
    }
    let mut counts = [[0u32; 256]; 8];
    for &(k, _) in v.iter() {
        for (b, c) in counts.iter_mut().enumerate() {
            c[(k >> (8 * b)) as usize & 0xff] += 1;
        }
    }
    spare.clear();
    spare.resize(n, (0, 0));
    // Whether the pairs are in `spare` (after an odd number of passes).
    let mut in_spare = false;
    for (b, c) in counts.iter().enumerate() {
        if c.iter().any(|&x| x as usize == n) {
            continue;
        }
        let mut next = [0u32; 256];
        let mut sum = 0u32;
        for (o, &x) in next.iter_mut().zip(c) {
            *o = sum;
            sum += x;
        }
        let (from, to) = if in_spare {
            (&spare[..], &mut v[..])
        } else {
            (&v[..], &mut spare[..])
        };
        for &e in from {
            let d = (e.0 >> (8 * b)) as usize & 0xff;
            if let Some(slot) = to.get_mut(next[d] as usize) {
                *slot = e;
            }
            next[d] += 1;
        }
        in_spare = !in_spare;
    }
    if in_spare {
        std::mem::swap(v, spare);
    }
}

/// The first index from `start` where `pred` is false (`pred` true then false along `v`):
/// exponential steps, then a binary search. A search for ascending keys starts where the last one
/// ended.
fn gallop(v: &[u64], start: usize, pred: impl Fn(u64) -> bool) -> usize {
    let mut lo = start;
    let mut hi = lo;
    let mut step = 1;
    while v.get(hi).is_some_and(|&x| pred(x)) {
        lo = hi + 1;
        hi += step;
        step *= 2;
    }
    let hi = hi.min(v.len());
    lo + v.get(lo..hi).map_or(0, |s| s.partition_point(|&x| pred(x)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The duplicates of a window, as positions.
    fn window(seen: &mut ClaimsSeen, keys: &[Option<u64>]) -> Vec<usize> {
        let mut d = Vec::new();
        seen.check_window(keys.iter().copied(), |i| d.push(i));
        seen.settle();
        d.sort();
        d
    }

    #[test]
    fn a_key_is_new_the_first_time_in_file_order_then_a_duplicate_in_and_across_windows() {
        let mut s = ClaimsSeen::default();
        // In the window: 7 at 0 and 3 (3 is the duplicate), 5 at 1 and 4; no key at 2.
        assert_eq!(
            window(&mut s, &[Some(7), Some(5), None, Some(7), Some(5)]),
            vec![3, 4]
        );
        // The next window: 5 and 7 were read before; 6 is new, then repeated.
        assert_eq!(
            window(&mut s, &[Some(6), Some(5), Some(6), Some(7)]),
            vec![1, 2, 3]
        );
        assert_eq!(s.len(), 3);
    }

    /// The set against a plain `HashSet` read in file order, over 3 000 windows of 0 to 600 keys
    /// (many merges), a fixed-seed xorshift mixing clustered keys, keys of every bit width and the
    /// extremes (0, 1, 2^63 ± 1, u64::MAX − 1, u64::MAX), with claims without a key: every duplicate
    /// position and the count of keys held agree (review of the compressed runs, whose own harness
    /// compared 33 M claims).
    #[test]
    fn the_set_agrees_with_a_hash_set_model_over_random_windows_and_extreme_keys() {
        let mut next = crate::testing::Rng(0x2545_F491_4F6C_DD1Du64).into_fn();
        const EXTREMES: [u64; 6] = [0, 1, (1 << 63) - 1, 1 << 63, u64::MAX - 1, u64::MAX];
        let mut s = ClaimsSeen::default();
        let mut model = std::collections::HashSet::new();
        // Plain and compressed runs checked in the same window at some point.
        let mut both = false;
        for _ in 0..3_000 {
            let n = (next() % 601) as usize >> (next() % 4);
            let keys: Vec<Option<u64>> = (0..n)
                .map(|_| match next() % 10 {
                    0 => None,
                    1 => Some(EXTREMES[(next() % 6) as usize]),
                    2..=5 => Some(next() % 5_000),
                    _ => Some(next() >> (next() % 64)),
                })
                .collect();
            let want: Vec<usize> = keys
                .iter()
                .enumerate()
                .filter(|(_, k)| k.is_some_and(|k| !model.insert(k)))
                .map(|(i, _)| i)
                .collect();
            both |= s.runs.iter().any(|r| r.plain) && s.runs.iter().any(|r| !r.plain);
            assert_eq!(window(&mut s, &keys), want);
            assert_eq!(s.len(), model.len());
        }
        assert!(model.len() > 100_000, "{}", model.len());
        assert!(both, "the model reaches a compressed run beside plain ones");
    }

    /// The engine settles the runs beside the shards, or not at all before the next window: a check
    /// against unsettled runs (several windows' runs not merged yet) flags the same claims as one
    /// against settled runs, and the next check or settle restores the geometry.
    #[test]
    fn a_check_flags_the_same_claims_whether_the_runs_were_settled_after_the_last_window_or_not() {
        let mut next = crate::testing::Rng(0x9E37_79B9_7F4A_7C15u64).into_fn();
        let (mut settled, mut lazy) = (ClaimsSeen::default(), ClaimsSeen::default());
        let mut unsettled_seen = false;
        for w in 0..400 {
            let n = 1 + (next() % 3_000) as usize;
            let keys: Vec<Option<u64>> = (0..n)
                .map(|_| (!next().is_multiple_of(16)).then(|| next() % 200_000))
                .collect();
            let want = window(&mut settled, &keys);
            let mut got = Vec::new();
            lazy.check_window(keys.iter().copied(), |i| got.push(i));
            got.sort();
            assert_eq!(got, want, "window {w}");
            assert_eq!(lazy.len(), settled.len());
            // Settled only one window in five: the others leave their run on top, unmerged.
            unsettled_seen |= !counted(&lazy);
            if w % 5 == 4 {
                lazy.settle();
                assert!(counted(&lazy));
            }
        }
        assert!(unsettled_seen, "some checks ran against unsettled runs");
        assert_eq!(keys_held(&lazy), keys_held(&settled));
    }

    /// A run built key by key (`push`), the reference layout of a merge's output.
    fn pushed(keys: &[u64]) -> Run {
        let mut run = Run::for_keys(keys.len());
        keys.iter().for_each(|&k| run.push(k));
        run.finish();
        run
    }

    /// The merge decodes and writes a group at a time: its output holds the union, in the very
    /// bytes (directory, group starts, chunks) that pushing the union key by key writes, for inputs
    /// plain or compressed, empty, of every size around a group, `PLAIN` and a chunk, and spent one
    /// before the other at any point of a group.
    #[test]
    fn a_merge_writes_the_bytes_of_the_union_pushed_key_by_key() {
        let mut next = crate::testing::Rng(0x2545_F491_4F6C_DD1Du64).into_fn();
        let sizes = [
            0,
            1,
            15,
            16,
            17,
            33,
            1_000,
            PLAIN - 1,
            PLAIN,
            PLAIN + 1,
            300_000,
        ];
        for &na in &sizes {
            for &nb in &[0usize, 1, 16, 17, 5_000, PLAIN + 7] {
                // Distinct keys, sorted, dealt to the two inputs; some steps wide (every width).
                let mut all: Vec<u64> = Vec::with_capacity(na + nb);
                let mut k = next() % 1_000;
                for i in 0..na + nb {
                    k += 1 + if i % 101 == 0 {
                        next() >> (8 + next() % 50)
                    } else {
                        next() % 400
                    };
                    all.push(k);
                }
                let (mut a, mut b) = (Vec::new(), Vec::new());
                for &k in &all {
                    // The inputs' sizes as asked: b takes keys until it has nb.
                    if b.len() < nb && (a.len() >= na || next() % ((na + nb) as u64) < nb as u64) {
                        b.push(k);
                    } else {
                        a.push(k);
                    }
                }
                let m = merge(pushed(&a), pushed(&b));
                let want = pushed(&all);
                assert_eq!(m.len, want.len, "{na} {nb}");
                assert_eq!(m.plain, want.plain, "{na} {nb}");
                assert_eq!(m.firsts, want.firsts, "{na} {nb}");
                assert_eq!(m.starts, want.starts, "{na} {nb}");
                assert_eq!(m.chunks, want.chunks, "{na} {nb}");
                assert_eq!(decoded(&m), all, "{na} {nb}");
            }
        }
    }

    /// The keys of a run, decoded (the run is left as it was).
    fn decoded(run: &Run) -> Vec<u64> {
        if run.plain {
            return run.firsts.clone();
        }
        (0..run.len.div_ceil(GROUP))
            .flat_map(|g| {
                let (mut k, count, chunk, start) = run.group(g);
                let w = chunk[start] as usize;
                (0..count).map(move |i| {
                    if i > 0 {
                        k += difference(chunk, start + 1 + (i - 1) * w, w);
                    }
                    k
                })
            })
            .collect()
    }

    /// The keys of every run, each run checked sorted.
    fn keys_held(s: &ClaimsSeen) -> Vec<u64> {
        let mut all = Vec::new();
        for run in &s.runs {
            let keys = decoded(run);
            assert_eq!(keys.len(), run.len);
            assert!(keys.windows(2).all(|p| p[0] < p[1]));
            all.extend(keys);
        }
        all.sort();
        all
    }

    #[test]
    fn runs_merged_across_levels_keep_every_key_once_and_sorted() {
        let mut s = ClaimsSeen::default();
        // Windows of interleaved keys, so that runs are merged into each other many times.
        let n = 3 * (1 << 16) as u64;
        for w in 0..6u64 {
            let keys: Vec<Option<u64>> = (0..n / 6).map(|i| Some(i * 6 + w)).collect();
            assert!(window(&mut s, &keys).is_empty());
        }
        assert_eq!(s.len() as u64, n);
        assert_eq!(keys_held(&s), (0..n).collect::<Vec<u64>>());
        // Every key again: all duplicates, whichever run holds them.
        let again: Vec<Option<u64>> = (0..n).rev().map(Some).collect();
        assert_eq!(window(&mut s, &again).len() as u64, n);
    }

    /// Whether the runs are settled: each holds more windows than the next newer one, powers of
    /// two, together every window with new keys.
    fn counted(s: &ClaimsSeen) -> bool {
        s.runs.windows(2).all(|p| p[0].windows > p[1].windows)
            && s.runs.iter().all(|r| r.windows.is_power_of_two())
    }

    #[test]
    fn windows_of_a_few_claims_keep_few_runs_each_holding_twice_the_windows_of_the_next() {
        // 20 000 windows of 3 claims (one repeated from the window before): the runs stay
        // logarithmic in number, a binary counter of the windows, so a tiny window never moves
        // every key: a key is moved at most log₂ 20 000 < 15 times.
        let mut s = ClaimsSeen::default();
        let mut dups = 0;
        for w in 0..20_000u64 {
            let keys = [
                Some(w * 7919 % 100_003),
                Some(w * 7919 % 100_003 + 200_000),
                None,
            ];
            let again = (w > 0).then(|| Some((w - 1) * 7919 % 100_003));
            let mut v = keys.to_vec();
            v.extend(again);
            dups += window(&mut s, &v).len();
            // Every window has new keys: the runs count the windows in binary.
            assert_eq!(
                s.runs.len() as u32,
                (w + 1).count_ones(),
                "after window {w}"
            );
            assert!(counted(&s));
            assert_eq!(s.runs.iter().map(|r| r.windows as u64).sum::<u64>(), w + 1);
        }
        // Each window from the second repeats the first key of the window before.
        assert_eq!(dups, 19_999);
        assert_eq!(s.len(), 40_000);
        assert_eq!(keys_held(&s).len(), 40_000);
    }

    /// The radix sort orders a window's pairs as a comparison sort of the pairs does — by key,
    /// a key's positions ascending — for lengths around its threshold, keys of every width, keys
    /// repeated, keys equal in some bytes only (passes skipped) and all equal, from buffers reused.
    #[test]
    fn the_radix_sort_orders_the_pairs_by_key_then_position_as_a_comparison_sort() {
        let mut next = crate::testing::Rng(0x9E37_79B9_7F4A_7C15u64).into_fn();
        let (mut v, mut spare) = (Vec::new(), Vec::new());
        for n in [
            0,
            1,
            2,
            RADIX_MIN - 1,
            RADIX_MIN,
            RADIX_MIN + 1,
            1_000,
            17_000,
        ] {
            for shape in 0..6 {
                let keys: Vec<u64> = (0..n)
                    .map(|_| match shape {
                        // Every bit.
                        0 => next(),
                        // Few distinct keys: many repeated.
                        1 => next() % 37,
                        // Practitioner and claim number, as `carry::claim_key` packs them.
                        2 => crate::carry::claim_key(
                            100_000_000 + (next() % 3_000) as u32,
                            (next() % 1_000_000) as u32,
                        ),
                        // Only the top and bottom bytes vary: the middle passes are skipped.
                        3 => next() & 0xff00_0000_0000_00ff,
                        // One key.
                        4 => 42,
                        // Every width.
                        _ => next() >> (next() % 64),
                    })
                    .collect();
                v.clear();
                v.extend(keys.iter().enumerate().map(|(i, &k)| (k, i as u32)));
                let mut want = v.clone();
                want.sort();
                radix_sort(&mut v, &mut spare);
                assert_eq!(v, want, "{n} keys, shape {shape}");
            }
        }
    }

    /// The filter never rules out a key held — after keys are inserted one by one, and once it is
    /// built again from the runs when the keys outgrow it — and rules out most keys not held;
    /// a set whose filter lets every key through (sized for one key: one word, full) or sized
    /// ahead (`expect`) flags the same claims as one grown as the keys come.
    #[test]
    fn the_filter_keeps_every_key_held_and_changes_no_answer_only_the_runs_looked_in() {
        let mut next = crate::testing::Rng(0x2545_F491_4F6C_DD1Du64).into_fn();
        let mut f = Filter::with_capacity(10_000);
        let keys: Vec<u64> = (0..10_000).map(|_| next()).collect();
        keys.iter().for_each(|&k| f.insert(k));
        assert!(keys.iter().all(|&k| f.may_hold(k)));
        let through = (0..100_000).filter(|_| f.may_hold(next())).count();
        assert!(
            through < 3_000,
            "{through} of 100 000 keys not held let through"
        );
        // An empty filter lets every key through.
        assert!(Filter::default().may_hold(7));

        let (mut grown, mut ahead, mut full) = (
            ClaimsSeen::default(),
            ClaimsSeen::default(),
            ClaimsSeen::default(),
        );
        ahead.expect(400_000);
        full.filter = Filter::with_capacity(1);
        full.filter.capacity = usize::MAX;
        full.filter.words[0] = u64::MAX;
        let mut rebuilt = 0;
        for w in 0..120 {
            let n = 1 + (next() % 5_000) as usize;
            let keys: Vec<Option<u64>> = (0..n)
                .map(|_| (!next().is_multiple_of(16)).then(|| next() % 600_000))
                .collect();
            let cap = grown.filter.capacity;
            let want = window(&mut grown, &keys);
            rebuilt += (grown.filter.capacity != cap) as usize;
            assert_eq!(window(&mut ahead, &keys), want, "window {w}");
            assert_eq!(window(&mut full, &keys), want, "window {w}");
            assert!(keys_held(&grown).iter().all(|&k| grown.filter.may_hold(k)));
        }
        assert!(rebuilt >= 2, "the filter was built again {rebuilt} times");
        assert_eq!(ahead.filter.capacity, 400_000, "sized ahead, never rebuilt");
        assert_eq!(keys_held(&grown), keys_held(&full));
    }

    #[test]
    fn gallop_finds_the_end_of_a_predicate_from_the_last_position() {
        let v = [2u64, 4, 6, 8, 10, 12, 14];
        assert_eq!(gallop(&v, 0, |x| x <= 1), 0);
        assert_eq!(gallop(&v, 0, |x| x <= 2), 1);
        assert_eq!(gallop(&v, 1, |x| x <= 9), 4);
        assert_eq!(gallop(&v, 4, |x| x <= 14), 7);
        assert_eq!(gallop(&v, 7, |x| x <= 15), 7);
    }

    /// Differences of every width (1 to 8 bytes), group and chunk boundaries: a run holds
    /// exactly the keys pushed, finds each and none of their neighbours, and a merge of two runs
    /// holds both.
    #[test]
    fn a_compressed_run_finds_its_keys_across_widths_groups_and_chunks() {
        let mut keys = Vec::new();
        let mut k = 5u64;
        for i in 0..100_000u64 {
            keys.push(k);
            // Mostly small steps, sometimes a step of each width up to 2^56 (the last key, u64::MAX,
            // takes the 10 bytes of the widest).
            k += if i % 97 == 0 {
                1 << (i / 97 % 57)
            } else {
                1 + i % 300
            };
        }
        keys.push(u64::MAX);
        let mut run = Run::for_keys(keys.len());
        keys.iter().for_each(|&k| run.push(k));
        run.finish();
        assert!(run.chunks.len() > 1, "the test crosses chunks");
        assert_eq!(decoded(&run), keys);
        let mut p = Cursor::default();
        for &k in &keys {
            assert!(!run.contains(&mut p, k - 1) || keys.binary_search(&(k - 1)).is_ok());
            assert!(run.contains(&mut p, k), "{k}");
        }
        // Sparse lookups (groups skipped, a key absent between two held ones).
        let mut p = Cursor::default();
        for w in keys.windows(2).step_by(37) {
            assert!(run.contains(&mut p, w[0]));
            assert_eq!(run.contains(&mut p, w[0] + 1), w[0] + 1 == w[1]);
        }
        // Two interleaved halves merged give the whole, sorted.
        let (mut a, mut b) = (Run::for_keys(0), Run::for_keys(0));
        for (i, &k) in keys.iter().enumerate() {
            if i % 3 == 0 { b.push(k) } else { a.push(k) }
        }
        let m = merge(a, b);
        assert_eq!(m.len, keys.len());
        assert_eq!(decoded(&m), keys);
    }
}
