//! Any bytes as one reference table (chosen by the first byte) of an otherwise valid mini set, through
//! `Refs::load`: the loaders must return a set or a positioned error (`file:line:column`, inside the
//! file), never panic. The set lives on tmpfs (`/dev/shm`) when there is one.
#![no_main]
use libfuzzer_sys::fuzz_target;
use liquidator_core::refs::Refs;
use std::path::PathBuf;
use std::sync::OnceLock;

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/mini/refs")
}

/// (table names sorted, scratch directory holding a copy of the mini set).
fn setup() -> &'static (Vec<String>, PathBuf) {
    static D: OnceLock<(Vec<String>, PathBuf)> = OnceLock::new();
    D.get_or_init(|| {
        let shm = PathBuf::from("/dev/shm");
        let base = if shm.is_dir() { shm } else { std::env::temp_dir() };
        let d = base.join(format!("liquidator-fuzz-refs-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let mut names = Vec::new();
        for e in std::fs::read_dir(src()).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, d.join(p.file_name().unwrap())).unwrap();
            names.push(p.file_name().unwrap().to_string_lossy().into_owned());
        }
        names.sort();
        (names, d)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&k, body)) = data.split_first() else { return };
    let (names, d) = setup();
    let name = &names[k as usize % names.len()];
    std::fs::write(d.join(name), body).unwrap();
    if let Err(e) = Refs::load(d) {
        // A positioned error names a table of the set; line 0 only for an unreadable file.
        assert!(e.file.ends_with(".tsv"), "{e}");
        let lines = body.iter().filter(|&&c| c == b'\n').count() + 1;
        assert!(e.file != *name || e.line <= lines, "{e}: line beyond the file");
    }
    std::fs::copy(src().join(name), d.join(name)).unwrap();
});
