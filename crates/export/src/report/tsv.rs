//! Streaming reader for the TSV files of an output directory (`formats/outputs.md`), shared by the
//! report and the Parquet export.
//!
//! Columns are looked up **by header name**, not by position, so that a column added at the end of a
//! layout does not break readers. Every error names the file, the 1-based line and the column: an
//! operator must be able to open the file at the faulty spot. Nothing here panics on input.

use liquidator_core::date::Date;
use liquidator_core::money::{Bp, Cents, parse_euros, parse_pct};
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum TsvError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}:{line}: {msg}", path.display())]
    Data {
        path: PathBuf,
        line: u64,
        msg: String,
    },
}

/// An open TSV file positioned after its header row.
pub struct Tsv {
    path: PathBuf,
    rd: BufReader<File>,
    header: Vec<String>,
    buf: Vec<u8>,
    /// Byte ranges of the fields of the current row in `buf` (reused: no allocation per row).
    spans: Vec<(usize, usize)>,
    line: u64,
}

/// One data row, borrowed from the reader.
pub struct Row<'a> {
    path: &'a Path,
    line: u64,
    text: &'a str,
    spans: &'a [(usize, usize)],
    header: &'a [String],
}

impl Tsv {
    /// Opens `path` and reads its header row.
    pub fn open(path: &Path) -> Result<Tsv, TsvError> {
        let f = File::open(path).map_err(|source| TsvError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        // 1 MiB buffer: the national day's payment file is a few GB read sequentially.
        let mut t = Tsv {
            path: path.to_path_buf(),
            rd: BufReader::with_capacity(1 << 20, f),
            header: Vec::new(),
            buf: Vec::with_capacity(1024),
            spans: Vec::with_capacity(48),
            line: 0,
        };
        if !t.read_line()? {
            return Err(t.err(1, "empty file: header row missing".into()));
        }
        let header: Vec<String> = t.text()?.split('\t').map(str::to_string).collect();
        t.header = header;
        Ok(t)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Index of a required column, or an error naming the file and its header line.
    pub fn col(&self, name: &str) -> Result<usize, TsvError> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| self.err(1, format!("column `{name}` missing from the header")))
    }

    /// Index of an optional column.
    pub fn opt_col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    fn err(&self, line: u64, msg: String) -> TsvError {
        TsvError::Data {
            path: self.path.clone(),
            line,
            msg,
        }
    }

    /// Reads the next physical line into `buf` without its line end. False at end of file.
    fn read_line(&mut self) -> Result<bool, TsvError> {
        self.buf.clear();
        let n = self
            .rd
            .read_until(b'\n', &mut self.buf)
            .map_err(|source| TsvError::Io {
                path: self.path.clone(),
                source,
            })?;
        if n == 0 {
            return Ok(false);
        }
        self.line += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        }
        // Tolerate a file that went through a CRLF-converting transfer: `\r` is never data here.
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(true)
    }

    fn text(&self) -> Result<&str, TsvError> {
        std::str::from_utf8(&self.buf).map_err(|e| {
            self.err(
                self.line,
                format!("invalid UTF-8 at byte {}", e.valid_up_to()),
            )
        })
    }

    /// The next data row, or `None` at end of file. A row must have as many fields as the header.
    pub fn next_row(&mut self) -> Result<Option<Row<'_>>, TsvError> {
        if !self.read_line()? {
            return Ok(None);
        }
        if let Err(e) = std::str::from_utf8(&self.buf) {
            return Err(self.err(
                self.line,
                format!("invalid UTF-8 at byte {}", e.valid_up_to()),
            ));
        }
        self.spans.clear();
        let mut start = 0;
        for i in memchr::memchr_iter(b'\t', &self.buf) {
            self.spans.push((start, i));
            start = i + 1;
        }
        self.spans.push((start, self.buf.len()));
        if self.spans.len() != self.header.len() {
            return Err(self.err(
                self.line,
                format!(
                    "expected {} tab-separated fields (as in the header), found {}",
                    self.header.len(),
                    self.spans.len()
                ),
            ));
        }
        // Checked just above; `unwrap_or_default` only keeps the no-panic rule visible.
        let text = std::str::from_utf8(&self.buf).unwrap_or_default();
        Ok(Some(Row {
            path: &self.path,
            line: self.line,
            text,
            spans: &self.spans,
            header: &self.header,
        }))
    }
}

impl<'a> Row<'a> {
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The raw text of field `i` (an index from [`Tsv::col`], so always in range).
    pub fn str(&self, i: usize) -> &'a str {
        match self.spans.get(i) {
            Some(&(a, b)) => self.text.get(a..b).unwrap_or(""),
            None => "",
        }
    }

    /// An error at this row, naming column `i`.
    pub fn err(&self, i: usize, msg: impl std::fmt::Display) -> TsvError {
        let col = self.header.get(i).map(String::as_str).unwrap_or("?");
        TsvError::Data {
            path: self.path.to_path_buf(),
            line: self.line,
            msg: format!("column `{col}`: {msg}"),
        }
    }

    /// A required decimal euro amount, in cents.
    pub fn cents(&self, i: usize) -> Result<Cents, TsvError> {
        let s = self.str(i);
        parse_euros(s).ok_or_else(|| self.err(i, format!("invalid amount `{}`", shorten(s))))
    }

    /// An amount that may be empty.
    pub fn opt_cents(&self, i: usize) -> Result<Option<Cents>, TsvError> {
        if self.str(i).is_empty() {
            Ok(None)
        } else {
            self.cents(i).map(Some)
        }
    }

    /// A percentage that may be empty, in basis points (hundredths of a percent).
    pub fn opt_bp(&self, i: usize) -> Result<Option<Bp>, TsvError> {
        let s = self.str(i);
        if s.is_empty() {
            return Ok(None);
        }
        parse_pct(s)
            .map(Some)
            .ok_or_else(|| self.err(i, format!("invalid percentage `{}`", shorten(s))))
    }

    /// A non-negative integer that may be empty.
    pub fn opt_u64(&self, i: usize) -> Result<Option<u64>, TsvError> {
        let s = self.str(i);
        if s.is_empty() {
            return Ok(None);
        }
        if s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.err(i, format!("invalid integer `{}`", shorten(s))));
        }
        s.parse()
            .map(Some)
            .map_err(|_| self.err(i, format!("invalid integer `{}`", shorten(s))))
    }

    /// A `YYYY-MM-DD` date that may be empty.
    pub fn opt_date(&self, i: usize) -> Result<Option<Date>, TsvError> {
        let s = self.str(i);
        if s.is_empty() {
            return Ok(None);
        }
        Date::parse_iso(s).map(Some).ok_or_else(|| {
            self.err(
                i,
                format!("invalid date `{}` (expected YYYY-MM-DD)", shorten(s)),
            )
        })
    }
}

/// Cuts a bad value for an error message (a corrupt file can hold a megabyte on one line).
fn shorten(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(40).collect::<String>())
    }
}
