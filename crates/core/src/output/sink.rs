//! Atomic output: every file is written in a private staging directory next to the final one and the
//! directory is renamed into place only when the whole run succeeded.
//!
//! Architecture invariant: no file ever exists under a final output name unless its run succeeded. A
//! failed run removes its staging directory; a killed run (SIGKILL) leaves only a hidden
//! `.NAME.partial-PID` directory, never a final name. Files are created `0640`, directories `0750`:
//! outputs carry NIRs and must not be world-readable.

use super::{
    AMC_DIR, AMC_HEADER, OutBufs, PAYMENTS, PAYMENTS_HEADER, REJECTIONS, REJECTIONS_HEADER, Summary,
};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

pub struct Staging {
    pub dir: PathBuf,
    final_dir: PathBuf,
    force: bool,
    committed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("output directory {0} already exists (use --force to replace it)")]
    Exists(PathBuf),
    #[error("{0}: {1}")]
    Io(PathBuf, io::Error),
}

#[cfg(unix)]
fn mkdir_private(p: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(0o750).create(p)
}
#[cfg(not(unix))]
fn mkdir_private(p: &Path) -> io::Result<()> {
    fs::create_dir_all(p)
}

/// Creates a file readable by owner and group only.
pub fn create_private(p: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o640);
    }
    o.open(p)
}

impl Staging {
    pub fn create(out: &Path, force: bool) -> Result<Staging, StageError> {
        if out.exists() && !force {
            return Err(StageError::Exists(out.to_path_buf()));
        }
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "out".into());
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        mkdir_private(parent).map_err(|e| StageError::Io(parent.to_path_buf(), e))?;
        let dir = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(|e| StageError::Io(dir.clone(), e))?;
        }
        mkdir_private(&dir).map_err(|e| StageError::Io(dir.clone(), e))?;
        Ok(Staging {
            dir,
            final_dir: out.to_path_buf(),
            force,
            committed: false,
        })
    }

    /// Moves the staging directory to its final name (replacing an old one only with `--force`).
    pub fn commit(mut self) -> Result<PathBuf, StageError> {
        if self.final_dir.exists() {
            if !self.force {
                return Err(StageError::Exists(self.final_dir.clone()));
            }
            fs::remove_dir_all(&self.final_dir)
                .map_err(|e| StageError::Io(self.final_dir.clone(), e))?;
        }
        fs::rename(&self.dir, &self.final_dir)
            .map_err(|e| StageError::Io(self.final_dir.clone(), e))?;
        self.committed = true;
        Ok(self.final_dir.clone())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Writes the formatted buffers of a run, in the order received.
pub struct Writer {
    dir: PathBuf,
    payments: BufWriter<File>,
    rejections: BufWriter<File>,
    amc: BTreeMap<[u8; 10], BufWriter<File>>,
    pub summary: Summary,
}

fn amc_file_name(amc: &[u8; 10]) -> String {
    let s: String = String::from_utf8_lossy(amc)
        .trim_end()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{s}.tsv")
}

impl Writer {
    pub fn new(dir: &Path) -> io::Result<Writer> {
        let mut payments = BufWriter::with_capacity(1 << 20, create_private(&dir.join(PAYMENTS))?);
        payments.write_all(PAYMENTS_HEADER.as_bytes())?;
        let mut rejections =
            BufWriter::with_capacity(1 << 18, create_private(&dir.join(REJECTIONS))?);
        rejections.write_all(REJECTIONS_HEADER.as_bytes())?;
        mkdir_private(&dir.join(AMC_DIR))?;
        Ok(Writer {
            dir: dir.to_path_buf(),
            payments,
            rejections,
            amc: BTreeMap::new(),
            summary: Summary::default(),
        })
    }

    pub fn write(&mut self, b: &OutBufs) -> io::Result<()> {
        self.payments.write_all(&b.payments)?;
        self.rejections.write_all(&b.rejections)?;
        for (amc, row) in b.amc_rows() {
            if !self.amc.contains_key(&amc) {
                let path = self.dir.join(AMC_DIR).join(amc_file_name(&amc));
                let mut f = BufWriter::with_capacity(1 << 16, create_private(&path)?);
                f.write_all(AMC_HEADER.as_bytes())?;
                self.amc.insert(amc, f);
            }
            if let Some(f) = self.amc.get_mut(&amc) {
                f.write_all(row)?;
            }
        }
        self.summary.merge(&b.summary);
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<Summary> {
        self.payments.flush()?;
        self.rejections.flush()?;
        for f in self.amc.values_mut() {
            f.flush()?;
        }
        self.summary.amc_files = self.amc.len() as u64;
        Ok(self.summary)
    }
}
