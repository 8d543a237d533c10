//! Regressions found in review. Amounts by hand from the mini reference set (fixtures/mini/refs):
//! QZJA002 = 26.60 €, QZFA036 = 28.80 € (grid 1, 2026), association code 2 = 50 %, rate 70 %,
//! participation forfaitaire 2 €, G = 30.00 €.

mod common;
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
    // Code 2: the session's second act, 26.60 × 50 % = 13.30; AMO 70 % = 9.31; PF 2.00 → 7.31.
    let p = paid(liquidate_with(
        r,
        &b,
        &[ccam("QZJA002", 1, "", b'2', 20260115, 1330)],
        &mut st,
    ));
    let l = &p.lines[0];
    assert_eq!(
        (l.assoc_coef, l.base, l.amo_gross, l.pf, l.amo_paid),
        (5000, 1330, 931, 200, 731)
    );
}
