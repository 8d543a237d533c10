//! Worked examples, one group per rule of issue #4, on the mini reference set (tests/common).
//! Each test is named after what it pins.

use crate::common;
use common::*;
use liquidator_core::codes::Reject;
use liquidator_core::rules::{BenefState, PayeeKind, RateReason};

// ---- grid selection ----

#[test]
fn grid_1_for_sector_1_and_optam_grid_2_for_sector_2_non_optam() {
    let r = mini_refs();
    let p = paid(liquidate(
        r,
        &header(ADULT, 19850512, GP),
        &[ccam("QZJA002", 1, "", b' ', 20260302, 2660)],
    ));
    assert_eq!((p.lines[0].grid, p.lines[0].unit_price), (1, 2660));
    let p = paid(liquidate(
        r,
        &header(ADULT, 19850512, ORTHO_OPTAM),
        &[ccam("QZJA002", 1, "", b' ', 20260302, 2660)],
    ));
    assert_eq!((p.lines[0].grid, p.lines[0].unit_price), (1, 2660));
    let p = paid(liquidate(
        r,
        &header(ADULT, 19850512, CARDIO_S2),
        &[ngap("CS", 100, 20260302, 2300)],
    ));
    assert_eq!((p.lines[0].grid, p.lines[0].unit_price), (2, 2300));
}

#[test]
fn tariff_is_the_one_in_force_on_the_date_of_care_boundaries_inclusive() {
    let r = mini_refs();
    for (date, pu) in [
        (20250131, 2829),
        (20250201, 2868),
        (20251231, 2868),
        (20260101, 2907),
    ] {
        let p = paid(liquidate(
            r,
            &header(ADULT, 19850512, GP),
            &[ccam("BGQP002", 1, "", b' ', date, pu)],
        ));
        assert_eq!(p.lines[0].unit_price, pu, "date {date}");
    }
}

#[test]
fn acts_removed_or_not_yet_created_are_rejected_r060() {
    let r = mini_refs();
    let o = liquidate(
        r,
        &header(ADULT, 19850512, GP),
        &[ccam("YYYY600", 1, "", b' ', 20260101, 75)],
    );
    assert_eq!(rejected(o).code, Reject::ActUnknown);
    let o = liquidate(
        r,
        &header(ADULT, 19850512, GP),
        &[ccam("AANB256", 1, "", b' ', 20251231, 95701)],
    );
    assert_eq!(rejected(o).code, Reject::ActUnknown);
    paid(liquidate(
        r,
        &header(ADULT, 19850512, GP),
        &[ccam("AANB256", 1, "", b' ', 20260101, 95701)],
    ));
}

// ---- modifiers ----

#[test]
fn percentage_modifier_z_on_laqk013_gives_snds_example_30_78() {
    // RULES.md §6.6 [C: SNDS-DOC]: LAQK013 PU 25.27 with Z (+21.8 %) → BR 30.78.
    let r = mini_refs();
    let p = paid(liquidate(
        r,
        &header(ADULT, 19850512, GP),
        &[ccam("LAQK013", 1, "Z", b' ', 20260302, 3078)],
    ));
    let l = &p.lines[0];
    assert_eq!((l.unit_price, l.mod_amounts[0], l.base), (2527, 551, 3078));
}

#[test]
fn fixed_modifier_is_added_and_not_reduced_by_association() {
    // QZJA002 26.60 at 50 % (code 2) with F 19.06: 13.30 + 19.06 = 32.36; QZFA036 28.80 code 1.
    let r = mini_refs();
    let p = paid(liquidate(
        r,
        &header(ADULT, 19850512, GP),
        &[
            ccam("QZFA036", 1, "", b'1', 20260104, 2880),
            ccam("QZJA002", 1, "F", b'2', 20260104, 3236),
        ],
    ));
    let l = &p.lines[1];
    assert_eq!(
        (l.pu_assoc_red, l.mod_amounts[0], l.mod_assoc_red[0], l.base),
        (1330, 1906, 0, 3236)
    );
}

#[test]
fn modifier_not_allowed_or_repeated_is_rejected_r070() {
    let r = mini_refs();
    let o = liquidate(
        r,
        &header(ADULT, 19850512, GP),
        &[ccam("DEQP003", 1, "Z", b' ', 20260302, 1477)],
    );
    let rej = rejected(o);
    assert_eq!(
        (rej.code, rej.line_no),
        (Reject::ModifierNotAllowed, Some(1))
    );
    let o = liquidate(
        r,
        &header(ADULT, 19850512, GP),
        &[ccam("LAQK013", 1, "ZZ", b' ', 20260302, 3078)],
    );
    assert_eq!(rejected(o).code, Reject::ModifierNotAllowed);
}

#[test]
fn exclusive_modifier_once_per_practitioner_and_day_across_claims_r071() {
    let r = mini_refs();
    let mut st = BenefState::default();
    let h = header(ADULT, 19850512, GP);
    paid(liquidate_with(
        r,
        &h,
        &[ccam("QZJA002", 1, "F", b' ', 20260301, 4566)],
        &mut st,
    ));
    let o = liquidate_with(
        r,
        &h,
        &[ccam("QZFA036", 1, "F", b' ', 20260301, 4786)],
        &mut st,
    );
    assert_eq!(rejected(o).code, Reject::ModifierExclusive);
    // another day is fine
    paid(liquidate_with(
        r,
        &h,
        &[ccam("QZFA036", 1, "F", b' ', 20260302, 4786)],
        &mut st,
    ));
}

// ---- association ----

#[test]
fn association_code_2_halves_the_second_act_snds_example_14_46() {
    // RULES.md §6.6: 28.92 × 50 % = 14.46 (HBJD001 as second act).
    let r = mini_refs();
    let p = paid(liquidate(
        r,
        &header(ADULT, 19850512, DENTIST),
        &[
            ccam("BGQP002", 1, "", b'1', 20260302, 2907),
            ccam("HBJD001", 1, "", b'2', 20260302, 1446),
        ],
    ));
    assert_eq!((p.lines[1].base, p.lines[1].pu_assoc_red), (1446, 1446));
    assert_eq!(p.lines[0].base, 2907);
}

/// Each paid line's result carries its place in the claim's act lines (`LineResult::index`, set
/// where the results are built, `pricing::compute_bases`) and its number, in line order.
#[test]
fn a_claim_paid_whole_gives_each_line_its_place_in_line_order() {
    let r = mini_refs();
    let p = paid(liquidate(
        r,
        &header(ADULT, 19850512, DENTIST),
        &[
            ccam("BGQP002", 1, "", b'1', 20260302, 2907),
            ccam("HBJD001", 1, "", b'2', 20260302, 1446),
        ],
    ));
    let at: Vec<(u16, u16)> = p.lines.iter().map(|l| (l.line_no, l.index)).collect();
    assert_eq!(at, [(1, 0), (2, 1)]);
    assert!(p.rejected_lines.is_empty());
}

#[test]
fn association_ranks_by_unit_price_excluding_modifiers() {
    // LAQK013 25.27 + Z would be 30.78 > QZFA036 28.80, but ranking excludes modifiers: QZFA036 is first.
    let r = mini_refs();
    let o = liquidate(
        r,
        &header(ADULT, 19850512, GP),
        &[
            ccam("LAQK013", 1, "Z", b'1', 20260302, 3078),
            ccam("QZFA036", 1, "", b'2', 20260302, 1440),
        ],
    );
    // Line scope: QZFA036, ranked first, should carry code 1; it is set aside and LAQK013 alone
    // (code 1) is paid.
    let p = paid(o);
    assert_eq!(p.lines.iter().map(|l| l.line_no).collect::<Vec<_>>(), [1]);
    let rej = &p.rejected_lines[0].rejection;
    assert_eq!((rej.code, rej.line_no), (Reject::AssocCode, Some(2)));
    paid(liquidate(
        r,
        &header(ADULT, 19850512, GP),
        &[
            ccam("LAQK013", 1, "Z", b'2', 20260302, 1539),
            ccam("QZFA036", 1, "", b'1', 20260302, 2880),
        ],
    ));
}

#[test]
fn inconsistent_association_codes_are_rejected_r080() {
    let r = mini_refs();
    for codes in [(b'1', b'1'), (b' ', b' '), (b'2', b'1')] {
        let o = liquidate(
            r,
            &header(ADULT, 19850512, GP),
            &[
                ccam("QZFA036", 1, "", codes.0, 20260104, 2880),
                ccam("QZJA002", 1, "", codes.1, 20260104, 1330),
            ],
        );
        // Line scope: the line at fault is set aside, the other act is paid alone.
        assert_eq!(first_rejection(o), (Reject::AssocCode, 1), "{codes:?}");
    }
    // a single act may not carry code 2
    let o = liquidate(
        r,
        &header(ADULT, 19850512, GP),
        &[ccam("QZFA036", 1, "", b'2', 20260302, 1440)],
    );
    assert_eq!(rejected(o).code, Reject::AssocCode);
    // supplements are at full rate with code 1
    let o = liquidate(
        r,
        &header(ADULT, 19850512, DENTIST),
        &[
            ccam("QZFA036", 1, "", b'1', 20260302, 2880),
            ccam("YYYY614", 1, "", b'2', 20260302, 1000),
        ],
    );
    assert_eq!(first_rejection(o), (Reject::AssocCode, 1));
    paid(liquidate(
        r,
        &header(ADULT, 19850512, DENTIST),
        &[
            ccam("QZFA036", 1, "", b'1', 20260302, 2880),
            ccam("YYYY614", 1, "", b'1', 20260302, 2000),
        ],
    ));
}

#[test]
fn consultation_with_technical_act_rejected_except_ecg_r081() {
    let r = mini_refs();
    let o = liquidate(
        r,
        &header(ADULT, 19850512, GP),
        &[
            ngap("G", 100, 20260302, 3000),
            ccam("QZJA002", 1, "", b' ', 20260302, 2660),
        ],
    );
    // Line scope (formats/codes.md): the consultation is paid, the act line is rejected.
    let p = paid(o);
    assert_eq!(p.lines.iter().map(|l| l.line_no).collect::<Vec<_>>(), [1]);
    let rej = &p.rejected_lines[0].rejection;
    assert_eq!((rej.code, rej.line_no), (Reject::ConsultAssoc, Some(2)));
    paid(liquidate(
        r,
        &header(ADULT, 19850512, GP),
        &[
            ngap("G", 100, 20260302, 3000),
            ccam("DEQP003", 1, "", b' ', 20260302, 1477),
        ],
    ));
}

// ---- incompatibilities ----

#[test]
fn incompatible_pair_rejects_the_lower_priced_line_from_its_start_date_r090() {
    let r = mini_refs();
    let lines = [
        ccam("QZFA036", 1, "", b'1', 20260302, 2880),
        ccam("QZJA002", 1, "", b'2', 20260302, 1330),
    ];
    // Line scope: the lower-priced line is rejected, the other one is paid.
    let p = paid(liquidate(r, &header(ADULT, 19850512, GP), &lines));
    assert_eq!(p.lines.iter().map(|l| l.line_no).collect::<Vec<_>>(), [1]);
    let rej = &p.rejected_lines[0].rejection;
    assert_eq!((rej.code, rej.line_no), (Reject::Incompatible, Some(2)));
    // the pair is dated from 2026-02-01: on 2026-01-31 it is allowed
    let lines = [
        ccam("QZFA036", 1, "", b'1', 20260131, 2880),
        ccam("QZJA002", 1, "", b'2', 20260131, 1330),
    ];
    paid(liquidate(r, &header(ADULT, 19850512, GP), &lines));
}

// ---- NGAP ----

#[test]
fn ngap_is_letter_value_on_the_date_times_coefficient_times_quantity() {
    let r = mini_refs();
    let p = paid(liquidate(
        r,
        &header(ADULT, 19850512, GP),
        &[ngap("G", 100, 20241221, 2650)],
    ));
    assert_eq!(p.lines[0].base, 2650);
    let p = paid(liquidate(
        r,
        &header(ADULT, 19850512, GP),
        &[ngap("G", 100, 20241222, 3000)],
    ));
    assert_eq!(p.lines[0].base, 3000);
    let mut l = ngap("AMI", 150, 20260302, 945);
    l.quantity = 2;
    let p = paid(liquidate(r, &header(ADULT, 19850512, GP), &[l]));
    assert_eq!((p.lines[0].unit_price, p.lines[0].base), (473, 946 - 1)); // 3.15 × 1.5 = 4.725 → 4.73; × 2 = 9.46 > fee 9.45
    let o = liquidate(
        r,
        &header(ADULT, 19850512, GP),
        &[ngap("XYZ", 100, 20260302, 3000)],
    );
    assert_eq!(rejected(o).code, Reject::NgapUnknown);
}

// ---- AMO rate ----

#[test]
fn default_rate_70_with_participation_2_euros() {
    let r = mini_refs();
    let p = paid(liquidate(
        r,
        &header(ADULT, 19850512, GP),
        &[ngap("G", 100, 20260302, 3000)],
    ));
    let l = &p.lines[0];
    assert_eq!(
        (
            l.rate,
            l.amo_gross,
            l.pf,
            l.amo_paid,
            l.ticket,
            l.amc(),
            l.patient
        ),
        (7000, 2100, 200, 2100, 900, 900, 0)
    );
    // Third-party payment: the GP is paid the full AMO 21.00; the PF 2.00 is a debt of the insured.
    assert_eq!((p.payee, l.debt), (PayeeKind::Practitioner, 200));
    // Paid to the insured: the PF is deducted, 21.00 − 2.00 = 19.00; patient 30 − 19 − 9 = 2.00.
    let mut h = header(ADULT, 19850512, GP);
    h.tp_amo = false;
    let p = paid(liquidate(r, &h, &[ngap("G", 100, 20260302, 3000)]));
    let l = &p.lines[0];
    assert_eq!(
        (p.payee, l.pf, l.debt, l.amo_paid, l.patient),
        (PayeeKind::Insured, 200, 0, 1900, 200)
    );
}

#[test]
fn ald_100_only_with_a_period_and_local_regime_90() {
    let r = mini_refs();
    let mut h = header(LOCAL, 19850512, GP);
    h.exemption = b'4';
    let p = paid(liquidate(r, &h, &[ngap("G", 100, 20260302, 3000)]));
    assert_eq!(
        (p.lines[0].rate, p.lines[0].rate_reason),
        (10000, Some(RateReason::Ald))
    );
    let h = header(LOCAL, 19850512, GP);
    let p = paid(liquidate(r, &h, &[ngap("G", 100, 20260302, 3000)]));
    assert_eq!((p.lines[0].rate, p.lines[0].amo_gross), (9000, 2700));
    let mut h = header(ADULT, 19850512, GP);
    h.exemption = b'4'; // claimed, but no ALD period for this beneficiary
    let p = paid(liquidate(r, &h, &[ngap("G", 100, 20260302, 3000)]));
    assert_eq!(p.lines[0].rate, 7000);
}

#[test]
fn maternity_and_work_accident_100_without_participation() {
    let r = mini_refs();
    let mut h = header(ADULT, 19850512, GP);
    h.nature = 30;
    let p = paid(liquidate(r, &h, &[ngap("G", 100, 20260302, 3000)]));
    assert_eq!(
        (p.lines[0].rate, p.lines[0].pf, p.lines[0].amo_paid),
        (10000, 0, 3000)
    );
    h.nature = 41;
    assert_eq!(
        rejected(liquidate(r, &h, &[ngap("G", 100, 20260302, 3000)])).code,
        Reject::AtMissing
    );
    h.at_ref = *b"20260301 ";
    let p = paid(liquidate(r, &h, &[ngap("G", 100, 20260302, 3000)]));
    assert_eq!(
        (p.lines[0].rate_reason, p.lines[0].pf),
        (Some(RateReason::WorkAccident), 0)
    );
}

#[test]
fn out_of_pathway_30_percent_and_amc_covers_only_the_ordinary_ticket() {
    let r = mini_refs();
    let mut h = header(ADULT, 19850512, CARDIO_S2);
    h.pathway = b'H';
    let p = paid(liquidate(r, &h, &[ngap("CS", 100, 20260302, 2300)]));
    let l = &p.lines[0];
    // base 23.00 at 30 % = 6.90; ordinary ticket 30 % = 6.90 covered; penalty 9.20 for the patient; the
    // PF 2 is a debt of the insured (third-party payment), not in the patient's share at the practitioner
    assert_eq!(
        (l.rate, l.amo_gross, l.amc_ticket, l.pf, l.debt, l.patient),
        (3000, 690, 690, 200, 200, 2300 - 690 - 690)
    );
    // a GP consulted out of the pathway is penalised like any physician (worked example below)
    let mut h = header(ADULT, 19850512, GP);
    h.pathway = b'H';
    assert_eq!(
        paid(liquidate(r, &h, &[ngap("G", 100, 20260302, 3000)])).lines[0].rate,
        3000
    );
}

#[test]
fn c2s_complementary_part_routed_to_c2s_and_no_participation() {
    let r = mini_refs();
    let h = header(CHILD_C2S, 20120512, GP);
    let p = paid(liquidate(r, &h, &[ngap("G", 100, 20260302, 3000)]));
    assert_eq!(&p.amc.unwrap().amc, b"C2S       ");
    assert_eq!(
        (p.lines[0].pf, p.lines[0].amc(), p.lines[0].patient),
        (0, 900, 0)
    );
}

// ---- participation forfaitaire ----

#[test]
fn participation_1_euro_before_2024_05_15_and_2_from_it() {
    let r = mini_refs();
    let h = header(ADULT, 19850512, GP);
    assert_eq!(
        paid(liquidate(r, &h, &[ngap("G", 100, 20240514, 2650)])).lines[0].pf,
        100
    );
    assert_eq!(
        paid(liquidate(r, &h, &[ngap("G", 100, 20240515, 2650)])).lines[0].pf,
        200
    );
}

#[test]
fn participation_yearly_cap_seeded_and_carried_across_claims() {
    let r = mini_refs();
    let h = header(PF49, 19850512, GP);
    let mut st = BenefState::default();
    let p = paid(liquidate_with(
        r,
        &h,
        &[ngap("G", 100, 20260302, 3000)],
        &mut st,
    ));
    assert_eq!(p.lines[0].pf, 100);
    assert!(p.lines[0].warning_codes().any(|w| w.code() == "W110"));
    let p = paid(liquidate_with(
        r,
        &h,
        &[ngap("G", 100, 20260303, 3000)],
        &mut st,
    ));
    assert_eq!(p.lines[0].pf, 0);
    // a new year starts from zero
    let p = paid(liquidate_with(
        r,
        &h,
        &[ngap("G", 100, 20251230, 3000)],
        &mut st,
    ));
    assert_eq!(p.lines[0].pf, 200);
}

#[test]
fn participation_at_most_4_per_day_with_the_same_practitioner() {
    let r = mini_refs();
    let h = header(ADULT, 19850512, GP);
    let lines: Vec<_> = (0..5).map(|_| ngap("G", 100, 20260302, 3000)).collect();
    let p = paid(liquidate(r, &h, &lines));
    let pfs: Vec<i64> = p.lines.iter().map(|l| l.pf).collect();
    assert_eq!(pfs, vec![200, 200, 200, 200, 0]);
}

#[test]
fn no_participation_under_18_on_1_january() {
    let r = mini_refs();
    // born 2008-01-15: 17 on 2026-01-01 although 18 on the date of care → no PF
    let mut refs_h = header(ADULT, 19850512, GP);
    refs_h.birth = liquidator_core::date::Date(19850512);
    let p = paid(liquidate(r, &refs_h, &[ngap("G", 100, 20260302, 3000)]));
    assert_eq!(p.lines[0].pf, 200);
    let h = header(CHILD_C2S, 20120512, GP);
    assert_eq!(
        paid(liquidate(r, &h, &[ngap("G", 100, 20260302, 3000)])).lines[0].pf,
        0
    );
}

// ---- heavy-act forfait ----

#[test]
fn heavy_act_replaces_the_ticket_by_the_24_euro_forfait() {
    let r = mini_refs();
    let h = header(ADULT, 19850512, ORTHO_OPTAM);
    let p = paid(liquidate(
        r,
        &h,
        &[ccam("NFFC004", 1, "", b' ', 20260302, 19953)],
    ));
    let l = &p.lines[0];
    assert_eq!(
        (l.rate_reason, l.heavy_forfait, l.amo_gross, l.ticket, l.pf),
        (Some(RateReason::HeavyAct), 2400, 17553, 2400, 200)
    );
    // under ALD the forfait does not apply
    let mut h = header(LOCAL, 19850512, ORTHO_OPTAM);
    h.exemption = b'4';
    let p = paid(liquidate(
        r,
        &h,
        &[ccam("NFFC004", 1, "", b' ', 20260302, 19953)],
    ));
    assert_eq!((p.lines[0].heavy_forfait, p.lines[0].amo_gross), (0, 19953));
}

// ---- excess, complementary share, payee ----

#[test]
fn excess_goes_to_the_amc_up_to_its_contract_then_to_the_patient() {
    let r = mini_refs();
    let h = header(ADULT, 19850512, CARDIO_S2); // contract 02 covers excess up to 100 % of the base
    let p = paid(liquidate(r, &h, &[ngap("CS", 100, 20260302, 5000)]));
    let l = &p.lines[0];
    assert_eq!(
        (l.base, l.excess, l.amc_excess, l.amc_ticket),
        (2300, 2700, 2300, 690)
    );
    assert_eq!(l.patient, 5000 - l.amo_paid - l.amc());
    let h = header(LOCAL, 19850512, CARDIO_S2); // contract 01: no excess cover
    let p = paid(liquidate(r, &h, &[ngap("CS", 100, 20260302, 5000)]));
    assert_eq!(p.lines[0].amc_excess, 0);
}

#[test]
fn sector_1_excess_needs_a_qualifier_else_warning_w101() {
    let r = mini_refs();
    let h = header(ADULT, 19850512, GP);
    let p = paid(liquidate(r, &h, &[ngap("G", 100, 20260302, 3500)]));
    assert!(p.lines[0].warning_codes().any(|w| w.code() == "W101"));
    let mut l = ngap("G", 100, 20260302, 3500);
    l.qualifier = *b"DE";
    let p = paid(liquidate(r, &h, &[l]));
    assert_eq!(p.lines[0].warnings, 0);
}

#[test]
fn payee_follows_the_third_party_flags() {
    let r = mini_refs();
    let mut h = header(ADULT, 19850512, GP);
    h.tp_amo = false;
    h.tp_amc = true;
    let p = paid(liquidate(r, &h, &[ngap("G", 100, 20260302, 3000)]));
    assert_eq!(
        (p.payee, p.amc.unwrap().payee),
        (PayeeKind::Insured, PayeeKind::Practitioner)
    );
}

// ---- controls ----

#[test]
fn controls_reject_with_their_codes() {
    let r = mini_refs();
    let g = [ngap("G", 100, 20260302, 3000)];
    let mut h = header(ADULT, 19850512, GP);
    h.nir_key = *b"00";
    assert_eq!(rejected(liquidate(r, &h, &g)).code, Reject::NirKey);
    let h = header(b"1850578006099", 19850512, GP);
    assert_eq!(rejected(liquidate(r, &h, &g)).code, Reject::BenefUnknown);
    let h = header(ADULT, 19850513, GP);
    assert_eq!(rejected(liquidate(r, &h, &g)).code, Reject::BirthDate);
    let h = header(CLOSED, 19850512, GP);
    assert_eq!(rejected(liquidate(r, &h, &g)).code, Reject::RightsClosed);
    paid(liquidate(r, &h, &[ngap("G", 100, 20251231, 3000)]));
    let h = header(ADULT, 19850512, 999999999);
    assert_eq!(rejected(liquidate(r, &h, &g)).code, Reject::PracUnknown);
    let h = header(ADULT, 19850512, GP_NC);
    assert_eq!(rejected(liquidate(r, &h, &g)).code, Reject::NotConventioned);
    let mut h = header(ADULT, 19850512, GP);
    h.nature = 20;
    assert_eq!(rejected(liquidate(r, &h, &g)).code, Reject::BadNature);
}

#[test]
fn time_limit_27_months_boundary_and_future_care() {
    let r = mini_refs();
    let h = header(ADULT, 19850512, GP);
    // batch 2026-03-16: 27 months earlier is 2023-12-16 (accepted); 2023-12-15 is too old.
    paid(liquidate(r, &h, &[ngap("G", 100, 20231216, 2650)]));
    assert_eq!(
        rejected(liquidate(r, &h, &[ngap("G", 100, 20231215, 2650)])).code,
        Reject::TimeLimit
    );
    assert_eq!(
        rejected(liquidate(r, &h, &[ngap("G", 100, 20260317, 3000)])).code,
        Reject::FutureCare
    );
    paid(liquidate(r, &h, &[ngap("G", 100, 20260316, 3000)]));
    // The ledger purges what is older than this same boundary (formats/ledger.md, "Purge").
    assert_eq!(
        liquidator_core::rules::controls::oldest_payable(r, liquidator_core::date::Date(20260316)),
        liquidator_core::date::Date(20231216)
    );
    // The rules read the same boundary from the batch's context, worked out once by `Ctx::new`.
    assert_eq!(
        liquidator_core::rules::Ctx::new(r, liquidator_core::date::Date(20260316), None)
            .time_limit(),
        (27, liquidator_core::date::Date(20231216))
    );
}

#[test]
fn rejected_claim_leaves_the_participation_counters_untouched() {
    let r = mini_refs();
    let h = header(PF49, 19850512, GP);
    let mut st = BenefState::default();
    // A G billed by an unknown practitioner → the claim is rejected (claim scope); its PF must not
    // be counted.
    let o = liquidate_with(
        r,
        &header(PF49, 19850512, 999_999_999),
        &[ngap("G", 100, 20260302, 3000)],
        &mut st,
    );
    assert_eq!(rejected(o).code, Reject::PracUnknown);
    let p = paid(liquidate_with(
        r,
        &h,
        &[ngap("G", 100, 20260303, 3000)],
        &mut st,
    ));
    assert_eq!(p.lines[0].pf, 100);
}

// ---- default rate by profession, pathway, priority: worked examples (formats/rates.md) ----
// Amounts computed by hand from the rule: AMO = round_half_up(base × rate), ticket = base − AMO, PF only
// for physicians aged ≥ 18 on 1 January (2 € since 2024-05-15), AMO paid = AMO − PF.

const NURSE: u32 = 100000006; // specialty 24, profession nurse (mini set)
const PSYCHIATRIST: u32 = 100000007; // specialty 33, direct access up to age 25 (mini set)
const YOUNG: &[u8; 13] = b"1050578006088"; // born 2005-05-12, no complementary insurer

/// Liquidates with a batch date and returns the outcome and the `explain` trace text.
fn liquidate_traced(
    h: &liquidator_core::claims::ClaimHeader,
    lines: &[liquidator_core::claims::ActLine],
    batch: u32,
) -> (liquidator_core::rules::Outcome, String) {
    liquidate_traced_keyed(h, lines, batch, None)
}

/// [`liquidate_traced`] with the beneficiary key given to the rules as the engine gives it
/// (`ClaimInput::benef_key`; `None`: the controls compute it).
fn liquidate_traced_keyed(
    h: &liquidator_core::claims::ClaimHeader,
    lines: &[liquidator_core::claims::ActLine],
    batch: u32,
    benef_key: Option<u64>,
) -> (liquidator_core::rules::Outcome, String) {
    use liquidator_core::claims::Pos;
    use liquidator_core::date::Date;
    use liquidator_core::rules::{self, ClaimInput, Ctx, Trace};
    let mut lines = lines.to_vec();
    for (i, l) in lines.iter_mut().enumerate() {
        l.line_no = i as u16 + 1;
        l.claim_no = h.claim_no;
    }
    let pos = vec![Pos::default(); lines.len()];
    let ctx = Ctx::new(mini_refs(), Date(batch), None);
    let input = ClaimInput {
        header: h,
        lines: &lines,
        line_pos: &pos,
        pos: Pos::default(),
        benef_at: None,
        benef_key,
    };
    let mut steps = Vec::new();
    let o = rules::liquidate(
        &ctx,
        &input,
        &mut BenefState::default(),
        &mut Trace(Some(&mut steps)),
    );
    let text = steps
        .iter()
        .map(|s| format!("{}: {}\n", s.rule, s.text))
        .collect();
    (o, text)
}

#[test]
fn dental_care_70_percent_until_2023_10_14_and_60_percent_from_2023_10_15() {
    // HBJD001 (détartrage) 28.92 € by a dentist (specialty 19, not a physician: no PF), batch 2024-01-31.
    // 2023-10-14: 2892 × 70 % = 2024.4 → AMO 20.24 €, ticket 28.92 − 20.24 = 8.68 €.
    // 2023-10-15: 2892 × 60 % = 1735.2 → AMO 17.35 €, ticket 28.92 − 17.35 = 11.57 €.
    let h = header(ADULT, 19850512, DENTIST);
    let mut got = Vec::new();
    for d in [20231014, 20231015] {
        let (o, trace) = liquidate_traced(&h, &[ccam("HBJD001", 1, "", b' ', d, 2892)], 20240131);
        let l = paid(o).lines[0].clone();
        got.push((
            l.rate,
            l.rate_reason,
            l.amo_gross,
            l.ticket,
            l.pf,
            l.amo_paid,
        ));
        assert!(
            trace.contains("default rate of profession dentist"),
            "{trace}"
        );
    }
    assert_eq!(
        got,
        vec![
            (7000, Some(RateReason::Default), 2024, 868, 0, 2024),
            (6000, Some(RateReason::Default), 1735, 1157, 0, 1735),
        ]
    );
}

#[test]
fn nurse_act_60_percent_and_h_ignored_for_a_non_physician() {
    // AMI 1 = 3.15 € on 2026-03-02: 315 × 60 % = 189 → AMO 1.89 €, ticket 1.26 €, no PF (not a physician);
    // the franchise médicale on a paramedical act (1 € since 2024-03-31) is charged; under third-party
    // payment it is a debt of the insured and the nurse is paid 1.89 €.
    let mut h = header(ADULT, 19850512, NURSE);
    h.pathway = b'H';
    let (o, trace) = liquidate_traced(&h, &[ngap("AMI", 100, 20260302, 315)], 20260316);
    let l = &paid(o).lines[0];
    assert_eq!(
        (
            l.rate,
            l.rate_reason,
            l.amo_gross,
            l.ticket,
            l.pf,
            l.franchise,
            l.amo_paid
        ),
        (6000, Some(RateReason::Default), 189, 126, 0, 100, 189)
    );
    assert!(
        trace.contains(
            "pathway indicator H ignored: the practitioner is not a physician (profession nurse)"
        ),
        "{trace}"
    );
}

#[test]
fn gp_out_of_pathway_is_penalised_and_amc_covers_the_ordinary_ticket_only() {
    // G 30.00 € on 2026-03-02, H, adult of 40 seen by a GP who is not his médecin traitant:
    // 3000 × 30 % = 900 → AMO 9.00 €, paid in full to the GP (third-party payment: PF 2 € a debt of
    // the insured); ticket 30.00 − 9.00 = 21.00 €;
    // the AMC covers the ordinary ticket only: 3000 − round(3000 × 70 %) = 3000 − 2100 = 9.00 €;
    // patient 30.00 − 9.00 − 9.00 = 12.00 €.
    let mut h = header(ADULT, 19850512, GP);
    h.pathway = b'H';
    let (o, trace) = liquidate_traced(&h, &[ngap("G", 100, 20260302, 3000)], 20260316);
    let l = &paid(o).lines[0];
    assert_eq!(
        (
            l.rate,
            l.rate_reason,
            l.amo_gross,
            l.pf,
            l.amo_paid,
            l.ticket,
            l.amc_ticket,
            l.patient
        ),
        (
            3000,
            Some(RateReason::OutOfPathway),
            900,
            200,
            900,
            2100,
            900,
            1200
        )
    );
    assert!(trace.contains("rate 30 % (OUT_OF_PATHWAY"), "{trace}");
}

#[test]
fn psychiatry_is_direct_access_from_16_to_25_only() {
    // CS 30.00 € (grid 1, sector 1) by a psychiatrist on 2026-03-02, H.
    // Patient aged 20 (born 2005-05-12): direct access, 3000 × 70 % = 2100 paid (third-party payment:
    // PF 2 € (18 on 1 Jan) a debt of the insured).
    let mut h = header(YOUNG, 20050512, PSYCHIATRIST);
    h.pathway = b'H';
    let (o, trace) = liquidate_traced(&h, &[ngap("CS", 100, 20260302, 3000)], 20260316);
    let l = &paid(o).lines[0];
    assert_eq!(
        (l.rate, l.rate_reason, l.amo_gross, l.pf, l.amo_paid),
        (7000, Some(RateReason::Default), 2100, 200, 2100)
    );
    assert!(
        trace.contains("H ignored: direct-access specialty up to age 25, patient aged 20"),
        "{trace}"
    );
    // Patient aged 40: out of the pathway, 3000 × 30 % = 900 paid (PF 2 € a debt).
    let mut h = header(ADULT, 19850512, PSYCHIATRIST);
    h.pathway = b'H';
    let (o, _) = liquidate_traced(&h, &[ngap("CS", 100, 20260302, 3000)], 20260316);
    let l = &paid(o).lines[0];
    assert_eq!(
        (l.rate, l.rate_reason, l.amo_gross, l.pf, l.amo_paid),
        (3000, Some(RateReason::OutOfPathway), 900, 200, 900)
    );
}

#[test]
fn rate_priority_exemption_then_local_regime_then_pathway_then_profession() {
    // CS 23.00 € (grid 2: cardiologist sector 2 non-OPTAM) on 2026-03-02, H, by a specialist.
    // Local regime beneficiary: 90 % beats the pathway: 2300 × 90 % = 2070 paid (PF 2 € a debt).
    let mut h = header(LOCAL, 19850512, CARDIO_S2);
    h.pathway = b'H';
    let (o, trace) = liquidate_traced(&h, &[ngap("CS", 100, 20260302, 2300)], 20260316);
    let l = &paid(o).lines[0];
    assert_eq!(
        (l.rate, l.rate_reason, l.amo_gross, l.pf, l.amo_paid),
        (9000, Some(RateReason::LocalRegime), 2070, 200, 2070)
    );
    assert!(
        trace.contains("H ignored: LOCAL_REGIME takes priority"),
        "{trace}"
    );
    // Same beneficiary, ALD exemption claimed and an ALD period covering the date: 100 % > 90 %:
    // AMO 23.00 € paid (third-party payment: PF 2 € a debt of the insured).
    h.exemption = b'4';
    let (o, _) = liquidate_traced(&h, &[ngap("CS", 100, 20260302, 2300)], 20260316);
    let l = &paid(o).lines[0];
    assert_eq!(
        (l.rate, l.rate_reason, l.amo_gross, l.amo_paid),
        (10000, Some(RateReason::Ald), 2300, 2300)
    );
    // A child of 13 (under pathway_min_age 16) seen out of the pathway by the cardiologist: 70 %,
    // 2300 × 70 % = 1610; C2S: no PF.
    let mut h = header(CHILD_C2S, 20120512, CARDIO_S2);
    h.pathway = b'H';
    let (o, trace) = liquidate_traced(&h, &[ngap("CS", 100, 20260302, 2300)], 20260316);
    let l = &paid(o).lines[0];
    assert_eq!((l.rate, l.amo_gross, l.pf), (7000, 1610, 0));
    assert!(
        trace.contains("H ignored: patient aged 13, under pathway_min_age 16"),
        "{trace}"
    );
}

/// The first rejection of an outcome and the number of lines paid (0 when the claim is rejected).
fn first_rejection(o: liquidator_core::rules::Outcome) -> (Reject, usize) {
    match o {
        liquidator_core::rules::Outcome::Rejected(r) => (r.code, 0),
        liquidator_core::rules::Outcome::Paid(p) => {
            (p.rejected_lines[0].rejection.code, p.lines.len())
        }
    }
}

/// The controls take the beneficiary found by the engine's read-ahead (`Beneficiaries::get_at` with
/// the position of its first row): the same view as a search, and a position that is not the key's
/// first row (the next one, the one before, the first of the store, past the end) is searched again,
/// never trusted.
#[test]
fn a_beneficiary_taken_at_a_found_position_is_the_one_searched() {
    use liquidator_core::date::Date;
    let store = &crate::common::mini_refs().beneficiaries;
    let text =
        std::fs::read_to_string(crate::common::mini_src().join("beneficiaries.tsv")).unwrap();
    let mut seen = 0;
    for row in text.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        let key =
            liquidator_core::refs::benef_key(cols[0].as_bytes(), cols[1].parse().unwrap()).unwrap();
        let i = store.find(key).expect("a beneficiary of the table");
        let seen_by = |v: Option<liquidator_core::refs::beneficiaries::BenefView<'_>>| {
            v.map(|v| (v.birth, v.rights_at(Date(20260316)).map(|r| r.0)))
        };
        let searched = seen_by(store.get(key));
        assert!(searched.is_some());
        for at in [
            Some(i),
            None,
            Some(i + 1),
            i.checked_sub(1),
            Some(0),
            Some(usize::MAX),
        ] {
            assert_eq!(
                seen_by(store.get_at(key, at)),
                searched,
                "key {key} at {at:?}"
            );
        }
        seen += 1;
    }
    assert!(seen > 3);
    // A key not in the store, whatever the position given.
    assert!(store.get_at(7, Some(0)).is_none());
}

/// The controls take the beneficiary key the engine computed when it routed the claim
/// (`ClaimInput::benef_key`): the outcome and the trace are those of the key computed from the
/// header, for a known beneficiary, another one, an unknown rank and a NIR that is not one.
#[test]
fn a_claim_given_its_beneficiary_key_liquidates_as_one_whose_key_is_computed() {
    use liquidator_core::refs::benef_key;
    let mut unknown = header(ADULT, 19850512, GP);
    unknown.rank = 7;
    let mut bad = header(ADULT, 19850512, GP);
    bad.nir[3] = b'X';
    let lines = [ngap("G", 100, 20260302, 3000)];
    for h in [
        header(ADULT, 19850512, GP),
        header(YOUNG, 20050512, PSYCHIATRIST),
        unknown,
        bad,
    ] {
        let given = liquidate_traced_keyed(&h, &lines, 20260316, benef_key(&h.nir, h.rank));
        let computed = liquidate_traced_keyed(&h, &lines, 20260316, None);
        assert_eq!(format!("{given:?}"), format!("{computed:?}"));
    }
}
