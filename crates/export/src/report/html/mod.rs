//! The HTML page: one self-contained file (inline CSS, inline SVG, no script, no network), written
//! with `maud` templates: every `(expr)` spliced into the page is escaped by construction; the only
//! raw insertions are the constant CSS and the SVG charts of [`super::svg`] (which escape their text).
//!
//! One module per section, in page order. The page is deterministic (no generation timestamp): the
//! same output directory gives the same bytes, like the run itself.

mod checks;
mod day_over_day;
mod debts_payments;
mod groups;
mod key_figures;
mod payees;
mod rejections;
mod warnings;

pub use checks::{Check, checks};

use super::RunData;
use super::data::Agg;
use super::fmt::{euros, int, share};
use super::svg::{Bar, hbar};
use liquidator_core::output::Summary;
use maud::{DOCTYPE, Markup, PreEscaped, html};

/// Bars shown per chart; the rest is summed into one "other" row so that the chart stays readable.
const TOP_GROUPS: usize = 15;
const TOP_ACTS: usize = 20;
/// Day-over-day changes at least this large (in %) are highlighted for the supervisor.
const BIG_CHANGE_PCT: f64 = 20.0;

const C_AMO: &str = "#2563eb";
const C_AMC: &str = "#0d9488";
const C_PATIENT: &str = "#f59e0b";
const C_REJECT: &str = "#dc2626";
const C_PS: &str = "#7c3aed";
const C_ASSURE: &str = "#db2777";
const C_OTHER: &str = "#9ca3af";
/// NGAP bars differ from CCAM bars in the charts that mix both.
const C_NGAP: &str = "#0891b2";

const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;background:#f3f4f6;color:#111827;font:14px/1.45 "DejaVu Sans","Liberation Sans",Arial,Helvetica,sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px}
header h1{margin:0 0 4px;font-size:26px}
header .sub{color:#4b5563}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:18px 22px;margin:18px 0}
h2{font-size:19px;margin:0 0 10px}
h3{font-size:15px;margin:16px 0 8px}
p.note{color:#4b5563;margin:4px 0 12px}
.muted{color:#6b7280}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px}
.card{border:1px solid #e5e7eb;border-radius:6px;padding:10px 12px;background:#f9fafb}
.card .k{color:#4b5563;font-size:12.5px}
.card .v{font-size:21px;font-weight:bold;white-space:nowrap;font-variant-numeric:tabular-nums}
.card .s{color:#6b7280;font-size:12.5px}
table{border-collapse:collapse;width:100%;margin:8px 0}
th,td{padding:4px 8px;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top}
th{background:#f9fafb;font-size:12.5px;color:#374151}
td.n,th.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
td.code,span.code{font-family:"DejaVu Sans Mono","Liberation Mono",monospace;white-space:nowrap}
tr.total td{font-weight:bold;border-top:2px solid #d1d5db}
.chart{display:block;margin:6px 0 4px;max-width:100%;height:auto}
.chart text{font:12px "DejaVu Sans","Liberation Sans",Arial,Helvetica,sans-serif;fill:#111827}
.chart text.inbar{fill:#fff;font-weight:bold}
.legend{list-style:none;padding:0;margin:6px 0 10px;display:flex;flex-wrap:wrap;gap:6px 22px}
.legend .sw{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}
.ok,.ko{display:inline-block;padding:1px 9px;border-radius:10px;font-weight:bold;font-size:12.5px;white-space:nowrap}
.ok{background:#dcfce7;color:#166534}
.ko{background:#fee2e2;color:#991b1b}
.badge{display:inline-block;margin-top:8px;padding:4px 12px;border-radius:14px;font-weight:bold}
.badge.ok{font-size:14px}.badge.ko{font-size:14px}
tr.big td{background:#fef9c3}
table.checks td:first-child{width:100px}
table.checks td:nth-child(2){width:36%}
.empty{color:#6b7280;font-style:italic}
footer{color:#6b7280;font-size:12px;margin:10px 0 30px}
@media print{body{background:#fff}section{break-inside:avoid}}
"#;

/// Renders the whole page.
pub fn render(d: &RunData, prev: Option<(&str, &Summary)>) -> String {
    let s = &d.summary;
    let checks = checks(d);
    let failed = checks.iter().filter(|c| !c.ok).count();
    let dir_name = d
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| d.dir.display().to_string());
    let title = format!(
        "Liquidation report — batch {} of {}",
        s.batch_number, s.batch_date
    );
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body { main {
                header {
                    h1 { "Liquidation run report" }
                    div.sub {
                        "Batch " b { (s.batch_number) } " of " b { (s.batch_date) }
                        " · output directory " code { (dir_name) }
                    }
                    @if failed == 0 {
                        div.badge.ok { "✓ All " (checks.len()) " conservation checks pass" }
                    } @else {
                        div.badge.ko {
                            "✗ " (failed) " of " (checks.len())
                            " conservation checks FAILED — do not send the payments before review"
                        }
                    }
                }
                (key_figures::section(s))
                (checks::section(&checks))
                @if let Some((name, p)) = prev {
                    (day_over_day::section(name, p, s))
                }
                (rejections::section(d))
                (groups::by_group(d))
                (payees::by_payee(d))
                (payees::by_insurer(d))
                (groups::top_acts(d))
                (debts_payments::section(d))
                (warnings::section(s))
                footer {
                    "Produced by " code { "liquidator report" } " from " code { (dir_name) }
                    @match prev {
                        Some((n, _)) => { ", compared with " code { (n) } }
                        None => { " (run with " code { "--previous OTHER_OUT_DIR" } " for day-over-day changes)" }
                    }
                    ". Amounts are exact sums of the cents of the run's liquidated lines, aggregated during the \
                     run (" code { "report_data.json" } "); percentages are rounded to one decimal. Layouts: "
                    code { "formats/outputs.md" } "."
                }
            } }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
    out
}

/// Colours NGAP bars apart and adds the legend the mixed charts need.
fn mixed_chart(title: &str, mut bars: Vec<Bar>) -> Markup {
    for b in &mut bars {
        if b.color.is_none() && b.label.starts_with("NGAP ") {
            b.color = Some(C_NGAP);
        }
    }
    html! {
        (PreEscaped(hbar(title, &bars, C_AMO)))
        ul.legend {
            li { span.sw style=(format!("background:{C_AMO}")) {} "CCAM" }
            li { span.sw style=(format!("background:{C_NGAP}")) {} "NGAP" }
        }
    }
}

/// Groups kept for display and, when there are more than `n`, how many others and their sum.
type Top<'a> = (Vec<(String, &'a Agg)>, Option<(usize, Agg)>);

/// Sorts groups by `key` descending (then lines, then name, so the order is stable), keeps the first
/// `n` and sums the rest into one row.
fn top_n(mut v: Vec<(String, &Agg)>, n: usize, key: impl Fn(&Agg) -> i64) -> Top<'_> {
    v.sort_by(|a, b| {
        key(b.1)
            .cmp(&key(a.1))
            .then(b.1.lines.cmp(&a.1.lines))
            .then(a.0.cmp(&b.0))
    });
    if v.len() <= n {
        return (v, None);
    }
    let rest = v.split_off(n);
    let mut o = Agg::default();
    for (_, a) in &rest {
        o.merge(a);
    }
    (v, Some((rest.len(), o)))
}

fn w(v: i64) -> i128 {
    v as i128
}

/// The header cells matching [`agg_cells`].
fn agg_head() -> Markup {
    html! {
        th.n { "Lines" } th.n { "Billed" } th.n { "Base" } th.n { "AMO paid" }
        th.n { "Share of AMO" } th.n { "AMC" }
    }
}

fn agg_cells(a: &Agg, total_amo: i64) -> Markup {
    html! {
        td.n { (int(a.lines as i128)) }
        td.n { (euros(w(a.billed))) }
        td.n { (euros(w(a.base))) }
        td.n { (euros(w(a.amo_paid))) }
        td.n { (share(w(a.amo_paid), w(total_amo))) }
        td.n { (euros(w(a.amc))) }
    }
}
