//! The run's files: the payment file, the rejection file, one file per complementary insurer,
//! `summary.json`. Layouts: `formats/outputs.md`. Formatting is pure (typed event → bytes appended to
//! buffers, [`format_events`]); [`files::TsvSink`] formats windows in parallel and writes them, in
//! file order, into the staging directory that [`files::Staging`] commits atomically.

pub mod debts;
pub mod files;
pub mod fmt;
pub mod pieces;
pub mod rows;
pub mod sepa;
pub mod summary;
pub mod writeback;

use crate::claims::{Act, ActLine, ClaimHeader, ParsedClaim};
use crate::money::{Cents, fmt_euros};
use crate::rules::{LineResult, Outcome, Paid, PayeeKind, Rejection};
use crate::sink::Event;
use std::io::Write;
pub use summary::Summary;

pub const PAYMENTS: &str = "payments.tsv";
pub const REJECTIONS: &str = "rejections.tsv";
pub const AMC_DIR: &str = "amc";
pub const SUMMARY: &str = "summary.json";

pub const PAYMENTS_HEADER: &str = "claim\tline\tinput_line\tbyte_offset\tbeneficiary\tpractitioner\tdate_of_care\ttype\tcode\tactivity\tphase\tcoefficient\tquantity\tgrid\tmodifiers\tmod_amounts\tmod_assoc_red\tassoc_code\tassoc_coef\tunit_price\tpu_assoc_red\tbase\trate\trate_reason\tamo_gross\tparticipation\tfranchise\theavy_forfait\tdebt\tamo_paid\trecovered\tbilled\texcess\tticket\tamc_ticket\tamc_excess\tamc\tpatient\tpayee_kind\tpayee_id\tamc_number\tamc_payee\twarnings\n";
pub const REJECTIONS_HEADER: &str =
    "claim\tline\tcode\treason\tmessage\tinput_line\tbyte_offset\tpractitioner\tbilled\tscope\n";
pub const AMC_HEADER: &str = "amc\tcontract\tbeneficiary\tclaim\tline\tdate_of_care\tcode\tbase\tamo_paid\tticket\tamc_ticket\texcess\tamc_excess\tamc_total\tpayee\n";

/// Buffers of formatted output for a run of consecutive claims (one unit of work for the writer).
#[derive(Default)]
pub struct OutBufs {
    pub payments: Vec<u8>,
    pub rejections: Vec<u8>,
    /// Complementary-insurer rows, in claim order: (insurer, start, end) into `amc_bytes`.
    pub amc_rows: Vec<([u8; 10], u32, u32)>,
    pub amc_bytes: Vec<u8>,
}

impl OutBufs {
    /// Empties the buffers, keeping their memory for the next rows.
    pub fn clear(&mut self) {
        self.payments.clear();
        self.rejections.clear();
        self.amc_rows.clear();
        self.amc_bytes.clear();
    }

    /// What the buffers hold, as allocated, in bytes.
    pub fn bytes(&self) -> usize {
        self.payments.capacity()
            + self.rejections.capacity()
            + self.amc_rows.capacity() * std::mem::size_of::<([u8; 10], u32, u32)>()
            + self.amc_bytes.capacity()
    }

    /// Appends one formatted complementary-insurer row.
    pub fn push_amc_row(&mut self, amc: [u8; 10], row: &[u8]) {
        let start = self.amc_bytes.len() as u32;
        self.amc_bytes.extend_from_slice(row);
        self.amc_rows
            .push((amc, start, self.amc_bytes.len() as u32));
    }

    /// The rows of each insurer, in claim order (what the writer appends to `amc/<AMC>.tsv`).
    pub fn amc_rows(&self) -> impl Iterator<Item = ([u8; 10], &[u8])> {
        self.amc_rows
            .iter()
            .map(move |r| (r.0, &self.amc_bytes[r.1 as usize..r.2 as usize]))
    }

    /// [`Self::amc_rows`] with each run of consecutive rows of one insurer whose bytes follow each
    /// other in `amc_bytes` (a claim's lines: rows are appended in claim order) given as one
    /// slice: the writer appends a run in one write instead of one a row (the TSV writer's thread
    /// wrote 134 k rows one by one on the 100 k day, ≈ 220 instructions a call besides the copy,
    /// issue #13). The same bytes per insurer, in the same order.
    pub fn amc_runs(&self) -> impl Iterator<Item = ([u8; 10], &[u8])> {
        let rows = &self.amc_rows;
        let mut i = 0;
        std::iter::from_fn(move || {
            let &(amc, start, mut end) = rows.get(i)?;
            i += 1;
            while let Some(&(a, s, e)) = rows.get(i)
                && a == amc
                && s == end
            {
                end = e;
                i += 1;
            }
            Some((
                amc,
                self.amc_bytes
                    .get(start as usize..end as usize)
                    .unwrap_or_default(),
            ))
        })
    }
}

/// Formats events, in order, into `out`.
pub fn format_events(out: &mut OutBufs, events: &[Event<'_>]) {
    let mut row: rows::Rows = rows::Rows::default();
    for (i, e) in events.iter().enumerate() {
        if i % crate::sink::READ_AHEAD == 0 {
            crate::sink::read_ahead(events, i);
        }
        match e {
            Event::Claim(c) => match (c.outcome, c.header) {
                (Outcome::Paid(p), Some(h)) => {
                    paid_with(out, &mut row, h, c.lines, c.line_pos, p);
                    // `rejected_lines` is in the order the rules found them; the file is in line
                    // order (formats/outputs.md), as the Parquet sink's rows.
                    let mut rejected: Vec<&crate::rules::LineRejection> =
                        p.rejected_lines.iter().collect();
                    rejected.sort_by_key(|lr| lr.index);
                    for lr in rejected {
                        let fee = c.lines.get(lr.index as usize).map_or(0, |l| l.fee);
                        rejection_row(
                            out,
                            c.claim.claim_no,
                            Some(h.practitioner),
                            &lr.rejection,
                            fee,
                            "LINE",
                        );
                    }
                }
                (Outcome::Paid(_), None) => {} // unreachable: a claim without header is never liquidated
                (Outcome::Rejected(r), _) => rejected(out, c.claim, c.practitioner(), r),
            },
            Event::Orphan(o) => orphan(out, o),
        }
    }
}

/// `NIR-rank` of the beneficiary (`1850578006084-001`).
#[inline(always)]
pub(crate) fn ben<O: fmt::Out + ?Sized>(buf: &mut O, h: &ClaimHeader) {
    buf.put(&h.nir);
    buf.push(b'-');
    fmt::padded(buf, h.rank as u64, 3);
}

#[inline(always)]
fn slots<O: fmt::Out + ?Sized>(buf: &mut O, r: &LineResult, v: &[Cents; 4]) {
    let mut first = true;
    for (k, &m) in r.modifiers.iter().enumerate() {
        if m != b' ' {
            if !first {
                buf.push(b',');
            }
            first = false;
            fmt::euros(buf, v[k]);
        }
    }
}

#[inline(always)]
pub(crate) fn payee<O: fmt::Out + ?Sized>(buf: &mut O, h: &ClaimHeader, p: PayeeKind) {
    match p {
        PayeeKind::Practitioner => fmt::padded(buf, h.practitioner as u64, 9),
        PayeeKind::Insured => ben(buf, h),
    }
}

/// Formats a paid claim: its payment rows and its complementary-insurer rows.
/// Allocation-free apart from buffer growth (the writers' hot path).
pub fn paid(
    out: &mut OutBufs,
    h: &ClaimHeader,
    lines: &[ActLine],
    pos: &[crate::claims::Pos],
    p: &Paid,
) {
    let mut row: rows::Rows = rows::Rows::default();
    paid_with(out, &mut row, h, lines, pos, p);
}

/// [`paid`] with the caller's row writer (one per window segment, not one per claim): the rows
/// are written by [`rows::Rows`] (fixed-width stores, the claim's common pieces formatted once); a
/// row that does not fit its array is written by the field-by-field writers below, which define the
/// text (tests `a_row_too_long_for_the_array_is_written_with_the_same_bytes` and `rows::tests`).
pub fn paid_with<const N: usize>(
    out: &mut OutBufs,
    row: &mut rows::Rows<N>,
    h: &ClaimHeader,
    lines: &[ActLine],
    pos: &[crate::claims::Pos],
    p: &Paid,
) {
    row.paid(out, h, lines, pos, p);
}

/// One row of `payments.tsv` (formats/outputs.md), its line break included: the reference text
/// ([`rows`] writes the same bytes faster).
pub(crate) fn payment_row<O: fmt::Out + ?Sized>(
    b: &mut O,
    h: &ClaimHeader,
    l: &ActLine,
    at: &crate::claims::Pos,
    r: &LineResult,
    p: &Paid,
) {
    fmt::padded(b, h.claim_no as u64, 9);
    fmt::tab(b);
    fmt::u64_(b, r.line_no as u64);
    fmt::tab(b);
    fmt::u64_(b, at.line);
    fmt::tab(b);
    fmt::u64_(b, at.offset);
    fmt::tab(b);
    ben(b, h);
    fmt::tab(b);
    fmt::padded(b, h.practitioner as u64, 9);
    fmt::tab(b);
    fmt::date(b, r.date);
    fmt::tab(b);
    match &l.act {
        Act::Ngap { letter, coef } => {
            b.put(b"NGAP\t");
            fmt::trimmed(b, letter);
            b.put(b"\t\t\t");
            fmt::euros(b, *coef as Cents);
        }
        Act::Ccam {
            code,
            activity,
            phase,
            ..
        } => {
            b.put(b"CCAM\t");
            b.put(code);
            fmt::tab(b);
            fmt::u64_(b, *activity as u64);
            fmt::tab(b);
            fmt::u64_(b, *phase as u64);
            fmt::tab(b);
        }
    }
    fmt::tab(b);
    fmt::u64_(b, r.quantity as u64);
    fmt::tab(b);
    fmt::u64_(b, r.grid as u64);
    fmt::tab(b);
    for &m in &r.modifiers {
        if m != b' ' {
            b.push(m);
        }
    }
    fmt::tab(b);
    slots(b, r, &r.mod_amounts);
    fmt::tab(b);
    slots(b, r, &r.mod_assoc_red);
    fmt::tab(b);
    if r.assoc_code != b' ' {
        b.push(r.assoc_code);
    }
    fmt::tab(b);
    fmt::pct(b, r.assoc_coef);
    for v in [r.unit_price, r.pu_assoc_red, r.base] {
        fmt::tab(b);
        fmt::euros(b, v);
    }
    fmt::tab(b);
    fmt::pct(b, r.rate);
    fmt::tab(b);
    b.put(r.rate_reason.map(|x| x.as_str()).unwrap_or("").as_bytes());
    for v in [
        r.amo_gross,
        r.pf,
        r.franchise,
        r.heavy_forfait,
        r.debt,
        r.amo_paid,
        r.recovered,
        r.billed,
        r.excess,
        r.ticket,
        r.amc_ticket,
        r.amc_excess,
        r.amc(),
        r.patient,
    ] {
        fmt::tab(b);
        fmt::euros(b, v);
    }
    fmt::tab(b);
    b.put(p.payee.as_str().as_bytes());
    fmt::tab(b);
    payee(b, h, p.payee);
    fmt::tab(b);
    if let Some(a) = &p.amc {
        fmt::trimmed(b, &a.amc);
        fmt::tab(b);
        b.put(a.payee.as_str().as_bytes());
    } else {
        fmt::tab(b);
    }
    fmt::tab(b);
    let mut first = true;
    for w in r.warning_codes() {
        if !first {
            b.push(b',');
        }
        first = false;
        b.put(w.code().as_bytes());
    }
    b.push(b'\n');
}

/// One row of an insurer's file `amc/<AMC>.tsv`, its line break included: the reference text
/// ([`rows`] writes the same bytes faster).
pub(crate) fn amc_row<O: fmt::Out + ?Sized>(
    b: &mut O,
    h: &ClaimHeader,
    l: &ActLine,
    r: &LineResult,
    a: &crate::rules::AmcRoute,
) {
    fmt::trimmed(b, &a.amc);
    fmt::tab(b);
    fmt::trimmed(b, &a.contract);
    fmt::tab(b);
    ben(b, h);
    fmt::tab(b);
    fmt::padded(b, h.claim_no as u64, 9);
    fmt::tab(b);
    fmt::u64_(b, r.line_no as u64);
    fmt::tab(b);
    fmt::date(b, r.date);
    fmt::tab(b);
    match &l.act {
        Act::Ngap { letter, .. } => fmt::trimmed(b, letter),
        Act::Ccam { code, .. } => b.put(code),
    }
    for v in [
        r.base,
        r.amo_paid,
        r.ticket,
        r.amc_ticket,
        r.excess,
        r.amc_excess,
        r.amc(),
    ] {
        fmt::tab(b);
        fmt::euros(b, v);
    }
    fmt::tab(b);
    b.put(a.payee.as_str().as_bytes());
    b.push(b'\n');
}

/// Formats a rejected claim (one row, the first reason).
pub fn rejected(out: &mut OutBufs, pc: &ParsedClaim, practitioner: Option<u32>, r: &Rejection) {
    rejection_row(out, pc.claim_no, practitioner, r, pc.billed, "CLAIM");
}

/// One row of `rejections.tsv`; `scope` says whether the claim (`CLAIM`) or only the line (`LINE`) is
/// rejected, `billed` what the row leaves unpaid.
fn rejection_row(
    out: &mut OutBufs,
    claim_no: u32,
    practitioner: Option<u32>,
    r: &Rejection,
    billed: Cents,
    scope: &str,
) {
    // Formatted into a fixed array and copied once (issue #13: pushed byte by byte into the
    // buffer, each push checking its capacity, a row cost ≈ 2 200 instructions); a row longer than
    // the array (a long detail) is written again straight into the buffer, with the same text.
    let mut row = fmt::Row::<REJECTION_ROW>::default();
    rejection_text(&mut row, claim_no, practitioner, r, billed, scope);
    match row.bytes() {
        Some(b) => out.rejections.extend_from_slice(b),
        None => rejection_text(
            &mut out.rejections,
            claim_no,
            practitioner,
            r,
            billed,
            scope,
        ),
    }
}

/// Bytes of the array a rejection row is formatted in: its fixed columns take ≈ 60, the code's text
/// and the detail the rest.
const REJECTION_ROW: usize = 384;

/// The text of a rejection row: `format!("{:09}\t{}…")`'s, written by the byte formatters without a
/// `String` per field (issue #13: `writeln!` and three `format!`s cost ≈ 7 000 instructions a row).
#[inline(always)]
fn rejection_text<O: fmt::Out + ?Sized>(
    b: &mut O,
    claim_no: u32,
    practitioner: Option<u32>,
    r: &Rejection,
    billed: Cents,
    scope: &str,
) {
    fmt::at_least(b, claim_no as u64, 9);
    fmt::tab(b);
    if let Some(n) = r.line_no {
        fmt::u64_(b, n as u64);
    }
    fmt::tab(b);
    b.put(r.code.code().as_bytes());
    fmt::tab(b);
    b.put(r.code.slug().as_bytes());
    fmt::tab(b);
    sanitized(b, r.code.text());
    b.put(b": ");
    sanitized(b, &r.detail);
    fmt::tab(b);
    fmt::u64_(b, r.pos.line);
    fmt::tab(b);
    fmt::u64_(b, r.pos.offset);
    fmt::tab(b);
    if let Some(p) = practitioner {
        fmt::at_least(b, p as u64, 9);
    }
    fmt::tab(b);
    fmt::euros(b, billed);
    fmt::tab(b);
    b.put(scope.as_bytes());
    b.push(b'\n');
}

/// `s` with tabs and line breaks as spaces ([`sanitize`]'s bytes: those are ASCII, never inside a
/// multi-byte UTF-8 character). A text without any (the usual case) is copied whole.
#[inline(always)]
fn sanitized<O: fmt::Out + ?Sized>(buf: &mut O, s: &str) {
    let s = s.as_bytes();
    if memchr::memchr3(b'\t', b'\n', b'\r', s).is_none() {
        buf.put(s);
        return;
    }
    for &c in s {
        buf.push(if matches!(c, b'\t' | b'\n' | b'\r') {
            b' '
        } else {
            c
        });
    }
}

/// Records outside claims (no claim to reject, but never silently dropped).
pub fn orphan(out: &mut OutBufs, o: &crate::claims::reader::Orphan) {
    let _ = writeln!(
        out.rejections,
        "{:09}\t\t{}\t{}\t{}\t{}\t{}\t\t{}\tRECORD",
        o.claim_no,
        crate::codes::Reject::Orphan.code(),
        crate::codes::Reject::Orphan.slug(),
        sanitize(&format!(
            "{}: {} record outside any claim",
            crate::codes::Reject::Orphan.text(),
            if o.is_act { "act" } else { "non-act" }
        )),
        o.pos.line,
        o.pos.offset,
        fmt_euros(o.fee),
    );
}

fn sanitize(s: &str) -> String {
    s.replace(['\t', '\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::reader::Pos;
    use crate::codes::Reject;

    /// A rejection row written by the byte formatters: zero-padded claim and practitioner, the line,
    /// the code's columns, tabs and line breaks of the free text as spaces (one row, ten columns
    /// whatever the detail holds), euros with two decimals (review of the fifth speed pass: the old
    /// `format!` path's escaping, pinned by hand).
    #[test]
    fn a_rejection_row_escapes_tabs_and_line_breaks_of_its_detail() {
        let mut out = OutBufs::default();
        let r = Rejection {
            code: Reject::ActUnknown,
            line_no: Some(3),
            pos: Pos {
                line: 7,
                offset: 1234,
            },
            detail: "code\tHBGD999\r\nnot in force".to_string(),
        };
        rejection_row(&mut out, 42, Some(100_000_006), &r, 2550, "LINE");
        let want = format!(
            "000000042\t3\t{}\t{}\t{}: code HBGD999  not in force\t7\t1234\t100000006\t25.50\tLINE\n",
            Reject::ActUnknown.code(),
            Reject::ActUnknown.slug(),
            Reject::ActUnknown.text()
        );
        assert_eq!(String::from_utf8(out.rejections).unwrap(), want);
        assert_eq!(want.matches('\t').count(), 9);
    }

    /// A rejection row is the same text whatever its length: a detail longer than the row's array
    /// (written again straight into the buffer), a plain one (copied whole), an empty one; the claim
    /// number past 9 digits not cut, the largest input line, a negative amount (pinned by hand).
    #[test]
    fn a_rejection_row_longer_than_its_array_is_written_whole() {
        let c = Reject::ActUnknown;
        for detail in [
            "x".repeat(1000) + "\tend\r\n",
            "plain detail".to_string(),
            String::new(),
        ] {
            let mut out = OutBufs::default();
            let r = Rejection {
                code: c,
                line_no: None,
                pos: Pos {
                    line: u64::MAX,
                    offset: 0,
                },
                detail: detail.clone(),
            };
            rejection_row(&mut out, 4_000_000_000, None, &r, -5, "CLAIM");
            let want = format!(
                "4000000000\t\t{}\t{}\t{}: {}\t{}\t0\t\t-0.05\tCLAIM\n",
                c.code(),
                c.slug(),
                c.text(),
                detail.replace(['\t', '\r', '\n'], " "),
                u64::MAX
            );
            assert_eq!(String::from_utf8(out.rejections).unwrap(), want);
        }
    }

    /// A paid claim formatted through a row array too small for its rows gives the same bytes, in
    /// the same files, as through the normal array: an overlong row is written again into the buffer
    /// by the same writer, never cut (issue #13's row array). Also pins one payment row by hand.
    #[test]
    fn a_row_too_long_for_the_array_is_written_with_the_same_bytes() {
        use crate::claims::reader::Pos;
        use crate::date::Date;
        let h = ClaimHeader {
            claim_no: 42,
            practitioner: 100_000_006,
            nir: *b"1850578006084",
            nir_key: *b"12",
            rank: 1,
            birth: Date(19850501),
            birth_rank: 1,
            nature: b'1',
            exemption: b'0',
            pathway: b'0',
            tp_amo: true,
            tp_amc: true,
            amc: *b"C2S       ",
            contract: *b"01",
            at_ref: *b"         ",
        };
        let line = ActLine {
            claim_no: 42,
            line_no: 1,
            date: Date(20260302),
            act: Act::Ngap {
                letter: *b"G   ",
                coef: 100,
            },
            quantity: 1,
            fee: 3000,
            qualifier: *b"  ",
            exemption: b'0',
        };
        let r = LineResult {
            line_no: 1,
            index: 0,
            date: Date(20260302),
            unit_price: 3000,
            quantity: 1,
            modifiers: *b"    ",
            assoc_code: b' ',
            assoc_coef: 10000,
            base: 3000,
            rate: 7000,
            amo_gross: 2100,
            pf: 200,
            amo_paid: 1900,
            billed: 3000,
            ticket: 900,
            amc_ticket: 900,
            patient: -123_456,
            ..LineResult::default()
        };
        let p = Paid {
            lines: vec![r],
            payee: PayeeKind::Practitioner,
            amc: Some(crate::rules::AmcRoute {
                amc: *b"C2S       ",
                contract: *b"01",
                payee: PayeeKind::Practitioner,
            }),
            rejected_lines: vec![],
            recoveries: vec![],
        };
        let pos = [Pos {
            line: 3,
            offset: 250,
        }];
        let mut normal = OutBufs::default();
        paid(&mut normal, &h, &[line], &pos, &p);
        let mut small = OutBufs::default();
        let mut row = rows::Rows::<16>::default();
        paid_with(&mut small, &mut row, &h, &[line], &pos, &p);
        assert_eq!(normal.payments, small.payments);
        assert_eq!(normal.amc_bytes, small.amc_bytes);
        assert_eq!(normal.amc_rows, small.amc_rows);
        let row = String::from_utf8(normal.payments).unwrap();
        assert!(
            row.starts_with(
                "000000042\t1\t3\t250\t1850578006084-001\t100000006\t2026-03-02\tNGAP\tG\t\t\t1.00\t1\t"
            ),
            "{row}"
        );
        assert!(
            row.ends_with("\t-1234.56\tPS\t100000006\tC2S\tPS\t\n"),
            "{row}"
        );
        assert_eq!(row.matches('\t').count(), 42);
    }

    /// Runs of one insurer's consecutive rows hold, per insurer, exactly its rows in order: rows of
    /// one claim together, insurers alternating, a row of an insurer repeated after another's,
    /// empty buffers.
    #[test]
    fn amc_runs_give_each_insurers_rows_in_order() {
        let mut b = OutBufs::default();
        assert_eq!(b.amc_runs().count(), 0);
        let (x, y) = (*b"AAAAAAAAAA", *b"BBBBBBBBBB");
        let rows: [(&[u8; 10], &[u8]); 7] = [
            (&x, b"x1\n"),
            (&x, b"x2\n"),
            (&y, b"y1\n"),
            (&x, b"x3\n"),
            (&y, b"y2\n"),
            (&y, b"y3\n"),
            (&y, b"y4\n"),
        ];
        for (a, r) in rows {
            b.push_amc_row(*a, r);
        }
        let runs: Vec<([u8; 10], Vec<u8>)> = b.amc_runs().map(|(a, r)| (a, r.to_vec())).collect();
        assert_eq!(
            runs,
            vec![
                (x, b"x1\nx2\n".to_vec()),
                (y, b"y1\n".to_vec()),
                (x, b"x3\n".to_vec()),
                (y, b"y2\ny3\ny4\n".to_vec()),
            ]
        );
        for k in [x, y] {
            let by_rows: Vec<u8> = b
                .amc_rows()
                .filter(|r| r.0 == k)
                .flat_map(|r| r.1.to_vec())
                .collect();
            let by_runs: Vec<u8> = b
                .amc_runs()
                .filter(|r| r.0 == k)
                .flat_map(|r| r.1.to_vec())
                .collect();
            assert_eq!(by_rows, by_runs);
        }
    }
}
