//! Thin binary: everything lives in the library (see `src/lib.rs` for the architecture map).
fn main() -> std::process::ExitCode {
    liquidator::cli::main()
}
