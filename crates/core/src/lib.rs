//! # liquidator-core — parse, liquidate, hand typed outcomes to sinks
//!
//! The core of liquidator: a claims file and a reference set in, each claim's liquidation out, in file
//! order, to [`sink::Sink`]s. The whole map (crates, code map, invariants) is in `ARCHITECTURE.md` at
//! the root of the repository; the rules cite `docs/RULES.md` ("RULES.md §n" in comments).
//!
//! ```text
//!   claims.b2 ──mmap──▶ claims::reader ──▶ engine (windows, shards) ──▶ rules::liquidate (pure)
//!   refs/*.tsv ──▶ refs::Refs (dated) ◀── lookups          │
//!                                        sink::Event (file order) ──▶ TsvSink, SummarySink, …
//! ```
//!
//! Architecture invariant: nothing here depends on an export (arrow/parquet, the report) or on the
//! generator; the core does no I/O outside `engine::run`, `output::files`, `reprocess` and the
//! reference loaders, and does not panic on input (clippy lints in `Cargo.toml`).

pub mod carry;
pub mod claims;
pub mod codes;
pub mod date;
mod duplicates;
pub mod engine;
pub mod explain;
pub mod money;
pub mod nir;
pub mod output;
pub mod refdiff;
pub mod refs;
pub mod reprocess;
pub mod rules;
pub mod session;
pub mod sink;
pub mod states;
#[cfg(test)]
mod testing;

/// Whether `LIQUIDATOR_TIMING` is set (read once): the stage, tail, memory and load timings every
/// layer prints on standard error (issue #13). At the crate root so that `refs` and `engine` share it
/// without depending on each other.
pub fn timing_on() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("LIQUIDATOR_TIMING").is_some())
}

/// The calling thread's time on a CPU and waiting for one, in nanoseconds, from the scheduler's own
/// counts (`/proc/thread-self/schedstat`; zeroes where it cannot be read). For `LIQUIDATOR_TIMING`:
/// a writer thread's wall time is mostly waits for the disk, which cost no CPU; what it takes from
/// the workers at 2 threads is its time on a CPU (issue #13).
pub fn thread_sched() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let mut v = s.split_whitespace().map(|x| x.parse::<u64>().unwrap_or(0));
    (v.next().unwrap_or(0), v.next().unwrap_or(0))
}

/// How many times the calling thread gave up its CPU of its own accord (`voluntary_ctxt_switches` of
/// `/proc/thread-self/status`; 0 where it cannot be read): for a worker of the pool, each time it went
/// to sleep for want of work (or blocked on a channel, or on a read from the disk). Unlike the time
/// asleep, the count does not grow when other load on the machine keeps the other worker off its CPU
/// longer (issue #13: a measure of the windows' joins that survives a loaded machine).
pub fn thread_sleeps() -> u64 {
    let s = std::fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}
