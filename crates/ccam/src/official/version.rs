//! Line 1 of an official export: `CNAM - CCAM version 81 applicable 01/01/2026` → (version, date).

use super::CcamError;
use super::csv::CsvReader;

/// Reads line 1 (`CNAM - CCAM version 81 applicable 01/01/2026`, also `… applicable au 26/04/2021`)
/// and returns `(version, YYYYMMDD)`. Errors are located at `<input>:1`.
pub fn version_line(bytes: &[u8]) -> Result<(u32, u32), CcamError> {
    version_line_named(bytes, "<input>")
}

pub(crate) fn version_line_named(bytes: &[u8], name: &str) -> Result<(u32, u32), CcamError> {
    let err = |reason: String| CcamError::VersionLine {
        at: format!("{name}:1"),
        reason,
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let end = bytes
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .unwrap_or(bytes.len());
    let line = std::str::from_utf8(bytes.get(..end).unwrap_or_default())
        .map_err(|_| err("line 1 is not UTF-8".into()))?;
    // Line 1 is a CSV record (`…,,,,,,,,,,`); the text is its first cell, possibly quoted.
    let mut rd = CsvReader::new(line);
    let mut rec = Vec::new();
    let cell = match rd.read_record(&mut rec) {
        Ok(Some(_)) => rec
            .first()
            .map(String::as_str)
            .unwrap_or("")
            .trim()
            .to_string(),
        _ => line.trim().to_string(),
    };
    parse_version_text(&cell).map_err(|r| err(format!("{r} (line 1 is `{cell}`)")))
}

pub(crate) fn parse_version_text(s: &str) -> Result<(u32, u32), String> {
    let lower = s.to_lowercase();
    if !lower.contains("ccam") {
        return Err("does not name a CCAM version".into());
    }
    let after = lower
        .find("version")
        .and_then(|i| lower.get(i + "version".len()..))
        .ok_or("no `version` word")?;
    let after = after.trim_start();
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return Err("no version number after `version`".into());
    }
    let version: u32 = digits.parse().map_err(|_| "version number too large")?;
    let rest = after.get(digits.len()..).unwrap_or("");
    // The date is the first DD/MM/YYYY token after the version number.
    for tok in rest.split(|c: char| c.is_whitespace()) {
        let tok = tok.trim_matches(|c: char| !c.is_ascii_digit());
        let parts: Vec<&str> = tok.split('/').collect();
        if let [d, m, y] = parts[..] {
            let ok_len = (1..=2).contains(&d.len()) && (1..=2).contains(&m.len()) && y.len() == 4;
            let all_digits = [d, m, y]
                .iter()
                .all(|p| p.bytes().all(|b| b.is_ascii_digit()));
            if ok_len && all_digits {
                let (d, m, y): (u32, u32, u32) = (
                    d.parse().unwrap_or(0),
                    m.parse().unwrap_or(0),
                    y.parse().unwrap_or(0),
                );
                if !valid_ymd(y, m, d) {
                    return Err(format!("impossible date `{tok}`"));
                }
                return Ok((version, y * 10000 + m * 100 + d));
            }
        }
    }
    Err("no applicability date DD/MM/YYYY".into())
}

pub(crate) fn valid_ymd(y: u32, m: u32, d: u32) -> bool {
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1000..=9999).contains(&y) && d >= 1 && d <= days
}
