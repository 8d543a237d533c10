//! Whole-pipeline tests on the mini reference set: determinism across thread counts and window sizes,
//! conservation, batch failures and atomic outputs.

use crate::common;
use common::*;
use liquidator_core::claims::{ActLine, BatchHeader};
use liquidator_core::date::Date;
use liquidator_core::engine::{self, Options, RunError};
use liquidator_testkit::write::BatchWriter;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A fresh temporary directory, removed when dropped.
fn tmp(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("liquidator-engine-{tag}-"))
        .tempdir()
        .unwrap()
}

/// A batch of `n` claims over the mini set's beneficiaries and practitioners, mixing paid and rejected
/// outcomes, with participation caps that depend on file order.
fn batch(n: u32) -> Vec<u8> {
    let h = BatchHeader {
        sender: 1,
        batch_no: 42,
        date: Date(20260316),
        version: 100,
    };
    let mut w = BatchWriter::new(Vec::new(), &h).unwrap();
    let bens: [(&[u8; 13], u32); 5] = [
        (ADULT, 19850512),
        (LOCAL, 19850512),
        (CHILD_C2S, 20120512),
        (PF49, 19850512),
        (CLOSED, 19850512),
    ];
    let pracs = [GP, CARDIO_S2, ORTHO_OPTAM, GP_NC, DENTIST];
    for i in 0..n {
        let (nir, birth) = bens[(i as usize * 7) % 5];
        let mut hd = header(nir, birth, pracs[(i as usize * 3) % 5]);
        hd.claim_no = 1000 + i;
        let day = 20260301 + (i % 14);
        let lines: Vec<ActLine> = match i % 6 {
            0 => vec![ngap("G", 100, day, 3000)],
            1 => vec![ngap("CS", 100, day, 2300 + (i as i64 % 5) * 500)],
            2 => vec![
                ccam("QZFA036", 1, "", b'1', 20260104, 2880),
                ccam("QZJA002", 1, "F", b'2', 20260104, 3236),
            ],
            3 => vec![ccam("LAQK013", 1, "Z", b' ', day, 3078)],
            4 => vec![ccam("NFFC004", 1, "", b' ', day, 19953)],
            _ => vec![
                ngap("G", 100, day, 3000),
                ccam("QZJA002", 1, "", b' ', day, 2660),
            ],
        };
        w.claim(&hd, &lines).unwrap();
        if i % 97 == 0 {
            w.claim(&hd, &lines).unwrap(); // duplicate transmission
        }
    }
    w.finish().unwrap()
}

fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    for e in walk(dir) {
        let rel = e.strip_prefix(dir).unwrap().display().to_string();
        m.insert(rel, std::fs::read(&e).unwrap());
    }
    m
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.extend(walk(&p))
        } else {
            v.push(p)
        }
    }
    v.sort();
    v
}

fn run_with(
    claims: &Path,
    out: &Path,
    threads: usize,
    window: usize,
) -> Result<liquidator_core::output::Summary, RunError> {
    let refs = mini_refs();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        engine::run(
            claims,
            refs,
            out,
            true,
            &Options {
                window,
                ..Default::default()
            },
        )
    })
}

#[test]
fn output_is_byte_identical_for_1_and_4_threads_and_any_window() {
    let d_dir = tmp("det");
    let d = d_dir.path();
    let claims = d.join("claims.b2");
    std::fs::write(&claims, batch(3000)).unwrap();
    let s1 = run_with(&claims, &d.join("o1"), 1, engine::WINDOW).unwrap();
    run_with(&claims, &d.join("o4"), 4, engine::WINDOW).unwrap();
    run_with(&claims, &d.join("o4w"), 4, 50_000).unwrap();
    let (a, b, c) = (
        read_tree(&d.join("o1")),
        read_tree(&d.join("o4")),
        read_tree(&d.join("o4w")),
    );
    assert!(a.len() >= 4, "{:?}", a.keys());
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert!(s1.claims_paid > 0 && s1.claims_rejected > 0);
}

#[test]
fn summary_reconciles_and_counts_every_claim() {
    let d_dir = tmp("sum");
    let d = d_dir.path();
    let claims = d.join("claims.b2");
    std::fs::write(&claims, batch(600)).unwrap();
    let s = run_with(&claims, &d.join("o"), 2, engine::WINDOW).unwrap();
    let c = &s.conservation;
    assert!(s.conserved(), "{c:?}");
    assert_eq!(s.claims_read, 600 + 7); // 7 duplicates (i % 97 == 0 for i < 600)
    assert_eq!(s.rejections_by_code.get("R030"), Some(&7));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("o/summary.json")).unwrap()).unwrap();
    for k in [
        "claims_read",
        "claims_paid",
        "claims_rejected",
        "lines_read",
        "lines_paid",
        "lines_rejected",
        "billed_cents",
        "base_cents",
        "amo_paid_cents",
        "amc_cents",
        "patient_cents",
        "participations_cents",
        "rejected_billed_cents",
    ] {
        assert!(json[k].is_i64() || json[k].is_u64(), "{k}");
    }
    assert!(json["rejections_by_code"].is_object());
    // one payment row per paid line, one rejection row per rejected claim or rejected line
    let pay = std::fs::read_to_string(d.join("o/payments.tsv")).unwrap();
    assert_eq!(pay.lines().count() as u64 - 1, s.lines_paid);
    let rej = std::fs::read_to_string(d.join("o/rejections.tsv")).unwrap();
    let scope = |sc: &str| rej.lines().filter(|l| l.ends_with(sc)).count() as u64;
    assert_eq!(scope("\tCLAIM"), s.claims_rejected);
    assert_eq!(scope("\tLINE"), s.line_rejections);
    assert!(s.line_rejections > 0 && s.claims_partially_paid > 0);
    assert_eq!(
        rej.lines().count() as u64 - 1,
        s.claims_rejected + s.line_rejections
    );
}

#[test]
fn trailer_mismatch_fails_the_batch_and_writes_nothing() {
    let d_dir = tmp("trailer");
    let d = d_dir.path();
    let claims = d.join("claims.b2");
    let mut bytes = batch(10);
    let n = bytes.len();
    // trailer claim count (positions 9-16 of the last record) + 1
    let t = n - 129;
    bytes[t + 15] = if bytes[t + 15] == b'9' {
        b'8'
    } else {
        bytes[t + 15] + 1
    };
    std::fs::write(&claims, &bytes).unwrap();
    let e = run_with(&claims, &d.join("o"), 2, engine::WINDOW).unwrap_err();
    assert!(
        matches!(
            e,
            RunError::Batch {
                code: liquidator_core::codes::BatchFail::CountMismatch,
                ..
            }
        ),
        "{e}"
    );
    assert!(!d.join("o").exists());
    assert_eq!(
        std::fs::read_dir(d).unwrap().count(),
        1,
        "no staging directory left behind"
    );
}

#[test]
fn existing_output_directory_is_not_overwritten_without_force() {
    let d_dir = tmp("force");
    let d = d_dir.path();
    let claims = d.join("claims.b2");
    std::fs::write(&claims, batch(5)).unwrap();
    std::fs::create_dir_all(d.join("o")).unwrap();
    std::fs::write(d.join("o/keep"), b"x").unwrap();
    let e = engine::run(
        &claims,
        mini_refs(),
        &d.join("o"),
        false,
        &Options::default(),
    )
    .unwrap_err();
    assert!(matches!(e, RunError::Stage(_)));
    assert!(d.join("o/keep").exists());
    engine::run(
        &claims,
        mini_refs(),
        &d.join("o"),
        true,
        &Options::default(),
    )
    .unwrap();
    assert!(!d.join("o/keep").exists() && d.join("o/summary.json").exists());
}

#[cfg(unix)]
#[test]
fn outputs_are_not_world_readable() {
    use std::os::unix::fs::PermissionsExt;
    let d_dir = tmp("mode");
    let d = d_dir.path();
    let claims = d.join("claims.b2");
    std::fs::write(&claims, batch(5)).unwrap();
    engine::run(
        &claims,
        mini_refs(),
        &d.join("o"),
        false,
        &Options::default(),
    )
    .unwrap();
    for f in walk(&d.join("o")) {
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o007, 0, "{} is {:o}", f.display(), mode);
    }
}

/// Regression: records outside claims (R002) used to be written after all the claims of their window,
/// so `rejections.tsv` was not in file order and changed with the window size. Every rejection row
/// (orphans included) must come in input order, whatever the window.
#[test]
fn orphan_records_are_reported_in_file_order_for_any_window() {
    let d_dir = tmp("orphans");
    let d = d_dir.path();
    let h = BatchHeader {
        sender: 1,
        batch_no: 43,
        date: Date(20260316),
        version: 100,
    };
    let mut w = BatchWriter::new(Vec::new(), &h).unwrap();
    for i in 0..400u32 {
        // Every 4th claim is rejected (closed rights) so that claims and orphans share the file.
        let nir = if i % 4 == 0 { CLOSED } else { ADULT };
        let mut hd = header(nir, 19850512, GP);
        hd.claim_no = 5000 + i;
        w.claim(&hd, &[ngap("G", 100, 20260302, 3000)]).unwrap();
        if i % 10 == 3 {
            // An act record after the claim's end record: outside any claim.
            w.raw_records(&[liquidator_testkit::write::act_line(&ngap(
                "G", 100, 20260302, 3000,
            ))])
            .unwrap();
        }
    }
    let claims = d.join("claims.b2");
    std::fs::write(&claims, w.finish().unwrap()).unwrap();
    let big = run_with(&claims, &d.join("big"), 2, engine::WINDOW).unwrap();
    run_with(&claims, &d.join("small"), 2, 4_000).unwrap();
    assert_eq!(big.orphan_records, 40);
    let rows = |dir: &str| std::fs::read_to_string(d.join(dir).join("rejections.tsv")).unwrap();
    let (a, b) = (rows("big"), rows("small"));
    assert_eq!(a, b, "rejections.tsv depends on the window size");
    let input_lines: Vec<u64> = a
        .lines()
        .skip(1)
        .map(|r| r.split('\t').nth(5).unwrap().parse().unwrap())
        .collect();
    assert_eq!(input_lines.len(), 100 + 40);
    assert!(
        input_lines.windows(2).all(|w| w[0] < w[1]),
        "rejections not in file order: {input_lines:?}"
    );
}

/// The seam for a ledger (`states`): a yearly participation counter seeded before the run is carried
/// into it and the state is read back after it. ADULT has 49 € of participations charged in 2026; the
/// yearly cap is 50 € and the participation 2 € (mini `parameters.tsv`), so the G of 2026-03-02 is
/// charged 1 €, and the counter reads 50 € after the run. Without the seed, the full 2 € and 2 € used.
#[test]
fn seeded_state_carries_into_the_run_and_is_read_back() {
    use liquidator_core::refs::benef_key;
    use liquidator_core::rules::BenefState;
    use liquidator_core::states::States;
    let h = BatchHeader {
        sender: 1,
        batch_no: 7,
        date: Date(20260316),
        version: 100,
    };
    let mut w = BatchWriter::new(Vec::new(), &h).unwrap();
    w.claim(
        &header(ADULT, 19850512, GP),
        &[ngap("G", 100, 20260302, 3000)],
    )
    .unwrap();
    let data = w.finish().unwrap();
    let key = benef_key(ADULT, 1).unwrap();
    let run = |states: &mut States| {
        let mut totals = liquidator_core::output::summary::SummarySink::default();
        let info = engine::process_in(
            &data,
            mini_refs(),
            &Options::default(),
            &mut [&mut totals],
            states,
        )
        .unwrap();
        totals.into_summary(&info).participations_cents
    };

    let mut seeded = States::new();
    let mut st = BenefState::default();
    st.seeded = true;
    st.add_pf(2026, 4900);
    seeded.seed(key, st);
    assert_eq!(run(&mut seeded), 100);
    assert_eq!(seeded.get(key).map(|s| s.pf_used(2026)), Some(5000));

    let mut fresh = States::new();
    assert_eq!(run(&mut fresh), 200);
    assert_eq!(fresh.get(key).map(|s| s.pf_used(2026)), Some(200));
    assert_eq!(fresh.into_sorted().unwrap().len(), 1);
}

/// A carried state that does not decode (the review's ledger record: a participation year of 2^32
/// before an open debt of 2.00 €, which `packed::validate` let through while `decode` refused it)
/// stops the run with `RunError::State` naming the claim's input line (exit 11), nothing written —
/// before, the beneficiary was liquidated as new, against empty caps, and its debt vanished.
#[test]
fn a_carried_state_that_does_not_decode_stops_the_run_and_writes_nothing() {
    use liquidator_core::carry::{ActKey, BatchRef, Carry, EarlierClaim};
    use liquidator_core::refs::benef_key;
    use liquidator_core::rules::BenefState;
    use liquidator_core::rules::debt::{Debt, DebtKind, DebtOrigin};
    use liquidator_core::states::packed;
    struct Unchecked {
        key: u64,
        bytes: Vec<u8>,
    }
    impl Carry for Unchecked {
        fn state(&self, _: u64) -> Option<BenefState> {
            None
        }
        fn state_packed(&self, benef: u64, out: &mut Vec<u8>) -> bool {
            out.clear();
            out.extend_from_slice(&self.bytes);
            benef == self.key
        }
        fn claim(&self, _: u32, _: u32) -> Option<EarlierClaim> {
            None
        }
        fn act(&self, _: &ActKey) -> Option<BatchRef> {
            None
        }
    }
    let mut s = BenefState::default();
    s.push_debt(Debt {
        origin: DebtOrigin {
            created: Date(20260310),
            practitioner: GP,
            claim: 1,
            line: 1,
            date_of_care: Date(20260302),
            kind: DebtKind::Participation,
        },
        amount: 200,
        open: 200,
    });
    let mut enc = Vec::new();
    packed::encode(&s, &mut enc);
    let mut bytes = vec![packed::VERSION, 1, 1];
    packed::put_varint(&mut bytes, 1 << 32);
    bytes.push(0);
    bytes.extend_from_slice(&enc[3..]);
    let carry = Unchecked {
        key: benef_key(ADULT, 1).unwrap(),
        bytes,
    };
    let h = BatchHeader {
        sender: 1,
        batch_no: 7,
        date: Date(20260316),
        version: 100,
    };
    // line 1 the batch header; LOCAL's claim lines 2-4 (header, act, end); ADULT's header line 5
    let mut w = BatchWriter::new(Vec::new(), &h).unwrap();
    w.claim(
        &header(LOCAL, 19850512, GP),
        &[ngap("G", 100, 20260302, 3000)],
    )
    .unwrap();
    let mut adult = header(ADULT, 19850512, GP);
    adult.claim_no += 1;
    w.claim(&adult, &[ngap("G", 100, 20260303, 3000)]).unwrap();
    let td = tmp("corrupt-state");
    let file = td.path().join("claims.b2");
    std::fs::write(&file, w.finish().unwrap()).unwrap();
    let out = td.path().join("out");
    let opts = Options {
        carry: Some(&carry),
        ..Options::default()
    };
    let e = engine::run(&file, mini_refs(), &out, false, &opts).unwrap_err();
    assert!(
        matches!(e, RunError::State { line: 5, .. }),
        "{e:?}: not the state error of line 5"
    );
    assert!(e.to_string().contains("ledger corrupt"), "{e}");
    assert!(!out.exists(), "outputs written");
}

/// A sink that records the input line of every event it receives, window by window, and fails from
/// its `fail_at`-th window on (0: never) with its own name.
struct Recording {
    name: &'static str,
    fail_at: usize,
    windows: Vec<Vec<u64>>,
}

impl liquidator_core::sink::Sink for Recording {
    fn window(
        &mut self,
        events: &[liquidator_core::sink::Event<'_>],
    ) -> Result<(), liquidator_core::sink::SinkError> {
        use liquidator_core::sink::Event;
        self.windows.push(
            events
                .iter()
                .map(|e| match e {
                    Event::Claim(c) => c.claim.pos.line,
                    Event::Orphan(o) => o.pos.line,
                })
                .collect(),
        );
        if self.fail_at > 0 && self.windows.len() >= self.fail_at {
            return Err(liquidator_core::sink::SinkError::Other(self.name.into()));
        }
        Ok(())
    }
}

/// `engine::emit` hands a window to its sinks side by side on the run's pool: each sink still gets
/// every event in file order, every sink gets the window even when another fails on it, and the
/// error reported is the first failing sink's in list order, whatever the thread count.
#[test]
fn sinks_side_by_side_each_get_every_window_in_order_and_the_first_error_in_list_order_wins() {
    let data = batch(3000);
    let refs = mini_refs();
    let rec = |name, fail_at| Recording {
        name,
        fail_at,
        windows: Vec::new(),
    };
    let opts = Options {
        window: 20_000,
        ..Default::default()
    };
    // Alone, on one thread: the reference order.
    let mut alone = rec("alone", 0);
    let pool1 = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool1
        .install(|| engine::process(&data, refs, &opts, &mut [&mut alone]))
        .unwrap();
    let all: Vec<u64> = alone.windows.concat();
    assert!(alone.windows.len() >= 3, "{} windows", alone.windows.len());
    assert!(all.windows(2).all(|w| w[0] < w[1]), "file order");
    for threads in [1, 2, 4] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let (mut a, mut b, mut c) = (rec("a", 0), rec("b", 0), rec("c", 0));
        pool.install(|| engine::process(&data, refs, &opts, &mut [&mut a, &mut b, &mut c]))
            .unwrap();
        for s in [&a, &b, &c] {
            assert_eq!(s.windows, alone.windows, "{} at {threads} threads", s.name);
        }
        // The second and third sinks fail on the second window, the third one first in time
        // perhaps: the second's error is the one returned, and the first sink got that window too.
        let (mut a, mut b, mut c) = (rec("a", 0), rec("b", 2), rec("c", 2));
        let e = pool
            .install(|| engine::process(&data, refs, &opts, &mut [&mut a, &mut b, &mut c]))
            .unwrap_err();
        assert_eq!(e.to_string(), "output: b", "at {threads} threads");
        assert_eq!(a.windows, alone.windows[..2], "at {threads} threads");
        assert_eq!(c.windows, alone.windows[..2], "at {threads} threads");
    }
}

/// A window is booked (framed, checked for duplicates, routed) beside the shards of the window before
/// it and the sinks of the one before that (`engine::process_in`): a booking error is still returned
/// where the stages met it one window at a time — after the sinks received every window before the
/// failing one, and behind a sink's error on the window just before it.
#[test]
fn a_booking_error_comes_after_the_sinks_of_the_windows_before_it_and_behind_their_errors() {
    let good = batch(3000);
    let refs = mini_refs();
    let opts = Options {
        window: 20_000,
        ..Default::default()
    };
    let rec = |name, fail_at| Recording {
        name,
        fail_at,
        windows: Vec::new(),
    };
    let mut alone = rec("alone", 0);
    engine::process(&good, refs, &opts, &mut [&mut alone]).unwrap();
    let n = alone.windows.len();
    assert!(n >= 4, "{n} windows");
    // The trailer's batch number made unreadable: the last window's framing fails.
    let mut bad = good.clone();
    let body = &bad[..bad.len() - 1];
    let last = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    assert_eq!(
        &bad[last..last + 2],
        b"99",
        "the last record is the trailer"
    );
    bad[last + 3] = b'X';
    for threads in [1, 2, 4] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut a = rec("a", 0);
        let e = pool
            .install(|| engine::process(&bad, refs, &opts, &mut [&mut a]))
            .unwrap_err();
        assert!(
            matches!(
                e,
                RunError::Batch {
                    code: liquidator_core::codes::BatchFail::NoTrailer,
                    ..
                }
            ),
            "{e:?} at {threads} threads"
        );
        assert_eq!(a.windows, alone.windows[..n - 1], "at {threads} threads");
        // A sink failing on the window before the trailer's: its error wins.
        let mut b = rec("b", n - 1);
        let e = pool
            .install(|| engine::process(&bad, refs, &opts, &mut [&mut b]))
            .unwrap_err();
        assert_eq!(e.to_string(), "output: b", "at {threads} threads");
    }
}

/// `Options::window` past `engine::MAX_WINDOW` (a library caller: the command line refuses it) is
/// taken as the largest window — one window for a small file — and never overflows a window's
/// end (`start + window`): `usize::MAX` gives the same events, in the same single window, as
/// `MAX_WINDOW` itself.
#[test]
fn a_window_past_the_largest_is_taken_as_the_largest() {
    let data = batch(300);
    let refs = mini_refs();
    let run = |window| {
        let mut r = Recording {
            name: "w",
            fail_at: 0,
            windows: Vec::new(),
        };
        let opts = Options {
            window,
            ..Default::default()
        };
        engine::process(&data, refs, &opts, &mut [&mut r]).unwrap();
        r.windows
    };
    let largest = run(engine::MAX_WINDOW);
    assert_eq!(largest.len(), 1, "one window");
    assert!(largest[0].len() >= 300);
    assert_eq!(run(usize::MAX), largest);
    assert_eq!(run(engine::MAX_WINDOW + 1), largest);
}

/// The run's scratch files mapped by this process while the windows are liquidated
/// (`/proc/self/maps`, read at each window: their names, unlinked, end in " (deleted)"), as the
/// paths of the mappings under the directory `.1` (other tests of this binary run beside).
struct ScratchMaps(std::sync::Arc<std::sync::Mutex<Vec<String>>>, String);

impl liquidator_core::sink::Sink for ScratchMaps {
    fn window(
        &mut self,
        _: &[liquidator_core::sink::Event<'_>],
    ) -> Result<(), liquidator_core::sink::SinkError> {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        let mut v = self.0.lock().unwrap();
        v.extend(
            maps.lines()
                .filter(|l| l.contains(".scratch (deleted)"))
                .filter_map(|l| l.find('/').map(|i| l[i..].to_string()))
                .filter(|p| p.starts_with(&self.1)),
        );
        v.sort();
        v.dedup();
        Ok(())
    }
}

/// Review of stop 23 (M1): `Options::scratch_dir` (`run --scratch-dir`) puts the states' and the
/// dues' scratch files in a directory of their own, off the output's disk — none in the staging
/// directory — with the same output bytes, and nothing left behind. Without it they are in the
/// staging directory (where the filesystem allows scratch files at all: else on the heap, and
/// neither run maps one).
#[cfg(target_os = "linux")]
#[test]
fn scratch_files_go_to_the_scratch_dir_when_one_is_given_with_the_same_outputs() {
    let d_dir = tmp("scratch");
    let d = d_dir.path();
    let claims = d.join("claims.b2");
    std::fs::write(&claims, batch(2000)).unwrap();
    let scratch = d.join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let run = |out: &Path, dir: Option<&Path>| -> Vec<String> {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = ScratchMaps(seen.clone(), format!("{}/", d.display()));
        let opts = Options {
            scratch_dir: dir,
            ..Default::default()
        };
        engine::run_with(&claims, mini_refs(), out, true, &opts, move |_| {
            Ok(vec![Box::new(sink) as Box<dyn liquidator_core::sink::Sink>])
        })
        .unwrap();

        seen.lock().unwrap().clone()
    };
    let staged = run(&d.join("o-staged"), None);
    let own = run(&d.join("o-own"), Some(&scratch));
    // the states' file and the dues' file, or neither (a filesystem without scratch files)
    assert!(staged.is_empty() || staged.len() == 2, "{staged:?}");
    assert_eq!(own.len(), staged.len(), "{own:?}");
    let staging = format!("{}/.o-staged.partial-", d.display());
    for m in &staged {
        assert!(m.starts_with(&staging), "{m} not in the staging directory");
    }
    for m in &own {
        assert!(
            m.starts_with(&format!("{}/.", scratch.display())),
            "{m} not in {}",
            scratch.display()
        );
    }
    assert_eq!(read_tree(&d.join("o-staged")), read_tree(&d.join("o-own")));
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0);
}

/// The report's aggregates count the control totals in their own pass (`Sink::counts_summary`) and
/// the engine then runs no summary sink of its own: the run's totals and `summary.json` are those the
/// summary sink counts, byte for byte, at 1 and 4 threads and with windows of a few claims. The
/// aggregates themselves (`report_data.json`), added up in one accumulator per pool thread, are the
/// same bytes for both.
#[test]
fn the_control_totals_counted_by_the_aggregates_are_the_summary_sinks() {
    let d_dir = tmp("counted");
    let d = d_dir.path();
    let claims = d.join("claims.b2");
    std::fs::write(&claims, batch(2000)).unwrap();
    let plain = run_with(&claims, &d.join("plain"), 2, engine::WINDOW).unwrap();
    assert!(
        plain.claims_rejected > 0 && plain.claims_paid > 0,
        "{plain:?}"
    );
    for (threads, window) in [(1, engine::WINDOW), (4, 4_000)] {
        let out = d.join(format!("aggregates-{threads}"));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let opts = Options {
            window,
            ..Default::default()
        };
        let s = pool
            .install(|| {
                engine::run_with(&claims, mini_refs(), &out, true, &opts, |dir| {
                    Ok(vec![
                        Box::new(liquidator_export::report::data::AggregatesSink::new(dir))
                            as Box<dyn liquidator_core::sink::Sink>,
                    ])
                })
            })
            .unwrap();
        assert_eq!(s, plain);
        assert_eq!(
            std::fs::read(out.join("summary.json")).unwrap(),
            std::fs::read(d.join("plain").join("summary.json")).unwrap()
        );
    }
    assert_eq!(
        std::fs::read(d.join("aggregates-1").join("report_data.json")).unwrap(),
        std::fs::read(d.join("aggregates-4").join("report_data.json")).unwrap()
    );
}

/// With a carry (a ledger), the engine hands it every byte of the file after the batch header once,
/// in file order (`Carry::window_read`, `engine::parse_window_read`: each window's sub-chunks read
/// right after their parse, under one lock, whichever worker parsed them) — on pools of 1 to 5
/// threads busy with the windows before (their shards and sinks run beside the parse), windows of
/// 64 bytes to the default, and a `window_read` that sometimes lingers, so that the workers finish
/// their sub-chunks in other orders. The ledger builds the batch file's checksum from these pieces;
/// out of order it still records the right one, hashed whole after the run (`filesum`), so the
/// ledger's tests would not see it: this pins the pieces themselves.
#[test]
fn a_carry_reads_every_byte_after_the_header_once_in_file_order_whatever_the_threads_and_window() {
    use liquidator_core::carry::{ActKey, BatchRef, Carry, EarlierClaim};
    use liquidator_core::rules::BenefState;
    use std::sync::Mutex;
    struct Pieces(Mutex<Vec<(usize, usize)>>);
    impl Carry for Pieces {
        fn state(&self, _: u64) -> Option<BenefState> {
            None
        }
        fn claim(&self, _: u32, _: u32) -> Option<EarlierClaim> {
            None
        }
        fn act(&self, _: &ActKey) -> Option<BatchRef> {
            None
        }
        fn window_read(&self, at: usize, bytes: &[u8]) {
            let mut v = self.0.lock().unwrap();
            v.push((at, bytes.len()));
            // Every fifth piece read slowly: the other workers finish sub-chunks meanwhile.
            if v.len() % 5 == 0 {
                drop(v);
                std::thread::sleep(std::time::Duration::from_micros(300));
            }
        }
    }
    let data = batch(3000);
    let refs = mini_refs();
    let (_, first) = engine::batch_header(&data).unwrap();
    for threads in [1, 2, 3, 5] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        for window in [64, 20_000, 150_000, engine::WINDOW] {
            let carry = Pieces(Mutex::new(Vec::new()));
            let opts = Options {
                window,
                carry: Some(&carry),
                ..Default::default()
            };
            let mut sink = Recording {
                name: "pieces",
                fail_at: 0,
                windows: Vec::new(),
            };
            pool.install(|| engine::process(&data, refs, &opts, &mut [&mut sink]))
                .unwrap();
            let pieces = carry.0.into_inner().unwrap();
            let mut at = first;
            for &(p, len) in &pieces {
                assert_eq!(p, at, "{threads} threads, window {window}");
                at += len;
            }
            assert_eq!(at, data.len(), "{threads} threads, window {window}");
            assert!(
                window < 20_000 || pieces.len() > sink.windows.len(),
                "{threads} threads, window {window}: {} pieces for {} windows",
                pieces.len(),
                sink.windows.len()
            );
        }
    }
}
