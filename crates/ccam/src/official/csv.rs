//! RFC-4180 reader that knows physical line numbers (errors must point into the file as an editor shows it).

/// Minimal CSV reader: `,` separator, `"` quoting with `""` escapes, quoted cells spanning lines,
/// LF / CRLF / CR line ends. It reports the physical line where each record starts, because errors and
/// warnings must point into the file as a text editor shows it (multi-line cells shift record numbers).
pub(crate) struct CsvReader<'a> {
    s: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> CsvReader<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        CsvReader { s, pos: 0, line: 1 }
    }

    /// Reads one record into `out`; returns its starting line, `None` at end of input, or the reason
    /// (with the starting line) when a quoted cell is never closed.
    pub(crate) fn read_record(
        &mut self,
        out: &mut Vec<String>,
    ) -> Result<Option<usize>, (usize, String)> {
        let b = self.s.as_bytes();
        if self.pos >= b.len() {
            return Ok(None);
        }
        out.clear();
        let start_line = self.line;
        loop {
            let mut field = String::new();
            if b.get(self.pos) == Some(&b'"') {
                self.pos += 1;
                let mut seg = self.pos;
                loop {
                    match b.get(self.pos) {
                        None => {
                            return Err((start_line, "quoted cell is never closed".into()));
                        }
                        Some(b'"') => {
                            // All slice bounds below sit on ASCII bytes, hence on char boundaries.
                            field.push_str(self.s.get(seg..self.pos).unwrap_or(""));
                            if b.get(self.pos + 1) == Some(&b'"') {
                                field.push('"');
                                self.pos += 2;
                                seg = self.pos;
                            } else {
                                self.pos += 1;
                                break;
                            }
                        }
                        Some(b'\n') => {
                            self.line += 1;
                            self.pos += 1;
                        }
                        Some(b'\r') => {
                            // CRLF or a lone CR inside a cell becomes `\n`, so that a label does not
                            // depend on the line-end convention of the file.
                            field.push_str(self.s.get(seg..self.pos).unwrap_or(""));
                            field.push('\n');
                            self.pos += if b.get(self.pos + 1) == Some(&b'\n') {
                                2
                            } else {
                                1
                            };
                            self.line += 1;
                            seg = self.pos;
                        }
                        Some(_) => self.pos += 1,
                    }
                }
            }
            // Unquoted cell, or stray text after a closing quote (kept literally: lenient).
            let seg = self.pos;
            while let Some(&c) = b.get(self.pos) {
                if c == b',' || c == b'\n' || c == b'\r' {
                    break;
                }
                self.pos += 1;
            }
            field.push_str(self.s.get(seg..self.pos).unwrap_or(""));
            out.push(field);
            match b.get(self.pos) {
                None => break,
                Some(b',') => self.pos += 1,
                Some(b'\r') => {
                    self.pos += 1;
                    if b.get(self.pos) == Some(&b'\n') {
                        self.pos += 1;
                    }
                    self.line += 1;
                    break;
                }
                Some(_) => {
                    self.pos += 1;
                    self.line += 1;
                    break;
                }
            }
        }
        Ok(Some(start_line))
    }
}
