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
use crate::rules::{Outcome, Step};
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
    /// The most memory this sink has held between two windows so far, in bytes, as allocated
    /// (buffers in flight to a writer, buffers kept for reuse): what `LIQUIDATOR_TIMING=1` prints
    /// on its memory line (issue #13). 0 when the sink does not count.
    fn held_bytes(&self) -> usize {
        0
    }
}

/// Number of segments a sink cuts a window into for parallel work. A constant, and concatenating the
/// segments' results in order gives the same bytes for any value: it only sets the grain.
pub const SEGMENTS: usize = 64;

/// Cuts a window's events into at most [`SEGMENTS`] contiguous, non-empty slices, in order.
pub fn segments<'e, 'a>(events: &'e [Event<'a>]) -> impl Iterator<Item = &'e [Event<'a>]> {
    events.chunks(events.len().div_ceil(SEGMENTS).max(1))
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
}
