//! Participation forfaitaire (PF), with its daily and yearly caps.

use super::controls::Parties;
use super::{BenefState, ClaimInput, Ctx, LineResult, Trace};
use crate::codes::Warn;
use crate::money;
use crate::refs::Param;

/// Participation forfaitaire (issue #4 rule 7; RULES.md §6.3):
/// * amount in force on the date of care (`pf_amount`: 1 €, 2 € from 2024-05-15 [S: décret 2024-113]),
///   charged per consultation or act of a physician;
/// * not charged to beneficiaries under `pf_min_age` (18) on 1 January of the year of care [C: ameli 2016],
///   in maternity (nature 30), work accident (nature 41) [S: bonne-assurance], nor under C2S [C];
/// * at most `pf_daily_max` (4) per day with the same practitioner [S: bonne-assurance, ucr.fr], counted
///   across the batch for the beneficiary (warning `W111` when waived);
/// * yearly cap `pf_yearly_cap` (50 €) per beneficiary and calendar year of care, carried across the claims of
///   the batch in file order and seeded by `pf_year`/`pf_used` of the beneficiaries table (warning `W110`
///   when reduced or waived). [I] The cap is counted by year of the date of care; D322-6 counts franchises
///   on the reimbursement date — for a batch this differs only for care of the previous year.
/// * deducted from the AMO payment, never below zero.
pub fn apply_participation(
    ctx: &Ctx,
    c: &ClaimInput,
    parties: &Parties,
    lines: &mut [LineResult],
    st: &mut BenefState,
    tr: &mut Trace,
) {
    let refs = ctx.refs;
    let h = c.header;
    if !st.seeded {
        st.seeded = true;
        if let Some((y, used)) = parties.benef.pf_seed() {
            st.add_pf(y, used);
        }
    }
    for (i, r) in lines.iter_mut().enumerate() {
        r.amo_paid = r.amo_gross;
        if !r.physician_act {
            continue;
        }
        let d = r.date;
        let (amount, daily_max, cap, min_age) = (
            refs.param(Param::PfAmount, d),
            refs.param(Param::PfDailyMax, d),
            refs.param(Param::PfYearlyCap, d),
            refs.param(Param::PfMinAge, d),
        );
        let age_jan1 = parties.benef.birth.age_on(d.jan1());
        let why_not = if age_jan1 < (min_age / 100) as u32 {
            Some(format!(
                "under {} on 1 January ({} years)",
                min_age / 100,
                age_jan1
            ))
        } else if h.nature == 30 {
            Some("maternity".into())
        } else if h.nature == 41 {
            Some("work accident".into())
        } else if parties.rights[i].c2s {
            Some("C2S".into())
        } else {
            None
        };
        if let Some(w) = why_not {
            tr.note(
                "participation",
                "issue #4 rule 7; RULES.md §6.3",
                Some(r.line_no),
                || format!("no participation forfaitaire: {w}"),
            );
            continue;
        }
        let year = d.year();
        let used_before = st.pf_used(year);
        let day = st.daily(h.practitioner, d);
        if day.pf as i64 >= daily_max / 100 {
            r.warn(Warn::PfDayCap);
            tr.note(
                "participation",
                "issue #4 rule 7; RULES.md §6.3",
                Some(r.line_no),
                || {
                    format!(
                        "participation waived: {} already charged with this practitioner on {d}",
                        day.pf
                    )
                },
            );
            continue;
        }
        let left = (cap - used_before).max(0);
        let pf = amount.min(left).min(r.amo_gross.max(0));
        // W110 only when the yearly cap is what reduced it (a PF larger than the AMO amount of a small
        // line is limited by that amount, not by the cap).
        if left < amount && left < r.amo_gross {
            r.warn(Warn::PfYearCap);
        }
        if pf > 0 {
            day.pf += 1;
            st.add_pf(year, pf);
        }
        r.pf = pf;
        r.amo_paid = r.amo_gross - pf;
        tr.note("participation", "issue #4 rule 7; RULES.md §6.3", Some(r.line_no), || {
            format!(
                "participation {} € (amount {} €; yearly cap {} €: used {} € before, {} € after)",
                money::fmt_euros(pf),
                money::fmt_euros(amount),
                money::fmt_euros(cap),
                money::fmt_euros(used_before),
                money::fmt_euros(used_before + pf)
            )
        });
    }
}
