//! AMO rate of each line and the heavy-act forfait.

use super::controls::Parties;
use super::pricing::Priced;
use super::{ClaimInput, Ctx, LineResult, RateReason, Trace, line_exemption};
use crate::date::Date;
use crate::money::{self, BP_100, Bp};
use crate::refs::{Param, Refs, Specialty};

/// The order in which the situations decide a line's AMO rate (formats/rates.md), quoted by `explain`.
pub const PRIORITY: &str = "maternity / work accident / art. 115 war pension / prevention / ALD / exemption 3 \
     (rate_exempt, 100 %) > Alsace-Moselle local regime \
     (rate_local_regime, 90 %) > out of the coordinated care pathway (rate_out_of_pathway, 30 %) > default \
     rate of the practitioner's profession (rates.tsv)";

/// Why a line has its AMO rate, and whether the pathway indicator `H` was ignored (and why).
pub struct RateDecision {
    pub rate: Bp,
    pub reason: RateReason,
    /// `Some(why)` when the claim says `H` (out of the pathway) and no penalty applies.
    pub h_ignored: Option<String>,
}

/// The default rate of the practitioner's profession on `d` (`rates.tsv`). The load guarantees a rate on
/// every priced date for the profession of every practitioner (formats/refs.md), so the `0` is never
/// read for a liquidated line.
pub fn default_rate(refs: &Refs, spec: &Specialty, d: Date) -> Bp {
    refs.default_rate(spec.profession, d)
}

/// AMO rate of a line (issue #4 rule 6; RULES.md §5.3, §5.4, §6.2), every value from the tables in force
/// on the date of care, first matching situation in this order ([`PRIORITY`], formats/rates.md):
/// 1. maternity (nature 30) and work accident (nature 41) → `rate_exempt` (100 %) [C: ameli maternité;
///    S: ameli AT]; nature 13 (art. 115, care of a military invalidity pensioner related to the pension,
///    paid in full by the State: "exonéré du ticket modérateur" [S: cnmss.fr; B2 value I: RULES.md §5.3])
///    and nature 90 (prevention, SNDS `IR_EXO_V` 81 "PREVENTION" is a ticket-modérateur exemption
///    reason [C: IR_EXO_V]; 100 % [I]) → `rate_exempt`; ALD: exemption `4` claimed on the line or the
///    header **and** an ALD period covering the date → `rate_exempt`; claimed without a period, the
///    claim is liquidated as if not claimed; exemption `3` (nature de prestation, `IR_EXO_V` 30, an
///    exemption of the ticket modérateur by the nature of the act [C: IR_EXO_V label]) → `rate_exempt`
///    (no period to check: the exemption follows the act) [I: formats/rules-decisions.md];
/// 2. Alsace-Moselle local regime → `rate_local_regime` (90 %) [S: RULES.md §5.3];
/// 3. out of the coordinated care pathway: indicator `H`, a physician (any: general practitioners
///    included), whose specialty is not direct-access for the patient's age, patient aged at least
///    `pathway_min_age` (16) on the date of care → `rate_out_of_pathway` (30 %) [S: RULES.md §5.4];
///    otherwise `H` is ignored and the trace says why;
/// 4. the default rate of the practitioner's profession (`rates.tsv`: physicians and midwives 70 %,
///    dentists 70 % then 60 % from 2023-10-15, nurses, physiotherapists, speech therapists and
///    orthoptists 60 % [S: RULES.md §6.2]).
///
/// C2S does not change the AMO rate (the complementary part is paid by C2S, see `complementary`). The
/// cap on the out-of-pathway reduction (SNDS `IR_FOR_V` forcing codes "modulation limitée au plafond")
/// is not applied: its amount is not sourced (RULES.md §5.4, formats/rates.md).
pub fn line_rate(ctx: &Ctx, c: &ClaimInput, parties: &Parties, i: usize) -> RateDecision {
    let refs = ctx.refs;
    let l = &c.lines[i];
    let h = c.header;
    let d = l.date;
    let (_, spec) = parties.prac[i];
    let rights = &parties.rights[i];
    let exempt = if h.nature == 30 {
        Some(RateReason::Maternity)
    } else if h.nature == 41 {
        Some(RateReason::WorkAccident)
    } else if h.nature == 13 {
        Some(RateReason::WarPension)
    } else if h.nature == 90 {
        Some(RateReason::Prevention)
    } else if line_exemption(h, l) == b'4' && parties.benef.ald_at(d).is_some() {
        Some(RateReason::Ald)
    } else if line_exemption(h, l) == b'3' {
        Some(RateReason::ExemptAct)
    } else {
        None
    };
    let higher = exempt
        .map(|r| (refs.param(Param::RateExempt, d), r))
        .or_else(|| {
            rights.local_regime.then(|| {
                (
                    refs.param(Param::RateLocalRegime, d),
                    RateReason::LocalRegime,
                )
            })
        });
    let mut h_ignored = None;
    if h.pathway == b'H' {
        let age = parties.benef.birth.age_on(d);
        let min_age = (refs.param(Param::PathwayMinAge, d) / 100) as u32;
        let why_not = if let Some((_, r)) = higher {
            Some(format!(
                "{} takes priority over the pathway ({PRIORITY})",
                r.as_str()
            ))
        } else if !spec.physician {
            Some(format!(
                "the practitioner is not a physician (profession {}): the pathway concerns physicians only",
                refs.profession_name(spec.profession)
            ))
        } else if age < min_age {
            Some(format!(
                "patient aged {age}, under pathway_min_age {min_age}"
            ))
        } else if spec.direct_access && spec.direct_access_max_age.is_none_or(|m| age <= m as u32) {
            Some(match spec.direct_access_max_age {
                None => "direct-access specialty (specialties.tsv, RULES.md §5.4)".to_string(),
                Some(m) => format!(
                    "direct-access specialty up to age {m}, patient aged {age} (specialties.tsv, RULES.md §5.4)"
                ),
            })
        } else {
            None
        };
        match why_not {
            Some(w) => h_ignored = Some(w),
            None => {
                return RateDecision {
                    rate: refs.param(Param::RateOutOfPathway, d),
                    reason: RateReason::OutOfPathway,
                    h_ignored: None,
                };
            }
        }
    }
    let (rate, reason) = higher.unwrap_or((default_rate(refs, &spec, d), RateReason::Default));
    RateDecision {
        rate,
        reason,
        h_ignored,
    }
}

/// Applies the rates, then the heavy-act forfait (issue #4 rule 8; RULES.md §6.4 [C: ameli forfait-24-euros]):
/// in one session (claim, date of care), acts whose Exo TM starts with `1` are added up, acts with `2` are
/// compared alone, NGAP acts by coefficient; when the base reaches `heavy_threshold` (120 €) or an NGAP
/// coefficient reaches `heavy_coef_threshold` (60), the ticket modérateur of the qualifying lines is replaced
/// by `heavy_forfait` (18 €, 24 € from 2019-01-01): those lines are taken at 100 % and the forfait is
/// charged once, on the qualifying line with the highest base. Not applied when the line's rate is an
/// exemption (ALD, maternity, work accident, art. 115, prevention, exemption 3) or out of the pathway
/// (exemptions of §6.4 [S: snmr]; art. 115 pensioners [S: cnmss.fr]), nor to imaging acts (regroupement
/// ADI: "radiodiagnostic et IRM exclus" [S: ag2r]).
///
/// C2S and Alsace-Moselle beneficiaries are "exempt" of the forfait in the sense that they do not pay it
/// (RULES.md §5.3, §6.4 [S: snmr]): the forfait is **paid for them**, not waived
/// (formats/rules-decisions.md, "Heavy-act forfait"). C2S: the qualifying lines are taken at 100 % and the
/// forfait is charged like anyone's; the complementary part (C2S) pays it as the ticket. Alsace-Moselle:
/// the qualifying lines (at the local 90 %) are taken at 100 % and the local regime, part of the
/// mandatory insurance paid here, pays the forfait: AMO pays the whole base, `heavy_forfait` is 0 and
/// the trace says the local regime paid it.
pub fn apply_rates(
    ctx: &Ctx,
    c: &ClaimInput,
    parties: &Parties,
    priced: &[Priced],
    lines: &mut [LineResult],
    tr: &mut Trace,
) {
    for (i, r) in lines.iter_mut().enumerate() {
        let dec = line_rate(ctx, c, parties, i);
        let (rate, why) = (dec.rate, dec.reason);
        r.rate = rate;
        r.rate_reason = Some(why);
        r.amo_gross = money::pct(r.base, rate);
        r.ticket = r.base - r.amo_gross;
        if let Some(w) = &dec.h_ignored {
            tr.note(
                "pathway",
                "RULES.md §5.4; formats/rates.md",
                Some(r.line_no),
                || format!("pathway indicator H ignored: {w}"),
            );
        }
        let refs = ctx.refs;
        let spec = parties.prac[i].1;
        tr.note(
            "rate",
            "issue #4 rule 6; RULES.md §5.3–5.4, §6.2; formats/rates.md",
            Some(r.line_no),
            || {
                let from = match why {
                    RateReason::Default => {
                        let prof = refs.profession_name(spec.profession);
                        match refs.profession_rate(spec.profession, r.date) {
                            Some((p, pr)) => format!(
                                "default rate of profession {prof} in force {}..{} (rates.tsv [{}]: {})",
                                p.from,
                                p.to_opt_string(),
                                pr.confidence,
                                pr.source
                            ),
                            None => format!("default rate of profession {prof}"),
                        }
                    }
                    RateReason::OutOfPathway => {
                        "out of the coordinated care pathway (H, physician, not direct access), parameter rate_out_of_pathway".to_string()
                    }
                    RateReason::LocalRegime => "Alsace-Moselle local regime, parameter rate_local_regime".to_string(),
                    RateReason::WarPension => "nature 13: art. 115 war pension (L212-1 CPMIVG), care paid in full [S: cnmss.fr], parameter rate_exempt".to_string(),
                    RateReason::Prevention => "nature 90: prevention (IR_EXO_V 81) [I: 100 %], parameter rate_exempt".to_string(),
                    RateReason::ExemptAct => "exemption 3: nature de prestation (IR_EXO_V 30) [I], parameter rate_exempt".to_string(),
                    _ => "exemption, parameter rate_exempt".to_string(),
                };
                format!(
                    "rate {} % ({}: {from}; order {PRIORITY}): AMO {} € on base {} €, ticket modérateur {} €",
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
        None => p.ngap_coef as i64 >= refs.param(Param::HeavyCoefThreshold, l.date),
    };
    if !priced.iter().zip(c.lines).any(may_qualify) {
        return;
    }
    let mut dates: Vec<_> = c.lines.iter().map(|l| l.date).collect();
    dates.sort();
    dates.dedup();
    for d in dates {
        let [threshold, coef_threshold, forfait] = refs.params(
            [
                Param::HeavyThreshold,
                Param::HeavyCoefThreshold,
                Param::HeavyForfait,
            ],
            d,
        );
        let eligible = |i: usize| {
            lines[i].date == d
                && matches!(
                    lines[i].rate_reason,
                    Some(RateReason::Default) | Some(RateReason::LocalRegime)
                )
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
        let local = parties.rights[top].local_regime;
        let c2s = parties.rights[top].c2s;
        let r = &mut lines[top];
        if local {
            // The local regime pays the forfait: AMO (general + local regime) pays the whole base.
            tr.note("heavy_act_forfait", "issue #4 rule 8; RULES.md §5.3, §6.4 [S: snmr]; formats/rules-decisions.md", Some(r.line_no), || {
                format!(
                    "heavy act on {d} (threshold {} €, coefficient {}): {} line(s) at 100 %; forfait {} € paid by the Alsace-Moselle local regime (not charged to the patient)",
                    money::fmt_euros(threshold),
                    coef_threshold / 100,
                    q.len(),
                    money::fmt_euros(forfait.min(r.base))
                )
            });
            continue;
        }
        r.heavy_forfait = forfait.min(r.base);
        r.amo_gross = r.base - r.heavy_forfait;
        r.ticket = r.heavy_forfait;
        tr.note("heavy_act_forfait", "issue #4 rule 8; RULES.md §6.4 [C: ameli forfait-24-euros]", Some(r.line_no), || {
            format!(
                "heavy act on {d} (threshold {} €, coefficient {}): {} line(s) at 100 %, forfait {} € charged on this line instead of the ticket modérateur{}",
                money::fmt_euros(threshold),
                coef_threshold / 100,
                q.len(),
                money::fmt_euros(r.heavy_forfait),
                if c2s { "; paid by the C2S complementary part (RULES.md §5.3, §6.4 [S: snmr])" } else { "" }
            )
        });
    }
}
