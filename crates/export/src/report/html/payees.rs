//! "AMO payments by payee" and "By complementary insurer (AMC)".

use super::{C_AMC, C_ASSURE, C_OTHER, C_PS, TOP_GROUPS, agg_cells, agg_head, top_n, w};
use crate::report::RunData;
use crate::report::data::{Agg, AmcFile, amc_file_name};
use crate::report::fmt::{euros, int, share};
use crate::report::svg::{Bar, Seg, hbar, stacked};
use maud::{Markup, PreEscaped, html};

fn payee_label(k: &str) -> String {
    match k {
        "PS" => "PS — practitioner (third-party payment)".into(),
        "ASSURE" => "ASSURE — insured person".into(),
        other => other.to_string(),
    }
}

pub(super) fn by_payee(d: &RunData) -> Markup {
    let total = d.data.paid.amo_paid;
    let colors = |k: &str| match k {
        "PS" => C_PS,
        "ASSURE" => C_ASSURE,
        _ => C_OTHER,
    };
    // Practitioners first (the usual majority), then the insured, then anything unexpected.
    let mut payees: Vec<(&String, &Agg)> = d.data.by_payee.iter().collect();
    payees.sort_by_key(|(k, _)| match k.as_str() {
        "PS" => 0,
        "ASSURE" => 1,
        _ => 2,
    });
    let segs: Vec<Seg> = payees
        .iter()
        .map(|(k, a)| Seg {
            label: payee_label(k),
            value: a.amo_paid as f64,
            text: euros(w(a.amo_paid)),
            color: colors(k),
        })
        .collect();
    html! {
        section #by-payee {
            h2 { "AMO payments by payee" }
            p.note {
                "Who receives the AMO amount: the practitioner under third-party payment (" code { "PS" }
                ") or the insured person (" code { "ASSURE" } ")."
            }
            (PreEscaped(stacked("AMO paid by payee kind", &segs)))
            table {
                thead { tr { th { "Payee" } (agg_head()) } }
                tbody {
                    @for (k, a) in &payees {
                        tr { td { (payee_label(k)) } (agg_cells(a, total)) }
                    }
                }
            }
        }
    }
}

pub(super) fn by_insurer(d: &RunData) -> Markup {
    let amc_total = d.data.paid.amc;
    let v: Vec<(String, &Agg)> = d
        .data
        .by_amc
        .iter()
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, a)| (k.clone(), a))
        .collect();
    let (top, rest) = top_n(v, TOP_GROUPS, |a| a.amc);
    // As for groups, the summed rest is in the table only.
    let bars: Vec<Bar> = top
        .iter()
        .map(|(k, a)| Bar {
            label: k.clone(),
            value: a.amc as f64,
            text: euros(w(a.amc)),
            color: None,
        })
        .collect();
    let row = |name: Markup, a: &Agg, file: Option<(String, &AmcFile)>| {
        html! {
            tr {
                td { (name) }
                td.n { (int(a.lines as i128)) }
                td.n { (euros(w(a.billed))) }
                td.n { (euros(w(a.amo_paid))) }
                td.n { (euros(w(a.amc))) }
                td.n { (share(w(a.amc), w(amc_total))) }
                @match &file {
                    Some((name, f)) => { td.code { "amc/" (name) } td.n { (int(f.rows as i128)) } }
                    None => { td.code { "—" } td.n { "—" } }
                }
            }
        }
    };
    let file_of = |k: &str| {
        let name = amc_file_name(k);
        d.data.amc_files.get(&name).map(|f| (name, f))
    };
    html! {
        section #by-insurer {
            h2 { "By complementary insurer (AMC)" }
            p.note {
                "Complementary share of paid lines by insurer number (" code { "amc_number" } "; " code { "C2S" }
                " is the complémentaire santé solidaire), and the rows of its " code { "amc/" }
                " file. The chart shows the first " (TOP_GROUPS) " insurers, the table sums the others into one row."
            }
            @if top.is_empty() {
                p.empty { "No paid line with a complementary insurer." }
            } @else {
                (PreEscaped(hbar("Complementary share by insurer", &bars, C_AMC)))
            }
            table {
                thead { tr {
                    th { "Insurer" } th.n { "Lines" } th.n { "Billed" } th.n { "AMO paid" }
                    th.n { "AMC share" } th.n { "Share of AMC" } th { "File" } th.n { "File rows" }
                } }
                tbody {
                    @for (k, a) in &top {
                        (row(html! { span.code { (k) } }, a, file_of(k)))
                    }
                    @if let Some((n, a)) = &rest {
                        (row(html! { span.muted { (int(*n as i128)) " other insurers" } }, a, None))
                    }
                    @if let Some(a) = d.data.by_amc.get("") {
                        (row(html! { span.muted { "no complementary insurer" } }, a, None))
                    }
                }
            }
        }
    }
}
