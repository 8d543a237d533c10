//! Any bytes as one reference table (chosen by the first byte) of an otherwise valid set: the loaders
//! must return a positioned error or a set, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use liquidator::refs::Refs;
use std::path::PathBuf;
use std::sync::OnceLock;

const TABLES: [&str; 8] = [
    "beneficiaries.tsv",
    "ald.tsv",
    "ccam_tariffs.tsv",
    "ccam_acts.tsv",
    "modifiers.tsv",
    "parameters.tsv",
    "practitioners.tsv",
    "ngap_letters.tsv",
];

fn dir() -> &'static PathBuf {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("liquidator-fuzz-refs-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/mini/refs");
        for e in std::fs::read_dir(&src).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, d.join(p.file_name().unwrap())).unwrap();
        }
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&k, body)) = data.split_first() else { return };
    let name = TABLES[k as usize % TABLES.len()];
    let d = dir();
    let orig = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/mini/refs").join(name)).unwrap();
    std::fs::write(d.join(name), body).unwrap();
    let _ = Refs::load(d);
    std::fs::write(d.join(name), orig).unwrap();
});
