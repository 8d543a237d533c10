//! The report's aggregates, computed **during `run`** from the typed outcomes ([`AggregatesSink`]) and
//! written as `OUT/report_data.json` ([`REPORT_DATA`]) beside `summary.json`; `liquidator report` reads
//! them back ([`read_data`]) instead of re-parsing the TSV files.
//!
//! Memory is bounded by the number of distinct letters, regroupements, CCAM codes, insurers and
//! rejection codes, not by rows. A window's [`liquidator_core::sink::segments`] are aggregated in
//! parallel, each into the accumulator of the pool thread that takes it — one per thread, kept from
//! window to window and merged once, at the end (sums are exact integers, so the result does not
//! depend on the grain nor on which thread added what; the first split error is the first in file
//! order by its segment's place in the run).
//!
//! The JSON layout is a contract between `run` and `report` of the same version (`layout`): amounts
//! are integer cents, maps are sorted by key (deterministic bytes).

use super::ReportError;
use liquidator_core::claims::{Act, ClaimHeader};
use liquidator_core::codes::Reject;
use liquidator_core::engine::BatchInfo;
use liquidator_core::output::summary::{Summary, SummaryPart};
use liquidator_core::rules::{LineResult, Outcome, Paid, PayeeKind};
use liquidator_core::sink::{Event, Sink, SinkError, segments};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// File name in the output directory.
pub const REPORT_DATA: &str = "report_data.json";
/// Layout of [`ReportData`], checked by the reader.
pub const LAYOUT: &str = "report_data/1";

/// Counts and amounts (cents) of a group of paid lines.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agg {
    pub lines: u64,
    pub billed: i64,
    pub base: i64,
    pub amo_paid: i64,
    pub amc: i64,
}

impl Agg {
    fn add_line(&mut self, r: &LineResult) {
        self.lines += 1;
        self.billed += r.billed;
        self.base += r.base;
        self.amo_paid += r.amo_paid;
        self.amc += r.amc();
    }
    pub fn merge(&mut self, o: &Agg) {
        self.lines += o.lines;
        self.billed += o.billed;
        self.base += o.base;
        self.amo_paid += o.amo_paid;
        self.amc += o.amc;
    }
}

/// Where a line first failed to split exactly (a bug in the rules if it ever happens).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineRef {
    pub claim: u32,
    pub line: u16,
    pub input_line: u64,
}

/// Totals of the paid lines, added up independently of `summary.json` (the report compares them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaidTotals {
    pub claims: u64,
    pub lines: u64,
    pub billed: i64,
    pub base: i64,
    pub amo_gross: i64,
    pub amo_paid: i64,
    pub amc: i64,
    pub patient: i64,
    pub participation: i64,
    /// Franchises médicales deducted.
    pub franchise: i64,
    pub heavy_forfait: i64,
    pub excess: i64,
    /// Lines breaking `billed = amo_paid + amc + patient`, `base = amo_gross + ticket` or
    /// `amo_gross + debt = amo_paid + participation + franchise`, and the first of them in file order.
    pub split_errors: u64,
    pub first_split_error: Option<LineRef>,
}

impl PaidTotals {
    /// Adds `o`; the first split error kept is the caller's (`Acc::merge` picks the first in file
    /// order itself).
    fn merge(&mut self, o: &PaidTotals) {
        self.claims += o.claims;
        self.lines += o.lines;
        self.billed += o.billed;
        self.base += o.base;
        self.amo_gross += o.amo_gross;
        self.amo_paid += o.amo_paid;
        self.amc += o.amc;
        self.patient += o.patient;
        self.participation += o.participation;
        self.franchise += o.franchise;
        self.heavy_forfait += o.heavy_forfait;
        self.excess += o.excess;
        self.split_errors += o.split_errors;
        if self.first_split_error.is_none() {
            self.first_split_error = o.first_split_error;
        }
    }
}

/// One rejection reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub mnemonic: String,
    pub count: u64,
    pub billed: i64,
}

/// Rejected claims by reason, and lines rejected on their own in paid claims; records outside claims
/// (`R002`) are not claims: kept apart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejections {
    pub by_code: BTreeMap<String, Reason>,
    pub claims: u64,
    pub billed: i64,
    pub lines_by_code: BTreeMap<String, Reason>,
    pub lines: u64,
    pub lines_billed: i64,
    pub orphans: u64,
    pub orphan_billed: i64,
}

/// What the run wrote to one `amc/<AMC>.tsv` file (rows and the sum of `amc_total`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmcFile {
    pub rows: u64,
    pub amc_total: i64,
}

/// Everything the report shows besides `summary.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportData {
    pub layout: String,
    pub paid: PaidTotals,
    /// NGAP lines by letter.
    pub ngap_letters: BTreeMap<String, Agg>,
    /// CCAM lines by regroupement (`LineResult.group`: the B2 prestation code, e.g. `ADC`, `ATM`).
    pub ccam_groups: BTreeMap<String, Agg>,
    /// CCAM lines by code.
    pub ccam_acts: BTreeMap<String, Agg>,
    /// By payee kind of the AMO payment (`PS`, `ASSURE`).
    pub by_payee: BTreeMap<String, Agg>,
    /// By complementary insurer number (`""` when the claim has none).
    pub by_amc: BTreeMap<String, Agg>,
    /// By insurer file name (`C2S.tsv`), as the TSV sink writes them.
    pub amc_files: BTreeMap<String, AmcFile>,
    pub rejections: Rejections,
}

/// Reads `report_data.json` of an output directory. A directory written by an older `liquidator run`
/// has none: [`ReportError::NoData`].
pub fn read_data(dir: &Path) -> Result<ReportData, ReportError> {
    let path = dir.join(REPORT_DATA);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ReportError::NoData(dir.to_path_buf()));
        }
        Err(source) => return Err(ReportError::Io { path, source }),
    };
    let d: ReportData = serde_json::from_str(&text).map_err(|e| ReportError::Json {
        line: e.line(),
        path: path.clone(),
        msg: e.to_string(),
    })?;
    if d.layout != LAYOUT {
        return Err(ReportError::Json {
            line: 1,
            path,
            msg: format!("layout `{}`, this version reads `{LAYOUT}`", d.layout),
        });
    }
    Ok(d)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim_end().to_string()
}

/// The file name the TSV sink gives an insurer's file: trailing spaces dropped, non-alphanumerics → `_`.
pub fn amc_file_name(amc: &str) -> String {
    let s: String = amc
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{s}.tsv")
}

/// A partial aggregate over some segments of the run, keyed by the raw bytes packed into an integer
/// (one multiply to hash, one compare to find: hashing the byte arrays themselves was most of the
/// sink's instructions, issue #13); turned into [`ReportData`] once, at the end. The packings are
/// injective ([`key4`], [`key7`], [`key_amc`]), so the groups are those of the bytes.
#[derive(Default)]
struct Acc {
    paid: PaidTotals,
    /// The place in the run ([`AggregatesSink::window`]'s segment number) of the segment where
    /// `paid.first_split_error` was found: an accumulator adds segments in any order.
    first_split_at: u64,
    ngap: FxHashMap<u32, Agg>,
    groups: FxHashMap<u32, Agg>,
    acts: FxHashMap<u64, Agg>,
    payee: [Agg; 2],
    amc: FxHashMap<u128, Agg>,
    amc_files: FxHashMap<u128, AmcFile>,
    rejected: FxHashMap<Reject, (u64, i64)>,
    rejected_lines: FxHashMap<Reject, (u64, i64)>,
    orphans: u64,
    orphan_billed: i64,
    /// `summary.json`'s totals of the same events, counted in the same pass (`Sink::counts_summary`).
    totals: SummaryPart,
}

/// An NGAP letter or a CCAM regroupement as a map key.
fn key4(b: [u8; 4]) -> u32 {
    u32::from_le_bytes(b)
}

fn bytes4(k: u32) -> [u8; 4] {
    k.to_le_bytes()
}

/// A CCAM code as a map key (its 7 bytes in the low 56 bits).
fn key7(b: [u8; 7]) -> u64 {
    let mut a = [0u8; 8];
    a[..7].copy_from_slice(&b);
    u64::from_le_bytes(a)
}

fn bytes7(k: u64) -> [u8; 7] {
    let a = k.to_le_bytes();
    [a[0], a[1], a[2], a[3], a[4], a[5], a[6]]
}

/// No complementary insurer: a key no insurer number gives (those fill the low 80 bits only).
const NO_AMC: u128 = 1 << 80;

/// A complementary insurer number (or none, [`NO_AMC`]) as a map key.
fn key_amc(amc: Option<[u8; 10]>) -> u128 {
    match amc {
        Some(b) => {
            let mut a = [0u8; 16];
            a[..10].copy_from_slice(&b);
            u128::from_le_bytes(a)
        }
        None => NO_AMC,
    }
}

fn amc_of(k: u128) -> Option<[u8; 10]> {
    if k == NO_AMC {
        return None;
    }
    let a = k.to_le_bytes();
    let mut b = [0u8; 10];
    b.copy_from_slice(&a[..10]);
    Some(b)
}

/// Whether `a` and `b` add up to the same integer: in `i64` when neither sum overflows (every real
/// line: two adds and a compare each), else in `i128` — an absurd amount must give a red check, not
/// an overflow. The same answer as the `i128` sums alone, in fewer instructions a line (issue #13).
#[inline(always)]
fn same_sum(a: &[i64], b: &[i64]) -> bool {
    let narrow = |v: &[i64]| v.iter().try_fold(0i64, |s, &x| s.checked_add(x));
    match (narrow(a), narrow(b)) {
        (Some(x), Some(y)) => x == y,
        _ => {
            let wide = |v: &[i64]| v.iter().map(|&x| x as i128).sum::<i128>();
            wide(a) == wide(b)
        }
    }
}

/// Heap bytes of a map, as allocated: its capacity's slots and their control bytes (hashbrown's
/// table holds at least `capacity` slots; its growth headroom is not counted).
fn map_bytes<K, V>(m: &FxHashMap<K, V>) -> usize {
    m.capacity() * (std::mem::size_of::<(K, V)>() + 1)
}

impl Acc {
    /// Heap bytes this accumulator holds: the capacity of its maps (the rest is inline).
    fn bytes(&self) -> usize {
        map_bytes(&self.ngap)
            + map_bytes(&self.groups)
            + map_bytes(&self.acts)
            + map_bytes(&self.amc)
            + map_bytes(&self.amc_files)
            + map_bytes(&self.rejected)
            + map_bytes(&self.rejected_lines)
    }

    /// Adds the events of one segment, the `seq`-th of the run.
    fn add(&mut self, events: &[Event<'_>], seq: u64) {
        for (i, e) in events.iter().enumerate() {
            // The outcomes and paid lines of the events ahead loaded together: in file order each
            // was a cache miss of its own (`sink::read_ahead`, issue #13).
            if i % liquidator_core::sink::READ_AHEAD == 0 {
                liquidator_core::sink::read_ahead(events, i);
            }
            match e {
                Event::Claim(c) => match (c.outcome, c.header) {
                    (Outcome::Paid(p), Some(h)) => {
                        self.paid_claim(h, c.lines, c.line_pos, p, seq);
                        for lr in &p.rejected_lines {
                            let x = self.rejected_lines.entry(lr.rejection.code).or_default();
                            x.0 += 1;
                            x.1 += c.lines.get(lr.index as usize).map_or(0, |l| l.fee);
                        }
                    }
                    (Outcome::Paid(_), None) => {}
                    (Outcome::Rejected(r), _) => {
                        let x = self.rejected.entry(r.code).or_default();
                        x.0 += 1;
                        x.1 += c.claim.billed;
                    }
                },
                Event::Orphan(o) => {
                    self.orphans += 1;
                    self.orphan_billed += o.fee;
                }
            }
            // The control totals of the event, its paid lines just loaded by the above.
            self.totals.count(e);
        }
    }

    fn paid_claim(
        &mut self,
        h: &ClaimHeader,
        lines: &[liquidator_core::claims::ActLine],
        pos: &[liquidator_core::claims::Pos],
        p: &Paid,
        seq: u64,
    ) {
        let t = &mut self.paid;
        t.claims += 1;
        // The payee kind and the insurer are the claim's: its lines are added up here and the
        // sums added once to those groups (the same sums as line by line: integers) — and to the
        // paid totals' lines, billed, base, AMO paid and AMC.
        let mut claim = Agg::default();
        let mut file = AmcFile::default();
        for r in &p.lines {
            let k = r.index as usize;
            t.amo_gross += r.amo_gross;
            t.patient += r.patient;
            t.participation += r.pf;
            t.franchise += r.franchise;
            t.heavy_forfait += r.heavy_forfait;
            t.excess += r.excess;
            if !same_sum(&[r.billed], &[r.amo_paid, r.amc(), r.patient])
                || !same_sum(&[r.base], &[r.amo_gross, r.ticket])
                || !same_sum(&[r.amo_gross, r.debt], &[r.amo_paid, r.pf, r.franchise])
            {
                t.split_errors += 1;
                // Within a segment, lines come in file order: the first kept is the first.
                if t.first_split_error.is_none() || seq < self.first_split_at {
                    self.first_split_at = seq;
                    t.first_split_error = Some(LineRef {
                        claim: h.claim_no,
                        line: r.line_no,
                        input_line: pos.get(k).map_or(0, |p| p.line),
                    });
                }
            }
            match lines.get(k).map(|l| &l.act) {
                Some(Act::Ngap { letter, .. }) => {
                    self.ngap.entry(key4(*letter)).or_default().add_line(r)
                }
                Some(Act::Ccam { code, .. }) => {
                    self.groups.entry(key4(r.group)).or_default().add_line(r);
                    self.acts.entry(key7(*code)).or_default().add_line(r);
                }
                None => {}
            }
            claim.add_line(r);
            // The same condition as the TSV sink's insurer rows (`output::paid`).
            if p.amc.is_some() && (r.amc() != 0 || r.ticket != 0 || r.excess != 0) {
                file.rows += 1;
                file.amc_total += r.amc();
            }
        }
        t.lines += claim.lines;
        t.billed += claim.billed;
        t.base += claim.base;
        t.amo_paid += claim.amo_paid;
        t.amc += claim.amc;
        // A group exists once a line is added to it: a claim without paid lines adds none.
        if claim.lines == 0 {
            return;
        }
        let i = match p.payee {
            PayeeKind::Practitioner => 0,
            PayeeKind::Insured => 1,
        };
        self.payee[i].merge(&claim);
        self.amc
            .entry(key_amc(p.amc.map(|a| a.amc)))
            .or_default()
            .merge(&claim);
        if let Some(a) = p.amc
            && file.rows > 0
        {
            let f = self.amc_files.entry(key_amc(Some(a.amc))).or_default();
            f.rows += file.rows;
            f.amc_total += file.amc_total;
        }
    }

    fn merge(&mut self, o: Acc) {
        fn m<K: std::hash::Hash + Eq>(a: &mut FxHashMap<K, Agg>, b: FxHashMap<K, Agg>) {
            for (k, v) in b {
                a.entry(k).or_default().merge(&v);
            }
        }
        // The first split error in file order: the one of the earlier segment.
        let first = match (self.paid.first_split_error, o.paid.first_split_error) {
            (Some(_), Some(_)) if o.first_split_at < self.first_split_at => {
                Some((o.first_split_at, o.paid.first_split_error))
            }
            (None, Some(_)) => Some((o.first_split_at, o.paid.first_split_error)),
            _ => None,
        };
        self.paid.merge(&o.paid);
        if let Some((at, e)) = first {
            self.first_split_at = at;
            self.paid.first_split_error = e;
        }
        m(&mut self.ngap, o.ngap);
        m(&mut self.groups, o.groups);
        m(&mut self.acts, o.acts);
        m(&mut self.amc, o.amc);
        for (a, b) in self.payee.iter_mut().zip(o.payee.iter()) {
            a.merge(b);
        }
        for (k, v) in o.amc_files {
            let f = self.amc_files.entry(k).or_default();
            f.rows += v.rows;
            f.amc_total += v.amc_total;
        }
        for (k, v) in o.rejected {
            let x = self.rejected.entry(k).or_default();
            x.0 += v.0;
            x.1 += v.1;
        }
        for (k, v) in o.rejected_lines {
            let x = self.rejected_lines.entry(k).or_default();
            x.0 += v.0;
            x.1 += v.1;
        }
        self.orphans += o.orphans;
        self.orphan_billed += o.orphan_billed;
    }

    fn into_data(self) -> ReportData {
        fn keyed<K>(m: FxHashMap<K, Agg>, name: impl Fn(&K) -> String) -> BTreeMap<String, Agg> {
            let mut out: BTreeMap<String, Agg> = BTreeMap::new();
            for (k, v) in m {
                out.entry(name(&k)).or_default().merge(&v);
            }
            out
        }
        let mut by_payee = BTreeMap::new();
        for (name, a) in [PayeeKind::Practitioner, PayeeKind::Insured]
            .iter()
            .zip(self.payee)
        {
            if a.lines > 0 {
                by_payee.insert(name.as_str().to_string(), a);
            }
        }
        let mut amc_files: BTreeMap<String, AmcFile> = BTreeMap::new();
        for (k, v) in self.amc_files {
            let Some(a) = amc_of(k) else { continue };
            let f = amc_files.entry(amc_file_name(&text(&a))).or_default();
            f.rows += v.rows;
            f.amc_total += v.amc_total;
        }
        let mut rej = Rejections {
            orphans: self.orphans,
            orphan_billed: self.orphan_billed,
            ..Default::default()
        };
        for (code, (n, billed)) in self.rejected {
            rej.claims += n;
            rej.billed += billed;
            rej.by_code.insert(
                code.code().to_string(),
                Reason {
                    mnemonic: code.slug().to_string(),
                    count: n,
                    billed,
                },
            );
        }
        for (code, (n, billed)) in self.rejected_lines {
            rej.lines += n;
            rej.lines_billed += billed;
            rej.lines_by_code.insert(
                code.code().to_string(),
                Reason {
                    mnemonic: code.slug().to_string(),
                    count: n,
                    billed,
                },
            );
        }
        ReportData {
            layout: LAYOUT.to_string(),
            paid: self.paid,
            ngap_letters: keyed(self.ngap, |k| text(&bytes4(*k))),
            ccam_groups: keyed(self.groups, |k| text(&bytes4(*k))),
            ccam_acts: keyed(self.acts, |k| text(&bytes7(*k))),
            by_payee,
            by_amc: keyed(self.amc, |k| {
                amc_of(*k).map(|a| text(&a)).unwrap_or_default()
            }),
            amc_files,
            rejections: rej,
        }
    }
}

/// Computes the report's aggregates during the run and writes `dir/report_data.json` (atomically) when
/// the batch is finished. `dir` is the run's staging directory.
pub struct AggregatesSink {
    dir: PathBuf,
    /// One accumulator per thread of the pool that runs the window's segments (and one for a caller
    /// outside a pool), kept from window to window: a window's 64 segments each aggregated into maps
    /// of their own, then merged, grew ≈ 20 000 sets of maps a national day (rehashes, fresh pages)
    /// and merged them 330 times (issue #13). A thread holds its accumulator's lock only while it
    /// adds one segment, which calls nothing that could run another job on that thread.
    parts: Vec<Mutex<Acc>>,
    /// Segments handed out so far: a segment's number is its place in the run (file order).
    segments: u64,
    /// The control totals of `summary.json`, gathered from the accumulators' (`Sink::counts_summary`).
    summary: Summary,
    /// The most the accumulators held at the end of a window, and at the end-of-run merge
    /// ([`Sink::held_bytes`]).
    peak: usize,
}

impl AggregatesSink {
    pub fn new(dir: &Path) -> AggregatesSink {
        AggregatesSink {
            dir: dir.to_path_buf(),
            parts: Vec::new(),
            segments: 0,
            summary: Summary::default(),
            peak: 0,
        }
    }

    /// Heap bytes of the accumulators now.
    fn parts_bytes(&self) -> usize {
        self.parts
            .iter()
            .map(|p| p.lock().unwrap_or_else(|e| e.into_inner()).bytes())
            .sum::<usize>()
            + self.parts.capacity() * std::mem::size_of::<Mutex<Acc>>()
    }

    /// The aggregates so far.
    pub fn data(mut self) -> ReportData {
        self.merged().into_data()
    }

    /// The accumulators' control totals added to `summary` (and emptied).
    fn gather_totals(&mut self) {
        for p in &mut self.parts {
            let a = p.get_mut().unwrap_or_else(|e| e.into_inner());
            self.summary.add_part(&std::mem::take(&mut a.totals));
        }
    }

    /// The accumulators merged into one (their control totals gathered into `summary`).
    fn merged(&mut self) -> Acc {
        self.gather_totals();
        let mut all = Acc::default();
        for p in std::mem::take(&mut self.parts) {
            all.merge(p.into_inner().unwrap_or_else(|e| e.into_inner()));
        }
        all
    }
}

impl Sink for AggregatesSink {
    fn window(&mut self, events: &[Event<'_>]) -> Result<(), SinkError> {
        let segs: Vec<&[Event]> = segments(events).collect();
        // Slot 0 for a caller outside a pool, slot i + 1 for the pool's thread i.
        let slots = rayon::current_num_threads() + 1;
        if self.parts.len() < slots {
            self.parts.resize_with(slots, Mutex::default);
        }
        let first = self.segments;
        self.segments += segs.len() as u64;
        let parts = &self.parts;
        segs.par_iter().enumerate().for_each(|(j, seg)| {
            let slot = rayon::current_thread_index().map_or(0, |i| i + 1);
            if let Some(part) = parts.get(slot).or(parts.first()) {
                let mut a = part.lock().unwrap_or_else(|e| e.into_inner());
                a.add(seg, first + j as u64);
            }
        });
        self.peak = self.peak.max(self.parts_bytes());
        Ok(())
    }

    /// The accumulators' maps, at their largest: they are kept from window to window and grow with
    /// the run's distinct keys (codes, insurers, rejection reasons), and the end-of-run merge holds
    /// them beside the merged one.
    fn held_bytes(&self) -> usize {
        self.peak.max(self.parts_bytes())
    }

    /// The run's control totals are counted here, in the pass over the paid lines the aggregates
    /// make anyway: the engine runs no summary sink of its own (issue #13).
    fn counts_summary(&self) -> bool {
        true
    }

    fn take_summary(&mut self) -> Option<Summary> {
        // After `finish` the accumulators are merged, and their totals gathered, already.
        self.gather_totals();
        Some(std::mem::take(&mut self.summary))
    }

    fn finish(&mut self, _batch: &BatchInfo) -> Result<(), SinkError> {
        let parts = self.parts_bytes();
        let all = self.merged();
        // An upper bound of the merge's peak: the parts are freed one by one as they are merged.
        self.peak = self.peak.max(parts + all.bytes());
        let data = all.into_data();
        liquidator_core::output::files::write_json(&self.dir.join(REPORT_DATA), &data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line's split is checked on the exact integer sums: in `i64` where they fit, and where a sum
    /// overflows `i64` (absurd amounts) on its `i128` value — never a wrapped sum, never a panic.
    #[test]
    fn split_sums_compare_exact_integers_even_past_i64() {
        assert!(same_sum(&[10], &[3, 3, 4]));
        assert!(!same_sum(&[10], &[3, 3, 5]));
        assert!(same_sum(&[7, 3], &[5, 5]));
        // Sums that overflow i64 on one side or both, equal or not as integers.
        assert!(same_sum(&[i64::MAX, 1], &[i64::MAX, 1]));
        assert!(same_sum(&[i64::MAX, 1, -2], &[i64::MAX - 1]));
        assert!(!same_sum(&[i64::MAX], &[i64::MAX, 1]));
        assert!(
            !same_sum(&[i64::MIN], &[i64::MAX, 1]),
            "wrapped sums would be equal"
        );
        assert!(same_sum(&[i64::MIN, -1], &[i64::MIN, -1]));
        assert!(
            !same_sum(&[i64::MIN, -1], &[i64::MAX]),
            "wrapped sums would be equal"
        );
    }

    /// The accumulators are merged in any order (one per pool thread, each adding whichever
    /// segments its thread took): the first split error kept is the one of the earliest segment of
    /// the run, whichever accumulator holds it, and the counts add up.
    #[test]
    fn the_first_split_error_merged_is_the_earliest_segments_in_any_merge_order() {
        let part = |at: u64, claim: u32| Acc {
            paid: PaidTotals {
                split_errors: 1,
                first_split_error: Some(LineRef {
                    claim,
                    line: 1,
                    input_line: u64::from(claim),
                }),
                ..Default::default()
            },
            first_split_at: at,
            ..Default::default()
        };
        let none = || Acc::default();
        for order in [[7, 2, 9], [9, 7, 2], [2, 9, 7], [9, 2, 7]] {
            let mut all = none();
            all.merge(none());
            for at in order {
                all.merge(part(at, at as u32 * 10));
                all.merge(none());
            }
            assert_eq!(all.paid.split_errors, 3);
            assert_eq!(all.first_split_at, 2, "{order:?}");
            assert_eq!(all.paid.first_split_error.map(|e| e.claim), Some(20));
        }
    }

    /// The sink counts what its accumulators hold (`Sink::held_bytes`, printed by
    /// `LIQUIDATOR_TIMING=1`): nothing before a window, more than nothing once a window added a
    /// rejected claim to a map, and still as much after the end-of-run merge.
    #[test]
    fn held_bytes_counts_the_accumulators_maps_after_a_window() {
        use liquidator_core::claims::reader::{ParsedClaim, Pos};
        use liquidator_core::rules::Rejection;
        use liquidator_core::sink::ClaimEvent;
        let dir = std::env::temp_dir().join(format!("liq-report-held-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut sink = AggregatesSink::new(&dir);
        assert_eq!(sink.held_bytes(), 0);
        let claim = ParsedClaim {
            pos: Pos::default(),
            claim_no: 1,
            header: None,
            lines: 0..0,
            act_records: 0,
            billed: 1234,
            error: None,
        };
        let outcome = Outcome::Rejected(Rejection {
            code: Reject::ActUnknown,
            line_no: None,
            pos: Pos::default(),
            detail: String::new(),
        });
        let event = Event::Claim(ClaimEvent {
            claim: &claim,
            header: None,
            lines: &[],
            line_pos: &[],
            outcome: &outcome,
            steps: None,
        });
        sink.window(&[event]).unwrap();
        let after_window = sink.held_bytes();
        // At least the rejected claims' map, one (code, (count, cents)) slot.
        assert!(
            after_window >= std::mem::size_of::<(Reject, (u64, i64))>(),
            "{after_window}"
        );
        sink.finish(&BatchInfo::default()).unwrap();
        assert!(sink.held_bytes() >= after_window);
        let data = read_data(&dir).unwrap();
        assert_eq!((data.rejections.claims, data.rejections.billed), (1, 1234));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The integer keys of the aggregate maps give back the bytes they were made of, so that the
    /// groups of `report_data.json` are the groups of the bytes; an insurer number of any bytes (all
    /// zero, all 0xFF) never takes the key of "no insurer".
    #[test]
    fn map_keys_give_back_their_bytes_and_no_insurer_is_its_own_key() {
        for b in [*b"C   ", *b"AMI ", [0; 4], [0xFF; 4]] {
            assert_eq!(bytes4(key4(b)), b);
        }
        for b in [*b"HBLD045", [0; 7], [0xFF; 7]] {
            assert_eq!(bytes7(key7(b)), b);
        }
        for b in [*b"0123456789", *b"C2S       ", [0; 10], [0xFF; 10]] {
            assert_eq!(amc_of(key_amc(Some(b))), Some(b));
            assert_ne!(key_amc(Some(b)), key_amc(None));
        }
        assert_eq!(amc_of(key_amc(None)), None);
        // Two codes differing in their last byte stay apart (no byte dropped by the packing).
        assert_ne!(key7(*b"HBLD045"), key7(*b"HBLD046"));
        assert_ne!(key_amc(Some(*b"000000000A")), key_amc(Some(*b"000000000B")));
    }
}
