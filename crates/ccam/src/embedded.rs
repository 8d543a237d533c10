//! The tables the binary carries: our regulatory tables (`fixtures/tables/`) and the three official
//! CCAM exports (`fixtures/ccam/`, provenance in `fixtures/PROVENANCE.md`), so that `refs build` and
//! `gen` work anywhere without the source tree.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("{0}")]
    Io(String),
    #[error("CCAM: {0}")]
    Ccam(String),
}

/// Our regulatory tables, embedded so that the binary can build a reference set anywhere.
pub const OWN_TABLES: [(&str, &str); 8] = [
    (
        "modifiers.tsv",
        include_str!("../../../fixtures/tables/modifiers.tsv"),
    ),
    (
        "association_codes.tsv",
        include_str!("../../../fixtures/tables/association_codes.tsv"),
    ),
    (
        "incompatibilities.tsv",
        include_str!("../../../fixtures/tables/incompatibilities.tsv"),
    ),
    (
        "ngap_letters.tsv",
        include_str!("../../../fixtures/tables/ngap_letters.tsv"),
    ),
    (
        "parameters.tsv",
        include_str!("../../../fixtures/tables/parameters.tsv"),
    ),
    (
        "specialties.tsv",
        include_str!("../../../fixtures/tables/specialties.tsv"),
    ),
    (
        "rates.tsv",
        include_str!("../../../fixtures/tables/rates.tsv"),
    ),
    (
        "consultation_compatible.tsv",
        include_str!("../../../fixtures/tables/consultation_compatible.tsv"),
    ),
];

/// The three official CCAM exports, embedded (fixtures/PROVENANCE.md).
pub const OFFICIAL_CCAM: [(&str, &[u8]); 3] = [
    (
        "ccam_v67_applicable_2021-04-26.csv",
        include_bytes!("../../../fixtures/ccam/ccam_v67_applicable_2021-04-26.csv"),
    ),
    (
        "ccam_v78_applicable_2025-02-01.csv",
        include_bytes!("../../../fixtures/ccam/ccam_v78_applicable_2025-02-01.csv"),
    ),
    (
        "ccam_v81_applicable_2026-01-01.csv",
        include_bytes!("../../../fixtures/ccam/ccam_v81_applicable_2026-01-01.csv"),
    ),
];

/// Writes the regulatory tables and the CCAM history into `dir` (the part of a reference set that does
/// not depend on the population). With `subset`, only the listed CCAM codes are kept.
pub fn write_regulatory_refs(dir: &Path, subset: Option<&[&str]>) -> Result<(), EmbedError> {
    std::fs::create_dir_all(dir).map_err(|e| EmbedError::Io(format!("{}: {e}", dir.display())))?;
    for (name, text) in OWN_TABLES {
        std::fs::write(dir.join(name), text)
            .map_err(|e| EmbedError::Io(format!("{}: {e}", dir.display())))?;
    }
    let mut versions = Vec::new();
    for (name, bytes) in OFFICIAL_CCAM {
        versions.push(
            crate::official::parse_official(bytes, name)
                .map_err(|e| EmbedError::Ccam(e.to_string()))?,
        );
    }
    let mut hist =
        crate::official::build_history(versions).map_err(|e| EmbedError::Ccam(e.to_string()))?;
    if let Some(keep) = subset {
        // Keep the listed codes and every code named in our incompatibility table (so that the sample
        // can exercise R090 with real pairs).
        let incompat = OWN_TABLES
            .iter()
            .find(|t| t.0 == "incompatibilities.tsv")
            .map(|t| t.1)
            .unwrap_or("");
        let mut codes: Vec<[u8; 7]> = keep
            .iter()
            .filter_map(|k| k.as_bytes().try_into().ok())
            .collect();
        for tok in incompat.split(|c: char| !c.is_ascii_alphanumeric()) {
            let b = tok.as_bytes();
            if b.len() == 7
                && b[..4].iter().all(u8::is_ascii_uppercase)
                && b[4..].iter().all(u8::is_ascii_digit)
            {
                codes.extend(<[u8; 7]>::try_from(b).ok());
            }
        }
        hist.retain_codes(|c| codes.iter().any(|k| k == c));
    }
    crate::official::write_tsv(&hist, dir)
        .map_err(|e| EmbedError::Io(format!("{}: {e}", dir.display())))?;
    Ok(())
}
