//! Line-level rejections (formats/codes.md, "Scope"): a rule that condemns one act rejects that line
//! and the rest of the claim is paid; claim-scope codes still reject the whole claim. Expected amounts
//! are computed by hand from the mini reference set (fixtures/mini/refs): G = 30.00 € from 2024-12-22,
//! QZFA036 = 28.80 € (grid 1), default rate 70 %, participation forfaitaire 2 € from 2024-05-15.

use crate::common;
use common::*;
use liquidator_core::codes::Reject;
use liquidator_core::rules::{BenefState, Outcome};

#[test]
fn incompatible_pair_pays_the_higher_priced_act_and_rejects_the_other_line() {
    let r = mini_refs();
    let o = liquidate(
        r,
        &header(ADULT, 19850512, GP),
        &[
            ccam("QZFA036", 1, "", b'1', 20260302, 2880),
            ccam("QZJA002", 1, "", b'2', 20260302, 1330),
        ],
    );
    let p = paid(o);
    assert_eq!(p.lines.len(), 1);
    let l = &p.lines[0];
    // QZFA036 alone: association code 1 = 100 %, base 28.80; AMO 70 % = 20.16; PF 2.00 charged as a
    // debt of the insured (third-party payment): the practitioner is paid 20.16.
    assert_eq!((l.line_no, l.index), (1, 0));
    assert_eq!(
        (l.base, l.amo_gross, l.pf, l.amo_paid),
        (2880, 2016, 200, 2016)
    );
    assert_eq!(p.rejected_lines.len(), 1);
    let lr = &p.rejected_lines[0];
    assert_eq!(lr.index, 1);
    assert_eq!(
        (lr.rejection.code, lr.rejection.line_no),
        (Reject::Incompatible, Some(2))
    );
}

#[test]
fn unknown_act_line_is_rejected_and_the_consultation_paid() {
    let r = mini_refs();
    let p = paid(liquidate(
        r,
        &header(ADULT, 19850512, GP),
        &[
            ccam("ZZZZ999", 1, "", b' ', 20260302, 5000),
            ngap("G", 100, 20260302, 3000),
        ],
    ));
    // G: 30.00 × 70 % = 21.00 paid (third-party payment: PF 2.00 a debt of the insured), reported as
    // line 2 (index 1 in the claim).
    assert_eq!(p.lines.len(), 1);
    let l = &p.lines[0];
    assert_eq!((l.line_no, l.index), (2, 1));
    assert_eq!(
        (l.base, l.amo_gross, l.pf, l.amo_paid),
        (3000, 2100, 200, 2100)
    );
    let lr = &p.rejected_lines[0];
    assert_eq!(
        (lr.index, lr.rejection.code, lr.rejection.line_no),
        (0, Reject::ActUnknown, Some(1))
    );
}

#[test]
fn no_line_left_rejects_the_claim_with_the_first_line_rejection() {
    let r = mini_refs();
    let rej = rejected(liquidate(
        r,
        &header(ADULT, 19850512, GP),
        &[
            ccam("ZZZZ998", 1, "", b' ', 20260302, 5000),
            ccam("ZZZZ999", 1, "", b' ', 20260302, 5000),
        ],
    ));
    assert_eq!((rej.code, rej.line_no), (Reject::ActUnknown, Some(1)));
}

#[test]
fn claim_scope_code_rejects_the_whole_claim_even_with_a_bad_line() {
    let r = mini_refs();
    let o = liquidate(
        r,
        &header(ADULT, 19850512, 999_999_999),
        &[
            ccam("ZZZZ999", 1, "", b' ', 20260302, 5000),
            ngap("G", 100, 20260302, 3000),
        ],
    );
    assert!(matches!(&o, Outcome::Rejected(r) if r.code == Reject::PracUnknown));
}

#[test]
fn partially_paid_claim_is_accounted_line_by_line_in_the_outputs() {
    let mut hd = header(ADULT, 19850512, GP);
    hd.claim_no = 777;
    let (_dir, out, s) = run_claims(&[(
        hd,
        vec![
            ngap("G", 100, 20260302, 3000),
            ccam("ZZZZ999", 1, "", b' ', 20260302, 4500),
        ],
    )]);
    assert!(s.conserved(), "{:?}", s.conservation);
    assert_eq!((s.claims_read, s.claims_paid, s.claims_rejected), (1, 1, 0));
    assert_eq!((s.claims_partially_paid, s.line_rejections), (1, 1));
    assert_eq!((s.lines_read, s.lines_paid, s.lines_rejected), (2, 1, 1));
    assert_eq!(s.billed_cents, 7500);
    assert_eq!((s.paid_billed_cents, s.rejected_billed_cents), (3000, 4500));
    assert_eq!(s.line_rejections_by_code.get("R060"), Some(&1));
    assert!(s.rejections_by_code.is_empty());
    let rej = std::fs::read_to_string(out.join("rejections.tsv")).unwrap();
    let rows: Vec<&str> = rej.lines().skip(1).collect();
    assert_eq!(rows.len(), 1);
    let cells: Vec<&str> = rows[0].split('\t').collect();
    assert_eq!(
        (cells[0], cells[1], cells[2], cells[8], cells[9]),
        ("000000777", "2", "R060", "45.00", "LINE")
    );
    let pay = std::fs::read_to_string(out.join("payments.tsv")).unwrap();
    assert_eq!(pay.lines().count(), 2, "header + the G line");
}

/// The engine liquidates on the beneficiary's state itself (`rules::liquidate_in_place`: no copy a
/// claim) and drops what a rejected claim leaves. A first try that counted an exclusive modifier on
/// the session and then set a line aside must start its second try from the state before the claim,
/// as the copying `rules::liquidate` does, else the remaining line meets its own modifier.
#[test]
fn a_retry_after_a_line_set_aside_starts_from_the_state_before_the_claim_when_liquidated_in_place()
{
    let r = mini_refs();
    let h = header(ADULT, 19850512, GP);
    // QZFA036 with the exclusive modifier F, and the lower priced QZJA002 incompatible with it
    let lines = [
        ccam("QZFA036", 1, "F", b'1', 20260302, 4786),
        ccam("QZJA002", 1, "", b'2', 20260302, 1330),
    ];
    let mut copied = BenefState::default();
    let want = paid(liquidate_with(r, &h, &lines, &mut copied));
    assert_eq!(want.lines.len(), 1);
    assert_eq!(want.rejected_lines.len(), 1);
    assert_eq!(want.rejected_lines[0].rejection.code, Reject::Incompatible);
    let before = BenefState::default();
    let mut st = before.clone();
    let got = paid(liquidate_in_place_with(r, &h, &lines, &mut st, &mut |s| {
        s.clone_from(&before)
    }));
    assert_eq!(got, want);
    assert_eq!(format!("{st:?}"), format!("{copied:?}"));
    // not restored, the second try sees the first one's modifier and nothing is paid
    let mut st = before.clone();
    let o = liquidate_in_place_with(r, &h, &lines, &mut st, &mut |_| {});
    assert!(matches!(o, Outcome::Rejected(_)), "{o:?}");
}
