//! Any bytes as a claims file, through the whole engine (`engine::process`) on the mini reference set.
//! Asserts: no panic; when the batch is accepted, the conservation identities of `summary.json` and
//! "nothing lost" (every claim header is one claim, the trailer reconciles with claims + orphans).
//!
//! Each input is run twice: as given, and with its trailer recomputed from the records (so that damaged
//! claims inside an otherwise consistent batch reach the accepted path, where the identities are checked).
#![no_main]
use libfuzzer_sys::fuzz_target;
use liquidator_testkit::write;
use liquidator_core::claims::{BatchTrailer, record};
use liquidator_core::engine::{self, Options, RunError};
use liquidator_core::output::summary::SummarySink;
use liquidator_core::rules::Outcome;
use liquidator_core::sink::{Event, Sink, SinkError};
use liquidator_core::refs::Refs;
use std::sync::OnceLock;

fn refs() -> &'static Refs {
    static R: OnceLock<Refs> = OnceLock::new();
    R.get_or_init(|| {
        let d = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/mini/refs");
        Refs::load(&d).expect("mini refs")
    })
}

fn check(data: &[u8]) {
    let mut totals = SummarySink::default();
    let mut rows = RejectionRows(0);
    let r = engine::process(data, refs(), &Options::default(), &mut [&mut totals, &mut rows]);
    let rows = rows.0;
    match r {
        Ok(info) => {
            let total = totals.into_summary(&info);
            let t = &total;
            assert_eq!(t.claims_read, t.claims_paid + t.claims_rejected);
            assert_eq!(t.lines_read, t.lines_paid + t.lines_rejected);
            assert_eq!(t.billed_cents, t.paid_billed_cents + t.rejected_billed_cents);
            assert_eq!(t.paid_billed_cents, t.amo_paid_cents + t.amc_cents + t.patient_cents);
            assert_eq!(t.rejections_by_code.values().sum::<u64>(), t.claims_rejected);
            // Nothing lost: one claim per header record, one rejection row per rejected claim or orphan.
            assert_eq!(t.claims_read, info.header_records);
            assert_eq!(rows, t.claims_rejected + t.orphan_records);
            let trailer = info.trailer.expect("accepted without trailer");
            assert_eq!(trailer.total, t.billed_cents + t.orphan_billed_cents);
            assert!(t.lines_read <= info.act_records);
        }
        Err(RunError::Batch { .. }) => {}
        Err(e) => panic!("not a batch error: {e}"),
    }
}

/// Counts what would be rows of `rejections.tsv`: rejected claims and orphan records.
struct RejectionRows(u64);

impl Sink for RejectionRows {
    fn window(&mut self, events: &[Event<'_>]) -> Result<(), SinkError> {
        for e in events {
            match e {
                Event::Claim(c) if matches!(c.outcome, Outcome::Rejected(_)) => self.0 += 1,
                Event::Orphan(_) => self.0 += 1,
                Event::Claim(_) => {}
            }
        }
        Ok(())
    }
}

/// The input with its last record replaced by a trailer consistent with the records before it.
fn with_fixed_trailer(data: &[u8]) -> Option<Vec<u8>> {
    let first = memchr_nl(data)? + 1;
    let header = data[..first - 1].strip_suffix(b"\r").unwrap_or(&data[..first - 1]);
    let batch_no = record::batch_header(header).ok()?.batch_no;
    let mut body = data[first..].strip_suffix(b"\n").unwrap_or(&data[first..]);
    if let Some(i) = body.iter().rposition(|&c| c == b'\n') {
        if body[i + 1..].starts_with(b"99") {
            body = &body[..=i];
        }
    }
    let mut out = data[..first].to_vec();
    out.extend_from_slice(body);
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let (claims, lines, total) = write::tally(&out[first..]);
    write::batch_trailer_into(&mut out, &BatchTrailer { batch_no, claims, lines, total });
    out.push(b'\n');
    Some(out)
}

fn memchr_nl(d: &[u8]) -> Option<usize> {
    d.iter().position(|&c| c == b'\n')
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some(fixed) = with_fixed_trailer(data) {
        check(&fixed);
    }
});
