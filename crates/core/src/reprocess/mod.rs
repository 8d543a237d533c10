//! Reprocessing after a nomenclature correction: re-liquidate a day with a corrected reference set and
//! pay the difference or recover the overpayment — never a second payment.
//!
//! The new liquidation is a normal run (same engine, same caps in file order) written to
//! `OUT/liquidation/`; in the same pass a [`compare::CollectSink`] keeps each claim's typed outcome,
//! which is then compared, claim by claim, with the previous run's files ([`compare`]), giving `OUT/adjustments.tsv`, one adjustment file per complementary insurer whose
//! share changed, and `OUT/summary.json`. `refs diff --claims` uses the same comparison, so the two
//! commands agree on the number of changed claims. Layout: `formats/adjustments.md`.

pub mod compare;

use crate::engine::{self, Options, RunError};
use crate::output::Summary;
use crate::output::files::{self as atomic, write_json};
use crate::refs::Refs;
use compare::{CollectSink, Comparison, ReadError};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ReprocessError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("previous outputs refused: {0}")]
    Mismatch(String),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{0}")]
    Io(String),
}

/// `summary.json` of a reprocessing: the comparison and the new liquidation's totals.
#[derive(serde::Serialize)]
pub struct ReprocessSummary {
    pub claims_compared: u64,
    pub claims_changed: u64,
    pub amo_delta_cents: i64,
    pub amc_delta_cents: i64,
    pub newly_paid: u64,
    pub newly_rejected: u64,
    pub amount_changed: u64,
    #[serde(flatten)]
    pub liquidation: Summary,
}

/// Checks that `previous` is the output of a run of this batch, unedited: same batch number and date,
/// and its summary agrees with its own payment and rejection files.
pub fn check_previous(previous: &Path, new: &Summary) -> Result<(), ReprocessError> {
    let text = std::fs::read_to_string(previous.join("summary.json")).map_err(|e| {
        ReprocessError::Mismatch(format!("{}: {e}", previous.join("summary.json").display()))
    })?;
    let old: Summary = serde_json::from_str(&text).map_err(|e| {
        ReprocessError::Mismatch(format!(
            "{}: not a run summary ({e})",
            previous.join("summary.json").display()
        ))
    })?;
    if old.batch_number != new.batch_number || old.batch_date != new.batch_date {
        return Err(ReprocessError::Mismatch(format!(
            "previous outputs are for batch {} of {}, the claims file is batch {} of {}",
            old.batch_number, old.batch_date, new.batch_number, new.batch_date
        )));
    }
    if old.claims_read != new.claims_read
        || old.lines_read != new.lines_read
        || old.billed_cents != new.billed_cents
    {
        return Err(ReprocessError::Mismatch(format!(
            "previous outputs read {} claims / {} lines / {} cents billed, the claims file has {} / {} / {}",
            old.claims_read,
            old.lines_read,
            old.billed_cents,
            new.claims_read,
            new.lines_read,
            new.billed_cents
        )));
    }
    let files = compare::totals(previous)?;
    if files
        != (
            old.claims_paid,
            old.lines_paid,
            old.amo_paid_cents,
            old.amc_cents,
            old.claims_rejected,
        )
    {
        return Err(ReprocessError::Mismatch(format!(
            "previous summary.json does not match its own files (claims paid, lines paid, AMO, AMC, claims rejected: summary {:?}, files {:?}): edited outputs?",
            (
                old.claims_paid,
                old.lines_paid,
                old.amo_paid_cents,
                old.amc_cents,
                old.claims_rejected
            ),
            files
        )));
    }
    Ok(())
}

/// `liquidator reprocess`.
pub fn run(
    claims: &Path,
    corrected: &Refs,
    previous: &Path,
    out: &Path,
    force: bool,
) -> Result<ReprocessSummary, ReprocessError> {
    let staged = stage(
        claims,
        corrected,
        previous,
        out,
        force,
        &Options::default(),
        None,
    )?;
    staged.stage.commit().map_err(RunError::from)?;
    Ok(staged.summary)
}

/// A reprocessing complete in its staging directory, not yet renamed (a ledger commits between).
pub struct Staged {
    pub summary: ReprocessSummary,
    pub stage: atomic::Staging,
    /// The beneficiaries' states at the end of the re-liquidated night (with `opts.carry` only).
    pub states: crate::states::States,
}

/// [`run`] up to the rename, liquidating with `opts` (a ledger's state before the night, for
/// `reprocess --ledger`) and feeding `extra` too.
pub fn stage(
    claims: &Path,
    corrected: &Refs,
    previous: &Path,
    out: &Path,
    force: bool,
    opts: &Options,
    extra: Option<&mut dyn crate::sink::Sink>,
) -> Result<Staged, ReprocessError> {
    let stage = atomic::Staging::create(out, force).map_err(RunError::from)?;
    let liq = stage.dir.join("liquidation");
    let mut collected = CollectSink::default();
    let data = engine::map_file(claims)?;
    let inner = engine::stage_run(&data, corrected, &liq, false, opts, |_| {
        let mut v: Vec<Box<dyn crate::sink::Sink + '_>> = vec![Box::new(&mut collected)];
        if let Some(e) = extra {
            v.push(Box::new(e));
        }
        Ok(v)
    })?;
    let states = inner.states;
    let new = inner.summary;
    inner.stage.commit().map_err(RunError::from)?;
    check_previous(previous, &new)?;
    let old = compare::read(previous)?;
    let cmp: Comparison =
        compare::compare(&old, &collected.claims(), &previous.display().to_string())?;
    let io = |e: std::io::Error| ReprocessError::Io(format!("{}: {e}", stage.dir.display()));
    cmp.write(&stage.dir).map_err(io)?;
    let s = ReprocessSummary {
        claims_compared: cmp.claims_compared,
        claims_changed: cmp.claims_changed,
        amo_delta_cents: cmp.amo_delta,
        amc_delta_cents: cmp.amc_delta,
        newly_paid: cmp.newly_paid,
        newly_rejected: cmp.newly_rejected,
        amount_changed: cmp.amount_changed,
        liquidation: new,
    };
    write_json(&stage.dir.join("summary.json"), &s).map_err(RunError::from)?;
    Ok(Staged {
        summary: s,
        stage,
        states,
    })
}
