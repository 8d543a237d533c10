//! "Debts of the insured and payment orders": the night's debts booked, recovered and left open
//! (`summary.json`, formats/rules-decisions.md §8), the SEPA transfers ordered and the payees held
//! (`held_payments.tsv`, formats/payment-orders.md).

use crate::report::RunData;
use crate::report::fmt::{euros, int};
use maud::{Markup, html};

/// Held payees shown in full up to this many rows (the file has them all).
const MAX_HELD: usize = 50;

/// A cell of `held_payments.tsv` as shown: an insured's NIR is health data and never printed in the
/// page (masked as in logs, `185**********-001`).
fn shown(row: &[String], k: usize, cell: &str) -> String {
    if k == 1 && row.first().is_some_and(|c| c == "ASSURE") {
        let (nir, rank) = cell.split_once('-').unwrap_or((cell, ""));
        let head: String = nir.chars().take(3).collect();
        format!("{head}{}-{rank}", "*".repeat(nir.len().saturating_sub(3)))
    } else {
        cell.to_string()
    }
}

pub(super) fn section(d: &RunData) -> Markup {
    let s = &d.summary;
    let c = |v: i64| v as i128;
    let i = |v: u64| v as i128;
    let held = d.held.get(1..).unwrap_or(&[]);
    let head = d.held.first();
    html! {
        section #debts-payments {
            h2 { "Debts of the insured and payment orders" }
            p.note {
                "Under third-party payment the participation forfaitaire and franchises are not deducted from \
                 the practitioner's payment: they become debts of the insured, recovered from later payments \
                 to the insured (" code { "recoveries.tsv" } ", " code { "debts.tsv" } "). Each payee gets one \
                 SEPA credit transfer of what the night owes it minus what was recovered ("
                 code { "payment_orders.xml" } ")."
            }
            table {
                thead { tr { th { "" } th.n { "Number" } th.n { "Amount" } } }
                tbody {
                    tr { td { "Debts open before the night" } td.n { "" } td.n { (euros(c(s.debts_opening_cents))) } }
                    tr { td { "Debts booked tonight" } td.n { (int(i(s.debts_created))) } td.n { (euros(c(s.debts_created_cents))) } }
                    tr { td { "Recovered tonight" } td.n { (int(i(s.recoveries))) } td.n { (euros(c(s.recovered_cents))) } }
                    tr { td { "Debts open at the end of the night" } td.n { (int(i(s.debts_open))) } td.n { (euros(c(s.debts_open_cents))) } }
                    tr { td { "Credit transfers ordered" } td.n { (int(i(s.payment_orders))) } td.n { (euros(c(s.payment_orders_cents))) } }
                    tr { td { "Payments held" } td.n { (int(i(s.payments_held))) } td.n { (euros(c(s.payments_held_cents))) } }
                    tr { td { "Payees with nothing due (all recovered)" } td.n { (int(i(s.payees_nothing_due))) } td.n { "" } }
                }
            }
            @if held.is_empty() {
                p.empty { "No payment held." }
            } @else if let Some(head) = head {
                h2 { "Held payments" }
                p.note {
                    "Transfers not ordered (no or invalid bank details, no payer account): the amounts are kept ("
                    code { "held_payments.tsv" } ", codes in " code { "formats/codes.md" } ")."
                    @if held.len() > MAX_HELD { " First " (MAX_HELD) " of " (held.len()) "." }
                }
                table {
                    thead { tr { @for h in head { th { (h) } } } }
                    tbody {
                        @for r in held.iter().take(MAX_HELD) {
                            tr { @for (k, cell) in r.iter().enumerate() { td { (shown(r, k, cell)) } } }
                        }
                    }
                }
            }
        }
    }
}
