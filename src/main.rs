//! Thin binary: everything lives in the workspace crates (ARCHITECTURE.md has the map).
mod cli;
mod nightly;
mod progress;
mod sinks;

/// mimalloc instead of the system allocator: a night makes and frees millions of small per-claim
/// buffers on every worker thread (issue #13; the measure is in README's Performance section).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
