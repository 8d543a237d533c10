//! Regressions found in review. Amounts by hand from the mini reference set (fixtures/mini/refs):
//! QZJA002 = 26.60 €, QZFA036 = 28.80 € (grid 1, 2026), association code 2 = 50 %, rate 70 %,
//! participation forfaitaire 2 €, G = 30.00 €.

use crate::common;
use common::*;
use liquidator_core::rules::BenefState;

/// formats/rules-decisions.md §2: once a main act of the session was paid, a later claim's main act
/// must carry an additional act's code (2, 3, 4, 5). A lone act is validly billed without a code
/// (RULES.md §3: "one act: no code or code 1"), so an earlier claim's act paid without code is the
/// session's first act: the later act with code 2 is paid at 50 %, not rejected R080.
#[test]
fn later_claim_code_2_after_a_first_act_paid_without_code_is_paid() {
    let r = mini_refs();
    let mut st = BenefState::default();
    // 2026-01-15: the QZFA036/QZJA002 incompatibility is not in force yet (from 2026-02-01).
    let mut a = header(ADULT, 19850512, GP);
    a.claim_no = 1;
    paid(liquidate_with(
        r,
        &a,
        &[ccam("QZFA036", 1, "", b' ', 20260115, 2880)],
        &mut st,
    ));
    let mut b = header(ADULT, 19850512, GP);
    b.claim_no = 2;
    // Code 2: the session's second act, 26.60 × 50 % = 13.30; AMO 70 % = 9.31 paid (PF 2.00: a debt,
    // third-party payment).
    let p = paid(liquidate_with(
        r,
        &b,
        &[ccam("QZJA002", 1, "", b'2', 20260115, 1330)],
        &mut st,
    ));
    let l = &p.lines[0];
    assert_eq!(
        (l.assoc_coef, l.base, l.amo_gross, l.pf, l.amo_paid),
        (5000, 1330, 931, 200, 931)
    );
}

/// formats/outputs.md: rejections.tsv rows are in input order (claims, then lines). A claim whose
/// lines are set aside in an order other than the file's (line 3 by pricing, then line 2 by the
/// consultation + act rule) must still list its `LINE` rows by line number.
#[test]
fn line_rejection_rows_are_in_line_order_whatever_the_order_found() {
    let mut hd = header(ADULT, 19850512, GP);
    hd.claim_no = 778;
    let (_dir, out, s) = run_claims(&[(
        hd,
        vec![
            ngap("G", 100, 20260302, 3000),
            ccam("QZFA036", 1, "", b' ', 20260302, 2880),
            ccam("ZZZZ999", 1, "", b' ', 20260302, 4500),
        ],
    )]);
    assert!(s.conserved(), "{:?}", s.conservation);
    assert_eq!((s.claims_paid, s.line_rejections), (1, 2));
    let rej = std::fs::read_to_string(out.join("rejections.tsv")).unwrap();
    let rows: Vec<(String, String, u64)> = rej
        .lines()
        .skip(1)
        .map(|r| {
            let c: Vec<&str> = r.split('\t').collect();
            (c[1].to_string(), c[2].to_string(), c[6].parse().unwrap())
        })
        .collect();
    assert_eq!(
        rows.iter()
            .map(|r| (r.0.as_str(), r.1.as_str()))
            .collect::<Vec<_>>(),
        vec![("2", "R081"), ("3", "R060")],
        "{rej}"
    );
    assert!(rows[0].2 < rows[1].2, "byte offsets increase: {rej}");
}

/// formats/codes.md decision 2: when every line is rejected, the claim is rejected with the **first**
/// line's rejection (its code and line) — line 1 here, even though pricing set line 2 aside before the
/// association rule condemned line 1.
#[test]
fn no_line_left_rejects_with_the_first_line_not_the_first_found() {
    use liquidator_core::codes::Reject;
    let r = mini_refs();
    let rej = rejected(liquidate(
        r,
        &header(ADULT, 19850512, GP),
        &[
            // A lone act billed with code 2: R080 (found after pricing).
            ccam("QZFA036", 1, "", b'2', 20260302, 2880),
            // Unknown act: R060 (found by pricing, first).
            ccam("ZZZZ999", 1, "", b' ', 20260302, 5000),
        ],
    ));
    assert_eq!((rej.code, rej.line_no), (Reject::AssocCode, Some(1)));
}
