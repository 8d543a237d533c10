//! `liquidator report` on real engine output: `liquidator run` on the sample day (the binary), then the
//! report from its `summary.json` and `report_data.json`: every section, the totals, self-contained,
//! escaped, red checks on a mismatch, and a clear refusal (exit 9) of a directory without aggregates.

use liquidator_core::output::Summary;
use liquidator_export::report::data::{REPORT_DATA, ReportData};
use liquidator_export::report::fmt::{euros, int};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sample(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/sample")
        .join(p)
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_liquidator"));
    c.env("LIQUIDATOR_PSEUDONYM_KEY", "report test secret, sample day");
    c
}

/// `liquidator run` of the sample day into `tmp/name`.
fn run(tmp: &Path, name: &str) -> PathBuf {
    let out = tmp.join(name);
    let o = bin()
        .args(["run", "--quiet", "--claims"])
        .arg(sample("claims.b2"))
        .arg("--refs")
        .arg(sample("refs"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

fn report(out: &Path, prev: Option<&Path>, dest: &Path) -> Output {
    let mut c = bin();
    c.arg("report").arg(out).arg("-o").arg(dest);
    if let Some(p) = prev {
        c.arg("--previous").arg(p);
    }
    c.output().unwrap()
}

fn render(out: &Path, prev: Option<&Path>) -> String {
    let dest = out.parent().unwrap().join(format!(
        "report-{}.html",
        out.file_name().unwrap().to_string_lossy()
    ));
    let o = report(out, prev, &dest);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(&dest).unwrap()
}

fn summary(out: &Path) -> Summary {
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

fn assert_self_contained(html: &str) {
    for bad in [
        "http://", "https://", "<script", "@import", "url(", "src=", "<link",
    ] {
        assert!(!html.contains(bad), "the page must not reference `{bad}`");
    }
}

#[test]
fn report_of_a_real_run_has_every_section_and_the_totals() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), "day");
    let s = summary(&out);
    let html = render(&out, None);
    assert_self_contained(&html);
    for id in [
        "key-figures",
        "checks",
        "rejections",
        "by-group",
        "by-payee",
        "by-insurer",
        "top-acts",
        "debts-payments",
        "warnings",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "section {id}");
    }
    // The night's debts, recoveries, transfers and held payments (issue #14), NIRs masked.
    for cents in [
        s.debts_created_cents,
        s.recovered_cents,
        s.debts_open_cents,
        s.payment_orders_cents,
        s.payments_held_cents,
    ] {
        assert!(
            html.contains(&euros(cents as i128)),
            "{}",
            euros(cents as i128)
        );
    }
    assert!(s.payments_held > 0 && html.contains("P002") && html.contains("177**********-001"));
    assert!(!html.contains("id=\"day-over-day\""));
    for cents in [
        s.billed_cents,
        s.amo_paid_cents,
        s.amc_cents,
        s.patient_cents,
        s.rejected_billed_cents,
    ] {
        assert!(
            html.contains(&euros(cents as i128)),
            "{}",
            euros(cents as i128)
        );
    }
    assert!(html.contains(&int(s.claims_read as i128)));
    assert!(
        html.contains("conservation checks pass"),
        "a real run reconciles"
    );
    assert!(!html.contains("FAILED"));

    // CCAM lines are grouped by their regroupement (LineResult.group), not by a code prefix.
    let d: ReportData =
        serde_json::from_str(&std::fs::read_to_string(out.join(REPORT_DATA)).unwrap()).unwrap();
    assert!(!d.ccam_groups.is_empty());
    assert!(
        d.ccam_groups.keys().all(|k| k.len() == 3),
        "{:?}",
        d.ccam_groups.keys()
    );
    assert_eq!(d.paid.lines, s.lines_paid);
    assert_eq!(d.paid.amo_paid, s.amo_paid_cents);
    // The groups of the chart: the 15 with the most AMO, CCAM regroupements and NGAP letters mixed.
    let mut groups: Vec<(String, i64)> = d
        .ccam_groups
        .iter()
        .map(|(k, a)| (format!("CCAM {k}"), a.amo_paid))
        .chain(
            d.ngap_letters
                .iter()
                .map(|(k, a)| (format!("NGAP {k}"), a.amo_paid)),
        )
        .collect();
    groups.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    assert!(groups.iter().take(15).any(|g| g.0.starts_with("CCAM ")));
    for (g, _) in groups.iter().take(15) {
        assert!(html.contains(g.as_str()), "{g}");
    }

    // No NIR in the aggregates or the page.
    let pay = std::fs::read_to_string(out.join("payments.tsv")).unwrap();
    let json = std::fs::read_to_string(out.join(REPORT_DATA)).unwrap();
    for l in pay.lines().skip(1) {
        let nir = l.split('\t').nth(4).unwrap().split('-').next().unwrap();
        assert!(!html.contains(nir) && !json.contains(nir));
    }
}

#[test]
fn previous_run_gives_day_over_day_and_pages_are_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run(tmp.path(), "a");
    let b = run(tmp.path(), "b");
    let html = render(&a, Some(&b));
    assert!(html.contains("id=\"day-over-day\""));
    assert!(html.contains("Compared with batch"));
    // Two runs of the same day: the same page (no timestamp, no thread-dependent order).
    let pa = render(&a, None);
    let pb = render(&b, None);
    assert_eq!(
        pa.replace("<code>a</code>", ""),
        pb.replace("<code>b</code>", "")
    );
}

#[test]
fn text_from_the_files_is_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), "day");
    let p = out.join(REPORT_DATA);
    let mut d: ReportData = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    let (k, a) = d.ccam_groups.pop_first().unwrap();
    d.ccam_groups.insert("<b>A&B</b>".into(), a);
    if let Some(r) = d.rejections.by_code.values_mut().next() {
        r.mnemonic = "<script>x</script>".into();
    }
    std::fs::write(&p, serde_json::to_string(&d).unwrap()).unwrap();
    let html = render(&out, None);
    assert!(html.contains("&lt;b&gt;A&amp;B&lt;/b&gt;"), "{k}");
    assert!(!html.contains("<b>A&B</b>"));
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;x&lt;/script&gt;"));
}

#[test]
fn aggregates_that_disagree_with_the_summary_give_red_checks() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), "day");
    let p = out.join("summary.json");
    let mut s = summary(&out);
    s.amo_paid_cents += 1;
    std::fs::write(&p, serde_json::to_string(&s).unwrap()).unwrap();
    let html = render(&out, None);
    assert!(html.contains("✗ FAILED"));
    assert!(html.contains("conservation checks FAILED"));
}

#[test]
fn a_directory_without_aggregates_is_refused_with_exit_9() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), "day");
    let dest = tmp.path().join("r.html");

    std::fs::write(out.join(REPORT_DATA), "{\n  \"layout\": 3\n}\n").unwrap();
    let o = report(&out, None, &dest);
    assert_eq!(o.status.code(), Some(9));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("report_data.json:2"), "{e}");
    assert!(!dest.exists(), "no page on error");

    std::fs::remove_file(out.join(REPORT_DATA)).unwrap();
    let o = report(&out, None, &dest);
    assert_eq!(o.status.code(), Some(9));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("no report_data.json") && e.contains("older"),
        "{e}"
    );
    assert!(!dest.exists());

    let o = report(&tmp.path().join("missing"), None, &dest);
    assert_eq!(o.status.code(), Some(9));
}
