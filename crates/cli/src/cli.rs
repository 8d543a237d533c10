//! Command-line front end: argument parsing, exit codes and operator messages. Thin: every command
//! calls library functions.
//!
//! Exit codes (documented in the README):
//! * 0 — success (a processed batch with rejected claims is a success);
//! * 2 — usage error (bad arguments);
//! * 3 — invalid reference tables (`file:line:column: reason`), or a compiled snapshot `DIR/refs.snapshot`
//!   refused (stale or corrupt, `refs::snapshot`), nothing written;
//! * 4 — batch rejected (trailer mismatch, missing header/trailer…): no output written;
//! * 5 — I/O error (unreadable input, output not writable);
//! * 6 — output directory exists (use `--force`);
//! * 7 — conservation check failed (a bug: the summary is written but the run is flagged);
//! * 8 — not found (e.g. `refs lookup` of an unknown code, `explain` of an unknown claim);
//! * 9 — outputs of a run refused: `reprocess`'s previous outputs (another batch, edited, or not matching
//!   the claims file), `report` on a directory without a readable `report_data.json` (an older run);
//! * 10 — `run --ledger`: the batch (sender, number) was already committed in the ledger;
//! * 11 — the ledger cannot be used (corrupt, another layout, held by another run).

use clap::{Parser, Subcommand};
use liquidator_core::engine::{self, Options, RunError};
use liquidator_core::money::fmt_euros;
use liquidator_core::output::Summary;
use liquidator_core::refs::Refs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `--window-kib` at most: the engine's largest window (`engine::MAX_WINDOW`), in KiB.
const MAX_WINDOW_KIB: i64 = (engine::MAX_WINDOW / 1024) as i64;

#[derive(Parser)]
#[command(
    name = "liquidator",
    version,
    about = "Batch liquidation of French health-insurance claim files"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Liquidate a daily claims file.
    Run {
        #[arg(long)]
        claims: PathBuf,
        #[arg(long)]
        refs: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Worker threads (default: all cores). The output does not depend on it.
        #[arg(long)]
        threads: Option<usize>,
        /// Size of the engine's read window in KiB (default 8192), 64 to 1048576 (1 GiB: a window's
        /// claims and lines are numbered in 32 bits, `engine::MAX_WINDOW`). The output does not
        /// depend on it (architecture invariant): a tuning knob, and what lets the kill tests stop a
        /// small day mid-way.
        #[arg(long, value_parser = clap::value_parser!(u32).range(64..=MAX_WINDOW_KIB))]
        window_kib: Option<u32>,
        /// Replace an existing output directory.
        #[arg(long)]
        force: bool,
        /// No progress bar and no end-of-run summary on stderr.
        #[arg(long)]
        quiet: bool,
        /// Also write the liquidated lines as Parquet (`OUT/liquidated_lines.parquet`, formats/parquet.md).
        #[arg(long)]
        parquet: bool,
        /// File holding the secret key of the beneficiary pseudonym in the Parquet export (else the
        /// environment variable LIQUIDATOR_PSEUDONYM_KEY). Required with --parquet.
        #[arg(long)]
        pseudonym_key_file: Option<PathBuf>,
        /// The ledger: start from the state of the last committed night and commit this one with the
        /// outputs, all or nothing (formats/ledger.md). A batch already committed is refused (exit 10).
        #[arg(long)]
        ledger: Option<PathBuf>,
        /// Directory for the run's scratch files (the beneficiaries' states and the payment orders'
        /// dues: file-backed memory, unlinked at once, never left behind). Default: the staging
        /// directory beside OUT, whose disk must then hold them too. It must exist.
        #[arg(long)]
        scratch_dir: Option<PathBuf>,
    },
    /// Re-liquidate a day with a corrected reference set and write the adjustments against a previous run.
    Reprocess {
        #[arg(long)]
        claims: PathBuf,
        /// The corrected reference set.
        #[arg(long)]
        refs: PathBuf,
        /// Output directory of the previous run of the same claims file.
        #[arg(long)]
        previous: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        force: bool,
        /// Re-liquidate against the ledger's state before this night and commit the corrected night
        /// (formats/ledger.md, "reprocess").
        #[arg(long)]
        ledger: Option<PathBuf>,
    },
    /// Write a self-contained HTML report of a run (with day-over-day deltas given --previous).
    Report {
        out_dir: PathBuf,
        #[arg(long)]
        previous: Option<PathBuf>,
        #[arg(short = 'o', long = "output", default_value = "report.html")]
        output: PathBuf,
    },
    /// Generate a realistic day: DIR/claims.b2 and DIR/refs/.
    Gen {
        #[arg(long)]
        claims: u64,
        #[arg(long)]
        beneficiaries: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Batch date YYYY-MM-DD (dates of care on and before it).
        #[arg(long, default_value = "2026-03-16")]
        date: String,
        #[arg(long)]
        out: PathBuf,
        /// Prepend the scenario claims (one per rule and rejection code) and keep a CCAM subset: the sample fixture.
        #[arg(long)]
        sample: bool,
        /// Night K of consecutive nights (0: the first): dated --date + K days, batch number seed + K,
        /// the same beneficiaries and reference set every night, re-sends of night K−1's claims.
        #[arg(long, default_value_t = 0)]
        night: u32,
        /// Re-sent claims of the previous night, per 10 000 claims (nights ≥ 1).
        #[arg(long, default_value_t = 50)]
        resend_per_10k: u64,
    },
    /// Reference sets: build from official files, look up an act.
    Refs {
        #[command(subcommand)]
        cmd: RefsCmd,
    },
    /// Write a claims file as Parquet in the claims layout (formats/claims-arrow.md), one file per
    /// bucket of beneficiaries (DIR/bucket=NNN/claims.parquet), for the Spark job (spark/liquidate.py).
    #[cfg(feature = "parquet")]
    Convert {
        #[arg(long)]
        claims: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Number of beneficiary buckets (files).
        #[arg(long, default_value_t = liquidator_columnar::convert::DEFAULT_BUCKETS)]
        buckets: u32,
        /// Replace an existing output directory.
        #[arg(long)]
        force: bool,
    },
    /// Show every step of one claim's liquidation.
    Explain {
        #[arg(long)]
        claims: PathBuf,
        #[arg(long)]
        refs: PathBuf,
        /// Claim (invoice) number.
        #[arg(long)]
        claim: u32,
        #[arg(long)]
        json: bool,
        /// Liquidate against the ledger's last committed night (read only).
        #[arg(long)]
        ledger: Option<PathBuf>,
    },
    /// The ledger carried between nights: a beneficiary's state, or the ledger's figures.
    Ledger {
        #[command(subcommand)]
        cmd: LedgerCmd,
    },
}

#[derive(Subcommand)]
pub enum LedgerCmd {
    /// A beneficiary's counters and recent sessions as of the last committed night (JSON).
    Show {
        #[arg(long)]
        ledger: PathBuf,
        /// NIR (13 characters) and rank: `1850375123456-001`.
        #[arg(long)]
        beneficiary: String,
    },
    /// Nights committed, entry counts and size on disk (JSON).
    Stats {
        #[arg(long)]
        ledger: PathBuf,
    },
    /// Rewrite the store without its free pages (between nights; prints the size before and after).
    Compact {
        #[arg(long)]
        ledger: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum RefsCmd {
    /// Build a reference set from official CCAM exports (FILE or FILE@YYYY-MM-DD) and our dated tables.
    Build {
        #[arg(long = "ccam", required = true)]
        ccam: Vec<String>,
        /// Copy the party tables (practitioners, beneficiaries, ALD, insurers) of this reference set.
        #[arg(long)]
        from: Option<PathBuf>,
        /// Directory of our regulatory tables (default: the copies embedded in the binary).
        #[arg(long)]
        tables: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// What changed between two reference sets, and (with --claims) how many claims and how much money.
    Diff {
        old: PathBuf,
        new: PathBuf,
        #[arg(long)]
        claims: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Compile DIR's beneficiaries and ALD tables into DIR/refs.snapshot, which every later load of DIR
    /// (run, explain, reprocess, refs diff) maps instead of parsing them; refused when stale or corrupt.
    Compile { dir: PathBuf },
    /// Print as JSON what the engine uses for an act on a date.
    Lookup {
        #[arg(long)]
        refs: PathBuf,
        code: String,
        #[arg(long)]
        date: String,
        #[arg(long)]
        activity: Option<u8>,
        #[arg(long)]
        phase: Option<u8>,
        #[arg(long)]
        grid: Option<u8>,
    },
}

fn date_arg(s: &str) -> Result<liquidator_core::date::Date, ExitCode> {
    liquidator_core::date::Date::parse_iso(s).ok_or_else(|| {
        eprintln!("liquidator: `{s}` is not a date YYYY-MM-DD");
        ExitCode::from(2)
    })
}

/// Pretty JSON for stdout. Serialising our own types cannot fail short of a bug; if it ever does, the
/// message says so on stderr and the process exits 5 rather than printing nothing with status 0.
pub fn json_text<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_string_pretty(v) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("liquidator: cannot serialise the JSON output: {e}");
            std::process::exit(5)
        }
    }
}

pub fn exit_code(e: &RunError) -> u8 {
    match e {
        RunError::Batch { .. } => 4,
        RunError::Io(_) => 5,
        RunError::Stage(liquidator_core::output::files::StageError::Exists(_)) => 6,
        RunError::Stage(_) | RunError::Sink(_) => 5,
        // a stored state that does not read: the ledger is corrupt
        RunError::State { .. } | RunError::States(_) => crate::nightly::EXIT_LEDGER,
    }
}

/// The reference set lives until the process ends and is never dropped: freeing millions of small
/// allocations one by one at exit cost a fifth of an empty run's wall (perf, national reference set);
/// the operating system takes the memory back at once.
pub fn load_refs(dir: &Path) -> Result<&'static Refs, ExitCode> {
    Refs::load(dir)
        .map(|r| &*Box::leak(Box::new(r)))
        .map_err(|e| {
            eprintln!("liquidator: invalid reference tables: {e}");
            ExitCode::from(3)
        })
}

fn pool(threads: Option<usize>) {
    if let Some(n) = threads {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global();
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run {
            claims,
            refs,
            out,
            threads,
            window_kib,
            force,
            quiet,
            parquet,
            pseudonym_key_file,
            ledger,
            scratch_dir,
        } => {
            if let Some(d) = &scratch_dir {
                if !d.is_dir() {
                    eprintln!("liquidator: --scratch-dir {}: not a directory", d.display());
                    return ExitCode::from(2);
                }
                // Named on purpose: a directory the scratch files cannot use is refused, not left
                // for the states to fall back to the heap without a word (review of stop 24).
                if let Err(e) = liquidator_core::states::check_scratch_dir(d) {
                    eprintln!("liquidator: --scratch-dir {}: {e}", d.display());
                    return ExitCode::from(2);
                }
            }
            pool(threads);
            // With a ledger: opened, the batch checked, and its states and indexes loading in the
            // background while the refs load (`nightly::prepare`).
            let mut prepared = match &ledger {
                Some(l) => match crate::nightly::prepare(&claims, &out, l) {
                    Ok(p) => Some(p),
                    Err(c) => return c,
                },
                None => None,
            };
            let refs = match load_refs(&refs) {
                Ok(r) => r,
                Err(c) => return c,
            };
            let total = std::fs::metadata(&claims).map(|m| m.len()).unwrap_or(0);
            let bar = crate::progress::progress_for(total, quiet);
            let update = |b: u64, c: u64| {
                if let Some(p) = &bar {
                    p.update(b, c);
                }
            };
            let opts = Options {
                progress: Some(&update),
                window: window_kib.map_or(engine::WINDOW, |k| k as usize * 1024),
                scratch_dir: scratch_dir.as_deref(),
                ..Options::default()
            };
            let key = if parquet {
                match crate::sinks::pseudonym_key(pseudonym_key_file.as_deref()) {
                    Ok(k) => Some(k),
                    Err(c) => return c,
                }
            } else {
                None
            };
            // The Parquet export is one more sink of the same pass, writing into the staging
            // directory: committed with the other files, or not at all.
            let batch = crate::sinks::batch_header(&claims);
            let result = match prepared.take() {
                None => engine::run_with(&claims, refs, &out, force, &opts, |dir| {
                    crate::sinks::sinks(dir, key.as_ref(), batch.as_ref())
                }),
                Some(p) => {
                    let r = crate::nightly::run(p, refs, &out, force, &opts, |dir| {
                        crate::sinks::sinks(dir, key.as_ref(), batch.as_ref())
                    });
                    match r {
                        Ok(s) => Ok(s),
                        Err(code) => {
                            if let Some(p) = &bar {
                                p.finish();
                            }
                            return code;
                        }
                    }
                }
            };
            if let Some(p) = &bar {
                p.finish();
            }
            match result {
                Ok(s) => {
                    if !quiet {
                        eprint!("{}", human_summary(&s));
                    }
                    // Exit 7 when any identity fails, not only some of them.
                    if s.conserved() {
                        ExitCode::SUCCESS
                    } else {
                        eprintln!("liquidator: conservation check failed (see summary.json)");
                        ExitCode::from(7)
                    }
                }
                Err(e) => {
                    eprintln!("liquidator: {e}");
                    ExitCode::from(exit_code(&e))
                }
            }
        }
        Cmd::Gen {
            claims,
            beneficiaries,
            seed,
            date,
            out,
            sample,
            night,
            resend_per_10k,
        } => {
            let date = match date_arg(&date) {
                Ok(d) => d,
                Err(c) => return c,
            };
            let cfg = liquidator_testkit::generator::GenConfig {
                claims,
                beneficiaries,
                seed,
                date,
                out,
                scenarios: sample,
                ccam_subset: sample,
            };
            let n = liquidator_testkit::generator::Night {
                index: night,
                resend_per_10k,
            };
            match liquidator_testkit::generator::generate_night(&cfg, &n) {
                Ok(s) => {
                    eprintln!(
                        "generated {} claims, {} act lines, {} bytes in {}",
                        s.claims,
                        s.lines,
                        s.bytes,
                        cfg.out.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("liquidator: {e}");
                    ExitCode::from(5)
                }
            }
        }
        Cmd::Refs {
            cmd:
                RefsCmd::Build {
                    ccam,
                    from,
                    tables,
                    out,
                },
        } => {
            let mut files = Vec::new();
            for a in &ccam {
                match liquidator_ccam::build::parse_ccam_arg(a) {
                    Ok(f) => files.push(f),
                    Err(e) => {
                        eprintln!("liquidator: {e}");
                        return ExitCode::from(2);
                    }
                }
            }
            match liquidator_ccam::build::build(&files, from.as_deref(), tables.as_deref(), &out) {
                Ok(warnings) => {
                    for w in &warnings {
                        eprintln!("warning: {w}");
                    }
                    eprintln!(
                        "reference set written to {} ({} warnings)",
                        out.display(),
                        warnings.len()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("liquidator: {e}");
                    ExitCode::from(match e {
                        liquidator_ccam::build::BuildError::Usage(_) => 2,
                        liquidator_ccam::build::BuildError::Io(..)
                        | liquidator_ccam::build::BuildError::Stage(_) => 5,
                        _ => 3,
                    })
                }
            }
        }
        Cmd::Reprocess {
            claims,
            refs,
            previous,
            out,
            force,
            ledger,
        } => {
            let refs = match load_refs(&refs) {
                Ok(r) => r,
                Err(c) => return c,
            };
            let result = match &ledger {
                None => liquidator_core::reprocess::run(&claims, refs, &previous, &out, force),
                Some(l) => {
                    match crate::nightly::reprocess(&claims, refs, &previous, &out, force, l) {
                        Ok(s) => Ok(s),
                        Err(code) => return code,
                    }
                }
            };
            match result {
                Ok(s) => {
                    eprintln!(
                        "reprocessed {} claims: {} changed ({} newly paid, {} newly rejected, {} amounts changed), AMO delta {} €, AMC delta {} €",
                        s.claims_compared,
                        s.claims_changed,
                        s.newly_paid,
                        s.newly_rejected,
                        s.amount_changed,
                        fmt_euros(s.amo_delta_cents),
                        fmt_euros(s.amc_delta_cents)
                    );
                    // The new liquidation is a run: exit 7 on any failed identity, as `run`
                    // (REVIEW22 M4; with `--ledger` the night was refused before its commit).
                    if s.liquidation.conserved() {
                        ExitCode::SUCCESS
                    } else {
                        eprint!("{}", human_summary(&s.liquidation));
                        eprintln!(
                            "liquidator: conservation check failed (see liquidation/summary.json)"
                        );
                        ExitCode::from(7)
                    }
                }
                Err(e) => {
                    eprintln!("liquidator: {e}");
                    ExitCode::from(match &e {
                        liquidator_core::reprocess::ReprocessError::Run(r) => exit_code(r),
                        liquidator_core::reprocess::ReprocessError::Mismatch(_)
                        | liquidator_core::reprocess::ReprocessError::Read(_) => 9,
                        liquidator_core::reprocess::ReprocessError::Io(_) => 5,
                    })
                }
            }
        }
        Cmd::Report {
            out_dir,
            previous,
            output,
        } => {
            match liquidator_export::report::write_report(&out_dir, previous.as_deref(), &output) {
                Ok(()) => {
                    eprintln!("report written to {}", output.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("liquidator: {e}");
                    ExitCode::from(e.exit_code())
                }
            }
        }
        Cmd::Refs {
            cmd:
                RefsCmd::Diff {
                    old,
                    new,
                    claims,
                    json,
                },
        } => {
            let (a, b) = match (load_refs(&old), load_refs(&new)) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(c), _) | (_, Err(c)) => return c,
            };
            let mut report = liquidator_core::refdiff::diff(a, b);
            if let Some(c) = claims {
                match liquidator_core::refdiff::claims_impact(a, b, &c) {
                    Ok(i) => report.claims = Some(i),
                    Err(e) => {
                        eprintln!("liquidator: {e}");
                        return ExitCode::from(5);
                    }
                }
            }
            if json {
                println!("{}", json_text(&report));
            } else {
                print!("{}", report.to_text());
            }
            ExitCode::SUCCESS
        }
        Cmd::Refs {
            cmd: RefsCmd::Compile { dir },
        } => {
            let t0 = std::time::Instant::now();
            match liquidator_core::refs::snapshot::compile(&dir) {
                Ok(c) => {
                    eprintln!(
                        "snapshot written to {} ({} beneficiary rows, {} ALD periods, {:.1} MiB) in {:.2} s",
                        c.path.display(),
                        c.rows,
                        c.ald,
                        c.bytes as f64 / (1 << 20) as f64,
                        t0.elapsed().as_secs_f64()
                    );
                    ExitCode::SUCCESS
                }
                Err(liquidator_core::refs::snapshot::CompileError::Load(e)) => {
                    eprintln!("liquidator: invalid reference tables: {e}");
                    ExitCode::from(3)
                }
                Err(e) => {
                    eprintln!("liquidator: {e}");
                    ExitCode::from(5)
                }
            }
        }
        Cmd::Refs {
            cmd:
                RefsCmd::Lookup {
                    refs,
                    code,
                    date,
                    activity,
                    phase,
                    grid,
                },
        } => {
            let date = match date_arg(&date) {
                Ok(d) => d,
                Err(c) => return c,
            };
            let r = match liquidator_core::refs::Refs::load_regulatory(&refs) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("liquidator: invalid reference tables: {e}");
                    return ExitCode::from(3);
                }
            };
            match liquidator_ccam::build::lookup(&r, &refs, &code, date, activity, phase, grid) {
                Ok(v) => {
                    println!("{}", json_text(&v));
                    ExitCode::SUCCESS
                }
                Err(m) => {
                    eprintln!("liquidator: {m}");
                    ExitCode::from(8)
                }
            }
        }
        #[cfg(feature = "parquet")]
        Cmd::Convert {
            claims,
            out,
            buckets,
            force,
        } => match liquidator_columnar::convert::convert(&claims, &out, buckets, force) {
            Ok(m) => {
                eprintln!(
                    "converted batch {} ({} claims, {} act records) into {} rows in {} files under {}",
                    m.batch_number,
                    m.claims,
                    m.act_records,
                    m.rows,
                    m.files.len(),
                    out.display()
                );
                ExitCode::SUCCESS
            }
            Err(liquidator_columnar::convert::ConvertError::Run(e)) => {
                eprintln!("liquidator: {e}");
                ExitCode::from(exit_code(&e))
            }
            Err(e) => {
                eprintln!("liquidator: {e}");
                ExitCode::from(5)
            }
        },
        Cmd::Explain {
            claims,
            refs,
            claim,
            json,
            ledger,
        } => {
            let refs = match load_refs(&refs) {
                Ok(r) => r,
                Err(c) => return c,
            };
            match ledger {
                None => crate::cli::explain(&claims, refs, claim, json, None),
                Some(dir) => {
                    let l = match crate::nightly::open(&dir) {
                        Ok(l) => l,
                        Err(c) => return c,
                    };
                    // A night already committed is explained against the state before it (as
                    // it was liquidated); a new night against the last committed one.
                    let before = engine::map_file(&claims)
                        .ok()
                        .and_then(|d| engine::batch_header(&d).ok().map(|h| h.0))
                        .and_then(|h| l.committed(h.sender, h.batch_no).map(|b| b.seq));
                    let reader = match l.reader(before) {
                        Ok(r) => r,
                        Err(e) => {
                            eprintln!("liquidator: {e}");
                            return ExitCode::from(crate::nightly::EXIT_LEDGER);
                        }
                    };
                    crate::cli::explain(&claims, refs, claim, json, Some(&reader))
                }
            }
        }
        Cmd::Ledger {
            cmd:
                LedgerCmd::Show {
                    ledger,
                    beneficiary,
                },
        } => crate::nightly::show(&ledger, &beneficiary),
        Cmd::Ledger {
            cmd: LedgerCmd::Stats { ledger },
        } => crate::nightly::stats(&ledger),
        Cmd::Ledger {
            cmd: LedgerCmd::Compact { ledger },
        } => crate::nightly::compact(&ledger),
    }
}

/// The end-of-run summary for the operator (stderr).
pub fn human_summary(s: &Summary) -> String {
    let mut o = String::new();
    o.push_str(&format!(
        "batch {} of {}: {} claims read, {} paid, {} rejected ({} lines)\n",
        s.batch_number, s.batch_date, s.claims_read, s.claims_paid, s.claims_rejected, s.lines_read
    ));
    o.push_str(&format!(
        "billed {} €, base {} €, AMO paid {} € ({} € to practitioners, {} € to insured), AMC {} €, patients {} €, participations {} €, rejected billed {} €\n",
        fmt_euros(s.billed_cents),
        fmt_euros(s.base_cents),
        fmt_euros(s.amo_paid_cents),
        fmt_euros(s.amo_to_practitioners_cents),
        fmt_euros(s.amo_to_insured_cents),
        fmt_euros(s.amc_cents),
        fmt_euros(s.patient_cents),
        fmt_euros(s.participations_cents),
        fmt_euros(s.rejected_billed_cents),
    ));
    let mut top: Vec<_> = s.rejections_by_code.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    if !top.is_empty() {
        o.push_str("top rejection reasons:");
        for (code, n) in top.iter().take(5) {
            let slug = liquidator_core::codes::Reject::from_code(code)
                .map(|r| r.slug())
                .unwrap_or("");
            o.push_str(&format!(" {code} {slug} ×{n};"));
        }
        o.push('\n');
    }
    // Every identity `Summary::conserved` checks (exit 7 on any): a failed one is named here.
    o.push_str(&format!(
        "conservation: claims {} lines {} billed {} split {} rejections {} line rejections {} debts {} payment orders {} input {}\n",
        ok(s.conservation.claims),
        ok(s.conservation.lines),
        ok(s.conservation.billed),
        ok(s.conservation.paid_split),
        ok(s.conservation.rejections),
        ok(s.conservation.line_rejections),
        ok(s.conservation.debts),
        ok(s.conservation.payment_orders),
        ok(s.conservation.input)
    ));
    o
}

fn ok(b: bool) -> &'static str {
    if b { "ok" } else { "FAILED" }
}

/// `liquidator explain`: liquidates the batch (so caps are as in the run) and prints the steps of one claim.
pub fn explain(
    claims: &Path,
    refs: &Refs,
    claim: u32,
    json: bool,
    ledger: Option<&liquidator_ledger::Reader>,
) -> ExitCode {
    let data = match engine::map_file(claims) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("liquidator: {e}");
            return ExitCode::from(exit_code(&e));
        }
    };
    let carry = ledger.map(|r| r as &dyn liquidator_core::carry::Carry);
    let traced = match liquidator_core::explain::trace_with(&data, refs, claim, carry) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("liquidator: {e}");
            return ExitCode::from(exit_code(&e));
        }
    };
    // The reader records a lookup that failed (an image or segment that does not read) and
    // answers "none": the trace is then not the night's, so it is not printed — exit 11, as `run`
    // and `reprocess` (REVIEW22 M1).
    if let Some(e) = ledger.and_then(|r| r.error()) {
        eprintln!("liquidator: ledger read failed: {e}");
        return ExitCode::from(crate::nightly::EXIT_LEDGER);
    }
    if traced.is_empty() {
        eprintln!(
            "liquidator: claim {claim:09} not found, or rejected before liquidation (see rejections.tsv of a run)"
        );
        return ExitCode::from(8);
    }
    if json {
        let v: Vec<_> = traced
            .iter()
            .map(liquidator_core::explain::to_json)
            .collect();
        println!("{}", json_text(&v));
    } else {
        for t in &traced {
            print!("{}", liquidator_core::explain::to_text(t));
        }
    }
    ExitCode::SUCCESS
}
