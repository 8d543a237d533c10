//! "Rejections by reason".

use super::C_REJECT;
use crate::report::RunData;
use crate::report::data::Reason;
use crate::report::fmt::{euros, int, share};
use crate::report::svg::{Bar, hbar};
use liquidator_core::codes::Reject;
use maud::{Markup, PreEscaped, html};

pub(super) fn section(d: &RunData) -> Markup {
    let r = &d.data.rejections;
    let mut rows: Vec<(&String, &Reason)> = r.by_code.iter().collect();
    rows.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
    let n = |v: u64| v as i128;
    let bars: Vec<Bar> = rows
        .iter()
        .map(|(code, x)| Bar {
            label: format!("{code} {}", x.mnemonic),
            value: x.count as f64,
            text: format!("{} · {}", int(n(x.count)), share(n(x.count), n(r.claims))),
            color: None,
        })
        .collect();
    html! {
        section #rejections {
            h2 { "Rejections by reason" }
            @if rows.is_empty() {
                p.empty { "No claim rejected." }
            } @else {
                p.note {
                    (int(n(r.claims))) " rejected claims (" (share(n(r.claims), n(d.summary.claims_read)))
                    " of claims read), " (euros(r.billed as i128))
                    " billed. A claim is rejected whole, on its first failing rule."
                }
                (PreEscaped(hbar("Rejected claims by reason", &bars, C_REJECT)))
                table {
                    thead { tr {
                        th { "Code" } th { "Mnemonic" } th { "Meaning" } th.n { "Claims" }
                        th.n { "Share" } th.n { "Billed" }
                    } }
                    tbody {
                        @for (code, x) in &rows {
                            tr {
                                td.code { (code) }
                                td.code { (x.mnemonic) }
                                td { (Reject::from_code(code).map(|c| c.text()).unwrap_or("(code not in formats/codes.md)")) }
                                td.n { (int(n(x.count))) }
                                td.n { (share(n(x.count), n(r.claims))) }
                                td.n { (euros(x.billed as i128)) }
                            }
                        }
                        tr.total {
                            td colspan="3" { "Total" }
                            td.n { (int(n(r.claims))) }
                            td.n { (share(n(r.claims), n(r.claims))) }
                            td.n { (euros(r.billed as i128)) }
                        }
                    }
                }
            }
            @if r.lines > 0 {
                h3 { "Lines rejected on their own (claims paid without them)" }
                table {
                    thead { tr {
                        th { "Code" } th { "Mnemonic" } th { "Meaning" } th.n { "Lines" } th.n { "Billed" }
                    } }
                    tbody {
                        @for (code, x) in &r.lines_by_code {
                            tr {
                                td.code { (code) }
                                td.code { (x.mnemonic) }
                                td { (Reject::from_code(code).map(|c| c.text()).unwrap_or("(code not in formats/codes.md)")) }
                                td.n { (int(n(x.count))) }
                                td.n { (euros(x.billed as i128)) }
                            }
                        }
                        tr.total {
                            td colspan="3" { "Total" }
                            td.n { (int(n(r.lines))) }
                            td.n { (euros(r.lines_billed as i128)) }
                        }
                    }
                }
            }
            @if r.orphans > 0 {
                p.note {
                    "Also "
                    @if r.orphans == 1 { "1 record" } @else { (int(n(r.orphans))) " records" }
                    " outside any claim (" code { (Reject::Orphan.code()) } " " (Reject::Orphan.slug()) ", "
                    (euros(r.orphan_billed as i128)) " billed): not claims, listed in " code { "rejections.tsv" } "."
                }
            }
        }
    }
}
