//! Operator feedback on long runs: a progress bar on stderr (bytes and claims processed, rate, ETA) shown
//! only when stderr is a terminal and `--quiet` is not given — a night batch's log file gets no escape
//! codes, only the end-of-run summary.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

pub struct Progress {
    bar: ProgressBar,
}

/// A progress reporter for a file of `total_bytes`, or `None` when quiet or stderr is not a terminal.
pub fn progress_for(total_bytes: u64, quiet: bool) -> Option<Progress> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    Some(Progress { bar })
}

impl Progress {
    /// Called by the engine after each window: bytes read so far and claims liquidated.
    pub fn update(&self, bytes: u64, claims: u64) {
        self.bar.set_position(bytes);
        self.bar.set_message(format!("{claims} claims"));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
