//! "Amounts by CCAM regroupement and NGAP letter" and "Top acts by AMO paid".

use super::{TOP_ACTS, TOP_GROUPS, agg_cells, agg_head, mixed_chart, top_n};
use crate::report::RunData;
use crate::report::data::Agg;
use crate::report::fmt::{euros, int};
use crate::report::svg::Bar;
use maud::{Markup, html};

fn bar(label: String, a: &Agg) -> Bar {
    Bar {
        label,
        value: a.amo_paid as f64,
        text: euros(a.amo_paid as i128),
        color: None,
    }
}

pub(super) fn by_group(d: &RunData) -> Markup {
    let p = &d.data.paid;
    let mut v: Vec<(String, &Agg)> = d
        .data
        .ccam_groups
        .iter()
        .map(|(k, a)| (format!("CCAM {k}"), a))
        .collect();
    v.extend(
        d.data
            .ngap_letters
            .iter()
            .map(|(k, a)| (format!("NGAP {k}"), a)),
    );
    let empty = v.is_empty();
    let (top, rest) = top_n(v, TOP_GROUPS, |a| a.amo_paid);
    // The summed rest is in the table, not in the chart: one grey bar as long as ten groups would
    // squash the bars that matter.
    let bars: Vec<Bar> = top.iter().map(|(k, a)| bar(k.clone(), a)).collect();
    let all = Agg {
        lines: p.lines,
        billed: p.billed,
        base: p.base,
        amo_paid: p.amo_paid,
        amc: p.amc,
    };
    html! {
        section #by-group {
            h2 { "Amounts by CCAM regroupement and NGAP letter" }
            p.note {
                "NGAP lines are grouped by their letter, CCAM lines by their " b { "regroupement" }
                " (the prestation code of the act in the CCAM, e.g. " code { "ADC" } " surgical acts, "
                code { "ATM" } " technical acts, " code { "ADE" } " imaging). Sorted by AMO paid; the chart shows the first "
                (TOP_GROUPS) " groups, the table sums the others into one row."
            }
            @if empty {
                p.empty { "No paid line." }
            } @else {
                (mixed_chart("AMO paid by CCAM regroupement and NGAP letter", bars))
                table {
                    thead { tr { th { "Type" } th { "Group" } (agg_head()) } }
                    tbody {
                        @for (k, a) in &top {
                            @let (ty, g) = k.split_once(' ').unwrap_or(("", k.as_str()));
                            tr { td { (ty) } td.code { (g) } (agg_cells(a, p.amo_paid)) }
                        }
                        @if let Some((n, a)) = &rest {
                            tr { td.muted colspan="2" { (int(*n as i128)) " other groups" } (agg_cells(a, p.amo_paid)) }
                        }
                        tr.total { td colspan="2" { "Total" } (agg_cells(&all, p.amo_paid)) }
                    }
                }
            }
        }
    }
}

pub(super) fn top_acts(d: &RunData) -> Markup {
    let p = &d.data.paid;
    let mut v: Vec<(&str, &String, &Agg)> = d
        .data
        .ccam_acts
        .iter()
        .map(|(k, a)| ("CCAM", k, a))
        .collect();
    v.extend(d.data.ngap_letters.iter().map(|(k, a)| ("NGAP", k, a)));
    v.sort_by(|a, b| {
        b.2.amo_paid
            .cmp(&a.2.amo_paid)
            .then(b.2.lines.cmp(&a.2.lines))
            .then(a.1.cmp(b.1))
    });
    v.truncate(TOP_ACTS);
    let bars: Vec<Bar> = v
        .iter()
        .map(|(t, k, a)| bar(format!("{t} {k}"), a))
        .collect();
    html! {
        section #top-acts {
            h2 { "Top acts by AMO paid" }
            p.note { "The " (TOP_ACTS) " acts with the most AMO paid: CCAM acts by code, NGAP acts by letter." }
            @if v.is_empty() {
                p.empty { "No paid line." }
            } @else {
                (mixed_chart("Top acts by AMO paid", bars))
                table {
                    thead { tr { th.n { "#" } th { "Type" } th { "Code" } (agg_head()) } }
                    tbody {
                        @for (i, (t, k, a)) in v.iter().enumerate() {
                            tr { td.n { (i + 1) } td { (t) } td.code { (k) } (agg_cells(a, p.amo_paid)) }
                        }
                    }
                }
            }
        }
    }
}
