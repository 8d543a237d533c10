//! The rules: a claim and the reference tables in, one outcome out (paid lines with every amount, or a
//! coded rejection). Pure: no I/O, no global state, no panic on input. The only mutable input is the
//! beneficiary's running state ([`BenefState`]: participation caps, per-day counters), which the engine
//! hands to claims of one beneficiary in file order.
//!
//! Order of application (the first failing control rejects the claim; RULES.md §6.1 "recommended order"):
//! 1. [`controls`]: nature of insurance, NIR key, beneficiary and rights, practitioner, dates and time limit;
//! 2. [`pricing`]: grid, unit price (CCAM tariff or NGAP letter × coefficient), modifiers;
//! 3. [`association`]: exclusive modifiers, consultation + act, incompatibilities, association codes;
//! 4. [`rate`]: AMO rate of each line and the heavy-act forfait;
//! 5. [`participation`]: participation forfaitaire with its daily and yearly caps, and the franchise
//!    médicale on paramedical acts with its own daily and yearly caps;
//! 6. [`complementary`]: excess fees, complementary share, payees;
//! 7. [`debt`]: under third-party payment the participation / franchise becomes a debt of the insured
//!    (booked in the beneficiary's state); a claim paid to the insured settles open debts first.

pub mod association;
pub mod complementary;
pub mod controls;
pub mod debt;
pub mod participation;
pub mod pricing;
pub mod rate;

use crate::claims::{Act, ActLine, ClaimHeader, Pos};
use crate::codes::{Reject, Scope, Warn};
use crate::date::Date;
use crate::money::{Bp, Cents};
use crate::refs::{Grid, Refs};
use smallvec::SmallVec;

/// What the rules need besides the claim. Made by [`Ctx::new`], which works out once per batch
/// what depends on the batch alone.
pub struct Ctx<'r> {
    pub refs: &'r Refs,
    /// Creation date of the batch: time limits are counted back from it.
    pub batch_date: Date,
    /// What earlier nights paid (a ledger), or `None`: acts already paid are rejected `R033`.
    pub carry: Option<&'r dyn crate::carry::Carry>,
    /// The time limit of the batch (`controls::check`): the months of `time_limit_months` on the
    /// batch date and the oldest date of care still paid. They depend on the batch date alone:
    /// computed once here, not once a claim (a parameter lookup and a calendar step, issue #13).
    /// Private so that no `Ctx` holds a limit of another batch date: [`Ctx::new`] sets it.
    time_limit: (i64, Date),
}

impl<'r> Ctx<'r> {
    pub fn new(
        refs: &'r Refs,
        batch_date: Date,
        carry: Option<&'r dyn crate::carry::Carry>,
    ) -> Ctx<'r> {
        Ctx {
            refs,
            batch_date,
            carry,
            time_limit: controls::time_limit(refs, batch_date),
        }
    }

    /// The time limit in months and the oldest date of care the batch pays (inclusive: RULES.md
    /// §9, [`controls::oldest_payable`]).
    #[inline]
    pub fn time_limit(&self) -> (i64, Date) {
        self.time_limit
    }
}

/// A claim as the rules see it: its header, its act lines and where each line was read.
pub struct ClaimInput<'a> {
    pub header: &'a ClaimHeader,
    pub lines: &'a [ActLine],
    pub line_pos: &'a [Pos],
    pub pos: Pos,
    /// Where the beneficiary's first row is in the store, when the caller found it already (the
    /// engine's read-ahead, `Beneficiaries::read_ahead`): the controls then do not search again
    /// (`Beneficiaries::get_at`, which checks it). `None`: searched.
    pub benef_at: Option<usize>,
    /// The beneficiary's key (`refs::benef_key` of the header's NIR and rank), when the caller
    /// computed it already (the engine routes each claim by it): the controls then do not compute
    /// it again. `None`: computed.
    pub benef_key: Option<u64>,
}

/// Running state of one beneficiary across the batch (file order). Inline storage for the usual case
/// (one year, one practitioner-day): millions of beneficiaries are seen in a national day, and a heap
/// allocation each would dominate the engine's memory.
#[derive(Debug, Default)]
pub struct BenefState {
    /// Participations charged per calendar year of care (seeded from the beneficiaries table).
    pub pf_by_year: SmallVec<[(u32, Cents); 1]>,
    pub seeded: bool,
    /// Per (practitioner, date): participations charged and exclusive modifiers billed.
    pub daily: SmallVec<[DailyCount; 1]>,
    /// Franchises médicales charged per calendar year of care (own yearly cap, separate from the
    /// participation's: `participation::apply_participation`). Not seeded: the beneficiaries table has
    /// no franchise counter (formats/rules-decisions.md, "Franchises").
    pub fr_by_year: SmallVec<[(u32, Cents); 1]>,
    /// Franchises on paramedical acts charged per date of care (the daily cap).
    pub fr_by_day: SmallVec<[(Date, Cents); 1]>,
    /// Open debts of the insured (participations / franchises not deducted under third-party
    /// payment), oldest first: [`debt`]. An empty `Vec` does not allocate.
    pub(crate) debts: Vec<debt::Debt>,
    /// Open debts older than [`Self::debts`]' still in their packed form: the engine's working
    /// copy of a state leaves a carried or stored state's debts packed until a rule needs them
    /// one by one (`debt::recover`, [`BenefState::unpack_debts`]), and packs them back as they
    /// are (LEDGER26). Empty in every state decoded whole (`states::packed::decode`).
    pub(crate) packed_debts: debt::PackedDebts,
}

// `clone_from` field by field (the derive would build a whole new state and drop the old one):
// the rules copy the working state once a claim (`liquidate_inner`), into the same scratch state,
// whose vectors keep their room (issue #13).
impl Clone for BenefState {
    fn clone(&self) -> Self {
        let BenefState {
            pf_by_year,
            seeded,
            daily,
            fr_by_year,
            fr_by_day,
            debts,
            packed_debts,
        } = self;
        BenefState {
            pf_by_year: pf_by_year.clone(),
            seeded: *seeded,
            daily: daily.clone(),
            fr_by_year: fr_by_year.clone(),
            fr_by_day: fr_by_day.clone(),
            debts: debts.clone(),
            packed_debts: packed_debts.clone(),
        }
    }

    fn clone_from(&mut self, source: &Self) {
        let BenefState {
            pf_by_year,
            seeded,
            daily,
            fr_by_year,
            fr_by_day,
            debts,
            packed_debts,
        } = source;
        // Plain copies for the lists of `Copy` items (SmallVec's `clone_from` clones item by item
        // through a generic `extend`: ≈ 480 instructions a claim for a state of a few entries).
        copy_into(&mut self.pf_by_year, pf_by_year);
        self.seeded = *seeded;
        self.daily.truncate(daily.len());
        let kept = self.daily.len();
        for (d, s) in self.daily.iter_mut().zip(daily) {
            d.clone_from(s);
        }
        self.daily.extend(daily[kept..].iter().cloned());
        copy_into(&mut self.fr_by_year, fr_by_year);
        copy_into(&mut self.fr_by_day, fr_by_day);
        self.debts.clear();
        self.debts.extend_from_slice(debts);
        self.packed_debts.clone_from(packed_debts);
    }
}

/// `dst` made a copy of `src`, its room kept.
#[inline(always)]
fn copy_into<A: smallvec::Array>(dst: &mut SmallVec<A>, src: &SmallVec<A>)
where
    A::Item: Copy,
{
    dst.clear();
    if !src.is_empty() {
        dst.extend_from_slice(src);
    }
}

/// What one practitioner billed one beneficiary on one date of care, across the claims of the batch
/// (a session split over several claims is still one session: `association::check_across_claims`).
#[derive(Debug, PartialEq, Eq)]
pub struct DailyCount {
    pub practitioner: u32,
    pub date: Date,
    pub pf: u8,
    pub exclusive: u8,
    /// A consultation was paid.
    pub consult: bool,
    /// A CCAM act that may not go with a consultation was paid.
    pub tech_act: bool,
    /// Association codes of the CCAM main acts paid (not gestures/supplements, not anaesthesia), in
    /// the order paid: the session's first act is taken when this is not empty.
    pub main_codes: SmallVec<[u8; 2]>,
    /// CCAM codes paid (for incompatibilities).
    pub acts: SmallVec<[[u8; 7]; 2]>,
}

// `clone_from` field by field, as `BenefState`'s (the state copy of every claim).
impl Clone for DailyCount {
    fn clone(&self) -> Self {
        let mut d = DailyCount {
            practitioner: self.practitioner,
            date: self.date,
            pf: self.pf,
            exclusive: self.exclusive,
            consult: self.consult,
            tech_act: self.tech_act,
            main_codes: SmallVec::new(),
            acts: SmallVec::new(),
        };
        copy_into(&mut d.main_codes, &self.main_codes);
        copy_into(&mut d.acts, &self.acts);
        d
    }

    fn clone_from(&mut self, source: &Self) {
        let DailyCount {
            practitioner,
            date,
            pf,
            exclusive,
            consult,
            tech_act,
            main_codes,
            acts,
        } = source;
        self.practitioner = *practitioner;
        self.date = *date;
        self.pf = *pf;
        self.exclusive = *exclusive;
        self.consult = *consult;
        self.tech_act = *tech_act;
        copy_into(&mut self.main_codes, main_codes);
        copy_into(&mut self.acts, acts);
    }
}

impl BenefState {
    pub fn pf_used(&self, year: u32) -> Cents {
        self.pf_by_year
            .iter()
            .find(|y| y.0 == year)
            .map_or(0, |y| y.1)
    }
    pub fn add_pf(&mut self, year: u32, v: Cents) {
        match self.pf_by_year.iter_mut().find(|y| y.0 == year) {
            Some(y) => y.1 += v,
            None => self.pf_by_year.push((year, v)),
        }
    }
    pub fn franchise_used(&self, year: u32) -> Cents {
        self.fr_by_year
            .iter()
            .find(|y| y.0 == year)
            .map_or(0, |y| y.1)
    }
    pub fn franchise_on(&self, date: Date) -> Cents {
        self.fr_by_day
            .iter()
            .find(|y| y.0 == date)
            .map_or(0, |y| y.1)
    }
    pub fn add_franchise(&mut self, date: Date, v: Cents) {
        let year = date.year();
        match self.fr_by_year.iter_mut().find(|y| y.0 == year) {
            Some(y) => y.1 += v,
            None => self.fr_by_year.push((year, v)),
        }
        match self.fr_by_day.iter_mut().find(|y| y.0 == date) {
            Some(y) => y.1 += v,
            None => self.fr_by_day.push((date, v)),
        }
    }
    pub fn daily(&mut self, practitioner: u32, date: Date) -> &mut DailyCount {
        let i = match self
            .daily
            .iter()
            .position(|d| d.practitioner == practitioner && d.date == date)
        {
            Some(i) => i,
            None => {
                self.daily.push(DailyCount {
                    practitioner,
                    date,
                    pf: 0,
                    exclusive: 0,
                    consult: false,
                    tech_act: false,
                    main_codes: SmallVec::new(),
                    acts: SmallVec::new(),
                });
                self.daily.len() - 1
            }
        };
        &mut self.daily[i]
    }
    /// The session of `practitioner` on `date` so far, if any claim of it was paid.
    pub fn session(&self, practitioner: u32, date: Date) -> Option<&DailyCount> {
        self.daily
            .iter()
            .find(|d| d.practitioner == practitioner && d.date == date)
    }
    /// Whether any earlier claim of this practitioner was paid for this beneficiary.
    pub fn has_sessions_with(&self, practitioner: u32) -> bool {
        self.daily.iter().any(|d| d.practitioner == practitioner)
    }
}

/// Why a line has its AMO rate (RULES.md §5.3–5.4, §6.2, §6.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateReason {
    Default,
    Ald,
    Maternity,
    WorkAccident,
    LocalRegime,
    OutOfPathway,
    HeavyAct,
    /// Nature 13: care of a military invalidity pensioner under art. 115 (L212-1 CPMIVG).
    WarPension,
    /// Nature 90: prevention.
    Prevention,
    /// Exemption `3` (nature de prestation, SNDS `IR_EXO_V` 30) claimed on the line or the header.
    ExemptAct,
}

impl RateReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RateReason::Default => "DEFAULT",
            RateReason::Ald => "ALD",
            RateReason::Maternity => "MATERNITY",
            RateReason::WorkAccident => "WORK_ACCIDENT",
            RateReason::LocalRegime => "LOCAL_REGIME",
            RateReason::OutOfPathway => "OUT_OF_PATHWAY",
            RateReason::HeavyAct => "HEAVY_ACT",
            RateReason::WarPension => "WAR_PENSION",
            RateReason::Prevention => "PREVENTION",
            RateReason::ExemptAct => "EXEMPT_ACT",
        }
    }
}

/// Every amount of a liquidated line (modelled on SNDS `ER_PRS_F` + `ER_CAM_F`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineResult {
    pub line_no: u16,
    /// Index of the line in the claim's act lines as read (`ClaimEvent::lines`): with line-level
    /// rejections the paid lines are a subset of them.
    pub index: u16,
    pub date: Date,
    pub grid: Grid,
    /// Unit price before modifiers and association (`CAM_ACT_PRU` / `BSE_REM_PRU`).
    pub unit_price: Cents,
    pub quantity: u16,
    /// Modifier codes as billed (spaces = empty slot).
    pub modifiers: [u8; 4],
    /// Majoration per modifier slot, before association (`CAM_MM1..4_MNT`).
    pub mod_amounts: [Cents; 4],
    /// Association reduction per modifier slot (`CAM_MI1..4_MNT`).
    pub mod_assoc_red: [Cents; 4],
    /// Association reduction on the unit price (`CAM_MPU_MNT`).
    pub pu_assoc_red: Cents,
    /// Association code applied (space when none) and its coefficient.
    pub assoc_code: u8,
    pub assoc_coef: Bp,
    /// Base de remboursement (`CAM_REM_BSE` / `BSE_REM_BSE`).
    pub base: Cents,
    pub rate: Bp,
    pub rate_reason: Option<RateReason>,
    /// AMO amount before participations (`round(base × rate)`, less the heavy-act forfait).
    pub amo_gross: Cents,
    pub pf: Cents,
    /// Franchise médicale deducted from the AMO payment (paramedical acts: `participation`).
    pub franchise: Cents,
    pub heavy_forfait: Cents,
    /// Under third-party payment: the participation + franchise of the line not deducted from
    /// `amo_paid` (the practitioner is paid the full AMO share) and booked as a debt of the insured
    /// ([`debt`]). `amo_paid = amo_gross − pf − franchise + debt`.
    pub debt: Cents,
    /// Paid to the insured: the part of `amo_paid` kept to settle earlier debts ([`debt::recover`]);
    /// the insured receives `amo_paid − recovered`.
    pub recovered: Cents,
    pub amo_paid: Cents,
    pub billed: Cents,
    pub excess: Cents,
    /// Ticket modérateur (base − AMO gross).
    pub ticket: Cents,
    /// Part of the ticket and of the excess paid by the complementary insurer.
    pub amc_ticket: Cents,
    pub amc_excess: Cents,
    pub patient: Cents,
    pub warnings: u32,
    /// B2 prestation code (CCAM regroupement) or NGAP letter, for reports.
    pub group: [u8; 4],
    /// Whether the line is a physician's act (participation forfaitaire applies).
    pub physician_act: bool,
    /// Whether the line is an act of its own — not an NGAP majoration or travel fee, not a CCAM
    /// supplement: the franchise médicale is due per act (RULES.md §6.3).
    pub own_act: bool,
    /// Whether the line is an act of an auxiliaire médical (franchise médicale applies): set by
    /// `participation::apply_participation` from the practitioner's profession and `own_act`.
    pub paramedical_act: bool,
}

impl LineResult {
    pub fn amc(&self) -> Cents {
        self.amc_ticket + self.amc_excess
    }
    pub fn warn(&mut self, w: Warn) {
        self.warnings |= 1 << (w as u32);
    }
    pub fn warning_codes(&self) -> impl Iterator<Item = Warn> + '_ {
        Warn::ALL
            .iter()
            .copied()
            .filter(move |w| self.warnings & (1 << (*w as u32)) != 0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayeeKind {
    /// Third-party payment: the practitioner is paid.
    Practitioner,
    Insured,
}

impl PayeeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PayeeKind::Practitioner => "PS",
            PayeeKind::Insured => "ASSURE",
        }
    }
}

/// Where the complementary share goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AmcRoute {
    /// Insurer number (`C2S       ` for the complémentaire santé solidaire).
    pub amc: [u8; 10],
    pub contract: [u8; 2],
    pub payee: PayeeKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paid {
    /// The paid lines, in line order.
    pub lines: Vec<LineResult>,
    pub payee: PayeeKind,
    pub amc: Option<AmcRoute>,
    /// Lines rejected on their own (codes of [`Scope::Line`](crate::codes::Scope)), in the order the
    /// rules found them; the claim is paid without them (a partially paid claim).
    pub rejected_lines: Vec<LineRejection>,
    /// Debts recovered from this claim's lines (paid to the insured), in line order then oldest debt
    /// first ([`debt::recover`]).
    pub recoveries: Vec<debt::Recovery>,
}

/// A line rejected while the rest of its claim is paid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineRejection {
    /// Index of the line in the claim's act lines as read.
    pub index: u16,
    pub rejection: Rejection,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub code: Reject,
    pub line_no: Option<u16>,
    pub pos: Pos,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Paid(Paid),
    Rejected(Rejection),
}

/// One step of a liquidation, for `liquidator explain`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Step {
    pub rule: &'static str,
    pub source: &'static str,
    pub line: Option<u16>,
    pub text: String,
}

/// Optional trace sink: costs nothing when `None` (the closure is never called).
pub struct Trace<'a>(pub Option<&'a mut Vec<Step>>);

impl Trace<'_> {
    #[inline]
    pub fn note(
        &mut self,
        rule: &'static str,
        source: &'static str,
        line: Option<u16>,
        f: impl FnOnce() -> String,
    ) {
        if let Some(v) = self.0.as_mut() {
            v.push(Step {
                rule,
                source,
                line,
                text: f(),
            });
        }
    }
    pub fn on(&self) -> bool {
        self.0.is_some()
    }
}

/// A rejection raised by a rule: the code, the line concerned (if any) and a detail for the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rej {
    pub code: Reject,
    pub line: Option<usize>,
    pub detail: String,
}

impl Rej {
    pub fn claim(code: Reject, detail: impl Into<String>) -> Rej {
        Rej {
            code,
            line: None,
            detail: detail.into(),
        }
    }
    pub fn line(code: Reject, idx: usize, detail: impl Into<String>) -> Rej {
        Rej {
            code,
            line: Some(idx),
            detail: detail.into(),
        }
    }
}

/// Liquidates one claim. `state` is the beneficiary's running state, updated only when the claim is paid
/// (a rejected claim charges no participation and uses no daily slot).
pub fn liquidate(ctx: &Ctx, c: &ClaimInput, state: &mut BenefState, tr: &mut Trace) -> Outcome {
    liquidate_in(ctx, c, state, &mut BenefState::default(), tr)
}

/// [`liquidate`] with a caller-owned scratch state, reused across claims so that the tentative copy of
/// the beneficiary's state allocates nothing on the hot path.
///
/// Line-level rejections (`formats/codes.md`, "Scope"): when a rule condemns one line with a code of
/// line scope, that line is set aside and the claim is liquidated again without it — every rule
/// (association ranking, incompatibilities, participation, heavy-act forfait) then sees only the acts
/// that are paid. The claim is rejected whole only by a claim-scope code, or when no line is left
/// (then with the first line's rejection).
pub fn liquidate_in(
    ctx: &Ctx,
    c: &ClaimInput,
    state: &mut BenefState,
    scratch: &mut BenefState,
    tr: &mut Trace,
) -> Outcome {
    liquidate_with(ctx, c, state, &mut Work::Copy(scratch), tr)
}

/// [`liquidate_in`] on `state` itself, without the copy: for a caller that keeps the state elsewhere
/// and takes back what the rules leave only when the claim is paid (the engine's shards keep it
/// packed: `states::Shard::with_state`, issue #13 — the copy was ≈ 220 instructions a claim). On a
/// rejected outcome `state` holds whatever the rules left before the rejection (a daily entry of
/// an exclusive modifier, say): the caller must throw it away. `restore` puts back the state as it
/// was before the claim; it is called before each new try after a line is set aside, so that each
/// try starts from that state as [`liquidate_in`]'s do.
pub fn liquidate_in_place(
    ctx: &Ctx,
    c: &ClaimInput,
    state: &mut BenefState,
    restore: &mut dyn FnMut(&mut BenefState),
    tr: &mut Trace,
) -> Outcome {
    liquidate_with(ctx, c, state, &mut Work::InPlace(restore), tr)
}

/// How a try of the rules treats the beneficiary's state (`liquidate_inner`).
enum Work<'a> {
    /// On a copy in this scratch state, swapped in when the claim is paid: a rejected claim leaves
    /// the state as it was.
    Copy(&'a mut BenefState),
    /// On the state itself; the function gives it back as it was before the claim.
    InPlace(&'a mut dyn FnMut(&mut BenefState)),
}

fn liquidate_with(
    ctx: &Ctx,
    c: &ClaimInput,
    state: &mut BenefState,
    work: &mut Work,
    tr: &mut Trace,
) -> Outcome {
    let first = match liquidate_inner(ctx, c, state, work, tr) {
        Ok(p) => return Outcome::Paid(p),
        Err(r) => r,
    };
    // The rare path: set lines aside one at a time.
    let mut keep: Vec<usize> = (0..c.lines.len()).collect();
    let mut set_aside: Vec<LineRejection> = Vec::new();
    let mut err = first;
    loop {
        let Some(i) = err.line.filter(|_| err.code.scope() == Scope::Line) else {
            return Outcome::Rejected(claim_rejection(c, &keep, err, tr));
        };
        let orig = keep[i];
        let rejection = to_rejection(c, Some(orig), err);
        tr.note(
            "line_rejection",
            "formats/codes.md (Scope)",
            rejection.line_no,
            || {
                format!(
                    "line set aside: {} {}: {} — the claim is liquidated without it",
                    rejection.code,
                    rejection.code.slug(),
                    rejection.detail
                )
            },
        );
        keep.remove(i);
        set_aside.push(LineRejection {
            index: orig as u16,
            rejection,
        });
        if keep.is_empty() {
            // The first line's rejection (formats/codes.md decision 2), not the first one found.
            let k = (0..set_aside.len())
                .min_by_key(|&k| set_aside[k].index)
                .unwrap_or(0);
            let first = set_aside.swap_remove(k).rejection;
            tr.note(
                "rejection",
                "formats/codes.md (Scope)",
                first.line_no,
                || {
                    "no line left: the claim is rejected with its first line's rejection"
                        .to_string()
                },
            );
            return Outcome::Rejected(first);
        }
        let lines: Vec<ActLine> = keep.iter().map(|&k| c.lines[k]).collect();
        let line_pos: Vec<Pos> = keep
            .iter()
            .map(|&k| c.line_pos.get(k).copied().unwrap_or(c.pos))
            .collect();
        let sub = ClaimInput {
            header: c.header,
            lines: &lines,
            line_pos: &line_pos,
            pos: c.pos,
            benef_at: c.benef_at,
            benef_key: c.benef_key,
        };
        if let Work::InPlace(restore) = work {
            restore(state);
        }
        match liquidate_inner(ctx, &sub, state, work, tr) {
            Ok(mut p) => {
                for l in &mut p.lines {
                    l.index = keep[l.index as usize] as u16;
                }
                p.rejected_lines = set_aside;
                return Outcome::Paid(p);
            }
            Err(r) => err = r,
        }
    }
}

/// The rejection `r` raised on `c` (its `line`, if any, is an index into the original lines `orig`).
fn to_rejection(c: &ClaimInput, orig: Option<usize>, r: Rej) -> Rejection {
    let (line_no, pos) = match orig {
        Some(i) => (
            c.lines.get(i).map(|l| l.line_no),
            c.line_pos.get(i).copied().unwrap_or(c.pos),
        ),
        None => (None, c.pos),
    };
    Rejection {
        code: r.code,
        line_no,
        pos,
        detail: r.detail,
    }
}

/// A claim-scope rejection raised while liquidating the lines `keep` of `c`.
fn claim_rejection(c: &ClaimInput, keep: &[usize], r: Rej, tr: &mut Trace) -> Rejection {
    let orig = r.line.and_then(|i| keep.get(i).copied());
    let r = to_rejection(c, orig, r);
    tr.note("rejection", "formats/codes.md", r.line_no, || {
        format!("{} {}: {}", r.code, r.code.slug(), r.detail)
    });
    r
}

fn liquidate_inner(
    ctx: &Ctx,
    c: &ClaimInput,
    state: &mut BenefState,
    work: &mut Work,
    tr: &mut Trace,
) -> Result<Paid, Rej> {
    let parties = controls::check(ctx, c, tr)?;
    if let Some(carry) = ctx.carry {
        controls::check_paid_earlier(carry, c, tr)?;
    }
    let mut priced = SmallVec::new();
    pricing::price_lines(ctx, c, &parties, &mut priced, tr)?;
    match work {
        Work::Copy(st) => {
            // Work on a copy of the state: a claim rejected by a later rule must leave no trace
            // in it.
            st.clone_from(state);
            let paid = settle_on(ctx, c, &parties, &mut priced, st, tr)?;
            std::mem::swap(state, *st);
            Ok(paid)
        }
        // The caller throws the state away if the claim is rejected.
        Work::InPlace(_) => settle_on(ctx, c, &parties, &mut priced, state, tr),
    }
}

/// The rules that read or change the beneficiary's state `st`, from the priced lines to the paid
/// claim: `st` is left changed by a rejection too (an exclusive modifier's daily entry).
fn settle_on(
    ctx: &Ctx,
    c: &ClaimInput,
    parties: &controls::Parties,
    priced: &mut [pricing::Priced],
    st: &mut BenefState,
    tr: &mut Trace,
) -> Result<Paid, Rej> {
    association::check_exclusive_modifiers(ctx, c, priced, st, tr)?;
    // Rules across lines need at least two lines (a fast path for the single-consultation majority).
    if c.lines.len() > 1 {
        association::check_consultation_with_act(ctx, c, priced, tr)?;
        association::check_incompatibilities(ctx, c, priced, tr)?;
    }
    // The same rules across the claims of one session (same beneficiary, practitioner and date).
    if st.has_sessions_with(c.header.practitioner) {
        association::check_across_claims(ctx, c, priced, st, tr)?;
    }
    if priced.iter().any(|p| p.ccam.is_some()) {
        association::apply_association(ctx, c, priced, st, tr)?;
    }
    let mut lines = pricing::compute_bases(c, priced, tr);
    rate::apply_rates(ctx, c, parties, priced, &mut lines, tr);
    participation::apply_participation(ctx, c, parties, &mut lines, st, tr);
    participation::apply_franchise(ctx, c, parties, &mut lines, st, tr);
    let mut paid = complementary::settle(ctx, c, parties, priced, &mut lines, tr);
    debt::recover(ctx, &mut paid, st, tr);
    debt::book(ctx, c, &paid, st, tr);
    association::record_session(ctx, c, priced, st);
    Ok(paid)
}

/// The exemption that applies to a line: the line's own code when set, else the header's.
pub fn line_exemption(h: &ClaimHeader, l: &ActLine) -> u8 {
    if l.exemption != b' ' {
        l.exemption
    } else {
        h.exemption
    }
}

/// The letter or regroupement of a line for grouping in reports.
pub fn line_group(act: &Act) -> [u8; 4] {
    match act {
        Act::Ngap { letter, .. } => *letter,
        Act::Ccam { .. } => *b"    ",
    }
}

#[cfg(test)]
mod state_copy_tests {
    use super::*;

    /// A state with `n[k]` entries in each list (sessions with `n[5]` association codes and
    /// `n[6]` CCAM acts: past their two inline slots from 3 on), its values drawn from `seed`.
    fn state(n: [usize; 7], seed: u32) -> BenefState {
        let v = |i: usize| seed.wrapping_mul(2_654_435_761).wrapping_add(i as u32 * 97);
        BenefState {
            pf_by_year: (0..n[0]).map(|i| (v(i), v(i) as Cents)).collect(),
            seeded: seed % 2 == 1,
            daily: (0..n[1])
                .map(|i| DailyCount {
                    practitioner: v(i),
                    date: Date(20260101 + i as u32),
                    pf: v(i) as u8,
                    exclusive: i as u8,
                    consult: i % 2 == 0,
                    tech_act: seed.is_multiple_of(3),
                    main_codes: (0..n[5]).map(|k| v(k) as u8).collect(),
                    acts: (0..n[6]).map(|k| [v(k) as u8; 7]).collect(),
                })
                .collect(),
            fr_by_year: (0..n[2]).map(|i| (v(i), -(v(i) as Cents))).collect(),
            fr_by_day: (0..n[3]).map(|i| (Date(v(i)), v(i) as Cents)).collect(),
            debts: (0..n[4])
                .map(|i| debt::Debt {
                    origin: debt::DebtOrigin {
                        created: Date(v(i)),
                        practitioner: v(i),
                        claim: v(i + 1),
                        line: i as u16,
                        date_of_care: Date(v(i + 2)),
                        kind: debt::DebtKind::Participation,
                    },
                    amount: v(i) as Cents,
                    open: 1,
                })
                .collect(),
            // bytes standing for packed debts: copied as they are
            packed_debts: debt::PackedDebts {
                count: n[4] / 2,
                open: Some(n[4] as Cents),
                bytes: (0..n[4] * 3).map(|i| v(i) as u8).collect(),
            },
        }
    }

    /// The state copy of each claim (`clone_from` into the reused scratch state, field by field)
    /// gives the source's state whatever the scratch held before — longer or shorter lists, inline
    /// or spilled to the heap — and `clone` the same.
    #[test]
    fn a_state_copied_into_a_used_scratch_state_is_the_source() {
        let shapes = [
            [0, 0, 0, 0, 0, 0, 0],
            [1, 1, 1, 1, 1, 1, 1],
            [3, 2, 2, 3, 4, 3, 5],
            [1, 4, 0, 2, 0, 0, 2],
            [0, 1, 3, 0, 1, 5, 0],
        ];
        for (i, a) in shapes.iter().enumerate() {
            for (j, b) in shapes.iter().enumerate() {
                let src = state(*b, j as u32 + 7);
                let mut dst = state(*a, i as u32 + 100);
                dst.clone_from(&src);
                assert_eq!(format!("{dst:?}"), format!("{src:?}"), "{a:?} <- {b:?}");
                assert_eq!(format!("{:?}", src.clone()), format!("{src:?}"));
            }
        }
    }
}
