//! Date-versioned values: the heart of "dates decide rules".
//!
//! A [`History`] holds the versions of one key's value, sorted by `valid_from`, with non-overlapping
//! periods `[from, to)`. [`History::at`] returns the version in force on a date by binary search over
//! the starts: the last version starting on or before the date, if its period still contains it.

use crate::date::{Date, Period};

#[derive(Clone, Debug)]
pub struct History<V> {
    rows: Vec<(Period, V)>,
}

impl<V> Default for History<V> {
    fn default() -> Self {
        History { rows: Vec::new() }
    }
}

/// Two periods of one key overlap (carried to the loader, which adds the file position).
#[derive(Debug)]
pub struct Overlap {
    pub first: Period,
    pub second: Period,
}

impl<V> History<V> {
    /// A history of rows already sorted by start and checked not to overlap (`refs::histories`).
    pub(crate) fn from_sorted(rows: Vec<(Period, V)>) -> History<V> {
        History { rows }
    }

    pub fn push(&mut self, p: Period, v: V) {
        self.rows.push((p, v));
    }

    /// Sorts by start and refuses overlapping periods. Call once after loading.
    pub fn seal(&mut self) -> Result<(), Overlap> {
        self.rows.sort_by_key(|r| r.0.from);
        for w in self.rows.windows(2) {
            if w[0].0.overlaps(&w[1].0) {
                return Err(Overlap {
                    first: w[0].0,
                    second: w[1].0,
                });
            }
        }
        Ok(())
    }

    /// The version in force on `d` (`from <= d < to`), with its period.
    #[inline]
    pub fn at(&self, d: Date) -> Option<(&Period, &V)> {
        let i = self.rows.partition_point(|r| r.0.from <= d);
        if i == 0 {
            return None;
        }
        let (p, v) = &self.rows[i - 1];
        if p.contains(d) { Some((p, v)) } else { None }
    }

    /// The version in force on `d`, or the first version for a date before it. Only for tables the
    /// loader has checked to cover every date from their first version on (parameters, rates): there
    /// the result is `None` only for an empty history.
    #[inline]
    pub fn at_or_first(&self, d: Date) -> Option<(&Period, &V)> {
        match self.rows.first() {
            Some((p, v)) if d < p.from => Some((p, v)),
            _ => self.at(d),
        }
    }

    #[inline]
    pub fn value_at(&self, d: Date) -> Option<&V> {
        self.at(d).map(|r| r.1)
    }

    pub fn rows(&self) -> &[(Period, V)] {
        &self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: u32, b: u32) -> Period {
        Period {
            from: Date(a),
            to: Date(b),
        }
    }

    #[test]
    fn boundary_dates_pick_the_right_version() {
        let mut h = History::default();
        h.push(p(20250201, 20260101), "v78");
        h.push(p(20210426, 20250201), "v67");
        h.push(p(20260101, 99991231), "v81");
        h.seal().unwrap();
        assert_eq!(h.value_at(Date(20210425)), None);
        assert_eq!(h.value_at(Date(20210426)), Some(&"v67"));
        assert_eq!(h.value_at(Date(20250131)), Some(&"v67"));
        assert_eq!(h.value_at(Date(20250201)), Some(&"v78"));
        assert_eq!(h.value_at(Date(20251231)), Some(&"v78"));
        assert_eq!(h.value_at(Date(20260101)), Some(&"v81"));
        assert_eq!(h.at_or_first(Date(20210425)).map(|r| *r.1), Some("v67"));
        assert_eq!(h.at_or_first(Date(20250201)).map(|r| *r.1), Some("v78"));
    }

    #[test]
    fn gaps_and_overlaps() {
        let mut h = History::default();
        h.push(p(20200101, 20200201), 1);
        h.push(p(20200301, 20200401), 2);
        h.seal().unwrap();
        assert_eq!(h.value_at(Date(20200215)), None);
        let mut o = History::default();
        o.push(p(20200101, 20200301), 1);
        o.push(p(20200201, 20200401), 2);
        assert!(o.seal().is_err());
    }
}
