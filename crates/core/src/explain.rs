//! `liquidator explain`: the traced liquidation of one claim — collected by a sink from the engine's
//! typed events ([`TraceSink`]) — rendered as text or JSON.

use crate::engine::{self, Options, RunError};
use crate::money::{fmt_euros, fmt_pct};
use crate::refs::Refs;
use crate::rules::{Outcome, Step};
use crate::sink::{Event, Sink, SinkError};
use serde_json::{Value, json};

/// A traced claim: its outcome and the steps of its liquidation.
#[derive(Clone, Debug)]
pub struct Traced {
    pub claim_no: u32,
    pub practitioner: u32,
    pub line: u64,
    pub outcome: Outcome,
    pub steps: Vec<Step>,
}

/// Keeps the claims that carry a trace (those named by `Options::trace_claim`).
#[derive(Default)]
pub struct TraceSink {
    pub traced: Vec<Traced>,
}

impl Sink for TraceSink {
    fn window(&mut self, events: &[Event<'_>]) -> Result<(), SinkError> {
        for e in events {
            if let Event::Claim(c) = e
                && let Some(steps) = c.steps
            {
                self.traced.push(Traced {
                    claim_no: c.claim.claim_no,
                    practitioner: c.practitioner().unwrap_or(0),
                    line: c.claim.pos.line,
                    outcome: c.outcome.clone(),
                    steps: steps.to_vec(),
                });
            }
        }
        Ok(())
    }
}

/// Liquidates the whole batch (so that caps and daily counters are as in the run) with a trace of
/// every claim numbered `claim` (one per practitioner who used that number).
pub fn trace(data: &[u8], refs: &Refs, claim: u32) -> Result<Vec<Traced>, RunError> {
    trace_with(data, refs, claim, None)
}

/// [`trace`] against the state an earlier night left (a ledger), when given.
pub fn trace_with(
    data: &[u8],
    refs: &Refs,
    claim: u32,
    carry: Option<&dyn crate::carry::Carry>,
) -> Result<Vec<Traced>, RunError> {
    let opts = Options {
        trace_claim: Some(claim),
        carry,
        ..Default::default()
    };
    let mut sink = TraceSink::default();
    engine::process(data, refs, &opts, &mut [&mut sink])?;
    Ok(sink.traced)
}

pub fn to_text(t: &Traced) -> String {
    let mut o = format!(
        "claim {:09} (practitioner {:09}, input line {})\n",
        t.claim_no, t.practitioner, t.line
    );
    for s in &t.steps {
        let line = s.line.map(|l| format!("line {l}: ")).unwrap_or_default();
        o.push_str(&format!(
            "  [{}] {}{}\n      source: {}\n",
            s.rule, line, s.text, s.source
        ));
    }
    match &t.outcome {
        Outcome::Paid(p) => {
            o.push_str(&format!("  => PAID, AMO to {}\n", p.payee.as_str()));
            for lr in &p.rejected_lines {
                let r = &lr.rejection;
                o.push_str(&format!(
                    "     line {}: REJECTED {} {}: {}\n",
                    r.line_no.map(|l| l.to_string()).unwrap_or_default(),
                    r.code.code(),
                    r.code.slug(),
                    r.detail
                ));
            }
            for l in &p.lines {
                o.push_str(&format!(
                    "     line {}: base {} × {} % = AMO {} − participation {} − franchise {} + debt {} = {} paid (recovered {}); AMC {}; patient {}\n",
                    l.line_no,
                    fmt_euros(l.base),
                    fmt_pct(l.rate),
                    fmt_euros(l.amo_gross),
                    fmt_euros(l.pf),
                    fmt_euros(l.franchise),
                    fmt_euros(l.debt),
                    fmt_euros(l.amo_paid),
                    fmt_euros(l.recovered),
                    fmt_euros(l.amc()),
                    fmt_euros(l.patient)
                ));
            }
        }
        Outcome::Rejected(r) => {
            o.push_str(&format!(
                "  => REJECTED {} {}: {}\n",
                r.code.code(),
                r.code.slug(),
                r.detail
            ));
        }
    }
    o
}

pub fn to_json(t: &Traced) -> Value {
    let outcome = match &t.outcome {
        Outcome::Paid(p) => json!({
            "status": "paid",
            "payee": p.payee.as_str(),
            "rejected_lines": p.rejected_lines.iter().map(|lr| json!({
                "line": lr.rejection.line_no,
                "code": lr.rejection.code.code(),
                "reason": lr.rejection.code.slug(),
                "detail": lr.rejection.detail,
                "input_line": lr.rejection.pos.line,
            })).collect::<Vec<_>>(),
            "recoveries": p.recoveries.iter().map(|r| json!({
                "line": p.lines.get(r.line as usize).map(|l| l.line_no),
                "amount": fmt_euros(r.amount),
                "debt_kind": r.debt.kind.as_str(),
                "debt_claim": format!("{:09}", r.debt.claim),
                "debt_line": r.debt.line,
                "debt_practitioner": format!("{:09}", r.debt.practitioner),
                "debt_date_of_care": r.debt.date_of_care.to_string(),
                "debt_created": r.debt.created.to_string(),
                "debt_amount": fmt_euros(r.debt_amount),
                "debt_open_after": fmt_euros(r.open_after),
            })).collect::<Vec<_>>(),
            "lines": p.lines.iter().map(|l| json!({
                "line": l.line_no,
                "date_of_care": l.date.to_string(),
                "grid": l.grid,
                "unit_price": fmt_euros(l.unit_price),
                "mod_amounts": l.mod_amounts.iter().map(|&m| fmt_euros(m)).collect::<Vec<_>>(),
                "assoc_code": (l.assoc_code as char).to_string().trim().to_string(),
                "assoc_coef": fmt_pct(l.assoc_coef),
                "base": fmt_euros(l.base),
                "rate": fmt_pct(l.rate),
                "rate_reason": l.rate_reason.map(|r| r.as_str()),
                "amo_gross": fmt_euros(l.amo_gross),
                "participation": fmt_euros(l.pf),
                "franchise": fmt_euros(l.franchise),
                "heavy_forfait": fmt_euros(l.heavy_forfait),
                "debt": fmt_euros(l.debt),
                "amo_paid": fmt_euros(l.amo_paid),
                "recovered": fmt_euros(l.recovered),
                "excess": fmt_euros(l.excess),
                "amc": fmt_euros(l.amc()),
                "patient": fmt_euros(l.patient),
                "warnings": l.warning_codes().map(|w| w.code()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }),
        Outcome::Rejected(r) => json!({
            "status": "rejected",
            "code": r.code.code(),
            "reason": r.code.slug(),
            "line": r.line_no,
            "input_line": r.pos.line,
            "byte_offset": r.pos.offset,
            "detail": r.detail,
        }),
    };
    json!({
        "claim": format!("{:09}", t.claim_no),
        "practitioner": format!("{:09}", t.practitioner),
        "input_line": t.line,
        "steps": t.steps,
        "outcome": outcome,
    })
}
