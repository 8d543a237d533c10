//! `liquidator report`: the page is produced from an output directory, self-contained, French-formatted,
//! and fails with a clear `file:line` error on a malformed directory.

use liquidator_export::report::{ReportError, write_report};
use std::path::{Path, PathBuf};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("liquidator-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn render(out: &Path, prev: Option<&Path>, tag: &str) -> String {
    let dest = tmp(tag).join("report.html");
    write_report(out, prev, &dest).unwrap();
    std::fs::read_to_string(&dest).unwrap()
}

/// Copies an output directory (flat files and `amc/`) so a test can damage the copy.
fn copy_out(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst.join("amc")).unwrap();
    for sub in ["", "amc"] {
        for e in std::fs::read_dir(src.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, dst.join(sub).join(p.file_name().unwrap())).unwrap();
            }
        }
    }
}

fn assert_self_contained(html: &str) {
    for bad in [
        "http://", "https://", "<script", "@import", "url(", "src=", "<link",
    ] {
        assert!(!html.contains(bad), "the page must not reference `{bad}`");
    }
}

#[test]
fn report_has_every_section_and_french_figures() {
    let html = render(&data("report_out"), None, "basic");
    for id in [
        "key-figures",
        "checks",
        "rejections",
        "by-group",
        "by-payee",
        "by-insurer",
        "top-acts",
        "warnings",
    ] {
        assert!(
            html.contains(&format!("<section id=\"{id}\">")),
            "section {id} missing"
        );
    }
    assert!(
        !html.contains("id=\"day-over-day\""),
        "no comparison without --previous"
    );
    assert_self_contained(&html);
    // 1 962,61 € billed in all: narrow no-break space for thousands, no-break space before €.
    assert!(
        html.contains("1\u{202F}962,61\u{A0}€"),
        "French amount formatting"
    );
    assert!(html.contains("1\u{202F}239,61\u{A0}€"), "excess fees");
    assert!(html.contains("\u{202F}%"), "French percent formatting");
    assert!(
        !html.contains("1962.61"),
        "no English decimal point for amounts"
    );
    // The rejection codes, their mnemonics, and the orphan record.
    for s in ["R020", "NIR_KEY", "R060", "ACT_UNKNOWN", "R002"] {
        assert!(html.contains(s), "{s} missing");
    }
    // Charts are inline SVG and populated.
    assert!(html.matches("<svg").count() >= 6);
    assert!(html.contains("CCAM NFKA") && html.contains("NGAP G"));
    for insurer in ["1234567890", "9876543210", "C2S"] {
        assert!(html.contains(insurer));
    }
    // Every check passes on a consistent directory, and none is red.
    assert!(
        html.contains("All 14 conservation checks pass"),
        "{}",
        &html[..2000.min(html.len())]
    );
    assert!(!html.contains("✗ FAILED"));
    // NIRs never reach the page.
    assert!(!html.contains("1850578006084"));
}

#[test]
fn report_with_previous_shows_day_over_day() {
    let html = render(&data("report_out"), Some(&data("report_prev")), "prev");
    assert!(html.contains("<section id=\"day-over-day\">"));
    // Claims read 5 → 6: +1, +20,0 % (highlighted).
    assert!(html.contains("<td class=\"n\">+1</td><td class=\"n\">+20,0\u{202F}%</td>"));
    // Billed 1 700,00 € → 1 962,61 €.
    assert!(html.contains("+262,61\u{A0}€"));
    // R060 absent the day before.
    assert!(html.contains("R060 ACT_UNKNOWN"));
    assert_self_contained(&html);
}

#[test]
fn report_is_deterministic() {
    let a = render(&data("report_out"), None, "det-a");
    let b = render(&data("report_out"), None, "det-b");
    assert_eq!(a, b);
}

#[test]
fn inconsistent_files_give_red_checks_not_an_error() {
    let dir = tmp("red");
    let out = dir.join("out");
    copy_out(&data("report_out"), &out);
    // Drop the last payment row: the file no longer agrees with summary.json.
    let p = std::fs::read_to_string(out.join("payments.tsv")).unwrap();
    let mut lines: Vec<&str> = p.lines().collect();
    lines.pop();
    std::fs::write(out.join("payments.tsv"), lines.join("\n") + "\n").unwrap();
    let html = render(&out, None, "red-html");
    assert!(html.contains("✗ FAILED"));
    assert!(html.contains("conservation checks FAILED"));
}

#[test]
fn text_from_the_files_is_escaped() {
    let dir = tmp("esc");
    let out = dir.join("out");
    copy_out(&data("report_out"), &out);
    let r = std::fs::read_to_string(out.join("rejections.tsv")).unwrap();
    std::fs::write(
        out.join("rejections.tsv"),
        r.replace("NIR_KEY", "<b>NIR&KEY</b>"),
    )
    .unwrap();
    let html = render(&out, None, "esc-html");
    assert!(html.contains("&lt;b&gt;NIR&amp;KEY&lt;/b&gt;"));
    assert!(!html.contains("<b>NIR&KEY</b>"));
}

fn error_of(out: &Path) -> String {
    let dest = out.join("report.html");
    match write_report(out, None, &dest) {
        Ok(()) => panic!("expected an error"),
        Err(e) => {
            assert!(!dest.exists(), "no page on error");
            e.to_string()
        }
    }
}

#[test]
fn malformed_directories_name_the_file_and_line() {
    // A bad amount on the 3rd line of payments.tsv.
    let out = tmp("bad-amount").join("out");
    copy_out(&data("report_out"), &out);
    let p = std::fs::read_to_string(out.join("payments.tsv")).unwrap();
    std::fs::write(
        out.join("payments.tsv"),
        p.replacen("\t0.00\t14.52\t70\t", "\t0.00\t14,52\t70\t", 1),
    )
    .unwrap();
    let e = error_of(&out);
    assert!(
        e.contains("payments.tsv:3:") && e.contains("column `base`") && e.contains("14,52"),
        "{e}"
    );

    // A short row in rejections.tsv.
    let out = tmp("short-row").join("out");
    copy_out(&data("report_out"), &out);
    let r = std::fs::read_to_string(out.join("rejections.tsv")).unwrap();
    std::fs::write(out.join("rejections.tsv"), r + "000000108\tR020\n").unwrap();
    let e = error_of(&out);
    assert!(
        e.contains("rejections.tsv:5:") && e.contains("fields"),
        "{e}"
    );

    // A missing column.
    let out = tmp("no-col").join("out");
    copy_out(&data("report_out"), &out);
    let r = std::fs::read_to_string(out.join("rejections.tsv")).unwrap();
    std::fs::write(out.join("rejections.tsv"), r.replacen("billed", "fee", 1)).unwrap();
    let e = error_of(&out);
    assert!(
        e.contains("rejections.tsv:1:") && e.contains("`billed`"),
        "{e}"
    );

    // Broken JSON.
    let out = tmp("bad-json").join("out");
    copy_out(&data("report_out"), &out);
    std::fs::write(
        out.join("summary.json"),
        "{\n  \"batch_number\": \"x\"\n}\n",
    )
    .unwrap();
    let e = error_of(&out);
    assert!(e.contains("summary.json:2:"), "{e}");

    // Not UTF-8.
    let out = tmp("latin1").join("out");
    copy_out(&data("report_out"), &out);
    let mut b = std::fs::read(out.join("rejections.tsv")).unwrap();
    b.extend_from_slice(b"000000109\t\tR020\tNIR_KEY\tcl\xe9\t1\t1\t\t1.00\n");
    std::fs::write(out.join("rejections.tsv"), b).unwrap();
    let e = error_of(&out);
    assert!(
        e.contains("rejections.tsv:5:") && e.contains("UTF-8"),
        "{e}"
    );

    // Not a directory at all, and a missing file.
    let e = write_report(
        Path::new("/nonexistent/out"),
        None,
        &tmp("none").join("r.html"),
    )
    .unwrap_err();
    assert!(matches!(e, ReportError::NotADir(_)));
    let out = tmp("no-pay").join("out");
    copy_out(&data("report_out"), &out);
    std::fs::remove_file(out.join("payments.tsv")).unwrap();
    assert!(error_of(&out).contains("payments.tsv"));
}

#[test]
fn garbage_never_panics() {
    // Random damage to every file: the report either renders or returns an error, never panics.
    let base = tmp("fuzz");
    let files = [
        "payments.tsv",
        "rejections.tsv",
        "summary.json",
        "amc/C2S.tsv",
    ];
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for round in 0..60 {
        let out = base.join(format!("o{round}"));
        copy_out(&data("report_out"), &out);
        let f = out.join(files[round % files.len()]);
        let mut b = std::fs::read(&f).unwrap();
        for _ in 0..1 + round % 5 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = (seed as usize) % b.len().max(1);
            let choices = [b'\t', b'\n', b'-', b'9', b'.', 0xff, b'x'];
            if !b.is_empty() {
                b[i] = choices[(seed >> 32) as usize % choices.len()];
            }
        }
        std::fs::write(&f, &b).unwrap();
        let _ = write_report(&out, None, &out.join("r.html"));
    }
}
