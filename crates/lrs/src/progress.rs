//! Progress bars of the one-shot commands (`forge chain`, `headeronly`, `filelistonly`,
//! `labelonly`, `verify`), all in one style and under one rule: drawn on standard error, and
//! only when standard error is a terminal and the global `--quiet` flag is absent. Standard
//! output (tables, JSON, the forge's file list) is never touched, so piping it stays exact.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether to draw: never under `--quiet`, never when standard error is not a terminal (a
/// pipe, a file, a CI log), where escape codes would only be noise.
pub(crate) fn should_draw(quiet: bool, stderr_is_terminal: bool) -> bool {
    !quiet && stderr_is_terminal
}

fn new_bar(total: u64, quiet: bool, template: &str) -> ProgressBar {
    if !should_draw(quiet, std::io::stderr().is_terminal()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// A bar over `total` bytes: bytes done, rate and time left, then the message.
pub(crate) fn bytes(total: u64, quiet: bool) -> ProgressBar {
    new_bar(
        total,
        quiet,
        "{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
    )
}

/// A bar over `total` files: files done out of the total.
pub(crate) fn files(total: u64, quiet: bool) -> ProgressBar {
    new_bar(total, quiet, "{bar:30} {pos}/{len} files {msg}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_only_on_a_terminal_without_quiet() {
        assert!(should_draw(false, true));
        assert!(!should_draw(true, true));
        assert!(!should_draw(false, false));
        assert!(!should_draw(true, false));
    }

    #[test]
    fn quiet_bars_are_hidden() {
        assert!(bytes(10, true).is_hidden());
        assert!(files(10, true).is_hidden());
    }
}
