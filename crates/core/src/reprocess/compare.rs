//! Comparing two liquidations of the same claims, claim by claim. The new side is always typed: its
//! claims are collected from the engine's events by [`CollectSink`]. The previous side is either typed
//! too (`refs diff --claims` liquidates twice in memory) or read back from a previous run's directory
//! ([`read`]), written by another process — the only place a run's TSV files are parsed.

use crate::money::{Cents, fmt_euros, parse_euros};
use crate::output::files::create_private;
use crate::rules::{Outcome, PayeeKind};
use crate::sink::{ClaimEvent, Event, Sink, SinkError};
use rustc_hash::FxHashMap;
use std::io::{BufWriter, Write};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct ReadError {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

/// A claim is identified by its number and practitioner; a duplicate transmission (R030) is a separate
/// identity (it is rejected as a duplicate whatever the reference set). The same number, practitioner
/// and flag can still come back: claims rejected for their framing (R001, R004…) never reach the
/// duplicate check, and every transmission after the second is R030 too. `occurrence` numbers them
/// in file order (from 0), the same way on both sides of a comparison since both liquidate the same
/// claims file and framing does not depend on the reference set.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct ClaimKey {
    pub claim: u32,
    pub practitioner: u32,
    pub duplicate: bool,
    pub occurrence: u32,
}

/// Claims keyed with their [`ClaimKey::occurrence`]: the n-th claim (by input position, ties in the
/// order given) with the same number, practitioner and duplicate flag gets `occurrence = n`. Positions
/// of two claims never interleave in the file, so any position inside each claim orders them.
fn numbered(mut claims: Vec<(ClaimKey, ClaimOut)>) -> FxHashMap<ClaimKey, ClaimOut> {
    claims.sort_by_key(|(k, c)| (*k, c.pos)); // stable: ties keep the order given
    let mut m = FxHashMap::with_capacity_and_hasher(claims.len(), Default::default());
    let mut last: Option<ClaimKey> = None;
    let mut n = 0;
    for (mut k, c) in claims {
        n = if last == Some(k) { n + 1 } else { 0 };
        last = Some(k);
        k.occurrence = n;
        m.insert(k, c);
    }
    m
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineAmounts {
    pub base: Cents,
    pub amo: Cents,
    pub amc: Cents,
    pub amc_number: String,
}

#[derive(Clone, Debug, Default)]
pub struct ClaimOut {
    /// Input line of the first record seen for the claim (orders claims as in the file).
    pub pos: u64,
    /// `None` when paid, else the rejection code.
    pub rejected: Option<String>,
    pub lines: Vec<(u16, LineAmounts)>,
    pub payee_kind: String,
    pub payee_id: String,
}

/// The comparison unit of one liquidated claim, from its typed outcome (what `payments.tsv` /
/// `rejections.tsv` would say of it).
pub fn snapshot(c: &ClaimEvent<'_>) -> (ClaimKey, ClaimOut) {
    let practitioner = c.practitioner().unwrap_or(0);
    match c.outcome {
        Outcome::Paid(p) => {
            let key = ClaimKey {
                claim: c.claim.claim_no,
                practitioner,
                duplicate: false,
                occurrence: 0,
            };
            let amc_number = p
                .amc
                .map(|a| String::from_utf8_lossy(&a.amc).trim_end().to_string())
                .unwrap_or_default();
            let payee_id = match (p.payee, c.header) {
                (PayeeKind::Practitioner, _) => format!("{practitioner:09}"),
                (PayeeKind::Insured, Some(h)) => {
                    format!("{}-{:03}", String::from_utf8_lossy(&h.nir), h.rank)
                }
                (PayeeKind::Insured, None) => String::new(),
            };
            let out = ClaimOut {
                pos: c
                    .line_pos
                    .iter()
                    .map(|p| p.line)
                    .min()
                    .unwrap_or(c.claim.pos.line),
                rejected: None,
                lines: p
                    .lines
                    .iter()
                    .map(|r| {
                        (
                            r.line_no,
                            LineAmounts {
                                base: r.base,
                                amo: r.amo_paid,
                                amc: r.amc(),
                                amc_number: amc_number.clone(),
                            },
                        )
                    })
                    .collect(),
                payee_kind: p.payee.as_str().to_string(),
                payee_id,
            };
            (key, out)
        }
        Outcome::Rejected(r) => {
            let key = ClaimKey {
                claim: c.claim.claim_no,
                practitioner,
                duplicate: r.code == crate::codes::Reject::Duplicate,
                occurrence: 0,
            };
            let out = ClaimOut {
                pos: r.pos.line,
                rejected: Some(r.code.code().to_string()),
                ..Default::default()
            };
            (key, out)
        }
    }
}

/// Collects every claim's comparison unit as the engine hands them over (in file order); [`Self::claims`]
/// keys them.
#[derive(Default)]
pub struct CollectSink {
    seen: Vec<(ClaimKey, ClaimOut)>,
}

impl CollectSink {
    /// The claims collected, keyed with their occurrence (see [`ClaimKey`]).
    pub fn claims(self) -> FxHashMap<ClaimKey, ClaimOut> {
        numbered(self.seen)
    }
}

impl Sink for CollectSink {
    fn window(&mut self, events: &[Event<'_>]) -> Result<(), SinkError> {
        for e in events {
            if let Event::Claim(c) = e {
                self.seen.push(snapshot(c));
            }
        }
        Ok(())
    }
}

/// The rows of a TSV file below its header: (line number, cells).
type Rows = Vec<(usize, Vec<String>)>;

/// A TSV file as its header and [`Rows`].
fn table(path: &Path) -> Result<(Vec<String>, Rows), ReadError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ReadError {
        file: file.clone(),
        line: 0,
        reason: e.to_string(),
    })?;
    let mut it = text.lines().enumerate();
    let head: Vec<String> = it
        .next()
        .ok_or_else(|| ReadError {
            file: file.clone(),
            line: 1,
            reason: "empty file".into(),
        })?
        .1
        .split('\t')
        .map(String::from)
        .collect();
    Ok((
        head,
        it.map(|(i, l)| (i + 1, l.split('\t').map(String::from).collect()))
            .collect(),
    ))
}

fn col(head: &[String], name: &str, file: &Path) -> Result<usize, ReadError> {
    head.iter()
        .position(|h| h == name)
        .ok_or_else(|| ReadError {
            file: file.display().to_string(),
            line: 1,
            reason: format!("missing column `{name}`"),
        })
}

/// Reads `payments.tsv` and `rejections.tsv` of an output directory into claims.
pub fn read(dir: &Path) -> Result<FxHashMap<ClaimKey, ClaimOut>, ReadError> {
    // One entry per claim, in the order read: a paid claim's rows are contiguous in `payments.tsv`
    // with rising line numbers, a claim-scope rejection is one row of `rejections.tsv`.
    let mut claims: Vec<(ClaimKey, ClaimOut)> = Vec::new();
    let mut last_line = 0u64;
    let p = dir.join(crate::output::PAYMENTS);
    let (h, rows) = table(&p)?;
    let c = |n| col(&h, n, &p);
    let (cc, cl, ci, cp, cb, ca, cm, ck, cid, cn) = (
        c("claim")?,
        c("line")?,
        c("input_line")?,
        c("practitioner")?,
        c("base")?,
        c("amo_paid")?,
        c("amc")?,
        c("payee_kind")?,
        c("payee_id")?,
        c("amc_number")?,
    );
    for (ln, r) in rows {
        let bad = |what: &str| ReadError {
            file: p.display().to_string(),
            line: ln,
            reason: format!("bad {what}"),
        };
        let get = |i: usize| r.get(i).map(String::as_str).unwrap_or("");
        let num = |i: usize, what: &str| get(i).parse::<u64>().map_err(|_| bad(what));
        let money = |i: usize, what: &str| parse_euros(get(i)).ok_or_else(|| bad(what));
        let key = ClaimKey {
            claim: num(cc, "claim")? as u32,
            practitioner: num(cp, "practitioner")? as u32,
            duplicate: false,
            occurrence: 0,
        };
        let line = num(cl, "line")?;
        let same_claim = claims.last().is_some_and(|(k, _)| *k == key) && line > last_line;
        last_line = line;
        if !same_claim {
            claims.push((
                key,
                ClaimOut {
                    pos: u64::MAX,
                    ..Default::default()
                },
            ));
        }
        let Some((_, e)) = claims.last_mut() else {
            continue; // unreachable: pushed above when absent
        };
        e.pos = e.pos.min(num(ci, "input_line")?);
        e.payee_kind = get(ck).to_string();
        e.payee_id = get(cid).to_string();
        e.lines.push((
            line as u16,
            LineAmounts {
                base: money(cb, "base")?,
                amo: money(ca, "amo_paid")?,
                amc: money(cm, "amc")?,
                amc_number: get(cn).to_string(),
            },
        ));
    }
    let p = dir.join(crate::output::REJECTIONS);
    let (h, rows) = table(&p)?;
    let c = |n| col(&h, n, &p);
    let (cc, ccode, ci, cp) = (
        c("claim")?,
        c("code")?,
        c("input_line")?,
        c("practitioner")?,
    );
    // `scope` (LINE rows: a line rejected in a paid claim) is absent from runs before line-level
    // rejections, where every row rejected its claim.
    let cs = h.iter().position(|x| x == "scope");
    for (ln, r) in rows {
        let get = |i: usize| r.get(i).map(String::as_str).unwrap_or("");
        let code = get(ccode);
        if code == crate::codes::Reject::Orphan.code() {
            continue; // records outside claims are not claims
        }
        if cs.is_some_and(|i| get(i) == "LINE") {
            continue; // the claim is paid; its rejected line is simply not among the paid lines
        }
        let bad = |what: &str| ReadError {
            file: p.display().to_string(),
            line: ln,
            reason: format!("bad {what}"),
        };
        let key = ClaimKey {
            claim: get(cc).parse().map_err(|_| bad("claim"))?,
            practitioner: get(cp).parse().unwrap_or(0),
            duplicate: code == crate::codes::Reject::Duplicate.code(),
            occurrence: 0,
        };
        let pos = get(ci).parse().map_err(|_| bad("input_line"))?;
        claims.push((
            key,
            ClaimOut {
                pos,
                rejected: Some(code.to_string()),
                ..Default::default()
            },
        ));
    }
    Ok(numbered(claims))
}

/// (claims paid, lines paid, AMO paid, AMC, claims rejected) recomputed from an output directory's files.
pub fn totals(dir: &Path) -> Result<(u64, u64, Cents, Cents, u64), ReadError> {
    let m = read(dir)?;
    let mut t = (0, 0, 0, 0, 0);
    for c in m.values() {
        if c.rejected.is_some() {
            t.4 += 1;
        } else {
            t.0 += 1;
            t.1 += c.lines.len() as u64;
            t.2 += c.lines.iter().map(|l| l.1.amo).sum::<Cents>();
            t.3 += c.lines.iter().map(|l| l.1.amc).sum::<Cents>();
        }
    }
    Ok(t)
}

/// One adjusted line.
#[derive(Clone, Debug)]
pub struct Adjustment {
    pub key: ClaimKey,
    pub line: u16,
    pub change: &'static str,
    pub old_code: String,
    pub new_code: String,
    pub old: LineAmounts,
    pub new: LineAmounts,
    pub payee_kind: String,
    pub payee_id: String,
}

#[derive(Default)]
pub struct Comparison {
    pub claims_compared: u64,
    pub claims_changed: u64,
    pub newly_paid: u64,
    pub newly_rejected: u64,
    pub amount_changed: u64,
    pub amo_delta: Cents,
    pub amc_delta: Cents,
    /// In the new run's file order.
    pub adjustments: Vec<Adjustment>,
}

/// Compares two liquidations of the same claims file: one adjustment per line of each claim whose
/// outcome changed (status or any amount). Errors if the claims of the two differ; `origin` names the
/// previous side in that error.
pub fn compare(
    old: &FxHashMap<ClaimKey, ClaimOut>,
    new: &FxHashMap<ClaimKey, ClaimOut>,
    origin: &str,
) -> Result<Comparison, ReadError> {
    let mismatch = |reason: String| ReadError {
        file: origin.to_string(),
        line: 0,
        reason,
    };
    if old.len() != new.len() {
        return Err(mismatch(format!(
            "previous outputs hold {} claims, the new liquidation {}",
            old.len(),
            new.len()
        )));
    }
    let mut keys: Vec<(&ClaimKey, &ClaimOut)> = new.iter().collect();
    keys.sort_by_key(|(k, c)| (c.pos, **k));
    let mut cmp = Comparison::default();
    for (k, n) in keys {
        let o = old.get(k).ok_or_else(|| {
            mismatch(format!(
                "claim {:09} of practitioner {:09} absent from the previous outputs",
                k.claim, k.practitioner
            ))
        })?;
        cmp.claims_compared += 1;
        let mut lines: Vec<u16> = o.lines.iter().chain(&n.lines).map(|l| l.0).collect();
        lines.sort_unstable();
        lines.dedup();
        let amounts = |c: &ClaimOut, line: u16| {
            c.lines
                .iter()
                .find(|l| l.0 == line)
                .map(|l| l.1.clone())
                .unwrap_or_default()
        };
        let change = match (&o.rejected, &n.rejected) {
            (None, Some(_)) => "PAID->REJECTED",
            (Some(_), None) => "REJECTED->PAID",
            (Some(a), Some(b)) if a != b => "REJECTION_CODE_CHANGED",
            _ if lines.iter().any(|&l| amounts(o, l) != amounts(n, l)) => "AMOUNT_CHANGED",
            _ => continue,
        };
        cmp.claims_changed += 1;
        match change {
            "PAID->REJECTED" => cmp.newly_rejected += 1,
            "REJECTED->PAID" => cmp.newly_paid += 1,
            "AMOUNT_CHANGED" => cmp.amount_changed += 1,
            _ => {}
        }
        let (payee_kind, payee_id) = if n.rejected.is_none() {
            (&n.payee_kind, &n.payee_id)
        } else {
            (&o.payee_kind, &o.payee_id)
        };
        if lines.is_empty() {
            lines.push(0);
        }
        for l in lines {
            let (oa, na) = (amounts(o, l), amounts(n, l));
            cmp.amo_delta += na.amo - oa.amo;
            cmp.amc_delta += na.amc - oa.amc;
            cmp.adjustments.push(Adjustment {
                key: *k,
                line: l,
                change,
                old_code: o.rejected.clone().unwrap_or_default(),
                new_code: n.rejected.clone().unwrap_or_default(),
                old: oa,
                new: na,
                payee_kind: payee_kind.clone(),
                payee_id: payee_id.clone(),
            });
        }
    }
    Ok(cmp)
}

pub const ADJUSTMENTS_HEADER: &str = "claim\tpractitioner\tline\tchange\told_status\tnew_status\told_code\tnew_code\told_base\tnew_base\told_amo\tnew_amo\tamo_delta\told_amc\tnew_amc\tamc_delta\tpayee_kind\tpayee_id\tamc_number\n";

impl Comparison {
    /// Writes `adjustments.tsv` and `amc/<AMC>.tsv` (lines whose complementary share changed) into `dir`.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let mut f = BufWriter::new(create_private(&dir.join("adjustments.tsv"))?);
        f.write_all(ADJUSTMENTS_HEADER.as_bytes())?;
        let mut amc: std::collections::BTreeMap<String, Vec<u8>> = Default::default();
        for a in &self.adjustments {
            let status = |c: &str| if c.is_empty() { "PAID" } else { "REJECTED" };
            let amc_no = if a.new.amc_number.is_empty() {
                &a.old.amc_number
            } else {
                &a.new.amc_number
            };
            let row = format!(
                "{:09}\t{:09}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                a.key.claim,
                a.key.practitioner,
                if a.line == 0 {
                    String::new()
                } else {
                    a.line.to_string()
                },
                a.change,
                status(&a.old_code),
                status(&a.new_code),
                a.old_code,
                a.new_code,
                fmt_euros(a.old.base),
                fmt_euros(a.new.base),
                fmt_euros(a.old.amo),
                fmt_euros(a.new.amo),
                fmt_euros(a.new.amo - a.old.amo),
                fmt_euros(a.old.amc),
                fmt_euros(a.new.amc),
                fmt_euros(a.new.amc - a.old.amc),
                a.payee_kind,
                a.payee_id,
                amc_no
            );
            f.write_all(row.as_bytes())?;
            if a.new.amc != a.old.amc && !amc_no.is_empty() {
                amc.entry(amc_no.clone())
                    .or_default()
                    .extend_from_slice(row.as_bytes());
            }
        }
        f.flush()?;
        if !amc.is_empty() {
            std::fs::create_dir_all(dir.join("amc"))?;
        }
        for (k, rows) in amc {
            let name: String = k
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            let mut f = BufWriter::new(create_private(
                &dir.join("amc").join(format!("{name}.tsv")),
            )?);
            f.write_all(ADJUSTMENTS_HEADER.as_bytes())?;
            f.write_all(&rows)?;
            f.flush()?;
        }
        Ok(())
    }
}
