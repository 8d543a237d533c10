//! Criterion benches of the Parquet export (`run --parquet`, issue #11: "costs ≤ 15 % over `run`"):
//! the engine alone on a generated day (the rules, no sink), the same with the Arrow record batches
//! built (`record_batches_of`, what the export builds per window) and with the whole Parquet sink
//! (batches built, encoded and written). The ratios between the three are what the export adds;
//! `scripts/bench-parquet` measures the same ratio on whole runs of the binary.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use liquidator_core::date::Date;
use liquidator_core::engine::{self, Options};
use liquidator_core::refs::Refs;
use liquidator_core::sink::{Event, Sink, SinkError};
use liquidator_export::parquet::{ParquetSink, PseudonymKey, record_batches_of};
use liquidator_testkit::generator::{GenConfig, generate};

/// Claims of the generated day under `cargo bench`: enough for a few engine windows and row groups.
/// `cargo test --all-targets` runs each bench once (`scripts/test`): a small day keeps that quick.
fn claims() -> u64 {
    if std::env::args().any(|a| a == "--bench") {
        20_000
    } else {
        1_000
    }
}

/// Builds the record batches of each window and drops them (the export without its encoder).
struct BatchesOnly<'k> {
    key: &'k PseudonymKey,
    header: liquidator_core::claims::record::BatchHeader,
    rows: usize,
}

impl Sink for BatchesOnly<'_> {
    fn window(&mut self, events: &[Event<'_>]) -> Result<(), SinkError> {
        let b = record_batches_of(&self.header, self.key, events).map_err(SinkError::Other)?;
        self.rows += b.iter().map(|b| b.num_rows()).sum::<usize>();
        Ok(())
    }
}

fn bench_export(c: &mut Criterion) {
    let claims = claims();
    let tmp = tempfile::tempdir().expect("tempdir");
    let day = tmp.path().join("day");
    generate(&GenConfig {
        claims,
        beneficiaries: 2 * claims,
        seed: 42,
        date: Date(20260316),
        out: day.clone(),
        scenarios: false,
        ccam_subset: true,
    })
    .expect("generated day");
    let refs = Refs::load(&day.join("refs")).expect("refs");
    let data = std::fs::read(day.join("claims.b2")).expect("claims");
    let (header, _) = engine::batch_header(&data).expect("batch header");
    let key = PseudonymKey::from_secret(b"bench secret, not for production").expect("key");
    let opts = Options::default();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).expect("out dir");

    let mut g = c.benchmark_group("parquet_export");
    g.sample_size(10);
    g.throughput(Throughput::Elements(claims));
    g.bench_function("engine_no_sink", |b| {
        b.iter(|| engine::process(&data, &refs, &opts, &mut []).expect("run"))
    });
    g.bench_function("engine_record_batches", |b| {
        b.iter(|| {
            let mut s = BatchesOnly {
                key: &key,
                header,
                rows: 0,
            };
            engine::process(&data, &refs, &opts, &mut [&mut s]).expect("run");
            s.rows
        })
    });
    g.bench_function("engine_parquet_sink", |b| {
        b.iter(|| {
            let _ = std::fs::remove_file(out.join(liquidator_export::parquet::PARQUET_FILE));
            let mut s = ParquetSink::create(&out, key.clone())
                .expect("sink")
                .with_batch(&header);
            engine::process(&data, &refs, &opts, &mut [&mut s]).expect("run")
        })
    });
    g.finish();
}

criterion_group!(benches, bench_export);
criterion_main!(benches);
