//! AMO rate of each line and the heavy-act forfait.

use super::controls::Parties;
use super::pricing::Priced;
use super::{ClaimInput, Ctx, LineResult, RateReason, Trace, line_exemption};
use crate::money::{self, BP_100, Bp};
use crate::refs::Param;

/// AMO rate (issue #4 rule 6; RULES.md §5.3, §5.4, §6.2), from `parameters.tsv` on the date of care:
/// * maternity (nature 30) and work accident (nature 41) → `rate_exempt` (100 %) [C: ameli maternité;
///   S: ameli AT];
/// * ALD: exemption `4` claimed on the line or the header **and** an ALD period covering the date →
///   `rate_exempt`; claimed without a period, the claim is liquidated at the ordinary rate;
/// * out of the coordinated care pathway: indicator `H`, a physician whose specialty is not direct-access,
///   beneficiary aged at least `pathway_min_age` (16) on the date of care → `rate_out_of_pathway` (30 %)
///   [S: RULES.md §5.4];
/// * Alsace-Moselle local regime → `rate_local_regime` (90 %) [S: RULES.md §5.3];
/// * otherwise `rate_default` (70 %) [S: RULES.md §6.2].
///
/// C2S does not change the AMO rate (the complementary part is paid by C2S, see `complementary`).
pub fn line_rate(ctx: &Ctx, c: &ClaimInput, parties: &Parties, i: usize) -> (Bp, RateReason) {
    let refs = ctx.refs;
    let l = &c.lines[i];
    let h = c.header;
    let d = l.date;
    let p = |k: Param, dflt: Bp| refs.param(k, d).unwrap_or(dflt);
    let (_, spec) = parties.prac[i];
    let rights = &parties.rights[i];
    if h.nature == 30 {
        return (p(Param::RateExempt, BP_100), RateReason::Maternity);
    }
    if h.nature == 41 {
        return (p(Param::RateExempt, BP_100), RateReason::WorkAccident);
    }
    if line_exemption(h, l) == b'4' && parties.benef.ald_at(d).is_some() {
        return (p(Param::RateExempt, BP_100), RateReason::Ald);
    }
    let min_age = (p(Param::PathwayMinAge, 1600) / 100) as u32;
    if h.pathway == b'H'
        && spec.physician
        && !spec.direct_access
        && parties.benef.birth.age_on(d) >= min_age
    {
        return (p(Param::RateOutOfPathway, 3000), RateReason::OutOfPathway);
    }
    if rights.local_regime {
        return (p(Param::RateLocalRegime, 9000), RateReason::LocalRegime);
    }
    (p(Param::RateDefault, 7000), RateReason::Default)
}

/// Applies the rates, then the heavy-act forfait (issue #4 rule 8; RULES.md §6.4 [C: ameli forfait-24-euros]):
/// in one session (claim, date of care), acts whose Exo TM starts with `1` are added up, acts with `2` are
/// compared alone, NGAP acts by coefficient; when the base reaches `heavy_threshold` (120 €) or an NGAP
/// coefficient reaches `heavy_coef_threshold` (60), the ticket modérateur of the qualifying lines is replaced
/// by `heavy_forfait` (18 €, 24 € from 2019-01-01): those lines are taken at 100 % and the forfait is
/// charged once, on the qualifying line with the highest base. Not applied when the line's rate is not the
/// ordinary one (ALD, maternity, work accident, local regime, out of the pathway) nor for C2S beneficiaries
/// (exemptions of §6.4 [S: snmr]), nor to imaging acts (regroupement ADI: "radiodiagnostic et IRM exclus"
/// [S: ag2r]).
pub fn apply_rates(
    ctx: &Ctx,
    c: &ClaimInput,
    parties: &Parties,
    priced: &[Priced],
    lines: &mut [LineResult],
    tr: &mut Trace,
) {
    for i in 0..lines.len() {
        let (rate, why) = line_rate(ctx, c, parties, i);
        let r = &mut lines[i];
        r.rate = rate;
        r.rate_reason = Some(why);
        r.amo_gross = money::pct(r.base, rate);
        r.ticket = r.base - r.amo_gross;
        tr.note(
            "rate",
            "issue #4 rule 6; RULES.md §5.3–5.4, §6.2",
            Some(r.line_no),
            || {
                format!(
                    "rate {} % ({}): AMO {} € on base {} €, ticket modérateur {} €",
                    money::fmt_pct(rate),
                    why.as_str(),
                    money::fmt_euros(r.amo_gross),
                    money::fmt_euros(r.base),
                    money::fmt_euros(r.ticket)
                )
            },
        );
    }
    let refs = ctx.refs;
    // Fast path: no line can reach the heavy-act threshold (no CCAM act with an Exo TM, no NGAP coefficient).
    let may_qualify = |(p, l): (&Priced, &crate::claims::ActLine)| match p.ccam {
        Some(_) => p.exo_tm != 0,
        None => refs
            .param(Param::HeavyCoefThreshold, l.date)
            .is_some_and(|t| p.ngap_coef as i64 >= t),
    };
    if !priced.iter().zip(c.lines).any(may_qualify) {
        return;
    }
    let mut dates: Vec<_> = c.lines.iter().map(|l| l.date).collect();
    dates.sort();
    dates.dedup();
    for d in dates {
        let (Some(threshold), Some(coef_threshold), Some(forfait)) = (
            refs.param(Param::HeavyThreshold, d),
            refs.param(Param::HeavyCoefThreshold, d),
            refs.param(Param::HeavyForfait, d),
        ) else {
            continue;
        };
        let eligible = |i: usize| {
            lines[i].date == d
                && lines[i].rate_reason == Some(RateReason::Default)
                && !parties.rights[i].c2s
                && &priced[i].group[..3] != b"ADI"
        };
        let summed: i64 = (0..lines.len())
            .filter(|&i| eligible(i) && priced[i].exo_tm == 1)
            .map(|i| lines[i].base)
            .sum();
        let qualifies = |i: usize| {
            eligible(i)
                && match (priced[i].ccam, priced[i].exo_tm) {
                    (Some(_), 1) => summed >= threshold,
                    (Some(_), 2) => lines[i].base >= threshold,
                    (Some(_), _) => false,
                    (None, _) => priced[i].ngap_coef as i64 >= coef_threshold,
                }
        };
        let q: Vec<usize> = (0..lines.len()).filter(|&i| qualifies(i)).collect();
        let Some(&top) = q
            .iter()
            .max_by(|&&a, &&b| lines[a].base.cmp(&lines[b].base).then(b.cmp(&a)))
        else {
            continue;
        };
        for &i in &q {
            let r = &mut lines[i];
            r.rate = BP_100;
            r.rate_reason = Some(RateReason::HeavyAct);
            r.amo_gross = r.base;
            r.ticket = 0;
        }
        let r = &mut lines[top];
        r.heavy_forfait = forfait.min(r.base);
        r.amo_gross = r.base - r.heavy_forfait;
        r.ticket = r.heavy_forfait;
        tr.note("heavy_act_forfait", "issue #4 rule 8; RULES.md §6.4 [C: ameli forfait-24-euros]", Some(r.line_no), || {
            format!(
                "heavy act on {d} (threshold {} €, coefficient {}): {} line(s) at 100 %, forfait {} € charged on this line instead of the ticket modérateur",
                money::fmt_euros(threshold),
                coef_threshold / 100,
                q.len(),
                money::fmt_euros(r.heavy_forfait)
            )
        });
    }
}
