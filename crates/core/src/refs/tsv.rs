//! The reader of the small reference tables (everything but the beneficiaries and ALD tables, which have
//! their own parallel splitter in `beneficiaries.rs`): every error carries `file:line:column`.
//!
//! Reference tables are text with a header row (column names are the contract, their order is free),
//! `#` comment lines and blank lines, tab-separated, without quoting (a `"` in a label is a character).
//! The records are split by the `csv` crate ([`Table::parse`]); a loader then reads each data row into a
//! serde row struct ([`Table::records`]) whose cells are typed by the newtypes of this module ([`Day`],
//! [`Amount`], [`Pct`], [`Code7`]…) or by plain integers, `bool` (`0`/`1`), `&str` and `Option` (empty
//! cell = `None`). A bad cell becomes a [`LoadError`] naming the file, the 1-based line and the 1-based
//! column (byte position of the cell), so that an operator can open the file at the exact spot; a column
//! the row struct needs and the header lacks is refused on the header line before any row is read.
//!
//! The positioned accessors of [`Row`] (`row.date("valid_from")`, `row.amount(..)`…) remain for loaders
//! that read cells one by one.

use crate::date::{Date, Period};
use crate::money::{self, Bp, Cents};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, Visitor};
use std::fmt;
use std::path::Path;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{file}:{line}:{column}: {reason}")]
pub struct LoadError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

/// A parsed table: the header's column names and the data rows (cells borrowed from the text).
pub struct Table<'a> {
    pub file: String,
    /// Line of the header row (1-based).
    pub header_line: usize,
    cols: Vec<&'a str>,
    rows: Vec<RowData<'a>>,
}

struct RowData<'a> {
    line: usize,
    /// Column just after the last cell (where a missing cell is reported).
    end_col: usize,
    /// (1-based column, raw cell text).
    cells: Vec<(usize, &'a str)>,
}

/// One data row with positioned, typed accessors.
pub struct Row<'t, 'a> {
    table: &'t Table<'a>,
    pub line: usize,
    data: &'t RowData<'a>,
}

impl<'a> Table<'a> {
    /// Splits `text` into a header and data rows (csv crate: tab delimiter, `#` comments, no quoting,
    /// rows of any length; blank lines skipped).
    pub fn parse(file: &str, text: &'a str) -> Result<Table<'a>, LoadError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut rdr = csv::ReaderBuilder::new()
            .delimiter(b'\t')
            .comment(Some(b'#'))
            .quoting(false)
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut header: Option<(usize, Vec<&'a str>)> = None;
        let mut rows = Vec::new();
        let mut rec = csv::StringRecord::new();
        loop {
            match rdr.read_record(&mut rec) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line() as usize);
                    return Err(LoadError {
                        file: file.to_string(),
                        line,
                        column: 1,
                        reason: format!("unreadable row: {e}"),
                    });
                }
            }
            let Some(pos) = rec.position() else { continue };
            // The reader's position is where it started reading, before the comment and blank lines
            // it skipped: move to the record's own line.
            let (mut line, mut start) = (pos.line() as usize, pos.byte() as usize);
            loop {
                let rest = text.get(start..).unwrap_or("");
                if !(rest.starts_with('#') || rest.starts_with('\n') || rest.starts_with('\r')) {
                    break;
                }
                match rest.find('\n') {
                    Some(k) => {
                        start += k + 1;
                        line += 1;
                    }
                    None => break,
                }
            }
            let mut cells = Vec::with_capacity(rec.len());
            for i in 0..rec.len() {
                let r = rec.range(i).unwrap_or(0..0);
                // No quoting: the cell's bytes in the input are the record's, shifted by one tab per cell.
                let (a, b) = (start + r.start + i, start + r.end + i);
                cells.push((r.start + i + 1, text.get(a..b).unwrap_or("")));
            }
            if cells.iter().all(|c| c.1.trim().is_empty()) {
                continue;
            }
            if header.is_none() {
                header = Some((line, cells.iter().map(|c| c.1.trim()).collect()));
                continue;
            }
            let end_col = cells.last().map_or(1, |c| c.0 + c.1.len());
            rows.push(RowData {
                line,
                end_col,
                cells,
            });
        }
        let (header_line, cols) = header.ok_or_else(|| LoadError {
            file: file.to_string(),
            line: 1,
            column: 1,
            reason: "no header row".into(),
        })?;
        Ok(Table {
            file: file.to_string(),
            header_line,
            cols,
            rows,
        })
    }

    /// Fails unless every named column is present (error on the header line).
    pub fn require(&self, names: &[&str]) -> Result<(), LoadError> {
        for n in names {
            if !self.cols.contains(n) {
                return Err(self.error(self.header_line, 1, format!("missing column `{n}`")));
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
        self.rows.iter().map(move |data| Row {
            table: self,
            line: data.line,
            data,
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

    /// Every data row read into the serde row struct `T`, with the row (for positioned checks across
    /// cells). The columns of `T`'s fields must all be in the header, except those listed in `optional`
    /// (fields of type `Option`, absent = `None`).
    pub fn records<T: Deserialize<'a>>(
        &self,
        optional: &[&str],
    ) -> Result<Vec<(Row<'_, 'a>, T)>, LoadError> {
        let needed: Vec<&str> = struct_fields::<T>()
            .iter()
            .copied()
            .filter(|f| !optional.contains(f))
            .collect();
        self.require(&needed)?;
        let mut out = Vec::with_capacity(self.rows.len());
        for row in self.rows() {
            let v = T::deserialize(RowDe { row: &row }).map_err(|e| match e.col {
                Some(i) => row.err(self.cols[i], e.msg),
                None => self.error(row.line, 1, e.msg),
            })?;
            out.push((row, v));
        }
        Ok(out)
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
            .and_then(|i| self.data.cells.get(i).map(|c| c.0))
            .unwrap_or(self.data.end_col);
        self.table
            .error(self.line, col, format!("{name}: {}", reason.into()))
    }

    fn cell(&self, i: usize) -> (usize, &'a str) {
        self.data
            .cells
            .get(i)
            .map(|&(c, s)| (c, s.trim()))
            .unwrap_or((self.data.end_col, ""))
    }

    /// The trimmed cell, empty when the row is shorter than the header.
    pub fn str(&self, name: &str) -> Result<&'a str, LoadError> {
        let i = self
            .idx(name)
            .ok_or_else(|| self.err(name, "no such column"))?;
        Ok(self.cell(i).1)
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
        parse_day(s).map_err(|m| self.err(name, m))
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
        let to = self.opt_date("valid_to")?;
        self.check_period(from, to)
    }

    /// The period of already-read `valid_from` / `valid_to` cells; refuses `to <= from` (on `valid_to`).
    pub fn check_period(&self, from: Date, to: Option<Date>) -> Result<Period, LoadError> {
        let to = to.unwrap_or(Date::MAX);
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
        parse_euros(s).map_err(|m| self.err(name, m))
    }

    /// A non-negative amount (tariffs, values).
    pub fn amount(&self, name: &str) -> Result<Cents, LoadError> {
        let s = self.nonempty(name)?;
        parse_amount(s).map_err(|m| self.err(name, m))
    }

    pub fn opt_amount(&self, name: &str) -> Result<Option<Cents>, LoadError> {
        match self.str(name)? {
            "" => Ok(None),
            _ => self.amount(name).map(Some),
        }
    }

    pub fn pct(&self, name: &str) -> Result<Bp, LoadError> {
        let s = self.nonempty(name)?;
        parse_pct(s).map_err(|m| self.err(name, m))
    }

    pub fn flag(&self, name: &str) -> Result<bool, LoadError> {
        parse_flag(self.str(name)?).map_err(|m| self.err(name, m))
    }

    pub fn uint(&self, name: &str) -> Result<u64, LoadError> {
        let s = self.nonempty(name)?;
        parse_uint(s).map_err(|m| self.err(name, m))
    }

    /// Fixed-size ASCII field, space-padded on the right; refuses longer values.
    pub fn fixed<const N: usize>(&self, name: &str) -> Result<[u8; N], LoadError> {
        parse_fixed(self.str(name)?).map_err(|m| self.err(name, m))
    }
}

// ---------------------------------------------------------------------------------------------------
// Cell parsers (one wording for the accessors and the serde newtypes).

fn parse_day(s: &str) -> Result<Date, String> {
    Date::parse_iso(s).ok_or_else(|| format!("bad date `{s}` (expected a real YYYY-MM-DD)"))
}

fn parse_euros(s: &str) -> Result<Cents, String> {
    money::parse_euros(s).ok_or_else(|| format!("bad amount `{s}`"))
}

fn parse_amount(s: &str) -> Result<Cents, String> {
    let v = parse_euros(s)?;
    if v < 0 {
        Err(format!("negative amount {}", money::fmt_euros(v)))
    } else {
        Ok(v)
    }
}

fn parse_pct(s: &str) -> Result<Bp, String> {
    money::parse_pct(s).ok_or_else(|| format!("bad percentage `{s}`"))
}

fn parse_flag(s: &str) -> Result<bool, String> {
    match s {
        "0" | "" => Ok(false),
        "1" => Ok(true),
        s => Err(format!("expected 0 or 1, got `{s}`")),
    }
}

fn parse_uint(s: &str) -> Result<u64, String> {
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("expected digits, got `{s}`"));
    }
    Ok(s.bytes().fold(0u64, |a, b| a * 10 + (b - b'0') as u64))
}

fn parse_fixed<const N: usize>(s: &str) -> Result<[u8; N], String> {
    if s.len() > N || !s.is_ascii() {
        return Err(format!("`{s}` longer than {N} ASCII characters"));
    }
    let mut a = [b' '; N];
    a[..s.len()].copy_from_slice(s.as_bytes());
    Ok(a)
}

fn parse_code7(s: &str) -> Result<[u8; 7], String> {
    let b = s.as_bytes();
    if b.len() != 7
        || !b[..4].iter().all(u8::is_ascii_uppercase)
        || !b[4..].iter().all(u8::is_ascii_digit)
    {
        return Err(format!("`{s}` is not a CCAM code [A-Z]{{4}}[0-9]{{3}}"));
    }
    let mut c = [0u8; 7];
    c.copy_from_slice(b);
    Ok(c)
}

/// Deserializes a cell through its trimmed text.
fn from_cell<'de, D: Deserializer<'de>, T>(
    d: D,
    f: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, D::Error> {
    struct V<F>(F);
    impl<T, F: FnOnce(&str) -> Result<T, String>> Visitor<'_> for V<F> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a table cell")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
            (self.0)(s.trim()).map_err(E::custom)
        }
    }
    d.deserialize_str(V(f))
}

macro_rules! cell_newtype {
    ($(#[$m:meta])* $name:ident($t:ty) = $parse:expr) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name(pub $t);
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                from_cell(d, |s| {
                    if s.is_empty() {
                        Err("empty value".to_string())
                    } else {
                        $parse(s).map($name)
                    }
                })
            }
        }
    };
}

cell_newtype!(
    /// A real `YYYY-MM-DD` date.
    Day(Date) = parse_day
);
cell_newtype!(
    /// An amount in euros (`12.34`), possibly negative.
    Euros(Cents) = parse_euros
);
cell_newtype!(
    /// A non-negative amount in euros (tariffs, values).
    Amount(Cents) = parse_amount
);
cell_newtype!(
    /// A percentage (`70`, `21.8`) in basis points.
    Pct(Bp) = parse_pct
);
cell_newtype!(
    /// Digits only (at most 18).
    Uint(u64) = parse_uint
);
cell_newtype!(
    /// A CCAM code `[A-Z]{4}[0-9]{3}`.
    Code7([u8; 7]) = parse_code7
);

/// `0`/`1` (empty = `0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flag(pub bool);
impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_cell(d, parse_flag).map(Flag)
    }
}

/// Fixed-size ASCII cell, space-padded on the right (may be empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fixed<const N: usize>(pub [u8; N]);
impl<'de, const N: usize> Deserialize<'de> for Fixed<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_cell(d, parse_fixed::<N>).map(Fixed)
    }
}

/// A small number `0..=MAX` (activity, phase, specialty, sector…).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Small<const MAX: u8>(pub u8);
impl<'de, const MAX: u8> Deserialize<'de> for Small<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_cell(d, |s| {
            let v = parse_uint(s)?;
            if v > MAX as u64 {
                return Err(format!("{v} out of range 0..={MAX}"));
            }
            Ok(Small(v as u8))
        })
    }
}

// ---------------------------------------------------------------------------------------------------
// The serde bridge: a row is a map from column names to cells; an error remembers its column.

#[derive(Debug)]
struct DeError {
    col: Option<usize>,
    msg: String,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.msg)
    }
}
impl std::error::Error for DeError {}
impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            col: None,
            msg: msg.to_string(),
        }
    }
}

struct RowDe<'r, 't, 'a> {
    row: &'r Row<'t, 'a>,
}

impl<'de, 'r, 't> Deserializer<'de> for RowDe<'r, 't, 'de> {
    type Error = DeError;
    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_map(RowMap {
            row: self.row,
            i: 0,
        })
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

struct RowMap<'r, 't, 'a> {
    row: &'r Row<'t, 'a>,
    i: usize,
}

impl<'de, 'r, 't> MapAccess<'de> for RowMap<'r, 't, 'de> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some(&name) = self.row.table.cols.get(self.i) else {
            return Ok(None);
        };
        seed.deserialize(name.into_deserializer()).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let i = self.i;
        self.i += 1;
        seed.deserialize(CellDe(self.row.cell(i).1))
            .map_err(|mut e| {
                e.col.get_or_insert(i);
                e
            })
    }
}

struct CellDe<'a>(&'a str);

impl CellDe<'_> {
    fn uint<T: TryFrom<u64>>(&self) -> Result<T, DeError> {
        let v = parse_uint(self.0).map_err(de::Error::custom)?;
        T::try_from(v).map_err(|_| de::Error::custom(format!("{v} out of range")))
    }
}

macro_rules! cell_uint {
    ($($f:ident $t:ty => $visit:ident;)*) => {$(
        fn $f<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
            let n: $t = self.uint()?;
            v.$visit(n)
        }
    )*};
}

impl<'de> Deserializer<'de> for CellDe<'de> {
    type Error = DeError;
    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_borrowed_str(self.0)
    }
    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        if self.0.is_empty() {
            v.visit_none()
        } else {
            v.visit_some(self)
        }
    }
    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_bool(parse_flag(self.0).map_err(de::Error::custom)?)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        v.visit_newtype_struct(self)
    }
    cell_uint! {
        deserialize_u8 u8 => visit_u8;
        deserialize_u16 u16 => visit_u16;
        deserialize_u32 u32 => visit_u32;
        deserialize_u64 u64 => visit_u64;
    }
    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// The field names of a row struct (serde derive passes them to `deserialize_struct`).
fn struct_fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    struct Fields<'f>(&'f mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Fields<'_> {
        type Error = DeError;
        fn deserialize_any<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _v: V,
        ) -> Result<V::Value, DeError> {
            *self.0 = fields;
            Err(de::Error::custom("fields read"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
            unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }
    let mut f: &'static [&'static str] = &[];
    let _ = T::deserialize(Fields(&mut f));
    f
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

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct R<'a> {
        code: Code7,
        valid_from: Day,
        valid_to: Option<Day>,
        n: u8,
        on: bool,
        label: &'a str,
        extra: Option<Amount>,
    }

    #[test]
    fn serde_rows_are_typed_and_errors_positioned() {
        let text = "\u{feff}# comment\n\ncode\tvalid_from\tvalid_to\tn\ton\tlabel\r\nABCD001\t2025-01-01\t\t7\t1\t \"quoted\" label \r\n\nABCD002\t2025-01-01\t2026-01-01\t8\t0\tx\n";
        let t = Table::parse("t.tsv", text).unwrap();
        assert_eq!(t.header_line, 3);
        let rows = t.records::<R>(&["extra"]).unwrap();
        assert_eq!(rows.len(), 2);
        let (row, r) = &rows[0];
        assert_eq!(
            (row.line, r.n, r.on, r.label),
            (4, 7, true, "\"quoted\" label")
        );
        assert_eq!(r.valid_to, None);
        assert_eq!(&r.code.0, b"ABCD001");
        assert_eq!(rows[1].0.line, 6);
        assert_eq!(rows[1].1.valid_to, Some(Day(Date(20260101))));

        let bad = |body: &str| {
            let text = format!("code\tvalid_from\tvalid_to\tn\ton\tlabel\n{body}\n");
            let t = Table::parse("t.tsv", &text).unwrap();
            t.records::<R>(&["extra"]).err().unwrap().to_string()
        };
        assert_eq!(
            bad("ABCD001\t2025-02-30\t\t7\t1\tx"),
            "t.tsv:2:9: valid_from: bad date `2025-02-30` (expected a real YYYY-MM-DD)"
        );
        assert_eq!(
            bad("abcd001\t2025-01-01\t\t7\t1\tx"),
            "t.tsv:2:1: code: `abcd001` is not a CCAM code [A-Z]{4}[0-9]{3}"
        );
        assert!(bad("ABCD001\t2025-01-01\t\t300\t1\tx").starts_with("t.tsv:2:21: n: "));
        assert_eq!(
            bad("ABCD001\t2025-01-01\t\t3\t2\tx"),
            "t.tsv:2:23: on: expected 0 or 1, got `2`"
        );
        // A short row: the missing cells are empty, reported at the end of the line.
        assert_eq!(
            bad("ABCD001\t2025-01-01\t"),
            "t.tsv:2:20: n: expected digits, got ``"
        );
    }

    #[test]
    fn missing_column_is_refused_on_the_header_line() {
        let t = Table::parse("t.tsv", "# c\ncode\tvalid_from\tn\ton\tlabel\n").unwrap();
        let e = t.records::<R>(&["extra"]).err().unwrap();
        assert_eq!(e.to_string(), "t.tsv:2:1: missing column `valid_to`");
    }
}
