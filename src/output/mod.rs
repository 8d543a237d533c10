//! Writers: the payment file, the rejection file, one file per complementary insurer, `summary.json`.
//! Layouts: `formats/outputs.md`. Formatting is pure (claim + outcome → bytes appended to buffers); the
//! files are written by [`sink`], atomically.

pub mod sink;
pub mod summary;

use crate::claims::{Act, ActLine, ClaimHeader, ParsedClaim};
use crate::money::{Cents, fmt_euros, fmt_pct};
use crate::rules::{LineResult, Paid, PayeeKind, Rejection};
use std::io::Write;
pub use summary::Summary;

pub const PAYMENTS: &str = "payments.tsv";
pub const REJECTIONS: &str = "rejections.tsv";
pub const AMC_DIR: &str = "amc";
pub const SUMMARY: &str = "summary.json";

pub const PAYMENTS_HEADER: &str = "claim\tline\tinput_line\tbyte_offset\tbeneficiary\tpractitioner\tdate_of_care\ttype\tcode\tactivity\tphase\tcoefficient\tquantity\tgrid\tmodifiers\tmod_amounts\tmod_assoc_red\tassoc_code\tassoc_coef\tunit_price\tpu_assoc_red\tbase\trate\trate_reason\tamo_gross\tparticipation\theavy_forfait\tamo_paid\tbilled\texcess\tticket\tamc_ticket\tamc_excess\tamc\tpatient\tpayee_kind\tpayee_id\tamc_number\tamc_payee\twarnings\n";
pub const REJECTIONS_HEADER: &str =
    "claim\tline\tcode\treason\tmessage\tinput_line\tbyte_offset\tpractitioner\tbilled\n";
pub const AMC_HEADER: &str = "amc\tcontract\tbeneficiary\tclaim\tline\tdate_of_care\tcode\tbase\tamo_paid\tticket\tamc_ticket\texcess\tamc_excess\tamc_total\tpayee\n";

/// Buffers of formatted output for a run of consecutive claims (one unit of work for the writer).
#[derive(Default)]
pub struct OutBufs {
    pub payments: Vec<u8>,
    pub rejections: Vec<u8>,
    /// Per complementary insurer number, rows in claim order.
    pub amc: Vec<([u8; 10], Vec<u8>)>,
    pub summary: Summary,
}

impl OutBufs {
    fn amc_buf(&mut self, amc: [u8; 10]) -> &mut Vec<u8> {
        let i = match self.amc.iter().position(|a| a.0 == amc) {
            Some(i) => i,
            None => {
                self.amc.push((amc, Vec::new()));
                self.amc.len() - 1
            }
        };
        &mut self.amc[i].1
    }
}

struct Ben<'a>(&'a ClaimHeader);
impl std::fmt::Display for Ben<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}-{:03}",
            String::from_utf8_lossy(&self.0.nir),
            self.0.rank
        )
    }
}

fn code_of(act: &Act) -> (&'static str, String, String, String, String) {
    match act {
        Act::Ngap { letter, coef } => (
            "NGAP",
            String::from_utf8_lossy(letter).trim_end().to_string(),
            String::new(),
            String::new(),
            fmt_euros(*coef as Cents),
        ),
        Act::Ccam {
            code,
            activity,
            phase,
            ..
        } => (
            "CCAM",
            String::from_utf8_lossy(code).to_string(),
            activity.to_string(),
            phase.to_string(),
            String::new(),
        ),
    }
}

fn join_slots(r: &LineResult, v: &[Cents; 4]) -> String {
    let mut s = String::new();
    for (k, &m) in r.modifiers.iter().enumerate() {
        if m != b' ' {
            if !s.is_empty() {
                s.push(',');
            }
            s.push_str(&fmt_euros(v[k]));
        }
    }
    s
}

/// Formats a paid claim: its payment rows and its complementary-insurer rows; adds to the totals.
pub fn paid(
    out: &mut OutBufs,
    pc: &ParsedClaim,
    h: &ClaimHeader,
    lines: &[ActLine],
    pos: &[crate::claims::Pos],
    p: &Paid,
) {
    let payee_id = match p.payee {
        PayeeKind::Practitioner => format!("{:09}", h.practitioner),
        PayeeKind::Insured => Ben(h).to_string(),
    };
    let s = &mut out.summary;
    s.claims_read += 1;
    s.claims_paid += 1;
    s.lines_read += pc.act_records as u64;
    s.lines_paid += p.lines.len() as u64;
    for (k, r) in p.lines.iter().enumerate() {
        let l = &lines[k];
        let (kind, code, act, pha, coef) = code_of(&l.act);
        let warnings: Vec<&str> = r.warning_codes().map(|w| w.code()).collect();
        let (amc_no, amc_payee) = match p.amc {
            Some(a) => (
                String::from_utf8_lossy(&a.amc).trim_end().to_string(),
                a.payee.as_str(),
            ),
            None => (String::new(), ""),
        };
        let s = &mut out.summary;
        s.add_line(r, p.payee);
        for w in r.warning_codes() {
            *s.warnings_by_code.entry(w.code().to_string()).or_default() += 1;
        }
        let _ = writeln!(
            out.payments,
            "{:09}\t{}\t{}\t{}\t{}\t{:09}\t{}\t{kind}\t{code}\t{act}\t{pha}\t{coef}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{payee_id}\t{amc_no}\t{amc_payee}\t{}",
            h.claim_no,
            r.line_no,
            pos[k].line,
            pos[k].offset,
            Ben(h),
            h.practitioner,
            r.date,
            r.quantity,
            r.grid,
            String::from_utf8_lossy(&r.modifiers).replace(' ', ""),
            join_slots(r, &r.mod_amounts),
            join_slots(r, &r.mod_assoc_red),
            (r.assoc_code as char).to_string().trim(),
            fmt_pct(r.assoc_coef),
            fmt_euros(r.unit_price),
            fmt_euros(r.pu_assoc_red),
            fmt_euros(r.base),
            fmt_pct(r.rate),
            r.rate_reason.map(|x| x.as_str()).unwrap_or(""),
            fmt_euros(r.amo_gross),
            fmt_euros(r.pf),
            fmt_euros(r.heavy_forfait),
            fmt_euros(r.amo_paid),
            fmt_euros(r.billed),
            fmt_euros(r.excess),
            fmt_euros(r.ticket),
            fmt_euros(r.amc_ticket),
            fmt_euros(r.amc_excess),
            fmt_euros(r.amc()),
            fmt_euros(r.patient),
            p.payee.as_str(),
            warnings.join(","),
        );
        if let Some(a) = p.amc {
            if r.amc() != 0 || r.ticket != 0 || r.excess != 0 {
                let buf = out.amc_buf(a.amc);
                let _ = writeln!(
                    buf,
                    "{}\t{}\t{}\t{:09}\t{}\t{}\t{code}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    String::from_utf8_lossy(&a.amc).trim_end(),
                    String::from_utf8_lossy(&a.contract).trim_end(),
                    Ben(h),
                    h.claim_no,
                    r.line_no,
                    r.date,
                    fmt_euros(r.base),
                    fmt_euros(r.amo_paid),
                    fmt_euros(r.ticket),
                    fmt_euros(r.amc_ticket),
                    fmt_euros(r.excess),
                    fmt_euros(r.amc_excess),
                    fmt_euros(r.amc()),
                    a.payee.as_str(),
                );
            }
        }
    }
}

/// Formats a rejected claim (one row, the first reason) and adds to the totals.
pub fn rejected(out: &mut OutBufs, pc: &ParsedClaim, practitioner: Option<u32>, r: &Rejection) {
    let s = &mut out.summary;
    s.claims_read += 1;
    s.claims_rejected += 1;
    s.lines_read += pc.act_records as u64;
    s.lines_rejected += pc.act_records as u64;
    s.billed_cents += pc.billed;
    s.rejected_billed_cents += pc.billed;
    *s.rejections_by_code
        .entry(r.code.code().to_string())
        .or_default() += 1;
    let _ = writeln!(
        out.rejections,
        "{:09}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        pc.claim_no,
        r.line_no.map(|n| n.to_string()).unwrap_or_default(),
        r.code.code(),
        r.code.slug(),
        sanitize(&format!("{}: {}", r.code.text(), r.detail)),
        r.pos.line,
        r.pos.offset,
        practitioner.map(|p| format!("{p:09}")).unwrap_or_default(),
        fmt_euros(pc.billed),
    );
}

/// Records outside claims (no claim to reject, but never silently dropped).
pub fn orphan(out: &mut OutBufs, o: &crate::claims::reader::Orphan) {
    out.summary.orphan_records += 1;
    out.summary.orphan_billed_cents += o.fee;
    let _ = writeln!(
        out.rejections,
        "{:09}\t\t{}\t{}\t{}\t{}\t{}\t\t{}",
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
