//! Any bytes as a claims file: the engine must not panic, and an accepted batch must reconcile.
#![no_main]
use libfuzzer_sys::fuzz_target;
use liquidator::engine::{self, Options};
use liquidator::output::{OutBufs, Summary};
use liquidator::refs::Refs;
use std::sync::OnceLock;

fn refs() -> &'static Refs {
    static R: OnceLock<Refs> = OnceLock::new();
    R.get_or_init(|| Refs::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/mini/refs")).expect("mini refs"))
}

fuzz_target!(|data: &[u8]| {
    let mut total = Summary::default();
    if engine::process(data, refs(), &Options::default(), |b: OutBufs| total.merge(&b.summary)).is_ok() {
        assert_eq!(total.claims_read, total.claims_paid + total.claims_rejected);
        assert_eq!(total.billed_cents, total.paid_billed_cents + total.rejected_billed_cents);
        assert_eq!(total.paid_billed_cents, total.amo_paid_cents + total.amc_cents + total.patient_cents);
    }
});
