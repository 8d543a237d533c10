//! Calendar dates of care, as `YYYYMMDD` integers.
//!
//! Dates decide rules: every reference lookup is keyed by the date of care. A `Date` is the integer
//! `YYYYMMDD`, so ordering dates is ordering integers (binary search over sorted validity starts needs
//! nothing more). Construction validates the calendar (2025-02-30 is refused).

use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Date(pub u32);

impl Date {
    /// Far-future sentinel for open-ended validity periods.
    pub const MAX: Date = Date(99991231);

    pub fn from_ymd(y: u32, m: u32, d: u32) -> Option<Date> {
        if !(1..=9999).contains(&y) || !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
            return None;
        }
        Some(Date(y * 10000 + m * 100 + d))
    }

    /// From the integer `YYYYMMDD`, validated: [`Date::from_ymd`]'s checks, the month's length
    /// asked only past the 28th, and `v` itself kept (`from_ymd` builds it again from its parts).
    /// Every claim header and act line has a date read here (issue #13).
    pub fn from_u32(v: u32) -> Option<Date> {
        let (y, m, d) = (v / 10000, (v / 100) % 100, v % 100);
        let valid = (1..=9999).contains(&y)
            && (1..=12).contains(&m)
            && d != 0
            && (d <= 28 || d <= days_in_month(y, m));
        valid.then_some(Date(v))
    }

    /// From 8 ASCII digits `YYYYMMDD`.
    pub fn parse_compact(b: &[u8]) -> Option<Date> {
        if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let v = b.iter().fold(0u32, |a, &c| a * 10 + (c - b'0') as u32);
        Date::from_u32(v)
    }

    /// From `YYYY-MM-DD`.
    pub fn parse_iso(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let mut c = [0u8; 8];
        c[..4].copy_from_slice(&b[..4]);
        c[4..6].copy_from_slice(&b[5..7]);
        c[6..].copy_from_slice(&b[8..]);
        Date::parse_compact(&c)
    }

    pub fn year(self) -> u32 {
        self.0 / 10000
    }
    pub fn month(self) -> u32 {
        (self.0 / 100) % 100
    }
    pub fn day(self) -> u32 {
        self.0 % 100
    }

    /// The same day `n` months earlier, clamped to the month's last day (2026-05-31 − 3 → 2026-02-28).
    pub fn minus_months(self, n: u32) -> Date {
        let total = self.year() * 12 + (self.month() - 1);
        let t = total.saturating_sub(n);
        let (y, m) = (t / 12, t % 12 + 1);
        let d = self.day().min(days_in_month(y.max(1), m));
        Date(y * 10000 + m * 100 + d)
    }

    /// Age in whole years reached on `on` by someone born on `self`.
    pub fn age_on(self, on: Date) -> u32 {
        let mut a = on.year().saturating_sub(self.year());
        if (on.month(), on.day()) < (self.month(), self.day()) {
            a = a.saturating_sub(1);
        }
        a
    }

    /// 1 January of this date's year.
    pub fn jan1(self) -> Date {
        Date(self.year() * 10000 + 101)
    }

    /// Day of week, 0 = Monday … 6 = Sunday (Sakamoto's algorithm).
    pub fn weekday(self) -> u32 {
        const T: [u32; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
        let (mut y, m, d) = (self.year(), self.month(), self.day());
        if m < 3 {
            y -= 1;
        }
        let w = (y + y / 4 - y / 100 + y / 400 + T[(m - 1) as usize] + d) % 7; // 0 = Sunday
        (w + 6) % 7
    }

    /// Days since 0000-03-01 (civil calendar), for day arithmetic.
    pub fn to_days(self) -> i64 {
        let (y, m, d) = (self.year() as i64, self.month() as i64, self.day() as i64);
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146097 + doe
    }

    pub fn from_days(z: i64) -> Date {
        let era = z.div_euclid(146097);
        let doe = z - era * 146097;
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
        Date((y * 10000 + m * 100 + d) as u32)
    }

    pub fn add_days(self, n: i64) -> Date {
        Date::from_days(self.to_days() + n)
    }
}

pub fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        _ => 0,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.year(),
            self.month(),
            self.day()
        )
    }
}

/// A validity period `[from, to)`: `from` inclusive, `to` exclusive (`Date::MAX` when open-ended).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Period {
    pub from: Date,
    pub to: Date,
}

impl Period {
    pub const ALWAYS: Period = Period {
        from: Date(10101),
        to: Date::MAX,
    };

    #[inline]
    pub fn contains(&self, d: Date) -> bool {
        self.from <= d && d < self.to
    }
    pub fn overlaps(&self, o: &Period) -> bool {
        self.from < o.to && o.from < self.to
    }
    pub fn to_opt_string(&self) -> String {
        if self.to == Date::MAX {
            String::new()
        } else {
            self.to.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_dates_are_refused() {
        assert!(Date::parse_compact(b"20250230").is_none());
        assert!(Date::parse_compact(b"20240229").is_some());
        assert!(Date::parse_compact(b"21000229").is_none());
        assert!(Date::parse_compact(b"20251301").is_none());
        assert!(Date::parse_compact(b"2025010A").is_none());
        assert_eq!(Date::parse_iso("2026-01-01"), Some(Date(20260101)));
        assert!(Date::parse_iso("2026-1-01").is_none());
    }

    /// `from_u32` accepts exactly the integers `from_ymd` accepts, as the same date: every day
    /// number 0–99 of every month number 0–99 of years around the bounds (0, 1, 9 999, 10 000)
    /// and the leap-year rules (1900, 2000, 2024, 2025, 2100), every integer of 8 digits or fewer.
    #[test]
    fn from_u32_accepts_what_from_ymd_accepts_as_the_same_date() {
        for y in [
            0, 1, 4, 1900, 1999, 2000, 2024, 2025, 2026, 2100, 2400, 9999, 10_000,
        ] {
            for m in 0..100 {
                for d in 0..100 {
                    let v = y * 10_000 + m * 100 + d;
                    assert_eq!(Date::from_u32(v), Date::from_ymd(y, m, d), "{v}");
                }
            }
        }
        assert_eq!(Date::from_u32(u32::MAX), None);
    }

    #[test]
    fn period_boundaries_from_inclusive_to_exclusive() {
        let p = Period {
            from: Date(20250201),
            to: Date(20260101),
        };
        assert!(!p.contains(Date(20250131)));
        assert!(p.contains(Date(20250201)));
        assert!(p.contains(Date(20251231)));
        assert!(!p.contains(Date(20260101)));
    }

    #[test]
    fn month_arithmetic_and_ages() {
        assert_eq!(Date(20260531).minus_months(3), Date(20260228));
        assert_eq!(Date(20261122).minus_months(27), Date(20240822));
        assert_eq!(Date(20080115).age_on(Date(20260101)), 17);
        assert_eq!(Date(20080101).age_on(Date(20260101)), 18);
        assert_eq!(Date(20261122).weekday(), 6); // a Sunday
        let d = Date(20240229);
        assert_eq!(Date::from_days(d.to_days()), d);
        assert_eq!(d.add_days(1), Date(20240301));
    }
}
