//! The payment and insurer rows written by fixed-width stores (issue #13: a payment row of ≈ 204
//! bytes cost ≈ 2 500 instructions through the field-by-field writer of [`super::fmt`]).
//!
//! Three things make a row cheap here:
//! - **the pieces that are the same on every line of a claim** (claim number, beneficiary,
//!   practitioner, payee columns, the insurer row's first four columns) are formatted once per claim
//!   into [`Piece`]s and copied into each row as one fixed 64-byte store;
//! - **every field is written into a fixed window** of [`WIN`] bytes at the row's cursor: one bounds
//!   check a field, stores of a constant size (a tab and an amount are one field), the cursor advanced
//!   by the field's real length — bytes past it are scratch, overwritten by the next field;
//! - **integers of up to 8 digits are converted in a register** ([`swar8`]: the 8 ASCII digits of a
//!   `u64` below 10⁸ in ≈ 15 arithmetic instructions, no division loop), the leading zeros dropped by a
//!   shift.
//!
//! Architecture invariant: the rows are the bytes of the field-by-field writers
//! (`super::payment_row`, `super::amc_row`), which stay the reference: a row that does not fit the
//! array, or a claim whose pieces do not fit theirs, is written by them instead, and tests compare the
//! two writers on random rows (`rows::tests`).

use super::fmt::{self, PAIRS};
use crate::claims::{Act, ActLine, ClaimHeader, Pos};
use crate::date::Date;
use crate::money::Cents;
use crate::rules::{LineResult, Paid, PayeeKind};

/// Bytes a field may write at the cursor (its longest text is a piece of the claim, ≤ 64).
pub const WIN: usize = 64;

/// Size of the row array: a payment row is ≈ 200 bytes; its longest possible text is ≈ 1 100 (every
/// amount at 20 digits), written by the reference writer instead.
pub const ROW: usize = 1024;

/// A claim's fixed text in an array of [`WIN`] bytes, so that it is copied by one constant-size
/// store (the bytes past its length are scratch).
#[derive(Default)]
pub struct Piece {
    r: fmt::Row<WIN>,
}

impl Piece {
    /// The piece written by `f` through the reference formatters; `false` if it is longer than
    /// [`WIN`] (the claim is then written by the reference writer).
    #[inline(always)]
    fn set(&mut self, f: impl FnOnce(&mut fmt::Row<WIN>)) -> bool {
        self.r.clear();
        f(&mut self.r);
        self.r.bytes().is_some()
    }

    /// The piece written by `f` in place ([`PieceW`]); `false` if it is longer than [`WIN`].
    #[inline(always)]
    fn write(&mut self, f: impl FnOnce(&mut PieceW<'_>)) -> bool {
        let (d, len) = self.r.parts_mut();
        let mut w = PieceW {
            d,
            n: 0,
            full: false,
        };
        f(&mut w);
        *len = if w.full { 0 } else { w.n };
        !w.full
    }
}

/// A claim's piece being written in place: each part a copy of a constant size at the cursor, one
/// bounds check each. Through the reference formatters (`fmt::Out::put` of a slice: a call to
/// `memcpy` a part, the length stored back at each byte) the pieces were ≈ 350 instructions a paid
/// claim (callgrind, 100 k day, issue #13).
struct PieceW<'a> {
    d: &'a mut [u8; WIN],
    n: usize,
    /// A part did not fit: the claim is written by the reference writer.
    full: bool,
}

impl PieceW<'_> {
    #[inline(always)]
    fn put<const K: usize>(&mut self, s: &[u8; K]) {
        self.copy(s, K);
    }

    /// `s` with its trailing spaces trimmed (`fmt::trimmed`): the whole array copied, the cursor
    /// advanced by the trimmed length (the bytes past it are scratch, as in [`W`]).
    #[inline(always)]
    fn trimmed<const K: usize>(&mut self, s: &[u8; K]) {
        self.copy(s, fmt::trimmed_len(s));
    }

    /// The whole of `s` copied at the cursor (one constant-size copy, one bounds check), the cursor
    /// advanced by `advance` (≤ `K`); `full` if it does not fit.
    #[inline(always)]
    fn copy<const K: usize>(&mut self, s: &[u8; K], advance: usize) {
        match self
            .d
            .get_mut(self.n..)
            .and_then(|t| t.first_chunk_mut::<K>())
        {
            Some(t) => {
                *t = *s;
                self.n += advance;
            }
            None => self.full = true,
        }
    }

    /// A payee kind's text, `PayeeKind::as_str` (test `payee_kinds_in_place_are_their_text`).
    #[inline(always)]
    fn kind(&mut self, k: PayeeKind) {
        match k {
            PayeeKind::Practitioner => self.put(b"PS"),
            PayeeKind::Insured => self.put(b"ASSURE"),
        }
    }
}

/// The reusable state of the row writer: the row array and the claim's pieces (one per window
/// segment, not one per claim).
pub struct Rows<const N: usize = ROW> {
    row: [u8; N],
    p: Pieces,
}

/// A claim's pieces.
#[derive(Default)]
struct Pieces {
    /// `claim\t` (payments).
    claim: Piece,
    /// `\tbeneficiary\tpractitioner\t` (payments).
    who: Piece,
    /// `\tpayee_kind\tpayee_id\tamc_number\tamc_payee\t` (payments, before the warnings).
    payee: Piece,
    /// `amc\tcontract\tbeneficiary\tclaim\t` (insurer rows).
    amc_head: Piece,
    /// `\tpayee\n` (insurer rows).
    amc_tail: Piece,
    /// The last date of care written and its text `YYYY-MM-DD` (a claim's lines mostly share it).
    date: Option<Date>,
    date_text: Piece,
}

impl<const N: usize> Default for Rows<N> {
    fn default() -> Self {
        Rows {
            row: [0; N],
            p: Pieces::default(),
        }
    }
}

/// The row being written: the array and its cursor, a local (see `fmt::Cursor` for why).
struct W<'a> {
    buf: &'a mut [u8],
    n: usize,
    /// A field did not find [`WIN`] bytes left: the row is written by the reference writer.
    full: bool,
}

impl W<'_> {
    /// The window at the cursor, or `None` (and the row marked full) near the array's end.
    #[inline(always)]
    fn win(&mut self) -> Option<&mut [u8; WIN]> {
        let w = self
            .buf
            .get_mut(self.n..)
            .and_then(|s| s.first_chunk_mut::<WIN>());
        if w.is_none() {
            self.full = true;
        }
        w
    }

    #[inline(always)]
    fn piece(&mut self, p: &Piece) {
        if let Some(d) = self.win() {
            let (text, len) = p.r.array();
            *d = *text;
            self.n += len;
        }
    }

    #[inline(always)]
    fn byte(&mut self, c: u8) {
        if let Some(d) = self.win() {
            d[0] = c;
            self.n += 1;
        }
    }

    /// A short byte string (at most [`WIN`] bytes; longer ones mark the row full).
    #[inline(always)]
    fn bytes(&mut self, s: &[u8]) {
        let n = self.n;
        match self.buf.get_mut(n..n + s.len()) {
            Some(d) if s.len() <= WIN => {
                d.copy_from_slice(s);
                self.n += s.len();
            }
            _ => self.full = true,
        }
    }

    /// A tab and `v`.
    #[inline(always)]
    fn tab_u64(&mut self, v: u64) {
        if let Some(d) = self.win() {
            d[0] = b'\t';
            self.n += 1 + put_u64(d, 1, v);
        }
    }

    /// A tab and the euros of `c` (`687.27`, `-0.05`): `fmt::euros`' text.
    #[inline(always)]
    fn tab_euros(&mut self, c: Cents) {
        if let Some(d) = self.win() {
            if c == 0 {
                // Most amounts of a row are nil (debt, recovered, excess, forfaits…).
                d[..8].copy_from_slice(b"\t0.00\0\0\0");
                self.n += 5;
                return;
            }
            let a = c.unsigned_abs();
            d[0] = b'\t';
            d[1] = b'-';
            let at = 1 + (c < 0) as usize;
            let k = at + put_u64(d, at, a / 100);
            let r = (a % 100) as usize * 2;
            d[k] = b'.';
            d[k + 1] = PAIRS[r];
            d[k + 2] = PAIRS[r + 1];
            self.n += k + 3;
        }
    }

    /// A tab and the percentage of `bp` basis points (`70`, `21.8`, `12.25`): `fmt::pct`'s text.
    #[inline(always)]
    fn tab_pct(&mut self, bp: i64) {
        if let Some(d) = self.win() {
            let a = bp.unsigned_abs();
            d[0] = b'\t';
            d[1] = b'-';
            let at = 1 + (bp < 0) as usize;
            let mut k = at + put_u64(d, at, a / 100);
            let f = (a % 100) as usize;
            if f != 0 {
                d[k] = b'.';
                if f.is_multiple_of(10) {
                    d[k + 1] = b'0' + (f / 10) as u8;
                    k += 2;
                } else {
                    d[k + 1] = PAIRS[f * 2];
                    d[k + 2] = PAIRS[f * 2 + 1];
                    k += 3;
                }
            }
            self.n += k;
        }
    }

    /// `b` with its trailing spaces trimmed (`fmt::trimmed`).
    #[inline(always)]
    fn trimmed<const K: usize>(&mut self, b: &[u8; K]) {
        let len = b.iter().rposition(|&c| c != b' ').map_or(0, |i| i + 1);
        if let Some(d) = self.win()
            && let Some(d) = d.get_mut(..K)
        {
            d.copy_from_slice(b);
            self.n += len;
        }
    }
    /// A fixed array of at most [`WIN`] bytes (a longer one marks the row full).
    #[inline(always)]
    fn array<const K: usize>(&mut self, s: &[u8; K]) {
        match self.win().and_then(|d| d.first_chunk_mut::<K>()) {
            Some(d) => {
                *d = *s;
                self.n += K;
            }
            None => self.full = true,
        }
    }

    /// A tab and `v` on at least 9 digits, zero-padded: `fmt::at_least(_, v, 9)`'s text.
    #[inline(always)]
    fn tab_nine(&mut self, v: u32) {
        if let Some(d) = self.win() {
            d[0] = b'\t';
            if v < 1_000_000_000 {
                d[1..10].copy_from_slice(&nine(v));
                self.n += 10;
            } else {
                self.n += 1 + put_u64(d, 1, v as u64);
            }
        }
    }

    /// A tab and the signed integer `v`: `fmt::i64_`'s text.
    #[inline(always)]
    fn tab_i64(&mut self, v: i64) {
        if let Some(d) = self.win() {
            d[0] = b'\t';
            d[1] = b'-';
            let at = 1 + (v < 0) as usize;
            self.n += at + put_u64(d, at, v.unsigned_abs());
        }
    }

    /// A tab and the date's text `YYYY-MM-DD`: `fmt::date`'s (the year's last 4 digits, as
    /// `fmt::padded` writes them; month and day below 100 by construction).
    #[inline(always)]
    fn tab_date(&mut self, d: Date) {
        let t = date_text(d);
        if let Some(w) = self.win() {
            w[0] = b'\t';
            w[1..11].copy_from_slice(&t);
            self.n += 11;
        }
    }
}

/// `fmt::date`'s text of `d`: the 8 digits of `YYYYMMDD` (the year's last 4) converted in one
/// register ([`swar8`]), the dashes put in between.
#[inline(always)]
fn date_text(d: Date) -> [u8; 10] {
    let v = (d.year() % 10_000) as u64 * 10_000 + d.month() as u64 * 100 + d.day() as u64;
    let s = (swar8(v) | 0x3030_3030_3030_3030).to_le_bytes();
    [s[0], s[1], s[2], s[3], b'-', s[4], s[5], b'-', s[6], s[7]]
}

/// `fmt::benef`'s text of a beneficiary key (`NIR-rank`, 17 bytes) for the keys of 13 digits and
/// a rank below 1 000 (every key `refs::benef_key` makes); `None` for any other (written by the
/// reference formatter).
#[inline]
pub(super) fn benef_text(key: u64) -> Option<[u8; 17]> {
    let (rank, corsica, n) = ((key & 0x3ff) as u32, (key >> 10) & 3, key >> 12);
    if n >= 10_000_000_000_000 || rank > 999 {
        return None;
    }
    let mut t = [b'-'; 17];
    t[..5].copy_from_slice(&nine((n / 100_000_000) as u32)[4..]);
    t[5..13].copy_from_slice(&(swar8(n % 100_000_000) | 0x3030_3030_3030_3030).to_le_bytes());
    if corsica != 0 {
        t[6] = if corsica == 1 { b'A' } else { b'B' };
    }
    t[14..].copy_from_slice(&nine(rank)[6..]);
    Some(t)
}

/// One row of `debts.tsv` written in place into `row`, its line break included: the text of
/// `debts::debt_row` (the reference) for the beneficiary's text `ben` ([`benef_text`], formatted
/// once per beneficiary) and the debt's age in days. `None` if a field does not fit: the row is
/// then written by the reference writer. Through `fmt::Out` on a cursor a row was ≈ 700
/// instructions (callgrind, 100 k day: `debts.tsv`, 3.06 M rows a national night, is formatted
/// after the last window, issue #13).
#[inline]
pub(super) fn debt_row<'r>(
    row: &'r mut [u8; ROW],
    ben: &[u8; 17],
    d: &crate::rules::debt::Debt,
    age: i64,
) -> Option<&'r [u8]> {
    let o = &d.origin;
    let mut b = W {
        buf: row,
        n: 0,
        full: false,
    };
    b.array(ben);
    b.byte(b'\t');
    b.bytes(o.kind.as_str().as_bytes());
    b.tab_nine(o.claim);
    b.tab_u64(o.line as u64);
    b.tab_nine(o.practitioner);
    b.tab_date(o.date_of_care);
    b.tab_date(o.created);
    b.tab_i64(age);
    b.tab_euros(d.amount);
    b.tab_euros(d.amount - d.open);
    b.tab_euros(d.open);
    b.byte(b'\n');
    let (n, full) = (b.n, b.full);
    if full { None } else { row.get(..n) }
}

/// One row of `recoveries.tsv` written in place into `row`, its line break included: the text of
/// `debts::recovery_row` (the reference) for the recovery `r` taken from paid line `l` of the claim
/// `h` at input position `pos`. `None` if a field does not fit the fast path — a NIR that is not
/// ASCII (the reference writes it through `from_utf8_lossy`), a claim number of 10 digits or a
/// rank of 4 (the row's first field and the rank are written on exactly 9 and 3), a date whose year
/// has more than 4 digits (the reference never cuts a year, [`W::tab_date`] writes its last 4) — or
/// the row does not fit: it is then written by the reference writer. Through `fmt::Out` on a `Vec`
/// a row was ≈ 2 400 instructions, ≈ 800 in place with its copies (callgrind, 100 k night 2
/// through a night-1 ledger, 9 637 recoveries: `DebtSink::window` 24.5 → 9.4 M; national night 2
/// has 619 k of them, 2.8 × a night without the ledger's carried debts, issue #14).
#[inline]
pub(super) fn recovery_row<'r>(
    row: &'r mut [u8; ROW],
    h: &ClaimHeader,
    l: &LineResult,
    pos: Pos,
    r: &crate::rules::debt::Recovery,
) -> Option<&'r [u8]> {
    let four = |d: Date| d.year() <= 9999;
    if !h.nir.is_ascii()
        || h.claim_no >= 1_000_000_000
        || h.rank > 999
        || !four(l.date)
        || !four(r.debt.date_of_care)
        || !four(r.debt.created)
    {
        return None;
    }
    let mut b = W {
        buf: row,
        n: 0,
        full: false,
    };
    b.array(&nine(h.claim_no));
    b.tab_u64(l.line_no as u64);
    b.tab_u64(pos.line);
    b.tab_u64(pos.offset);
    b.byte(b'\t');
    b.array(&h.nir);
    b.byte(b'-');
    b.array(&{
        let t = nine(h.rank as u32);
        [t[6], t[7], t[8]]
    });
    b.tab_nine(h.practitioner);
    b.tab_date(l.date);
    b.tab_euros(r.amount);
    b.byte(b'\t');
    b.bytes(r.debt.kind.as_str().as_bytes());
    b.tab_nine(r.debt.claim);
    b.tab_u64(r.debt.line as u64);
    b.tab_nine(r.debt.practitioner);
    b.tab_date(r.debt.date_of_care);
    b.tab_date(r.debt.created);
    b.tab_i64(r.age_days);
    b.tab_euros(r.debt_amount);
    b.tab_euros(r.open_after);
    b.byte(b'\n');
    let (n, full) = (b.n, b.full);
    if full { None } else { row.get(..n) }
}

/// The 8 decimal digits of `v < 10⁸` (leading zeros included), as the bytes of a little-endian
/// `u64` read in memory order (most significant digit first), without the `'0'` offset.
///
/// Two lanes of 4 digits (`v / 10⁴`, `v % 10⁴`), each cut into two pairs (`× 10486 >> 20` is `/ 100`
/// below 10⁴), each pair into tens and units (`× 103 >> 10` is `/ 10` below 100): every lane's
/// product stays inside its lane, so the whole conversion is a few multiplications of one register.
#[inline(always)]
fn swar8(v: u64) -> u64 {
    let x = (v / 10_000) | ((v % 10_000) << 32);
    let hundreds = ((x * 10_486) >> 20) & 0x0000_007F_0000_007F;
    let pairs = hundreds | ((x - 100 * hundreds) << 16);
    let tens = ((pairs * 103) >> 10) & 0x000F_000F_000F_000F;
    tens | ((pairs - 10 * tens) << 8)
}

/// Writes the decimal digits of `v` into `d` at `at` (`d` has at least `at + 20` bytes) and returns
/// their number: the text of `fmt::u64_`.
#[inline(always)]
fn put_u64(d: &mut [u8; WIN], at: usize, v: u64) -> usize {
    if v < 10 {
        d[at] = b'0' + v as u8;
        return 1;
    }
    // Most numbers of a row (euros of an amount, quantities, line numbers) have 2 to 4 digits: one
    // or two pairs of the table.
    if v < 100 {
        let r = v as usize * 2;
        d[at] = PAIRS[r];
        d[at + 1] = PAIRS[r + 1];
        return 2;
    }
    if v < 10_000 {
        let (hi, lo) = ((v / 100) as usize * 2, (v % 100) as usize * 2);
        let four = u32::from_le_bytes([PAIRS[hi], PAIRS[hi + 1], PAIRS[lo], PAIRS[lo + 1]]);
        // Three digits: the leading zero shifted out.
        let lz = (v < 1_000) as usize;
        if let Some(s) = d.get_mut(at..at + 4) {
            s.copy_from_slice(&(four >> (8 * lz)).to_le_bytes());
        }
        return 4 - lz;
    }
    if v < 100_000_000 {
        let z = swar8(v);
        // Leading zero digits: the zero bytes below the first non-zero one (v ≥ 10: at most 6).
        let lz = (z.trailing_zeros() / 8) as usize;
        let text = (z | 0x3030_3030_3030_3030) >> (8 * lz);
        if let Some(s) = d.get_mut(at..at + 8) {
            s.copy_from_slice(&text.to_le_bytes());
        }
        return 8 - lz;
    }
    if v < 10_000_000_000_000_000 {
        let hi = v / 100_000_000;
        let z = swar8(hi);
        let lz = (z.trailing_zeros() / 8) as usize;
        let text = (z | 0x3030_3030_3030_3030) >> (8 * lz);
        let k = 8 - lz;
        let lo = swar8(v % 100_000_000) | 0x3030_3030_3030_3030;
        if let Some(s) = d.get_mut(at..at + 8) {
            s.copy_from_slice(&text.to_le_bytes());
        }
        if let Some(s) = d.get_mut(at + k..at + k + 8) {
            s.copy_from_slice(&lo.to_le_bytes());
        }
        return k + 8;
    }
    let len = fmt::digit_count(v);
    let mut c = fmt::Row::<24>::default();
    fmt::u64_(&mut c, v);
    if let (Some(s), Some(t)) = (d.get_mut(at..at + len), c.bytes())
        && s.len() == t.len()
    {
        s.copy_from_slice(t);
    }
    len
}

/// The last 9 decimal digits of `v`, leading zeros included: `fmt::padded(_, v, 9)`'s text.
#[inline(always)]
fn nine(v: u32) -> [u8; 9] {
    let v = v as u64 % 1_000_000_000;
    let mut t = [b'0'; 9];
    t[0] += (v / 100_000_000) as u8;
    t[1..].copy_from_slice(&(swar8(v % 100_000_000) | 0x3030_3030_3030_3030).to_le_bytes());
    t
}

impl Pieces {
    /// Formats the claim's pieces; `false` if one does not fit (the claim then goes through the
    /// reference writer).
    fn claim_pieces(&mut self, h: &ClaimHeader, p: &Paid) -> bool {
        // The claim's numbers formatted once, then put into each piece (the text of
        // `fmt::padded(_, 9)` and `super::ben`).
        let claim = nine(h.claim_no);
        let practitioner = nine(h.practitioner);
        let mut ben = [b'-'; 17];
        ben[..13].copy_from_slice(&h.nir);
        let rank = nine(h.rank as u32);
        ben[14..].copy_from_slice(&rank[6..]);
        let mut ok = self.claim.write(|b| {
            b.put(&claim);
            b.put(b"\t");
        });
        ok &= self.who.write(|b| {
            b.put(b"\t");
            b.put(&ben);
            b.put(b"\t");
            b.put(&practitioner);
            b.put(b"\t");
        });
        ok &= self.payee.write(|b| {
            b.put(b"\t");
            b.kind(p.payee);
            b.put(b"\t");
            match p.payee {
                PayeeKind::Practitioner => b.put(&practitioner),
                PayeeKind::Insured => b.put(&ben),
            }
            b.put(b"\t");
            if let Some(a) = &p.amc {
                b.trimmed(&a.amc);
                b.put(b"\t");
                b.kind(a.payee);
            } else {
                b.put(b"\t");
            }
            b.put(b"\t");
        });
        if let Some(a) = &p.amc {
            ok &= self.amc_head.write(|b| {
                b.trimmed(&a.amc);
                b.put(b"\t");
                b.trimmed(&a.contract);
                b.put(b"\t");
                b.put(&ben);
                b.put(b"\t");
                b.put(&claim);
                b.put(b"\t");
            });
            ok &= self.amc_tail.write(|b| {
                b.put(b"\t");
                b.kind(a.payee);
                b.put(b"\n");
            });
        }
        ok
    }

    /// The date's text in `date_text`, kept from the last line's when it is the same date; `false`
    /// if it does not fit its piece.
    #[inline(always)]
    fn date_piece(&mut self, d: Date) -> bool {
        if self.date != Some(d) {
            self.date = Some(d);
            if !self.date_text.set(|b| fmt::date(b, d)) {
                self.date = None;
                return false;
            }
        }
        true
    }
}

impl<const N: usize> Rows<N> {
    /// Formats a paid claim: its payment rows and its complementary-insurer rows (the bytes of
    /// `super::paid`).
    pub fn paid(
        &mut self,
        out: &mut super::OutBufs,
        h: &ClaimHeader,
        lines: &[ActLine],
        pos: &[Pos],
        p: &Paid,
    ) {
        let pieces = self.p.claim_pieces(h, p);
        for r in &p.lines {
            let k = r.index as usize;
            let l = &lines[k];
            let at = &pos[k];
            let fast = pieces && self.p.date_piece(r.date);
            let mut w = W {
                buf: &mut self.row,
                n: 0,
                full: !fast,
            };
            if fast {
                payment_row(&mut w, &self.p, l, at, r);
            }
            match w.buf.get(..w.n) {
                Some(b) if !w.full => out.payments.extend_from_slice(b),
                _ => super::payment_row(&mut out.payments, h, l, at, r, p),
            }
            if let Some(a) = &p.amc
                && (r.amc() != 0 || r.ticket != 0 || r.excess != 0)
            {
                let start = out.amc_bytes.len() as u32;
                let mut w = W {
                    buf: &mut self.row,
                    n: 0,
                    full: !fast,
                };
                if fast {
                    amc_row(&mut w, &self.p, l, r);
                }
                match w.buf.get(..w.n) {
                    Some(b) if !w.full => out.amc_bytes.extend_from_slice(b),
                    _ => super::amc_row(&mut out.amc_bytes, h, l, r, a),
                }
                let end = out.amc_bytes.len() as u32;
                out.amc_rows.push((a.amc, start, end));
            }
        }
    }
}

/// One row of `payments.tsv`: the text of `super::payment_row` (formats/outputs.md).
#[inline(always)]
fn payment_row(b: &mut W<'_>, p: &Pieces, l: &ActLine, at: &Pos, r: &LineResult) {
    b.piece(&p.claim);
    match b.win() {
        Some(d) => b.n += put_u64(d, 0, r.line_no as u64),
        None => return,
    }
    b.tab_u64(at.line);
    b.tab_u64(at.offset);
    b.piece(&p.who);
    b.piece(&p.date_text);
    match &l.act {
        Act::Ngap { letter, coef } => {
            b.bytes(b"\tNGAP\t");
            b.trimmed(letter);
            b.bytes(b"\t\t");
            b.tab_euros(*coef as Cents);
        }
        Act::Ccam {
            code,
            activity,
            phase,
            ..
        } => {
            b.bytes(b"\tCCAM\t");
            b.bytes(code);
            b.tab_u64(*activity as u64);
            b.tab_u64(*phase as u64);
            b.byte(b'\t');
        }
    }
    b.tab_u64(r.quantity as u64);
    b.tab_u64(r.grid as u64);
    b.byte(b'\t');
    if r.modifiers == [b' '; 4] {
        // No modifier: the modifiers and both amount columns are empty.
        b.bytes(b"\t\t\t");
    } else {
        for &m in &r.modifiers {
            if m != b' ' {
                b.byte(m);
            }
        }
        for v in [&r.mod_amounts, &r.mod_assoc_red] {
            b.byte(b'\t');
            let mut first = true;
            for (k, &m) in r.modifiers.iter().enumerate() {
                if m != b' ' {
                    if !first {
                        b.byte(b',');
                    }
                    first = false;
                    let mut c = fmt::Row::<WIN>::default();
                    fmt::euros(&mut c, v[k]);
                    match c.bytes() {
                        Some(t) => b.bytes(t),
                        None => b.full = true,
                    }
                }
            }
        }
        b.bytes(b"\t");
    }
    if r.assoc_code != b' ' {
        b.byte(r.assoc_code);
    }
    b.tab_pct(r.assoc_coef);
    b.tab_euros(r.unit_price);
    b.tab_euros(r.pu_assoc_red);
    b.tab_euros(r.base);
    b.tab_pct(r.rate);
    b.byte(b'\t');
    if let Some(x) = r.rate_reason {
        b.bytes(x.as_str().as_bytes());
    }
    // The fourteen amounts one after the other (not a loop over an array: each is a few stores).
    b.tab_euros(r.amo_gross);
    b.tab_euros(r.pf);
    b.tab_euros(r.franchise);
    b.tab_euros(r.heavy_forfait);
    b.tab_euros(r.debt);
    b.tab_euros(r.amo_paid);
    b.tab_euros(r.recovered);
    b.tab_euros(r.billed);
    b.tab_euros(r.excess);
    b.tab_euros(r.ticket);
    b.tab_euros(r.amc_ticket);
    b.tab_euros(r.amc_excess);
    b.tab_euros(r.amc());
    b.tab_euros(r.patient);
    b.piece(&p.payee);
    if r.warnings != 0 {
        let mut first = true;
        for w in r.warning_codes() {
            if !first {
                b.byte(b',');
            }
            first = false;
            b.bytes(w.code().as_bytes());
        }
    }
    b.byte(b'\n');
}

/// One row of an insurer's file `amc/<AMC>.tsv`: the text of `super::amc_row`.
#[inline(always)]
fn amc_row(b: &mut W<'_>, p: &Pieces, l: &ActLine, r: &LineResult) {
    b.piece(&p.amc_head);
    match b.win() {
        Some(d) => b.n += put_u64(d, 0, r.line_no as u64),
        None => return,
    }
    b.byte(b'\t');
    b.piece(&p.date_text);
    match &l.act {
        Act::Ngap { letter, .. } => {
            b.byte(b'\t');
            b.trimmed(letter);
        }
        Act::Ccam { code, .. } => {
            b.byte(b'\t');
            b.bytes(code);
        }
    }
    b.tab_euros(r.base);
    b.tab_euros(r.amo_paid);
    b.tab_euros(r.ticket);
    b.tab_euros(r.amc_ticket);
    b.tab_euros(r.excess);
    b.tab_euros(r.amc_excess);
    b.tab_euros(r.amc());
    b.piece(&p.amc_tail);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::Warn;
    use crate::rules::{AmcRoute, PayeeKind, RateReason};

    use crate::testing::Rng;

    /// The rows' draws over the core's test xorshift.
    impl Rng {
        /// An amount of a random width and sign, zero one time in three (most amounts of a row).
        fn cents(&mut self) -> Cents {
            if self.next().is_multiple_of(3) {
                return 0;
            }
            let v = self.width(50) as i64;
            if self.next().is_multiple_of(4) { -v } else { v }
        }
        fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
            xs[(self.next() % xs.len() as u64) as usize]
        }
    }

    /// The 8-digit conversion in a register gives `format!("{v:08}")` on every value below 10⁶ and
    /// on a million pseudo-random ones up to 10⁸, the boundaries of each digit count included.
    #[test]
    fn eight_digits_in_a_register_are_the_decimal_digits() {
        let text = |v: u64| (swar8(v) | 0x3030_3030_3030_3030).to_le_bytes();
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        let mut cases: Vec<u64> = (0..1_000_000).collect();
        cases.extend((0..1_000_000).map(|_| rng.next() % 100_000_000));
        let mut p = 1u64;
        for _ in 0..8 {
            cases.extend([p - 1, p, p + 1, 100_000_000 - p]);
            p *= 10;
        }
        for v in cases {
            assert_eq!(text(v), *format!("{v:08}").as_bytes(), "{v}");
        }
    }

    /// Integers, amounts and percentages written into a window: `std`'s and the reference
    /// formatters' text at every digit count and sign, the cursor advanced by the text's length.
    #[test]
    fn window_fields_write_the_reference_text() {
        let mut vals: Vec<u64> = vec![0, u64::MAX, i64::MAX as u64];
        let mut p = 1u64;
        for _ in 0..20 {
            vals.extend([p.saturating_sub(1), p, p.saturating_add(1)]);
            p = p.saturating_mul(10);
        }
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        vals.extend((0..200_000).map(|_| rng.width(64)));
        let mut buf = [0u8; 256];
        for v in vals {
            let c = (v >> 1) as i64;
            for c in [c, -c] {
                let mut w = W {
                    buf: &mut buf,
                    n: 0,
                    full: false,
                };
                w.tab_u64(v);
                w.tab_euros(c);
                w.tab_pct(c);
                w.tab_euros(c % 100_000);
                w.tab_pct(c % 100_000);
                let (n, full) = (w.n, w.full);
                let mut want = Vec::new();
                for f in [
                    &mut |b: &mut Vec<u8>| fmt::u64_(b, v) as _,
                    &mut |b: &mut Vec<u8>| fmt::euros(b, c),
                    &mut |b: &mut Vec<u8>| fmt::pct(b, c),
                    &mut |b: &mut Vec<u8>| fmt::euros(b, c % 100_000),
                    &mut |b: &mut Vec<u8>| fmt::pct(b, c % 100_000),
                ] as [&mut dyn FnMut(&mut Vec<u8>); 5]
                {
                    fmt::tab(&mut want);
                    f(&mut want);
                }
                assert!(!full);
                assert_eq!(&buf[..n], &want[..], "{v} {c}");
            }
        }
    }

    /// A random paid claim: header, act lines (NGAP and CCAM), results with amounts of every width
    /// and sign, modifiers, warnings, rate reasons, positions far in a national file, with or
    /// without an insurer.
    fn random_claim(rng: &mut Rng) -> (ClaimHeader, Vec<ActLine>, Vec<Pos>, Paid) {
        let nir_byte = |rng: &mut Rng| rng.pick(b"0123456789AB");
        let mut nir = [0u8; 13];
        nir.iter_mut().for_each(|c| *c = nir_byte(rng));
        let letters: &[[u8; 4]] = &[*b"G   ", *b"C   ", *b"AMI ", *b"MCG ", *b"    "];
        let amcs: &[[u8; 10]] = &[*b"C2S       ", *b"0123456789", *b"MUT42     "];
        let h = ClaimHeader {
            claim_no: rng.width(34) as u32,
            practitioner: rng.width(32) as u32,
            nir,
            nir_key: *b"12",
            rank: rng.width(11) as u16,
            birth: Date(19850501),
            birth_rank: 1,
            nature: b'1',
            exemption: b'0',
            pathway: b'0',
            tp_amo: true,
            tp_amc: true,
            amc: amcs[0],
            contract: *b"01",
            at_ref: *b"         ",
        };
        let n = 1 + rng.next() % 6;
        let (mut lines, mut pos, mut results) = (Vec::new(), Vec::new(), Vec::new());
        let payee = |rng: &mut Rng| rng.pick(&[PayeeKind::Practitioner, PayeeKind::Insured]);
        let reasons = [
            None,
            Some(RateReason::Default),
            Some(RateReason::Ald),
            Some(RateReason::WorkAccident),
            Some(RateReason::OutOfPathway),
        ];
        let all_warnings = Warn::ALL.iter().fold(0u32, |m, w| m | 1 << (*w as u32));
        let date = Date(20200101 + (rng.next() % 12) as u32 * 100 + (rng.next() % 28) as u32);
        for i in 0..n {
            let act = if rng.next().is_multiple_of(2) {
                Act::Ngap {
                    letter: rng.pick(letters),
                    coef: rng.width(20) as u32,
                }
            } else {
                Act::Ccam {
                    code: *b"HBQK002",
                    extension: b' ',
                    activity: (rng.next() % 10) as u8,
                    phase: (rng.next() % 10) as u8,
                    modifiers: *b"    ",
                    assoc: b' ',
                    rc: b' ',
                }
            };
            lines.push(ActLine {
                claim_no: h.claim_no,
                line_no: i as u16 + 1,
                date,
                act,
                quantity: rng.width(16) as u16,
                fee: rng.cents(),
                qualifier: *b"  ",
                exemption: b'0',
            });
            pos.push(Pos {
                line: rng.width(40),
                offset: rng.width(64),
            });
            let mut modifiers = [b' '; 4];
            if rng.next().is_multiple_of(3) {
                modifiers.iter_mut().for_each(|m| *m = rng.pick(b"  FUKJ"));
            }
            let mut r = LineResult {
                line_no: rng.width(16) as u16,
                index: i as u16,
                date: if rng.next().is_multiple_of(4) {
                    Date(19991231)
                } else {
                    date
                },
                grid: rng.width(8) as u8,
                unit_price: rng.cents(),
                quantity: rng.width(16) as u16,
                modifiers,
                mod_amounts: [rng.cents(), rng.cents(), rng.cents(), rng.cents()],
                mod_assoc_red: [rng.cents(), rng.cents(), rng.cents(), rng.cents()],
                pu_assoc_red: rng.cents(),
                assoc_code: rng.pick(b"  12345"),
                assoc_coef: rng.cents() % 100_000,
                base: rng.cents(),
                rate: rng.cents() % 100_000,
                rate_reason: rng.pick(&reasons),
                ..LineResult::default()
            };
            for v in [
                &mut r.amo_gross,
                &mut r.pf,
                &mut r.franchise,
                &mut r.heavy_forfait,
                &mut r.debt,
                &mut r.recovered,
                &mut r.amo_paid,
                &mut r.billed,
                &mut r.excess,
                &mut r.ticket,
                &mut r.amc_ticket,
                &mut r.amc_excess,
                &mut r.patient,
            ] {
                *v = rng.cents();
            }
            if rng.next().is_multiple_of(5) {
                r.warnings = rng.next() as u32 & all_warnings;
            }
            // Lines not paid (rejected on their own) are skipped by the rows.
            if !rng.next().is_multiple_of(7) {
                results.push(r);
            }
        }
        let amc = (!rng.next().is_multiple_of(3)).then(|| AmcRoute {
            amc: rng.pick(amcs),
            contract: rng.pick(&[*b"01", *b"1 ", *b"  "]),
            payee: payee(rng),
        });
        let p = Paid {
            lines: results,
            payee: payee(rng),
            amc,
            rejected_lines: vec![],
            recoveries: vec![],
        };
        (h, lines, pos, p)
    }

    /// The reference rows of a claim: the field-by-field writers into the buffers.
    fn reference(out: &mut super::super::OutBufs, c: &(ClaimHeader, Vec<ActLine>, Vec<Pos>, Paid)) {
        let (h, lines, pos, p) = c;
        for r in &p.lines {
            let k = r.index as usize;
            super::super::payment_row(&mut out.payments, h, &lines[k], &pos[k], r, p);
            if let Some(a) = &p.amc
                && (r.amc() != 0 || r.ticket != 0 || r.excess != 0)
            {
                let start = out.amc_bytes.len() as u32;
                super::super::amc_row(&mut out.amc_bytes, h, &lines[k], r, a);
                out.amc_rows
                    .push((a.amc, start, out.amc_bytes.len() as u32));
            }
        }
    }

    /// The payee kinds written in place are the text of `PayeeKind::as_str`, which the reference
    /// writer and the insurer rows use.
    #[test]
    fn payee_kinds_in_place_are_their_text() {
        for k in [PayeeKind::Practitioner, PayeeKind::Insured] {
            let mut p = Piece::default();
            assert!(p.write(|b| b.kind(k)));
            assert_eq!(p.r.bytes(), Some(k.as_str().as_bytes()));
        }
    }

    /// The fixed-store writer gives the reference writers' bytes, row for row and in the same
    /// insurer files, on 20 000 random claims written one after the other through one writer (the
    /// date and the pieces kept from claim to claim) — with the normal array, and with arrays too
    /// small for some rows or for all (those rows written by the reference writer).
    #[test]
    fn the_fixed_store_rows_are_the_reference_rows() {
        let mut rng = Rng(0xD1B5_4A32_D192_ED03);
        let claims: Vec<_> = (0..20_000).map(|_| random_claim(&mut rng)).collect();
        let mut want = super::super::OutBufs::default();
        claims.iter().for_each(|c| reference(&mut want, c));
        let mut normal: Rows = Rows::default();
        let mut small: Rows<300> = Rows::default();
        let mut tiny: Rows<16> = Rows::default();
        let mut outs: [super::super::OutBufs; 3] = Default::default();
        for (h, lines, pos, p) in &claims {
            normal.paid(&mut outs[0], h, lines, pos, p);
            small.paid(&mut outs[1], h, lines, pos, p);
            tiny.paid(&mut outs[2], h, lines, pos, p);
        }
        for got in &outs {
            if got.payments != want.payments {
                let (g, w) = (
                    String::from_utf8_lossy(&got.payments),
                    String::from_utf8_lossy(&want.payments),
                );
                let bad = g.lines().zip(w.lines()).find(|(a, b)| a != b);
                panic!("first different row: {bad:?}");
            }
            assert_eq!(got.amc_bytes, want.amc_bytes);
            assert_eq!(got.amc_rows, want.amc_rows);
        }
        assert!(want.payments.len() > 1_000_000);
        assert!(want.amc_rows.len() > 10_000);
    }
}
