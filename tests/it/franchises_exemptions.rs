//! Franchises médicales on paramedical acts, exemptions by nature / exemption code, C2S full
//! third-party payment, the heavy-act forfait of C2S and Alsace-Moselle beneficiaries (issue "Right
//! money on every line"), on the mini reference set. Amounts by hand in the comments; every dated
//! amount is tested on both sides of its boundary.

use crate::common;
use common::*;
use liquidator_core::codes::{Reject, Warn};
use liquidator_core::rules::{BenefState, PayeeKind, RateReason};

const NURSE: u32 = 100000006; // specialty 24, profession nurse, sector 1
const YOUNG: &[u8; 13] = b"1050578006088"; // born 2005-05-12

fn ami(date: u32) -> liquidator_core::claims::ActLine {
    ngap("AMI", 100, date, 315)
}

// ---- amount per act: 0.50 € → 1 € on 2024-03-31 (décret 2024-114) ----

#[test]
fn franchise_per_paramedical_act_doubles_on_2024_03_31() {
    let r = mini_refs();
    let h = header(ADULT, 19850512, NURSE);
    // AMI 1 = 3.15 €; nurse rate 60 %: AMO 1.89, ticket 1.26 (covered by the AMC).
    // Paid to the insured (no third-party payment): the franchise is deducted.
    // 2024-03-30: franchise 0.50 → AMO paid 1.39; patient 3.15 − 1.39 − 1.26 = 0.50.
    let mut insured = h;
    insured.tp_amo = false;
    let l = &paid(liquidate(r, &insured, &[ami(20240330)])).lines[0];
    assert_eq!(
        (
            l.amo_gross,
            l.franchise,
            l.amo_paid,
            l.amc(),
            l.patient,
            l.pf,
            l.debt
        ),
        (189, 50, 139, 126, 50, 0, 0)
    );
    assert!(l.paramedical_act && !l.physician_act);
    // 2024-03-31: franchise 1.00 → AMO paid 0.89; patient 1.00.
    let l = &paid(liquidate(r, &insured, &[ami(20240331)])).lines[0];
    assert_eq!((l.franchise, l.amo_paid, l.patient), (100, 89, 100));
    // Third-party payment: the nurse is paid the full AMO 1.89; the franchise 1.00 is charged (caps)
    // but becomes a debt of the insured; patient 3.15 − 1.89 − 1.26 = 0.
    let l = &paid(liquidate(r, &h, &[ami(20240331)])).lines[0];
    assert_eq!(
        (l.franchise, l.debt, l.amo_paid, l.patient),
        (100, 100, 189, 0)
    );
}

#[test]
fn physicians_bear_the_participation_not_the_franchise() {
    let r = mini_refs();
    // G 30 € on 2026-03-02: AMO 21, PF 2; no franchise. Third-party payment: the GP is paid 21 and
    // the PF 2 is a debt of the insured.
    let l = &paid(liquidate(
        r,
        &header(ADULT, 19850512, GP),
        &[ngap("G", 100, 20260302, 3000)],
    ))
    .lines[0];
    assert_eq!((l.pf, l.franchise, l.debt, l.amo_paid), (200, 0, 200, 2100));
}

// ---- daily cap: 2 € → 4 € on 2024-03-31, per beneficiary and date ----

#[test]
fn daily_cap_on_paramedical_acts_before_and_from_2024_03_31() {
    let r = mini_refs();
    let h = header(ADULT, 19850512, NURSE);
    // 2024-03-30: 5 AMI → 0.50 × 4 = 2.00 (cap 2 €), the 5th bears none (W113).
    let p = paid(liquidate(r, &h, &[ami(20240330); 5]));
    let f: Vec<i64> = p.lines.iter().map(|l| l.franchise).collect();
    assert_eq!(f, [50, 50, 50, 50, 0]);
    assert!(
        p.lines[4]
            .warning_codes()
            .any(|w| w == Warn::FranchiseDayCap)
    );
    // 2024-03-31: 5 AMI → 1 × 4 = 4.00 (cap 4 €), the 5th bears none.
    let p = paid(liquidate(r, &h, &[ami(20240331); 5]));
    let f: Vec<i64> = p.lines.iter().map(|l| l.franchise).collect();
    assert_eq!(f, [100, 100, 100, 100, 0]);
    assert_eq!(p.lines[4].amo_paid, 189);
}

#[test]
fn daily_cap_is_carried_across_claims_in_file_order_and_a_rejected_claim_leaves_it() {
    let r = mini_refs();
    let mut st = BenefState::default();
    let h = header(ADULT, 19850512, NURSE);
    // Claim 1: 3 AMI on 2026-03-02 → 3.00 charged.
    paid(liquidate_with(r, &h, &[ami(20260302); 3], &mut st));
    assert_eq!(
        (
            st.franchise_on(liquidator_core::date::Date(20260302)),
            st.franchise_used(2026)
        ),
        (300, 300)
    );
    // A rejected claim (care after the batch date 2026-03-16) changes nothing.
    let before = (st.fr_by_day.clone(), st.fr_by_year.clone());
    let o = liquidate_with(r, &h, &[ami(20260320)], &mut st);
    assert_eq!(rejected(o).code, Reject::FutureCare);
    assert_eq!((st.fr_by_day.clone(), st.fr_by_year.clone()), before);
    // Claim 2: 2 AMI the same day → 1.00 left under the 4 € cap, then 0 (W113).
    let p = paid(liquidate_with(r, &h, &[ami(20260302); 2], &mut st));
    let f: Vec<i64> = p.lines.iter().map(|l| l.franchise).collect();
    assert_eq!(f, [100, 0]);
    // Another day: a fresh daily cap.
    let p = paid(liquidate_with(r, &h, &[ami(20260303)], &mut st));
    assert_eq!(p.lines[0].franchise, 100);
    // Year: 3.00 + 1.00 + 1.00 = 5.00.
    assert_eq!(st.franchise_used(2026), 500);
}

// ---- yearly cap: 50 €, separate from the participation's ----

#[test]
fn yearly_cap_is_its_own_not_the_participations() {
    let r = mini_refs();
    // PF49 has 49 € of participations in 2026 (beneficiaries table): the franchise is still 1 €
    // (third-party payment: a debt of 1 €, the nurse paid the full 1.89).
    let l = &paid(liquidate(
        r,
        &header(PF49, 19850512, NURSE),
        &[ami(20260302)],
    ))
    .lines[0];
    assert_eq!((l.franchise, l.debt, l.amo_paid), (100, 100, 189));
    // 49.50 € of franchises already in 2026: 0.50 € left → 0.50 (W112), then nothing; 2027 starts again.
    let mut st = BenefState::default();
    st.fr_by_year.push((2026, 4950));
    let h = header(ADULT, 19850512, NURSE);
    let p = paid(liquidate_with(
        r,
        &h,
        &[ami(20260302), ami(20260302)],
        &mut st,
    ));
    assert_eq!((p.lines[0].franchise, p.lines[1].franchise), (50, 0));
    assert!(
        p.lines[0]
            .warning_codes()
            .any(|w| w == Warn::FranchiseYearCap)
    );
    assert_eq!(st.franchise_used(2026), 5000);
}

#[test]
fn franchise_never_exceeds_the_amo_amount() {
    let r = mini_refs();
    // AMI 0.10 coefficient → base 0.32 (3.15 × 0.10 = 0.315 → 0.32), AMO 60 % = 0.19: franchise 0.19
    // (third-party payment: debt 0.19, the nurse paid the AMO 0.19).
    let l = &paid(liquidate(
        r,
        &header(ADULT, 19850512, NURSE),
        &[ngap("AMI", 10, 20260302, 32)],
    ))
    .lines[0];
    assert_eq!(
        (l.base, l.amo_gross, l.franchise, l.debt, l.amo_paid),
        (32, 19, 19, 19, 19)
    );
    assert_eq!(l.warning_codes().count(), 0);
}

// ---- exemptions from the franchise ----

#[test]
fn franchise_exemptions_minor_maternity_c2s_art115_prevention_not_work_accident() {
    let r = mini_refs();
    // Born 2005-05-12: 17 on 1 Jan 2023 → exempt; 18 on 1 Jan 2024 → charged (0.50 on 2024-03-02).
    let h = header(YOUNG, 20050512, NURSE);
    assert_eq!(
        paid(liquidate(r, &h, &[ami(20231228)])).lines[0].franchise,
        0
    );
    assert_eq!(
        paid(liquidate(r, &h, &[ami(20240302)])).lines[0].franchise,
        50
    );
    // C2S (and a minor): none.
    assert_eq!(
        paid(liquidate(
            r,
            &header(CHILD_C2S, 20120512, NURSE),
            &[ami(20260302)]
        ))
        .lines[0]
            .franchise,
        0
    );
    for (nature, franchise, amo_paid) in [
        (30, 0, 315),   // maternity: 100 %, no franchise
        (13, 0, 315),   // art. 115: 100 %, no franchise
        (90, 0, 315),   // prevention: 100 %, no franchise [I]
        (41, 100, 315), // work accident: 100 % = 3.15, franchise 1 (a debt: third-party payment)
    ] {
        let mut h = header(ADULT, 19850512, NURSE);
        h.nature = nature;
        if nature == 41 {
            h.at_ref = *b"20260301 ";
        }
        let l = &paid(liquidate(r, &h, &[ami(20260302)])).lines[0];
        assert_eq!(
            (l.rate, l.franchise, l.amo_paid),
            (10000, franchise, amo_paid),
            "nature {nature}"
        );
    }
}

// ---- natures 13 and 90, exemption 3 ----

#[test]
fn nature_13_and_90_at_100_percent_without_participation_exemption_3_with_it() {
    let r = mini_refs();
    for (nature, exemption, reason, pf, amo_paid) in [
        (13, b'0', RateReason::WarPension, 0, 3000), // G 30 € at 100 %, no PF
        (90, b'0', RateReason::Prevention, 0, 3000), // at 100 %, no PF [I]
        // Third-party payment: the PF is charged but not deducted (a debt of the insured).
        (10, b'3', RateReason::ExemptAct, 200, 3000), // at 100 %, PF 2 € (debt) → 30
        (10, b'0', RateReason::Default, 200, 2100),   // 70 % = 21, PF 2 (debt) → 21
    ] {
        let mut h = header(ADULT, 19850512, GP);
        (h.nature, h.exemption) = (nature, exemption);
        let l = &paid(liquidate(r, &h, &[ngap("G", 100, 20260302, 3000)])).lines[0];
        assert_eq!(
            (l.rate_reason, l.pf, l.amo_paid),
            (Some(reason), pf, amo_paid),
            "nature {nature} exemption {}",
            exemption as char
        );
    }
}

// ---- C2S: full third-party payment whatever the flags ----

#[test]
fn c2s_is_paid_to_the_practitioner_whatever_the_flags() {
    let r = mini_refs();
    let mut h = header(CHILD_C2S, 20120512, GP);
    (h.tp_amo, h.tp_amc) = (false, false);
    let p = paid(liquidate(r, &h, &[ngap("G", 100, 20260302, 3000)]));
    assert_eq!(p.payee, PayeeKind::Practitioner);
    assert_eq!(p.amc.map(|a| a.payee), Some(PayeeKind::Practitioner));
    // A non-C2S beneficiary with flags 0/0 is paid himself.
    let mut h = header(ADULT, 19850512, GP);
    (h.tp_amo, h.tp_amc) = (false, false);
    assert_eq!(
        paid(liquidate(r, &h, &[ngap("G", 100, 20260302, 3000)])).payee,
        PayeeKind::Insured
    );
}

// ---- heavy-act forfait: paid by C2S / the local regime, not waived ----

#[test]
fn heavy_act_forfait_paid_by_c2s_and_by_the_local_regime() {
    let r = mini_refs();
    let act = ccam("AANB256", 1, "", b' ', 20260302, 95701);
    // Ordinary: 957.01 at 100 % less 24 € forfait → AMO 933.01, AMC pays the 24 € ticket.
    let l = &paid(liquidate(r, &header(ADULT, 19850512, GP), &[act])).lines[0];
    assert_eq!(
        (l.rate_reason, l.heavy_forfait, l.amo_gross),
        (Some(RateReason::HeavyAct), 2400, 93301)
    );
    // C2S: same forfait, paid by the C2S complementary part (amc_ticket 24 €), patient 0.
    let l = &paid(liquidate(r, &header(CHILD_C2S, 20120512, GP), &[act])).lines[0];
    assert_eq!(
        (
            l.rate_reason,
            l.heavy_forfait,
            l.amo_paid,
            l.amc_ticket,
            l.patient
        ),
        (Some(RateReason::HeavyAct), 2400, 93301, 2400, 0)
    );
    // Alsace-Moselle: the local regime pays the forfait: AMO gross 957.01 (100 %), forfait 0, ticket 0;
    // the participation forfaitaire 2 € still applies — under third-party payment as a debt of the
    // insured: AMO paid 957.01 to the practitioner, patient 0.
    let l = &paid(liquidate(r, &header(LOCAL, 19850512, GP), &[act])).lines[0];
    assert_eq!(
        (
            l.rate_reason,
            l.rate,
            l.heavy_forfait,
            l.amo_gross,
            l.amo_paid,
            l.ticket,
            l.patient
        ),
        (Some(RateReason::HeavyAct), 10000, 0, 95701, 95701, 0, 0)
    );
}

// ---- non-conventioned practitioners: still R041 (tarif d'autorité not applied) ----

#[test]
fn non_conventioned_practitioner_still_rejected_r041() {
    let r = mini_refs();
    let o = liquidate(
        r,
        &header(ADULT, 19850512, GP_NC),
        &[ngap("G", 100, 20260302, 5000)],
    );
    assert_eq!(rejected(o).code, Reject::NotConventioned);
}
