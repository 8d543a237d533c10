//! The TSV writer of the history (the `ccam_*.tsv` tables of `formats/refs.md`).

use std::fmt::Write as _;
use std::path::Path;

use super::CcamHistory;
use super::cells::code_string;
use super::modifiers::ModAmount;

pub(crate) fn fmt_date(d: u32) -> String {
    format!("{:04}-{:02}-{:02}", d / 10000, d / 100 % 100, d % 100)
}

pub(crate) fn fmt_opt_date(d: Option<u32>) -> String {
    d.map(fmt_date).unwrap_or_default()
}

/// Cents as euros with exactly two decimals (`68727` → `687.27`).
pub(crate) fn fmt_cents(c: i64) -> String {
    let sign = if c < 0 { "-" } else { "" };
    let a = c.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

pub(crate) fn fmt_opt_cents(c: Option<i64>) -> String {
    c.map(fmt_cents).unwrap_or_default()
}

/// A cell cannot hold the TSV separators: tabs and line breaks become spaces.
pub(crate) fn cell(s: &str) -> String {
    s.replace(['\t', '\n', '\r'], " ")
}

/// Writes `ccam_acts.tsv`, `ccam_tariffs.tsv`, `ccam_modifiers_allowed.tsv`, `ccam_companions.tsv` and
/// `ccam_modifier_values.tsv`
/// into `dir` (created if needed). Output is deterministic byte for byte.
pub fn write_tsv(history: &CcamHistory, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;

    let mut s = String::from(
        "code\tvalid_from\tvalid_to\tversion\texo_tm\trc\tap\tregroupement\tcomplement\tlabel\n",
    );
    for r in &history.acts {
        let _ = writeln!(
            s,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            code_string(&r.code),
            fmt_date(r.valid_from),
            fmt_opt_date(r.valid_to),
            r.version,
            cell(&r.exo_tm),
            cell(&r.rc),
            cell(&r.ap),
            cell(&r.regroupement),
            u8::from(r.complement),
            cell(&r.label)
        );
    }
    std::fs::write(dir.join("ccam_acts.tsv"), s)?;

    let mut s = String::from(
        "code\tactivity\tphase\tvalid_from\tvalid_to\tversion\ttariff_g1\ttariff_g2\n",
    );
    for r in &history.tariffs {
        let _ = writeln!(
            s,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            code_string(&r.code),
            r.activity,
            r.phase,
            fmt_date(r.valid_from),
            fmt_opt_date(r.valid_to),
            r.version,
            fmt_opt_cents(r.tariff_g1),
            fmt_opt_cents(r.tariff_g2)
        );
    }
    std::fs::write(dir.join("ccam_tariffs.tsv"), s)?;

    let mut s = String::from("code\tactivity\tvalid_from\tvalid_to\tversion\tmodifiers\n");
    for r in &history.modifiers_allowed {
        let _ = writeln!(
            s,
            "{}\t{}\t{}\t{}\t{}\t{}",
            code_string(&r.code),
            r.activity,
            fmt_date(r.valid_from),
            fmt_opt_date(r.valid_to),
            r.version,
            cell(&r.modifiers)
        );
    }
    std::fs::write(dir.join("ccam_modifiers_allowed.tsv"), s)?;

    let mut s = String::from("code\tvalid_from\tvalid_to\tversion\tcompanions\n");
    for r in &history.companions {
        let _ = writeln!(
            s,
            "{}\t{}\t{}\t{}\t{}",
            code_string(&r.code),
            fmt_date(r.valid_from),
            fmt_opt_date(r.valid_to),
            r.version,
            cell(&r.companions)
        );
    }
    std::fs::write(dir.join("ccam_companions.tsv"), s)?;

    let mut s = String::from(
        "modifier\tgrid\tvalid_from\tvalid_to\tversion\tspecialties\tkind\tvalue\tcondition\n",
    );
    for r in &history.modifier_values {
        for (applies, amount, condition) in &r.values {
            let (kind, value) = match amount {
                ModAmount::Pct(bp) => ("pct", liquidator_core::money::fmt_pct(*bp)),
                ModAmount::Fixed(c) => ("fixed", fmt_cents(*c)),
            };
            let _ = writeln!(
                s,
                "{}\t{}\t{}\t{}\t{}\t{}\t{kind}\t{value}\t{}",
                r.modifier as char,
                r.grid,
                fmt_date(r.valid_from),
                fmt_opt_date(r.valid_to),
                r.version,
                applies.to_cell(),
                cell(condition)
            );
        }
    }
    std::fs::write(dir.join("ccam_modifier_values.tsv"), s)?;
    Ok(())
}
