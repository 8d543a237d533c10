//! The columnar entry point: claims record batches (`formats/claims-arrow.md`) in, liquidated-lines
//! record batches (`formats/parquet.md`, built by the export's own code) out.
//!
//! A [`Liquidator`] is one stream of claims — a Spark task's partition, or a whole file — fed with
//! [`Liquidator::push`] in file order (per batch) and closed with [`Liquidator::finish`]. It keeps a
//! core [`Session`] per batch number (the beneficiaries' running state) and holds back the last claim
//! of each push, whose act lines may continue in the next record batch.

use crate::layout::{DecodeError, Decoded, Reader};
use arrow_array::RecordBatch;
use liquidator_core::claims::reader::Chunk;
use liquidator_core::claims::record::BatchHeader;
use liquidator_core::output::summary::Summary;
use liquidator_core::refs::Refs;
use liquidator_core::rules::Ctx;
use liquidator_core::session::{Session, SessionError};
use liquidator_core::sink::{Event, Sink, SinkError};
use liquidator_export::parquet::{PseudonymKey, record_batches_of};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("batch {batch}: {source}")]
    Session {
        batch: u32,
        #[source]
        source: SessionError,
    },
    #[error("batch {0}: rows with two batch dates ({1} and {2})")]
    BatchDate(u32, String, String),
    #[error("batch {batch}: claim at byte {offset}: its act lines are not contiguous")]
    Split { batch: u32, offset: u64 },
}

/// One batch of the stream: its session and the rows not liquidated yet.
struct Open {
    header: BatchHeader,
    session: Session,
    /// `summary.json`'s totals of the claims liquidated so far (`Summary::add_event`, as its sink).
    summary: Summary,
    /// Claims and orphans decoded, not yet liquidated (the last claim may continue).
    chunk: Chunk,
    duplicate: Vec<bool>,
}

/// A stream of claims liquidated against one reference set (see the module documentation).
pub struct Liquidator {
    refs: Arc<Refs>,
    key: PseudonymKey,
    open: BTreeMap<u32, Open>,
}

/// The sink of a push: the export's record batches, and the run totals (`summary.json`'s sink).
struct Out<'a> {
    header: BatchHeader,
    key: &'a PseudonymKey,
    batches: &'a mut Vec<RecordBatch>,
    summary: &'a mut Summary,
}

impl Sink for Out<'_> {
    fn window(&mut self, events: &[Event<'_>]) -> Result<(), SinkError> {
        events.iter().for_each(|e| self.summary.add_event(e));
        let b = record_batches_of(&self.header, self.key, events).map_err(SinkError::Other)?;
        self.batches.extend(b);
        Ok(())
    }
}

impl Liquidator {
    pub fn new(refs: Arc<Refs>, key: PseudonymKey) -> Liquidator {
        Liquidator {
            refs,
            key,
            open: BTreeMap::new(),
        }
    }

    /// Decodes `batch` and liquidates every claim it completes; returns the liquidated lines (in
    /// file order per batch). The last claim of each batch number is held until the next push or
    /// [`Liquidator::finish`].
    pub fn push(&mut self, batch: &RecordBatch) -> Result<Vec<RecordBatch>, Error> {
        let r = Reader::new(batch)?;
        let mut touched: Vec<u32> = Vec::new();
        for i in 0..r.rows {
            let h = r.batch(i)?;
            let open = self.open.entry(h.batch_no).or_insert_with(|| Open {
                header: h,
                session: Session::new(),
                summary: Summary {
                    batch_number: h.batch_no,
                    batch_date: h.date.to_string(),
                    ..Default::default()
                },
                chunk: Chunk::default(),
                duplicate: Vec::new(),
            });
            if open.header.date != h.date {
                return Err(Error::BatchDate(
                    h.batch_no,
                    open.header.date.to_string(),
                    h.date.to_string(),
                ));
            }
            if touched.last() != Some(&h.batch_no) && !touched.contains(&h.batch_no) {
                touched.push(h.batch_no);
            }
            add_row(open, r.row(i)?)?;
        }
        let mut out = Vec::new();
        for b in touched {
            self.flush(b, false, &mut out)?;
        }
        Ok(out)
    }

    /// Liquidates everything still held; returns the last liquidated lines.
    pub fn finish(&mut self) -> Result<Vec<RecordBatch>, Error> {
        let mut out = Vec::new();
        let batches: Vec<u32> = self.open.keys().copied().collect();
        for b in batches {
            self.flush(b, true, &mut out)?;
        }
        Ok(out)
    }

    /// The totals of each batch seen (the fields of `summary.json`, computed by its own sink), for
    /// the claims liquidated so far. `amc_files` and the payment-order fields are 0: this path writes
    /// no per-insurer files and no payment orders (per-payee aggregations over the whole batch), so
    /// the `payment_orders` identity does not hold here (formats/claims-arrow.md, "Not produced").
    /// A batch whose debts do not total (a state that does not read: a corrupt ledger) is an error.
    pub fn summaries(&self) -> Result<Vec<Summary>, Error> {
        self.open
            .iter()
            .map(|(&batch, o)| {
                let info = o
                    .session
                    .batch_info(o.header)
                    .map_err(|source| Error::Session { batch, source })?;
                let mut s = o.summary.clone().with_batch(&info);
                s.check();
                Ok(s)
            })
            .collect()
    }

    fn flush(&mut self, batch: u32, all: bool, out: &mut Vec<RecordBatch>) -> Result<(), Error> {
        let Some(open) = self.open.get_mut(&batch) else {
            return Ok(());
        };
        let (ready, ready_dup) = split_ready(open, all);
        // No ledger on this path: each batch alone, as `liquidator run` without `--ledger`.
        let ctx = Ctx::new(&self.refs, open.header.date, None);
        let mut sink = Out {
            header: open.header,
            key: &self.key,
            batches: out,
            summary: &mut open.summary,
        };
        open.session
            .liquidate(&ctx, &ready, &ready_dup, &mut sink)
            .map_err(|source| Error::Session { batch, source })
    }
}

/// Adds a decoded row to the batch's pending chunk.
fn add_row(open: &mut Open, d: Decoded) -> Result<(), Error> {
    let ch = &mut open.chunk;
    match d {
        Decoded::Orphan(o) => ch.orphans.push(o),
        Decoded::Claim {
            mut claim,
            duplicate,
        } => {
            // No act line: an empty range at the end (the next claim's lines start after it).
            let n = ch.lines.len() as u32;
            claim.lines = n..n;
            ch.claims.push(claim);
            open.duplicate.push(duplicate);
        }
        Decoded::Line {
            mut claim,
            duplicate,
            line,
            pos,
        } => {
            let n = ch.lines.len() as u32;
            match ch.claims.last_mut() {
                // The next line of the claim being read: its rows are contiguous.
                Some(c)
                    if c.pos.offset == claim.pos.offset
                        && c.lines.end == n
                        && !c.lines.is_empty() =>
                {
                    c.lines.end = n + 1;
                }
                Some(c) if c.pos.offset == claim.pos.offset => {
                    return Err(Error::Split {
                        batch: open.header.batch_no,
                        offset: c.pos.offset,
                    });
                }
                _ => {
                    claim.lines = n..n + 1;
                    ch.claims.push(claim);
                    open.duplicate.push(duplicate);
                }
            }
            ch.lines.push(line);
            ch.line_pos.push(pos);
        }
    }
    Ok(())
}

/// Cuts the pending chunk: what can be liquidated now, and (unless `all`) the last claim with the
/// orphan records after it, kept pending (its lines may continue in the next record batch).
fn split_ready(open: &mut Open, all: bool) -> (Chunk, Vec<bool>) {
    let mut ready = std::mem::take(&mut open.chunk);
    let mut ready_dup = std::mem::take(&mut open.duplicate);
    if all {
        return (ready, ready_dup);
    }
    if let (Some(mut last), Some(d)) = (ready.claims.pop(), ready_dup.pop()) {
        let a = (last.lines.start as usize).min(ready.lines.len());
        let keep = &mut open.chunk;
        keep.lines = ready.lines.split_off(a);
        keep.line_pos = ready.line_pos.split_off(a.min(ready.line_pos.len()));
        last.lines = 0..keep.lines.len() as u32;
        let off = last.pos.offset;
        let k = ready.orphans.partition_point(|o| o.pos.offset < off);
        keep.orphans = ready.orphans.split_off(k);
        keep.claims.push(last);
        open.duplicate.push(d);
    }
    (ready, ready_dup)
}
