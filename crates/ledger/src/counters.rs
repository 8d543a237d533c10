//! What a reprocessed night changes in the counters that carry to later nights: the participations
//! and franchises charged per year (the yearly caps), per day (the franchise's daily cap) and per
//! practitioner-day (the 4-a-day participation cap). `reprocess --ledger` lists them
//! (`ledger_counters.tsv`) and carries them into the later nights' state (formats/ledger.md).

use liquidator_core::date::Date;
use liquidator_core::rules::BenefState;
use std::collections::BTreeMap;

/// One counter of a beneficiary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Counter {
    /// Participations forfaitaires charged in a calendar year of care (cents).
    ParticipationYear(u32),
    /// Franchises médicales charged in a calendar year of care (cents).
    FranchiseYear(u32),
    /// Franchises charged on a date of care (cents).
    FranchiseDay(Date),
    /// Participations charged by a practitioner on a date of care (a count).
    ParticipationsPracDay(u32, Date),
    /// Debts of the insured still open (cents): listed, not carried into later nights (their
    /// recoveries were decided against the debts of the time — formats/ledger.md, "reprocess").
    OpenDebts,
}

impl Counter {
    pub fn name(&self) -> &'static str {
        match self {
            Counter::ParticipationYear(_) => "participation_year",
            Counter::FranchiseYear(_) => "franchise_year",
            Counter::FranchiseDay(_) => "franchise_day",
            Counter::ParticipationsPracDay(..) => "participations_practitioner_day",
            Counter::OpenDebts => "open_debts",
        }
    }
    /// The period: `2026`, `2026-03-02`, or `123456789 2026-03-02`.
    pub fn period(&self) -> String {
        match self {
            Counter::ParticipationYear(y) | Counter::FranchiseYear(y) => y.to_string(),
            Counter::FranchiseDay(d) => d.to_string(),
            Counter::ParticipationsPracDay(p, d) => format!("{p:09} {d}"),
            Counter::OpenDebts => String::new(),
        }
    }
    /// Whether the value is an amount in cents (else a count).
    pub fn is_amount(&self) -> bool {
        !matches!(self, Counter::ParticipationsPracDay(..))
    }
}

fn values(s: &BenefState) -> BTreeMap<Counter, i64> {
    let mut m = BTreeMap::new();
    for (y, v) in &s.pf_by_year {
        m.insert(Counter::ParticipationYear(*y), *v);
    }
    for (y, v) in &s.fr_by_year {
        m.insert(Counter::FranchiseYear(*y), *v);
    }
    for (d, v) in &s.fr_by_day {
        m.insert(Counter::FranchiseDay(*d), *v);
    }
    for d in &s.daily {
        m.insert(
            Counter::ParticipationsPracDay(d.practitioner, d.date),
            d.pf as i64,
        );
    }
    m.insert(Counter::OpenDebts, s.open_debt_cents());
    m
}

/// The counters that differ between `old` and `new`: (counter, old value, new value).
pub fn changes(old: &BenefState, new: &BenefState) -> Vec<(Counter, i64, i64)> {
    let (a, b) = (values(old), values(new));
    let mut keys: Vec<Counter> = a.keys().chain(b.keys()).copied().collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let (x, y) = (
                a.get(&k).copied().unwrap_or(0),
                b.get(&k).copied().unwrap_or(0),
            );
            (x != y).then_some((k, x, y))
        })
        .collect()
}

/// Adds each change's difference to `s`'s counter (a later state that was built on the old value).
pub fn apply(s: &mut BenefState, changes: &[(Counter, i64, i64)]) {
    for &(k, old, new) in changes {
        let d = new - old;
        match k {
            Counter::ParticipationYear(y) => s.add_pf(y, d),
            Counter::FranchiseYear(y) => match s.fr_by_year.iter_mut().find(|e| e.0 == y) {
                Some(e) => e.1 += d,
                None => s.fr_by_year.push((y, d)),
            },
            Counter::FranchiseDay(day) => match s.fr_by_day.iter_mut().find(|e| e.0 == day) {
                Some(e) => e.1 += d,
                None => s.fr_by_day.push((day, d)),
            },
            Counter::ParticipationsPracDay(p, day) => {
                let c = s.daily(p, day);
                c.pf = (c.pf as i64 + d).clamp(0, u8::MAX as i64) as u8;
            }
            Counter::OpenDebts => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_correction_of_an_earlier_night_moves_the_later_counters_by_its_difference() {
        // Night 1 charged 2 € on 2026-03-02; reprocessed, it charges nothing. Night 2 then charged
        // 1 € more: the current state has 3 €, and must end with 1 €.
        let mut old = BenefState::default();
        old.add_pf(2026, 200);
        old.daily(7, Date(20260302)).pf = 1;
        let new = BenefState::default();
        let ch = changes(&old, &new);
        assert_eq!(
            ch,
            vec![
                (Counter::ParticipationYear(2026), 200, 0),
                (Counter::ParticipationsPracDay(7, Date(20260302)), 1, 0)
            ]
        );
        let mut cur = old.clone();
        cur.add_pf(2026, 100);
        apply(&mut cur, &ch);
        assert_eq!(cur.pf_used(2026), 100);
        assert_eq!(cur.daily(7, Date(20260302)).pf, 0);
    }
}
