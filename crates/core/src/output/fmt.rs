//! Allocation-free formatting of output fields straight into byte buffers (the writers' hot path:
//! one payment row per paid line, millions per night).

use crate::date::Date;
use crate::money::Cents;

// Digits are pushed one by one rather than copied from a scratch array: for these short fields a
// `memcpy` call costs more than the bytes (profiled: it was 5 % of a run).
#[inline]
pub fn u64_(buf: &mut Vec<u8>, v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    let mut x = v;
    loop {
        i -= 1;
        tmp[i] = b'0' + (x % 10) as u8;
        x /= 10;
        if x == 0 {
            break;
        }
    }
    for &d in &tmp[i..] {
        buf.push(d);
    }
}

/// Zero-padded to `width` digits.
#[inline]
pub fn padded(buf: &mut Vec<u8>, mut v: u64, width: usize) {
    let mut tmp = [b'0'; 20];
    let w = width.min(20);
    for i in (0..w).rev() {
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    for &d in &tmp[..w] {
        buf.push(d);
    }
}

/// Euros with two decimals (`687.27`, `-0.05`): the same text as `money::fmt_euros`.
#[inline]
pub fn euros(buf: &mut Vec<u8>, c: Cents) {
    if c < 0 {
        buf.push(b'-');
    }
    let a = c.unsigned_abs();
    u64_(buf, a / 100);
    buf.push(b'.');
    padded(buf, a % 100, 2);
}

/// Basis points as a percentage (`70`, `21.8`, `12.25`): the same text as `money::fmt_pct`.
#[inline]
pub fn pct(buf: &mut Vec<u8>, bp: i64) {
    if bp < 0 {
        buf.push(b'-');
    }
    let a = bp.unsigned_abs();
    u64_(buf, a / 100);
    match a % 100 {
        0 => {}
        f if f % 10 == 0 => {
            buf.push(b'.');
            u64_(buf, f / 10);
        }
        f => {
            buf.push(b'.');
            padded(buf, f, 2);
        }
    }
}

#[inline]
pub fn date(buf: &mut Vec<u8>, d: Date) {
    padded(buf, d.year() as u64, 4);
    buf.push(b'-');
    padded(buf, d.month() as u64, 2);
    buf.push(b'-');
    padded(buf, d.day() as u64, 2);
}

/// ASCII bytes with trailing spaces trimmed.
#[inline]
pub fn trimmed(buf: &mut Vec<u8>, b: &[u8]) {
    let n = b.iter().rposition(|&c| c != b' ').map_or(0, |i| i + 1);
    for &c in &b[..n] {
        buf.push(c);
    }
}

#[inline]
pub fn tab(buf: &mut Vec<u8>) {
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
}
