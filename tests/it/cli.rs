//! The command-line contract: commands, exit codes, `explain` output.

use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_liquidator"))
}

fn sample(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/sample")
        .join(p)
}

/// `liquidator ARGS… --claims SAMPLE/claims.b2 --refs SAMPLE/refs`: the command line most of these tests
/// start from (the bundled sample day and its reference set).
fn on_sample(args: &[&str]) -> Command {
    let mut c = bin();
    c.args(args)
        .arg("--claims")
        .arg(sample("claims.b2"))
        .arg("--refs")
        .arg(sample("refs"));
    c
}

/// A path that does not exist yet inside a fresh temporary directory (removed when the guard drops):
/// the commands under test create it themselves.
fn tmp(tag: &str) -> (tempfile::TempDir, PathBuf) {
    let guard = tempfile::Builder::new()
        .prefix(&format!("liquidator-cli-{tag}-"))
        .tempdir()
        .unwrap();
    let path = guard.path().join(tag);
    (guard, path)
}

#[test]
fn run_exit_codes_success_existing_output_and_bad_refs() {
    let (_out_dir, out) = tmp("run");
    let st = on_sample(&["run"])
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(0));
    let o = on_sample(&["run"]).arg("--out").arg(&out).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // invalid reference tables: exit 3, nothing written
    let (_bad_dir, bad) = tmp("badrefs");
    std::fs::create_dir_all(&bad).unwrap();
    for e in std::fs::read_dir(sample("refs")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, bad.join(p.file_name().unwrap())).unwrap();
    }
    let t = std::fs::read_to_string(bad.join("parameters.tsv"))
        .unwrap()
        .replace("pf_yearly_cap\t2005-01-01", "pf_yearly_cap\t2005-02-30");
    std::fs::write(bad.join("parameters.tsv"), t).unwrap();
    let (_out2_dir, out2) = tmp("run2");
    let o = bin()
        .args(["run", "--claims"])
        .arg(sample("claims.b2"))
        .arg("--refs")
        .arg(&bad)
        .arg("--out")
        .arg(&out2)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("parameters.tsv:"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!out2.exists());
}

#[test]
fn refs_lookup_prints_json_and_refuses_unknown_codes() {
    let o = bin()
        .args(["refs", "lookup", "--refs"])
        .arg(sample("refs"))
        .args(["BGQP002", "--date", "2025-02-01"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["activities"][0]["tariffs"]["1"], "28.68");
    let o = bin()
        .args(["refs", "lookup", "--refs"])
        .arg(sample("refs"))
        .args(["ZZZZ999", "--date", "2025-02-01"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(8));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown"));
    let o = bin()
        .args(["refs", "lookup", "--refs"])
        .arg(sample("refs"))
        .args(["BGQP002", "--date", "2025-02-30"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn explain_shows_each_step_in_text_and_json() {
    // 700000014: two acts, association codes 1 and 2
    let o = on_sample(&["explain"])
        .args(["--claim", "700000014"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let t = String::from_utf8_lossy(&o.stdout);
    for step in [
        "[rights]",
        "[practitioner]",
        "[grid]",
        "[ccam_tariff]",
        "[association]",
        "[base]",
        "[rate]",
        "[participation]",
        "[complementary]",
        "[payee]",
        "PAID",
    ] {
        assert!(t.contains(step), "missing {step} in:\n{t}");
    }
    assert!(t.contains("50 %"), "{t}");
    let o = on_sample(&["explain", "--json"])
        .args(["--claim", "700000017"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["outcome"]["lines"][0]["heavy_forfait"], "24.00");
    assert!(
        v[0]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["rule"] == "heavy_act_forfait")
    );
    // a rejected claim explains its rule
    let o = on_sample(&["explain"])
        .args(["--claim", "700000063"])
        .output()
        .unwrap();
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(t.contains("REJECTED"), "{t}");
    // unknown claim → 8
    let o = on_sample(&["explain"])
        .args(["--claim", "555555555"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(8));
}

/// `run --window-kib` changes how the file is cut, never what is written (engine architecture invariant):
/// the sample with the smallest window gives the same bytes as the bundled expected outputs' run.
#[test]
fn window_kib_does_not_change_the_output() {
    let (_d1, default) = tmp("win-default");
    let (_d2, small) = tmp("win-small");
    for (out, extra) in [(&default, None), (&small, Some("64"))] {
        let mut c = on_sample(&["run", "--quiet"]);
        c.arg("--out").arg(out);
        if let Some(k) = extra {
            c.args(["--window-kib", k]);
        }
        assert_eq!(c.status().unwrap().code(), Some(0));
    }
    for f in ["payments.tsv", "rejections.tsv", "summary.json"] {
        assert_eq!(
            std::fs::read(default.join(f)).unwrap(),
            std::fs::read(small.join(f)).unwrap(),
            "{f} depends on --window-kib"
        );
    }
    // Below 64 KiB or above 1 GiB (`engine::MAX_WINDOW`: a window's claims and lines are numbered
    // in 32 bits) is refused by the command line (exit 2) naming the range, not silently rounded
    // nor wrapped (2^32 KiB would be 0 once multiplied in 32 bits); 1 GiB itself runs.
    for k in ["1", "1048577", "4294967296"] {
        let (_d, out) = tmp("win-bad");
        let st = on_sample(&["run", "--window-kib", k])
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(st.status.code(), Some(2), "{k}");
        let said = String::from_utf8_lossy(&st.stderr);
        assert!(said.contains("64..=1048576"), "{k}: {said}");
        assert!(!out.exists(), "{k}");
    }
    let (_d3, largest) = tmp("win-largest");
    let st = on_sample(&["run", "--quiet", "--window-kib", "1048576"])
        .arg("--out")
        .arg(&largest)
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(0));
    assert_eq!(
        std::fs::read(default.join("payments.tsv")).unwrap(),
        std::fs::read(largest.join("payments.tsv")).unwrap()
    );
}

/// `run --scratch-dir` must name a directory the scratch files can use: a path that is not a
/// directory, or (Linux) `/proc` — a filesystem none of ext2/3/4, xfs, tmpfs, where no file can be
/// made — is a usage error (exit 2) with its reason, reported before any work and with nothing
/// written; never a silent fall-back of the states and dues to the heap (review of stop 24).
#[test]
fn run_with_a_scratch_dir_it_cannot_use_is_a_usage_error() {
    let (_out_dir, out) = tmp("scratch");
    let mut cases = vec![(out.with_file_name("missing"), "not a directory")];
    if cfg!(target_os = "linux") {
        cases.push((PathBuf::from("/proc"), "filesystem type"));
    }
    for (dir, why) in cases {
        let o = on_sample(&["run"])
            .arg("--out")
            .arg(&out)
            .arg("--scratch-dir")
            .arg(&dir)
            .arg("--quiet")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{dir:?}: {o:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("--scratch-dir {}: {why}", dir.display())),
            "{err}"
        );
        assert!(!out.exists());
    }
}
