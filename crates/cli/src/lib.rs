//! The command line of the `liquidator` binary: argument parsing (`cli`), the nightly protocol over the
//! ledger (`nightly`), the sinks a run is given (`sinks`) and the progress bar (`progress`), over the
//! workspace's library crates (ARCHITECTURE.md has the map). The binary (`src/main.rs`) only calls [`main`].
//!
//! Why a library of its own and not the binary's modules: Cargo sets an opt-level per package, not per
//! target. This code is built at opt-level 3 like the rest of the release binary, while the binary's
//! package (the one-line `main`, the integration tests `tests/it` and the benches' one-iteration pass of
//! `scripts/test`) is built at opt-level 0 in the `release` profile (Cargo.toml, `[profile.release.package.liquidator]`).
//! The global allocator is declared here, in optimised code, for the same reason: the functions that
//! `#[global_allocator]` expands to are compiled in the crate that declares it.
mod cli;
mod nightly;
mod progress;
mod sinks;

/// mimalloc instead of the system allocator: a night makes and frees millions of small per-claim
/// buffers on every worker thread (issue #13; the measure is in README's Performance section).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's option `purge_delay` (`mi_option_purge_delay` of mimalloc v3's `include/mimalloc.h`, the
/// version libmimalloc-sys builds by default: the 16th of `enum mi_option_e`, counted from 0). The sys
/// crate names no constant for it; the binary's test (`src/main.rs`) pins the index to the option's
/// documented default.
pub const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long (ms) mimalloc keeps freed memory before returning it to the system (its default: 1 000).
/// Memory returned and allocated again is faulted in and zeroed again by the kernel: with the default,
/// the per-window buffers freed and reallocated one window later were purged and refaulted (issue #13,
/// README Performance "purge delay"). 10 s is longer than a window cycle and than the whole run of a
/// 1 M-claim day, so nothing is purged mid-run there; memory idle for longer is still returned.
pub const PURGE_DELAY_MS: std::ffi::c_long = 10_000;

/// The whole binary: allocator options, the engine's hook, then the command line (`src/main.rs`).
pub fn main() -> std::process::ExitCode {
    set_allocator_options();
    liquidator_core::engine::on_windows_done(release_freed_memory);
    let t = std::time::Instant::now();
    let code = cli::main();
    liquidator_core::engine::tail_step("main returns (since its start)", t);
    code
}

/// Whether the operator set mimalloc's purge delay in the environment: mimalloc reads
/// `MIMALLOC_PURGE_DELAY` or its older name `MIMALLOC_RESET_DELAY`, whatever their case, at its start.
pub fn purge_delay_in_environment() -> bool {
    std::env::vars_os().any(|(k, _)| {
        k.to_str().is_some_and(|k| {
            k.eq_ignore_ascii_case("MIMALLOC_PURGE_DELAY")
                || k.eq_ignore_ascii_case("MIMALLOC_RESET_DELAY")
        })
    })
}

/// Sets mimalloc's purge delay, unless the operator set it in the environment
/// ([`purge_delay_in_environment`]: that stays the knob for measurements).
fn set_allocator_options() {
    if !purge_delay_in_environment() {
        // SAFETY: `mi_option_set` writes one of mimalloc's option globals and is not thread safe; this
        // is the first statement of `main`, before any other thread of ours exists. The option is an
        // integer read on each purge, so changing it after mimalloc's start is supported (mimalloc's
        // documentation: options may be set at run time).
        #[allow(unsafe_code)]
        unsafe {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS)
        };
    }
}

/// Called by the engine once the windows are freed, before the end-of-run work, where the peak of
/// anonymous memory is (issue #13; README Performance, "RssAnon"):
/// - returns to the system the memory mimalloc holds freed (`mi_collect(true)`: every range waiting
///   for its purge delay is purged now): the purge delay ([`PURGE_DELAY_MS`]) kept the windows'
///   pages resident while the end-of-run lists took fresh ones;
/// - turns transparent huge pages off for the rest of the process (`PR_SET_THP_DISABLE`): the
///   end-of-run lists and buffers are touched once, and a huge page faulted in for a few KiB of
///   them counted 2 MiB. Off for the whole run it cost CPU in the windows (README); here only new
///   faults of the end of the run are 4 KiB pages. Advice: its error is ignored.
fn release_freed_memory() {
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    // SAFETY: `mi_collect` is thread safe (it collects the calling thread's heap and purges the
    // arenas under their own locks); it frees nothing still allocated.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_collect(true)
    };
}
