//! Thin binary: everything lives in the workspace crates (ARCHITECTURE.md has the map).
mod cli;
mod progress;

fn main() -> std::process::ExitCode {
    cli::main()
}
