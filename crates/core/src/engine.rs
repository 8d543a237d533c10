//! The pipeline: memory-mapped input → parallel parse → beneficiary shards → ordered writers.
//!
//! The file is processed in **windows** of a fixed size (cut at claim headers), so memory is bounded by
//! the window, not by the file. In each window:
//! 1. the window is cut into a fixed number of sub-chunks at claim boundaries, records are counted in
//!    parallel to number lines, and each sub-chunk is parsed in parallel ([`crate::claims::reader`]);
//! 2. duplicate claim numbers per practitioner are marked, in file order;
//! 3. claims are distributed to [`SHARDS`] shards by a hash of the beneficiary, each shard keeping the
//!    running state of its beneficiaries across windows; shards run in parallel, each in file order;
//! 4. the window's typed outcomes are gathered in file order — claims and records outside claims
//!    interleaved by position — and handed to the [`Sink`]s ([`crate::sink`]); the TSV sink formats
//!    them in parallel and sends the bytes through a `crossbeam-channel` to its writer thread while the
//!    next window is processed.
//!
//! Architecture invariant: nothing in this pipeline depends on the number of threads — window size,
//! sub-chunk count and shard count are constants — so the output is byte-identical for any `--threads`.
//! Architecture invariant: sinks see events in file order; the window size changes only how events are
//! grouped into calls, never their order.

use crate::claims::reader::{self, Chunk, ClaimError};
use crate::claims::record::{self, BatchHeader, BatchTrailer};
use crate::codes::{BatchFail, Reject};
use crate::output::files::{self as atomic, TsvSink};
use crate::output::summary::{Summary, SummarySink};
use crate::refs::{Refs, benef_key};
use crate::rules::{self, BenefState, ClaimInput, Ctx, Outcome, Rejection, Step, Trace};
use crate::sink::{ClaimEvent, Event, Sink, SinkError};
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Mutex;

/// Number of beneficiary shards (a constant: the result must not depend on the thread count).
pub const SHARDS: usize = 256;
/// Sub-chunks a window is cut into for parsing.
const SUBCHUNKS: usize = 32;
/// Default window size in bytes.
pub const WINDOW: usize = 32 << 20;

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
}

pub struct Options<'a> {
    pub window: usize,
    /// Liquidate with a trace for this claim number (for `explain`).
    pub trace_claim: Option<u32>,
    pub progress: Option<&'a (dyn Fn(u64, u64) + Sync)>,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            window: WINDOW,
            trace_claim: None,
            progress: None,
        }
    }
}

/// The typed outcomes of one shard for one window, in the shard's (file) order.
#[derive(Default)]
struct ShardOut {
    outcomes: Vec<(Outcome, Option<Vec<Step>>)>,
}

fn shard_of(key: u64) -> usize {
    let mut h = rustc_hash::FxHasher::default();
    key.hash(&mut h);
    (h.finish() >> 32) as usize % SHARDS
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
    let (header, mut start) = batch_header(data)?;
    let ctx = Ctx {
        refs,
        batch_date: header.date,
    };
    let mut info = BatchInfo {
        header: Some(header),
        records: 1,
        ..Default::default()
    };
    let states: Vec<Mutex<FxHashMap<u64, BenefState>>> = (0..SHARDS)
        .map(|_| Mutex::new(FxHashMap::default()))
        .collect();
    let mut seen: FxHashSet<u64> = FxHashSet::default();
    let mut line = 2u64;
    let mut after_trailer = None;
    let mut claims_done = 0u64;
    let mut chunk_pool: Vec<Chunk> = Vec::new();
    let mut shard_pool: Vec<ShardOut> = (0..SHARDS).map(|_| ShardOut::default()).collect();
    // Phase timings for profiling (`LIQUIDATOR_TIMING=1`): parse, sequential bookkeeping, shards, sinks.
    let timing = std::env::var_os("LIQUIDATOR_TIMING").is_some();
    let mut t = [std::time::Duration::ZERO; 5];
    let mut clock = std::time::Instant::now();
    let mut lap = |i: usize, clock: &mut std::time::Instant| {
        if timing {
            t[i] += clock.elapsed();
            *clock = std::time::Instant::now();
        }
    };
    while start < data.len() {
        let end = reader::next_claim_start(data, start + opts.window.max(1))
            .max(start + 1)
            .min(data.len());
        // 1. cut, number, parse.
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
        let counts: Vec<u64> = ranges
            .par_iter()
            .map(|&(a, b)| reader::count_records(&data[a..b]))
            .collect();
        let mut bases = Vec::with_capacity(ranges.len());
        for c in &counts {
            bases.push(line);
            line += c;
        }
        // Buffers are reused from window to window: fresh large allocations cost page faults.
        chunk_pool.resize_with(ranges.len().max(chunk_pool.len()), Chunk::default);
        let chunks = &mut chunk_pool[..ranges.len()];
        chunks
            .par_iter_mut()
            .zip(ranges.par_iter())
            .zip(bases.par_iter())
            .for_each(|((ch, &(a, b)), &base)| {
                ch.parse(data, a, b, base);
            });
        let chunks = &*chunks;
        lap(0, &mut clock);
        // 2. framing counts and duplicates, in file order.
        let mut items: Vec<(u32, u32)> = Vec::new();
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
            if after_trailer.is_none() {
                after_trailer = ch.after_trailer;
            }
            items.extend((0..ch.claims.len() as u32).map(|k| (ci as u32, k)));
        }
        let mut dup = vec![false; items.len()];
        for (k, &(ci, cj)) in items.iter().enumerate() {
            if let Some(h) = chunks[ci as usize].claims[cj as usize].header {
                dup[k] = !seen.insert(h.practitioner as u64 * 1_000_000_000 + h.claim_no as u64);
            }
        }
        // 3. shards: liquidate each claim where its beneficiary's state lives.
        let mut lists: Vec<Vec<u32>> = vec![Vec::new(); SHARDS];
        // Where each claim's outcome is: (shard, index) — or (SHARDS, index) for claims rejected at read.
        let mut loc: Vec<(u16, u32)> = vec![(SHARDS as u16, 0); items.len()];
        for (k, &(ci, cj)) in items.iter().enumerate() {
            let c = &chunks[ci as usize].claims[cj as usize];
            if let (Some(h), None, false) = (c.header, c.error, dup[k]) {
                let key = benef_key(&h.nir, h.rank).unwrap_or(0);
                let sh = shard_of(key);
                loc[k] = (sh as u16, lists[sh].len() as u32);
                lists[sh].push(k as u32);
            }
        }
        lap(1, &mut clock);
        shard_pool
            .par_iter_mut()
            .zip(lists.par_iter())
            .zip(states.par_iter())
            .for_each(|((so, list), st)| {
                let mut st = st.lock().unwrap_or_else(|e| e.into_inner());
                let mut scratch = BenefState::default();
                so.outcomes.clear();
                for &k in list {
                    let (ci, cj) = items[k as usize];
                    let ch = &chunks[ci as usize];
                    let c = &ch.claims[cj as usize];
                    // Only claims with a header are listed (see `loc` above).
                    let Some(h) = c.header.as_ref() else {
                        continue;
                    };
                    let (a, b) = (c.lines.start as usize, c.lines.end as usize);
                    let input = ClaimInput {
                        header: h,
                        lines: &ch.lines[a..b],
                        line_pos: &ch.line_pos[a..b],
                        pos: c.pos,
                    };
                    let key = benef_key(&h.nir, h.rank).unwrap_or(0);
                    let bs = st.entry(key).or_default();
                    if opts.trace_claim == Some(h.claim_no) {
                        let mut steps = Vec::new();
                        let o = rules::liquidate_in(
                            &ctx,
                            &input,
                            bs,
                            &mut scratch,
                            &mut Trace(Some(&mut steps)),
                        );
                        so.outcomes.push((o, Some(steps)));
                    } else {
                        let o =
                            rules::liquidate_in(&ctx, &input, bs, &mut scratch, &mut Trace(None));
                        so.outcomes.push((o, None));
                    }
                }
            });
        let shard_outs = &shard_pool;
        lap(2, &mut clock);
        // 4. claims rejected at read (unreadable, duplicate): their outcome is decided here.
        let mut read_rejected: Vec<Outcome> = Vec::new();
        for (k, &(ci, cj)) in items.iter().enumerate() {
            if (loc[k].0 as usize) < SHARDS {
                continue;
            }
            let c = &chunks[ci as usize].claims[cj as usize];
            loc[k].1 = read_rejected.len() as u32;
            read_rejected.push(Outcome::Rejected(read_rejection(c, dup[k])));
        }
        // 5. events in file order: each chunk's claims and orphans merged by position.
        let mut events: Vec<Event> =
            Vec::with_capacity(items.len() + chunks.iter().map(|c| c.orphans.len()).sum::<usize>());
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
        for s in sinks.iter_mut() {
            s.window(&events)?;
        }
        claims_done += items.len() as u64;
        lap(3, &mut clock);
        if let Some(p) = opts.progress {
            p(end as u64, claims_done);
        }
        start = end;
    }
    drop(lap);
    if timing {
        eprintln!(
            "timing: parse {:?}, bookkeeping {:?}, shards {:?}, sinks {:?}",
            t[0], t[1], t[2], t[3]
        );
    }
    check_batch(&info, after_trailer)?;
    for s in sinks.iter_mut() {
        s.finish(&info)?;
    }
    Ok(info)
}

/// The rejection of a claim that never reached the rules: unreadable record, duplicate transmission,
/// or unreadable header.
fn read_rejection(c: &reader::ParsedClaim, dup: bool) -> Rejection {
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
    } else if dup {
        let detail = format!(
            "claim {:09} of practitioner {:09} already read",
            c.claim_no,
            prac.unwrap_or(0)
        );
        rejection(Reject::Duplicate, None, detail)
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
    let stage = atomic::Staging::create(out, force)?;
    let mut tsv = TsvSink::create(&stage.dir)?;
    let mut totals = SummarySink::default();
    let mut more = extra(&stage.dir)?;
    let info = {
        let mut sinks: Vec<&mut dyn Sink> = vec![&mut tsv, &mut totals];
        sinks.extend(more.iter_mut().map(|b| &mut **b as &mut dyn Sink));
        process(&data, refs, opts, &mut sinks)?
    };
    drop(more);
    let mut summary = totals.into_summary(&info);
    summary.amc_files = tsv.amc_files();
    summary.check();
    atomic::write_json(&stage.dir.join(crate::output::SUMMARY), &summary)?;
    stage.commit()?;
    Ok(summary)
}
