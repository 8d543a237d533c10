//! The engine's output side: each claim's **typed** outcome, handed to sinks in file order.
//!
//! This is ripgrep's Searcher × Matcher × Sink split applied to claims: the reader finds claims, the
//! rules decide them, and sinks do something with the decisions — write the TSV files
//! ([`crate::output::files::TsvSink`]), total them ([`crate::output::summary::SummarySink`]), stream
//! them to Parquet (in the export crate), compare them with a previous run
//! ([`crate::reprocess::compare::CollectSink`]), keep a claim's trace for `explain`
//! ([`crate::explain::TraceSink`]). No consumer re-parses a file the same process wrote.
//!
//! The engine calls [`Sink::window`] once per window with the window's events **in file order**
//! (claims and records outside claims interleaved by position), then [`Sink::finish`] once the batch
//! framing has been checked. A sink may work on a window in parallel (see [`segments`]), but whatever
//! it writes must be in event order.
//!
//! Architecture invariant: a sink sees every event exactly once and in file order, whatever the
//! number of threads or the window size; events carry only what the rules decided, never re-read text.

use crate::claims::reader::Orphan;
use crate::claims::{ActLine, ClaimHeader, ParsedClaim, Pos};
use crate::engine::BatchInfo;
use crate::rules::{LineResult, Outcome, Step};
use crate::states::States;
use std::path::PathBuf;

/// One claim as liquidated: what was read and what the rules decided.
#[derive(Clone, Copy)]
pub struct ClaimEvent<'a> {
    /// The claim as read (position, number, billed total, act record count, read error).
    pub claim: &'a ParsedClaim,
    /// The readable header (`None` when the header record itself was unreadable).
    pub header: Option<&'a ClaimHeader>,
    /// Parsed act lines and where each was read.
    pub lines: &'a [ActLine],
    pub line_pos: &'a [Pos],
    pub outcome: &'a Outcome,
    /// The liquidation's steps, when this claim was traced (`Options::trace_claim`).
    pub steps: Option<&'a [Step]>,
}

impl ClaimEvent<'_> {
    /// The billing practitioner when the header was readable.
    pub fn practitioner(&self) -> Option<u32> {
        self.header.map(|h| h.practitioner)
    }
}

/// What a sink receives, in file order.
#[derive(Clone, Copy)]
pub enum Event<'a> {
    Claim(ClaimEvent<'a>),
    /// A record outside any claim (`R002`): never a claim, never silently dropped.
    Orphan(&'a Orphan),
}

impl Event<'_> {
    /// Where the event starts in the input.
    pub fn pos(&self) -> Pos {
        match self {
            Event::Claim(c) => c.claim.pos,
            Event::Orphan(o) => o.pos,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0}")]
    Other(String),
}

/// A consumer of liquidated claims. `Send`: the engine hands window k−1 to the sinks on one worker
/// while another liquidates window k.
pub trait Sink: Send {
    /// A window of consecutive events in file order. The sinks of a run receive each window side by
    /// side (`engine::emit`): a sink's window work may not depend on another sink's.
    fn window(&mut self, events: &[Event<'_>]) -> Result<(), SinkError>;
    /// The whole batch has been read and its framing checked (not called when the batch is refused).
    /// The sinks of a run finish side by side (`engine::process_in`): a sink's end-of-run work may not
    /// depend on another sink's.
    fn finish(&mut self, _batch: &BatchInfo) -> Result<(), SinkError> {
        Ok(())
    }
    /// [`Sink::finish`] with the beneficiaries' final states, read-only: what the engine calls, for
    /// a sink that lists from them (the open debts, `output::debts`) without a copy of the list in
    /// memory (issue #13). By default, [`Sink::finish`].
    fn finish_with(&mut self, batch: &BatchInfo, _states: &States) -> Result<(), SinkError> {
        self.finish(batch)
    }
    /// The most memory this sink has held so far, in bytes, as allocated (buffers in flight to a
    /// writer, buffers kept for reuse): between two windows, and once [`Sink::finish`] ran also
    /// what its end-of-run work held (its files' direct buffers). `LIQUIDATOR_TIMING=1` prints it
    /// after the windows and after the finish (issue #13). 0 when the sink does not count.
    fn held_bytes(&self) -> usize {
        0
    }
    /// Whether this sink counts the run's control totals (`summary.json`'s event totals) in its own
    /// pass over the events, with [`crate::output::summary::SummaryPart`]: the engine then runs no
    /// `SummarySink` of its own and takes the totals from this sink ([`Sink::take_summary`]), so
    /// that the paid lines are walked once for both (issue #13). At most one sink of a run does.
    fn counts_summary(&self) -> bool {
        false
    }
    /// The control totals counted over every window (without what the framing and the final states
    /// say: `Summary::with_batch` adds them), once the windows are done; `Some` when
    /// [`Sink::counts_summary`].
    fn take_summary(&mut self) -> Option<crate::output::summary::Summary> {
        None
    }
}

/// Number of segments a sink cuts a window into for parallel work. A constant, and concatenating the
/// segments' results in order gives the same bytes for any value: it only sets the grain.
pub const SEGMENTS: usize = 64;

/// Cuts a window's events into at most [`SEGMENTS`] contiguous, non-empty slices, in order.
pub fn segments<'e, 'a>(events: &'e [Event<'a>]) -> impl Iterator<Item = &'e [Event<'a>]> {
    events.chunks(events.len().div_ceil(SEGMENTS).max(1))
}

/// Events between the one a sink is on and the ones whose outcomes [`read_ahead`] loads.
pub const READ_AHEAD: usize = 8;

/// Loads ahead of a sink walking a window's events in order what their outcomes hold, so that the
/// cache misses of several events overlap instead of each one stalling the sink when it gets there
/// (issue #13): the outcomes were written by the shards a window earlier, each claim's paid lines in
/// an allocation of their own, in shard order — in file order they are scattered, and a payment row
/// or a summary line stalled on its first load of each (`perf annotate` of `Rows::paid` on the 1 M
/// day: 55 % of its samples on two loads of a `LineResult`, 94 % of `format_events`' on the outcome).
///
/// Called on every event `i` that is a multiple of [`READ_AHEAD`], in two stages over the events
/// `READ_AHEAD` apart, as the engine's shards read their beneficiaries ahead: the outcomes (tag, the
/// paid lines' pointer, the payee) of the events `2 × READ_AHEAD` ahead, and the paid lines (or the
/// rejection's text) of the events `READ_AHEAD` ahead, whose outcomes the previous call loaded. The
/// loaded values are folded into one and handed to `black_box`: the loads are kept. Only loads: a
/// sink's output does not depend on it.
#[inline(always)]
pub fn read_ahead(events: &[Event<'_>], i: usize) {
    let mut acc = 0u64;
    let far = events.get(i + 2 * READ_AHEAD..).unwrap_or(&[]);
    for e in far.get(..READ_AHEAD).unwrap_or(far) {
        if let Event::Claim(c) = e {
            acc ^= match c.outcome {
                Outcome::Paid(p) => p.lines.len() as u64 ^ p.payee as u64,
                Outcome::Rejected(r) => r.detail.len() as u64,
            };
        }
    }
    let near = events.get(i + READ_AHEAD..).unwrap_or(&[]);
    for e in near.get(..READ_AHEAD).unwrap_or(near) {
        if let Event::Claim(c) = e {
            match c.outcome {
                Outcome::Paid(p) => {
                    for r in &p.lines {
                        acc ^= touch_line(r);
                    }
                }
                Outcome::Rejected(r) => {
                    acc ^= r.detail.as_bytes().first().copied().unwrap_or(0) as u64;
                }
            }
        }
    }
    std::hint::black_box(acc);
}

/// The fields of a paid line [`touch_line`] loads, one in each 64-byte stretch of it: the one list
/// that function and its test (`touched_fields_cover_every_cache_line_of_a_paid_line`) read, so
/// that a field changed in one is changed in the other (each kept its own copy before).
macro_rules! touched_fields {
    ($then:ident) => {
        $then!(
            mod_amounts,
            unit_price,
            heavy_forfait,
            amc_excess,
            rate_reason
        )
    };
}

/// A touched field's value folded into the read-ahead's sum (its first bytes: a load of them
/// brings their cache line).
trait Touched {
    fn bits(&self) -> u64;
}

impl Touched for crate::money::Cents {
    #[inline(always)]
    fn bits(&self) -> u64 {
        *self as u64
    }
}

impl<const N: usize> Touched for [crate::money::Cents; N] {
    #[inline(always)]
    fn bits(&self) -> u64 {
        self.first().map_or(0, |&c| c as u64)
    }
}

impl Touched for Option<crate::rules::RateReason> {
    #[inline(always)]
    fn bits(&self) -> u64 {
        self.map_or(0, |x| x as u64)
    }
}

/// One field of a paid line in each 64-byte stretch of it ([`touched_fields`]), so that loading
/// them brings every cache line the line spans (test
/// `touched_fields_cover_every_cache_line_of_a_paid_line`: the compiler chooses the layout).
/// Also the Parquet export's read-ahead of its rows (`liquidator_export::parquet`).
#[inline(always)]
pub fn touch_line(r: &LineResult) -> u64 {
    macro_rules! fold {
        ($($f:ident),*) => { 0u64 $(^ Touched::bits(&r.$f))* };
    }
    touched_fields!(fold)
}

/// A borrowed sink is a sink (so a caller can keep the sink it lends to the engine).
impl<S: Sink + ?Sized> Sink for &mut S {
    fn window(&mut self, events: &[Event<'_>]) -> Result<(), SinkError> {
        (**self).window(events)
    }
    fn finish(&mut self, batch: &BatchInfo) -> Result<(), SinkError> {
        (**self).finish(batch)
    }
    fn finish_with(&mut self, batch: &BatchInfo, states: &States) -> Result<(), SinkError> {
        (**self).finish_with(batch, states)
    }
    fn held_bytes(&self) -> usize {
        (**self).held_bytes()
    }
    fn counts_summary(&self) -> bool {
        (**self).counts_summary()
    }
    fn take_summary(&mut self) -> Option<crate::output::summary::Summary> {
        (**self).take_summary()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// The fields `read_ahead` loads of a paid line start at its first byte, lie at most 64 bytes
    /// apart and the last one within its last 8 bytes, so that every cache line a `LineResult`
    /// spans, wherever it starts, holds one of them: if the layout changes (a field added), this
    /// says to choose the fields again.
    #[test]
    fn touched_fields_cover_every_cache_line_of_a_paid_line() {
        macro_rules! offsets {
            ($($f:ident),*) => { [$(offset_of!(LineResult, $f)),*] };
        }
        // The fields `touch_line` loads, from the same list (`touched_fields!`).
        let mut at = touched_fields!(offsets);
        at.sort();
        assert_eq!(at[0], 0, "{at:?}");
        assert!(at.windows(2).all(|w| w[1] - w[0] <= 64), "{at:?}");
        assert!(size_of::<LineResult>() - at[at.len() - 1] <= 8, "{at:?}");
    }
}
