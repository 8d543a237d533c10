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
        let out = crate::common::process_scratch("fullrefs").join("refs");
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

/// Value of modifier `m` for `specialty` on grid `g` and date `d` (amount added to a unit price `pu`).
fn majoration(m: u8, g: u8, d: u32, specialty: u8, pu: i64) -> i64 {
    use liquidator_core::refs::ModKind;
    let (_, refs) = full_set();
    match refs
        .modifier_value(m, g, Date(d), specialty)
        .expect("modifier has a value")
        .kind
    {
        ModKind::Pct(bp) => liquidator_core::money::pct(pu, bp),
        ModKind::Fixed(c) => c,
    }
}

#[test]
fn official_modifier_values_by_version_grid_and_specialty() {
    // ZBQK002 chest X-ray, 21.28 € in v67/v78/v81. Z: v67 and v78 `+15,9%`, v81 `+13,00%`.
    // 21.28 × 15.9 % = 3.38352 → 3.38; 21.28 × 13 % = 2.7664 → 2.77 (half-up).
    assert_eq!(tariff("ZBQK002", 20250131, 1, 1).unwrap(), "21.28");
    assert_eq!(majoration(b'Z', 1, 20250131, 6, 2128), 338);
    assert_eq!(majoration(b'Z', 1, 20250201, 6, 2128), 338);
    assert_eq!(majoration(b'Z', 1, 20251231, 6, 2128), 338);
    assert_eq!(majoration(b'Z', 1, 20260101, 6, 2128), 277);
    // Y: v67/v78 `+15,80%` → 3.36224 → 3.36; v81 `+13,00%` → 2.77.
    assert_eq!(majoration(b'Y', 2, 20250131, 13, 2128), 336);
    assert_eq!(majoration(b'Y', 2, 20260101, 13, 2128), 277);
    // B: v81 grid 1 cell `0.49` (a fraction), grid 2 `+49%`: both +49 %. 21.28 × 49 % = 10.4272 → 10.43.
    assert_eq!(majoration(b'B', 1, 20260101, 6, 2128), 1043);
    assert_eq!(majoration(b'B', 2, 20260101, 6, 2128), 1043);
    // Fixed amounts, v81: U 25.15 € by default, 50.00 € for surgeons (04), obstetricians (07),
    // anaesthetists (02); a GP (01) keeps the default (the `A l'exclusion de` list is not enforced).
    assert_eq!(majoration(b'U', 1, 20260101, 4, 3900), 5000);
    assert_eq!(majoration(b'U', 1, 20260101, 7, 3900), 5000);
    assert_eq!(majoration(b'U', 2, 20260101, 2, 3900), 5000);
    assert_eq!(majoration(b'U', 1, 20260101, 1, 3900), 2515);
    // F 19.06 € / 40.00 € (surgeons, obstetricians, anaesthetists, paediatricians 12).
    assert_eq!(majoration(b'F', 1, 20260101, 1, 3900), 1906);
    assert_eq!(majoration(b'F', 1, 20260101, 12, 3900), 4000);
    // P 35.00 € / 50.00 € (paediatricians); S 40.00 € / 80.00 €; A 23.00 €, M 26.88 €.
    assert_eq!(majoration(b'P', 1, 20260101, 1, 0), 3500);
    assert_eq!(majoration(b'P', 1, 20260101, 12, 0), 5000);
    assert_eq!(majoration(b'S', 1, 20260101, 1, 0), 4000);
    assert_eq!(majoration(b'S', 1, 20260101, 41, 0), 8000);
    assert_eq!(majoration(b'A', 1, 20260101, 2, 0), 2300);
    assert_eq!(majoration(b'M', 1, 20260101, 1, 0), 2688);
    // Percentages on YYYY066 (171.45 € in v81): 7 +6 % → 10.287 → 10.29; J +6.50 % → 11.14425 → 11.14.
    assert_eq!(majoration(b'7', 1, 20260101, 2, 17145), 1029);
    assert_eq!(majoration(b'J', 1, 20260101, 4, 17145), 1114);
    // K: v67 +20 % for all; v78 +25 % for surgeons; v81 +30 % (grid 1) / +25 % (grid 2) for surgeons,
    // +20 % by default. 171.45 × 20 % = 34.29; × 25 % = 42.8625 → 42.86; × 30 % = 51.435 → 51.44.
    assert_eq!(majoration(b'K', 1, 20250131, 4, 17145), 3429);
    assert_eq!(majoration(b'K', 1, 20250201, 4, 17145), 4286);
    assert_eq!(majoration(b'K', 1, 20260101, 4, 17145), 5144);
    assert_eq!(majoration(b'K', 2, 20260101, 4, 17145), 4286);
    assert_eq!(majoration(b'K', 1, 20260101, 1, 17145), 3429);
    // T: v67 +11,50 %, v78 +16,5 %, v81 `21,5%` (grid 1) / `+16,5%` (grid 2).
    assert_eq!(majoration(b'T', 1, 20250131, 4, 10000), 1150);
    assert_eq!(majoration(b'T', 1, 20250201, 4, 10000), 1650);
    assert_eq!(majoration(b'T', 1, 20260101, 4, 10000), 2150);
    assert_eq!(majoration(b'T', 2, 20260101, 4, 10000), 1650);
    // 9 is defined from v78 (`0.29999999999999999` = +30 %); nothing before.
    assert_eq!(majoration(b'9', 1, 20250201, 0, 10000), 3000);
    let (_, refs) = full_set();
    assert!(refs.modifier_value(b'9', 1, Date(20250131), 0).is_none());
}

#[test]
fn lookup_shows_modifier_values() {
    let (dir, refs) = full_set();
    let v = lookup(refs, dir, "HBGD036", Date(20260302), None, None, Some(1)).unwrap();
    let u = &v["activities"][0]["modifier_values"]["U"]["1"];
    assert_eq!(u[0]["specialties"], "*");
    assert_eq!(u[0]["value"], "25.15 €");
    assert_eq!(u[1]["value"], "50.00 €");
    assert!(u[1]["specialties"].as_str().unwrap().contains("04"));
}

/// `refs lookup` shows, for an activity without a modifier list of its own, the list the engine
/// prices it with — activity 1's (`Refs::allowed_mods_of`): NFKA007's anaesthesia (activity 4) in
/// v81, whose export lists modifiers under activity 1 only. The lookup showed none before (its own
/// copy of the lookup lacked the fallback), and so no modifier values either.
#[test]
fn lookup_shows_the_modifiers_the_engine_allows_an_activity_without_a_list_of_its_own() {
    let (dir, refs) = full_set();
    let d = Date(20260302);
    let engine = refs
        .ccam_pricing(*b"NFKA007", 4, 0, d)
        .and_then(|p| p.allowed)
        .map(|s| s.to_string());
    assert_eq!(engine.as_deref(), Some("AJKT3457"), "activity 1's list");
    let v = lookup(refs, dir, "NFKA007", d, Some(4), Some(0), Some(1)).unwrap();
    let a = &v["activities"][0];
    assert_eq!(a["activity"], 4);
    assert_eq!(a["modifiers"].as_str(), engine.as_deref());
    assert!(a["modifier_values"]["J"]["1"].is_array(), "{a}");
}
