//! Issue #7: a run killed with SIGKILL mid-way leaves no file under the final output name; messages never
//! print a full NIR.

mod common;
use common::*;
use liquidator_core::claims::BatchHeader;
use liquidator_core::date::Date;
use liquidator_testkit::write::BatchWriter;
use std::process::Command;
use std::time::{Duration, Instant};

#[cfg(unix)]
#[test]
fn sigkill_mid_run_leaves_no_final_output() {
    let dir = std::env::temp_dir().join(format!("liquidator-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let refs = mini_refs_dir("kill");
    // A batch large enough to take a few seconds in a debug build.
    let claims = dir.join("claims.b2");
    let mut w = BatchWriter::new(
        std::io::BufWriter::new(std::fs::File::create(&claims).unwrap()),
        &BatchHeader {
            sender: 1,
            batch_no: 1,
            date: Date(20260316),
            version: 100,
        },
    )
    .unwrap();
    for i in 0..400_000u32 {
        let mut h = header(ADULT, 19850512, GP);
        h.claim_no = i + 1;
        w.claim(&h, &[ngap("G", 100, 20260301 + i % 14, 3000)])
            .unwrap();
    }
    w.finish().unwrap();
    let out = dir.join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_liquidator"))
        .args(["run", "--quiet", "--claims"])
        .arg(&claims)
        .arg("--refs")
        .arg(&refs)
        .arg("--out")
        .arg(&out)
        .spawn()
        .unwrap();
    let staging = dir.join(format!(".out.partial-{}", child.id()));
    let t0 = Instant::now();
    while !staging.join("payments.tsv").exists() && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    let finished_early = child.try_wait().unwrap().is_some();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    if !finished_early {
        assert!(
            !out.exists(),
            "a killed run left its final output directory"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&refs);
}

#[test]
fn messages_never_print_a_full_nir() {
    let dir = std::env::temp_dir().join(format!("liquidator-nir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let claims = dir.join("claims.b2");
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
    let out = dir.join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_liquidator"))
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
    let _ = std::fs::remove_dir_all(&dir);
}
