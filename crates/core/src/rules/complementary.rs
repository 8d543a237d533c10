//! Excess fees, the complementary insurer's share, and who is paid.

use super::controls::Parties;
use super::{AmcRoute, ClaimInput, Ctx, LineResult, Paid, PayeeKind, RateReason, Trace};
use crate::codes::Warn;
use crate::money;

/// Pseudo-insurer number under which the C2S complementary part is routed.
pub const C2S_AMC: [u8; 10] = *b"C2S       ";

/// Excess-fee qualifiers that allow a sector-1 practitioner to bill above the tariff (SNDS `IR_DEP_V`
/// [C]: D/ED entente directe, E/DE exigence particulière du malade, DA dépassement autorisé, AE/ME
/// combinations). DP (permanent right) is the S1-DP sector's own.
const S1_QUALIFIERS: [&[u8; 2]; 7] = [b"DE", b"ED", b"E ", b"D ", b"DA", b"AE", b"ME"];

/// Whether the AMO share is paid to the practitioner (third-party payment): the claim's AMO flag, or
/// C2S (full third-party payment by law, RULES.md §5.3). The participation and franchises of such a
/// claim are not deducted but become debts of the insured (`super::debt`).
pub fn third_party(h: &crate::claims::ClaimHeader, parties: &Parties) -> bool {
    h.tp_amo || parties.rights.first().is_some_and(|r| r.c2s)
}

/// Settles each line (issue #4 rules 9 and 10; RULES.md §6.1 step 7, §6.5, §7):
/// * excess = fee billed − base, never paid by AMO; a sector-1 practitioner without a valid qualifier gets
///   warning `W101`; a C2S beneficiary billed an excess gets `W103` (C2S forbids excess fees [C]);
/// * complementary share = ticket modérateur — limited, out of the pathway, to the ordinary ticket: contrats
///   responsables do not cover the pathway penalty [S: studylibfr] — plus the excess up to the contract's
///   `excess_cover` (% of the base) on the date of care; the participation forfaitaire is never covered;
/// * C2S: the complementary part is paid by C2S (routed to the `C2S` insurer file), excess not covered;
/// * without a complementary insurer the patient pays the ticket and the excess;
/// * payee of the AMO part: the practitioner under third-party payment (header flag), else the insured;
///   full third-party payment (AMC flag) marks the complementary part as paid to the practitioner;
/// * C2S: full third-party payment by law ("tiers payant intégral", RULES.md §5.3 [C:
///   complementaire-sante-solidaire.gouv.fr]) whatever the claim's flags: the practitioner is paid both
///   parts (the trace says when the flags said otherwise);
/// * the franchise médicale, like the participation, is never covered by the complementary insurer
///   [S: quechoisir "les complémentaires santé … ne peuvent rien prendre en charge"]: it is the patient's;
/// * CCAM acts flagged `AP` (accord préalable) get warning `W120` (no agreement reference in the claim:
///   paid, not verified), acts flagged `RC` (remboursable sous conditions) billed with a blank
///   reimbursement-under-condition code get `W121` (formats/rules-decisions.md, "Prior agreement").
pub fn settle(
    ctx: &Ctx,
    c: &ClaimInput,
    parties: &Parties,
    priced: &[super::pricing::Priced],
    lines: &mut Vec<LineResult>,
    tr: &mut Trace,
) -> Paid {
    let h = c.header;
    let refs = ctx.refs;
    let rights = parties.rights[0];
    let amc_payee = if h.tp_amc || rights.c2s {
        PayeeKind::Practitioner
    } else {
        PayeeKind::Insured
    };
    let route = if rights.c2s {
        Some(AmcRoute {
            amc: C2S_AMC,
            contract: *b"  ",
            payee: amc_payee,
        })
    } else if rights.has_amc() {
        Some(AmcRoute {
            amc: rights.amc,
            contract: rights.contract,
            payee: amc_payee,
        })
    } else {
        None
    };
    if h.amc != [b' '; 10]
        && !rights.c2s
        && h.amc != rights.amc
        && let Some(r) = lines.first_mut()
    {
        r.warn(Warn::AmcMismatch);
    }
    for (i, r) in lines.iter_mut().enumerate() {
        let (prac, _) = parties.prac[i];
        r.excess = (r.billed - r.base).max(0);
        let q = c.lines[i].qualifier;
        if r.excess > 0 && prac.sector == 1 && !S1_QUALIFIERS.contains(&&q) {
            r.warn(Warn::ExcessSector1);
        }
        // The act's flags on the date of care were read with its tariff (`Priced`, from
        // `Refs::ccam_pricing`); its AP and RC cells are looked up again only for a trace.
        if let crate::claims::Act::Ccam { code, rc, .. } = c.lines[i].act
            && let Some(p) = priced.get(i)
        {
            let date = r.date;
            let act = || {
                refs.acts
                    .get(&code)
                    .and_then(|hh| hh.at(date))
                    .map(|(_, a)| a)
            };
            if p.prior_agreement {
                r.warn(Warn::PriorAgreement);
                tr.note("prior_agreement", "RULES.md §1; formats/rules-decisions.md (Prior agreement)", Some(r.line_no), || {
                        format!("act {} requires prior agreement (CCAM AP `{}`): the claim carries no agreement reference, paid with W120", String::from_utf8_lossy(&code), act().map_or("", |a| a.ap.trim()))
                    });
            }
            if p.rc_conditions && rc == b' ' {
                r.warn(Warn::RcConditionNotStated);
                tr.note("reimbursement_conditions", "formats/claims-b2.md 4M/CP64; formats/rules-decisions.md (Prior agreement)", Some(r.line_no), || {
                        format!("act {} is reimbursable under conditions (CCAM RC `{}`) and the line states no condition code: paid with W121", String::from_utf8_lossy(&code), act().map_or("", |a| a.rc.trim()))
                    });
            }
        }
        if let Some(route) = route {
            let mut covered_ticket = r.ticket;
            if r.rate_reason == Some(RateReason::OutOfPathway) {
                let dflt = super::rate::default_rate(refs, &parties.prac[i].1, r.date);
                covered_ticket = covered_ticket.min(r.base - money::pct(r.base, dflt));
            }
            r.amc_ticket = covered_ticket.max(0);
            if route.amc == C2S_AMC {
                if r.excess > 0 {
                    r.warn(Warn::C2sExcess);
                }
            } else if let Some(ct) = refs
                .amc
                .get(&(route.amc, route.contract))
                .and_then(|hh| hh.value_at(r.date))
            {
                r.amc_excess = r.excess.min(money::pct(r.base, ct.excess_cover));
            }
        }
        r.patient = r.billed - r.amo_paid - r.amc();
        tr.note("complementary", "issue #4 rules 9–10; RULES.md §6.5, §7", Some(r.line_no), || {
            format!(
                "fee {} € = AMO {} € + AMC {} € (ticket {} € + excess {} € of {} €) + patient {} €{}",
                money::fmt_euros(r.billed),
                money::fmt_euros(r.amo_paid),
                money::fmt_euros(r.amc()),
                money::fmt_euros(r.amc_ticket),
                money::fmt_euros(r.amc_excess),
                money::fmt_euros(r.excess),
                money::fmt_euros(r.patient),
                match route {
                    Some(rt) => format!(", complementary {} ({})", String::from_utf8_lossy(&rt.amc).trim_end(), rt.payee.as_str()),
                    None => ", no complementary insurer".to_string(),
                }
            )
        });
    }
    let tp = third_party(h, parties);
    let payee = if tp {
        PayeeKind::Practitioner
    } else {
        PayeeKind::Insured
    };
    tr.note("payee", "issue #4 rule 10; RULES.md §5.3, §7", None, || {
        format!(
            "AMO part paid to {}",
            if rights.c2s {
                if h.tp_amo && h.tp_amc {
                    "the practitioner (C2S: full third-party payment by law)"
                } else {
                    "the practitioner (C2S: full third-party payment by law, whatever the claim's third-party flags say)"
                }
            } else if h.tp_amo {
                "the practitioner (third-party payment)"
            } else {
                "the insured"
            }
        )
    });
    Paid {
        lines: std::mem::take(lines),
        payee,
        amc: route,
        rejected_lines: Vec::new(),
        recoveries: Vec::new(),
    }
}
