//! Thin binary: everything lives in the workspace crates (ARCHITECTURE.md has the map).
mod cli;
mod nightly;
mod progress;
mod sinks;

fn main() -> std::process::ExitCode {
    cli::main()
}
