//! One session (same beneficiary, practitioner and date of care) split over several claims is still one
//! session: consultation + act (R081), incompatibilities (R090) and association codes (R080) look at
//! what earlier claims of the session paid (formats/rules-decisions.md). Amounts by hand from the mini
//! reference set: QZJA002 = 26.60 € and QZFA036 = 28.80 € on grid 1 in 2026, association code 2 = 50 %,
//! rate 70 %, participation forfaitaire 2 €.

use crate::common;
use common::*;
use liquidator_core::codes::Reject;
use liquidator_core::rules::BenefState;

#[test]
fn second_claim_of_a_session_cannot_bill_its_act_as_the_first_one_r080() {
    let r = mini_refs();
    let mut st = BenefState::default();
    // 2026-01-15: the QZFA036/QZJA002 incompatibility is not in force yet (from 2026-02-01).
    let mut a = header(ADULT, 19850512, GP);
    a.claim_no = 1;
    paid(liquidate_with(
        r,
        &a,
        &[ccam("QZFA036", 1, "", b'1', 20260115, 2880)],
        &mut st,
    ));
    let mut b = header(ADULT, 19850512, GP);
    b.claim_no = 2;
    // Code 1 on the session's second act: rejected, and with no line left the claim is rejected.
    let rej = rejected(liquidate_with(
        r,
        &b,
        &[ccam("QZJA002", 1, "", b'1', 20260115, 2660)],
        &mut st,
    ));
    assert_eq!((rej.code, rej.line_no), (Reject::AssocCode, Some(1)));
    // Code 2: paid as the second act, 26.60 × 50 % = 13.30; AMO 70 % = 9.31 paid (third-party
    // payment: PF 2.00 a debt of the insured).
    let p = paid(liquidate_with(
        r,
        &b,
        &[ccam("QZJA002", 1, "", b'2', 20260115, 1330)],
        &mut st,
    ));
    let l = &p.lines[0];
    assert_eq!(
        (l.base, l.amo_gross, l.pf, l.amo_paid),
        (1330, 931, 200, 931)
    );
}

#[test]
fn act_incompatible_with_one_paid_in_an_earlier_claim_is_rejected_r090() {
    let r = mini_refs();
    let mut st = BenefState::default();
    let a = header(ADULT, 19850512, GP);
    paid(liquidate_with(
        r,
        &a,
        &[ccam("QZFA036", 1, "", b'1', 20260302, 2880)],
        &mut st,
    ));
    let mut b = header(ADULT, 19850512, GP);
    b.claim_no += 1;
    let rej = rejected(liquidate_with(
        r,
        &b,
        &[ccam("QZJA002", 1, "", b'2', 20260302, 1330)],
        &mut st,
    ));
    assert_eq!((rej.code, rej.line_no), (Reject::Incompatible, Some(1)));
}

#[test]
fn consultation_and_act_in_two_claims_reject_the_later_line_r081() {
    let r = mini_refs();
    // Consultation first, then the act.
    let mut st = BenefState::default();
    paid(liquidate_with(
        r,
        &header(ADULT, 19850512, GP),
        &[ngap("G", 100, 20260302, 3000)],
        &mut st,
    ));
    let mut b = header(ADULT, 19850512, GP);
    b.claim_no += 1;
    let rej = rejected(liquidate_with(
        r,
        &b,
        &[ccam("QZJA002", 1, "", b' ', 20260302, 2660)],
        &mut st,
    ));
    assert_eq!(rej.code, Reject::ConsultAssoc);
    // The act first, then the consultation.
    let mut st = BenefState::default();
    paid(liquidate_with(
        r,
        &header(ADULT, 19850512, GP),
        &[ccam("QZJA002", 1, "", b' ', 20260302, 2660)],
        &mut st,
    ));
    let rej = rejected(liquidate_with(
        r,
        &b,
        &[ngap("G", 100, 20260302, 3000)],
        &mut st,
    ));
    assert_eq!(rej.code, Reject::ConsultAssoc);
    // The ECG (DEQP003) may go with a consultation, also across claims.
    let mut st = BenefState::default();
    paid(liquidate_with(
        r,
        &header(ADULT, 19850512, GP),
        &[ngap("G", 100, 20260302, 3000)],
        &mut st,
    ));
    paid(liquidate_with(
        r,
        &b,
        &[ccam("DEQP003", 1, "", b' ', 20260302, 1477)],
        &mut st,
    ));
}

#[test]
fn another_practitioner_or_another_day_is_another_session() {
    let r = mini_refs();
    let mut st = BenefState::default();
    paid(liquidate_with(
        r,
        &header(ADULT, 19850512, GP),
        &[ngap("G", 100, 20260302, 3000)],
        &mut st,
    ));
    let mut other = header(ADULT, 19850512, ORTHO_OPTAM);
    other.claim_no += 1;
    paid(liquidate_with(
        r,
        &other,
        &[ccam("QZJA002", 1, "", b' ', 20260302, 2660)],
        &mut st,
    ));
    let mut next_day = header(ADULT, 19850512, GP);
    next_day.claim_no += 2;
    paid(liquidate_with(
        r,
        &next_day,
        &[ccam("QZJA002", 1, "", b' ', 20260303, 2660)],
        &mut st,
    ));
}
