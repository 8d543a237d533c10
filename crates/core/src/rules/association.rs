//! Rules across the lines of one session (same beneficiary, same practitioner, same date of care):
//! exclusive modifiers, consultation + technical act, incompatible acts, association codes — within a
//! claim, and across the claims of the batch ([`check_across_claims`], [`record_session`]): splitting
//! a session into several claims does not escape them.

use super::pricing::{Priced, show};
use super::{BenefState, ClaimInput, Ctx, Rej, Trace};
use crate::codes::Reject;
use crate::money::{self, BP_100};
use smallvec::SmallVec;

/// The line indices of one session (inline up to 8 lines: no allocation for a usual claim).
type Session = SmallVec<[usize; 8]>;

/// Indices of the lines sharing each date of care, in line order. Called three times a claim: inline
/// vectors, not a heap allocation per session (issue #13).
fn sessions(c: &ClaimInput) -> SmallVec<[Session; 2]> {
    let mut out: SmallVec<[Session; 2]> = SmallVec::new();
    for (i, l) in c.lines.iter().enumerate() {
        match out.iter_mut().find(|g| c.lines[g[0]].date == l.date) {
            Some(g) => g.push(i),
            None => {
                let mut g = Session::new();
                g.push(i);
                out.push(g);
            }
        }
    }
    out
}

/// Exclusive modifiers (issue #4 rule 2; RULES.md §2.1 [S: lecardiologue quoting art. III-2: "U et F sont
/// exclusifs les uns des autres et ne peuvent être facturés qu'une seule fois par intervenant"],
/// Mediboard extends to F/U/P/S [S: MB-ACTE]). The family is the `exclusive` column of `modifiers.tsv`.
/// Counted per (beneficiary, practitioner, date) across the claims of the batch in file order.
pub fn check_exclusive_modifiers(
    _ctx: &Ctx,
    c: &ClaimInput,
    priced: &[Priced],
    st: &mut BenefState,
    tr: &mut Trace,
) -> Result<(), Rej> {
    for (i, (l, p)) in c.lines.iter().zip(priced).enumerate() {
        for s in 0..4 {
            if !p.exclusive[s] {
                continue;
            }
            let d = st.daily(c.header.practitioner, l.date);
            if d.exclusive >= 1 {
                return Err(Rej::line(
                    Reject::ModifierExclusive,
                    i,
                    format!(
                        "exclusive modifier {} already billed by this practitioner on {}",
                        p.modifiers[s] as char, l.date
                    ),
                ));
            }
            d.exclusive += 1;
            tr.note(
                "exclusive_modifier",
                "RULES.md §2.1 [S: art. III-2]",
                Some(l.line_no),
                || {
                    format!(
                        "exclusive modifier {} billed once for this practitioner on {}",
                        p.modifiers[s] as char, l.date
                    )
                },
            );
        }
    }
    Ok(())
}

/// No technical act with a consultation (issue #4 rule 3; RULES.md §3.3 "aucun acte technique ne peut être
/// associé à une consultation" (III-3-A) [S: lecardiologue]), except the acts listed in
/// `consultation_compatible.tsv` on that date (e.g. DEQP003 ECG). The CCAM line is rejected.
pub fn check_consultation_with_act(
    ctx: &Ctx,
    c: &ClaimInput,
    priced: &[Priced],
    tr: &mut Trace,
) -> Result<(), Rej> {
    // Nothing to check (and nothing traced) without both a consultation and a CCAM act in the
    // claim: most claims of several lines are NGAP only, and need not be cut into sessions.
    if !priced.iter().any(|p| p.consultation) || !priced.iter().any(|p| p.ccam.is_some()) {
        return Ok(());
    }
    for g in sessions(c) {
        let Some(&cons) = g.iter().find(|&&i| priced[i].consultation) else {
            continue;
        };
        for &i in &g {
            let Some(code) = priced[i].ccam else { continue };
            let date = c.lines[i].date;
            let allowed = ctx
                .refs
                .consult_ok
                .get(&code)
                .is_some_and(|h| h.at(date).is_some());
            if allowed {
                tr.note(
                    "consultation_with_act",
                    "RULES.md §3.3",
                    Some(c.lines[i].line_no),
                    || {
                        format!(
                            "{} may be billed with a consultation (documented exception)",
                            show(&code)
                        )
                    },
                );
                continue;
            }
            return Err(Rej::line(
                Reject::ConsultAssoc,
                i,
                format!(
                    "CCAM {} billed with consultation line {} on {}",
                    show(&code),
                    c.lines[cons].line_no,
                    date
                ),
            ));
        }
    }
    Ok(())
}

/// Incompatible acts (issue #4 rule 4; RULES.md §4 [S: MS-API R_INCOMPATIBILITES]): a pair in force on the
/// date in `incompatibilities.tsv` rejects the lower-priced line (unit price excluding modifiers; on a tie
/// the later line).
pub fn check_incompatibilities(
    ctx: &Ctx,
    c: &ClaimInput,
    priced: &[Priced],
    _tr: &mut Trace,
) -> Result<(), Rej> {
    // A pair needs two CCAM acts in the claim (nothing is traced here).
    if ctx.refs.incompat.is_empty() || priced.iter().filter(|p| p.ccam.is_some()).nth(1).is_none() {
        return Ok(());
    }
    for g in sessions(c) {
        for (a, &i) in g.iter().enumerate() {
            for &j in &g[a + 1..] {
                let (Some(ci), Some(cj)) = (priced[i].ccam, priced[j].ccam) else {
                    continue;
                };
                let date = c.lines[i].date;
                if ctx
                    .refs
                    .incompat
                    .get(&(ci, cj))
                    .is_some_and(|h| h.at(date).is_some())
                {
                    let lower = if priced[j].unit_price <= priced[i].unit_price {
                        j
                    } else {
                        i
                    };
                    return Err(Rej::line(
                        Reject::Incompatible,
                        lower,
                        format!(
                            "{} and {} are incompatible on {}",
                            show(&ci),
                            show(&cj),
                            date
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Association codes (issue #4 rule 3; RULES.md §3 [C: JO-2005 art. III-3 B, SNDS IR_ASS_V]).
///
/// Within a session and activity family (anaesthesia, activity 4, apart from the others, as Mediboard
/// does [S: MB-ACTE]), the acts that are not complementary gestures or supplements are ranked by unit price
/// **excluding modifiers**, descending, ties broken by line order. Then:
/// * one act: no code or code 1;
/// * gestures and supplements: no code or code 1 (always full rate);
/// * two acts: highest code 1, the other 2 (general rule), or 3 (different limbs, derogation a) or 5
///   (discontinuous times, derogation h); or 4 on both (full-rate families, derogation g);
/// * three acts: 1/3/2 (multiple traumatic lesions, b), 1/2/2 (ENT cancer surgery, c), or 4 on all;
/// * more: only code 4 on all (full-rate families).
///
/// The anatomical conditions of the derogations are not in our data; a derogation code is accepted as
/// billed when its pattern fits (documented limitation). The coefficient of each code comes from
/// `association_codes.tsv` on the date of care; no code = 100 % [S: MB-CODE getCoeffAsso('')].
pub fn apply_association(
    ctx: &Ctx,
    c: &ClaimInput,
    priced: &mut [Priced],
    st: &BenefState,
    tr: &mut Trace,
) -> Result<(), Rej> {
    for g in sessions(c) {
        for anaesthesia in [false, true] {
            // Main acts of this session paid by earlier claims rank first (their payment is final):
            // their codes open the pattern (formats/rules-decisions.md §2).
            let prior: &[u8] = match (
                anaesthesia,
                st.session(c.header.practitioner, c.lines[g[0]].date),
            ) {
                (false, Some(s)) => &s.main_codes,
                _ => &[],
            };
            let members: Session = g
                .iter()
                .copied()
                .filter(|&i| priced[i].ccam.is_some() && (priced[i].activity == 4) == anaesthesia)
                .collect();
            if members.is_empty() {
                continue;
            }
            let mut main: Session = members
                .iter()
                .copied()
                .filter(|&i| !priced[i].complement)
                .collect();
            main.sort_by(|&a, &b| {
                priced[b]
                    .unit_price
                    .cmp(&priced[a].unit_price)
                    .then(a.cmp(&b))
            });
            for &i in &members {
                if priced[i].complement && !matches!(priced[i].assoc_code, b' ' | b'1') {
                    return Err(Rej::line(
                        Reject::AssocCode,
                        i,
                        format!(
                            "complementary gesture/supplement must be billed at full rate (code 1), got {}",
                            priced[i].assoc_code as char
                        ),
                    ));
                }
            }
            // An earlier claim's lone act was validly paid without a code: it is the session's first
            // act, at full rate, i.e. code 1 for the pattern.
            let codes: SmallVec<[u8; 8]> = prior
                .iter()
                .map(|&k| if k == b' ' { b'1' } else { k })
                .chain(main.iter().map(|&i| priced[i].assoc_code))
                .collect();
            let all4 = codes.iter().all(|&k| k == b'4');
            let bad = match codes.len() {
                0 => None,
                1 => (!matches!(codes[0], b' ' | b'1')).then_some(0),
                n => {
                    if all4 {
                        None
                    } else if codes[0] != b'1' {
                        Some(0)
                    } else if n == 2 {
                        (!matches!(codes[1], b'2' | b'3' | b'5')).then_some(1)
                    } else if n == 3 {
                        match (codes[1], codes[2]) {
                            (b'3', b'2') | (b'2', b'2') => None,
                            (b'3' | b'2', _) => Some(2),
                            _ => Some(1),
                        }
                    } else {
                        Some(1)
                    }
                }
            };
            if let Some(k) = bad
                && !main.is_empty()
            {
                let k = (k as usize).saturating_sub(prior.len()).min(main.len() - 1);
                let i = main[k];
                return Err(Rej::line(
                    Reject::AssocCode,
                    i,
                    format!(
                        "association code `{}` on the act ranked {} of {} by unit price excluding modifiers ({} €) is inconsistent",
                        priced[i].assoc_code as char,
                        prior.len() + k + 1,
                        codes.len(),
                        money::fmt_euros(priced[i].unit_price)
                    ),
                ));
            }
            for &i in &members {
                let code = priced[i].assoc_code;
                let coef = if code == b' ' {
                    BP_100
                } else {
                    *ctx.refs
                        .assoc
                        .get(&(code.wrapping_sub(b'0')))
                        .and_then(|h| h.value_at(c.lines[i].date))
                        .ok_or_else(|| {
                            Rej::line(
                                Reject::AssocCode,
                                i,
                                format!(
                                    "association code `{}` unknown on {}",
                                    code as char, c.lines[i].date
                                ),
                            )
                        })?
                };
                priced[i].assoc_coef = coef;
                let rank = main.iter().position(|&m| m == i);
                tr.note(
                    "association",
                    "RULES.md §3 [C: JO-2005 III-3 B]",
                    Some(c.lines[i].line_no),
                    || {
                        format!(
                            "{}: association code `{}` → {} %",
                            match rank {
                                Some(r) => format!(
                                    "act ranked {} of {} by unit price excluding modifiers{}",
                                    prior.len() + r + 1,
                                    prior.len() + main.len(),
                                    if prior.is_empty() {
                                        ""
                                    } else {
                                        " (the session's earlier claims paid the first acts)"
                                    }
                                ),
                                None => "complementary gesture / supplement".to_string(),
                            },
                            code as char,
                            money::fmt_pct(coef)
                        )
                    },
                );
            }
        }
    }
    Ok(())
}

/// Whether a CCAM act may be billed with a consultation on `date` (`consultation_compatible.tsv`).
fn consult_compatible(ctx: &Ctx, code: &[u8; 7], date: crate::date::Date) -> bool {
    ctx.refs
        .consult_ok
        .get(code)
        .is_some_and(|h| h.at(date).is_some())
}

/// The session rules against what earlier claims of the same session paid (issue "same patient, same
/// practitioner, same day across claims"; the decisions are in `formats/rules-decisions.md`):
///
/// * consultation + technical act (RULES.md §3.3): a CCAM act not compatible with a consultation is
///   rejected when a consultation was already paid in the session, and a consultation is rejected when
///   such an act was already paid — the line of the later claim is the one rejected (`R081`), since an
///   earlier claim's payment is final;
/// * incompatibilities (RULES.md §4): a CCAM act incompatible with an act already paid in the session is
///   rejected (`R090`), whatever its price;
/// * association (RULES.md §3.3): once a main act of the session was paid, the acts of a later claim
///   are additional acts — a main act billed without code or with code 1 is rejected (`R080`), so a
///   second act cannot be paid at 100 % by being sent in another claim.
pub fn check_across_claims(
    ctx: &Ctx,
    c: &ClaimInput,
    priced: &[Priced],
    st: &BenefState,
    tr: &mut Trace,
) -> Result<(), Rej> {
    for (i, (l, p)) in c.lines.iter().zip(priced).enumerate() {
        let Some(s) = st.session(c.header.practitioner, l.date) else {
            continue;
        };
        tr.note(
            "session_across_claims",
            "formats/rules-decisions.md",
            Some(l.line_no),
            || {
                format!(
                    "earlier claims of this session ({}): consultation paid {}, technical act paid {}, main acts {}, codes [{}]",
                    l.date,
                    s.consult,
                    s.tech_act,
                    s.main_codes.len(),
                    s.acts.iter().map(|a| show(a)).collect::<Vec<_>>().join(", ")
                )
            },
        );
        match p.ccam {
            Some(code) => {
                if s.consult && !consult_compatible(ctx, &code, l.date) {
                    return Err(Rej::line(
                        Reject::ConsultAssoc,
                        i,
                        format!(
                            "CCAM {} billed on {} after a consultation paid in an earlier claim of the same session",
                            show(&code),
                            l.date
                        ),
                    ));
                }
                if let Some(other) = s.acts.iter().find(|o| {
                    ctx.refs
                        .incompat
                        .get(&(**o, code))
                        .or_else(|| ctx.refs.incompat.get(&(code, **o)))
                        .is_some_and(|h| h.at(l.date).is_some())
                }) {
                    return Err(Rej::line(
                        Reject::Incompatible,
                        i,
                        format!(
                            "{} is incompatible with {} paid in an earlier claim of the same session ({})",
                            show(&code),
                            show(other),
                            l.date
                        ),
                    ));
                }
                let main = !p.complement && p.activity != 4;
                if main && !s.main_codes.is_empty() && matches!(p.assoc_code, b' ' | b'1') {
                    return Err(Rej::line(
                        Reject::AssocCode,
                        i,
                        format!(
                            "the session of {} already has its first act (paid in an earlier claim): {} must carry an additional act's association code, got `{}`",
                            l.date,
                            show(&code),
                            p.assoc_code as char
                        ),
                    ));
                }
            }
            None if p.consultation && s.tech_act => {
                return Err(Rej::line(
                    Reject::ConsultAssoc,
                    i,
                    format!(
                        "consultation billed on {} after a technical act paid in an earlier claim of the same session",
                        l.date
                    ),
                ));
            }
            None => {}
        }
    }
    Ok(())
}

/// Records what a paid claim adds to its sessions (called on the tentative state, committed with it).
pub fn record_session(ctx: &Ctx, c: &ClaimInput, priced: &[Priced], st: &mut BenefState) {
    for (l, p) in c.lines.iter().zip(priced) {
        if !p.consultation && p.ccam.is_none() {
            continue;
        }
        let d = st.daily(c.header.practitioner, l.date);
        if p.consultation {
            d.consult = true;
        }
        if let Some(code) = p.ccam {
            if !consult_compatible(ctx, &code, l.date) {
                d.tech_act = true;
            }
            if !p.complement && p.activity != 4 {
                d.main_codes.push(p.assoc_code);
            }
            if !d.acts.contains(&code) {
                d.acts.push(code);
            }
        }
    }
}
