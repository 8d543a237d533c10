//! Debts of the insured (issue #14 part B, `rules::debt`): under third-party payment the participation
//! forfaitaire / franchise is not deducted from the practitioner's payment but becomes a debt of the
//! insured, recovered oldest first from the AMO amounts later paid to the insured. Mini reference set;
//! amounts by hand in the comments (G 30.00 € at 70 % = 21.00, PF 2.00; AMI 3.15 € at 60 % = 1.89,
//! franchise 1.00; batch date 2026-03-16).

use crate::common;
use common::*;
use liquidator_core::codes::Reject;
use liquidator_core::date::Date;
use liquidator_core::rules::debt::{Debt, DebtKind, DebtOrigin};
use liquidator_core::rules::{BenefState, PayeeKind};

const NURSE: u32 = 100000006;

fn insured(
    mut h: liquidator_core::claims::ClaimHeader,
    claim_no: u32,
) -> liquidator_core::claims::ClaimHeader {
    h.tp_amo = false;
    h.claim_no = claim_no;
    h
}

#[test]
fn third_party_participation_becomes_a_debt_recovered_from_the_next_claim_paid_to_the_insured() {
    let r = mini_refs();
    let mut st = BenefState::default();
    // Claim 1, third-party payment: the GP is paid 21.00, the PF 2.00 is booked as a debt.
    let mut h = header(ADULT, 19850512, GP);
    h.claim_no = 11;
    let p = paid(liquidate_with(
        r,
        &h,
        &[ngap("G", 100, 20260302, 3000)],
        &mut st,
    ));
    let l = &p.lines[0];
    assert_eq!(
        (p.payee, l.pf, l.debt, l.amo_paid, l.recovered, l.patient),
        (PayeeKind::Practitioner, 200, 200, 2100, 0, 0)
    );
    assert!(p.recoveries.is_empty());
    let d = st.open_debts();
    assert_eq!(d.len(), 1);
    assert_eq!(
        (
            d[0].origin.claim,
            d[0].origin.line,
            d[0].origin.kind,
            d[0].amount,
            d[0].open
        ),
        (11, 1, DebtKind::Participation, 200, 200)
    );
    assert_eq!(d[0].origin.created, Date(20260316));
    // Claim 2 the next day, paid to the insured: 21.00 − PF 2.00 = 19.00 owed, 2.00 of it kept for the
    // debt → the insured receives 17.00.
    let p = paid(liquidate_with(
        r,
        &insured(h, 12),
        &[ngap("G", 100, 20260303, 3000)],
        &mut st,
    ));
    let l = &p.lines[0];
    assert_eq!(
        (p.payee, l.pf, l.debt, l.amo_paid, l.recovered, l.patient),
        (PayeeKind::Insured, 200, 0, 1900, 200, 200)
    );
    assert_eq!(p.recoveries.len(), 1);
    let rc = &p.recoveries[0];
    assert_eq!(
        (
            rc.line,
            rc.debt.claim,
            rc.debt.line,
            rc.amount,
            rc.open_after,
            rc.age_days
        ),
        (0, 11, 1, 200, 0, 0)
    );
    assert!(st.open_debts().is_empty());
}

#[test]
fn recovery_takes_the_oldest_debt_first_and_leaves_the_rest_open() {
    let r = mini_refs();
    let mut st = BenefState::default();
    // Three third-party nurse claims (one AMI each, different days): three franchise debts of 1.00.
    for (k, day) in [(21, 20260302), (22, 20260303), (23, 20260304)] {
        let mut h = header(ADULT, 19850512, NURSE);
        h.claim_no = k;
        let p = paid(liquidate_with(
            r,
            &h,
            &[ngap("AMI", 100, day, 315)],
            &mut st,
        ));
        assert_eq!((p.lines[0].debt, p.lines[0].amo_paid), (100, 189));
    }
    assert_eq!(st.open_debt_cents(), 300);
    // An AMI paid to the insured: 1.89 − franchise 1.00 = 0.89, all kept for the oldest debt (claim 21):
    // 0.11 stays open on it; the insured receives 0.
    let p = paid(liquidate_with(
        r,
        &insured(header(ADULT, 19850512, NURSE), 24),
        &[ngap("AMI", 100, 20260305, 315)],
        &mut st,
    ));
    assert_eq!((p.lines[0].amo_paid, p.lines[0].recovered), (89, 89));
    assert_eq!(p.recoveries.len(), 1);
    assert_eq!(
        (
            p.recoveries[0].debt.claim,
            p.recoveries[0].amount,
            p.recoveries[0].open_after
        ),
        (21, 89, 11)
    );
    assert_eq!(st.open_debt_cents(), 211);
    // A G paid to the insured: 19.00 owed; settles 0.11 (claim 21), 1.00 (22), 1.00 (23) in that order;
    // the insured receives 19.00 − 2.11 = 16.89.
    let p = paid(liquidate_with(
        r,
        &insured(header(ADULT, 19850512, GP), 25),
        &[ngap("G", 100, 20260306, 3000)],
        &mut st,
    ));
    let got: Vec<(u32, i64, i64)> = p
        .recoveries
        .iter()
        .map(|x| (x.debt.claim, x.amount, x.open_after))
        .collect();
    assert_eq!(got, [(21, 11, 0), (22, 100, 0), (23, 100, 0)]);
    assert_eq!((p.lines[0].amo_paid, p.lines[0].recovered), (1900, 211));
    assert_eq!(st.open_debt_cents(), 0);
}

#[test]
fn a_rejected_claim_neither_books_nor_recovers_and_a_practitioner_payment_recovers_nothing() {
    let r = mini_refs();
    let mut st = BenefState::default();
    let h = header(ADULT, 19850512, GP);
    paid(liquidate_with(
        r,
        &h,
        &[ngap("G", 100, 20260302, 3000)],
        &mut st,
    ));
    assert_eq!(st.open_debt_cents(), 200);
    // Care after the batch date: rejected, the debt untouched.
    let o = liquidate_with(
        r,
        &insured(h, 2),
        &[ngap("G", 100, 20260320, 3000)],
        &mut st,
    );
    assert_eq!(rejected(o).code, Reject::FutureCare);
    assert_eq!(st.open_debt_cents(), 200);
    // Another third-party claim: nothing is recovered from the practitioner's payment; a second debt.
    let p = paid(liquidate_with(
        r,
        &h,
        &[ngap("G", 100, 20260303, 3000)],
        &mut st,
    ));
    assert!(p.recoveries.is_empty());
    assert_eq!((p.lines[0].amo_paid, st.open_debts().len()), (2100, 2));
}

#[test]
fn a_debt_carried_from_an_earlier_night_is_recovered_first_with_its_age() {
    let r = mini_refs();
    let mut st = BenefState::default();
    // What the ledger hands over: a PF debt booked on the night of 2026-02-14, 1.50 of 2.00 still open.
    st.push_debt(Debt {
        origin: DebtOrigin {
            created: Date(20260214),
            practitioner: GP,
            claim: 7,
            line: 1,
            date_of_care: Date(20260213),
            kind: DebtKind::Participation,
        },
        amount: 200,
        open: 150,
    });
    // A fully settled debt is not carried.
    st.push_debt(Debt {
        origin: DebtOrigin {
            created: Date(20260215),
            practitioner: GP,
            claim: 8,
            line: 1,
            date_of_care: Date(20260215),
            kind: DebtKind::Participation,
        },
        amount: 200,
        open: 0,
    });
    assert_eq!(st.open_debts().len(), 1);
    // Batch date 2026-03-16: 30 days after 2026-02-14.
    let p = paid(liquidate_with(
        r,
        &insured(header(ADULT, 19850512, GP), 3),
        &[ngap("G", 100, 20260302, 3000)],
        &mut st,
    ));
    let rc = &p.recoveries[0];
    assert_eq!(
        (
            rc.debt.claim,
            rc.amount,
            rc.open_after,
            rc.age_days,
            rc.debt_amount
        ),
        (7, 150, 0, 30, 200)
    );
    assert_eq!(p.lines[0].recovered, 150);
}

/// `debts.tsv` is read from the beneficiaries' final states at the end of the run (`Sink::finish_with`,
/// no copy of the debts in `BatchInfo`, issue #13): by beneficiary key, each one's debts oldest first,
/// aged on the batch date (2026-03-16 − 2026-03-10 = 6 days), a beneficiary without debt absent. Rows
/// written by hand from formats/outputs.md's layout.
#[test]
fn debts_tsv_lists_the_final_states_by_beneficiary_key_then_oldest_first() {
    use liquidator_core::claims::record::BatchHeader;
    use liquidator_core::engine::BatchInfo;
    use liquidator_core::output::debts::{DEBTS, DEBTS_HEADER, DebtSink};
    use liquidator_core::refs::benef_key;
    use liquidator_core::sink::Sink;
    use liquidator_core::states::States;
    let debt = |kind, claim, line, care, amount, open| Debt {
        origin: DebtOrigin {
            created: Date(20260310),
            practitioner: NURSE,
            claim,
            line,
            date_of_care: Date(care),
            kind,
        },
        amount,
        open,
    };
    let (low, high, none) = (
        benef_key(b"1850578006084", 1).unwrap(),
        benef_key(b"2900175123456", 2).unwrap(),
        benef_key(b"1700175000001", 1).unwrap(),
    );
    let mut states = States::new();
    // Seeded in another order than the keys'.
    let mut st = BenefState::default();
    st.push_debt(debt(DebtKind::Participation, 7, 1, 20260305, 200, 200));
    states.seed(high, st);
    states.seed(none, BenefState::default());
    let mut st = BenefState::default();
    st.push_debt(debt(DebtKind::Franchise, 3, 2, 20260302, 100, 40));
    st.push_debt(debt(DebtKind::Participation, 4, 1, 20260304, 200, 200));
    states.seed(low, st);
    let dir = tempfile::tempdir().unwrap();
    let mut sink = DebtSink::create(dir.path()).unwrap();
    let info = BatchInfo {
        header: Some(BatchHeader {
            sender: 1,
            batch_no: 1,
            date: Date(20260316),
            version: 1,
        }),
        ..BatchInfo::default()
    };
    sink.finish_with(&info, &states).unwrap();
    let text = std::fs::read_to_string(dir.path().join(DEBTS)).unwrap();
    let want = format!(
        "{DEBTS_HEADER}\
         1850578006084-001\tFRANCHISE\t000000003\t2\t100000006\t2026-03-02\t2026-03-10\t6\t1.00\t0.60\t0.40\n\
         1850578006084-001\tPF\t000000004\t1\t100000006\t2026-03-04\t2026-03-10\t6\t2.00\t0.00\t2.00\n\
         2900175123456-002\tPF\t000000007\t1\t100000006\t2026-03-05\t2026-03-10\t6\t2.00\t0.00\t2.00\n"
    );
    assert_eq!(text, want);
    assert_eq!(states.open_debt_totals().unwrap(), (3, 440));
}

/// `DebtSink::finish` without the final states cannot list the open debts: with debts open it is an
/// error naming `debts.tsv`, never a file with the header alone that disagrees with the summary's
/// `open_debts` (review of the memory pass); with none open it writes the header.
#[test]
fn debts_sink_finished_without_the_states_refuses_rather_than_listing_no_debt() {
    use liquidator_core::engine::BatchInfo;
    use liquidator_core::output::debts::{DEBTS, DEBTS_HEADER, DebtSink};
    use liquidator_core::sink::Sink;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = DebtSink::create(dir.path()).unwrap();
    let info = BatchInfo {
        open_debts: 2,
        open_debts_cents: 300,
        ..BatchInfo::default()
    };
    let err = sink.finish(&info).unwrap_err().to_string();
    assert!(err.contains(DEBTS), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let mut sink = DebtSink::create(dir.path()).unwrap();
    sink.finish(&BatchInfo::default()).unwrap();
    let text = std::fs::read_to_string(dir.path().join(DEBTS)).unwrap();
    assert_eq!(text, DEBTS_HEADER);
}

/// A final state whose debts do not read (open 2.01 € of a 2.00 € debt) makes `debts.tsv` fail,
/// naming the file and the corrupt ledger, instead of listing that beneficiary with no debt (the
/// reader's error was discarded).
#[test]
fn debts_tsv_refuses_a_state_whose_debts_do_not_read_rather_than_skip_it() {
    use liquidator_core::engine::BatchInfo;
    use liquidator_core::output::debts::{DEBTS, DebtSink};
    use liquidator_core::sink::Sink;
    use liquidator_core::states::{States, packed};
    let mut st = BenefState::default();
    st.push_debt(Debt {
        origin: DebtOrigin {
            created: Date(20260310),
            practitioner: NURSE,
            claim: 7,
            line: 1,
            date_of_care: Date(20260305),
            kind: DebtKind::Participation,
        },
        amount: 200,
        open: 200,
    });
    let mut b = Vec::new();
    packed::encode(&st, &mut b);
    // the recovered amount, zigzag 0 → 1: −0.01 € recovered, open 2.01 € > amount
    *b.last_mut().unwrap() = 1;
    let mut states = States::new();
    states.seed_packed(7, &b);
    let dir = tempfile::tempdir().unwrap();
    let mut sink = DebtSink::create(dir.path()).unwrap();
    let e = sink
        .finish_with(&BatchInfo::default(), &states)
        .unwrap_err()
        .to_string();
    assert!(e.contains(DEBTS) && e.contains("ledger corrupt"), "{e}");
}

/// `debts.tsv` is written at the end through a direct buffer (`WriteBack::direct_large`) that the
/// sink's `held_bytes` did not count (review of stop 30): nothing before the finish, its buffer
/// (256 KiB for a file this small) after, on a filesystem that takes `O_DIRECT`.
#[test]
fn the_debts_sink_counts_its_end_of_run_direct_buffer_in_its_held_bytes() {
    use liquidator_core::engine::BatchInfo;
    use liquidator_core::output::debts::DebtSink;
    use liquidator_core::output::writeback::{DIRECT_BYTES, WriteBack};
    use liquidator_core::sink::Sink;
    use liquidator_core::states::States;
    let dir = tempfile::tempdir().unwrap();
    let probe = std::fs::File::create(dir.path().join("probe")).unwrap();
    let direct = WriteBack::direct(probe).is_direct();
    let mut sink = DebtSink::create(dir.path()).unwrap();
    assert_eq!(sink.held_bytes(), 0);
    sink.finish_with(&BatchInfo::default(), &States::new())
        .unwrap();
    let want = if direct { DIRECT_BYTES } else { 0 };
    assert_eq!(sink.held_bytes(), want, "O_DIRECT taken: {direct}");
}
