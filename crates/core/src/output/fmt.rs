//! Allocation-free formatting of output fields straight into byte buffers (the writers' hot path:
//! one payment row per paid line, millions per night).

use crate::date::Date;
use crate::money::Cents;

/// Where formatted bytes go (a `Vec<u8>`; a trait so that another buffer can be tried).
pub trait Out {
    fn push(&mut self, c: u8);
    /// Appends a short byte string.
    fn put(&mut self, s: &[u8]);
    /// Appends the decimal digits of `v` (at least 100: the shorter ones are pushed by [`u64_`]).
    #[inline]
    fn digits(&mut self, v: u64) {
        let mut tmp = [0u8; 20];
        let i = tmp.len() - digit_count(v);
        write_digits(&mut tmp[i..], v);
        self.put(&tmp[i..]);
    }
    /// [`euros`]' text (the default writes it byte by byte; [`Row`] writes the field at once).
    #[inline]
    fn euros(&mut self, c: Cents) {
        euros_bytes(self, c);
    }
    /// [`padded`]'s text.
    #[inline]
    fn padded(&mut self, v: u64, width: usize) {
        padded_bytes(self, v, width);
    }
    /// [`date`]'s text.
    #[inline]
    fn date(&mut self, d: Date) {
        date_bytes(self, d);
    }
}

/// Number of decimal digits of `v` (1 for 0).
#[inline(always)]
pub fn digit_count(v: u64) -> usize {
    // Most numbers of a row (line numbers, euros of an amount, quantities) are below 100 000: four
    // comparisons, no branch; `ilog10` for the rest (it was ≈ 12 % of a payment row's instructions).
    if v < 100_000 {
        1 + (v >= 10) as usize
            + (v >= 100) as usize
            + (v >= 1_000) as usize
            + (v >= 10_000) as usize
    } else {
        v.ilog10() as usize + 1
    }
}

/// Writes `v`'s last `d.len()` decimal digits into `d`, two at a time from the end.
#[inline(always)]
fn write_digits(d: &mut [u8], mut v: u64) {
    // Pairs of exactly two bytes from the end: no bounds check per digit.
    let mut pairs = d.rchunks_exact_mut(2);
    for pair in &mut pairs {
        let r = (v % 100) as usize * 2;
        v /= 100;
        pair[0] = PAIRS[r];
        pair[1] = PAIRS[r + 1];
    }
    if let [first] = pairs.into_remainder() {
        *first = b'0' + (v % 10) as u8;
    }
}

/// Size of a [`Row`]: a payment row is ≈ 200 bytes; a longer one is written by the caller straight
/// into its buffer instead (`Row::bytes` is `None`), with the same text.
pub const ROW_CAP: usize = 1024;

/// One output row being formatted: a fixed array and a cursor, copied into the output buffer once
/// the row is complete (issue #13). A `Vec` pushed byte by byte checks its capacity and stores its
/// length at every byte (≈ 20 instructions a byte for a payment row); here a byte is a bounds check
/// and a store. Bytes past the end are not written but still counted, so that an overlong row is
/// detected (`bytes` is `None`) rather than cut: never a panic, never a truncated row.
pub struct Row<const N: usize = ROW_CAP> {
    buf: [u8; N],
    n: usize,
}

impl<const N: usize> Default for Row<N> {
    fn default() -> Self {
        Row { buf: [0; N], n: 0 }
    }
}

impl<const N: usize> Row<N> {
    /// Empties the row (its array is reused).
    #[inline]
    pub fn clear(&mut self) {
        self.n = 0;
    }

    /// The row written, or `None` if it did not fit.
    #[inline]
    pub fn bytes(&self) -> Option<&[u8]> {
        self.buf.get(..self.n)
    }

    /// The whole array and the row's length (at most `N`: a row that did not fit is not in it;
    /// [`Row::bytes`] says whether it fit).
    #[inline(always)]
    pub fn array(&self) -> (&[u8; N], usize) {
        (&self.buf, self.n.min(N))
    }

    /// The array and the row's length, to write a row in place (`output::rows`' pieces): a length
    /// set to at most `N` says the row fit.
    #[inline(always)]
    pub fn parts_mut(&mut self) -> (&mut [u8; N], &mut usize) {
        (&mut self.buf, &mut self.n)
    }

    /// An empty cursor over the array, to write a whole row through (the row's own length is not
    /// changed).
    #[inline(always)]
    pub fn cursor(&mut self) -> Cursor<'_> {
        Cursor {
            buf: &mut self.buf,
            n: 0,
        }
    }

    #[inline(always)]
    fn with(&mut self, f: impl FnOnce(&mut Cursor<'_>)) {
        let mut w = Cursor {
            buf: &mut self.buf,
            n: self.n,
        };
        f(&mut w);
        self.n = w.n;
    }
}

impl<const N: usize> Out for Row<N> {
    // Each field through a [`Cursor`] over the array: the same bytes as writing the row with one.
    #[inline(always)]
    fn push(&mut self, c: u8) {
        self.with(|w| w.push(c));
    }
    #[inline(always)]
    fn put(&mut self, s: &[u8]) {
        self.with(|w| w.put(s));
    }
    #[inline(always)]
    fn digits(&mut self, v: u64) {
        self.with(|w| w.digits(v));
    }
    #[inline(always)]
    fn euros(&mut self, c: Cents) {
        self.with(|w| w.euros(c));
    }
    #[inline(always)]
    fn padded(&mut self, v: u64, width: usize) {
        self.with(|w| w.padded(v, width));
    }
    #[inline(always)]
    fn date(&mut self, dt: Date) {
        self.with(|w| w.date(dt));
    }
}

/// A [`Row`]'s array being written, its cursor a plain value: a whole row is written through one
/// cursor (`Row::cursor`), so that the cursor stays in a register across the row's ≈ 60 fields
/// instead of being loaded and stored at each byte (a store into the row's array may alias the
/// `Row`'s own cursor field; it cannot alias a local). Bytes past the end of the array are not
/// written but counted, as in [`Row`].
pub struct Cursor<'a> {
    buf: &'a mut [u8],
    n: usize,
}

impl Cursor<'_> {
    /// The row written, or `None` if it did not fit.
    #[inline]
    pub fn bytes(&self) -> Option<&[u8]> {
        self.buf.get(..self.n)
    }
}

impl Out for Cursor<'_> {
    #[inline(always)]
    fn push(&mut self, c: u8) {
        if let Some(s) = self.buf.get_mut(self.n) {
            *s = c;
        }
        self.n += 1;
    }
    #[inline(always)]
    fn put(&mut self, s: &[u8]) {
        if let Some(d) = self.buf.get_mut(self.n..self.n + s.len()) {
            d.copy_from_slice(s);
        }
        self.n += s.len();
    }
    #[inline(always)]
    fn digits(&mut self, v: u64) {
        let len = digit_count(v);
        if let Some(d) = self.buf.get_mut(self.n..self.n + len) {
            write_digits(d, v);
        }
        self.n += len;
    }
    // The fields below are written with one bounds check and one cursor update each: the digits go
    // straight to their place (`write_digits` fills a slice from its end, leading zeros included).
    #[inline(always)]
    fn euros(&mut self, c: Cents) {
        if c == 0 {
            // Most amounts of a row are nil (debt, recovered, excess, forfaits…).
            if let Some(d) = self.buf.get_mut(self.n..self.n + 4) {
                d.copy_from_slice(b"0.00");
            }
            self.n += 4;
            return;
        }
        let a = c.unsigned_abs();
        let neg = (c < 0) as usize;
        let int = a / 100;
        let len = neg + digit_count(int) + 3;
        if let Some(d) = self.buf.get_mut(self.n..self.n + len) {
            let r = (a % 100) as usize * 2;
            if let [sign_and_int @ .., dot, d1, d2] = d {
                *dot = b'.';
                *d1 = PAIRS[r];
                *d2 = PAIRS[r + 1];
                if let Some((first, int_digits)) = sign_and_int.split_first_mut() {
                    if neg == 1 {
                        *first = b'-';
                        write_digits(int_digits, int);
                    } else {
                        write_digits(sign_and_int, int);
                    }
                }
            }
        }
        self.n += len;
    }
    #[inline(always)]
    fn padded(&mut self, v: u64, width: usize) {
        let w = width.min(20);
        if let Some(d) = self.buf.get_mut(self.n..self.n + w) {
            write_digits(d, v);
        }
        self.n += w;
    }
    #[inline(always)]
    fn date(&mut self, dt: Date) {
        if let Some(d) = self.buf.get_mut(self.n..self.n + 10) {
            write_digits(&mut d[..4], dt.year() as u64);
            let m = (dt.month() as usize % 100) * 2;
            let dd = (dt.day() as usize % 100) * 2;
            d[4] = b'-';
            d[5] = PAIRS[m];
            d[6] = PAIRS[m + 1];
            d[7] = b'-';
            d[8] = PAIRS[dd];
            d[9] = PAIRS[dd + 1];
        }
        self.n += 10;
    }
}

impl Out for Vec<u8> {
    #[inline]
    fn push(&mut self, c: u8) {
        Vec::push(self, c);
    }
    // Short fields are pushed byte by byte rather than copied: for a few bytes a `memcpy` call costs
    // more than the bytes (profiled: it was 5 % of a run).
    #[inline]
    fn put(&mut self, s: &[u8]) {
        for &c in s {
            Vec::push(self, c);
        }
    }
}

/// Pairs of decimal digits `00`..`99`: two digits per division (`output::rows` reads it too).
pub(super) const PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

#[inline(always)]
pub fn u64_<O: Out + ?Sized>(buf: &mut O, v: u64) {
    // One and two digits without the scratch array: most of a payment row's numbers (line numbers,
    // quantities, grids, the euros of the many zero amounts) are that short (issue #13).
    if v < 10 {
        buf.push(b'0' + v as u8);
        return;
    }
    if v < 100 {
        let r = v as usize * 2;
        buf.push(PAIRS[r]);
        buf.push(PAIRS[r + 1]);
        return;
    }
    buf.digits(v);
}

/// Zero-padded to `width` digits.
#[inline(always)]
pub fn padded<O: Out + ?Sized>(buf: &mut O, v: u64, width: usize) {
    buf.padded(v, width);
}

fn padded_bytes<O: Out + ?Sized>(buf: &mut O, v: u64, width: usize) {
    let w = width.min(20);
    // The last `w` digits of `v`, as the digit-by-digit loop this replaces wrote them.
    let v = match 10u64.checked_pow(w as u32) {
        Some(p) => v % p,
        None => v,
    };
    for _ in digit_count(v)..w {
        buf.push(b'0');
    }
    if w > 0 {
        u64_(buf, v);
    }
}

/// Euros with two decimals (`687.27`, `-0.05`): the same text as `money::fmt_euros`.
#[inline(always)]
pub fn euros<O: Out + ?Sized>(buf: &mut O, c: Cents) {
    buf.euros(c);
}

fn euros_bytes<O: Out + ?Sized>(buf: &mut O, c: Cents) {
    if c < 0 {
        buf.push(b'-');
    }
    let a = c.unsigned_abs();
    u64_(buf, a / 100);
    buf.push(b'.');
    let r = (a % 100) as usize * 2;
    buf.push(PAIRS[r]);
    buf.push(PAIRS[r + 1]);
}

/// Basis points as a percentage (`70`, `21.8`, `12.25`): the same text as `money::fmt_pct`.
#[inline(always)]
pub fn pct<O: Out + ?Sized>(buf: &mut O, bp: i64) {
    if bp < 0 {
        buf.push(b'-');
    }
    let a = bp.unsigned_abs();
    u64_(buf, a / 100);
    match a % 100 {
        0 => {}
        f if f % 10 == 0 => {
            buf.push(b'.');
            buf.push(b'0' + (f / 10) as u8);
        }
        f => {
            buf.push(b'.');
            let r = f as usize * 2;
            buf.push(PAIRS[r]);
            buf.push(PAIRS[r + 1]);
        }
    }
}

#[inline(always)]
pub fn date<O: Out + ?Sized>(buf: &mut O, d: Date) {
    buf.date(d);
}

fn date_bytes<O: Out + ?Sized>(buf: &mut O, d: Date) {
    padded_bytes(buf, d.year() as u64, 4);
    buf.push(b'-');
    let m = (d.month() as usize % 100) * 2;
    buf.push(PAIRS[m]);
    buf.push(PAIRS[m + 1]);
    buf.push(b'-');
    let dd = (d.day() as usize % 100) * 2;
    buf.push(PAIRS[dd]);
    buf.push(PAIRS[dd + 1]);
}

/// Zero-padded to at least `width` digits, never truncated: the text of `format!("{v:0width$}")`.
#[inline]
pub fn at_least<O: Out + ?Sized>(buf: &mut O, v: u64, width: usize) {
    for _ in digit_count(v)..width {
        buf.push(b'0');
    }
    u64_(buf, v);
}

/// A signed integer (`-3`, `12`).
#[inline]
pub fn i64_<O: Out + ?Sized>(buf: &mut O, v: i64) {
    if v < 0 {
        buf.push(b'-');
    }
    u64_(buf, v.unsigned_abs());
}

/// A beneficiary key as text (`NIR-rank`): the same text as `refs::benef_text`.
#[inline]
pub fn benef<O: Out + ?Sized>(buf: &mut O, key: u64) {
    let rank = key & 0x3ff;
    let corsica = (key >> 10) & 3;
    let n = key >> 12;
    if n < 10_000_000_000_000 {
        // The 13 digits, leading zeros included, two at a time (a row of `debts.tsv` and of
        // `payment_orders.tsv` each, millions a night: issue #13).
        let mut nir = [b'0'; 13];
        write_digits(&mut nir, n);
        if corsica != 0 {
            nir[6] = if corsica == 1 { b'A' } else { b'B' };
        }
        buf.put(&nir);
    } else {
        u64_(buf, n);
    }
    buf.push(b'-');
    at_least(buf, rank, 3);
}

/// ASCII bytes with trailing spaces trimmed.
#[inline(always)]
pub fn trimmed<O: Out + ?Sized>(buf: &mut O, b: &[u8]) {
    buf.put(&b[..trimmed_len(b)]);
}

/// The length of `b` without its trailing spaces: what [`trimmed`] writes (and `rows::PieceW`'s
/// in-place copy advances by).
#[inline(always)]
pub fn trimmed_len(b: &[u8]) -> usize {
    b.iter().rposition(|&c| c != b' ').map_or(0, |i| i + 1)
}

#[inline(always)]
pub fn tab<O: Out + ?Sized>(buf: &mut O) {
    buf.push(b'\t');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{fmt_euros, fmt_pct};

    #[test]
    fn same_text_as_the_money_formatters() {
        for c in [0, 5, -5, 100, 68727, -12345678, i64::MAX / 2] {
            let mut b = Vec::new();
            euros(&mut b, c);
            assert_eq!(String::from_utf8(b).unwrap(), fmt_euros(c));
        }
        for p in [0, 7000, 2180, 1225, 5, -3000] {
            let mut b = Vec::new();
            pct(&mut b, p);
            assert_eq!(String::from_utf8(b).unwrap(), fmt_pct(p));
        }
        let mut b = Vec::new();
        date(&mut b, Date(20260302));
        assert_eq!(b, b"2026-03-02");
    }

    /// The digit-pair formatting gives the money formatters' text at every boundary.
    #[test]
    fn digit_pairs_format_every_boundary() {
        let mut v = Vec::new();
        for x in [0u64, 7, 10, 99, 100, 12345, u64::MAX] {
            u64_(&mut v, x);
            tab(&mut v);
        }
        for c in [0i64, -5, 68727, i64::MIN + 1] {
            euros(&mut v, c);
            pct(&mut v, c);
        }
        date(&mut v, Date(19991231));
        trimmed(&mut v, b"G  ");
        assert_eq!(
            String::from_utf8(v).unwrap(),
            format!(
                "0\t7\t10\t99\t100\t12345\t{}\t0.000-0.05-0.05687.27687.27{}{}1999-12-31G",
                u64::MAX,
                crate::money::fmt_euros(i64::MIN + 1),
                crate::money::fmt_pct(i64::MIN + 1)
            )
        );
    }

    /// The key formatter gives the `NIR-rank` texts written by hand (Corsican departments `2A`/`2B`
    /// in the NIR's 7th character, the rank on at least 3 digits, a NIR too long to be one left as is),
    /// and the padding and signed formatters give `format!`'s text.
    #[test]
    fn keys_and_padding_match_the_std_formatters() {
        let keys = [
            (0u64, "0000000000000-000"),
            (1, "0000000000000-001"),
            ((1_000_010_000_185u64 << 12) | 1, "1000010000185-001"),
            (
                (1_000_010_000_185u64 << 12) | (1 << 10) | 7,
                "100001A000185-007",
            ),
            (
                (2_000_000_000_001u64 << 12) | (2 << 10) | 1023,
                "200000B000001-1023",
            ),
            (
                (99_999_999_999_999u64 << 12) | (1 << 10) | 999,
                "99999999999999-999",
            ),
            (u64::MAX, "4503599627370495-1023"),
        ];
        for (k, want) in keys {
            let mut b = Vec::new();
            benef(&mut b, k);
            assert_eq!(String::from_utf8(b).unwrap(), want);
            assert_eq!(crate::refs::benef_text(k), want);
        }
        for (v, w) in [
            (0u64, 9usize),
            (5, 9),
            (123_456_789, 9),
            (1_234_567_890, 9),
            (7, 0),
        ] {
            let mut b = Vec::new();
            at_least(&mut b, v, w);
            assert_eq!(String::from_utf8(b).unwrap(), format!("{v:0w$}"));
        }
        for v in [0i64, -1, 42, i64::MIN, i64::MAX] {
            let mut b = Vec::new();
            i64_(&mut b, v);
            assert_eq!(String::from_utf8(b).unwrap(), v.to_string());
        }
    }

    /// A row array writes the same text as a `Vec` for every field formatter, at every digit count,
    /// sign and padding width (the payment rows are written through the array, issue #13).
    #[test]
    fn a_row_array_writes_the_same_text_as_a_vec() {
        let mut vals: Vec<i64> = vec![0, i64::MIN, i64::MIN + 1, i64::MAX];
        let mut p = 1i64;
        for _ in 0..19 {
            for d in [-1, 0, 1] {
                vals.push(p + d);
                vals.push(-(p + d));
            }
            p = p.saturating_mul(10);
        }
        for &c in &vals {
            let mut v = Vec::new();
            let mut r: Row = Row::default();
            euros_bytes(&mut v, c);
            euros(&mut r, c);
            pct(&mut v, c);
            pct(&mut r, c);
            i64_(&mut v, c);
            i64_(&mut r, c);
            for w in [0, 1, 3, 4, 9, 20, 25] {
                padded_bytes(&mut v, c.unsigned_abs(), w);
                padded(&mut r, c.unsigned_abs(), w);
                tab(&mut v);
                tab(&mut r);
            }
            assert_eq!(r.bytes(), Some(&v[..]), "{c}");
        }
        for d in [
            Date(20260302),
            Date(19991231),
            Date(99991231),
            Date(0),
            Date(u32::MAX),
        ] {
            let mut v = Vec::new();
            let mut r: Row = Row::default();
            date_bytes(&mut v, d);
            date(&mut r, d);
            assert_eq!(r.bytes(), Some(&v[..]));
        }
        // Zero-padded to 9 digits by hand, and cut to the last 9 as before.
        let mut r: Row = Row::default();
        padded(&mut r, 42, 9);
        padded(&mut r, 1_234_567_890, 9);
        assert_eq!(r.bytes(), Some(&b"000000042234567890"[..]));
    }

    /// The fixed-array writer against the `Vec` one on 200 000 pseudo-random values of every size (a
    /// fixed-seed xorshift: no dependency, same cases each run), through every formatter the rows use,
    /// and integers against `std`'s own text: the two paths cannot drift apart unnoticed (review of
    /// the row writer, which found them equal on 3 M cases with its own harness).
    #[test]
    fn a_row_array_and_a_vec_agree_on_random_values_of_every_size() {
        let mut next = crate::testing::Rng(0x9E37_79B9_7F4A_7C15u64).into_fn();
        for _ in 0..200_000 {
            let r0 = next();
            // A value of a random bit width, so that every digit count occurs.
            let v = r0 >> (next() % 64);
            let c = if r0 & 1 == 0 {
                v as i64
            } else {
                (v as i64).wrapping_neg()
            };
            let w = (next() % 26) as usize;
            let d = Date(next() as u32 % 100_000_000);
            let mut a = Vec::new();
            let mut r: Row = Row::default();
            u64_(&mut a, v);
            u64_(&mut r, v);
            tab(&mut a);
            tab(&mut r);
            i64_(&mut a, c);
            i64_(&mut r, c);
            euros(&mut a, c);
            euros(&mut r, c);
            pct(&mut a, c);
            pct(&mut r, c);
            padded(&mut a, v, w);
            padded(&mut r, v, w);
            at_least(&mut a, v, w);
            at_least(&mut r, v, w);
            date(&mut a, d);
            date(&mut r, d);
            assert_eq!(r.bytes(), Some(&a[..]), "{v} {c} {w} {d:?}");
            let std_text = format!("{v}\t{c}");
            assert_eq!(&a[..std_text.len()], std_text.as_bytes(), "{v} {c}");
        }
    }

    /// A row longer than its array is not cut: `bytes` says it did not fit (the caller then writes it
    /// into its buffer), and writing past the end never panics.
    #[test]
    fn a_row_too_long_for_its_array_is_reported_not_cut() {
        let mut r = Row::<8>::default();
        euros(&mut r, 123_456);
        assert_eq!(r.bytes(), Some(&b"1234.56"[..]));
        euros(&mut r, -5);
        u64_(&mut r, u64::MAX);
        date(&mut r, Date(20260302));
        padded(&mut r, 7, 20);
        r.put(b"more");
        assert_eq!(r.bytes(), None);
        r.clear();
        r.put(b"ok");
        assert_eq!(r.bytes(), Some(&b"ok"[..]));
    }
}
