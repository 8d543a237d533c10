//! `liquidator report`: the morning-after HTML page of a run.
//!
//! The figures come from the run itself: `summary.json` and `report_data.json`, the aggregates an
//! [`data::AggregatesSink`] computed from the typed outcomes during `liquidator run`
//! (`formats/outputs.md`). No output file is re-parsed. The page is **one self-contained HTML file**:
//! inline CSS and inline SVG charts, no script, no network, no web font — it opens the same offline, in
//! a mail attachment or in a headless browser (`scripts/render-report`).
//!
//! - [`data`]: the aggregates, their sink and their JSON file;
//! - [`html`]: the page, one module per section, written with `maud` templates (text is escaped by
//!   construction); [`svg`]: the charts;
//! - [`fmt`]: French number formatting (`1 234,56 €`, `12,5 %`) and escaping for the SVG strings.
//!
//! Money stays exact: amounts are integer cents, summed as `i128` for display; `f64` is used only for
//! chart geometry and percentages. A directory whose figures disagree still gives a page, with red
//! checks; a directory without `report_data.json` (an older run) is refused with [`ReportError::NoData`].

pub mod data;
pub mod fmt;
pub mod html;
pub mod svg;

use liquidator_core::output::{SUMMARY, Summary};
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{}: not a directory (expected an output directory of `liquidator run`)", .0.display())]
    NotADir(PathBuf),
    #[error(
        "{}: no {} — this output directory was written by an older `liquidator run`, which did not \
         record the report's aggregates; run `liquidator run` again on the same claims file to report on it",
        .0.display(),
        data::REPORT_DATA
    )]
    NoData(PathBuf),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}:{line}: invalid JSON: {msg}", path.display())]
    Json {
        path: PathBuf,
        line: usize,
        msg: String,
    },
}

impl ReportError {
    /// The exit code of `liquidator report` (`formats/errors.md`): 9 for an output directory that
    /// cannot be reported on (no or unreadable `report_data.json` / `summary.json`), 5 for I/O.
    pub fn exit_code(&self) -> u8 {
        match self {
            ReportError::Io { .. } => 5,
            ReportError::NotADir(_) | ReportError::NoData(_) | ReportError::Json { .. } => 9,
        }
    }
}

/// Reads and parses `summary.json` of an output directory.
pub fn read_summary(dir: &Path) -> Result<Summary, ReportError> {
    let path = dir.join(SUMMARY);
    let text = std::fs::read_to_string(&path).map_err(|source| ReportError::Io {
        path: path.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| ReportError::Json {
        line: e.line(),
        path,
        msg: e.to_string(),
    })
}

/// One output directory as the report sees it.
#[derive(Debug)]
pub struct RunData {
    pub dir: PathBuf,
    pub summary: Summary,
    pub data: data::ReportData,
    /// Rows of `held_payments.tsv` (header first), when the run wrote one.
    pub held: Vec<Vec<String>>,
}

/// Reads `summary.json` and `report_data.json` of `dir`.
pub fn read_run(dir: &Path) -> Result<RunData, ReportError> {
    if !dir.is_dir() {
        return Err(ReportError::NotADir(dir.to_path_buf()));
    }
    Ok(RunData {
        dir: dir.to_path_buf(),
        summary: read_summary(dir)?,
        data: data::read_data(dir)?,
        // Written by the run (`output::sepa`); absent in runs made before payment orders existed.
        held: std::fs::read_to_string(dir.join("held_payments.tsv"))
            .map(|t| {
                t.lines()
                    .map(|l| l.split('\t').map(str::to_string).collect())
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Reads the output directory `out_dir` (and the `summary.json` of `previous`, for day-over-day
/// changes) and writes the report to `dest`, atomically (a reader never sees half a page).
pub fn write_report(
    out_dir: &Path,
    previous: Option<&Path>,
    dest: &Path,
) -> Result<(), ReportError> {
    let run = read_run(out_dir)?;
    let prev = match previous {
        Some(p) => {
            if !p.is_dir() {
                return Err(ReportError::NotADir(p.to_path_buf()));
            }
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.display().to_string());
            Some((name, read_summary(p)?))
        }
        None => None,
    };
    let page = html::render(&run, prev.as_ref().map(|(n, s)| (n.as_str(), s)));
    liquidator_core::output::files::write_atomic(dest, page.as_bytes()).map_err(|source| {
        ReportError::Io {
            path: dest.to_path_buf(),
            source,
        }
    })
}
