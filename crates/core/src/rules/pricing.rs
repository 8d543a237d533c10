//! Unit prices: grid selection, CCAM tariff or NGAP letter value, modifiers; then the base of each line
//! once the association coefficients are known.

use super::controls::Parties;
use super::{ClaimInput, Ctx, LineResult, Rej, Trace};
use crate::claims::Act;
use crate::codes::{Reject, Warn};
use crate::money::{self, BP_100, Bp, Cents};
use crate::refs::{Grid, ModKind, ModSource, NgapFamily, Practitioner};
use smallvec::SmallVec;

/// A line once priced, before association.
#[derive(Clone, Debug)]
pub struct Priced {
    pub grid: Grid,
    pub unit_price: Cents,
    /// Billed modifier codes (spaces = empty slot) and the value of each.
    pub modifiers: [u8; 4],
    pub mod_values: [Option<ModKind>; 4],
    pub exclusive: [bool; 4],
    pub ccam: Option<[u8; 7]>,
    pub activity: u8,
    pub complement: bool,
    /// First digit of the act's Exo TM (1: added up against the heavy-act threshold, 2: alone).
    pub exo_tm: u8,
    /// CCAM: the act needs prior agreement / is reimbursable under conditions on the date of care
    /// (read here for `complementary::settle`'s warnings `W120`, `W121`).
    pub prior_agreement: bool,
    pub rc_conditions: bool,
    pub consultation: bool,
    pub physician_act: bool,
    /// NGAP coefficient in hundredths (for the coefficient-60 heavy-act threshold); 0 for CCAM and for
    /// NGAP majorations and travel fees (IK's coefficient counts km, not the act's weight).
    pub ngap_coef: u32,
    /// NGAP family of the letter (consultation, majoration, travel fee, act); `None` for CCAM.
    pub ngap_family: Option<NgapFamily>,
    pub group: [u8; 4],
    /// Association code billed and its coefficient (set by `association::apply_association`).
    pub assoc_code: u8,
    pub assoc_coef: Bp,
}

/// Grid selection (issue #4 rule 1; RULES.md §1.3 [S: MB-ACTE two-grid logic, MS-API R_TB22]):
/// sector 1, salaried (9), or any practitioner adhering to OPTAM/OPTAM-CO → grid 1 (the "secteur 1 /
/// adhérent OPTAM" column of the official CCAM); sector 2 / S1-DP not adhering to OPTAM → grid 2.
pub fn select_grid(p: &Practitioner) -> Grid {
    if p.sector == 1 || p.sector == 9 || p.optam {
        1
    } else {
        2
    }
}

/// Prices every line: unit price on the grid and date of care, modifiers allowed and valued.
///
/// * CCAM: the act must exist on the date of care, the (activity, phase) must have a tariff on the grid
///   (RULES.md §1.2 [C: R_PU_BASE per code+activity+phase+grid+date]);
/// * NGAP: letter value on the date of care × coefficient (issue #4 rule 5; value per grid when the table
///   distinguishes grids, per profession when it distinguishes professions, e.g. IK: [`crate::refs::Refs::ngap_at`]);
///   a majoration or travel fee needs a consultation or act of the same date in the claim (`R061`
///   otherwise: [`check_ngap_majorations`], `formats/rules-decisions.md` "NGAP majorations");
/// * modifiers (RULES.md §2.1): each must be in the act's allowed list for that activity on that date
///   [S: MS-API R_ACTIVITE_MODIFICATEUR] and have a value on the grid and date [S: MS-API R_TB11]; a code
///   may not be repeated. At most 4 is enforced by the record layout (4 slots, B2 4M CP 59–62).
///
/// The lines are pushed onto `out`, the caller's (empty) list: returned in a `Result`, the inline
/// list (4 × `Priced`) was copied by a `memcpy` a claim (issue #13).
pub fn price_lines(
    ctx: &Ctx,
    c: &ClaimInput,
    parties: &Parties,
    out: &mut SmallVec<[Priced; 4]>,
    tr: &mut Trace,
) -> Result<(), Rej> {
    let refs = ctx.refs;
    for (i, l) in c.lines.iter().enumerate() {
        let (prac, spec) = parties.prac[i];
        let grid = select_grid(&prac);
        tr.note(
            "grid",
            "issue #4 rule 1; RULES.md §1.3",
            Some(l.line_no),
            || {
                format!(
                    "grid {grid} ({}) from sector {} OPTAM {}",
                    if grid == 1 {
                        "secteur 1 / OPTAM"
                    } else {
                        "hors secteur 1 / hors OPTAM"
                    },
                    prac.sector,
                    if prac.optam { "yes" } else { "no" }
                )
            },
        );
        if l.quantity == 0 {
            return Err(Rej::line(Reject::Quantity, i, "quantity 0"));
        }
        let p = match l.act {
            Act::Ngap { letter, coef } => {
                if coef == 0 {
                    return Err(Rej::line(Reject::Quantity, i, "coefficient 0"));
                }
                let (per, v) = refs
                    .ngap_at(letter, grid, spec.profession, l.date)
                    .ok_or_else(|| {
                        Rej::line(
                            Reject::NgapUnknown,
                            i,
                            format!(
                                "NGAP letter `{}` has no value on {} (grid {grid}, profession {})",
                                show(&letter),
                                l.date,
                                refs.profession_name(spec.profession)
                            ),
                        )
                    })?;
                let pu = money::mul_div_round(v.value, coef as i64, 100);
                tr.note(
                    "ngap",
                    "issue #4 rule 5; ngap_letters.tsv",
                    Some(l.line_no),
                    || {
                        format!(
                            "{} ({}) value {} € (in force {}..{}) × coefficient {} = unit price {} €",
                            show(&letter),
                            v.family.as_str(),
                            money::fmt_euros(v.value),
                            per.from,
                            per.to_opt_string(),
                            money::fmt_euros(coef as i64),
                            money::fmt_euros(pu)
                        )
                    },
                );
                Priced {
                    grid,
                    unit_price: pu,
                    modifiers: *b"    ",
                    mod_values: [None; 4],
                    exclusive: [false; 4],
                    ccam: None,
                    activity: 0,
                    complement: false,
                    exo_tm: 0,
                    prior_agreement: false,
                    rc_conditions: false,
                    consultation: v.consultation,
                    physician_act: v.physician && spec.physician,
                    ngap_coef: if v.family.is_base() { coef } else { 0 },
                    ngap_family: Some(v.family),
                    group: letter,
                    assoc_code: b' ',
                    assoc_coef: BP_100,
                }
            }
            Act::Ccam {
                code,
                activity,
                phase,
                modifiers,
                assoc,
                ..
            } => {
                let Some(cp) = refs.ccam_pricing(code, activity, phase, l.date) else {
                    return Err(ccam_unpriced(ctx, i, code, activity, phase, l.date));
                };
                let pu = cp.for_grid(grid).ok_or_else(|| {
                    Rej::line(
                        Reject::ActivityPhase,
                        i,
                        format!(
                            "CCAM {}-{activity}-{phase} has no tariff on grid {grid}",
                            show(&code)
                        ),
                    )
                })?;
                tr.note("ccam_tariff", "RULES.md §1.2; ccam_tariffs.tsv", Some(l.line_no), || {
                    // The versions, periods and label are read from the tables: only a trace shows them.
                    let act = refs.acts.get(&code).and_then(|h| h.at(l.date));
                    let tariff = refs.tariffs.get(&(code, activity, phase)).and_then(|h| h.at(l.date));
                    let (Some((aper, act)), Some((tper, tariff))) = (act, tariff) else {
                        return String::new();
                    };
                    format!(
                        "CCAM {}-{activity}-{phase} «{}»: version {} (act valid {}..{}), tariff grid {grid} = {} € (in force {}..{}), Exo TM {}, regroupement {}",
                        show(&code),
                        act.label,
                        tariff.version,
                        aper.from,
                        aper.to_opt_string(),
                        money::fmt_euros(pu),
                        tper.from,
                        tper.to_opt_string(),
                        act.exo_tm_raw,
                        show(&act.regroupement)
                    )
                });
                let allowed = cp.allowed;
                let mut mod_values = [None; 4];
                let mut exclusive = [false; 4];
                for (s, &m) in modifiers.iter().enumerate() {
                    if m == b' ' {
                        continue;
                    }
                    if modifiers[..s].contains(&m) {
                        return Err(Rej::line(
                            Reject::ModifierNotAllowed,
                            i,
                            format!("modifier {} repeated", m as char),
                        ));
                    }
                    if !allowed.is_some_and(|a| a.contains(m)) {
                        return Err(Rej::line(
                            Reject::ModifierNotAllowed,
                            i,
                            format!(
                                "modifier {} not allowed for {}-{activity} on {} (allowed: {})",
                                m as char,
                                show(&code),
                                l.date,
                                allowed.map(|a| a.to_string()).unwrap_or_default()
                            ),
                        ));
                    }
                    let mv = refs
                        .modifier_value(m, grid, l.date, prac.specialty)
                        .ok_or_else(|| {
                            Rej::line(
                                Reject::ModifierNotAllowed,
                                i,
                                format!(
                                    "modifier {} has no value on grid {grid} on {}",
                                    m as char, l.date
                                ),
                            )
                        })?;
                    let mper = mv.period;
                    mod_values[s] = Some(mv.kind);
                    exclusive[s] = mv.exclusive;
                    tr.note(
                        "modifier",
                        "RULES.md §2.1; ccam_modifier_values.tsv, modifiers.tsv",
                        Some(l.line_no),
                        || {
                            format!(
                                "modifier {} (slot {}): {} (in force {}..{}{}){}",
                                m as char,
                                s + 1,
                                match mv.kind {
                                    ModKind::Pct(bp) =>
                                        format!("+{} % of the unit price", money::fmt_pct(bp)),
                                    ModKind::Fixed(c) =>
                                        format!("+{} € fixed", money::fmt_euros(c)),
                                },
                                mper.from,
                                mper.to_opt_string(),
                                match mv.source {
                                    ModSource::Official {
                                        version,
                                        by_specialty: true,
                                    } => format!(
                                        ", official CCAM v{version}, specialty {:02}",
                                        prac.specialty
                                    ),
                                    ModSource::Official { version, .. } =>
                                        format!(", official CCAM v{version}"),
                                    ModSource::Table => ", modifiers.tsv".into(),
                                },
                                if mv.exclusive {
                                    ", exclusive family"
                                } else {
                                    ""
                                }
                            )
                        },
                    );
                }
                let mut group = [b' '; 4];
                group[..3].copy_from_slice(&cp.regroupement);
                Priced {
                    grid,
                    unit_price: pu,
                    modifiers,
                    mod_values,
                    exclusive,
                    ccam: Some(code),
                    activity,
                    complement: cp.complement,
                    exo_tm: cp.exo_tm,
                    prior_agreement: cp.prior_agreement,
                    rc_conditions: cp.rc_conditions,
                    consultation: false,
                    // The participation forfaitaire is due per consultation or act by a physician
                    // (RULES.md §6.3); a complementary gesture or supplement (`complement` in
                    // ccam_acts.tsv) is not an act of its own and bears none
                    // (formats/rules-decisions.md §1b).
                    physician_act: spec.physician && !cp.complement,
                    ngap_coef: 0,
                    ngap_family: None,
                    group,
                    assoc_code: assoc,
                    assoc_coef: BP_100,
                }
            }
        };
        out.push(p);
    }
    check_ngap_majorations(c, out, tr)
}

/// The rejection of a CCAM line [`crate::refs::Refs::ccam_pricing`] has no answer for: the act is
/// not valid on the date of care (`R` ActUnknown), else its (activity, phase) has no tariff then
/// (ActivityPhase) — asked of the tables, in that order, as the lookups were made before.
fn ccam_unpriced(
    ctx: &Ctx,
    i: usize,
    code: crate::refs::Code7,
    activity: u8,
    phase: u8,
    d: crate::date::Date,
) -> Rej {
    if ctx.refs.acts.get(&code).and_then(|h| h.at(d)).is_none() {
        Rej::line(
            Reject::ActUnknown,
            i,
            format!("CCAM {} not valid on {}", show(&code), d),
        )
    } else {
        Rej::line(
            Reject::ActivityPhase,
            i,
            format!(
                "CCAM {} activity {activity} phase {phase} does not exist on {}",
                show(&code),
                d
            ),
        )
    }
}

/// NGAP majorations and travel fees (`formats/rules-decisions.md`, "NGAP majorations"): each is billed
/// as its own line (letter, coefficient 1; IK: coefficient = km) and priced like any letter, but it
/// only exists next to what it majorates. A majoration (MCS, MEG, MN, F, CRN, MAU…) needs an NGAP
/// consultation or act of the same date of care in the claim; a travel fee (MD, IK, IFI…) needs a
/// consultation or act of the same date, NGAP or CCAM. Otherwise the line is rejected `R061` (line
/// scope: set aside, the rest of the claim is paid). Across claims the base is not looked for (a
/// documented limit).
pub fn check_ngap_majorations(
    c: &ClaimInput,
    priced: &[Priced],
    tr: &mut Trace,
) -> Result<(), Rej> {
    for (i, p) in priced.iter().enumerate() {
        let family = match p.ngap_family {
            Some(f @ (NgapFamily::Majoration | NgapFamily::Travel)) => f,
            _ => continue,
        };
        let date = c.lines[i].date;
        let base = priced.iter().zip(c.lines).any(|(q, l)| {
            l.date == date
                && match q.ngap_family {
                    Some(f) => f.is_base(),
                    None => family == NgapFamily::Travel,
                }
        });
        if !base {
            return Err(Rej::line(
                Reject::NgapUnknown,
                i,
                format!(
                    "NGAP {} `{}` without {} of the same date ({}) in the claim",
                    family.as_str(),
                    show(&p.group),
                    if family == NgapFamily::Travel {
                        "a consultation or act"
                    } else {
                        "an NGAP consultation or act"
                    },
                    date
                ),
            ));
        }
        tr.note(
            "ngap_majoration",
            "formats/rules-decisions.md (NGAP majorations)",
            Some(c.lines[i].line_no),
            || {
                format!(
                    "{} `{}` goes with a consultation or act of {} in the claim",
                    family.as_str(),
                    show(&p.group),
                    date
                )
            },
        );
    }
    Ok(())
}

/// Base of each line (RULES.md §6.1 step 4, §2.1 [C: JO-2005 art. III-3 B]; rounding §6.6):
///
/// * each modifier's majoration is stored per slot: `round(PU × pct)` for a percentage, the amount for a
///   fixed modifier (`CAM_MM1..4_MNT`);
/// * the association coefficient applies to the unit price and to the percentage majorations, **not** to
///   fixed-amount modifiers; the reductions are stored (`CAM_MPU_MNT`, `CAM_MI1..4_MNT`);
/// * base = (PU − reduction) + Σ (majoration − its reduction), times the quantity;
/// * the base never exceeds the fee billed ("dans la limite des frais exposés"): a lower fee caps the
///   base with warning `W102`.
///
/// Each line's result is built in place in the outcome's Vec (`index` = its place in `c.lines`): a
/// `LineResult` is 240 bytes, and building it on the stack then pushing it was a `memmove` a line —
/// the largest caller of memmove in the run (issue #13).
pub fn compute_bases(c: &ClaimInput, priced: &[Priced], tr: &mut Trace) -> Vec<LineResult> {
    let mut out: Vec<LineResult> = Vec::with_capacity(priced.len());
    for (k, (l, p)) in c.lines.iter().zip(priced).enumerate() {
        let coef = p.assoc_coef;
        let pu_after = money::pct(p.unit_price, coef);
        out.push(LineResult::default());
        let Some(r) = out.last_mut() else { break };
        r.line_no = l.line_no;
        r.index = k as u16;
        r.date = l.date;
        r.grid = p.grid;
        r.unit_price = p.unit_price;
        r.quantity = l.quantity;
        r.modifiers = p.modifiers;
        r.pu_assoc_red = p.unit_price - pu_after;
        r.assoc_code = p.assoc_code;
        r.assoc_coef = coef;
        r.billed = l.fee;
        r.group = p.group;
        r.physician_act = p.physician_act;
        r.own_act = match p.ngap_family {
            Some(f) => f.is_base(),
            None => !p.complement,
        };
        let mut unit = pu_after;
        for s in 0..4 {
            match p.mod_values[s] {
                Some(ModKind::Pct(bp)) => {
                    let mm = money::pct(p.unit_price, bp);
                    let after = money::pct(mm, coef);
                    r.mod_amounts[s] = mm;
                    r.mod_assoc_red[s] = mm - after;
                    unit += after;
                }
                Some(ModKind::Fixed(f)) => {
                    r.mod_amounts[s] = f;
                    unit += f;
                }
                None => {}
            }
        }
        let mut base = unit * l.quantity as i64;
        if l.fee < base {
            r.warn(Warn::FeeBelowBase);
            base = l.fee.max(0);
        }
        r.base = base;
        tr.note("base", "RULES.md §6.1 step 4, §2.1 [C: JO-2005 III-3 B], §6.6", Some(l.line_no), || {
            format!(
                "unit price {} − association reduction {} + modifiers {:?} − their reductions {:?} = {} × quantity {}{} → base {} €",
                money::fmt_euros(r.unit_price),
                money::fmt_euros(r.pu_assoc_red),
                r.mod_amounts.iter().map(|&m| money::fmt_euros(m)).collect::<Vec<_>>(),
                r.mod_assoc_red.iter().map(|&m| money::fmt_euros(m)).collect::<Vec<_>>(),
                money::fmt_euros(unit),
                l.quantity,
                if r.warnings != 0 { " (capped at the fee billed, W102)" } else { "" },
                money::fmt_euros(base)
            )
        });
    }
    out
}

pub fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim_end().to_string()
}
