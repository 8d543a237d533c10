//! "Day over day": the key figures and the rejections by reason against a previous run's summary.

use super::BIG_CHANGE_PCT;
use crate::report::fmt::{euros, int, pct, signed_euros, signed_int, signed_pct};
use liquidator_core::codes::Reject;
use liquidator_core::output::Summary;
use maud::{Markup, html};

#[derive(Clone, Copy)]
enum Kind {
    Count,
    Money,
}

struct Figure {
    label: &'static str,
    value: i128,
    kind: Kind,
}

/// The key figures of a run, in display order (the rows of the day-over-day table).
fn figures(s: &Summary) -> Vec<Figure> {
    use Kind::*;
    let f = |label, value: i128, kind| Figure { label, value, kind };
    let c = |v: i64| v as i128;
    let n = |v: u64| v as i128;
    vec![
        f("Claims read", n(s.claims_read), Count),
        f("Claims paid", n(s.claims_paid), Count),
        f("Claims rejected", n(s.claims_rejected), Count),
        f("Lines read", n(s.lines_read), Count),
        f("Lines paid", n(s.lines_paid), Count),
        f("Lines rejected", n(s.lines_rejected), Count),
        f("Billed (all claims)", c(s.billed_cents), Money),
        f("Billed (paid claims)", c(s.paid_billed_cents), Money),
        f("Base de remboursement", c(s.base_cents), Money),
        f("AMO paid", c(s.amo_paid_cents), Money),
        f(
            "AMO paid to practitioners",
            c(s.amo_to_practitioners_cents),
            Money,
        ),
        f("AMO paid to insured", c(s.amo_to_insured_cents), Money),
        f("AMC (complementary)", c(s.amc_cents), Money),
        f("Patient (remaining)", c(s.patient_cents), Money),
        f(
            "Participations forfaitaires",
            c(s.participations_cents),
            Money,
        ),
        f("Franchises médicales", c(s.franchises_cents), Money),
        f("Heavy-act forfaits", c(s.heavy_forfait_cents), Money),
        f("Excess fees (dépassements)", c(s.excess_cents), Money),
        f("Rejected billed", c(s.rejected_billed_cents), Money),
        f("Records outside claims", n(s.orphan_records), Count),
    ]
}

fn fmt_fig(v: i128, k: Kind) -> String {
    match k {
        Kind::Count => int(v),
        Kind::Money => euros(v),
    }
}

fn delta_pct(prev: i128, today: i128) -> Option<f64> {
    if prev == 0 {
        None
    } else {
        Some((today - prev) as f64 * 100.0 / prev.unsigned_abs() as f64)
    }
}

fn delta_row(label: &str, a: i128, b: i128, kind: Kind) -> Markup {
    let d = delta_pct(a, b);
    let big = d.is_some_and(|x| x.abs() >= BIG_CHANGE_PCT) || (a == 0 && b != 0);
    let change = match kind {
        Kind::Count => signed_int(b - a),
        Kind::Money => signed_euros(b - a),
    };
    let change_pct = d.map(signed_pct).unwrap_or_else(|| {
        if b == 0 {
            signed_pct(0.0)
        } else {
            "new".into()
        }
    });
    html! {
        tr.big[big] {
            td { (label) }
            td.n { (fmt_fig(a, kind)) }
            td.n { (fmt_fig(b, kind)) }
            td.n { (change) }
            td.n { (change_pct) }
        }
    }
}

fn head(first: &str) -> Markup {
    html! {
        thead { tr {
            th { (first) } th.n { "Previous" } th.n { "Today" } th.n { "Change" } th.n { "Change %" }
        } }
    }
}

pub(super) fn section(prev_name: &str, p: &Summary, s: &Summary) -> Markup {
    let codes: std::collections::BTreeSet<&String> = p
        .rejections_by_code
        .keys()
        .chain(s.rejections_by_code.keys())
        .collect();
    html! {
        section #day-over-day {
            h2 { "Day over day" }
            p.note {
                "Compared with batch " b { (p.batch_number) } " of " b { (p.batch_date) }
                " (" code { (prev_name) } "). Changes of " (pct(BIG_CHANGE_PCT)) " or more are highlighted."
            }
            table {
                (head("Figure"))
                tbody {
                    @for (a, b) in figures(p).iter().zip(figures(s).iter()) {
                        (delta_row(a.label, a.value, b.value, a.kind))
                    }
                }
            }
            h3 { "Rejected claims by reason" }
            table {
                (head("Reason"))
                tbody {
                    @if codes.is_empty() {
                        tr { td.empty colspan="5" { "No rejected claim on either day." } }
                    }
                    @for code in &codes {
                        @let a = p.rejections_by_code.get(*code).copied().unwrap_or(0) as i128;
                        @let b = s.rejections_by_code.get(*code).copied().unwrap_or(0) as i128;
                        @let label = match Reject::from_code(code) {
                            Some(r) => format!("{code} {}", r.slug()),
                            None => code.to_string(),
                        };
                        (delta_row(&label, a, b, Kind::Count))
                    }
                }
            }
        }
    }
}
