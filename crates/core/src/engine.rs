//! The pipeline: memory-mapped input → parallel parse → beneficiary shards → ordered writers.
//!
//! The file is processed in **windows** of a fixed size (cut at claim headers), so memory is bounded by
//! the window, not by the file. In each window:
//! 1. the window is cut into a fixed number of sub-chunks at claim boundaries, records are counted in
//!    parallel to number lines, and each sub-chunk is parsed in parallel ([`crate::claims::reader`]);
//! 2. duplicate claim numbers per practitioner are marked, in file order;
//! 3. claims are distributed to [`SHARDS`] shards by a hash of the beneficiary, each shard keeping the
//!    running state of its beneficiaries across windows; shards run in parallel, each in file order;
//! 4. outcomes are formatted in parallel into buffers, in file order, and sent through a
//!    `crossbeam-channel` to the writer thread while the next window is processed.
//!
//! Architecture invariant: nothing in this pipeline depends on the number of threads — window size,
//! sub-chunk count and shard count are constants — so the output is byte-identical for any `--threads`.

use crate::claims::reader::{self, Chunk, ClaimError};
use crate::claims::record::{self, BatchHeader, BatchTrailer};
use crate::codes::{BatchFail, Reject};
use crate::output::{self, OutBufs, Summary, sink};
use crate::refs::{Refs, benef_key};
use crate::rules::{self, BenefState, ClaimInput, Ctx, Outcome, Rejection, Step, Trace};
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
    Stage(#[from] sink::StageError),
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

/// The formatted output of one shard for one window, with the byte ranges of each of its claims.
#[derive(Default)]
struct ShardOut {
    out: OutBufs,
    /// Per claim (in shard order): buffer lengths before and after formatting it.
    entries: Vec<(Mark, Mark)>,
}

#[derive(Clone, Copy, Default)]
struct Mark {
    pay: u32,
    rej: u32,
    amc: u32,
}

impl ShardOut {
    fn clear(&mut self) {
        self.out.payments.clear();
        self.out.rejections.clear();
        self.out.amc_rows.clear();
        self.out.amc_bytes.clear();
        self.out.summary = Summary::default();
        self.entries.clear();
    }

    fn mark(&self) -> Mark {
        Mark {
            pay: self.out.payments.len() as u32,
            rej: self.out.rejections.len() as u32,
            amc: self.out.amc_rows.len() as u32,
        }
    }

    /// Appends the output of entry `e` to `ob` (the window's buffers, in file order).
    fn copy_entry(&self, e: usize, ob: &mut OutBufs) {
        let (a, b) = self.entries[e];
        ob.payments
            .extend_from_slice(&self.out.payments[a.pay as usize..b.pay as usize]);
        ob.rejections
            .extend_from_slice(&self.out.rejections[a.rej as usize..b.rej as usize]);
        for row in &self.out.amc_rows[a.amc as usize..b.amc as usize] {
            let bytes = &self.out.amc_bytes[row.1 as usize..row.2 as usize];
            ob.push_amc_row(row.0, bytes);
        }
    }
}

/// A traced claim: its outcome and the steps of its liquidation.
#[derive(Clone, Debug)]
pub struct Traced {
    pub claim_no: u32,
    pub practitioner: u32,
    pub line: u64,
    pub outcome: Outcome,
    pub steps: Vec<Step>,
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

/// Liquidates a whole claims file held in memory, calling `emit` with formatted buffers in file order.
/// Returns the batch framing (to be checked by [`check_batch`]) and the traced claims, if asked.
pub fn process(
    data: &[u8],
    refs: &Refs,
    opts: &Options,
    mut emit: impl FnMut(OutBufs),
) -> Result<(BatchInfo, Vec<Traced>), RunError> {
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
    let traced: Mutex<Vec<Traced>> = Mutex::new(Vec::new());
    let mut line = 2u64;
    let mut after_trailer = None;
    let mut claims_done = 0u64;
    let mut chunk_pool: Vec<Chunk> = Vec::new();
    let mut shard_pool: Vec<ShardOut> = (0..SHARDS).map(|_| ShardOut::default()).collect();
    // Phase timings for profiling (`LIQUIDATOR_TIMING=1`): parse, sequential bookkeeping, shards, gather.
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
        // 3. shards: liquidate and format each claim where its beneficiary's state lives.
        let mut lists: Vec<Vec<u32>> = vec![Vec::new(); SHARDS];
        // Where each claim's formatted output is: (shard, entry) — or SHARDS for claims rejected at read.
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
                so.clear();
                for &k in list {
                    let (ci, cj) = items[k as usize];
                    let ch = &chunks[ci as usize];
                    let c = &ch.claims[cj as usize];
                    let start = so.mark();
                    let Some(h) = c.header.as_ref() else {
                        so.entries.push((start, so.mark()));
                        continue;
                    };
                    let (a, b) = (c.lines.start as usize, c.lines.end as usize);
                    let (lines, pos) = (&ch.lines[a..b], &ch.line_pos[a..b]);
                    let input = ClaimInput {
                        header: h,
                        lines,
                        line_pos: pos,
                        pos: c.pos,
                    };
                    let key = benef_key(&h.nir, h.rank).unwrap_or(0);
                    let bs = st.entry(key).or_default();
                    let o = if opts.trace_claim == Some(h.claim_no) {
                        let mut steps = Vec::new();
                        let o = rules::liquidate_in(
                            &ctx,
                            &input,
                            bs,
                            &mut scratch,
                            &mut Trace(Some(&mut steps)),
                        );
                        if let Ok(mut t) = traced.lock() {
                            t.push(Traced {
                                claim_no: h.claim_no,
                                practitioner: h.practitioner,
                                line: c.pos.line,
                                outcome: o.clone(),
                                steps,
                            });
                        }
                        o
                    } else {
                        rules::liquidate_in(&ctx, &input, bs, &mut scratch, &mut Trace(None))
                    };
                    match &o {
                        Outcome::Paid(p) => output::paid(&mut so.out, c, h, lines, pos, p),
                        Outcome::Rejected(r) => {
                            output::rejected(&mut so.out, c, Some(h.practitioner), r)
                        }
                    }
                    so.entries.push((start, so.mark()));
                }
            });
        let shard_outs = &shard_pool;
        lap(2, &mut clock);
        // 4. gather in file order (claims rejected at read are formatted here).
        let mut ob = OutBufs::default();
        ob.payments.reserve(
            shard_outs
                .iter()
                .map(|s| s.out.payments.len())
                .sum::<usize>(),
        );
        ob.amc_bytes.reserve(
            shard_outs
                .iter()
                .map(|s| s.out.amc_bytes.len())
                .sum::<usize>(),
        );
        ob.amc_rows.reserve(
            shard_outs
                .iter()
                .map(|s| s.out.amc_rows.len())
                .sum::<usize>(),
        );
        for (k, &(ci, cj)) in items.iter().enumerate() {
            let (sh, e) = loc[k];
            if (sh as usize) < SHARDS {
                shard_outs[sh as usize].copy_entry(e as usize, &mut ob);
                continue;
            }
            let c = &chunks[ci as usize].claims[cj as usize];
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
                output::rejected(&mut ob, c, prac, &rejection(e.code, Some(e), detail));
            } else if dup[k] {
                let detail = format!(
                    "claim {:09} of practitioner {:09} already read",
                    c.claim_no,
                    prac.unwrap_or(0)
                );
                output::rejected(
                    &mut ob,
                    c,
                    prac,
                    &rejection(Reject::Duplicate, None, detail),
                );
            } else {
                output::rejected(
                    &mut ob,
                    c,
                    prac,
                    &rejection(Reject::Syntax, None, "claim header unreadable".into()),
                );
            }
            if ob.payments.len() > 1 << 22 {
                emit(std::mem::take(&mut ob));
            }
        }
        for so in shard_outs {
            ob.summary.merge(&so.out.summary);
        }
        emit(ob);
        claims_done += items.len() as u64;
        lap(3, &mut clock);
        let mut ob = OutBufs::default();
        for ch in chunks {
            for o in &ch.orphans {
                output::orphan(&mut ob, o);
            }
        }
        if ob.summary.orphan_records > 0 {
            emit(ob);
        }
        if let Some(p) = opts.progress {
            p(end as u64, claims_done);
        }
        start = end;
    }
    drop(lap);
    if timing {
        eprintln!(
            "timing: parse {:?}, bookkeeping {:?}, shards {:?}, gather+emit {:?}",
            t[0], t[1], t[2], t[3]
        );
    }
    check_batch(&info, after_trailer)?;
    Ok((info, traced.into_inner().unwrap_or_default()))
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
    let data = map_file(claims)?;
    let stage = sink::Staging::create(out, force)?;
    let io = |e: std::io::Error| RunError::Io(format!("{}: {e}", stage.dir.display()));
    let mut writer = sink::Writer::new(&stage.dir).map_err(io)?;
    let (tx, rx) = crossbeam_channel::bounded::<OutBufs>(8);
    let (info, summary) = std::thread::scope(|s| {
        let w = s.spawn(move || -> std::io::Result<Summary> {
            for b in rx {
                writer.write(&b)?;
            }
            writer.finish()
        });
        let r = process(&data, refs, opts, |b| {
            let _ = tx.send(b);
        });
        drop(tx);
        let summary = w
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("writer thread panicked")));
        (r, summary)
    });
    let (info, _) = info?;
    let mut summary = summary.map_err(io)?;
    if let Some(h) = info.header {
        summary.batch_number = h.batch_no;
        summary.batch_date = h.date.to_string();
    }
    summary.check();
    let json = serde_json::to_vec_pretty(&summary).map_err(|e| RunError::Io(e.to_string()))?;
    let mut f = sink::create_private(&stage.dir.join(output::SUMMARY)).map_err(io)?;
    std::io::Write::write_all(&mut f, &json).map_err(io)?;
    std::io::Write::write_all(&mut f, b"\n").map_err(io)?;
    stage.commit()?;
    Ok(summary)
}
