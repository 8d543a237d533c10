//! Loader for the official CCAM export (the Assurance Maladie spreadsheet saved as CSV) and the dated
//! multi-version history built from several such files.
//!
//! The layout, every quirk found in the real files and how each is handled are documented in
//! `formats/ccam-official.md`; the output tables are the `ccam_*.tsv` tables of `formats/refs.md`.
//!
//! Pipeline: [`parse_official`] (one file → [`OfficialCcam`]) → [`build_history`] (several versions →
//! [`CcamHistory`], dated rows with `[valid_from, valid_to)` periods) → [`write_tsv`] (four TSV files).
//!
//! Design choices:
//! - money never touches `f64`: the published cells (`33.439999999999998`, `48`, `226,88`) are read
//!   exactly as `rust_decimal` decimals by `decimal::parse_decimal` (the one parser of decimal text) and
//!   rounded half-up to the cent by the core's `money::round_decimal` (the one rounding rule), then
//!   kept as `i64` cents;
//! - the source is hand-edited and inconsistent, so anything that can be read unambiguously is read and
//!   reported as a warning (`name:line: …`); only what would silently corrupt a table is an error
//!   (unreadable version line or header, an unreadable tariff on an act's activity row, broken quoting);
//! - no function panics on any input (no indexing that can fail, no unchecked decimal arithmetic).

mod cells;
mod csv;
mod decimal;
mod history;
pub mod modifiers;
mod parser;
#[cfg(test)]
mod tests;
mod tsv;
mod version;

pub use history::{
    ActRow, CcamHistory, CompanionsRow, ModifierValuesRow, ModifiersRow, TariffRow, build_history,
};
pub use parser::parse_official;
pub use tsv::write_tsv;
pub use version::version_line;

/// A CCAM act code: 4 capital letters and 3 digits (`HBGD036`).
pub type Code = [u8; 7];

/// Errors that stop the load. `at` is `name:line` (physical line, 1-based, where the record starts).
#[derive(Debug, thiserror::Error)]
pub enum CcamError {
    #[error("{at}: bad version line: {reason}")]
    VersionLine { at: String, reason: String },
    #[error("{at}: {reason}")]
    Csv { at: String, reason: String },
    #[error("{at}: unexpected header: {reason}")]
    Header { at: String, reason: String },
    #[error("{at}: act {code}: unreadable tariff `{value}`: {reason}")]
    Tariff {
        at: String,
        code: String,
        value: String,
        reason: String,
    },
    #[error("{at}: {reason}")]
    Content { at: String, reason: String },
    #[error("CCAM versions {first} and {second} have the same applicable date {date}")]
    DuplicateApplicable {
        date: String,
        first: u32,
        second: u32,
    },
}

/// One official file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OfficialCcam {
    /// CCAM version number from line 1 (`CNAM - CCAM version 81 applicable 01/01/2026`).
    pub version: u32,
    /// Applicability date from line 1, `YYYYMMDD` (the CLI may override it).
    pub applicable: u32,
    /// Acts in file order.
    pub acts: Vec<OfficialAct>,
    /// Chapter 19.03: the modifiers' values and conditions, in file order.
    pub modifiers: Vec<modifiers::OfficialModifier>,
    /// Non-fatal findings, each `name:line: message`.
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OfficialAct {
    pub code: Code,
    /// Label as published (trimmed; may contain newlines).
    pub label: String,
    /// Act-level cells: the act row's value, or when empty there (multi-activity acts whose first row is
    /// a header) the first non-empty value among the act's activity rows.
    pub exo_tm: String,
    pub rc: String,
    pub ap: String,
    pub regroupement: String,
    /// Deepest chapter number in force at the act row, normalised (`18.02`, `01.01.01.01`).
    pub chapter: String,
    /// (activity, phase) rows in file order; a repeated (activity, phase) keeps the first.
    pub phases: Vec<OfficialPhase>,
    /// Allowed modifiers per activity, in published order, deduplicated (`FPSU`).
    pub modifiers: Vec<(u8, String)>,
    /// Codes of the parenthesised lists under the act (complementary gestures, supplements), in
    /// published order, deduplicated.
    pub companions: Vec<Code>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OfficialPhase {
    pub activity: u8,
    pub phase: u8,
    /// Sector 1 / OPTAM / OPTAM-ACO grid, cents. `None`: empty cell or "Non pris en charge".
    pub tariff_g1_cents: Option<i64>,
    /// Non-OPTAM grid (hors secteur 1 / hors adhérent), cents.
    pub tariff_g2_cents: Option<i64>,
}

impl OfficialAct {
    /// The code as text (codes are validated ASCII, so this never loses anything).
    pub fn code_str(&self) -> String {
        cells::code_string(&self.code)
    }
}
