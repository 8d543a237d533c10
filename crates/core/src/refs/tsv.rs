//! A small tab-separated table reader whose every error carries `file:line:column`.
//!
//! Reference tables are text with a header row (column names are the contract, their order is free),
//! `#` comment lines and blank lines. Values are read through typed accessors that turn a bad cell into
//! a [`LoadError`] naming the file, the 1-based line and the 1-based column (byte position of the
//! cell), so that an operator can open the file at the exact spot.

use crate::date::{Date, Period};
use crate::money::{self, Bp, Cents};
use std::path::Path;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{file}:{line}:{column}: {reason}")]
pub struct LoadError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

/// A parsed table: the header's column names and the data lines (borrowed from the text).
pub struct Table<'a> {
    pub file: String,
    cols: Vec<&'a str>,
    rows: Vec<(usize, &'a str)>,
}

/// One data row with positioned, typed accessors.
pub struct Row<'t, 'a> {
    table: &'t Table<'a>,
    pub line: usize,
    text: &'a str,
    cells: Vec<(usize, &'a str)>,
}

impl<'a> Table<'a> {
    pub fn parse(file: &str, text: &'a str) -> Result<Table<'a>, LoadError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut header = None;
        let mut rows = Vec::new();
        for (i, raw) in text.split('\n').enumerate() {
            let l = raw.strip_suffix('\r').unwrap_or(raw);
            if l.trim().is_empty() || l.starts_with('#') {
                continue;
            }
            if header.is_none() {
                header = Some(l.split('\t').map(str::trim).collect::<Vec<_>>());
            } else {
                rows.push((i + 1, l));
            }
        }
        let cols = header.ok_or_else(|| LoadError {
            file: file.to_string(),
            line: 1,
            column: 1,
            reason: "no header row".into(),
        })?;
        Ok(Table {
            file: file.to_string(),
            cols,
            rows,
        })
    }

    /// Fails unless every named column is present.
    pub fn require(&self, names: &[&str]) -> Result<(), LoadError> {
        for n in names {
            if !self.cols.contains(n) {
                return Err(LoadError {
                    file: self.file.clone(),
                    line: 1,
                    column: 1,
                    reason: format!("missing column `{n}`"),
                });
            }
        }
        Ok(())
    }

    pub fn has(&self, name: &str) -> bool {
        self.cols.contains(&name)
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn rows(&self) -> impl Iterator<Item = Row<'_, 'a>> {
        self.rows.iter().map(move |&(line, text)| {
            let mut cells = Vec::with_capacity(self.cols.len());
            let mut off = 0;
            for c in text.split('\t') {
                cells.push((off + 1, c));
                off += c.len() + 1;
            }
            Row {
                table: self,
                line,
                text,
                cells,
            }
        })
    }

    pub fn error(&self, line: usize, column: usize, reason: impl Into<String>) -> LoadError {
        LoadError {
            file: self.file.clone(),
            line,
            column,
            reason: reason.into(),
        }
    }
}

impl<'t, 'a> Row<'t, 'a> {
    fn idx(&self, name: &str) -> Option<usize> {
        self.table.cols.iter().position(|c| *c == name)
    }

    /// Error positioned on the named cell (or the end of the line if the cell is missing).
    pub fn err(&self, name: &str, reason: impl Into<String>) -> LoadError {
        let col = self
            .idx(name)
            .and_then(|i| self.cells.get(i).map(|c| c.0))
            .unwrap_or(self.text.len() + 1);
        self.table
            .error(self.line, col, format!("{name}: {}", reason.into()))
    }

    /// The trimmed cell, empty when the row is shorter than the header.
    pub fn str(&self, name: &str) -> Result<&'a str, LoadError> {
        let i = self
            .idx(name)
            .ok_or_else(|| self.err(name, "no such column"))?;
        Ok(self.cells.get(i).map(|c| c.1.trim()).unwrap_or(""))
    }

    pub fn nonempty(&self, name: &str) -> Result<&'a str, LoadError> {
        let s = self.str(name)?;
        if s.is_empty() {
            Err(self.err(name, "empty value"))
        } else {
            Ok(s)
        }
    }

    pub fn date(&self, name: &str) -> Result<Date, LoadError> {
        let s = self.nonempty(name)?;
        Date::parse_iso(s)
            .ok_or_else(|| self.err(name, format!("bad date `{s}` (expected a real YYYY-MM-DD)")))
    }

    pub fn opt_date(&self, name: &str) -> Result<Option<Date>, LoadError> {
        match self.str(name)? {
            "" => Ok(None),
            _ => self.date(name).map(Some),
        }
    }

    /// `valid_from` / `valid_to` as a period `[from, to)`; refuses `to <= from`.
    pub fn period(&self) -> Result<Period, LoadError> {
        let from = self.date("valid_from")?;
        let to = self.opt_date("valid_to")?.unwrap_or(Date::MAX);
        if to <= from {
            return Err(self.err(
                "valid_to",
                format!("valid_to {to} is not after valid_from {from}"),
            ));
        }
        Ok(Period { from, to })
    }

    pub fn euros(&self, name: &str) -> Result<Cents, LoadError> {
        let s = self.nonempty(name)?;
        money::parse_euros(s).ok_or_else(|| self.err(name, format!("bad amount `{s}`")))
    }

    /// A non-negative amount (tariffs, values).
    pub fn amount(&self, name: &str) -> Result<Cents, LoadError> {
        let v = self.euros(name)?;
        if v < 0 {
            Err(self.err(name, format!("negative amount {}", money::fmt_euros(v))))
        } else {
            Ok(v)
        }
    }

    pub fn opt_amount(&self, name: &str) -> Result<Option<Cents>, LoadError> {
        match self.str(name)? {
            "" => Ok(None),
            _ => self.amount(name).map(Some),
        }
    }

    pub fn pct(&self, name: &str) -> Result<Bp, LoadError> {
        let s = self.nonempty(name)?;
        money::parse_pct(s).ok_or_else(|| self.err(name, format!("bad percentage `{s}`")))
    }

    pub fn flag(&self, name: &str) -> Result<bool, LoadError> {
        match self.str(name)? {
            "0" | "" => Ok(false),
            "1" => Ok(true),
            s => Err(self.err(name, format!("expected 0 or 1, got `{s}`"))),
        }
    }

    pub fn uint(&self, name: &str) -> Result<u64, LoadError> {
        let s = self.nonempty(name)?;
        if s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.err(name, format!("expected digits, got `{s}`")));
        }
        Ok(s.bytes().fold(0u64, |a, b| a * 10 + (b - b'0') as u64))
    }

    /// Fixed-size ASCII field, space-padded on the right; refuses longer values.
    pub fn fixed<const N: usize>(&self, name: &str) -> Result<[u8; N], LoadError> {
        let s = self.str(name)?;
        if s.len() > N || !s.is_ascii() {
            return Err(self.err(name, format!("`{s}` longer than {N} ASCII characters")));
        }
        let mut a = [b' '; N];
        a[..s.len()].copy_from_slice(s.as_bytes());
        Ok(a)
    }
}

/// Reads a table file; a missing file is an error naming it.
pub fn read_file(dir: &Path, name: &str) -> Result<String, LoadError> {
    let p = dir.join(name);
    std::fs::read_to_string(&p).map_err(|e| LoadError {
        file: p.display().to_string(),
        line: 0,
        column: 0,
        reason: format!("cannot read: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_point_at_file_line_column() {
        let t = Table::parse("t.tsv", "# c\na\tvalid_from\tvalid_to\nx\t2025-02-30\t\n").unwrap();
        let row = t.rows().next().unwrap();
        let e = row.period().unwrap_err();
        assert_eq!((e.line, e.column), (3, 3));
        assert!(e.to_string().starts_with("t.tsv:3:3: valid_from: bad date"));
    }

    #[test]
    fn negative_amount_and_inverted_period_refused() {
        let t = Table::parse(
            "t.tsv",
            "v\tvalid_from\tvalid_to\n-1.00\t2025-01-01\t2024-01-01\n",
        )
        .unwrap();
        let row = t.rows().next().unwrap();
        assert!(row.amount("v").unwrap_err().reason.contains("negative"));
        assert!(row.period().unwrap_err().reason.contains("not after"));
    }
}
