//! Debts of the insured: the participation forfaitaire and the franchises not deducted because the AMO
//! share went to the practitioner (third-party payment), and their recovery from the AMO amounts later
//! paid **to the insured**.
//!
//! Rule (RULES.md §6.3 "Deducted from the reimbursement. Under tiers payant it is recovered from later
//! payments" [C: ameli]; issue #14): under third-party payment the practitioner receives the full AMO
//! share; the participation / franchise charged on the line (it still counts against the daily and
//! yearly caps) becomes a debt of the beneficiary. Open DAMIR books these amounts as their own
//! prestations — 1952 "PARTICIPATION FORFAITAIRE TIERS PAYANT" (50.2 M units, −100.2 M € in January
//! 2025), 1972/1974/1976 "FRANCHISE TIERS PAYANT SUR MEDICAMENT / TRANSPORT / ACTE D'AUXILIAIRE
//! MEDICAUX" — distinct from the deductions "HORS TIERS PAYANT" (1951, 1971/1973/1975)
//! (fixtures/damir/, `merged_prs_nat_202501.csv`). Decisions the sources leave open (per beneficiary,
//! oldest debt first, line by line, no expiry, no partial cap): formats/rules-decisions.md, "Debts of
//! the insured".
//!
//! State: the open debts live in [`BenefState`] (one list per beneficiary, in the order they were
//! booked, which is file order within a night and night order across nights). The API the ledger uses
//! to carry them from night to night: [`BenefState::open_debts`], [`BenefState::push_debt`].

use super::{BenefState, ClaimInput, Ctx, Paid, PayeeKind, Trace};
use crate::date::Date;
use crate::money::{self, Cents};

const SRC: &str = "RULES.md §6.3 (under tiers payant recovered from later payments [C: ameli]); Open DAMIR 1952/1976 (PF/franchise tiers payant); formats/rules-decisions.md (Debts of the insured)";

/// What a debt is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DebtKind {
    /// Participation forfaitaire (Open DAMIR prestation 1952).
    Participation,
    /// Franchise médicale on an auxiliaire médical's act (Open DAMIR prestation 1976).
    Franchise,
}

impl DebtKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DebtKind::Participation => "PF",
            DebtKind::Franchise => "FRANCHISE",
        }
    }
    pub fn parse(s: &str) -> Option<DebtKind> {
        match s {
            "PF" => Some(DebtKind::Participation),
            "FRANCHISE" => Some(DebtKind::Franchise),
            _ => None,
        }
    }
}

/// Where a debt comes from: the paid line of a third-party-payment claim whose participation or
/// franchise was not deducted. `(created, practitioner, claim, line)` identifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DebtOrigin {
    /// Batch date of the night that booked it (its age is counted from it).
    pub created: Date,
    /// Billing practitioner and claim number of the claim that created it.
    pub practitioner: u32,
    pub claim: u32,
    pub line: u16,
    pub date_of_care: Date,
    pub kind: DebtKind,
}

/// One debt of a beneficiary: its origin, the amount booked and what is still open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Debt {
    pub origin: DebtOrigin,
    pub amount: Cents,
    /// Still to recover (`0 < open <= amount` while the debt is in the list).
    pub open: Cents,
}

impl Debt {
    /// Age in days on `on` (a batch date): days since the night that booked it.
    pub fn age_days(&self, on: Date) -> i64 {
        on.to_days() - self.origin.created.to_days()
    }
}

/// One recovery: part of a paid line's AMO amount kept to settle (part of) a debt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// Index into [`Paid::lines`] of the line the amount was taken from.
    pub line: u16,
    pub debt: DebtOrigin,
    /// The debt's amount as booked.
    pub debt_amount: Cents,
    pub amount: Cents,
    /// What stays open on the debt after this recovery.
    pub open_after: Cents,
    /// The debt's age on this night's batch date, in days.
    pub age_days: i64,
}

/// Open debts kept in their packed form (`states::packed`, the bytes after the debts' count), oldest
/// first, checked as they were taken (every field, as a decode checks it): the engine's working copy
/// of a state holds a stored state's debts so until a rule needs them one by one
/// ([`BenefState::unpack_debts`]), and packs them back as they are. A night's claims read a
/// beneficiary's debts only when it pays the insured (a recovery): decoding and packing them again
/// at every claim was most of what a carried state's debts cost the shards (LEDGER26).
#[derive(Clone, Debug, Default)]
pub(crate) struct PackedDebts {
    /// How many debts `bytes` holds, and their open total if it was summed as they were taken
    /// (`None`: summed when asked, [`BenefState::open_debt_cents`]).
    pub(crate) count: usize,
    pub(crate) open: Option<Cents>,
    pub(crate) bytes: Vec<u8>,
}

impl PackedDebts {
    pub(crate) fn clear(&mut self) {
        self.count = 0;
        self.open = None;
        self.bytes.clear();
    }
    pub(crate) fn clone_from(&mut self, src: &PackedDebts) {
        self.count = src.count;
        self.open = src.open;
        self.bytes.clear();
        self.bytes.extend_from_slice(&src.bytes);
    }
}

impl BenefState {
    /// The beneficiary's open debts, oldest first (the order they are recovered in). Every state
    /// decoded whole (`states::packed::decode`, what the ledger and its commands read) has them all
    /// here; the engine's working copy may hold its oldest ones packed ([`Self::has_open_debts`],
    /// [`Self::open_debt_cents`] and [`Self::open_debt_count`] count them).
    pub fn open_debts(&self) -> &[Debt] {
        &self.debts
    }
    /// Total still open.
    pub fn open_debt_cents(&self) -> Cents {
        let packed = match self.packed_debts.open {
            Some(c) => c,
            None if self.packed_debts.count == 0 => 0,
            None => crate::states::packed::packed_open(&self.packed_debts),
        };
        packed + self.debts.iter().map(|d| d.open).sum::<Cents>()
    }
    /// Whether any debt is open.
    pub fn has_open_debts(&self) -> bool {
        self.packed_debts.count > 0 || !self.debts.is_empty()
    }
    /// How many debts are open.
    pub fn open_debt_count(&self) -> usize {
        self.packed_debts.count + self.debts.len()
    }
    /// Decodes the debts still packed in front of [`Self::open_debts`]: after it every open debt
    /// is there. The packed bytes were checked field by field when they were taken
    /// (`states::packed::decode_into_lazy`), so they decode; a record that would not is kept
    /// packed (never dropped).
    pub(crate) fn unpack_debts(&mut self) {
        if self.packed_debts.count == 0 {
            return;
        }
        let mut all = Vec::with_capacity(self.packed_debts.count + self.debts.len());
        if crate::states::packed::unpack_debts(&self.packed_debts, &mut all).is_err() {
            return;
        }
        all.append(&mut self.debts);
        self.debts = all;
        self.packed_debts.clear();
    }
    /// Appends a debt (booked by the rules, or carried from an earlier night by the ledger, which must
    /// push them in the order they were booked). A debt with nothing open is ignored.
    pub fn push_debt(&mut self, d: Debt) {
        if d.open > 0 {
            // Grown from one slot, doubling, instead of `Vec`'s first four: most beneficiaries owe one
            // debt, and a national night holds millions of these lists (issue #13: 160 → 40 bytes
            // for a single debt).
            if self.debts.len() == self.debts.capacity() {
                self.debts.reserve_exact(self.debts.len().max(1));
            }
            self.debts.push(d);
        }
    }
}

/// Books the debts of a paid third-party-payment claim: one per line whose participation or franchise
/// was not deducted (`LineResult::debt`, set by `participation`), in line order.
pub fn book(ctx: &Ctx, c: &ClaimInput, paid: &Paid, st: &mut BenefState, tr: &mut Trace) {
    if paid.payee != PayeeKind::Practitioner {
        return;
    }
    for r in paid.lines.iter().filter(|r| r.debt > 0) {
        let kind = if r.franchise > 0 {
            DebtKind::Franchise
        } else {
            DebtKind::Participation
        };
        st.push_debt(Debt {
            origin: DebtOrigin {
                created: ctx.batch_date,
                practitioner: c.header.practitioner,
                claim: c.header.claim_no,
                line: r.line_no,
                date_of_care: r.date,
                kind,
            },
            amount: r.debt,
            open: r.debt,
        });
        tr.note("debt", SRC, Some(r.line_no), || {
            format!(
                "third-party payment: the practitioner is paid the full AMO share {} €; the {} {} € becomes a debt of the insured, recovered from later payments to the insured (open debts now {} €)",
                money::fmt_euros(r.amo_paid),
                if kind == DebtKind::Franchise { "franchise" } else { "participation" },
                money::fmt_euros(r.debt),
                money::fmt_euros(st.open_debt_cents())
            )
        });
    }
}

/// Recovers open debts from a claim paid to the insured: line by line in line order, each line's AMO
/// amount settles the oldest open debts first, as far as it goes (`LineResult::recovered`); each
/// (line, debt) pair is one [`Recovery`] of `paid.recoveries`.
pub fn recover(ctx: &Ctx, paid: &mut Paid, st: &mut BenefState, tr: &mut Trace) {
    if paid.payee != PayeeKind::Insured || !st.has_open_debts() {
        return;
    }
    st.unpack_debts();
    for (k, r) in paid.lines.iter_mut().enumerate() {
        let mut avail = r.amo_paid - r.recovered;
        while avail > 0 {
            let Some(d) = st.debts.first_mut() else {
                break;
            };
            let x = avail.min(d.open);
            d.open -= x;
            avail -= x;
            r.recovered += x;
            let rec = Recovery {
                line: k as u16,
                debt: d.origin,
                debt_amount: d.amount,
                amount: x,
                open_after: d.open,
                age_days: d.age_days(ctx.batch_date),
            };
            let age = rec.age_days;
            if d.open == 0 {
                st.debts.remove(0);
            }
            tr.note("recovery", SRC, Some(r.line_no), || {
                format!(
                    "{} € kept from the AMO amount paid to the insured to settle the {} debt of claim {:09} line {} (practitioner {:09}, care {}, booked {}, {} days old): {} € of {} € still open",
                    money::fmt_euros(x),
                    rec.debt.kind.as_str(),
                    rec.debt.claim,
                    rec.debt.line,
                    rec.debt.practitioner,
                    rec.debt.date_of_care,
                    rec.debt.created,
                    age,
                    money::fmt_euros(rec.open_after),
                    money::fmt_euros(rec.debt_amount)
                )
            });
            paid.recoveries.push(rec);
        }
        if st.debts.is_empty() {
            // Settled: the list's memory is given back (an empty `Vec` holds none).
            st.debts = Vec::new();
            break;
        }
    }
}
