//! The packed form of a beneficiary's running state ([`BenefState`]), the one form a state has at
//! rest: in the engine's shards between two claims (`states`: issue #13) and in a ledger between two
//! nights (issue #14) — a ledger's stored bytes are copied into a shard as they are, and a shard's
//! bytes are what the ledger commits. A version byte, then each field
//! in a compact layout — LEB128 varints for counts, years and amounts (zigzag for signed cents),
//! dates as 2-byte day numbers, practitioners as fixed u32 (formats/ledger.md, "benefs"). Hand-written
//! rather than derived so that the core's state type needs no serialisation traits and the layout is
//! documented byte by byte. Compact because every stored byte is read, merged and written again by
//! each night that touches the state's bucket (issue #14: a national ledger holds ≈ 10 M states).

use crate::date::Date;
use crate::money::Cents;
use crate::rules::debt::{Debt, DebtKind, DebtOrigin, PackedDebts};
use crate::rules::{BenefState, DailyCount};
use smallvec::SmallVec;

/// Layout version of an encoded state (1: fixed-width fields, ledger layout 2).
pub const VERSION: u8 = 2;

#[derive(Debug, thiserror::Error)]
#[error("stored beneficiary state unreadable: {0}")]
pub struct DecodeError(pub &'static str);

/// The largest amount a state holds, in cents, either sign: each counter, franchise day, debt
/// amount and recovered amount, and the sum of a state's open debts (formats/ledger.md, "What is
/// refused as corrupt"). 999 999 999 999 is the largest billed total a B2 batch trailer can state
/// (12 digits): no counter or debt, fed by the capped participations and franchises of the claims,
/// comes near it, and a state beyond it is refused as corrupt. Bounded so that nothing that sums a
/// state's amounts (`BenefState::open_debt_cents`, the rules adding a night's amounts to a counter)
/// can overflow on a stored state: the core never panics on input, a corrupt ledger included.
pub const MAX_CENTS: i64 = 999_999_999_999;

/// Keeps only what a batch dated on or after the one that set `oldest` can still use: daily entries
/// whose date of care is on or after `oldest`, yearly counters of `oldest`'s year and later. Anything
/// older could only matter to care that the time limit rejects (`R012`) before it reaches the state.
pub fn prune(s: &mut BenefState, oldest: Date) {
    let year = oldest.year();
    s.daily.retain(|d| d.date >= oldest);
    s.fr_by_day.retain(|d| d.0 >= oldest);
    s.pf_by_year.retain(|y| y.0 >= year);
    s.fr_by_year.retain(|y| y.0 >= year);
}

/// Whether `s` holds nothing [`prune`] for `oldest` would drop — no yearly counter of a year
/// before `oldest`'s, no franchise day or session dated before `oldest` — and nothing before its
/// debts that [`decode`] refuses (every counter and franchise day within ±[`MAX_CENTS`]): its
/// packed bytes ([`encode`]) are then what [`append_pruned_read`] appends, without the walk
/// (`states::Shard::fresh_at`, the `FRESH` bit a shard keeps for each state). The same
/// comparisons as [`prunable`] makes on the packed bytes (a day number is below `oldest`'s exactly
/// when its date is before `oldest`: [`Oldest`]).
pub fn fresh(s: &BenefState, oldest: Date) -> bool {
    let year = oldest.year();
    s.pf_by_year
        .iter()
        .chain(s.fr_by_year.iter())
        .all(|&(y, c)| y >= year && within(c))
        && s.fr_by_day.iter().all(|&(d, c)| d >= oldest && within(c))
        && s.daily.iter().all(|d| d.date >= oldest)
}

pub fn encode(s: &BenefState, out: &mut Vec<u8>) {
    out.clear();
    encode_with::<false>(s, Date(0), Date(0), out);
}

/// [`encode`], and [`fresh`]`(s, day)` worked out as the entries are written (the engine packs the
/// state every paid claim leaves: a second walk of it for the bit was ≈ 0.13 s of a national
/// night's CPU, `perf`).
pub fn encode_fresh(s: &BenefState, day: Date, out: &mut Vec<u8>) -> bool {
    out.clear();
    encode_with::<false>(s, Date(0), day, out)
}

/// Appends an unsigned LEB128 varint: 7 bits a byte, low bits first, high bit = more bytes follow.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Cents as a zigzag varint (0, -1, 1, -2… → 0, 1, 2, 3…): counters and debts are positive, but
/// a corrected counter (`reprocess`) may go below zero and must come back as it was.
fn put_cents(out: &mut Vec<u8>, c: i64) {
    put_varint(out, ((c << 1) ^ (c >> 63)) as u64);
}

/// Day 0 of the 2-byte day numbers: 2000-01-01 (`Date::to_days`; pinned by a test). The codecs
/// count from it by table ([`YEAR_START`]); the tests check them against `Date::to_days` − EPOCH.
#[cfg(test)]
const EPOCH: i64 = 730_425;

/// Escape of the 2-byte day number: a raw `YYYYMMDD` u32 follows (a date before 2000, from 2179 on,
/// or not a calendar date).
const RAW_DATE: u16 = u16::MAX;

/// Years of the day numbers' table: 2000 to 2179, the last one reached by the largest day number a
/// record may hold (65 534: 2179-06-04), though `put_date` writes none from 2179 on.
const YEARS: usize = 180;

/// Whether `y` is a leap year (Gregorian).
const fn leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

/// Day number of 1 January of each year from 2000 (`Date::to_days` − [`EPOCH`]), then the day
/// number after the table's last year: the date codecs look a year up instead of the calendar's
/// divisions (each state a claim touches is decoded and packed again: issue #13).
const YEAR_START: [u32; YEARS + 1] = {
    let mut t = [0u32; YEARS + 1];
    let mut i = 0;
    while i < YEARS {
        t[i + 1] = t[i] + if leap(2000 + i as u32) { 366 } else { 365 };
        i += 1;
    }
    t
};

/// Days of the year before the first of each month (index 1 to 12; 13: the year's length), in a
/// common year; a leap year adds one from March.
const MONTH_START: [u32; 14] = [
    0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365,
];

/// Day number of the first of each month from January 2000 (index `(year − 2000) × 12 + month −
/// 1`), then of January 2180: [`day_number`] reads a month's first day and its length from two
/// neighbours, where it worked out the leap year and added a year's and a month's start (every
/// date of every state a paid claim leaves is packed: issue #13).
const MONTH_DAY0: [u32; YEARS * 12 + 1] = {
    let mut t = [0u32; YEARS * 12 + 1];
    let mut y = 0;
    while y < YEARS {
        let mut m = 1;
        while m <= 12 {
            t[y * 12 + m - 1] =
                YEAR_START[y] + MONTH_START[m] + (leap(2000 + y as u32) && m > 2) as u32;
            m += 1;
        }
        y += 1;
    }
    t[YEARS * 12] = YEAR_START[YEARS];
    t
};

/// The 2-byte day number of a calendar date in [2000-01-01, 2179-01-01), else `None` (stored raw).
/// The same number as `Date::to_days` − [`EPOCH`] (pinned over every day by a test), by table.
#[inline]
fn day_number(d: Date) -> Option<u16> {
    let v = d.0;
    if !(20000101..21790101).contains(&v) {
        return None;
    }
    let md = v % 10000;
    let (m, day) = (md / 100, md % 100);
    if !(1..=12).contains(&m) || day == 0 {
        return None;
    }
    let k = ((v / 10000 - 2000) * 12 + m - 1) as usize;
    let (first, next) = (*MONTH_DAY0.get(k)?, *MONTH_DAY0.get(k + 1)?);
    if day > next - first {
        return None;
    }
    u16::try_from(first + day - 1).ok()
}

/// The date of a 2-byte day number (any below [`RAW_DATE`]): `Date::from_days(n + EPOCH)`, by
/// table (pinned over every number by a test): the month's index estimated from the mean
/// Gregorian month (4 800 months in 146 097 days) is the month or a neighbour, and
/// [`MONTH_DAY0`] says which and where it starts. Every date a reader of a packed state decodes
/// comes through here: searching the year, then the month by their lengths, it was ≈ 70
/// instructions a date (callgrind, issue #14).
#[inline]
fn date_of(n: u16) -> Date {
    let n = u32::from(n);
    let months = YEARS * 12;
    // every month's first day is in the table (and the first day after them): never the fallback
    let day0 = |k: usize| MONTH_DAY0.get(k).copied().unwrap_or(u32::MAX);
    let mut k = ((u64::from(n) * 4800 / 146_097) as usize).min(months - 1);
    while k > 0 && day0(k) > n {
        k -= 1;
    }
    while k + 1 < months && day0(k + 1) <= n {
        k += 1;
    }
    let (y, m) = (2000 + (k / 12) as u32, (k % 12) as u32 + 1);
    Date(y * 10000 + m * 100 + n - day0(k) + 1)
}

fn put_date(out: &mut Vec<u8>, d: Date) {
    // A calendar date in [2000-01-01, 2179-01-01) has a day number below `RAW_DATE` and comes back
    // exactly through `date_of`; this runs for every date of every state a night writes.
    match day_number(d) {
        Some(n) => out.extend_from_slice(&n.to_le_bytes()),
        None => {
            out.extend_from_slice(&RAW_DATE.to_le_bytes());
            out.extend_from_slice(&d.0.to_le_bytes());
        }
    }
}

/// Appends to `out` what [`prune`] then [`encode`] would give, without copying the state.
pub fn encode_pruned(s: &BenefState, oldest: Date, out: &mut Vec<u8>) {
    encode_with::<true>(s, oldest, Date(0), out);
}

/// The layout, written once for both: with `PRUNE` false (`encode`, every state a claim leaves in a
/// shard: issue #13) the filters are constants and the counts the lists' lengths.
///
/// Returns [`fresh`]`(s, day)`, worked out on the way (one comparison an entry: [`encode_fresh`]).
#[inline]
fn encode_with<const PRUNE: bool>(
    s: &BenefState,
    oldest: Date,
    day: Date,
    out: &mut Vec<u8>,
) -> bool {
    let year = oldest.year();
    let keep_year = |y: &&(u32, i64)| !PRUNE || y.0 >= year;
    out.push(VERSION);
    out.push(s.seeded as u8);
    let day_year = day.year();
    let mut fresh = years(out, s.pf_by_year.iter().filter(keep_year), day_year);
    fresh &= years(out, s.fr_by_year.iter().filter(keep_year), day_year);
    let fr_days = || s.fr_by_day.iter().filter(|d| !PRUNE || d.0 >= oldest);
    put_varint(out, fr_days().count() as u64);
    for (d, v) in fr_days() {
        fresh &= *d >= day && within(*v);
        put_date(out, *d);
        put_cents(out, *v);
    }
    let daily = || s.daily.iter().filter(|d| !PRUNE || d.date >= oldest);
    put_varint(out, daily().count() as u64);
    for d in daily() {
        fresh &= d.date >= day;
        out.extend_from_slice(&d.practitioner.to_le_bytes());
        put_date(out, d.date);
        out.push(d.pf);
        out.push(d.exclusive);
        // flags in the low 2 bits, the count of association codes above them
        put_varint(
            out,
            (d.main_codes.len() as u64) << 2 | d.consult as u64 | (d.tech_act as u64) << 1,
        );
        out.extend(d.main_codes.iter());
        put_varint(out, d.acts.len() as u64);
        for a in d.acts.iter() {
            out.extend_from_slice(a);
        }
    }
    // the debts still packed (the oldest: `BenefState::packed_debts`) as they are, then the others
    let debts = s.open_debts();
    put_varint(out, (s.packed_debts.count + debts.len()) as u64);
    out.extend_from_slice(&s.packed_debts.bytes);
    for d in debts {
        let o = &d.origin;
        put_date(out, o.created);
        out.extend_from_slice(&o.practitioner.to_le_bytes());
        put_varint(out, o.claim as u64);
        // the kind in the low bit, the line above it
        put_varint(
            out,
            (o.line as u64) << 1
                | match o.kind {
                    DebtKind::Participation => 0,
                    DebtKind::Franchise => 1,
                },
        );
        put_date(out, o.date_of_care);
        put_cents(out, d.amount);
        // what was recovered already (0 for most: one byte)
        put_cents(out, d.amount - d.open);
    }
    fresh
}

/// Writes yearly counters; whether each is of `year` or later and within ±[`MAX_CENTS`].
fn years<'a>(
    out: &mut Vec<u8>,
    v: impl Iterator<Item = &'a (u32, i64)> + Clone,
    year: u32,
) -> bool {
    put_varint(out, v.clone().count() as u64);
    let mut fresh = true;
    for (y, c) in v {
        fresh &= *y >= year && within(*c);
        put_varint(out, *y as u64);
        put_cents(out, *c);
    }
    fresh
}

/// Whether an amount is one [`decode`] reads back (within ±[`MAX_CENTS`]).
#[inline(always)]
fn within(c: Cents) -> bool {
    (-MAX_CENTS..=MAX_CENTS).contains(&c)
}

struct Rd<'a>(&'a [u8]);

impl Rd<'_> {
    #[inline(always)]
    fn take<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        if self.0.len() < N {
            return Err(DecodeError("truncated"));
        }
        let (a, b) = self.0.split_at(N);
        self.0 = b;
        let mut r = [0u8; N];
        r.copy_from_slice(a);
        Ok(r)
    }
    #[inline(always)]
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take::<1>()?[0])
    }
    #[inline(always)]
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    /// A varint: of one or two bytes, read inline (the values the loop of [`Rd::varint_long`]
    /// gives them); longer ones by that loop. Most of a state's fields are counts, years and
    /// amounts of a byte or two, and every reader of a packed state (the rules' decode, the
    /// end-of-run debts, the ledger's checks and pruning) reads them one by one: as a call each,
    /// returning its `Result` through memory, they were a third of the ledger's added
    /// instructions on a night 2 (callgrind, issue #14).
    #[inline(always)]
    fn varint(&mut self) -> Result<u64, DecodeError> {
        match *self.0 {
            [b0, ref rest @ ..] if b0 & 0x80 == 0 => {
                self.0 = rest;
                Ok(u64::from(b0))
            }
            [b0, b1, ref rest @ ..] if b1 & 0x80 == 0 => {
                self.0 = rest;
                Ok(u64::from(b0 & 0x7f) | u64::from(b1) << 7)
            }
            _ => self.varint_long(),
        }
    }
    /// [`Rd::varint`] of any length (the loop it always was).
    #[inline(never)]
    fn varint_long(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError("varint too long"))
    }
    #[inline(always)]
    fn small<T: TryFrom<u64>>(&mut self) -> Result<T, DecodeError> {
        T::try_from(self.varint()?).map_err(|_| DecodeError("value out of range"))
    }
    #[inline(always)]
    fn cents(&mut self) -> Result<i64, DecodeError> {
        let z = self.varint()?;
        let c = (z >> 1) as i64 ^ -((z & 1) as i64);
        if !(-MAX_CENTS..=MAX_CENTS).contains(&c) {
            return Err(DecodeError("amount beyond the maximum"));
        }
        Ok(c)
    }
    #[inline(always)]
    fn date(&mut self) -> Result<Date, DecodeError> {
        let n = u16::from_le_bytes(self.take()?);
        if n == RAW_DATE {
            Ok(Date(self.u32()?))
        } else {
            Ok(date_of(n))
        }
    }
    /// Whether the date that follows is before `oldest` ([`Before`]): `self.date()? < oldest`,
    /// without decoding a 2-byte day number into a calendar date.
    #[inline(always)]
    fn date_before(&mut self, oldest: Oldest) -> Result<bool, DecodeError> {
        let n = u16::from_le_bytes(self.take()?);
        if n == RAW_DATE {
            return Ok(Date(self.u32()?) < oldest.date);
        }
        Ok(match oldest.number {
            Some(o) => n < o,
            None => date_of(n) < oldest.date,
        })
    }
    #[inline(always)]
    fn skip(&mut self, n: usize) -> Result<(), DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError("truncated"));
        }
        self.0 = &self.0[n..];
        Ok(())
    }
    #[inline(always)]
    fn skip_date(&mut self) -> Result<(), DecodeError> {
        if u16::from_le_bytes(self.take()?) == RAW_DATE {
            self.skip(4)?;
        }
        Ok(())
    }
    #[inline]
    fn debt(&mut self) -> Result<Debt, DecodeError> {
        let created = self.date()?;
        let practitioner = self.u32()?;
        let claim = self.small()?;
        let line_kind = self.varint()?;
        let origin = DebtOrigin {
            created,
            practitioner,
            claim,
            line: u16::try_from(line_kind >> 1)
                .map_err(|_| DecodeError("debt line out of range"))?,
            date_of_care: self.date()?,
            kind: if line_kind & 1 == 0 {
                DebtKind::Participation
            } else {
                DebtKind::Franchise
            },
        };
        let (amount, open) = self.debt_amounts()?;
        Ok(Debt {
            origin,
            amount,
            open,
        })
    }
    /// A debt's amount and open amount (`0 < open ≤ amount`, else an error).
    #[inline(always)]
    fn debt_amounts(&mut self) -> Result<(Cents, Cents), DecodeError> {
        let amount = self.cents()?;
        // both within ±MAX_CENTS: the difference cannot overflow
        let open = amount - self.cents()?;
        if open <= 0 || open > amount {
            return Err(DecodeError("debt open amount out of range"));
        }
        Ok((amount, open))
    }
    /// A debt's open amount, every field checked as [`Rd::debt`] checks it, its dates skipped
    /// rather than decoded (the end-of-run totals read millions of debts).
    #[inline]
    fn debt_open(&mut self) -> Result<Cents, DecodeError> {
        self.skip_date()?;
        self.skip(4)?;
        self.small::<u32>()?;
        if self.varint()? >> 1 > u16::MAX as u64 {
            return Err(DecodeError("debt line out of range"));
        }
        self.skip_date()?;
        Ok(self.debt_amounts()?.1)
    }
    /// The open debts that follow the reader's position to the record's end: their count and open
    /// total (at most [`MAX_CENTS`]), each pushed to `out` if given. Checks what `decode` checks.
    fn debts(&mut self, mut out: Option<&mut Vec<Debt>>) -> Result<(u64, Cents), DecodeError> {
        let n = self.count(11)?;
        let mut total: Cents = 0;
        for _ in 0..n {
            let open = match out.as_deref_mut() {
                Some(v) => {
                    let d = self.debt()?;
                    let open = d.open;
                    v.push(d);
                    open
                }
                None => self.debt_open()?,
            };
            total = open_total(total, open)?;
        }
        if !self.0.is_empty() {
            return Err(DecodeError("trailing bytes"));
        }
        Ok((n as u64, total))
    }
    /// A count of items of at least `min` bytes each: never more than the bytes left could hold
    /// (a corrupt count must not make the decoder reserve gigabytes).
    #[inline(always)]
    fn count(&mut self, min: usize) -> Result<usize, DecodeError> {
        let n = self.small::<usize>()?;
        if n.saturating_mul(min.max(1)) > self.0.len() {
            return Err(DecodeError("count beyond the record"));
        }
        Ok(n)
    }
}

/// `total + open`, refused beyond [`MAX_CENTS`]: a state's open debts total at most that.
#[inline]
fn open_total(total: Cents, open: Cents) -> Result<Cents, DecodeError> {
    // both within MAX_CENTS (≈ 2^40): the sum cannot overflow
    let t = total + open;
    if t > MAX_CENTS {
        return Err(DecodeError("open debts beyond the maximum"));
    }
    Ok(t)
}

/// Decodes a packed state.
pub fn decode(b: &[u8]) -> Result<BenefState, DecodeError> {
    let mut s = BenefState::default();
    decode_into(b, &mut s)?;
    Ok(s)
}

/// Decodes a packed state into `s`, replacing what it held and reusing its memory: the engine's
/// working copy of the state of the claim being liquidated (`states::Shard::liquidate`). On an
/// error `s` holds part of the record: the caller must not use it.
pub fn decode_into(b: &[u8], s: &mut BenefState) -> Result<(), DecodeError> {
    decode_counting_debts(b, s).map(|_| ())
}

/// [`decode_into`], and whether the record holds debts — what [`has_debts`] answers, from the
/// same pass: a state carried from a ledger is decoded once for its first claim and its slot made
/// with that flag (`states::Shard::with_state`), instead of a second pass to the debts first.
pub fn decode_into_has_debts(b: &[u8], s: &mut BenefState) -> Result<bool, DecodeError> {
    decode_counting_debts(b, s).map(|n| n > 0)
}

/// [`decode_into`]; the count of debts the record holds (`push_debt` keeps only those with
/// something open: the count is the record's, as [`has_debts`] reads it).
fn decode_counting_debts(b: &[u8], s: &mut BenefState) -> Result<usize, DecodeError> {
    decode_with::<false, true>(b, s, Date(0)).map(|d| d.0)
}

/// [`decode_into_has_debts`] for the engine's working copy: the debts checked field by field as
/// [`decode`] checks them but left packed (`BenefState::packed_debts`, with their count and open
/// total), not decoded one by one: most claims never read them, and [`encode`] writes them back as
/// they are (`BenefState::unpack_debts` decodes them for a rule that does: LEDGER26).
///
/// Returns whether the record holds debts, and [`fresh`]`(s, day)` worked out on the way (a state
/// carried from a ledger: the `FRESH` bit of its slot if the claim leaves it as it was).
pub(crate) fn decode_into_lazy(
    b: &[u8],
    s: &mut BenefState,
    day: Date,
) -> Result<(bool, bool), DecodeError> {
    decode_with::<true, true>(b, s, day).map(|(n, fresh)| (n > 0, fresh))
}

/// [`decode_into_lazy`] of a record known to read — packed by the shard, or checked as it entered
/// it (`states::Shard::checked`): the debts' count read, their bytes taken as they are, not walked
/// (their open total is summed if asked: [`packed_open`]). Every other field is decoded with its
/// checks, as by [`decode_into`].
pub(crate) fn decode_into_known(b: &[u8], s: &mut BenefState) -> Result<(), DecodeError> {
    decode_with::<true, false>(b, s, Date(0)).map(|_| ())
}

/// The open total of debts held packed: summed as [`decode_into_lazy`] checks them. Called only on
/// debts that read (checked as they were taken, or packed by the shard): of a record that would
/// not, what reads before the fault.
pub(crate) fn packed_open(p: &PackedDebts) -> Cents {
    let mut r = Rd(&p.bytes);
    let mut total = 0;
    for _ in 0..p.count {
        match r.debt_open().and_then(|o| open_total(total, o)) {
            Ok(t) => total = t,
            Err(_) => break,
        }
    }
    total
}

/// Decodes the debts a working copy holds packed ([`decode_into_lazy`]) to the end of `out`.
pub(crate) fn unpack_debts(p: &PackedDebts, out: &mut Vec<Debt>) -> Result<(), DecodeError> {
    let mut r = Rd(&p.bytes);
    for _ in 0..p.count {
        out.push(r.debt()?);
    }
    Ok(())
}

/// The decode, once for both: `LAZY`, the debts kept packed ([`decode_into_lazy`]). Returns the
/// record's count of debts and whether nothing in it is before `day` ([`fresh`]: the amounts
/// are within ±[`MAX_CENTS`] or the decode fails).
#[inline(always)]
fn decode_with<const LAZY: bool, const CHECK_DEBTS: bool>(
    b: &[u8],
    s: &mut BenefState,
    day: Date,
) -> Result<(usize, bool), DecodeError> {
    let day_year = day.year();
    let mut fresh = true;
    let mut r = Rd(b);
    if r.u8()? != VERSION {
        return Err(DecodeError("unknown layout version"));
    }
    s.pf_by_year.clear();
    s.fr_by_year.clear();
    s.fr_by_day.clear();
    s.daily.clear();
    s.debts.clear();
    s.packed_debts.clear();
    s.seeded = r.u8()? != 0;
    for _ in 0..r.count(2)? {
        let y = r.small()?;
        fresh &= y >= day_year;
        s.pf_by_year.push((y, r.cents()?));
    }
    for _ in 0..r.count(2)? {
        let y = r.small()?;
        fresh &= y >= day_year;
        s.fr_by_year.push((y, r.cents()?));
    }
    for _ in 0..r.count(3)? {
        let d = r.date()?;
        fresh &= d >= day;
        s.fr_by_day.push((d, r.cents()?));
    }
    for _ in 0..r.count(10)? {
        let practitioner = r.u32()?;
        let date = r.date()?;
        let pf = r.u8()?;
        let exclusive = r.u8()?;
        let flags = r.varint()?;
        let n = usize::try_from(flags >> 2).map_err(|_| DecodeError("count beyond the record"))?;
        if n > r.0.len() {
            return Err(DecodeError("count beyond the record"));
        }
        let mut main_codes = SmallVec::new();
        for _ in 0..n {
            main_codes.push(r.u8()?);
        }
        let mut acts = SmallVec::new();
        for _ in 0..r.count(7)? {
            acts.push(r.take::<7>()?);
        }
        fresh &= date >= day;
        s.daily.push(DailyCount {
            practitioner,
            date,
            pf,
            exclusive,
            consult: flags & 1 != 0,
            tech_act: flags & 2 != 0,
            main_codes,
            acts,
        });
    }
    let mut total = 0;
    let debts = r.count(11)?;
    if LAZY && !CHECK_DEBTS {
        s.packed_debts.count = debts;
        s.packed_debts.bytes.extend_from_slice(r.0);
        return Ok((debts, fresh));
    } else if LAZY {
        let body = r.0;
        for _ in 0..debts {
            total = open_total(total, r.debt_open()?)?;
        }
        s.packed_debts.count = debts;
        s.packed_debts.open = Some(total);
        s.packed_debts.bytes.extend_from_slice(body);
    } else {
        for _ in 0..debts {
            let d = r.debt()?;
            total = open_total(total, d.open)?;
            s.push_debt(d);
        }
    }
    if !r.0.is_empty() {
        return Err(DecodeError("trailing bytes"));
    }
    Ok((debts, fresh))
}

/// The reader positioned on the debts' count, every field before it skipped, not decoded: the
/// end-of-run readers of the debts (`debts.tsv`, the summary's totals) go through millions of
/// packed states, most without debts.
fn at_debts(b: &[u8]) -> Result<Rd<'_>, DecodeError> {
    let mut r = Rd(b);
    if r.u8()? != VERSION {
        return Err(DecodeError("unknown layout version"));
    }
    r.skip(1)?;
    for _ in 0..2 {
        for _ in 0..r.count(2)? {
            // a year is read as `decode_into` reads it: one above u32::MAX is refused, so that a
            // record `validate` passes always decodes
            r.small::<u32>()?;
            r.cents()?;
        }
    }
    for _ in 0..r.count(3)? {
        r.skip_date()?;
        r.cents()?;
    }
    for _ in 0..r.count(10)? {
        r.skip(4)?;
        r.skip_date()?;
        r.skip(2)?;
        let n = usize::try_from(r.varint()? >> 2)
            .map_err(|_| DecodeError("count beyond the record"))?;
        r.skip(n)?;
        let acts = r.count(7)?;
        r.skip(acts * 7)?;
    }
    Ok(r)
}

/// The oldest payable day a packed state is pruned for, made once for the many states a commit
/// prunes ([`append_pruned`], [`append_pruned_read`]; `From<Date>`): the day, its year and its
/// 2-byte day number when it has one. Day numbers rise with the dates they stand for ([`date_of`]
/// is [`day_number`]'s inverse, pinned over every number by a test), so a stored number is before
/// the day exactly when it is below the day's ([`Rd::date_before`]): the commit's prune check reads
/// every date of every state the night wrote, and decoding each (`date_of`, ≈ 45 instructions)
/// was a fifth of the check's cost (callgrind of a 100 k night 2 through the ledger: 127 167
/// dates, 5.9 M instructions; issue #14).
#[derive(Clone, Copy, Debug)]
pub struct Oldest {
    date: Date,
    year: u32,
    number: Option<u16>,
}

impl From<Date> for Oldest {
    fn from(date: Date) -> Oldest {
        Oldest {
            date,
            year: date.year(),
            number: day_number(date),
        }
    }
}

/// Whether [`prune`] for `oldest` would drop anything from a packed state (`Err` if it does not
/// read: every field checked as [`validate`] checks it — the debts too if `debts`).
fn prunable(b: &[u8], oldest: Oldest, debts: bool) -> Result<bool, DecodeError> {
    let year = oldest.year;
    let mut r = Rd(b);
    if r.u8()? != VERSION {
        return Err(DecodeError("unknown layout version"));
    }
    r.skip(1)?;
    let mut old = false;
    for _ in 0..2 {
        for _ in 0..r.count(2)? {
            old |= r.small::<u32>()? < year;
            r.cents()?;
        }
    }
    for _ in 0..r.count(3)? {
        old |= r.date_before(oldest)?;
        r.cents()?;
    }
    for _ in 0..r.count(10)? {
        r.skip(4)?;
        old |= r.date_before(oldest)?;
        r.skip(2)?;
        let n = usize::try_from(r.varint()? >> 2)
            .map_err(|_| DecodeError("count beyond the record"))?;
        r.skip(n)?;
        let acts = r.count(7)?;
        r.skip(acts * 7)?;
    }
    // the debts checked too: a state copied as it is must read (`validate`) — unless the caller
    // knows it does ([`append_pruned_read`]); they are never pruned
    if debts {
        r.debts(None)?;
    }
    Ok(old)
}

/// Appends to `out` the packed state `b` pruned for `oldest` ([`encode_pruned`] of its decoded
/// form): a copy of its bytes when there is nothing to prune (most states: a packed state is
/// canonical, pinned by a test), else decoded into `work` and packed again.
pub fn append_pruned(
    b: &[u8],
    oldest: impl Into<Oldest>,
    work: &mut BenefState,
    out: &mut Vec<u8>,
) -> Result<(), DecodeError> {
    append_pruned_checking(b, oldest.into(), true, work, out)
}

/// [`append_pruned`] of a state known to read — packed by the engine, or decoded whole when it
/// entered the engine's shard (`states::Shard::checked`): its debts, which pruning never touches,
/// are not walked to check them again. A state with something to prune is decoded whole as
/// before. The ledger's commit reads every state of the night (4.24 M on a national night 2, 1.95 M
/// of them with debts: ≈ 15 bytes and 3 varints a debt walked for nothing; issue #14, LEDGER21).
///
/// "Known to read" is not a proof: [`encode`] writes any debt amount, including one above
/// [`MAX_CENTS`] that [`decode`] refuses (a debt is at most a line's fee, so no input reaches it).
/// What guarantees that no such state is committed is the walk made before every commit:
/// `States::open_debt_totals` decodes the debts of every state flagged with debts, with every
/// check, and a state that does not read fails the run (exit 11) before the ledger is written
/// (REVIEW22 L1; test `states::tests::a_debt_the_decode_refuses_fails_the_open_debts_walk`).
pub fn append_pruned_read(
    b: &[u8],
    oldest: impl Into<Oldest>,
    work: &mut BenefState,
    out: &mut Vec<u8>,
) -> Result<(), DecodeError> {
    append_pruned_checking(b, oldest.into(), false, work, out)
}

/// [`append_pruned`] (`debts`: the debts checked too) or [`append_pruned_read`] (not).
fn append_pruned_checking(
    b: &[u8],
    oldest: Oldest,
    debts: bool,
    work: &mut BenefState,
    out: &mut Vec<u8>,
) -> Result<(), DecodeError> {
    if !prunable(b, oldest, debts)? {
        out.extend_from_slice(b);
        return Ok(());
    }
    decode_into(b, work)?;
    encode_pruned(work, oldest.date, out);
    Ok(())
}

/// Appends the open debts of a packed state to `out`, oldest first ([`BenefState::open_debts`]);
/// a record that does not read is an error (`out` may then hold part of its debts).
pub fn open_debts(b: &[u8], out: &mut Vec<Debt>) -> Result<(), DecodeError> {
    at_debts(b)?.debts(Some(out)).map(|_| ())
}

/// How many debts a packed state has open, and their open amount (every field checked as
/// [`decode`] checks it, the debts' dates skipped rather than decoded).
pub fn debt_totals(b: &[u8]) -> Result<(u64, Cents), DecodeError> {
    at_debts(b)?.debts(None)
}

/// Whether a packed state has open debts (a record that does not read has none: called on records
/// already checked — a shard's own, or a ledger's after [`validate`]).
pub fn has_debts(b: &[u8]) -> bool {
    at_debts(b).is_ok_and(|mut r| r.varint().is_ok_and(|n| n > 0))
}

/// Checks that a packed state reads back whole, without building it: what comes from outside the
/// process (a ledger's stored bytes) is checked before it enters a shard. Accepts exactly the
/// records [`decode`] accepts (pinned by a test over mutated records).
pub fn validate(b: &[u8]) -> Result<(), DecodeError> {
    debt_totals(b).map(|_| ())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn sample() -> BenefState {
        let mut s = BenefState {
            seeded: true,
            ..Default::default()
        };
        s.add_pf(2025, 4_800);
        s.add_pf(2026, 300);
        s.add_franchise(Date(20260310), 200);
        s.add_franchise(Date(20240101), 100);
        let d = s.daily(123456789, Date(20260310));
        d.pf = 2;
        d.consult = true;
        d.main_codes.push(b'1');
        d.acts.push(*b"BGQP002");
        s.daily(42, Date(20240102)).exclusive = 1;
        for (k, open) in [(DebtKind::Participation, 200), (DebtKind::Franchise, 50)] {
            s.push_debt(Debt {
                origin: DebtOrigin {
                    created: Date(20260310),
                    practitioner: 123456789,
                    claim: 42,
                    line: 2,
                    date_of_care: Date(20260302),
                    kind: k,
                },
                amount: 200,
                open,
            });
        }
        s
    }

    /// The `FRESH` bit worked out as a state is packed (`encode_fresh`) or as a carried one is
    /// decoded (`decode_into_lazy`) is `fresh`'s, and the bytes are `encode`'s; the debts left
    /// packed by the lazy decode are packed back as they were, and unpacked are the decode's.
    #[test]
    fn the_fresh_bit_worked_out_on_the_way_is_freshs_and_the_lazy_decode_packs_back_the_same() {
        let base = sample();
        let variants: [fn(&mut BenefState); 7] = [
            |_| {},
            |s| s.add_pf(2019, 1),
            |s| s.fr_by_year.push((2019, 1)),
            |s| s.add_franchise(Date(20190101), 1),
            |s| s.daily(7, Date(20190101)).pf = 1,
            |s| s.add_pf(2026, MAX_CENTS + 1),
            |s| s.fr_by_day.push((Date(20260101), -MAX_CENTS - 1)),
        ];
        for (k, v) in variants.iter().enumerate() {
            let mut s = base.clone();
            v(&mut s);
            let mut want = Vec::new();
            encode(&s, &mut want);
            for day in [
                Date(20190102),
                Date(20240101),
                Date(20240102),
                Date(20260310),
            ] {
                let mut b = Vec::new();
                assert_eq!(encode_fresh(&s, day, &mut b), fresh(&s, day), "{k} {day}");
                assert_eq!(b, want);
                // a record the decode refuses (an amount beyond the maximum) is not decoded
                let mut w = BenefState::default();
                let Ok((debts, f)) = decode_into_lazy(&want, &mut w, day) else {
                    assert!(decode(&want).is_err());
                    continue;
                };
                assert!(debts);
                assert_eq!(f, fresh(&s, day), "{k} {day}");
                assert!(w.open_debts().is_empty() && w.open_debt_count() == 2);
                assert_eq!(w.open_debt_cents(), s.open_debt_cents());
                let mut again = Vec::new();
                encode(&w, &mut again);
                assert_eq!(again, want);
                w.unpack_debts();
                assert_eq!(w.open_debts(), s.open_debts());
                encode(&w, &mut again);
                assert_eq!(again, want);
                // known to read: the debts taken as they are, their total summed when asked
                decode_into_known(&want, &mut w).unwrap();
                assert_eq!((w.open_debt_count(), w.packed_debts.open), (2, None));
                assert_eq!(w.open_debt_cents(), s.open_debt_cents());
                encode(&w, &mut again);
                assert_eq!(again, want);
            }
        }
    }

    #[test]
    fn state_round_trips_field_for_field() {
        let s = sample();
        let mut b = Vec::new();
        encode(&s, &mut b);
        let d = decode(&b).unwrap();
        assert_eq!(format!("{s:?}"), format!("{d:?}"));
    }

    #[test]
    fn edge_values_round_trip_exactly_negative_cents_odd_dates_and_long_lists() {
        let mut s = sample();
        // a counter corrected below zero, a date before day 0 and one that is no calendar date
        // (both stored raw), 300 franchise days and 300 sessions (more than a 1-byte count)
        s.add_pf(2027, -150);
        s.add_franchise(Date(19991231), 7);
        s.add_franchise(Date(20260231), 9);
        for i in 0..300 {
            s.add_franchise(Date::from_days(Date(20240101).to_days() + i), 1 + i);
            s.daily(1_000 + i as u32, Date(20250101)).pf = (i % 5) as u8;
        }
        s.daily(u32::MAX, Date(21991231)).main_codes.push(b'4');
        let mut b = Vec::new();
        encode(&s, &mut b);
        assert_eq!(format!("{s:?}"), format!("{:?}", decode(&b).unwrap()));
        assert_eq!(decode(&b).unwrap().daily.len(), 303);
    }

    #[test]
    fn a_typical_state_takes_42_bytes_against_76_in_the_fixed_width_encoding() {
        // seeded, one participation year, one session with one CCAM act, one open debt: 76 bytes in
        // layout 2's fixed-width encoding (1+1 + 1+10 + 1 + 1 + 2 + 4+4+1+1+1+1+1+7 + 4 + 35)
        let mut s = BenefState {
            seeded: true,
            ..Default::default()
        };
        s.add_pf(2026, 400);
        let d = s.daily(123456789, Date(20260310));
        d.pf = 1;
        d.acts.push(*b"BGQP002");
        s.push_debt(one_debt(200));
        let mut b = Vec::new();
        encode(&s, &mut b);
        // version, seeded 2; years 1 + 2026 (2) + 400 zigzag (2); franchise years 1, days 1;
        // sessions 1 + practitioner 4, day 2, pf 1, exclusive 1, flags 1, acts 1 + 7; debts 1 +
        // created 2, practitioner 4, claim 2, line and kind 1, date of care 2, amount 2, recovered 1
        assert_eq!(b.len(), 2 + 5 + 1 + 1 + 1 + 17 + 1 + 14);
        assert_eq!(format!("{s:?}"), format!("{:?}", decode(&b).unwrap()));
    }

    #[test]
    fn day_numbers_start_on_2000_01_01_and_end_before_2179() {
        assert_eq!(Date(20000101).to_days(), EPOCH);
        assert!(Date(21790101).to_days() - EPOCH < RAW_DATE as i64);
        for d in [20000101, 20240229, 20261231, 21781231] {
            let mut b = Vec::new();
            put_date(&mut b, Date(d));
            assert_eq!(b.len(), 2, "{d}");
            assert_eq!(Rd(&b).date().unwrap(), Date(d));
        }
        for d in [19991231, 21790101, 20250229, 20261301, 0] {
            let mut b = Vec::new();
            put_date(&mut b, Date(d));
            assert_eq!(b.len(), 6, "{d}");
            assert_eq!(Rd(&b).date().unwrap(), Date(d));
        }
    }

    #[test]
    fn a_stored_date_is_before_the_oldest_day_by_its_day_number_as_by_its_decoded_date() {
        // oldest payable days with a day number, at the table's ends, and without one (before
        // 2000, from 2179 on, not a calendar date): the check must answer what `date() < oldest`
        // answers for every stored date, 2-byte and raw
        let oldest = [
            20000101,
            20000102,
            20240229,
            20240301,
            20251231,
            20260101,
            21781231,
            19991231,
            21790101,
            21790604,
            21790605,
            20250229,
            20261301,
            0,
            u32::MAX,
        ];
        let mut raw = Vec::new();
        for d in [
            0,
            19991231,
            20000101,
            20250229,
            21790101,
            21790604,
            u32::MAX,
        ] {
            raw.extend_from_slice(&RAW_DATE.to_le_bytes());
            raw.extend_from_slice(&u32::to_le_bytes(d));
        }
        for o in oldest.map(Date) {
            let before = Oldest::from(o);
            for n in 0..RAW_DATE {
                let b = n.to_le_bytes();
                assert_eq!(
                    Rd(&b).date_before(before).unwrap(),
                    Rd(&b).date().unwrap() < o,
                    "day number {n}, oldest {o:?}"
                );
            }
            let (mut a, mut b) = (Rd(&raw), Rd(&raw));
            while !a.0.is_empty() {
                assert_eq!(a.date_before(before).unwrap(), b.date().unwrap() < o);
            }
            assert!(Rd(&[0u8][..]).date_before(before).is_err());
            assert!(Rd(&[0xff, 0xff, 0, 0][..]).date_before(before).is_err());
        }
    }

    #[test]
    fn the_day_number_tables_agree_with_the_calendar_on_every_day_and_every_number() {
        // every calendar date the 2-byte form holds, and its neighbours that are not dates
        let mut d = Date(20000101);
        while d < Date(21790101) {
            assert_eq!(day_number(d), Some((d.to_days() - EPOCH) as u16), "{d}");
            d = d.add_days(1);
        }
        for v in 20000000..21800000u32 {
            if v % 100 > 32 || (v / 100) % 100 > 13 {
                continue;
            }
            let want = Date::from_u32(v)
                .filter(|d| *d < Date(21790101))
                .map(|d| (d.to_days() - EPOCH) as u16);
            assert_eq!(day_number(Date(v)), want, "{v}");
        }
        for v in [0, 19991231, 21790101, 99991231, u32::MAX] {
            assert_eq!(day_number(Date(v)), None, "{v}");
        }
        // every number a record may hold, the ones from 2179 on included
        for n in 0..RAW_DATE {
            assert_eq!(date_of(n), Date::from_days(n as i64 + EPOCH), "{n}");
        }
    }

    fn one_debt(open: i64) -> Debt {
        Debt {
            origin: DebtOrigin {
                created: Date(20260316),
                practitioner: 123456789,
                claim: 4242,
                line: 1,
                date_of_care: Date(20260310),
                kind: DebtKind::Participation,
            },
            amount: open,
            open,
        }
    }

    /// The review's record: a participation year of 2^32 (a varint beyond u32) before one open
    /// debt of 2.00 €. `validate` passed it (so a ledger handed it to a shard) while `decode`
    /// refused it (so the shard took the state as empty and the debt vanished).
    pub(crate) fn year_beyond_u32() -> Vec<u8> {
        let mut s = BenefState::default();
        s.push_debt(one_debt(200));
        let mut enc = Vec::new();
        encode(&s, &mut enc);
        // version, seeded, no participation year: replaced by one year of 2^32 and 0 cents
        assert_eq!(enc[..3], [VERSION, 0, 0]);
        let mut b = vec![VERSION, 1, 1];
        put_varint(&mut b, 1 << 32);
        b.push(0);
        b.extend_from_slice(&enc[3..]);
        b
    }

    /// `b` is refused by decode, validate, the debt readers and the pruning copy alike.
    fn every_reader_refuses(b: &[u8], oldest: Date) {
        assert!(decode(b).is_err(), "{b:?}");
        assert!(validate(b).is_err(), "{b:?}");
        assert!(debt_totals(b).is_err(), "{b:?}");
        assert!(open_debts(b, &mut Vec::new()).is_err(), "{b:?}");
        let pruned = append_pruned(b, oldest, &mut BenefState::default(), &mut Vec::new());
        assert!(pruned.is_err(), "{b:?}");
    }

    #[test]
    fn a_year_beyond_u32_is_refused_by_validate_and_every_reader_as_by_decode() {
        let b = year_beyond_u32();
        every_reader_refuses(&b, Date(20250101));
        // the largest year that reads is u32::MAX, through every reader alike
        let mut ok = vec![VERSION, 1, 1];
        put_varint(&mut ok, u32::MAX as u64);
        ok.push(0);
        ok.extend_from_slice(&b[3 + 5 + 1..]);
        assert_eq!(decode(&ok).unwrap().pf_used(u32::MAX), 0);
        assert!(validate(&ok).is_ok());
        assert_eq!(debt_totals(&ok).unwrap(), (1, 200));
    }

    /// A state with one open debt of 2.00 € whose recovered amount reads −0.01 €: open 2.01 € >
    /// amount, so it does not read — but its debts count says it has some (`has_debts`).
    pub(crate) fn debt_open_beyond_amount() -> Vec<u8> {
        let mut s = BenefState::default();
        s.push_debt(one_debt(200));
        let mut b = Vec::new();
        encode(&s, &mut b);
        // the last field: the recovered amount, zigzag 0 → 1 (−1 cent)
        assert_eq!(b.last(), Some(&0));
        if let Some(l) = b.last_mut() {
            *l = 1;
        }
        assert!(has_debts(&b));
        b
    }

    #[test]
    fn amounts_beyond_max_cents_are_refused_as_corrupt_never_an_overflow() {
        // the largest amounts, either sign, round trip
        let mut s = BenefState::default();
        s.add_pf(2026, MAX_CENTS);
        s.add_pf(2027, -MAX_CENTS);
        s.add_franchise(Date(20260310), MAX_CENTS);
        s.push_debt(one_debt(MAX_CENTS));
        let mut b = Vec::new();
        encode(&s, &mut b);
        assert_eq!(format!("{s:?}"), format!("{:?}", decode(&b).unwrap()));
        assert_eq!(debt_totals(&b).unwrap(), (1, MAX_CENTS));
        // one cent more, in any amount, is refused by every reader
        let beyond = |f: &dyn Fn(&mut BenefState)| {
            let mut s = BenefState::default();
            f(&mut s);
            let mut b = Vec::new();
            encode(&s, &mut b);
            b
        };
        for b in [
            beyond(&|s| s.add_pf(2026, MAX_CENTS + 1)),
            beyond(&|s| s.add_pf(2026, -MAX_CENTS - 1)),
            beyond(&|s| s.add_franchise(Date(20260310), i64::MIN)),
            beyond(&|s| s.push_debt(one_debt(MAX_CENTS + 1))),
            // two open debts within the maximum each, beyond it together
            beyond(&|s| {
                s.push_debt(one_debt(MAX_CENTS / 2 + 1));
                s.push_debt(one_debt(MAX_CENTS / 2 + 1));
            }),
            // the review's case: two open debts near i64::MAX overflowed `c += d.open` (a panic)
            beyond(&|s| {
                s.push_debt(one_debt(i64::MAX - 1));
                s.push_debt(one_debt(i64::MAX - 1));
            }),
        ] {
            every_reader_refuses(&b, Date(20200101));
        }
        let b = debt_open_beyond_amount();
        assert!(decode(&b).is_err() && validate(&b).is_err() && debt_totals(&b).is_err());
        // copied as it is (nothing to prune) only if it reads
        assert!(
            append_pruned(
                &b,
                Date(20200101),
                &mut BenefState::default(),
                &mut Vec::new()
            )
            .is_err()
        );
    }

    /// A small deterministic generator (splitmix64): the tests need no `rand`.
    pub(crate) struct Mix(pub u64);
    impl Mix {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        pub(crate) fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    /// A random state over the edges of every field: amounts ±MAX_CENTS, years 0 and u32::MAX,
    /// dates before 2000, from 2179 on, not calendar dates or 0, practitioners and claim numbers
    /// u32::MAX, debt lines u16::MAX, sessions with hundreds of association codes and CCAM acts.
    fn random_state(rng: &mut Mix) -> BenefState {
        const DATES: [u32; 9] = [
            0,
            19991231,
            20000101,
            20240229,
            20250229,
            21781231,
            21790101,
            20261301,
            u32::MAX,
        ];
        let date = |rng: &mut Mix| {
            if rng.below(2) == 0 {
                DATES[rng.below(DATES.len() as u64) as usize]
            } else {
                // any calendar date stored as a day number
                Date::from_days(Date(20000101).to_days() + rng.below(65_000) as i64).0
            }
        };
        let cents = |rng: &mut Mix| match rng.below(5) {
            0 => MAX_CENTS,
            1 => -MAX_CENTS,
            2 => 0,
            _ => rng.below(2 * MAX_CENTS as u64 + 1) as i64 - MAX_CENTS,
        };
        let mut s = BenefState {
            seeded: rng.below(2) == 0,
            ..Default::default()
        };
        let year = |rng: &mut Mix| match rng.below(4) {
            0 => 0,
            1 => u32::MAX,
            _ => 2000 + rng.below(200) as u32,
        };
        for _ in 0..rng.below(4) {
            s.pf_by_year.push((year(rng), cents(rng)));
        }
        for _ in 0..rng.below(4) {
            s.fr_by_year.push((year(rng), cents(rng)));
        }
        for _ in 0..rng.below(6) {
            s.fr_by_day.push((Date(date(rng)), cents(rng)));
        }
        for _ in 0..rng.below(4) {
            let long = rng.below(8) == 0;
            let mut d = DailyCount {
                practitioner: if rng.below(3) == 0 {
                    u32::MAX
                } else {
                    rng.next() as u32
                },
                date: Date(date(rng)),
                pf: rng.next() as u8,
                exclusive: rng.next() as u8,
                consult: rng.below(2) == 0,
                tech_act: rng.below(2) == 0,
                main_codes: SmallVec::new(),
                acts: SmallVec::new(),
            };
            for _ in 0..if long { 300 } else { rng.below(3) } {
                d.main_codes.push(rng.next() as u8);
            }
            for _ in 0..if long { 300 } else { rng.below(3) } {
                d.acts
                    .push(rng.next().to_le_bytes()[..7].try_into().unwrap_or_default());
            }
            s.daily.push(d);
        }
        // open debts totalling at most MAX_CENTS
        let mut left = MAX_CENTS;
        for _ in 0..rng.below(4) {
            if left == 0 {
                break;
            }
            let amount = 1 + rng.below(left as u64) as i64;
            let open = 1 + rng.below(amount as u64) as i64;
            left -= open;
            s.push_debt(Debt {
                origin: DebtOrigin {
                    created: Date(date(rng)),
                    practitioner: if rng.below(3) == 0 {
                        u32::MAX
                    } else {
                        rng.next() as u32
                    },
                    claim: if rng.below(3) == 0 {
                        u32::MAX
                    } else {
                        rng.next() as u32
                    },
                    line: if rng.below(3) == 0 {
                        u16::MAX
                    } else {
                        rng.next() as u16
                    },
                    date_of_care: Date(date(rng)),
                    kind: if rng.below(2) == 0 {
                        DebtKind::Participation
                    } else {
                        DebtKind::Franchise
                    },
                },
                amount,
                open,
            });
        }
        s
    }

    #[test]
    fn random_states_over_every_fields_edges_round_trip_through_every_reader() {
        let mut rng = Mix(0x5eed_0003);
        let mut b = Vec::new();
        let mut again = Vec::new();
        for i in 0..3_000 {
            let s = random_state(&mut rng);
            encode(&s, &mut b);
            let d = decode(&b).unwrap_or_else(|e| panic!("state {i}: {e}: {s:?}"));
            assert_eq!(format!("{s:?}"), format!("{d:?}"), "state {i}");
            // canonical: packed again, the same bytes
            encode(&d, &mut again);
            assert_eq!(b, again, "state {i}");
            assert!(validate(&b).is_ok(), "state {i}");
            let open = s.open_debts();
            let total: i64 = open.iter().map(|d| d.open).sum();
            assert_eq!(
                debt_totals(&b).unwrap(),
                (open.len() as u64, total),
                "state {i}"
            );
            assert_eq!(has_debts(&b), !open.is_empty(), "state {i}");
            let mut read = Vec::new();
            open_debts(&b, &mut read).unwrap();
            assert_eq!(read.as_slice(), open, "state {i}");
            // pruned from the bytes as from the state
            let oldest = Date(20000101 + 10_000 * rng.below(30) as u32);
            let (mut copied, mut pruned) = (Vec::new(), Vec::new());
            append_pruned(&b, oldest, &mut BenefState::default(), &mut copied).unwrap();
            encode_pruned(&s, oldest, &mut pruned);
            assert_eq!(copied, pruned, "state {i}, oldest {oldest}");
        }
    }

    #[test]
    fn validate_accepts_exactly_the_records_decode_accepts_over_20000_mutated_records() {
        let mut with_debts = sample();
        with_debts.push_debt(one_debt(1));
        // the last year that reads (a 5-byte varint whose last byte a mutation easily raises)
        let mut edge_year = BenefState::default();
        edge_year.add_pf(u32::MAX, 7);
        edge_year.push_debt(one_debt(200));
        let mut bases = Vec::new();
        for s in [sample(), with_debts, edge_year, BenefState::default()] {
            let mut b = Vec::new();
            encode(&s, &mut b);
            bases.push(b);
        }
        let mut rng = Mix(0x5eed_0001);
        let (mut accepted, mut refused) = (0, 0);
        for i in 0..20_000 {
            let mut b = bases[i % bases.len()].clone();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(b.len() as u64 + 1) as usize;
                let byte = match rng.below(4) {
                    // a value that makes a varint long, a count large, a date raw
                    0 => 0xff,
                    1 => 0x80,
                    _ => rng.next() as u8,
                };
                match rng.below(3) {
                    0 if at < b.len() => b[at] = byte,
                    1 if at < b.len() => {
                        b.remove(at);
                    }
                    _ => b.insert(at, byte),
                }
            }
            let decoded = decode(&b);
            assert_eq!(validate(&b).is_ok(), decoded.is_ok(), "record {i}: {b:?}");
            // the flag a carried state enters its shard with, from its one decoding
            assert_eq!(
                decode_into_has_debts(&b, &mut BenefState::default()).ok(),
                decoded.is_ok().then(|| has_debts(&b)),
                "record {i}"
            );
            match decoded {
                Ok(s) => {
                    accepted += 1;
                    // what the end-of-run readers see agrees with the decoded state
                    let open = s.open_debts();
                    let sum = open.iter().try_fold(0i64, |a, d| a.checked_add(d.open));
                    if let Some(sum) = sum {
                        assert_eq!(debt_totals(&b).unwrap(), (open.len() as u64, sum));
                    }
                    assert_eq!(has_debts(&b), !open.is_empty(), "record {i}");
                    let mut read = Vec::new();
                    open_debts(&b, &mut read).unwrap();
                    assert_eq!(read.as_slice(), open, "record {i}");
                    append_pruned(
                        &b,
                        Date(20250101),
                        &mut BenefState::default(),
                        &mut Vec::new(),
                    )
                    .unwrap();
                }
                Err(_) => refused += 1,
            }
        }
        // both sides exercised
        assert!(accepted > 1_000 && refused > 1_000, "{accepted} {refused}");
    }

    /// `Rd::varint` reads one- and two-byte varints inline: every pair of bytes (a third after
    /// them, and each byte alone) reads as the loop (`Rd::varint_long`) reads it — the same value
    /// or error, the same bytes left — canonical or not, and the values `put_varint` writes
    /// around each length boundary come back.
    #[test]
    fn a_varint_read_inline_is_what_the_loop_reads_for_every_one_and_two_byte_start() {
        let read = |b: &[u8], inline: bool| {
            let mut r = Rd(b);
            let v = if inline { r.varint() } else { r.varint_long() };
            (v.map_err(|e| e.0), r.0.len())
        };
        for b0 in 0..=255u8 {
            assert_eq!(read(&[b0], true), read(&[b0], false), "{b0:#x}");
            for b1 in 0..=255u8 {
                for b in [[b0, b1, 0x01], [b0, b1, 0x81]] {
                    assert_eq!(read(&b, true), read(&b, false), "{b:x?}");
                    assert_eq!(read(&b[..2], true), read(&b[..2], false), "{b:x?}");
                }
            }
        }
        assert!(read(&[], true).0.is_err());
        for shift in (0..64).step_by(7) {
            for v in [(1u64 << shift) - 1, 1 << shift, (1 << shift) + 1, u64::MAX] {
                let mut out = Vec::new();
                put_varint(&mut out, v);
                assert_eq!(read(&out, true), (Ok(v), 0));
            }
        }
    }

    #[test]
    fn a_corrupt_count_is_an_error_not_an_allocation() {
        let mut b = vec![VERSION, 0];
        put_varint(&mut b, u64::MAX >> 1);
        assert!(decode(&b).is_err());
    }

    #[test]
    fn truncated_or_unknown_version_is_an_error_not_a_default() {
        let mut b = Vec::new();
        encode(&sample(), &mut b);
        assert!(decode(&b[..b.len() - 1]).is_err());
        b[0] = 9;
        assert!(decode(&b).is_err());
    }

    #[test]
    fn encode_pruned_gives_the_bytes_of_prune_then_encode() {
        for oldest in [20200101, 20240101, 20240102, 20250101, 20260310, 20270101] {
            let mut pruned = sample();
            prune(&mut pruned, Date(oldest));
            let mut a = Vec::new();
            encode(&pruned, &mut a);
            let mut b = vec![7u8];
            encode_pruned(&sample(), Date(oldest), &mut b);
            assert_eq!(&b[1..], a.as_slice(), "oldest {oldest}");
        }
    }

    #[test]
    fn prune_keeps_the_oldest_payable_day_and_drops_the_day_before() {
        let mut s = sample();
        // oldest payable care on 2024-01-02: the session of 2024-01-02 stays, the franchise of
        // 2024-01-01 goes; the 2025 and 2026 yearly counters stay, as does 2024's franchise year.
        prune(&mut s, Date(20240102));
        assert_eq!(s.daily.len(), 2);
        assert_eq!(
            s.fr_by_day,
            [(Date(20260310), 200)]
                .into_iter()
                .collect::<SmallVec<[_; 1]>>()
        );
        assert_eq!(s.pf_used(2025), 4_800);
        assert_eq!(s.franchise_used(2024), 100);
        prune(&mut s, Date(20250101));
        assert_eq!(s.daily.len(), 1);
        assert_eq!(s.franchise_used(2024), 0);
        assert_eq!(s.pf_used(2025), 4_800);
    }

    /// `append_pruned_read` trusts the debts of a state it is told reads (a checked shard's): it
    /// copies a record whose debts do not read where `append_pruned` refuses it — and refuses a
    /// record with something to prune whose debts do not read, since it decodes that one whole.
    #[test]
    fn append_pruned_read_skips_the_debts_check_only() {
        let mut s = BenefState::default();
        s.add_pf(2026, 300);
        s.push_debt(one_debt(200));
        let mut b = Vec::new();
        encode(&s, &mut b);
        let mut bad = b.clone();
        // the recovered amount read as −0.01 €: open 2.01 € > amount
        *bad.last_mut().unwrap() = 1;
        assert!(validate(&bad).is_err());
        let w = &mut BenefState::default();
        let (mut a, mut r) = (Vec::new(), Vec::new());
        assert!(append_pruned(&bad, Date(20250101), w, &mut a).is_err());
        append_pruned_read(&bad, Date(20250101), w, &mut r).unwrap();
        assert_eq!(r, bad);
        // the year 2026 pruned for a night whose oldest payable day is in 2027: decoded whole
        assert!(append_pruned_read(&bad, Date(20270101), w, &mut r).is_err());
        r.clear();
        append_pruned_read(&b, Date(20270101), w, &mut r).unwrap();
        a.clear();
        append_pruned(&b, Date(20270101), w, &mut a).unwrap();
        assert_eq!(r, a);
        assert!(r.len() < b.len());
    }
}
