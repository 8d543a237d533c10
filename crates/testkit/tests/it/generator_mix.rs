//! The generated day has the real mix (formats/generator.md): thousands of distinct CCAM codes, allowed
//! modifiers, every association code, quantities above 1, paramedical and dental claims — and it
//! liquidates with every conservation identity holding.

use liquidator_core::date::Date;
use liquidator_core::engine::{self, Options};
use liquidator_core::refs::Refs;
use liquidator_testkit::generator::{self, GenConfig};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// A scratch directory removed on drop (std only: the testkit has no tempfile dependency).
struct Scratch(PathBuf);
impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("liq-genmix-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
}
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn generate_day(dir: &std::path::Path, claims: u64) {
    generator::generate(&GenConfig {
        claims,
        beneficiaries: claims * 2,
        seed: 11,
        date: Date(20260316),
        out: dir.to_path_buf(),
        scenarios: false,
        ccam_subset: false,
    })
    .unwrap();
}

#[test]
fn a_generated_day_has_the_real_mix() {
    let d = Scratch::new("mix");
    generate_day(&d.0, 200_000);
    let text = std::fs::read(d.0.join("claims.b2")).unwrap();
    let (mut codes, mut mods, mut assoc) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let (mut qty_gt1, mut claims, mut lines) = (0, 0u64, 0u64);
    let mut letters: BTreeMap<String, u64> = BTreeMap::new();
    let mut dental = 0;
    for rec in text.split(|&b| b == b'\n') {
        match rec.get(..2) {
            Some(b"02") => claims += 1,
            Some(b"4M") => {
                lines += 1;
                let code = &rec[22..29];
                codes.insert(code.to_vec());
                if code.starts_with(b"HB") {
                    dental += 1;
                }
                mods.extend(rec[38..42].iter().copied().filter(|&m| m != b' '));
                assoc.insert(rec[42]);
                if &rec[44..47] != b"001" && &rec[44..47] != b"000" {
                    qty_gt1 += 1;
                }
            }
            Some(b"04") => {
                lines += 1;
                let l = String::from_utf8_lossy(&rec[22..26]).trim().to_string();
                *letters.entry(l).or_default() += 1;
            }
            _ => {}
        }
    }
    assert!(codes.len() >= 1000, "{} distinct CCAM codes", codes.len());
    for m in [b'Z', b'A', b'K', b'J', b'7', b'F', b'U'] {
        assert!(mods.contains(&m), "modifier {} never generated", m as char);
    }
    for a in [b' ', b'1', b'2', b'3', b'4', b'5'] {
        assert!(
            assoc.contains(&a),
            "association code `{}` never generated",
            a as char
        );
    }
    assert!(qty_gt1 > 50, "{qty_gt1} CCAM lines with a quantity above 1");
    assert!(dental > 5_000, "{dental} dental CCAM lines");
    for l in [
        "G", "CS", "APC", "MCS", "MEG", "VG", "MD", "IK", "TCG", "AMI", "AMK", "AMO",
    ] {
        assert!(
            letters.get(l).copied().unwrap_or(0) > 0,
            "NGAP letter {l} never generated"
        );
    }
    // Nurses and physiotherapists are a large share of the day's claims.
    assert!(letters["AMI"] > claims / 10, "{} AMI lines", letters["AMI"]);
    let lpc = lines as f64 / claims as f64;
    assert!((1.4..2.2).contains(&lpc), "{lpc:.2} lines per claim");
}

#[test]
fn a_generated_day_reconciles() {
    let d = Scratch::new("run");
    generate_day(&d.0, 20_000);
    let refs = Refs::load(&d.0.join("refs")).unwrap();
    let out = d.0.join("out");
    let s = engine::run(
        &d.0.join("claims.b2"),
        &refs,
        &out,
        true,
        &Options::default(),
    )
    .unwrap();
    let c = &s.conservation;
    assert!(
        c.claims && c.lines && c.billed && c.paid_split && c.rejections && c.line_rejections,
        "{c:?}"
    );
    assert!(s.claims_read >= 20_000);
    // Natural and injected rejections stay a few percent of the claims.
    let rejected = s.claims_rejected as f64 / s.claims_read as f64;
    assert!(
        rejected < 0.08,
        "{:.1} % of claims rejected",
        100.0 * rejected
    );
}
