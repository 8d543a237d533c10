//! "Conservation checks": the identities `summary.json` states, recomputed from its figures, and the
//! aggregates the run computed independently from the typed outcomes (`report_data.json`) compared
//! with `summary.json` (an edited or mismatched file shows up here).

use crate::report::RunData;
use crate::report::fmt::{euros, int, signed_euros, signed_int};
use maud::{Markup, html};

/// One conservation check as shown in the page.
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
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

/// Every check, in display order.
pub fn checks(d: &RunData) -> Vec<Check> {
    let s = &d.summary;
    let p = &d.data.paid;
    let r = &d.data.rejections;
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
    let mut push = |name: &str, ok: bool, detail: String| {
        v.push(Check {
            name: name.into(),
            ok,
            detail,
        })
    };

    let ok = i(s.claims_read) == i(s.claims_paid) + i(s.claims_rejected);
    push(
        "Claims read = paid + rejected",
        ok && s.conservation.claims,
        format!(
            "{} = {} + {}{}",
            int(i(s.claims_read)),
            int(i(s.claims_paid)),
            int(i(s.claims_rejected)),
            flag(s.conservation.claims)
        ),
    );
    let ok = i(s.lines_read) == i(s.lines_paid) + i(s.lines_rejected);
    push(
        "Lines read = paid + rejected",
        ok && s.conservation.lines,
        format!(
            "{} = {} + {}{}",
            int(i(s.lines_read)),
            int(i(s.lines_paid)),
            int(i(s.lines_rejected)),
            flag(s.conservation.lines)
        ),
    );
    let ok = c(s.billed_cents) == c(s.paid_billed_cents) + c(s.rejected_billed_cents);
    push(
        "Billed = billed on paid claims + billed on rejected claims",
        ok && s.conservation.billed,
        format!(
            "{} = {} + {}{}",
            euros(c(s.billed_cents)),
            euros(c(s.paid_billed_cents)),
            euros(c(s.rejected_billed_cents)),
            flag(s.conservation.billed)
        ),
    );
    let ok = c(s.paid_billed_cents) == c(s.amo_paid_cents) + c(s.amc_cents) + c(s.patient_cents);
    push(
        "Billed on paid claims = AMO + AMC + patient",
        ok && s.conservation.paid_split,
        format!(
            "{} = {} + {} + {}{}",
            euros(c(s.paid_billed_cents)),
            euros(c(s.amo_paid_cents)),
            euros(c(s.amc_cents)),
            euros(c(s.patient_cents)),
            flag(s.conservation.paid_split)
        ),
    );
    let sum: i128 = s.rejections_by_code.values().map(|&n| i(n)).sum();
    push(
        "Rejections by reason add up to the rejected claims",
        sum == i(s.claims_rejected) && s.conservation.rejections,
        format!(
            "{} = {}{}",
            int(sum),
            int(i(s.claims_rejected)),
            flag(s.conservation.rejections)
        ),
    );

    push(
        "Paid lines aggregated during the run = lines paid",
        p.lines == s.lines_paid,
        eq_detail(
            "aggregated vs summary.json",
            i(p.lines),
            i(s.lines_paid),
            false,
        ),
    );
    push(
        "Paid claims aggregated during the run = claims paid",
        p.claims == s.claims_paid,
        eq_detail(
            "aggregated vs summary.json",
            i(p.claims),
            i(s.claims_paid),
            false,
        ),
    );
    let pairs = [
        ("billed", p.billed, s.paid_billed_cents),
        ("base", p.base, s.base_cents),
        ("AMO gross", p.amo_gross, s.amo_gross_cents),
        ("AMO paid", p.amo_paid, s.amo_paid_cents),
        ("AMC", p.amc, s.amc_cents),
        ("patient", p.patient, s.patient_cents),
        ("participations", p.participation, s.participations_cents),
        ("franchises", p.franchise, s.franchises_cents),
        ("heavy forfaits", p.heavy_forfait, s.heavy_forfait_cents),
        ("excess", p.excess, s.excess_cents),
    ];
    let bad: Vec<String> = pairs
        .iter()
        .filter(|(_, a, b)| a != b)
        .map(|(n, a, b)| eq_detail(n, c(*a), c(*b), true))
        .collect();
    push(
        "Amounts of the paid lines add up to summary.json",
        bad.is_empty(),
        if bad.is_empty() {
            format!("{} totals agree", pairs.len())
        } else {
            bad.join("; ")
        },
    );
    push(
        "Every paid line splits exactly",
        p.split_errors == 0,
        match p.first_split_error {
            None => "billed = AMO paid + AMC + patient, base = AMO gross + ticket, AMO gross = AMO paid + participation + franchise on every line".into(),
            Some(l) => format!(
                "{} lines do not split, first: claim {:09} line {} (claims file line {})",
                int(i(p.split_errors)),
                l.claim,
                l.line,
                l.input_line
            ),
        },
    );
    // Every partition of the paid lines adds up to the same totals.
    let parts = [
        ("NGAP letters + CCAM regroupements", {
            let mut a = crate::report::data::Agg::default();
            d.data
                .ngap_letters
                .values()
                .chain(d.data.ccam_groups.values())
                .for_each(|x| a.merge(x));
            a
        }),
        ("CCAM acts + NGAP letters", {
            let mut a = crate::report::data::Agg::default();
            d.data.ccam_acts.values().for_each(|x| a.merge(x));
            d.data.ngap_letters.values().for_each(|x| a.merge(x));
            a
        }),
        ("complementary insurers", {
            let mut a = crate::report::data::Agg::default();
            d.data.by_amc.values().for_each(|x| a.merge(x));
            a
        }),
    ];
    let bad: Vec<String> = parts
        .iter()
        .filter(|(_, a)| a.lines != p.lines || a.amo_paid != p.amo_paid || a.billed != p.billed)
        .map(|(n, a)| {
            format!(
                "{n}: {}; {}",
                eq_detail("lines", i(a.lines), i(p.lines), false),
                eq_detail("AMO paid", c(a.amo_paid), c(p.amo_paid), true)
            )
        })
        .collect();
    push(
        "Groups, acts and insurers add up to the paid lines",
        bad.is_empty(),
        if bad.is_empty() {
            format!("{} partitions agree", parts.len())
        } else {
            bad.join("; ")
        },
    );
    let ps = d.data.by_payee.get("PS").map(|a| a.amo_paid).unwrap_or(0);
    let assure = d
        .data
        .by_payee
        .get("ASSURE")
        .map(|a| a.amo_paid)
        .unwrap_or(0);
    let others: Vec<&str> = d
        .data
        .by_payee
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "PS" && *k != "ASSURE")
        .collect();
    push(
        "AMO paid by payee agrees with summary.json",
        ps == s.amo_to_practitioners_cents && assure == s.amo_to_insured_cents && others.is_empty(),
        format!(
            "{}; {}{}",
            eq_detail("PS", c(ps), c(s.amo_to_practitioners_cents), true),
            eq_detail("ASSURE", c(assure), c(s.amo_to_insured_cents), true),
            if others.is_empty() {
                String::new()
            } else {
                format!("; unknown payee kinds: {}", others.join(", "))
            }
        ),
    );

    let code_diffs = by_code_diffs(&r.by_code, &s.rejections_by_code);
    push(
        "Rejected claims by reason agree with summary.json",
        r.claims == s.claims_rejected && code_diffs.is_empty(),
        if code_diffs.is_empty() {
            eq_detail(
                "aggregated vs summary.json",
                i(r.claims),
                i(s.claims_rejected),
                false,
            )
        } else {
            code_diffs.join("; ")
        },
    );
    let line_diffs = by_code_diffs(&r.lines_by_code, &s.line_rejections_by_code);
    push(
        "Lines rejected on their own, by reason, agree with summary.json",
        r.lines == s.line_rejections && line_diffs.is_empty(),
        if line_diffs.is_empty() {
            eq_detail(
                "aggregated vs summary.json",
                i(r.lines),
                i(s.line_rejections),
                false,
            )
        } else {
            line_diffs.join("; ")
        },
    );
    push(
        "Billed on rejected claims and lines agrees with summary.json",
        c(r.billed) + c(r.lines_billed) == c(s.rejected_billed_cents),
        eq_detail(
            "aggregated (claims + lines) vs summary.json",
            c(r.billed) + c(r.lines_billed),
            c(s.rejected_billed_cents),
            true,
        ),
    );
    push(
        "Records outside claims (R002)",
        r.orphans == s.orphan_records && r.orphan_billed == s.orphan_billed_cents,
        format!(
            "{}; {}",
            eq_detail("records", i(r.orphans), i(s.orphan_records), false),
            eq_detail("billed", c(r.orphan_billed), c(s.orphan_billed_cents), true)
        ),
    );
    let files = &d.data.amc_files;
    let total: i128 = files.values().map(|f| c(f.amc_total)).sum();
    push(
        "amc/: one file per insurer, shares add up to AMC",
        files.len() as u64 == s.amc_files && total == c(s.amc_cents),
        format!(
            "{}; {}",
            eq_detail("files", files.len() as i128, i(s.amc_files), false),
            eq_detail("Σ amc_total vs AMC", total, c(s.amc_cents), true)
        ),
    );
    let ok = c(s.debts_opening_cents) + c(s.debts_created_cents)
        == c(s.recovered_cents) + c(s.debts_open_cents);
    push(
        "Debts: opening + created = recovered + open",
        ok && s.conservation.debts,
        format!(
            "{} + {} = {} + {}{}",
            euros(c(s.debts_opening_cents)),
            euros(c(s.debts_created_cents)),
            euros(c(s.recovered_cents)),
            euros(c(s.debts_open_cents)),
            flag(s.conservation.debts)
        ),
    );
    let ok = c(s.amo_paid_cents) - c(s.recovered_cents)
        == c(s.payment_orders_cents) + c(s.payments_held_cents);
    push(
        "AMO owed − recovered = transferred + held",
        ok && s.conservation.payment_orders,
        format!(
            "{} − {} = {} + {}{}",
            euros(c(s.amo_paid_cents)),
            euros(c(s.recovered_cents)),
            euros(c(s.payment_orders_cents)),
            euros(c(s.payments_held_cents)),
            flag(s.conservation.payment_orders)
        ),
    );
    v
}

pub(super) fn section(checks: &[Check]) -> Markup {
    html! {
        section #checks {
            h2 { "Conservation checks" }
            p.note {
                "What " code { "summary.json" } " proves, and the aggregates the run computed \
                 independently from the liquidated claims (" code { "report_data.json" } ") compared with it."
            }
            table.checks {
                thead { tr { th { "Status" } th { "Check" } th { "Detail" } } }
                tbody {
                    @for c in checks {
                        tr {
                            td {
                                @if c.ok { span.ok { "✓ OK" } } @else { span.ko { "✗ FAILED" } }
                            }
                            td { (c.name) }
                            td { (c.detail) }
                        }
                    }
                }
            }
        }
    }
}

/// The codes whose count differs between the report's aggregates and `summary.json`, in code order.
fn by_code_diffs(
    aggregated: &std::collections::BTreeMap<String, crate::report::data::Reason>,
    summary: &std::collections::BTreeMap<String, u64>,
) -> Vec<String> {
    let codes: std::collections::BTreeSet<&String> =
        aggregated.keys().chain(summary.keys()).collect();
    codes
        .into_iter()
        .filter_map(|code| {
            let a = aggregated.get(code).map(|x| x.count).unwrap_or(0);
            let b = summary.get(code).copied().unwrap_or(0);
            (a != b).then(|| {
                format!(
                    "{code}: {} aggregated, {} in summary.json",
                    int(i128::from(a)),
                    int(i128::from(b))
                )
            })
        })
        .collect()
}
