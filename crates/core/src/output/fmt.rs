//! Allocation-free formatting of output fields straight into byte buffers (the writers' hot path:
//! one payment row per paid line, millions per night).

use crate::date::Date;
use crate::money::Cents;

/// Where formatted bytes go (a `Vec<u8>`; a trait so that another buffer can be tried).
pub trait Out {
    fn push(&mut self, c: u8);
    /// Appends a short byte string.
    fn put(&mut self, s: &[u8]);
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

/// Pairs of decimal digits `00`..`99`: two digits per division.
const PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

#[inline]
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
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    let mut x = v;
    while x >= 100 {
        let r = (x % 100) as usize * 2;
        x /= 100;
        i -= 2;
        tmp[i] = PAIRS[r];
        tmp[i + 1] = PAIRS[r + 1];
    }
    if x >= 10 {
        let r = x as usize * 2;
        i -= 2;
        tmp[i] = PAIRS[r];
        tmp[i + 1] = PAIRS[r + 1];
    } else {
        i -= 1;
        tmp[i] = b'0' + x as u8;
    }
    buf.put(&tmp[i..]);
}

/// Zero-padded to `width` digits.
#[inline]
pub fn padded<O: Out + ?Sized>(buf: &mut O, mut v: u64, width: usize) {
    let mut tmp = [b'0'; 20];
    let w = width.min(20);
    for i in (0..w).rev() {
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    buf.put(&tmp[..w]);
}

/// Euros with two decimals (`687.27`, `-0.05`): the same text as `money::fmt_euros`.
#[inline]
pub fn euros<O: Out + ?Sized>(buf: &mut O, c: Cents) {
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
#[inline]
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

#[inline]
pub fn date<O: Out + ?Sized>(buf: &mut O, d: Date) {
    padded(buf, d.year() as u64, 4);
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
    let mut digits = 1;
    let mut x = v;
    while x >= 10 {
        x /= 10;
        digits += 1;
    }
    for _ in digits..width {
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
        let mut nir = [b'0'; 13];
        let mut v = n;
        for c in nir.iter_mut().rev() {
            *c = b'0' + (v % 10) as u8;
            v /= 10;
        }
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
#[inline]
pub fn trimmed<O: Out + ?Sized>(buf: &mut O, b: &[u8]) {
    let n = b.iter().rposition(|&c| c != b' ').map_or(0, |i| i + 1);
    buf.put(&b[..n]);
}

#[inline]
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
}
