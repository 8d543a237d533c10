//! `liquidator report`: the morning-after HTML page of a run (issue #8).
//!
//! Reads an output directory of `liquidator run` (`formats/outputs.md`: `summary.json`, `payments.tsv`,
//! `rejections.tsv`, `amc/*.tsv`) and writes **one self-contained HTML file**: inline CSS and inline
//! SVG charts, no script, no network, no web font — it opens the same offline, in a mail attachment or
//! in a headless browser (`scripts/render-report`).
//!
//! - [`tsv`]: streaming TSV reader with `file:line: column` errors (shared with [`crate::parquet`]);
//! - [`read`]: one pass over the files into bounded aggregates ([`read::RunData`]);
//! - [`html`]: the page, sections and conservation checks; [`svg`]: the charts;
//! - [`fmt`]: French number formatting (`1 234,56 €`, `12,5 %`) and HTML escaping.
//!
//! Money stays exact: amounts are parsed to integer cents and summed as `i128`; `f64` is used only for
//! chart geometry and percentages. A malformed directory gives a [`ReportError`] naming the file and
//! line, never a panic; a directory whose figures disagree still gives a page, with red checks.

pub mod fmt;
pub mod html;
pub mod read;
pub mod svg;
pub mod tsv;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{}: not a directory (expected an output directory of `liquidator run`)", .0.display())]
    NotADir(PathBuf),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}:{line}: invalid summary: {msg}", path.display())]
    Json {
        path: PathBuf,
        line: usize,
        msg: String,
    },
    #[error(transparent)]
    Tsv(#[from] tsv::TsvError),
}

/// Reads the output directory `out_dir` (and the `summary.json` of `previous`, for day-over-day
/// changes) and writes the report to `dest`.
///
/// `dest` is written through a temporary file in the same directory and renamed, so a reader never
/// sees half a page and a failed run leaves no file.
pub fn write_report(
    out_dir: &Path,
    previous: Option<&Path>,
    dest: &Path,
) -> Result<(), ReportError> {
    let data = read::read_run(out_dir)?;
    let prev = match previous {
        Some(p) => {
            if !p.is_dir() {
                return Err(ReportError::NotADir(p.to_path_buf()));
            }
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.display().to_string());
            Some((name, read::read_summary(p)?))
        }
        None => None,
    };
    let page = html::render(&data, prev.as_ref().map(|(n, s)| (n.as_str(), s)));
    write_atomic(dest, page.as_bytes())
}

fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Io { path, source }
    };
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report.html".into());
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(bytes).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, dest).map_err(io_err(dest))
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}
