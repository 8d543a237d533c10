//! Claim-level controls: who is insured, who billed, and whether the care can still be paid.

use super::{ClaimInput, Ctx, Rej, Trace};
use crate::codes::Reject;
use crate::nir;
use crate::refs::beneficiaries::BenefView;
use crate::refs::{Param, Practitioner, Rights, Specialty, benef_key};
use smallvec::SmallVec;

/// The parties of a claim, resolved on each line's date of care.
pub struct Parties<'r> {
    pub benef: BenefView<'r>,
    pub benef_key: u64,
    /// Rights in force on each line's date.
    pub rights: SmallVec<[Rights; 4]>,
    /// Practitioner status and specialty on each line's date.
    pub prac: SmallVec<[(Practitioner, Specialty); 4]>,
}

/// Natures of insurance accepted in B2 type 2 CP 77 (RULES.md §5.3 [C: RSF-B2]).
const NATURES: [u8; 5] = [10, 13, 30, 41, 90];

/// Runs the claim-level controls in a fixed order; the first failure rejects the claim.
///
/// * nature of insurance in {10,13,30,41,90}, and an accident reference with nature 41 (RULES.md §5.3
///   [C: RSF-B2 type 2 CP 77 and CP 86]);
/// * NIR key `97 − (NIR mod 97)` with Corsica 2A→19, 2B→18 (RULES.md §5.1 [C: CNAM-NIR]);
/// * beneficiary (NIR, rank) known, birth date as in the table;
/// * per line: date of care not after the batch date, not older than the time limit (27 months before the
///   batch date, RULES.md §9 [C: SNDS FAQ EGB]; boundary: care on exactly batch date − 27 months is
///   accepted, the day before is rejected), AMO rights open on that date (RULES.md §5.3 "Rights dates");
/// * per line: practitioner known and in activity on that date, and under convention (sector ≠ 0).
pub fn check<'r>(ctx: &Ctx<'r>, c: &ClaimInput, tr: &mut Trace) -> Result<Parties<'r>, Rej> {
    let h = c.header;
    let refs = ctx.refs;
    if !NATURES.contains(&h.nature) {
        return Err(Rej::claim(
            Reject::BadNature,
            format!("nature of insurance {:02}", h.nature),
        ));
    }
    if h.nature == 41 && h.at_ref.iter().all(|&b| b == b' ' || b == b'0') {
        return Err(Rej::claim(
            Reject::AtMissing,
            "nature 41 without accident number or date",
        ));
    }
    if !nir::check(&h.nir, &h.nir_key) {
        return Err(Rej::claim(
            Reject::NirKey,
            format!(
                "NIR {} key {} invalid",
                nir::mask(&h.nir),
                String::from_utf8_lossy(&h.nir_key)
            ),
        ));
    }
    tr.note("nir_key", "RULES.md §5.1 [C: CNAM-NIR]", None, || {
        format!(
            "NIR {} key {} checked (97 − NIR mod 97)",
            nir::mask(&h.nir),
            String::from_utf8_lossy(&h.nir_key)
        )
    });
    let key = match c.benef_key {
        Some(k) => k,
        None => benef_key(&h.nir, h.rank)
            .ok_or_else(|| Rej::claim(Reject::NirKey, "NIR not 13 characters"))?,
    };
    let benef = refs.beneficiaries.get_at(key, c.benef_at).ok_or_else(|| {
        Rej::claim(
            Reject::BenefUnknown,
            format!(
                "beneficiary {} rank {:03} unknown",
                nir::mask(&h.nir),
                h.rank
            ),
        )
    })?;
    if benef.birth != h.birth {
        return Err(Rej::claim(
            Reject::BirthDate,
            format!("birth date {} differs from the table", h.birth),
        ));
    }
    let (months, oldest) = ctx.time_limit();
    let mut rights = SmallVec::new();
    let mut prac = SmallVec::new();
    // One practitioner a claim: its history is looked up once, dated per line; its specialty is
    // looked up again only when a line's period names another one (issue #13: these probes were
    // most of the controls' cost).
    let history = refs.practitioners.get(&h.practitioner);
    let mut last_spec: Option<(u8, Specialty)> = None;
    for (i, l) in c.lines.iter().enumerate() {
        if l.date > ctx.batch_date {
            return Err(Rej::line(
                Reject::FutureCare,
                i,
                format!("care on {} after batch date {}", l.date, ctx.batch_date),
            ));
        }
        if l.date < oldest {
            return Err(Rej::line(
                Reject::TimeLimit,
                i,
                format!(
                    "care on {} before {} ({} months before the batch date)",
                    l.date, oldest, months
                ),
            ));
        }
        let (p, r) = benef.rights_at(l.date).ok_or_else(|| {
            Rej::line(
                Reject::RightsClosed,
                i,
                format!("no open AMO rights on {}", l.date),
            )
        })?;
        tr.note("rights", "RULES.md §5.3", Some(l.line_no), || {
            format!(
                "AMO rights open on {} (period {}..{}, regime {:02}{}{}{})",
                l.date,
                p.from,
                p.to_opt_string(),
                r.regime,
                if r.local_regime {
                    ", Alsace-Moselle local regime"
                } else {
                    ""
                },
                if r.c2s { ", C2S" } else { "" },
                if r.has_amc() {
                    format!(
                        ", AMC {} contract {}",
                        String::from_utf8_lossy(&r.amc),
                        String::from_utf8_lossy(&r.contract)
                    )
                } else {
                    String::new()
                }
            )
        });
        rights.push(r);
        let (pp, ps) = history.and_then(|hist| hist.at(l.date)).ok_or_else(|| {
            Rej::line(
                Reject::PracUnknown,
                i,
                format!(
                    "practitioner {:09} not in activity on {}",
                    h.practitioner, l.date
                ),
            )
        })?;
        if ps.sector == 0 {
            return Err(Rej::line(
                Reject::NotConventioned,
                i,
                format!(
                    "practitioner {:09} not under convention on {}",
                    h.practitioner, l.date
                ),
            ));
        }
        let spec = match last_spec {
            Some((code, spec)) if code == ps.specialty => Some(spec),
            _ => refs.specialties.get(&ps.specialty).copied(),
        }
        .ok_or_else(|| {
            Rej::line(
                Reject::PracUnknown,
                i,
                format!("specialty {:02} unknown", ps.specialty),
            )
        })?;
        tr.note("practitioner", "formats/refs.md practitioners", Some(l.line_no), || {
            format!(
                "practitioner {:09} on {}: specialty {:02}, sector {}, OPTAM {} (period {}..{})",
                h.practitioner,
                l.date,
                ps.specialty,
                ps.sector,
                if ps.optam { "yes" } else { "no" },
                pp.from,
                pp.to_opt_string()
            )
        });
        last_spec = Some((ps.specialty, spec));
        prac.push((*ps, spec));
    }
    Ok(Parties {
        benef,
        benef_key: key,
        rights,
        prac,
    })
}

/// The oldest date of care a batch dated `batch_date` still pays (the time limit, RULES.md §9:
/// inclusive — care on exactly this date is paid, the day before is rejected `R012`). The ledger
/// purges what is older than this: nothing that old can be paid again.
pub fn oldest_payable(
    refs: &crate::refs::Refs,
    batch_date: crate::date::Date,
) -> crate::date::Date {
    time_limit(refs, batch_date).1
}

/// The time limit in force on `batch_date` in months, and the oldest date of care it pays
/// ([`oldest_payable`]): what [`check`] reads of a batch, computed once by `Ctx::new`.
pub(crate) fn time_limit(
    refs: &crate::refs::Refs,
    batch_date: crate::date::Date,
) -> (i64, crate::date::Date) {
    let months = refs.param(Param::TimeLimitMonths, batch_date) / 100;
    (months, batch_date.minus_months(months as u32))
}

/// CCAM acts already paid by an earlier night (a ledger): each such line is rejected `R033` (line scope:
/// the rest of the claim is liquidated without it), with the earlier batch in the detail.
pub fn check_paid_earlier(
    carry: &dyn crate::carry::Carry,
    c: &ClaimInput,
    tr: &mut Trace,
) -> Result<(), Rej> {
    let Some(benef) = c
        .benef_key
        .or_else(|| benef_key(&c.header.nir, c.header.rank))
    else {
        return Ok(());
    };
    for (i, l) in c.lines.iter().enumerate() {
        let Some(key) = crate::carry::paid_act_key(benef, c.header.practitioner, l) else {
            continue;
        };
        if let Some(b) = carry.act(&key) {
            let detail = format!(
                "act of {} already paid by batch {} of sender {:09}",
                l.date, b.batch_no, b.sender
            );
            tr.note(
                "ledger",
                "formats/ledger.md (Acts)",
                Some(l.line_no),
                || detail.clone(),
            );
            return Err(Rej::line(Reject::ActPaidEarlier, i, detail));
        }
    }
    Ok(())
}
