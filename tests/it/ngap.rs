//! NGAP letters and majorations priced from the real table (`fixtures/tables/ngap_letters.tsv`) on the
//! mini reference set's parties. Every amount is computed by hand in the comments: unit price =
//! letter value × coefficient (B2 coefficient field 4+2: `000150` = 1.50; IK: `001200` = 12 km),
//! rounded half-up to the cent; base = unit price × quantity (fee billed = base, no excess).
//! The rate of a line is another rule's job: AMO amounts are asserted only on physician lines (70 %).

use crate::common;
use common::*;
use liquidator_core::codes::Reject;
use liquidator_core::refs::Refs;
use std::path::PathBuf;

const NURSE: u32 = 100000006;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The mini set with the real NGAP table. The mini parameters start on 2019-01-01 and must cover
/// every date the set prices, so rows are cut to start no earlier than that (values unchanged).
fn refs() -> &'static Refs {
    static R: std::sync::OnceLock<Refs> = std::sync::OnceLock::new();
    R.get_or_init(|| {
        let dir = mini_refs_tempdir("ngap");
        let text =
            std::fs::read_to_string(root().join("fixtures/tables/ngap_letters.tsv")).unwrap();
        let mut out = String::new();
        let mut cols: Vec<String> = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let mut c: Vec<&str> = line.split('\t').collect();
            if cols.is_empty() {
                cols = c.iter().map(|s| s.to_string()).collect();
            } else {
                let from = cols.iter().position(|n| n == "valid_from").unwrap();
                let to = cols.iter().position(|n| n == "valid_to").unwrap();
                if !c[to].is_empty() && c[to] <= "2019-01-01" {
                    continue;
                }
                if c[from] < "2019-01-01" {
                    c[from] = "2019-01-01";
                }
            }
            out.push_str(&c.join("\t"));
            out.push('\n');
        }
        std::fs::write(dir.path().join("ngap_letters.tsv"), out).unwrap();
        Refs::load(dir.path()).expect("mini refs with the real NGAP table")
    })
}

fn bases(p: &liquidator_core::rules::Paid) -> Vec<i64> {
    p.lines.iter().map(|l| l.base).collect()
}

#[test]
fn g_is_26_50_until_2024_12_21_and_30_from_2024_12_22() {
    // G 26.50 € (2023-11-01..2024-12-22), 30.00 € from 2024-12-22 (convention médicale 2024).
    for (date, base) in [(20241221, 2650), (20241222, 3000), (20250110, 3000)] {
        let p = paid(liquidate(
            refs(),
            &header(ADULT, 19850512, GP),
            &[ngap("G", 100, date, base)],
        ));
        assert_eq!(
            (p.lines[0].unit_price, p.lines[0].base),
            (base, base),
            "date {date}"
        );
    }
    // Physician line at 70 %: 30.00 × 70 % = 21.00 € (RULES.md §6.2 example).
    let p = paid(liquidate(
        refs(),
        &header(ADULT, 19850512, GP),
        &[ngap("G", 100, 20250110, 3000)],
    ));
    assert_eq!(p.lines[0].amo_gross, 2100);
    assert!(p.lines[0].physician_act);
}

#[test]
fn cs_and_mcs_are_two_lines_cs_26_50_plus_mcs_5() {
    // Since 2024-12-22: CS 26.50 € + MCS 5.00 € = 31.50 € (the old table merged them into CS 31.50).
    for prac in [ORTHO_OPTAM, CARDIO_S2] {
        let p = paid(liquidate(
            refs(),
            &header(ADULT, 19850512, prac),
            &[
                ngap("CS", 100, 20250110, 2650),
                ngap("MCS", 100, 20250110, 500),
            ],
        ));
        assert_eq!(bases(&p), vec![2650, 500], "practitioner {prac}");
        // CS at 70 %: 26.50 × 0.70 = 18.55; MCS 5.00 × 0.70 = 3.50.
        assert_eq!(p.lines[0].amo_gross, 1855);
        assert_eq!(p.lines[1].amo_gross, 350);
        // One participation per act: the majoration carries none.
        assert!(p.lines[0].physician_act && !p.lines[1].physician_act);
    }
    // Before: CS 23.00 + MPC 3.50 (grid 1, 2023-11-01..2024-12-22) + MCS 5.00 = 31.50 €.
    let p = paid(liquidate(
        refs(),
        &header(ADULT, 19850512, ORTHO_OPTAM),
        &[
            ngap("CS", 100, 20241221, 2300),
            ngap("MPC", 100, 20241221, 350),
            ngap("MCS", 100, 20241221, 500),
        ],
    ));
    assert_eq!(bases(&p), vec![2300, 350, 500]);
}

#[test]
fn night_and_sunday_majorations_are_their_own_lines() {
    // G 30.00 + MN 35.00 (night 20h–0h) = 65.00 €; G 30.00 + CRN 42.50 (regulated night);
    // G 30.00 + F 19.06 (Sunday); G 30.00 + MM 40.00 (0h–6h).
    for (m, v) in [
        ("MN", 3500),
        ("CRN", 4250),
        ("F", 1906),
        ("MM", 4000),
        ("CRD", 2650),
    ] {
        let p = paid(liquidate(
            refs(),
            &header(ADULT, 19850512, GP),
            &[ngap("G", 100, 20250112, 3000), ngap(m, 100, 20250112, v)],
        ));
        assert_eq!(bases(&p), vec![3000, v], "{m}");
    }
}

#[test]
fn home_visit_vg_md_and_ik_per_km() {
    // VG 30.00 + MD 10.00 + IK 12 km × 0.61 €/km (physician, plain) = 7.32 → 47.32 €.
    let p = paid(liquidate(
        refs(),
        &header(ADULT, 19850512, GP),
        &[
            ngap("VG", 100, 20250110, 3000),
            ngap("MD", 100, 20250110, 1000),
            ngap("IK", 1200, 20250110, 732),
        ],
    ));
    assert_eq!(bases(&p), vec![3000, 1000, 732]);
    // VG at 70 % = 21.00; MD 10.00 × 70 % = 7.00; IK 7.32 × 70 % = 5.124 → 5.12.
    assert_eq!(
        p.lines.iter().map(|l| l.amo_gross).collect::<Vec<_>>(),
        vec![2100, 700, 512]
    );
    // Mountain IK: 5 km × 0.91 = 4.55.
    let p = paid(liquidate(
        refs(),
        &header(ADULT, 19850512, GP),
        &[
            ngap("VG", 100, 20250110, 3000),
            ngap("IKM", 500, 20250110, 455),
        ],
    ));
    assert_eq!(bases(&p), vec![3000, 455]);
}

#[test]
fn ik_value_depends_on_the_profession() {
    // The same 12 km: physician 12 × 0.61 = 7.32; nurse 12 × 0.35 = 4.20 (with an AMI 1 = 3.15).
    let p = paid(liquidate(
        refs(),
        &header(ADULT, 19850512, NURSE),
        &[
            ngap("AMI", 100, 20250110, 315),
            ngap("IK", 1200, 20250110, 420),
        ],
    ));
    assert_eq!(bases(&p), vec![315, 420]);
}

#[test]
fn gp_teleconsultation_tcg_is_25() {
    // TCG 25.00 € before and after 2024-12-22; at 70 %: 17.50.
    for date in [20241221, 20250110] {
        let p = paid(liquidate(
            refs(),
            &header(ADULT, 19850512, GP),
            &[ngap("TCG", 100, date, 2500)],
        ));
        assert_eq!(
            (p.lines[0].base, p.lines[0].amo_gross),
            (2500, 1750),
            "date {date}"
        );
    }
}

#[test]
fn ami_1_5_is_coefficient_150_hundredths() {
    // AMI 3.15 € × 1.5 (B2 coefficient `000150`) = 4.725 → 4.73 (half-up);
    // with IFI 2.50 and MAU 1.35: 4.73 + 2.50 + 1.35.
    let p = paid(liquidate(
        refs(),
        &header(ADULT, 19850512, NURSE),
        &[
            ngap("AMI", 150, 20250110, 473),
            ngap("IFI", 100, 20250110, 250),
            ngap("MAU", 100, 20250110, 135),
        ],
    ));
    assert_eq!(bases(&p), vec![473, 250, 135]);
    assert!(p.lines.iter().all(|l| !l.physician_act));
}

#[test]
fn amk_is_2_15_until_2024_02_21_and_2_21_from_2024_02_22() {
    // AMK 8.5: 2.15 × 8.5 = 18.275 → 18.28; 2.21 × 8.5 = 18.785 → 18.79.
    for (date, base) in [(20240221, 1828), (20240222, 1879)] {
        let p = paid(liquidate(
            refs(),
            &header(ADULT, 19850512, NURSE),
            &[ngap("AMK", 850, date, base)],
        ));
        assert_eq!(p.lines[0].base, base, "date {date}");
    }
}

#[test]
fn a_majoration_without_its_consultation_is_rejected_r061() {
    // MCS alone: its line is rejected R061; no line left → the claim is rejected with it.
    let r = rejected(liquidate(
        refs(),
        &header(ADULT, 19850512, GP),
        &[ngap("MCS", 100, 20250110, 500)],
    ));
    assert_eq!((r.code, r.line_no), (Reject::NgapUnknown, Some(1)));
    assert!(r.detail.contains("without"), "{}", r.detail);
    // G + MN on another date: MN is set aside, G is paid.
    let p = paid(liquidate(
        refs(),
        &header(ADULT, 19850512, GP),
        &[
            ngap("G", 100, 20250110, 3000),
            ngap("MN", 100, 20250111, 3500),
        ],
    ));
    assert_eq!(bases(&p), vec![3000]);
    assert_eq!(p.rejected_lines.len(), 1);
    assert_eq!(p.rejected_lines[0].rejection.code, Reject::NgapUnknown);
    // A majoration does not majorate a majoration or a travel fee: MD + MEG without a visit.
    let r = rejected(liquidate(
        refs(),
        &header(ADULT, 19850512, GP),
        &[
            ngap("MD", 100, 20250110, 1000),
            ngap("MEG", 100, 20250110, 500),
        ],
    ));
    assert_eq!(r.code, Reject::NgapUnknown);
}

#[test]
fn a_travel_fee_may_go_with_a_ccam_act() {
    // IK 3 km × 0.61 = 1.83 next to a CCAM act of the same date (QZJA002 26.60 on grid 1).
    let p = paid(liquidate(
        refs(),
        &header(ADULT, 19850512, GP),
        &[
            ccam("QZJA002", 1, "", b' ', 20260302, 2660),
            ngap("IK", 300, 20260302, 183),
        ],
    ));
    assert_eq!(bases(&p), vec![2660, 183]);
}

#[test]
fn letter_unknown_for_the_profession_is_rejected_r061() {
    // IK has rows for physicians and nurses only: a dentist's IK has no value.
    let r = rejected(liquidate(
        refs(),
        &header(ADULT, 19850512, DENTIST),
        &[ngap("IK", 1000, 20250110, 610)],
    ));
    assert_eq!(r.code, Reject::NgapUnknown);
}

#[test]
fn every_profession_of_the_ngap_table_is_a_profession_of_specialties() {
    let spec = std::fs::read_to_string(root().join("fixtures/tables/specialties.tsv")).unwrap();
    let ngap = std::fs::read_to_string(root().join("fixtures/tables/ngap_letters.tsv")).unwrap();
    let col = |text: &str, name: &str| -> Vec<String> {
        let mut lines = text.lines().filter(|l| !l.starts_with('#'));
        let hdr: Vec<&str> = lines.next().unwrap().split('\t').collect();
        let i = hdr.iter().position(|h| *h == name).unwrap();
        lines
            .map(|l| l.split('\t').nth(i).unwrap_or("").to_string())
            .collect()
    };
    let professions = col(&spec, "profession");
    for p in col(&ngap, "profession") {
        assert!(
            p == "*" || professions.contains(&p),
            "profession `{p}` not in specialties.tsv"
        );
    }
    for c in col(&ngap, "confidence") {
        assert!(["C", "S", "I"].contains(&c.as_str()), "confidence `{c}`");
    }
}
