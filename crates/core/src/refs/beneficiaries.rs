//! The beneficiaries table: the largest reference table (a centre holds millions of beneficiaries), so
//! it has its own compact store and a parallel loader.
//!
//! * Storage: one 24-byte [`BenefRow`] per (beneficiary, rights period), sorted by beneficiary key and
//!   period start; complementary insurers are interned (`u16`). No per-beneficiary allocation. Every
//!   array is of plain-old-data rows (`bytemuck::Pod`), so that the same store is either built in memory
//!   from the TSV files or used in place from a mapped compiled snapshot (`refs::snapshot`).
//! * Index: a radix table over the key range (about one bucket per row, at most 2^22): each bucket holds the first row whose key
//!   falls in it, so a lookup is one table read plus a short scan (a few rows), without a hash map of
//!   millions of entries to build.
//! * Loading: the file is memory-mapped, cut at line boundaries and parsed in parallel by a dedicated
//!   field splitter (no per-row allocation); rows are sorted in parallel; the checks (birth date
//!   consistent, no overlapping periods, insurer known) report `file:line:column`.

use super::tsv::LoadError;
use super::{Rights, benef_key};
use crate::date::{Date, Period};
use crate::money::{self, Cents};
use bytemuck::{Pod, Zeroable};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::ops::Range;
use std::path::Path;

/// Largest radix table (4 M buckets); smaller tables get about one bucket per row.
const MAX_RADIX_BITS: u32 = 22;

/// One rights period of a beneficiary: plain old data (no padding, no `bool`), the layout of the
/// snapshot's `rows` section (`formats/refs.md`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct BenefRow {
    /// Rights period `[from, to)` (`YYYYMMDD`).
    pub from: u32,
    pub to: u32,
    pub birth: u32,
    pub regime: u8,
    /// `0`/`1` (see [`BenefRow::local_regime`]).
    pub local_regime: u8,
    /// `0`/`1` (see [`BenefRow::c2s`]).
    pub c2s: u8,
    pub _pad: u8,
    /// 0 = no complementary insurer, else 1 + index into `amcs`.
    pub amc: u16,
    /// Seeded participation counter: year (0 = none) and cents used.
    pub pf_year: u16,
    pub pf_used: i32,
}

impl BenefRow {
    #[inline]
    pub fn period(&self) -> Period {
        Period {
            from: Date(self.from),
            to: Date(self.to),
        }
    }
    #[inline]
    pub fn birth(&self) -> Date {
        Date(self.birth)
    }
    #[inline]
    pub fn local_regime(&self) -> bool {
        self.local_regime != 0
    }
    #[inline]
    pub fn c2s(&self) -> bool {
        self.c2s != 0
    }
}

/// One ALD period (the snapshot's `ald` section).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct AldRow {
    pub key: u64,
    pub from: u32,
    pub to: u32,
    pub ald: [u8; 2],
    pub _pad: [u8; 6],
}

impl AldRow {
    #[inline]
    pub fn period(&self) -> Period {
        Period {
            from: Date(self.from),
            to: Date(self.to),
        }
    }
}

/// One interned complementary insurer and contract (the snapshot's `amcs` section).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct AmcRow {
    pub amc: [u8; 10],
    pub contract: [u8; 2],
}

/// The bank details of one beneficiary (optional columns `iban`, `bic` of `beneficiaries.tsv`; the
/// snapshot's `banks` section), sorted by key; only beneficiaries with bank columns filled have one.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct BankRow {
    pub key: u64,
    pub account: super::bank::BankAccount,
}

/// An array of the store: owned (loaded from the TSV files) or a byte range of the mapped snapshot.
enum Arr<T> {
    Own(Vec<T>),
    Map(Range<usize>),
}

impl<T> Default for Arr<T> {
    fn default() -> Self {
        Arr::Own(Vec::new())
    }
}

impl<T: Pod> Arr<T> {
    #[inline]
    fn get<'a>(&'a self, map: Option<&'a [u8]>) -> &'a [T] {
        match (self, map) {
            (Arr::Own(v), _) => v,
            // Ranges, alignment and lengths are checked when the snapshot is opened
            // (`refs::snapshot::open`), so the cast does not fail; an empty slice if it ever did.
            (Arr::Map(r), Some(m)) => m
                .get(r.clone())
                .and_then(|b| bytemuck::try_cast_slice(b).ok())
                .unwrap_or(&[]),
            (Arr::Map(_), None) => &[],
        }
    }
}

/// Beneficiaries with their rights periods, ALD periods and participation seeds.
#[derive(Default)]
pub struct Beneficiaries {
    /// The compiled snapshot the arrays live in, when opened from one (`refs::snapshot`).
    map: Option<memmap2::Mmap>,
    keys: Arr<u64>,
    rows: Arr<BenefRow>,
    amcs: Arr<AmcRow>,
    radix: Arr<u32>,
    /// Bucket of a key = (key − min) >> shift (a shift, not a division: this is on every claim's path).
    shift: u32,
    min: u64,
    span: u64,
    /// ALD periods sorted by beneficiary key (looked up only when an exemption is claimed).
    ald: Arr<AldRow>,
    /// Bank details by beneficiary key (looked up once per payee by the payment orders).
    banks: Arr<BankRow>,
    /// Where each block of [`ALD_BLOCK`] rows of the store starts in `ald`: entry `b` is the lower
    /// bound in `ald` of the key at row `b × ALD_BLOCK`, plus a last entry `ald.len()`. A
    /// beneficiary's ALD periods lie between its block's entry and the next one, a few rows
    /// ([`BenefView::ald_at`]). Built at load from the arrays (`build_ald_index`), not stored in the
    /// snapshot; empty when not built (or the ALD list does not fit `u32` positions): the lookup
    /// then gallops from an estimate.
    ald_index: Vec<u32>,
}

/// Rows of the store per entry of [`Beneficiaries::ald_index`] (a power of two). 64 rows: on the
/// generated national day about 10 ALD rows (4 cache lines) a block, and 0.6 MiB of index for 10 M
/// rows.
const ALD_BLOCK_SHIFT: u32 = 6;
const ALD_BLOCK: usize = 1 << ALD_BLOCK_SHIFT;

/// The arrays and scalars of a store, borrowed: what a snapshot writes and what it checks at open.
pub(crate) struct Parts<'a> {
    pub keys: &'a [u64],
    pub rows: &'a [BenefRow],
    pub amcs: &'a [AmcRow],
    pub radix: &'a [u32],
    pub ald: &'a [AldRow],
    pub banks: &'a [BankRow],
    pub shift: u32,
    pub min: u64,
    pub span: u64,
}

/// Byte ranges of the arrays in a mapped snapshot (checked by the caller).
pub(crate) struct MapRanges {
    pub keys: Range<usize>,
    pub rows: Range<usize>,
    pub amcs: Range<usize>,
    pub radix: Range<usize>,
    pub ald: Range<usize>,
    pub banks: Range<usize>,
}

/// One beneficiary as the rules see it.
#[derive(Clone, Copy)]
pub struct BenefView<'a> {
    pub birth: Date,
    key: u64,
    /// Index of the beneficiary's first row in the store (where its ALD periods are looked for).
    index: usize,
    rows: &'a [BenefRow],
    store: &'a Beneficiaries,
}

impl<'a> BenefView<'a> {
    /// AMO rights in force on `d`, with their period.
    pub fn rights_at(&self, d: Date) -> Option<(Period, Rights)> {
        let i = self.rows.partition_point(|r| Date(r.from) <= d);
        let r = self.rows.get(i.checked_sub(1)?)?;
        let period = r.period();
        if !period.contains(d) {
            return None;
        }
        let (amc, contract) = match r.amc {
            0 => ([b' '; 10], [b' '; 2]),
            // Indices are checked at load and at snapshot open.
            k => {
                let a = self.store.amcs().get(k as usize - 1)?;
                (a.amc, a.contract)
            }
        };
        Some((
            period,
            Rights {
                regime: r.regime,
                local_regime: r.local_regime(),
                c2s: r.c2s(),
                amc,
                contract,
            },
        ))
    }

    /// An ALD period covering `d`. Looked up only when a claim asks (an exemption is claimed), so the
    /// 80 % of claims without one pay no extra memory access.
    pub fn ald_at(&self, d: Date) -> Option<(Period, [u8; 2])> {
        let ald = self.store.ald();
        let i = self.store.ald_lower_bound(self.key, self.index);
        ald.get(i..)?
            .iter()
            .take_while(|a| a.key == self.key)
            .find(|a| a.period().contains(d))
            .map(|a| (a.period(), a.ald))
    }

    /// Participations already charged in a year before this batch.
    pub fn pf_seed(&self) -> Option<(u32, Cents)> {
        self.rows
            .iter()
            .find(|r| r.pf_year != 0)
            .map(|r| (r.pf_year as u32, r.pf_used as Cents))
    }

    pub fn rows(&self) -> &'a [BenefRow] {
        self.rows
    }
}

impl Beneficiaries {
    pub fn len(&self) -> usize {
        self.rows().len()
    }
    pub fn is_empty(&self) -> bool {
        self.rows().is_empty()
    }

    #[inline]
    fn keys(&self) -> &[u64] {
        self.keys.get(self.map.as_deref())
    }
    #[inline]
    fn rows(&self) -> &[BenefRow] {
        self.rows.get(self.map.as_deref())
    }
    #[inline]
    fn amcs(&self) -> &[AmcRow] {
        self.amcs.get(self.map.as_deref())
    }
    #[inline]
    fn radix(&self) -> &[u32] {
        self.radix.get(self.map.as_deref())
    }
    #[inline]
    fn ald(&self) -> &[AldRow] {
        self.ald.get(self.map.as_deref())
    }
    #[inline]
    fn banks(&self) -> &[BankRow] {
        self.banks.get(self.map.as_deref())
    }

    /// The bank details of a beneficiary, if the table gives any.
    pub fn bank(&self, key: u64) -> Option<super::bank::BankAccount> {
        let b = self.banks();
        let i = b.partition_point(|r| r.key < key);
        b.get(i).filter(|r| r.key == key).map(|r| r.account)
    }

    /// [`Self::bank`] for keys asked in ascending order (the payment orders' payees): `from` is the
    /// position the previous search returned (0 for the first key). The search gallops forward from
    /// it, so a sorted list of keys reads the bank rows in one forward sweep instead of a binary
    /// search from the top for each (cache misses on 10 M rows). Returns the next `from`.
    pub fn bank_from(&self, key: u64, from: usize) -> (Option<super::bank::BankAccount>, usize) {
        let b = self.banks();
        let mut lo = from.min(b.len());
        let mut step = 1;
        while lo + step < b.len() && b[lo + step].key < key {
            lo += step;
            step *= 2;
        }
        let hi = (lo + step + 1).min(b.len());
        let i = lo + b[lo..hi].partition_point(|r| r.key < key);
        (b.get(i).filter(|r| r.key == key).map(|r| r.account), i)
    }

    /// The bank details of the bank row at position `i` (the position [`Self::bank_from`] returned for
    /// a key it found), `None` past the end.
    pub fn bank_at(&self, i: usize) -> Option<super::bank::BankAccount> {
        self.banks().get(i).map(|r| r.account)
    }

    /// Reads the bank rows at `positions` (both cache lines of each row) in a tight loop with no
    /// dependence between the reads, so that their cache misses overlap before the rows are used one
    /// by one (the payment orders' pieces, issue #13). Returns a value made of the bytes read, so the
    /// reads are not optimised away.
    pub fn read_ahead_banks(&self, positions: impl Iterator<Item = usize>) -> u64 {
        let b = self.banks();
        let mut x = 0u64;
        for i in positions {
            if let Some(r) = b.get(i) {
                x = x.wrapping_add(r.key ^ r.account.bytes[47] as u64);
            }
        }
        std::hint::black_box(x)
    }

    /// Whether the arrays are used in place from a mapped snapshot (file-backed memory).
    pub fn is_mapped(&self) -> bool {
        self.map.is_some()
    }

    /// Number of ALD periods.
    pub fn ald_len(&self) -> usize {
        self.ald().len()
    }

    /// Fills [`Self::ald_index`] from the keys and the ALD list (both sorted by key): one forward
    /// gallop over the ALD list per block of rows. Called once the arrays are loaded (and, from a
    /// snapshot, checked). Left empty if the ALD list's positions do not fit a `u32`.
    pub(crate) fn build_ald_index(&mut self) {
        let keys = self.keys();
        let ald = self.ald();
        let Ok(last) = u32::try_from(ald.len()) else {
            self.ald_index = Vec::new();
            return;
        };
        let blocks = keys.len().div_ceil(ALD_BLOCK);
        let mut index = vec![last; blocks + 1];
        // In parallel by runs of blocks (a national day's 10 M rows: 156 k blocks): each run binary
        // searches its first bound, then gallops forward from one bound to the next (keys ascend).
        const RUN: usize = 4096;
        index[..blocks]
            .par_chunks_mut(RUN)
            .enumerate()
            .for_each(|(r, out)| {
                let mut j: Option<usize> = None;
                for (o, &k) in out
                    .iter_mut()
                    .zip(keys.iter().skip(r * RUN * ALD_BLOCK).step_by(ALD_BLOCK))
                {
                    let at = match j {
                        None => ald.partition_point(|a| a.key < k),
                        Some(mut j) => {
                            let mut step = 1;
                            while ald.get(j + step - 1).is_some_and(|a| a.key < k) {
                                j += step;
                                step *= 2;
                            }
                            let hi = (j + step).min(ald.len());
                            j + ald
                                .get(j..hi)
                                .map_or(0, |v| v.partition_point(|a| a.key < k))
                        }
                    };
                    *o = at as u32;
                    j = Some(at);
                }
            });
        self.ald_index = index;
    }

    /// The first position in the ALD list whose key is not below `key`, whose first row in the store
    /// is at `at` (a [`BenefView`]'s index). The beneficiary's block of rows bounds it
    /// ([`Self::ald_index`]): the search is over that block's few ALD rows, which the engine's
    /// read-ahead has read ([`Self::read_ahead`]) — where a gallop from the beneficiary's relative
    /// position in the store met a chain of cache misses over neighbouring pages (issue #13). The
    /// result is the same lower bound (test `ald_lower_bound_is_the_whole_lists_lower_bound_…`).
    #[inline]
    fn ald_lower_bound(&self, key: u64, at: usize) -> usize {
        let ald = self.ald();
        let b = at >> ALD_BLOCK_SHIFT;
        if let (Some(&lo), Some(&hi)) = (self.ald_index.get(b), self.ald_index.get(b + 1))
            && let Some(v) = ald.get(lo as usize..hi as usize)
        {
            // keys[b × ALD_BLOCK] ≤ key ≤ keys[(b + 1) × ALD_BLOCK] (when there is such a row),
            // so key's lower bound lies in lo..=hi.
            return lo as usize + v.partition_point(|a| a.key < key);
        }
        // No index: ALD keys are a subset of the beneficiaries' keys, sorted the same way, so the
        // beneficiary's relative position in the store is a close guess, galloped from.
        let n = self.keys().len().max(1);
        let guess = (at as u128 * ald.len() as u128 / n as u128) as usize;
        lower_bound_near(ald, key, guess)
    }

    pub(crate) fn parts(&self) -> Parts<'_> {
        Parts {
            keys: self.keys(),
            rows: self.rows(),
            amcs: self.amcs(),
            radix: self.radix(),
            ald: self.ald(),
            banks: self.banks(),
            shift: self.shift,
            min: self.min,
            span: self.span,
        }
    }

    /// A store over the arrays of a mapped snapshot. The caller (`refs::snapshot::open`) has checked the
    /// ranges, alignments, checksums and the consistency of the arrays ([`Parts::check`]).
    pub(crate) fn from_map(
        map: memmap2::Mmap,
        r: MapRanges,
        shift: u32,
        min: u64,
        span: u64,
    ) -> Beneficiaries {
        Beneficiaries {
            map: Some(map),
            keys: Arr::Map(r.keys),
            rows: Arr::Map(r.rows),
            amcs: Arr::Map(r.amcs),
            radix: Arr::Map(r.radix),
            ald: Arr::Map(r.ald),
            banks: Arr::Map(r.banks),
            ald_index: Vec::new(),
            shift,
            min,
            span,
        }
    }

    #[inline]
    fn bucket(&self, key: u64) -> usize {
        ((key - self.min) >> self.shift) as usize
    }

    #[inline]
    pub fn get(&self, key: u64) -> Option<BenefView<'_>> {
        self.view_from(key, self.find(key)?)
    }

    /// The position of `key`'s first row in the store, if it has one.
    #[inline]
    pub fn find(&self, key: u64) -> Option<usize> {
        let keys = self.keys();
        if keys.is_empty() || key < self.min || key - self.min >= self.span {
            return None;
        }
        let b = self.bucket(key);
        let radix = self.radix();
        let (lo, hi) = (*radix.get(b)? as usize, *radix.get(b + 1)? as usize);
        let slice = keys.get(lo..hi)?;
        let i = lo + slice.partition_point(|&k| k < key);
        (keys.get(i) == Some(&key)).then_some(i)
    }

    /// [`Self::get`] when `key`'s first row was found at `at` already ([`Self::find`], by the
    /// engine's read-ahead): no second search (issue #13). A position that is not `key`'s first row
    /// is not trusted: the key is searched.
    #[inline]
    pub fn get_at(&self, key: u64, at: Option<usize>) -> Option<BenefView<'_>> {
        let keys = self.keys();
        match at {
            Some(i) if keys.get(i) == Some(&key) && (i == 0 || keys.get(i - 1) != Some(&key)) => {
                self.view_from(key, i)
            }
            _ => self.get(key),
        }
    }

    /// The view of `key`, whose first row is at `i`.
    #[inline]
    fn view_from(&self, key: u64, i: usize) -> Option<BenefView<'_>> {
        let keys = self.keys();
        let mut j = i + 1;
        while j < keys.len() && keys[j] == key {
            j += 1;
        }
        let rows = self.rows().get(i..j)?;
        Some(BenefView {
            birth: rows.first()?.birth(),
            key,
            index: i,
            rows,
            store: self,
        })
    }

    /// Reads what [`Self::get`] reads for each of `keys` (the radix bucket, the keys, the first row),
    /// a read-ahead so that the lookups that follow find the lines in the cache
    /// (`engine::liquidate_shards`). It goes in stages: the radix entries of every key first,
    /// then the first key of every bucket, then the searches (now in the cache), then the first rows,
    /// then the ALD rows of the keys marked in `ald` (the rows of their blocks, where
    /// [`BenefView::ald_at`] searches, [`Self::ald_index`]).
    /// Each stage's loads do not depend on one another, so their cache misses overlap; one search
    /// after the other would chain radix → keys → row, three misses in a row, per key (issue #13).
    /// `found[j]` is set to the position of `keys[j]`'s first row ([`Self::find`]), handed to the
    /// rules with the claim (`rules::ClaimInput::benef_at`) so that the controls do not search again.
    pub(crate) fn read_ahead(&self, keys: &[u64], ald: &[bool], found: &mut [Option<usize>]) {
        let radix = self.radix();
        let ks = self.keys();
        let rows = self.rows();
        let in_range = |key: u64| key >= self.min && key - self.min < self.span;
        // The loaded values are folded into one, handed to `black_box`: the loads are kept.
        let mut acc = 0u64;
        for &key in keys {
            if in_range(key) {
                acc ^= radix.get(self.bucket(key)).copied().unwrap_or(0) as u64;
            }
        }
        for &key in keys {
            if in_range(key)
                && let Some(&lo) = radix.get(self.bucket(key))
            {
                acc ^= ks.get(lo as usize).copied().unwrap_or(0);
            }
        }
        for (slot, &key) in found.iter_mut().zip(keys) {
            *slot = self.find(key);
        }
        // The first rows after every search, in a loop of their own: one row load after each
        // search kept few of them in flight at once (the searches' branches and loads between
        // them), and the wait for them was most of this function's time (perf, issue #13).
        for &i in found.iter().flatten() {
            acc ^= rows.get(i).map_or(0, |r| r.birth as u64);
        }
        // The ALD rows of the marked keys' blocks (`ald_index`: its entries first, then every cache
        // line of the rows between them), where `ald_at` searches.
        let al = self.ald();
        let ix = &self.ald_index;
        let mut spans = [(0u32, 0u32); 16];
        for ((slot, _), span) in found
            .iter()
            .zip(ald)
            .filter(|(_, a)| **a)
            .zip(spans.iter_mut())
        {
            if let Some(i) = *slot {
                let b = i >> ALD_BLOCK_SHIFT;
                if let (Some(&lo), Some(&hi)) = (ix.get(b), ix.get(b + 1)) {
                    *span = (lo, hi);
                }
            }
        }
        for &(lo, hi) in &spans {
            // 24-byte rows: every other row reaches each 64-byte line (a block's span is a few rows;
            // a longer one is read up to 16 rows).
            let hi = hi.min(lo.saturating_add(16));
            for j in (lo..hi).step_by(2) {
                acc ^= al.get(j as usize).map_or(0, |a| a.key);
            }
            if hi > lo {
                acc ^= al.get(hi as usize - 1).map_or(0, |a| a.key);
            }
        }
        std::hint::black_box(acc);
    }

    pub fn contains(&self, key: u64) -> bool {
        self.get(key).is_some()
    }

    /// Loads `beneficiaries.tsv` and `ald.tsv`; `amc_known` says whether an (insurer, contract) exists.
    pub fn load(
        dir: &Path,
        amc_known: &(dyn Fn(&[u8; 10], &[u8; 2]) -> bool + Sync),
    ) -> Result<Beneficiaries, LoadError> {
        let file = "beneficiaries.tsv";
        let path = dir.join(file);
        let err0 = |reason: String| LoadError {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            reason,
        };
        let f = std::fs::File::open(&path).map_err(|e| err0(format!("cannot read: {e}")))?;
        let len = f
            .metadata()
            .map_err(|e| err0(format!("cannot read: {e}")))?
            .len();
        // SAFETY: reference files are not modified while loaded (read-only mapping, copied out at once).
        #[allow(unsafe_code)] // see SAFETY above: mapping a file is unsafe by nature.
        let map = if len == 0 {
            None
        } else {
            Some(unsafe { memmap2::Mmap::map(&f) }.map_err(|e| err0(format!("cannot map: {e}")))?)
        };
        let data: &[u8] = map.as_deref().unwrap_or(&[]);
        let data = data.strip_prefix("\u{feff}".as_bytes()).unwrap_or(data);
        // Header: the first line that is neither blank nor a comment.
        let mut off = 0;
        let mut line = 0usize;
        let header = loop {
            if off >= data.len() {
                return Err(LoadError {
                    file: file.into(),
                    line: 1,
                    column: 1,
                    reason: "no header row".into(),
                });
            }
            let end = memchr::memchr(b'\n', &data[off..]).map_or(data.len(), |i| off + i);
            line += 1;
            let l = trim_cr(&data[off..end]);
            off = (end + 1).min(data.len());
            if !l.iter().all(u8::is_ascii_whitespace) && l.first() != Some(&b'#') {
                break l;
            }
        };
        let cols = Cols::new(file, header)?;
        let header_lines = line;
        // Cut the body into chunks at line starts; number lines lazily (only an error needs its line).
        let body = &data[off..];
        let n = rayon::current_num_threads().max(1) * 8;
        let mut cuts = vec![0usize];
        for k in 1..n {
            let mut p = body.len() * k / n;
            if let Some(i) = memchr::memchr(b'\n', &body[p.min(body.len())..]) {
                p += i + 1;
            } else {
                p = body.len();
            }
            if p > *cuts.last().unwrap_or(&0) {
                cuts.push(p);
            }
        }
        if *cuts.last().unwrap_or(&0) < body.len() {
            cuts.push(body.len());
        }
        // Line number of each chunk's first line: newlines counted once, in parallel, then summed.
        let counts: Vec<usize> = cuts
            .par_windows(2)
            .map(|w| memchr::memchr_iter(b'\n', &body[w[0]..w[1]]).count())
            .collect();
        let mut bases = Vec::with_capacity(counts.len());
        let mut acc = header_lines + 1;
        for c in &counts {
            bases.push(acc);
            acc += c;
        }
        let first_line = |k: usize| bases[k];
        let tp = std::time::Instant::now();
        let parts: Vec<Result<ChunkRows, (usize, usize, String)>> = cuts
            .par_windows(2)
            .map(|w| parse_chunk(&body[w[0]..w[1]], &cols, amc_known))
            .collect();
        if crate::timing_on() {
            eprintln!("timing: beneficiaries parse {:?}", tp.elapsed());
        }
        let mut all = Vec::with_capacity(
            parts
                .iter()
                .map(|p| p.as_ref().map_or(0, |v| v.len()))
                .sum(),
        );
        for (k, p) in parts.into_iter().enumerate() {
            match p {
                Ok(v) => {
                    let base = first_line(k) as u32;
                    all.extend(
                        v.into_iter()
                            .map(|(key, row, a, c, l)| (key, row, a, c, base + l)),
                    );
                }
                Err((l, col, reason)) => {
                    return Err(LoadError {
                        file: file.into(),
                        line: first_line(k) + l,
                        column: col,
                        reason,
                    });
                }
            }
        }
        let tm = crate::timing_on();
        let t0 = std::time::Instant::now();
        all.par_sort_unstable_by_key(|r| (r.0, r.1.from, r.4));
        if tm {
            eprintln!("timing: beneficiaries sort {:?}", t0.elapsed());
        }
        let mut amc_index: FxHashMap<([u8; 10], [u8; 2]), u16> = FxHashMap::default();
        let mut amcs: Vec<AmcRow> = Vec::new();
        let mut keys = Vec::with_capacity(all.len());
        let mut rows = Vec::with_capacity(all.len());
        for (i, (key, mut row, a, c, line)) in all.iter().copied().enumerate() {
            if i > 0 && all[i - 1].0 == key {
                let prev = &all[i - 1];
                if prev.1.birth != row.birth {
                    return Err(LoadError {
                        file: file.into(),
                        line: line as usize,
                        column: cols.pos(cols.birth),
                        reason: format!(
                            "birth_date differs from line {} of the same beneficiary",
                            prev.4
                        ),
                    });
                }
                if prev.1.period().overlaps(&row.period()) {
                    return Err(LoadError {
                        file: file.into(),
                        line: line.max(prev.4) as usize,
                        column: 1,
                        reason: format!(
                            "period overlaps the period of the same beneficiary at line {} (duplicate key or overlapping dates)",
                            line.min(prev.4)
                        ),
                    });
                }
            }
            if a != [b' '; 10] {
                // Interned as u16 (0 = none): more distinct pairs than that is a load error, never a
                // wrap to "no insurer".
                if amc_index.len() >= u16::MAX as usize - 1 && !amc_index.contains_key(&(a, c)) {
                    return Err(LoadError {
                        file: file.into(),
                        line: line as usize,
                        column: 1,
                        reason: format!(
                            "more than {} distinct (insurer, contract) pairs",
                            u16::MAX - 1
                        ),
                    });
                }
                let next = amc_index.len() as u16 + 1;
                row.amc = *amc_index.entry((a, c)).or_insert_with(|| {
                    amcs.push(AmcRow {
                        amc: a,
                        contract: c,
                    });
                    next
                });
            }
            keys.push(key);
            rows.push(row);
        }
        drop(all);
        let mut b = Beneficiaries {
            keys: Arr::Own(keys),
            rows: Arr::Own(rows),
            amcs: Arr::Own(amcs),
            ..Default::default()
        };
        b.build_radix();
        b.banks = Arr::Own(load_banks(body, &cuts, &cols));
        let t1 = std::time::Instant::now();
        b.ald = Arr::Own(load_ald(dir, &b)?);
        b.build_ald_index();
        if tm {
            eprintln!(
                "timing: beneficiaries after sort {:?}, ald {:?}",
                t1 - t0,
                t1.elapsed()
            );
        }
        Ok(b)
    }

    fn build_radix(&mut self) {
        let keys = self.keys();
        let (Some(&min), Some(&max)) = (keys.first(), keys.last()) else {
            self.radix = Arr::Own(vec![0, 0]);
            return;
        };
        let n = keys.len();
        let span = max - min + 1;
        let bits = (usize::BITS - n.leading_zeros()).clamp(4, MAX_RADIX_BITS);
        let span_bits = u64::BITS - (span - 1).leading_zeros();
        let shift = span_bits.saturating_sub(bits);
        let nb = radix_buckets(span, shift);
        let mut radix = vec![0u32; nb + 1];
        let mut b = 0usize;
        for (i, &k) in keys.iter().enumerate() {
            let kb = ((k - min) >> shift) as usize;
            while b <= kb {
                radix[b] = i as u32;
                b += 1;
            }
        }
        while b <= nb {
            radix[b] = n as u32;
            b += 1;
        }
        self.min = min;
        self.span = span;
        self.shift = shift;
        self.radix = Arr::Own(radix);
    }
}

/// The first index of `v` (sorted by key) whose key is not below `key`, searched by galloping from
/// `guess` in the direction of the answer: the same result as a binary search over the whole slice.
fn lower_bound_near(v: &[AldRow], key: u64, guess: usize) -> usize {
    let g = guess.min(v.len());
    if v.get(g).is_some_and(|a| a.key < key) {
        // Every row up to `lo` is below `key`.
        let (mut lo, mut step) = (g, 1);
        while v.get(lo + step).is_some_and(|a| a.key < key) {
            lo += step;
            step *= 2;
        }
        let hi = (lo + step + 1).min(v.len());
        lo + v[lo..hi].partition_point(|a| a.key < key)
    } else {
        // Every row from `hi` on is at or above `key`.
        let (mut hi, mut step) = (g, 1);
        while hi >= step && v[hi - step].key >= key {
            hi -= step;
            step *= 2;
        }
        let lo = hi.saturating_sub(step);
        lo + v[lo..hi].partition_point(|a| a.key < key)
    }
}

/// Number of radix buckets for a key span and shift (the radix table has one more entry).
fn radix_buckets(span: u64, shift: u32) -> usize {
    (((span.max(1) - 1) >> shift.min(63)) + 1) as usize
}

impl Parts<'_> {
    /// The invariants the lookups rely on, checked on a snapshot's arrays after their checksums (a
    /// corrupt file must not make a lookup read out of bounds or answer wrongly): as many keys as rows,
    /// keys sorted, a radix table of the right size, non-decreasing, whose every bucket starts at the
    /// first key of the bucket, insurer indices in range, ALD periods sorted. `Err` says what is wrong.
    pub(crate) fn check(&self) -> Result<(), String> {
        let n = self.keys.len();
        // Bank rows: strictly sorted keys (one per beneficiary), for the binary search of `bank`.
        if self.banks.windows(2).any(|w| w[0].key >= w[1].key) {
            return Err("bank rows not sorted by beneficiary".into());
        }
        if self.rows.len() != n {
            return Err(format!("{} keys but {} rows", n, self.rows.len()));
        }
        if n as u64 > u32::MAX as u64 {
            return Err("more rows than the radix table can index".into());
        }
        if n == 0 {
            return if self.radix.len() == 2 {
                Ok(())
            } else {
                Err("empty store with a radix table".into())
            };
        }
        if self.keys.first() != Some(&self.min)
            || self.keys.last().map(|&k| k - self.min + 1) != Some(self.span)
        {
            return Err("key range does not match the header".into());
        }
        if self.shift >= 64 || self.radix.len() != radix_buckets(self.span, self.shift) + 1 {
            return Err("radix table size does not match the key range".into());
        }
        let (min, shift) = (self.min, self.shift);
        let chunk = 1 << 16;
        let keys_ok = self.keys.par_chunks(chunk).enumerate().all(|(c, ks)| {
            let start = c * chunk;
            ks.windows(2).all(|w| w[0] <= w[1]) && (start == 0 || self.keys[start - 1] <= ks[0])
        });
        if !keys_ok {
            return Err("keys not sorted".into());
        }
        let nb = self.radix.len() - 1;
        let radix_ok = self.radix.last() == Some(&(n as u32))
            && self.radix.par_chunks(chunk).enumerate().all(|(c, rs)| {
                rs.iter().enumerate().all(|(j, &r)| {
                    let b = c * chunk + j;
                    let r = r as usize;
                    // radix[b] = first row whose bucket is ≥ b.
                    r <= n
                        && (b == nb
                            || ((r == n || ((self.keys[r] - min) >> shift) as usize >= b)
                                && (r == 0 || (((self.keys[r - 1] - min) >> shift) as usize) < b)))
                })
            });
        if !radix_ok {
            return Err("radix index inconsistent with the keys".into());
        }
        let na = self.amcs.len();
        if self.rows.par_iter().any(|r| r.amc as usize > na) {
            return Err("a row names an insurer index out of range".into());
        }
        if self.ald.windows(2).any(|w| w[0].key > w[1].key) {
            return Err("ALD periods not sorted".into());
        }
        Ok(())
    }
}

fn trim_cr(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\r").unwrap_or(l)
}

/// Column positions of the beneficiaries table.
struct Cols {
    n: usize,
    /// Optional bank columns (a table written before them still loads).
    iban: Option<usize>,
    bic: Option<usize>,
    nir: usize,
    rank: usize,
    birth: usize,
    from: usize,
    to: usize,
    regime: usize,
    local: usize,
    c2s: usize,
    amc: usize,
    contract: usize,
    pf_year: usize,
    pf_used: usize,
}

impl Cols {
    fn new(file: &str, header: &[u8]) -> Result<Cols, LoadError> {
        let names: Vec<&[u8]> = header
            .split(|&b| b == b'\t')
            .map(|c| c.trim_ascii())
            .collect();
        let find = |n: &str| {
            names
                .iter()
                .position(|c| *c == n.as_bytes())
                .ok_or_else(|| LoadError {
                    file: file.into(),
                    line: 1,
                    column: 1,
                    reason: format!("missing column `{n}`"),
                })
        };
        let opt = |n: &str| names.iter().position(|c| *c == n.as_bytes());
        Ok(Cols {
            n: names.len(),
            iban: opt("iban"),
            bic: opt("bic"),
            nir: find("nir")?,
            rank: find("rank")?,
            birth: find("birth_date")?,
            from: find("valid_from")?,
            to: find("valid_to")?,
            regime: find("regime")?,
            local: find("local_regime")?,
            c2s: find("c2s")?,
            amc: find("amc")?,
            contract: find("contract")?,
            pf_year: find("pf_year")?,
            pf_used: find("pf_used")?,
        })
    }
    /// A column number for messages (1-based field index; the exact byte column is computed on error).
    fn pos(&self, i: usize) -> usize {
        i + 1
    }
}

/// The bank columns of every row that has them, by key (a second pass over the chunks, only when the
/// table has an `iban` column; the rows were checked by the first). For a beneficiary with several
/// rows the last row in file order that has bank details wins. Values are kept as read: they are
/// validated when a transfer is ordered (an invalid IBAN holds it, formats/payment-orders.md).
fn load_banks(body: &[u8], cuts: &[usize], c: &Cols) -> Vec<BankRow> {
    let Some(ib) = c.iban else {
        return Vec::new();
    };
    let wanted = [c.nir, c.rank, ib, c.bic.unwrap_or(usize::MAX)];
    let last = wanted
        .iter()
        .copied()
        .filter(|&i| i != usize::MAX)
        .max()
        .unwrap_or(0);
    // Per chunk, rows in file order (no per-line allocation: the four fields are picked in one split).
    let parts: Vec<Vec<BankRow>> = cuts
        .par_windows(2)
        .map(|w| {
            let mut out = Vec::new();
            for raw in body[w[0]..w[1]].split(|&b| b == b'\n') {
                let l = trim_cr(raw);
                if l.is_empty() || l.first() == Some(&b'#') {
                    continue;
                }
                let mut f: [&[u8]; 4] = [&[]; 4];
                for (i, part) in l.split(|&b| b == b'\t').enumerate().take(last + 1) {
                    for (k, &want) in wanted.iter().enumerate() {
                        if want == i {
                            f[k] = part.trim_ascii();
                        }
                    }
                }
                let [nir, rank, iban, bic] = f;
                if iban.is_empty() && bic.is_empty() {
                    continue;
                }
                let rank = parse_uint(rank).unwrap_or(0) as u16;
                let (Some(key), Ok(iban), Ok(bic)) = (
                    benef_key(nir, rank),
                    std::str::from_utf8(iban),
                    std::str::from_utf8(bic),
                ) else {
                    continue;
                };
                if let Some(account) = super::bank::BankAccount::from_text(iban, bic) {
                    out.push(BankRow { key, account });
                }
            }
            out
        })
        .collect();
    let mut all: Vec<BankRow> = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for p in parts {
        all.extend(p);
    }
    // Stable sort: the rows of one beneficiary stay in file order; the last one wins.
    all.par_sort_by_key(|r| r.key);
    let mut n = 0usize;
    for i in 0..all.len() {
        if n > 0 && all[n - 1].key == all[i].key {
            all[n - 1] = all[i];
        } else {
            all[n] = all[i];
            n += 1;
        }
    }
    all.truncate(n);
    all.shrink_to_fit();
    all
}

type ChunkRows = Vec<(u64, BenefRow, [u8; 10], [u8; 2], u32)>;

/// Parses a chunk of data lines; errors are (line within chunk, byte column, reason).
fn parse_chunk(
    chunk: &[u8],
    c: &Cols,
    amc_known: &(dyn Fn(&[u8; 10], &[u8; 2]) -> bool + Sync),
) -> Result<ChunkRows, (usize, usize, String)> {
    let mut out = Vec::with_capacity(chunk.len() / 70);
    // Most rows name one of a few insurers: remember the last one checked (a hash probe per row saved).
    let mut last_known: Option<([u8; 10], [u8; 2])> = None;
    let mut fields: [(usize, &[u8]); 32] = [(0, &[]); 32];
    for (li, raw) in chunk.split(|&b| b == b'\n').enumerate() {
        let l = trim_cr(raw);
        if l.is_empty() || l.first() == Some(&b'#') || l.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let mut nf = 0;
        let mut start = 0;
        for (k, part) in l.split(|&b| b == b'\t').enumerate() {
            if k < fields.len() {
                fields[k] = (start + 1, part.trim_ascii());
                nf = k + 1;
            }
            start += part.len() + 1;
        }
        let f = |i: usize| if i < nf { fields[i].1 } else { &b""[..] };
        let col = |i: usize| if i < nf { fields[i].0 } else { l.len() + 1 };
        let err = |i: usize, name: &str, why: String| Err((li, col(i), format!("{name}: {why}")));
        let _ = c.n;
        let nir = f(c.nir);
        let rank = match parse_uint(f(c.rank)) {
            Some(r) if r <= 999 => r as u16,
            _ => {
                return err(
                    c.rank,
                    "rank",
                    format!("`{}` is not a 3-digit rank", show(f(c.rank))),
                );
            }
        };
        let Some(key) = benef_key(nir, rank) else {
            return err(
                c.nir,
                "nir",
                format!("`{}` is not a 13-character NIR (digits, 2A/2B)", show(nir)),
            );
        };
        let date = |i: usize, name: &str| -> Result<Date, (usize, usize, String)> {
            std::str::from_utf8(f(i))
                .ok()
                .and_then(Date::parse_iso)
                .ok_or((
                    li,
                    col(i),
                    format!(
                        "{name}: bad date `{}` (expected a real YYYY-MM-DD)",
                        show(f(i))
                    ),
                ))
        };
        let birth = date(c.birth, "birth_date")?;
        let from = date(c.from, "valid_from")?;
        let to = if f(c.to).is_empty() {
            Date::MAX
        } else {
            date(c.to, "valid_to")?
        };
        if to <= from {
            return err(
                c.to,
                "valid_to",
                format!("valid_to {to} is not after valid_from {from}"),
            );
        }
        let flag = |i: usize, name: &str| -> Result<bool, (usize, usize, String)> {
            match f(i) {
                b"" | b"0" => Ok(false),
                b"1" => Ok(true),
                v => Err((
                    li,
                    col(i),
                    format!("{name}: expected 0 or 1, got `{}`", show(v)),
                )),
            }
        };
        let regime = match parse_uint(f(c.regime)) {
            Some(r) if r <= 99 => r as u8,
            _ => {
                return err(
                    c.regime,
                    "regime",
                    format!("`{}` is not a 2-digit regime", show(f(c.regime))),
                );
            }
        };
        let mut amc = [b' '; 10];
        let mut contract = [b' '; 2];
        let (a, k) = (f(c.amc), f(c.contract));
        if a.len() > 10 || k.len() > 2 {
            return err(
                c.amc,
                "amc",
                "insurer number over 10 or contract over 2 characters".into(),
            );
        }
        amc[..a.len()].copy_from_slice(a);
        contract[..k.len()].copy_from_slice(k);
        if !a.is_empty() && last_known != Some((amc, contract)) {
            if !amc_known(&amc, &contract) {
                return err(
                    c.amc,
                    "amc",
                    "complementary insurer/contract not in amc.tsv".into(),
                );
            }
            last_known = Some((amc, contract));
        }
        let (pf_year, pf_used) = if f(c.pf_year).is_empty() {
            (0, 0)
        } else {
            let y = match parse_uint(f(c.pf_year)) {
                Some(y) if (1900..=9999).contains(&y) => y as u16,
                _ => {
                    return err(
                        c.pf_year,
                        "pf_year",
                        format!("`{}` is not a year", show(f(c.pf_year))),
                    );
                }
            };
            let used = match std::str::from_utf8(f(c.pf_used))
                .ok()
                .and_then(money::parse_euros)
            {
                Some(v) if (0..=i32::MAX as i64).contains(&v) => v as i32,
                _ => {
                    return err(
                        c.pf_used,
                        "pf_used",
                        format!("bad amount `{}`", show(f(c.pf_used))),
                    );
                }
            };
            (y, used)
        };
        let row = BenefRow {
            from: from.0,
            to: to.0,
            birth: birth.0,
            regime,
            local_regime: flag(c.local, "local_regime")? as u8,
            c2s: flag(c.c2s, "c2s")? as u8,
            _pad: 0,
            amc: 0,
            pf_year,
            pf_used,
        };
        out.push((key, row, amc, contract, li as u32));
    }
    Ok(out)
}

fn parse_uint(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 18 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u64, |a, &c| a * 10 + (c - b'0') as u64))
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `ald.tsv`: a dedicated splitter (millions of rows at national scale), same checks and positions as
/// the generic loader: beneficiary known, real dates, `valid_to` after `valid_from`, no overlap.
fn load_ald(dir: &Path, bens: &Beneficiaries) -> Result<Vec<AldRow>, LoadError> {
    let text = super::tsv::read_file(dir, "ald.tsv")?;
    let file = "ald.tsv";
    let err = |line: usize, column: usize, reason: String| LoadError {
        file: file.into(),
        line,
        column,
        reason,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)));
    let header = loop {
        match lines.next() {
            None => return Err(err(1, 1, "no header row".into())),
            Some((_, l)) if l.trim().is_empty() || l.starts_with('#') => continue,
            Some((_, l)) => break l,
        }
    };
    let names: Vec<&str> = header.split('\t').map(str::trim).collect();
    let col = |n: &str| {
        names
            .iter()
            .position(|c| *c == n)
            .ok_or_else(|| err(1, 1, format!("missing column `{n}`")))
    };
    let (cn, cr, cf, ct, ca) = (
        col("nir")?,
        col("rank")?,
        col("valid_from")?,
        col("valid_to")?,
        col("ald")?,
    );
    let mut out: Vec<(u64, Period, [u8; 2], usize)> = Vec::new();
    let mut cells: Vec<(usize, &str)> = Vec::with_capacity(8);
    for (ln, l) in lines {
        if l.trim().is_empty() || l.starts_with('#') {
            continue;
        }
        cells.clear();
        let mut pos = 1;
        for c in l.split('\t') {
            cells.push((pos, c.trim()));
            pos += c.len() + 1;
        }
        let cell = |i: usize| cells.get(i).copied().unwrap_or((l.len() + 1, ""));
        let (pn, nir) = cell(cn);
        let rank = parse_uint(cell(cr).1.as_bytes()).filter(|&r| r <= 999);
        let key = rank
            .and_then(|r| benef_key(nir.as_bytes(), r as u16))
            .ok_or_else(|| {
                err(
                    ln,
                    pn,
                    "nir: not a 13-character NIR with a 3-digit rank".into(),
                )
            })?;
        if !bens.contains(key) {
            return Err(err(
                ln,
                pn,
                "nir: ALD period for a beneficiary not in beneficiaries.tsv".into(),
            ));
        }
        let date = |i: usize, name: &str| {
            let (p, v) = cell(i);
            Date::parse_iso(v).ok_or_else(|| {
                err(
                    ln,
                    p,
                    format!("{name}: bad date `{v}` (expected a real YYYY-MM-DD)"),
                )
            })
        };
        let from = date(cf, "valid_from")?;
        let to = if cell(ct).1.is_empty() {
            Date::MAX
        } else {
            date(ct, "valid_to")?
        };
        if to <= from {
            return Err(err(
                ln,
                cell(ct).0,
                format!("valid_to: valid_to {to} is not after valid_from {from}"),
            ));
        }
        let (pa, a) = cell(ca);
        if a.len() > 2 {
            return Err(err(ln, pa, format!("ald: `{a}` longer than 2 characters")));
        }
        let mut ald = [b' '; 2];
        ald[..a.len()].copy_from_slice(a.as_bytes());
        out.push((key, Period { from, to }, ald, ln));
    }
    out.sort_unstable_by_key(|a| (a.0, a.1.from, a.3));
    for w in out.windows(2) {
        if w[0].0 == w[1].0 && w[0].1.overlaps(&w[1].1) {
            let (l, o) = (w[0].3.max(w[1].3), w[0].3.min(w[1].3));
            return Err(err(
                l,
                1,
                format!("valid_from: ALD period overlaps the one at line {o}"),
            ));
        }
    }
    Ok(out
        .into_iter()
        .map(|(key, p, ald, _)| AldRow {
            key,
            from: p.from.0,
            to: p.to.0,
            ald,
            _pad: [0; 6],
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The staged read-ahead finds, for every key of a batch, the position `find` finds: keys with
    /// one and several rows, keys absent between, below and above the store's keys, repeated keys in
    /// one batch, batches of every length up to 16, with and without ALD rows asked; and an empty
    /// store finds nothing.
    #[test]
    fn a_staged_read_ahead_finds_what_find_finds_for_every_key_of_a_batch() {
        let stored = [3u64, 3, 5, 8, 8, 8, 9, 20, 21, 40, 1 << 20, (1 << 20) + 1];
        let mut b = Beneficiaries {
            keys: Arr::Own(stored.to_vec()),
            rows: Arr::Own(
                (0..stored.len() as u32)
                    .map(|i| BenefRow {
                        birth: 19600101 + i,
                        ..Default::default()
                    })
                    .collect(),
            ),
            ald: Arr::Own(
                [5u64, 8, 40]
                    .iter()
                    .map(|&key| AldRow {
                        key,
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        };
        b.build_radix();
        b.build_ald_index();
        let asked: Vec<u64> = vec![
            0,
            3,
            4,
            8,
            8,
            9,
            40,
            41,
            1 << 20,
            (1 << 20) + 1,
            (1 << 20) + 2,
            20,
            21,
            2,
            5,
            u64::MAX,
            7,
            3,
        ];
        for len in 0..=16 {
            for start in 0..asked.len() - len.min(asked.len()) {
                let keys = &asked[start..start + len];
                let ald: Vec<bool> = keys.iter().map(|k| k % 2 == 0).collect();
                let mut found = vec![Some(usize::MAX); len];
                b.read_ahead(keys, &ald, &mut found);
                let want: Vec<Option<usize>> = keys.iter().map(|&k| b.find(k)).collect();
                assert_eq!(found, want, "{keys:?}");
            }
        }
        assert_eq!(b.find(8), Some(3));
        let empty = Beneficiaries::default();
        let mut found = [Some(0); 3];
        empty.read_ahead(&[0, 3, 8], &[true; 3], &mut found);
        assert_eq!(found, [None; 3]);
    }

    /// The ALD search bounded by the beneficiary's block of rows (`ald_index`) finds the lower bound a
    /// search of the whole ALD list finds, and `ald_at` the period a scan of the whole list finds, for
    /// every beneficiary: one or several rows, rows running across a block's boundary, several ALD
    /// periods, none, ALD rows only at the start or the end of the list; with the index built, not
    /// built (the gallop) and for an ALD list empty.
    #[test]
    fn ald_lower_bound_is_the_whole_lists_lower_bound_for_every_beneficiary() {
        // 400 beneficiaries, key 10 + 7k, with 1 to 3 rows (so that some run across a multiple of
        // ALD_BLOCK rows), and ALD periods for every third one (1 or 2 periods) plus the first and
        // the last.
        let mut keys = Vec::new();
        let mut ald_rows = Vec::new();
        for k in 0..400u64 {
            let key = 10 + 7 * k;
            for _ in 0..1 + (k * 5 % 3) {
                keys.push(key);
            }
            if k % 3 == 1 || k == 0 || k == 399 {
                ald_rows.push(AldRow {
                    key,
                    from: 20200101,
                    to: 20210101,
                    ald: *b"07",
                    _pad: [0; 6],
                });
                if k % 2 == 0 {
                    ald_rows.push(AldRow {
                        key,
                        from: 20220101,
                        to: 20230101,
                        ald: *b"HL",
                        _pad: [0; 6],
                    });
                }
            }
        }
        assert!(keys.len() > 4 * ALD_BLOCK);
        let store = |ald: Vec<AldRow>, index: bool| {
            let mut b = Beneficiaries {
                keys: Arr::Own(keys.clone()),
                rows: Arr::Own(vec![BenefRow::default(); keys.len()]),
                ald: Arr::Own(ald),
                ..Default::default()
            };
            b.build_radix();
            if index {
                b.build_ald_index();
                assert_eq!(b.ald_index.len(), keys.len().div_ceil(ALD_BLOCK) + 1);
            }
            b
        };
        let dates = [20191231, 20200101, 20200615, 20210101, 20220301, 20240101].map(Date);
        for (ald, index) in [
            (ald_rows.clone(), true),
            (ald_rows.clone(), false),
            (Vec::new(), true),
            (ald_rows[..3].to_vec(), true),
            (ald_rows[ald_rows.len() - 3..].to_vec(), true),
        ] {
            let b = store(ald.clone(), index);
            let mut seen = 0;
            for (i, &key) in keys.iter().enumerate() {
                if i > 0 && keys[i - 1] == key {
                    continue;
                }
                seen += 1;
                let want = ald.partition_point(|a| a.key < key);
                assert_eq!(b.ald_lower_bound(key, i), want, "key {key} at {i}");
                let v = b.get(key).expect("stored key");
                for d in dates {
                    let scan = ald
                        .iter()
                        .find(|a| a.key == key && a.period().contains(d))
                        .map(|a| (a.period(), a.ald));
                    assert_eq!(v.ald_at(d), scan, "key {key} on {d}");
                }
            }
            assert_eq!(seen, 400);
            // The read-ahead over the blocks' ALD rows finds the same positions.
            let asked: Vec<u64> = keys.iter().step_by(37).copied().take(16).collect();
            let mut found = vec![None; asked.len()];
            b.read_ahead(&asked, &vec![true; asked.len()], &mut found);
            let want: Vec<Option<usize>> = asked.iter().map(|&k| b.find(k)).collect();
            assert_eq!(found, want);
        }
    }

    /// Property, against a scan of the whole ALD list, over 600 random stores: `ald_at` of every
    /// stored beneficiary on dates around every period's bounds finds what the scan finds, with the
    /// block index built and not — stores of 0 to ≈ 600 rows (fewer than one block of
    /// [`ALD_BLOCK`] rows, exactly one, a few), beneficiaries of 1 to 4 rows (so that their rows
    /// straddle block boundaries), 0 to 3 ALD periods each, ALD rows for keys the store does not
    /// hold (below its first key, between keys, above its last), an empty ALD list. The staged
    /// read-ahead finds the rows `find` finds (it reads the blocks' ALD spans).
    #[test]
    fn ald_at_with_the_block_index_is_a_scan_of_the_whole_list_on_random_stores() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |m: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % m.max(1)
        };
        let period = |from: u32| -> (u32, u32) {
            let from = 20200101 + from;
            (from, from + 1 + (from % 97))
        };
        for case in 0..600u64 {
            // Sizes: mostly small (below, at and just past one block), some of several blocks.
            let benefs = match case % 6 {
                0 => next(4),
                1 => next(20),
                2 => ALD_BLOCK as u64 - 1 + next(3),
                3 => next(64),
                _ => 30 + next(170),
            };
            let (mut keys, mut ald_rows) = (Vec::new(), Vec::new());
            let mut key = 1 + next(5);
            let ald_all = case % 7 == 0;
            let ald_none = case % 11 == 0;
            let mut push_ald = |key: u64, n: u64, next: &mut dyn FnMut(u64) -> u64| {
                let mut ps: Vec<(u32, u32)> = (0..n).map(|_| period(next(400) as u32)).collect();
                ps.sort();
                for (from, to) in ps {
                    ald_rows.push(AldRow {
                        key,
                        from,
                        to,
                        ald: [b'0' + (from % 10) as u8, b'7'],
                        _pad: [0; 6],
                    });
                }
            };
            if !ald_none && next(3) == 0 {
                push_ald(0, 1 + next(2), &mut next); // below the store's first key
            }
            for _ in 0..benefs {
                for _ in 0..1 + next(4) {
                    keys.push(key);
                }
                if !ald_none && (ald_all || next(3) == 0) {
                    let n = 1 + next(3);
                    push_ald(key, n, &mut next);
                }
                if !ald_none && next(9) == 0 {
                    push_ald(key + 1, 1, &mut next); // a key the store does not hold
                }
                key += 2 + next(6);
            }
            if !ald_none && next(3) == 0 {
                push_ald(u64::MAX, 1, &mut next); // above its last key
            }
            for index in [true, false] {
                let mut b = Beneficiaries {
                    keys: Arr::Own(keys.clone()),
                    rows: Arr::Own(vec![BenefRow::default(); keys.len()]),
                    ald: Arr::Own(ald_rows.clone()),
                    ..Default::default()
                };
                b.build_radix();
                if index {
                    b.build_ald_index();
                    assert_eq!(b.ald_index.len(), keys.len().div_ceil(ALD_BLOCK) + 1);
                }
                for (i, &k) in keys.iter().enumerate() {
                    if i > 0 && keys[i - 1] == k {
                        continue;
                    }
                    let v = b.get(k).expect("stored key");
                    // Around every bound of its own periods and of its neighbours' (the keys
                    // either side), and outside them all.
                    let mut dates: Vec<Date> = vec![Date(20191231), Date(20220101)];
                    for a in ald_rows.iter().filter(|a| a.key.abs_diff(k) <= 8) {
                        dates.extend([a.from - 1, a.from, a.to - 1, a.to].map(Date));
                    }
                    for &d in &dates {
                        let scan = ald_rows
                            .iter()
                            .find(|a| a.key == k && a.period().contains(d))
                            .map(|a| (a.period(), a.ald));
                        assert_eq!(
                            v.ald_at(d),
                            scan,
                            "case {case}, index {index}, key {k} at row {i} of {}, on {d}",
                            keys.len()
                        );
                    }
                }
                let asked: Vec<u64> = (0..16).map(|_| next(key + 2)).collect();
                let mut found = vec![None; asked.len()];
                b.read_ahead(&asked, &[true; 16], &mut found);
                let want: Vec<Option<usize>> = asked.iter().map(|&k| b.find(k)).collect();
                assert_eq!(found, want, "case {case}");
            }
        }
    }

    /// The galloping search gives the binary search's lower bound from any guess, for keys present,
    /// absent, below and above every row, repeated keys and the empty list.
    #[test]
    fn lower_bound_near_is_the_lower_bound_from_any_guess() {
        let keys = [3u64, 3, 5, 8, 8, 8, 9, 20, 21, 40];
        for len in 0..=keys.len() {
            let v: Vec<AldRow> = keys[..len]
                .iter()
                .map(|&key| AldRow {
                    key,
                    ..Default::default()
                })
                .collect();
            for key in 0..45 {
                let want = v.partition_point(|a| a.key < key);
                for guess in 0..len + 3 {
                    assert_eq!(
                        lower_bound_near(&v, key, guess),
                        want,
                        "{len} {key} {guess}"
                    );
                }
            }
        }
    }
}
