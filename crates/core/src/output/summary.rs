//! `summary.json`: control totals of a run, and the proof that they reconcile.

use crate::codes::{Reject, Warn};
use crate::engine::BatchInfo;
use crate::money::Cents;
use crate::rules::{LineResult, Outcome, PayeeKind};
use crate::sink::{Event, Sink, SinkError, segments};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Run totals. Amounts in cents. Key names are a contract (issue #2): keep them.
///
/// Conservation, checked by [`Summary::check`] and stated in `conservation`:
/// * `claims_read = claims_paid + claims_rejected`;
/// * `lines_read = lines_paid + lines_rejected`;
/// * `billed_cents = paid_billed_cents + rejected_billed_cents`;
/// * for paid claims `paid_billed_cents = amo_paid_cents + amc_cents + patient_cents`;
/// * `Σ rejections_by_code = claims_rejected`;
/// * `Σ line_rejections_by_code = line_rejections` (lines rejected on their own in paid claims, which
///   `lines_rejected` and `rejected_billed_cents` include);
/// * debts of the insured (`rules::debt`): `debts_opening_cents + debts_created_cents =
///   recovered_cents + debts_open_cents`, the open total read from the beneficiaries' final states,
///   the others from the claims' outcomes;
/// * payment orders (`output::sepa`): `amo_paid_cents − recovered_cents = payment_orders_cents +
///   payments_held_cents` — every euro owed to a payee is transferred or held, none lost;
/// * the input (`input`): what the events add up to against what was read before any liquidation —
///   `claims_read = input_claim_records`, `lines_read + orphan_act_records = input_act_records`,
///   `billed_cents + orphan_billed_cents = input_fees_cents`. The identities above are all sums of
///   the same events, so a claim lost between the reader and the sinks passed every one of them
///   (REVIEW22 M2); this one ties the events to the file.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    pub batch_number: u32,
    pub batch_date: String,
    pub claims_read: u64,
    pub claims_paid: u64,
    pub claims_rejected: u64,
    pub lines_read: u64,
    pub lines_paid: u64,
    pub lines_rejected: u64,
    pub billed_cents: Cents,
    pub paid_billed_cents: Cents,
    pub base_cents: Cents,
    pub amo_gross_cents: Cents,
    pub amo_paid_cents: Cents,
    pub amo_to_practitioners_cents: Cents,
    pub amo_to_insured_cents: Cents,
    pub amc_cents: Cents,
    pub patient_cents: Cents,
    pub participations_cents: Cents,
    /// Franchises médicales charged (paramedical acts), like the participations: deducted from
    /// `amo_paid_cents` when paid to the insured, debts of the insured under third-party payment.
    pub franchises_cents: Cents,
    pub heavy_forfait_cents: Cents,
    pub excess_cents: Cents,
    pub rejected_billed_cents: Cents,
    /// Records outside any claim (reported in the rejection file with `R002`, not claims).
    pub orphan_records: u64,
    pub orphan_billed_cents: Cents,
    pub rejections_by_code: BTreeMap<String, u64>,
    /// Paid claims with at least one line rejected on its own (`scope = LINE` rows).
    #[serde(default)]
    pub claims_partially_paid: u64,
    /// Lines rejected on their own in paid claims (counted in `lines_rejected`, their fees in
    /// `rejected_billed_cents`), by code.
    #[serde(default)]
    pub line_rejections: u64,
    #[serde(default)]
    pub line_rejections_by_code: BTreeMap<String, u64>,
    pub warnings_by_code: BTreeMap<String, u64>,
    pub amc_files: u64,
    /// Debts of the insured booked tonight (third-party participations / franchises not deducted):
    /// number and total.
    #[serde(default)]
    pub debts_created: u64,
    #[serde(default)]
    pub debts_created_cents: Cents,
    /// Recoveries tonight (one per line × debt, `recoveries.tsv`) and their total, kept from
    /// `amo_to_insured_cents`.
    #[serde(default)]
    pub recoveries: u64,
    #[serde(default)]
    pub recovered_cents: Cents,
    /// Debts open before the first claim (carried from earlier nights).
    #[serde(default)]
    pub debts_opening_cents: Cents,
    /// Debts open at the end of the night (`debts.tsv`): number and total.
    #[serde(default)]
    pub debts_open: u64,
    #[serde(default)]
    pub debts_open_cents: Cents,
    /// Credit transfers of `payment_orders.xml` (its `NbOfTxs`) and their sum (its `CtrlSum`).
    #[serde(default)]
    pub payment_orders: u64,
    #[serde(default)]
    pub payment_orders_cents: Cents,
    /// Payees whose transfer is held (`held_payments.tsv`) and the amounts kept.
    #[serde(default)]
    pub payments_held: u64,
    #[serde(default)]
    pub payments_held_cents: Cents,
    /// Payees whose whole due went to recover their debts (no transfer).
    #[serde(default)]
    pub payees_nothing_due: u64,
    /// Records outside any claim that are act lines (`orphan_records` counts every kind; only act
    /// lines carry a fee, `orphan_billed_cents`).
    #[serde(default)]
    pub orphan_act_records: u64,
    /// What was read before any liquidation, record by record (`engine::BatchInfo`: the reader's
    /// counts, equal to the trailer's — a batch whose trailer differs is refused, exit 4): claim
    /// header records, act records (in claims or not) and the sum of their readable fees. The
    /// `input` identity ties the events to them.
    #[serde(default)]
    pub input_claim_records: u64,
    #[serde(default)]
    pub input_act_records: u64,
    #[serde(default)]
    pub input_fees_cents: Cents,
    pub conservation: Conservation,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Conservation {
    pub claims: bool,
    pub lines: bool,
    pub billed: bool,
    pub paid_split: bool,
    pub rejections: bool,
    /// `Σ line_rejections_by_code = line_rejections`.
    #[serde(default)]
    pub line_rejections: bool,
    /// `debts_opening_cents + debts_created_cents = recovered_cents + debts_open_cents`.
    #[serde(default)]
    pub debts: bool,
    /// `amo_paid_cents − recovered_cents = payment_orders_cents + payments_held_cents`.
    #[serde(default)]
    pub payment_orders: bool,
    /// `claims_read = input_claim_records`, `lines_read + orphan_act_records = input_act_records`,
    /// `billed_cents + orphan_billed_cents = input_fees_cents`.
    #[serde(default)]
    pub input: bool,
}

impl Summary {
    pub fn add_line(&mut self, r: &LineResult, payee: PayeeKind) {
        self.billed_cents += r.billed;
        self.paid_billed_cents += r.billed;
        self.base_cents += r.base;
        self.amo_gross_cents += r.amo_gross;
        self.amo_paid_cents += r.amo_paid;
        match payee {
            PayeeKind::Practitioner => self.amo_to_practitioners_cents += r.amo_paid,
            PayeeKind::Insured => self.amo_to_insured_cents += r.amo_paid,
        }
        self.amc_cents += r.amc();
        self.patient_cents += r.patient;
        self.participations_cents += r.pf;
        self.franchises_cents += r.franchise;
        self.heavy_forfait_cents += r.heavy_forfait;
        self.excess_cents += r.excess;
        if r.debt > 0 {
            self.debts_created += 1;
            self.debts_created_cents += r.debt;
        }
        self.recovered_cents += r.recovered;
    }

    /// Adds one event (a liquidated claim or a record outside claims) to the totals.
    /// Its codes go straight into the maps (one event: no arrays to fill and walk); the sink counts
    /// a window's by index instead ([`CodeCounts`]).
    pub fn add_event(&mut self, e: &Event<'_>) {
        let mut codes = MapCodes {
            rejections: std::mem::take(&mut self.rejections_by_code),
            line_rejections: std::mem::take(&mut self.line_rejections_by_code),
            warnings: std::mem::take(&mut self.warnings_by_code),
        };
        self.count_event(e, &mut codes);
        self.rejections_by_code = codes.rejections;
        self.line_rejections_by_code = codes.line_rejections;
        self.warnings_by_code = codes.warnings;
    }

    /// The totals of one event, its codes counted in `codes`.
    fn count_event(&mut self, e: &Event<'_>, codes: &mut impl Codes) {
        match e {
            Event::Claim(c) => {
                self.claims_read += 1;
                self.lines_read += c.claim.act_records as u64;
                match c.outcome {
                    Outcome::Paid(p) => {
                        self.claims_paid += 1;
                        self.lines_paid += p.lines.len() as u64;
                        self.recoveries += p.recoveries.len() as u64;
                        if !p.rejected_lines.is_empty() {
                            self.claims_partially_paid += 1;
                        }
                        for lr in &p.rejected_lines {
                            let fee = c.lines.get(lr.index as usize).map_or(0, |l| l.fee);
                            self.line_rejections += 1;
                            self.lines_rejected += 1;
                            self.billed_cents += fee;
                            self.rejected_billed_cents += fee;
                            codes.line_rejection(lr.rejection.code);
                        }
                        for r in &p.lines {
                            self.add_line(r, p.payee);
                            codes.warnings(r.warnings);
                        }
                    }
                    Outcome::Rejected(r) => {
                        self.claims_rejected += 1;
                        self.lines_rejected += c.claim.act_records as u64;
                        self.billed_cents += c.claim.billed;
                        self.rejected_billed_cents += c.claim.billed;
                        codes.rejection(r.code);
                    }
                }
            }
            Event::Orphan(o) => {
                self.orphan_records += 1;
                self.orphan_act_records += u64::from(o.is_act);
                self.orphan_billed_cents += o.fee;
            }
        }
    }

    /// Adds the counts by code to the maps (codes counted 0 times get no key).
    fn add_codes(&mut self, codes: &CodeCounts) {
        for (&n, &code) in codes.rejections.iter().zip(Reject::ALL) {
            bump_by(&mut self.rejections_by_code, code.code(), n);
        }
        for (&n, &code) in codes.line_rejections.iter().zip(Reject::ALL) {
            bump_by(&mut self.line_rejections_by_code, code.code(), n);
        }
        // A warning's bit in `LineResult::warnings` is its place in the list
        // (`LineResult::warning_codes`).
        for &w in Warn::ALL {
            let n = codes.warnings.get(w as usize).copied().unwrap_or(0);
            bump_by(&mut self.warnings_by_code, w.code(), n);
        }
    }

    /// Adds the totals that events make (what [`Summary::count_event`] counts) of `o`, a part of the
    /// same run: the sum does not depend on how the events were cut into parts.
    fn absorb(&mut self, o: &Summary) {
        // Every field named (no `..`): a counter added to `Summary` must be placed here, summed or
        // ignored, or this does not compile (review of stop 23).
        let Summary {
            claims_read,
            claims_paid,
            claims_rejected,
            lines_read,
            lines_paid,
            lines_rejected,
            billed_cents,
            paid_billed_cents,
            base_cents,
            amo_gross_cents,
            amo_paid_cents,
            amo_to_practitioners_cents,
            amo_to_insured_cents,
            amc_cents,
            patient_cents,
            participations_cents,
            franchises_cents,
            heavy_forfait_cents,
            excess_cents,
            rejected_billed_cents,
            orphan_records,
            orphan_billed_cents,
            orphan_act_records,
            claims_partially_paid,
            line_rejections,
            debts_created,
            debts_created_cents,
            recoveries,
            recovered_cents,
            rejections_by_code,
            line_rejections_by_code,
            warnings_by_code,
            batch_number: _,
            batch_date: _,
            amc_files: _,
            debts_opening_cents: _,
            debts_open: _,
            debts_open_cents: _,
            payment_orders: _,
            payment_orders_cents: _,
            payments_held: _,
            payments_held_cents: _,
            payees_nothing_due: _,
            input_claim_records: _,
            input_act_records: _,
            input_fees_cents: _,
            conservation: _,
        } = o;
        self.claims_read += *claims_read;
        self.claims_paid += *claims_paid;
        self.claims_rejected += *claims_rejected;
        self.lines_read += *lines_read;
        self.lines_paid += *lines_paid;
        self.lines_rejected += *lines_rejected;
        self.billed_cents += *billed_cents;
        self.paid_billed_cents += *paid_billed_cents;
        self.base_cents += *base_cents;
        self.amo_gross_cents += *amo_gross_cents;
        self.amo_paid_cents += *amo_paid_cents;
        self.amo_to_practitioners_cents += *amo_to_practitioners_cents;
        self.amo_to_insured_cents += *amo_to_insured_cents;
        self.amc_cents += *amc_cents;
        self.patient_cents += *patient_cents;
        self.participations_cents += *participations_cents;
        self.franchises_cents += *franchises_cents;
        self.heavy_forfait_cents += *heavy_forfait_cents;
        self.excess_cents += *excess_cents;
        self.rejected_billed_cents += *rejected_billed_cents;
        self.orphan_records += *orphan_records;
        self.orphan_billed_cents += *orphan_billed_cents;
        self.orphan_act_records += *orphan_act_records;
        self.claims_partially_paid += *claims_partially_paid;
        self.line_rejections += *line_rejections;
        self.debts_created += *debts_created;
        self.debts_created_cents += *debts_created_cents;
        self.recoveries += *recoveries;
        self.recovered_cents += *recovered_cents;
        for (m, om) in [
            (&mut self.rejections_by_code, rejections_by_code),
            (&mut self.line_rejections_by_code, line_rejections_by_code),
            (&mut self.warnings_by_code, warnings_by_code),
        ] {
            for (k, &n) in om {
                bump_by(m, k, n);
            }
        }
    }

    /// Whether every conservation identity holds (as last computed by [`Summary::check`]).
    pub fn conserved(&self) -> bool {
        let c = &self.conservation;
        c.claims
            && c.lines
            && c.billed
            && c.paid_split
            && c.rejections
            && c.line_rejections
            && c.debts
            && c.payment_orders
            && c.input
    }

    /// The payment orders' totals (`output::sepa`), checked by [`Summary::check`].
    pub fn set_payment_orders(&mut self, t: &super::sepa::OrderTotals) {
        self.payment_orders = t.transfers;
        self.payment_orders_cents = t.transfers_cents;
        self.payments_held = t.held;
        self.payments_held_cents = t.held_cents;
        self.payees_nothing_due = t.nothing_due;
    }

    /// Computes the conservation checks.
    pub fn check(&mut self) -> bool {
        let c = Conservation {
            claims: self.claims_read == self.claims_paid + self.claims_rejected,
            lines: self.lines_read == self.lines_paid + self.lines_rejected,
            billed: self.billed_cents == self.paid_billed_cents + self.rejected_billed_cents,
            paid_split: self.paid_billed_cents
                == self.amo_paid_cents + self.amc_cents + self.patient_cents,
            rejections: self.rejections_by_code.values().sum::<u64>() == self.claims_rejected,
            line_rejections: self.line_rejections_by_code.values().sum::<u64>()
                == self.line_rejections,
            debts: self.debts_opening_cents + self.debts_created_cents
                == self.recovered_cents + self.debts_open_cents,
            payment_orders: self.amo_paid_cents - self.recovered_cents
                == self.payment_orders_cents + self.payments_held_cents,
            input: self.claims_read == self.input_claim_records
                && self.lines_read + self.orphan_act_records == self.input_act_records
                && self.billed_cents + self.orphan_billed_cents == self.input_fees_cents,
        };
        self.conservation = c;
        self.conserved()
    }
}

/// Adds `n` to the count of `code` (no key for a count of 0).
fn bump_by(m: &mut BTreeMap<String, u64>, code: &str, n: u64) {
    if n == 0 {
        return;
    }
    match m.get_mut(code) {
        Some(v) => *v += n,
        None => {
            m.insert(code.to_string(), n);
        }
    }
}

/// The codes of some events, counted by their place in the closed lists (`codes`): an array
/// increment an event instead of a string-keyed map lookup (the warnings' were ≈ 360 instructions a
/// claim, issue #13), turned into the summary's maps once per window ([`Summary::add_codes`]).
struct CodeCounts {
    rejections: Vec<u64>,
    line_rejections: Vec<u64>,
    /// By bit of `LineResult::warnings`.
    warnings: [u64; 32],
}

impl Default for CodeCounts {
    fn default() -> Self {
        CodeCounts {
            rejections: vec![0; Reject::ALL.len()],
            line_rejections: vec![0; Reject::ALL.len()],
            warnings: [0; 32],
        }
    }
}

/// Where [`Summary::count_event`] counts an event's codes.
trait Codes {
    fn rejection(&mut self, r: Reject);
    fn line_rejection(&mut self, r: Reject);
    /// One line's warnings (`LineResult::warnings`: a bit each).
    fn warnings(&mut self, mask: u32);
}

/// The summary's own maps, for one event at a time ([`Summary::add_event`]).
struct MapCodes {
    rejections: BTreeMap<String, u64>,
    line_rejections: BTreeMap<String, u64>,
    warnings: BTreeMap<String, u64>,
}

impl Codes for MapCodes {
    fn rejection(&mut self, r: Reject) {
        bump_by(&mut self.rejections, r.code(), 1);
    }
    fn line_rejection(&mut self, r: Reject) {
        bump_by(&mut self.line_rejections, r.code(), 1);
    }
    fn warnings(&mut self, mut mask: u32) {
        // A warning's bit is its place in the list (`LineResult::warning_codes`).
        while mask != 0 {
            if let Some(w) = Warn::ALL.get(mask.trailing_zeros() as usize) {
                bump_by(&mut self.warnings, w.code(), 1);
            }
            mask &= mask - 1;
        }
    }
}

impl Codes for CodeCounts {
    fn rejection(&mut self, r: Reject) {
        if let Some(n) = self.rejections.get_mut(r as usize) {
            *n += 1;
        }
    }
    fn line_rejection(&mut self, r: Reject) {
        if let Some(n) = self.line_rejections.get_mut(r as usize) {
            *n += 1;
        }
    }
    /// One line's warnings: one count per bit set.
    fn warnings(&mut self, mut mask: u32) {
        while mask != 0 {
            let bit = mask.trailing_zeros() as usize;
            if let Some(n) = self.warnings.get_mut(bit) {
                *n += 1;
            }
            mask &= mask - 1;
        }
    }
}

/// The control totals of some consecutive events, counted one event at a time ([`SummaryPart::count`])
/// and added to a run's [`Summary`] in file order ([`Summary::add_part`]): what [`SummarySink`]
/// counts per segment, and what a sink that walks the events anyway counts in its own pass instead
/// ([`Sink::counts_summary`]: the report's aggregates), so that the paid lines are walked once for
/// both (issue #13).
#[derive(Default)]
pub struct SummaryPart {
    s: Summary,
    codes: CodeCounts,
}

impl SummaryPart {
    /// Adds one event (a liquidated claim or a record outside claims).
    #[inline]
    pub fn count(&mut self, e: &Event<'_>) {
        self.s.count_event(e, &mut self.codes);
    }
}

impl Summary {
    /// Adds the totals of a part (sums of integers and counts: the same for any cut of the events).
    pub fn add_part(&mut self, p: &SummaryPart) {
        self.absorb(&p.s);
        self.add_codes(&p.codes);
    }
}

/// The run's control totals, as a sink.
#[derive(Default)]
pub struct SummarySink {
    summary: Summary,
}

impl Sink for SummarySink {
    /// The window's segments counted side by side on the run's pool, each into its own totals,
    /// then added in order (sums of integers and counts: the same for any cut, issue #13).
    fn window(&mut self, events: &[Event<'_>]) -> Result<(), SinkError> {
        let segs: Vec<&[Event]> = segments(events).collect();
        let parts: Vec<SummaryPart> = segs
            .par_iter()
            .map(|seg| {
                let mut part = SummaryPart::default();
                for (i, e) in seg.iter().enumerate() {
                    if i % crate::sink::READ_AHEAD == 0 {
                        crate::sink::read_ahead(seg, i);
                    }
                    part.count(e);
                }
                part
            })
            .collect();
        for part in &parts {
            self.summary.add_part(part);
        }
        Ok(())
    }
}

impl SummarySink {
    /// The totals, with the batch identity from the framing.
    pub fn into_summary(self, info: &BatchInfo) -> Summary {
        self.summary.with_batch(info)
    }
}

impl Summary {
    /// These totals with what the batch framing and the final states say: batch identity, debts
    /// carried in and still open (`SummarySink::into_summary`; the columnar path's totals too).
    pub fn with_batch(self, info: &BatchInfo) -> Summary {
        let mut s = self;
        if let Some(h) = info.header {
            s.batch_number = h.batch_no;
            s.batch_date = h.date.to_string();
        }
        s.debts_opening_cents = info.debts_opening_cents;
        s.debts_open = info.open_debts;
        s.debts_open_cents = info.open_debts_cents;
        s.input_claim_records = info.header_records;
        s.input_act_records = info.act_records;
        s.input_fees_cents = info.fee_total;
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: exit code 7 used to look at 3 of the 5 identities (claims, billed, paid split), so a
    /// run whose lines or rejection counts did not reconcile exited 0. Each identity alone must fail.
    #[test]
    fn every_conservation_identity_counts() {
        let ok = Summary {
            claims_read: 2,
            claims_paid: 1,
            claims_rejected: 1,
            lines_read: 3,
            lines_paid: 2,
            lines_rejected: 1,
            billed_cents: 500,
            paid_billed_cents: 300,
            rejected_billed_cents: 200,
            amo_paid_cents: 200,
            payment_orders_cents: 150,
            payments_held_cents: 50,
            amc_cents: 60,
            patient_cents: 40,
            rejections_by_code: [("R020".to_string(), 1)].into(),
            // one act line and one claim end outside any claim
            orphan_records: 2,
            orphan_act_records: 1,
            orphan_billed_cents: 70,
            input_claim_records: 2,
            input_act_records: 4,
            input_fees_cents: 570,
            ..Default::default()
        };
        let mut s = ok.clone();
        assert!(s.check() && s.conserved());
        let breaks: [fn(&mut Summary); 11] = [
            |s| s.claims_read += 1,
            |s| s.lines_read += 1,
            |s| s.billed_cents += 1,
            |s| s.patient_cents += 1,
            |s| *s.rejections_by_code.entry("R030".into()).or_default() += 1,
            |s| s.line_rejections += 1,
            |s| s.debts_created_cents += 1,
            |s| s.payments_held_cents += 1,
            // REVIEW22 M2: a claim, a line or a fee read but never seen by the sinks — every other
            // identity sums the same events, so only the input counts can tell
            |s| s.input_claim_records += 1,
            |s| s.input_act_records += 1,
            |s| s.input_fees_cents += 1,
        ];
        for (i, b) in breaks.iter().enumerate() {
            let mut s = ok.clone();
            b(&mut s);
            assert!(!s.check(), "identity {i} not checked");
            assert!(!s.conserved(), "identity {i} ignored by conserved()");
        }
    }
}
