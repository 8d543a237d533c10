//! The HTML page: one self-contained file (inline CSS, inline SVG, no script, no network).
//!
//! Every piece of text that comes from the files goes through [`esc`]; every figure through the French
//! formatters of [`super::fmt`]. The page is deterministic (no generation timestamp): the same output
//! directory gives the same bytes, like the run itself.

use super::fmt::{esc, euros, int, pct, share, signed_euros, signed_int, signed_pct};
use super::read::{Agg, ORPHAN_CODE, RunData};
use super::svg::{Bar, Seg, hbar, stacked};
use liquidator_core::codes::{Reject, Warn};
use liquidator_core::output::Summary;
use std::fmt::Write;

/// Bars shown per chart; the rest is summed into one "other" bar so that the chart stays readable.
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

/// Colours NGAP bars apart and adds the legend the mixed charts need.
fn mixed_chart(title: &str, mut bars: Vec<Bar>) -> String {
    for b in &mut bars {
        if b.color.is_none() && b.label.starts_with("NGAP ") {
            b.color = Some(C_NGAP);
        }
    }
    let mut s = hbar(title, &bars, C_AMO);
    let _ = write!(
        s,
        "<ul class=\"legend\"><li><span class=\"sw\" style=\"background:{C_AMO}\"></span>CCAM</li>\
         <li><span class=\"sw\" style=\"background:{C_NGAP}\"></span>NGAP</li></ul>"
    );
    s
}

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

/// One conservation check as shown in the page.
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

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

/// The key figures of a run, in display order (also the rows of the day-over-day table).
fn figures(s: &Summary) -> Vec<Figure> {
    use Kind::*;
    let f = |label, value: i128, kind| Figure { label, value, kind };
    vec![
        f("Claims read", s.claims_read as i128, Count),
        f("Claims paid", s.claims_paid as i128, Count),
        f("Claims rejected", s.claims_rejected as i128, Count),
        f("Lines read", s.lines_read as i128, Count),
        f("Lines paid", s.lines_paid as i128, Count),
        f("Lines rejected", s.lines_rejected as i128, Count),
        f("Billed (all claims)", s.billed_cents as i128, Money),
        f("Billed (paid claims)", s.paid_billed_cents as i128, Money),
        f("Base de remboursement", s.base_cents as i128, Money),
        f("AMO paid", s.amo_paid_cents as i128, Money),
        f(
            "AMO paid to practitioners",
            s.amo_to_practitioners_cents as i128,
            Money,
        ),
        f("AMO paid to insured", s.amo_to_insured_cents as i128, Money),
        f("AMC (complementary)", s.amc_cents as i128, Money),
        f("Patient (remaining)", s.patient_cents as i128, Money),
        f(
            "Participations forfaitaires",
            s.participations_cents as i128,
            Money,
        ),
        f("Heavy-act forfaits", s.heavy_forfait_cents as i128, Money),
        f("Excess fees (dépassements)", s.excess_cents as i128, Money),
        f("Rejected billed", s.rejected_billed_cents as i128, Money),
        f("Records outside claims", s.orphan_records as i128, Count),
    ]
}

fn fmt_fig(v: i128, k: Kind) -> String {
    match k {
        Kind::Count => int(v),
        Kind::Money => euros(v),
    }
}

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

    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Liquidation report — batch {} of {}</title><style>{CSS}</style></head><body><main>",
        s.batch_number,
        esc(&s.batch_date)
    );
    let _ = write!(
        h,
        "<header><h1>Liquidation run report</h1><div class=\"sub\">Batch <b>{}</b> of <b>{}</b> · output directory <code>{}</code></div>{}</header>",
        s.batch_number,
        esc(&s.batch_date),
        esc(&dir_name),
        if failed == 0 {
            format!(
                "<div class=\"badge ok\">✓ All {} conservation checks pass</div>",
                checks.len()
            )
        } else {
            format!(
                "<div class=\"badge ko\">✗ {failed} of {} conservation checks FAILED — do not send the payments before review</div>",
                checks.len()
            )
        }
    );
    key_figures(&mut h, s);
    checks_section(&mut h, &checks);
    if let Some((name, p)) = prev {
        day_over_day(&mut h, name, p, s);
    }
    rejections(&mut h, d);
    by_group(&mut h, d);
    by_payee(&mut h, d);
    by_insurer(&mut h, d);
    top_acts(&mut h, d);
    warnings(&mut h, s);
    let _ = write!(
        h,
        "<footer>Produced by <code>liquidator report</code> from <code>{}</code>{}. Amounts are exact sums of the \
         cents in the output files; percentages are rounded to one decimal. Layouts: <code>formats/outputs.md</code>.</footer>",
        esc(&dir_name),
        match prev {
            Some((n, _)) => format!(", compared with <code>{}</code>", esc(n)),
            None => " (run with <code>--previous OTHER_OUT_DIR</code> for day-over-day changes)"
                .to_string(),
        }
    );
    h.push_str("</main></body></html>\n");
    h
}

fn card(h: &mut String, k: &str, v: &str, sub: &str) {
    let _ = write!(
        h,
        "<div class=\"card\"><div class=\"k\">{}</div><div class=\"v\">{}</div><div class=\"s\">{}</div></div>",
        esc(k),
        esc(v),
        sub
    );
}

fn key_figures(h: &mut String, s: &Summary) {
    h.push_str("<section id=\"key-figures\"><h2>Key figures</h2><div class=\"cards\">");
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
            "deducted from AMO".into(),
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
    for (k, v, sub) in &cards {
        card(h, k, v, &esc(sub));
    }
    h.push_str("</div><h3>Who pays the billed amount of paid claims</h3>");
    h.push_str(&stacked(
        "Split of the billed amount of paid claims",
        &[
            Seg {
                label: "AMO paid".into(),
                value: s.amo_paid_cents as f64,
                text: euros(s.amo_paid_cents as i128),
                color: C_AMO,
            },
            Seg {
                label: "AMC".into(),
                value: s.amc_cents as f64,
                text: euros(s.amc_cents as i128),
                color: C_AMC,
            },
            Seg {
                label: "Patient".into(),
                value: s.patient_cents as f64,
                text: euros(s.patient_cents as i128),
                color: C_PATIENT,
            },
        ],
    ));
    h.push_str("<h3>Billed amount of all claims</h3>");
    h.push_str(&stacked(
        "Billed amount of paid and rejected claims",
        &[
            Seg {
                label: "Paid claims".into(),
                value: paid_billed as f64,
                text: euros(paid_billed),
                color: C_AMO,
            },
            Seg {
                label: "Rejected claims".into(),
                value: s.rejected_billed_cents as f64,
                text: euros(s.rejected_billed_cents as i128),
                color: C_REJECT,
            },
        ],
    ));
    h.push_str("</section>");
}

fn eq_detail(name: &str, a: i128, b: i128, money: bool) -> String {
    let f = |v| if money { euros(v) } else { int(v) };
    if a == b {
        format!("{name}: {}", f(a))
    } else {
        format!(
            "{name}: {} ≠ {} (difference {})",
            f(a),
            f(b),
            if money {
                signed_euros(a - b)
            } else {
                signed_int(a - b)
            }
        )
    }
}

/// The conservation checks: those `summary.json` states, recomputed from its figures, and the files
/// re-added against the summary (a truncated or edited file shows up here).
pub fn checks(d: &RunData) -> Vec<Check> {
    let s = &d.summary;
    let p = &d.payments;
    let r = &d.rejections;
    let i = |v: u64| v as i128;
    let c = |v: i64| v as i128;
    let flag = |f: bool| {
        if f {
            String::new()
        } else {
            " — flagged as failed in summary.json".to_string()
        }
    };
    let mut v = Vec::new();

    let ok = i(s.claims_read) == i(s.claims_paid) + i(s.claims_rejected);
    v.push(Check {
        name: "Claims read = paid + rejected".into(),
        ok: ok && s.conservation.claims,
        detail: format!(
            "{} = {} + {}{}",
            int(i(s.claims_read)),
            int(i(s.claims_paid)),
            int(i(s.claims_rejected)),
            flag(s.conservation.claims)
        ),
    });
    let ok = i(s.lines_read) == i(s.lines_paid) + i(s.lines_rejected);
    v.push(Check {
        name: "Lines read = paid + rejected".into(),
        ok: ok && s.conservation.lines,
        detail: format!(
            "{} = {} + {}{}",
            int(i(s.lines_read)),
            int(i(s.lines_paid)),
            int(i(s.lines_rejected)),
            flag(s.conservation.lines)
        ),
    });
    let ok = c(s.billed_cents) == c(s.paid_billed_cents) + c(s.rejected_billed_cents);
    v.push(Check {
        name: "Billed = billed on paid claims + billed on rejected claims".into(),
        ok: ok && s.conservation.billed,
        detail: format!(
            "{} = {} + {}{}",
            euros(c(s.billed_cents)),
            euros(c(s.paid_billed_cents)),
            euros(c(s.rejected_billed_cents)),
            flag(s.conservation.billed)
        ),
    });
    let ok = c(s.paid_billed_cents) == c(s.amo_paid_cents) + c(s.amc_cents) + c(s.patient_cents);
    v.push(Check {
        name: "Billed on paid claims = AMO + AMC + patient".into(),
        ok: ok && s.conservation.paid_split,
        detail: format!(
            "{} = {} + {} + {}{}",
            euros(c(s.paid_billed_cents)),
            euros(c(s.amo_paid_cents)),
            euros(c(s.amc_cents)),
            euros(c(s.patient_cents)),
            flag(s.conservation.paid_split)
        ),
    });
    let sum: i128 = s.rejections_by_code.values().map(|&n| i(n)).sum();
    v.push(Check {
        name: "Rejections by reason add up to the rejected claims".into(),
        ok: sum == i(s.claims_rejected) && s.conservation.rejections,
        detail: format!(
            "{} = {}{}",
            int(sum),
            int(i(s.claims_rejected)),
            flag(s.conservation.rejections)
        ),
    });

    v.push(Check {
        name: "payments.tsv: one row per paid line".into(),
        ok: i(p.rows) == i(s.lines_paid),
        detail: eq_detail("rows vs lines paid", i(p.rows), i(s.lines_paid), false),
    });
    v.push(Check {
        name: "payments.tsv: paid claims".into(),
        ok: i(p.claims) == i(s.claims_paid),
        detail: eq_detail(
            "claims in the file vs claims paid",
            i(p.claims),
            i(s.claims_paid),
            false,
        ),
    });
    let pairs = [
        ("billed", p.billed, s.paid_billed_cents),
        ("base", p.base, s.base_cents),
        ("AMO gross", p.amo_gross, s.amo_gross_cents),
        ("AMO paid", p.amo_paid, s.amo_paid_cents),
        ("AMC", p.amc, s.amc_cents),
        ("patient", p.patient, s.patient_cents),
        ("participations", p.participation, s.participations_cents),
        ("heavy forfaits", p.heavy_forfait, s.heavy_forfait_cents),
        ("excess", p.excess, s.excess_cents),
    ];
    let bad: Vec<String> = pairs
        .iter()
        .filter(|(_, a, b)| *a != c(*b))
        .map(|(n, a, b)| eq_detail(n, *a, c(*b), true))
        .collect();
    v.push(Check {
        name: "payments.tsv amounts add up to summary.json".into(),
        ok: bad.is_empty(),
        detail: if bad.is_empty() {
            format!("{} totals agree", pairs.len())
        } else {
            bad.join("; ")
        },
    });
    v.push(Check {
        name: "payments.tsv: every line splits exactly".into(),
        ok: p.split_errors == 0,
        detail: match p.first_split_error {
            None => "billed = AMO paid + AMC + patient, base = AMO gross + ticket, AMO gross = AMO paid + participation on every line".into(),
            Some(l) => format!("{} lines do not split, first at payments.tsv line {l}", int(i(p.split_errors))),
        },
    });
    let ps = p.by_payee.get("PS").map(|a| a.amo_paid).unwrap_or(0);
    let assure = p.by_payee.get("ASSURE").map(|a| a.amo_paid).unwrap_or(0);
    let others: Vec<&str> = p
        .by_payee
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "PS" && *k != "ASSURE")
        .collect();
    v.push(Check {
        name: "AMO paid by payee agrees with summary.json".into(),
        ok: ps == c(s.amo_to_practitioners_cents)
            && assure == c(s.amo_to_insured_cents)
            && others.is_empty(),
        detail: format!(
            "{}; {}{}",
            eq_detail("PS", ps, c(s.amo_to_practitioners_cents), true),
            eq_detail("ASSURE", assure, c(s.amo_to_insured_cents), true),
            if others.is_empty() {
                String::new()
            } else {
                format!("; unknown payee kinds: {}", others.join(", "))
            }
        ),
    });

    let mut code_diffs = Vec::new();
    let codes: std::collections::BTreeSet<&String> = r
        .by_code
        .keys()
        .chain(s.rejections_by_code.keys())
        .collect();
    for code in codes {
        let a = r.by_code.get(code).map(|x| x.count).unwrap_or(0);
        let b = s.rejections_by_code.get(code).copied().unwrap_or(0);
        if a != b {
            code_diffs.push(format!(
                "{code}: {} in the file, {} in summary.json",
                int(i(a)),
                int(i(b))
            ));
        }
    }
    v.push(Check {
        name: "rejections.tsv: one row per rejected claim, by reason".into(),
        ok: i(r.claims) == i(s.claims_rejected) && code_diffs.is_empty(),
        detail: if code_diffs.is_empty() {
            eq_detail(
                "rows vs claims rejected",
                i(r.claims),
                i(s.claims_rejected),
                false,
            )
        } else {
            code_diffs.join("; ")
        },
    });
    v.push(Check {
        name: "rejections.tsv: billed on rejected claims".into(),
        ok: r.billed == c(s.rejected_billed_cents),
        detail: eq_detail(
            "file vs summary.json",
            r.billed,
            c(s.rejected_billed_cents),
            true,
        ),
    });
    v.push(Check {
        name: "rejections.tsv: records outside claims (R002)".into(),
        ok: i(r.orphans) == i(s.orphan_records) && r.orphan_billed == c(s.orphan_billed_cents),
        detail: format!(
            "{}; {}",
            eq_detail("rows", i(r.orphans), i(s.orphan_records), false),
            eq_detail("billed", r.orphan_billed, c(s.orphan_billed_cents), true)
        ),
    });
    match &d.amc_files {
        Some(files) => {
            let total: i128 = files.iter().map(|f| f.amc_total).sum();
            v.push(Check {
                name: "amc/: one file per insurer, shares add up to AMC".into(),
                ok: files.len() as u64 == s.amc_files && total == c(s.amc_cents),
                detail: format!(
                    "{}; {}",
                    eq_detail("files", files.len() as i128, i(s.amc_files), false),
                    eq_detail("Σ amc_total vs AMC", total, c(s.amc_cents), true)
                ),
            });
        }
        None => v.push(Check {
            name: "amc/: one file per insurer, shares add up to AMC".into(),
            ok: false,
            detail: "the amc/ directory is missing".into(),
        }),
    }
    v
}

fn checks_section(h: &mut String, checks: &[Check]) {
    h.push_str(
        "<section id=\"checks\"><h2>Conservation checks</h2><p class=\"note\">What <code>summary.json</code> proves, \
         and the output files re-added independently and compared with it.</p><table class=\"checks\"><thead><tr><th>Status</th><th>Check</th><th>Detail</th></tr></thead><tbody>",
    );
    for c in checks {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            if c.ok {
                "<span class=\"ok\">✓ OK</span>"
            } else {
                "<span class=\"ko\">✗ FAILED</span>"
            },
            esc(&c.name),
            esc(&c.detail)
        );
    }
    h.push_str("</tbody></table></section>");
}

fn delta_pct(prev: i128, today: i128) -> Option<f64> {
    if prev == 0 {
        None
    } else {
        Some((today - prev) as f64 * 100.0 / prev.unsigned_abs() as f64)
    }
}

fn day_over_day(h: &mut String, prev_name: &str, p: &Summary, s: &Summary) {
    let _ = write!(
        h,
        "<section id=\"day-over-day\"><h2>Day over day</h2><p class=\"note\">Compared with batch <b>{}</b> of <b>{}</b> \
         (<code>{}</code>). Changes of {} or more are highlighted.</p><table><thead><tr><th>Figure</th>\
         <th class=\"n\">Previous</th><th class=\"n\">Today</th><th class=\"n\">Change</th><th class=\"n\">Change %</th></tr></thead><tbody>",
        p.batch_number,
        esc(&p.batch_date),
        esc(prev_name),
        pct(BIG_CHANGE_PCT)
    );
    let (pf, tf) = (figures(p), figures(s));
    for (a, b) in pf.iter().zip(tf.iter()) {
        delta_row(h, a.label, a.value, b.value, a.kind);
    }
    h.push_str("</tbody></table><h3>Rejected claims by reason</h3><table><thead><tr><th>Reason</th><th class=\"n\">Previous</th><th class=\"n\">Today</th><th class=\"n\">Change</th><th class=\"n\">Change %</th></tr></thead><tbody>");
    let codes: std::collections::BTreeSet<&String> = p
        .rejections_by_code
        .keys()
        .chain(s.rejections_by_code.keys())
        .collect();
    if codes.is_empty() {
        h.push_str(
            "<tr><td colspan=\"5\" class=\"empty\">No rejected claim on either day.</td></tr>",
        );
    }
    for code in codes {
        let a = p.rejections_by_code.get(code).copied().unwrap_or(0) as i128;
        let b = s.rejections_by_code.get(code).copied().unwrap_or(0) as i128;
        let label = match Reject::from_code(code) {
            Some(r) => format!("{code} {}", r.slug()),
            None => code.clone(),
        };
        delta_row(h, &label, a, b, Kind::Count);
    }
    h.push_str("</tbody></table></section>");
}

fn delta_row(h: &mut String, label: &str, a: i128, b: i128, kind: Kind) {
    let d = delta_pct(a, b);
    let big = d.is_some_and(|x| x.abs() >= BIG_CHANGE_PCT) || (a == 0 && b != 0);
    let change = match kind {
        Kind::Count => signed_int(b - a),
        Kind::Money => signed_euros(b - a),
    };
    let _ = write!(
        h,
        "<tr{}><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
        if big { " class=\"big\"" } else { "" },
        esc(label),
        esc(&fmt_fig(a, kind)),
        esc(&fmt_fig(b, kind)),
        esc(&change),
        esc(&d.map(signed_pct).unwrap_or_else(|| if b == 0 {
            signed_pct(0.0)
        } else {
            "new".into()
        }))
    );
}

fn rejections(h: &mut String, d: &RunData) {
    let r = &d.rejections;
    h.push_str("<section id=\"rejections\"><h2>Rejections by reason</h2>");
    let mut rows: Vec<(&String, &super::read::Reason)> = r.by_code.iter().collect();
    rows.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
    if rows.is_empty() {
        h.push_str("<p class=\"empty\">No claim rejected.</p>");
    } else {
        let _ = write!(
            h,
            "<p class=\"note\">{} rejected claims ({} of claims read), {} billed. A claim is rejected whole, on its first failing rule.</p>",
            int(r.claims as i128),
            share(r.claims as i128, d.summary.claims_read as i128),
            euros(r.billed)
        );
        let bars: Vec<Bar> = rows
            .iter()
            .map(|(code, x)| Bar {
                label: format!("{code} {}", x.mnemonic),
                value: x.count as f64,
                text: format!(
                    "{} · {}",
                    int(x.count as i128),
                    share(x.count as i128, r.claims as i128)
                ),
                color: None,
            })
            .collect();
        h.push_str(&hbar("Rejected claims by reason", &bars, C_REJECT));
        h.push_str("<table><thead><tr><th>Code</th><th>Mnemonic</th><th>Meaning</th><th class=\"n\">Claims</th><th class=\"n\">Share</th><th class=\"n\">Billed</th></tr></thead><tbody>");
        for (code, x) in &rows {
            let text = Reject::from_code(code)
                .map(|c| c.text())
                .unwrap_or("(code not in formats/codes.md)");
            let _ = write!(
                h,
                "<tr><td class=\"code\">{}</td><td class=\"code\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(code),
                esc(&x.mnemonic),
                esc(text),
                int(x.count as i128),
                share(x.count as i128, r.claims as i128),
                euros(x.billed)
            );
        }
        let _ = write!(
            h,
            "<tr class=\"total\"><td colspan=\"3\">Total</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr></tbody></table>",
            int(r.claims as i128),
            share(r.claims as i128, r.claims as i128),
            euros(r.billed)
        );
    }
    if r.orphans > 0 {
        let _ = write!(
            h,
            "<p class=\"note\">Also {} outside any claim (<code>{ORPHAN_CODE}</code> ORPHAN_RECORD, {} billed): not claims, listed in <code>rejections.tsv</code>.</p>",
            if r.orphans == 1 {
                "1 record".to_string()
            } else {
                format!("{} records", int(r.orphans as i128))
            },
            euros(r.orphan_billed)
        );
    }
    h.push_str("</section>");
}

/// Groups kept for display and, when there are more than `n`, how many others and their sum.
type Top<'a> = (Vec<(String, &'a Agg)>, Option<(usize, Agg)>);

/// Sorts groups by `key` descending (then lines, then name, so the order is stable), keeps the first
/// `n` and sums the rest into one row.
fn top_n(mut v: Vec<(String, &Agg)>, n: usize, key: impl Fn(&Agg) -> i128) -> Top<'_> {
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
        o.lines += a.lines;
        o.billed += a.billed;
        o.base += a.base;
        o.amo_paid += a.amo_paid;
        o.amc += a.amc;
    }
    (v, Some((rest.len(), o)))
}

fn agg_cells(h: &mut String, a: &Agg, total_amo: i128) {
    let _ = write!(
        h,
        "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
        int(a.lines as i128),
        euros(a.billed),
        euros(a.base),
        euros(a.amo_paid),
        share(a.amo_paid, total_amo),
        euros(a.amc)
    );
}

const AGG_HEAD: &str = "<th class=\"n\">Lines</th><th class=\"n\">Billed</th><th class=\"n\">Base</th><th class=\"n\">AMO paid</th><th class=\"n\">Share of AMO</th><th class=\"n\">AMC</th>";

fn by_group(h: &mut String, d: &RunData) {
    let p = &d.payments;
    h.push_str(
        "<section id=\"by-group\"><h2>Amounts by CCAM family and NGAP letter</h2><p class=\"note\">NGAP lines are grouped by \
         their letter (the <code>code</code> column). <code>payments.tsv</code> carries no CCAM regroupement, so CCAM lines are \
         grouped by <b>code family</b>: the first 4 characters of the CCAM code (topography, action, access — e.g. \
         <code>HBQK</code> for HBQK002). Sorted by AMO paid; the chart shows the first 15 groups, the table sums the others into one row.</p>",
    );
    let mut v: Vec<(String, &Agg)> = p
        .ccam_families
        .iter()
        .map(|(k, a)| (format!("CCAM {k}"), a))
        .collect();
    v.extend(p.ngap_letters.iter().map(|(k, a)| (format!("NGAP {k}"), a)));
    if v.is_empty() {
        h.push_str("<p class=\"empty\">No paid line.</p></section>");
        return;
    }
    let (top, rest) = top_n(v, TOP_GROUPS, |a| a.amo_paid);
    // The summed rest is in the table, not in the chart: one grey bar as long as ten groups would
    // squash the bars that matter.
    let bars: Vec<Bar> = top
        .iter()
        .map(|(k, a)| Bar {
            label: k.clone(),
            value: a.amo_paid as f64,
            text: euros(a.amo_paid),
            color: None,
        })
        .collect();
    h.push_str(&mixed_chart(
        "AMO paid by CCAM family and NGAP letter",
        bars,
    ));
    let _ = write!(
        h,
        "<table><thead><tr><th>Type</th><th>Group</th>{AGG_HEAD}</tr></thead><tbody>"
    );
    let total = p.amo_paid;
    for (k, a) in &top {
        let (ty, g) = k.split_once(' ').unwrap_or(("", k.as_str()));
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"code\">{}</td>",
            esc(ty),
            esc(g)
        );
        agg_cells(h, a, total);
        h.push_str("</tr>");
    }
    if let Some((n, a)) = &rest {
        let _ = write!(
            h,
            "<tr><td colspan=\"2\" class=\"muted\">{} other groups</td>",
            int(*n as i128)
        );
        agg_cells(h, a, total);
        h.push_str("</tr>");
    }
    let all = Agg {
        lines: p.rows,
        billed: p.billed,
        base: p.base,
        amo_paid: p.amo_paid,
        amc: p.amc,
    };
    h.push_str("<tr class=\"total\"><td colspan=\"2\">Total</td>");
    agg_cells(h, &all, total);
    h.push_str("</tr></tbody></table></section>");
}

fn payee_label(k: &str) -> String {
    match k {
        "PS" => "PS — practitioner (third-party payment)".into(),
        "ASSURE" => "ASSURE — insured person".into(),
        other => other.to_string(),
    }
}

fn by_payee(h: &mut String, d: &RunData) {
    let p = &d.payments;
    h.push_str("<section id=\"by-payee\"><h2>AMO payments by payee</h2><p class=\"note\">Who receives the AMO amount: the practitioner under third-party payment (<code>PS</code>) or the insured person (<code>ASSURE</code>).</p>");
    let colors = |k: &str| match k {
        "PS" => C_PS,
        "ASSURE" => C_ASSURE,
        _ => C_OTHER,
    };
    // Practitioners first (the usual majority), then the insured, then anything unexpected.
    let mut payees: Vec<(&String, &Agg)> = p.by_payee.iter().collect();
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
            text: euros(a.amo_paid),
            color: colors(k),
        })
        .collect();
    h.push_str(&stacked("AMO paid by payee kind", &segs));
    let _ = write!(
        h,
        "<table><thead><tr><th>Payee</th>{AGG_HEAD}</tr></thead><tbody>"
    );
    for (k, a) in &payees {
        let _ = write!(h, "<tr><td>{}</td>", esc(&payee_label(k)));
        agg_cells(h, a, p.amo_paid);
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></section>");
}

/// The file name `liquidator run` gives an insurer's file (`output::sink`): non-alphanumerics → `_`.
fn amc_file_name(amc: &str) -> String {
    let s: String = amc
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{s}.tsv")
}

fn by_insurer(h: &mut String, d: &RunData) {
    let p = &d.payments;
    h.push_str(
        "<section id=\"by-insurer\"><h2>By complementary insurer (AMC)</h2><p class=\"note\">Complementary share of paid lines by \
         insurer number (<code>amc_number</code>; <code>C2S</code> is the complémentaire santé solidaire), and the rows of its \
         <code>amc/</code> file. The chart shows the first 15 insurers, the table sums the others into one row.</p>",
    );
    let v: Vec<(String, &Agg)> = p
        .by_amc
        .iter()
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, a)| (k.clone(), a))
        .collect();
    let (top, rest) = top_n(v, TOP_GROUPS, |a| a.amc);
    if top.is_empty() {
        h.push_str("<p class=\"empty\">No paid line with a complementary insurer.</p>");
    } else {
        // As for groups, the summed rest is in the table only.
        let bars: Vec<Bar> = top
            .iter()
            .map(|(k, a)| Bar {
                label: k.clone(),
                value: a.amc as f64,
                text: euros(a.amc),
                color: None,
            })
            .collect();
        h.push_str(&hbar("Complementary share by insurer", &bars, C_AMC));
    }
    let files: std::collections::HashMap<&str, &super::read::AmcFile> = d
        .amc_files
        .iter()
        .flatten()
        .map(|f| (f.file.as_str(), f))
        .collect();
    h.push_str(
        "<table><thead><tr><th>Insurer</th><th class=\"n\">Lines</th><th class=\"n\">Billed</th><th class=\"n\">AMO paid</th>\
         <th class=\"n\">AMC share</th><th class=\"n\">Share of AMC</th><th>File</th><th class=\"n\">File rows</th></tr></thead><tbody>",
    );
    let row = |h: &mut String, name: &str, a: &Agg, file: Option<&super::read::AmcFile>| {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"code\">{}</td><td class=\"n\">{}</td></tr>",
            name,
            int(a.lines as i128),
            euros(a.billed),
            euros(a.amo_paid),
            euros(a.amc),
            share(a.amc, p.amc),
            file.map(|f| esc(&format!("amc/{}", f.file)))
                .unwrap_or_else(|| "—".into()),
            file.map(|f| int(f.rows as i128))
                .unwrap_or_else(|| "—".into()),
        );
    };
    for (k, a) in &top {
        let name = format!("<span class=\"code\">{}</span>", esc(k));
        row(h, &name, a, files.get(amc_file_name(k).as_str()).copied());
    }
    if let Some((n, a)) = &rest {
        row(
            h,
            &format!(
                "<span class=\"muted\">{} other insurers</span>",
                int(*n as i128)
            ),
            a,
            None,
        );
    }
    if let Some(a) = p.by_amc.get("") {
        row(
            h,
            "<span class=\"muted\">no complementary insurer</span>",
            a,
            None,
        );
    }
    h.push_str("</tbody></table></section>");
}

fn top_acts(h: &mut String, d: &RunData) {
    let p = &d.payments;
    let _ = write!(
        h,
        "<section id=\"top-acts\"><h2>Top acts by AMO paid</h2><p class=\"note\">The {TOP_ACTS} acts with the most AMO paid: CCAM acts by code, NGAP acts by letter.</p>"
    );
    let mut v: Vec<(&str, &String, &Agg)> =
        p.ccam_acts.iter().map(|(k, a)| ("CCAM", k, a)).collect();
    v.extend(p.ngap_letters.iter().map(|(k, a)| ("NGAP", k, a)));
    v.sort_by(|a, b| {
        b.2.amo_paid
            .cmp(&a.2.amo_paid)
            .then(b.2.lines.cmp(&a.2.lines))
            .then(a.1.cmp(b.1))
    });
    v.truncate(TOP_ACTS);
    if v.is_empty() {
        h.push_str("<p class=\"empty\">No paid line.</p></section>");
        return;
    }
    let bars: Vec<Bar> = v
        .iter()
        .map(|(t, k, a)| Bar {
            label: format!("{t} {k}"),
            value: a.amo_paid as f64,
            text: euros(a.amo_paid),
            color: None,
        })
        .collect();
    h.push_str(&mixed_chart("Top acts by AMO paid", bars));
    let _ = write!(
        h,
        "<table><thead><tr><th class=\"n\">#</th><th>Type</th><th>Code</th>{AGG_HEAD}</tr></thead><tbody>"
    );
    for (i, (t, k, a)) in v.iter().enumerate() {
        let _ = write!(
            h,
            "<tr><td class=\"n\">{}</td><td>{t}</td><td class=\"code\">{}</td>",
            i + 1,
            esc(k)
        );
        agg_cells(h, a, p.amo_paid);
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></section>");
}

fn warnings(h: &mut String, s: &Summary) {
    h.push_str("<section id=\"warnings\"><h2>Warnings on paid lines</h2>");
    if s.warnings_by_code.is_empty() {
        h.push_str("<p class=\"empty\">No warning.</p></section>");
        return;
    }
    h.push_str("<p class=\"note\">Warnings leave the claim paid; counted per line (<code>summary.json</code>, <code>warnings_by_code</code>).</p><table><thead><tr><th>Code</th><th>Mnemonic</th><th>Meaning</th><th class=\"n\">Lines</th></tr></thead><tbody>");
    for (code, n) in &s.warnings_by_code {
        let (slug, text) = match Warn::from_code(code) {
            Some(w) => (w.slug(), w.text()),
            None => ("", "(code not in formats/codes.md)"),
        };
        let _ = write!(
            h,
            "<tr><td class=\"code\">{}</td><td class=\"code\">{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            esc(code),
            esc(slug),
            esc(text),
            int(*n as i128)
        );
    }
    h.push_str("</tbody></table></section>");
}
