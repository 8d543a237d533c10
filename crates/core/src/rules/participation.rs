//! Participation forfaitaire (PF), with its daily and yearly caps, and the franchise médicale on the acts
//! of auxiliaires médicaux, with its own daily and yearly caps.

use super::controls::Parties;
use super::{BenefState, ClaimInput, Ctx, LineResult, Trace};
use crate::codes::Warn;
use crate::money;
use crate::refs::{Param, Refs};

/// Professions of `specialties.tsv` that are auxiliaires médicaux (CSP livre III, 4th part): their acts
/// bear the franchise médicale (CSS L160-13 III 2°, ex L322-2 III) [S: RULES.md §6.3]. Midwives and
/// dentists are medical professions (no franchise); physicians bear the participation instead.
pub const PARAMEDICAL_PROFESSIONS: [&str; 5] = [
    "nurse",
    "physiotherapist",
    "speech_therapist",
    "orthoptist",
    "podiatrist",
];

const FRANCHISE_SRC: &str = "RULES.md §6.3; CSS L160-13 III, D160-9 (ex D322-5…D322-8, décret 2007-1937) as amended by décret 2024-114; formats/rules-decisions.md";

/// Participation forfaitaire (issue #4 rule 7; RULES.md §6.3):
/// * amount in force on the date of care (`pf_amount`: 1 €, 2 € from 2024-05-15 [S: décret 2024-113]),
///   charged per consultation or act of a physician;
/// * not charged to beneficiaries under `pf_min_age` (18) on 1 January of the year of care [C: ameli 2016],
///   in maternity (nature 30), work accident (nature 41) [S: bonne-assurance], nor under C2S [C]; nor for
///   care under art. 115 (nature 13: the pensioner's care related to the pension is exempt of the PF
///   [S: cnmss.fr]) nor prevention (nature 90) [I: formats/rules-decisions.md];
/// * at most `pf_daily_max` (4) per day with the same practitioner [S: bonne-assurance, ucr.fr], counted
///   across the batch for the beneficiary (warning `W111` when waived);
/// * yearly cap `pf_yearly_cap` (50 €) per beneficiary and calendar year of care, carried across the claims of
///   the batch in file order and seeded by `pf_year`/`pf_used` of the beneficiaries table (warning `W110`
///   when reduced or waived). [I] The cap is counted by year of the date of care; D322-6 counts franchises
///   on the reimbursement date — for a batch this differs only for care of the previous year.
/// * deducted from the AMO payment, never below zero — except under third-party payment
///   ([`super::complementary::third_party`]): the practitioner is paid the full AMO share and the
///   participation becomes a debt of the insured (`LineResult::debt`, booked by [`super::debt::book`];
///   RULES.md §6.3 "under tiers payant it is recovered from later payments" [C: ameli]).
///
/// Then the franchise médicale ([`apply_franchise`]) on the acts of auxiliaires médicaux.
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
    let tp = super::complementary::third_party(h, parties);
    if !st.seeded {
        st.seeded = true;
        if let Some((y, used)) = parties.benef.pf_seed() {
            st.add_pf(y, used);
        }
    }
    for (i, r) in lines.iter_mut().enumerate() {
        r.amo_paid = r.amo_gross;
        let profession = parties.prac[i].1.profession;
        // One flag per profession compiled at load (`refs::compiled`), the names compared only for
        // a profession outside the set's.
        let paramedical = refs
            .compiled
            .paramedical(profession)
            .unwrap_or_else(|| PARAMEDICAL_PROFESSIONS.contains(&refs.profession_name(profession)));
        // Per act (RULES.md §6.3, D322-5): a travel fee or majoration billed on its own line is
        // not an act and bears no franchise (formats/rules-decisions.md, "Franchises").
        r.paramedical_act = !r.physician_act && r.own_act && paramedical;
        if !r.physician_act {
            continue;
        }
        let d = r.date;
        let [amount, daily_max, cap, min_age] = refs.params(
            [
                Param::PfAmount,
                Param::PfDailyMax,
                Param::PfYearlyCap,
                Param::PfMinAge,
            ],
            d,
        );
        let why_not = if h.nature == 41 {
            Some(Exemption::WorkAccident)
        } else {
            common_exemption(c, parties, i, d, min_age)
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
        if tp {
            r.debt = pf;
        } else {
            r.amo_paid = r.amo_gross - pf;
        }
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

/// Why a beneficiary does not bear the franchise on line `i`, if any (RULES.md §6.3; sources in
/// formats/rules-decisions.md, "Franchises"):
/// * under `franchise_min_age` (18) on 1 January of the year of care (D322-8 [S: lexbase copy of décret
///   2007-1937]; DSS circular [S: ash.tm.fr]);
/// * maternity (nature 30), C2S [S: lemediasocial, quechoisir, lequotidiendumedecin, ash.tm.fr];
/// * art. 115 care (nature 13): the pensioner's care related to the pension [S: cnmss.fr, ash.tm.fr];
/// * prevention (nature 90) [I].
///
/// Not exempt: ALD ("même pour les personnes couvertes à 100 % … ALD" [S: quechoisir]), work accidents
/// (nature 41: no exemption in any list; an amendment to exempt AT/MP victims was debated in 2007 [S:
/// nosdeputes.fr], so the law as voted does not [I]), exemption `3`.
fn franchise_exempt(
    refs: &Refs,
    c: &ClaimInput,
    parties: &Parties,
    i: usize,
    d: crate::date::Date,
) -> Option<Exemption> {
    common_exemption(c, parties, i, d, refs.param(Param::FranchiseMinAge, d))
}

/// Why a line bears no participation or franchise. A value, not its text: the text is written only
/// when a trace asks for it (a `String` formatted for every exempt line cost ≈ 300 instructions a
/// claim on a generated day, issue #13); `Display` gives the words the trace has always shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exemption {
    /// Under `min_age` (whole years) on 1 January of the year of care, aged `age` then.
    UnderAge {
        min_age: i64,
        age: u32,
    },
    Maternity,
    C2s,
    WarPension,
    Prevention,
    WorkAccident,
}

impl std::fmt::Display for Exemption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Exemption::UnderAge { min_age, age } => {
                write!(f, "under {min_age} on 1 January ({age} years)")
            }
            Exemption::Maternity => f.write_str("maternity"),
            Exemption::C2s => f.write_str("C2S"),
            Exemption::WarPension => {
                f.write_str("art. 115 war pension care (nature 13) [S: cnmss.fr]")
            }
            Exemption::Prevention => {
                f.write_str("prevention (nature 90) [I: formats/rules-decisions.md]")
            }
            Exemption::WorkAccident => f.write_str("work accident"),
        }
    }
}

/// The exemptions the participation forfaitaire and the franchise share (RULES.md §6.3): under the
/// minimum age (`min_age`, a parameter in hundredths) on 1 January, maternity (nature 30), C2S, art. 115
/// care (nature 13) [S: cnmss.fr, ash.tm.fr], prevention (nature 90) [I: formats/rules-decisions.md].
fn common_exemption(
    c: &ClaimInput,
    parties: &Parties,
    i: usize,
    d: crate::date::Date,
    min_age: i64,
) -> Option<Exemption> {
    let (h, min_age) = (c.header, min_age / 100);
    let age_jan1 = parties.benef.birth.age_on(d.jan1());
    if age_jan1 < min_age as u32 {
        Some(Exemption::UnderAge {
            min_age,
            age: age_jan1,
        })
    } else if h.nature == 30 {
        Some(Exemption::Maternity)
    } else if parties.rights[i].c2s {
        Some(Exemption::C2s)
    } else if h.nature == 13 {
        Some(Exemption::WarPension)
    } else if h.nature == 90 {
        Some(Exemption::Prevention)
    } else {
        None
    }
}

/// Franchise médicale on the acts of auxiliaires médicaux (nurses, physiotherapists, speech therapists,
/// orthoptists, podiatrists: [`PARAMEDICAL_PROFESSIONS`]), after the participation (issue "Right money on
/// every line"; RULES.md §6.3):
/// * `franchise_paramedical` per act line: 0.50 €, 1 € for care from 2024-03-31 (décret 2024-114 of 16 Feb
///   2024, JO of 17 Feb) [S: klesia, lemediasocial, latribune, quechoisir]; franchises existed from
///   2008-01-01 (décret 2007-1937) [S: ash.tm.fr];
/// * `franchise_paramedical_daily_cap` per beneficiary and date of care, all auxiliaires together: 2 €,
///   4 € from 2024-03-31 [same sources]; D322-7 caps the franchise "journalier" on these acts without
///   naming the professional [S: lexbase]: counted per beneficiary and day here [I];
/// * `franchise_yearly_cap` 50 € per beneficiary and calendar year of care, **separate** from the
///   participation's cap [S: latribune, lequotidiendumedecin "les deux plafonds annuels"]; D322-6 counts it
///   on the date of reimbursement, here the year of the date of care (as the participation) [I];
/// * never more than the AMO amount of the line (BR − ticket modérateur, D322-5 [S: lexbase]);
/// * exemptions: [`franchise_exempt`]; deducted from the AMO payment like the participation (warnings
///   `W112` yearly cap, `W113` daily cap when they reduce it); under third-party payment not deducted
///   but booked as a debt of the insured, like the participation.
///
/// A reference set without the franchise parameters (built before they existed) charges none and the
/// trace says so (formats/rules-decisions.md).
///
/// Per act: NGAP majorations, travel fees and CCAM supplements billed as their own lines are not acts
/// and bear none (`LineResult::own_act`, formats/rules-decisions.md "Franchises").
pub fn apply_franchise(
    ctx: &Ctx,
    c: &ClaimInput,
    parties: &Parties,
    lines: &mut [LineResult],
    st: &mut BenefState,
    tr: &mut Trace,
) {
    let refs = ctx.refs;
    if !lines.iter().any(|r| r.paramedical_act) {
        return;
    }
    let tp = super::complementary::third_party(c.header, parties);
    for (i, r) in lines.iter_mut().enumerate() {
        if !r.paramedical_act {
            continue;
        }
        let d = r.date;
        if let Some(w) = franchise_exempt(refs, c, parties, i, d) {
            tr.note("franchise", FRANCHISE_SRC, Some(r.line_no), || {
                format!("no franchise médicale: {w}")
            });
            continue;
        }
        let [amount, day_cap, year_cap] = refs.params(
            [
                Param::FranchiseParamedical,
                Param::FranchiseParamedicalDailyCap,
                Param::FranchiseYearlyCap,
            ],
            d,
        );
        let (used_day, used_year) = (st.franchise_on(d), st.franchise_used(d.year()));
        let day_left = (day_cap - used_day).max(0);
        let year_left = (year_cap - used_year).max(0);
        let amo_left = (r.amo_gross - r.pf).max(0);
        let f = amount.min(day_left).min(year_left).min(amo_left);
        // A warning only when a cap is what reduced it (not the AMO amount of a small line).
        if day_left < amount && day_left < amo_left && day_left <= year_left {
            r.warn(Warn::FranchiseDayCap);
        } else if year_left < amount && year_left < amo_left {
            r.warn(Warn::FranchiseYearCap);
        }
        if f > 0 {
            st.add_franchise(d, f);
        }
        r.franchise = f;
        if tp {
            r.debt = r.pf + f;
            r.amo_paid = r.amo_gross;
        } else {
            r.amo_paid = r.amo_gross - r.pf - f;
        }
        tr.note("franchise", FRANCHISE_SRC, Some(r.line_no), || {
            format!(
                "franchise médicale {} € on a paramedical act (amount {} €; daily cap {} €: {} € charged on {d} before; yearly cap {} €: used {} € before, {} € after; not more than the AMO amount {} €)",
                money::fmt_euros(f),
                money::fmt_euros(amount),
                money::fmt_euros(day_cap),
                money::fmt_euros(used_day),
                money::fmt_euros(year_cap),
                money::fmt_euros(used_year),
                money::fmt_euros(used_year + f),
                money::fmt_euros(amo_left)
            )
        });
    }
}

#[cfg(test)]
mod tests {
    use super::Exemption;

    /// The words of each exemption, as the trace wrote them when they were formatted on every line.
    #[test]
    fn exemptions_read_as_the_trace_wrote_them() {
        for (e, text) in [
            (
                Exemption::UnderAge {
                    min_age: 18,
                    age: 7,
                },
                "under 18 on 1 January (7 years)",
            ),
            (Exemption::Maternity, "maternity"),
            (Exemption::C2s, "C2S"),
            (
                Exemption::WarPension,
                "art. 115 war pension care (nature 13) [S: cnmss.fr]",
            ),
            (
                Exemption::Prevention,
                "prevention (nature 90) [I: formats/rules-decisions.md]",
            ),
            (Exemption::WorkAccident, "work accident"),
        ] {
            assert_eq!(e.to_string(), text);
        }
    }
}
