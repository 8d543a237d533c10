//! The pipeline: memory-mapped input → parallel parse → beneficiary shards → ordered writers.
//!
//! The file is processed in **windows** of a fixed size (cut at claim headers), so memory is bounded by
//! the window, not by the file. In each window:
//! 1. the window is cut into a fixed number of sub-chunks at claim boundaries, records are counted in
//!    parallel to number lines, and each sub-chunk is parsed in parallel ([`crate::claims::reader`]);
//! 2. duplicate claim numbers per practitioner are marked, in file order;
//! 3. claims are distributed to [`SHARDS`] shards by a hash of the beneficiary, each shard keeping the
//!    running state of its beneficiaries across windows ([`crate::states::States`]); shards run in
//!    parallel, each in file order;
//! 4. the window's typed outcomes are gathered in file order — claims and records outside claims
//!    interleaved by position — and handed to the [`Sink`]s ([`crate::sink`]); the TSV sink formats
//!    them in parallel and sends the bytes through a `crossbeam-channel` to its writer thread while the
//!    next window is processed.
//!
//! Stages of consecutive windows overlap: the sinks receive window k−1 while window k is liquidated
//! and window k+1 parsed and booked (three window buffers alternate, [`process_in`]), so that the
//! serial stages run beside the shards' tasks instead of ending a window with a core asleep.
//!
//! Architecture invariant: nothing in this pipeline depends on the number of threads — window size,
//! sub-chunk count and shard count are constants — so the output is byte-identical for any `--threads`.
//! Architecture invariant: sinks see events in file order; the window size changes only how events are
//! grouped into calls, never their order.

use crate::carry::{Carry, EarlierClaim, paid_act_hash};
use crate::claims::Act;
use crate::claims::reader::{self, Chunk, ClaimError, NO_KEY};
use crate::claims::record::{self, BatchHeader, BatchTrailer};
use crate::codes::{BatchFail, Reject};
use crate::duplicates::ClaimsSeen;
use crate::output::files::{self as atomic, TsvSink};
use crate::output::summary::{Summary, SummarySink};
use crate::refs::history::History;
use crate::refs::{Practitioner, Refs};
use crate::rules::{self, ClaimInput, Ctx, Outcome, Rejection, Step, Trace};
use crate::sink::{ClaimEvent, Event, Sink, SinkError};
use crate::states::{States, shard_of};
use crate::timing_on;
use rayon::prelude::*;
use std::path::Path;

pub use crate::states::SHARDS;
/// Sub-chunks a window is cut into for parsing.
const SUBCHUNKS: usize = 32;
/// Claims of a shard whose beneficiary rows and states are read ahead, together, before they are
/// liquidated (`liquidate_shards`). Does not change any output.
const LOOKAHEAD: usize = 16;
/// Default window size in bytes. Three windows are in flight (one booked while the next is liquidated
/// and the sinks receive the one before; the outcomes of two) and the TSV sink holds a few windows'
/// text, so the window sets the memory that does not depend on the reference set: at 8 MiB, ≈ 45 MiB
/// for the three windows' parsed claims and lists and two windows' outcomes (≈ 36 MiB with two windows
/// in flight, before stop 31) and
/// ≈ 14 MiB of TSV buffers on the 1 M-claim day, against 142 + 45 MiB at 32 MiB (peak RssAnon 280
/// against 460 MiB), for the same CPU (issue #13; `LIQUIDATOR_TIMING=1` prints the breakdown).
pub const WINDOW: usize = 8 << 20;

/// The largest window, in bytes (`run --window-kib` at most 1 048 576; a larger
/// [`Options::window`] is taken as this). A window's claims and lines are numbered in `u32`
/// (a claim's place in its chunk and shard list, `loc`, the duplicate check's positions, a chunk's
/// line ranges), and a record takes at least two bytes: 1 GiB keeps every such number below 2^29,
/// far from `u32::MAX`, at any input. A window end also adds the size to a position: no overflow.
pub const MAX_WINDOW: usize = 1 << 30;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Io(String),
    #[error("batch rejected: {} {}: {detail}", .code.code(), .code.slug())]
    Batch { code: BatchFail, detail: String },
    #[error(transparent)]
    Stage(#[from] atomic::StageError),
    #[error("output: {0}")]
    Sink(#[from] SinkError),
    /// The packed state of the beneficiary of the claim at input line `line` does not read: a
    /// corrupt ledger record (formats/ledger.md, "What is refused as corrupt"). The run stops
    /// (exit 11) rather than liquidate the claim against an empty state.
    #[error("ledger corrupt: the state of the beneficiary of the claim at line {line}: {error}")]
    State {
        line: u64,
        error: crate::states::packed::DecodeError,
    },
    /// A beneficiary's state that does not read, found outside a claim (the debts carried in or
    /// left open, read from every state at the start and the end of the run), or open debts
    /// beyond what an `i64` of cents holds: a corrupt ledger as well (exit 11).
    #[error("ledger corrupt: {0}")]
    States(crate::states::packed::DecodeError),
}

/// What the batch framing said, checked once every window is read.
#[derive(Clone, Debug, Default)]
pub struct BatchInfo {
    pub header: Option<BatchHeader>,
    pub trailer: Option<BatchTrailer>,
    pub header_records: u64,
    pub act_records: u64,
    pub fee_total: i64,
    pub records: u64,
    /// Debts of the insured still open once the whole batch is liquidated (`rules::debt`): how many,
    /// and their open amount. `debts.tsv` lists them from the beneficiaries' final states
    /// ([`crate::sink::Sink::finish_with`], `States::with_debts`), not from a copy held here.
    /// Counted beside the sinks' finish: the `BatchInfo` a sink's `finish` is given has them at 0;
    /// the one the run returns has them.
    pub open_debts: u64,
    pub open_debts_cents: crate::money::Cents,
    /// Debts open before the first claim (carried from earlier nights into the beneficiaries' states;
    /// 0 when every state starts empty).
    pub debts_opening_cents: i64,
}

pub struct Options<'a> {
    /// Bytes of a window ([`WINDOW`] by default; 1 to [`MAX_WINDOW`], a larger one is taken as
    /// [`MAX_WINDOW`]).
    pub window: usize,
    /// Liquidate with a trace for this claim number (for `explain`).
    pub trace_claim: Option<u32>,
    pub progress: Option<&'a (dyn Fn(u64, u64) + Sync)>,
    /// The state as of the last committed night (a ledger, `crate::carry`), or `None`: start from
    /// nothing. A beneficiary's state is taken from it the first time one of its claims is liquidated.
    pub carry: Option<&'a dyn Carry>,
    /// Where the run's scratch files (the states', the payment orders' dues) are made: `None`, the
    /// staging directory beside the outputs. Another filesystem keeps them off the output disk
    /// (`run --scratch-dir`; ARCHITECTURE, "Known limits").
    pub scratch_dir: Option<&'a Path>,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            window: WINDOW,
            trace_claim: None,
            progress: None,
            carry: None,
            scratch_dir: None,
        }
    }
}

/// The typed outcomes of one shard for one window, in the shard's (file) order.
#[derive(Default)]
pub(crate) struct ShardOut {
    pub(crate) outcomes: Vec<(Outcome, Option<Vec<Step>>)>,
    /// Debts still open in the states this shard took from an earlier night (`Options::carry`) in
    /// this window: they are part of the night's opening debts.
    /// Summed wide: each state's is at most `packed::MAX_CENTS`, and a corrupt ledger could hold
    /// enough of them to overflow an `i64` (checked when added to the run's).
    opening_debts: i128,
    /// The first state of this shard that did not read in this window (the claim's input line):
    /// the shard stops there and the run fails (`RunError::State`).
    corrupt: Option<(u64, crate::states::packed::DecodeError)>,
}

/// Reads and checks the batch header (first record). Its date is the batch date used by the rules.
pub fn batch_header(data: &[u8]) -> Result<(BatchHeader, usize), RunError> {
    if data.is_empty() {
        return Err(RunError::Batch {
            code: BatchFail::Empty,
            detail: "the claims file is empty".into(),
        });
    }
    let (end, next) = match memchr::memchr(b'\n', data) {
        Some(i) => (i, i + 1),
        None => (data.len(), data.len()),
    };
    let mut rec = &data[..end];
    if let [b @ .., b'\r'] = rec {
        rec = b;
    }
    if record::kind(rec) != record::Kind::BatchHeader {
        return Err(RunError::Batch {
            code: BatchFail::NoHeader,
            detail: "line 1 is not a batch header (type 00)".into(),
        });
    }
    let h = record::batch_header(rec).map_err(|e| RunError::Batch {
        code: BatchFail::NoHeader,
        detail: format!("line 1 column {}: {} invalid", e.column, e.field),
    })?;
    Ok((h, next))
}

/// Checks the trailer against what was read. Any mismatch makes the batch untrustworthy.
pub fn check_batch(info: &BatchInfo, after_trailer: Option<reader::Pos>) -> Result<(), RunError> {
    let fail = |code, detail: String| Err(RunError::Batch { code, detail });
    let Some(t) = info.trailer else {
        return fail(
            BatchFail::NoTrailer,
            "no batch trailer (type 99): truncated transfer?".into(),
        );
    };
    if let Some(p) = after_trailer {
        return fail(
            BatchFail::AfterTrailer,
            format!(
                "record at line {} (byte {}) after the trailer",
                p.line, p.offset
            ),
        );
    }
    let h = info.header.unwrap_or(BatchHeader {
        sender: 0,
        batch_no: 0,
        date: Default::default(),
        version: 0,
    });
    if t.batch_no != h.batch_no {
        return fail(
            BatchFail::BatchNumber,
            format!("trailer batch {} ≠ header batch {}", t.batch_no, h.batch_no),
        );
    }
    if t.claims != info.header_records || t.lines != info.act_records {
        return fail(
            BatchFail::CountMismatch,
            format!(
                "trailer announces {} claims / {} lines, file holds {} / {}",
                t.claims, t.lines, info.header_records, info.act_records
            ),
        );
    }
    if t.total != info.fee_total {
        return fail(
            BatchFail::TotalMismatch,
            format!(
                "trailer total {} € ≠ sum of act lines {} €",
                crate::money::fmt_euros(t.total),
                crate::money::fmt_euros(info.fee_total)
            ),
        );
    }
    Ok(())
}

/// Liquidates a whole claims file held in memory, handing each window's typed outcomes to `sinks` in
/// file order, then checking the batch framing and finishing the sinks. Returns the framing.
pub fn process(
    data: &[u8],
    refs: &Refs,
    opts: &Options,
    sinks: &mut [&mut dyn Sink],
) -> Result<BatchInfo, RunError> {
    process_in(data, refs, opts, sinks, &mut States::new())
}

/// [`process`] with the beneficiaries' running state in `states`: seeded by the caller before the run
/// (or empty), holding every beneficiary's state after it ([`States`]).
///
/// The stages of consecutive windows overlap, three windows at a time: while the sinks receive window
/// k−1's events and window k's shards liquidate it, window k+1 is parsed and booked (framing, duplicate
/// check, routing, the claims rejected at read, the duplicate set's merges) — `rayon::join`, on the same
/// pool: `--threads` bounds the whole. Each window is joined once, at the end of the step where its
/// sinks run; the serial parts (the bookkeeping, the events' gathering, a sink's own serial work) run
/// beside the 256 shards' tasks, not at the end of a window with a core asleep (issue #13). Three
/// window buffers and two sets of shard outcomes alternate; the bookkeeping still runs window after
/// window in file order, each shard liquidates its claims in file order, and events reach the sinks one
/// window after the other, in file order, so the output does not change.
///
/// Errors are returned in the order a window's stages met them before this overlap (the sinks of
/// window k−1, then the booking of window k, then its shards): a booking error found beside the shards
/// of the window before is returned after that window's sinks.
pub fn process_in(
    data: &[u8],
    refs: &Refs,
    opts: &Options,
    sinks: &mut [&mut dyn Sink],
    states: &mut States,
) -> Result<BatchInfo, RunError> {
    let (header, mut start) = batch_header(data)?;
    let ctx = Ctx::new(refs, header.date, opts.carry);
    let mut run = RunState::new(header, states.open_debt_cents().map_err(RunError::States)?);
    run.expect_file(data.len());
    // Window w is parsed into `bufs[w % 3]` and liquidated into `outs[w % 2]`.
    let mut bufs: [WindowBuf; 3] = Default::default();
    let mut outs: [Vec<ShardOut>; 2] = [shard_outs(), shard_outs()];
    // The window booked and waiting for its shards, the one liquidated and waiting for the sinks,
    // the number of the next window to book.
    let mut booked: Option<usize> = None;
    let mut liquidated: Option<usize> = None;
    let mut next = 0usize;
    // A window's booking error, returned once the sinks of the window before it are done.
    let mut failed: Option<RunError> = None;
    let mut claims_done = 0u64;
    let mut spare_events: Vec<Event<'static>> = Vec::new();
    // Stage timings for profiling (`LIQUIDATOR_TIMING=1`): parse, bookkeeping, shards, sinks.
    let mut timer = Timer::new();
    let window = opts.window.clamp(1, MAX_WINDOW);
    loop {
        let more = failed.is_none() && start < data.len();
        if !more && booked.is_none() && liquidated.is_none() {
            break;
        }
        let end = if more {
            window_end(data, start, window)
        } else {
            start
        };
        let to_book = more.then_some(next);
        let [e_buf, s_buf, b_buf] = three(
            &mut bufs,
            [
                liquidated.map(|w| w % 3),
                booked.map(|w| w % 3),
                to_book.map(|w| w % 3),
            ],
        );
        // The shards' outcomes go to the set the sinks do not read (consecutive windows).
        let parity = booked.unwrap_or(liquidated.map_or(0, |w| w + 1)) % 2;
        let [o0, o1] = &mut outs;
        let (s_out, e_out) = if parity == 0 { (o0, &*o1) } else { (o1, &*o0) };
        let on = timer.on;
        let step = on.then(std::time::Instant::now);
        let sinks_ref = &mut *sinks;
        let spare = &mut spare_events;
        let mut each = vec![std::time::Duration::ZERO; sinks_ref.len()];
        let each_ref = &mut each;
        let run_ref = &mut run;
        let shards = states.shards_mut();
        let ctx = &ctx;
        // The booking is joined first: its chain (parse, then the serial bookkeeping and merges) is
        // the longest, and the shards' and sinks' tasks fill the other core beside it.
        let (booking, (emitted, liquidating)) = rayon::join(
            || b_buf.map(|w| book(opts, data, (start, end), run_ref, w, on)),
            || {
                rayon::join(
                    || {
                        e_buf.map(|w| {
                            let r = emit(w, e_out, sinks_ref, spare, each_ref, on);
                            (r, on.then(std::time::Instant::now), &*w)
                        })
                    },
                    || s_buf.map(|w| liquidate_window(ctx, opts, w, s_out, shards, on)),
                )
            },
        );
        let mut others_done = step;
        if let Some((emitted, done, w)) = emitted {
            timer.t[3] += emitted?;
            timer.add_sinks(&each);
            others_done = others_done.max(done);
            claims_done += w.items.len() as u64;
            if let Some(p) = opts.progress {
                p(w.end as u64, claims_done);
            }
        }
        liquidated = None;
        if let Some(l) = liquidating {
            // A state that did not read ends the run: the first in input order (the same for any
            // `--threads`: each shard stops at its first, in file order).
            if let Some(c) = l.corrupt {
                return Err(RunError::State {
                    line: c.0,
                    error: c.1,
                });
            }
            let opening = l.opening + run.info.debts_opening_cents as i128;
            run.info.debts_opening_cents = i64::try_from(opening).map_err(|_| {
                RunError::States(crate::states::packed::DecodeError(
                    "opening debts total beyond i64",
                ))
            })?;
            timer.t[2] += l.t;
            others_done = others_done.max(l.done);
            liquidated = booked;
        }
        booked = None;
        match booking {
            Some(Ok(b)) => {
                timer.t[0] += b.t[0];
                timer.t[1] += b.t[1];
                timer.merges += b.t[2];
                timer.alone(&b.serial, others_done);
                booked = Some(next);
                next += 1;
                start = end;
            }
            Some(Err(e)) => failed = Some(e),
            None => {}
        }
        timer.windows(&bufs, &outs, cap(&spare_events));
    }
    if let Some(e) = failed {
        return Err(e);
    }
    timer.report();
    if let Some(s) = &timer.sched {
        eprintln!("timing: windows, {}", s.since());
    }
    if timer.on {
        timer.report_memory(sinks);
    }
    // Every window is read: its buffers and the duplicate set are freed before the sinks finish, which
    // build their end-of-run files (debts, payment orders) in memory — the run's peak (issue #13).
    drop(bufs);
    drop(outs);
    drop(spare_events);
    let seen = std::mem::take(&mut run.seen);
    if timer.on {
        // Where the memory that grows with the file goes (issue #13): the beneficiaries' states and
        // the duplicate-detection set, as allocated.
        eprintln!(
            "memory: states {} beneficiaries, {} MiB held, {} MiB of it in the scratch file (packed: bytes → count {}); duplicate set {} claims, {:.1} MiB allocated ({:.2} B a claim) + {:.1} MiB for a window's check",
            states.len(),
            states.table_bytes() >> 20,
            states.file_bytes() >> 20,
            crate::states::histogram_text(&states.size_histogram()),
            seen.len(),
            seen.bytes() as f64 / (1 << 20) as f64,
            seen.bytes() as f64 / seen.len().max(1) as f64,
            seen.window_bytes() as f64 / (1 << 20) as f64
        );
    }
    if timer.on {
        eprintln!("memory: states' parts, {}", states.parts());
    }
    drop(seen);
    if let Some(f) = WINDOWS_DONE.get() {
        f();
    }
    check_batch(&run.info, run.after_trailer)?;
    // The sinks' end-of-run work (open debts, payment orders, the writers' last flush…) runs after the
    // last window. Sinks own separate files and share nothing, so they finish side by side on the run's
    // pool; the first error in list order is the one reported, whatever the thread count. The TSV
    // writer's own I/O errors come after these: its thread reports them when `stage_run` closes it.
    // The open debts' totals (`BatchInfo::open_debts`, for the summary) are read from the states
    // beside the sinks' finish, which none of them reads: the sinks' serial steps (the payment
    // orders' merge and sync, the writers' waits for the disk) left the workers asleep ≈ 0.4 s of a
    // national tail, and the totals ran alone before it (issue #13). A state that does not read
    // still fails the run with the same error, before any sink's.
    let info = &run.info;
    let states: &States = states;
    let finish = || -> Vec<(Result<(), SinkError>, f64)> {
        sinks
            .par_iter_mut()
            .map(|s| {
                let t = std::time::Instant::now();
                let r = s.finish_with(info, states);
                (r, t.elapsed().as_secs_f64())
            })
            .collect()
    };
    let sched = timer.on.then(WorkersSched::now);
    let (totals, finished) = rayon::join(
        || {
            let t = std::time::Instant::now();
            let r = states.open_debt_totals();
            tail_step("open debts totalled (beside the sinks' finish)", t);
            r
        },
        finish,
    );
    (run.info.open_debts, run.info.open_debts_cents) = totals.map_err(RunError::States)?;
    if timer.on {
        // In the order of `stage_run`'s list: TSV, debts, payment orders, summary, then the extras.
        let each: Vec<String> = finished.iter().map(|(_, t)| format!("{t:.3}")).collect();
        eprintln!("timing: sinks' finish, side by side (s) {}", each.join(" "));
    }
    if let Some(s) = sched {
        eprintln!("timing: tail: sinks' finish, {}", s.since());
    }
    if timer.on {
        // The windows' memory line again, with what the sinks' end-of-run work held (the direct
        // buffers of `debts.tsv` and the payment orders' files), where the run's peak is.
        let mib = |b: usize| format!("{:.1}", b as f64 / (1 << 20) as f64);
        let held: Vec<String> = sinks.iter().map(|s| mib(s.held_bytes())).collect();
        eprintln!(
            "memory: sinks' buffers at most, their finish included (MiB) {}",
            held.join(" ")
        );
    }
    for (r, _) in finished {
        r?;
    }
    Ok(run.info)
}

/// End of the window starting at `start`: the first claim header after `start + window`.
pub(crate) fn window_end(data: &[u8], start: usize, window: usize) -> usize {
    reader::next_claim_start(data, start + window.max(1))
        .max(start + 1)
        .min(data.len())
}

/// One window between its parse and its sinks: the parsed chunks, the lists between the stages and
/// the claims rejected at read (its shards' outcomes are in a set of [`ShardOut`]s of their own). Three
/// of them alternate so that the next window is booked while this one is liquidated and the one
/// before it is handed to the sinks; buffers are reused from window to window (fresh large
/// allocations cost page faults).
#[derive(Default)]
struct WindowBuf {
    chunks: Vec<Chunk>,
    /// Chunks of `chunks` used by this window.
    n: usize,
    items: Vec<Item>,
    dup: Vec<Dup>,
    loc: Vec<(u16, u32)>,
    /// Each shard's claims (indexes into `items`, in file order), each with its beneficiary key
    /// (computed once, in `route`).
    lists: Vec<Vec<(u32, u64)>>,
    read_rejected: Vec<Outcome>,
    /// Byte offset of the window's end (for the progress callback).
    end: usize,
}

/// One window's shards' outcomes, empty (one [`ShardOut`] a shard).
fn shard_outs() -> Vec<ShardOut> {
    (0..SHARDS).map(|_| ShardOut::default()).collect()
}

/// The elements of `v` at the indexes `at` (distinct where given), each where its index is.
///
/// Two equal indexes, or one beyond the array, would hand a buffer to one stage only and silently
/// skip the other — a window lost — so they stop the run instead, in release builds too. They cannot
/// happen, and no input can make them: `process_in` passes `w % 3` of the window its sinks read, the
/// one its shards liquidate and the one it books, which are three different windows within three
/// consecutive ones (liquidated < booked < to book, and each is at least `next − 2`: a window moves
/// one stage a step, and `next` grows by at most one a step), hence three different remainders. The
/// loop's counters alone decide them, never the data; the assertion keeps a future change of that
/// state machine from losing a window quietly.
fn three<T>(v: &mut [T; 3], at: [Option<usize>; 3]) -> [Option<&mut T>; 3] {
    for (j, a) in at.iter().enumerate() {
        if let Some(a) = *a {
            assert!(
                a < 3 && !at[..j].contains(&Some(a)),
                "engine: two stages given window buffer {a} ({at:?}): a window would be lost"
            );
        }
    }
    let mut out: [Option<&mut T>; 3] = [None, None, None];
    for (k, x) in v.iter_mut().enumerate() {
        if let Some(j) = at.iter().position(|&i| i == Some(k)) {
            out[j] = Some(x);
        }
    }
    out
}

/// Heap bytes of one window's shards' outcomes, as allocated.
fn outs_bytes(outs: &Vec<ShardOut>) -> usize {
    outs.iter()
        .map(|s| {
            cap(&s.outcomes)
                + s.outcomes
                    .iter()
                    .map(|(o, steps)| outcome_bytes(o) + steps.as_ref().map_or(0, cap))
                    .sum::<usize>()
        })
        .sum::<usize>()
        + cap(outs)
}

/// Bytes a vector holds, as allocated (its capacity, not its length).
fn cap<T>(v: &Vec<T>) -> usize {
    v.capacity() * std::mem::size_of::<T>()
}

/// Heap bytes of one outcome beyond its own slot: its lines, line rejections, recoveries, details.
fn outcome_bytes(o: &Outcome) -> usize {
    match o {
        Outcome::Paid(p) => {
            cap(&p.lines)
                + cap(&p.rejected_lines)
                + p.rejected_lines
                    .iter()
                    .map(|r| r.rejection.detail.capacity())
                    .sum::<usize>()
                + cap(&p.recoveries)
        }
        Outcome::Rejected(r) => r.detail.capacity(),
    }
}

impl WindowBuf {
    /// What this buffer holds, as allocated, in bytes: (parsed chunks, the claims rejected at read,
    /// the lists between stages). For `LIQUIDATOR_TIMING=1`'s memory line (issue #13).
    fn bytes(&self) -> [usize; 3] {
        let parsed = cap(&self.chunks)
            + self
                .chunks
                .iter()
                .map(|c| {
                    cap(&c.claims)
                        + cap(&c.keys)
                        + cap(&c.lines)
                        + cap(&c.line_pos)
                        + cap(&c.orphans)
                })
                .sum::<usize>();
        let outcomes =
            cap(&self.read_rejected) + self.read_rejected.iter().map(outcome_bytes).sum::<usize>();
        let lists = cap(&self.items)
            + cap(&self.dup)
            + cap(&self.loc)
            + cap(&self.lists)
            + self.lists.iter().map(cap).sum::<usize>();
        [parsed, outcomes, lists]
    }
}

/// Parses and books the window `[start, end)` into `w`: framing counts, duplicate flags, routing to
/// the shards, the claims rejected at read, then the duplicate set's merges (`ClaimsSeen::settle`: no
/// claim of this window needs them, the next window's check does). Runs beside the shards of the
/// window before and the sinks of the one before that ([`process_in`]). Returns the stage times
/// (parse, bookkeeping, merges) when `timing` is on.
fn book(
    opts: &Options,
    data: &[u8],
    (start, end): (usize, usize),
    run: &mut RunState,
    w: &mut WindowBuf,
    timing: bool,
) -> Result<Booked, RunError> {
    let mut sw = Stopwatch::new(timing);
    let mut t = [std::time::Duration::ZERO; 3];
    let now = || timing.then(std::time::Instant::now);
    w.n = match opts.carry {
        // A ledger hashes each sub-chunk right after its parse (`Carry::window_read`), from the
        // cache of the core that parsed it.
        Some(c) => parse_window_read(data, start, end, &mut run.line, &mut w.chunks, &|at, b| {
            c.window_read(at, b)
        }),
        None => parse_window(data, start, end, &mut run.line, &mut w.chunks),
    };
    w.end = end;
    let chunks = &w.chunks[..w.n];
    sw.lap(&mut t[0]);
    let parsed = now();
    run.frame_into(chunks, &mut w.items)?;
    run.mark_duplicates_into(chunks, &w.items, opts.carry, &mut w.dup);
    route(chunks, &w.items, &w.dup, &mut w.lists, &mut w.loc);
    w.read_rejected = reject_at_read(chunks, &w.items, &w.dup, &mut w.loc);
    sw.lap(&mut t[1]);
    let booked = now();
    // The duplicate set's runs merged after the window's check: on one core, before the routing, the
    // merges were a third of the serial bookkeeping's instructions (issue #13).
    run.seen.settle();
    sw.lap(&mut t[2]);
    let serial = match (parsed, booked, now()) {
        (Some(a), Some(b), Some(c)) => vec![(a, b), (b, c)],
        _ => Vec::new(),
    };
    Ok(Booked { t, serial })
}

/// What [`book`] measured when timing is on: the stage times (parse, bookkeeping, the duplicate
/// set's merges) and when its serial steps ran (the bookkeeping; the merges).
struct Booked {
    t: [std::time::Duration; 3],
    serial: Vec<(std::time::Instant, std::time::Instant)>,
}

/// Liquidates the window booked in `w` into `outs`, shard by shard ([`liquidate_shards`]).
fn liquidate_window(
    ctx: &Ctx,
    opts: &Options,
    w: &WindowBuf,
    outs: &mut [ShardOut],
    shards: &mut [crate::states::Shard],
    timing: bool,
) -> Liquidated {
    let mut sw = Stopwatch::new(timing);
    let mut t = std::time::Duration::ZERO;
    let chunks = &w.chunks[..w.n];
    liquidate_shards(ctx, opts, chunks, &w.items, &w.lists, shards, outs);
    sw.lap(&mut t);
    Liquidated {
        t,
        done: timing.then(std::time::Instant::now),
        // The first in input order: each shard stops at its first, in file order.
        corrupt: outs
            .iter_mut()
            .filter_map(|s| s.corrupt.take())
            .min_by_key(|c| c.0),
        opening: outs.iter().map(|s| s.opening_debts).sum::<i128>(),
    }
}

/// What [`liquidate_window`] left for the run: its time and end (timing on), the first state that did
/// not read (its claim's input line), the opening debts of the states taken from an earlier night.
struct Liquidated {
    t: std::time::Duration,
    done: Option<std::time::Instant>,
    corrupt: Option<(u64, crate::states::packed::DecodeError)>,
    opening: i128,
}

/// Hands the window in `w` to the sinks, its events in file order. Returns the time it took when
/// `timing` is on, and each sink's own time in `each`.
///
/// The sinks receive the window side by side on the run's pool (`par_iter_mut`): they own separate
/// files and states and share nothing (the [`Sink`] contract), so each writes the same bytes whatever
/// the order they run in, and the sequential parts of one (the Parquet rows, the payment orders' dues)
/// overlap another's work instead of adding to it (issue #11). Every sink receives the window; the
/// first error in list order is the one returned, whatever the thread count.
///
/// `spare` is the events list of the previous window, kept empty between windows so that its memory
/// is reused (a fresh list each window costs page faults: issue #13).
fn emit(
    w: &WindowBuf,
    shard_outs: &[ShardOut],
    sinks: &mut [&mut dyn Sink],
    spare: &mut Vec<Event<'static>>,
    each: &mut [std::time::Duration],
    timing: bool,
) -> Result<std::time::Duration, RunError> {
    let mut sw = Stopwatch::new(timing);
    let mut t = std::time::Duration::ZERO;
    let events = gather_into(
        relabel(std::mem::take(spare)),
        &w.chunks[..w.n],
        &w.loc,
        shard_outs,
        &w.read_rejected,
    );
    sw.lap(&mut t);
    let window = &events[..];
    let done: Vec<(Result<(), SinkError>, std::time::Duration)> = sinks
        .par_iter_mut()
        .map(|s| {
            let mut own = Stopwatch::new(timing);
            let r = s.window(window);
            let mut d = std::time::Duration::ZERO;
            own.lap(&mut d);
            (r, d)
        })
        .collect();
    sw.lap(&mut t);
    *spare = relabel(events);
    for (slot, (_, d)) in each.iter_mut().zip(&done) {
        *slot += *d;
    }
    for (r, _) in done {
        r?;
    }
    Ok(t)
}

/// An empty events list with another lifetime, in the same allocation (the standard library collects
/// a `filter_map` of a vector's own iterator in place when the item layouts are equal).
// `filter_map` (not `filter`) because the item type changes: that is the point.
#[allow(clippy::unnecessary_filter_map)]
fn relabel<'b>(mut v: Vec<Event<'_>>) -> Vec<Event<'b>> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

/// What carries over from window to window.
pub(crate) struct RunState {
    pub(crate) info: BatchInfo,
    /// (practitioner, claim number) already read: duplicate transmissions (sorted runs, not a hash
    /// set: `duplicates`).
    seen: ClaimsSeen,
    /// Input line number of the next window's first record.
    pub(crate) line: u64,
    pub(crate) after_trailer: Option<reader::Pos>,
}

/// A claim of the window: (chunk, index in the chunk), in file order.
pub(crate) type Item = (u32, u32);

impl RunState {
    /// The state before the first window: the batch header read (line 1), the debts carried in.
    pub(crate) fn new(header: BatchHeader, debts_opening_cents: i64) -> RunState {
        RunState {
            info: BatchInfo {
                header: Some(header),
                records: 1,
                debts_opening_cents,
                ..Default::default()
            },
            seen: ClaimsSeen::default(),
            line: 2,
            after_trailer: None,
        }
    }

    /// Sizes the duplicate set's filter for the claims a file of `bytes` bytes may hold: one a
    /// header, an act line and an end record (the smallest claim that is not empty; a file of
    /// smaller ones grows the filter as they come, the same answers).
    pub(crate) fn expect_file(&mut self, bytes: usize) {
        self.seen.expect(bytes / (3 * (record::RECORD_LEN + 1)));
    }

    /// Adds the window's framing counts and trailer; lists its claims in file order.
    pub(crate) fn frame(&mut self, chunks: &[Chunk]) -> Result<Vec<Item>, RunError> {
        let mut items = Vec::new();
        self.frame_into(chunks, &mut items)?;
        Ok(items)
    }

    /// [`RunState::frame`] into `items` (emptied first; its memory is reused from window to window).
    pub(crate) fn frame_into(
        &mut self,
        chunks: &[Chunk],
        items: &mut Vec<Item>,
    ) -> Result<(), RunError> {
        let info = &mut self.info;
        items.clear();
        for (ci, ch) in chunks.iter().enumerate() {
            info.records += ch.records;
            info.header_records += ch.header_records;
            info.act_records += ch.act_records;
            info.fee_total += ch.fee_total;
            if let Some((t, p)) = &ch.trailer {
                match t {
                    Ok(t) => info.trailer = Some(*t),
                    Err(e) => {
                        return Err(RunError::Batch {
                            code: BatchFail::NoTrailer,
                            detail: format!(
                                "trailer at line {} column {}: {} invalid",
                                p.line, e.column, e.field
                            ),
                        });
                    }
                }
            }
            if self.after_trailer.is_none() {
                self.after_trailer = ch.after_trailer;
            }
            items.extend((0..ch.claims.len() as u32).map(|k| (ci as u32, k)));
        }
        Ok(())
    }

    /// Marks the claims whose (practitioner, number) was already read, in file order: earlier in
    /// this batch first, then by an earlier night (a ledger).
    pub(crate) fn mark_duplicates(
        &mut self,
        chunks: &[Chunk],
        items: &[Item],
        carry: Option<&dyn Carry>,
    ) -> Vec<Dup> {
        let mut dup = Vec::new();
        self.mark_duplicates_into(chunks, items, carry, &mut dup);
        dup
    }

    /// [`RunState::mark_duplicates`] into `dup` (emptied first; its memory is reused).
    pub(crate) fn mark_duplicates_into(
        &mut self,
        chunks: &[Chunk],
        items: &[Item],
        carry: Option<&dyn Carry>,
        dup: &mut Vec<Dup>,
    ) {
        dup.clear();
        dup.resize(items.len(), Dup::No);
        // The keys computed by the parse, in the order of `items` (the chunks' claims in order).
        self.seen.check_window(
            chunks
                .iter()
                .flat_map(|ch| &ch.keys)
                .map(|k| (k.dup != NO_KEY).then_some(k.dup)),
            |i| {
                if let Some(d) = dup.get_mut(i) {
                    *d = Dup::InBatch;
                }
            },
        );
        if let Some(carry) = carry {
            // The window's claims not already duplicates within the batch, asked at once
            // (`Carry::claims`: a ledger answers them in its own key order).
            let (mut ask, mut at) = (
                Vec::with_capacity(items.len()),
                Vec::with_capacity(items.len()),
            );
            for (i, (d, &(ci, cj))) in dup.iter().zip(items).enumerate() {
                if let (Dup::No, Some(h)) = (*d, chunks[ci as usize].claims[cj as usize].header) {
                    ask.push((h.practitioner, h.claim_no));
                    at.push(i);
                }
            }
            let mut earlier = vec![None; ask.len()];
            carry.claims(&ask, &mut earlier);
            for (i, e) in at.into_iter().zip(earlier) {
                if let (Some(e), Some(d)) = (e, dup.get_mut(i)) {
                    *d = Dup::Earlier(e);
                }
            }
        }
    }
}

/// Why a claim is a duplicate transmission, if it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dup {
    No,
    /// Its number was read earlier in this batch (`R030`).
    InBatch,
    /// Its number was read by an earlier night (`R031` paid there, `R032` rejected there).
    Earlier(EarlierClaim),
}

/// Cuts the window `[start, end)` into sub-chunks at claim boundaries, numbers their lines and parses
/// them in parallel into the (reused) chunk pool. Returns the number of chunks used.
pub(crate) fn parse_window(
    data: &[u8],
    start: usize,
    end: usize,
    line: &mut u64,
    pool: &mut Vec<Chunk>,
) -> usize {
    parse_window_with(data, start, end, line, pool, None)
}

/// [`parse_window`], handing `read` every byte of `[start, end)` exactly once, in file order, as
/// pieces (the sub-chunks): each piece right after its parse, mostly by the worker that parsed it,
/// while its bytes are in that core's cache — a ledger hashes the file there (`Carry::window_read`).
///
/// The sub-chunks are handed out to the workers in file order (a shared cursor, not the pool's
/// split into halves), so that the piece next to be read is mostly the one a worker has just
/// parsed. A worker that finishes a sub-chunk reads, under one lock, every parsed piece from the
/// last one read on: the pieces go out in order whichever worker parsed them, and the last worker
/// to finish reads what is left. Until LEDGER23 the window was read whole beside its parse
/// (`rayon::join`), from memory: the national night's 2.8 GB file hashed at ≈ 6 GB/s, 0.42–0.52 s
/// of CPU, against 0.13–0.14 s for the same bytes hashed from the cache in 256 KiB pieces (xxh3).
pub(crate) fn parse_window_read(
    data: &[u8],
    start: usize,
    end: usize,
    line: &mut u64,
    pool: &mut Vec<Chunk>,
    read: PieceRead<'_>,
) -> usize {
    parse_window_with(data, start, end, line, pool, Some(read))
}

/// What [`parse_window_read`] hands each piece of the window to: its offset in the file, its bytes.
type PieceRead<'a> = &'a (dyn Fn(usize, &[u8]) + Sync);

/// Both of the above: `read`, if any, as [`parse_window_read`] says.
fn parse_window_with(
    data: &[u8],
    start: usize,
    end: usize,
    line: &mut u64,
    pool: &mut Vec<Chunk>,
    read: Option<PieceRead<'_>>,
) -> usize {
    let mut cuts: Vec<usize> = (0..=SUBCHUNKS)
        .map(|j| {
            if j == 0 {
                start
            } else {
                reader::next_claim_start(data, start + j * (end - start) / SUBCHUNKS).min(end)
            }
        })
        .collect();
    cuts.dedup();
    let ranges: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
    // Buffers are reused from window to window: fresh large allocations cost page faults.
    pool.resize_with(ranges.len().max(pool.len()), Chunk::default);
    let pool = &mut pool[..ranges.len()];
    // Each sub-chunk is parsed numbering its lines from 0, then shifted by the lines of the
    // sub-chunks before it (its record count): one pass over the window's bytes, where a first
    // pass counted their line breaks (`memchr`) to number them before the parse (issue #13).
    match read {
        None => pool
            .par_iter_mut()
            .zip(ranges.par_iter())
            .for_each(|(ch, &(a, b))| ch.parse(data, a, b, 0)),
        Some(read) => {
            use std::sync::Mutex;
            use std::sync::atomic::{AtomicBool, Ordering};
            let parsed: Vec<AtomicBool> = ranges.iter().map(|_| AtomicBool::new(false)).collect();
            // The next sub-chunk to parse, and the next piece to read: pieces read in order.
            let work = Mutex::new(pool.iter_mut().zip(ranges.iter()).enumerate());
            let next_read = Mutex::new(0usize);
            let worker = || {
                while let Some((j, (ch, &(a, b)))) = work.lock().ok().and_then(|mut w| w.next()) {
                    ch.parse(data, a, b, 0);
                    parsed[j].store(true, Ordering::Release);
                    // The lock is held while `read` runs (the pieces in order): `read` must not
                    // use rayon (`Carry::window_read`). A `read` that panicked poisons it; the
                    // other workers then read nothing more and `rayon::scope` raises the panic
                    // again: the run fails, it never records a partial checksum.
                    if let Ok(mut k) = next_read.lock() {
                        while let Some(&(a, b)) = ranges.get(*k) {
                            if !parsed[*k].load(Ordering::Acquire) {
                                break;
                            }
                            read(a, data.get(a..b).unwrap_or_default());
                            *k += 1;
                        }
                    }
                }
            };
            // This thread parses from the first sub-chunk on; the pool's other workers join in
            // when they are free (they may be liquidating the window before).
            rayon::scope(|s| {
                for _ in 1..rayon::current_num_threads().min(ranges.len()) {
                    s.spawn(|_| worker());
                }
                worker();
            });
        }
    }
    let mut bases = Vec::with_capacity(pool.len());
    for ch in pool.iter() {
        bases.push(*line);
        *line += ch.records;
    }
    pool.par_iter_mut()
        .zip(bases.par_iter())
        .for_each(|(ch, &base)| ch.shift_lines(base));
    ranges.len()
}

/// Where each claim's outcome will be: `(shard, index)`, or `(SHARDS, _)` for a claim rejected at
/// read. Returns each shard's list of claims (indexes into `items`, in file order) and the locations.
/// `lists` and `loc` are emptied first; their memory is reused from window to window.
fn route(
    chunks: &[Chunk],
    items: &[Item],
    dup: &[Dup],
    lists: &mut Vec<Vec<(u32, u64)>>,
    loc: &mut Vec<(u16, u32)>,
) {
    lists.resize_with(SHARDS, Vec::new);
    lists.iter_mut().for_each(Vec::clear);
    loc.clear();
    loc.resize(items.len(), (SHARDS as u16, 0));
    // The routing keys computed by the parse (`ClaimKeys`), in the order of `items`: read here
    // as 16 bytes a claim, not from each claim's header (issue #13).
    let keys = chunks.iter().flat_map(|ch| &ch.keys);
    for (k, ck) in keys.enumerate().take(items.len()) {
        if ck.route != NO_KEY && dup.get(k) == Some(&Dup::No) {
            // The key is carried with the claim to its shard: the read-ahead and the state
            // lookup do not compute it again (issue #13).
            let key = ck.route;
            let sh = shard_of(key);
            loc[k] = (sh as u16, lists[sh].len() as u32);
            lists[sh].push((k as u32, key));
        }
    }
}

/// Liquidates every routed claim where its beneficiary's state lives; shards run in parallel, each in
/// file order, and keep the typed outcomes (with the trace of the claim asked by `explain`).
fn liquidate_shards(
    ctx: &Ctx,
    opts: &Options,
    chunks: &[Chunk],
    items: &[Item],
    lists: &[Vec<(u32, u64)>],
    states: &mut [crate::states::Shard],
    pool: &mut [ShardOut],
) {
    pool.par_iter_mut()
        .zip(lists.par_iter())
        .zip(states.par_iter_mut())
        .for_each(|((so, list), st)| {
            // Where the read-ahead found each of the next claims' beneficiary rows.
            let mut found: [Option<usize>; LOOKAHEAD] = [None; LOOKAHEAD];
            so.outcomes.clear();
            so.opening_debts = 0;
            so.corrupt = None;
            for (n, &(k, key)) in list.iter().enumerate() {
                if n % LOOKAHEAD == 0 {
                    // Claims of a shard name unrelated beneficiaries: each one's rows in the store and
                    // its state are cache misses. Read them for the next LOOKAHEAD claims in a tight
                    // loop of independent lookups first, so that their misses overlap instead of
                    // coming one after the other inside the rules (issue #13).
                    // The rows found are kept and handed to the rules with each claim: the controls
                    // do not search the store again (`Beneficiaries::get_at`).
                    // The lookups go in stages (`Beneficiaries::read_ahead`): each stage's misses
                    // overlap, where one lookup after the other chained them.
                    let next = list.get(n..).unwrap_or(&[]);
                    let next = next.get(..LOOKAHEAD).unwrap_or(next);
                    let mut keys = [0u64; LOOKAHEAD];
                    let mut ald = [false; LOOKAHEAD];
                    let mut pracs: [Option<&History<Practitioner>>; LOOKAHEAD] = [None; LOOKAHEAD];
                    // With a ledger: the CCAM lines' act hashes, whose earlier payment the rules
                    // look up (`Carry::touch_acts`, issue #14).
                    let mut acts = [0u64; 4 * LOOKAHEAD];
                    let mut nacts = 0;
                    // The CCAM lines' (code, activity, phase): their compiled pricing entries
                    // are read ahead below (`Compiled::touch_ccam`).
                    let mut ccam = [([0u8; 7], 0u8, 0u8); 4 * LOOKAHEAD];
                    let mut nccam = 0;
                    for (j, &(k, key)) in next.iter().enumerate() {
                        keys[j] = key;
                        // The claim (window data, in the cache): whether a line may look for an ALD
                        // period (`rules::rate::line_rate`), and its practitioner's history.
                        if let Some(&(ci, cj)) = items.get(k as usize)
                            && let Some(ch) = chunks.get(ci as usize)
                            && let Some(c) = ch.claims.get(cj as usize)
                            && let Some(h) = c.header.as_ref()
                        {
                            let lines = ch
                                .lines
                                .get(c.lines.start as usize..c.lines.end as usize)
                                .unwrap_or(&[]);
                            ald[j] = lines.iter().any(|l| rules::line_exemption(h, l) == b'4');
                            pracs[j] = ctx.refs.practitioners.get(&h.practitioner);
                            for l in lines {
                                if let Act::Ccam {
                                    code,
                                    activity,
                                    phase,
                                    ..
                                } = l.act
                                    && let Some(s) = ccam.get_mut(nccam)
                                {
                                    *s = (code, activity, phase);
                                    nccam += 1;
                                }
                            }
                            if ctx.carry.is_some() {
                                for l in lines {
                                    if let Some(a) = paid_act_hash(key, h.practitioner, l)
                                        && let Some(s) = acts.get_mut(nacts)
                                    {
                                        *s = a;
                                        nacts += 1;
                                    }
                                }
                            }
                        }
                    }
                    let m = next.len();
                    found = [None; LOOKAHEAD];
                    ctx.refs
                        .beneficiaries
                        .read_ahead(&keys[..m], &ald[..m], &mut found[..m]);
                    let mut acc = 0u32;
                    for p in pracs.iter().flatten() {
                        acc ^= p.rows().first().map_or(0, |r| r.0.from.0);
                    }
                    // In a loop of their own, independent lookups whose misses (the map's control
                    // bytes, then the entry) overlap: `rules::pricing::price_lines` then finds each
                    // line's entry in the cache, where one line after the other it waited for
                    // both (issue #13).
                    for &(code, activity, phase) in ccam.iter().take(nccam) {
                        acc ^= ctx.refs.compiled.touch_ccam(code, activity, phase);
                    }
                    std::hint::black_box(acc);
                    // A beneficiary the shard does not hold yet takes its state from the
                    // ledger, if any: read those ahead too, all at once (`Carry::touch_states`,
                    // issue #14).
                    let mut ask = [0u64; LOOKAHEAD];
                    let mut asked = 0;
                    let mut lens = [0usize; LOOKAHEAD];
                    st.touch_all(&keys[..m], &mut lens[..m]);
                    for (&key, &len) in keys[..m].iter().zip(&lens) {
                        if len == 0
                            && let Some(a) = ask.get_mut(asked)
                        {
                            *a = key;
                            asked += 1;
                        }
                    }
                    if let Some(c) = ctx.carry {
                        if asked > 0 {
                            std::hint::black_box(c.touch_states(&ask[..asked]));
                        }
                        if nacts > 0 {
                            std::hint::black_box(c.touch_acts(&acts[..nacts]));
                        }
                        // The group after this one: the first reads of its states' lookups (a
                        // ledger's radix entries) started now (`Carry::prefetch_states`), so that
                        // its touch, a group of claims later, finds them in the cache.
                        let after = list.get(n + LOOKAHEAD..).unwrap_or(&[]);
                        let after = after.get(..LOOKAHEAD).unwrap_or(after);
                        let mut later = [0u64; LOOKAHEAD];
                        for (l, &(_, key)) in later.iter_mut().zip(after) {
                            *l = key;
                        }
                        c.prefetch_states(&later[..after.len()]);
                    }
                }
                let (ci, cj) = items[k as usize];
                let ch = &chunks[ci as usize];
                let c = &ch.claims[cj as usize];
                // Only claims with a header are routed to shards (see `route`).
                let Some(h) = c.header.as_ref() else {
                    continue;
                };
                let (a, b) = (c.lines.start as usize, c.lines.end as usize);
                let input = ClaimInput {
                    header: h,
                    lines: &ch.lines[a..b],
                    line_pos: &ch.line_pos[a..b],
                    pos: c.pos,
                    benef_at: found.get(n % LOOKAHEAD).copied().flatten(),
                    // The routing key (`route`): 0 stands for a NIR without a key as well, so
                    // the controls compute that one again (and reject it).
                    benef_key: (key != 0).then_some(key),
                };
                // The state is decoded from its packed form for the claim and packed back after
                // it if the claim is paid (`states::Shard::with_state`, issue #13): the rules work
                // on the decoded copy itself, and what a rejected claim leaves there is dropped.
                let opening = &mut so.opening_debts;
                let traced = opts.trace_claim == Some(h.claim_no);
                let read = st.with_state(key, ctx.carry, ctx.time_limit().1, |bs, new, restore| {
                    if new {
                        *opening += bs.open_debt_cents() as i128;
                    }
                    let (o, steps) = if traced {
                        let mut steps = Vec::new();
                        let mut tr = Trace(Some(&mut steps));
                        let o = rules::liquidate_in_place(ctx, &input, bs, restore, &mut tr);
                        (o, Some(steps))
                    } else {
                        let o =
                            rules::liquidate_in_place(ctx, &input, bs, restore, &mut Trace(None));
                        (o, None)
                    };
                    // A rejected claim leaves the state as it was (`rules::liquidate`).
                    let paid = matches!(o, Outcome::Paid(_));
                    ((o, steps), paid)
                });
                match read {
                    Ok(o) => so.outcomes.push(o),
                    Err(e) => {
                        so.corrupt = Some((c.pos.line, e));
                        break;
                    }
                }
            }
        });
}

/// Decides the claims that never reach the rules (unreadable, duplicate) and points `loc` at them.
pub(crate) fn reject_at_read(
    chunks: &[Chunk],
    items: &[Item],
    dup: &[Dup],
    loc: &mut [(u16, u32)],
) -> Vec<Outcome> {
    let mut out = Vec::new();
    for (k, &(ci, cj)) in items.iter().enumerate() {
        if (loc[k].0 as usize) < SHARDS {
            continue;
        }
        let c = &chunks[ci as usize].claims[cj as usize];
        loc[k].1 = out.len() as u32;
        out.push(Outcome::Rejected(read_rejection(c, dup[k])));
    }
    out
}

/// The window's events in file order: each chunk's claims and records outside claims, merged by
/// position (chunks are in file order, and so is each chunk's list of claims and of orphans).
pub(crate) fn gather<'a>(
    chunks: &'a [Chunk],
    loc: &[(u16, u32)],
    shard_outs: &'a [ShardOut],
    read_rejected: &'a [Outcome],
) -> Vec<Event<'a>> {
    gather_into(Vec::new(), chunks, loc, shard_outs, read_rejected)
}

/// [`gather`] into `events` (emptied first; its memory is reused).
pub(crate) fn gather_into<'a>(
    mut events: Vec<Event<'a>>,
    chunks: &'a [Chunk],
    loc: &[(u16, u32)],
    shard_outs: &'a [ShardOut],
    read_rejected: &'a [Outcome],
) -> Vec<Event<'a>> {
    let n = loc.len() + chunks.iter().map(|c| c.orphans.len()).sum::<usize>();
    events.clear();
    events.reserve(n);
    let mut k = 0usize;
    for ch in chunks {
        let mut orphans = ch.orphans.iter().peekable();
        for c in &ch.claims {
            while let Some(o) = orphans.next_if(|o| o.pos.offset < c.pos.offset) {
                events.push(Event::Orphan(o));
            }
            let (sh, i) = loc[k];
            let (outcome, steps) = if (sh as usize) < SHARDS {
                let (o, s) = &shard_outs[sh as usize].outcomes[i as usize];
                (o, s.as_deref())
            } else {
                (&read_rejected[i as usize], None)
            };
            let (a, b) = (c.lines.start as usize, c.lines.end as usize);
            events.push(Event::Claim(ClaimEvent {
                claim: c,
                header: c.header.as_ref(),
                lines: &ch.lines[a..b],
                line_pos: &ch.line_pos[a..b],
                outcome,
                steps,
            }));
            k += 1;
        }
        events.extend(orphans.map(Event::Orphan));
    }
    events
}

/// The function given to [`on_windows_done`], if any.
static WINDOWS_DONE: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Gives the engine a function it calls once every window of a run is liquidated and its buffers
/// (windows, events, the duplicate set) are freed, before the end-of-run work of the sinks (open
/// debts, payment orders): the binary returns the allocator's freed memory to the system there, so
/// that the end of the run, where the peak of anonymous memory is, does not count the windows'
/// pages the allocator keeps for reuse (issue #13; README Performance, "RssAnon"). Set once per
/// process (later calls are ignored); the library itself never sets it.
pub fn on_windows_done(f: fn()) {
    let _ = WINDOWS_DONE.set(f);
}

/// With `LIQUIDATOR_TIMING` set, prints how long `what` took since `since` (the steps of the end of
/// a run, issue #13).
pub fn tail_step(what: &str, since: std::time::Instant) {
    if timing_on() {
        eprintln!(
            "timing: tail: {what} {:.3} s",
            since.elapsed().as_secs_f64()
        );
    }
}

/// The run's pool's workers' time on a CPU and waiting for one since a moment, from the
/// scheduler's own counts (`/proc/thread-self/schedstat`, read on each worker by
/// `rayon::broadcast`; zero where it cannot be read): with the wall, how long the workers slept —
/// a core idle for want of work, which other load on the machine does not blur as it blurs the
/// wall (it shows as waiting for a CPU instead). Issue #13: the tail's and the windows' idle cores.
struct WorkersSched {
    at: std::time::Instant,
    /// On a CPU, waiting for one: nanoseconds, summed over the workers.
    run: u64,
    wait: u64,
    /// Times the workers went to sleep (`crate::thread_sleeps`), summed.
    sleeps: u64,
    workers: usize,
}

impl WorkersSched {
    fn now() -> WorkersSched {
        let each = rayon::broadcast(|_| (crate::thread_sched(), crate::thread_sleeps()));
        WorkersSched {
            at: std::time::Instant::now(),
            run: each.iter().map(|e| e.0.0).sum(),
            wait: each.iter().map(|e| e.0.1).sum(),
            sleeps: each.iter().map(|e| e.1).sum(),
            workers: each.len(),
        }
    }

    /// What the workers did since `self`, as text.
    fn since(&self) -> String {
        let now = WorkersSched::now();
        let wall = now.at.duration_since(self.at).as_secs_f64();
        let run = now.run.saturating_sub(self.run) as f64 / 1e9;
        let wait = now.wait.saturating_sub(self.wait) as f64 / 1e9;
        format!(
            "{} workers over {wall:.3} s: on a CPU {run:.3} s, waiting for one {wait:.3} s, asleep {:.3} s ({} times)",
            self.workers,
            (self.workers as f64 * wall - run - wait).max(0.0),
            now.sleeps.saturating_sub(self.sleeps)
        )
    }
}

/// Measures consecutive laps when timing is on (costs nothing otherwise).
struct Stopwatch(Option<std::time::Instant>);

impl Stopwatch {
    fn new(on: bool) -> Stopwatch {
        Stopwatch(on.then(std::time::Instant::now))
    }
    /// Adds the time since the last lap to `slot`.
    fn lap(&mut self, slot: &mut std::time::Duration) {
        if let Some(c) = self.0.as_mut() {
            let now = std::time::Instant::now();
            *slot += now - *c;
            *c = now;
        }
    }
}

/// Stage timings printed on stderr when `LIQUIDATOR_TIMING` is set. Stages of consecutive windows
/// overlap, so their sum exceeds the wall time; `wall` is the whole of [`process_in`].
struct Timer {
    on: bool,
    t: [std::time::Duration; 4],
    /// Each sink's own time in the sinks' stage, in the sinks' order (the sinks of a window run side
    /// by side: these overlap).
    sinks: Vec<std::time::Duration>,
    clock: std::time::Instant,
    /// The most the three window buffers and the two sets of outcomes held together after a step,
    /// by part (parsed, outcomes, lists), in bytes; and the events list.
    windows_peak: [usize; 3],
    events_peak: usize,
    /// The duplicate set's merges (`ClaimsSeen::settle`), after each window's bookkeeping.
    merges: std::time::Duration,
    /// The serial bookkeeping's and merges' time after the other windows' shards and sinks of the
    /// same step were done, summed over the windows: time when it ran alone, on one core, the
    /// critical path (issue #13).
    book_alone: std::time::Duration,
    /// The workers' scheduler counts at the start (timing on only).
    sched: Option<WorkersSched>,
}

impl Timer {
    /// Adds the part of the serial intervals `serial` that came after `others_done`.
    fn alone(
        &mut self,
        serial: &[(std::time::Instant, std::time::Instant)],
        others_done: Option<std::time::Instant>,
    ) {
        if let Some(e) = others_done {
            for &(a, b) in serial {
                self.book_alone += b.saturating_duration_since(a.max(e));
            }
        }
    }
    fn new() -> Timer {
        Timer {
            on: timing_on(),
            t: [std::time::Duration::ZERO; 4],
            sinks: Vec::new(),
            clock: std::time::Instant::now(),
            windows_peak: [0; 3],
            events_peak: 0,
            merges: std::time::Duration::ZERO,
            book_alone: std::time::Duration::ZERO,
            sched: timing_on().then(WorkersSched::now),
        }
    }
    /// Notes what the window buffers hold (only when timing is on: it walks every outcome).
    fn windows(&mut self, bufs: &[WindowBuf; 3], outs: &[Vec<ShardOut>; 2], events: usize) {
        if !self.on {
            return;
        }
        let mut now = [0usize; 3];
        for b in bufs {
            for (n, x) in now.iter_mut().zip(b.bytes()) {
                *n += x;
            }
        }
        now[1] += outs.iter().map(outs_bytes).sum::<usize>();
        if now.iter().sum::<usize>() > self.windows_peak.iter().sum::<usize>() {
            self.windows_peak = now;
        }
        self.events_peak = self.events_peak.max(events);
    }
    /// The memory line of the windows in flight and the sinks' buffers (issue #13).
    fn report_memory(&self, sinks: &[&mut dyn Sink]) {
        let mib = |b: usize| format!("{:.1}", b as f64 / (1 << 20) as f64);
        let w = &self.windows_peak;
        let held: Vec<String> = sinks.iter().map(|s| mib(s.held_bytes())).collect();
        eprintln!(
            "memory: windows in flight 3 (2 of them liquidated), peak {} MiB together (parsed {}, outcomes {}, lists {}), events list {} MiB; sinks' buffers at most (MiB) {}",
            mib(w.iter().sum()),
            mib(w[0]),
            mib(w[1]),
            mib(w[2]),
            mib(self.events_peak),
            held.join(" ")
        );
    }
    fn add_sinks(&mut self, each: &[std::time::Duration]) {
        if self.sinks.len() < each.len() {
            self.sinks.resize(each.len(), std::time::Duration::ZERO);
        }
        for (a, b) in self.sinks.iter_mut().zip(each) {
            *a += *b;
        }
    }
    fn report(&self) {
        if self.on {
            let t = &self.t;
            eprintln!(
                "timing: parse {:?}, bookkeeping {:?}, shards {:?}, sinks {:?} (overlapped), wall {:?}",
                t[0],
                t[1],
                t[2],
                t[3],
                self.clock.elapsed()
            );
            // In the order of `stage_run`'s list: TSV, debts, payment orders, summary, extras.
            let each: Vec<String> = self
                .sinks
                .iter()
                .map(|d| format!("{:.3}", d.as_secs_f64()))
                .collect();
            eprintln!(
                "timing: sinks' windows, each, side by side (s) {}",
                each.join(" ")
            );
            eprintln!(
                "timing: bookkeeping alone (serial, after the shards and sinks beside it were done) {:.3} s of {:.3} s and the duplicate merges' {:.3} s",
                self.book_alone.as_secs_f64(),
                t[1].as_secs_f64(),
                self.merges.as_secs_f64()
            );
        }
    }
}

/// The rejection of a claim that never reached the rules: unreadable record, duplicate transmission,
/// or unreadable header.
pub(crate) fn read_rejection(c: &reader::ParsedClaim, dup: Dup) -> Rejection {
    let prac = c.header.map(|h| h.practitioner);
    let rejection = |code: Reject, e: Option<ClaimError>, detail: String| Rejection {
        code,
        line_no: e.and_then(|e| e.line_no),
        pos: e.map(|e| e.pos).unwrap_or(c.pos),
        detail,
    };
    if let Some(e) = c.error {
        let detail = if e.column > 0 {
            format!("line {} column {}: {}", e.pos.line, e.column, e.field)
        } else {
            format!("line {}: {}", e.pos.line, e.field)
        };
        rejection(e.code, Some(e), detail)
    } else if dup == Dup::InBatch {
        let detail = format!(
            "claim {:09} of practitioner {:09} already read",
            c.claim_no,
            prac.unwrap_or(0)
        );
        rejection(Reject::Duplicate, None, detail)
    } else if let Dup::Earlier(e) = dup {
        let (code, what) = if e.paid {
            (Reject::ClaimPaidEarlier, "paid")
        } else {
            (Reject::ClaimReadEarlier, "read and rejected")
        };
        let detail = format!(
            "claim {:09} of practitioner {:09} already {what} by batch {} of sender {:09}",
            c.claim_no,
            prac.unwrap_or(0),
            e.batch.batch_no,
            e.batch.sender
        );
        rejection(code, None, detail)
    } else {
        rejection(Reject::Syntax, None, "claim header unreadable".into())
    }
}

/// Memory-maps a claims file (an empty file is read as empty, which the batch check refuses).
pub fn map_file(path: &Path) -> Result<Input, RunError> {
    let f =
        std::fs::File::open(path).map_err(|e| RunError::Io(format!("{}: {e}", path.display())))?;
    let len = f
        .metadata()
        .map_err(|e| RunError::Io(format!("{}: {e}", path.display())))?
        .len();
    if len == 0 {
        return Ok(Input::Empty);
    }
    // SAFETY: the file is opened read-only; the engine's contract is that input files are not modified
    // while a run reads them (a batch file is immutable once received).
    #[allow(unsafe_code)]
    // justified above: the only way to map a file; read-only, not modified while mapped.
    let m = unsafe { memmap2::Mmap::map(&f) }
        .map_err(|e| RunError::Io(format!("{}: {e}", path.display())))?;
    #[cfg(unix)]
    let _ = m.advise(memmap2::Advice::Sequential);
    Ok(Input::Mapped(m))
}

pub enum Input {
    Empty,
    Mapped(memmap2::Mmap),
}

impl std::ops::Deref for Input {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Input::Empty => &[],
            Input::Mapped(m) => m,
        }
    }
}

/// `liquidator run`: liquidates `claims` into the directory `out`, atomically.
pub fn run(
    claims: &Path,
    refs: &Refs,
    out: &Path,
    force: bool,
    opts: &Options,
) -> Result<Summary, RunError> {
    run_with(claims, refs, out, force, opts, |_| Ok(Vec::new()))
}

/// [`run`] with more sinks, made by `extra` once the staging directory exists (their files go there
/// and are committed with the others, or not at all).
pub fn run_with<'s>(
    claims: &Path,
    refs: &Refs,
    out: &Path,
    force: bool,
    opts: &Options,
    extra: impl FnOnce(&Path) -> Result<Vec<Box<dyn Sink + 's>>, SinkError>,
) -> Result<Summary, RunError> {
    let data = map_file(claims)?;
    let staged = stage_run(&data, refs, out, force, opts, extra)?;
    let t = std::time::Instant::now();
    staged.stage.commit()?;
    if timing_on() {
        eprintln!(
            "timing: outputs made durable (fsync) and renamed {:?}",
            t.elapsed()
        );
    }
    Ok(staged.summary)
}

/// A run whose outputs are complete in their staging directory but not yet renamed into place: a
/// ledger commits the night between the two (formats/ledger.md, "All or nothing").
pub struct Staged {
    pub summary: Summary,
    /// The batch framing as read.
    pub info: BatchInfo,
    pub stage: atomic::Staging,
    /// Every beneficiary's running state at the end of the night (with `opts.carry` only: what a
    /// ledger commits, read in key order through [`States::sorted`]; empty otherwise).
    pub states: States,
}

/// [`run_with`] on a claims file already in memory, stopping before the rename.
pub fn stage_run<'s>(
    data: &[u8],
    refs: &Refs,
    out: &Path,
    force: bool,
    opts: &Options,
    extra: impl FnOnce(&Path) -> Result<Vec<Box<dyn Sink + 's>>, SinkError>,
) -> Result<Staged, RunError> {
    let stage = atomic::Staging::create(out, force)?;
    let mut tsv = TsvSink::create(&stage.dir)?;
    let mut debts = crate::output::debts::DebtSink::create(&stage.dir)?;
    // The scratch files: in the staging directory unless the operator chose a directory of their own.
    let scratch = opts.scratch_dir.unwrap_or(&stage.dir);
    let mut orders = crate::output::sepa::PaymentOrderSink::new(&stage.dir, scratch, refs);
    let mut totals = SummarySink::default();
    let mut more = extra(&stage.dir)?;
    // A sink that counts the control totals in its own pass (the report's aggregates) stands in for
    // the SummarySink: the paid lines are walked once for both (issue #13).
    let counter = more.iter().position(|s| s.counts_summary());
    // The states' slots and spill arenas in a scratch file (of the staging directory by default):
    // file-backed pages, not anonymous memory (issue #13); unlinked at once, gone with the states.
    let mut states = States::in_dir(scratch);
    let info = {
        let mut sinks: Vec<&mut dyn Sink> = vec![&mut tsv, &mut debts, &mut orders];
        if counter.is_none() {
            sinks.push(&mut totals);
        }
        sinks.extend(more.iter_mut().map(|b| &mut **b as &mut dyn Sink));
        process_in(data, refs, opts, &mut sinks, &mut states)?
    };
    let counted = match counter.and_then(|i| more.get_mut(i)) {
        Some(s) => Some(s.take_summary().ok_or_else(|| {
            SinkError::Other("a sink counting the control totals gave none".to_string())
        })?),
        None => None,
    };
    let t = std::time::Instant::now();
    drop(more);
    tail_step("extra sinks dropped", t);
    let t = std::time::Instant::now();
    let mut summary = match counted {
        Some(s) => s.with_batch(&info),
        None => totals.into_summary(&info),
    };
    summary.set_payment_orders(&orders.totals());
    summary.amc_files = tsv.close()?;
    tail_step("TSV writer joined", t);
    let t = std::time::Instant::now();
    summary.check();
    atomic::write_json(&stage.dir.join(crate::output::SUMMARY), &summary)?;
    tail_step("summary written", t);
    Ok(Staged {
        summary,
        info,
        stage,
        states: if opts.carry.is_some() {
            states
        } else {
            let t = std::time::Instant::now();
            states.free();
            if timing_on() {
                eprintln!("timing: states freed {:?}", t.elapsed());
            }
            States::new()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::{parse_window, parse_window_read, three};
    use crate::claims::reader::{Chunk, next_claim_start};

    /// `parse_window_read` parses as `parse_window` does and hands `read` the window's bytes
    /// exactly once, in file order, as contiguous pieces — whichever worker parsed each sub-chunk
    /// and however many workers there are (1, 2 and 5; windows cut at claims, the whole file, one
    /// claim, and a window of no bytes). The ledger's file checksum is built from those pieces
    /// (`Carry::window_read`): a piece read twice, skipped or out of order would record another
    /// checksum for the batch.
    #[test]
    fn parse_window_read_reads_every_byte_of_the_window_once_in_order_and_parses_as_parse_window() {
        let data: &[u8] = include_bytes!("../../../fixtures/sample/claims.b2");
        let second = next_claim_start(data, 1);
        let third = next_claim_start(data, second + 1);
        let middle = next_claim_start(data, data.len() / 2);
        let windows = [
            (0, data.len()),
            (0, middle),
            (middle, data.len()),
            (second, third),
            (second, second),
        ];
        let summary = |pool: &[Chunk]| -> Vec<(usize, u64, u64, u64, Vec<(u64, u64)>)> {
            pool.iter()
                .map(|c| {
                    let lines = c
                        .claims
                        .iter()
                        .map(|k| (k.pos.line, k.pos.offset))
                        .collect();
                    (
                        c.claims.len(),
                        c.records,
                        c.header_records,
                        c.act_records,
                        lines,
                    )
                })
                .collect()
        };
        for threads in [1, 2, 5] {
            let rayon = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            for (start, end) in windows {
                let (mut line_a, mut pool_a) = (7u64, Vec::new());
                let n_a = parse_window(data, start, end, &mut line_a, &mut pool_a);
                let pieces = std::sync::Mutex::new(Vec::new());
                let (mut line_b, mut pool_b) = (7u64, Vec::new());
                let n_b = rayon.install(|| {
                    parse_window_read(data, start, end, &mut line_b, &mut pool_b, &|at, b| {
                        pieces.lock().unwrap().push((at, b.len()))
                    })
                });
                assert_eq!(
                    (n_b, line_b),
                    (n_a, line_a),
                    "{threads} threads, {start}..{end}"
                );
                assert_eq!(summary(&pool_b[..n_b]), summary(&pool_a[..n_a]));
                let pieces = pieces.into_inner().unwrap();
                let mut at = start;
                for &(p, len) in &pieces {
                    assert_eq!(p, at, "{threads} threads, {start}..{end}: {pieces:?}");
                    at += len;
                }
                assert_eq!(at, end, "{threads} threads, {start}..{end}: {pieces:?}");
                if end - start > 64 << 10 {
                    assert!(pieces.len() > 1, "read as several pieces: {pieces:?}");
                }
            }
        }
    }

    /// Each stage gets the buffer at its index, in its own place, and a stage without a window
    /// gets none — the three windows in flight of `process_in`, at every phase of `w % 3`, and the
    /// first and last steps (the pipeline filling and draining).
    #[test]
    fn three_hands_each_stage_the_buffer_at_its_index() {
        for next in 2..8usize {
            let mut v = [0, 1, 2];
            let [e, s, b] = three(
                &mut v,
                [Some((next - 2) % 3), Some((next - 1) % 3), Some(next % 3)],
            );
            assert_eq!(
                (e.copied(), s.copied(), b.copied()),
                (Some((next - 2) % 3), Some((next - 1) % 3), Some(next % 3))
            );
        }
        let mut v = [10, 11, 12];
        let [e, s, b] = three(&mut v, [None, None, Some(0)]);
        assert_eq!((e, s, b.copied()), (None, None, Some(10)));
        let [e, s, b] = three(&mut v, [Some(2), None, None]);
        assert_eq!((e.copied(), s, b), (Some(12), None, None));
        let [e, s, b] = three(&mut v, [None, None, None]);
        assert!(e.is_none() && s.is_none() && b.is_none());
        // The buffers handed out are the array's own: a stage's writes land in it.
        if let [_, Some(s), _] = three(&mut v, [None, Some(1), None]) {
            *s = 99;
        }
        assert_eq!(v, [10, 99, 12]);
    }

    /// Two stages given the same buffer would leave one of them without it (a window skipped):
    /// the run stops rather than lose the window quietly.
    #[test]
    #[should_panic(expected = "a window would be lost")]
    fn three_refuses_two_stages_on_one_buffer() {
        let mut v = [0, 1, 2];
        let _ = three(&mut v, [Some(1), None, Some(1)]);
    }

    /// An index beyond the three buffers would give its stage nothing: refused as well.
    #[test]
    #[should_panic(expected = "a window would be lost")]
    fn three_refuses_an_index_beyond_the_buffers() {
        let mut v = [0, 1, 2];
        let _ = three(&mut v, [Some(0), Some(3), None]);
    }
}
