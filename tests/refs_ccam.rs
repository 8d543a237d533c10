//! Issue #3: the three official CCAM exports load into one dated history; `refs lookup` returns, for an
//! act and a date, exactly the tariff printed in the official file of the version in force; boundaries
//! (2025-02-01, 2026-01-01) are inclusive for the new version.

use liquidator_ccam::build::{build, lookup};
use liquidator_core::date::Date;
use liquidator_core::refs::Refs;
use std::path::PathBuf;
use std::sync::OnceLock;

fn full_set() -> &'static (PathBuf, Refs) {
    static S: OnceLock<(PathBuf, Refs)> = OnceLock::new();
    S.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/ccam");
        let out = std::env::temp_dir().join(format!("liquidator-fullrefs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let files: Vec<(PathBuf, Option<Date>)> = [
            "ccam_v67_applicable_2021-04-26.csv",
            "ccam_v78_applicable_2025-02-01.csv",
            "ccam_v81_applicable_2026-01-01.csv",
        ]
        .iter()
        .map(|f| (root.join(f), None))
        .collect();
        build(&files, None, None, &out).expect("refs build");
        let refs = Refs::load(&out).expect("full set loads");
        (out, refs)
    })
}

fn tariff(code: &str, date: u32, activity: u8, grid: u8) -> Result<String, String> {
    let (dir, refs) = full_set();
    let v = lookup(
        refs,
        dir,
        code,
        Date(date),
        Some(activity),
        Some(0),
        Some(grid),
    )?;
    Ok(v["activities"][0]["tariffs"][grid.to_string()]
        .as_str()
        .unwrap_or("null")
        .to_string())
}

#[test]
fn tariffs_follow_the_version_in_force_with_inclusive_boundaries() {
    // BGQP002 (official files): v67 28.289999999999999, v78 28.68, v81 29.07
    assert_eq!(tariff("BGQP002", 20250131, 1, 1).unwrap(), "28.29");
    assert_eq!(tariff("BGQP002", 20250201, 1, 1).unwrap(), "28.68");
    assert_eq!(tariff("BGQP002", 20251231, 1, 1).unwrap(), "28.68");
    assert_eq!(tariff("BGQP002", 20260101, 1, 1).unwrap(), "29.07");
    // HBGD036: v67 33.439999999999998 (rounded to the cent), v78 and v81 39.00
    assert_eq!(tariff("HBGD036", 20250131, 1, 1).unwrap(), "33.44");
    assert_eq!(tariff("HBGD036", 20250201, 1, 2).unwrap(), "39.00");
    // AHQB024 v81: 67.05 (grid 1) / 60.66 (grid 2)
    assert_eq!(tariff("AHQB024", 20260302, 1, 1).unwrap(), "67.05");
    assert_eq!(tariff("AHQB024", 20260302, 1, 2).unwrap(), "60.66");
    // NFKA007 anaesthesia (activity 4) v81 224.72; activity 1 v67 578.54 / 555.00
    assert_eq!(tariff("NFKA007", 20260302, 4, 1).unwrap(), "224.72");
    assert_eq!(tariff("NFKA007", 20240101, 1, 1).unwrap(), "578.54");
    assert_eq!(tariff("NFKA007", 20240101, 1, 2).unwrap(), "555.00");
    // EBQM001 decreased in v81: 69.93 → 67.31
    assert_eq!(tariff("EBQM001", 20251231, 1, 1).unwrap(), "69.93");
    assert_eq!(tariff("EBQM001", 20260101, 1, 1).unwrap(), "67.31");
}

#[test]
fn acts_appear_and_disappear_at_their_version_dates() {
    // YYYY600 is in v78, not in v81; AANB256 appears in v81; nothing exists before v67's date.
    assert_eq!(tariff("YYYY600", 20251231, 1, 1).unwrap(), "0.75");
    assert!(
        tariff("YYYY600", 20260101, 1, 1)
            .unwrap_err()
            .contains("not valid on 2026-01-01")
    );
    assert!(
        tariff("AANB256", 20251231, 1, 1)
            .unwrap_err()
            .contains("not valid")
    );
    assert_eq!(tariff("AANB256", 20260101, 1, 1).unwrap(), "957.01");
    assert!(tariff("BGQP002", 20210425, 1, 1).is_err());
    assert!(
        tariff("ZZZZ999", 20260101, 1, 1)
            .unwrap_err()
            .contains("unknown")
    );
}

#[test]
fn lookup_shows_version_label_modifiers_exo_tm_and_regroupement() {
    let (dir, refs) = full_set();
    let v = lookup(refs, dir, "HBGD036", Date(20260302), None, None, None).unwrap();
    assert_eq!(v["ccam_version_in_force"], 81);
    assert_eq!(v["regroupement"], "ASC");
    assert_eq!(v["exo_tm"], "1-7");
    assert_eq!(v["activities"][0]["modifiers"], "FU");
    assert!(
        v["label"]
            .as_str()
            .unwrap()
            .starts_with("Avulsion d'1 dent permanente")
    );
    assert_eq!(
        v["companions"],
        serde_json::json!(["ZZLP025", "HBQK061", "YYYY614"])
    );
    let v = lookup(refs, dir, "HBGD036", Date(20250131), None, None, None).unwrap();
    assert_eq!(v["ccam_version_in_force"], 67);
    assert_eq!(v["regroupement"], "ADC"); // v67 regroupement
}

#[test]
fn full_history_has_every_version_and_thousands_of_acts() {
    let (_, refs) = full_set();
    assert!(refs.acts.len() > 8_200, "{}", refs.acts.len());
    assert!(refs.tariffs.values().map(|h| h.rows().len()).sum::<usize>() > 30_000);
}
