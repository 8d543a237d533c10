//! `liquidator refs diff OLD NEW [--claims FILE]`: what changed between two reference sets, by key and
//! period, and — given a claims file — how many claims and how much money the change touches (a dry run
//! of `reprocess`, using the same comparison).

use crate::date::{Date, Period};
use crate::money::fmt_euros;
use crate::refs::{History, Refs};
use serde::Serialize;
use std::hash::Hash;
use std::path::Path;

/// One changed value over a period `[from, to)`; `old`/`new` are `None` where the key does not exist.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub table: &'static str,
    pub key: String,
    pub from: String,
    pub to: Option<String>,
    pub old: Option<String>,
    pub new: Option<String>,
}

#[derive(Serialize, Default, Debug)]
pub struct DiffReport {
    pub changes: Vec<Change>,
    pub tariffs_changed: u64,
    pub acts_added: u64,
    pub acts_removed: u64,
    /// With `--claims`: claims whose outcome differs, and the AMO / AMC money they move.
    pub claims: Option<ClaimsImpact>,
}

#[derive(Serialize, Debug)]
pub struct ClaimsImpact {
    pub claims_compared: u64,
    pub claims_changed: u64,
    pub newly_paid: u64,
    pub newly_rejected: u64,
    pub amo_delta_cents: i64,
    pub amc_delta_cents: i64,
}

/// The intervals where two histories of one key differ, merged when consecutive with the same values.
fn diff_history<V, F>(
    old: Option<&History<V>>,
    new: Option<&History<V>>,
    show: F,
) -> Vec<(Period, Option<String>, Option<String>)>
where
    F: Fn(&V) -> String,
{
    let mut bounds: Vec<Date> = Vec::new();
    for h in [old, new].into_iter().flatten() {
        for (p, _) in h.rows() {
            bounds.push(p.from);
            bounds.push(p.to);
        }
    }
    bounds.sort();
    bounds.dedup();
    let at = |h: Option<&History<V>>, d: Date| h.and_then(|h| h.value_at(d)).map(&show);
    let mut out: Vec<(Period, Option<String>, Option<String>)> = Vec::new();
    for w in bounds.windows(2) {
        let (o, n) = (at(old, w[0]), at(new, w[0]));
        if o == n {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.0.to == w[0] && last.1 == o && last.2 == n => last.0.to = w[1],
            _ => out.push((
                Period {
                    from: w[0],
                    to: w[1],
                },
                o,
                n,
            )),
        }
    }
    out
}

fn table_diff<K, V, F>(
    report: &mut DiffReport,
    table: &'static str,
    old: &rustc_hash::FxHashMap<K, History<V>>,
    new: &rustc_hash::FxHashMap<K, History<V>>,
    key: impl Fn(&K) -> String,
    show: F,
) where
    K: Hash + Eq + Ord + Clone,
    F: Fn(&V) -> String + Copy,
{
    let mut keys: Vec<&K> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        for (p, o, n) in diff_history(old.get(k), new.get(k), show) {
            report.changes.push(Change {
                table,
                key: key(k),
                from: p.from.to_string(),
                to: (p.to != Date::MAX).then(|| p.to.to_string()),
                old: o,
                new: n,
            });
        }
    }
}

fn code(c: &[u8]) -> String {
    String::from_utf8_lossy(c).trim_end().to_string()
}

/// Compares the dated tables of two reference sets.
pub fn diff(old: &Refs, new: &Refs) -> DiffReport {
    let mut r = DiffReport::default();
    table_diff(
        &mut r,
        "ccam_acts",
        &old.acts,
        &new.acts,
        |k| code(k),
        |a| {
            format!(
                "v{} {}",
                a.version,
                a.label.chars().take(60).collect::<String>()
            )
        },
    );
    for c in &r.changes {
        match (&c.old, &c.new) {
            (None, Some(_)) => r.acts_added += 1,
            (Some(_), None) => r.acts_removed += 1,
            _ => {}
        }
    }
    let n0 = r.changes.len();
    table_diff(
        &mut r,
        "ccam_tariffs",
        &old.tariffs,
        &new.tariffs,
        |k| format!("{}-{}-{}", code(&k.0), k.1, k.2),
        |t| {
            format!(
                "g1 {} g2 {}",
                t.g1.map(fmt_euros).unwrap_or_else(|| "-".into()),
                t.g2.map(fmt_euros).unwrap_or_else(|| "-".into())
            )
        },
    );
    r.tariffs_changed = (r.changes.len() - n0) as u64;
    table_diff(
        &mut r,
        "ccam_modifiers_allowed",
        &old.allowed_mods,
        &new.allowed_mods,
        |k| format!("{}-{}", code(&k.0), k.1),
        |m| m.set.to_string(),
    );
    table_diff(
        &mut r,
        "modifiers",
        &old.modifiers,
        &new.modifiers,
        |k| format!("{} grid {}", k.0 as char, k.1),
        |m| format!("{:?} {:?}", m.unit, m.value),
    );
    table_diff(
        &mut r,
        "ngap_letters",
        &old.ngap,
        &new.ngap,
        |k| format!("{} grid {}", code(&k.0), k.1),
        |v| fmt_euros(v.value),
    );
    table_diff(
        &mut r,
        "parameters",
        &old.params,
        &new.params,
        |k| k.name().to_string(),
        |v| v.to_string(),
    );
    table_diff(
        &mut r,
        "association_codes",
        &old.assoc,
        &new.assoc,
        |k| k.to_string(),
        |v| v.to_string(),
    );
    r
}

/// Liquidates `claims` with both sets, in memory (typed outcomes collected by a sink, no file
/// written), and compares the outcomes with the comparison `reprocess` uses.
pub fn claims_impact(old: &Refs, new: &Refs, claims: &Path) -> Result<ClaimsImpact, String> {
    let data = crate::engine::map_file(claims).map_err(|e| e.to_string())?;
    let opts = crate::engine::Options::default();
    let liquidate = |refs: &Refs| -> Result<_, String> {
        let mut sink = crate::reprocess::compare::CollectSink::default();
        crate::engine::process(&data, refs, &opts, &mut [&mut sink]).map_err(|e| e.to_string())?;
        Ok(sink.claims())
    };
    let (a, b) = (liquidate(old)?, liquidate(new)?);
    let res =
        crate::reprocess::compare::compare(&a, &b, "old reference set").map_err(|e| e.to_string());
    let c = res?;
    Ok(ClaimsImpact {
        claims_compared: c.claims_compared,
        claims_changed: c.claims_changed,
        newly_paid: c.newly_paid,
        newly_rejected: c.newly_rejected,
        amo_delta_cents: c.amo_delta,
        amc_delta_cents: c.amc_delta,
    })
}

impl DiffReport {
    pub fn to_text(&self) -> String {
        let mut o = format!(
            "{} changes: {} tariff periods, {} acts added, {} acts removed\n",
            self.changes.len(),
            self.tariffs_changed,
            self.acts_added,
            self.acts_removed
        );
        for c in self.changes.iter().take(200) {
            o.push_str(&format!(
                "{:<24} {:<16} {}..{}: {} -> {}\n",
                c.table,
                c.key,
                c.from,
                c.to.clone().unwrap_or_default(),
                c.old.clone().unwrap_or_else(|| "(none)".into()),
                c.new.clone().unwrap_or_else(|| "(none)".into())
            ));
        }
        if self.changes.len() > 200 {
            o.push_str(&format!(
                "… {} more (use --json)\n",
                self.changes.len() - 200
            ));
        }
        if let Some(c) = &self.claims {
            o.push_str(&format!(
                "claims: {} compared, {} changed ({} newly paid, {} newly rejected), AMO delta {} €, AMC delta {} €\n",
                c.claims_compared,
                c.claims_changed,
                c.newly_paid,
                c.newly_rejected,
                fmt_euros(c.amo_delta_cents),
                fmt_euros(c.amc_delta_cents)
            ));
        }
        o
    }
}
