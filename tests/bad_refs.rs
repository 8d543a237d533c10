//! Issue #7: reference tables with errors are refused at load with `file:line:column` and the reason.

mod common;
use common::*;
use liquidator_core::refs::Refs;

/// Loads the mini set with one table edited; returns the error text.
fn refused(file: &str, edit: impl FnOnce(String) -> String) -> String {
    let dir = mini_refs_dir("badrefs");
    let p = dir.join(file);
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, edit(text)).unwrap();
    let e = Refs::load(&dir)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    e
}

#[test]
fn impossible_date_is_refused_with_its_position() {
    let e = refused("ccam_tariffs.tsv", |t| {
        t.replacen("LAQK013\t1\t0\t2021-04-26", "LAQK013\t1\t0\t2021-02-30", 1)
    });
    assert!(
        e.starts_with("ccam_tariffs.tsv:2:13: valid_from: bad date `2021-02-30`"),
        "{e}"
    );
}

#[test]
fn overlapping_periods_for_one_key_are_refused() {
    let e = refused("ccam_tariffs.tsv", |t| {
        t + "BGQP002\t1\t0\t2025-06-01\t2025-07-01\t78\t1.00\t1.00\n"
    });
    assert!(
        e.contains("ccam_tariffs.tsv:") && e.contains("overlaps"),
        "{e}"
    );
}

#[test]
fn unknown_grid_negative_tariff_duplicate_key_and_missing_column_are_refused() {
    let e = refused("modifiers.tsv", |t| t.replacen("Z\t1\t", "Z\t7\t", 1));
    assert!(
        e.starts_with("modifiers.tsv:2:3: grid: unknown grid `7`"),
        "{e}"
    );
    let e = refused("ccam_tariffs.tsv", |t| {
        t.replacen("\t25.27\t25.27", "\t-25.27\t25.27", 1)
    });
    assert!(
        e.starts_with("ccam_tariffs.tsv:2:") && e.contains("negative amount"),
        "{e}"
    );
    let e = refused("specialties.tsv", |t| t + "01\t1\t1\tDUPLICATE\n");
    assert!(
        e.contains("specialties.tsv:") && e.contains("duplicate specialty"),
        "{e}"
    );
    let e = refused("practitioners.tsv", |t| t.replacen("optam", "optim", 1));
    assert!(
        e.contains("practitioners.tsv:1:1: missing column `optam`"),
        "{e}"
    );
    let e = refused("beneficiaries.tsv", |t| {
        t.replacen("2019-01-01\t\t01", "2019-01-01\t2018-01-01\t01", 1)
    });
    assert!(
        e.starts_with("beneficiaries.tsv:2:") && e.contains("not after"),
        "{e}"
    );
}
