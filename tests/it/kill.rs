//! Issue #7: a run killed with SIGKILL (early, mid-way, late) leaves no final output directory — at most
//! its hidden staging directory; messages never print a full NIR.

use crate::common;
use common::*;
use liquidator_core::claims::BatchHeader;
use liquidator_core::date::Date;
use liquidator_testkit::write::BatchWriter;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn liquidator() -> Command {
    Command::new(env!("CARGO_BIN_EXE_liquidator"))
}

fn run_cmd(claims: &Path, refs: &Path, out: &Path) -> Command {
    let mut c = liquidator();
    // Small windows (256 KiB) give a small day many windows, so the staged payments.tsv grows step by
    // step and the 1 ms polling of `wait_until` reaches each kill point, also with the release binary
    // that `scripts/test` runs (20 runs of 20 passed on the shared machine, load 11).
    c.args([
        "run",
        "--quiet",
        "--threads",
        "2",
        "--window-kib",
        "256",
        "--claims",
    ])
    .arg(claims)
    .arg("--refs")
    .arg(refs)
    .arg("--out")
    .arg(out);
    c
}

/// Size of the `payments.tsv` being written in the hidden staging directory under `parent`, if any.
fn staged_payments(parent: &Path) -> Option<u64> {
    std::fs::read_dir(parent)
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .find_map(|e| Some(std::fs::metadata(e.path().join("payments.tsv")).ok()?.len()))
}

/// Whether a hidden staging directory exists under `parent`.
fn staging_exists(parent: &Path) -> bool {
    std::fs::read_dir(parent).is_ok_and(|mut d| {
        d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with('.')))
    })
}

/// Waits until `ready` (polling every millisecond), failing if the child exits first or `limit` passes.
fn wait_until(child: &mut Child, limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            panic!("the run ended ({st}) before the kill point ({what}): make the batch larger");
        }
        if ready() {
            return;
        }
        assert!(
            t0.elapsed() < limit,
            "kill point ({what}) not reached in {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[cfg(unix)]
#[test]
fn sigkill_early_mid_and_late_leaves_no_final_output() {
    use std::os::unix::process::ExitStatusExt;
    // A synthetic day from the test kit, cut into ~60 windows by `--window-kib 256` (run_cmd).
    let input = tempfile::tempdir().unwrap();
    let gen_dir = input.path().join("day");
    liquidator_testkit::generator::generate(&liquidator_testkit::generator::GenConfig {
        claims: 40_000,
        beneficiaries: 8_000,
        seed: 11,
        date: Date(20260316),
        out: gen_dir.clone(),
        scenarios: false,
        ccam_subset: true,
    })
    .unwrap();
    let (claims, refs) = (gen_dir.join("claims.b2"), gen_dir.join("refs"));

    // A complete run: how long it takes and how large payments.tsv ends up (the kill points).
    let full = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let st = run_cmd(&claims, &refs, &full.path().join("out"))
        .status()
        .unwrap();
    let took = t0.elapsed();
    assert!(st.success(), "reference run failed: {st}");
    let final_len = std::fs::metadata(full.path().join("out/payments.tsv"))
        .unwrap()
        .len();
    drop(full);

    for (what, fraction) in [("early", 0.0), ("middle", 0.5), ("late", 0.9)] {
        let parent = tempfile::tempdir().unwrap();
        let out: PathBuf = parent.path().join("out");
        let mut child = run_cmd(&claims, &refs, &out).spawn().unwrap();
        let target = (final_len as f64 * fraction) as u64;
        let limit = took * 3 + Duration::from_secs(10);
        if fraction == 0.0 {
            // as soon as the staging directory exists
            wait_until(&mut child, limit, what, || staging_exists(parent.path()));
        } else {
            wait_until(&mut child, limit, what, || {
                staged_payments(parent.path()).is_some_and(|n| n >= target)
            });
        }
        child.kill().unwrap(); // SIGKILL
        let st = child.wait().unwrap();
        assert_eq!(
            st.signal(),
            Some(9),
            "{what}: the run was not killed by SIGKILL ({st}): it ended before the kill"
        );
        assert!(
            !out.exists(),
            "{what}: a killed run left its final output directory"
        );
        let left: Vec<String> = std::fs::read_dir(parent.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            left.len() <= 1
                && left
                    .iter()
                    .all(|n| n.starts_with('.') && n.contains("partial")),
            "{what}: a killed run left {left:?} (at most its hidden .partial staging directory)"
        );
    }
}

#[test]
fn messages_never_print_a_full_nir() {
    let dir = tempfile::tempdir().unwrap();
    let claims = dir.path().join("claims.b2");
    let mut w = BatchWriter::new(
        std::fs::File::create(&claims).unwrap(),
        &BatchHeader {
            sender: 1,
            batch_no: 1,
            date: Date(20260316),
            version: 100,
        },
    )
    .unwrap();
    let mut h = header(ADULT, 19850512, GP);
    h.nir_key = *b"00"; // wrong key
    w.claim(&h, &[ngap("G", 100, 20260302, 3000)]).unwrap();
    let mut h = header(b"1850578006099", 19850512, GP); // unknown beneficiary
    h.claim_no = 2;
    w.claim(&h, &[ngap("G", 100, 20260302, 3000)]).unwrap();
    w.finish().unwrap();
    let out = dir.path().join("out");
    let o = liquidator()
        .args(["run", "--claims"])
        .arg(&claims)
        .arg("--refs")
        .arg(mini_src())
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let rej = std::fs::read_to_string(out.join("rejections.tsv")).unwrap();
    for text in [String::from_utf8_lossy(&o.stderr).to_string(), rej] {
        assert!(
            !text.contains("1850578006084") && !text.contains("1850578006099"),
            "full NIR in: {text}"
        );
    }
}
