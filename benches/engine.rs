//! Criterion benches of the hot pieces: the claims parser, the rules on one claim, reference lookups,
//! the output formatting, and the whole pipeline on a batch in memory. Data: the mini reference set
//! (`fixtures/mini/refs`) and claims built with the library's record writer. Whole-run figures are in
//! `scripts/bench`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use liquidator_core::claims::{ActLine, BatchHeader, Chunk, ClaimHeader, Pos};
use liquidator_core::date::Date;
use liquidator_core::engine;
use liquidator_core::output::summary::SummarySink;
use liquidator_core::output::{self, OutBufs};
use liquidator_core::refs::Refs;
use liquidator_core::rules::{self, BenefState, ClaimInput, Ctx, Outcome, Trace};
use liquidator_testkit::write::{self, BatchWriter};
use std::hint::black_box;
use std::path::PathBuf;

fn refs() -> Refs {
    Refs::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/mini/refs"))
        .expect("mini refs")
}

fn header(claim_no: u32) -> ClaimHeader {
    let mut h = write::sample_header();
    h.claim_no = claim_no;
    h.practitioner = 100000001;
    h.amc = *b"0123456789";
    h.contract = *b"02";
    h
}

fn g(date: u32) -> ActLine {
    write::ngap_line("G", 100, Date(date), 3000)
}

fn ccam(code: &[u8; 7], mods: &[u8; 4], assoc: u8, fee: i64) -> ActLine {
    let code = std::str::from_utf8(code).unwrap_or("");
    write::ccam_line(code, 1, mods.trim_ascii_end(), assoc, Date(20260104), fee)
}

fn batch(n: u32) -> Vec<u8> {
    let bh = BatchHeader {
        sender: 1,
        batch_no: 1,
        date: Date(20260316),
        version: 100,
    };
    let mut w = BatchWriter::new(Vec::new(), &bh).unwrap();
    for i in 0..n {
        if i % 4 == 3 {
            w.claim(
                &header(i + 1),
                &[
                    ccam(b"QZFA036", b"    ", b'1', 2880),
                    ccam(b"QZJA002", b"F   ", b'2', 3236),
                ],
            )
            .unwrap();
        } else {
            w.claim(&header(i + 1), &[g(20260302)]).unwrap();
        }
    }
    w.finish().unwrap()
}

fn bench_parser(c: &mut Criterion) {
    let data = batch(50_000);
    let start = data.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut grp = c.benchmark_group("parser");
    grp.throughput(Throughput::Bytes((data.len() - start) as u64));
    let mut chunk = Chunk::default();
    grp.bench_function("chunk_parse_50k_claims", |b| {
        b.iter(|| {
            chunk.parse(black_box(&data), start, data.len(), 2);
            black_box(chunk.claims.len())
        })
    });
    grp.bench_function("count_records", |b| {
        b.iter(|| liquidator_core::claims::reader::count_records(black_box(&data)))
    });
    grp.finish();
}

fn liq(refs: &Refs, h: &ClaimHeader, lines: &[ActLine]) -> Outcome {
    let pos = [Pos::default(); 4];
    let ctx = Ctx::new(refs, Date(20260316), None);
    let input = ClaimInput {
        header: h,
        lines,
        line_pos: &pos[..lines.len()],
        pos: Pos::default(),
        benef_at: None,
        benef_key: None,
    };
    rules::liquidate(&ctx, &input, &mut BenefState::default(), &mut Trace(None))
}

fn bench_rules(c: &mut Criterion) {
    let refs = refs();
    let h = header(1);
    let one = [g(20260302)];
    let two = [
        ccam(b"QZFA036", b"    ", b'1', 2880),
        ccam(b"QZJA002", b"F   ", b'2', 3236),
    ];
    assert!(matches!(liq(&refs, &h, &one), Outcome::Paid(_)));
    assert!(matches!(liq(&refs, &h, &two), Outcome::Paid(_)));
    let mut grp = c.benchmark_group("rules");
    grp.bench_function("liquidate_consultation", |b| {
        b.iter(|| black_box(liq(&refs, black_box(&h), &one)))
    });
    grp.bench_function("liquidate_two_ccam_acts_with_modifier", |b| {
        b.iter(|| black_box(liq(&refs, black_box(&h), &two)))
    });
    grp.finish();
}

fn bench_refs(c: &mut Criterion) {
    let refs = refs();
    let key = (*b"BGQP002", 1u8, 0u8);
    let bkey = liquidator_core::refs::benef_key(b"1850578006084", 1).unwrap();
    let mut grp = c.benchmark_group("refs");
    grp.bench_function("tariff_at_date", |b| {
        b.iter(|| {
            black_box(
                refs.tariffs
                    .get(black_box(&key))
                    .and_then(|h| h.value_at(Date(20250615)))
                    .map(|t| t.g1),
            )
        })
    });
    grp.bench_function("beneficiary_rights_at_date", |b| {
        b.iter(|| {
            black_box(
                refs.beneficiaries
                    .get(black_box(bkey))
                    .and_then(|be| be.rights_at(Date(20260302)))
                    .is_some(),
            )
        })
    });
    grp.bench_function("load_mini_set", |b| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/mini/refs");
        b.iter(|| black_box(Refs::load(&dir).map(|r| r.tariffs.len())))
    });
    grp.finish();
}

fn bench_writers(c: &mut Criterion) {
    let refs = refs();
    let h = header(1);
    let lines = [g(20260302)];
    let Outcome::Paid(p) = liq(&refs, &h, &lines) else {
        panic!("paid expected")
    };
    let pos = [Pos::default()];
    let mut grp = c.benchmark_group("writers");
    grp.bench_function("format_paid_claim", |b| {
        b.iter(|| {
            let mut ob = OutBufs::default();
            output::paid(&mut ob, &h, &lines, &pos, black_box(&p));
            black_box(ob.payments.len())
        })
    });
    grp.finish();
}

/// The whole pipeline on one batch in memory (parse, duplicates, shards, events to a sink), with the
/// summary sink only: the engine's own cost per claim, without files. Stage by stage on a national
/// day: `LIQUIDATOR_TIMING=1` in `scripts/bench`.
fn bench_pipeline(c: &mut Criterion) {
    let refs = refs();
    let n = 20_000;
    let data = batch(n);
    let mut grp = c.benchmark_group("pipeline");
    grp.throughput(Throughput::Elements(n as u64));
    grp.sample_size(10);
    grp.bench_function("process_20k_claims_summary_sink", |b| {
        b.iter(|| {
            let mut totals = SummarySink::default();
            let info = engine::process(
                black_box(&data),
                &refs,
                &engine::Options::default(),
                &mut [&mut totals],
            )
            .expect("batch");
            black_box(totals.into_summary(&info).claims_paid)
        })
    });
    grp.finish();
}

criterion_group!(
    benches,
    bench_parser,
    bench_rules,
    bench_refs,
    bench_writers,
    bench_pipeline
);
criterion_main!(benches);
