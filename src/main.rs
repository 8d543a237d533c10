//! Thin binary: everything lives in the workspace crates (ARCHITECTURE.md has the map).
mod cli;
mod parquet;
mod progress;

fn main() -> std::process::ExitCode {
    cli::main()
}
