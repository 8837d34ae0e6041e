//! The one policy for a test whose requirement (real fixtures, Azurite, PostgreSQL, S3) is not
//! there: under `CI=true` the test fails, naming what is missing and how to get it; elsewhere it
//! says it was skipped and records the skip in the file named by `LRS_SKIP_LOG`, so that
//! `scripts/test` can count and name every skipped test in its summary (and `--strict` can turn
//! skips into a failure). A test calls [`skip`] and returns; the skipped test is named from the
//! test binary and libtest's thread name (the test's path).
//!
//! [`server`] is the one harness that runs the real `lrs serve` for tests and benchmarks.

pub mod server;

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Whether the run is CI (`CI=true`), where every requirement must be met.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The calling test, as `binary::path::to::test` (libtest names each test's thread after it).
pub fn current_test() -> String {
    let binary = std::env::args()
        .next()
        .map(|a| {
            let stem = Path::new(&a)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            // Cargo's test binaries are `<name>-<16 hex digits>`.
            match stem.rsplit_once('-') {
                Some((name, hash))
                    if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
                {
                    name.to_string()
                }
                _ => stem,
            }
        })
        .unwrap_or_default();
    let thread = std::thread::current().name().unwrap_or("?").to_string();
    format!("{binary}::{thread}")
}

/// Skip the calling test because of `reason` (say what is missing and how to get it). Panics
/// under CI.
#[allow(clippy::panic)]
pub fn skip(reason: &str) {
    let test = current_test();
    let test = test.as_str();
    if under_ci() {
        panic!("{test}: {reason} (required under CI=true)");
    }
    eprintln!("skipped {test}: {reason}");
    if let Some(path) = std::env::var_os("LRS_SKIP_LOG") {
        record(Path::new(&path), test, reason);
    }
}

/// Append one line `test: reason` to the skip log (several test processes share the file).
fn record(log: &Path, test: &str, reason: &str) {
    let mut line = format!("{test}: {reason}").replace(['\n', '\r'], " ");
    line.push('\n');
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        // One write of the whole line: appends from parallel tests never interleave.
        let _ = file.write_all(line.as_bytes());
    }
}

/// The real backups of `LRS_REAL_FIXTURES` (a folder), or a [`skip`] and `None`.
pub fn real_fixtures() -> Option<PathBuf> {
    match std::env::var_os("LRS_REAL_FIXTURES") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            skip("LRS_REAL_FIXTURES is not set (scripts/test sets it to ../shared/fixtures/real)");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_test_is_named_by_binary_and_path() {
        let name = current_test();
        assert!(
            name.ends_with("::tests::the_current_test_is_named_by_binary_and_path"),
            "{name}"
        );
        assert!(name.starts_with("lrs_testkit"), "{name}");
    }

    #[test]
    fn skips_are_appended_one_line_each() {
        let dir = tempfile_dir();
        let log = dir.join("skips");
        record(&log, "a::b", "no server");
        record(&log, "c::d", "no\nfixtures");
        let text = std::fs::read_to_string(&log).expect("log");
        assert_eq!(text, "a::b: no server\nc::d: no fixtures\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "lrs-testkit-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        dir
    }
}
