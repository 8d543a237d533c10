//! Thin binary: everything lives in the workspace crates, the command line in `liquidator-cli`
//! (`crates/cli`; ARCHITECTURE.md has the map). This package is built at opt-level 0 (Cargo.toml): its code
//! is this call and its tests.

fn main() -> std::process::ExitCode {
    liquidator_cli::main()
}

#[cfg(test)]
mod tests {
    /// The option index used by `set_allocator_options` is mimalloc's purge delay: the library is a
    /// mimalloc 3.x (whose `enum mi_option_e` the index was counted in: a major version that could
    /// reorder it fails here), its default there is 1 000 ms (mimalloc v3 `src/options.c`; the
    /// neighbouring options default to other values), and what is set is what mimalloc reads back.
    #[test]
    fn purge_delay_option_index_is_mimallocs_purge_delay() {
        // SAFETY: reads an option global; set below only in this test (no other test sets it; other
        // test threads may read it while purging: a plain `long`, read whole on this target).
        #[allow(unsafe_code)]
        let (version, default, set) = unsafe {
            let v = libmimalloc_sys::mi_version();
            let d = libmimalloc_sys::mi_option_get(liquidator_cli::MI_OPTION_PURGE_DELAY);
            libmimalloc_sys::mi_option_set(
                liquidator_cli::MI_OPTION_PURGE_DELAY,
                liquidator_cli::PURGE_DELAY_MS,
            );
            (
                v,
                d,
                libmimalloc_sys::mi_option_get(liquidator_cli::MI_OPTION_PURGE_DELAY),
            )
        };
        // `mi_version()` is major × 10 000 + minor × 100 + patch (30302: 3.3.2).
        assert!((30_000..40_000).contains(&version), "mimalloc {version}");
        if !liquidator_cli::purge_delay_in_environment() {
            assert_eq!(default, 1_000);
        }
        assert_eq!(set, liquidator_cli::PURGE_DELAY_MS);
    }
}
