//! The streaming reader: splits a byte range of the (memory-mapped) claims file into records and groups
//! them into claims. Zero-copy and allocation-free per record: records are slices of the input, parsed
//! into `Copy` values pushed into the chunk's reusable vectors.
//!
//! Architecture invariant: a claim is always read whole by one call (chunks are cut at claim headers,
//! see [`next_claim_start`]), so that the result does not depend on how the file was split.

use super::record::{self, ActLine, BatchTrailer, ClaimHeader, Kind, RecordError};
use crate::carry::claim_key;
use crate::codes::Reject;
use crate::money::Cents;
use std::ops::Range;

/// Where a record starts: 1-based line number and 0-based byte offset in the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: u64,
    pub offset: u64,
}

/// Why a claim is rejected at read time, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimError {
    pub code: Reject,
    pub pos: Pos,
    /// Line number (within the claim) of the act record concerned, if any.
    pub line_no: Option<u16>,
    pub field: &'static str,
    pub column: u16,
}

#[derive(Clone, Debug)]
pub struct ParsedClaim {
    /// Position of the claim header record.
    pub pos: Pos,
    /// Claim number as readable from the header (0 when unreadable).
    pub claim_no: u32,
    pub header: Option<ClaimHeader>,
    /// Successfully parsed act lines, as a range of [`Chunk::lines`].
    pub lines: Range<u32>,
    /// Every act record of the claim, parseable or not.
    pub act_records: u32,
    /// Sum of the readable fees of every act record (what was billed, paid or not).
    pub billed: Cents,
    pub error: Option<ClaimError>,
}

/// A record outside any claim (act or end record before the first header or after an end record).
#[derive(Clone, Copy, Debug)]
pub struct Orphan {
    pub pos: Pos,
    pub claim_no: u32,
    pub fee: Cents,
    pub is_act: bool,
}

/// What the engine's bookkeeping reads of a claim, computed as the claim is read (in the parse's
/// thread, the claim's bytes in its cache): the serial framing, duplicate check and routing then
/// read these 16 bytes a claim where they read each claim's header again (issue #13).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ClaimKeys {
    /// Its practitioner and claim number ([`claim_key`]), or [`NO_KEY`]: no readable header.
    pub(crate) dup: u64,
    /// Its beneficiary's key ([`crate::refs::benef_key`], 0 when the NIR has none: the controls
    /// reject it), or [`NO_KEY`]: the claim never reaches the rules (no header, or an error).
    pub(crate) route: u64,
}

/// No key ([`ClaimKeys`]): above every claim key (at most 10¹⁸) and beneficiary key (below 2⁵⁶).
pub(crate) const NO_KEY: u64 = u64::MAX;

impl ClaimKeys {
    fn of(c: &ParsedClaim) -> ClaimKeys {
        match &c.header {
            Some(h) => ClaimKeys {
                dup: claim_key(h.practitioner, h.claim_no),
                route: if c.error.is_none() {
                    crate::refs::benef_key(&h.nir, h.rank).unwrap_or(0)
                } else {
                    NO_KEY
                },
            },
            None => ClaimKeys {
                dup: NO_KEY,
                route: NO_KEY,
            },
        }
    }
}

#[derive(Default)]
pub struct Chunk {
    pub claims: Vec<ParsedClaim>,
    /// Each claim's keys, in the order of `claims`.
    pub(crate) keys: Vec<ClaimKeys>,
    pub lines: Vec<ActLine>,
    pub line_pos: Vec<Pos>,
    pub trailer: Option<(Result<BatchTrailer, RecordError>, Pos)>,
    /// First record found after the trailer (the batch is then untrustworthy).
    pub after_trailer: Option<Pos>,
    pub orphans: Vec<Orphan>,
    /// Records read (lines of the file).
    pub records: u64,
    /// Claim header records (`02`), readable or not.
    pub header_records: u64,
    /// Act records (`04`/`4M`) in the chunk, in claims or not.
    pub act_records: u64,
    /// Sum of the readable fees of every act record in the chunk.
    pub fee_total: Cents,
}

/// Start of the first claim header record at or after `from` (which may be mid-record), or `data.len()`.
/// A `99` trailer also ends the search, so the last window ends at the trailer.
pub fn next_claim_start(data: &[u8], from: usize) -> usize {
    let mut pos = from.min(data.len());
    if pos > 0 && data[pos - 1] != b'\n' {
        pos = match memchr::memchr(b'\n', &data[pos..]) {
            Some(i) => pos + i + 1,
            None => return data.len(),
        };
    }
    while pos < data.len() {
        let r = &data[pos..];
        if r.starts_with(b"02") || r.starts_with(b"99") {
            return pos;
        }
        pos = match memchr::memchr(b'\n', r) {
            Some(i) => pos + i + 1,
            None => return data.len(),
        };
    }
    data.len()
}

/// Where the record starting at `off` ends (its line break, or `data.len()`) and where the next
/// one starts: the first line break from `off`. A record is almost always [`record::RECORD_LEN`]
/// bytes and a line break: that case is checked on the fixed-size block at once (a vectorised
/// compare of its bytes, no line break among them, and the break right after), instead of a
/// `memchr` call a record (≈ 250 instructions a record with its set-up: issue #13); anything else is
/// searched by `memchr`, the same answer.
#[inline(always)]
fn record_end(data: &[u8], off: usize) -> (usize, usize) {
    const L: usize = record::RECORD_LEN;
    if let Some(block) = data.get(off..).and_then(|r| r.first_chunk::<{ L + 1 }>())
        && block[L] == b'\n'
        && block[..L].iter().fold(0u8, |a, &c| a | (c == b'\n') as u8) == 0
    {
        return (off + L, off + L + 1);
    }
    match memchr::memchr(b'\n', data.get(off..).unwrap_or_default()) {
        Some(i) => (off + i, off + i + 1),
        None => (data.len(), data.len()),
    }
}

/// Counts records (lines) in a byte range: a final record without newline counts as one.
pub fn count_records(data: &[u8]) -> u64 {
    let n = memchr::memchr_iter(b'\n', data).count() as u64;
    if data.last().is_some_and(|&c| c != b'\n') {
        n + 1
    } else {
        n
    }
}

impl Chunk {
    pub fn clear(&mut self) {
        self.claims.clear();
        self.keys.clear();
        self.lines.clear();
        self.line_pos.clear();
        self.trailer = None;
        self.after_trailer = None;
        self.orphans.clear();
        self.records = 0;
        self.header_records = 0;
        self.act_records = 0;
        self.fee_total = 0;
    }

    /// Adds `lines` to the line number of every position the chunk holds (claims, their errors, act
    /// lines, orphans, the trailer and the record after it): a chunk parsed with its first record
    /// numbered 0 gets its place in the file once the records before it are counted.
    pub fn shift_lines(&mut self, lines: u64) {
        if lines == 0 {
            return;
        }
        let shift = |p: &mut Pos| p.line += lines;
        for c in &mut self.claims {
            shift(&mut c.pos);
            if let Some(e) = c.error.as_mut() {
                shift(&mut e.pos);
            }
        }
        self.line_pos.iter_mut().for_each(shift);
        self.orphans.iter_mut().for_each(|o| shift(&mut o.pos));
        if let Some((_, p)) = self.trailer.as_mut() {
            shift(p);
        }
        if let Some(p) = self.after_trailer.as_mut() {
            shift(p);
        }
    }

    /// Parses `data[start..end]` (cut at claim boundaries, after the batch header) whose first record is
    /// line `first_line` of the file.
    pub fn parse(&mut self, data: &[u8], start: usize, end: usize, first_line: u64) {
        self.clear();
        let mut off = start;
        let mut line = first_line;
        let mut open: Option<ParsedClaim> = None;
        let mut ended = false; // the open claim has seen its end record
        while off < end {
            let (rec_end, next) = record_end(&data[..end], off);
            let mut rec = &data[off..rec_end];
            if let [body @ .., b'\r'] = rec {
                rec = body;
            }
            let pos = Pos {
                line,
                offset: off as u64,
            };
            self.records += 1;
            let k = record::kind(rec);
            if self.trailer.is_some() {
                self.after_trailer.get_or_insert(pos);
            } else {
                match k {
                    Kind::ClaimHeader => {
                        self.close(open.take(), ended);
                        ended = false;
                        self.header_records += 1;
                        open = Some(self.start_claim(rec, pos));
                    }
                    Kind::Ngap | Kind::Ccam => {
                        self.act_records += 1;
                        let fee = match open.as_mut() {
                            Some(c) if !ended => self.add_line(c, rec, pos),
                            _ => {
                                let fee = record::act_fee(rec).unwrap_or(0);
                                self.orphans.push(Orphan {
                                    pos,
                                    claim_no: record::claim_no(rec).unwrap_or(0),
                                    fee,
                                    is_act: true,
                                });
                                fee
                            }
                        };
                        self.fee_total += fee;
                    }
                    Kind::ClaimEnd => match open.as_mut() {
                        Some(c) if !ended => {
                            ended = true;
                            end_claim(c, rec, pos);
                        }
                        _ => self.orphans.push(Orphan {
                            pos,
                            claim_no: record::claim_no(rec).unwrap_or(0),
                            fee: 0,
                            is_act: false,
                        }),
                    },
                    Kind::BatchTrailer => {
                        self.close(open.take(), ended);
                        self.trailer = Some((record::batch_trailer(rec), pos));
                    }
                    Kind::BatchHeader | Kind::Unknown => match open.as_mut() {
                        Some(c) if !ended => {
                            set_err(c, Reject::Syntax, pos, None, "record type", 1)
                        }
                        _ => self.orphans.push(Orphan {
                            pos,
                            claim_no: 0,
                            fee: 0,
                            is_act: false,
                        }),
                    },
                }
            }
            off = next;
            line += 1;
        }
        self.close(open.take(), ended);
    }

    fn start_claim(&mut self, rec: &[u8], pos: Pos) -> ParsedClaim {
        let start = self.lines.len() as u32;
        let mut c = ParsedClaim {
            pos,
            claim_no: 0,
            header: None,
            lines: start..start,
            act_records: 0,
            billed: 0,
            error: None,
        };
        match record::claim_header(rec) {
            Ok(h) => {
                // The header's own claim number: the field `claim_no` reads (positions 3–11).
                c.claim_no = h.claim_no;
                c.header = Some(h);
            }
            Err(e) => {
                c.claim_no = record::claim_no(rec).unwrap_or(0);
                set_err(&mut c, e.code, pos, None, e.field, e.column)
            }
        }
        c
    }

    /// Adds the act record `rec` to the open claim `c`; returns its fee as far as it reads (0 if
    /// not), what the claim and the chunk count as billed.
    fn add_line(&mut self, c: &mut ParsedClaim, rec: &[u8], pos: Pos) -> Cents {
        let line = record::act_line(rec);
        // A line read whole has read its fee, the field `act_fee` reads (the same columns, the
        // same digits): read a second time only for a line that does not read (issue #13).
        let fee = match &line {
            Ok(l) => l.fee,
            Err(_) => record::act_fee(rec).unwrap_or(0),
        };
        c.act_records += 1;
        c.billed += fee;
        match line {
            Ok(l) => {
                if c.header.is_some_and(|h| h.claim_no != l.claim_no) {
                    set_err(
                        c,
                        Reject::ClaimMismatch,
                        pos,
                        Some(l.line_no),
                        "claim number",
                        3,
                    );
                }
                self.lines.push(l);
                self.line_pos.push(pos);
                c.lines.end = self.lines.len() as u32;
            }
            Err(e) => {
                // The line number as far as it reads, for the rejection only (read here, not on
                // every line: issue #13).
                let line_no = rec
                    .get(11..14)
                    .and_then(|f| std::str::from_utf8(f).ok()?.parse().ok());
                set_err(c, e.code, pos, line_no, e.field, e.column)
            }
        }
        fee
    }

    fn close(&mut self, c: Option<ParsedClaim>, ended: bool) {
        if let Some(mut c) = c {
            let pos = c.pos;
            if !ended {
                set_err(
                    &mut c,
                    Reject::LineCount,
                    pos,
                    None,
                    "end-of-claim record missing",
                    0,
                );
            } else if c.act_records == 0 {
                set_err(&mut c, Reject::NoLines, pos, None, "act lines", 0);
            }
            self.keys.push(ClaimKeys::of(&c));
            self.claims.push(c);
        }
    }
}

fn end_claim(c: &mut ParsedClaim, rec: &[u8], pos: Pos) {
    match record::claim_end(rec) {
        Ok(e) => {
            if c.header.is_some_and(|h| h.claim_no != e.claim_no) {
                set_err(c, Reject::ClaimMismatch, pos, None, "claim number", 3);
            } else if e.count as u32 != c.act_records {
                set_err(c, Reject::LineCount, pos, None, "line count", 12);
            } else if e.total != c.billed {
                set_err(c, Reject::ClaimTotal, pos, None, "claim total", 15);
            }
        }
        Err(e) => set_err(c, e.code, pos, None, e.field, e.column),
    }
}

/// Keeps the first error of a claim: the earliest record in the file explains the rejection.
fn set_err(
    c: &mut ParsedClaim,
    code: Reject,
    pos: Pos,
    line_no: Option<u16>,
    field: &'static str,
    column: u16,
) {
    if c.error.is_none() {
        c.error = Some(ClaimError {
            code,
            pos,
            line_no,
            field,
            column,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every position of a chunk parsed from line 0 and shifted is the one a parse numbering from
    /// the shifted line gives: claims and their errors, records outside claims, the trailer and
    /// the record after it (the engine parses sub-chunks from 0, then shifts them: `parse_window`).
    #[test]
    fn a_chunk_parsed_from_line_zero_then_shifted_holds_the_positions_of_a_parse_from_that_line() {
        let mut data = Vec::new();
        for rec in [
            "0400001",     // an act before any claim: an orphan
            "02000000001", // an unreadable claim header: a claim with its error
            "0400000001",  // its unreadable act line
            "06000000001", // its end record, unreadable
            "XY",          // a record of no known type, outside a claim
            "02000000002", // a claim never ended
            "99",          // the trailer, unreadable
            "0400003",     // a record after the trailer
        ] {
            data.extend_from_slice(rec.as_bytes());
            data.push(b'\n');
        }
        let text = |c: &Chunk| {
            format!(
                "{:?} {:?} {:?} {:?} {:?} {}",
                c.claims, c.line_pos, c.orphans, c.trailer, c.after_trailer, c.records
            )
        };
        let mut want = Chunk::default();
        want.parse(&data, 0, data.len(), 41);
        let mut got = Chunk::default();
        got.parse(&data, 0, data.len(), 0);
        assert_ne!(text(&got), text(&want));
        got.shift_lines(41);
        assert_eq!(text(&got), text(&want));
        assert!(want.claims.iter().all(|c| c.error.is_some()) && !want.orphans.is_empty());
        assert!(want.trailer.is_some() && want.after_trailer.is_some());
    }

    /// The fixed-size check gives `memchr`'s answer: records of the layout's length, shorter and
    /// longer, a line break inside the block (first byte, middle, last byte), a carriage return
    /// before the break, no break at the end of the data, at every offset of a buffer.
    #[test]
    fn a_record_ends_at_the_first_line_break_whatever_its_length() {
        let l = record::RECORD_LEN;
        let mut data = Vec::new();
        for (len, nl_at) in [
            (l, None),
            (l, Some(0)),
            (l, Some(64)),
            (l, Some(l - 1)),
            (l - 1, None),
            (l + 1, None),
            (2 * l + 5, Some(l)),
            (0, None),
            (l, None),
        ] {
            let mut rec = vec![b'7'; len];
            if let Some(i) = nl_at {
                rec[i] = b'\n';
            }
            if len == l + 1 {
                rec[l] = b'\r';
            }
            data.extend_from_slice(&rec);
            data.push(b'\n');
        }
        data.extend_from_slice(&[b'1'; 300]);
        for end in [data.len(), data.len() - 300, data.len() - 1] {
            let data = &data[..end];
            for off in 0..data.len() {
                let want = match memchr::memchr(b'\n', &data[off..]) {
                    Some(i) => (off + i, off + i + 1),
                    None => (data.len(), data.len()),
                };
                assert_eq!(record_end(data, off), want, "{off} of {end}");
            }
        }
    }
}
