//! Issue #7: reference tables with errors are refused at load with `file:line:column` and the reason.

use crate::common;
use common::*;
use liquidator_core::refs::Refs;

/// Loads the mini set with one table edited; returns the error text.
fn refused(file: &str, edit: impl FnOnce(String) -> String) -> String {
    let guard = mini_refs_tempdir("badrefs");
    let dir = guard.path();
    let p = dir.join(file);
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, edit(text)).unwrap();
    Refs::load(dir)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
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
    let e = refused("specialties.tsv", |t| {
        t + "01\t1\tphysician\t0\t\tDUPLICATE\n"
    });
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

/// Issue "missing parameters": the rules have no fallback value, so the set must give every parameter
/// (and every profession's default rate) on every date it can price an act — the mini set prices from
/// 2021-04-26 (first CCAM tariff). The old loader only checked that each name appeared once somewhere:
/// it loaded the second and third sets below and the rules fell back to hard-coded values.
#[test]
fn a_parameter_missing_on_some_date_is_refused_naming_the_file_and_the_key() {
    // Absent altogether.
    let e = refused("parameters.tsv", |t| {
        t.lines()
            .filter(|l| !l.starts_with("pf_yearly_cap\t"))
            .map(|l| format!("{l}\n"))
            .collect()
    });
    assert!(
        e.starts_with("parameters.tsv:1:1: parameter `pf_yearly_cap` missing"),
        "{e}"
    );
    // Ends: no value after 2025-01-01 (the old rules then skipped the participation forfaitaire).
    let e = refused("parameters.tsv", |t| {
        t.replacen(
            "pf_amount\t2024-05-15\t\t2",
            "pf_amount\t2024-05-15\t2025-01-01\t2",
            1,
        )
    });
    assert!(
        e.starts_with("parameters.tsv:6:1: parameter `pf_amount` has no value from 2025-01-01"),
        "{e}"
    );
    // Starts after the first priced date (the old rules then used a hard-coded 30 %).
    let e = refused("parameters.tsv", |t| {
        t.replacen(
            "rate_out_of_pathway\t2019-01-01",
            "rate_out_of_pathway\t2022-01-01",
            1,
        )
    });
    assert!(
        e.starts_with("parameters.tsv:")
            && e.contains("parameter `rate_out_of_pathway` starts on 2022-01-01 but the set prices acts from 2021-04-26"),
        "{e}"
    );
    // A profession of specialties.tsv without a default rate.
    let e = refused("rates.tsv", |t| {
        t.lines()
            .filter(|l| !l.starts_with("nurse\t"))
            .map(|l| format!("{l}\n"))
            .collect()
    });
    assert!(
        e.starts_with("rates.tsv:1:1: the default rate of profession `nurse` missing"),
        "{e}"
    );
    // No rates table at all.
    let guard = mini_refs_tempdir("norates");
    std::fs::remove_file(guard.path().join("rates.tsv")).unwrap();
    let e = Refs::load(guard.path())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("rates.tsv:0:0: cannot read"), "{e}");
}

/// An insurer number names its output file (`amc/<AMC>.tsv`): one with other characters than letters
/// and digits could share a file with another insurer (`AB-1` and `AB_1`), and `C2S` is the C2S file.
#[test]
fn insurer_numbers_that_could_share_an_output_file_are_refused() {
    for bad in ["AB-1      ", "C2S       "] {
        let e = refused("amc.tsv", |t| {
            t + &format!("{bad}\t01\t2020-01-01\t\t100\tbad\n")
        });
        assert!(
            e.starts_with("amc.tsv:") && e.contains("insurer number must be letters and digits"),
            "{bad}: {e}"
        );
    }
}
