//! Payment orders (issue #14 item 4, `output::sepa`): one SEPA credit transfer per payee per night,
//! validated against the ISO 20022 `pain.001.001.03` schema (fixtures/iso20022, PROVENANCE.md) with
//! libxml2 (Debian `libxml2-dev`, present on the project's machines; `.ci/run` installs it if not),
//! control sums equal to `summary.json`'s, held payees listed with their code, nothing lost.

use crate::common;
use common::*;
use liquidator_core::engine::{self, Options};
use liquidator_core::refs::Refs;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

// ---- XSD validation through libxml2 (a few C calls; no crate needed) ----

#[allow(unsafe_code)] // FFI to libxml2's schema validator: the only way to run an XSD check here.
mod xsd {
    use std::ffi::{c_char, c_int, c_void};

    #[link(name = "xml2")]
    unsafe extern "C" {
        fn xmlSchemaNewMemParserCtxt(buffer: *const c_char, size: c_int) -> *mut c_void;
        fn xmlSchemaParse(ctxt: *mut c_void) -> *mut c_void;
        fn xmlSchemaFreeParserCtxt(ctxt: *mut c_void);
        fn xmlSchemaNewValidCtxt(schema: *mut c_void) -> *mut c_void;
        fn xmlSchemaFreeValidCtxt(ctxt: *mut c_void);
        fn xmlSchemaFree(schema: *mut c_void);
        fn xmlReadMemory(
            buffer: *const c_char,
            size: c_int,
            url: *const c_char,
            encoding: *const c_char,
            options: c_int,
        ) -> *mut c_void;
        fn xmlFreeDoc(doc: *mut c_void);
        fn xmlSchemaValidateDoc(ctxt: *mut c_void, doc: *mut c_void) -> c_int;
    }

    /// `Ok` when `doc` is well-formed and valid against `schema` (libxml2 prints the reasons on stderr).
    pub fn validate(schema: &[u8], doc: &[u8]) -> Result<(), String> {
        // SAFETY: every pointer comes from libxml2 and is checked for null before use; buffers outlive
        // the calls (libxml2 copies what it keeps); each object is freed exactly once.
        unsafe {
            let pc = xmlSchemaNewMemParserCtxt(schema.as_ptr().cast(), schema.len() as c_int);
            if pc.is_null() {
                return Err("schema parser context".into());
            }
            let s = xmlSchemaParse(pc);
            xmlSchemaFreeParserCtxt(pc);
            if s.is_null() {
                return Err("schema does not parse".into());
            }
            let d = xmlReadMemory(
                doc.as_ptr().cast(),
                doc.len() as c_int,
                c"payment_orders.xml".as_ptr(),
                std::ptr::null(),
                0,
            );
            if d.is_null() {
                xmlSchemaFree(s);
                return Err("document is not well-formed XML".into());
            }
            let vc = xmlSchemaNewValidCtxt(s);
            let rc = if vc.is_null() {
                -1
            } else {
                xmlSchemaValidateDoc(vc, d)
            };
            if !vc.is_null() {
                xmlSchemaFreeValidCtxt(vc);
            }
            xmlFreeDoc(d);
            xmlSchemaFree(s);
            if rc == 0 {
                Ok(())
            } else {
                Err(format!("not valid against the schema (libxml2 code {rc})"))
            }
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema() -> Vec<u8> {
    std::fs::read(root().join("fixtures/iso20022/pain.001.001.03.xsd")).unwrap()
}

fn run_sample(threads: usize) -> (tempfile::TempDir, PathBuf, liquidator_core::output::Summary) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let refs = Refs::load(&root().join("fixtures/sample/refs")).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let s = pool
        .install(|| {
            engine::run(
                &root().join("fixtures/sample/claims.b2"),
                &refs,
                &out,
                false,
                &Options::default(),
            )
        })
        .unwrap();
    (dir, out, s)
}

/// The text of the first `<tag>…</tag>` of `x`.
fn tag<'a>(x: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let a = x.find(&open).unwrap() + open.len();
    let b = a + x[a..].find('<').unwrap();
    &x[a..b]
}

fn rows(p: &Path) -> Vec<BTreeMap<String, String>> {
    tsv_rows(p)
}

#[test]
fn sample_payment_orders_validate_against_the_pain_001_001_03_schema() {
    let (_d, out, _) = run_sample(2);
    let xml = std::fs::read(out.join("payment_orders.xml")).unwrap();
    xsd::validate(&schema(), &xml).unwrap();
}

/// The validator really validates: a transfer without its amount and a malformed IBAN are refused.
#[test]
fn schema_check_refuses_a_broken_document() {
    let (_d, out, _) = run_sample(1);
    let xml = std::fs::read_to_string(out.join("payment_orders.xml")).unwrap();
    let no_amount = xml
        .replacen("<Amt>", "<Amt_>", 1)
        .replacen("</Amt>", "</Amt_>", 1);
    assert!(xsd::validate(&schema(), no_amount.as_bytes()).is_err());
    let a = xml.find("<IBAN>").unwrap() + 6;
    let bad_iban = format!("{}fr{}", &xml[..a], &xml[a + 2..]);
    assert!(xsd::validate(&schema(), bad_iban.as_bytes()).is_err());
}

#[test]
fn control_sums_equal_the_summary_and_every_euro_is_transferred_or_held() {
    let (_d, out, s) = run_sample(2);
    let xml = std::fs::read_to_string(out.join("payment_orders.xml")).unwrap();
    assert_eq!(tag(&xml, "NbOfTxs"), s.payment_orders.to_string());
    let ctrl = tag(&xml, "CtrlSum")
        .replace('.', "")
        .parse::<i64>()
        .unwrap();
    assert_eq!(ctrl, s.payment_orders_cents);
    assert_eq!(
        xml.matches("<CdtTrfTxInf>").count() as u64,
        s.payment_orders
    );
    let sum: i64 = xml
        .split("<InstdAmt Ccy=\"EUR\">")
        .skip(1)
        .map(|p| {
            p[..p.find('<').unwrap()]
                .replace('.', "")
                .parse::<i64>()
                .unwrap()
        })
        .sum();
    assert_eq!(sum, s.payment_orders_cents);
    assert!(s.conservation.payment_orders && s.conserved());
    assert_eq!(
        s.amo_paid_cents - s.recovered_cents,
        s.payment_orders_cents + s.payments_held_cents
    );
    let held = rows(&out.join("held_payments.tsv"));
    assert_eq!(held.len() as u64, s.payments_held);
    let orders = rows(&out.join("payment_orders.tsv"));
    assert_eq!(
        orders.len() as u64,
        s.payment_orders + s.payments_held + s.payees_nothing_due
    );
}

/// Hand-computed (fixtures/sample_expected_amounts.tsv, claims 700000090–094): the insured of the
/// debt scenarios is owed 0.89 (092) + 19.00 (093) = 19.89, of which 0.89 + 2.11 = 3.00 recovered:
/// one transfer of 16.89. The insured of scenario 034 has an IBAN with check digits 00: held, P002,
/// 16.55 kept (CS 26.50 × 70 % − PF 2.00). The ophthalmologist 900000007 gives no bank details: P001.
#[test]
fn debts_are_netted_and_bad_accounts_are_held_with_their_code() {
    let (_d, out, _) = run_sample(1);
    let orders = rows(&out.join("payment_orders.tsv"));
    let find = |id: &str| {
        orders
            .iter()
            .find(|r| r["payee_id"] == id)
            .unwrap_or_else(|| panic!("no payment order for {id}"))
    };
    let d = find("1700133927835-001");
    assert_eq!(
        (
            d["payee_kind"].as_str(),
            d["owed"].as_str(),
            d["recovered"].as_str(),
            d["amount"].as_str(),
            d["status"].as_str()
        ),
        ("ASSURE", "19.89", "3.00", "16.89", "TRANSFER")
    );
    let xml = std::fs::read_to_string(out.join("payment_orders.xml")).unwrap();
    let e2e = &d["end_to_end_id"];
    let tx = xml
        .split("<CdtTrfTxInf>")
        .find(|t| t.contains(e2e.as_str()))
        .unwrap();
    assert!(
        tx.contains("<InstdAmt Ccy=\"EUR\">16.89</InstdAmt>"),
        "{tx}"
    );
    assert!(tx.contains(&format!("<IBAN>{}</IBAN>", d["iban"])), "{tx}");
    let held = rows(&out.join("held_payments.tsv"));
    let h = held
        .iter()
        .find(|r| r["payee_id"] == "1770717927835-001")
        .unwrap();
    assert_eq!(
        (
            h["code"].as_str(),
            h["reason"].as_str(),
            h["amount"].as_str()
        ),
        ("P002", "INVALID_IBAN", "16.55")
    );
    if let Some(h) = held.iter().find(|r| r["payee_id"] == "900000007") {
        assert_eq!(h["code"], "P001");
    }
}

#[test]
fn payment_orders_are_the_same_bytes_for_any_thread_count() {
    let (_a, o1, _) = run_sample(1);
    let (_b, o4, _) = run_sample(4);
    for f in [
        "payment_orders.xml",
        "payment_orders.tsv",
        "held_payments.tsv",
    ] {
        assert_eq!(
            std::fs::read(o1.join(f)).unwrap(),
            std::fs::read(o4.join(f)).unwrap(),
            "{f}"
        );
    }
}

/// Tables written before the bank columns (the mini set: no `iban`/`bic`, no `payer.tsv`) still load;
/// without a payer account no file is ordered and every payee is held, amounts kept.
#[test]
fn old_tables_without_bank_columns_load_and_every_payee_is_held() {
    let r = mini_refs();
    assert!(r.payer.is_none() && r.practitioner_banks.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let claims = root().join("fixtures/bad/valid.b2");
    let s = engine::run(&claims, r, &out, false, &Options::default()).unwrap();
    assert!(s.conserved(), "{:?}", s.conservation);
    assert_eq!(s.payment_orders, 0);
    assert!(s.payments_held > 0);
    assert_eq!(s.payments_held_cents, s.amo_paid_cents - s.recovered_cents);
    assert!(!out.join("payment_orders.xml").exists());
    let held = rows(&out.join("held_payments.tsv"));
    assert!(held.iter().all(|h| h["code"] == "P004"));
}

/// `liquidator gen` writes valid IBANs (mod-97 check digits, 27 characters for FR): every
/// practitioner's (but the scenario one without bank details) and the payer's; the beneficiaries' but for the documented 1 in 1000 with broken
/// check digits and 1 in 50 without bank details (their transfers are held).
#[test]
fn generated_tables_carry_valid_ibans() {
    use liquidator_core::refs::bank::{bic_valid, iban_valid};
    let td = tempfile::tempdir().unwrap();
    let day = td.path().join("day");
    let cfg = liquidator_testkit::generator::GenConfig {
        claims: 200,
        beneficiaries: 20_000,
        seed: 5,
        date: liquidator_core::date::Date(20260316),
        out: day.clone(),
        scenarios: false,
        ccam_subset: false,
    };
    liquidator_testkit::generator::generate(&cfg).unwrap();
    let refs = day.join("refs");
    let pracs = rows(&refs.join("practitioners.tsv"));
    assert!(!pracs.is_empty());
    // The scenario ophthalmologist 900000007 is written without bank details on purpose (P001).
    for p in pracs.iter().filter(|p| p["billing_no"] != "900000007") {
        assert!(iban_valid(&p["iban"]) && bic_valid(&p["bic"]), "{p:?}");
    }
    let payer = rows(&refs.join("payer.tsv"));
    assert!(payer.len() == 1 && iban_valid(&payer[0]["iban"]));
    let bens = rows(&refs.join("beneficiaries.tsv"));
    let (mut valid, mut invalid, mut none) = (0, 0, 0);
    for b in &bens {
        match b["iban"].as_str() {
            "" => none += 1,
            i if iban_valid(i) => valid += 1,
            _ => invalid += 1,
        }
    }
    let n = bens.len();
    assert!(valid > n * 95 / 100, "{valid} of {n}");
    assert!(invalid > 0 && invalid < n / 200, "{invalid} of {n}");
    assert!(none > n / 100 && none < n / 25, "{none} of {n}");
    // And the store answers them (TSV load, the last row of a beneficiary wins).
    let r = Refs::load(&refs).unwrap();
    let b = &bens[0];
    let key =
        liquidator_core::refs::benef_key(b["nir"].as_bytes(), b["rank"].parse().unwrap()).unwrap();
    assert_eq!(
        r.beneficiaries
            .bank(key)
            .map(|a| a.iban().to_string())
            .unwrap_or_default(),
        b["iban"]
    );
}

/// The end of the run writes batch k of pieces while batch k + 1 is formatted (`output::pieces`):
/// `run --threads 1` finishes on a generated day whose payment orders and open debts span several
/// batches of pieces (a first try of that overlap hung there, the pool's one worker waiting on a
/// channel), with the same end-of-run files as 2 threads, and the XML still valid.
#[test]
fn run_with_one_thread_finishes_a_day_whose_payment_orders_span_several_batches() {
    use std::process::Command;
    use std::time::{Duration, Instant};
    let td = tempfile::tempdir().unwrap();
    let day = td.path().join("day");
    liquidator_testkit::generator::generate(&liquidator_testkit::generator::GenConfig {
        claims: 100_000,
        beneficiaries: 200_000,
        seed: 7,
        date: liquidator_core::date::Date(20260316),
        out: day.clone(),
        scenarios: false,
        ccam_subset: true,
    })
    .unwrap();
    let run = |threads: &str| {
        let out = td.path().join(format!("out{threads}"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_liquidator"))
            .args(["run", "--quiet", "--threads", threads, "--claims"])
            .arg(day.join("claims.b2"))
            .arg("--refs")
            .arg(day.join("refs"))
            .arg("--out")
            .arg(&out)
            .spawn()
            .unwrap();
        let t0 = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if t0.elapsed() > Duration::from_secs(300) {
                child.kill().unwrap();
                panic!("run --threads {threads} did not finish in 300 s (hung?)");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "run --threads {threads}: {status}");
        out
    };
    let (one, two) = (run("1"), run("2"));
    // 4 096 payees a piece, 4 pieces a batch: more than one batch, so a write overlapped a format.
    let payees =
        rows(&one.join("payment_orders.tsv")).len() + rows(&one.join("held_payments.tsv")).len();
    assert!(payees > 4 * 4096, "{payees} payees: one batch only");
    for f in [
        "payment_orders.tsv",
        "held_payments.tsv",
        "payment_orders.xml",
        "debts.tsv",
    ] {
        let (a, b) = (
            std::fs::read(one.join(f)).unwrap(),
            std::fs::read(two.join(f)).unwrap(),
        );
        assert!(a == b, "{f} differs between 1 and 2 threads");
    }
    xsd::validate(
        &schema(),
        &std::fs::read(one.join("payment_orders.xml")).unwrap(),
    )
    .unwrap();
}
