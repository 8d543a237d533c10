//! `run --ledger` and `ledger show|stats`: the night carried by the ledger (formats/ledger.md).
//!
//! The protocol that makes the ledger commit and the outputs' rename one step:
//! 1. open the ledger (resolving a night a killed run left pending), refuse a batch already committed;
//! 2. liquidate against the ledger's last night into the staging directory (nothing under a final name);
//! 3. commit the night to the ledger with a pending marker naming the staging directory, in one
//!    transaction that starts with a savepoint (the previous night);
//! 4. rename the staging directory into place;
//! 5. clear the marker and the savepoint.
//!
//! Killed before 3: the ledger never saw the night. Between 3 and 4: the next open finds the staging
//! directory and restores the savepoint. After 4: the next open finds the outputs and completes 5.

use crate::cli::exit_code;
use liquidator_core::claims::BatchHeader;
use liquidator_core::engine::{self, Options};
use liquidator_core::output::Summary;
use liquidator_core::output::files::{StageError, Staging};
use liquidator_core::refs::Refs;
use liquidator_core::rules::BenefState;
use liquidator_core::rules::controls::oldest_payable;
use liquidator_core::sink::{Sink, SinkError};
use liquidator_ledger::NotCommitted;
use liquidator_ledger::encoded::Encoded;
use liquidator_ledger::night::NightSink;
use liquidator_ledger::{Ledger, LedgerError, NightCommit, Resolved};
use std::path::Path;
use std::process::ExitCode;

/// Exit code: the batch was already committed in the ledger.
pub const EXIT_ALREADY_COMMITTED: u8 = 10;
/// Exit code: the ledger cannot be used (corrupt, another layout, held by another run).
pub const EXIT_LEDGER: u8 = 11;

fn ledger_error(e: LedgerError) -> ExitCode {
    eprintln!("liquidator: {e}");
    ExitCode::from(match e {
        LedgerError::Io(..) => 5,
        LedgerError::Usage(_) => 2,
        _ => EXIT_LEDGER,
    })
}

/// A night's final state that does not read (never one the engine packed: the ledger's stored
/// bytes are checked before they enter it): the ledger is corrupt, nothing is committed.
fn corrupt_state(e: liquidator_core::states::packed::DecodeError) -> ExitCode {
    ledger_error(LedgerError::Corrupt(e.to_string()))
}

/// Opens the ledger, telling the operator what happened to a night left pending.
pub fn open(dir: &Path) -> Result<Ledger, ExitCode> {
    let (l, resolved) = Ledger::open(dir).map_err(ledger_error)?;
    match resolved {
        Some(Resolved::RolledBack(p)) => eprintln!(
            "liquidator: ledger: the night of a killed run (outputs {}) was rolled back; the ledger is as of the night before",
            p.out.display()
        ),
        Some(Resolved::Completed(p)) => eprintln!(
            "liquidator: ledger: the night of a killed run (outputs {}) was completed",
            p.out.display()
        ),
        None => {}
    }
    for w in l.warnings() {
        eprintln!("liquidator: ledger: warning: {w}");
    }
    Ok(l)
}

/// A night begun before the reference set is loaded ([`prepare`]): the ledger open, the batch
/// checked against it, and the reader's states, claim numbers and acts loading in the background
/// while `cli` loads the refs — before, they started after the refs and the first window waited
/// for them (issue #14: 0.26 s of a national night, quiet).
pub struct Prepared {
    timer: Timer,
    ledger: Ledger,
    reader: liquidator_ledger::Reader,
    data: engine::Input,
    header: BatchHeader,
}

/// Steps 1 and the start of 2 of `run … --ledger DIR` (module doc): opens the ledger, resolves a
/// pending night, refuses a batch already committed (exit 10), removes stale staging directories
/// beside `out`, and makes the reader, whose loads start at once.
pub fn prepare(claims: &Path, out: &Path, dir: &Path) -> Result<Prepared, ExitCode> {
    let mut timer = Timer::new();
    let ledger = open(dir)?;
    timer.lap("open");
    let fail = |e: engine::RunError| {
        eprintln!("liquidator: {e}");
        ExitCode::from(exit_code(&e))
    };
    let data = engine::map_file(claims).map_err(fail)?;
    let (header, first_window) = engine::batch_header(&data).map_err(fail)?;
    if let Some(b) = ledger.committed(header.sender, header.batch_no) {
        let same = if b.checksum == liquidator_ledger::checksum(&data) {
            "the same file"
        } else {
            "a different file under the same number"
        };
        eprintln!(
            "liquidator: batch {} of sender {:09} was already committed by night {} ({}, {same}); replay it with `reprocess --ledger`",
            header.batch_no, header.sender, b.seq, b.batch_date
        );
        return Err(ExitCode::from(EXIT_ALREADY_COMMITTED));
    }
    remove_stale_staging(out);
    let mut reader = ledger.reader(None).map_err(ledger_error)?;
    // The file's checksum (recorded with the batch) is built from the windows as the engine parses
    // them (`filesum`), from the header's bytes on.
    reader.sum_windows(data.get(..first_window).unwrap_or_default());
    timer.lap("reader");
    Ok(Prepared {
        timer,
        ledger,
        reader,
        data,
        header,
    })
}

/// `run … --ledger DIR`: the run of `cli`, against and into the ledger, all or nothing (begun by
/// [`prepare`]).
pub fn run<'s>(
    prepared: Prepared,
    refs: &Refs,
    out: &Path,
    force: bool,
    opts: &Options,
    extra: impl FnOnce(&Path) -> Result<Vec<Box<dyn Sink + 's>>, SinkError>,
) -> Result<Summary, ExitCode> {
    let Prepared {
        mut timer,
        mut ledger,
        mut reader,
        data,
        header,
    } = prepared;
    timer.lap("refs loaded (the ledger loading beside)");
    let dir = ledger.dir().to_path_buf();
    let fail = |e: engine::RunError| {
        eprintln!("liquidator: {e}");
        ExitCode::from(exit_code(&e))
    };
    let mut night = NightSink::for_file(header.date.0, data.len());
    let staged = {
        let opts = Options {
            carry: Some(&reader),
            trace_claim: opts.trace_claim,
            progress: opts.progress,
            window: opts.window,
            scratch_dir: opts.scratch_dir,
        };
        let night = &mut night;
        engine::stage_run(&data, refs, out, force, &opts, |d| {
            let mut v = extra(d)?;
            v.push(Box::new(night));
            Ok(v)
        })
        .map_err(fail)?
    };
    // Built from the windows the engine read (`Carry::window_read`); hashed whole only if they were
    // not exactly the file's bytes.
    let clock = std::time::Instant::now();
    let (checksum, from_windows) = reader.checksum(&data);
    let checksum_how = if from_windows {
        "from the windows read".to_string()
    } else {
        format!("hashed whole, {:.3} s", clock.elapsed().as_secs_f64())
    };
    if let Some(e) = reader.error() {
        eprintln!("liquidator: ledger read failed: {e}");
        return Err(ExitCode::from(EXIT_LEDGER));
    }
    unconserved_not_committed(&staged.summary)?;
    let loads = reader.timing();
    // The current image file, mapped and checked when the night opened, is kept for the commit's
    // merge: mapping and checking it again there cost an xxh3 over the file and a walk of its
    // records (issue #14). A file mapping, read in place: page cache, not the process's anonymous
    // memory (issue #13).
    let current = reader.take_current();
    // The ledger's states and indexes go before the night's states are encoded: they are never
    // held together (issue #14: ≈ 0.5 GiB at national size).
    let clock = std::time::Instant::now();
    drop(reader);
    timer.lap(&format!(
        "liquidation (with ledger lookups, the file's checksum {checksum_how}; loaded beside the parse: {loads}; the engine's states {} MiB; the reader freed {:.3} s)",
        liquidator_ledger::mib(staged.states.table_bytes()),
        clock.elapsed().as_secs_f64(),
    ));
    // The outputs are flushed to the disk by a thread of their own while the night's states are
    // encoded for the commit (in parallel, shard by shard where they lie) and the commit writes
    // them, the before-images and the segments into the store: the flush waits on the disk, the
    // rest on the CPU. The commit waits for the flush just before its transaction is made durable
    // (`commit_night_when`): the protocol's order (outputs on the disk, then the ledger) holds.
    let oldest = oldest_payable(refs, header.date);
    let stage = &staged.stage;
    let states = staged.states;
    let pending = std::thread::scope(|sc| {
        // Joined exactly once, on every path (a scoped thread left unjoined that panicked would
        // make the scope itself panic): by the commit just before its durable step, else below.
        let sync = std::cell::Cell::new(Some(sc.spawn(|| durable_aside(stage))));
        let mut waited = 0.0;
        let wait = |waited: &mut f64| {
            let Some(handle) = sync.take() else {
                return Ok(());
            };
            let clock = std::time::Instant::now();
            let r = handle.join().unwrap_or_else(|_| {
                eprintln!(
                    "liquidator: the thread making the outputs durable panicked; nothing committed"
                );
                Err(ExitCode::from(5))
            });
            *waited = clock.elapsed().as_secs_f64();
            r
        };
        let clock = std::time::Instant::now();
        // The engine's states stay where they lie: only their places are sorted by key, and the
        // commit reads (and prunes) each one as it merges it into the next image — no copy of
        // them all (≈ 180 MiB of fresh memory at national size until LEDGER18). Once merged, the
        // commit releases them to a thread of their own that frees them beside the rest of the
        // commit: freeing them unmaps the scratch file's regions and, with the last one, drops the
        // unlinked file — its pages and its blocks (`states::scratch`) — while the outputs' flush
        // is at work on the same disk: on the run's thread it took 1.4–4.0 s of a national night
        // before the commit could start (load 7–11), ≈ 0.2 s of it on the CPU (perf), the rest
        // waiting on the filesystem (issue #14). Neither the commit nor the rename needs the file
        // gone; the pool is not used (a drop that waits would hold one of its 2 workers). The 16
        // files are closed side by side, a thread each (`States::free_by_file`): one after the
        // other their blocks' discards took 0.7–1.9 s of a national night, all waited for by the
        // join below (LEDGER24).
        let (release, released) = std::sync::mpsc::channel();
        let freeing = sc.spawn(move || {
            // Nothing received: the commit failed before it released them (dropped with it).
            let states: liquidator_core::states::States = released.recv().ok()?;
            let clock = std::time::Instant::now();
            states.free_by_file();
            Some(clock.elapsed().as_secs_f64())
        });
        let encoded = Encoded::of_engine(states, oldest).release_to(release);
        let encoding = clock.elapsed().as_secs_f64();
        let count = encoded.len();
        timer.lap(&format!(
            "states sorted by key {encoding:.3} s ({} MiB) while the outputs are flushed",
            liquidator_ledger::mib(encoded.heap_bytes())
        ));
        let mut commit = night_commit(&header, checksum, refs, &[], stage, &night, out, None);
        commit.encoded = Some(&encoded);
        commit.current = current.as_ref();
        let committed = ledger.commit_night_when(&commit, || wait(&mut waited));
        // Its sender gone, the freeing thread ends (whether it received the states or not).
        drop(encoded);
        let pending = committed.map_err(|e| match e {
            // The ledger failed before it waited for the flush: a failed flush is reported
            // first (exit 5), as when the flush came before the commit (README "Exit codes").
            NotCommitted::Ledger(e) => match wait(&mut waited) {
                Err(code) => code,
                Ok(()) => ledger_error(e),
            },
            NotCommitted::NotReady(code) => code,
        })?;
        // Joined before the rename, so that the run's end is as before (the file gone); a drop
        // that panicked has nothing to report to the night: its memory goes with the process.
        // Since LEDGER18 the drop starts only once the states are merged (it began with the
        // commit before), so it overlaps only the segments and the durable step and this join
        // can wait: REVIEW18, national night 2 from a night-1 ledger, load 9-10, `LIQUIDATOR_TIMING`:
        // the drop 0.16-2.86 s, this join waited 1.68, 1.05, 2.00 and 0.00 s in 4 runs
        // (4c3c023's: 1.03-1.59 s, waited 0.000 s in 2). The drop's time is the filesystem's
        // (unmapping, the scratch file's blocks) while the outputs' flush uses the disk.
        let clock = std::time::Instant::now();
        let freed = freeing.join().ok().flatten().unwrap_or(f64::NAN);
        let freed_wait = clock.elapsed().as_secs_f64();
        timer.lap(&format!(
            "commit, the outputs' flush beside (waited for {waited:.3} s), the engine's states freed beside once merged ({freed:.3} s, waited for {freed_wait:.3} s) ({count} states, {} claim numbers, {} CCAM acts: {})",
            night.claim_numbers(),
            night.ccam_acts(),
            ledger.commit_timing()
        ));
        Ok::<_, ExitCode>(pending)
    })?;
    liquidator_ledger::kill_point("before-rename");
    let summary = staged.summary;
    let mut ledger = put_in_place(ledger, &dir, staged.stage)?;
    liquidator_ledger::kill_point("after-rename");
    ledger.finish(&pending).map_err(ledger_error)?;
    timer.lap("rename + finish");
    timer.report();
    Ok(summary)
}

/// A night whose summary fails a conservation identity (a bug: README "Exit codes", 7) is not
/// committed: the ledger stays as of the previous night and the staged outputs are removed with
/// their staging directory (the protocol's all or nothing), so that the same batch can be run again
/// once the bug is fixed. Committed, it would have carried the bug's counters and debts into every
/// later night and refused the batch as already committed (exit 10; REVIEW22 M3). The operator is
/// shown every identity on stderr. Without `--ledger` the outputs are kept, with exit 7, for the
/// analysis.
///
/// The test hook `LIQUIDATOR_LEDGER_FAIL=conservation` (`liquidator_ledger::fail_point`) takes the
/// identities as failed, so that this path is tested through the binary: no input makes a correct
/// engine fail one.
fn unconserved_not_committed(s: &Summary) -> Result<(), ExitCode> {
    if s.conserved() && !liquidator_ledger::fail_point("conservation") {
        return Ok(());
    }
    eprint!("{}", crate::cli::human_summary(s));
    eprintln!(
        "liquidator: conservation check failed: the night is not committed to the ledger and its outputs are not published"
    );
    Err(ExitCode::from(7))
}

/// Step 4 of the protocol (module doc): the staging directory renamed into place, the night
/// committed and pending in `ledger` (the caller finishes it). A failure says what became of the
/// night, exit 5 either way (README "Exit codes": an I/O error):
/// * before the rename, the outputs are not in place: the night must not stand, and reopening the
///   ledger rolls it back now (its staging directory, if still there, is removed);
/// * after the rename, only the `fsync` of the parent directory failed: the outputs are complete
///   under their final name, but the rename may not be durable. The night is left pending, not
///   finished: the next open decides by what the disk holds then — the outputs in place complete it,
///   a rename lost to a power loss rolls it back. Finishing now could leave a committed night whose
///   outputs a crash took back to their staging name.
fn put_in_place(ledger: Ledger, dir: &Path, stage: Staging) -> Result<Ledger, ExitCode> {
    let parent = stage.parent().to_path_buf();
    let renamed = stage.commit().and_then(|out| {
        if liquidator_ledger::fail_point("outputs-dir-sync") {
            Err(StageError::Unsynced {
                out,
                parent,
                error: std::io::Error::other("test hook LIQUIDATOR_LEDGER_FAIL"),
            })
        } else {
            Ok(out)
        }
    });
    match renamed {
        Ok(_) => Ok(ledger),
        Err(e @ StageError::Unsynced { .. }) => {
            eprintln!("liquidator: {e}");
            eprintln!(
                "liquidator: ledger: the night is committed but left pending: the next open of the ledger completes it if the outputs are still in place (the batch is then committed: do not run it again), or rolls it back if the rename was lost"
            );
            // Dropped as it is, the marker in it: nothing of the ledger is written after this.
            drop(ledger);
            Err(ExitCode::from(5))
        }
        Err(e) => {
            eprintln!("liquidator: {e}");
            drop(ledger);
            match Ledger::open(dir) {
                Ok((_, Some(Resolved::RolledBack(_)))) => eprintln!(
                    "liquidator: ledger: the outputs were not put in place: the night was rolled back; the ledger is as of the night before"
                ),
                _ => eprintln!(
                    "liquidator: ledger: the outputs were not put in place: the next open of the ledger rolls the night back"
                ),
            }
            Err(ExitCode::from(5))
        }
    }
}

/// The night's outputs made durable before the ledger commits the night: a power loss after the
/// commit must not leave a committed night whose files the disk lost (formats/ledger.md, "All or
/// nothing"). An error is an I/O error (exit 5); the ledger has not seen the night.
fn durable(stage: &Staging) -> Result<(), ExitCode> {
    if liquidator_ledger::fail_point("outputs-flush") {
        eprintln!("liquidator: the outputs' flush failed (test hook LIQUIDATOR_LEDGER_FAIL)");
        return Err(ExitCode::from(5));
    }
    stage.sync().map_err(|e| {
        eprintln!("liquidator: {e}");
        ExitCode::from(5)
    })
}

/// [`durable`] on a pool of its own: `Staging::sync` fsyncs the files side by side with rayon, and
/// each fsync blocks its thread on the disk. Run on the run's pool beside the encoding and the
/// commit, it held the pool's workers (2 on this machine) blocked while their work waited: freeing
/// the engine's states took 3.4 s of a national night instead of ≈ 0.1 s (issue #14, load ≈ 10).
/// Threads that only wait on the disk cost no CPU; the pool ends with the flush.
fn durable_aside(stage: &Staging) -> Result<(), ExitCode> {
    match rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .thread_name(|i| format!("liquidator-flush-{i}"))
        .build()
    {
        Ok(pool) => pool.install(|| durable(stage)),
        Err(_) => durable(stage),
    }
}

/// What `run` (`replaces: None`) and `reprocess` (`Some(seq)`) commit to the ledger: the night staged
/// for the batch `header`, whose file has `checksum`.
#[allow(clippy::too_many_arguments)] // the fields of `NightCommit`, each from its own step
fn night_commit<'a>(
    header: &BatchHeader,
    checksum: String,
    refs: &Refs,
    states: &'a [(u64, &'a BenefState)],
    stage: &'a Staging,
    night: &'a NightSink,
    out: &'a Path,
    replaces: Option<u32>,
) -> NightCommit<'a> {
    NightCommit {
        sender: header.sender,
        batch_no: header.batch_no,
        batch_date: header.date,
        checksum,
        oldest: oldest_payable(refs, header.date),
        states,
        encoded: None,
        night,
        staging: &stage.dir,
        out,
        replaces,
        current: None,
    }
}

/// Timings of the ledger's steps on stderr when `LIQUIDATOR_TIMING` is set (scripts/bench --nights),
/// each with the peak of the process's anonymous resident memory during the step and what it holds at
/// its end (`RssAnon`, sampled every 5 ms by a thread of its own: where the ledger's memory goes, #14).
struct Timer {
    on: bool,
    clock: std::time::Instant,
    laps: Vec<String>,
    rss: Option<RssSampler>,
}

/// Samples `RssAnon` of `/proc/self/status` (KiB) and keeps the highest since the last `take`.
struct RssSampler {
    peak: std::sync::Arc<std::sync::atomic::AtomicU64>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// [`minor_faults`] at the last `take`.
    faults: std::cell::Cell<u64>,
    /// [`cpu_seconds`] at the last `take`.
    cpu: std::cell::Cell<(f64, f64)>,
}

fn rss_anon_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("RssAnon:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Minor page faults of the process so far (`/proc/self/stat`, field 10): each one a fresh page the
/// kernel zeroed (`clear_page` was 7 % of a national night's CPU with the ledger, issue #14). A count,
/// not a size: with transparent huge pages (mimalloc's arenas) one fault can map 2 MiB, not 4 KiB.
fn minor_faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // the fields after the command name, which is in parentheses and may hold spaces
            let rest = &s[s.rfind(')')? + 1..];
            rest.split_whitespace().nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}

/// Clock ticks a second of `/proc/self/stat`'s CPU times: `USER_HZ`, what `sysconf(_SC_CLK_TCK)`
/// returns. Taken as 100 rather than asked for: the binary does not depend on `libc`, and a timing
/// line is not worth a dependency. 100 is right on Linux whatever the kernel's own tick
/// (`CONFIG_HZ` 250, 1000…): the kernel converts its jiffies to `USER_HZ` for `/proc`
/// (`jiffies_64_to_clock_t`), and `USER_HZ` is part of its ABI, 100 on every architecture this
/// runs on (x86_64, aarch64; `getconf CLK_TCK` says 100 on the bench machine). Only the CPU seconds
/// of the `LIQUIDATOR_TIMING=1` lines depend on it.
const USER_HZ: f64 = 100.0;

/// CPU seconds of the process so far, user and system (`/proc/self/stat`, fields 14 and 15, in
/// ticks of [`USER_HZ`]): what a step cost on the CPU, all threads together, which the machine's
/// load does not inflate as it does the step's wall time (issue #14).
fn cpu_seconds() -> (f64, f64) {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 1..];
            let mut f = rest.split_whitespace().skip(11);
            let u: u64 = f.next()?.parse().ok()?;
            let k: u64 = f.next()?.parse().ok()?;
            Some((u as f64 / USER_HZ, k as f64 / USER_HZ))
        })
        .unwrap_or((0.0, 0.0))
}

impl RssSampler {
    fn start() -> RssSampler {
        use std::sync::atomic::Ordering;
        let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(rss_anon_kib()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss_anon_kib(), Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        });
        RssSampler {
            peak,
            stop,
            faults: std::cell::Cell::new(minor_faults()),
            cpu: std::cell::Cell::new(cpu_seconds()),
        }
    }
    /// What the process did since the last call (or since [`RssSampler::start`]): (the peak
    /// `RssAnon` since then, `RssAnon` now, both in MiB; the minor page faults since then; the CPU
    /// seconds since then, (user, system), all threads — [`cpu_seconds`]).
    fn take(&self) -> (u64, u64, u64, (f64, f64)) {
        let now = rss_anon_kib();
        let peak = self
            .peak
            .swap(now, std::sync::atomic::Ordering::Relaxed)
            .max(now);
        let f = minor_faults();
        let faulted = f.saturating_sub(self.faults.replace(f));
        let c = cpu_seconds();
        let was = self.cpu.replace(c);
        (peak >> 10, now >> 10, faulted, (c.0 - was.0, c.1 - was.1))
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Timer {
    fn new() -> Timer {
        let on = liquidator_core::timing_on();
        Timer {
            on,
            clock: std::time::Instant::now(),
            laps: Vec::new(),
            rss: on.then(RssSampler::start),
        }
    }
    fn lap(&mut self, what: &str) {
        if self.on {
            let mem = self.rss.as_ref().map_or(String::new(), |r| {
                let (peak, now, faulted, (user, sys)) = r.take();
                format!(
                    " [RssAnon peak {peak} MiB, at its end {now} MiB; {faulted} minor page faults; CPU {user:.2} user + {sys:.2} sys s]"
                )
            });
            self.laps.push(format!(
                "{what} {:.3} s{mem}",
                self.clock.elapsed().as_secs_f64()
            ));
            self.clock = std::time::Instant::now();
        }
    }
    fn report(&self) {
        if self.on {
            eprintln!("ledger timing: {}", self.laps.join(", "));
        }
    }
}

/// Removes the staging directories (`.NAME.partial-PID`) that runs killed before their ledger commit
/// left beside `out`. Safe under the ledger: it is held by one run at a time (the store's lock), and a
/// night's outputs are staged only by the run that holds it.
fn remove_stale_staging(out: &Path) {
    let (Some(parent), Some(name)) = (out.parent(), out.file_name()) else {
        return;
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let prefix = format!(".{}.partial-", name.to_string_lossy());
    let own = format!("{prefix}{}", std::process::id());
    if let Ok(d) = std::fs::read_dir(parent) {
        for e in d.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with(&prefix) && n != own && e.path().is_dir() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// `NIR-RANK` (`1850375123456-001`) → the beneficiary key.
fn parse_beneficiary(s: &str) -> Option<u64> {
    let (nir, rank) = s.split_once('-')?;
    liquidator_core::refs::benef_key(nir.as_bytes(), rank.parse().ok()?)
}

/// `ledger show --beneficiary NIR-RANK`: counters and recent sessions, as JSON on stdout.
pub fn show(dir: &Path, beneficiary: &str) -> ExitCode {
    let Some(key) = parse_beneficiary(beneficiary) else {
        eprintln!("liquidator: `{beneficiary}` is not NIR-RANK (13 characters, a dash, a rank)");
        return ExitCode::from(2);
    };
    let ledger = match open(dir) {
        Ok(l) => l,
        Err(c) => return c,
    };
    let state = match ledger.state(key) {
        Ok(Some(s)) => s,
        Ok(None) => {
            eprintln!("liquidator: beneficiary not in the ledger");
            return ExitCode::from(8);
        }
        Err(e) => return ledger_error(e),
    };
    let eur = liquidator_core::money::fmt_euros;
    let years = |v: &[(u32, i64)]| -> Vec<serde_json::Value> {
        v.iter()
            .map(|(y, c)| serde_json::json!({"year": y, "amount": eur(*c)}))
            .collect()
    };
    // Debts with their age on the last committed night's batch date.
    let last = ledger
        .batches()
        .last()
        .and_then(|b| liquidator_core::date::Date::parse_iso(&b.batch_date))
        .unwrap_or_default();
    let debts: Vec<_> = state
        .open_debts()
        .iter()
        .map(|d| {
            serde_json::json!({
                "kind": d.origin.kind.as_str(),
                "amount": eur(d.amount),
                "open": eur(d.open),
                "created": d.origin.created.to_string(),
                "age_days": d.age_days(last),
                "claim": format!("{:09}", d.origin.claim),
                "line": d.origin.line,
                "practitioner": format!("{:09}", d.origin.practitioner),
                "date_of_care": d.origin.date_of_care.to_string(),
            })
        })
        .collect();
    let mut sessions: Vec<_> = state.daily.iter().collect();
    sessions.sort_by(|a, b| {
        b.date
            .cmp(&a.date)
            .then(a.practitioner.cmp(&b.practitioner))
    });
    let v = serde_json::json!({
        "beneficiary": beneficiary,
        "seeded_from_table": state.seeded,
        "participations_by_year": years(&state.pf_by_year),
        "franchises_by_year": years(&state.fr_by_year),
        "open_debts": debts,
        "open_debts_amount": eur(state.open_debt_cents()),
        "franchises_by_day": state.fr_by_day.iter().map(|(d, c)| serde_json::json!({"date": d.to_string(), "amount": eur(*c)})).collect::<Vec<_>>(),
        "sessions": sessions.iter().map(|d| serde_json::json!({
            "date": d.date.to_string(),
            "practitioner": format!("{:09}", d.practitioner),
            "participations": d.pf,
            "exclusive_modifiers": d.exclusive,
            "consultation": d.consult,
            "ccam_acts": d.acts.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    println!("{}", crate::cli::json_text(&v));
    ExitCode::SUCCESS
}

/// `ledger stats`: nights committed, entry counts, size on disk, as JSON on stdout.
pub fn stats(dir: &Path) -> ExitCode {
    let ledger = match open(dir) {
        Ok(l) => l,
        Err(c) => return c,
    };
    match ledger.stats() {
        Ok(s) => {
            println!("{}", crate::cli::json_text(&s));
            ExitCode::SUCCESS
        }
        Err(e) => ledger_error(e),
    }
}

/// `reprocess … --ledger DIR`: re-liquidates a committed night against the state before it, writes the
/// adjustments (`adjustments.tsv`…) and the counters that change (`ledger_counters.tsv`), and commits
/// the corrected night to the ledger with the same all-or-nothing protocol as `run`.
pub fn reprocess(
    claims: &Path,
    refs: &Refs,
    previous: &Path,
    out: &Path,
    force: bool,
    dir: &Path,
) -> Result<liquidator_core::reprocess::ReprocessSummary, ExitCode> {
    use liquidator_core::reprocess::{self, ReprocessError};
    let mut ledger = open(dir)?;
    let fail = |e: engine::RunError| {
        eprintln!("liquidator: {e}");
        ExitCode::from(exit_code(&e))
    };
    let data = engine::map_file(claims).map_err(fail)?;
    let (header, _) = engine::batch_header(&data).map_err(fail)?;
    let checksum = liquidator_ledger::checksum(&data);
    let file_bytes = data.len();
    drop(data);
    let Some(seq) = ledger
        .committed(header.sender, header.batch_no)
        .map(|b| b.seq)
    else {
        eprintln!(
            "liquidator: batch {} of sender {:09} is not in the ledger: nothing to reprocess",
            header.batch_no, header.sender
        );
        return Err(ExitCode::from(8));
    };
    remove_stale_staging(out);
    let reader = ledger.reader(Some(seq)).map_err(ledger_error)?;
    let mut night = NightSink::for_file(header.date.0, file_bytes);
    night.keep_names = true;
    let staged = {
        let opts = Options {
            carry: Some(&reader),
            ..Options::default()
        };
        reprocess::stage(claims, refs, previous, out, force, &opts, Some(&mut night)).map_err(
            |e| {
                eprintln!("liquidator: {e}");
                ExitCode::from(match &e {
                    ReprocessError::Run(r) => exit_code(r),
                    ReprocessError::Mismatch(_) | ReprocessError::Read(_) => 9,
                    ReprocessError::Io(_) => 5,
                })
            },
        )?
    };
    if let Some(e) = reader.error() {
        eprintln!("liquidator: ledger read failed: {e}");
        return Err(ExitCode::from(EXIT_LEDGER));
    }
    unconserved_not_committed(&staged.summary.liquidation)?;
    drop(reader);
    // The counters the correction changes, against what the night had left.
    let mut tsv = String::from("beneficiary\tcounter\tperiod\tbefore\tafter\tdelta\n");
    let after = ledger.states_after(seq).map_err(ledger_error)?;
    let states = staged.states.sorted().map_err(corrupt_state)?;
    for (key, new) in &states {
        let old = after.state(*key).map_err(ledger_error)?.unwrap_or_default();
        let name = night.names.get(key).map_or("?", String::as_str);
        for (c, a, b) in liquidator_ledger::counters::changes(&old, new) {
            let v = |x: i64| {
                if c.is_amount() {
                    liquidator_core::money::fmt_euros(x)
                } else {
                    x.to_string()
                }
            };
            tsv.push_str(&format!(
                "{name}\t{}\t{}\t{}\t{}\t{}\n",
                c.name(),
                c.period(),
                v(a),
                v(b),
                v(b - a)
            ));
        }
    }
    let path = staged.stage.dir.join("ledger_counters.tsv");
    if let Err(e) = liquidator_core::output::files::write_atomic(&path, tsv.as_bytes()) {
        eprintln!("liquidator: {}: {e}", path.display());
        return Err(ExitCode::from(5));
    }
    drop(after);
    let state_refs: Vec<(u64, &BenefState)> = states.iter().map(|(k, s)| (*k, s)).collect();
    durable(&staged.stage)?;
    let pending = ledger
        .commit_night(&night_commit(
            &header,
            checksum,
            refs,
            &state_refs,
            &staged.stage,
            &night,
            out,
            Some(seq),
        ))
        .map_err(ledger_error)?;
    let summary = staged.summary;
    let mut ledger = put_in_place(ledger, dir, staged.stage)?;
    ledger.finish(&pending).map_err(ledger_error)?;
    Ok(summary)
}

/// `ledger compact`: the store rewritten without its free pages.
pub fn compact(dir: &Path) -> ExitCode {
    let mut ledger = match open(dir) {
        Ok(l) => l,
        Err(c) => return c,
    };
    match ledger.compact() {
        Ok((a, b)) => {
            eprintln!(
                "ledger compacted: {:.1} MiB -> {:.1} MiB",
                a as f64 / 1048576.0,
                b as f64 / 1048576.0
            );
            ExitCode::SUCCESS
        }
        Err(e) => ledger_error(e),
    }
}
