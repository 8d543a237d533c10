//! "Key figures": the cards and the two stacked bars, from `summary.json`.

use super::{C_AMC, C_AMO, C_PATIENT, C_REJECT};
use crate::report::fmt::{euros, int, share};
use crate::report::svg::{Seg, stacked};
use liquidator_core::output::Summary;
use maud::{Markup, PreEscaped, html};

pub(super) fn section(s: &Summary) -> Markup {
    let c = |v: i64| v as i128;
    let n = |v: u64| v as i128;
    let read = n(s.claims_read);
    let billed = c(s.billed_cents);
    let paid_billed = c(s.paid_billed_cents);
    let amo = c(s.amo_paid_cents);
    let of_paid = |v: i64| format!("{} of billed on paid claims", share(c(v), paid_billed));
    // Four per row: counts; then what is billed and what AMO owes; who is paid; what is not paid.
    let cards: Vec<(&str, String, String)> = vec![
        (
            "Claims read",
            int(read),
            format!("{} lines read", int(n(s.lines_read))),
        ),
        (
            "Claims paid",
            int(n(s.claims_paid)),
            format!(
                "{} of claims read · {} lines",
                share(n(s.claims_paid), read),
                int(n(s.lines_paid))
            ),
        ),
        (
            "Claims rejected",
            int(n(s.claims_rejected)),
            format!(
                "{} of claims read · {} lines",
                share(n(s.claims_rejected), read),
                int(n(s.lines_rejected))
            ),
        ),
        (
            "Records outside claims (R002)",
            int(n(s.orphan_records)),
            format!("{} billed, not claims", euros(c(s.orphan_billed_cents))),
        ),
        (
            "Billed (all claims)",
            euros(billed),
            format!("{} on paid claims", euros(paid_billed)),
        ),
        (
            "Base de remboursement",
            euros(c(s.base_cents)),
            of_paid(s.base_cents),
        ),
        (
            "AMO gross",
            euros(c(s.amo_gross_cents)),
            "before participations forfaitaires".into(),
        ),
        (
            "AMO paid",
            euros(amo),
            format!("{} of the base", share(amo, c(s.base_cents))),
        ),
        (
            "AMO to practitioners",
            euros(c(s.amo_to_practitioners_cents)),
            format!(
                "{} of AMO paid (third-party payment)",
                share(c(s.amo_to_practitioners_cents), amo)
            ),
        ),
        (
            "AMO to insured",
            euros(c(s.amo_to_insured_cents)),
            format!("{} of AMO paid", share(c(s.amo_to_insured_cents), amo)),
        ),
        (
            "AMC (complementary)",
            euros(c(s.amc_cents)),
            of_paid(s.amc_cents),
        ),
        (
            "Patient (remaining)",
            euros(c(s.patient_cents)),
            of_paid(s.patient_cents),
        ),
        (
            "Participations forfaitaires",
            euros(c(s.participations_cents)),
            format!(
                "deducted from AMO · franchises médicales {}",
                euros(c(s.franchises_cents))
            ),
        ),
        (
            "Heavy-act forfaits",
            euros(c(s.heavy_forfait_cents)),
            "deducted from AMO".into(),
        ),
        (
            "Excess fees (dépassements)",
            euros(c(s.excess_cents)),
            of_paid(s.excess_cents),
        ),
        (
            "Rejected billed",
            euros(c(s.rejected_billed_cents)),
            format!(
                "{} of all billed",
                share(c(s.rejected_billed_cents), billed)
            ),
        ),
    ];
    let seg = |label: &str, v: i64, color| Seg {
        label: label.into(),
        value: v as f64,
        text: euros(v as i128),
        color,
    };
    let split = stacked(
        "Split of the billed amount of paid claims",
        &[
            seg("AMO paid", s.amo_paid_cents, C_AMO),
            seg("AMC", s.amc_cents, C_AMC),
            seg("Patient", s.patient_cents, C_PATIENT),
        ],
    );
    let all = stacked(
        "Billed amount of paid and rejected claims",
        &[
            seg("Paid claims", s.paid_billed_cents, C_AMO),
            seg("Rejected claims", s.rejected_billed_cents, C_REJECT),
        ],
    );
    html! {
        section #key-figures {
            h2 { "Key figures" }
            div.cards {
                @for (k, v, sub) in &cards {
                    div.card { div.k { (k) } div.v { (v) } div.s { (sub) } }
                }
            }
            h3 { "Who pays the billed amount of paid claims" }
            (PreEscaped(split))
            h3 { "Billed amount of all claims" }
            (PreEscaped(all))
        }
    }
}
