//! The compiled reference snapshot (`liquidator refs compile DIR`, `DIR/refs.snapshot`): outputs
//! byte-identical with and without it (the sample and a generated day); a stale snapshot (a source TSV
//! touched, resized or edited in place) and a corrupt one (any byte flipped, truncated, not a snapshot)
//! refused with a clear message and exit 3, never used.

use crate::common;
use liquidator_core::refs::{Refs, snapshot};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_liquidator"))
}

fn sample(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/sample")
        .join(p)
}

fn tmp(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("liquidator-snapshot-{tag}-"))
        .tempdir()
        .unwrap()
}

/// A copy of the sample's reference set.
fn sample_refs(into: &Path) -> PathBuf {
    let dir = into.join("refs");
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(sample("refs")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    dir
}

fn compile(refs: &Path) -> Output {
    bin().args(["refs", "compile"]).arg(refs).output().unwrap()
}

fn run(claims: &Path, refs: &Path, out: &Path) -> Output {
    bin()
        .args(["run", "--quiet", "--force", "--threads", "2", "--claims"])
        .arg(claims)
        .arg("--refs")
        .arg(refs)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `claims` with the TSV files, compiles, runs again (the snapshot mapped) and compares the
/// output trees byte for byte.
fn assert_round_trip(claims: &Path, refs: &Path, work: &Path) {
    let a = work.join("out-tsv");
    let o = run(claims, refs, &a);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!refs.join(snapshot::FILE).exists());
    let o = compile(refs);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("snapshot written"), "{}", stderr(&o));
    let loaded = Refs::load(refs).unwrap();
    assert!(loaded.beneficiaries.is_mapped(), "the snapshot is used");
    let b = work.join("out-snapshot");
    let o = run(claims, refs, &b);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (ta, tb) = (common::tree(&a), common::tree(&b));
    assert!(ta.contains_key("payments.tsv"));
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
    for (k, v) in &ta {
        assert!(tb[k] == *v, "{k} differs with the snapshot");
    }
}

#[test]
fn sample_outputs_identical_with_and_without_the_snapshot() {
    let td = tmp("sample");
    let refs = sample_refs(td.path());
    assert_round_trip(&sample("claims.b2"), &refs, td.path());
    // explain reads the same store
    let explain = |refs: &Path| {
        bin()
            .args(["explain", "--json", "--claim", "700000001", "--claims"])
            .arg(sample("claims.b2"))
            .arg("--refs")
            .arg(refs)
            .output()
            .unwrap()
    };
    let with = explain(&refs);
    std::fs::remove_file(refs.join(snapshot::FILE)).unwrap();
    let without = explain(&refs);
    assert_eq!(with.status.code(), Some(0), "{}", stderr(&with));
    assert_eq!(without.status.code(), Some(0));
    assert_eq!(with.stdout, without.stdout);
}

#[test]
fn generated_day_outputs_identical_with_and_without_the_snapshot() {
    let td = tmp("day");
    let day = td.path().join("day");
    let cfg = liquidator_testkit::generator::GenConfig {
        claims: 3000,
        beneficiaries: 20_000,
        seed: 11,
        date: liquidator_core::date::Date(20260316),
        out: day.clone(),
        scenarios: false,
        ccam_subset: false,
    };
    liquidator_testkit::generator::generate(&cfg).unwrap();
    assert_round_trip(&day.join("claims.b2"), &day.join("refs"), td.path());
    // Every lookup answers the same from the TSV files and from the snapshot.
    let mapped = Refs::load(&day.join("refs")).unwrap();
    assert!(mapped.beneficiaries.is_mapped());
    std::fs::rename(
        day.join("refs").join(snapshot::FILE),
        td.path().join("moved"),
    )
    .unwrap();
    let parsed = Refs::load(&day.join("refs")).unwrap();
    assert!(!parsed.beneficiaries.is_mapped());
    assert_eq!(mapped.beneficiaries.len(), parsed.beneficiaries.len());
    assert_eq!(
        mapped.beneficiaries.ald_len(),
        parsed.beneficiaries.ald_len()
    );
    let text = std::fs::read_to_string(day.join("refs/beneficiaries.tsv")).unwrap();
    let date = liquidator_core::date::Date(20260101);
    for l in text.lines().skip(1).step_by(7) {
        let c: Vec<&str> = l.split('\t').collect();
        let key = liquidator_core::refs::benef_key(c[0].as_bytes(), c[1].parse().unwrap()).unwrap();
        let (a, b) = (
            mapped.beneficiaries.get(key).unwrap(),
            parsed.beneficiaries.get(key).unwrap(),
        );
        assert_eq!(a.rows(), b.rows());
        assert_eq!(a.birth, b.birth);
        assert_eq!(a.ald_at(date), b.ald_at(date));
        assert_eq!(a.pf_seed(), b.pf_seed());
        // Bank details (snapshot section `banks`, format 2) answer the same and as written.
        assert_eq!(
            mapped.beneficiaries.bank(key),
            parsed.beneficiaries.bank(key)
        );
        if let Some(iban) = c.get(13).filter(|v| !v.is_empty()) {
            assert_eq!(
                mapped
                    .beneficiaries
                    .bank(key)
                    .map(|b| b.iban().to_string())
                    .as_deref(),
                Some(*iban)
            );
        }
        let (ra, rb) = (a.rights_at(date), b.rights_at(date));
        assert_eq!(ra.is_some(), rb.is_some());
        if let (Some(ra), Some(rb)) = (ra, rb) {
            assert_eq!(ra.0, rb.0);
            assert_eq!(
                (
                    ra.1.regime,
                    ra.1.local_regime,
                    ra.1.c2s,
                    ra.1.amc,
                    ra.1.contract
                ),
                (
                    rb.1.regime,
                    rb.1.local_regime,
                    rb.1.c2s,
                    rb.1.amc,
                    rb.1.contract
                )
            );
        }
    }
}

/// `run` with the sample's claims must exit 3 with a message naming the snapshot and containing
/// each of `want`, and write nothing.
fn assert_refused(refs: &Path, work: &Path, want: &[&str]) {
    let out = work.join("refused-out");
    let o = run(&sample("claims.b2"), refs, &out);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{e}");
    assert!(!out.exists(), "nothing written");
    assert!(e.contains("reference snapshot refused"), "{e}");
    assert!(
        e.contains("refs compile"),
        "the message says what to do: {e}"
    );
    for w in want {
        assert!(e.contains(w), "`{w}` not in: {e}");
    }
}

fn set_mtime(p: &Path, t: std::time::SystemTime) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

#[test]
fn a_stale_snapshot_is_refused_naming_the_changed_file() {
    let td = tmp("stale");
    let refs = sample_refs(td.path());
    assert_eq!(compile(&refs).status.code(), Some(0));
    let benef = refs.join("beneficiaries.tsv");
    let ald = refs.join("ald.tsv");
    let mtime = std::fs::metadata(&benef).unwrap().modified().unwrap();

    // touched: same bytes, newer modification time
    set_mtime(&benef, mtime + std::time::Duration::from_secs(5));
    assert_refused(
        &refs,
        td.path(),
        &["stale", "beneficiaries.tsv", "modification time"],
    );
    set_mtime(&benef, mtime);
    assert!(
        Refs::load(&refs).unwrap().beneficiaries.is_mapped(),
        "back to its compiled identity"
    );

    // edited in place with the same size and modification time: the content fingerprint
    let original = std::fs::read(&benef).unwrap();
    let mut edited = original.clone();
    let at = edited.len() / 2;
    edited[at] = if edited[at] == b'0' { b'1' } else { b'0' };
    std::fs::write(&benef, &edited).unwrap();
    set_mtime(&benef, mtime);
    assert_refused(
        &refs,
        td.path(),
        &["stale", "beneficiaries.tsv", "content differs"],
    );
    std::fs::write(&benef, &original).unwrap();
    set_mtime(&benef, mtime);

    // ald.tsv grown
    let mut a = std::fs::read(&ald).unwrap();
    a.extend_from_slice(b"# a comment\n");
    std::fs::write(&ald, &a).unwrap();
    assert_refused(&refs, td.path(), &["stale", "ald.tsv", "size"]);

    // compiling again (the stale snapshot ignored) makes it usable
    let o = compile(&refs);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&sample("claims.b2"), &refs, &td.path().join("ok"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn a_corrupt_snapshot_is_refused() {
    let td = tmp("corrupt");
    let refs = sample_refs(td.path());
    assert_eq!(compile(&refs).status.code(), Some(0));
    let snap = refs.join(snapshot::FILE);
    let good = std::fs::read(&snap).unwrap();

    // one byte flipped in a section (the keys start at 4 KiB)
    let mut b = good.clone();
    b[4096 + 3] ^= 0x40;
    std::fs::write(&snap, &b).unwrap();
    assert_refused(&refs, td.path(), &["corrupt", "checksum", "keys"]);

    // truncated
    std::fs::write(&snap, &good[..good.len() - 100]).unwrap();
    assert_refused(&refs, td.path(), &["corrupt", "truncated"]);
    std::fs::write(&snap, &good[..100]).unwrap();
    assert_refused(&refs, td.path(), &["corrupt", "truncated"]);
    std::fs::write(&snap, b"").unwrap();
    assert_refused(&refs, td.path(), &["corrupt", "truncated"]);

    // not a snapshot
    std::fs::write(&snap, vec![b'x'; good.len()]).unwrap();
    assert_refused(&refs, td.path(), &["bad magic"]);

    // another format version (the header checksum recomputed would not help: checked first)
    let mut b = good.clone();
    b[8] = b[8].wrapping_add(1);
    std::fs::write(&snap, &b).unwrap();
    assert_refused(&refs, td.path(), &["format version"]);

    // explain and reprocess refuse it too (every load of the directory)
    let o = bin()
        .args(["explain", "--claim", "1", "--claims"])
        .arg(sample("claims.b2"))
        .arg("--refs")
        .arg(&refs)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("reference snapshot refused"));

    // A single byte changed anywhere in the file is refused by the library, never used: every byte of
    // the header page, then a spread of the sections and their padding (every byte would take ~30 s
    // in a debug build), and the last byte.
    std::fs::write(&snap, &good).unwrap();
    let known = |_: &[u8; 10], _: &[u8; 2]| true;
    assert!(snapshot::open(&refs, &snap, &known).is_ok());
    let mut accepted = Vec::new();
    let positions = (0..1024)
        .chain((1024..good.len()).step_by(61))
        .chain([good.len() - 1]);
    for i in positions {
        let mut b = good.clone();
        b[i] ^= 0x01;
        std::fs::write(&snap, &b).unwrap();
        if snapshot::open(&refs, &snap, &known).is_ok() {
            accepted.push(i);
        }
    }
    assert!(
        accepted.is_empty(),
        "bytes whose change went unnoticed: {accepted:?}"
    );
}

#[test]
fn no_snapshot_loads_the_tsv_files_as_before() {
    // `run --refs DIR` without a snapshot: the TSV files are parsed (the store is not mapped).
    let r = Refs::load(&sample("refs")).unwrap();
    assert!(!r.beneficiaries.is_mapped());
    assert!(!sample("refs").join(snapshot::FILE).exists());
}
