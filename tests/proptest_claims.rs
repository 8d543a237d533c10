//! Issue #7: mutated valid batches never panic, and every accepted batch reconciles.

mod common;
use common::*;
use liquidator_core::claims::BatchHeader;
use liquidator_core::date::Date;
use liquidator_core::engine::{self, Options, RunError};
use liquidator_core::output::OutBufs;
use liquidator_testkit::write::BatchWriter;
use proptest::prelude::*;

fn valid() -> Vec<u8> {
    let mut w = BatchWriter::new(
        Vec::new(),
        &BatchHeader {
            sender: 1,
            batch_no: 3,
            date: Date(20260316),
            version: 100,
        },
    )
    .unwrap();
    let bens: [&[u8; 13]; 3] = [ADULT, PF49, LOCAL];
    for i in 0..12u32 {
        let mut h = header(
            bens[i as usize % 3],
            19850512,
            [GP, CARDIO_S2, DENTIST][i as usize % 3],
        );
        h.claim_no = i + 1;
        let lines = match i % 3 {
            0 => vec![ngap("G", 100, 20260302, 3000)],
            1 => vec![ngap("CS", 100, 20260303, 4000)],
            _ => vec![
                ccam("QZFA036", 1, "", b'1', 20260104, 2880),
                ccam("QZJA002", 1, "F", b'2', 20260104, 3236),
            ],
        };
        w.claim(&h, &lines).unwrap();
    }
    w.finish().unwrap()
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Truncate(usize),
    InsertCr(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        any::<usize>().prop_map(Mutation::InsertCr),
    ]
}

fn apply(data: &mut Vec<u8>, m: &Mutation) {
    let mut lines: Vec<Vec<u8>> = data.split(|&b| b == b'\n').map(|l| l.to_vec()).collect();
    let n = lines.len().max(1);
    match *m {
        Mutation::Flip(i, b) => {
            if !data.is_empty() {
                let k = i % data.len();
                data[k] = b;
            }
            return;
        }
        Mutation::DeleteLine(i) => {
            lines.remove(i % n);
        }
        Mutation::DuplicateLine(i) => {
            let l = lines[i % n].clone();
            lines.insert(i % n, l);
        }
        Mutation::SwapLines(a, b) => lines.swap(a % n, b % n),
        Mutation::Truncate(i) => {
            data.truncate(i % (data.len() + 1));
            return;
        }
        Mutation::InsertCr(i) => {
            lines[i % n].push(b'\r');
        }
    }
    *data = lines.join(&b'\n');
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]
    #[test]
    fn mutated_batches_never_panic_and_accepted_ones_reconcile(ms in proptest::collection::vec(mutation(), 1..4)) {
        let mut data = valid();
        for m in &ms {
            apply(&mut data, m);
        }
        let mut total = liquidator_core::output::Summary::default();
        let mut rows: Vec<String> = Vec::new();
        let r = engine::process(&data, mini_refs(), &Options::default(), |b: OutBufs| {
            total.merge(&b.summary);
            rows.extend(String::from_utf8_lossy(&b.rejections).lines().map(String::from));
        });
        match r {
            Ok(_) => {
                prop_assert_eq!(total.claims_read, total.claims_paid + total.claims_rejected);
                prop_assert_eq!(total.billed_cents, total.paid_billed_cents + total.rejected_billed_cents);
                prop_assert_eq!(total.paid_billed_cents, total.amo_paid_cents + total.amc_cents + total.patient_cents);
                for row in rows {
                    let c: Vec<&str> = row.split('\t').collect();
                    prop_assert!(c.len() >= 7 && c[0].len() == 9 && !c[2].is_empty() && !c[5].is_empty() && !c[6].is_empty(), "{row}");
                }
            }
            Err(RunError::Batch { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }
}
