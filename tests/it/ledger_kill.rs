//! Issue #14, all or nothing: a `run --ledger` killed with SIGKILL at each point of the commit
//! protocol (formats/ledger.md) leaves, once the ledger is next opened, either the ledger as of the
//! previous night and no final outputs (killed before the rename: running the night again then gives
//! byte-identical outputs and the same ledger), or the whole night (killed after the rename).

use super::common::{copy_ledger, ledger_stats, tree};
use liquidator_core::date::Date;
use liquidator_testkit::generator::{GenConfig, Night, generate_night};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The names of the files in a ledger directory, sorted.
fn ledger_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn liquidator() -> Command {
    Command::new(env!("CARGO_BIN_EXE_liquidator"))
}

fn run(claims: &Path, refs: &Path, out: &Path, ledger: &Path, kill: Option<&str>) -> Output {
    let mut c = liquidator();
    c.args(["run", "--quiet", "--threads", "2", "--claims"])
        .arg(claims)
        .arg("--refs")
        .arg(refs)
        .arg("--out")
        .arg(out)
        .arg("--ledger")
        .arg(ledger);
    c.env_remove("LIQUIDATOR_LEDGER_KILL")
        .env_remove("LIQUIDATOR_LEDGER_FAIL");
    match kill.map(|k| (k, k.strip_prefix("fail:"))) {
        Some((_, Some(f))) => c.env("LIQUIDATOR_LEDGER_FAIL", f),
        Some((k, None)) => c.env("LIQUIDATOR_LEDGER_KILL", k),
        None => &mut c,
    };
    c.output().unwrap()
}

#[cfg(unix)]
#[test]
fn sigkill_at_every_point_of_the_commit_protocol_leaves_the_previous_night_or_the_whole_night() {
    use std::os::unix::process::ExitStatusExt;
    let tmp = tempfile::tempdir().unwrap();
    let ns: Vec<PathBuf> = (0..2)
        .map(|k| {
            let out = tmp.path().join(format!("n{k}"));
            let cfg = GenConfig {
                claims: 1_500,
                beneficiaries: 400,
                seed: 31,
                date: Date(20260316),
                out: out.clone(),
                scenarios: false,
                ccam_subset: false,
            };
            generate_night(
                &cfg,
                &Night {
                    index: k,
                    resend_per_10k: 200,
                },
            )
            .unwrap();
            out
        })
        .collect();
    let refs = ns[0].join("refs");
    let night2 = ns[1].join("claims.b2");
    // The ledger as of night 1, and a clean night 2 on a copy of it: the reference.
    let l1 = tmp.path().join("l1");
    let o = run(
        &ns[0].join("claims.b2"),
        &refs,
        &tmp.path().join("o1"),
        &l1,
        None,
    );
    assert!(o.status.success(), "{o:?}");
    let (after1, _) = ledger_stats(&l1);
    let lref = tmp.path().join("lref");
    copy_ledger(&l1, &lref);
    let oref = tmp.path().join("oref");
    assert!(run(&night2, &refs, &oref, &lref, None).status.success());
    let (after2, _) = ledger_stats(&lref);
    let reference = tree(&oref);
    assert_eq!(after2["nights"].as_array().unwrap().len(), 2);
    // night 2 adds its own files (segments, before-images, the next state image)
    assert_ne!(ledger_files(&l1), ledger_files(&lref));
    assert!(
        ledger_files(&lref)
            .iter()
            .any(|f| f.starts_with("segments.2."))
    );

    // Before the marker is durable the ledger never knew the staging directory: the next run
    // through it removes the directory; after, the ledger's open resolves both.
    let unmarked = [
        "before-ledger-commit",
        "after-states-released",
        "before-ledger-durable",
    ];
    for (point, completed) in [
        ("before-ledger-commit", false),
        ("after-states-released", false),
        ("before-ledger-durable", false),
        ("after-ledger-commit", false),
        ("before-rename", false),
        ("after-rename", true),
        ("before-ledger-finish", true),
    ] {
        let parent = tmp.path().join(point);
        let (ledger, out) = (parent.join("ledger"), parent.join("out"));
        copy_ledger(&l1, &ledger);
        let o = run(&night2, &refs, &out, &ledger, Some(point));
        assert_eq!(o.status.signal(), Some(9), "{point}: not killed: {o:?}");
        let (now, said) = ledger_stats(&ledger);
        // `ledger stats` counts the files the directory names only (layout 6): the files on the
        // disk are compared too, so that a file a killed commit left (or one it removed too early)
        // shows — the open that resolved the night removed what no committed directory names.
        let expected = if completed { &lref } else { &l1 };
        assert_eq!(
            ledger_files(&ledger),
            ledger_files(expected),
            "{point}: the ledger's files"
        );
        let hidden = || -> Vec<_> {
            std::fs::read_dir(&parent)
                .unwrap()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
                .collect()
        };
        if !unmarked.contains(&point) {
            // The ledger knew the staging directory: opening it resolved both.
            assert!(hidden().is_empty(), "{point}: staging left: {:?}", hidden());
        }
        if completed {
            assert!(said.contains("completed"), "{point}: {said}");
            assert_eq!(now, after2, "{point}: the night should stand");
            assert_eq!(tree(&out), reference, "{point}: outputs");
        } else {
            if !unmarked.contains(&point) {
                assert!(said.contains("rolled back"), "{point}: {said}");
            }
            assert_eq!(now, after1, "{point}: the ledger should be as of night 1");
            assert!(!out.exists(), "{point}: final outputs left");
            let o = run(&night2, &refs, &out, &ledger, None);
            assert!(o.status.success(), "{point}: rerun: {o:?}");
            assert_eq!(tree(&out), reference, "{point}: rerun outputs differ");
            // A run through the ledger removes what killed runs left beside its output.
            assert!(hidden().is_empty(), "{point}: staging left: {:?}", hidden());
            assert_eq!(
                ledger_stats(&ledger).0,
                after2,
                "{point}: rerun ledger differs"
            );
        }
    }

    // The outputs' flush fails while the commit writes the night beside it (review of stop 24):
    // exit 5, the transaction aborted, nothing left beside the output, the ledger as of night 1;
    // the night then runs again to the same outputs and ledger.
    let parent = tmp.path().join("flush-fails");
    let (ledger, out) = (parent.join("ledger"), parent.join("out"));
    copy_ledger(&l1, &ledger);
    let o = run(&night2, &refs, &out, &ledger, Some("fail:outputs-flush"));
    assert_eq!(o.status.code(), Some(5), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("flush failed"),
        "{o:?}"
    );
    assert!(!out.exists(), "final outputs left");
    let left: Vec<_> = std::fs::read_dir(&parent)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(left.is_empty(), "staging left: {left:?}");
    let (now, said) = ledger_stats(&ledger);
    assert_eq!(now, after1, "the ledger should be as of night 1: {said}");
    assert_eq!(
        ledger_files(&ledger),
        ledger_files(&l1),
        "the ledger's files"
    );
    assert!(run(&night2, &refs, &out, &ledger, None).status.success());
    assert_eq!(tree(&out), reference, "rerun outputs differ");
    assert_eq!(ledger_stats(&ledger).0, after2, "rerun ledger differs");

    // The rename done but the fsync of its directory failed (review of stop 30): exit 5 saying the
    // outputs are in place and the night pending — not "rolled back"; the night is left for the next
    // open to decide by what the disk holds, which here (the rename stayed) completes it.
    let parent = tmp.path().join("dir-sync-fails");
    let (ledger, out) = (parent.join("ledger"), parent.join("out"));
    copy_ledger(&l1, &ledger);
    let o = run(&night2, &refs, &out, &ledger, Some("fail:outputs-dir-sync"));
    assert_eq!(o.status.code(), Some(5), "{o:?}");
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("complete and in place") && said.contains("left pending"),
        "{said}"
    );
    assert!(!said.contains("rolled back"), "{said}");
    assert_eq!(tree(&out), reference, "outputs in place");
    let (now, said) = ledger_stats(&ledger);
    assert!(said.contains("completed"), "{said}");
    assert_eq!(now, after2, "the night should stand: {said}");
    assert_eq!(
        ledger_files(&ledger),
        ledger_files(&lref),
        "the ledger's files"
    );
    let again = run(&night2, &refs, &parent.join("again"), &ledger, None);
    assert_eq!(again.status.code(), Some(10), "{again:?}");
}
